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
 * The group tables are on the path of every routed event, so they are
 * not zhashx (a lookup there walks a chain of separately allocated items
 * and key strings: several cache misses per event with many groups) but
 * open addressing with linear probing: a slot holds the name's full hash
 * and the record, a record holds its name and, for the first few gateway
 * slots, its member counts, so a lookup touches the slot array and one
 * record. Deletion shifts the following entries back (no tombstones). A
 * table doubles at half load and never shrinks: it keeps its peak size.
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

/* Member counts of this many gateway slots live in the record itself. */
#define GROUP_SMALL 4

typedef struct group_rec {
    uint64_t hash;    /* of the name, as in its table's slot */
    uint32_t *counts; /* members per gateway slot: small, or owned */
    uint32_t hub;     /* index in the catalog */
    uint32_t n_counts;
    uint32_t members; /* sum of counts */
    uint32_t name_len;
    uint32_t small[GROUP_SMALL];
    char name[]; /* NUL-terminated */
} group_t;

typedef struct gslot {
    uint64_t hash;
    group_t *g; /* NULL = empty */
} gslot_t;

/* One hub's groups by name. */
typedef struct gtable {
    gslot_t *slots;
    size_t mask; /* slots - 1 (a power of two), or 0 before the first */
    size_t n;
} gtable_t;

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
    gtable_t *hub_groups; /* per hub: name -> group_t */
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

/* ---- group tables ------------------------------------------------------- */

static uint64_t
s_name_hash(const char *name, size_t len)
{
    return (uint64_t)hashfn_bytes(name, len);
}

static group_t *
s_gt_find(const gtable_t *t, const char *name, size_t len, uint64_t hash)
{
    if (!t->mask)
        return NULL;
    for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
        const gslot_t *sl = &t->slots[i];
        if (!sl->g)
            return NULL;
        if (sl->hash == hash && sl->g->name_len == len &&
            memcmp(sl->g->name, name, len) == 0)
            return sl->g;
    }
}

static void
s_gt_place(gtable_t *t, group_t *g)
{
    size_t i = g->hash & t->mask;
    while (t->slots[i].g)
        i = (i + 1) & t->mask;
    t->slots[i].hash = g->hash;
    t->slots[i].g = g;
}

/* Adds g (not present). */
static void
s_gt_insert(gtable_t *t, group_t *g)
{
    if (2 * (t->n + 1) > t->mask + 1 || !t->mask) {
        size_t old_n = t->mask ? t->mask + 1 : 0;
        gslot_t *old = t->slots;
        size_t n = old_n ? 2 * old_n : 16;
        t->slots = cdt_xcalloc(n, sizeof *t->slots);
        t->mask = n - 1;
        for (size_t i = 0; i < old_n; i++)
            if (old[i].g)
                s_gt_place(t, old[i].g);
        free(old);
    }
    s_gt_place(t, g);
    t->n++;
}

/* Removes g (present), shifting back the entries of its probe run. */
static void
s_gt_remove(gtable_t *t, const group_t *g)
{
    size_t i = g->hash & t->mask;
    while (t->slots[i].g != g)
        i = (i + 1) & t->mask;
    for (size_t j = (i + 1) & t->mask; t->slots[j].g; j = (j + 1) & t->mask) {
        size_t home = t->slots[j].hash & t->mask;
        /* j's entry may move to i if i lies on its way from home to j */
        if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i].g = NULL;
    t->slots[i].hash = 0;
    t->n--;
}

/* ---- lifecycle ---------------------------------------------------------- */

groups_t *
groups_new(size_t n_hubs)
{
    groups_t *self = cdt_xcalloc(1, sizeof *self);
    self->n_hubs = n_hubs;
    self->hub_groups = cdt_xcalloc(n_hubs ? n_hubs : 1, sizeof(gtable_t));
    self->hub_conns = cdt_xcalloc(n_hubs ? n_hubs : 1, sizeof(size_t));
    self->conns = s_table(s_conn_hash, s_conn_cmp);
    self->keyrecs = s_table(hashfn_i64, hashfn_i64_cmp);
    return self;
}

static void
s_group_free(group_t *g)
{
    if (g->counts != g->small)
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
    for (size_t i = 0; self->hub_groups && i < self->n_hubs; i++) {
        gtable_t *t = &self->hub_groups[i];
        for (size_t j = 0; t->mask && j <= t->mask; j++)
            if (t->slots[j].g)
                s_group_free(t->slots[j].g);
        free(t->slots);
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
        s_gt_remove(&self->hub_groups[g->hub], g);
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

/* The group of hub called name, or NULL. */
static group_t *
s_group(const groups_t *self, size_t hub, const char *name, size_t len)
{
    return s_gt_find(&self->hub_groups[hub], name, len, s_name_hash(name, len));
}

void
groups_prefetch(const groups_t *self, size_t hub, const char *name, size_t len,
                int stage)
{
    if (hub >= self->n_hubs || !self->hub_groups[hub].mask)
        return;
    const gtable_t *t = &self->hub_groups[hub];
    const gslot_t *sl = &t->slots[s_name_hash(name, len) & t->mask];
    if (stage == 0) {
        __builtin_prefetch(sl);
    } else if (sl->g) {
        /* the record and its name, which may start the next line */
        __builtin_prefetch(sl->g);
        __builtin_prefetch(sl->g->name + len);
    }
}

bool
groups_conn_in(const groups_t *self, const groups_conn_t *c, const char *group)
{
    group_t *g = s_group(self, c->hub, group, strlen(group));
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
    gtable_t *t = &self->hub_groups[c->hub];
    uint64_t hash = s_name_hash(group, len);
    group_t *g = s_gt_find(t, group, len, hash);
    if (g && s_conn_index(c, g) >= 0)
        return 0;
    if (c->n_groups >= GROUPS_MAX_PER_CONN)
        return -1;
    if (!g) {
        g = cdt_xcalloc(1, sizeof *g + len + 1);
        memcpy(g->name, group, len);
        g->name_len = (uint32_t)len;
        g->hash = hash;
        g->hub = (uint32_t)c->hub;
        g->counts = g->small;
        g->n_counts = GROUP_SMALL;
        s_gt_insert(t, g);
        self->n_groups++;
    }
    uint32_t gw = c->ck.gw;
    if (gw >= g->n_counts) {
        uint32_t n = g->n_counts;
        while (n <= gw)
            n *= 2;
        uint32_t *counts = cdt_xcalloc(n, sizeof(uint32_t));
        memcpy(counts, g->counts, g->n_counts * sizeof(uint32_t));
        if (g->counts != g->small)
            free(g->counts);
        g->counts = counts;
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
    group_t *g = s_group(self, c->hub, group, strlen(group));
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
groups_route_n(groups_t *self, size_t hub, const char *const *names,
               const size_t *lens, size_t n, const uint32_t **gws_p)
{
    assert(self && gws_p);
    size_t out = 0;
    *gws_p = self->route_out;
    if (hub >= self->n_hubs)
        return 0;
    const gtable_t *t = &self->hub_groups[hub];
    /* one group on one gateway is the common case: no de-duplication */
    uint64_t stamp = n > 1 ? ++self->route_stamp : 0;
    for (size_t i = 0; i < n; i++) {
        group_t *g =
            s_gt_find(t, names[i], lens[i], s_name_hash(names[i], lens[i]));
        if (!g)
            continue;
        uint32_t left = g->members;
        for (uint32_t gw = 0; left > 0 && gw < g->n_counts; gw++) {
            if (!g->counts[gw])
                continue;
            left -= g->counts[gw];
            if (gw >= self->n_slots ||
                (stamp && self->slots[gw].stamp == stamp))
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

size_t
groups_route(groups_t *self, size_t hub, const char *const *names, size_t n,
             const uint32_t **gws_p)
{
    size_t small[8] = {0};
    size_t *lens = n <= 8 ? small : cdt_xcalloc(n, sizeof(size_t));
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(names[i]);
    size_t out = groups_route_n(self, hub, names, lens, n, gws_p);
    if (lens != small)
        free(lens);
    return out;
}

uint32_t
groups_members_on(const groups_t *self, size_t hub, const char *group,
                  uint32_t gw)
{
    if (hub >= self->n_hubs)
        return 0;
    group_t *g = s_group(self, hub, group, strlen(group));
    return g && gw < g->n_counts ? g->counts[gw] : 0;
}

uint32_t
groups_members(const groups_t *self, size_t hub, const char *group)
{
    if (hub >= self->n_hubs)
        return 0;
    group_t *g = s_group(self, hub, group, strlen(group));
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
    return hub < self->n_hubs ? self->hub_groups[hub].n : 0;
}

size_t
groups_n_memberships(const groups_t *self)
{
    return self->n_memberships;
}
