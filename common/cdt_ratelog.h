/*
 * cdt_ratelog - lets a WARN about bad input through at most once per interval.
 *
 * Garbage on a ZeroMQ endpoint can arrive at line rate; logging each piece
 * would turn a misbehaving peer into a disk-filling one. A cdt_ratelog_t sits
 * next to the counter it accompanies: the counter counts everything, the
 * log shows a sample and how many were suppressed since the last line.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef CDT_RATELOG_H
#define CDT_RATELOG_H

#include <stdbool.h>
#include <stdint.h>

#define CDT_RATELOG_INTERVAL_MS 1000

typedef struct cdt_ratelog {
    int64_t last_ms;     /* monotonic time of the last line; 0 = never */
    uint64_t suppressed; /* events not logged since then */
} cdt_ratelog_t;

/* True if a line may be logged now (then *suppressed_p gets the number of
 * lines withheld since the previous one and the count restarts); false
 * counts one more suppressed line. */
bool cdt_ratelog_allow(cdt_ratelog_t *self, int64_t now_ms,
                       uint64_t *suppressed_p);

#endif
