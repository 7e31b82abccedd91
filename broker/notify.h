/*
 * notify - what the broker's notification modules (spend, health, webhook)
 * share: building one camelCase object as a MessagePack payload, sending it
 * through an emit_fn, and the one INFO line per notification sent:
 *
 *   [SignalR:BudgetAlert] Sent notification - VirtualKey: 123,
 *   Threshold: 80%, Groups: [vkey-123]        (on one line)
 *
 * A notify_obj_t counts its fields as they are added, so optional fields
 * need no separate count; notify_send wraps it into the SignalR arguments
 * array `[ {…} ]` (one object argument).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef NOTIFY_H
#define NOTIFY_H

#include "broker/emit.h"
#include "common/cdt_buf.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One object under construction. Embedded by value: notify_obj_init, the
 * adders, then notify_send (or none) and notify_obj_release. */
typedef struct notify_obj {
    cdt_buf_t body;    /* the map's key/value pairs, without the header */
    msgpack_packer pk; /* packs into body */
    uint32_t n_fields; /* pairs in body */
} notify_obj_t;

void notify_obj_init(notify_obj_t *self);
void notify_obj_release(notify_obj_t *self);

/* Each adds one field named key (a C string). */
void notify_obj_str(notify_obj_t *self, const char *key, const char *s);
void notify_obj_strn(notify_obj_t *self, const char *key, const char *s,
                     size_t len);
void notify_obj_int(notify_obj_t *self, const char *key, int64_t v);
void notify_obj_num(notify_obj_t *self, const char *key, double v);
void notify_obj_nil(notify_obj_t *self, const char *key);
/* wall_ms as ISO-8601 UTC ("2025-01-31T12:00:00.123Z") */
void notify_obj_time(notify_obj_t *self, const char *key, int64_t wall_ms);

/* Adds only the key (len bytes); the caller packs exactly one value next
 * with self->pk (e.g. msgpack_pack_object). */
void notify_obj_key(notify_obj_t *self, const char *key, size_t len);

/* Emits `target` with the single argument obj to groups of hub, then logs
 * "[SignalR:<target>] Sent notification - <detail>, Groups: [<groups>]" at
 * INFO, where <groups> is log_groups when not NULL (a redacted form, for
 * groups that may hold secrets) or the groups joined by ", ". detail never
 * holds key material. Returns emit's result: 0, or -1 when the router
 * refused the event (the router logs and counts that). */
int notify_send(emit_fn *emit, void *emit_arg, const char *hub,
                const char *const *groups, size_t n_groups, const char *target,
                const notify_obj_t *obj, const char *detail,
                const char *log_groups);

/* True if s can be the variable part of a group name: 1 to max bytes and
 * no control characters (the catalog's rule for client arguments). */
bool notify_group_arg_ok(const char *s, size_t len, size_t max);

#endif
