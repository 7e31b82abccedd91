/*
 * cdt_config - the one configuration file (etc/conduit.yaml).
 *
 * Everything about a key lives in one row of s_opts: its dotted name, its
 * type, where it goes in cdt_config_t, its default (written as the YAML
 * text of etc/conduit.yaml, and parsed by the same code as the file, so
 * defaults cannot escape validation) and its range. Defaults, the file,
 * -o overrides and --dump-config all walk that table.
 *
 * SPDX-License-Identifier: MIT
 */
#include "common/cdt_config.h"

#include "common/cdt_clock.h"
#define CDT_LOG_MODULE "config"
#include "common/cdt_log.h"
#include "common/cdt_mem.h"
#include "common/cdt_yaml.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    S_STR = 1, /* char * */
    S_LEVEL,   /* char *, a log level name */
    S_HASH,    /* char *, "" or 64 lowercase hex digits */
    S_INT,     /* int64_t in [min, max] */
    S_BOOL,    /* bool */
    S_DOUBLE,  /* double in [min, max] */
    S_INTS,    /* int64_t[CDT_CONFIG_MAX_THRESHOLDS], ascending */
    S_STRS,    /* char **, NULL-terminated */
} s_type_t;

typedef struct {
    const char *key;
    s_type_t type;
    size_t offset;
    const char *def; /* YAML text */
    int64_t min;
    int64_t max;
} s_opt_t;

#define OFF(field) offsetof(cdt_config_t, field)
#define S_DAY_MS   INT64_C(86400000)
#define S_MIB      INT64_C(1048576)

static const s_opt_t s_opts[] = {
    {"log.level", S_LEVEL, OFF(log_level), "info", 0, 0},

    {"broker.ingress", S_STR, OFF(broker_ingress), "tcp://127.0.0.1:5570", 0,
     0},
    {"broker.ingress_ack", S_STR, OFF(broker_ingress_ack),
     "tcp://127.0.0.1:5571", 0, 0},
    {"broker.gateway_link", S_STR, OFF(broker_gateway_link),
     "tcp://127.0.0.1:5572", 0, 0},
    {"broker.catalog", S_STR, OFF(broker_catalog), "hubs.yaml", 0, 0},
    {"broker.store", S_STR, OFF(broker_store), "../var/store", 0, 0},
    {"broker.master_key_hash", S_HASH, OFF(broker_master_key_hash), "\"\"", 0,
     0},
    {"broker.heartbeat_ms", S_INT, OFF(broker_heartbeat_ms), "1000", 1,
     S_DAY_MS},
    {"broker.gateway_timeout_ms", S_INT, OFF(broker_gateway_timeout_ms), "5000",
     1, S_DAY_MS},
    {"broker.max_ingress_bytes", S_INT, OFF(broker_max_ingress_bytes),
     "1048576", 64, 256 * S_MIB},
    {"broker.max_conns_per_key", S_INT, OFF(broker_max_conns_per_key), "100", 1,
     INT64_C(1000000000)},
    {"broker.max_conns_total", S_INT, OFF(broker_max_conns_total), "1000000", 1,
     INT64_C(1000000000)},
    {"broker.curve_secret_cert", S_STR, OFF(broker_curve_secret_cert), "\"\"",
     0, 0},
    {"broker.curve_clients_dir", S_STR, OFF(broker_curve_clients_dir), "\"\"",
     0, 0},

    {"gateway.listen", S_STR, OFF(gateway_listen), "127.0.0.1:5000", 0, 0},
    {"gateway.broker", S_STR, OFF(gateway_broker), "tcp://127.0.0.1:5572", 0,
     0},
    {"gateway.name", S_STR, OFF(gateway_name), "\"\"", 0, 0},
    {"gateway.reuseport", S_BOOL, OFF(gateway_reuseport), "true", 0, 0},
    {"gateway.keepalive_ms", S_INT, OFF(gateway_keepalive_ms), "15000", 1,
     S_DAY_MS},
    {"gateway.client_timeout_ms", S_INT, OFF(gateway_client_timeout_ms),
     "30000", 1, S_DAY_MS},
    {"gateway.handshake_timeout_ms", S_INT, OFF(gateway_handshake_timeout_ms),
     "15000", 1, S_DAY_MS},
    {"gateway.negotiate_ttl_ms", S_INT, OFF(gateway_negotiate_ttl_ms), "15000",
     1, S_DAY_MS},
    {"gateway.invoke_timeout_ms", S_INT, OFF(gateway_invoke_timeout_ms), "5000",
     1, S_DAY_MS},
    {"gateway.max_message_bytes", S_INT, OFF(gateway_max_message_bytes),
     "1048576", 64, 256 * S_MIB},
    {"gateway.max_queue_bytes", S_INT, OFF(gateway_max_queue_bytes), "1048576",
     1024, 1024 * S_MIB},
    {"gateway.max_connections", S_INT, OFF(gateway_max_connections), "19000", 1,
     INT64_C(10000000)},
    {"gateway.max_header_bytes", S_INT, OFF(gateway_max_header_bytes), "16384",
     1024, S_MIB},
    {"gateway.rx_buffer_bytes", S_INT, OFF(gateway_rx_buffer_bytes), "512", 128,
     16 * S_MIB},
    {"gateway.invocations_per_sec", S_INT, OFF(gateway_invocations_per_sec),
     "50", 1, INT64_C(1000000)},
    {"gateway.connects_per_ip_per_sec", S_INT,
     OFF(gateway_connects_per_ip_per_sec), "500", 1, INT64_C(1000000)},
    {"gateway.cors_origins", S_STRS, OFF(gateway_cors_origins), "[]", 0, 0},
    {"gateway.static_dir", S_STR, OFF(gateway_static_dir), "../www", 0, 0},
    {"gateway.tls_cert", S_STR, OFF(gateway_tls_cert), "\"\"", 0, 0},
    {"gateway.tls_key", S_STR, OFF(gateway_tls_key), "\"\"", 0, 0},
    {"gateway.curve_cert", S_STR, OFF(gateway_curve_cert), "\"\"", 0, 0},
    {"gateway.curve_server_public", S_STR, OFF(gateway_curve_server_public),
     "\"\"", 0, 0},

    {"spend.window_ms", S_INT, OFF(spend_window_ms), "1000", 0, S_DAY_MS},
    {"spend.thresholds", S_INTS, OFF(spend_thresholds), "[80, 90, 100]", 1,
     1000},
    {"spend.rearm_percent", S_INT, OFF(spend_rearm_percent), "50", 0, 1000},
    {"spend.unusual_short_ms", S_INT, OFF(spend_unusual_short_ms), "300000", 1,
     30 * S_DAY_MS},
    {"spend.unusual_long_ms", S_INT, OFF(spend_unusual_long_ms), "3600000", 1,
     30 * S_DAY_MS},
    {"spend.unusual_multiple", S_DOUBLE, OFF(spend_unusual_multiple), "3.0", 1,
     1000},
    {"spend.unusual_min_samples", S_INT, OFF(spend_unusual_min_samples), "5", 1,
     INT64_C(1000000)},
    {"spend.unusual_cooldown_ms", S_INT, OFF(spend_unusual_cooldown_ms),
     "3600000", 0, 30 * S_DAY_MS},

    {"health.hysteresis", S_INT, OFF(health_hysteresis), "3", 1, 1000},

    {"tasks.progress_window_ms", S_INT, OFF(tasks_progress_window_ms), "100", 0,
     S_DAY_MS},
    {"tasks.retention_ms", S_INT, OFF(tasks_retention_ms), "86400000", 1,
     3650 * S_DAY_MS},
};

#define S_N_OPTS (sizeof s_opts / sizeof s_opts[0])

/* Where errors go: name is the file (NULL for -o overrides, whose
 * messages name the key alone). */
typedef struct {
    const char *name;
    char *err;
    size_t errlen;
} s_where_t;

static int s_fail(const s_where_t *w, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
s_fail(const s_where_t *w, int line, const char *fmt, ...)
{
    if (!w->err || w->errlen == 0)
        return -1;
    int n = 0;
    if (w->name)
        n = snprintf(w->err, w->errlen, "%s:%d: ", w->name, line);
    if (n < 0 || (size_t)n >= w->errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err + n, w->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- scalar parsing ------------------------------------------------ */

static bool
s_empty_plain(const cdt_yaml_node_t *node)
{
    return node->type == CDT_YAML_SCALAR && !node->quoted &&
           node->value[0] == '\0';
}

static int
s_parse_int(const cdt_yaml_node_t *node, int64_t *out)
{
    if (node->type != CDT_YAML_SCALAR || node->quoted)
        return -1;
    const char *s = node->value;
    const char *digits = (*s == '-' || *s == '+') ? s + 1 : s;
    if (*digits < '0' || *digits > '9')
        return -1;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno || *end != '\0')
        return -1;
    *out = (int64_t)v;
    return 0;
}

static int
s_parse_bool(const cdt_yaml_node_t *node, bool *out)
{
    if (node->type != CDT_YAML_SCALAR || node->quoted)
        return -1;
    const char *s = node->value;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
        *out = true;
        return 0;
    }
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
        *out = false;
        return 0;
    }
    return -1;
}

static int
s_parse_double(const cdt_yaml_node_t *node, double *out)
{
    if (node->type != CDT_YAML_SCALAR || node->quoted)
        return -1;
    const char *s = node->value;
    const char *digits = (*s == '-' || *s == '+') ? s + 1 : s;
    if ((*digits < '0' || *digits > '9') && *digits != '.')
        return -1;
    errno = 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (errno || *end != '\0' || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static bool
s_is_hash(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    return n == 64;
}

/* ---- one key ------------------------------------------------------- */

static void
s_free_strs(char **list)
{
    if (!list)
        return;
    for (char **p = list; *p; p++)
        free(*p);
    free(list);
}

static int
s_apply_ints(cdt_config_t *cfg, const s_opt_t *opt, const cdt_yaml_node_t *v,
             const s_where_t *w)
{
    if (v->type != CDT_YAML_SEQ)
        return s_fail(w, v->line, "'%s' must be a list of integers", opt->key);
    if (v->n < 1 || v->n > CDT_CONFIG_MAX_THRESHOLDS)
        return s_fail(w, v->line, "'%s' must have 1 to %d items", opt->key,
                      CDT_CONFIG_MAX_THRESHOLDS);
    int64_t vals[CDT_CONFIG_MAX_THRESHOLDS];
    for (size_t i = 0; i < v->n; i++) {
        const cdt_yaml_node_t *item = v->items[i];
        if (s_parse_int(item, &vals[i]) < 0)
            return s_fail(w, item->line, "'%s' items must be integers",
                          opt->key);
        if (vals[i] < opt->min || vals[i] > opt->max)
            return s_fail(w, item->line,
                          "'%s' items must be between %" PRId64 " and %" PRId64,
                          opt->key, opt->min, opt->max);
        if (i > 0 && vals[i] <= vals[i - 1])
            return s_fail(w, item->line, "'%s' must be in ascending order",
                          opt->key);
    }
    int64_t *dst = (int64_t *)((char *)cfg + opt->offset);
    memcpy(dst, vals, v->n * sizeof vals[0]);
    cfg->spend_n_thresholds = v->n; /* the only list of integers */
    return 0;
}

static int
s_apply_strs(cdt_config_t *cfg, const s_opt_t *opt, const cdt_yaml_node_t *v,
             const s_where_t *w)
{
    if (v->type != CDT_YAML_SEQ)
        return s_fail(w, v->line, "'%s' must be a list of strings", opt->key);
    for (size_t i = 0; i < v->n; i++)
        if (v->items[i]->type != CDT_YAML_SCALAR)
            return s_fail(w, v->items[i]->line, "'%s' items must be strings",
                          opt->key);
    char **list = cdt_xcalloc(v->n + 1, sizeof *list);
    for (size_t i = 0; i < v->n; i++)
        list[i] = cdt_xstrdup(v->items[i]->value);
    char ***dst = (char ***)((char *)cfg + opt->offset);
    s_free_strs(*dst);
    *dst = list;
    return 0;
}

static int
s_apply_opt(cdt_config_t *cfg, const s_opt_t *opt, const cdt_yaml_node_t *v,
            const s_where_t *w)
{
    void *field = (char *)cfg + opt->offset;
    switch (opt->type) {
    case S_STR:
    case S_LEVEL:
    case S_HASH:
        if (v->type != CDT_YAML_SCALAR)
            return s_fail(w, v->line, "'%s' must be a string", opt->key);
        if (opt->type == S_LEVEL && cdt_log_level_parse(v->value) < 0)
            return s_fail(w, v->line,
                          "'%s' must be one of error, warn, notice, info, "
                          "debug",
                          opt->key);
        if (opt->type == S_HASH && v->value[0] && !s_is_hash(v->value))
            return s_fail(w, v->line,
                          "'%s' must be 64 lowercase hex digits or \"\"",
                          opt->key);
        free(*(char **)field);
        *(char **)field = cdt_xstrdup(v->value);
        return 0;
    case S_INT: {
        int64_t i;
        if (s_parse_int(v, &i) < 0)
            return s_fail(w, v->line, "'%s' must be an integer", opt->key);
        if (i < opt->min || i > opt->max)
            return s_fail(w, v->line,
                          "'%s' must be between %" PRId64 " and %" PRId64,
                          opt->key, opt->min, opt->max);
        *(int64_t *)field = i;
        return 0;
    }
    case S_BOOL:
        if (s_parse_bool(v, (bool *)field) < 0)
            return s_fail(w, v->line, "'%s' must be true or false", opt->key);
        return 0;
    case S_DOUBLE: {
        double d;
        if (s_parse_double(v, &d) < 0)
            return s_fail(w, v->line, "'%s' must be a number", opt->key);
        if (d < (double)opt->min || d > (double)opt->max)
            return s_fail(w, v->line,
                          "'%s' must be between %" PRId64 " and %" PRId64,
                          opt->key, opt->min, opt->max);
        *(double *)field = d;
        return 0;
    }
    case S_INTS:
        return s_apply_ints(cfg, opt, v, w);
    case S_STRS:
        return s_apply_strs(cfg, opt, v, w);
    }
    return s_fail(w, v->line, "'%s' has no type", opt->key);
}

/* ---- the keys section ---------------------------------------------- */

static void
s_keys_free(cdt_config_key_t *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(keys[i].name);
    free(keys);
}

static int
s_parse_key(cdt_config_key_t *key, const cdt_yaml_node_t *map,
            const s_where_t *w)
{
    bool have_id = false, have_name = false, have_hash = false;
    key->enabled = true;
    for (size_t i = 0; i < map->n; i++) {
        const char *k = map->keys[i];
        const cdt_yaml_node_t *v = map->items[i];
        if (!strcmp(k, "id")) {
            if (s_parse_int(v, &key->id) < 0)
                return s_fail(w, v->line, "'keys.id' must be an integer");
            if (key->id <= 0)
                return s_fail(w, v->line, "'keys.id' must be positive");
            have_id = true;
        } else if (!strcmp(k, "name")) {
            if (v->type != CDT_YAML_SCALAR)
                return s_fail(w, v->line, "'keys.name' must be a string");
            free(key->name);
            key->name = cdt_xstrdup(v->value);
            have_name = true;
        } else if (!strcmp(k, "hash")) {
            if (v->type != CDT_YAML_SCALAR || !s_is_hash(v->value))
                return s_fail(w, v->line,
                              "'keys.hash' must be 64 lowercase hex digits");
            memcpy(key->hash, v->value, 65);
            have_hash = true;
        } else if (!strcmp(k, "enabled")) {
            if (s_parse_bool(v, &key->enabled) < 0)
                return s_fail(w, v->line,
                              "'keys.enabled' must be true or false");
        } else if (!strcmp(k, "admin")) {
            if (s_parse_bool(v, &key->admin) < 0)
                return s_fail(w, v->line, "'keys.admin' must be true or false");
        } else if (!strcmp(k, "expires")) {
            if (v->type != CDT_YAML_SCALAR ||
                cdt_clock_parse_iso8601(v->value, &key->expires_ms) < 0 ||
                key->expires_ms <= 0)
                return s_fail(w, v->line,
                              "'keys.expires' must be an ISO-8601 date or "
                              "time");
        } else {
            return s_fail(w, map->key_lines[i], "unknown key 'keys.%s'", k);
        }
    }
    if (!have_id)
        return s_fail(w, map->line, "key entry lacks 'id'");
    if (!have_name)
        return s_fail(w, map->line, "key entry lacks 'name'");
    if (!have_hash)
        return s_fail(w, map->line, "key entry lacks 'hash'");
    return 0;
}

static int
s_apply_keys(cdt_config_t *cfg, const cdt_yaml_node_t *v, const s_where_t *w)
{
    if (s_empty_plain(v)) {
        s_keys_free(cfg->keys, cfg->n_keys);
        cfg->keys = NULL;
        cfg->n_keys = 0;
        return 0;
    }
    if (v->type != CDT_YAML_SEQ)
        return s_fail(w, v->line, "'keys' must be a list");
    cdt_config_key_t *keys = cdt_xcalloc(v->n ? v->n : 1, sizeof *keys);
    for (size_t i = 0; i < v->n; i++) {
        const cdt_yaml_node_t *item = v->items[i];
        if (item->type != CDT_YAML_MAP) {
            s_fail(w, item->line, "'keys' items must be mappings");
            goto fail;
        }
        if (s_parse_key(&keys[i], item, w) < 0)
            goto fail;
        for (size_t j = 0; j < i; j++) {
            if (keys[j].id == keys[i].id) {
                s_fail(w, item->line, "duplicate key id %" PRId64, keys[i].id);
                goto fail;
            }
        }
    }
    s_keys_free(cfg->keys, cfg->n_keys);
    cfg->keys = keys;
    cfg->n_keys = v->n;
    return 0;
fail:
    s_keys_free(keys, v->n);
    return -1;
}

/* ---- dispatch by dotted path ----------------------------------------- */

static const s_opt_t *
s_find(const char *key)
{
    for (size_t i = 0; i < S_N_OPTS; i++)
        if (!strcmp(s_opts[i].key, key))
            return &s_opts[i];
    return NULL;
}

/* True if some key lies below the dotted path prefix. */
static bool
s_is_section(const char *prefix)
{
    size_t n = strlen(prefix);
    for (size_t i = 0; i < S_N_OPTS; i++)
        if (!strncmp(s_opts[i].key, prefix, n) && s_opts[i].key[n] == '.')
            return true;
    return false;
}

static int s_apply_map(cdt_config_t *cfg, const char *prefix,
                       const cdt_yaml_node_t *map, const s_where_t *w);

static int
s_apply_key(cdt_config_t *cfg, const char *key, int key_line,
            const cdt_yaml_node_t *v, const s_where_t *w)
{
    const s_opt_t *opt = s_find(key);
    if (opt)
        return s_apply_opt(cfg, opt, v, w);
    if (!strcmp(key, "keys"))
        return s_apply_keys(cfg, v, w);
    if (s_is_section(key)) {
        if (s_empty_plain(v))
            return 0; /* a section with every line commented out */
        if (v->type != CDT_YAML_MAP)
            return s_fail(w, v->line, "'%s' must be a mapping", key);
        return s_apply_map(cfg, key, v, w);
    }
    return s_fail(w, key_line, "unknown key '%s'", key);
}

static int
s_apply_map(cdt_config_t *cfg, const char *prefix, const cdt_yaml_node_t *map,
            const s_where_t *w)
{
    for (size_t i = 0; i < map->n; i++) {
        char *full = prefix ? cdt_xasprintf("%s.%s", prefix, map->keys[i])
                            : cdt_xstrdup(map->keys[i]);
        int rc = s_apply_key(cfg, full, map->key_lines[i], map->items[i], w);
        free(full);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* ---- the interface ----------------------------------------------------- */

void
cdt_config_init(cdt_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < S_N_OPTS; i++) {
        char err[256];
        cdt_yaml_node_t *v =
            cdt_yaml_parse(s_opts[i].def, strlen(s_opts[i].def), s_opts[i].key,
                           err, sizeof err);
        s_where_t w = {s_opts[i].key, err, sizeof err};
        /* A default that fails its own validation is a bug in s_opts. */
        if (!v || s_apply_opt(cfg, &s_opts[i], v, &w) < 0) {
            fprintf(stderr, "bad default for '%s': %s\n", s_opts[i].key, err);
            abort();
        }
        cdt_yaml_destroy(&v);
    }
}

void
cdt_config_release(cdt_config_t *cfg)
{
    for (size_t i = 0; i < S_N_OPTS; i++) {
        void *field = (char *)cfg + s_opts[i].offset;
        switch (s_opts[i].type) {
        case S_STR:
        case S_LEVEL:
        case S_HASH:
            free(*(char **)field);
            break;
        case S_STRS:
            s_free_strs(*(char ***)field);
            break;
        default:
            break;
        }
    }
    s_keys_free(cfg->keys, cfg->n_keys);
    free(cfg->path);
    free(cfg->dir);
    memset(cfg, 0, sizeof *cfg);
}

int
cdt_config_from_tree(cdt_config_t *cfg, const cdt_yaml_node_t *root,
                     const char *name, char *err, size_t errlen)
{
    s_where_t w = {name ? name : "<config>", err, errlen};
    if (s_empty_plain(root))
        return 0;
    if (root->type != CDT_YAML_MAP)
        return s_fail(&w, root->line, "the configuration must be a mapping");
    return s_apply_map(cfg, NULL, root, &w);
}

int
cdt_config_load(cdt_config_t *cfg, const char *path, char *err, size_t errlen)
{
    cdt_yaml_node_t *root = cdt_yaml_load(path, err, errlen);
    if (!root)
        return -1;
    free(cfg->path);
    free(cfg->dir);
    cfg->path = cdt_xstrdup(path);
    const char *slash = strrchr(path, '/');
    if (!slash)
        cfg->dir = cdt_xstrdup(".");
    else if (slash == path)
        cfg->dir = cdt_xstrdup("/");
    else
        cfg->dir = cdt_xstrndup(path, (size_t)(slash - path));
    int rc = cdt_config_from_tree(cfg, root, path, err, errlen);
    cdt_yaml_destroy(&root);
    return rc;
}

int
cdt_config_set(cdt_config_t *cfg, const char *assignment, char *err,
               size_t errlen)
{
    s_where_t w = {NULL, err, errlen};
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return s_fail(&w, 0, "override '%s' is not key=value", assignment);
    char *key = cdt_xstrndup(assignment, (size_t)(eq - assignment));
    const char *value = eq + 1;
    cdt_yaml_node_t *v = NULL;
    int rc = -1;
    if (*value == '\0') {
        /* "key=" sets an empty string (YAML would read a null). */
        v = cdt_yaml_parse("\"\"", 2, "-o", NULL, 0);
    } else {
        char why[256];
        v = cdt_yaml_parse(value, strlen(value), "-o", why, sizeof why);
        if (!v) {
            s_fail(&w, 0, "invalid value for '%s'", key);
            goto done;
        }
    }
    assert(v);
    rc = s_apply_key(cfg, key, 1, v, &w);
done:
    cdt_yaml_destroy(&v);
    free(key);
    return rc;
}

/* The code point of the UTF-8 sequence at p (n bytes), or -1 when p does
 * not start a valid sequence. */
static long
s_utf8(const unsigned char *p, size_t *n)
{
    if (p[0] >= 0xc2 && p[0] <= 0xdf && (p[1] & 0xc0) == 0x80) {
        *n = 2;
        return ((long)(p[0] & 0x1f) << 6) | (p[1] & 0x3f);
    }
    if (p[0] >= 0xe0 && p[0] <= 0xef && (p[1] & 0xc0) == 0x80 &&
        (p[2] & 0xc0) == 0x80) {
        *n = 3;
        return ((long)(p[0] & 0x0f) << 12) | ((long)(p[1] & 0x3f) << 6) |
               (p[2] & 0x3f);
    }
    return -1;
}

/* Strings are always written double-quoted and escaped so that the loader
 * reads back exactly the same bytes: ASCII controls, and the characters
 * YAML either refuses raw (C1 controls, BOM, U+FFFE/F) or reads as line
 * breaks (U+0085, U+2028, U+2029). */
static void
s_dump_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = 1;
        long cp = *p >= 0x80 ? s_utf8(p, &n) : -1;
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\x%02x", *p);
        else if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
                 cp == 0xfeff || cp == 0xfffe || cp == 0xffff)
            fprintf(out, "\\u%04lx", cp);
        else
            fwrite(p, 1, n, out);
        p += n;
    }
    fputc('"', out);
}

static void
s_dump_value(FILE *out, const cdt_config_t *cfg, const s_opt_t *opt)
{
    const void *field = (const char *)cfg + opt->offset;
    switch (opt->type) {
    case S_STR:
    case S_LEVEL:
    case S_HASH:
        s_dump_str(out, *(char *const *)field);
        break;
    case S_INT:
        fprintf(out, "%" PRId64, *(const int64_t *)field);
        break;
    case S_BOOL:
        fputs(*(const bool *)field ? "true" : "false", out);
        break;
    case S_DOUBLE: {
        double d = *(const double *)field;
        char buf[64];
        snprintf(buf, sizeof buf, "%.15g", d);
        if (strtod(buf, NULL) != d)
            snprintf(buf, sizeof buf, "%.17g", d);
        fputs(buf, out);
        break;
    }
    case S_INTS: {
        const int64_t *vals = field;
        fputc('[', out);
        for (size_t i = 0; i < cfg->spend_n_thresholds; i++)
            fprintf(out, "%s%" PRId64, i ? ", " : "", vals[i]);
        fputc(']', out);
        break;
    }
    case S_STRS: {
        char *const *list = *(char **const *)field;
        fputc('[', out);
        for (size_t i = 0; list && list[i]; i++) {
            if (i)
                fputs(", ", out);
            s_dump_str(out, list[i]);
        }
        fputc(']', out);
        break;
    }
    }
}

void
cdt_config_dump(const cdt_config_t *cfg, FILE *out)
{
    fputs("# effective configuration\n", out);
    const char *section = NULL;
    size_t section_len = 0;
    for (size_t i = 0; i < S_N_OPTS; i++) {
        const s_opt_t *opt = &s_opts[i];
        const char *dot = strchr(opt->key, '.');
        assert(dot);
        size_t len = (size_t)(dot - opt->key);
        if (!section || len != section_len ||
            strncmp(section, opt->key, len) != 0) {
            fprintf(out, "%s%.*s:\n", section ? "\n" : "", (int)len, opt->key);
            section = opt->key;
            section_len = len;
        }
        fprintf(out, "  %s: ", dot + 1);
        s_dump_value(out, cfg, opt);
        fputc('\n', out);
    }
    if (cfg->n_keys == 0) {
        fputs("\nkeys: []\n", out);
        return;
    }
    fputs("\nkeys:\n", out);
    for (size_t i = 0; i < cfg->n_keys; i++) {
        const cdt_config_key_t *k = &cfg->keys[i];
        fprintf(out, "  - id: %" PRId64 "\n    name: ", k->id);
        s_dump_str(out, k->name ? k->name : "");
        fprintf(out, "\n    hash: \"%s\"\n", k->hash);
        fprintf(out, "    enabled: %s\n", k->enabled ? "true" : "false");
        if (k->expires_ms > 0) {
            char iso[CDT_ISO8601_LEN];
            cdt_clock_iso8601(k->expires_ms, iso);
            fprintf(out, "    expires: \"%s\"\n", iso);
        }
        fprintf(out, "    admin: %s\n", k->admin ? "true" : "false");
    }
}

char *
cdt_config_path(const cdt_config_t *cfg, const char *p)
{
    if (!p)
        return NULL;
    if (p[0] == '\0' || p[0] == '/' || !cfg->dir || !strcmp(cfg->dir, "."))
        return cdt_xstrdup(p);
    return cdt_xasprintf("%s/%s", cfg->dir, p);
}
