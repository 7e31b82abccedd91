/*
 * test_hmap - the intrusive hash table: insert, lookup with colliding
 * hashes, remove, growth and iteration with removal.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/hmap.h"

#include "common/cdt_mem.h"

#include <check.h>
#include <stdlib.h>

Suite *hmap_suite(void);

typedef struct item {
    hnode_t node;
    int key;
} item_t;

static item_t *
s_find(hmap_t *map, int key, uint64_t hash)
{
    for (hnode_t *n = hmap_first(map, hash); n; n = hmap_next_same(n)) {
        item_t *it = hmap_entry(n, item_t, node);
        if (it->key == key)
            return it;
    }
    return NULL;
}

START_TEST(test_hmap_insert_find_remove_through_growth)
{
    hmap_t map = HMAP_INIT;
    enum {
        N = 5000
    };
    item_t *items = cdt_xcalloc(N, sizeof *items);
    for (int i = 0; i < N; i++) {
        items[i].key = i;
        hmap_insert(&map, &items[i].node, hmap_hash_u64((uint64_t)i));
    }
    ck_assert_uint_eq(map.count, N);
    ck_assert_uint_ge(map.mask + 1, N);
    for (int i = 0; i < N; i++)
        ck_assert_ptr_eq(s_find(&map, i, hmap_hash_u64((uint64_t)i)),
                         &items[i]);
    for (int i = 0; i < N; i += 2)
        hmap_remove(&map, &items[i].node);
    ck_assert_uint_eq(map.count, N / 2);
    for (int i = 0; i < N; i++) {
        item_t *it = s_find(&map, i, hmap_hash_u64((uint64_t)i));
        if (i % 2)
            ck_assert_ptr_eq(it, &items[i]);
        else
            ck_assert_ptr_null(it);
    }
    hmap_release(&map);
    free(items);
}
END_TEST

START_TEST(test_hmap_equal_hashes_are_all_found)
{
    hmap_t map = HMAP_INIT;
    item_t items[40];
    for (int i = 0; i < 40; i++) {
        items[i].key = i;
        hmap_insert(&map, &items[i].node, 42); /* every hash equal */
    }
    for (int i = 0; i < 40; i++)
        ck_assert_ptr_eq(s_find(&map, i, 42), &items[i]);
    ck_assert_ptr_null(s_find(&map, 40, 42));
    ck_assert_ptr_null(hmap_first(&map, 43));
    hmap_remove(&map, &items[17].node);
    ck_assert_ptr_null(s_find(&map, 17, 42));
    ck_assert_ptr_eq(s_find(&map, 18, 42), &items[18]);
    hmap_release(&map);
}
END_TEST

START_TEST(test_hmap_iteration_visits_each_once_and_allows_removal)
{
    hmap_t map = HMAP_INIT;
    enum {
        N = 300
    };
    item_t items[N];
    int seen[N] = {0};
    for (int i = 0; i < N; i++) {
        items[i].key = i;
        hmap_insert(&map, &items[i].node, hmap_hash_u64((uint64_t)i % 7));
    }
    size_t pos = 0;
    hnode_t *cursor = NULL, *n;
    while ((n = hmap_iter(&map, &pos, &cursor))) {
        item_t *it = hmap_entry(n, item_t, node);
        seen[it->key]++;
        hmap_remove(&map, n); /* removing the current node is allowed */
    }
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(seen[i], 1);
    ck_assert_uint_eq(map.count, 0);
    pos = 0;
    ck_assert_ptr_null(hmap_iter(&map, &pos, &cursor));
    hmap_release(&map);
}
END_TEST

START_TEST(test_hmap_empty_table)
{
    hmap_t map = HMAP_INIT;
    size_t pos = 0;
    hnode_t *cursor = NULL;
    ck_assert_ptr_null(hmap_first(&map, 1));
    ck_assert_ptr_null(hmap_iter(&map, &pos, &cursor));
    hmap_release(&map);
}
END_TEST

START_TEST(test_hmap_hash_bytes_depends_on_content_and_seed)
{
    ck_assert_uint_eq(hmap_hash_bytes("abc", 3, 0),
                      hmap_hash_bytes("abc", 3, 0));
    ck_assert_uint_ne(hmap_hash_bytes("abc", 3, 0),
                      hmap_hash_bytes("abd", 3, 0));
    ck_assert_uint_ne(hmap_hash_bytes("abc", 3, 0),
                      hmap_hash_bytes("abc", 3, 1));
    ck_assert_uint_ne(hmap_hash_bytes("ab", 2, 0),
                      hmap_hash_bytes("abc", 3, 0));
}
END_TEST

Suite *
hmap_suite(void)
{
    Suite *s = suite_create("hmap");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, test_hmap_insert_find_remove_through_growth);
    tcase_add_test(tc, test_hmap_equal_hashes_are_all_found);
    tcase_add_test(tc, test_hmap_iteration_visits_each_once_and_allows_removal);
    tcase_add_test(tc, test_hmap_empty_table);
    tcase_add_test(tc, test_hmap_hash_bytes_depends_on_content_and_seed);
    suite_add_tcase(s, tc);
    return s;
}
