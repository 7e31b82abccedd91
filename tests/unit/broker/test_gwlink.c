/*
 * test_gwlink - the gateway link driven step by step on this thread: a
 * real ROUTER on inproc://, DEALERs as gateways, gwlink_on_readable called
 * when the poller says so. Covers what the whole-broker test cannot reach
 * from outside: KICK, gateway restarts and reconnections, messages from
 * unknown gateways, sends to a gateway that left, hostile frames, and the
 * per-gateway figures of the stats answer.
 *
 * SPDX-License-Identifier: MIT
 */
#include "broker/gwlink.h"

#include "common/cdt_buf.h"
#include "common/cdt_config.h"
#include "common/cdt_log.h"
#include "proto/cdt_link.h"
#include "tests/unit/broker/linkrx.h"

#include <check.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Suite *gwlink_suite(void);

#define INCARNATION 1000
#define TIMEOUT_MS  5000
#define MAX_FRAME   4096

typedef struct fx {
    cdt_config_t cfg;
    cdt_catalog_t *cat;
    keys_t *keys;
    groups_t *groups;
    tasks_t *tasks;
    router_t *router;
    gwlink_t *link;
    char ep[64];
    int64_t now;
} fx_t;

static int
s_send(void *arg, uint32_t gw, const void *frame, size_t len)
{
    fx_t *f = arg;
    return gwlink_send(f->link, gw, frame, len);
}

static void
s_setup(fx_t *f)
{
    static int counter;
    char err[256];
    memset(f, 0, sizeof *f);
    cdt_log_set_level(CDT_LOG_ERROR);
    cdt_config_init(&f->cfg);
    ck_assert(cdt_config_load(&f->cfg, "etc/conduit.yaml", err, sizeof err) ==
              0);
    f->cat = cdt_catalog_load("etc/hubs.yaml", err, sizeof err);
    ck_assert_ptr_nonnull(f->cat);
    f->keys = keys_new();
    ck_assert_int_eq(keys_load_config(f->keys, &f->cfg), 0);
    f->groups = groups_new(f->cat->n_hubs);
    f->router = router_new(f->cat, f->groups, s_send, f);
    f->tasks = tasks_new(100, 100000, router_emit, f->router);
    gwlink_ctx_t ctx = {.catalog = f->cat,
                        .keys = f->keys,
                        .groups = f->groups,
                        .tasks = f->tasks,
                        .router = f->router,
                        .incarnation = INCARNATION,
                        .heartbeat_ms = 1000,
                        .timeout_ms = TIMEOUT_MS,
                        .max_conns_per_key = 100,
                        .max_conns_total = 1000,
                        .max_frame_bytes = MAX_FRAME};
    snprintf(f->ep, sizeof f->ep, "inproc://d-gwlink-%d", ++counter);
    f->link = gwlink_new(f->ep, &ctx);
    ck_assert_ptr_nonnull(f->link);
    f->now = 1;
}

static void
s_teardown(fx_t *f)
{
    gwlink_destroy(&f->link);
    tasks_destroy(&f->tasks);
    router_destroy(&f->router);
    groups_destroy(&f->groups);
    keys_destroy(&f->keys);
    cdt_catalog_destroy(&f->cat);
    cdt_config_release(&f->cfg);
}

/* Lets gwlink handle whatever arrives within a short while. */
static void
s_pump(fx_t *f)
{
    zpoller_t *p = zpoller_new(gwlink_sock(f->link), NULL);
    while (zpoller_wait(p, 50))
        gwlink_on_readable(f->link, f->now);
    zpoller_destroy(&p);
}

typedef struct gw {
    zsock_t *sock;
    zframe_t *frame; /* the last received, which msg borrows from */
    size_t off;      /* where the frame's next message starts */
    msgpack_zone zone;
    cdt_link_msg_t msg;
} gw_t;

static void
s_gw_open(gw_t *g, fx_t *f, const char *routing_id)
{
    memset(g, 0, sizeof *g);
    msgpack_zone_init(&g->zone, 1024);
    g->sock = zsock_new(ZMQ_DEALER);
    if (routing_id)
        zsock_set_identity(g->sock, routing_id);
    ck_assert_int_eq(zsock_connect(g->sock, "%s", f->ep), 0);
}

static void
s_gw_close(gw_t *g)
{
    zframe_destroy(&g->frame);
    msgpack_zone_destroy(&g->zone);
    zsock_destroy(&g->sock);
}

static void
s_gw_send(fx_t *f, gw_t *g, cdt_buf_t *out)
{
    ck_assert_int_eq(zmq_send(zsock_resolve(g->sock), out->data, out->len, 0),
                     (int)out->len);
    cdt_buf_reset(out);
    s_pump(f);
}

static bool
s_gw_recv(gw_t *g, int timeout_ms)
{
    return linkrx_next(g->sock, &g->frame, &g->off, &g->zone, &g->msg,
                       timeout_ms);
}

static void
s_expect(gw_t *g, enum cdt_link_kind kind)
{
    ck_assert_msg(s_gw_recv(g, 2000), "no %s", cdt_link_kind_name(kind));
    ck_assert_msg(g->msg.kind == kind, "got %s, expected %s",
                  cdt_link_kind_name(g->msg.kind), cdt_link_kind_name(kind));
}

static uint64_t
s_hello(fx_t *f, gw_t *g, const char *name, uint64_t inc)
{
    cdt_buf_t out = CDT_BUF_INIT;
    cdt_link_encode_hello(&out, name, inc, CDT_LINK_VERSION);
    s_gw_send(f, g, &out);
    cdt_buf_release(&out);
    s_expect(g, CDT_LINK_WELCOME);
    return g->msg.incarnation;
}

static uint32_t
s_open(fx_t *f, gw_t *g, uint64_t conn, const char *hub, int64_t key)
{
    cdt_buf_t out = CDT_BUF_INIT;
    cdt_link_encode_conn_open(&out, conn, hub, key, false, false, NULL, 0);
    s_gw_send(f, g, &out);
    cdt_buf_release(&out);
    s_expect(g, CDT_LINK_CONN_READY);
    return g->msg.status;
}

/* Every gateway of one broker gets the same token secret, so a token one
 * signs verifies on the other; another broker (a restart) draws another. */
START_TEST(test_gwlink_welcome_shares_one_token_secret)
{
    fx_t f;
    s_setup(&f);
    gw_t a, b;
    s_gw_open(&a, &f, NULL);
    s_gw_open(&b, &f, NULL);
    uint8_t first[CDT_LINK_SECRET_LEN];
    s_hello(&f, &a, "a", 1);
    ck_assert_uint_eq(a.msg.secret.len, CDT_LINK_SECRET_LEN);
    memcpy(first, a.msg.secret.ptr, sizeof first);
    s_hello(&f, &b, "b", 2);
    ck_assert_uint_eq(b.msg.secret.len, CDT_LINK_SECRET_LEN);
    ck_assert_mem_eq(b.msg.secret.ptr, first, sizeof first);
    static const uint8_t zero[CDT_LINK_SECRET_LEN];
    ck_assert(memcmp(first, zero, sizeof zero) != 0);
    s_gw_close(&a);
    s_gw_close(&b);
    s_teardown(&f);
}
END_TEST

START_TEST(test_gwlink_kick_reaches_every_gateway_and_drops_the_key)
{
    fx_t f;
    s_setup(&f);
    gw_t a, b;
    s_gw_open(&a, &f, NULL);
    s_gw_open(&b, &f, NULL);
    s_hello(&f, &a, "a", 1);
    s_hello(&f, &b, "b", 2);
    ck_assert_uint_eq(gwlink_n_gateways(f.link), 2);
    ck_assert_uint_eq(s_open(&f, &a, 1, "TaskHub", 1), 0);
    ck_assert_uint_eq(s_open(&f, &a, 2, "TaskHub", 2), 0);
    ck_assert_uint_eq(s_open(&f, &b, 1, "SpendNotificationHub", 1), 0);
    ck_assert_uint_eq(groups_key_conns(f.groups, 1), 2);

    ck_assert_uint_eq(gwlink_kick(f.link, 1, "key disabled"), 2);
    gwlink_flush(f.link); /* queued like everything else */
    s_expect(&a, CDT_LINK_KICK);
    ck_assert_int_eq(a.msg.key_id, 1);
    ck_assert_uint_eq(a.msg.reason.len, 12);
    ck_assert_int_eq(memcmp(a.msg.reason.ptr, "key disabled", 12), 0);
    s_expect(&b, CDT_LINK_KICK);
    ck_assert_uint_eq(groups_key_conns(f.groups, 1), 0);
    ck_assert_uint_eq(groups_key_conns(f.groups, 2), 1);
    ck_assert_uint_eq(groups_members(f.groups, 2, "vkey-1"), 0);

    /* the gateway's CONN_CLOSE for a kicked connection is harmless */
    cdt_buf_t out = CDT_BUF_INIT;
    cdt_link_encode_conn_close(&out, 1);
    s_gw_send(&f, &a, &out);
    ck_assert_uint_eq(gwlink_counters(f.link)->conns_closed, 0);
    ck_assert_uint_eq(groups_n_conns(f.groups), 1);
    cdt_buf_release(&out);
    s_gw_close(&a);
    s_gw_close(&b);
    s_teardown(&f);
}
END_TEST

START_TEST(test_gwlink_restarted_gateway_loses_its_connections)
{
    fx_t f;
    s_setup(&f);
    gw_t a;
    s_gw_open(&a, &f, "gw-fixed-id");
    uint64_t s1 = s_hello(&f, &a, "a", 1);
    ck_assert_uint_eq(s_open(&f, &a, 1, "TaskHub", 1), 0);
    /* the same incarnation again: nothing forgotten */
    ck_assert_uint_eq(s_hello(&f, &a, "a", 1), s1);
    ck_assert_uint_eq(groups_n_conns(f.groups), 1);
    /* a new incarnation on the same routing id: a restarted process */
    uint64_t s2 = s_hello(&f, &a, "a", 2);
    ck_assert_uint_ne(s2, s1);
    ck_assert_uint_eq(groups_n_conns(f.groups), 0);
    ck_assert_uint_eq(gwlink_n_gateways(f.link), 1);
    s_gw_close(&a);
    s_teardown(&f);
}
END_TEST

START_TEST(test_gwlink_reconnected_gateway_replaces_its_old_record)
{
    fx_t f;
    s_setup(&f);
    gw_t a, a2;
    s_gw_open(&a, &f, NULL);
    uint64_t s1 = s_hello(&f, &a, "a", 7);
    ck_assert_uint_eq(s_open(&f, &a, 1, "TaskHub", 1), 0);
    /* same process (name, incarnation) under a new routing id */
    s_gw_open(&a2, &f, NULL);
    uint64_t s2 = s_hello(&f, &a2, "a", 7);
    ck_assert_uint_ne(s2, s1); /* so that it replays */
    ck_assert_uint_eq(gwlink_n_gateways(f.link), 1);
    ck_assert_uint_eq(groups_n_conns(f.groups), 0);
    s_gw_close(&a);
    s_gw_close(&a2);
    s_teardown(&f);
}
END_TEST

START_TEST(test_gwlink_unknown_gateway_is_told_to_say_hello)
{
    fx_t f;
    s_setup(&f);
    gw_t a;
    s_gw_open(&a, &f, NULL);
    cdt_buf_t out = CDT_BUF_INIT;
    cdt_link_encode_conn_open(&out, 5, "TaskHub", 1, false, false, NULL, 0);
    s_gw_send(&f, &a, &out);
    s_expect(&a, CDT_LINK_PONG);
    ck_assert_uint_eq(a.msg.incarnation, INCARNATION + 1);
    s_expect(&a, CDT_LINK_CONN_READY);
    ck_assert_uint_eq(a.msg.status, 503);
    cdt_link_encode_invoke(&out, 3, 5, "SubscribeToTask", 15, "\x91\xa1x", 3);
    s_gw_send(&f, &a, &out);
    s_expect(&a, CDT_LINK_PONG);
    s_expect(&a, CDT_LINK_INVOKE_REP);
    ck_assert(!a.msg.ok);
    /* AUTH needs no registration */
    const char *tok = "condt_demotenanta0000000000000000000001";
    cdt_link_encode_auth(&out, 4, "TaskHub", tok, strlen(tok), "peer");
    s_gw_send(&f, &a, &out);
    s_expect(&a, CDT_LINK_AUTH_REP);
    ck_assert_uint_eq(a.msg.status, 200);
    ck_assert_uint_eq(groups_n_conns(f.groups), 0);
    /* an admitted gateway's INVOKE for a connection it never opened */
    s_hello(&f, &a, "a", 1);
    cdt_link_encode_invoke(&out, 6, 99, "SubscribeToTask", 15, "\x91\xa1x", 3);
    s_gw_send(&f, &a, &out);
    s_expect(&a, CDT_LINK_INVOKE_REP);
    ck_assert(!a.msg.ok);
    const char *want = "An unexpected error occurred invoking "
                       "'SubscribeToTask' on the server.";
    ck_assert_uint_eq(a.msg.reason.len, strlen(want));
    ck_assert_int_eq(memcmp(a.msg.reason.ptr, want, strlen(want)), 0);
    cdt_buf_release(&out);
    s_gw_close(&a);
    s_teardown(&f);
}
END_TEST

/* A gateway of another link version gets no WELCOME, whether it says
 * so (version 3) or is older than the field (a three-element HELLO);
 * each is counted, and a gateway of this version is welcome after. */
START_TEST(test_gwlink_other_link_version_refused)
{
    fx_t f;
    s_setup(&f);
    gw_t a;
    s_gw_open(&a, &f, NULL);
    cdt_buf_t out = CDT_BUF_INIT;
    cdt_link_encode_hello(&out, "newer", 1, CDT_LINK_VERSION + 1);
    s_gw_send(&f, &a, &out);
    ck_assert(!s_gw_recv(&a, 200));
    msgpack_packer pk; /* [1, "older", 2]: before HELLO had a version */
    msgpack_packer_init(&pk, &out, cdt_buf_msgpack_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint32(&pk, CDT_LINK_HELLO);
    msgpack_pack_str_with_body(&pk, "older", 5);
    msgpack_pack_uint64(&pk, 2);
    s_gw_send(&f, &a, &out);
    ck_assert(!s_gw_recv(&a, 200));
    ck_assert_uint_eq(gwlink_counters(f.link)->version_refused, 2);
    ck_assert_uint_eq(gwlink_counters(f.link)->garbage, 0);
    ck_assert_uint_eq(gwlink_n_gateways(f.link), 0);
    s_hello(&f, &a, "current", 3);
    ck_assert_uint_eq(gwlink_n_gateways(f.link), 1);
    cdt_buf_release(&out);
    s_gw_close(&a);
    s_teardown(&f);
}
END_TEST

START_TEST(test_gwlink_timeout_and_departed_gateway)
{
    fx_t f;
    s_setup(&f);
    gw_t a, b;
    s_gw_open(&a, &f, NULL);
    s_gw_open(&b, &f, NULL);
    s_hello(&f, &a, "a", 1);
    s_hello(&f, &b, "b", 1);
    ck_assert_uint_eq(s_open(&f, &a, 1, "TaskHub", 1), 0);
    ck_assert_uint_eq(s_open(&f, &b, 1, "TaskHub", 2), 0);

    /* b keeps talking, a goes silent */
    f.now += TIMEOUT_MS - 1;
    cdt_buf_t out = CDT_BUF_INIT;
    cdt_link_encode_ping(&out, 1);
    s_gw_send(&f, &b, &out);
    s_expect(&b, CDT_LINK_PONG);
    gwlink_check_timeouts(f.link, f.now);
    ck_assert_uint_eq(gwlink_n_gateways(f.link), 2);
    f.now += 1;
    gwlink_check_timeouts(f.link, f.now);
    ck_assert_uint_eq(gwlink_n_gateways(f.link), 1);
    ck_assert_uint_eq(groups_n_conns(f.groups), 1);
    ck_assert_uint_eq(groups_key_conns(f.groups, 1), 0);
    ck_assert_uint_eq(gwlink_counters(f.link)->gateways_timed_out, 1);

    /* a gateway that left: the batches sent to it fail and are counted
     * (per message), in bounded tries while ZeroMQ notices the departure */
    s_gw_close(&b);
    for (int i = 0; i < 100 && gwlink_counters(f.link)->send_errors == 0; i++) {
        ck_assert_int_eq(gwlink_send(f.link, 1, "\x91\x04", 2), 0);
        ck_assert_int_eq(gwlink_send(f.link, 1, "\x91\x04", 2), 0);
        gwlink_flush(f.link);
        s_pump(&f); /* a bounded wait on the link's poller */
    }
    ck_assert_uint_ge(gwlink_counters(f.link)->send_errors, 2);
    ck_assert_int_eq(gwlink_send(f.link, 77, "x", 1), -1); /* no slot */
    cdt_buf_release(&out);
    s_gw_close(&a);
    s_teardown(&f);
}
END_TEST

START_TEST(test_gwlink_hostile_frames_are_counted_and_survived)
{
    fx_t f;
    s_setup(&f);
    gw_t a;
    s_gw_open(&a, &f, NULL);
    s_hello(&f, &a, "a", 1);
    void *s = zsock_resolve(a.sock);
    /* oversize (a well-formed INVOKE, just too large: its args alone
     * exceed the limit) */
    size_t n = MAX_FRAME + 1;
    uint8_t *big = calloc(1, n);
    cdt_buf_t out = CDT_BUF_INIT;
    cdt_link_encode_invoke(&out, 1, 1, "SubscribeToTask", 15, big,
                           n); /* the rest of the frame: envelope */
    ck_assert_uint_gt(out.len, MAX_FRAME);
    s_gw_send(&f, &a, &out);
    free(big);
    ck_assert_uint_eq(gwlink_counters(f.link)->oversize, 1);
    ck_assert(!s_gw_recv(&a, 100)); /* no answer to it */
    /* garbage, truncated, 4 G declared, empty, wrong shape, two frames */
    const char *bad[] = {"\xc1", "\x93\x01",     "\xdd\xff\xff\xff\xff",
                         "",     "\x92\x02\x01", "\x81\x01\x01"};
    size_t lens[] = {1, 2, 5, 0, 3, 3};
    for (size_t i = 0; i < 6; i++) {
        uint8_t *copy = malloc(lens[i] ? lens[i] : 1);
        memcpy(copy, bad[i], lens[i]);
        /* straight into the handler: exact-size buffers for ASan */
        gwlink_handle(f.link, (const uint8_t *)"rid", 3, copy, lens[i], f.now);
        free(copy);
    }
    zmq_send(s, "a", 1, ZMQ_SNDMORE);
    zmq_send(s, "b", 1, 0);
    s_pump(&f);
    ck_assert_uint_eq(gwlink_counters(f.link)->garbage, 1 + 6 + 1);
    /* the gateway is served as before */
    ck_assert_uint_eq(s_open(&f, &a, 1, "TaskHub", 1), 0);
    cdt_buf_release(&out);
    s_gw_close(&a);
    s_teardown(&f);
}
END_TEST

START_TEST(test_gwlink_gateway_info_counts_what_it_was_sent)
{
    fx_t f;
    s_setup(&f);
    gw_t a, b;
    s_gw_open(&a, &f, NULL);
    s_gw_open(&b, &f, NULL);
    s_hello(&f, &a, "a", 1);
    s_hello(&f, &b, "b", 1);
    ck_assert_uint_eq(s_open(&f, &a, 1, "TaskHub", 1), 0);
    ck_assert_uint_eq(s_open(&f, &a, 2, "TaskHub", 2), 0);
    ck_assert_int_eq(gwlink_send(f.link, 0, "\x91\x04", 2), 0);
    gwlink_gateway_info_t gi;
    ck_assert(gwlink_gateway_info(f.link, 0, f.now + 5, &gi));
    ck_assert_str_eq(gi.name, "a");
    ck_assert_uint_eq(gi.connections, 2);
    ck_assert_uint_eq(gi.events, 1);
    ck_assert_uint_eq(gi.sends, 1 + 2 + 1); /* WELCOME, 2 CONN_READY, one */
    ck_assert_int_eq(gi.silent_ms, 5);
    ck_assert(gwlink_gateway_info(f.link, 1, f.now, &gi));
    ck_assert_str_eq(gi.name, "b");
    ck_assert_uint_eq(gi.connections, 0);
    ck_assert_uint_eq(gi.events, 0);
    ck_assert(!gwlink_gateway_info(f.link, 2, f.now, &gi));
    s_gw_close(&a);
    s_gw_close(&b);
    s_teardown(&f);
}
END_TEST

Suite *
gwlink_suite(void)
{
    Suite *s = suite_create("gwlink");
    TCase *tc = tcase_create("link");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_gwlink_welcome_shares_one_token_secret);
    tcase_add_test(tc,
                   test_gwlink_kick_reaches_every_gateway_and_drops_the_key);
    tcase_add_test(tc, test_gwlink_restarted_gateway_loses_its_connections);
    tcase_add_test(tc, test_gwlink_other_link_version_refused);
    tcase_add_test(tc, test_gwlink_reconnected_gateway_replaces_its_old_record);
    tcase_add_test(tc, test_gwlink_unknown_gateway_is_told_to_say_hello);
    tcase_add_test(tc, test_gwlink_timeout_and_departed_gateway);
    tcase_add_test(tc, test_gwlink_hostile_frames_are_counted_and_survived);
    tcase_add_test(tc, test_gwlink_gateway_info_counts_what_it_was_sent);
    suite_add_tcase(s, tc);
    return s;
}
