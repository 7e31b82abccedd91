/*
 * test_ingress - the acknowledged endpoint's group commit: the sync hook
 * runs once per batch, before any ack of it is sent; when it fails, every
 * message it would have made durable is acknowledged as failed, and
 * refusals keep their own reasons. And hostile input on both endpoints:
 * every bad message is counted on its endpoint, answered (on the
 * acknowledged one) with a reason, never handed to the handler, and the
 * next good message is handled.
 *
 * SPDX-License-Identifier: MIT
 */
#include "broker/ingress.h"

#include "common/cdt_log.h"

#include <check.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Suite *ingress_suite(void);

typedef struct fake {
    int handled;
    int syncs;
    int handled_at_sync; /* messages handled when the last sync ran */
    bool fail_sync;
} fake_t;

/* Accepts events for hub "ok", refuses the others. */
static int
s_handler(void *arg, const cdt_ingress_t *msg, char *err, size_t errlen)
{
    fake_t *f = arg;
    f->handled++;
    if (msg->hub.len == 2 && memcmp(msg->hub.ptr, "ok", 2) == 0)
        return 0;
    snprintf(err, errlen, "refused by the fake");
    return -1;
}

static int
s_sync(void *arg, char *err, size_t errlen)
{
    fake_t *f = arg;
    f->syncs++;
    f->handled_at_sync = f->handled;
    if (!f->fail_sync)
        return 0;
    snprintf(err, errlen, "disk full");
    return -1;
}

static void
s_kstr(msgpack_packer *pk, const char *v)
{
    msgpack_pack_str(pk, strlen(v));
    msgpack_pack_str_body(pk, v, strlen(v));
}

/* {"type":"event","hub":hub,"groups":[letter, ...],"target":"T",
 * "arguments":[]}: extra more groups after the one named by letter (past
 * 64 names an event takes the general path). */
static void
s_event_to(cdt_buf_t *out, const char *hub, char letter, int extra)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, cdt_buf_msgpack_write);
    msgpack_pack_map(&pk, 5);
    s_kstr(&pk, "type");
    s_kstr(&pk, "event");
    s_kstr(&pk, "hub");
    s_kstr(&pk, hub);
    s_kstr(&pk, "groups");
    msgpack_pack_array(&pk, 1 + (size_t)extra);
    char name[16] = {letter, 0};
    s_kstr(&pk, name);
    for (int i = 0; i < extra; i++) {
        snprintf(name, sizeof name, "%c%d", letter, i);
        s_kstr(&pk, name);
    }
    s_kstr(&pk, "target");
    s_kstr(&pk, "T");
    s_kstr(&pk, "arguments");
    msgpack_pack_array(&pk, 0);
}

/* An event of hub to the group "g". */
static void
s_body(cdt_buf_t *out, const char *hub)
{
    s_event_to(out, hub, 'g', 0);
}

static void
s_send(zsock_t *pub, uint64_t seq, const char *hub)
{
    cdt_buf_t body = CDT_BUF_INIT;
    s_body(&body, hub);
    void *s = zsock_resolve(pub);
    ck_assert_int_eq(zmq_send(s, &seq, 8, ZMQ_SNDMORE), 8);
    ck_assert_int_eq(zmq_send(s, body.data, body.len, 0), (int)body.len);
    cdt_buf_release(&body);
}

/* Receives the ack of seq: ok, and the error in err. */
static bool
s_ack(zsock_t *pub, uint64_t seq, char *err, size_t errlen)
{
    zsock_set_rcvtimeo(pub, 2000);
    zmsg_t *m = zmsg_recv(pub);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(zmsg_size(m), 2);
    zframe_t *f = zmsg_first(m);
    ck_assert_int_eq(memcmp(zframe_data(f), &seq, 8), 0);
    f = zmsg_next(m);
    bool ok = false;
    ck_assert_int_eq(cdt_ingress_decode_ack(zframe_data(f), zframe_size(f), &ok,
                                            err, errlen),
                     0);
    zmsg_destroy(&m);
    return ok;
}

/* Sends hubs[0..n) as seq 1..n, lets the broker side read them as one
 * batch, and returns the acks' errors ("" = ok) in errs. */
static void
s_batch(const char *tag, fake_t *f, const char *const *hubs, size_t n,
        char errs[][128])
{
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://ingress-%s", tag);
    cdt_log_set_level(CDT_LOG_ERROR);
    ingress_t *in = ingress_new("", ep, 1 << 20, NULL, s_handler, NULL, f);
    ck_assert_ptr_nonnull(in);
    ingress_set_sync(in, s_sync);
    zsock_t *pub = zsock_new_dealer(ep);
    ck_assert_ptr_nonnull(pub);
    for (size_t i = 0; i < n; i++)
        s_send(pub, i + 1, hubs[i]);
    /* all of them queued before the broker side reads */
    zpoller_t *p = zpoller_new(ingress_ack_sock(in), NULL);
    ck_assert_ptr_nonnull(zpoller_wait(p, 2000));
    zclock_sleep(50);
    ingress_on_ack(in, 0);
    for (size_t i = 0; i < n; i++) {
        char err[128];
        bool ok = s_ack(pub, i + 1, err, sizeof err);
        snprintf(errs[i], 128, "%s", ok ? "" : err);
    }
    ck_assert_uint_eq(ingress_counters(in)->acks_sent, n);
    zpoller_destroy(&p);
    zsock_destroy(&pub);
    ingress_destroy(&in);
}

START_TEST(test_ingress_one_sync_per_batch)
{
    fake_t f = {0};
    const char *hubs[] = {"ok", "no", "ok", "ok"};
    char errs[4][128];
    s_batch("sync", &f, hubs, 4, errs);
    ck_assert_int_eq(f.handled, 4);
    ck_assert_int_eq(f.syncs, 1);
    ck_assert_int_eq(f.handled_at_sync, 4); /* after the whole batch */
    ck_assert_str_eq(errs[0], "");
    ck_assert_str_eq(errs[1], "refused by the fake");
    ck_assert_str_eq(errs[2], "");
    ck_assert_str_eq(errs[3], "");
}
END_TEST

START_TEST(test_ingress_failed_sync_fails_the_accepted)
{
    fake_t f = {.fail_sync = true};
    const char *hubs[] = {"ok", "no", "ok"};
    char errs[3][128];
    s_batch("fail", &f, hubs, 3, errs);
    ck_assert_int_eq(f.syncs, 1);
    ck_assert_str_eq(errs[0], "disk full");
    ck_assert_str_eq(errs[1], "refused by the fake");
    ck_assert_str_eq(errs[2], "disk full");
}
END_TEST

START_TEST(test_ingress_no_sync_without_acceptance)
{
    fake_t f = {0};
    const char *hubs[] = {"no", "no"};
    char errs[2][128];
    s_batch("none", &f, hubs, 2, errs);
    ck_assert_int_eq(f.syncs, 0);
}
END_TEST

START_TEST(test_ingress_process_syncs_each_message)
{
    fake_t f = {.fail_sync = true};
    cdt_log_set_level(CDT_LOG_ERROR);
    ingress_t *in = ingress_new("", "", 1 << 20, NULL, s_handler, NULL, &f);
    ck_assert_ptr_nonnull(in);
    ingress_set_sync(in, s_sync);
    cdt_buf_t body = CDT_BUF_INIT, ack = CDT_BUF_INIT;
    s_body(&body, "ok");
    ck_assert_int_eq(ingress_process(in, body.data, body.len, &ack, 0), -1);
    bool ok = true;
    char err[64];
    ck_assert_int_eq(
        cdt_ingress_decode_ack(ack.data, ack.len, &ok, err, sizeof err), 0);
    ck_assert(!ok);
    ck_assert_str_eq(err, "disk full");
    ck_assert_uint_eq(ingress_counters(in)->sync_failures, 1);
    /* the fire-and-forget path does not sync */
    ck_assert_int_eq(ingress_process(in, body.data, body.len, NULL, 0), 0);
    ck_assert_int_eq(f.syncs, 1);
    cdt_buf_release(&body);
    cdt_buf_release(&ack);
    ingress_destroy(&in);
}
END_TEST

/* ---- hostile input ------------------------------------------------------ */

/* Runs one bad body through both paths from an exact-size heap copy (so
 * ASan sees any over-read); the ack path must answer a refusal. */
static void
s_bad(ingress_t *in, const void *body, size_t len, const char *reason)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, body, len);
    ck_assert_int_eq(ingress_process(in, copy, len, NULL, 0), -1);
    cdt_buf_t ack = CDT_BUF_INIT;
    ck_assert_int_eq(ingress_process(in, copy, len, &ack, 0), -1);
    bool ok = true;
    char err[256];
    ck_assert_int_eq(
        cdt_ingress_decode_ack(ack.data, ack.len, &ok, err, sizeof err), 0);
    ck_assert(!ok);
    ck_assert_msg(strstr(err, reason), "'%s' is not about '%s'", err, reason);
    cdt_buf_release(&ack);
    free(copy);
}

START_TEST(test_ingress_garbage_counted_per_endpoint)
{
    fake_t f = {0};
    cdt_log_set_level(CDT_LOG_ERROR);
    ingress_t *in = ingress_new("", "", 64, NULL, s_handler, NULL, &f);
    ck_assert_ptr_nonnull(in);
    cdt_buf_t good = CDT_BUF_INIT, big = CDT_BUF_INIT;
    s_body(&good, "ok");
    s_body(&big,
           "a-hub-name-long-enough-to-pass-the-64-byte-limit-of-this-test");
    uint8_t deep[41];
    memset(deep, 0x91, 40); /* 40 nested arrays: msgpack-c allows 32 */
    deep[40] = 0xc0;
    const uint8_t dd[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
    const uint8_t df[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    uint8_t trail[80];
    memcpy(trail, good.data, good.len);
    trail[good.len] = 0x00;

    s_bad(in, dd, sizeof dd, "not a MessagePack value");
    s_bad(in, df, sizeof df, "not a MessagePack value");
    s_bad(in, good.data, good.len - 3, "not a MessagePack value");
    s_bad(in, "", 0, "not a MessagePack value");
    s_bad(in, deep, sizeof deep, "nested too deeply");
    s_bad(in, trail, good.len + 1, "1 trailing bytes");
    s_bad(in, big.data, big.len, "message too large");
    s_bad(in, "\x93\x01\x02\x03", 4, "map");
    const ingress_counters_t *c = ingress_counters(in);
    ck_assert_uint_eq(c->sub_garbage, 8);
    ck_assert_uint_eq(c->ack_garbage, 8);
    ck_assert_uint_eq(c->garbage, 16);
    ck_assert_uint_eq(c->oversize, 2);
    ck_assert_int_eq(f.handled, 0);
    /* and the next good one is handled on both paths */
    ck_assert_int_eq(ingress_process(in, good.data, good.len, NULL, 0), 0);
    cdt_buf_t ack = CDT_BUF_INIT;
    ck_assert_int_eq(ingress_process(in, good.data, good.len, &ack, 0), 0);
    ck_assert_int_eq(f.handled, 2);
    ck_assert_uint_eq(c->accepted[CDT_IN_EVENT], 2);
    cdt_buf_release(&ack);
    cdt_buf_release(&good);
    cdt_buf_release(&big);
    ingress_destroy(&in);
}
END_TEST

/* Reads what is waiting on sock into in, through the real handlers. */
static void
s_pump(ingress_t *in, zsock_t *sock, bool ack)
{
    zpoller_t *p = zpoller_new(sock, NULL);
    while (zpoller_wait(p, 100)) {
        if (ack)
            ingress_on_ack(in, 1);
        else
            ingress_on_sub(in, 1);
    }
    zpoller_destroy(&p);
}

START_TEST(test_ingress_wrong_frames_on_both_sockets)
{
    fake_t f = {0};
    cdt_log_set_level(CDT_LOG_ERROR);
    ingress_t *in = ingress_new("inproc://ingress-frames-sub",
                                "inproc://ingress-frames-ack", 1 << 20, NULL,
                                s_handler, NULL, &f);
    ck_assert_ptr_nonnull(in);
    cdt_buf_t good = CDT_BUF_INIT;
    s_body(&good, "ok");

    /* SUB: a two-frame message is garbage, the next one is handled */
    zsock_t *pub = zsock_new_pub(">inproc://ingress-frames-sub");
    ck_assert_ptr_nonnull(pub);
    void *ps = zsock_resolve(pub);
    /* PUB drops until the subscription has arrived: send until one
     * gets through (bounded) */
    for (int i = 0; i < 100 && f.handled == 0; i++) {
        zmq_send(ps, good.data, good.len, 0);
        s_pump(in, ingress_sub_sock(in), false);
    }
    ck_assert_int_eq(f.handled, 1);
    zmq_send(ps, good.data, good.len, ZMQ_SNDMORE);
    zmq_send(ps, "x", 1, 0);
    zmq_send(ps, good.data, good.len, 0);
    s_pump(in, ingress_sub_sock(in), false);
    ck_assert_uint_eq(ingress_counters(in)->sub_garbage, 1);
    ck_assert_int_eq(f.handled, 2);

    /* ROUTER: one frame (no sequence), three frames, a short sequence */
    zsock_t *d = zsock_new_dealer("inproc://ingress-frames-ack");
    ck_assert_ptr_nonnull(d);
    void *ds = zsock_resolve(d);
    uint64_t seq = 7;
    zmq_send(ds, good.data, good.len, 0);
    zmq_send(ds, &seq, 8, ZMQ_SNDMORE);
    zmq_send(ds, good.data, good.len, ZMQ_SNDMORE);
    zmq_send(ds, "x", 1, 0);
    zmq_send(ds, &seq, 3, ZMQ_SNDMORE);
    zmq_send(ds, good.data, good.len, 0);
    s_pump(in, ingress_ack_sock(in), true);
    ck_assert_uint_eq(ingress_counters(in)->ack_garbage, 3);
    ck_assert_int_eq(f.handled, 2);
    /* whatever was answered is a refusal naming the expected shape */
    zsock_set_rcvtimeo(d, 200);
    zmsg_t *m;
    int answers = 0;
    while ((m = zmsg_recv(d)) != NULL) {
        zframe_t *last = zmsg_last(m);
        bool ok = true;
        char err[128];
        ck_assert_int_eq(cdt_ingress_decode_ack(zframe_data(last),
                                                zframe_size(last), &ok, err,
                                                sizeof err),
                         0);
        ck_assert(!ok);
        ck_assert_ptr_nonnull(strstr(err, "expected two frames"));
        answers++;
        zmsg_destroy(&m);
    }
    ck_assert_int_ge(answers, 1);
    s_send(d, 8, "ok");
    s_pump(in, ingress_ack_sock(in), true);
    char err[128];
    ck_assert(s_ack(d, 8, err, sizeof err));
    ck_assert_int_eq(f.handled, 3);

    zsock_destroy(&d);
    zsock_destroy(&pub);
    cdt_buf_release(&good);
    ingress_destroy(&in);
}
END_TEST

/* ---- reading ahead on the SUB endpoint ---------------------------------- */

/* What the handler and the hint saw, by each event's first group name (one
 * letter). */
typedef struct order_fake {
    char handled[32];
    size_t n_handled;
    int hints[2][128]; /* by stage, by letter: times hinted */
    bool late_hint;    /* a hint for a message already handled */
    bool early_stage1; /* stage 1 before stage 0 */
} order_fake_t;

static char
s_letter(const cdt_ingress_t *msg)
{
    cdt_str_t g = msg->groups.n ? cdt_strv_at(msg->groups, 0) : (cdt_str_t){0};
    return g.len ? (char)(g.ptr[0] & 127) : '?';
}

static int
s_order_handler(void *arg, const cdt_ingress_t *msg, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    order_fake_t *f = arg;
    if (f->n_handled < sizeof f->handled - 1)
        f->handled[f->n_handled++] = s_letter(msg);
    return 0;
}

static void
s_order_hint(void *arg, const cdt_ingress_t *msg, int stage)
{
    order_fake_t *f = arg;
    char l = s_letter(msg);
    if (memchr(f->handled, l, f->n_handled))
        f->late_hint = true;
    if (stage == 1 && !f->hints[0][(int)l])
        f->early_stage1 = true;
    f->hints[stage & 1][(int)l]++;
}

static void
s_pub_event(void *ps, char letter, int extra, int flags)
{
    cdt_buf_t b = CDT_BUF_INIT;
    s_event_to(&b, "ok", letter, extra);
    ck_assert_int_eq(zmq_send(ps, b.data, b.len, flags), (int)b.len);
    cdt_buf_release(&b);
}

/* Events read ahead are handled in the order they came, around events of
 * the general path and garbage; each fast one is hinted before its
 * handling (stage 0, then maybe 1), never after; the general path's
 * event is never hinted. */
START_TEST(test_ingress_sub_reads_ahead_in_order)
{
    order_fake_t f = {0};
    cdt_log_set_level(CDT_LOG_ERROR);
    ingress_t *in = ingress_new("inproc://ingress-ahead", "", 1 << 20, NULL,
                                s_order_handler, NULL, &f);
    ck_assert_ptr_nonnull(in);
    ingress_set_prefetch(in, s_order_hint);
    zsock_t *pub = zsock_new_pub(">inproc://ingress-ahead");
    ck_assert_ptr_nonnull(pub);
    void *ps = zsock_resolve(pub);
    for (int i = 0; i < 100 && f.n_handled == 0; i++) {
        s_pub_event(ps, 'w', 0, 0);
        s_pump(in, ingress_sub_sock(in), false);
    }
    ck_assert_uint_eq(f.n_handled, 1);
    memset(&f, 0, sizeof f);

    s_pub_event(ps, 'a', 0, 0);
    s_pub_event(ps, 'b', 0, 0);
    s_pub_event(ps, 'c', 64, 0); /* 65 groups: the general path */
    s_pub_event(ps, 'd', 0, 0);
    s_pub_event(ps, 'x', 0, ZMQ_SNDMORE); /* two frames: garbage */
    zmq_send(ps, "x", 1, 0);
    s_pub_event(ps, 'e', 0, 0);
    s_pub_event(ps, 'f', 0, 0);
    s_pub_event(ps, 'g', 0, 0);
    s_pump(in, ingress_sub_sock(in), false);

    ck_assert_str_eq(f.handled, "abcdefg");
    ck_assert_uint_eq(ingress_counters(in)->sub_garbage, 1);
    ck_assert(!f.late_hint);
    ck_assert(!f.early_stage1);
    for (const char *l = "abdefg"; *l; l++)
        ck_assert_int_eq(f.hints[0][(int)*l], 1);
    ck_assert_int_eq(f.hints[0]['c'] + f.hints[1]['c'], 0);
    int stage1 = 0;
    for (int l = 0; l < 128; l++)
        stage1 += f.hints[1][l];
    ck_assert_int_ge(stage1, 1);

    zsock_destroy(&pub);
    ingress_destroy(&in);
}
END_TEST

Suite *
ingress_suite(void)
{
    Suite *s = suite_create("ingress");
    TCase *tc = tcase_create("group commit");
    tcase_add_test(tc, test_ingress_one_sync_per_batch);
    tcase_add_test(tc, test_ingress_failed_sync_fails_the_accepted);
    tcase_add_test(tc, test_ingress_no_sync_without_acceptance);
    tcase_add_test(tc, test_ingress_process_syncs_each_message);
    suite_add_tcase(s, tc);
    tc = tcase_create("hostile input");
    tcase_add_test(tc, test_ingress_garbage_counted_per_endpoint);
    tcase_add_test(tc, test_ingress_wrong_frames_on_both_sockets);
    suite_add_tcase(s, tc);
    tc = tcase_create("reading ahead");
    tcase_add_test(tc, test_ingress_sub_reads_ahead_in_order);
    suite_add_tcase(s, tc);
    return s;
}
