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
 * Persistence is write-behind: a change puts the task on a dirty list and
 * tasks_sync encodes the listed tasks (their whole record: a task is small
 * and a record that is always complete needs no merging on load) and the
 * expired ones' deletions into one store transaction. The stored time is
 * the wall clock of the last event, since the monotonic clock restarts
 * with the machine; a reload turns the age back into a monotonic time.
 *
 * SPDX-License-Identifier: MIT
 */
#define CDT_LOG_MODULE "tasks"
#include "broker/tasks.h"

#include "broker/hashfn.h"
#include "common/cdt_auth.h"
#include "common/cdt_buf.h"
#include "common/cdt_catalog.h"
#include "common/cdt_clock.h"
#include "common/cdt_log.h"
#include "common/cdt_mem.h"

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
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

/* Every event name a task sends: a stored event names one of them, and
 * loading maps it back to this static string. */
static const char *const s_targets[] = {
    "TaskStarted",   "TaskProgress",  "TaskCompleted",  "TaskFailed",
    "TaskCancelled", "TaskTimedOut",  "VideoProgress",  "VideoCompleted",
    "VideoFailed",   "ImageProgress", "ImageCompleted", "ImageFailed"};

#define S_NS "task"

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
    int64_t touched_wall;     /* wall ms of the last event (stored) */
    bool dirty;               /* on the dirty list */
    int64_t progress_sent_ms; /* monotonic: last progress sent */
    bool progress_sent;       /* progress_sent_ms is set */
    task_evt_t pending[2];    /* a waiting progress (hub -1 = none) */
    bool has_pending;
    task_evt_t last[N_HUBS]; /* last sent event per hub */
    task_t *lru_prev, *lru_next;
    task_t *pend_prev, *pend_next;
    task_t *dirty_prev, *dirty_next;
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
    store_t *store;     /* borrowed; NULL = nothing persists */
    task_t *dirty_head; /* changed since the last tasks_sync */
    size_t n_dirty;
    zlistx_t *deleted; /* store keys (char *, owned) of expired tasks */
};

static int
s_str_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void
s_free_item(void **item)
{
    free(*item);
    *item = NULL;
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
    self->deleted = zlistx_new();
    if (!self->deleted)
        abort();
    zlistx_set_destructor(self->deleted, s_free_item);
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
    zlistx_destroy(&self->deleted);
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

/* Marks t for the next tasks_sync. */
static void
s_mark(tasks_t *self, task_t *t)
{
    if (!self->store || t->dirty)
        return;
    t->dirty = true;
    t->dirty_prev = NULL;
    t->dirty_next = self->dirty_head;
    if (self->dirty_head)
        self->dirty_head->dirty_prev = t;
    self->dirty_head = t;
    self->n_dirty++;
}

static void
s_unmark(tasks_t *self, task_t *t)
{
    if (!t->dirty)
        return;
    if (t->dirty_prev)
        t->dirty_prev->dirty_next = t->dirty_next;
    else
        self->dirty_head = t->dirty_next;
    if (t->dirty_next)
        t->dirty_next->dirty_prev = t->dirty_prev;
    t->dirty_prev = t->dirty_next = NULL;
    t->dirty = false;
    self->n_dirty--;
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
    if (self->emit(self->emit_arg, s_hub_names[e->hub], groups, n_groups,
                   e->target, e->args.data, e->args.len) == 0)
        cdt_log_info("[SignalR:%s] Sent notification - Task: %s, "
                     "VirtualKey: %" PRId64 ", Groups: [%s%s%s]",
                     e->target, t->id, t->owner, g1, n_groups > 1 ? ", " : "",
                     n_groups > 1 ? g2 : "");
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
    s_mark(self, t);
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
    t->touched_wall = wall_ms;
    s_lru_unlink(self, t);
    s_lru_append(self, t);
    s_mark(self, t);

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

/* ---- persistence -------------------------------------------------------- */

/* The store key of task id into key (CDT_GROUP_ARG_MAX + 1 bytes): the id,
 * or "~" and its SHA-256 when the id is too long for the store. Returns
 * its length. */
static size_t
s_store_key(const tasks_t *self, const char *id, char *key)
{
    size_t len = strlen(id);
    if (len <= store_max_key(self->store) && id[0] != '~') {
        memcpy(key, id, len + 1);
        return len;
    }
    key[0] = '~';
    cdt_sha256_hex(id, len, key + 1);
    return 1 + CDT_SHA256_HEX_LEN;
}

static void
s_pack_evts(msgpack_packer *pk, const task_evt_t *e, size_t n)
{
    size_t used = 0;
    for (size_t i = 0; i < n; i++)
        used += e[i].hub >= 0;
    msgpack_pack_array(pk, used);
    for (size_t i = 0; i < n; i++) {
        if (e[i].hub < 0)
            continue;
        msgpack_pack_array(pk, 3);
        msgpack_pack_int(pk, e[i].hub);
        s_pack_cstr(pk, e[i].target);
        msgpack_pack_bin(pk, e[i].args.len);
        msgpack_pack_bin_body(pk, e[i].args.data, e[i].args.len);
    }
}

static void
s_encode(const task_t *t, cdt_buf_t *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, cdt_buf_msgpack_write);
    msgpack_pack_map(&pk, 10 + t->has_percent);
    s_pack_cstr(&pk, "id");
    s_pack_cstr(&pk, t->id);
    s_pack_cstr(&pk, "owner");
    msgpack_pack_int64(&pk, t->owner);
    s_pack_cstr(&pk, "type");
    msgpack_pack_int(&pk, (int)t->type);
    s_pack_cstr(&pk, "state");
    msgpack_pack_int(&pk, (int)t->state);
    s_pack_cstr(&pk, "finished");
    if (t->finished)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
    if (t->has_percent) {
        s_pack_cstr(&pk, "percent");
        msgpack_pack_double(&pk, t->percent);
    }
    s_pack_cstr(&pk, "touched");
    msgpack_pack_int64(&pk, t->touched_wall);
    s_pack_cstr(&pk, "progressSent");
    if (t->progress_sent)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
    s_pack_cstr(&pk, "last");
    s_pack_evts(&pk, t->last, N_HUBS);
    s_pack_cstr(&pk, "pending");
    s_pack_evts(&pk, t->pending, t->has_pending ? 2 : 0);
    s_pack_cstr(&pk, "v");
    msgpack_pack_int(&pk, 1);
}

static bool
s_key_is(const msgpack_object *k, const char *name)
{
    size_t len = strlen(name);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == len &&
           memcmp(k->via.str.ptr, name, len) == 0;
}

static bool
s_int_of(const msgpack_object *o, int64_t *v)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
        o->via.u64 <= (uint64_t)INT64_MAX) {
        *v = (int64_t)o->via.u64;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *v = o->via.i64;
        return true;
    }
    return false;
}

/* Decodes stored events into out[0..max): false if malformed. */
static bool
s_decode_evts(const msgpack_object *o, task_evt_t *out, size_t max, size_t *n_p)
{
    *n_p = 0;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > max)
        return false;
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const msgpack_object *e = &o->via.array.ptr[i];
        int64_t hub;
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 3 ||
            !s_int_of(&e->via.array.ptr[0], &hub) || hub < 0 || hub >= N_HUBS ||
            e->via.array.ptr[1].type != MSGPACK_OBJECT_STR ||
            e->via.array.ptr[2].type != MSGPACK_OBJECT_BIN)
            return false;
        const msgpack_object_str *name = &e->via.array.ptr[1].via.str;
        const char *target = NULL;
        for (size_t j = 0; j < sizeof s_targets / sizeof *s_targets; j++)
            if (strlen(s_targets[j]) == name->size &&
                memcmp(s_targets[j], name->ptr, name->size) == 0)
                target = s_targets[j];
        if (!target)
            return false;
        out[i].hub = (int)hub;
        out[i].target = target;
        cdt_buf_init(&out[i].args);
        cdt_buf_append(&out[i].args, e->via.array.ptr[2].via.bin.ptr,
                       e->via.array.ptr[2].via.bin.size);
        (*n_p)++;
    }
    return true;
}

/* A task from a stored record (lists unlinked), or NULL if malformed. */
static task_t *
s_decode(const void *val, size_t vlen)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    task_t *t = cdt_xcalloc(1, sizeof *t);
    for (int i = 0; i < 2; i++)
        t->pending[i].hub = -1;
    for (int i = 0; i < N_HUBS; i++)
        t->last[i].hub = -1;
    bool ok =
        msgpack_unpack_next(&up, val, vlen, NULL) == MSGPACK_UNPACK_SUCCESS &&
        up.data.type == MSGPACK_OBJECT_MAP;
    int have = 0;
    for (uint32_t i = 0; ok && i < up.data.via.map.size; i++) {
        const msgpack_object *k = &up.data.via.map.ptr[i].key;
        const msgpack_object *v = &up.data.via.map.ptr[i].val;
        int64_t n = 0;
        if (s_key_is(k, "id")) {
            ok = v->type == MSGPACK_OBJECT_STR && !t->id &&
                 s_id_valid((cdt_str_t){v->via.str.ptr, v->via.str.size});
            if (ok)
                t->id = cdt_xstrndup(v->via.str.ptr, v->via.str.size);
            have |= 1;
        } else if (s_key_is(k, "owner")) {
            ok = s_int_of(v, &t->owner) && t->owner > 0;
            have |= 2;
        } else if (s_key_is(k, "type")) {
            ok = s_int_of(v, &n) && n >= CDT_TASK_VIDEO && n <= CDT_TASK_OTHER;
            t->type = (enum cdt_task_type)n;
            have |= 4;
        } else if (s_key_is(k, "state")) {
            ok = s_int_of(v, &n) && n >= CDT_TASK_STARTED &&
                 n <= CDT_TASK_TIMED_OUT;
            t->state = (enum cdt_task_state)n;
            have |= 8;
        } else if (s_key_is(k, "touched")) {
            ok = s_int_of(v, &t->touched_wall);
            have |= 16;
        } else if (s_key_is(k, "finished")) {
            ok = v->type == MSGPACK_OBJECT_BOOLEAN;
            t->finished = ok && v->via.boolean;
        } else if (s_key_is(k, "progressSent")) {
            ok = v->type == MSGPACK_OBJECT_BOOLEAN;
            t->progress_sent = ok && v->via.boolean;
        } else if (s_key_is(k, "percent")) {
            ok = v->type == MSGPACK_OBJECT_FLOAT64 ||
                 v->type == MSGPACK_OBJECT_FLOAT32;
            t->has_percent = ok;
            t->percent = ok ? v->via.f64 : 0;
        } else if (s_key_is(k, "last")) {
            task_evt_t evts[N_HUBS];
            size_t got = 0;
            ok = s_decode_evts(v, evts, N_HUBS, &got);
            for (size_t j = 0; j < got; j++) {
                task_evt_t *slot = &t->last[evts[j].hub];
                if (slot->hub >= 0)
                    s_evt_clear(slot); /* a repeated hub: the later wins */
                *slot = evts[j];
            }
        } else if (s_key_is(k, "pending")) {
            size_t got = 0;
            for (int j = 0; j < 2; j++)
                s_evt_clear(&t->pending[j]);
            ok = s_decode_evts(v, t->pending, 2, &got);
            t->has_pending = got > 0; /* relinked by the loader */
        }
    }
    msgpack_unpacked_destroy(&up);
    if (ok && have == 31)
        return t;
    s_task_free(t);
    return NULL;
}

typedef struct {
    tasks_t *self;
    task_t **v;
    size_t n, cap;
    size_t bad;
} s_load_t;

static int
s_load_one(void *arg, const void *key, size_t klen, const void *val,
           size_t vlen)
{
    s_load_t *l = arg;
    task_t *t = s_decode(val, vlen);
    if (!t) {
        l->bad++;
        if (zlistx_add_end(l->self->deleted, cdt_xstrndup(key, klen)) == NULL)
            abort();
        return 0;
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = cdt_xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = t;
    return 0;
}

static int
s_by_touched(const void *a, const void *b)
{
    const task_t *x = *(task_t *const *)a, *y = *(task_t *const *)b;
    return x->touched_wall < y->touched_wall   ? -1
           : x->touched_wall > y->touched_wall ? 1
                                               : 0;
}

int
tasks_attach_store(tasks_t *self, store_t *store, int64_t now_ms,
                   int64_t wall_ms)
{
    assert(self);
    self->store = store;
    if (!store)
        return 0;
    s_load_t l = {.self = self};
    if (store_iterate(store, S_NS, s_load_one, &l) < 0) {
        free(l.v);
        return -1;
    }
    /* oldest first, so that the LRU list stays in touched order */
    if (l.n > 1)
        qsort(l.v, l.n, sizeof *l.v, s_by_touched);
    size_t kept = 0, dropped = 0;
    for (size_t i = 0; i < l.n; i++) {
        task_t *t = l.v[i];
        int64_t age = wall_ms - t->touched_wall;
        if (age < 0)
            age = 0; /* the wall clock went back: treat it as new */
        if ((self->retention_ms > 0 && age >= self->retention_ms) ||
            zhashx_lookup(self->by_id, t->id)) {
            char key[CDT_GROUP_ARG_MAX + 1];
            size_t klen = s_store_key(self, t->id, key);
            if (!zhashx_lookup(self->by_id, t->id) &&
                zlistx_add_end(self->deleted, cdt_xstrndup(key, klen)) == NULL)
                abort();
            s_task_free(t);
            dropped++;
            continue;
        }
        t->touched_ms = now_ms - age;
        if (zhashx_insert(self->by_id, t->id, t) != 0)
            abort();
        s_lru_append(self, t);
        if (t->has_pending) {
            /* it was acknowledged but not yet sent: send it a window from
             * now, when the gateways will have replayed their members */
            t->has_pending = false;
            t->progress_sent = true;
            t->progress_sent_ms = now_ms;
            s_pend_link(self, t);
        }
        kept++;
    }
    free(l.v);
    if (kept || dropped || l.bad)
        cdt_log_info("restored %zu task(s) from the store (%zu past "
                     "retention, %zu unreadable)",
                     kept, dropped, l.bad);
    return 0;
}

int
tasks_sync(tasks_t *self)
{
    assert(self);
    size_t n_del = zlistx_size(self->deleted);
    if (!self->store || (self->n_dirty == 0 && n_del == 0))
        return 0;
    size_t n = n_del + self->n_dirty;
    store_op_t *ops = cdt_xcalloc(n, sizeof *ops);
    size_t *offs = cdt_xcalloc(self->n_dirty * 3, sizeof *offs);
    cdt_buf_t buf = CDT_BUF_INIT;
    size_t i = 0;
    for (char *key = zlistx_first(self->deleted); key;
         key = zlistx_next(self->deleted), i++)
        ops[i] = (store_op_t){S_NS, key, strlen(key), NULL, 0};
    /* keys and values go into one buffer; pointers are taken once it no
     * longer moves */
    size_t j = 0;
    for (task_t *t = self->dirty_head; t; t = t->dirty_next, j++) {
        char key[CDT_GROUP_ARG_MAX + 1];
        size_t klen = s_store_key(self, t->id, key);
        offs[3 * j] = buf.len;
        cdt_buf_append(&buf, key, klen);
        offs[3 * j + 1] = buf.len;
        s_encode(t, &buf);
        offs[3 * j + 2] = buf.len;
    }
    for (size_t k = 0; k < j; k++, i++) {
        const uint8_t *base = (const uint8_t *)buf.data;
        ops[i] = (store_op_t){
            S_NS, base + offs[3 * k], offs[3 * k + 1] - offs[3 * k],
            base + offs[3 * k + 1], offs[3 * k + 2] - offs[3 * k + 1]};
    }
    int rc = store_write(self->store, ops, n);
    if (rc == 0) {
        zlistx_purge(self->deleted);
        while (self->dirty_head)
            s_unmark(self, self->dirty_head);
    }
    cdt_buf_release(&buf);
    free(offs);
    free(ops);
    return rc;
}

size_t
tasks_unsynced(const tasks_t *self)
{
    return self->n_dirty + zlistx_size(self->deleted);
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
        s_unmark(self, t);
        if (self->store) {
            char key[CDT_GROUP_ARG_MAX + 1];
            size_t klen = s_store_key(self, t->id, key);
            if (zlistx_add_end(self->deleted, cdt_xstrndup(key, klen)) == NULL)
                abort();
        }
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
