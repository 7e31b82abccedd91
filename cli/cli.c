/*
 * cli - conduit-pub's program flow: options, endpoint, one command.
 *
 * Arguments are checked completely before any socket is opened, so a
 * usage error never waits for a broker. Every message, NDJSON lines
 * included, goes through the acknowledged endpoint; the exit status is 0
 * only when the broker accepted all of them. keygen needs no broker.
 *
 * SPDX-License-Identifier: MIT
 */
#include "cli/cli.h"

#include "cli/curvecert.h"
#include "cli/pub.h"
#include "cli/sender.h"
#include "common/cdt_buf.h"
#include "common/cdt_clock.h"
#include "common/cdt_config.h"
#include "common/cdt_json.h"
#include "common/cdt_mem.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define NDJSON_WINDOW 1000

typedef struct run {
    FILE *out;
    FILE *err;
    enum pub_cmd cmd;
    bool answered;
    bool ok;
    char error[512];
    uint64_t rejected; /* ndjson: lines the broker refused */
} run_t;

static void
s_print_json(FILE *out, const uint8_t *reply, size_t len)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    cdt_buf_t json = CDT_BUF_INIT;
    if (msgpack_unpack_next(&u, (const char *)reply, len, &off) ==
            MSGPACK_UNPACK_SUCCESS &&
        cdt_json_from_msgpack(&u.data, &json) == 0)
        fprintf(out, "%s\n", (const char *)json.data);
    cdt_buf_release(&json);
    msgpack_unpacked_destroy(&u);
}

static void
s_on_ack(void *arg, uint64_t tag, bool ok, const char *error,
         const uint8_t *reply, size_t reply_len)
{
    run_t *run = arg;
    if (run->cmd == PUB_CMD_NDJSON) {
        if (!ok) {
            fprintf(run->err, "conduit-pub: line %llu: %s\n",
                    (unsigned long long)tag, error);
            run->rejected++;
        }
        return;
    }
    run->answered = true;
    run->ok = ok;
    snprintf(run->error, sizeof run->error, "%s", error);
    if (ok && run->cmd == PUB_CMD_STATS)
        s_print_json(run->out, reply, reply_len);
}

static int
s_ndjson(sender_t *sender, run_t *run, FILE *in)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t lineno = 0, local_rejected = 0, sent = 0;
    cdt_buf_t map = CDT_BUF_INIT;
    char reason[256];
    int rc = 0;
    while ((n = getline(&line, &cap, in)) != -1) {
        lineno++;
        if (n > 0 && line[n - 1] == '\n')
            n--;
        cdt_buf_reset(&map);
        int lr = pub_ndjson_line(line, (size_t)n, &map, reason, sizeof reason);
        if (lr == 1)
            continue;
        if (lr == -1) {
            fprintf(run->err, "conduit-pub: line %llu: %s\n",
                    (unsigned long long)lineno, reason);
            local_rejected++;
            continue;
        }
        if (sender_send(sender, map.data, map.len, lineno) == -1) {
            rc = -1;
            break;
        }
        sent++;
    }
    free(line);
    cdt_buf_release(&map);
    if (rc == 0 && ferror(in)) {
        fprintf(run->err, "conduit-pub: cannot read stdin\n");
        return 1;
    }
    if (rc == -1 || sender_flush(sender) == -1) {
        fprintf(run->err, "conduit-pub: %s\n", sender_error(sender));
        return 1;
    }
    uint64_t bad = local_rejected + run->rejected;
    if (bad) {
        fprintf(run->err, "conduit-pub: %llu of %llu lines rejected\n",
                (unsigned long long)bad,
                (unsigned long long)(sent + local_rejected));
        return 1;
    }
    return 0;
}

/* Returns 0 with the endpoint in buf and, with --curve-cert, the keys in
 * *curve (*use_curve set), or 1 after printing why the config or a
 * certificate could not be read. Without --curve-server-public the
 * broker's public key comes from the config's broker.curve_secret_cert.
 * The config is initialised only when it is read: cdt_config_init parses
 * every default through libyaml, about 0.08 ms that a run with
 * --broker does not need. */
static int
s_endpoint(const pub_global_t *g, FILE *err, char *buf, size_t buflen,
           sender_curve_t *curve, bool *use_curve)
{
    const char *env = getenv("CONDUIT_BROKER");
    char why[1024];
    int rc = 0;
    *use_curve = false;
    cdt_config_t cfg;
    bool need_cfg =
        g->config && (!g->broker || (g->curve_cert && !g->curve_server_public));
    if (need_cfg) {
        cdt_config_init(&cfg);
        if (cdt_config_load(&cfg, g->config, why, sizeof why) == -1) {
            fprintf(err, "conduit-pub: %s\n", why);
            cdt_config_release(&cfg);
            return 1;
        }
    }
    pub_resolve_endpoint(g->broker, need_cfg ? cfg.broker_ingress_ack : NULL,
                         env, buf, buflen);
    if (g->curve_cert) {
        char *server = NULL;
        if (g->curve_server_public)
            server = cdt_xstrdup(g->curve_server_public);
        else if (need_cfg && cfg.broker_curve_secret_cert &&
                 cfg.broker_curve_secret_cert[0])
            server = cdt_config_path(&cfg, cfg.broker_curve_secret_cert);
        if (!server) {
            fprintf(err, "conduit-pub: --curve-cert needs "
                         "--curve-server-public (or -c with "
                         "broker.curve_secret_cert set)\n");
            rc = 2;
        } else if (curvecert_load(g->curve_cert, server, curve, why,
                                  sizeof why) != 0) {
            fprintf(err, "conduit-pub: %s\n", why);
            rc = 1;
        } else {
            *use_curve = true;
        }
        free(server);
    }
    if (need_cfg)
        cdt_config_release(&cfg);
    return rc;
}

static int
s_keygen(int argc, char **argv, FILE *out, FILE *err)
{
    const char *path, *name;
    char msg[1024];
    int rc = pub_keygen_args(argc, argv, &path, &name, msg, sizeof msg);
    if (rc == PUB_HELP) {
        fputs(pub_help("keygen"), out);
        return 0;
    }
    if (rc == PUB_OK && name && !curvecert_name_valid(name)) {
        snprintf(msg, sizeof msg,
                 "keygen: --name must not contain double quotes or control "
                 "characters");
        rc = PUB_USAGE;
    }
    if (rc != PUB_OK) {
        fprintf(err, "conduit-pub: %s (try 'conduit-pub keygen --help')\n",
                msg);
        return 2;
    }
    char pub[SENDER_Z85_LEN + 1];
    if (curvecert_generate(path, name, pub, msg, sizeof msg) != 0) {
        fprintf(err, "conduit-pub: %s\n", msg);
        return 1;
    }
    fprintf(out, "%s\n", pub);
    fflush(out);
    return 0;
}

int
cli_main(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    pub_global_t g;
    char msg[1024];
    int rc = pub_parse_global(argc, argv, &g, msg, sizeof msg);
    if (rc == PUB_HELP) {
        fputs(pub_help(NULL), out);
        return 0;
    }
    if (rc != PUB_OK) {
        fprintf(err, "conduit-pub: %s (try 'conduit-pub --help')\n", msg);
        return 2;
    }
    int cargc = argc - g.cmd_index;
    char **cargv = argv + g.cmd_index;
    run_t run = {.out = out, .err = err, .cmd = pub_cmd_parse(cargv[0])};
    if (run.cmd == PUB_CMD_KEYGEN)
        return s_keygen(cargc, cargv, out, err);

    cdt_buf_t map = CDT_BUF_INIT;
    if (run.cmd == PUB_CMD_NDJSON)
        rc = pub_ndjson_args(cargc, cargv, msg, sizeof msg);
    else
        rc =
            pub_build(cargc, cargv, cdt_clock_wall_ms(), &map, msg, sizeof msg);
    if (rc != PUB_OK) {
        cdt_buf_release(&map);
        if (rc == PUB_HELP) {
            fputs(pub_help(cargv[0]), out);
            return 0;
        }
        if (rc == PUB_USAGE)
            fprintf(err, "conduit-pub: %s (try 'conduit-pub %s --help')\n", msg,
                    cargv[0]);
        else
            fprintf(err, "conduit-pub: %s\n", msg);
        return rc == PUB_USAGE ? 2 : 1;
    }

    char endpoint[1024];
    sender_curve_t curve;
    memset(&curve, 0, sizeof curve);
    bool use_curve;
    rc = s_endpoint(&g, err, endpoint, sizeof endpoint, &curve, &use_curve);
    if (rc != 0) {
        cdt_buf_release(&map);
        return rc;
    }
    size_t window = run.cmd == PUB_CMD_NDJSON ? NDJSON_WINDOW : 1;
    sender_t *sender =
        sender_new(endpoint, window, g.timeout_ms, use_curve ? &curve : NULL,
                   s_on_ack, &run, msg, sizeof msg);
    explicit_bzero(&curve, sizeof curve); /* the socket holds them now */
    if (!sender) {
        fprintf(err, "conduit-pub: %s\n", msg);
        cdt_buf_release(&map);
        return 1;
    }
    if (run.cmd == PUB_CMD_NDJSON) {
        rc = s_ndjson(sender, &run, in);
    } else if (sender_send(sender, map.data, map.len, 0) == -1 ||
               sender_flush(sender) == -1) {
        fprintf(err, "conduit-pub: %s\n", sender_error(sender));
        rc = 1;
    } else if (!run.ok) {
        fprintf(err, "conduit-pub: rejected: %s\n", run.error);
        rc = 1;
    } else {
        rc = 0;
    }
    sender_destroy(&sender);
    cdt_buf_release(&map);
    fflush(out);
    return rc;
}
