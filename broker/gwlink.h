/*
 * gwlink - the broker's end of the gateway link (proto/cdt_link.h, the B
 * side): one ROUTER socket, every gateway a DEALER.
 *
 * Gateways. A HELLO admits a gateway under a small slot number (the key
 * the groups registry and the router use). Every message refreshes its
 * last-seen time; gwlink_check_timeouts forgets a gateway silent for
 * timeout_ms, with all its connections and memberships.
 *
 * Incarnations. The value a gateway sees in WELCOME and PONG identifies
 * the broker's memory of that gateway: the broker's random incarnation
 * plus an even number that changes on each admission. A gateway compares
 * it with the last one it saw and replays its connections when it
 * changes, which is right after a broker restart (new random base) and
 * equally right after this broker forgot the gateway (timeout, or a
 * reconnection under a new routing id): in both cases the broker lost the
 * memberships. A message other than HELLO from an unknown routing id gets
 * a PONG carrying the base plus one, a value no admission uses, which
 * makes the gateway say HELLO and replay.
 *
 * Connections. AUTH is answered from the key table (200/401/404, 429 at
 * the per-key or total connection cap). CONN_OPEN re-checks the key,
 * enforces the caps (not for restore=true: those connections already
 * exist) and joins the hub's join_on_connect groups, or the listed groups
 * on restore. INVOKE is evaluated by invoke.c and answered with
 * INVOKE_REP, followed for a task subscription by a DIRECT with the
 * task's last event on that hub. KICK goes to every gateway.
 *
 * Batches (proto/cdt_link.h). Every message for an admitted gateway is
 * appended to that gateway's batch, in the order it is produced, and
 * gwlink_flush sends each batch as one frame; the owner calls it when
 * every loop callback that may have produced messages returns, so no
 * message waits across a loop turn. gwlink_on_readable flushes itself.
 *
 * Sends use ZMQ_ROUTER_MANDATORY without blocking: a batch for a gateway
 * that is gone or whose queue is full is counted (per message) and
 * dropped, never allowed to stall the broker loop.
 *
 * Hostile input. A frame larger than max_frame_bytes, one that does not
 * decode (cdt_link_decode: garbage, truncated MessagePack, wrong shape),
 * a message of the wrong number of frames or a broker-to-gateway kind is
 * dropped, counted (garbage, and oversize for the first) and reported at
 * WARN at most once a second; the next message is handled as usual. A
 * HELLO of another CDT_LINK_VERSION gets no WELCOME: it is counted
 * (version_refused) and reported at ERROR, naming both versions, at most
 * once a second. With
 * ctx.curve the socket is a CurveZMQ server (curve.h).
 *
 * Single-threaded: owned by the broker loop.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef GWLINK_H
#define GWLINK_H

#include "broker/curve.h"
#include "broker/groups.h"
#include "broker/keys.h"
#include "broker/router.h"
#include "broker/tasks.h"
#include "common/cdt_catalog.h"

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most gateways admitted at once. */
#define GWLINK_MAX_GATEWAYS 1024

/* What gwlink works with; all borrowed, outliving the gwlink. */
typedef struct gwlink_ctx {
    const cdt_catalog_t *catalog;
    keys_t *keys;
    groups_t *groups;
    tasks_t *tasks;       /* task ownership and last events; may be NULL */
    router_t *router;     /* send_self events */
    uint64_t incarnation; /* the broker's, random */
    int64_t heartbeat_ms;
    int64_t timeout_ms;
    int64_t max_conns_per_key;
    int64_t max_conns_total;
    size_t max_frame_bytes; /* larger frames are dropped; 0 = no limit */
    curve_t *curve;         /* NULL = plain ZeroMQ */
} gwlink_ctx_t;

typedef struct gwlink_counters {
    uint64_t gateways_admitted;
    uint64_t gateways_timed_out;
    uint64_t auth_ok;
    uint64_t auth_refused; /* 401/404/429 */
    uint64_t conns_opened;
    uint64_t conns_restored;
    uint64_t conns_refused;
    uint64_t conns_closed;
    uint64_t invokes_ok;
    uint64_t invokes_failed;
    uint64_t directs;
    uint64_t kicks;
    uint64_t garbage;         /* undecodable, misdirected or oversize */
    uint64_t oversize;        /* of garbage: frames over max_frame_bytes */
    uint64_t version_refused; /* HELLOs of another CDT_LINK_VERSION */
    uint64_t send_errors;     /* messages lost: gateway gone or queue full */
    uint64_t frames;          /* frames (batches) sent */
} gwlink_counters_t;

/* One admitted gateway, for the stats answer. */
typedef struct gwlink_gateway_info {
    const char *name; /* borrowed; valid until the next loop turn */
    uint32_t slot;
    size_t connections; /* the broker's view */
    uint64_t sends;     /* messages queued for it (events, replies) */
    uint64_t events;    /* of sends: EVENT frames routed to it */
    int64_t silent_ms;  /* since its last message */
} gwlink_gateway_info_t;

typedef struct gwlink gwlink_t;

/* Binds a ROUTER on endpoint. Returns the link (caller owns) or NULL after
 * logging why. */
gwlink_t *gwlink_new(const char *endpoint, const gwlink_ctx_t *ctx);

void gwlink_destroy(gwlink_t **self_p);

/* The socket, for zloop_reader. */
zsock_t *gwlink_sock(gwlink_t *self);

/* Reads and handles what is waiting (a bounded batch), then flushes. */
void gwlink_on_readable(gwlink_t *self, int64_t now_ms);

/* Handles one message from routing id rid (exposed for tests). */
void gwlink_handle(gwlink_t *self, const uint8_t *rid, size_t rid_len,
                   const uint8_t *buf, size_t len, int64_t now_ms);

/* Queues one encoded link message for gateway slot gw (sent by the next
 * gwlink_flush, or at once if its batch is full). Returns 0, or -1 if no
 * gateway holds the slot. A failure to send is counted in send_errors. */
int gwlink_send(gwlink_t *self, uint32_t gw, const void *frame, size_t len);

/* gwlink_send as a router_send_fn (arg = the gwlink). */
int gwlink_send_fn(void *arg, uint32_t gw, const void *frame, size_t len);

/* Sends every gateway's batch (one frame each). Call before the loop
 * waits again, after anything that may have queued messages. */
void gwlink_flush(gwlink_t *self);

/* Forgets gateways silent for timeout_ms. */
void gwlink_check_timeouts(gwlink_t *self, int64_t now_ms);

/* Tells every gateway to close key_id's connections (queued, in order
 * after what each was sent before) and forgets them now. Returns how many
 * connections the broker knew of. */
size_t gwlink_kick(gwlink_t *self, int64_t key_id, const char *reason);

size_t gwlink_n_gateways(const gwlink_t *self);

/* Fills *info for the i-th admitted gateway (in slot order, i <
 * gwlink_n_gateways). Returns true, or false when i is out of range. */
bool gwlink_gateway_info(const gwlink_t *self, size_t i, int64_t now_ms,
                         gwlink_gateway_info_t *info);

const gwlink_counters_t *gwlink_counters(const gwlink_t *self);

#endif
