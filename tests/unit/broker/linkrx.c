/*
 * linkrx - see linkrx.h.
 *
 * SPDX-License-Identifier: MIT
 */
#include "tests/unit/broker/linkrx.h"

#include <check.h>

bool
linkrx_next(zsock_t *sock, zframe_t **frame, size_t *off, msgpack_zone *zone,
            cdt_link_msg_t *msg, int timeout_ms)
{
    msgpack_zone_clear(zone);
    if (!*frame || *off >= zframe_size(*frame)) {
        /* the next frame: a batch of one or more messages */
        zframe_destroy(frame);
        *off = 0;
        zsock_set_rcvtimeo(sock, timeout_ms);
        *frame = zframe_recv(sock);
        if (!*frame)
            return false;
    }
    size_t used = 0;
    ck_assert_int_eq(cdt_link_decode_next(zframe_data(*frame) + *off,
                                          zframe_size(*frame) - *off, zone, msg,
                                          &used),
                     0);
    *off += used;
    return true;
}
