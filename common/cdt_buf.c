/*
 * cdt_buf - a growable byte buffer, embedded by value.
 *
 * SPDX-License-Identifier: MIT
 */
#include "common/cdt_buf.h"

#include "common/cdt_mem.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
cdt_buf_init(cdt_buf_t *self)
{
    self->data = NULL;
    self->len = 0;
    self->cap = 0;
}

void
cdt_buf_release(cdt_buf_t *self)
{
    free(self->data);
    cdt_buf_init(self);
}

void
cdt_buf_reset(cdt_buf_t *self)
{
    self->len = 0;
    if (self->data)
        self->data[0] = '\0';
}

void
cdt_buf_reserve(cdt_buf_t *self, size_t n)
{
    if (self->cap - self->len >= n && self->data)
        return;
    size_t cap = self->cap ? self->cap : 64;
    while (cap - self->len < n)
        cap *= 2;
    self->data = cdt_xrealloc(self->data, cap + 1);
    self->cap = cap;
}

void
cdt_buf_append(cdt_buf_t *self, const void *data, size_t n)
{
    cdt_buf_reserve(self, n);
    if (n)
        memcpy(self->data + self->len, data, n);
    self->len += n;
    self->data[self->len] = '\0';
}

void
cdt_buf_append_byte(cdt_buf_t *self, uint8_t c)
{
    cdt_buf_append(self, &c, 1);
}

void
cdt_buf_append_str(cdt_buf_t *self, const char *s)
{
    cdt_buf_append(self, s, strlen(s));
}

void
cdt_buf_printf(cdt_buf_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    cdt_buf_reserve(self, (size_t)n);
    va_start(ap, fmt);
    (void)vsnprintf((char *)self->data + self->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    self->len += (size_t)n;
}

void
cdt_buf_consume(cdt_buf_t *self, size_t n)
{
    assert(n <= self->len);
    if (n == 0)
        return;
    memmove(self->data, self->data + n, self->len - n);
    self->len -= n;
    self->data[self->len] = '\0';
}

uint8_t *
cdt_buf_detach(cdt_buf_t *self, size_t *len_p)
{
    uint8_t *data = self->data;
    if (len_p)
        *len_p = self->len;
    cdt_buf_init(self);
    return data;
}

int
cdt_buf_msgpack_write(void *data, const char *buf, size_t len)
{
    cdt_buf_append((cdt_buf_t *)data, buf, len);
    return 0;
}
