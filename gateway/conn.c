/*
 * conn - one SignalR WebSocket connection of the gateway: the handshake,
 * the JSON hub protocol, the output queue and the close sequence.
 *
 * Life of a connection. The upgrade was accepted by http.c. With a
 * negotiate token (id=) the broker's decision is already known and
 * CONN_OPEN goes out at once; without one (skipNegotiation) AUTH goes out
 * first and the connection waits, saying nothing, for AUTH_REP; a refusal
 * closes the WebSocket with 1008 "Unauthorized" and no SignalR message at
 * all (the client's start() rejects with the close code).
 *
 * The handshake answer `{}`RS is written only when both the client's
 * handshake record and CONN_READY have arrived, so that when the client's
 * start() resolves its connect-time groups are in place at the broker and
 * in the local index. Events that arrive after CONN_READY but before the
 * client's handshake wait in the queue behind the answer, which is pushed
 * to the front. Records a client pipelines after its handshake are held
 * and run once the answer is queued.
 *
 * Writing: nothing is written before the handshake answer heads the
 * queue. Queuing only marks the connection dirty; when the current batch
 * of work (a drain of the broker link, a tick, a read) is over, conn_flush
 * coalesces each dirty connection's frames into one text message (never
 * splitting a record) and writes it at once if lws holds nothing back for
 * that socket (lws_partial_buffered), else through a writable callback;
 * a connection with frames left over asks for writable callbacks until
 * its queue is empty. The direct write spares the two epoll_ctl calls and
 * the callback of the writable round trip, which in a broadcast cost about
 * as much as the send itself. Closing: a Close record is queued, the queue is
 * flushed, then the WebSocket is closed with 1000; a peer that never becomes
 * writable is dropped after GW_CLOSE_GRACE_MS.
 *
 * Failure rules (README "Failure behaviour"). Slow consumer: a frame that
 * would take the queue past gateway.max_queue_bytes first makes us write
 * what the socket takes right now (one batch from the broker may queue
 * more than the bound before its flush); only if lws then still holds an
 * unfinished write is the client slow: its queue is dropped and it gets
 * a Close with allowReconnect. Silence: from the handshake answer on, a
 * client must send something every gateway.client_timeout_ms (Close with
 * allowReconnect); before it, the handshake must come within
 * gateway.handshake_timeout_ms (WebSocket 1008). Bad input -- a record
 * over gateway.max_message_bytes (1009), text that is not UTF-8 (1007), a
 * binary frame (1003), bad JSON or an invalid hub message (1000) -- gets a
 * Close whose error says what was wrong and no reconnect, since the same
 * client would only send it again. Frames lws itself refuses (bad opcode,
 * reserved bits, ...) are closed by lws with 1002 and only counted here.
 * Deadlines are checked by the once-a-second scan, so they are honoured
 * within a second.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/gateway_int.h"

#define CDT_LOG_MODULE "conn"
#include "common/cdt_clock.h"
#include "common/cdt_log.h"
#include "common/cdt_mem.h"
#include "gateway/httputil.h"
#include "gateway/hubproto_json.h"
#include "gateway/tcpinfo.h"
#include "gateway/wsframe.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

_Static_assert(LWS_PRE >= WSFRAME_MAX_HEADER,
               "the write buffer's headroom holds a frame header");

static const char UNAVAILABLE[] = "Service temporarily unavailable";
static const char CLOSED_WITH_ERROR[] = "Connection closed with an error.";

/* ---- slots and lookup ---------------------------------------------------- */

static cslot_t *
s_slot(gateway_t *gw, conn_t *c)
{
    return &gw->slots[c->slot];
}

static void
s_slot_add(gateway_t *gw, conn_t *c, int64_t now)
{
    if (gw->n_slots == gw->cap_slots) {
        gw->cap_slots = gw->cap_slots ? gw->cap_slots * 2 : 256;
        gw->slots = cdt_xrealloc(gw->slots, gw->cap_slots * sizeof *gw->slots);
    }
    c->slot = (uint32_t)gw->n_slots++;
    cslot_t *s = &gw->slots[c->slot];
    s->c = c;
    s->send_ms = now;
    s->deadline_ms = now + gw->cfg->gateway_handshake_timeout_ms;
}

static void
s_slot_remove(gateway_t *gw, conn_t *c)
{
    size_t last = gw->n_slots - 1;
    if (c->slot != last) {
        gw->slots[c->slot] = gw->slots[last];
        gw->slots[c->slot].c->slot = c->slot;
    }
    gw->n_slots--;
}

conn_t *
conn_find(gateway_t *gw, uint64_t id)
{
    for (hnode_t *n = hmap_first(&gw->conns, hmap_hash_u64(id)); n;
         n = hmap_next_same(n)) {
        conn_t *c = hmap_entry(n, conn_t, node);
        if (c->id == id)
            return c;
    }
    return NULL;
}

/* ---- output -------------------------------------------------------------- */

/* Output is not written where it is queued: the connection goes on the
 * dirty list, flushed once the current batch of work is done (conn_flush,
 * from a zero-delay timer), so that everything a batch of broker messages
 * queued for one connection leaves in one write. */
static void s_flush_cb(lws_sorted_usec_list_t *sul);

static void
s_schedule_flush(gateway_t *gw)
{
    if (!gw->flush_scheduled) {
        gw->flush_scheduled = true;
        lws_sul_schedule(gw->ctx, 0, &gw->sul_flush, s_flush_cb, 1);
    }
}

static void
s_want_write(gateway_t *gw, conn_t *c)
{
    if (c->flags & (CF_WANT_WRITE | CF_KILLED | CF_DIRTY))
        return;
    if (!(c->flags & (CF_HS_DONE | CF_CLOSING)))
        return; /* nothing may precede the handshake answer */
    c->flags |= CF_DIRTY;
    dirtyq_push(&gw->dirty, c, &c->dirty);
    s_schedule_flush(gw);
}

static void
s_request_writable(conn_t *c)
{
    if (c->flags & (CF_WANT_WRITE | CF_KILLED))
        return;
    c->flags |= CF_WANT_WRITE;
    lws_callback_on_writable(c->wsi);
}

/* Writes one whole text frame to a plain TCP connection with one send(),
 * the cheap way: lws_write would do the same framing through several
 * layers, and with one frame per event per member that costs about a
 * tenth of a broadcast. What the socket does not take goes to lws as raw
 * bytes (lws_issue_raw through LWS_WRITE_HTTP, which a WebSocket
 * connection writes unframed): lws keeps it, writes it first when the
 * socket drains, and lws_partial_buffered is true meanwhile, so nothing
 * -- ours or lws' own pongs and close frames -- can land inside the
 * frame. The caller checked that lws holds nothing back. Returns 0 or -1
 * if the connection failed. */
static int
s_send_direct(gateway_t *gw, conn_t *c, uint8_t *payload, size_t len)
{
    size_t hl = wsframe_text_header(payload, len);
    uint8_t *p = payload - hl;
    size_t total = hl + len;
    ssize_t n = send(c->fd, p, total, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n == (ssize_t)total)
        return 0;
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        n = 0;
    }
    gw->m.writes_partial++;
    return lws_write(c->wsi, p + n, total - (size_t)n, LWS_WRITE_HTTP) < 0 ? -1
                                                                           : 0;
}

/* One coalesced write of the queue's head. Returns 0, or -1 if the
 * connection failed. */
static int
s_write_some(gateway_t *gw, conn_t *c)
{
    size_t need = outq_head_len(&c->q);
    gw_wbuf_reserve(gw, need > GW_COALESCE_BYTES ? need : GW_COALESCE_BYTES);
    uint32_t before = c->q.n;
    uint8_t *payload = gw->wbuf + LWS_PRE;
    size_t n = outq_coalesce(&c->q, &gw->pool, payload, GW_COALESCE_BYTES);
    gw->m.messages_sent += before - c->q.n;
    gw->m.ws_writes++;
    /* with TLS lws encrypts; a partial send is kept by lws and finished
     * before our next writable callback, lws_partial_buffered tells us
     * meanwhile */
    int rc = c->fd >= 0 ? s_send_direct(gw, c, payload, n)
                        : lws_write(c->wsi, payload, n, LWS_WRITE_TEXT);
    if (rc < 0) {
        cdt_log_debug("conn#%llu: write failed", (unsigned long long)c->id);
        return -1;
    }
    s_slot(gw, c)->send_ms = gw->now_ms;
    return 0;
}

/* One connection's turn in the flush: returns true if it was written. */
static bool
s_flush_one(gateway_t *gw, conn_t *c)
{
    c->flags &= (uint16_t)~CF_DIRTY;
    if (c->flags & (CF_WANT_WRITE | CF_KILLED))
        return false;
    if ((c->flags & CF_CLOSING) || !(c->flags & CF_HS_DONE)) {
        s_request_writable(c);
        return false;
    }
    if (lws_partial_buffered(c->wsi)) {
        gw->m.writes_waited++;
        s_request_writable(c);
        return false;
    }
    if (outq_empty(&c->q))
        return false;
    if (s_write_some(gw, c) != 0) {
        c->flags |= CF_KILLED;
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return true;
    }
    if (!outq_empty(&c->q))
        s_request_writable(c);
    return true;
}

/* Round robin over the FIFO. A connection served in this pass that gets
 * new output (from a poll of the link in between) goes to the back, so
 * under load every connection is written once per pass with everything
 * that arrived for it meanwhile: the busier the gateway, the more frames
 * each write carries, and an event waits at most one pass, not the rest
 * of the current one and then its own. */
bool
conn_flush(gateway_t *gw)
{
    if (gw->flushing)
        return false; /* a poll of the link from the flush below */
    gw->flushing = true;
    int64_t t0 = cdt_clock_mono_us();
    gw->now_ms = t0 / 1000;
    unsigned writes = 0;
    conn_t *c;
    while ((c = dirtyq_pop(&gw->dirty))) {
        if (!s_flush_one(gw, c))
            continue; /* nothing written */
        if (++writes % GW_FLUSH_POLL_EVERY)
            continue;
        upstream_poll(gw->link);
        int64_t t = cdt_clock_mono_us();
        gw->now_ms = t / 1000;
        if (t - t0 >= GW_FLUSH_SLICE_US)
            break;
    }
    gw->flushing = false;
    if (!dirtyq_empty(&gw->dirty)) {
        /* go on right after the loop's pending work: a timer due now
         * would still let libev sleep its 1 ms minimum in epoll_wait, so
         * wake the loop as well (LWS_CALLBACK_EVENT_WAIT_CANCELLED) */
        gw->m.flush_slices++;
        s_schedule_flush(gw);
        lws_cancel_service(gw->ctx);
        return false;
    }
    return true;
}

static void
s_flush_cb(lws_sorted_usec_list_t *sul)
{
    gateway_t *gw = lws_container_of(sul, gateway_t, sul_flush);
    gw->flush_scheduled = false;
    (void)conn_flush(gw);
}

/* Empties the queue, counting what the client will never get. */
static void
s_drop_queue(gateway_t *gw, conn_t *c, enum gw_drop why)
{
    gw->m.dropped[why] += c->q.n;
    outq_clear(&c->q, &gw->pool);
}

static void
s_begin_close(gateway_t *gw, conn_t *c, uint16_t code, const char *reason)
{
    c->flags |= CF_CLOSING;
    c->close_code = code;
    c->close_reason = reason;
    s_slot(gw, c)->deadline_ms = cdt_clock_mono_ms() + GW_CLOSE_GRACE_MS;
    s_want_write(gw, c);
}

/* Queues gw->tmp as a frame for this connection only. */
static void
s_queue_tmp(gateway_t *gw, conn_t *c)
{
    frame_t *f = frame_new(gw->tmp.data, gw->tmp.len);
    conn_deliver(gw, c, f);
    frame_unref(&f);
}

static void
s_handshake_fail(gateway_t *gw, conn_t *c, const char *error)
{
    if (c->flags & (CF_CLOSING | CF_DEFERRED))
        return;
    if (c->flags & CF_HS_DONE) {
        /* answered already: too late for a handshake error */
        conn_close_with(gw, c, error, true);
        return;
    }
    if (!(c->flags & CF_HS_RECEIVED)) {
        /* the JS client throws from its message handler if an answer
         * arrives while it is still connecting: wait for its handshake */
        c->flags |= CF_DEFERRED;
        c->hs_error = cdt_xstrdup(error);
        s_drop_queue(gw, c, GW_DROP_CLOSING);
        return;
    }
    gw->m.handshake_failures++;
    cdt_log_info("conn#%llu: handshake failed: %s", (unsigned long long)c->id,
                 error);
    s_drop_queue(gw, c, GW_DROP_CLOSING);
    cdt_buf_reset(&gw->tmp);
    hubproto_json_handshake_response(&gw->tmp, error);
    frame_t *f = frame_new(gw->tmp.data, gw->tmp.len);
    outq_push(&c->q, &gw->pool, f);
    frame_unref(&f);
    c->flags |= CF_HS_DONE;
    s_begin_close(gw, c, LWS_CLOSE_STATUS_NORMAL, NULL);
}

static void
s_close_frame(gateway_t *gw, conn_t *c, frame_t *frame, bool drop_queued,
              uint16_t ws_code)
{
    if (c->flags & CF_CLOSING)
        return;
    if (drop_queued)
        s_drop_queue(gw, c, GW_DROP_SLOW_CONSUMER);
    outq_push(&c->q, &gw->pool, frame);
    s_begin_close(gw, c, ws_code, NULL);
}

/* conn_close_with, ending with WebSocket status ws_code rather than 1000
 * (1003, 1007, 1009 say what was wrong to clients that look). */
static void
s_close_with_code(gateway_t *gw, conn_t *c, const char *error,
                  bool allow_reconnect, uint16_t ws_code)
{
    if (c->flags & CF_CLOSING)
        return;
    if (!(c->flags & CF_HS_DONE)) {
        /* a Close before the handshake answer would confuse the client:
         * the handshake error carries the reason instead */
        s_handshake_fail(gw, c, error ? error : CLOSED_WITH_ERROR);
        return;
    }
    cdt_buf_reset(&gw->tmp);
    hubproto_json_close(&gw->tmp, error, allow_reconnect);
    frame_t *f = frame_new(gw->tmp.data, gw->tmp.len);
    s_close_frame(gw, c, f, false, ws_code);
    frame_unref(&f);
}

void
conn_close_with(gateway_t *gw, conn_t *c, const char *error,
                bool allow_reconnect)
{
    s_close_with_code(gw, c, error, allow_reconnect, LWS_CLOSE_STATUS_NORMAL);
}

void
conn_abort(gateway_t *gw, conn_t *c, uint16_t code, const char *reason)
{
    if (c->flags & (CF_CLOSING | CF_DEFERRED))
        return;
    s_drop_queue(gw, c, GW_DROP_CLOSING);
    if (!(c->flags & CF_HS_RECEIVED)) {
        /* closing before the client sent its handshake makes its send
         * fail with a confusing error; the handshake timeout bounds the
         * wait */
        c->flags |= CF_DEFERRED;
        c->close_code = code;
        c->close_reason = reason;
        return;
    }
    s_begin_close(gw, c, code, reason);
}

/* The client's handshake arrived (or never will): give the answer that
 * was held back. */
static void
s_run_deferred(gateway_t *gw, conn_t *c)
{
    c->flags |= CF_HS_RECEIVED;
    c->flags &= (uint16_t)~CF_DEFERRED;
    char *error = c->hs_error;
    c->hs_error = NULL;
    if (error)
        s_handshake_fail(gw, c, error);
    else
        s_begin_close(gw, c, c->close_code, c->close_reason);
    free(error);
}

static void
s_slow_consumer(gateway_t *gw, conn_t *c)
{
    gw->m.slow_consumer_closes++;
    cdt_log_info("conn#%llu: closing slow consumer (%u bytes queued)",
                 (unsigned long long)c->id, c->q.bytes);
    if (!(c->flags & CF_HS_DONE)) {
        s_handshake_fail(gw, c, CLOSED_WITH_ERROR);
        return;
    }
    s_close_frame(gw, c, gw->slow_frame, true, LWS_CLOSE_STATUS_NORMAL);
}

/* Writes as much of the queue as the socket takes now (lws holds back at
 * most one unfinished write). Returns -1 if the connection failed. */
static int
s_drain_now(gateway_t *gw, conn_t *c)
{
    while (!outq_empty(&c->q) && !lws_partial_buffered(c->wsi)) {
        if (s_write_some(gw, c) != 0) {
            c->flags |= CF_KILLED;
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
            return -1;
        }
    }
    return 0;
}

static bool
s_over_bound(const gateway_t *gw, const conn_t *c, const frame_t *frame)
{
    return (uint64_t)c->q.bytes + frame->len >
           (uint64_t)gw->cfg->gateway_max_queue_bytes;
}

bool
conn_deliver(gateway_t *gw, conn_t *c, frame_t *frame)
{
    if (c->flags & (CF_CLOSING | CF_KILLED | CF_DEFERRED)) {
        gw->m.dropped[GW_DROP_CLOSING]++;
        return false;
    }
    /* A full queue is not yet a slow consumer: one batch from the broker
     * can queue more than the bound before the flush that ends it. Only
     * a socket that takes no more (lws holds an unfinished write) makes
     * the client slow. */
    if (s_over_bound(gw, c, frame) && (c->flags & CF_HS_DONE) &&
        s_drain_now(gw, c) != 0) {
        gw->m.dropped[GW_DROP_CLOSING]++;
        return false;
    }
    if (s_over_bound(gw, c, frame)) {
        gw->m.dropped[GW_DROP_SLOW_CONSUMER]++; /* this frame */
        s_slow_consumer(gw, c);
        return false;
    }
    outq_push(&c->q, &gw->pool, frame);
    s_want_write(gw, c);
    return true;
}

int
conn_writeable(gateway_t *gw, conn_t *c)
{
    c->flags &= (uint16_t)~CF_WANT_WRITE;
    if (c->flags & CF_KILLED)
        return -1;
    gw->now_ms = cdt_clock_mono_ms();
    if ((c->flags & CF_HS_DONE) && !outq_empty(&c->q)) {
        if (s_write_some(gw, c) != 0) {
            c->flags |= CF_KILLED;
            return -1;
        }
        if (!outq_empty(&c->q)) {
            s_request_writable(c);
            return 0;
        }
    }
    if (c->flags & CF_CLOSING) {
        const char *r = c->close_reason;
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)(uintptr_t)r, r ? strlen(r) : 0);
        return -1;
    }
    return 0;
}

/* ---- broker registration ------------------------------------------------- */

static void
s_open(gateway_t *gw, conn_t *c)
{
    const cdt_hub_t *hub = gw_hub(gw, c->hub);
    req_t *req = gw_req_new(gw, REQ_OPEN);
    req->conn_id = c->id;
    c->req_id = req->id;
    c->phase = PH_OPENING;
    c->flags |= CF_BROKER_OPEN;
    cdt_buf_reset(&gw->linkbuf);
    cdt_link_encode_conn_open(&gw->linkbuf, c->id, hub->name, c->key_id,
                              (c->flags & CF_ADMIN) != 0, false, NULL, 0);
    /* a failed send is retried by the replay when the link comes back;
     * the request's deadline bounds the wait either way */
    (void)gw_link_send(gw);
}

void
conn_replay(gateway_t *gw, conn_t *c)
{
    if (c->flags & CF_CLOSING)
        return;
    const cdt_hub_t *hub = gw_hub(gw, c->hub);
    cdt_buf_reset(&gw->linkbuf);
    if (c->phase == PH_READY) {
        size_t n = c->groups.n, i = 0;
        const char **names = cdt_xmalloc((n ? n : 1) * sizeof *names);
        for (gi_member_t *m = gi_conn_first(&c->groups); m && i < n;
             m = gi_conn_next(m))
            names[i++] = gi_member_group(m);
        cdt_link_encode_conn_open(&gw->linkbuf, c->id, hub->name, c->key_id,
                                  (c->flags & CF_ADMIN) != 0, true, names, i);
        free(names);
    } else if (c->phase == PH_OPENING) {
        cdt_link_encode_conn_open(&gw->linkbuf, c->id, hub->name, c->key_id,
                                  (c->flags & CF_ADMIN) != 0, false, NULL, 0);
    } else {
        return;
    }
    (void)gw_link_send(gw);
}

void
conn_auth_reply(gateway_t *gw, conn_t *c, const cdt_link_msg_t *msg)
{
    c->req_id = 0;
    if (c->flags & (CF_CLOSING | CF_DEFERRED))
        return; /* timed out meanwhile: nothing to register */
    if (msg->status != 200) {
        if (msg->status == 401 || msg->status == 404)
            gw->m.auth_failures++;
        cdt_log_info("conn#%llu: refused by the broker (%u)",
                     (unsigned long long)c->id, msg->status);
        if (msg->status == 401 || msg->status == 404 || msg->status == 429)
            conn_abort(gw, c, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                       msg->status == 429 ? "Too many connections"
                                          : "Unauthorized");
        else
            conn_abort(gw, c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
                       UNAVAILABLE);
        return;
    }
    c->key_id = msg->key_id;
    if (msg->admin)
        c->flags |= CF_ADMIN;
    s_open(gw, c);
}

void
conn_auth_fail(gateway_t *gw, conn_t *c)
{
    c->req_id = 0;
    gw->m.auth_unavailable++;
    conn_abort(gw, c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, UNAVAILABLE);
}

static void s_handshake_ok(gateway_t *gw, conn_t *c);

void
conn_ready(gateway_t *gw, conn_t *c, const cdt_link_msg_t *msg)
{
    if (c->req_id) {
        req_t *req = gw_req_find(gw, c->req_id);
        if (req && req->kind == REQ_OPEN)
            gw_req_free(gw, &req);
        c->req_id = 0;
    }
    if (c->flags & CF_CLOSING)
        return;
    if (msg->status != 0) {
        char reason[256];
        snprintf(reason, sizeof reason, "%.*s", (int)msg->reason.len,
                 msg->reason.ptr);
        if (c->flags & CF_HS_DONE) {
            /* a replay refused (the key went away while the broker was
             * gone): a running connection gets a Close, not a handshake
             * answer; refusals of the key are final */
            bool final =
                msg->status == 401 || msg->status == 403 || msg->status == 404;
            conn_close_with(gw, c, reason[0] ? reason : UNAVAILABLE, !final);
            return;
        }
        s_handshake_fail(gw, c, reason[0] ? reason : UNAVAILABLE);
        return;
    }
    for (size_t i = 0; i < msg->groups.n; i++) {
        cdt_str_t g = cdt_strv_at(msg->groups, i);
        groupidx_join(gw->groups, &c->groups, c, c->hub, g.ptr, g.len);
    }
    if (c->phase == PH_READY)
        return; /* a replayed CONN_OPEN answered twice */
    c->phase = PH_READY;
    if ((c->flags & CF_HS_RECEIVED) && !(c->flags & CF_HS_DONE))
        s_handshake_ok(gw, c);
}

void
conn_open_timeout(gateway_t *gw, conn_t *c)
{
    c->req_id = 0;
    gw->m.auth_unavailable++;
    s_handshake_fail(gw, c, UNAVAILABLE);
}

/* ---- invocations --------------------------------------------------------- */

static void
s_completion_error(gateway_t *gw, conn_t *c, cdt_str_t inv_id,
                   const char *error)
{
    cdt_buf_reset(&gw->tmp);
    hubproto_json_completion_error(&gw->tmp, inv_id, error);
    s_queue_tmp(gw, c);
}

static void
s_invoke_error(gateway_t *gw, conn_t *c, const hub_msg_t *msg,
               const char *detail)
{
    if (!msg->has_invocation_id)
        return; /* non-blocking: never a reply, not even an error */
    char text[512];
    snprintf(text, sizeof text,
             "An unexpected error occurred invoking '%.*s' on the server. "
             "HubException: %s",
             (int)msg->target.len, msg->target.ptr, detail);
    s_completion_error(gw, c, msg->invocation_id, text);
}

static void
s_invoke(gateway_t *gw, conn_t *c, const hub_msg_t *msg, int64_t now)
{
    gw->m.invocations++;
    if (!limits_rate_allow(&c->rate, gw->cfg->gateway_invocations_per_sec,
                           now)) {
        /* a blocking call learns why; a non-blocking one is dropped */
        gw->m.refusals[LIMITS_REF_INVOKE_RATE]++;
        s_invoke_error(gw, c, msg,
                       "Rate limit exceeded. Please try again later.");
        return;
    }
    if (c->phase != PH_READY || !upstream_is_up(gw->link)) {
        s_invoke_error(gw, c, msg, UNAVAILABLE);
        return;
    }
    req_t *req = gw_req_new(gw, REQ_INVOKE);
    req->conn_id = c->id;
    req->method = cdt_xstrndup(msg->target.ptr, msg->target.len);
    if (msg->has_invocation_id) {
        req->has_inv_id = true;
        req->inv_id =
            cdt_xstrndup(msg->invocation_id.ptr, msg->invocation_id.len);
    }
    cdt_buf_reset(&gw->linkbuf);
    cdt_link_encode_invoke(&gw->linkbuf, req->id, c->id, msg->target.ptr,
                           msg->target.len, msg->args, msg->args_len);
    if (gw_link_send(gw) != 0) {
        gw_req_free(gw, &req);
        s_invoke_error(gw, c, msg, UNAVAILABLE);
    }
}

void
conn_invoke_reply(gateway_t *gw, const cdt_link_msg_t *msg)
{
    conn_t *c = conn_find(gw, msg->conn_id);
    /* the broker recorded these whether or not the caller still waits:
     * the local index follows it so routing stays right */
    if (c && c->phase == PH_READY) {
        for (size_t i = 0; i < msg->joins.n; i++) {
            cdt_str_t g = cdt_strv_at(msg->joins, i);
            groupidx_join(gw->groups, &c->groups, c, c->hub, g.ptr, g.len);
        }
        for (size_t i = 0; i < msg->leaves.n; i++) {
            cdt_str_t g = cdt_strv_at(msg->leaves, i);
            groupidx_leave(gw->groups, &c->groups, c->hub, g.ptr, g.len);
        }
    }
    req_t *req = gw_req_find(gw, msg->req_id);
    if (!req || req->kind != REQ_INVOKE || req->conn_id != msg->conn_id) {
        gw->m.invoke_late++;
        return;
    }
    if (c && req->has_inv_id && !(c->flags & CF_CLOSING)) {
        cdt_str_t id = {req->inv_id, strlen(req->inv_id)};
        cdt_buf_reset(&gw->tmp);
        if (msg->ok) {
            if (hubproto_json_completion_result(&gw->tmp, id, msg->result.ptr,
                                                msg->result.len) != 0) {
                char text[512];
                snprintf(text, sizeof text,
                         "An unexpected error occurred invoking '%s' on the "
                         "server.",
                         req->method);
                hubproto_json_completion_error(&gw->tmp, id, text);
            }
        } else {
            char *text = cdt_xstrndup(msg->reason.ptr, msg->reason.len);
            hubproto_json_completion_error(&gw->tmp, id, text);
            free(text);
        }
        s_queue_tmp(gw, c);
    }
    gw_req_free(gw, &req);
}

void
conn_invoke_fail(gateway_t *gw, const req_t *req)
{
    conn_t *c = conn_find(gw, req->conn_id);
    if (!c || !req->has_inv_id || (c->flags & CF_CLOSING))
        return;
    char text[512];
    snprintf(text, sizeof text,
             "An unexpected error occurred invoking '%s' on the server. "
             "HubException: %s",
             req->method, UNAVAILABLE);
    cdt_str_t id = {req->inv_id, strlen(req->inv_id)};
    s_completion_error(gw, c, id, text);
}

/* ---- input --------------------------------------------------------------- */

/* Closes on input the client must not send again: a Close with the
 * reason (as ASP.NET words it with detailed errors) and no reconnect,
 * since the same client would only repeat it. */
static void
s_protocol_error(gateway_t *gw, conn_t *c, enum limits_proto_error kind,
                 const char *why, uint16_t ws_code)
{
    gw->m.protocol_errors[kind]++;
    cdt_log_warn("conn#%llu: closing on a protocol error (%s): %s",
                 (unsigned long long)c->id, limits_proto_error_name(kind), why);
    char text[384];
    snprintf(text, sizeof text, "%s InvalidDataException: %s",
             CLOSED_WITH_ERROR, why);
    s_close_with_code(gw, c, text, false, ws_code);
}

static int
s_hub_record(gateway_t *gw, conn_t *c, const char *text, size_t len)
{
    if (c->flags & CF_CLOSING)
        return -1;
    gw->m.messages_received++;
    hub_msg_t msg;
    char err[256];
    if (hubproto_json_parse(text, len, &gw->scratch, &msg, err, sizeof err) !=
        0) {
        enum limits_proto_error kind = limits_classify(text, len, err);
        s_protocol_error(gw, c, kind, err,
                         kind == LIMITS_PE_UTF8
                             ? LWS_CLOSE_STATUS_INVALID_PAYLOAD
                             : LWS_CLOSE_STATUS_NORMAL);
        return -1;
    }
    int64_t now = cdt_clock_mono_ms();
    c->flags |= CF_TIMEOUT_ARMED;
    s_slot(gw, c)->deadline_ms = now + gw->cfg->gateway_client_timeout_ms;
    switch (msg.type) {
    case HUB_INVOCATION:
        s_invoke(gw, c, &msg, now);
        return 0;
    case HUB_STREAM_INVOCATION:
        if (msg.has_invocation_id) {
            char t[512];
            snprintf(t, sizeof t,
                     "The client attempted to invoke the non-streaming '%.*s' "
                     "method with a streaming invocation.",
                     (int)msg.target.len, msg.target.ptr);
            s_completion_error(gw, c, msg.invocation_id, t);
        }
        return 0;
    case HUB_CLOSE:
        /* the client is leaving: nothing queued matters any more */
        conn_abort(gw, c, LWS_CLOSE_STATUS_NORMAL, NULL);
        return -1;
    default:
        /* Ping (only arms the timeout), Completion, StreamItem,
         * CancelInvocation, Ack, Sequence and unknown types */
        return 0;
    }
}

static void
s_handshake_ok(gateway_t *gw, conn_t *c)
{
    cdt_buf_reset(&gw->tmp);
    hubproto_json_handshake_response(&gw->tmp, NULL);
    frame_t *f = frame_new(gw->tmp.data, gw->tmp.len);
    outq_push_front(&c->q, &gw->pool, f);
    frame_unref(&f);
    /* from here the client must say something (a Ping at least) every
     * gateway.client_timeout_ms, as with ASP.NET */
    c->flags |= CF_HS_DONE | CF_TIMEOUT_ARMED;
    s_slot(gw, c)->deadline_ms =
        cdt_clock_mono_ms() + gw->cfg->gateway_client_timeout_ms;
    s_want_write(gw, c);
    cdt_log_debug("conn#%llu: handshake done", (unsigned long long)c->id);
    cdt_buf_t *held = c->held;
    c->held = NULL;
    if (!held)
        return;
    size_t start = 0;
    for (size_t i = 0; i < held->len; i++) {
        if (held->data[i] != HUBPROTO_RS)
            continue;
        if (s_hub_record(gw, c, (const char *)held->data + start, i - start) !=
            0)
            break;
        start = i + 1;
    }
    cdt_buf_release(held);
    free(held);
}

static int
s_handshake(gateway_t *gw, conn_t *c, const char *text, size_t len)
{
    c->flags |= CF_HS_RECEIVED;
    char proto[64], err[256];
    int64_t version = 0;
    if (hubproto_handshake_parse(text, len, proto, sizeof proto, &version, err,
                                 sizeof err) != 0) {
        s_handshake_fail(gw, c, err);
        return -1;
    }
    if (strcmp(proto, "json") != 0) {
        snprintf(err, sizeof err, "The protocol '%s' is not supported.", proto);
        s_handshake_fail(gw, c, err);
        return -1;
    }
    if (version != 1) {
        snprintf(err, sizeof err,
                 "The server does not support version %lld of the 'json' "
                 "protocol.",
                 (long long)version);
        s_handshake_fail(gw, c, err);
        return -1;
    }
    if (c->phase == PH_READY)
        s_handshake_ok(gw, c);
    return 0;
}

typedef struct rx_ctx {
    gateway_t *gw;
    conn_t *c;
} rx_ctx_t;

static int
s_on_record(void *arg, const char *text, size_t len)
{
    rx_ctx_t *x = arg;
    gateway_t *gw = x->gw;
    conn_t *c = x->c;
    if (c->flags & CF_CLOSING)
        return -1;
    if (c->flags & CF_DEFERRED) {
        s_run_deferred(gw, c);
        return -1;
    }
    if (!(c->flags & CF_HS_RECEIVED))
        return s_handshake(gw, c, text, len);
    if (!(c->flags & CF_HS_DONE)) {
        if (!c->held)
            c->held = cdt_xcalloc(1, sizeof *c->held);
        if (c->held->len + len + 1 >
            (uint64_t)gw->cfg->gateway_max_message_bytes) {
            s_handshake_fail(gw, c, "Handshake was canceled.");
            return -1;
        }
        cdt_buf_append(c->held, text, len);
        cdt_buf_append_byte(c->held, HUBPROTO_RS);
        return 0;
    }
    return s_hub_record(gw, c, text, len);
}

/* A record over gateway.max_message_bytes: refused with the .NET text. */
static void
s_too_big(gateway_t *gw, conn_t *c, const char *why)
{
    gw->m.refusals[LIMITS_REF_MESSAGE_SIZE]++;
    cdt_log_warn("conn#%llu: closing: %s", (unsigned long long)c->id, why);
    if (!(c->flags & CF_HS_RECEIVED)) {
        c->flags |= CF_HS_RECEIVED;
        s_handshake_fail(gw, c, "Handshake was canceled.");
        return;
    }
    char text[256];
    snprintf(text, sizeof text,
             "%s InvalidDataException: The maximum message size of %lldB "
             "was exceeded.",
             CLOSED_WITH_ERROR, (long long)gw->cfg->gateway_max_message_bytes);
    s_close_with_code(gw, c, text, false, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE);
}

int
conn_receive(gateway_t *gw, conn_t *c, const void *in, size_t len)
{
    if (c->flags & (CF_CLOSING | CF_KILLED))
        return 0;
    if ((c->flags & CF_DEFERRED) && len) {
        s_run_deferred(gw, c);
        return 0;
    }
    if (lws_frame_is_binary(c->wsi)) {
        /* the JSON protocol is text only (SIGNALR.md); MessagePack,
         * which would use binary frames, is not negotiated */
        cdt_buf_release(&c->rx);
        if (!(c->flags & CF_HS_RECEIVED)) {
            gw->m.protocol_errors[LIMITS_PE_BINARY]++;
            c->flags |= CF_HS_RECEIVED;
            s_handshake_fail(gw, c, "Handshake was canceled.");
            return 0;
        }
        s_protocol_error(gw, c, LIMITS_PE_BINARY,
                         "a binary frame on a JSON protocol connection",
                         LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE);
        return 0;
    }
    rx_ctx_t x = {gw, c};
    char err[256];
    int r = hubproto_json_feed(&c->rx, in, len,
                               (size_t)gw->cfg->gateway_max_message_bytes,
                               s_on_record, &x, err, sizeof err);
    if (r == -2) {
        cdt_buf_release(&c->rx);
        s_too_big(gw, c, err);
    }
    return 0;
}

/* ---- lifecycle ----------------------------------------------------------- */

int
conn_established(gateway_t *gw, struct lws *wsi, pss_t *pss)
{
    char uri[512];
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0)
        return -1;
    size_t hub_len;
    bool negotiate;
    httputil_hub_path(uri, strlen(uri), &hub_len, &negotiate);
    const cdt_hub_t *hub = cdt_catalog_hub_by_path(gw->catalog, uri, hub_len);
    if (!hub || negotiate)
        return -1;

    int64_t now = cdt_clock_mono_ms();
    conn_t *c = cdt_xcalloc(1, sizeof *c);
    c->wsi = wsi;
    /* plain TCP: frames are written straight to the socket (s_send_direct) */
    c->fd = gw->tls ? -1 : lws_get_socket_fd(wsi);
    c->id = ++gw->next_conn_id;
    c->hub = (uint16_t)hub->index;
    hmap_insert(&gw->conns, &c->node, hmap_hash_u64(c->id));
    s_slot_add(gw, c, now);
    pss->conn = c;
    gw->conns_by_hub[c->hub]++;
    gw->m.connections_opened++;

    char idbuf[256];
    const char *id = http_arg(gw, wsi, "id", idbuf, sizeof idbuf);
    if (id) {
        token_t *t = tokens_find(gw->tokens, id, strlen(id));
        if (!t || t->state != TOKEN_CLAIMED || t->hub != c->hub) {
            /* http_confirm_upgrade claimed it a moment ago */
            conn_abort(gw, c, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                       "Unauthorized");
            return 0;
        }
        tokens_bind(gw->tokens, t);
        c->token = t;
        c->key_id = t->key_id;
        if (t->admin)
            c->flags |= CF_ADMIN;
        cdt_log_debug("conn#%llu: open on '%s' (negotiated)",
                      (unsigned long long)c->id, hub->name);
        s_open(gw, c);
        return 0;
    }

    const char *tok;
    size_t tok_len;
    if (http_credential(gw, wsi, &tok, &tok_len) == CRED_NONE) {
        gw->m.auth_failures++;
        conn_abort(gw, c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "Unauthorized");
        return 0;
    }
    char peer[64] = "";
    lws_get_peer_simple(wsi, peer, sizeof peer);
    req_t *req = gw_req_new(gw, REQ_AUTH_WS);
    req->conn_id = c->id;
    c->req_id = req->id;
    c->phase = PH_AUTH;
    cdt_buf_reset(&gw->linkbuf);
    cdt_link_encode_auth(&gw->linkbuf, req->id, hub->name, tok, tok_len, peer);
    cdt_log_debug("conn#%llu: open on '%s' (skipNegotiation)",
                  (unsigned long long)c->id, hub->name);
    if (gw_link_send(gw) != 0) {
        gw_req_free(gw, &req);
        conn_auth_fail(gw, c);
    }
    return 0;
}

/* lws closes a connection itself when it refuses a frame (bad opcode,
 * reserved bits, a fragmented or oversize control frame, a stray
 * continuation): it sends 1002 if it can, then calls CLOSED without
 * saying why. A close nobody here asked for, while the client is still
 * connected and did not send a close, is such a refusal. */
static void
s_count_lws_close(gateway_t *gw, conn_t *c)
{
    if ((c->flags & (CF_CLOSING | CF_KILLED | CF_PEER_CLOSED)) || gw->stop)
        return;
    tcpinfo_t ti;
    if (tcpinfo_get(lws_get_socket_fd(c->wsi), &ti) != 0 || !ti.peer_open)
        return; /* the client hung up or reset */
    gw->m.protocol_errors[LIMITS_PE_WEBSOCKET]++;
    cdt_log_info("conn#%llu: closed by the WebSocket layer (a frame it "
                 "refused)",
                 (unsigned long long)c->id);
}

void
conn_closed(gateway_t *gw, conn_t *c)
{
    s_count_lws_close(gw, c);
    if (c->flags & CF_BROKER_OPEN) {
        cdt_buf_reset(&gw->linkbuf);
        cdt_link_encode_conn_close(&gw->linkbuf, c->id);
        (void)gw_link_send(gw);
    }
    if (c->req_id) {
        req_t *req = gw_req_find(gw, c->req_id);
        if (req && (req->kind == REQ_OPEN || req->kind == REQ_AUTH_WS))
            gw_req_free(gw, &req);
    }
    cdt_log_debug("conn#%llu: closed", (unsigned long long)c->id);
    if (c->flags & CF_DIRTY)
        dirtyq_remove(&gw->dirty, c->dirty);
    groupidx_leave_all(gw->groups, &c->groups);
    s_drop_queue(gw, c, GW_DROP_CLOSED);
    tokens_remove(gw->tokens, &c->token);
    hmap_remove(&gw->conns, &c->node);
    s_slot_remove(gw, c);
    gw->conns_by_hub[c->hub]--;
    gw->m.connections_closed++;
    cdt_buf_release(&c->rx);
    free(c->hs_error);
    if (c->held) {
        cdt_buf_release(c->held);
        free(c->held);
    }
    free(c);
}

void
conn_tick(gateway_t *gw, cslot_t *slot, int64_t now)
{
    conn_t *c = slot->c;
    if (slot->deadline_ms && now >= slot->deadline_ms) {
        slot->deadline_ms = 0;
        if (c->flags & CF_CLOSING) {
            if (!(c->flags & CF_KILLED)) {
                c->flags |= CF_KILLED;
                lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK,
                                LWS_TO_KILL_ASYNC);
            }
            return;
        }
        if (!(c->flags & CF_HS_DONE)) {
            if (c->flags & CF_HS_RECEIVED) {
                s_handshake_fail(gw, c, "Handshake was canceled.");
                return;
            }
            /* no handshake ever came: nobody to answer, just close (with
             * the refusal a deferred abort was holding, if any) */
            c->flags &= (uint16_t)~CF_DEFERRED;
            free(c->hs_error);
            c->hs_error = NULL;
            s_drop_queue(gw, c, GW_DROP_CLOSING);
            if (!c->close_code) {
                gw->m.refusals[LIMITS_REF_HANDSHAKE_TIMEOUT]++;
                cdt_log_info("conn#%llu: no handshake within %lld ms",
                             (unsigned long long)c->id,
                             (long long)gw->cfg->gateway_handshake_timeout_ms);
                s_begin_close(gw, c, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                              "Handshake timed out");
                return;
            }
            s_begin_close(gw, c, c->close_code, c->close_reason);
            return;
        }
        if (c->flags & CF_TIMEOUT_ARMED) {
            gw->m.client_timeouts++;
            cdt_log_info("conn#%llu: client timeout",
                         (unsigned long long)c->id);
            s_close_frame(gw, c, gw->timeout_frame, false,
                          LWS_CLOSE_STATUS_NORMAL);
            return;
        }
    }
    if ((c->flags & (CF_HS_DONE | CF_CLOSING)) == CF_HS_DONE &&
        outq_empty(&c->q) &&
        now - slot->send_ms >= gw->cfg->gateway_keepalive_ms) {
        outq_push(&c->q, &gw->pool, gw->ping_frame);
        slot->send_ms = now;
        s_want_write(gw, c);
    }
}
