/*
 * store - the broker's small durable key-value store, over LMDB.
 *
 * Namespaces are LMDB named databases, opened (and created) on first use
 * in a write transaction of their own and cached by name: a DBI handle
 * stays valid for the life of the environment once that transaction
 * committed.
 *
 * SPDX-License-Identifier: MIT
 */
#include "broker/store.h"

#define CDT_LOG_MODULE "store"
#include "common/cdt_log.h"
#include "common/cdt_mem.h"

#include <assert.h>
#include <errno.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Address space reserved for the map. On Linux the data file grows only
 * with the pages in use, so a generous reservation costs nothing. */
#define STORE_MAP_SIZE ((size_t)1 << 30)

/* Namespace names are short words; LMDB stores them as keys of the main
 * database. */
#define STORE_NS_MAX 32

typedef struct {
    char name[STORE_NS_MAX + 1];
    MDB_dbi dbi;
} s_ns_t;

struct store {
    MDB_env *env;
    char *dir;
    s_ns_t ns[STORE_MAX_NAMESPACES];
    size_t n_ns;
};

/* mkdir -p: creates dir and its missing parents. */
static int
s_mkdirs(const char *dir)
{
    char *path = cdt_xstrdup(dir);
    int rc = 0;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) == -1 && errno != EEXIST) {
            cdt_log_error("cannot create directory '%s': %s", path,
                          strerror(errno));
            rc = -1;
        }
        *p = '/';
        if (rc)
            break;
    }
    if (rc == 0 && mkdir(path, 0700) == -1 && errno != EEXIST) {
        cdt_log_error("cannot create directory '%s': %s", path,
                      strerror(errno));
        rc = -1;
    }
    free(path);
    return rc;
}

store_t *
store_open(const char *dir)
{
    assert(dir);
    store_t *self = cdt_xcalloc(1, sizeof *self);
    self->dir = cdt_xstrdup(dir);
    if (!*dir) {
        cdt_log_error("cannot open store: empty directory name");
        goto fail;
    }
    if (s_mkdirs(dir) < 0)
        goto fail;
    int rc = mdb_env_create(&self->env);
    if (rc) {
        cdt_log_error("cannot create store environment: %s", mdb_strerror(rc));
        self->env = NULL;
        goto fail;
    }
    rc = mdb_env_set_maxdbs(self->env, STORE_MAX_NAMESPACES);
    if (!rc)
        rc = mdb_env_set_mapsize(self->env, STORE_MAP_SIZE);
    if (!rc)
        rc = mdb_env_open(self->env, dir, 0, 0600);
    if (rc) {
        cdt_log_error("cannot open store '%s': %s", dir, mdb_strerror(rc));
        goto fail;
    }
    /* a broker killed while it held a read transaction leaves its reader
     * slot behind; reclaim it so old pages can be reused */
    int dead = 0;
    rc = mdb_reader_check(self->env, &dead);
    if (rc)
        cdt_log_warn("cannot check readers of store '%s': %s", dir,
                     mdb_strerror(rc));
    else if (dead > 0)
        cdt_log_notice("store '%s': cleared %d stale readers", dir, dead);
    return self;
fail:
    store_destroy(&self);
    return NULL;
}

void
store_destroy(store_t **self_p)
{
    assert(self_p);
    store_t *self = *self_p;
    if (!self)
        return;
    if (self->env)
        mdb_env_close(self->env); /* also closes the DBI handles */
    free(self->dir);
    free(self);
    *self_p = NULL;
}

const char *
store_dir(const store_t *self)
{
    return self->dir;
}

size_t
store_max_key(const store_t *self)
{
    return (size_t)mdb_env_get_maxkeysize(self->env);
}

/* The DBI of namespace ns, opening (creating) it on first use. */
static int
s_dbi(store_t *self, const char *ns, MDB_dbi *dbi)
{
    for (size_t i = 0; i < self->n_ns; i++)
        if (strcmp(self->ns[i].name, ns) == 0) {
            *dbi = self->ns[i].dbi;
            return 0;
        }
    size_t len = strlen(ns);
    if (len == 0 || len > STORE_NS_MAX) {
        cdt_log_error("store namespace '%s': name must be 1 to %d bytes", ns,
                      STORE_NS_MAX);
        return -1;
    }
    if (self->n_ns == STORE_MAX_NAMESPACES) {
        cdt_log_error("store namespace '%s': more than %d namespaces", ns,
                      STORE_MAX_NAMESPACES);
        return -1;
    }
    MDB_txn *txn;
    int rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    if (rc) {
        cdt_log_error("store namespace '%s': cannot begin: %s", ns,
                      mdb_strerror(rc));
        return -1;
    }
    rc = mdb_dbi_open(txn, ns, MDB_CREATE, dbi);
    if (rc) {
        mdb_txn_abort(txn);
        cdt_log_error("store namespace '%s': cannot open: %s", ns,
                      mdb_strerror(rc));
        return -1;
    }
    rc = mdb_txn_commit(txn);
    if (rc) {
        cdt_log_error("store namespace '%s': cannot commit: %s", ns,
                      mdb_strerror(rc));
        return -1;
    }
    s_ns_t *slot = &self->ns[self->n_ns++];
    memcpy(slot->name, ns, len + 1);
    slot->dbi = *dbi;
    return 0;
}

static bool
s_key_ok(const store_t *self, const char *ns, size_t klen)
{
    if (klen == 0 || klen > store_max_key(self)) {
        cdt_log_error("store namespace '%s': key of %zu bytes (1 to %zu "
                      "allowed)",
                      ns, klen, store_max_key(self));
        return false;
    }
    return true;
}

int
store_put(store_t *self, const char *ns, const void *key, size_t klen,
          const void *val, size_t vlen)
{
    MDB_dbi dbi;
    if (!s_key_ok(self, ns, klen) || s_dbi(self, ns, &dbi) < 0)
        return -1;
    MDB_txn *txn;
    int rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    if (rc)
        goto fail;
    MDB_val k = {klen, (void *)key};
    MDB_val v = {vlen, (void *)val};
    rc = mdb_put(txn, dbi, &k, &v, 0);
    if (rc) {
        mdb_txn_abort(txn);
        goto fail;
    }
    rc = mdb_txn_commit(txn); /* fsync: durable when this returns 0 */
    if (rc)
        goto fail;
    return 0;
fail:
    cdt_log_error("cannot write to store namespace '%s': %s", ns,
                  mdb_strerror(rc));
    return -1;
}

int
store_write(store_t *self, const store_op_t *ops, size_t n)
{
    assert(self && (ops || n == 0));
    if (n == 0)
        return 0;
    /* namespaces first: opening one takes a write transaction of its own */
    MDB_dbi *dbis = cdt_xcalloc(n, sizeof *dbis);
    int rc = 0;
    const char *ns = ops[0].ns;
    for (size_t i = 0; i < n; i++) {
        if (!s_key_ok(self, ops[i].ns, ops[i].klen) ||
            s_dbi(self, ops[i].ns, &dbis[i]) < 0) {
            free(dbis);
            return -1;
        }
    }
    MDB_txn *txn;
    rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    if (rc)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        MDB_val k = {ops[i].klen, (void *)ops[i].key};
        ns = ops[i].ns;
        if (ops[i].val) {
            MDB_val v = {ops[i].vlen, (void *)ops[i].val};
            rc = mdb_put(txn, dbis[i], &k, &v, 0);
        } else {
            rc = mdb_del(txn, dbis[i], &k, NULL);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        }
        if (rc) {
            mdb_txn_abort(txn);
            goto fail;
        }
    }
    rc = mdb_txn_commit(txn); /* fsync: durable when this returns 0 */
    if (rc)
        goto fail;
    free(dbis);
    return 0;
fail:
    free(dbis);
    cdt_log_error("cannot write a batch of %zu changes to the store "
                  "(namespace '%s'): %s",
                  n, ns, mdb_strerror(rc));
    return -1;
}

void *
store_get(store_t *self, const char *ns, const void *key, size_t klen,
          size_t *vlen_p)
{
    assert(vlen_p);
    MDB_dbi dbi;
    if (!s_key_ok(self, ns, klen) || s_dbi(self, ns, &dbi) < 0)
        return NULL;
    MDB_txn *txn;
    int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn);
    if (rc) {
        cdt_log_error("cannot read store namespace '%s': %s", ns,
                      mdb_strerror(rc));
        return NULL;
    }
    MDB_val k = {klen, (void *)key};
    MDB_val v;
    char *copy = NULL;
    rc = mdb_get(txn, dbi, &k, &v);
    if (rc == 0) {
        copy = cdt_xmalloc(v.mv_size + 1);
        memcpy(copy, v.mv_data, v.mv_size);
        copy[v.mv_size] = '\0';
        *vlen_p = v.mv_size;
    } else if (rc != MDB_NOTFOUND) {
        cdt_log_error("cannot read store namespace '%s': %s", ns,
                      mdb_strerror(rc));
    }
    mdb_txn_abort(txn);
    return copy;
}

int
store_delete(store_t *self, const char *ns, const void *key, size_t klen)
{
    MDB_dbi dbi;
    if (!s_key_ok(self, ns, klen) || s_dbi(self, ns, &dbi) < 0)
        return -1;
    MDB_txn *txn;
    int rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    if (rc)
        goto fail;
    MDB_val k = {klen, (void *)key};
    rc = mdb_del(txn, dbi, &k, NULL);
    if (rc == MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return 0;
    }
    if (rc) {
        mdb_txn_abort(txn);
        goto fail;
    }
    rc = mdb_txn_commit(txn);
    if (rc)
        goto fail;
    return 0;
fail:
    cdt_log_error("cannot delete from store namespace '%s': %s", ns,
                  mdb_strerror(rc));
    return -1;
}

int
store_iterate(store_t *self, const char *ns, store_iter_fn *fn, void *arg)
{
    MDB_dbi dbi;
    if (s_dbi(self, ns, &dbi) < 0)
        return -1;
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        goto fail;
    rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc) {
        mdb_txn_abort(txn);
        goto fail;
    }
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if (fn(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size) != 0)
            break;
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (rc != 0 && rc != MDB_NOTFOUND)
        goto fail;
    return 0;
fail:
    cdt_log_error("cannot iterate store namespace '%s': %s", ns,
                  mdb_strerror(rc));
    return -1;
}
