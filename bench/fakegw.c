/*
 * fakegw - `conduit-bench fakegw`: the broker alone (scenario S5).
 *
 * G fake gateways, each a ZeroMQ DEALER on the broker's gateway link
 * speaking cdt_link.h: HELLO, then CONN_OPEN with restore=true and the
 * connection's groups for its share of C connections (as a gateway does
 * after a broker restart, so no AUTH round trip is needed), PING every
 * heartbeat. Meanwhile the paced publisher (publish.h) sends `event`
 * ingress messages, and the fake gateways only count the EVENT messages
 * that reach them and read the publisher's "bt" from the JSON frame for
 * the publish->route latency. At the end every connection is closed
 * (CONN_CLOSE) so that the next run starts from an empty broker.
 *
 * Every message is encoded and decoded with proto/cdt_link.h, the code
 * the real gateway and broker use, so the fake cannot drift from the
 * protocol; a frame may hold several messages (the broker's batches) and
 * each one is decoded. Each fake gateway also checks that the sequence
 * numbers of the EVENTs it receives only increase (the broker numbers all
 * events in one sequence, so a gateway sees a gap-ridden, increasing
 * subsequence): a decrease is reported as seq_backwards.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bench/bench.h"
#include "bench/hist.h"
#include "bench/publish.h"

#define CDT_LOG_MODULE "fakegw"
#include "common/cdt_buf.h"
#include "common/cdt_clock.h"
#include "common/cdt_log.h"
#include "common/cdt_mem.h"
#include "proto/cdt_link.h"

#include <errno.h>
#include <getopt.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define FG_MAX_GW 16

typedef struct fg_opts {
    const char *link;
    int64_t gateways;
    int64_t conns;
    const char *hub;
    const char *group;
    const char *groups_fmt;
    int64_t key_lo, key_hi;
    int64_t heartbeat_ms;
    int64_t drain_ms;
    int64_t quiet_ms;
    const char *report;
} fg_opts_t;

typedef struct fg {
    fg_opts_t o;
    pub_opts_t po;
    void *ctx;
    void *dealer[FG_MAX_GW];
    uint64_t incarnation;
    cdt_buf_t buf;
    msgpack_zone zone;
    uint64_t last_seq[FG_MAX_GW];
    uint64_t welcomes, readies, ready_fail, events, others;
    uint64_t frames, malformed, seq_backwards;
    int64_t first_event_us, last_event_us;
    hist_t hist;
} fg_t;

static int
s_send(fg_t *fg, int g)
{
    int rc = zmq_send(fg->dealer[g], fg->buf.data, fg->buf.len, 0);
    cdt_buf_reset(&fg->buf);
    if (rc < 0) {
        cdt_log_error("cannot send to '%s': %s", fg->o.link,
                      zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

static int
s_hello(fg_t *fg, int g)
{
    char name[64];
    snprintf(name, sizeof name, "bench-gw-%d-%d", (int)getpid(), g);
    cdt_link_encode_hello(&fg->buf, name, fg->incarnation + (uint64_t)g,
                          CDT_LINK_VERSION);
    return s_send(fg, g);
}

static int
s_ping(fg_t *fg, int g)
{
    cdt_link_encode_ping(&fg->buf, fg->incarnation + (uint64_t)g);
    return s_send(fg, g);
}

static uint64_t
s_conn_id(int64_t i)
{
    return 1000000000ULL + (uint64_t)i;
}

static int
s_conn_open(fg_t *fg, int64_t i)
{
    int g = (int)(i % fg->o.gateways);
    int64_t span = fg->o.key_hi - fg->o.key_lo + 1;
    int64_t key = fg->o.key_lo + i % (span > 0 ? span : 1);
    char group[256];
    if (fg->o.group)
        snprintf(group, sizeof group, "%s", fg->o.group);
    else
        (void)bench_fmt_int(group, sizeof group, fg->o.groups_fmt, key);
    const char *groups[] = {group};
    /* restore=true: the groups are given, no AUTH round trip needed */
    cdt_link_encode_conn_open(&fg->buf, s_conn_id(i), fg->o.hub, key, false,
                              true, groups, 1);
    return s_send(fg, g);
}

static int
s_conn_close(fg_t *fg, int64_t i)
{
    cdt_link_encode_conn_close(&fg->buf, s_conn_id(i));
    return s_send(fg, (int)(i % fg->o.gateways));
}

static void
s_on_event(fg_t *fg, int g, const cdt_link_msg_t *m)
{
    int64_t now = cdt_clock_mono_us();
    uint64_t bt = 0;
    fg->events++;
    if (m->seq <= fg->last_seq[g])
        fg->seq_backwards++;
    fg->last_seq[g] = m->seq;
    if (!fg->first_event_us)
        fg->first_event_us = now;
    fg->last_event_us = now;
    /* the send time, in the arguments' MessagePack (publish.c): data or
     * args, the other is empty */
    const uint8_t *d = (const uint8_t *)m->data.ptr;
    const uint8_t *a = (const uint8_t *)m->args.ptr;
    if (bench_find_mp_uint(d, d + m->data.len, "bt", 2, &bt) ||
        bench_find_mp_uint(a, a + m->args.len, "bt", 2, &bt))
        hist_record(&fg->hist, now > (int64_t)bt ? (uint64_t)now - bt : 0);
}

static void
s_on_ready(fg_t *fg, const cdt_link_msg_t *m)
{
    if (m->status == 0) {
        fg->readies++;
        return;
    }
    if (fg->ready_fail++ == 0)
        cdt_log_warn("connection refused by the broker: %u %.*s", m->status,
                     (int)m->reason.len, m->reason.ptr);
}

/* Every message of one frame from gateway g's link. */
static void
s_on_frame(fg_t *fg, int g, const uint8_t *data, size_t len)
{
    fg->frames++;
    size_t off = 0;
    do { /* an empty frame does not decode either */
        cdt_link_msg_t m;
        size_t used;
        if (cdt_link_decode_next(data + off, len - off, &fg->zone, &m, &used) !=
            0) {
            if (fg->malformed++ == 0)
                cdt_log_warn("a frame from '%s' does not decode at byte "
                             "%zu of %zu",
                             fg->o.link, off, len);
            break;
        }
        off += used;
        switch (m.kind) {
        case CDT_LINK_EVENT:
            s_on_event(fg, g, &m);
            break;
        case CDT_LINK_WELCOME:
            fg->welcomes++;
            break;
        case CDT_LINK_CONN_READY:
            s_on_ready(fg, &m);
            break;
        default:
            fg->others++;
            break;
        }
        msgpack_zone_clear(&fg->zone);
    } while (off < len);
    msgpack_zone_clear(&fg->zone);
}

/* Reads everything waiting on the dealers. */
static void
s_drain(fg_t *fg)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    for (int g = 0; g < fg->o.gateways; g++) {
        for (int k = 0; k < 100000; k++) {
            if (zmq_msg_recv(&msg, fg->dealer[g], ZMQ_DONTWAIT) < 0)
                break;
            s_on_frame(fg, g, zmq_msg_data(&msg), zmq_msg_size(&msg));
        }
    }
    zmq_msg_close(&msg);
}

static void
s_poll(fg_t *fg, long timeout_ms)
{
    zmq_pollitem_t items[FG_MAX_GW];
    for (int g = 0; g < fg->o.gateways; g++)
        items[g] = (zmq_pollitem_t){fg->dealer[g], 0, ZMQ_POLLIN, 0};
    if (zmq_poll(items, (int)fg->o.gateways, timeout_ms) > 0)
        s_drain(fg);
}

/* PINGs when *next_ms (monotonic) has come, so that a long run or drain
 * does not look like departed gateways to the broker. */
static void
s_ping_due(fg_t *fg, int64_t *next_ms)
{
    if (cdt_clock_mono_ms() < *next_ms)
        return;
    for (int g = 0; g < fg->o.gateways; g++)
        (void)s_ping(fg, g);
    *next_ms = cdt_clock_mono_ms() + fg->o.heartbeat_ms;
}

static void
s_usage(void)
{
    fprintf(stderr,
            "usage: conduit-bench fakegw --link tcp://H:P --gateways G\n"
            "         --conns C --conn-hub HUB (--conn-group G |\n"
            "         --conn-groups 'vkey-%%d' --conn-keys A..B)\n"
            "         [--heartbeat-ms MS] [--drain-ms MS] [--quiet-ms MS]\n"
            "         --report FILE\n"
            "         publisher options:\n" PUB_USAGE);
}

static void
s_write_report(fg_t *fg, pub_t *pub, int64_t cpu0)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return;
    int64_t span = fg->last_event_us - fg->first_event_us;
    fprintf(f, "mode fakegw\n");
    fprintf(f, "gateways %lld\n", (long long)fg->o.gateways);
    fprintf(f, "conns %lld\n", (long long)fg->o.conns);
    fprintf(f, "welcomes %llu\n", (unsigned long long)fg->welcomes);
    fprintf(f, "conn_ready %llu\n", (unsigned long long)fg->readies);
    fprintf(f, "conn_refused %llu\n", (unsigned long long)fg->ready_fail);
    fprintf(f, "link_other %llu\n", (unsigned long long)fg->others);
    fprintf(f, "link_frames %llu\n", (unsigned long long)fg->frames);
    fprintf(f, "link_malformed %llu\n", (unsigned long long)fg->malformed);
    fprintf(f, "seq_backwards %llu\n", (unsigned long long)fg->seq_backwards);
    fprintf(f, "events %llu\n", (unsigned long long)fg->events);
    fprintf(f, "events_span_us %lld\n", (long long)span);
    fprintf(f, "events_rate %.1f\n",
            span > 0 ? (double)fg->events * 1e6 / (double)span : 0.0);
    if (pub)
        pub_report(pub, f);
    fprintf(f, "cpu_us %lld\n", (long long)(bench_cpu_us() - cpu0));
    fprintf(f, "lat_max_us %llu\n", (unsigned long long)fg->hist.max);
    hist_write(&fg->hist, f);
    fclose(f);
    (void)bench_write_file(fg->o.report, text, len);
    free(text);
}

static int
s_parse(fg_t *fg, int argc, char **argv)
{
    static const struct option longopts[] = {
        PUB_LONG_OPTIONS,
        {"link", required_argument, NULL, 'l'},
        {"gateways", required_argument, NULL, 'g'},
        {"conns", required_argument, NULL, 'c'},
        {"conn-hub", required_argument, NULL, 'H'},
        {"conn-group", required_argument, NULL, 'G'},
        {"conn-groups", required_argument, NULL, 'F'},
        {"conn-keys", required_argument, NULL, 'k'},
        {"heartbeat-ms", required_argument, NULL, 'b'},
        {"drain-ms", required_argument, NULL, 'd'},
        {"quiet-ms", required_argument, NULL, 'q'},
        {"report", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    fg_opts_t *o = &fg->o;
    int c;
    bool ok = true;
    while (ok && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            o->link = optarg;
            break;
        case 'g':
            ok = bench_parse_i64(optarg, &o->gateways) == 0 &&
                 o->gateways >= 1 && o->gateways <= FG_MAX_GW;
            break;
        case 'c':
            ok = bench_parse_i64(optarg, &o->conns) == 0;
            break;
        case 'H':
            o->hub = optarg;
            break;
        case 'G':
            o->group = optarg;
            break;
        case 'F':
            o->groups_fmt = optarg;
            break;
        case 'k':
            ok = bench_parse_range(optarg, &o->key_lo, &o->key_hi) == 0;
            break;
        case 'b':
            ok = bench_parse_i64(optarg, &o->heartbeat_ms) == 0 &&
                 o->heartbeat_ms > 0;
            break;
        case 'd':
            ok = bench_parse_i64(optarg, &o->drain_ms) == 0;
            break;
        case 'q':
            ok = bench_parse_i64(optarg, &o->quiet_ms) == 0 && o->quiet_ms > 0;
            break;
        case 'r':
            o->report = optarg;
            break;
        case 'h':
            s_usage();
            exit(0);
        default:
            ok = c != '?' && pub_opts_parse(&fg->po, c, optarg) == 0;
        }
    }
    if (!ok || optind != argc || !o->link || !o->hub || !o->report ||
        (!o->group == !o->groups_fmt) || (o->groups_fmt && o->key_hi == 0) ||
        pub_opts_check(&fg->po) != 0) {
        s_usage();
        return -1;
    }
    if (o->group)
        o->key_lo = o->key_hi = 1;
    return 0;
}

int
fakegw_main(int argc, char **argv)
{
    fg_t *fg = cdt_xcalloc(1, sizeof *fg);
    fg->o.gateways = 2;
    fg->o.heartbeat_ms = 1000;
    fg->o.drain_ms = 2000;
    fg->o.quiet_ms = 300;
    pub_opts_init(&fg->po);
    cdt_buf_init(&fg->buf);
    msgpack_zone_init(&fg->zone, 4096);
    pub_t *pub = NULL;
    int rc = 2;
    if (s_parse(fg, argc, argv) != 0)
        goto done;
    rc = 1;
    int64_t cpu0 = bench_cpu_us();
    fg->incarnation = (uint64_t)cdt_clock_wall_ms() * 1000;
    fg->ctx = zmq_ctx_new();
    for (int g = 0; g < fg->o.gateways; g++) {
        int zero = 0, linger = 1000;
        fg->dealer[g] = zmq_socket(fg->ctx, ZMQ_DEALER);
        if (!fg->dealer[g] ||
            zmq_setsockopt(fg->dealer[g], ZMQ_RCVHWM, &zero, sizeof zero) ||
            zmq_setsockopt(fg->dealer[g], ZMQ_SNDHWM, &zero, sizeof zero) ||
            zmq_setsockopt(fg->dealer[g], ZMQ_LINGER, &linger, sizeof linger) ||
            zmq_connect(fg->dealer[g], fg->o.link) != 0 ||
            s_hello(fg, g) != 0) {
            cdt_log_error("cannot connect to '%s': %s", fg->o.link,
                          zmq_strerror(zmq_errno()));
            goto done;
        }
    }
    int64_t welcome_by = cdt_clock_mono_ms() + 5000;
    while (fg->welcomes < (uint64_t)fg->o.gateways &&
           cdt_clock_mono_ms() < welcome_by)
        s_poll(fg, 100);
    if (fg->welcomes < (uint64_t)fg->o.gateways) {
        cdt_log_error("no WELCOME from '%s' within 5 s", fg->o.link);
        goto done;
    }
    for (int64_t i = 0; i < fg->o.conns; i++) {
        if (s_conn_open(fg, i) != 0)
            goto done;
        if ((i & 1023) == 0)
            s_drain(fg);
    }
    /* Let the broker register every membership before the first event. */
    int64_t ready_by = cdt_clock_mono_ms() + 10000;
    while (fg->readies + fg->ready_fail < (uint64_t)fg->o.conns &&
           cdt_clock_mono_ms() < ready_by)
        s_poll(fg, 20);
    if (fg->readies + fg->ready_fail < (uint64_t)fg->o.conns)
        cdt_log_warn("only %llu of %lld connections registered in 10 s",
                     (unsigned long long)(fg->readies + fg->ready_fail),
                     (long long)fg->o.conns);

    pub = pub_new(&fg->po, fg->ctx);
    if (!pub)
        goto done;
    int64_t next_ping = cdt_clock_mono_ms() + fg->o.heartbeat_ms;
    int64_t next;
    while ((next = pub_run_due(pub, cdt_clock_mono_us())) >= 0) {
        int64_t now = cdt_clock_mono_us();
        long wait_ms = next > now ? (long)((next - now) / 1000) : 0;
        s_poll(fg, wait_ms);
        /* zmq_poll counts in ms: sleep the sub-ms rest, do not spin */
        if (wait_ms == 0 && next > cdt_clock_mono_us())
            pub_sleep_until(next);
        s_ping_due(fg, &next_ping);
    }
    /* Drain: stop when no EVENT arrived for quiet_ms (other messages, such
     * as PONGs, do not count), or after drain_ms. */
    int64_t now_ms = cdt_clock_mono_ms();
    int64_t drain_end = now_ms + fg->o.drain_ms;
    int64_t quiet_end = now_ms + fg->o.quiet_ms;
    while (now_ms < drain_end && now_ms < quiet_end) {
        uint64_t before = fg->events;
        int64_t until = quiet_end < drain_end ? quiet_end : drain_end;
        s_poll(fg, (long)(until - now_ms));
        now_ms = cdt_clock_mono_ms();
        if (fg->events != before)
            quiet_end = now_ms + fg->o.quiet_ms;
        s_ping_due(fg, &next_ping);
    }
    s_write_report(fg, pub, cpu0);
    for (int64_t i = 0; i < fg->o.conns; i++)
        (void)s_conn_close(fg, i);
    rc = 0;
done:
    pub_destroy(&pub);
    for (int g = 0; g < FG_MAX_GW; g++)
        if (fg->dealer[g])
            zmq_close(fg->dealer[g]);
    if (fg->ctx)
        zmq_ctx_term(fg->ctx);
    cdt_buf_release(&fg->buf);
    msgpack_zone_destroy(&fg->zone);
    free(fg);
    return rc;
}
