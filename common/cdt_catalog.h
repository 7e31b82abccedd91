/*
 * cdt_catalog - the hub catalog: which hubs exist, how clients reach and
 * authenticate to them, which groups they join, what they may invoke and
 * which events each hub may carry.
 *
 * Data, not code: loaded from a YAML file (etc/hubs.yaml) by both the
 * broker (decisions) and the gateway (paths, auth scheme). Format:
 *
 *   hubs:
 *     - name: TaskHub
 *       path: /hubs/tasks
 *       auth: virtual_key            # or master_key
 *       join_on_connect: ["vkey-{id}"]
 *       events: [TaskStarted, TaskProgress, ...]
 *       methods:
 *         - name: SubscribeToTask
 *           args: [string]           # string | int | string_array | any
 *           action: join             # join | leave | join_each |
 *                                    # leave_each | send_self | none
 *           group: "task-{0}"
 *           check: task_owner        # none | task_owner
 *           not_found: "Task not found"
 *           denied: "Unauthorized access to task"
 *         - name: UpdateNavigation
 *           args: [any]
 *           action: send_self        # sends `event` with the arguments
 *           group: "vkey-{id}"       #   to this group of the same hub
 *           event: NavigationUpdated
 *
 * Group templates: {id} is the caller's virtual key id, {0} the first
 * argument (a string, or an int written in decimal; for join_each and
 * leave_each, each element of the string array in turn). Expansion fails
 * for an empty argument, one longer than CDT_GROUP_ARG_MAX bytes or one
 * containing control characters. Method names match case-insensitively, as
 * in ASP.NET Core.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef CDT_CATALOG_H
#define CDT_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CDT_CATALOG_MAX_ARGS 4
#define CDT_GROUP_ARG_MAX    512

enum cdt_hub_auth {
    CDT_AUTH_VIRTUAL_KEY = 1,
    CDT_AUTH_MASTER_KEY
};

enum cdt_arg_type {
    CDT_ARG_STRING = 1,
    CDT_ARG_INT,
    CDT_ARG_STRING_ARRAY,
    CDT_ARG_ANY,
};

enum cdt_method_action {
    CDT_ACTION_NONE = 1,
    CDT_ACTION_JOIN,
    CDT_ACTION_LEAVE,
    CDT_ACTION_JOIN_EACH,
    CDT_ACTION_LEAVE_EACH,
    CDT_ACTION_SEND_SELF,
};

enum cdt_method_check {
    CDT_CHECK_NONE = 1,
    CDT_CHECK_TASK_OWNER
};

typedef struct cdt_method {
    char *name;
    size_t n_args;
    enum cdt_arg_type args[CDT_CATALOG_MAX_ARGS];
    enum cdt_method_action action;
    char *group; /* template; NULL for action none */
    enum cdt_method_check check;
    char *not_found; /* task_owner: task unknown */
    char *denied;    /* task_owner: task of another key */
    char *event;     /* send_self: the event name */
} cdt_method_t;

typedef struct cdt_hub {
    size_t index; /* position in the catalog */
    char *name;
    char *path;
    enum cdt_hub_auth auth;
    char **join_on_connect; /* templates */
    size_t n_join;
    cdt_method_t *methods;
    size_t n_methods;
    char **events;
    size_t n_events;
} cdt_hub_t;

typedef struct cdt_catalog {
    cdt_hub_t *hubs;
    size_t n_hubs;
} cdt_catalog_t;

/* Loads and validates a catalog. Returns it (caller owns) or NULL with
 * "file:line: reason" in err: unknown keys, missing name/path, duplicate
 * hub names, paths or methods, bad enum values, a template naming {0} for
 * a method without arguments, send_self without event, an event not in
 * the hub's list. */
cdt_catalog_t *cdt_catalog_load(const char *path, char *err, size_t errlen);

void cdt_catalog_destroy(cdt_catalog_t **self_p);

/* The hub whose path equals path[0..len) exactly, or NULL. */
const cdt_hub_t *cdt_catalog_hub_by_path(const cdt_catalog_t *self,
                                         const char *path, size_t len);

/* The hub named name, or whose path is name, or NULL. */
const cdt_hub_t *cdt_catalog_hub(const cdt_catalog_t *self, const char *name,
                                 size_t len);

/* The method (case-insensitive), or NULL. */
const cdt_method_t *cdt_hub_method(const cdt_hub_t *hub, const char *name,
                                   size_t len);

/* True if the hub lists the event (exact match). */
bool cdt_hub_allows_event(const cdt_hub_t *hub, const char *event, size_t len);

/* Expands a group template. arg may be NULL when the template has no {0}.
 * Returns a new string (caller owns) or NULL if the template needs an
 * argument that is missing or invalid (see above). */
char *cdt_group_expand(const char *tmpl, int64_t key_id, const char *arg,
                       size_t arg_len);

/* ---- appended: internal entry point (tests, fuzzing) ---- */

struct cdt_yaml_node;

/* Validates an already parsed tree exactly as cdt_catalog_load validates
 * a file; name is the file named in messages. Returns the catalog (caller
 * owns) or NULL with "name:line: reason" in err. */
cdt_catalog_t *cdt_catalog_from_tree(const struct cdt_yaml_node *root,
                                     const char *name, char *err,
                                     size_t errlen);

#endif
