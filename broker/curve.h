/*
 * curve - CurveZMQ on the broker's three endpoints.
 *
 * Configured by two keys (etc/conduit.yaml):
 *
 *   broker.curve_secret_cert  the broker's certificate, as written by
 *                             czmq's zcert_save(cert, FILE) or by
 *                             `conduit-pub keygen --out FILE`: give FILE
 *                             (its secret half is read from FILE_secret
 *                             beside it) or FILE_secret itself. Clients
 *                             need the public half, FILE.
 *   broker.curve_clients_dir  a directory of public certificates (files
 *                             like FILE); a client whose public key is
 *                             not among them is refused.
 *
 * When curve_secret_cert is set, every endpoint (ingress, ingress_ack,
 * gateway_link) is a CURVE server: the certificate is applied with
 * zcert_apply and the client keys are checked by czmq's zauth actor (a
 * ZAP handler over a zcertstore of the directory, which zauth re-reads
 * when the directory changes). A refused client never gets a connection,
 * so whatever it sends is dropped by ZeroMQ before the broker sees it;
 * what the broker can count is the refused handshakes. A ZeroMQ socket
 * monitor on each endpoint reports them: HANDSHAKE_FAILED_AUTH (the key
 * is not in the directory) and HANDSHAKE_FAILED_PROTOCOL /
 * HANDSHAKE_FAILED_NO_DETAIL (a plain ZeroMQ client, or the wrong server
 * key), counted per endpoint and logged at WARN at most once a second
 * per endpoint and kind. A refused client retries every reconnect
 * interval, so the counters count attempts, not clients.
 *
 * ZAP is per ZeroMQ context and czmq has one context per process: only
 * one curve_t may exist in a process at a time.
 *
 * Single-threaded: owned by the broker loop (zauth runs on its own
 * thread, which czmq manages).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef CURVE_H
#define CURVE_H

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

/* Most endpoints one curve_t watches. */
#define CURVE_MAX_ENDPOINTS 4

typedef struct curve_counters {
    uint64_t handshakes;        /* succeeded */
    uint64_t auth_failures;     /* the client's key is not accepted */
    uint64_t protocol_failures; /* plain client, wrong server key, ... */
} curve_counters_t;

typedef struct curve curve_t;

/* Checks what curve_new would load, without starting anything: the
 * certificate (path resolved by the caller) loads and holds a secret
 * key, the directory exists. Returns 0, or -1 after logging why. */
int curve_check(const char *cert_path, const char *clients_dir);

/* Loads the certificate and starts zauth on clients_dir. Returns the
 * curve_t (caller owns) or NULL after logging why. */
curve_t *curve_new(const char *cert_path, const char *clients_dir);

/* Stops the monitors and zauth; sets *self_p to NULL; safe on NULL. Call
 * it after the secured sockets are closed. */
void curve_destroy(curve_t **self_p);

/* Makes sock a CURVE server with the broker's certificate and starts
 * watching its handshakes under name ("ingress", borrowed: a string
 * literal). Call before binding. Returns 0, or -1 after logging why. */
int curve_secure(curve_t *self, zsock_t *sock, const char *name);

/* Registers the monitors with loop (once, after every curve_secure).
 * Returns 0 or -1. */
int curve_attach(curve_t *self, zloop_t *loop);

/* Handles every event waiting on the monitors (what curve_attach's
 * readers call; exposed for tests). now_ms is monotonic, for the log
 * rate limit. */
void curve_poll(curve_t *self, int64_t now_ms);

/* The broker's public key (Z85, 40 characters). */
const char *curve_public_txt(const curve_t *self);

/* The endpoints watched: their number, and each one's name and figures. */
size_t curve_n_endpoints(const curve_t *self);
const char *curve_endpoint_name(const curve_t *self, size_t i);
const curve_counters_t *curve_endpoint_counters(const curve_t *self, size_t i);

/* Sums over every endpoint, into *out. */
void curve_totals(const curve_t *self, curve_counters_t *out);

#endif
