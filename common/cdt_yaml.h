/*
 * cdt_yaml - a YAML document as a small tree with line numbers.
 *
 * The only module that calls libyaml. Configuration and the hub catalog
 * both read their files through it, so that every error can name
 * `file:line`. Supports block and flow mappings, sequences and scalars;
 * anchors, aliases and tags are rejected (a configuration has no use for
 * them and they make errors hard to place).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef CDT_YAML_H
#define CDT_YAML_H

#include <stdbool.h>
#include <stddef.h>

enum cdt_yaml_type {
    CDT_YAML_SCALAR = 1,
    CDT_YAML_SEQ,
    CDT_YAML_MAP
};

typedef struct cdt_yaml_node cdt_yaml_node_t;
struct cdt_yaml_node {
    enum cdt_yaml_type type;
    int line;                /* 1-based line where the node starts */
    char *value;             /* SCALAR: the text (owned) */
    bool quoted;             /* SCALAR: written in quotes ("80" vs 80) */
    size_t n;                /* SEQ: items; MAP: pairs */
    cdt_yaml_node_t **items; /* SEQ items, or MAP values (owned) */
    char **keys;             /* MAP keys (owned; scalars only) */
    int *key_lines;          /* MAP: line of each key */
};

/* Loads the file's single document. Returns the root (caller owns, destroy
 * with cdt_yaml_destroy), or NULL with "file:line: reason" in err. An empty
 * file gives an empty MAP. Duplicate keys in one mapping are an error. */
cdt_yaml_node_t *cdt_yaml_load(const char *path, char *err, size_t errlen);

/* The same from a string (name is used in messages). */
cdt_yaml_node_t *cdt_yaml_parse(const char *text, size_t len, const char *name,
                                char *err, size_t errlen);

void cdt_yaml_destroy(cdt_yaml_node_t **self_p);

/* The value of key in a MAP node, or NULL (also when map is not a MAP). */
const cdt_yaml_node_t *cdt_yaml_get(const cdt_yaml_node_t *map,
                                    const char *key);

#endif
