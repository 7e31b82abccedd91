/*
 * spend - turns `spend` ingress messages into SpendUpdate, BudgetAlert,
 * UnusualSpending (SpendNotificationHub, group `vkey-{id}`) and
 * HighSpendAlert (AdminNotificationHub, groups `admin` and
 * `admin-vkey-{id}`).
 *
 * Pure domain logic: no sockets, no timers of its own. The broker calls
 * spend_ingest for each message, spend_tick when spend_next_deadline is
 * due, and passes the clocks in, so tests need no sleeping.
 *
 * SpendUpdate. Spends of one key are batched over spend.window_ms from the
 * first spend of the batch: `newSpend` is the sum of the amounts,
 * `requestCount` their number, and `totalSpend`, `budget`,
 * `budgetPercentage`, `requestId` and `correlationId` come from the latest
 * message of the batch, `provider` and `model` from the latest message
 * that named them (null if none did). `budget` and `budgetPercentage` are
 * null when the latest message gave no budget (or a budget <= 0).
 * window_ms 0 sends each spend at once.
 *
 * BudgetAlert. pct = totalSpend / budget x 100 for a message with a budget
 * > 0 (a message without one changes no alert state). Each threshold of
 * spend.thresholds fires once: when pct reaches thresholds crossed whose
 * alert was not sent, ONE BudgetAlert goes out, for the highest of them,
 * and every threshold at or below it is marked sent (a jump from 10 % to
 * 95 % gives one alert, for 90, and 80 is never sent for that climb). A
 * threshold re-arms when pct falls below spend.rearm_percent and below the
 * threshold itself (so a threshold under the re-arm level cannot fire on
 * every spend). Severity: critical for a threshold >= 100, warning for >=
 * 90, info below. Fields: virtualKeyId, alertType (budget_80_percent ...,
 * budget_exceeded), threshold, percentage, severity, message, totalSpend,
 * budget, remaining (budget - totalSpend, not below 0), requestId,
 * correlationId (when given), timestamp.
 *
 * HighSpendAlert: once when pct reaches 100, re-armed like a threshold of
 * 100 (independent of spend.thresholds). Fields: virtualKeyId,
 * totalSpend, budget, percentage, severity "critical", message, provider,
 * model, timestamp.
 *
 * UnusualSpending. Spend amounts are kept per key in time buckets of
 * unusual_short_ms / 10. The recent rate is the sum over the last
 * unusual_short_ms divided by that span; the baseline rate is the sum over
 * the rest of the last unusual_long_ms divided by the span the key was
 * actually observed in (a key first seen 20 minutes ago has a 15-minute
 * baseline, so steady spend of a young key is not "unusual"). The alert
 * fires when the baseline holds at least unusual_min_samples spends, its
 * rate is > 0, and recent > unusual_multiple x baseline; then not again
 * for that key before unusual_cooldown_ms. Fields: virtualKeyId,
 * activityType "spend_spike", description, currentRate and normalRate
 * (per hour), deviationPercentage, recentSpend, baselineSpend, windowMs,
 * provider, model, timestamp.
 *
 * Order. Alerts are emitted before the SpendUpdate that contains the spend
 * that caused them: BudgetAlert, HighSpendAlert, UnusualSpending, and then
 * the key's pending batch is flushed at once (it holds that spend), so the
 * dashboard's figures match the alert instead of lagging by a window.
 *
 * Durability. With a store, the sent thresholds of each key (namespace
 * "alert", key the decimal id, value {"thresholds":[80,90],"highSpend":b})
 * are written, and committed, when they change and before the alert is
 * emitted (at most once: a crash between the commit and the emit loses that
 * alert rather than sending it twice), and reloaded by spend_new: after a
 * restart no alert is re-sent. Thresholds are stored by value, so a changed
 * spend.thresholds list maps onto what was sent. Pending batches and the
 * rate history are not persisted (a restart loses at most one window of
 * SpendUpdate; the next spend carries the latest total).
 *
 * `timestamp` is the broker's wall clock when the notification is built.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef SPEND_H
#define SPEND_H

#include "broker/emit.h"
#include "broker/store.h"
#include "common/cdt_config.h"
#include "proto/cdt_ingress.h"

#include <stddef.h>
#include <stdint.h>

typedef struct spend spend_t;

/* Reads the spend.* keys of cfg (copied: cfg may go away). store is
 * borrowed and may be NULL (nothing survives a restart); emit is called
 * with emit_arg for every notification. Loads the alert state from the
 * store. Returns NULL after logging if the configuration is inconsistent
 * (unusual_short_ms >= unusual_long_ms). Caller owns. */
spend_t *spend_new(const cdt_config_t *cfg, store_t *store, emit_fn *emit,
                   void *emit_arg);

/* Sends nothing that is pending (call spend_flush first to send it). Safe on
 * NULL; sets *self_p to NULL. */
void spend_destroy(spend_t **self_p);

/* Takes one `spend` message (msg->type CDT_IN_SPEND): updates the key's
 * batch, alert state and history, emits the alerts it causes and, when it
 * caused any or window_ms is 0, the SpendUpdate. now_mono_ms drives windows
 * and rates, now_wall_ms the timestamps. Returns 0, or -1 with a one-line
 * reason in err when the message is unusable (no virtualKeyId, amount or
 * totalSpend not finite, ...). A failing store write is logged, not
 * returned: the notification was still handled. */
int spend_ingest(spend_t *self, const cdt_ingress_t *msg, int64_t now_mono_ms,
                 int64_t now_wall_ms, char *err, size_t errlen);

/* Sends the SpendUpdate of every batch whose window ended at or before
 * now_mono_ms, and forgets keys idle for longer than unusual_long_ms that
 * hold no alert state. */
void spend_tick(spend_t *self, int64_t now_mono_ms, int64_t now_wall_ms);

/* The monotonic time at which spend_tick has work, or -1 when none. */
int64_t spend_next_deadline(const spend_t *self);

/* Sends every pending SpendUpdate now (broker shutdown). */
void spend_flush(spend_t *self, int64_t now_wall_ms);

#endif
