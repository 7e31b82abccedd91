/*
 * test_tokens - negotiate tokens: states, expiry, hub binding, ids.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/tokens.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

Suite *tokens_suite(void);

START_TEST(test_tokens_fresh_claimed_bound)
{
    tokens_t *ts = tokens_new(15000);
    token_t *t = tokens_add(ts, "tokA", "cidA", 2, 7, true, 1000);
    ck_assert_str_eq(t->token, "tokA");
    ck_assert_str_eq(t->conn_id, "cidA");
    token_t *e;
    ck_assert_int_eq(tokens_check(ts, "tokA", 4, 2, 1001, &e), TOKEN_OK);
    ck_assert_ptr_eq(e, t);
    ck_assert_int_eq(e->key_id, 7);
    ck_assert(e->admin);
    tokens_claim(ts, t);
    ck_assert_int_eq(tokens_check(ts, "tokA", 4, 2, 1001, &e), TOKEN_IN_USE);
    ck_assert_ptr_null(e);
    tokens_bind(ts, t);
    /* bound tokens never expire: a second WebSocket still gets 409 */
    ck_assert_uint_eq(tokens_expire(ts, 1000000), 0);
    ck_assert_int_eq(tokens_check(ts, "tokA", 4, 2, 1000000, &e), TOKEN_IN_USE);
    tokens_remove(ts, &t);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(tokens_check(ts, "tokA", 4, 2, 1000000, &e),
                     TOKEN_UNKNOWN);
    ck_assert_uint_eq(tokens_count(ts), 0);
    tokens_destroy(&ts);
    ck_assert_ptr_null(ts);
}
END_TEST

START_TEST(test_tokens_unknown_wrong_hub_and_lengths)
{
    tokens_t *ts = tokens_new(15000);
    tokens_add(ts, "abc", "c", 1, 1, false, 0);
    token_t *e;
    ck_assert_int_eq(tokens_check(ts, "abd", 3, 1, 1, &e), TOKEN_UNKNOWN);
    ck_assert_int_eq(tokens_check(ts, "ab", 2, 1, 1, &e), TOKEN_UNKNOWN);
    ck_assert_int_eq(tokens_check(ts, "abcd", 4, 1, 1, &e), TOKEN_UNKNOWN);
    ck_assert_int_eq(tokens_check(ts, "", 0, 1, 1, &e), TOKEN_UNKNOWN);
    char longid[64];
    memset(longid, 'a', sizeof longid);
    ck_assert_int_eq(tokens_check(ts, longid, sizeof longid, 1, 1, &e),
                     TOKEN_UNKNOWN);
    ck_assert_int_eq(tokens_check(ts, "abc", 3, 2, 1, &e), TOKEN_WRONG_HUB);
    ck_assert_ptr_nonnull(tokens_find(ts, "abc", 3));
    ck_assert_ptr_null(tokens_find(ts, "abcd", 4));
    tokens_destroy(&ts);
}
END_TEST

START_TEST(test_tokens_expire_in_order_and_only_when_due)
{
    tokens_t *ts = tokens_new(100);
    token_t *a = tokens_add(ts, "a", "1", 0, 1, false, 0);
    tokens_add(ts, "b", "2", 0, 1, false, 50);
    token_t *c = tokens_add(ts, "c", "3", 0, 1, false, 60);
    tokens_claim(ts, c); /* claimed tokens still expire */
    token_t *e;
    /* a token whose time is up is unknown even before it is purged */
    ck_assert_int_eq(tokens_check(ts, "a", 1, 0, 100, &e), TOKEN_UNKNOWN);
    ck_assert_int_eq(tokens_check(ts, "a", 1, 0, 99, &e), TOKEN_OK);
    tokens_bind(ts, a);
    ck_assert_uint_eq(tokens_expire(ts, 149), 0);
    ck_assert_uint_eq(tokens_expire(ts, 150), 1); /* b */
    ck_assert_ptr_null(tokens_find(ts, "b", 1));
    ck_assert_uint_eq(tokens_expire(ts, 1000), 1); /* c, not bound a */
    ck_assert_uint_eq(tokens_count(ts), 1);
    ck_assert_ptr_eq(tokens_find(ts, "a", 1), a);
    tokens_destroy(&ts); /* frees the bound one too */
}
END_TEST

START_TEST(test_tokens_remove_from_the_middle_keeps_fifo)
{
    tokens_t *ts = tokens_new(10);
    tokens_add(ts, "a", "1", 0, 1, false, 0);
    token_t *b = tokens_add(ts, "b", "2", 0, 1, false, 1);
    tokens_add(ts, "c", "3", 0, 1, false, 2);
    tokens_remove(ts, &b);
    ck_assert_uint_eq(tokens_expire(ts, 11), 1);
    ck_assert_uint_eq(tokens_expire(ts, 12), 1);
    ck_assert_uint_eq(tokens_count(ts), 0);
    tokens_add(ts, "d", "4", 0, 1, false, 20);
    ck_assert_uint_eq(tokens_expire(ts, 30), 1);
    tokens_destroy(&ts);
}
END_TEST

START_TEST(test_tokens_b64url_vectors)
{
    char out[64];
    ck_assert_uint_eq(tokens_b64url((const uint8_t *)"", 0, out), 0);
    ck_assert_str_eq(out, "");
    tokens_b64url((const uint8_t *)"f", 1, out);
    ck_assert_str_eq(out, "Zg");
    tokens_b64url((const uint8_t *)"fo", 2, out);
    ck_assert_str_eq(out, "Zm8");
    tokens_b64url((const uint8_t *)"foo", 3, out);
    ck_assert_str_eq(out, "Zm9v");
    tokens_b64url((const uint8_t *)"foobar", 6, out);
    ck_assert_str_eq(out, "Zm9vYmFy");
    const uint8_t hi[] = {0xfb, 0xff, 0xfe};
    tokens_b64url(hi, 3, out);
    ck_assert_str_eq(out, "-__-"); /* url-safe alphabet, no padding */
}
END_TEST

START_TEST(test_tokens_random_ids_are_22_urlsafe_chars_and_differ)
{
    char a[TOKEN_LEN + 1], b[TOKEN_LEN + 1];
    ck_assert_int_eq(tokens_random_id(a), 0);
    ck_assert_int_eq(tokens_random_id(b), 0);
    ck_assert_uint_eq(strlen(a), 22);
    ck_assert_str_ne(a, b);
    for (size_t i = 0; i < 22; i++)
        ck_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                         "0123456789-_",
                         a[i]) != NULL);
}
END_TEST

Suite *
tokens_suite(void)
{
    Suite *s = suite_create("tokens");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, test_tokens_fresh_claimed_bound);
    tcase_add_test(tc, test_tokens_unknown_wrong_hub_and_lengths);
    tcase_add_test(tc, test_tokens_expire_in_order_and_only_when_due);
    tcase_add_test(tc, test_tokens_remove_from_the_middle_keeps_fifo);
    suite_add_tcase(s, tc);
    TCase *ids = tcase_create("ids");
    tcase_add_test(ids, test_tokens_b64url_vectors);
    tcase_add_test(ids, test_tokens_random_ids_are_22_urlsafe_chars_and_differ);
    suite_add_tcase(s, ids);
    return s;
}
