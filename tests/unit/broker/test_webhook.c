/*
 * test_webhook - webhook status messages become WebhookDeliveryHub events
 * for the key's group of that URL, with the message's fields passed
 * through in camelCase. Messages are written as JSON and go through the
 * real ingress decoder.
 *
 * SPDX-License-Identifier: MIT
 */
#include "broker/webhook.h"

#include "common/cdt_catalog.h"
#include "common/cdt_json.h"
#include "common/cdt_log.h"
#include "common/cdt_mem.h"
#include "tests/unit/broker/recorder.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

Suite *webhook_suite(void);

#define WALL0 INT64_C(1750000000000)

static recorder_t s_rec;
static webhook_t *s_wh;
static char s_err[256];

static void
s_setup(void)
{
    recorder_init(&s_rec);
    s_wh = webhook_new(recorder_emit, &s_rec);
    s_err[0] = '\0';
}

static void
s_teardown(void)
{
    webhook_destroy(&s_wh);
    ck_assert_ptr_null(s_wh);
    recorder_release(&s_rec);
}

/* Decodes the JSON message and hands it to the module: its result. */
static int
s_ingest(const char *json)
{
    cdt_buf_t mp = CDT_BUF_INIT;
    ck_assert_int_eq(cdt_json_to_msgpack(json, strlen(json), &mp,
                                         CDT_JSON_MAX_DEPTH, s_err,
                                         sizeof s_err),
                     0);
    msgpack_unpacked u;
    cdt_ingress_t msg;
    ck_assert_msg(
        cdt_ingress_parse(mp.data, mp.len, &u, &msg, s_err, sizeof s_err) == 0,
        "ingress: %s", s_err);
    int rc = webhook_ingest(s_wh, &msg, WALL0, s_err, sizeof s_err);
    msgpack_unpacked_destroy(&u);
    cdt_buf_release(&mp);
    return rc;
}

START_TEST(test_webhook_target_and_group_per_status)
{
    static const struct {
        const char *status, *target, *state;
    } cases[] = {
        {"delivered", "WebhookDelivered", NULL},
        {"failed", "WebhookFailed", NULL},
        {"retry_scheduled", "WebhookRetryScheduled", NULL},
        {"circuit_open", "CircuitBreakerStateChanged", "open"},
        {"circuit_closed", "CircuitBreakerStateChanged", "closed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char json[256];
        snprintf(json, sizeof json,
                 "{\"type\":\"webhook\",\"virtualKeyId\":12,"
                 "\"url\":\"https://hooks.example.com/a/b\",\"status\":\"%s\"}",
                 cases[i].status);
        ck_assert_int_eq(s_ingest(json), 0);
        ck_assert_uint_eq(s_rec.n, 1);
        const recorder_event_t *ev = recorder_at(&s_rec, 0);
        ck_assert_str_eq(ev->hub, "WebhookDeliveryHub");
        ck_assert_str_eq(ev->target, cases[i].target);
        /* the group SubscribeToWebhooks joins: "webhook-{id}-{0}" */
        ck_assert_str_eq(recorder_groups(ev),
                         "webhook-12-https://hooks.example.com/a/b");
        ck_assert(recorder_str_is(ev, "status", cases[i].status));
        ck_assert(recorder_str_is(ev, "url", "https://hooks.example.com/a/b"));
        ck_assert_double_eq(recorder_num(ev, "virtualKeyId"), 12);
        if (cases[i].state)
            ck_assert(recorder_str_is(ev, "state", cases[i].state));
        else
            ck_assert_ptr_null(recorder_field(ev, "state"));
        ck_assert(recorder_str_is(ev, "timestamp", "2025-06-15T15:06:40.000Z"));
        recorder_clear(&s_rec);
    }
}
END_TEST

START_TEST(test_webhook_passes_fields_through_in_camel_case)
{
    ck_assert_int_eq(
        s_ingest("{\"type\":\"webhook\",\"id\":\"c-1\",\"ts\":1,"
                 "\"virtualKeyId\":3,\"url\":\"https://h/x\","
                 "\"status\":\"failed\",\"statusCode\":503,\"attempt\":2,"
                 "\"response_time_ms\":120.5,\"eventType\":\"task.done\","
                 "\"is_final\":false,\"error\":{\"code\":\"E1\",\"n_x\":1},"
                 "\"timestamp\":\"spoofed\",\"status_code\":999}"),
        0);
    ck_assert_uint_eq(s_rec.n, 1);
    const recorder_event_t *ev = recorder_at(&s_rec, 0);
    ck_assert_double_eq(recorder_num(ev, "statusCode"), 503); /* once */
    ck_assert_double_eq(recorder_num(ev, "attempt"), 2);
    ck_assert_double_eq(recorder_num(ev, "responseTimeMs"), 120.5);
    ck_assert(recorder_str_is(ev, "eventType", "task.done"));
    const msgpack_object *fin = recorder_field(ev, "isFinal");
    ck_assert_ptr_nonnull(fin);
    ck_assert_int_eq(fin->type, MSGPACK_OBJECT_BOOLEAN);
    ck_assert(!fin->via.boolean);
    /* values are copied as they are, nested names included */
    const msgpack_object *e = recorder_field(ev, "error");
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->type, MSGPACK_OBJECT_MAP);
    ck_assert_int_eq(e->via.map.size, 2);
    ck_assert_int_eq(e->via.map.ptr[1].key.via.str.size, 3); /* "n_x" */
    ck_assert(recorder_str_is(ev, "correlationId", "c-1"));
    ck_assert(recorder_str_is(ev, "timestamp", "2025-06-15T15:06:40.000Z"));
    ck_assert_ptr_null(recorder_field(ev, "type"));
    ck_assert_ptr_null(recorder_field(ev, "ts"));
    ck_assert_ptr_null(recorder_field(ev, "id"));
    ck_assert_ptr_null(recorder_field(ev, "response_time_ms"));
    ck_assert_ptr_null(recorder_field(ev, "status_code"));
}
END_TEST

START_TEST(test_webhook_keys_stay_separate)
{
    ck_assert_int_eq(s_ingest("{\"type\":\"webhook\",\"virtualKeyId\":1,"
                              "\"url\":\"https://h/x\",\"status\":"
                              "\"delivered\"}"),
                     0);
    ck_assert_int_eq(s_ingest("{\"type\":\"webhook\",\"virtualKeyId\":2,"
                              "\"url\":\"https://h/x\",\"status\":"
                              "\"delivered\"}"),
                     0);
    ck_assert_str_eq(recorder_groups(recorder_at(&s_rec, 0)),
                     "webhook-1-https://h/x");
    ck_assert_str_eq(recorder_groups(recorder_at(&s_rec, 1)),
                     "webhook-2-https://h/x");
}
END_TEST

START_TEST(test_webhook_without_map_uses_typed_fields)
{
    cdt_ingress_t m;
    memset(&m, 0, sizeof m);
    m.type = CDT_IN_WEBHOOK;
    m.has_key_id = true;
    m.key_id = 5;
    m.url = (cdt_str_t){"https://h/y", 11};
    m.webhook = CDT_WEBHOOK_RETRY_SCHEDULED;
    m.has_attempt = true;
    m.attempt = 3;
    ck_assert_int_eq(webhook_ingest(s_wh, &m, WALL0, s_err, sizeof s_err), 0);
    const recorder_event_t *ev = recorder_at(&s_rec, 0);
    ck_assert_str_eq(ev->target, "WebhookRetryScheduled");
    ck_assert_double_eq(recorder_num(ev, "attempt"), 3);
    ck_assert_ptr_null(recorder_field(ev, "statusCode"));
}
END_TEST

START_TEST(test_webhook_rejects_bad_messages)
{
    cdt_ingress_t m;
    memset(&m, 0, sizeof m);
    m.type = CDT_IN_WEBHOOK;
    m.url = (cdt_str_t){"https://h/y", 11};
    m.webhook = CDT_WEBHOOK_DELIVERED;
    ck_assert_int_eq(webhook_ingest(s_wh, &m, WALL0, s_err, sizeof s_err), -1);
    ck_assert_str_eq(s_err, "missing field 'virtualKeyId'");
    m.has_key_id = true;
    m.url = (cdt_str_t){"", 0};
    ck_assert_int_eq(webhook_ingest(s_wh, &m, WALL0, s_err, sizeof s_err), -1);
    ck_assert_str_eq(s_err, "missing field 'url'");
    m.url = (cdt_str_t){"https://h/\x01", 11};
    ck_assert_int_eq(webhook_ingest(s_wh, &m, WALL0, s_err, sizeof s_err), -1);
    char *big = cdt_xmalloc(CDT_GROUP_ARG_MAX + 1);
    memset(big, 'u', CDT_GROUP_ARG_MAX + 1);
    m.url = (cdt_str_t){big, CDT_GROUP_ARG_MAX + 1};
    ck_assert_int_eq(webhook_ingest(s_wh, &m, WALL0, s_err, sizeof s_err), -1);
    m.url = (cdt_str_t){big, CDT_GROUP_ARG_MAX};
    ck_assert_int_eq(webhook_ingest(s_wh, &m, WALL0, s_err, sizeof s_err), 0);
    free(big);
    m.url = (cdt_str_t){"https://h/y", 11};
    m.webhook = 0;
    ck_assert_int_eq(webhook_ingest(s_wh, &m, WALL0, s_err, sizeof s_err), -1);
    m.webhook = CDT_WEBHOOK_DELIVERED;
    m.type = CDT_IN_SPEND;
    ck_assert_int_eq(webhook_ingest(s_wh, &m, WALL0, s_err, sizeof s_err), -1);
    ck_assert_uint_eq(s_rec.n, 1);
}
END_TEST

START_TEST(test_webhook_bounds_passed_fields)
{
    cdt_buf_t json = CDT_BUF_INIT;
    cdt_buf_append_str(&json, "{\"type\":\"webhook\",\"virtualKeyId\":1,"
                              "\"url\":\"https://h/x\",\"status\":"
                              "\"delivered\"");
    for (int i = 0; i < WEBHOOK_MAX_FIELDS; i++)
        cdt_buf_printf(&json, ",\"f%d\":%d", i, i);
    cdt_buf_append_str(&json, "}");
    ck_assert_int_eq(s_ingest((const char *)json.data), 0);
    ck_assert_uint_eq(recorder_at(&s_rec, 0)->obj->via.map.size,
                      WEBHOOK_MAX_FIELDS + 4); /* + key, url, status, time */
    json.len--;
    cdt_buf_append_str(&json, ",\"one_more\":1}");
    ck_assert_int_eq(s_ingest((const char *)json.data), -1);
    ck_assert_str_eq(s_err, "more than 64 fields");
    ck_assert_uint_eq(s_rec.n, 1);
    cdt_buf_release(&json);
}
END_TEST

START_TEST(test_webhook_redacts_urls_in_logs)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"https://h.example/p/q", "https://h.example/p/q"},
        {"https://user:secret@h.example/p?token=abc#f",
         "https://h.example/p?..."},
        {"https://h.example?sig=1", "https://h.example?..."},
        {"https://h.example/p#frag", "https://h.example/p?..."},
        {"http://a@b@h/x", "http://h/x"},
        {"h/x?y", "h/x?..."},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[64];
        webhook_redact_url(cases[i].in, strlen(cases[i].in), out, sizeof out);
        ck_assert_str_eq(out, cases[i].out);
    }
    char small[8];
    webhook_redact_url("https://long.example/x", 22, small, sizeof small);
    ck_assert_str_eq(small, "https:/");

    char path[] = "/tmp/cdt-webhook-log-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    int saved = dup(STDERR_FILENO);
    ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    cdt_log_set_level(CDT_LOG_INFO);
    int rc = s_ingest("{\"type\":\"webhook\",\"virtualKeyId\":4,"
                      "\"url\":\"https://u:pw@h/x?key=SECRET\","
                      "\"status\":\"delivered\",\"statusCode\":200}");
    ck_assert_int_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    ck_assert_int_eq(rc, 0);
    char text[2048] = "";
    ck_assert_int_ge(pread(fd, text, sizeof text - 1, 0), 0);
    close(fd);
    unlink(path);
    ck_assert_ptr_null(strstr(text, "SECRET"));
    ck_assert_ptr_null(strstr(text, "pw"));
    ck_assert_ptr_nonnull(
        strstr(text, "[SignalR:WebhookDelivered] Sent notification - "
                     "VirtualKey: 4, Url: https://h/x?..., Status: delivered "
                     "(200), Groups: [webhook-4-https://h/x?...]\n"));
    /* the group itself is exact */
    ck_assert_str_eq(recorder_groups(recorder_at(&s_rec, 0)),
                     "webhook-4-https://u:pw@h/x?key=SECRET");
}
END_TEST

Suite *
webhook_suite(void)
{
    Suite *s = suite_create("webhook");
    TCase *tc = tcase_create("events");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_add_test(tc, test_webhook_target_and_group_per_status);
    tcase_add_test(tc, test_webhook_passes_fields_through_in_camel_case);
    tcase_add_test(tc, test_webhook_keys_stay_separate);
    tcase_add_test(tc, test_webhook_without_map_uses_typed_fields);
    tcase_add_test(tc, test_webhook_rejects_bad_messages);
    tcase_add_test(tc, test_webhook_bounds_passed_fields);
    tcase_add_test(tc, test_webhook_redacts_urls_in_logs);
    suite_add_tcase(s, tc);
    return s;
}
