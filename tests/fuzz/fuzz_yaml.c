/*
 * fuzz_yaml - libFuzzer target for the YAML tree and both of its readers.
 *
 * Each input is parsed by cdt_yaml_parse, then validated as a hub catalog
 * and as a configuration. Beyond "no crash, no leak", it checks that every
 * error names the file and a line, that a loaded catalog's templates
 * expand, and that a configuration's dump reloads to an identical dump.
 *
 * SPDX-License-Identifier: MIT
 */
#include "common/cdt_catalog.h"
#include "common/cdt_config.h"
#include "common/cdt_yaml.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S_NAME "fuzz.yaml"

static void
s_check_error(const char *err)
{
    /* "fuzz.yaml:<line>: reason" with line >= 1 */
    size_t n = strlen(S_NAME);
    if (strncmp(err, S_NAME ":", n + 1) != 0 || err[n + 1] < '1' ||
        err[n + 1] > '9' || !strstr(err + n + 1, ": ")) {
        fprintf(stderr, "badly located error: %s\n", err);
        abort();
    }
}

static void
s_catalog(const cdt_yaml_node_t *root)
{
    char err[512] = "";
    cdt_catalog_t *cat = cdt_catalog_from_tree(root, S_NAME, err, sizeof err);
    if (!cat) {
        s_check_error(err);
        return;
    }
    for (size_t i = 0; i < cat->n_hubs; i++) {
        const cdt_hub_t *hub = &cat->hubs[i];
        if (cdt_catalog_hub(cat, hub->name, strlen(hub->name)) != hub ||
            cdt_catalog_hub_by_path(cat, hub->path, strlen(hub->path)) != hub)
            abort();
        for (size_t j = 0; j < hub->n_join; j++) {
            char *g = cdt_group_expand(hub->join_on_connect[j], 7, NULL, 0);
            if (!g)
                abort();
            free(g);
        }
        for (size_t j = 0; j < hub->n_methods; j++) {
            const cdt_method_t *m = &hub->methods[j];
            if (cdt_hub_method(hub, m->name, strlen(m->name)) != m)
                abort();
            if (m->group) {
                char *g = cdt_group_expand(m->group, 7, "arg", 3);
                if (!g)
                    abort();
                free(g);
            }
            if (m->event &&
                !cdt_hub_allows_event(hub, m->event, strlen(m->event)))
                abort();
        }
    }
    cdt_catalog_destroy(&cat);
}

static char *
s_dump(const cdt_config_t *cfg, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (!f)
        abort();
    cdt_config_dump(cfg, f);
    fclose(f);
    return text;
}

static void
s_config(const cdt_yaml_node_t *root)
{
    char err[512] = "";
    cdt_config_t cfg;
    cdt_config_init(&cfg);
    if (cdt_config_from_tree(&cfg, root, S_NAME, err, sizeof err) < 0) {
        s_check_error(err);
        cdt_config_release(&cfg);
        return;
    }
    size_t len1 = 0, len2 = 0;
    char *first = s_dump(&cfg, &len1);
    cdt_yaml_node_t *again =
        cdt_yaml_parse(first, len1, S_NAME, err, sizeof err);
    if (!again) {
        fprintf(stderr, "dump does not parse: %s\n%s", err, first);
        abort();
    }
    cdt_config_t cfg2;
    cdt_config_init(&cfg2);
    if (cdt_config_from_tree(&cfg2, again, S_NAME, err, sizeof err) < 0) {
        fprintf(stderr, "dump does not load: %s\n%s", err, first);
        abort();
    }
    char *second = s_dump(&cfg2, &len2);
    if (len1 != len2 || memcmp(first, second, len1) != 0) {
        fprintf(stderr, "dump changed on reload:\n%s\n---\n%s", first, second);
        abort();
    }
    free(first);
    free(second);
    cdt_yaml_destroy(&again);
    cdt_config_release(&cfg2);
    cdt_config_release(&cfg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512] = "";
    cdt_yaml_node_t *root =
        cdt_yaml_parse((const char *)data, size, S_NAME, err, sizeof err);
    if (!root) {
        s_check_error(err);
        return 0;
    }
    s_catalog(root);
    s_config(root);
    cdt_yaml_destroy(&root);
    return 0;
}
