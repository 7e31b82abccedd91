/*
 * test_cdt_link - the gateway <-> broker link messages.
 *
 * Every kind is encoded, decoded and compared; then each valid frame is
 * cut at every length, extended with garbage, given one element fewer or
 * more, and has each element replaced by values of other types. Batches
 * (several messages in one B->G frame) are decoded whole, cut at every
 * length and followed by garbage. The direct writers are compared with
 * what msgpack-c and cdt_json write, on thousands of generated values in
 * every MessagePack encoding. Decoded inputs live in heap buffers of
 * exact size so that ASan sees over-reads.
 *
 * SPDX-License-Identifier: MIT
 */
#include "proto/cdt_link.h"

#include "common/cdt_json.h"
#include "common/cdt_mem.h"
#include "common/cdt_msgpack.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

Suite *cdt_link_suite(void);

/* ---- helpers ------------------------------------------------------------ */

/* Decodes a copy of b in an exact-size buffer; the copy and the zone stay
 * alive in the fixture until s_done. */
typedef struct {
    uint8_t *copy;
    msgpack_zone zone;
    cdt_link_msg_t msg;
} s_dec_t;

static int
s_decode(s_dec_t *d, const void *data, size_t len)
{
    d->copy = cdt_xmalloc(len ? len : 1);
    if (len)
        memcpy(d->copy, data, len);
    ck_assert(msgpack_zone_init(&d->zone, 1024));
    return cdt_link_decode(d->copy, len, &d->zone, &d->msg);
}

static void
s_done(s_dec_t *d)
{
    msgpack_zone_destroy(&d->zone);
    free(d->copy);
}

static int
s_decode_once(const void *data, size_t len)
{
    s_dec_t d;
    int rc = s_decode(&d, data, len);
    s_done(&d);
    return rc;
}

static bool
s_str_is(cdt_str_t s, const char *want)
{
    return s.len == strlen(want) &&
           (s.len == 0 || memcmp(s.ptr, want, s.len) == 0);
}

#define ck_str(s, want)                                                  \
    ck_assert_msg(s_str_is((s), (want)), "'%.*s' != '%s'", (int)(s).len, \
                  (s).ptr ? (s).ptr : "", (want))

static void
s_ck_strv(cdt_strv_t v, const char *const *want, size_t n)
{
    ck_assert_uint_eq(v.n, n);
    for (size_t i = 0; i < n; i++)
        ck_str(cdt_strv_at(v, i), want[i]);
}

/* The MessagePack array [1, "x"] used as args. */
static const uint8_t s_args[] = {0x92, 0x01, 0xA1, 'x'};

/* One valid frame of every kind. */
/* WELCOME's token secret: bytes a str would not survive (NUL, not UTF-8). */
static const uint8_t s_secret[CDT_LINK_SECRET_LEN] = {
    0x00, 0xff, 0x01, 0xfe, 0x80, 0x7f, 0xc3, 0x28, 9,  10,  11,
    12,   13,   14,   15,   16,   17,   18,   19,   20, 21,  22,
    23,   24,   25,   26,   27,   28,   29,   30,   31, 0x00};

static void
s_encode_kind(cdt_buf_t *b, int kind)
{
    static const char *const groups[] = {"vkey-1", "task-\xc3\xa9", ""};
    static const char *const joins[] = {"task-42"};
    switch (kind) {
    case CDT_LINK_HELLO:
        cdt_link_encode_hello(b, "gw-1", 1234567890123ULL, CDT_LINK_VERSION);
        break;
    case CDT_LINK_WELCOME:
        cdt_link_encode_welcome(b, UINT64_MAX, 15000, 30000, s_secret,
                                sizeof s_secret);
        break;
    case CDT_LINK_PING:
        cdt_link_encode_ping(b, 7);
        break;
    case CDT_LINK_PONG:
        cdt_link_encode_pong(b, 0);
        break;
    case CDT_LINK_AUTH:
        cdt_link_encode_auth(b, 99, "/hubs/tasks", "tok\0en", 6,
                             "127.0.0.1:5555");
        break;
    case CDT_LINK_AUTH_REP:
        cdt_link_encode_auth_rep(b, 99, 200, -3, true, "ok");
        break;
    case CDT_LINK_CONN_OPEN:
        cdt_link_encode_conn_open(b, 1ULL << 40, "/hubs/tasks", INT64_MAX,
                                  false, true, groups, 3);
        break;
    case CDT_LINK_CONN_READY:
        cdt_link_encode_conn_ready(b, 5, 0, "", groups, 2);
        break;
    case CDT_LINK_CONN_CLOSE:
        cdt_link_encode_conn_close(b, 5);
        break;
    case CDT_LINK_INVOKE:
        cdt_link_encode_invoke(b, UINT32_MAX, 5, "SubscribeToTaskXX", 15,
                               s_args, sizeof s_args);
        break;
    case CDT_LINK_INVOKE_REP:
        cdt_link_encode_invoke_rep(b, 1, 5, true, s_args, sizeof s_args, NULL,
                                   joins, 1, NULL, 0);
        break;
    case CDT_LINK_EVENT: {
        static const cdt_link_pair_t add[] = {
            {{"timestamp", 9}, {"2026-12-07T10:00:00.123Z", 24}},
            {{"correlationId", 13}, {"c-1", 3}},
        };
        cdt_link_args_t a = {
            .data = {"\x81\xa1n\x01", 4}, .add = add, .n_add = 2};
        cdt_link_encode_event(b, "/hubs/tasks", groups, 3, 77, "TaskProgress",
                              &a);
        break;
    }
    case CDT_LINK_DIRECT:
        cdt_link_encode_direct(b, 5, "TaskCompleted", s_args, sizeof s_args,
                               "{\"type\":1}\x1e", 11);
        break;
    case CDT_LINK_KICK:
        cdt_link_encode_kick(b, INT64_MIN, "key disabled");
        break;
    default:
        ck_abort_msg("no kind %d", kind);
    }
}

/* ---- round trips -------------------------------------------------------- */

START_TEST(test_link_hello_welcome_ping_pong)
{
    cdt_buf_t b = CDT_BUF_INIT;
    s_dec_t d;
    s_encode_kind(&b, CDT_LINK_HELLO);
    ck_assert_int_eq(s_decode(&d, b.data, b.len), 0);
    ck_assert_int_eq(d.msg.kind, CDT_LINK_HELLO);
    ck_str(d.msg.name, "gw-1");
    ck_assert_uint_eq(d.msg.incarnation, 1234567890123ULL);
    ck_assert_uint_eq(d.msg.version, CDT_LINK_VERSION);
    s_done(&d);

    cdt_buf_reset(&b);
    s_encode_kind(&b, CDT_LINK_WELCOME);
    ck_assert_int_eq(s_decode(&d, b.data, b.len), 0);
    ck_assert_int_eq(d.msg.kind, CDT_LINK_WELCOME);
    ck_assert_uint_eq(d.msg.incarnation, UINT64_MAX);
    ck_assert_uint_eq(d.msg.heartbeat_ms, 15000);
    ck_assert_uint_eq(d.msg.timeout_ms, 30000);
    ck_assert_uint_eq(d.msg.secret.len, CDT_LINK_SECRET_LEN);
    ck_assert_mem_eq(d.msg.secret.ptr, s_secret, CDT_LINK_SECRET_LEN);
    s_done(&d);

    cdt_buf_reset(&b);
    s_encode_kind(&b, CDT_LINK_PING);
    ck_assert_int_eq(s_decode(&d, b.data, b.len), 0);
    ck_assert_int_eq(d.msg.kind, CDT_LINK_PING);
    ck_assert_uint_eq(d.msg.incarnation, 7);
    s_done(&d);

    cdt_buf_reset(&b);
    s_encode_kind(&b, CDT_LINK_PONG);
    ck_assert_int_eq(s_decode(&d, b.data, b.len), 0);
    ck_assert_int_eq(d.msg.kind, CDT_LINK_PONG);
    ck_assert_uint_eq(d.msg.incarnation, 0);
    s_done(&d);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_link_auth_and_reply)
{
    cdt_buf_t b = CDT_BUF_INIT;
    s_dec_t d;
    s_encode_kind(&b, CDT_LINK_AUTH);
    ck_assert_int_eq(s_decode(&d, b.data, b.len), 0);
    ck_assert_int_eq(d.msg.kind, CDT_LINK_AUTH);
    ck_assert_uint_eq(d.msg.req_id, 99);
    ck_str(d.msg.hub, "/hubs/tasks");
    ck_assert_uint_eq(d.msg.token.len, 6); /* token_len counts, not NUL */
    ck_assert_int_eq(memcmp(d.msg.token.ptr, "tok\0en", 6), 0);
    ck_str(d.msg.peer, "127.0.0.1:5555");
    s_done(&d);

    cdt_buf_reset(&b);
    s_encode_kind(&b, CDT_LINK_AUTH_REP);
    ck_assert_int_eq(s_decode(&d, b.data, b.len), 0);
    ck_assert_int_eq(d.msg.kind, CDT_LINK_AUTH_REP);
    ck_assert_uint_eq(d.msg.req_id, 99);
    ck_assert_uint_eq(d.msg.status, 200);
    ck_assert_int_eq(d.msg.key_id, -3);
    ck_assert(d.msg.admin);
    ck_str(d.msg.reason, "ok");
    s_done(&d);

    /* The master key is id 0; a NULL reason is sent as "". */
    cdt_buf_reset(&b);
    cdt_link_encode_auth_rep(&b, 1, 401, 0, false, NULL);
    ck_assert_int_eq(s_decode(&d, b.data, b.len), 0);
    ck_assert_uint_eq(d.msg.status, 401);
    ck_assert_int_eq(d.msg.key_id, 0);
    ck_assert(!d.msg.admin);
    ck_str(d.msg.reason, "");
    s_done(&d);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_link_conn_open_ready_close)
{
    static const char *const groups[] = {"vkey-1", "task-\xc3\xa9", ""};
    cdt_buf_t b = CDT_BUF_INIT;
    s_dec_t d;
    s_encode_kind(&b, CDT_LINK_CONN_OPEN);
    ck_assert_int_eq(s_decode(&d, b.data, b.len), 0);
    ck_assert_int_eq(d.msg.kind, CDT_LINK_CONN_OPEN);
    ck_assert_uint_eq(d.msg.conn_id, 1ULL << 40);
    ck_str(d.msg.hub, "/hubs/tasks");
    ck_assert_int_eq(d.msg.key_id, INT64_MAX);
    ck_assert(!d.msg.admin);
    ck_assert(d.msg.restore);
    s_ck_strv(d.msg.groups, groups, 3);
    s_done(&d);

    cdt_buf_reset(&b);
    s_encode_kind(&b, CDT_LINK_CONN_READY);
    ck_assert_int_eq(s_decode(&d, b.data, b.len), 0);
    ck_assert_int_eq(d.msg.kind, CDT_LINK_CONN_READY);
    ck_assert_uint_eq(d.msg.conn_id, 5);
    ck_assert_uint_eq(d.msg.status, 0);
    ck_str(d.msg.reason, "");
    s_ck_strv(d.msg.groups, groups, 2);
    s_done(&d);

    cdt_buf_reset(&b);
    cdt_link_encode_conn_open(&b, 1, "/h", 2, true, false, NULL, 0);
    ck_assert_int_eq(s_decode(&d, b.data, b.len), 0);
    ck_assert_uint_eq(d.msg.groups.n, 0);
    ck_assert(d.msg.admin);
    ck_assert(!d.msg.restore);
    s_done(&d);

    cdt_buf_reset(&b);
    s_encode_kind(&b, CDT_LINK_CONN_CLOSE);
    ck_assert_int_eq(s_decode(&d, b.data, b.len), 0);
    ck_assert_int_eq(d.msg.kind, CDT_LINK_CONN_CLOSE);
    ck_assert_uint_eq(d.msg.conn_id, 5);
    s_done(&d);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_link_invoke_and_reply)
{
    static const char *const joins[] = {"task-42"};
    static const char *const two[] = {"a", "b"};
    cdt_buf_t b = CDT_BUF_INIT;
    s_dec_t d;
    s_encode_kind(&b, CDT_LINK_INVOKE);
    ck_assert_int_eq(s_decode(&d, b.data, b.len), 0);
    ck_assert_int_eq(d.msg.kind, CDT_LINK_INVOKE);
    ck_assert_uint_eq(d.msg.req_id, UINT32_MAX);
    ck_assert_uint_eq(d.msg.conn_id, 5);
    ck_str(d.msg.method, "SubscribeToTask"); /* method_len respected */
    ck_assert_uint_eq(d.msg.args.len, sizeof s_args);
    ck_assert_int_eq(memcmp(d.msg.args.ptr, s_args, sizeof s_args), 0);
    s_done(&d);

    cdt_buf_reset(&b);
    s_encode_kind(&b, CDT_LINK_INVOKE_REP);
    ck_assert_int_eq(s_decode(&d, b.data, b.len), 0);
    ck_assert_int_eq(d.msg.kind, CDT_LINK_INVOKE_REP);
    ck_assert_uint_eq(d.msg.req_id, 1);
    ck_assert_uint_eq(d.msg.conn_id, 5);
    ck_assert(d.msg.ok);
    ck_assert_uint_eq(d.msg.result.len, sizeof s_args);
    ck_assert_int_eq(memcmp(d.msg.result.ptr, s_args, sizeof s_args), 0);
    s_ck_strv(d.msg.joins, joins, 1);
    ck_assert_uint_eq(d.msg.leaves.n, 0);
    s_done(&d);

    /* A void result travels as the MessagePack nil. */
    cdt_buf_reset(&b);
    cdt_link_encode_invoke_rep(&b, 2, 6, true, NULL, 0, NULL, NULL, 0, two, 2);
    ck_assert_int_eq(s_decode(&d, b.data, b.len), 0);
    ck_assert(d.msg.ok);
    ck_assert_uint_eq(d.msg.result.len, 1);
    ck_assert_uint_eq((uint8_t)d.msg.result.ptr[0], 0xC0);
    ck_assert_uint_eq(d.msg.joins.n, 0);
    s_ck_strv(d.msg.leaves, two, 2);
    s_done(&d);

    /* An error carries the SignalR text in reason, and no result. */
    cdt_buf_reset(&b);
    cdt_link_encode_invoke_rep(&b, 3, 7, false, s_args, sizeof s_args,
                               "Task not found", NULL, 0, NULL, 0);
    ck_assert_int_eq(s_decode(&d, b.data, b.len), 0);
    ck_assert(!d.msg.ok);
    ck_str(d.msg.reason, "Task not found");
    ck_assert_ptr_null(d.msg.result.ptr);
    ck_assert_uint_eq(d.msg.result.len, 0);
    s_done(&d);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_link_event_direct_kick)
{
    static const char *const groups[] = {"vkey-1", "task-\xc3\xa9", ""};
    cdt_buf_t b = CDT_BUF_INIT;
    s_dec_t d;
    s_encode_kind(&b, CDT_LINK_EVENT);
    ck_assert_int_eq(s_decode(&d, b.data, b.len), 0);
    ck_assert_int_eq(d.msg.kind, CDT_LINK_EVENT);
    ck_str(d.msg.hub, "/hubs/tasks");
    s_ck_strv(d.msg.groups, groups, 3);
    ck_assert_uint_eq(d.msg.seq, 77);
    ck_str(d.msg.target, "TaskProgress");
    ck_assert_uint_eq(d.msg.args.len, 0); /* data instead */
    ck_assert_uint_eq(d.msg.data.len, 4);
    ck_assert_int_eq(memcmp(d.msg.data.ptr, "\x81\xa1n\x01", 4), 0);
    ck_assert_uint_eq(d.msg.add.n, 4);
    ck_str(cdt_strv_at(d.msg.add, 0), "timestamp");
    ck_str(cdt_strv_at(d.msg.add, 1), "2026-12-07T10:00:00.123Z");
    ck_str(cdt_strv_at(d.msg.add, 2), "correlationId");
    ck_str(cdt_strv_at(d.msg.add, 3), "c-1");
    ck_assert_uint_eq(d.msg.json.len, 0); /* an EVENT has no frame */
    cdt_link_pair_t pairs[CDT_LINK_MAX_ADD];
    cdt_link_args_t a;
    cdt_link_event_args(&d.msg, pairs, &a);
    ck_assert_ptr_null(a.args.ptr);
    ck_assert(a.data.ptr == d.msg.data.ptr && a.data.len == 4);
    ck_assert_uint_eq(a.n_add, 2);
    ck_str(a.add[1].key, "correlationId");
    ck_str(a.add[1].str, "c-1");
    s_done(&d);

    cdt_buf_reset(&b);
    s_encode_kind(&b, CDT_LINK_DIRECT);
    ck_assert_int_eq(s_decode(&d, b.data, b.len), 0);
    ck_assert_int_eq(d.msg.kind, CDT_LINK_DIRECT);
    ck_assert_uint_eq(d.msg.conn_id, 5);
    ck_str(d.msg.target, "TaskCompleted");
    ck_assert_uint_eq(d.msg.json.len, 11);
    ck_assert_int_eq(memcmp(d.msg.args.ptr, s_args, sizeof s_args), 0);
    s_done(&d);

    cdt_buf_reset(&b);
    s_encode_kind(&b, CDT_LINK_KICK);
    ck_assert_int_eq(s_decode(&d, b.data, b.len), 0);
    ck_assert_int_eq(d.msg.kind, CDT_LINK_KICK);
    ck_assert_int_eq(d.msg.key_id, INT64_MIN);
    ck_str(d.msg.reason, "key disabled");
    s_done(&d);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_link_only_fields_of_kind_are_set)
{
    cdt_buf_t b = CDT_BUF_INIT;
    s_dec_t d;
    s_encode_kind(&b, CDT_LINK_PING);
    ck_assert_int_eq(s_decode(&d, b.data, b.len), 0);
    ck_assert_uint_eq(d.msg.conn_id, 0);
    ck_assert_ptr_null(d.msg.name.ptr);
    ck_assert_uint_eq(d.msg.groups.n, 0);
    ck_assert(!d.msg.ok);
    s_done(&d);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_link_encoders_append)
{
    cdt_buf_t b = CDT_BUF_INIT;
    cdt_link_encode_ping(&b, 1);
    size_t one = b.len;
    cdt_link_encode_ping(&b, 1);
    ck_assert_uint_eq(b.len, 2 * one);
    ck_assert_int_eq(memcmp(b.data, b.data + one, one), 0);
    /* Two frames back to back are not one frame. */
    ck_assert_int_eq(s_decode_once(b.data, b.len), -1);
    ck_assert_int_eq(s_decode_once(b.data + one, one), 0);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_link_big_values_round_trip)
{
    /* Sizes that need 16- and 32-bit MessagePack headers. */
    size_t n = 70000;
    char *name = cdt_xmalloc(n + 1);
    memset(name, 'n', n);
    name[n] = '\0';
    uint8_t *json = cdt_xmalloc(n);
    memset(json, 'j', n);
    const char **groups = cdt_xcalloc(300, sizeof *groups);
    for (int i = 0; i < 300; i++)
        groups[i] = i % 2 ? "odd" : "even";
    cdt_buf_t b = CDT_BUF_INIT;
    cdt_link_args_t a = {.args = {(const char *)json, n}};
    cdt_link_encode_event(&b, name, groups, 300, 1, "T", &a);
    s_dec_t d;
    ck_assert_int_eq(s_decode(&d, b.data, b.len), 0);
    ck_assert_uint_eq(d.msg.hub.len, n);
    ck_assert_uint_eq(d.msg.args.len, n);
    ck_assert_uint_eq(d.msg.groups.n, 300);
    ck_str(cdt_strv_at(d.msg.groups, 299), "odd");
    s_done(&d);
    cdt_buf_release(&b);
    free(groups);
    free(json);
    free(name);
}
END_TEST

/* ---- rejection ---------------------------------------------------------- */

START_TEST(test_link_every_truncation_rejected)
{
    for (int kind = CDT_LINK_HELLO; kind <= CDT_LINK_KICK; kind++) {
        cdt_buf_t b = CDT_BUF_INIT;
        s_encode_kind(&b, kind);
        for (size_t len = 0; len < b.len; len++)
            ck_assert_msg(s_decode_once(b.data, len) == -1,
                          "%s cut at %zu accepted", cdt_link_kind_name(kind),
                          len);
        ck_assert_int_eq(s_decode_once(b.data, b.len), 0);
        cdt_buf_release(&b);
    }
}
END_TEST

START_TEST(test_link_trailing_bytes_rejected)
{
    static const uint8_t garbage[][3] = {{0x00}, {0xC0}, {0x91, 0x01}, {0xFF}};
    static const size_t glen[] = {1, 1, 2, 1};
    for (int kind = CDT_LINK_HELLO; kind <= CDT_LINK_KICK; kind++) {
        for (size_t g = 0; g < 4; g++) {
            cdt_buf_t b = CDT_BUF_INIT;
            s_encode_kind(&b, kind);
            cdt_buf_append(&b, garbage[g], glen[g]);
            ck_assert_int_eq(s_decode_once(b.data, b.len), -1);
            cdt_buf_release(&b);
        }
    }
}
END_TEST

START_TEST(test_link_not_an_array_rejected)
{
    static const uint8_t *const frames[] = {
        (const uint8_t *)"\x90",             /* [] */
        (const uint8_t *)"\x01",             /* 1 */
        (const uint8_t *)"\x81\x01\x03",     /* {1: 3} */
        (const uint8_t *)"\xa1\x03",         /* "\x03" */
        (const uint8_t *)"\xc1",             /* never used */
        (const uint8_t *)"\x91\xc0",         /* [nil] */
        (const uint8_t *)"\x92\x00\x01",     /* kind 0 */
        (const uint8_t *)"\x92\x0f\x01",     /* kind 15 */
        (const uint8_t *)"\x92\xff\x01",     /* kind -1 */
        (const uint8_t *)"\x92\xa1\x03\x01", /* kind "3" */
        (const uint8_t *)"\x92\xcb\x40\x08\x00\x00\x00\x00\x00\x00\x01",
    };
    static const size_t lens[] = {1, 1, 3, 2, 1, 2, 3, 3, 3, 4, 11};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        ck_assert_msg(s_decode_once(frames[i], lens[i]) == -1, "frame %zu", i);
    ck_assert_int_eq(s_decode_once(NULL, 0), -1);
    /* [3, 1] is a valid PING: the frame shape itself is sound. */
    ck_assert_int_eq(s_decode_once("\x92\x03\x01", 3), 0);
}
END_TEST

/* Repacks the array root with element i replaced by rep (or removed when
 * rep is NULL and i is in range, or extended when i == size). */
static void
s_repack(cdt_buf_t *out, const msgpack_object *root, uint32_t skip,
         const msgpack_object *rep, bool extra)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, cdt_buf_msgpack_write);
    uint32_t n = root->via.array.size;
    uint32_t m = n - (rep || extra || skip >= n ? 0 : 1) + (extra ? 1 : 0);
    msgpack_pack_array(&pk, m);
    for (uint32_t i = 0; i < n; i++) {
        if (i == skip) {
            if (rep)
                msgpack_pack_object(&pk, *rep);
            continue;
        }
        msgpack_pack_object(&pk, root->via.array.ptr[i]);
    }
    if (extra)
        msgpack_pack_nil(&pk);
}

START_TEST(test_link_wrong_element_count_rejected)
{
    for (int kind = CDT_LINK_HELLO; kind <= CDT_LINK_KICK; kind++) {
        cdt_buf_t b = CDT_BUF_INIT;
        s_encode_kind(&b, kind);
        s_dec_t d;
        ck_assert_int_eq(s_decode(&d, b.data, b.len), 0);
        msgpack_zone z;
        msgpack_zone_init(&z, 1024);
        msgpack_object root;
        size_t off = 0;
        ck_assert_int_eq(
            msgpack_unpack((const char *)b.data, b.len, &off, &z, &root),
            MSGPACK_UNPACK_SUCCESS);
        uint32_t n = root.via.array.size;
        /* Drop the last element, or add a nil after it. */
        cdt_buf_t c = CDT_BUF_INIT;
        s_repack(&c, &root, n - 1, NULL, false);
        if (kind == CDT_LINK_HELLO) { /* without its version: version 1 */
            s_dec_t d1;
            ck_assert_int_eq(s_decode(&d1, c.data, c.len), 0);
            ck_assert_uint_eq(d1.msg.version, 1);
            ck_assert_uint_eq(d1.msg.incarnation, 1234567890123ULL);
            s_done(&d1);
            cdt_buf_reset(&c); /* [1, name]: short of both */
            msgpack_packer pk;
            msgpack_packer_init(&pk, &c, cdt_buf_msgpack_write);
            msgpack_pack_array(&pk, 2);
            msgpack_pack_object(&pk, root.via.array.ptr[0]);
            msgpack_pack_object(&pk, root.via.array.ptr[1]);
        }
        ck_assert_msg(s_decode_once(c.data, c.len) == -1, "%s minus one",
                      cdt_link_kind_name(kind));
        cdt_buf_reset(&c);
        s_repack(&c, &root, n, NULL, true);
        ck_assert_msg(s_decode_once(c.data, c.len) == -1, "%s plus one",
                      cdt_link_kind_name(kind));
        cdt_buf_release(&c);
        msgpack_zone_destroy(&z);
        s_done(&d);
        cdt_buf_release(&b);
    }
}
END_TEST

/* A WELCOME from a broker that predates the token secret (four elements)
 * is refused, and the secret must be bin: a str of the same bytes is not. */
START_TEST(test_link_welcome_needs_bin_secret)
{
    cdt_buf_t b = CDT_BUF_INIT;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, cdt_buf_msgpack_write);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_uint32(&pk, CDT_LINK_WELCOME);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_uint32(&pk, 1000);
    msgpack_pack_uint32(&pk, 5000);
    ck_assert_int_eq(s_decode_once(b.data, b.len), -1);

    cdt_buf_reset(&b);
    msgpack_pack_array(&pk, 5);
    msgpack_pack_uint32(&pk, CDT_LINK_WELCOME);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_uint32(&pk, 1000);
    msgpack_pack_uint32(&pk, 5000);
    msgpack_pack_str_with_body(&pk, "0123456789abcdef0123456789abcdef", 32);
    ck_assert_int_eq(s_decode_once(b.data, b.len), -1);

    cdt_buf_reset(&b);
    cdt_link_encode_welcome(&b, 1, 1000, 5000, NULL, 0);
    s_dec_t d;
    ck_assert_int_eq(s_decode(&d, b.data, b.len), 0);
    ck_assert_uint_eq(d.msg.secret.len, 0); /* empty: the gateway's call */
    s_done(&d);
    cdt_buf_release(&b);
}
END_TEST

/* Where key_id (i64: either sign) sits in each kind's array. */
static bool
s_is_key_id(int kind, uint32_t i)
{
    return (kind == CDT_LINK_AUTH_REP && i == 3) ||
           (kind == CDT_LINK_CONN_OPEN && i == 3) ||
           (kind == CDT_LINK_KICK && i == 1);
}

START_TEST(test_link_wrong_element_types_rejected)
{
    /* Candidate replacements: one of each MessagePack type, plus the
     * values that are the right type but out of range for some fields. */
    msgpack_object reps[10];
    memset(reps, 0, sizeof reps);
    reps[0].type = MSGPACK_OBJECT_NIL;
    reps[1].type = MSGPACK_OBJECT_BOOLEAN;
    reps[2].type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    reps[2].via.u64 = 1;
    reps[3].type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
    reps[3].via.i64 = -1;
    reps[4].type = MSGPACK_OBJECT_FLOAT64;
    reps[4].via.f64 = 1.0;
    reps[5].type = MSGPACK_OBJECT_STR;
    reps[5].via.str.ptr = "s";
    reps[5].via.str.size = 1;
    reps[6].type = MSGPACK_OBJECT_BIN;
    reps[6].via.bin.ptr = "b";
    reps[6].via.bin.size = 1;
    reps[7].type = MSGPACK_OBJECT_ARRAY; /* [1]: not a list of str */
    reps[7].via.array.ptr = &reps[2];
    reps[7].via.array.size = 1;
    reps[8].type = MSGPACK_OBJECT_MAP;
    reps[9].type = MSGPACK_OBJECT_EXT;
    int tried = 0;
    for (int kind = CDT_LINK_HELLO; kind <= CDT_LINK_KICK; kind++) {
        cdt_buf_t b = CDT_BUF_INIT;
        s_encode_kind(&b, kind);
        msgpack_zone z;
        msgpack_zone_init(&z, 1024);
        msgpack_object root;
        size_t off = 0;
        ck_assert_int_eq(
            msgpack_unpack((const char *)b.data, b.len, &off, &z, &root),
            MSGPACK_UNPACK_SUCCESS);
        for (uint32_t i = 1; i < root.via.array.size; i++) {
            const msgpack_object *orig = &root.via.array.ptr[i];
            for (size_t r = 0; r < sizeof reps / sizeof reps[0]; r++) {
                /* A same-typed replacement is valid (except [1] for a
                 * list of strings, which must be refused), and so is an
                 * integer of either sign for a key_id. */
                if (reps[r].type == orig->type && r != 7)
                    continue;
                if (s_is_key_id(kind, i) && (r == 2 || r == 3))
                    continue;
                cdt_buf_t c = CDT_BUF_INIT;
                s_repack(&c, &root, i, &reps[r], false);
                ck_assert_msg(s_decode_once(c.data, c.len) == -1,
                              "%s element %u as type %d accepted",
                              cdt_link_kind_name(kind), i, reps[r].type);
                cdt_buf_release(&c);
                tried++;
            }
        }
        msgpack_zone_destroy(&z);
        cdt_buf_release(&b);
    }
    ck_assert_int_gt(tried, 400);
}
END_TEST

START_TEST(test_link_huge_declared_counts_rejected)
{
    /* Regression: msgpack-c allocates from the declared count before
     * reading elements; these frames asked for ~100 GB (ASan aborted). */
    static const uint8_t arr32[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t inner[] = {0x97, 0x0c, 0xa1, 'h',  0xdd, 0x10,
                                    0x00, 0x00, 0x00, 0x01, 0xa1, 't'};
    ck_assert_int_eq(s_decode_once(arr32, sizeof arr32), -1);
    ck_assert_int_eq(s_decode_once(map32, sizeof map32), -1);
    ck_assert_int_eq(s_decode_once(inner, sizeof inner), -1);
    cdt_buf_t b = CDT_BUF_INIT;
    ck_assert_int_eq(cdt_link_build_json_frame(&b, "T", arr32, sizeof arr32),
                     -1);
    ck_assert_uint_eq(b.len, 0);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_link_non_str_group_element_rejected)
{
    /* [12, "h", ["a", 1], 1, "t", bin [], bin, []] */
    static const uint8_t ev[] = {0x98, 0x0c, 0xa1, 'h',  0x92, 0xa1,
                                 'a',  0x01, 0x01, 0xa1, 't',  0xc4,
                                 0x01, 0x90, 0xc4, 0x00, 0x90};
    ck_assert_int_eq(s_decode_once(ev, sizeof ev), -1);
    uint8_t fixed[sizeof ev];
    memcpy(fixed, ev, sizeof ev);
    fixed[7] = 0xa0; /* the 1 becomes "" */
    ck_assert_int_eq(s_decode_once(fixed, sizeof fixed), 0);
    fixed[7] = 0xc4; /* bin is not str either */
    ck_assert_int_eq(s_decode_once(fixed, sizeof fixed), -1);
}
END_TEST

/* An EVENT [12, "h", ["g"], 1, "t", args, data, add] packed by hand:
 * n_add strings in add. */
static void
s_pack_event(cdt_buf_t *b, const char *args, size_t args_len, const char *data,
             size_t data_len, size_t n_add)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, cdt_buf_msgpack_write);
    msgpack_pack_array(&pk, 8);
    msgpack_pack_uint32(&pk, CDT_LINK_EVENT);
    msgpack_pack_str_with_body(&pk, "h", 1);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_str_with_body(&pk, "g", 1);
    msgpack_pack_uint32(&pk, 1);
    msgpack_pack_str_with_body(&pk, "t", 1);
    msgpack_pack_bin_with_body(&pk, args, args_len);
    msgpack_pack_bin_with_body(&pk, data, data_len);
    msgpack_pack_array(&pk, n_add);
    for (size_t i = 0; i < n_add; i++)
        msgpack_pack_str_with_body(&pk, "k", 1);
}

/* An EVENT has args or data, never both or neither, and pairs only with
 * data, whole ones, at most CDT_LINK_MAX_ADD. */
START_TEST(test_link_event_args_forms)
{
    static const struct {
        const char *args, *data;
        size_t n_add;
        int rc;
    } cases[] = {
        {"\x90", NULL, 0, 0},
        {NULL, "\x80", 0, 0},
        {NULL, "\x80", 2, 0},
        {NULL, "\x80", 2 * CDT_LINK_MAX_ADD, 0},
        {NULL, "\x80", 2 * CDT_LINK_MAX_ADD + 2, -1},
        {NULL, "\x80", 3, -1},
        {"\x90", NULL, 2, -1},
        {"\x90", "\x80", 0, -1},
        {NULL, NULL, 0, -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cdt_buf_t b = CDT_BUF_INIT;
        s_pack_event(&b, cases[i].args, cases[i].args ? 1 : 0, cases[i].data,
                     cases[i].data ? 1 : 0, cases[i].n_add);
        ck_assert_msg(s_decode_once(b.data, b.len) == cases[i].rc, "case %zu",
                      i);
        cdt_buf_release(&b);
    }
    /* the most pairs come out whole */
    cdt_buf_t b = CDT_BUF_INIT;
    s_pack_event(&b, NULL, 0, "\x80", 1, 2 * CDT_LINK_MAX_ADD);
    s_dec_t d;
    ck_assert_int_eq(s_decode(&d, b.data, b.len), 0);
    cdt_link_pair_t pairs[CDT_LINK_MAX_ADD];
    cdt_link_args_t a;
    cdt_link_event_args(&d.msg, pairs, &a);
    ck_assert_uint_eq(a.n_add, CDT_LINK_MAX_ADD);
    ck_str(a.add[CDT_LINK_MAX_ADD - 1].str, "k");
    s_done(&d);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_link_integer_ranges)
{
    /* req_id 2^32 does not fit u32. */
    static const uint8_t auth[] = {0x95, 0x05, 0xcf, 0, 0,    0,    1,
                                   0,    0,    0,    0, 0xa0, 0xa0, 0xa0};
    ck_assert_int_eq(s_decode_once(auth, sizeof auth), -1);
    uint8_t ok32[sizeof auth];
    memcpy(ok32, auth, sizeof auth);
    ok32[6] = 0; /* 2^32 - 1 + 1 -> 0xffffffff */
    memset(ok32 + 7, 0xff, 4);
    ck_assert_int_eq(s_decode_once(ok32, sizeof ok32), 0);
    /* key_id above INT64_MAX is refused; a negative conn_id too. */
    static const uint8_t kick[] = {0x93, 0x0e, 0xcf, 0x80, 0, 0,
                                   0,    0,    0,    0,    0, 0xa0};
    ck_assert_int_eq(s_decode_once(kick, sizeof kick), -1);
    static const uint8_t close_neg[] = {0x92, 0x09, 0xff};
    ck_assert_int_eq(s_decode_once(close_neg, sizeof close_neg), -1);
    /* An int64-typed positive number is still a valid u64. */
    static const uint8_t close_d3[] = {0x92, 0x09, 0xd3, 0, 0, 0,
                                       0,    0,    0,    0, 5};
    s_dec_t d;
    ck_assert_int_eq(s_decode(&d, close_d3, sizeof close_d3), 0);
    ck_assert_uint_eq(d.msg.conn_id, 5);
    s_done(&d);
}
END_TEST

START_TEST(test_link_invoke_rep_result_type_follows_ok)
{
    /* ok=true with a str, and ok=false with a bin, are both malformed. */
    static const uint8_t t_str[] = {0x97, 0x0b, 0x01, 0x01, 0xc3,
                                    0xa1, 'x',  0x90, 0x90};
    static const uint8_t f_bin[] = {0x97, 0x0b, 0x01, 0x01, 0xc2,
                                    0xc4, 0x01, 0xc0, 0x90, 0x90};
    static const uint8_t t_nil[] = {0x97, 0x0b, 0x01, 0x01,
                                    0xc3, 0xc0, 0x90, 0x90};
    ck_assert_int_eq(s_decode_once(t_str, sizeof t_str), -1);
    ck_assert_int_eq(s_decode_once(f_bin, sizeof f_bin), -1);
    ck_assert_int_eq(s_decode_once(t_nil, sizeof t_nil), -1);
    uint8_t f_str[sizeof t_str];
    memcpy(f_str, t_str, sizeof t_str);
    f_str[4] = 0xc2;
    ck_assert_int_eq(s_decode_once(f_str, sizeof f_str), 0);
}
END_TEST

START_TEST(test_link_single_byte_mutations_never_crash)
{
    /* Not a correctness check by value: ASan/UBSan watch every decode. */
    static const uint8_t vals[] = {0x00, 0x7f, 0x80, 0x90, 0x9f, 0xa0,
                                   0xbf, 0xc0, 0xc1, 0xc4, 0xd9, 0xdc,
                                   0xdd, 0xde, 0xdf, 0xcf, 0xff};
    for (int kind = CDT_LINK_HELLO; kind <= CDT_LINK_KICK; kind++) {
        cdt_buf_t b = CDT_BUF_INIT;
        s_encode_kind(&b, kind);
        for (size_t i = 0; i < b.len; i++) {
            for (size_t v = 0; v < sizeof vals; v++) {
                uint8_t *m = cdt_xmalloc(b.len);
                memcpy(m, b.data, b.len);
                m[i] = vals[v];
                s_dec_t d;
                if (s_decode(&d, m, b.len) == 0) {
                    /* Whatever decodes has in-range strings. */
                    for (size_t g = 0; g < d.msg.groups.n; g++)
                        (void)cdt_strv_at(d.msg.groups, g);
                }
                s_done(&d);
                free(m);
            }
        }
        cdt_buf_release(&b);
    }
}
END_TEST

/* ---- names, lists, the JSON frame --------------------------------------- */

START_TEST(test_link_kind_names)
{
    ck_assert_str_eq(cdt_link_kind_name(CDT_LINK_HELLO), "HELLO");
    ck_assert_str_eq(cdt_link_kind_name(CDT_LINK_INVOKE_REP), "INVOKE_REP");
    ck_assert_str_eq(cdt_link_kind_name(CDT_LINK_KICK), "KICK");
    ck_assert_str_eq(cdt_link_kind_name(0), "?");
    ck_assert_str_eq(cdt_link_kind_name(15), "?");
    ck_assert_str_eq(cdt_link_kind_name(-1), "?");
    for (int k = CDT_LINK_HELLO; k <= CDT_LINK_KICK; k++)
        ck_assert_str_ne(cdt_link_kind_name(k), "?");
}
END_TEST

START_TEST(test_link_strv_at_out_of_range)
{
    cdt_strv_t empty = {NULL, 0};
    cdt_str_t s = cdt_strv_at(empty, 0);
    ck_assert_ptr_null(s.ptr);
    ck_assert_uint_eq(s.len, 0);
}
END_TEST

START_TEST(test_link_json_frame)
{
    cdt_buf_t b = CDT_BUF_INIT;
    cdt_buf_append_str(&b, "pre");
    ck_assert_int_eq(
        cdt_link_build_json_frame(&b, "Task\"Progress", s_args, sizeof s_args),
        0);
    const char *want =
        "pre{\"type\":1,\"target\":\"Task\\\"Progress\",\"arguments\":[1,\"x\"]}"
        "\x1e";
    ck_assert_uint_eq(b.len, strlen(want));
    ck_assert_str_eq((char *)b.data, want);
    cdt_buf_release(&b);

    /* Empty arguments, and a nested object. */
    static const uint8_t nested[] = {0x91, 0x82, 0xa1, 'a', 0xcb, 0x3f,
                                     0xf8, 0,    0,    0,   0,    0,
                                     0,    0xa1, 'b',  0xc0};
    cdt_buf_init(&b);
    ck_assert_int_eq(cdt_link_build_json_frame(&b, "T", "\x90", 1), 0);
    ck_assert_str_eq((char *)b.data,
                     "{\"type\":1,\"target\":\"T\",\"arguments\":[]}\x1e");
    cdt_buf_reset(&b);
    ck_assert_int_eq(cdt_link_build_json_frame(&b, "T", nested, sizeof nested),
                     0);
    ck_assert_str_eq(
        (char *)b.data,
        "{\"type\":1,\"target\":\"T\",\"arguments\":[{\"a\":1.5,\"b\":null}]}"
        "\x1e");
    cdt_buf_release(&b);
}
END_TEST

/* The zone variant reuses one zone: frames after a refused one are still
 * right, and the zone holds nothing between calls. */
START_TEST(test_link_json_frame_zone_reused)
{
    msgpack_zone zone;
    ck_assert(msgpack_zone_init(&zone, 64));
    cdt_buf_t b = CDT_BUF_INIT;
    for (int i = 0; i < 3; i++) {
        cdt_buf_reset(&b);
        ck_assert_int_eq(
            cdt_link_build_json_frame_zone(&b, "T", "\x92\x01\xa1x", 4, &zone),
            0);
        ck_assert_str_eq((char *)b.data,
                         "{\"type\":1,\"target\":\"T\",\"arguments\":[1,"
                         "\"x\"]}\x1e");
        ck_assert(msgpack_zone_is_empty(&zone));
        /* not an array: refused, nothing appended */
        size_t len = b.len;
        ck_assert_int_eq(
            cdt_link_build_json_frame_zone(&b, "T", "\x81\x01\x02", 3, &zone),
            -1);
        ck_assert_uint_eq(b.len, len);
        ck_assert(msgpack_zone_is_empty(&zone));
    }
    cdt_buf_release(&b);
    msgpack_zone_destroy(&zone);
}
END_TEST

START_TEST(test_link_json_frame_rejects_bad_args)
{
    cdt_buf_t b = CDT_BUF_INIT;
    cdt_buf_append_str(&b, "keep");
    ck_assert_int_eq(cdt_link_build_json_frame(&b, "T", "\x01", 1), -1);
    ck_assert_int_eq(cdt_link_build_json_frame(&b, "T", "\x80", 1), -1);
    ck_assert_int_eq(cdt_link_build_json_frame(&b, "T", "\x92\x01", 2), -1);
    ck_assert_int_eq(cdt_link_build_json_frame(&b, "T", "\x90\x90", 2), -1);
    ck_assert_int_eq(cdt_link_build_json_frame(&b, "T", "\xc1", 1), -1);
    ck_assert_int_eq(cdt_link_build_json_frame(&b, "T", NULL, 0), -1);
    ck_assert_uint_eq(b.len, 4);
    ck_assert_str_eq((char *)b.data, "keep");
    /* Every cut of a valid args array is refused, from an exact buffer. */
    for (size_t len = 0; len < sizeof s_args; len++) {
        uint8_t *cut = cdt_xmalloc(len ? len : 1);
        memcpy(cut, s_args, len);
        ck_assert_int_eq(cdt_link_build_json_frame(&b, "T", cut, len), -1);
        free(cut);
    }
    ck_assert_uint_eq(b.len, 4);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_link_json_frame_too_deep)
{
    /* 33 nested arrays exceed what msgpack_unpack accepts. */
    uint8_t deep[34];
    memset(deep, 0x91, 33);
    deep[33] = 0xc0;
    cdt_buf_t b = CDT_BUF_INIT;
    ck_assert_int_eq(cdt_link_build_json_frame(&b, "T", deep, sizeof deep), -1);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_int_eq(cdt_link_build_json_frame(&b, "T", deep + 2, 32), 0);
    cdt_buf_release(&b);
}
END_TEST

/* ---- batches (B->G frames) ----------------------------------------------- */

/* Every kind back to back, as a broker's batch; ends[i] is where message
 * i ends. */
static void
s_batch(cdt_buf_t *b, size_t *ends)
{
    for (int kind = CDT_LINK_HELLO; kind <= CDT_LINK_KICK; kind++) {
        s_encode_kind(b, kind);
        ends[kind - CDT_LINK_HELLO] = b->len;
    }
}

#define S_NKINDS (CDT_LINK_KICK - CDT_LINK_HELLO + 1)

/* Decodes frame (len bytes, exact heap copy) with cdt_link_decode_next as
 * a gateway does; returns how many messages decoded, checking each kind
 * (first, first + 1, ...) and where it ends against ends. */
static size_t
s_decode_kinds(const uint8_t *frame, size_t len, int first, const size_t *ends,
               size_t *stop_p)
{
    uint8_t *copy = cdt_xmalloc(len ? len : 1);
    if (len)
        memcpy(copy, frame, len);
    msgpack_zone zone;
    ck_assert(msgpack_zone_init(&zone, 256));
    size_t off = 0, n = 0;
    do {
        cdt_link_msg_t m;
        size_t used = 12345;
        if (cdt_link_decode_next(copy + off, len - off, &zone, &m, &used) !=
            0) {
            ck_assert_uint_eq(used, 12345); /* untouched */
            ck_assert_int_eq(m.kind, 0);    /* zeroed */
            break;
        }
        ck_assert_int_eq(m.kind, first + (int)n);
        off += used;
        ck_assert_uint_eq(off, ends[n]);
        n++;
        msgpack_zone_clear(&zone);
    } while (off < len);
    msgpack_zone_destroy(&zone);
    free(copy);
    *stop_p = off;
    return n;
}

static size_t
s_decode_batch(const uint8_t *frame, size_t len, const size_t *ends,
               size_t *stop_p)
{
    return s_decode_kinds(frame, len, CDT_LINK_HELLO, ends, stop_p);
}

START_TEST(test_link_batch_decodes_in_order)
{
    cdt_buf_t b = CDT_BUF_INIT;
    size_t ends[S_NKINDS], stop;
    s_batch(&b, ends);
    ck_assert_uint_eq(s_decode_batch(b.data, b.len, ends, &stop), S_NKINDS);
    ck_assert_uint_eq(stop, b.len);
    /* one message alone is a batch of one; decode (G->B) refuses two */
    cdt_buf_t one = CDT_BUF_INIT;
    cdt_link_encode_ping(&one, 7);
    size_t one_end = one.len;
    ck_assert_uint_eq(
        s_decode_kinds(one.data, one.len, CDT_LINK_PING, &one_end, &stop), 1);
    ck_assert_int_eq(s_decode_once(b.data, b.len), -1);
    /* an empty frame holds no message */
    ck_assert_uint_eq(s_decode_batch(b.data, 0, ends, &stop), 0);
    ck_assert_uint_eq(stop, 0);
    cdt_buf_release(&one);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_link_batch_every_truncation)
{
    cdt_buf_t b = CDT_BUF_INIT;
    size_t ends[S_NKINDS];
    s_batch(&b, ends);
    for (size_t len = 0; len < b.len; len++) {
        size_t whole = 0;
        while (whole < S_NKINDS && ends[whole] <= len)
            whole++;
        size_t stop;
        size_t n = s_decode_batch(b.data, len, ends, &stop);
        /* the messages before the cut stand, the cut one does not */
        ck_assert_msg(n == whole, "cut at %zu: %zu decoded, %zu whole", len, n,
                      whole);
        ck_assert_uint_eq(stop, whole ? ends[whole - 1] : 0);
    }
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_link_batch_trailing_garbage)
{
    static const uint8_t garbage[][3] = {
        {0x00}, {0xc1}, {0x91, 0x01}, {0x92, 0x0c}, {0xdd, 0xff, 0xff}};
    static const size_t glen[] = {1, 1, 2, 2, 3};
    for (size_t g = 0; g < 5; g++) {
        cdt_buf_t b = CDT_BUF_INIT;
        size_t ends[S_NKINDS], stop;
        s_batch(&b, ends);
        cdt_buf_append(&b, garbage[g], glen[g]);
        ck_assert_uint_eq(s_decode_batch(b.data, b.len, ends, &stop), S_NKINDS);
        ck_assert_uint_eq(stop, ends[S_NKINDS - 1]);
        cdt_buf_release(&b);
    }
}
END_TEST

START_TEST(test_link_batch_mutations_never_overrun)
{
    static const uint8_t vals[] = {0x00, 0x7f, 0x90, 0x9f, 0xc1,
                                   0xc4, 0xd9, 0xdd, 0xdf, 0xff};
    cdt_buf_t b = CDT_BUF_INIT;
    size_t ends[S_NKINDS];
    s_batch(&b, ends);
    msgpack_zone zone;
    ck_assert(msgpack_zone_init(&zone, 256));
    for (size_t i = 0; i < b.len; i++) {
        for (size_t v = 0; v < sizeof vals; v++) {
            uint8_t *m = cdt_xmalloc(b.len);
            memcpy(m, b.data, b.len);
            m[i] = vals[v];
            size_t off = 0;
            while (off < b.len) {
                cdt_link_msg_t msg;
                size_t used = 0;
                if (cdt_link_decode_next(m + off, b.len - off, &zone, &msg,
                                         &used) != 0)
                    break;
                ck_assert(used > 0 && used <= b.len - off);
                off += used;
                msgpack_zone_clear(&zone);
            }
            msgpack_zone_clear(&zone);
            free(m);
        }
    }
    msgpack_zone_destroy(&zone);
    cdt_buf_release(&b);
}
END_TEST

/* ---- generated MessagePack values ---------------------------------------- */

static uint64_t
s_rand(uint64_t *x)
{
    /* xorshift64*: repeatable, good enough to pick shapes */
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 0x2545F4914F6CDD1DULL;
}

static void
s_put_be(cdt_buf_t *b, uint8_t tag, uint64_t v, int n)
{
    cdt_buf_append_byte(b, tag);
    for (int i = n - 1; i >= 0; i--)
        cdt_buf_append_byte(b, (uint8_t)(v >> (8 * i)));
}

/* Bytes a string may hold: plain, specials JSON escapes, DEL, UTF-8 in
 * and out of form. */
static void
s_gen_text(cdt_buf_t *b, uint64_t *x, size_t n)
{
    static const char *const bits[] = {"a",
                                       "Z",
                                       " ",
                                       "~",
                                       "\"",
                                       "\\",
                                       "/",
                                       "\n",
                                       "\t",
                                       "\x01",
                                       "\x1f",
                                       "\x7f",
                                       "\xc3\xa9",
                                       "\xe2\x82\xac",
                                       "\xf0\x9f\x98\x80",
                                       "\xff",
                                       "\xc3",
                                       "\xed\xa0\x80",
                                       "\xc0\xaf",
                                       "0123456789"};
    for (size_t i = 0; i < n; i++) {
        uint64_t r = s_rand(x) % 64;
        /* mostly plain, so that the word-at-a-time copy runs too */
        const char *piece = r < 40 ? "abcdefgh" : bits[r % 20];
        cdt_buf_append(b, piece, strlen(piece));
    }
}

static void s_gen(cdt_buf_t *b, uint64_t *x, int depth);

/* A str in one of its encodings (not always the shortest). */
static void
s_gen_str(cdt_buf_t *b, uint64_t *x)
{
    cdt_buf_t t = CDT_BUF_INIT;
    s_gen_text(&t, x, s_rand(x) % 6);
    size_t n = t.len;
    switch (s_rand(x) % 4) {
    case 0:
        if (n <= 31) {
            cdt_buf_append_byte(b, (uint8_t)(0xa0 | n));
            break;
        }
        /* fall through */
    case 1:
        if (n <= 255) {
            s_put_be(b, 0xd9, n, 1);
            break;
        }
        /* fall through */
    case 2:
        s_put_be(b, 0xda, n, 2);
        break;
    default:
        s_put_be(b, 0xdb, n, 4);
        break;
    }
    cdt_buf_append(b, t.data ? t.data : (const uint8_t *)"", n);
    cdt_buf_release(&t);
}

static void
s_gen_scalar(cdt_buf_t *b, uint64_t *x)
{
    uint64_t r = s_rand(x);
    uint64_t v = s_rand(x);
    switch (r % 16) {
    case 0:
        cdt_buf_append_byte(b, (uint8_t)(v & 0x7f)); /* positive fixint */
        break;
    case 1:
        cdt_buf_append_byte(b, (uint8_t)(0xe0 | (v & 0x1f)));
        break;
    case 2: { /* uint 8..64, any value, small ones in wide forms */
        int w = 1 << (v % 4);
        uint64_t u = (r >> 8) % 3 == 0 ? v % 200 : s_rand(x);
        if (w < 8)
            u &= (1ULL << (8 * w)) - 1;
        s_put_be(b, (uint8_t)(0xcc + v % 4), u, w);
        break;
    }
    case 3: { /* int 8..64, both signs */
        int w = 1 << (v % 4);
        uint64_t u =
            (r >> 8) % 3 == 0 ? (uint64_t) - (int64_t)(v % 200) : s_rand(x);
        s_put_be(b, (uint8_t)(0xd0 + v % 4), u, w);
        break;
    }
    case 4:
        cdt_buf_append_byte(b, (uint8_t)(0xc0 + (v % 2) * 2 + (v % 4 == 3)));
        break;
    case 5: { /* float 32: integral, fractions, NaN, infinities */
        static const float fs[] = {0.0f,  -0.0f,   1.0f,        1.5f, -2.25f,
                                   1e-7f, 3.4e38f, 16777216.0f, 0.1f};
        float f = v % 10 == 9 ? (v % 3 ? NAN : INFINITY) : fs[v % 9];
        uint32_t u;
        memcpy(&u, &f, 4);
        s_put_be(b, 0xca, u, 4);
        break;
    }
    case 6: { /* float 64 */
        static const double ds[] = {0.0,         -0.0,   1.0,
                                    0.1,         1e300,  -1e-300,
                                    123456789.0, 2.5e-5, 9007199254740993.0};
        double d = v % 10 == 9 ? -INFINITY : ds[v % 9];
        if (v % 7 == 0)
            d = (double)(int64_t)s_rand(x) / 1024.0;
        uint64_t u;
        memcpy(&u, &d, 8);
        s_put_be(b, 0xcb, u, 8);
        break;
    }
    case 7:
    case 8:
    case 9:
        s_gen_str(b, x);
        break;
    case 10: { /* bin 8/16/32 */
        size_t n = v % 7;
        int w = 1 << (r % 3 == 0 ? 0 : r % 3 == 1 ? 1 : 2);
        s_put_be(b, (uint8_t)(w == 1 ? 0xc4 : w == 2 ? 0xc5 : 0xc6), n, w);
        for (size_t i = 0; i < n; i++)
            cdt_buf_append_byte(b, (uint8_t)s_rand(x));
        break;
    }
    case 11: { /* fixext 1..16 and ext 8/16/32 */
        if (v % 2) {
            int k = (int)(r % 5);
            cdt_buf_append_byte(b, (uint8_t)(0xd4 + k));
            cdt_buf_append_byte(b, (uint8_t)v); /* type */
            for (int i = 0; i < (1 << k); i++)
                cdt_buf_append_byte(b, (uint8_t)i);
        } else {
            size_t n = r % 4;
            int w = 1 << (v % 3 == 0 ? 0 : v % 3 == 1 ? 1 : 2);
            s_put_be(b, (uint8_t)(w == 1 ? 0xc7 : w == 2 ? 0xc8 : 0xc9), n, w);
            cdt_buf_append_byte(b, 5); /* type */
            for (size_t i = 0; i < n; i++)
                cdt_buf_append_byte(b, 0xab);
        }
        break;
    }
    default:
        s_gen_str(b, x);
        break;
    }
}

/* An array or map header for n elements or pairs, in a random form. */
static void
s_gen_head(cdt_buf_t *b, uint64_t *x, bool map, size_t n)
{
    switch (s_rand(x) % 3) {
    case 0:
        if (n <= 15) {
            cdt_buf_append_byte(b, (uint8_t)((map ? 0x80 : 0x90) | n));
            break;
        }
        /* fall through */
    case 1:
        s_put_be(b, map ? 0xde : 0xdc, n, 2);
        break;
    default:
        s_put_be(b, map ? 0xdf : 0xdd, n, 4);
        break;
    }
}

/* One value; containers down to depth 5; non_str_keys: maps may have
 * keys that are not strings (one in thirty). */
static bool s_non_str_keys;

static void
s_gen(cdt_buf_t *b, uint64_t *x, int depth)
{
    uint64_t r = s_rand(x) % 10;
    if (depth >= 5 || r < 6) {
        s_gen_scalar(b, x);
        return;
    }
    size_t n = s_rand(x) % 5;
    if (r < 8) {
        s_gen_head(b, x, false, n);
        for (size_t i = 0; i < n; i++)
            s_gen(b, x, depth + 1);
        return;
    }
    s_gen_head(b, x, true, n);
    for (size_t i = 0; i < n; i++) {
        if (s_non_str_keys && s_rand(x) % 30 == 0)
            s_gen(b, x, depth + 1);
        else
            s_gen_str(b, x);
        s_gen(b, x, depth + 1);
    }
}

/* An arguments array of generated values. */
static void
s_gen_args(cdt_buf_t *b, uint64_t *x)
{
    size_t n = s_rand(x) % 4;
    s_gen_head(b, x, false, n);
    for (size_t i = 0; i < n; i++)
        s_gen(b, x, 1);
}

/* What the frame must be: the unpacked arguments through cdt_json. */
static int
s_want_frame(cdt_buf_t *out, const char *target, const uint8_t *args,
             size_t len)
{
    msgpack_zone zone;
    ck_assert(msgpack_zone_init(&zone, 1024));
    msgpack_object obj;
    int rc = -1;
    if (cdt_msgpack_unpack_one(args, len, &zone, &obj) == 0 &&
        obj.type == MSGPACK_OBJECT_ARRAY) {
        cdt_buf_append_str(out, "{\"type\":1,\"target\":");
        cdt_json_append_string(out, target, strlen(target));
        cdt_buf_append_str(out, ",\"arguments\":");
        rc = cdt_json_from_msgpack(&obj, out);
        cdt_buf_append(out, "}\x1e", 2);
    }
    msgpack_zone_destroy(&zone);
    return rc;
}

/* The writer and cdt_json agree on args (exact heap copy), through both
 * entry points. */
static void
s_ck_frame(const uint8_t *args, size_t len, const char *target,
           msgpack_zone *zone)
{
    uint8_t *copy = cdt_xmalloc(len ? len : 1);
    if (len)
        memcpy(copy, args, len);
    cdt_buf_t want = CDT_BUF_INIT, got = CDT_BUF_INIT, got2 = CDT_BUF_INIT;
    int wrc = s_want_frame(&want, target, copy, len);
    cdt_buf_append_str(&got, "pre");
    int rc = cdt_link_build_json_frame_n(&got, target, strlen(target), copy,
                                         len, zone);
    ck_assert_int_eq(rc, wrc);
    if (rc == 0) {
        ck_assert_msg(got.len == want.len + 3 &&
                          memcmp(got.data + 3, want.data, want.len) == 0,
                      "got  %s\nwant %s", got.data + 3, want.data);
    } else {
        ck_assert_uint_eq(got.len, 3); /* out unchanged */
    }
    ck_assert(msgpack_zone_is_empty(zone));
    ck_assert_int_eq(cdt_link_build_json_frame(&got2, target, copy, len), rc);
    if (rc == 0)
        ck_assert(got2.len == want.len &&
                  memcmp(got2.data, want.data, want.len) == 0);
    cdt_buf_release(&want);
    cdt_buf_release(&got);
    cdt_buf_release(&got2);
    free(copy);
}

START_TEST(test_link_json_frame_matches_cdt_json)
{
    msgpack_zone zone;
    ck_assert(msgpack_zone_init(&zone, 1024));
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (int round = 0; round < 2; round++) {
        s_non_str_keys = round == 1;
        for (int i = 0; i < 4000; i++) {
            cdt_buf_t b = CDT_BUF_INIT;
            s_gen_args(&b, &x);
            s_ck_frame(b.data, b.len, i % 2 ? "Task\"Progress\xc3\xa9" : "T",
                       &zone);
            cdt_buf_release(&b);
        }
    }
    s_non_str_keys = false;
    msgpack_zone_destroy(&zone);
}
END_TEST

START_TEST(test_link_json_frame_cut_and_extended)
{
    msgpack_zone zone;
    ck_assert(msgpack_zone_init(&zone, 1024));
    uint64_t x = 42;
    s_non_str_keys = true;
    for (int i = 0; i < 150; i++) {
        cdt_buf_t b = CDT_BUF_INIT;
        s_gen_args(&b, &x);
        /* every cut is refused, from an exact-size buffer */
        for (size_t len = 0; len < b.len; len++)
            s_ck_frame(b.data, len, "T", &zone);
        /* and so is anything after the array */
        cdt_buf_append_byte(&b, 0xc0);
        s_ck_frame(b.data, b.len, "T", &zone);
        cdt_buf_release(&b);
    }
    s_non_str_keys = false;
    msgpack_zone_destroy(&zone);
}
END_TEST

START_TEST(test_link_json_frame_depth_and_odd_values)
{
    msgpack_zone zone;
    ck_assert(msgpack_zone_init(&zone, 1024));
    /* 32 nested containers are what msgpack_unpack accepts, 33 not; also
     * when the deepest is an empty map, or a map key */
    for (int d = 30; d <= 34; d++) {
        cdt_buf_t b = CDT_BUF_INIT;
        for (int i = 0; i < d; i++)
            cdt_buf_append_byte(&b, 0x91);
        cdt_buf_append_byte(&b, 0x80);
        s_ck_frame(b.data, b.len, "T", &zone);
        cdt_buf_reset(&b);
        for (int i = 0; i < d; i++)
            cdt_buf_append_byte(&b, 0x91);
        cdt_buf_append(&b, "\x81\x91\xc0\xc0", 4); /* {[nil]: nil} */
        s_ck_frame(b.data, b.len, "T", &zone);
        cdt_buf_release(&b);
    }
    /* declared counts past the end, reserved bytes, empty input */
    static const char *const odd[] = {
        "\xdd\xff\xff\xff\xff", "\x92\xc1\x01",
        "\x91\xde\xff\xff",     "\x91\x81\x01\x02",
        "\x91\x81\xa1k\xc1",    "\x90",
        "\x81\xa1k\x01",        "\xa1x"};
    static const size_t odd_len[] = {5, 3, 4, 4, 5, 1, 4, 2};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
        s_ck_frame((const uint8_t *)odd[i], odd_len[i], "T", &zone);
    s_ck_frame((const uint8_t *)"", 0, "T", &zone);
    cdt_buf_t b = CDT_BUF_INIT;
    ck_assert_int_eq(cdt_link_build_json_frame(&b, "T", NULL, 0), -1);
    cdt_buf_release(&b);
    msgpack_zone_destroy(&zone);
}
END_TEST

/* ---- the other direct writers ---------------------------------------------
 */

START_TEST(test_link_pack_args_matches_msgpack)
{
    uint64_t x = 7;
    s_non_str_keys = true;
    for (int i = 0; i < 3000; i++) {
        cdt_buf_t b = CDT_BUF_INIT;
        s_gen_args(&b, &x);
        msgpack_zone zone;
        ck_assert(msgpack_zone_init(&zone, 1024));
        msgpack_object obj;
        ck_assert_int_eq(cdt_msgpack_unpack_one(b.data, b.len, &zone, &obj), 0);
        cdt_buf_t want = CDT_BUF_INIT, got = CDT_BUF_INIT;
        msgpack_packer pk;
        msgpack_packer_init(&pk, &want, cdt_buf_msgpack_write);
        msgpack_pack_object(&pk, obj);
        cdt_buf_append_str(&got, "pre");
        ck_assert_int_eq(cdt_link_pack_args(&got, &obj), 0);
        ck_assert(got.len == want.len + 3 &&
                  memcmp(got.data + 3, want.data, want.len) == 0);
        ck_assert_uint_eq(got.data[got.len], 0); /* still terminated */
        cdt_buf_release(&want);
        cdt_buf_release(&got);
        msgpack_zone_destroy(&zone);
        cdt_buf_release(&b);
    }
    s_non_str_keys = false;
    /* not an array, or deeper than msgpack_unpack goes: refused, out kept */
    msgpack_object one = {.type = MSGPACK_OBJECT_POSITIVE_INTEGER};
    one.via.u64 = 1;
    cdt_buf_t out = CDT_BUF_INIT;
    cdt_buf_append_str(&out, "keep");
    ck_assert_int_eq(cdt_link_pack_args(&out, &one), -1);
    ck_assert_int_eq(cdt_link_pack_args(&out, NULL), -1);
    msgpack_object deep[34];
    for (int i = 0; i < 34; i++) {
        deep[i].type = MSGPACK_OBJECT_ARRAY;
        deep[i].via.array.size = i < 33 ? 1 : 0;
        deep[i].via.array.ptr = i < 33 ? &deep[i + 1] : NULL;
    }
    ck_assert_int_eq(cdt_link_pack_args(&out, &deep[0]), -1); /* 34 */
    ck_assert_str_eq((char *)out.data, "keep");
    ck_assert_int_eq(cdt_link_pack_args(&out, &deep[2]), 0); /* 32 */
    cdt_buf_release(&out);
}
END_TEST

START_TEST(test_link_encode_event_n_matches_encode_event)
{
    static const size_t sizes[] = {0, 1, 31, 32, 255, 256, 65535, 65536};
    static const uint64_t seqs[] = {
        0,     1,     127,           128,           255,       256,
        65535, 65536, 4294967295ULL, 4294967296ULL, UINT64_MAX};
    char *big = cdt_xmalloc(70000);
    memset(big, 'g', 70000);
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        /* n bytes of every string, n groups (up to 20), n-byte bins */
        size_t ng = n < 20 ? n : 20;
        char *names[20];
        size_t lens[20];
        for (size_t g = 0; g < ng; g++) {
            names[g] = cdt_xmalloc(n + 1);
            memset(names[g], 'a' + (int)g, n);
            names[g][n] = '\0';
            lens[g] = n;
        }
        big[n] = '\0';
        uint64_t seq = seqs[si % (sizeof seqs / sizeof seqs[0])];
        /* n bytes of args; of data with 0, 1 or CDT_LINK_MAX_ADD n-byte
         * pairs */
        cdt_link_pair_t add[CDT_LINK_MAX_ADD];
        for (size_t k = 0; k < CDT_LINK_MAX_ADD; k++)
            add[k] = (cdt_link_pair_t){{big, n}, {big, n}};
        static const size_t n_adds[] = {0, 1, CDT_LINK_MAX_ADD};
        for (size_t form = 0; form < 4; form++) {
            cdt_link_args_t a = {.add = add};
            if (form == 0)
                a.args = (cdt_str_t){big, n};
            else
                a.data = (cdt_str_t){big, n}, a.n_add = n_adds[form - 1];
            cdt_buf_t want = CDT_BUF_INIT, got = CDT_BUF_INIT;
            cdt_link_encode_event(&want, big, (const char *const *)names, ng,
                                  seq, big, &a);
            cdt_buf_append_str(&got, "x");
            cdt_link_encode_event_n(&got, big, n, (const char *const *)names,
                                    lens, ng, seq, big, n, &a);
            ck_assert_msg(got.len == want.len + 1 &&
                              memcmp(got.data + 1, want.data, want.len) == 0,
                          "size %zu form %zu differs", n, form);
            ck_assert_uint_eq(got.data[got.len], 0);
            cdt_buf_release(&want);
            cdt_buf_release(&got);
        }
        big[n] = 'g';
        for (size_t g = 0; g < ng; g++)
            free(names[g]);
    }
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
        static const char *const g1[] = {"vkey-1"};
        static const size_t l1[] = {6};
        cdt_link_args_t a = {.args = {"\x90", 1}};
        cdt_buf_t want = CDT_BUF_INIT, got = CDT_BUF_INIT;
        cdt_link_encode_event(&want, "H", g1, 1, seqs[i], "T", &a);
        cdt_link_encode_event_n(&got, "H", 1, g1, l1, 1, seqs[i], "T", 1, &a);
        ck_assert(got.len == want.len &&
                  memcmp(got.data, want.data, want.len) == 0);
        cdt_buf_release(&want);
        cdt_buf_release(&got);
    }
    free(big);
}
END_TEST

/* What cdt_link_build_json_frame_args must write for data and add: the
 * array [data'] packed with msgpack-c, where data' is data with the pairs
 * of add it lacks appended, through cdt_link_build_json_frame_n. */
static int
s_want_data_frame(cdt_buf_t *out, const char *target, const uint8_t *data,
                  size_t len, const cdt_link_pair_t *add, size_t n_add)
{
    msgpack_zone zone;
    ck_assert(msgpack_zone_init(&zone, 1024));
    msgpack_object obj;
    int rc = -1;
    if (cdt_msgpack_unpack_one(data, len, &zone, &obj) == 0) {
        cdt_buf_t args = CDT_BUF_INIT;
        msgpack_packer pk;
        msgpack_packer_init(&pk, &args, cdt_buf_msgpack_write);
        msgpack_pack_array(&pk, 1);
        if (obj.type == MSGPACK_OBJECT_MAP) {
            const msgpack_object_map *m = &obj.via.map;
            bool lacks[2];
            uint32_t n = m->size;
            for (size_t i = 0; i < n_add; i++) {
                lacks[i] = true;
                for (uint32_t k = 0; k < m->size; k++) {
                    const msgpack_object *key = &m->ptr[k].key;
                    if (key->type == MSGPACK_OBJECT_STR &&
                        key->via.str.size == add[i].key.len &&
                        memcmp(key->via.str.ptr, add[i].key.ptr,
                               add[i].key.len) == 0)
                        lacks[i] = false;
                }
                n += lacks[i];
            }
            msgpack_pack_map(&pk, n);
            for (uint32_t k = 0; k < m->size; k++) {
                msgpack_pack_object(&pk, m->ptr[k].key);
                msgpack_pack_object(&pk, m->ptr[k].val);
            }
            for (size_t i = 0; i < n_add; i++) {
                if (!lacks[i])
                    continue;
                msgpack_pack_str_with_body(&pk, add[i].key.ptr, add[i].key.len);
                msgpack_pack_str_with_body(&pk, add[i].str.ptr, add[i].str.len);
            }
        } else {
            msgpack_pack_object(&pk, obj);
        }
        rc = cdt_link_build_json_frame_n(out, target, strlen(target), args.data,
                                         args.len, NULL);
        cdt_buf_release(&args);
    }
    msgpack_zone_destroy(&zone);
    return rc;
}

/* cdt_link_build_json_frame_args on a (its bytes an exact heap copy):
 * the same answer as the oracle (the frame of want_args, or of the data
 * frame above), out unchanged on -1, the zone left empty; and the same
 * frame again from a's EVENT, encoded and decoded, as a gateway writes
 * it. */
static void
s_ck_frame_args(const uint8_t *bytes, size_t len, bool as_args,
                const cdt_link_pair_t *add, size_t n_add, const char *target,
                msgpack_zone *zone)
{
    static const char *const groups[] = {"vkey-1", "task-\"x\""};
    static const size_t lens[] = {6, 8};
    uint8_t *copy = cdt_xmalloc(len ? len : 1);
    if (len)
        memcpy(copy, bytes, len);
    cdt_link_args_t a = {.add = add, .n_add = n_add};
    cdt_str_t v = {(const char *)copy, len};
    if (as_args)
        a.args = v;
    else
        a.data = v;
    cdt_buf_t want = CDT_BUF_INIT, got = CDT_BUF_INIT;
    int wrc = as_args ? s_want_frame(&want, target, copy, len)
                      : s_want_data_frame(&want, target, copy, len, add, n_add);
    cdt_buf_append_str(&got, "x");
    int rc =
        cdt_link_build_json_frame_args(&got, target, strlen(target), &a, zone);
    ck_assert_int_eq(rc, wrc);
    ck_assert(msgpack_zone_is_empty(zone));
    if (rc == 0) {
        ck_assert_msg(got.len == want.len + 1 &&
                          memcmp(got.data + 1, want.data, want.len) == 0,
                      "got  %.*s\nwant %s", (int)got.len - 1, got.data + 1,
                      want.data);
        ck_assert_uint_eq(got.data[got.len], 0);
    } else {
        ck_assert_uint_eq(got.len, 1);
    }
    if (len > 0) { /* through the link: an EVENT and back */
        cdt_buf_t ev = CDT_BUF_INIT, again = CDT_BUF_INIT;
        cdt_link_encode_event_n(&ev, "Hub", 3, groups, lens, 2, 300, target,
                                strlen(target), &a);
        msgpack_zone dz;
        ck_assert(msgpack_zone_init(&dz, 1024));
        cdt_link_msg_t m;
        ck_assert_int_eq(cdt_link_decode(ev.data, ev.len, &dz, &m), 0);
        ck_assert_int_eq(m.kind, CDT_LINK_EVENT);
        ck_assert(m.hub.len == 3 && memcmp(m.hub.ptr, "Hub", 3) == 0);
        ck_assert_uint_eq(m.groups.n, 2);
        for (size_t i = 0; i < 2; i++) {
            cdt_str_t g = cdt_strv_at(m.groups, i);
            ck_assert(g.len == lens[i] && memcmp(g.ptr, groups[i], g.len) == 0);
        }
        ck_assert_uint_eq(m.seq, 300);
        ck_assert(m.target.len == strlen(target) &&
                  memcmp(m.target.ptr, target, m.target.len) == 0);
        cdt_link_pair_t pairs[CDT_LINK_MAX_ADD];
        cdt_link_args_t b;
        cdt_link_event_args(&m, pairs, &b);
        ck_assert_int_eq(cdt_link_build_json_frame_args(&again, m.target.ptr,
                                                        m.target.len, &b, zone),
                         rc);
        if (rc == 0)
            ck_assert(again.len == want.len &&
                      memcmp(again.data, want.data, want.len) == 0);
        msgpack_zone_destroy(&dz);
        cdt_buf_release(&ev);
        cdt_buf_release(&again);
    }
    cdt_buf_release(&want);
    cdt_buf_release(&got);
    free(copy);
}

/* True if b's bytes hold the string s (an EVENT has NUL bytes). */
static bool
s_has(const cdt_buf_t *b, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i + n <= b->len; i++)
        if (memcmp(b->data + i, s, n) == 0)
            return true;
    return false;
}

/* A map whose keys are often the ones an event's data may gain. */
static void
s_gen_data_map(cdt_buf_t *b, uint64_t *x)
{
    static const char *const keys[] = {"timestamp", "correlationId", "n",
                                       "timestam", "correlationIdX"};
    size_t n = s_rand(x) % 5;
    s_gen_head(b, x, true, n);
    for (size_t i = 0; i < n; i++) {
        if (s_non_str_keys && s_rand(x) % 10 == 0) {
            s_gen(b, x, 1);
        } else {
            const char *k = keys[s_rand(x) % 5];
            cdt_buf_append_byte(b, (uint8_t)(0xa0 | strlen(k)));
            cdt_buf_append_str(b, k);
        }
        s_gen(b, x, 1);
    }
}

START_TEST(test_link_json_frame_args_matches_parts)
{
    static const cdt_link_pair_t add[] = {
        {{"timestamp", 9}, {"2026-12-07T10:00:00.123Z", 24}},
        {{"correlationId", 13}, {"c-\"1\"\xc3\xa9", 7}},
    };
    msgpack_zone zone;
    ck_assert(msgpack_zone_init(&zone, 1024));
    uint64_t x = 0xD1B54A32D192ED03ULL;
    for (int round = 0; round < 2; round++) {
        s_non_str_keys = round == 1;
        for (int i = 0; i < 3000; i++) {
            cdt_buf_t b = CDT_BUF_INIT;
            bool as_args = i % 4 == 0;
            if (as_args)
                s_gen_args(&b, &x);
            else if (i % 4 == 1)
                s_gen(&b, &x, 0);
            else
                s_gen_data_map(&b, &x);
            size_t n_add = as_args ? 0 : (size_t)(s_rand(&x) % 3);
            const char *target = i % 2 ? "Task\"Progress" : "T";
            s_ck_frame_args(b.data, b.len, as_args, add, n_add, target, &zone);
            if (i % 16 == 2) { /* every cut of it, and a byte too many */
                for (size_t cut = 0; cut < b.len; cut++)
                    s_ck_frame_args(b.data, cut, as_args, add, n_add, target,
                                    &zone);
                cdt_buf_append_byte(&b, 0xc0);
                s_ck_frame_args(b.data, b.len, as_args, add, n_add, target,
                                &zone);
            }
            cdt_buf_release(&b);
        }
    }
    s_non_str_keys = false;
    /* the pairs go after the map's own, only the lacking ones, and only
     * to a map at the top */
    cdt_buf_t got = CDT_BUF_INIT;
    cdt_link_args_t a = {.data = {"\x81\xa1n\x01", 4}, .add = add, .n_add = 2};
    ck_assert_int_eq(cdt_link_build_json_frame_args(&got, "T", 1, &a, &zone),
                     0);
    ck_assert(s_has(&got,
                    "[{\"n\":1,\"timestamp\":\"2026-12-07T10:00:00.123Z\","
                    "\"correlationId\":\"c-\\\"1\\\"\xc3\xa9\"}]}\x1e"));
    cdt_buf_reset(&got);
    a.data = (cdt_str_t){"\x81\xa9timestamp\x02", 12};
    ck_assert_int_eq(cdt_link_build_json_frame_args(&got, "T", 1, &a, &zone),
                     0);
    ck_assert(s_has(
        &got,
        "[{\"timestamp\":2,\"correlationId\":\"c-\\\"1\\\"\xc3\xa9\"}]}"));
    cdt_buf_reset(&got);
    a.data = (cdt_str_t){"\x91\x80", 2}; /* a map inside an array */
    ck_assert_int_eq(cdt_link_build_json_frame_args(&got, "T", 1, &a, &zone),
                     0);
    ck_assert(s_has(&got, "[[{}]]}\x1e"));
    /* no arguments at all, and more pairs than it can track */
    size_t before = got.len;
    a.data = (cdt_str_t){NULL, 0};
    ck_assert_int_eq(cdt_link_build_json_frame_args(&got, "T", 1, &a, &zone),
                     -1);
    a.data = (cdt_str_t){"\x80", 1};
    a.n_add = 33;
    ck_assert_int_eq(cdt_link_build_json_frame_args(&got, "T", 1, &a, &zone),
                     -1);
    ck_assert_uint_eq(got.len, before);
    cdt_buf_release(&got);
    msgpack_zone_destroy(&zone);
}
END_TEST

Suite *
cdt_link_suite(void)
{
    Suite *s = suite_create("cdt_link");
    TCase *tc = tcase_create("round_trip");
    tcase_add_test(tc, test_link_hello_welcome_ping_pong);
    tcase_add_test(tc, test_link_auth_and_reply);
    tcase_add_test(tc, test_link_conn_open_ready_close);
    tcase_add_test(tc, test_link_invoke_and_reply);
    tcase_add_test(tc, test_link_event_direct_kick);
    tcase_add_test(tc, test_link_only_fields_of_kind_are_set);
    tcase_add_test(tc, test_link_encoders_append);
    tcase_add_test(tc, test_link_big_values_round_trip);
    suite_add_tcase(s, tc);

    tc = tcase_create("reject");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_link_every_truncation_rejected);
    tcase_add_test(tc, test_link_trailing_bytes_rejected);
    tcase_add_test(tc, test_link_event_args_forms);
    tcase_add_test(tc, test_link_not_an_array_rejected);
    tcase_add_test(tc, test_link_wrong_element_count_rejected);
    tcase_add_test(tc, test_link_welcome_needs_bin_secret);
    tcase_add_test(tc, test_link_wrong_element_types_rejected);
    tcase_add_test(tc, test_link_huge_declared_counts_rejected);
    tcase_add_test(tc, test_link_non_str_group_element_rejected);
    tcase_add_test(tc, test_link_integer_ranges);
    tcase_add_test(tc, test_link_invoke_rep_result_type_follows_ok);
    tcase_add_test(tc, test_link_single_byte_mutations_never_crash);
    suite_add_tcase(s, tc);

    tc = tcase_create("misc");
    tcase_add_test(tc, test_link_kind_names);
    tcase_add_test(tc, test_link_strv_at_out_of_range);
    tcase_add_test(tc, test_link_json_frame);
    tcase_add_test(tc, test_link_json_frame_rejects_bad_args);
    tcase_add_test(tc, test_link_json_frame_zone_reused);
    tcase_add_test(tc, test_link_json_frame_too_deep);
    suite_add_tcase(s, tc);

    tc = tcase_create("batch");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_link_batch_decodes_in_order);
    tcase_add_test(tc, test_link_batch_every_truncation);
    tcase_add_test(tc, test_link_batch_trailing_garbage);
    tcase_add_test(tc, test_link_batch_mutations_never_overrun);
    suite_add_tcase(s, tc);

    tc = tcase_create("writers");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_link_json_frame_matches_cdt_json);
    tcase_add_test(tc, test_link_json_frame_cut_and_extended);
    tcase_add_test(tc, test_link_json_frame_depth_and_odd_values);
    tcase_add_test(tc, test_link_pack_args_matches_msgpack);
    tcase_add_test(tc, test_link_encode_event_n_matches_encode_event);
    tcase_add_test(tc, test_link_json_frame_args_matches_parts);
    suite_add_tcase(s, tc);
    return s;
}
