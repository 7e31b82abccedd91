/*
 * recorder - a fake emit_fn for the broker's unit tests: records every
 * event (hub, groups, target, decoded arguments) so that a test can
 * assert the exact sequence a module produced.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef RECORDER_H
#define RECORDER_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct recorder_event {
    char *hub;
    char **groups;
    size_t n_groups;
    char *target;
    char *bytes;               /* a copy of the arguments as emitted */
    msgpack_unpacked args;     /* bytes decoded: the arguments array */
    const msgpack_object *obj; /* args[0] (NULL if args is empty) */
} recorder_event_t;

typedef struct recorder {
    recorder_event_t **ev;
    size_t n, cap;
    int refuse; /* when non-zero, emit records nothing and returns -1 */
} recorder_t;

void recorder_init(recorder_t *self);
void recorder_release(recorder_t *self);

/* Forgets the recorded events. */
void recorder_clear(recorder_t *self);

/* An emit_fn; arg is a recorder_t *. Fails the test if args is not one
 * complete MessagePack array. */
int recorder_emit(void *arg, const char *hub, const char *const *groups,
                  size_t n_groups, const char *target, const void *args,
                  size_t args_len);

/* Event i (asserted to exist). */
const recorder_event_t *recorder_at(const recorder_t *self, size_t i);

/* Field key of the event's object argument, or NULL when absent. */
const msgpack_object *recorder_field(const recorder_event_t *ev,
                                     const char *key);

/* True if the event's field key is the string s. */
bool recorder_str_is(const recorder_event_t *ev, const char *key,
                     const char *s);

/* The event's field key as a double (int or float; asserted present). */
double recorder_num(const recorder_event_t *ev, const char *key);

/* True if the field key is present and nil. */
bool recorder_is_nil(const recorder_event_t *ev, const char *key);

/* The groups joined by ",", e.g. "admin,admin-vkey-1". Borrowed: valid
 * until the next call. */
const char *recorder_groups(const recorder_event_t *ev);

#endif
