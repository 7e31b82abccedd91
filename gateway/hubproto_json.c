/*
 * hubproto_json - the SignalR JSON hub protocol, client side in, server
 * side out (SIGNALR.md §2, §3).
 *
 * A record is translated to MessagePack once (cdt_json_to_msgpack, which
 * also validates the JSON and its UTF-8) and the top-level map is then
 * walked one key and one value at a time with msgpack_unpack. Unpacking
 * each value separately gives its exact byte range inside the scratch
 * buffer, so `arguments` is handed out as the MessagePack bytes already
 * there, without re-packing, and every string points at its payload in
 * scratch (msgpack-c references str bytes in the input rather than copying
 * them), so nothing borrowed from the zone outlives this module.
 *
 * Validation mirrors .NET's JsonHubProtocol: known properties are checked
 * for their JSON type whatever the message type (the JS client writes
 * `type` last, so .NET cannot know it yet either), required properties are
 * checked once the whole record has been read.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/hubproto_json.h"

#include "common/cdt_json.h"

#include <msgpack.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* msgpack-c unpacks at most 32 nested non-empty containers (its
 * MSGPACK_EMBED_STACK_SIZE) and fails beyond that; limiting the JSON to the
 * same depth makes every accepted record unpackable here and downstream. */
#define HUBPROTO_JSON_MAX_DEPTH 32

#define HANDSHAKE_ERROR \
    "An unexpected error occurred during connection handshake."

static void s_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
s_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- framing ------------------------------------------------------------ */

/* On any error the connection is being closed, so the unfinished tail is
 * dropped at once: the caller then has nothing to release. */
static int
s_feed_fail(cdt_buf_t *pending, int rc)
{
    cdt_buf_release(pending);
    return rc;
}

int
hubproto_json_feed(cdt_buf_t *pending, const char *data, size_t len,
                   size_t max_record, hub_record_fn *fn, void *arg, char *err,
                   size_t errlen)
{
    size_t pos = 0;

    if (pending->len == 0 && pending->data)
        cdt_buf_release(pending);
    if (len == 0)
        return 0;

    /* Finish the record started by an earlier call. The limit is checked
     * before appending, so *pending never grows past max_record. */
    if (pending->len > 0) {
        const char *rs = memchr(data, HUBPROTO_RS, len);
        size_t take = rs ? (size_t)(rs - data) : len;
        if (pending->len > max_record || take > max_record - pending->len) {
            if (rs)
                s_set_err(err, errlen,
                          "record of %zu bytes exceeds the limit of %zu",
                          pending->len + take, max_record);
            else
                s_set_err(err, errlen,
                          "unfinished record of %zu bytes exceeds the limit "
                          "of %zu",
                          pending->len + take, max_record);
            return s_feed_fail(pending, -2);
        }
        cdt_buf_append(pending, data, take);
        if (!rs)
            return 0;
        int rc = fn(arg, (const char *)pending->data, pending->len);
        cdt_buf_release(pending);
        if (rc != 0)
            return -1;
        pos = take + 1;
    }

    /* Complete records in data are passed on in place, without copying. */
    while (pos < len) {
        const char *start = data + pos;
        const char *rs = memchr(start, HUBPROTO_RS, len - pos);
        if (!rs)
            break;
        size_t n = (size_t)(rs - start);
        if (n > max_record) {
            s_set_err(err, errlen,
                      "record of %zu bytes exceeds the limit of %zu", n,
                      max_record);
            return s_feed_fail(pending, -2);
        }
        if (fn(arg, start, n) != 0)
            return s_feed_fail(pending, -1);
        pos += n + 1;
    }

    size_t tail = len - pos;
    if (tail > max_record) {
        s_set_err(err, errlen,
                  "unfinished record of %zu bytes exceeds the limit of %zu",
                  tail, max_record);
        return s_feed_fail(pending, -2);
    }
    if (tail > 0)
        cdt_buf_append(pending, data + pos, tail);
    return 0;
}

/* ---- walking the MessagePack form of a JSON object ---------------------- */

/* Reads a map header; the caller then unpacks 2 * *n objects from *off. */
static int
s_map_header(const uint8_t *p, size_t len, size_t *off, uint32_t *n)
{
    if (len < 1)
        return -1;
    if (p[0] >= 0x80 && p[0] <= 0x8f) {
        *n = p[0] & 0x0f;
        *off = 1;
    } else if (p[0] == 0xde && len >= 3) {
        *n = (uint32_t)p[1] << 8 | p[2];
        *off = 3;
    } else if (p[0] == 0xdf && len >= 5) {
        *n = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 |
             p[4];
        *off = 5;
    } else {
        return -1;
    }
    return 0;
}

/* Unpacks the object at *off, advancing *off past it. */
static int
s_unpack_next(const cdt_buf_t *mp, size_t *off, msgpack_zone *zone,
              msgpack_object *obj)
{
    msgpack_unpack_return rc =
        msgpack_unpack((const char *)mp->data, mp->len, off, zone, obj);
    return rc == MSGPACK_UNPACK_SUCCESS || rc == MSGPACK_UNPACK_EXTRA_BYTES
               ? 0
               : -1;
}

static void
s_zone_init(msgpack_zone *zone)
{
    if (!msgpack_zone_init(zone, 1024)) {
        fputs("fatal: out of memory\n", stderr);
        abort();
    }
}

static bool
s_key_is(const msgpack_object *key, const char *name)
{
    size_t n = strlen(name);
    return key->type == MSGPACK_OBJECT_STR && key->via.str.size == n &&
           memcmp(key->via.str.ptr, name, n) == 0;
}

static bool
s_int64(const msgpack_object *o, int64_t *v)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return false;
        *v = (int64_t)o->via.u64;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *v = o->via.i64;
        return true;
    }
    return false;
}

/* A present string never has a NULL ptr, so that callers can tell an
 * empty one from an absent one. */
static cdt_str_t
s_str(const msgpack_object *o)
{
    cdt_str_t s = {o->via.str.ptr ? o->via.str.ptr : "", o->via.str.size};
    return s;
}

/* ---- client records ----------------------------------------------------- */

/* What the walk saw, beyond what hub_msg_t carries. */
struct s_seen {
    bool type;
    bool invocation_id;
    bool target;
    bool arguments;
    bool error;
    bool result;
    bool item;
};

/* Checks one property of the record and stores it in msg. Returns 0 or -1
 * with err set. Later duplicates win, as in .NET. */
static int
s_take_property(const msgpack_object *key, const msgpack_object *val,
                const uint8_t *val_bytes, size_t val_len, hub_msg_t *msg,
                struct s_seen *seen, char *err, size_t errlen)
{
    if (s_key_is(key, "type")) {
        if (!s_int64(val, &msg->type)) {
            s_set_err(err, errlen, "expected 'type' to be an integer");
            return -1;
        }
        seen->type = true;
    } else if (s_key_is(key, "invocationId")) {
        if (val->type != MSGPACK_OBJECT_STR) {
            s_set_err(err, errlen, "expected 'invocationId' to be a string");
            return -1;
        }
        msg->invocation_id = s_str(val);
        seen->invocation_id = true;
    } else if (s_key_is(key, "target")) {
        if (val->type != MSGPACK_OBJECT_STR) {
            s_set_err(err, errlen, "expected 'target' to be a string");
            return -1;
        }
        msg->target = s_str(val);
        seen->target = true;
    } else if (s_key_is(key, "arguments")) {
        if (val->type != MSGPACK_OBJECT_ARRAY) {
            s_set_err(err, errlen, "expected 'arguments' to be an array");
            return -1;
        }
        msg->args = val_bytes;
        msg->args_len = val_len;
        msg->n_args = val->via.array.size;
        seen->arguments = true;
    } else if (s_key_is(key, "streamIds")) {
        if (val->type != MSGPACK_OBJECT_ARRAY) {
            s_set_err(err, errlen, "expected 'streamIds' to be an array");
            return -1;
        }
        for (uint32_t i = 0; i < val->via.array.size; i++) {
            if (val->via.array.ptr[i].type != MSGPACK_OBJECT_STR) {
                s_set_err(err, errlen,
                          "expected 'streamIds' to hold only strings");
                return -1;
            }
        }
        msg->has_stream_ids = val->via.array.size > 0;
    } else if (s_key_is(key, "headers")) {
        if (val->type != MSGPACK_OBJECT_MAP) {
            s_set_err(err, errlen, "expected 'headers' to be an object");
            return -1;
        }
        for (uint32_t i = 0; i < val->via.map.size; i++) {
            const msgpack_object_kv *kv = &val->via.map.ptr[i];
            if (kv->val.type != MSGPACK_OBJECT_STR) {
                s_set_err(err, errlen,
                          "expected every header value to be a string");
                return -1;
            }
        }
    } else if (s_key_is(key, "error")) {
        if (val->type != MSGPACK_OBJECT_STR) {
            s_set_err(err, errlen, "expected 'error' to be a string");
            return -1;
        }
        msg->error = s_str(val);
        seen->error = true;
    } else if (s_key_is(key, "allowReconnect")) {
        if (val->type != MSGPACK_OBJECT_BOOLEAN) {
            s_set_err(err, errlen,
                      "expected 'allowReconnect' to be true or false");
            return -1;
        }
        msg->allow_reconnect = val->via.boolean;
    } else if (s_key_is(key, "sequenceId")) {
        if (!s_int64(val, &msg->sequence_id)) {
            s_set_err(err, errlen, "expected 'sequenceId' to be an integer");
            return -1;
        }
        msg->has_sequence_id = true;
    } else if (s_key_is(key, "result")) {
        seen->result = true;
    } else if (s_key_is(key, "item")) {
        seen->item = true;
    }
    return 0;
}

static int
s_missing(const char *name, char *err, size_t errlen)
{
    s_set_err(err, errlen, "missing required property '%s'", name);
    return -1;
}

/* The checks .NET makes once the type is known (Bind*Message). */
static int
s_check_required(const hub_msg_t *msg, const struct s_seen *seen, char *err,
                 size_t errlen)
{
    if (!seen->type)
        return s_missing("type", err, errlen);
    switch (msg->type) {
    case HUB_STREAM_INVOCATION:
        if (!msg->has_invocation_id)
            return s_missing("invocationId", err, errlen);
        /* fall through */
    case HUB_INVOCATION:
        if (msg->target.len == 0)
            return s_missing("target", err, errlen);
        if (!seen->arguments)
            return s_missing("arguments", err, errlen);
        break;
    case HUB_STREAM_ITEM:
        if (!msg->has_invocation_id)
            return s_missing("invocationId", err, errlen);
        if (!seen->item)
            return s_missing("item", err, errlen);
        break;
    case HUB_COMPLETION:
        if (!msg->has_invocation_id)
            return s_missing("invocationId", err, errlen);
        if (seen->error && seen->result) {
            s_set_err(err, errlen,
                      "the 'error' and 'result' properties are mutually "
                      "exclusive");
            return -1;
        }
        break;
    case HUB_CANCEL_INVOCATION:
        if (!msg->has_invocation_id)
            return s_missing("invocationId", err, errlen);
        break;
    case HUB_ACK:
    case HUB_SEQUENCE:
        if (!msg->has_sequence_id)
            return s_missing("sequenceId", err, errlen);
        break;
    default:
        break;
    }
    return 0;
}

int
hubproto_json_parse(const char *text, size_t len, cdt_buf_t *scratch,
                    hub_msg_t *msg, char *err, size_t errlen)
{
    char why[128] = "";
    memset(msg, 0, sizeof *msg);
    cdt_buf_reset(scratch);
    if (cdt_json_to_msgpack(text, len, scratch, HUBPROTO_JSON_MAX_DEPTH, why,
                            sizeof why) != 0) {
        s_set_err(err, errlen, "invalid JSON: %s", why);
        return -1;
    }

    size_t off;
    uint32_t n;
    if (s_map_header(scratch->data, scratch->len, &off, &n) != 0) {
        s_set_err(err, errlen, "record is not a JSON object");
        return -1;
    }

    struct s_seen seen = {0};
    msgpack_zone zone;
    s_zone_init(&zone);
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        msgpack_object key, val;
        size_t val_off = 0;
        rc = s_unpack_next(scratch, &off, &zone, &key);
        if (rc == 0) {
            val_off = off;
            rc = s_unpack_next(scratch, &off, &zone, &val);
        }
        if (rc != 0) {
            /* cdt_json wrote these bytes: not the client's doing */
            s_set_err(err, errlen, "cannot read the record's MessagePack");
            break;
        }
        rc = s_take_property(&key, &val, scratch->data + val_off, off - val_off,
                             msg, &seen, err, errlen);
    }
    msgpack_zone_destroy(&zone);
    if (rc != 0) {
        memset(msg, 0, sizeof *msg);
        return -1;
    }

    /* .NET treats an empty id as none: an Invocation with "" is
     * non-blocking, and an echoed "" would be rejected by the JS client. */
    msg->has_invocation_id = seen.invocation_id && msg->invocation_id.len > 0;
    if (!msg->has_invocation_id) {
        msg->invocation_id.ptr = NULL;
        msg->invocation_id.len = 0;
    }
    if (s_check_required(msg, &seen, err, errlen) != 0) {
        memset(msg, 0, sizeof *msg);
        return -1;
    }
    return 0;
}

int
hubproto_handshake_parse(const char *text, size_t len, char *protocol,
                         size_t protocol_size, int64_t *version, char *err,
                         size_t errlen)
{
    /* .NET answers every malformed request (bad JSON, not an object,
     * missing or mistyped protocol/version) with the same text. */
    char why[128];
    cdt_buf_t mp = CDT_BUF_INIT;
    msgpack_zone zone;
    bool have_protocol = false, have_version = false;
    cdt_str_t name = {NULL, 0};
    int64_t v = 0;
    int rc = -1;

    s_zone_init(&zone);
    if (cdt_json_to_msgpack(text, len, &mp, HUBPROTO_JSON_MAX_DEPTH, why,
                            sizeof why) != 0)
        goto done;
    size_t off;
    uint32_t n;
    if (s_map_header(mp.data, mp.len, &off, &n) != 0)
        goto done;
    for (uint32_t i = 0; i < n; i++) {
        msgpack_object key, val;
        if (s_unpack_next(&mp, &off, &zone, &key) != 0 ||
            s_unpack_next(&mp, &off, &zone, &val) != 0)
            goto done;
        if (s_key_is(&key, "protocol")) {
            if (val.type != MSGPACK_OBJECT_STR)
                goto done;
            name = s_str(&val);
            have_protocol = true;
        } else if (s_key_is(&key, "version")) {
            /* ReadAsInt32: null reads as absent, anything else must be an
             * int32. */
            if (val.type == MSGPACK_OBJECT_NIL) {
                have_version = false;
                continue;
            }
            if (!s_int64(&val, &v) || v < INT32_MIN || v > INT32_MAX)
                goto done;
            have_version = true;
        }
    }
    if (!have_protocol || !have_version)
        goto done;
    if (protocol && protocol_size > 0) {
        size_t copy =
            name.len < protocol_size - 1 ? name.len : protocol_size - 1;
        if (copy)
            memcpy(protocol, name.ptr, copy);
        protocol[copy] = '\0';
    }
    *version = v;
    rc = 0;
done:
    msgpack_zone_destroy(&zone);
    cdt_buf_release(&mp);
    if (rc != 0)
        s_set_err(err, errlen, "%s", HANDSHAKE_ERROR);
    return rc;
}

/* ---- server records ----------------------------------------------------- */

/* Drops everything appended since start (a failed encoder appends
 * nothing). */
static void
s_truncate(cdt_buf_t *out, size_t start)
{
    out->len = start;
    if (out->data)
        out->data[start] = '\0';
}

void
hubproto_json_handshake_response(cdt_buf_t *out, const char *error)
{
    /* .NET writes {} for an empty error too (string.IsNullOrEmpty). */
    if (error && error[0]) {
        cdt_buf_append_str(out, "{\"error\":");
        cdt_json_append_string(out, error, strlen(error));
        cdt_buf_append_str(out, "}\x1e");
    } else {
        cdt_buf_append_str(out, "{}\x1e");
    }
}

static void
s_completion_head(cdt_buf_t *out, cdt_str_t invocation_id)
{
    cdt_buf_append_str(out, "{\"type\":3,\"invocationId\":");
    cdt_json_append_string(out, invocation_id.ptr ? invocation_id.ptr : "",
                           invocation_id.len);
}

int
hubproto_json_completion_result(cdt_buf_t *out, cdt_str_t invocation_id,
                                const void *result, size_t result_len)
{
    size_t start = out->len;
    s_completion_head(out, invocation_id);
    cdt_buf_append_str(out, ",\"result\":");
    if (!result || result_len == 0) {
        cdt_buf_append_str(out, "null");
    } else {
        msgpack_zone zone;
        msgpack_object obj;
        size_t off = 0;
        s_zone_init(&zone);
        msgpack_unpack_return urc =
            msgpack_unpack(result, result_len, &off, &zone, &obj);
        int rc = urc == MSGPACK_UNPACK_SUCCESS
                     ? cdt_json_from_msgpack(&obj, out)
                     : -1;
        msgpack_zone_destroy(&zone);
        if (rc != 0) {
            s_truncate(out, start);
            return -1;
        }
    }
    cdt_buf_append_str(out, "}\x1e");
    return 0;
}

void
hubproto_json_completion_error(cdt_buf_t *out, cdt_str_t invocation_id,
                               const char *error)
{
    s_completion_head(out, invocation_id);
    cdt_buf_append_str(out, ",\"error\":");
    cdt_json_append_string(out, error ? error : "", error ? strlen(error) : 0);
    cdt_buf_append_str(out, "}\x1e");
}

void
hubproto_json_ping(cdt_buf_t *out)
{
    cdt_buf_append_str(out, "{\"type\":6}\x1e");
}

void
hubproto_json_close(cdt_buf_t *out, const char *error, bool allow_reconnect)
{
    cdt_buf_append_str(out, "{\"type\":7");
    if (error) {
        cdt_buf_append_str(out, ",\"error\":");
        cdt_json_append_string(out, error, strlen(error));
    }
    if (allow_reconnect)
        cdt_buf_append_str(out, ",\"allowReconnect\":true");
    cdt_buf_append_str(out, "}\x1e");
}
