/*
 * conduit-pub - publish to conduit-broker from the shell.
 *
 * SPDX-License-Identifier: MIT
 */
#include "cli/cli.h"

#include <stdio.h>

int
main(int argc, char **argv)
{
    return cli_main(argc, argv, stdin, stdout, stderr);
}
