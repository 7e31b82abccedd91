/*
 * keyops - run-time key changes (the rules are in keyops.h).
 *
 * Every op is computed as "the key's state after the change" first, so
 * that the one record written to the store is exactly what the table will
 * hold: validate, write, apply, kick, announce, in that order. A failed
 * store write leaves the table as it was and refuses the message, so the
 * publisher's retry finds the same starting point.
 *
 * SPDX-License-Identifier: MIT
 */
#include "broker/keyops.h"

#include "broker/notify.h"

#define CDT_LOG_MODULE "keyops"
#include "common/cdt_auth.h"
#include "common/cdt_log.h"
#include "common/cdt_mem.h"

#include <assert.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NS        "key"
#define S_ADMIN_HUB "AdminNotificationHub"
#define S_ID_LEN    24
#define S_GROUP_LEN 48

struct keyops {
    keys_t *keys;   /* borrowed */
    store_t *store; /* borrowed; may be NULL */
    emit_fn *emit;
    void *emit_arg;
    keyops_kick_fn *kick;
    void *kick_arg;
    uint64_t changes;
};

/* A key's complete state, as stored. */
typedef struct {
    char *name; /* owned */
    char hash[CDT_SHA256_HEX_LEN + 1];
    bool enabled;
    bool admin;
    int64_t expires_ms;
} s_state_t;

/* -------------------------------------------------------------------- */
/* store records                                                         */

static void
s_pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t len = strlen(s);
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

static void
s_pack_bool(msgpack_packer *pk, bool b)
{
    if (b)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

/* Writes the record of id: st, or a deletion mark when st is NULL. */
static int
s_persist(keyops_t *self, int64_t id, const s_state_t *st)
{
    if (!self->store)
        return 0;
    char name[S_ID_LEN];
    snprintf(name, sizeof name, "%" PRId64, id);
    cdt_buf_t buf = CDT_BUF_INIT;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, cdt_buf_msgpack_write);
    if (!st) {
        msgpack_pack_map(&pk, 1);
        s_pack_cstr(&pk, "deleted");
        msgpack_pack_true(&pk);
    } else {
        msgpack_pack_map(&pk, 5);
        s_pack_cstr(&pk, "name");
        s_pack_cstr(&pk, st->name);
        s_pack_cstr(&pk, "hash");
        s_pack_cstr(&pk, st->hash);
        s_pack_cstr(&pk, "enabled");
        s_pack_bool(&pk, st->enabled);
        s_pack_cstr(&pk, "admin");
        s_pack_bool(&pk, st->admin);
        s_pack_cstr(&pk, "expiresMs");
        msgpack_pack_int64(&pk, st->expires_ms);
    }
    int rc =
        store_put(self->store, S_NS, name, strlen(name), buf.data, buf.len);
    cdt_buf_release(&buf);
    return rc;
}

static bool
s_key_is(const msgpack_object *k, const char *name)
{
    size_t len = strlen(name);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == len &&
           memcmp(k->via.str.ptr, name, len) == 0;
}

/* Decodes a record: 1 = a state in *st (name owned by the caller), 0 = a
 * deletion mark, -1 = unreadable. */
static int
s_decode(const void *val, size_t vlen, s_state_t *st)
{
    memset(st, 0, sizeof *st);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    int rc = -1;
    if (msgpack_unpack_next(&up, val, vlen, NULL) != MSGPACK_UNPACK_SUCCESS ||
        up.data.type != MSGPACK_OBJECT_MAP)
        goto done;
    bool deleted = false, ok = true;
    int have = 0;
    const msgpack_object_map *m = &up.data.via.map;
    for (uint32_t i = 0; ok && i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key, *v = &m->ptr[i].val;
        if (s_key_is(k, "deleted")) {
            ok = v->type == MSGPACK_OBJECT_BOOLEAN;
            deleted = ok && v->via.boolean;
        } else if (s_key_is(k, "name")) {
            ok = v->type == MSGPACK_OBJECT_STR && !st->name;
            if (ok)
                st->name = cdt_xstrndup(v->via.str.ptr, v->via.str.size);
        } else if (s_key_is(k, "hash")) {
            ok = v->type == MSGPACK_OBJECT_STR &&
                 v->via.str.size == CDT_SHA256_HEX_LEN &&
                 cdt_sha256_hex_valid(v->via.str.ptr, v->via.str.size);
            if (ok) {
                memcpy(st->hash, v->via.str.ptr, CDT_SHA256_HEX_LEN);
                st->hash[CDT_SHA256_HEX_LEN] = '\0';
                have |= 1;
            }
        } else if (s_key_is(k, "enabled")) {
            ok = v->type == MSGPACK_OBJECT_BOOLEAN;
            st->enabled = ok && v->via.boolean;
            have |= 2;
        } else if (s_key_is(k, "admin")) {
            ok = v->type == MSGPACK_OBJECT_BOOLEAN;
            st->admin = ok && v->via.boolean;
        } else if (s_key_is(k, "expiresMs")) {
            ok = v->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                 v->via.u64 <= (uint64_t)INT64_MAX;
            st->expires_ms = ok ? (int64_t)v->via.u64 : 0;
        }
    }
    if (ok && deleted)
        rc = 0;
    else if (ok && have == 3)
        rc = 1;
done:
    msgpack_unpacked_destroy(&up);
    if (rc != 1) {
        free(st->name);
        st->name = NULL;
    }
    return rc;
}

static int
s_load_one(void *arg, const void *key, size_t klen, const void *val,
           size_t vlen)
{
    keyops_t *self = arg;
    char name[S_ID_LEN];
    char *end = NULL;
    long long id = 0;
    if (klen > 0 && klen < sizeof name) {
        memcpy(name, key, klen);
        name[klen] = '\0';
        id = strtoll(name, &end, 10);
    }
    s_state_t st;
    int kind = id > 0 && end && !*end ? s_decode(val, vlen, &st) : -1;
    if (kind < 0) {
        cdt_log_warn("ignoring an unreadable key record in the store (%zu "
                     "bytes)",
                     vlen);
        return 0;
    }
    if (kind == 0) {
        (void)keys_delete(self->keys, id); /* absent already: fine */
        return 0;
    }
    int rc;
    if (keys_find_id(self->keys, id)) {
        keys_change_t c = {
            .name = st.name ? st.name : "",
            .hash = st.hash,
            .has_enabled = true,
            .enabled = st.enabled,
            .has_expires = true,
            .expires_ms = st.expires_ms,
            .has_admin = true,
            .admin = st.admin,
        };
        rc = keys_update(self->keys, id, &c);
    } else {
        rc = keys_add(self->keys, id, st.name, st.hash, st.enabled,
                      st.expires_ms, st.admin);
    }
    if (rc != 0)
        cdt_log_warn("cannot apply the stored state of key %lld: its hash "
                     "belongs to another key",
                     id);
    free(st.name);
    return 0;
}

/* -------------------------------------------------------------------- */
/* announcements                                                         */

static void
s_announce(keyops_t *self, int64_t id, const s_state_t *st, const char *change,
           const cdt_ingress_t *msg, int64_t now_ms)
{
    notify_obj_t o;
    notify_obj_init(&o);
    notify_obj_int(&o, "virtualKeyId", id);
    if (st) {
        notify_obj_str(&o, "name", st->name);
        notify_obj_key(&o, "enabled", 7);
        s_pack_bool(&o.pk, st->enabled);
        notify_obj_key(&o, "admin", 5);
        s_pack_bool(&o.pk, st->admin);
        if (st->expires_ms)
            notify_obj_time(&o, "expiresAt", st->expires_ms);
        else
            notify_obj_nil(&o, "expiresAt");
        notify_obj_str(&o, "change", change);
    }
    if (msg->id.len)
        notify_obj_strn(&o, "correlationId", msg->id.ptr, msg->id.len);
    notify_obj_time(&o, "timestamp", now_ms);

    char group[S_GROUP_LEN], detail[96];
    snprintf(group, sizeof group, "admin-vkey-%" PRId64, id);
    if (st)
        snprintf(detail, sizeof detail, "VirtualKey: %" PRId64 ", Change: %s",
                 id, change);
    else
        snprintf(detail, sizeof detail, "VirtualKey: %" PRId64, id);
    const char *groups[] = {"admin", group};
    (void)notify_send(self->emit, self->emit_arg, S_ADMIN_HUB, groups, 2,
                      st ? "VirtualKeyUpdated" : "VirtualKeyDeleted", &o,
                      detail, NULL);
    notify_obj_release(&o);
}

/* -------------------------------------------------------------------- */
/* API                                                                   */

keyops_t *
keyops_new(keys_t *keys, store_t *store, emit_fn *emit, void *emit_arg,
           keyops_kick_fn *kick, void *kick_arg)
{
    assert(keys && emit && kick);
    keyops_t *self = cdt_xcalloc(1, sizeof *self);
    self->keys = keys;
    self->store = store;
    self->emit = emit;
    self->emit_arg = emit_arg;
    self->kick = kick;
    self->kick_arg = kick_arg;
    if (store) {
        size_t before = keys_count(keys);
        if (store_iterate(store, S_NS, s_load_one, self) < 0) {
            keyops_destroy(&self);
            return NULL;
        }
        cdt_log_info("applied the stored key changes: %zu key(s) before, "
                     "%zu after",
                     before, keys_count(keys));
    }
    return self;
}

void
keyops_destroy(keyops_t **self_p)
{
    assert(self_p);
    free(*self_p);
    *self_p = NULL;
}

uint64_t
keyops_changes(const keyops_t *self)
{
    return self->changes;
}

static int s_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
s_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static bool
s_expired(const s_state_t *st, int64_t now_ms)
{
    return st->expires_ms != 0 && now_ms >= st->expires_ms;
}

int
keyops_ingest(keyops_t *self, const cdt_ingress_t *msg, int64_t now_ms,
              char *err, size_t errlen)
{
    assert(self && msg && err && errlen > 0);
    err[0] = '\0';
    if (msg->type != CDT_IN_KEY)
        return s_fail(err, errlen, "not a key message");
    if (!msg->has_key_id)
        return s_fail(err, errlen, "missing field 'virtualKeyId'");
    if (msg->key_id <= 0)
        return s_fail(err, errlen,
                      "field 'virtualKeyId' must be a positive integer");
    int64_t id = msg->key_id;
    bool has_hash = msg->key_hash.len > 0;
    if (has_hash &&
        (msg->key_hash.len != CDT_SHA256_HEX_LEN ||
         !cdt_sha256_hex_valid(msg->key_hash.ptr, msg->key_hash.len)))
        return s_fail(err, errlen,
                      "field 'keyHash' must be 64 lowercase hex digits "
                      "(the SHA-256 of the key)");
    char hash[CDT_SHA256_HEX_LEN + 1] = "";
    if (has_hash) {
        memcpy(hash, msg->key_hash.ptr, CDT_SHA256_HEX_LEN);
        hash[CDT_SHA256_HEX_LEN] = '\0';
    }
    const keys_entry_t *e = keys_find_id(self->keys, id);
    if (msg->op == CDT_KEY_ADD) {
        if (e)
            return s_fail(err, errlen, "virtual key %" PRId64 " already exists",
                          id);
        if (!has_hash)
            return s_fail(err, errlen, "op 'add' needs 'keyHash'");
    } else if (!e) {
        return s_fail(err, errlen, "unknown virtual key %" PRId64, id);
    }
    if (has_hash) {
        const keys_entry_t *other = keys_find_hash(self->keys, hash);
        if (other && other->id != id)
            return s_fail(err, errlen,
                          "this keyHash already belongs to another key");
    }
    if (msg->op == CDT_KEY_UPDATE && !msg->name.len && !has_hash &&
        !msg->has_admin && !msg->has_enabled && !msg->has_expires)
        return s_fail(err, errlen,
                      "op 'update' needs at least one of name, keyHash, "
                      "admin, enabled, expiresAt");

    /* the state after the change */
    s_state_t old = {0}, st = {0};
    const char *old_name = "";
    if (e) {
        old_name = e->name;
        memcpy(old.hash, e->hash, sizeof old.hash);
        old.enabled = e->enabled;
        old.admin = e->admin;
        old.expires_ms = e->expires_ms;
        st = old;
    } else {
        st.enabled = true;
    }
    char *name = msg->name.len ? cdt_xstrndup(msg->name.ptr, msg->name.len)
                               : cdt_xstrdup(old_name);
    st.name = name;
    const char *change = "updated";
    switch (msg->op) {
    case CDT_KEY_ADD:
        change = "added"; /* the optional fields as for an update */
        /* fall through */
    case CDT_KEY_UPDATE:
        if (has_hash)
            memcpy(st.hash, hash, sizeof st.hash);
        if (msg->has_enabled)
            st.enabled = msg->enabled;
        if (msg->has_admin)
            st.admin = msg->admin;
        if (msg->has_expires)
            st.expires_ms = msg->expires_ms;
        break;
    case CDT_KEY_DISABLE:
        st.enabled = false;
        change = "disabled";
        break;
    case CDT_KEY_ENABLE:
        st.enabled = true;
        change = "enabled";
        break;
    case CDT_KEY_DELETE:
        break;
    default:
        free(name);
        return s_fail(err, errlen, "unknown op");
    }

    /* durable first */
    bool deleting = msg->op == CDT_KEY_DELETE;
    if (s_persist(self, id, deleting ? NULL : &st) != 0) {
        free(name);
        return s_fail(err, errlen,
                      "cannot store the change of key %" PRId64
                      " (see the broker's log)",
                      id);
    }

    /* what live connections can no longer keep */
    const char *kick = NULL;
    if (deleting)
        kick = "Virtual key deleted";
    else if (!st.enabled)
        kick = "Virtual key disabled";
    else if (s_expired(&st, now_ms))
        kick = "Virtual key expired";
    else if (e && (strcmp(st.hash, old.hash) != 0 || (old.admin && !st.admin)))
        kick = "Virtual key changed";

    int rc;
    if (deleting) {
        rc = keys_delete(self->keys, id);
    } else if (!e) {
        rc = keys_add(self->keys, id, st.name, st.hash, st.enabled,
                      st.expires_ms, st.admin);
    } else {
        keys_change_t c = {
            .name = st.name,
            .hash = st.hash,
            .has_enabled = true,
            .enabled = st.enabled,
            .has_expires = true,
            .expires_ms = st.expires_ms,
            .has_admin = true,
            .admin = st.admin,
        };
        rc = keys_update(self->keys, id, &c);
    }
    e = NULL; /* the table changed */
    if (rc != 0) {
        /* validated above: this is a bug, but say so rather than lie */
        cdt_log_error("key %" PRId64 ": the table refused a validated '%s'", id,
                      cdt_key_op_name(msg->op));
        free(name);
        return s_fail(err, errlen, "key %" PRId64 ": the change failed", id);
    }
    self->changes++;
    if (kick) {
        size_t n = self->kick(self->kick_arg, id, kick);
        cdt_log_notice("closing the connections of key %" PRId64
                       " on every gateway (%zu known here): %s",
                       id, n, kick);
    }
    s_announce(self, id, deleting ? NULL : &st, change, msg, now_ms);
    free(name);
    return 0;
}
