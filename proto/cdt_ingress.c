/*
 * cdt_ingress - decoding, validation and encoding of the ingress maps.
 *
 * Decoding is two steps. The map is walked once and each known key is
 * noted in a slot (a known key given twice is an error, so no producer can
 * smuggle a second value past a check); then the type's fields are read
 * from the slots with one checker per field kind. Everything the broker
 * needs to trust is checked here, so the broker's handlers read fields
 * without re-validating them.
 *
 * Error texts quote what the sender gave only after making it printable
 * and short: they end up in logs and on conduit-pub's stderr.
 *
 * SPDX-License-Identifier: MIT
 */
#include "proto/cdt_ingress.h"

#include "common/cdt_auth.h"
#include "common/cdt_clock.h"
#include "common/cdt_json.h"
#include "common/cdt_msgpack.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- names ------------------------------------------------------------- */

static const char *const s_types[] = {
    NULL, "event", "task", "spend", "provider_health", "webhook", "key",
};
static const char *const s_task_types[] = {NULL, "video", "image", "other"};
static const char *const s_states[] = {
    NULL,     "started",   "progress",  "completed",
    "failed", "cancelled", "timed_out",
};
static const char *const s_healths[] = {NULL, "healthy", "degraded",
                                        "unhealthy"};
static const char *const s_webhooks[] = {
    NULL,           "delivered",      "failed", "retry_scheduled",
    "circuit_open", "circuit_closed",
};
static const char *const s_ops[] = {
    NULL, "add", "update", "disable", "enable", "delete",
};

#define S_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const char *
s_name(const char *const *names, int n, int v)
{
    return v >= 1 && v < n ? names[v] : "?";
}

static int
s_parse_name(const char *const *names, int n, const char *s, size_t len)
{
    if (!s)
        return 0;
    for (int i = 1; i < n; i++)
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
            return i;
    return 0;
}

const char *
cdt_ingress_type_name(enum cdt_ingress_type t)
{
    return s_name(s_types, S_COUNT(s_types), (int)t);
}

const char *
cdt_task_type_name(enum cdt_task_type t)
{
    return s_name(s_task_types, S_COUNT(s_task_types), (int)t);
}

const char *
cdt_task_state_name(enum cdt_task_state s)
{
    return s_name(s_states, S_COUNT(s_states), (int)s);
}

const char *
cdt_health_status_name(enum cdt_health_status s)
{
    return s_name(s_healths, S_COUNT(s_healths), (int)s);
}

const char *
cdt_webhook_status_name(enum cdt_webhook_status s)
{
    return s_name(s_webhooks, S_COUNT(s_webhooks), (int)s);
}

const char *
cdt_key_op_name(enum cdt_key_op op)
{
    return s_name(s_ops, S_COUNT(s_ops), (int)op);
}

int
cdt_ingress_type_parse(const char *s, size_t len)
{
    return s_parse_name(s_types, S_COUNT(s_types), s, len);
}

int
cdt_task_type_parse(const char *s, size_t len)
{
    return s_parse_name(s_task_types, S_COUNT(s_task_types), s, len);
}

int
cdt_task_state_parse(const char *s, size_t len)
{
    return s_parse_name(s_states, S_COUNT(s_states), s, len);
}

int
cdt_health_status_parse(const char *s, size_t len)
{
    return s_parse_name(s_healths, S_COUNT(s_healths), s, len);
}

int
cdt_webhook_status_parse(const char *s, size_t len)
{
    return s_parse_name(s_webhooks, S_COUNT(s_webhooks), s, len);
}

int
cdt_key_op_parse(const char *s, size_t len)
{
    return s_parse_name(s_ops, S_COUNT(s_ops), s, len);
}

bool
cdt_task_state_terminal(enum cdt_task_state s)
{
    return s == CDT_TASK_COMPLETED || s == CDT_TASK_FAILED ||
           s == CDT_TASK_CANCELLED || s == CDT_TASK_TIMED_OUT;
}

/* ---- the known keys ---------------------------------------------------- */

enum {
    F_TYPE,
    F_ID,
    F_TS,
    F_HUB,
    F_GROUP,
    F_GROUPS,
    F_TARGET,
    F_ARGUMENTS,
    F_DATA,
    F_VKEY,
    F_TASK_ID,
    F_TASK_TYPE,
    F_STATE,
    F_PERCENT,
    F_MESSAGE,
    F_RESULT,
    F_ERROR,
    F_RETRYABLE,
    F_AMOUNT,
    F_TOTAL,
    F_BUDGET,
    F_PROVIDER,
    F_MODEL,
    F_REQUEST_ID,
    F_STATUS,
    F_RESPONSE_MS,
    F_DETAILS,
    F_URL,
    F_STATUS_CODE,
    F_ATTEMPT,
    F_OP,
    F_NAME,
    F_KEY_HASH,
    F_ADMIN,
    F_ENABLED,
    F_EXPIRES,
    F_COUNT
};

/* Every known key: its field and its name on the wire. */
#define S_KEYS(X)                      \
    X(F_TYPE, "type")                  \
    X(F_ID, "id")                      \
    X(F_TS, "ts")                      \
    X(F_HUB, "hub")                    \
    X(F_GROUP, "group")                \
    X(F_GROUPS, "groups")              \
    X(F_TARGET, "target")              \
    X(F_ARGUMENTS, "arguments")        \
    X(F_DATA, "data")                  \
    X(F_VKEY, "virtualKeyId")          \
    X(F_TASK_ID, "taskId")             \
    X(F_TASK_TYPE, "taskType")         \
    X(F_STATE, "state")                \
    X(F_PERCENT, "percent")            \
    X(F_MESSAGE, "message")            \
    X(F_RESULT, "result")              \
    X(F_ERROR, "error")                \
    X(F_RETRYABLE, "isRetryable")      \
    X(F_AMOUNT, "amount")              \
    X(F_TOTAL, "totalSpend")           \
    X(F_BUDGET, "budget")              \
    X(F_PROVIDER, "provider")          \
    X(F_MODEL, "model")                \
    X(F_REQUEST_ID, "requestId")       \
    X(F_STATUS, "status")              \
    X(F_RESPONSE_MS, "responseTimeMs") \
    X(F_DETAILS, "details")            \
    X(F_URL, "url")                    \
    X(F_STATUS_CODE, "statusCode")     \
    X(F_ATTEMPT, "attempt")            \
    X(F_OP, "op")                      \
    X(F_NAME, "name")                  \
    X(F_KEY_HASH, "keyHash")           \
    X(F_ADMIN, "admin")                \
    X(F_ENABLED, "enabled")            \
    X(F_EXPIRES, "expiresAt")

static const char *const s_keys[F_COUNT] = {
#define X(f, name) [f] = name,
    S_KEYS(X)
#undef X
};

/* Their lengths, so that a lookup compares bytes only when the length
 * and the first byte agree (the event's keys come first: an event's
 * lookups stop early). */
static const uint8_t s_key_lens[F_COUNT] = {
#define X(f, name) [f] = sizeof(name) - 1,
    S_KEYS(X)
#undef X
};

/* The one field a key of this length and these first bytes can be, or
 * -1; s_key_index then compares it whole. */
static int
s_key_candidate(const char *s, size_t len)
{
    char a = s[0];
    switch (len) {
    case 2:
        return a == 'i' ? F_ID : a == 't' ? F_TS : a == 'o' ? F_OP : -1;
    case 3:
        return a == 'h' ? F_HUB : a == 'u' ? F_URL : -1;
    case 4:
        return a == 't' ? F_TYPE : a == 'd' ? F_DATA : a == 'n' ? F_NAME : -1;
    case 5:
        return a == 'g'   ? F_GROUP
               : a == 's' ? F_STATE
               : a == 'e' ? F_ERROR
               : a == 'm' ? F_MODEL
               : a == 'a' ? F_ADMIN
                          : -1;
    case 6:
        if (a == 't')
            return s[2] == 'r' ? F_TARGET : F_TASK_ID;
        return a == 'g'   ? F_GROUPS
               : a == 'r' ? F_RESULT
               : a == 'a' ? F_AMOUNT
               : a == 'b' ? F_BUDGET
               : a == 's' ? F_STATUS
                          : -1;
    case 7:
        return a == 'p'   ? F_PERCENT
               : a == 'm' ? F_MESSAGE
               : a == 'd' ? F_DETAILS
               : a == 'a' ? F_ATTEMPT
               : a == 'k' ? F_KEY_HASH
               : a == 'e' ? F_ENABLED
                          : -1;
    case 8:
        return a == 't' ? F_TASK_TYPE : a == 'p' ? F_PROVIDER : -1;
    case 9:
        return a == 'a'   ? F_ARGUMENTS
               : a == 'r' ? F_REQUEST_ID
               : a == 'e' ? F_EXPIRES
                          : -1;
    case 10:
        return a == 't' ? F_TOTAL : a == 's' ? F_STATUS_CODE : -1;
    case 11:
        return F_RETRYABLE;
    case 12:
        return F_VKEY;
    case 14:
        return F_RESPONSE_MS;
    }
    return -1;
}

/* The field of a key, or -1 for an unknown key. */
static int
s_key_index(const char *s, size_t len)
{
    if (len == 0)
        return -1;
    int f = s_key_candidate(s, len);
    if (f < 0 || s_key_lens[f] != len)
        return -1;
    for (size_t j = 1; j < len; j++) /* keys are short: no memcmp call */
        if (s_keys[f][j] != s[j])
            return -1;
    return f;
}

/* The fields of webhook, which passes every other key through. */
static bool
s_webhook_known(int f)
{
    return f == F_TYPE || f == F_ID || f == F_TS || f == F_VKEY || f == F_URL ||
           f == F_STATUS || f == F_STATUS_CODE || f == F_ATTEMPT;
}

/* ---- decoding ---------------------------------------------------------- */

typedef struct {
    const msgpack_object *slot[F_COUNT];
    char *err;
    size_t errlen;
} s_ctx_t;

__attribute__((format(printf, 2, 3))) static int
s_fail(s_ctx_t *c, const char *fmt, ...)
{
    if (c->err && c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* A printable, bounded copy of a sender's string, for error texts. */
static const char *
s_quote(char *dst, size_t dstlen, const char *s, size_t len)
{
    size_t max = dstlen - 4, i;
    for (i = 0; i < len && i < max; i++) {
        unsigned char ch = (unsigned char)s[i];
        dst[i] = ch >= 0x20 && ch < 0x7F && ch != '\'' ? (char)ch : '?';
    }
    if (i < len) {
        memcpy(dst + i, "...", 3);
        i += 3;
    }
    dst[i] = '\0';
    return dst;
}

static int
s_missing(s_ctx_t *c, int f)
{
    return s_fail(c, "missing field '%s'", s_keys[f]);
}

static int
s_empty(s_ctx_t *c, int f)
{
    return s_fail(c, "field '%s' must not be empty", s_keys[f]);
}

/* True if s is all ASCII (and so valid UTF-8), a word at a time: most
 * strings are, and cdt_utf8_valid then need not run. */
static bool
s_ascii(const char *s, size_t len)
{
    uint64_t any = 0;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        any |= w;
    }
    for (; i < len; i++)
        any |= (uint8_t)s[i];
    return (any & 0x8080808080808080ULL) == 0;
}

static int
s_check_str(s_ctx_t *c, const char *what, const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return s_fail(c, "field '%s' must be a string", what);
    if (o->via.str.size > CDT_INGRESS_MAX_STR)
        return s_fail(c, "field '%s' is longer than %d bytes", what,
                      CDT_INGRESS_MAX_STR);
    if (!s_ascii(o->via.str.ptr, o->via.str.size) &&
        !cdt_utf8_valid(o->via.str.ptr, o->via.str.size))
        return s_fail(c, "field '%s' is not valid UTF-8", what);
    return 0;
}

static cdt_str_t
s_str_of(const msgpack_object *o)
{
    cdt_str_t s = {o->via.str.size ? o->via.str.ptr : "", o->via.str.size};
    return s;
}

/* A string field; absent leaves *out {NULL, 0}. */
static int
s_str(s_ctx_t *c, int f, bool required, cdt_str_t *out)
{
    const msgpack_object *o = c->slot[f];
    if (!o)
        return required ? s_missing(c, f) : 0;
    if (s_check_str(c, s_keys[f], o) == -1)
        return -1;
    *out = s_str_of(o);
    return 0;
}

static int
s_number(s_ctx_t *c, int f, bool required, bool *has, double *out)
{
    const msgpack_object *o = c->slot[f];
    if (!o)
        return required ? s_missing(c, f) : 0;
    double v;
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        v = (double)o->via.u64;
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        v = (double)o->via.i64;
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        v = o->via.f64;
        if (!isfinite(v))
            return s_fail(c, "field '%s' must be a finite number", s_keys[f]);
        break;
    default:
        return s_fail(c, "field '%s' must be a number", s_keys[f]);
    }
    if (has)
        *has = true;
    *out = v;
    return 0;
}

/* An integer; an integral float is accepted too, since producers that go
 * through JSON or JavaScript cannot always tell 200 from 200.0. */
static int
s_int_of(const msgpack_object *o, int64_t *out)
{
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return -1;
        *out = (int64_t)o->via.u64;
        return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *out = o->via.i64;
        return 0;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: {
        double v = o->via.f64;
        /* 2^63 is the first double above INT64_MAX. */
        if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0) ||
            v != floor(v))
            return -1;
        *out = (int64_t)v;
        return 0;
    }
    default:
        return -1;
    }
}

static int
s_int(s_ctx_t *c, int f, bool *has, int64_t *out)
{
    const msgpack_object *o = c->slot[f];
    if (!o)
        return 0;
    if (s_int_of(o, out) == -1)
        return s_fail(c, "field '%s' must be an integer", s_keys[f]);
    if (has)
        *has = true;
    return 0;
}

static int
s_bool(s_ctx_t *c, int f, bool *has, bool *out)
{
    const msgpack_object *o = c->slot[f];
    if (!o)
        return 0;
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
        return s_fail(c, "field '%s' must be a boolean", s_keys[f]);
    *has = true;
    *out = o->via.boolean;
    return 0;
}

/* virtualKeyId: a positive integer, or its decimal string (some services
 * carry ids as strings). */
static int
s_key_id(s_ctx_t *c, bool required, bool *has, int64_t *out)
{
    const msgpack_object *o = c->slot[F_VKEY];
    if (!o)
        return required ? s_missing(c, F_VKEY) : 0;
    int64_t v = 0;
    if (o->type == MSGPACK_OBJECT_STR) {
        const char *s = o->via.str.ptr;
        size_t n = o->via.str.size;
        if (n == 0 || n > 19)
            goto bad;
        for (size_t i = 0; i < n; i++) {
            if (s[i] < '0' || s[i] > '9')
                goto bad;
            int d = s[i] - '0';
            if (v > (INT64_MAX - d) / 10)
                goto bad;
            v = v * 10 + d;
        }
    } else if (s_int_of(o, &v) == -1) {
        goto bad;
    }
    if (v <= 0)
        goto bad;
    *has = true;
    *out = v;
    return 0;
bad:
    return s_fail(c, "field 'virtualKeyId' must be a positive integer");
}

typedef int(s_enum_parse_fn)(const char *s, size_t len);

static int
s_enum(s_ctx_t *c, int f, bool required, s_enum_parse_fn *parse, int *out)
{
    const msgpack_object *o = c->slot[f];
    if (!o)
        return required ? s_missing(c, f) : 0;
    if (o->type != MSGPACK_OBJECT_STR)
        return s_fail(c, "field '%s' must be a string", s_keys[f]);
    int v = parse(o->via.str.ptr, o->via.str.size);
    if (v == 0) {
        char q[48];
        return s_fail(c, "unknown %s '%s'", s_keys[f],
                      s_quote(q, sizeof q, o->via.str.ptr, o->via.str.size));
    }
    *out = v;
    return 0;
}

static int
s_decode_event(s_ctx_t *c, cdt_ingress_t *msg)
{
    if (s_str(c, F_HUB, true, &msg->hub) == -1)
        return -1;
    if (msg->hub.len == 0)
        return s_empty(c, F_HUB);
    const msgpack_object *g = c->slot[F_GROUP], *gs = c->slot[F_GROUPS];
    if (g && gs)
        return s_fail(c, "fields 'group' and 'groups' are exclusive");
    if (g) {
        if (s_check_str(c, "group", g) == -1)
            return -1;
        if (g->via.str.size == 0)
            return s_empty(c, F_GROUP);
        msg->groups.v = g;
        msg->groups.n = 1;
    } else if (gs) {
        if (gs->type != MSGPACK_OBJECT_ARRAY)
            return s_fail(c, "field 'groups' must be an array of strings");
        if (gs->via.array.size == 0)
            return s_fail(c, "field 'groups' must not be empty");
        for (uint32_t i = 0; i < gs->via.array.size; i++) {
            const msgpack_object *e = &gs->via.array.ptr[i];
            if (e->type != MSGPACK_OBJECT_STR)
                return s_fail(c, "field 'groups' must be an array of "
                                 "strings");
            if (s_check_str(c, "groups", e) == -1)
                return -1;
            if (e->via.str.size == 0)
                return s_fail(c, "field 'groups' holds an empty name");
        }
        msg->groups.v = gs->via.array.ptr;
        msg->groups.n = gs->via.array.size;
    } else {
        return s_missing(c, F_GROUP);
    }
    if (s_str(c, F_TARGET, true, &msg->target) == -1)
        return -1;
    if (msg->target.len == 0)
        return s_empty(c, F_TARGET);
    const msgpack_object *a = c->slot[F_ARGUMENTS], *d = c->slot[F_DATA];
    if (a && d)
        return s_fail(c, "fields 'arguments' and 'data' are exclusive");
    if (a) {
        if (a->type != MSGPACK_OBJECT_ARRAY)
            return s_fail(c, "field 'arguments' must be an array");
        msg->arguments = a;
    } else if (d) {
        msg->data = d;
    } else {
        return s_missing(c, F_ARGUMENTS);
    }
    return 0;
}

static int
s_decode_task(s_ctx_t *c, cdt_ingress_t *msg)
{
    int tt = 0, st = 0;
    if (s_str(c, F_TASK_ID, true, &msg->task_id) == -1 ||
        s_enum(c, F_TASK_TYPE, false, cdt_task_type_parse, &tt) == -1 ||
        s_key_id(c, false, &msg->has_key_id, &msg->key_id) == -1 ||
        s_enum(c, F_STATE, true, cdt_task_state_parse, &st) == -1 ||
        s_number(c, F_PERCENT, false, &msg->has_percent, &msg->percent) == -1 ||
        s_str(c, F_MESSAGE, false, &msg->message) == -1 ||
        s_str(c, F_ERROR, false, &msg->error) == -1 ||
        s_bool(c, F_RETRYABLE, &msg->has_retryable, &msg->retryable) == -1)
        return -1;
    if (msg->task_id.len == 0)
        return s_empty(c, F_TASK_ID);
    msg->task_type = (enum cdt_task_type)tt;
    msg->state = (enum cdt_task_state)st;
    msg->result = c->slot[F_RESULT];
    return 0;
}

static int
s_decode_spend(s_ctx_t *c, cdt_ingress_t *msg)
{
    if (s_key_id(c, true, &msg->has_key_id, &msg->key_id) == -1 ||
        s_number(c, F_AMOUNT, true, NULL, &msg->amount) == -1 ||
        s_number(c, F_TOTAL, true, NULL, &msg->total_spend) == -1 ||
        s_number(c, F_BUDGET, false, &msg->has_budget, &msg->budget) == -1 ||
        s_str(c, F_PROVIDER, false, &msg->provider) == -1 ||
        s_str(c, F_MODEL, false, &msg->model) == -1 ||
        s_str(c, F_REQUEST_ID, false, &msg->request_id) == -1)
        return -1;
    return 0;
}

static int
s_decode_health(s_ctx_t *c, cdt_ingress_t *msg)
{
    int st = 0;
    if (s_str(c, F_PROVIDER, true, &msg->provider) == -1 ||
        s_enum(c, F_STATUS, true, cdt_health_status_parse, &st) == -1 ||
        s_number(c, F_RESPONSE_MS, false, &msg->has_response_ms,
                 &msg->response_ms) == -1 ||
        s_str(c, F_DETAILS, false, &msg->details) == -1)
        return -1;
    if (msg->provider.len == 0)
        return s_empty(c, F_PROVIDER);
    msg->health = (enum cdt_health_status)st;
    return 0;
}

static int
s_decode_webhook(s_ctx_t *c, cdt_ingress_t *msg)
{
    int st = 0;
    if (s_key_id(c, true, &msg->has_key_id, &msg->key_id) == -1 ||
        s_str(c, F_URL, true, &msg->url) == -1 ||
        s_enum(c, F_STATUS, true, cdt_webhook_status_parse, &st) == -1 ||
        s_int(c, F_STATUS_CODE, &msg->has_status_code, &msg->status_code) ==
            -1 ||
        s_int(c, F_ATTEMPT, &msg->has_attempt, &msg->attempt) == -1)
        return -1;
    if (msg->url.len == 0)
        return s_empty(c, F_URL);
    msg->webhook = (enum cdt_webhook_status)st;
    return 0;
}

static int
s_decode_key(s_ctx_t *c, cdt_ingress_t *msg)
{
    int op = 0;
    if (s_enum(c, F_OP, true, cdt_key_op_parse, &op) == -1 ||
        s_key_id(c, true, &msg->has_key_id, &msg->key_id) == -1 ||
        s_str(c, F_NAME, false, &msg->name) == -1 ||
        s_bool(c, F_ADMIN, &msg->has_admin, &msg->admin) == -1 ||
        s_bool(c, F_ENABLED, &msg->has_enabled, &msg->enabled) == -1)
        return -1;
    msg->op = (enum cdt_key_op)op;
    const msgpack_object *h = c->slot[F_KEY_HASH];
    if (h) {
        if (h->type != MSGPACK_OBJECT_STR ||
            !cdt_sha256_hex_valid(h->via.str.ptr, h->via.str.size))
            return s_fail(c, "field 'keyHash' must be 64 lowercase hex "
                             "digits");
        msg->key_hash = s_str_of(h);
    } else if (msg->op == CDT_KEY_ADD) {
        return s_missing(c, F_KEY_HASH);
    }
    const msgpack_object *x = c->slot[F_EXPIRES];
    if (x) {
        /* cdt_clock_parse_iso8601 wants a C string; a valid one is short. */
        char tmp[40];
        if (x->type != MSGPACK_OBJECT_STR || x->via.str.size >= sizeof tmp)
            goto bad_expires;
        memcpy(tmp, x->via.str.ptr, x->via.str.size);
        tmp[x->via.str.size] = '\0';
        if (cdt_clock_parse_iso8601(tmp, &msg->expires_ms) == -1)
            goto bad_expires;
        msg->has_expires = true;
    }
    return 0;
bad_expires:
    return s_fail(c, "field 'expiresAt' must be an ISO-8601 UTC time");
}

int
cdt_ingress_decode(const msgpack_object *obj, cdt_ingress_t *msg, char *err,
                   size_t errlen)
{
    s_ctx_t c;
    memset(&c, 0, sizeof c);
    c.err = err;
    c.errlen = errlen;
    memset(msg, 0, sizeof *msg);
    if (err && errlen)
        err[0] = '\0';
    if (!obj || obj->type != MSGPACK_OBJECT_MAP)
        return s_fail(&c, "message must be a map");
    msg->map = obj;
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object_kv *kv = &obj->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            return s_fail(&c, "map keys must be strings");
        int f = s_key_index(kv->key.via.str.ptr, kv->key.via.str.size);
        if (f < 0)
            continue; /* unknown keys are for newer readers */
        if (c.slot[f])
            return s_fail(&c, "duplicate field '%s'", s_keys[f]);
        c.slot[f] = &kv->val;
    }
    const msgpack_object *t = c.slot[F_TYPE];
    if (!t)
        return s_missing(&c, F_TYPE);
    if (t->type != MSGPACK_OBJECT_STR)
        return s_fail(&c, "field 'type' must be a string");
    int type = cdt_ingress_type_parse(t->via.str.ptr, t->via.str.size);
    if (type == 0) {
        char q[48];
        return s_fail(&c, "unknown type '%s'",
                      s_quote(q, sizeof q, t->via.str.ptr, t->via.str.size));
    }
    msg->type = (enum cdt_ingress_type)type;
    if (s_str(&c, F_ID, false, &msg->id) == -1 ||
        s_int(&c, F_TS, NULL, &msg->ts) == -1)
        return -1;
    switch (msg->type) {
    case CDT_IN_EVENT:
        return s_decode_event(&c, msg);
    case CDT_IN_TASK:
        return s_decode_task(&c, msg);
    case CDT_IN_SPEND:
        return s_decode_spend(&c, msg);
    case CDT_IN_PROVIDER_HEALTH:
        return s_decode_health(&c, msg);
    case CDT_IN_WEBHOOK:
        return s_decode_webhook(&c, msg);
    case CDT_IN_KEY:
        return s_decode_key(&c, msg);
    }
    return s_fail(&c, "unknown type");
}

int
cdt_ingress_parse(const uint8_t *buf, size_t len, msgpack_unpacked *unpacked,
                  cdt_ingress_t *msg, char *err, size_t errlen)
{
    /* Initialising here lets the caller pass a fresh, uninitialised
     * msgpack_unpacked; it must not pass one that still holds a zone. */
    msgpack_unpacked_init(unpacked);
    memset(msg, 0, sizeof *msg);
    size_t used = 0, off = 0;
    /* Checked before unpacking: msgpack-c allocates a container's storage
     * from its declared count (see cdt_msgpack.h). */
    if (cdt_msgpack_check(buf, len, &used) == -1) {
        if (err && errlen)
            (void)snprintf(err, errlen, "%s",
                           len == 0 ? "truncated MessagePack"
                                    : "malformed or truncated MessagePack");
        return -1;
    }
    msgpack_unpack_return rc =
        msgpack_unpack_next(unpacked, (const char *)buf, used, &off);
    if (rc != MSGPACK_UNPACK_SUCCESS) {
        if (err && errlen)
            (void)snprintf(err, errlen, "%s",
                           rc == MSGPACK_UNPACK_CONTINUE
                               ? "truncated MessagePack"
                               : "malformed MessagePack");
        return -1;
    }
    if (off != len) {
        /* off == used here: the check and the unpacker agree on sizes. */
        if (err && errlen)
            (void)snprintf(err, errlen,
                           "trailing bytes after the message (%zu)", len - off);
        return -1;
    }
    if (cdt_ingress_decode(&unpacked->data, msg, err, errlen) == -1)
        return -1;
    cdt_ingress_set_raw(msg, buf, len);
    return 0;
}

/* The element count of the array (or map, with map) header at [*pp, end),
 * moving *pp past the header. */
static bool
s_read_count(const uint8_t **pp, const uint8_t *end, bool map, uint64_t *n)
{
    const uint8_t *p = *pp;
    if (p >= end)
        return false;
    uint8_t c = *p++;
    size_t w;
    if ((c & 0xf0) == (map ? 0x80 : 0x90)) {
        *n = c & 0x0f;
        *pp = p;
        return true;
    }
    if (c == (map ? 0xde : 0xdc))
        w = 2;
    else if (c == (map ? 0xdf : 0xdd))
        w = 4;
    else
        return false;
    if (!cdt_msgpack_read_be(&p, end, w, n))
        return false;
    *pp = p;
    return true;
}

/* The element count a container header at p (n bytes left) declares, or
 * -1 when p does not start with a header of that type. */
static int64_t
s_header_count(const uint8_t *p, size_t n, msgpack_object_type type)
{
    uint64_t count;
    if (!s_read_count(&p, p + n, type == MSGPACK_OBJECT_MAP, &count) ||
        count > INT64_MAX)
        return -1;
    return (int64_t)count;
}

/* Whether the value at p (used bytes) is the one msgpack-c unpacked into
 * val: its first byte is of val's type, a container declares val's
 * count, a string or bin body ends where val's does. */
static bool
s_shape_ok(const uint8_t *p, size_t used, const msgpack_object *val)
{
    uint8_t c = p[0];
    bool uint_form = c <= 0x7f || (c >= 0xcc && c <= 0xcf);
    bool int_form = c >= 0xd0 && c <= 0xd3;
    switch (val->type) {
    case MSGPACK_OBJECT_NIL:
        return c == 0xc0;
    case MSGPACK_OBJECT_BOOLEAN:
        return c == 0xc2 || c == 0xc3;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return uint_form || int_form;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return c >= 0xe0 || int_form;
    case MSGPACK_OBJECT_FLOAT32:
        return c == 0xca;
    case MSGPACK_OBJECT_FLOAT64:
        return c == 0xcb;
    case MSGPACK_OBJECT_STR:
        return ((c >= 0xa0 && c <= 0xbf) || (c >= 0xd9 && c <= 0xdb)) &&
               (val->via.str.size == 0 ||
                (const uint8_t *)val->via.str.ptr + val->via.str.size ==
                    p + used);
    case MSGPACK_OBJECT_BIN:
        return c >= 0xc4 && c <= 0xc6 &&
               (val->via.bin.size == 0 ||
                (const uint8_t *)val->via.bin.ptr + val->via.bin.size ==
                    p + used);
    case MSGPACK_OBJECT_EXT:
        return (c >= 0xc7 && c <= 0xc9) || (c >= 0xd4 && c <= 0xd8);
    case MSGPACK_OBJECT_ARRAY:
        return s_header_count(p, used, val->type) ==
               (int64_t)val->via.array.size;
    case MSGPACK_OBJECT_MAP:
        return s_header_count(p, used, val->type) == (int64_t)val->via.map.size;
    }
    return false;
}

int
cdt_ingress_value_bytes(const cdt_ingress_t *msg, const msgpack_object *val,
                        cdt_str_t *out)
{
    const msgpack_object *map = msg->map;
    if (!msg->raw.ptr || !map || map->type != MSGPACK_OBJECT_MAP || !val)
        return -1;
    const msgpack_object_kv *kv = NULL;
    for (uint32_t i = 0; i < map->via.map.size && !kv; i++)
        if (&map->via.map.ptr[i].val == val)
            kv = &map->via.map.ptr[i];
    if (!kv || kv->key.type != MSGPACK_OBJECT_STR)
        return -1;
    const uint8_t *base = (const uint8_t *)msg->raw.ptr;
    const uint8_t *start = (const uint8_t *)kv->key.via.str.ptr;
    /* compared as addresses: start need not point into raw at all */
    uintptr_t b = (uintptr_t)base, s = (uintptr_t)start;
    if (s < b || s - b > msg->raw.len ||
        kv->key.via.str.size > msg->raw.len - (s - b))
        return -1;
    start += kv->key.via.str.size;
    size_t left = msg->raw.len - (size_t)(start - base), used = 0;
    if (cdt_msgpack_check(start, left, &used) == -1)
        return -1;
    if (!s_shape_ok(start, used, val))
        return -1;
    out->ptr = (const char *)start;
    out->len = used;
    return 0;
}

void
cdt_ingress_set_raw(cdt_ingress_t *msg, const uint8_t *buf, size_t len)
{
    msg->raw.ptr = (const char *)buf;
    msg->raw.len = len;
    if (msg->type != CDT_IN_EVENT)
        return;
    if (msg->arguments &&
        cdt_ingress_value_bytes(msg, msg->arguments, &msg->arguments_mp) != 0)
        msg->arguments_mp = (cdt_str_t){NULL, 0};
    if (msg->data &&
        cdt_ingress_value_bytes(msg, msg->data, &msg->data_mp) != 0)
        msg->data_mp = (cdt_str_t){NULL, 0};
}

/* ---- events straight from the bytes ------------------------------------ */

/* The fast path reads the bytes with these, bounds-checked whatever the
 * input; a value that nests deeper than msgpack_unpack accepts
 * (CDT_MSGPACK_MAX_DEPTH) takes the general path. */

/* cdt_msgpack_skip, with the common scalars (ints, nil, bools, short strings)
 * handled inline. */
static inline bool
s_skip_value(const uint8_t **pp, const uint8_t *end, int depth)
{
    const uint8_t *p = *pp;
    if (p < end) {
        uint8_t c = *p;
        size_t left = (size_t)(end - p);
        if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
            *pp = p + 1;
            return true;
        }
        if (c >= 0xa0 && c <= 0xbf) {
            size_t n = 1 + (c & 0x1fu);
            if (n > left)
                return false;
            *pp = p + n;
            return true;
        }
        if (c >= 0xcc && c <= 0xcf) {
            size_t n = 1 + ((size_t)1 << (c - 0xcc));
            if (n > left)
                return false;
            *pp = p + n;
            return true;
        }
    }
    return cdt_msgpack_skip(pp, end, depth);
}

/* A str at [p, end): its body in *out, and where the next value starts
 * in *next (NULL: not wanted). */
static bool
s_read_str(const uint8_t *p, const uint8_t *end, cdt_str_t *out,
           const uint8_t **next)
{
    if (p >= end)
        return false;
    uint8_t c = *p++;
    uint64_t n;
    if (c >= 0xa0 && c <= 0xbf) {
        n = c & 0x1f;
    } else if (c >= 0xd9 && c <= 0xdb) {
        if (!cdt_msgpack_read_be(&p, end, (size_t)1 << (c - 0xd9), &n))
            return false;
    } else {
        return false;
    }
    if (n > (uint64_t)(end - p))
        return false;
    out->ptr = (const char *)p;
    out->len = (size_t)n;
    if (next)
        *next = p + n;
    return true;
}

/* A string field as s_str would accept it: at most CDT_INGRESS_MAX_STR
 * bytes of UTF-8. */
static bool
s_fast_str(const uint8_t *p, const uint8_t *end, cdt_str_t *out)
{
    return s_read_str(p, end, out, NULL) && out->len <= CDT_INGRESS_MAX_STR &&
           (s_ascii(out->ptr, out->len) || cdt_utf8_valid(out->ptr, out->len));
}

/* An integer as s_int_of reads one, floats aside. */
static bool
s_fast_int(const uint8_t *p, const uint8_t *end, int64_t *out)
{
    if (p >= end)
        return false;
    uint8_t c = *p++;
    if (c <= 0x7f || c >= 0xe0) {
        *out = (int8_t)c;
        return true;
    }
    size_t w;
    bool sign;
    if (c >= 0xcc && c <= 0xcf) {
        w = (size_t)1 << (c - 0xcc);
        sign = false;
    } else if (c >= 0xd0 && c <= 0xd3) {
        w = (size_t)1 << (c - 0xd0);
        sign = true;
    } else {
        return false;
    }
    uint64_t u;
    if (!cdt_msgpack_read_be(&p, end, w, &u))
        return false;
    if (sign && w < 8 && (u >> (8 * w - 1)))
        u |= ~(uint64_t)0 << (8 * w); /* sign-extend */
    if (!sign && u > (uint64_t)INT64_MAX)
        return false;
    memcpy(out, &u, sizeof u);
    return true;
}

int
cdt_ingress_decode_event(const uint8_t *buf, size_t len, cdt_ingress_t *msg,
                         msgpack_object *groups, size_t max_groups)
{
    memset(msg, 0, sizeof *msg);
    if (!buf)
        return -1;
    const uint8_t *p = buf, *end = buf + len;
    const uint8_t *val[F_COUNT], *val_end[F_COUNT];
    uint64_t seen = 0, n;
    if (!s_read_count(&p, end, true, &n))
        return -1;
    for (uint64_t i = 0; i < n; i++) {
        cdt_str_t k;
        if (!s_read_str(p, end, &k, &p))
            return -1; /* a key that is not a string: refused there */
        int f = s_key_index(k.ptr, k.len);
        const uint8_t *v = p;
        if (!s_skip_value(&p, end, 1))
            return -1;
        if (f < 0)
            continue;
        if (seen & ((uint64_t)1 << f))
            return -1; /* a duplicate: refused there */
        seen |= (uint64_t)1 << f;
        val[f] = v;
        val_end[f] = p;
    }
    if (p != end)
        return -1;
#define S_HAS(f) ((seen & ((uint64_t)1 << (f))) != 0)
    cdt_str_t t;
    if (!S_HAS(F_TYPE) || !s_read_str(val[F_TYPE], val_end[F_TYPE], &t, NULL) ||
        t.len != 5 || memcmp(t.ptr, "event", 5) != 0)
        return -1;
    if (S_HAS(F_ID) && !s_fast_str(val[F_ID], val_end[F_ID], &msg->id))
        return -1;
    if (S_HAS(F_TS) && !s_fast_int(val[F_TS], val_end[F_TS], &msg->ts))
        return -1;
    if (!S_HAS(F_HUB) || !s_fast_str(val[F_HUB], val_end[F_HUB], &msg->hub) ||
        msg->hub.len == 0)
        return -1;
    if (!S_HAS(F_TARGET) ||
        !s_fast_str(val[F_TARGET], val_end[F_TARGET], &msg->target) ||
        msg->target.len == 0)
        return -1;
    if (S_HAS(F_GROUP) == S_HAS(F_GROUPS))
        return -1;
    uint64_t ng = 1;
    const uint8_t *g = S_HAS(F_GROUP) ? val[F_GROUP] : val[F_GROUPS];
    const uint8_t *g_end =
        S_HAS(F_GROUP) ? val_end[F_GROUP] : val_end[F_GROUPS];
    if (S_HAS(F_GROUPS) && !s_read_count(&g, g_end, false, &ng))
        return -1;
    if (ng == 0 || ng > max_groups)
        return -1;
    for (uint64_t i = 0; i < ng; i++) {
        cdt_str_t name;
        if (!s_fast_str(g, g_end, &name) || name.len == 0)
            return -1;
        groups[i].type = MSGPACK_OBJECT_STR;
        groups[i].via.str.ptr = name.ptr;
        groups[i].via.str.size = (uint32_t)name.len;
        g = (const uint8_t *)name.ptr + name.len; /* name.len > 0 */
    }
    msg->groups.v = groups;
    msg->groups.n = (size_t)ng;
    if (S_HAS(F_ARGUMENTS) == S_HAS(F_DATA))
        return -1;
    if (S_HAS(F_ARGUMENTS)) {
        const uint8_t *a = val[F_ARGUMENTS];
        uint64_t na;
        if (!s_read_count(&a, val_end[F_ARGUMENTS], false, &na))
            return -1;
        msg->arguments_mp.ptr = (const char *)val[F_ARGUMENTS];
        msg->arguments_mp.len =
            (size_t)(val_end[F_ARGUMENTS] - val[F_ARGUMENTS]);
    } else {
        msg->data_mp.ptr = (const char *)val[F_DATA];
        msg->data_mp.len = (size_t)(val_end[F_DATA] - val[F_DATA]);
    }
#undef S_HAS
    msg->type = CDT_IN_EVENT;
    msg->raw.ptr = (const char *)buf;
    msg->raw.len = len;
    return 0;
}

/* ---- encoding ---------------------------------------------------------- */

static void
s_pk_key(msgpack_packer *pk, int f)
{
    msgpack_pack_str_with_body(pk, s_keys[f], s_key_lens[f]);
}

static void
s_pk_str(msgpack_packer *pk, int f, cdt_str_t s)
{
    s_pk_key(pk, f);
    msgpack_pack_str_with_body(pk, s.len ? s.ptr : "", s.len);
}

static void
s_pk_cstr(msgpack_packer *pk, int f, const char *s)
{
    s_pk_key(pk, f);
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void
s_pk_double(msgpack_packer *pk, int f, double v)
{
    s_pk_key(pk, f);
    msgpack_pack_double(pk, v);
}

static void
s_pk_int(msgpack_packer *pk, int f, int64_t v)
{
    s_pk_key(pk, f);
    msgpack_pack_int64(pk, v);
}

static void
s_pk_bool(msgpack_packer *pk, int f, bool v)
{
    s_pk_key(pk, f);
    if (v)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

/* The pairs of msg's type, in a fixed order. With pk NULL nothing is
 * packed; either way the number of pairs is returned, so that one walk
 * both counts (for the map header) and packs. */
static size_t
s_pairs(const cdt_ingress_t *m, msgpack_packer *pk)
{
    size_t n = 0;
#define PAIR(stmt) \
    do {           \
        n++;       \
        if (pk) {  \
            stmt;  \
        }          \
    } while (0)
    PAIR(s_pk_cstr(pk, F_TYPE, cdt_ingress_type_name(m->type)));
    if (m->id.len)
        PAIR(s_pk_str(pk, F_ID, m->id));
    if (m->ts)
        PAIR(s_pk_int(pk, F_TS, m->ts));
    switch (m->type) {
    case CDT_IN_EVENT:
        PAIR(s_pk_str(pk, F_HUB, m->hub));
        if (m->groups.n == 1) {
            PAIR(s_pk_str(pk, F_GROUP, cdt_strv_at(m->groups, 0)));
        } else {
            PAIR({
                s_pk_key(pk, F_GROUPS);
                msgpack_pack_array(pk, m->groups.n);
                for (size_t i = 0; i < m->groups.n; i++) {
                    cdt_str_t g = cdt_strv_at(m->groups, i);
                    msgpack_pack_str_with_body(pk, g.len ? g.ptr : "", g.len);
                }
            });
        }
        PAIR(s_pk_str(pk, F_TARGET, m->target));
        if (m->arguments) {
            PAIR({
                s_pk_key(pk, F_ARGUMENTS);
                msgpack_pack_object(pk, *m->arguments);
            });
        } else if (m->data) {
            PAIR({
                s_pk_key(pk, F_DATA);
                msgpack_pack_object(pk, *m->data);
            });
        }
        break;
    case CDT_IN_TASK:
        PAIR(s_pk_str(pk, F_TASK_ID, m->task_id));
        if (m->task_type)
            PAIR(s_pk_cstr(pk, F_TASK_TYPE, cdt_task_type_name(m->task_type)));
        if (m->has_key_id)
            PAIR(s_pk_int(pk, F_VKEY, m->key_id));
        PAIR(s_pk_cstr(pk, F_STATE, cdt_task_state_name(m->state)));
        if (m->has_percent)
            PAIR(s_pk_double(pk, F_PERCENT, m->percent));
        if (m->message.ptr)
            PAIR(s_pk_str(pk, F_MESSAGE, m->message));
        if (m->result)
            PAIR({
                s_pk_key(pk, F_RESULT);
                msgpack_pack_object(pk, *m->result);
            });
        if (m->error.ptr)
            PAIR(s_pk_str(pk, F_ERROR, m->error));
        if (m->has_retryable)
            PAIR(s_pk_bool(pk, F_RETRYABLE, m->retryable));
        break;
    case CDT_IN_SPEND:
        PAIR(s_pk_int(pk, F_VKEY, m->key_id));
        PAIR(s_pk_double(pk, F_AMOUNT, m->amount));
        PAIR(s_pk_double(pk, F_TOTAL, m->total_spend));
        if (m->has_budget)
            PAIR(s_pk_double(pk, F_BUDGET, m->budget));
        if (m->provider.ptr)
            PAIR(s_pk_str(pk, F_PROVIDER, m->provider));
        if (m->model.ptr)
            PAIR(s_pk_str(pk, F_MODEL, m->model));
        if (m->request_id.ptr)
            PAIR(s_pk_str(pk, F_REQUEST_ID, m->request_id));
        break;
    case CDT_IN_PROVIDER_HEALTH:
        PAIR(s_pk_str(pk, F_PROVIDER, m->provider));
        PAIR(s_pk_cstr(pk, F_STATUS, cdt_health_status_name(m->health)));
        if (m->has_response_ms)
            PAIR(s_pk_double(pk, F_RESPONSE_MS, m->response_ms));
        if (m->details.ptr)
            PAIR(s_pk_str(pk, F_DETAILS, m->details));
        break;
    case CDT_IN_WEBHOOK:
        PAIR(s_pk_int(pk, F_VKEY, m->key_id));
        PAIR(s_pk_str(pk, F_URL, m->url));
        PAIR(s_pk_cstr(pk, F_STATUS, cdt_webhook_status_name(m->webhook)));
        if (m->has_status_code)
            PAIR(s_pk_int(pk, F_STATUS_CODE, m->status_code));
        if (m->has_attempt)
            PAIR(s_pk_int(pk, F_ATTEMPT, m->attempt));
        /* The further fields of a decoded webhook go through as given. */
        if (m->map && m->map->type == MSGPACK_OBJECT_MAP) {
            for (uint32_t i = 0; i < m->map->via.map.size; i++) {
                const msgpack_object_kv *kv = &m->map->via.map.ptr[i];
                int f =
                    kv->key.type == MSGPACK_OBJECT_STR
                        ? s_key_index(kv->key.via.str.ptr, kv->key.via.str.size)
                        : -1;
                if (f >= 0 && s_webhook_known(f))
                    continue;
                PAIR({
                    msgpack_pack_object(pk, kv->key);
                    msgpack_pack_object(pk, kv->val);
                });
            }
        }
        break;
    case CDT_IN_KEY:
        PAIR(s_pk_cstr(pk, F_OP, cdt_key_op_name(m->op)));
        PAIR(s_pk_int(pk, F_VKEY, m->key_id));
        if (m->name.ptr)
            PAIR(s_pk_str(pk, F_NAME, m->name));
        if (m->key_hash.ptr)
            PAIR(s_pk_str(pk, F_KEY_HASH, m->key_hash));
        if (m->has_admin)
            PAIR(s_pk_bool(pk, F_ADMIN, m->admin));
        if (m->has_enabled)
            PAIR(s_pk_bool(pk, F_ENABLED, m->enabled));
        if (m->has_expires) {
            PAIR({
                char iso[CDT_ISO8601_LEN];
                cdt_clock_iso8601(m->expires_ms, iso);
                s_pk_cstr(pk, F_EXPIRES, iso);
            });
        }
        break;
    }
#undef PAIR
    return n;
}

void
cdt_ingress_encode(const cdt_ingress_t *msg, cdt_buf_t *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, cdt_buf_msgpack_write);
    msgpack_pack_map(&pk, s_pairs(msg, NULL));
    (void)s_pairs(msg, &pk);
}

/* ---- acknowledgements -------------------------------------------------- */
