/*
 * hmap - an intrusive chained hash table keyed by a 64-bit hash.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/hmap.h"

#include "common/cdt_mem.h"

#include <assert.h>
#include <stdlib.h>

void
hmap_release(hmap_t *self)
{
    free(self->buckets);
    self->buckets = NULL;
    self->mask = 0;
    self->count = 0;
}

static void
s_grow(hmap_t *self)
{
    size_t n = self->buckets ? (self->mask + 1) * 2 : 16;
    hnode_t **nb = cdt_xcalloc(n, sizeof *nb);
    if (self->buckets) {
        for (size_t i = 0; i <= self->mask; i++) {
            hnode_t *node = self->buckets[i];
            while (node) {
                hnode_t *next = node->next;
                hnode_t **slot = &nb[node->hash & (n - 1)];
                node->next = *slot;
                *slot = node;
                node = next;
            }
        }
        free(self->buckets);
    }
    self->buckets = nb;
    self->mask = n - 1;
}

void
hmap_insert(hmap_t *self, hnode_t *node, uint64_t hash)
{
    if (!self->buckets || self->count >= self->mask + 1)
        s_grow(self);
    node->hash = hash;
    hnode_t **slot = &self->buckets[hash & self->mask];
    node->next = *slot;
    *slot = node;
    self->count++;
}

void
hmap_remove(hmap_t *self, hnode_t *node)
{
    assert(self->buckets);
    hnode_t **pp = &self->buckets[node->hash & self->mask];
    while (*pp && *pp != node)
        pp = &(*pp)->next;
    assert(*pp == node);
    *pp = node->next;
    node->next = NULL;
    self->count--;
}

hnode_t *
hmap_first(const hmap_t *self, uint64_t hash)
{
    if (!self->buckets)
        return NULL;
    hnode_t *node = self->buckets[hash & self->mask];
    while (node && node->hash != hash)
        node = node->next;
    return node;
}

hnode_t *
hmap_next_same(const hnode_t *node)
{
    uint64_t hash = node->hash;
    hnode_t *next = node->next;
    while (next && next->hash != hash)
        next = next->next;
    return next;
}

hnode_t *
hmap_iter(const hmap_t *self, size_t *pos, hnode_t **cursor)
{
    /* *cursor holds the successor of the node last returned, taken before
     * the caller may remove that node */
    if (!self->buckets)
        return NULL;
    hnode_t *node = *pos ? *cursor : NULL;
    size_t b = *pos ? *pos - 1 : 0;
    if (!*pos)
        node = self->buckets[0];
    while (!node) {
        if (++b > self->mask)
            return NULL;
        node = self->buckets[b];
    }
    *pos = b + 1;
    *cursor = node->next;
    return node;
}

uint64_t
hmap_hash_u64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

uint64_t
hmap_hash_bytes(const void *data, size_t len, uint64_t seed)
{
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return hmap_hash_u64(h);
}
