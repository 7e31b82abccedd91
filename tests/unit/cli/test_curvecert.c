/*
 * test_curvecert - conduit-pub keygen's files and the loading of client
 * keys: the pair is written as FILE and FILE_secret (mode 0600), never
 * over an existing file, and reads back through czmq's zcert as a key
 * pair; a public-only certificate cannot serve as the client's own.
 *
 * SPDX-License-Identifier: MIT
 */
#include "cli/curvecert.h"

#include <check.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

Suite *curvecert_suite(void);

typedef struct dir {
    char path[256];
} dir_t;

static void
s_mkdir(dir_t *d)
{
    const char *base = getenv("TMPDIR");
    snprintf(d->path, sizeof d->path, "%s/cdt-cert-XXXXXX",
             base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(d->path));
}

/* Removes the known files, then the directory. */
static void
s_rmdir(dir_t *d, const char *const *names)
{
    char p[512];
    for (; *names; names++) {
        snprintf(p, sizeof p, "%s/%s", d->path, *names);
        (void)unlink(p);
    }
    ck_assert_int_eq(rmdir(d->path), 0);
}

START_TEST(test_curvecert_generate_writes_a_private_pair)
{
    dir_t d;
    s_mkdir(&d);
    char path[512], secret[600], pub[SENDER_Z85_LEN + 1], err[512];
    snprintf(path, sizeof path, "%s/me", d.path);
    snprintf(secret, sizeof secret, "%s_secret", path);
    ck_assert_int_eq(curvecert_generate(path, "me", pub, err, sizeof err), 0);
    ck_assert_uint_eq(strlen(pub), SENDER_Z85_LEN);
    struct stat st;
    ck_assert_int_eq(stat(secret, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0644);
    /* czmq reads it back: the public half alone, and the pair */
    zcert_t *c = zcert_load(path);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(zcert_public_txt(c), pub);
    ck_assert_str_eq(zcert_meta(c, "name"), "me");
    zcert_destroy(&c);
    FILE *f = fopen(path, "r");
    char text[2048];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    ck_assert_ptr_null(strstr(text, "secret-key"));
    /* never over an existing file */
    char pub2[SENDER_Z85_LEN + 1];
    ck_assert_int_eq(curvecert_generate(path, NULL, pub2, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "exists; not overwriting it"));
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(curvecert_generate(path, NULL, pub2, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "me_secret' exists"));
    ck_assert_int_eq(curvecert_generate("", NULL, pub2, err, sizeof err), -1);
    s_rmdir(&d, (const char *const[]){"me", "me_secret", NULL});
}
END_TEST

START_TEST(test_curvecert_load_keys)
{
    dir_t d;
    s_mkdir(&d);
    char me[512], srv[512], me_secret[600], pub[SENDER_Z85_LEN + 1],
        spub[SENDER_Z85_LEN + 1], err[512];
    snprintf(me, sizeof me, "%s/me", d.path);
    snprintf(srv, sizeof srv, "%s/srv", d.path);
    snprintf(me_secret, sizeof me_secret, "%s_secret", me);
    ck_assert_int_eq(curvecert_generate(me, NULL, pub, err, sizeof err), 0);
    ck_assert_int_eq(curvecert_generate(srv, NULL, spub, err, sizeof err), 0);

    sender_curve_t k, k2;
    ck_assert_int_eq(curvecert_load(me, srv, &k, err, sizeof err), 0);
    ck_assert_str_eq(k.public_key, pub);
    ck_assert_str_eq(k.server_key, spub);
    ck_assert_uint_eq(strlen(k.secret_key), SENDER_Z85_LEN);
    /* the secret file itself works the same */
    ck_assert_int_eq(curvecert_load(me_secret, srv, &k2, err, sizeof err), 0);
    ck_assert_str_eq(k2.secret_key, k.secret_key);
    /* the secret key matches the public one */
    uint8_t sec[32];
    char derived[SENDER_Z85_LEN + 1];
    ck_assert_ptr_nonnull(zmq_z85_decode(sec, k.secret_key));
    ck_assert_int_eq(zmq_curve_public(derived, k.secret_key), 0);
    ck_assert_str_eq(derived, pub);

    /* own certificate without its secret half */
    char only[512];
    snprintf(only, sizeof only, "%s/only", d.path);
    zcert_t *c = zcert_load(me);
    ck_assert_int_eq(zcert_save_public(c, only), 0);
    zcert_destroy(&c);
    ck_assert_int_eq(curvecert_load(only, srv, &k, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "has no secret key"));
    /* the server's public half is enough for the server key */
    ck_assert_int_eq(curvecert_load(me, only, &k, err, sizeof err), 0);
    ck_assert_str_eq(k.server_key, pub);
    char missing[512];
    snprintf(missing, sizeof missing, "%s/missing", d.path);
    ck_assert_int_eq(curvecert_load(missing, srv, &k, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "cannot read the certificate"));
    ck_assert_int_eq(curvecert_load(me, missing, &k, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "cannot read the server certificate"));
    s_rmdir(&d, (const char *const[]){"me", "me_secret", "srv", "srv_secret",
                                      "only", NULL});
}
END_TEST

Suite *
curvecert_suite(void)
{
    Suite *s = suite_create("curvecert");
    TCase *tc = tcase_create("certificates");
    tcase_add_test(tc, test_curvecert_generate_writes_a_private_pair);
    tcase_add_test(tc, test_curvecert_load_keys);
    suite_add_tcase(s, tc);
    return s;
}
