/*
 * test_cdt_ingress - decoding, validation and encoding of ingress maps.
 *
 * Most inputs are written as JSON and translated with cdt_json (which has
 * its own tests), then parsed from an exact-size heap copy so that ASan
 * sees any over-read. Inputs JSON cannot express (invalid UTF-8, bin,
 * non-string keys) are packed by hand.
 *
 * SPDX-License-Identifier: MIT
 */
#include "proto/cdt_ingress.h"

#include "common/cdt_json.h"
#include "common/cdt_mem.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Suite *cdt_ingress_suite(void);

/* ---- helpers ------------------------------------------------------------ */

typedef struct {
    uint8_t *wire; /* exact size */
    size_t len;
    msgpack_unpacked up;
    cdt_ingress_t msg;
    char err[256];
    int rc;
} s_in_t;

static void
s_parse_bytes(s_in_t *in, const void *data, size_t len)
{
    in->wire = cdt_xmalloc(len ? len : 1);
    if (len)
        memcpy(in->wire, data, len);
    in->len = len;
    in->err[0] = '\0';
    in->rc = cdt_ingress_parse(in->wire, len, &in->up, &in->msg, in->err,
                               sizeof in->err);
}

static void
s_parse_json(s_in_t *in, const char *json)
{
    cdt_buf_t b = CDT_BUF_INIT;
    char err[128];
    ck_assert_msg(cdt_json_to_msgpack(json, strlen(json), &b,
                                      CDT_JSON_MAX_DEPTH, err, sizeof err) == 0,
                  "bad test JSON %s: %s", json, err);
    s_parse_bytes(in, b.data, b.len);
    cdt_buf_release(&b);
}

static void
s_free(s_in_t *in)
{
    msgpack_unpacked_destroy(&in->up);
    free(in->wire);
}

/* Asserts that json is accepted. */
#define ck_in_ok(in, json)                                                  \
    do {                                                                    \
        s_parse_json((in), (json));                                         \
        ck_assert_msg((in)->rc == 0, "%s rejected: %s", (json), (in)->err); \
    } while (0)

/* Asserts that json is rejected with exactly the error text want. */
static void
s_bad(const char *json, const char *want)
{
    s_in_t in;
    s_parse_json(&in, json);
    ck_assert_msg(in.rc == -1, "%s accepted", json);
    ck_assert_msg(strcmp(in.err, want) == 0, "%s: got '%s', want '%s'", json,
                  in.err, want);
    s_free(&in);
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

static bool
s_str_eq(cdt_str_t a, cdt_str_t b)
{
    if ((a.ptr == NULL) != (b.ptr == NULL))
        return false;
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool
s_obj_eq(const msgpack_object *a, const msgpack_object *b)
{
    if (!a || !b)
        return a == b;
    return msgpack_object_equal(*a, *b);
}

/* Field by field equality of two decoded messages (map aside). */
static void
s_ck_same(const cdt_ingress_t *a, const cdt_ingress_t *b)
{
    ck_assert_int_eq(a->type, b->type);
    ck_assert(a->id.len == b->id.len &&
              (a->id.len == 0 || memcmp(a->id.ptr, b->id.ptr, a->id.len) == 0));
    ck_assert_int_eq(a->ts, b->ts);
    ck_assert(s_str_eq(a->hub, b->hub));
    ck_assert_uint_eq(a->groups.n, b->groups.n);
    for (size_t i = 0; i < a->groups.n; i++)
        ck_assert(
            s_str_eq(cdt_strv_at(a->groups, i), cdt_strv_at(b->groups, i)));
    ck_assert(s_str_eq(a->target, b->target));
    ck_assert(s_obj_eq(a->arguments, b->arguments));
    ck_assert(s_obj_eq(a->data, b->data));
    ck_assert_int_eq(a->has_key_id, b->has_key_id);
    ck_assert_int_eq(a->key_id, b->key_id);
    ck_assert(s_str_eq(a->task_id, b->task_id));
    ck_assert_int_eq(a->task_type, b->task_type);
    ck_assert_int_eq(a->state, b->state);
    ck_assert_int_eq(a->has_percent, b->has_percent);
    ck_assert(a->percent == b->percent);
    ck_assert(s_str_eq(a->message, b->message));
    ck_assert(s_obj_eq(a->result, b->result));
    ck_assert(s_str_eq(a->error, b->error));
    ck_assert_int_eq(a->has_retryable, b->has_retryable);
    ck_assert_int_eq(a->retryable, b->retryable);
    ck_assert(a->amount == b->amount);
    ck_assert(a->total_spend == b->total_spend);
    ck_assert_int_eq(a->has_budget, b->has_budget);
    ck_assert(a->budget == b->budget);
    ck_assert(s_str_eq(a->provider, b->provider));
    ck_assert(s_str_eq(a->model, b->model));
    ck_assert(s_str_eq(a->request_id, b->request_id));
    ck_assert_int_eq(a->health, b->health);
    ck_assert_int_eq(a->has_response_ms, b->has_response_ms);
    ck_assert(a->response_ms == b->response_ms);
    ck_assert(s_str_eq(a->details, b->details));
    ck_assert(s_str_eq(a->url, b->url));
    ck_assert_int_eq(a->webhook, b->webhook);
    ck_assert_int_eq(a->has_status_code, b->has_status_code);
    ck_assert_int_eq(a->status_code, b->status_code);
    ck_assert_int_eq(a->has_attempt, b->has_attempt);
    ck_assert_int_eq(a->attempt, b->attempt);
    ck_assert_int_eq(a->op, b->op);
    ck_assert(s_str_eq(a->name, b->name));
    ck_assert(s_str_eq(a->key_hash, b->key_hash));
    ck_assert_int_eq(a->has_admin, b->has_admin);
    ck_assert_int_eq(a->admin, b->admin);
    ck_assert_int_eq(a->has_enabled, b->has_enabled);
    ck_assert_int_eq(a->enabled, b->enabled);
    ck_assert_int_eq(a->has_expires, b->has_expires);
    ck_assert_int_eq(a->expires_ms, b->expires_ms);
}

/* Encodes in->msg and parses it back: the two must be equal. */
static void
s_ck_round_trip(const s_in_t *in)
{
    cdt_buf_t b = CDT_BUF_INIT;
    cdt_ingress_encode(&in->msg, &b);
    s_in_t back;
    s_parse_bytes(&back, b.data, b.len);
    ck_assert_msg(back.rc == 0, "re-encoded message rejected: %s", back.err);
    s_ck_same(&in->msg, &back.msg);
    s_free(&back);
    cdt_buf_release(&b);
}

/* The fast path for events (cdt_ingress_decode_event) on an exact-size
 * copy of data agrees with the general path: it accepts only what
 * cdt_ingress_parse accepts as an event, and then yields the same fields,
 * the arguments or data as the bytes cdt_ingress_set_raw found. Returns
 * whether the fast path took it. */
static bool
s_ck_fast(const void *data, size_t len)
{
    s_in_t in;
    s_parse_bytes(&in, data, len);
    uint8_t *copy = cdt_xmalloc(len ? len : 1);
    if (len)
        memcpy(copy, data, len);
    msgpack_object groups[4];
    cdt_ingress_t fast;
    int rc = cdt_ingress_decode_event(copy, len, &fast, groups, 4);
    if (rc == 0) {
        ck_assert_msg(in.rc == 0, "fast path took what parse refuses: %s",
                      in.err);
        ck_assert_int_eq(in.msg.type, CDT_IN_EVENT);
        ck_assert_int_eq(fast.type, CDT_IN_EVENT);
        ck_assert(s_str_eq(fast.id, in.msg.id) ||
                  (fast.id.len == 0 && in.msg.id.len == 0));
        ck_assert_int_eq(fast.ts, in.msg.ts);
        ck_assert(s_str_eq(fast.hub, in.msg.hub));
        ck_assert(s_str_eq(fast.target, in.msg.target));
        ck_assert_uint_eq(fast.groups.n, in.msg.groups.n);
        for (size_t i = 0; i < fast.groups.n; i++)
            ck_assert(s_str_eq(cdt_strv_at(fast.groups, i),
                               cdt_strv_at(in.msg.groups, i)));
        ck_assert_ptr_null(fast.map);
        ck_assert_ptr_null(fast.arguments);
        ck_assert_ptr_null(fast.data);
        ck_assert_int_eq(fast.arguments_mp.ptr != NULL,
                         in.msg.arguments != NULL);
        ck_assert_int_eq(fast.data_mp.ptr != NULL, in.msg.data != NULL);
        /* the same bytes, at the same place in the frame */
        ck_assert_uint_eq(fast.arguments_mp.len, in.msg.arguments_mp.len);
        ck_assert_uint_eq(fast.data_mp.len, in.msg.data_mp.len);
        if (fast.arguments_mp.ptr)
            ck_assert_int_eq(fast.arguments_mp.ptr - (const char *)copy,
                             in.msg.arguments_mp.ptr - (const char *)in.wire);
        if (fast.data_mp.ptr)
            ck_assert_int_eq(fast.data_mp.ptr - (const char *)copy,
                             in.msg.data_mp.ptr - (const char *)in.wire);
        ck_assert_ptr_eq(fast.raw.ptr, (const char *)copy);
        ck_assert_uint_eq(fast.raw.len, len);
    }
    s_free(&in);
    free(copy);
    return rc == 0;
}

static bool
s_ck_fast_json(const char *json)
{
    cdt_buf_t b = CDT_BUF_INIT;
    char err[128];
    ck_assert_msg(cdt_json_to_msgpack(json, strlen(json), &b,
                                      CDT_JSON_MAX_DEPTH, err, sizeof err) == 0,
                  "bad test JSON %s: %s", json, err);
    bool took = s_ck_fast(b.data, b.len);
    cdt_buf_release(&b);
    return took;
}

static int s_ack(const void *data, size_t len, bool *ok, char *err,
                 size_t errlen);

#define HASH "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* One full message of every type, used by several tests. */
static const char *const s_full[] = {
    "{\"type\":\"event\",\"id\":\"c-1\",\"ts\":1738324800123,\"hub\":"
    "\"SystemNotificationHub\",\"groups\":[\"system-notifications\","
    "\"admin\"],\"target\":\"SystemAnnouncement\",\"arguments\":[{\"m\":"
    "\"hi\"},2]}",
    "{\"type\":\"event\",\"hub\":\"/hubs/tasks\",\"group\":\"task-1\","
    "\"target\":\"TaskProgress\",\"data\":{\"p\":[1,2,{\"q\":null}]}}",
    "{\"type\":\"task\",\"id\":\"x\",\"taskId\":\"t-42\",\"taskType\":"
    "\"video\",\"virtualKeyId\":7,\"state\":\"progress\",\"percent\":42.5,"
    "\"message\":\"rendering\",\"result\":{\"url\":\"u\"},\"error\":\"\","
    "\"isRetryable\":true}",
    "{\"type\":\"task\",\"taskId\":\"t-43\",\"state\":\"completed\"}",
    "{\"type\":\"spend\",\"virtualKeyId\":\"12\",\"amount\":0.25,"
    "\"totalSpend\":10,\"budget\":100,\"provider\":\"openai\",\"model\":"
    "\"gpt\",\"requestId\":\"r-1\"}",
    "{\"type\":\"spend\",\"virtualKeyId\":12,\"amount\":-1,\"totalSpend\":0}",
    "{\"type\":\"provider_health\",\"provider\":\"openai\",\"status\":"
    "\"degraded\",\"responseTimeMs\":1234,\"details\":\"slow\"}",
    "{\"type\":\"webhook\",\"virtualKeyId\":3,\"url\":\"https://x/y\","
    "\"status\":\"retry_scheduled\",\"statusCode\":503,\"attempt\":2}",
    "{\"type\":\"key\",\"op\":\"add\",\"virtualKeyId\":9,\"name\":\"ci\","
    "\"keyHash\":\"" HASH "\",\"admin\":false,\"enabled\":true,"
    "\"expiresAt\":\"2030-01-01T00:00:00.500Z\"}",
    "{\"type\":\"key\",\"op\":\"delete\",\"virtualKeyId\":9}",
};
#define S_NFULL (sizeof s_full / sizeof s_full[0])

/* ---- each type ---------------------------------------------------------- */

START_TEST(test_ingress_event_with_groups_and_arguments)
{
    s_in_t in;
    ck_in_ok(&in, s_full[0]);
    ck_assert_int_eq(in.msg.type, CDT_IN_EVENT);
    ck_str(in.msg.id, "c-1");
    ck_assert_int_eq(in.msg.ts, 1738324800123LL);
    ck_str(in.msg.hub, "SystemNotificationHub");
    ck_assert_uint_eq(in.msg.groups.n, 2);
    ck_str(cdt_strv_at(in.msg.groups, 0), "system-notifications");
    ck_str(cdt_strv_at(in.msg.groups, 1), "admin");
    ck_str(in.msg.target, "SystemAnnouncement");
    ck_assert_ptr_nonnull(in.msg.arguments);
    ck_assert_int_eq(in.msg.arguments->type, MSGPACK_OBJECT_ARRAY);
    ck_assert_uint_eq(in.msg.arguments->via.array.size, 2);
    ck_assert_ptr_null(in.msg.data);
    ck_assert_ptr_eq(in.msg.map, &in.up.data);
    s_free(&in);
}
END_TEST

START_TEST(test_ingress_event_with_group_and_data)
{
    s_in_t in;
    ck_in_ok(&in, s_full[1]);
    ck_assert_uint_eq(in.msg.groups.n, 1);
    ck_str(cdt_strv_at(in.msg.groups, 0), "task-1");
    ck_assert_ptr_null(in.msg.arguments);
    ck_assert_ptr_nonnull(in.msg.data);
    ck_assert_int_eq(in.msg.data->type, MSGPACK_OBJECT_MAP);
    ck_assert_uint_eq(in.msg.id.len, 0);
    ck_assert_int_eq(in.msg.ts, 0);
    s_free(&in);
    /* data may be any value, including null. */
    ck_in_ok(&in, "{\"type\":\"event\",\"hub\":\"h\",\"group\":\"g\","
                  "\"target\":\"t\",\"data\":null}");
    ck_assert_ptr_nonnull(in.msg.data);
    ck_assert_int_eq(in.msg.data->type, MSGPACK_OBJECT_NIL);
    s_free(&in);
}
END_TEST

START_TEST(test_ingress_event_errors)
{
    s_bad("{\"type\":\"event\",\"group\":\"g\",\"target\":\"t\","
          "\"arguments\":[]}",
          "missing field 'hub'");
    s_bad("{\"type\":\"event\",\"hub\":\"h\",\"target\":\"t\","
          "\"arguments\":[]}",
          "missing field 'group'");
    s_bad("{\"type\":\"event\",\"hub\":\"h\",\"group\":\"g\","
          "\"arguments\":[]}",
          "missing field 'target'");
    s_bad("{\"type\":\"event\",\"hub\":\"h\",\"group\":\"g\",\"target\":\"t\"}",
          "missing field 'arguments'");
    s_bad(
        "{\"type\":\"event\",\"hub\":\"h\",\"group\":\"g\",\"groups\":[\"a\"],"
        "\"target\":\"t\",\"arguments\":[]}",
        "fields 'group' and 'groups' are exclusive");
    s_bad("{\"type\":\"event\",\"hub\":\"h\",\"group\":\"g\",\"target\":\"t\","
          "\"arguments\":[],\"data\":1}",
          "fields 'arguments' and 'data' are exclusive");
    s_bad("{\"type\":\"event\",\"hub\":\"h\",\"group\":\"g\",\"target\":\"t\","
          "\"arguments\":{}}",
          "field 'arguments' must be an array");
    s_bad("{\"type\":\"event\",\"hub\":\"h\",\"groups\":[],\"target\":\"t\","
          "\"arguments\":[]}",
          "field 'groups' must not be empty");
    s_bad("{\"type\":\"event\",\"hub\":\"h\",\"groups\":\"g\",\"target\":\"t\","
          "\"arguments\":[]}",
          "field 'groups' must be an array of strings");
    s_bad("{\"type\":\"event\",\"hub\":\"h\",\"groups\":[\"a\",1],"
          "\"target\":\"t\",\"arguments\":[]}",
          "field 'groups' must be an array of strings");
    s_bad("{\"type\":\"event\",\"hub\":\"h\",\"groups\":[\"a\",\"\"],"
          "\"target\":\"t\",\"arguments\":[]}",
          "field 'groups' holds an empty name");
    s_bad("{\"type\":\"event\",\"hub\":\"h\",\"group\":7,\"target\":\"t\","
          "\"arguments\":[]}",
          "field 'group' must be a string");
    s_bad("{\"type\":\"event\",\"hub\":\"h\",\"group\":\"\",\"target\":\"t\","
          "\"arguments\":[]}",
          "field 'group' must not be empty");
    s_bad("{\"type\":\"event\",\"hub\":\"\",\"group\":\"g\",\"target\":\"t\","
          "\"arguments\":[]}",
          "field 'hub' must not be empty");
    s_bad("{\"type\":\"event\",\"hub\":\"h\",\"group\":\"g\",\"target\":\"\","
          "\"arguments\":[]}",
          "field 'target' must not be empty");
    s_bad("{\"type\":\"event\",\"hub\":[\"h\"],\"group\":\"g\",\"target\":"
          "\"t\",\"arguments\":[]}",
          "field 'hub' must be a string");
}
END_TEST

START_TEST(test_ingress_task)
{
    s_in_t in;
    ck_in_ok(&in, s_full[2]);
    ck_assert_int_eq(in.msg.type, CDT_IN_TASK);
    ck_str(in.msg.task_id, "t-42");
    ck_assert_int_eq(in.msg.task_type, CDT_TASK_VIDEO);
    ck_assert(in.msg.has_key_id);
    ck_assert_int_eq(in.msg.key_id, 7);
    ck_assert_int_eq(in.msg.state, CDT_TASK_PROGRESS);
    ck_assert(in.msg.has_percent);
    ck_assert(in.msg.percent == 42.5);
    ck_str(in.msg.message, "rendering");
    ck_assert_ptr_nonnull(in.msg.result);
    ck_assert_int_eq(in.msg.result->type, MSGPACK_OBJECT_MAP);
    ck_assert_ptr_nonnull(in.msg.error.ptr); /* present, if empty */
    ck_str(in.msg.error, "");
    ck_assert(in.msg.has_retryable);
    ck_assert(in.msg.retryable);
    s_free(&in);

    ck_in_ok(&in, s_full[3]);
    ck_assert_int_eq(in.msg.task_type, 0);
    ck_assert(!in.msg.has_key_id);
    ck_assert(!in.msg.has_percent);
    ck_assert_ptr_null(in.msg.message.ptr);
    ck_assert_ptr_null(in.msg.result);
    ck_assert_ptr_null(in.msg.error.ptr);
    ck_assert(!in.msg.has_retryable);
    s_free(&in);

    /* An int is a number too. */
    ck_in_ok(&in, "{\"type\":\"task\",\"taskId\":\"t\",\"state\":\"progress\","
                  "\"percent\":50}");
    ck_assert(in.msg.percent == 50.0);
    s_free(&in);
}
END_TEST

START_TEST(test_ingress_task_errors)
{
    s_bad("{\"type\":\"task\",\"state\":\"started\"}",
          "missing field 'taskId'");
    s_bad("{\"type\":\"task\",\"taskId\":\"t\"}", "missing field 'state'");
    s_bad("{\"type\":\"task\",\"taskId\":\"t\",\"state\":\"x\"}",
          "unknown state 'x'");
    s_bad("{\"type\":\"task\",\"taskId\":\"t\",\"state\":\"Started\"}",
          "unknown state 'Started'");
    s_bad("{\"type\":\"task\",\"taskId\":\"t\",\"state\":1}",
          "field 'state' must be a string");
    s_bad("{\"type\":\"task\",\"taskId\":\"t\",\"state\":\"started\","
          "\"taskType\":\"audio\"}",
          "unknown taskType 'audio'");
    s_bad("{\"type\":\"task\",\"taskId\":\"t\",\"state\":\"progress\","
          "\"percent\":\"50\"}",
          "field 'percent' must be a number");
    s_bad("{\"type\":\"task\",\"taskId\":\"t\",\"state\":\"progress\","
          "\"percent\":null}",
          "field 'percent' must be a number");
    s_bad("{\"type\":\"task\",\"taskId\":1,\"state\":\"started\"}",
          "field 'taskId' must be a string");
    s_bad("{\"type\":\"task\",\"taskId\":\"\",\"state\":\"started\"}",
          "field 'taskId' must not be empty");
    s_bad("{\"type\":\"task\",\"taskId\":\"t\",\"state\":\"failed\","
          "\"isRetryable\":1}",
          "field 'isRetryable' must be a boolean");
    s_bad("{\"type\":\"task\",\"taskId\":\"t\",\"state\":\"failed\","
          "\"error\":{}}",
          "field 'error' must be a string");
    s_bad("{\"type\":\"task\",\"taskId\":\"t\",\"state\":\"started\","
          "\"message\":false}",
          "field 'message' must be a string");
    s_bad("{\"type\":\"task\",\"taskId\":\"t\",\"state\":\"started\","
          "\"virtualKeyId\":0}",
          "field 'virtualKeyId' must be a positive integer");
}
END_TEST

START_TEST(test_ingress_spend)
{
    s_in_t in;
    ck_in_ok(&in, s_full[4]);
    ck_assert_int_eq(in.msg.type, CDT_IN_SPEND);
    ck_assert(in.msg.has_key_id);
    ck_assert_int_eq(in.msg.key_id, 12);
    ck_assert(in.msg.amount == 0.25);
    ck_assert(in.msg.total_spend == 10.0);
    ck_assert(in.msg.has_budget);
    ck_assert(in.msg.budget == 100.0);
    ck_str(in.msg.provider, "openai");
    ck_str(in.msg.model, "gpt");
    ck_str(in.msg.request_id, "r-1");
    s_free(&in);
    ck_in_ok(&in, s_full[5]);
    ck_assert(!in.msg.has_budget);
    ck_assert(in.msg.amount == -1.0);
    ck_assert_ptr_null(in.msg.provider.ptr);
    s_free(&in);

    s_bad("{\"type\":\"spend\",\"amount\":1,\"totalSpend\":1}",
          "missing field 'virtualKeyId'");
    s_bad("{\"type\":\"spend\",\"virtualKeyId\":1,\"totalSpend\":1}",
          "missing field 'amount'");
    s_bad("{\"type\":\"spend\",\"virtualKeyId\":1,\"amount\":1}",
          "missing field 'totalSpend'");
    s_bad("{\"type\":\"spend\",\"virtualKeyId\":1,\"amount\":true,"
          "\"totalSpend\":1}",
          "field 'amount' must be a number");
    s_bad("{\"type\":\"spend\",\"virtualKeyId\":1,\"amount\":1,"
          "\"totalSpend\":1,\"budget\":\"10\"}",
          "field 'budget' must be a number");
    s_bad("{\"type\":\"spend\",\"virtualKeyId\":1,\"amount\":1,"
          "\"totalSpend\":1,\"model\":5}",
          "field 'model' must be a string");
}
END_TEST

START_TEST(test_ingress_provider_health)
{
    s_in_t in;
    ck_in_ok(&in, s_full[6]);
    ck_assert_int_eq(in.msg.type, CDT_IN_PROVIDER_HEALTH);
    ck_str(in.msg.provider, "openai");
    ck_assert_int_eq(in.msg.health, CDT_HEALTH_DEGRADED);
    ck_assert(in.msg.has_response_ms);
    ck_assert(in.msg.response_ms == 1234.0);
    ck_str(in.msg.details, "slow");
    s_free(&in);
    s_bad("{\"type\":\"provider_health\",\"status\":\"healthy\"}",
          "missing field 'provider'");
    s_bad("{\"type\":\"provider_health\",\"provider\":\"p\"}",
          "missing field 'status'");
    s_bad("{\"type\":\"provider_health\",\"provider\":\"p\",\"status\":"
          "\"down\"}",
          "unknown status 'down'");
    s_bad("{\"type\":\"provider_health\",\"provider\":\"p\",\"status\":"
          "\"healthy\",\"responseTimeMs\":[]}",
          "field 'responseTimeMs' must be a number");
    s_bad("{\"type\":\"provider_health\",\"provider\":\"\",\"status\":"
          "\"healthy\"}",
          "field 'provider' must not be empty");
}
END_TEST

START_TEST(test_ingress_webhook)
{
    s_in_t in;
    ck_in_ok(&in, s_full[7]);
    ck_assert_int_eq(in.msg.type, CDT_IN_WEBHOOK);
    ck_assert_int_eq(in.msg.key_id, 3);
    ck_str(in.msg.url, "https://x/y");
    ck_assert_int_eq(in.msg.webhook, CDT_WEBHOOK_RETRY_SCHEDULED);
    ck_assert(in.msg.has_status_code);
    ck_assert_int_eq(in.msg.status_code, 503);
    ck_assert(in.msg.has_attempt);
    ck_assert_int_eq(in.msg.attempt, 2);
    s_free(&in);
    /* An integral float is an integer; a fraction is not. */
    ck_in_ok(&in, "{\"type\":\"webhook\",\"virtualKeyId\":3,\"url\":\"u\","
                  "\"status\":\"delivered\",\"statusCode\":200.0}");
    ck_assert_int_eq(in.msg.status_code, 200);
    ck_assert(!in.msg.has_attempt);
    s_free(&in);
    s_bad("{\"type\":\"webhook\",\"virtualKeyId\":3,\"url\":\"u\","
          "\"status\":\"delivered\",\"statusCode\":200.5}",
          "field 'statusCode' must be an integer");
    s_bad("{\"type\":\"webhook\",\"virtualKeyId\":3,\"url\":\"u\","
          "\"status\":\"delivered\",\"attempt\":\"2\"}",
          "field 'attempt' must be an integer");
    s_bad("{\"type\":\"webhook\",\"virtualKeyId\":3,\"url\":\"u\","
          "\"status\":\"circuit_half\"}",
          "unknown status 'circuit_half'");
    s_bad("{\"type\":\"webhook\",\"virtualKeyId\":3,\"status\":\"failed\"}",
          "missing field 'url'");
    s_bad("{\"type\":\"webhook\",\"url\":\"u\",\"status\":\"failed\"}",
          "missing field 'virtualKeyId'");
    s_bad("{\"type\":\"webhook\",\"virtualKeyId\":3,\"url\":\"\","
          "\"status\":\"failed\"}",
          "field 'url' must not be empty");
}
END_TEST

START_TEST(test_ingress_webhook_passes_further_fields)
{
    s_in_t in;
    ck_in_ok(&in, "{\"type\":\"webhook\",\"virtualKeyId\":3,\"url\":\"u\","
                  "\"status\":\"failed\",\"error\":\"timeout\",\"x\":[1],"
                  "\"nextRetryAt\":\"2030-01-01\"}");
    cdt_buf_t b = CDT_BUF_INIT;
    cdt_ingress_encode(&in.msg, &b);
    msgpack_zone z;
    msgpack_zone_init(&z, 1024);
    msgpack_object o;
    size_t off = 0;
    ck_assert_int_eq(msgpack_unpack((const char *)b.data, b.len, &off, &z, &o),
                     MSGPACK_UNPACK_SUCCESS);
    cdt_buf_t j = CDT_BUF_INIT;
    ck_assert_int_eq(cdt_json_from_msgpack(&o, &j), 0);
    ck_assert_str_eq((char *)j.data,
                     "{\"type\":\"webhook\",\"virtualKeyId\":3,\"url\":\"u\","
                     "\"status\":\"failed\",\"error\":\"timeout\",\"x\":[1],"
                     "\"nextRetryAt\":\"2030-01-01\"}");
    cdt_buf_release(&j);
    msgpack_zone_destroy(&z);
    cdt_buf_release(&b);
    s_ck_round_trip(&in);
    s_free(&in);
}
END_TEST

START_TEST(test_ingress_key)
{
    s_in_t in;
    ck_in_ok(&in, s_full[8]);
    ck_assert_int_eq(in.msg.type, CDT_IN_KEY);
    ck_assert_int_eq(in.msg.op, CDT_KEY_ADD);
    ck_assert_int_eq(in.msg.key_id, 9);
    ck_str(in.msg.name, "ci");
    ck_str(in.msg.key_hash, HASH);
    ck_assert(in.msg.has_admin);
    ck_assert(!in.msg.admin);
    ck_assert(in.msg.has_enabled);
    ck_assert(in.msg.enabled);
    ck_assert(in.msg.has_expires);
    ck_assert_int_eq(in.msg.expires_ms, 1893456000500LL);
    s_free(&in);
    ck_in_ok(&in, s_full[9]);
    ck_assert_int_eq(in.msg.op, CDT_KEY_DELETE);
    ck_assert_ptr_null(in.msg.key_hash.ptr);
    ck_assert(!in.msg.has_expires);
    s_free(&in);
    ck_in_ok(&in, "{\"type\":\"key\",\"op\":\"update\",\"virtualKeyId\":9,"
                  "\"expiresAt\":\"2030-01-01\"}");
    ck_assert_int_eq(in.msg.expires_ms, 1893456000000LL);
    s_free(&in);
}
END_TEST

START_TEST(test_ingress_key_errors)
{
    s_bad("{\"type\":\"key\",\"virtualKeyId\":9}", "missing field 'op'");
    s_bad("{\"type\":\"key\",\"op\":\"rotate\",\"virtualKeyId\":9}",
          "unknown op 'rotate'");
    s_bad("{\"type\":\"key\",\"op\":\"disable\"}",
          "missing field 'virtualKeyId'");
    s_bad("{\"type\":\"key\",\"op\":\"add\",\"virtualKeyId\":9}",
          "missing field 'keyHash'");
    s_bad("{\"type\":\"key\",\"op\":\"add\",\"virtualKeyId\":9,\"keyHash\":"
          "\"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
          "\"}",
          "field 'keyHash' must be 64 lowercase hex digits");
    s_bad("{\"type\":\"key\",\"op\":\"add\",\"virtualKeyId\":9,\"keyHash\":"
          "\"abc\"}",
          "field 'keyHash' must be 64 lowercase hex digits");
    s_bad("{\"type\":\"key\",\"op\":\"add\",\"virtualKeyId\":9,\"keyHash\":"
          "\"" HASH "0\"}",
          "field 'keyHash' must be 64 lowercase hex digits");
    s_bad("{\"type\":\"key\",\"op\":\"add\",\"virtualKeyId\":9,\"keyHash\":1}",
          "field 'keyHash' must be 64 lowercase hex digits");
    s_bad("{\"type\":\"key\",\"op\":\"update\",\"virtualKeyId\":9,"
          "\"admin\":\"yes\"}",
          "field 'admin' must be a boolean");
    s_bad("{\"type\":\"key\",\"op\":\"update\",\"virtualKeyId\":9,"
          "\"enabled\":0}",
          "field 'enabled' must be a boolean");
    s_bad("{\"type\":\"key\",\"op\":\"update\",\"virtualKeyId\":9,"
          "\"name\":null}",
          "field 'name' must be a string");
    static const char *const bad_dates[] = {
        "\"tomorrow\"",
        "\"2030-13-01\"",
        "\"2030-01-01T00:00:00\"",
        "1893456000000",
        "\"2030-01-01T00:00:00.000Z and then some more\"",
        "\"\""};
    for (size_t i = 0; i < sizeof bad_dates / sizeof bad_dates[0]; i++) {
        char json[256];
        snprintf(json, sizeof json,
                 "{\"type\":\"key\",\"op\":\"update\",\"virtualKeyId\":9,"
                 "\"expiresAt\":%s}",
                 bad_dates[i]);
        s_bad(json, "field 'expiresAt' must be an ISO-8601 UTC time");
    }
}
END_TEST

START_TEST(test_ingress_virtual_key_id_forms)
{
    static const struct {
        const char *val;
        int64_t want; /* 0 = rejected */
    } cases[] = {
        {"1", 1},
        {"42", 42},
        {"\"42\"", 42},
        {"\"007\"", 7},
        {"42.0", 42},
        {"9223372036854775807", INT64_MAX},
        {"\"9223372036854775807\"", INT64_MAX},
        {"0", 0},
        {"-1", 0},
        {"\"0\"", 0},
        {"\"-5\"", 0},
        {"\"+5\"", 0},
        {"\"5 \"", 0},
        {"\"\"", 0},
        {"\"abc\"", 0},
        {"\"12a\"", 0},
        {"\"9223372036854775808\"", 0},
        {"\"99999999999999999999\"", 0},
        {"9223372036854775808", 0},
        {"18446744073709551615", 0},
        {"1.5", 0},
        {"true", 0},
        {"null", 0},
        {"[1]", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[256];
        snprintf(json, sizeof json,
                 "{\"type\":\"spend\",\"virtualKeyId\":%s,\"amount\":1,"
                 "\"totalSpend\":1}",
                 cases[i].val);
        s_in_t in;
        s_parse_json(&in, json);
        if (cases[i].want) {
            ck_assert_msg(in.rc == 0, "%s: %s", cases[i].val, in.err);
            ck_assert_int_eq(in.msg.key_id, cases[i].want);
        } else {
            ck_assert_msg(in.rc == -1, "%s accepted", cases[i].val);
            ck_assert_str_eq(in.err,
                             "field 'virtualKeyId' must be a positive integer");
        }
        s_free(&in);
    }
}
END_TEST

/* ---- common fields and map shape ---------------------------------------- */

START_TEST(test_ingress_type_errors)
{
    s_bad("{\"taskId\":\"t\"}", "missing field 'type'");
    s_bad("{\"type\":\"foo\"}", "unknown type 'foo'");
    s_bad("{\"type\":\"\"}", "unknown type ''");
    s_bad("{\"type\":\"Task\"}", "unknown type 'Task'");
    s_bad("{\"type\":1}", "field 'type' must be a string");
    s_bad("{\"type\":null}", "field 'type' must be a string");
    s_bad("{\"type\":\"a'b\\nc\"}", "unknown type 'a?b?c'");
    s_bad("[\"type\",\"task\"]", "message must be a map");
    s_bad("\"task\"", "message must be a map");
    s_bad("{\"type\":\"task\",\"type\":\"task\",\"taskId\":\"t\","
          "\"state\":\"started\"}",
          "duplicate field 'type'");
    s_bad("{\"type\":\"task\",\"taskId\":\"t\",\"taskId\":\"u\","
          "\"state\":\"started\"}",
          "duplicate field 'taskId'");
    /* A long type name is cut in the error text. */
    s_in_t in;
    char json[300];
    snprintf(json, sizeof json, "{\"type\":\"%0200d\"}", 0);
    s_parse_json(&in, json);
    ck_assert_int_eq(in.rc, -1);
    ck_assert_uint_lt(strlen(in.err), 64);
    ck_assert_ptr_nonnull(strstr(in.err, "...'"));
    s_free(&in);
}
END_TEST

START_TEST(test_ingress_common_fields)
{
    s_in_t in;
    ck_in_ok(&in, "{\"type\":\"task\",\"taskId\":\"t\",\"state\":\"started\","
                  "\"id\":\"corr\",\"ts\":1700000000000}");
    ck_str(in.msg.id, "corr");
    ck_assert_int_eq(in.msg.ts, 1700000000000LL);
    s_free(&in);
    ck_in_ok(&in, "{\"type\":\"task\",\"taskId\":\"t\",\"state\":\"started\","
                  "\"ts\":1700000000000.0}");
    ck_assert_int_eq(in.msg.ts, 1700000000000LL);
    s_free(&in);
    s_bad("{\"type\":\"task\",\"taskId\":\"t\",\"state\":\"started\","
          "\"id\":5}",
          "field 'id' must be a string");
    s_bad("{\"type\":\"task\",\"taskId\":\"t\",\"state\":\"started\","
          "\"ts\":\"now\"}",
          "field 'ts' must be an integer");
    s_bad("{\"type\":\"task\",\"taskId\":\"t\",\"state\":\"started\","
          "\"ts\":1e300}",
          "field 'ts' must be an integer");
}
END_TEST

START_TEST(test_ingress_unknown_keys_ignored)
{
    s_in_t in;
    ck_in_ok(&in, "{\"future\":{\"x\":1},\"type\":\"task\",\"taskId\":\"t\","
                  "\"state\":\"cancelled\",\"hub\":42,\"Type\":\"x\"}");
    ck_assert_int_eq(in.msg.state, CDT_TASK_CANCELLED);
    s_free(&in);
}
END_TEST

/* Packs {"type":"task","taskId":<raw bytes>,"state":"started"}. */
static void
s_pack_task_with_id(cdt_buf_t *b, const char *id, size_t len)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, cdt_buf_msgpack_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "type", 4);
    msgpack_pack_str_with_body(&pk, "task", 4);
    msgpack_pack_str_with_body(&pk, "taskId", 6);
    msgpack_pack_str_with_body(&pk, id, len);
    msgpack_pack_str_with_body(&pk, "state", 5);
    msgpack_pack_str_with_body(&pk, "started", 7);
}

START_TEST(test_ingress_strings_must_be_utf8_and_bounded)
{
    cdt_buf_t b = CDT_BUF_INIT;
    s_in_t in;
    s_pack_task_with_id(&b, "ab\xff", 3);
    s_parse_bytes(&in, b.data, b.len);
    ck_assert_int_eq(in.rc, -1);
    ck_assert_str_eq(in.err, "field 'taskId' is not valid UTF-8");
    s_free(&in);

    char *big = cdt_xmalloc(CDT_INGRESS_MAX_STR + 1);
    memset(big, 'a', CDT_INGRESS_MAX_STR + 1);
    cdt_buf_reset(&b);
    s_pack_task_with_id(&b, big, CDT_INGRESS_MAX_STR);
    s_parse_bytes(&in, b.data, b.len);
    ck_assert_msg(in.rc == 0, "%s", in.err);
    ck_assert_uint_eq(in.msg.task_id.len, CDT_INGRESS_MAX_STR);
    s_free(&in);
    cdt_buf_reset(&b);
    s_pack_task_with_id(&b, big, CDT_INGRESS_MAX_STR + 1);
    s_parse_bytes(&in, b.data, b.len);
    ck_assert_int_eq(in.rc, -1);
    ck_assert_str_eq(in.err, "field 'taskId' is longer than 4096 bytes");
    s_free(&in);
    free(big);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_ingress_non_string_key_and_bin_values)
{
    cdt_buf_t b = CDT_BUF_INIT;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, cdt_buf_msgpack_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "type", 4);
    msgpack_pack_str_with_body(&pk, "task", 4);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_int(&pk, 2);
    s_in_t in;
    s_parse_bytes(&in, b.data, b.len);
    ck_assert_int_eq(in.rc, -1);
    ck_assert_str_eq(in.err, "map keys must be strings");
    s_free(&in);

    /* A bin where a str is expected is refused. */
    cdt_buf_reset(&b);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "type", 4);
    msgpack_pack_str_with_body(&pk, "task", 4);
    msgpack_pack_str_with_body(&pk, "taskId", 6);
    msgpack_pack_bin_with_body(&pk, "t", 1);
    msgpack_pack_str_with_body(&pk, "state", 5);
    msgpack_pack_str_with_body(&pk, "started", 7);
    s_parse_bytes(&in, b.data, b.len);
    ck_assert_int_eq(in.rc, -1);
    ck_assert_str_eq(in.err, "field 'taskId' must be a string");
    s_free(&in);

    /* NaN is not a usable number. */
    cdt_buf_reset(&b);
    msgpack_pack_map(&pk, 4);
    msgpack_pack_str_with_body(&pk, "type", 4);
    msgpack_pack_str_with_body(&pk, "task", 4);
    msgpack_pack_str_with_body(&pk, "taskId", 6);
    msgpack_pack_str_with_body(&pk, "t", 1);
    msgpack_pack_str_with_body(&pk, "state", 5);
    msgpack_pack_str_with_body(&pk, "progress", 8);
    msgpack_pack_str_with_body(&pk, "percent", 7);
    msgpack_pack_float(&pk, NAN);
    s_parse_bytes(&in, b.data, b.len);
    ck_assert_int_eq(in.rc, -1);
    ck_assert_str_eq(in.err, "field 'percent' must be a finite number");
    s_free(&in);
    cdt_buf_release(&b);
}
END_TEST

/* ---- parse: framing ----------------------------------------------------- */

START_TEST(test_ingress_parse_every_truncation_rejected)
{
    for (size_t k = 0; k < S_NFULL; k++) {
        cdt_buf_t b = CDT_BUF_INIT;
        char err[64];
        ck_assert_int_eq(cdt_json_to_msgpack(s_full[k], strlen(s_full[k]), &b,
                                             8, err, sizeof err),
                         0);
        for (size_t len = 0; len < b.len; len++) {
            s_in_t in;
            s_parse_bytes(&in, b.data, len);
            ck_assert_msg(in.rc == -1, "message %zu cut at %zu accepted", k,
                          len);
            ck_assert_msg(in.err[0] != '\0', "no error text");
            s_free(&in);
        }
        s_in_t in;
        s_parse_bytes(&in, b.data, b.len);
        ck_assert_int_eq(in.rc, 0);
        s_free(&in);
        cdt_buf_release(&b);
    }
}
END_TEST

START_TEST(test_ingress_parse_trailing_bytes_rejected)
{
    cdt_buf_t b = CDT_BUF_INIT;
    char err[64];
    ck_assert_int_eq(cdt_json_to_msgpack(s_full[3], strlen(s_full[3]), &b, 8,
                                         err, sizeof err),
                     0);
    static const uint8_t garbage[] = {0x00, 0xc0, 0xc1, 0x80, 0xff};
    for (size_t g = 0; g < sizeof garbage; g++) {
        cdt_buf_t c = CDT_BUF_INIT;
        cdt_buf_append(&c, b.data, b.len);
        cdt_buf_append_byte(&c, garbage[g]);
        s_in_t in;
        s_parse_bytes(&in, c.data, c.len);
        ck_assert_int_eq(in.rc, -1);
        ck_assert_str_eq(in.err, "trailing bytes after the message (1)");
        s_free(&in);
        cdt_buf_release(&c);
    }
    /* Two whole messages in one frame are refused too. */
    cdt_buf_t twice = CDT_BUF_INIT;
    cdt_buf_append(&twice, b.data, b.len);
    cdt_buf_append(&twice, b.data, b.len);
    s_in_t in;
    s_parse_bytes(&in, twice.data, twice.len);
    ck_assert_int_eq(in.rc, -1);
    s_free(&in);
    cdt_buf_release(&twice);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_ingress_parse_garbage)
{
    s_in_t in;
    s_parse_bytes(&in, "\xc1", 1);
    ck_assert_int_eq(in.rc, -1);
    ck_assert_str_eq(in.err, "malformed or truncated MessagePack");
    s_free(&in);
    s_parse_bytes(&in, "", 0);
    ck_assert_int_eq(in.rc, -1);
    ck_assert_str_eq(in.err, "truncated MessagePack");
    s_free(&in);
    s_parse_bytes(&in, "\x01", 1);
    ck_assert_int_eq(in.rc, -1);
    ck_assert_str_eq(in.err, "message must be a map");
    s_free(&in);
    /* No error buffer: still a clean -1. */
    msgpack_unpacked up;
    cdt_ingress_t msg;
    ck_assert_int_eq(
        cdt_ingress_parse((const uint8_t *)"\xc1", 1, &up, &msg, NULL, 0), -1);
    msgpack_unpacked_destroy(&up);
    ck_assert_int_eq(cdt_ingress_decode(NULL, &msg, NULL, 0), -1);
}
END_TEST

START_TEST(test_ingress_parse_huge_declared_counts_rejected)
{
    /* Regression: msgpack-c allocates from the declared count before
     * reading elements, so these asked for up to ~200 GB (ASan aborted). */
    static const char *const frames[] = {
        "\xdd\xff\xff\xff\xff",
        "\xdf\xff\xff\xff\xff",
        "\x81\xa4type\xdd\x10\x00\x00\x00",
        "\xde\xff\xff\xa4type",
    };
    static const size_t lens[] = {5, 5, 11, 8};
    for (size_t i = 0; i < 4; i++) {
        s_in_t in;
        s_parse_bytes(&in, frames[i], lens[i]);
        ck_assert_int_eq(in.rc, -1);
        ck_assert_str_eq(in.err, "malformed or truncated MessagePack");
        s_free(&in);
        bool ok;
        ck_assert_int_eq(s_ack(frames[i], lens[i], &ok, NULL, 0), -1);
    }
}
END_TEST

START_TEST(test_ingress_parse_byte_mutations_never_crash)
{
    static const uint8_t vals[] = {0x00, 0x7f, 0x80, 0x8f, 0x90, 0xa0,
                                   0xbf, 0xc0, 0xc1, 0xc2, 0xc3, 0xca,
                                   0xcb, 0xd9, 0xdc, 0xde, 0xdf, 0xff};
    for (size_t k = 0; k < S_NFULL; k++) {
        cdt_buf_t b = CDT_BUF_INIT;
        char err[64];
        ck_assert_int_eq(cdt_json_to_msgpack(s_full[k], strlen(s_full[k]), &b,
                                             8, err, sizeof err),
                         0);
        for (size_t i = 0; i < b.len; i++) {
            for (size_t v = 0; v < sizeof vals; v++) {
                uint8_t *m = cdt_xmalloc(b.len);
                memcpy(m, b.data, b.len);
                m[i] = vals[v];
                (void)s_ck_fast(m, b.len);
                s_in_t in;
                s_parse_bytes(&in, m, b.len);
                /* Whatever is accepted must re-encode and re-parse. */
                if (in.rc == 0)
                    s_ck_round_trip(&in);
                else
                    ck_assert(in.err[0] != '\0');
                s_free(&in);
                free(m);
            }
        }
        cdt_buf_release(&b);
    }
}
END_TEST

/* ---- encode ------------------------------------------------------------- */

START_TEST(test_ingress_round_trip_every_type)
{
    for (size_t k = 0; k < S_NFULL; k++) {
        s_in_t in;
        ck_in_ok(&in, s_full[k]);
        s_ck_round_trip(&in);
        s_free(&in);
    }
}
END_TEST

START_TEST(test_ingress_encode_from_scratch)
{
    /* A message built in code, as conduit-pub does. */
    cdt_ingress_t m;
    memset(&m, 0, sizeof m);
    m.type = CDT_IN_TASK;
    m.task_id = (cdt_str_t){"t-9", 3};
    m.task_type = CDT_TASK_IMAGE;
    m.state = CDT_TASK_TIMED_OUT;
    m.has_key_id = true;
    m.key_id = 5;
    m.id = (cdt_str_t){"corr", 4};
    m.ts = 1;
    m.has_percent = true;
    m.percent = 0;
    cdt_buf_t b = CDT_BUF_INIT;
    cdt_ingress_encode(&m, &b);
    s_in_t in;
    s_parse_bytes(&in, b.data, b.len);
    ck_assert_msg(in.rc == 0, "%s", in.err);
    s_ck_same(&m, &in.msg);
    s_free(&in);
    cdt_buf_release(&b);

    memset(&m, 0, sizeof m);
    m.type = CDT_IN_EVENT;
    m.hub = (cdt_str_t){"h", 1};
    m.target = (cdt_str_t){"T", 1};
    msgpack_object gs[2], args;
    memset(gs, 0, sizeof gs);
    gs[0].type = gs[1].type = MSGPACK_OBJECT_STR;
    gs[0].via.str.ptr = "a";
    gs[0].via.str.size = 1;
    gs[1].via.str.ptr = "b";
    gs[1].via.str.size = 1;
    m.groups = (cdt_strv_t){gs, 2};
    memset(&args, 0, sizeof args);
    args.type = MSGPACK_OBJECT_ARRAY;
    args.via.array.ptr = gs;
    args.via.array.size = 2;
    m.arguments = &args;
    cdt_buf_init(&b);
    cdt_ingress_encode(&m, &b);
    s_parse_bytes(&in, b.data, b.len);
    ck_assert_msg(in.rc == 0, "%s", in.err);
    s_ck_same(&m, &in.msg);
    s_free(&in);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_ingress_encode_key_expiry)
{
    s_in_t in;
    ck_in_ok(&in, "{\"type\":\"key\",\"op\":\"enable\",\"virtualKeyId\":1,"
                  "\"expiresAt\":\"1999-12-31T23:59:59.999Z\"}");
    s_ck_round_trip(&in);
    s_free(&in);
}
END_TEST

/* ---- names -------------------------------------------------------------- */

START_TEST(test_ingress_names_round_trip)
{
    for (int t = CDT_IN_EVENT; t <= CDT_IN_KEY; t++) {
        const char *n = cdt_ingress_type_name((enum cdt_ingress_type)t);
        ck_assert_int_eq(cdt_ingress_type_parse(n, strlen(n)), t);
    }
    for (int t = CDT_TASK_VIDEO; t <= CDT_TASK_OTHER; t++) {
        const char *n = cdt_task_type_name((enum cdt_task_type)t);
        ck_assert_int_eq(cdt_task_type_parse(n, strlen(n)), t);
    }
    for (int t = CDT_TASK_STARTED; t <= CDT_TASK_TIMED_OUT; t++) {
        const char *n = cdt_task_state_name((enum cdt_task_state)t);
        ck_assert_int_eq(cdt_task_state_parse(n, strlen(n)), t);
    }
    for (int t = CDT_HEALTH_HEALTHY; t <= CDT_HEALTH_UNHEALTHY; t++) {
        const char *n = cdt_health_status_name((enum cdt_health_status)t);
        ck_assert_int_eq(cdt_health_status_parse(n, strlen(n)), t);
    }
    for (int t = CDT_WEBHOOK_DELIVERED; t <= CDT_WEBHOOK_CIRCUIT_CLOSED; t++) {
        const char *n = cdt_webhook_status_name((enum cdt_webhook_status)t);
        ck_assert_int_eq(cdt_webhook_status_parse(n, strlen(n)), t);
    }
    for (int t = CDT_KEY_ADD; t <= CDT_KEY_DELETE; t++) {
        const char *n = cdt_key_op_name((enum cdt_key_op)t);
        ck_assert_int_eq(cdt_key_op_parse(n, strlen(n)), t);
    }
}
END_TEST

START_TEST(test_ingress_names_on_the_wire)
{
    ck_assert_str_eq(cdt_ingress_type_name(CDT_IN_PROVIDER_HEALTH),
                     "provider_health");
    ck_assert_str_eq(cdt_task_state_name(CDT_TASK_TIMED_OUT), "timed_out");
    ck_assert_str_eq(cdt_webhook_status_name(CDT_WEBHOOK_RETRY_SCHEDULED),
                     "retry_scheduled");
    ck_assert_str_eq(cdt_webhook_status_name(CDT_WEBHOOK_CIRCUIT_CLOSED),
                     "circuit_closed");
    ck_assert_str_eq(cdt_key_op_name(CDT_KEY_DISABLE), "disable");
    ck_assert_str_eq(cdt_task_type_name(CDT_TASK_OTHER), "other");
    ck_assert_str_eq(cdt_health_status_name(CDT_HEALTH_UNHEALTHY), "unhealthy");
    ck_assert_str_eq(cdt_ingress_type_name((enum cdt_ingress_type)0), "?");
    ck_assert_str_eq(cdt_task_state_name((enum cdt_task_state)7), "?");
    ck_assert_str_eq(cdt_key_op_name((enum cdt_key_op) - 1), "?");
    ck_assert_int_eq(cdt_task_state_parse("timed_outx", 9), CDT_TASK_TIMED_OUT);
    ck_assert_int_eq(cdt_task_state_parse("timed_out", 8), 0);
    ck_assert_int_eq(cdt_task_state_parse("", 0), 0);
    ck_assert_int_eq(cdt_task_state_parse(NULL, 0), 0);
    ck_assert_int_eq(cdt_key_op_parse("ADD", 3), 0);
    ck_assert_int_eq(cdt_ingress_type_parse("task\0", 5), 0);
}
END_TEST

START_TEST(test_ingress_terminal_states)
{
    ck_assert(!cdt_task_state_terminal(CDT_TASK_STARTED));
    ck_assert(!cdt_task_state_terminal(CDT_TASK_PROGRESS));
    ck_assert(cdt_task_state_terminal(CDT_TASK_COMPLETED));
    ck_assert(cdt_task_state_terminal(CDT_TASK_FAILED));
    ck_assert(cdt_task_state_terminal(CDT_TASK_CANCELLED));
    ck_assert(cdt_task_state_terminal(CDT_TASK_TIMED_OUT));
    ck_assert(!cdt_task_state_terminal((enum cdt_task_state)0));
}
END_TEST

/* ---- acks --------------------------------------------------------------- */

static int
s_ack(const void *data, size_t len, bool *ok, char *err, size_t errlen)
{
    uint8_t *copy = cdt_xmalloc(len ? len : 1);
    if (len)
        memcpy(copy, data, len);
    int rc = cdt_ingress_decode_ack(copy, len, ok, err, errlen);
    free(copy);
    return rc;
}

START_TEST(test_ingress_ack_round_trip)
{
    cdt_buf_t b = CDT_BUF_INIT;
    cdt_ingress_encode_ack(&b, true, "ignored");
    ck_assert_uint_eq(b.len, 5); /* {"ok":true} */
    bool ok = false;
    char err[64] = "junk";
    ck_assert_int_eq(s_ack(b.data, b.len, &ok, err, sizeof err), 0);
    ck_assert(ok);
    ck_assert_str_eq(err, "");
    cdt_buf_reset(&b);
    cdt_ingress_encode_ack(&b, false, "unknown type 'foo'");
    ck_assert_int_eq(s_ack(b.data, b.len, &ok, err, sizeof err), 0);
    ck_assert(!ok);
    ck_assert_str_eq(err, "unknown type 'foo'");
    /* The error is cut to fit, always NUL-terminated. */
    char small[8];
    ck_assert_int_eq(s_ack(b.data, b.len, &ok, small, sizeof small), 0);
    ck_assert_str_eq(small, "unknown");
    ck_assert_int_eq(s_ack(b.data, b.len, &ok, NULL, 0), 0);
    cdt_buf_reset(&b);
    cdt_ingress_encode_ack(&b, false, NULL);
    ck_assert_int_eq(s_ack(b.data, b.len, &ok, err, sizeof err), 0);
    ck_assert(!ok);
    ck_assert_str_eq(err, "");
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_ingress_ack_rejects_malformed)
{
    bool ok;
    char err[64];
    cdt_buf_t b = CDT_BUF_INIT;
    cdt_ingress_encode_ack(&b, false, "why");
    for (size_t len = 0; len < b.len; len++)
        ck_assert_int_eq(s_ack(b.data, len, &ok, err, sizeof err), -1);
    cdt_buf_append_byte(&b, 0xc0);
    ck_assert_int_eq(s_ack(b.data, b.len, &ok, err, sizeof err), -1);
    cdt_buf_release(&b);
    /* {} ; {"ok":1} ; {"ok":false,"error":1} ; [true] */
    ck_assert_int_eq(s_ack("\x80", 1, &ok, err, sizeof err), -1);
    ck_assert_int_eq(s_ack("\x81\xa2ok\x01", 5, &ok, err, sizeof err), -1);
    ck_assert_int_eq(s_ack("\x82\xa2ok\xc2\xa5"
                           "error\x01",
                           12, &ok, err, sizeof err),
                     -1);
    ck_assert_int_eq(s_ack("\x91\xc3", 2, &ok, err, sizeof err), -1);
    /* Unknown and non-string keys are ignored. */
    ck_assert_int_eq(s_ack("\x82\x01\x02\xa2ok\xc3", 7, &ok, err, sizeof err),
                     0);
    ck_assert(ok);
}
END_TEST

static void
s_pack_key(msgpack_packer *pk, const char *s, size_t len)
{
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

/* Ack maps the broker never sends, built by hand, each with what the
 * decoder must make of it (rc, ok, error text for a 512-byte buffer);
 * every cut of them must be refused, and so must a trailing byte. */
START_TEST(test_ingress_ack_hand_made_maps)
{
    char long_error[700];
    memset(long_error, 'e', sizeof long_error);
    for (int kind = 0; kind < 10; kind++) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        int want_rc = 0;
        bool want_ok = false;
        const char *want_err = "";
        switch (kind) {
        case 0: /* ok false with a long error: cut to the buffer */
            msgpack_pack_map(&pk, 2);
            s_pack_key(&pk, "ok", 2);
            msgpack_pack_false(&pk);
            s_pack_key(&pk, "error", 5);
            s_pack_key(&pk, long_error, sizeof long_error);
            want_err = NULL; /* 511 'e' */
            break;
        case 1: /* ok true with an error: the error is not copied */
            msgpack_pack_map(&pk, 2);
            s_pack_key(&pk, "error", 5);
            s_pack_key(&pk, "ignored", 7);
            s_pack_key(&pk, "ok", 2);
            msgpack_pack_true(&pk);
            want_ok = true;
            break;
        case 2: /* ok false without an error */
            msgpack_pack_map(&pk, 1);
            s_pack_key(&pk, "ok", 2);
            msgpack_pack_false(&pk);
            break;
        case 3: /* ok is not a boolean */
            msgpack_pack_map(&pk, 1);
            s_pack_key(&pk, "ok", 2);
            msgpack_pack_int(&pk, 1);
            want_rc = -1;
            break;
        case 4: /* error is not a string */
            msgpack_pack_map(&pk, 2);
            s_pack_key(&pk, "ok", 2);
            msgpack_pack_false(&pk);
            s_pack_key(&pk, "error", 5);
            msgpack_pack_int(&pk, 5);
            want_rc = -1;
            break;
        case 5: /* a key that is not a string is skipped; NUL in the error */
            msgpack_pack_map(&pk, 3);
            msgpack_pack_int(&pk, 1);
            msgpack_pack_true(&pk);
            s_pack_key(&pk, "ok", 2);
            msgpack_pack_false(&pk);
            s_pack_key(&pk, "error", 5);
            s_pack_key(&pk, "a\0b", 3);
            want_err = "a";
            break;
        case 6: /* a repeated key: the last one counts */
            msgpack_pack_map(&pk, 2);
            s_pack_key(&pk, "ok", 2);
            msgpack_pack_true(&pk);
            s_pack_key(&pk, "ok", 2);
            msgpack_pack_false(&pk);
            break;
        case 7: /* not a map */
            msgpack_pack_array(&pk, 1);
            msgpack_pack_true(&pk);
            want_rc = -1;
            break;
        case 8: /* keys that only look like ours */
            msgpack_pack_map(&pk, 2);
            s_pack_key(&pk, "okay", 4);
            msgpack_pack_true(&pk);
            s_pack_key(&pk, "errors", 6);
            s_pack_key(&pk, "x", 1);
            want_rc = -1;
            break;
        default: /* an empty map */
            msgpack_pack_map(&pk, 0);
            want_rc = -1;
            break;
        }
        bool ok = !want_ok;
        char err[512];
        ck_assert_int_eq(s_ack(sb.data, sb.size, &ok, err, sizeof err),
                         want_rc);
        if (want_rc == 0) {
            ck_assert(ok == want_ok);
            if (want_err)
                ck_assert_str_eq(err, want_err);
            else
                ck_assert_uint_eq(strspn(err, "e"), sizeof err - 1);
            /* one byte of room: always an empty, terminated text */
            char one[1] = {'x'};
            ck_assert_int_eq(s_ack(sb.data, sb.size, &ok, one, 1), 0);
            ck_assert_int_eq(one[0], '\0');
        }
        for (size_t len = 0; len < sb.size; len++)
            ck_assert_int_eq(s_ack(sb.data, len, &ok, err, sizeof err), -1);
        msgpack_sbuffer_write(&sb, "\xc0", 1);
        ck_assert_int_eq(s_ack(sb.data, sb.size, &ok, err, sizeof err), -1);
        msgpack_sbuffer_destroy(&sb);
    }
    bool ok = true;
    char err[8] = "junk";
    ck_assert_int_eq(cdt_ingress_decode_ack(NULL, 0, &ok, err, sizeof err), -1);
    ck_assert_str_eq(err, "");
}
END_TEST

/* ---- events straight from the bytes -------------------------------------- */

/* Events as services send them: the fast path takes every one. */
static const char *const s_plain_events[] = {
    "{\"type\":\"event\",\"hub\":\"SpendNotificationHub\",\"group\":\"vkey-1\","
    "\"target\":\"SpendUpdate\",\"data\":{\"bs\":1,\"bt\":1738324800123,"
    "\"p\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}",
    "{\"data\":[1,{\"a\":[]}],\"target\":\"T\",\"groups\":[\"a\",\"b\",\"c\"],"
    "\"hub\":\"/hubs/tasks\",\"id\":\"\",\"ts\":-5,\"type\":\"event\"}",
    "{\"type\":\"event\",\"id\":\"c\\u00e9\",\"ts\":0,\"hub\":\"h\xc3\xa9\","
    "\"group\":\"g\",\"target\":\"t\",\"arguments\":[]}",
    "{\"type\":\"event\",\"hub\":\"h\",\"group\":\"g\",\"target\":\"t\","
    "\"data\":null,\"future\":{\"x\":[1,2]},\"taskId\":5,\"state\":[]}",
    "{\"type\":\"event\",\"hub\":\"h\",\"group\":\"g\",\"target\":\"t\","
    "\"data\":\"just a string\",\"ts\":9223372036854775807}",
};

START_TEST(test_ingress_fast_path_takes_plain_events)
{
    for (size_t i = 0; i < sizeof s_plain_events / sizeof s_plain_events[0];
         i++)
        ck_assert_msg(s_ck_fast_json(s_plain_events[i]),
                      "fast path refused %zu", i);
    ck_assert(s_ck_fast_json(s_full[0]));
    ck_assert(s_ck_fast_json(s_full[1]));
    for (size_t k = 2; k < S_NFULL; k++) /* the other types: general path */
        ck_assert(!s_ck_fast_json(s_full[k]));
}
END_TEST

START_TEST(test_ingress_fast_path_leaves_the_rest_to_parse)
{
    /* refusals, floats, odd forms: the general path decides and words */
    static const char *const others[] = {
        "{\"type\":\"event\",\"group\":\"g\",\"target\":\"t\","
        "\"arguments\":[]}",
        "{\"type\":\"event\",\"hub\":\"h\",\"group\":\"g\",\"groups\":[\"a\"],"
        "\"target\":\"t\",\"arguments\":[]}",
        "{\"type\":\"event\",\"hub\":\"h\",\"group\":\"g\",\"target\":\"t\","
        "\"arguments\":{}}",
        "{\"type\":\"event\",\"hub\":\"h\",\"group\":\"g\",\"target\":\"t\","
        "\"arguments\":[],\"data\":1}",
        "{\"type\":\"event\",\"hub\":\"h\",\"group\":\"g\",\"target\":\"t\"}",
        "{\"type\":\"event\",\"hub\":\"h\",\"groups\":[],\"target\":\"t\","
        "\"arguments\":[]}",
        "{\"type\":\"event\",\"hub\":\"h\",\"groups\":[\"a\",\"\"],"
        "\"target\":\"t\",\"arguments\":[]}",
        "{\"type\":\"event\",\"hub\":\"h\",\"groups\":[\"a\",\"b\",\"c\","
        "\"d\",\"e\"],\"target\":\"t\",\"arguments\":[]}", /* > 4 here */
        "{\"type\":\"event\",\"hub\":\"\",\"group\":\"g\",\"target\":\"t\","
        "\"arguments\":[]}",
        "{\"type\":\"event\",\"hub\":\"h\",\"group\":\"g\",\"target\":\"t\","
        "\"arguments\":[],\"ts\":1.0}",
        "{\"type\":\"event\",\"hub\":\"h\",\"group\":\"g\",\"target\":\"t\","
        "\"arguments\":[],\"ts\":\"1\"}",
        "{\"type\":\"event\",\"hub\":\"h\",\"group\":\"g\",\"target\":\"t\","
        "\"arguments\":[],\"id\":7}",
        "{\"type\":\"event\",\"hub\":\"h\",\"group\":\"g\",\"target\":\"t\","
        "\"arguments\":[],\"ts\":18446744073709551615}",
        "{\"type\":\"event\",\"type\":\"event\",\"hub\":\"h\",\"group\":\"g\","
        "\"target\":\"t\",\"arguments\":[]}",
        "{\"type\":\"event\",\"hub\":\"h\",\"group\":\"g\",\"target\":\"t\","
        "\"arguments\":[],\"taskId\":1,\"taskId\":2}",
        "{\"type\":\"Event\",\"hub\":\"h\",\"group\":\"g\",\"target\":\"t\","
        "\"arguments\":[]}",
        "{\"type\":\"stats\"}",
        "[1,2]",
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        ck_assert_msg(!s_ck_fast_json(others[i]), "fast path took %zu", i);

    /* bytes JSON cannot write: invalid UTF-8, a bin hub, a key that is not
     * a string, a long string */
    cdt_buf_t b = CDT_BUF_INIT;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, cdt_buf_msgpack_write);
    for (int variant = 0; variant <= 4; variant++) { /* 4: the plain one */
        cdt_buf_reset(&b);
        msgpack_pack_map(&pk, 5);
        msgpack_pack_str_with_body(&pk, "type", 4);
        msgpack_pack_str_with_body(&pk, "event", 5);
        msgpack_pack_str_with_body(&pk, "hub", 3);
        if (variant == 0)
            msgpack_pack_str_with_body(&pk, "h\xff", 2);
        else if (variant == 1)
            msgpack_pack_bin_with_body(&pk, "h", 1);
        else
            msgpack_pack_str_with_body(&pk, "h", 1);
        if (variant == 2)
            msgpack_pack_int(&pk, 1);
        else
            msgpack_pack_str_with_body(&pk, "group", 5);
        if (variant == 3) {
            char *big = cdt_xmalloc(CDT_INGRESS_MAX_STR + 1);
            memset(big, 'g', CDT_INGRESS_MAX_STR + 1);
            msgpack_pack_str_with_body(&pk, big, CDT_INGRESS_MAX_STR + 1);
            free(big);
        } else {
            msgpack_pack_str_with_body(&pk, "g", 1);
        }
        msgpack_pack_str_with_body(&pk, "target", 6);
        msgpack_pack_str_with_body(&pk, "t", 1);
        msgpack_pack_str_with_body(&pk, "arguments", 9);
        msgpack_pack_array(&pk, 0);
        ck_assert_msg(s_ck_fast(b.data, b.len) == (variant == 4), "variant %d",
                      variant);
    }
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_ingress_fast_path_depth)
{
    /* the data nested n deep: msgpack_unpack (and so parse) stops at 32
     * containers with the top map, and so does the fast path */
    for (int n = 28; n <= 34; n++) {
        static const char head[] = "\x85\xa4type\xa5"
                                   "event\xa3hub\xa1h\xa5group\xa1g"
                                   "\xa6target\xa1t\xa4"
                                   "data";
        cdt_buf_t b = CDT_BUF_INIT;
        cdt_buf_append(&b, head, sizeof head - 1);
        for (int i = 0; i < n; i++)
            cdt_buf_append_byte(&b, 0x91);
        cdt_buf_append_byte(&b, 0xc0);
        bool took = s_ck_fast(b.data, b.len);
        ck_assert_int_eq(took, n <= 31);
        cdt_buf_release(&b);
    }
}
END_TEST

START_TEST(test_ingress_fast_path_every_cut_and_mutation)
{
    static const uint8_t vals[] = {0x00, 0x7f, 0x80, 0x8f, 0x90, 0xa0,
                                   0xbf, 0xc0, 0xc1, 0xc2, 0xca, 0xcb,
                                   0xcc, 0xd3, 0xd9, 0xdc, 0xde, 0xff};
    for (size_t k = 0; k < 2 + sizeof s_plain_events / sizeof s_plain_events[0];
         k++) {
        const char *json = k < 2 ? s_full[k] : s_plain_events[k - 2];
        cdt_buf_t b = CDT_BUF_INIT;
        char err[64];
        ck_assert_int_eq(
            cdt_json_to_msgpack(json, strlen(json), &b, 16, err, sizeof err),
            0);
        for (size_t len = 0; len < b.len; len++)
            ck_assert(!s_ck_fast(b.data, len));
        cdt_buf_t t = CDT_BUF_INIT; /* trailing bytes */
        cdt_buf_append(&t, b.data, b.len);
        cdt_buf_append_byte(&t, 0xc0);
        ck_assert(!s_ck_fast(t.data, t.len));
        cdt_buf_release(&t);
        for (size_t i = 0; i < b.len; i++) {
            for (size_t v = 0; v < sizeof vals; v++) {
                uint8_t *m = cdt_xmalloc(b.len);
                memcpy(m, b.data, b.len);
                m[i] = vals[v];
                (void)s_ck_fast(m, b.len);
                free(m);
            }
        }
        cdt_buf_release(&b);
    }
}
END_TEST

START_TEST(test_ingress_value_bytes)
{
    s_in_t in;
    ck_in_ok(&in, s_full[1]);
    /* data {"p":[1,2,{"q":null}]} as it stands in the frame */
    static const uint8_t data[] = {0x81, 0xa1, 'p',  0x93, 0x01,
                                   0x02, 0x81, 0xa1, 'q',  0xc0};
    ck_assert_uint_eq(in.msg.data_mp.len, sizeof data);
    ck_assert_int_eq(memcmp(in.msg.data_mp.ptr, data, sizeof data), 0);
    cdt_str_t v;
    ck_assert_int_eq(cdt_ingress_value_bytes(&in.msg, in.msg.data, &v), 0);
    ck_assert_ptr_eq(v.ptr, in.msg.data_mp.ptr);
    /* not a value of the map, or no bytes: -1 */
    ck_assert_int_eq(
        cdt_ingress_value_bytes(&in.msg, &in.msg.data->via.map.ptr[0].val, &v),
        -1);
    cdt_ingress_t copy = in.msg;
    copy.raw.ptr = NULL;
    ck_assert_int_eq(cdt_ingress_value_bytes(&copy, in.msg.data, &v), -1);
    s_free(&in);
}
END_TEST

Suite *
cdt_ingress_suite(void)
{
    Suite *s = suite_create("cdt_ingress");
    TCase *tc = tcase_create("types");
    tcase_add_test(tc, test_ingress_event_with_groups_and_arguments);
    tcase_add_test(tc, test_ingress_event_with_group_and_data);
    tcase_add_test(tc, test_ingress_event_errors);
    tcase_add_test(tc, test_ingress_task);
    tcase_add_test(tc, test_ingress_task_errors);
    tcase_add_test(tc, test_ingress_spend);
    tcase_add_test(tc, test_ingress_provider_health);
    tcase_add_test(tc, test_ingress_webhook);
    tcase_add_test(tc, test_ingress_webhook_passes_further_fields);
    tcase_add_test(tc, test_ingress_key);
    tcase_add_test(tc, test_ingress_key_errors);
    tcase_add_test(tc, test_ingress_virtual_key_id_forms);
    suite_add_tcase(s, tc);

    tc = tcase_create("map");
    tcase_add_test(tc, test_ingress_type_errors);
    tcase_add_test(tc, test_ingress_common_fields);
    tcase_add_test(tc, test_ingress_unknown_keys_ignored);
    tcase_add_test(tc, test_ingress_strings_must_be_utf8_and_bounded);
    tcase_add_test(tc, test_ingress_non_string_key_and_bin_values);
    suite_add_tcase(s, tc);

    tc = tcase_create("parse");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_ingress_parse_every_truncation_rejected);
    tcase_add_test(tc, test_ingress_parse_trailing_bytes_rejected);
    tcase_add_test(tc, test_ingress_parse_garbage);
    tcase_add_test(tc, test_ingress_parse_huge_declared_counts_rejected);
    tcase_add_test(tc, test_ingress_parse_byte_mutations_never_crash);
    suite_add_tcase(s, tc);

    tc = tcase_create("fast");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_ingress_fast_path_takes_plain_events);
    tcase_add_test(tc, test_ingress_fast_path_leaves_the_rest_to_parse);
    tcase_add_test(tc, test_ingress_fast_path_depth);
    tcase_add_test(tc, test_ingress_fast_path_every_cut_and_mutation);
    tcase_add_test(tc, test_ingress_value_bytes);
    suite_add_tcase(s, tc);

    tc = tcase_create("encode");
    tcase_add_test(tc, test_ingress_round_trip_every_type);
    tcase_add_test(tc, test_ingress_encode_from_scratch);
    tcase_add_test(tc, test_ingress_encode_key_expiry);
    suite_add_tcase(s, tc);

    tc = tcase_create("names");
    tcase_add_test(tc, test_ingress_names_round_trip);
    tcase_add_test(tc, test_ingress_names_on_the_wire);
    tcase_add_test(tc, test_ingress_terminal_states);
    suite_add_tcase(s, tc);

    tc = tcase_create("ack");
    tcase_add_test(tc, test_ingress_ack_round_trip);
    tcase_add_test(tc, test_ingress_ack_rejects_malformed);
    tcase_add_test(tc, test_ingress_ack_hand_made_maps);
    suite_add_tcase(s, tc);
    return s;
}
