/*
 * fuzz_link - libFuzzer target for the gateway <-> broker link decoder.
 *
 * Every input is decoded; a frame that decodes is encoded again from its
 * fields with the kind's encoder, and that frame must decode to the same
 * fields. The input is also tried as the args of cdt_link_build_json_frame.
 *
 * SPDX-License-Identifier: MIT
 */
#include "proto/cdt_link.h"

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
        cdt_link_encode_hello(out, name, m->incarnation);
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
    case CDT_LINK_EVENT:
        cdt_link_encode_event(out, hub, (const char *const *)groups.v, groups.n,
                              m->seq, target, m->args.ptr, m->args.len,
                              m->json.ptr, m->json.len);
        break;
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
           a->heartbeat_ms == b->heartbeat_ms &&
           a->timeout_ms == b->timeout_ms && a->req_id == b->req_id &&
           a->conn_id == b->conn_id && a->seq == b->seq &&
           a->key_id == b->key_id && a->status == b->status &&
           a->admin == b->admin && a->restore == b->restore && a->ok == b->ok &&
           s_str_eq(a->name, b->name) && s_str_eq(a->hub, b->hub) &&
           s_str_eq(a->token, b->token) && s_str_eq(a->peer, b->peer) &&
           s_str_eq(a->reason, b->reason) && s_str_eq(a->method, b->method) &&
           s_str_eq(a->target, b->target) && s_str_eq(a->args, b->args) &&
           s_str_eq(a->result, b->result) && s_str_eq(a->json, b->json) &&
           s_strv_eq(a->groups, b->groups) && s_strv_eq(a->joins, b->joins) &&
           s_strv_eq(a->leaves, b->leaves);
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
    if (cdt_link_decode(copy, size, &zone, &msg) == 0) {
        if (!cdt_link_kind_name((int)msg.kind)[0] ||
            cdt_link_kind_name((int)msg.kind)[0] == '?')
            s_die("decoded an unknown kind");
        cdt_buf_t out = CDT_BUF_INIT;
        bool ok = true;
        s_reencode(&msg, &out, &ok);
        msgpack_zone zone2;
        if (!msgpack_zone_init(&zone2, 1024))
            abort();
        cdt_link_msg_t back;
        if (cdt_link_decode(out.data, out.len, &zone2, &back) == -1)
            s_die("re-encoded frame does not decode");
        if (ok && !s_same(&msg, &back))
            s_die("re-encoded frame decodes differently");
        msgpack_zone_destroy(&zone2);
        cdt_buf_release(&out);
    }
    msgpack_zone_destroy(&zone);

    cdt_buf_t frame = CDT_BUF_INIT;
    if (cdt_link_build_json_frame(&frame, "T", copy, size) == 0) {
        if (frame.len < 2 || frame.data[frame.len - 1] != 0x1e)
            s_die("JSON frame lacks its separator");
    } else if (frame.len != 0) {
        s_die("failed JSON frame left output");
    }
    cdt_buf_release(&frame);
    free(copy);
    return 0;
}
