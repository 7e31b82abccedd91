/*
 * dirtyq - the FIFO of connections that have output waiting for a write.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/dirtyq.h"

#include "common/cdt_mem.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define DIRTYQ_MIN_CAP 256

static void
s_room(dirtyq_t *q)
{
    if (q->n < q->cap)
        return;
    if (q->head > 0 && q->head >= q->cap / 2) {
        size_t live = q->n - q->head;
        memmove(q->e, q->e + q->head, live * sizeof *q->e);
        for (size_t i = 0; i < live; i++)
            if (q->e[i].item)
                *q->e[i].pos = (uint32_t)i;
        q->head = 0;
        q->n = live;
        return;
    }
    q->cap = q->cap ? q->cap * 2 : DIRTYQ_MIN_CAP;
    assert(q->cap <= UINT32_MAX);
    q->e = cdt_xrealloc(q->e, q->cap * sizeof *q->e);
}

void
dirtyq_push(dirtyq_t *q, void *item, uint32_t *pos)
{
    assert(item && pos);
    s_room(q);
    *pos = (uint32_t)q->n;
    q->e[q->n++] = (dirtyq_entry_t){item, pos};
}

void *
dirtyq_pop(dirtyq_t *q)
{
    while (q->head < q->n) {
        void *item = q->e[q->head++].item;
        if (item)
            return item;
    }
    q->head = q->n = 0;
    return NULL;
}

void
dirtyq_remove(dirtyq_t *q, uint32_t pos)
{
    assert(pos < q->n);
    q->e[pos].item = NULL;
}

void
dirtyq_release(dirtyq_t *q)
{
    free(q->e);
    memset(q, 0, sizeof *q);
}
