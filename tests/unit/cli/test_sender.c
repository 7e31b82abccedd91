/*
 * test_sender - conduit-pub's acknowledged, pipelined sending, against a
 * ROUTER socket playing the broker on an ephemeral loopback port; with
 * CurveZMQ, a round trip and the three handshake failures (a plain
 * client of a CURVE broker, the wrong server key, a key the broker's ZAP
 * handler refuses), each reported at once with its reason.
 *
 * SPDX-License-Identifier: MIT
 */
#include "cli/sender.h"

#include "common/cdt_buf.h"
#include "proto/cdt_ingress.h"

#include <check.h>
#include <msgpack.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

Suite *sender_suite(void);

typedef struct fake {
    void *ctx;
    void *router;
    char endpoint[64];
    char public_key[41]; /* CURVE server: its keys */
    char secret_key[41];
} fake_t;

/* Starts the fake broker; curve makes it a CURVE server. */
static void
s_fake_start_opt(fake_t *f, bool curve)
{
    f->ctx = zmq_ctx_new();
    f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
    int linger = 0, one = 1;
    zmq_setsockopt(f->router, ZMQ_LINGER, &linger, sizeof linger);
    if (curve) {
        ck_assert_int_eq(zmq_curve_keypair(f->public_key, f->secret_key), 0);
        ck_assert_int_eq(
            zmq_setsockopt(f->router, ZMQ_CURVE_SERVER, &one, sizeof one), 0);
        ck_assert_int_eq(
            zmq_setsockopt(f->router, ZMQ_CURVE_SECRETKEY, f->secret_key, 40),
            0);
    }
    ck_assert_int_eq(zmq_bind(f->router, "tcp://127.0.0.1:*"), 0);
    size_t len = sizeof f->endpoint;
    ck_assert_int_eq(
        zmq_getsockopt(f->router, ZMQ_LAST_ENDPOINT, f->endpoint, &len), 0);
}

static void
s_fake_start(fake_t *f)
{
    s_fake_start_opt(f, false);
}

static void
s_fake_stop(fake_t *f)
{
    zmq_close(f->router);
    zmq_ctx_term(f->ctx);
}

/* One received request: the peer identity, the sequence frame, the map. */
typedef struct req {
    uint8_t id[256];
    size_t id_len;
    uint8_t seq[CDT_INGRESS_SEQ_LEN];
    uint8_t body[256];
    size_t body_len;
} req_t;

static void
s_fake_recv(fake_t *f, req_t *r)
{
    zmq_pollitem_t item = {f->router, 0, ZMQ_POLLIN, 0};
    ck_assert_int_eq(zmq_poll(&item, 1, 2000), 1);
    int n = zmq_recv(f->router, r->id, sizeof r->id, 0);
    ck_assert_int_gt(n, 0);
    r->id_len = (size_t)n;
    ck_assert_int_eq(zmq_recv(f->router, r->seq, sizeof r->seq, 0),
                     CDT_INGRESS_SEQ_LEN);
    n = zmq_recv(f->router, r->body, sizeof r->body, 0);
    ck_assert_int_gt(n, 0);
    r->body_len = (size_t)n;
    int more = 0;
    size_t ml = sizeof more;
    zmq_getsockopt(f->router, ZMQ_RCVMORE, &more, &ml);
    ck_assert_int_eq(more, 0);
}

static void
s_fake_answer(fake_t *f, const req_t *r, const void *ack, size_t len)
{
    zmq_send(f->router, r->id, r->id_len, ZMQ_SNDMORE);
    zmq_send(f->router, r->seq, sizeof r->seq, ZMQ_SNDMORE);
    zmq_send(f->router, ack, len, 0);
}

static void
s_fake_ack(fake_t *f, const req_t *r, bool ok, const char *error)
{
    cdt_buf_t b = CDT_BUF_INIT;
    cdt_ingress_encode_ack(&b, ok, error);
    s_fake_answer(f, r, b.data, b.len);
    cdt_buf_release(&b);
}

typedef struct seen {
    int n;
    uint64_t tags[16];
    bool ok[16];
    char errors[16][128];
} seen_t;

static void
s_on_ack(void *arg, uint64_t tag, bool ok, const char *error,
         const uint8_t *reply, size_t reply_len)
{
    (void)reply;
    ck_assert_uint_gt(reply_len, 0);
    seen_t *s = arg;
    ck_assert_int_lt(s->n, 16);
    s->tags[s->n] = tag;
    s->ok[s->n] = ok;
    snprintf(s->errors[s->n], sizeof s->errors[0], "%s", error);
    s->n++;
}

START_TEST(test_sender_pipelines_and_matches_answers_out_of_order)
{
    fake_t f;
    s_fake_start(&f);
    seen_t seen = {0};
    char err[256];
    sender_t *s =
        sender_new(f.endpoint, 4, 2000, NULL, s_on_ack, &seen, err, sizeof err);
    ck_assert_ptr_nonnull(s);
    for (uint64_t tag = 10; tag < 14; tag++) {
        uint8_t map[2] = {0x81, (uint8_t)tag}; /* opaque to the sender */
        ck_assert_int_eq(sender_send(s, map, sizeof map, tag), 0);
    }
    ck_assert_uint_eq(sender_pending(s), 4);
    req_t r[4];
    for (int i = 0; i < 4; i++) {
        s_fake_recv(&f, &r[i]);
        ck_assert_uint_eq(r[i].body_len, 2);
        ck_assert_uint_eq(r[i].body[1], 10 + i); /* order kept */
    }
    s_fake_ack(&f, &r[3], true, NULL);
    s_fake_ack(&f, &r[1], false, "unknown hub 'Foo'");
    s_fake_ack(&f, &r[1], true, NULL); /* a duplicate is ignored */
    s_fake_ack(&f, &r[0], true, NULL);
    s_fake_ack(&f, &r[2], true, NULL);
    ck_assert_int_eq(sender_flush(s), 0);
    ck_assert_uint_eq(sender_pending(s), 0);
    ck_assert_int_eq(seen.n, 4);
    ck_assert_uint_eq(seen.tags[0], 13);
    ck_assert_uint_eq(seen.tags[1], 11);
    ck_assert(!seen.ok[1]);
    ck_assert_str_eq(seen.errors[1], "unknown hub 'Foo'");
    ck_assert_uint_eq(seen.tags[2], 10);
    ck_assert_uint_eq(seen.tags[3], 12);
    ck_assert(seen.ok[0] && seen.ok[2] && seen.ok[3]);
    sender_destroy(&s);
    ck_assert_ptr_null(s);
    s_fake_stop(&f);
}
END_TEST

START_TEST(test_sender_window_full_waits_for_an_answer)
{
    fake_t f;
    s_fake_start(&f);
    seen_t seen = {0};
    char err[256];
    sender_t *s =
        sender_new(f.endpoint, 1, 300, NULL, s_on_ack, &seen, err, sizeof err);
    ck_assert_ptr_nonnull(s);
    uint8_t map[1] = {0x80};
    ck_assert_int_eq(sender_send(s, map, 1, 1), 0);
    /* the window holds one: the second send times out without an answer */
    ck_assert_int_eq(sender_send(s, map, 1, 2), -1);
    ck_assert_ptr_nonnull(strstr(sender_error(s), "did not answer within "
                                                  "300 ms"));
    ck_assert_ptr_nonnull(strstr(sender_error(s), f.endpoint));
    req_t r;
    s_fake_recv(&f, &r);
    s_fake_ack(&f, &r, true, NULL);
    ck_assert_int_eq(sender_send(s, map, 1, 3), 0);
    s_fake_recv(&f, &r);
    s_fake_answer(&f, &r, "\xc1", 1); /* not an ack map */
    ck_assert_int_eq(sender_flush(s), 0);
    ck_assert_int_eq(seen.n, 2);
    ck_assert(seen.ok[0]);
    ck_assert_uint_eq(seen.tags[1], 3);
    ck_assert(!seen.ok[1]);
    ck_assert_str_eq(seen.errors[1], "malformed answer from the broker");
    sender_destroy(&s);
    s_fake_stop(&f);
}
END_TEST

START_TEST(test_sender_unreachable_broker_times_out)
{
    seen_t seen = {0};
    char err[256];
    /* port 1 on loopback: nothing listens there */
    sender_t *s = sender_new("tcp://127.0.0.1:1", 8, 200, NULL, s_on_ack, &seen,
                             err, sizeof err);
    ck_assert_ptr_nonnull(s);
    uint8_t map[1] = {0x80};
    ck_assert_int_eq(sender_send(s, map, 1, 1), 0);
    ck_assert_int_eq(sender_flush(s), -1);
    ck_assert_str_eq(sender_error(s), "broker at 'tcp://127.0.0.1:1' did not "
                                      "answer within 200 ms");
    sender_destroy(&s);
    ck_assert_ptr_null(
        sender_new("nonsense", 1, 100, NULL, s_on_ack, &seen, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "cannot connect to 'nonsense'"));
}
END_TEST

/* ---- CurveZMQ ------------------------------------------------------------ */

static void
s_client_keys(sender_curve_t *k, const fake_t *f)
{
    ck_assert_int_eq(zmq_curve_keypair(k->public_key, k->secret_key), 0);
    snprintf(k->server_key, sizeof k->server_key, "%s", f->public_key);
}

static int64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends one message that can never be answered; the flush must fail
 * well before the 5 s timeout, with an error holding want. */
static void
s_expect_handshake_failure(const char *endpoint, const sender_curve_t *k,
                           const char *want)
{
    seen_t seen = {0};
    char err[256];
    sender_t *s =
        sender_new(endpoint, 1, 5000, k, s_on_ack, &seen, err, sizeof err);
    ck_assert_ptr_nonnull(s);
    uint8_t map[1] = {0x80};
    int64_t t0 = s_now_ms();
    ck_assert_int_eq(sender_send(s, map, 1, 1), 0);
    ck_assert_int_eq(sender_flush(s), -1);
    ck_assert_int_lt(s_now_ms() - t0, 3000);
    ck_assert_msg(strstr(sender_error(s), want), "'%s' does not say '%s'",
                  sender_error(s), want);
    ck_assert_int_eq(seen.n, 0);
    sender_destroy(&s);
}

START_TEST(test_sender_curve_round_trip_and_mismatches)
{
    fake_t f;
    s_fake_start_opt(&f, true);
    sender_curve_t k;
    s_client_keys(&k, &f);
    seen_t seen = {0};
    char err[256];
    sender_t *s =
        sender_new(f.endpoint, 1, 2000, &k, s_on_ack, &seen, err, sizeof err);
    ck_assert_ptr_nonnull(s);
    uint8_t map[1] = {0x80};
    ck_assert_int_eq(sender_send(s, map, 1, 5), 0);
    req_t r;
    s_fake_recv(&f, &r);
    s_fake_ack(&f, &r, true, NULL);
    ck_assert_int_eq(sender_flush(s), 0);
    ck_assert_int_eq(seen.n, 1);
    ck_assert(seen.ok[0]);
    sender_destroy(&s);

    /* a plain client of a CURVE broker */
    s_expect_handshake_failure(f.endpoint, NULL, "CurveZMQ");
    /* the wrong server key */
    sender_curve_t wrong = k;
    char unused[41];
    ck_assert_int_eq(zmq_curve_keypair(wrong.server_key, unused), 0);
    s_expect_handshake_failure(f.endpoint, &wrong, "CurveZMQ");
    s_fake_stop(&f);

    /* a CURVE client of a plain broker */
    s_fake_start(&f);
    s_expect_handshake_failure(f.endpoint, &k, "CurveZMQ");
    s_fake_stop(&f);
}
END_TEST

/* A ZAP handler refusing every client, as zauth does for a key that is
 * not in its directory. Runs until stop is set. */
typedef struct zap {
    void *rep; /* bound by the test before the thread starts */
    atomic_bool stop;
    int requests;
} zap_t;

static void *
s_zap_thread(void *arg)
{
    zap_t *z = arg;
    void *rep = z->rep;
    while (!atomic_load(&z->stop)) {
        zmq_pollitem_t it = {rep, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 50) <= 0)
            continue;
        /* version, request id, domain, address, identity, mechanism,
         * credentials...: only the request id is echoed */
        char id[256];
        int id_len = 0, more = 1, i = 0;
        while (more) {
            char part[512];
            int n = zmq_recv(rep, part, sizeof part, 0);
            if (i == 1 && n > 0) {
                id_len = n > (int)sizeof id ? (int)sizeof id : n;
                memcpy(id, part, (size_t)id_len);
            }
            size_t ml = sizeof more;
            zmq_getsockopt(rep, ZMQ_RCVMORE, &more, &ml);
            i++;
        }
        z->requests++;
        zmq_send(rep, "1.0", 3, ZMQ_SNDMORE);
        zmq_send(rep, id, (size_t)id_len, ZMQ_SNDMORE);
        zmq_send(rep, "400", 3, ZMQ_SNDMORE);
        zmq_send(rep, "No access", 9, ZMQ_SNDMORE);
        zmq_send(rep, "", 0, ZMQ_SNDMORE);
        zmq_send(rep, "", 0, 0);
    }
    zmq_close(rep);
    return NULL;
}

START_TEST(test_sender_refused_key_fails_at_once)
{
    fake_t f;
    zap_t z = {0};
    pthread_t t;
    s_fake_start_opt(&f, true);
    /* bound before any client connects: every handshake consults it (the
     * socket then moves to the thread; pthread_create is the barrier) */
    z.rep = zmq_socket(f.ctx, ZMQ_REP);
    int linger = 0;
    zmq_setsockopt(z.rep, ZMQ_LINGER, &linger, sizeof linger);
    ck_assert_int_eq(zmq_bind(z.rep, "inproc://zeromq.zap.01"), 0);
    ck_assert_int_eq(pthread_create(&t, NULL, s_zap_thread, &z), 0);
    sender_curve_t k;
    s_client_keys(&k, &f);
    s_expect_handshake_failure(f.endpoint, &k,
                               "refused this client's CurveZMQ key");
    atomic_store(&z.stop, true);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_ge(z.requests, 1);
    s_fake_stop(&f);
}
END_TEST

Suite *
sender_suite(void)
{
    Suite *s = suite_create("sender");
    TCase *tc = tcase_create("acks");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_sender_pipelines_and_matches_answers_out_of_order);
    tcase_add_test(tc, test_sender_window_full_waits_for_an_answer);
    tcase_add_test(tc, test_sender_unreachable_broker_times_out);
    suite_add_tcase(s, tc);
    tc = tcase_create("curve");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_sender_curve_round_trip_and_mismatches);
    tcase_add_test(tc, test_sender_refused_key_fails_at_once);
    suite_add_tcase(s, tc);
    return s;
}
