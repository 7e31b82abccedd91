/*
 * cdt_msgpack - a bounds check to run before msgpack-c's unpacker.
 *
 * The walk needs no stack: it counts the values still owed (one for the
 * root, plus n per array and 2n per map header met) and stops when none
 * are. Since every value takes at least one byte, owing more values than
 * bytes remain proves the input malformed, and that same test is what
 * bounds the unpacker's allocation.
 *
 * SPDX-License-Identifier: MIT
 */
#include "common/cdt_msgpack.h"

static uint64_t
s_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

int
cdt_msgpack_check(const void *buf, size_t len, size_t *used)
{
    const uint8_t *p = buf;
    size_t pos = 0;
    uint64_t owed = 1;
    if (!p)
        return -1;
    while (owed > 0) {
        if (pos >= len || owed > len - pos)
            return -1;
        owed--;
        uint8_t c = p[pos++];
        size_t rest = len - pos;
        uint64_t body = 0;   /* bytes after the header */
        uint64_t values = 0; /* values the header owes */
        int n = 0;           /* length bytes in the header */
        if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
            continue;
        } else if (c <= 0x8f) {
            values = 2u * (c & 0x0f);
        } else if (c <= 0x9f) {
            values = c & 0x0f;
        } else if (c <= 0xbf) {
            body = c & 0x1f;
        } else {
            switch (c) {
            case 0xc4: /* bin 8/16/32 */
            case 0xd9: /* str 8/16/32 */
                n = 1;
                break;
            case 0xc5:
            case 0xda:
                n = 2;
                break;
            case 0xc6:
            case 0xdb:
                n = 4;
                break;
            case 0xc7: /* ext 8/16/32: length, then a type byte */
                n = 1;
                body = 1;
                break;
            case 0xc8:
                n = 2;
                body = 1;
                break;
            case 0xc9:
                n = 4;
                body = 1;
                break;
            case 0xca:
                body = 4;
                break;
            case 0xcb:
                body = 8;
                break;
            case 0xcc:
            case 0xd0:
                body = 1;
                break;
            case 0xcd:
            case 0xd1:
                body = 2;
                break;
            case 0xce:
            case 0xd2:
                body = 4;
                break;
            case 0xcf:
            case 0xd3:
                body = 8;
                break;
            case 0xd4: /* fixext: type byte plus 1..16 data bytes */
                body = 2;
                break;
            case 0xd5:
                body = 3;
                break;
            case 0xd6:
                body = 5;
                break;
            case 0xd7:
                body = 9;
                break;
            case 0xd8:
                body = 17;
                break;
            case 0xdc:
            case 0xdd:
                if (rest < (c == 0xdc ? 2u : 4u))
                    return -1;
                values = s_be(p + pos, c == 0xdc ? 2 : 4);
                pos += c == 0xdc ? 2 : 4;
                break;
            case 0xde:
            case 0xdf:
                if (rest < (c == 0xde ? 2u : 4u))
                    return -1;
                values = 2 * s_be(p + pos, c == 0xde ? 2 : 4);
                pos += c == 0xde ? 2 : 4;
                break;
            default: /* 0xc1, never used */
                return -1;
            }
        }
        if (n) {
            if (rest < (size_t)n)
                return -1;
            body += s_be(p + pos, n);
            pos += (size_t)n;
        }
        if (body > len - pos)
            return -1;
        pos += (size_t)body;
        owed += values;
    }
    if (used)
        *used = pos;
    return 0;
}

int
cdt_msgpack_unpack_one(const void *buf, size_t len, msgpack_zone *zone,
                       msgpack_object *obj)
{
    size_t used = 0, off = 0;
    if (cdt_msgpack_check(buf, len, &used) == -1 || used != len)
        return -1;
    if (msgpack_unpack(buf, len, &off, zone, obj) != MSGPACK_UNPACK_SUCCESS ||
        off != len)
        return -1;
    return 0;
}
