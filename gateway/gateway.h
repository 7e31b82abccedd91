/*
 * gateway - conduit-gateway: the SignalR HTTP/WebSocket surface in front
 * of the broker (DESIGN.md §1).
 *
 * One libwebsockets context with one vhost and one service thread serves
 * negotiate, the WebSocket connections, CORS preflights, /healthz,
 * /metrics and the static dashboard, and also polls the broker link's
 * ZeroMQ descriptor (upstream.c). The gateway keeps no durable state: its
 * connections, their local group index and its negotiate tokens are
 * rebuilt from nothing on start and replayed to the broker whenever the
 * link comes back.
 *
 * main.c only parses arguments, loads the configuration and calls these.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef GATEWAY_H
#define GATEWAY_H

#include "common/cdt_catalog.h"
#include "common/cdt_config.h"

typedef struct gateway gateway_t;

/* Builds the gateway from cfg (borrowed: it must outlive the gateway)
 * and the catalog (ownership taken, *catalog_p set to NULL): opens the
 * broker link, creates the lws context and listens. Returns NULL after
 * logging why. */
gateway_t *gateway_new(const cdt_config_t *cfg, cdt_catalog_t **catalog_p);

/* What --check-config adds to the configuration's own checks: the listen
 * address parses, the TLS certificate and key are both given and
 * readable, the CurveZMQ certificates are both given and load, ours with
 * its secret key. Returns 0, or -1 after logging each problem. */
int gateway_check_config(const cdt_config_t *cfg);

/* Closes every connection (each is told CONN_CLOSE upstream) and frees. */
void gateway_destroy(gateway_t **self_p);

/* Runs the loop until gateway_stop. Returns 0, or -1 if the loop failed. */
int gateway_run(gateway_t *self);

/* Asks the loop to return; async-signal-safe enough for SIGINT/SIGTERM
 * (sets a flag and wakes the loop with lws_cancel_service). */
void gateway_stop(gateway_t *self);

#endif
