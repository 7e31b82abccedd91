/*
 * conduit-gateway - the SignalR-compatible WebSocket gateway.
 *
 * Parses arguments, loads the configuration and the hub catalog, and runs
 * gateway.c's loop until SIGINT or SIGTERM. Exit status: 0 on success, 1
 * on a runtime failure or a bad configuration file (as the broker), 2 on
 * a usage error, a bad -o included.
 *
 * SPDX-License-Identifier: MIT
 */
#define CDT_LOG_MODULE "main"
#include "common/cdt_catalog.h"
#include "common/cdt_config.h"
#include "common/cdt_log.h"
#include "gateway/gateway.h"

#include <czmq.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gateway_t *volatile s_gateway;

static void
s_usage(FILE *out)
{
    fprintf(out, "usage: conduit-gateway [-c FILE] [-o key=value]... "
                 "[--check-config] [--dump-config] [--help]\n"
                 "\n"
                 "  -c, --config FILE   configuration file (etc/conduit.yaml)\n"
                 "  -o key=value        override one configuration key\n"
                 "  --check-config      validate the configuration and exit\n"
                 "  --dump-config       print the effective configuration and "
                 "exit\n"
                 "  -h, --help          this text\n");
}

static void
s_on_signal(int sig)
{
    (void)sig;
    if (s_gateway)
        gateway_stop(s_gateway);
}

int
main(int argc, char **argv)
{
    const char *config_path = NULL;
    const char **overrides = calloc((size_t)argc, sizeof *overrides);
    size_t n_overrides = 0;
    bool check = false, dump = false;
    int status = 2;
    cdt_config_t cfg;
    cdt_catalog_t *catalog = NULL;
    char err[512];

    cdt_log_init("gateway");
    cdt_config_init(&cfg);
    if (!overrides)
        goto done;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) &&
            i + 1 < argc) {
            config_path = argv[++i];
        } else if (strcmp(a, "-o") == 0 && i + 1 < argc) {
            overrides[n_overrides++] = argv[++i];
        } else if (strcmp(a, "--check-config") == 0) {
            check = true;
        } else if (strcmp(a, "--dump-config") == 0) {
            dump = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            s_usage(stdout);
            status = 0;
            goto done;
        } else {
            fprintf(stderr, "conduit-gateway: unexpected argument '%s'\n", a);
            s_usage(stderr);
            goto done;
        }
    }

    /* from here a bad configuration is a failure (1), as for the broker;
     * a bad -o stays a usage error (2) */
    if (config_path &&
        cdt_config_load(&cfg, config_path, err, sizeof err) != 0) {
        fprintf(stderr, "conduit-gateway: %s\n", err);
        status = 1;
        goto done;
    }
    for (size_t i = 0; i < n_overrides; i++) {
        if (cdt_config_set(&cfg, overrides[i], err, sizeof err) != 0) {
            fprintf(stderr, "conduit-gateway: -o '%s': %s\n", overrides[i],
                    err);
            goto done;
        }
    }
    status = 1;
    int level = cdt_log_level_parse(cfg.log_level ? cfg.log_level : "info");
    if (level < 0) {
        fprintf(stderr, "conduit-gateway: unknown log.level '%s'\n",
                cfg.log_level);
        goto done;
    }
    cdt_log_set_level(level);

    char *catalog_path = cdt_config_path(&cfg, cfg.broker_catalog);
    catalog = cdt_catalog_load(catalog_path, err, sizeof err);
    free(catalog_path);
    if (!catalog) {
        fprintf(stderr, "conduit-gateway: %s\n", err);
        goto done;
    }
    if (dump) {
        cdt_config_dump(&cfg, stdout);
        status = 0;
        goto done;
    }
    if (check) {
        if (gateway_check_config(&cfg) != 0)
            goto done;
        printf("configuration ok (%zu hubs)\n", catalog->n_hubs);
        status = 0;
        goto done;
    }

    /* czmq must not take over SIGINT/SIGTERM: the lws loop handles them */
    zsys_handler_set(NULL);
    s_gateway = gateway_new(&cfg, &catalog);
    if (!s_gateway)
        goto done;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (gateway_run(s_gateway) == 0)
        status = 0;
    gateway_t *gw = s_gateway;
    s_gateway = NULL;
    gateway_destroy(&gw);
done:
    cdt_catalog_destroy(&catalog);
    cdt_config_release(&cfg);
    free(overrides);
    return status;
}
