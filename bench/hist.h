/*
 * hist - a log-linear latency histogram in the manner of HdrHistogram.
 *
 * Values are µs. Below 128 every value has its own bucket; above, each
 * power of two is split into 64 linear sub-buckets, so a bucket is never
 * wider than 1/64 of its lower bound (about 1.6 % resolution) up to 2^41 µs.
 * Recording is one index computation and one increment: no allocation per
 * value. Histograms from several processes merge by adding buckets, which
 * is why the report files carry buckets and not percentiles.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef HIST_H
#define HIST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HIST_SUB_BITS 6
#define HIST_LINEAR   128 /* 2 << HIST_SUB_BITS */
#define HIST_MAX_EXP  41
#define HIST_BUCKETS  (HIST_LINEAR + (HIST_MAX_EXP - 7) * 64)

typedef struct hist {
    uint64_t count; /* values recorded */
    uint64_t max;   /* largest value, exact */
    uint64_t sum;   /* for the mean */
    uint64_t bucket[HIST_BUCKETS];
} hist_t;

/* Empties the histogram. */
void hist_reset(hist_t *self);

/* Records one value (µs); values past the range land in the last bucket. */
void hist_record(hist_t *self, uint64_t v);

/* Records a value found in a report: count values at the bucket holding v. */
void hist_record_n(hist_t *self, uint64_t v, uint64_t n);

/* Adds other into self. */
void hist_add(hist_t *self, const hist_t *other);

/* The value at quantile q (0 < q <= 1): the upper bound of the bucket that
 * holds it, capped at the exact maximum; 0 when empty. */
uint64_t hist_quantile(const hist_t *self, double q);

/* The bucket's index for v, and a bucket's lowest and highest value. */
size_t hist_index(uint64_t v);
uint64_t hist_bucket_low(size_t idx);
uint64_t hist_bucket_high(size_t idx);

/* Writes "hist <low> <count>" for every non-empty bucket. */
void hist_write(const hist_t *self, FILE *out);

#endif
