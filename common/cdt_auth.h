/*
 * cdt_auth - the primitives of key checking.
 *
 * Keys are never stored or compared in clear: a key is identified by the
 * lowercase hex SHA-256 of its UTF-8 bytes (as the original Conduit did),
 * and hashes are compared in constant time. Nothing here logs.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef CDT_AUTH_H
#define CDT_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define CDT_SHA256_HEX_LEN 64

/* Writes the lowercase hex SHA-256 of data into out (65 bytes incl. NUL). */
void cdt_sha256_hex(const void *data, size_t len,
                    char out[CDT_SHA256_HEX_LEN + 1]);

/* Compares n bytes in time that depends only on n. */
bool cdt_ct_equal(const void *a, const void *b, size_t n);

/* True if s is exactly 64 lowercase hex digits. */
bool cdt_sha256_hex_valid(const char *s, size_t len);

#endif
