/*
 * tmpdir - scratch directories for the broker's unit tests.
 *
 * SPDX-License-Identifier: MIT
 */
#include "tests/unit/broker/tmpdir.h"

#include "common/cdt_mem.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *
tmpdir_new(void)
{
    const char *base = getenv("TMPDIR");
    char *path = cdt_xasprintf("%s/cdt-test-XXXXXX", base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(path));
    return path;
}

static void
s_remove(const char *path)
{
    struct stat st;
    if (lstat(path, &st) == -1)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                    continue;
                char *sub = cdt_xasprintf("%s/%s", path, e->d_name);
                s_remove(sub);
                free(sub);
            }
            closedir(d);
        }
        (void)rmdir(path);
    } else {
        (void)unlink(path);
    }
}

void
tmpdir_remove(char **path_p)
{
    if (!*path_p)
        return;
    s_remove(*path_p);
    free(*path_p);
    *path_p = NULL;
}
