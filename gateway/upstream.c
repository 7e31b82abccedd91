/*
 * upstream - the gateway's link to the broker (proto/cdt_link.h, G side).
 *
 * A frame from the broker is a batch: one or more link messages back to
 * back, each decoded (bounds-checked first, cdt_link_decode_next) and
 * handed on in order; the drain budget counts messages, not frames, and
 * a frame is always finished once started (it holds at most
 * CDT_LINK_BATCH_BYTES plus one message). A message that does not decode
 * ends its frame: the ones before it were complete and stand, the rest
 * cannot be delimited. Such frames are counted, and reported at WARN at
 * most once a second.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/upstream.h"

#define CDT_LOG_MODULE "link"
#include "common/cdt_clock.h"
#include "common/cdt_log.h"
#include "common/cdt_mem.h"
#include "common/cdt_ratelog.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* link messages handled per drain before yielding to the loop */
#define DRAIN_BUDGET 1024
/* until the broker says otherwise (WELCOME) */
#define DEFAULT_HEARTBEAT_MS 1000
#define DEFAULT_TIMEOUT_MS   5000
/* frames: the broker's batches, each at most CDT_LINK_BATCH_BYTES plus
 * one message, so this bounds what a stalled gateway holds here */
#define LINK_HWM 8192

struct upstream {
    zsock_t *sock;
    char *endpoint;
    char *name;
    uint64_t incarnation; /* ours, random per process */
    upstream_msg_fn *on_msg;
    upstream_state_fn *on_state;
    upstream_batch_fn *on_batch;
    void *arg;

    struct lws_context *ctx;
    struct lws *wsi; /* the adopted descriptor */
    int fd_dup;      /* what lws polls: a dup of ZMQ_FD, lws closes it */
    lws_sorted_usec_list_t sul_drain;
    bool drain_scheduled;
    bool draining;

    bool up;
    bool have_broker;
    uint64_t broker_incarnation;
    uint32_t heartbeat_ms;
    uint32_t timeout_ms;
    int64_t last_rx_ms;    /* monotonic; last message while up */
    int64_t next_ping_ms;  /* PING when up, HELLO when down */
    int64_t down_since_ms; /* monotonic; start of the current down spell */
    bool down_warned;      /* the spell has been reported */
    bool curve;            /* the link uses CurveZMQ */
    bool have_secret;      /* a WELCOME gave token_secret */
    uint8_t token_secret[CDT_LINK_SECRET_LEN];

    msgpack_zone zone;
    cdt_buf_t out;
    cdt_ratelog_t malformed_log; /* one WARN a second about them */
    upstream_stats_t stats;
};

static void s_drain(upstream_t *self);

static void
s_sul_drain_cb(lws_sorted_usec_list_t *sul)
{
    upstream_t *self = lws_container_of(sul, upstream_t, sul_drain);
    self->drain_scheduled = false;
    s_drain(self);
}

static void
s_schedule_drain(upstream_t *self)
{
    if (self->drain_scheduled || !self->ctx)
        return;
    self->drain_scheduled = true;
    lws_sul_schedule(self->ctx, 0, &self->sul_drain, s_sul_drain_cb, 1);
}

static int
s_send_raw(upstream_t *self, const void *data, size_t len)
{
    int rc = zmq_send(zsock_resolve(self->sock), data, len, ZMQ_DONTWAIT);
    /* the send may have consumed the descriptor's edge for pending input */
    s_schedule_drain(self);
    if (rc < 0) {
        self->stats.send_failures++;
        return -1;
    }
    self->stats.sent++;
    return 0;
}

static void
s_send_hello(upstream_t *self)
{
    cdt_buf_reset(&self->out);
    cdt_link_encode_hello(&self->out, self->name, self->incarnation,
                          CDT_LINK_VERSION);
    (void)s_send_raw(self, self->out.data, self->out.len);
}

static void
s_send_ping(upstream_t *self)
{
    cdt_buf_reset(&self->out);
    cdt_link_encode_ping(&self->out, self->incarnation);
    (void)s_send_raw(self, self->out.data, self->out.len);
}

static void
s_link_down(upstream_t *self, const char *why, int64_t now_ms)
{
    if (!self->up)
        return;
    self->up = false;
    self->stats.link_losses++;
    self->down_since_ms = now_ms;
    self->down_warned = false;
    cdt_log_warn("broker link '%s' down: %s", self->endpoint, why);
    self->on_state(self->arg, false);
    s_send_hello(self);
    self->next_ping_ms = now_ms + self->heartbeat_ms;
}

static void
s_on_welcome(upstream_t *self, const cdt_link_msg_t *msg, int64_t now_ms)
{
    bool restarted =
        self->have_broker && msg->incarnation != self->broker_incarnation;
    self->heartbeat_ms =
        msg->heartbeat_ms ? msg->heartbeat_ms : DEFAULT_HEARTBEAT_MS;
    self->timeout_ms = msg->timeout_ms ? msg->timeout_ms : DEFAULT_TIMEOUT_MS;
    if (self->timeout_ms < 2 * self->heartbeat_ms)
        self->timeout_ms = 2 * self->heartbeat_ms;
    self->last_rx_ms = now_ms;
    /* a restarted broker draws a new secret: take it on every WELCOME */
    if (msg->secret.len == sizeof self->token_secret) {
        memcpy(self->token_secret, msg->secret.ptr, msg->secret.len);
        self->have_secret = true;
    } else {
        cdt_log_warn("broker '%s' sent a %zu-byte token secret: negotiate "
                     "tokens stay local to this gateway",
                     self->endpoint, msg->secret.len);
        OPENSSL_cleanse(self->token_secret, sizeof self->token_secret);
        self->have_secret = false;
    }
    if (self->up && !restarted)
        return;
    if (self->up && restarted) {
        /* the old incarnation's state is gone: tell the owner so it
         * fails what was pending there, then replay as for a new link */
        self->up = false;
        self->stats.link_losses++;
        self->on_state(self->arg, false);
    }
    self->broker_incarnation = msg->incarnation;
    self->have_broker = true;
    self->up = true;
    self->down_warned = false;
    self->next_ping_ms = now_ms + self->heartbeat_ms;
    cdt_log_notice("broker link '%s' up (broker incarnation %llx%s)",
                   self->endpoint, (unsigned long long)msg->incarnation,
                   restarted ? ", restarted" : "");
    self->on_state(self->arg, true);
}

/* Counts a malformed frame (or an unexpected message) and reports it at
 * most once a second (common/cdt_ratelog.h). */
static void
s_malformed(upstream_t *self, const char *what, size_t at, size_t len)
{
    self->stats.malformed++;
    uint64_t quiet = 0;
    if (!cdt_ratelog_allow(&self->malformed_log, cdt_clock_mono_ms(), &quiet))
        return;
    cdt_log_warn("dropping %s from broker '%s' (at byte %zu of a %zu-byte "
                 "frame; %llu more since the last report)",
                 what, self->endpoint, at, len, (unsigned long long)quiet);
}

/* One decoded message. */
static void
s_dispatch(upstream_t *self, const cdt_link_msg_t *msg, int64_t now, size_t at,
           size_t len)
{
    switch (msg->kind) {
    case CDT_LINK_WELCOME:
        s_on_welcome(self, msg, now);
        break;
    case CDT_LINK_PONG:
        if (self->up && msg->incarnation != self->broker_incarnation) {
            s_link_down(self, "broker restarted", now);
            break;
        }
        if (self->up)
            self->last_rx_ms = now;
        break;
    case CDT_LINK_AUTH_REP:
    case CDT_LINK_CONN_READY:
    case CDT_LINK_INVOKE_REP:
    case CDT_LINK_EVENT:
    case CDT_LINK_DIRECT:
    case CDT_LINK_KICK:
        if (self->up)
            self->last_rx_ms = now;
        self->on_msg(self->arg, msg);
        break;
    default:
        s_malformed(self, cdt_link_kind_name(msg->kind), at, len);
        break;
    }
}

size_t
upstream_handle_frame(upstream_t *self, const uint8_t *data, size_t len)
{
    self->stats.received++;
    int64_t now = cdt_clock_mono_ms();
    size_t off = 0, n = 0;
    do { /* an empty frame does not decode either */
        cdt_link_msg_t msg;
        size_t used;
        if (cdt_link_decode_next(data + off, len - off, &self->zone, &msg,
                                 &used) != 0) {
            msgpack_zone_clear(&self->zone);
            s_malformed(self, "a malformed message", off, len);
            break;
        }
        self->stats.messages++;
        n++;
        s_dispatch(self, &msg, now, off, len);
        msgpack_zone_clear(&self->zone);
        off += used;
    } while (off < len);
    return n;
}

static void
s_drain(upstream_t *self)
{
    if (self->draining)
        return; /* the outer loop receives until EAGAIN anyway */
    self->draining = true;
    void *sock = zsock_resolve(self->sock);
    int budget = DRAIN_BUDGET;
    bool more_left = false;
    bool handled = false;
    while (true) {
        if (budget-- <= 0) {
            more_left = (zsock_events(self->sock) & ZMQ_POLLIN) != 0;
            break;
        }
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            if (zmq_errno() == EINTR)
                continue;
            /* after EAGAIN, check the events once more: this is what
             * re-arms the descriptor's edge */
            if (zsock_events(self->sock) & ZMQ_POLLIN)
                continue;
            break;
        }
        bool more = zmq_msg_more(&m);
        if (!more) {
            size_t n =
                upstream_handle_frame(self, zmq_msg_data(&m), zmq_msg_size(&m));
            /* the loop counted one already; a batch counts per message */
            if (n > 1)
                budget -= n < DRAIN_BUDGET ? (int)n - 1 : DRAIN_BUDGET;
            handled = true;
        } else {
            s_malformed(self, "a multi-frame message", 0, zmq_msg_size(&m));
        }
        zmq_msg_close(&m);
        while (more) { /* a multi-frame message is not ours: discard */
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                break;
            }
            more = zmq_msg_more(&m);
            zmq_msg_close(&m);
        }
    }
    self->draining = false;
    if (handled && self->on_batch)
        self->on_batch(self->arg);
    if (more_left)
        s_schedule_drain(self);
}

void
upstream_on_batch(upstream_t *self, upstream_batch_fn *on_batch)
{
    self->on_batch = on_batch;
}

void
upstream_poll(upstream_t *self)
{
    if (self->sock)
        s_drain(self);
}

/* Both certificates, or -1 after logging why (nothing to free then). */
static int
s_load_curve(const char *curve_cert, const char *curve_server_public,
             zcert_t **own_p, zcert_t **srv_p)
{
    zcert_t *own = zcert_load(curve_cert);
    zcert_t *srv = curve_server_public && *curve_server_public
                       ? zcert_load(curve_server_public)
                       : NULL;
    if (!own || !srv) {
        cdt_log_error("cannot load curve certificates '%s' and '%s'",
                      curve_cert,
                      curve_server_public ? curve_server_public : "");
        goto fail;
    }
    /* a public certificate without its FILE_secret beside it loads with
     * a zero secret key, and every handshake would then fail */
    const char *secret = zcert_secret_txt(own);
    if (strspn(secret, "0") == strlen(secret)) {
        cdt_log_error("cannot use '%s' as gateway.curve_cert: no secret key "
                      "(expected '%s_secret' beside it)",
                      curve_cert, curve_cert);
        goto fail;
    }
    *own_p = own;
    *srv_p = srv;
    return 0;
fail:
    zcert_destroy(&own);
    zcert_destroy(&srv);
    return -1;
}

int
upstream_check_curve(const char *curve_cert, const char *curve_server_public)
{
    zcert_t *own, *srv;
    if (s_load_curve(curve_cert, curve_server_public, &own, &srv) != 0)
        return -1;
    zcert_destroy(&own);
    zcert_destroy(&srv);
    return 0;
}

upstream_t *
upstream_new(const char *endpoint, const char *gw_name, const char *curve_cert,
             const char *curve_server_public, upstream_msg_fn *on_msg,
             upstream_state_fn *on_state, void *arg)
{
    upstream_t *self = cdt_xcalloc(1, sizeof *self);
    self->endpoint = cdt_xstrdup(endpoint);
    self->name = cdt_xstrdup(gw_name);
    self->on_msg = on_msg;
    self->on_state = on_state;
    self->arg = arg;
    self->fd_dup = -1;
    self->heartbeat_ms = DEFAULT_HEARTBEAT_MS;
    self->timeout_ms = DEFAULT_TIMEOUT_MS;
    self->down_since_ms = cdt_clock_mono_ms();
    msgpack_zone_init(&self->zone, 4096);
    if (getrandom(&self->incarnation, sizeof self->incarnation, 0) !=
        (ssize_t)sizeof self->incarnation)
        self->incarnation =
            (uint64_t)cdt_clock_wall_ms() ^ ((uint64_t)getpid() << 40);

    self->sock = zsock_new(ZMQ_DEALER);
    if (!self->sock) {
        cdt_log_error("cannot create the broker link socket: %s",
                      zmq_strerror(zmq_errno()));
        goto fail;
    }
    zsock_set_immediate(self->sock, 1);
    zsock_set_sndhwm(self->sock, LINK_HWM);
    zsock_set_rcvhwm(self->sock, LINK_HWM);
    zsock_set_linger(self->sock, 0);
    zsock_set_reconnect_ivl(self->sock, 100);
    zsock_set_reconnect_ivl_max(self->sock, 1000);
    if (curve_cert && *curve_cert) {
        zcert_t *own, *srv;
        if (s_load_curve(curve_cert, curve_server_public, &own, &srv) != 0)
            goto fail;
        zcert_apply(own, self->sock);
        self->curve = true;
        zsock_set_curve_serverkey(self->sock, zcert_public_txt(srv));
        zcert_destroy(&own);
        zcert_destroy(&srv);
    }
    if (zsock_connect(self->sock, "%s", endpoint) != 0) {
        cdt_log_error("cannot connect to broker '%s': %s", endpoint,
                      zmq_strerror(zmq_errno()));
        goto fail;
    }
    return self;
fail:
    upstream_destroy(&self);
    return NULL;
}

void
upstream_destroy(upstream_t **self_p)
{
    assert(self_p);
    upstream_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy(&self->sock);
    msgpack_zone_destroy(&self->zone);
    cdt_buf_release(&self->out);
    free(self->endpoint);
    free(self->name);
    OPENSSL_cleanse(self->token_secret, sizeof self->token_secret);
    free(self);
    *self_p = NULL;
}

int
upstream_lws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                      void *user, void *in, size_t len)
{
    (void)user;
    (void)in;
    (void)len;
    const struct lws_protocols *p = lws_get_protocol(wsi);
    upstream_t *self = p ? p->user : NULL;
    if (!self)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        s_drain(self);
        break;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (self->wsi == wsi) {
            self->wsi = NULL;
            self->fd_dup = -1;
        }
        break;
    default:
        break;
    }
    return 0;
}

int
upstream_attach(upstream_t *self, struct lws_context *ctx,
                struct lws_vhost *vhost, const char *protocol_name)
{
    self->ctx = ctx;
    /* lws closes what it adopts; zmq must keep its own descriptor */
    self->fd_dup = dup(zsock_fd(self->sock));
    if (self->fd_dup < 0) {
        cdt_log_error("cannot duplicate the broker link descriptor: %s",
                      strerror(errno));
        return -1;
    }
    lws_sock_file_fd_type fd;
    memset(&fd, 0, sizeof fd);
    fd.filefd = self->fd_dup;
    self->wsi = lws_adopt_descriptor_vhost(vhost, LWS_ADOPT_RAW_FILE_DESC, fd,
                                           protocol_name, NULL);
    if (!self->wsi) {
        cdt_log_error("cannot adopt the broker link descriptor into lws");
        close(self->fd_dup);
        self->fd_dup = -1;
        return -1;
    }
    s_send_hello(self);
    self->next_ping_ms = cdt_clock_mono_ms() + 100;
    return 0;
}

int
upstream_send(upstream_t *self, const cdt_buf_t *frame)
{
    return s_send_raw(self, frame->data, frame->len);
}

void
upstream_tick(upstream_t *self, int64_t now_ms)
{
    if (!self->up && !self->down_warned &&
        now_ms - self->down_since_ms >= self->timeout_ms) {
        /* the link cannot say why (ZeroMQ hides a refused CurveZMQ
         * handshake): list the usual causes, once per down spell */
        self->down_warned = true;
        cdt_log_warn("no answer from broker '%s' for %lld ms: is it "
                     "running there, of this release (link version %d)%s?",
                     self->endpoint, (long long)(now_ms - self->down_since_ms),
                     CDT_LINK_VERSION,
                     self->curve
                         ? ", does its broker.curve_clients_dir hold our "
                           "public certificate, and is "
                           "gateway.curve_server_public its certificate"
                         : ", and does it not require CurveZMQ");
    }
    if (self->up && now_ms - self->last_rx_ms >= self->timeout_ms) {
        s_link_down(self, "no answer within the link timeout", now_ms);
    } else if (now_ms >= self->next_ping_ms) {
        /* while down, HELLO often: with ZMQ_IMMEDIATE a HELLO sent before
         * the TCP connection exists is dropped */
        if (self->up)
            s_send_ping(self);
        else
            s_send_hello(self);
        self->next_ping_ms =
            now_ms +
            (self->up ? self->heartbeat_ms
                      : (self->heartbeat_ms < 250 ? self->heartbeat_ms : 250));
    }
    s_drain(self);
}

bool
upstream_is_up(const upstream_t *self)
{
    return self->up;
}

uint64_t
upstream_broker_incarnation(const upstream_t *self)
{
    return self->broker_incarnation;
}

uint64_t
upstream_incarnation(const upstream_t *self)
{
    return self->incarnation;
}

const upstream_stats_t *
upstream_stats(const upstream_t *self)
{
    return &self->stats;
}

const uint8_t *
upstream_token_secret(const upstream_t *self)
{
    return self->have_secret ? self->token_secret : NULL;
}
