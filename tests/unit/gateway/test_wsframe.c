/*
 * test_wsframe - the headers of the frames the gateway writes itself,
 * checked byte by byte against RFC 6455 section 5.2 and parsed back.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/wsframe.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

Suite *wsframe_suite(void);

/* A reader's view of the frame at p (n bytes): header length, payload
 * length, FIN, opcode and mask bit, as a client parses them. Returns 0, or
 * -1 if the bytes do not hold a whole frame. */
static int
s_parse(const uint8_t *p, size_t n, size_t *hl, uint64_t *plen, int *fin,
        int *opcode, int *masked)
{
    if (n < 2)
        return -1;
    *fin = p[0] >> 7;
    *opcode = p[0] & 0x0f;
    *masked = p[1] >> 7;
    uint64_t l = p[1] & 0x7f;
    size_t h = 2;
    if (l == 126) {
        if (n < 4)
            return -1;
        l = (uint64_t)p[2] << 8 | p[3];
        h = 4;
    } else if (l == 127) {
        if (n < 10)
            return -1;
        l = 0;
        for (int i = 0; i < 8; i++)
            l = l << 8 | p[2 + i];
        h = 10;
    }
    if (n - h < l)
        return -1;
    *hl = h;
    *plen = l;
    return 0;
}

/* Frames payloads of len bytes in a heap buffer of exact size (headroom,
 * payload), so ASan sees any write outside it, and parses the result. */
static void
s_check_len(size_t len, size_t want_header)
{
    uint8_t *buf = malloc(WSFRAME_MAX_HEADER + len);
    uint8_t *payload = buf + WSFRAME_MAX_HEADER;
    for (size_t i = 0; i < len; i++)
        payload[i] = (uint8_t)('a' + i % 26);
    size_t hl = wsframe_text_header(payload, len);
    ck_assert_uint_eq(hl, want_header);
    const uint8_t *frame = payload - hl;
    size_t phl;
    uint64_t plen;
    int fin, opcode, masked;
    ck_assert_int_eq(
        s_parse(frame, hl + len, &phl, &plen, &fin, &opcode, &masked), 0);
    ck_assert_uint_eq(phl, hl);
    ck_assert_uint_eq(plen, len);
    ck_assert_int_eq(fin, 1);
    ck_assert_int_eq(opcode, 1);
    ck_assert_int_eq(masked, 0);
    for (size_t i = 0; i < len; i++)
        ck_assert_uint_eq(frame[hl + i], (uint8_t)('a' + i % 26));
    free(buf);
}

START_TEST(test_wsframe_short_lengths_take_one_byte)
{
    s_check_len(0, 2);
    s_check_len(1, 2);
    s_check_len(125, 2);
}
END_TEST

START_TEST(test_wsframe_medium_lengths_take_two_more_bytes)
{
    s_check_len(126, 4);
    s_check_len(300, 4);
    s_check_len(65535, 4);
}
END_TEST

START_TEST(test_wsframe_long_lengths_take_eight_more_bytes)
{
    s_check_len(65536, 10);
    s_check_len(70001, 10);
}
END_TEST

START_TEST(test_wsframe_exact_header_bytes)
{
    uint8_t buf[WSFRAME_MAX_HEADER + 4];
    ck_assert_uint_eq(wsframe_text_header(buf + WSFRAME_MAX_HEADER, 4), 2);
    const uint8_t two[] = {0x81, 0x04};
    ck_assert_int_eq(memcmp(buf + WSFRAME_MAX_HEADER - 2, two, 2), 0);

    ck_assert_uint_eq(wsframe_text_header(buf + WSFRAME_MAX_HEADER, 0x1234), 4);
    const uint8_t four[] = {0x81, 126, 0x12, 0x34};
    ck_assert_int_eq(memcmp(buf + WSFRAME_MAX_HEADER - 4, four, 4), 0);

    ck_assert_uint_eq(wsframe_text_header(buf + WSFRAME_MAX_HEADER, 0x10203),
                      10);
    const uint8_t ten[] = {0x81, 127, 0, 0, 0, 0, 0, 0x01, 0x02, 0x03};
    ck_assert_int_eq(memcmp(buf, ten, 10), 0);
}
END_TEST

Suite *
wsframe_suite(void)
{
    Suite *s = suite_create("wsframe");
    TCase *tc = tcase_create("header");
    tcase_add_test(tc, test_wsframe_short_lengths_take_one_byte);
    tcase_add_test(tc, test_wsframe_medium_lengths_take_two_more_bytes);
    tcase_add_test(tc, test_wsframe_long_lengths_take_eight_more_bytes);
    tcase_add_test(tc, test_wsframe_exact_header_bytes);
    suite_add_tcase(s, tc);
    return s;
}
