/*
 * tasks - the task registry: who owns each task, its state and the last
 * event each hub carried for it, and the throttling of its progress.
 *
 * Fed by `task` ingress messages (DESIGN.md §3). The first event of a task
 * must name its virtualKeyId, which becomes the owner; later events naming
 * another key are refused. Each accepted event becomes, through an emit_fn
 * (broker/emit.h):
 *
 *   TaskHub, groups task-{taskId} and vkey-{owner}-{taskType}:
 *     TaskStarted(taskId, taskType, details)
 *     TaskProgress(taskId, percent, message, details)
 *     TaskCompleted(taskId, result, details)
 *     TaskFailed(taskId, error, isRetryable, details)
 *     TaskCancelled(taskId, message, details)
 *     TaskTimedOut(taskId, message, details)
 *   and for video tasks on VideoGenerationHub, group video-{taskId}
 *   (image tasks: ImageGenerationHub, image-{taskId}), one argument, the
 *   details plus status (= state) and progress (= percent):
 *     started/progress -> VideoProgress, completed -> VideoCompleted,
 *     failed/cancelled/timed_out -> VideoFailed  (Image... likewise)
 *
 * details = {taskId, taskType, state, percent?, message?, result?, error?,
 * isRetryable?, virtualKeyId, timestamp, correlationId?}; percent is the
 * event's, else the last one the task reported.
 *
 * Progress is coalesced per task: at most one progress event per window,
 * the latest wins; one that arrives inside the window waits (replacing any
 * older waiting one) until tasks_tick sends it at the window's end. Any
 * other event first sends the waiting progress, so nothing is reordered,
 * and is itself never delayed or dropped. After a terminal state
 * (completed, failed, cancelled, timed_out) only `started` is accepted (a
 * retry of the same task).
 *
 * A task is forgotten retention_ms after its last event (a finished task
 * after it finished; an unfinished one that went silent as well, so the
 * registry stays bounded).
 *
 * Durability. With a store attached (tasks_attach_store), each task is one
 * record of namespace "task" (key: the task id, or "~" and its SHA-256 when
 * the id is longer than the store's keys): owner, type, state, percent,
 * the wall time of its last event, the last event per hub and a waiting
 * progress. Changes are marked and written by tasks_sync, many tasks in one
 * transaction: the broker calls it before it acknowledges a message on the
 * acknowledged path (so an acknowledged event survives kill -9) and on its
 * ticks (the fire-and-forget path, at most a tick behind). Loading brings
 * back owners and last events (so the owner, and only the owner, can
 * subscribe after a restart and get the latest state), drops tasks past
 * retention by their wall-clock age, and re-queues a waiting progress so
 * that it still goes out. Time is passed in by the caller (monotonic ms
 * for windows and retention, wall ms for payload timestamps), so tests run
 * without sleeping. Single-threaded: owned by the broker loop.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TASKS_H
#define TASKS_H

#include "broker/emit.h"
#include "broker/store.h"
#include "proto/cdt_ingress.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tasks tasks_t;

/* Counters, for stats. */
typedef struct tasks_counters {
    uint64_t accepted;  /* events taken */
    uint64_t refused;   /* events refused (ownership, state, input) */
    uint64_t emitted;   /* emit_fn calls */
    uint64_t coalesced; /* progress events superseded before being sent */
    uint64_t expired;   /* tasks forgotten by retention */
} tasks_counters_t;

/* A registry sending through emit(emit_arg, ...). window_ms 0 = no
 * coalescing. Caller owns. */
tasks_t *tasks_new(int64_t window_ms, int64_t retention_ms, emit_fn *emit,
                   void *emit_arg);

void tasks_destroy(tasks_t **self_p);

/* Takes one `task` message at monotonic now_ms; wall_ms stamps payloads
 * when the message has no `ts`. Returns 0, or -1 with a one-line reason in
 * err ("task 'x' belongs to another virtual key"). */
int tasks_ingest(tasks_t *self, const cdt_ingress_t *msg, int64_t now_ms,
                 int64_t wall_ms, char *err, size_t errlen);

/* Sends waiting progress whose window has passed and forgets tasks past
 * retention. Call often (the broker does every few ms). */
void tasks_tick(tasks_t *self, int64_t now_ms);

/* The owner of task id[0..len): true and *owner set, or false if the task
 * is unknown. */
bool tasks_owner(const tasks_t *self, const char *id, size_t len,
                 int64_t *owner);

/* The last event sent for the task on hub (a catalog hub name): true with
 * the target and the MessagePack argument array (borrowed; valid until
 * the next tasks_* call), or false if there is none. */
bool tasks_last_event(const tasks_t *self, const char *id, size_t len,
                      const char *hub, const char **target, const void **args,
                      size_t *args_len);

/* Attaches store (borrowed, outliving the registry; NULL detaches) and
 * loads the tasks saved in it at monotonic now_ms and wall time wall_ms.
 * Returns 0, or -1 after logging if the store cannot be read. */
int tasks_attach_store(tasks_t *self, store_t *store, int64_t now_ms,
                       int64_t wall_ms);

/* Writes the tasks changed since the last call and removes the expired
 * ones, in one durable transaction. Returns 0 (also when there is nothing
 * to write or no store), or -1 after logging; the changes then stay marked
 * and the next call tries again. */
int tasks_sync(tasks_t *self);

/* Tasks changed or expired and not yet written by tasks_sync. */
size_t tasks_unsynced(const tasks_t *self);

size_t tasks_count(const tasks_t *self);

/* Tasks with a progress event waiting for the end of its window. */
size_t tasks_pending(const tasks_t *self);

const tasks_counters_t *tasks_counters(const tasks_t *self);

#endif
