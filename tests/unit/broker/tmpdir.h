/*
 * tmpdir - scratch directories for the broker's unit tests (the store's
 * LMDB environments).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TMPDIR_H
#define TMPDIR_H

/* Creates a new empty directory under $TMPDIR (or /tmp). Caller frees. */
char *tmpdir_new(void);

/* Removes path and everything below it, then frees path; *path_p = NULL. */
void tmpdir_remove(char **path_p);

#endif
