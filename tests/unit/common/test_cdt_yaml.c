/*
 * test_cdt_yaml - the YAML tree: shapes, line numbers, and every refusal
 * (anchors, aliases, tags, duplicate keys, syntax errors) with its line.
 *
 * SPDX-License-Identifier: MIT
 */
#include "common/cdt_yaml.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

Suite *cdt_yaml_suite(void);

static cdt_yaml_node_t *
s_parse(const char *text, char *err, size_t errlen)
{
    /* An exact-size heap copy without a NUL, so ASan catches over-reads. */
    size_t len = strlen(text);
    char *copy = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, text, len);
    cdt_yaml_node_t *root = cdt_yaml_parse(copy, len, "t.yaml", err, errlen);
    free(copy);
    return root;
}

static void
s_expect_error(const char *text, const char *expected)
{
    char err[256] = "";
    cdt_yaml_node_t *root = s_parse(text, err, sizeof err);
    ck_assert_msg(root == NULL, "parsed: %s", text);
    ck_assert_str_eq(err, expected);
}

START_TEST(test_cdt_yaml_block_map_has_lines)
{
    char err[256];
    cdt_yaml_node_t *root = s_parse("# comment\n"
                                    "a: 1\n"
                                    "b:\n"
                                    "  c: \"80\"\n"
                                    "  d: [x, 'y']\n"
                                    "e:\n"
                                    "  - 1\n"
                                    "  - {f: g}\n",
                                    err, sizeof err);
    ck_assert_msg(root != NULL, "%s", err);
    ck_assert_int_eq(root->type, CDT_YAML_MAP);
    ck_assert_uint_eq(root->n, 3);
    ck_assert_str_eq(root->keys[0], "a");
    ck_assert_int_eq(root->key_lines[0], 2);
    ck_assert_int_eq(root->key_lines[1], 3);
    ck_assert_int_eq(root->key_lines[2], 6);

    const cdt_yaml_node_t *a = cdt_yaml_get(root, "a");
    ck_assert_int_eq(a->type, CDT_YAML_SCALAR);
    ck_assert_str_eq(a->value, "1");
    ck_assert(!a->quoted);
    ck_assert_int_eq(a->line, 2);

    const cdt_yaml_node_t *b = cdt_yaml_get(root, "b");
    ck_assert_int_eq(b->type, CDT_YAML_MAP);
    const cdt_yaml_node_t *c = cdt_yaml_get(b, "c");
    ck_assert_str_eq(c->value, "80");
    ck_assert(c->quoted);
    ck_assert_int_eq(c->line, 4);
    ck_assert_int_eq(b->key_lines[1], 5);

    const cdt_yaml_node_t *d = cdt_yaml_get(b, "d");
    ck_assert_int_eq(d->type, CDT_YAML_SEQ);
    ck_assert_uint_eq(d->n, 2);
    ck_assert_str_eq(d->items[0]->value, "x");
    ck_assert(!d->items[0]->quoted);
    ck_assert(d->items[1]->quoted);
    ck_assert_int_eq(d->line, 5);

    const cdt_yaml_node_t *e = cdt_yaml_get(root, "e");
    ck_assert_int_eq(e->type, CDT_YAML_SEQ);
    ck_assert_uint_eq(e->n, 2);
    ck_assert_int_eq(e->items[0]->line, 7);
    ck_assert_int_eq(e->items[1]->type, CDT_YAML_MAP);
    ck_assert_int_eq(e->items[1]->line, 8);
    ck_assert_str_eq(cdt_yaml_get(e->items[1], "f")->value, "g");

    ck_assert_ptr_null(cdt_yaml_get(root, "zz"));
    ck_assert_ptr_null(cdt_yaml_get(a, "a"));
    ck_assert_ptr_null(cdt_yaml_get(NULL, "a"));
    cdt_yaml_destroy(&root);
    ck_assert_ptr_null(root);
    cdt_yaml_destroy(&root); /* NULL is accepted */
}
END_TEST

START_TEST(test_cdt_yaml_multiline_flow_lines)
{
    char err[256];
    cdt_yaml_node_t *root = s_parse("list:\n"
                                    "  - {name: A, args: [string],\n"
                                    "     group: \"g-{0}\"}\n"
                                    "  - {name: B}\n",
                                    err, sizeof err);
    ck_assert_msg(root != NULL, "%s", err);
    const cdt_yaml_node_t *list = cdt_yaml_get(root, "list");
    ck_assert_uint_eq(list->n, 2);
    ck_assert_int_eq(list->items[0]->key_lines[2], 3);
    ck_assert_int_eq(list->items[0]->items[2]->line, 3);
    ck_assert_int_eq(list->items[1]->line, 4);
    cdt_yaml_destroy(&root);
}
END_TEST

START_TEST(test_cdt_yaml_empty_documents_are_empty_maps)
{
    const char *texts[] = {"", "# only a comment\n", "---\n", "\n\n"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char err[256];
        cdt_yaml_node_t *root = s_parse(texts[i], err, sizeof err);
        ck_assert_msg(root != NULL, "%s", err);
        ck_assert_int_eq(root->type, CDT_YAML_MAP);
        ck_assert_uint_eq(root->n, 0);
        cdt_yaml_destroy(&root);
    }
}
END_TEST

START_TEST(test_cdt_yaml_scalar_and_seq_roots)
{
    char err[256];
    cdt_yaml_node_t *root = s_parse("hello\n", err, sizeof err);
    ck_assert_int_eq(root->type, CDT_YAML_SCALAR);
    ck_assert_str_eq(root->value, "hello");
    cdt_yaml_destroy(&root);
    root = s_parse("[1, 2, 3]", err, sizeof err);
    ck_assert_int_eq(root->type, CDT_YAML_SEQ);
    ck_assert_uint_eq(root->n, 3);
    ck_assert_str_eq(root->items[2]->value, "3");
    cdt_yaml_destroy(&root);
    root = s_parse("\"\"", err, sizeof err);
    ck_assert_int_eq(root->type, CDT_YAML_SCALAR);
    ck_assert_str_eq(root->value, "");
    ck_assert(root->quoted);
    cdt_yaml_destroy(&root);
}
END_TEST

START_TEST(test_cdt_yaml_escapes_and_block_scalars)
{
    char err[256];
    cdt_yaml_node_t *root = s_parse("a: \"x\\ty\\u00e9\"\n"
                                    "b: |\n"
                                    "  line1\n"
                                    "  line2\n"
                                    "c: 'it''s'\n",
                                    err, sizeof err);
    ck_assert_msg(root != NULL, "%s", err);
    ck_assert_str_eq(cdt_yaml_get(root, "a")->value, "x\ty\xc3\xa9");
    ck_assert_str_eq(cdt_yaml_get(root, "b")->value, "line1\nline2\n");
    ck_assert(cdt_yaml_get(root, "b")->quoted);
    ck_assert_str_eq(cdt_yaml_get(root, "c")->value, "it's");
    cdt_yaml_destroy(&root);
}
END_TEST

START_TEST(test_cdt_yaml_large_and_nested)
{
    /* growth of long sequences and mappings */
    size_t n = 5000;
    char *text = malloc(n * 16 + 16);
    size_t len = 0;
    text[len++] = '[';
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(text + len, "%s%zu", i ? "," : "", i);
    text[len++] = ']';
    char err[256];
    cdt_yaml_node_t *root =
        cdt_yaml_parse(text, len, "t.yaml", err, sizeof err);
    ck_assert_msg(root != NULL, "%s", err);
    ck_assert_uint_eq(root->n, n);
    ck_assert_str_eq(root->items[n - 1]->value, "4999");
    cdt_yaml_destroy(&root);

    len = 0;
    for (size_t i = 0; i < 500; i++)
        len += (size_t)sprintf(text + len, "k%zu: v%zu\n", i, i);
    root = cdt_yaml_parse(text, len, "t.yaml", err, sizeof err);
    ck_assert_msg(root != NULL, "%s", err);
    ck_assert_uint_eq(root->n, 500);
    ck_assert_str_eq(cdt_yaml_get(root, "k499")->value, "v499");
    ck_assert_int_eq(root->key_lines[499], 500);
    cdt_yaml_destroy(&root);
    free(text);

    /* nesting up to the limit is fine */
    char deep[200];
    memset(deep, '[', 60);
    memset(deep + 60, ']', 60);
    root = cdt_yaml_parse(deep, 120, "t.yaml", err, sizeof err);
    ck_assert_msg(root != NULL, "%s", err);
    cdt_yaml_destroy(&root);
}
END_TEST

START_TEST(test_cdt_yaml_bom_and_crlf)
{
    char err[256];
    cdt_yaml_node_t *root = s_parse("\xef\xbb\xbf"
                                    "a: 1\r\nb: 2\r\n",
                                    err, sizeof err);
    ck_assert_msg(root != NULL, "%s", err);
    ck_assert_str_eq(cdt_yaml_get(root, "b")->value, "2");
    ck_assert_int_eq(root->key_lines[1], 2);
    cdt_yaml_destroy(&root);
}
END_TEST

START_TEST(test_cdt_yaml_duplicate_keys)
{
    s_expect_error("a: 1\nb: 2\na: 3\n", "t.yaml:3: duplicate key 'a'");
    s_expect_error("x:\n  a: 1\n  a: 2\n", "t.yaml:3: duplicate key 'a'");
    s_expect_error("- {k: 1, k: 2}\n", "t.yaml:1: duplicate key 'k'");
    /* The same key in different mappings is fine. */
    char err[256];
    cdt_yaml_node_t *root = s_parse("a: {k: 1}\nb: {k: 2}\n", err, sizeof err);
    ck_assert_msg(root != NULL, "%s", err);
    cdt_yaml_destroy(&root);
}
END_TEST

START_TEST(test_cdt_yaml_refuses_anchors_aliases_tags)
{
    s_expect_error("a: &x 1\n", "t.yaml:1: anchors are not supported");
    s_expect_error("a: 1\nb: &y {c: 1}\n",
                   "t.yaml:2: anchors are not supported");
    s_expect_error("a: &z [1]\n", "t.yaml:1: anchors are not supported");
    s_expect_error("a: 1\nb:\n  - *x\n", "t.yaml:3: aliases are not supported");
    s_expect_error("a: !!str 1\n", "t.yaml:1: tags are not supported");
    s_expect_error("\n\na: !custom {b: 1}\n",
                   "t.yaml:3: tags are not supported");
    s_expect_error("a: !!seq [1]\n", "t.yaml:1: tags are not supported");
    s_expect_error("&k a: 1\n", "t.yaml:1: anchors are not supported");
}
END_TEST

START_TEST(test_cdt_yaml_other_refusals)
{
    s_expect_error("? [a, b]\n: 1\n", "t.yaml:1: mapping keys must be scalars");
    s_expect_error("a: 1\n---\nb: 2\n", "t.yaml:2: more than one document");
    s_expect_error("a: \"x\\0y\"\n", "t.yaml:1: NUL character in scalar");

    char deep[300];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    deep[200] = '\0';
    char err[256];
    ck_assert_ptr_null(s_parse(deep, err, sizeof err));
    ck_assert_msg(strstr(err, "nesting deeper than") != NULL, "%s", err);
    ck_assert_msg(strncmp(err, "t.yaml:1: ", 10) == 0, "%s", err);
}
END_TEST

START_TEST(test_cdt_yaml_syntax_errors_name_the_line)
{
    char err[256];
    ck_assert_ptr_null(s_parse("a: 1\nb: [1, 2\nc: 3\n", err, sizeof err));
    ck_assert_msg(strncmp(err, "t.yaml:", 7) == 0, "%s", err);
    ck_assert_ptr_null(s_parse("a: 1\n  b: 2\n", err, sizeof err));
    ck_assert_msg(strncmp(err, "t.yaml:2: ", 10) == 0, "%s", err);
    ck_assert_ptr_null(s_parse("a: 1\n\tb: 2\n", err, sizeof err));
    ck_assert_msg(strncmp(err, "t.yaml:2: ", 10) == 0, "%s", err);
    ck_assert_ptr_null(s_parse("a: \"unterminated\n", err, sizeof err));
    ck_assert_msg(strncmp(err, "t.yaml:", 7) == 0, "%s", err);
    /* invalid UTF-8 */
    ck_assert_ptr_null(s_parse("a: \xff\xfe\n", err, sizeof err));
    ck_assert_msg(strncmp(err, "t.yaml:", 7) == 0, "%s", err);
    /* a small error buffer is truncated, never overrun */
    char small[8];
    ck_assert_ptr_null(s_parse("a: 1\na: 2\n", small, sizeof small));
    ck_assert_str_eq(small, "t.yaml:");
    ck_assert_ptr_null(s_parse("a: 1\na: 2\n", NULL, 0));
}
END_TEST

START_TEST(test_cdt_yaml_every_prefix_is_handled)
{
    /* Cut a valid document at every length: each prefix either parses or
     * fails with a located message, never crashes or leaks. */
    const char *text = "a: 1\nb:\n  c: [x, \"y\"]\n  d: {e: f}\n";
    size_t len = strlen(text);
    for (size_t cut = 0; cut <= len; cut++) {
        char *copy = malloc(cut ? cut : 1);
        memcpy(copy, text, cut);
        char err[256] = "";
        cdt_yaml_node_t *root =
            cdt_yaml_parse(copy, cut, "t.yaml", err, sizeof err);
        if (!root)
            ck_assert_msg(strncmp(err, "t.yaml:", 7) == 0, "%s", err);
        cdt_yaml_destroy(&root);
        free(copy);
    }
}
END_TEST

START_TEST(test_cdt_yaml_load_files)
{
    char path[] = "/tmp/cdt_yaml_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *text = "x: 1\ny: 2\ny: 3\n";
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char err[256];
    ck_assert_ptr_null(cdt_yaml_load(path, err, sizeof err));
    char expected[300];
    snprintf(expected, sizeof expected, "%s:3: duplicate key 'y'", path);
    ck_assert_str_eq(err, expected);
    unlink(path);

    ck_assert_ptr_null(cdt_yaml_load("/nonexistent/cdt.yaml", err, sizeof err));
    ck_assert_str_eq(err, "cannot open '/nonexistent/cdt.yaml': No such "
                          "file or directory");

    cdt_yaml_node_t *root = cdt_yaml_load("etc/conduit.yaml", err, sizeof err);
    ck_assert_msg(root != NULL, "%s", err);
    ck_assert_int_eq(root->type, CDT_YAML_MAP);
    ck_assert_ptr_nonnull(cdt_yaml_get(root, "gateway"));
    cdt_yaml_destroy(&root);
}
END_TEST

Suite *
cdt_yaml_suite(void)
{
    Suite *s = suite_create("cdt_yaml");
    TCase *tc = tcase_create("tree");
    tcase_add_test(tc, test_cdt_yaml_block_map_has_lines);
    tcase_add_test(tc, test_cdt_yaml_multiline_flow_lines);
    tcase_add_test(tc, test_cdt_yaml_empty_documents_are_empty_maps);
    tcase_add_test(tc, test_cdt_yaml_scalar_and_seq_roots);
    tcase_add_test(tc, test_cdt_yaml_escapes_and_block_scalars);
    tcase_add_test(tc, test_cdt_yaml_large_and_nested);
    tcase_add_test(tc, test_cdt_yaml_bom_and_crlf);
    suite_add_tcase(s, tc);
    tc = tcase_create("refusals");
    tcase_add_test(tc, test_cdt_yaml_duplicate_keys);
    tcase_add_test(tc, test_cdt_yaml_refuses_anchors_aliases_tags);
    tcase_add_test(tc, test_cdt_yaml_other_refusals);
    tcase_add_test(tc, test_cdt_yaml_syntax_errors_name_the_line);
    tcase_add_test(tc, test_cdt_yaml_every_prefix_is_handled);
    suite_add_tcase(s, tc);
    tc = tcase_create("files");
    tcase_add_test(tc, test_cdt_yaml_load_files);
    suite_add_tcase(s, tc);
    return s;
}
