/*
 * recorder - a fake emit_fn that records events for the unit tests.
 *
 * SPDX-License-Identifier: MIT
 */
#include "tests/unit/broker/recorder.h"

#include "common/cdt_mem.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

void
recorder_init(recorder_t *self)
{
    memset(self, 0, sizeof *self);
}

void
recorder_clear(recorder_t *self)
{
    for (size_t i = 0; i < self->n; i++) {
        recorder_event_t *ev = self->ev[i];
        free(ev->hub);
        for (size_t g = 0; g < ev->n_groups; g++)
            free(ev->groups[g]);
        free(ev->groups);
        free(ev->target);
        msgpack_unpacked_destroy(&ev->args);
        free(ev->bytes);
        free(ev);
    }
    self->n = 0;
}

void
recorder_release(recorder_t *self)
{
    recorder_clear(self);
    free(self->ev);
    memset(self, 0, sizeof *self);
}

int
recorder_emit(void *arg, const char *hub, const char *const *groups,
              size_t n_groups, const char *target, const void *args,
              size_t args_len)
{
    recorder_t *self = arg;
    if (self->refuse)
        return -1;
    recorder_event_t *ev = cdt_xcalloc(1, sizeof *ev);
    ev->hub = cdt_xstrdup(hub);
    ev->target = cdt_xstrdup(target);
    ev->n_groups = n_groups;
    ev->groups = cdt_xcalloc(n_groups ? n_groups : 1, sizeof *ev->groups);
    for (size_t g = 0; g < n_groups; g++)
        ev->groups[g] = cdt_xstrdup(groups[g]);
    /* the unpacked strings point into the bytes: keep a copy */
    ev->bytes = cdt_xmalloc(args_len ? args_len : 1);
    memcpy(ev->bytes, args, args_len);
    msgpack_unpacked_init(&ev->args);
    size_t off = 0;
    ck_assert_int_eq(msgpack_unpack_next(&ev->args, ev->bytes, args_len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    ck_assert_uint_eq(off, args_len);
    ck_assert_int_eq(ev->args.data.type, MSGPACK_OBJECT_ARRAY);
    if (ev->args.data.via.array.size > 0)
        ev->obj = &ev->args.data.via.array.ptr[0];
    if (self->n == self->cap) {
        self->cap = self->cap ? 2 * self->cap : 16;
        self->ev = cdt_xrealloc(self->ev, self->cap * sizeof *self->ev);
    }
    self->ev[self->n++] = ev;
    return 0;
}

const recorder_event_t *
recorder_at(const recorder_t *self, size_t i)
{
    ck_assert_msg(i < self->n, "event %zu of %zu", i, self->n);
    return self->ev[i];
}

const msgpack_object *
recorder_field(const recorder_event_t *ev, const char *key)
{
    ck_assert_ptr_nonnull(ev->obj);
    ck_assert_int_eq(ev->obj->type, MSGPACK_OBJECT_MAP);
    size_t len = strlen(key);
    const msgpack_object_map *m = &ev->obj->via.map;
    const msgpack_object *found = NULL;
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == len &&
            memcmp(k->via.str.ptr, key, len) == 0) {
            ck_assert_msg(!found, "field '%s' twice", key);
            found = &m->ptr[i].val;
        }
    }
    return found;
}

bool
recorder_str_is(const recorder_event_t *ev, const char *key, const char *s)
{
    const msgpack_object *v = recorder_field(ev, key);
    size_t len = strlen(s);
    return v && v->type == MSGPACK_OBJECT_STR && v->via.str.size == len &&
           memcmp(v->via.str.ptr, s, len) == 0;
}

double
recorder_num(const recorder_event_t *ev, const char *key)
{
    const msgpack_object *v = recorder_field(ev, key);
    ck_assert_msg(v != NULL, "field '%s' missing", key);
    switch (v->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return (double)v->via.u64;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return (double)v->via.i64;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return v->via.f64;
    default:
        ck_abort_msg("field '%s' is not a number", key);
    }
    return 0;
}

bool
recorder_is_nil(const recorder_event_t *ev, const char *key)
{
    const msgpack_object *v = recorder_field(ev, key);
    return v && v->type == MSGPACK_OBJECT_NIL;
}

const char *
recorder_groups(const recorder_event_t *ev)
{
    static char buf[2048];
    buf[0] = '\0';
    for (size_t g = 0; g < ev->n_groups; g++) {
        if (g)
            strncat(buf, ",", sizeof buf - strlen(buf) - 1);
        strncat(buf, ev->groups[g], sizeof buf - strlen(buf) - 1);
    }
    return buf;
}
