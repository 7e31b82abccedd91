/*
 * hmap - an intrusive chained hash table keyed by a 64-bit hash.
 *
 * The gateway indexes connections, pending broker requests, negotiate
 * tokens and groups; each of those structs embeds an hnode_t and the table
 * never allocates per entry, so an insert or a remove costs no malloc.
 * Equal hashes are allowed: a lookup walks the nodes with the hash it asks
 * for (hmap_first/hmap_next_same) and the caller compares its own key.
 * The bucket array doubles when the load passes 1 and is never shrunk.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef HMAP_H
#define HMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct hnode {
    struct hnode *next; /* next in the bucket */
    uint64_t hash;
} hnode_t;

typedef struct hmap {
    hnode_t **buckets; /* owned; NULL until the first insert */
    size_t mask;       /* buckets - 1 (a power of two minus one) */
    size_t count;
} hmap_t;

#define HMAP_INIT  \
    {              \
        NULL, 0, 0 \
    }

/* Releases the bucket array (not the nodes). */
void hmap_release(hmap_t *self);

void hmap_insert(hmap_t *self, hnode_t *node, uint64_t hash);

/* Unlinks node, which must be in the table. */
void hmap_remove(hmap_t *self, hnode_t *node);

/* The first node with this hash, or NULL; hmap_next_same continues. */
hnode_t *hmap_first(const hmap_t *self, uint64_t hash);
hnode_t *hmap_next_same(const hnode_t *node);

/* Iteration over every node: *pos starts at 0; returns NULL at the end.
 * The table must not change during an iteration, except for removing the
 * node just returned. */
hnode_t *hmap_iter(const hmap_t *self, size_t *pos, hnode_t **cursor);

/* FNV-1a over bytes, then mixed so that the low bits are well spread. */
uint64_t hmap_hash_bytes(const void *data, size_t len, uint64_t seed);

/* A 64-bit integer mixer (splitmix64 finaliser). */
uint64_t hmap_hash_u64(uint64_t x);

#define hmap_entry(node, type, member) \
    ((type *)(void *)((char *)(node)-offsetof(type, member)))

#endif
