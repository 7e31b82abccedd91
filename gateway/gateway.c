/*
 * gateway - conduit-gateway: the loop, the timers, the broker's messages
 * and the table of requests waiting for the broker.
 *
 * One lws context, one vhost, one protocol for HTTP and WebSockets alike
 * (SignalR clients never name a subprotocol, so the upgrade binds to the
 * first protocol) and two raw-file protocols: the broker link's descriptor
 * (upstream.c) and our own listening socket (listener.c). The loop runs on
 * libev (epoll) when lws' evlib plugin is there: lws' own loop poll()s
 * every descriptor on every iteration, which dominates the CPU with
 * thousands of connections. A 100 ms lws_sul tick drives link heartbeats,
 * request deadlines and token expiry, which are O(expired) because every
 * request and every token has the same lifetime (a FIFO is a deadline queue);
 * once a second the tick also walks the dense connection slot array for
 * keep-alive pings and timeouts, touching a connection only when one of
 * its two deadlines is due.
 *
 * Fan-out: an EVENT's JSON frame is written once, from the arguments'
 * MessagePack it carries (cdt_link_build_json_frame_args), when its first
 * local member is found, into a refcounted frame, and each member's queue
 * takes a reference; a connection in several of the event's groups
 * receives it once (a per-event stamp).
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/gateway_int.h"

#define CDT_LOG_MODULE "gateway"
#include "common/cdt_clock.h"
#include "common/cdt_log.h"
#include "common/cdt_mem.h"
#include "gateway/httputil.h"
#include "gateway/hubproto_json.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINK_PROTOCOL   "conduit-link"
#define ACCEPT_PROTOCOL "conduit-accept"

gateway_t *
gw_from_wsi(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

const cdt_hub_t *
gw_hub(const gateway_t *gw, uint32_t index)
{
    assert(index < gw->catalog->n_hubs);
    return &gw->catalog->hubs[index];
}

int
gw_link_send(gateway_t *gw)
{
    return upstream_send(gw->link, &gw->linkbuf);
}

void
gw_wbuf_reserve(gateway_t *gw, size_t n)
{
    if (gw->wbuf_cap >= n)
        return;
    gw->wbuf = cdt_xrealloc(gw->wbuf, LWS_PRE + n);
    gw->wbuf_cap = n;
}

/* ---- requests waiting for the broker ------------------------------------- */

req_t *
gw_req_new(gateway_t *gw, enum req_kind kind)
{
    req_t *req = cdt_xcalloc(1, sizeof *req);
    do {
        req->id = ++gw->next_req_id;
    } while (req->id == 0 || gw_req_find(gw, req->id));
    req->kind = (uint8_t)kind;
    req->deadline_ms = cdt_clock_mono_ms() + gw->cfg->gateway_invoke_timeout_ms;
    req->prev = gw->req_tail;
    if (gw->req_tail)
        gw->req_tail->next = req;
    else
        gw->req_head = req;
    gw->req_tail = req;
    hmap_insert(&gw->reqs, &req->node, hmap_hash_u64(req->id));
    return req;
}

req_t *
gw_req_find(gateway_t *gw, uint32_t id)
{
    for (hnode_t *n = hmap_first(&gw->reqs, hmap_hash_u64(id)); n;
         n = hmap_next_same(n)) {
        req_t *req = hmap_entry(n, req_t, node);
        if (req->id == id)
            return req;
    }
    return NULL;
}

void
gw_req_free(gateway_t *gw, req_t **req_p)
{
    req_t *req = *req_p;
    if (!req)
        return;
    if (req->prev)
        req->prev->next = req->next;
    else
        gw->req_head = req->next;
    if (req->next)
        req->next->prev = req->prev;
    else
        gw->req_tail = req->prev;
    hmap_remove(&gw->reqs, &req->node);
    if (req->http)
        req->http->req_id = 0;
    free(req->inv_id);
    free(req->method);
    free(req);
    *req_p = NULL;
}

/* The broker did not answer (deadline) or cannot (link down). */
static void
s_req_fail(gateway_t *gw, req_t *req)
{
    conn_t *c;
    switch (req->kind) {
    case REQ_AUTH_HTTP:
        http_auth_fail(gw, req, 503);
        break;
    case REQ_AUTH_WS:
        c = conn_find(gw, req->conn_id);
        if (c && c->req_id == req->id)
            conn_auth_fail(gw, c);
        break;
    case REQ_OPEN:
        c = conn_find(gw, req->conn_id);
        if (c && c->req_id == req->id)
            conn_open_timeout(gw, c);
        break;
    case REQ_INVOKE:
        gw->m.invoke_timeouts++;
        conn_invoke_fail(gw, req);
        break;
    default:
        break;
    }
}

static void
s_expire_requests(gateway_t *gw, int64_t now)
{
    while (gw->req_head && gw->req_head->deadline_ms <= now) {
        req_t *req = gw->req_head;
        s_req_fail(gw, req);
        gw_req_free(gw, &req);
    }
}

/* ---- the broker link ----------------------------------------------------- */

/* The SignalR frame of an EVENT, written once for all its members;
 * NULL (counted, logged at most once a second) when its arguments are
 * not what the broker checked them to be. */
static frame_t *
s_event_frame(gateway_t *gw, const cdt_link_msg_t *msg)
{
    cdt_link_pair_t pairs[CDT_LINK_MAX_ADD];
    cdt_link_args_t a;
    cdt_link_event_args(msg, pairs, &a);
    cdt_buf_reset(&gw->tmp);
    if (cdt_link_build_json_frame_args(&gw->tmp, msg->target.ptr,
                                       msg->target.len, &a, NULL) == 0)
        return frame_new(gw->tmp.data, gw->tmp.len);
    gw->m.events_unwritable++;
    uint64_t quiet = 0;
    if (cdt_ratelog_allow(&gw->unwritable_log, cdt_clock_mono_ms(), &quiet))
        cdt_log_warn("dropping event '%.*s' seq %llu: its arguments are not "
                     "one MessagePack value (%llu more since the last report)",
                     (int)(msg->target.len > 256 ? 256 : msg->target.len),
                     msg->target.ptr, (unsigned long long)msg->seq,
                     (unsigned long long)quiet);
    return NULL;
}

static void
s_on_event(gateway_t *gw, const cdt_link_msg_t *msg)
{
    gw->m.events++;
    gw->last_event_seq = msg->seq;
    const cdt_hub_t *hub =
        cdt_catalog_hub(gw->catalog, msg->hub.ptr, msg->hub.len);
    if (!hub) {
        gw->m.events_unrouted++;
        return;
    }
    gw->events_by_hub[hub->index]++;
    uint64_t stamp = ++gw->next_stamp;
    frame_t *frame = NULL;
    for (size_t i = 0; i < msg->groups.n; i++) {
        cdt_str_t name = cdt_strv_at(msg->groups, i);
        gi_group_t *g =
            groupidx_find(gw->groups, (uint32_t)hub->index, name.ptr, name.len);
        if (!g)
            continue;
        for (gi_member_t *m = gi_group_first(g); m; m = gi_member_next(m)) {
            conn_t *c = gi_member_owner(m);
            if (c->stamp == stamp)
                continue;
            c->stamp = stamp;
            if (!frame && !(frame = s_event_frame(gw, msg)))
                return;
            if (conn_deliver(gw, c, frame))
                gw->m.deliveries++;
        }
    }
    if (!frame)
        gw->m.events_unrouted++;
    frame_unref(&frame);
}

static void
s_on_kick(gateway_t *gw, const cdt_link_msg_t *msg)
{
    gw->m.kicks++;
    char reason[512];
    snprintf(reason, sizeof reason, "%.*s", (int)msg->reason.len,
             msg->reason.ptr);
    size_t n = 0;
    for (size_t i = 0; i < gw->n_slots; i++) {
        conn_t *c = gw->slots[i].c;
        if (c->phase == PH_AUTH || c->key_id != msg->key_id)
            continue;
        conn_close_with(gw, c, reason[0] ? reason : "Unauthorized", false);
        n++;
    }
    cdt_log_info("key %lld revoked: closing %zu connection(s)",
                 (long long)msg->key_id, n);
}

static void
s_on_link_msg(void *arg, const cdt_link_msg_t *msg)
{
    gateway_t *gw = arg;
    req_t *req;
    conn_t *c;
    switch (msg->kind) {
    case CDT_LINK_EVENT:
        s_on_event(gw, msg);
        break;
    case CDT_LINK_DIRECT:
        gw->m.directs++;
        c = conn_find(gw, msg->conn_id);
        if (c && c->phase == PH_READY && msg->json.len) {
            frame_t *f = frame_new(msg->json.ptr, msg->json.len);
            if (conn_deliver(gw, c, f))
                gw->m.deliveries++;
            frame_unref(&f);
        }
        break;
    case CDT_LINK_AUTH_REP:
        req = gw_req_find(gw, msg->req_id);
        if (!req)
            break; /* answered too late: the client was told already */
        if (req->kind == REQ_AUTH_HTTP) {
            http_auth_reply(gw, req, msg);
        } else if (req->kind == REQ_AUTH_WS) {
            c = conn_find(gw, req->conn_id);
            if (c && c->req_id == req->id)
                conn_auth_reply(gw, c, msg);
        }
        gw_req_free(gw, &req);
        break;
    case CDT_LINK_CONN_READY:
        c = conn_find(gw, msg->conn_id);
        if (c)
            conn_ready(gw, c, msg);
        break;
    case CDT_LINK_INVOKE_REP:
        conn_invoke_reply(gw, msg);
        break;
    case CDT_LINK_KICK:
        s_on_kick(gw, msg);
        break;
    default:
        break;
    }
}

/* What a drain of the link queued leaves now, not after a loop turn. */
static void
s_on_link_batch(void *arg)
{
    (void)conn_flush(arg);
}

static void
s_on_link_state(void *arg, bool up)
{
    gateway_t *gw = arg;
    if (!up) {
        /* nobody will answer what is pending, except CONN_OPENs, which
         * the replay repeats: fail the rest now rather than at their
         * deadline */
        req_t *req = gw->req_head;
        while (req) {
            req_t *next = req->next;
            if (req->kind != REQ_OPEN) {
                s_req_fail(gw, req);
                gw_req_free(gw, &req);
            }
            req = next;
        }
        return;
    }
    if (gw->n_slots) {
        gw->m.replays++;
        cdt_log_notice("replaying %zu connection(s) to the broker",
                       gw->n_slots);
    }
    for (size_t i = 0; i < gw->n_slots; i++)
        conn_replay(gw, gw->slots[i].c);
}

/* ---- timers -------------------------------------------------------------- */

static void
s_scan(gateway_t *gw, int64_t now)
{
    /* conn_tick never removes a slot: closes happen in lws callbacks */
    for (size_t i = 0; i < gw->n_slots; i++) {
        cslot_t *s = &gw->slots[i];
        if ((s->deadline_ms && now >= s->deadline_ms) ||
            now - s->send_ms >= gw->cfg->gateway_keepalive_ms)
            conn_tick(gw, s, now);
    }
    limits_ipmap_expire(&gw->ip_rates, now);
}

static void
s_tick(lws_sorted_usec_list_t *sul)
{
    gateway_t *gw = lws_container_of(sul, gateway_t, sul_tick);
    int64_t now = cdt_clock_mono_ms();
    gw->now_ms = now;
    upstream_tick(gw->link, now);
    s_expire_requests(gw, now);
    tokens_expire(gw->tokens, now);
    if (now >= gw->next_scan_ms) {
        s_scan(gw, now);
        gw->next_scan_ms = now + 1000;
    }
    lws_sul_schedule(gw->ctx, 0, &gw->sul_tick, s_tick,
                     GW_TICK_MS * LWS_US_PER_MS);
}

/* ---- lws ----------------------------------------------------------------- */

static void
s_stop_cb(lws_sorted_usec_list_t *sul)
{
    gateway_t *gw = lws_container_of(sul, gateway_t, sul_stop);
    cdt_log_notice("stopping with %zu connection(s)", gw->n_slots);
    /* with an event library lws_service runs the loop until the context
     * is destroyed: this first destroy closes every connection (each sends
     * CONN_CLOSE) and ends the loop; gateway_destroy finishes it. The poll
     * loop just sees the flag. */
    if (gw->evlib)
        lws_context_destroy(gw->ctx);
}

static int
s_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
               void *in, size_t len)
{
    gateway_t *gw = gw_from_wsi(wsi);
    pss_t *pss = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        if (in && strcmp(in, "websocket") != 0)
            return -1;
        return http_confirm_upgrade(gw, wsi);
    case LWS_CALLBACK_ESTABLISHED:
        return conn_established(gw, wsi, pss);
    case LWS_CALLBACK_RECEIVE:
        return pss->conn ? conn_receive(gw, pss->conn, in, len) : -1;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        /* lws answers the close itself; this only tells conn_closed that
         * the client ended it (not a frame lws refused) */
        if (pss && pss->conn)
            pss->conn->flags |= CF_PEER_CLOSED;
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return pss->conn ? conn_writeable(gw, pss->conn) : 0;
    case LWS_CALLBACK_CLOSED:
        if (pss && pss->conn) {
            conn_closed(gw, pss->conn);
            pss->conn = NULL;
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        /* a flush that yielded midway goes on (conn_flush) */
        if (gw->flush_scheduled) {
            lws_sul_cancel(&gw->sul_flush);
            gw->flush_scheduled = false;
            (void)conn_flush(gw);
        }
        /* gateway_stop woke the loop (maybe from a signal handler): stop
         * from a timer, outside any connection's callback */
        if (gw->stop && !gw->stopping) {
            gw->stopping = true;
            lws_sul_schedule(gw->ctx, 0, &gw->sul_stop, s_stop_cb, 1);
        }
        return 0;
    default:
        return http_callback(gw, wsi, reason, pss, in, len);
    }
}

static void
s_lws_log(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    cdt_log_write(level == LLL_ERR ? CDT_LOG_ERROR : CDT_LOG_WARN, "lws",
                  "%.*s", (int)n, line);
}

/* lws' default policy arms a per-connection "validity" timer, kept in one
 * sorted list: with thousands of connections every insert walks the list.
 * SignalR has its own keep-alive and client timeout, so it is off. */
static const lws_retry_bo_t s_no_validity = {
    .secs_since_valid_ping = 0,
    .secs_since_valid_hangup = 0,
};

static frame_t *
s_close_frame(const char *error, bool allow_reconnect)
{
    cdt_buf_t b = CDT_BUF_INIT;
    hubproto_json_close(&b, error, allow_reconnect);
    frame_t *f = frame_new(b.data, b.len);
    cdt_buf_release(&b);
    return f;
}

static bool
s_set(const char *s)
{
    return s && *s;
}

static int
s_check_readable(const char *key, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        cdt_log_error("cannot read %s '%s': %s", key, path, strerror(errno));
        return -1;
    }
    fclose(f);
    return 0;
}

int
gateway_check_config(const cdt_config_t *cfg)
{
    int rc = 0;
    char host[256];
    int port;
    if (httputil_parse_listen(cfg->gateway_listen, host, sizeof host, &port) !=
        0) {
        cdt_log_error("invalid gateway.listen '%s': expected host:port",
                      cfg->gateway_listen);
        rc = -1;
    }
    if (s_set(cfg->gateway_tls_cert) != s_set(cfg->gateway_tls_key)) {
        cdt_log_error("gateway.tls_cert and gateway.tls_key go together");
        rc = -1;
    } else if (s_set(cfg->gateway_tls_cert) &&
               (s_check_readable("gateway.tls_cert", cfg->gateway_tls_cert) !=
                    0 ||
                s_check_readable("gateway.tls_key", cfg->gateway_tls_key) !=
                    0)) {
        rc = -1;
    }
    if (s_set(cfg->gateway_curve_cert) !=
        s_set(cfg->gateway_curve_server_public)) {
        cdt_log_error("gateway.curve_cert and gateway.curve_server_public go "
                      "together");
        rc = -1;
    } else if (s_set(cfg->gateway_curve_cert) &&
               upstream_check_curve(cfg->gateway_curve_cert,
                                    cfg->gateway_curve_server_public) != 0) {
        rc = -1;
    }
    return rc;
}

gateway_t *
gateway_new(const cdt_config_t *cfg, cdt_catalog_t **catalog_p)
{
    assert(catalog_p && *catalog_p);
    gateway_t *self = cdt_xcalloc(1, sizeof *self);
    self->cfg = cfg;
    self->catalog = *catalog_p;
    *catalog_p = NULL;
    outq_pool_init(&self->pool);
    self->tokens = tokens_new(cfg->gateway_negotiate_ttl_ms);
    self->groups = groupidx_new();
    self->conns_by_hub =
        cdt_xcalloc(self->catalog->n_hubs + 1, sizeof *self->conns_by_hub);
    self->events_by_hub =
        cdt_xcalloc(self->catalog->n_hubs + 1, sizeof *self->events_by_hub);
    limits_ipmap_init(&self->ip_rates);
    self->hdrbuf_size = (size_t)cfg->gateway_max_header_bytes + 1;
    for (size_t i = 0; i < 5; i++)
        self->hdrbuf[i] = cdt_xmalloc(self->hdrbuf_size);
    if (cfg->gateway_static_dir && *cfg->gateway_static_dir)
        self->static_dir = cdt_config_path(cfg, cfg->gateway_static_dir);
    self->wbuf_cap = GW_COALESCE_BYTES;
    self->wbuf = cdt_xmalloc(LWS_PRE + self->wbuf_cap);

    cdt_buf_t b = CDT_BUF_INIT;
    hubproto_json_ping(&b);
    self->ping_frame = frame_new(b.data, b.len);
    cdt_buf_release(&b);
    /* both reasons are the server's view: the client may reconnect */
    char text[200];
    snprintf(text, sizeof text,
             "Connection closed with an error. Client timeout: nothing "
             "received for %lld ms.",
             (long long)cfg->gateway_client_timeout_ms);
    self->timeout_frame = s_close_frame(text, true);
    snprintf(text, sizeof text,
             "Connection closed with an error. Slow consumer: more than %lld "
             "bytes waiting to be sent.",
             (long long)cfg->gateway_max_queue_bytes);
    self->slow_frame = s_close_frame(text, true);

    if (httputil_parse_listen(cfg->gateway_listen, self->host,
                              sizeof self->host, &self->port) != 0) {
        cdt_log_error("invalid gateway.listen '%s': expected host:port",
                      cfg->gateway_listen);
        goto fail;
    }

    char name[300];
    if (cfg->gateway_name && *cfg->gateway_name) {
        snprintf(name, sizeof name, "%s", cfg->gateway_name);
    } else {
        char host[256] = "localhost";
        (void)gethostname(host, sizeof host - 1);
        host[sizeof host - 1] = '\0';
        snprintf(name, sizeof name, "%s:%d", host, (int)getpid());
    }
    self->link = upstream_new(
        cfg->gateway_broker, name, cfg->gateway_curve_cert,
        cfg->gateway_curve_server_public, s_on_link_msg, s_on_link_state, self);
    if (self->link)
        upstream_on_batch(self->link, s_on_link_batch);
    if (!self->link)
        goto fail;

    self->listener =
        listener_new(self->host, self->port, cfg->gateway_reuseport);
    if (!self->listener)
        goto fail;

    lws_set_log_level(LLL_ERR | LLL_WARN, s_lws_log);

    self->protocols[0] = (struct lws_protocols){
        .name = "signalr",
        .callback = s_lws_callback,
        .per_session_data_size = sizeof(pss_t),
        .rx_buffer_size = (size_t)cfg->gateway_rx_buffer_bytes,
        /* 0 would cap every send() at rx_buffer_size, defeating the
         * coalescing of frames into one write */
        .tx_packet_size = GW_COALESCE_BYTES + 64,
    };
    self->protocols[1] = (struct lws_protocols){
        .name = LINK_PROTOCOL,
        .callback = upstream_lws_callback,
        .user = self->link,
    };
    self->protocols[2] = (struct lws_protocols){
        .name = ACCEPT_PROTOCOL,
        .callback = listener_lws_callback,
        .user = self->listener,
    };

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    /* lws serves what listener.c accepts (see there for why) */
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = self->protocols;
    info.user = self;
    /* lws keeps the request head in one buffer of this size and closes
     * the connection, without an answer, when a head does not fit */
    int64_t hdr = cfg->gateway_max_header_bytes;
    if (hdr > UINT16_MAX) {
        cdt_log_warn("gateway.max_header_bytes %lld is more than lws can "
                     "hold: using %u",
                     (long long)hdr, (unsigned)UINT16_MAX);
        hdr = UINT16_MAX;
    }
    info.max_http_header_data = (unsigned short)hdr;
    info.max_http_header_pool = 0;
    /* a connection that has not sent a whole request head by then is
     * closed: the handshake timeout covers the HTTP part too */
    info.timeout_secs_ah_idle =
        (unsigned int)((cfg->gateway_handshake_timeout_ms + 999) / 1000);
    info.keepalive_timeout = 5;
    info.retry_and_idle_policy = &s_no_validity;
    info.options = 0;
    if (cfg->gateway_tls_cert && *cfg->gateway_tls_cert) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = cfg->gateway_tls_cert;
        info.ssl_private_key_filepath = cfg->gateway_tls_key;
        self->tls = true;
    }
    /* lws' own loop poll()s every descriptor on every iteration, which
     * with thousands of connections costs more than the work itself;
     * libev (epoll) only looks at the active ones. Without the plugin,
     * fall back to poll(). */
    if (!getenv("CONDUIT_GATEWAY_POLL")) {
        info.options |= LWS_SERVER_OPTION_LIBEV;
        self->ctx = lws_create_context(&info);
        self->evlib = self->ctx != NULL;
        info.options &= ~(uint64_t)LWS_SERVER_OPTION_LIBEV;
    }
    if (!self->ctx) {
        self->ctx = lws_create_context(&info);
        if (self->ctx && !getenv("CONDUIT_GATEWAY_POLL"))
            cdt_log_warn("the libev event loop is not available: using "
                         "poll()");
    }
    if (!self->ctx) {
        cdt_log_error("cannot create the lws context");
        goto fail;
    }
    self->vhost = lws_get_vhost_by_name(self->ctx, "default");
    if (!self->vhost) {
        cdt_log_error("no default vhost");
        goto fail;
    }
    if (upstream_attach(self->link, self->ctx, self->vhost, LINK_PROTOCOL) !=
            0 ||
        listener_attach(self->listener, self->vhost, ACCEPT_PROTOCOL) != 0)
        goto fail;
    self->now_ms = cdt_clock_mono_ms();
    self->next_scan_ms = self->now_ms + 1000;
    lws_sul_schedule(self->ctx, 0, &self->sul_tick, s_tick,
                     GW_TICK_MS * LWS_US_PER_MS);
    cdt_log_notice("listening on %s://%s:%d/ (%zu hubs, broker '%s', %s)",
                   self->tls ? "https" : "http", self->host, self->port,
                   self->catalog->n_hubs, cfg->gateway_broker,
                   self->evlib ? "libev" : "poll");
    return self;
fail:
    gateway_destroy(&self);
    return NULL;
}

void
gateway_destroy(gateway_t **self_p)
{
    assert(self_p);
    gateway_t *self = *self_p;
    if (!self)
        return;
    /* closes every connection through the callbacks (CONN_CLOSE goes out
     * while the link still exists) and the adopted link descriptor */
    if (self->ctx)
        lws_context_destroy(self->ctx);
    while (self->req_head) {
        req_t *req = self->req_head;
        gw_req_free(self, &req);
    }
    upstream_destroy(&self->link);
    listener_destroy(&self->listener);
    tokens_destroy(&self->tokens);
    groupidx_destroy(&self->groups);
    frame_unref(&self->ping_frame);
    frame_unref(&self->timeout_frame);
    frame_unref(&self->slow_frame);
    outq_pool_release(&self->pool);
    hmap_release(&self->conns);
    hmap_release(&self->reqs);
    limits_ipmap_release(&self->ip_rates);
    free(self->slots);
    dirtyq_release(&self->dirty);
    free(self->conns_by_hub);
    free(self->events_by_hub);
    for (size_t i = 0; i < 5; i++)
        free(self->hdrbuf[i]);
    free(self->static_dir);
    free(self->wbuf);
    cdt_buf_release(&self->scratch);
    cdt_buf_release(&self->linkbuf);
    cdt_buf_release(&self->tmp);
    cdt_catalog_destroy(&self->catalog);
    free(self);
    *self_p = NULL;
}

int
gateway_run(gateway_t *self)
{
    while (!self->stop) {
        if (lws_service(self->ctx, 0) < 0) {
            cdt_log_error("the lws loop failed");
            return -1;
        }
        if (self->evlib)
            break; /* the event library's loop has ended */
    }
    return 0;
}

void
gateway_stop(gateway_t *self)
{
    self->stop = 1;
    if (self->ctx)
        lws_cancel_service(self->ctx);
}
