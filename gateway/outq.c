/*
 * outq - refcounted frames and the per-connection output queue.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/outq.h"

#include "common/cdt_mem.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS_PER_CHUNK 1024

struct outq_slot {
    outq_slot_t *next;
    frame_t *frame;
};

frame_t *
frame_new(const void *data, size_t len)
{
    assert(len <= UINT32_MAX);
    frame_t *self = cdt_xmalloc(sizeof *self + len);
    self->refs = 1;
    self->len = (uint32_t)len;
    if (len)
        memcpy(self->data, data, len);
    return self;
}

frame_t *
frame_ref(frame_t *self)
{
    assert(self->refs > 0 && self->refs < UINT32_MAX);
    self->refs++;
    return self;
}

void
frame_unref(frame_t **self_p)
{
    assert(self_p);
    frame_t *self = *self_p;
    if (!self)
        return;
    assert(self->refs > 0);
    if (--self->refs == 0)
        free(self);
    *self_p = NULL;
}

void
outq_pool_init(outq_pool_t *pool)
{
    memset(pool, 0, sizeof *pool);
}

void
outq_pool_release(outq_pool_t *pool)
{
    assert(pool->in_use == 0);
    for (size_t i = 0; i < pool->n_chunks; i++)
        free(pool->chunks[i]);
    free(pool->chunks);
    memset(pool, 0, sizeof *pool);
}

static outq_slot_t *
s_slot_get(outq_pool_t *pool)
{
    if (!pool->free) {
        outq_slot_t *chunk = cdt_xmalloc(SLOTS_PER_CHUNK * sizeof *chunk);
        pool->chunks =
            cdt_xrealloc(pool->chunks, (pool->n_chunks + 1) * sizeof(void *));
        pool->chunks[pool->n_chunks++] = chunk;
        for (size_t i = 0; i < SLOTS_PER_CHUNK; i++) {
            chunk[i].next = pool->free;
            pool->free = &chunk[i];
        }
    }
    outq_slot_t *slot = pool->free;
    pool->free = slot->next;
    pool->in_use++;
    return slot;
}

static void
s_slot_put(outq_pool_t *pool, outq_slot_t *slot)
{
    slot->next = pool->free;
    slot->frame = NULL;
    pool->free = slot;
    pool->in_use--;
}

void
outq_push(outq_t *q, outq_pool_t *pool, frame_t *frame)
{
    outq_slot_t *slot = s_slot_get(pool);
    slot->frame = frame_ref(frame);
    slot->next = NULL;
    if (q->tail)
        q->tail->next = slot;
    else
        q->head = slot;
    q->tail = slot;
    q->bytes += frame->len;
    q->n++;
}

void
outq_push_front(outq_t *q, outq_pool_t *pool, frame_t *frame)
{
    outq_slot_t *slot = s_slot_get(pool);
    slot->frame = frame_ref(frame);
    slot->next = q->head;
    q->head = slot;
    if (!q->tail)
        q->tail = slot;
    q->bytes += frame->len;
    q->n++;
}

static void
s_pop(outq_t *q, outq_pool_t *pool)
{
    outq_slot_t *slot = q->head;
    q->head = slot->next;
    if (!q->head)
        q->tail = NULL;
    q->bytes -= slot->frame->len;
    q->n--;
    frame_unref(&slot->frame);
    s_slot_put(pool, slot);
}

void
outq_clear(outq_t *q, outq_pool_t *pool)
{
    while (q->head)
        s_pop(q, pool);
}

size_t
outq_head_len(const outq_t *q)
{
    return q->head ? q->head->frame->len : 0;
}

size_t
outq_coalesce(outq_t *q, outq_pool_t *pool, uint8_t *dst, size_t limit)
{
    size_t used = 0;
    while (q->head) {
        frame_t *f = q->head->frame;
        if (used && used + f->len > limit)
            break;
        memcpy(dst + used, f->data, f->len);
        used += f->len;
        s_pop(q, pool);
    }
    return used;
}
