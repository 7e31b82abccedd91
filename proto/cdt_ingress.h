/*
 * cdt_ingress - the messages services send to the broker.
 *
 * Each message is one MessagePack map with string keys (DESIGN.md §3):
 * `type` (required), an optional correlation `id` (str) and `ts` (int, ms
 * since the epoch), plus the fields of its type:
 *
 *   event            hub (name or path), group (str) or groups ([str]),
 *                    target (str), arguments ([any]) or data (any: becomes
 *                    the single argument)
 *   task             taskId, taskType (video|image|other), virtualKeyId
 *                    (int; required on a task's first event), state
 *                    (started|progress|completed|failed|cancelled|
 *                    timed_out), percent (number), message (str), result
 *                    (any), error (str), isRetryable (bool)
 *   spend            virtualKeyId, amount (number), totalSpend (number),
 *                    budget (number, optional), provider, model, requestId
 *   provider_health  provider, status (healthy|degraded|unhealthy),
 *                    responseTimeMs (number), details (str)
 *   webhook          virtualKeyId, url, status (delivered|failed|
 *                    retry_scheduled|circuit_open|circuit_closed),
 *                    statusCode (int), attempt (int), and any further
 *                    fields, which are passed through
 *   key              op (add|update|disable|enable|delete), virtualKeyId,
 *                    name (str), keyHash (64 lowercase hex), admin (bool),
 *                    enabled (bool), expiresAt (ISO-8601 str)
 *
 * Unknown keys are ignored (forward compatibility). Strings must be valid
 * UTF-8 and at most CDT_INGRESS_MAX_STR bytes.
 *
 * Transports. Fire-and-forget: a service's PUB socket connects to the
 * broker's ingress SUB socket; each ZeroMQ message is one frame holding one
 * map (a leading topic frame is not used). Acknowledged (conduit-pub): a
 * DEALER connects to the broker's ROUTER "ingress_ack" endpoint and sends
 * two frames, an 8-byte client sequence number (opaque to the broker) and
 * the map; the broker answers the same two-frame shape with the sequence
 * echoed and an ack map {"ok": true} or {"ok": false, "error": "<why>"}.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef CDT_INGRESS_H
#define CDT_INGRESS_H

#include "common/cdt_buf.h"
#include "proto/cdt_ack.h" /* the ack map, in an object of its own */
#include "proto/cdt_link.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CDT_INGRESS_MAX_STR 4096
#define CDT_INGRESS_SEQ_LEN 8

enum cdt_ingress_type {
    CDT_IN_EVENT = 1,
    CDT_IN_TASK,
    CDT_IN_SPEND,
    CDT_IN_PROVIDER_HEALTH,
    CDT_IN_WEBHOOK,
    CDT_IN_KEY,
};

enum cdt_task_type {
    CDT_TASK_VIDEO = 1,
    CDT_TASK_IMAGE,
    CDT_TASK_OTHER
};

enum cdt_task_state {
    CDT_TASK_STARTED = 1,
    CDT_TASK_PROGRESS,
    CDT_TASK_COMPLETED,
    CDT_TASK_FAILED,
    CDT_TASK_CANCELLED,
    CDT_TASK_TIMED_OUT,
};

enum cdt_health_status {
    CDT_HEALTH_HEALTHY = 1,
    CDT_HEALTH_DEGRADED,
    CDT_HEALTH_UNHEALTHY,
};

enum cdt_webhook_status {
    CDT_WEBHOOK_DELIVERED = 1,
    CDT_WEBHOOK_FAILED,
    CDT_WEBHOOK_RETRY_SCHEDULED,
    CDT_WEBHOOK_CIRCUIT_OPEN,
    CDT_WEBHOOK_CIRCUIT_CLOSED,
};

enum cdt_key_op {
    CDT_KEY_ADD = 1,
    CDT_KEY_UPDATE,
    CDT_KEY_DISABLE,
    CDT_KEY_ENABLE,
    CDT_KEY_DELETE,
};

/* One decoded ingress message. Strings and objects borrow from the
 * msgpack_unpacked/zone the map was decoded from. A has_* flag tells
 * whether an optional field was present. */
typedef struct cdt_ingress {
    enum cdt_ingress_type type;
    const msgpack_object *map; /* the whole message */
    cdt_str_t raw; /* the map's MessagePack bytes when it was decoded from
                      them (cdt_ingress_parse; the broker's ingress sets
                      it), else {NULL, 0}: see cdt_ingress_value_bytes */
    cdt_str_t id;  /* correlation id; len 0 = none */
    int64_t ts;    /* ms since the epoch; 0 = none */

    /* event */
    cdt_str_t hub;
    cdt_strv_t groups; /* from `group` (n = 1) or `groups` */
    cdt_str_t target;
    const msgpack_object *arguments; /* array; NULL when `data` was used */
    const msgpack_object *data;      /* NULL when `arguments` was used */
    /* The MessagePack bytes of arguments or data (in raw), when known
     * (cdt_ingress_set_raw, cdt_ingress_decode_event); {NULL, 0} else.
     * cdt_ingress_decode_event sets these and leaves the objects NULL. */
    cdt_str_t arguments_mp;
    cdt_str_t data_mp;

    /* task, spend, webhook, key */
    bool has_key_id;
    int64_t key_id; /* virtualKeyId */

    /* task */
    cdt_str_t task_id;
    enum cdt_task_type task_type; /* 0 = absent */
    enum cdt_task_state state;
    bool has_percent;
    double percent;
    cdt_str_t message;
    const msgpack_object *result; /* NULL = absent */
    cdt_str_t error;
    bool has_retryable;
    bool retryable;

    /* spend */
    double amount;
    double total_spend;
    bool has_budget;
    double budget;
    cdt_str_t provider; /* spend, provider_health */
    cdt_str_t model;
    cdt_str_t request_id;

    /* provider_health */
    enum cdt_health_status health;
    bool has_response_ms;
    double response_ms;
    cdt_str_t details;

    /* webhook */
    cdt_str_t url;
    enum cdt_webhook_status webhook;
    bool has_status_code;
    int64_t status_code;
    bool has_attempt;
    int64_t attempt;

    /* key */
    enum cdt_key_op op;
    cdt_str_t name;
    cdt_str_t key_hash;
    bool has_admin;
    bool admin;
    bool has_enabled;
    bool enabled;
    bool has_expires;
    int64_t expires_ms; /* from expiresAt */
} cdt_ingress_t;

/* Decodes and validates one message: obj must be a map. Returns 0 and
 * fills *msg (borrowing from obj), or -1 with a one-line reason in err
 * ("missing field 'taskId'", "field 'percent' must be a number", "unknown
 * type 'foo'"), suitable for conduit-pub's stderr and for logs. */
int cdt_ingress_decode(const msgpack_object *obj, cdt_ingress_t *msg, char *err,
                       size_t errlen);

/* Unpacks buf (exactly one MessagePack value, no trailing bytes) into
 * *unpacked and decodes it. Returns 0 or -1 with err set. The caller
 * destroys *unpacked (msgpack_unpacked_destroy) in both cases. */
int cdt_ingress_parse(const uint8_t *buf, size_t len,
                      msgpack_unpacked *unpacked, cdt_ingress_t *msg, char *err,
                      size_t errlen);

/* The MessagePack bytes of val, one of the values of msg's map (such as
 * msg->data or msg->arguments), as they stand in msg->raw, so that a
 * caller can pass them on without packing val again. msgpack-c's strings
 * point into the bytes they were unpacked from and a value follows its
 * key, so they are found without walking the map. Returns 0 and the bytes
 * in *out (borrowed from msg->raw), or -1 when msg has no raw bytes, val
 * is not a value of its map, or the bytes there do not hold a value of
 * val's shape: the caller then packs val itself. */
int cdt_ingress_value_bytes(const cdt_ingress_t *msg, const msgpack_object *val,
                            cdt_str_t *out);

/* Records that msg was decoded from buf (len bytes, the caller keeps
 * them while it uses msg): sets msg->raw and, for an event, finds the
 * bytes of arguments or data (cdt_ingress_value_bytes). */
void cdt_ingress_set_raw(cdt_ingress_t *msg, const uint8_t *buf, size_t len);

/* The fast path for `event`, the highest-rate message: decodes buf (one
 * map, len bytes, nothing after it; untrusted: every read is bounds-
 * checked) straight from the bytes, in one walk that allocates nothing
 * and never hands them to msgpack-c. Returns 0 for an event that
 * cdt_ingress_decode would accept as it stands, with *msg filled as that
 * would fill it except that the arguments or data are given as bytes
 * (arguments_mp, data_mp; msg->map, msg->arguments and msg->data stay
 * NULL)
 * and the group names are STR objects in the caller's groups array
 * (max_groups of them; borrowed by msg->groups); msg->raw is buf. Returns
 * -1 for anything else (another type, a refusal, a key that is not a
 * string, a duplicate, floats where an integer is wanted, more than
 * max_groups groups, nesting msgpack_unpack would refuse, malformed
 * bytes): such a message takes the general path (cdt_ingress_decode),
 * which decides and words any refusal. Never reads past len. */
int cdt_ingress_decode_event(const uint8_t *buf, size_t len, cdt_ingress_t *msg,
                             msgpack_object *groups, size_t max_groups);

/* Encodes msg as a map (only the fields of its type, optional ones when
 * set). Used by conduit-pub and the tests; cdt_ingress_parse of the result
 * gives back an equal message. */
void cdt_ingress_encode(const cdt_ingress_t *msg, cdt_buf_t *out);

/* The names used on the wire, and their parsers (0 = unknown). */
const char *cdt_ingress_type_name(enum cdt_ingress_type t);
const char *cdt_task_type_name(enum cdt_task_type t);
const char *cdt_task_state_name(enum cdt_task_state s);
const char *cdt_health_status_name(enum cdt_health_status s);
const char *cdt_webhook_status_name(enum cdt_webhook_status s);
const char *cdt_key_op_name(enum cdt_key_op op);
int cdt_ingress_type_parse(const char *s, size_t len);
int cdt_task_type_parse(const char *s, size_t len);
int cdt_task_state_parse(const char *s, size_t len);
int cdt_health_status_parse(const char *s, size_t len);
int cdt_webhook_status_parse(const char *s, size_t len);
int cdt_key_op_parse(const char *s, size_t len);

/* True for completed, failed, cancelled, timed_out. */
bool cdt_task_state_terminal(enum cdt_task_state s);

#endif
