/*
 * test_groups - membership per hub, per-gateway counts, dropping a gateway
 * or a key at once, and routing to exactly the gateways with members.
 *
 * SPDX-License-Identifier: MIT
 */
#include "broker/groups.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Suite *groups_suite(void);

/* True if gw is among the n routed slots. */
static bool
s_routed(const uint32_t *gws, size_t n, uint32_t gw)
{
    for (size_t i = 0; i < n; i++)
        if (gws[i] == gw)
            return true;
    return false;
}

START_TEST(test_groups_join_leave_counts_once)
{
    groups_t *g = groups_new(2);
    groups_conn_t *c = groups_conn_open(g, 0, 1, 0, 7, false);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(groups_join(g, c, "vkey-7"), 1);
    ck_assert_int_eq(groups_join(g, c, "vkey-7"), 0);
    ck_assert_uint_eq(groups_members(g, 0, "vkey-7"), 1);
    ck_assert_uint_eq(groups_n_memberships(g), 1);
    ck_assert(groups_conn_in(g, c, "vkey-7"));
    ck_assert_int_eq(groups_leave(g, c, "vkey-7"), 1);
    ck_assert_int_eq(groups_leave(g, c, "vkey-7"), 0);
    ck_assert_uint_eq(groups_members(g, 0, "vkey-7"), 0);
    /* an empty group is freed */
    ck_assert_uint_eq(groups_n_groups(g), 0);
    ck_assert_uint_eq(groups_n_memberships(g), 0);
    groups_destroy(&g);
    ck_assert_ptr_null(g);
}
END_TEST

START_TEST(test_groups_are_per_hub)
{
    groups_t *g = groups_new(2);
    groups_conn_t *a = groups_conn_open(g, 0, 1, 0, 7, false);
    groups_conn_t *b = groups_conn_open(g, 0, 2, 1, 7, false);
    ck_assert_int_eq(groups_join(g, a, "vkey-7"), 1);
    ck_assert_int_eq(groups_join(g, b, "vkey-7"), 1);
    ck_assert_uint_eq(groups_members(g, 0, "vkey-7"), 1);
    ck_assert_uint_eq(groups_members(g, 1, "vkey-7"), 1);
    ck_assert_uint_eq(groups_n_groups(g), 2);
    ck_assert_uint_eq(groups_hub_groups(g, 0), 1);
    ck_assert_uint_eq(groups_hub_conns(g, 1), 1);
    groups_conn_close(g, a);
    ck_assert_uint_eq(groups_members(g, 0, "vkey-7"), 0);
    ck_assert_uint_eq(groups_members(g, 1, "vkey-7"), 1);
    groups_destroy(&g);
}
END_TEST

START_TEST(test_groups_conn_ids_are_per_gateway)
{
    groups_t *g = groups_new(1);
    ck_assert_ptr_nonnull(groups_conn_open(g, 0, 1, 0, 1, false));
    ck_assert_ptr_null(groups_conn_open(g, 0, 1, 0, 1, false));
    ck_assert_ptr_nonnull(groups_conn_open(g, 1, 1, 0, 1, false));
    ck_assert_ptr_null(groups_conn_open(g, 2, 2, 5, 1, false)); /* hub */
    ck_assert_uint_eq(groups_n_conns(g), 2);
    groups_conn_t *c = groups_conn_find(g, 1, 1);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(groups_conn_gw(c), 1);
    ck_assert_uint_eq(groups_conn_id(c), 1);
    ck_assert_ptr_null(groups_conn_find(g, 3, 1));
    groups_destroy(&g);
}
END_TEST

START_TEST(test_groups_per_gateway_counts_and_route)
{
    groups_t *g = groups_new(1);
    /* gw 0: two members of "a"; gw 3: one of "b"; gw 5: one of "c" */
    groups_conn_t *c1 = groups_conn_open(g, 0, 1, 0, 1, false);
    groups_conn_t *c2 = groups_conn_open(g, 0, 2, 0, 2, false);
    groups_conn_t *c3 = groups_conn_open(g, 3, 1, 0, 1, false);
    groups_conn_t *c4 = groups_conn_open(g, 5, 9, 0, 1, false);
    groups_join(g, c1, "a");
    groups_join(g, c2, "a");
    groups_join(g, c2, "b");
    groups_join(g, c3, "b");
    groups_join(g, c4, "c");
    ck_assert_uint_eq(groups_members_on(g, 0, "a", 0), 2);
    ck_assert_uint_eq(groups_members_on(g, 0, "a", 3), 0);
    ck_assert_uint_eq(groups_members_on(g, 0, "b", 3), 1);

    const uint32_t *gws;
    const char *ab[] = {"a", "b"};
    size_t n = groups_route(g, 0, ab, 2, &gws);
    ck_assert_uint_eq(n, 2); /* gw 0 once, although in both groups */
    ck_assert(s_routed(gws, n, 0));
    ck_assert(s_routed(gws, n, 3));
    ck_assert(!s_routed(gws, n, 5));

    const char *none[] = {"nobody"};
    ck_assert_uint_eq(groups_route(g, 0, none, 1, &gws), 0);

    /* the last member on gw 3 leaves: gw 3 no longer routed for "b" */
    groups_leave(g, c3, "b");
    const char *b[] = {"b"};
    n = groups_route(g, 0, b, 1, &gws);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(gws[0], 0);
    groups_destroy(&g);
}
END_TEST

START_TEST(test_groups_drop_gateway_removes_only_its_members)
{
    groups_t *g = groups_new(1);
    for (uint64_t i = 0; i < 3; i++) {
        groups_conn_t *c = groups_conn_open(g, 1, i, 0, 4, false);
        groups_join(g, c, "shared");
        groups_join(g, c, "vkey-4");
    }
    groups_conn_t *other = groups_conn_open(g, 2, 0, 0, 4, false);
    groups_join(g, other, "shared");
    ck_assert_uint_eq(groups_members(g, 0, "shared"), 4);
    ck_assert_uint_eq(groups_key_conns(g, 4), 4);

    ck_assert_uint_eq(groups_drop_gateway(g, 1), 3);
    ck_assert_uint_eq(groups_gw_conns(g, 1), 0);
    ck_assert_uint_eq(groups_members(g, 0, "shared"), 1);
    ck_assert_uint_eq(groups_members(g, 0, "vkey-4"), 0);
    ck_assert_uint_eq(groups_n_conns(g), 1);
    ck_assert_uint_eq(groups_n_memberships(g), 1);
    ck_assert_uint_eq(groups_key_conns(g, 4), 1);
    const uint32_t *gws;
    const char *s[] = {"shared"};
    ck_assert_uint_eq(groups_route(g, 0, s, 1, &gws), 1);
    ck_assert_uint_eq(gws[0], 2);
    ck_assert_uint_eq(groups_drop_gateway(g, 1), 0);
    ck_assert_uint_eq(groups_drop_gateway(g, 99), 0);
    groups_destroy(&g);
}
END_TEST

START_TEST(test_groups_drop_key_across_gateways)
{
    groups_t *g = groups_new(2);
    groups_conn_t *a = groups_conn_open(g, 0, 1, 0, 5, false);
    groups_conn_t *b = groups_conn_open(g, 1, 1, 1, 5, false);
    groups_conn_t *c = groups_conn_open(g, 1, 2, 1, 6, false);
    groups_join(g, a, "vkey-5");
    groups_join(g, b, "vkey-5");
    groups_join(g, c, "vkey-6");
    ck_assert_uint_eq(groups_key_conns(g, 5), 2);
    ck_assert_uint_eq(groups_drop_key(g, 5), 2);
    ck_assert_uint_eq(groups_key_conns(g, 5), 0);
    ck_assert_uint_eq(groups_n_conns(g), 1);
    ck_assert_uint_eq(groups_members(g, 1, "vkey-6"), 1);
    ck_assert_uint_eq(groups_members(g, 1, "vkey-5"), 0);
    ck_assert_uint_eq(groups_drop_key(g, 5), 0);
    groups_destroy(&g);
}
END_TEST

START_TEST(test_groups_limits)
{
    groups_t *g = groups_new(1);
    groups_conn_t *c = groups_conn_open(g, 0, 1, 0, 1, false);
    ck_assert_int_eq(groups_join(g, c, ""), -1);
    char big[GROUPS_NAME_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_assert_int_eq(groups_join(g, c, big), -1);
    char name[32];
    for (int i = 0; i < GROUPS_MAX_PER_CONN; i++) {
        snprintf(name, sizeof name, "g%d", i);
        ck_assert_int_eq(groups_join(g, c, name), 1);
    }
    ck_assert_int_eq(groups_join(g, c, "one-too-many"), -1);
    ck_assert_int_eq(groups_join(g, c, "g0"), 0); /* already in: fine */
    ck_assert_uint_eq(groups_conn_n_groups(c), GROUPS_MAX_PER_CONN);
    groups_conn_close(g, c);
    ck_assert_uint_eq(groups_n_groups(g), 0);
    groups_destroy(&g);
}
END_TEST

START_TEST(test_groups_many_members_stay_consistent)
{
    /* 20,000 connections on 4 gateways, each in its own group and one
     * shared group; leave half; the figures must add up. */
    groups_t *g = groups_new(1);
    char name[32];
    for (uint64_t i = 0; i < 20000; i++) {
        groups_conn_t *c =
            groups_conn_open(g, (uint32_t)(i % 4), i, 0, (int64_t)i, false);
        snprintf(name, sizeof name, "task-%llu", (unsigned long long)i);
        ck_assert_int_eq(groups_join(g, c, name), 1);
        ck_assert_int_eq(groups_join(g, c, "all"), 1);
    }
    ck_assert_uint_eq(groups_members(g, 0, "all"), 20000);
    ck_assert_uint_eq(groups_members_on(g, 0, "all", 3), 5000);
    for (uint64_t i = 0; i < 20000; i += 2) {
        groups_conn_t *c = groups_conn_find(g, (uint32_t)(i % 4), i);
        ck_assert_ptr_nonnull(c);
        groups_conn_close(g, c);
    }
    ck_assert_uint_eq(groups_members(g, 0, "all"), 10000);
    ck_assert_uint_eq(groups_members_on(g, 0, "all", 0), 0);
    ck_assert_uint_eq(groups_members_on(g, 0, "all", 1), 5000);
    ck_assert_uint_eq(groups_n_groups(g), 10001);
    ck_assert_uint_eq(groups_n_memberships(g), 20000);
    groups_destroy(&g);
}
END_TEST
/* The routing hint reads only: for a hub out of range, a hub with no
 * table yet, a missing name and present ones (both stages), and routing
 * finds the same gateways afterwards. ASan watches the reads. */
START_TEST(test_groups_prefetch_changes_nothing)
{
    groups_t *g = groups_new(2);
    groups_conn_t *c = groups_conn_open(g, 4, 1, 0, 1, false);
    char name[16];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "vkey-%d", i);
        ck_assert_int_eq(groups_join(g, c, name), 1);
    }
    for (int stage = 0; stage < 2; stage++) {
        groups_prefetch(g, 7, "vkey-1", 6, stage); /* no such hub */
        groups_prefetch(g, 1, "vkey-1", 6, stage); /* hub without groups */
        groups_prefetch(g, 0, "nobody", 6, stage);
        for (int i = 0; i < 100; i++) {
            int len = snprintf(name, sizeof name, "vkey-%d", i);
            groups_prefetch(g, 0, name, (size_t)len, stage);
        }
    }
    ck_assert_uint_eq(groups_n_groups(g), 100);
    const uint32_t *gws;
    const char *one[] = {"vkey-42"};
    ck_assert_uint_eq(groups_route(g, 0, one, 1, &gws), 1);
    ck_assert_uint_eq(gws[0], 4);
    ck_assert_uint_eq(groups_route(g, 1, one, 1, &gws), 0);
    groups_destroy(&g);
}
END_TEST

Suite *
groups_suite(void)
{
    Suite *s = suite_create("groups");
    TCase *tc = tcase_create("membership");
    tcase_add_test(tc, test_groups_join_leave_counts_once);
    tcase_add_test(tc, test_groups_are_per_hub);
    tcase_add_test(tc, test_groups_conn_ids_are_per_gateway);
    tcase_add_test(tc, test_groups_limits);
    tcase_add_test(tc, test_groups_many_members_stay_consistent);
    suite_add_tcase(s, tc);
    tc = tcase_create("gateways");
    tcase_add_test(tc, test_groups_per_gateway_counts_and_route);
    tcase_add_test(tc, test_groups_drop_gateway_removes_only_its_members);
    tcase_add_test(tc, test_groups_drop_key_across_gateways);
    tcase_add_test(tc, test_groups_prefetch_changes_nothing);
    suite_add_tcase(s, tc);
    return s;
}
