/*
 * gateway_int - the state shared by gateway.c (loop, timers, broker
 * messages, requests), http.c (the HTTP surface) and conn.c (one SignalR
 * WebSocket connection). Private to the gateway; not a public interface.
 *
 * Ownership: the gateway owns every conn_t and req_t; lws owns the wsi and
 * its per-session data (pss_t), which only points at our objects.
 * Everything runs on the single lws service thread.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef GATEWAY_INT_H
#define GATEWAY_INT_H

#include "common/cdt_buf.h"
#include "common/cdt_catalog.h"
#include "common/cdt_config.h"
#include "common/cdt_ratelog.h"
#include "gateway/dirtyq.h"
#include "gateway/gateway.h"
#include "gateway/groupidx.h"
#include "gateway/hmap.h"
#include "gateway/limits.h"
#include "gateway/listener.h"
#include "gateway/outq.h"
#include "gateway/tokens.h"
#include "gateway/upstream.h"

#include <libwebsockets.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

/* Frames are coalesced into WebSocket messages of at most this size. */
#define GW_COALESCE_BYTES (64 * 1024)
/* A flush serves connections for at most this long before the loop gets
 * its turn (reads, accepts, timers), and polls the broker link every
 * GW_FLUSH_POLL_EVERY writes so that a new event joins the queues of the
 * connections this pass has not reached yet. */
#define GW_FLUSH_SLICE_US   2000
#define GW_FLUSH_POLL_EVERY 64
/* A connection being closed is killed if its close has not been written
 * after this long (a slow consumer never becomes writable). */
#define GW_CLOSE_GRACE_MS 3000
#define GW_TICK_MS        100

/* ---- pending broker requests ------------------------------------------ */

enum req_kind {
    REQ_AUTH_HTTP = 1, /* negotiate waiting for AUTH_REP */
    REQ_AUTH_WS,       /* skipNegotiation WebSocket waiting for AUTH_REP */
    REQ_OPEN,          /* CONN_OPEN waiting for CONN_READY */
    REQ_INVOKE,        /* INVOKE waiting for INVOKE_REP */
};

typedef struct hreq hreq_t;

typedef struct req {
    hnode_t node;     /* by id */
    struct req *prev; /* deadline order = creation order (one timeout) */
    struct req *next;
    int64_t deadline_ms;
    uint32_t id;
    uint8_t kind;
    bool has_inv_id;
    uint64_t conn_id; /* WebSocket kinds */
    hreq_t *http;     /* REQ_AUTH_HTTP; NULL once the client left */
    char *inv_id;     /* REQ_INVOKE: owned, NULL for non-blocking */
    char *method;     /* REQ_INVOKE: owned, for the timeout text */
} req_t;

/* ---- HTTP requests answered later --------------------------------------- */

struct hreq {
    struct lws *wsi;
    uint32_t req_id; /* the pending AUTH, 0 once answered */
    uint32_t hub;
    int version; /* negotiateVersion chosen */
    bool ready;  /* status/body are set: write on HTTP_WRITEABLE */
    int status;
    const char *ctype;
    cdt_buf_t body;
    char *origin; /* allowed Origin to echo, or NULL; owned */
};

/* ---- WebSocket connections ---------------------------------------------- */

enum conn_phase {
    PH_AUTH = 1, /* AUTH sent (skipNegotiation) */
    PH_OPENING,  /* CONN_OPEN sent, waiting for CONN_READY */
    PH_READY,    /* registered at the broker, in the local index */
};

enum conn_flags {
    CF_ADMIN = 1 << 0,
    CF_HS_RECEIVED = 1 << 1, /* the client's handshake record arrived */
    CF_HS_DONE = 1 << 2,     /* a handshake answer heads the queue */
    CF_BROKER_OPEN = 1 << 3, /* CONN_OPEN sent: CONN_CLOSE owed */
    CF_WANT_WRITE = 1 << 4,  /* lws_callback_on_writable pending */
    CF_CLOSING = 1 << 5,     /* close after the queue is written */
    CF_TIMEOUT_ARMED = 1 << 6,
    CF_KILLED = 1 << 7, /* lws told to drop it */
    /* a refusal waits for the client's handshake record, so that the
     * client is past its connecting state when the answer arrives */
    CF_DEFERRED = 1 << 8,
    CF_DIRTY = 1 << 9, /* in gateway.dirty: flush at the next iteration */
    CF_PEER_CLOSED = 1 << 10, /* the client sent a WebSocket close */
};

typedef struct conn {
    /* first cache line: what a delivery and its write touch */
    uint64_t stamp; /* last EVENT delivered: once per event */
    outq_t q;
    struct lws *wsi;
    int fd;         /* socket for direct writes; -1 with TLS (lws_write) */
    uint32_t dirty; /* index in gateway.dirty while CF_DIRTY */
    uint32_t slot;  /* index in gateway.slots */
    uint16_t flags;
    uint16_t hub;
    /* the rest */
    hnode_t node; /* by id */
    uint64_t id;  /* link conn_id */
    int64_t key_id;
    cdt_buf_t rx;    /* unfinished inbound record */
    cdt_buf_t *held; /* records after the handshake, before its answer */
    gi_conn_t groups;
    token_t *token;           /* the negotiate token it used, or NULL */
    const char *close_reason; /* static text for the close frame */
    uint32_t req_id;          /* pending AUTH or CONN_OPEN, 0 = none */
    limits_rate_t rate;       /* invocations this second */
    uint16_t close_code;      /* WebSocket close status when CF_CLOSING */
    uint8_t phase;
    char *hs_error; /* CF_DEFERRED handshake error to answer, or NULL */
} conn_t;

/* Dense per-connection timing, scanned once a second. */
typedef struct cslot {
    conn_t *c;
    int64_t send_ms;     /* last write: keep-alive base */
    int64_t deadline_ms; /* handshake / client timeout / close grace */
} cslot_t;

/* lws per-session data: pointers only, so an HTTP request costs little. */
typedef struct pss {
    conn_t *conn;
    hreq_t *http;
} pss_t;

/* ---- metrics ------------------------------------------------------------- */

/* Why frames meant for a client were never written to it. */
enum gw_drop {
    GW_DROP_SLOW_CONSUMER = 0, /* discarded when the queue bound was hit */
    GW_DROP_CLOSING,           /* offered to a connection already closing */
    GW_DROP_CLOSED,            /* still queued when the connection ended */
    GW_DROP_COUNT
};

typedef struct gw_metrics {
    uint64_t connections_opened;
    uint64_t connections_closed;
    uint64_t negotiations;
    uint64_t auth_failures;
    uint64_t auth_unavailable;
    uint64_t messages_received; /* hub records from clients */
    uint64_t messages_sent;     /* frames written to clients */
    uint64_t ws_writes;         /* WebSocket writes (after coalescing) */
    uint64_t writes_partial;    /* direct writes the socket took in part */
    uint64_t writes_waited;     /* flushes that had to wait for POLLOUT */
    uint64_t flush_slices;      /* flushes that yielded to the loop midway */
    uint64_t deliveries;        /* event frames queued to members */
    uint64_t events;            /* EVENT messages from the broker */
    uint64_t events_unrouted;   /* EVENT with no local member */
    uint64_t events_unwritable; /* EVENT whose arguments made no frame */
    uint64_t directs;
    uint64_t kicks;
    uint64_t invocations;
    uint64_t invoke_timeouts;
    uint64_t invoke_late;
    uint64_t slow_consumer_closes;
    uint64_t client_timeouts;
    uint64_t handshake_failures;
    uint64_t origin_refused;
    uint64_t replays;
    uint64_t protocol_errors[LIMITS_PE_COUNT];
    uint64_t refusals[LIMITS_REF_COUNT];
    uint64_t dropped[GW_DROP_COUNT]; /* frames never written, by reason */
} gw_metrics_t;

/* ---- the gateway ----------------------------------------------------------
 */

struct gateway {
    const cdt_config_t *cfg;
    cdt_catalog_t *catalog; /* owned */
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    struct lws_protocols protocols[4];
    listener_t *listener;
    upstream_t *link;
    tokens_t *tokens;
    groupidx_t *groups;
    outq_pool_t pool;

    hmap_t conns;   /* conn_t by id */
    cslot_t *slots; /* every live conn_t */
    size_t n_slots;
    size_t cap_slots;
    uint64_t next_conn_id;
    uint64_t next_stamp;
    uint64_t *conns_by_hub;  /* n_hubs counters */
    uint64_t *events_by_hub; /* n_hubs counters: EVENTs received */

    hmap_t reqs; /* req_t by id */
    req_t *req_head;
    req_t *req_tail;
    uint32_t next_req_id;

    limits_ipmap_t ip_rates; /* connects per client address this second */

    uint8_t *wbuf; /* LWS_PRE + coalesced frames */
    size_t wbuf_cap;
    cdt_buf_t scratch;            /* hubproto parse output */
    cdt_buf_t linkbuf;            /* link frames being encoded */
    cdt_buf_t tmp;                /* records being encoded */
    cdt_ratelog_t unwritable_log; /* one WARN a second: events_unwritable */
    char *hdrbuf[5]; /* header/argument copies, max_header_bytes + 1 each:
                        0-3 credential candidates, 4 argument scan */
    size_t hdrbuf_size;
    char *static_dir; /* resolved gateway.static_dir, or NULL; owned */

    frame_t *ping_frame;    /* {"type":6}RS, shared */
    frame_t *timeout_frame; /* Close error + allowReconnect, shared */
    frame_t *slow_frame;    /* Close for slow consumers, shared */

    lws_sorted_usec_list_t sul_tick;
    lws_sorted_usec_list_t sul_stop;
    lws_sorted_usec_list_t sul_flush;
    dirtyq_t dirty; /* connections with output waiting for a write */
    bool flush_scheduled;
    bool flushing; /* inside conn_flush (it polls the link, which may
                      call it again) */
    bool evlib;    /* libev (epoll) rather than lws' poll() loop */
    bool stopping; /* the stop has been scheduled on the loop */
    int64_t next_scan_ms;
    int64_t now_ms; /* monotonic, refreshed by the flush and the tick: a
                       write's keep-alive base, may lag by GW_TICK_MS */
    uint64_t last_event_seq;
    volatile sig_atomic_t stop;
    bool tls;
    char host[256];
    int port;
    gw_metrics_t m;
};

/* gateway.c */
gateway_t *gw_from_wsi(struct lws *wsi);
req_t *gw_req_new(gateway_t *gw, enum req_kind kind);
req_t *gw_req_find(gateway_t *gw, uint32_t id);
void gw_req_free(gateway_t *gw, req_t **req_p);
int gw_link_send(gateway_t *gw); /* sends gw->linkbuf */
/* Grows gw->wbuf to hold LWS_PRE + n bytes. */
void gw_wbuf_reserve(gateway_t *gw, size_t n);
const cdt_hub_t *gw_hub(const gateway_t *gw, uint32_t index);

/* http.c */
int http_callback(gateway_t *gw, struct lws *wsi,
                  enum lws_callback_reasons reason, pss_t *pss, void *in,
                  size_t len);
int http_confirm_upgrade(gateway_t *gw, struct lws *wsi);
void http_auth_reply(gateway_t *gw, req_t *req, const cdt_link_msg_t *msg);
void http_auth_fail(gateway_t *gw, req_t *req, int status);
void http_drop(gateway_t *gw, pss_t *pss);
/* The credential of the current request (headers still attached);
 * CRED_NONE if there is none. *tok points into gateway buffers. */
int http_credential(gateway_t *gw, struct lws *wsi, const char **tok,
                    size_t *len);
/* A query argument of the current request (name matched
 * case-insensitively), copied into buf and truncated to size - 1 bytes;
 * NULL if absent. */
const char *http_arg(gateway_t *gw, struct lws *wsi, const char *name,
                     char *buf, size_t size);
/* The Prometheus text of /metrics. */
void http_metrics(gateway_t *gw, cdt_buf_t *out);

/* conn.c */
int conn_established(gateway_t *gw, struct lws *wsi, pss_t *pss);
int conn_receive(gateway_t *gw, conn_t *c, const void *in, size_t len);
int conn_writeable(gateway_t *gw, conn_t *c);
void conn_closed(gateway_t *gw, conn_t *c);
conn_t *conn_find(gateway_t *gw, uint64_t id);
void conn_auth_reply(gateway_t *gw, conn_t *c, const cdt_link_msg_t *msg);
void conn_auth_fail(gateway_t *gw, conn_t *c);
void conn_ready(gateway_t *gw, conn_t *c, const cdt_link_msg_t *msg);
void conn_open_timeout(gateway_t *gw, conn_t *c);
/* INVOKE_REP: index changes, then the Completion if still awaited. */
void conn_invoke_reply(gateway_t *gw, const cdt_link_msg_t *msg);
/* The INVOKE got no answer in time or the link went down. */
void conn_invoke_fail(gateway_t *gw, const req_t *req);
/* Queues a frame for an event/direct delivery; closes slow consumers.
 * Returns true if the frame was queued (false: the connection is closing,
 * or was just closed as a slow consumer; counted in m.dropped). */
bool conn_deliver(gateway_t *gw, conn_t *c, frame_t *frame);
/* Queues a Close record (error may be NULL) and closes after writing. */
void conn_close_with(gateway_t *gw, conn_t *c, const char *error,
                     bool allow_reconnect);
/* Closes with a WebSocket status and reason, nothing SignalR-level. */
void conn_abort(gateway_t *gw, conn_t *c, uint16_t code, const char *reason);
/* Writes the output queued since the last flush, round robin over the
 * connections with output: one coalesced write per connection, straight
 * from here when lws holds nothing back for it, otherwise through a
 * writable callback (also for closing ones). Polls the broker link
 * between writes and stops after GW_FLUSH_SLICE_US, to go on after the
 * loop's other work. Returns true when every waiting connection was
 * served. */
bool conn_flush(gateway_t *gw);
/* The once-a-second checks of one connection. */
void conn_tick(gateway_t *gw, cslot_t *slot, int64_t now_ms);
/* Sends CONN_OPEN for a replay after the link came back. */
void conn_replay(gateway_t *gw, conn_t *c);

#endif
