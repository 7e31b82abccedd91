/*
 * test_keyhash - conduit-pub's own SHA-256: the FIPS 180-4 example
 * vectors, and agreement with cdt_sha256_hex (OpenSSL, what the broker
 * and the gateway use) for every length across the padding boundaries of
 * one to five blocks, each input in a heap buffer of exact size.
 *
 * SPDX-License-Identifier: MIT
 */
#include "cli/keyhash.h"

#include "common/cdt_auth.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Suite *keyhash_suite(void);

static void
s_expect(const char *text, size_t len, const char *want)
{
    char *buf = malloc(len ? len : 1); /* exact size: ASan sees over-reads */
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, text, len);
    char hex[KEYHASH_HEX_LEN + 1];
    keyhash_sha256_hex(buf, len, hex);
    ck_assert_str_eq(hex, want);
    free(buf);
}

START_TEST(test_keyhash_fips_vectors)
{
    s_expect(
        "", 0,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    s_expect(
        "abc", 3,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two =
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    s_expect(
        two, strlen(two),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *four =
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
        "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    s_expect(
        four, strlen(four),
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    size_t million = 1000000;
    char *a = malloc(million);
    ck_assert_ptr_nonnull(a);
    memset(a, 'a', million);
    s_expect(
        a, million,
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}
END_TEST

START_TEST(test_keyhash_agrees_with_openssl_at_every_length)
{
    uint32_t x = 2463534242u; /* xorshift32: the same bytes every run */
    for (size_t len = 0; len <= 5 * 64 + 1; len++) {
        unsigned char *buf = malloc(len ? len : 1);
        ck_assert_ptr_nonnull(buf);
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            buf[i] = (unsigned char)x;
        }
        char mine[KEYHASH_HEX_LEN + 1], theirs[CDT_SHA256_HEX_LEN + 1];
        keyhash_sha256_hex(buf, len, mine);
        cdt_sha256_hex(buf, len, theirs);
        ck_assert_msg(strcmp(mine, theirs) == 0, "length %zu: %s, not %s", len,
                      mine, theirs);
        uint8_t md[32];
        keyhash_sha256(buf, len, md);
        for (int i = 0; i < 32; i++) {
            unsigned v = 0;
            ck_assert_int_eq(sscanf(theirs + 2 * i, "%2x", &v), 1);
            ck_assert_uint_eq(md[i], v);
        }
        free(buf);
    }
}
END_TEST

START_TEST(test_keyhash_hex_valid_is_exactly_64_lowercase_digits)
{
    char hex[KEYHASH_HEX_LEN + 1];
    keyhash_sha256_hex("k", 1, hex);
    ck_assert(keyhash_hex_valid(hex, KEYHASH_HEX_LEN));
    ck_assert(cdt_sha256_hex_valid(hex, KEYHASH_HEX_LEN));
    ck_assert(!keyhash_hex_valid(hex, KEYHASH_HEX_LEN - 1));
    ck_assert(!keyhash_hex_valid(NULL, KEYHASH_HEX_LEN));
    for (const char *bad = "AFgz /:@`G"; *bad; bad++) {
        char copy[KEYHASH_HEX_LEN + 1];
        memcpy(copy, hex, sizeof copy);
        copy[17] = *bad;
        ck_assert_msg(!keyhash_hex_valid(copy, KEYHASH_HEX_LEN),
                      "'%c' accepted", *bad);
        ck_assert(!cdt_sha256_hex_valid(copy, KEYHASH_HEX_LEN));
    }
}
END_TEST

Suite *
keyhash_suite(void)
{
    Suite *s = suite_create("keyhash");
    TCase *tc = tcase_create("sha256");
    tcase_add_test(tc, test_keyhash_fips_vectors);
    tcase_add_test(tc, test_keyhash_agrees_with_openssl_at_every_length);
    tcase_add_test(tc, test_keyhash_hex_valid_is_exactly_64_lowercase_digits);
    suite_add_tcase(s, tc);
    return s;
}
