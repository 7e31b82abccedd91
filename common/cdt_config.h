/*
 * cdt_config - the one configuration file (etc/conduit.yaml).
 *
 * Both programs read the same file; each uses its sections. One table of
 * {key, type, offset, default, min, max} in cdt_config.c drives defaults,
 * parsing, range checks and --dump-config. Keys are dotted paths of nested
 * mappings ("gateway.keepalive_ms"); an unknown key, a wrong type or a
 * value out of range is an error naming `file:line`. Precedence: defaults,
 * then the file, then command-line `-o key=value` overrides.
 *
 * Durations are integers in milliseconds (keys end in _ms); sizes in bytes.
 * Relative paths are resolved against the directory of the config file.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef CDT_CONFIG_H
#define CDT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CDT_CONFIG_MAX_THRESHOLDS 8

/* One virtual key from the file (runtime changes live in the broker's
 * store). */
typedef struct cdt_config_key {
    int64_t id;         /* virtualKeyId, > 0 */
    char *name;         /* owned */
    char hash[65];      /* lowercase hex SHA-256 of the key */
    bool enabled;       /* default true */
    int64_t expires_ms; /* wall ms; 0 = never */
    bool admin;         /* passes task ownership checks */
} cdt_config_key_t;

typedef struct cdt_config {
    char *path; /* the file loaded, or NULL (defaults only); owned */
    char *dir;  /* its directory, for relative paths; owned */

    /* log */
    char *log_level; /* error|warn|notice|info|debug */

    /* broker */
    char *broker_ingress;      /* SUB bind for services' PUB sockets */
    char *broker_ingress_ack;  /* ROUTER bind for conduit-pub */
    char *broker_gateway_link; /* ROUTER bind for gateways */
    char *broker_catalog;      /* hub catalog YAML */
    char *broker_store;        /* LMDB directory; "" = no persistence */
    char *broker_master_key_hash;
    int64_t broker_heartbeat_ms;
    int64_t broker_gateway_timeout_ms;
    int64_t broker_max_ingress_bytes;
    int64_t broker_max_conns_per_key;
    int64_t broker_max_conns_total;
    char *broker_curve_secret_cert; /* zcert file; "" = no CurveZMQ */
    char *broker_curve_clients_dir; /* public certs accepted */

    /* gateway */
    char *gateway_listen; /* host:port */
    char *gateway_broker; /* the broker's gateway_link endpoint */
    char *gateway_name;   /* "" = host:pid */
    bool gateway_reuseport;
    int64_t gateway_keepalive_ms;
    int64_t gateway_client_timeout_ms;
    int64_t gateway_handshake_timeout_ms;
    int64_t gateway_negotiate_ttl_ms;
    int64_t gateway_invoke_timeout_ms;
    int64_t gateway_max_message_bytes;
    int64_t gateway_max_queue_bytes;
    int64_t gateway_max_connections;
    int64_t gateway_max_header_bytes;
    int64_t gateway_rx_buffer_bytes;
    int64_t gateway_invocations_per_sec;
    int64_t gateway_connects_per_ip_per_sec;
    char **gateway_cors_origins; /* NULL-terminated; empty = echo any */
    char *gateway_static_dir;
    char *gateway_tls_cert;
    char *gateway_tls_key;
    char *gateway_curve_cert;          /* own zcert (secret) file */
    char *gateway_curve_server_public; /* broker's public cert file */

    /* spend */
    int64_t spend_window_ms;
    int64_t spend_thresholds[CDT_CONFIG_MAX_THRESHOLDS]; /* percent, asc */
    size_t spend_n_thresholds;
    int64_t spend_rearm_percent;
    int64_t spend_unusual_short_ms;
    int64_t spend_unusual_long_ms;
    double spend_unusual_multiple;
    int64_t spend_unusual_min_samples;
    int64_t spend_unusual_cooldown_ms;

    /* health */
    int64_t health_hysteresis;

    /* tasks */
    int64_t tasks_progress_window_ms;
    int64_t tasks_retention_ms;

    /* keys */
    cdt_config_key_t *keys; /* owned */
    size_t n_keys;
} cdt_config_t;

/* Fills every field with its default. */
void cdt_config_init(cdt_config_t *cfg);

/* Frees everything the config owns; cfg may be re-initialised. */
void cdt_config_release(cdt_config_t *cfg);

/* Reads path over the current values. Returns 0, or -1 with
 * "path:line: reason" in err (cfg is then partly updated: release it). */
int cdt_config_load(cdt_config_t *cfg, const char *path, char *err,
                    size_t errlen);

/* Applies one "key=value" override (the value is parsed as YAML scalar or
 * flow sequence). Returns 0 or -1 with the reason in err. */
int cdt_config_set(cdt_config_t *cfg, const char *assignment, char *err,
                   size_t errlen);

/* Writes every key with its current value, as YAML the loader accepts. */
void cdt_config_dump(const cdt_config_t *cfg, FILE *out);

/* Resolves p against the config file's directory. Caller owns. */
char *cdt_config_path(const cdt_config_t *cfg, const char *p);

/* ---- appended: internal entry point (tests, fuzzing) ---- */

struct cdt_yaml_node;

/* Applies an already parsed tree over cfg exactly as cdt_config_load
 * applies a file; name is the file named in messages. Returns 0 or -1
 * with "name:line: reason" in err. */
int cdt_config_from_tree(cdt_config_t *cfg, const struct cdt_yaml_node *root,
                         const char *name, char *err, size_t errlen);

#endif
