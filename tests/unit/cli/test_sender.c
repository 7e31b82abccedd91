/*
 * test_sender - conduit-pub's acknowledged, pipelined sending, against a
 * ROUTER socket playing the broker on an ephemeral loopback port.
 *
 * SPDX-License-Identifier: MIT
 */
#include "cli/sender.h"

#include "common/cdt_buf.h"
#include "proto/cdt_ingress.h"

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

Suite *sender_suite(void);

typedef struct fake {
    void *ctx;
    void *router;
    char endpoint[64];
} fake_t;

static void
s_fake_start(fake_t *f)
{
    f->ctx = zmq_ctx_new();
    f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
    int linger = 0;
    zmq_setsockopt(f->router, ZMQ_LINGER, &linger, sizeof linger);
    ck_assert_int_eq(zmq_bind(f->router, "tcp://127.0.0.1:*"), 0);
    size_t len = sizeof f->endpoint;
    ck_assert_int_eq(
        zmq_getsockopt(f->router, ZMQ_LAST_ENDPOINT, f->endpoint, &len), 0);
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
        sender_new(f.endpoint, 4, 2000, s_on_ack, &seen, err, sizeof err);
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
        sender_new(f.endpoint, 1, 300, s_on_ack, &seen, err, sizeof err);
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
    sender_t *s = sender_new("tcp://127.0.0.1:1", 8, 200, s_on_ack, &seen, err,
                             sizeof err);
    ck_assert_ptr_nonnull(s);
    uint8_t map[1] = {0x80};
    ck_assert_int_eq(sender_send(s, map, 1, 1), 0);
    ck_assert_int_eq(sender_flush(s), -1);
    ck_assert_str_eq(sender_error(s), "broker at 'tcp://127.0.0.1:1' did not "
                                      "answer within 200 ms");
    sender_destroy(&s);
    ck_assert_ptr_null(
        sender_new("nonsense", 1, 100, s_on_ack, &seen, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "cannot connect to 'nonsense'"));
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
    return s;
}
