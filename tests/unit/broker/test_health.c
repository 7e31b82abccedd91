/*
 * test_health - provider health hysteresis: flapping announces nothing, a
 * real change announces once to the right hubs and groups, and the state
 * survives a restart.
 *
 * SPDX-License-Identifier: MIT
 */
#include "broker/health.h"

#include "common/cdt_mem.h"
#include "tests/unit/broker/recorder.h"
#include "tests/unit/broker/tmpdir.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Suite *health_suite(void);

#define WALL0 INT64_C(1750000000000)

static cdt_config_t s_cfg;
static recorder_t s_rec;
static health_t *s_h;
static char s_err[256];
static char *s_dir;

static void
s_setup(void)
{
    cdt_config_init(&s_cfg);
    recorder_init(&s_rec);
    s_h = NULL;
    s_dir = tmpdir_new();
}

static void
s_teardown(void)
{
    health_destroy(&s_h);
    recorder_release(&s_rec);
    cdt_config_release(&s_cfg);
    tmpdir_remove(&s_dir);
}

static health_t *
s_new(store_t *store)
{
    health_t *h = health_new(&s_cfg, store, recorder_emit, &s_rec);
    ck_assert_ptr_nonnull(h);
    return h;
}

static cdt_ingress_t
s_msg(const char *provider, enum cdt_health_status status)
{
    cdt_ingress_t m;
    memset(&m, 0, sizeof m);
    m.type = CDT_IN_PROVIDER_HEALTH;
    m.provider = (cdt_str_t){provider, strlen(provider)};
    m.health = status;
    return m;
}

/* Reports a sequence: 'h' healthy, 'd' degraded, 'u' unhealthy. */
static void
s_reports(const char *provider, const char *seq)
{
    for (const char *p = seq; *p; p++) {
        enum cdt_health_status st = *p == 'h'   ? CDT_HEALTH_HEALTHY
                                    : *p == 'd' ? CDT_HEALTH_DEGRADED
                                                : CDT_HEALTH_UNHEALTHY;
        cdt_ingress_t m = s_msg(provider, st);
        ck_assert_int_eq(health_ingest(s_h, &m, WALL0, s_err, sizeof s_err), 0);
    }
}

/* The announced changes so far as "status<-previous" pairs, one per
 * SystemNotificationHub event; then forgets them. */
static char *
s_take(void)
{
    char *out = cdt_xstrdup("");
    for (size_t i = 0; i < s_rec.n; i++) {
        const recorder_event_t *ev = recorder_at(&s_rec, i);
        if (strcmp(ev->hub, "SystemNotificationHub") != 0)
            continue;
        const msgpack_object *st = recorder_field(ev, "status");
        const msgpack_object *prev = recorder_field(ev, "previousStatus");
        char *next = cdt_xasprintf(
            "%s%s%.*s<-%.*s", out, *out ? " " : "", (int)st->via.str.size,
            st->via.str.ptr,
            prev->type == MSGPACK_OBJECT_STR ? (int)prev->via.str.size : 4,
            prev->type == MSGPACK_OBJECT_STR ? prev->via.str.ptr : "null");
        free(out);
        out = next;
    }
    recorder_clear(&s_rec);
    return out;
}

#define ck_assert_changes(want)         \
    do {                                \
        char *got_ = s_take();          \
        ck_assert_str_eq(got_, (want)); \
        free(got_);                     \
    } while (0)

START_TEST(test_health_first_status_announced_after_hysteresis)
{
    s_h = s_new(NULL);
    ck_assert_int_eq(health_status(s_h, "openai"), 0);
    s_reports("openai", "hh");
    ck_assert_uint_eq(s_rec.n, 0);
    ck_assert_int_eq(health_status(s_h, "openai"), 0);
    s_reports("openai", "h");
    ck_assert_changes("healthy<-null");
    ck_assert_int_eq(health_status(s_h, "openai"), CDT_HEALTH_HEALTHY);
    s_reports("openai", "hhhhhh");
    ck_assert_uint_eq(s_rec.n, 0);
}
END_TEST

START_TEST(test_health_flapping_announces_nothing)
{
    s_h = s_new(NULL);
    s_reports("openai", "hhh");
    ck_assert_changes("healthy<-null");
    s_reports("openai", "uhuhuhuhuhuhuhuhuh");
    s_reports("openai", "uuhuuhuuh"); /* two in a row is not three */
    s_reports("openai", "dudududu");  /* wavering between bad statuses */
    s_reports("openai", "h");
    ck_assert_uint_eq(s_rec.n, 0);
    ck_assert_int_eq(health_status(s_h, "openai"), CDT_HEALTH_HEALTHY);
}
END_TEST

START_TEST(test_health_real_change_sends_one_event_to_each_hub)
{
    s_h = s_new(NULL);
    s_reports("anthropic", "hhh");
    recorder_clear(&s_rec);
    s_reports("anthropic", "uu");
    ck_assert_uint_eq(s_rec.n, 0);
    cdt_ingress_t m = s_msg("anthropic", CDT_HEALTH_UNHEALTHY);
    m.has_response_ms = true;
    m.response_ms = 5012.5;
    m.details = (cdt_str_t){"timeouts", 8};
    ck_assert_int_eq(health_ingest(s_h, &m, WALL0, s_err, sizeof s_err), 0);
    ck_assert_uint_eq(s_rec.n, 2);

    const recorder_event_t *sys = recorder_at(&s_rec, 0);
    ck_assert_str_eq(sys->hub, "SystemNotificationHub");
    ck_assert_str_eq(sys->target, "ProviderHealthChanged");
    ck_assert_str_eq(recorder_groups(sys), "system-notifications");
    const recorder_event_t *adm = recorder_at(&s_rec, 1);
    ck_assert_str_eq(adm->hub, "AdminNotificationHub");
    ck_assert_str_eq(adm->target, "ProviderHealthChanged");
    ck_assert_str_eq(recorder_groups(adm), "admin,admin-provider-anthropic");
    for (size_t i = 0; i < 2; i++) {
        const recorder_event_t *ev = recorder_at(&s_rec, i);
        ck_assert(recorder_str_is(ev, "provider", "anthropic"));
        ck_assert(recorder_str_is(ev, "status", "unhealthy"));
        ck_assert(recorder_str_is(ev, "previousStatus", "healthy"));
        ck_assert_double_eq(recorder_num(ev, "responseTimeMs"), 5012.5);
        ck_assert(recorder_str_is(ev, "details", "timeouts"));
        ck_assert(recorder_str_is(ev, "timestamp", "2025-06-15T15:06:40.000Z"));
    }
    recorder_clear(&s_rec);
    s_reports("anthropic", "uuuuu");
    ck_assert_uint_eq(s_rec.n, 0);
    s_reports("anthropic", "ddd");
    ck_assert_changes("degraded<-unhealthy");
    s_reports("anthropic", "hhuhhh"); /* the u resets the streak */
    ck_assert_changes("healthy<-degraded");
}
END_TEST

START_TEST(test_health_providers_are_independent)
{
    s_h = s_new(NULL);
    s_reports("a", "h");
    s_reports("b", "h");
    s_reports("a", "h");
    s_reports("b", "u");
    s_reports("a", "h");
    ck_assert_changes("healthy<-null");
    ck_assert_int_eq(health_status(s_h, "a"), CDT_HEALTH_HEALTHY);
    ck_assert_int_eq(health_status(s_h, "b"), 0);
}
END_TEST

START_TEST(test_health_hysteresis_one_is_immediate)
{
    s_cfg.health_hysteresis = 1;
    s_h = s_new(NULL);
    s_reports("p", "hudh");
    ck_assert_changes("healthy<-null unhealthy<-healthy degraded<-unhealthy "
                      "healthy<-degraded");
}
END_TEST

START_TEST(test_health_absent_fields_are_null)
{
    s_h = s_new(NULL);
    s_reports("p", "ddd");
    const recorder_event_t *ev = recorder_at(&s_rec, 0);
    ck_assert(recorder_is_nil(ev, "previousStatus"));
    ck_assert(recorder_is_nil(ev, "responseTimeMs"));
    ck_assert(recorder_is_nil(ev, "details"));
    ck_assert_ptr_null(recorder_field(ev, "correlationId"));
}
END_TEST

START_TEST(test_health_rejects_bad_messages)
{
    s_h = s_new(NULL);
    cdt_ingress_t m = s_msg("", CDT_HEALTH_HEALTHY);
    ck_assert_int_eq(health_ingest(s_h, &m, WALL0, s_err, sizeof s_err), -1);
    ck_assert_str_eq(s_err, "missing field 'provider'");
    m = s_msg("bad\nname", CDT_HEALTH_HEALTHY);
    ck_assert_int_eq(health_ingest(s_h, &m, WALL0, s_err, sizeof s_err), -1);
    char *big = cdt_xmalloc(HEALTH_PROVIDER_MAX + 2);
    memset(big, 'p', HEALTH_PROVIDER_MAX + 1);
    big[HEALTH_PROVIDER_MAX + 1] = '\0';
    m = s_msg(big, CDT_HEALTH_HEALTHY);
    ck_assert_int_eq(health_ingest(s_h, &m, WALL0, s_err, sizeof s_err), -1);
    big[HEALTH_PROVIDER_MAX] = '\0';
    m = s_msg(big, CDT_HEALTH_HEALTHY);
    ck_assert_int_eq(health_ingest(s_h, &m, WALL0, s_err, sizeof s_err), 0);
    free(big);
    m = s_msg("p", 0);
    ck_assert_int_eq(health_ingest(s_h, &m, WALL0, s_err, sizeof s_err), -1);
    ck_assert_str_eq(s_err,
                     "field 'status' must be healthy, degraded or unhealthy");
    m = s_msg("p", CDT_HEALTH_HEALTHY);
    m.type = CDT_IN_SPEND;
    ck_assert_int_eq(health_ingest(s_h, &m, WALL0, s_err, sizeof s_err), -1);
}
END_TEST

START_TEST(test_health_bounds_the_number_of_providers)
{
    s_h = s_new(NULL);
    char name[32];
    for (int i = 0; i < HEALTH_MAX_PROVIDERS; i++) {
        snprintf(name, sizeof name, "p%d", i);
        s_reports(name, "h");
    }
    cdt_ingress_t m = s_msg("one-more", CDT_HEALTH_HEALTHY);
    ck_assert_int_eq(health_ingest(s_h, &m, WALL0, s_err, sizeof s_err), -1);
    s_reports("p0", "h"); /* known providers still work */
}
END_TEST

START_TEST(test_health_state_survives_restart)
{
    store_t *st = store_open(s_dir);
    ck_assert_ptr_nonnull(st);
    s_h = s_new(st);
    s_reports("openai", "hhh");
    s_reports("azure", "hhh");
    ck_assert_changes("healthy<-null healthy<-null");
    s_reports("openai", "uu"); /* a streak in progress */
    health_destroy(&s_h);      /* the broker dies */
    store_destroy(&st);

    st = store_open(s_dir);
    s_h = s_new(st);
    ck_assert_int_eq(health_status(s_h, "openai"), CDT_HEALTH_HEALTHY);
    s_reports("azure", "hhh");
    ck_assert_uint_eq(s_rec.n, 0); /* not announced a second time */
    s_reports("openai", "u");      /* the third in a row, across the restart */
    ck_assert_changes("unhealthy<-healthy");
    health_destroy(&s_h);
    store_destroy(&st);

    st = store_open(s_dir);
    s_h = s_new(st);
    ck_assert_int_eq(health_status(s_h, "openai"), CDT_HEALTH_UNHEALTHY);
    s_reports("openai", "u");
    ck_assert_uint_eq(s_rec.n, 0);
    health_destroy(&s_h);
    store_destroy(&st);
}
END_TEST

START_TEST(test_health_ignores_unreadable_stored_state)
{
    store_t *st = store_open(s_dir);
    ck_assert_int_eq(store_put(st, "health", "x", 1, "\xc1", 1), 0);
    s_h = s_new(st);
    ck_assert_int_eq(health_status(s_h, "x"), 0);
    s_reports("x", "hhh");
    ck_assert_changes("healthy<-null");
    health_destroy(&s_h);
    store_destroy(&st);
}
END_TEST

Suite *
health_suite(void)
{
    Suite *s = suite_create("health");
    TCase *tc = tcase_create("hysteresis");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_add_test(tc, test_health_first_status_announced_after_hysteresis);
    tcase_add_test(tc, test_health_flapping_announces_nothing);
    tcase_add_test(tc, test_health_real_change_sends_one_event_to_each_hub);
    tcase_add_test(tc, test_health_providers_are_independent);
    tcase_add_test(tc, test_health_hysteresis_one_is_immediate);
    tcase_add_test(tc, test_health_absent_fields_are_null);
    tcase_add_test(tc, test_health_rejects_bad_messages);
    tcase_add_test(tc, test_health_bounds_the_number_of_providers);
    suite_add_tcase(s, tc);
    tc = tcase_create("durability");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_add_test(tc, test_health_state_survives_restart);
    tcase_add_test(tc, test_health_ignores_unreadable_stored_state);
    suite_add_tcase(s, tc);
    return s;
}
