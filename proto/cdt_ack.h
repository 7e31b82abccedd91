/*
 * cdt_ack - the acknowledgement the broker's acknowledged ingress endpoint
 * answers with: {"ok":true} or {"ok":false,"error":"..."}.
 *
 * Its own object so that conduit-pub, which decodes acks, links it
 * without cdt_ingress.o (whose key checks pull in cdt_auth.o and with it
 * libcrypto: about 1.4 ms of loading in every run, issue #5).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef CDT_ACK_H
#define CDT_ACK_H

#include "common/cdt_buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The acknowledgement map: {"ok":true} or {"ok":false,"error":error}. */
void cdt_ingress_encode_ack(cdt_buf_t *out, bool ok, const char *error);

/* Decodes an acknowledgement. Returns 0 with *ok and the error text copied
 * into err (empty when ok; cut to errlen, always NUL-terminated), or -1 if
 * buf is not a valid ack map. Keys other than "ok" and "error" are
 * ignored; of a repeated key the last counts. */
int cdt_ingress_decode_ack(const uint8_t *buf, size_t len, bool *ok, char *err,
                           size_t errlen);

#endif
