/*
 * test_pub - conduit-pub's arguments turned into ingress maps.
 *
 * Every map is decoded again with cdt_ingress_parse, the broker's own
 * decoder, so these tests fail when the CLI and the broker disagree about
 * a field's name or type.
 *
 * SPDX-License-Identifier: MIT
 */
#include "cli/pub.h"

#include "common/cdt_auth.h"
#include "common/cdt_buf.h"
#include "common/cdt_json.h"
#include "proto/cdt_ingress.h"

#include <check.h>
#include <msgpack.h>
#include <stdarg.h>
#include <string.h>

Suite *pub_suite(void);

#define NOW 1700000000123LL

/* Runs pub_build over a NULL-terminated list of words. */
static int
s_build(cdt_buf_t *out, char *err, size_t errlen, ...)
{
    char *argv[64];
    int argc = 0;
    va_list ap;
    va_start(ap, errlen);
    for (char *w; (w = va_arg(ap, char *)) != NULL;)
        argv[argc++] = w;
    va_end(ap);
    return pub_build(argc, argv, NOW, out, err, errlen);
}

#define BUILD(out, err, ...) \
    s_build((out), (err), sizeof(err), __VA_ARGS__, (char *)NULL)

/* Holds a decoded message and what it borrows from. */
typedef struct decoded {
    msgpack_unpacked u;
    cdt_ingress_t msg;
} decoded_t;

static void
s_decode_ok(const cdt_buf_t *buf, decoded_t *d)
{
    char err[256];
    int rc =
        cdt_ingress_parse(buf->data, buf->len, &d->u, &d->msg, err, sizeof err);
    ck_assert_msg(rc == 0, "broker decoder refused the map: %s", err);
}

static bool
s_str_eq(cdt_str_t s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

static char *
s_json_of(const msgpack_object *o)
{
    static char text[1024];
    cdt_buf_t b = CDT_BUF_INIT;
    ck_assert_int_eq(cdt_json_from_msgpack(o, &b), 0);
    snprintf(text, sizeof text, "%s", (const char *)b.data);
    cdt_buf_release(&b);
    return text;
}

/* The raw value of key in the top-level map, or NULL. */
static const msgpack_object *
s_field(const decoded_t *d, const char *key)
{
    const msgpack_object *m = &d->u.data;
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object_kv *kv = &m->via.map.ptr[i];
        if (kv->key.via.str.size == strlen(key) &&
            memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size) == 0)
            return &kv->val;
    }
    return NULL;
}

/* ---- event ------------------------------------------------------------- */

START_TEST(test_pub_event_one_group_carries_data_intact)
{
    cdt_buf_t out = CDT_BUF_INIT;
    char err[256];
    ck_assert_int_eq(
        BUILD(&out, err, "event", "--hub", "SpendNotificationHub", "--group",
              "vkey-1", "--target", "SpendUpdate", "--data",
              "{\"amount\":0.25,\"n\":[1,\"x\",null,true]}", "--id", "corr-9"),
        PUB_OK);
    decoded_t d;
    s_decode_ok(&out, &d);
    ck_assert_int_eq(d.msg.type, CDT_IN_EVENT);
    ck_assert(s_str_eq(d.msg.hub, "SpendNotificationHub"));
    ck_assert_uint_eq(d.msg.groups.n, 1);
    ck_assert(s_str_eq(cdt_strv_at(d.msg.groups, 0), "vkey-1"));
    ck_assert(s_str_eq(d.msg.target, "SpendUpdate"));
    ck_assert(s_str_eq(d.msg.id, "corr-9"));
    ck_assert_int_eq(d.msg.ts, NOW);
    ck_assert_ptr_null(d.msg.arguments);
    ck_assert_ptr_nonnull(d.msg.data);
    ck_assert_str_eq(s_json_of(d.msg.data),
                     "{\"amount\":0.25,\"n\":[1,\"x\",null,true]}");
    msgpack_unpacked_destroy(&d.u);
    cdt_buf_release(&out);
}
END_TEST

START_TEST(test_pub_event_several_groups_and_args)
{
    cdt_buf_t out = CDT_BUF_INIT;
    char err[256];
    ck_assert_int_eq(BUILD(&out, err, "event", "--hub=TaskHub", "--group", "a",
                           "--group=b", "--group", "c", "--target",
                           "TaskProgress", "--args", "[1, {\"k\":\"v\"}]"),
                     PUB_OK);
    decoded_t d;
    s_decode_ok(&out, &d);
    ck_assert_uint_eq(d.msg.groups.n, 3);
    ck_assert(s_str_eq(cdt_strv_at(d.msg.groups, 0), "a"));
    ck_assert(s_str_eq(cdt_strv_at(d.msg.groups, 1), "b"));
    ck_assert(s_str_eq(cdt_strv_at(d.msg.groups, 2), "c"));
    ck_assert_ptr_null(d.msg.data);
    ck_assert_ptr_nonnull(d.msg.arguments);
    ck_assert_str_eq(s_json_of(d.msg.arguments), "[1,{\"k\":\"v\"}]");
    ck_assert_int_eq(d.msg.id.len, 0);
    msgpack_unpacked_destroy(&d.u);
    cdt_buf_release(&out);
}
END_TEST

START_TEST(test_pub_event_malformed_data_fails_locally)
{
    cdt_buf_t out = CDT_BUF_INIT;
    char err[256] = "";
    ck_assert_int_eq(BUILD(&out, err, "event", "--hub", "H", "--group", "g",
                           "--target", "T", "--data", "{\"a\":1,}"),
                     PUB_FAIL);
    ck_assert_ptr_nonnull(strstr(err, "--data is not valid JSON"));
    ck_assert_uint_eq(out.len, 0);
    ck_assert_int_eq(BUILD(&out, err, "event", "--hub", "H", "--group", "g",
                           "--target", "T", "--args", "{\"a\":1}"),
                     PUB_FAIL);
    ck_assert_ptr_nonnull(strstr(err, "--args must be a JSON array"));
    ck_assert_uint_eq(out.len, 0);
    cdt_buf_release(&out);
}
END_TEST

START_TEST(test_pub_event_usage_errors)
{
    cdt_buf_t out = CDT_BUF_INIT;
    char err[256] = "";
    ck_assert_int_eq(BUILD(&out, err, "event", "--group", "g", "--target", "T",
                           "--data", "1"),
                     PUB_USAGE);
    ck_assert_str_eq(err, "event: missing --hub");
    ck_assert_int_eq(BUILD(&out, err, "event", "--hub", "H", "--group", "g",
                           "--target", "T"),
                     PUB_USAGE);
    ck_assert_ptr_nonnull(strstr(err, "exactly one of --data and --args"));
    ck_assert_int_eq(BUILD(&out, err, "event", "--hub", "H", "--group", "g",
                           "--target", "T", "--data", "1", "--args", "[]"),
                     PUB_USAGE);
    ck_assert_int_eq(BUILD(&out, err, "event", "--hub", "H", "--group", "g",
                           "--target", "T", "--data", "1", "--frob", "x"),
                     PUB_USAGE);
    ck_assert_str_eq(err, "event: unknown option '--frob'");
    ck_assert_int_eq(
        BUILD(&out, err, "event", "--hub", "H", "--group", "g", "--target"),
        PUB_USAGE);
    ck_assert_str_eq(err, "event: --target needs a value");
    ck_assert_int_eq(BUILD(&out, err, "event", "--hub", "H", "--hub", "I",
                           "--group", "g", "--target", "T", "--data", "1"),
                     PUB_USAGE);
    ck_assert_int_eq(BUILD(&out, err, "event", "stray"), PUB_USAGE);
    ck_assert_int_eq(BUILD(&out, err, "event", "--hub", "H", "--help"),
                     PUB_HELP);
    ck_assert_uint_eq(out.len, 0);
    cdt_buf_release(&out);
}
END_TEST

/* ---- task, spend, health, webhook ------------------------------------- */

START_TEST(test_pub_task_every_field)
{
    cdt_buf_t out = CDT_BUF_INIT;
    char err[256];
    ck_assert_int_eq(BUILD(&out, err, "task", "--id", "T-1", "--type", "video",
                           "--key", "42", "--state", "failed", "--percent",
                           "37.5", "--message", "halfway", "--result",
                           "{\"url\":\"u\"}", "--error", "boom", "--retryable",
                           "--cid", "c1"),
                     PUB_OK);
    decoded_t d;
    s_decode_ok(&out, &d);
    ck_assert_int_eq(d.msg.type, CDT_IN_TASK);
    ck_assert(s_str_eq(d.msg.task_id, "T-1"));
    ck_assert_int_eq(d.msg.task_type, CDT_TASK_VIDEO);
    ck_assert(d.msg.has_key_id);
    ck_assert_int_eq(d.msg.key_id, 42);
    ck_assert_int_eq(d.msg.state, CDT_TASK_FAILED);
    ck_assert(d.msg.has_percent);
    ck_assert_double_eq(d.msg.percent, 37.5);
    ck_assert(s_str_eq(d.msg.message, "halfway"));
    ck_assert_str_eq(s_json_of(d.msg.result), "{\"url\":\"u\"}");
    ck_assert(s_str_eq(d.msg.error, "boom"));
    ck_assert(d.msg.has_retryable && d.msg.retryable);
    ck_assert(s_str_eq(d.msg.id, "c1"));
    msgpack_unpacked_destroy(&d.u);
    cdt_buf_release(&out);
}
END_TEST

START_TEST(test_pub_task_minimal_has_no_optional_fields)
{
    cdt_buf_t out = CDT_BUF_INIT;
    char err[256];
    ck_assert_int_eq(BUILD(&out, err, "task", "--id", "T", "--type", "image",
                           "--state", "progress"),
                     PUB_OK);
    decoded_t d;
    s_decode_ok(&out, &d);
    ck_assert_int_eq(d.msg.task_type, CDT_TASK_IMAGE);
    ck_assert(!d.msg.has_key_id);
    ck_assert(!d.msg.has_percent);
    ck_assert(!d.msg.has_retryable);
    ck_assert_ptr_null(d.msg.result);
    msgpack_unpacked_destroy(&d.u);
    cdt_buf_release(&out);
}
END_TEST

START_TEST(test_pub_task_rejects_bad_words_and_numbers)
{
    cdt_buf_t out = CDT_BUF_INIT;
    char err[256] = "";
    ck_assert_int_eq(BUILD(&out, err, "task", "--id", "T", "--type", "audio",
                           "--state", "started"),
                     PUB_USAGE);
    ck_assert_str_eq(err, "task: --type must be one of video|image|other, "
                          "not 'audio'");
    ck_assert_int_eq(BUILD(&out, err, "task", "--id", "T", "--type", "video",
                           "--state", "done"),
                     PUB_USAGE);
    ck_assert_int_eq(BUILD(&out, err, "task", "--id", "T", "--type", "video",
                           "--state", "started", "--key", "1x"),
                     PUB_USAGE);
    ck_assert_ptr_nonnull(strstr(err, "--key needs an integer > 0"));
    ck_assert_int_eq(BUILD(&out, err, "task", "--id", "T", "--type", "video",
                           "--state", "started", "--key", "0"),
                     PUB_USAGE);
    ck_assert_int_eq(BUILD(&out, err, "task", "--id", "T", "--type", "video",
                           "--state", "progress", "--percent", "101"),
                     PUB_USAGE);
    ck_assert_int_eq(BUILD(&out, err, "task", "--id", "T", "--type", "video",
                           "--state", "progress", "--percent", "nan"),
                     PUB_USAGE);
    ck_assert_int_eq(BUILD(&out, err, "task", "--id", "T", "--type", "video",
                           "--state", "progress", "--percent", ""),
                     PUB_USAGE);
    ck_assert_int_eq(BUILD(&out, err, "task", "--id", "T", "--type", "video",
                           "--state", "started", "--retryable=yes"),
                     PUB_USAGE);
    ck_assert_int_eq(BUILD(&out, err, "task", "--id", "T", "--type", "video",
                           "--state", "completed", "--result", "[1,"),
                     PUB_FAIL);
    ck_assert_uint_eq(out.len, 0);
    cdt_buf_release(&out);
}
END_TEST

START_TEST(test_pub_spend_fields)
{
    cdt_buf_t out = CDT_BUF_INIT;
    char err[256];
    ck_assert_int_eq(BUILD(&out, err, "spend", "--key", "7", "--amount",
                           "0.125", "--total", "80", "--budget", "100",
                           "--provider", "openai", "--model", "gpt",
                           "--request-id", "r-1"),
                     PUB_OK);
    decoded_t d;
    s_decode_ok(&out, &d);
    ck_assert_int_eq(d.msg.type, CDT_IN_SPEND);
    ck_assert_int_eq(d.msg.key_id, 7);
    ck_assert_double_eq(d.msg.amount, 0.125);
    ck_assert_double_eq(d.msg.total_spend, 80);
    ck_assert(d.msg.has_budget);
    ck_assert_double_eq(d.msg.budget, 100);
    ck_assert(s_str_eq(d.msg.provider, "openai"));
    ck_assert(s_str_eq(d.msg.model, "gpt"));
    ck_assert(s_str_eq(d.msg.request_id, "r-1"));
    msgpack_unpacked_destroy(&d.u);
    ck_assert_int_eq(BUILD(&out, err, "spend", "--key", "7", "--amount", "1"),
                     PUB_USAGE);
    ck_assert_str_eq(err, "spend: missing --total");
    cdt_buf_release(&out);
}
END_TEST

START_TEST(test_pub_provider_health_fields)
{
    cdt_buf_t out = CDT_BUF_INIT;
    char err[256];
    ck_assert_int_eq(BUILD(&out, err, "provider-health", "--provider",
                           "anthropic", "--status", "degraded", "--response-ms",
                           "1500", "--details", "slow"),
                     PUB_OK);
    decoded_t d;
    s_decode_ok(&out, &d);
    ck_assert_int_eq(d.msg.type, CDT_IN_PROVIDER_HEALTH);
    ck_assert(s_str_eq(d.msg.provider, "anthropic"));
    ck_assert_int_eq(d.msg.health, CDT_HEALTH_DEGRADED);
    ck_assert(d.msg.has_response_ms);
    ck_assert_double_eq(d.msg.response_ms, 1500);
    ck_assert(s_str_eq(d.msg.details, "slow"));
    msgpack_unpacked_destroy(&d.u);
    ck_assert_int_eq(BUILD(&out, err, "provider-health", "--provider", "p",
                           "--status", "down"),
                     PUB_USAGE);
    cdt_buf_release(&out);
}
END_TEST

START_TEST(test_pub_webhook_passes_error_through)
{
    cdt_buf_t out = CDT_BUF_INIT;
    char err[256];
    ck_assert_int_eq(BUILD(&out, err, "webhook", "--key", "2", "--url",
                           "https://example.com/h", "--status", "failed",
                           "--status-code", "503", "--attempt", "3", "--error",
                           "upstream down"),
                     PUB_OK);
    decoded_t d;
    s_decode_ok(&out, &d);
    ck_assert_int_eq(d.msg.type, CDT_IN_WEBHOOK);
    ck_assert_int_eq(d.msg.key_id, 2);
    ck_assert(s_str_eq(d.msg.url, "https://example.com/h"));
    ck_assert_int_eq(d.msg.webhook, CDT_WEBHOOK_FAILED);
    ck_assert(d.msg.has_status_code);
    ck_assert_int_eq(d.msg.status_code, 503);
    ck_assert_int_eq(d.msg.attempt, 3);
    const msgpack_object *e = s_field(&d, "error");
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(s_json_of(e), "\"upstream down\"");
    msgpack_unpacked_destroy(&d.u);
    cdt_buf_release(&out);
}
END_TEST

/* ---- key --------------------------------------------------------------- */

START_TEST(test_pub_key_secret_is_hashed_and_never_sent)
{
    const char *secret = "condt_verysecret_000000000000000000000099";
    char want[CDT_SHA256_HEX_LEN + 1];
    cdt_sha256_hex(secret, strlen(secret), want);
    cdt_buf_t out = CDT_BUF_INIT;
    char err[256];
    ck_assert_int_eq(BUILD(&out, err, "key", "add", "--id", "9", "--name",
                           "tenant-9", "--secret", (char *)secret, "--admin",
                           "--expires", "2030-01-01"),
                     PUB_OK);
    for (size_t i = 0; i + strlen(secret) <= out.len; i++)
        ck_assert(memcmp(out.data + i, secret, strlen(secret)) != 0);
    decoded_t d;
    s_decode_ok(&out, &d);
    ck_assert_int_eq(d.msg.type, CDT_IN_KEY);
    ck_assert_int_eq(d.msg.op, CDT_KEY_ADD);
    ck_assert_int_eq(d.msg.key_id, 9);
    ck_assert(s_str_eq(d.msg.name, "tenant-9"));
    ck_assert(s_str_eq(d.msg.key_hash, want));
    ck_assert(d.msg.has_admin && d.msg.admin);
    ck_assert(d.msg.has_expires);
    ck_assert_int_eq(d.msg.expires_ms, 1893456000000LL);
    msgpack_unpacked_destroy(&d.u);
    cdt_buf_release(&out);
}
END_TEST

START_TEST(test_pub_key_hash_and_ops)
{
    cdt_buf_t out = CDT_BUF_INIT;
    char err[256] = "";
    const char *upper =
        "AC8B55882F7741D9D126642A3A0299C306CC95366BE7631D93DACEFAB374680F";
    ck_assert_int_eq(BUILD(&out, err, "key", "update", "--id", "1", "--hash",
                           (char *)upper, "--no-admin"),
                     PUB_OK);
    decoded_t d;
    s_decode_ok(&out, &d);
    ck_assert_int_eq(d.msg.op, CDT_KEY_UPDATE);
    ck_assert(s_str_eq(d.msg.key_hash, "ac8b55882f7741d9d126642a3a0299c306cc9"
                                       "5366be7631d93dacefab374680f"));
    ck_assert(d.msg.has_admin && !d.msg.admin);
    msgpack_unpacked_destroy(&d.u);
    cdt_buf_reset(&out);

    ck_assert_int_eq(BUILD(&out, err, "key", "disable", "--id", "2"), PUB_OK);
    s_decode_ok(&out, &d);
    ck_assert_int_eq(d.msg.op, CDT_KEY_DISABLE);
    ck_assert(!d.msg.has_admin);
    ck_assert_int_eq(d.msg.key_hash.len, 0);
    msgpack_unpacked_destroy(&d.u);
    cdt_buf_reset(&out);

    ck_assert_int_eq(BUILD(&out, err, "key", "add", "--id", "4"), PUB_USAGE);
    ck_assert_str_eq(err, "key: add needs --hash or --secret");
    ck_assert_int_eq(
        BUILD(&out, err, "key", "add", "--id", "4", "--hash", "abc"),
        PUB_USAGE);
    ck_assert_int_eq(BUILD(&out, err, "key", "add", "--id", "4", "--hash",
                           (char *)upper, "--secret", "s"),
                     PUB_USAGE);
    ck_assert_int_eq(BUILD(&out, err, "key", "rename", "--id", "4"), PUB_USAGE);
    ck_assert_int_eq(BUILD(&out, err, "key", "--id", "4"), PUB_USAGE);
    ck_assert_int_eq(
        BUILD(&out, err, "key", "delete", "--id", "4", "--expires", "tomorrow"),
        PUB_USAGE);
    ck_assert_int_eq(BUILD(&out, err, "key", "--help"), PUB_HELP);
    ck_assert_uint_eq(out.len, 0);
    cdt_buf_release(&out);
}
END_TEST

START_TEST(test_pub_stats_map)
{
    cdt_buf_t out = CDT_BUF_INIT;
    char err[256];
    ck_assert_int_eq(BUILD(&out, err, "stats"), PUB_OK);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    ck_assert_int_eq(
        msgpack_unpack_next(&u, (const char *)out.data, out.len, &off),
        MSGPACK_UNPACK_SUCCESS);
    ck_assert_uint_eq(off, out.len);
    ck_assert_str_eq(s_json_of(&u.data), "{\"type\":\"stats\"}");
    msgpack_unpacked_destroy(&u);
    ck_assert_int_eq(BUILD(&out, err, "stats", "--x"), PUB_USAGE);
    cdt_buf_release(&out);
}
END_TEST

/* ---- global options, endpoint, NDJSON ----------------------------------- */

/* Runs pub_parse_global over the program name and a NULL-terminated list
 * of words. */
static int
s_global(pub_global_t *g, char *err, size_t errlen, ...)
{
    static char prog[] = "conduit-pub";
    char *argv[16] = {prog};
    int argc = 1;
    va_list ap;
    va_start(ap, errlen);
    for (char *w; (w = va_arg(ap, char *)) != NULL;)
        argv[argc++] = w;
    va_end(ap);
    return pub_parse_global(argc, argv, g, err, errlen);
}

#define GLOBAL(g, err, ...) \
    s_global((g), (err), sizeof(err), __VA_ARGS__, (char *)NULL)
#define GLOBAL0(g, err) s_global((g), (err), sizeof(err), (char *)NULL)

START_TEST(test_pub_global_options)
{
    pub_global_t g;
    char err[256];
    ck_assert_int_eq(GLOBAL(&g, err, "stats"), PUB_OK);
    ck_assert_int_eq(g.timeout_ms, 5000);
    ck_assert_ptr_null(g.broker);
    ck_assert_ptr_null(g.config);
    ck_assert_int_eq(g.cmd_index, 1);

    ck_assert_int_eq(GLOBAL(&g, err, "--broker", "tcp://h:1", "--timeout=500",
                            "-c", "x.yaml", "event", "--hub"),
                     PUB_OK);
    ck_assert_str_eq(g.broker, "tcp://h:1");
    ck_assert_str_eq(g.config, "x.yaml");
    ck_assert_int_eq(g.timeout_ms, 500);
    ck_assert_int_eq(g.cmd_index, 6);

    ck_assert_int_eq(GLOBAL(&g, err, "--timeout", "soon", "stats"), PUB_USAGE);
    ck_assert_int_eq(GLOBAL(&g, err, "--timeout", "0", "stats"), PUB_USAGE);
    ck_assert_int_eq(GLOBAL(&g, err, "publish"), PUB_USAGE);
    ck_assert_str_eq(err, "unknown command 'publish'");
    ck_assert_int_eq(GLOBAL0(&g, err), PUB_USAGE);
    ck_assert_int_eq(GLOBAL(&g, err, "--verbose", "stats"), PUB_USAGE);
    ck_assert_int_eq(GLOBAL(&g, err, "--broker"), PUB_USAGE);
    ck_assert_int_eq(GLOBAL(&g, err, "--help"), PUB_HELP);
}
END_TEST

START_TEST(test_pub_endpoint_precedence)
{
    char buf[128];
    pub_resolve_endpoint("tcp://flag:1", "tcp://cfg:2", "tcp://env:3", buf,
                         sizeof buf);
    ck_assert_str_eq(buf, "tcp://flag:1");
    pub_resolve_endpoint(NULL, "tcp://cfg:2", "tcp://env:3", buf, sizeof buf);
    ck_assert_str_eq(buf, "tcp://cfg:2");
    pub_resolve_endpoint(NULL, NULL, "tcp://env:3", buf, sizeof buf);
    ck_assert_str_eq(buf, "tcp://env:3");
    pub_resolve_endpoint("", "", "", buf, sizeof buf);
    ck_assert_str_eq(buf, "tcp://127.0.0.1:5571");
    pub_resolve_endpoint(NULL, "tcp://*:5571", NULL, buf, sizeof buf);
    ck_assert_str_eq(buf, "tcp://127.0.0.1:5571");
    pub_resolve_endpoint(NULL, "tcp://0.0.0.0:7", NULL, buf, sizeof buf);
    ck_assert_str_eq(buf, "tcp://127.0.0.1:7");
}
END_TEST

START_TEST(test_pub_ndjson_lines)
{
    cdt_buf_t out = CDT_BUF_INIT;
    char err[256];
    ck_assert_int_eq(pub_ndjson_line("", 0, &out, err, sizeof err), 1);
    ck_assert_int_eq(pub_ndjson_line(" \t\r", 3, &out, err, sizeof err), 1);
    ck_assert_uint_eq(out.len, 0);

    const char *line = "{\"type\":\"event\",\"hub\":\"TaskHub\",\"group\":"
                       "\"vkey-1\",\"target\":\"TaskProgress\",\"data\":{"
                       "\"percent\":5}}\r";
    ck_assert_int_eq(pub_ndjson_line(line, strlen(line), &out, err, sizeof err),
                     0);
    decoded_t d;
    s_decode_ok(&out, &d);
    ck_assert(s_str_eq(d.msg.target, "TaskProgress"));
    msgpack_unpacked_destroy(&d.u);

    size_t before = out.len;
    ck_assert_int_eq(pub_ndjson_line("[1,2]", 5, &out, err, sizeof err), -1);
    ck_assert_str_eq(err, "not a JSON object");
    ck_assert_int_eq(pub_ndjson_line("{\"a\":", 5, &out, err, sizeof err), -1);
    ck_assert_uint_eq(out.len, before);

    char w_ndjson[] = "ndjson", w_file[] = "file.txt", w_help[] = "--help";
    char *ok[] = {w_ndjson};
    char *bad[] = {w_ndjson, w_file};
    char *help[] = {w_ndjson, w_help};
    ck_assert_int_eq(pub_ndjson_args(1, ok, err, sizeof err), PUB_OK);
    ck_assert_int_eq(pub_ndjson_args(2, bad, err, sizeof err), PUB_USAGE);
    ck_assert_int_eq(pub_ndjson_args(2, help, err, sizeof err), PUB_HELP);
    cdt_buf_release(&out);
}
END_TEST

START_TEST(test_pub_help_covers_every_flag)
{
    ck_assert_ptr_nonnull(strstr(pub_help(NULL), "provider-health"));
    ck_assert_ptr_nonnull(strstr(pub_help(NULL), "--timeout"));
    ck_assert_ptr_nonnull(strstr(pub_help("event"), "--args JSON-ARRAY"));
    ck_assert_ptr_nonnull(strstr(pub_help("task"), "--retryable"));
    ck_assert_ptr_nonnull(strstr(pub_help("spend"), "--request-id"));
    ck_assert_ptr_nonnull(strstr(pub_help("provider-health"), "--response-ms"));
    ck_assert_ptr_nonnull(strstr(pub_help("webhook"), "--status-code"));
    ck_assert_ptr_nonnull(strstr(pub_help("key"), "--secret"));
    ck_assert_ptr_nonnull(strstr(pub_help("ndjson"), "line N"));
    ck_assert_ptr_eq(pub_help("nope"), pub_help(NULL));
    ck_assert_ptr_nonnull(strstr(pub_help(NULL), "--curve-cert FILE"));
    ck_assert_ptr_nonnull(strstr(pub_help(NULL), "--curve-server-public"));
    ck_assert_ptr_nonnull(strstr(pub_help(NULL), "keygen"));
    ck_assert_ptr_nonnull(strstr(pub_help("keygen"), "--out FILE"));
    ck_assert_ptr_nonnull(strstr(pub_help("keygen"), "FILE_secret"));
}
END_TEST

START_TEST(test_pub_curve_options)
{
    pub_global_t g;
    char err[256];
    ck_assert_int_eq(GLOBAL(&g, err, "--curve-cert", "me", "stats"), PUB_OK);
    ck_assert_str_eq(g.curve_cert, "me");
    ck_assert_ptr_null(g.curve_server_public);
    ck_assert_int_eq(GLOBAL(&g, err, "--curve-server-public=srv",
                            "--curve-cert=me", "event"),
                     PUB_OK);
    ck_assert_str_eq(g.curve_cert, "me");
    ck_assert_str_eq(g.curve_server_public, "srv");
    ck_assert_int_eq(g.cmd_index, 3);
    ck_assert_int_eq(GLOBAL(&g, err, "--curve-server-public", "srv", "stats"),
                     PUB_USAGE);
    ck_assert_str_eq(err, "--curve-server-public needs --curve-cert");
    ck_assert_int_eq(GLOBAL(&g, err, "--curve-cert"), PUB_USAGE);
    ck_assert_int_eq(GLOBAL(&g, err, "--curve-cert=", "stats"), PUB_USAGE);
    /* after the command they are misplaced, not unknown */
    cdt_buf_t out = CDT_BUF_INIT;
    ck_assert_int_eq(BUILD(&out, err, "stats", "--curve-cert", "me"),
                     PUB_USAGE);
    ck_assert_ptr_nonnull(strstr(err, "goes before the command"));
    cdt_buf_release(&out);
}
END_TEST

START_TEST(test_pub_keygen_args)
{
    char w_keygen[] = "keygen", w_out[] = "--out", w_f[] = "certs/me",
         w_name[] = "--name=me", w_x[] = "--x", w_help[] = "-h",
         w_outeq[] = "--out=o";
    const char *out, *name;
    char err[256];
    char *a1[] = {w_keygen, w_out, w_f, w_name};
    ck_assert_int_eq(pub_keygen_args(4, a1, &out, &name, err, sizeof err),
                     PUB_OK);
    ck_assert_str_eq(out, "certs/me");
    ck_assert_str_eq(name, "me");
    char *a2[] = {w_keygen, w_outeq};
    ck_assert_int_eq(pub_keygen_args(2, a2, &out, &name, err, sizeof err),
                     PUB_OK);
    ck_assert_str_eq(out, "o");
    ck_assert_ptr_null(name);
    char *a3[] = {w_keygen};
    ck_assert_int_eq(pub_keygen_args(1, a3, &out, &name, err, sizeof err),
                     PUB_USAGE);
    ck_assert_str_eq(err, "keygen: missing --out");
    char *a4[] = {w_keygen, w_x};
    ck_assert_int_eq(pub_keygen_args(2, a4, &out, &name, err, sizeof err),
                     PUB_USAGE);
    char *a5[] = {w_keygen, w_out};
    ck_assert_int_eq(pub_keygen_args(2, a5, &out, &name, err, sizeof err),
                     PUB_USAGE);
    char *a6[] = {w_keygen, w_help};
    ck_assert_int_eq(pub_keygen_args(2, a6, &out, &name, err, sizeof err),
                     PUB_HELP);
    /* keygen makes no ingress map */
    ck_assert_int_eq(pub_cmd_parse("keygen"), PUB_CMD_KEYGEN);
    cdt_buf_t buf = CDT_BUF_INIT;
    ck_assert_int_eq(BUILD(&buf, err, "keygen", "--out", "x"), PUB_USAGE);
    ck_assert_uint_eq(buf.len, 0);
}
END_TEST

Suite *
pub_suite(void)
{
    Suite *s = suite_create("pub");
    TCase *tc = tcase_create("event");
    tcase_add_test(tc, test_pub_event_one_group_carries_data_intact);
    tcase_add_test(tc, test_pub_event_several_groups_and_args);
    tcase_add_test(tc, test_pub_event_malformed_data_fails_locally);
    tcase_add_test(tc, test_pub_event_usage_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("domain");
    tcase_add_test(tc, test_pub_task_every_field);
    tcase_add_test(tc, test_pub_task_minimal_has_no_optional_fields);
    tcase_add_test(tc, test_pub_task_rejects_bad_words_and_numbers);
    tcase_add_test(tc, test_pub_spend_fields);
    tcase_add_test(tc, test_pub_provider_health_fields);
    tcase_add_test(tc, test_pub_webhook_passes_error_through);
    suite_add_tcase(s, tc);
    tc = tcase_create("key");
    tcase_add_test(tc, test_pub_key_secret_is_hashed_and_never_sent);
    tcase_add_test(tc, test_pub_key_hash_and_ops);
    tcase_add_test(tc, test_pub_stats_map);
    suite_add_tcase(s, tc);
    tc = tcase_create("program");
    tcase_add_test(tc, test_pub_global_options);
    tcase_add_test(tc, test_pub_endpoint_precedence);
    tcase_add_test(tc, test_pub_ndjson_lines);
    tcase_add_test(tc, test_pub_help_covers_every_flag);
    tcase_add_test(tc, test_pub_curve_options);
    tcase_add_test(tc, test_pub_keygen_args);
    suite_add_tcase(s, tc);
    return s;
}
