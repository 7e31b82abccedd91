/*
 * negotiate - the body of POST {hub}/negotiate.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/negotiate.h"

#include "common/cdt_json.h"

#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* int.TryParse with NumberStyles.Integer: blanks around, one sign,
 * decimal digits, within Int32 */
static bool
s_parse_int32(const char *s, long *out)
{
    while (isspace((unsigned char)*s))
        s++;
    bool neg = false;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    if (!isdigit((unsigned char)*s))
        return false;
    long v = 0;
    while (isdigit((unsigned char)*s)) {
        v = v * 10 + (*s++ - '0');
        if (v > (long)INT_MAX + 1)
            return false;
    }
    while (isspace((unsigned char)*s))
        s++;
    if (*s)
        return false;
    if (neg)
        v = -v;
    if (v > INT_MAX || v < INT_MIN)
        return false;
    *out = v;
    return true;
}

int
negotiate_version(const char *value, int *version, char *err, size_t errlen)
{
    if (!value) {
        *version = 0;
        return 0;
    }
    long v;
    if (!s_parse_int32(value, &v)) {
        snprintf(err, errlen,
                 "The client requested a non-integer protocol version.");
        return -1;
    }
    if (v < 0) {
        snprintf(err, errlen,
                 "The client requested version '%ld', but the server does "
                 "not support this version.",
                 v);
        return -1;
    }
    *version = v > NEGOTIATE_VERSION ? NEGOTIATE_VERSION : (int)v;
    return 0;
}

void
negotiate_response(cdt_buf_t *out, int version, const char *conn_id,
                   const char *token)
{
    cdt_buf_printf(out, "{\"negotiateVersion\":%d,\"connectionId\":", version);
    cdt_json_append_string(out, conn_id, strlen(conn_id));
    if (version >= 1) {
        cdt_buf_append_str(out, ",\"connectionToken\":");
        cdt_json_append_string(out, token, strlen(token));
    }
    cdt_buf_append_str(out, ",\"availableTransports\":[{\"transport\":"
                            "\"WebSockets\",\"transferFormats\":[\"Text\","
                            "\"Binary\"]}]}");
}

void
negotiate_error(cdt_buf_t *out, const char *error)
{
    cdt_buf_append_str(out, "{\"error\":");
    cdt_json_append_string(out, error, strlen(error));
    cdt_buf_append_str(out, "}");
}
