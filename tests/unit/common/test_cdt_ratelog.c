/*
 * test_cdt_ratelog - one WARN line per interval, with the count withheld.
 *
 * SPDX-License-Identifier: MIT
 */
#include "common/cdt_ratelog.h"

#include <check.h>

Suite *cdt_ratelog_suite(void);

START_TEST(test_ratelog_once_per_interval)
{
    const int64_t I = CDT_RATELOG_INTERVAL_MS, t0 = 5000;
    cdt_ratelog_t r = {0};
    uint64_t quiet = 99;
    ck_assert(cdt_ratelog_allow(&r, t0, &quiet));
    ck_assert_uint_eq(quiet, 0);
    ck_assert(!cdt_ratelog_allow(&r, t0 + 1, &quiet));
    ck_assert(!cdt_ratelog_allow(&r, t0 + I - 1, &quiet));
    ck_assert(cdt_ratelog_allow(&r, t0 + I, &quiet));
    ck_assert_uint_eq(quiet, 2);
    ck_assert(!cdt_ratelog_allow(&r, t0 + I + 10, NULL));
    ck_assert(cdt_ratelog_allow(&r, t0 + 5 * I, &quiet));
    ck_assert_uint_eq(quiet, 1);
    ck_assert(cdt_ratelog_allow(&r, t0 + 9 * I, &quiet));
    ck_assert_uint_eq(quiet, 0);
    /* a first line at time 0 still counts as a line */
    cdt_ratelog_t z = {0};
    ck_assert(cdt_ratelog_allow(&z, 0, NULL));
    ck_assert(!cdt_ratelog_allow(&z, 1, NULL));
}
END_TEST

Suite *
cdt_ratelog_suite(void)
{
    Suite *s = suite_create("cdt_ratelog");
    TCase *tc = tcase_create("allow");
    tcase_add_test(tc, test_ratelog_once_per_interval);
    suite_add_tcase(s, tc);
    return s;
}
