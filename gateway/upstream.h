/*
 * upstream - the gateway's link to the broker (proto/cdt_link.h, G side).
 *
 * One ZeroMQ DEALER socket connected to broker.gateway_link. Its ZMQ_FD is
 * adopted into the gateway's libwebsockets loop as a raw file descriptor,
 * so one loop serves WebSockets and the broker. ZMQ_FD signals like an
 * edge trigger: it fires when the socket's state changes, not while
 * messages wait, and any zmq call (a send too) may consume that edge. So
 * the link drains (receives until nothing is left) on every readable
 * callback, on every tick, and soon after every send; a drain handles at
 * most a bounded number of messages per loop iteration and reschedules
 * itself, so a burst of events cannot starve the WebSocket writes.
 *
 * Link state: DOWN until a WELCOME answers our HELLO (sent every
 * heartbeat while down); UP while the broker answers. PING every
 * heartbeat_ms; no message for timeout_ms, or a PONG from another broker
 * incarnation, puts the link DOWN and starts the HELLOs again. The owner
 * hears every transition through on_state: on UP it must replay its live
 * connections (the broker may have restarted or forgotten this gateway).
 * Frames from the broker are batches of link messages (proto/cdt_link.h):
 * each message is decoded and handed on, in order.
 * ZMQ_IMMEDIATE is set, so nothing is queued for a broker that is not
 * connected: a send then fails at once and the caller answers its client
 * with an error instead of a hang.
 *
 * Single-threaded: everything runs on the gateway loop.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef UPSTREAM_H
#define UPSTREAM_H

#include "proto/cdt_link.h"

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct upstream upstream_t;

/* A decoded message from the broker (borrowed for the call). */
typedef void(upstream_msg_fn)(void *arg, const cdt_link_msg_t *msg);

/* The link went up (after a WELCOME) or down. */
typedef void(upstream_state_fn)(void *arg, bool up);

typedef struct upstream_stats {
    uint64_t sent;          /* frames handed to zmq */
    uint64_t send_failures; /* frames zmq refused (no broker, HWM) */
    uint64_t received;      /* frames received (each a batch) */
    uint64_t messages;      /* link messages decoded from them */
    uint64_t malformed;     /* frames that did not decode to the end, and
                               messages of a kind not for a gateway */
    uint64_t link_losses;   /* UP -> DOWN transitions */
} upstream_stats_t;

/* Loads the two CurveZMQ certificates as upstream_new would (ours must
 * come with its secret key) and drops them. Returns 0, or -1 after
 * logging why. For --check-config. */
int upstream_check_curve(const char *curve_cert,
                         const char *curve_server_public);

/* Creates the DEALER socket and connects it. curve_cert and
 * curve_server_public are zcert file paths, both empty/NULL for a plain
 * link. Returns NULL after logging why. */
upstream_t *upstream_new(const char *endpoint, const char *gw_name,
                         const char *curve_cert,
                         const char *curve_server_public,
                         upstream_msg_fn *on_msg, upstream_state_fn *on_state,
                         void *arg);

/* Closes the socket. Call after the lws context is destroyed. */
void upstream_destroy(upstream_t **self_p);

/* Called (with upstream_new's arg) after each drain that handled at least
 * one message: where the gateway writes what the batch queued, without
 * waiting for a loop turn. */
typedef void(upstream_batch_fn)(void *arg);
void upstream_on_batch(upstream_t *self, upstream_batch_fn *on_batch);

/* The lws protocol callback for the adopted descriptor; the protocol's
 * `user` must be the upstream_t. */
int upstream_lws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                          void *user, void *in, size_t len);

/* Adopts the socket's descriptor into vhost under protocol_name and sends
 * the first HELLO. Returns 0 or -1. */
int upstream_attach(upstream_t *self, struct lws_context *ctx,
                    struct lws_vhost *vhost, const char *protocol_name);

/* Sends one frame without blocking. Returns 0, or -1 if zmq refused it
 * (counted; the caller treats the request as failed). */
int upstream_send(upstream_t *self, const cdt_buf_t *frame);

/* Handles one frame from the broker as the drain does: every link message
 * in it, in order, through on_msg (on_state for WELCOME and PONG); stops
 * at the first message that does not decode (counted in malformed).
 * Returns how many messages decoded. Exposed for tests; data is borrowed
 * for the call. */
size_t upstream_handle_frame(upstream_t *self, const uint8_t *data, size_t len);

/* Heartbeats, link timeout and a safety drain; call every ~100 ms. */
void upstream_tick(upstream_t *self, int64_t now_ms);

/* Receives what the broker sent meanwhile (at most one drain's budget),
 * for a caller that works long between two loop turns. Does nothing when
 * called from inside a drain. */
void upstream_poll(upstream_t *self);

bool upstream_is_up(const upstream_t *self);
uint64_t upstream_broker_incarnation(const upstream_t *self);
uint64_t upstream_incarnation(const upstream_t *self);
const upstream_stats_t *upstream_stats(const upstream_t *self);

/* The broker's CDT_LINK_SECRET_LEN-byte negotiate token secret from the
 * last WELCOME, or NULL while none has come (tokens then stay local). */
const uint8_t *upstream_token_secret(const upstream_t *self);

#endif
