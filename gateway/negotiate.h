/*
 * negotiate - the body of POST {hub}/negotiate (SIGNALR.md §1).
 *
 * Version selection follows ASP.NET Core's HttpConnectionDispatcher: a
 * missing negotiateVersion means 0, a non-integer or a negative value is
 * an error answered with HTTP 200 and only {"error":...}, anything above 1
 * is answered as 1. Version 1 carries both the public connectionId and the
 * secret connectionToken; version 0 has no connectionToken and the client
 * uses the connectionId as its id. Only the WebSockets transport is
 * offered, with both transfer formats. Never a ProtocolVersion key, never
 * useStatefulReconnect (the client fails if it did not ask for it).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef NEGOTIATE_H
#define NEGOTIATE_H

#include "common/cdt_buf.h"

#include <stddef.h>

/* The highest negotiate version this server speaks. */
#define NEGOTIATE_VERSION 1

/* value is the negotiateVersion query value or NULL when absent. Returns
 * 0 with *version (0 or 1), or -1 with the .NET error text in err. */
int negotiate_version(const char *value, int *version, char *err,
                      size_t errlen);

/* Appends the response for a version 0 or 1 negotiation. token is
 * ignored for version 0. */
void negotiate_response(cdt_buf_t *out, int version, const char *conn_id,
                        const char *token);

/* Appends {"error":"<error>"}. */
void negotiate_error(cdt_buf_t *out, const char *error);

#endif
