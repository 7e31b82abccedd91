/*
 * cdt_log - leveled logging to stderr.
 *
 * Lines look like
 *   2025-01-31T12:00:00.123Z broker[4242] W router: dropping publish ...
 * A message below the threshold is never formatted: the macros test the
 * level before evaluating their arguments. Each .c file defines
 * CDT_LOG_MODULE (a short lowercase word) before including this header.
 * Keys and tokens are never passed to these functions.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef CDT_LOG_H
#define CDT_LOG_H

enum cdt_log_level {
    CDT_LOG_ERROR = 0,
    CDT_LOG_WARN = 1,
    CDT_LOG_NOTICE = 2,
    CDT_LOG_INFO = 3,
    CDT_LOG_DEBUG = 4,
};

/* The current threshold; messages with level > threshold are dropped. */
extern int cdt_log_threshold;

/* Sets the program name shown in every line ("broker", "gateway"). */
void cdt_log_init(const char *program);

/* Parses "error", "warn", "notice", "info", "debug"; -1 if unknown. */
int cdt_log_level_parse(const char *name);

void cdt_log_set_level(int level);

void cdt_log_write(int level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifndef CDT_LOG_MODULE
#define CDT_LOG_MODULE "main"
#endif

#define CDT_LOG(level, ...)                                      \
    do {                                                         \
        if ((level) <= cdt_log_threshold)                        \
            cdt_log_write((level), CDT_LOG_MODULE, __VA_ARGS__); \
    } while (0)
#define cdt_log_error(...)  CDT_LOG(CDT_LOG_ERROR, __VA_ARGS__)
#define cdt_log_warn(...)   CDT_LOG(CDT_LOG_WARN, __VA_ARGS__)
#define cdt_log_notice(...) CDT_LOG(CDT_LOG_NOTICE, __VA_ARGS__)
#define cdt_log_info(...)   CDT_LOG(CDT_LOG_INFO, __VA_ARGS__)
#define cdt_log_debug(...)  CDT_LOG(CDT_LOG_DEBUG, __VA_ARGS__)

#endif
