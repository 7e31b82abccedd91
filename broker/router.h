/*
 * router - turns one event for (hub, groups) into EVENT link messages to
 * exactly the gateways that hold members of those groups.
 *
 * The event is checked against the catalog (the hub exists, by name or
 * path; the target is one of the hub's events; there is at least one
 * group; the arguments are a MessagePack array), the EVENT message is
 * encoded once with the next sequence number and the arguments' bytes as
 * they are (each gateway writes the SignalR frame from them, once), and
 * the same bytes go to every gateway that holds a member of
 * any of the groups (a connection in several groups is de-duplicated by
 * its gateway). Gateways without members get nothing; an event nobody
 * listens to costs a few hash lookups and no encoding.
 *
 * The router does not own sockets: it calls a router_send_fn with a
 * gateway slot, which the broker wires to gwlink (and tests to a fake).
 * Single-threaded: owned by the broker loop.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef ROUTER_H
#define ROUTER_H

#include "broker/emit.h"
#include "broker/groups.h"
#include "common/cdt_catalog.h"
#include "proto/cdt_link.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sends one encoded link frame to gateway slot gw. Returns 0 or -1 (the
 * callee logs and counts its own failures). */
typedef int(router_send_fn)(void *arg, uint32_t gw, const void *frame,
                            size_t len);

typedef struct router router_t;

typedef struct router_counters {
    uint64_t routed;      /* events accepted (sent to >= 0 gateways) */
    uint64_t refused;     /* events failing validation */
    uint64_t unheard;     /* accepted events no gateway had members for */
    uint64_t sends;       /* EVENT messages handed to send_fn */
    uint64_t send_errors; /* send_fn returned -1 */
} router_counters_t;

/* catalog and groups are borrowed and must outlive the router. Caller
 * owns. */
router_t *router_new(const cdt_catalog_t *catalog, groups_t *groups,
                     router_send_fn *send, void *send_arg);

void router_destroy(router_t **self_p);

/* Routes one event (all arguments borrowed). hub is a hub name or path.
 * Returns 0, or -1 with the reason in err (may be NULL): "unknown hub
 * 'X'", "event 'Y' is not allowed on hub 'X'", "no target group",
 * "invalid group name", "arguments must be an array". */
int router_route(router_t *self, const char *hub, const char *const *groups,
                 size_t n_groups, const char *target, const void *args,
                 size_t args_len, char *err, size_t errlen);

/* One event with its strings given by pointer and length (no NUL needed)
 * and its arguments already decoded, as the ingress path has them. All
 * borrowed for the call. */
typedef struct router_event {
    const char *hub; /* name or path */
    size_t hub_len;
    const char *const *groups;
    const size_t *group_lens;
    size_t n_groups;
    const char *target;
    size_t target_len;
    const msgpack_object *args; /* must be an array */
    /* The arguments' MessagePack bytes, when the caller has them (as they
     * came, say): an array, or one value with pairs to add (see
     * cdt_link_args_t; at most CDT_LINK_MAX_ADD). Both ptrs NULL: the
     * router packs args itself. The bytes go to the gateways as they are:
     * each must be one complete value no deeper than msgpack-c unpacks,
     * as the ingress decoder's are (it has checked them); only the first
     * byte is checked here. */
    cdt_link_args_t mp;
} router_event_t;

/* router_route for a router_event_t: the EVENT carries the arguments'
 * bytes as given (or args packed first), copied once into it. Returns 0,
 * or -1 with the reason in err as router_route. */
int router_route_event(router_t *self, const router_event_t *ev, char *err,
                       size_t errlen);

/* groups_prefetch for an event to the named group of the named hub (a
 * name or path), routed within the next calls: see there. */
void router_prefetch(router_t *self, const char *hub, size_t hub_len,
                     const char *group, size_t group_len, int stage);

/* router_route as an emit_fn (arg = the router): for domain modules. A
 * refusal is logged at WARN. */
int router_emit(void *arg, const char *hub, const char *const *groups,
                size_t n_groups, const char *target, const void *args,
                size_t args_len);

/* The sequence number of the last EVENT sent (0 = none yet). */
uint64_t router_seq(const router_t *self);

const router_counters_t *router_counters(const router_t *self);

/* Events routed on hub (catalog index). */
uint64_t router_hub_events(const router_t *self, size_t hub);

#endif
