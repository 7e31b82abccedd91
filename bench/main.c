/*
 * conduit-bench - the load tool of `make bench` (see bench.h and
 * bench/run.sh): dispatches to one subcommand per process.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bench/bench.h"
#include "bench/hist.h"

#define CDT_LOG_MODULE "main"
#include "common/cdt_log.h"

#include <stdio.h>
#include <string.h>

static void
s_usage(void)
{
    fprintf(stderr,
            "usage: conduit-bench COMMAND [options]   (COMMAND --help)\n"
            "  clients    N SignalR WebSocket clients; latency histogram\n"
            "  publish    paced `event` ingress publisher (ZeroMQ)\n"
            "  fakegw     fake gateways on the broker link + publisher (S5)\n"
            "  zmqfloor   libzmq's own receive cost of S5's events\n"
            "  merge      add up report files, print quantiles\n"
            "  selftest   check the histogram and the parsers\n");
}

#define SELFTEST(cond)                                                     \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "selftest: failed at line %d: %s\n", __LINE__, \
                    #cond);                                                \
            return 1;                                                      \
        }                                                                  \
    } while (0)

int
selftest_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    static hist_t h;
    hist_reset(&h);
    for (uint64_t v = 1; v <= 100000; v++)
        hist_record(&h, v);
    uint64_t p50 = hist_quantile(&h, 0.5), p99 = hist_quantile(&h, 0.99);
    SELFTEST(p50 >= 50000 && p50 <= 50000 + 50000 / 64 + 1);
    SELFTEST(p99 >= 99000 && p99 <= 99000 + 99000 / 64 + 1);
    SELFTEST(hist_quantile(&h, 1.0) == 100000);
    for (uint64_t v = 0; v < (1ULL << 40); v = v * 3 + 1) {
        size_t i = hist_index(v);
        SELFTEST(hist_bucket_low(i) <= v && v <= hist_bucket_high(i));
        SELFTEST(i + 1 == HIST_BUCKETS ||
                 hist_bucket_high(i) + 1 == hist_bucket_low(i + 1));
    }
    char out[64];
    SELFTEST(bench_fmt_int(out, sizeof out, "vkey-%d", 42) == 7 &&
             strcmp(out, "vkey-42") == 0);
    SELFTEST(bench_fmt_int(out, sizeof out, "a%db", 7) == 3 &&
             strcmp(out, "a7b") == 0);
    SELFTEST(bench_fmt_int(out, 4, "vkey-%d", 42) == 3);
    int64_t lo, hi;
    SELFTEST(bench_parse_range("1..10000", &lo, &hi) == 0 && lo == 1 &&
             hi == 10000);
    SELFTEST(bench_parse_range("7", &lo, &hi) == 0 && lo == 7 && hi == 7);
    SELFTEST(bench_parse_range("9..3", &lo, &hi) == -1);
    SELFTEST(bench_parse_range("x..3", &lo, &hi) == -1);
    const char *rec = "{\"type\":1,\"target\":\"X\",\"arguments\":[{\"bs\":17,"
                      "\"bk\":2,\"bt\":123456789,\"p\":\"x\"}]}";
    const uint8_t *r = (const uint8_t *)rec, *e = r + strlen(rec);
    uint64_t v = 0;
    SELFTEST(bench_find_uint(r, e, "\"bt\":", 5, &v) && v == 123456789);
    SELFTEST(bench_find_uint(r, e, "\"bs\":", 5, &v) && v == 17);
    SELFTEST(!bench_find_uint(r, e, "\"zz\":", 5, &v));
    SELFTEST(!bench_find_uint(r, r + 10, "\"bt\":", 5, &v));
    /* {"bs":17,"bt":123456789,"bu":300,"p":"x"} in MessagePack */
    static const uint8_t mp[] = {0x84, 0xa2, 'b',  's',  0x11, 0xa2, 'b', 't',
                                 0xce, 0x07, 0x5b, 0xcd, 0x15, 0xa2, 'b', 'u',
                                 0xcd, 0x01, 0x2c, 0xa1, 'p',  0xa1, 'x'};
    const uint8_t *me = mp + sizeof mp;
    SELFTEST(bench_find_mp_uint(mp, me, "bt", 2, &v) && v == 123456789);
    SELFTEST(bench_find_mp_uint(mp, me, "bs", 2, &v) && v == 17);
    SELFTEST(bench_find_mp_uint(mp, me, "bu", 2, &v) && v == 300);
    SELFTEST(!bench_find_mp_uint(mp, me, "p", 1, &v)); /* not an integer */
    SELFTEST(!bench_find_mp_uint(mp, me, "zz", 2, &v));
    SELFTEST(!bench_find_mp_uint(mp, mp + 10, "bt", 2, &v)); /* cut */
    printf("selftest: ok\n");
    return 0;
}

int
main(int argc, char **argv)
{
    cdt_log_init("bench");
    cdt_log_set_level(CDT_LOG_WARN);
    if (argc < 2) {
        s_usage();
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "clients") == 0)
        return clients_main(argc - 1, argv + 1);
    if (strcmp(cmd, "publish") == 0)
        return publish_main(argc - 1, argv + 1);
    if (strcmp(cmd, "fakegw") == 0)
        return fakegw_main(argc - 1, argv + 1);
    if (strcmp(cmd, "zmqfloor") == 0)
        return zmqfloor_main(argc - 1, argv + 1);
    if (strcmp(cmd, "merge") == 0)
        return report_merge_main(argc - 1, argv + 1);
    if (strcmp(cmd, "selftest") == 0)
        return selftest_main(argc - 1, argv + 1);
    s_usage();
    return 2;
}
