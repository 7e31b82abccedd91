/*
 * keys - the broker's virtual keys and the master key, and the
 * authentication decision made from them.
 *
 * A key is known only by the lowercase hex SHA-256 of its text (as in the
 * original Conduit); tokens are hashed on arrival and never stored, logged
 * or compared in clear. Lookups by hash index the first 16 hex digits and
 * compare the full 64 in constant time (cdt_ct_equal), so no comparison
 * leaks how much of a stored hash a guess matched.
 *
 * Rules (DESIGN.md §2, §4): the master key (broker.master_key_hash) has
 * key_id 0 and admin rights and opens only master_key hubs; virtual keys
 * open only virtual_key hubs; a disabled or expired key opens nothing.
 *
 * The table is filled from the configuration at start and changed at run
 * time by the `key` ingress messages (add/update/disable/enable/delete).
 * Single-threaded: owned by the broker loop.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef KEYS_H
#define KEYS_H

#include "common/cdt_auth.h"
#include "common/cdt_catalog.h"
#include "common/cdt_config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Tokens longer than this are refused without hashing. */
#define KEYS_TOKEN_MAX 4096

typedef struct keys keys_t;

/* One virtual key. Borrowed from the table: valid until the next change. */
typedef struct keys_entry {
    int64_t id; /* virtualKeyId, > 0 */
    char *name; /* owned by the table */
    char hash[CDT_SHA256_HEX_LEN + 1];
    bool enabled;
    int64_t expires_ms; /* wall ms; 0 = never */
    bool admin;         /* passes task ownership checks */
} keys_entry_t;

/* Optional fields of an update: NULL / has_* false = unchanged. */
typedef struct keys_change {
    const char *name;
    const char *hash; /* 64 lowercase hex digits */
    bool has_enabled;
    bool enabled;
    bool has_expires;
    int64_t expires_ms;
    bool has_admin;
    bool admin;
} keys_change_t;

/* The outcome of an authentication. */
typedef struct keys_decision {
    uint32_t status;    /* 200, 401 or 404 */
    int64_t key_id;     /* 200: 0 = the master key */
    bool admin;         /* 200 */
    const char *reason; /* static text, "" on 200 */
} keys_decision_t;

/* An empty table without a master key. Caller owns. */
keys_t *keys_new(void);

void keys_destroy(keys_t **self_p);

/* Adds the configuration's keys and master key hash. Returns 0, or -1 (and
 * logs) on a duplicate id or hash or an invalid hash. */
int keys_load_config(keys_t *self, const cdt_config_t *cfg);

/* Sets the master key hash ("" or NULL = no master key). Returns 0, or -1
 * if hash is not 64 lowercase hex digits. */
int keys_set_master(keys_t *self, const char *hash);

/* Adds a key. Returns 0, or -1 if id <= 0, the hash is invalid, or the id
 * or the hash is already in the table. name may be NULL. */
int keys_add(keys_t *self, int64_t id, const char *name, const char *hash,
             bool enabled, int64_t expires_ms, bool admin);

/* Changes the given fields of key id. Returns 0, or -1 if there is no such
 * key, or the new hash is invalid or belongs to another key. */
int keys_update(keys_t *self, int64_t id, const keys_change_t *change);

/* Enables or disables key id. Returns 0 or -1 if unknown. */
int keys_set_enabled(keys_t *self, int64_t id, bool enabled);

/* Removes key id. Returns 0 or -1 if unknown. */
int keys_delete(keys_t *self, int64_t id);

/* Lookups (borrowed; NULL if absent). keys_find_hash compares the full
 * hash in constant time. */
const keys_entry_t *keys_find_id(const keys_t *self, int64_t id);
const keys_entry_t *keys_find_hash(const keys_t *self, const char *hash);

size_t keys_count(const keys_t *self);

/* Decides whether token (len bytes, not NUL-terminated) opens hub (NULL =
 * the hub asked for does not exist: 404) at wall time now_ms. */
void keys_authorize(const keys_t *self, const cdt_hub_t *hub, const char *token,
                    size_t len, int64_t now_ms, keys_decision_t *out);

/* Whether key_id (0 = master) may still hold a connection to hub at
 * now_ms: known, enabled, not expired, of the hub's scheme. On false,
 * *reason (if not NULL) gets a static text. */
bool keys_usable(const keys_t *self, const cdt_hub_t *hub, int64_t key_id,
                 int64_t now_ms, const char **reason);

#endif
