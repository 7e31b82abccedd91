/*
 * test_groupidx - the local group index: join/leave, per-hub groups,
 * member iteration, a connection's memberships, cleanup.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/groupidx.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

Suite *groupidx_suite(void);

typedef struct fake_conn {
    gi_conn_t groups;
    int id;
} fake_conn_t;

static size_t
s_members(groupidx_t *gi, uint32_t hub, const char *name, int *ids, size_t max)
{
    gi_group_t *g = groupidx_find(gi, hub, name, strlen(name));
    if (!g)
        return 0;
    size_t n = 0;
    for (gi_member_t *m = gi_group_first(g); m; m = gi_member_next(m)) {
        fake_conn_t *c = gi_member_owner(m);
        if (n < max)
            ids[n] = c->id;
        n++;
    }
    ck_assert_uint_eq(n, gi_group_size(g));
    return n;
}

START_TEST(test_groupidx_join_is_idempotent_and_leave_removes)
{
    groupidx_t *gi = groupidx_new();
    fake_conn_t a = {GI_CONN_INIT, 1}, b = {GI_CONN_INIT, 2};
    ck_assert(groupidx_join(gi, &a.groups, &a, 0, "vkey-1", 6));
    ck_assert(!groupidx_join(gi, &a.groups, &a, 0, "vkey-1", 6));
    ck_assert(groupidx_join(gi, &b.groups, &b, 0, "vkey-1", 6));
    int ids[4];
    ck_assert_uint_eq(s_members(gi, 0, "vkey-1", ids, 4), 2);
    ck_assert_int_eq(ids[0], 1);
    ck_assert_int_eq(ids[1], 2);
    ck_assert_uint_eq(groupidx_n_groups(gi), 1);
    ck_assert_uint_eq(groupidx_n_members(gi), 2);
    ck_assert(groupidx_leave(gi, &a.groups, 0, "vkey-1", 6));
    ck_assert(!groupidx_leave(gi, &a.groups, 0, "vkey-1", 6));
    ck_assert_uint_eq(s_members(gi, 0, "vkey-1", ids, 4), 1);
    ck_assert_int_eq(ids[0], 2);
    ck_assert(groupidx_leave(gi, &b.groups, 0, "vkey-1", 6));
    /* an empty group disappears */
    ck_assert_ptr_null(groupidx_find(gi, 0, "vkey-1", 6));
    ck_assert_uint_eq(groupidx_n_groups(gi), 0);
    ck_assert_uint_eq(a.groups.n, 0);
    groupidx_destroy(&gi);
    ck_assert_ptr_null(gi);
}
END_TEST

START_TEST(test_groupidx_groups_are_per_hub)
{
    groupidx_t *gi = groupidx_new();
    fake_conn_t a = {GI_CONN_INIT, 1}, b = {GI_CONN_INIT, 2};
    groupidx_join(gi, &a.groups, &a, 2, "vkey-1", 6);
    groupidx_join(gi, &b.groups, &b, 3, "vkey-1", 6);
    int ids[4];
    ck_assert_uint_eq(s_members(gi, 2, "vkey-1", ids, 4), 1);
    ck_assert_int_eq(ids[0], 1);
    ck_assert_uint_eq(s_members(gi, 3, "vkey-1", ids, 4), 1);
    ck_assert_int_eq(ids[0], 2);
    ck_assert_uint_eq(s_members(gi, 4, "vkey-1", ids, 4), 0);
    /* a prefix is another group */
    ck_assert_ptr_null(groupidx_find(gi, 2, "vkey-", 5));
    ck_assert(!groupidx_leave(gi, &a.groups, 3, "vkey-1", 6));
    groupidx_destroy(&gi);
}
END_TEST

START_TEST(test_groupidx_leave_all_and_membership_list)
{
    groupidx_t *gi = groupidx_new();
    fake_conn_t a = {GI_CONN_INIT, 1}, b = {GI_CONN_INIT, 2};
    const char *names[] = {"vkey-1", "task-9", "system-notifications"};
    for (int i = 0; i < 3; i++) {
        groupidx_join(gi, &a.groups, &a, 1, names[i], strlen(names[i]));
        groupidx_join(gi, &b.groups, &b, 1, names[i], strlen(names[i]));
    }
    ck_assert_uint_eq(a.groups.n, 3);
    int found = 0;
    for (gi_member_t *m = gi_conn_first(&a.groups); m; m = gi_conn_next(m))
        for (int i = 0; i < 3; i++)
            if (strcmp(gi_member_group(m), names[i]) == 0)
                found |= 1 << i;
    ck_assert_int_eq(found, 7);
    groupidx_leave_all(gi, &a.groups);
    ck_assert_uint_eq(a.groups.n, 0);
    ck_assert_ptr_null(gi_conn_first(&a.groups));
    int ids[4];
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(s_members(gi, 1, names[i], ids, 4), 1);
        ck_assert_int_eq(ids[0], 2);
    }
    ck_assert_uint_eq(groupidx_n_members(gi), 3);
    groupidx_leave_all(gi, &b.groups);
    ck_assert_uint_eq(groupidx_n_groups(gi), 0);
    groupidx_destroy(&gi);
}
END_TEST

START_TEST(test_groupidx_many_members_unlink_in_the_middle)
{
    groupidx_t *gi = groupidx_new();
    enum {
        N = 1000
    };
    fake_conn_t *cs = calloc(N, sizeof *cs);
    for (int i = 0; i < N; i++) {
        cs[i].id = i;
        groupidx_join(gi, &cs[i].groups, &cs[i], 0, "all", 3);
    }
    for (int i = 1; i < N; i += 3)
        groupidx_leave(gi, &cs[i].groups, 0, "all", 3);
    int *ids = calloc(N, sizeof *ids);
    size_t n = s_members(gi, 0, "all", ids, N);
    size_t expect = 0;
    for (int i = 0; i < N; i++)
        if (i % 3 != 1)
            ck_assert_int_eq(ids[expect++], i);
    ck_assert_uint_eq(n, expect);
    /* destroy frees what is left, groups and memberships */
    groupidx_destroy(&gi);
    free(ids);
    free(cs);
}
END_TEST

Suite *
groupidx_suite(void)
{
    Suite *s = suite_create("groupidx");
    TCase *tc = tcase_create("index");
    tcase_add_test(tc, test_groupidx_join_is_idempotent_and_leave_removes);
    tcase_add_test(tc, test_groupidx_groups_are_per_hub);
    tcase_add_test(tc, test_groupidx_leave_all_and_membership_list);
    tcase_add_test(tc, test_groupidx_many_members_unlink_in_the_middle);
    suite_add_tcase(s, tc);
    return s;
}
