/*
 * store - the broker's small durable key-value store, over LMDB.
 *
 * What must survive a `kill -9` lives here: budget alert state, provider
 * health state, and later the task registry and dynamically managed keys.
 * One LMDB environment in the configured directory (created if missing),
 * one named database per namespace ("alert", "health", "task", "key", ...).
 * Keys and values are byte strings; modules encode their values as
 * MessagePack maps so that fields can be added later.
 *
 * Every put and delete is its own write transaction, committed with LMDB's
 * default sync (data pages and meta page fsync'ed) before the call returns:
 * once store_put returned 0 the broker may acknowledge the message that
 * caused it, and a crash at any later instant keeps the write.
 *
 * Why LMDB and not SQLite: LMDB is a copy-on-write B+tree that never
 * overwrites live pages, so a crash mid-commit leaves the previous committed
 * state intact with no journal to replay and no recovery step on open; it
 * fsyncs on commit by default; it has exactly one writer at a time, which
 * matches the single-threaded broker; its API is a dozen calls over byte
 * strings, which is all a key-value need takes (no SQL text to build, no
 * schema, no statement cache); and it is packaged in Debian (liblmdb-dev).
 * SQLite would bring a query language we do not use and a journal whose
 * durability depends on pragmas set right.
 *
 * Single-threaded: every call comes from the broker's loop. A store_iterate
 * callback runs inside a read transaction and must not call the store.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>

typedef struct store store_t;

/* Up to this many namespaces per environment. */
#define STORE_MAX_NAMESPACES 16

/* Opens (creating the directory and its parents, mode 0700, and the
 * database files, mode 0600) the environment in dir. Clears reader slots
 * left by a process that died. Returns a store (caller owns) or NULL after
 * logging why. */
store_t *store_open(const char *dir);

/* Closes the environment; safe on NULL; sets *self_p to NULL. */
void store_destroy(store_t **self_p);

/* The directory the store lives in. Borrowed; valid until destroy. */
const char *store_dir(const store_t *self);

/* Sets key to val in namespace ns and commits durably. key must be 1 to
 * store_max_key() bytes. Returns 0, or -1 after logging. */
int store_put(store_t *self, const char *ns, const void *key, size_t klen,
              const void *val, size_t vlen);

/* A copy of the value of key (caller frees; its length in *vlen_p), or
 * NULL when the key is absent (or on an error, which is logged). The copy
 * holds one extra NUL byte past *vlen_p so a text value can be printed. */
void *store_get(store_t *self, const char *ns, const void *key, size_t klen,
                size_t *vlen_p);

/* Removes key and commits durably. Returns 0 (also when the key was
 * absent), or -1 after logging. */
int store_delete(store_t *self, const char *ns, const void *key, size_t klen);

/* Called for each entry of a namespace in key order. key and val are
 * borrowed, valid during the call only. Return 0 to go on, anything else to
 * stop. */
typedef int(store_iter_fn)(void *arg, const void *key, size_t klen,
                           const void *val, size_t vlen);

/* Calls fn for every entry of ns. Returns 0 (also if fn stopped early or
 * the namespace is empty), or -1 after logging. */
int store_iterate(store_t *self, const char *ns, store_iter_fn *fn, void *arg);

/* One change of a batch: val NULL deletes key (absent keys are fine). */
typedef struct store_op {
    const char *ns;
    const void *key;
    size_t klen;
    const void *val;
    size_t vlen;
} store_op_t;

/* Applies the n changes in one write transaction and commits durably, all
 * or nothing: a module that changed many records (the task registry on a
 * tick) pays one fsync for all of them. Returns 0 (also for n == 0), or -1
 * after logging, and then nothing was written. */
int store_write(store_t *self, const store_op_t *ops, size_t n);

/* The largest key LMDB accepts (511 bytes in Debian's build). */
size_t store_max_key(const store_t *self);

#endif
