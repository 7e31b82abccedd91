/*
 * test_httputil - credential extraction order, Bearer parsing, query
 * argument names, CORS origins, hub paths, static paths, listen address.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/httputil.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

Suite *httputil_suite(void);

static void
s_pick_eq(const httputil_creds_t *in, enum cred_source want_src,
          const char *want)
{
    const char *tok;
    size_t len;
    enum cred_source src = httputil_pick_credential(in, &tok, &len);
    ck_assert_int_eq(src, want_src);
    if (want) {
        ck_assert_uint_eq(len, strlen(want));
        ck_assert_int_eq(memcmp(tok, want, len), 0);
    } else {
        ck_assert_ptr_null(tok);
        ck_assert_uint_eq(len, 0);
    }
}

START_TEST(test_httputil_credential_order)
{
    httputil_creds_t all = {"q", "Bearer b", "h", "k"};
    s_pick_eq(&all, CRED_ACCESS_TOKEN_QUERY, "q");
    httputil_creds_t no_q = {NULL, "Bearer b", "h", "k"};
    s_pick_eq(&no_q, CRED_BEARER, "b");
    httputil_creds_t basic = {NULL, "Basic Zm9v", "h", "k"};
    s_pick_eq(&basic, CRED_API_KEY_HEADER, "h");
    httputil_creds_t only_k = {"", NULL, "", "k"};
    s_pick_eq(&only_k, CRED_API_KEY_QUERY, "k");
    httputil_creds_t none = {"", "Bearer ", "", ""};
    s_pick_eq(&none, CRED_NONE, NULL);
    httputil_creds_t nulls = {NULL, NULL, NULL, NULL};
    s_pick_eq(&nulls, CRED_NONE, NULL);
}
END_TEST

START_TEST(test_httputil_bearer)
{
    const char *tok;
    size_t len;
    ck_assert(httputil_bearer("Bearer abc.def", &tok, &len));
    ck_assert_uint_eq(len, 7);
    ck_assert_int_eq(memcmp(tok, "abc.def", 7), 0);
    ck_assert(httputil_bearer("  bearer \t x  ", &tok, &len));
    ck_assert_uint_eq(len, 1);
    ck_assert_int_eq(*tok, 'x');
    ck_assert(!httputil_bearer("Bearer", &tok, &len));
    ck_assert(!httputil_bearer("Bearer   ", &tok, &len));
    ck_assert(!httputil_bearer("Bearerx abc", &tok, &len));
    ck_assert(!httputil_bearer("Basic abc", &tok, &len));
    ck_assert(!httputil_bearer("", &tok, &len));
}
END_TEST

START_TEST(test_httputil_arg_match)
{
    const char *v;
    ck_assert(httputil_arg_match("access_token=a+b c&d=e", "access_token", &v));
    ck_assert_str_eq(v, "a+b c&d=e"); /* lws decoded it: taken verbatim */
    ck_assert(httputil_arg_match("NegotiateVersion=1", "negotiateVersion", &v));
    ck_assert_str_eq(v, "1");
    ck_assert(httputil_arg_match("id=", "id", &v));
    ck_assert_str_eq(v, "");
    ck_assert(!httputil_arg_match("idx=1", "id", &v));
    ck_assert(!httputil_arg_match("id", "id", &v));
    ck_assert(!httputil_arg_match("i=1", "id", &v));
}
END_TEST

START_TEST(test_httputil_origins)
{
    char *any[] = {NULL};
    ck_assert(httputil_origin_allowed(NULL, "http://x"));
    ck_assert(httputil_origin_allowed(any, "http://x"));
    char o1[] = "https://app.example", o2[] = "http://localhost:3000";
    char *list[] = {o1, o2, NULL};
    ck_assert(httputil_origin_allowed(list, "https://app.example"));
    ck_assert(httputil_origin_allowed(list, "HTTPS://APP.EXAMPLE"));
    ck_assert(httputil_origin_allowed(list, "http://localhost:3000"));
    ck_assert(!httputil_origin_allowed(list, "https://app.example.evil"));
    ck_assert(!httputil_origin_allowed(list, "http://localhost:3001"));
    char o3[] = "*";
    char *star[] = {o3, NULL};
    ck_assert(httputil_origin_allowed(star, "http://anything"));
    ck_assert(httputil_header_list_ok("x-requested-with, Authorization"));
    ck_assert(httputil_header_list_ok(""));
    ck_assert(!httputil_header_list_ok("a\r\nset-cookie: x"));
    ck_assert(!httputil_header_list_ok("a;b"));
}
END_TEST

static void
s_hub_eq(const char *uri, size_t want_len, bool want_neg)
{
    size_t n;
    bool neg;
    httputil_hub_path(uri, strlen(uri), &n, &neg);
    ck_assert_uint_eq(n, want_len);
    ck_assert(neg == want_neg);
}

START_TEST(test_httputil_hub_paths)
{
    s_hub_eq("/hubs/tasks", 11, false);
    s_hub_eq("/hubs/tasks/", 11, false);
    s_hub_eq("/hubs/tasks/negotiate", 11, true);
    s_hub_eq("/hubs/tasks//negotiate", 11, true);
    s_hub_eq("/negotiate", 0, true);
    s_hub_eq("/", 1, false);
    s_hub_eq("/hubs/tasksnegotiate", 20, false);
}
END_TEST

START_TEST(test_httputil_static_paths_and_mime)
{
    ck_assert(httputil_static_path_ok("/"));
    ck_assert(httputil_static_path_ok("/index.html"));
    ck_assert(httputil_static_path_ok("/js/app.js"));
    ck_assert(!httputil_static_path_ok("/../etc/passwd"));
    ck_assert(!httputil_static_path_ok("/a/..%2f"));
    ck_assert(!httputil_static_path_ok("/a/../b"));
    ck_assert(!httputil_static_path_ok("/a\\b"));
    ck_assert(!httputil_static_path_ok("/a\nb"));
    ck_assert(!httputil_static_path_ok("a"));
    ck_assert_str_eq(httputil_mime("/x/index.HTML"),
                     "text/html; charset=utf-8");
    ck_assert_str_eq(httputil_mime("/app.js"),
                     "text/javascript; charset=utf-8");
    ck_assert_str_eq(httputil_mime("/x.y/readme"), "application/octet-stream");
    ck_assert_str_eq(httputil_mime("/noext"), "application/octet-stream");
}
END_TEST

START_TEST(test_httputil_listen)
{
    char host[64];
    int port;
    ck_assert_int_eq(
        httputil_parse_listen("127.0.0.1:5000", host, sizeof host, &port), 0);
    ck_assert_str_eq(host, "127.0.0.1");
    ck_assert_int_eq(port, 5000);
    ck_assert_int_eq(
        httputil_parse_listen("[::1]:80", host, sizeof host, &port), 0);
    ck_assert_str_eq(host, "::1");
    ck_assert_int_eq(port, 80);
    ck_assert_int_eq(
        httputil_parse_listen("0.0.0.0:65535", host, sizeof host, &port), 0);
    ck_assert_int_eq(httputil_parse_listen("host", host, sizeof host, &port),
                     -1);
    ck_assert_int_eq(httputil_parse_listen(":80", host, sizeof host, &port),
                     -1);
    ck_assert_int_eq(httputil_parse_listen("h:0", host, sizeof host, &port),
                     -1);
    ck_assert_int_eq(httputil_parse_listen("h:65536", host, sizeof host, &port),
                     -1);
    ck_assert_int_eq(httputil_parse_listen("h:80x", host, sizeof host, &port),
                     -1);
    ck_assert_int_eq(httputil_parse_listen("[::1]80", host, sizeof host, &port),
                     -1);
    ck_assert_int_eq(httputil_parse_listen("abcdef:1", host, 4, &port), -1);
}
END_TEST

Suite *
httputil_suite(void)
{
    Suite *s = suite_create("httputil");
    TCase *tc = tcase_create("auth");
    tcase_add_test(tc, test_httputil_credential_order);
    tcase_add_test(tc, test_httputil_bearer);
    tcase_add_test(tc, test_httputil_arg_match);
    suite_add_tcase(s, tc);
    TCase *tc2 = tcase_create("paths");
    tcase_add_test(tc2, test_httputil_origins);
    tcase_add_test(tc2, test_httputil_hub_paths);
    tcase_add_test(tc2, test_httputil_static_paths_and_mime);
    tcase_add_test(tc2, test_httputil_listen);
    suite_add_tcase(s, tc2);
    return s;
}
