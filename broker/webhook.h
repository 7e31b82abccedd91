/*
 * webhook - turns `webhook` ingress messages into WebhookDeliveryHub
 * events for the group `webhook-{virtualKeyId}-{url}`, the group a client
 * of that key joins with SubscribeToWebhooks([url]) (catalog template
 * "webhook-{id}-{0}"): one tenant never sees another's deliveries.
 *
 *   status            event
 *   delivered         WebhookDelivered
 *   failed            WebhookFailed
 *   retry_scheduled   WebhookRetryScheduled
 *   circuit_open      CircuitBreakerStateChanged, state "open"
 *   circuit_closed    CircuitBreakerStateChanged, state "closed"
 *
 * Payload: virtualKeyId, url, status (the name above), statusCode and
 * attempt (when given), then every other field of the message passed
 * through with its top-level name turned to camelCase (`response_time_ms`
 * -> `responseTimeMs`; values are copied as they are), then `state` for
 * circuit events, `correlationId` when the message had an `id`, and
 * `timestamp` (the broker's wall clock). The message's own `type`, `ts`,
 * `id` and `timestamp`, non-string keys and repeated names are left out.
 *
 * Log lines show the URL without its user information, query and
 * fragment, which may carry secrets.
 *
 * No state and no timers.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef WEBHOOK_H
#define WEBHOOK_H

#include "broker/emit.h"
#include "proto/cdt_ingress.h"

#include <stddef.h>
#include <stdint.h>

/* Passed-through fields accepted per message (beyond the typed ones). */
#define WEBHOOK_MAX_FIELDS 64

typedef struct webhook webhook_t;

/* emit is called with emit_arg for every event. Caller owns. */
webhook_t *webhook_new(emit_fn *emit, void *emit_arg);

/* Safe on NULL; sets *self_p to NULL. */
void webhook_destroy(webhook_t **self_p);

/* Takes one `webhook` message (msg->type CDT_IN_WEBHOOK) and emits its
 * event. Returns 0, or -1 with a one-line reason in err (no virtualKeyId,
 * url empty, longer than CDT_GROUP_ARG_MAX or with control characters,
 * bad status, too many fields). */
int webhook_ingest(webhook_t *self, const cdt_ingress_t *msg,
                   int64_t now_wall_ms, char *err, size_t errlen);

/* Writes url without user information, query and fragment (a removed query
 * or fragment shows as "?..."), for logs. Always NUL-terminates out. */
void webhook_redact_url(const char *url, size_t len, char *out, size_t outlen);

#endif
