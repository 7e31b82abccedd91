/*
 * test_negotiate - negotiateVersion selection and the response bodies
 * (SIGNALR.md §1).
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/negotiate.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

Suite *negotiate_suite(void);

static int
s_version(const char *v, char *err)
{
    int version = -99;
    err[0] = '\0';
    if (negotiate_version(v, &version, err, 256) != 0)
        return -1;
    return version;
}

START_TEST(test_negotiate_version_selection)
{
    char err[256];
    ck_assert_int_eq(s_version(NULL, err), 0); /* absent = 0 */
    ck_assert_int_eq(s_version("0", err), 0);
    ck_assert_int_eq(s_version("1", err), 1);
    ck_assert_int_eq(s_version("2", err), 1); /* above ours: ours */
    ck_assert_int_eq(s_version("2147483647", err), 1);
    ck_assert_int_eq(s_version(" +1 ", err), 1);
}
END_TEST

START_TEST(test_negotiate_version_errors_use_the_dotnet_texts)
{
    char err[256];
    ck_assert_int_eq(s_version("abc", err), -1);
    ck_assert_str_eq(err,
                     "The client requested a non-integer protocol version.");
    ck_assert_int_eq(s_version("", err), -1);
    ck_assert_str_eq(err,
                     "The client requested a non-integer protocol version.");
    ck_assert_int_eq(s_version("1.0", err), -1);
    ck_assert_int_eq(s_version("2147483648", err), -1); /* not an Int32 */
    ck_assert_str_eq(err,
                     "The client requested a non-integer protocol version.");
    ck_assert_int_eq(s_version("-1", err), -1);
    ck_assert_str_eq(err, "The client requested version '-1', but the server "
                          "does not support this version.");
}
END_TEST

START_TEST(test_negotiate_response_v1_and_v0)
{
    cdt_buf_t b = CDT_BUF_INIT;
    negotiate_response(&b, 1, "CID", "TOK");
    ck_assert_str_eq(
        (char *)b.data,
        "{\"negotiateVersion\":1,\"connectionId\":\"CID\",\"connectionToken\":"
        "\"TOK\",\"availableTransports\":[{\"transport\":\"WebSockets\","
        "\"transferFormats\":[\"Text\",\"Binary\"]}]}");
    cdt_buf_reset(&b);
    negotiate_response(&b, 0, "CID", "TOK");
    ck_assert_str_eq((char *)b.data,
                     "{\"negotiateVersion\":0,\"connectionId\":\"CID\","
                     "\"availableTransports\":[{\"transport\":\"WebSockets\","
                     "\"transferFormats\":[\"Text\",\"Binary\"]}]}");
    ck_assert_ptr_null(strstr((char *)b.data, "ProtocolVersion"));
    ck_assert_ptr_null(strstr((char *)b.data, "useStatefulReconnect"));
    cdt_buf_reset(&b);
    negotiate_error(&b, "bad \"v\"");
    ck_assert_str_eq((char *)b.data, "{\"error\":\"bad \\\"v\\\"\"}");
    cdt_buf_release(&b);
}
END_TEST

Suite *
negotiate_suite(void)
{
    Suite *s = suite_create("negotiate");
    TCase *tc = tcase_create("negotiate");
    tcase_add_test(tc, test_negotiate_version_selection);
    tcase_add_test(tc, test_negotiate_version_errors_use_the_dotnet_texts);
    tcase_add_test(tc, test_negotiate_response_v1_and_v0);
    suite_add_tcase(s, tc);
    return s;
}
