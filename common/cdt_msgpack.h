/*
 * cdt_msgpack - a bounds check to run before msgpack-c's unpacker.
 *
 * msgpack_unpack allocates an array's or map's element storage from the
 * count in its header, before any element is read: the five bytes
 * "\xdd\xff\xff\xff\xff" make it ask for ~100 GB. A frame from any client,
 * service or gateway must therefore be checked before it is unpacked.
 * cdt_msgpack_check walks the encoding without allocating and refuses a
 * container that declares more elements than bytes remain (every element
 * takes at least one byte), so that what the unpacker then allocates is
 * bounded by a small multiple of the input size.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef CDT_MSGPACK_H
#define CDT_MSGPACK_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Checks that buf starts with one complete, well-formed MessagePack value
 * whose every declared length fits in the remaining bytes. Returns 0 and
 * the value's size in *used (may be less than len), or -1 (malformed,
 * truncated, or a reserved byte such as 0xc1). Never reads past len. */
int cdt_msgpack_check(const void *buf, size_t len, size_t *used);

/* The deepest nesting msgpack_unpack accepts: containers within
 * containers, the outermost counting as one. */
#define CDT_MSGPACK_MAX_DEPTH 32

/* A big-endian unsigned integer of n (at most 8) bytes at p. */
static inline uint64_t
cdt_msgpack_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Reads the w-byte big-endian length or count at *pp (end: the end of
 * the input) into *n and moves *pp past it. False, with nothing moved,
 * when fewer than w bytes are left. */
static inline bool
cdt_msgpack_read_be(const uint8_t **pp, const uint8_t *end, size_t w,
                    uint64_t *n)
{
    if ((size_t)(end - *pp) < w)
        return false;
    *n = cdt_msgpack_be(*pp, w);
    *pp += w;
    return true;
}

/* Moves *pp past the one value that starts there, before end, reading
 * its bytes as cdt_msgpack_check does (every length bounds-checked, no
 * allocation, no recursion) and refusing, as msgpack_unpack would, a
 * container at depth CDT_MSGPACK_MAX_DEPTH or deeper, the value itself
 * being at depth (0 for a whole message, 1 for a value inside its top
 * map, ...). False (*pp unspecified) when the bytes are not such a value.
 * Never reads at or past end. */
bool cdt_msgpack_skip(const uint8_t **pp, const uint8_t *end, int depth);

/* cdt_msgpack_check, then msgpack_unpack into *obj from zone (initialised
 * by the caller, who keeps it while obj is used; strings borrow from buf).
 * Requires exactly one value spanning all len bytes. Returns 0 or -1
 * (also when msgpack-c refuses, e.g. nesting deeper than 32). */
int cdt_msgpack_unpack_one(const void *buf, size_t len, msgpack_zone *zone,
                           msgpack_object *obj);

#endif
