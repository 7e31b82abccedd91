/*
 * curvecert - conduit-pub's CurveZMQ certificates.
 *
 * SPDX-License-Identifier: MIT
 */
#include "cli/curvecert.h"

#include "common/cdt_mem.h"

#include <czmq.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool
s_zero(const byte *key)
{
    for (int i = 0; i < 32; i++)
        if (key[i])
            return false;
    return true;
}

/* Loads path as a zcert; NULL with err set when it cannot be read or has
 * no public key. */
static zcert_t *
s_load(const char *what, const char *path, char *err, size_t errlen)
{
    if (access(path, R_OK) != 0) {
        snprintf(err, errlen, "cannot read %s '%s': %s", what, path,
                 strerror(errno));
        return NULL;
    }
    zcert_t *cert = zcert_load(path);
    if (!cert || s_zero(zcert_public_key(cert))) {
        snprintf(err, errlen, "%s '%s' is not a CurveZMQ certificate", what,
                 path);
        zcert_destroy(&cert);
        return NULL;
    }
    return cert;
}

int
curvecert_load(const char *own, const char *server, sender_curve_t *out,
               char *err, size_t errlen)
{
    int rc = -1;
    zcert_t *mine = s_load("the certificate", own, err, errlen);
    zcert_t *srv =
        mine ? s_load("the server certificate", server, err, errlen) : NULL;
    if (!mine || !srv)
        goto done;
    if (s_zero(zcert_secret_key(mine))) {
        snprintf(err, errlen,
                 "the certificate '%s' has no secret key (give the file "
                 "keygen wrote, with its '_secret' file beside it, or the "
                 "'_secret' file itself)",
                 own);
        goto done;
    }
    snprintf(out->public_key, sizeof out->public_key, "%s",
             zcert_public_txt(mine));
    snprintf(out->secret_key, sizeof out->secret_key, "%s",
             zcert_secret_txt(mine));
    snprintf(out->server_key, sizeof out->server_key, "%s",
             zcert_public_txt(srv));
    rc = 0;
done:
    zcert_destroy(&mine);
    zcert_destroy(&srv);
    return rc;
}

int
curvecert_generate(const char *path, const char *name,
                   char public_txt[SENDER_Z85_LEN + 1], char *err,
                   size_t errlen)
{
    if (!path || !*path) {
        snprintf(err, errlen, "keygen: --out needs a file name");
        return -1;
    }
    char *secret = cdt_xasprintf("%s_secret", path);
    int rc = -1;
    struct stat st;
    const char *exists = stat(path, &st) == 0     ? path
                         : stat(secret, &st) == 0 ? secret
                                                  : NULL;
    if (exists) {
        snprintf(err, errlen, "keygen: '%s' exists; not overwriting it",
                 exists);
        goto done;
    }
    zcert_t *cert = zcert_new();
    if (!cert) {
        snprintf(err, errlen, "keygen: cannot generate a key pair");
        goto done;
    }
    if (name && *name)
        zcert_set_meta(cert, "name", "%s", name);
    /* the secret file is private from the moment it exists */
    mode_t old = umask(077);
    errno = 0;
    int saved = zcert_save(cert, path);
    umask(old);
    if (saved != 0 || chmod(secret, 0600) != 0 || chmod(path, 0644) != 0) {
        snprintf(err, errlen, "keygen: cannot write '%s' and '%s': %s", path,
                 secret, errno ? strerror(errno) : "failed");
        zcert_destroy(&cert);
        goto done;
    }
    snprintf(public_txt, SENDER_Z85_LEN + 1, "%s", zcert_public_txt(cert));
    zcert_destroy(&cert);
    rc = 0;
done:
    free(secret);
    return rc;
}
