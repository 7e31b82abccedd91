/*
 * cdt_clock - time in milliseconds, and its ISO-8601 form.
 *
 * Monotonic time drives timers and windows; wall time is what payloads
 * carry. Modules with rules over time take an injected "now" instead of
 * calling these, so that tests need no sleeping.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef CDT_CLOCK_H
#define CDT_CLOCK_H

#include <stdint.h>

/* "2025-01-31T12:00:00.123Z" plus NUL */
#define CDT_ISO8601_LEN 25

/* CLOCK_MONOTONIC in ms. */
int64_t cdt_clock_mono_ms(void);

/* CLOCK_MONOTONIC in µs (for latency measurements). */
int64_t cdt_clock_mono_us(void);

/* CLOCK_REALTIME in ms since the epoch. */
int64_t cdt_clock_wall_ms(void);

/* Formats wall-clock ms as ISO-8601 UTC with milliseconds into buf. */
void cdt_clock_iso8601(int64_t wall_ms, char buf[CDT_ISO8601_LEN]);

/* Parses "YYYY-MM-DDTHH:MM:SS[.mmm]Z" (or a date "YYYY-MM-DD") into ms since
 * the epoch. Returns 0 or -1 on a malformed string. */
int cdt_clock_parse_iso8601(const char *s, int64_t *wall_ms);

#endif
