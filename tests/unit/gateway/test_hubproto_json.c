/*
 * test_hubproto_json - record framing, client record parsing, the handshake
 * request and the server records of the SignalR JSON hub protocol.
 *
 * Inputs go through heap buffers of exact size so that ASan sees any read
 * past a record; framing is exercised whole, byte by byte and cut at every
 * position (one and two cuts).
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/hubproto_json.h"

#include "common/cdt_buf.h"
#include "common/cdt_json.h"
#include "common/cdt_mem.h"

#include <check.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Suite *hubproto_json_suite(void);

#define RS       "\x1e"
#define HS_ERROR "An unexpected error occurred during connection handshake."

/* ---- helpers ------------------------------------------------------------ */

static char *
s_heap(const char *s, size_t len)
{
    char *p = cdt_xmalloc(len);
    if (len)
        memcpy(p, s, len);
    return p;
}

/* Records seen by the feed callback, joined as "<len>:<text>|". */
typedef struct {
    cdt_buf_t seen;
    size_t n;
    size_t stop_at; /* return -1 from the n-th call (1-based); 0 = never */
} s_sink_t;

static int
s_collect(void *arg, const char *text, size_t len)
{
    s_sink_t *sink = arg;
    cdt_buf_printf(&sink->seen, "%zu:", len);
    cdt_buf_append(&sink->seen, text, len);
    cdt_buf_append_byte(&sink->seen, '|');
    sink->n++;
    return sink->stop_at && sink->n == sink->stop_at ? -1 : 0;
}

/* Feeds a copy of data[0..len) held in a buffer of exactly len bytes. */
static int
s_feed(cdt_buf_t *pending, const char *data, size_t len, size_t max,
       s_sink_t *sink, char *err, size_t errlen)
{
    char *copy = s_heap(data, len);
    int rc = hubproto_json_feed(pending, len ? copy : NULL, len, max, s_collect,
                                sink, err, errlen);
    free(copy);
    return rc;
}

/* Three records as the JS client sends them, type last, plus their
 * expected rendering by s_collect. */
static const char s_stream[] =
    "{\"target\":\"Send\",\"arguments\":[1,\"a\"],\"invocationId\":\"0\","
    "\"type\":1}" RS "{\"type\":6}" RS
    "{\"arguments\":[{\"x\":\"\\u001e\"}],\"target\":\"B\",\"type\":1}" RS;

static void
s_expect_stream(const s_sink_t *sink)
{
    const char *want =
        "65:{\"target\":\"Send\",\"arguments\":[1,\"a\"],\"invocationId\":"
        "\"0\",\"type\":1}|10:{\"type\":6}|52:{\"arguments\":[{\"x\":"
        "\"\\u001e\"}],\"target\":\"B\",\"type\":1}|";
    ck_assert_uint_eq(sink->n, 3);
    ck_assert_str_eq((const char *)sink->seen.data, want);
}

/* Packs the MessagePack array [1, "a", {"x": [true, nil]}]. */
static void
s_pack_sample_args(cdt_buf_t *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, cdt_buf_msgpack_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_str_with_body(&pk, "a", 1);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "x", 1);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_true(&pk);
    msgpack_pack_nil(&pk);
}

static int
s_parse(const char *text, cdt_buf_t *scratch, hub_msg_t *msg, char *err,
        size_t errlen)
{
    size_t len = strlen(text);
    char *copy = s_heap(text, len);
    int rc = hubproto_json_parse(copy, len, scratch, msg, err, errlen);
    free(copy); /* borrowed strings must live in scratch, not in text */
    return rc;
}

static bool
s_str_is(cdt_str_t s, const char *want)
{
    return s.ptr && s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

/* ---- feed ---------------------------------------------------------------- */

START_TEST(test_feed_one_record_whole_leaves_nothing)
{
    cdt_buf_t pending = CDT_BUF_INIT;
    s_sink_t sink = {CDT_BUF_INIT, 0, 0};
    char err[128] = "";
    const char rec[] = "{\"type\":6}" RS;
    ck_assert_int_eq(
        s_feed(&pending, rec, sizeof rec - 1, 1024, &sink, err, sizeof err), 0);
    ck_assert_uint_eq(sink.n, 1);
    ck_assert_str_eq((const char *)sink.seen.data, "10:{\"type\":6}|");
    ck_assert_ptr_null(pending.data);
    ck_assert_uint_eq(pending.len, 0);
    cdt_buf_release(&sink.seen);
}
END_TEST

START_TEST(test_feed_several_records_in_one_call_in_order)
{
    cdt_buf_t pending = CDT_BUF_INIT;
    s_sink_t sink = {CDT_BUF_INIT, 0, 0};
    char err[128] = "";
    ck_assert_int_eq(s_feed(&pending, s_stream, sizeof s_stream - 1, 1024,
                            &sink, err, sizeof err),
                     0);
    s_expect_stream(&sink);
    ck_assert_ptr_null(pending.data);
    cdt_buf_release(&sink.seen);
}
END_TEST

START_TEST(test_feed_byte_by_byte)
{
    cdt_buf_t pending = CDT_BUF_INIT;
    s_sink_t sink = {CDT_BUF_INIT, 0, 0};
    char err[128] = "";
    for (size_t i = 0; i < sizeof s_stream - 1; i++) {
        ck_assert_int_eq(
            s_feed(&pending, s_stream + i, 1, 1024, &sink, err, sizeof err), 0);
        /* right after each RS nothing is held */
        if (s_stream[i] == 0x1e)
            ck_assert_ptr_null(pending.data);
        else
            ck_assert_ptr_nonnull(pending.data);
    }
    s_expect_stream(&sink);
    ck_assert_ptr_null(pending.data);
    cdt_buf_release(&sink.seen);
}
END_TEST

START_TEST(test_feed_split_at_every_position)
{
    const size_t len = sizeof s_stream - 1;
    for (size_t cut = 0; cut <= len; cut++) {
        cdt_buf_t pending = CDT_BUF_INIT;
        s_sink_t sink = {CDT_BUF_INIT, 0, 0};
        char err[128] = "";
        ck_assert_int_eq(
            s_feed(&pending, s_stream, cut, 1024, &sink, err, sizeof err), 0);
        ck_assert_int_eq(s_feed(&pending, s_stream + cut, len - cut, 1024,
                                &sink, err, sizeof err),
                         0);
        s_expect_stream(&sink);
        ck_assert_ptr_null(pending.data);
        cdt_buf_release(&sink.seen);
    }
}
END_TEST

START_TEST(test_feed_split_at_every_pair_of_positions)
{
    const size_t len = sizeof s_stream - 1;
    for (size_t a = 0; a <= len; a++) {
        for (size_t b = a; b <= len; b++) {
            cdt_buf_t pending = CDT_BUF_INIT;
            s_sink_t sink = {CDT_BUF_INIT, 0, 0};
            char err[128] = "";
            ck_assert_int_eq(
                s_feed(&pending, s_stream, a, 1024, &sink, err, sizeof err), 0);
            ck_assert_int_eq(s_feed(&pending, s_stream + a, b - a, 1024, &sink,
                                    err, sizeof err),
                             0);
            ck_assert_int_eq(s_feed(&pending, s_stream + b, len - b, 1024,
                                    &sink, err, sizeof err),
                             0);
            s_expect_stream(&sink);
            ck_assert_ptr_null(pending.data);
            cdt_buf_release(&sink.seen);
        }
    }
}
END_TEST

START_TEST(test_feed_keeps_unfinished_tail)
{
    cdt_buf_t pending = CDT_BUF_INIT;
    s_sink_t sink = {CDT_BUF_INIT, 0, 0};
    char err[128] = "";
    const char data[] = "{\"type\":6}" RS "{\"type\"";
    ck_assert_int_eq(
        s_feed(&pending, data, sizeof data - 1, 1024, &sink, err, sizeof err),
        0);
    ck_assert_uint_eq(sink.n, 1);
    ck_assert_uint_eq(pending.len, 7);
    ck_assert_int_eq(memcmp(pending.data, "{\"type\"", 7), 0);
    /* an empty call changes nothing */
    ck_assert_int_eq(s_feed(&pending, "", 0, 1024, &sink, err, sizeof err), 0);
    ck_assert_uint_eq(pending.len, 7);
    ck_assert_uint_eq(sink.n, 1);
    ck_assert_int_eq(
        s_feed(&pending, ":7}" RS, 4, 1024, &sink, err, sizeof err), 0);
    ck_assert_str_eq((const char *)sink.seen.data,
                     "10:{\"type\":6}|10:{\"type\":7}|");
    ck_assert_ptr_null(pending.data);
    cdt_buf_release(&sink.seen);
}
END_TEST

START_TEST(test_feed_empty_records_are_passed_on)
{
    cdt_buf_t pending = CDT_BUF_INIT;
    s_sink_t sink = {CDT_BUF_INIT, 0, 0};
    char err[128] = "";
    ck_assert_int_eq(
        s_feed(&pending, RS RS "{}" RS, 5, 1024, &sink, err, sizeof err), 0);
    ck_assert_str_eq((const char *)sink.seen.data, "0:|0:|2:{}|");
    ck_assert_ptr_null(pending.data);
    cdt_buf_release(&sink.seen);
}
END_TEST

START_TEST(test_feed_empty_call_releases_empty_allocation)
{
    cdt_buf_t pending = CDT_BUF_INIT;
    cdt_buf_reserve(&pending, 16); /* allocated but empty */
    s_sink_t sink = {CDT_BUF_INIT, 0, 0};
    ck_assert_int_eq(
        hubproto_json_feed(&pending, NULL, 0, 1024, s_collect, &sink, NULL, 0),
        0);
    ck_assert_ptr_null(pending.data);
    ck_assert_uint_eq(sink.n, 0);
}
END_TEST

START_TEST(test_feed_callback_failure_stops_and_releases)
{
    for (size_t stop = 1; stop <= 3; stop++) {
        cdt_buf_t pending = CDT_BUF_INIT;
        s_sink_t sink = {CDT_BUF_INIT, 0, stop};
        char err[128] = "";
        /* a trailing partial record must be dropped too */
        cdt_buf_t data = CDT_BUF_INIT;
        cdt_buf_append_str(&data, s_stream);
        cdt_buf_append_str(&data, "{\"ty");
        ck_assert_int_eq(s_feed(&pending, (const char *)data.data, data.len,
                                1024, &sink, err, sizeof err),
                         -1);
        ck_assert_uint_eq(sink.n, stop);
        ck_assert_ptr_null(pending.data);
        cdt_buf_release(&data);
        cdt_buf_release(&sink.seen);
    }
}
END_TEST

START_TEST(test_feed_callback_failure_on_completed_tail)
{
    cdt_buf_t pending = CDT_BUF_INIT;
    s_sink_t sink = {CDT_BUF_INIT, 0, 1};
    char err[128] = "";
    ck_assert_int_eq(
        s_feed(&pending, "{\"type\"", 7, 1024, &sink, err, sizeof err), 0);
    ck_assert_int_eq(s_feed(&pending, ":6}" RS "{\"type\":7}" RS, 15, 1024,
                            &sink, err, sizeof err),
                     -1);
    ck_assert_uint_eq(sink.n, 1);
    ck_assert_str_eq((const char *)sink.seen.data, "10:{\"type\":6}|");
    ck_assert_ptr_null(pending.data);
    cdt_buf_release(&sink.seen);
}
END_TEST

/* A record of exactly max bytes passes at every split; one more byte
 * fails at every split, and the held tail never exceeds max. */
START_TEST(test_feed_max_record_at_every_split)
{
    const char rec[] = "{\"type\":6,\"x\":\"abcdef\"}"; /* 23 bytes */
    const size_t max = sizeof rec - 1;
    char ok[64], big[64];
    snprintf(ok, sizeof ok, "%s" RS, rec);
    snprintf(big, sizeof big, "{\"type\":6,\"x\":\"abcdefg\"}" RS);
    for (size_t cut = 0; cut <= strlen(ok); cut++) {
        cdt_buf_t pending = CDT_BUF_INIT;
        s_sink_t sink = {CDT_BUF_INIT, 0, 0};
        char err[128] = "";
        ck_assert_int_eq(s_feed(&pending, ok, cut, max, &sink, err, sizeof err),
                         0);
        ck_assert_int_eq(s_feed(&pending, ok + cut, strlen(ok) - cut, max,
                                &sink, err, sizeof err),
                         0);
        ck_assert_uint_eq(sink.n, 1);
        ck_assert_ptr_null(pending.data);
        cdt_buf_release(&sink.seen);
    }
    for (size_t cut = 0; cut <= strlen(big); cut++) {
        cdt_buf_t pending = CDT_BUF_INIT;
        s_sink_t sink = {CDT_BUF_INIT, 0, 0};
        char err[128] = "";
        int rc = s_feed(&pending, big, cut, max, &sink, err, sizeof err);
        ck_assert_uint_le(pending.len, max);
        if (rc == 0)
            rc = s_feed(&pending, big + cut, strlen(big) - cut, max, &sink, err,
                        sizeof err);
        ck_assert_int_eq(rc, -2);
        ck_assert_ptr_nonnull(strstr(err, "exceeds the limit of 23"));
        ck_assert_uint_eq(sink.n, 0);
        ck_assert_ptr_null(pending.data);
        cdt_buf_release(&sink.seen);
    }
}
END_TEST

START_TEST(test_feed_oversized_record_in_one_call)
{
    cdt_buf_t pending = CDT_BUF_INIT;
    s_sink_t sink = {CDT_BUF_INIT, 0, 0};
    char err[128] = "";
    const char data[] = "{\"type\":6}" RS "{\"type\":6,\"pad\":1}" RS;
    ck_assert_int_eq(
        s_feed(&pending, data, sizeof data - 1, 12, &sink, err, sizeof err),
        -2);
    ck_assert_uint_eq(sink.n, 1); /* records before it were delivered */
    ck_assert_str_eq(err, "record of 18 bytes exceeds the limit of 12");
    ck_assert_ptr_null(pending.data);
    cdt_buf_release(&sink.seen);
}
END_TEST

START_TEST(test_feed_unfinished_tail_cannot_grow_past_limit)
{
    cdt_buf_t pending = CDT_BUF_INIT;
    s_sink_t sink = {CDT_BUF_INIT, 0, 0};
    char err[128] = "";
    /* one call: tail longer than the limit fails without any RS */
    ck_assert_int_eq(
        s_feed(&pending, "{\"type\":6,", 10, 9, &sink, err, sizeof err), -2);
    ck_assert_str_eq(err,
                     "unfinished record of 10 bytes exceeds the limit of 9");
    ck_assert_ptr_null(pending.data);

    /* many calls: fails as soon as the held bytes would pass the limit */
    const size_t max = 100;
    size_t calls = 0;
    int rc = 0;
    while (rc == 0 && calls < 1000) {
        rc = s_feed(&pending, "aaaaaaa", 7, max, &sink, err, sizeof err);
        calls++;
        if (rc == 0)
            ck_assert_uint_le(pending.len, max);
    }
    ck_assert_int_eq(rc, -2);
    ck_assert_uint_eq(calls, 15); /* 14 * 7 = 98 held, 105 refused */
    ck_assert_str_eq(err,
                     "unfinished record of 105 bytes exceeds the limit of 100");
    ck_assert_ptr_null(pending.data);
    ck_assert_uint_eq(sink.n, 0);
}
END_TEST

START_TEST(test_feed_tail_of_exactly_max_then_rs)
{
    cdt_buf_t pending = CDT_BUF_INIT;
    s_sink_t sink = {CDT_BUF_INIT, 0, 0};
    char err[128] = "";
    ck_assert_int_eq(
        s_feed(&pending, "{\"type\":6}", 10, 10, &sink, err, sizeof err), 0);
    ck_assert_uint_eq(pending.len, 10);
    ck_assert_int_eq(s_feed(&pending, RS, 1, 10, &sink, err, sizeof err), 0);
    ck_assert_str_eq((const char *)sink.seen.data, "10:{\"type\":6}|");
    ck_assert_ptr_null(pending.data);
    cdt_buf_release(&sink.seen);
}
END_TEST

/* ---- parse: good records ------------------------------------------------- */

START_TEST(test_parse_invocation_type_last)
{
    cdt_buf_t scratch = CDT_BUF_INIT;
    hub_msg_t msg;
    char err[128] = "";
    ck_assert_int_eq(s_parse("{\"target\":\"Send\",\"arguments\":[1,\"a\","
                             "{\"x\":[true,null]}],\"invocationId\":\"0\","
                             "\"type\":1}",
                             &scratch, &msg, err, sizeof err),
                     0);
    ck_assert_int_eq(msg.type, HUB_INVOCATION);
    ck_assert(msg.has_invocation_id);
    ck_assert(s_str_is(msg.invocation_id, "0"));
    ck_assert(s_str_is(msg.target, "Send"));
    ck_assert_uint_eq(msg.n_args, 3);
    cdt_buf_t want = CDT_BUF_INIT;
    s_pack_sample_args(&want);
    ck_assert_uint_eq(msg.args_len, want.len);
    ck_assert_int_eq(memcmp(msg.args, want.data, want.len), 0);
    ck_assert(!msg.has_stream_ids);
    ck_assert_ptr_null(msg.error.ptr);
    ck_assert(!msg.has_sequence_id);
    /* args lies inside scratch */
    ck_assert(msg.args >= scratch.data &&
              msg.args + msg.args_len <= scratch.data + scratch.len);
    cdt_buf_release(&want);
    cdt_buf_release(&scratch);
}
END_TEST

START_TEST(test_parse_invocation_type_first_same_result)
{
    cdt_buf_t scratch = CDT_BUF_INIT;
    hub_msg_t msg;
    char err[128] = "";
    ck_assert_int_eq(
        s_parse(" {\"type\" : 1 , \"invocationId\":\"17\",\"target\":\"Send\","
                "\"arguments\":[ 1, \"a\", {\"x\": [true, null] } ] }\n",
                &scratch, &msg, err, sizeof err),
        0);
    ck_assert_int_eq(msg.type, 1);
    ck_assert(s_str_is(msg.invocation_id, "17"));
    ck_assert(s_str_is(msg.target, "Send"));
    cdt_buf_t want = CDT_BUF_INIT;
    s_pack_sample_args(&want);
    ck_assert_uint_eq(msg.args_len, want.len);
    ck_assert_int_eq(memcmp(msg.args, want.data, want.len), 0);
    cdt_buf_release(&want);
    cdt_buf_release(&scratch);
}
END_TEST

START_TEST(test_parse_non_blocking_invocation)
{
    cdt_buf_t scratch = CDT_BUF_INIT;
    hub_msg_t msg;
    char err[128] = "";
    ck_assert_int_eq(
        s_parse("{\"target\":\"Send\",\"arguments\":[],\"type\":1}", &scratch,
                &msg, err, sizeof err),
        0);
    ck_assert(!msg.has_invocation_id);
    ck_assert_uint_eq(msg.n_args, 0);
    ck_assert_uint_eq(msg.args_len, 1);
    ck_assert_uint_eq(msg.args[0], 0x90);
    /* .NET reads an empty id as none */
    ck_assert_int_eq(s_parse("{\"target\":\"S\",\"arguments\":[],"
                             "\"invocationId\":\"\",\"type\":1}",
                             &scratch, &msg, err, sizeof err),
                     0);
    ck_assert(!msg.has_invocation_id);
    ck_assert_uint_eq(msg.invocation_id.len, 0);
    cdt_buf_release(&scratch);
}
END_TEST

START_TEST(test_parse_unescapes_strings)
{
    cdt_buf_t scratch = CDT_BUF_INIT;
    hub_msg_t msg;
    char err[128] = "";
    ck_assert_int_eq(s_parse("{\"type\":1,\"target\":\"Se\\u006ed\\n\","
                             "\"invocationId\":\"\\u00e9\\\"\\ud83d\\ude00\","
                             "\"arguments\":[\"\\\\\"]}",
                             &scratch, &msg, err, sizeof err),
                     0);
    ck_assert(s_str_is(msg.target, "Send\n"));
    ck_assert(s_str_is(msg.invocation_id, "\xc3\xa9\"\xf0\x9f\x98\x80"));
    ck_assert_uint_eq(msg.args_len, 3);
    ck_assert_int_eq(memcmp(msg.args, "\x91\xa1\\", 3), 0);
    cdt_buf_release(&scratch);
}
END_TEST

START_TEST(test_parse_other_types)
{
    cdt_buf_t scratch = CDT_BUF_INIT;
    hub_msg_t msg;
    char err[128] = "";

    ck_assert_int_eq(s_parse("{\"type\":6}", &scratch, &msg, err, sizeof err),
                     0);
    ck_assert_int_eq(msg.type, HUB_PING);
    ck_assert_uint_eq(msg.args_len, 0);
    ck_assert_ptr_null(msg.target.ptr);

    ck_assert_int_eq(s_parse("{\"type\":7}", &scratch, &msg, err, sizeof err),
                     0);
    ck_assert_int_eq(msg.type, HUB_CLOSE);
    ck_assert_ptr_null(msg.error.ptr);
    ck_assert(!msg.allow_reconnect);

    ck_assert_int_eq(s_parse("{\"error\":\"boom\",\"allowReconnect\":true,"
                             "\"type\":7}",
                             &scratch, &msg, err, sizeof err),
                     0);
    ck_assert_int_eq(msg.type, HUB_CLOSE);
    ck_assert(s_str_is(msg.error, "boom"));
    ck_assert(msg.allow_reconnect);

    ck_assert_int_eq(s_parse("{\"type\":7,\"error\":\"\",\"allowReconnect\":"
                             "false}",
                             &scratch, &msg, err, sizeof err),
                     0);
    ck_assert(s_str_is(msg.error, "")); /* present, empty */
    ck_assert(!msg.allow_reconnect);

    ck_assert_int_eq(s_parse("{\"type\":8,\"sequenceId\":5}", &scratch, &msg,
                             err, sizeof err),
                     0);
    ck_assert_int_eq(msg.type, HUB_ACK);
    ck_assert(msg.has_sequence_id);
    ck_assert_int_eq(msg.sequence_id, 5);

    ck_assert_int_eq(s_parse("{\"sequenceId\":9007199254740993,\"type\":9}",
                             &scratch, &msg, err, sizeof err),
                     0);
    ck_assert_int_eq(msg.type, HUB_SEQUENCE);
    ck_assert_int_eq(msg.sequence_id, 9007199254740993LL);

    ck_assert_int_eq(s_parse("{\"invocationId\":\"3\",\"type\":5}", &scratch,
                             &msg, err, sizeof err),
                     0);
    ck_assert_int_eq(msg.type, HUB_CANCEL_INVOCATION);
    ck_assert(s_str_is(msg.invocation_id, "3"));

    ck_assert_int_eq(s_parse("{\"type\":4,\"invocationId\":\"2\",\"target\":"
                             "\"Counter\",\"arguments\":[10,500]}",
                             &scratch, &msg, err, sizeof err),
                     0);
    ck_assert_int_eq(msg.type, HUB_STREAM_INVOCATION);
    ck_assert(s_str_is(msg.target, "Counter"));
    ck_assert_uint_eq(msg.n_args, 2);

    ck_assert_int_eq(s_parse("{\"type\":3,\"invocationId\":\"4\",\"result\":"
                             "{\"a\":1}}",
                             &scratch, &msg, err, sizeof err),
                     0);
    ck_assert_int_eq(msg.type, HUB_COMPLETION);
    ck_assert(s_str_is(msg.invocation_id, "4"));
    ck_assert_ptr_null(msg.error.ptr);

    ck_assert_int_eq(s_parse("{\"invocationId\":\"4\",\"error\":\"no\","
                             "\"type\":3}",
                             &scratch, &msg, err, sizeof err),
                     0);
    ck_assert(s_str_is(msg.error, "no"));

    ck_assert_int_eq(s_parse("{\"type\":2,\"invocationId\":\"1\",\"item\":"
                             "null}",
                             &scratch, &msg, err, sizeof err),
                     0);
    ck_assert_int_eq(msg.type, HUB_STREAM_ITEM);
    cdt_buf_release(&scratch);
}
END_TEST

START_TEST(test_parse_unknown_types_returned_as_is)
{
    static const struct {
        const char *text;
        int64_t type;
    } cases[] = {
        {"{\"type\":0}", 0},
        {"{\"type\":10,\"whatever\":[1]}", 10},
        {"{\"type\":-1}", -1},
        {"{\"type\":99999999999}", 99999999999LL},
        {"{\"type\":9223372036854775807}", INT64_MAX},
        {"{\"type\":-9223372036854775808}", INT64_MIN},
    };
    cdt_buf_t scratch = CDT_BUF_INIT;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hub_msg_t msg;
        char err[128] = "";
        ck_assert_msg(s_parse(cases[i].text, &scratch, &msg, err, sizeof err) ==
                          0,
                      "%s: %s", cases[i].text, err);
        ck_assert_int_eq(msg.type, cases[i].type);
    }
    cdt_buf_release(&scratch);
}
END_TEST

START_TEST(test_parse_headers_stream_ids_and_unknown_keys)
{
    cdt_buf_t scratch = CDT_BUF_INIT;
    hub_msg_t msg;
    char err[128] = "";
    ck_assert_int_eq(
        s_parse("{\"x\":{\"target\":5,\"type\":\"no\"},\"headers\":{\"a\":"
                "\"b\",\"c\":\"\"},\"target\":\"T\",\"arguments\":[],"
                "\"streamIds\":[\"1\",\"2\"],\"y\":[[[null]]],\"type\":1}",
                &scratch, &msg, err, sizeof err),
        0);
    ck_assert(s_str_is(msg.target, "T"));
    ck_assert(msg.has_stream_ids);
    ck_assert_int_eq(s_parse("{\"type\":1,\"target\":\"T\",\"arguments\":[],"
                             "\"streamIds\":[],\"headers\":{}}",
                             &scratch, &msg, err, sizeof err),
                     0);
    ck_assert(!msg.has_stream_ids);
    cdt_buf_release(&scratch);
}
END_TEST

START_TEST(test_parse_duplicate_keys_last_wins)
{
    cdt_buf_t scratch = CDT_BUF_INIT;
    hub_msg_t msg;
    char err[128] = "";
    ck_assert_int_eq(s_parse("{\"type\":1,\"target\":\"A\",\"type\":6,"
                             "\"target\":\"B\"}",
                             &scratch, &msg, err, sizeof err),
                     0);
    ck_assert_int_eq(msg.type, 6);
    ck_assert(s_str_is(msg.target, "B"));
    cdt_buf_release(&scratch);
}
END_TEST

/* 16+ and 65536+ properties use the map16 and map32 forms. */
START_TEST(test_parse_large_objects)
{
    static const size_t counts[] = {15, 16, 300, 65535, 65536, 70000};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        cdt_buf_t text = CDT_BUF_INIT;
        cdt_buf_append_str(&text, "{");
        for (size_t i = 0; i + 3 < counts[c]; i++)
            cdt_buf_printf(&text, "\"k%zu\":%zu,", i, i);
        cdt_buf_append_str(&text, "\"target\":\"T\",\"arguments\":[7],"
                                  "\"type\":1}");
        char *copy = s_heap((const char *)text.data, text.len);
        cdt_buf_t scratch = CDT_BUF_INIT;
        hub_msg_t msg;
        char err[128] = "";
        ck_assert_int_eq(hubproto_json_parse(copy, text.len, &scratch, &msg,
                                             err, sizeof err),
                         0);
        ck_assert_int_eq(msg.type, 1);
        ck_assert(s_str_is(msg.target, "T"));
        ck_assert_uint_eq(msg.args_len, 2);
        ck_assert_int_eq(memcmp(msg.args, "\x91\x07", 2), 0);
        free(copy);
        cdt_buf_release(&scratch);
        cdt_buf_release(&text);
    }
}
END_TEST

START_TEST(test_parse_scratch_reused)
{
    cdt_buf_t scratch = CDT_BUF_INIT;
    hub_msg_t msg;
    char err[128] = "";
    ck_assert_int_eq(s_parse("{\"type\":1,\"target\":\"Long\",\"arguments\":"
                             "[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]}",
                             &scratch, &msg, err, sizeof err),
                     0);
    ck_assert_int_eq(s_parse("{\"type\":1,\"target\":\"S\",\"arguments\":[2]}",
                             &scratch, &msg, err, sizeof err),
                     0);
    ck_assert(s_str_is(msg.target, "S"));
    ck_assert_uint_eq(msg.args_len, 2);
    ck_assert_int_eq(memcmp(msg.args, "\x91\x02", 2), 0);
    ck_assert_ptr_eq(msg.args + msg.args_len, scratch.data + scratch.len);
    cdt_buf_release(&scratch);
}
END_TEST

/* The record's arguments nest 31 arrays deep (32 with the record): that
 * is accepted and the arguments unpack with msgpack-c; one more level is
 * refused. */
START_TEST(test_parse_depth_limit)
{
    for (int extra = 0; extra <= 1; extra++) {
        cdt_buf_t text = CDT_BUF_INIT;
        int levels = 31 + extra;
        cdt_buf_append_str(&text,
                           "{\"type\":1,\"target\":\"T\",\"arguments\":");
        for (int i = 0; i < levels; i++)
            cdt_buf_append_byte(&text, '[');
        cdt_buf_append_byte(&text, '1');
        for (int i = 0; i < levels; i++)
            cdt_buf_append_byte(&text, ']');
        cdt_buf_append_byte(&text, '}');
        cdt_buf_t scratch = CDT_BUF_INIT;
        hub_msg_t msg;
        char err[128] = "";
        int rc =
            s_parse((const char *)text.data, &scratch, &msg, err, sizeof err);
        if (extra) {
            ck_assert_int_eq(rc, -1);
            ck_assert_ptr_nonnull(strstr(err, "invalid JSON"));
        } else {
            ck_assert_int_eq(rc, 0);
            msgpack_zone zone;
            msgpack_zone_init(&zone, 256);
            msgpack_object obj;
            size_t off = 0;
            ck_assert_int_eq(msgpack_unpack((const char *)msg.args,
                                            msg.args_len, &off, &zone, &obj),
                             MSGPACK_UNPACK_SUCCESS);
            msgpack_zone_destroy(&zone);
        }
        cdt_buf_release(&scratch);
        cdt_buf_release(&text);
    }
}
END_TEST

/* ---- parse: bad records -------------------------------------------------- */

static const struct {
    const char *text;
    const char *why; /* expected substring of err */
} s_bad[] = {
    {"", "invalid JSON"},
    {" ", "invalid JSON"},
    {"{", "invalid JSON"},
    {"{\"type\":6", "invalid JSON"},
    {"{\"type\":6,}", "invalid JSON"},
    {"{\"type\":6}x", "invalid JSON"},
    {"{\"type\":6}{}", "invalid JSON"},
    {"{'type':6}", "invalid JSON"},
    {"{\"type\":6,\"s\":\"\xff\"}", "invalid JSON"},
    {"{\"type\":6,\"s\":\"\\ud800\"}", "invalid JSON"},
    {"{\"type\":6} // c", "invalid JSON"},
    {"[1]", "not a JSON object"},
    {"[]", "not a JSON object"},
    {"6", "not a JSON object"},
    {"\"x\"", "not a JSON object"},
    {"null", "not a JSON object"},
    {"true", "not a JSON object"},
    {"{}", "missing required property 'type'"},
    {"{\"target\":\"a\",\"arguments\":[]}", "missing required property 'type'"},
    {"{\"type\":\"1\"}", "expected 'type' to be an integer"},
    {"{\"type\":1.5}", "expected 'type' to be an integer"},
    {"{\"type\":1e0}", "expected 'type' to be an integer"},
    {"{\"type\":null}", "expected 'type' to be an integer"},
    {"{\"type\":true}", "expected 'type' to be an integer"},
    {"{\"type\":[1]}", "expected 'type' to be an integer"},
    {"{\"type\":18446744073709551615}", "expected 'type' to be an integer"},
    {"{\"arguments\":[],\"type\":1}", "missing required property 'target'"},
    {"{\"target\":\"\",\"arguments\":[],\"type\":1}",
     "missing required property 'target'"},
    {"{\"target\":\"a\",\"type\":1}", "missing required property 'arguments'"},
    {"{\"target\":\"a\",\"arguments\":{},\"type\":1}",
     "expected 'arguments' to be an array"},
    {"{\"target\":\"a\",\"arguments\":null,\"type\":1}",
     "expected 'arguments' to be an array"},
    {"{\"target\":\"a\",\"arguments\":\"[]\",\"type\":1}",
     "expected 'arguments' to be an array"},
    {"{\"type\":6,\"arguments\":1}", "expected 'arguments' to be an array"},
    {"{\"target\":5,\"arguments\":[],\"type\":1}",
     "expected 'target' to be a string"},
    {"{\"target\":null,\"arguments\":[],\"type\":1}",
     "expected 'target' to be a string"},
    {"{\"target\":\"a\",\"arguments\":[],\"invocationId\":1,\"type\":1}",
     "expected 'invocationId' to be a string"},
    {"{\"target\":\"a\",\"arguments\":[],\"invocationId\":null,\"type\":1}",
     "expected 'invocationId' to be a string"},
    {"{\"target\":\"a\",\"arguments\":[],\"headers\":[],\"type\":1}",
     "expected 'headers' to be an object"},
    {"{\"target\":\"a\",\"arguments\":[],\"headers\":\"h\",\"type\":1}",
     "expected 'headers' to be an object"},
    {"{\"target\":\"a\",\"arguments\":[],\"headers\":null,\"type\":1}",
     "expected 'headers' to be an object"},
    {"{\"target\":\"a\",\"arguments\":[],\"headers\":{\"a\":1},\"type\":1}",
     "expected every header value to be a string"},
    {"{\"target\":\"a\",\"arguments\":[],\"streamIds\":\"1\",\"type\":1}",
     "expected 'streamIds' to be an array"},
    {"{\"target\":\"a\",\"arguments\":[],\"streamIds\":[1],\"type\":1}",
     "expected 'streamIds' to hold only strings"},
    {"{\"target\":\"a\",\"arguments\":[],\"type\":4}",
     "missing required property 'invocationId'"},
    {"{\"target\":\"a\",\"arguments\":[],\"invocationId\":\"\",\"type\":4}",
     "missing required property 'invocationId'"},
    {"{\"invocationId\":\"1\",\"arguments\":[],\"type\":4}",
     "missing required property 'target'"},
    {"{\"invocationId\":\"1\",\"target\":\"a\",\"type\":4}",
     "missing required property 'arguments'"},
    {"{\"type\":5}", "missing required property 'invocationId'"},
    {"{\"type\":3}", "missing required property 'invocationId'"},
    {"{\"type\":3,\"result\":1}", "missing required property 'invocationId'"},
    {"{\"type\":3,\"invocationId\":\"1\",\"result\":1,\"error\":\"x\"}",
     "mutually exclusive"},
    {"{\"type\":3,\"invocationId\":\"1\",\"result\":null,\"error\":\"\"}",
     "mutually exclusive"},
    {"{\"type\":2,\"item\":1}", "missing required property 'invocationId'"},
    {"{\"type\":2,\"invocationId\":\"1\"}", "missing required property 'item'"},
    {"{\"type\":8}", "missing required property 'sequenceId'"},
    {"{\"type\":9}", "missing required property 'sequenceId'"},
    {"{\"type\":8,\"sequenceId\":\"1\"}",
     "expected 'sequenceId' to be an integer"},
    {"{\"type\":9,\"sequenceId\":1.5}",
     "expected 'sequenceId' to be an integer"},
    {"{\"type\":8,\"sequenceId\":null}",
     "expected 'sequenceId' to be an integer"},
    {"{\"type\":7,\"error\":5}", "expected 'error' to be a string"},
    {"{\"type\":7,\"error\":null}", "expected 'error' to be a string"},
    {"{\"type\":7,\"allowReconnect\":\"true\"}",
     "expected 'allowReconnect' to be true or false"},
    {"{\"type\":7,\"allowReconnect\":1}",
     "expected 'allowReconnect' to be true or false"},
    {"{\"type\":7,\"allowReconnect\":null}",
     "expected 'allowReconnect' to be true or false"},
};

START_TEST(test_parse_rejects_bad_record)
{
    const char *text = s_bad[_i].text;
    cdt_buf_t scratch = CDT_BUF_INIT;
    hub_msg_t msg;
    char err[160] = "";
    ck_assert_int_eq(s_parse(text, &scratch, &msg, err, sizeof err), -1);
    ck_assert_msg(strstr(err, s_bad[_i].why) != NULL,
                  "'%s': got '%s', want '%s'", text, err, s_bad[_i].why);
    /* no error text is ever empty or unterminated in a small buffer */
    char small[8];
    memset(small, 'x', sizeof small);
    ck_assert_int_eq(s_parse(text, &scratch, &msg, small, sizeof small), -1);
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
    /* and no err buffer at all is fine */
    ck_assert_int_eq(s_parse(text, &scratch, &msg, NULL, 0), -1);
    cdt_buf_release(&scratch);
}
END_TEST

START_TEST(test_parse_rejects_every_truncation)
{
    static const char *const good[] = {
        "{\"target\":\"Send\",\"arguments\":[1,\"a\",{\"x\":[true,null]}],"
        "\"invocationId\":\"0\",\"type\":1}",
        "{\"type\":7,\"error\":\"e\",\"allowReconnect\":true}",
        "{\"type\":8,\"sequenceId\":12}",
    };
    for (size_t g = 0; g < sizeof good / sizeof good[0]; g++) {
        size_t len = strlen(good[g]);
        cdt_buf_t scratch = CDT_BUF_INIT;
        for (size_t cut = 0; cut < len; cut++) {
            char *copy = s_heap(good[g], cut);
            hub_msg_t msg;
            char err[128] = "";
            ck_assert_msg(hubproto_json_parse(copy, cut, &scratch, &msg, err,
                                              sizeof err) == -1,
                          "'%.*s' accepted", (int)cut, good[g]);
            ck_assert_ptr_nonnull(strstr(err, "invalid JSON"));
            free(copy);
        }
        /* and with trailing garbage */
        cdt_buf_t text = CDT_BUF_INIT;
        cdt_buf_append_str(&text, good[g]);
        cdt_buf_append_str(&text, ",");
        hub_msg_t msg;
        char err[128] = "";
        char *copy = s_heap((const char *)text.data, text.len);
        ck_assert_int_eq(hubproto_json_parse(copy, text.len, &scratch, &msg,
                                             err, sizeof err),
                         -1);
        free(copy);
        cdt_buf_release(&text);
        cdt_buf_release(&scratch);
    }
}
END_TEST

/* ---- feed + parse, as the gateway uses them ------------------------------ */

typedef struct {
    cdt_buf_t scratch;
    size_t n;
    int64_t types[8];
} s_parsed_t;

static int
s_parse_record(void *arg, const char *text, size_t len)
{
    s_parsed_t *p = arg;
    hub_msg_t msg;
    char err[128];
    if (hubproto_json_parse(text, len, &p->scratch, &msg, err, sizeof err) != 0)
        return -1;
    ck_assert_uint_lt(p->n, 8);
    p->types[p->n++] = msg.type;
    if (p->n == 1) {
        ck_assert(s_str_is(msg.target, "Send"));
        ck_assert(s_str_is(msg.invocation_id, "0"));
    }
    if (p->n == 3) {
        ck_assert(s_str_is(msg.target, "B"));
        ck_assert_uint_eq(msg.args_len, 6);
        ck_assert_int_eq(memcmp(msg.args, "\x91\x81\xa1x\xa1\x1e", 6), 0);
    }
    return 0;
}

START_TEST(test_feed_and_parse_split_at_every_position)
{
    const size_t len = sizeof s_stream - 1;
    for (size_t cut = 0; cut <= len; cut++) {
        cdt_buf_t pending = CDT_BUF_INIT;
        s_parsed_t p = {CDT_BUF_INIT, 0, {0}};
        char err[128] = "";
        char *a = s_heap(s_stream, cut);
        char *b = s_heap(s_stream + cut, len - cut);
        ck_assert_int_eq(hubproto_json_feed(&pending, a, cut, 1024,
                                            s_parse_record, &p, err,
                                            sizeof err),
                         0);
        ck_assert_int_eq(hubproto_json_feed(&pending, b, len - cut, 1024,
                                            s_parse_record, &p, err,
                                            sizeof err),
                         0);
        ck_assert_uint_eq(p.n, 3);
        ck_assert_int_eq(p.types[0], 1);
        ck_assert_int_eq(p.types[1], 6);
        ck_assert_int_eq(p.types[2], 1);
        ck_assert_ptr_null(pending.data);
        free(a);
        free(b);
        cdt_buf_release(&p.scratch);
    }
}
END_TEST

/* ---- handshake ----------------------------------------------------------- */

static int
s_handshake(const char *text, char *protocol, size_t protocol_size,
            int64_t *version, char *err, size_t errlen)
{
    size_t len = strlen(text);
    char *copy = s_heap(text, len);
    int rc = hubproto_handshake_parse(copy, len, protocol, protocol_size,
                                      version, err, errlen);
    free(copy);
    return rc;
}

START_TEST(test_handshake_parses_protocol_and_version)
{
    static const struct {
        const char *text;
        const char *protocol;
        int64_t version;
    } cases[] = {
        {"{\"protocol\":\"json\",\"version\":1}", "json", 1},
        {"{\"version\":2,\"protocol\":\"json\"}", "json", 2},
        {" { \"protocol\" : \"messagepack\" , \"version\" : 1 , \"x\":[{}] } ",
         "messagepack", 1},
        {"{\"protocol\":\"\",\"version\":0}", "", 0},
        {"{\"protocol\":\"js\\u006fn\",\"version\":-1}", "json", -1},
        {"{\"protocol\":\"json\",\"version\":2147483647}", "json", INT32_MAX},
        {"{\"protocol\":\"json\",\"version\":-2147483648}", "json", INT32_MIN},
        {"{\"protocol\":\"x\",\"protocol\":\"json\",\"version\":1}", "json", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char protocol[32];
        int64_t version = 99;
        char err[128] = "";
        ck_assert_msg(s_handshake(cases[i].text, protocol, sizeof protocol,
                                  &version, err, sizeof err) == 0,
                      "%s", cases[i].text);
        ck_assert_str_eq(protocol, cases[i].protocol);
        ck_assert_int_eq(version, cases[i].version);
    }
}
END_TEST

START_TEST(test_handshake_truncates_protocol)
{
    char protocol[3];
    int64_t version = 0;
    char err[128] = "";
    ck_assert_int_eq(s_handshake("{\"protocol\":\"json\",\"version\":1}",
                                 protocol, sizeof protocol, &version, err,
                                 sizeof err),
                     0);
    ck_assert_str_eq(protocol, "js");
    ck_assert_int_eq(version, 1);
}
END_TEST

static const char *const s_bad_handshakes[] = {
    "",
    "{",
    "[]",
    "\"json\"",
    "{}",
    "{\"protocol\":\"json\"}",
    "{\"version\":1}",
    "{\"protocol\":\"json\",\"version\":null}",
    "{\"protocol\":\"json\",\"version\":\"1\"}",
    "{\"protocol\":\"json\",\"version\":1.5}",
    "{\"protocol\":\"json\",\"version\":2147483648}",
    "{\"protocol\":\"json\",\"version\":-2147483649}",
    "{\"protocol\":\"json\",\"version\":true}",
    "{\"protocol\":5,\"version\":1}",
    "{\"protocol\":null,\"version\":1}",
    "{\"protocol\":[\"json\"],\"version\":1}",
    "{\"protocol\":\"json\",\"version\":1}x",
    "{\"protocol\":\"json\",\"version\":1,}",
    "{\"protocol\":\"js\xc0n\",\"version\":1}",
    "{\"protocol\":\"json\",\"version\":1,\"version\":null}",
};

START_TEST(test_handshake_rejects_bad_request)
{
    char protocol[32] = "untouched";
    int64_t version = 42;
    char err[128] = "";
    ck_assert_int_eq(s_handshake(s_bad_handshakes[_i], protocol,
                                 sizeof protocol, &version, err, sizeof err),
                     -1);
    ck_assert_str_eq(err, HS_ERROR);
}
END_TEST

START_TEST(test_handshake_rejects_every_truncation)
{
    const char *text = "{\"protocol\":\"json\",\"version\":1}";
    size_t len = strlen(text);
    for (size_t cut = 0; cut < len; cut++) {
        char *copy = s_heap(text, cut);
        char protocol[32];
        int64_t version;
        char err[128] = "";
        ck_assert_int_eq(hubproto_handshake_parse(copy, cut, protocol,
                                                  sizeof protocol, &version,
                                                  err, sizeof err),
                         -1);
        ck_assert_str_eq(err, HS_ERROR);
        free(copy);
    }
}
END_TEST

/* ---- server records ------------------------------------------------------ */

static void
s_expect_out(const cdt_buf_t *out, const char *want)
{
    ck_assert_uint_eq(out->len, strlen(want));
    ck_assert_int_eq(memcmp(out->data, want, out->len), 0);
    ck_assert_uint_eq(out->data[out->len], 0);
}

START_TEST(test_handshake_response)
{
    cdt_buf_t out = CDT_BUF_INIT;
    hubproto_json_handshake_response(&out, NULL);
    s_expect_out(&out, "{}" RS);
    cdt_buf_reset(&out);
    hubproto_json_handshake_response(&out, "");
    s_expect_out(&out, "{}" RS);
    cdt_buf_reset(&out);
    hubproto_json_handshake_response(&out,
                                     "The protocol 'x\"\\' is not supported.");
    s_expect_out(&out, "{\"error\":\"The protocol 'x\\\"\\\\' is not "
                       "supported.\"}" RS);
    /* appends */
    hubproto_json_handshake_response(&out, NULL);
    ck_assert_int_eq(memcmp(out.data + out.len - 3, "{}" RS, 3), 0);
    cdt_buf_release(&out);
}
END_TEST

START_TEST(test_completion_result)
{
    cdt_buf_t out = CDT_BUF_INIT;
    cdt_str_t id = {"0", 1};
    ck_assert_int_eq(hubproto_json_completion_result(&out, id, NULL, 0), 0);
    s_expect_out(&out,
                 "{\"type\":3,\"invocationId\":\"0\",\"result\":null}" RS);

    cdt_buf_reset(&out);
    ck_assert_int_eq(hubproto_json_completion_result(&out, id, "\x2a", 1), 0);
    s_expect_out(&out, "{\"type\":3,\"invocationId\":\"0\",\"result\":42}" RS);

    cdt_buf_t mp = CDT_BUF_INIT;
    s_pack_sample_args(&mp);
    cdt_buf_reset(&out);
    cdt_str_t id2 = {"a\"b\x01", 4};
    ck_assert_int_eq(
        hubproto_json_completion_result(&out, id2, mp.data, mp.len), 0);
    s_expect_out(&out, "{\"type\":3,\"invocationId\":\"a\\\"b\\u0001\","
                       "\"result\":[1,\"a\",{\"x\":[true,null]}]}" RS);

    /* an empty or NULL id is still written as a string */
    cdt_buf_reset(&out);
    cdt_str_t none = {NULL, 0};
    ck_assert_int_eq(hubproto_json_completion_result(&out, none, "\xc0", 1), 0);
    s_expect_out(&out, "{\"type\":3,\"invocationId\":\"\",\"result\":null}" RS);
    cdt_buf_release(&mp);
    cdt_buf_release(&out);
}
END_TEST

START_TEST(test_completion_result_rejects_bad_msgpack)
{
    static const struct {
        const char *mp;
        size_t len;
    } bad[] = {
        {"\xc1", 1},     /* never used */
        {"\x92\x01", 2}, /* truncated array */
        {"\xa3xy", 3},   /* truncated str */
        {"\x01\x02", 2}, /* two values */
        {"\xd9", 1},     /* str8 without length */
        {"\x81\x01", 2}, /* map without value */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cdt_buf_t out = CDT_BUF_INIT;
        cdt_buf_append_str(&out, "before");
        char *copy = s_heap(bad[i].mp, bad[i].len);
        cdt_str_t id = {"7", 1};
        ck_assert_int_eq(
            hubproto_json_completion_result(&out, id, copy, bad[i].len), -1);
        s_expect_out(&out, "before");
        free(copy);
        cdt_buf_release(&out);
    }
}
END_TEST

START_TEST(test_completion_error)
{
    cdt_buf_t out = CDT_BUF_INIT;
    cdt_str_t id = {"12", 2};
    hubproto_json_completion_error(
        &out, id,
        "Failed to invoke 'Foo' due to an error on the server. "
        "HubException: Method does not exist.");
    s_expect_out(&out, "{\"type\":3,\"invocationId\":\"12\",\"error\":"
                       "\"Failed to invoke 'Foo' due to an error on the "
                       "server. HubException: Method does not exist.\"}" RS);
    cdt_buf_reset(&out);
    hubproto_json_completion_error(&out, id, "line\nbreak\t\"q\"");
    s_expect_out(&out, "{\"type\":3,\"invocationId\":\"12\",\"error\":"
                       "\"line\\nbreak\\t\\\"q\\\"\"}" RS);
    cdt_buf_release(&out);
}
END_TEST

START_TEST(test_ping_and_close)
{
    cdt_buf_t out = CDT_BUF_INIT;
    hubproto_json_ping(&out);
    s_expect_out(&out, "{\"type\":6}" RS);
    cdt_buf_reset(&out);
    hubproto_json_close(&out, NULL, false);
    s_expect_out(&out, "{\"type\":7}" RS);
    cdt_buf_reset(&out);
    hubproto_json_close(&out, NULL, true);
    s_expect_out(&out, "{\"type\":7,\"allowReconnect\":true}" RS);
    cdt_buf_reset(&out);
    hubproto_json_close(&out, "Connection closed with an error.", true);
    s_expect_out(&out, "{\"type\":7,\"error\":\"Connection closed with an "
                       "error.\",\"allowReconnect\":true}" RS);
    cdt_buf_reset(&out);
    hubproto_json_close(&out, "x", false);
    s_expect_out(&out, "{\"type\":7,\"error\":\"x\"}" RS);
    cdt_buf_release(&out);
}
END_TEST

/* What we write, we read back: each server record is one RS-terminated
 * record that parses, with the fields it was given. */
START_TEST(test_server_records_round_trip)
{
    cdt_buf_t out = CDT_BUF_INIT;
    cdt_str_t id = {"5", 1};
    cdt_buf_t mp = CDT_BUF_INIT;
    s_pack_sample_args(&mp);
    ck_assert_int_eq(hubproto_json_completion_result(&out, id, mp.data, mp.len),
                     0);
    hubproto_json_completion_error(&out, id, "bad \xe2\x82\xac");
    hubproto_json_ping(&out);
    hubproto_json_close(&out, "bye", true);

    cdt_buf_t pending = CDT_BUF_INIT;
    s_sink_t sink = {CDT_BUF_INIT, 0, 0};
    char err[128] = "";
    ck_assert_int_eq(s_feed(&pending, (const char *)out.data, out.len, 4096,
                            &sink, err, sizeof err),
                     0);
    ck_assert_uint_eq(sink.n, 4);
    ck_assert_ptr_null(pending.data);

    /* parse each record on its own */
    const char *p = (const char *)out.data;
    const char *end = p + out.len;
    int64_t want_types[] = {3, 3, 6, 7};
    cdt_buf_t scratch = CDT_BUF_INIT;
    for (size_t i = 0; i < 4; i++) {
        const char *rs = memchr(p, 0x1e, (size_t)(end - p));
        ck_assert_ptr_nonnull(rs);
        hub_msg_t msg;
        char *copy = s_heap(p, (size_t)(rs - p));
        ck_assert_int_eq(hubproto_json_parse(copy, (size_t)(rs - p), &scratch,
                                             &msg, err, sizeof err),
                         0);
        ck_assert_int_eq(msg.type, want_types[i]);
        if (i == 1)
            ck_assert(s_str_is(msg.error, "bad \xe2\x82\xac"));
        if (i < 2)
            ck_assert(s_str_is(msg.invocation_id, "5"));
        if (i == 3) {
            ck_assert(s_str_is(msg.error, "bye"));
            ck_assert(msg.allow_reconnect);
        }
        free(copy);
        p = rs + 1;
    }
    ck_assert_ptr_eq(p, end);
    cdt_buf_release(&scratch);
    cdt_buf_release(&sink.seen);
    cdt_buf_release(&mp);
    cdt_buf_release(&out);
}
END_TEST

/* ---- suite ----------------------------------------------------------------
 */

Suite *
hubproto_json_suite(void)
{
    Suite *s = suite_create("hubproto_json");

    TCase *tc = tcase_create("feed");
    tcase_add_test(tc, test_feed_one_record_whole_leaves_nothing);
    tcase_add_test(tc, test_feed_several_records_in_one_call_in_order);
    tcase_add_test(tc, test_feed_byte_by_byte);
    tcase_add_test(tc, test_feed_split_at_every_position);
    tcase_add_test(tc, test_feed_split_at_every_pair_of_positions);
    tcase_add_test(tc, test_feed_keeps_unfinished_tail);
    tcase_add_test(tc, test_feed_empty_records_are_passed_on);
    tcase_add_test(tc, test_feed_empty_call_releases_empty_allocation);
    tcase_add_test(tc, test_feed_callback_failure_stops_and_releases);
    tcase_add_test(tc, test_feed_callback_failure_on_completed_tail);
    tcase_add_test(tc, test_feed_max_record_at_every_split);
    tcase_add_test(tc, test_feed_oversized_record_in_one_call);
    tcase_add_test(tc, test_feed_unfinished_tail_cannot_grow_past_limit);
    tcase_add_test(tc, test_feed_tail_of_exactly_max_then_rs);
    tcase_add_test(tc, test_feed_and_parse_split_at_every_position);
    suite_add_tcase(s, tc);

    tc = tcase_create("parse");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_parse_invocation_type_last);
    tcase_add_test(tc, test_parse_invocation_type_first_same_result);
    tcase_add_test(tc, test_parse_non_blocking_invocation);
    tcase_add_test(tc, test_parse_unescapes_strings);
    tcase_add_test(tc, test_parse_other_types);
    tcase_add_test(tc, test_parse_unknown_types_returned_as_is);
    tcase_add_test(tc, test_parse_headers_stream_ids_and_unknown_keys);
    tcase_add_test(tc, test_parse_duplicate_keys_last_wins);
    tcase_add_test(tc, test_parse_large_objects);
    tcase_add_test(tc, test_parse_scratch_reused);
    tcase_add_test(tc, test_parse_depth_limit);
    tcase_add_loop_test(tc, test_parse_rejects_bad_record, 0,
                        (int)(sizeof s_bad / sizeof s_bad[0]));
    tcase_add_test(tc, test_parse_rejects_every_truncation);
    suite_add_tcase(s, tc);

    tc = tcase_create("handshake");
    tcase_add_test(tc, test_handshake_parses_protocol_and_version);
    tcase_add_test(tc, test_handshake_truncates_protocol);
    tcase_add_loop_test(
        tc, test_handshake_rejects_bad_request, 0,
        (int)(sizeof s_bad_handshakes / sizeof s_bad_handshakes[0]));
    tcase_add_test(tc, test_handshake_rejects_every_truncation);
    suite_add_tcase(s, tc);

    tc = tcase_create("encode");
    tcase_add_test(tc, test_handshake_response);
    tcase_add_test(tc, test_completion_result);
    tcase_add_test(tc, test_completion_result_rejects_bad_msgpack);
    tcase_add_test(tc, test_completion_error);
    tcase_add_test(tc, test_ping_and_close);
    tcase_add_test(tc, test_server_records_round_trip);
    suite_add_tcase(s, tc);

    return s;
}
