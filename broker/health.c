/*
 * health - provider health with hysteresis (the rules are in health.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "broker/health.h"

#include "broker/hashfn.h"
#include "broker/notify.h"

#define CDT_LOG_MODULE "health"
#include "common/cdt_log.h"
#include "common/cdt_mem.h"

#include <assert.h>
#include <czmq.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NS         "health"
#define S_DETAIL_LEN (HEALTH_PROVIDER_MAX + 96)

typedef struct {
    enum cdt_health_status status;    /* announced; 0 = none yet */
    enum cdt_health_status candidate; /* 0 = none */
    int64_t streak;                   /* reports of candidate in a row */
} s_state_t;

struct health {
    store_t *store; /* borrowed; may be NULL */
    emit_fn *emit;
    void *emit_arg;
    int64_t hysteresis;
    zhashx_t *providers; /* name -> s_state_t (owned) */
};

static void
s_state_free(void **item)
{
    free(*item);
    *item = NULL;
}

static bool
s_status_ok(int64_t s)
{
    return s >= CDT_HEALTH_HEALTHY && s <= CDT_HEALTH_UNHEALTHY;
}

static void
s_persist(health_t *self, const char *name, const s_state_t *st)
{
    if (!self->store)
        return;
    cdt_buf_t buf = CDT_BUF_INIT;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, cdt_buf_msgpack_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str(&pk, 6);
    msgpack_pack_str_body(&pk, "status", 6);
    msgpack_pack_int(&pk, (int)st->status);
    msgpack_pack_str(&pk, 9);
    msgpack_pack_str_body(&pk, "candidate", 9);
    msgpack_pack_int(&pk, (int)st->candidate);
    msgpack_pack_str(&pk, 6);
    msgpack_pack_str_body(&pk, "streak", 6);
    msgpack_pack_int64(&pk, st->streak);
    (void)store_put(self->store, S_NS, name, strlen(name), buf.data, buf.len);
    cdt_buf_release(&buf);
}

static int
s_decode(const void *val, size_t vlen, s_state_t *st)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = -1;
    memset(st, 0, sizeof *st);
    if (msgpack_unpack_next(&u, val, vlen, NULL) != MSGPACK_UNPACK_SUCCESS ||
        u.data.type != MSGPACK_OBJECT_MAP)
        goto done;
    const msgpack_object_map *m = &u.data.via.map;
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key, *v = &m->ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR ||
            v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            continue;
        int64_t n = v->via.u64 > INT64_MAX ? INT64_MAX : (int64_t)v->via.u64;
        if (k->via.str.size == 6 && !memcmp(k->via.str.ptr, "status", 6))
            st->status = s_status_ok(n) ? (enum cdt_health_status)n : 0;
        else if (k->via.str.size == 9 &&
                 !memcmp(k->via.str.ptr, "candidate", 9))
            st->candidate = s_status_ok(n) ? (enum cdt_health_status)n : 0;
        else if (k->via.str.size == 6 && !memcmp(k->via.str.ptr, "streak", 6))
            st->streak = n;
    }
    if (!st->candidate)
        st->streak = 0;
    rc = 0;
done:
    msgpack_unpacked_destroy(&u);
    return rc;
}

static int
s_load_one(void *arg, const void *key, size_t klen, const void *val,
           size_t vlen)
{
    health_t *self = arg;
    s_state_t st;
    if (klen == 0 || klen > HEALTH_PROVIDER_MAX || memchr(key, 0, klen) ||
        s_decode(val, vlen, &st) < 0) {
        cdt_log_warn("ignoring unreadable provider health state in the "
                     "store (%zu bytes)",
                     vlen);
        return 0;
    }
    char *name = cdt_xstrndup(key, klen);
    s_state_t *copy = cdt_xmalloc(sizeof *copy);
    *copy = st;
    zhashx_update(self->providers, name, copy);
    free(name);
    return 0;
}

health_t *
health_new(const cdt_config_t *cfg, store_t *store, emit_fn *emit,
           void *emit_arg)
{
    assert(cfg && emit);
    health_t *self = cdt_xcalloc(1, sizeof *self);
    self->store = store;
    self->emit = emit;
    self->emit_arg = emit_arg;
    self->hysteresis = cfg->health_hysteresis > 0 ? cfg->health_hysteresis : 1;
    self->providers = zhashx_new();
    zhashx_set_key_hasher(self->providers, hashfn_str);
    zhashx_set_destructor(self->providers, s_state_free);
    if (store && store_iterate(store, S_NS, s_load_one, self) < 0)
        goto fail;
    if (zhashx_size(self->providers))
        cdt_log_info("restored the health state of %zu providers",
                     zhashx_size(self->providers));
    return self;
fail:
    health_destroy(&self);
    return NULL;
}

void
health_destroy(health_t **self_p)
{
    assert(self_p);
    health_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy(&self->providers);
    free(self);
    *self_p = NULL;
}

enum cdt_health_status
health_status(health_t *self, const char *provider)
{
    const s_state_t *st = zhashx_lookup(self->providers, provider);
    return st ? st->status : 0;
}

static void
s_announce(health_t *self, const char *name, const cdt_ingress_t *msg,
           enum cdt_health_status previous, int64_t now_wall_ms)
{
    notify_obj_t o;
    notify_obj_init(&o);
    notify_obj_str(&o, "provider", name);
    notify_obj_str(&o, "status", cdt_health_status_name(msg->health));
    if (previous)
        notify_obj_str(&o, "previousStatus", cdt_health_status_name(previous));
    else
        notify_obj_nil(&o, "previousStatus");
    if (msg->has_response_ms)
        notify_obj_num(&o, "responseTimeMs", msg->response_ms);
    else
        notify_obj_nil(&o, "responseTimeMs");
    if (msg->details.len)
        notify_obj_strn(&o, "details", msg->details.ptr, msg->details.len);
    else
        notify_obj_nil(&o, "details");
    if (msg->id.len)
        notify_obj_strn(&o, "correlationId", msg->id.ptr, msg->id.len);
    notify_obj_time(&o, "timestamp", now_wall_ms);

    char detail[S_DETAIL_LEN];
    snprintf(detail, sizeof detail, "Provider: %s, Status: %s (was %s)", name,
             cdt_health_status_name(msg->health),
             previous ? cdt_health_status_name(previous) : "unknown");
    char *admin_group = cdt_xasprintf("admin-provider-%s", name);
    const char *sys[] = {"system-notifications"};
    const char *admin[] = {"admin", admin_group};
    (void)notify_send(self->emit, self->emit_arg, "SystemNotificationHub", sys,
                      1, "ProviderHealthChanged", &o, detail, NULL);
    (void)notify_send(self->emit, self->emit_arg, "AdminNotificationHub", admin,
                      2, "ProviderHealthChanged", &o, detail, NULL);
    free(admin_group);
    notify_obj_release(&o);
}

int
health_ingest(health_t *self, const cdt_ingress_t *msg, int64_t now_wall_ms,
              char *err, size_t errlen)
{
    if (msg->type != CDT_IN_PROVIDER_HEALTH) {
        snprintf(err, errlen, "not a provider_health message");
        return -1;
    }
    if (msg->provider.len == 0) {
        snprintf(err, errlen, "missing field 'provider'");
        return -1;
    }
    if (!notify_group_arg_ok(msg->provider.ptr, msg->provider.len,
                             HEALTH_PROVIDER_MAX)) {
        snprintf(err, errlen,
                 "field 'provider' must be at most %d bytes without control "
                 "characters",
                 HEALTH_PROVIDER_MAX);
        return -1;
    }
    if (!s_status_ok(msg->health)) {
        snprintf(err, errlen,
                 "field 'status' must be healthy, degraded or unhealthy");
        return -1;
    }
    char *name = cdt_xstrndup(msg->provider.ptr, msg->provider.len);
    s_state_t *st = zhashx_lookup(self->providers, name);
    if (!st) {
        if (zhashx_size(self->providers) >= HEALTH_MAX_PROVIDERS) {
            snprintf(err, errlen, "more than %d providers",
                     HEALTH_MAX_PROVIDERS);
            free(name);
            return -1;
        }
        st = cdt_xcalloc(1, sizeof *st);
        zhashx_insert(self->providers, name, st);
    }

    s_state_t before = *st;
    enum cdt_health_status previous = st->status;
    bool announce = false;
    if (msg->health == st->status) {
        st->candidate = 0; /* back to the announced status: a flap */
        st->streak = 0;
    } else {
        if (msg->health == st->candidate) {
            st->streak++;
        } else {
            st->candidate = msg->health;
            st->streak = 1;
        }
        if (st->streak >= self->hysteresis) {
            st->status = msg->health;
            st->candidate = 0;
            st->streak = 0;
            announce = true;
        }
    }
    if (before.status != st->status || before.candidate != st->candidate ||
        before.streak != st->streak)
        s_persist(self, name, st); /* durable before anything is sent */
    if (announce)
        s_announce(self, name, msg, previous, now_wall_ms);
    free(name);
    return 0;
}
