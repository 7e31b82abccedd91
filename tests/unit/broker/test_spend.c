/*
 * test_spend - SpendUpdate batching, budget alerts (once per threshold,
 * re-armed below 50 %, one alert for a jump), HighSpendAlert, unusual
 * spending, ordering, and alert state that survives a restart.
 *
 * SPDX-License-Identifier: MIT
 */
#include "broker/spend.h"

#include "common/cdt_log.h"
#include "common/cdt_mem.h"
#include "tests/unit/broker/recorder.h"
#include "tests/unit/broker/tmpdir.h"

#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

Suite *spend_suite(void);

#define T0     INT64_C(10000000)      /* monotonic ms at the start */
#define WALL0  INT64_C(1750000000000) /* wall ms at the start */
#define MIN_MS INT64_C(60000)

static cdt_config_t s_cfg;
static recorder_t s_rec;
static spend_t *s_sp;
static char s_err[256];

static void
s_setup(void)
{
    cdt_config_init(&s_cfg);
    recorder_init(&s_rec);
    s_sp = NULL;
    s_err[0] = '\0';
}

static void
s_teardown(void)
{
    spend_destroy(&s_sp);
    recorder_release(&s_rec);
    cdt_config_release(&s_cfg);
}

static spend_t *
s_new(store_t *store)
{
    spend_t *sp = spend_new(&s_cfg, store, recorder_emit, &s_rec);
    ck_assert_ptr_nonnull(sp);
    return sp;
}

static cdt_str_t
s_str(const char *s)
{
    return (cdt_str_t){s, strlen(s)};
}

/* A spend message; budget < 0 means "no budget field". */
static cdt_ingress_t
s_msg(int64_t key, double amount, double total, double budget)
{
    cdt_ingress_t m;
    memset(&m, 0, sizeof m);
    m.type = CDT_IN_SPEND;
    m.has_key_id = true;
    m.key_id = key;
    m.amount = amount;
    m.total_spend = total;
    m.has_budget = budget >= 0;
    m.budget = budget;
    m.provider = s_str("openai");
    m.model = s_str("gpt-4o");
    m.request_id = s_str("req-1");
    return m;
}

static void
s_spend_at(int64_t mono, int64_t key, double amount, double total,
           double budget)
{
    cdt_ingress_t m = s_msg(key, amount, total, budget);
    ck_assert_int_eq(
        spend_ingest(s_sp, &m, mono, WALL0 + (mono - T0), s_err, sizeof s_err),
        0);
}

/* "SpendUpdate", "BudgetAlert:80", "HighSpendAlert", ... for event i */
static const char *
s_label(size_t i)
{
    static char buf[64];
    const recorder_event_t *ev = recorder_at(&s_rec, i);
    if (strcmp(ev->target, "BudgetAlert") == 0)
        snprintf(buf, sizeof buf, "BudgetAlert:%d",
                 (int)recorder_num(ev, "threshold"));
    else
        snprintf(buf, sizeof buf, "%s", ev->target);
    return buf;
}

/* All events as "a b c", then forgets them. */
static char *
s_take(void)
{
    char *out = cdt_xstrdup("");
    for (size_t i = 0; i < s_rec.n; i++) {
        char *next = cdt_xasprintf("%s%s%s", out, i ? " " : "", s_label(i));
        free(out);
        out = next;
    }
    recorder_clear(&s_rec);
    return out;
}

#define ck_assert_events(want)          \
    do {                                \
        char *got_ = s_take();          \
        ck_assert_str_eq(got_, (want)); \
        free(got_);                     \
    } while (0)

/* -------------------------------------------------------------------- */
/* budget alerts                                                         */

START_TEST(test_spend_thresholds_cross_rearm_and_cross_again)
{
    s_cfg.spend_window_ms = 0;
    s_sp = s_new(NULL);
    int64_t t = T0;
    s_spend_at(t += 10, 7, 50, 50, 100);
    ck_assert_events("SpendUpdate");
    s_spend_at(t += 10, 7, 29, 79, 100);
    ck_assert_events("SpendUpdate");
    s_spend_at(t += 10, 7, 1, 80, 100);
    ck_assert_events("BudgetAlert:80 SpendUpdate");
    s_spend_at(t += 10, 7, 5, 85, 100);
    ck_assert_events("SpendUpdate");
    s_spend_at(t += 10, 7, 5, 90, 100);
    ck_assert_events("BudgetAlert:90 SpendUpdate");
    s_spend_at(t += 10, 7, 9, 99, 100);
    ck_assert_events("SpendUpdate");
    s_spend_at(t += 10, 7, 1, 100, 100);
    ck_assert_events("BudgetAlert:100 HighSpendAlert SpendUpdate");
    s_spend_at(t += 10, 7, 10, 110, 100);
    ck_assert_events("SpendUpdate");
    /* a refund: still above the re-arm level, nothing re-arms */
    s_spend_at(t += 10, 7, -50, 60, 100);
    ck_assert_events("SpendUpdate");
    s_spend_at(t += 10, 7, 25, 85, 100);
    ck_assert_events("SpendUpdate");
    /* a new period: below 50 % everything re-arms */
    s_spend_at(t += 10, 7, 0, 40, 100);
    ck_assert_events("SpendUpdate");
    s_spend_at(t += 10, 7, 41, 81, 100);
    ck_assert_events("BudgetAlert:80 SpendUpdate");
    s_spend_at(t += 10, 7, 20, 101, 100);
    ck_assert_events("BudgetAlert:100 HighSpendAlert SpendUpdate");
}
END_TEST

START_TEST(test_spend_budget_alert_payload_and_groups)
{
    s_cfg.spend_window_ms = 0;
    s_sp = s_new(NULL);
    cdt_ingress_t m = s_msg(7, 80.5, 80.5, 100);
    m.id = s_str("corr-9");
    ck_assert_int_eq(spend_ingest(s_sp, &m, T0, WALL0, s_err, sizeof s_err), 0);
    ck_assert_uint_eq(s_rec.n, 2);
    const recorder_event_t *ev = recorder_at(&s_rec, 0);
    ck_assert_str_eq(ev->hub, "SpendNotificationHub");
    ck_assert_str_eq(ev->target, "BudgetAlert");
    ck_assert_str_eq(recorder_groups(ev), "vkey-7");
    ck_assert_int_eq(ev->args.data.via.array.size, 1);
    ck_assert_double_eq(recorder_num(ev, "virtualKeyId"), 7);
    ck_assert_double_eq(recorder_num(ev, "threshold"), 80);
    ck_assert_double_eq_tol(recorder_num(ev, "percentage"), 80.5, 1e-9);
    ck_assert_double_eq_tol(recorder_num(ev, "remaining"), 19.5, 1e-9);
    ck_assert_double_eq(recorder_num(ev, "totalSpend"), 80.5);
    ck_assert_double_eq(recorder_num(ev, "budget"), 100);
    ck_assert(recorder_str_is(ev, "severity", "info"));
    ck_assert(recorder_str_is(ev, "alertType", "budget_80_percent"));
    ck_assert(recorder_str_is(ev, "timestamp", "2025-06-15T15:06:40.000Z"));
    ck_assert(recorder_str_is(ev, "correlationId", "corr-9"));
    ck_assert(recorder_str_is(ev, "requestId", "req-1"));
    const msgpack_object *msg = recorder_field(ev, "message");
    ck_assert_ptr_nonnull(msg);
    ck_assert_int_eq(msg->type, MSGPACK_OBJECT_STR);
    char text[256];
    snprintf(text, sizeof text, "%.*s", (int)msg->via.str.size,
             msg->via.str.ptr);
    ck_assert_ptr_nonnull(strstr(text, "80%"));

    const recorder_event_t *su = recorder_at(&s_rec, 1);
    ck_assert_str_eq(su->target, "SpendUpdate");
    ck_assert(recorder_str_is(su, "correlationId", "corr-9"));
    recorder_clear(&s_rec);

    m = s_msg(7, 10, 91, 100);
    ck_assert_int_eq(spend_ingest(s_sp, &m, T0, WALL0, s_err, sizeof s_err), 0);
    ev = recorder_at(&s_rec, 0);
    ck_assert(recorder_str_is(ev, "severity", "warning"));
    recorder_clear(&s_rec);

    m = s_msg(7, 30, 121, 100);
    ck_assert_int_eq(spend_ingest(s_sp, &m, T0, WALL0, s_err, sizeof s_err), 0);
    ck_assert_uint_eq(s_rec.n, 3);
    ev = recorder_at(&s_rec, 0);
    ck_assert(recorder_str_is(ev, "severity", "critical"));
    ck_assert(recorder_str_is(ev, "alertType", "budget_exceeded"));
    ck_assert_double_eq(recorder_num(ev, "remaining"), 0); /* not negative */
    const recorder_event_t *hs = recorder_at(&s_rec, 1);
    ck_assert_str_eq(hs->hub, "AdminNotificationHub");
    ck_assert_str_eq(hs->target, "HighSpendAlert");
    ck_assert_str_eq(recorder_groups(hs), "admin,admin-vkey-7");
    ck_assert(recorder_str_is(hs, "severity", "critical"));
    ck_assert_double_eq_tol(recorder_num(hs, "percentage"), 121, 1e-9);
    ck_assert(recorder_str_is(hs, "provider", "openai"));
}
END_TEST

START_TEST(test_spend_jump_sends_one_alert_for_the_highest)
{
    s_cfg.spend_window_ms = 0;
    s_sp = s_new(NULL);
    s_spend_at(T0, 3, 10, 10, 100);
    ck_assert_events("SpendUpdate");
    s_spend_at(T0 + 1, 3, 85, 95, 100);
    ck_assert_events("BudgetAlert:90 SpendUpdate");
    s_spend_at(T0 + 2, 3, 1, 96, 100);
    ck_assert_events("SpendUpdate");
    s_spend_at(T0 + 2, 3, -11, 85, 100); /* 80 was marked sent too */
    ck_assert_events("SpendUpdate");
    s_spend_at(T0 + 3, 3, 15, 100, 100);
    ck_assert_events("BudgetAlert:100 HighSpendAlert SpendUpdate");
    /* from nothing straight past 100: one BudgetAlert (100) */
    s_spend_at(T0 + 4, 4, 150, 150, 100);
    ck_assert_events("BudgetAlert:100 HighSpendAlert SpendUpdate");
    s_spend_at(T0 + 5, 4, 1, 151, 100);
    ck_assert_events("SpendUpdate");
}
END_TEST

START_TEST(test_spend_no_budget_no_alerts)
{
    s_cfg.spend_window_ms = 0;
    s_sp = s_new(NULL);
    s_spend_at(T0, 5, 500, 500, -1);     /* no budget field */
    s_spend_at(T0 + 1, 5, 500, 1000, 0); /* a budget of 0 means none */
    ck_assert_uint_eq(s_rec.n, 2);
    for (size_t i = 0; i < 2; i++) {
        const recorder_event_t *ev = recorder_at(&s_rec, i);
        ck_assert_str_eq(ev->target, "SpendUpdate");
        ck_assert(recorder_is_nil(ev, "budget"));
        ck_assert(recorder_is_nil(ev, "budgetPercentage"));
    }
    recorder_clear(&s_rec);
    /* a message without a budget leaves the alert state alone */
    s_spend_at(T0 + 2, 5, 0, 85, 100);
    ck_assert_events("BudgetAlert:80 SpendUpdate");
    s_spend_at(T0 + 3, 5, 0, 10, -1);
    s_spend_at(T0 + 4, 5, 0, 86, 100);
    ck_assert_events("SpendUpdate SpendUpdate");
}
END_TEST

START_TEST(test_spend_threshold_below_rearm_level_does_not_repeat)
{
    s_cfg.spend_window_ms = 0;
    s_cfg.spend_thresholds[0] = 30;
    s_cfg.spend_thresholds[1] = 80;
    s_cfg.spend_n_thresholds = 2;
    s_sp = s_new(NULL);
    s_spend_at(T0, 1, 40, 40, 100);
    ck_assert_events("BudgetAlert:30 SpendUpdate");
    s_spend_at(T0 + 1, 1, 1, 41, 100);
    s_spend_at(T0 + 2, 1, 1, 42, 100);
    ck_assert_events("SpendUpdate SpendUpdate");
    s_spend_at(T0 + 3, 1, 0, 20, 100); /* below 30: 30 re-arms */
    s_spend_at(T0 + 4, 1, 15, 35, 100);
    ck_assert_events("SpendUpdate BudgetAlert:30 SpendUpdate");
}
END_TEST

START_TEST(test_spend_router_refusal_is_survived)
{
    s_cfg.spend_window_ms = 0;
    s_sp = s_new(NULL);
    s_rec.refuse = 1;
    s_spend_at(T0, 1, 85, 85, 100);
    ck_assert_uint_eq(s_rec.n, 0);
    s_rec.refuse = 0;
    s_spend_at(T0 + 1, 1, 1, 86, 100); /* 80 counts as handled */
    ck_assert_events("SpendUpdate");
}
END_TEST

/* -------------------------------------------------------------------- */
/* batching and order                                                    */

START_TEST(test_spend_batches_per_key_per_window)
{
    s_cfg.spend_window_ms = 1000;
    s_sp = s_new(NULL);
    ck_assert_int_eq(spend_next_deadline(s_sp), -1);
    s_spend_at(T0, 1, 0.5, 10.5, 100);
    s_spend_at(T0 + 100, 2, 2, 2, -1);
    s_spend_at(T0 + 200, 1, 1.25, 11.75, 100);
    s_spend_at(T0 + 300, 1, 0.25, 12.0, 200);
    s_spend_at(T0 + 999, 1, 1, 13.0, 200);
    ck_assert_uint_eq(s_rec.n, 0);
    ck_assert_int_eq(spend_next_deadline(s_sp), T0 + 1000);
    spend_tick(s_sp, T0 + 999, WALL0);
    ck_assert_uint_eq(s_rec.n, 0);
    spend_tick(s_sp, T0 + 1000, WALL0 + 1000);
    ck_assert_uint_eq(s_rec.n, 1);
    const recorder_event_t *ev = recorder_at(&s_rec, 0);
    ck_assert_str_eq(ev->hub, "SpendNotificationHub");
    ck_assert_str_eq(ev->target, "SpendUpdate");
    ck_assert_str_eq(recorder_groups(ev), "vkey-1");
    ck_assert_double_eq_tol(recorder_num(ev, "newSpend"), 3.0, 1e-9);
    ck_assert_double_eq(recorder_num(ev, "requestCount"), 4);
    ck_assert_double_eq(recorder_num(ev, "totalSpend"), 13.0);
    ck_assert_double_eq(recorder_num(ev, "budget"), 200);
    ck_assert_double_eq_tol(recorder_num(ev, "budgetPercentage"), 6.5, 1e-9);
    ck_assert(recorder_str_is(ev, "provider", "openai"));
    ck_assert(recorder_str_is(ev, "model", "gpt-4o"));
    ck_assert(recorder_str_is(ev, "timestamp", "2025-06-15T15:06:41.000Z"));
    ck_assert_double_eq(recorder_num(ev, "virtualKeyId"), 1);
    recorder_clear(&s_rec);

    ck_assert_int_eq(spend_next_deadline(s_sp), T0 + 1100);
    spend_tick(s_sp, T0 + 1100, WALL0);
    ck_assert_uint_eq(s_rec.n, 1);
    ev = recorder_at(&s_rec, 0);
    ck_assert_str_eq(recorder_groups(ev), "vkey-2");
    ck_assert_double_eq(recorder_num(ev, "newSpend"), 2);
    ck_assert_double_eq(recorder_num(ev, "requestCount"), 1);
    recorder_clear(&s_rec);

    /* nothing pending: only the idle sweep is left */
    int64_t next = spend_next_deadline(s_sp);
    ck_assert_int_gt(next, T0 + 1100);
    spend_tick(s_sp, T0 + 1500, WALL0);
    ck_assert_uint_eq(s_rec.n, 0);

    /* a new batch starts its own window */
    s_spend_at(T0 + 1600, 1, 1, 14, 200);
    ck_assert_int_eq(spend_next_deadline(s_sp), T0 + 2600);
    spend_tick(s_sp, T0 + 2600, WALL0);
    ck_assert_uint_eq(s_rec.n, 1);
    ck_assert_double_eq(recorder_num(recorder_at(&s_rec, 0), "requestCount"),
                        1);
}
END_TEST

START_TEST(test_spend_window_zero_sends_at_once)
{
    s_cfg.spend_window_ms = 0;
    s_sp = s_new(NULL);
    s_spend_at(T0, 1, 1, 1, -1);
    ck_assert_uint_eq(s_rec.n, 1);
    s_spend_at(T0, 1, 2, 3, -1);
    ck_assert_uint_eq(s_rec.n, 2);
    ck_assert_double_eq(recorder_num(recorder_at(&s_rec, 1), "newSpend"), 2);
    ck_assert_double_eq(recorder_num(recorder_at(&s_rec, 1), "requestCount"),
                        1);
    int64_t next = spend_next_deadline(s_sp);
    ck_assert(next == -1 || next > T0); /* nothing pending now */
}
END_TEST

START_TEST(test_spend_alert_goes_before_the_update_that_caused_it)
{
    s_cfg.spend_window_ms = 1000;
    s_sp = s_new(NULL);
    s_spend_at(T0, 9, 70, 70, 100);
    ck_assert_uint_eq(s_rec.n, 0);
    s_spend_at(T0 + 10, 9, 15, 85, 100);
    ck_assert_uint_eq(s_rec.n, 2);
    ck_assert_str_eq(recorder_at(&s_rec, 0)->target, "BudgetAlert");
    const recorder_event_t *su = recorder_at(&s_rec, 1);
    ck_assert_str_eq(su->target, "SpendUpdate");
    /* the batch was flushed right after the alert, with the crossing spend */
    ck_assert_double_eq(recorder_num(su, "newSpend"), 85);
    ck_assert_double_eq(recorder_num(su, "requestCount"), 2);
    ck_assert_double_eq(recorder_num(su, "totalSpend"), 85);
    recorder_clear(&s_rec);
    spend_tick(s_sp, T0 + 5000, WALL0);
    ck_assert_uint_eq(s_rec.n, 0); /* nothing was left pending */
}
END_TEST

START_TEST(test_spend_flush_sends_everything_pending)
{
    s_sp = s_new(NULL);
    s_spend_at(T0, 1, 1, 1, -1);
    s_spend_at(T0, 2, 1, 1, -1);
    ck_assert_uint_eq(s_rec.n, 0);
    spend_flush(s_sp, WALL0);
    ck_assert_events("SpendUpdate SpendUpdate");
    spend_tick(s_sp, T0 + 10000, WALL0);
    ck_assert_uint_eq(s_rec.n, 0);
}
END_TEST

START_TEST(test_spend_rejects_bad_messages)
{
    s_sp = s_new(NULL);
    cdt_ingress_t m = s_msg(1, 1, 1, -1);
    m.has_key_id = false;
    ck_assert_int_eq(spend_ingest(s_sp, &m, T0, WALL0, s_err, sizeof s_err),
                     -1);
    ck_assert_str_eq(s_err, "missing field 'virtualKeyId'");
    m = s_msg(1, NAN, 1, -1);
    ck_assert_int_eq(spend_ingest(s_sp, &m, T0, WALL0, s_err, sizeof s_err),
                     -1);
    ck_assert_str_eq(s_err, "field 'amount' must be a finite number");
    m = s_msg(1, 1, INFINITY, -1);
    ck_assert_int_eq(spend_ingest(s_sp, &m, T0, WALL0, s_err, sizeof s_err),
                     -1);
    m = s_msg(1, 1, 1, -1);
    m.has_budget = true;
    m.budget = NAN;
    ck_assert_int_eq(spend_ingest(s_sp, &m, T0, WALL0, s_err, sizeof s_err),
                     -1);
    m = s_msg(1, 1, 1, -1);
    m.type = CDT_IN_TASK;
    ck_assert_int_eq(spend_ingest(s_sp, &m, T0, WALL0, s_err, sizeof s_err),
                     -1);
    spend_flush(s_sp, WALL0);
    ck_assert_uint_eq(s_rec.n, 0); /* nothing of it was kept */
}
END_TEST

START_TEST(test_spend_new_rejects_inconsistent_windows)
{
    s_cfg.spend_unusual_short_ms = s_cfg.spend_unusual_long_ms;
    ck_assert_ptr_null(spend_new(&s_cfg, NULL, recorder_emit, &s_rec));
}
END_TEST

START_TEST(test_spend_logs_one_line_per_notification)
{
    s_cfg.spend_window_ms = 0;
    s_sp = s_new(NULL);
    char path[] = "/tmp/cdt-spend-log-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    int saved = dup(STDERR_FILENO);
    ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    cdt_log_set_level(CDT_LOG_INFO);
    s_spend_at(T0, 123, 85, 85, 100);
    s_spend_at(T0 + 1, 123, 20, 105, 100);
    ck_assert_int_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    char text[4096] = "";
    ck_assert_int_ge(pread(fd, text, sizeof text - 1, 0), 0);
    close(fd);
    unlink(path);
    ck_assert_ptr_nonnull(
        strstr(text, "[SignalR:BudgetAlert] Sent notification - VirtualKey: "
                     "123, Threshold: 80%, Groups: [vkey-123]\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "[SignalR:BudgetAlert] Sent notification - VirtualKey: "
                     "123, Threshold: 100%, Groups: [vkey-123]\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "[SignalR:HighSpendAlert] Sent notification - "
                     "VirtualKey: 123, Percentage: 105.0%, Groups: [admin, "
                     "admin-vkey-123]\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "[SignalR:SpendUpdate] Sent notification - VirtualKey: "
                     "123, NewSpend: 85.0000, Requests: 1, Groups: "
                     "[vkey-123]\n"));
    int lines = 0;
    for (const char *p = text; (p = strchr(p, '\n')); p++)
        lines++;
    ck_assert_int_eq(lines, 5); /* 2 x BudgetAlert, 1 x High, 2 x Update */
}
END_TEST

/* -------------------------------------------------------------------- */
/* unusual spending                                                      */

static size_t
s_count(const char *target)
{
    size_t n = 0;
    for (size_t i = 0; i < s_rec.n; i++)
        n += strcmp(recorder_at(&s_rec, i)->target, target) == 0;
    return n;
}

/* Spends amount every step_ms in [from, to); returns the time after. */
static int64_t
s_steady(int64_t key, int64_t from, int64_t to, int64_t step_ms, double amount)
{
    int64_t t;
    for (t = from; t < to; t += step_ms) {
        s_spend_at(t, key, amount, 0, -1);
        spend_tick(s_sp, t, WALL0);
    }
    return t;
}

START_TEST(test_spend_unusual_not_on_steady_spend)
{
    s_sp = s_new(NULL);
    /* three hours of one spend a minute, then of one every 7 s: never
     * unusual, not even while the key is young */
    int64_t t = s_steady(1, T0, T0 + 180 * MIN_MS, MIN_MS, 1.0);
    s_steady(2, T0, T0 + 180 * MIN_MS, 7000, 0.3);
    ck_assert_int_gt(t, T0);
    ck_assert_uint_gt(s_count("SpendUpdate"), 0);
    ck_assert_uint_eq(s_count("UnusualSpending"), 0);
}
END_TEST

START_TEST(test_spend_unusual_fires_on_a_spike_once_per_cooldown)
{
    s_sp = s_new(NULL);
    int64_t t = s_steady(1, T0, T0 + 60 * MIN_MS, MIN_MS, 1.0);
    ck_assert_uint_eq(s_count("UnusualSpending"), 0);
    recorder_clear(&s_rec);

    /* a spike: 10 every 10 s, for 20 minutes */
    size_t first = SIZE_MAX;
    int64_t fired_at = 0;
    for (int64_t s = t; s < t + 20 * MIN_MS; s += 10000) {
        s_spend_at(s, 1, 10.0, 0, -1);
        if (first == SIZE_MAX && s_count("UnusualSpending") == 1) {
            first = s_rec.n;
            fired_at = s;
        }
    }
    ck_assert_uint_eq(s_count("UnusualSpending"), 1); /* cooldown: 1 h */
    ck_assert_int_le(fired_at - t, MIN_MS);           /* promptly */
    /* UnusualSpending, then the SpendUpdate holding that spend */
    ck_assert_uint_ge(first, 2);
    const recorder_event_t *us = recorder_at(&s_rec, first - 2);
    ck_assert_str_eq(us->target, "UnusualSpending");
    ck_assert_str_eq(recorder_at(&s_rec, first - 1)->target, "SpendUpdate");
    ck_assert_str_eq(us->hub, "SpendNotificationHub");
    ck_assert_str_eq(recorder_groups(us), "vkey-1");
    ck_assert(recorder_str_is(us, "activityType", "spend_spike"));
    double cur = recorder_num(us, "currentRate");
    double normal = recorder_num(us, "normalRate");
    ck_assert_double_eq_tol(normal, 60.0, 3.0); /* 1 per minute, per hour */
    ck_assert(cur > 3.0 * normal);
    ck_assert_double_eq_tol(recorder_num(us, "deviationPercentage"),
                            (cur / normal - 1) * 100, 1e-6);
}
END_TEST

START_TEST(test_spend_unusual_fires_again_after_cooldown)
{
    s_cfg.spend_unusual_cooldown_ms = 10 * MIN_MS;
    s_sp = s_new(NULL);
    int64_t t = s_steady(1, T0, T0 + 60 * MIN_MS, MIN_MS, 1.0);
    recorder_clear(&s_rec);
    int64_t fired[4];
    size_t n = 0;
    for (int64_t s = t; s < t + 15 * MIN_MS; s += 10000) {
        size_t before = s_count("UnusualSpending");
        s_spend_at(s, 1, 10.0, 0, -1);
        if (s_count("UnusualSpending") > before && n < 4)
            fired[n++] = s;
    }
    ck_assert_uint_eq(n, 2);
    ck_assert_int_ge(fired[1] - fired[0], 10 * MIN_MS);
    ck_assert_int_le(fired[1] - fired[0], 10 * MIN_MS + 10000);
}
END_TEST

static void
s_sparse_then_spike(int baseline_spends)
{
    s_sp = s_new(NULL);
    int64_t t = T0;
    for (int i = 0; i < baseline_spends; i++, t += 8 * MIN_MS)
        s_spend_at(t, 1, 1.0, 0, -1);
    t = T0 + 50 * MIN_MS;
    for (int i = 0; i < 20; i++, t += 10000) /* within one short window */
        s_spend_at(t, 1, 10.0, 0, -1);
}

START_TEST(test_spend_unusual_needs_enough_samples)
{
    s_sparse_then_spike(4); /* min_samples is 5 */
    ck_assert_uint_eq(s_count("UnusualSpending"), 0);
}
END_TEST

START_TEST(test_spend_unusual_fires_with_enough_samples)
{
    s_sparse_then_spike(5); /* the same, with one spend more */
    ck_assert_uint_eq(s_count("UnusualSpending"), 1);
}
END_TEST

START_TEST(test_spend_unusual_not_for_a_new_key)
{
    s_sp = s_new(NULL);
    /* a key that starts with a burst has no baseline to compare with */
    s_steady(1, T0, T0 + 4 * MIN_MS, 1000, 5.0);
    ck_assert_uint_eq(s_count("UnusualSpending"), 0);
}
END_TEST

START_TEST(test_spend_idle_keys_are_forgotten_but_alert_state_is_kept)
{
    s_cfg.spend_window_ms = 0;
    s_sp = s_new(NULL);
    s_spend_at(T0, 1, 85, 85, 100); /* alert state */
    s_spend_at(T0, 2, 1, 1, 100);   /* none */
    recorder_clear(&s_rec);
    for (int64_t t = T0; t <= T0 + 3 * 60 * MIN_MS; t += MIN_MS)
        spend_tick(s_sp, t, WALL0);
    ck_assert_int_eq(spend_next_deadline(s_sp) >= 0, 1); /* key 1 is left */
    s_spend_at(T0 + 200 * MIN_MS, 1, 1, 86, 100);
    ck_assert_events("SpendUpdate"); /* 80 still counts as sent */
}
END_TEST

/* -------------------------------------------------------------------- */
/* durability                                                            */

static char *s_dir;

static void
s_store_setup(void)
{
    s_setup();
    s_dir = tmpdir_new();
}

static void
s_store_teardown(void)
{
    s_teardown();
    tmpdir_remove(&s_dir);
}

START_TEST(test_spend_alert_state_survives_restart)
{
    s_cfg.spend_window_ms = 0;
    store_t *st = store_open(s_dir);
    ck_assert_ptr_nonnull(st);
    s_sp = s_new(st);
    s_spend_at(T0, 7, 85, 85, 100);
    s_spend_at(T0, 8, 101, 101, 100);
    ck_assert_events(
        "BudgetAlert:80 SpendUpdate BudgetAlert:100 HighSpendAlert "
        "SpendUpdate");
    /* the broker dies: nothing is flushed, the store is simply reopened */
    spend_destroy(&s_sp);
    store_destroy(&st);

    st = store_open(s_dir);
    s_sp = s_new(st);
    s_spend_at(T0, 7, 1, 86, 100);
    s_spend_at(T0, 8, 1, 102, 100);
    ck_assert_events("SpendUpdate SpendUpdate"); /* nothing re-sent */
    s_spend_at(T0, 7, 5, 91, 100);
    ck_assert_events("BudgetAlert:90 SpendUpdate");

    /* re-arming is durable too */
    s_spend_at(T0, 7, 0, 10, 100);
    recorder_clear(&s_rec);
    spend_destroy(&s_sp);
    store_destroy(&st);
    st = store_open(s_dir);
    s_sp = s_new(st);
    s_spend_at(T0, 7, 75, 85, 100);
    ck_assert_events("BudgetAlert:80 SpendUpdate");
    spend_destroy(&s_sp);
    store_destroy(&st);
}
END_TEST

START_TEST(test_spend_stored_thresholds_map_onto_a_new_list)
{
    s_cfg.spend_window_ms = 0;
    store_t *st = store_open(s_dir);
    s_sp = s_new(st);
    s_spend_at(T0, 7, 92, 92, 100); /* 80 and 90 sent */
    recorder_clear(&s_rec);
    spend_destroy(&s_sp);

    s_cfg.spend_thresholds[0] = 80;
    s_cfg.spend_thresholds[1] = 95;
    s_cfg.spend_thresholds[2] = 100;
    s_sp = s_new(st);
    s_spend_at(T0, 7, 1, 93, 100);
    ck_assert_events("SpendUpdate"); /* 80 known as sent */
    s_spend_at(T0, 7, 3, 96, 100);
    ck_assert_events("BudgetAlert:95 SpendUpdate");
    spend_destroy(&s_sp);
    store_destroy(&st);
}
END_TEST

START_TEST(test_spend_ignores_unreadable_stored_state)
{
    s_cfg.spend_window_ms = 0;
    store_t *st = store_open(s_dir);
    ck_assert_int_eq(store_put(st, "alert", "7", 1, "\xc1", 1), 0);
    ck_assert_int_eq(store_put(st, "alert", "x9", 2, "\x80", 1), 0);
    s_sp = s_new(st);
    s_spend_at(T0, 7, 85, 85, 100);
    ck_assert_events("BudgetAlert:80 SpendUpdate");
    spend_destroy(&s_sp);
    store_destroy(&st);
}
END_TEST

Suite *
spend_suite(void)
{
    Suite *s = suite_create("spend");
    TCase *tc = tcase_create("budget");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_add_test(tc, test_spend_thresholds_cross_rearm_and_cross_again);
    tcase_add_test(tc, test_spend_budget_alert_payload_and_groups);
    tcase_add_test(tc, test_spend_jump_sends_one_alert_for_the_highest);
    tcase_add_test(tc, test_spend_no_budget_no_alerts);
    tcase_add_test(tc, test_spend_threshold_below_rearm_level_does_not_repeat);
    tcase_add_test(tc, test_spend_router_refusal_is_survived);
    tcase_add_test(tc, test_spend_logs_one_line_per_notification);
    suite_add_tcase(s, tc);

    tc = tcase_create("batching");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_add_test(tc, test_spend_batches_per_key_per_window);
    tcase_add_test(tc, test_spend_window_zero_sends_at_once);
    tcase_add_test(tc, test_spend_alert_goes_before_the_update_that_caused_it);
    tcase_add_test(tc, test_spend_flush_sends_everything_pending);
    tcase_add_test(tc, test_spend_rejects_bad_messages);
    tcase_add_test(tc, test_spend_new_rejects_inconsistent_windows);
    suite_add_tcase(s, tc);

    tc = tcase_create("unusual");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_add_test(tc, test_spend_unusual_not_on_steady_spend);
    tcase_add_test(tc, test_spend_unusual_fires_on_a_spike_once_per_cooldown);
    tcase_add_test(tc, test_spend_unusual_fires_again_after_cooldown);
    tcase_add_test(tc, test_spend_unusual_needs_enough_samples);
    tcase_add_test(tc, test_spend_unusual_fires_with_enough_samples);
    tcase_add_test(tc, test_spend_unusual_not_for_a_new_key);
    tcase_add_test(tc,
                   test_spend_idle_keys_are_forgotten_but_alert_state_is_kept);
    suite_add_tcase(s, tc);

    tc = tcase_create("durability");
    tcase_add_checked_fixture(tc, s_store_setup, s_store_teardown);
    tcase_add_test(tc, test_spend_alert_state_survives_restart);
    tcase_add_test(tc, test_spend_stored_thresholds_map_onto_a_new_list);
    tcase_add_test(tc, test_spend_ignores_unreadable_stored_state);
    suite_add_tcase(s, tc);
    return s;
}
