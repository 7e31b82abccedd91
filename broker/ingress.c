/*
 * ingress - the broker's two service endpoints.
 *
 * The acknowledged endpoint commits in groups: a batch of messages read in
 * one go is handled, then the sync hook runs once for all the messages it
 * accepted, and only then are the acks sent. A publisher with many
 * messages in flight (conduit-pub ndjson) pays one fsync per batch rather
 * than one per message, and still no ack leaves before its change is
 * durable.
 *
 * The fire-and-forget endpoint reads events a couple of messages ahead of
 * handling them and hints the handler about each (ingress_set_prefetch),
 * so the group lookups of a fast stream do not each wait for memory.
 *
 * SPDX-License-Identifier: MIT
 */
#define CDT_LOG_MODULE "ingress"
#include "broker/ingress.h"

#include "common/cdt_log.h"
#include "common/cdt_mem.h"
#include "common/cdt_msgpack.h"
#include "common/cdt_ratelog.h"

#include <assert.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 512
#define HWM   100000
/* Frames beyond this make ZeroMQ drop the peer before we ever see them:
 * a guard against memory exhaustion, far above the refusal limit. */
#define HARD_LIMIT_FACTOR 16
#define SEQ_MAX           64
/* Group names an event may list and still take the fast path. */
#define FAST_GROUPS 64

/* Events the SUB endpoint reads this many messages ahead of handling
 * them (ingress_on_sub). */
#define AHEAD 2

/* An event read ahead: its frame, which msg borrows from. */
typedef struct {
    zmq_msg_t frame;
    cdt_ingress_t msg;
    msgpack_object groups[FAST_GROUPS];
} s_ahead_t;

/* One ack of a batch, waiting for the sync. */
typedef struct {
    zmq_msg_t rid, seq; /* the frames to echo */
    size_t off, len;    /* the ack map in reply */
    bool synced;        /* false: accepted, its change not yet durable */
} s_held_t;

struct ingress {
    zsock_t *sub;
    zsock_t *ack;
    size_t max_bytes;
    ingress_handler_fn *handler;
    ingress_stats_fn *stats;
    ingress_sync_fn *sync;
    ingress_prefetch_fn *prefetch;
    void *arg;
    char *sub_ep;    /* owned, for logs */
    char *ack_ep;    /* owned, for logs */
    cdt_buf_t reply; /* the acks of one batch, back to back */
    s_held_t *held;  /* BATCH slots: acks waiting for the batch's sync */
    /* decoded messages live here until handled: one zone for all, cleared
     * per message, so that decoding allocates nothing in steady state */
    msgpack_zone zone;
    /* the group names of an event decoded by the fast path */
    msgpack_object fast_groups[FAST_GROUPS];
    s_ahead_t ahead[AHEAD + 1]; /* a ring, empty between calls */
    /* [0] the SUB endpoint, [1] the ROUTER; then by s_kind */
    cdt_ratelog_t garbage_log[2][3];
    cdt_ratelog_t refused_log;
    ingress_counters_t counters;
};

static zsock_t *
s_bind(int type, const char *ep, size_t max_bytes, curve_t *curve,
       const char *name)
{
    zsock_t *s = zsock_new(type);
    if (!s) {
        cdt_log_error("cannot create a socket for '%s': %s", ep,
                      zmq_strerror(zmq_errno()));
        return NULL;
    }
    zsock_set_rcvhwm(s, HWM);
    zsock_set_sndhwm(s, HWM);
    zsock_set_linger(s, 0);
    int64_t hard = (int64_t)max_bytes * HARD_LIMIT_FACTOR;
    if (hard > 0 && max_bytes < (size_t)INT64_MAX / HARD_LIMIT_FACTOR)
        zsock_set_maxmsgsize(s, (int)(hard > INT32_MAX ? -1 : hard));
    if (type == ZMQ_SUB)
        zsock_set_subscribe(s, "");
    if (curve && curve_secure(curve, s, name) != 0) {
        zsock_destroy(&s);
        return NULL;
    }
    if (zsock_bind(s, "%s", ep) == -1) {
        cdt_log_error("cannot bind '%s': %s", ep, zmq_strerror(zmq_errno()));
        zsock_destroy(&s);
        return NULL;
    }
    return s;
}

ingress_t *
ingress_new(const char *sub_ep, const char *ack_ep, size_t max_bytes,
            curve_t *curve, ingress_handler_fn *handler,
            ingress_stats_fn *stats, void *arg)
{
    assert(handler);
    ingress_t *self = cdt_xcalloc(1, sizeof *self);
    self->max_bytes = max_bytes;
    self->handler = handler;
    self->stats = stats;
    self->arg = arg;
    self->sub_ep = cdt_xstrdup(sub_ep ? sub_ep : "");
    self->ack_ep = cdt_xstrdup(ack_ep ? ack_ep : "");
    cdt_buf_init(&self->reply);
    msgpack_zone_init(&self->zone, 8192);
    if (*self->sub_ep &&
        !(self->sub = s_bind(ZMQ_SUB, sub_ep, max_bytes, curve, "ingress")))
        goto fail;
    if (*self->ack_ep && !(self->ack = s_bind(ZMQ_ROUTER, ack_ep, max_bytes,
                                              curve, "ingress_ack")))
        goto fail;
    return self;
fail:
    ingress_destroy(&self);
    return NULL;
}

void
ingress_destroy(ingress_t **self_p)
{
    assert(self_p);
    ingress_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy(&self->sub);
    zsock_destroy(&self->ack);
    cdt_buf_release(&self->reply);
    msgpack_zone_destroy(&self->zone);
    free(self->held);
    free(self->sub_ep);
    free(self->ack_ep);
    free(self);
    *self_p = NULL;
}

void
ingress_set_sync(ingress_t *self, ingress_sync_fn *sync)
{
    assert(self);
    self->sync = sync;
}

void
ingress_set_prefetch(ingress_t *self, ingress_prefetch_fn *prefetch)
{
    assert(self);
    self->prefetch = prefetch;
}

zsock_t *
ingress_sub_sock(ingress_t *self)
{
    return self->sub;
}

zsock_t *
ingress_ack_sock(ingress_t *self)
{
    return self->ack;
}

/* ---- one message -------------------------------------------------------- */

/* What is wrong with a bad message: each kind has its own WARN rate
 * limit, so a flood of one kind cannot hide another. */
enum s_kind {
    K_MALFORMED, /* not MessagePack, or not an ingress map */
    K_OVERSIZE,  /* over max_bytes */
    K_SHAPE,     /* the wrong frames */
};

/* Counts and (rate-limited, per endpoint and kind) reports one bad
 * message; ack says which endpoint it came from. */
static void
s_garbage(ingress_t *self, bool ack, enum s_kind kind, const char *why,
          int64_t now_ms)
{
    self->counters.garbage++;
    if (ack)
        self->counters.ack_garbage++;
    else
        self->counters.sub_garbage++;
    uint64_t skipped = 0;
    if (cdt_ratelog_allow(&self->garbage_log[ack][kind], now_ms, &skipped))
        cdt_log_warn("dropping a message on '%s' (%s): %s (%" PRIu64
                     " more since the last report)",
                     ack ? "ingress_ack" : "ingress",
                     ack ? self->ack_ep : self->sub_ep, why, skipped);
}

/* True if obj is a map whose "type" is "stats". */
static bool
s_is_stats(const msgpack_object *obj)
{
    if (obj->type != MSGPACK_OBJECT_MAP)
        return false;
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object_kv *kv = &obj->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 4 &&
            memcmp(kv->key.via.str.ptr, "type", 4) == 0)
            return kv->val.type == MSGPACK_OBJECT_STR &&
                   kv->val.via.str.size == 5 &&
                   memcmp(kv->val.via.str.ptr, "stats", 5) == 0;
    }
    return false;
}

/* Gives a decoded message to the handler and counts what it said; a
 * refusal's reason is left in err. Returns the handler's 0 or -1. */
static int
s_handle(ingress_t *self, const cdt_ingress_t *msg, bool on_ack, int64_t now_ms,
         char *err, size_t errlen)
{
    err[0] = '\0';
    const char *tname = cdt_ingress_type_name(msg->type);
    if (self->handler(self->arg, msg, err, errlen) == 0) {
        self->counters.accepted[msg->type]++;
        cdt_log_debug("accepted a '%s' message", tname);
        return 0;
    }
    self->counters.refused[msg->type]++;
    if (!err[0])
        snprintf(err, errlen, "refused");
    if (on_ack) {
        cdt_log_debug("refused a '%s' message: %s", tname, err);
    } else {
        uint64_t skipped = 0;
        if (cdt_ratelog_allow(&self->refused_log, now_ms, &skipped))
            cdt_log_warn("refused a '%s' message: %s (%" PRIu64
                         " more since the last report)",
                         tname, err, skipped);
    }
    return -1;
}

/* Handles one message; with ack, appends its ack map. An accepted
 * message's positive ack is written but its sync is left to the caller:
 * *synced_p is set false then. fast: try the fast path first (false
 * when the caller already did). */
static int
s_process(ingress_t *self, const uint8_t *buf, size_t len, cdt_buf_t *ack,
          int64_t now_ms, bool fast, bool *synced_p)
{
    assert(self);
    *synced_p = true;
    char err[512];
    int rc = -1;
    msgpack_object obj;

    bool on_ack = ack != NULL;
    if (len > self->max_bytes) {
        self->counters.oversize++;
        snprintf(err, sizeof err, "message too large (%zu bytes, limit %zu)",
                 len, self->max_bytes);
        s_garbage(self, on_ack, K_OVERSIZE, err, now_ms);
        goto reply;
    }
    cdt_ingress_t msg;
    /* An event as services usually send it is read straight from the
     * bytes, bounds-checked as it goes, allocating nothing and never
     * handing them to msgpack-c (cdt_ingress.h); anything else takes the
     * general path below, which also words every refusal. */
    if (fast && len > 0 &&
        cdt_ingress_decode_event(buf, len, &msg, self->fast_groups,
                                 FAST_GROUPS) == 0)
        goto handle;
    /* Checked before unpacking: msgpack-c allocates a container's storage
     * from its declared count (common/cdt_msgpack.h). */
    size_t used = 0, off = 0;
    if (len == 0 || cdt_msgpack_check(buf, len, &used) != 0) {
        snprintf(err, sizeof err,
                 "not a MessagePack value (malformed or truncated)");
        s_garbage(self, on_ack, K_MALFORMED, err, now_ms);
        goto reply;
    }
    if (used != len) {
        snprintf(err, sizeof err, "%zu trailing bytes after the first value",
                 len - used);
        s_garbage(self, on_ack, K_MALFORMED, err, now_ms);
        goto reply;
    }
    if (msgpack_unpack((const char *)buf, len, &off, &self->zone, &obj) !=
            MSGPACK_UNPACK_SUCCESS ||
        off != len) {
        snprintf(err, sizeof err,
                 "not a MessagePack value (nested too deeply)");
        s_garbage(self, on_ack, K_MALFORMED, err, now_ms);
        goto reply;
    }
    if (s_is_stats(&obj)) {
        self->counters.stats_requests++;
        if (!ack) {
            s_garbage(self, false, K_SHAPE,
                      "a stats request on the fire-and-forget path", now_ms);
            goto done;
        }
        if (self->stats)
            self->stats(self->arg, ack);
        else
            cdt_ingress_encode_ack(ack, true, NULL);
        self->counters.acks_sent++;
        rc = 0;
        goto done;
    }
    if (cdt_ingress_decode(&obj, &msg, err, sizeof err) != 0) {
        s_garbage(self, on_ack, K_MALFORMED, err, now_ms);
        goto reply;
    }
    /* handlers may pass values on as they came (cdt_ingress_value_bytes) */
    cdt_ingress_set_raw(&msg, buf, len);
handle:
    rc = s_handle(self, &msg, on_ack, now_ms, err, sizeof err);
    if (rc == 0)
        *synced_p = !(ack && self->sync);
reply:
    if (ack) {
        cdt_ingress_encode_ack(ack, rc == 0, rc == 0 ? NULL : err);
        self->counters.acks_sent++;
    }
done:
    msgpack_zone_clear(&self->zone);
    return rc;
}

/* Runs the sync hook; on failure, err gets the reason for the acks. */
static bool
s_sync(ingress_t *self, char *err, size_t errlen)
{
    err[0] = '\0';
    if (self->sync(self->arg, err, errlen) == 0)
        return true;
    if (!err[0])
        snprintf(err, errlen, "cannot store the change");
    return false;
}

int
ingress_process(ingress_t *self, const uint8_t *buf, size_t len, cdt_buf_t *ack,
                int64_t now_ms)
{
    size_t start = ack ? ack->len : 0;
    bool synced;
    int rc = s_process(self, buf, len, ack, now_ms, true, &synced);
    char err[512];
    if (!synced && !s_sync(self, err, sizeof err)) {
        /* handled, but not durable: the publisher must not take it as
         * safe */
        self->counters.sync_failures++;
        ack->len = start;
        cdt_ingress_encode_ack(ack, false, err);
        rc = -1;
    }
    return rc;
}

/* ---- sockets ------------------------------------------------------------ */

/* Handles the oldest event of the ring self->ahead[*head] (*n held). */
static void
s_ahead_pop(ingress_t *self, size_t *head, size_t *n, int64_t now_ms)
{
    s_ahead_t *a = &self->ahead[*head];
    char err[512];
    (void)s_handle(self, &a->msg, false, now_ms, err, sizeof err);
    zmq_msg_close(&a->frame);
    *head = (*head + 1) % (AHEAD + 1);
    (*n)--;
}

/* An event the fast path reads waits in self->ahead while the next AHEAD
 * messages are read, so the prefetch hint can ask for what handling it
 * will touch (the group's slot, then its record) that much earlier:
 * with many groups those are cache misses, paid twice per event
 * otherwise. Any other message first lets the waiting events through,
 * so the order of handling is the order of arrival. */
void
ingress_on_sub(ingress_t *self, int64_t now_ms)
{
    assert(self && self->sub);
    void *s = zsock_resolve(self->sub);
    size_t head = 0, n = 0;
    for (int i = 0; i < BATCH; i++) {
        s_ahead_t *a = &self->ahead[(head + n) % (AHEAD + 1)];
        zmq_msg_init(&a->frame);
        if (zmq_msg_recv(&a->frame, s, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close(&a->frame);
            break;
        }
        const uint8_t *buf = zmq_msg_data(&a->frame);
        size_t len = zmq_msg_size(&a->frame);
        bool more = zmq_msg_more(&a->frame);
        bool fast_tried = !more && len > 0 && len <= self->max_bytes;
        if (fast_tried && cdt_ingress_decode_event(buf, len, &a->msg, a->groups,
                                                   FAST_GROUPS) == 0) {
            if (self->prefetch) {
                self->prefetch(self->arg, &a->msg, 0);
                if (n > 0)
                    self->prefetch(
                        self->arg,
                        &self->ahead[(head + n - 1) % (AHEAD + 1)].msg, 1);
            }
            if (++n > AHEAD)
                s_ahead_pop(self, &head, &n, now_ms);
            continue;
        }
        while (n > 0)
            s_ahead_pop(self, &head, &n, now_ms);
        if (more) {
            s_garbage(self, false, K_SHAPE, "more than one frame", now_ms);
            while (zmq_msg_more(&a->frame) &&
                   zmq_msg_recv(&a->frame, s, 0) != -1)
                ;
        } else {
            bool synced; /* stays true: no ack, so no sync */
            (void)s_process(self, buf, len, NULL, now_ms, !fast_tried, &synced);
        }
        zmq_msg_close(&a->frame);
    }
    while (n > 0)
        s_ahead_pop(self, &head, &n, now_ms);
}

/* Sends the held acks: first one sync for every message they accept. */
static void
s_flush_acks(ingress_t *self, void *s, size_t n)
{
    bool unsynced = false;
    for (size_t i = 0; i < n; i++)
        unsynced |= !self->held[i].synced;
    char err[512];
    if (unsynced && !s_sync(self, err, sizeof err)) {
        /* handled, but not durable: no publisher may take it as safe */
        for (size_t i = 0; i < n; i++) {
            s_held_t *h = &self->held[i];
            if (h->synced)
                continue;
            self->counters.sync_failures++;
            h->off = self->reply.len;
            cdt_ingress_encode_ack(&self->reply, false, err);
            h->len = self->reply.len - h->off;
        }
    }
    for (size_t i = 0; i < n; i++) {
        s_held_t *h = &self->held[i];
        /* Echo the routing id and the sequence frame, then the ack. */
        if (zmq_send(s, zmq_msg_data(&h->rid), zmq_msg_size(&h->rid),
                     ZMQ_SNDMORE | ZMQ_DONTWAIT) != -1 &&
            zmq_send(s, zmq_msg_data(&h->seq), zmq_msg_size(&h->seq),
                     ZMQ_SNDMORE | ZMQ_DONTWAIT) != -1)
            (void)zmq_send(s, self->reply.data + h->off, h->len, ZMQ_DONTWAIT);
        zmq_msg_close(&h->rid);
        zmq_msg_close(&h->seq);
    }
    cdt_buf_reset(&self->reply);
}

void
ingress_on_ack(ingress_t *self, int64_t now_ms)
{
    assert(self && self->ack);
    void *s = zsock_resolve(self->ack);
    if (!self->held)
        self->held = cdt_xcalloc(BATCH, sizeof *self->held);
    size_t n_held = 0;
    cdt_buf_reset(&self->reply);
    for (int i = 0; i < BATCH; i++) {
        zmq_msg_t parts[3];
        int n = 0;
        bool more = true;
        zmq_msg_init(&parts[0]);
        if (zmq_msg_recv(&parts[0], s, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close(&parts[0]);
            break;
        }
        n = 1;
        more = zmq_msg_more(&parts[0]);
        while (more && n < 3) {
            zmq_msg_init(&parts[n]);
            if (zmq_msg_recv(&parts[n], s, 0) == -1) {
                zmq_msg_close(&parts[n]);
                more = false;
                break;
            }
            more = zmq_msg_more(&parts[n]);
            n++;
        }
        bool extra = more;
        if (extra) {
            zmq_msg_t junk;
            zmq_msg_init(&junk);
            while (more && zmq_msg_recv(&junk, s, 0) != -1)
                more = zmq_msg_more(&junk);
            zmq_msg_close(&junk);
        }
        size_t off = self->reply.len;
        bool synced = true;
        if (n == 3 && !extra &&
            zmq_msg_size(&parts[1]) == CDT_INGRESS_SEQ_LEN) {
            (void)s_process(self, zmq_msg_data(&parts[2]),
                            zmq_msg_size(&parts[2]), &self->reply, now_ms, true,
                            &synced);
        } else {
            s_garbage(self, true, K_SHAPE,
                      "expected two frames: an 8-byte sequence number and "
                      "a map",
                      now_ms);
            if (n >= 2 && zmq_msg_size(&parts[1]) <= SEQ_MAX)
                cdt_ingress_encode_ack(&self->reply, false,
                                       "expected two frames: an 8-byte "
                                       "sequence number and a map");
        }
        if (self->reply.len > off) {
            /* held until the batch is synced: the routing id and the
             * sequence frame move into the slot */
            s_held_t *h = &self->held[n_held++];
            zmq_msg_init(&h->rid);
            zmq_msg_init(&h->seq);
            zmq_msg_move(&h->rid, &parts[0]);
            zmq_msg_move(&h->seq, &parts[1]);
            h->off = off;
            h->len = self->reply.len - off;
            h->synced = synced;
        }
        for (int k = 0; k < n; k++)
            zmq_msg_close(&parts[k]);
    }
    s_flush_acks(self, s, n_held);
}

const ingress_counters_t *
ingress_counters(const ingress_t *self)
{
    return &self->counters;
}
