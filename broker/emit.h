/*
 * emit - how the broker's domain modules hand events to the router.
 *
 * Modules that turn ingress facts into client events (tasks, spend,
 * provider health, webhooks, keys) do not know about gateways or sockets:
 * they call an emit_fn, which the broker wires to its router. The router
 * validates the hub, encodes the SignalR JSON frame once and sends it to
 * exactly the gateways that hold members of the groups.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef EMIT_H
#define EMIT_H

#include <stddef.h>

/* Routes one event: hub is a catalog hub name ("SpendNotificationHub"),
 * groups the target groups of that hub (a member of several gets it once),
 * target the client method name ("BudgetAlert"), args a MessagePack array
 * (the SignalR arguments). Borrowed: the callee copies what it keeps.
 * Returns 0, or -1 if the event was refused (unknown hub, event not allowed
 * on the hub, args not an array); the router logs and counts refusals. */
typedef int(emit_fn)(void *arg, const char *hub, const char *const *groups,
                     size_t n_groups, const char *target, const void *args,
                     size_t args_len);

#endif
