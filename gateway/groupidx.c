/*
 * groupidx - the gateway's local index: (hub, group) -> its local members.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/groupidx.h"

#include "common/cdt_mem.h"
#include "gateway/hmap.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct gi_group {
    hnode_t node;
    uint32_t hub;
    uint32_t n;        /* members */
    gi_member_t *head; /* doubly linked, join order */
    gi_member_t *tail;
    size_t len;
    char name[]; /* len bytes + NUL */
};

struct gi_member {
    gi_member_t *gprev; /* within the group */
    gi_member_t *gnext;
    gi_member_t *cnext; /* within the connection's list */
    gi_group_t *group;
    void *owner;
};

struct groupidx {
    hmap_t groups;
    size_t n_members;
};

static uint64_t
s_hash(uint32_t hub, const char *name, size_t len)
{
    return hmap_hash_bytes(name, len, hmap_hash_u64(hub + 1));
}

groupidx_t *
groupidx_new(void)
{
    groupidx_t *self = cdt_xcalloc(1, sizeof *self);
    return self;
}

void
groupidx_destroy(groupidx_t **self_p)
{
    assert(self_p);
    groupidx_t *self = *self_p;
    if (!self)
        return;
    size_t pos = 0;
    hnode_t *cursor = NULL, *node;
    while ((node = hmap_iter(&self->groups, &pos, &cursor))) {
        gi_group_t *g = hmap_entry(node, gi_group_t, node);
        gi_member_t *m = g->head;
        while (m) {
            gi_member_t *next = m->gnext;
            free(m);
            m = next;
        }
        free(g);
    }
    hmap_release(&self->groups);
    free(self);
    *self_p = NULL;
}

gi_group_t *
groupidx_find(const groupidx_t *self, uint32_t hub, const char *name,
              size_t len)
{
    uint64_t h = s_hash(hub, name, len);
    for (hnode_t *n = hmap_first(&self->groups, h); n; n = hmap_next_same(n)) {
        gi_group_t *g = hmap_entry(n, gi_group_t, node);
        if (g->hub == hub && g->len == len && memcmp(g->name, name, len) == 0)
            return g;
    }
    return NULL;
}

static gi_member_t **
s_find_membership(gi_conn_t *conn, uint32_t hub, const char *name, size_t len)
{
    for (gi_member_t **pp = &conn->first; *pp; pp = &(*pp)->cnext) {
        gi_group_t *g = (*pp)->group;
        if (g->hub == hub && g->len == len && memcmp(g->name, name, len) == 0)
            return pp;
    }
    return NULL;
}

bool
groupidx_join(groupidx_t *self, gi_conn_t *conn, void *owner, uint32_t hub,
              const char *name, size_t len)
{
    if (s_find_membership(conn, hub, name, len))
        return false;
    gi_group_t *g = groupidx_find(self, hub, name, len);
    if (!g) {
        g = cdt_xmalloc(sizeof *g + len + 1);
        g->hub = hub;
        g->n = 0;
        g->head = g->tail = NULL;
        g->len = len;
        memcpy(g->name, name, len);
        g->name[len] = '\0';
        hmap_insert(&self->groups, &g->node, s_hash(hub, name, len));
    }
    gi_member_t *m = cdt_xmalloc(sizeof *m);
    m->group = g;
    m->owner = owner;
    m->gnext = NULL;
    m->gprev = g->tail;
    if (g->tail)
        g->tail->gnext = m;
    else
        g->head = m;
    g->tail = m;
    g->n++;
    m->cnext = conn->first;
    conn->first = m;
    conn->n++;
    self->n_members++;
    return true;
}

static void
s_unlink(groupidx_t *self, gi_member_t *m)
{
    gi_group_t *g = m->group;
    if (m->gprev)
        m->gprev->gnext = m->gnext;
    else
        g->head = m->gnext;
    if (m->gnext)
        m->gnext->gprev = m->gprev;
    else
        g->tail = m->gprev;
    g->n--;
    self->n_members--;
    if (g->n == 0) {
        hmap_remove(&self->groups, &g->node);
        free(g);
    }
    free(m);
}

bool
groupidx_leave(groupidx_t *self, gi_conn_t *conn, uint32_t hub,
               const char *name, size_t len)
{
    gi_member_t **pp = s_find_membership(conn, hub, name, len);
    if (!pp)
        return false;
    gi_member_t *m = *pp;
    *pp = m->cnext;
    conn->n--;
    s_unlink(self, m);
    return true;
}

void
groupidx_leave_all(groupidx_t *self, gi_conn_t *conn)
{
    gi_member_t *m = conn->first;
    while (m) {
        gi_member_t *next = m->cnext;
        s_unlink(self, m);
        m = next;
    }
    conn->first = NULL;
    conn->n = 0;
}

size_t
groupidx_n_groups(const groupidx_t *self)
{
    return self->groups.count;
}

size_t
groupidx_n_members(const groupidx_t *self)
{
    return self->n_members;
}

gi_member_t *
gi_group_first(const gi_group_t *group)
{
    return group->head;
}

size_t
gi_group_size(const gi_group_t *group)
{
    return group->n;
}

gi_member_t *
gi_member_next(const gi_member_t *member)
{
    return member->gnext;
}

void *
gi_member_owner(const gi_member_t *member)
{
    return member->owner;
}

gi_member_t *
gi_conn_first(const gi_conn_t *conn)
{
    return conn->first;
}

gi_member_t *
gi_conn_next(const gi_member_t *member)
{
    return member->cnext;
}

const char *
gi_member_group(const gi_member_t *member)
{
    return member->group->name;
}
