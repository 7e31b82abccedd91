/*
 * router - one event in, one EVENT per interested gateway out.
 *
 * The encodings (arguments, link message) reuse buffers owned by the
 * router, so a steady stream of events allocates nothing once the buffers
 * have grown to the largest event seen. The checks come first and the
 * encoding only once some gateway has a member: an event nobody listens
 * to is not encoded at all. The arguments' bytes go into the EVENT as
 * they came; each gateway writes the JSON frame (cdt_link.h, EVENT).
 *
 * SPDX-License-Identifier: MIT
 */
#define CDT_LOG_MODULE "router"
#include "broker/router.h"

#include "common/cdt_buf.h"
#include "common/cdt_log.h"
#include "common/cdt_mem.h"
#include "common/cdt_msgpack.h"
#include "proto/cdt_link.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Names longer than this are looked up every time. */
#define ROUTER_CACHE_KEY 64

struct router {
    const cdt_catalog_t *catalog;
    groups_t *groups;
    router_send_fn *send;
    void *send_arg;
    uint64_t seq;
    cdt_buf_t args;        /* the event's arguments, when packed here */
    cdt_buf_t frame;       /* the EVENT message */
    uint64_t *hub_events;  /* per catalog hub */
    size_t *hub_name_lens; /* per catalog hub: strlen of its name */
    router_counters_t counters;
    /* The last hub name and (hub, target) pair that passed the checks:
     * streams of one kind of event skip the catalog's scans. */
    char hub_key[ROUTER_CACHE_KEY];
    size_t hub_key_len;
    const cdt_hub_t *hub_hit; /* NULL = nothing cached */
    char target_key[ROUTER_CACHE_KEY];
    size_t target_key_len;
    const cdt_hub_t *target_hub; /* the hub target_key is allowed on */
};

router_t *
router_new(const cdt_catalog_t *catalog, groups_t *groups, router_send_fn *send,
           void *send_arg)
{
    assert(catalog && groups && send);
    router_t *self = cdt_xcalloc(1, sizeof *self);
    self->catalog = catalog;
    self->groups = groups;
    self->send = send;
    self->send_arg = send_arg;
    cdt_buf_init(&self->args);
    cdt_buf_init(&self->frame);
    self->hub_events =
        cdt_xcalloc(catalog->n_hubs ? catalog->n_hubs : 1, sizeof(uint64_t));
    self->hub_name_lens =
        cdt_xcalloc(catalog->n_hubs ? catalog->n_hubs : 1, sizeof(size_t));
    for (size_t i = 0; i < catalog->n_hubs; i++)
        self->hub_name_lens[i] = strlen(catalog->hubs[i].name);
    return self;
}

void
router_destroy(router_t **self_p)
{
    assert(self_p);
    router_t *self = *self_p;
    if (!self)
        return;
    cdt_buf_release(&self->args);
    cdt_buf_release(&self->frame);
    free(self->hub_events);
    free(self->hub_name_lens);
    free(self);
    *self_p = NULL;
}

/* A MessagePack array starts with fixarray, array 16 or array 32. */
static bool
s_is_array(const void *args, size_t len)
{
    if (!args || len == 0)
        return false;
    uint8_t b = *(const uint8_t *)args;
    return (b & 0xf0) == 0x90 || b == 0xdc || b == 0xdd;
}

/* One complete MessagePack array, nothing after it, no deeper than a
 * gateway writes as JSON: bytes from a caller the ingress decoder has
 * not checked. */
static bool
s_is_array_value(const void *args, size_t len)
{
    const uint8_t *p = args;
    return s_is_array(args, len) && cdt_msgpack_skip(&p, p + len, 0) &&
           p == (const uint8_t *)args + len;
}

static int s_refuse(router_t *self, char *err, size_t errlen, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

static int
s_refuse(router_t *self, char *err, size_t errlen, const char *fmt, ...)
{
    self->counters.refused++;
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* cdt_catalog_hub, remembering the last name that named a hub. */
static const cdt_hub_t *
s_hub(router_t *self, const char *name, size_t len)
{
    if (self->hub_hit && len == self->hub_key_len &&
        memcmp(name, self->hub_key, len) == 0)
        return self->hub_hit;
    const cdt_hub_t *hub = cdt_catalog_hub(self->catalog, name, len);
    if (hub && len <= sizeof self->hub_key) {
        memcpy(self->hub_key, name, len);
        self->hub_key_len = len;
        self->hub_hit = hub;
    }
    return hub;
}

/* cdt_hub_allows_event, remembering the last pair it allowed. */
static bool
s_allows(router_t *self, const cdt_hub_t *hub, const char *target, size_t len)
{
    if (self->target_hub == hub && len == self->target_key_len &&
        memcmp(target, self->target_key, len) == 0)
        return true;
    if (!cdt_hub_allows_event(hub, target, len))
        return false;
    if (len <= sizeof self->target_key) {
        memcpy(self->target_key, target, len);
        self->target_key_len = len;
        self->target_hub = hub;
    }
    return true;
}

/* The checks both entry points share; the hub in *hub_p, or -1 after
 * s_refuse. */
static int
s_check(router_t *self, const router_event_t *ev, const cdt_hub_t **hub_p,
        char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    int hl = ev->hub_len > 256 ? 256 : (int)ev->hub_len;
    int tl = ev->target_len > 256 ? 256 : (int)ev->target_len;
    const cdt_hub_t *hub = s_hub(self, ev->hub, ev->hub_len);
    if (!hub)
        return s_refuse(self, err, errlen, "unknown hub '%.*s'", hl, ev->hub);
    if (!s_allows(self, hub, ev->target, ev->target_len))
        return s_refuse(self, err, errlen,
                        "event '%.*s' is not allowed on hub '%.*s'", tl,
                        ev->target, hl, ev->hub);
    if (ev->n_groups == 0)
        return s_refuse(self, err, errlen, "no target group");
    for (size_t i = 0; i < ev->n_groups; i++) {
        size_t len = ev->groups[i] ? ev->group_lens[i] : 0;
        if (len == 0 || len > GROUPS_NAME_MAX)
            return s_refuse(self, err, errlen, "invalid group name");
    }
    *hub_p = hub;
    return 0;
}

/* Counts the event; true if some gateway holds a member (*gws_p, *n_p). */
static bool
s_find_gateways(router_t *self, const cdt_hub_t *hub, const router_event_t *ev,
                const uint32_t **gws_p, size_t *n_p)
{
    *n_p = groups_route_n(self->groups, hub->index, ev->groups, ev->group_lens,
                          ev->n_groups, gws_p);
    if (*n_p > 0)
        return true;
    self->counters.routed++;
    self->counters.unheard++;
    self->hub_events[hub->index]++;
    cdt_log_debug("event '%.*s' on '%s': no member", (int)ev->target_len,
                  ev->target, hub->name);
    return false;
}

/* Encodes the EVENT once, the arguments' bytes copied as they are, and
 * queues it for every gateway in gws. */
static void
s_send(router_t *self, const cdt_hub_t *hub, const router_event_t *ev,
       const cdt_link_args_t *a, const uint32_t *gws, size_t n_gws)
{
    uint64_t seq = ++self->seq;
    cdt_buf_reset(&self->frame);
    cdt_link_encode_event_n(
        &self->frame, hub->name, self->hub_name_lens[hub->index], ev->groups,
        ev->group_lens, ev->n_groups, seq, ev->target, ev->target_len, a);
    self->counters.routed++;
    self->hub_events[hub->index]++;
    for (size_t i = 0; i < n_gws; i++) {
        self->counters.sends++;
        if (self->send(self->send_arg, gws[i], self->frame.data,
                       self->frame.len) != 0)
            self->counters.send_errors++;
    }
    cdt_log_debug("event '%.*s' on '%s' seq %llu to %zu gateway(s)",
                  (int)ev->target_len, ev->target, hub->name,
                  (unsigned long long)seq, n_gws);
}

/* The shared tail of both entry points: the EVENT with the arguments a
 * stands for goes to the gateways that hold a member; nothing is encoded
 * when none does. */
static void
s_route(router_t *self, const cdt_hub_t *hub, const router_event_t *ev,
        const cdt_link_args_t *a)
{
    const uint32_t *gws;
    size_t n_gws;
    if (s_find_gateways(self, hub, ev, &gws, &n_gws))
        s_send(self, hub, ev, a, gws, n_gws);
}

void
router_prefetch(router_t *self, const char *hub_name, size_t hub_len,
                const char *group, size_t group_len, int stage)
{
    const cdt_hub_t *hub = s_hub(self, hub_name, hub_len);
    if (hub && group_len > 0)
        groups_prefetch(self->groups, hub->index, group, group_len, stage);
}

int
router_route_event(router_t *self, const router_event_t *ev, char *err,
                   size_t errlen)
{
    assert(self && ev && ev->hub && ev->target);
    const cdt_hub_t *hub;
    if (s_check(self, ev, &hub, err, errlen) != 0)
        return -1;
    /* the arguments' bytes as given, else packed in the router's buffer */
    cdt_link_args_t a = ev->mp;
    if (!a.args.ptr && !a.data.ptr) {
        cdt_buf_reset(&self->args);
        if (!ev->args || ev->args->type != MSGPACK_OBJECT_ARRAY ||
            cdt_link_pack_args(&self->args, ev->args) != 0)
            return s_refuse(self, err, errlen, "arguments must be an array");
        a.args.ptr = (const char *)self->args.data;
        a.args.len = self->args.len;
    }
    if (a.args.ptr && !s_is_array(a.args.ptr, a.args.len))
        return s_refuse(self, err, errlen, "arguments must be an array");
    if (!a.args.ptr && (a.data.len == 0 || a.n_add > CDT_LINK_MAX_ADD))
        return s_refuse(self, err, errlen,
                        "data must be one value, with at most %d pairs to add",
                        CDT_LINK_MAX_ADD);
    s_route(self, hub, ev, &a);
    return 0;
}

int
router_route(router_t *self, const char *hub_name, const char *const *groups,
             size_t n_groups, const char *target, const void *args,
             size_t args_len, char *err, size_t errlen)
{
    assert(self && hub_name && target);
    size_t small[8] = {0};
    size_t *lens = n_groups <= 8 ? small : cdt_xcalloc(n_groups, sizeof *lens);
    for (size_t i = 0; i < n_groups; i++)
        lens[i] = groups[i] ? strlen(groups[i]) : 0;
    router_event_t ev = {
        .hub = hub_name,
        .hub_len = strlen(hub_name),
        .groups = groups,
        .group_lens = lens,
        .n_groups = n_groups,
        .target = target,
        .target_len = strlen(target),
    };
    const cdt_hub_t *hub;
    int rc = -1;
    if (s_check(self, &ev, &hub, err, errlen) != 0)
        goto done;
    if (!s_is_array_value(args, args_len)) {
        s_refuse(self, err, errlen, "arguments must be an array");
        goto done;
    }
    cdt_link_args_t a = {.args = {args, args_len}};
    s_route(self, hub, &ev, &a);
    rc = 0;
done:
    if (lens != small)
        free(lens);
    return rc;
}

int
router_emit(void *arg, const char *hub, const char *const *groups,
            size_t n_groups, const char *target, const void *args,
            size_t args_len)
{
    router_t *self = arg;
    char err[256];
    if (router_route(self, hub, groups, n_groups, target, args, args_len, err,
                     sizeof err) == 0)
        return 0;
    cdt_log_warn("dropping event '%s' for '%s': %s", target, hub, err);
    return -1;
}

uint64_t
router_seq(const router_t *self)
{
    return self->seq;
}

const router_counters_t *
router_counters(const router_t *self)
{
    return &self->counters;
}

uint64_t
router_hub_events(const router_t *self, size_t hub)
{
    return hub < self->catalog->n_hubs ? self->hub_events[hub] : 0;
}
