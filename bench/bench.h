/*
 * bench - the entry points of conduit-bench's subcommands and the small
 * helpers they share.
 *
 * conduit-bench is the load tool of `make bench` (bench/run.sh drives it).
 * Each subcommand is one process with one loop and no client library: raw
 * WebSocket clients (clients.c), a paced ZeroMQ publisher (publish.c), fake
 * gateways speaking the broker link (fakegw.c), libzmq's own receive cost
 * of those events (zmqfloor.c) and a merger of the report
 * files the others write (report.c). Every subcommand returns the process
 * exit code: 0 on success, 1 on a runtime failure, 2 on a usage error.
 *
 * Latency is measured from the publisher's send to the client's receive,
 * both on CLOCK_MONOTONIC (one machine), carried in the event's data object
 * as "bt" (µs); "bs" is the publisher's sequence number and "bk" the epoch
 * (measurement step) the event belongs to.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The subcommands; argv[0] is the subcommand's name. */
int clients_main(int argc, char **argv);
int publish_main(int argc, char **argv);
int fakegw_main(int argc, char **argv);
int zmqfloor_main(int argc, char **argv);
int report_merge_main(int argc, char **argv);
int selftest_main(int argc, char **argv);

/* Parses "A..B" (or a single "A") into *lo <= *hi, both >= 0. Returns 0 or
 * -1 when malformed. */
int bench_parse_range(const char *s, int64_t *lo, int64_t *hi);

/* Parses a non-negative decimal integer, the whole string. Returns 0 or -1. */
int bench_parse_i64(const char *s, int64_t *out);

/* Parses a non-negative number (may have a fraction). Returns 0 or -1. */
int bench_parse_double(const char *s, double *out);

/* Writes tmpl into out with its first "%d" replaced by v (a template
 * without "%d" is copied as is), truncating to outlen - 1 bytes. Returns
 * the length written. */
size_t bench_fmt_int(char *out, size_t outlen, const char *tmpl, int64_t v);

/* CPU time (user + system) of this process in µs. */
int64_t bench_cpu_us(void);

/* xorshift64*: a fast, non-cryptographic generator; *state must not be 0. */
uint64_t bench_rand(uint64_t *state);

/* Parses the unsigned decimal integer that follows the key (e.g. "\"bt\":")
 * in [p, end). Returns true and sets *v when the key is found. */
bool bench_find_uint(const uint8_t *p, const uint8_t *end, const char *key,
                     size_t keylen, uint64_t *v);

/* The same in MessagePack: the unsigned integer (fixint, uint 8 to 64)
 * that follows the str key (keylen < 32: a fixstr) in [p, end). */
bool bench_find_mp_uint(const uint8_t *p, const uint8_t *end, const char *key,
                        size_t keylen, uint64_t *v);

/* Writes path atomically: the text goes to path.tmp, which is then renamed.
 * Returns 0 or -1 (logged). */
int bench_write_file(const char *path, const char *text, size_t len);

#endif
