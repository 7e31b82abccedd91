/*
 * ingress - the broker's two service endpoints.
 *
 * SPDX-License-Identifier: MIT
 */
#define CDT_LOG_MODULE "ingress"
#include "broker/ingress.h"

#include "broker/ratelog.h"
#include "common/cdt_log.h"
#include "common/cdt_mem.h"

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

struct ingress {
    zsock_t *sub;
    zsock_t *ack;
    size_t max_bytes;
    ingress_handler_fn *handler;
    ingress_stats_fn *stats;
    void *arg;
    cdt_buf_t reply;
    ratelog_t garbage_log;
    ratelog_t refused_log;
    ingress_counters_t counters;
};

static zsock_t *
s_bind(int type, const char *ep, size_t max_bytes)
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
    if (zsock_bind(s, "%s", ep) == -1) {
        cdt_log_error("cannot bind '%s': %s", ep, zmq_strerror(zmq_errno()));
        zsock_destroy(&s);
        return NULL;
    }
    return s;
}

ingress_t *
ingress_new(const char *sub_ep, const char *ack_ep, size_t max_bytes,
            ingress_handler_fn *handler, ingress_stats_fn *stats, void *arg)
{
    assert(handler);
    ingress_t *self = cdt_xcalloc(1, sizeof *self);
    self->max_bytes = max_bytes;
    self->handler = handler;
    self->stats = stats;
    self->arg = arg;
    cdt_buf_init(&self->reply);
    if (sub_ep && *sub_ep && !(self->sub = s_bind(ZMQ_SUB, sub_ep, max_bytes)))
        goto fail;
    if (ack_ep && *ack_ep &&
        !(self->ack = s_bind(ZMQ_ROUTER, ack_ep, max_bytes)))
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
    free(self);
    *self_p = NULL;
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

static void
s_garbage(ingress_t *self, const char *why, int64_t now_ms)
{
    self->counters.garbage++;
    uint64_t skipped = 0;
    if (ratelog_allow(&self->garbage_log, now_ms, &skipped))
        cdt_log_warn("dropping an ingress message: %s (%" PRIu64
                     " more since the last report)",
                     why, skipped);
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

int
ingress_process(ingress_t *self, const uint8_t *buf, size_t len, cdt_buf_t *ack,
                int64_t now_ms)
{
    assert(self);
    char err[512];
    int rc = -1;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);

    if (len > self->max_bytes) {
        self->counters.oversize++;
        snprintf(err, sizeof err, "message too large (%zu bytes, limit %zu)",
                 len, self->max_bytes);
        s_garbage(self, err, now_ms);
        goto reply;
    }
    size_t off = 0;
    if (len == 0 || msgpack_unpack_next(&up, (const char *)buf, len, &off) !=
                        MSGPACK_UNPACK_SUCCESS) {
        snprintf(err, sizeof err, "not a MessagePack value");
        s_garbage(self, err, now_ms);
        goto reply;
    }
    if (off != len) {
        snprintf(err, sizeof err, "%zu trailing bytes after the map",
                 len - off);
        s_garbage(self, err, now_ms);
        goto reply;
    }
    if (s_is_stats(&up.data)) {
        self->counters.stats_requests++;
        if (!ack) {
            s_garbage(self, "a stats request on the fire-and-forget path",
                      now_ms);
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
    cdt_ingress_t msg;
    if (cdt_ingress_decode(&up.data, &msg, err, sizeof err) != 0) {
        s_garbage(self, err, now_ms);
        goto reply;
    }
    err[0] = '\0';
    const char *tname = cdt_ingress_type_name(msg.type);
    if (self->handler(self->arg, &msg, err, sizeof err) == 0) {
        self->counters.accepted[msg.type]++;
        cdt_log_debug("accepted a '%s' message", tname);
        rc = 0;
        goto reply;
    }
    self->counters.refused[msg.type]++;
    if (!err[0])
        snprintf(err, sizeof err, "refused");
    if (ack) {
        cdt_log_debug("refused a '%s' message: %s", tname, err);
    } else {
        uint64_t skipped = 0;
        if (ratelog_allow(&self->refused_log, now_ms, &skipped))
            cdt_log_warn("refused a '%s' message: %s (%" PRIu64
                         " more since the last report)",
                         tname, err, skipped);
    }
reply:
    if (ack) {
        cdt_ingress_encode_ack(ack, rc == 0, rc == 0 ? NULL : err);
        self->counters.acks_sent++;
    }
done:
    msgpack_unpacked_destroy(&up);
    return rc;
}

/* ---- sockets ------------------------------------------------------------ */

void
ingress_on_sub(ingress_t *self, int64_t now_ms)
{
    assert(self && self->sub);
    void *s = zsock_resolve(self->sub);
    for (int i = 0; i < BATCH; i++) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, s, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close(&msg);
            return;
        }
        if (zmq_msg_more(&msg)) {
            s_garbage(self, "more than one frame", now_ms);
            while (zmq_msg_more(&msg) && zmq_msg_recv(&msg, s, 0) != -1)
                ;
        } else {
            (void)ingress_process(self, zmq_msg_data(&msg), zmq_msg_size(&msg),
                                  NULL, now_ms);
        }
        zmq_msg_close(&msg);
    }
}

void
ingress_on_ack(ingress_t *self, int64_t now_ms)
{
    assert(self && self->ack);
    void *s = zsock_resolve(self->ack);
    for (int i = 0; i < BATCH; i++) {
        zmq_msg_t parts[3];
        int n = 0;
        bool more = true;
        zmq_msg_init(&parts[0]);
        if (zmq_msg_recv(&parts[0], s, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close(&parts[0]);
            return;
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
        cdt_buf_reset(&self->reply);
        if (n == 3 && !extra &&
            zmq_msg_size(&parts[1]) == CDT_INGRESS_SEQ_LEN) {
            (void)ingress_process(self, zmq_msg_data(&parts[2]),
                                  zmq_msg_size(&parts[2]), &self->reply,
                                  now_ms);
        } else {
            s_garbage(self,
                      "expected two frames: an 8-byte sequence number and "
                      "a map",
                      now_ms);
            if (n >= 2 && zmq_msg_size(&parts[1]) <= SEQ_MAX)
                cdt_ingress_encode_ack(&self->reply, false,
                                       "expected two frames: an 8-byte "
                                       "sequence number and a map");
        }
        if (self->reply.len > 0) {
            /* Echo the routing id and the sequence frame, then the ack. */
            if (zmq_send(s, zmq_msg_data(&parts[0]), zmq_msg_size(&parts[0]),
                         ZMQ_SNDMORE | ZMQ_DONTWAIT) != -1 &&
                zmq_send(s, zmq_msg_data(&parts[1]), zmq_msg_size(&parts[1]),
                         ZMQ_SNDMORE | ZMQ_DONTWAIT) != -1)
                (void)zmq_send(s, self->reply.data, self->reply.len,
                               ZMQ_DONTWAIT);
        }
        for (int k = 0; k < n; k++)
            zmq_msg_close(&parts[k]);
    }
}

const ingress_counters_t *
ingress_counters(const ingress_t *self)
{
    return &self->counters;
}
