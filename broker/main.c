/*
 * conduit-broker - the program: arguments, configuration, then the broker.
 *
 *   conduit-broker [-c FILE] [-o key=value]... [--check-config]
 *                  [--dump-config] [--help]
 *
 * Exit status: 0 after a clean stop (SIGINT/SIGTERM) or a successful
 * check, 1 on a runtime or configuration failure, 2 on a usage error.
 *
 * SPDX-License-Identifier: MIT
 */
#define CDT_LOG_MODULE "main"
#include "broker/broker.h"
#include "common/cdt_config.h"
#include "common/cdt_log.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_usage(FILE *out)
{
    fprintf(
        out,
        "usage: conduit-broker [-c FILE] [-o key=value]... "
        "[--check-config] [--dump-config] [--help]\n"
        "\n"
        "  -c FILE          configuration file, e.g. etc/conduit.yaml (without\n"
        "                   it: the built-in defaults)\n"
        "  -o key=value     override one key, e.g. -o log.level=debug\n"
        "  --check-config   validate the configuration and catalog, then "
        "exit\n"
        "  --dump-config    print the effective configuration, then "
        "exit\n"
        "  --help           this text\n");
}

int
main(int argc, char **argv)
{
    const char *file = NULL;
    bool check = false, dump = false;
    char err[1024];
    cdt_log_init("broker");

    /* First pass: options and the file; -o overrides apply after it. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            s_usage(stdout);
            return 0;
        } else if (strcmp(a, "--check-config") == 0) {
            check = true;
        } else if (strcmp(a, "--dump-config") == 0) {
            dump = true;
        } else if (strcmp(a, "-c") == 0 || strcmp(a, "-o") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "conduit-broker: option '%s' needs a value\n",
                        a);
                s_usage(stderr);
                return 2;
            }
            if (a[1] == 'c')
                file = argv[i + 1];
            i++;
        } else {
            fprintf(stderr, "conduit-broker: unknown argument '%s'\n", a);
            s_usage(stderr);
            return 2;
        }
    }

    cdt_config_t cfg;
    cdt_config_init(&cfg);
    if (file && cdt_config_load(&cfg, file, err, sizeof err) != 0) {
        fprintf(stderr, "conduit-broker: %s\n", err);
        cdt_config_release(&cfg);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0) {
            i++;
        } else if (strcmp(argv[i], "-o") == 0) {
            if (cdt_config_set(&cfg, argv[++i], err, sizeof err) != 0) {
                fprintf(stderr, "conduit-broker: -o '%s': %s\n", argv[i], err);
                cdt_config_release(&cfg);
                return 2;
            }
        }
    }
    int level = cdt_log_level_parse(cfg.log_level ? cfg.log_level : "info");
    cdt_log_set_level(level < 0 ? CDT_LOG_INFO : level);

    if (dump) {
        cdt_config_dump(&cfg, stdout);
        cdt_config_release(&cfg);
        return 0;
    }
    if (check) {
        int rc = broker_check_config(&cfg);
        if (rc == 0)
            printf("%s: ok\n", file ? file : "(defaults)");
        cdt_config_release(&cfg);
        return rc == 0 ? 0 : 1;
    }

    broker_t *broker = broker_new(&cfg);
    if (!broker) {
        cdt_config_release(&cfg);
        return 1;
    }
    int rc = broker_run(broker);
    broker_destroy(&broker);
    cdt_config_release(&cfg);
    return rc == 0 ? 0 : 1;
}
