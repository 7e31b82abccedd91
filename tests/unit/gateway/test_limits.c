/*
 * test_limits - the connect and invocation windows and the classification
 * of refused records.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/limits.h"

#include "gateway/hubproto_json.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Suite *limits_suite(void);

START_TEST(test_limits_rate_refuses_over_limit_within_a_second)
{
    limits_rate_t r = {0, 0};
    for (int i = 0; i < 5; i++)
        ck_assert(limits_rate_allow(&r, 5, 10000 + i));
    ck_assert(!limits_rate_allow(&r, 5, 10999));
    ck_assert(!limits_rate_allow(&r, 5, 10999));
    /* refused attempts are not counted: the next second starts afresh */
    ck_assert(limits_rate_allow(&r, 5, 11000));
    ck_assert_uint_eq(r.count, 1);
}
END_TEST

START_TEST(test_limits_rate_zero_or_huge_limit_never_refuses)
{
    limits_rate_t r = {0, 0};
    for (int i = 0; i < 70000; i++) {
        ck_assert(limits_rate_allow(&r, 0, 5000));
        ck_assert(limits_rate_allow(&r, 1000000, 5000));
    }
    ck_assert_uint_eq(r.count, UINT16_MAX);
    ck_assert(limits_rate_allow(&r, 1000000, 5000));
}
END_TEST

START_TEST(test_limits_ipmap_counts_per_address_and_second)
{
    limits_ipmap_t m;
    limits_ipmap_init(&m);
    for (int i = 0; i < 3; i++) {
        ck_assert(limits_ipmap_allow(&m, "127.0.0.1", 3, 7000));
        ck_assert(limits_ipmap_allow(&m, "::1", 3, 7000));
    }
    ck_assert(!limits_ipmap_allow(&m, "127.0.0.1", 3, 7500));
    ck_assert(!limits_ipmap_allow(&m, "::1", 3, 7999));
    ck_assert(limits_ipmap_allow(&m, "127.0.0.2", 3, 7999));
    ck_assert_uint_eq(limits_ipmap_count(&m), 3);
    /* a stale entry resets itself even before the tick expires it */
    ck_assert(limits_ipmap_allow(&m, "127.0.0.1", 3, 8000));
    limits_ipmap_expire(&m, 8000);
    ck_assert_uint_eq(limits_ipmap_count(&m), 0);
    ck_assert(limits_ipmap_allow(&m, "127.0.0.1", 3, 8001));
    limits_ipmap_expire(&m, 8999); /* same second: kept */
    ck_assert_uint_eq(limits_ipmap_count(&m), 1);
    limits_ipmap_release(&m);
}
END_TEST

START_TEST(test_limits_ipmap_many_addresses)
{
    limits_ipmap_t m;
    limits_ipmap_init(&m);
    char ip[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(ip, sizeof ip, "10.0.%d.%d", i / 256, i % 256);
        ck_assert(limits_ipmap_allow(&m, ip, 1, 1000));
    }
    for (int i = 0; i < 3000; i++) {
        snprintf(ip, sizeof ip, "10.0.%d.%d", i / 256, i % 256);
        ck_assert(!limits_ipmap_allow(&m, ip, 1, 1000));
    }
    ck_assert_uint_eq(limits_ipmap_count(&m), 3000);
    limits_ipmap_expire(&m, 2000);
    ck_assert_uint_eq(limits_ipmap_count(&m), 0);
    limits_ipmap_release(&m);
}
END_TEST

/* The classification must agree with what hubproto_json_parse reports,
 * so the real parser produces the errors here. */
static enum limits_proto_error
s_classify(const char *text, size_t len)
{
    cdt_buf_t scratch = CDT_BUF_INIT;
    hub_msg_t msg;
    char err[256];
    char *copy = malloc(len ? len : 1); /* exact size for ASan */
    memcpy(copy, text, len);
    int rc = hubproto_json_parse(copy, len, &scratch, &msg, err, sizeof err);
    ck_assert_int_eq(rc, -1);
    enum limits_proto_error k = limits_classify(copy, len, err);
    free(copy);
    cdt_buf_release(&scratch);
    return k;
}

#define CLASSIFY(lit) s_classify(lit, sizeof(lit) - 1)

START_TEST(test_limits_classify_refused_records)
{
    ck_assert_int_eq(CLASSIFY("{\"type\":1,"), LIMITS_PE_JSON);
    ck_assert_int_eq(CLASSIFY("not json"), LIMITS_PE_JSON);
    ck_assert_int_eq(CLASSIFY("{\"type\":6,\"x\":\"\xff\xfe\"}"),
                     LIMITS_PE_UTF8);
    ck_assert_int_eq(CLASSIFY("{\"type\":6,\"x\":\"\xc0\xaf\"}"),
                     LIMITS_PE_UTF8);
    ck_assert_int_eq(
        CLASSIFY("{\"type\":1,\"target\":\"X\",\"arguments\":1e999}"),
        LIMITS_PE_JSON);
    ck_assert_int_eq(
        CLASSIFY("{\"type\":1,\"target\":\"X\",\"arguments\":\"no\"}"),
        LIMITS_PE_MESSAGE);
    ck_assert_int_eq(CLASSIFY("{\"target\":\"X\"}"), LIMITS_PE_MESSAGE);
    ck_assert_int_eq(CLASSIFY("[1,2]"), LIMITS_PE_MESSAGE);
}
END_TEST

START_TEST(test_limits_classify_deep_nesting_is_json)
{
    enum {
        DEPTH = 10000
    };
    size_t len = 2 * DEPTH + 64;
    char *t = malloc(len);
    int n = snprintf(t, len, "{\"type\":1,\"target\":\"X\",\"arguments\":[");
    for (int i = 0; i < DEPTH; i++)
        t[n++] = '[';
    for (int i = 0; i < DEPTH; i++)
        t[n++] = ']';
    t[n++] = ']';
    t[n++] = '}';
    ck_assert_int_eq(s_classify(t, (size_t)n), LIMITS_PE_JSON);
    free(t);
}
END_TEST

START_TEST(test_limits_names_are_metric_labels)
{
    for (int i = 0; i < LIMITS_PE_COUNT; i++) {
        const char *s = limits_proto_error_name((enum limits_proto_error)i);
        ck_assert_ptr_nonnull(s);
        ck_assert_uint_eq(strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_"),
                          strlen(s));
    }
    for (int i = 0; i < LIMITS_REF_COUNT; i++) {
        const char *s = limits_refusal_name((enum limits_refusal)i);
        ck_assert_ptr_nonnull(s);
        ck_assert_uint_eq(strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_"),
                          strlen(s));
    }
    ck_assert_str_eq(limits_proto_error_name(LIMITS_PE_COUNT), "unknown");
    ck_assert_str_eq(limits_refusal_name(LIMITS_REF_INVOKE_RATE),
                     "invoke_rate");
}
END_TEST

Suite *
limits_suite(void)
{
    Suite *s = suite_create("limits");
    TCase *tc = tcase_create("rate");
    tcase_add_test(tc, test_limits_rate_refuses_over_limit_within_a_second);
    tcase_add_test(tc, test_limits_rate_zero_or_huge_limit_never_refuses);
    suite_add_tcase(s, tc);
    tc = tcase_create("ipmap");
    tcase_add_test(tc, test_limits_ipmap_counts_per_address_and_second);
    tcase_add_test(tc, test_limits_ipmap_many_addresses);
    suite_add_tcase(s, tc);
    tc = tcase_create("classify");
    tcase_add_test(tc, test_limits_classify_refused_records);
    tcase_add_test(tc, test_limits_classify_deep_nesting_is_json);
    tcase_add_test(tc, test_limits_names_are_metric_labels);
    suite_add_tcase(s, tc);
    return s;
}
