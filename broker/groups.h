/*
 * groups - who is in which group, per hub, and on which gateway.
 *
 * The broker's authoritative view of membership. Groups are per hub, as
 * in SignalR: "vkey-1" on TaskHub and "vkey-1" on SpendNotificationHub are
 * different groups. For each group the module keeps how many members each
 * gateway holds, which is all the router needs: an event goes to a gateway
 * if and only if that gateway holds at least one member of a target group.
 *
 * Connections are identified by (gateway slot, conn_id): conn_id is the
 * gateway's own number, unique within that gateway only. Each connection
 * record carries its hub, key and admin flag and the groups it is in, so
 * that leaving, closing a connection, forgetting a gateway or kicking a
 * key each undo exactly the memberships involved.
 *
 * Costs: join, leave and lookups are O(1) hash operations plus a scan of
 * the connection's own group list (bounded by GROUPS_MAX_PER_CONN); the
 * group tables are open-addressing hashes built for routing's lookups;
 * dropping a gateway or a key is O(its connections x their groups).
 * Gateway slots are small integers chosen by the caller (gwlink), reused
 * after groups_drop_gateway.
 *
 * Single-threaded: owned by the broker loop.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef GROUPS_H
#define GROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most groups one connection may be in (join_each of many URLs). */
#define GROUPS_MAX_PER_CONN 256

/* Longest group name accepted (templates expand to at most
 * CDT_GROUP_ARG_MAX bytes of argument plus a short prefix). */
#define GROUPS_NAME_MAX 1024

typedef struct groups groups_t;
typedef struct groups_conn groups_conn_t;

/* A registry for a catalog of n_hubs hubs (hub = index in the catalog).
 * Caller owns. */
groups_t *groups_new(size_t n_hubs);

/* Destroys every record; sets *self_p to NULL; safe on NULL. */
void groups_destroy(groups_t **self_p);

/* ---- connections -------------------------------------------------------- */

/* Registers a connection without groups. Returns the record (owned by the
 * registry; valid until closed or dropped) or NULL if (gw, conn_id) is
 * already registered or hub is out of range. */
groups_conn_t *groups_conn_open(groups_t *self, uint32_t gw, uint64_t conn_id,
                                size_t hub, int64_t key_id, bool admin);

/* The record of (gw, conn_id), or NULL. */
groups_conn_t *groups_conn_find(groups_t *self, uint32_t gw, uint64_t conn_id);

/* Removes the connection from all its groups and forgets it. */
void groups_conn_close(groups_t *self, groups_conn_t *conn);

uint32_t groups_conn_gw(const groups_conn_t *conn);
uint64_t groups_conn_id(const groups_conn_t *conn);
size_t groups_conn_hub(const groups_conn_t *conn);
int64_t groups_conn_key_id(const groups_conn_t *conn);
bool groups_conn_admin(const groups_conn_t *conn);
size_t groups_conn_n_groups(const groups_conn_t *conn);
/* The name of the connection's i-th group (borrowed; valid while the
 * connection is in it). */
const char *groups_conn_group(const groups_conn_t *conn, size_t i);
/* True if the connection is in the group. */
bool groups_conn_in(const groups_t *self, const groups_conn_t *conn,
                    const char *group);

/* ---- membership --------------------------------------------------------- */

/* Adds the connection to the group of its hub. Returns 1 if it joined, 0
 * if it was already a member, -1 if the name is empty or longer than
 * GROUPS_NAME_MAX, or the connection is in GROUPS_MAX_PER_CONN groups. */
int groups_join(groups_t *self, groups_conn_t *conn, const char *group);

/* Removes the connection from the group. Returns 1 if it left, 0 if it
 * was not a member. */
int groups_leave(groups_t *self, groups_conn_t *conn, const char *group);

/* Closes every connection of gateway slot gw. Returns how many. */
size_t groups_drop_gateway(groups_t *self, uint32_t gw);

/* Closes every connection authenticated with key_id. Returns how many. */
size_t groups_drop_key(groups_t *self, int64_t key_id);

/* ---- routing ------------------------------------------------------------ */

/* The distinct gateway slots holding at least one member of at least one
 * of the n named groups of hub. *gws_p points to an array owned by the
 * registry, valid until the next call. Returns its length. */
size_t groups_route(groups_t *self, size_t hub, const char *const *names,
                    size_t n, const uint32_t **gws_p);

/* groups_route for names given with their lengths (lens[i] bytes of
 * names[i], no NUL needed): the router's per-event form. */
size_t groups_route_n(groups_t *self, size_t hub, const char *const *names,
                      const size_t *lens, size_t n, const uint32_t **gws_p);

/* A hint, for an event routed soon to the group called name (len bytes)
 * of hub: stage 0 prefetches the group's table slot, stage 1 (a later
 * call, once that slot is in the cache) its record, so the routing finds
 * both cached instead of waiting for memory twice. Changes nothing. */
void groups_prefetch(const groups_t *self, size_t hub, const char *name,
                     size_t len, int stage);

/* Members of the group on gateway gw (0 if the group does not exist). */
uint32_t groups_members_on(const groups_t *self, size_t hub, const char *group,
                           uint32_t gw);

/* Members of the group on all gateways. */
uint32_t groups_members(const groups_t *self, size_t hub, const char *group);

/* ---- figures ------------------------------------------------------------ */

size_t groups_n_conns(const groups_t *self);
size_t groups_hub_conns(const groups_t *self, size_t hub);
size_t groups_key_conns(const groups_t *self, int64_t key_id);
size_t groups_gw_conns(const groups_t *self, uint32_t gw);
size_t groups_n_groups(const groups_t *self);
size_t groups_hub_groups(const groups_t *self, size_t hub);
size_t groups_n_memberships(const groups_t *self);

#endif
