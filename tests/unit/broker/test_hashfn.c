/*
 * test_hashfn - the seeded hash of the broker's tables: every byte and the
 * length count, and names that differ little spread over the buckets.
 *
 * SPDX-License-Identifier: MIT
 */
#include "broker/hashfn.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Suite *hashfn_suite(void);

START_TEST(test_hashfn_same_bytes_same_hash)
{
    char a[64], b[64];
    for (size_t len = 0; len <= 40; len++) {
        memset(a, 'x', sizeof a);
        memset(b, 'x', sizeof b);
        ck_assert_uint_eq(hashfn_bytes(a, len), hashfn_bytes(b, len));
        /* the bytes at an odd address hash as they do at an even one */
        ck_assert_uint_eq(hashfn_bytes(a + 1, len), hashfn_bytes(b, len));
    }
    ck_assert_uint_eq(hashfn_str("vkey-1"), hashfn_bytes("vkey-1", 6));
    int64_t x = -5, y = -5;
    ck_assert_uint_eq(hashfn_i64(&x), hashfn_i64(&y));
    ck_assert_int_eq(hashfn_i64_cmp(&x, &y), 0);
}
END_TEST

/* Flipping any one bit of any byte, at every length up to 40 (the word
 * steps and the tail), or adding a zero byte, changes the hash. */
START_TEST(test_hashfn_every_byte_and_the_length_count)
{
    unsigned char buf[48];
    for (size_t len = 1; len <= 40; len++) {
        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)('a' + (i * 7) % 26);
        buf[len] = 0;
        size_t h = hashfn_bytes(buf, len);
        ck_assert_uint_ne(h, hashfn_bytes(buf, len + 1)); /* one more 0 */
        ck_assert_uint_ne(h, hashfn_bytes(buf, len - 1));
        for (size_t i = 0; i < len; i++) {
            for (int bit = 0; bit < 8; bit++) {
                buf[i] ^= (unsigned char)(1u << bit);
                ck_assert_msg(hashfn_bytes(buf, len) != h,
                              "len %zu byte %zu bit %d", len, i, bit);
                buf[i] ^= (unsigned char)(1u << bit);
            }
        }
    }
}
END_TEST

/* The names events carry ("vkey-1" ... "vkey-65536") land in the 256
 * buckets of the hash's low bits about evenly: each gets its share of
 * 256 within +-50 % (8 standard deviations of a random hash, whatever the
 * seed), and no two full hashes collide. */
static int
s_cmp(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

START_TEST(test_hashfn_similar_names_spread)
{
    enum {
        N = 65536,
        BUCKETS = 256
    };
    unsigned *count = calloc(BUCKETS, sizeof *count);
    size_t *all = calloc(N, sizeof *all);
    ck_assert(count && all);
    char name[32];
    for (int i = 0; i < N; i++) {
        int n = snprintf(name, sizeof name, "vkey-%d", i + 1);
        all[i] = hashfn_bytes(name, (size_t)n);
        count[all[i] & (BUCKETS - 1)]++;
    }
    unsigned lo = N, hi = 0;
    for (int b = 0; b < BUCKETS; b++) {
        lo = count[b] < lo ? count[b] : lo;
        hi = count[b] > hi ? count[b] : hi;
    }
    ck_assert_uint_ge(lo, N / BUCKETS / 2);
    ck_assert_uint_le(hi, 3 * N / BUCKETS / 2);
    /* 64 bits: a collision among these means a bug */
    qsort(all, N, sizeof *all, s_cmp);
    int same = 0;
    for (int i = 1; i < N; i++)
        same += all[i] == all[i - 1];
    ck_assert_int_eq(same, 0);
    free(count);
    free(all);
}
END_TEST

Suite *
hashfn_suite(void)
{
    Suite *s = suite_create("hashfn");
    TCase *tc = tcase_create("hash");
    tcase_add_test(tc, test_hashfn_same_bytes_same_hash);
    tcase_add_test(tc, test_hashfn_every_byte_and_the_length_count);
    tcase_add_test(tc, test_hashfn_similar_names_spread);
    suite_add_tcase(s, tc);
    return s;
}
