/*
 * test_upstream - the gateway's decoding of the broker's frames: a frame
 * is a batch of link messages, each handed on in order; a cut frame
 * delivers the whole messages before the cut; trailing garbage ends the
 * frame after the good ones; bad frames are counted and reported at WARN
 * at most once a second. Frames live in heap buffers of exact size so
 * that ASan sees over-reads. The link is never connected: these tests
 * call upstream_handle_frame as the drain does.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/upstream.h"

#include "common/cdt_log.h"
#include "common/cdt_mem.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

Suite *upstream_suite(void);

#define MAX_SEEN 64

/* What the owner heard, in order. */
typedef struct heard {
    int kinds[MAX_SEEN];
    uint64_t seqs[MAX_SEEN];
    size_t n;
    int ups, downs;
} heard_t;

static void
s_on_msg(void *arg, const cdt_link_msg_t *msg)
{
    heard_t *h = arg;
    ck_assert_uint_lt(h->n, MAX_SEEN);
    h->kinds[h->n] = msg->kind;
    h->seqs[h->n] = msg->seq;
    h->n++;
}

static void
s_on_state(void *arg, bool up)
{
    heard_t *h = arg;
    if (up)
        h->ups++;
    else
        h->downs++;
}

static upstream_t *
s_new(heard_t *h)
{
    static int counter;
    char ep[64];
    memset(h, 0, sizeof *h);
    snprintf(ep, sizeof ep, "inproc://upstream-test-%d", ++counter);
    upstream_t *u =
        upstream_new(ep, "gw-test", NULL, NULL, s_on_msg, s_on_state, h);
    ck_assert_ptr_nonnull(u);
    return u;
}

/* Handles a copy of frame (len bytes) in a buffer of exactly that size. */
static size_t
s_handle(upstream_t *u, const uint8_t *frame, size_t len)
{
    uint8_t *copy = cdt_xmalloc(len ? len : 1);
    if (len)
        memcpy(copy, frame, len);
    size_t n = upstream_handle_frame(u, copy, len);
    free(copy);
    return n;
}

static const uint8_t s_secret[CDT_LINK_SECRET_LEN] = {1, 2, 3};

/* A batch as a broker sends one: WELCOME, then what the owner hears.
 * kinds[] gets what on_msg must see, ends[] where each message ends. */
static size_t
s_batch(cdt_buf_t *b, int *kinds, size_t *ends)
{
    static const char *const groups[] = {"vkey-1", "task-9"};
    size_t n = 0, k = 0;
    cdt_link_encode_welcome(b, 77, 1000, 5000, s_secret, sizeof s_secret);
    ends[n++] = b->len;
    for (uint64_t seq = 1; seq <= 3; seq++) {
        cdt_link_args_t a = {.args = {"\x90", 1}};
        cdt_link_encode_event(b, "SpendNotificationHub", groups, 2, seq,
                              "SpendUpdate", &a);
        ends[n++] = b->len;
        kinds[k++] = CDT_LINK_EVENT;
    }
    cdt_link_encode_direct(b, 5, "TaskCompleted", "\x90", 1, "{}\x1e", 3);
    ends[n++] = b->len;
    kinds[k++] = CDT_LINK_DIRECT;
    cdt_link_encode_auth_rep(b, 3, 200, 1, false, "");
    ends[n++] = b->len;
    kinds[k++] = CDT_LINK_AUTH_REP;
    cdt_link_encode_conn_ready(b, 5, 0, "", groups, 2);
    ends[n++] = b->len;
    kinds[k++] = CDT_LINK_CONN_READY;
    cdt_link_encode_invoke_rep(b, 4, 5, true, NULL, 0, NULL, groups, 1, NULL,
                               0);
    ends[n++] = b->len;
    kinds[k++] = CDT_LINK_INVOKE_REP;
    cdt_link_encode_pong(b, 77);
    ends[n++] = b->len;
    cdt_link_encode_kick(b, 1, "key disabled");
    ends[n++] = b->len;
    kinds[k++] = CDT_LINK_KICK;
    return n;
}

START_TEST(test_upstream_batch_handed_on_in_order)
{
    heard_t h;
    upstream_t *u = s_new(&h);
    cdt_buf_t b = CDT_BUF_INIT;
    int kinds[16];
    size_t ends[16];
    size_t n = s_batch(&b, kinds, ends);
    ck_assert_uint_eq(s_handle(u, b.data, b.len), n);
    ck_assert_int_eq(h.ups, 1); /* the WELCOME */
    ck_assert(upstream_is_up(u));
    ck_assert_uint_eq(h.n, n - 2); /* all but WELCOME and PONG */
    for (size_t i = 0; i < h.n; i++)
        ck_assert_int_eq(h.kinds[i], kinds[i]);
    for (uint64_t s = 1; s <= 3; s++)
        ck_assert_uint_eq(h.seqs[s - 1], s);
    const upstream_stats_t *st = upstream_stats(u);
    ck_assert_uint_eq(st->received, 1);
    ck_assert_uint_eq(st->messages, n);
    ck_assert_uint_eq(st->malformed, 0);
    /* a frame of one message, as before batching */
    cdt_buf_t one = CDT_BUF_INIT;
    cdt_link_encode_kick(&one, 2, "x");
    ck_assert_uint_eq(s_handle(u, one.data, one.len), 1);
    ck_assert_int_eq(h.kinds[h.n - 1], CDT_LINK_KICK);
    ck_assert_uint_eq(st->received, 2);
    ck_assert_uint_eq(st->malformed, 0);
    cdt_buf_release(&one);
    cdt_buf_release(&b);
    upstream_destroy(&u);
}
END_TEST

START_TEST(test_upstream_every_truncation)
{
    cdt_log_set_level(CDT_LOG_ERROR);
    cdt_buf_t b = CDT_BUF_INIT;
    int kinds[16];
    size_t ends[16];
    size_t n = s_batch(&b, kinds, ends);
    for (size_t len = 0; len < b.len; len++) {
        heard_t h;
        upstream_t *u = s_new(&h);
        size_t whole = 0;
        while (whole < n && ends[whole] <= len)
            whole++;
        ck_assert_msg(s_handle(u, b.data, len) == whole, "cut at %zu", len);
        /* what came before the cut was handed on, in order */
        size_t heard = whole == 0 ? 0 : whole - 1; /* the WELCOME */
        if (whole >= n - 1)
            heard--; /* the PONG */
        ck_assert_uint_eq(h.n, heard);
        for (size_t i = 0; i < h.n; i++)
            ck_assert_int_eq(h.kinds[i], kinds[i]);
        ck_assert_uint_eq(upstream_stats(u)->messages, whole);
        /* a cut between two messages leaves a shorter, whole batch */
        bool at_end = whole > 0 && ends[whole - 1] == len;
        ck_assert_uint_eq(upstream_stats(u)->malformed, at_end ? 0 : 1);
        upstream_destroy(&u);
    }
    cdt_buf_release(&b);
}
END_TEST

START_TEST(test_upstream_trailing_garbage_and_foreign_kinds)
{
    cdt_log_set_level(CDT_LOG_ERROR);
    static const uint8_t garbage[][3] = {
        {0x00}, {0xc1}, {0x91, 0x0c}, {0xdd, 0xff, 0xff}, {0x92, 0x04, 0xff}};
    static const size_t glen[] = {1, 1, 2, 3, 3};
    for (size_t g = 0; g < 5; g++) {
        heard_t h;
        upstream_t *u = s_new(&h);
        cdt_buf_t b = CDT_BUF_INIT;
        int kinds[16];
        size_t ends[16];
        size_t n = s_batch(&b, kinds, ends);
        cdt_buf_append(&b, garbage[g], glen[g]);
        ck_assert_uint_eq(s_handle(u, b.data, b.len), n);
        ck_assert_uint_eq(h.n, n - 2);
        ck_assert_uint_eq(upstream_stats(u)->malformed, 1);
        cdt_buf_release(&b);
        upstream_destroy(&u);
    }
    /* a kind the broker never sends is dropped and counted; the messages
     * after it still arrive */
    heard_t h;
    upstream_t *u = s_new(&h);
    cdt_buf_t b = CDT_BUF_INIT;
    cdt_link_encode_kick(&b, 1, "a");
    cdt_link_encode_hello(&b, "not for a gateway", 1, CDT_LINK_VERSION);
    cdt_link_encode_kick(&b, 2, "b");
    ck_assert_uint_eq(s_handle(u, b.data, b.len), 3);
    ck_assert_uint_eq(h.n, 2);
    ck_assert_uint_eq(upstream_stats(u)->malformed, 1);
    cdt_buf_release(&b);
    upstream_destroy(&u);
}
END_TEST

START_TEST(test_upstream_malformed_reported_once_a_second)
{
    /* stderr goes to a file for the burst: one WARN line for 200 bad
     * frames, the rest counted */
    char path[] = "/tmp/cdt-upstream-log-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    int saved = dup(STDERR_FILENO);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
    cdt_log_set_level(CDT_LOG_WARN);
    heard_t h;
    upstream_t *u = s_new(&h);
    for (int i = 0; i < 200; i++)
        (void)s_handle(u, (const uint8_t *)"\xc1", 1);
    ck_assert_uint_eq(upstream_stats(u)->malformed, 200);
    upstream_destroy(&u);
    cdt_log_set_level(CDT_LOG_ERROR);
    ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
    close(saved);
    FILE *f = fdopen(fd, "r");
    ck_assert_ptr_nonnull(f);
    rewind(f);
    char line[512];
    int warns = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "dropping a malformed message"))
            warns++;
    fclose(f);
    unlink(path);
    ck_assert_int_eq(warns, 1);
}
END_TEST

Suite *
upstream_suite(void)
{
    Suite *s = suite_create("upstream");
    TCase *tc = tcase_create("frames");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_upstream_batch_handed_on_in_order);
    tcase_add_test(tc, test_upstream_every_truncation);
    tcase_add_test(tc, test_upstream_trailing_garbage_and_foreign_kinds);
    tcase_add_test(tc, test_upstream_malformed_reported_once_a_second);
    suite_add_tcase(s, tc);
    return s;
}
