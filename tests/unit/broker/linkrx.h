/*
 * linkrx - the broker's unit tests' end of the gateway link: reads the
 * link messages a fake gateway's DEALER receives, one at a time, through
 * the batches the broker sends (proto/cdt_link.h).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef LINKRX_H
#define LINKRX_H

#include "proto/cdt_link.h"

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>

/* The next link message on sock into *msg (borrowing from *frame and
 * *zone): the next one of the current frame's batch (*frame, from *off),
 * else the first of the next frame received within timeout_ms. A message
 * that does not decode fails the test. An EVENT's json (which the link
 * does not carry) is set to the frame a gateway writes from it
 * (cdt_link_build_json_frame_args), in *zone: what its members would
 * get; arguments that make no frame fail the test. False on timeout. */
/* The frame a gateway writes for the decoded EVENT msg, into out (reset
 * first); a failure fails the test. */
void linkrx_event_frame(const cdt_link_msg_t *msg, cdt_buf_t *out);

bool linkrx_next(zsock_t *sock, zframe_t **frame, size_t *off,
                 msgpack_zone *zone, cdt_link_msg_t *msg, int timeout_ms);

#endif
