/*
 * test_tasks - the task registry: ownership, the events each state
 * becomes, progress coalescing with an injected clock, the terminal flush
 * and retention; persistence in a store (reload after destroy, retention
 * by wall-clock age, expired tasks removed).
 *
 * SPDX-License-Identifier: MIT
 */
#include "broker/tasks.h"

#include "common/cdt_catalog.h"
#include "tests/unit/broker/tmpdir.h"

#include <check.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Suite *tasks_suite(void);

#define MAX_SENT 32

typedef struct sent {
    char hub[64];
    char groups[256]; /* comma-separated */
    char target[64];
    uint8_t args[2048];
    size_t args_len;
} sent_t;

typedef struct rec {
    sent_t sent[MAX_SENT];
    int n;
} rec_t;

static int
s_emit(void *arg, const char *hub, const char *const *groups, size_t n_groups,
       const char *target, const void *args, size_t args_len)
{
    rec_t *r = arg;
    ck_assert_int_lt(r->n, MAX_SENT);
    sent_t *s = &r->sent[r->n++];
    snprintf(s->hub, sizeof s->hub, "%s", hub);
    s->groups[0] = '\0';
    for (size_t i = 0; i < n_groups; i++) {
        if (i)
            strcat(s->groups, ",");
        strcat(s->groups, groups[i]);
    }
    snprintf(s->target, sizeof s->target, "%s", target);
    ck_assert_uint_le(args_len, sizeof s->args);
    memcpy(s->args, args, args_len);
    s->args_len = args_len;
    return 0;
}

static cdt_ingress_t
s_msg(const char *id, enum cdt_task_state state)
{
    cdt_ingress_t m;
    memset(&m, 0, sizeof m);
    m.type = CDT_IN_TASK;
    m.task_id.ptr = id;
    m.task_id.len = strlen(id);
    m.state = state;
    return m;
}

static cdt_ingress_t
s_first(const char *id, int64_t key, enum cdt_task_type type)
{
    cdt_ingress_t m = s_msg(id, CDT_TASK_STARTED);
    m.has_key_id = true;
    m.key_id = key;
    m.task_type = type;
    return m;
}

static cdt_ingress_t
s_progress(const char *id, double pct)
{
    cdt_ingress_t m = s_msg(id, CDT_TASK_PROGRESS);
    m.has_percent = true;
    m.percent = pct;
    return m;
}

/* The unpacked argument array of a recorded event. */
typedef struct args {
    msgpack_unpacked up;
    msgpack_object_array a;
} args_t;

static void
s_args(const sent_t *s, args_t *out)
{
    msgpack_unpacked_init(&out->up);
    size_t off = 0;
    ck_assert_int_eq(
        msgpack_unpack_next(&out->up, (const char *)s->args, s->args_len, &off),
        MSGPACK_UNPACK_SUCCESS);
    ck_assert_uint_eq(off, s->args_len);
    ck_assert_int_eq(out->up.data.type, MSGPACK_OBJECT_ARRAY);
    out->a = out->up.data.via.array;
}

static const msgpack_object *
s_get(const msgpack_object *map, const char *key)
{
    ck_assert_int_eq(map->type, MSGPACK_OBJECT_MAP);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.via.str.size == strlen(key) &&
            memcmp(kv->key.via.str.ptr, key, strlen(key)) == 0)
            return &kv->val;
    }
    return NULL;
}

static bool
s_str_is(const msgpack_object *o, const char *s)
{
    return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
           memcmp(o->via.str.ptr, s, strlen(s)) == 0;
}

static int64_t
s_int(const msgpack_object *o)
{
    ck_assert_ptr_nonnull(o);
    ck_assert(o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
              o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER);
    return o->via.i64;
}

#define WALL 1700000000123LL

static int
s_ingest(tasks_t *t, cdt_ingress_t m, int64_t now)
{
    char err[256];
    return tasks_ingest(t, &m, now, WALL, err, sizeof err);
}

START_TEST(test_tasks_first_event_needs_key_and_sets_owner)
{
    rec_t r = {0};
    tasks_t *t = tasks_new(100, 100000, s_emit, &r);
    char err[256];
    cdt_ingress_t m = s_msg("t1", CDT_TASK_STARTED);
    ck_assert_int_eq(tasks_ingest(t, &m, 0, WALL, err, sizeof err), -1);
    ck_assert_str_eq(err, "task 't1' is unknown: its first event needs "
                          "'virtualKeyId'");
    ck_assert_int_eq(r.n, 0);
    ck_assert(!tasks_owner(t, "t1", 2, NULL));

    m = s_first("t1", 7, CDT_TASK_OTHER);
    ck_assert_int_eq(tasks_ingest(t, &m, 0, WALL, err, sizeof err), 0);
    int64_t owner = 0;
    ck_assert(tasks_owner(t, "t1", 2, &owner));
    ck_assert_int_eq(owner, 7);

    /* another key is refused; the same key or none is fine */
    m = s_progress("t1", 10);
    m.has_key_id = true;
    m.key_id = 8;
    ck_assert_int_eq(tasks_ingest(t, &m, 500, WALL, err, sizeof err), -1);
    ck_assert_str_eq(err, "task 't1' belongs to another virtual key");
    m.key_id = 7;
    ck_assert_int_eq(tasks_ingest(t, &m, 500, WALL, err, sizeof err), 0);
    m = s_progress("t1", 20);
    ck_assert_int_eq(tasks_ingest(t, &m, 1000, WALL, err, sizeof err), 0);
    ck_assert_uint_eq(tasks_counters(t)->refused, 2);
    ck_assert_uint_eq(tasks_counters(t)->accepted, 3);
    tasks_destroy(&t);
    ck_assert_ptr_null(t);
}
END_TEST

START_TEST(test_tasks_refuses_bad_input)
{
    rec_t r = {0};
    tasks_t *t = tasks_new(100, 100000, s_emit, &r);
    cdt_ingress_t m = s_first("", 7, CDT_TASK_OTHER);
    ck_assert_int_eq(s_ingest(t, m, 0), -1);
    m = s_first("bad\nid", 7, CDT_TASK_OTHER);
    ck_assert_int_eq(s_ingest(t, m, 0), -1);
    m = s_first("t", 0, CDT_TASK_OTHER);
    ck_assert_int_eq(s_ingest(t, m, 0), -1);
    m = s_first("t", 7, CDT_TASK_OTHER);
    m.has_percent = true;
    m.percent = 101;
    ck_assert_int_eq(s_ingest(t, m, 0), -1);
    ck_assert_int_eq(r.n, 0);
    ck_assert_uint_eq(tasks_count(t), 0);
    tasks_destroy(&t);
}
END_TEST

START_TEST(test_tasks_started_payload_and_groups)
{
    rec_t r = {0};
    tasks_t *t = tasks_new(100, 100000, s_emit, &r);
    cdt_ingress_t m = s_first("abc", 7, CDT_TASK_OTHER);
    m.id.ptr = "corr-1";
    m.id.len = 6;
    m.ts = 1700000000000LL;
    ck_assert_int_eq(s_ingest(t, m, 0), 0);
    ck_assert_int_eq(r.n, 1); /* "other" tasks: TaskHub only */
    sent_t *s = &r.sent[0];
    ck_assert_str_eq(s->hub, "TaskHub");
    ck_assert_str_eq(s->target, "TaskStarted");
    ck_assert_str_eq(s->groups, "task-abc,vkey-7-other");
    args_t a;
    s_args(s, &a);
    ck_assert_uint_eq(a.a.size, 3);
    ck_assert(s_str_is(&a.a.ptr[0], "abc"));
    ck_assert(s_str_is(&a.a.ptr[1], "other"));
    const msgpack_object *d = &a.a.ptr[2];
    ck_assert(s_str_is(s_get(d, "taskId"), "abc"));
    ck_assert(s_str_is(s_get(d, "taskType"), "other"));
    ck_assert(s_str_is(s_get(d, "state"), "started"));
    ck_assert_int_eq(s_int(s_get(d, "virtualKeyId")), 7);
    ck_assert(s_str_is(s_get(d, "timestamp"), "2023-11-14T22:13:20.000Z"));
    ck_assert(s_str_is(s_get(d, "correlationId"), "corr-1"));
    ck_assert_ptr_null(s_get(d, "percent"));
    msgpack_unpacked_destroy(&a.up);
    tasks_destroy(&t);
}
END_TEST

START_TEST(test_tasks_video_events_go_to_both_hubs)
{
    rec_t r = {0};
    tasks_t *t = tasks_new(0, 100000, s_emit, &r);
    ck_assert_int_eq(s_ingest(t, s_first("v1", 3, CDT_TASK_VIDEO), 0), 0);
    ck_assert_int_eq(s_ingest(t, s_progress("v1", 40), 1), 0);
    cdt_ingress_t done = s_msg("v1", CDT_TASK_COMPLETED);
    msgpack_object result = {.type = MSGPACK_OBJECT_STR,
                             .via.str = {.size = 3, .ptr = "url"}};
    done.result = &result;
    ck_assert_int_eq(s_ingest(t, done, 2), 0);
    ck_assert_int_eq(r.n, 6);
    const char *want[6][3] = {
        {"TaskHub", "TaskStarted", "task-v1,vkey-3-video"},
        {"VideoGenerationHub", "VideoProgress", "video-v1"},
        {"TaskHub", "TaskProgress", "task-v1,vkey-3-video"},
        {"VideoGenerationHub", "VideoProgress", "video-v1"},
        {"TaskHub", "TaskCompleted", "task-v1,vkey-3-video"},
        {"VideoGenerationHub", "VideoCompleted", "video-v1"},
    };
    for (int i = 0; i < 6; i++) {
        ck_assert_str_eq(r.sent[i].hub, want[i][0]);
        ck_assert_str_eq(r.sent[i].target, want[i][1]);
        ck_assert_str_eq(r.sent[i].groups, want[i][2]);
    }
    /* TaskProgress(taskId, percent, message, details) */
    args_t a;
    s_args(&r.sent[2], &a);
    ck_assert_uint_eq(a.a.size, 4);
    ck_assert_int_eq(s_int(&a.a.ptr[1]), 40);
    ck_assert_int_eq(a.a.ptr[2].type, MSGPACK_OBJECT_NIL);
    msgpack_unpacked_destroy(&a.up);
    /* VideoProgress: one object with status and progress */
    s_args(&r.sent[3], &a);
    ck_assert_uint_eq(a.a.size, 1);
    ck_assert(s_str_is(s_get(&a.a.ptr[0], "status"), "progress"));
    ck_assert_int_eq(s_int(s_get(&a.a.ptr[0], "progress")), 40);
    msgpack_unpacked_destroy(&a.up);
    /* TaskCompleted(taskId, result, details); details keep the percent */
    s_args(&r.sent[4], &a);
    ck_assert(s_str_is(&a.a.ptr[1], "url"));
    ck_assert(s_str_is(s_get(&a.a.ptr[2], "result"), "url"));
    ck_assert_int_eq(s_int(s_get(&a.a.ptr[2], "percent")), 40);
    msgpack_unpacked_destroy(&a.up);
    tasks_destroy(&t);
}
END_TEST

START_TEST(test_tasks_image_failures_map_to_image_failed)
{
    rec_t r = {0};
    tasks_t *t = tasks_new(0, 100000, s_emit, &r);
    ck_assert_int_eq(s_ingest(t, s_first("i1", 3, CDT_TASK_IMAGE), 0), 0);
    cdt_ingress_t f = s_msg("i1", CDT_TASK_FAILED);
    f.error.ptr = "boom";
    f.error.len = 4;
    f.has_retryable = true;
    f.retryable = true;
    ck_assert_int_eq(s_ingest(t, f, 1), 0);
    ck_assert_int_eq(r.n, 4);
    ck_assert_str_eq(r.sent[1].target, "ImageProgress");
    ck_assert_str_eq(r.sent[1].groups, "image-i1");
    ck_assert_str_eq(r.sent[2].target, "TaskFailed");
    ck_assert_str_eq(r.sent[3].hub, "ImageGenerationHub");
    ck_assert_str_eq(r.sent[3].target, "ImageFailed");
    args_t a;
    s_args(&r.sent[2], &a); /* TaskFailed(taskId, error, isRetryable, d) */
    ck_assert_uint_eq(a.a.size, 4);
    ck_assert(s_str_is(&a.a.ptr[1], "boom"));
    ck_assert_int_eq(a.a.ptr[2].type, MSGPACK_OBJECT_BOOLEAN);
    ck_assert(a.a.ptr[2].via.boolean);
    msgpack_unpacked_destroy(&a.up);
    /* cancelled and timed out are failures on the media hub too */
    ck_assert_int_eq(s_ingest(t, s_first("i2", 3, CDT_TASK_IMAGE), 2), 0);
    ck_assert_int_eq(s_ingest(t, s_msg("i2", CDT_TASK_TIMED_OUT), 3), 0);
    ck_assert_str_eq(r.sent[6].target, "TaskTimedOut");
    ck_assert_str_eq(r.sent[7].target, "ImageFailed");
    tasks_destroy(&t);
}
END_TEST

/* Percent of recorded TaskProgress i. */
static int64_t
s_pct(rec_t *r, int i)
{
    ck_assert_str_eq(r->sent[i].target, "TaskProgress");
    args_t a;
    s_args(&r->sent[i], &a);
    int64_t v = s_int(&a.a.ptr[1]);
    msgpack_unpacked_destroy(&a.up);
    return v;
}

START_TEST(test_tasks_progress_coalesced_latest_wins)
{
    rec_t r = {0};
    tasks_t *t = tasks_new(100, 100000, s_emit, &r);
    ck_assert_int_eq(s_ingest(t, s_first("t", 1, CDT_TASK_OTHER), 0), 0);
    ck_assert_int_eq(s_ingest(t, s_progress("t", 10), 1000), 0);
    ck_assert_int_eq(r.n, 2); /* the first progress goes at once */
    ck_assert_int_eq(s_ingest(t, s_progress("t", 20), 1010), 0);
    ck_assert_int_eq(s_ingest(t, s_progress("t", 30), 1020), 0);
    ck_assert_int_eq(r.n, 2); /* inside the window: held */
    ck_assert_uint_eq(tasks_pending(t), 1);
    tasks_tick(t, 1099);
    ck_assert_int_eq(r.n, 2);
    tasks_tick(t, 1100);
    ck_assert_int_eq(r.n, 3);
    ck_assert_int_eq(s_pct(&r, 2), 30); /* 20 was superseded */
    ck_assert_uint_eq(tasks_counters(t)->coalesced, 1);
    ck_assert_uint_eq(tasks_pending(t), 0);
    /* the window restarts at the flush */
    ck_assert_int_eq(s_ingest(t, s_progress("t", 40), 1150), 0);
    ck_assert_int_eq(r.n, 3);
    tasks_tick(t, 1200);
    ck_assert_int_eq(r.n, 4);
    ck_assert_int_eq(s_pct(&r, 3), 40);
    /* a progress after a quiet window goes at once */
    ck_assert_int_eq(s_ingest(t, s_progress("t", 50), 1400), 0);
    ck_assert_int_eq(r.n, 5);
    tasks_tick(t, 2000);
    ck_assert_int_eq(r.n, 5);
    tasks_destroy(&t);
}
END_TEST

START_TEST(test_tasks_terminal_flushes_pending_first)
{
    rec_t r = {0};
    tasks_t *t = tasks_new(100, 100000, s_emit, &r);
    ck_assert_int_eq(s_ingest(t, s_first("t", 1, CDT_TASK_OTHER), 0), 0);
    ck_assert_int_eq(s_ingest(t, s_progress("t", 10), 0), 0);
    ck_assert_int_eq(s_ingest(t, s_progress("t", 90), 10), 0);
    ck_assert_int_eq(r.n, 2);
    ck_assert_int_eq(s_ingest(t, s_msg("t", CDT_TASK_COMPLETED), 20), 0);
    ck_assert_int_eq(r.n, 4);
    ck_assert_int_eq(s_pct(&r, 2), 90);
    ck_assert_str_eq(r.sent[3].target, "TaskCompleted");
    ck_assert_uint_eq(tasks_pending(t), 0);
    tasks_tick(t, 1000);
    ck_assert_int_eq(r.n, 4);
    /* finished: progress is refused, a retry may start it again */
    char err[256];
    cdt_ingress_t p = s_progress("t", 95);
    ck_assert_int_eq(tasks_ingest(t, &p, 30, WALL, err, sizeof err), -1);
    ck_assert_str_eq(err, "task 't' has already finished");
    ck_assert_int_eq(s_ingest(t, s_msg("t", CDT_TASK_STARTED), 40), 0);
    ck_assert_int_eq(s_ingest(t, s_progress("t", 5), 50), 0);
    ck_assert_int_eq(r.n, 6);
    tasks_destroy(&t);
}
END_TEST

START_TEST(test_tasks_last_event_per_hub)
{
    rec_t r = {0};
    tasks_t *t = tasks_new(100, 100000, s_emit, &r);
    const char *target;
    const void *args;
    size_t len;
    ck_assert(!tasks_last_event(t, "v", 1, "TaskHub", &target, &args, &len));
    ck_assert_int_eq(s_ingest(t, s_first("v", 1, CDT_TASK_VIDEO), 0), 0);
    ck_assert_int_eq(s_ingest(t, s_progress("v", 10), 0), 0);
    ck_assert_int_eq(s_ingest(t, s_progress("v", 20), 10), 0); /* held */
    ck_assert(tasks_last_event(t, "v", 1, "TaskHub", &target, &args, &len));
    ck_assert_str_eq(target, "TaskProgress");
    /* the last *sent* event: 10, not the held 20 */
    ck_assert_uint_eq(len, r.sent[2].args_len);
    ck_assert_int_eq(memcmp(args, r.sent[2].args, len), 0);
    ck_assert(tasks_last_event(t, "v", 1, "VideoGenerationHub", &target, &args,
                               &len));
    ck_assert_str_eq(target, "VideoProgress");
    ck_assert(!tasks_last_event(t, "v", 1, "ImageGenerationHub", &target, &args,
                                &len));
    tasks_destroy(&t);
}
END_TEST

START_TEST(test_tasks_retention_forgets_quiet_tasks)
{
    rec_t r = {0};
    tasks_t *t = tasks_new(100, 1000, s_emit, &r);
    ck_assert_int_eq(s_ingest(t, s_first("a", 1, CDT_TASK_OTHER), 0), 0);
    ck_assert_int_eq(s_ingest(t, s_msg("a", CDT_TASK_COMPLETED), 100), 0);
    ck_assert_int_eq(s_ingest(t, s_first("b", 1, CDT_TASK_OTHER), 500), 0);
    tasks_tick(t, 1099);
    ck_assert_uint_eq(tasks_count(t), 2);
    tasks_tick(t, 1100);
    ck_assert_uint_eq(tasks_count(t), 1);
    ck_assert(!tasks_owner(t, "a", 1, NULL));
    ck_assert(tasks_owner(t, "b", 1, NULL));
    /* activity keeps a task alive */
    ck_assert_int_eq(s_ingest(t, s_progress("b", 50), 1400), 0);
    tasks_tick(t, 2000);
    ck_assert(tasks_owner(t, "b", 1, NULL));
    tasks_tick(t, 2400);
    ck_assert_uint_eq(tasks_count(t), 0);
    ck_assert_uint_eq(tasks_counters(t)->expired, 2);
    /* a forgotten task is unknown again: a new owner may take the id */
    cdt_ingress_t m = s_first("a", 2, CDT_TASK_OTHER);
    ck_assert_int_eq(s_ingest(t, m, 2500), 0);
    int64_t owner;
    ck_assert(tasks_owner(t, "a", 1, &owner));
    ck_assert_int_eq(owner, 2);
    tasks_destroy(&t);
}
END_TEST

static int
s_count_one(void *arg, const void *key, size_t klen, const void *val,
            size_t vlen)
{
    (void)key;
    (void)klen;
    (void)val;
    (void)vlen;
    (*(int *)arg)++;
    return 0;
}

static int
s_stored(store_t *st)
{
    int n = 0;
    ck_assert_int_eq(store_iterate(st, "task", s_count_one, &n), 0);
    return n;
}

START_TEST(test_tasks_persist_and_reload)
{
    char *dir = tmpdir_new();
    store_t *st = store_open(dir);
    rec_t r = {0};
    tasks_t *t = tasks_new(100, 100000, s_emit, &r);
    ck_assert_int_eq(tasks_attach_store(t, st, 0, WALL), 0);
    ck_assert_int_eq(s_ingest(t, s_first("v", 1, CDT_TASK_VIDEO), 0), 0);
    ck_assert_int_eq(s_ingest(t, s_progress("v", 10), 1), 0);
    ck_assert_int_eq(s_ingest(t, s_progress("v", 20), 10), 0); /* held */
    ck_assert_int_eq(s_ingest(t, s_first("o", 2, CDT_TASK_OTHER), 20), 0);
    ck_assert_int_eq(s_ingest(t, s_msg("o", CDT_TASK_COMPLETED), 30), 0);
    ck_assert_uint_eq(tasks_unsynced(t), 2);
    ck_assert_int_eq(tasks_sync(t), 0);
    ck_assert_uint_eq(tasks_unsynced(t), 0);
    ck_assert_int_eq(s_stored(st), 2);
    ck_assert_int_eq(r.n, 6); /* v: 2 x 2 events; o: 2 */
    sent_t sent_v10 = r.sent[2];
    tasks_destroy(&t);

    /* a new registry on the same store: another clock, same tasks */
    rec_t r2 = {0};
    t = tasks_new(100, 100000, s_emit, &r2);
    ck_assert_int_eq(tasks_attach_store(t, st, 5000, WALL + 50), 0);
    ck_assert_uint_eq(tasks_count(t), 2);
    int64_t owner = 0;
    ck_assert(tasks_owner(t, "v", 1, &owner));
    ck_assert_int_eq(owner, 1);
    ck_assert(tasks_owner(t, "o", 1, &owner));
    ck_assert_int_eq(owner, 2);
    const char *target;
    const void *args;
    size_t len;
    ck_assert(tasks_last_event(t, "v", 1, "TaskHub", &target, &args, &len));
    ck_assert_str_eq(target, "TaskProgress");
    ck_assert_uint_eq(len, sent_v10.args_len);
    ck_assert_int_eq(memcmp(args, sent_v10.args, len), 0);
    ck_assert(tasks_last_event(t, "o", 1, "TaskHub", &target, &args, &len));
    ck_assert_str_eq(target, "TaskCompleted");
    ck_assert_int_eq(r2.n, 0); /* loading sends nothing */

    /* the held progress was acknowledged: it still goes out, a window
     * after the reload */
    ck_assert_uint_eq(tasks_pending(t), 1);
    tasks_tick(t, 5099);
    ck_assert_int_eq(r2.n, 0);
    tasks_tick(t, 5100);
    ck_assert_int_eq(r2.n, 2);
    ck_assert_str_eq(r2.sent[0].target, "TaskProgress");
    args_t a;
    s_args(&r2.sent[0], &a);
    ck_assert_int_eq(s_int(&a.a.ptr[1]), 20);
    msgpack_unpacked_destroy(&a.up);
    ck_assert_str_eq(r2.sent[1].target, "VideoProgress");

    /* ownership and state survive: the finished task refuses progress,
     * another key cannot take either task */
    char err[256];
    cdt_ingress_t m = s_progress("o", 50);
    ck_assert_int_eq(tasks_ingest(t, &m, 5200, WALL, err, sizeof err), -1);
    ck_assert_str_eq(err, "task 'o' has already finished");
    m = s_first("v", 2, CDT_TASK_VIDEO);
    ck_assert_int_eq(tasks_ingest(t, &m, 5200, WALL, err, sizeof err), -1);
    ck_assert_str_eq(err, "task 'v' belongs to another virtual key");
    tasks_destroy(&t);
    store_destroy(&st);
    tmpdir_remove(&dir);
}
END_TEST

START_TEST(test_tasks_persisted_retention_and_long_ids)
{
    char *dir = tmpdir_new();
    store_t *st = store_open(dir);
    rec_t r = {0};
    char err[256];
    char long_id[CDT_GROUP_ARG_MAX + 1];
    memset(long_id, 'x', CDT_GROUP_ARG_MAX);
    long_id[CDT_GROUP_ARG_MAX] = '\0'; /* longer than a store key */
    tasks_t *t = tasks_new(0, 1000, s_emit, &r);
    ck_assert_int_eq(tasks_attach_store(t, st, 0, WALL), 0);
    cdt_ingress_t m = s_first("old", 1, CDT_TASK_OTHER);
    ck_assert_int_eq(tasks_ingest(t, &m, 0, WALL, err, sizeof err), 0);
    m = s_first(long_id, 1, CDT_TASK_OTHER);
    ck_assert_int_eq(tasks_ingest(t, &m, 600, WALL + 600, err, sizeof err), 0);
    m = s_first("~tilde", 3, CDT_TASK_OTHER);
    ck_assert_int_eq(tasks_ingest(t, &m, 600, WALL + 600, err, sizeof err), 0);
    ck_assert_int_eq(tasks_sync(t), 0);
    ck_assert_int_eq(s_stored(st), 3);
    tasks_destroy(&t);

    /* 1000 ms of wall time later "old" is past retention; the others are
     * 400 ms old and expire 600 ms after the reload */
    t = tasks_new(0, 1000, s_emit, &r);
    ck_assert_int_eq(tasks_attach_store(t, st, 70000, WALL + 1000), 0);
    ck_assert_uint_eq(tasks_count(t), 2);
    ck_assert(!tasks_owner(t, "old", 3, NULL));
    int64_t owner = 0;
    ck_assert(tasks_owner(t, long_id, strlen(long_id), &owner));
    ck_assert_int_eq(owner, 1);
    ck_assert(tasks_owner(t, "~tilde", 6, &owner));
    ck_assert_int_eq(owner, 3);
    ck_assert_int_eq(tasks_sync(t), 0); /* removes "old" */
    ck_assert_int_eq(s_stored(st), 2);
    tasks_tick(t, 70599);
    ck_assert_uint_eq(tasks_count(t), 2);
    tasks_tick(t, 70600);
    ck_assert_uint_eq(tasks_count(t), 0);
    ck_assert_uint_eq(tasks_unsynced(t), 2);
    ck_assert_int_eq(tasks_sync(t), 0);
    ck_assert_int_eq(s_stored(st), 0);
    tasks_destroy(&t);
    store_destroy(&st);
    tmpdir_remove(&dir);
}
END_TEST

START_TEST(test_tasks_without_store_marks_nothing)
{
    rec_t r = {0};
    tasks_t *t = tasks_new(100, 1000, s_emit, &r);
    ck_assert_int_eq(s_ingest(t, s_first("a", 1, CDT_TASK_OTHER), 0), 0);
    ck_assert_uint_eq(tasks_unsynced(t), 0);
    ck_assert_int_eq(tasks_sync(t), 0);
    tasks_destroy(&t);
}
END_TEST

Suite *
tasks_suite(void)
{
    Suite *s = suite_create("tasks");
    TCase *tc = tcase_create("registry");
    tcase_add_test(tc, test_tasks_first_event_needs_key_and_sets_owner);
    tcase_add_test(tc, test_tasks_refuses_bad_input);
    tcase_add_test(tc, test_tasks_last_event_per_hub);
    tcase_add_test(tc, test_tasks_retention_forgets_quiet_tasks);
    suite_add_tcase(s, tc);
    tc = tcase_create("events");
    tcase_add_test(tc, test_tasks_started_payload_and_groups);
    tcase_add_test(tc, test_tasks_video_events_go_to_both_hubs);
    tcase_add_test(tc, test_tasks_image_failures_map_to_image_failed);
    suite_add_tcase(s, tc);
    tc = tcase_create("coalescing");
    tcase_add_test(tc, test_tasks_progress_coalesced_latest_wins);
    tcase_add_test(tc, test_tasks_terminal_flushes_pending_first);
    suite_add_tcase(s, tc);
    tc = tcase_create("persistence");
    tcase_add_test(tc, test_tasks_persist_and_reload);
    tcase_add_test(tc, test_tasks_persisted_retention_and_long_ids);
    tcase_add_test(tc, test_tasks_without_store_marks_nothing);
    suite_add_tcase(s, tc);
    return s;
}
