/*
 * hashfn - seeded hashing for the broker's hash tables.
 *
 * Eight bytes at a time (xor, multiply by an odd constant, fold the high
 * bits down), started from a random seed and finished with the splitmix64
 * mixer over the length, so that every input bit reaches the low bits
 * zhashx and the group table use to pick a bucket. Byte-wise FNV-1a was
 * three times the instructions for the group names events carry.
 *
 * SPDX-License-Identifier: MIT
 */
#include "broker/hashfn.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t s_seed;

static uint64_t
s_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* Once per process, before main and so before any thread (tests run
 * brokers on several): every table must hash with the same seed for its
 * whole life, and hashing reads a plain variable (a lookup hashes its
 * name once or more per event). */
__attribute__((constructor)) static void
s_init_seed(void)
{
    uint64_t seed = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        if (fread(&seed, sizeof seed, 1, f) != 1)
            seed = 0;
        fclose(f);
    }
    if (!seed) {
        /* No urandom: still vary per process, if predictably. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = s_mix((uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32));
    }
    s_seed = seed | 1;
}

/* One step: a word in, multiplied through, its high bits folded down. */
static inline uint64_t
s_step(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    return h ^ (h >> 29);
}

size_t
hashfn_bytes(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = s_seed;
    size_t n = len;
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = s_step(h, w);
    }
    if (n) { /* the last 1-7 bytes, as one word */
        uint64_t w = 0;
        for (size_t i = 0; i < n; i++)
            w |= (uint64_t)p[i] << (8 * i);
        h = s_step(h, w);
    }
    return (size_t)s_mix(h ^ len);
}

size_t
hashfn_str(const void *key)
{
    return hashfn_bytes(key, strlen(key));
}

size_t
hashfn_i64(const void *key)
{
    return hashfn_bytes(key, sizeof(int64_t));
}

int
hashfn_i64_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}
