/*
 * ingress - the broker's two service endpoints (proto/cdt_ingress.h).
 *
 *   broker.ingress      SUB, bound: services' PUB sockets connect and send
 *                       one-frame MessagePack maps, fire and forget.
 *   broker.ingress_ack  ROUTER, bound: conduit-pub's DEALER sends
 *                       [8-byte seq][map] and gets [seq][ack map] back.
 *
 * Every message is size-checked (broker.max_ingress_bytes). An `event`
 * as services usually send it is then decoded straight from the bytes
 * (cdt_ingress_decode_event: one bounds-checked walk, no allocation, no
 * msgpack-c; the highest-rate path). Everything else is checked with
 * cdt_msgpack_check before it is unpacked (a declared count can never
 * make msgpack-c allocate more than a small multiple of the input),
 * unpacked (exactly one value, nothing after it) and decoded with
 * cdt_ingress_decode, which also words every refusal. The decoded
 * message goes to the broker's handler, whose verdict becomes the ack. The
 * acknowledged endpoint also answers {"type":"stats"} with the broker's figures
 * ({"ok":true, ...}) through a stats callback.
 *
 * Nothing a peer sends can stop the loop: undecodable input (garbage
 * bytes, truncated MessagePack, an oversize message, the wrong number of
 * frames) is counted as garbage per endpoint and logged at WARN at most
 * once a second per endpoint (common/cdt_ratelog.h), naming the endpoint;
 * refusals are counted per type, logged at WARN (rate-limited) on the fire-and-
 * forget path where nobody else would hear of them, and at DEBUG on the
 * acknowledged path, where the publisher gets the reason.
 *
 * With a curve_t both sockets are CurveZMQ servers (curve.h).
 *
 * Single-threaded: owned by the broker loop.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef INGRESS_H
#define INGRESS_H

#include "broker/curve.h"
#include "common/cdt_buf.h"
#include "proto/cdt_ingress.h"

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Handles one decoded message; msg and msg->raw (its MessagePack bytes)
 * are borrowed for the call. Returns 0 if accepted, or -1 with a
 * one-line reason in err (which becomes the ack's error). */
typedef int(ingress_handler_fn)(void *arg, const cdt_ingress_t *msg, char *err,
                                size_t errlen);

/* Appends the answer to {"type":"stats"}: one complete MessagePack map
 * whose first pair is "ok": true. */
/* A hint for a message that the handler will get soon (the SUB endpoint
 * decodes a few events ahead): called with stage 0 when it is decoded,
 * with stage 1 one message later, then the handler runs one message
 * after that. It may prefetch what handling msg will read; it must not
 * change anything. */
typedef void(ingress_prefetch_fn)(void *arg, const cdt_ingress_t *msg,
                                  int stage);

typedef void(ingress_stats_fn)(void *arg, cdt_buf_t *out);

/* Makes durable what an accepted message changed, before its ack is sent
 * (the acknowledged path only: the fire-and-forget path is synced by the
 * broker's timers). Returns 0, or -1 with a one-line reason in err; the
 * ack then reports the failure, so the publisher retries. */
typedef int(ingress_sync_fn)(void *arg, char *err, size_t errlen);

typedef struct ingress_counters {
    uint64_t accepted[CDT_IN_KEY + 1]; /* by cdt_ingress_type */
    uint64_t refused[CDT_IN_KEY + 1];  /* decoded, refused by the handler */
    uint64_t garbage;     /* bad framing, undecodable or oversize */
    uint64_t sub_garbage; /* of garbage: on the SUB endpoint */
    uint64_t ack_garbage; /* of garbage: on the ROUTER endpoint */
    uint64_t oversize;    /* of garbage: larger than max_bytes */
    uint64_t stats_requests;
    uint64_t acks_sent;
    uint64_t sync_failures; /* accepted, but the sync before the ack failed */
} ingress_counters_t;

typedef struct ingress ingress_t;

/* Binds sub_ep and ack_ep ("" = that endpoint is off), as CurveZMQ
 * servers when curve is not NULL (borrowed; it must outlive the
 * ingress). Returns the ingress (caller owns) or NULL after logging
 * why. */
ingress_t *ingress_new(const char *sub_ep, const char *ack_ep, size_t max_bytes,
                       curve_t *curve, ingress_handler_fn *handler,
                       ingress_stats_fn *stats, void *arg);

void ingress_destroy(ingress_t **self_p);

/* Sets the sync called before each positive ack (NULL = none); it gets
 * the handler's arg. */
void ingress_set_sync(ingress_t *self, ingress_sync_fn *sync);

/* Sets the hint called for events decoded ahead (NULL = none); it gets
 * the handler's arg. */
void ingress_set_prefetch(ingress_t *self, ingress_prefetch_fn *prefetch);

/* The sockets, for zloop_reader (NULL when off). */
zsock_t *ingress_sub_sock(ingress_t *self);
zsock_t *ingress_ack_sock(ingress_t *self);

/* Read and handle what is waiting on each socket (a bounded batch). */
void ingress_on_sub(ingress_t *self, int64_t now_ms);
void ingress_on_ack(ingress_t *self, int64_t now_ms);

/* Handles one message body as if received; with ack non-NULL (the
 * acknowledged path) appends the ack map to it. Returns 0 if accepted.
 * Exposed for tests. */
int ingress_process(ingress_t *self, const uint8_t *buf, size_t len,
                    cdt_buf_t *ack, int64_t now_ms);

const ingress_counters_t *ingress_counters(const ingress_t *self);

#endif
