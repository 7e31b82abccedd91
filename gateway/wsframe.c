/*
 * wsframe - the header of a WebSocket frame the gateway writes itself.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/wsframe.h"

size_t
wsframe_text_header(uint8_t *payload, size_t len)
{
    uint8_t *h;
    if (len < 126) {
        h = payload - 2;
        h[1] = (uint8_t)len;
    } else if (len <= UINT16_MAX) {
        h = payload - 4;
        h[1] = 126;
        h[2] = (uint8_t)(len >> 8);
        h[3] = (uint8_t)len;
    } else {
        h = payload - 10;
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    }
    h[0] = 0x81; /* FIN, opcode 1: text */
    return (size_t)(payload - h);
}
