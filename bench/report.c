/*
 * report - `conduit-bench merge FILE...`: adds up the report files that
 * several load processes wrote for one measurement.
 *
 * A report is text, one "key value" per line. Numeric values are summed
 * across files, except keys ending in "_max" (the largest wins) and "_min"
 * (the smallest wins); a non-numeric value keeps the first file's text.
 * "hist <low> <count>" lines are histogram buckets (hist.h) and are merged
 * bucket by bucket. The output is the merged report followed by the
 * latency quantiles of the merged histogram in µs (lat_count, lat_p50_us,
 * lat_p90_us, lat_p99_us, lat_p999_us, lat_max_us, lat_mean_us), in the
 * same "key value" form, so a shell script reads it with awk.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bench/bench.h"
#include "bench/hist.h"

#define CDT_LOG_MODULE "report"
#include "common/cdt_log.h"
#include "common/cdt_mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPORT_MAX_KEYS 256

typedef struct report_key {
    char name[64];
    bool numeric;
    double value;
    char text[256];
} report_key_t;

typedef struct report {
    report_key_t keys[REPORT_MAX_KEYS];
    size_t n;
    hist_t hist;
} report_t;

static bool
s_ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* Copies src into dst, cut to fit (report keys and texts are short). */
static void
s_copy(char *dst, size_t dstlen, const char *src)
{
    size_t n = strlen(src);
    if (n >= dstlen)
        n = dstlen - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void
s_merge_key(report_t *self, const char *name, const char *value)
{
    char *end = NULL;
    double v = strtod(value, &end);
    bool numeric = *value && end && *end == '\0';
    for (size_t i = 0; i < self->n; i++) {
        report_key_t *k = &self->keys[i];
        if (strcmp(k->name, name) != 0)
            continue;
        if (!k->numeric || !numeric)
            return;
        if (s_ends_with(name, "_max"))
            k->value = v > k->value ? v : k->value;
        else if (s_ends_with(name, "_min"))
            k->value = v < k->value ? v : k->value;
        else
            k->value += v;
        return;
    }
    if (self->n == REPORT_MAX_KEYS)
        return;
    report_key_t *k = &self->keys[self->n++];
    s_copy(k->name, sizeof k->name, name);
    k->numeric = numeric;
    k->value = v;
    s_copy(k->text, sizeof k->text, value);
}

static int
s_merge_file(report_t *self, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        cdt_log_error("cannot read '%s': %s", path, strerror(errno));
        return -1;
    }
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *sp = strchr(line, ' ');
        if (!sp)
            continue;
        *sp = '\0';
        const char *value = sp + 1;
        if (strcmp(line, "hist") == 0) {
            unsigned long long low = 0, count = 0;
            if (sscanf(value, "%llu %llu", &low, &count) == 2)
                hist_record_n(&self->hist, low, count);
            continue;
        }
        s_merge_key(self, line, value);
    }
    fclose(f);
    return 0;
}

static double
s_key(const report_t *self, const char *name)
{
    for (size_t i = 0; i < self->n; i++)
        if (strcmp(self->keys[i].name, name) == 0)
            return self->keys[i].value;
    return 0;
}

int
report_merge_main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: conduit-bench merge REPORT...\n");
        return 2;
    }
    report_t *r = cdt_xcalloc(1, sizeof *r);
    int rc = 0;
    for (int i = 1; i < argc; i++)
        if (s_merge_file(r, argv[i]) != 0)
            rc = 1;
    for (size_t i = 0; i < r->n; i++) {
        const report_key_t *k = &r->keys[i];
        if (strncmp(k->name, "lat_", 4) == 0)
            continue; /* recomputed below from the merged buckets */
        if (k->numeric)
            printf("%s %.15g\n", k->name, k->value);
        else
            printf("%s %s\n", k->name, k->text);
    }
    /* The exact maximum travels as lat_max_us; buckets only bound it. */
    double exact_max = s_key(r, "lat_max_us");
    if (exact_max > 0)
        r->hist.max = (uint64_t)exact_max;
    const hist_t *h = &r->hist;
    printf("lat_count %llu\n", (unsigned long long)h->count);
    printf("lat_p50_us %llu\n", (unsigned long long)hist_quantile(h, 0.50));
    printf("lat_p90_us %llu\n", (unsigned long long)hist_quantile(h, 0.90));
    printf("lat_p99_us %llu\n", (unsigned long long)hist_quantile(h, 0.99));
    printf("lat_p999_us %llu\n", (unsigned long long)hist_quantile(h, 0.999));
    printf("lat_max_us %llu\n", (unsigned long long)h->max);
    printf("lat_mean_us %.0f\n",
           h->count ? (double)h->sum / (double)h->count : 0.0);
    free(r);
    return rc;
}
