/*
 * test_cdt_config - defaults, the shipped etc/conduit.yaml, every error
 * with its file:line, -o overrides, and --dump-config reloading to the
 * same values.
 *
 * SPDX-License-Identifier: MIT
 */
#include "common/cdt_config.h"

#include "common/cdt_yaml.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

Suite *cdt_config_suite(void);

#define S_MASTER_HASH \
    "298459cbfe13721d9fc290e4119d354f6bf3be9f8aee65a57d31b24d6303d118"
#define S_HASH_A \
    "ac8b55882f7741d9d126642a3a0299c306cc95366be7631d93dacefab374680f"
#define S_HASH_B \
    "7ea64a393f983fc743d6a28620db90a50238120813c170b57d3d97f3632d32b2"
#define S_HASH_ADMIN \
    "806d3ac4ce7d155778f27e951acfac2155405586ed3a63b5c8d912d23edd48c8"

/* Writes text to a new temporary file; path receives its name. */
static void
s_write_tmp(char path[64], const char *text)
{
    strcpy(path, "/tmp/cdt_config_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    size_t len = strlen(text);
    ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
}

/* The dump as a string (caller frees). */
static char *
s_dump(const cdt_config_t *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    cdt_config_dump(cfg, f);
    fclose(f);
    return text;
}

/* Applies text (as file "c.yaml") over defaults; returns the result and
 * leaves the message in err. */
static int
s_apply(cdt_config_t *cfg, const char *text, char *err, size_t errlen)
{
    cdt_config_init(cfg);
    cdt_yaml_node_t *root =
        cdt_yaml_parse(text, strlen(text), "c.yaml", err, errlen);
    if (!root)
        return -1;
    int rc = cdt_config_from_tree(cfg, root, "c.yaml", err, errlen);
    cdt_yaml_destroy(&root);
    return rc;
}

/* ---- defaults and the shipped file ------------------------------------ */

START_TEST(test_cdt_config_defaults)
{
    cdt_config_t cfg;
    cdt_config_init(&cfg);
    ck_assert_ptr_null(cfg.path);
    ck_assert_str_eq(cfg.log_level, "info");
    ck_assert_str_eq(cfg.broker_ingress, "tcp://127.0.0.1:5570");
    ck_assert_str_eq(cfg.broker_ingress_ack, "tcp://127.0.0.1:5571");
    ck_assert_str_eq(cfg.broker_gateway_link, "tcp://127.0.0.1:5572");
    ck_assert_str_eq(cfg.broker_catalog, "hubs.yaml");
    ck_assert_str_eq(cfg.broker_store, "../var/store");
    ck_assert_str_eq(cfg.broker_master_key_hash, "");
    ck_assert_int_eq(cfg.broker_heartbeat_ms, 1000);
    ck_assert_int_eq(cfg.broker_gateway_timeout_ms, 5000);
    ck_assert_int_eq(cfg.broker_max_ingress_bytes, 1048576);
    ck_assert_int_eq(cfg.broker_max_conns_per_key, 100);
    ck_assert_int_eq(cfg.broker_max_conns_total, 1000000);
    ck_assert_str_eq(cfg.broker_curve_secret_cert, "");
    ck_assert_str_eq(cfg.broker_curve_clients_dir, "");
    ck_assert_str_eq(cfg.gateway_listen, "127.0.0.1:5000");
    ck_assert_str_eq(cfg.gateway_broker, "tcp://127.0.0.1:5572");
    ck_assert_str_eq(cfg.gateway_name, "");
    ck_assert(cfg.gateway_reuseport);
    ck_assert_int_eq(cfg.gateway_keepalive_ms, 15000);
    ck_assert_int_eq(cfg.gateway_client_timeout_ms, 30000);
    ck_assert_int_eq(cfg.gateway_handshake_timeout_ms, 15000);
    ck_assert_int_eq(cfg.gateway_negotiate_ttl_ms, 15000);
    ck_assert_int_eq(cfg.gateway_invoke_timeout_ms, 5000);
    ck_assert_int_eq(cfg.gateway_max_message_bytes, 1048576);
    ck_assert_int_eq(cfg.gateway_max_queue_bytes, 1048576);
    ck_assert_int_eq(cfg.gateway_max_connections, 19000);
    ck_assert_int_eq(cfg.gateway_max_header_bytes, 16384);
    ck_assert_int_eq(cfg.gateway_rx_buffer_bytes, 512);
    ck_assert_int_eq(cfg.gateway_invocations_per_sec, 50);
    ck_assert_int_eq(cfg.gateway_connects_per_ip_per_sec, 500);
    ck_assert_ptr_nonnull(cfg.gateway_cors_origins);
    ck_assert_ptr_null(cfg.gateway_cors_origins[0]);
    ck_assert_str_eq(cfg.gateway_static_dir, "../www");
    ck_assert_str_eq(cfg.gateway_tls_cert, "");
    ck_assert_str_eq(cfg.gateway_tls_key, "");
    ck_assert_str_eq(cfg.gateway_curve_cert, "");
    ck_assert_str_eq(cfg.gateway_curve_server_public, "");
    ck_assert_int_eq(cfg.spend_window_ms, 1000);
    ck_assert_uint_eq(cfg.spend_n_thresholds, 3);
    ck_assert_int_eq(cfg.spend_thresholds[0], 80);
    ck_assert_int_eq(cfg.spend_thresholds[1], 90);
    ck_assert_int_eq(cfg.spend_thresholds[2], 100);
    ck_assert_int_eq(cfg.spend_rearm_percent, 50);
    ck_assert_int_eq(cfg.spend_unusual_short_ms, 300000);
    ck_assert_int_eq(cfg.spend_unusual_long_ms, 3600000);
    ck_assert(cfg.spend_unusual_multiple == 3.0);
    ck_assert_int_eq(cfg.spend_unusual_min_samples, 5);
    ck_assert_int_eq(cfg.spend_unusual_cooldown_ms, 3600000);
    ck_assert_int_eq(cfg.health_hysteresis, 3);
    ck_assert_int_eq(cfg.tasks_progress_window_ms, 100);
    ck_assert_int_eq(cfg.tasks_retention_ms, 86400000);
    ck_assert_uint_eq(cfg.n_keys, 0);
    ck_assert_ptr_null(cfg.keys);
    cdt_config_release(&cfg);
    /* released twice is harmless: release leaves a zeroed struct */
    cdt_config_release(&cfg);
}
END_TEST

START_TEST(test_cdt_config_shipped_file)
{
    cdt_config_t cfg;
    cdt_config_init(&cfg);
    char err[512];
    ck_assert_msg(cdt_config_load(&cfg, "etc/conduit.yaml", err, sizeof err) ==
                      0,
                  "%s", err);
    ck_assert_str_eq(cfg.path, "etc/conduit.yaml");
    ck_assert_str_eq(cfg.dir, "etc");
    ck_assert_str_eq(cfg.broker_master_key_hash, S_MASTER_HASH);
    ck_assert_uint_eq(cfg.n_keys, 3);
    ck_assert_int_eq(cfg.keys[0].id, 1);
    ck_assert_str_eq(cfg.keys[0].name, "demo-tenant-a");
    ck_assert_str_eq(cfg.keys[0].hash, S_HASH_A);
    ck_assert(cfg.keys[0].enabled);
    ck_assert(!cfg.keys[0].admin);
    ck_assert_int_eq(cfg.keys[0].expires_ms, 0);
    ck_assert_int_eq(cfg.keys[1].id, 2);
    ck_assert_str_eq(cfg.keys[1].name, "demo-tenant-b");
    ck_assert_str_eq(cfg.keys[1].hash, S_HASH_B);
    ck_assert(!cfg.keys[1].admin);
    ck_assert_int_eq(cfg.keys[2].id, 3);
    ck_assert_str_eq(cfg.keys[2].name, "demo-admin");
    ck_assert_str_eq(cfg.keys[2].hash, S_HASH_ADMIN);
    ck_assert(cfg.keys[2].admin);
    ck_assert(cfg.keys[2].enabled);

    char *p = cdt_config_path(&cfg, cfg.broker_catalog);
    ck_assert_str_eq(p, "etc/hubs.yaml");
    free(p);
    p = cdt_config_path(&cfg, cfg.broker_store);
    ck_assert_str_eq(p, "etc/../var/store");
    free(p);
    p = cdt_config_path(&cfg, cfg.gateway_static_dir);
    ck_assert_str_eq(p, "etc/../www");
    free(p);
    p = cdt_config_path(&cfg, cfg.gateway_tls_cert);
    ck_assert_str_eq(p, "");
    free(p);
    p = cdt_config_path(&cfg, "/abs/x");
    ck_assert_str_eq(p, "/abs/x");
    free(p);
    cdt_config_release(&cfg);
}
END_TEST

/* Every default equals the value written in etc/conduit.yaml, except the
 * two that are deliberately empty by default. */
START_TEST(test_cdt_config_defaults_match_shipped_file)
{
    cdt_config_t defaults, file;
    cdt_config_init(&defaults);
    cdt_config_init(&file);
    char err[512];
    ck_assert_msg(cdt_config_load(&file, "etc/conduit.yaml", err, sizeof err) ==
                      0,
                  "%s", err);
    ck_assert_int_eq(
        cdt_config_set(&file, "broker.master_key_hash=", err, sizeof err), 0);
    ck_assert_int_eq(cdt_config_set(&file, "keys=[]", err, sizeof err), 0);
    ck_assert_uint_eq(file.n_keys, 0);
    char *a = s_dump(&defaults);
    char *b = s_dump(&file);
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    cdt_config_release(&defaults);
    cdt_config_release(&file);
}
END_TEST

START_TEST(test_cdt_config_load_over_current_values)
{
    char path[64];
    s_write_tmp(path, "gateway:\n  keepalive_ms: 250\n");
    cdt_config_t cfg;
    cdt_config_init(&cfg);
    char err[512];
    ck_assert_int_eq(
        cdt_config_set(&cfg, "health.hysteresis=7", err, sizeof err), 0);
    ck_assert_msg(cdt_config_load(&cfg, path, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(cfg.gateway_keepalive_ms, 250);
    ck_assert_int_eq(cfg.health_hysteresis, 7); /* untouched */
    ck_assert_int_eq(cfg.gateway_client_timeout_ms, 30000);
    ck_assert_str_eq(cfg.dir, "/tmp");
    char *p = cdt_config_path(&cfg, "x/y");
    ck_assert_str_eq(p, "/tmp/x/y");
    free(p);
    unlink(path);
    cdt_config_release(&cfg);
}
END_TEST

START_TEST(test_cdt_config_empty_and_commented_sections)
{
    cdt_config_t cfg;
    char err[512];
    ck_assert_msg(s_apply(&cfg, "", err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(cfg.gateway_keepalive_ms, 15000);
    cdt_config_release(&cfg);
    ck_assert_msg(s_apply(&cfg, "spend:\n  # window_ms: 5\nhealth: {}\nkeys:\n",
                          err, sizeof err) == 0,
                  "%s", err);
    ck_assert_int_eq(cfg.spend_window_ms, 1000);
    ck_assert_uint_eq(cfg.n_keys, 0);
    cdt_config_release(&cfg);
    /* dotted keys may also be written flat */
    ck_assert_msg(
        s_apply(&cfg, "gateway.keepalive_ms: 42\n", err, sizeof err) == 0, "%s",
        err);
    ck_assert_int_eq(cfg.gateway_keepalive_ms, 42);
    cdt_config_release(&cfg);
}
END_TEST

START_TEST(test_cdt_config_values_of_each_type)
{
    cdt_config_t cfg;
    char err[512];
    ck_assert_msg(
        s_apply(&cfg,
                "log: {level: debug}\n"
                "gateway:\n"
                "  reuseport: false\n"
                "  name: 'gw-1'\n"
                "  listen: 0.0.0.0:80\n"
                "  cors_origins: [\"https://a.example\", http://b:8080]\n"
                "  max_connections: +12\n"
                "spend:\n"
                "  thresholds: [1, 1000]\n"
                "  unusual_multiple: 2.5\n"
                "  window_ms: 0\n"
                "keys:\n"
                "  - id: 9\n"
                "    name: k9\n"
                "    hash: " S_HASH_A "\n"
                "    enabled: false\n"
                "    expires: 2030-01-01\n"
                "  - {id: 10, name: k10, hash: '" S_HASH_B "',\n"
                "     expires: '2030-01-01T00:00:01.5Z', admin: true}\n",
                err, sizeof err) == 0,
        "%s", err);
    ck_assert_str_eq(cfg.log_level, "debug");
    ck_assert(!cfg.gateway_reuseport);
    ck_assert_str_eq(cfg.gateway_name, "gw-1");
    ck_assert_str_eq(cfg.gateway_listen, "0.0.0.0:80");
    ck_assert_str_eq(cfg.gateway_cors_origins[0], "https://a.example");
    ck_assert_str_eq(cfg.gateway_cors_origins[1], "http://b:8080");
    ck_assert_ptr_null(cfg.gateway_cors_origins[2]);
    ck_assert_int_eq(cfg.gateway_max_connections, 12);
    ck_assert_uint_eq(cfg.spend_n_thresholds, 2);
    ck_assert_int_eq(cfg.spend_thresholds[0], 1);
    ck_assert_int_eq(cfg.spend_thresholds[1], 1000);
    ck_assert(cfg.spend_unusual_multiple == 2.5);
    ck_assert_int_eq(cfg.spend_window_ms, 0);
    ck_assert_uint_eq(cfg.n_keys, 2);
    ck_assert_int_eq(cfg.keys[0].id, 9);
    ck_assert(!cfg.keys[0].enabled);
    ck_assert(!cfg.keys[0].admin);
    ck_assert_int_eq(cfg.keys[0].expires_ms, INT64_C(1893456000000));
    ck_assert_int_eq(cfg.keys[1].id, 10);
    ck_assert(cfg.keys[1].enabled);
    ck_assert(cfg.keys[1].admin);
    ck_assert_int_eq(cfg.keys[1].expires_ms, INT64_C(1893456001500));
    cdt_config_release(&cfg);
}
END_TEST

/* ---- errors ------------------------------------------------------------ */

static const struct {
    const char *text;
    const char *err;
} s_errors[] = {
    {"gateway:\n  listen: x\n  foo: 1\n",
     "c.yaml:3: unknown key 'gateway.foo'"},
    {"\n\nbogus: 1\n", "c.yaml:3: unknown key 'bogus'"},
    {"gateway:\n  tls:\n    cert: x\n", "c.yaml:2: unknown key 'gateway.tls'"},
    {"gateway:\n  keepalive_ms: \"80\"\n",
     "c.yaml:2: 'gateway.keepalive_ms' must be an integer"},
    {"gateway:\n  keepalive_ms: 1.5\n",
     "c.yaml:2: 'gateway.keepalive_ms' must be an integer"},
    {"gateway:\n  keepalive_ms: 0x10\n",
     "c.yaml:2: 'gateway.keepalive_ms' must be an integer"},
    {"gateway:\n  keepalive_ms:\n",
     "c.yaml:2: 'gateway.keepalive_ms' must be an integer"},
    {"gateway:\n  keepalive_ms: 99999999999999999999\n",
     "c.yaml:2: 'gateway.keepalive_ms' must be an integer"},
    {"gateway:\n  keepalive_ms: 0\n",
     "c.yaml:2: 'gateway.keepalive_ms' must be between 1 and 86400000"},
    {"gateway:\n  keepalive_ms: -5\n",
     "c.yaml:2: 'gateway.keepalive_ms' must be between 1 and 86400000"},
    {"gateway:\n  keepalive_ms:\n    a: 1\n",
     "c.yaml:3: 'gateway.keepalive_ms' must be an integer"},
    {"gateway:\n  listen: {a: 1}\n",
     "c.yaml:2: 'gateway.listen' must be a string"},
    {"gateway:\n  listen: [a]\n",
     "c.yaml:2: 'gateway.listen' must be a string"},
    {"gateway: 5\n", "c.yaml:1: 'gateway' must be a mapping"},
    {"gateway: [1]\n", "c.yaml:1: 'gateway' must be a mapping"},
    {"gateway:\n  reuseport: yes\n",
     "c.yaml:2: 'gateway.reuseport' must be true or false"},
    {"gateway:\n  reuseport: \"true\"\n",
     "c.yaml:2: 'gateway.reuseport' must be true or false"},
    {"spend:\n  unusual_multiple: abc\n",
     "c.yaml:2: 'spend.unusual_multiple' must be a number"},
    {"spend:\n  unusual_multiple: .nan\n",
     "c.yaml:2: 'spend.unusual_multiple' must be a number"},
    {"spend:\n  unusual_multiple: 0.5\n",
     "c.yaml:2: 'spend.unusual_multiple' must be between 1 and 1000"},
    {"spend:\n  thresholds: []\n",
     "c.yaml:2: 'spend.thresholds' must have 1 to 8 items"},
    {"spend:\n  thresholds: [1, 2, 3, 4, 5, 6, 7, 8, 9]\n",
     "c.yaml:2: 'spend.thresholds' must have 1 to 8 items"},
    {"spend:\n  thresholds: 80\n",
     "c.yaml:2: 'spend.thresholds' must be a list of integers"},
    {"spend:\n  thresholds:\n    - 10\n    - x\n",
     "c.yaml:4: 'spend.thresholds' items must be integers"},
    {"spend:\n  thresholds: [0]\n",
     "c.yaml:2: 'spend.thresholds' items must be between 1 and 1000"},
    {"spend:\n  thresholds: [1001]\n",
     "c.yaml:2: 'spend.thresholds' items must be between 1 and 1000"},
    {"spend:\n  thresholds:\n    - 90\n    - 80\n",
     "c.yaml:4: 'spend.thresholds' must be in ascending order"},
    {"spend:\n  thresholds: [80, 80]\n",
     "c.yaml:2: 'spend.thresholds' must be in ascending order"},
    {"gateway:\n  cors_origins: http://x\n",
     "c.yaml:2: 'gateway.cors_origins' must be a list of strings"},
    {"gateway:\n  cors_origins:\n    - a\n    - [b]\n",
     "c.yaml:4: 'gateway.cors_origins' items must be strings"},
    {"log:\n  level: verbose\n",
     "c.yaml:2: 'log.level' must be one of error, warn, notice, info, debug"},
    {"broker:\n  master_key_hash: ABC\n",
     "c.yaml:2: 'broker.master_key_hash' must be 64 lowercase hex digits or "
     "\"\""},
    {"broker:\n  master_key_hash: "
     "298459CBFE13721D9FC290E4119D354F6BF3BE9F8AEE65A57D31B24D6303D118\n",
     "c.yaml:2: 'broker.master_key_hash' must be 64 lowercase hex digits or "
     "\"\""},
    {"- a\n- b\n", "c.yaml:1: the configuration must be a mapping"},
    {"keys: {id: 1}\n", "c.yaml:1: 'keys' must be a list"},
    {"keys:\n  - 1\n", "c.yaml:2: 'keys' items must be mappings"},
    {"keys:\n  - name: a\n    hash: " S_HASH_A "\n",
     "c.yaml:2: key entry lacks 'id'"},
    {"keys:\n  - id: 1\n    hash: " S_HASH_A "\n",
     "c.yaml:2: key entry lacks 'name'"},
    {"keys:\n  - id: 1\n    name: a\n", "c.yaml:2: key entry lacks 'hash'"},
    {"keys:\n  - id: 0\n    name: a\n    hash: " S_HASH_A "\n",
     "c.yaml:2: 'keys.id' must be positive"},
    {"keys:\n  - id: one\n", "c.yaml:2: 'keys.id' must be an integer"},
    {"keys:\n  - {id: 1, name: a, hash: " S_HASH_A "}\n"
     "  - {id: 1, name: b, hash: " S_HASH_B "}\n",
     "c.yaml:3: duplicate key id 1"},
    {"keys:\n  - id: 1\n    name: a\n    hash: abc\n",
     "c.yaml:4: 'keys.hash' must be 64 lowercase hex digits"},
    {"keys:\n  - id: 1\n    name: [a]\n",
     "c.yaml:3: 'keys.name' must be a string"},
    {"keys:\n  - id: 1\n    name: a\n    hash: " S_HASH_A
     "\n    expires: tomorrow\n",
     "c.yaml:5: 'keys.expires' must be an ISO-8601 date or time"},
    {"keys:\n  - id: 1\n    name: a\n    hash: " S_HASH_A
     "\n    expires: 2030-13-01\n",
     "c.yaml:5: 'keys.expires' must be an ISO-8601 date or time"},
    {"keys:\n  - id: 1\n    enabled: maybe\n",
     "c.yaml:3: 'keys.enabled' must be true or false"},
    {"keys:\n  - id: 1\n    admin: 1\n",
     "c.yaml:3: 'keys.admin' must be true or false"},
    {"keys:\n  - id: 1\n    secret: x\n",
     "c.yaml:3: unknown key 'keys.secret'"},
};

START_TEST(test_cdt_config_errors)
{
    cdt_config_t cfg;
    char err[512] = "";
    int rc = s_apply(&cfg, s_errors[_i].text, err, sizeof err);
    ck_assert_msg(rc == -1, "accepted: %s", s_errors[_i].text);
    ck_assert_str_eq(err, s_errors[_i].err);
    cdt_config_release(&cfg);
}
END_TEST

START_TEST(test_cdt_config_file_errors_name_the_file)
{
    char path[64];
    s_write_tmp(path, "log:\n  level: info\n\ngateway:\n  foo: 1\n");
    cdt_config_t cfg;
    cdt_config_init(&cfg);
    char err[512], expected[600];
    ck_assert_int_eq(cdt_config_load(&cfg, path, err, sizeof err), -1);
    snprintf(expected, sizeof expected, "%s:5: unknown key 'gateway.foo'",
             path);
    ck_assert_str_eq(err, expected);
    cdt_config_release(&cfg);
    unlink(path);

    s_write_tmp(path, "a: [1\n");
    cdt_config_init(&cfg);
    ck_assert_int_eq(cdt_config_load(&cfg, path, err, sizeof err), -1);
    ck_assert_msg(strncmp(err, path, strlen(path)) == 0 &&
                      err[strlen(path)] == ':',
                  "%s", err);
    cdt_config_release(&cfg);
    unlink(path);

    s_write_tmp(path, "a: 1\na: 2\n");
    cdt_config_init(&cfg);
    ck_assert_int_eq(cdt_config_load(&cfg, path, err, sizeof err), -1);
    snprintf(expected, sizeof expected, "%s:2: duplicate key 'a'", path);
    ck_assert_str_eq(err, expected);
    cdt_config_release(&cfg);
    unlink(path);

    cdt_config_init(&cfg);
    ck_assert_int_eq(
        cdt_config_load(&cfg, "/nonexistent/c.yaml", err, sizeof err), -1);
    ck_assert_str_eq(err, "cannot open '/nonexistent/c.yaml': No such file or "
                          "directory");
    cdt_config_release(&cfg);
}
END_TEST

/* Every integer key accepts its bounds and refuses one step beyond. */
static const struct {
    const char *key;
    long long min, max;
} s_ranges[] = {
    {"broker.heartbeat_ms", 1, 86400000},
    {"broker.gateway_timeout_ms", 1, 86400000},
    {"broker.max_ingress_bytes", 64, 268435456},
    {"broker.max_conns_per_key", 1, 1000000000},
    {"broker.max_conns_total", 1, 1000000000},
    {"gateway.keepalive_ms", 1, 86400000},
    {"gateway.client_timeout_ms", 1, 86400000},
    {"gateway.handshake_timeout_ms", 1, 86400000},
    {"gateway.negotiate_ttl_ms", 1, 86400000},
    {"gateway.invoke_timeout_ms", 1, 86400000},
    {"gateway.max_message_bytes", 64, 268435456},
    {"gateway.max_queue_bytes", 1024, 1073741824},
    {"gateway.max_connections", 1, 10000000},
    {"gateway.max_header_bytes", 1024, 1048576},
    {"gateway.rx_buffer_bytes", 128, 16777216},
    {"gateway.invocations_per_sec", 1, 1000000},
    {"gateway.connects_per_ip_per_sec", 1, 1000000},
    {"spend.window_ms", 0, 86400000},
    {"spend.rearm_percent", 0, 1000},
    {"spend.unusual_short_ms", 1, 2592000000},
    {"spend.unusual_long_ms", 1, 2592000000},
    {"spend.unusual_min_samples", 1, 1000000},
    {"spend.unusual_cooldown_ms", 0, 2592000000},
    {"health.hysteresis", 1, 1000},
    {"tasks.progress_window_ms", 0, 86400000},
    {"tasks.retention_ms", 1, 315360000000},
};

START_TEST(test_cdt_config_integer_ranges)
{
    cdt_config_t cfg;
    cdt_config_init(&cfg);
    char set[128], err[512], want[512];
    const char *key = s_ranges[_i].key;
    long long bounds[] = {s_ranges[_i].min, s_ranges[_i].max};
    for (int b = 0; b < 2; b++) {
        snprintf(set, sizeof set, "%s=%lld", key, bounds[b]);
        ck_assert_msg(cdt_config_set(&cfg, set, err, sizeof err) == 0, "%s",
                      err);
        char *dump = s_dump(&cfg);
        const char *leaf = strchr(key, '.') + 1;
        snprintf(want, sizeof want, "\n  %s: %lld\n", leaf, bounds[b]);
        ck_assert_msg(strstr(dump, want) != NULL, "%s not in dump", want);
        free(dump);
        snprintf(set, sizeof set, "%s=%lld", key,
                 b ? bounds[b] + 1 : bounds[b] - 1);
        ck_assert_int_eq(cdt_config_set(&cfg, set, err, sizeof err), -1);
        snprintf(want, sizeof want, "'%s' must be between %lld and %lld", key,
                 s_ranges[_i].min, s_ranges[_i].max);
        ck_assert_str_eq(err, want);
    }
    cdt_config_release(&cfg);
}
END_TEST

START_TEST(test_cdt_config_second_load_replaces_keys_and_path)
{
    char p1[64], p2[64];
    s_write_tmp(p1, "keys:\n  - {id: 1, name: a, hash: " S_HASH_A "}\n"
                    "  - {id: 2, name: b, hash: " S_HASH_B "}\n");
    s_write_tmp(p2, "keys:\n  - {id: 3, name: c, hash: " S_HASH_ADMIN "}\n"
                    "gateway: {name: second}\n");
    cdt_config_t cfg;
    cdt_config_init(&cfg);
    char err[512];
    ck_assert_msg(cdt_config_load(&cfg, p1, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(cfg.n_keys, 2);
    ck_assert_msg(cdt_config_load(&cfg, p2, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(cfg.path, p2);
    ck_assert_uint_eq(cfg.n_keys, 1);
    ck_assert_int_eq(cfg.keys[0].id, 3);
    ck_assert_str_eq(cfg.gateway_name, "second");
    /* a failing keys section leaves the previous keys in place */
    ck_assert_int_eq(
        cdt_config_set(&cfg, "keys=[{id: 4, name: d}]", err, sizeof err), -1);
    ck_assert_str_eq(err, "key entry lacks 'hash'");
    ck_assert_uint_eq(cfg.n_keys, 1);
    ck_assert_int_eq(cfg.keys[0].id, 3);
    unlink(p1);
    unlink(p2);
    cdt_config_release(&cfg);
}
END_TEST

START_TEST(test_cdt_config_failure_midway_releases_cleanly)
{
    /* values before the error are applied; release frees them all */
    cdt_config_t cfg;
    char err[512];
    ck_assert_int_eq(s_apply(&cfg,
                             "gateway:\n  name: early\n"
                             "  cors_origins: [a, b]\n"
                             "keys:\n  - {id: 1, name: x, hash: " S_HASH_A "}\n"
                             "spend:\n  thresholds: [3, 2]\n",
                             err, sizeof err),
                     -1);
    ck_assert_str_eq(err, "c.yaml:7: 'spend.thresholds' must be in ascending "
                          "order");
    ck_assert_str_eq(cfg.gateway_name, "early");
    ck_assert_uint_eq(cfg.n_keys, 1);
    ck_assert_uint_eq(cfg.spend_n_thresholds, 3);
    cdt_config_release(&cfg);
}
END_TEST

/* ---- overrides --------------------------------------------------------- */

START_TEST(test_cdt_config_overrides)
{
    cdt_config_t cfg;
    cdt_config_init(&cfg);
    char err[512];
    ck_assert_int_eq(
        cdt_config_set(&cfg, "gateway.keepalive_ms=200", err, sizeof err), 0);
    ck_assert_int_eq(cfg.gateway_keepalive_ms, 200);
    ck_assert_int_eq(
        cdt_config_set(&cfg, "gateway.listen=127.0.0.1:6001", err, sizeof err),
        0);
    ck_assert_str_eq(cfg.gateway_listen, "127.0.0.1:6001");
    ck_assert_int_eq(
        cdt_config_set(&cfg, "broker.ingress=tcp://*:7000", err, sizeof err),
        0);
    ck_assert_str_eq(cfg.broker_ingress, "tcp://*:7000");
    ck_assert_int_eq(
        cdt_config_set(&cfg, "gateway.reuseport=false", err, sizeof err), 0);
    ck_assert(!cfg.gateway_reuseport);
    ck_assert_int_eq(
        cdt_config_set(&cfg, "spend.thresholds=[50, 75]", err, sizeof err), 0);
    ck_assert_uint_eq(cfg.spend_n_thresholds, 2);
    ck_assert_int_eq(cfg.spend_thresholds[1], 75);
    ck_assert_int_eq(cdt_config_set(&cfg, "gateway.cors_origins=[http://a]",
                                    err, sizeof err),
                     0);
    ck_assert_str_eq(cfg.gateway_cors_origins[0], "http://a");
    ck_assert_ptr_null(cfg.gateway_cors_origins[1]);
    ck_assert_int_eq(cdt_config_set(&cfg, "gateway.name=a=b", err, sizeof err),
                     0);
    ck_assert_str_eq(cfg.gateway_name, "a=b");
    ck_assert_int_eq(cdt_config_set(&cfg, "gateway.name=", err, sizeof err), 0);
    ck_assert_str_eq(cfg.gateway_name, "");
    ck_assert_int_eq(
        cdt_config_set(&cfg, "gateway={keepalive_ms: 300}", err, sizeof err),
        0);
    ck_assert_int_eq(cfg.gateway_keepalive_ms, 300);
    ck_assert_int_eq(
        cdt_config_set(&cfg, "keys=[{id: 4, name: x, hash: " S_HASH_A "}]", err,
                       sizeof err),
        0);
    ck_assert_uint_eq(cfg.n_keys, 1);
    ck_assert_int_eq(cfg.keys[0].id, 4);

    /* failures leave the value alone and name the key */
    ck_assert_int_eq(cdt_config_set(&cfg, "gateway.foo=1", err, sizeof err),
                     -1);
    ck_assert_str_eq(err, "unknown key 'gateway.foo'");
    ck_assert_int_eq(
        cdt_config_set(&cfg, "gateway.keepalive_ms=abc", err, sizeof err), -1);
    ck_assert_str_eq(err, "'gateway.keepalive_ms' must be an integer");
    ck_assert_int_eq(
        cdt_config_set(&cfg, "gateway.keepalive_ms=0", err, sizeof err), -1);
    ck_assert_str_eq(err,
                     "'gateway.keepalive_ms' must be between 1 and 86400000");
    ck_assert_int_eq(cfg.gateway_keepalive_ms, 300);
    ck_assert_int_eq(
        cdt_config_set(&cfg, "spend.thresholds=[2, 1]", err, sizeof err), -1);
    ck_assert_str_eq(err, "'spend.thresholds' must be in ascending order");
    ck_assert_uint_eq(cfg.spend_n_thresholds, 2);
    ck_assert_int_eq(
        cdt_config_set(&cfg, "spend.thresholds=[1, 2", err, sizeof err), -1);
    ck_assert_str_eq(err, "invalid value for 'spend.thresholds'");
    ck_assert_int_eq(cdt_config_set(&cfg, "novalue", err, sizeof err), -1);
    ck_assert_str_eq(err, "override 'novalue' is not key=value");
    ck_assert_int_eq(cdt_config_set(&cfg, "=5", err, sizeof err), -1);
    ck_assert_str_eq(err, "override '=5' is not key=value");
    ck_assert_int_eq(cdt_config_set(&cfg, "gateway=5", err, sizeof err), -1);
    ck_assert_str_eq(err, "'gateway' must be a mapping");
    cdt_config_release(&cfg);
}
END_TEST

/* ---- dump -------------------------------------------------------------- */

START_TEST(test_cdt_config_dump_reloads_to_same_values)
{
    cdt_config_t cfg;
    cdt_config_init(&cfg);
    char err[512];
    ck_assert_msg(cdt_config_load(&cfg, "etc/conduit.yaml", err, sizeof err) ==
                      0,
                  "%s", err);
    const char *sets[] = {
        "gateway.name=\"we \\\"ird\\\\ \\t name\\n\\u00e9\"",
        "gateway.cors_origins=[\"http://a\", 'b c', \"#x\", \"\"]",
        "spend.unusual_multiple=1.1",
        "gateway.static_dir=\"\\x80\\u0085\\u2028\\u2029\\ufeff\\uffff\\xa0z"
        "\U0001F600\"",
        "spend.thresholds=[5]",
        "gateway.reuseport=false",
        "keys=[{id: 7, name: \"n: 'q'\", hash: " S_HASH_B
        ", enabled: false, admin: true, expires: "
        "\"2031-02-03T04:05:06.789Z\"}, {id: 8, name: m, hash: " S_HASH_A "}]",
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        ck_assert_msg(cdt_config_set(&cfg, sets[i], err, sizeof err) == 0,
                      "%s: %s", sets[i], err);
    char *first = s_dump(&cfg);

    char path[64];
    s_write_tmp(path, first);
    cdt_config_t again;
    cdt_config_init(&again);
    ck_assert_msg(cdt_config_load(&again, path, err, sizeof err) == 0, "%s\n%s",
                  err, first);
    unlink(path);
    char *second = s_dump(&again);
    ck_assert_str_eq(first, second);

    ck_assert_str_eq(again.gateway_name, "we \"ird\\ \t name\n\xc3\xa9");
    ck_assert_str_eq(again.gateway_static_dir,
                     "\xc2\x80\xc2\x85\xe2\x80\xa8\xe2\x80\xa9\xef\xbb\xbf"
                     "\xef\xbf\xbf\xc2\xa0z\xf0\x9f\x98\x80");
    ck_assert_str_eq(again.gateway_cors_origins[1], "b c");
    ck_assert_str_eq(again.gateway_cors_origins[2], "#x");
    ck_assert_str_eq(again.gateway_cors_origins[3], "");
    ck_assert_ptr_null(again.gateway_cors_origins[4]);
    ck_assert(again.spend_unusual_multiple == 1.1);
    ck_assert_str_eq(again.broker_master_key_hash, S_MASTER_HASH);
    ck_assert_uint_eq(again.n_keys, 2);
    ck_assert_str_eq(again.keys[0].name, "n: 'q'");
    ck_assert(!again.keys[0].enabled);
    ck_assert(again.keys[0].admin);
    ck_assert_int_eq(again.keys[0].expires_ms, cfg.keys[0].expires_ms);
    ck_assert_int_eq(again.keys[1].expires_ms, 0);
    ck_assert(again.keys[1].enabled);
    free(first);
    free(second);
    cdt_config_release(&again);
    cdt_config_release(&cfg);
}
END_TEST

START_TEST(test_cdt_config_dump_of_defaults_lists_every_key)
{
    cdt_config_t cfg;
    cdt_config_init(&cfg);
    char *text = s_dump(&cfg);
    ck_assert_ptr_nonnull(strstr(text, "\ngateway:\n"));
    ck_assert_ptr_nonnull(strstr(text, "  keepalive_ms: 15000\n"));
    ck_assert_ptr_nonnull(strstr(text, "  thresholds: [80, 90, 100]\n"));
    ck_assert_ptr_nonnull(strstr(text, "  cors_origins: []\n"));
    ck_assert_ptr_nonnull(strstr(text, "  unusual_multiple: 3\n"));
    ck_assert_ptr_nonnull(strstr(text, "  level: \"info\"\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nkeys: []\n"));
    free(text);
    cdt_config_release(&cfg);
}
END_TEST

START_TEST(test_cdt_config_path_without_file)
{
    cdt_config_t cfg;
    cdt_config_init(&cfg);
    char *p = cdt_config_path(&cfg, "hubs.yaml");
    ck_assert_str_eq(p, "hubs.yaml");
    free(p);
    ck_assert_ptr_null(cdt_config_path(&cfg, NULL));
    cdt_config_release(&cfg);

    char path[64];
    s_write_tmp(path, "");
    cdt_config_init(&cfg);
    char err[256];
    ck_assert_int_eq(cdt_config_load(&cfg, path, err, sizeof err), 0);
    p = cdt_config_path(&cfg, "");
    ck_assert_str_eq(p, "");
    free(p);
    unlink(path);
    cdt_config_release(&cfg);
}
END_TEST

Suite *
cdt_config_suite(void)
{
    Suite *s = suite_create("cdt_config");
    TCase *tc = tcase_create("load");
    tcase_add_test(tc, test_cdt_config_defaults);
    tcase_add_test(tc, test_cdt_config_shipped_file);
    tcase_add_test(tc, test_cdt_config_defaults_match_shipped_file);
    tcase_add_test(tc, test_cdt_config_load_over_current_values);
    tcase_add_test(tc, test_cdt_config_empty_and_commented_sections);
    tcase_add_test(tc, test_cdt_config_values_of_each_type);
    tcase_add_test(tc, test_cdt_config_path_without_file);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_loop_test(tc, test_cdt_config_errors, 0,
                        (int)(sizeof s_errors / sizeof s_errors[0]));
    tcase_add_test(tc, test_cdt_config_file_errors_name_the_file);
    tcase_add_loop_test(tc, test_cdt_config_integer_ranges, 0,
                        (int)(sizeof s_ranges / sizeof s_ranges[0]));
    tcase_add_test(tc, test_cdt_config_second_load_replaces_keys_and_path);
    tcase_add_test(tc, test_cdt_config_failure_midway_releases_cleanly);
    suite_add_tcase(s, tc);
    tc = tcase_create("overrides");
    tcase_add_test(tc, test_cdt_config_overrides);
    suite_add_tcase(s, tc);
    tc = tcase_create("dump");
    tcase_add_test(tc, test_cdt_config_dump_reloads_to_same_values);
    tcase_add_test(tc, test_cdt_config_dump_of_defaults_lists_every_key);
    suite_add_tcase(s, tc);
    return s;
}
