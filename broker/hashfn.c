/*
 * hashfn - seeded hashing for the broker's hash tables.
 *
 * FNV-1a over the bytes, started from a random seed and finished with the
 * splitmix64 mixer so that every input bit reaches the low bits zhashx
 * uses to pick a bucket.
 *
 * SPDX-License-Identifier: MIT
 */
#include "broker/hashfn.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t s_seed;
static pthread_once_t s_seed_once = PTHREAD_ONCE_INIT;

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

/* Once per process, even with brokers on several threads (tests): every
 * table must hash with the same seed for its whole life. */
static void
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

static uint64_t
s_get_seed(void)
{
    (void)pthread_once(&s_seed_once, s_init_seed);
    return s_seed;
}

size_t
hashfn_bytes(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL ^ s_get_seed();
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
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
