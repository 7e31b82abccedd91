/*
 * broker - conduit-broker: one zloop that owns everything.
 *
 * The broker object holds the hub catalog, the key table and its
 * run-time changes (keyops), the group registry, the task registry, the
 * spend, provider health and webhook modules, the router, the gateway
 * link, the two ingress endpoints, CurveZMQ on all three endpoints when
 * broker.curve_secret_cert is set (curve.h) and the durable store
 * (broker.store), and wires them together:
 *
 *   ingress --(decoded message)--> broker dispatch --> tasks / spend /
 *                                  health / webhook / keyops / router
 *   modules --(emit_fn)----------> router --(EVENT)--> gwlink --> gateways
 *   keyops  --(kick)-------------> gwlink --(KICK)---> every gateway
 *   gwlink  <--(AUTH, CONN_*, INVOKE)-- gateways
 *
 * What the broker acknowledged is in the store before the ack leaves
 * (tasks, alert state, provider health, run-time keys) and is read back
 * by broker_new, so a kill -9 loses none of it.
 *
 * There is no global state besides the log settings and CZMQ's signal
 * flag, so tests can run two brokers in one process (on distinct
 * endpoints). Everything runs on the thread that calls broker_run.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef BROKER_H
#define BROKER_H

#include "common/cdt_buf.h"
#include "common/cdt_config.h"

#include <czmq.h>
#include <stdint.h>

typedef struct broker broker_t;

/* Opens the store, loads the catalog and keys named by cfg (with the
 * store's run-time key changes over them) and the stored state of the
 * modules, and binds the three endpoints.
 * cfg is borrowed and must outlive the broker. Returns the broker (caller
 * owns) or NULL after logging why. */
broker_t *broker_new(const cdt_config_t *cfg);

/* Runs the loop until SIGINT/SIGTERM (CZMQ's handler) or, in an actor,
 * until $TERM. Returns 0, or -1 if the loop failed. */
int broker_run(broker_t *self);

/* Closes the sockets and frees everything; sets *self_p to NULL; safe on
 * NULL. */
void broker_destroy(broker_t **self_p);

/* Validates what broker_new would load (catalog, keys, master key hash,
 * the CurveZMQ certificate and clients directory) without binding
 * anything. Returns 0, or -1 after logging why. */
int broker_check_config(const cdt_config_t *cfg);

/* The random incarnation of this broker instance. */
uint64_t broker_incarnation(const broker_t *self);

/* Appends the stats map ({"ok": true, figures...}) to out, as answered to
 * {"type":"stats"} on the acknowledged ingress endpoint. Besides the
 * totals it holds "gateway_list" (per gateway: name, slot, connections,
 * sends, events routed to it, silent_ms), the garbage counters per
 * endpoint (ingress_sub_garbage, ingress_ack_garbage, link_garbage, and
 * ingress_oversize, link_oversize) and the CurveZMQ figures ("curve",
 * curve_handshakes, curve_auth_failures, curve_protocol_failures and
 * "curve_endpoints": {name: {handshakes, auth_failures,
 * protocol_failures}}). */
void broker_stats_pack(broker_t *self, cdt_buf_t *out);

/* For tests: the body of a broker thread, as a zactor (zactor_new) or on
 * a thread of the caller's own with a zsys_create_pipe pipe. args is a
 * broker_actor_args_t; the body creates a broker, stores 0 or -1 in
 * status, signals the pipe (zsock_wait returns 0 either way) and runs
 * until it receives "$TERM" on the pipe. */
typedef struct broker_actor_args {
    const cdt_config_t *cfg;
    int status;
} broker_actor_args_t;

void broker_actor(zsock_t *pipe, void *args);

#endif
