/*
 * hist - a log-linear latency histogram (see hist.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "bench/hist.h"

#include <string.h>

void
hist_reset(hist_t *self)
{
    memset(self, 0, sizeof *self);
}

size_t
hist_index(uint64_t v)
{
    if (v < HIST_LINEAR)
        return (size_t)v;
    int e = 63 - __builtin_clzll(v); /* 2^e <= v < 2^(e+1), e >= 7 */
    if (e >= HIST_MAX_EXP)
        return HIST_BUCKETS - 1;
    int shift = e - HIST_SUB_BITS;
    size_t sub = (size_t)(v >> shift) - 64;
    return HIST_LINEAR + (size_t)(e - 7) * 64 + sub;
}

uint64_t
hist_bucket_low(size_t idx)
{
    if (idx < HIST_LINEAR)
        return idx;
    size_t e = 7 + (idx - HIST_LINEAR) / 64;
    uint64_t sub = (idx - HIST_LINEAR) % 64;
    return (64 + sub) << (e - HIST_SUB_BITS);
}

uint64_t
hist_bucket_high(size_t idx)
{
    if (idx < HIST_LINEAR)
        return idx;
    size_t e = 7 + (idx - HIST_LINEAR) / 64;
    return hist_bucket_low(idx) + ((uint64_t)1 << (e - HIST_SUB_BITS)) - 1;
}

void
hist_record(hist_t *self, uint64_t v)
{
    self->bucket[hist_index(v)]++;
    self->count++;
    self->sum += v;
    if (v > self->max)
        self->max = v;
}

void
hist_record_n(hist_t *self, uint64_t v, uint64_t n)
{
    size_t idx = hist_index(v);
    self->bucket[idx] += n;
    self->count += n;
    self->sum += v * n;
    if (n && hist_bucket_high(idx) > self->max)
        self->max = hist_bucket_high(idx);
}

void
hist_add(hist_t *self, const hist_t *other)
{
    for (size_t i = 0; i < HIST_BUCKETS; i++)
        self->bucket[i] += other->bucket[i];
    self->count += other->count;
    self->sum += other->sum;
    if (other->max > self->max)
        self->max = other->max;
}

uint64_t
hist_quantile(const hist_t *self, double q)
{
    if (self->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)self->count + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > self->count)
        rank = self->count;
    uint64_t cum = 0;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        cum += self->bucket[i];
        if (cum >= rank) {
            uint64_t v = hist_bucket_high(i);
            return self->max && v > self->max ? self->max : v;
        }
    }
    return self->max;
}

void
hist_write(const hist_t *self, FILE *out)
{
    for (size_t i = 0; i < HIST_BUCKETS; i++)
        if (self->bucket[i])
            fprintf(out, "hist %llu %llu\n",
                    (unsigned long long)hist_bucket_low(i),
                    (unsigned long long)self->bucket[i]);
}
