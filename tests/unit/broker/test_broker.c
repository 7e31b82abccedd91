/*
 * test_broker - a whole broker in this process (broker_actor on its own
 * thread, inproc:// endpoints), spoken to as a gateway would (DEALER, link
 * protocol) and as conduit-pub would (DEALER on the acknowledged ingress,
 * [seq][map]), with the domain modules wired in: spend, provider
 * health, webhooks and run-time keys reach exactly the gateways that hold
 * their groups, a disabled key is kicked everywhere, and the store brings
 * tasks, keys and alert state back after a restart.
 *
 * The broker thread is joined (rather than run as a detached zactor) so
 * that its thread-local state, OpenSSL's included, is gone before the
 * test process exits and LeakSanitizer looks.
 *
 * SPDX-License-Identifier: MIT
 */
#include "broker/broker.h"

#include "common/cdt_auth.h"
#include "common/cdt_buf.h"
#include "common/cdt_log.h"
#include "proto/cdt_ingress.h"
#include "proto/cdt_link.h"
#include "tests/unit/broker/linkrx.h"
#include "tests/unit/broker/tmpdir.h"

#include <check.h>
#include <czmq.h>
#include <msgpack.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Suite *broker_suite(void);

#define TOKEN_A  "condt_demotenanta0000000000000000000001"
#define TOKEN_B  "condt_demotenantb0000000000000000000002"
#define TOKEN_M  "cdt_master_demo_0000000000000000000000"
#define TIMEOUT  2000
#define QUIET_MS 200

/* ---- fixture: one broker ------------------------------------------------ */

typedef struct brk {
    cdt_config_t cfg;
    broker_actor_args_t args;
    zsock_t *pipe;    /* ours */
    zsock_t *backend; /* the broker thread's end */
    pthread_t thread;
    char link[64], ingress[64], ack[64];
} brk_t;

static void *
s_thread(void *arg)
{
    brk_t *b = arg;
    broker_actor(b->backend, &b->args);
    return NULL;
}

static void
s_set(cdt_config_t *cfg, const char *fmt, ...)
{
    char kv[256], err[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(kv, sizeof kv, fmt, ap);
    va_end(ap);
    ck_assert_msg(cdt_config_set(cfg, kv, err, sizeof err) == 0, "%s: %s", kv,
                  err);
}

/* Starts a broker on endpoints named after tag; extra "key=value"
 * overrides follow (NULL-terminated). */
static void
s_start(brk_t *b, const char *tag, ...)
{
    static int counter;
    char err[256];
    memset(b, 0, sizeof *b);
    cdt_log_set_level(CDT_LOG_ERROR);
    cdt_config_init(&b->cfg);
    ck_assert_msg(
        cdt_config_load(&b->cfg, "etc/conduit.yaml", err, sizeof err) == 0,
        "%s", err);
    int n = ++counter;
    snprintf(b->link, sizeof b->link, "inproc://d-%s-%d-link", tag, n);
    snprintf(b->ingress, sizeof b->ingress, "inproc://d-%s-%d-in", tag, n);
    snprintf(b->ack, sizeof b->ack, "inproc://d-%s-%d-ack", tag, n);
    s_set(&b->cfg, "broker.gateway_link=%s", b->link);
    s_set(&b->cfg, "broker.ingress=%s", b->ingress);
    s_set(&b->cfg, "broker.ingress_ack=%s", b->ack);
    s_set(&b->cfg, "broker.store=\"\"");
    va_list ap;
    va_start(ap, tag);
    const char *kv;
    while ((kv = va_arg(ap, const char *)) != NULL)
        s_set(&b->cfg, "%s", kv);
    va_end(ap);
    b->args.cfg = &b->cfg;
    b->args.status = 1;
    b->pipe = zsys_create_pipe(&b->backend);
    ck_assert_ptr_nonnull(b->pipe);
    ck_assert_int_eq(pthread_create(&b->thread, NULL, s_thread, b), 0);
    ck_assert_int_eq(zsock_wait(b->pipe), 0);
    ck_assert_int_eq(b->args.status, 0);
}

static void
s_stop(brk_t *b)
{
    zstr_send(b->pipe, "$TERM");
    ck_assert_int_eq(pthread_join(b->thread, NULL), 0);
    zsock_destroy(&b->pipe);
    zsock_destroy(&b->backend);
    cdt_config_release(&b->cfg);
}

/* ---- the gateway side --------------------------------------------------- */

typedef struct gw {
    zsock_t *sock;
    zframe_t *frame; /* the last received, which msg borrows from */
    size_t off;      /* where the frame's next message starts */
    msgpack_zone zone;
    cdt_link_msg_t msg;
    uint64_t incarnation;
} gw_t;

static void
s_send_buf(zsock_t *sock, cdt_buf_t *buf)
{
    ck_assert_int_eq(zmq_send(zsock_resolve(sock), buf->data, buf->len, 0),
                     (int)buf->len);
    cdt_buf_reset(buf);
}

/* Receives one link message within timeout_ms: the next of the current
 * frame's batch, else the first of the next frame. True and g->msg set,
 * or false on timeout. */
static bool
s_recv(gw_t *g, int timeout_ms)
{
    return linkrx_next(g->sock, &g->frame, &g->off, &g->zone, &g->msg,
                       timeout_ms);
}

static void
s_expect(gw_t *g, enum cdt_link_kind kind)
{
    ck_assert_msg(s_recv(g, TIMEOUT), "no %s", cdt_link_kind_name(kind));
    ck_assert_msg(g->msg.kind == kind, "got %s, expected %s",
                  cdt_link_kind_name(g->msg.kind), cdt_link_kind_name(kind));
}

static void
s_gw_connect(gw_t *g, const brk_t *b, const char *name)
{
    memset(g, 0, sizeof *g);
    msgpack_zone_init(&g->zone, 1024);
    g->sock = zsock_new_dealer(b->link);
    ck_assert_ptr_nonnull(g->sock);
    cdt_buf_t out = CDT_BUF_INIT;
    cdt_link_encode_hello(&out, name, 1000 + (uint64_t)name[0],
                          CDT_LINK_VERSION);
    s_send_buf(g->sock, &out);
    cdt_buf_release(&out);
    s_expect(g, CDT_LINK_WELCOME);
    g->incarnation = g->msg.incarnation;
}

static void
s_gw_close(gw_t *g)
{
    zframe_destroy(&g->frame);
    msgpack_zone_destroy(&g->zone);
    zsock_destroy(&g->sock);
}

static bool
s_str_eq(cdt_str_t s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

static bool
s_str_has(cdt_str_t s, const char *needle)
{
    char *copy = strndup(s.ptr, s.len);
    bool found = strstr(copy, needle) != NULL;
    free(copy);
    return found;
}

static void
s_auth(gw_t *g, const char *hub, const char *token, uint32_t status)
{
    cdt_buf_t out = CDT_BUF_INIT;
    cdt_link_encode_auth(&out, 5, hub, token, strlen(token), "127.0.0.1");
    s_send_buf(g->sock, &out);
    cdt_buf_release(&out);
    s_expect(g, CDT_LINK_AUTH_REP);
    ck_assert_uint_eq(g->msg.req_id, 5);
    ck_assert_uint_eq(g->msg.status, status);
}

/* Opens conn_id on hub with key_id; returns the CONN_READY status. */
static uint32_t
s_open(gw_t *g, uint64_t conn_id, const char *hub, int64_t key_id, bool restore,
       const char *const *groups, size_t n)
{
    cdt_buf_t out = CDT_BUF_INIT;
    cdt_link_encode_conn_open(&out, conn_id, hub, key_id, key_id == 0, restore,
                              groups, n);
    s_send_buf(g->sock, &out);
    cdt_buf_release(&out);
    s_expect(g, CDT_LINK_CONN_READY);
    ck_assert_uint_eq(g->msg.conn_id, conn_id);
    return g->msg.status;
}

static bool
s_has_group(const cdt_strv_t *v, const char *name)
{
    for (size_t i = 0; i < v->n; i++)
        if (s_str_eq(cdt_strv_at(*v, i), name))
            return true;
    return false;
}

/* Sends INVOKE method with one string argument. */
static void
s_invoke_send(gw_t *g, uint64_t conn_id, const char *method, const char *arg)
{
    cdt_buf_t args = CDT_BUF_INIT, out = CDT_BUF_INIT;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &args, cdt_buf_msgpack_write);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_str(&pk, strlen(arg));
    msgpack_pack_str_body(&pk, arg, strlen(arg));
    cdt_link_encode_invoke(&out, 9, conn_id, method, strlen(method), args.data,
                           args.len);
    s_send_buf(g->sock, &out);
    cdt_buf_release(&out);
    cdt_buf_release(&args);
}

static void
s_expect_rep(gw_t *g, uint64_t conn_id)
{
    s_expect(g, CDT_LINK_INVOKE_REP);
    ck_assert_uint_eq(g->msg.req_id, 9);
    ck_assert_uint_eq(g->msg.conn_id, conn_id);
}

/* INVOKE and its INVOKE_REP. */
static void
s_invoke(gw_t *g, uint64_t conn_id, const char *method, const char *arg)
{
    s_invoke_send(g, conn_id, method, arg);
    s_expect_rep(g, conn_id);
}

/* ---- the publisher side ------------------------------------------------- */

typedef struct kvs {
    cdt_buf_t buf;
    msgpack_packer pk;
} kvs_t;

static void
s_kstr(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* A map of string pairs; a value starting with '#' is an int, "[x]" a
 * one-string array, "{k}" a one-pair map {k: 1}. */
static void
s_map(cdt_buf_t *out, int pairs, ...)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, cdt_buf_msgpack_write);
    msgpack_pack_map(&pk, (size_t)pairs);
    va_list ap;
    va_start(ap, pairs);
    for (int i = 0; i < pairs; i++) {
        s_kstr(&pk, va_arg(ap, const char *));
        const char *v = va_arg(ap, const char *);
        size_t len = strlen(v);
        if (v[0] == '#') {
            msgpack_pack_int64(&pk, atoll(v + 1));
        } else if (v[0] == '[' && v[len - 1] == ']') {
            msgpack_pack_array(&pk, 1);
            msgpack_pack_str(&pk, len - 2);
            msgpack_pack_str_body(&pk, v + 1, len - 2);
        } else if (v[0] == '{' && v[len - 1] == '}') {
            msgpack_pack_map(&pk, 1);
            msgpack_pack_str(&pk, len - 2);
            msgpack_pack_str_body(&pk, v + 1, len - 2);
            msgpack_pack_int64(&pk, 1);
        } else {
            s_kstr(&pk, v);
        }
    }
    va_end(ap);
}

/* Sends body on the acknowledged path; returns ok, error text in err. */
static bool
s_publish(zsock_t *pub, cdt_buf_t *body, char *err, size_t errlen)
{
    static uint64_t seq;
    seq++;
    void *s = zsock_resolve(pub);
    ck_assert_int_eq(zmq_send(s, &seq, 8, ZMQ_SNDMORE), 8);
    ck_assert_int_eq(zmq_send(s, body->data, body->len, 0), (int)body->len);
    cdt_buf_reset(body);
    zsock_set_rcvtimeo(pub, TIMEOUT);
    zmsg_t *reply = zmsg_recv(pub);
    ck_assert_ptr_nonnull(reply);
    ck_assert_uint_eq(zmsg_size(reply), 2);
    zframe_t *f = zmsg_first(reply);
    ck_assert_uint_eq(zframe_size(f), 8);
    ck_assert_int_eq(memcmp(zframe_data(f), &seq, 8), 0);
    f = zmsg_next(reply);
    bool ok = false;
    ck_assert_int_eq(cdt_ingress_decode_ack(zframe_data(f), zframe_size(f), &ok,
                                            err, errlen),
                     0);
    zmsg_destroy(&reply);
    return ok;
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(test_broker_hello_auth_and_conn_open)
{
    brk_t b;
    s_start(&b, "auth", NULL);
    gw_t g;
    s_gw_connect(&g, &b, "gw-a");
    ck_assert_uint_ne(g.incarnation, 0);
    ck_assert_uint_eq(g.msg.heartbeat_ms, 1000);
    ck_assert_uint_eq(g.msg.timeout_ms, 5000);

    cdt_buf_t out = CDT_BUF_INIT;
    cdt_link_encode_ping(&out, 1);
    s_send_buf(g.sock, &out);
    s_expect(&g, CDT_LINK_PONG);
    ck_assert_uint_eq(g.msg.incarnation, g.incarnation);

    s_auth(&g, "/hubs/tasks", TOKEN_A, 200);
    ck_assert_int_eq(g.msg.key_id, 1);
    ck_assert(!g.msg.admin);
    s_auth(&g, "TaskHub", TOKEN_B, 200);
    ck_assert_int_eq(g.msg.key_id, 2);
    s_auth(&g, "/hubs/tasks", "condt_wrong", 401);
    s_auth(&g, "/hubs/admin-notifications", TOKEN_A, 401);
    s_auth(&g, "/hubs/admin-notifications", TOKEN_M, 200);
    ck_assert_int_eq(g.msg.key_id, 0);
    ck_assert(g.msg.admin);
    s_auth(&g, "/hubs/tasks", TOKEN_M, 401);
    s_auth(&g, "/hubs/nope", TOKEN_A, 404);

    ck_assert_uint_eq(s_open(&g, 11, "TaskHub", 1, false, NULL, 0), 0);
    ck_assert_uint_eq(g.msg.groups.n, 1);
    ck_assert(s_has_group(&g.msg.groups, "vkey-1"));
    ck_assert_uint_eq(s_open(&g, 12, "/hubs/notifications", 2, false, NULL, 0),
                      0);
    ck_assert_uint_eq(g.msg.groups.n, 2);
    ck_assert(s_has_group(&g.msg.groups, "system-notifications"));
    ck_assert(s_has_group(&g.msg.groups, "vkey-2"));
    ck_assert_uint_eq(s_open(&g, 13, "AdminNotificationHub", 0, false, NULL, 0),
                      0);
    ck_assert(s_has_group(&g.msg.groups, "admin"));
    ck_assert_uint_eq(s_open(&g, 14, "TaskHub", 99, false, NULL, 0), 401);
    ck_assert_uint_eq(s_open(&g, 15, "AdminNotificationHub", 1, false, NULL, 0),
                      401);
    ck_assert_uint_eq(s_open(&g, 16, "Nope", 1, false, NULL, 0), 404);

    cdt_buf_release(&out);
    s_gw_close(&g);
    s_stop(&b);
}
END_TEST

START_TEST(test_broker_connection_caps)
{
    brk_t b;
    s_start(&b, "caps", "broker.max_conns_per_key=2",
            "broker.max_conns_total=3", NULL);
    gw_t g;
    s_gw_connect(&g, &b, "gw-a");
    ck_assert_uint_eq(s_open(&g, 1, "TaskHub", 1, false, NULL, 0), 0);
    ck_assert_uint_eq(s_open(&g, 2, "TaskHub", 1, false, NULL, 0), 0);
    s_auth(&g, "/hubs/tasks", TOKEN_A, 429);
    ck_assert_uint_eq(s_open(&g, 3, "TaskHub", 1, false, NULL, 0), 429);
    ck_assert_uint_eq(s_open(&g, 4, "TaskHub", 2, false, NULL, 0), 0);
    ck_assert_uint_eq(s_open(&g, 5, "TaskHub", 2, false, NULL, 0), 429);
    /* a restored connection already exists: never refused by a cap */
    const char *grp[] = {"vkey-2"};
    ck_assert_uint_eq(s_open(&g, 6, "TaskHub", 2, true, grp, 1), 0);
    /* closing one frees a place */
    cdt_buf_t out = CDT_BUF_INIT;
    cdt_link_encode_conn_close(&out, 1);
    s_send_buf(g.sock, &out);
    cdt_link_encode_conn_close(&out, 6);
    s_send_buf(g.sock, &out);
    ck_assert_uint_eq(s_open(&g, 7, "TaskHub", 1, false, NULL, 0), 0);
    cdt_buf_release(&out);
    s_gw_close(&g);
    s_stop(&b);
}
END_TEST

START_TEST(test_broker_event_reaches_only_the_member_gateway)
{
    brk_t b;
    s_start(&b, "event", NULL);
    gw_t ga, gb;
    s_gw_connect(&ga, &b, "gw-a");
    s_gw_connect(&gb, &b, "gw-b");
    ck_assert_uint_eq(s_open(&ga, 1, "TaskHub", 1, false, NULL, 0), 0);
    ck_assert_uint_eq(s_open(&gb, 1, "TaskHub", 2, false, NULL, 0), 0);

    zsock_t *pub = zsock_new_dealer(b.ack);
    ck_assert_ptr_nonnull(pub);
    cdt_buf_t body = CDT_BUF_INIT;
    char err[256];
    s_map(&body, 5, "type", "event", "hub", "TaskHub", "group", "vkey-1",
          "target", "TaskStarted", "arguments", "[hello]");
    ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);
    s_expect(&ga, CDT_LINK_EVENT);
    ck_assert(s_str_eq(ga.msg.target, "TaskStarted"));
    ck_assert(s_str_eq(ga.msg.json, "{\"type\":1,\"target\":\"TaskStarted\","
                                    "\"arguments\":[\"hello\"]}\x1e"));
    uint64_t seq = ga.msg.seq;
    ck_assert(!s_recv(&gb, QUIET_MS)); /* gw-b has no member of vkey-1 */

    /* `data` becomes the single argument, stamped and correlated */
    s_map(&body, 6, "type", "event", "hub", "/hubs/tasks", "group", "vkey-1",
          "target", "TaskProgress", "data", "{n}", "id", "c-9");
    ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);
    s_expect(&ga, CDT_LINK_EVENT);
    ck_assert_uint_eq(ga.msg.seq, seq + 1);
    ck_assert(s_str_has(ga.msg.json, "\"n\":1"));
    ck_assert(s_str_has(ga.msg.json, "\"timestamp\":\""));
    ck_assert(s_str_has(ga.msg.json, "\"correlationId\":\"c-9\""));

    /* refusals reach the publisher */
    s_map(&body, 5, "type", "event", "hub", "Nope", "group", "vkey-1", "target",
          "TaskStarted", "arguments", "[x]");
    ck_assert(!s_publish(pub, &body, err, sizeof err));
    ck_assert_str_eq(err, "unknown hub 'Nope'");
    s_map(&body, 5, "type", "event", "hub", "TaskHub", "group", "vkey-1",
          "target", "BudgetAlert", "arguments", "[x]");
    ck_assert(!s_publish(pub, &body, err, sizeof err));
    ck_assert_str_eq(err,
                     "event 'BudgetAlert' is not allowed on hub 'TaskHub'");
    s_map(&body, 1, "nottype", "x");
    ck_assert(!s_publish(pub, &body, err, sizeof err));
    cdt_buf_append(&body, "\xc1garbage", 8);
    ck_assert(!s_publish(pub, &body, err, sizeof err));
    ck_assert(!s_recv(&ga, QUIET_MS));

    /* stats */
    s_map(&body, 1, "type", "stats");
    void *s = zsock_resolve(pub);
    uint64_t q = 77;
    zmq_send(s, &q, 8, ZMQ_SNDMORE);
    zmq_send(s, body.data, body.len, 0);
    cdt_buf_reset(&body);
    zmsg_t *reply = zmsg_recv(pub);
    ck_assert_ptr_nonnull(reply);
    zframe_t *f = zmsg_last(reply);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    ck_assert_int_eq(msgpack_unpack_next(&up, (const char *)zframe_data(f),
                                         zframe_size(f), NULL),
                     MSGPACK_UNPACK_SUCCESS);
    ck_assert_int_eq(up.data.type, MSGPACK_OBJECT_MAP);
    int found = 0;
    for (uint32_t i = 0; i < up.data.via.map.size; i++) {
        msgpack_object_kv *kv = &up.data.via.map.ptr[i];
        cdt_str_t k = {kv->key.via.str.ptr, kv->key.via.str.size};
        if (s_str_eq(k, "ok")) {
            ck_assert(kv->val.via.boolean);
            found++;
        } else if (s_str_eq(k, "gateways")) {
            ck_assert_uint_eq(kv->val.via.u64, 2);
            found++;
        } else if (s_str_eq(k, "connections")) {
            ck_assert_uint_eq(kv->val.via.u64, 2);
            found++;
        } else if (s_str_eq(k, "events_routed")) {
            ck_assert_uint_eq(kv->val.via.u64, 2);
            found++;
        } else if (s_str_eq(k, "ingress_garbage")) {
            ck_assert_uint_eq(kv->val.via.u64, 2);
            found++;
        }
    }
    ck_assert_int_eq(found, 5);
    msgpack_unpacked_destroy(&up);
    zmsg_destroy(&reply);

    /* fire and forget: a PUB socket (retried until the subscription is
     * up, a bounded number of times) */
    zsock_t *svc = zsock_new(ZMQ_PUB);
    ck_assert_ptr_nonnull(svc);
    ck_assert_int_eq(zsock_connect(svc, "%s", b.ingress), 0);
    bool got = false;
    for (int i = 0; i < 50 && !got; i++) {
        s_map(&body, 5, "type", "event", "hub", "TaskHub", "group", "vkey-2",
              "target", "TaskStarted", "arguments", "[svc]");
        zmq_send(zsock_resolve(svc), body.data, body.len, 0);
        cdt_buf_reset(&body);
        got = s_recv(&gb, 100);
    }
    ck_assert(got);
    ck_assert(s_str_has(gb.msg.json, "svc"));
    zsock_destroy(&svc);

    cdt_buf_release(&body);
    zsock_destroy(&pub);
    s_gw_close(&ga);
    s_gw_close(&gb);
    s_stop(&b);
}
END_TEST

START_TEST(test_broker_task_subscription_sends_last_event)
{
    brk_t b;
    s_start(&b, "task", NULL);
    gw_t ga, gb;
    s_gw_connect(&ga, &b, "gw-a");
    s_gw_connect(&gb, &b, "gw-b");
    ck_assert_uint_eq(s_open(&ga, 1, "TaskHub", 1, false, NULL, 0), 0);
    ck_assert_uint_eq(s_open(&ga, 2, "VideoGenerationHub", 1, false, NULL, 0),
                      0);
    ck_assert_uint_eq(s_open(&gb, 1, "TaskHub", 2, false, NULL, 0), 0);

    zsock_t *pub = zsock_new_dealer(b.ack);
    cdt_buf_t body = CDT_BUF_INIT;
    char err[256];
    s_map(&body, 6, "type", "task", "taskId", "T1", "taskType", "video",
          "virtualKeyId", "#1", "state", "started", "id", "corr");
    ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);
    ck_assert(!s_recv(&ga, QUIET_MS)); /* nobody subscribed yet */

    s_invoke(&ga, 1, "SubscribeToTask", "T1");
    ck_assert(ga.msg.ok);
    ck_assert_uint_eq(ga.msg.joins.n, 1);
    ck_assert(s_has_group(&ga.msg.joins, "task-T1"));
    s_expect(&ga, CDT_LINK_DIRECT); /* the late subscriber's state */
    ck_assert_uint_eq(ga.msg.conn_id, 1);
    ck_assert(s_str_eq(ga.msg.target, "TaskStarted"));
    ck_assert(s_str_has(ga.msg.json, "\"correlationId\":\"corr\""));

    s_invoke(&ga, 2, "subscribetotask", "T1"); /* video hub alias */
    ck_assert(ga.msg.ok);
    ck_assert(s_has_group(&ga.msg.joins, "video-T1"));
    s_expect(&ga, CDT_LINK_DIRECT);
    ck_assert_uint_eq(ga.msg.conn_id, 2);
    ck_assert(s_str_eq(ga.msg.target, "VideoProgress"));

    s_invoke(&gb, 1, "SubscribeToTask", "T1");
    ck_assert(!gb.msg.ok);
    ck_assert(s_str_eq(gb.msg.reason,
                       "An unexpected error occurred invoking "
                       "'SubscribeToTask' on the server. HubException: "
                       "Unauthorized access to task"));
    s_invoke(&gb, 1, "NoSuchMethod", "x");
    ck_assert(s_str_eq(gb.msg.reason,
                       "Failed to invoke 'NoSuchMethod' due to an error on "
                       "the server. HubException: Method does not exist."));
    ck_assert(!s_recv(&gb, QUIET_MS));

    /* the next task event reaches gw-a on both hubs, never gw-b */
    s_map(&body, 3, "type", "task", "taskId", "T1", "state", "completed");
    ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);
    s_expect(&ga, CDT_LINK_EVENT);
    ck_assert(s_str_eq(ga.msg.target, "TaskCompleted"));
    s_expect(&ga, CDT_LINK_EVENT);
    ck_assert(s_str_eq(ga.msg.target, "VideoCompleted"));
    ck_assert(!s_recv(&gb, QUIET_MS));

    /* ownership is enforced on ingress too */
    s_map(&body, 4, "type", "task", "taskId", "T1", "virtualKeyId", "#2",
          "state", "started");
    ck_assert(!s_publish(pub, &body, err, sizeof err));
    ck_assert_str_eq(err, "task 'T1' belongs to another virtual key");

    /* a closed connection gets nothing more */
    cdt_buf_t out = CDT_BUF_INIT;
    cdt_link_encode_conn_close(&out, 1);
    s_send_buf(ga.sock, &out);
    cdt_link_encode_conn_close(&out, 2);
    s_send_buf(ga.sock, &out);
    cdt_link_encode_ping(&out, 1); /* the PONG proves the closes are done */
    s_send_buf(ga.sock, &out);
    s_expect(&ga, CDT_LINK_PONG);
    s_map(&body, 3, "type", "task", "taskId", "T1", "state", "started");
    ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);
    ck_assert(!s_recv(&ga, QUIET_MS));

    /* the other types reach their modules */
    s_map(&body, 4, "type", "provider_health", "provider", "openai", "status",
          "healthy", "responseTimeMs", "#5");
    ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);

    cdt_buf_release(&out);
    cdt_buf_release(&body);
    zsock_destroy(&pub);
    s_gw_close(&ga);
    s_gw_close(&gb);
    s_stop(&b);
}
END_TEST

START_TEST(test_broker_send_self_reaches_own_key_only)
{
    brk_t b;
    s_start(&b, "nav", NULL);
    gw_t ga, gb;
    s_gw_connect(&ga, &b, "gw-a");
    s_gw_connect(&gb, &b, "gw-b");
    ck_assert_uint_eq(s_open(&ga, 1, "NavigationStateHub", 1, false, NULL, 0),
                      0);
    ck_assert_uint_eq(s_open(&gb, 1, "NavigationStateHub", 1, false, NULL, 0),
                      0);
    ck_assert_uint_eq(s_open(&gb, 2, "NavigationStateHub", 2, false, NULL, 0),
                      0);
    s_invoke_send(&ga, 1, "UpdateNavigation", "/models");
    /* the event is routed before the completion is sent, as a hub method
     * that sends to a group and then returns */
    s_expect(&ga, CDT_LINK_EVENT);
    ck_assert(s_str_eq(ga.msg.target, "NavigationUpdated"));
    ck_assert(s_str_has(ga.msg.json, "/models"));
    s_expect_rep(&ga, 1);
    ck_assert(ga.msg.ok);
    s_expect(&gb, CDT_LINK_EVENT); /* key 1's other connection */
    ck_assert_uint_eq(gb.msg.groups.n, 1);
    ck_assert(s_has_group(&gb.msg.groups, "vkey-1"));
    ck_assert(!s_recv(&gb, QUIET_MS)); /* once per gateway */
    s_gw_close(&ga);
    s_gw_close(&gb);
    s_stop(&b);
}
END_TEST

START_TEST(test_broker_forgets_silent_gateway_and_prompts_replay)
{
    brk_t b;
    s_start(&b, "timeout", "broker.heartbeat_ms=50",
            "broker.gateway_timeout_ms=200", NULL);
    gw_t g;
    s_gw_connect(&g, &b, "gw-a");
    uint64_t first = g.incarnation;
    ck_assert_uint_eq(s_open(&g, 1, "TaskHub", 1, false, NULL, 0), 0);
    ck_assert(!s_recv(&g, 500)); /* silent past the timeout */

    cdt_buf_t out = CDT_BUF_INIT;
    cdt_link_encode_ping(&out, 1);
    s_send_buf(g.sock, &out);
    s_expect(&g, CDT_LINK_PONG);
    ck_assert_uint_ne(g.msg.incarnation, first); /* "say HELLO again" */
    cdt_link_encode_hello(&out, "gw-a", 1000 + 'g', CDT_LINK_VERSION);
    s_send_buf(g.sock, &out);
    s_expect(&g, CDT_LINK_WELCOME);
    ck_assert_uint_ne(g.msg.incarnation, first); /* so the gateway replays */
    uint64_t second = g.msg.incarnation;

    /* the replay restores the groups as given */
    const char *groups[] = {"vkey-1", "task-T9"};
    ck_assert_uint_eq(s_open(&g, 1, "TaskHub", 1, true, groups, 2), 0);
    ck_assert_uint_eq(g.msg.groups.n, 2);
    ck_assert(s_has_group(&g.msg.groups, "task-T9"));

    /* a repeated HELLO from a live gateway keeps its state */
    cdt_link_encode_hello(&out, "gw-a", 1000 + 'g', CDT_LINK_VERSION);
    s_send_buf(g.sock, &out);
    s_expect(&g, CDT_LINK_WELCOME);
    ck_assert_uint_eq(g.msg.incarnation, second);
    zsock_t *pub = zsock_new_dealer(b.ack);
    cdt_buf_t body = CDT_BUF_INIT;
    char err[256];
    s_map(&body, 5, "type", "event", "hub", "TaskHub", "group", "task-T9",
          "target", "TaskStarted", "arguments", "[r]");
    ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);
    s_expect(&g, CDT_LINK_EVENT);

    cdt_buf_release(&body);
    cdt_buf_release(&out);
    zsock_destroy(&pub);
    s_gw_close(&g);
    s_stop(&b);
}
END_TEST

START_TEST(test_broker_two_brokers_in_one_process)
{
    brk_t b1, b2;
    s_start(&b1, "two", NULL);
    s_start(&b2, "two", NULL);
    gw_t g1, g2;
    s_gw_connect(&g1, &b1, "gw");
    s_gw_connect(&g2, &b2, "gw");
    ck_assert_uint_ne(g1.incarnation, g2.incarnation);
    s_gw_close(&g1);
    s_gw_close(&g2);
    s_stop(&b1);
    s_stop(&b2);
}
END_TEST

START_TEST(test_broker_survives_link_garbage)
{
    brk_t b;
    s_start(&b, "garbage", NULL);
    zsock_t *bad = zsock_new_dealer(b.link);
    void *s = zsock_resolve(bad);
    zmq_send(s, "\x93\x01", 2, 0);    /* truncated */
    zmq_send(s, "", 0, 0);            /* empty */
    zmq_send(s, "\x91\x02", 2, 0);    /* a broker-to-gateway kind */
    zmq_send(s, "a", 1, ZMQ_SNDMORE); /* two frames */
    zmq_send(s, "b", 1, 0);
    gw_t g;
    s_gw_connect(&g, &b, "gw-a"); /* still serving */
    ck_assert_uint_eq(s_open(&g, 1, "TaskHub", 1, false, NULL, 0), 0);
    zsock_destroy(&bad);
    s_gw_close(&g);
    s_stop(&b);
}
END_TEST

START_TEST(test_broker_refuses_oversize_ingress)
{
    brk_t b;
    s_start(&b, "size", "broker.max_ingress_bytes=256", NULL);
    zsock_t *pub = zsock_new_dealer(b.ack);
    cdt_buf_t body = CDT_BUF_INIT;
    char err[256], big[400];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    s_map(&body, 5, "type", "event", "hub", "TaskHub", "group", big, "target",
          "TaskStarted", "arguments", "[x]");
    size_t len = body.len;
    ck_assert(!s_publish(pub, &body, err, sizeof err));
    char want[128];
    snprintf(want, sizeof want, "message too large (%zu bytes, limit 256)",
             len);
    ck_assert_str_eq(err, want);
    /* the next, smaller message is served */
    s_map(&body, 5, "type", "event", "hub", "TaskHub", "group", "vkey-1",
          "target", "TaskStarted", "arguments", "[x]");
    ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);
    cdt_buf_release(&body);
    zsock_destroy(&pub);
    s_stop(&b);
}
END_TEST

/* ---- the domain modules ------------------------------------------------- */

/* The next message must be an EVENT for target; its JSON must hold each
 * of the NULL-terminated needles. */
static void
s_expect_event(gw_t *g, const char *target, ...)
{
    s_expect(g, CDT_LINK_EVENT);
    char *t = strndup(g->msg.target.ptr, g->msg.target.len);
    ck_assert_msg(strcmp(t, target) == 0, "got %s, expected %s", t, target);
    free(t);
    va_list ap;
    va_start(ap, target);
    const char *needle;
    while ((needle = va_arg(ap, const char *)) != NULL) {
        char *json = strndup(g->msg.json.ptr, g->msg.json.len);
        ck_assert_msg(strstr(json, needle), "%s: no '%s' in %s", target, needle,
                      json);
        free(json);
    }
    va_end(ap);
}

/* A spend map: key, amount, total, budget (0 = none). */
static void
s_spend(cdt_buf_t *body, const char *key, const char *amount, const char *total,
        const char *budget)
{
    if (budget)
        s_map(body, 5, "type", "spend", "virtualKeyId", key, "amount", amount,
              "totalSpend", total, "budget", budget);
    else
        s_map(body, 4, "type", "spend", "virtualKeyId", key, "amount", amount,
              "totalSpend", total);
}

START_TEST(test_broker_domain_events_reach_their_gateways)
{
    brk_t b;
    s_start(&b, "domain", "spend.window_ms=300", "health.hysteresis=2", NULL);
    gw_t ga, gb;
    s_gw_connect(&ga, &b, "gw-a");
    s_gw_connect(&gb, &b, "gw-b");
    /* gw-a: key 1's spend and notifications, and its webhook group;
     * gw-b: key 2's spend and the admin hub */
    ck_assert_uint_eq(s_open(&ga, 1, "SpendNotificationHub", 1, false, NULL, 0),
                      0);
    ck_assert_uint_eq(
        s_open(&ga, 2, "SystemNotificationHub", 1, false, NULL, 0), 0);
    const char *wh[] = {"vkey-1", "webhook-1-https://h.example/x"};
    ck_assert_uint_eq(s_open(&ga, 3, "WebhookDeliveryHub", 1, true, wh, 2), 0);
    ck_assert_uint_eq(s_open(&gb, 1, "SpendNotificationHub", 2, false, NULL, 0),
                      0);
    ck_assert_uint_eq(s_open(&gb, 2, "AdminNotificationHub", 0, false, NULL, 0),
                      0);
    zsock_t *pub = zsock_new_dealer(b.ack);
    cdt_buf_t body = CDT_BUF_INIT;
    char err[256];

    /* a threshold: the alert, then at once the batch that holds it */
    s_spend(&body, "#1", "#10", "#85", "#100");
    ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);
    s_expect_event(&ga, "BudgetAlert", "\"threshold\":80",
                   "\"severity\":\"info\"", NULL);
    s_expect_event(&ga, "SpendUpdate", "\"requestCount\":1", NULL);
    ck_assert(!s_recv(&gb, QUIET_MS)); /* not key 2's, and below 100 % */

    /* 100 %: BudgetAlert to the key, HighSpendAlert to the admin hub */
    s_spend(&body, "#1", "#15", "#100", "#100");
    ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);
    s_expect_event(&ga, "BudgetAlert", "\"threshold\":100",
                   "\"severity\":\"critical\"", NULL);
    s_expect_event(&ga, "SpendUpdate", NULL);
    s_expect_event(&gb, "HighSpendAlert", "\"virtualKeyId\":1", NULL);
    ck_assert_uint_eq(gb.msg.groups.n, 2);
    ck_assert(s_has_group(&gb.msg.groups, "admin"));

    /* batching: key 2's three spends become one update after the window */
    for (int i = 0; i < 3; i++) {
        s_spend(&body, "#2", "#2", "#50", NULL);
        ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);
    }
    ck_assert(!s_recv(&gb, 100)); /* still inside the window */
    s_expect_event(&gb, "SpendUpdate", "\"newSpend\":6", "\"requestCount\":3",
                   NULL);
    ck_assert(!s_recv(&ga, QUIET_MS));

    /* provider health: held twice, then announced on both hubs */
    s_map(&body, 3, "type", "provider_health", "provider", "openai", "status",
          "degraded");
    ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);
    ck_assert(!s_recv(&ga, 100));
    s_map(&body, 3, "type", "provider_health", "provider", "openai", "status",
          "degraded");
    ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);
    s_expect_event(&ga, "ProviderHealthChanged", "\"status\":\"degraded\"",
                   NULL);
    ck_assert(s_has_group(&ga.msg.groups, "system-notifications"));
    s_expect_event(&gb, "ProviderHealthChanged", NULL);

    /* a webhook event for key 1's URL reaches gw-a only */
    s_map(&body, 4, "type", "webhook", "virtualKeyId", "#1", "url",
          "https://h.example/x", "status", "delivered");
    ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);
    s_expect_event(&ga, "WebhookDelivered", NULL);
    ck_assert(s_has_group(&ga.msg.groups, "webhook-1-https://h.example/x"));
    s_map(&body, 4, "type", "webhook", "virtualKeyId", "#2", "url",
          "https://h.example/x", "status", "failed");
    ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);
    ck_assert(!s_recv(&ga, QUIET_MS)); /* key 2's group has no member */
    ck_assert(!s_recv(&gb, QUIET_MS));

    /* refusals reach the publisher */
    s_map(&body, 2, "type", "spend", "amount", "#1");
    ck_assert(!s_publish(pub, &body, err, sizeof err));

    cdt_buf_release(&body);
    zsock_destroy(&pub);
    s_gw_close(&ga);
    s_gw_close(&gb);
    s_stop(&b);
}
END_TEST

START_TEST(test_broker_key_disable_kicks_every_gateway)
{
    brk_t b;
    s_start(&b, "kick", NULL);
    gw_t ga, gb;
    s_gw_connect(&ga, &b, "gw-a");
    s_gw_connect(&gb, &b, "gw-b");
    ck_assert_uint_eq(s_open(&ga, 1, "TaskHub", 2, false, NULL, 0), 0);
    ck_assert_uint_eq(s_open(&gb, 1, "TaskHub", 2, false, NULL, 0), 0);
    ck_assert_uint_eq(s_open(&gb, 2, "TaskHub", 1, false, NULL, 0), 0);
    ck_assert_uint_eq(s_open(&ga, 2, "AdminNotificationHub", 0, false, NULL, 0),
                      0);
    zsock_t *pub = zsock_new_dealer(b.ack);
    cdt_buf_t body = CDT_BUF_INIT;
    char err[256];
    s_map(&body, 3, "type", "key", "op", "disable", "virtualKeyId", "#2");
    ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);
    gw_t *gws[] = {&ga, &gb};
    for (int i = 0; i < 2; i++) {
        s_expect(gws[i], CDT_LINK_KICK);
        ck_assert_int_eq(gws[i]->msg.key_id, 2);
        ck_assert(s_str_eq(gws[i]->msg.reason, "Virtual key disabled"));
    }
    s_expect_event(&ga, "VirtualKeyUpdated", "\"virtualKeyId\":2",
                   "\"enabled\":false", "\"change\":\"disabled\"", NULL);
    ck_assert(!s_recv(&gb, QUIET_MS));
    s_auth(&ga, "/hubs/tasks", TOKEN_B, 401);
    ck_assert_uint_eq(s_open(&ga, 3, "TaskHub", 2, false, NULL, 0), 401);
    /* the broker forgot key 2's connections: its events reach nobody */
    s_map(&body, 5, "type", "event", "hub", "TaskHub", "group", "vkey-2",
          "target", "TaskStarted", "arguments", "[x]");
    ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);
    ck_assert(!s_recv(&ga, QUIET_MS));
    ck_assert(!s_recv(&gb, QUIET_MS));

    s_map(&body, 3, "type", "key", "op", "enable", "virtualKeyId", "#2");
    ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);
    s_expect_event(&ga, "VirtualKeyUpdated", "\"change\":\"enabled\"", NULL);
    s_auth(&ga, "/hubs/tasks", TOKEN_B, 200);

    s_map(&body, 3, "type", "key", "op", "delete", "virtualKeyId", "#1");
    ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);
    s_expect(&gb, CDT_LINK_KICK);
    ck_assert(s_str_eq(gb.msg.reason, "Virtual key deleted"));
    s_expect(&ga, CDT_LINK_KICK);
    s_expect_event(&ga, "VirtualKeyDeleted", "\"virtualKeyId\":1", NULL);
    s_auth(&ga, "/hubs/tasks", TOKEN_A, 401);

    cdt_buf_release(&body);
    zsock_destroy(&pub);
    s_gw_close(&ga);
    s_gw_close(&gb);
    s_stop(&b);
}
END_TEST

START_TEST(test_broker_state_survives_a_restart)
{
    char *dir = tmpdir_new();
    char store_kv[300];
    snprintf(store_kv, sizeof store_kv, "broker.store=%s", dir);
    brk_t b;
    s_start(&b, "persist", store_kv, "spend.window_ms=0", NULL);
    zsock_t *pub = zsock_new_dealer(b.ack);
    cdt_buf_t body = CDT_BUF_INIT;
    char err[256];
    s_map(&body, 5, "type", "task", "taskId", "T1", "taskType", "other",
          "virtualKeyId", "#1", "state", "started");
    ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);
    s_map(&body, 4, "type", "task", "taskId", "T1", "state", "progress",
          "percent", "#40");
    ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);
    s_spend(&body, "#1", "#5", "#85", "#100");
    ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);
    s_map(&body, 3, "type", "key", "op", "disable", "virtualKeyId", "#2");
    ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);
    zsock_destroy(&pub);
    s_stop(&b);

    /* a new broker on the same store */
    s_start(&b, "persist", store_kv, "spend.window_ms=0", NULL);
    gw_t g;
    s_gw_connect(&g, &b, "gw-a");
    ck_assert_uint_eq(s_open(&g, 1, "TaskHub", 1, false, NULL, 0), 0);
    s_invoke(&g, 1, "SubscribeToTask", "T1");
    ck_assert(g.msg.ok);
    s_expect(&g, CDT_LINK_DIRECT); /* the latest state, from the store */
    ck_assert(s_str_eq(g.msg.target, "TaskProgress"));
    ck_assert(s_str_has(g.msg.json, "\"percent\":40"));

    /* the disabled key stays disabled although the file enables it */
    s_auth(&g, "/hubs/tasks", TOKEN_B, 401);
    ck_assert_uint_eq(s_open(&g, 2, "TaskHub", 2, false, NULL, 0), 401);

    /* another tenant (added now) cannot take the task over */
    pub = zsock_new_dealer(b.ack);
    char hash[CDT_SHA256_HEX_LEN + 1];
    cdt_sha256_hex("condt_unit_key_four", 19, hash);
    s_map(&body, 4, "type", "key", "op", "add", "virtualKeyId", "#4", "keyHash",
          hash);
    ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);
    s_auth(&g, "/hubs/tasks", "condt_unit_key_four", 200);
    ck_assert_uint_eq(s_open(&g, 4, "TaskHub", 4, false, NULL, 0), 0);
    s_invoke(&g, 4, "SubscribeToTask", "T1");
    ck_assert(!g.msg.ok);
    ck_assert(!s_recv(&g, QUIET_MS)); /* no DIRECT */

    /* the 80 % alert was sent before the restart: not again at 86 %; 90 %
     * still fires */
    ck_assert_uint_eq(s_open(&g, 5, "SpendNotificationHub", 1, false, NULL, 0),
                      0);
    s_spend(&body, "#1", "#1", "#86", "#100");
    ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);
    s_expect_event(&g, "SpendUpdate", "\"totalSpend\":86", NULL);
    ck_assert(!s_recv(&g, QUIET_MS));
    s_spend(&body, "#1", "#4", "#90", "#100");
    ck_assert_msg(s_publish(pub, &body, err, sizeof err), "%s", err);
    s_expect_event(&g, "BudgetAlert", "\"threshold\":90", NULL);
    s_expect_event(&g, "SpendUpdate", NULL);

    cdt_buf_release(&body);
    zsock_destroy(&pub);
    s_gw_close(&g);
    s_stop(&b);
    tmpdir_remove(&dir);
}
END_TEST

Suite *
broker_suite(void)
{
    Suite *s = suite_create("broker");
    TCase *tc = tcase_create("in-process");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_broker_hello_auth_and_conn_open);
    tcase_add_test(tc, test_broker_connection_caps);
    tcase_add_test(tc, test_broker_event_reaches_only_the_member_gateway);
    tcase_add_test(tc, test_broker_task_subscription_sends_last_event);
    tcase_add_test(tc, test_broker_send_self_reaches_own_key_only);
    tcase_add_test(tc, test_broker_forgets_silent_gateway_and_prompts_replay);
    tcase_add_test(tc, test_broker_two_brokers_in_one_process);
    tcase_add_test(tc, test_broker_survives_link_garbage);
    tcase_add_test(tc, test_broker_refuses_oversize_ingress);
    suite_add_tcase(s, tc);
    tc = tcase_create("domain");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_broker_domain_events_reach_their_gateways);
    tcase_add_test(tc, test_broker_key_disable_kicks_every_gateway);
    tcase_add_test(tc, test_broker_state_survives_a_restart);
    suite_add_tcase(s, tc);
    return s;
}
