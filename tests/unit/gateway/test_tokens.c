/*
 * test_tokens - negotiate tokens: states, expiry, hub binding, ids, and
 * the signed tokens other gateways verify.
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

/* ---- signed tokens ------------------------------------------------------ */

#define TTL  15000
#define WALL 1700000000000LL

static const uint8_t s_secret[TOKEN_SECRET_LEN] = {
    0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

static bool
s_urlsafe(const char *s)
{
    for (; *s; s++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                    "0123456789-_",
                    *s))
            return false;
    return true;
}

/* The layout and the MAC, against a vector computed apart (Python hmac):
 * another implementation could verify these tokens. */
START_TEST(test_tokens_sign_matches_hmac_sha256_vector)
{
    char tok[TOKEN_MAX_LEN + 1];
    ck_assert_int_eq(
        tokens_sign(s_secret, 2, 7, true, WALL, 0x0102030405060708ULL, tok), 0);
    ck_assert_str_eq(
        tok, "AQAAAYvP5WgAAAAAAAAAAAcBAAIBAgMEBQYHCNTHZr3OfpF-xx4dFDYEoBU");
    ck_assert_int_eq(tokens_sign(s_secret, 70000, 7, true, WALL, 1, tok), -1);
}
END_TEST

/* Issued on gateway A, used on gateway B: B takes the identity from the
 * token, once. */
START_TEST(test_tokens_signed_good_on_another_gateway_once)
{
    tokens_t *a = tokens_new(TTL), *b = tokens_new(TTL);
    token_t *t = tokens_issue(a, s_secret, "cidA", 3, -5, true, 1000, WALL);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(strlen(t->token), TOKEN_SIGNED_LEN);
    ck_assert(s_urlsafe(t->token));
    char tok[TOKEN_MAX_LEN + 1];
    strcpy(tok, t->token);
    token_t *e;
    /* B's monotonic clock has nothing to do with A's */
    ck_assert_int_eq(
        tokens_accept(b, s_secret, tok, strlen(tok), 3, 77, WALL + 100, &e),
        TOKEN_OK);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->key_id, -5);
    ck_assert(e->admin);
    ck_assert_uint_eq(e->hub, 3);
    ck_assert_str_eq(e->token, tok);
    ck_assert_uint_eq(strlen(e->conn_id), TOKEN_LEN);
    ck_assert_ptr_eq(tokens_find(b, tok, strlen(tok)), e);
    tokens_claim(b, e);
    ck_assert_int_eq(
        tokens_accept(b, s_secret, tok, strlen(tok), 3, 78, WALL + 101, &e),
        TOKEN_IN_USE);
    tokens_bind(b, e = tokens_find(b, tok, strlen(tok)));
    tokens_remove(b, &e);
    /* the WebSocket closed: on B that token is spent */
    ck_assert_int_eq(
        tokens_accept(b, s_secret, tok, strlen(tok), 3, 79, WALL + 102, &e),
        TOKEN_UNKNOWN);
    ck_assert_ptr_null(e);
    /* a third gateway still takes it (the documented once per gateway) */
    tokens_t *c = tokens_new(TTL);
    ck_assert_int_eq(
        tokens_accept(c, s_secret, tok, strlen(tok), 3, 1, WALL + 103, &e),
        TOKEN_OK);
    tokens_destroy(&c);
    tokens_destroy(&a);
    tokens_destroy(&b);
}
END_TEST

/* On the issuing gateway the table makes it single-use, and once its entry
 * is gone the signature alone does not bring it back. */
START_TEST(test_tokens_signed_replay_on_the_issuing_gateway)
{
    tokens_t *a = tokens_new(TTL);
    token_t *t = tokens_issue(a, s_secret, "cidA", 1, 9, false, 1000, WALL);
    char tok[TOKEN_MAX_LEN + 1];
    strcpy(tok, t->token);
    token_t *e;
    ck_assert_int_eq(
        tokens_accept(a, s_secret, tok, strlen(tok), 1, 1001, WALL + 1, &e),
        TOKEN_OK);
    ck_assert_ptr_eq(e, t);
    ck_assert_str_eq(e->conn_id, "cidA");
    tokens_claim(a, e);
    ck_assert_int_eq(
        tokens_accept(a, s_secret, tok, strlen(tok), 1, 1002, WALL + 2, &e),
        TOKEN_IN_USE);
    tokens_remove(a, &t);
    ck_assert_int_eq(
        tokens_accept(a, s_secret, tok, strlen(tok), 1, 1003, WALL + 3, &e),
        TOKEN_UNKNOWN);
    ck_assert_uint_eq(tokens_count(a), 0);
    /* the nonces are forgotten only after any token could have expired */
    ck_assert_uint_eq(tokens_expire(a, 1000 + TTL + TOKEN_SKEW_MS), 0);
    tokens_destroy(&a);
}
END_TEST

START_TEST(test_tokens_signed_tampered_refused)
{
    tokens_t *a = tokens_new(TTL), *b = tokens_new(TTL);
    token_t *t = tokens_issue(a, s_secret, "c", 1, 9, false, 0, WALL);
    char tok[TOKEN_MAX_LEN + 1], bad[TOKEN_MAX_LEN + 2];
    strcpy(tok, t->token);
    token_t *e;
    /* every character, changed to another of the alphabet */
    for (size_t i = 0; i < TOKEN_SIGNED_LEN; i++) {
        strcpy(bad, tok);
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        ck_assert_msg(tokens_accept(b, s_secret, bad, strlen(bad), 1, 1,
                                    WALL + 1, &e) == TOKEN_UNKNOWN,
                      "position %zu", i);
    }
    /* outside the alphabet (standard base64), short, long, admin flipped */
    strcpy(bad, tok);
    bad[5] = '+';
    ck_assert_int_eq(
        tokens_accept(b, s_secret, bad, strlen(bad), 1, 1, WALL + 1, &e),
        TOKEN_UNKNOWN);
    ck_assert_int_eq(
        tokens_accept(b, s_secret, tok, strlen(tok) - 1, 1, 1, WALL + 1, &e),
        TOKEN_UNKNOWN);
    strcpy(bad, tok);
    strcat(bad, "A");
    ck_assert_int_eq(
        tokens_accept(b, s_secret, bad, strlen(bad), 1, 1, WALL + 1, &e),
        TOKEN_UNKNOWN);
    char forged[TOKEN_MAX_LEN + 1];
    ck_assert_int_eq(tokens_sign(s_secret, 1, 9, true, WALL + TTL, 1, forged),
                     0);
    memcpy(forged + 48, tok + 48, TOKEN_SIGNED_LEN - 48); /* old MAC */
    ck_assert_int_eq(
        tokens_accept(b, s_secret, forged, strlen(forged), 1, 1, WALL + 1, &e),
        TOKEN_UNKNOWN);
    /* the intact one still works: the refusals did not spend it */
    ck_assert_int_eq(
        tokens_accept(b, s_secret, tok, strlen(tok), 1, 1, WALL + 1, &e),
        TOKEN_OK);
    tokens_destroy(&a);
    tokens_destroy(&b);
}
END_TEST

START_TEST(test_tokens_signed_expired_wrong_hub_wrong_secret)
{
    tokens_t *a = tokens_new(TTL), *b = tokens_new(TTL);
    token_t *t = tokens_issue(a, s_secret, "c", 1, 9, false, 0, WALL);
    char tok[TOKEN_MAX_LEN + 1];
    strcpy(tok, t->token);
    size_t n = strlen(tok);
    token_t *e;
    ck_assert_int_eq(tokens_accept(b, s_secret, tok, n, 1, 5, WALL + TTL, &e),
                     TOKEN_UNKNOWN);
    ck_assert_int_eq(tokens_accept(b, s_secret, tok, n, 2, 5, WALL, &e),
                     TOKEN_WRONG_HUB);
    uint8_t other[TOKEN_SECRET_LEN];
    memcpy(other, s_secret, sizeof other);
    other[31] ^= 1; /* a restarted broker's secret */
    ck_assert_int_eq(tokens_accept(b, other, tok, n, 1, 5, WALL, &e),
                     TOKEN_UNKNOWN);
    /* no secret yet: only local tokens, as before */
    ck_assert_int_eq(tokens_accept(b, NULL, tok, n, 1, 5, WALL, &e),
                     TOKEN_UNKNOWN);
    /* none of those spent it; the last millisecond still counts */
    ck_assert_int_eq(
        tokens_accept(b, s_secret, tok, n, 1, 5, WALL + TTL - 1, &e), TOKEN_OK);
    /* and it expires on b when it does on a, not TTL after b saw it */
    ck_assert_int_eq(e->expires_ms, 6);
    /* a token claiming a lifetime beyond ttl and skew is refused */
    char far[TOKEN_MAX_LEN + 1];
    tokens_sign(s_secret, 1, 9, false, WALL + TTL + TOKEN_SKEW_MS + 1, 42, far);
    ck_assert_int_eq(tokens_accept(b, s_secret, far, n, 1, 5, WALL, &e),
                     TOKEN_UNKNOWN);
    tokens_sign(s_secret, 1, 9, false, WALL + TTL + TOKEN_SKEW_MS, 42, far);
    ck_assert_int_eq(tokens_accept(b, s_secret, far, n, 1, 5, WALL, &e),
                     TOKEN_OK);
    tokens_destroy(&a);
    tokens_destroy(&b);
}
END_TEST

START_TEST(test_tokens_issue_without_secret_is_local)
{
    tokens_t *a = tokens_new(TTL), *b = tokens_new(TTL);
    token_t *t = tokens_issue(a, NULL, "c", 1, 9, false, 0, WALL);
    ck_assert_uint_eq(strlen(t->token), TOKEN_LEN);
    token_t *e;
    ck_assert_int_eq(
        tokens_accept(b, s_secret, t->token, TOKEN_LEN, 1, 1, WALL + 1, &e),
        TOKEN_UNKNOWN);
    ck_assert_int_eq(
        tokens_accept(a, NULL, t->token, TOKEN_LEN, 1, 1, WALL + 1, &e),
        TOKEN_OK);
    tokens_destroy(&a);
    tokens_destroy(&b);
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
    TCase *sig = tcase_create("signed");
    tcase_add_test(sig, test_tokens_sign_matches_hmac_sha256_vector);
    tcase_add_test(sig, test_tokens_signed_good_on_another_gateway_once);
    tcase_add_test(sig, test_tokens_signed_replay_on_the_issuing_gateway);
    tcase_add_test(sig, test_tokens_signed_tampered_refused);
    tcase_add_test(sig, test_tokens_signed_expired_wrong_hub_wrong_secret);
    tcase_add_test(sig, test_tokens_issue_without_secret_is_local);
    suite_add_tcase(s, sig);
    return s;
}
