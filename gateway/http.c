/*
 * http - the gateway's HTTP surface: POST {hub}/negotiate, the checks on a
 * WebSocket upgrade, CORS, /healthz, /metrics and the static dashboard.
 *
 * Authentication. The credential is taken from the `access_token` query
 * argument, else `Authorization: Bearer`, else `X-API-Key`, else the
 * `api_key` query argument; the decision comes from the broker (AUTH ->
 * AUTH_REP), so negotiate answers asynchronously: the request is parked
 * (an hreq_t on the session) and written from HTTP_WRITEABLE when the
 * reply arrives, or with 503 when the link is down or the broker does not
 * answer within gateway.invoke_timeout_ms. A request without any
 * credential gets 401 at once, without asking.
 *
 * Admission. Negotiate, preflight and upgrade with an Origin not in a
 * non-empty gateway.cors_origins get 403 without CORS headers (clients
 * that send no Origin, i.e. not browsers, are not affected). Negotiate
 * and upgrade over gateway.max_connections get 503. A connection attempt
 * -- a negotiate, or an upgrade without `id=` (skipNegotiation) -- over
 * gateway.connects_per_ip_per_sec gets 429; an upgrade with `id=` was
 * counted at its negotiate. A request head over gateway.max_header_bytes
 * is closed by lws without an answer, and one it cannot parse gets lws'
 * 403; both are counted as protocol errors of kind http. Every refusal is
 * counted in /metrics.
 *
 * WebSocket upgrades are checked in LWS_CALLBACK_HTTP_CONFIRM_UPGRADE,
 * where lws 4.1 still lets us answer with a plain HTTP status (we write the
 * response and return 1): unknown hub 404, then the admission checks
 * above. With `id=` the negotiate token must
 * exist for this hub, or be one another gateway of the same broker signed
 * (tokens.h), (404 "No Connection with that ID" otherwise, 409 if already
 * in use) and the broker's decision bound to it is used. Without
 * `id` (skipNegotiation) a request carrying no credential is refused with
 * 401 right there; one that carries a credential is accepted, and conn.c
 * asks the broker, holding back the SignalR handshake answer until the
 * decision: a refusal closes the WebSocket with 1008 "Unauthorized" and
 * nothing SignalR-level, because the 101 has been sent by then and lws
 * offers no way to defer it.
 *
 * Tokens and keys are never logged.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/gateway_int.h"

#define CDT_LOG_MODULE "http"
#include "common/cdt_clock.h"
#include "common/cdt_json.h"
#include "common/cdt_log.h"
#include "common/cdt_mem.h"
#include "gateway/httputil.h"
#include "gateway/negotiate.h"
#include "gateway/tcpinfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum method {
    M_OTHER = 0,
    M_GET,
    M_POST,
    M_OPTIONS,
    M_DELETE,
    M_HEAD
};

static enum method
s_method(struct lws *wsi)
{
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI))
        return M_GET;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI))
        return M_POST;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI))
        return M_OPTIONS;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI))
        return M_DELETE;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI))
        return M_HEAD;
    return M_OTHER;
}

const char *
http_arg(gateway_t *gw, struct lws *wsi, const char *name, char *buf,
         size_t size)
{
    char *frag = gw->hdrbuf[4];
    for (int i = 0;; i++) {
        int n = lws_hdr_copy_fragment(wsi, frag, (int)gw->hdrbuf_size,
                                      WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0)
            return NULL;
        const char *value;
        if (httputil_arg_match(frag, name, &value)) {
            snprintf(buf, size, "%s", value);
            return buf;
        }
    }
}

int
http_credential(gateway_t *gw, struct lws *wsi, const char **tok, size_t *len)
{
    size_t size = gw->hdrbuf_size;
    httputil_creds_t in = {NULL, NULL, NULL, NULL};
    in.access_token_q = http_arg(gw, wsi, "access_token", gw->hdrbuf[0], size);
    if (lws_hdr_copy(wsi, gw->hdrbuf[1], (int)size,
                     WSI_TOKEN_HTTP_AUTHORIZATION) > 0)
        in.authorization = gw->hdrbuf[1];
    if (lws_hdr_custom_copy(wsi, gw->hdrbuf[2], (int)size, "x-api-key:", 10) >
        0)
        in.api_key_hdr = gw->hdrbuf[2];
    in.api_key_q = http_arg(gw, wsi, "api_key", gw->hdrbuf[3], size);
    return (int)httputil_pick_credential(&in, tok, len);
}

/* The request's Origin if it may be echoed (present and allowed), copied
 * into buf; NULL otherwise. *refused tells an Origin was present but not
 * allowed. */
static const char *
s_origin(gateway_t *gw, struct lws *wsi, char *buf, size_t size, bool *refused)
{
    *refused = false;
    if (lws_hdr_copy(wsi, buf, (int)size, WSI_TOKEN_ORIGIN) <= 0)
        return NULL;
    if (!httputil_origin_allowed(gw->cfg->gateway_cors_origins, buf)) {
        *refused = true;
        return NULL;
    }
    return buf;
}

static int
s_add_header(struct lws *wsi, const char *name, const char *value, uint8_t **p,
             uint8_t *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value,
                                       (int)strlen(value), p, end);
}

/* Writes a whole response. complete: finish the transaction (normal
 * requests) or not (a refused upgrade: lws does that). Returns 0, or -1
 * when the connection must close. */
static int
s_respond(gateway_t *gw, struct lws *wsi, unsigned status, const char *ctype,
          const void *body, size_t len, const char *origin,
          const char *preflight_headers, bool complete)
{
    uint8_t hdr[LWS_PRE + 2048];
    uint8_t *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
    if (lws_add_http_common_headers(wsi, status, ctype, len, &p, end))
        return -1;
    if (s_add_header(wsi, "cache-control:", "no-cache, no-store", &p, end))
        return -1;
    if (origin) {
        if (s_add_header(wsi, "access-control-allow-origin:", origin, &p,
                         end) ||
            s_add_header(wsi, "access-control-allow-credentials:", "true", &p,
                         end) ||
            s_add_header(wsi, "vary:", "Origin", &p, end))
            return -1;
        if (preflight_headers &&
            (s_add_header(wsi, "access-control-allow-methods:",
                          "GET, POST, DELETE", &p, end) ||
             (*preflight_headers &&
              s_add_header(wsi, "access-control-allow-headers:",
                           preflight_headers, &p, end)) ||
             s_add_header(wsi, "access-control-max-age:", "600", &p, end)))
            return -1;
    }
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    if (len) {
        gw_wbuf_reserve(gw, len);
        memcpy(gw->wbuf + LWS_PRE, body, len);
        if (lws_write(wsi, gw->wbuf + LWS_PRE, len, LWS_WRITE_HTTP_FINAL) <
            (int)len)
            return -1;
    }
    if (!complete)
        return 0;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int
s_text(gateway_t *gw, struct lws *wsi, unsigned status, const char *text,
       const char *origin)
{
    return s_respond(gw, wsi, status, "text/plain; charset=utf-8", text,
                     strlen(text), origin, NULL, true);
}

/* ---- admission limits ---------------------------------------------------- */

/* A connection attempt (a negotiate, or a skipNegotiation upgrade: an
 * upgrade with id= was counted at its negotiate) within the per-address
 * rate? Counts it, and the refusal. */
static bool
s_connect_allowed(gateway_t *gw, struct lws *wsi)
{
    int64_t limit = gw->cfg->gateway_connects_per_ip_per_sec;
    char ip[64] = "";
    lws_get_peer_simple(wsi, ip, sizeof ip);
    if (limits_ipmap_allow(&gw->ip_rates, ip, limit, cdt_clock_mono_ms()))
        return true;
    gw->m.refusals[LIMITS_REF_CONNECT_RATE]++;
    cdt_log_debug("refusing a connection from '%s': over %lld per second", ip,
                  (long long)limit);
    return false;
}

/* Room for one more WebSocket connection? Counts the refusal. */
static bool
s_room_for_one_more(gateway_t *gw)
{
    if ((int64_t)gw->n_slots < gw->cfg->gateway_max_connections)
        return true;
    gw->m.refusals[LIMITS_REF_MAX_CONNECTIONS]++;
    return false;
}

/* ---- negotiate ----------------------------------------------------------- */

static const char *
s_status_text(int status)
{
    switch (status) {
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 429:
        return "Too Many Requests";
    default:
        return "Service temporarily unavailable";
    }
}

static void
s_hreq_ready(hreq_t *h, int status, const char *ctype)
{
    h->status = status;
    h->ctype = ctype;
    h->ready = true;
    lws_callback_on_writable(h->wsi);
}

static void
s_hreq_fail(gateway_t *gw, hreq_t *h, int status)
{
    if (status == 401)
        gw->m.auth_failures++;
    else if (status != 404 && status != 429)
        gw->m.auth_unavailable++;
    cdt_buf_reset(&h->body);
    cdt_buf_append_str(&h->body, s_status_text(status));
    s_hreq_ready(h,
                 status == 401 || status == 404 || status == 429 ? status : 503,
                 "text/plain; charset=utf-8");
}

void
http_auth_fail(gateway_t *gw, req_t *req, int status)
{
    hreq_t *h = req->http;
    if (!h)
        return;
    req->http = NULL;
    h->req_id = 0;
    s_hreq_fail(gw, h, status);
}

/* upstream hands tokens.c the secret WELCOME carried */
_Static_assert(TOKEN_SECRET_LEN == CDT_LINK_SECRET_LEN,
               "the token secret is the link's");

void
http_auth_reply(gateway_t *gw, req_t *req, const cdt_link_msg_t *msg)
{
    hreq_t *h = req->http;
    if (!h)
        return; /* the client went away */
    req->http = NULL;
    h->req_id = 0;
    if (msg->status != 200) {
        s_hreq_fail(gw, h, (int)msg->status);
        return;
    }
    char cid[TOKEN_LEN + 1];
    token_t *t = NULL;
    if (tokens_random_id(cid) == 0) {
        if (h->version >= 1)
            t = tokens_issue(gw->tokens, upstream_token_secret(gw->link), cid,
                             h->hub, msg->key_id, msg->admin,
                             cdt_clock_mono_ms(), cdt_clock_wall_ms());
        else /* version 0 clients put the connectionId in id=: local only */
            t = tokens_add(gw->tokens, cid, cid, h->hub, msg->key_id,
                           msg->admin, cdt_clock_mono_ms());
    }
    if (!t) {
        cdt_log_error("no randomness for a connection token");
        s_hreq_fail(gw, h, 503);
        return;
    }
    cdt_buf_reset(&h->body);
    negotiate_response(&h->body, h->version, cid, t->token);
    s_hreq_ready(h, 200, "application/json");
}

static int
s_negotiate(gateway_t *gw, struct lws *wsi, pss_t *pss, const cdt_hub_t *hub,
            const char *origin)
{
    gw->m.negotiations++;
    char vbuf[64], err[256];
    const char *v = http_arg(gw, wsi, "negotiateVersion", vbuf, sizeof vbuf);
    int version;
    if (negotiate_version(v, &version, err, sizeof err) != 0) {
        cdt_buf_reset(&gw->tmp);
        negotiate_error(&gw->tmp, err);
        return s_respond(gw, wsi, 200, "application/json", gw->tmp.data,
                         gw->tmp.len, origin, NULL, true);
    }
    const char *tok;
    size_t tok_len;
    if (http_credential(gw, wsi, &tok, &tok_len) == CRED_NONE) {
        gw->m.auth_failures++;
        return s_text(gw, wsi, 401, "Unauthorized", origin);
    }
    if (!upstream_is_up(gw->link)) {
        gw->m.auth_unavailable++;
        return s_text(gw, wsi, 503, s_status_text(503), origin);
    }
    char peer[64] = "";
    lws_get_peer_simple(wsi, peer, sizeof peer);
    req_t *req = gw_req_new(gw, REQ_AUTH_HTTP);
    cdt_buf_reset(&gw->linkbuf);
    cdt_link_encode_auth(&gw->linkbuf, req->id, hub->name, tok, tok_len, peer);
    if (gw_link_send(gw) != 0) {
        gw_req_free(gw, &req);
        gw->m.auth_unavailable++;
        return s_text(gw, wsi, 503, s_status_text(503), origin);
    }
    hreq_t *h = cdt_xcalloc(1, sizeof *h);
    h->wsi = wsi;
    h->hub = (uint32_t)hub->index;
    h->version = version;
    h->origin = origin ? cdt_xstrdup(origin) : NULL;
    h->req_id = req->id;
    req->http = h;
    pss->http = h;
    /* our own deadline answers first; this only bounds lws' patience */
    lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT,
                    (int)(gw->cfg->gateway_invoke_timeout_ms / 1000) + 5);
    return 0;
}

static int
s_write_parked(gateway_t *gw, struct lws *wsi, pss_t *pss)
{
    hreq_t *h = pss->http;
    if (!h || !h->ready)
        return 0;
    pss->http = NULL;
    int rc = s_respond(gw, wsi, (unsigned)h->status, h->ctype, h->body.data,
                       h->body.len, h->origin, NULL, true);
    cdt_buf_release(&h->body);
    free(h->origin);
    free(h);
    return rc;
}

void
http_drop(gateway_t *gw, pss_t *pss)
{
    hreq_t *h = pss ? pss->http : NULL;
    if (!h)
        return;
    if (h->req_id) {
        req_t *req = gw_req_find(gw, h->req_id);
        if (req)
            req->http = NULL;
    }
    cdt_buf_release(&h->body);
    free(h->origin);
    free(h);
    pss->http = NULL;
}

/* ---- /healthz, /metrics, static files ------------------------------------ */

static int
s_healthz(gateway_t *gw, struct lws *wsi)
{
    cdt_buf_reset(&gw->tmp);
    bool up = upstream_is_up(gw->link);
    cdt_buf_printf(&gw->tmp,
                   "{\"status\":\"ok\",\"broker\":{\"link\":\"%s\","
                   "\"incarnation\":\"%016llx\"},\"connections\":%zu,"
                   "\"gateway\":\"%016llx\"}\n",
                   up ? "up" : "down",
                   (unsigned long long)upstream_broker_incarnation(gw->link),
                   gw->n_slots,
                   (unsigned long long)upstream_incarnation(gw->link));
    return s_respond(gw, wsi, 200, "application/json", gw->tmp.data,
                     gw->tmp.len, NULL, NULL, true);
}

static void
s_metric(cdt_buf_t *out, const char *name, const char *type, const char *help,
         uint64_t value)
{
    cdt_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help,
                   name, type, name, (unsigned long long)value);
}

/* HELP and TYPE of a labelled counter family (s_labelled adds samples). */
static void
s_family(cdt_buf_t *out, const char *name, const char *help)
{
    cdt_buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
}

static void
s_labelled(cdt_buf_t *out, const char *name, const char *label,
           const char *value, uint64_t n)
{
    cdt_buf_printf(out, "%s{%s=\"%s\"} %llu\n", name, label, value,
                   (unsigned long long)n);
}

void
http_metrics(gateway_t *gw, cdt_buf_t *out)
{
    const gw_metrics_t *m = &gw->m;
    const upstream_stats_t *ls = upstream_stats(gw->link);
    s_metric(out, "conduit_gateway_connections", "gauge",
             "Open WebSocket connections.", gw->n_slots);
    cdt_buf_printf(out, "# HELP conduit_gateway_connections_by_hub Open "
                        "WebSocket connections per hub.\n"
                        "# TYPE conduit_gateway_connections_by_hub gauge\n");
    for (size_t i = 0; i < gw->catalog->n_hubs; i++)
        cdt_buf_printf(out,
                       "conduit_gateway_connections_by_hub{hub=\"%s\"} "
                       "%llu\n",
                       gw->catalog->hubs[i].name,
                       (unsigned long long)gw->conns_by_hub[i]);
    s_metric(out, "conduit_gateway_connections_opened_total", "counter",
             "WebSocket connections accepted.", m->connections_opened);
    s_metric(out, "conduit_gateway_connections_closed_total", "counter",
             "WebSocket connections closed.", m->connections_closed);
    s_metric(out, "conduit_gateway_tcp_accepted_total", "counter",
             "TCP connections accepted.", listener_accepted(gw->listener));
    s_metric(out, "conduit_gateway_tcp_refused_total", "counter",
             "TCP connections closed at once for lack of descriptors.",
             listener_refused(gw->listener));
    s_metric(out, "conduit_gateway_negotiations_total", "counter",
             "Negotiate requests.", m->negotiations);
    s_metric(out, "conduit_gateway_auth_failures_total", "counter",
             "Requests refused for a missing or invalid credential.",
             m->auth_failures);
    s_metric(out, "conduit_gateway_auth_unavailable_total", "counter",
             "Requests refused because the broker did not decide in time.",
             m->auth_unavailable);
    s_metric(out, "conduit_gateway_messages_received_total", "counter",
             "Hub protocol messages received from clients.",
             m->messages_received);
    s_metric(out, "conduit_gateway_messages_sent_total", "counter",
             "Hub protocol frames written to clients.", m->messages_sent);
    s_metric(out, "conduit_gateway_ws_writes_total", "counter",
             "WebSocket messages written (after coalescing).", m->ws_writes);
    s_metric(out, "conduit_gateway_writes_partial_total", "counter",
             "Writes the socket took only in part (the rest waits in "
             "libwebsockets for the socket to drain).",
             m->writes_partial);
    s_metric(out, "conduit_gateway_writes_waited_total", "counter",
             "Flushes that waited for the socket (a previous write was "
             "still buffered).",
             m->writes_waited);
    s_metric(out, "conduit_gateway_flush_slices_total", "counter",
             "Flushes that yielded to the event loop before serving every "
             "waiting connection (the gateway was busy writing).",
             m->flush_slices);
    s_metric(out, "conduit_gateway_deliveries_total", "counter",
             "Event frames queued to a connection.", m->deliveries);
    s_metric(out, "conduit_gateway_events_total", "counter",
             "EVENT messages from the broker.", m->events);
    s_family(out, "conduit_gateway_events_by_hub_total",
             "EVENT messages from the broker per hub.");
    for (size_t i = 0; i < gw->catalog->n_hubs; i++)
        s_labelled(out, "conduit_gateway_events_by_hub_total", "hub",
                   gw->catalog->hubs[i].name, gw->events_by_hub[i]);
    s_metric(out, "conduit_gateway_events_unrouted_total", "counter",
             "EVENT messages with no local member.", m->events_unrouted);
    s_metric(out, "conduit_gateway_events_unwritable_total", "counter",
             "EVENT messages whose arguments could not be written as a "
             "JSON frame (dropped).",
             m->events_unwritable);
    s_metric(out, "conduit_gateway_directs_total", "counter",
             "DIRECT messages from the broker.", m->directs);
    s_metric(out, "conduit_gateway_kicks_total", "counter",
             "KICK messages from the broker.", m->kicks);
    s_metric(out, "conduit_gateway_invocations_total", "counter",
             "Hub method invocations from clients.", m->invocations);
    s_metric(out, "conduit_gateway_invoke_timeouts_total", "counter",
             "Invocations the broker did not answer in time.",
             m->invoke_timeouts);
    s_metric(out, "conduit_gateway_invoke_late_total", "counter",
             "Broker answers that came after their deadline.", m->invoke_late);
    s_metric(out, "conduit_gateway_slow_consumer_closes_total", "counter",
             "Connections closed because their output queue was full.",
             m->slow_consumer_closes);
    s_metric(out, "conduit_gateway_client_timeouts_total", "counter",
             "Connections closed for silence.", m->client_timeouts);
    s_metric(out, "conduit_gateway_handshake_failures_total", "counter",
             "SignalR handshakes answered with an error.",
             m->handshake_failures);
    s_family(out, "conduit_gateway_protocol_errors_total",
             "Connections closed on malformed input, by kind: http (no "
             "complete request head: unparsable or over "
             "gateway.max_header_bytes), websocket (a frame lws refused), "
             "binary, utf8, json, message (not a valid hub message), tls "
             "(no TLS hello on a TLS port; a handshake failing later counts "
             "as http).");
    for (int i = 0; i < LIMITS_PE_COUNT; i++)
        s_labelled(out, "conduit_gateway_protocol_errors_total", "kind",
                   limits_proto_error_name((enum limits_proto_error)i),
                   i == LIMITS_PE_TLS ? listener_adopt_failed(gw->listener)
                                      : m->protocol_errors[i]);
    s_family(out, "conduit_gateway_limit_refusals_total",
             "Requests, connections and messages refused by a configured "
             "limit, by kind.");
    for (int i = 0; i < LIMITS_REF_COUNT; i++)
        s_labelled(out, "conduit_gateway_limit_refusals_total", "kind",
                   limits_refusal_name((enum limits_refusal)i), m->refusals[i]);
    s_family(out, "conduit_gateway_deliveries_failed_total",
             "Frames for a client that were never written to it, by reason: "
             "slow_consumer (discarded when its queue overflowed), closing "
             "(offered to a connection being closed), closed (still queued "
             "when the connection ended).");
    static const char *const drop_names[GW_DROP_COUNT] = {
        [GW_DROP_SLOW_CONSUMER] = "slow_consumer",
        [GW_DROP_CLOSING] = "closing",
        [GW_DROP_CLOSED] = "closed",
    };
    for (int i = 0; i < GW_DROP_COUNT; i++)
        s_labelled(out, "conduit_gateway_deliveries_failed_total", "reason",
                   drop_names[i], m->dropped[i]);
    s_metric(out, "conduit_gateway_origin_refused_total", "counter",
             "Requests refused because their Origin is not in "
             "gateway.cors_origins.",
             m->origin_refused);
    s_metric(out, "conduit_gateway_group_count", "gauge",
             "Groups with at least one local member.",
             groupidx_n_groups(gw->groups));
    s_metric(out, "conduit_gateway_group_memberships", "gauge",
             "Local group memberships.", groupidx_n_members(gw->groups));
    s_metric(out, "conduit_gateway_queued_frames", "gauge",
             "Frames waiting in output queues.", gw->pool.in_use);
    s_metric(out, "conduit_gateway_negotiate_tokens", "gauge",
             "Negotiate tokens held (unused or bound).",
             tokens_count(gw->tokens));
    s_metric(out, "conduit_gateway_pending_requests", "gauge",
             "Requests waiting for the broker.", gw->reqs.count);
    s_metric(out, "conduit_gateway_broker_link_up", "gauge",
             "1 when the broker link is up.", upstream_is_up(gw->link));
    s_metric(out, "conduit_gateway_broker_replays_total", "counter",
             "Connection replays to the broker after the link came back.",
             m->replays);
    s_metric(out, "conduit_gateway_link_sent_total", "counter",
             "Frames sent to the broker.", ls->sent);
    s_metric(out, "conduit_gateway_link_send_failures_total", "counter",
             "Frames the broker link could not take.", ls->send_failures);
    s_metric(out, "conduit_gateway_link_received_total", "counter",
             "Frames received from the broker.", ls->received);
    s_metric(out, "conduit_gateway_link_malformed_total", "counter",
             "Malformed frames from the broker.", ls->malformed);
    s_metric(out, "conduit_gateway_link_losses_total", "counter",
             "Times the broker link was lost.", ls->link_losses);
}

static int
s_metrics(gateway_t *gw, struct lws *wsi)
{
    cdt_buf_reset(&gw->tmp);
    http_metrics(gw, &gw->tmp);
    return s_respond(gw, wsi, 200, "text/plain; version=0.0.4", gw->tmp.data,
                     gw->tmp.len, NULL, NULL, true);
}

static int
s_static(gateway_t *gw, struct lws *wsi, const char *uri)
{
    if (!gw->static_dir || !httputil_static_path_ok(uri))
        return s_text(gw, wsi, 404, "Not Found", NULL);
    const char *rel = strcmp(uri, "/") == 0 ? "/index.html" : uri;
    char *path = cdt_xasprintf("%s%s", gw->static_dir, rel);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        free(path);
        return s_text(gw, wsi, 404, "Not Found", NULL);
    }
    int n = lws_serve_http_file(wsi, path, httputil_mime(path), NULL, 0);
    free(path);
    if (n < 0)
        return -1;
    if (n > 0 && lws_http_transaction_completed(wsi))
        return -1;
    return 0;
}

static int
s_preflight(gateway_t *gw, struct lws *wsi, const char *origin)
{
    char *req_hdrs = gw->hdrbuf[0];
    if (lws_hdr_copy(wsi, req_hdrs, (int)gw->hdrbuf_size,
                     WSI_TOKEN_HTTP_AC_REQUEST_HEADERS) <= 0 ||
        !httputil_header_list_ok(req_hdrs))
        req_hdrs[0] = '\0';
    return s_respond(gw, wsi, 204, "text/plain", NULL, 0, origin, req_hdrs,
                     true);
}

static int
s_http(gateway_t *gw, struct lws *wsi, pss_t *pss, const char *uri)
{
    enum method method = s_method(wsi);
    char obuf[512];
    bool refused;
    const char *origin = s_origin(gw, wsi, obuf, sizeof obuf, &refused);

    if (method == M_OPTIONS) {
        if (refused) {
            /* no CORS headers: the browser refuses the real request */
            gw->m.origin_refused++;
            return s_text(gw, wsi, 403, "Origin not allowed", NULL);
        }
        return s_preflight(gw, wsi, origin);
    }

    size_t hub_len;
    bool negotiate;
    httputil_hub_path(uri, strlen(uri), &hub_len, &negotiate);
    const cdt_hub_t *hub = cdt_catalog_hub_by_path(gw->catalog, uri, hub_len);
    if (hub && negotiate) {
        if (method != M_POST)
            return s_text(gw, wsi, 405, "Method Not Allowed", origin);
        if (refused) {
            gw->m.origin_refused++;
            return s_text(gw, wsi, 403, "Origin not allowed", NULL);
        }
        if (!s_room_for_one_more(gw))
            return s_text(gw, wsi, 503, "Too many connections", origin);
        if (!s_connect_allowed(gw, wsi))
            return s_text(gw, wsi, 429, "Too Many Requests", origin);
        return s_negotiate(gw, wsi, pss, hub, origin);
    }
    if (hub) {
        /* only WebSockets are offered: no SSE, no long polling */
        return s_text(gw, wsi, 400,
                      "Only the WebSockets transport is supported.", origin);
    }
    if (method != M_GET)
        return s_text(gw, wsi, 404, "Not Found", origin);
    if (strcmp(uri, "/healthz") == 0)
        return s_healthz(gw, wsi);
    if (strcmp(uri, "/metrics") == 0)
        return s_metrics(gw, wsi);
    return s_static(gw, wsi, uri);
}

/* ---- WebSocket upgrade --------------------------------------------------- */

static int
s_refuse(gateway_t *gw, struct lws *wsi, unsigned status, const char *text)
{
    if (s_respond(gw, wsi, status, "text/plain; charset=utf-8", text,
                  strlen(text), NULL, NULL, false) != 0)
        return -1;
    return 1;
}

int
http_confirm_upgrade(gateway_t *gw, struct lws *wsi)
{
    char uri[512];
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0)
        return s_refuse(gw, wsi, 404, "Not Found");
    size_t hub_len;
    bool negotiate;
    httputil_hub_path(uri, strlen(uri), &hub_len, &negotiate);
    const cdt_hub_t *hub = cdt_catalog_hub_by_path(gw->catalog, uri, hub_len);
    if (!hub || negotiate)
        return s_refuse(gw, wsi, 404, "Not Found");
    char obuf[512];
    bool refused;
    (void)s_origin(gw, wsi, obuf, sizeof obuf, &refused);
    if (refused) {
        gw->m.origin_refused++;
        return s_refuse(gw, wsi, 403, "Origin not allowed");
    }
    if (!s_room_for_one_more(gw))
        return s_refuse(gw, wsi, 503, "Too many connections");
    char idbuf[256];
    const char *id = http_arg(gw, wsi, "id", idbuf, sizeof idbuf);
    if (!id && !s_connect_allowed(gw, wsi))
        return s_refuse(gw, wsi, 429, "Too Many Requests");
    if (id) {
        token_t *t;
        /* a token another gateway issued verifies with the broker's
         * secret (tokens.h) */
        switch (tokens_accept(gw->tokens, upstream_token_secret(gw->link), id,
                              strlen(id), (uint32_t)hub->index,
                              cdt_clock_mono_ms(), cdt_clock_wall_ms(), &t)) {
        case TOKEN_OK:
            break;
        case TOKEN_IN_USE:
            return s_refuse(gw, wsi, 409, "Connection ID is already in use");
        default:
            return s_refuse(gw, wsi, 404, "No Connection with that ID");
        }
        if (!upstream_is_up(gw->link))
            return s_refuse(gw, wsi, 503, s_status_text(503));
        tokens_claim(gw->tokens, t);
        return 0;
    }
    const char *tok;
    size_t tok_len;
    if (http_credential(gw, wsi, &tok, &tok_len) == CRED_NONE) {
        gw->m.auth_failures++;
        return s_refuse(gw, wsi, 401, "Unauthorized");
    }
    if (!upstream_is_up(gw->link))
        return s_refuse(gw, wsi, 503, s_status_text(503));
    return 0;
}

/* ---- the HTTP side of the protocol callback ------------------------------ */

/* lws closes a connection whose request head it cannot parse (it answers
 * 403 to an unknown method) or cannot hold in gateway.max_header_bytes
 * (no answer), without binding a protocol: CLOSED_HTTP then comes with no
 * session data. A connection that sent bytes and never got a request
 * through is counted; one that sent nothing (a port probe, a browser's
 * preconnect) is not. */
static void
s_count_unparsed(gateway_t *gw, struct lws *wsi)
{
    tcpinfo_t ti;
    if (gw->stop || tcpinfo_get(lws_get_socket_fd(wsi), &ti) != 0 ||
        ti.received == 0)
        return;
    gw->m.protocol_errors[LIMITS_PE_HTTP]++;
    cdt_log_debug("closing a connection after %llu bytes without a complete "
                  "request",
                  (unsigned long long)ti.received);
}

int
http_callback(gateway_t *gw, struct lws *wsi, enum lws_callback_reasons reason,
              pss_t *pss, void *in, size_t len)
{
    (void)len;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return s_http(gw, wsi, pss, in ? (const char *)in : "/");
    case LWS_CALLBACK_HTTP_BODY:
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return 0; /* negotiate has no body; others are ignored */
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return pss ? s_write_parked(gw, wsi, pss) : 0;
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
        if (!pss)
            s_count_unparsed(gw, wsi);
        http_drop(gw, pss);
        return 0;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        http_drop(gw, pss);
        return 0;
    default:
        return 0;
    }
}
