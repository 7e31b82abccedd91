/*
 * dirtyq - the FIFO of connections that have output waiting for a write.
 *
 * The flush serves it round robin: it takes entries from the front, and a
 * connection that gets new output after its turn is pushed to the back,
 * so that under load every connection is written once per pass. Each
 * entry knows its position (the owner keeps it, through `pos`), so a
 * connection that closes while queued is blanked in O(1) and skipped.
 * The array is compacted in place when its consumed front is at least
 * half of it, and doubled otherwise: O(1) amortised per push, and the
 * positions of moved entries are written back through their `pos`.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef DIRTYQ_H
#define DIRTYQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dirtyq_entry {
    void *item;    /* NULL once removed */
    uint32_t *pos; /* where the item keeps its position */
} dirtyq_entry_t;

typedef struct dirtyq {
    dirtyq_entry_t *e;
    size_t head; /* next entry to serve */
    size_t n;    /* entries used, served ones included */
    size_t cap;
} dirtyq_t;

#define DIRTYQ_INIT   \
    {                 \
        NULL, 0, 0, 0 \
    }

/* Appends item; *pos receives its position (and later moves). */
void dirtyq_push(dirtyq_t *q, void *item, uint32_t *pos);

/* The next item in order, skipping removed ones, or NULL when empty. */
void *dirtyq_pop(dirtyq_t *q);

/* Blanks the entry at pos (an item that leaves before its turn). */
void dirtyq_remove(dirtyq_t *q, uint32_t pos);

static inline bool
dirtyq_empty(const dirtyq_t *q)
{
    return q->head >= q->n;
}

void dirtyq_release(dirtyq_t *q);

#endif
