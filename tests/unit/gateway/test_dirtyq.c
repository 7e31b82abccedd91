/*
 * test_dirtyq - the flush's FIFO: order, removal before the turn, and the
 * positions written back when the array is compacted or grown.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/dirtyq.h"

#include <check.h>
#include <stdlib.h>

Suite *dirtyq_suite(void);

typedef struct item {
    int id;
    uint32_t pos;
} item_t;

START_TEST(test_dirtyq_fifo_order_and_empty)
{
    dirtyq_t q = DIRTYQ_INIT;
    item_t it[5];
    ck_assert(dirtyq_empty(&q));
    ck_assert_ptr_null(dirtyq_pop(&q));
    for (int i = 0; i < 5; i++) {
        it[i].id = i;
        dirtyq_push(&q, &it[i], &it[i].pos);
        ck_assert_uint_eq(it[i].pos, (uint32_t)i);
    }
    ck_assert(!dirtyq_empty(&q));
    for (int i = 0; i < 5; i++)
        ck_assert_ptr_eq(dirtyq_pop(&q), &it[i]);
    ck_assert(dirtyq_empty(&q));
    ck_assert_ptr_null(dirtyq_pop(&q));
    /* a drained queue starts again at the front */
    dirtyq_push(&q, &it[3], &it[3].pos);
    ck_assert_uint_eq(it[3].pos, 0);
    ck_assert_ptr_eq(dirtyq_pop(&q), &it[3]);
    dirtyq_release(&q);
}
END_TEST

START_TEST(test_dirtyq_removed_entries_are_skipped)
{
    dirtyq_t q = DIRTYQ_INIT;
    item_t it[4];
    for (int i = 0; i < 4; i++)
        dirtyq_push(&q, &it[i], &it[i].pos);
    dirtyq_remove(&q, it[1].pos);
    dirtyq_remove(&q, it[3].pos);
    ck_assert_ptr_eq(dirtyq_pop(&q), &it[0]);
    ck_assert_ptr_eq(dirtyq_pop(&q), &it[2]);
    ck_assert_ptr_null(dirtyq_pop(&q));
    ck_assert(dirtyq_empty(&q));
    dirtyq_release(&q);
}
END_TEST

/* A round robin under load: serve half, push the served ones again at
 * the back, many times over. The array must stay bounded (compaction,
 * not endless growth), the order must stay FIFO and every position that
 * an item holds must point at its own entry, so that a removal blanks the
 * right one. */
START_TEST(test_dirtyq_round_robin_compacts_and_keeps_positions)
{
    enum {
        N = 1000,
        ROUNDS = 50
    };
    dirtyq_t q = DIRTYQ_INIT;
    item_t *it = calloc(N, sizeof *it);
    for (int i = 0; i < N; i++) {
        it[i].id = i;
        dirtyq_push(&q, &it[i], &it[i].pos);
    }
    int expect = 0;
    for (int r = 0; r < ROUNDS * 2; r++) {
        for (int k = 0; k < N / 2; k++) {
            item_t *x = dirtyq_pop(&q);
            ck_assert_ptr_nonnull(x);
            ck_assert_int_eq(x->id, expect);
            expect = (expect + 1) % N;
            dirtyq_push(&q, x, &x->pos);
        }
        for (int i = 0; i < N; i++)
            ck_assert_ptr_eq(q.e[it[i].pos].item, &it[i]);
    }
    ck_assert_uint_le(q.cap, 4 * N);
    /* remove one through its (moved) position: it is never served */
    int gone = (expect + 10) % N;
    dirtyq_remove(&q, it[gone].pos);
    for (int k = 0; k < N - 1; k++) {
        item_t *x = dirtyq_pop(&q);
        ck_assert_ptr_nonnull(x);
        ck_assert_int_ne(x->id, gone);
    }
    ck_assert_ptr_null(dirtyq_pop(&q));
    dirtyq_release(&q);
    free(it);
}
END_TEST

Suite *
dirtyq_suite(void)
{
    Suite *s = suite_create("dirtyq");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_dirtyq_fifo_order_and_empty);
    tcase_add_test(tc, test_dirtyq_removed_entries_are_skipped);
    tcase_add_test(tc, test_dirtyq_round_robin_compacts_and_keeps_positions);
    suite_add_tcase(s, tc);
    return s;
}
