/*
 * test_cdt_buf - the growable byte buffer.
 *
 * SPDX-License-Identifier: MIT
 */
#include "common/cdt_buf.h"

#include <check.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

Suite *cdt_buf_suite(void);

START_TEST(test_buf_starts_empty)
{
    cdt_buf_t b = CDT_BUF_INIT;
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
    cdt_buf_init(&b);
    ck_assert_ptr_null(b.data);
    cdt_buf_release(&b); /* safe on an empty buffer */
    ck_assert_ptr_null(b.data);
}
END_TEST

START_TEST(test_buf_append_keeps_nul_after_len)
{
    cdt_buf_t b = CDT_BUF_INIT;
    cdt_buf_append(&b, "abc", 3);
    ck_assert_uint_eq(b.len, 3);
    ck_assert_str_eq((char *)b.data, "abc");
    cdt_buf_append_byte(&b, 'd');
    cdt_buf_append_str(&b, "ef");
    ck_assert_uint_eq(b.len, 6);
    ck_assert_str_eq((char *)b.data, "abcdef");
    ck_assert_uint_ge(b.cap, b.len);
    cdt_buf_append(&b, NULL, 0);
    ck_assert_uint_eq(b.len, 6);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_buf_grows_past_many_doublings)
{
    cdt_buf_t b = CDT_BUF_INIT;
    for (int i = 0; i < 100000; i++)
        cdt_buf_append_byte(&b, (uint8_t)(i & 0xff));
    ck_assert_uint_eq(b.len, 100000);
    for (int i = 0; i < 100000; i++)
        ck_assert_uint_eq(b.data[i], (uint8_t)(i & 0xff));
    ck_assert_uint_eq(b.data[b.len], 0);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_buf_reserve_gives_room)
{
    cdt_buf_t b = CDT_BUF_INIT;
    cdt_buf_reserve(&b, 1000);
    ck_assert_ptr_nonnull(b.data);
    ck_assert_uint_ge(b.cap - b.len, 1000);
    uint8_t *before = b.data;
    memset(b.data, 'x', 1000); /* the room is writable (ASan checks) */
    b.data[1000] = '\0';       /* and so is the NUL slot */
    cdt_buf_append(&b, "y", 1);
    ck_assert_ptr_eq(b.data, before);
    cdt_buf_reserve(&b, 0);
    ck_assert_ptr_eq(b.data, before);
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_buf_reset_keeps_memory)
{
    cdt_buf_t b = CDT_BUF_INIT;
    cdt_buf_append_str(&b, "hello");
    uint8_t *p = b.data;
    cdt_buf_reset(&b);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_ptr_eq(b.data, p);
    ck_assert_str_eq((char *)b.data, "");
    cdt_buf_reset(&b);
    cdt_buf_release(&b);
    cdt_buf_t e = CDT_BUF_INIT;
    cdt_buf_reset(&e); /* no data yet: nothing to write */
    ck_assert_ptr_null(e.data);
}
END_TEST

START_TEST(test_buf_printf)
{
    cdt_buf_t b = CDT_BUF_INIT;
    cdt_buf_printf(&b, "%s=%d", "n", 42);
    cdt_buf_printf(&b, ",%05.1f", 2.25);
    ck_assert_str_eq((char *)b.data, "n=42,002.2");
    ck_assert_uint_eq(b.len, strlen("n=42,002.2"));
    cdt_buf_printf(&b, "%s", "");
    ck_assert_uint_eq(b.len, 10);
    char big[5000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cdt_buf_printf(&b, "[%s]", big);
    ck_assert_uint_eq(b.len, 10 + 2 + 4999);
    ck_assert_int_eq(b.data[b.len - 1], ']');
    ck_assert_int_eq(b.data[b.len], '\0');
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_buf_consume)
{
    cdt_buf_t b = CDT_BUF_INIT;
    cdt_buf_append_str(&b, "abcdef");
    cdt_buf_consume(&b, 0);
    ck_assert_str_eq((char *)b.data, "abcdef");
    cdt_buf_consume(&b, 2);
    ck_assert_uint_eq(b.len, 4);
    ck_assert_str_eq((char *)b.data, "cdef");
    cdt_buf_consume(&b, 4);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_str_eq((char *)b.data, "");
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_buf_detach)
{
    cdt_buf_t b = CDT_BUF_INIT;
    cdt_buf_append_str(&b, "mine");
    size_t len = 0;
    uint8_t *p = cdt_buf_detach(&b, &len);
    ck_assert_uint_eq(len, 4);
    ck_assert_str_eq((char *)p, "mine");
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_eq(b.cap, 0);
    free(p);
    cdt_buf_append_str(&b, "again"); /* reusable after detach */
    ck_assert_ptr_null(cdt_buf_detach(&(cdt_buf_t)CDT_BUF_INIT, NULL));
    p = cdt_buf_detach(&b, NULL);
    ck_assert_str_eq((char *)p, "again");
    free(p);
}
END_TEST

START_TEST(test_buf_msgpack_write)
{
    cdt_buf_t b = CDT_BUF_INIT;
    cdt_buf_append_byte(&b, 0xAA);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, cdt_buf_msgpack_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_str_with_body(&pk, "hi", 2);
    static const uint8_t want[] = {0xAA, 0x92, 0x01, 0xA2, 'h', 'i'};
    ck_assert_uint_eq(b.len, sizeof want);
    ck_assert_int_eq(memcmp(b.data, want, sizeof want), 0);
    cdt_buf_release(&b);
}
END_TEST

Suite *
cdt_buf_suite(void)
{
    Suite *s = suite_create("cdt_buf");
    TCase *tc = tcase_create("buf");
    tcase_add_test(tc, test_buf_starts_empty);
    tcase_add_test(tc, test_buf_append_keeps_nul_after_len);
    tcase_add_test(tc, test_buf_grows_past_many_doublings);
    tcase_add_test(tc, test_buf_reserve_gives_room);
    tcase_add_test(tc, test_buf_reset_keeps_memory);
    tcase_add_test(tc, test_buf_printf);
    tcase_add_test(tc, test_buf_consume);
    tcase_add_test(tc, test_buf_detach);
    tcase_add_test(tc, test_buf_msgpack_write);
    suite_add_tcase(s, tc);
    return s;
}
