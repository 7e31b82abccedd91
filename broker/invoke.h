/*
 * invoke - evaluates a client's hub invocation against the catalog.
 *
 * Pure decision, no side effects: given the connection's hub, key and
 * admin flag, the method name as the client sent it and the MessagePack
 * argument array, it says whether the call succeeds, which groups the
 * connection joins or leaves, whether an event is to be sent (send_self)
 * and which task was subscribed to (for the late-subscriber DIRECT). The
 * caller (gwlink) applies the result. Only catalog methods exist: there is
 * no way for a client to reach anything else (CONDUIT.md §3's public
 * broadcast methods are gone).
 *
 * Errors carry the exact ASP.NET Core SignalR texts (SIGNALR.md §3), with
 * <m> the method name as sent:
 *   unknown method:       Failed to invoke '<m>' due to an error on the
 *                         server. HubException: Method does not exist.
 *   wrong count or type:  Failed to invoke '<m>' due to an error on the
 *                         server.
 *   task_owner failure:   An unexpected error occurred invoking '<m>' on
 *                         the server. HubException: <not_found|denied>
 *   unusable argument (empty, too long, control characters):
 *                         An unexpected error occurred invoking '<m>' on
 *                         the server. HubException: Invalid argument.
 * A task_owner method with an unusable task id answers not_found (no such
 * task can exist). An admin key passes the ownership check of an existing
 * task.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef INVOKE_H
#define INVOKE_H

#include "common/cdt_catalog.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Looks up a task's owner: true with *owner set, false if unknown. */
typedef bool(invoke_owner_fn)(void *arg, const char *task_id, size_t len,
                              int64_t *owner);

typedef struct invoke_result {
    bool ok;
    char *error;  /* !ok: the SignalR error text; owned */
    char **joins; /* groups to join (ok only); owned */
    size_t n_joins;
    char **leaves; /* groups to leave (ok only); owned */
    size_t n_leaves;
    const char *emit_event; /* send_self: event name (borrowed from the
                               catalog), sent with the invocation's own
                               arguments to emit_group; NULL = none */
    char *emit_group;       /* owned */
    char *task_id;          /* a task_owner join succeeded: the task; owned */
} invoke_result_t;

/* Evaluates one invocation into *out (which the caller releases with
 * invoke_result_release in every case). owner may be NULL when the hub has
 * no task_owner methods (every task is then unknown). */
void invoke_eval(const cdt_hub_t *hub, int64_t key_id, bool admin,
                 const char *method, size_t method_len, const void *args,
                 size_t args_len, invoke_owner_fn *owner, void *owner_arg,
                 invoke_result_t *out);

void invoke_result_release(invoke_result_t *r);

#endif
