/*
 * keyops - the `key` ingress messages: run-time changes of the virtual key
 * table, made durable, enforced on live connections and announced to the
 * admin hub.
 *
 *   op       needs                 does
 *   add      virtualKeyId, keyHash a new key (name, admin, enabled
 *                                  (default true), expiresAt optional)
 *   update   virtualKeyId and at   changes the given fields of name,
 *            least one field       keyHash, admin, enabled, expiresAt
 *   disable  virtualKeyId          enabled = false
 *   enable   virtualKeyId          enabled = true
 *   delete   virtualKeyId          removes the key
 *
 * Unknown ids (add: an id or keyHash already in use) are refused with a
 * one-line reason. A change that leaves the key unusable for the
 * connections it already has (disabled, expired, deleted, its secret
 * replaced, its admin right taken away) kicks those connections on every
 * gateway through kick_fn: they are closed with an error and
 * allowReconnect false, and the broker forgets them. New connections are
 * refused (401) by the key table itself.
 *
 * Announcements, on AdminNotificationHub to `admin` and
 * `admin-vkey-{id}` (one INFO line each, as notify.h):
 *   VirtualKeyUpdated {virtualKeyId, name, enabled, admin, expiresAt (ISO
 *     or null), change ("added", "updated", "disabled", "enabled"),
 *     correlationId (when given), timestamp}
 *   VirtualKeyDeleted {virtualKeyId, correlationId?, timestamp}
 *
 * Durability. With a store, namespace "key" holds one record per key
 * changed at run time (key: the decimal id): {"name", "hash", "enabled",
 * "admin", "expiresMs"} or {"deleted": true}. It is written and committed
 * before the table changes, the connections are kicked or anything is
 * announced, so an acknowledged change survives kill -9. keyops_new
 * applies the records over the table loaded from the configuration: the
 * run-time state of an id wins over the file's (a key disabled or deleted
 * at run time stays so after a restart, even though the file still lists
 * it enabled). Only SHA-256 hashes are stored; nothing here logs a hash.
 *
 * Single-threaded: owned by the broker loop.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef KEYOPS_H
#define KEYOPS_H

#include "broker/emit.h"
#include "broker/keys.h"
#include "broker/store.h"
#include "proto/cdt_ingress.h"

#include <stddef.h>
#include <stdint.h>

/* Closes every live connection of key_id on every gateway with reason
 * (the Close message's error). Returns how many the broker knew of. */
typedef size_t(keyops_kick_fn)(void *arg, int64_t key_id, const char *reason);

typedef struct keyops keyops_t;

/* keys, store (may be NULL) and the callbacks' arguments are borrowed and
 * must outlive the object. Applies the store's records to keys. Returns
 * NULL after logging if the store cannot be read. Caller owns. */
keyops_t *keyops_new(keys_t *keys, store_t *store, emit_fn *emit,
                     void *emit_arg, keyops_kick_fn *kick, void *kick_arg);

/* Safe on NULL; sets *self_p to NULL. */
void keyops_destroy(keyops_t **self_p);

/* Takes one `key` message (msg->type CDT_IN_KEY) at wall time now_ms.
 * Returns 0, or -1 with a one-line reason in err. */
int keyops_ingest(keyops_t *self, const cdt_ingress_t *msg, int64_t now_ms,
                  char *err, size_t errlen);

/* Run-time changes applied (since start, loaded ones not counted). */
uint64_t keyops_changes(const keyops_t *self);

#endif
