/*
 * test_curvecert - conduit-pub keygen's files and the loading of client
 * keys: the pair is written as FILE and FILE_secret (mode 0600), never
 * over an existing file, and reads back through czmq's zcert as a key
 * pair; a public-only certificate cannot serve as the client's own.
 * curvecert reads the files without czmq: over a set of well-formed and
 * broken ZPL texts it must accept what zcert_load accepts, with the same
 * keys, and refuse the rest.
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

/* ---- reading, compared with zcert_load --------------------------------- */

static void
s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    ck_assert_int_eq(fclose(f), 0);
}

static bool
s_nonzero(const byte *key)
{
    for (int i = 0; i < 32; i++)
        if (key[i])
            return true;
    return false;
}

/* Replaces every {P}, {Q} and {S} in tmpl with p, q and s. */
static void
s_fill(char *out, size_t outlen, const char *tmpl, const char *p, const char *q,
       const char *sec)
{
    size_t n = 0;
    for (const char *c = tmpl; *c && n + 41 < outlen; c++) {
        const char *with = NULL;
        if (c[0] == '{' && c[1] && c[2] == '}')
            with = c[1] == 'P' ? p : c[1] == 'Q' ? q : c[1] == 'S' ? sec : NULL;
        if (with) {
            memcpy(out + n, with, strlen(with));
            n += strlen(with);
            c += 2;
        } else {
            out[n++] = *c;
        }
    }
    out[n] = '\0';
}

/* The text of path, or NULL when there is no such file. Caller frees. */
static char *
s_read(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *text = calloc(1, 4096);
    ck_assert_ptr_nonnull(text);
    (void)fread(text, 1, 4095, f);
    fclose(f);
    return text;
}

/* Decodes the Z85 value at key of root into out (zeros if absent or not
 * 40 characters), as zcert_load does; true if it was there. */
static bool
s_zcert_key(zconfig_t *root, const char *key, byte out[32])
{
    memset(out, 0, 32);
    char *txt = root ? zconfig_resolve(root, key, NULL) : NULL;
    if (!txt || strlen(txt) != 40)
        return false;
    (void)zmq_z85_decode(out, txt);
    return true;
}

/* What czmq makes of path (FILE_secret first, then FILE), loaded as the
 * client's own certificate (both keys) and as the server's (the public
 * key), against curvecert. zcert_load reads files with zconfig_load,
 * which leaks when a file does not parse, so the texts are parsed here
 * with zconfig_str_load and the keys taken as zcert_load takes them;
 * zcert_load itself runs too whenever every file parses. */
static void
s_same_as_zcert(const char *path, const char *good_own, const char *good_srv,
                const char *what)
{
    char secret_path[600];
    snprintf(secret_path, sizeof secret_path, "%s_secret", path);
    char *secret_text = s_read(secret_path), *text = s_read(path);
    zconfig_t *secret_root = secret_text ? zconfig_str_load(secret_text) : NULL;
    zconfig_t *root = secret_root ? NULL : zconfig_str_load(text);
    zconfig_t *used = secret_root ? secret_root : root;
    byte pub[32], sec[32];
    bool has_public = s_zcert_key(used, "/curve/public-key", pub);
    (void)s_zcert_key(used, "/curve/secret-key", sec);
    bool z_public = s_nonzero(pub), z_pair = z_public && s_nonzero(sec);
    char pub_txt[41], sec_txt[41];
    ck_assert_ptr_nonnull(zmq_z85_encode(pub_txt, pub, 32));
    ck_assert_ptr_nonnull(zmq_z85_encode(sec_txt, sec, 32));
    if ((!secret_text || secret_root) && (secret_root || root)) {
        zcert_t *z = zcert_load(path); /* NULL without a public key */
        ck_assert_msg((z != NULL) == has_public, "%s: zcert_load", what);
        if (z) {
            ck_assert_str_eq(zcert_public_txt(z), pub_txt);
            ck_assert_str_eq(zcert_secret_txt(z), sec_txt);
        }
        zcert_destroy(&z);
    }
    sender_curve_t k;
    char err[512];
    int rc = curvecert_load(path, good_srv, &k, err, sizeof err);
    ck_assert_msg((rc == 0) == z_pair, "%s as own: curvecert %d (%s), zcert %d",
                  what, rc, rc ? err : "", z_pair);
    if (rc == 0) {
        ck_assert_str_eq(k.public_key, pub_txt);
        ck_assert_str_eq(k.secret_key, sec_txt);
    } else {
        ck_assert_msg(strstr(err, "is not a CurveZMQ certificate") ||
                          strstr(err, "has no secret key"),
                      "%s: %s", what, err);
    }
    rc = curvecert_load(good_own, path, &k, err, sizeof err);
    ck_assert_msg((rc == 0) == z_public,
                  "%s as server: curvecert %d (%s), zcert %d", what, rc,
                  rc ? err : "", z_public);
    if (rc == 0)
        ck_assert_str_eq(k.server_key, pub_txt);
    zconfig_destroy(&secret_root);
    zconfig_destroy(&root);
    free(secret_text);
    free(text);
}

START_TEST(test_curvecert_reads_what_zcert_reads)
{
    static const char *const texts[] = {
        /* what keygen and zcert_save write */
        "#   ZeroMQ CURVE **Secret** Certificate\n\nmetadata\n    name = "
        "\"x\"\ncurve\n    public-key = \"{P}\"\n    secret-key = \"{S}\"\n",
        /* unquoted, single quotes, spacing, comments, CRLF, no last EOL */
        "curve\n    public-key = {P}\n    secret-key = {S}\n",
        "curve\n    public-key = '{P}'\n    secret-key='{S}'\n",
        "curve\n    public-key=\"{P}\"   # why\n    secret-key   =  {S}  # x\n",
        "# a\r\n\r\n  \r\ncurve   # c\r\n    public-key = \"{P}\"\r\n"
        "    secret-key = \"{S}\"\r\n",
        "curve\n    public-key = \"{P}\"\n    secret-key = \"{S}\"",
        "metadata\n    name = \"a # b\"\n    empty\ncurve\n    public-key = "
        "\"{P}\"\n    secret-key = \"{S}\"\n",
        /* the first key of the first curve section counts */
        "curve\n    public-key = \"{P}\"\n    public-key = \"{Q}\"\n"
        "    secret-key = \"{S}\"\n",
        "curve\n    other = 1\ncurve\n    public-key = \"{P}\"\n"
        "    secret-key = \"{S}\"\n",
        "other\n    public-key = \"{Q}\"\ncurve\n    public-key = \"{P}\"\n",
        "curve\n    sub\n        public-key = \"{P}\"\n"
        "    public-key = \"{Q}\"\n",
        /* public half only; no keys; empty */
        "curve\n    public-key = \"{P}\"\n",
        "curve\n    secret-key = \"{S}\"\n",
        "curve\n",
        "",
        /* keys of the wrong length, or all zeros */
        "curve\n    public-key = \"{P}0\"\n    secret-key = \"{S}\"\n",
        "curve\n    public-key = \"{P}\"\n    secret-key = \"{S}0\"\n",
        "curve\n    public-key = \"0000000000000000000000000000000000000000\"\n",
        "curve\n    public-key = \"{P}\"\n    secret-key = "
        "\"0000000000000000000000000000000000000000\"\n",
        /* syntax errors reject the whole text */
        "curve\n   public-key = \"{P}\"\n    secret-key = \"{S}\"\n",
        "curve\n\tpublic-key = \"{P}\"\n",
        "curve\n        public-key = \"{P}\"\n",
        "curve\n    public-key = \"{P}\" junk\n    secret-key = \"{S}\"\n",
        "curve\n    public-key = \"{P}\n    secret-key = \"{S}\"\n",
        "/curve\n    public-key = \"{P}\"\n",
        "curve/\n    public-key = \"{P}\"\n",
        "curve junk\n    public-key = \"{P}\"\n",
        "curve\n    public-key = \"{P}\"\n    secret-key = \"{S}\"\n!\n",
    };
    dir_t d;
    s_mkdir(&d);
    char own[512], srv[512], cert[512], cert_secret[600], err[512];
    char p[SENDER_Z85_LEN + 1], q[SENDER_Z85_LEN + 1];
    snprintf(own, sizeof own, "%s/own", d.path);
    snprintf(srv, sizeof srv, "%s/srv", d.path);
    snprintf(cert, sizeof cert, "%s/cert", d.path);
    snprintf(cert_secret, sizeof cert_secret, "%s_secret", cert);
    ck_assert_int_eq(curvecert_generate(own, NULL, p, err, sizeof err), 0);
    ck_assert_int_eq(curvecert_generate(srv, NULL, q, err, sizeof err), 0);
    /* keys without '#', so that unquoted values are whole */
    char pub[41], sec[41], pub2[41], unused[41];
    do
        ck_assert_int_eq(zmq_curve_keypair(pub, sec), 0);
    while (strchr(pub, '#') || strchr(sec, '#'));
    do
        ck_assert_int_eq(zmq_curve_keypair(pub2, unused), 0);
    while (strchr(pub2, '#'));
    /* zconfig prints each syntax error it meets ("E (zconfig): ..."):
     * those lines are expected here */
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char text[1024], what[64];
        s_fill(text, sizeof text, texts[i], pub, pub2, sec);
        /* as FILE alone */
        (void)unlink(cert_secret);
        s_write(cert, text);
        snprintf(what, sizeof what, "text %zu as FILE", i);
        s_same_as_zcert(cert, own, srv, what);
        /* as FILE_secret beside a good FILE: FILE_secret wins when it
         * parses, FILE is read when it does not */
        ck_assert_int_eq(rename(cert, cert_secret), 0);
        s_fill(text, sizeof text, "curve\n    public-key = \"{P}\"\n", pub2,
               pub2, sec);
        s_write(cert, text);
        snprintf(what, sizeof what, "text %zu as FILE_secret", i);
        s_same_as_zcert(cert, own, srv, what);
    }
    s_rmdir(&d, (const char *const[]){"own", "own_secret", "srv", "srv_secret",
                                      "cert", "cert_secret", NULL});
}
END_TEST

START_TEST(test_curvecert_refuses_keys_that_are_not_z85)
{
    /* zcert_load would keep whatever zmq_z85_decode left in the key */
    dir_t d;
    s_mkdir(&d);
    char own[512], cert[512], text[512], err[512], pub[41], sec[41];
    snprintf(own, sizeof own, "%s/own", d.path);
    snprintf(cert, sizeof cert, "%s/cert", d.path);
    ck_assert_int_eq(curvecert_generate(own, NULL, pub, err, sizeof err), 0);
    ck_assert_int_eq(zmq_curve_keypair(pub, sec), 0);
    pub[7] = '~';
    snprintf(text, sizeof text,
             "curve\n    public-key = \"%s\"\n    secret-key = \"%s\"\n", pub,
             sec);
    s_write(cert, text);
    sender_curve_t k;
    ck_assert_int_eq(curvecert_load(own, cert, &k, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "is not a CurveZMQ certificate"));
    ck_assert_int_eq(curvecert_load(cert, own, &k, err, sizeof err), -1);
    s_rmdir(&d, (const char *const[]){"own", "own_secret", "cert", NULL});
}
END_TEST

START_TEST(test_curvecert_names_that_zpl_cannot_hold_are_refused)
{
    ck_assert(curvecert_name_valid("publisher 7 (eu-west)"));
    ck_assert(curvecert_name_valid(""));
    ck_assert(!curvecert_name_valid("a\"b"));
    ck_assert(!curvecert_name_valid("a\nb"));
    ck_assert(!curvecert_name_valid("tab\there"));
    ck_assert(!curvecert_name_valid("del\x7f"));
    dir_t d;
    s_mkdir(&d);
    char path[512], pub[SENDER_Z85_LEN + 1], err[512];
    snprintf(path, sizeof path, "%s/me", d.path);
    ck_assert_int_eq(curvecert_generate(path, "a\"b", pub, err, sizeof err),
                     -1);
    ck_assert_ptr_nonnull(strstr(err, "--name"));
    /* nothing was written */
    ck_assert_int_eq(access(path, F_OK), -1);
    char secret[600];
    snprintf(secret, sizeof secret, "%s_secret", path);
    ck_assert_int_eq(access(secret, F_OK), -1);
    s_rmdir(&d, (const char *const[]){NULL});
}
END_TEST

Suite *
curvecert_suite(void)
{
    Suite *s = suite_create("curvecert");
    TCase *tc = tcase_create("certificates");
    tcase_add_test(tc, test_curvecert_generate_writes_a_private_pair);
    tcase_add_test(tc, test_curvecert_load_keys);
    tcase_add_test(tc, test_curvecert_reads_what_zcert_reads);
    tcase_add_test(tc, test_curvecert_refuses_keys_that_are_not_z85);
    tcase_add_test(tc, test_curvecert_names_that_zpl_cannot_hold_are_refused);
    suite_add_tcase(s, tc);
    return s;
}
