/*
 * test_tcpinfo - what TCP_INFO tells about a loopback connection: open
 * while the peer is, the bytes received, and closed or reset by the peer.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/tcpinfo.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

Suite *tcpinfo_suite(void);

/* A connected pair on an ephemeral loopback port: *a accepted, *b the
 * client. */
static void
s_pair(int *a, int *b)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(l, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(l, 1), 0);
    socklen_t len = sizeof sa;
    ck_assert_int_eq(getsockname(l, (struct sockaddr *)&sa, &len), 0);
    *b = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(*b, 0);
    ck_assert_int_eq(connect(*b, (struct sockaddr *)&sa, sizeof sa), 0);
    *a = accept(l, NULL, NULL);
    ck_assert_int_ge(*a, 0);
    close(l);
}

/* Waits (bounded) until fd is readable: the peer's data or FIN is in. */
static void
s_wait_readable(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    ck_assert_int_eq(poll(&p, 1, 2000), 1);
}

START_TEST(test_tcpinfo_open_and_bytes_received)
{
    int a, b;
    s_pair(&a, &b);
    tcpinfo_t ti;
    ck_assert_int_eq(tcpinfo_get(a, &ti), 0);
    ck_assert(ti.peer_open);
    ck_assert_uint_eq(ti.received, 0);
    ck_assert_int_eq(write(b, "hello", 5), 5);
    s_wait_readable(a);
    ck_assert_int_eq(tcpinfo_get(a, &ti), 0);
    ck_assert(ti.peer_open);
    ck_assert_uint_eq(ti.received, 5);
    close(a);
    close(b);
}
END_TEST

START_TEST(test_tcpinfo_our_shutdown_keeps_peer_open)
{
    /* lws shuts down its side before calling CLOSED on a close it chose */
    int a, b;
    s_pair(&a, &b);
    ck_assert_int_eq(shutdown(a, SHUT_WR), 0);
    s_wait_readable(b);
    tcpinfo_t ti;
    ck_assert_int_eq(tcpinfo_get(a, &ti), 0);
    ck_assert(ti.peer_open);
    close(a);
    close(b);
}
END_TEST

START_TEST(test_tcpinfo_peer_closed_or_reset)
{
    int a, b;
    s_pair(&a, &b);
    close(b);
    s_wait_readable(a);
    tcpinfo_t ti;
    ck_assert_int_eq(tcpinfo_get(a, &ti), 0);
    ck_assert(!ti.peer_open);
    close(a);

    s_pair(&a, &b);
    struct linger lg = {1, 0}; /* close with RST */
    ck_assert_int_eq(setsockopt(b, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(b);
    s_wait_readable(a);
    ck_assert_int_eq(tcpinfo_get(a, &ti), 0);
    ck_assert(!ti.peer_open);
    close(a);
}
END_TEST

START_TEST(test_tcpinfo_not_a_tcp_socket)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    tcpinfo_t ti = {true, 7};
    ck_assert_int_eq(tcpinfo_get(p[0], &ti), -1);
    ck_assert(!ti.peer_open);
    ck_assert_uint_eq(ti.received, 0);
    ck_assert_int_eq(tcpinfo_get(-1, &ti), -1);
    close(p[0]);
    close(p[1]);
}
END_TEST

Suite *
tcpinfo_suite(void)
{
    Suite *s = suite_create("tcpinfo");
    TCase *tc = tcase_create("state");
    tcase_add_test(tc, test_tcpinfo_open_and_bytes_received);
    tcase_add_test(tc, test_tcpinfo_our_shutdown_keeps_peer_open);
    tcase_add_test(tc, test_tcpinfo_peer_closed_or_reset);
    tcase_add_test(tc, test_tcpinfo_not_a_tcp_socket);
    suite_add_tcase(s, tc);
    return s;
}
