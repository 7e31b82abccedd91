/*
 * curvecert - conduit-pub's CurveZMQ certificates: loading the keys for
 * the acknowledged ingress, and `conduit-pub keygen`.
 *
 * Certificates are czmq zcert files (ZPL text with a `curve` section
 * holding `public-key` and, in the secret file, `secret-key`, both Z85).
 * A pair is written as FILE (public: give it to the broker, in its
 * broker.curve_clients_dir) and FILE_secret (public and secret keys,
 * mode 0600: keep it). Wherever a certificate with a secret key is
 * needed, FILE and FILE_secret are both accepted (zcert_load reads
 * FILE_secret when it exists).
 *
 * Only czmq's zcert is used here, which installs no signal handlers:
 * conduit-pub still dies on Ctrl-C like any shell tool.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef CURVECERT_H
#define CURVECERT_H

#include "cli/sender.h"

#include <stddef.h>

/* Loads the client's own certificate (own: FILE or FILE_secret; it must
 * hold a secret key) and the server's public key (server: the broker's
 * public certificate, or any certificate of the broker's key pair) into
 * *out. Returns 0, or -1 with a one-line reason in err. */
int curvecert_load(const char *own, const char *server, sender_curve_t *out,
                   char *err, size_t errlen);

/* Generates a key pair and writes path (public) and path_secret (mode
 * 0600), with name as the certificate's "name" metadata when not NULL.
 * Refuses to overwrite either file. Returns 0 and the public key (Z85,
 * NUL-terminated) in public_txt, or -1 with a one-line reason in err. */
int curvecert_generate(const char *path, const char *name,
                       char public_txt[SENDER_Z85_LEN + 1], char *err,
                       size_t errlen);

#endif
