/*
 * test_cdt_auth - SHA-256 hex digests, constant-time compare, hex checks.
 *
 * SPDX-License-Identifier: MIT
 */
#include "common/cdt_auth.h"

#include "common/cdt_mem.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

Suite *cdt_auth_suite(void);

START_TEST(test_sha256_known_vectors)
{
    char hex[CDT_SHA256_HEX_LEN + 1];
    cdt_sha256_hex("", 0, hex);
    ck_assert_str_eq(
        hex,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cdt_sha256_hex("abc", 3, hex);
    ck_assert_str_eq(
        hex,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two =
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    cdt_sha256_hex(two, strlen(two), hex);
    ck_assert_str_eq(
        hex,
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    ck_assert_uint_eq(strlen(hex), CDT_SHA256_HEX_LEN);
}
END_TEST

START_TEST(test_sha256_million_a)
{
    size_t n = 1000000;
    char *a = cdt_xmalloc(n);
    memset(a, 'a', n);
    char hex[CDT_SHA256_HEX_LEN + 1];
    cdt_sha256_hex(a, n, hex);
    ck_assert_str_eq(
        hex,
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}
END_TEST

START_TEST(test_sha256_covers_binary_bytes)
{
    /* A NUL inside the data is part of it: not a C-string function. */
    char h1[CDT_SHA256_HEX_LEN + 1], h2[CDT_SHA256_HEX_LEN + 1];
    cdt_sha256_hex("a\0b", 3, h1);
    cdt_sha256_hex("a", 1, h2);
    ck_assert_str_ne(h1, h2);
    ck_assert(cdt_sha256_hex_valid(h1, strlen(h1)));
}
END_TEST

START_TEST(test_ct_equal)
{
    ck_assert(cdt_ct_equal("abc", "abc", 3));
    ck_assert(!cdt_ct_equal("abc", "abd", 3));
    ck_assert(!cdt_ct_equal("xbc", "abc", 3));
    ck_assert(cdt_ct_equal("abc", "abd", 2));
    ck_assert(cdt_ct_equal("", "x", 0));
    ck_assert(!cdt_ct_equal("\x00\x01", "\x00\x00", 2));
    ck_assert(!cdt_ct_equal("\x80", "\x00", 1));
    /* Each single-bit difference anywhere in a hash is seen. */
    char a[CDT_SHA256_HEX_LEN + 1], b[CDT_SHA256_HEX_LEN + 1];
    cdt_sha256_hex("key", 3, a);
    for (size_t i = 0; i < CDT_SHA256_HEX_LEN; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(b, a, sizeof b);
            b[i] = (char)(b[i] ^ (1 << bit));
            ck_assert(!cdt_ct_equal(a, b, CDT_SHA256_HEX_LEN));
        }
    }
    ck_assert(cdt_ct_equal(a, a, CDT_SHA256_HEX_LEN));
}
END_TEST

START_TEST(test_sha256_hex_valid)
{
    const char *good =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    ck_assert(cdt_sha256_hex_valid(good, 64));
    ck_assert(!cdt_sha256_hex_valid(good, 63));
    ck_assert(!cdt_sha256_hex_valid(good, 0));
    ck_assert(!cdt_sha256_hex_valid(NULL, 64));
    char bad[65];
    static const char nothex[] = {'A', 'F', 'g', 'G', ' ', '\0', 'x', '-'};
    for (size_t k = 0; k < sizeof nothex; k++) {
        for (size_t i = 0; i < 64; i += 21) {
            memcpy(bad, good, 65);
            bad[i] = nothex[k];
            ck_assert(!cdt_sha256_hex_valid(bad, 64));
        }
    }
    char longer[66];
    memcpy(longer, good, 64);
    longer[64] = '0';
    longer[65] = '\0';
    ck_assert(!cdt_sha256_hex_valid(longer, 65));
    /* Exact-size buffer: no look past the 64 digits. */
    char *exact = cdt_xmalloc(64);
    memcpy(exact, good, 64);
    ck_assert(cdt_sha256_hex_valid(exact, 64));
    free(exact);
}
END_TEST

Suite *
cdt_auth_suite(void)
{
    Suite *s = suite_create("cdt_auth");
    TCase *tc = tcase_create("sha256");
    tcase_add_test(tc, test_sha256_known_vectors);
    tcase_add_test(tc, test_sha256_million_a);
    tcase_add_test(tc, test_sha256_covers_binary_bytes);
    tcase_add_test(tc, test_sha256_hex_valid);
    suite_add_tcase(s, tc);
    tc = tcase_create("compare");
    tcase_add_test(tc, test_ct_equal);
    suite_add_tcase(s, tc);
    return s;
}
