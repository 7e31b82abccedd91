/*
 * limits - the pure parts of the gateway's limits and refusals: the
 * per-address connect window, the per-connection invocation window, the
 * kinds of protocol errors and limit refusals counted in /metrics (their
 * label values), and how a record the hub protocol refused is classified.
 *
 * Windows are fixed one-second windows on the monotonic clock: cheap (no
 * allocation per check, a few bytes per connection) and exact enough for
 * a refusal whose purpose is to stop floods, not to shape traffic.
 *
 * Everything here runs on the gateway's single loop thread.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef LIMITS_H
#define LIMITS_H

#include "gateway/hmap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Why a connection or request was refused as malformed; the metric label
 * is limits_proto_error_name(). */
enum limits_proto_error {
    LIMITS_PE_HTTP = 0,  /* closed before a complete request head */
    LIMITS_PE_WEBSOCKET, /* a frame the WebSocket layer (lws) refused */
    LIMITS_PE_BINARY,    /* a binary frame on a JSON connection */
    LIMITS_PE_UTF8,      /* a text frame that is not UTF-8 */
    LIMITS_PE_JSON,      /* not JSON, or nested too deeply */
    LIMITS_PE_MESSAGE,   /* JSON, but not a valid hub message */
    LIMITS_PE_TLS,       /* no TLS hello on a TLS port */
    LIMITS_PE_COUNT
};

/* Which limit refused something; the label is limits_refusal_name(). */
enum limits_refusal {
    LIMITS_REF_MESSAGE_SIZE = 0,  /* gateway.max_message_bytes */
    LIMITS_REF_MAX_CONNECTIONS,   /* gateway.max_connections */
    LIMITS_REF_CONNECT_RATE,      /* gateway.connects_per_ip_per_sec */
    LIMITS_REF_INVOKE_RATE,       /* gateway.invocations_per_sec */
    LIMITS_REF_HANDSHAKE_TIMEOUT, /* gateway.handshake_timeout_ms */
    LIMITS_REF_COUNT
};

const char *limits_proto_error_name(enum limits_proto_error kind);
const char *limits_refusal_name(enum limits_refusal kind);

/* The kind of a record (text, len bytes) that hubproto_json_parse refused
 * with err: UTF8 when the text is not UTF-8, JSON when err says the JSON
 * itself was invalid, MESSAGE otherwise. */
enum limits_proto_error limits_classify(const char *text, size_t len,
                                        const char *err);

/* ---- per-connection invocation window ---------------------------------- */

typedef struct limits_rate {
    uint32_t second; /* monotonic second of count */
    uint16_t count;  /* saturates at UINT16_MAX */
} limits_rate_t;

/* Counts one event at now_ms; false when limit events were already
 * counted in this second (the event is refused and not counted). A limit
 * above UINT16_MAX never refuses. limit <= 0 means no limit. */
bool limits_rate_allow(limits_rate_t *self, int64_t limit, int64_t now_ms);

/* ---- per-address connect window ---------------------------------------- */

/* Addresses seen in the current second. Entries are freed when the second
 * changes, so the table holds at most the distinct addresses of one
 * second. */
typedef struct limits_ipmap {
    hmap_t map;
    int64_t second;
} limits_ipmap_t;

void limits_ipmap_init(limits_ipmap_t *self);
void limits_ipmap_release(limits_ipmap_t *self);

/* Counts one connect from ip (a NUL-terminated address text) at now_ms;
 * false when limit connects from ip were already counted in this second.
 * limit <= 0 means no limit. */
bool limits_ipmap_allow(limits_ipmap_t *self, const char *ip, int64_t limit,
                        int64_t now_ms);

/* Forgets the past seconds' counts (called from the once-a-second tick;
 * limits_ipmap_allow also resets a stale entry itself). */
void limits_ipmap_expire(limits_ipmap_t *self, int64_t now_ms);

/* Addresses held (for tests and /metrics). */
size_t limits_ipmap_count(const limits_ipmap_t *self);

#endif
