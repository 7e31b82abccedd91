/*
 * linkrx - see linkrx.h.
 *
 * SPDX-License-Identifier: MIT
 */
#include "tests/unit/broker/linkrx.h"

#include <check.h>
#include <string.h>

void
linkrx_event_frame(const cdt_link_msg_t *msg, cdt_buf_t *out)
{
    cdt_link_pair_t pairs[CDT_LINK_MAX_ADD];
    cdt_link_args_t a;
    cdt_link_event_args(msg, pairs, &a);
    cdt_buf_reset(out);
    ck_assert_int_eq(cdt_link_build_json_frame_args(out, msg->target.ptr,
                                                    msg->target.len, &a, NULL),
                     0);
}

/* msg->json for an EVENT: its frame, as a gateway writes it, in zone. */
static void
s_event_json(msgpack_zone *zone, cdt_link_msg_t *msg)
{
    cdt_buf_t b = CDT_BUF_INIT;
    linkrx_event_frame(msg, &b);
    char *json = msgpack_zone_malloc(zone, b.len);
    ck_assert_ptr_nonnull(json);
    memcpy(json, b.data, b.len);
    msg->json = (cdt_str_t){json, b.len};
    cdt_buf_release(&b);
}

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
    if (msg->kind == CDT_LINK_EVENT)
        s_event_json(zone, msg);
    return true;
}
