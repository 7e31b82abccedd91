/*
 * cdt_catalog - the hub catalog, loaded from YAML and validated whole.
 *
 * Everything the broker later trusts without checking is checked here:
 * enum values, the placeholders of group templates against the method's
 * arguments, send_self events against the hub's list, uniqueness of
 * names and paths. A catalog that loads is one the broker can act on.
 *
 * SPDX-License-Identifier: MIT
 */
#include "common/cdt_catalog.h"

#include "common/cdt_buf.h"
#include "common/cdt_mem.h"
#include "common/cdt_yaml.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *name;
    char *err;
    size_t errlen;
} s_where_t;

static int s_fail(const s_where_t *w, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
s_fail(const s_where_t *w, int line, const char *fmt, ...)
{
    if (!w->err || w->errlen == 0)
        return -1;
    int n = snprintf(w->err, w->errlen, "%s:%d: ", w->name, line);
    if (n < 0 || (size_t)n >= w->errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err + n, w->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- small parsers ------------------------------------------------- */

static bool
s_has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* A non-empty string without control characters. */
static int
s_text(const cdt_yaml_node_t *v, const char *what, char **out,
       const s_where_t *w)
{
    if (v->type != CDT_YAML_SCALAR)
        return s_fail(w, v->line, "'%s' must be a string", what);
    if (v->value[0] == '\0')
        return s_fail(w, v->line, "'%s' must not be empty", what);
    if (s_has_control(v->value))
        return s_fail(w, v->line, "'%s' must not contain control characters",
                      what);
    free(*out);
    *out = cdt_xstrdup(v->value);
    return 0;
}

static int
s_text_list(const cdt_yaml_node_t *v, const char *what, char ***out,
            size_t *n_out, const s_where_t *w)
{
    if (v->type != CDT_YAML_SEQ)
        return s_fail(w, v->line, "'%s' must be a list of strings", what);
    for (size_t i = 0; i < *n_out; i++)
        free((*out)[i]);
    free(*out);
    *out = cdt_xcalloc(v->n ? v->n : 1, sizeof **out);
    *n_out = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (s_text(v->items[i], what, &(*out)[i], w) < 0)
            return -1;
        *n_out = i + 1;
    }
    return 0;
}

/* Index of name in names[0..n), or -1. */
static int
s_enum(const cdt_yaml_node_t *v, const char *const *names, size_t n)
{
    if (v->type != CDT_YAML_SCALAR)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v->value, names[i]))
            return (int)i;
    return -1;
}

static const char *const s_arg_names[] = {"string", "int", "string_array",
                                          "any"};
static const char *const s_action_names[] = {
    "none", "join", "leave", "join_each", "leave_each", "send_self"};
static const char *const s_check_names[] = {"none", "task_owner"};
static const char *const s_auth_names[] = {"virtual_key", "master_key"};

#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Checks the placeholders of a template; sets *uses_arg when it names
 * {0}. Only {id} and {0} exist: any other brace is a typo to report. */
static int
s_template(const char *tmpl, int line, bool *uses_arg, const s_where_t *w)
{
    *uses_arg = false;
    for (const char *p = tmpl; *p; p++) {
        if (*p == '{') {
            if (!strncmp(p, "{id}", 4)) {
                p += 3;
            } else if (!strncmp(p, "{0}", 3)) {
                *uses_arg = true;
                p += 2;
            } else {
                return s_fail(w, line,
                              "group template '%s' has an unknown "
                              "placeholder (only {id} and {0})",
                              tmpl);
            }
        } else if (*p == '}') {
            return s_fail(w, line, "group template '%s' has a stray '}'", tmpl);
        }
    }
    return 0;
}

/* ---- methods ------------------------------------------------------- */

static void
s_method_release(cdt_method_t *m)
{
    free(m->name);
    free(m->group);
    free(m->not_found);
    free(m->denied);
    free(m->event);
}

/* Parses one method map; event_line receives the line of `event` for the
 * check against the hub's events, done once the hub is complete. */
static int
s_method(cdt_method_t *m, const cdt_yaml_node_t *map, int *event_line,
         const s_where_t *w)
{
    int group_line = map->line;
    int check_line = group_line;
    int not_found_line = 0, denied_line = 0;
    m->action = CDT_ACTION_NONE;
    m->check = CDT_CHECK_NONE;
    for (size_t i = 0; i < map->n; i++) {
        const char *k = map->keys[i];
        const cdt_yaml_node_t *v = map->items[i];
        if (!strcmp(k, "name")) {
            if (s_text(v, "name", &m->name, w) < 0)
                return -1;
        } else if (!strcmp(k, "args")) {
            if (v->type != CDT_YAML_SEQ)
                return s_fail(w, v->line, "'args' must be a list");
            if (v->n > CDT_CATALOG_MAX_ARGS)
                return s_fail(w, v->line, "'args' has more than %d items",
                              CDT_CATALOG_MAX_ARGS);
            for (size_t j = 0; j < v->n; j++) {
                int e = s_enum(v->items[j], s_arg_names, S_COUNT(s_arg_names));
                if (e < 0)
                    return s_fail(w, v->items[j]->line,
                                  "argument type must be string, int, "
                                  "string_array or any");
                m->args[j] = (enum cdt_arg_type)(CDT_ARG_STRING + e);
            }
            m->n_args = v->n;
        } else if (!strcmp(k, "action")) {
            int e = s_enum(v, s_action_names, S_COUNT(s_action_names));
            if (e < 0)
                return s_fail(w, v->line,
                              "'action' must be none, join, leave, "
                              "join_each, leave_each or send_self");
            m->action = (enum cdt_method_action)(CDT_ACTION_NONE + e);
        } else if (!strcmp(k, "group")) {
            if (s_text(v, "group", &m->group, w) < 0)
                return -1;
            group_line = v->line;
        } else if (!strcmp(k, "check")) {
            int e = s_enum(v, s_check_names, S_COUNT(s_check_names));
            if (e < 0)
                return s_fail(w, v->line, "'check' must be none or task_owner");
            m->check = (enum cdt_method_check)(CDT_CHECK_NONE + e);
            check_line = v->line;
        } else if (!strcmp(k, "not_found")) {
            if (s_text(v, "not_found", &m->not_found, w) < 0)
                return -1;
            not_found_line = v->line;
        } else if (!strcmp(k, "denied")) {
            if (s_text(v, "denied", &m->denied, w) < 0)
                return -1;
            denied_line = v->line;
        } else if (!strcmp(k, "event")) {
            if (s_text(v, "event", &m->event, w) < 0)
                return -1;
            *event_line = v->line;
        } else {
            return s_fail(w, map->key_lines[i], "unknown key '%s' in a method",
                          k);
        }
    }
    if (!m->name)
        return s_fail(w, map->line, "method lacks 'name'");

    enum cdt_arg_type first = m->n_args ? m->args[0] : 0;
    bool each =
        m->action == CDT_ACTION_JOIN_EACH || m->action == CDT_ACTION_LEAVE_EACH;
    if (m->action == CDT_ACTION_NONE && m->group)
        return s_fail(w, group_line, "method '%s' has a group but no action",
                      m->name);
    if (m->action != CDT_ACTION_NONE && !m->group)
        return s_fail(w, map->line, "method '%s' lacks 'group'", m->name);
    if (each && first != CDT_ARG_STRING_ARRAY)
        return s_fail(w, map->line,
                      "method '%s': join_each and leave_each need a "
                      "string_array first argument",
                      m->name);
    if (m->group) {
        bool uses_arg;
        if (s_template(m->group, group_line, &uses_arg, w) < 0)
            return -1;
        if (uses_arg && m->n_args == 0)
            return s_fail(w, group_line,
                          "group '%s' uses {0} but method '%s' takes no "
                          "arguments",
                          m->group, m->name);
        if (uses_arg && first == CDT_ARG_ANY)
            return s_fail(w, group_line,
                          "group '%s' uses {0} but the argument of '%s' "
                          "may be anything",
                          m->group, m->name);
        if (uses_arg && first == CDT_ARG_STRING_ARRAY && !each)
            return s_fail(w, group_line,
                          "method '%s': group '%s' uses a string_array as "
                          "{0}: use join_each or leave_each",
                          m->name, m->group);
    }
    if (m->check == CDT_CHECK_TASK_OWNER) {
        if (first != CDT_ARG_STRING && first != CDT_ARG_INT)
            return s_fail(w, check_line,
                          "method '%s': task_owner needs a string or int "
                          "first argument (the task id)",
                          m->name);
        if (!m->not_found)
            m->not_found = cdt_xstrdup("Task not found");
        if (!m->denied)
            m->denied = cdt_xstrdup("Unauthorized access to task");
    } else if (not_found_line || denied_line) {
        return s_fail(w, not_found_line ? not_found_line : denied_line,
                      "method '%s': 'not_found' and 'denied' need check "
                      "task_owner",
                      m->name);
    }
    if (m->action == CDT_ACTION_SEND_SELF && !m->event)
        return s_fail(w, map->line, "method '%s': send_self needs an 'event'",
                      m->name);
    if (m->action != CDT_ACTION_SEND_SELF && m->event)
        return s_fail(w, *event_line,
                      "method '%s': 'event' needs action send_self", m->name);
    return 0;
}

/* ---- hubs ---------------------------------------------------------- */

static void
s_hub_release(cdt_hub_t *hub)
{
    free(hub->name);
    free(hub->path);
    for (size_t i = 0; i < hub->n_join; i++)
        free(hub->join_on_connect[i]);
    free(hub->join_on_connect);
    for (size_t i = 0; i < hub->n_methods; i++)
        s_method_release(&hub->methods[i]);
    free(hub->methods);
    for (size_t i = 0; i < hub->n_events; i++)
        free(hub->events[i]);
    free(hub->events);
}

static int
s_hub_methods(cdt_hub_t *hub, const cdt_yaml_node_t *v, int **event_lines,
              const s_where_t *w)
{
    if (v->type != CDT_YAML_SEQ)
        return s_fail(w, v->line, "'methods' must be a list");
    for (size_t i = 0; i < hub->n_methods; i++)
        s_method_release(&hub->methods[i]);
    free(hub->methods);
    free(*event_lines);
    hub->methods = cdt_xcalloc(v->n ? v->n : 1, sizeof *hub->methods);
    *event_lines = cdt_xcalloc(v->n ? v->n : 1, sizeof **event_lines);
    hub->n_methods = 0;
    for (size_t i = 0; i < v->n; i++) {
        const cdt_yaml_node_t *item = v->items[i];
        if (item->type != CDT_YAML_MAP)
            return s_fail(w, item->line, "methods must be mappings");
        /* Counted before parsing so that a half-built method is freed. */
        hub->n_methods = i + 1;
        cdt_method_t *m = &hub->methods[i];
        if (s_method(m, item, &(*event_lines)[i], w) < 0)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (!strcasecmp(hub->methods[j].name, m->name))
                return s_fail(w, item->line, "duplicate method '%s'", m->name);
    }
    return 0;
}

static int
s_hub(cdt_hub_t *hub, const cdt_yaml_node_t *map, const s_where_t *w)
{
    int *event_lines = NULL;
    int path_line = map->line;
    hub->auth = CDT_AUTH_VIRTUAL_KEY;
    for (size_t i = 0; i < map->n; i++) {
        const char *k = map->keys[i];
        const cdt_yaml_node_t *v = map->items[i];
        if (!strcmp(k, "name")) {
            if (s_text(v, "name", &hub->name, w) < 0)
                goto fail;
            if (strpbrk(hub->name, "/ ")) {
                s_fail(w, v->line,
                       "hub name '%s' must not contain '/' or spaces",
                       hub->name);
                goto fail;
            }
        } else if (!strcmp(k, "path")) {
            if (s_text(v, "path", &hub->path, w) < 0)
                goto fail;
            path_line = v->line;
            if (hub->path[0] != '/' || strpbrk(hub->path, " ?#")) {
                s_fail(w, v->line,
                       "hub path '%s' must start with '/' and contain no "
                       "spaces, '?' or '#'",
                       hub->path);
                goto fail;
            }
        } else if (!strcmp(k, "auth")) {
            int e = s_enum(v, s_auth_names, S_COUNT(s_auth_names));
            if (e < 0) {
                s_fail(w, v->line, "'auth' must be virtual_key or master_key");
                goto fail;
            }
            hub->auth = (enum cdt_hub_auth)(CDT_AUTH_VIRTUAL_KEY + e);
        } else if (!strcmp(k, "join_on_connect")) {
            if (s_text_list(v, "join_on_connect", &hub->join_on_connect,
                            &hub->n_join, w) < 0)
                goto fail;
            for (size_t j = 0; j < hub->n_join; j++) {
                bool uses_arg;
                if (s_template(hub->join_on_connect[j], v->items[j]->line,
                               &uses_arg, w) < 0)
                    goto fail;
                if (uses_arg) {
                    s_fail(w, v->items[j]->line,
                           "join_on_connect group '%s' cannot use {0}",
                           hub->join_on_connect[j]);
                    goto fail;
                }
            }
        } else if (!strcmp(k, "events")) {
            if (s_text_list(v, "events", &hub->events, &hub->n_events, w) < 0)
                goto fail;
            for (size_t j = 0; j < hub->n_events; j++)
                for (size_t l = 0; l < j; l++)
                    if (!strcmp(hub->events[l], hub->events[j])) {
                        s_fail(w, v->items[j]->line, "duplicate event '%s'",
                               hub->events[j]);
                        goto fail;
                    }
        } else if (!strcmp(k, "methods")) {
            if (s_hub_methods(hub, v, &event_lines, w) < 0)
                goto fail;
        } else {
            s_fail(w, map->key_lines[i], "unknown key '%s' in a hub", k);
            goto fail;
        }
    }
    if (!hub->name) {
        s_fail(w, map->line, "hub lacks 'name'");
        goto fail;
    }
    if (!hub->path) {
        s_fail(w, path_line, "hub '%s' lacks 'path'", hub->name);
        goto fail;
    }
    for (size_t i = 0; i < hub->n_methods; i++) {
        const cdt_method_t *m = &hub->methods[i];
        if (m->event &&
            !cdt_hub_allows_event(hub, m->event, strlen(m->event))) {
            s_fail(w, event_lines[i],
                   "event '%s' is not in the events of hub '%s'", m->event,
                   hub->name);
            goto fail;
        }
    }
    free(event_lines);
    return 0;
fail:
    free(event_lines);
    return -1;
}

/* ---- the catalog --------------------------------------------------- */

cdt_catalog_t *
cdt_catalog_from_tree(const cdt_yaml_node_t *root, const char *name, char *err,
                      size_t errlen)
{
    s_where_t w = {name ? name : "<catalog>", err, errlen};
    if (root->type != CDT_YAML_MAP) {
        s_fail(&w, root->line, "the catalog must be a mapping");
        return NULL;
    }
    for (size_t i = 0; i < root->n; i++)
        if (strcmp(root->keys[i], "hubs") != 0) {
            s_fail(&w, root->key_lines[i], "unknown key '%s'", root->keys[i]);
            return NULL;
        }
    const cdt_yaml_node_t *hubs = cdt_yaml_get(root, "hubs");
    if (!hubs) {
        s_fail(&w, root->line, "the catalog lacks 'hubs'");
        return NULL;
    }
    if (hubs->type != CDT_YAML_SEQ) {
        s_fail(&w, hubs->line, "'hubs' must be a list");
        return NULL;
    }
    if (hubs->n == 0) {
        s_fail(&w, hubs->line, "'hubs' is empty");
        return NULL;
    }
    cdt_catalog_t *self = cdt_xcalloc(1, sizeof *self);
    self->hubs = cdt_xcalloc(hubs->n, sizeof *self->hubs);
    for (size_t i = 0; i < hubs->n; i++) {
        const cdt_yaml_node_t *item = hubs->items[i];
        if (item->type != CDT_YAML_MAP) {
            s_fail(&w, item->line, "hubs must be mappings");
            goto fail;
        }
        cdt_hub_t *hub = &self->hubs[i];
        self->n_hubs = i + 1;
        hub->index = i;
        if (s_hub(hub, item, &w) < 0)
            goto fail;
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(self->hubs[j].name, hub->name)) {
                s_fail(&w, item->line, "duplicate hub name '%s'", hub->name);
                goto fail;
            }
            if (!strcmp(self->hubs[j].path, hub->path)) {
                s_fail(&w, item->line, "duplicate hub path '%s'", hub->path);
                goto fail;
            }
        }
    }
    return self;
fail:
    cdt_catalog_destroy(&self);
    return NULL;
}

cdt_catalog_t *
cdt_catalog_load(const char *path, char *err, size_t errlen)
{
    cdt_yaml_node_t *root = cdt_yaml_load(path, err, errlen);
    if (!root)
        return NULL;
    cdt_catalog_t *self = cdt_catalog_from_tree(root, path, err, errlen);
    cdt_yaml_destroy(&root);
    return self;
}

void
cdt_catalog_destroy(cdt_catalog_t **self_p)
{
    assert(self_p);
    cdt_catalog_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->n_hubs; i++)
        s_hub_release(&self->hubs[i]);
    free(self->hubs);
    free(self);
    *self_p = NULL;
}

static bool
s_equal(const char *s, const char *p, size_t len)
{
    return strlen(s) == len && memcmp(s, p, len) == 0;
}

const cdt_hub_t *
cdt_catalog_hub_by_path(const cdt_catalog_t *self, const char *path, size_t len)
{
    for (size_t i = 0; i < self->n_hubs; i++)
        if (s_equal(self->hubs[i].path, path, len))
            return &self->hubs[i];
    return NULL;
}

const cdt_hub_t *
cdt_catalog_hub(const cdt_catalog_t *self, const char *name, size_t len)
{
    for (size_t i = 0; i < self->n_hubs; i++)
        if (s_equal(self->hubs[i].name, name, len))
            return &self->hubs[i];
    return cdt_catalog_hub_by_path(self, name, len);
}

const cdt_method_t *
cdt_hub_method(const cdt_hub_t *hub, const char *name, size_t len)
{
    for (size_t i = 0; i < hub->n_methods; i++) {
        const char *m = hub->methods[i].name;
        if (strlen(m) == len && strncasecmp(m, name, len) == 0)
            return &hub->methods[i];
    }
    return NULL;
}

bool
cdt_hub_allows_event(const cdt_hub_t *hub, const char *event, size_t len)
{
    for (size_t i = 0; i < hub->n_events; i++)
        if (s_equal(hub->events[i], event, len))
            return true;
    return false;
}

char *
cdt_group_expand(const char *tmpl, int64_t key_id, const char *arg,
                 size_t arg_len)
{
    bool uses_arg = strstr(tmpl, "{0}") != NULL;
    if (uses_arg) {
        if (!arg || arg_len == 0 || arg_len > CDT_GROUP_ARG_MAX)
            return NULL;
        for (size_t i = 0; i < arg_len; i++) {
            unsigned char c = (unsigned char)arg[i];
            if (c < 0x20 || c == 0x7f)
                return NULL;
        }
    }
    cdt_buf_t out = CDT_BUF_INIT;
    cdt_buf_append(&out, "", 0); /* an empty template gives "" */
    for (const char *p = tmpl; *p;) {
        if (!strncmp(p, "{id}", 4)) {
            cdt_buf_printf(&out, "%" PRId64, key_id);
            p += 4;
        } else if (!strncmp(p, "{0}", 3)) {
            cdt_buf_append(&out, arg, arg_len);
            p += 3;
        } else {
            cdt_buf_append_byte(&out, (uint8_t)*p++);
        }
    }
    return (char *)cdt_buf_detach(&out, NULL);
}
