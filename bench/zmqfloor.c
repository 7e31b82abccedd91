/*
 * zmqfloor - what libzmq costs a process that only receives S5's events:
 * a SUB socket bound like the broker's ingress (same options) receives
 * the very events S5's publisher sends, and does nothing else with them.
 * The publisher runs in a child process (forked before any ZeroMQ context
 * exists), so this process' CPU time -- its own thread and libzmq's I/O
 * thread -- is the receive cost. It is not a strict floor for the broker:
 * this receiver keeps up with the publisher (it is busy only part of the
 * time, run.sh prints how much), so it drains the queue, sleeps and is
 * woken again far more often than a saturated broker, which perf shows
 * spending less on libzmq's receive per event. Read it as libzmq's
 * receive cost at that rate, an upper bound on its share in the broker.
 * Only a flood (--rate 0, as run.sh uses it) means that; at a paced rate
 * the figure is mostly the wake-ups between messages.
 *
 * Report lines: msgs, bytes_mean, span_us, rate, cpu_us, cpu_us_per_msg.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bench/bench.h"
#include "bench/publish.h"

#define CDT_LOG_MODULE "zmqfloor"
#include "common/cdt_clock.h"
#include "common/cdt_log.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#define ZF_HWM      100000 /* broker/ingress.c's HWM */
#define ZF_QUIET_MS 300    /* the end: this long without a message ... */
#define ZF_SPARE_S  10     /* ... or the publisher's duration plus this */

static void
s_usage(void)
{
    fprintf(stderr,
            "usage: conduit-bench zmqfloor --report FILE\n"
            "         publisher options (--endpoint is bound):\n" PUB_USAGE);
}

/* The child: publishes as S5's fakegw does, then exits. */
static int
s_publish(const pub_opts_t *o)
{
    void *ctx = zmq_ctx_new();
    pub_t *pub = ctx ? pub_new(o, ctx) : NULL;
    int rc = pub ? 0 : 1;
    if (pub)
        pub_run(pub);
    pub_destroy(&pub);
    if (ctx)
        zmq_ctx_term(ctx);
    return rc;
}

int
zmqfloor_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        PUB_LONG_OPTIONS,
        {"report", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    pub_opts_t po;
    pub_opts_init(&po);
    const char *report = NULL;
    bool ok = true;
    int c;
    while (ok && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'r')
            report = optarg;
        else if (c == 'h') {
            s_usage();
            return 0;
        } else
            ok = c != '?' && pub_opts_parse(&po, c, optarg) == 0;
    }
    if (!ok || optind != argc || !report || po.duration_s <= 0 ||
        pub_opts_check(&po) != 0) {
        s_usage();
        return 2;
    }

    pid_t child = fork();
    if (child < 0) {
        cdt_log_error("fork: %s", strerror(errno));
        return 1;
    }
    if (child == 0)
        _exit(s_publish(&po));

    int rc = 1;
    void *ctx = zmq_ctx_new();
    void *sub = ctx ? zmq_socket(ctx, ZMQ_SUB) : NULL;
    int hwm = ZF_HWM, linger = 0;
    if (!sub || zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm) ||
        zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger) ||
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0) ||
        zmq_bind(sub, po.endpoint) != 0) {
        cdt_log_error("cannot bind '%s': %s", po.endpoint,
                      zmq_strerror(zmq_errno()));
        kill(child, SIGTERM);
        (void)waitpid(child, NULL, 0);
        goto done;
    }
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    uint64_t n = 0, bytes = 0;
    int64_t t0 = 0, t1 = 0, cpu0 = 0;
    int64_t end_ms = cdt_clock_mono_ms() + (int64_t)(po.duration_s * 1000.0) +
                     ZF_SPARE_S * 1000;
    int64_t last_ms = 0; /* of the last message */
    int status = 0;
    bool reaped = false;
    zmq_pollitem_t item = {.socket = sub, .events = ZMQ_POLLIN};
    for (;;) {
        int64_t now_ms = cdt_clock_mono_ms();
        if (now_ms >= end_ms || (n && now_ms - last_ms >= ZF_QUIET_MS))
            break;
        if (!n && waitpid(child, &status, WNOHANG) == child) {
            reaped = true; /* it ended before sending anything */
            break;
        }
        if (zmq_poll(&item, 1, 100) < 0 && zmq_errno() != EINTR)
            break;
        uint64_t before = n;
        while (zmq_msg_recv(&msg, sub, ZMQ_DONTWAIT) >= 0) {
            if (n++ == 0) {
                cpu0 = bench_cpu_us();
                t0 = cdt_clock_mono_us();
            }
            bytes += zmq_msg_size(&msg);
        }
        if (n != before) {
            t1 = cdt_clock_mono_us();
            last_ms = t1 / 1000;
        }
    }
    int64_t cpu = n ? bench_cpu_us() - cpu0 : 0;
    zmq_msg_close(&msg);
    if ((!reaped && waitpid(child, &status, 0) != child) ||
        !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        cdt_log_error("the publisher failed");
    else if (n > 1 && t1 > t0) {
        /* the first message only starts the clocks */
        char text[512];
        int len = snprintf(
            text, sizeof text,
            "mode zmqfloor\nmsgs %llu\nbytes_mean %.1f\nspan_us %lld\n"
            "rate %.1f\ncpu_us %lld\ncpu_us_per_msg %.3f\n",
            (unsigned long long)n, (double)bytes / (double)n,
            (long long)(t1 - t0), (double)(n - 1) * 1e6 / (double)(t1 - t0),
            (long long)cpu, (double)cpu / (double)(n - 1));
        rc = bench_write_file(report, text, (size_t)len) == 0 ? 0 : 1;
    } else
        cdt_log_error("no messages arrived");
done:
    if (sub)
        zmq_close(sub);
    if (ctx)
        zmq_ctx_term(ctx);
    return rc;
}
