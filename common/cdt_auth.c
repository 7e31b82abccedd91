/*
 * cdt_auth - SHA-256 hex digests and constant-time comparison.
 *
 * The digest goes through OpenSSL's EVP interface (the low-level SHA256()
 * calls are deprecated in OpenSSL 3). The comparison is a plain OR-fold
 * rather than CRYPTO_memcmp so that its cost is visible here: it touches
 * every byte whatever the contents, and its result depends on no branch.
 *
 * SPDX-License-Identifier: MIT
 */
#include "common/cdt_auth.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

void
cdt_sha256_hex(const void *data, size_t len, char out[CDT_SHA256_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    /* EVP_Digest only fails on allocation failure or a broken OpenSSL
     * build; a key check must not proceed on a wrong digest. */
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != 32) {
        fprintf(stderr, "cdt_auth: SHA-256 digest failed\n");
        abort();
    }
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xF];
    }
    out[CDT_SHA256_HEX_LEN] = '\0';
}

bool
cdt_ct_equal(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *pa = a;
    const volatile uint8_t *pb = b;
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= (uint8_t)(pa[i] ^ pb[i]);
    return acc == 0;
}

bool
cdt_sha256_hex_valid(const char *s, size_t len)
{
    if (!s || len != CDT_SHA256_HEX_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}
