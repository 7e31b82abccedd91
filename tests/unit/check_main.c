/*
 * check_main - the runner of one component's Check suites.
 *
 * The Makefile builds one runner per directory tests/unit/<component>/ and
 * generates SUITES_H, a list of X(name_suite) lines taken from the suite
 * constructors defined there. CK_RUN_SUITE and CK_FORK work as in Check.
 * Exits non-zero on any failure.
 *
 * SPDX-License-Identifier: MIT
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#define X(name) Suite *name(void);
#include SUITES_H
#undef X

int
main(void)
{
    SRunner *sr = srunner_create(NULL);
#define X(name) srunner_add_suite(sr, name());
#include SUITES_H
#undef X
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    printf("%s: %s\n", COMPONENT, failed ? "FAILED" : "ok");
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
