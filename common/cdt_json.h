/*
 * cdt_json - JSON text to and from MessagePack.
 *
 * The gateway receives JSON (SignalR hub protocol, JSON flavour), the
 * processes talk MessagePack, and conduit-pub reads JSON from the command
 * line and stdin. Rather than build a DOM, this module translates directly:
 * JSON text -> MessagePack bytes, and a MessagePack object -> JSON text.
 *
 * The parser is strict RFC 8259: UTF-8 is validated (overlong forms,
 * surrogates and bytes above U+10FFFF are rejected), escapes are checked
 * (\u surrogate pairs must pair up), nesting is limited, no trailing commas,
 * no comments, exactly one value with only whitespace around it. Numbers
 * that are integers and fit in int64 (or uint64) become MessagePack ints;
 * every other number becomes a float64; a number whose magnitude overflows
 * a double ("1e999") is an error. Duplicate object keys are kept as given.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef CDT_JSON_H
#define CDT_JSON_H

#include "common/cdt_buf.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

#define CDT_JSON_MAX_DEPTH 64

/* Parses one JSON text and appends its MessagePack encoding to out.
 * max_depth bounds the nesting of arrays and objects (1 = a scalar or a
 * flat array/object). Returns 0, or -1 with a one-line reason in err
 * ("invalid UTF-8 at byte 17", "nesting deeper than 64", ...) and out
 * restored to its length on entry. */
int cdt_json_to_msgpack(const char *text, size_t len, cdt_buf_t *out,
                        int max_depth, char *err, size_t errlen);

/* Appends obj as JSON text. Strings are escaped ("\u001f" style for control
 * characters); invalid UTF-8 inside a str is replaced by U+FFFD; bin is
 * written as a base64 string; ext as null; non-string map keys are written
 * as their JSON text inside a string; floats that are not finite become
 * null. Returns 0, or -1 if obj nests deeper than CDT_JSON_MAX_DEPTH (out
 * is then restored to its length on entry). */
int cdt_json_from_msgpack(const msgpack_object *obj, cdt_buf_t *out);

/* Appends s (len bytes) as a quoted, escaped JSON string. */
void cdt_json_append_string(cdt_buf_t *out, const char *s, size_t len);

/* True if s is valid UTF-8 under the rules above. */
bool cdt_utf8_valid(const char *s, size_t len);

#endif
