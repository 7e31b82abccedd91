/*
 * test_cdt_clock - clocks and the ISO-8601 form.
 *
 * SPDX-License-Identifier: MIT
 */
#include "common/cdt_clock.h"

#include <check.h>
#include <string.h>

Suite *cdt_clock_suite(void);

START_TEST(test_clock_monotonic_does_not_go_back)
{
    int64_t a = cdt_clock_mono_ms();
    int64_t ua = cdt_clock_mono_us();
    int64_t b = cdt_clock_mono_ms();
    int64_t ub = cdt_clock_mono_us();
    ck_assert_int_ge(b, a);
    ck_assert_int_ge(ub, ua);
    ck_assert_int_gt(a, 0);
    /* µs and ms count the same clock. */
    ck_assert_int_le(ua / 1000 - a, 1);
}
END_TEST

START_TEST(test_clock_wall_is_after_2024)
{
    ck_assert_int_gt(cdt_clock_wall_ms(), 1704067200000LL);
}
END_TEST

START_TEST(test_clock_iso8601_format)
{
    char buf[CDT_ISO8601_LEN];
    cdt_clock_iso8601(0, buf);
    ck_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
    cdt_clock_iso8601(1738324800123LL, buf);
    ck_assert_str_eq(buf, "2025-01-31T12:00:00.123Z");
    ck_assert_uint_eq(strlen(buf), CDT_ISO8601_LEN - 1);
    cdt_clock_iso8601(951782400000LL, buf); /* leap day 2000 */
    ck_assert_str_eq(buf, "2000-02-29T00:00:00.000Z");
    cdt_clock_iso8601(-1, buf);
    ck_assert_str_eq(buf, "1969-12-31T23:59:59.999Z");
}
END_TEST

START_TEST(test_clock_iso8601_parse)
{
    int64_t ms = -1;
    ck_assert_int_eq(cdt_clock_parse_iso8601("2025-01-31T12:00:00.123Z", &ms),
                     0);
    ck_assert_int_eq(ms, 1738324800123LL);
    ck_assert_int_eq(cdt_clock_parse_iso8601("2025-01-31T12:00:00Z", &ms), 0);
    ck_assert_int_eq(ms, 1738324800000LL);
    ck_assert_int_eq(cdt_clock_parse_iso8601("2025-01-31", &ms), 0);
    ck_assert_int_eq(ms, 1738281600000LL);
    ck_assert_int_eq(cdt_clock_parse_iso8601("2025-01-31T12:00:00.1Z", &ms), 0);
    ck_assert_int_eq(ms, 1738324800100LL);
    /* Digits beyond milliseconds are dropped, not rounded. */
    ck_assert_int_eq(
        cdt_clock_parse_iso8601("2025-01-31T12:00:00.123999Z", &ms), 0);
    ck_assert_int_eq(ms, 1738324800123LL);
    ck_assert_int_eq(cdt_clock_parse_iso8601("1970-01-01T00:00:00Z", &ms), 0);
    ck_assert_int_eq(ms, 0);
}
END_TEST

START_TEST(test_clock_iso8601_round_trip)
{
    static const int64_t vals[] = {
        0, 1, 999, 1000, 1738324800123LL, 4102444799999LL, 951782400000LL};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        char buf[CDT_ISO8601_LEN];
        cdt_clock_iso8601(vals[i], buf);
        int64_t back = -1;
        ck_assert_int_eq(cdt_clock_parse_iso8601(buf, &back), 0);
        ck_assert_int_eq(back, vals[i]);
    }
}
END_TEST

START_TEST(test_clock_iso8601_rejects_malformed)
{
    static const char *const bad[] = {
        "",
        "2025",
        "2025-01",
        "2025-1-31",
        "2025-01-31T",
        "2025-01-31T12:00",
        "2025-01-31T12:00:00",
        "2025-01-31T12:00:00.Z",
        "2025-01-31T12:00:00+01:00",
        "2025-01-31 12:00:00Z",
        "2025-01-31T12:00:00Zjunk",
        "2025-01-31x",
        "2025-13-01",
        "2025-00-01",
        "2025-01-00",
        "2025-01-32",
        "2025-01-31T24:00:00Z",
        "2025-01-31T12:60:00Z",
        "2025-01-31T12:00:61Z",
        "not a date",
        "2025-01-31T12:00:00.123",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 77;
        ck_assert_msg(cdt_clock_parse_iso8601(bad[i], &ms) == -1,
                      "'%s' accepted", bad[i]);
        ck_assert_int_eq(ms, 77);
    }
}
END_TEST

Suite *
cdt_clock_suite(void)
{
    Suite *s = suite_create("cdt_clock");
    TCase *tc = tcase_create("clock");
    tcase_add_test(tc, test_clock_monotonic_does_not_go_back);
    tcase_add_test(tc, test_clock_wall_is_after_2024);
    suite_add_tcase(s, tc);
    tc = tcase_create("iso8601");
    tcase_add_test(tc, test_clock_iso8601_format);
    tcase_add_test(tc, test_clock_iso8601_parse);
    tcase_add_test(tc, test_clock_iso8601_round_trip);
    tcase_add_test(tc, test_clock_iso8601_rejects_malformed);
    suite_add_tcase(s, tc);
    return s;
}
