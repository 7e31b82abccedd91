/*
 * test_curve - CurveZMQ on a broker socket: the settings check, and a real
 * ROUTER secured by curve_secure on an ephemeral loopback port with three
 * clients (a listed key, an unlisted key, no CurveZMQ). Only the listed
 * client's message arrives; the others' handshakes are counted as
 * refusals of the right kind.
 *
 * zauth binds the process's single ZAP endpoint, so each test creates at
 * most one curve_t and destroys it before it ends.
 *
 * SPDX-License-Identifier: MIT
 */
#include "broker/curve.h"

#include "common/cdt_log.h"
#include "common/cdt_mem.h"
#include "tests/unit/broker/tmpdir.h"

#include <check.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

Suite *curve_suite(void);

/* A scratch directory with a broker certificate (broker, broker_secret),
 * a client pair (client, client_secret) whose public half is also in
 * clients/, and a stranger pair not listed anywhere. */
typedef struct certs {
    char *dir;
    char broker[512], client[512], stranger[512], clients[512];
} certs_t;

static void
s_save(const char *path)
{
    zcert_t *c = zcert_new();
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(zcert_save(c, path), 0);
    zcert_destroy(&c);
}

static void
s_certs(certs_t *c)
{
    memset(c, 0, sizeof *c);
    cdt_log_set_level(CDT_LOG_ERROR);
    c->dir = tmpdir_new();
    snprintf(c->broker, sizeof c->broker, "%s/broker", c->dir);
    snprintf(c->client, sizeof c->client, "%s/client", c->dir);
    snprintf(c->stranger, sizeof c->stranger, "%s/stranger", c->dir);
    snprintf(c->clients, sizeof c->clients, "%s/clients", c->dir);
    s_save(c->broker);
    s_save(c->client);
    s_save(c->stranger);
    ck_assert_int_eq(mkdir(c->clients, 0700), 0);
    zcert_t *pub = zcert_load(c->client);
    char path[600];
    snprintf(path, sizeof path, "%s/client", c->clients);
    ck_assert_int_eq(zcert_save_public(pub, path), 0);
    zcert_destroy(&pub);
}

static void
s_certs_release(certs_t *c)
{
    tmpdir_remove(&c->dir);
}

START_TEST(test_curve_check_refuses_bad_settings)
{
    certs_t c;
    s_certs(&c);
    char path[600];
    ck_assert_int_eq(curve_check(c.broker, c.clients), 0);
    snprintf(path, sizeof path, "%s_secret", c.broker);
    ck_assert_int_eq(curve_check(path, c.clients), 0);
    /* a public certificate alone cannot serve */
    snprintf(path, sizeof path, "%s/client", c.clients);
    ck_assert_int_eq(curve_check(path, c.clients), -1);
    snprintf(path, sizeof path, "%s/missing", c.dir);
    ck_assert_int_eq(curve_check(path, c.clients), -1);
    ck_assert_int_eq(curve_check("", c.clients), -1);
    /* the clients directory must be one */
    ck_assert_int_eq(curve_check(c.broker, path), -1);
    ck_assert_int_eq(curve_check(c.broker, c.broker), -1);
    ck_assert_int_eq(curve_check(c.broker, ""), -1);
    /* not a certificate */
    snprintf(path, sizeof path, "%s/junk", c.dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("hello\n", f);
    fclose(f);
    ck_assert_int_eq(curve_check(path, c.clients), -1);
    ck_assert_ptr_null(curve_new(path, c.clients));
    s_certs_release(&c);
}
END_TEST

/* A DEALER to endpoint: a CURVE client with own's keys, or plain. */
static zsock_t *
s_client(const char *endpoint, const char *own, const char *server_pub)
{
    zsock_t *d = zsock_new(ZMQ_DEALER);
    ck_assert_ptr_nonnull(d);
    zsock_set_linger(d, 0);
    if (own) {
        zcert_t *mine = zcert_load(own);
        ck_assert_ptr_nonnull(mine);
        zcert_apply(mine, d);
        zsock_set_curve_serverkey(d, server_pub);
        zcert_destroy(&mine);
    }
    ck_assert_int_eq(zsock_connect(d, "%s", endpoint), 0);
    return d;
}

START_TEST(test_curve_admits_listed_keys_and_counts_refusals)
{
    certs_t c;
    s_certs(&c);
    curve_t *curve = curve_new(c.broker, c.clients);
    ck_assert_ptr_nonnull(curve);
    ck_assert_uint_eq(strlen(curve_public_txt(curve)), 40);
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    ck_assert_ptr_nonnull(router);
    zsock_set_linger(router, 0);
    ck_assert_int_eq(curve_secure(curve, router, "test"), 0);
    int port = zsock_bind(router, "tcp://127.0.0.1:*");
    ck_assert_int_gt(port, 0);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    ck_assert_uint_eq(curve_n_endpoints(curve), 1);
    ck_assert_str_eq(curve_endpoint_name(curve, 0), "test");

    const char *server = curve_public_txt(curve);
    zsock_t *good = s_client(ep, c.client, server);
    zsock_t *bad = s_client(ep, c.stranger, server);
    zsock_t *plain = s_client(ep, NULL, NULL);
    zstr_send(good, "from-good");
    zstr_send(bad, "from-stranger");
    zstr_send(plain, "from-plain");

    const curve_counters_t *k = curve_endpoint_counters(curve, 0);
    int got = 0;
    zpoller_t *p = zpoller_new(router, NULL);
    for (int i = 0;
         i < 300 && !(got && k->handshakes >= 1 && k->auth_failures >= 1 &&
                      k->protocol_failures >= 1);
         i++) {
        if (zpoller_wait(p, 10)) {
            zmsg_t *m = zmsg_recv(router);
            ck_assert_ptr_nonnull(m);
            ck_assert_uint_eq(zmsg_size(m), 2);
            char *body = zframe_strdup(zmsg_last(m));
            ck_assert_str_eq(body, "from-good");
            free(body);
            zmsg_destroy(&m);
            got++;
        }
        curve_poll(curve, i);
    }
    ck_assert_int_eq(got, 1);
    ck_assert_uint_ge(k->handshakes, 1);
    ck_assert_uint_ge(k->auth_failures, 1);
    ck_assert_uint_ge(k->protocol_failures, 1);
    curve_counters_t t;
    curve_totals(curve, &t);
    ck_assert_uint_eq(t.auth_failures, k->auth_failures);
    curve_totals(NULL, &t);
    ck_assert_uint_eq(t.handshakes, 0);

    zpoller_destroy(&p);
    zsock_destroy(&good);
    zsock_destroy(&bad);
    zsock_destroy(&plain);
    zsock_destroy(&router);
    curve_destroy(&curve);
    ck_assert_ptr_null(curve);
    s_certs_release(&c);
}
END_TEST

Suite *
curve_suite(void)
{
    Suite *s = suite_create("curve");
    TCase *tc = tcase_create("curve");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_curve_check_refuses_bad_settings);
    tcase_add_test(tc, test_curve_admits_listed_keys_and_counts_refusals);
    suite_add_tcase(s, tc);
    return s;
}
