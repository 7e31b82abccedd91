/*
 * sender - conduit-pub's side of the broker's acknowledged ingress.
 *
 * Sequence numbers index a ring of `window` slots. Answers normally come
 * back in order (one broker loop), but nothing here relies on it: the ring
 * only advances its base past answered slots, and a new sequence is sent
 * only while it stays within base + window, so a slot is never reused
 * while its message is still awaited. Answers whose sequence is not
 * awaited (a duplicate, a stale one) are ignored.
 *
 * Plain libzmq rather than czmq: czmq's zsys installs its own SIGINT
 * handling, and a shell tool should die on Ctrl-C like any other.
 *
 * SPDX-License-Identifier: MIT
 */
#include "cli/sender.h"

#include "common/cdt_clock.h"
#include "common/cdt_mem.h"
#include "common/cdt_msgpack.h"
#include "proto/cdt_ack.h"
#include "proto/cdt_ingress.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

typedef struct slot {
    uint64_t tag;
    bool waiting;
} slot_t;

struct sender {
    void *ctx;
    void *sock;
    void *mon;      /* PAIR: the DEALER's handshake events */
    bool curve;     /* we are a CURVE client */
    int vague;      /* handshakes that failed without a reason */
    char *endpoint; /* owned, for messages */
    size_t window;
    int64_t timeout_ms;
    sender_ack_fn *fn;
    void *arg;
    slot_t *slots; /* [window], indexed by seq % window */
    uint64_t base; /* lowest sequence still awaited (or == next) */
    uint64_t next; /* sequence of the next message */
    size_t pending;
    char error[512];
};

/* Applies the CURVE client keys. Returns 0 or -1. */
static int
s_set_curve(void *sock, const sender_curve_t *c)
{
    return zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, c->server_key,
                          SENDER_Z85_LEN) ||
                   zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, c->public_key,
                                  SENDER_Z85_LEN) ||
                   zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, c->secret_key,
                                  SENDER_Z85_LEN)
               ? -1
               : 0;
}

/* Watches the DEALER's handshakes on an inproc PAIR (the context is
 * ours alone, so the name cannot collide). Returns 0 or -1. */
static int
s_monitor(sender_t *self)
{
    const char *ep = "inproc://conduit-pub-monitor";
    if (zmq_socket_monitor(self->sock, ep,
                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0)
        return -1;
    self->mon = zmq_socket(self->ctx, ZMQ_PAIR);
    int linger = 0;
    if (!self->mon ||
        zmq_setsockopt(self->mon, ZMQ_LINGER, &linger, sizeof linger) ||
        zmq_connect(self->mon, ep) == -1)
        return -1;
    return 0;
}

sender_t *
sender_new(const char *endpoint, size_t window, int64_t timeout_ms,
           const sender_curve_t *curve, sender_ack_fn *fn, void *arg, char *err,
           size_t errlen)
{
    assert(window > 0 && timeout_ms > 0);
    sender_t *self = cdt_xcalloc(1, sizeof *self);
    self->endpoint = cdt_xstrdup(endpoint);
    self->window = window;
    self->timeout_ms = timeout_ms;
    self->fn = fn;
    self->arg = arg;
    self->slots = cdt_xcalloc(window, sizeof *self->slots);
    self->base = self->next = 1;
    self->ctx = zmq_ctx_new();
    if (!self->ctx)
        goto fail;
    self->sock = zmq_socket(self->ctx, ZMQ_DEALER);
    if (!self->sock)
        goto fail;
    int linger = 0;
    /* a full window in flight both ways, with room to spare */
    int hwm = window > 100000 ? 400000 : (int)window * 4;
    if (zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof linger) ||
        zmq_setsockopt(self->sock, ZMQ_SNDHWM, &hwm, sizeof hwm) ||
        zmq_setsockopt(self->sock, ZMQ_RCVHWM, &hwm, sizeof hwm))
        goto fail;
    self->curve = curve != NULL;
    if ((curve && s_set_curve(self->sock, curve) != 0) || s_monitor(self) != 0)
        goto fail;
    if (zmq_connect(self->sock, endpoint) == -1)
        goto fail;
    return self;
fail:
    snprintf(err, errlen, "cannot connect to '%s': %s", endpoint,
             zmq_strerror(zmq_errno()));
    sender_destroy(&self);
    return NULL;
}

void
sender_destroy(sender_t **self_p)
{
    assert(self_p);
    sender_t *self = *self_p;
    if (!self)
        return;
    if (self->sock) {
        if (self->mon)
            (void)zmq_socket_monitor(self->sock, NULL, 0);
        zmq_close(self->sock);
    }
    if (self->mon)
        zmq_close(self->mon);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    free(self->slots);
    free(self->endpoint);
    free(self);
    *self_p = NULL;
}

size_t
sender_pending(const sender_t *self)
{
    return self->pending;
}

const char *
sender_error(const sender_t *self)
{
    return self->error;
}

static void
s_put_seq(uint8_t out[CDT_INGRESS_SEQ_LEN], uint64_t seq)
{
    for (int i = CDT_INGRESS_SEQ_LEN - 1; i >= 0; i--) {
        out[i] = (uint8_t)(seq & 0xff);
        seq >>= 8;
    }
}

static uint64_t
s_get_seq(const uint8_t in[CDT_INGRESS_SEQ_LEN])
{
    uint64_t seq = 0;
    for (int i = 0; i < CDT_INGRESS_SEQ_LEN; i++)
        seq = (seq << 8) | in[i];
    return seq;
}

static void
s_answered(sender_t *self, uint64_t seq, const uint8_t *reply, size_t len)
{
    if (seq < self->base || seq >= self->next)
        return;
    slot_t *slot = &self->slots[seq % self->window];
    if (!slot->waiting)
        return;
    slot->waiting = false;
    self->pending--;
    while (self->base < self->next &&
           !self->slots[self->base % self->window].waiting)
        self->base++;
    bool ok = false;
    char error[512];
    if (cdt_ingress_decode_ack(reply, len, &ok, error, sizeof error) == -1) {
        ok = false;
        snprintf(error, sizeof error, "malformed answer from the broker");
    }
    if (self->fn)
        self->fn(self->arg, slot->tag, ok, ok ? "" : error, reply, len);
}

/* Reads every answer that is already there. Returns how many were read,
 * or -1 on a socket error. */
static int
s_drain(sender_t *self)
{
    int n = 0;
    for (;;) {
        zmq_msg_t seq, body;
        zmq_msg_init(&seq);
        if (zmq_msg_recv(&seq, self->sock, ZMQ_DONTWAIT) == -1) {
            int e = zmq_errno();
            zmq_msg_close(&seq);
            if (e == EAGAIN)
                return n;
            if (e == EINTR)
                continue;
            snprintf(self->error, sizeof self->error,
                     "cannot receive from '%s': %s", self->endpoint,
                     zmq_strerror(e));
            return -1;
        }
        zmq_msg_init(&body);
        bool two = false;
        if (zmq_msg_more(&seq)) {
            /* the rest of a multipart message is already here */
            if (zmq_msg_recv(&body, self->sock, 0) != -1)
                two = !zmq_msg_more(&body);
            while (zmq_msg_more(&body)) {
                zmq_msg_close(&body);
                zmq_msg_init(&body);
                if (zmq_msg_recv(&body, self->sock, 0) == -1)
                    break;
                two = false;
            }
        }
        if (two && zmq_msg_size(&seq) == CDT_INGRESS_SEQ_LEN)
            s_answered(self, s_get_seq(zmq_msg_data(&seq)), zmq_msg_data(&body),
                       zmq_msg_size(&body));
        zmq_msg_close(&body);
        zmq_msg_close(&seq);
        n++;
    }
}

/* Reads the monitor's events: -1 with the reason in self->error after a
 * failed handshake, else 0. Each event is [u16 event, u32 value] in host
 * order, then the endpoint. */
static int
s_check_handshake(sender_t *self)
{
    int rc = 0;
    for (;;) {
        zmq_msg_t head;
        zmq_msg_init(&head);
        if (zmq_msg_recv(&head, self->mon, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close(&head);
            return rc;
        }
        bool more = zmq_msg_more(&head);
        uint16_t event = 0;
        uint32_t value = 0;
        if (zmq_msg_size(&head) >= 6) {
            memcpy(&event, zmq_msg_data(&head), sizeof event);
            memcpy(&value, (uint8_t *)zmq_msg_data(&head) + 2, sizeof value);
        }
        zmq_msg_close(&head);
        while (more) {
            zmq_msg_t rest;
            zmq_msg_init(&rest);
            more =
                zmq_msg_recv(&rest, self->mon, 0) != -1 && zmq_msg_more(&rest);
            zmq_msg_close(&rest);
        }
        if (rc != 0 || event == 0)
            continue;
        /* The broker closing the connection mid-handshake is what a
         * mechanism or server key mismatch looks like from this side,
         * but a broker going down does it too: only a second one in a
         * row is taken as final. */
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL && ++self->vague < 2)
            continue;
        rc = -1;
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            snprintf(self->error, sizeof self->error,
                     "the broker at '%s' refused this client's CurveZMQ "
                     "key (status %u): its public certificate must be in "
                     "the broker's broker.curve_clients_dir",
                     self->endpoint, (unsigned)value);
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
                 value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
            snprintf(self->error, sizeof self->error,
                     self->curve ? "the broker at '%s' does not use CurveZMQ "
                                   "(drop --curve-cert)"
                                 : "the broker at '%s' requires CurveZMQ (give "
                                   "--curve-cert and --curve-server-public)",
                     self->endpoint);
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
                 value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
            snprintf(self->error, sizeof self->error,
                     "CurveZMQ handshake with '%s' failed: wrong server "
                     "key? (--curve-server-public)",
                     self->endpoint);
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
            snprintf(self->error, sizeof self->error,
                     self->curve
                         ? "the broker at '%s' closed the connection during "
                           "the CurveZMQ handshake: wrong server key "
                           "(--curve-server-public), or the broker does "
                           "not use CurveZMQ?"
                         : "the broker at '%s' closed the connection during "
                           "the handshake: does it require CurveZMQ? (give "
                           "--curve-cert and --curve-server-public)",
                     self->endpoint);
        else
            snprintf(self->error, sizeof self->error,
                     "handshake with '%s' failed (ZeroMQ event 0x%x, "
                     "0x%x)",
                     self->endpoint, (unsigned)event, (unsigned)value);
    }
}

/* Waits until `done` holds, reading answers; the timeout restarts with
 * every answer, so a long backlog that keeps moving is not cut short. */
static int
s_wait(sender_t *self, bool (*done)(const sender_t *))
{
    int64_t deadline = cdt_clock_mono_ms() + self->timeout_ms;
    while (!done(self)) {
        int64_t left = deadline - cdt_clock_mono_ms();
        if (left <= 0) {
            snprintf(self->error, sizeof self->error,
                     "broker at '%s' did not answer within %lld ms",
                     self->endpoint, (long long)self->timeout_ms);
            return -1;
        }
        zmq_pollitem_t items[2] = {{self->sock, 0, ZMQ_POLLIN, 0},
                                   {self->mon, 0, ZMQ_POLLIN, 0}};
        int rc = zmq_poll(items, 2, (long)left);
        if (rc == -1 && zmq_errno() != EINTR) {
            snprintf(self->error, sizeof self->error, "cannot poll: %s",
                     zmq_strerror(zmq_errno()));
            return -1;
        }
        if (s_check_handshake(self) != 0)
            return -1;
        int n = s_drain(self);
        if (n < 0)
            return -1;
        if (n > 0)
            deadline = cdt_clock_mono_ms() + self->timeout_ms;
    }
    return 0;
}

static bool
s_window_open(const sender_t *self)
{
    return self->next - self->base < self->window;
}

static bool
s_all_answered(const sender_t *self)
{
    return self->pending == 0;
}

int
sender_send(sender_t *self, const void *map, size_t len, uint64_t tag)
{
    if (s_drain(self) < 0)
        return -1;
    if (!s_window_open(self) && s_wait(self, s_window_open) == -1)
        return -1;
    uint8_t seq[CDT_INGRESS_SEQ_LEN];
    s_put_seq(seq, self->next);
    int64_t deadline = cdt_clock_mono_ms() + self->timeout_ms;
    while (zmq_send(self->sock, seq, sizeof seq, ZMQ_SNDMORE | ZMQ_DONTWAIT) ==
           -1) {
        int e = zmq_errno();
        int64_t left = deadline - cdt_clock_mono_ms();
        if ((e != EAGAIN && e != EINTR) || left <= 0) {
            if (e == EAGAIN)
                snprintf(self->error, sizeof self->error,
                         "broker at '%s' did not answer within %lld ms",
                         self->endpoint, (long long)self->timeout_ms);
            else
                snprintf(self->error, sizeof self->error,
                         "cannot send to '%s': %s", self->endpoint,
                         zmq_strerror(e));
            return -1;
        }
        /* the queue is full: read answers while it drains */
        zmq_pollitem_t items[2] = {{self->sock, 0, ZMQ_POLLIN | ZMQ_POLLOUT, 0},
                                   {self->mon, 0, ZMQ_POLLIN, 0}};
        (void)zmq_poll(items, 2, (long)left);
        if (s_check_handshake(self) != 0 || s_drain(self) < 0)
            return -1;
    }
    /* once the first part is queued the last one cannot block */
    if (zmq_send(self->sock, map, len, 0) == -1) {
        snprintf(self->error, sizeof self->error, "cannot send to '%s': %s",
                 self->endpoint, zmq_strerror(zmq_errno()));
        return -1;
    }
    slot_t *slot = &self->slots[self->next % self->window];
    slot->tag = tag;
    slot->waiting = true;
    self->next++;
    self->pending++;
    return 0;
}

int
sender_flush(sender_t *self)
{
    return s_wait(self, s_all_answered);
}
