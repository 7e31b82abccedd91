/*
 * cdt_link - the messages between conduit-gateway and conduit-broker.
 *
 * Transport: each gateway holds one ZeroMQ DEALER socket connected to the
 * broker's ROUTER ("gateway link"). A link message is one MessagePack array
 * whose first element is the kind (table below), carried in a one-frame
 * ZeroMQ message (the ROUTER adds/strips the identity frame):
 *
 *   G->B  every frame holds exactly one link message.
 *   B->G  a frame holds one or more complete link messages back to back
 *         (a batch), with nothing between or after them.
 *
 * Batching (B->G). The broker appends every message for a gateway - EVENT,
 * DIRECT, replies, KICK alike - to that gateway's buffer, in the order it
 * produces them, and sends the buffer as one frame when the loop callback
 * that produced them returns, or at once when the buffer reaches
 * CDT_LINK_BATCH_BYTES (so a frame is at most that plus one message). A
 * batch never waits across a loop turn: batching adds no latency, it only
 * spares the per-frame cost (one ZeroMQ message, one trip through its I/O
 * thread) for every message but the first of a turn. Order per gateway is
 * the order of the messages in the frames, frame after frame. A gateway
 * decodes a frame with cdt_link_decode_next until it is used up; a message
 * that does not decode ends the frame (those before it stand: each message
 * is complete on its own).
 *
 * The messages:
 *
 *   kind            dir  array
 *   HELLO       1   G→B  [1, gw_name, gw_incarnation, link_version]
 *   WELCOME     2   B→G  [2, broker_incarnation, heartbeat_ms, timeout_ms,
 *                         token_secret]
 *   PING        3   G→B  [3, gw_incarnation]
 *   PONG        4   B→G  [4, broker_incarnation]
 *   AUTH        5   G→B  [5, req_id, hub, token, peer]
 *   AUTH_REP    6   B→G  [6, req_id, status, key_id, admin, reason]
 *   CONN_OPEN   7   G→B  [7, conn_id, hub, key_id, admin, restore, [groups]]
 *   CONN_READY  8   B→G  [8, conn_id, status, reason, [groups]]
 *   CONN_CLOSE  9   G→B  [9, conn_id]
 *   INVOKE     10   G→B  [10, req_id, conn_id, method, args]
 *   INVOKE_REP 11   B→G  [11, req_id, conn_id, ok, result|error, [joins],
 *                         [leaves]]
 *   EVENT      12   B→G  [12, hub, [groups], seq, target, args, data, add]
 *   DIRECT     13   B→G  [13, conn_id, target, args, json]
 *   KICK       14   B→G  [14, key_id, reason]
 *
 * Field types: names, hubs, tokens, reasons, methods, targets and groups are
 * MessagePack str; req_id, status, heartbeat_ms, timeout_ms are positive
 * ints (u32); incarnations, conn_id and seq are u64; key_id is i64 (0 = the
 * master key); admin, restore and ok are bool; args and result are bin
 * holding MessagePack (args: an array; result: any value, nil for void);
 * token_secret is bin: CDT_LINK_SECRET_LEN random bytes the broker draws
 * once per incarnation and gives every gateway, so that a negotiate token
 * one gateway signs verifies on any other (gateway/tokens.h);
 * json (DIRECT) is bin holding one complete SignalR JSON text frame
 * `{"type":1,"target":…,"arguments":[…]}` followed by the 0x1E separator.
 *
 * An EVENT carries its arguments as the publisher's MessagePack, not as a
 * frame: args is bin holding the arguments array, or empty when data is
 * not; data is bin holding one value, the single argument, or empty; add
 * is a flat list of str [key, value, key, value, …] (at most
 * CDT_LINK_MAX_ADD pairs, empty with args): the pairs a data map gains
 * when it lacks their keys (timestamp, correlationId). Each gateway
 * writes the frame once per event (cdt_link_build_json_frame_args) and
 * the same bytes to every member it holds. Why there and not in the
 * broker: the broker is the one process that cannot be scaled out, the
 * frame's JSON was a third of its work per event, and the MessagePack is
 * smaller on the link than the JSON; a gateway writes it once for all its
 * members, and a second hub protocol needs the arguments, not a JSON text.
 *
 * Versions. HELLO carries the gateway's CDT_LINK_VERSION; the broker
 * answers only its own version, and refuses any other with a WARN that
 * names both (its gateways must be of its release: the layouts above
 * change between versions). A HELLO of three elements, from a gateway
 * older than the field, decodes as version 1, so that the broker can say
 * why it refuses it.
 *
 * Conversation. A gateway sends HELLO on start and whenever it sees a new
 * broker incarnation or no PONG for timeout_ms; the broker answers WELCOME.
 * After a WELCOME that follows a broker restart, the gateway replays every
 * live connection as CONN_OPEN with restore=true and its current groups.
 * PING every heartbeat_ms; the broker forgets a gateway (and all its
 * memberships) after timeout_ms without a message from it.
 *
 * AUTH asks for the decision on a token for a hub: status 200 (key_id,
 * admin valid), 401, 404 (unknown hub), 429 (connection limit) or 503.
 * CONN_OPEN registers a connection (restore=false: the broker joins it to
 * the hub's groups-on-connect and lists them in CONN_READY; restore=true:
 * the broker records the given groups). CONN_READY status 0 = ok, otherwise
 * an HTTP-like code and a reason, and the gateway closes the connection.
 *
 * INVOKE carries a client hub invocation; the broker answers INVOKE_REP
 * with ok=true and result (bin MessagePack) or ok=false and the exact
 * SignalR error text; joins/leaves are the groups the gateway must add to
 * or remove from its local index for that connection (the broker already
 * recorded them). A DIRECT after an INVOKE_REP is an event for one
 * connection only (a task's latest state on subscribe).
 *
 * EVENT goes to a gateway only if it holds at least one member of one of
 * the groups; a connection in several listed groups receives it once. seq
 * increases by one per EVENT the broker emits (all gateways share the
 * sequence), so a gateway can count gaps. KICK closes every connection of
 * key_id with an error Close and allowReconnect false.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef CDT_LINK_H
#define CDT_LINK_H

#include "common/cdt_buf.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The layout of the messages above. 1: EVENTs carried the JSON frame
 * (and HELLO no version); 2: EVENTs carry the event's MessagePack. */
#define CDT_LINK_VERSION 2

/* The length of WELCOME's token_secret as the broker sends it. */
#define CDT_LINK_SECRET_LEN 32

/* A B->G batch is sent once it holds this many bytes (see above). */
#define CDT_LINK_BATCH_BYTES 16384

/* The most pairs an EVENT's add list holds (see above). */
#define CDT_LINK_MAX_ADD 8

enum cdt_link_kind {
    CDT_LINK_HELLO = 1,
    CDT_LINK_WELCOME = 2,
    CDT_LINK_PING = 3,
    CDT_LINK_PONG = 4,
    CDT_LINK_AUTH = 5,
    CDT_LINK_AUTH_REP = 6,
    CDT_LINK_CONN_OPEN = 7,
    CDT_LINK_CONN_READY = 8,
    CDT_LINK_CONN_CLOSE = 9,
    CDT_LINK_INVOKE = 10,
    CDT_LINK_INVOKE_REP = 11,
    CDT_LINK_EVENT = 12,
    CDT_LINK_DIRECT = 13,
    CDT_LINK_KICK = 14,
};

/* A borrowed byte string: not NUL-terminated, valid as long as the buffer
 * it was decoded from. */
typedef struct cdt_str {
    const char *ptr;
    size_t len;
} cdt_str_t;

/* A borrowed list of byte strings (decoded from a MessagePack array of str,
 * every element checked). v points into the decoder's zone. */
typedef struct cdt_strv {
    const msgpack_object *v; /* v[i].type == MSGPACK_OBJECT_STR */
    size_t n;
} cdt_strv_t;

/* Element i of a decoded string list. */
cdt_str_t cdt_strv_at(cdt_strv_t list, size_t i);

/* One decoded link message. Only the fields of msg.kind are set (see the
 * table above); the others are zero. Strings borrow from the input buffer
 * and from the zone passed to cdt_link_decode. */
typedef struct cdt_link_msg {
    enum cdt_link_kind kind;
    uint64_t incarnation; /* HELLO, WELCOME, PING, PONG */
    uint32_t version;     /* HELLO: the gateway's CDT_LINK_VERSION */
    uint32_t heartbeat_ms;
    uint32_t timeout_ms; /* WELCOME */
    cdt_str_t secret;    /* WELCOME: the token secret (any length here) */
    uint32_t req_id;     /* AUTH, AUTH_REP, INVOKE, INVOKE_REP */
    uint64_t conn_id;    /* CONN_*, INVOKE, INVOKE_REP, DIRECT */
    uint64_t seq;        /* EVENT */
    int64_t key_id;      /* AUTH_REP, CONN_OPEN, KICK */
    uint32_t status;     /* AUTH_REP, CONN_READY */
    bool admin;          /* AUTH_REP, CONN_OPEN */
    bool restore;        /* CONN_OPEN */
    bool ok;             /* INVOKE_REP */
    cdt_str_t name;      /* HELLO */
    cdt_str_t hub;       /* AUTH, CONN_OPEN, EVENT */
    cdt_str_t token;     /* AUTH */
    cdt_str_t peer;      /* AUTH: the client's address, for logs/limits */
    cdt_str_t reason;    /* AUTH_REP, CONN_READY, KICK; INVOKE_REP error */
    cdt_str_t method;    /* INVOKE */
    cdt_str_t target;    /* EVENT, DIRECT */
    cdt_str_t args;      /* INVOKE, DIRECT, EVENT: MessagePack array */
    cdt_str_t data;      /* EVENT: MessagePack value (args empty) */
    cdt_strv_t add;      /* EVENT: key, value, key, value, ... */
    cdt_str_t result;    /* INVOKE_REP when ok: MessagePack value */
    cdt_str_t json;      /* DIRECT: SignalR JSON frame incl. 0x1E */
    cdt_strv_t groups;   /* CONN_OPEN, CONN_READY, EVENT */
    cdt_strv_t joins;    /* INVOKE_REP */
    cdt_strv_t leaves;   /* INVOKE_REP */
} cdt_link_msg_t;

/* Decodes a frame that holds exactly one link message (G->B). Returns 0
 * and fills *msg (borrowing from buf and from *zone, which the caller owns,
 * has initialised with msgpack_zone_init and must keep until it is done
 * with *msg), or -1 for anything malformed: not one complete MessagePack
 * array, unknown kind, wrong element count or type, trailing bytes. On -1
 * *msg is zeroed. */
int cdt_link_decode(const uint8_t *buf, size_t len, msgpack_zone *zone,
                    cdt_link_msg_t *msg);

/* Decodes the link message at the start of buf, which may be followed by
 * more (a B->G batch). Returns 0, fills *msg as cdt_link_decode does and
 * sets *used_p to the message's size (> 0; the next one starts there), or
 * -1 (with *msg zeroed and *used_p untouched) when buf does not start with
 * one complete, valid link message; never reads past len. The bounds check
 * of cdt_msgpack_check runs before anything is unpacked. A frame is
 * decoded by calling this at offset 0, then at each offset it returns,
 * until the offset reaches the frame's length (clear the zone between
 * messages once done with each). */
int cdt_link_decode_next(const uint8_t *buf, size_t len, msgpack_zone *zone,
                         cdt_link_msg_t *msg, size_t *used_p);

/* The name of a kind ("HELLO"), or "?" - for logs. */
const char *cdt_link_kind_name(int kind);

/* A pair an event's `data` map gains: key and a string value. */
typedef struct cdt_link_pair {
    cdt_str_t key;
    cdt_str_t str;
} cdt_link_pair_t;

/* The arguments of an event, as MessagePack bytes: the array args, or,
 * when args.ptr is NULL (or args.len 0), the one value data, which becomes the
 * single argument and, if it is a map, gains add[i] for every key add[i].key it
 * does not have (a str key of the same bytes), after its own pairs. */
typedef struct cdt_link_args {
    cdt_str_t args;
    cdt_str_t data;
    const cdt_link_pair_t *add;
    size_t n_add;
} cdt_link_args_t;

/* The arguments of a decoded EVENT as a, its add pairs in pairs (which a
 * borrows, as it borrows msg's strings). */
void cdt_link_event_args(const cdt_link_msg_t *msg,
                         cdt_link_pair_t pairs[CDT_LINK_MAX_ADD],
                         cdt_link_args_t *a);

/* ---- encoders: each appends one complete message to out ---------------- */

/* version: CDT_LINK_VERSION (another only to test refusals). */
void cdt_link_encode_hello(cdt_buf_t *out, const char *gw_name,
                           uint64_t incarnation, uint32_t version);
void cdt_link_encode_welcome(cdt_buf_t *out, uint64_t incarnation,
                             uint32_t heartbeat_ms, uint32_t timeout_ms,
                             const uint8_t *secret, size_t secret_len);
void cdt_link_encode_ping(cdt_buf_t *out, uint64_t incarnation);
void cdt_link_encode_pong(cdt_buf_t *out, uint64_t incarnation);
void cdt_link_encode_auth(cdt_buf_t *out, uint32_t req_id, const char *hub,
                          const char *token, size_t token_len,
                          const char *peer);
void cdt_link_encode_auth_rep(cdt_buf_t *out, uint32_t req_id, uint32_t status,
                              int64_t key_id, bool admin, const char *reason);
void cdt_link_encode_conn_open(cdt_buf_t *out, uint64_t conn_id,
                               const char *hub, int64_t key_id, bool admin,
                               bool restore, const char *const *groups,
                               size_t n_groups);
void cdt_link_encode_conn_ready(cdt_buf_t *out, uint64_t conn_id,
                                uint32_t status, const char *reason,
                                const char *const *groups, size_t n_groups);
void cdt_link_encode_conn_close(cdt_buf_t *out, uint64_t conn_id);
void cdt_link_encode_invoke(cdt_buf_t *out, uint32_t req_id, uint64_t conn_id,
                            const char *method, size_t method_len,
                            const void *args, size_t args_len);
/* ok: result/result_len is the MessagePack value (NULL/0 = nil);
 * !ok: error is the SignalR error text. */
void cdt_link_encode_invoke_rep(cdt_buf_t *out, uint32_t req_id,
                                uint64_t conn_id, bool ok, const void *result,
                                size_t result_len, const char *error,
                                const char *const *joins, size_t n_joins,
                                const char *const *leaves, size_t n_leaves);
/* a: args, or data with at most CDT_LINK_MAX_ADD pairs to add. */
void cdt_link_encode_event(cdt_buf_t *out, const char *hub,
                           const char *const *groups, size_t n_groups,
                           uint64_t seq, const char *target,
                           const cdt_link_args_t *a);
void cdt_link_encode_direct(cdt_buf_t *out, uint64_t conn_id,
                            const char *target, const void *args,
                            size_t args_len, const void *json, size_t json_len);
void cdt_link_encode_kick(cdt_buf_t *out, int64_t key_id, const char *reason);

/* cdt_link_encode_event with the lengths given (the strings need no
 * NUL): the same bytes, written without msgpack_packer's per-token calls.
 * For the router, once per routed event: a's bytes are copied as they
 * are, nothing is unpacked or written again. */
void cdt_link_encode_event_n(cdt_buf_t *out, const char *hub, size_t hub_len,
                             const char *const *groups,
                             const size_t *group_lens, size_t n_groups,
                             uint64_t seq, const char *target,
                             size_t target_len, const cdt_link_args_t *a);

/* Appends the MessagePack encoding of args, which must be an array, as
 * msgpack_pack_object would write it. Returns 0, or -1 (out unchanged) if
 * args is not an array or nests deeper than msgpack-c unpacks (32). */
int cdt_link_pack_args(cdt_buf_t *out, const msgpack_object *args);

/* Builds the SignalR JSON Invocation frame for an event, once:
 * {"type":1,"target":<target>,"arguments":<args as JSON>}0x1E, appended to
 * out. args is one MessagePack array (args_len bytes, nothing after it).
 * The JSON text is exactly what cdt_json_from_msgpack (common/cdt_json.h)
 * writes for the array msgpack_unpack would give, but it is written from
 * the bytes in one walk, without unpacking (the router's per-event cost);
 * only a map key that is not a string makes it unpack args and defer to
 * cdt_json. Returns 0, or -1 (out unchanged) if args is not a complete
 * MessagePack array, has bytes after it, or nests containers deeper than
 * msgpack_unpack accepts (32). Never reads past args_len. */
int cdt_link_build_json_frame(cdt_buf_t *out, const char *target,
                              const void *args, size_t args_len);

/* The same with target given as target_len bytes, and zone (initialised
 * by the caller, cleared before it returns; NULL for one of its own) for
 * that rare unpacking, so that a router building one frame per event
 * allocates nothing once the zone has grown. */
int cdt_link_build_json_frame_n(cdt_buf_t *out, const char *target,
                                size_t target_len, const void *args,
                                size_t args_len, msgpack_zone *zone);

/* The SignalR JSON Invocation frame of an event whose arguments a stands
 * for, appended to out: what cdt_link_build_json_frame_n writes for the
 * arguments array, data wrapped as its single element with the pairs of
 * add it lacks after its own - written from the bytes in one walk, data's
 * pairs added as it goes. A gateway's per-event encoder. zone as for
 * cdt_link_build_json_frame_n. Returns 0, or -1 (out unchanged) for
 * arguments that are not one complete MessagePack value (an array for
 * args), nest deeper than 32, or more than CDT_LINK_MAX_ADD pairs. */
int cdt_link_build_json_frame_args(cdt_buf_t *out, const char *target,
                                   size_t target_len, const cdt_link_args_t *a,
                                   msgpack_zone *zone);

/* cdt_link_build_json_frame_n with a NUL-terminated target. */
int cdt_link_build_json_frame_zone(cdt_buf_t *out, const char *target,
                                   const void *args, size_t args_len,
                                   msgpack_zone *zone);

#endif
