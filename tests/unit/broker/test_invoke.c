/*
 * test_invoke - evaluation of client invocations against the default
 * catalog: every action kind, the ownership check, and the exact SignalR
 * error texts.
 *
 * SPDX-License-Identifier: MIT
 */
#include "broker/invoke.h"

#include <check.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Suite *invoke_suite(void);

static cdt_catalog_t *s_cat;

static void
s_setup(void)
{
    char err[256];
    s_cat = cdt_catalog_load("etc/hubs.yaml", err, sizeof err);
    ck_assert_msg(s_cat != NULL, "catalog: %s", err);
}

static void
s_teardown(void)
{
    cdt_catalog_destroy(&s_cat);
}

static const cdt_hub_t *
s_hub(const char *name)
{
    const cdt_hub_t *h = cdt_catalog_hub(s_cat, name, strlen(name));
    ck_assert_ptr_nonnull(h);
    return h;
}

/* Tasks: "t1" owned by key 7, "t2" by key 8. */
static bool
s_owner(void *arg, const char *id, size_t len, int64_t *owner)
{
    (void)arg;
    if (len == 2 && memcmp(id, "t1", 2) == 0)
        *owner = 7;
    else if (len == 2 && memcmp(id, "t2", 2) == 0)
        *owner = 8;
    else
        return false;
    return true;
}

/* Packs an argument array from a tiny spec: s = string, i = int,
 * a = string array of the next count strings, m = a one-pair map. */
static msgpack_sbuffer s_sb;

static void
s_pack(const char *spec, ...)
{
    msgpack_sbuffer_init(&s_sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &s_sb, msgpack_sbuffer_write);
    va_list ap;
    va_start(ap, spec);
    msgpack_pack_array(&pk, strlen(spec));
    for (const char *p = spec; *p; p++) {
        if (*p == 's') {
            const char *s = va_arg(ap, const char *);
            msgpack_pack_str(&pk, strlen(s));
            msgpack_pack_str_body(&pk, s, strlen(s));
        } else if (*p == 'i') {
            msgpack_pack_int64(&pk, va_arg(ap, int));
        } else if (*p == 'a') {
            int n = va_arg(ap, int);
            msgpack_pack_array(&pk, n);
            for (int i = 0; i < n; i++) {
                const char *s = va_arg(ap, const char *);
                msgpack_pack_str(&pk, strlen(s));
                msgpack_pack_str_body(&pk, s, strlen(s));
            }
        } else if (*p == 'm') {
            msgpack_pack_map(&pk, 1);
            msgpack_pack_str(&pk, 4);
            msgpack_pack_str_body(&pk, "page", 4);
            msgpack_pack_str(&pk, 1);
            msgpack_pack_str_body(&pk, "/", 1);
        }
    }
    va_end(ap);
}

static invoke_result_t
s_eval(const char *hub, int64_t key, bool admin, const char *method)
{
    invoke_result_t r;
    invoke_eval(s_hub(hub), key, admin, method, strlen(method), s_sb.data,
                s_sb.size, s_owner, NULL, &r);
    msgpack_sbuffer_destroy(&s_sb);
    return r;
}

START_TEST(test_invoke_unknown_method)
{
    s_pack("s", "x");
    invoke_result_t r = s_eval("TaskHub", 7, false, "TaskStarted");
    ck_assert(!r.ok);
    ck_assert_str_eq(r.error, "Failed to invoke 'TaskStarted' due to an "
                              "error on the server. HubException: Method "
                              "does not exist.");
    invoke_result_release(&r);
    /* hubs without methods have none to call */
    s_pack("");
    r = s_eval("SpendNotificationHub", 7, false, "SendSpendUpdate");
    ck_assert(!r.ok);
    ck_assert_str_eq(r.error, "Failed to invoke 'SendSpendUpdate' due to "
                              "an error on the server. HubException: "
                              "Method does not exist.");
    invoke_result_release(&r);
}
END_TEST

START_TEST(test_invoke_wrong_arguments)
{
    const char *want = "Failed to invoke 'SubscribeToTaskType' due to an "
                       "error on the server.";
    s_pack("");
    invoke_result_t r = s_eval("TaskHub", 7, false, "SubscribeToTaskType");
    ck_assert(!r.ok);
    ck_assert_str_eq(r.error, want);
    invoke_result_release(&r);
    s_pack("ss", "a", "b");
    r = s_eval("TaskHub", 7, false, "SubscribeToTaskType");
    ck_assert_str_eq(r.error, want);
    invoke_result_release(&r);
    s_pack("i", 5);
    r = s_eval("TaskHub", 7, false, "SubscribeToTaskType");
    ck_assert_str_eq(r.error, want);
    invoke_result_release(&r);
    /* int parameter given a string */
    s_pack("s", "5");
    r = s_eval("AdminNotificationHub", 0, true, "SubscribeToVirtualKey");
    ck_assert(!r.ok);
    ck_assert_str_eq(r.error, "Failed to invoke 'SubscribeToVirtualKey' due "
                              "to an error on the server.");
    invoke_result_release(&r);
    /* not an array at all */
    const uint8_t junk[] = {0xc1};
    invoke_eval(s_hub("TaskHub"), 7, false, "SubscribeToTaskType", 19, junk,
                sizeof junk, s_owner, NULL, &r);
    ck_assert(!r.ok);
    ck_assert_str_eq(r.error, want);
    invoke_result_release(&r);
}
END_TEST

START_TEST(test_invoke_task_owner_check)
{
    s_pack("s", "t1");
    invoke_result_t r = s_eval("TaskHub", 7, false, "SubscribeToTask");
    ck_assert(r.ok);
    ck_assert_uint_eq(r.n_joins, 1);
    ck_assert_str_eq(r.joins[0], "task-t1");
    ck_assert_str_eq(r.task_id, "t1");
    invoke_result_release(&r);

    s_pack("s", "t2");
    r = s_eval("TaskHub", 7, false, "SubscribeToTask");
    ck_assert(!r.ok);
    ck_assert_str_eq(r.error, "An unexpected error occurred invoking "
                              "'SubscribeToTask' on the server. "
                              "HubException: Unauthorized access to task");
    ck_assert_uint_eq(r.n_joins, 0);
    invoke_result_release(&r);

    s_pack("s", "nope");
    r = s_eval("TaskHub", 7, false, "SubscribeToTask");
    ck_assert_str_eq(r.error, "An unexpected error occurred invoking "
                              "'SubscribeToTask' on the server. "
                              "HubException: Task not found");
    invoke_result_release(&r);

    /* an empty id cannot name a task */
    s_pack("s", "");
    r = s_eval("TaskHub", 7, false, "SubscribeToTask");
    ck_assert_str_eq(r.error, "An unexpected error occurred invoking "
                              "'SubscribeToTask' on the server. "
                              "HubException: Task not found");
    invoke_result_release(&r);

    /* an admin key passes the ownership check */
    s_pack("s", "t2");
    r = s_eval("TaskHub", 7, true, "SubscribeToTask");
    ck_assert(r.ok);
    ck_assert_str_eq(r.joins[0], "task-t2");
    invoke_result_release(&r);

    /* per-hub texts and groups; method names match case-insensitively and
     * errors quote the name as sent */
    s_pack("s", "t2");
    r = s_eval("VideoGenerationHub", 7, false, "subscribetovideogeneration");
    ck_assert_str_eq(r.error, "An unexpected error occurred invoking "
                              "'subscribetovideogeneration' on the server. "
                              "HubException: Access denied to video "
                              "generation request");
    invoke_result_release(&r);
    s_pack("s", "t1");
    r = s_eval("ImageGenerationHub", 7, false, "SubscribeToTask");
    ck_assert(r.ok);
    ck_assert_str_eq(r.joins[0], "image-t1");
    invoke_result_release(&r);
    s_pack("s", "zz");
    r = s_eval("ImageGenerationHub", 7, false, "SubscribeToImageGeneration");
    ck_assert_str_eq(r.error, "An unexpected error occurred invoking "
                              "'SubscribeToImageGeneration' on the server. "
                              "HubException: Image generation request not "
                              "found");
    invoke_result_release(&r);
}
END_TEST

START_TEST(test_invoke_join_and_leave)
{
    s_pack("s", "t2"); /* leaving needs no ownership */
    invoke_result_t r = s_eval("TaskHub", 7, false, "UnsubscribeFromTask");
    ck_assert(r.ok);
    ck_assert_uint_eq(r.n_leaves, 1);
    ck_assert_str_eq(r.leaves[0], "task-t2");
    ck_assert_ptr_null(r.task_id);
    invoke_result_release(&r);

    s_pack("s", "video");
    r = s_eval("TaskHub", 7, false, "SubscribeToTaskType");
    ck_assert(r.ok);
    ck_assert_str_eq(r.joins[0], "vkey-7-video");
    ck_assert_ptr_null(r.task_id);
    invoke_result_release(&r);

    s_pack("s", "");
    r = s_eval("TaskHub", 7, false, "SubscribeToTaskType");
    ck_assert(!r.ok);
    ck_assert_str_eq(r.error, "An unexpected error occurred invoking "
                              "'SubscribeToTaskType' on the server. "
                              "HubException: Invalid argument.");
    invoke_result_release(&r);

    s_pack("i", 42);
    r = s_eval("AdminNotificationHub", 0, true, "SubscribeToVirtualKey");
    ck_assert(r.ok);
    ck_assert_str_eq(r.joins[0], "admin-vkey-42");
    invoke_result_release(&r);
    s_pack("s", "openai");
    r = s_eval("AdminNotificationHub", 0, true, "UnsubscribeFromProvider");
    ck_assert(r.ok);
    ck_assert_str_eq(r.leaves[0], "admin-provider-openai");
    invoke_result_release(&r);
}
END_TEST

START_TEST(test_invoke_join_each_scoped_to_key)
{
    s_pack("a", 2, "https://a.example/x", "https://b.example/y");
    invoke_result_t r =
        s_eval("WebhookDeliveryHub", 7, false, "SubscribeToWebhooks");
    ck_assert(r.ok);
    ck_assert_uint_eq(r.n_joins, 2);
    ck_assert_str_eq(r.joins[0], "webhook-7-https://a.example/x");
    ck_assert_str_eq(r.joins[1], "webhook-7-https://b.example/y");
    invoke_result_release(&r);

    s_pack("a", 0);
    r = s_eval("WebhookDeliveryHub", 7, false, "SubscribeToWebhooks");
    ck_assert(r.ok);
    ck_assert_uint_eq(r.n_joins, 0);
    invoke_result_release(&r);

    s_pack("a", 1, "https://a.example/x");
    r = s_eval("WebhookDeliveryHub", 9, false, "UnsubscribeFromWebhooks");
    ck_assert(r.ok);
    ck_assert_str_eq(r.leaves[0], "webhook-9-https://a.example/x");
    invoke_result_release(&r);

    /* one bad element fails the whole call, joining nothing */
    s_pack("a", 2, "https://a.example/x", "");
    r = s_eval("WebhookDeliveryHub", 7, false, "SubscribeToWebhooks");
    ck_assert(!r.ok);
    ck_assert_uint_eq(r.n_joins, 0);
    invoke_result_release(&r);

    /* a string where an array is expected */
    s_pack("s", "https://a.example/x");
    r = s_eval("WebhookDeliveryHub", 7, false, "SubscribeToWebhooks");
    ck_assert_str_eq(r.error, "Failed to invoke 'SubscribeToWebhooks' due "
                              "to an error on the server.");
    invoke_result_release(&r);
}
END_TEST

START_TEST(test_invoke_send_self)
{
    s_pack("m");
    invoke_result_t r =
        s_eval("NavigationStateHub", 7, false, "UpdateNavigation");
    ck_assert(r.ok);
    ck_assert_str_eq(r.emit_event, "NavigationUpdated");
    ck_assert_str_eq(r.emit_group, "vkey-7");
    ck_assert_uint_eq(r.n_joins, 0);
    invoke_result_release(&r);
    ck_assert_ptr_null(r.emit_group);
    /* any type is accepted, but the count still matters */
    s_pack("i", 1);
    r = s_eval("NavigationStateHub", 7, false, "UpdateNavigation");
    ck_assert(r.ok);
    invoke_result_release(&r);
    s_pack("ii", 1, 2);
    r = s_eval("NavigationStateHub", 7, false, "UpdateNavigation");
    ck_assert(!r.ok);
    invoke_result_release(&r);
}
END_TEST

/* The arguments come from the gateway link: a container declaring more
 * elements than bytes follow is refused before msgpack-c allocates
 * storage for its declared count (4 G elements: ~100 GB, which under
 * ASan aborts the process). Exact-size heap buffers let ASan see any
 * over-read. */
START_TEST(test_invoke_refuses_huge_declared_counts)
{
    static const uint8_t huge[][6] = {
        {0xdd, 0xff, 0xff, 0xff, 0xff, 0xa1}, /* array32 of 4 G */
        {0x91, 0xdd, 0xff, 0xff, 0xff, 0xff}, /* nested */
        {0x91, 0xdf, 0xff, 0xff, 0xff, 0xff}, /* map32 of 4 G */
    };
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        uint8_t *buf = malloc(sizeof huge[i]);
        memcpy(buf, huge[i], sizeof huge[i]);
        invoke_result_t r;
        invoke_eval(s_hub("TaskHub"), 7, false, "SubscribeToTaskType", 19, buf,
                    sizeof huge[i], s_owner, NULL, &r);
        ck_assert(!r.ok);
        ck_assert_str_eq(r.error, "Failed to invoke 'SubscribeToTaskType' "
                                  "due to an error on the server.");
        invoke_result_release(&r);
        free(buf);
    }
}
END_TEST

Suite *
invoke_suite(void)
{
    Suite *s = suite_create("invoke");
    TCase *tc = tcase_create("eval");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_add_test(tc, test_invoke_unknown_method);
    tcase_add_test(tc, test_invoke_wrong_arguments);
    tcase_add_test(tc, test_invoke_task_owner_check);
    tcase_add_test(tc, test_invoke_join_and_leave);
    tcase_add_test(tc, test_invoke_join_each_scoped_to_key);
    tcase_add_test(tc, test_invoke_send_self);
    tcase_add_test(tc, test_invoke_refuses_huge_declared_counts);
    suite_add_tcase(s, tc);
    return s;
}
