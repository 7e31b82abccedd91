/*
 * gwlink - the broker's end of the gateway link.
 *
 * Batches. Everything for an admitted gateway goes through its batch
 * buffer, in order: the router's EVENTs, the replies, KICK. gwlink_flush
 * (the broker calls it when each loop callback returns) sends every
 * non-empty batch as one frame (proto/cdt_link.h), and a batch that
 * reaches CDT_LINK_BATCH_BYTES is sent at once. Only an unregistered
 * peer's replies (the PONG that asks for HELLO, and the refusals after
 * it) are sent unbatched: nothing else is ever queued for it.
 *
 * Bounds: SNDHWM frames per gateway queue inside ZeroMQ; a frame holds at
 * most CDT_LINK_BATCH_BYTES plus one message, so a gateway that stops
 * reading costs at most SNDHWM x (16 KiB + a message) here before sends to
 * it fail (counted, never blocking).
 *
 * SPDX-License-Identifier: MIT
 */
#define CDT_LOG_MODULE "gwlink"
#include "broker/gwlink.h"

#include "broker/hashfn.h"
#include "broker/invoke.h"
#include "common/cdt_buf.h"
#include "common/cdt_clock.h"
#include "common/cdt_log.h"
#include "common/cdt_mem.h"
#include "common/cdt_ratelog.h"
#include "proto/cdt_link.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Messages handled per readable event before returning to the loop, so
 * ingress and timers are not starved by a chatty gateway. */
#define BATCH        512
#define RID_MAX      255
#define NAME_MAX_LEN 256
#define SNDHWM       8192   /* frames: batches (see above) */
#define RCVHWM       100000 /* frames: one message each */

typedef struct gw {
    uint8_t rid[RID_MAX];
    size_t rid_len;
    char hexid[2 * RID_MAX + 1]; /* the hash key */
    char *name;                  /* owned */
    uint64_t gw_incarnation;
    uint64_t session; /* the incarnation this gateway is told */
    uint32_t slot;
    int64_t last_seen_ms;
    uint64_t sends;  /* messages queued for it */
    uint64_t events; /* of sends: through gwlink_send (the router) */
    cdt_buf_t batch; /* messages not yet sent, back to back */
    uint32_t batch_msgs;
    bool dirty; /* its slot is in gwlink.dirty */
} gw_t;

struct gwlink {
    gwlink_ctx_t ctx;
    zsock_t *sock;
    zhashx_t *by_rid; /* hexid -> gw_t (owned) */
    gw_t **slots;     /* slot -> gw_t (borrowed from by_rid) */
    uint32_t n_slots;
    uint32_t *dirty; /* slots whose batch may hold messages */
    uint32_t n_dirty, cap_dirty;
    uint64_t admissions;
    cdt_buf_t out;
    cdt_buf_t json;
    msgpack_zone zone;
    cdt_ratelog_t garbage_log[3]; /* by s_kind */
    cdt_ratelog_t send_log;
    cdt_ratelog_t version_log; /* HELLOs of another link version */
    gwlink_counters_t counters;
    /* Given to every gateway in WELCOME so that a negotiate token signed
     * by one verifies on another (gateway/tokens.h). Drawn per process, so
     * a broker restart invalidates tokens in flight: they live 15 s. */
    uint8_t token_secret[CDT_LINK_SECRET_LEN];
};

static int
s_str_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

gwlink_t *
gwlink_new(const char *endpoint, const gwlink_ctx_t *ctx)
{
    assert(endpoint && ctx && ctx->catalog && ctx->keys && ctx->groups &&
           ctx->router);
    gwlink_t *self = cdt_xcalloc(1, sizeof *self);
    self->ctx = *ctx;
    if (RAND_bytes(self->token_secret, sizeof self->token_secret) != 1) {
        cdt_log_error("cannot draw the token secret: no randomness");
        free(self);
        return NULL;
    }
    cdt_buf_init(&self->out);
    cdt_buf_init(&self->json);
    msgpack_zone_init(&self->zone, 2048);
    self->by_rid = zhashx_new();
    if (!self->by_rid)
        abort();
    zhashx_set_key_hasher(self->by_rid, hashfn_str);
    zhashx_set_key_comparator(self->by_rid, s_str_cmp);
    zhashx_set_key_duplicator(self->by_rid, NULL);
    zhashx_set_key_destructor(self->by_rid, NULL);
    self->sock = zsock_new(ZMQ_ROUTER);
    if (!self->sock) {
        cdt_log_error("cannot create the gateway link socket: %s",
                      zmq_strerror(zmq_errno()));
        goto fail;
    }
    zsock_set_router_mandatory(self->sock, 1);
    zsock_set_sndhwm(self->sock, SNDHWM);
    zsock_set_rcvhwm(self->sock, RCVHWM);
    zsock_set_linger(self->sock, 0);
    if (ctx->max_frame_bytes > 0) {
        /* Far larger frames make ZeroMQ drop the peer before we read
         * them: a guard against memory exhaustion above the refusal
         * limit, as on the ingress endpoints. */
        uint64_t hard = (uint64_t)ctx->max_frame_bytes * 16;
        zsock_set_maxmsgsize(self->sock,
                             hard > INT32_MAX ? -1 : (int)(int64_t)hard);
    }
    if (ctx->curve && curve_secure(ctx->curve, self->sock, "gateway_link"))
        goto fail;
    if (zsock_bind(self->sock, "%s", endpoint) == -1) {
        cdt_log_error("cannot bind '%s': %s", endpoint,
                      zmq_strerror(zmq_errno()));
        goto fail;
    }
    return self;
fail:
    gwlink_destroy(&self);
    return NULL;
}

static void
s_gw_free(gw_t *gw)
{
    cdt_buf_release(&gw->batch);
    free(gw->name);
    free(gw);
}

void
gwlink_destroy(gwlink_t **self_p)
{
    assert(self_p);
    gwlink_t *self = *self_p;
    if (!self)
        return;
    if (self->by_rid) {
        for (gw_t *gw = zhashx_first(self->by_rid); gw;
             gw = zhashx_next(self->by_rid))
            s_gw_free(gw);
        zhashx_destroy(&self->by_rid);
    }
    zsock_destroy(&self->sock);
    free(self->slots);
    free(self->dirty);
    cdt_buf_release(&self->out);
    cdt_buf_release(&self->json);
    msgpack_zone_destroy(&self->zone);
    OPENSSL_cleanse(self->token_secret, sizeof self->token_secret);
    free(self);
    *self_p = NULL;
}

zsock_t *
gwlink_sock(gwlink_t *self)
{
    return self->sock;
}

/* ---- sending ------------------------------------------------------------ */

/* zmq_msg_init_data's free function for a batch handed over whole. */
static void
s_free_batch(void *data, void *hint)
{
    (void)hint;
    free(data);
}

/* Counts and (rate-limited) reports a frame that could not be sent:
 * msgs link messages lost, e the reason. */
static void
s_send_failed(gwlink_t *self, int e, uint32_t msgs)
{
    self->counters.send_errors += msgs;
    uint64_t skipped = 0;
    if (cdt_ratelog_allow(&self->send_log, cdt_clock_mono_ms(), &skipped))
        cdt_log_warn("cannot send to a gateway: %s (%" PRIu64
                     " more since the last report)",
                     e == EHOSTUNREACH ? "gone"
                     : e == EAGAIN     ? "queue full"
                                       : zmq_strerror(e),
                     skipped);
}

/* Sends the frame m to rid; m is sent or closed here. msgs is how many
 * link messages it holds (what a failure loses). */
static int
s_send_rid(gwlink_t *self, const uint8_t *rid, size_t rid_len, zmq_msg_t *m,
           uint32_t msgs)
{
    void *s = zsock_resolve(self->sock);
    if (zmq_send(s, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1 ||
        zmq_msg_send(m, s, ZMQ_DONTWAIT) == -1) {
        int e = zmq_errno();
        zmq_msg_close(m);
        s_send_failed(self, e, msgs);
        return -1;
    }
    self->counters.frames++;
    return 0;
}

/* Sends g's batch now, if it holds anything: its buffer goes with it,
 * cut to its length (in place), so that what ZeroMQ queues for a slow
 * gateway is no more than the bytes themselves. */
static void
s_flush_gw(gwlink_t *self, gw_t *g)
{
    if (g->batch.len == 0)
        return;
    size_t len;
    uint8_t *data = cdt_buf_detach(&g->batch, &len);
    data = cdt_xrealloc(data, len);
    zmq_msg_t m;
    if (zmq_msg_init_data(&m, data, len, s_free_batch, NULL) == 0) {
        (void)s_send_rid(self, g->rid, g->rid_len, &m, g->batch_msgs);
    } else {
        free(data);
        s_send_failed(self, ENOMEM, g->batch_msgs);
    }
    g->batch_msgs = 0;
}

/* Appends one message to g's batch. */
static void
s_queue(gwlink_t *self, gw_t *g, const void *msg, size_t len)
{
    g->sends++;
    if (!g->dirty) {
        if (self->n_dirty == self->cap_dirty) {
            self->cap_dirty = self->cap_dirty ? self->cap_dirty * 2 : 8;
            self->dirty =
                cdt_xrealloc(self->dirty, self->cap_dirty * sizeof(uint32_t));
        }
        self->dirty[self->n_dirty++] = g->slot;
        g->dirty = true;
    }
    if (!g->batch.data) /* a new batch: room for all of it at once */
        cdt_buf_reserve(&g->batch, CDT_LINK_BATCH_BYTES + len);
    cdt_buf_append(&g->batch, msg, len);
    g->batch_msgs++;
    if (g->batch.len >= CDT_LINK_BATCH_BYTES)
        s_flush_gw(self, g);
}

void
gwlink_flush(gwlink_t *self)
{
    assert(self);
    for (uint32_t i = 0; i < self->n_dirty; i++) {
        uint32_t slot = self->dirty[i];
        gw_t *g = slot < self->n_slots ? self->slots[slot] : NULL;
        if (!g)
            continue; /* removed meanwhile, its batch sent before */
        s_flush_gw(self, g);
        g->dirty = false;
    }
    self->n_dirty = 0;
}

int
gwlink_send(gwlink_t *self, uint32_t gw, const void *frame, size_t len)
{
    assert(self);
    if (gw >= self->n_slots || !self->slots[gw])
        return -1;
    gw_t *g = self->slots[gw];
    g->events++;
    s_queue(self, g, frame, len);
    return 0;
}

int
gwlink_send_fn(void *arg, uint32_t gw, const void *frame, size_t len)
{
    return gwlink_send(arg, gw, frame, len);
}

static gw_t *s_find(gwlink_t *self, const uint8_t *rid, size_t rid_len);

/* Sends self->out to rid: into its batch when it is an admitted gateway,
 * else at once. */
static void
s_reply(gwlink_t *self, const uint8_t *rid, size_t rid_len)
{
    gw_t *g = s_find(self, rid, rid_len);
    if (g) {
        s_queue(self, g, self->out.data, self->out.len);
    } else {
        zmq_msg_t m;
        if (zmq_msg_init_size(&m, self->out.len) == 0) {
            memcpy(zmq_msg_data(&m), self->out.data, self->out.len);
            (void)s_send_rid(self, rid, rid_len, &m, 1);
        } else {
            s_send_failed(self, ENOMEM, 1);
        }
    }
    cdt_buf_reset(&self->out);
}

/* ---- gateways ----------------------------------------------------------- */

static void
s_hexid(const uint8_t *rid, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex[rid[i] >> 4];
        out[2 * i + 1] = hex[rid[i] & 15];
    }
    out[2 * len] = '\0';
}

static gw_t *
s_find(gwlink_t *self, const uint8_t *rid, size_t rid_len)
{
    char hexid[2 * RID_MAX + 1];
    s_hexid(rid, rid_len, hexid);
    return zhashx_lookup(self->by_rid, hexid);
}

/* Forgets the gateway's connections; it stays admitted. */
static size_t
s_forget_state(gwlink_t *self, gw_t *gw)
{
    return groups_drop_gateway(self->ctx.groups, gw->slot);
}

static void
s_remove(gwlink_t *self, gw_t *gw)
{
    s_flush_gw(self, gw); /* what it was sent so far, in order */
    s_forget_state(self, gw);
    self->slots[gw->slot] = NULL;
    zhashx_delete(self->by_rid, gw->hexid);
    s_gw_free(gw);
}

static uint64_t
s_new_session(gwlink_t *self)
{
    uint64_t s = self->ctx.incarnation + 2 * ++self->admissions;
    return s ? s : self->ctx.incarnation + 2 * ++self->admissions;
}

static gw_t *
s_admit(gwlink_t *self, const uint8_t *rid, size_t rid_len)
{
    uint32_t slot = 0;
    while (slot < self->n_slots && self->slots[slot])
        slot++;
    if (slot >= GWLINK_MAX_GATEWAYS)
        return NULL;
    if (slot >= self->n_slots) {
        uint32_t n = self->n_slots ? self->n_slots * 2 : 8;
        self->slots = cdt_xrealloc(self->slots, n * sizeof(gw_t *));
        memset(self->slots + self->n_slots, 0,
               (n - self->n_slots) * sizeof(gw_t *));
        self->n_slots = n;
    }
    gw_t *gw = cdt_xcalloc(1, sizeof *gw);
    memcpy(gw->rid, rid, rid_len);
    gw->rid_len = rid_len;
    s_hexid(rid, rid_len, gw->hexid);
    gw->slot = slot;
    if (zhashx_insert(self->by_rid, gw->hexid, gw) != 0)
        abort();
    self->slots[slot] = gw;
    return gw;
}

static void
s_on_hello(gwlink_t *self, const uint8_t *rid, size_t rid_len,
           const cdt_link_msg_t *m, int64_t now_ms)
{
    char name[NAME_MAX_LEN + 1];
    size_t nlen = m->name.len > NAME_MAX_LEN ? NAME_MAX_LEN : m->name.len;
    /* The name goes to logs: keep it printable. */
    for (size_t i = 0; i < nlen; i++) {
        unsigned char ch = (unsigned char)m->name.ptr[i];
        name[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    name[nlen] = '\0';

    if (m->version != CDT_LINK_VERSION) {
        /* its messages would not mean what ours do: no WELCOME */
        self->counters.version_refused++;
        uint64_t skipped = 0;
        if (cdt_ratelog_allow(&self->version_log, now_ms, &skipped))
            cdt_log_error("refusing gateway '%s': it speaks link version %u, "
                          "this broker %d; run gateways of the broker's "
                          "release (%" PRIu64 " more refusals since the last "
                          "report)",
                          name, m->version, CDT_LINK_VERSION, skipped);
        return;
    }
    gw_t *gw = s_find(self, rid, rid_len);
    if (gw && gw->gw_incarnation == m->incarnation) {
        /* A repeated HELLO (the gateway missed PONGs): state intact. */
        gw->last_seen_ms = now_ms;
    } else {
        if (gw) {
            size_t n = s_forget_state(self, gw);
            cdt_log_notice("gateway '%s' restarted: forgot %zu connection(s)",
                           gw->name, n);
        } else {
            /* The same process reconnected under a new routing id: its old
             * record is stale (its connections will be replayed). */
            for (uint32_t i = 0; i < self->n_slots; i++) {
                gw_t *old = self->slots[i];
                if (old && old->gw_incarnation == m->incarnation &&
                    strcmp(old->name, name) == 0) {
                    cdt_log_notice("gateway '%s' reconnected", name);
                    s_remove(self, old);
                }
            }
            gw = s_admit(self, rid, rid_len);
            if (!gw) {
                cdt_log_warn("refusing gateway '%s': %d gateways already", name,
                             GWLINK_MAX_GATEWAYS);
                return;
            }
        }
        free(gw->name);
        gw->name = cdt_xstrdup(name);
        gw->gw_incarnation = m->incarnation;
        gw->session = s_new_session(self);
        gw->last_seen_ms = now_ms;
        self->counters.gateways_admitted++;
        cdt_log_notice("gateway '%s' admitted as slot %u", gw->name, gw->slot);
    }
    cdt_link_encode_welcome(&self->out, gw->session,
                            (uint32_t)self->ctx.heartbeat_ms,
                            (uint32_t)self->ctx.timeout_ms, self->token_secret,
                            sizeof self->token_secret);
    s_reply(self, rid, rid_len);
}

void
gwlink_check_timeouts(gwlink_t *self, int64_t now_ms)
{
    assert(self);
    for (uint32_t i = 0; i < self->n_slots; i++) {
        gw_t *gw = self->slots[i];
        if (!gw || now_ms - gw->last_seen_ms < self->ctx.timeout_ms)
            continue;
        size_t n = groups_gw_conns(self->ctx.groups, gw->slot);
        cdt_log_warn("forgetting gateway '%s': silent for %" PRId64
                     " ms (%zu connection(s) dropped)",
                     gw->name, now_ms - gw->last_seen_ms, n);
        self->counters.gateways_timed_out++;
        s_remove(self, gw);
    }
}

size_t
gwlink_n_gateways(const gwlink_t *self)
{
    return zhashx_size(self->by_rid);
}

bool
gwlink_gateway_info(const gwlink_t *self, size_t i, int64_t now_ms,
                    gwlink_gateway_info_t *info)
{
    assert(self && info);
    size_t seen = 0;
    for (uint32_t s = 0; s < self->n_slots; s++) {
        const gw_t *gw = self->slots[s];
        if (!gw || seen++ != i)
            continue;
        info->name = gw->name ? gw->name : "";
        info->slot = gw->slot;
        info->connections = groups_gw_conns(self->ctx.groups, gw->slot);
        info->sends = gw->sends;
        info->events = gw->events;
        info->silent_ms = now_ms - gw->last_seen_ms;
        return true;
    }
    return false;
}

/* ---- auth and connections ----------------------------------------------- */

static const char *
s_cap_reason(gwlink_t *self, int64_t key_id)
{
    if (self->ctx.max_conns_per_key > 0 &&
        groups_key_conns(self->ctx.groups, key_id) >=
            (size_t)self->ctx.max_conns_per_key)
        return "too many connections for this key";
    if (self->ctx.max_conns_total > 0 &&
        groups_n_conns(self->ctx.groups) >= (size_t)self->ctx.max_conns_total)
        return "too many connections";
    return NULL;
}

static const cdt_hub_t *
s_hub(gwlink_t *self, cdt_str_t name)
{
    return cdt_catalog_hub(self->ctx.catalog, name.ptr, name.len);
}

static void
s_on_auth(gwlink_t *self, const uint8_t *rid, size_t rid_len,
          const cdt_link_msg_t *m)
{
    const cdt_hub_t *hub = s_hub(self, m->hub);
    keys_decision_t d;
    keys_authorize(self->ctx.keys, hub, m->token.ptr, m->token.len,
                   cdt_clock_wall_ms(), &d);
    if (d.status == 200) {
        const char *why = s_cap_reason(self, d.key_id);
        if (why) {
            d.status = 429;
            d.reason = why;
        }
    }
    if (d.status == 200)
        self->counters.auth_ok++;
    else
        self->counters.auth_refused++;
    cdt_log_debug("auth for '%.*s' from '%.*s': %u %s", (int)m->hub.len,
                  m->hub.ptr, (int)m->peer.len, m->peer.ptr, d.status,
                  d.reason);
    cdt_link_encode_auth_rep(&self->out, m->req_id, d.status,
                             d.status == 200 ? d.key_id : 0,
                             d.status == 200 && d.admin, d.reason);
    s_reply(self, rid, rid_len);
}

static bool
s_group_name_ok(cdt_str_t s)
{
    if (s.len == 0 || s.len > GROUPS_NAME_MAX)
        return false;
    for (size_t i = 0; i < s.len; i++)
        if ((unsigned char)s.ptr[i] < 0x20 || s.ptr[i] == 0x7f)
            return false;
    return true;
}

static void
s_conn_ready(gwlink_t *self, const uint8_t *rid, size_t rid_len,
             uint64_t conn_id, uint32_t status, const char *reason,
             const groups_conn_t *c)
{
    size_t n = c ? groups_conn_n_groups(c) : 0;
    const char **names = n ? cdt_xcalloc(n, sizeof(char *)) : NULL;
    for (size_t i = 0; i < n; i++)
        names[i] = groups_conn_group(c, i);
    cdt_link_encode_conn_ready(&self->out, conn_id, status, reason, names, n);
    free(names);
    s_reply(self, rid, rid_len);
}

static void
s_on_conn_open(gwlink_t *self, gw_t *gw, const cdt_link_msg_t *m)
{
    groups_t *groups = self->ctx.groups;
    const cdt_hub_t *hub = s_hub(self, m->hub);
    const char *why = NULL;
    uint32_t status = 0;
    if (!hub) {
        status = 404;
        why = "unknown hub";
    } else if (!keys_usable(self->ctx.keys, hub, m->key_id, cdt_clock_wall_ms(),
                            &why)) {
        status = 401;
    }
    groups_conn_t *old = groups_conn_find(groups, gw->slot, m->conn_id);
    if (old) /* a replay seen twice: start again from this one */
        groups_conn_close(groups, old);
    if (!status && !m->restore && (why = s_cap_reason(self, m->key_id)))
        status = 429;
    if (status) {
        self->counters.conns_refused++;
        cdt_log_debug("conn#%" PRIu64 " on '%s' refused: %u %s", m->conn_id,
                      gw->name, status, why);
        s_conn_ready(self, gw->rid, gw->rid_len, m->conn_id, status, why, NULL);
        return;
    }
    /* The key table, not the gateway, says who is admin. */
    const keys_entry_t *k = keys_find_id(self->ctx.keys, m->key_id);
    bool admin = m->key_id == 0 || (k && k->admin);
    groups_conn_t *c = groups_conn_open(groups, gw->slot, m->conn_id,
                                        hub->index, m->key_id, admin);
    assert(c);
    if (m->restore) {
        for (size_t i = 0; i < m->groups.n; i++) {
            cdt_str_t g = cdt_strv_at(m->groups, i);
            if (!s_group_name_ok(g))
                continue;
            char *name = cdt_xstrndup(g.ptr, g.len);
            (void)groups_join(groups, c, name);
            free(name);
        }
        self->counters.conns_restored++;
    } else {
        for (size_t i = 0; i < hub->n_join; i++) {
            char *name =
                cdt_group_expand(hub->join_on_connect[i], m->key_id, NULL, 0);
            if (name)
                (void)groups_join(groups, c, name);
            free(name);
        }
        self->counters.conns_opened++;
    }
    cdt_log_debug("conn#%" PRIu64 " on '%s' open on '%s' (%zu group(s))",
                  m->conn_id, gw->name, hub->name, groups_conn_n_groups(c));
    s_conn_ready(self, gw->rid, gw->rid_len, m->conn_id, 0, "", c);
}

static void
s_on_conn_close(gwlink_t *self, gw_t *gw, const cdt_link_msg_t *m)
{
    groups_conn_t *c = groups_conn_find(self->ctx.groups, gw->slot, m->conn_id);
    if (!c)
        return;
    groups_conn_close(self->ctx.groups, c);
    self->counters.conns_closed++;
}

size_t
gwlink_kick(gwlink_t *self, int64_t key_id, const char *reason)
{
    assert(self);
    cdt_buf_reset(&self->out);
    cdt_link_encode_kick(&self->out, key_id, reason ? reason : "");
    for (uint32_t i = 0; i < self->n_slots; i++)
        if (self->slots[i])
            s_queue(self, self->slots[i], self->out.data, self->out.len);
    cdt_buf_reset(&self->out);
    self->counters.kicks++;
    return groups_drop_key(self->ctx.groups, key_id);
}

/* ---- invocations -------------------------------------------------------- */

static bool
s_task_owner(void *arg, const char *id, size_t len, int64_t *owner)
{
    gwlink_t *self = arg;
    return self->ctx.tasks && tasks_owner(self->ctx.tasks, id, len, owner);
}

static void
s_invoke_error(gwlink_t *self, gw_t *gw, const cdt_link_msg_t *m,
               const char *error)
{
    self->counters.invokes_failed++;
    cdt_link_encode_invoke_rep(&self->out, m->req_id, m->conn_id, false, NULL,
                               0, error, NULL, 0, NULL, 0);
    s_reply(self, gw->rid, gw->rid_len);
}

/* After a successful task subscription: the task's last event on the
 * hub, to this connection only. */
static void
s_send_last_event(gwlink_t *self, gw_t *gw, uint64_t conn_id,
                  const cdt_hub_t *hub, const char *task_id)
{
    const char *target;
    const void *args;
    size_t args_len;
    if (!self->ctx.tasks ||
        !tasks_last_event(self->ctx.tasks, task_id, strlen(task_id), hub->name,
                          &target, &args, &args_len))
        return;
    cdt_buf_reset(&self->json);
    if (cdt_link_build_json_frame(&self->json, target, args, args_len) != 0)
        return;
    cdt_link_encode_direct(&self->out, conn_id, target, args, args_len,
                           self->json.data, self->json.len);
    s_reply(self, gw->rid, gw->rid_len);
    self->counters.directs++;
}

static void
s_on_invoke(gwlink_t *self, gw_t *gw, const cdt_link_msg_t *m)
{
    int mlen = m->method.len > 1024 ? 1024 : (int)m->method.len;
    groups_conn_t *c = groups_conn_find(self->ctx.groups, gw->slot, m->conn_id);
    if (!c) {
        char *e = cdt_xasprintf("An unexpected error occurred invoking "
                                "'%.*s' on the server.",
                                mlen, m->method.ptr);
        s_invoke_error(self, gw, m, e);
        free(e);
        return;
    }
    const cdt_hub_t *hub = &self->ctx.catalog->hubs[groups_conn_hub(c)];
    invoke_result_t r;
    invoke_eval(hub, groups_conn_key_id(c), groups_conn_admin(c), m->method.ptr,
                m->method.len, m->args.ptr, m->args.len, s_task_owner, self,
                &r);
    if (r.ok && groups_conn_n_groups(c) + r.n_joins > GROUPS_MAX_PER_CONN) {
        char *e = cdt_xasprintf("An unexpected error occurred invoking "
                                "'%.*s' on the server. HubException: Too "
                                "many groups.",
                                mlen, m->method.ptr);
        invoke_result_release(&r);
        r.error = e;
    }
    if (!r.ok) {
        cdt_log_debug("conn#%" PRIu64 " on '%s': invocation failed: %s",
                      m->conn_id, gw->name, r.error);
        s_invoke_error(self, gw, m, r.error);
        invoke_result_release(&r);
        return;
    }
    for (size_t i = 0; i < r.n_leaves; i++)
        (void)groups_leave(self->ctx.groups, c, r.leaves[i]);
    for (size_t i = 0; i < r.n_joins; i++)
        (void)groups_join(self->ctx.groups, c, r.joins[i]);
    if (r.emit_event) {
        const char *g = r.emit_group;
        (void)router_emit(self->ctx.router, hub->name, &g, 1, r.emit_event,
                          m->args.ptr, m->args.len);
    }
    self->counters.invokes_ok++;
    cdt_link_encode_invoke_rep(&self->out, m->req_id, m->conn_id, true, NULL, 0,
                               NULL, (const char *const *)r.joins, r.n_joins,
                               (const char *const *)r.leaves, r.n_leaves);
    s_reply(self, gw->rid, gw->rid_len);
    if (r.task_id)
        s_send_last_event(self, gw, m->conn_id, hub, r.task_id);
    invoke_result_release(&r);
}

/* ---- dispatch ----------------------------------------------------------- */

/* What is wrong with a bad message: each kind has its own WARN rate
 * limit, so a flood of one kind cannot hide another. */
enum s_kind {
    K_MALFORMED, /* not a link message */
    K_OVERSIZE,  /* over max_frame_bytes */
    K_SHAPE,     /* the wrong frames, or a broker-to-gateway kind */
};

/* Counts and (rate-limited per kind) reports one bad message; the
 * sender is named when it is an admitted gateway. */
static void
s_garbage_from(gwlink_t *self, const uint8_t *rid, size_t rid_len,
               enum s_kind kind, const char *why, int64_t now_ms)
{
    self->counters.garbage++;
    uint64_t skipped = 0;
    if (!cdt_ratelog_allow(&self->garbage_log[kind], now_ms, &skipped))
        return;
    const gw_t *gw = rid && rid_len > 0 && rid_len <= RID_MAX
                         ? s_find(self, rid, rid_len)
                         : NULL;
    cdt_log_warn("dropping a message on 'gateway_link' from %s%s%s: %s "
                 "(%" PRIu64 " more since the last report)",
                 gw ? "gateway '" : "an unregistered peer", gw ? gw->name : "",
                 gw ? "'" : "", why, skipped);
}

void
gwlink_handle(gwlink_t *self, const uint8_t *rid, size_t rid_len,
              const uint8_t *buf, size_t len, int64_t now_ms)
{
    assert(self);
    if (rid_len == 0 || rid_len > RID_MAX) {
        s_garbage_from(self, NULL, 0, K_SHAPE, "bad routing id", now_ms);
        return;
    }
    if (self->ctx.max_frame_bytes > 0 && len > self->ctx.max_frame_bytes) {
        char why[96];
        snprintf(why, sizeof why, "message too large (%zu bytes, limit %zu)",
                 len, self->ctx.max_frame_bytes);
        self->counters.oversize++;
        s_garbage_from(self, rid, rid_len, K_OVERSIZE, why, now_ms);
        return;
    }
    cdt_link_msg_t m;
    if (cdt_link_decode(buf, len, &self->zone, &m) != 0) {
        s_garbage_from(self, rid, rid_len, K_MALFORMED,
                       len == 0 ? "an empty frame"
                                : "not a link message (malformed or truncated "
                                  "MessagePack, or the wrong shape)",
                       now_ms);
        msgpack_zone_clear(&self->zone);
        return;
    }
    cdt_buf_reset(&self->out);
    gw_t *gw = s_find(self, rid, rid_len);
    if (gw)
        gw->last_seen_ms = now_ms;
    switch (m.kind) {
    case CDT_LINK_HELLO:
        s_on_hello(self, rid, rid_len, &m, now_ms);
        break;
    case CDT_LINK_AUTH:
        s_on_auth(self, rid, rid_len, &m);
        break;
    case CDT_LINK_PING:
    case CDT_LINK_CONN_OPEN:
    case CDT_LINK_CONN_CLOSE:
    case CDT_LINK_INVOKE:
        if (!gw) {
            /* Unknown here: make the gateway say HELLO (and replay). */
            cdt_link_encode_pong(&self->out, self->ctx.incarnation + 1);
            s_reply(self, rid, rid_len);
            if (m.kind == CDT_LINK_CONN_OPEN) {
                cdt_link_encode_conn_ready(&self->out, m.conn_id, 503,
                                           "gateway not registered", NULL, 0);
                s_reply(self, rid, rid_len);
            } else if (m.kind == CDT_LINK_INVOKE) {
                int mlen = m.method.len > 1024 ? 1024 : (int)m.method.len;
                char *e = cdt_xasprintf("An unexpected error occurred "
                                        "invoking '%.*s' on the server.",
                                        mlen, m.method.ptr);
                cdt_link_encode_invoke_rep(&self->out, m.req_id, m.conn_id,
                                           false, NULL, 0, e, NULL, 0, NULL, 0);
                free(e);
                s_reply(self, rid, rid_len);
            }
            break;
        }
        if (m.kind == CDT_LINK_PING) {
            cdt_link_encode_pong(&self->out, gw->session);
            s_reply(self, rid, rid_len);
        } else if (m.kind == CDT_LINK_CONN_OPEN)
            s_on_conn_open(self, gw, &m);
        else if (m.kind == CDT_LINK_CONN_CLOSE)
            s_on_conn_close(self, gw, &m);
        else
            s_on_invoke(self, gw, &m);
        break;
    default:
        s_garbage_from(self, rid, rid_len, K_SHAPE, "a broker-to-gateway kind",
                       now_ms);
        break;
    }
    msgpack_zone_clear(&self->zone);
}

/* Reads and handles up to BATCH messages. */
static void
s_read(gwlink_t *self, int64_t now_ms)
{
    void *s = zsock_resolve(self->sock);
    for (int i = 0; i < BATCH; i++) {
        zmq_msg_t rid, body;
        zmq_msg_init(&rid);
        if (zmq_msg_recv(&rid, s, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close(&rid);
            return;
        }
        if (!zmq_msg_more(&rid)) {
            s_garbage_from(self, zmq_msg_data(&rid), zmq_msg_size(&rid),
                           K_SHAPE, "no body frame", now_ms);
            zmq_msg_close(&rid);
            continue;
        }
        zmq_msg_init(&body);
        if (zmq_msg_recv(&body, s, 0) == -1) {
            zmq_msg_close(&rid);
            zmq_msg_close(&body);
            return;
        }
        if (zmq_msg_more(&body)) {
            /* Several body frames: not a link message. Drain the rest. */
            s_garbage_from(self, zmq_msg_data(&rid), zmq_msg_size(&rid),
                           K_SHAPE, "more than one body frame", now_ms);
            while (zmq_msg_more(&body) && zmq_msg_recv(&body, s, 0) != -1)
                ;
        } else {
            gwlink_handle(self, zmq_msg_data(&rid), zmq_msg_size(&rid),
                          zmq_msg_data(&body), zmq_msg_size(&body), now_ms);
        }
        zmq_msg_close(&rid);
        zmq_msg_close(&body);
    }
}

void
gwlink_on_readable(gwlink_t *self, int64_t now_ms)
{
    assert(self);
    s_read(self, now_ms);
    gwlink_flush(self);
}

const gwlink_counters_t *
gwlink_counters(const gwlink_t *self)
{
    return &self->counters;
}
