/*
 * test_cdt_msgpack - the bounds check that runs before msgpack_unpack, and
 * the depth-bounded skip that walks the same way.
 *
 * SPDX-License-Identifier: MIT
 */
#include "common/cdt_msgpack.h"

#include "common/cdt_buf.h"
#include "common/cdt_mem.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

Suite *cdt_msgpack_suite(void);

/* Checks len bytes of data from an exact-size heap copy. */
static int
s_check(const void *data, size_t len, size_t *used)
{
    uint8_t *copy = cdt_xmalloc(len ? len : 1);
    if (len)
        memcpy(copy, data, len);
    int rc = cdt_msgpack_check(copy, len, used);
    free(copy);
    return rc;
}

/* One value of every MessagePack format, packed by msgpack-c. */
static void
s_pack_all(cdt_buf_t *b)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, cdt_buf_msgpack_write);
    char *big = cdt_xcalloc(1, 70000);
    msgpack_pack_array(&pk, 32);
    msgpack_pack_nil(&pk);
    msgpack_pack_true(&pk);
    msgpack_pack_false(&pk);
    msgpack_pack_uint8(&pk, 200);
    msgpack_pack_uint16(&pk, 60000);
    msgpack_pack_uint32(&pk, 4000000000u);
    msgpack_pack_uint64(&pk, UINT64_MAX);
    msgpack_pack_int8(&pk, -100);
    msgpack_pack_int16(&pk, -30000);
    msgpack_pack_int32(&pk, -2000000000);
    msgpack_pack_int64(&pk, INT64_MIN);
    msgpack_pack_fix_int8(&pk, 1); /* forces the d0 form */
    msgpack_pack_float(&pk, 1.5f);
    msgpack_pack_double(&pk, 2.5);
    msgpack_pack_str_with_body(&pk, "abc", 3);
    msgpack_pack_str_with_body(&pk, big, 200);
    msgpack_pack_str_with_body(&pk, big, 300);
    msgpack_pack_str_with_body(&pk, big, 70000);
    msgpack_pack_bin_with_body(&pk, big, 10);
    msgpack_pack_bin_with_body(&pk, big, 300);
    msgpack_pack_bin_with_body(&pk, big, 70000);
    for (size_t n = 1; n <= 16; n *= 2)
        msgpack_pack_ext_with_body(&pk, big, n, 5); /* fixext */
    msgpack_pack_ext_with_body(&pk, big, 3, 5);     /* ext 8 */
    msgpack_pack_ext_with_body(&pk, big, 300, 5);   /* ext 16 */
    msgpack_pack_ext_with_body(&pk, big, 70000, 5); /* ext 32 */
    msgpack_pack_array(&pk, 20);                    /* array 16 */
    for (int i = 0; i < 20; i++)
        msgpack_pack_int(&pk, -i);
    msgpack_pack_map(&pk, 20); /* map 16 */
    for (int i = 0; i < 20; i++) {
        msgpack_pack_int(&pk, i);
        msgpack_pack_array(&pk, 0);
    }
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "k", 1);
    msgpack_pack_map(&pk, 0);
    free(big);
}

START_TEST(test_msgpack_check_accepts_every_format)
{
    cdt_buf_t b = CDT_BUF_INIT;
    s_pack_all(&b);
    size_t used = 0;
    ck_assert_int_eq(s_check(b.data, b.len, &used), 0);
    ck_assert_uint_eq(used, b.len);
    msgpack_zone z;
    msgpack_zone_init(&z, 4096);
    msgpack_object o;
    ck_assert_int_eq(cdt_msgpack_unpack_one(b.data, b.len, &z, &o), 0);
    ck_assert_int_eq(o.type, MSGPACK_OBJECT_ARRAY);
    ck_assert_uint_eq(o.via.array.size, 32);
    msgpack_zone_destroy(&z);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_msgpack_check_rejects_every_truncation)
{
    cdt_buf_t b = CDT_BUF_INIT;
    s_pack_all(&b);
    /* Every cut near the interesting parts, and a sample of the rest. */
    for (size_t len = 0; len < b.len; len += len < 400 ? 1 : 997) {
        size_t used = 12345;
        ck_assert_msg(s_check(b.data, len, &used) == -1, "cut %zu", len);
        ck_assert_uint_eq(used, 12345);
    }
    for (size_t len = b.len - 300; len < b.len; len++)
        ck_assert_int_eq(s_check(b.data, len, NULL), -1);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_msgpack_check_reports_used)
{
    size_t used = 0;
    ck_assert_int_eq(s_check("\x01\x02", 2, &used), 0);
    ck_assert_uint_eq(used, 1);
    ck_assert_int_eq(s_check("\x92\x01\xa1x\xc0", 5, &used), 0);
    ck_assert_uint_eq(used, 4);
    msgpack_zone z;
    msgpack_zone_init(&z, 256);
    msgpack_object o;
    ck_assert_int_eq(cdt_msgpack_unpack_one("\x01\x02", 2, &z, &o), -1);
    ck_assert_int_eq(cdt_msgpack_unpack_one("\x01", 1, &z, &o), 0);
    ck_assert_int_eq(cdt_msgpack_unpack_one("", 0, &z, &o), -1);
    ck_assert_int_eq(cdt_msgpack_unpack_one(NULL, 0, &z, &o), -1);
    msgpack_zone_destroy(&z);
}
END_TEST

START_TEST(test_msgpack_check_rejects_reserved_byte)
{
    ck_assert_int_eq(s_check("\xc1", 1, NULL), -1);
    ck_assert_int_eq(s_check("\x91\xc1", 2, NULL), -1);
    ck_assert_int_eq(s_check("", 0, NULL), -1);
    ck_assert_int_eq(cdt_msgpack_check(NULL, 5, NULL), -1);
}
END_TEST

START_TEST(test_msgpack_check_rejects_huge_declared_counts)
{
    static const struct {
        const char *p;
        size_t n;
    } bad[] = {
        {"\xdd\xff\xff\xff\xff", 5},     /* array32 of 4G */
        {"\xdf\xff\xff\xff\xff", 5},     /* map32 of 4G */
        {"\xdc\x00\x03\x01\x02", 5},     /* 3 owed, 2 given */
        {"\xde\x00\x02\x01\x02\x03", 6}, /* 4 owed, 3 given */
        {"\x82\x01\x02\x03", 4},         /* fixmap: 4 owed, 3 given */
        {"\xdb\xff\xff\xff\xff", 5},     /* str32 longer than input */
        {"\xc6\x00\x00\x00\x02x", 6},    /* bin32 */
        {"\xc9\x00\x00\x00\x01\x05", 6}, /* ext32: no data byte */
        {"\xd8\x05\x00", 3},             /* fixext16 */
        {"\x91\x91\x91\x91", 4},         /* no leaf */
        {"\xdc\x00", 2},                 /* header itself cut */
        {"\xdf\x00\x00\x00", 4},
        {"\xd9", 1},
        {"\xcf\x00\x00\x00\x00\x00\x00\x00", 8},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(s_check(bad[i].p, bad[i].n, NULL) == -1, "case %zu", i);
    /* The fitting versions pass. */
    ck_assert_int_eq(s_check("\xdc\x00\x02\x01\x02", 5, NULL), 0);
    ck_assert_int_eq(s_check("\xc6\x00\x00\x00\x01x", 6, NULL), 0);
    ck_assert_int_eq(s_check("\xc9\x00\x00\x00\x01\x05x", 7, NULL), 0);
}
END_TEST

/* A short random input from a fixed-seed xorshift generator (state *x):
 * 1 to cap bytes, half of them header bytes of every kind. Returns its
 * length. */
static size_t
s_random_input(uint32_t *x, uint8_t *buf, size_t cap)
{
    static const uint8_t pool[] = {0x00, 0x7f, 0x80, 0x81, 0x82, 0x90, 0x91,
                                   0x92, 0xa0, 0xa1, 0xa3, 0xc0, 0xc1, 0xc2,
                                   0xc3, 0xc4, 0xc7, 0xca, 0xcb, 0xcc, 0xcd,
                                   0xd4, 0xd9, 0xdc, 0xdd, 0xde, 0xdf, 0xff};
    uint32_t v = *x;
    v ^= v << 13;
    v ^= v >> 17;
    v ^= v << 5;
    size_t n = 1 + v % cap;
    for (size_t i = 0; i < n; i++) {
        v ^= v << 13;
        v ^= v >> 17;
        v ^= v << 5;
        buf[i] = (v & 1) ? pool[(v >> 1) % sizeof pool] : (uint8_t)(v >> 8);
    }
    *x = v;
    return n;
}

START_TEST(test_msgpack_check_agrees_with_unpacker)
{
    /* Random short inputs from a fixed-seed generator: whenever the check
     * passes, msgpack_unpack must accept the same bytes (or refuse only
     * nesting beyond its 32 levels), and consume exactly as many. */
    uint32_t x = 2463534242u;
    int passed = 0;
    for (int iter = 0; iter < 200000; iter++) {
        uint8_t buf[12];
        size_t n = s_random_input(&x, buf, sizeof buf);
        size_t used = 0;
        if (cdt_msgpack_check(buf, n, &used) == -1)
            continue;
        passed++;
        msgpack_zone z;
        msgpack_zone_init(&z, 256);
        msgpack_object o;
        size_t off = 0;
        msgpack_unpack_return r =
            msgpack_unpack((const char *)buf, n, &off, &z, &o);
        ck_assert_msg(r == MSGPACK_UNPACK_SUCCESS ||
                          r == MSGPACK_UNPACK_EXTRA_BYTES,
                      "iteration %d: unpacker says %d", iter, r);
        ck_assert_uint_eq(off, used);
        msgpack_zone_destroy(&z);
    }
    ck_assert_int_gt(passed, 1000);
}
END_TEST

START_TEST(test_msgpack_skip_agrees_with_check)
{
    /* cdt_msgpack_skip walks what cdt_msgpack_check walks: on the same
     * random inputs it stops where the check says the value ends, and
     * fails where the check fails (the depth limit aside: these inputs
     * nest at most 12 deep). */
    uint32_t x = 88675123u;
    int passed = 0;
    for (int iter = 0; iter < 200000; iter++) {
        uint8_t buf[12];
        size_t n = s_random_input(&x, buf, sizeof buf);
        uint8_t *copy = cdt_xmalloc(n); /* exact size, for ASan */
        memcpy(copy, buf, n);
        size_t used = 0;
        int rc = cdt_msgpack_check(copy, n, &used);
        const uint8_t *p = copy;
        bool ok = cdt_msgpack_skip(&p, copy + n, 0);
        ck_assert_msg(ok == (rc == 0), "iteration %d", iter);
        if (ok) {
            ck_assert_uint_eq((size_t)(p - copy), used);
            passed++;
        }
        free(copy);
    }
    ck_assert_int_gt(passed, 1000);
}
END_TEST

START_TEST(test_msgpack_skip_depth)
{
    /* 32 nested arrays around nil: what msgpack_unpack accepts at the
     * top level, refused one level further in, and 33 refused. */
    uint8_t b[34];
    memset(b, 0x91, 33);
    b[33] = 0xc0;
    const uint8_t *p = b + 1;
    ck_assert(cdt_msgpack_skip(&p, b + 34, 0));
    ck_assert_ptr_eq(p, b + 34);
    p = b + 1;
    ck_assert(!cdt_msgpack_skip(&p, b + 34, 1));
    p = b;
    ck_assert(!cdt_msgpack_skip(&p, b + 34, 0));
    /* the same depth through maps and 16-bit headers */
    static const uint8_t m[] = {0x81, 0xc0, 0xdc, 0x00, 0x01, 0x91, 0xc3};
    p = m;
    ck_assert(cdt_msgpack_skip(&p, m + sizeof m, 29));
    ck_assert_ptr_eq(p, m + sizeof m);
    p = m;
    ck_assert(!cdt_msgpack_skip(&p, m + sizeof m, 30));
    ck_assert_uint_eq(cdt_msgpack_be((const uint8_t *)"\x01\x02\x03", 3),
                      0x010203);
}
END_TEST

Suite *
cdt_msgpack_suite(void)
{
    Suite *s = suite_create("cdt_msgpack");
    TCase *tc = tcase_create("check");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_msgpack_check_accepts_every_format);
    tcase_add_test(tc, test_msgpack_check_rejects_every_truncation);
    tcase_add_test(tc, test_msgpack_check_reports_used);
    tcase_add_test(tc, test_msgpack_check_rejects_reserved_byte);
    tcase_add_test(tc, test_msgpack_check_rejects_huge_declared_counts);
    tcase_add_test(tc, test_msgpack_check_agrees_with_unpacker);
    tcase_add_test(tc, test_msgpack_skip_agrees_with_check);
    tcase_add_test(tc, test_msgpack_skip_depth);
    suite_add_tcase(s, tc);
    return s;
}
