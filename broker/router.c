/*
 * router - one event in, one EVENT per interested gateway out.
 *
 * The two encodings (JSON frame, link message) reuse buffers owned by the
 * router, so a steady stream of events allocates nothing once the buffers
 * have grown to the largest event seen.
 *
 * SPDX-License-Identifier: MIT
 */
#define CDT_LOG_MODULE "router"
#include "broker/router.h"

#include "common/cdt_buf.h"
#include "common/cdt_log.h"
#include "common/cdt_mem.h"
#include "proto/cdt_link.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct router {
    const cdt_catalog_t *catalog;
    groups_t *groups;
    router_send_fn *send;
    void *send_arg;
    uint64_t seq;
    cdt_buf_t json;
    cdt_buf_t frame;
    msgpack_zone zone;    /* the arguments decoded for the JSON frame */
    uint64_t *hub_events; /* per catalog hub */
    router_counters_t counters;
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
    cdt_buf_init(&self->json);
    cdt_buf_init(&self->frame);
    msgpack_zone_init(&self->zone, 2048);
    self->hub_events =
        cdt_xcalloc(catalog->n_hubs ? catalog->n_hubs : 1, sizeof(uint64_t));
    return self;
}

void
router_destroy(router_t **self_p)
{
    assert(self_p);
    router_t *self = *self_p;
    if (!self)
        return;
    cdt_buf_release(&self->json);
    cdt_buf_release(&self->frame);
    msgpack_zone_destroy(&self->zone);
    free(self->hub_events);
    free(self);
    *self_p = NULL;
}

/* A MessagePack array starts with fixarray, array 16 or array 32. The
 * full structure is checked when the JSON frame is built. */
static bool
s_is_array(const void *args, size_t len)
{
    if (!args || len == 0)
        return false;
    uint8_t b = *(const uint8_t *)args;
    return (b & 0xf0) == 0x90 || b == 0xdc || b == 0xdd;
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

int
router_route(router_t *self, const char *hub_name, const char *const *groups,
             size_t n_groups, const char *target, const void *args,
             size_t args_len, char *err, size_t errlen)
{
    assert(self && hub_name && target);
    if (err && errlen)
        err[0] = '\0';
    const cdt_hub_t *hub =
        cdt_catalog_hub(self->catalog, hub_name, strlen(hub_name));
    if (!hub)
        return s_refuse(self, err, errlen, "unknown hub '%s'", hub_name);
    if (!cdt_hub_allows_event(hub, target, strlen(target)))
        return s_refuse(self, err, errlen,
                        "event '%s' is not allowed on hub '%s'", target,
                        hub_name);
    if (n_groups == 0)
        return s_refuse(self, err, errlen, "no target group");
    for (size_t i = 0; i < n_groups; i++) {
        size_t len = groups[i] ? strlen(groups[i]) : 0;
        if (len == 0 || len > GROUPS_NAME_MAX)
            return s_refuse(self, err, errlen, "invalid group name");
    }
    if (!s_is_array(args, args_len))
        return s_refuse(self, err, errlen, "arguments must be an array");

    const uint32_t *gws;
    size_t n_gws =
        groups_route(self->groups, hub->index, groups, n_groups, &gws);
    if (n_gws == 0) {
        self->counters.routed++;
        self->counters.unheard++;
        self->hub_events[hub->index]++;
        cdt_log_debug("event '%s' on '%s': no member", target, hub->name);
        return 0;
    }
    cdt_buf_reset(&self->json);
    if (cdt_link_build_json_frame_zone(&self->json, target, args, args_len,
                                       &self->zone) != 0)
        return s_refuse(self, err, errlen,
                        "arguments of '%s' cannot be written as JSON", target);
    self->counters.routed++;
    self->hub_events[hub->index]++;
    uint64_t seq = ++self->seq;
    cdt_buf_reset(&self->frame);
    cdt_link_encode_event(&self->frame, hub->name, groups, n_groups, seq,
                          target, args, args_len, self->json.data,
                          self->json.len);
    for (size_t i = 0; i < n_gws; i++) {
        self->counters.sends++;
        if (self->send(self->send_arg, gws[i], self->frame.data,
                       self->frame.len) != 0)
            self->counters.send_errors++;
    }
    cdt_log_debug("event '%s' on '%s' seq %llu to %zu gateway(s)", target,
                  hub->name, (unsigned long long)seq, n_gws);
    return 0;
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
