/*
 * cdt_clock - time in milliseconds, and its ISO-8601 form.
 *
 * SPDX-License-Identifier: MIT
 */
#include "common/cdt_clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t
cdt_clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
cdt_clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
cdt_clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
cdt_clock_iso8601(int64_t wall_ms, char buf[CDT_ISO8601_LEN])
{
    time_t secs = (time_t)(wall_ms / 1000);
    int ms = (int)(wall_ms % 1000);
    if (ms < 0) {
        ms += 1000;
        secs -= 1;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    /* strftime bounds every field; years past 9999 are not represented */
    size_t n = strftime(buf, CDT_ISO8601_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
    if (n != 19) {
        memcpy(buf, "9999-12-31T23:59:59.999Z", CDT_ISO8601_LEN);
        return;
    }
    buf[19] = '.';
    buf[20] = (char)('0' + ms / 100);
    buf[21] = (char)('0' + ms / 10 % 10);
    buf[22] = (char)('0' + ms % 10);
    buf[23] = 'Z';
    buf[24] = '\0';
}

int
cdt_clock_parse_iso8601(const char *s, int64_t *wall_ms)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int ms = 0;
    int used = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &used) != 3 ||
        used != 10)
        return -1;
    const char *p = s + used;
    if (*p == 'T') {
        int n = 0;
        if (sscanf(p, "T%2d:%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
                   &n) != 3 ||
            n != 9)
            return -1;
        p += n;
        if (*p == '.') {
            int digits = 0;
            p++;
            while (*p >= '0' && *p <= '9') {
                if (digits < 3)
                    ms = ms * 10 + (*p - '0');
                digits++;
                p++;
            }
            if (digits == 0)
                return -1;
            for (; digits < 3; digits++)
                ms *= 10;
        }
        if (*p++ != 'Z')
            return -1;
    }
    if (*p != '\0')
        return -1;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    *wall_ms = (int64_t)t * 1000 + ms;
    return 0;
}
