/*
 * curvecert - conduit-pub's CurveZMQ certificates.
 *
 * Reading follows zcert_load: FILE_secret is tried first and FILE when
 * the secret file is missing or is not valid ZPL; the keys are the first
 * `public-key` and `secret-key` of the first top-level `curve` section,
 * each 40 characters of Z85. Deliberate differences: a key that is not
 * valid Z85 makes the certificate unusable here, where zcert would keep
 * whatever the decoder wrote; a NUL byte rejects the text (zconfig cuts
 * the line there), and lines are not cut at 1024 bytes. test_curvecert
 * compares the two readers over well-formed and broken texts.
 *
 * Writing produces what zcert_save produces (comments, a `metadata`
 * section, a `curve` section, values in double quotes), with the secret
 * file created first, exclusively and with its final mode, so there is no
 * moment at which it exists with wider permissions.
 *
 * SPDX-License-Identifier: MIT
 */
#include "cli/curvecert.h"

#include "common/cdt_mem.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* A certificate is a few hundred bytes; anything far larger is not one. */
#define CERT_MAX_BYTES 65536

/* What a ZPL text says about the keys (values borrowed from the text). */
typedef struct zpl_keys {
    const char *public_txt; /* NULL = absent */
    size_t public_len;
    const char *secret_txt; /* NULL = absent */
    size_t secret_len;
} zpl_keys_t;

/* ---- ZPL, by zconfig's rules --------------------------------------------- */

static bool
s_is_namechar(char c)
{
    return isalnum((unsigned char)c) || strchr("$-_@.&+/", c) != NULL;
}

/* Whitespace, then nothing or a comment. */
static bool
s_eoln_ok(const char *p, const char *end)
{
    while (p < end && isspace((unsigned char)*p))
        p++;
    return p == end || *p == '#';
}

/* The value after a name: `= "text"`, `= 'text'`, `= text # comment`, or
 * nothing at all (the empty value). Returns false on a syntax error. */
static bool
s_value(const char *p, const char *end, const char **val, size_t *len)
{
    while (p < end && isspace((unsigned char)*p))
        p++;
    if (p == end || *p != '=') {
        *val = p;
        *len = 0;
        return s_eoln_ok(p, end);
    }
    p++;
    while (p < end && isspace((unsigned char)*p))
        p++;
    if (p < end && (*p == '"' || *p == '\'')) {
        const char *close = memchr(p + 1, *p, (size_t)(end - p - 1));
        if (!close)
            return false;
        *val = p + 1;
        *len = (size_t)(close - p - 1);
        return s_eoln_ok(close + 1, end);
    }
    const char *stop = memchr(p, '#', (size_t)(end - p));
    if (stop) {
        while (stop > p && isspace((unsigned char)stop[-1]))
            stop--;
    } else {
        stop = end;
    }
    *val = p;
    *len = (size_t)(stop - p);
    return true;
}

/* Parses text[0..len) and fills *keys. Returns false when the text is not
 * valid ZPL (zconfig would reject all of it). */
static bool
s_parse(const char *text, size_t len, zpl_keys_t *keys)
{
    memset(keys, 0, sizeof *keys);
    if (memchr(text, '\0', len))
        return false;
    int max_level = 0; /* an item may sit at most one level deeper */
    bool seen_curve = false, in_curve = false;
    const char *line = text, *text_end = text + len;
    while (line < text_end) {
        const char *end = memchr(line, '\n', (size_t)(text_end - line));
        const char *next = end ? end + 1 : text_end;
        if (!end)
            end = text_end;
        while (end > line && isspace((unsigned char)end[-1]))
            end--;
        const char *p = line;
        while (p < end && *p == ' ')
            p++;
        if ((p - line) % 4 != 0)
            return false;
        int level = (int)((p - line) / 4);
        const char *name = p;
        while (p < end && s_is_namechar(*p))
            p++;
        size_t name_len = (size_t)(p - name);
        line = next;
        if (name_len == 0) {
            if (!s_eoln_ok(p, end))
                return false;
            continue;
        }
        const char *val;
        size_t val_len;
        if (name[0] == '/' || name[name_len - 1] == '/' ||
            !s_value(p, end, &val, &val_len) || level > max_level)
            return false;
        max_level = level + 1;
#define NAME_IS(s) (name_len == strlen(s) && memcmp(name, s, name_len) == 0)
        if (level == 0) {
            in_curve = !seen_curve && NAME_IS("curve");
            seen_curve = seen_curve || in_curve;
        } else if (level == 1 && in_curve) {
            if (NAME_IS("public-key") && !keys->public_txt) {
                keys->public_txt = val;
                keys->public_len = val_len;
            } else if (NAME_IS("secret-key") && !keys->secret_txt) {
                keys->secret_txt = val;
                keys->secret_len = val_len;
            }
        }
#undef NAME_IS
    }
    return true;
}

/* Decodes a 40-character Z85 key that is not all zeros into key[32]. */
static bool
s_decode_key(const char *txt, size_t len, uint8_t key[32])
{
    char buf[SENDER_Z85_LEN + 1];
    if (!txt || len != SENDER_Z85_LEN)
        return false;
    memcpy(buf, txt, len);
    buf[len] = '\0';
    if (!zmq_z85_decode(key, buf))
        return false;
    for (int i = 0; i < 32; i++)
        if (key[i])
            return true;
    return false;
}

/* ---- files --------------------------------------------------------------- */

/* Wipes and frees a text that may hold a secret key; NULL-safe. */
static void
s_free_text(char *text, size_t len)
{
    if (text) {
        explicit_bzero(text, len);
        free(text);
    }
}

/* Reads a whole (small) file; NULL if it cannot be read or is too big.
 * Caller frees (s_free_text). */
static char *
s_slurp(const char *path, size_t *len_p)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = cdt_xmalloc(CERT_MAX_BYTES + 1);
    size_t n = fread(buf, 1, CERT_MAX_BYTES + 1, f);
    bool bad = ferror(f) || n > CERT_MAX_BYTES;
    fclose(f);
    if (bad) {
        s_free_text(buf, n);
        return NULL;
    }
    *len_p = n;
    return buf;
}

/* Reads path as a ZPL file: the text (caller frees it with s_free_text)
 * and its length, with its keys, or NULL when it is missing, unreadable
 * or not valid ZPL. */
static char *
s_load_zpl(const char *path, zpl_keys_t *keys, size_t *len_p)
{
    char *text = s_slurp(path, len_p);
    if (text && !s_parse(text, *len_p, keys)) {
        s_free_text(text, *len_p);
        text = NULL;
    }
    return text;
}

/* Loads the certificate at path (path_secret first): 0 with the public
 * key, and the secret key when there is one (*has_secret), or -1 with
 * err set. */
static int
s_load(const char *what, const char *path, uint8_t public_key[32],
       uint8_t secret_key[32], bool *has_secret, char *err, size_t errlen)
{
    if (access(path, R_OK) != 0) {
        snprintf(err, errlen, "cannot read %s '%s': %s", what, path,
                 strerror(errno));
        return -1;
    }
    char *secret_path = cdt_xasprintf("%s_secret", path);
    zpl_keys_t keys;
    size_t len = 0;
    char *text = s_load_zpl(secret_path, &keys, &len);
    free(secret_path);
    if (!text)
        text = s_load_zpl(path, &keys, &len);
    int rc = -1;
    if (text && s_decode_key(keys.public_txt, keys.public_len, public_key)) {
        *has_secret =
            s_decode_key(keys.secret_txt, keys.secret_len, secret_key);
        rc = 0;
    } else {
        snprintf(err, errlen, "%s '%s' is not a CurveZMQ certificate", what,
                 path);
    }
    s_free_text(text, len);
    return rc;
}

int
curvecert_load(const char *own, const char *server, sender_curve_t *out,
               char *err, size_t errlen)
{
    uint8_t pub[32], sec[32], srv[32], unused[32];
    bool has_secret = false, srv_secret = false;
    int rc = -1;
    if (s_load("the certificate", own, pub, sec, &has_secret, err, errlen) !=
            0 ||
        s_load("the server certificate", server, srv, unused, &srv_secret, err,
               errlen) != 0)
        goto done;
    if (!has_secret) {
        snprintf(err, errlen,
                 "the certificate '%s' has no secret key (give the file "
                 "keygen wrote, with its '_secret' file beside it, or the "
                 "'_secret' file itself)",
                 own);
        goto done;
    }
    if (!zmq_z85_encode(out->public_key, pub, 32) ||
        !zmq_z85_encode(out->secret_key, sec, 32) ||
        !zmq_z85_encode(out->server_key, srv, 32)) {
        snprintf(err, errlen, "cannot encode the CurveZMQ keys");
        goto done;
    }
    rc = 0;
done:
    explicit_bzero(sec, sizeof sec);
    explicit_bzero(unused, sizeof unused);
    return rc;
}

bool
curvecert_name_valid(const char *name)
{
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        if (*c == '"' || *c < 0x20 || *c == 0x7f)
            return false;
    return true;
}

/* The text of one certificate file, as zcert_save lays it out. */
static char *
s_cert_text(const char *title, const char *const *warning, const char *name,
            const char *public_txt, const char *secret_txt)
{
    char when[32] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (localtime_r(&now, &tm))
        (void)strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    char *head = cdt_xasprintf("#   ****  Generated on %s by conduit-pub  "
                               "****\n#   ZeroMQ CURVE %s Certificate\n",
                               when, title);
    for (; *warning; warning++) {
        char *more = cdt_xasprintf("%s#   %s\n", head, *warning);
        free(head);
        head = more;
    }
    char *meta = name && *name ? cdt_xasprintf("    name = \"%s\"\n", name)
                               : cdt_xstrdup("");
    char *sec = secret_txt
                    ? cdt_xasprintf("    secret-key = \"%s\"\n", secret_txt)
                    : cdt_xstrdup("");
    char *text =
        cdt_xasprintf("%s\nmetadata\n%scurve\n    public-key = \"%s\"\n%s",
                      head, meta, public_txt, sec);
    free(head);
    free(meta);
    free(sec);
    return text;
}

/* Creates path (it must not exist) with exactly mode and the text.
 * Returns 0, or -1 with errno set and nothing left behind. */
static int
s_write_new(const char *path, mode_t mode, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd == -1)
        return -1;
    size_t len = strlen(text), off = 0;
    int rc = fchmod(fd, mode); /* the umask may have narrowed mode */
    while (rc == 0 && off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = -1;
            break;
        }
        off += (size_t)n;
    }
    if (close(fd) != 0)
        rc = -1;
    if (rc != 0) {
        int e = errno;
        (void)unlink(path);
        errno = e;
    }
    return rc;
}

int
curvecert_generate(const char *path, const char *name,
                   char public_txt[SENDER_Z85_LEN + 1], char *err,
                   size_t errlen)
{
    static const char *const pub_warning[] = {
        "Exchange securely, or use a secure mechanism to verify the contents",
        "of this file after exchange. Store public certificates in your home",
        "directory, in the .curve subdirectory.",
        NULL,
    };
    static const char *const sec_warning[] = {
        "DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.",
        NULL,
    };
    if (!path || !*path) {
        snprintf(err, errlen, "keygen: --out needs a file name");
        return -1;
    }
    if (name && !curvecert_name_valid(name)) {
        snprintf(err, errlen,
                 "keygen: --name must not contain double quotes "
                 "or control characters");
        return -1;
    }
    char *secret = cdt_xasprintf("%s_secret", path);
    char *pub_text = NULL, *sec_text = NULL;
    char pub[SENDER_Z85_LEN + 1], sec[SENDER_Z85_LEN + 1];
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
    if (zmq_curve_keypair(pub, sec) != 0) {
        snprintf(err, errlen, "keygen: cannot generate a key pair: %s",
                 zmq_strerror(zmq_errno()));
        goto done;
    }
    pub_text = s_cert_text("Public", pub_warning, name, pub, NULL);
    sec_text = s_cert_text("**Secret**", sec_warning, name, pub, sec);
    /* the secret half first: a public file alone would be useless */
    if (s_write_new(secret, 0600, sec_text) != 0) {
        snprintf(err, errlen, "keygen: cannot write '%s': %s", secret,
                 strerror(errno));
        goto done;
    }
    if (s_write_new(path, 0644, pub_text) != 0) {
        snprintf(err, errlen, "keygen: cannot write '%s': %s", path,
                 strerror(errno));
        (void)unlink(secret);
        goto done;
    }
    snprintf(public_txt, SENDER_Z85_LEN + 1, "%s", pub);
    rc = 0;
done:
    if (sec_text)
        explicit_bzero(sec_text, strlen(sec_text));
    explicit_bzero(sec, sizeof sec);
    free(sec_text);
    free(pub_text);
    free(secret);
    return rc;
}
