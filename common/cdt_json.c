/*
 * cdt_json - JSON text to and from MessagePack, without a DOM.
 *
 * The parser is iterative (an explicit stack of open containers) so that a
 * caller's max_depth, not the C stack, bounds nesting. MessagePack needs a
 * container's element count before its elements, which JSON does not give:
 * each array/object header is written as one placeholder byte (the fixarray
 * or fixmap form, right for the common small container) and, when the
 * container closes with 16 or more elements, its body is moved forward to
 * make room for the 3- or 5-byte form. The output is therefore canonical
 * (smallest header) MessagePack.
 *
 * Every read is bounded by the text's length: the text need not be
 * NUL-terminated, and numbers are copied out before strtod sees them.
 *
 * SPDX-License-Identifier: MIT
 */
#include "common/cdt_json.h"

#include "common/cdt_mem.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 ------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at p (at most avail bytes), or 0 if
 * it is invalid: overlong, a surrogate, above U+10FFFF, or truncated. The
 * first byte is >= 0x80. */
static size_t
s_utf8_seq(const uint8_t *p, size_t avail)
{
    uint8_t c = p[0];
    if (c >= 0xC2 && c <= 0xDF) {
        if (avail < 2 || (p[1] & 0xC0) != 0x80)
            return 0;
        return 2;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (avail < 3)
            return 0;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c == 0xE0)
            lo = 0xA0; /* overlong below U+0800 */
        else if (c == 0xED)
            hi = 0x9F; /* U+D800..U+DFFF */
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80)
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (avail < 4)
            return 0;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c == 0xF0)
            lo = 0x90; /* overlong below U+10000 */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80 ||
            (p[3] & 0xC0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

bool
cdt_utf8_valid(const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    while (i < len) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = s_utf8_seq(p + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

/* ---- JSON -> MessagePack ----------------------------------------------- */

/* Bytes of a JSON string that need no attention: printable ASCII other
 * than '"' and '\\'. */
static const uint8_t s_plain[256] = {
    ['\x20'] = 1, ['!'] = 1, ['#'] = 1, ['$'] = 1,    ['%'] = 1, ['&'] = 1,
    ['\''] = 1,   ['('] = 1, [')'] = 1, ['*'] = 1,    ['+'] = 1, [','] = 1,
    ['-'] = 1,    ['.'] = 1, ['/'] = 1, ['0'] = 1,    ['1'] = 1, ['2'] = 1,
    ['3'] = 1,    ['4'] = 1, ['5'] = 1, ['6'] = 1,    ['7'] = 1, ['8'] = 1,
    ['9'] = 1,    [':'] = 1, [';'] = 1, ['<'] = 1,    ['='] = 1, ['>'] = 1,
    ['?'] = 1,    ['@'] = 1, ['A'] = 1, ['B'] = 1,    ['C'] = 1, ['D'] = 1,
    ['E'] = 1,    ['F'] = 1, ['G'] = 1, ['H'] = 1,    ['I'] = 1, ['J'] = 1,
    ['K'] = 1,    ['L'] = 1, ['M'] = 1, ['N'] = 1,    ['O'] = 1, ['P'] = 1,
    ['Q'] = 1,    ['R'] = 1, ['S'] = 1, ['T'] = 1,    ['U'] = 1, ['V'] = 1,
    ['W'] = 1,    ['X'] = 1, ['Y'] = 1, ['Z'] = 1,    ['['] = 1, [']'] = 1,
    ['^'] = 1,    ['_'] = 1, ['`'] = 1, ['a'] = 1,    ['b'] = 1, ['c'] = 1,
    ['d'] = 1,    ['e'] = 1, ['f'] = 1, ['g'] = 1,    ['h'] = 1, ['i'] = 1,
    ['j'] = 1,    ['k'] = 1, ['l'] = 1, ['m'] = 1,    ['n'] = 1, ['o'] = 1,
    ['p'] = 1,    ['q'] = 1, ['r'] = 1, ['s'] = 1,    ['t'] = 1, ['u'] = 1,
    ['v'] = 1,    ['w'] = 1, ['x'] = 1, ['y'] = 1,    ['z'] = 1, ['{'] = 1,
    ['|'] = 1,    ['}'] = 1, ['~'] = 1, ['\x7f'] = 1,
};

typedef struct {
    size_t hdr;   /* offset in out of the placeholder header byte */
    size_t count; /* elements (arrays) or pairs (objects) so far */
    bool object;
} s_frame_t;

typedef struct {
    const uint8_t *p;
    size_t len;
    size_t pos;
    cdt_buf_t *out;
    msgpack_packer pk;
    char *err;
    size_t errlen;
} s_parser_t;

__attribute__((format(printf, 2, 3))) static int
s_fail(s_parser_t *ps, const char *fmt, ...)
{
    if (ps->err && ps->errlen) {
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(ps->err, ps->errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int
s_fail_here(s_parser_t *ps)
{
    if (ps->pos >= ps->len)
        return s_fail(ps, "unexpected end of input");
    uint8_t c = ps->p[ps->pos];
    if (c >= 0x21 && c < 0x7F)
        return s_fail(ps, "unexpected character '%c' at byte %zu", c, ps->pos);
    return s_fail(ps, "unexpected byte 0x%02x at byte %zu", c, ps->pos);
}

static void
s_skip_ws(s_parser_t *ps)
{
    while (ps->pos < ps->len) {
        uint8_t c = ps->p[ps->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        ps->pos++;
    }
}

static int
s_hex4(const uint8_t *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t
s_utf8_put(uint8_t *d, unsigned cp)
{
    if (cp < 0x80) {
        d[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (uint8_t)(0xC0 | (cp >> 6));
        d[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (uint8_t)(0xE0 | (cp >> 12));
        d[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        d[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (uint8_t)(0xF0 | (cp >> 18));
    d[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    d[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    d[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* Writes a str header for n bytes at d; returns its size. */
static size_t
s_str_hdr(uint8_t *d, size_t n)
{
    if (n < 32) {
        d[0] = (uint8_t)(0xA0 | n);
        return 1;
    }
    if (n <= 0xFF) {
        d[0] = 0xD9;
        d[1] = (uint8_t)n;
        return 2;
    }
    if (n <= 0xFFFF) {
        d[0] = 0xDA;
        d[1] = (uint8_t)(n >> 8);
        d[2] = (uint8_t)n;
        return 3;
    }
    d[0] = 0xDB;
    d[1] = (uint8_t)(n >> 24);
    d[2] = (uint8_t)(n >> 16);
    d[3] = (uint8_t)(n >> 8);
    d[4] = (uint8_t)n;
    return 5;
}

/* Parses the string whose opening quote is at pos and packs it as str.
 * Escapes only shrink text, so the decoded bytes fit in the raw length. */
static int
s_parse_string(s_parser_t *ps)
{
    const uint8_t *p = ps->p;
    size_t start = ++ps->pos; /* past the quote */
    size_t i = start;
    bool escaped = false;
    /* Pass 1: find the end and validate everything but the escapes. */
    for (;;) {
        while (i < ps->len && s_plain[p[i]])
            i++;
        if (i >= ps->len) {
            ps->pos = i;
            return s_fail(ps, "unterminated string");
        }
        uint8_t c = p[i];
        if (c == '"')
            break;
        if (c == '\\') {
            escaped = true;
            i += 2; /* the escape itself is checked in pass 2 */
            continue;
        }
        if (c < 0x20) {
            ps->pos = i;
            return s_fail(ps, "control character in string at byte %zu", i);
        }
        size_t n = s_utf8_seq(p + i, ps->len - i);
        if (n == 0) {
            ps->pos = i;
            return s_fail(ps, "invalid UTF-8 at byte %zu", i);
        }
        i += n;
    }
    size_t raw = i - start;
    cdt_buf_t *out = ps->out;
    if (!escaped) {
        cdt_buf_reserve(out, raw + 5);
        out->len += s_str_hdr(out->data + out->len, raw);
        cdt_buf_append(out, p + start, raw);
        ps->pos = i + 1;
        return 0;
    }
    /* Pass 2: decode after a 5-byte gap, then close the gap. */
    cdt_buf_reserve(out, raw + 5);
    uint8_t *base = out->data + out->len;
    uint8_t *d = base + 5;
    size_t j = start;
    while (j < i) {
        uint8_t c = p[j];
        if (c != '\\') {
            *d++ = c;
            j++;
            continue;
        }
        if (j + 1 >= i)
            goto bad_escape;
        uint8_t e = p[j + 1];
        switch (e) {
        case '"':
        case '\\':
        case '/':
            *d++ = e;
            break;
        case 'b':
            *d++ = '\b';
            break;
        case 'f':
            *d++ = '\f';
            break;
        case 'n':
            *d++ = '\n';
            break;
        case 'r':
            *d++ = '\r';
            break;
        case 't':
            *d++ = '\t';
            break;
        case 'u': {
            unsigned cp;
            if (i - j < 6 || s_hex4(p + j + 2, &cp) == -1)
                goto bad_escape;
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                ps->pos = j;
                return s_fail(ps, "unpaired surrogate escape at byte %zu", j);
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (i - j < 12 || p[j + 6] != '\\' || p[j + 7] != 'u' ||
                    s_hex4(p + j + 8, &lo) == -1 || lo < 0xDC00 ||
                    lo > 0xDFFF) {
                    ps->pos = j;
                    return s_fail(ps, "unpaired surrogate escape at byte %zu",
                                  j);
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                j += 6;
            }
            d += s_utf8_put(d, cp);
            j += 6;
            continue;
        }
        default:
            goto bad_escape;
        }
        j += 2;
    }
    size_t n = (size_t)(d - (base + 5));
    size_t h = s_str_hdr(base, n);
    if (h != 5)
        memmove(base + h, base + 5, n);
    out->len += h + n;
    out->data[out->len] = '\0';
    ps->pos = i + 1;
    return 0;
bad_escape:
    ps->pos = j;
    return s_fail(ps, "invalid escape at byte %zu", j);
}

static int
s_parse_number(s_parser_t *ps)
{
    const uint8_t *p = ps->p;
    size_t start = ps->pos, i = start;
    bool neg = false, is_int = true;
    if (p[i] == '-') {
        neg = true;
        i++;
    }
    if (i >= ps->len || p[i] < '0' || p[i] > '9') {
        ps->pos = i;
        return s_fail(ps, "invalid number at byte %zu", start);
    }
    uint64_t mag = 0;
    bool overflow = false;
    if (p[i] == '0') {
        i++;
    } else {
        while (i < ps->len && p[i] >= '0' && p[i] <= '9') {
            unsigned dgt = (unsigned)(p[i] - '0');
            if (mag > (UINT64_MAX - dgt) / 10)
                overflow = true;
            else
                mag = mag * 10 + dgt;
            i++;
        }
    }
    if (i < ps->len && p[i] == '.') {
        is_int = false;
        i++;
        if (i >= ps->len || p[i] < '0' || p[i] > '9')
            return s_fail(ps, "invalid number at byte %zu", start);
        while (i < ps->len && p[i] >= '0' && p[i] <= '9')
            i++;
    }
    if (i < ps->len && (p[i] == 'e' || p[i] == 'E')) {
        is_int = false;
        i++;
        if (i < ps->len && (p[i] == '+' || p[i] == '-'))
            i++;
        if (i >= ps->len || p[i] < '0' || p[i] > '9')
            return s_fail(ps, "invalid number at byte %zu", start);
        while (i < ps->len && p[i] >= '0' && p[i] <= '9')
            i++;
    }
    ps->pos = i;
    if (is_int && !overflow) {
        if (!neg)
            return msgpack_pack_uint64(&ps->pk, mag);
        if (mag <= (uint64_t)INT64_MAX)
            return msgpack_pack_int64(&ps->pk, -(int64_t)mag);
        if (mag == (uint64_t)INT64_MAX + 1)
            return msgpack_pack_int64(&ps->pk, INT64_MIN);
    }
    /* strtod needs a NUL-terminated copy: the text may not have one. */
    size_t n = i - start;
    char small[64];
    char *tmp = n < sizeof small ? small : cdt_xmalloc(n + 1);
    memcpy(tmp, p + start, n);
    tmp[n] = '\0';
    errno = 0;
    double v = strtod(tmp, NULL);
    int saved = errno;
    if (tmp != small)
        free(tmp);
    /* Underflow ("1e-999") quietly becomes 0 or a subnormal; overflow
     * would become infinity, which MessagePack could carry but JSON could
     * never give back, so it is refused. */
    if (saved == ERANGE && isinf(v))
        return s_fail(ps, "number out of range at byte %zu", start);
    return msgpack_pack_double(&ps->pk, v);
}

static int
s_parse_literal(s_parser_t *ps, const char *word, size_t n)
{
    if (ps->len - ps->pos < n || memcmp(ps->p + ps->pos, word, n) != 0)
        return s_fail(ps, "invalid literal at byte %zu", ps->pos);
    ps->pos += n;
    return 0;
}

/* Closes the container whose frame is f: writes its real header. */
static int
s_close(s_parser_t *ps, const s_frame_t *f)
{
    cdt_buf_t *out = ps->out;
    size_t n = f->count;
    if (n > UINT32_MAX)
        return s_fail(ps, "too many elements in container");
    uint8_t hdr[5];
    size_t h;
    if (n < 16) {
        hdr[0] = (uint8_t)((f->object ? 0x80 : 0x90) | n);
        h = 1;
    } else if (n <= 0xFFFF) {
        hdr[0] = f->object ? 0xDE : 0xDC;
        hdr[1] = (uint8_t)(n >> 8);
        hdr[2] = (uint8_t)n;
        h = 3;
    } else {
        hdr[0] = f->object ? 0xDF : 0xDD;
        hdr[1] = (uint8_t)(n >> 24);
        hdr[2] = (uint8_t)(n >> 16);
        hdr[3] = (uint8_t)(n >> 8);
        hdr[4] = (uint8_t)n;
        h = 5;
    }
    if (h > 1) {
        size_t body = out->len - (f->hdr + 1);
        cdt_buf_reserve(out, h - 1);
        memmove(out->data + f->hdr + h, out->data + f->hdr + 1, body);
        out->len += h - 1;
        out->data[out->len] = '\0';
    }
    memcpy(out->data + f->hdr, hdr, h);
    return 0;
}

/* Parses an object key (a string) and the colon after it. */
static int
s_parse_key(s_parser_t *ps)
{
    s_skip_ws(ps);
    if (ps->pos >= ps->len || ps->p[ps->pos] != '"')
        return s_fail_here(ps);
    if (s_parse_string(ps) == -1)
        return -1;
    s_skip_ws(ps);
    if (ps->pos >= ps->len || ps->p[ps->pos] != ':')
        return s_fail_here(ps);
    ps->pos++;
    return 0;
}

static int
s_parse(s_parser_t *ps, s_frame_t *stack, int max_depth)
{
    int depth = 0;
    for (;;) {
        /* A value is expected here. */
        s_skip_ws(ps);
        if (ps->pos >= ps->len)
            return s_fail_here(ps);
        uint8_t c = ps->p[ps->pos];
        int rc = 0;
        if (c == '{' || c == '[') {
            if (depth >= max_depth)
                return s_fail(ps, "nesting deeper than %d", max_depth);
            s_frame_t *f = &stack[depth++];
            f->hdr = ps->out->len;
            f->count = 0;
            f->object = c == '{';
            cdt_buf_append_byte(ps->out, 0); /* placeholder header */
            ps->pos++;
            s_skip_ws(ps);
            uint8_t close = f->object ? '}' : ']';
            if (ps->pos < ps->len && ps->p[ps->pos] == close) {
                ps->pos++;
                (void)s_close(ps, f);
                depth--;
            } else {
                if (f->object && s_parse_key(ps) == -1)
                    return -1;
                continue; /* to the first value */
            }
        } else if (c == '"') {
            rc = s_parse_string(ps);
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            rc = s_parse_number(ps);
        } else if (c == 't') {
            rc = s_parse_literal(ps, "true", 4);
            if (rc == 0)
                rc = msgpack_pack_true(&ps->pk);
        } else if (c == 'f') {
            rc = s_parse_literal(ps, "false", 5);
            if (rc == 0)
                rc = msgpack_pack_false(&ps->pk);
        } else if (c == 'n') {
            rc = s_parse_literal(ps, "null", 4);
            if (rc == 0)
                rc = msgpack_pack_nil(&ps->pk);
        } else {
            return s_fail_here(ps);
        }
        if (rc != 0)
            return -1;
        /* A value is complete: close containers or move to the next. */
        for (;;) {
            if (depth == 0)
                return 0;
            s_frame_t *f = &stack[depth - 1];
            f->count++;
            s_skip_ws(ps);
            if (ps->pos >= ps->len)
                return s_fail_here(ps);
            c = ps->p[ps->pos];
            if (c == ',') {
                ps->pos++;
                if (f->object && s_parse_key(ps) == -1)
                    return -1;
                break;
            }
            if (c != (f->object ? '}' : ']'))
                return s_fail_here(ps);
            ps->pos++;
            if (s_close(ps, f) == -1)
                return -1;
            depth--;
        }
    }
}

int
cdt_json_to_msgpack(const char *text, size_t len, cdt_buf_t *out, int max_depth,
                    char *err, size_t errlen)
{
    if (max_depth <= 0)
        max_depth = CDT_JSON_MAX_DEPTH;
    s_parser_t ps = {
        .p = (const uint8_t *)text,
        .len = text ? len : 0,
        .pos = 0,
        .out = out,
        .err = err,
        .errlen = errlen,
    };
    if (err && errlen)
        err[0] = '\0';
    msgpack_packer_init(&ps.pk, out, cdt_buf_msgpack_write);
    size_t entry = out->len;
    s_frame_t small[CDT_JSON_MAX_DEPTH];
    s_frame_t *stack = small;
    if (max_depth > CDT_JSON_MAX_DEPTH)
        stack = cdt_xmalloc((size_t)max_depth * sizeof *stack);
    int rc;
    s_skip_ws(&ps);
    if (ps.pos >= ps.len) {
        rc = s_fail(&ps, "empty input");
    } else {
        rc = s_parse(&ps, stack, max_depth);
        if (rc == 0) {
            s_skip_ws(&ps);
            if (ps.pos < ps.len)
                rc = s_fail(&ps, "trailing characters at byte %zu", ps.pos);
        }
    }
    if (stack != small)
        free(stack);
    if (rc != 0) {
        out->len = entry;
        if (out->data)
            out->data[entry] = '\0';
        return -1;
    }
    return 0;
}

/* ---- MessagePack -> JSON ---------------------------------------------- */

static const char s_hex[] = "0123456789abcdef";

void
cdt_json_append_string(cdt_buf_t *out, const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s;
    cdt_buf_reserve(out, len + 2);
    cdt_buf_append_byte(out, '"');
    size_t i = 0;
    while (i < len) {
        size_t run = i;
        while (run < len && s_plain[p[run]])
            run++;
        if (run > i) {
            cdt_buf_append(out, p + i, run - i);
            i = run;
            if (i >= len)
                break;
        }
        uint8_t c = p[i];
        if (c >= 0x80) {
            size_t n = s_utf8_seq(p + i, len - i);
            if (n == 0) {
                cdt_buf_append(out, "\xEF\xBF\xBD", 3); /* U+FFFD */
                i++;
            } else {
                cdt_buf_append(out, p + i, n);
                i += n;
            }
            continue;
        }
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t en = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = s_hex[c >> 4];
            esc[5] = s_hex[c & 0xF];
            en = 6;
            break;
        }
        cdt_buf_append(out, esc, en);
        i++;
    }
    cdt_buf_append_byte(out, '"');
}

static void
s_append_base64(cdt_buf_t *out, const uint8_t *p, size_t len)
{
    static const char tbl[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    cdt_buf_reserve(out, (len + 2) / 3 * 4 + 2);
    uint8_t *d = out->data + out->len;
    *d++ = '"';
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *d++ = (uint8_t)tbl[v >> 18];
        *d++ = (uint8_t)tbl[(v >> 12) & 63];
        *d++ = (uint8_t)tbl[(v >> 6) & 63];
        *d++ = (uint8_t)tbl[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *d++ = (uint8_t)tbl[v >> 18];
        *d++ = (uint8_t)tbl[(v >> 12) & 63];
        *d++ = '=';
        *d++ = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *d++ = (uint8_t)tbl[v >> 18];
        *d++ = (uint8_t)tbl[(v >> 12) & 63];
        *d++ = (uint8_t)tbl[(v >> 6) & 63];
        *d++ = '=';
    }
    *d++ = '"';
    out->len = (size_t)(d - out->data);
    out->data[out->len] = '\0';
}

/* The shortest %g form that reads back as the same value; ".0" is added to
 * integral values so that the text reads back as a float, not an int. */
static void
s_append_double(cdt_buf_t *out, double v, bool single)
{
    if (!isfinite(v)) {
        cdt_buf_append(out, "null", 4);
        return;
    }
    char tmp[40];
    int prec = single ? 6 : 15, last = single ? 9 : 17;
    for (;; prec++) {
        (void)snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (prec >= last)
            break;
        double back = strtod(tmp, NULL);
        /* The range test keeps the float conversion defined. */
        if (single ? fabs(back) <= FLT_MAX && (float)back == (float)v
                   : back == v)
            break;
    }
    cdt_buf_append_str(out, tmp);
    if (!strpbrk(tmp, ".eE"))
        cdt_buf_append(out, ".0", 2);
}

static int s_write(const msgpack_object *o, cdt_buf_t *out, int depth);

static int
s_write_key(const msgpack_object *k, cdt_buf_t *out, int depth)
{
    if (k->type == MSGPACK_OBJECT_STR) {
        cdt_json_append_string(out, k->via.str.ptr, k->via.str.size);
        return 0;
    }
    cdt_buf_t tmp = CDT_BUF_INIT;
    int rc = s_write(k, &tmp, depth);
    if (rc == 0)
        cdt_json_append_string(out, (const char *)tmp.data, tmp.len);
    cdt_buf_release(&tmp);
    return rc;
}

static int
s_write(const msgpack_object *o, cdt_buf_t *out, int depth)
{
    char num[24];
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
    case MSGPACK_OBJECT_EXT:
        cdt_buf_append(out, "null", 4);
        return 0;
    case MSGPACK_OBJECT_BOOLEAN:
        if (o->via.boolean)
            cdt_buf_append(out, "true", 4);
        else
            cdt_buf_append(out, "false", 5);
        return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: {
        /* Digits backwards: snprintf is slow on the hot path. */
        uint64_t u = o->via.u64;
        char *e = num + sizeof num, *d = e;
        do {
            *--d = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        cdt_buf_append(out, d, (size_t)(e - d));
        return 0;
    }
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: {
        int64_t s = o->via.i64;
        uint64_t u = s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
        char *e = num + sizeof num, *d = e;
        do {
            *--d = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (s < 0)
            *--d = '-';
        cdt_buf_append(out, d, (size_t)(e - d));
        return 0;
    }
    case MSGPACK_OBJECT_FLOAT32:
        s_append_double(out, o->via.f64, true);
        return 0;
    case MSGPACK_OBJECT_FLOAT64:
        s_append_double(out, o->via.f64, false);
        return 0;
    case MSGPACK_OBJECT_STR:
        cdt_json_append_string(out, o->via.str.ptr, o->via.str.size);
        return 0;
    case MSGPACK_OBJECT_BIN:
        s_append_base64(out, (const uint8_t *)o->via.bin.ptr, o->via.bin.size);
        return 0;
    case MSGPACK_OBJECT_ARRAY:
        if (depth >= CDT_JSON_MAX_DEPTH)
            return -1;
        cdt_buf_append_byte(out, '[');
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i)
                cdt_buf_append_byte(out, ',');
            if (s_write(&o->via.array.ptr[i], out, depth + 1) == -1)
                return -1;
        }
        cdt_buf_append_byte(out, ']');
        return 0;
    case MSGPACK_OBJECT_MAP:
        if (depth >= CDT_JSON_MAX_DEPTH)
            return -1;
        cdt_buf_append_byte(out, '{');
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            if (i)
                cdt_buf_append_byte(out, ',');
            if (s_write_key(&kv->key, out, depth + 1) == -1)
                return -1;
            cdt_buf_append_byte(out, ':');
            if (s_write(&kv->val, out, depth + 1) == -1)
                return -1;
        }
        cdt_buf_append_byte(out, '}');
        return 0;
    }
    cdt_buf_append(out, "null", 4);
    return 0;
}

int
cdt_json_from_msgpack(const msgpack_object *obj, cdt_buf_t *out)
{
    size_t entry = out->len;
    if (s_write(obj, out, 0) == -1) {
        out->len = entry;
        if (out->data)
            out->data[entry] = '\0';
        return -1;
    }
    return 0;
}
