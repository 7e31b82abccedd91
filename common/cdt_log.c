/*
 * cdt_log - leveled logging to stderr.
 *
 * SPDX-License-Identifier: MIT
 */
#include "common/cdt_log.h"

#include "common/cdt_clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int cdt_log_threshold = CDT_LOG_INFO;
static const char *s_program = "conduit";

void
cdt_log_init(const char *program)
{
    s_program = program;
}

int
cdt_log_level_parse(const char *name)
{
    static const char *names[] = {"error", "warn", "notice", "info", "debug"};
    for (int i = 0; i < 5; i++)
        if (strcasecmp(name, names[i]) == 0)
            return i;
    return -1;
}

void
cdt_log_set_level(int level)
{
    cdt_log_threshold = level;
}

void
cdt_log_write(int level, const char *module, const char *fmt, ...)
{
    static const char letters[] = "EWNID";
    char ts[CDT_ISO8601_LEN];
    char line[2048];
    cdt_clock_iso8601(cdt_clock_wall_ms(), ts);
    int n = snprintf(line, sizeof line, "%s %s[%d] %c %s: ", ts, s_program,
                     (int)getpid(), letters[level < 0 || level > 4 ? 4 : level],
                     module);
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    /* one write per line so that lines of several processes never mix */
    (void)!write(STDERR_FILENO, line, len);
}
