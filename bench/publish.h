/*
 * publish - a paced publisher of `event` ingress messages (cdt_ingress.h)
 * on a ZeroMQ XPUB socket connected to the broker's ingress endpoint.
 *
 * Each event's data object is {"bs": seq, "bk": epoch, "bt": send time in
 * CLOCK_MONOTONIC µs, "p": padding}, sized to about `payload` bytes as
 * JSON. The socket is an XPUB (it sends like a PUB) so that the publisher
 * can wait for the broker's subscription before the first send instead of
 * guessing a warm-up delay, and it does not drop at the high-water mark
 * (ZMQ_XPUB_NODROP): an overloaded broker shows up as latency and as a
 * publish rate below target, never as silent loss inside the load tool.
 *
 * Pacing: the n-th burst of `burst` back-to-back events is due at
 * start + n * burst / rate; a publisher that falls behind catches up
 * (bounded per call), so the achieved rate is reported, not assumed.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PUBLISH_H
#define PUBLISH_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct pub_opts {
    const char *endpoint;   /* broker.ingress */
    const char *hub;        /* name or path */
    const char *target;     /* event name */
    const char *group;      /* one fixed group, or NULL */
    const char *groups_fmt; /* "vkey-%d": a random key of [key_lo, key_hi] */
    int64_t key_lo, key_hi;
    double rate;       /* events/s; 0 = as fast as the broker takes them */
    int64_t burst;     /* events back to back per tick, >= 1 */
    int64_t payload;   /* approximate JSON size of the data object */
    int64_t epoch;     /* "bk" */
    int64_t count;     /* stop after this many events; 0 = by duration */
    double duration_s; /* stop after this long; 0 = by count */
    int64_t wait_ms;   /* longest wait for the broker's subscription */
    uint64_t seed;     /* group choice */
} pub_opts_t;

/* The long options every publishing subcommand accepts (values >= 1000),
 * for getopt_long tables: PUB_LONG_OPTIONS, then the caller's own. */
#define PUB_LONG_OPTIONS                                \
    {"endpoint", required_argument, NULL, 1000},        \
        {"hub", required_argument, NULL, 1001},         \
        {"target", required_argument, NULL, 1002},      \
        {"group", required_argument, NULL, 1003},       \
        {"groups-from", required_argument, NULL, 1004}, \
        {"keys", required_argument, NULL, 1005},        \
        {"rate", required_argument, NULL, 1006},        \
        {"burst", required_argument, NULL, 1007},       \
        {"payload", required_argument, NULL, 1008},     \
        {"epoch", required_argument, NULL, 1009},       \
        {"count", required_argument, NULL, 1010},       \
        {"duration", required_argument, NULL, 1011},    \
        {"wait-ms", required_argument, NULL, 1012},     \
    {                                                   \
        "seed", required_argument, NULL, 1013           \
    }

/* The usage lines of those options. */
#define PUB_USAGE                                                          \
    "  --endpoint tcp://H:P   the broker's ingress (SUB) endpoint\n"       \
    "  --hub NAME             hub name or path\n"                          \
    "  --target EVENT         event name (allowed on the hub)\n"           \
    "  --group G              publish every event to group G, or\n"        \
    "  --groups-from 'vkey-%%d' --keys A..B  to a random key's group\n"    \
    "  --rate R               events/s (0 = as fast as accepted)\n"        \
    "  --burst K              K events back to back per tick [1]\n"        \
    "  --payload N            data object size in bytes as JSON [100]\n"   \
    "  --epoch E              measurement step tag \"bk\" [0]\n"           \
    "  --count N | --duration S   when to stop\n"                          \
    "  --wait-ms MS           wait for the broker's subscription [5000]\n" \
    "  --seed N               group choice seed [1]\n"

/* Fills the defaults. */
void pub_opts_init(pub_opts_t *o);

/* Applies one getopt_long result; 0 if consumed, 1 if the option is not a
 * publisher option, -1 on a bad value (printed). */
int pub_opts_parse(pub_opts_t *o, int opt, const char *arg);

/* Checks the combination; -1 with a message on stderr. */
int pub_opts_check(const pub_opts_t *o);

typedef struct pub pub_t;

/* Connects to the endpoint and waits (up to wait_ms) for the broker's
 * subscription. NULL on failure (logged). Caller owns. */
pub_t *pub_new(const pub_opts_t *o, void *zmq_ctx);

void pub_destroy(pub_t **self_p);

/* Sends the events due at now_us (CLOCK_MONOTONIC), starting the clock on
 * the first call. Returns when the next event is due (µs, may be <= now
 * when it is behind or unpaced), or -1 when it is done. */
int64_t pub_run_due(pub_t *self, int64_t now_us);

/* Sleeps until when_us (CLOCK_MONOTONIC), through signals. */
void pub_sleep_until(int64_t when_us);

/* pub_run_due until done, sleeping until each next event is due: a
 * publisher with nothing else to serve. */
void pub_run(pub_t *self);

/* Writes "pub_sent", "pub_elapsed_us", "pub_rate", "pub_blocked" lines. */
void pub_report(const pub_t *self, FILE *out);

uint64_t pub_sent(const pub_t *self);

#endif
