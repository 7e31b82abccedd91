/*
 * httputil - the pure parts of the gateway's HTTP surface.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/httputil.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool
httputil_arg_match(const char *frag, const char *name, const char **value)
{
    size_t n = strlen(name);
    if (strncasecmp(frag, name, n) != 0 || frag[n] != '=')
        return false;
    *value = frag + n + 1;
    return true;
}

static bool
s_blank(char c)
{
    return c == ' ' || c == '\t';
}

bool
httputil_bearer(const char *hdr, const char **tok, size_t *len)
{
    while (s_blank(*hdr))
        hdr++;
    if (strncasecmp(hdr, "bearer", 6) != 0 || !s_blank(hdr[6]))
        return false;
    const char *p = hdr + 6;
    while (s_blank(*p))
        p++;
    size_t n = strlen(p);
    while (n && s_blank(p[n - 1]))
        n--;
    if (!n)
        return false;
    *tok = p;
    *len = n;
    return true;
}

static bool
s_nonempty(const char *s, const char **tok, size_t *len)
{
    if (!s || !*s)
        return false;
    *tok = s;
    *len = strlen(s);
    return true;
}

enum cred_source
httputil_pick_credential(const httputil_creds_t *in, const char **tok,
                         size_t *len)
{
    if (s_nonempty(in->access_token_q, tok, len))
        return CRED_ACCESS_TOKEN_QUERY;
    if (in->authorization && httputil_bearer(in->authorization, tok, len))
        return CRED_BEARER;
    if (s_nonempty(in->api_key_hdr, tok, len))
        return CRED_API_KEY_HEADER;
    if (s_nonempty(in->api_key_q, tok, len))
        return CRED_API_KEY_QUERY;
    *tok = NULL;
    *len = 0;
    return CRED_NONE;
}

bool
httputil_origin_allowed(char *const *list, const char *origin)
{
    if (!list || !list[0])
        return true;
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], "*") == 0 || strcasecmp(list[i], origin) == 0)
            return true;
    return false;
}

bool
httputil_header_list_ok(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == ',' || c == ' ' || c == '\t' || c == '-' || c == '_' ||
            (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
            (c >= 'A' && c <= 'Z'))
            continue;
        return false;
    }
    return true;
}

void
httputil_hub_path(const char *uri, size_t len, size_t *hub_len, bool *negotiate)
{
    static const char suffix[] = "/negotiate";
    const size_t slen = sizeof suffix - 1;
    *negotiate = false;
    if (len >= slen && memcmp(uri + len - slen, suffix, slen) == 0) {
        *negotiate = true;
        len -= slen;
    }
    if (len > 1 && uri[len - 1] == '/')
        len--;
    *hub_len = len;
}

bool
httputil_static_path_ok(const char *uri)
{
    if (uri[0] != '/')
        return false;
    if (strstr(uri, ".."))
        return false;
    for (const char *p = uri; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == '\\' || *p == 0x7f)
            return false;
    return true;
}

const char *
httputil_mime(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".htm", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".map", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
    };
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash))
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

int
httputil_parse_listen(const char *s, char *host, size_t host_size, int *port)
{
    const char *colon;
    const char *h = s;
    size_t hlen;
    if (*s == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':')
            return -1;
        h = s + 1;
        hlen = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return -1;
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= host_size)
        return -1;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || p < 1 || p > 65535)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return 0;
}
