/*
 * cdt_link - encoding and decoding of the gateway <-> broker messages.
 *
 * The decoder is table-driven: each kind lists the types of its elements
 * after the kind, checked before any field is read, so a frame either
 * decodes completely or not at all. The bins (args, data, result, json)
 * are not unpacked here: their consumers do that once, where they use
 * them.
 *
 * SPDX-License-Identifier: MIT
 */
#include "proto/cdt_link.h"

#include "common/cdt_json.h"
#include "common/cdt_msgpack.h"

#include <assert.h>
#include <string.h>

/* s_json_mp keeps a bit per pair to add in a uint32_t */
_Static_assert(CDT_LINK_MAX_ADD <= 32, "CDT_LINK_MAX_ADD over 32");

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
    [CDT_LINK_HELLO] = {T_STR, T_U64, T_U32},
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
    [CDT_LINK_EVENT] = {T_STR, T_STRV, T_U64, T_STR, T_BIN, T_BIN, T_STRV},
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

/* Fills *msg from an unpacked root; -1 unless it is a link message. */
static int
s_decode_root(const msgpack_object *root, cdt_link_msg_t *msg)
{
    if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size == 0)
        return -1;
    const msgpack_object *e = root->via.array.ptr;
    if (e[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        e[0].via.u64 < CDT_LINK_HELLO || e[0].via.u64 > CDT_LINK_KICK)
        return -1;
    int kind = (int)e[0].via.u64;
    const char *layout = s_layout[kind];
    size_t n = strlen(layout);
    /* a HELLO without its version: a gateway of version 1 */
    bool v1_hello = kind == CDT_LINK_HELLO && root->via.array.size == n;
    if (v1_hello)
        n--;
    if (root->via.array.size != n + 1)
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
        msg->version = v1_hello ? 1 : (uint32_t)e[3].via.u64;
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
        /* args or data, never both; pairs, and only with data */
        if ((e[5].via.bin.size == 0) == (e[6].via.bin.size == 0) ||
            e[7].via.array.size % 2 != 0 ||
            e[7].via.array.size > 2 * CDT_LINK_MAX_ADD ||
            (e[5].via.bin.size && e[7].via.array.size))
            return -1;
        msg->hub = s_str(&e[1]);
        msg->groups = s_strv(&e[2]);
        msg->seq = e[3].via.u64;
        msg->target = s_str(&e[4]);
        msg->args = s_bin(&e[5]);
        msg->data = s_bin(&e[6]);
        msg->add = s_strv(&e[7]);
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

int
cdt_link_decode(const uint8_t *buf, size_t len, msgpack_zone *zone,
                cdt_link_msg_t *msg)
{
    memset(msg, 0, sizeof *msg);
    if (!buf || len == 0)
        return -1;
    msgpack_object root;
    /* Checked before unpacking: see cdt_msgpack.h. */
    if (cdt_msgpack_unpack_one(buf, len, zone, &root) == -1 ||
        s_decode_root(&root, msg) == -1) {
        memset(msg, 0, sizeof *msg);
        return -1;
    }
    return 0;
}

int
cdt_link_decode_next(const uint8_t *buf, size_t len, msgpack_zone *zone,
                     cdt_link_msg_t *msg, size_t *used_p)
{
    memset(msg, 0, sizeof *msg);
    size_t used = 0, off = 0;
    msgpack_object root;
    /* The check both bounds the unpacker's allocation (cdt_msgpack.h) and
     * finds where this message ends, so the unpacker sees it alone. */
    if (!buf || len == 0 || cdt_msgpack_check(buf, len, &used) == -1 ||
        msgpack_unpack((const char *)buf, used, &off, zone, &root) !=
            MSGPACK_UNPACK_SUCCESS ||
        off != used || s_decode_root(&root, msg) == -1) {
        memset(msg, 0, sizeof *msg);
        return -1;
    }
    *used_p = used;
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
cdt_link_encode_hello(cdt_buf_t *out, const char *gw_name, uint64_t incarnation,
                      uint32_t version)
{
    msgpack_packer pk;
    s_begin(&pk, out, CDT_LINK_HELLO, 4);
    s_pack_cstr(&pk, gw_name);
    msgpack_pack_uint64(&pk, incarnation);
    msgpack_pack_uint32(&pk, version);
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
cdt_link_event_args(const cdt_link_msg_t *msg,
                    cdt_link_pair_t pairs[CDT_LINK_MAX_ADD], cdt_link_args_t *a)
{
    memset(a, 0, sizeof *a);
    if (msg->args.len) {
        a->args = msg->args;
        return;
    }
    a->data = msg->data;
    a->add = pairs;
    for (size_t i = 0; i + 1 < msg->add.n && i / 2 < CDT_LINK_MAX_ADD; i += 2) {
        pairs[i / 2].key = cdt_strv_at(msg->add, i);
        pairs[i / 2].str = cdt_strv_at(msg->add, i + 1);
        a->n_add++;
    }
}

/* The one form of a that counts (cdt_link_args_t): args, when it has
 * bytes, with no data and no pairs; else data and its pairs, with no
 * args. Every reader and writer of an EVENT's arguments goes by it. */
static cdt_link_args_t
s_event_form(const cdt_link_args_t *a)
{
    cdt_link_args_t f = *a;
    if (a->args.ptr && a->args.len) {
        f.data = (cdt_str_t){NULL, 0};
        f.n_add = 0;
    } else {
        f.args = (cdt_str_t){NULL, 0};
    }
    return f;
}

/* An event's arguments as the three fields of its EVENT. */
static void
s_pack_event_args(msgpack_packer *pk, const cdt_link_args_t *a)
{
    cdt_link_args_t f = s_event_form(a);
    assert(f.n_add <= CDT_LINK_MAX_ADD);
    s_pack_bin(pk, f.args.ptr, f.args.len);
    s_pack_bin(pk, f.data.ptr, f.data.len);
    msgpack_pack_array(pk, 2 * f.n_add);
    for (size_t i = 0; i < f.n_add; i++) {
        s_pack_str(pk, f.add[i].key.ptr, f.add[i].key.len);
        s_pack_str(pk, f.add[i].str.ptr, f.add[i].str.len);
    }
}

void
cdt_link_encode_event(cdt_buf_t *out, const char *hub,
                      const char *const *groups, size_t n_groups, uint64_t seq,
                      const char *target, const cdt_link_args_t *a)
{
    msgpack_packer pk;
    s_begin(&pk, out, CDT_LINK_EVENT, 8);
    s_pack_cstr(&pk, hub);
    s_pack_strv(&pk, groups, n_groups);
    msgpack_pack_uint64(&pk, seq);
    s_pack_cstr(&pk, target);
    s_pack_event_args(&pk, a);
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

/* ---- direct writers ---------------------------------------------------- */

/* The per-event encoders below write into the buffer directly instead of
 * through msgpack_packer's callback (one cdt_buf_append per token): they
 * reserve room, write, and keep cdt_buf's invariant (a NUL after len) at
 * the end of each public call. Their output is byte for byte what the
 * msgpack-c and cdt_json based functions above produce (the unit tests
 * compare them); the rare cases they do not handle themselves (floats,
 * ext, strings that need escaping, non-string map keys) are handed to
 * those functions. */

static inline uint8_t *
s_room(cdt_buf_t *b, size_t n)
{
    if (!b->data || b->cap - b->len < n)
        cdt_buf_reserve(b, n);
    return b->data + b->len;
}

static inline void
s_put(cdt_buf_t *b, const void *p, size_t n)
{
    uint8_t *d = s_room(b, n);
    if (n)
        memcpy(d, p, n);
    b->len += n;
}

static inline void
s_put1(cdt_buf_t *b, uint8_t c)
{
    *s_room(b, 1) = c;
    b->len++;
}

static inline void
s_terminate(cdt_buf_t *b)
{
    if (b->data)
        b->data[b->len] = '\0';
}

/* The raw writers: the bytes at d, which has room for them (S_HEAD_MAX
 * for a header); each returns where it stopped. The s_mp_* wrappers below
 * make the room for one value; a writer of a whole message (the EVENT)
 * makes it once for all its values. */
#define S_HEAD_MAX 9

static inline uint8_t *
s_w_be(uint8_t *d, uint8_t tag, uint64_t v, int n)
{
    d[0] = tag;
    for (int i = n; i > 0; i--, v >>= 8)
        d[i] = (uint8_t)v;
    return d + 1 + n;
}

/* Headers as msgpack-c writes them: the shortest form. */
static inline uint8_t *
s_w_uint(uint8_t *d, uint64_t v)
{
    if (v < 0x80) {
        *d = (uint8_t)v;
        return d + 1;
    }
    if (v < 0x100)
        return s_w_be(d, 0xcc, v, 1);
    if (v < 0x10000)
        return s_w_be(d, 0xcd, v, 2);
    if (v < 0x100000000ULL)
        return s_w_be(d, 0xce, v, 4);
    return s_w_be(d, 0xcf, v, 8);
}

/* A str, array or map header: the fix form up to fix_max, then the 8-bit
 * form (t8; 0 = none), 16-bit, 32-bit. */
static inline uint8_t *
s_w_head(uint8_t *d, uint8_t fix, size_t fix_max, uint8_t t8, uint8_t t16,
         uint8_t t32, size_t n)
{
    if (n <= fix_max) {
        *d = (uint8_t)(fix | n);
        return d + 1;
    }
    if (t8 && n < 0x100)
        return s_w_be(d, t8, n, 1);
    if (n < 0x10000)
        return s_w_be(d, t16, n, 2);
    return s_w_be(d, t32, n, 4);
}

static inline uint8_t *
s_w_bytes(uint8_t *d, const void *p, size_t n)
{
    if (n)
        memcpy(d, p, n);
    return d + n;
}

static inline uint8_t *
s_w_str(uint8_t *d, const char *p, size_t n)
{
    return s_w_bytes(s_w_head(d, 0xa0, 31, 0xd9, 0xda, 0xdb, n), p, n);
}

static inline uint8_t *
s_w_bin(uint8_t *d, const void *p, size_t n)
{
    /* no fix form: bin 8 from 0 */
    int w = n < 0x100 ? 1 : n < 0x10000 ? 2 : 4;
    uint8_t tag = n < 0x100 ? 0xc4 : n < 0x10000 ? 0xc5 : 0xc6;
    return s_w_bytes(s_w_be(d, tag, n, w), p, n);
}

static inline uint8_t *
s_w_array(uint8_t *d, size_t n)
{
    return s_w_head(d, 0x90, 15, 0, 0xdc, 0xdd, n);
}

/* b's length moved to end, which a raw writer returned into b's room. */
static inline void
s_wrote(cdt_buf_t *b, const uint8_t *end)
{
    b->len = (size_t)(end - b->data);
}

static void
s_be_put(cdt_buf_t *b, uint8_t tag, uint64_t v, int n)
{
    s_wrote(b, s_w_be(s_room(b, 1 + (size_t)n), tag, v, n));
}

static void
s_mp_uint(cdt_buf_t *b, uint64_t v)
{
    s_wrote(b, s_w_uint(s_room(b, S_HEAD_MAX), v));
}

static void
s_mp_neg(cdt_buf_t *b, int64_t v)
{
    if (v >= -32)
        s_put1(b, (uint8_t)(int8_t)v);
    else if (v >= -128)
        s_be_put(b, 0xd0, (uint64_t)v, 1);
    else if (v >= -32768)
        s_be_put(b, 0xd1, (uint64_t)v, 2);
    else if (v >= -2147483648LL)
        s_be_put(b, 0xd2, (uint64_t)v, 4);
    else
        s_be_put(b, 0xd3, (uint64_t)v, 8);
}

static void
s_mp_head(cdt_buf_t *b, uint8_t fix, size_t fix_max, uint8_t t8, uint8_t t16,
          uint8_t t32, size_t n)
{
    s_wrote(b, s_w_head(s_room(b, S_HEAD_MAX), fix, fix_max, t8, t16, t32, n));
}

static void
s_mp_str(cdt_buf_t *b, const char *p, size_t n)
{
    s_wrote(b, s_w_str(s_room(b, S_HEAD_MAX + n), p, n));
}

static void
s_mp_bin(cdt_buf_t *b, const void *p, size_t n)
{
    s_wrote(b, s_w_bin(s_room(b, S_HEAD_MAX + n), p, n));
}

static void
s_mp_array(cdt_buf_t *b, size_t n)
{
    s_wrote(b, s_w_array(s_room(b, S_HEAD_MAX), n));
}

static void
s_mp_map(cdt_buf_t *b, size_t n)
{
    s_mp_head(b, 0x80, 15, 0, 0xde, 0xdf, n);
}

/* The depth bound of msgpack-c's own unpacker: a value we packed can
 * always be unpacked again. */
#define S_PACK_MAX_DEPTH 32

static int
s_mp_object(cdt_buf_t *b, const msgpack_object *o, int depth)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        s_put1(b, 0xc0);
        return 0;
    case MSGPACK_OBJECT_BOOLEAN:
        s_put1(b, o->via.boolean ? 0xc3 : 0xc2);
        return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        s_mp_uint(b, o->via.u64);
        return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        if (o->via.i64 >= 0) /* not msgpack-c's shape: pack as it would */
            s_mp_uint(b, (uint64_t)o->via.i64);
        else
            s_mp_neg(b, o->via.i64);
        return 0;
    case MSGPACK_OBJECT_STR:
        s_mp_str(b, o->via.str.ptr, o->via.str.size);
        return 0;
    case MSGPACK_OBJECT_BIN:
        s_mp_bin(b, o->via.bin.ptr, o->via.bin.size);
        return 0;
    case MSGPACK_OBJECT_ARRAY:
        if (depth >= S_PACK_MAX_DEPTH)
            return -1;
        s_mp_array(b, o->via.array.size);
        for (uint32_t i = 0; i < o->via.array.size; i++)
            if (s_mp_object(b, &o->via.array.ptr[i], depth + 1) == -1)
                return -1;
        return 0;
    case MSGPACK_OBJECT_MAP:
        if (depth >= S_PACK_MAX_DEPTH)
            return -1;
        s_mp_map(b, o->via.map.size);
        for (uint32_t i = 0; i < o->via.map.size; i++)
            if (s_mp_object(b, &o->via.map.ptr[i].key, depth + 1) == -1 ||
                s_mp_object(b, &o->via.map.ptr[i].val, depth + 1) == -1)
                return -1;
        return 0;
    default: { /* floats, ext: as msgpack-c packs them */
        msgpack_packer pk;
        msgpack_packer_init(&pk, b, cdt_buf_msgpack_write);
        return msgpack_pack_object(&pk, *o) == 0 ? 0 : -1;
    }
    }
}

int
cdt_link_pack_args(cdt_buf_t *out, const msgpack_object *args)
{
    size_t entry = out->len;
    if (!args || args->type != MSGPACK_OBJECT_ARRAY ||
        s_mp_object(out, args, 0) == -1) {
        out->len = entry;
        s_terminate(out);
        return -1;
    }
    s_terminate(out);
    return 0;
}

/* ---- JSON -------------------------------------------------------------- */

/* The bytes cdt_json_append_string copies as they are: printable ASCII
 * and DEL, except '"' (0x22) and '\\' (0x5c). */
static const uint8_t s_json_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

#define S_ONES  0x0101010101010101ULL
#define S_HIGHS 0x8080808080808080ULL

/* True if none of the 8 bytes of w needs attention in a JSON string (a
 * control byte, '"', '\\' or a byte above 0x7f). Each test is the usual
 * "some byte is below n" bit trick; a borrow can only spread upwards from
 * a byte that already failed, so the answer is exact. */
static inline bool
s_word_plain(uint64_t w)
{
    uint64_t quote = w ^ (S_ONES * '"');
    uint64_t bslash = w ^ (S_ONES * '\\');
    uint64_t bad = ((w - S_ONES * 0x20) & ~w) | ((quote - S_ONES) & ~quote) |
                   ((bslash - S_ONES) & ~bslash) | w;
    return (bad & S_HIGHS) == 0;
}

/* A JSON string as cdt_json_append_string writes it: copied in words
 * while it needs no escaping, else handed to cdt_json (escapes, UTF-8
 * checks and replacement). */
static void
s_json_str(cdt_buf_t *b, const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s;
    uint8_t *d = s_room(b, len + 2);
    size_t i = 0;
    d[0] = '"';
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (!s_word_plain(w))
            goto slow;
        memcpy(d + 1 + i, &w, 8);
    }
    for (; i < len; i++) {
        if (!s_json_plain[p[i]])
            goto slow;
        d[1 + i] = p[i];
    }
    d[len + 1] = '"';
    b->len += len + 2;
    return;
slow:
    cdt_json_append_string(b, s, len);
}

/* "00" "01" ... "99": two digits per step. */
static const char s_digits2[] = "00010203040506070809"
                                "10111213141516171819"
                                "20212223242526272829"
                                "30313233343536373839"
                                "40414243444546474849"
                                "50515253545556575859"
                                "60616263646566676869"
                                "70717273747576777879"
                                "80818283848586878889"
                                "90919293949596979899";

/* The decimal digits of u. */
static inline size_t
s_digits(uint64_t u)
{
    static const uint64_t pow10[] = {
        1ULL,
        10ULL,
        100ULL,
        1000ULL,
        10000ULL,
        100000ULL,
        1000000ULL,
        10000000ULL,
        100000000ULL,
        1000000000ULL,
        10000000000ULL,
        100000000000ULL,
        1000000000000ULL,
        10000000000000ULL,
        100000000000000ULL,
        1000000000000000ULL,
        10000000000000000ULL,
        100000000000000000ULL,
        1000000000000000000ULL,
        10000000000000000000ULL,
    };
    if (u < 10)
        return 1;
    /* bits * 1233 / 4096 approximates bits * log10(2) from below */
    int bits = 64 - __builtin_clzll(u);
    size_t n = (size_t)((bits * 1233) >> 12);
    return n + (u >= pow10[n]);
}

/* u (a magnitude; neg: with a minus sign) written straight into b. */
static void
s_json_uint(cdt_buf_t *b, uint64_t u, bool neg)
{
    size_t n = s_digits(u) + neg;
    uint8_t *d = s_room(b, n) + n;
    b->len += n;
    while (u >= 100) {
        unsigned r = (unsigned)(u % 100);
        u /= 100;
        d -= 2;
        d[0] = (uint8_t)s_digits2[2 * r];
        d[1] = (uint8_t)s_digits2[2 * r + 1];
    }
    if (u >= 10) {
        d -= 2;
        d[0] = (uint8_t)s_digits2[2 * u];
        d[1] = (uint8_t)s_digits2[2 * u + 1];
    } else {
        *--d = (uint8_t)('0' + u);
    }
    if (neg)
        *--d = '-';
}

/* ---- JSON from MessagePack bytes --------------------------------------- */

/* The writer below walks the MessagePack bytes once and writes what
 * cdt_json_from_msgpack writes for the object msgpack-c would unpack from
 * them, without unpacking: no object tree, no zone. It reads nothing past
 * the end it is given and refuses what msgpack_unpack refuses (malformed
 * or truncated input, 0xc1, containers nested deeper than 32). Floats and
 * bin are formatted by cdt_json itself, from an object made for the one
 * value; a map key that is not a string (cdt_json writes its JSON text
 * inside a string) makes the caller start over with unpack and cdt_json. */

/* An open container of s_json_mp. */
typedef struct {
    uint64_t left; /* values still to come (a map's keys count) */
    uint64_t i;    /* values written so far */
    uint8_t kind;  /* S_ROOT, S_ARRAY or S_MAP */
} s_level_t;

enum {
    S_ROOT,
    S_ARRAY,
    S_MAP
};

/* The pairs of add[0..n) whose bit in seen is clear, as JSON members of
 * an open object; more: members came before them. */
static void
s_json_add(cdt_buf_t *b, const cdt_link_pair_t *add, size_t n, uint32_t seen,
           bool more)
{
    for (size_t i = 0; i < n; i++) {
        if (seen & (1u << i))
            continue;
        if (more)
            s_put1(b, ',');
        more = true;
        s_json_str(b, add[i].key.ptr, add[i].key.len);
        s_put1(b, ':');
        s_json_str(b, add[i].str.ptr, add[i].str.len);
    }
}

/* The bit of the pair of add whose key is the n bytes at p; 0 if none. */
static uint32_t
s_add_bit(const cdt_link_pair_t *add, size_t n_add, const uint8_t *p,
          uint64_t n)
{
    for (size_t i = 0; i < n_add; i++)
        if (add[i].key.len == n && memcmp(add[i].key.ptr, p, n) == 0)
            return 1u << i;
    return 0;
}

/* The value at *pp (before end) as JSON; advances *pp past it. When the
 * value is a map, the pairs of add (n_add <= CDT_LINK_MAX_ADD, a bit each
 * in a 32-bit set) whose keys it does not
 * have are written after its own. Returns 0, -1 (malformed, truncated or
 * too deep) or 1 (a map key that is not a string: only cdt_json writes
 * that exactly). One loop over the values, with a stack of the open
 * containers: no recursion. */
static int
s_json_mp(cdt_buf_t *b, const uint8_t **pp, const uint8_t *end,
          const cdt_link_pair_t *add, size_t n_add)
{
    s_level_t st[CDT_MSGPACK_MAX_DEPTH + 1];
    int top = 0;
    const uint8_t *p = *pp;
    uint32_t seen = 0; /* the keys of add the value's map has */
    st[0].left = 1;
    st[0].i = 0;
    st[0].kind = S_ROOT;
    for (;;) {
        while (st[top].left == 0) {
            if (top == 0) {
                *pp = p;
                return 0;
            }
            if (top == 1 && n_add && st[1].kind == S_MAP)
                s_json_add(b, add, n_add, seen, st[1].i > 0);
            s_put1(b, st[top].kind == S_MAP ? '}' : ']');
            top--;
        }
        s_level_t *lv = &st[top];
        if (p >= end)
            return -1;
        uint8_t c = *p++;
        bool add_key = false; /* a key of the value's own map */
        if (lv->kind == S_ARRAY) {
            if (lv->i)
                s_put1(b, ',');
        } else if (lv->kind == S_MAP) {
            if (lv->i & 1) {
                s_put1(b, ':');
            } else {
                if (!((c >= 0xa0 && c <= 0xbf) || (c >= 0xd9 && c <= 0xdb)))
                    return 1;
                if (lv->i)
                    s_put1(b, ',');
                add_key = top == 1 && n_add;
            }
        }
        lv->i++;
        lv->left--;
        uint64_t n = 0; /* a length or element count */
        uint8_t kind = S_ARRAY;
        msgpack_object o;
        if (c <= 0x7f) {
            s_json_uint(b, c, false);
            continue;
        }
        if (c >= 0xe0) {
            s_json_uint(b, 0x100u - c, true);
            continue;
        }
        if (c >= 0xa0 && c <= 0xbf) {
            n = c & 0x1f;
            goto str;
        }
        if (c <= 0x9f) {
            n = c & 0x0f;
            kind = c <= 0x8f ? S_MAP : S_ARRAY;
            goto open;
        }
        switch (c) {
        case 0xc0:
            s_put(b, "null", 4);
            continue;
        case 0xc2:
            s_put(b, "false", 5);
            continue;
        case 0xc3:
            s_put(b, "true", 4);
            continue;
        case 0xc4: /* bin 8/16/32 */
        case 0xc5:
        case 0xc6:
            if (!cdt_msgpack_read_be(&p, end, (size_t)1 << (c - 0xc4), &n) ||
                n > (size_t)(end - p))
                return -1;
            o.type = MSGPACK_OBJECT_BIN;
            o.via.bin.ptr = (const char *)p;
            o.via.bin.size = (uint32_t)n;
            (void)cdt_json_from_msgpack(&o, b);
            p += n;
            continue;
        case 0xc7: /* ext 8/16/32: length, type byte, data */
        case 0xc8:
        case 0xc9:
            if (!cdt_msgpack_read_be(&p, end, (size_t)1 << (c - 0xc7), &n) ||
                n >= (size_t)(end - p))
                return -1;
            p += 1 + n;
            s_put(b, "null", 4);
            continue;
        case 0xca: { /* float 32 */
            uint64_t u;
            if (!cdt_msgpack_read_be(&p, end, 4, &u))
                return -1;
            uint32_t u32 = (uint32_t)u;
            float f;
            memcpy(&f, &u32, 4);
            o.type = MSGPACK_OBJECT_FLOAT32;
            o.via.f64 = (double)f;
            (void)cdt_json_from_msgpack(&o, b);
            continue;
        }
        case 0xcb: { /* float 64 */
            uint64_t u;
            if (!cdt_msgpack_read_be(&p, end, 8, &u))
                return -1;
            double d;
            memcpy(&d, &u, 8);
            o.type = MSGPACK_OBJECT_FLOAT64;
            o.via.f64 = d;
            (void)cdt_json_from_msgpack(&o, b);
            continue;
        }
        case 0xcc: /* uint 8/16/32/64 */
        case 0xcd:
        case 0xce:
        case 0xcf:
            if (!cdt_msgpack_read_be(&p, end, (size_t)1 << (c - 0xcc), &n))
                return -1;
            s_json_uint(b, n, false);
            continue;
        case 0xd0: /* int 8/16/32/64 */
        case 0xd1:
        case 0xd2:
        case 0xd3: {
            int w = 1 << (c - 0xd0);
            uint64_t u;
            if (!cdt_msgpack_read_be(&p, end, (size_t)w, &u))
                return -1;
            if (w < 8 && (u >> (8 * w - 1)))
                u |= ~(uint64_t)0 << (8 * w); /* sign-extend */
            bool neg = (u >> 63) != 0;
            s_json_uint(b, neg ? (uint64_t)0 - u : u, neg);
            continue;
        }
        case 0xd4: /* fixext 1/2/4/8/16: type byte, data */
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
            n = 1 + ((size_t)1 << (c - 0xd4));
            if ((size_t)(end - p) < n)
                return -1;
            p += n;
            s_put(b, "null", 4);
            continue;
        case 0xd9: /* str 8/16/32 */
        case 0xda:
        case 0xdb:
            if (!cdt_msgpack_read_be(&p, end, (size_t)1 << (c - 0xd9), &n))
                return -1;
            goto str;
        case 0xdc: /* array 16/32, map 16/32 */
        case 0xdd:
        case 0xde:
        case 0xdf:
            if (!cdt_msgpack_read_be(&p, end, c == 0xdc || c == 0xde ? 2 : 4,
                                     &n))
                return -1;
            kind = c >= 0xde ? S_MAP : S_ARRAY;
            goto open;
        default: /* 0xc1 */
            return -1;
        }
str:
        if (n > (size_t)(end - p))
            return -1;
        if (add_key)
            seen |= s_add_bit(add, n_add, p, n);
        s_json_str(b, (const char *)p, (size_t)n);
        p += n;
        continue;
open:
        /* every value takes a byte: a count past the end is malformed */
        if (kind == S_MAP)
            n *= 2;
        if (top >= CDT_MSGPACK_MAX_DEPTH || n > (uint64_t)(end - p))
            return -1;
        s_put1(b, kind == S_MAP ? '{' : '[');
        top++;
        st[top].left = n;
        st[top].i = 0;
        st[top].kind = kind;
    }
}

/* ---- the SignalR frame of an event ------------------------------------- */

/* True if the first byte of a value is an array header. */
static bool
s_is_array_head(uint8_t c)
{
    return (c & 0xf0) == 0x90 || c == 0xdc || c == 0xdd;
}

/* obj (a map unpacked into zone) with the pairs of add it lacks added
 * after its own, in zone; obj as it is when nothing is lacking. */
static int
s_obj_add(msgpack_object *obj, const cdt_link_pair_t *add, size_t n_add,
          msgpack_zone *zone)
{
    uint32_t seen = 0;
    const msgpack_object_map *m = &obj->via.map;
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR)
            seen |= s_add_bit(add, n_add, (const uint8_t *)k->via.str.ptr,
                              k->via.str.size);
    }
    size_t lack = 0;
    for (size_t i = 0; i < n_add; i++)
        lack += !(seen & (1u << i));
    if (lack == 0)
        return 0;
    msgpack_object_kv *kv =
        msgpack_zone_malloc(zone, (m->size + lack) * sizeof *kv);
    if (!kv)
        return -1;
    if (m->size)
        memcpy(kv, m->ptr, m->size * sizeof *kv);
    uint32_t n = m->size;
    for (size_t i = 0; i < n_add; i++) {
        if (seen & (1u << i))
            continue;
        kv[n].key.type = MSGPACK_OBJECT_STR;
        kv[n].key.via.str.ptr = add[i].key.ptr;
        kv[n].key.via.str.size = (uint32_t)add[i].key.len;
        kv[n].val.type = MSGPACK_OBJECT_STR;
        kv[n].val.via.str.ptr = add[i].str.ptr;
        kv[n].val.via.str.size = (uint32_t)add[i].str.len;
        n++;
    }
    obj->via.map.ptr = kv;
    obj->via.map.size = n;
    return 0;
}

/* The writers' rare start-over (a map key that is not a string): bytes
 * unpacked into zone (NULL: one of its own; cleared after) and written
 * by cdt_json, with wrap as the single element of an array, a map gaining
 * the pairs of add it lacks. */
static int
s_json_unpacked(cdt_buf_t *out, const uint8_t *bytes, size_t len, bool wrap,
                const cdt_link_pair_t *add, size_t n_add, msgpack_zone *zone)
{
    msgpack_zone own;
    if (!zone) {
        if (!msgpack_zone_init(&own, 2048))
            return -1;
        zone = &own;
    }
    msgpack_object obj, arr;
    int rc = -1;
    if (cdt_msgpack_unpack_one(bytes, len, zone, &obj) == 0) {
        if (!wrap) {
            rc = cdt_json_from_msgpack(&obj, out);
        } else if (obj.type != MSGPACK_OBJECT_MAP ||
                   s_obj_add(&obj, add, n_add, zone) == 0) {
            arr.type = MSGPACK_OBJECT_ARRAY;
            arr.via.array.size = 1;
            arr.via.array.ptr = &obj;
            rc = cdt_json_from_msgpack(&arr, out);
        }
    }
    if (zone == &own)
        msgpack_zone_destroy(&own);
    else
        msgpack_zone_clear(zone);
    return rc;
}

/* The value at bytes as JSON, as cdt_json_from_msgpack writes its
 * unpacked form; with wrap, as the single element of an array and, when
 * it is a map, with the pairs of add it lacks after its own. zone (NULL:
 * one of its own) only for the rare start-over. */
static int
s_json_value(cdt_buf_t *out, const uint8_t *bytes, size_t len, bool wrap,
             const cdt_link_pair_t *add, size_t n_add, msgpack_zone *zone)
{
    size_t entry = out->len;
    const uint8_t *p = bytes;
    if (wrap)
        s_put1(out, '[');
    int rc = s_json_mp(out, &p, bytes + len, add, n_add);
    if (rc == 0 && p != bytes + len)
        rc = -1; /* something after the value */
    if (rc == 0 && wrap)
        s_put1(out, ']');
    if (rc != 1)
        return rc;
    out->len = entry;
    return s_json_unpacked(out, bytes, len, wrap, add, n_add, zone);
}

/* The SignalR frame of an event with the arguments a stands for, appended
 * to out; -1 leaves out's length as it was (its bytes past it are
 * scratch). */
static int
s_json_frame(cdt_buf_t *out, const char *target, size_t target_len,
             const cdt_link_args_t *a, msgpack_zone *zone)
{
    size_t entry = out->len;
    cdt_link_args_t f = s_event_form(a);
    const uint8_t *args = (const uint8_t *)f.args.ptr;
    const uint8_t *data = (const uint8_t *)f.data.ptr;
    if (args ? !s_is_array_head(args[0])
             : !data || f.data.len == 0 || f.n_add > CDT_LINK_MAX_ADD)
        return -1;
    s_put(out, "{\"type\":1,\"target\":", 19);
    s_json_str(out, target ? target : "", target ? target_len : 0);
    s_put(out, ",\"arguments\":", 13);
    int rc =
        args ? s_json_value(out, args, f.args.len, false, NULL, 0, zone)
             : s_json_value(out, data, f.data.len, true, f.add, f.n_add, zone);
    if (rc != 0) {
        out->len = entry;
        return -1;
    }
    s_put(out, "}\x1e", 2);
    return 0;
}

int
cdt_link_build_json_frame_zone(cdt_buf_t *out, const char *target,
                               const void *args, size_t args_len,
                               msgpack_zone *zone)
{
    return cdt_link_build_json_frame_n(out, target, target ? strlen(target) : 0,
                                       args, args_len, zone);
}

int
cdt_link_build_json_frame(cdt_buf_t *out, const char *target, const void *args,
                          size_t args_len)
{
    return cdt_link_build_json_frame_n(out, target, target ? strlen(target) : 0,
                                       args, args_len, NULL);
}

int
cdt_link_build_json_frame_args(cdt_buf_t *out, const char *target,
                               size_t target_len, const cdt_link_args_t *a,
                               msgpack_zone *zone)
{
    int rc = s_json_frame(out, target, target_len, a, zone);
    s_terminate(out);
    return rc;
}

int
cdt_link_build_json_frame_n(cdt_buf_t *out, const char *target,
                            size_t target_len, const void *args,
                            size_t args_len, msgpack_zone *zone)
{
    if (!args)
        return -1;
    cdt_link_args_t a = {.args = {args, args_len}};
    return cdt_link_build_json_frame_args(out, target, target_len, &a, zone);
}

/* ---- EVENT, directly --------------------------------------------------- */

void
cdt_link_encode_event_n(cdt_buf_t *out, const char *hub, size_t hub_len,
                        const char *const *groups, const size_t *group_lens,
                        size_t n_groups, uint64_t seq, const char *target,
                        size_t target_len, const cdt_link_args_t *a)
{
    cdt_link_args_t f = s_event_form(a);
    size_t n = f.n_add;
    assert(n <= CDT_LINK_MAX_ADD);
    /* room for all of it at once: every header at its largest */
    size_t room = 2 + 7 * S_HEAD_MAX + hub_len + target_len + f.args.len +
                  f.data.len + (n_groups + 2 * n) * S_HEAD_MAX;
    for (size_t i = 0; i < n_groups; i++)
        room += group_lens[i];
    for (size_t i = 0; i < n; i++)
        room += f.add[i].key.len + f.add[i].str.len;
    uint8_t *d = s_room(out, room + 1); /* and the terminating NUL */
    *d++ = 0x98;
    *d++ = CDT_LINK_EVENT;
    d = s_w_str(d, hub, hub_len);
    d = s_w_array(d, n_groups);
    for (size_t i = 0; i < n_groups; i++)
        d = s_w_str(d, groups[i], group_lens[i]);
    d = s_w_uint(d, seq);
    d = s_w_str(d, target, target_len);
    d = s_w_bin(d, f.args.ptr, f.args.len);
    d = s_w_bin(d, f.data.ptr, f.data.len);
    d = s_w_array(d, 2 * n);
    for (size_t i = 0; i < n; i++) {
        d = s_w_str(d, f.add[i].key.ptr, f.add[i].key.len);
        d = s_w_str(d, f.add[i].str.ptr, f.add[i].str.len);
    }
    s_wrote(out, d);
    s_terminate(out);
}
