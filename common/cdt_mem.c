/*
 * cdt_mem - allocation that never returns NULL.
 *
 * SPDX-License-Identifier: MIT
 */
#include "common/cdt_mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_oom(size_t size)
{
    fprintf(stderr, "out of memory allocating %zu bytes\n", size);
    abort();
}

void *
cdt_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        s_oom(size);
    return p;
}

void *
cdt_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        s_oom(n * size);
    return p;
}

void *
cdt_xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        s_oom(size);
    return q;
}

char *
cdt_xstrdup(const char *s)
{
    return cdt_xstrndup(s, strlen(s));
}

char *
cdt_xstrndup(const char *s, size_t n)
{
    char *p = cdt_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *
cdt_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        s_oom(0);
    char *p = cdt_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    (void)vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
