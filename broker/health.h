/*
 * health - turns `provider_health` reports into ProviderHealthChanged,
 * sent to `system-notifications` on SystemNotificationHub and to `admin`
 * and `admin-provider-{provider}` on AdminNotificationHub.
 *
 * Hysteresis. Each provider has an announced status and a candidate: a
 * report equal to the announced status clears the candidate; a report of
 * another status starts a candidate (or extends it when it is the same
 * status) and, once that status came health.hysteresis times in a row,
 * it is announced. A provider that alternates (healthy, unhealthy,
 * healthy, ...) or wavers between two other statuses (degraded,
 * unhealthy, degraded, ...) announces nothing: no storm.
 *
 * The first status ever seen for a provider is treated like a change from
 * "unknown": it is announced, with previousStatus null, once it held for
 * health.hysteresis reports. Later restarts do not announce it again when
 * a store keeps the state.
 *
 * Payload: {provider, status, previousStatus, responseTimeMs, details,
 * timestamp} with statuses as their names ("healthy", "degraded",
 * "unhealthy"); responseTimeMs and details come from the report that
 * completed the streak (null when absent); timestamp is the broker's wall
 * clock.
 *
 * Durability. With a store, namespace "health" holds per provider name
 * {"status":s,"candidate":c,"streak":n} (status numbers as in
 * cdt_ingress.h, 0 = none), written and committed whenever one of them
 * changes, before the event is emitted, and reloaded by health_new. A
 * report that changes nothing writes nothing.
 *
 * The module has no timers: nothing here depends on time passing.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef HEALTH_H
#define HEALTH_H

#include "broker/emit.h"
#include "broker/store.h"
#include "common/cdt_config.h"
#include "proto/cdt_ingress.h"

#include <stddef.h>
#include <stdint.h>

/* Longest provider name accepted (it becomes a group name and a store
 * key). */
#define HEALTH_PROVIDER_MAX 256

/* Providers tracked at most; reports for further ones are refused. */
#define HEALTH_MAX_PROVIDERS 4096

typedef struct health health_t;

/* Reads health.hysteresis from cfg. store is borrowed and may be NULL;
 * the state in it is loaded. Returns NULL after logging if the store
 * cannot be read. Caller owns. */
health_t *health_new(const cdt_config_t *cfg, store_t *store, emit_fn *emit,
                     void *emit_arg);

/* Safe on NULL; sets *self_p to NULL. */
void health_destroy(health_t **self_p);

/* Takes one `provider_health` message (msg->type CDT_IN_PROVIDER_HEALTH)
 * and emits ProviderHealthChanged when it completes a change. Returns 0,
 * or -1 with a one-line reason in err (missing or invalid provider, bad
 * status, too many providers). */
int health_ingest(health_t *self, const cdt_ingress_t *msg, int64_t now_wall_ms,
                  char *err, size_t errlen);

/* The announced status of provider (0 = none yet). */
enum cdt_health_status health_status(health_t *self, const char *provider);

#endif
