/*
 * tasks - the task registry and its progress coalescing.
 *
 * Each task sits on an LRU list ordered by its last event, so retention
 * expires from the head in O(expired). Tasks with a waiting progress event
 * sit on a second list that tasks_tick scans; it holds only the tasks
 * that reported twice within one window, which stays small.
 *
 * Payloads are encoded when the message arrives (with its own timestamp)
 * and kept as MessagePack until sent, so a delayed progress still carries
 * the time it happened.
 *
 * SPDX-License-Identifier: MIT
 */
#define CDT_LOG_MODULE "tasks"
#include "broker/tasks.h"

#include "broker/hashfn.h"
#include "common/cdt_buf.h"
#include "common/cdt_catalog.h"
#include "common/cdt_clock.h"
#include "common/cdt_log.h"
#include "common/cdt_mem.h"

#include <assert.h>
#include <czmq.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    HUB_TASK,
    HUB_VIDEO,
    HUB_IMAGE,
    N_HUBS
};

static const char *const s_hub_names[N_HUBS] = {"TaskHub", "VideoGenerationHub",
                                                "ImageGenerationHub"};

typedef struct task_evt {
    int hub;            /* HUB_*; -1 = unused slot */
    const char *target; /* static */
    cdt_buf_t args;     /* MessagePack array */
} task_evt_t;

typedef struct task task_t;
struct task {
    char *id; /* the hash key; owned */
    int64_t owner;
    enum cdt_task_type type;
    enum cdt_task_state state;
    bool finished;
    bool has_percent;
    double percent;
    int64_t touched_ms;       /* monotonic: last event */
    int64_t progress_sent_ms; /* monotonic: last progress sent */
    bool progress_sent;       /* progress_sent_ms is set */
    task_evt_t pending[2];    /* a waiting progress (hub -1 = none) */
    bool has_pending;
    task_evt_t last[N_HUBS]; /* last sent event per hub */
    task_t *lru_prev, *lru_next;
    task_t *pend_prev, *pend_next;
};

struct tasks {
    int64_t window_ms;
    int64_t retention_ms;
    emit_fn *emit;
    void *emit_arg;
    zhashx_t *by_id; /* id -> task_t (owned) */
    task_t *lru_head, *lru_tail;
    task_t *pend_head;
    size_t n_pending;
    tasks_counters_t counters;
};

static int
s_str_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

tasks_t *
tasks_new(int64_t window_ms, int64_t retention_ms, emit_fn *emit,
          void *emit_arg)
{
    assert(emit);
    tasks_t *self = cdt_xcalloc(1, sizeof *self);
    self->window_ms = window_ms > 0 ? window_ms : 0;
    self->retention_ms = retention_ms > 0 ? retention_ms : 0;
    self->emit = emit;
    self->emit_arg = emit_arg;
    self->by_id = zhashx_new();
    if (!self->by_id)
        abort();
    zhashx_set_key_hasher(self->by_id, hashfn_str);
    zhashx_set_key_comparator(self->by_id, s_str_cmp);
    zhashx_set_key_duplicator(self->by_id, NULL);
    zhashx_set_key_destructor(self->by_id, NULL);
    return self;
}

static void
s_evt_clear(task_evt_t *e)
{
    cdt_buf_release(&e->args);
    e->hub = -1;
    e->target = NULL;
}

static void
s_task_free(task_t *t)
{
    for (int i = 0; i < 2; i++)
        s_evt_clear(&t->pending[i]);
    for (int i = 0; i < N_HUBS; i++)
        s_evt_clear(&t->last[i]);
    free(t->id);
    free(t);
}

void
tasks_destroy(tasks_t **self_p)
{
    assert(self_p);
    tasks_t *self = *self_p;
    if (!self)
        return;
    task_t *t = self->lru_head;
    while (t) {
        task_t *next = t->lru_next;
        s_task_free(t);
        t = next;
    }
    zhashx_destroy(&self->by_id);
    free(self);
    *self_p = NULL;
}

/* ---- lists -------------------------------------------------------------- */

static void
s_lru_unlink(tasks_t *self, task_t *t)
{
    if (t->lru_prev)
        t->lru_prev->lru_next = t->lru_next;
    else
        self->lru_head = t->lru_next;
    if (t->lru_next)
        t->lru_next->lru_prev = t->lru_prev;
    else
        self->lru_tail = t->lru_prev;
    t->lru_prev = t->lru_next = NULL;
}

static void
s_lru_append(tasks_t *self, task_t *t)
{
    t->lru_prev = self->lru_tail;
    t->lru_next = NULL;
    if (self->lru_tail)
        self->lru_tail->lru_next = t;
    else
        self->lru_head = t;
    self->lru_tail = t;
}

static void
s_pend_unlink(tasks_t *self, task_t *t)
{
    if (!t->has_pending)
        return;
    if (t->pend_prev)
        t->pend_prev->pend_next = t->pend_next;
    else
        self->pend_head = t->pend_next;
    if (t->pend_next)
        t->pend_next->pend_prev = t->pend_prev;
    t->pend_prev = t->pend_next = NULL;
    t->has_pending = false;
    self->n_pending--;
    for (int i = 0; i < 2; i++)
        s_evt_clear(&t->pending[i]);
}

static void
s_pend_link(tasks_t *self, task_t *t)
{
    assert(!t->has_pending);
    t->pend_prev = NULL;
    t->pend_next = self->pend_head;
    if (self->pend_head)
        self->pend_head->pend_prev = t;
    self->pend_head = t;
    t->has_pending = true;
    self->n_pending++;
}

/* ---- sending ------------------------------------------------------------ */

/* Sends one event and keeps it as the task's last on that hub (taking the
 * buffer). */
static void
s_send(tasks_t *self, task_t *t, task_evt_t *e)
{
    if (e->hub < 0)
        return;
    char g1[CDT_GROUP_ARG_MAX + 32];
    char g2[CDT_GROUP_ARG_MAX + 64];
    const char *groups[2] = {g1, g2};
    size_t n_groups = 1;
    switch (e->hub) {
    case HUB_TASK:
        snprintf(g1, sizeof g1, "task-%s", t->id);
        snprintf(g2, sizeof g2, "vkey-%lld-%s", (long long)t->owner,
                 cdt_task_type_name(t->type));
        n_groups = 2;
        break;
    case HUB_VIDEO:
        snprintf(g1, sizeof g1, "video-%s", t->id);
        break;
    default:
        snprintf(g1, sizeof g1, "image-%s", t->id);
        break;
    }
    (void)self->emit(self->emit_arg, s_hub_names[e->hub], groups, n_groups,
                     e->target, e->args.data, e->args.len);
    self->counters.emitted++;
    task_evt_t *last = &t->last[e->hub];
    cdt_buf_release(&last->args);
    *last = *e;
    cdt_buf_init(&e->args);
    e->hub = -1;
    e->target = NULL;
}

static void
s_flush_pending(tasks_t *self, task_t *t, int64_t now_ms)
{
    if (!t->has_pending)
        return;
    for (int i = 0; i < 2; i++)
        s_send(self, t, &t->pending[i]);
    t->progress_sent_ms = now_ms;
    t->progress_sent = true;
    s_pend_unlink(self, t);
}

/* ---- payloads ----------------------------------------------------------- */

static void
s_pack_str(msgpack_packer *pk, const char *s, size_t len)
{
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

static void
s_pack_cstr(msgpack_packer *pk, const char *s)
{
    s_pack_str(pk, s, strlen(s));
}

/* Integral percentages go out as integers, as the original's int did. */
static void
s_pack_number(msgpack_packer *pk, double d)
{
    if (d >= -9007199254740992.0 && d <= 9007199254740992.0 &&
        (double)(int64_t)d == d)
        msgpack_pack_int64(pk, (int64_t)d);
    else
        msgpack_pack_double(pk, d);
}

static void
s_pack_details(msgpack_packer *pk, const task_t *t, const cdt_ingress_t *m,
               const char *iso, bool media)
{
    bool has_message = m->message.len > 0;
    bool has_error = m->error.len > 0;
    size_t n = 5; /* taskId taskType state virtualKeyId timestamp */
    n += t->has_percent + has_message + (m->result != NULL) + has_error +
         m->has_retryable + (m->id.len > 0);
    if (media)
        n += 1 + t->has_percent; /* status, progress */
    msgpack_pack_map(pk, n);
    s_pack_cstr(pk, "taskId");
    s_pack_cstr(pk, t->id);
    s_pack_cstr(pk, "taskType");
    s_pack_cstr(pk, cdt_task_type_name(t->type));
    s_pack_cstr(pk, "state");
    s_pack_cstr(pk, cdt_task_state_name(t->state));
    if (t->has_percent) {
        s_pack_cstr(pk, "percent");
        s_pack_number(pk, t->percent);
    }
    if (has_message) {
        s_pack_cstr(pk, "message");
        s_pack_str(pk, m->message.ptr, m->message.len);
    }
    if (m->result) {
        s_pack_cstr(pk, "result");
        msgpack_pack_object(pk, *m->result);
    }
    if (has_error) {
        s_pack_cstr(pk, "error");
        s_pack_str(pk, m->error.ptr, m->error.len);
    }
    if (m->has_retryable) {
        s_pack_cstr(pk, "isRetryable");
        if (m->retryable)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
    }
    s_pack_cstr(pk, "virtualKeyId");
    msgpack_pack_int64(pk, t->owner);
    s_pack_cstr(pk, "timestamp");
    s_pack_cstr(pk, iso);
    if (m->id.len > 0) {
        s_pack_cstr(pk, "correlationId");
        s_pack_str(pk, m->id.ptr, m->id.len);
    }
    if (media) {
        s_pack_cstr(pk, "status");
        s_pack_cstr(pk, cdt_task_state_name(t->state));
        if (t->has_percent) {
            s_pack_cstr(pk, "progress");
            s_pack_number(pk, t->percent);
        }
    }
}

static void
s_pack_opt_str(msgpack_packer *pk, cdt_str_t s)
{
    if (s.len > 0)
        s_pack_str(pk, s.ptr, s.len);
    else
        msgpack_pack_nil(pk);
}

static const char *
s_task_target(enum cdt_task_state s)
{
    switch (s) {
    case CDT_TASK_STARTED:
        return "TaskStarted";
    case CDT_TASK_PROGRESS:
        return "TaskProgress";
    case CDT_TASK_COMPLETED:
        return "TaskCompleted";
    case CDT_TASK_FAILED:
        return "TaskFailed";
    case CDT_TASK_CANCELLED:
        return "TaskCancelled";
    default:
        return "TaskTimedOut";
    }
}

static const char *
s_media_target(int hub, enum cdt_task_state s)
{
    bool video = hub == HUB_VIDEO;
    switch (s) {
    case CDT_TASK_STARTED:
    case CDT_TASK_PROGRESS:
        return video ? "VideoProgress" : "ImageProgress";
    case CDT_TASK_COMPLETED:
        return video ? "VideoCompleted" : "ImageCompleted";
    default:
        return video ? "VideoFailed" : "ImageFailed";
    }
}

/* Encodes the message's events into out[0] (TaskHub) and out[1] (the
 * media hub of video and image tasks, else unused). */
static void
s_build(const task_t *t, const cdt_ingress_t *m, int64_t wall_ms,
        task_evt_t out[2])
{
    char iso[CDT_ISO8601_LEN];
    cdt_clock_iso8601(m->ts > 0 ? m->ts : wall_ms, iso);
    msgpack_packer pk;

    out[0].hub = HUB_TASK;
    out[0].target = s_task_target(t->state);
    cdt_buf_init(&out[0].args);
    msgpack_packer_init(&pk, &out[0].args, cdt_buf_msgpack_write);
    switch (t->state) {
    case CDT_TASK_STARTED:
        msgpack_pack_array(&pk, 3);
        s_pack_cstr(&pk, t->id);
        s_pack_cstr(&pk, cdt_task_type_name(t->type));
        break;
    case CDT_TASK_PROGRESS:
        msgpack_pack_array(&pk, 4);
        s_pack_cstr(&pk, t->id);
        s_pack_number(&pk, t->has_percent ? t->percent : 0);
        s_pack_opt_str(&pk, m->message);
        break;
    case CDT_TASK_COMPLETED:
        msgpack_pack_array(&pk, 3);
        s_pack_cstr(&pk, t->id);
        if (m->result)
            msgpack_pack_object(&pk, *m->result);
        else
            msgpack_pack_nil(&pk);
        break;
    case CDT_TASK_FAILED:
        msgpack_pack_array(&pk, 4);
        s_pack_cstr(&pk, t->id);
        s_pack_opt_str(&pk, m->error);
        if (m->has_retryable && m->retryable)
            msgpack_pack_true(&pk);
        else
            msgpack_pack_false(&pk);
        break;
    default: /* cancelled, timed_out */
        msgpack_pack_array(&pk, 3);
        s_pack_cstr(&pk, t->id);
        s_pack_opt_str(&pk, m->message);
        break;
    }
    s_pack_details(&pk, t, m, iso, false);

    out[1].hub = -1;
    out[1].target = NULL;
    cdt_buf_init(&out[1].args);
    if (t->type != CDT_TASK_VIDEO && t->type != CDT_TASK_IMAGE)
        return;
    out[1].hub = t->type == CDT_TASK_VIDEO ? HUB_VIDEO : HUB_IMAGE;
    out[1].target = s_media_target(out[1].hub, t->state);
    msgpack_packer_init(&pk, &out[1].args, cdt_buf_msgpack_write);
    msgpack_pack_array(&pk, 1);
    s_pack_details(&pk, t, m, iso, true);
}

/* ---- ingest ------------------------------------------------------------- */

static bool
s_id_valid(cdt_str_t id)
{
    if (id.len == 0 || id.len > CDT_GROUP_ARG_MAX)
        return false;
    for (size_t i = 0; i < id.len; i++) {
        unsigned char c = (unsigned char)id.ptr[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

static task_t *
s_find(const tasks_t *self, const char *id, size_t len)
{
    if (len == 0 || len > CDT_GROUP_ARG_MAX)
        return NULL;
    char key[CDT_GROUP_ARG_MAX + 1];
    memcpy(key, id, len);
    key[len] = '\0';
    return zhashx_lookup(self->by_id, key);
}

static int s_refuse(tasks_t *self, char *err, size_t errlen, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

static int
s_refuse(tasks_t *self, char *err, size_t errlen, const char *fmt, ...)
{
    self->counters.refused++;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

int
tasks_ingest(tasks_t *self, const cdt_ingress_t *m, int64_t now_ms,
             int64_t wall_ms, char *err, size_t errlen)
{
    assert(self && m && err && errlen > 0);
    err[0] = '\0';
    if (!s_id_valid(m->task_id))
        return s_refuse(self, err, errlen,
                        "invalid taskId: 1 to %d bytes, no control "
                        "characters",
                        CDT_GROUP_ARG_MAX);
    char id[CDT_GROUP_ARG_MAX + 1];
    memcpy(id, m->task_id.ptr, m->task_id.len);
    id[m->task_id.len] = '\0';
    if (m->state < CDT_TASK_STARTED || m->state > CDT_TASK_TIMED_OUT)
        return s_refuse(self, err, errlen, "task '%s' has no valid state", id);
    if (m->has_percent &&
        (!isfinite(m->percent) || m->percent < 0 || m->percent > 100))
        return s_refuse(self, err, errlen,
                        "task '%s': field 'percent' must be between 0 and "
                        "100",
                        id);

    task_t *t = zhashx_lookup(self->by_id, id);
    if (!t) {
        if (!m->has_key_id)
            return s_refuse(self, err, errlen,
                            "task '%s' is unknown: its first event needs "
                            "'virtualKeyId'",
                            id);
        if (m->key_id <= 0)
            return s_refuse(self, err, errlen,
                            "task '%s': field 'virtualKeyId' must be "
                            "positive",
                            id);
        t = cdt_xcalloc(1, sizeof *t);
        t->id = cdt_xstrdup(id);
        t->owner = m->key_id;
        t->type = m->task_type ? m->task_type : CDT_TASK_OTHER;
        for (int i = 0; i < 2; i++)
            t->pending[i].hub = -1;
        for (int i = 0; i < N_HUBS; i++)
            t->last[i].hub = -1;
        if (zhashx_insert(self->by_id, t->id, t) != 0)
            abort();
        s_lru_append(self, t);
    } else {
        if (m->has_key_id && m->key_id != t->owner)
            return s_refuse(self, err, errlen,
                            "task '%s' belongs to another virtual key", id);
        if (t->finished && m->state != CDT_TASK_STARTED)
            return s_refuse(self, err, errlen, "task '%s' has already finished",
                            id);
    }
    self->counters.accepted++;

    if (m->state == CDT_TASK_STARTED && t->finished) {
        t->finished = false;
        t->has_percent = false;
        t->progress_sent = false;
    }
    t->state = m->state;
    if (m->has_percent) {
        t->has_percent = true;
        t->percent = m->percent;
    }
    t->touched_ms = now_ms;
    s_lru_unlink(self, t);
    s_lru_append(self, t);

    task_evt_t evts[2];
    s_build(t, m, wall_ms, evts);

    if (m->state == CDT_TASK_PROGRESS) {
        bool in_window = self->window_ms > 0 && t->progress_sent &&
                         now_ms - t->progress_sent_ms < self->window_ms;
        if (t->has_pending) {
            /* The newer progress supersedes the waiting one. */
            s_pend_unlink(self, t);
            self->counters.coalesced++;
        }
        if (in_window) {
            t->pending[0] = evts[0];
            t->pending[1] = evts[1];
            s_pend_link(self, t);
            return 0;
        }
        s_send(self, t, &evts[0]);
        s_send(self, t, &evts[1]);
        t->progress_sent_ms = now_ms;
        t->progress_sent = true;
        return 0;
    }

    s_flush_pending(self, t, now_ms);
    s_send(self, t, &evts[0]);
    s_send(self, t, &evts[1]);
    if (cdt_task_state_terminal(m->state))
        t->finished = true;
    return 0;
}

void
tasks_tick(tasks_t *self, int64_t now_ms)
{
    assert(self);
    task_t *t = self->pend_head;
    while (t) {
        task_t *next = t->pend_next;
        if (now_ms - t->progress_sent_ms >= self->window_ms)
            s_flush_pending(self, t, now_ms);
        t = next;
    }
    if (self->retention_ms <= 0)
        return;
    while ((t = self->lru_head) != NULL &&
           now_ms - t->touched_ms >= self->retention_ms) {
        s_flush_pending(self, t, now_ms);
        s_lru_unlink(self, t);
        zhashx_delete(self->by_id, t->id);
        s_task_free(t);
        self->counters.expired++;
    }
}

bool
tasks_owner(const tasks_t *self, const char *id, size_t len, int64_t *owner)
{
    assert(self);
    task_t *t = s_find(self, id, len);
    if (t && owner)
        *owner = t->owner;
    return t != NULL;
}

bool
tasks_last_event(const tasks_t *self, const char *id, size_t len,
                 const char *hub, const char **target, const void **args,
                 size_t *args_len)
{
    assert(self && hub);
    task_t *t = s_find(self, id, len);
    if (!t)
        return false;
    for (int i = 0; i < N_HUBS; i++) {
        if (strcmp(hub, s_hub_names[i]) != 0)
            continue;
        const task_evt_t *e = &t->last[i];
        if (e->hub < 0)
            return false;
        *target = e->target;
        *args = e->args.data;
        *args_len = e->args.len;
        return true;
    }
    return false;
}

size_t
tasks_count(const tasks_t *self)
{
    return zhashx_size(self->by_id);
}

size_t
tasks_pending(const tasks_t *self)
{
    return self->n_pending;
}

const tasks_counters_t *
tasks_counters(const tasks_t *self)
{
    return &self->counters;
}
