/*
 * fuzz_ingress - libFuzzer target for the ingress map decoder.
 *
 * Every input is parsed; a message that is accepted is encoded again and
 * must parse again with the same type. Every rejection must give a reason.
 * The input is also tried as an acknowledgement.
 *
 * The event fast path (cdt_ingress_decode_event) is checked against the
 * general one: whatever it accepts, cdt_ingress_parse of the same bytes
 * must accept as an event with the same id, ts, hub, groups (count and
 * each name), target, and arguments/data bytes (those that
 * cdt_ingress_value_bytes finds for msg->arguments / msg->data, at the
 * same offset). It runs on an exact-size copy and writes the group names
 * to an exact-size array, so that ASan sees any read past len or write
 * past max_groups; an event it accepts with n groups must be refused
 * when given room for n - 1.
 *
 * SPDX-License-Identifier: MIT
 */
#include "proto/cdt_ingress.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_die(const char *what, const char *err)
{
    fprintf(stderr, "fuzz_ingress: %s: %s\n", what, err ? err : "");
    abort();
}

/* Room the broker gives the fast path (broker/ingress.c FAST_GROUPS). */
#define S_MAX_GROUPS 64

static bool
s_str_eq(cdt_str_t a, cdt_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* The bytes of the fast path's arguments_mp / data_mp (fast, borrowed from
 * fbuf) against those cdt_ingress_value_bytes finds for the parsed
 * object (borrowed from pbuf): both absent, or the same bytes at the same
 * offset. */
static void
s_ck_value(const char *what, cdt_str_t fast, const uint8_t *fbuf,
           const cdt_ingress_t *msg, const msgpack_object *val,
           const uint8_t *pbuf)
{
    if (!val) {
        if (fast.ptr)
            s_die("fast path has a value that parse does not", what);
        return;
    }
    if (!fast.ptr)
        s_die("fast path lacks a value that parse has", what);
    cdt_str_t want;
    if (cdt_ingress_value_bytes(msg, val, &want) != 0)
        s_die("cdt_ingress_value_bytes refuses the parsed value", what);
    if (!s_str_eq(fast, want))
        s_die("fast path's value bytes differ from parse's", what);
    if (fast.ptr - (const char *)fbuf != want.ptr - (const char *)pbuf)
        s_die("fast path's value bytes are elsewhere in the frame", what);
}

/* cdt_ingress_decode_event against cdt_ingress_parse on the same bytes. */
static void
s_ck_fast(const uint8_t *copy, size_t size)
{
    msgpack_object *groups = malloc(S_MAX_GROUPS * sizeof *groups);
    if (!groups)
        abort();
    cdt_ingress_t fast;
    if (cdt_ingress_decode_event(copy, size, &fast, groups, S_MAX_GROUPS) !=
        0) {
        free(groups);
        return;
    }
    /* a second copy for parse, so that the fast path's pointers can be
     * told apart from parse's */
    uint8_t *pbuf = malloc(size ? size : 1);
    if (!pbuf)
        abort();
    memcpy(pbuf, copy, size);
    msgpack_unpacked up;
    cdt_ingress_t msg;
    char err[256];
    err[0] = '\0';
    if (cdt_ingress_parse(pbuf, size, &up, &msg, err, sizeof err) != 0)
        s_die("fast path took what cdt_ingress_parse refuses", err);
    if (msg.type != CDT_IN_EVENT || fast.type != CDT_IN_EVENT)
        s_die("fast path took what is not an event", NULL);
    if (fast.map || fast.arguments || fast.data)
        s_die("fast path set msgpack objects", NULL);
    if (fast.raw.ptr != (const char *)copy || fast.raw.len != size)
        s_die("fast path's raw is not the input", NULL);
    if (!s_str_eq(fast.id, msg.id))
        s_die("fast path's id differs", NULL);
    if (fast.ts != msg.ts)
        s_die("fast path's ts differs", NULL);
    if (!s_str_eq(fast.hub, msg.hub))
        s_die("fast path's hub differs", NULL);
    if (!s_str_eq(fast.target, msg.target))
        s_die("fast path's target differs", NULL);
    if (fast.groups.n != msg.groups.n)
        s_die("fast path's group count differs", NULL);
    if (fast.groups.n > S_MAX_GROUPS || fast.groups.v != groups)
        s_die("fast path's groups are not in the caller's array", NULL);
    for (size_t i = 0; i < fast.groups.n; i++) {
        if (fast.groups.v[i].type != MSGPACK_OBJECT_STR)
            s_die("fast path's group is not a STR object", NULL);
        if (!s_str_eq(cdt_strv_at(fast.groups, i), cdt_strv_at(msg.groups, i)))
            s_die("fast path's group name differs", NULL);
    }
    s_ck_value("arguments", fast.arguments_mp, copy, &msg, msg.arguments, pbuf);
    s_ck_value("data", fast.data_mp, copy, &msg, msg.data, pbuf);
    size_t n = fast.groups.n;
    msgpack_unpacked_destroy(&up);
    free(pbuf);
    free(groups);

    /* with room for one group fewer it must refuse (and write no more) */
    if (n > 0) {
        msgpack_object *few = malloc((n - 1 ? n - 1 : 1) * sizeof *few);
        if (!few)
            abort();
        if (cdt_ingress_decode_event(copy, size, &fast, few, n - 1) != -1)
            s_die("fast path took more groups than max_groups", NULL);
        free(few);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1); /* exact size for ASan */
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    msgpack_unpacked up;
    cdt_ingress_t msg;
    char err[256];
    err[0] = '\0';
    if (cdt_ingress_parse(copy, size, &up, &msg, err, sizeof err) == 0) {
        cdt_buf_t out = CDT_BUF_INIT;
        cdt_ingress_encode(&msg, &out);
        msgpack_unpacked up2;
        cdt_ingress_t back;
        if (cdt_ingress_parse(out.data, out.len, &up2, &back, err,
                              sizeof err) == -1)
            s_die("re-encoded message rejected", err);
        if (back.type != msg.type || back.key_id != msg.key_id ||
            back.ts != msg.ts || back.state != msg.state ||
            back.groups.n != msg.groups.n)
            s_die("re-encoded message differs", NULL);
        msgpack_unpacked_destroy(&up2);
        cdt_buf_release(&out);
    } else if (err[0] == '\0' || strchr(err, '\n')) {
        s_die("rejection without a one-line reason", err);
    }
    msgpack_unpacked_destroy(&up);

    s_ck_fast(copy, size);

    bool ok = false;
    char ack[64];
    if (cdt_ingress_decode_ack(copy, size, &ok, ack, sizeof ack) == 0 && ok &&
        ack[0] != '\0')
        s_die("ok ack with an error text", ack);
    free(copy);
    return 0;
}
