/*
 * limits - connect and invocation windows, refusal kinds.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/limits.h"

#include "common/cdt_json.h"
#include "common/cdt_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ipent {
    hnode_t node; /* first: released through the hnode_t pointer */
    int64_t second;
    uint32_t count;
    char ip[64];
} ipent_t;

static const char *const s_pe_names[LIMITS_PE_COUNT] = {
    [LIMITS_PE_HTTP] = "http",     [LIMITS_PE_WEBSOCKET] = "websocket",
    [LIMITS_PE_BINARY] = "binary", [LIMITS_PE_UTF8] = "utf8",
    [LIMITS_PE_JSON] = "json",     [LIMITS_PE_MESSAGE] = "message",
    [LIMITS_PE_TLS] = "tls",
};

static const char *const s_ref_names[LIMITS_REF_COUNT] = {
    [LIMITS_REF_MESSAGE_SIZE] = "message_size",
    [LIMITS_REF_MAX_CONNECTIONS] = "max_connections",
    [LIMITS_REF_CONNECT_RATE] = "connect_rate",
    [LIMITS_REF_INVOKE_RATE] = "invoke_rate",
    [LIMITS_REF_HANDSHAKE_TIMEOUT] = "handshake_timeout",
};

const char *
limits_proto_error_name(enum limits_proto_error kind)
{
    return (unsigned)kind < LIMITS_PE_COUNT ? s_pe_names[kind] : "unknown";
}

const char *
limits_refusal_name(enum limits_refusal kind)
{
    return (unsigned)kind < LIMITS_REF_COUNT ? s_ref_names[kind] : "unknown";
}

enum limits_proto_error
limits_classify(const char *text, size_t len, const char *err)
{
    /* only on the error path: valid records never pay for this pass */
    if (!cdt_utf8_valid(text, len))
        return LIMITS_PE_UTF8;
    /* hubproto_json prefixes what cdt_json refused with this */
    if (err && strncmp(err, "invalid JSON", 12) == 0)
        return LIMITS_PE_JSON;
    return LIMITS_PE_MESSAGE;
}

bool
limits_rate_allow(limits_rate_t *self, int64_t limit, int64_t now_ms)
{
    if (limit <= 0)
        return true;
    uint32_t second = (uint32_t)(now_ms / 1000);
    if (second != self->second) {
        self->second = second;
        self->count = 0;
    }
    if (self->count >= limit)
        return false;
    if (self->count < UINT16_MAX)
        self->count++;
    return true;
}

void
limits_ipmap_init(limits_ipmap_t *self)
{
    memset(self, 0, sizeof *self);
}

static void
s_clear(limits_ipmap_t *self)
{
    size_t pos = 0;
    hnode_t *cursor = NULL, *node;
    while ((node = hmap_iter(&self->map, &pos, &cursor))) {
        hmap_remove(&self->map, node);
        free(hmap_entry(node, ipent_t, node));
    }
}

void
limits_ipmap_release(limits_ipmap_t *self)
{
    s_clear(self);
    hmap_release(&self->map);
}

bool
limits_ipmap_allow(limits_ipmap_t *self, const char *ip, int64_t limit,
                   int64_t now_ms)
{
    if (limit <= 0)
        return true;
    int64_t second = now_ms / 1000;
    uint64_t h = hmap_hash_bytes(ip, strlen(ip), 7);
    ipent_t *e = NULL;
    for (hnode_t *n = hmap_first(&self->map, h); n; n = hmap_next_same(n)) {
        ipent_t *x = hmap_entry(n, ipent_t, node);
        if (strcmp(x->ip, ip) == 0) {
            e = x;
            break;
        }
    }
    if (!e) {
        e = cdt_xcalloc(1, sizeof *e);
        snprintf(e->ip, sizeof e->ip, "%s", ip);
        e->second = second;
        hmap_insert(&self->map, &e->node, h);
    }
    if (e->second != second) {
        e->second = second;
        e->count = 0;
    }
    if (e->count >= limit)
        return false;
    e->count++;
    return true;
}

void
limits_ipmap_expire(limits_ipmap_t *self, int64_t now_ms)
{
    int64_t second = now_ms / 1000;
    if (second != self->second && self->map.count)
        s_clear(self);
    self->second = second;
}

size_t
limits_ipmap_count(const limits_ipmap_t *self)
{
    return self->map.count;
}
