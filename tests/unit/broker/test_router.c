/*
 * test_router - the real router over the real group registry and the
 * default catalog, with a fake send function: which gateways get an
 * event, that each gets exactly one EVENT, and what is refused.
 *
 * SPDX-License-Identifier: MIT
 */
#include "broker/router.h"

#include "proto/cdt_link.h"
#include "tests/unit/broker/linkrx.h"

#include <check.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Suite *router_suite(void);

#define MAX_SENDS 16

typedef struct sends {
    uint32_t gw[MAX_SENDS];
    uint8_t *frame[MAX_SENDS];
    size_t len[MAX_SENDS];
    int n;
} sends_t;

static int
s_send(void *arg, uint32_t gw, const void *frame, size_t len)
{
    sends_t *s = arg;
    ck_assert_int_lt(s->n, MAX_SENDS);
    s->gw[s->n] = gw;
    s->frame[s->n] = malloc(len);
    memcpy(s->frame[s->n], frame, len);
    s->len[s->n] = len;
    s->n++;
    return 0;
}

static void
s_sends_clear(sends_t *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->frame[i]);
    s->n = 0;
}

static bool
s_sent_to(const sends_t *s, uint32_t gw)
{
    for (int i = 0; i < s->n; i++)
        if (s->gw[i] == gw)
            return true;
    return false;
}

typedef struct fixture {
    cdt_catalog_t *cat;
    groups_t *groups;
    router_t *router;
    sends_t sends;
    size_t task_hub;
} fixture_t;

static void
s_setup(fixture_t *f)
{
    memset(f, 0, sizeof *f);
    char err[256];
    f->cat = cdt_catalog_load("etc/hubs.yaml", err, sizeof err);
    ck_assert_msg(f->cat != NULL, "catalog: %s", err);
    f->groups = groups_new(f->cat->n_hubs);
    f->router = router_new(f->cat, f->groups, s_send, &f->sends);
    const cdt_hub_t *h = cdt_catalog_hub(f->cat, "TaskHub", 7);
    ck_assert_ptr_nonnull(h);
    f->task_hub = h->index;
}

static void
s_teardown(fixture_t *f)
{
    s_sends_clear(&f->sends);
    router_destroy(&f->router);
    groups_destroy(&f->groups);
    cdt_catalog_destroy(&f->cat);
}

/* ["t1", 5] */
static const uint8_t s_args[] = {0x92, 0xa2, 't', '1', 0x05};

/* The frame a gateway writes for the decoded EVENT m must be want. */
static void
s_ck_frame(const cdt_link_msg_t *m, const char *want)
{
    cdt_buf_t frame = CDT_BUF_INIT;
    linkrx_event_frame(m, &frame);
    ck_assert_str_eq((char *)frame.data, want);
    cdt_buf_release(&frame);
}

START_TEST(test_router_sends_only_to_gateways_with_members)
{
    fixture_t f;
    s_setup(&f);
    /* gw 0: vkey-1 and task-x; gw 2: task-x; gw 4: vkey-9 only */
    groups_conn_t *a = groups_conn_open(f.groups, 0, 1, f.task_hub, 1, 0);
    groups_conn_t *b = groups_conn_open(f.groups, 0, 2, f.task_hub, 1, 0);
    groups_conn_t *c = groups_conn_open(f.groups, 2, 1, f.task_hub, 2, 0);
    groups_conn_t *d = groups_conn_open(f.groups, 4, 1, f.task_hub, 9, 0);
    groups_join(f.groups, a, "vkey-1");
    groups_join(f.groups, b, "task-x");
    groups_join(f.groups, c, "task-x");
    groups_join(f.groups, d, "vkey-9");

    const char *groups[] = {"task-x", "vkey-1"};
    char err[128];
    ck_assert_int_eq(router_route(f.router, "TaskHub", groups, 2,
                                  "TaskProgress", s_args, sizeof s_args, err,
                                  sizeof err),
                     0);
    ck_assert_int_eq(f.sends.n, 2); /* one EVENT per gateway */
    ck_assert(s_sent_to(&f.sends, 0));
    ck_assert(s_sent_to(&f.sends, 2));
    ck_assert(!s_sent_to(&f.sends, 4));
    /* the same bytes to both */
    ck_assert_uint_eq(f.sends.len[0], f.sends.len[1]);
    ck_assert_int_eq(memcmp(f.sends.frame[0], f.sends.frame[1], f.sends.len[0]),
                     0);

    msgpack_zone zone;
    msgpack_zone_init(&zone, 1024);
    cdt_link_msg_t m;
    ck_assert_int_eq(
        cdt_link_decode(f.sends.frame[0], f.sends.len[0], &zone, &m), 0);
    ck_assert_int_eq(m.kind, CDT_LINK_EVENT);
    ck_assert_uint_eq(m.seq, 1);
    ck_assert_uint_eq(m.hub.len, 7);
    ck_assert_int_eq(memcmp(m.hub.ptr, "TaskHub", 7), 0);
    ck_assert_uint_eq(m.groups.n, 2);
    /* the arguments' bytes as given, and the frame a gateway makes */
    ck_assert_uint_eq(m.args.len, sizeof s_args);
    ck_assert_int_eq(memcmp(m.args.ptr, s_args, sizeof s_args), 0);
    ck_assert_uint_eq(m.data.len, 0);
    ck_assert_uint_eq(m.add.n, 0);
    s_ck_frame(&m, "{\"type\":1,\"target\":\"TaskProgress\",\"arguments\":"
                   "[\"t1\",5]}\x1e");
    msgpack_zone_destroy(&zone);

    /* the next event has the next sequence number */
    s_sends_clear(&f.sends);
    const char *one[] = {"vkey-9"};
    ck_assert_int_eq(router_route(f.router, "/hubs/tasks", one, 1,
                                  "TaskStarted", s_args, sizeof s_args, err,
                                  sizeof err),
                     0);
    ck_assert_int_eq(f.sends.n, 1);
    ck_assert_uint_eq(f.sends.gw[0], 4);
    ck_assert_uint_eq(router_seq(f.router), 2);
    ck_assert_uint_eq(router_counters(f.router)->sends, 3);
    s_teardown(&f);
}
END_TEST

START_TEST(test_router_groups_are_per_hub)
{
    fixture_t f;
    s_setup(&f);
    const cdt_hub_t *spend = cdt_catalog_hub(f.cat, "SpendNotificationHub", 20);
    ck_assert_ptr_nonnull(spend);
    groups_conn_t *a = groups_conn_open(f.groups, 1, 1, spend->index, 1, 0);
    groups_join(f.groups, a, "vkey-1");
    const char *g[] = {"vkey-1"};
    /* vkey-1 on TaskHub has no member: nothing sent */
    ck_assert_int_eq(router_route(f.router, "TaskHub", g, 1, "TaskStarted",
                                  s_args, sizeof s_args, NULL, 0),
                     0);
    ck_assert_int_eq(f.sends.n, 0);
    ck_assert_uint_eq(router_counters(f.router)->unheard, 1);
    ck_assert_uint_eq(router_seq(f.router), 0);
    ck_assert_int_eq(router_route(f.router, "SpendNotificationHub", g, 1,
                                  "SpendUpdate", s_args, sizeof s_args, NULL,
                                  0),
                     0);
    ck_assert_int_eq(f.sends.n, 1);
    ck_assert_uint_eq(f.sends.gw[0], 1);
    ck_assert_uint_eq(router_hub_events(f.router, spend->index), 1);
    s_teardown(&f);
}
END_TEST

START_TEST(test_router_refusals)
{
    fixture_t f;
    s_setup(&f);
    groups_conn_t *a = groups_conn_open(f.groups, 0, 1, f.task_hub, 1, 0);
    groups_join(f.groups, a, "vkey-1");
    const char *g[] = {"vkey-1"};
    char err[128];
    ck_assert_int_eq(router_route(f.router, "Nope", g, 1, "TaskStarted", s_args,
                                  sizeof s_args, err, sizeof err),
                     -1);
    ck_assert_str_eq(err, "unknown hub 'Nope'");
    ck_assert_int_eq(router_route(f.router, "TaskHub", g, 1, "SpendUpdate",
                                  s_args, sizeof s_args, err, sizeof err),
                     -1);
    ck_assert_str_eq(err, "event 'SpendUpdate' is not allowed on hub "
                          "'TaskHub'");
    ck_assert_int_eq(router_route(f.router, "TaskHub", g, 0, "TaskStarted",
                                  s_args, sizeof s_args, err, sizeof err),
                     -1);
    ck_assert_str_eq(err, "no target group");
    const char *empty[] = {""};
    ck_assert_int_eq(router_route(f.router, "TaskHub", empty, 1, "TaskStarted",
                                  s_args, sizeof s_args, err, sizeof err),
                     -1);
    const uint8_t map[] = {0x80};
    ck_assert_int_eq(router_route(f.router, "TaskHub", g, 1, "TaskStarted", map,
                                  sizeof map, err, sizeof err),
                     -1);
    ck_assert_str_eq(err, "arguments must be an array");
    /* a truncated array, or one with a byte after it, is refused before
     * it reaches a gateway, which could not write it as JSON */
    const uint8_t cut[] = {0x92, 0xa2, 't'};
    ck_assert_int_eq(router_route(f.router, "TaskHub", g, 1, "TaskStarted", cut,
                                  sizeof cut, err, sizeof err),
                     -1);
    ck_assert_str_eq(err, "arguments must be an array");
    const uint8_t more[] = {0x91, 0x01, 0xc0};
    ck_assert_int_eq(router_route(f.router, "TaskHub", g, 1, "TaskStarted",
                                  more, sizeof more, err, sizeof err),
                     -1);
    ck_assert_int_eq(f.sends.n, 0);
    ck_assert_uint_eq(router_counters(f.router)->refused, 7);
    /* the emit_fn form refuses the same way */
    ck_assert_int_eq(
        router_emit(f.router, "Nope", g, 1, "X", s_args, sizeof s_args), -1);
    ck_assert_int_eq(router_emit(f.router, "TaskHub", g, 1, "TaskStarted",
                                 s_args, sizeof s_args),
                     0);
    ck_assert_int_eq(f.sends.n, 1);
    s_teardown(&f);
}
END_TEST

/* router_route_event with data: the EVENT carries data and its pairs as
 * given, and a gateway's frame has the pairs the map lacks; no data, or
 * more pairs than the link carries, is refused with its reason. */
START_TEST(test_router_event_data_and_pairs)
{
    fixture_t f;
    s_setup(&f);
    groups_conn_t *a = groups_conn_open(f.groups, 0, 1, f.task_hub, 1, 0);
    groups_join(f.groups, a, "task-x");
    const char *groups[] = {"task-x"};
    const size_t lens[] = {6};
    cdt_link_pair_t add[CDT_LINK_MAX_ADD + 1];
    for (size_t i = 0; i <= CDT_LINK_MAX_ADD; i++)
        add[i] = (cdt_link_pair_t){{"timestamp", 9}, {"T0", 2}};
    add[1] = (cdt_link_pair_t){{"n", 1}, {"ignored", 7}};
    router_event_t ev = {
        .hub = "TaskHub",
        .hub_len = 7,
        .groups = groups,
        .group_lens = lens,
        .n_groups = 1,
        .target = "TaskProgress",
        .target_len = 12,
        .mp = {.data = {"\x81\xa1n\x01", 4}, .add = add, .n_add = 2},
    };
    char err[128];
    ck_assert_int_eq(router_route_event(f.router, &ev, err, sizeof err), 0);
    ck_assert_int_eq(f.sends.n, 1);
    msgpack_zone zone;
    msgpack_zone_init(&zone, 1024);
    cdt_link_msg_t m;
    ck_assert_int_eq(
        cdt_link_decode(f.sends.frame[0], f.sends.len[0], &zone, &m), 0);
    ck_assert_uint_eq(m.args.len, 0);
    ck_assert(m.data.len == 4 && memcmp(m.data.ptr, "\x81\xa1n\x01", 4) == 0);
    ck_assert_uint_eq(m.add.n, 4);
    s_ck_frame(&m, "{\"type\":1,\"target\":\"TaskProgress\",\"arguments\":"
                   "[{\"n\":1,\"timestamp\":\"T0\"}]}\x1e");
    msgpack_zone_destroy(&zone);

    ev.mp.data = (cdt_str_t){"", 0};
    ck_assert_int_eq(router_route_event(f.router, &ev, err, sizeof err), -1);
    ck_assert_str_eq(err, "data must be one value, with at most 8 pairs to "
                          "add");
    ev.mp.data = (cdt_str_t){"\x80", 1};
    ev.mp.n_add = CDT_LINK_MAX_ADD + 1;
    ck_assert_int_eq(router_route_event(f.router, &ev, err, sizeof err), -1);
    ck_assert_int_eq(f.sends.n, 1);
    s_teardown(&f);
}
END_TEST

Suite *
router_suite(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("route");
    tcase_add_test(tc, test_router_sends_only_to_gateways_with_members);
    tcase_add_test(tc, test_router_groups_are_per_hub);
    tcase_add_test(tc, test_router_refusals);
    tcase_add_test(tc, test_router_event_data_and_pairs);
    suite_add_tcase(s, tc);
    return s;
}
