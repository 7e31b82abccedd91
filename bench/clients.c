/*
 * clients - `conduit-bench clients`: N SignalR JSON clients over raw
 * WebSockets in one epoll loop, counting what they receive.
 *
 * Each connection: non-blocking connect from one of the given 127.0.0.x
 * source addresses (IP_BIND_ADDRESS_NO_PORT, so the port is chosen per
 * destination and each source address offers its own 28k ports), optional
 * negotiate (POST {hub}/negotiate, then the WebSocket with id=token), the
 * HTTP/1.1 upgrade (Sec-WebSocket-Accept verified), the JSON handshake,
 * a Ping right away and every ping_ms after (as the JS client does), and
 * an optional subscribe invocation. The second Ping comes at a point
 * spread evenly over the first ping_ms by the connection's index: clients
 * that all connected within a second would otherwise ping in the same
 * sweep every ping_ms, a burst (10,000 sends from the tool, 10,000 reads
 * in the gateways) that independent clients do not make, and that put a
 * 10-30 ms stall into every step it fell in. Server frames are parsed in place;
 * a text message may carry several RS-separated records, and records are
 * classified by their "type" without a JSON parser: for Invocations the
 * publisher's "bt" (send time, CLOCK_MONOTONIC µs), "bs" (sequence) and
 * "bk" (epoch) are read, and publish->receive latency goes into a
 * histogram. Nothing is allocated per message; a connection's input
 * buffer is used only when a frame straddles two reads.
 *
 * Signals: SIGUSR1 writes the counters of the current epoch to
 * REPORT.<epoch>, resets them and starts the next epoch (events tagged
 * with another epoch count as stale: late arrivals of an earlier step);
 * SIGTERM/SIGINT (or --duration) end the run and write REPORT. The
 * --ready file appears once every connection attempt has succeeded or
 * failed.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bench/bench.h"
#include "bench/hist.h"

#define CDT_LOG_MODULE "clients"
#include "common/cdt_buf.h"
#include "common/cdt_clock.h"
#include "common/cdt_log.h"
#include "common/cdt_mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define CL_RX_SIZE    (256 * 1024)
#define CL_MAX_HTTP   16384
#define CL_MAX_SRC    64
#define CL_MAX_PORTS  8
#define CL_SIGNAL_TAG UINT64_MAX
#define CL_MAX_EVENTS 1024
#define CL_SWEEP_MS   200
#define CL_FD_RESERVE 32
/* The tool shares the two CPUs with the servers. A client loop that
 * sleeps in epoll_wait after every socket it reads is woken by every
 * send, and the wake-up (an IPI in a VM) is paid by the sender: about a
 * fifth of the gateway's CPU per delivery, plus a wait and a context
 * switch per delivery here. After a wait that found fewer than
 * CL_BATCH_FEW sockets ready the loop sleeps batch_us first; while it
 * sleeps, the sends only queue readiness. */
#define CL_BATCH_US  200
#define CL_BATCH_FEW 64
#define WS_GUID      "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define RS           0x1e

enum cl_state {
    CS_IDLE = 0,
    CS_CONNECTING, /* TCP connect in progress */
    CS_NEGOTIATE,  /* POST negotiate sent, reading the answer */
    CS_UPGRADE,    /* GET upgrade sent, reading the 101 */
    CS_HANDSHAKE,  /* SignalR handshake sent, waiting for {} */
    CS_OPEN,
    CS_DEAD,
};

enum cl_fail {
    CF_CONNECT = 0,
    CF_HTTP,
    CF_ACCEPT,
    CF_NEGOTIATE,
    CF_HANDSHAKE,
    CF_TIMEOUT,
    CF_CLOSED,
    CF_N,
};

static const char *const s_fail_names[CF_N] = {
    "fail_connect",   "fail_http",    "fail_accept", "fail_negotiate",
    "fail_handshake", "fail_timeout", "fail_closed",
};

typedef struct conn {
    int fd;
    uint8_t state;
    bool negotiated;    /* the WebSocket leg after a negotiate */
    bool want_out;      /* EPOLLOUT registered */
    uint32_t seq_epoch; /* the epoch last_seq belongs to */
    int64_t since_ms;   /* start of the attempt, then time of the last send */
    int64_t last_seq;   /* "bs" of the last event; -1 = none */
    cdt_buf_t in;       /* bytes of an incomplete frame or HTTP answer */
    cdt_buf_t out;      /* bytes the socket did not take yet */
    cdt_buf_t msg;      /* a fragmented WebSocket message */
    char *conn_token;   /* from negotiate, until the upgrade is sent */
    char ws_key[25];    /* Sec-WebSocket-Key, until the 101 is checked */
} conn_t;

typedef struct cl_opts {
    char host[64];
    uint16_t port;
    uint16_t ports[CL_MAX_PORTS]; /* port, then each --also-port */
    size_t n_ports;
    char path[512];
    const char *token;
    const char *token_fmt;
    int64_t key_lo, key_hi, per_key;
    int64_t n, offset;
    struct in_addr src[CL_MAX_SRC];
    size_t n_src;
    bool negotiate;
    const char *sub_method;
    const char *sub_arg;
    double connect_rate;
    int64_t inflight_max;
    int64_t connect_timeout_ms;
    int64_t ping_ms;
    int64_t batch_us;
    double duration_s;
    const char *report;
    const char *ready;
} cl_opts_t;

typedef struct cl {
    cl_opts_t o;
    int ep;
    int sfd;
    conn_t *conns;
    uint8_t *rx;
    uint64_t rng;
    size_t next; /* next connection to start */
    int64_t inflight;
    int64_t start_ms;
    int64_t resolved_ms; /* when every attempt had an outcome; 0 = not yet */
    bool ready_written;
    bool stop;

    /* cumulative */
    uint64_t conns_ok, conns_failed, conns_open;
    uint64_t fail[CF_N];
    uint64_t disconnects, server_closes, server_closes_reconnect, ws_closes;
    uint64_t completions_ok, completions_err, pings_sent, subscribes;
    char first_error[200];

    /* per epoch */
    uint32_t epoch;
    int64_t epoch_start_us;
    int64_t epoch_cpu_us;
    uint64_t recv_inv, recv_stale, recv_foreign, recv_reorder, recv_pings;
    uint64_t recv_other, recv_frames, recv_bytes;
    hist_t hist;
} cl_t;

/* ---- small helpers ----------------------------------------------------- */

static const uint8_t *
s_find(const uint8_t *p, size_t len, const char *needle)
{
    size_t nl = strlen(needle);
    if (nl == 0 || len < nl)
        return NULL;
    const uint8_t *end = p + len - nl + 1;
    while (p < end) {
        const uint8_t *q = memchr(p, needle[0], (size_t)(end - p));
        if (!q)
            return NULL;
        if (memcmp(q, needle, nl) == 0)
            return q;
        p = q + 1;
    }
    return NULL;
}

static void
s_set_error(cl_t *cl, const char *what, const uint8_t *detail, size_t len)
{
    if (cl->first_error[0])
        return;
    size_t n =
        (size_t)snprintf(cl->first_error, sizeof cl->first_error, "%s", what);
    if (detail && n + 2 < sizeof cl->first_error) {
        cl->first_error[n++] = ':';
        cl->first_error[n++] = ' ';
        for (size_t i = 0; i < len && n + 1 < sizeof cl->first_error; i++)
            cl->first_error[n++] =
                detail[i] >= 0x20 && detail[i] < 0x7f ? (char)detail[i] : '.';
        cl->first_error[n] = '\0';
    }
}

static void
s_base64(const uint8_t *in, size_t len, char *out)
{
    (void)EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

static void
s_url_encode(cdt_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
            ch == '~') {
            cdt_buf_append_byte(b, ch);
        } else {
            cdt_buf_append_byte(b, '%');
            cdt_buf_append_byte(b, (uint8_t)hex[ch >> 4]);
            cdt_buf_append_byte(b, (uint8_t)hex[ch & 15]);
        }
    }
}

static size_t
s_index(const cl_t *cl, const conn_t *c)
{
    return (size_t)(c - cl->conns);
}

/* The gateway port of connection i: spread round robin over the ports,
 * as a load balancer spreads a tenant's connections over gateways. */
static uint16_t
s_port(const cl_t *cl, size_t i)
{
    return cl->o.ports[i % cl->o.n_ports];
}

/* The token of connection i: fixed, or the key of its slot. */
static void
s_token(const cl_t *cl, size_t i, char *out, size_t outlen)
{
    if (cl->o.token) {
        snprintf(out, outlen, "%s", cl->o.token);
        return;
    }
    int64_t g = cl->o.offset + (int64_t)i;
    int64_t span = cl->o.key_hi - cl->o.key_lo + 1;
    int64_t key = cl->o.key_lo + (g / cl->o.per_key) % span;
    (void)bench_fmt_int(out, outlen, cl->o.token_fmt, key);
}

/* ---- epoll and teardown ------------------------------------------------ */

static void
s_watch(cl_t *cl, conn_t *c, bool out)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET | (out ? EPOLLOUT : 0),
                             .data.u64 = s_index(cl, c)};
    if (epoll_ctl(cl->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->want_out = out;
}

static void
s_conn_free(conn_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    cdt_buf_release(&c->in);
    cdt_buf_release(&c->out);
    cdt_buf_release(&c->msg);
    free(c->conn_token);
    c->conn_token = NULL;
    c->state = CS_DEAD;
}

/* Makes the close that follows a reset (SO_LINGER 0), for the end of the
 * run: a normal close leaves each connection in TIME_WAIT for a minute on
 * the closing side, which is this machine, where real clients would keep
 * it on theirs. Ten thousand of them would stay in the kernel's socket
 * tables through the next scenario, and every reader of those tables (ss,
 * /proc/net/tcp, the VM's agent) pays for them there. */
static void
s_conn_abort(conn_t *c)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    if (c->fd >= 0)
        (void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

/* Ends a connection: an open one counts as a disconnect, one still being
 * set up as a failed attempt of the given kind. */
static void
s_conn_end(cl_t *cl, conn_t *c, enum cl_fail why, const char *what,
           const uint8_t *detail, size_t dlen)
{
    if (c->state == CS_DEAD)
        return;
    if (c->state == CS_OPEN) {
        cl->conns_open--;
        cl->disconnects++;
    } else {
        cl->inflight--;
        cl->conns_failed++;
        cl->fail[why]++;
        s_set_error(cl, what, detail, dlen);
    }
    s_conn_free(c);
}

/* ---- sending ----------------------------------------------------------- */

static int
s_flush(cl_t *cl, conn_t *c)
{
    while (c->out.len > 0) {
        ssize_t n =
            send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            s_conn_end(cl, c, CF_CLOSED, "send", (const uint8_t *)"", 0);
            return -1;
        }
        cdt_buf_consume(&c->out, (size_t)n);
    }
    if (c->out.len > 0 && !c->want_out)
        s_watch(cl, c, true);
    else if (c->out.len == 0 && c->want_out && c->state != CS_CONNECTING)
        s_watch(cl, c, false);
    return 0;
}

static int
s_send_raw(cl_t *cl, conn_t *c, const void *p, size_t len)
{
    cdt_buf_append(&c->out, p, len);
    return s_flush(cl, c);
}

/* One masked client frame. */
static int
s_send_frame(cl_t *cl, conn_t *c, int opcode, const void *payload, size_t len)
{
    uint8_t hdr[14];
    size_t h = 0;
    hdr[h++] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        hdr[h++] = (uint8_t)(0x80 | len);
    } else if (len < 65536) {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (uint8_t)(len >> 8);
        hdr[h++] = (uint8_t)len;
    } else {
        hdr[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            hdr[h++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    uint64_t r = bench_rand(&cl->rng);
    uint8_t mask[4] = {(uint8_t)r, (uint8_t)(r >> 8), (uint8_t)(r >> 16),
                       (uint8_t)(r >> 24)};
    memcpy(hdr + h, mask, 4);
    h += 4;
    cdt_buf_append(&c->out, hdr, h);
    cdt_buf_reserve(&c->out, len);
    uint8_t *dst = c->out.data + c->out.len;
    const uint8_t *src = payload;
    for (size_t i = 0; i < len; i++)
        dst[i] = src[i] ^ mask[i & 3];
    c->out.len += len;
    c->out.data[c->out.len] = '\0';
    c->since_ms = cdt_clock_mono_ms();
    return s_flush(cl, c);
}

static int
s_send_text(cl_t *cl, conn_t *c, const char *text)
{
    return s_send_frame(cl, c, 1, text, strlen(text));
}

static int
s_send_request(cl_t *cl, conn_t *c)
{
    char token[256];
    s_token(cl, s_index(cl, c), token, sizeof token);
    cdt_buf_t req = CDT_BUF_INIT;
    if (cl->o.negotiate && !c->negotiated) {
        cdt_buf_printf(&req,
                       "POST %s/negotiate?negotiateVersion=1 HTTP/1.1\r\n"
                       "Host: %s:%u\r\n"
                       "Authorization: Bearer %s\r\n"
                       "X-Requested-With: XMLHttpRequest\r\n"
                       "Content-Length: 0\r\n\r\n",
                       cl->o.path, cl->o.host, s_port(cl, s_index(cl, c)),
                       token);
        c->state = CS_NEGOTIATE;
    } else {
        uint8_t raw[16];
        for (int i = 0; i < 16; i += 8) {
            uint64_t r = bench_rand(&cl->rng);
            memcpy(raw + i, &r, 8);
        }
        s_base64(raw, 16, c->ws_key);
        cdt_buf_printf(&req, "GET %s?", cl->o.path);
        if (c->conn_token) {
            cdt_buf_append_str(&req, "id=");
            s_url_encode(&req, c->conn_token);
            cdt_buf_append_str(&req, "&");
            free(c->conn_token);
            c->conn_token = NULL;
        }
        cdt_buf_append_str(&req, "access_token=");
        s_url_encode(&req, token);
        cdt_buf_printf(&req,
                       " HTTP/1.1\r\n"
                       "Host: %s:%u\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: %s\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n",
                       cl->o.host, s_port(cl, s_index(cl, c)), c->ws_key);
        c->state = CS_UPGRADE;
    }
    int rc = s_send_raw(cl, c, req.data, req.len);
    cdt_buf_release(&req);
    return rc;
}

/* ---- starting connections ---------------------------------------------- */

static int
s_conn_connect(cl_t *cl, conn_t *c)
{
    size_t i = s_index(cl, c);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        c->state = CS_CONNECTING;
        s_conn_end(cl, c, CF_CONNECT, strerror(errno), NULL, 0);
        return -1;
    }
    int one = 1;
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (cl->o.n_src > 0) {
        (void)setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                         sizeof one);
        struct sockaddr_in src = {.sin_family = AF_INET,
                                  .sin_addr = cl->o.src[i % cl->o.n_src]};
        if (bind(c->fd, (struct sockaddr *)&src, sizeof src) != 0) {
            c->state = CS_CONNECTING;
            s_conn_end(cl, c, CF_CONNECT, "bind", (const uint8_t *)"", 0);
            return -1;
        }
    }
    struct sockaddr_in dst = {.sin_family = AF_INET,
                              .sin_port = htons(s_port(cl, i))};
    (void)inet_pton(AF_INET, cl->o.host, &dst.sin_addr);
    c->state = CS_CONNECTING;
    c->want_out = true;
    if (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) != 0 &&
        errno != EINPROGRESS) {
        const char *e = strerror(errno);
        s_conn_end(cl, c, CF_CONNECT, "connect", (const uint8_t *)e, strlen(e));
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET,
                             .data.u64 = i};
    if (epoll_ctl(cl->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        const char *e = strerror(errno);
        s_conn_end(cl, c, CF_CONNECT, "epoll", (const uint8_t *)e, strlen(e));
        return -1;
    }
    return 0;
}

static void
s_launch(cl_t *cl, int64_t now_ms)
{
    int64_t allowed = (int64_t)cl->o.n;
    if (cl->o.connect_rate > 0) {
        allowed = (int64_t)((double)(now_ms - cl->start_ms) *
                            cl->o.connect_rate / 1000.0) +
                  1;
    }
    while (cl->next < (size_t)cl->o.n && (int64_t)cl->next < allowed &&
           cl->inflight < cl->o.inflight_max) {
        conn_t *c = &cl->conns[cl->next++];
        c->since_ms = now_ms;
        c->last_seq = -1;
        cl->inflight++;
        (void)s_conn_connect(cl, c);
    }
}

/* ---- receiving: records ------------------------------------------------ */

static void
s_on_open(cl_t *cl, conn_t *c)
{
    c->state = CS_OPEN;
    cl->inflight--;
    cl->conns_ok++;
    cl->conns_open++;
    /* The JS client pings right after the handshake; it also arms the
     * server's client timeout. */
    if (s_send_text(cl, c, "{\"type\":6}\x1e") != 0)
        return;
    cl->pings_sent++;
    if (cl->o.sub_method) {
        char arg[256];
        (void)bench_fmt_int(arg, sizeof arg, cl->o.sub_arg,
                            cl->o.offset + (int64_t)s_index(cl, c));
        char inv[512];
        snprintf(inv, sizeof inv,
                 "{\"arguments\":[\"%s\"],\"invocationId\":\"0\","
                 "\"target\":\"%s\",\"type\":1}\x1e",
                 arg, cl->o.sub_method);
        if (s_send_text(cl, c, inv) == 0)
            cl->subscribes++;
    }
    /* the next Ping's phase (since_ms is the last send): index x golden
     * ratio, mod 1, an even spread for any n */
    double phase = (double)s_index(cl, c) * 0.6180339887498949;
    phase -= (double)(int64_t)phase;
    c->since_ms -= (int64_t)(phase * (double)cl->o.ping_ms);
}

static void
s_on_invocation(cl_t *cl, conn_t *c, const uint8_t *r, size_t len,
                int64_t now_us)
{
    /* one pass over the record for "bt":, "bk": and "bs": (the load tool
     * reads as many records as the servers write: keep it cheap) */
    const uint8_t *p = r, *end = r + len;
    uint64_t v[3] = {0, 0, 0};
    bool have[3] = {false, false, false};
    while (p + 5 < end) {
        const uint8_t *q = memchr(p, '"', (size_t)(end - p - 5));
        if (!q)
            break;
        p = q + 1;
        if (q[1] != 'b' || q[3] != '"' || q[4] != ':')
            continue;
        int i = q[2] == 't' ? 0 : q[2] == 'k' ? 1 : q[2] == 's' ? 2 : -1;
        if (i < 0 || have[i])
            continue;
        const uint8_t *d = q + 5;
        uint64_t n = 0;
        bool digits = false;
        while (d < end && *d >= '0' && *d <= '9') {
            n = n * 10 + (uint64_t)(*d++ - '0');
            digits = true;
        }
        if (digits) {
            v[i] = n;
            have[i] = true;
        }
        p = d;
    }
    uint64_t bt = v[0], bk = v[1], bs = v[2];
    if (!have[0] || !have[1]) {
        cl->recv_foreign++;
        return;
    }
    if (bk != cl->epoch) {
        cl->recv_stale++;
        return;
    }
    cl->recv_inv++;
    hist_record(&cl->hist, now_us > (int64_t)bt ? (uint64_t)now_us - bt : 0);
    if (have[2]) {
        if (c->seq_epoch == cl->epoch && c->last_seq >= 0 &&
            (int64_t)bs <= c->last_seq)
            cl->recv_reorder++;
        c->seq_epoch = cl->epoch;
        c->last_seq = (int64_t)bs;
    }
}

static void
s_on_record(cl_t *cl, conn_t *c, const uint8_t *r, size_t len, int64_t now_us)
{
    if (c->state == CS_HANDSHAKE) {
        size_t a = 0, b = len;
        while (a < b && (r[a] == ' ' || r[a] == '\n' || r[a] == '\r'))
            a++;
        while (b > a && (r[b - 1] == ' ' || r[b - 1] == '\n'))
            b--;
        if (b - a == 2 && r[a] == '{' && r[a + 1] == '}')
            s_on_open(cl, c);
        else
            s_conn_end(cl, c, CF_HANDSHAKE, "handshake", r, len);
        return;
    }
    /* the gateway writes "type" first: skip the search then */
    const uint8_t *t = len > 8 && memcmp(r, "{\"type\":", 8) == 0
                           ? r + 1
                           : s_find(r, len, "\"type\":");
    if (!t) {
        cl->recv_other++;
        return;
    }
    t += 7;
    while (t < r + len && *t == ' ')
        t++;
    int type = 0;
    while (t < r + len && *t >= '0' && *t <= '9')
        type = type * 10 + (*t++ - '0');
    switch (type) {
    case 1:
        s_on_invocation(cl, c, r, len, now_us);
        break;
    case 3:
        if (s_find(r, len, "\"error\""))
            cl->completions_err++;
        else
            cl->completions_ok++;
        break;
    case 6:
        cl->recv_pings++;
        break;
    case 7:
        cl->server_closes++;
        if (s_find(r, len, "\"allowReconnect\":true"))
            cl->server_closes_reconnect++;
        s_set_error(cl, "server close", r, len);
        break;
    default:
        cl->recv_other++;
        break;
    }
}

static void
s_on_message(cl_t *cl, conn_t *c, const uint8_t *p, size_t len, int64_t now_us)
{
    const uint8_t *end = p + len;
    while (p < end && c->state != CS_DEAD) {
        const uint8_t *rs = memchr(p, RS, (size_t)(end - p));
        if (!rs)
            break; /* the JS client would fail: "Message is incomplete." */
        s_on_record(cl, c, p, (size_t)(rs - p), now_us);
        p = rs + 1;
    }
}

/* ---- receiving: frames and HTTP ---------------------------------------- */

/* One WebSocket frame at p; returns its size, 0 when incomplete. */
static size_t
s_on_frame(cl_t *cl, conn_t *c, const uint8_t *p, size_t len, int64_t now_us)
{
    if (len < 2)
        return 0;
    bool fin = p[0] & 0x80;
    int opcode = p[0] & 0x0f;
    bool masked = p[1] & 0x80;
    uint64_t plen = p[1] & 0x7f;
    size_t h = 2;
    if (plen == 126) {
        if (len < 4)
            return 0;
        plen = ((uint64_t)p[2] << 8) | p[3];
        h = 4;
    } else if (plen == 127) {
        if (len < 10)
            return 0;
        plen = 0;
        for (int i = 0; i < 8; i++)
            plen = (plen << 8) | p[2 + i];
        h = 10;
    }
    if (masked)
        h += 4; /* servers must not mask; tolerate it anyway */
    if (plen > (64u << 20)) {
        s_conn_end(cl, c, CF_CLOSED, "frame too large", NULL, 0);
        return len;
    }
    if (len < h + plen)
        return 0;
    const uint8_t *payload = p + h;
    cl->recv_frames++;
    cl->recv_bytes += h + plen;
    switch (opcode) {
    case 0:
    case 1:
    case 2:
        if (fin && opcode != 0 && c->msg.len == 0) {
            s_on_message(cl, c, payload, (size_t)plen, now_us);
        } else {
            cdt_buf_append(&c->msg, payload, (size_t)plen);
            if (fin) {
                s_on_message(cl, c, c->msg.data, c->msg.len, now_us);
                if (c->state != CS_DEAD)
                    cdt_buf_reset(&c->msg);
            }
        }
        break;
    case 8:
        cl->ws_closes++;
        (void)s_send_frame(cl, c, 8, payload, plen >= 2 ? 2 : 0);
        s_conn_end(cl, c, CF_CLOSED, "websocket close", payload, (size_t)plen);
        return len;
    case 9:
        (void)s_send_frame(cl, c, 10, payload, (size_t)plen);
        break;
    default:
        break;
    }
    return h + (size_t)plen;
}

static bool
s_header_has(const uint8_t *hdr, size_t len, const char *name,
             const char *value)
{
    size_t nl = strlen(name);
    const uint8_t *p = hdr, *end = hdr + len;
    while (p < end) {
        const uint8_t *eol = s_find(p, (size_t)(end - p), "\r\n");
        if (!eol)
            eol = end;
        if ((size_t)(eol - p) > nl &&
            strncasecmp((const char *)p, name, nl) == 0 && p[nl] == ':') {
            const uint8_t *v = p + nl + 1;
            while (v < eol && *v == ' ')
                v++;
            size_t vl = strlen(value);
            return (size_t)(eol - v) >= vl && memcmp(v, value, vl) == 0;
        }
        p = eol + 2;
    }
    return false;
}

static long
s_content_length(const uint8_t *hdr, size_t len)
{
    const uint8_t *p = hdr, *end = hdr + len;
    while (p < end) {
        const uint8_t *eol = s_find(p, (size_t)(end - p), "\r\n");
        if (!eol)
            eol = end;
        if ((size_t)(eol - p) > 15 &&
            strncasecmp((const char *)p, "content-length:", 15) == 0)
            return strtol((const char *)p + 15, NULL, 10);
        p = eol + 2;
    }
    return -1;
}

/* The 101 answer; returns the header size, 0 when incomplete. */
static size_t
s_on_upgrade(cl_t *cl, conn_t *c, const uint8_t *p, size_t len)
{
    const uint8_t *he = s_find(p, len, "\r\n\r\n");
    if (!he) {
        if (len > CL_MAX_HTTP)
            s_conn_end(cl, c, CF_HTTP, "http", p, 60);
        return 0;
    }
    size_t hl = (size_t)(he - p) + 4;
    if (hl < 12 || memcmp(p, "HTTP/1.1 101", 12) != 0) {
        const uint8_t *eol = s_find(p, hl, "\r\n");
        s_conn_end(cl, c, CF_HTTP, "upgrade", p, (size_t)(eol - p));
        return len;
    }
    char cat[64];
    snprintf(cat, sizeof cat, "%s%s", c->ws_key, WS_GUID);
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char accept[64];
    if (!EVP_Digest(cat, strlen(cat), md, &mdlen, EVP_sha1(), NULL)) {
        s_conn_end(cl, c, CF_ACCEPT, "sha1", NULL, 0);
        return len;
    }
    s_base64(md, mdlen, accept);
    if (!s_header_has(p, hl, "sec-websocket-accept", accept)) {
        s_conn_end(cl, c, CF_ACCEPT, "bad Sec-WebSocket-Accept", NULL, 0);
        return len;
    }
    c->state = CS_HANDSHAKE;
    if (s_send_text(cl, c, "{\"protocol\":\"json\",\"version\":1}\x1e") != 0)
        return len;
    return hl;
}

/* The negotiate answer; on success the connection starts over as the
 * WebSocket leg with the connection token. Returns bytes consumed. */
static size_t
s_on_negotiate(cl_t *cl, conn_t *c, const uint8_t *p, size_t len)
{
    const uint8_t *he = s_find(p, len, "\r\n\r\n");
    if (!he) {
        if (len > CL_MAX_HTTP)
            s_conn_end(cl, c, CF_NEGOTIATE, "negotiate", p, 60);
        return 0;
    }
    size_t hl = (size_t)(he - p) + 4;
    long cl_len = s_content_length(p, hl);
    if (cl_len < 0 || cl_len > CL_MAX_HTTP) {
        s_conn_end(cl, c, CF_NEGOTIATE, "negotiate without content-length",
                   NULL, 0);
        return len;
    }
    if (len < hl + (size_t)cl_len)
        return 0;
    if (memcmp(p, "HTTP/1.1 200", 12) != 0) {
        const uint8_t *eol = s_find(p, hl, "\r\n");
        s_conn_end(cl, c, CF_NEGOTIATE, "negotiate", p, (size_t)(eol - p));
        return len;
    }
    const uint8_t *body = p + hl;
    const uint8_t *t = s_find(body, (size_t)cl_len, "\"connectionToken\":\"");
    const uint8_t *q =
        t ? memchr(t + 19, '"', (size_t)(body + cl_len - t - 19)) : NULL;
    if (!q) {
        s_conn_end(cl, c, CF_NEGOTIATE, "negotiate body", body, (size_t)cl_len);
        return len;
    }
    char *token = cdt_xstrndup((const char *)t + 19, (size_t)(q - t - 19));
    /* Browsers open the WebSocket on a new connection. */
    close(c->fd);
    c->fd = -1;
    cdt_buf_reset(&c->in);
    cdt_buf_reset(&c->out);
    c->conn_token = token;
    c->negotiated = true;
    (void)s_conn_connect(cl, c); /* still one attempt in flight */
    return (size_t)-1;           /* the buffer belonged to the old socket */
}

/* Everything buffered for c; returns bytes consumed, or (size_t)-1 when
 * the connection was replaced and the buffer must be dropped. */
static size_t
s_process(cl_t *cl, conn_t *c, const uint8_t *p, size_t len, int64_t now_us)
{
    size_t off = 0;
    if (c->state == CS_NEGOTIATE)
        return s_on_negotiate(cl, c, p, len);
    if (c->state == CS_UPGRADE) {
        off = s_on_upgrade(cl, c, p, len);
        if (off == 0 || c->state == CS_DEAD)
            return c->state == CS_DEAD ? len : 0;
    }
    while (off < len && (c->state == CS_HANDSHAKE || c->state == CS_OPEN)) {
        size_t n = s_on_frame(cl, c, p + off, len - off, now_us);
        if (n == 0)
            break;
        off += n;
    }
    return c->state == CS_DEAD ? len : off;
}

/* Edge-triggered: reads until recv returns less than the buffer (the
 * socket was empty then; anything later is a new edge). */
static void
s_on_readable(cl_t *cl, conn_t *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, cl->rx, CL_RX_SIZE, MSG_DONTWAIT);
        if (n == 0) {
            s_conn_end(cl, c, CF_CLOSED, "closed by server", NULL, 0);
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN) {
                const char *e = strerror(errno);
                s_conn_end(cl, c, CF_CLOSED, "recv", (const uint8_t *)e,
                           strlen(e));
            }
            return;
        }
        int64_t now_us = cdt_clock_mono_us();
        if (c->in.len == 0) {
            size_t used = s_process(cl, c, cl->rx, (size_t)n, now_us);
            if (used == (size_t)-1 || c->state == CS_DEAD)
                return;
            if (used < (size_t)n)
                cdt_buf_append(&c->in, cl->rx + used, (size_t)n - used);
        } else {
            cdt_buf_append(&c->in, cl->rx, (size_t)n);
            size_t used = s_process(cl, c, c->in.data, c->in.len, now_us);
            if (used == (size_t)-1 || c->state == CS_DEAD)
                return;
            cdt_buf_consume(&c->in, used);
        }
        if ((size_t)n < CL_RX_SIZE)
            return;
    }
}

static void
s_on_event(cl_t *cl, conn_t *c, uint32_t events)
{
    if (c->state == CS_CONNECTING) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        int err = 0;
        socklen_t el = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
            err = errno;
        if (err) {
            const char *e = strerror(err);
            s_conn_end(cl, c, CF_CONNECT, "connect", (const uint8_t *)e,
                       strlen(e));
            return;
        }
        c->want_out = true;
        (void)s_send_request(cl, c); /* drops EPOLLOUT once flushed */
        return;
    }
    if (events & EPOLLOUT) {
        if (s_flush(cl, c) != 0)
            return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        s_on_readable(cl, c);
}

/* ---- timers and reports ------------------------------------------------ */

static void
s_sweep(cl_t *cl, int64_t now_ms)
{
    for (size_t i = 0; i < cl->next; i++) {
        conn_t *c = &cl->conns[i];
        if (c->state == CS_OPEN) {
            if (now_ms - c->since_ms >= cl->o.ping_ms &&
                s_send_text(cl, c, "{\"type\":6}\x1e") == 0)
                cl->pings_sent++;
        } else if (c->state != CS_DEAD &&
                   now_ms - c->since_ms >= cl->o.connect_timeout_ms) {
            s_conn_end(cl, c, CF_TIMEOUT, "timeout", NULL, 0);
        }
    }
}

static void
s_write_report(cl_t *cl, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return;
    int64_t now_us = cdt_clock_mono_us();
    fprintf(f, "mode clients\n");
    fprintf(f, "epoch_max %u\n", cl->epoch);
    fprintf(f, "procs 1\n");
    fprintf(f, "conns_target %lld\n", (long long)cl->o.n);
    fprintf(f, "conns_ok %llu\n", (unsigned long long)cl->conns_ok);
    fprintf(f, "conns_failed %llu\n", (unsigned long long)cl->conns_failed);
    fprintf(f, "conns_open %llu\n", (unsigned long long)cl->conns_open);
    for (int i = 0; i < CF_N; i++)
        fprintf(f, "%s %llu\n", s_fail_names[i],
                (unsigned long long)cl->fail[i]);
    fprintf(f, "setup_ms_max %lld\n",
            (long long)(cl->resolved_ms ? cl->resolved_ms - cl->start_ms : 0));
    fprintf(f, "disconnects %llu\n", (unsigned long long)cl->disconnects);
    fprintf(f, "server_closes %llu\n", (unsigned long long)cl->server_closes);
    fprintf(f, "server_closes_reconnect %llu\n",
            (unsigned long long)cl->server_closes_reconnect);
    fprintf(f, "ws_closes %llu\n", (unsigned long long)cl->ws_closes);
    fprintf(f, "subscribes %llu\n", (unsigned long long)cl->subscribes);
    fprintf(f, "completions_ok %llu\n", (unsigned long long)cl->completions_ok);
    fprintf(f, "completions_err %llu\n",
            (unsigned long long)cl->completions_err);
    fprintf(f, "pings_sent %llu\n", (unsigned long long)cl->pings_sent);
    fprintf(f, "recv_inv %llu\n", (unsigned long long)cl->recv_inv);
    fprintf(f, "recv_stale %llu\n", (unsigned long long)cl->recv_stale);
    fprintf(f, "recv_foreign %llu\n", (unsigned long long)cl->recv_foreign);
    fprintf(f, "recv_reorder %llu\n", (unsigned long long)cl->recv_reorder);
    fprintf(f, "recv_pings %llu\n", (unsigned long long)cl->recv_pings);
    fprintf(f, "recv_other %llu\n", (unsigned long long)cl->recv_other);
    fprintf(f, "recv_frames %llu\n", (unsigned long long)cl->recv_frames);
    fprintf(f, "recv_bytes %llu\n", (unsigned long long)cl->recv_bytes);
    fprintf(f, "elapsed_us_max %lld\n",
            (long long)(now_us - cl->epoch_start_us));
    fprintf(f, "cpu_us %lld\n", (long long)(bench_cpu_us() - cl->epoch_cpu_us));
    fprintf(f, "lat_max_us %llu\n", (unsigned long long)cl->hist.max);
    if (cl->first_error[0])
        fprintf(f, "first_error %s\n", cl->first_error);
    hist_write(&cl->hist, f);
    fclose(f);
    (void)bench_write_file(path, text, len);
    free(text);
}

static void
s_next_epoch(cl_t *cl)
{
    char path[4096];
    snprintf(path, sizeof path, "%s.%u", cl->o.report, cl->epoch);
    s_write_report(cl, path);
    cl->epoch++;
    cl->epoch_start_us = cdt_clock_mono_us();
    cl->epoch_cpu_us = bench_cpu_us();
    cl->recv_inv = cl->recv_stale = cl->recv_foreign = cl->recv_reorder = 0;
    cl->recv_pings = cl->recv_other = cl->recv_frames = cl->recv_bytes = 0;
    hist_reset(&cl->hist);
}

static void
s_check_ready(cl_t *cl, int64_t now_ms)
{
    if (cl->ready_written || cl->next < (size_t)cl->o.n || cl->inflight > 0)
        return;
    cl->resolved_ms = now_ms;
    cl->ready_written = true;
    if (!cl->o.ready)
        return;
    char text[256];
    int n = snprintf(
        text, sizeof text, "conns_ok %llu\nconns_failed %llu\nsetup_ms %lld\n",
        (unsigned long long)cl->conns_ok, (unsigned long long)cl->conns_failed,
        (long long)(now_ms - cl->start_ms));
    (void)bench_write_file(cl->o.ready, text, (size_t)n);
}

static void
s_on_signal(cl_t *cl)
{
    struct signalfd_siginfo si;
    while (read(cl->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGUSR1)
            s_next_epoch(cl);
        else
            cl->stop = true;
    }
}

/* ---- options and main --------------------------------------------------- */

static void
s_usage(void)
{
    fprintf(
        stderr,
        "usage: conduit-bench clients --url ws://H:P/hub --n N\n"
        "         (--token KEY | --token-fmt 'key%%d' --keys A..B [--per-key M])\n"
        "         [--also-port P]... [--offset I] [--src 127.0.0.2,127.0.0.3]\n"
        "         [--negotiate]\n"
        "         [--subscribe 'Method:arg%%d'] [--connect-rate R]\n"
        "         [--inflight K] [--connect-timeout-ms MS] [--ping-ms MS]\n"
        "         [--batch-us US] [--duration S] --report FILE [--ready FILE]\n"
        "Connection i goes to the URL's port or an --also-port, round robin\n"
        "(same host and path), as a load balancer spreads connections.\n"
        "Connection i (global index offset+i) uses key A + ((offset+i)/M)\n"
        "%% (B-A+1). SIGUSR1: write FILE.<epoch> and start the next epoch;\n"
        "SIGTERM or --duration: write FILE and exit. --batch-us (default %d):\n"
        "after a wait that returned few sockets, sleep this long before\n"
        "the next one, so that readiness accumulates (adds at most that\n"
        "much to the measured latency).\n",
        CL_BATCH_US);
}

static int
s_parse_url(cl_opts_t *o, const char *url)
{
    if (strncmp(url, "ws://", 5) != 0)
        return -1;
    const char *h = url + 5;
    const char *colon = strchr(h, ':');
    const char *slash = strchr(h, '/');
    if (!colon || !slash || colon > slash ||
        (size_t)(colon - h) >= sizeof o->host)
        return -1;
    memcpy(o->host, h, (size_t)(colon - h));
    o->host[colon - h] = '\0';
    int64_t port = 0;
    char ps[8];
    size_t pl = (size_t)(slash - colon - 1);
    if (pl == 0 || pl >= sizeof ps)
        return -1;
    memcpy(ps, colon + 1, pl);
    ps[pl] = '\0';
    if (bench_parse_i64(ps, &port) || port < 1 || port > 65535)
        return -1;
    o->port = (uint16_t)port;
    struct in_addr a;
    if (inet_pton(AF_INET, o->host, &a) != 1 || strlen(slash) >= sizeof o->path)
        return -1;
    snprintf(o->path, sizeof o->path, "%s", slash);
    return 0;
}

static int
s_parse_src(cl_opts_t *o, const char *list)
{
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        if (o->n_src == CL_MAX_SRC ||
            inet_pton(AF_INET, t, &o->src[o->n_src]) != 1)
            return -1;
        o->n_src++;
    }
    return o->n_src > 0 ? 0 : -1;
}

static int
s_parse_opts(cl_opts_t *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"url", required_argument, NULL, 'u'},
        {"also-port", required_argument, NULL, 'P'},
        {"token", required_argument, NULL, 't'},
        {"token-fmt", required_argument, NULL, 'T'},
        {"keys", required_argument, NULL, 'k'},
        {"per-key", required_argument, NULL, 'm'},
        {"n", required_argument, NULL, 'n'},
        {"offset", required_argument, NULL, 'o'},
        {"src", required_argument, NULL, 's'},
        {"negotiate", no_argument, NULL, 'N'},
        {"subscribe", required_argument, NULL, 'S'},
        {"connect-rate", required_argument, NULL, 'c'},
        {"inflight", required_argument, NULL, 'i'},
        {"connect-timeout-ms", required_argument, NULL, 'C'},
        {"ping-ms", required_argument, NULL, 'p'},
        {"batch-us", required_argument, NULL, 'b'},
        {"duration", required_argument, NULL, 'd'},
        {"report", required_argument, NULL, 'r'},
        {"ready", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    bool ok = true;
    while (ok && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'u':
            ok = s_parse_url(o, optarg) == 0;
            break;
        case 'P': {
            int64_t port = 0;
            ok = bench_parse_i64(optarg, &port) == 0 && port >= 1 &&
                 port <= 65535 && o->n_ports + 1 < CL_MAX_PORTS;
            if (ok)
                o->ports[1 + o->n_ports++] = (uint16_t)port;
            break;
        }
        case 't':
            o->token = optarg;
            break;
        case 'T':
            o->token_fmt = optarg;
            break;
        case 'k':
            ok = bench_parse_range(optarg, &o->key_lo, &o->key_hi) == 0;
            break;
        case 'm':
            ok = bench_parse_i64(optarg, &o->per_key) == 0 && o->per_key > 0;
            break;
        case 'n':
            ok = bench_parse_i64(optarg, &o->n) == 0 && o->n > 0;
            break;
        case 'o':
            ok = bench_parse_i64(optarg, &o->offset) == 0;
            break;
        case 's':
            ok = s_parse_src(o, optarg) == 0;
            break;
        case 'N':
            o->negotiate = true;
            break;
        case 'S': {
            char *colon = strchr(optarg, ':');
            ok = colon && colon != optarg;
            if (ok) {
                *colon = '\0';
                o->sub_method = optarg;
                o->sub_arg = colon + 1;
            }
            break;
        }
        case 'c':
            ok = bench_parse_double(optarg, &o->connect_rate) == 0;
            break;
        case 'i':
            ok = bench_parse_i64(optarg, &o->inflight_max) == 0 &&
                 o->inflight_max > 0;
            break;
        case 'C':
            ok = bench_parse_i64(optarg, &o->connect_timeout_ms) == 0;
            break;
        case 'p':
            ok = bench_parse_i64(optarg, &o->ping_ms) == 0 && o->ping_ms > 0;
            break;
        case 'b':
            ok = bench_parse_i64(optarg, &o->batch_us) == 0 &&
                 o->batch_us >= 0 && o->batch_us < 1000000;
            break;
        case 'd':
            ok = bench_parse_double(optarg, &o->duration_s) == 0;
            break;
        case 'r':
            o->report = optarg;
            break;
        case 'R':
            o->ready = optarg;
            break;
        case 'h':
            s_usage();
            exit(0);
        default:
            ok = false;
        }
        if (!ok && c != '?')
            fprintf(stderr, "conduit-bench clients: bad value '%s'\n",
                    optarg ? optarg : "");
    }
    if (!ok || optind != argc || o->port == 0 || o->n == 0 || !o->report ||
        (!o->token == !o->token_fmt) || (o->token_fmt && o->key_hi == 0)) {
        s_usage();
        return -1;
    }
    return 0;
}

static int
s_raise_nofile(int64_t need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if ((int64_t)rl.rlim_cur < need) {
        cdt_log_error("cannot hold %lld connections: open file limit is "
                      "%llu",
                      (long long)(need - CL_FD_RESERVE),
                      (unsigned long long)rl.rlim_cur);
        return -1;
    }
    return 0;
}

int
clients_main(int argc, char **argv)
{
    cl_t *cl = cdt_xcalloc(1, sizeof *cl);
    cl->o.per_key = 1;
    cl->o.connect_rate = 5000;
    cl->o.inflight_max = 256;
    cl->o.connect_timeout_ms = 15000;
    cl->o.ping_ms = 15000;
    cl->o.batch_us = CL_BATCH_US;
    cl->ep = cl->sfd = -1;
    int rc = 2;
    if (s_parse_opts(&cl->o, argc, argv) != 0)
        goto done;
    cl->o.ports[0] = cl->o.port;
    cl->o.n_ports++;
    rc = 1;
    if (s_raise_nofile(cl->o.n + CL_FD_RESERVE) != 0)
        goto done;
    cl->conns = cdt_xcalloc((size_t)cl->o.n, sizeof *cl->conns);
    for (int64_t i = 0; i < cl->o.n; i++)
        cl->conns[i].fd = -1;
    cl->rx = cdt_xmalloc(CL_RX_SIZE);
    cl->rng = 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid() ^
              (uint64_t)cdt_clock_mono_us();
    cl->ep = epoll_create1(EPOLL_CLOEXEC);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGUSR1);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    cl->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    struct epoll_event sev = {.events = EPOLLIN, .data.u64 = CL_SIGNAL_TAG};
    if (cl->ep < 0 || cl->sfd < 0 ||
        epoll_ctl(cl->ep, EPOLL_CTL_ADD, cl->sfd, &sev) != 0) {
        cdt_log_error("cannot set up epoll: %s", strerror(errno));
        goto done;
    }

    cl->start_ms = cdt_clock_mono_ms();
    cl->epoch_start_us = cdt_clock_mono_us();
    cl->epoch_cpu_us = bench_cpu_us();
    int64_t end_ms = cl->o.duration_s > 0
                         ? cl->start_ms + (int64_t)(cl->o.duration_s * 1000.0)
                         : INT64_MAX;
    int64_t last_sweep = cl->start_ms;
    struct epoll_event evs[CL_MAX_EVENTS];
    while (!cl->stop) {
        int64_t now_ms = cdt_clock_mono_ms();
        if (now_ms >= end_ms)
            break;
        s_launch(cl, now_ms);
        int timeout = cl->next < (size_t)cl->o.n ? 2 : CL_SWEEP_MS;
        int n = epoll_wait(cl->ep, evs, CL_MAX_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            cdt_log_error("epoll_wait: %s", strerror(errno));
            goto done;
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u64 == CL_SIGNAL_TAG) {
                s_on_signal(cl);
                continue;
            }
            conn_t *c = &cl->conns[evs[i].data.u64];
            if (c->state != CS_DEAD && c->fd >= 0)
                s_on_event(cl, c, evs[i].events);
        }
        now_ms = cdt_clock_mono_ms();
        if (now_ms - last_sweep >= CL_SWEEP_MS) {
            s_sweep(cl, now_ms);
            last_sweep = now_ms;
        }
        s_check_ready(cl, now_ms);
        /* only once connected: the setup rate is measured too */
        if (n >= 0 && n < CL_BATCH_FEW && cl->o.batch_us > 0 &&
            cl->next >= (size_t)cl->o.n && cl->inflight == 0) {
            struct timespec ts = {0, (long)cl->o.batch_us * 1000};
            nanosleep(&ts, NULL);
        }
    }
    s_write_report(cl, cl->o.report);
    rc = 0;
done:
    if (cl->conns)
        for (int64_t i = 0; i < cl->o.n; i++) {
            s_conn_abort(&cl->conns[i]);
            s_conn_free(&cl->conns[i]);
        }
    if (cl->ep >= 0)
        close(cl->ep);
    if (cl->sfd >= 0)
        close(cl->sfd);
    free(cl->conns);
    free(cl->rx);
    free(cl);
    return rc;
}
