/*
 * cdt_yaml - a YAML document as a small tree with line numbers.
 *
 * Built from libyaml's event stream: each node remembers the line of its
 * first event so that the configuration and catalog loaders can name
 * `file:line` in every error. Nesting is bounded so that a hostile file
 * cannot exhaust the stack of the recursive builder.
 *
 * SPDX-License-Identifier: MIT
 */
#include "common/cdt_yaml.h"

#include "common/cdt_mem.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

/* Deeper than any configuration needs; keeps recursion bounded. */
#define S_MAX_DEPTH 64

/* Files larger than this are not configuration. */
#define S_MAX_FILE_BYTES (16 * 1024 * 1024)

typedef struct {
    yaml_parser_t parser;
    const char *name;
    char *err;
    size_t errlen;
} s_ctx_t;

static void s_fail(s_ctx_t *ctx, size_t line0, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
s_fail(s_ctx_t *ctx, size_t line0, const char *fmt, ...)
{
    if (!ctx->err || ctx->errlen == 0)
        return;
    int n = snprintf(ctx->err, ctx->errlen, "%s:%zu: ", ctx->name, line0 + 1);
    if (n < 0 || (size_t)n >= ctx->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err + n, ctx->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

/* Fetches the next event, turning a libyaml error into our message. */
static int
s_next(s_ctx_t *ctx, yaml_event_t *ev)
{
    if (yaml_parser_parse(&ctx->parser, ev))
        return 0;
    const char *problem =
        ctx->parser.problem ? ctx->parser.problem : "invalid YAML";
    s_fail(ctx, ctx->parser.problem_mark.line, "%s", problem);
    return -1;
}

static cdt_yaml_node_t *
s_node_new(enum cdt_yaml_type type, const yaml_event_t *ev)
{
    cdt_yaml_node_t *node = cdt_xcalloc(1, sizeof *node);
    node->type = type;
    node->line = (int)ev->start_mark.line + 1;
    return node;
}

/* Anchors, aliases and tags are refused: see the header. */
static int
s_check_plain(s_ctx_t *ctx, const yaml_event_t *ev)
{
    const yaml_char_t *anchor = NULL;
    const yaml_char_t *tag = NULL;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
        break;
    case YAML_ALIAS_EVENT:
        s_fail(ctx, ev->start_mark.line, "aliases are not supported");
        return -1;
    default:
        s_fail(ctx, ev->start_mark.line, "unexpected YAML event");
        return -1;
    }
    if (anchor) {
        s_fail(ctx, ev->start_mark.line, "anchors are not supported");
        return -1;
    }
    if (tag) {
        s_fail(ctx, ev->start_mark.line, "tags are not supported");
        return -1;
    }
    return 0;
}

static cdt_yaml_node_t *s_build(s_ctx_t *ctx, yaml_event_t *ev, int depth);

static cdt_yaml_node_t *
s_build_scalar(s_ctx_t *ctx, const yaml_event_t *ev)
{
    const char *text = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (memchr(text, '\0', len)) {
        s_fail(ctx, ev->start_mark.line, "NUL character in scalar");
        return NULL;
    }
    cdt_yaml_node_t *node = s_node_new(CDT_YAML_SCALAR, ev);
    node->value = cdt_xstrndup(text, len);
    node->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    return node;
}

static void
s_grow(cdt_yaml_node_t *node, size_t *cap)
{
    if (node->n < *cap)
        return;
    *cap = *cap ? *cap * 2 : 4;
    node->items = cdt_xrealloc(node->items, *cap * sizeof *node->items);
    if (node->type == CDT_YAML_MAP) {
        node->keys = cdt_xrealloc(node->keys, *cap * sizeof *node->keys);
        node->key_lines =
            cdt_xrealloc(node->key_lines, *cap * sizeof *node->key_lines);
    }
}

static cdt_yaml_node_t *
s_build_seq(s_ctx_t *ctx, const yaml_event_t *start, int depth)
{
    cdt_yaml_node_t *node = s_node_new(CDT_YAML_SEQ, start);
    size_t cap = 0;
    for (;;) {
        yaml_event_t ev;
        if (s_next(ctx, &ev) < 0)
            goto fail;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return node;
        }
        cdt_yaml_node_t *item = s_build(ctx, &ev, depth + 1);
        yaml_event_delete(&ev);
        if (!item)
            goto fail;
        s_grow(node, &cap);
        node->items[node->n++] = item;
    }
fail:
    cdt_yaml_destroy(&node);
    return NULL;
}

static cdt_yaml_node_t *
s_build_map(s_ctx_t *ctx, const yaml_event_t *start, int depth)
{
    cdt_yaml_node_t *node = s_node_new(CDT_YAML_MAP, start);
    size_t cap = 0;
    for (;;) {
        yaml_event_t ev;
        if (s_next(ctx, &ev) < 0)
            goto fail;
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            return node;
        }
        if (s_check_plain(ctx, &ev) < 0) {
            yaml_event_delete(&ev);
            goto fail;
        }
        if (ev.type != YAML_SCALAR_EVENT) {
            s_fail(ctx, ev.start_mark.line, "mapping keys must be scalars");
            yaml_event_delete(&ev);
            goto fail;
        }
        cdt_yaml_node_t *key = s_build_scalar(ctx, &ev);
        yaml_event_delete(&ev);
        if (!key)
            goto fail;
        for (size_t i = 0; i < node->n; i++) {
            if (strcmp(node->keys[i], key->value) == 0) {
                s_fail(ctx, (size_t)key->line - 1, "duplicate key '%s'",
                       key->value);
                cdt_yaml_destroy(&key);
                goto fail;
            }
        }
        /* The key is owned by the node from here on, so that a failing
         * value unwinds through one path. */
        s_grow(node, &cap);
        node->keys[node->n] = key->value;
        node->key_lines[node->n] = key->line;
        key->value = NULL;
        cdt_yaml_destroy(&key);
        if (s_next(ctx, &ev) < 0) {
            free(node->keys[node->n]);
            goto fail;
        }
        cdt_yaml_node_t *value = s_build(ctx, &ev, depth + 1);
        yaml_event_delete(&ev);
        if (!value) {
            free(node->keys[node->n]);
            goto fail;
        }
        node->items[node->n++] = value;
    }
fail:
    cdt_yaml_destroy(&node);
    return NULL;
}

/* Builds the node that starts with ev (which the caller deletes). */
static cdt_yaml_node_t *
s_build(s_ctx_t *ctx, yaml_event_t *ev, int depth)
{
    if (s_check_plain(ctx, ev) < 0)
        return NULL;
    if (depth > S_MAX_DEPTH) {
        s_fail(ctx, ev->start_mark.line, "nesting deeper than %d levels",
               S_MAX_DEPTH);
        return NULL;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return s_build_scalar(ctx, ev);
    case YAML_SEQUENCE_START_EVENT:
        return s_build_seq(ctx, ev, depth);
    case YAML_MAPPING_START_EVENT:
        return s_build_map(ctx, ev, depth);
    default:
        return NULL; /* s_check_plain refused it */
    }
}

/* Expects an event of the given type and discards it. */
static int
s_expect(s_ctx_t *ctx, yaml_event_type_t type, const char *what)
{
    yaml_event_t ev;
    if (s_next(ctx, &ev) < 0)
        return -1;
    int rc = 0;
    if (ev.type != type) {
        s_fail(ctx, ev.start_mark.line, "%s", what);
        rc = -1;
    }
    yaml_event_delete(&ev);
    return rc;
}

cdt_yaml_node_t *
cdt_yaml_parse(const char *text, size_t len, const char *name, char *err,
               size_t errlen)
{
    s_ctx_t ctx = {
        .name = name ? name : "<string>", .err = err, .errlen = errlen};
    if (err && errlen)
        err[0] = '\0';
    if (!yaml_parser_initialize(&ctx.parser)) {
        s_fail(&ctx, 0, "cannot initialise the YAML parser");
        return NULL;
    }
    yaml_parser_set_input_string(&ctx.parser, (const unsigned char *)text, len);
    cdt_yaml_node_t *root = NULL;
    yaml_event_t ev;
    if (s_expect(&ctx, YAML_STREAM_START_EVENT, "expected a YAML stream") < 0)
        goto fail;
    if (s_next(&ctx, &ev) < 0)
        goto fail;
    if (ev.type == YAML_STREAM_END_EVENT) {
        /* Nothing but comments: an empty configuration. */
        root = s_node_new(CDT_YAML_MAP, &ev);
        root->line = 1; /* not the end of the trailing comments */
        yaml_event_delete(&ev);
        yaml_parser_delete(&ctx.parser);
        return root;
    }
    yaml_event_delete(&ev); /* DOCUMENT-START */
    if (s_next(&ctx, &ev) < 0)
        goto fail;
    root = s_build(&ctx, &ev, 0);
    yaml_event_delete(&ev);
    if (!root)
        goto fail;
    if (root->type == CDT_YAML_SCALAR && !root->quoted &&
        root->value[0] == '\0') {
        /* "---" alone: an empty document is an empty mapping. */
        free(root->value);
        root->value = NULL;
        root->type = CDT_YAML_MAP;
    }
    if (s_expect(&ctx, YAML_DOCUMENT_END_EVENT, "expected end of document") < 0)
        goto fail;
    if (s_expect(&ctx, YAML_STREAM_END_EVENT, "more than one document") < 0)
        goto fail;
    yaml_parser_delete(&ctx.parser);
    return root;
fail:
    cdt_yaml_destroy(&root);
    yaml_parser_delete(&ctx.parser);
    return NULL;
}

cdt_yaml_node_t *
cdt_yaml_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    size_t cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 8192;
            text = cdt_xrealloc(text, cap);
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (len > S_MAX_FILE_BYTES) {
            snprintf(err, errlen, "cannot read '%s': larger than %d bytes",
                     path, S_MAX_FILE_BYTES);
            goto fail;
        }
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
        goto fail;
    }
    fclose(f);
    cdt_yaml_node_t *root = cdt_yaml_parse(text, len, path, err, errlen);
    free(text);
    return root;
fail:
    free(text);
    fclose(f);
    return NULL;
}

void
cdt_yaml_destroy(cdt_yaml_node_t **self_p)
{
    assert(self_p);
    cdt_yaml_node_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->n; i++) {
        cdt_yaml_destroy(&self->items[i]);
        if (self->keys)
            free(self->keys[i]);
    }
    free(self->items);
    free(self->keys);
    free(self->key_lines);
    free(self->value);
    free(self);
    *self_p = NULL;
}

const cdt_yaml_node_t *
cdt_yaml_get(const cdt_yaml_node_t *map, const char *key)
{
    if (!map || map->type != CDT_YAML_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0)
            return map->items[i];
    return NULL;
}
