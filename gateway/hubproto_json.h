/*
 * hubproto_json - the SignalR JSON hub protocol, client side in, server
 * side out (SIGNALR.md §2, §3).
 *
 * Framing: every message is one JSON object followed by the record
 * separator 0x1E. A WebSocket message may carry several records and a
 * record may arrive split over several WebSocket messages (or fragments);
 * hubproto_json_feed keeps the unfinished tail in a per-connection
 * cdt_buf_t that stays unallocated while there is no partial input, so an
 * idle connection costs nothing here.
 *
 * Parsing: property order is free (the JS client writes `type` last), so a
 * record is parsed whole before it is dispatched; unknown properties are
 * ignored. Validation follows the .NET server: Invocation needs a string
 * `target` and an array `arguments`; `invocationId`, when present, is a
 * string; `headers`, when present, is an object; a record that is not an
 * object or lacks an integer `type` is a protocol error. Unknown `type`
 * values are returned as they are (callers ignore them).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef HUBPROTO_JSON_H
#define HUBPROTO_JSON_H

#include "common/cdt_buf.h"
#include "proto/cdt_link.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HUBPROTO_RS 0x1E

enum hub_msg_type {
    HUB_INVOCATION = 1,
    HUB_STREAM_ITEM = 2,
    HUB_COMPLETION = 3,
    HUB_STREAM_INVOCATION = 4,
    HUB_CANCEL_INVOCATION = 5,
    HUB_PING = 6,
    HUB_CLOSE = 7,
    HUB_ACK = 8,
    HUB_SEQUENCE = 9,
};

/* One parsed client message. Strings borrow from the record text or from
 * the scratch buffer passed to hubproto_json_parse; both must outlive it. */
typedef struct hub_msg {
    int64_t type;
    bool has_invocation_id;
    cdt_str_t invocation_id; /* unescaped */
    cdt_str_t target;        /* unescaped; Invocation/StreamInvocation */
    const uint8_t *args;     /* `arguments` as a MessagePack array */
    size_t args_len;         /* 0 = absent */
    size_t n_args;           /* elements in args */
    bool has_stream_ids;     /* upload streams (not supported by hubs) */
    cdt_str_t error;         /* Close / Completion `error` */
    bool allow_reconnect;    /* Close */
    bool has_sequence_id;
    int64_t sequence_id; /* Ack / Sequence */
} hub_msg_t;

/* Called once per complete record (text excludes the 0x1E). Return 0 to go
 * on, -1 to stop feeding (the connection is being closed). */
typedef int(hub_record_fn)(void *arg, const char *text, size_t len);

/* Appends data to *pending, then calls fn for every complete record, in
 * order, leaving any unfinished tail in *pending (released when empty).
 * Returns 0; -1 when fn returned -1; -2 when a record (or the unfinished
 * tail) exceeds max_record bytes, with the reason in err. */
int hubproto_json_feed(cdt_buf_t *pending, const char *data, size_t len,
                       size_t max_record, hub_record_fn *fn, void *arg,
                       char *err, size_t errlen);

/* Parses one record. scratch receives the MessagePack form (reset first).
 * Returns 0 with *msg filled, or -1 with a reason in err (the connection
 * must then be closed with a protocol error). */
int hubproto_json_parse(const char *text, size_t len, cdt_buf_t *scratch,
                        hub_msg_t *msg, char *err, size_t errlen);

/* Parses the handshake request record {"protocol":"json","version":1}.
 * Returns 0 with the protocol name copied into protocol (NUL-terminated,
 * truncated to protocol_size) and *version set, or -1 with the .NET error
 * text for the handshake response in err ("An unexpected error occurred
 * during connection handshake." when protocol or version are missing). */
int hubproto_handshake_parse(const char *text, size_t len, char *protocol,
                             size_t protocol_size, int64_t *version, char *err,
                             size_t errlen);

/* ---- server -> client records (each appended with its 0x1E) ----------- */

/* {}0x1E or {"error":"..."}0x1E */
void hubproto_json_handshake_response(cdt_buf_t *out, const char *error);

/* {"type":3,"invocationId":id,"result":<result as JSON>} where result is a
 * MessagePack value (NULL/0 = null). Returns 0, or -1 if the result cannot
 * be written as JSON (nothing appended). */
int hubproto_json_completion_result(cdt_buf_t *out, cdt_str_t invocation_id,
                                    const void *result, size_t result_len);

/* {"type":3,"invocationId":id,"error":error} */
void hubproto_json_completion_error(cdt_buf_t *out, cdt_str_t invocation_id,
                                    const char *error);

/* {"type":6} */
void hubproto_json_ping(cdt_buf_t *out);

/* {"type":7} with "error" when error is not NULL and "allowReconnect":true
 * when allow_reconnect. */
void hubproto_json_close(cdt_buf_t *out, const char *error,
                         bool allow_reconnect);

#endif
