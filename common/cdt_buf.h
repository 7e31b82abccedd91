/*
 * cdt_buf - a growable byte buffer, embedded by value.
 *
 * Used to build frames (JSON text, MessagePack) before they are handed to a
 * socket. The data is always NUL-terminated one byte past len so that text
 * can be printed, but len never counts that byte.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef CDT_BUF_H
#define CDT_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cdt_buf {
    uint8_t *data; /* owned; NULL until the first append */
    size_t len;    /* bytes used */
    size_t cap;    /* bytes allocated, excluding the NUL byte */
} cdt_buf_t;

#define CDT_BUF_INIT \
    {                \
        NULL, 0, 0   \
    }

void cdt_buf_init(cdt_buf_t *self);

/* Frees the contents; the buffer may be reused after cdt_buf_init. */
void cdt_buf_release(cdt_buf_t *self);

/* Empties without freeing. */
void cdt_buf_reset(cdt_buf_t *self);

/* Makes room for n more bytes. */
void cdt_buf_reserve(cdt_buf_t *self, size_t n);

void cdt_buf_append(cdt_buf_t *self, const void *data, size_t n);
void cdt_buf_append_byte(cdt_buf_t *self, uint8_t c);
void cdt_buf_append_str(cdt_buf_t *self, const char *s);
void cdt_buf_printf(cdt_buf_t *self, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Removes the first n bytes (n <= len), moving the rest to the front. */
void cdt_buf_consume(cdt_buf_t *self, size_t n);

/* Gives the data to the caller (who frees it) and empties the buffer. */
uint8_t *cdt_buf_detach(cdt_buf_t *self, size_t *len_p);

/* A msgpack_packer write callback: msgpack_packer_init(&pk, buf,
 * cdt_buf_msgpack_write) packs into a cdt_buf_t. */
int cdt_buf_msgpack_write(void *data, const char *buf, size_t len);

#endif
