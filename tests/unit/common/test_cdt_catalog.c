/*
 * test_cdt_catalog - the shipped etc/hubs.yaml (DESIGN.md §2), lookups,
 * every validation error with its file:line, and group expansion.
 *
 * SPDX-License-Identifier: MIT
 */
#include "common/cdt_catalog.h"

#include "common/cdt_yaml.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

Suite *cdt_catalog_suite(void);

static cdt_catalog_t *s_shipped;

static void
s_load_shipped(void)
{
    char err[512];
    s_shipped = cdt_catalog_load("etc/hubs.yaml", err, sizeof err);
    ck_assert_msg(s_shipped != NULL, "%s", err);
}

static void
s_free_shipped(void)
{
    cdt_catalog_destroy(&s_shipped);
}

static const cdt_hub_t *
s_hub(const char *name)
{
    const cdt_hub_t *hub = cdt_catalog_hub(s_shipped, name, strlen(name));
    ck_assert_msg(hub != NULL, "no hub %s", name);
    return hub;
}

static const cdt_method_t *
s_method(const cdt_hub_t *hub, const char *name)
{
    const cdt_method_t *m = cdt_hub_method(hub, name, strlen(name));
    ck_assert_msg(m != NULL, "no method %s", name);
    return m;
}

/* ---- the shipped catalog ---------------------------------------------- */

START_TEST(test_cdt_catalog_shipped_hubs_and_paths)
{
    static const struct {
        const char *name, *path;
        enum cdt_hub_auth auth;
        size_t n_events, n_methods;
    } want[] = {
        {"VideoGenerationHub", "/hubs/video-generation", CDT_AUTH_VIRTUAL_KEY,
         3, 4},
        {"ImageGenerationHub", "/hubs/image-generation", CDT_AUTH_VIRTUAL_KEY,
         3, 4},
        {"TaskHub", "/hubs/tasks", CDT_AUTH_VIRTUAL_KEY, 6, 4},
        {"SystemNotificationHub", "/hubs/notifications", CDT_AUTH_VIRTUAL_KEY,
         5, 0},
        {"SpendNotificationHub", "/hubs/spend-notifications",
         CDT_AUTH_VIRTUAL_KEY, 3, 0},
        {"WebhookDeliveryHub", "/hubs/webhooks", CDT_AUTH_VIRTUAL_KEY, 4, 2},
        {"AdminNotificationHub", "/hubs/admin-notifications",
         CDT_AUTH_MASTER_KEY, 7, 4},
        {"NavigationStateHub", "/hubs/navigation-state", CDT_AUTH_VIRTUAL_KEY,
         1, 1},
    };
    ck_assert_uint_eq(s_shipped->n_hubs, 8);
    for (size_t i = 0; i < 8; i++) {
        const cdt_hub_t *hub = &s_shipped->hubs[i];
        ck_assert_uint_eq(hub->index, i);
        ck_assert_str_eq(hub->name, want[i].name);
        ck_assert_str_eq(hub->path, want[i].path);
        ck_assert_int_eq(hub->auth, want[i].auth);
        ck_assert_uint_eq(hub->n_events, want[i].n_events);
        ck_assert_uint_eq(hub->n_methods, want[i].n_methods);
        ck_assert_ptr_eq(cdt_catalog_hub_by_path(s_shipped, want[i].path,
                                                 strlen(want[i].path)),
                         hub);
        ck_assert_ptr_eq(
            cdt_catalog_hub(s_shipped, want[i].path, strlen(want[i].path)),
            hub);
        if (strcmp(hub->name, "SystemNotificationHub") == 0) {
            ck_assert_uint_eq(hub->n_join, 2);
            ck_assert_str_eq(hub->join_on_connect[0], "system-notifications");
            ck_assert_str_eq(hub->join_on_connect[1], "vkey-{id}");
        } else if (hub->auth == CDT_AUTH_MASTER_KEY) {
            ck_assert_uint_eq(hub->n_join, 1);
            ck_assert_str_eq(hub->join_on_connect[0], "admin");
        } else {
            ck_assert_uint_eq(hub->n_join, 1);
            ck_assert_str_eq(hub->join_on_connect[0], "vkey-{id}");
        }
    }
}
END_TEST

START_TEST(test_cdt_catalog_shipped_methods)
{
    const cdt_hub_t *tasks = s_hub("TaskHub");
    const cdt_method_t *m = s_method(tasks, "SubscribeToTask");
    ck_assert_uint_eq(m->n_args, 1);
    ck_assert_int_eq(m->args[0], CDT_ARG_STRING);
    ck_assert_int_eq(m->action, CDT_ACTION_JOIN);
    ck_assert_str_eq(m->group, "task-{0}");
    ck_assert_int_eq(m->check, CDT_CHECK_TASK_OWNER);
    ck_assert_str_eq(m->not_found, "Task not found");
    ck_assert_str_eq(m->denied, "Unauthorized access to task");
    ck_assert_ptr_null(m->event);
    m = s_method(tasks, "UnsubscribeFromTask");
    ck_assert_int_eq(m->action, CDT_ACTION_LEAVE);
    ck_assert_int_eq(m->check, CDT_CHECK_NONE);
    ck_assert_ptr_null(m->not_found);
    m = s_method(tasks, "SubscribeToTaskType");
    ck_assert_str_eq(m->group, "vkey-{id}-{0}");

    const cdt_hub_t *video = s_hub("VideoGenerationHub");
    m = s_method(video, "SubscribeToVideoGeneration");
    ck_assert_str_eq(m->group, "video-{0}");
    ck_assert_str_eq(m->denied, "Access denied to video generation request");
    ck_assert_str_eq(m->not_found, "Video generation request not found");
    m = s_method(video, "SubscribeToTask"); /* alias */
    ck_assert_str_eq(m->group, "video-{0}");
    ck_assert_int_eq(m->check, CDT_CHECK_TASK_OWNER);

    const cdt_hub_t *hooks = s_hub("WebhookDeliveryHub");
    m = s_method(hooks, "SubscribeToWebhooks");
    ck_assert_int_eq(m->args[0], CDT_ARG_STRING_ARRAY);
    ck_assert_int_eq(m->action, CDT_ACTION_JOIN_EACH);
    ck_assert_str_eq(m->group, "webhook-{id}-{0}");
    m = s_method(hooks, "UnsubscribeFromWebhooks");
    ck_assert_int_eq(m->action, CDT_ACTION_LEAVE_EACH);

    const cdt_hub_t *admin = s_hub("AdminNotificationHub");
    m = s_method(admin, "SubscribeToVirtualKey");
    ck_assert_int_eq(m->args[0], CDT_ARG_INT);
    ck_assert_str_eq(m->group, "admin-vkey-{0}");
    m = s_method(admin, "UnsubscribeFromProvider");
    ck_assert_int_eq(m->args[0], CDT_ARG_STRING);
    ck_assert_int_eq(m->action, CDT_ACTION_LEAVE);
    ck_assert_str_eq(m->group, "admin-provider-{0}");

    const cdt_hub_t *nav = s_hub("NavigationStateHub");
    m = s_method(nav, "UpdateNavigation");
    ck_assert_int_eq(m->args[0], CDT_ARG_ANY);
    ck_assert_int_eq(m->action, CDT_ACTION_SEND_SELF);
    ck_assert_str_eq(m->group, "vkey-{id}");
    ck_assert_str_eq(m->event, "NavigationUpdated");

    ck_assert_uint_eq(s_hub("SpendNotificationHub")->n_methods, 0);
    ck_assert_str_eq(s_hub("SpendNotificationHub")->events[1], "BudgetAlert");
}
END_TEST

START_TEST(test_cdt_catalog_lookups)
{
    /* paths and names match exactly, by length */
    ck_assert_ptr_null(cdt_catalog_hub_by_path(s_shipped, "/hubs/task", 10));
    ck_assert_ptr_null(cdt_catalog_hub_by_path(s_shipped, "/hubs/tasks/", 12));
    ck_assert_ptr_nonnull(
        cdt_catalog_hub_by_path(s_shipped, "/hubs/tasks?id=1", 11));
    ck_assert_ptr_null(cdt_catalog_hub_by_path(s_shipped, "/HUBS/TASKS", 11));
    ck_assert_ptr_null(cdt_catalog_hub_by_path(s_shipped, "TaskHub", 7));
    ck_assert_ptr_null(cdt_catalog_hub(s_shipped, "taskhub", 7));
    ck_assert_ptr_null(cdt_catalog_hub(s_shipped, "TaskHu", 6));
    ck_assert_ptr_null(cdt_catalog_hub(s_shipped, "", 0));

    const cdt_hub_t *tasks = s_hub("TaskHub");
    const cdt_method_t *m = s_method(tasks, "SubscribeToTask");
    ck_assert_ptr_eq(cdt_hub_method(tasks, "subscribetotask", 15), m);
    ck_assert_ptr_eq(cdt_hub_method(tasks, "SUBSCRIBETOTASK", 15), m);
    ck_assert_ptr_eq(cdt_hub_method(tasks, "SubscribeToTaskType", 15), m);
    ck_assert_ptr_null(cdt_hub_method(tasks, "SubscribeToTas", 14));
    ck_assert_ptr_null(cdt_hub_method(tasks, "SubscribeToTaskX", 16));
    ck_assert_ptr_null(cdt_hub_method(tasks, "", 0));
    ck_assert_ptr_null(
        cdt_hub_method(s_hub("SpendNotificationHub"), "SubscribeToTask", 15));

    ck_assert(cdt_hub_allows_event(tasks, "TaskProgress", 12));
    ck_assert(cdt_hub_allows_event(tasks, "TaskTimedOut", 12));
    ck_assert(!cdt_hub_allows_event(tasks, "taskprogress", 12));
    ck_assert(!cdt_hub_allows_event(tasks, "TaskProgres", 11));
    ck_assert(!cdt_hub_allows_event(tasks, "VideoProgress", 13));
    ck_assert(cdt_hub_allows_event(tasks, "TaskProgressXYZ", 12));
    ck_assert(cdt_hub_allows_event(s_hub("AdminNotificationHub"),
                                   "ProviderHealthChanged", 21));
}
END_TEST

/* ---- validation errors ------------------------------------------------- */

#define HUB "hubs:\n  - name: H\n    path: /h\n"

static const struct {
    const char *text;
    const char *err;
} s_errors[] = {
    {"hubs: []\n", "c.yaml:1: 'hubs' is empty"},
    {"x: 1\n", "c.yaml:1: unknown key 'x'"},
    {"# nothing\n", "c.yaml:1: the catalog lacks 'hubs'"},
    {"- a\n", "c.yaml:1: the catalog must be a mapping"},
    {"hubs: {a: 1}\n", "c.yaml:1: 'hubs' must be a list"},
    {"hubs:\n  - x\n", "c.yaml:2: hubs must be mappings"},
    {HUB "    colour: red\n", "c.yaml:4: unknown key 'colour' in a hub"},
    {"hubs:\n  - path: /h\n", "c.yaml:2: hub lacks 'name'"},
    {"hubs:\n  - name: H\n", "c.yaml:2: hub 'H' lacks 'path'"},
    {"hubs:\n  - name: \"\"\n", "c.yaml:2: 'name' must not be empty"},
    {"hubs:\n  - name: [H]\n", "c.yaml:2: 'name' must be a string"},
    {"hubs:\n  - name: \"A\\tB\"\n",
     "c.yaml:2: 'name' must not contain control characters"},
    {"hubs:\n  - name: a/b\n",
     "c.yaml:2: hub name 'a/b' must not contain '/' or spaces"},
    {"hubs:\n  - name: H\n    path: hubs/x\n",
     "c.yaml:3: hub path 'hubs/x' must start with '/' and contain no spaces, "
     "'?' or '#'"},
    {"hubs:\n  - name: H\n    path: /a?b\n",
     "c.yaml:3: hub path '/a?b' must start with '/' and contain no spaces, "
     "'?' or '#'"},
    {HUB "    auth: password\n",
     "c.yaml:4: 'auth' must be virtual_key or master_key"},
    {HUB "  - name: H\n    path: /h2\n", "c.yaml:4: duplicate hub name 'H'"},
    {HUB "  - name: H2\n    path: /h\n", "c.yaml:4: duplicate hub path '/h'"},
    {HUB "    join_on_connect: vkey\n",
     "c.yaml:4: 'join_on_connect' must be a list of strings"},
    {HUB "    join_on_connect: [\"g-{0}\"]\n",
     "c.yaml:4: join_on_connect group 'g-{0}' cannot use {0}"},
    {HUB "    join_on_connect: [\"g-{ID}\"]\n",
     "c.yaml:4: group template 'g-{ID}' has an unknown placeholder (only {id} "
     "and {0})"},
    {HUB "    join_on_connect: [\"g-}\"]\n",
     "c.yaml:4: group template 'g-}' has a stray '}'"},
    {HUB "    events: [A, B, A]\n", "c.yaml:4: duplicate event 'A'"},
    {HUB "    events: [A, \"\"]\n", "c.yaml:4: 'events' must not be empty"},
    {HUB "    methods: {}\n", "c.yaml:4: 'methods' must be a list"},
    {HUB "    methods: [x]\n", "c.yaml:4: methods must be mappings"},
    {HUB "    methods:\n      - {args: [string]}\n",
     "c.yaml:5: method lacks 'name'"},
    {HUB "    methods:\n      - {name: M, colour: red}\n",
     "c.yaml:5: unknown key 'colour' in a method"},
    {HUB "    methods:\n      - {name: M}\n      - {name: m}\n",
     "c.yaml:6: duplicate method 'm'"},
    {HUB "    methods:\n      - {name: M, args: [float]}\n",
     "c.yaml:5: argument type must be string, int, string_array or any"},
    {HUB "    methods:\n      - {name: M, args: string}\n",
     "c.yaml:5: 'args' must be a list"},
    {HUB "    methods:\n      - {name: M, args: [int, int, int, int, int]}\n",
     "c.yaml:5: 'args' has more than 4 items"},
    {HUB "    methods:\n      - {name: M, action: shout}\n",
     "c.yaml:5: 'action' must be none, join, leave, join_each, leave_each or "
     "send_self"},
    {HUB "    methods:\n      - {name: M, check: owner}\n",
     "c.yaml:5: 'check' must be none or task_owner"},
    {HUB "    methods:\n      - {name: M, action: join}\n",
     "c.yaml:5: method 'M' lacks 'group'"},
    {HUB "    methods:\n      - name: M\n        group: g\n",
     "c.yaml:6: method 'M' has a group but no action"},
    {HUB "    methods:\n      - name: M\n        action: join\n"
         "        group: \"g-{0}\"\n",
     "c.yaml:7: group 'g-{0}' uses {0} but method 'M' takes no arguments"},
    {HUB "    methods:\n      - {name: M, args: [any], action: join,\n"
         "         group: \"g-{0}\"}\n",
     "c.yaml:6: group 'g-{0}' uses {0} but the argument of 'M' may be "
     "anything"},
    {HUB "    methods:\n      - {name: M, args: [string_array], action: "
         "join,\n         group: \"g-{0}\"}\n",
     "c.yaml:6: method 'M': group 'g-{0}' uses a string_array as {0}: use "
     "join_each or leave_each"},
    {HUB "    methods:\n      - {name: M, args: [string], action: join_each,"
         "\n         group: \"g-{0}\"}\n",
     "c.yaml:5: method 'M': join_each and leave_each need a string_array "
     "first argument"},
    {HUB "    methods:\n      - {name: M, args: [string], action: join,\n"
         "         group: \"g-{x}\"}\n",
     "c.yaml:6: group template 'g-{x}' has an unknown placeholder (only {id} "
     "and {0})"},
    {HUB "    methods:\n      - {name: M, args: [any], action: join,\n"
         "         group: g, check: task_owner}\n",
     "c.yaml:6: method 'M': task_owner needs a string or int first argument "
     "(the task id)"},
    {HUB "    methods:\n      - {name: M, check: task_owner}\n",
     "c.yaml:5: method 'M': task_owner needs a string or int first argument "
     "(the task id)"},
    {HUB "    methods:\n      - {name: M, args: [string], action: join,\n"
         "         group: \"g-{0}\",\n         denied: no}\n",
     "c.yaml:7: method 'M': 'not_found' and 'denied' need check task_owner"},
    {HUB "    methods:\n      - {name: M, args: [any], action: send_self,\n"
         "         group: g}\n",
     "c.yaml:5: method 'M': send_self needs an 'event'"},
    {HUB "    events: [E]\n    methods:\n      - {name: M, action: join,\n"
         "         group: g, event: E}\n",
     "c.yaml:7: method 'M': 'event' needs action send_self"},
    {HUB "    events: [E]\n    methods:\n      - {name: M, action: send_self,"
         "\n         group: g,\n         event: F}\n",
     "c.yaml:8: event 'F' is not in the events of hub 'H'"},
    /* events listed after methods are still checked against */
    {HUB "    methods:\n      - {name: M, action: send_self, group: g,\n"
         "         event: F}\n    events: [E]\n",
     "c.yaml:6: event 'F' is not in the events of hub 'H'"},
};

START_TEST(test_cdt_catalog_errors)
{
    const char *text = s_errors[_i].text;
    char err[512] = "";
    cdt_yaml_node_t *root =
        cdt_yaml_parse(text, strlen(text), "c.yaml", err, sizeof err);
    ck_assert_msg(root != NULL, "%s", err);
    cdt_catalog_t *cat = cdt_catalog_from_tree(root, "c.yaml", err, sizeof err);
    cdt_yaml_destroy(&root);
    ck_assert_msg(cat == NULL, "accepted: %s", text);
    ck_assert_str_eq(err, s_errors[_i].err);
}
END_TEST

START_TEST(test_cdt_catalog_minimal_and_defaults)
{
    const char *text =
        HUB "    methods:\n"
            "      - {name: Noop}\n"
            "      - {name: Own, args: [int, any], action: leave,\n"
            "         group: \"o-{0}\", check: task_owner}\n"
            "      - {name: Echo, args: [any], action: send_self,\n"
            "         group: \"vkey-{id}\", event: E}\n"
            "    events: [E]\n";
    char err[512];
    cdt_yaml_node_t *root =
        cdt_yaml_parse(text, strlen(text), "c.yaml", err, sizeof err);
    ck_assert_msg(root != NULL, "%s", err);
    cdt_catalog_t *cat = cdt_catalog_from_tree(root, "c.yaml", err, sizeof err);
    cdt_yaml_destroy(&root);
    ck_assert_msg(cat != NULL, "%s", err);
    const cdt_hub_t *hub = &cat->hubs[0];
    ck_assert_int_eq(hub->auth, CDT_AUTH_VIRTUAL_KEY);
    ck_assert_uint_eq(hub->n_join, 0);
    const cdt_method_t *m = cdt_hub_method(hub, "noop", 4);
    ck_assert_int_eq(m->action, CDT_ACTION_NONE);
    ck_assert_int_eq(m->check, CDT_CHECK_NONE);
    ck_assert_uint_eq(m->n_args, 0);
    ck_assert_ptr_null(m->group);
    m = cdt_hub_method(hub, "own", 3);
    ck_assert_uint_eq(m->n_args, 2);
    ck_assert_int_eq(m->args[1], CDT_ARG_ANY);
    ck_assert_str_eq(m->not_found, "Task not found");
    ck_assert_str_eq(m->denied, "Unauthorized access to task");
    m = cdt_hub_method(hub, "ECHO", 4);
    ck_assert_str_eq(m->event, "E");
    cdt_catalog_destroy(&cat);
    ck_assert_ptr_null(cat);
    cdt_catalog_destroy(&cat);
}
END_TEST

START_TEST(test_cdt_catalog_file_errors)
{
    char path[] = "/tmp/cdt_catalog_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *text = "hubs:\n  - name: A\n    path: /a\n"
                       "  - name: B\n    path: /a\n";
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char err[512], expected[600];
    ck_assert_ptr_null(cdt_catalog_load(path, err, sizeof err));
    snprintf(expected, sizeof expected, "%s:4: duplicate hub path '/a'", path);
    ck_assert_str_eq(err, expected);
    unlink(path);
    ck_assert_ptr_null(
        cdt_catalog_load("/nonexistent/h.yaml", err, sizeof err));
    ck_assert_str_eq(err, "cannot open '/nonexistent/h.yaml': No such file or "
                          "directory");
}
END_TEST

/* ---- group expansion --------------------------------------------------- */

static void
s_expands(const char *tmpl, int64_t id, const char *arg, const char *want)
{
    char *got = cdt_group_expand(tmpl, id, arg, arg ? strlen(arg) : 0);
    ck_assert_msg(got != NULL, "%s refused", tmpl);
    ck_assert_str_eq(got, want);
    free(got);
}

START_TEST(test_cdt_catalog_group_expand)
{
    s_expands("vkey-{id}", 42, NULL, "vkey-42");
    s_expands("admin", 1, NULL, "admin");
    s_expands("", 1, NULL, "");
    s_expands("task-{0}", 7, "abc-123", "task-abc-123");
    s_expands("vkey-{id}-{0}", 7, "video", "vkey-7-video");
    s_expands("webhook-{id}-{0}", 3, "https://x.example/h?a=1",
              "webhook-3-https://x.example/h?a=1");
    s_expands("{0}{0}{id}", -1, "x", "xx-1");
    s_expands("vkey-{id}", INT64_MAX, NULL, "vkey-9223372036854775807");
    s_expands("u-{0}", 1, "caf\xc3\xa9 ok", "u-caf\xc3\xa9 ok");
    /* an argument is ignored where the template has no {0} */
    s_expands("vkey-{id}", 5, "ignored", "vkey-5");

    /* only arg_len bytes are used */
    char *got = cdt_group_expand("g-{0}", 1, "abcdef", 3);
    ck_assert_str_eq(got, "g-abc");
    free(got);

    /* the longest accepted argument, and one byte more */
    char *big = malloc(CDT_GROUP_ARG_MAX + 1);
    memset(big, 'a', CDT_GROUP_ARG_MAX + 1);
    got = cdt_group_expand("g-{0}", 1, big, CDT_GROUP_ARG_MAX);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(strlen(got), CDT_GROUP_ARG_MAX + 2);
    free(got);
    ck_assert_ptr_null(
        cdt_group_expand("g-{0}", 1, big, CDT_GROUP_ARG_MAX + 1));
    free(big);

    ck_assert_ptr_null(cdt_group_expand("task-{0}", 1, NULL, 0));
    ck_assert_ptr_null(cdt_group_expand("task-{0}", 1, "", 0));
    ck_assert_ptr_null(cdt_group_expand("task-{0}", 1, "a\nb", 3));
    ck_assert_ptr_null(cdt_group_expand("task-{0}", 1, "a\0b", 3));
    ck_assert_ptr_null(cdt_group_expand("task-{0}", 1, "\x7f", 1));
    ck_assert_ptr_null(cdt_group_expand("task-{0}", 1, "tab\there", 8));
}
END_TEST

Suite *
cdt_catalog_suite(void)
{
    Suite *s = suite_create("cdt_catalog");
    TCase *tc = tcase_create("shipped");
    tcase_add_checked_fixture(tc, s_load_shipped, s_free_shipped);
    tcase_add_test(tc, test_cdt_catalog_shipped_hubs_and_paths);
    tcase_add_test(tc, test_cdt_catalog_shipped_methods);
    tcase_add_test(tc, test_cdt_catalog_lookups);
    suite_add_tcase(s, tc);
    tc = tcase_create("validation");
    tcase_add_loop_test(tc, test_cdt_catalog_errors, 0,
                        (int)(sizeof s_errors / sizeof s_errors[0]));
    tcase_add_test(tc, test_cdt_catalog_minimal_and_defaults);
    tcase_add_test(tc, test_cdt_catalog_file_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("groups");
    tcase_add_test(tc, test_cdt_catalog_group_expand);
    suite_add_tcase(s, tc);
    return s;
}
