/*
 * invoke - evaluates a client's hub invocation against the catalog.
 *
 * SPDX-License-Identifier: MIT
 */
#include "broker/invoke.h"

#include "common/cdt_mem.h"
#include "common/cdt_msgpack.h"

#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_fail(invoke_result_t *r, char *error)
{
    for (size_t i = 0; i < r->n_joins; i++)
        free(r->joins[i]);
    for (size_t i = 0; i < r->n_leaves; i++)
        free(r->leaves[i]);
    free(r->joins);
    free(r->leaves);
    free(r->emit_group);
    free(r->task_id);
    free(r->error);
    memset(r, 0, sizeof *r);
    r->ok = false;
    r->error = error;
}

static void
s_push(char ***list, size_t *n, char *s)
{
    *list = cdt_xrealloc(*list, (*n + 1) * sizeof(char *));
    (*list)[(*n)++] = s;
}

static bool
s_arg_ok(enum cdt_arg_type type, const msgpack_object *o)
{
    switch (type) {
    case CDT_ARG_STRING:
        return o->type == MSGPACK_OBJECT_STR;
    case CDT_ARG_INT:
        return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
               o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
    case CDT_ARG_STRING_ARRAY:
        if (o->type != MSGPACK_OBJECT_ARRAY)
            return false;
        for (uint32_t i = 0; i < o->via.array.size; i++)
            if (o->via.array.ptr[i].type != MSGPACK_OBJECT_STR)
                return false;
        return true;
    case CDT_ARG_ANY:
        return true;
    }
    return false;
}

/* The text that {0} stands for: a string as is, an int in decimal. */
static void
s_arg_text(const msgpack_object *o, char *buf, size_t buflen, const char **ptr,
           size_t *len)
{
    if (o->type == MSGPACK_OBJECT_STR) {
        *ptr = o->via.str.ptr;
        *len = o->via.str.size;
    } else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        int n = snprintf(buf, buflen, "%" PRIu64, o->via.u64);
        *ptr = buf;
        *len = n > 0 ? (size_t)n : 0;
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        int n = snprintf(buf, buflen, "%" PRId64, o->via.i64);
        *ptr = buf;
        *len = n > 0 ? (size_t)n : 0;
    } else {
        *ptr = NULL;
        *len = 0;
    }
}

static bool
s_task_id_usable(const char *p, size_t len)
{
    if (!p || len == 0 || len > CDT_GROUP_ARG_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
            return false;
    return true;
}

void
invoke_eval(const cdt_hub_t *hub, int64_t key_id, bool admin,
            const char *method, size_t method_len, const void *args,
            size_t args_len, invoke_owner_fn *owner, void *owner_arg,
            invoke_result_t *out)
{
    memset(out, 0, sizeof *out);
    int mlen = method_len > INT32_MAX ? INT32_MAX : (int)method_len;
    const cdt_method_t *m = cdt_hub_method(hub, method, method_len);
    if (!m) {
        s_fail(out, cdt_xasprintf("Failed to invoke '%.*s' due to an error "
                                  "on the server. HubException: Method does "
                                  "not exist.",
                                  mlen, method));
        return;
    }

    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0, used = 0;
    /* args come from the link: checked before msgpack-c allocates from
     * their declared counts (common/cdt_msgpack.h) */
    bool ok = args && args_len > 0 &&
              cdt_msgpack_check(args, args_len, &used) == 0 &&
              used == args_len &&
              msgpack_unpack_next(&up, args, args_len, &off) ==
                  MSGPACK_UNPACK_SUCCESS &&
              off == args_len && up.data.type == MSGPACK_OBJECT_ARRAY &&
              up.data.via.array.size == m->n_args;
    for (size_t i = 0; ok && i < m->n_args; i++)
        ok = s_arg_ok(m->args[i], &up.data.via.array.ptr[i]);
    if (!ok) {
        msgpack_unpacked_destroy(&up);
        s_fail(out, cdt_xasprintf("Failed to invoke '%.*s' due to an error "
                                  "on the server.",
                                  mlen, method));
        return;
    }
    const msgpack_object *argv = up.data.via.array.ptr;

    char num[32];
    const char *a0 = NULL;
    size_t a0_len = 0;
    if (m->n_args > 0)
        s_arg_text(&argv[0], num, sizeof num, &a0, &a0_len);

    if (m->check == CDT_CHECK_TASK_OWNER) {
        int64_t who = 0;
        const char *why = NULL;
        if (!s_task_id_usable(a0, a0_len) || !owner ||
            !owner(owner_arg, a0, a0_len, &who))
            why = m->not_found ? m->not_found : "Task not found";
        else if (who != key_id && !admin)
            why = m->denied ? m->denied : "Unauthorized access to task";
        if (why) {
            msgpack_unpacked_destroy(&up);
            s_fail(out, cdt_xasprintf("An unexpected error occurred invoking "
                                      "'%.*s' on the server. HubException: "
                                      "%s",
                                      mlen, method, why));
            return;
        }
    }

    out->ok = true;
    bool bad = false;
    switch (m->action) {
    case CDT_ACTION_NONE:
        break;
    case CDT_ACTION_JOIN:
    case CDT_ACTION_LEAVE:
    case CDT_ACTION_SEND_SELF: {
        char *g = cdt_group_expand(m->group, key_id, a0, a0_len);
        if (!g) {
            bad = true;
            break;
        }
        if (m->action == CDT_ACTION_JOIN)
            s_push(&out->joins, &out->n_joins, g);
        else if (m->action == CDT_ACTION_LEAVE)
            s_push(&out->leaves, &out->n_leaves, g);
        else {
            out->emit_group = g;
            out->emit_event = m->event;
        }
        break;
    }
    case CDT_ACTION_JOIN_EACH:
    case CDT_ACTION_LEAVE_EACH: {
        const msgpack_object_array *list = &argv[0].via.array;
        for (uint32_t i = 0; i < list->size && !bad; i++) {
            const msgpack_object_str *s = &list->ptr[i].via.str;
            char *g = cdt_group_expand(m->group, key_id, s->ptr, s->size);
            if (!g)
                bad = true;
            else if (m->action == CDT_ACTION_JOIN_EACH)
                s_push(&out->joins, &out->n_joins, g);
            else
                s_push(&out->leaves, &out->n_leaves, g);
        }
        break;
    }
    }
    if (!bad && m->check == CDT_CHECK_TASK_OWNER &&
        m->action == CDT_ACTION_JOIN)
        out->task_id = cdt_xstrndup(a0, a0_len);
    msgpack_unpacked_destroy(&up);
    if (bad)
        s_fail(out, cdt_xasprintf("An unexpected error occurred invoking "
                                  "'%.*s' on the server. HubException: "
                                  "Invalid argument.",
                                  mlen, method));
}

void
invoke_result_release(invoke_result_t *r)
{
    if (!r)
        return;
    s_fail(r, NULL);
    r->ok = false;
}
