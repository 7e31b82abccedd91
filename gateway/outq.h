/*
 * outq - refcounted frames and the per-connection output queue.
 *
 * An event is encoded once by the broker; the gateway copies its JSON
 * bytes once into a frame_t and every member's queue takes a reference to
 * that same frame. A queue is a singly linked list of small slots taken
 * from a shared pool (a free list refilled in chunks), so a delivery costs
 * one slot and one reference count, never a malloc in steady state, and an
 * idle connection's queue is two NULL pointers and two counters.
 *
 * When the socket is writable, outq_coalesce copies as many whole queued
 * frames as fit into one buffer, so that the caller writes them as one
 * WebSocket message (SignalR allows several records per message; a record
 * is never split). A frame larger than the limit goes out alone.
 *
 * Everything here runs on the gateway's single loop thread.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OUTQ_H
#define OUTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct frame {
    uint32_t refs;
    uint32_t len;
    uint8_t data[]; /* len bytes: one or more complete records */
} frame_t;

/* A new frame holding a copy of data, with one reference (the caller's). */
frame_t *frame_new(const void *data, size_t len);

frame_t *frame_ref(frame_t *self);

/* Drops one reference; frees on the last and sets *self_p to NULL. */
void frame_unref(frame_t **self_p);

typedef struct outq_slot outq_slot_t;

/* The slot pool shared by every queue of one gateway. */
typedef struct outq_pool {
    outq_slot_t *free; /* free list */
    void **chunks;     /* owned chunk allocations */
    size_t n_chunks;
    size_t in_use; /* slots held by queues */
} outq_pool_t;

void outq_pool_init(outq_pool_t *pool);

/* Frees every chunk; every queue must be empty (outq_clear) first. */
void outq_pool_release(outq_pool_t *pool);

typedef struct outq {
    outq_slot_t *head;
    outq_slot_t *tail;
    uint32_t bytes; /* sum of the queued frames' lengths */
    uint32_t n;     /* frames queued */
} outq_t;

#define OUTQ_INIT        \
    {                    \
        NULL, NULL, 0, 0 \
    }

/* Appends a new reference to frame. */
void outq_push(outq_t *q, outq_pool_t *pool, frame_t *frame);

/* Puts a new reference to frame in front of everything queued. */
void outq_push_front(outq_t *q, outq_pool_t *pool, frame_t *frame);

/* Drops every queued reference. */
void outq_clear(outq_t *q, outq_pool_t *pool);

static inline bool
outq_empty(const outq_t *q)
{
    return q->head == NULL;
}

/* The length of the first queued frame (0 if empty). */
size_t outq_head_len(const outq_t *q);

/* Copies whole frames from the front into dst while their total stays
 * within limit (the first frame is taken even when it alone is larger:
 * dst must then hold outq_head_len bytes), removes them from the queue and
 * returns the bytes written (0 only when the queue is empty). */
size_t outq_coalesce(outq_t *q, outq_pool_t *pool, uint8_t *dst, size_t limit);

#endif
