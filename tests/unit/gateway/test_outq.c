/*
 * test_outq - refcounted frames, the per-connection queue and coalescing.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/outq.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

Suite *outq_suite(void);

START_TEST(test_outq_one_frame_shared_by_many_queues)
{
    outq_pool_t pool;
    outq_pool_init(&pool);
    enum {
        N = 2500
    }; /* more than one chunk of slots */
    outq_t *qs = calloc(N, sizeof *qs);
    frame_t *f = frame_new("abc\x1e", 4);
    for (int i = 0; i < N; i++)
        outq_push(&qs[i], &pool, f);
    ck_assert_uint_eq(f->refs, N + 1);
    ck_assert_uint_eq(pool.in_use, N);
    frame_unref(&f);
    ck_assert_ptr_null(f);
    uint8_t out[16];
    for (int i = 0; i < N; i++) {
        ck_assert_uint_eq(qs[i].bytes, 4);
        size_t n = outq_coalesce(&qs[i], &pool, out, sizeof out);
        ck_assert_uint_eq(n, 4);
        ck_assert_int_eq(memcmp(out, "abc\x1e", 4), 0);
        ck_assert(outq_empty(&qs[i]));
        ck_assert_uint_eq(qs[i].bytes, 0);
    }
    ck_assert_uint_eq(pool.in_use, 0);
    outq_pool_release(&pool);
    free(qs);
}
END_TEST

START_TEST(test_outq_coalesce_takes_whole_frames_up_to_the_limit)
{
    outq_pool_t pool;
    outq_pool_init(&pool);
    outq_t q = OUTQ_INIT;
    const char *recs[] = {"{\"a\":1}\x1e", "{\"b\":22}\x1e", "{\"c\":333}\x1e"};
    for (int i = 0; i < 3; i++) {
        frame_t *f = frame_new(recs[i], strlen(recs[i]));
        outq_push(&q, &pool, f);
        frame_unref(&f);
    }
    ck_assert_uint_eq(q.n, 3);
    ck_assert_uint_eq(q.bytes, 8 + 9 + 10);
    uint8_t out[64];
    /* 8 + 9 fit in 20, the third would not: never split a record */
    size_t n = outq_coalesce(&q, &pool, out, 20);
    ck_assert_uint_eq(n, 17);
    ck_assert_int_eq(memcmp(out, "{\"a\":1}\x1e{\"b\":22}\x1e", 17), 0);
    ck_assert_uint_eq(q.n, 1);
    ck_assert_uint_eq(outq_head_len(&q), 10);
    /* a frame larger than the limit still goes, alone */
    n = outq_coalesce(&q, &pool, out, 4);
    ck_assert_uint_eq(n, 10);
    ck_assert(outq_empty(&q));
    ck_assert_uint_eq(outq_coalesce(&q, &pool, out, 64), 0);
    outq_pool_release(&pool);
}
END_TEST

START_TEST(test_outq_push_front_goes_first)
{
    outq_pool_t pool;
    outq_pool_init(&pool);
    outq_t q = OUTQ_INIT;
    frame_t *ev = frame_new("E\x1e", 2);
    frame_t *hs = frame_new("{}\x1e", 3);
    outq_push(&q, &pool, ev);
    outq_push(&q, &pool, ev);
    outq_push_front(&q, &pool, hs);
    uint8_t out[16];
    size_t n = outq_coalesce(&q, &pool, out, sizeof out);
    ck_assert_uint_eq(n, 7);
    ck_assert_int_eq(memcmp(out,
                            "{}\x1e"
                            "E\x1e"
                            "E\x1e",
                            7),
                     0);
    /* push_front on an empty queue also sets the tail */
    outq_push_front(&q, &pool, hs);
    outq_push(&q, &pool, ev);
    n = outq_coalesce(&q, &pool, out, sizeof out);
    ck_assert_int_eq(memcmp(out,
                            "{}\x1e"
                            "E\x1e",
                            5),
                     0);
    ck_assert_uint_eq(ev->refs, 1);
    ck_assert_uint_eq(hs->refs, 1);
    frame_unref(&ev);
    frame_unref(&hs);
    outq_pool_release(&pool);
}
END_TEST

START_TEST(test_outq_clear_drops_references)
{
    outq_pool_t pool;
    outq_pool_init(&pool);
    outq_t q = OUTQ_INIT;
    frame_t *f = frame_new("x", 1);
    for (int i = 0; i < 10; i++)
        outq_push(&q, &pool, f);
    ck_assert_uint_eq(f->refs, 11);
    outq_clear(&q, &pool);
    ck_assert_uint_eq(f->refs, 1);
    ck_assert(outq_empty(&q));
    ck_assert_uint_eq(q.bytes, 0);
    ck_assert_uint_eq(q.n, 0);
    ck_assert_uint_eq(pool.in_use, 0);
    /* the slots are reused: no new chunk for the next pushes */
    size_t chunks = pool.n_chunks;
    for (int i = 0; i < 10; i++)
        outq_push(&q, &pool, f);
    ck_assert_uint_eq(pool.n_chunks, chunks);
    outq_clear(&q, &pool);
    frame_unref(&f);
    outq_pool_release(&pool);
}
END_TEST

Suite *
outq_suite(void)
{
    Suite *s = suite_create("outq");
    TCase *tc = tcase_create("queue");
    tcase_add_test(tc, test_outq_one_frame_shared_by_many_queues);
    tcase_add_test(tc, test_outq_coalesce_takes_whole_frames_up_to_the_limit);
    tcase_add_test(tc, test_outq_push_front_goes_first);
    tcase_add_test(tc, test_outq_clear_drops_references);
    suite_add_tcase(s, tc);
    return s;
}
