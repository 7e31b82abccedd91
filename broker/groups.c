/*
 * groups - who is in which group, per hub, and on which gateway.
 *
 * Three indexes over the same connection records: a hash by (gateway,
 * conn_id), an intrusive list per gateway slot and an intrusive list per
 * key (which also gives the per-key connection count that the connection
 * caps need). A group lives while it has members: it is created by the
 * first join and freed by the last leave, so the tables hold only groups
 * that someone is in.
 *
 * SPDX-License-Identifier: MIT
 */
#include "broker/groups.h"

#include "broker/hashfn.h"
#include "common/cdt_mem.h"

#include <assert.h>
#include <czmq.h>
#include <stdlib.h>
#include <string.h>

typedef struct group_rec {
    char *name;       /* the hash key; owned */
    size_t hub;       /* index in the catalog */
    uint32_t *counts; /* members per gateway slot; owned */
    uint32_t n_counts;
    uint32_t members; /* sum of counts */
} group_t;

typedef struct conn_key {
    uint64_t conn_id;
    uint32_t gw;
    uint32_t zero; /* padding kept 0 so the key hashes as 16 bytes */
} conn_key_t;

typedef struct keyrec keyrec_t;

struct groups_conn {
    conn_key_t ck; /* the hash key */
    size_t hub;
    int64_t key_id;
    bool admin;
    group_t **groups; /* owned array, borrowed groups */
    uint32_t n_groups;
    uint32_t cap_groups;
    groups_conn_t *gw_prev, *gw_next;
    groups_conn_t *key_prev, *key_next;
    keyrec_t *keyrec;
};

struct keyrec {
    int64_t key_id; /* the hash key */
    size_t n;
    groups_conn_t *head;
};

typedef struct gwslot {
    groups_conn_t *head;
    size_t n;
    uint64_t stamp; /* groups_route's de-duplication mark */
} gwslot_t;

struct groups {
    size_t n_hubs;
    zhashx_t **hub_groups; /* per hub: name -> group_t */
    size_t *hub_conns;
    zhashx_t *conns;   /* conn_key_t -> groups_conn_t */
    zhashx_t *keyrecs; /* int64 -> keyrec_t */
    gwslot_t *slots;
    uint32_t n_slots;
    size_t n_conns;
    size_t n_groups;
    size_t n_memberships;
    uint64_t route_stamp;
    uint32_t *route_out;
    size_t route_cap;
};

/* ---- hash callbacks ----------------------------------------------------- */

static size_t
s_conn_hash(const void *key)
{
    return hashfn_bytes(key, sizeof(conn_key_t));
}

static int
s_conn_cmp(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(conn_key_t));
}

static int
s_str_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static zhashx_t *
s_table(zhashx_hash_fn *hasher, zhashx_comparator_fn *cmp)
{
    zhashx_t *t = zhashx_new();
    if (!t)
        abort(); /* out of memory, as cdt_xmalloc would */
    zhashx_set_key_hasher(t, hasher);
    zhashx_set_key_comparator(t, cmp);
    zhashx_set_key_duplicator(t, NULL);
    zhashx_set_key_destructor(t, NULL);
    return t;
}

/* ---- lifecycle ---------------------------------------------------------- */

groups_t *
groups_new(size_t n_hubs)
{
    groups_t *self = cdt_xcalloc(1, sizeof *self);
    self->n_hubs = n_hubs;
    self->hub_groups = cdt_xcalloc(n_hubs ? n_hubs : 1, sizeof(zhashx_t *));
    self->hub_conns = cdt_xcalloc(n_hubs ? n_hubs : 1, sizeof(size_t));
    for (size_t i = 0; i < n_hubs; i++)
        self->hub_groups[i] = s_table(hashfn_str, s_str_cmp);
    self->conns = s_table(s_conn_hash, s_conn_cmp);
    self->keyrecs = s_table(hashfn_i64, hashfn_i64_cmp);
    return self;
}

static void
s_group_free(group_t *g)
{
    free(g->name);
    free(g->counts);
    free(g);
}

void
groups_destroy(groups_t **self_p)
{
    assert(self_p);
    groups_t *self = *self_p;
    if (!self)
        return;
    if (self->conns) {
        for (groups_conn_t *c = zhashx_first(self->conns); c;
             c = zhashx_next(self->conns)) {
            free(c->groups);
            free(c);
        }
        zhashx_destroy(&self->conns);
    }
    if (self->keyrecs) {
        for (keyrec_t *k = zhashx_first(self->keyrecs); k;
             k = zhashx_next(self->keyrecs))
            free(k);
        zhashx_destroy(&self->keyrecs);
    }
    for (size_t i = 0; i < self->n_hubs; i++) {
        zhashx_t *t = self->hub_groups[i];
        if (!t)
            continue;
        for (group_t *g = zhashx_first(t); g; g = zhashx_next(t))
            s_group_free(g);
        zhashx_destroy(&t);
    }
    free(self->hub_groups);
    free(self->hub_conns);
    free(self->slots);
    free(self->route_out);
    free(self);
    *self_p = NULL;
}

/* ---- connections -------------------------------------------------------- */

static gwslot_t *
s_slot(groups_t *self, uint32_t gw)
{
    if (gw >= self->n_slots) {
        uint32_t n = self->n_slots ? self->n_slots : 4;
        while (n <= gw)
            n *= 2;
        self->slots = cdt_xrealloc(self->slots, n * sizeof(gwslot_t));
        memset(self->slots + self->n_slots, 0,
               (n - self->n_slots) * sizeof(gwslot_t));
        self->n_slots = n;
    }
    return &self->slots[gw];
}

groups_conn_t *
groups_conn_open(groups_t *self, uint32_t gw, uint64_t conn_id, size_t hub,
                 int64_t key_id, bool admin)
{
    assert(self);
    if (hub >= self->n_hubs || groups_conn_find(self, gw, conn_id))
        return NULL;
    groups_conn_t *c = cdt_xcalloc(1, sizeof *c);
    c->ck.conn_id = conn_id;
    c->ck.gw = gw;
    c->hub = hub;
    c->key_id = key_id;
    c->admin = admin;
    if (zhashx_insert(self->conns, &c->ck, c) != 0)
        abort();

    gwslot_t *slot = s_slot(self, gw);
    c->gw_next = slot->head;
    if (slot->head)
        slot->head->gw_prev = c;
    slot->head = c;
    slot->n++;

    keyrec_t *k = zhashx_lookup(self->keyrecs, &key_id);
    if (!k) {
        k = cdt_xcalloc(1, sizeof *k);
        k->key_id = key_id;
        if (zhashx_insert(self->keyrecs, &k->key_id, k) != 0)
            abort();
    }
    c->keyrec = k;
    c->key_next = k->head;
    if (k->head)
        k->head->key_prev = c;
    k->head = c;
    k->n++;

    self->n_conns++;
    self->hub_conns[hub]++;
    return c;
}

groups_conn_t *
groups_conn_find(groups_t *self, uint32_t gw, uint64_t conn_id)
{
    assert(self);
    conn_key_t ck = {conn_id, gw, 0};
    return zhashx_lookup(self->conns, &ck);
}

static void
s_group_release(groups_t *self, group_t *g, uint32_t gw)
{
    assert(gw < g->n_counts && g->counts[gw] > 0);
    g->counts[gw]--;
    g->members--;
    self->n_memberships--;
    if (g->members == 0) {
        zhashx_delete(self->hub_groups[g->hub], g->name);
        s_group_free(g);
        self->n_groups--;
    }
}

void
groups_conn_close(groups_t *self, groups_conn_t *c)
{
    assert(self && c);
    for (uint32_t i = 0; i < c->n_groups; i++)
        s_group_release(self, c->groups[i], c->ck.gw);

    gwslot_t *slot = &self->slots[c->ck.gw];
    if (c->gw_prev)
        c->gw_prev->gw_next = c->gw_next;
    else
        slot->head = c->gw_next;
    if (c->gw_next)
        c->gw_next->gw_prev = c->gw_prev;
    slot->n--;

    keyrec_t *k = c->keyrec;
    if (c->key_prev)
        c->key_prev->key_next = c->key_next;
    else
        k->head = c->key_next;
    if (c->key_next)
        c->key_next->key_prev = c->key_prev;
    if (--k->n == 0) {
        zhashx_delete(self->keyrecs, &k->key_id);
        free(k);
    }

    zhashx_delete(self->conns, &c->ck);
    self->n_conns--;
    self->hub_conns[c->hub]--;
    free(c->groups);
    free(c);
}

uint32_t
groups_conn_gw(const groups_conn_t *c)
{
    return c->ck.gw;
}

uint64_t
groups_conn_id(const groups_conn_t *c)
{
    return c->ck.conn_id;
}

size_t
groups_conn_hub(const groups_conn_t *c)
{
    return c->hub;
}

int64_t
groups_conn_key_id(const groups_conn_t *c)
{
    return c->key_id;
}

bool
groups_conn_admin(const groups_conn_t *c)
{
    return c->admin;
}

size_t
groups_conn_n_groups(const groups_conn_t *c)
{
    return c->n_groups;
}

const char *
groups_conn_group(const groups_conn_t *c, size_t i)
{
    assert(i < c->n_groups);
    return c->groups[i]->name;
}

static int
s_conn_index(const groups_conn_t *c, const group_t *g)
{
    for (uint32_t i = 0; i < c->n_groups; i++)
        if (c->groups[i] == g)
            return (int)i;
    return -1;
}

bool
groups_conn_in(const groups_t *self, const groups_conn_t *c, const char *group)
{
    group_t *g = zhashx_lookup(self->hub_groups[c->hub], group);
    return g && s_conn_index(c, g) >= 0;
}

/* ---- membership --------------------------------------------------------- */

int
groups_join(groups_t *self, groups_conn_t *c, const char *group)
{
    assert(self && c && group);
    size_t len = strlen(group);
    if (len == 0 || len > GROUPS_NAME_MAX)
        return -1;
    zhashx_t *t = self->hub_groups[c->hub];
    group_t *g = zhashx_lookup(t, group);
    if (g && s_conn_index(c, g) >= 0)
        return 0;
    if (c->n_groups >= GROUPS_MAX_PER_CONN)
        return -1;
    if (!g) {
        g = cdt_xcalloc(1, sizeof *g);
        g->name = cdt_xstrndup(group, len);
        g->hub = c->hub;
        if (zhashx_insert(t, g->name, g) != 0)
            abort();
        self->n_groups++;
    }
    uint32_t gw = c->ck.gw;
    if (gw >= g->n_counts) {
        uint32_t n = g->n_counts ? g->n_counts : 1;
        while (n <= gw)
            n *= 2;
        g->counts = cdt_xrealloc(g->counts, n * sizeof(uint32_t));
        memset(g->counts + g->n_counts, 0,
               (n - g->n_counts) * sizeof(uint32_t));
        g->n_counts = n;
    }
    g->counts[gw]++;
    g->members++;
    self->n_memberships++;
    if (c->n_groups == c->cap_groups) {
        c->cap_groups = c->cap_groups ? c->cap_groups * 2 : 2;
        c->groups = cdt_xrealloc(c->groups, c->cap_groups * sizeof(group_t *));
    }
    c->groups[c->n_groups++] = g;
    return 1;
}

int
groups_leave(groups_t *self, groups_conn_t *c, const char *group)
{
    assert(self && c && group);
    group_t *g = zhashx_lookup(self->hub_groups[c->hub], group);
    if (!g)
        return 0;
    int i = s_conn_index(c, g);
    if (i < 0)
        return 0;
    c->groups[i] = c->groups[--c->n_groups];
    s_group_release(self, g, c->ck.gw);
    return 1;
}

size_t
groups_drop_gateway(groups_t *self, uint32_t gw)
{
    assert(self);
    if (gw >= self->n_slots)
        return 0;
    size_t n = 0;
    while (self->slots[gw].head) {
        groups_conn_close(self, self->slots[gw].head);
        n++;
    }
    return n;
}

size_t
groups_drop_key(groups_t *self, int64_t key_id)
{
    assert(self);
    size_t n = 0;
    keyrec_t *k;
    /* The record disappears with the last connection: look it up again. */
    while ((k = zhashx_lookup(self->keyrecs, &key_id)) != NULL) {
        groups_conn_close(self, k->head);
        n++;
    }
    return n;
}

/* ---- routing ------------------------------------------------------------ */

size_t
groups_route(groups_t *self, size_t hub, const char *const *names, size_t n,
             const uint32_t **gws_p)
{
    assert(self && gws_p);
    size_t out = 0;
    *gws_p = self->route_out;
    if (hub >= self->n_hubs)
        return 0;
    uint64_t stamp = ++self->route_stamp;
    zhashx_t *t = self->hub_groups[hub];
    for (size_t i = 0; i < n; i++) {
        group_t *g = zhashx_lookup(t, names[i]);
        if (!g)
            continue;
        for (uint32_t gw = 0; gw < g->n_counts; gw++) {
            if (!g->counts[gw] || gw >= self->n_slots ||
                self->slots[gw].stamp == stamp)
                continue;
            self->slots[gw].stamp = stamp;
            if (out == self->route_cap) {
                self->route_cap = self->route_cap ? self->route_cap * 2 : 8;
                self->route_out = cdt_xrealloc(
                    self->route_out, self->route_cap * sizeof(uint32_t));
            }
            self->route_out[out++] = gw;
        }
    }
    *gws_p = self->route_out;
    return out;
}

uint32_t
groups_members_on(const groups_t *self, size_t hub, const char *group,
                  uint32_t gw)
{
    if (hub >= self->n_hubs)
        return 0;
    group_t *g = zhashx_lookup(self->hub_groups[hub], group);
    return g && gw < g->n_counts ? g->counts[gw] : 0;
}

uint32_t
groups_members(const groups_t *self, size_t hub, const char *group)
{
    if (hub >= self->n_hubs)
        return 0;
    group_t *g = zhashx_lookup(self->hub_groups[hub], group);
    return g ? g->members : 0;
}

/* ---- figures ------------------------------------------------------------ */

size_t
groups_n_conns(const groups_t *self)
{
    return self->n_conns;
}

size_t
groups_hub_conns(const groups_t *self, size_t hub)
{
    return hub < self->n_hubs ? self->hub_conns[hub] : 0;
}

size_t
groups_key_conns(const groups_t *self, int64_t key_id)
{
    keyrec_t *k = zhashx_lookup(self->keyrecs, &key_id);
    return k ? k->n : 0;
}

size_t
groups_gw_conns(const groups_t *self, uint32_t gw)
{
    return gw < self->n_slots ? self->slots[gw].n : 0;
}

size_t
groups_n_groups(const groups_t *self)
{
    return self->n_groups;
}

size_t
groups_hub_groups(const groups_t *self, size_t hub)
{
    return hub < self->n_hubs ? zhashx_size(self->hub_groups[hub]) : 0;
}

size_t
groups_n_memberships(const groups_t *self)
{
    return self->n_memberships;
}
