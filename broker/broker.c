/*
 * broker - conduit-broker: one zloop that owns everything.
 *
 * This file is the wiring: construction in dependency order (store,
 * catalog and keys with their run-time changes, groups, router, tasks,
 * spend, health, webhooks, gateway link, ingress), the loop's readers and
 * timers, the dispatch of ingress messages by type, and the stats answer.
 * The decisions live in the modules.
 *
 * Durability: spend, health and key changes write their store records
 * themselves, before they emit anything; the task registry is written
 * behind, in batches, by tasks_sync, which runs before every positive ack
 * on the acknowledged path (ingress_set_sync) and on the task timer for
 * the fire-and-forget path.
 *
 * Link batches: every loop handler that may produce link messages ends
 * with gwlink_flush, so what a callback queued for the gateways leaves as
 * one frame per gateway before the loop waits again (gwlink.h); on the
 * acknowledged path the flush also runs before the acks are sent, so an
 * acked event has been handed to ZeroMQ before its publisher hears back.
 *
 * CurveZMQ (broker.curve_secret_cert): the curve module is created
 * before the sockets and secures all three as they are bound; it is
 * destroyed after them.
 *
 * SPDX-License-Identifier: MIT
 */
#define CDT_LOG_MODULE "broker"
#include "broker/broker.h"

#include "broker/curve.h"
#include "broker/groups.h"
#include "broker/gwlink.h"
#include "broker/health.h"
#include "broker/ingress.h"
#include "broker/keyops.h"
#include "broker/keys.h"
#include "broker/router.h"
#include "broker/spend.h"
#include "broker/store.h"
#include "broker/tasks.h"
#include "broker/webhook.h"
#include "common/cdt_catalog.h"
#include "common/cdt_clock.h"
#include "common/cdt_log.h"
#include "common/cdt_mem.h"

#include <assert.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct broker {
    const cdt_config_t *cfg; /* borrowed */
    uint64_t incarnation;
    int64_t started_ms; /* monotonic */
    store_t *store;     /* NULL = nothing persists */
    cdt_catalog_t *catalog;
    keys_t *keys;
    keyops_t *keyops;
    groups_t *groups;
    router_t *router;
    tasks_t *tasks;
    spend_t *spend;
    health_t *health;
    webhook_t *webhook;
    curve_t *curve; /* NULL = plain ZeroMQ */
    gwlink_t *gwlink;
    ingress_t *ingress;
    zloop_t *loop;
    /* scratch for one event's router_event_t (s_on_event) */
    const char **name_ptrs; /* the group names, borrowed */
    size_t *name_lens;
    size_t name_cap;
    cdt_link_pair_t add[2];    /* the pairs data gains (router_event_t) */
    cdt_buf_t args_pack;       /* a value packed from its object */
    char iso[CDT_ISO8601_LEN]; /* the added timestamp */
    int64_t turn_wall_ms;      /* when this turn's ingress read began; 0 */
    int64_t iso_sec;           /* the second iso_prefix was made for */
    char iso_prefix[20];       /* "YYYY-MM-DDTHH:MM:SS" of iso_sec */
    int64_t sync_retry_ms;     /* monotonic: no task sync on ticks before */
};

/* ---- construction ------------------------------------------------------- */

static uint64_t
s_random_u64(void)
{
    uint64_t v = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        if (fread(&v, sizeof v, 1, f) != 1)
            v = 0;
        fclose(f);
    }
    if (v == 0) /* no urandom: time and pid still differ across restarts */
        v = ((uint64_t)cdt_clock_wall_ms() << 20) ^ (uint64_t)getpid();
    return v ? v : 1;
}

static cdt_catalog_t *
s_load_catalog(const cdt_config_t *cfg)
{
    char *path = cdt_config_path(cfg, cfg->broker_catalog);
    char err[512];
    cdt_catalog_t *cat = cdt_catalog_load(path, err, sizeof err);
    if (!cat)
        cdt_log_error("cannot load the hub catalog: %s", err);
    free(path);
    return cat;
}

static bool
s_curve_on(const cdt_config_t *cfg)
{
    return cfg->broker_curve_secret_cert && cfg->broker_curve_secret_cert[0];
}

/* Loads the CurveZMQ settings (check: validates only). Returns 0 with
 * *curve_p NULL when CurveZMQ is off, or -1 after logging why. */
static int
s_curve_setup(const cdt_config_t *cfg, bool check, curve_t **curve_p)
{
    *curve_p = NULL;
    if (!s_curve_on(cfg)) {
        if (cfg->broker_curve_clients_dir && cfg->broker_curve_clients_dir[0])
            cdt_log_warn("broker.curve_clients_dir is set but "
                         "broker.curve_secret_cert is not: CurveZMQ is off");
        return 0;
    }
    char *cert = cdt_config_path(cfg, cfg->broker_curve_secret_cert);
    char *dir = cfg->broker_curve_clients_dir
                    ? cdt_config_path(cfg, cfg->broker_curve_clients_dir)
                    : cdt_xstrdup("");
    int rc = 0;
    if (check)
        rc = curve_check(cert, dir);
    else if (!(*curve_p = curve_new(cert, dir)))
        rc = -1;
    free(cert);
    free(dir);
    return rc;
}

int
broker_check_config(const cdt_config_t *cfg)
{
    curve_t *none;
    if (s_curve_setup(cfg, true, &none) != 0)
        return -1;
    cdt_catalog_t *cat = s_load_catalog(cfg);
    if (!cat)
        return -1;
    keys_t *keys = keys_new();
    int rc = keys_load_config(keys, cfg);
    keys_destroy(&keys);
    cdt_catalog_destroy(&cat);
    if (rc == 0) {
        /* the spend rules validate their own settings */
        spend_t *spend = spend_new(cfg, NULL, router_emit, NULL);
        rc = spend ? 0 : -1;
        spend_destroy(&spend);
    }
    return rc;
}

static int
s_router_send(void *arg, uint32_t gw, const void *frame, size_t len)
{
    broker_t *self = arg;
    return self->gwlink ? gwlink_send(self->gwlink, gw, frame, len) : -1;
}

static size_t
s_kick(void *arg, int64_t key_id, const char *reason)
{
    broker_t *self = arg;
    return self->gwlink ? gwlink_kick(self->gwlink, key_id, reason) : 0;
}

static int
s_sync(void *arg, char *err, size_t errlen)
{
    broker_t *self = arg;
    /* runs before the batch's positive acks: send what they caused first */
    if (self->gwlink)
        gwlink_flush(self->gwlink);
    if (tasks_unsynced(self->tasks) == 0 || tasks_sync(self->tasks) == 0)
        return 0;
    snprintf(err, errlen,
             "cannot store the task registry (see the broker's "
             "log)");
    return -1;
}

static int s_on_ingress(void *arg, const cdt_ingress_t *msg, char *err,
                        size_t errlen);
static void s_on_prefetch(void *arg, const cdt_ingress_t *msg, int stage);
static void s_on_stats(void *arg, cdt_buf_t *out);
static int s_on_gwlink(zloop_t *loop, zsock_t *sock, void *arg);
static int s_on_sub(zloop_t *loop, zsock_t *sock, void *arg);
static int s_on_ack(zloop_t *loop, zsock_t *sock, void *arg);
static int s_on_heartbeat(zloop_t *loop, int timer_id, void *arg);
static int s_on_task_tick(zloop_t *loop, int timer_id, void *arg);
static int s_on_spend_tick(zloop_t *loop, int timer_id, void *arg);

/* How often tasks_tick runs: a fraction of the progress window, so a
 * coalesced progress goes out at most a quarter window late. */
static size_t
s_task_tick_ms(const cdt_config_t *cfg)
{
    int64_t w = cfg->tasks_progress_window_ms;
    if (w <= 0)
        return 1000;
    w /= 4;
    return (size_t)(w < 5 ? 5 : w > 250 ? 250 : w);
}

/* How often spend_tick may run: a twentieth of the batching window, so a
 * SpendUpdate goes out at most 5 % of a window late (the tick itself is
 * O(1) when nothing is due). */
static size_t
s_spend_tick_ms(const cdt_config_t *cfg)
{
    int64_t w = cfg->spend_window_ms / 20;
    return (size_t)(w < 5 ? 5 : w > 50 ? 50 : w);
}

broker_t *
broker_new(const cdt_config_t *cfg)
{
    assert(cfg);
    broker_t *self = cdt_xcalloc(1, sizeof *self);
    self->cfg = cfg;
    self->incarnation = s_random_u64();
    self->started_ms = cdt_clock_mono_ms();
    self->iso_sec = INT64_MIN;
    cdt_buf_init(&self->args_pack);

    if (cfg->broker_store && cfg->broker_store[0]) {
        char *dir = cdt_config_path(cfg, cfg->broker_store);
        self->store = store_open(dir);
        free(dir);
        if (!self->store)
            goto fail;
    }
    if (!(self->catalog = s_load_catalog(cfg)))
        goto fail;
    self->keys = keys_new();
    if (keys_load_config(self->keys, cfg) != 0)
        goto fail;
    self->groups = groups_new(self->catalog->n_hubs);
    self->router = router_new(self->catalog, self->groups, s_router_send, self);
    self->keyops = keyops_new(self->keys, self->store, router_emit,
                              self->router, s_kick, self);
    if (!self->keyops)
        goto fail;
    self->tasks = tasks_new(cfg->tasks_progress_window_ms,
                            cfg->tasks_retention_ms, router_emit, self->router);
    if (tasks_attach_store(self->tasks, self->store, cdt_clock_mono_ms(),
                           cdt_clock_wall_ms()) != 0 ||
        tasks_sync(self->tasks) != 0)
        goto fail;
    self->spend = spend_new(cfg, self->store, router_emit, self->router);
    self->health = health_new(cfg, self->store, router_emit, self->router);
    self->webhook = webhook_new(router_emit, self->router);
    if (!self->spend || !self->health || !self->webhook)
        goto fail;

    if (s_curve_setup(cfg, false, &self->curve) != 0)
        goto fail;
    gwlink_ctx_t ctx = {
        .catalog = self->catalog,
        .keys = self->keys,
        .groups = self->groups,
        .tasks = self->tasks,
        .router = self->router,
        .incarnation = self->incarnation,
        .heartbeat_ms = cfg->broker_heartbeat_ms,
        .timeout_ms = cfg->broker_gateway_timeout_ms,
        .max_conns_per_key = cfg->broker_max_conns_per_key,
        .max_conns_total = cfg->broker_max_conns_total,
        /* a link frame wraps at most one client message, whose limit
         * matches the ingress one, plus the envelope */
        .max_frame_bytes = (size_t)cfg->broker_max_ingress_bytes + 65536,
        .curve = self->curve,
    };
    if (!(self->gwlink = gwlink_new(cfg->broker_gateway_link, &ctx)))
        goto fail;
    self->ingress = ingress_new(cfg->broker_ingress, cfg->broker_ingress_ack,
                                (size_t)cfg->broker_max_ingress_bytes,
                                self->curve, s_on_ingress, s_on_stats, self);
    if (!self->ingress)
        goto fail;
    ingress_set_sync(self->ingress, s_sync);
    ingress_set_prefetch(self->ingress, s_on_prefetch);

    self->loop = zloop_new();
    if (!self->loop)
        goto fail;
    if (zloop_reader(self->loop, gwlink_sock(self->gwlink), s_on_gwlink,
                     self) != 0)
        goto fail;
    zsock_t *sub = ingress_sub_sock(self->ingress);
    zsock_t *ack = ingress_ack_sock(self->ingress);
    if (sub && zloop_reader(self->loop, sub, s_on_sub, self) != 0)
        goto fail;
    if (ack && zloop_reader(self->loop, ack, s_on_ack, self) != 0)
        goto fail;
    if (self->curve && curve_attach(self->curve, self->loop) != 0)
        goto fail;
    int64_t hb = cfg->broker_heartbeat_ms;
    if (hb <= 0 || hb > cfg->broker_gateway_timeout_ms / 2)
        hb = cfg->broker_gateway_timeout_ms / 2;
    if (zloop_timer(self->loop, (size_t)(hb > 0 ? hb : 1), 0, s_on_heartbeat,
                    self) == -1 ||
        zloop_timer(self->loop, s_task_tick_ms(cfg), 0, s_on_task_tick, self) ==
            -1 ||
        zloop_timer(self->loop, s_spend_tick_ms(cfg), 0, s_on_spend_tick,
                    self) == -1)
        goto fail;

    cdt_log_notice(
        "broker started: gateway link '%s', ingress '%s', "
        "ingress_ack '%s', %zu hub(s), %zu key(s), store '%s', "
        "CurveZMQ %s",
        cfg->broker_gateway_link, cfg->broker_ingress, cfg->broker_ingress_ack,
        self->catalog->n_hubs, keys_count(self->keys),
        self->store ? store_dir(self->store) : "", self->curve ? "on" : "off");
    return self;
fail:
    broker_destroy(&self);
    return NULL;
}

void
broker_destroy(broker_t **self_p)
{
    assert(self_p);
    broker_t *self = *self_p;
    if (!self)
        return;
    zloop_destroy(&self->loop);
    ingress_destroy(&self->ingress);
    /* a clean stop sends the batches it holds and writes what it owes */
    if (self->spend && self->gwlink) {
        spend_flush(self->spend, cdt_clock_wall_ms());
        gwlink_flush(self->gwlink);
    }
    if (self->tasks)
        (void)tasks_sync(self->tasks);
    gwlink_destroy(&self->gwlink);
    curve_destroy(&self->curve);
    webhook_destroy(&self->webhook);
    health_destroy(&self->health);
    spend_destroy(&self->spend);
    tasks_destroy(&self->tasks);
    keyops_destroy(&self->keyops);
    router_destroy(&self->router);
    groups_destroy(&self->groups);
    keys_destroy(&self->keys);
    cdt_catalog_destroy(&self->catalog);
    store_destroy(&self->store);
    free(self->name_ptrs);
    free(self->name_lens);
    cdt_buf_release(&self->args_pack);
    free(self);
    *self_p = NULL;
}

int
broker_run(broker_t *self)
{
    assert(self);
    int rc = zloop_start(self->loop);
    cdt_log_notice("broker stopping");
    /* 0: interrupted by a signal; -1: a handler ended the loop ($TERM). */
    return rc == 0 || rc == -1 ? 0 : -1;
}

uint64_t
broker_incarnation(const broker_t *self)
{
    return self->incarnation;
}

/* ---- loop handlers ------------------------------------------------------ */

static int
s_on_gwlink(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    (void)sock;
    broker_t *self = arg;
    gwlink_on_readable(self->gwlink, cdt_clock_mono_ms());
    return 0;
}

/* One read turn of an ingress endpoint: its events without `ts` are
 * stamped with the wall time the turn began (s_event_mp), and what they
 * queued for the gateways leaves when it ends. */
static void
s_ingress_turn(broker_t *self, void (*read)(ingress_t *, int64_t))
{
    self->turn_wall_ms = cdt_clock_wall_ms();
    read(self->ingress, cdt_clock_mono_ms());
    self->turn_wall_ms = 0;
    gwlink_flush(self->gwlink);
}

static int
s_on_sub(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    (void)sock;
    s_ingress_turn(arg, ingress_on_sub);
    return 0;
}

static int
s_on_ack(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    (void)sock;
    s_ingress_turn(arg, ingress_on_ack);
    return 0;
}

static int
s_on_heartbeat(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    broker_t *self = arg;
    gwlink_check_timeouts(self->gwlink, cdt_clock_mono_ms());
    gwlink_flush(self->gwlink);
    return 0;
}

static int
s_on_task_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    broker_t *self = arg;
    int64_t now = cdt_clock_mono_ms();
    tasks_tick(self->tasks, now);
    /* the fire-and-forget path's writes; after a failure (logged by the
     * store) the next try waits a second, so a full disk is not reported
     * forty times a second */
    if (tasks_unsynced(self->tasks) > 0 && now >= self->sync_retry_ms &&
        tasks_sync(self->tasks) != 0)
        self->sync_retry_ms = now + 1000;
    gwlink_flush(self->gwlink);
    return 0;
}

static int
s_on_spend_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    broker_t *self = arg;
    int64_t now = cdt_clock_mono_ms();
    int64_t due = spend_next_deadline(self->spend);
    if (due >= 0 && due <= now)
        spend_tick(self->spend, now, cdt_clock_wall_ms());
    gwlink_flush(self->gwlink);
    return 0;
}

/* ---- ingress dispatch --------------------------------------------------- */

static void
s_pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t len = strlen(s);
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

/* An event's default timestamp. strftime costs as much as routing the
 * event: the date and time are formatted once per second. */
static void
s_event_iso8601(broker_t *self, int64_t wall_ms, char iso[CDT_ISO8601_LEN])
{
    int64_t sec = wall_ms >= 0 ? wall_ms / 1000 : (wall_ms - 999) / 1000;
    if (sec != self->iso_sec) {
        char full[CDT_ISO8601_LEN];
        cdt_clock_iso8601(sec * 1000, full);
        if (memcmp(full + 19, ".000Z", 5) != 0) {
            /* out of range: whatever cdt_clock writes then */
            cdt_clock_iso8601(wall_ms, iso);
            return;
        }
        memcpy(self->iso_prefix, full, 19);
        self->iso_prefix[19] = '\0';
        self->iso_sec = sec;
    }
    int ms = (int)(wall_ms - sec * 1000);
    memcpy(iso, self->iso_prefix, 19);
    iso[19] = '.';
    iso[20] = (char)('0' + ms / 100);
    iso[21] = (char)('0' + ms / 10 % 10);
    iso[22] = (char)('0' + ms % 10);
    iso[23] = 'Z';
    iso[24] = '\0';
}

/* The bytes of an event's `arguments` or `data` value: as they came
 * (mp), or packed from the object into self->args_pack. */
static cdt_str_t
s_value_mp(broker_t *self, cdt_str_t mp, const msgpack_object *obj)
{
    if (mp.ptr)
        return mp;
    cdt_buf_reset(&self->args_pack);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &self->args_pack, cdt_buf_msgpack_write);
    msgpack_pack_object(&pk, *obj);
    cdt_str_t out = {(const char *)self->args_pack.data, self->args_pack.len};
    return out;
}

/* The arguments of an `event` as MessagePack bytes (router_event_t's
 * mp), borrowed from m and the broker's scratch until the next event:
 * `arguments` as they came, or `data` as the single argument, a map
 * gaining `timestamp` and `correlationId` unless it has them (DESIGN.md
 * §3: payloads carry both). The pairs travel beside data in the EVENT
 * and are added as a gateway writes the JSON frame: nothing is packed
 * again. The
 * timestamp, when the event has no `ts`, is when the broker began
 * reading the batch the event came in (one clock read per batch). */
static cdt_link_args_t
s_event_mp(broker_t *self, const cdt_ingress_t *m)
{
    cdt_link_args_t a = {.add = self->add};
    if (m->arguments || m->arguments_mp.ptr) {
        a.args = s_value_mp(self, m->arguments_mp, m->arguments);
        return a;
    }
    if (!m->data && !m->data_mp.ptr) {
        a.args.ptr = "\x90"; /* no arguments */
        a.args.len = 1;
        return a;
    }
    a.data = s_value_mp(self, m->data_mp, m->data);
    int64_t wall = m->ts > 0            ? m->ts
                   : self->turn_wall_ms ? self->turn_wall_ms
                                        : cdt_clock_wall_ms();
    s_event_iso8601(self, wall, self->iso);
    self->add[0].key = (cdt_str_t){"timestamp", 9};
    self->add[0].str = (cdt_str_t){self->iso, strlen(self->iso)};
    a.n_add = 1;
    if (m->id.len > 0) {
        self->add[1].key = (cdt_str_t){"correlationId", 13};
        self->add[1].str = m->id;
        a.n_add = 2;
    }
    return a;
}

/* The router gets the decoded strings as they are and the arguments'
 * bytes as they came: no copy, no packing and unpacking in between
 * (router_route_event). */
static int
s_on_event(broker_t *self, const cdt_ingress_t *m, char *err, size_t errlen)
{
    size_t n = m->groups.n;
    if (n > self->name_cap) {
        self->name_cap = n * 2;
        self->name_ptrs =
            cdt_xrealloc(self->name_ptrs, self->name_cap * sizeof(char *));
        self->name_lens =
            cdt_xrealloc(self->name_lens, self->name_cap * sizeof(size_t));
    }
    for (size_t i = 0; i < n; i++) {
        cdt_str_t g = cdt_strv_at(m->groups, i);
        self->name_ptrs[i] = g.ptr;
        self->name_lens[i] = g.len;
    }
    router_event_t ev = {
        .hub = m->hub.ptr,
        .hub_len = m->hub.len,
        .groups = self->name_ptrs,
        .group_lens = self->name_lens,
        .n_groups = n,
        .target = m->target.ptr,
        .target_len = m->target.len,
        .mp = s_event_mp(self, m),
    };
    return router_route_event(self->router, &ev, err, errlen);
}

static int
s_on_ingress(void *arg, const cdt_ingress_t *m, char *err, size_t errlen)
{
    broker_t *self = arg;
    switch (m->type) {
    case CDT_IN_EVENT:
        return s_on_event(self, m, err, errlen);
    case CDT_IN_TASK:
        return tasks_ingest(self->tasks, m, cdt_clock_mono_ms(),
                            cdt_clock_wall_ms(), err, errlen);
    case CDT_IN_SPEND:
        return spend_ingest(self->spend, m, cdt_clock_mono_ms(),
                            cdt_clock_wall_ms(), err, errlen);
    case CDT_IN_PROVIDER_HEALTH:
        return health_ingest(self->health, m, cdt_clock_wall_ms(), err, errlen);
    case CDT_IN_WEBHOOK:
        return webhook_ingest(self->webhook, m, cdt_clock_wall_ms(), err,
                              errlen);
    case CDT_IN_KEY:
        return keyops_ingest(self->keyops, m, cdt_clock_wall_ms(), err, errlen);
    }
    snprintf(err, errlen, "type '%s' is not handled",
             cdt_ingress_type_name(m->type));
    return -1;
}

/* The ingress' hint for an event it decoded ahead (ingress_prefetch_fn). */
static void
s_on_prefetch(void *arg, const cdt_ingress_t *m, int stage)
{
    broker_t *self = arg;
    if (m->type == CDT_IN_EVENT && m->groups.n > 0) {
        cdt_str_t g = cdt_strv_at(m->groups, 0);
        router_prefetch(self->router, m->hub.ptr, m->hub.len, g.ptr, g.len,
                        stage);
    }
}

/* ---- stats -------------------------------------------------------------- */

/* A map built pair by pair: the pairs go to body, counted, and the header
 * is written once the count is known. */
typedef struct kv {
    msgpack_packer pk;
    cdt_buf_t body;
    size_t n;
} kv_t;

static void
s_kv_key(kv_t *kv, const char *key)
{
    s_pack_cstr(&kv->pk, key);
    kv->n++;
}

static void
s_kv_u64(kv_t *kv, const char *key, uint64_t v)
{
    s_kv_key(kv, key);
    msgpack_pack_uint64(&kv->pk, v);
}

/* "gateway_list": [{name, slot, connections, sends, events,
 * silent_ms}, ...] - what the broker routes to each gateway. */
static void
s_pack_gateways(broker_t *self, kv_t *kv)
{
    size_t n = gwlink_n_gateways(self->gwlink);
    int64_t now = cdt_clock_mono_ms();
    s_kv_key(kv, "gateway_list");
    msgpack_pack_array(&kv->pk, n);
    for (size_t i = 0; i < n; i++) {
        gwlink_gateway_info_t gi;
        bool ok = gwlink_gateway_info(self->gwlink, i, now, &gi);
        assert(ok);
        (void)ok;
        msgpack_pack_map(&kv->pk, 6);
        s_pack_cstr(&kv->pk, "name");
        s_pack_cstr(&kv->pk, gi.name);
        s_pack_cstr(&kv->pk, "slot");
        msgpack_pack_uint32(&kv->pk, gi.slot);
        s_pack_cstr(&kv->pk, "connections");
        msgpack_pack_uint64(&kv->pk, gi.connections);
        s_pack_cstr(&kv->pk, "sends");
        msgpack_pack_uint64(&kv->pk, gi.sends);
        s_pack_cstr(&kv->pk, "events");
        msgpack_pack_uint64(&kv->pk, gi.events);
        s_pack_cstr(&kv->pk, "silent_ms");
        msgpack_pack_int64(&kv->pk, gi.silent_ms);
    }
}

/* "curve": bool, the totals, and "curve_endpoints": {name: {handshakes,
 * auth_failures, protocol_failures}}. */
static void
s_pack_curve(broker_t *self, kv_t *kv)
{
    s_kv_key(kv, "curve");
    if (self->curve)
        msgpack_pack_true(&kv->pk);
    else
        msgpack_pack_false(&kv->pk);
    curve_counters_t t;
    curve_totals(self->curve, &t);
    s_kv_u64(kv, "curve_handshakes", t.handshakes);
    s_kv_u64(kv, "curve_auth_failures", t.auth_failures);
    s_kv_u64(kv, "curve_protocol_failures", t.protocol_failures);
    size_t n = self->curve ? curve_n_endpoints(self->curve) : 0;
    s_kv_key(kv, "curve_endpoints");
    msgpack_pack_map(&kv->pk, n);
    for (size_t i = 0; i < n; i++) {
        const curve_counters_t *c = curve_endpoint_counters(self->curve, i);
        s_pack_cstr(&kv->pk, curve_endpoint_name(self->curve, i));
        msgpack_pack_map(&kv->pk, 3);
        s_pack_cstr(&kv->pk, "handshakes");
        msgpack_pack_uint64(&kv->pk, c->handshakes);
        s_pack_cstr(&kv->pk, "auth_failures");
        msgpack_pack_uint64(&kv->pk, c->auth_failures);
        s_pack_cstr(&kv->pk, "protocol_failures");
        msgpack_pack_uint64(&kv->pk, c->protocol_failures);
    }
}

void
broker_stats_pack(broker_t *self, cdt_buf_t *out)
{
    if (self->curve) /* handshakes not yet read count too */
        curve_poll(self->curve, cdt_clock_mono_ms());
    kv_t kv;
    cdt_buf_init(&kv.body);
    kv.n = 0;
    msgpack_packer_init(&kv.pk, &kv.body, cdt_buf_msgpack_write);

    s_kv_key(&kv, "ok");
    msgpack_pack_true(&kv.pk);
    s_kv_u64(&kv, "incarnation", self->incarnation);
    s_kv_u64(&kv, "uptime_ms",
             (uint64_t)(cdt_clock_mono_ms() - self->started_ms));
    s_kv_u64(&kv, "gateways", gwlink_n_gateways(self->gwlink));
    s_kv_u64(&kv, "connections", groups_n_conns(self->groups));
    s_kv_u64(&kv, "groups", groups_n_groups(self->groups));
    s_kv_u64(&kv, "memberships", groups_n_memberships(self->groups));
    s_kv_u64(&kv, "keys", keys_count(self->keys));
    s_kv_u64(&kv, "tasks", tasks_count(self->tasks));
    s_kv_u64(&kv, "tasks_pending", tasks_pending(self->tasks));
    s_kv_u64(&kv, "tasks_unsynced", tasks_unsynced(self->tasks));
    s_kv_key(&kv, "store");
    if (self->store)
        msgpack_pack_true(&kv.pk);
    else
        msgpack_pack_false(&kv.pk);
    s_kv_u64(&kv, "key_changes", keyops_changes(self->keyops));

    const router_counters_t *rc = router_counters(self->router);
    s_kv_u64(&kv, "seq", router_seq(self->router));
    s_kv_u64(&kv, "events_routed", rc->routed);
    s_kv_u64(&kv, "events_refused", rc->refused);
    s_kv_u64(&kv, "events_unheard", rc->unheard);
    s_kv_u64(&kv, "event_sends", rc->sends);
    s_kv_u64(&kv, "event_send_errors", rc->send_errors);

    const tasks_counters_t *tc = tasks_counters(self->tasks);
    s_kv_u64(&kv, "task_events_accepted", tc->accepted);
    s_kv_u64(&kv, "task_events_refused", tc->refused);
    s_kv_u64(&kv, "task_progress_coalesced", tc->coalesced);
    s_kv_u64(&kv, "tasks_expired", tc->expired);

    const gwlink_counters_t *gc = gwlink_counters(self->gwlink);
    s_kv_u64(&kv, "gateways_admitted", gc->gateways_admitted);
    s_kv_u64(&kv, "gateways_timed_out", gc->gateways_timed_out);
    s_kv_u64(&kv, "auth_ok", gc->auth_ok);
    s_kv_u64(&kv, "auth_refused", gc->auth_refused);
    s_kv_u64(&kv, "conns_opened", gc->conns_opened);
    s_kv_u64(&kv, "conns_restored", gc->conns_restored);
    s_kv_u64(&kv, "conns_refused", gc->conns_refused);
    s_kv_u64(&kv, "conns_closed", gc->conns_closed);
    s_kv_u64(&kv, "invokes_ok", gc->invokes_ok);
    s_kv_u64(&kv, "invokes_failed", gc->invokes_failed);
    s_kv_u64(&kv, "directs", gc->directs);
    s_kv_u64(&kv, "kicks", gc->kicks);
    s_kv_u64(&kv, "link_garbage", gc->garbage);
    s_kv_u64(&kv, "link_oversize", gc->oversize);
    s_kv_u64(&kv, "link_version_refused", gc->version_refused);
    s_kv_u64(&kv, "link_send_errors", gc->send_errors);
    s_kv_u64(&kv, "link_frames", gc->frames);
    s_pack_gateways(self, &kv);

    const ingress_counters_t *ic = ingress_counters(self->ingress);
    s_kv_u64(&kv, "ingress_garbage", ic->garbage);
    s_kv_u64(&kv, "ingress_sub_garbage", ic->sub_garbage);
    s_kv_u64(&kv, "ingress_ack_garbage", ic->ack_garbage);
    s_kv_u64(&kv, "ingress_oversize", ic->oversize);
    s_pack_curve(self, &kv);
    s_kv_u64(&kv, "stats_requests", ic->stats_requests);
    s_kv_u64(&kv, "ingress_sync_failures", ic->sync_failures);
    for (int pass = 0; pass < 2; pass++) {
        const uint64_t *counts = pass ? ic->refused : ic->accepted;
        s_kv_key(&kv, pass ? "ingress_refused" : "ingress_accepted");
        msgpack_pack_map(&kv.pk, CDT_IN_KEY);
        for (int t = CDT_IN_EVENT; t <= CDT_IN_KEY; t++) {
            s_pack_cstr(&kv.pk, cdt_ingress_type_name(t));
            msgpack_pack_uint64(&kv.pk, counts[t]);
        }
    }

    s_kv_key(&kv, "hubs");
    msgpack_pack_map(&kv.pk, self->catalog->n_hubs);
    for (size_t h = 0; h < self->catalog->n_hubs; h++) {
        s_pack_cstr(&kv.pk, self->catalog->hubs[h].name);
        msgpack_pack_map(&kv.pk, 3);
        s_pack_cstr(&kv.pk, "connections");
        msgpack_pack_uint64(&kv.pk, groups_hub_conns(self->groups, h));
        s_pack_cstr(&kv.pk, "groups");
        msgpack_pack_uint64(&kv.pk, groups_hub_groups(self->groups, h));
        s_pack_cstr(&kv.pk, "events");
        msgpack_pack_uint64(&kv.pk, router_hub_events(self->router, h));
    }

    msgpack_packer pk;
    msgpack_packer_init(&pk, out, cdt_buf_msgpack_write);
    msgpack_pack_map(&pk, kv.n);
    cdt_buf_append(out, kv.body.data, kv.body.len);
    cdt_buf_release(&kv.body);
}

static void
s_on_stats(void *arg, cdt_buf_t *out)
{
    broker_stats_pack(arg, out);
}

/* ---- actor (tests) ------------------------------------------------------ */

static int
s_on_pipe(zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void)loop;
    (void)arg;
    char *cmd = zstr_recv(pipe);
    bool term = !cmd || strcmp(cmd, "$TERM") == 0;
    zstr_free(&cmd);
    return term ? -1 : 0;
}

void
broker_actor(zsock_t *pipe, void *args)
{
    broker_actor_args_t *a = args;
    broker_t *self = broker_new(a->cfg);
    a->status = self ? 0 : -1;
    zsock_signal(pipe, 0);
    if (!self) {
        /* Wait for $TERM so that zactor_destroy returns. */
        char *cmd = zstr_recv(pipe);
        zstr_free(&cmd);
        return;
    }
    if (zloop_reader(self->loop, pipe, s_on_pipe, NULL) == 0)
        (void)broker_run(self);
    broker_destroy(&self);
}
