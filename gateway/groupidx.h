/*
 * groupidx - the gateway's local index: (hub, group) -> its local members.
 *
 * The broker owns group membership; a gateway mirrors, for its own
 * connections only, what the broker told it (CONN_READY groups,
 * INVOKE_REP joins and leaves) so that an EVENT naming groups reaches the
 * right local connections without asking anyone. Join and leave are O(1)
 * in the group (a doubly linked member list) and O(groups of that
 * connection) to find the membership, which is a handful. A group exists
 * while it has members. Each connection embeds a gi_conn_t listing its
 * memberships, which is what a replay to a restarted broker sends.
 *
 * Not thread-safe; the gateway loop owns it. Members must not be removed
 * while a group's member list is being walked, except the member just
 * visited (take gi_member_next first).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef GROUPIDX_H
#define GROUPIDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct groupidx groupidx_t;
typedef struct gi_group gi_group_t;
typedef struct gi_member gi_member_t;

/* Embedded in each connection: its memberships (a singly linked list). */
typedef struct gi_conn {
    gi_member_t *first;
    uint32_t n; /* groups joined */
} gi_conn_t;

#define GI_CONN_INIT \
    {                \
        NULL, 0      \
    }

groupidx_t *groupidx_new(void);

/* Frees every group and membership (connections must not use their
 * gi_conn_t afterwards). */
void groupidx_destroy(groupidx_t **self_p);

/* Adds the connection (owner is what member iteration returns) to the
 * hub's group name[0..len). Returns true if it was added, false if it was
 * already a member. */
bool groupidx_join(groupidx_t *self, gi_conn_t *conn, void *owner, uint32_t hub,
                   const char *name, size_t len);

/* Removes the membership; returns false if there was none. */
bool groupidx_leave(groupidx_t *self, gi_conn_t *conn, uint32_t hub,
                    const char *name, size_t len);

/* Removes every membership of the connection. */
void groupidx_leave_all(groupidx_t *self, gi_conn_t *conn);

/* The group, or NULL if no local connection is in it. */
gi_group_t *groupidx_find(const groupidx_t *self, uint32_t hub,
                          const char *name, size_t len);

/* Groups and memberships currently held (for metrics). */
size_t groupidx_n_groups(const groupidx_t *self);
size_t groupidx_n_members(const groupidx_t *self);

/* Members of a group, in join order. */
gi_member_t *gi_group_first(const gi_group_t *group);
size_t gi_group_size(const gi_group_t *group);
gi_member_t *gi_member_next(const gi_member_t *member);
void *gi_member_owner(const gi_member_t *member);

/* Memberships of a connection (most recent first). */
gi_member_t *gi_conn_first(const gi_conn_t *conn);
gi_member_t *gi_conn_next(const gi_member_t *member);
/* The group name of a membership: NUL-terminated, valid while it lasts. */
const char *gi_member_group(const gi_member_t *member);

#endif
