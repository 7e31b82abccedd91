/*
 * fuzz_link - libFuzzer target for the gateway <-> broker link decoder.
 *
 * Every input is decoded; a frame that decodes is encoded again from its
 * fields with the kind's encoder, and that frame must decode to the same
 * fields.
 *
 * The input is also walked as a B->G batch with cdt_link_decode_next (at
 * offset 0, then at each offset it returns): offsets must strictly
 * advance and never pass the end, a refusal must leave *used_p alone and
 * the message zeroed, and each message must decode alone (an exact-size
 * copy of its bytes, through cdt_link_decode) to the same fields and
 * survive the round trip above. When the whole input is one message the
 * two decoders must agree on it.
 *
 * The byte-level writers are checked against msgpack-c and cdt_json: the
 * input, and the args of every EVENT and DIRECT of the walk (exact-size
 * copies), go through cdt_link_build_json_frame, _zone and _n, which must
 * give exactly {"type":1,"target":T,"arguments":A}0x1E with A what
 * cdt_json_from_msgpack writes for the array msgpack_unpack gives (and
 * refuse, out unchanged, whatever does not unpack to an array), leaving
 * the zone empty; cdt_link_build_json_frame_args must write that frame
 * for the bytes as args, and one for them as data (with pairs to add)
 * exactly when they unpack to one value, and a gateway's frame - from an
 * EVENT carrying them, encoded and decoded - must be the same bytes; the
 * arguments of every EVENT of the walk go through the same; and for any
 * array the input unpacks to, cdt_link_pack_args must write what
 * msgpack_pack_object writes.
 *
 * SPDX-License-Identifier: MIT
 */
#include "proto/cdt_link.h"

#include "common/cdt_json.h"
#include "common/cdt_msgpack.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_die(const char *what)
{
    fprintf(stderr, "fuzz_link: %s\n", what);
    abort();
}

/* Encoders take C strings: refuse round trips of strings with NUL. */
static char *
s_cstr(cdt_str_t s, bool *ok)
{
    if (s.len && memchr(s.ptr, '\0', s.len))
        *ok = false;
    char *c = malloc(s.len + 1);
    if (!c)
        abort();
    if (s.len)
        memcpy(c, s.ptr, s.len);
    c[s.len] = '\0';
    return c;
}

typedef struct {
    char **v;
    size_t n;
} s_list_t;

static s_list_t
s_list(cdt_strv_t v, bool *ok)
{
    s_list_t l = {calloc(v.n ? v.n : 1, sizeof(char *)), v.n};
    if (!l.v)
        abort();
    for (size_t i = 0; i < v.n; i++)
        l.v[i] = s_cstr(cdt_strv_at(v, i), ok);
    return l;
}

static void
s_list_free(s_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static bool
s_str_eq(cdt_str_t a, cdt_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool
s_strv_eq(cdt_strv_t a, cdt_strv_t b)
{
    if (a.n != b.n)
        return false;
    for (size_t i = 0; i < a.n; i++)
        if (!s_str_eq(cdt_strv_at(a, i), cdt_strv_at(b, i)))
            return false;
    return true;
}

static void
s_reencode(const cdt_link_msg_t *m, cdt_buf_t *out, bool *ok)
{
    char *name = s_cstr(m->name, ok), *hub = s_cstr(m->hub, ok);
    char *peer = s_cstr(m->peer, ok), *reason = s_cstr(m->reason, ok);
    char *target = s_cstr(m->target, ok);
    s_list_t groups = s_list(m->groups, ok), joins = s_list(m->joins, ok),
             leaves = s_list(m->leaves, ok);
    switch (m->kind) {
    case CDT_LINK_HELLO:
        cdt_link_encode_hello(out, name, m->incarnation, m->version);
        break;
    case CDT_LINK_WELCOME:
        cdt_link_encode_welcome(out, m->incarnation, m->heartbeat_ms,
                                m->timeout_ms, (const uint8_t *)m->secret.ptr,
                                m->secret.len);
        break;
    case CDT_LINK_PING:
        cdt_link_encode_ping(out, m->incarnation);
        break;
    case CDT_LINK_PONG:
        cdt_link_encode_pong(out, m->incarnation);
        break;
    case CDT_LINK_AUTH:
        cdt_link_encode_auth(out, m->req_id, hub, m->token.ptr, m->token.len,
                             peer);
        break;
    case CDT_LINK_AUTH_REP:
        cdt_link_encode_auth_rep(out, m->req_id, m->status, m->key_id, m->admin,
                                 reason);
        break;
    case CDT_LINK_CONN_OPEN:
        cdt_link_encode_conn_open(out, m->conn_id, hub, m->key_id, m->admin,
                                  m->restore, (const char *const *)groups.v,
                                  groups.n);
        break;
    case CDT_LINK_CONN_READY:
        cdt_link_encode_conn_ready(out, m->conn_id, m->status, reason,
                                   (const char *const *)groups.v, groups.n);
        break;
    case CDT_LINK_CONN_CLOSE:
        cdt_link_encode_conn_close(out, m->conn_id);
        break;
    case CDT_LINK_INVOKE:
        cdt_link_encode_invoke(out, m->req_id, m->conn_id, m->method.ptr,
                               m->method.len, m->args.ptr, m->args.len);
        break;
    case CDT_LINK_INVOKE_REP:
        /* An empty result is re-encoded as nil: not the same bytes. */
        if (m->ok && m->result.len == 0)
            *ok = false;
        cdt_link_encode_invoke_rep(out, m->req_id, m->conn_id, m->ok,
                                   m->result.ptr, m->result.len, reason,
                                   (const char *const *)joins.v, joins.n,
                                   (const char *const *)leaves.v, leaves.n);
        break;
    case CDT_LINK_EVENT: {
        cdt_link_pair_t pairs[CDT_LINK_MAX_ADD];
        cdt_link_args_t a;
        cdt_link_event_args(m, pairs, &a);
        cdt_link_encode_event(out, hub, (const char *const *)groups.v, groups.n,
                              m->seq, target, &a);
        break;
    }
    case CDT_LINK_DIRECT:
        cdt_link_encode_direct(out, m->conn_id, target, m->args.ptr,
                               m->args.len, m->json.ptr, m->json.len);
        break;
    case CDT_LINK_KICK:
        cdt_link_encode_kick(out, m->key_id, reason);
        break;
    }
    free(name);
    free(hub);
    free(peer);
    free(reason);
    free(target);
    s_list_free(&groups);
    s_list_free(&joins);
    s_list_free(&leaves);
}

static bool
s_same(const cdt_link_msg_t *a, const cdt_link_msg_t *b)
{
    return a->kind == b->kind && a->incarnation == b->incarnation &&
           a->version == b->version && a->heartbeat_ms == b->heartbeat_ms &&
           a->timeout_ms == b->timeout_ms && a->req_id == b->req_id &&
           a->conn_id == b->conn_id && a->seq == b->seq &&
           a->key_id == b->key_id && a->status == b->status &&
           a->admin == b->admin && a->restore == b->restore && a->ok == b->ok &&
           s_str_eq(a->name, b->name) && s_str_eq(a->hub, b->hub) &&
           s_str_eq(a->token, b->token) && s_str_eq(a->peer, b->peer) &&
           s_str_eq(a->reason, b->reason) && s_str_eq(a->method, b->method) &&
           s_str_eq(a->target, b->target) && s_str_eq(a->args, b->args) &&
           s_str_eq(a->result, b->result) && s_str_eq(a->json, b->json) &&
           s_str_eq(a->data, b->data) && s_strv_eq(a->add, b->add) &&
           s_strv_eq(a->groups, b->groups) && s_strv_eq(a->joins, b->joins) &&
           s_strv_eq(a->leaves, b->leaves);
}

/* A decoded message re-encodes, from its fields, to one that decodes to
 * the same fields. */
static void
s_roundtrip(const cdt_link_msg_t *msg)
{
    if (!cdt_link_kind_name((int)msg->kind)[0] ||
        cdt_link_kind_name((int)msg->kind)[0] == '?')
        s_die("decoded an unknown kind");
    cdt_buf_t out = CDT_BUF_INIT;
    bool ok = true;
    s_reencode(msg, &out, &ok);
    msgpack_zone zone2;
    if (!msgpack_zone_init(&zone2, 1024))
        abort();
    cdt_link_msg_t back;
    if (cdt_link_decode(out.data, out.len, &zone2, &back) == -1)
        s_die("re-encoded frame does not decode");
    if (ok && !s_same(msg, &back))
        s_die("re-encoded frame decodes differently");
    msgpack_zone_destroy(&zone2);
    cdt_buf_release(&out);
}

static uint8_t *
s_dup(const void *p, size_t len)
{
    uint8_t *c = malloc(len ? len : 1); /* exact size for ASan */
    if (!c)
        abort();
    if (len)
        memcpy(c, p, len);
    return c;
}

/* The reference frame: args unpacked, through cdt_json. -1 when args is
 * not one MessagePack array (and nothing else). */
static int
s_want_frame(cdt_buf_t *out, const char *target, size_t target_len,
             const uint8_t *args, size_t len)
{
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 1024))
        abort();
    msgpack_object obj;
    int rc = -1;
    if (cdt_msgpack_unpack_one(args, len, &zone, &obj) == 0 &&
        obj.type == MSGPACK_OBJECT_ARRAY) {
        cdt_buf_append_str(out, "{\"type\":1,\"target\":");
        cdt_json_append_string(out, target, target_len);
        cdt_buf_append_str(out, ",\"arguments\":");
        rc = cdt_json_from_msgpack(&obj, out);
        if (rc != 0)
            s_die("cdt_json_from_msgpack refuses an unpacked array");
        cdt_buf_append(out, "}\x1e", 2);
    }
    msgpack_zone_destroy(&zone);
    return rc;
}

static bool
s_buf_is(const cdt_buf_t *b, size_t skip, const cdt_buf_t *want)
{
    return b->len == skip + want->len &&
           (want->len == 0 ||
            memcmp(b->data + skip, want->data, want->len) == 0);
}

/* cdt_link_build_json_frame_args on a: its answer, and the frame's
 * bytes in got (after 3 bytes of "pre"), checked as every writer's are;
 * then the same bytes again from an EVENT carrying a, encoded and
 * decoded as a gateway does. */
static int
s_frame_args(cdt_buf_t *got, const cdt_link_args_t *a, const char *target,
             size_t target_len, msgpack_zone *zone)
{
    cdt_buf_append_str(got, "pre");
    int rc = cdt_link_build_json_frame_args(got, target, target_len, a, zone);
    if (!msgpack_zone_is_empty(zone))
        s_die("cdt_link_build_json_frame_args left the zone in use");
    if (rc != 0 && got->len != 3)
        s_die("a refused frame left output");
    if (got->data[got->len] != '\0')
        s_die("cdt_link_build_json_frame_args left out unterminated");
    if (rc == 0 && memcmp(got->data + got->len - 2, "}\x1e", 2) != 0)
        s_die("the frame lacks its end");
    if (a->args.len == 0 && a->data.len == 0)
        return rc; /* no EVENT carries nothing */
    static const char *const groups[] = {"g"};
    static const size_t lens[] = {1};
    cdt_buf_t ev = CDT_BUF_INIT, again = CDT_BUF_INIT;
    cdt_link_encode_event_n(&ev, "H", 1, groups, lens, 1, 7, target, target_len,
                            a);
    msgpack_zone dz;
    if (!msgpack_zone_init(&dz, 1024))
        abort();
    cdt_link_msg_t m;
    if (cdt_link_decode(ev.data, ev.len, &dz, &m) != 0 ||
        m.kind != CDT_LINK_EVENT || m.seq != 7)
        s_die("the EVENT does not decode");
    cdt_link_pair_t pairs[CDT_LINK_MAX_ADD];
    cdt_link_args_t b;
    cdt_link_event_args(&m, pairs, &b);
    if (cdt_link_build_json_frame_args(&again, m.target.ptr, m.target.len, &b,
                                       zone) != rc ||
        (rc == 0 && (again.len != got->len - 3 ||
                     memcmp(again.data, got->data + 3, again.len) != 0)))
        s_die("a gateway's frame differs from the arguments' own");
    msgpack_zone_destroy(&dz);
    cdt_buf_release(&ev);
    cdt_buf_release(&again);
    return rc;
}

/* cdt_link_build_json_frame_args on bytes (an exact-size copy): as args,
 * the frame must be want (wrc: the reference's answer); as data, with two
 * pairs to add, it must be built exactly when the bytes unpack to one
 * value. */
static void
s_ck_frame_args(const uint8_t *bytes, size_t len, const char *target,
                size_t target_len, const cdt_buf_t *want, int wrc,
                msgpack_zone *zone)
{
    static const cdt_link_pair_t add[] = {
        {{"timestamp", 9}, {"2026-12-07T10:00:00.000Z", 24}},
        {{"correlationId", 13}, {"c\"1", 3}},
    };
    for (int as_data = 0; as_data < 2; as_data++) {
        cdt_link_args_t a = {.add = add, .n_add = as_data ? 2 : 0};
        cdt_str_t v = {(const char *)bytes, len};
        if (as_data)
            a.data = v;
        else
            a.args = v;
        int want_rc = wrc;
        if (as_data) {
            msgpack_zone z;
            if (!msgpack_zone_init(&z, 1024))
                abort();
            msgpack_object obj;
            want_rc = len && cdt_msgpack_unpack_one(bytes, len, &z, &obj) == 0
                          ? 0
                          : -1;
            msgpack_zone_destroy(&z);
        }
        cdt_buf_t got = CDT_BUF_INIT;
        int rc = s_frame_args(&got, &a, target, target_len, zone);
        if (rc != want_rc)
            s_die(rc == 0 ? "frame built for arguments that do not unpack"
                          : "frame refused for arguments that unpack");
        if (rc == 0 && !as_data && !s_buf_is(&got, 3, want))
            s_die("the frame of args differs from cdt_json's");
        cdt_buf_release(&got);
    }
}

/* cdt_link_build_json_frame* on args (copied to an exact-size buffer)
 * against the reference. target (target_len bytes, copied and terminated)
 * also goes through the NUL-terminated entry points when it has no NUL. */
static void
s_ck_frame(const void *args, size_t len, const char *target, size_t target_len,
           msgpack_zone *zone)
{
    uint8_t *copy = s_dup(args, len);
    char *tcopy = malloc(target_len + 1);
    if (!tcopy)
        abort();
    if (target_len)
        memcpy(tcopy, target, target_len);
    tcopy[target_len] = '\0';
    target = tcopy;
    bool has_nul = target_len && memchr(target, '\0', target_len);
    cdt_buf_t want = CDT_BUF_INIT, got = CDT_BUF_INIT;
    int wrc = s_want_frame(&want, target, target_len, copy, len);

    cdt_buf_append_str(&got, "pre");
    int rc =
        cdt_link_build_json_frame_n(&got, target, target_len, copy, len, zone);
    if (rc != wrc)
        s_die(rc == 0 ? "JSON frame built for what is not one array"
                      : "JSON frame refused for an array");
    if (!msgpack_zone_is_empty(zone))
        s_die("cdt_link_build_json_frame_n left the zone in use");
    if (rc == 0 ? !s_buf_is(&got, 3, &want) : got.len != 3)
        s_die(rc == 0 ? "JSON frame (_n) differs from cdt_json's"
                      : "failed JSON frame (_n) left output");
    if (got.data[got.len] != '\0')
        s_die("JSON frame (_n) left out unterminated");
    if (rc == 0 && got.data[got.len - 1] != 0x1e)
        s_die("JSON frame lacks its separator");

    s_ck_frame_args(copy, len, target, target_len, &want, wrc, zone);

    if (!has_nul) {
        cdt_buf_reset(&got);
        if (cdt_link_build_json_frame(&got, target, copy, len) != rc)
            s_die("cdt_link_build_json_frame and _n disagree");
        if (rc == 0 ? !s_buf_is(&got, 0, &want) : got.len != 0)
            s_die(rc == 0 ? "JSON frame differs from cdt_json's"
                          : "failed JSON frame left output");
        cdt_buf_reset(&got);
        if (cdt_link_build_json_frame_zone(&got, target, copy, len, zone) != rc)
            s_die("cdt_link_build_json_frame_zone and _n disagree");
        if (rc == 0 ? !s_buf_is(&got, 0, &want) : got.len != 0)
            s_die(rc == 0 ? "JSON frame (_zone) differs from cdt_json's"
                          : "failed JSON frame (_zone) left output");
        if (!msgpack_zone_is_empty(zone))
            s_die("cdt_link_build_json_frame_zone left the zone in use");
    }
    cdt_buf_release(&want);
    cdt_buf_release(&got);
    free(tcopy);
    free(copy);
}

/* cdt_link_pack_args against msgpack_pack_object, for any array the input
 * unpacks to. */
static void
s_ck_pack_args(const uint8_t *buf, size_t len)
{
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 1024))
        abort();
    msgpack_object obj;
    if (cdt_msgpack_unpack_one(buf, len, &zone, &obj) == 0) {
        cdt_buf_t want = CDT_BUF_INIT, got = CDT_BUF_INIT;
        cdt_buf_append_str(&got, "pre");
        int rc = cdt_link_pack_args(&got, &obj);
        if (obj.type == MSGPACK_OBJECT_ARRAY) {
            msgpack_packer pk;
            msgpack_packer_init(&pk, &want, cdt_buf_msgpack_write);
            msgpack_pack_object(&pk, obj);
            if (rc != 0)
                s_die("cdt_link_pack_args refuses an unpacked array");
            if (!s_buf_is(&got, 3, &want))
                s_die("cdt_link_pack_args differs from msgpack_pack_object");
        } else if (rc != -1 || got.len != 3) {
            s_die("cdt_link_pack_args took what is not an array");
        }
        if (got.data[got.len] != '\0')
            s_die("cdt_link_pack_args left out unterminated");
        cdt_buf_release(&want);
        cdt_buf_release(&got);
    }
    msgpack_zone_destroy(&zone);
}

/* Walks buf as a B->G batch. Returns how many messages decoded. */
static size_t
s_walk(const uint8_t *buf, size_t size, msgpack_zone *fzone)
{
    msgpack_zone zone, zone1;
    if (!msgpack_zone_init(&zone, 1024) || !msgpack_zone_init(&zone1, 1024))
        abort();
    static const cdt_link_msg_t zero;
    size_t off = 0, n = 0;
    while (off < size) {
        cdt_link_msg_t m;
        size_t used = (size_t)-1;
        if (cdt_link_decode_next(buf + off, size - off, &zone, &m, &used) !=
            0) {
            if (used != (size_t)-1)
                s_die("refused batch message set *used_p");
            if (memcmp(&m, &zero, sizeof m) != 0)
                s_die("refused batch message left fields set");
            break;
        }
        if (used == 0 || used > size - off)
            s_die("batch offset does not advance, or passes the end");
        s_roundtrip(&m);
        /* alone, from an exact-size copy, it decodes to the same */
        uint8_t *one = s_dup(buf + off, used);
        cdt_link_msg_t alone;
        if (cdt_link_decode(one, used, &zone1, &alone) != 0)
            s_die("batch message does not decode alone");
        if (!s_same(&m, &alone))
            s_die("batch message decodes differently alone");
        if (m.kind == CDT_LINK_DIRECT)
            s_ck_frame(m.args.ptr, m.args.len, m.target.ptr, m.target.len,
                       fzone);
        if (m.kind == CDT_LINK_EVENT) { /* as a gateway writes it */
            cdt_link_pair_t pairs[CDT_LINK_MAX_ADD];
            cdt_link_args_t a;
            cdt_link_event_args(&m, pairs, &a);
            cdt_buf_t got = CDT_BUF_INIT;
            (void)s_frame_args(&got, &a, m.target.ptr, m.target.len, fzone);
            cdt_buf_release(&got);
        }
        free(one);
        msgpack_zone_clear(&zone1);
        msgpack_zone_clear(&zone);
        off += used;
        n++;
    }
    msgpack_zone_destroy(&zone1);
    msgpack_zone_destroy(&zone);
    return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1); /* exact size for ASan */
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 1024)) {
        free(copy);
        return 0;
    }
    cdt_link_msg_t msg;
    int whole = cdt_link_decode(copy, size, &zone, &msg);
    if (whole == 0)
        s_roundtrip(&msg);

    /* as a batch; one message that is the whole input: both agree */
    msgpack_zone zone2;
    if (!msgpack_zone_init(&zone2, 1024))
        abort();
    cdt_link_msg_t first;
    size_t used = 0;
    int next = cdt_link_decode_next(copy, size, &zone2, &first, &used);
    if ((whole == 0) != (next == 0 && used == size))
        s_die("cdt_link_decode and cdt_link_decode_next disagree on a "
              "one-message frame");
    if (whole == 0 && !s_same(&msg, &first))
        s_die("cdt_link_decode and cdt_link_decode_next decode differently");
    msgpack_zone_destroy(&zone2);
    msgpack_zone_destroy(&zone);

    msgpack_zone fzone;
    if (!msgpack_zone_init(&fzone, 1024))
        abort();
    s_walk(copy, size, &fzone);

    /* the input as args, with a plain and an escaped target */
    s_ck_frame(copy, size, "T", 1, &fzone);
    static const char odd[] = "Task\"Progress\xc3\xa9\x01";
    s_ck_frame(copy, size, odd, sizeof odd - 1, &fzone);
    msgpack_zone_destroy(&fzone);

    s_ck_pack_args(copy, size);
    free(copy);
    return 0;
}
