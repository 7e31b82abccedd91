/*
 * bench - helpers shared by conduit-bench's subcommands: argument parsing,
 * group name templates, CPU time, a fast PRNG and key lookup in JSON text.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bench/bench.h"

#define CDT_LOG_MODULE "bench"
#include "common/cdt_log.h"
#include "common/cdt_msgpack.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int
bench_parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = (int64_t)v;
    return 0;
}

int
bench_parse_double(const char *s, double *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || v != v)
        return -1;
    *out = v;
    return 0;
}

int
bench_parse_range(const char *s, int64_t *lo, int64_t *hi)
{
    const char *dots = strstr(s, "..");
    if (!dots) {
        if (bench_parse_i64(s, lo))
            return -1;
        *hi = *lo;
        return 0;
    }
    char first[32];
    size_t n = (size_t)(dots - s);
    if (n == 0 || n >= sizeof first)
        return -1;
    memcpy(first, s, n);
    first[n] = '\0';
    if (bench_parse_i64(first, lo) || bench_parse_i64(dots + 2, hi))
        return -1;
    return *lo <= *hi ? 0 : -1;
}

size_t
bench_fmt_int(char *out, size_t outlen, const char *tmpl, int64_t v)
{
    if (outlen == 0)
        return 0;
    const char *pct = strstr(tmpl, "%d");
    size_t pre = pct ? (size_t)(pct - tmpl) : strlen(tmpl);
    char num[24];
    int nn = pct ? snprintf(num, sizeof num, "%lld", (long long)v) : 0;
    const char *post = pct ? pct + 2 : "";
    size_t len = 0;
    size_t room = outlen - 1;
    size_t take = pre < room ? pre : room;
    memcpy(out, tmpl, take);
    len += take;
    take = (size_t)nn < room - len ? (size_t)nn : room - len;
    memcpy(out + len, num, take);
    len += take;
    size_t pl = strlen(post);
    take = pl < room - len ? pl : room - len;
    memcpy(out + len, post, take);
    len += take;
    out[len] = '\0';
    return len;
}

int64_t
bench_cpu_us(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (int64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec +
           (int64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
}

uint64_t
bench_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

bool
bench_find_uint(const uint8_t *p, const uint8_t *end, const char *key,
                size_t keylen, uint64_t *v)
{
    while (p + keylen < end) {
        const uint8_t *q = memchr(p, key[0], (size_t)(end - p - keylen));
        if (!q)
            return false;
        if (memcmp(q, key, keylen) == 0) {
            q += keylen;
            if (q >= end || *q < '0' || *q > '9')
                return false;
            uint64_t x = 0;
            while (q < end && *q >= '0' && *q <= '9')
                x = x * 10 + (uint64_t)(*q++ - '0');
            *v = x;
            return true;
        }
        p = q + 1;
    }
    return false;
}

bool
bench_find_mp_uint(const uint8_t *p, const uint8_t *end, const char *key,
                   size_t keylen, uint64_t *v)
{
    uint8_t head = (uint8_t)(0xa0 | keylen);
    while (p && keylen < 32 && p + 1 + keylen < end) {
        const uint8_t *q = memchr(p, head, (size_t)(end - p - 1 - keylen));
        if (!q)
            return false;
        if (memcmp(q + 1, key, keylen) == 0) {
            q += 1 + keylen;
            uint8_t c = *q++;
            if (c <= 0x7f) {
                *v = c;
                return true;
            }
            return c >= 0xcc && c <= 0xcf &&
                   cdt_msgpack_read_be(&q, end, (size_t)1 << (c - 0xcc), v);
        }
        p = q + 1;
    }
    return false;
}

int
bench_write_file(const char *path, const char *text, size_t len)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        cdt_log_error("cannot write '%s': path too long", path);
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) {
        cdt_log_error("cannot write '%s': %s", tmp, strerror(errno));
        return -1;
    }
    size_t w = fwrite(text, 1, len, f);
    if (fclose(f) != 0 || w != len) {
        cdt_log_error("cannot write '%s': %s", tmp, strerror(errno));
        (void)unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        cdt_log_error("cannot rename '%s': %s", tmp, strerror(errno));
        return -1;
    }
    return 0;
}
