/*
 * cdt_link - encoding and decoding of the gateway <-> broker messages.
 *
 * The decoder is table-driven: each kind lists the types of its elements
 * after the kind, checked before any field is read, so a frame either
 * decodes completely or not at all. The bins (args, result, json) are not
 * unpacked here: their consumers do that once, where they use them.
 *
 * SPDX-License-Identifier: MIT
 */
#include "proto/cdt_link.h"

#include "common/cdt_json.h"
#include "common/cdt_msgpack.h"

#include <string.h>

cdt_str_t
cdt_strv_at(cdt_strv_t list, size_t i)
{
    cdt_str_t s = {NULL, 0};
    if (i < list.n) {
        s.ptr = list.v[i].via.str.ptr;
        s.len = list.v[i].via.str.size;
    }
    return s;
}

static const char *const s_kind_names[] = {
    [CDT_LINK_HELLO] = "HELLO",
    [CDT_LINK_WELCOME] = "WELCOME",
    [CDT_LINK_PING] = "PING",
    [CDT_LINK_PONG] = "PONG",
    [CDT_LINK_AUTH] = "AUTH",
    [CDT_LINK_AUTH_REP] = "AUTH_REP",
    [CDT_LINK_CONN_OPEN] = "CONN_OPEN",
    [CDT_LINK_CONN_READY] = "CONN_READY",
    [CDT_LINK_CONN_CLOSE] = "CONN_CLOSE",
    [CDT_LINK_INVOKE] = "INVOKE",
    [CDT_LINK_INVOKE_REP] = "INVOKE_REP",
    [CDT_LINK_EVENT] = "EVENT",
    [CDT_LINK_DIRECT] = "DIRECT",
    [CDT_LINK_KICK] = "KICK",
};

const char *
cdt_link_kind_name(int kind)
{
    if (kind < CDT_LINK_HELLO || kind > CDT_LINK_KICK)
        return "?";
    return s_kind_names[kind];
}

/* ---- decoding ---------------------------------------------------------- */

/* Element types: u32, u64, i64, bool, str, bin, [str], and the INVOKE_REP
 * element that is bin when ok and str otherwise. */
enum {
    T_END = 0,
    T_U32,
    T_U64,
    T_I64,
    T_BOOL,
    T_STR,
    T_BIN,
    T_STRV,
    T_RES,
};

/* The element types after the kind, per kind. */
static const char s_layout[][8] = {
    [CDT_LINK_HELLO] = {T_STR, T_U64},
    [CDT_LINK_WELCOME] = {T_U64, T_U32, T_U32, T_BIN},
    [CDT_LINK_PING] = {T_U64},
    [CDT_LINK_PONG] = {T_U64},
    [CDT_LINK_AUTH] = {T_U32, T_STR, T_STR, T_STR},
    [CDT_LINK_AUTH_REP] = {T_U32, T_U32, T_I64, T_BOOL, T_STR},
    [CDT_LINK_CONN_OPEN] = {T_U64, T_STR, T_I64, T_BOOL, T_BOOL, T_STRV},
    [CDT_LINK_CONN_READY] = {T_U64, T_U32, T_STR, T_STRV},
    [CDT_LINK_CONN_CLOSE] = {T_U64},
    [CDT_LINK_INVOKE] = {T_U32, T_U64, T_STR, T_BIN},
    [CDT_LINK_INVOKE_REP] = {T_U32, T_U64, T_BOOL, T_RES, T_STRV, T_STRV},
    [CDT_LINK_EVENT] = {T_STR, T_STRV, T_U64, T_STR, T_BIN, T_BIN},
    [CDT_LINK_DIRECT] = {T_U64, T_STR, T_BIN, T_BIN},
    [CDT_LINK_KICK] = {T_I64, T_STR},
};

static bool
s_type_ok(const msgpack_object *o, int t, bool ok)
{
    switch (t) {
    case T_U32:
        return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
               o->via.u64 <= UINT32_MAX;
    case T_U64:
        return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
    case T_I64:
        return o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ||
               (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                o->via.u64 <= (uint64_t)INT64_MAX);
    case T_BOOL:
        return o->type == MSGPACK_OBJECT_BOOLEAN;
    case T_STR:
        return o->type == MSGPACK_OBJECT_STR;
    case T_BIN:
        return o->type == MSGPACK_OBJECT_BIN;
    case T_RES:
        return o->type == (ok ? MSGPACK_OBJECT_BIN : MSGPACK_OBJECT_STR);
    case T_STRV:
        if (o->type != MSGPACK_OBJECT_ARRAY)
            return false;
        for (uint32_t i = 0; i < o->via.array.size; i++)
            if (o->via.array.ptr[i].type != MSGPACK_OBJECT_STR)
                return false;
        return true;
    }
    return false;
}

static cdt_str_t
s_str(const msgpack_object *o)
{
    cdt_str_t s = {o->via.str.ptr, o->via.str.size};
    return s;
}

static cdt_str_t
s_bin(const msgpack_object *o)
{
    cdt_str_t s = {o->via.bin.ptr, o->via.bin.size};
    return s;
}

static cdt_strv_t
s_strv(const msgpack_object *o)
{
    cdt_strv_t v = {o->via.array.ptr, o->via.array.size};
    return v;
}

int
cdt_link_decode(const uint8_t *buf, size_t len, msgpack_zone *zone,
                cdt_link_msg_t *msg)
{
    memset(msg, 0, sizeof *msg);
    if (!buf || len == 0)
        return -1;
    msgpack_object root;
    /* Checked before unpacking: see cdt_msgpack.h. */
    if (cdt_msgpack_unpack_one(buf, len, zone, &root) == -1)
        return -1;
    if (root.type != MSGPACK_OBJECT_ARRAY || root.via.array.size == 0)
        return -1;
    const msgpack_object *e = root.via.array.ptr;
    if (e[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        e[0].via.u64 < CDT_LINK_HELLO || e[0].via.u64 > CDT_LINK_KICK)
        return -1;
    int kind = (int)e[0].via.u64;
    const char *layout = s_layout[kind];
    size_t n = strlen(layout);
    if (root.via.array.size != n + 1)
        return -1;
    /* INVOKE_REP's fifth element depends on its ok flag. */
    bool ok = kind == CDT_LINK_INVOKE_REP &&
              e[3].type == MSGPACK_OBJECT_BOOLEAN && e[3].via.boolean;
    for (size_t i = 0; i < n; i++)
        if (!s_type_ok(&e[i + 1], layout[i], ok))
            return -1;

    msg->kind = (enum cdt_link_kind)kind;
    switch (msg->kind) {
    case CDT_LINK_HELLO:
        msg->name = s_str(&e[1]);
        msg->incarnation = e[2].via.u64;
        break;
    case CDT_LINK_WELCOME:
        msg->incarnation = e[1].via.u64;
        msg->heartbeat_ms = (uint32_t)e[2].via.u64;
        msg->timeout_ms = (uint32_t)e[3].via.u64;
        msg->secret = s_bin(&e[4]);
        break;
    case CDT_LINK_PING:
    case CDT_LINK_PONG:
        msg->incarnation = e[1].via.u64;
        break;
    case CDT_LINK_AUTH:
        msg->req_id = (uint32_t)e[1].via.u64;
        msg->hub = s_str(&e[2]);
        msg->token = s_str(&e[3]);
        msg->peer = s_str(&e[4]);
        break;
    case CDT_LINK_AUTH_REP:
        msg->req_id = (uint32_t)e[1].via.u64;
        msg->status = (uint32_t)e[2].via.u64;
        msg->key_id = e[3].via.i64;
        msg->admin = e[4].via.boolean;
        msg->reason = s_str(&e[5]);
        break;
    case CDT_LINK_CONN_OPEN:
        msg->conn_id = e[1].via.u64;
        msg->hub = s_str(&e[2]);
        msg->key_id = e[3].via.i64;
        msg->admin = e[4].via.boolean;
        msg->restore = e[5].via.boolean;
        msg->groups = s_strv(&e[6]);
        break;
    case CDT_LINK_CONN_READY:
        msg->conn_id = e[1].via.u64;
        msg->status = (uint32_t)e[2].via.u64;
        msg->reason = s_str(&e[3]);
        msg->groups = s_strv(&e[4]);
        break;
    case CDT_LINK_CONN_CLOSE:
        msg->conn_id = e[1].via.u64;
        break;
    case CDT_LINK_INVOKE:
        msg->req_id = (uint32_t)e[1].via.u64;
        msg->conn_id = e[2].via.u64;
        msg->method = s_str(&e[3]);
        msg->args = s_bin(&e[4]);
        break;
    case CDT_LINK_INVOKE_REP:
        msg->req_id = (uint32_t)e[1].via.u64;
        msg->conn_id = e[2].via.u64;
        msg->ok = ok;
        if (ok)
            msg->result = s_bin(&e[4]);
        else
            msg->reason = s_str(&e[4]);
        msg->joins = s_strv(&e[5]);
        msg->leaves = s_strv(&e[6]);
        break;
    case CDT_LINK_EVENT:
        msg->hub = s_str(&e[1]);
        msg->groups = s_strv(&e[2]);
        msg->seq = e[3].via.u64;
        msg->target = s_str(&e[4]);
        msg->args = s_bin(&e[5]);
        msg->json = s_bin(&e[6]);
        break;
    case CDT_LINK_DIRECT:
        msg->conn_id = e[1].via.u64;
        msg->target = s_str(&e[2]);
        msg->args = s_bin(&e[3]);
        msg->json = s_bin(&e[4]);
        break;
    case CDT_LINK_KICK:
        msg->key_id = e[1].via.i64;
        msg->reason = s_str(&e[2]);
        break;
    }
    return 0;
}

/* ---- encoding ---------------------------------------------------------- */

static void
s_begin(msgpack_packer *pk, cdt_buf_t *out, int kind, size_t n)
{
    msgpack_packer_init(pk, out, cdt_buf_msgpack_write);
    msgpack_pack_array(pk, n);
    msgpack_pack_uint32(pk, (uint32_t)kind);
}

static void
s_pack_str(msgpack_packer *pk, const char *s, size_t len)
{
    msgpack_pack_str_with_body(pk, len ? s : "", len);
}

static void
s_pack_cstr(msgpack_packer *pk, const char *s)
{
    s_pack_str(pk, s, s ? strlen(s) : 0);
}

static void
s_pack_bin(msgpack_packer *pk, const void *p, size_t len)
{
    msgpack_pack_bin_with_body(pk, len ? p : "", len);
}

static void
s_pack_strv(msgpack_packer *pk, const char *const *v, size_t n)
{
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++)
        s_pack_cstr(pk, v[i]);
}

static void
s_pack_bool(msgpack_packer *pk, bool b)
{
    if (b)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

void
cdt_link_encode_hello(cdt_buf_t *out, const char *gw_name, uint64_t incarnation)
{
    msgpack_packer pk;
    s_begin(&pk, out, CDT_LINK_HELLO, 3);
    s_pack_cstr(&pk, gw_name);
    msgpack_pack_uint64(&pk, incarnation);
}

void
cdt_link_encode_welcome(cdt_buf_t *out, uint64_t incarnation,
                        uint32_t heartbeat_ms, uint32_t timeout_ms,
                        const uint8_t *secret, size_t secret_len)
{
    msgpack_packer pk;
    s_begin(&pk, out, CDT_LINK_WELCOME, 5);
    msgpack_pack_uint64(&pk, incarnation);
    msgpack_pack_uint32(&pk, heartbeat_ms);
    msgpack_pack_uint32(&pk, timeout_ms);
    s_pack_bin(&pk, secret, secret_len);
}

void
cdt_link_encode_ping(cdt_buf_t *out, uint64_t incarnation)
{
    msgpack_packer pk;
    s_begin(&pk, out, CDT_LINK_PING, 2);
    msgpack_pack_uint64(&pk, incarnation);
}

void
cdt_link_encode_pong(cdt_buf_t *out, uint64_t incarnation)
{
    msgpack_packer pk;
    s_begin(&pk, out, CDT_LINK_PONG, 2);
    msgpack_pack_uint64(&pk, incarnation);
}

void
cdt_link_encode_auth(cdt_buf_t *out, uint32_t req_id, const char *hub,
                     const char *token, size_t token_len, const char *peer)
{
    msgpack_packer pk;
    s_begin(&pk, out, CDT_LINK_AUTH, 5);
    msgpack_pack_uint32(&pk, req_id);
    s_pack_cstr(&pk, hub);
    s_pack_str(&pk, token, token ? token_len : 0);
    s_pack_cstr(&pk, peer);
}

void
cdt_link_encode_auth_rep(cdt_buf_t *out, uint32_t req_id, uint32_t status,
                         int64_t key_id, bool admin, const char *reason)
{
    msgpack_packer pk;
    s_begin(&pk, out, CDT_LINK_AUTH_REP, 6);
    msgpack_pack_uint32(&pk, req_id);
    msgpack_pack_uint32(&pk, status);
    msgpack_pack_int64(&pk, key_id);
    s_pack_bool(&pk, admin);
    s_pack_cstr(&pk, reason);
}

void
cdt_link_encode_conn_open(cdt_buf_t *out, uint64_t conn_id, const char *hub,
                          int64_t key_id, bool admin, bool restore,
                          const char *const *groups, size_t n_groups)
{
    msgpack_packer pk;
    s_begin(&pk, out, CDT_LINK_CONN_OPEN, 7);
    msgpack_pack_uint64(&pk, conn_id);
    s_pack_cstr(&pk, hub);
    msgpack_pack_int64(&pk, key_id);
    s_pack_bool(&pk, admin);
    s_pack_bool(&pk, restore);
    s_pack_strv(&pk, groups, n_groups);
}

void
cdt_link_encode_conn_ready(cdt_buf_t *out, uint64_t conn_id, uint32_t status,
                           const char *reason, const char *const *groups,
                           size_t n_groups)
{
    msgpack_packer pk;
    s_begin(&pk, out, CDT_LINK_CONN_READY, 5);
    msgpack_pack_uint64(&pk, conn_id);
    msgpack_pack_uint32(&pk, status);
    s_pack_cstr(&pk, reason);
    s_pack_strv(&pk, groups, n_groups);
}

void
cdt_link_encode_conn_close(cdt_buf_t *out, uint64_t conn_id)
{
    msgpack_packer pk;
    s_begin(&pk, out, CDT_LINK_CONN_CLOSE, 2);
    msgpack_pack_uint64(&pk, conn_id);
}

void
cdt_link_encode_invoke(cdt_buf_t *out, uint32_t req_id, uint64_t conn_id,
                       const char *method, size_t method_len, const void *args,
                       size_t args_len)
{
    msgpack_packer pk;
    s_begin(&pk, out, CDT_LINK_INVOKE, 5);
    msgpack_pack_uint32(&pk, req_id);
    msgpack_pack_uint64(&pk, conn_id);
    s_pack_str(&pk, method, method ? method_len : 0);
    s_pack_bin(&pk, args, args ? args_len : 0);
}

void
cdt_link_encode_invoke_rep(cdt_buf_t *out, uint32_t req_id, uint64_t conn_id,
                           bool ok, const void *result, size_t result_len,
                           const char *error, const char *const *joins,
                           size_t n_joins, const char *const *leaves,
                           size_t n_leaves)
{
    static const uint8_t nil = 0xC0;
    msgpack_packer pk;
    s_begin(&pk, out, CDT_LINK_INVOKE_REP, 7);
    msgpack_pack_uint32(&pk, req_id);
    msgpack_pack_uint64(&pk, conn_id);
    s_pack_bool(&pk, ok);
    if (!ok)
        s_pack_cstr(&pk, error);
    else if (result && result_len)
        s_pack_bin(&pk, result, result_len);
    else
        s_pack_bin(&pk, &nil, 1); /* a void method returns nil */
    s_pack_strv(&pk, joins, n_joins);
    s_pack_strv(&pk, leaves, n_leaves);
}

void
cdt_link_encode_event(cdt_buf_t *out, const char *hub,
                      const char *const *groups, size_t n_groups, uint64_t seq,
                      const char *target, const void *args, size_t args_len,
                      const void *json, size_t json_len)
{
    msgpack_packer pk;
    s_begin(&pk, out, CDT_LINK_EVENT, 7);
    s_pack_cstr(&pk, hub);
    s_pack_strv(&pk, groups, n_groups);
    msgpack_pack_uint64(&pk, seq);
    s_pack_cstr(&pk, target);
    s_pack_bin(&pk, args, args ? args_len : 0);
    s_pack_bin(&pk, json, json ? json_len : 0);
}

void
cdt_link_encode_direct(cdt_buf_t *out, uint64_t conn_id, const char *target,
                       const void *args, size_t args_len, const void *json,
                       size_t json_len)
{
    msgpack_packer pk;
    s_begin(&pk, out, CDT_LINK_DIRECT, 5);
    msgpack_pack_uint64(&pk, conn_id);
    s_pack_cstr(&pk, target);
    s_pack_bin(&pk, args, args ? args_len : 0);
    s_pack_bin(&pk, json, json ? json_len : 0);
}

void
cdt_link_encode_kick(cdt_buf_t *out, int64_t key_id, const char *reason)
{
    msgpack_packer pk;
    s_begin(&pk, out, CDT_LINK_KICK, 3);
    msgpack_pack_int64(&pk, key_id);
    s_pack_cstr(&pk, reason);
}

/* ---- the SignalR frame of an event ------------------------------------- */

int
cdt_link_build_json_frame_zone(cdt_buf_t *out, const char *target,
                               const void *args, size_t args_len,
                               msgpack_zone *zone)
{
    if (!args || args_len == 0)
        return -1;
    size_t entry = out->len;
    msgpack_object obj;
    int rc = -1;
    if (cdt_msgpack_unpack_one(args, args_len, zone, &obj) == -1 ||
        obj.type != MSGPACK_OBJECT_ARRAY)
        goto done;
    cdt_buf_reserve(out, args_len * 2 + 48);
    cdt_buf_append(out, "{\"type\":1,\"target\":", 19);
    cdt_json_append_string(out, target ? target : "",
                           target ? strlen(target) : 0);
    cdt_buf_append(out, ",\"arguments\":", 13);
    if (cdt_json_from_msgpack(&obj, out) == -1)
        goto done;
    cdt_buf_append(out, "}\x1e", 2);
    rc = 0;
done:
    if (rc == -1) {
        out->len = entry;
        if (out->data)
            out->data[entry] = '\0';
    }
    msgpack_zone_clear(zone);
    return rc;
}

int
cdt_link_build_json_frame(cdt_buf_t *out, const char *target, const void *args,
                          size_t args_len)
{
    if (!args || args_len == 0)
        return -1;
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 2048))
        return -1;
    int rc = cdt_link_build_json_frame_zone(out, target, args, args_len, &zone);
    msgpack_zone_destroy(&zone);
    return rc;
}
