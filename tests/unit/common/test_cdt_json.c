/*
 * test_cdt_json - the JSON <-> MessagePack translator.
 *
 * Inputs are copied into heap buffers of exact size and without a NUL, so
 * that ASan reports any read past the text's length.
 *
 * SPDX-License-Identifier: MIT
 */
#include "common/cdt_json.h"

#include "common/cdt_mem.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Suite *cdt_json_suite(void);

/* ---- helpers ------------------------------------------------------------ */

static char s_err[256];

/* Translates len bytes of text (copied to an exact-size buffer). */
static int
s_conv_n(const char *text, size_t len, cdt_buf_t *out, int depth)
{
    char *copy = cdt_xmalloc(len ? len : 1);
    if (len)
        memcpy(copy, text, len);
    s_err[0] = '\0';
    int rc = cdt_json_to_msgpack(copy, len, out, depth, s_err, sizeof s_err);
    free(copy);
    return rc;
}

static int
s_conv(const char *text, cdt_buf_t *out)
{
    return s_conv_n(text, strlen(text), out, CDT_JSON_MAX_DEPTH);
}

static void
s_hex(const cdt_buf_t *b, char *dst, size_t dstlen)
{
    size_t j = 0;
    for (size_t i = 0; i < b->len && j + 3 <= dstlen; i++, j += 2)
        snprintf(dst + j, 3, "%02x", b->data[i]);
    dst[j] = '\0';
}

/* Asserts that text translates to exactly the MessagePack in hex. */
#define ck_json_mp(text, hex)                                                \
    do {                                                                     \
        cdt_buf_t b_ = CDT_BUF_INIT;                                         \
        char h_[512];                                                        \
        ck_assert_msg(s_conv((text), &b_) == 0, "'%s' rejected: %s", (text), \
                      s_err);                                                \
        s_hex(&b_, h_, sizeof h_);                                           \
        ck_assert_str_eq(h_, (hex));                                         \
        cdt_buf_release(&b_);                                                \
    } while (0)

/* Asserts that text is rejected, with an error that contains what. */
#define ck_json_bad(text, what)                                              \
    do {                                                                     \
        cdt_buf_t b_ = CDT_BUF_INIT;                                         \
        ck_assert_msg(s_conv((text), &b_) == -1, "'%s' accepted", (text));   \
        ck_assert_msg(strstr(s_err, (what)) != NULL,                         \
                      "'%s': error '%s' lacks '%s'", (text), s_err, (what)); \
        ck_assert_uint_eq(b_.len, 0);                                        \
        cdt_buf_release(&b_);                                                \
    } while (0)

/* Unpacks a translated text into obj (zone owned by the caller). */
static void
s_unpack(const cdt_buf_t *b, msgpack_zone *z, msgpack_object *obj)
{
    size_t off = 0;
    ck_assert_int_eq(
        msgpack_unpack((const char *)b->data, b->len, &off, z, obj),
        MSGPACK_UNPACK_SUCCESS);
    ck_assert_uint_eq(off, b->len);
}

static double
s_float_of(const char *text)
{
    cdt_buf_t b = CDT_BUF_INIT;
    ck_assert_msg(s_conv(text, &b) == 0, "'%s': %s", text, s_err);
    msgpack_zone z;
    msgpack_zone_init(&z, 256);
    msgpack_object o;
    s_unpack(&b, &z, &o);
    ck_assert_int_eq(o.type, MSGPACK_OBJECT_FLOAT64);
    double v = o.via.f64;
    msgpack_zone_destroy(&z);
    cdt_buf_release(&b);
    return v;
}

/* JSON -> MessagePack -> JSON. Caller frees. */
static char *
s_round(const char *text)
{
    cdt_buf_t b = CDT_BUF_INIT, j = CDT_BUF_INIT;
    ck_assert_msg(s_conv(text, &b) == 0, "'%s': %s", text, s_err);
    msgpack_zone z;
    msgpack_zone_init(&z, 256);
    msgpack_object o;
    s_unpack(&b, &z, &o);
    ck_assert_int_eq(cdt_json_from_msgpack(&o, &j), 0);
    msgpack_zone_destroy(&z);
    cdt_buf_release(&b);
    char *s = cdt_xstrndup((const char *)j.data, j.len);
    cdt_buf_release(&j);
    return s;
}

/* The JSON text of one MessagePack object. Caller frees. */
static char *
s_json_of(const msgpack_object *o)
{
    cdt_buf_t j = CDT_BUF_INIT;
    ck_assert_int_eq(cdt_json_from_msgpack(o, &j), 0);
    char *s = cdt_xstrndup(j.data ? (const char *)j.data : "", j.len);
    cdt_buf_release(&j);
    return s;
}

#define ck_obj_json(obj, expect)        \
    do {                                \
        char *s_ = s_json_of(&(obj));   \
        ck_assert_str_eq(s_, (expect)); \
        free(s_);                       \
    } while (0)

/* ---- scalars and numbers ------------------------------------------------ */

START_TEST(test_json_literals)
{
    ck_json_mp("null", "c0");
    ck_json_mp("true", "c3");
    ck_json_mp("false", "c2");
    ck_json_bad("nul", "invalid literal");
    ck_json_bad("tru", "invalid literal");
    ck_json_bad("nulll", "trailing");
    ck_json_bad("True", "unexpected character 'T'");
    ck_json_bad("NULL", "unexpected");
}
END_TEST

START_TEST(test_json_integers_are_canonical_ints)
{
    ck_json_mp("0", "00");
    ck_json_mp("-0", "00");
    ck_json_mp("127", "7f");
    ck_json_mp("128", "cc80");
    ck_json_mp("255", "ccff");
    ck_json_mp("256", "cd0100");
    ck_json_mp("65536", "ce00010000");
    ck_json_mp("4294967296", "cf0000000100000000");
    ck_json_mp("-1", "ff");
    ck_json_mp("-32", "e0");
    ck_json_mp("-33", "d0df");
    ck_json_mp("-129", "d1ff7f");
    ck_json_mp("-2147483649", "d3ffffffff7fffffff");
}
END_TEST

START_TEST(test_json_int64_and_uint64_limits)
{
    ck_json_mp("9223372036854775807", "cf7fffffffffffffff");
    ck_json_mp("-9223372036854775808", "d38000000000000000");
    ck_json_mp("18446744073709551615", "cfffffffffffffffff");
    /* One past each limit is no longer an integer: it becomes a float. */
    ck_assert(s_float_of("18446744073709551616") == 18446744073709551616.0);
    ck_assert(s_float_of("-9223372036854775809") == -9223372036854775809.0);
    ck_assert(s_float_of("123456789012345678901234567890") ==
              123456789012345678901234567890.0);
}
END_TEST

START_TEST(test_json_floats)
{
    ck_assert(s_float_of("1.5") == 1.5);
    ck_assert(s_float_of("-0.25") == -0.25);
    ck_assert(s_float_of("1e2") == 100.0);
    ck_assert(s_float_of("1E+2") == 100.0);
    ck_assert(s_float_of("1e-2") == 0.01);
    ck_assert(s_float_of("0.1") == 0.1);
    ck_assert(s_float_of("1.0") == 1.0);
    ck_assert(s_float_of("2.2250738585072014e-308") == 2.2250738585072014e-308);
    ck_assert(s_float_of("1.7976931348623157e308") == 1.7976931348623157e308);
    double nz = s_float_of("-0.0");
    ck_assert(nz == 0.0 && signbit(nz));
    /* Underflow is not an error: the value is just very small. */
    ck_assert(s_float_of("1e-999") == 0.0);
    ck_json_mp("1.5", "cb3ff8000000000000");
}
END_TEST

START_TEST(test_json_number_overflow_is_error)
{
    ck_json_bad("1e999", "out of range");
    ck_json_bad("-1e999", "out of range");
    ck_json_bad("1.8e308", "out of range");
    ck_json_bad("[1, 2e400]", "out of range at byte 4");
    /* 1 followed by 400 zeros: too long for the stack copy, and too big. */
    char big[402];
    big[0] = '1';
    memset(big + 1, '0', 400);
    big[401] = '\0';
    ck_json_bad(big, "out of range");
    /* A long number that fits is fine (it too goes through the heap). */
    char longer[404] = "1.5";
    memset(longer + 3, '0', 400);
    longer[403] = '\0';
    ck_assert(s_float_of(longer) == 1.5);
}
END_TEST

START_TEST(test_json_number_grammar_is_strict)
{
    static const char *const bad[] = {
        "01",  "-01", "00",    "-",     "+1",  ".5",   "1.",  "1.e2",
        "1e",  "1e+", "1e-",   "0x10",  "NaN", "-NaN", "Inf", "Infinity",
        "--1", "1-",  "1.2.3", "1e2e3", "- 1", "1 .5", "١",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cdt_buf_t b = CDT_BUF_INIT;
        ck_assert_msg(s_conv(bad[i], &b) == -1, "'%s' accepted", bad[i]);
        ck_assert_uint_eq(b.len, 0);
        cdt_buf_release(&b);
    }
}
END_TEST

/* ---- strings ------------------------------------------------------------ */

START_TEST(test_json_string_escapes)
{
    ck_json_mp("\"\"", "a0");
    ck_json_mp("\"abc\"", "a3616263");
    ck_json_mp("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "a8225c2f080c0a0d09");
    ck_json_mp("\"\\u0041\\u00e9\\u20AC\"", "a641c3a9e282ac");
    ck_json_mp("\"\\u0000\"", "a100");
    ck_json_mp("\"a\\u0000b\"", "a36100"
                                "62");
    ck_json_mp("\"\x7f\"", "a17f");
}
END_TEST

START_TEST(test_json_string_surrogates)
{
    ck_json_mp("\"\\ud83d\\ude00\"", "a4f09f9880");
    ck_json_mp("\"\\uD800\\uDC00\"", "a4f0908080");
    ck_json_mp("\"\\udbff\\udfff\"", "a4f48fbfbf");
    ck_json_bad("\"\\ud83d\"", "unpaired surrogate");
    ck_json_bad("\"\\ude00\"", "unpaired surrogate");
    ck_json_bad("\"\\ud83dx\"", "unpaired surrogate");
    ck_json_bad("\"\\ud83d\\u0041\"", "unpaired surrogate");
    ck_json_bad("\"\\ud83d\\ud83d\"", "unpaired surrogate");
    ck_json_bad("\"\\ude00\\ud83d\"", "unpaired surrogate");
    ck_json_bad("\"\\ud83d\\n\"", "unpaired surrogate");
    ck_json_bad("\"\\ud83d\\ude0\"", "unpaired surrogate");
}
END_TEST

START_TEST(test_json_string_bad_escapes)
{
    ck_json_bad("\"\\x\"", "invalid escape at byte 1");
    ck_json_bad("\"\\U0041\"", "invalid escape");
    ck_json_bad("\"\\u12\"", "invalid escape");
    ck_json_bad("\"\\u12g4\"", "invalid escape");
    ck_json_bad("\"\\'\"", "invalid escape");
    ck_json_bad("\"\\\"", "unterminated string");
    ck_json_bad("\"abc", "unterminated string");
    ck_json_bad("\"\\", "unterminated string");
    ck_json_bad("\"\\u00", "unterminated string");
}
END_TEST

START_TEST(test_json_string_control_characters_rejected)
{
    ck_json_bad("\"a\nb\"", "control character in string at byte 2");
    ck_json_bad("\"\t\"", "control character");
    ck_json_bad("\"\x1f\"", "control character");
    /* A raw NUL inside a string, passed with an explicit length. */
    cdt_buf_t b = CDT_BUF_INIT;
    ck_assert_int_eq(s_conv_n("\"a\0b\"", 5, &b, 8), -1);
    ck_assert_ptr_nonnull(strstr(s_err, "control character"));
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_json_string_valid_utf8)
{
    ck_json_mp("\"\xc3\xa9\"", "a2c3a9");
    ck_json_mp("\"\xe2\x82\xac\"", "a3e282ac");
    ck_json_mp("\"\xf0\x9f\x98\x80\"", "a4f09f9880");
    ck_json_mp("\"\xef\xbf\xbf\"", "a3efbfbf");
    ck_json_mp("\"\xf4\x8f\xbf\xbf\"", "a4f48fbfbf");
    ck_json_mp("\"\xed\x9f\xbf\"", "a3ed9fbf");
    ck_json_mp("\"\xee\x80\x80\"", "a3ee8080");
}
END_TEST

START_TEST(test_json_string_invalid_utf8)
{
    static const char *const bad[] = {
        "\"\x80\"",             /* lone continuation */
        "\"\xbf\"",             /* lone continuation */
        "\"\xc0\xaf\"",         /* overlong '/' */
        "\"\xc1\xbf\"",         /* overlong */
        "\"\xe0\x80\xaf\"",     /* overlong 3-byte */
        "\"\xe0\x9f\xbf\"",     /* overlong 3-byte */
        "\"\xf0\x80\x80\xaf\"", /* overlong 4-byte */
        "\"\xf0\x8f\xbf\xbf\"", /* overlong 4-byte */
        "\"\xed\xa0\x80\"",     /* U+D800 */
        "\"\xed\xbf\xbf\"",     /* U+DFFF */
        "\"\xf4\x90\x80\x80\"", /* U+110000 */
        "\"\xf5\x80\x80\x80\"", /* F5 */
        "\"\xff\"",             /* FF */
        "\"\xfe\"",             /* FE */
        "\"\xc3\"",             /* truncated before the quote */
        "\"\xe2\x82\"",         /* truncated */
        "\"\xf0\x9f\x98\"",     /* truncated */
        "\"\xc3\x28\"",         /* bad continuation */
        "\"\xe2\x28\xa1\"",     /* bad continuation */
        "\"\xf0\x9f\x28\x80\"", /* bad continuation */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cdt_buf_t b = CDT_BUF_INIT;
        ck_assert_msg(s_conv(bad[i], &b) == -1, "case %zu accepted", i);
        ck_assert_msg(strstr(s_err, "invalid UTF-8 at byte 1"), "case %zu: %s",
                      i, s_err);
        cdt_buf_release(&b);
    }
    /* A multi-byte sequence cut by the end of the text itself. */
    cdt_buf_t b = CDT_BUF_INIT;
    ck_assert_int_eq(s_conv_n("\"\xe2\x82", 3, &b, 8), -1);
    ck_assert_int_eq(s_conv_n("\"\xf0\x9f\x98", 4, &b, 8), -1);
    cdt_buf_release(&b);
    /* Non-ASCII outside a string is just an unexpected byte. */
    ck_json_bad("\xc3\xa9", "unexpected byte 0xc3 at byte 0");
    /* A BOM is not allowed. */
    ck_json_bad("\xef\xbb\xbf{}", "unexpected byte 0xef");
}
END_TEST

START_TEST(test_utf8_valid)
{
    ck_assert(cdt_utf8_valid("", 0));
    ck_assert(cdt_utf8_valid("plain ascii", 11));
    ck_assert(cdt_utf8_valid("\x00", 1));
    ck_assert(cdt_utf8_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15));
    ck_assert(!cdt_utf8_valid("\x80", 1));
    ck_assert(!cdt_utf8_valid("\xc0\x80", 2));
    ck_assert(!cdt_utf8_valid("\xed\xa0\x80", 3));
    ck_assert(!cdt_utf8_valid("\xf4\x90\x80\x80", 4));
    ck_assert(!cdt_utf8_valid("\xf8\x88\x80\x80\x80", 5));
    /* Every cut through a multi-byte sequence is invalid; exact-size heap
     * copies make ASan catch a look past the end. */
    const char *seq = "\xf0\x9f\x98\x80";
    for (size_t n = 1; n < 4; n++) {
        char *cut = cdt_xmalloc(n);
        memcpy(cut, seq, n);
        ck_assert(!cdt_utf8_valid(cut, n));
        free(cut);
    }
    char *whole = cdt_xmalloc(4);
    memcpy(whole, seq, 4);
    ck_assert(cdt_utf8_valid(whole, 4));
    free(whole);
}
END_TEST

START_TEST(test_json_string_header_sizes)
{
    /* 31 -> fixstr, 32 -> str8, 256 -> str16, 65536 -> str32, with and
     * without an escape (the escaped path builds its header afterwards). */
    static const size_t lens[] = {31, 32, 255, 256, 65535, 65536};
    static const char *const hdr[] = {"bf",     "d920",   "d9ff",
                                      "da0100", "daffff", "db00010000"};
    for (int esc = 0; esc < 2; esc++) {
        for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
            size_t n = lens[k];
            size_t tlen = n + 2 + (esc ? 1 : 0);
            char *t = cdt_xmalloc(tlen);
            t[0] = '"';
            memset(t + 1, 'x', n);
            if (esc) {
                t[1] = '\\';
                t[2] = 'n';
                memset(t + 3, 'x', n - 1);
            }
            t[tlen - 1] = '"';
            cdt_buf_t b = CDT_BUF_INIT;
            ck_assert_int_eq(s_conv_n(t, tlen, &b, 8), 0);
            char h[16];
            cdt_buf_t head = {b.data, strlen(hdr[k]) / 2, 0};
            s_hex(&head, h, sizeof h);
            ck_assert_str_eq(h, hdr[k]);
            ck_assert_uint_eq(b.len, strlen(hdr[k]) / 2 + n);
            ck_assert_int_eq(b.data[b.len - 1], 'x');
            if (esc)
                ck_assert_int_eq(b.data[strlen(hdr[k]) / 2], '\n');
            cdt_buf_release(&b);
            free(t);
        }
    }
}
END_TEST

/* ---- structure ---------------------------------------------------------- */

START_TEST(test_json_arrays_and_objects)
{
    ck_json_mp("[]", "90");
    ck_json_mp("{}", "80");
    ck_json_mp("[1,2,3]", "93010203");
    ck_json_mp("{\"a\":1}", "81a16101");
    ck_json_mp("[[],{}]", "929080");
    ck_json_mp("{\"a\":[true,null],\"b\":{\"c\":\"d\"}}",
               "82a16192c3c0a16281a163a164");
    ck_json_mp("[\"\\n\",{\"\\u0041\":-1}]", "92a10a81a141ff");
}
END_TEST

START_TEST(test_json_duplicate_keys_kept)
{
    ck_json_mp("{\"a\":1,\"a\":2}", "82a16101a16102");
}
END_TEST

START_TEST(test_json_whitespace)
{
    ck_json_mp(" \t\n\r[ 1 ,\n2 ]\r\n ", "920102");
    ck_json_mp("{ \"a\" : 1 }", "81a16101");
    ck_json_bad("\f1", "unexpected byte 0x0c");
    ck_json_bad("\v1", "unexpected byte 0x0b");
    ck_json_bad("\xc2\xa0"
                "1",
                "unexpected byte 0xc2");
    ck_json_bad("[1\f]", "unexpected byte 0x0c");
}
END_TEST

START_TEST(test_json_trailing_commas_rejected)
{
    ck_json_bad("[1,]", "unexpected character ']' at byte 3");
    ck_json_bad("{\"a\":1,}", "unexpected character '}'");
    ck_json_bad("[,1]", "unexpected character ','");
    ck_json_bad("[1,,2]", "unexpected character ','");
    ck_json_bad("{,}", "unexpected character ','");
    ck_json_bad("[1 2]", "unexpected character '2'");
    ck_json_bad("{\"a\" 1}", "unexpected character '1'");
    ck_json_bad("{\"a\":}", "unexpected character '}'");
    ck_json_bad("{\"a\"}", "unexpected character '}'");
    ck_json_bad("{1:2}", "unexpected character '1'");
    ck_json_bad("{a:1}", "unexpected character 'a'");
    ck_json_bad("{'a':1}", "unexpected character");
    ck_json_bad("[1}", "unexpected character '}'");
    ck_json_bad("{\"a\":1]", "unexpected character ']'");
}
END_TEST

START_TEST(test_json_empty_and_trailing_input_rejected)
{
    ck_json_bad("", "empty input");
    ck_json_bad("   \n\t", "empty input");
    ck_json_bad("1 2", "trailing characters at byte 2");
    ck_json_bad("[] x", "trailing characters at byte 3");
    ck_json_bad("{}}", "trailing characters");
    ck_json_bad("\"a\"\"b\"", "trailing characters");
    ck_json_bad("/* c */ 1", "unexpected character '/'");
    ck_json_bad("[1] // c", "trailing characters");
    cdt_buf_t b = CDT_BUF_INIT;
    ck_assert_int_eq(s_conv_n("[1]\0", 4, &b, 8), -1);
    ck_assert_ptr_nonnull(strstr(s_err, "trailing"));
    ck_assert_int_eq(cdt_json_to_msgpack(NULL, 0, &b, 8, s_err, sizeof s_err),
                     -1);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_json_unterminated_containers)
{
    ck_json_bad("[", "unexpected end of input");
    ck_json_bad("[1", "unexpected end of input");
    ck_json_bad("[1,", "unexpected end of input");
    ck_json_bad("{", "unexpected end of input");
    ck_json_bad("{\"a\"", "unexpected end of input");
    ck_json_bad("{\"a\":", "unexpected end of input");
    ck_json_bad("{\"a\":1", "unexpected end of input");
    ck_json_bad("]", "unexpected character ']'");
    ck_json_bad("}", "unexpected character '}'");
}
END_TEST

/* Builds n elements "[0,1,...]" or {"k0":0,...} and checks the header. */
static void
s_check_container(size_t n, bool object, const char *hdr)
{
    cdt_buf_t t = CDT_BUF_INIT;
    cdt_buf_append_byte(&t, object ? '{' : '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            cdt_buf_append_byte(&t, ',');
        if (object)
            cdt_buf_printf(&t, "\"k%zu\":%zu", i, i % 100);
        else
            cdt_buf_printf(&t, "%zu", i % 100);
    }
    cdt_buf_append_byte(&t, object ? '}' : ']');
    cdt_buf_t b = CDT_BUF_INIT;
    ck_assert_int_eq(s_conv_n((const char *)t.data, t.len, &b, 4), 0);
    char h[16];
    cdt_buf_t head = {b.data, strlen(hdr) / 2, 0};
    s_hex(&head, h, sizeof h);
    ck_assert_str_eq(h, hdr);
    msgpack_zone z;
    msgpack_zone_init(&z, 4096);
    msgpack_object o;
    s_unpack(&b, &z, &o);
    if (object) {
        ck_assert_int_eq(o.type, MSGPACK_OBJECT_MAP);
        ck_assert_uint_eq(o.via.map.size, n);
        if (n) {
            msgpack_object last = o.via.map.ptr[n - 1].val;
            ck_assert_uint_eq(last.via.u64, (n - 1) % 100);
        }
    } else {
        ck_assert_int_eq(o.type, MSGPACK_OBJECT_ARRAY);
        ck_assert_uint_eq(o.via.array.size, n);
        for (size_t i = 0; i < n; i++)
            ck_assert_uint_eq(o.via.array.ptr[i].via.u64, i % 100);
    }
    msgpack_zone_destroy(&z);
    cdt_buf_release(&b);
    cdt_buf_release(&t);
}

START_TEST(test_json_container_header_sizes)
{
    s_check_container(15, false, "9f");
    s_check_container(16, false, "dc0010");
    s_check_container(65535, false, "dcffff");
    s_check_container(65536, false, "dd00010000");
    s_check_container(15, true, "8f");
    s_check_container(16, true, "de0010");
    s_check_container(70000, true, "df00011170");
}
END_TEST

START_TEST(test_json_nested_large_containers)
{
    /* Headers are fixed up at several levels, inner ones first. */
    const char *text = "{\"a\":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16],"
                       "\"b\":[[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15],7],"
                       "\"c\":1,\"d\":2,\"e\":3,\"f\":4,\"g\":5,\"h\":6,"
                       "\"i\":7,\"j\":8,\"k\":9,\"l\":10,\"m\":11,\"n\":12,"
                       "\"o\":13,\"p\":14}";
    char *back = s_round(text);
    ck_assert_str_eq(back, text);
    free(back);
}
END_TEST

static char *
s_nested(int depth, bool objects)
{
    cdt_buf_t t = CDT_BUF_INIT;
    for (int i = 0; i < depth; i++)
        cdt_buf_append_str(&t, objects ? "{\"k\":" : "[");
    cdt_buf_append_str(&t, "1");
    for (int i = 0; i < depth; i++)
        cdt_buf_append_str(&t, objects ? "}" : "]");
    return (char *)cdt_buf_detach(&t, NULL);
}

START_TEST(test_json_depth_limit)
{
    for (int objects = 0; objects < 2; objects++) {
        char *at = s_nested(CDT_JSON_MAX_DEPTH, objects);
        char *past = s_nested(CDT_JSON_MAX_DEPTH + 1, objects);
        cdt_buf_t b = CDT_BUF_INIT;
        ck_assert_int_eq(s_conv(at, &b), 0);
        cdt_buf_reset(&b);
        ck_assert_int_eq(s_conv(past, &b), -1);
        ck_assert_str_eq(s_err, "nesting deeper than 64");
        ck_assert_uint_eq(b.len, 0);
        /* 0 means the default. */
        ck_assert_int_eq(s_conv_n(at, strlen(at), &b, 0), 0);
        cdt_buf_reset(&b);
        ck_assert_int_eq(s_conv_n(past, strlen(past), &b, 0), -1);
        cdt_buf_release(&b);
        free(at);
        free(past);
    }
}
END_TEST

START_TEST(test_json_depth_one_is_flat)
{
    cdt_buf_t b = CDT_BUF_INIT;
    ck_assert_int_eq(s_conv_n("1", 1, &b, 1), 0);
    ck_assert_int_eq(s_conv_n("[1,2]", 5, &b, 1), 0);
    ck_assert_int_eq(s_conv_n("{\"a\":1}", 7, &b, 1), 0);
    ck_assert_int_eq(s_conv_n("[[]]", 4, &b, 1), -1);
    ck_assert_str_eq(s_err, "nesting deeper than 1");
    ck_assert_int_eq(s_conv_n("[1,{}]", 6, &b, 1), -1);
    ck_assert_int_eq(s_conv_n("[[1],[2]]", 9, &b, 2), 0);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_json_depth_above_default)
{
    /* A limit above CDT_JSON_MAX_DEPTH uses a heap stack. */
    char *at = s_nested(200, false);
    char *past = s_nested(201, true);
    cdt_buf_t b = CDT_BUF_INIT;
    ck_assert_int_eq(s_conv_n(at, strlen(at), &b, 200), 0);
    ck_assert_uint_eq(b.len, 201);
    cdt_buf_reset(&b);
    ck_assert_int_eq(s_conv_n(past, strlen(past), &b, 200), -1);
    ck_assert_str_eq(s_err, "nesting deeper than 200");
    cdt_buf_release(&b);
    free(at);
    free(past);
}
END_TEST

START_TEST(test_json_error_restores_out)
{
    cdt_buf_t b = CDT_BUF_INIT;
    cdt_buf_append_str(&b, "abc");
    ck_assert_int_eq(s_conv("[1,2,{\"a\":\"long enough string\",}]", &b), -1);
    ck_assert_uint_eq(b.len, 3);
    ck_assert_str_eq((char *)b.data, "abc");
    ck_assert_int_eq(s_conv("[1]", &b), 0);
    ck_assert_uint_eq(b.len, 5);
    ck_assert_int_eq(memcmp(b.data, "abc\x91\x01", 5), 0);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_json_error_without_err_buffer)
{
    cdt_buf_t b = CDT_BUF_INIT;
    ck_assert_int_eq(cdt_json_to_msgpack("[", 1, &b, 8, NULL, 0), -1);
    ck_assert_int_eq(cdt_json_to_msgpack("[1]", 3, &b, 8, NULL, 0), 0);
    char tiny[4];
    ck_assert_int_eq(cdt_json_to_msgpack("x", 1, &b, 8, tiny, sizeof tiny), -1);
    ck_assert_uint_eq(strlen(tiny), 3);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_json_every_truncation_rejected)
{
    const char *doc = "{\"type\":1,\"target\":\"T\\u00e9\\ud83d\\ude00\","
                      "\"arguments\":[{\"a\":[1,-2.5e3,true,false,null]},"
                      "\"\xc3\xa9\",18446744073709551615]}";
    size_t n = strlen(doc);
    for (size_t len = 0; len < n; len++) {
        cdt_buf_t b = CDT_BUF_INIT;
        ck_assert_msg(s_conv_n(doc, len, &b, 8) == -1, "cut %zu accepted", len);
        ck_assert_uint_eq(b.len, 0);
        cdt_buf_release(&b);
    }
    cdt_buf_t b = CDT_BUF_INIT;
    ck_assert_int_eq(s_conv_n(doc, n, &b, 8), 0);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_json_trailing_garbage_rejected)
{
    const char *doc = "{\"a\":[1,2]}";
    static const char *const garbage[] = {"x", "1",    "{}",  ",",
                                          "]", "\x00", "\xff"};
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        char t[32];
        size_t n = strlen(doc);
        memcpy(t, doc, n);
        size_t g = garbage[i][0] ? strlen(garbage[i]) : 1;
        memcpy(t + n, garbage[i], g);
        cdt_buf_t b = CDT_BUF_INIT;
        ck_assert_int_eq(s_conv_n(t, n + g, &b, 8), -1);
        cdt_buf_release(&b);
    }
}
END_TEST

/* ---- MessagePack -> JSON ------------------------------------------------ */

START_TEST(test_json_from_scalars)
{
    msgpack_object o;
    memset(&o, 0, sizeof o);
    o.type = MSGPACK_OBJECT_NIL;
    ck_obj_json(o, "null");
    o.type = MSGPACK_OBJECT_BOOLEAN;
    o.via.boolean = true;
    ck_obj_json(o, "true");
    o.via.boolean = false;
    ck_obj_json(o, "false");
    o.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    o.via.u64 = 0;
    ck_obj_json(o, "0");
    o.via.u64 = UINT64_MAX;
    ck_obj_json(o, "18446744073709551615");
    o.type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
    o.via.i64 = -1;
    ck_obj_json(o, "-1");
    o.via.i64 = INT64_MIN;
    ck_obj_json(o, "-9223372036854775808");
    o.type = MSGPACK_OBJECT_EXT;
    o.via.ext.type = 1;
    o.via.ext.size = 0;
    ck_obj_json(o, "null");
}
END_TEST

START_TEST(test_json_from_floats)
{
    msgpack_object o;
    memset(&o, 0, sizeof o);
    o.type = MSGPACK_OBJECT_FLOAT64;
    o.via.f64 = 1.5;
    ck_obj_json(o, "1.5");
    o.via.f64 = 0.1;
    ck_obj_json(o, "0.1");
    o.via.f64 = 1.0;
    ck_obj_json(o, "1.0");
    o.via.f64 = -0.0;
    ck_obj_json(o, "-0.0");
    o.via.f64 = 1e300;
    ck_obj_json(o, "1e+300");
    o.via.f64 = 0.1 + 0.2;
    ck_obj_json(o, "0.30000000000000004");
    o.via.f64 = NAN;
    ck_obj_json(o, "null");
    o.via.f64 = INFINITY;
    ck_obj_json(o, "null");
    o.via.f64 = -INFINITY;
    ck_obj_json(o, "null");
    o.type = MSGPACK_OBJECT_FLOAT32;
    o.via.f64 = (double)0.1f;
    ck_obj_json(o, "0.1");
    o.via.f64 = (double)3.0f;
    ck_obj_json(o, "3.0");
}
END_TEST

START_TEST(test_json_floats_round_trip_exactly)
{
    static const double vals[] = {0.1,    1.0 / 3,    2.0 / 3,
                                  1e-7,   123456.789, 1.7976931348623157e308,
                                  5e-324, -2.5e-10};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        msgpack_object o;
        memset(&o, 0, sizeof o);
        o.type = MSGPACK_OBJECT_FLOAT64;
        o.via.f64 = vals[i];
        char *s = s_json_of(&o);
        ck_assert(s_float_of(s) == vals[i]);
        free(s);
    }
}
END_TEST

START_TEST(test_json_from_strings)
{
    msgpack_object o;
    memset(&o, 0, sizeof o);
    o.type = MSGPACK_OBJECT_STR;
    o.via.str.ptr = "a\"b\\c\n\r\t\b\f\x01\x1f\x7f/";
    o.via.str.size = (uint32_t)strlen(o.via.str.ptr);
    ck_obj_json(o, "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\x7f/\"");
    o.via.str.ptr = "\0";
    o.via.str.size = 1;
    ck_obj_json(o, "\"\\u0000\"");
    o.via.str.ptr = NULL;
    o.via.str.size = 0;
    ck_obj_json(o, "\"\"");
    o.via.str.ptr = "\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80";
    o.via.str.size = 9;
    ck_obj_json(o, "\"\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80\"");
}
END_TEST

START_TEST(test_json_from_invalid_utf8_replaced)
{
    msgpack_object o;
    memset(&o, 0, sizeof o);
    o.type = MSGPACK_OBJECT_STR;
    o.via.str.ptr = "a\xff"
                    "b\xc3";
    o.via.str.size = 4;
    ck_obj_json(o, "\"a\xef\xbf\xbd"
                   "b\xef\xbf\xbd\"");
    o.via.str.ptr = "\xed\xa0\x80";
    o.via.str.size = 3;
    ck_obj_json(o, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    /* The output is always valid UTF-8. */
    char *s = s_json_of(&o);
    ck_assert(cdt_utf8_valid(s, strlen(s)));
    free(s);
}
END_TEST

START_TEST(test_json_from_bin_is_base64)
{
    static const char *const in[] = {"",     "f",     "fo",    "foo",
                                     "foob", "fooba", "foobar"};
    static const char *const out[] = {
        "\"\"",         "\"Zg==\"",     "\"Zm8=\"",    "\"Zm9v\"",
        "\"Zm9vYg==\"", "\"Zm9vYmE=\"", "\"Zm9vYmFy\""};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        msgpack_object o;
        memset(&o, 0, sizeof o);
        o.type = MSGPACK_OBJECT_BIN;
        o.via.bin.ptr = in[i];
        o.via.bin.size = (uint32_t)strlen(in[i]);
        ck_obj_json(o, out[i]);
    }
    msgpack_object o;
    memset(&o, 0, sizeof o);
    o.type = MSGPACK_OBJECT_BIN;
    o.via.bin.ptr = "\xff\xfe\x00";
    o.via.bin.size = 3;
    ck_obj_json(o, "\"//4A\"");
}
END_TEST

START_TEST(test_json_from_map_with_non_string_keys)
{
    msgpack_object k[3], v[3];
    msgpack_object_kv kv[3];
    memset(k, 0, sizeof k);
    memset(v, 0, sizeof v);
    k[0].type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    k[0].via.u64 = 1;
    k[1].type = MSGPACK_OBJECT_NIL;
    k[2].type = MSGPACK_OBJECT_STR;
    k[2].via.str.ptr = "s";
    k[2].via.str.size = 1;
    for (int i = 0; i < 3; i++) {
        v[i].type = MSGPACK_OBJECT_BOOLEAN;
        v[i].via.boolean = i == 0;
        kv[i].key = k[i];
        kv[i].val = v[i];
    }
    msgpack_object m;
    memset(&m, 0, sizeof m);
    m.type = MSGPACK_OBJECT_MAP;
    m.via.map.ptr = kv;
    m.via.map.size = 3;
    ck_obj_json(m, "{\"1\":true,\"null\":false,\"s\":false}");
    /* A string-keyed array key is escaped as text inside the string. */
    msgpack_object arr;
    memset(&arr, 0, sizeof arr);
    arr.type = MSGPACK_OBJECT_ARRAY;
    arr.via.array.ptr = &k[2];
    arr.via.array.size = 1;
    kv[0].key = arr;
    m.via.map.size = 1;
    ck_obj_json(m, "{\"[\\\"s\\\"]\":true}");
}
END_TEST

START_TEST(test_json_from_msgpack_depth_limit)
{
    /* Built by hand: msgpack_unpack itself stops at 32 levels. */
    enum {
        N = CDT_JSON_MAX_DEPTH + 1
    };
    msgpack_object o[N + 1];
    memset(o, 0, sizeof o);
    for (int i = 0; i < N; i++) {
        o[i].type = MSGPACK_OBJECT_ARRAY;
        o[i].via.array.ptr = &o[i + 1];
        o[i].via.array.size = 1;
    }
    o[N].type = MSGPACK_OBJECT_NIL;
    cdt_buf_t b = CDT_BUF_INIT;
    cdt_buf_append_str(&b, "xy");
    ck_assert_int_eq(cdt_json_from_msgpack(&o[0], &b), -1);
    ck_assert_uint_eq(b.len, 2);
    ck_assert_str_eq((char *)b.data, "xy");
    ck_assert_int_eq(cdt_json_from_msgpack(&o[1], &b), 0);
    ck_assert_uint_eq(b.len, 2 + 64 * 2 + 4);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_json_round_trip)
{
    static const char *const docs[] = {
        ("{\"type\":1,\"target\":\"TaskProgress\",\"arguments\":[{\"taskId\":"
         "\"t-1\",\"percent\":42.5,\"done\":false,\"meta\":null}]}"),
        "[-9223372036854775808,18446744073709551615,0.5,-0.0,1e+300]",
        "\"\\u0000\\u001f\\\"\\\\\xc3\xa9\xf0\x9f\x98\x80\"",
        "{\"a\":{\"b\":{\"c\":[[],{},\"\"]}}}",
        "{\"a\":1,\"a\":2}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        char *back = s_round(docs[i]);
        ck_assert_str_eq(back, docs[i]);
        free(back);
    }
    /* Escapes that the writer does not use are normalised. */
    char *back = s_round("[\"\\/\\u0041\\ud83d\\ude00\"]");
    ck_assert_str_eq(back, "[\"/A\xf0\x9f\x98\x80\"]");
    free(back);
}
END_TEST

START_TEST(test_json_append_string_all_controls)
{
    cdt_buf_t b = CDT_BUF_INIT;
    char in[32];
    for (int i = 0; i < 32; i++)
        in[i] = (char)i;
    cdt_json_append_string(&b, in, 32);
    ck_assert_str_eq((char *)b.data,
                     "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006"
                     "\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f\\u0010"
                     "\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017"
                     "\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e"
                     "\\u001f\"");
    /* Whatever it writes parses back to the same bytes. */
    cdt_buf_t mp = CDT_BUF_INIT;
    ck_assert_int_eq(s_conv_n((char *)b.data, b.len, &mp, 1), 0);
    ck_assert_uint_eq(mp.len, 34); /* str8 header: d9 20 */
    ck_assert_int_eq(memcmp(mp.data + 2, in, 32), 0);
    cdt_buf_release(&mp);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_json_append_string_appends)
{
    cdt_buf_t b = CDT_BUF_INIT;
    cdt_buf_append_str(&b, "x=");
    cdt_json_append_string(&b, "it's \"q\"", 8);
    ck_assert_str_eq((char *)b.data, "x=\"it's \\\"q\\\"\"");
    cdt_buf_reset(&b);
    cdt_json_append_string(&b, NULL, 0);
    ck_assert_str_eq((char *)b.data, "\"\"");
    /* Long runs are copied intact across buffer growth. */
    cdt_buf_reset(&b);
    char *big = cdt_xmalloc(10000);
    memset(big, 'a', 10000);
    big[5000] = '\n';
    cdt_json_append_string(&b, big, 10000);
    ck_assert_uint_eq(b.len, 10003);
    ck_assert_int_eq(b.data[5001], '\\');
    ck_assert_int_eq(b.data[5002], 'n');
    free(big);
    cdt_buf_release(&b);
}
END_TEST

Suite *
cdt_json_suite(void)
{
    Suite *s = suite_create("cdt_json");
    TCase *tc = tcase_create("to_msgpack");
    tcase_add_test(tc, test_json_literals);
    tcase_add_test(tc, test_json_integers_are_canonical_ints);
    tcase_add_test(tc, test_json_int64_and_uint64_limits);
    tcase_add_test(tc, test_json_floats);
    tcase_add_test(tc, test_json_number_overflow_is_error);
    tcase_add_test(tc, test_json_number_grammar_is_strict);
    tcase_add_test(tc, test_json_string_escapes);
    tcase_add_test(tc, test_json_string_surrogates);
    tcase_add_test(tc, test_json_string_bad_escapes);
    tcase_add_test(tc, test_json_string_control_characters_rejected);
    tcase_add_test(tc, test_json_string_valid_utf8);
    tcase_add_test(tc, test_json_string_invalid_utf8);
    tcase_add_test(tc, test_json_string_header_sizes);
    tcase_add_test(tc, test_json_arrays_and_objects);
    tcase_add_test(tc, test_json_duplicate_keys_kept);
    tcase_add_test(tc, test_json_whitespace);
    tcase_add_test(tc, test_json_trailing_commas_rejected);
    tcase_add_test(tc, test_json_empty_and_trailing_input_rejected);
    tcase_add_test(tc, test_json_unterminated_containers);
    tcase_add_test(tc, test_json_error_restores_out);
    tcase_add_test(tc, test_json_error_without_err_buffer);
    tcase_add_test(tc, test_json_every_truncation_rejected);
    tcase_add_test(tc, test_json_trailing_garbage_rejected);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_json_container_header_sizes);
    tcase_add_test(tc, test_json_nested_large_containers);
    tcase_add_test(tc, test_json_depth_limit);
    tcase_add_test(tc, test_json_depth_one_is_flat);
    tcase_add_test(tc, test_json_depth_above_default);
    suite_add_tcase(s, tc);

    tc = tcase_create("utf8");
    tcase_add_test(tc, test_utf8_valid);
    suite_add_tcase(s, tc);

    tc = tcase_create("from_msgpack");
    tcase_add_test(tc, test_json_from_scalars);
    tcase_add_test(tc, test_json_from_floats);
    tcase_add_test(tc, test_json_floats_round_trip_exactly);
    tcase_add_test(tc, test_json_from_strings);
    tcase_add_test(tc, test_json_from_invalid_utf8_replaced);
    tcase_add_test(tc, test_json_from_bin_is_base64);
    tcase_add_test(tc, test_json_from_map_with_non_string_keys);
    tcase_add_test(tc, test_json_from_msgpack_depth_limit);
    tcase_add_test(tc, test_json_round_trip);
    tcase_add_test(tc, test_json_append_string_all_controls);
    tcase_add_test(tc, test_json_append_string_appends);
    suite_add_tcase(s, tc);
    return s;
}
