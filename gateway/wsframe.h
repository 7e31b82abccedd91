/*
 * wsframe - the header of a WebSocket frame the gateway writes itself.
 *
 * On plain TCP the gateway writes its event frames straight to the socket
 * (conn.c, s_send_direct) rather than through lws_write, which frames the
 * same bytes through several layers: with one frame per event per member
 * that is a tenth of a broadcast's cost. Server frames are never masked
 * (RFC 6455 section 5.1); the payload length takes 1, 3 or 9 bytes of the
 * header (section 5.2). The header is written in front of the payload, in
 * the headroom the caller keeps there (LWS_PRE bytes in the gateway, at
 * least WSFRAME_MAX_HEADER).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef WSFRAME_H
#define WSFRAME_H

#include <stddef.h>
#include <stdint.h>

#define WSFRAME_MAX_HEADER 10

/* Writes the header of a final (FIN) text frame of len payload bytes into
 * the bytes right before payload, which must have WSFRAME_MAX_HEADER
 * bytes of headroom. Returns the header's length (2, 4 or 10): the frame
 * starts at payload minus that. */
size_t wsframe_text_header(uint8_t *payload, size_t len);

#endif
