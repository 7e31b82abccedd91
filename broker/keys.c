/*
 * keys - the broker's virtual keys and the master key.
 *
 * Two indexes over the same entries: by id, and by the first 16 hex digits
 * of the hash (a chain per prefix; a prefix collision between two real
 * keys is astronomically unlikely, but handled). Only the prefix lookup
 * uses ordinary comparisons: the digits it compares are of a SHA-256 the
 * caller cannot steer, and the full hash is then compared in constant
 * time.
 *
 * SPDX-License-Identifier: MIT
 */
#define CDT_LOG_MODULE "keys"
#include "broker/keys.h"

#include "broker/hashfn.h"
#include "common/cdt_log.h"
#include "common/cdt_mem.h"

#include <assert.h>
#include <czmq.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX_LEN 16

typedef struct key_rec key_rec_t;
struct key_rec {
    keys_entry_t e; /* first: a key_rec_t * is a keys_entry_t * */
    char prefix[PREFIX_LEN + 1];
    key_rec_t *next_same_prefix;
};

struct keys {
    zhashx_t *by_id;     /* int64 -> key_rec_t (owned) */
    zhashx_t *by_prefix; /* prefix -> first key_rec_t of the chain */
    bool has_master;
    char master[CDT_SHA256_HEX_LEN + 1];
};

static int
s_str_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

keys_t *
keys_new(void)
{
    keys_t *self = cdt_xcalloc(1, sizeof *self);
    self->by_id = zhashx_new();
    self->by_prefix = zhashx_new();
    if (!self->by_id || !self->by_prefix)
        abort();
    zhashx_set_key_hasher(self->by_id, hashfn_i64);
    zhashx_set_key_comparator(self->by_id, hashfn_i64_cmp);
    zhashx_set_key_duplicator(self->by_id, NULL);
    zhashx_set_key_destructor(self->by_id, NULL);
    zhashx_set_key_hasher(self->by_prefix, hashfn_str);
    zhashx_set_key_comparator(self->by_prefix, s_str_cmp);
    zhashx_set_key_duplicator(self->by_prefix, NULL);
    zhashx_set_key_destructor(self->by_prefix, NULL);
    return self;
}

static void
s_rec_free(key_rec_t *r)
{
    free(r->e.name);
    free(r);
}

void
keys_destroy(keys_t **self_p)
{
    assert(self_p);
    keys_t *self = *self_p;
    if (!self)
        return;
    if (self->by_id) {
        for (key_rec_t *r = zhashx_first(self->by_id); r;
             r = zhashx_next(self->by_id))
            s_rec_free(r);
        zhashx_destroy(&self->by_id);
    }
    zhashx_destroy(&self->by_prefix);
    free(self);
    *self_p = NULL;
}

static key_rec_t *
s_find_hash(const keys_t *self, const char *hash)
{
    if (!hash || strlen(hash) != CDT_SHA256_HEX_LEN)
        return NULL;
    char prefix[PREFIX_LEN + 1];
    memcpy(prefix, hash, PREFIX_LEN);
    prefix[PREFIX_LEN] = '\0';
    for (key_rec_t *r = zhashx_lookup(self->by_prefix, prefix); r;
         r = r->next_same_prefix)
        if (cdt_ct_equal(r->e.hash, hash, CDT_SHA256_HEX_LEN))
            return r;
    return NULL;
}

static void
s_index_hash(keys_t *self, key_rec_t *r)
{
    memcpy(r->prefix, r->e.hash, PREFIX_LEN);
    r->prefix[PREFIX_LEN] = '\0';
    key_rec_t *head = zhashx_lookup(self->by_prefix, r->prefix);
    if (head) {
        r->next_same_prefix = head->next_same_prefix;
        head->next_same_prefix = r;
    } else {
        r->next_same_prefix = NULL;
        if (zhashx_insert(self->by_prefix, r->prefix, r) != 0)
            abort();
    }
}

static void
s_unindex_hash(keys_t *self, key_rec_t *r)
{
    key_rec_t *head = zhashx_lookup(self->by_prefix, r->prefix);
    assert(head);
    if (head == r) {
        /* The table's key points into the head: re-insert the chain. */
        zhashx_delete(self->by_prefix, r->prefix);
        if (r->next_same_prefix &&
            zhashx_insert(self->by_prefix, r->next_same_prefix->prefix,
                          r->next_same_prefix) != 0)
            abort();
    } else {
        key_rec_t *p = head;
        while (p->next_same_prefix != r)
            p = p->next_same_prefix;
        p->next_same_prefix = r->next_same_prefix;
    }
    r->next_same_prefix = NULL;
}

int
keys_set_master(keys_t *self, const char *hash)
{
    assert(self);
    if (!hash || !*hash) {
        self->has_master = false;
        memset(self->master, 0, sizeof self->master);
        return 0;
    }
    if (!cdt_sha256_hex_valid(hash, strlen(hash)))
        return -1;
    memcpy(self->master, hash, CDT_SHA256_HEX_LEN + 1);
    self->has_master = true;
    return 0;
}

int
keys_add(keys_t *self, int64_t id, const char *name, const char *hash,
         bool enabled, int64_t expires_ms, bool admin)
{
    assert(self);
    if (id <= 0 || !hash || !cdt_sha256_hex_valid(hash, strlen(hash)) ||
        keys_find_id(self, id) || s_find_hash(self, hash))
        return -1;
    key_rec_t *r = cdt_xcalloc(1, sizeof *r);
    r->e.id = id;
    r->e.name = cdt_xstrdup(name ? name : "");
    memcpy(r->e.hash, hash, CDT_SHA256_HEX_LEN + 1);
    r->e.enabled = enabled;
    r->e.expires_ms = expires_ms;
    r->e.admin = admin;
    if (zhashx_insert(self->by_id, &r->e.id, r) != 0)
        abort();
    s_index_hash(self, r);
    return 0;
}

int
keys_load_config(keys_t *self, const cdt_config_t *cfg)
{
    assert(self && cfg);
    if (keys_set_master(self, cfg->broker_master_key_hash) != 0) {
        cdt_log_error("invalid 'broker.master_key_hash': not 64 lowercase "
                      "hex digits");
        return -1;
    }
    for (size_t i = 0; i < cfg->n_keys; i++) {
        const cdt_config_key_t *k = &cfg->keys[i];
        if (keys_add(self, k->id, k->name, k->hash, k->enabled, k->expires_ms,
                     k->admin) != 0) {
            cdt_log_error("cannot add key %lld ('%s'): invalid, or its id "
                          "or hash is already used",
                          (long long)k->id, k->name ? k->name : "");
            return -1;
        }
    }
    return 0;
}

int
keys_update(keys_t *self, int64_t id, const keys_change_t *change)
{
    assert(self && change);
    key_rec_t *r = zhashx_lookup(self->by_id, &id);
    if (!r)
        return -1;
    if (change->hash) {
        if (!cdt_sha256_hex_valid(change->hash, strlen(change->hash)))
            return -1;
        key_rec_t *other = s_find_hash(self, change->hash);
        if (other && other != r)
            return -1;
        if (!other) {
            s_unindex_hash(self, r);
            memcpy(r->e.hash, change->hash, CDT_SHA256_HEX_LEN + 1);
            s_index_hash(self, r);
        }
    }
    if (change->name) {
        free(r->e.name);
        r->e.name = cdt_xstrdup(change->name);
    }
    if (change->has_enabled)
        r->e.enabled = change->enabled;
    if (change->has_expires)
        r->e.expires_ms = change->expires_ms;
    if (change->has_admin)
        r->e.admin = change->admin;
    return 0;
}

int
keys_set_enabled(keys_t *self, int64_t id, bool enabled)
{
    keys_change_t c = {.has_enabled = true, .enabled = enabled};
    return keys_update(self, id, &c);
}

int
keys_delete(keys_t *self, int64_t id)
{
    assert(self);
    key_rec_t *r = zhashx_lookup(self->by_id, &id);
    if (!r)
        return -1;
    s_unindex_hash(self, r);
    zhashx_delete(self->by_id, &id);
    s_rec_free(r);
    return 0;
}

const keys_entry_t *
keys_find_id(const keys_t *self, int64_t id)
{
    assert(self);
    key_rec_t *r = zhashx_lookup(self->by_id, &id);
    return r ? &r->e : NULL;
}

const keys_entry_t *
keys_find_hash(const keys_t *self, const char *hash)
{
    assert(self);
    key_rec_t *r = s_find_hash(self, hash);
    return r ? &r->e : NULL;
}

size_t
keys_count(const keys_t *self)
{
    return zhashx_size(self->by_id);
}

static bool
s_expired(const keys_entry_t *e, int64_t now_ms)
{
    return e->expires_ms != 0 && now_ms >= e->expires_ms;
}

void
keys_authorize(const keys_t *self, const cdt_hub_t *hub, const char *token,
               size_t len, int64_t now_ms, keys_decision_t *out)
{
    assert(self && out);
    memset(out, 0, sizeof *out);
    out->status = 401;
    out->reason = "invalid key";
    if (!hub) {
        out->status = 404;
        out->reason = "unknown hub";
        return;
    }
    if (!token || len == 0) {
        out->reason = "missing key";
        return;
    }
    if (len > KEYS_TOKEN_MAX)
        return;
    char hash[CDT_SHA256_HEX_LEN + 1];
    cdt_sha256_hex(token, len, hash);
    bool is_master = self->has_master &&
                     cdt_ct_equal(hash, self->master, CDT_SHA256_HEX_LEN);
    const keys_entry_t *e = is_master ? NULL : keys_find_hash(self, hash);
    memset(hash, 0, sizeof hash);
    if (is_master) {
        if (hub->auth != CDT_AUTH_MASTER_KEY) {
            out->reason = "virtual key required";
            return;
        }
        out->status = 200;
        out->key_id = 0;
        out->admin = true;
        out->reason = "";
        return;
    }
    if (!e)
        return;
    if (hub->auth != CDT_AUTH_VIRTUAL_KEY) {
        out->reason = "master key required";
        return;
    }
    if (!e->enabled) {
        out->reason = "key disabled";
        return;
    }
    if (s_expired(e, now_ms)) {
        out->reason = "key expired";
        return;
    }
    out->status = 200;
    out->key_id = e->id;
    out->admin = e->admin;
    out->reason = "";
}

bool
keys_usable(const keys_t *self, const cdt_hub_t *hub, int64_t key_id,
            int64_t now_ms, const char **reason)
{
    const char *why = NULL;
    if (!hub)
        why = "unknown hub";
    else if (key_id == 0) {
        if (!self->has_master)
            why = "invalid key";
        else if (hub->auth != CDT_AUTH_MASTER_KEY)
            why = "virtual key required";
    } else {
        const keys_entry_t *e = keys_find_id(self, key_id);
        if (!e)
            why = "invalid key";
        else if (hub->auth != CDT_AUTH_VIRTUAL_KEY)
            why = "master key required";
        else if (!e->enabled)
            why = "key disabled";
        else if (s_expired(e, now_ms))
            why = "key expired";
    }
    if (reason)
        *reason = why ? why : "";
    return why == NULL;
}
