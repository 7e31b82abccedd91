/*
 * test_store - the LMDB key-value store: put/get/delete/iterate, namespaces,
 * reopening, and a writer killed with SIGKILL right after a put.
 *
 * SPDX-License-Identifier: MIT
 */
#include "broker/store.h"

#include "common/cdt_mem.h"
#include "tests/unit/broker/tmpdir.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

Suite *store_suite(void);

static char *s_dir;

static void
s_setup(void)
{
    s_dir = tmpdir_new();
}

static void
s_teardown(void)
{
    tmpdir_remove(&s_dir);
}

static void
s_put(store_t *st, const char *ns, const char *k, const char *v)
{
    ck_assert_int_eq(store_put(st, ns, k, strlen(k), v, strlen(v)), 0);
}

/* The value of k as a string, "" when absent. Caller frees. */
static char *
s_get(store_t *st, const char *ns, const char *k)
{
    size_t len = 12345;
    char *v = store_get(st, ns, k, strlen(k), &len);
    if (!v)
        return cdt_xstrdup("");
    ck_assert_uint_eq(strlen(v), len); /* NUL past the value */
    return v;
}

#define ck_assert_value(st, ns, k, want)     \
    do {                                     \
        char *got_ = s_get((st), (ns), (k)); \
        ck_assert_str_eq(got_, (want));      \
        free(got_);                          \
    } while (0)

START_TEST(test_store_put_get_overwrite_delete)
{
    store_t *st = store_open(s_dir);
    ck_assert_ptr_nonnull(st);
    ck_assert_str_eq(store_dir(st), s_dir);
    size_t len;
    ck_assert_ptr_null(store_get(st, "task", "t1", 2, &len));
    s_put(st, "task", "t1", "one");
    ck_assert_value(st, "task", "t1", "one");
    s_put(st, "task", "t1", "uno");
    ck_assert_value(st, "task", "t1", "uno");
    ck_assert_int_eq(store_delete(st, "task", "t1", 2), 0);
    ck_assert_ptr_null(store_get(st, "task", "t1", 2, &len));
    /* deleting what is absent is not an error */
    ck_assert_int_eq(store_delete(st, "task", "t1", 2), 0);
    ck_assert_int_eq(store_delete(st, "never", "x", 1), 0);
    store_destroy(&st);
    ck_assert_ptr_null(st);
    store_destroy(&st); /* NULL-safe */
}
END_TEST

START_TEST(test_store_binary_values_and_empty_value)
{
    store_t *st = store_open(s_dir);
    const unsigned char bin[] = {0, 1, 2, 0xff, 0};
    ck_assert_int_eq(store_put(st, "key", "\0k", 2, bin, sizeof bin), 0);
    size_t len = 0;
    unsigned char *v = store_get(st, "key", "\0k", 2, &len);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(len, sizeof bin);
    ck_assert_mem_eq(v, bin, sizeof bin);
    free(v);
    ck_assert_int_eq(store_put(st, "key", "e", 1, "", 0), 0);
    v = store_get(st, "key", "e", 1, &len);
    ck_assert_ptr_nonnull(v); /* present, empty: not the same as absent */
    ck_assert_uint_eq(len, 0);
    free(v);
    store_destroy(&st);
}
END_TEST

START_TEST(test_store_namespaces_are_separate)
{
    store_t *st = store_open(s_dir);
    s_put(st, "alert", "7", "a");
    s_put(st, "health", "7", "h");
    ck_assert_value(st, "alert", "7", "a");
    ck_assert_value(st, "health", "7", "h");
    ck_assert_value(st, "task", "7", "");
    ck_assert_int_eq(store_delete(st, "alert", "7", 1), 0);
    ck_assert_value(st, "health", "7", "h");
    store_destroy(&st);
}
END_TEST

typedef struct {
    char seen[16][16];
    int n;
    int stop_after; /* 0 = never */
} s_walk_t;

static int
s_walk(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    s_walk_t *w = arg;
    ck_assert_int_lt(w->n, 16);
    snprintf(w->seen[w->n], sizeof w->seen[0], "%.*s=%.*s", (int)klen,
             (const char *)key, (int)vlen, (const char *)val);
    w->n++;
    return w->stop_after && w->n == w->stop_after;
}

START_TEST(test_store_iterate_in_key_order_and_stops)
{
    store_t *st = store_open(s_dir);
    s_walk_t w = {0};
    ck_assert_int_eq(store_iterate(st, "task", s_walk, &w), 0);
    ck_assert_int_eq(w.n, 0); /* empty namespace */
    s_put(st, "task", "b", "2");
    s_put(st, "task", "a", "1");
    s_put(st, "task", "c", "3");
    s_put(st, "other", "z", "9");
    ck_assert_int_eq(store_iterate(st, "task", s_walk, &w), 0);
    ck_assert_int_eq(w.n, 3);
    ck_assert_str_eq(w.seen[0], "a=1");
    ck_assert_str_eq(w.seen[1], "b=2");
    ck_assert_str_eq(w.seen[2], "c=3");
    s_walk_t w2 = {.stop_after = 2};
    ck_assert_int_eq(store_iterate(st, "task", s_walk, &w2), 0);
    ck_assert_int_eq(w2.n, 2);
    store_destroy(&st);
}
END_TEST

START_TEST(test_store_reopen_keeps_data)
{
    store_t *st = store_open(s_dir);
    s_put(st, "key", "k1", "v1");
    s_put(st, "alert", "1", "x");
    s_put(st, "key", "k2", "v2");
    ck_assert_int_eq(store_delete(st, "key", "k2", 2), 0);
    store_destroy(&st);

    st = store_open(s_dir);
    ck_assert_ptr_nonnull(st);
    ck_assert_value(st, "key", "k1", "v1");
    ck_assert_value(st, "key", "k2", "");
    ck_assert_value(st, "alert", "1", "x");
    store_destroy(&st);
}
END_TEST

START_TEST(test_store_survives_sigkill_after_put)
{
    int ready[2], hold[2];
    ck_assert_int_eq(pipe(ready), 0);
    ck_assert_int_eq(pipe(hold), 0);
    pid_t pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        close(ready[0]);
        close(hold[1]);
        store_t *st = store_open(s_dir);
        if (!st || store_put(st, "health", "openai", 6, "down", 4) != 0)
            _exit(1);
        /* put returned: tell the parent, then hold the store open, as a
         * running broker would, until killed (EOF if the parent dies) */
        char c = 'w';
        if (write(ready[1], &c, 1) != 1)
            _exit(2);
        (void)!read(hold[0], &c, 1);
        _exit(3);
    }
    close(ready[1]);
    close(hold[0]);
    char c;
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    close(ready[0]);
    close(hold[1]);
    ck_assert(WIFSIGNALED(status));
    ck_assert_int_eq(WTERMSIG(status), SIGKILL);
    store_t *st = store_open(s_dir);
    ck_assert_ptr_nonnull(st);
    ck_assert_value(st, "health", "openai", "down");
    s_put(st, "health", "openai", "up"); /* and it is writable again */
    ck_assert_value(st, "health", "openai", "up");
    store_destroy(&st);
}
END_TEST

START_TEST(test_store_creates_missing_parents)
{
    char *deep = cdt_xasprintf("%s/a/b/c", s_dir);
    store_t *st = store_open(deep);
    ck_assert_ptr_nonnull(st);
    s_put(st, "task", "x", "y");
    store_destroy(&st);
    ck_assert_int_eq(access(deep, F_OK), 0);
    free(deep);
}
END_TEST

START_TEST(test_store_refuses_bad_input)
{
    ck_assert_ptr_null(store_open(""));
    char *file = cdt_xasprintf("%s/plain", s_dir);
    FILE *f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_ptr_null(store_open(file)); /* a file, not a directory */
    free(file);

    store_t *st = store_open(s_dir);
    size_t max = store_max_key(st);
    ck_assert_uint_ge(max, 64);
    char *big = cdt_xmalloc(max + 1);
    memset(big, 'k', max + 1);
    ck_assert_int_eq(store_put(st, "task", big, max, "v", 1), 0);
    ck_assert_int_eq(store_put(st, "task", big, max + 1, "v", 1), -1);
    ck_assert_int_eq(store_put(st, "task", "", 0, "v", 1), -1);
    ck_assert_int_eq(store_put(st, "", "k", 1, "v", 1), -1);
    ck_assert_int_eq(
        store_put(st, "a-namespace-name-longer-than-32-bytes", "k", 1, "v", 1),
        -1);
    free(big);
    store_destroy(&st);
}
END_TEST

START_TEST(test_store_namespace_limit)
{
    store_t *st = store_open(s_dir);
    for (int i = 0; i < STORE_MAX_NAMESPACES; i++) {
        char ns[16];
        snprintf(ns, sizeof ns, "ns%d", i);
        ck_assert_int_eq(store_put(st, ns, "k", 1, "v", 1), 0);
    }
    ck_assert_int_eq(store_put(st, "one-too-many", "k", 1, "v", 1), -1);
    ck_assert_int_eq(store_put(st, "ns0", "k2", 2, "v", 1), 0);
    store_destroy(&st);
}
END_TEST

START_TEST(test_store_write_batch_all_or_nothing)
{
    store_t *st = store_open(s_dir);
    s_put(st, "a", "gone", "x");
    store_op_t ops[] = {
        {"a", "k1", 2, "v1", 2},     {"b", "k2", 2, "v2", 2},
        {"a", "gone", 4, NULL, 0},   /* delete */
        {"a", "absent", 6, NULL, 0}, /* deleting nothing is fine */
        {"a", "k1", 2, "v1bis", 5},  /* later ops see earlier ones */
    };
    ck_assert_int_eq(store_write(st, ops, 5), 0);
    ck_assert_int_eq(store_write(st, NULL, 0), 0);
    char *v = s_get(st, "a", "k1");
    ck_assert_str_eq(v, "v1bis");
    free(v);
    v = s_get(st, "b", "k2");
    ck_assert_str_eq(v, "v2");
    free(v);
    v = s_get(st, "a", "gone");
    ck_assert_str_eq(v, "");
    free(v);
    /* one bad op (an empty key) and nothing of the batch is written */
    store_op_t bad[] = {{"a", "new", 3, "n", 1}, {"a", "", 0, "n", 1}};
    ck_assert_int_eq(store_write(st, bad, 2), -1);
    v = s_get(st, "a", "new");
    ck_assert_str_eq(v, "");
    free(v);
    store_destroy(&st);
    /* durable: a reopened store has the batch */
    st = store_open(s_dir);
    v = s_get(st, "b", "k2");
    ck_assert_str_eq(v, "v2");
    free(v);
    store_destroy(&st);
}
END_TEST

Suite *
store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("kv");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_add_test(tc, test_store_put_get_overwrite_delete);
    tcase_add_test(tc, test_store_binary_values_and_empty_value);
    tcase_add_test(tc, test_store_namespaces_are_separate);
    tcase_add_test(tc, test_store_iterate_in_key_order_and_stops);
    tcase_add_test(tc, test_store_namespace_limit);
    tcase_add_test(tc, test_store_write_batch_all_or_nothing);
    suite_add_tcase(s, tc);
    tc = tcase_create("durability");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_add_test(tc, test_store_reopen_keeps_data);
    tcase_add_test(tc, test_store_survives_sigkill_after_put);
    tcase_add_test(tc, test_store_creates_missing_parents);
    tcase_add_test(tc, test_store_refuses_bad_input);
    suite_add_tcase(s, tc);
    return s;
}
