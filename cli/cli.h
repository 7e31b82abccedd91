/*
 * cli - conduit-pub's program flow: options, endpoint, one command.
 *
 * pub.c turns arguments into maps, sender.c moves them; this module ties
 * them together, prints answers and errors, and decides the exit status
 * (0 everything accepted, 1 failure, 2 usage error).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef CLI_H
#define CLI_H

#include <stdio.h>

/* Runs conduit-pub with the given arguments (argv[0] is the program);
 * NDJSON is read from in, answers written to out, errors to err. Returns
 * the exit status. */
int cli_main(int argc, char **argv, FILE *in, FILE *out, FILE *err);

#endif
