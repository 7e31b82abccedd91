/*
 * curvecert - conduit-pub's CurveZMQ certificates: loading the keys for
 * the acknowledged ingress, and `conduit-pub keygen`.
 *
 * Certificates are czmq zcert files (ZPL text with a `curve` section
 * holding `public-key` and, in the secret file, `secret-key`, both Z85).
 * A pair is written as FILE (public: give it to the broker, in its
 * broker.curve_clients_dir) and FILE_secret (public and secret keys,
 * mode 0600: keep it). Wherever a certificate with a secret key is
 * needed, FILE and FILE_secret are both accepted (FILE_secret is read
 * when it exists and parses, as zcert_load does).
 *
 * The files are read and written here, without czmq: linking czmq (and
 * through it libsystemd, libuuid and their dependencies) cost about
 * 1.2 ms of dynamic loading in every conduit-pub run (issue #5, S6), for
 * two commands that need a small part of one class. The ZPL subset is
 * parsed by czmq's zconfig rules (4-space indentation, `name = value`
 * with optional quotes, `#` comments; a syntax error anywhere rejects
 * the file), and the unit tests check the results against zcert itself,
 * both ways.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef CURVECERT_H
#define CURVECERT_H

#include "cli/sender.h"

#include <stdbool.h>
#include <stddef.h>

/* Loads the client's own certificate (own: FILE or FILE_secret; it must
 * hold a secret key) and the server's public key (server: the broker's
 * public certificate, or any certificate of the broker's key pair) into
 * *out. Returns 0, or -1 with a one-line reason in err. */
int curvecert_load(const char *own, const char *server, sender_curve_t *out,
                   char *err, size_t errlen);

/* True if name can be stored as a certificate's "name" metadata: no
 * double quote and no control character (ZPL has no escapes). */
bool curvecert_name_valid(const char *name);

/* Generates a key pair and writes path (public, mode 0644) and
 * path_secret (mode 0600), with name as the certificate's "name"
 * metadata when not NULL (it must pass curvecert_name_valid). Refuses to
 * overwrite either file; leaves neither behind on failure. Returns 0 and
 * the public key (Z85, NUL-terminated) in public_txt, or -1 with a
 * one-line reason in err. */
int curvecert_generate(const char *path, const char *name,
                       char public_txt[SENDER_Z85_LEN + 1], char *err,
                       size_t errlen);

#endif
