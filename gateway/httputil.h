/*
 * httputil - the pure parts of the gateway's HTTP surface: where a
 * request's credential comes from, CORS origin checks, hub path
 * recognition, static file names and the listen address.
 *
 * libwebsockets hands over query arguments one "name=value" fragment at a
 * time, already percent-decoded ("%2B" -> '+', '+' -> ' ', "%26" stays
 * inside its fragment), so nothing here decodes again: decoding twice
 * would corrupt a token containing "%25".
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef HTTPUTIL_H
#define HTTPUTIL_H

#include <stdbool.h>
#include <stddef.h>

/* If the query fragment "name=value" has this name (ASCII case-insensitive,
 * as ASP.NET Core matches query keys), points *value at the value and
 * returns true. */
bool httputil_arg_match(const char *frag, const char *name, const char **value);

/* The token of an "Authorization: Bearer <token>" value (scheme matched
 * case-insensitively, surrounding blanks trimmed). Returns true with
 * *tok and *len set when there is a non-empty token. */
bool httputil_bearer(const char *hdr, const char **tok, size_t *len);

/* Where the credential of a request was found. */
enum cred_source {
    CRED_NONE = 0,
    CRED_ACCESS_TOKEN_QUERY, /* ?access_token= (browser WebSocket, SSE) */
    CRED_BEARER,             /* Authorization: Bearer */
    CRED_API_KEY_HEADER,     /* X-API-Key */
    CRED_API_KEY_QUERY,      /* ?api_key= */
};

/* The candidate places, each NULL when absent. */
typedef struct httputil_creds {
    const char *access_token_q;
    const char *authorization;
    const char *api_key_hdr;
    const char *api_key_q;
} httputil_creds_t;

/* Picks the credential in the documented order: access_token query,
 * Authorization Bearer, X-API-Key, api_key query; empty values are skipped.
 * Returns its source with *tok and *len set, or CRED_NONE. */
enum cred_source httputil_pick_credential(const httputil_creds_t *in,
                                          const char **tok, size_t *len);

/* True if origin may use the gateway: the list (NULL-terminated, may be
 * NULL) is empty or holds "*" or the origin (ASCII case-insensitive). */
bool httputil_origin_allowed(char *const *list, const char *origin);

/* True if s may be echoed in Access-Control-Allow-Headers: printable
 * ASCII header names, commas and blanks only. */
bool httputil_header_list_ok(const char *s);

/* Splits a request path into a hub path and whether it addresses
 * "{hub}/negotiate": *hub_len is the length of the hub part with one
 * trailing '/' removed. */
void httputil_hub_path(const char *uri, size_t len, size_t *hub_len,
                       bool *negotiate);

/* True if the URI path is safe to map under the static directory: starts
 * with '/', no "..", no backslash, no control characters. */
bool httputil_static_path_ok(const char *uri);

/* Content-Type for a file name by its extension. */
const char *httputil_mime(const char *path);

/* Parses "host:port" ("[v6]:port" too). Returns 0 with host copied, or
 * -1 if malformed or the port is not 1..65535. */
int httputil_parse_listen(const char *s, char *host, size_t host_size,
                          int *port);

#endif
