/*
 * publish - the paced event publisher (see publish.h) and the `publish`
 * subcommand that runs it alone.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bench/publish.h"

#include "bench/bench.h"

#define CDT_LOG_MODULE "publish"
#include "common/cdt_buf.h"
#include "common/cdt_clock.h"
#include "common/cdt_log.h"
#include "common/cdt_mem.h"
#include "proto/cdt_ingress.h"

#include <assert.h>
#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

/* Sends per pub_run_due call at most, so that a caller's other sockets are
 * served while the publisher catches up or floods. */
#define PUB_MAX_PER_CALL 512

/* JSON size of {"bs":…,"bk":…,"bt":…,"p":""} with typical digit counts. */
#define PUB_DATA_OVERHEAD 50

struct pub {
    pub_opts_t o;
    void *ctx; /* borrowed or owned (own_ctx) */
    bool own_ctx;
    void *sock;    /* XPUB */
    cdt_buf_t buf; /* one encoded message, reused */
    char *pad;     /* "p" */
    size_t pad_len;
    uint64_t rng;
    int64_t total;    /* events to send; -1 = until duration */
    int64_t start_us; /* 0 = not started */
    int64_t end_us;   /* stop time when by duration */
    int64_t last_us;  /* time of the last send */
    uint64_t seq;     /* events attempted: paces, and is "bs" */
    uint64_t sent;
    uint64_t blocked; /* sends refused at the high-water mark (retried) */
    uint64_t failed;
};

void
pub_opts_init(pub_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->endpoint = "tcp://127.0.0.1:5570";
    o->hub = "SystemNotificationHub";
    o->target = "SystemAnnouncement";
    o->burst = 1;
    o->payload = 100;
    o->wait_ms = 5000;
    o->seed = 1;
}

int
pub_opts_parse(pub_opts_t *o, int opt, const char *arg)
{
    int64_t v = 0;
    switch (opt) {
    case 1000:
        o->endpoint = arg;
        return 0;
    case 1001:
        o->hub = arg;
        return 0;
    case 1002:
        o->target = arg;
        return 0;
    case 1003:
        o->group = arg;
        return 0;
    case 1004:
        o->groups_fmt = arg;
        return 0;
    case 1005:
        if (bench_parse_range(arg, &o->key_lo, &o->key_hi) == 0)
            return 0;
        break;
    case 1006:
        if (bench_parse_double(arg, &o->rate) == 0)
            return 0;
        break;
    case 1007:
        if (bench_parse_i64(arg, &o->burst) == 0 && o->burst >= 1)
            return 0;
        break;
    case 1008:
        if (bench_parse_i64(arg, &o->payload) == 0)
            return 0;
        break;
    case 1009:
        if (bench_parse_i64(arg, &o->epoch) == 0)
            return 0;
        break;
    case 1010:
        if (bench_parse_i64(arg, &o->count) == 0)
            return 0;
        break;
    case 1011:
        if (bench_parse_double(arg, &o->duration_s) == 0)
            return 0;
        break;
    case 1012:
        if (bench_parse_i64(arg, &o->wait_ms) == 0)
            return 0;
        break;
    case 1013:
        if (bench_parse_i64(arg, &v) == 0) {
            o->seed = (uint64_t)v;
            return 0;
        }
        break;
    default:
        return 1;
    }
    fprintf(stderr, "conduit-bench: bad value '%s'\n", arg);
    return -1;
}

int
pub_opts_check(const pub_opts_t *o)
{
    if (!o->group == !o->groups_fmt) {
        fprintf(stderr, "conduit-bench: give --group or --groups-from\n");
        return -1;
    }
    if (o->groups_fmt && o->key_hi == 0) {
        fprintf(stderr, "conduit-bench: --groups-from needs --keys A..B\n");
        return -1;
    }
    if (o->count == 0 && o->duration_s <= 0) {
        fprintf(stderr, "conduit-bench: give --count or --duration\n");
        return -1;
    }
    return 0;
}

/* Waits for the subscription message the broker's SUB sends to our XPUB:
 * until it arrives every event would be dropped unseen. */
static int
s_wait_subscription(pub_t *self)
{
    zmq_pollitem_t item = {self->sock, 0, ZMQ_POLLIN, 0};
    int rc = zmq_poll(&item, 1, (long)self->o.wait_ms);
    if (rc <= 0) {
        cdt_log_error("no subscription from '%s' within %lld ms",
                      self->o.endpoint, (long long)self->o.wait_ms);
        return -1;
    }
    uint8_t sub[256];
    (void)zmq_recv(self->sock, sub, sizeof sub, ZMQ_DONTWAIT);
    return 0;
}

pub_t *
pub_new(const pub_opts_t *o, void *zmq_ctx)
{
    pub_t *self = cdt_xcalloc(1, sizeof *self);
    self->o = *o;
    cdt_buf_init(&self->buf);
    self->ctx = zmq_ctx;
    if (!self->ctx) {
        self->ctx = zmq_ctx_new();
        self->own_ctx = true;
    }
    self->rng = o->seed ? o->seed * 0x9E3779B97F4A7C15ULL : 1;
    self->pad_len = o->payload > PUB_DATA_OVERHEAD
                        ? (size_t)(o->payload - PUB_DATA_OVERHEAD)
                        : 0;
    self->pad = cdt_xmalloc(self->pad_len + 1);
    memset(self->pad, 'x', self->pad_len);
    self->pad[self->pad_len] = '\0';
    if (o->count > 0)
        self->total = o->count;
    else if (o->rate > 0)
        self->total = (int64_t)(o->rate * o->duration_s + 0.5);
    else
        self->total = -1;

    self->sock = zmq_socket(self->ctx, ZMQ_XPUB);
    int one = 1, hwm = 100000, linger = 2000;
    if (!self->sock ||
        zmq_setsockopt(self->sock, ZMQ_XPUB_NODROP, &one, sizeof one) ||
        zmq_setsockopt(self->sock, ZMQ_SNDHWM, &hwm, sizeof hwm) ||
        zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof linger) ||
        zmq_connect(self->sock, o->endpoint) != 0) {
        cdt_log_error("cannot connect to '%s': %s", o->endpoint,
                      zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (s_wait_subscription(self) != 0)
        goto fail;
    return self;
fail:
    pub_destroy(&self);
    return NULL;
}

void
pub_destroy(pub_t **self_p)
{
    assert(self_p);
    pub_t *self = *self_p;
    if (!self)
        return;
    if (self->sock)
        zmq_close(self->sock);
    if (self->own_ctx && self->ctx)
        zmq_ctx_term(self->ctx);
    cdt_buf_release(&self->buf);
    free(self->pad);
    free(self);
    *self_p = NULL;
}

/* A str object borrowing s. */
static msgpack_object
s_str_obj(const char *s, size_t len)
{
    msgpack_object o;
    o.type = MSGPACK_OBJECT_STR;
    o.via.str.ptr = s;
    o.via.str.size = (uint32_t)len;
    return o;
}

static msgpack_object
s_int_obj(int64_t v)
{
    msgpack_object o;
    if (v >= 0) {
        o.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o.via.u64 = (uint64_t)v;
    } else {
        o.type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
        o.via.i64 = v;
    }
    return o;
}

#define STR_OBJ(lit) s_str_obj((lit), sizeof(lit) - 1)

/* One `event` message, encoded by proto/cdt_ingress.c (the code
 * conduit-pub uses), so the load tool speaks exactly the protocol. */
static void
s_encode(pub_t *self, int64_t now_us)
{
    char group[256];
    size_t glen;
    if (self->o.group) {
        glen = strlen(self->o.group);
        if (glen >= sizeof group)
            glen = sizeof group - 1;
        memcpy(group, self->o.group, glen);
    } else {
        uint64_t span = (uint64_t)(self->o.key_hi - self->o.key_lo + 1);
        int64_t key = self->o.key_lo + (int64_t)(bench_rand(&self->rng) % span);
        glen = bench_fmt_int(group, sizeof group, self->o.groups_fmt, key);
    }
    msgpack_object_kv kv[4] = {
        {STR_OBJ("bs"), s_int_obj((int64_t)self->seq)},
        {STR_OBJ("bk"), s_int_obj(self->o.epoch)},
        {STR_OBJ("bt"), s_int_obj(now_us)},
        {STR_OBJ("p"), s_str_obj(self->pad, self->pad_len)},
    };
    msgpack_object data;
    data.type = MSGPACK_OBJECT_MAP;
    data.via.map.size = 4;
    data.via.map.ptr = kv;
    msgpack_object gobj = s_str_obj(group, glen);
    cdt_ingress_t m;
    memset(&m, 0, sizeof m);
    m.type = CDT_IN_EVENT;
    m.hub.ptr = self->o.hub;
    m.hub.len = strlen(self->o.hub);
    m.groups.v = &gobj;
    m.groups.n = 1;
    m.target.ptr = self->o.target;
    m.target.len = strlen(self->o.target);
    m.data = &data;
    cdt_buf_reset(&self->buf);
    cdt_ingress_encode(&m, &self->buf);
}

/* One send; false when the high-water mark refused it (retry later). */
static bool
s_send_one(pub_t *self)
{
    s_encode(self, cdt_clock_mono_us());
    if (zmq_send(self->sock, self->buf.data, self->buf.len, ZMQ_DONTWAIT) < 0) {
        if (zmq_errno() == EAGAIN) {
            self->blocked++;
            return false;
        }
        if (self->failed++ == 0)
            cdt_log_error("cannot send to '%s': %s", self->o.endpoint,
                          zmq_strerror(zmq_errno()));
        self->seq++; /* counted, not retried */
        return true;
    }
    self->seq++;
    self->sent++;
    return true;
}

int64_t
pub_run_due(pub_t *self, int64_t now_us)
{
    if (self->start_us == 0) {
        self->start_us = now_us;
        self->end_us = now_us + (int64_t)(self->o.duration_s * 1e6);
    }
    if (self->total >= 0 && (int64_t)self->seq >= self->total)
        return -1;
    if (self->o.duration_s > 0 && now_us >= self->end_us)
        return -1;

    int64_t due;
    int64_t next_us;
    if (self->o.rate > 0) {
        double per_burst_us = 1e6 * (double)self->o.burst / self->o.rate;
        int64_t bursts =
            (int64_t)((double)(now_us - self->start_us) / per_burst_us) + 1;
        due = bursts * self->o.burst;
        next_us = self->start_us + (int64_t)((double)bursts * per_burst_us);
    } else {
        due = (int64_t)self->seq + PUB_MAX_PER_CALL;
        next_us = now_us;
    }
    if (self->total >= 0 && due > self->total)
        due = self->total;
    bool blocked = false;
    int n = 0;
    while ((int64_t)self->seq < due && n < PUB_MAX_PER_CALL) {
        if (!s_send_one(self)) {
            blocked = true;
            break;
        }
        n++;
    }
    if (n > 0)
        self->last_us = cdt_clock_mono_us();
    if (blocked)
        return now_us + 100; /* the broker is behind: retry shortly */
    if ((int64_t)self->seq < due)
        return now_us; /* behind schedule: catch up at once */
    return next_us;
}

uint64_t
pub_sent(const pub_t *self)
{
    return self->sent;
}

void
pub_report(const pub_t *self, FILE *out)
{
    int64_t el =
        self->last_us > self->start_us ? self->last_us - self->start_us : 0;
    fprintf(out, "pub_sent %llu\n", (unsigned long long)self->sent);
    fprintf(out, "pub_elapsed_us %lld\n", (long long)el);
    fprintf(out, "pub_rate %.1f\n",
            el > 0 ? (double)self->sent * 1e6 / (double)el : 0.0);
    fprintf(out, "pub_target_rate %.1f\n", self->o.rate);
    fprintf(out, "pub_blocked %llu\n", (unsigned long long)self->blocked);
    fprintf(out, "pub_failed %llu\n", (unsigned long long)self->failed);
}

void
pub_sleep_until(int64_t when_us)
{
    struct timespec ts = {.tv_sec = when_us / 1000000,
                          .tv_nsec = (when_us % 1000000) * 1000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

void
pub_run(pub_t *self)
{
    int64_t next;
    while ((next = pub_run_due(self, cdt_clock_mono_us())) >= 0) {
        if (next > cdt_clock_mono_us())
            pub_sleep_until(next);
    }
}

/* ---- the `publish` subcommand ------------------------------------------ */

static void
s_usage(void)
{
    fprintf(stderr, "usage: conduit-bench publish [options] [--report FILE]\n"
                    "Publishes paced `event` ingress messages.\n" PUB_USAGE
                    "  --report FILE          write the figures there "
                    "[stdout]\n");
}

int
publish_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        PUB_LONG_OPTIONS,
        {"report", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    pub_opts_t o;
    pub_opts_init(&o);
    const char *report = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "r:h", longopts, NULL)) != -1) {
        if (c == 'r') {
            report = optarg;
            continue;
        }
        if (c == 'h') {
            s_usage();
            return 0;
        }
        int rc = c == '?' ? 1 : pub_opts_parse(&o, c, optarg);
        if (rc != 0) {
            s_usage();
            return 2;
        }
    }
    if (optind != argc || pub_opts_check(&o) != 0) {
        s_usage();
        return 2;
    }
    int64_t cpu0 = bench_cpu_us();
    pub_t *pub = pub_new(&o, NULL);
    if (!pub)
        return 1;
    pub_run(pub);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) {
        pub_destroy(&pub);
        return 1;
    }
    fprintf(mem, "mode publish\n");
    pub_report(pub, mem);
    fprintf(mem, "pub_cpu_us %lld\n", (long long)(bench_cpu_us() - cpu0));
    fclose(mem);
    pub_destroy(&pub);
    int rc = 0;
    if (report)
        rc = bench_write_file(report, text, len) == 0 ? 0 : 1;
    else
        fwrite(text, 1, len, stdout);
    free(text);
    return rc;
}
