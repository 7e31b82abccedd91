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

/* Reads the header whose first byte c was at *pp - 1: moves *pp past
 * its length bytes, if any, and gives the bytes of payload that follow
 * (*body) and the values a container header owes (*values; 2n for a map
 * of n pairs). False for the reserved byte 0xc1 or length bytes past end.
 * The payload itself is the caller's to bounds-check. */
static inline bool
s_head(uint8_t c, const uint8_t **pp, const uint8_t *end, uint64_t *body,
       uint64_t *values)
{
    size_t w = 0; /* length bytes in the header */
    bool container = false;
    *body = 0;
    *values = 0;
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
        return true;
    if (c <= 0x8f) {
        *values = 2u * (c & 0x0f);
        return true;
    }
    if (c <= 0x9f) {
        *values = c & 0x0fu;
        return true;
    }
    if (c <= 0xbf) {
        *body = c & 0x1fu;
        return true;
    }
    switch (c) {
    case 0xc4: /* bin 8/16/32 */
    case 0xc5:
    case 0xc6:
        w = (size_t)1 << (c - 0xc4);
        break;
    case 0xc7: /* ext 8/16/32: length, then a type byte */
    case 0xc8:
    case 0xc9:
        w = (size_t)1 << (c - 0xc7);
        *body = 1;
        break;
    case 0xca: /* float 32/64 */
        *body = 4;
        break;
    case 0xcb:
        *body = 8;
        break;
    case 0xcc: /* uint 8..64 */
    case 0xcd:
    case 0xce:
    case 0xcf:
        *body = (uint64_t)1 << (c - 0xcc);
        break;
    case 0xd0: /* int 8..64 */
    case 0xd1:
    case 0xd2:
    case 0xd3:
        *body = (uint64_t)1 << (c - 0xd0);
        break;
    case 0xd4: /* fixext: a type byte and 1..16 data bytes */
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        *body = 1 + ((uint64_t)1 << (c - 0xd4));
        break;
    case 0xd9: /* str 8/16/32 */
    case 0xda:
    case 0xdb:
        w = (size_t)1 << (c - 0xd9);
        break;
    case 0xdc: /* array 16/32, map 16/32 */
    case 0xdd:
    case 0xde:
    case 0xdf:
        w = c == 0xdc || c == 0xde ? 2 : 4;
        container = true;
        break;
    default: /* 0xc1, never used */
        return false;
    }
    uint64_t v;
    if (!cdt_msgpack_read_be(pp, end, w, &v))
        return false;
    if (!container)
        *body += v;
    else
        *values = c >= 0xde ? 2 * v : v;
    return true;
}

int
cdt_msgpack_check(const void *buf, size_t len, size_t *used)
{
    if (!buf)
        return -1;
    const uint8_t *start = buf, *p = start, *end = start + len;
    uint64_t owed = 1;
    while (owed > 0) {
        if (p >= end || owed > (uint64_t)(end - p))
            return -1;
        owed--;
        uint64_t body, values;
        if (!s_head(*p++, &p, end, &body, &values) ||
            body > (uint64_t)(end - p))
            return -1;
        p += body;
        owed += values;
    }
    if (used)
        *used = (size_t)(p - start);
    return 0;
}

/* One loop: owed[i] counts the values still to come at depth + i. */
bool
cdt_msgpack_skip(const uint8_t **pp, const uint8_t *end, int depth)
{
    uint64_t owed[CDT_MSGPACK_MAX_DEPTH + 1];
    int top = 0;
    const uint8_t *p = *pp;
    owed[0] = 1;
    for (;;) {
        while (owed[top] == 0) {
            if (top == 0) {
                *pp = p;
                return true;
            }
            top--;
        }
        owed[top]--;
        if (p >= end)
            return false;
        uint8_t c = *p++;
        uint64_t body, values;
        if (!s_head(c, &p, end, &body, &values))
            return false;
        if (body > (uint64_t)(end - p))
            return false;
        p += body;
        if ((c & 0xe0) == 0x80 || (c >= 0xdc && c <= 0xdf)) {
            /* a container; every value takes a byte: more owed than
             * left is malformed */
            if (depth + top >= CDT_MSGPACK_MAX_DEPTH ||
                values > (uint64_t)(end - p))
                return false;
            owed[++top] = values;
        }
    }
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
