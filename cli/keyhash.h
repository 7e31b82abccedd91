/*
 * keyhash - the form in which conduit-pub hands a virtual key to the
 * broker: the lowercase hex SHA-256 of its bytes (common/cdt_auth.h
 * defines the same form for the broker and the gateway).
 *
 * conduit-pub carries its own SHA-256 (FIPS 180-4) so that it does not
 * load libcrypto, which costs about 1.4 ms of dynamic loading and
 * initialisation in every run (issue #5, S6), for the one command
 * (key --secret) that hashes. test_keyhash checks it against the
 * standard's vectors and against cdt_sha256_hex. Nothing here is
 * secret-dependent in timing beyond the length, and nothing logs.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef KEYHASH_H
#define KEYHASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYHASH_HEX_LEN 64

/* Writes the 32-byte SHA-256 digest of data[0..len) into md. */
void keyhash_sha256(const void *data, size_t len, uint8_t md[32]);

/* Writes the lowercase hex SHA-256 of data into out (65 bytes incl.
 * NUL). */
void keyhash_sha256_hex(const void *data, size_t len,
                        char out[KEYHASH_HEX_LEN + 1]);

/* True if s[0..len) is exactly 64 lowercase hex digits. */
bool keyhash_hex_valid(const char *s, size_t len);

#endif
