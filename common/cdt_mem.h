/*
 * cdt_mem - allocation that never returns NULL.
 *
 * Every process here is a server whose only sane reaction to exhausted
 * memory is to stop, so these wrappers abort with a message instead of
 * making every caller check for NULL.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef CDT_MEM_H
#define CDT_MEM_H

#include <stddef.h>

/* malloc/calloc/realloc/strdup/strndup that abort on failure. Caller owns
 * the result and frees it with free(). */
void *cdt_xmalloc(size_t size);
void *cdt_xcalloc(size_t n, size_t size);
void *cdt_xrealloc(void *p, size_t size);
char *cdt_xstrdup(const char *s);
char *cdt_xstrndup(const char *s, size_t n);

/* printf into a new string. Caller owns. */
char *cdt_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
