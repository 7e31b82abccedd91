/*
 * pub - conduit-pub's command line, turned into ingress maps.
 *
 * Everything here is pure: it reads argument vectors and text and appends
 * MessagePack maps (proto/cdt_ingress.h) to a buffer, so the unit tests can
 * check every flag without a broker. Sending is sender.c's business and the
 * program flow is cli.c's.
 *
 * Results follow the program's exit statuses: PUB_OK (0), PUB_FAIL (1: the
 * input is well-formed on the command line but its content is wrong, such
 * as malformed --data JSON), PUB_USAGE (2: unknown command or flag, missing
 * required flag, bad number), and PUB_HELP when --help was asked for. On
 * PUB_FAIL and PUB_USAGE a one-line reason (no program name, no newline) is
 * written to err.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PUB_H
#define PUB_H

#include "common/cdt_buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PUB_DEFAULT_ENDPOINT   "tcp://127.0.0.1:5571"
#define PUB_DEFAULT_TIMEOUT_MS 5000

enum pub_status {
    PUB_OK = 0,
    PUB_FAIL = 1,
    PUB_USAGE = 2,
    PUB_HELP = 3,
};

enum pub_cmd {
    PUB_CMD_EVENT = 1,
    PUB_CMD_TASK,
    PUB_CMD_SPEND,
    PUB_CMD_HEALTH,
    PUB_CMD_WEBHOOK,
    PUB_CMD_KEY,
    PUB_CMD_STATS,
    PUB_CMD_NDJSON,
    PUB_CMD_KEYGEN,
};

/* The options before the command. */
typedef struct pub_global {
    const char *broker;     /* --broker; NULL = not given (borrowed argv) */
    const char *config;     /* -c; NULL = not given (borrowed argv) */
    const char *curve_cert; /* --curve-cert; NULL = plain */
    const char *curve_server_public; /* --curve-server-public; NULL = none */
    int64_t timeout_ms;              /* --timeout; > 0 */
    int cmd_index; /* argv index of the command; argc = none */
} pub_global_t;

/* Parses the options that precede the command (argv[0] is the program).
 * Returns PUB_OK, PUB_HELP (--help before any command) or PUB_USAGE. */
int pub_parse_global(int argc, char **argv, pub_global_t *g, char *err,
                     size_t errlen);

/* The command called name, or 0 if there is none. */
enum pub_cmd pub_cmd_parse(const char *name);

/* Builds the ingress map of one typed command: argv[0] is the command name
 * (event, task, spend, provider-health, webhook, key, stats), the rest its
 * flags. now_ms becomes the map's `ts`. Appends one map to out on PUB_OK
 * (out is left as it was otherwise). --secret is hashed here and never
 * appears in the output. */
int pub_build(int argc, char **argv, int64_t now_ms, cdt_buf_t *out, char *err,
              size_t errlen);

/* Checks the flags of the ndjson command (it takes none but --help):
 * PUB_OK, PUB_HELP or PUB_USAGE. */
int pub_ndjson_args(int argc, char **argv, char *err, size_t errlen);

/* Checks the flags of the keygen command: --out FILE (required) and
 * --name NAME (optional), stored in *out and *name (borrowed argv; NULL
 * when absent). PUB_OK, PUB_HELP or PUB_USAGE. */
int pub_keygen_args(int argc, char **argv, const char **out, const char **name,
                    char *err, size_t errlen);

/* Converts one NDJSON line (without its newline) to an ingress map
 * appended to out. Returns 1 for a blank line (nothing appended), 0 for a
 * map, or -1 with the reason in err when the line is not one JSON object. */
int pub_ndjson_line(const char *line, size_t len, cdt_buf_t *out, char *err,
                    size_t errlen);

/* The endpoint to connect to: the --broker flag, else the config's
 * broker.ingress_ack (when -c was given), else $CONDUIT_BROKER, else
 * PUB_DEFAULT_ENDPOINT. A wildcard bind host ("*", "0.0.0.0") in the
 * config's value is replaced by 127.0.0.1 so it can be connected to. The
 * result is written to buf. NULL or "" arguments count as absent. */
void pub_resolve_endpoint(const char *flag, const char *config_ack,
                          const char *env, char *buf, size_t buflen);

/* The --help text of a command (name as typed), or of the program when
 * name is NULL or unknown. Static storage. */
const char *pub_help(const char *name);

#endif
