/*
 * curve - CurveZMQ on the broker's three endpoints.
 *
 * Each secured socket gets a libzmq socket monitor publishing its
 * handshake events on an inproc PAIR endpoint, which this module reads
 * in the broker loop. The endpoint names carry a random number drawn per
 * curve_t, so they never collide with another monitor in the process.
 *
 * SPDX-License-Identifier: MIT
 */
#define CDT_LOG_MODULE "curve"
#include "broker/curve.h"

#include "common/cdt_clock.h"
#include "common/cdt_log.h"
#include "common/cdt_mem.h"
#include "common/cdt_ratelog.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EVENTS                                                         \
    (ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | \
     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |                             \
     ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)

typedef struct watch {
    const char *name; /* borrowed: a literal */
    zsock_t *mon;     /* PAIR connected to the socket's monitor */
    curve_counters_t counters;
    cdt_ratelog_t auth_log;
    cdt_ratelog_t protocol_log;
} watch_t;

struct curve {
    zcert_t *cert;
    zactor_t *auth; /* zauth */
    uint64_t uniq;  /* makes the monitor endpoints unique */
    watch_t watches[CURVE_MAX_ENDPOINTS];
    size_t n_watches;
};

/* ---- configuration ------------------------------------------------------ */

static bool
s_all_zero(const byte *key)
{
    for (int i = 0; i < 32; i++)
        if (key[i])
            return false;
    return true;
}

/* zcert_load reads FILE_secret when it exists, else FILE; either way a
 * file without a secret-key line yields a zero secret key. */
static zcert_t *
s_load_cert(const char *path)
{
    if (!path || !*path) {
        cdt_log_error("broker.curve_secret_cert is empty");
        return NULL;
    }
    if (access(path, R_OK) != 0) {
        cdt_log_error("cannot read the broker certificate '%s': %s", path,
                      strerror(errno));
        return NULL;
    }
    zcert_t *cert = zcert_load(path);
    if (!cert || s_all_zero(zcert_public_key(cert))) {
        cdt_log_error("cannot load the broker certificate '%s': not a "
                      "zcert file",
                      path);
        zcert_destroy(&cert);
        return NULL;
    }
    if (s_all_zero(zcert_secret_key(cert))) {
        cdt_log_error("the broker certificate '%s' has no secret key: give "
                      "the file zcert_save wrote (with its '_secret' file "
                      "beside it) or the '_secret' file itself",
                      path);
        zcert_destroy(&cert);
        return NULL;
    }
    return cert;
}

static bool
s_has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Counts the public certificates in dir. Returns the count, or -1 after
 * logging why the directory cannot be used. */
static long
s_count_clients(const char *dir)
{
    if (!dir || !*dir) {
        cdt_log_error("broker.curve_clients_dir is empty: with "
                      "broker.curve_secret_cert set, it must name the "
                      "directory of the accepted clients' public "
                      "certificates");
        return -1;
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        cdt_log_error("cannot use broker.curve_clients_dir '%s': %s", dir,
                      strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        cdt_log_error("cannot use broker.curve_clients_dir '%s': not a "
                      "directory",
                      dir);
        return -1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        cdt_log_error("cannot read broker.curve_clients_dir '%s': %s", dir,
                      strerror(errno));
        return -1;
    }
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (s_has_suffix(e->d_name, "_secret")) {
            cdt_log_warn("'%s/%s' is a secret certificate: only public "
                         "certificates belong in broker.curve_clients_dir",
                         dir, e->d_name);
            continue;
        }
        char *path = cdt_xasprintf("%s/%s", dir, e->d_name);
        zcert_t *c = stat(path, &st) == 0 && S_ISREG(st.st_mode)
                         ? zcert_load(path)
                         : NULL;
        if (c && !s_all_zero(zcert_public_key(c)))
            n++;
        zcert_destroy(&c);
        free(path);
    }
    closedir(d);
    return n;
}

int
curve_check(const char *cert_path, const char *clients_dir)
{
    zcert_t *cert = s_load_cert(cert_path);
    if (!cert)
        return -1;
    zcert_destroy(&cert);
    return s_count_clients(clients_dir) < 0 ? -1 : 0;
}

/* ---- lifecycle ---------------------------------------------------------- */

static uint64_t
s_random(void)
{
    uint64_t v = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        if (fread(&v, sizeof v, 1, f) != 1)
            v = 0;
        fclose(f);
    }
    return v ^ (uint64_t)cdt_clock_mono_ms() ^ ((uint64_t)getpid() << 32);
}

curve_t *
curve_new(const char *cert_path, const char *clients_dir)
{
    curve_t *self = cdt_xcalloc(1, sizeof *self);
    self->uniq = s_random();
    long n = s_count_clients(clients_dir);
    if (n < 0 || !(self->cert = s_load_cert(cert_path)))
        goto fail;
    self->auth = zactor_new(zauth, NULL);
    if (!self->auth) {
        cdt_log_error("cannot start the ZAP handler (zauth)");
        goto fail;
    }
    if (zstr_sendx(self->auth, "CURVE", clients_dir, NULL) != 0 ||
        zsock_wait(self->auth) != 0) {
        cdt_log_error("cannot configure the ZAP handler for '%s'", clients_dir);
        goto fail;
    }
    cdt_log_notice("CurveZMQ on: certificate '%s', %ld client "
                   "certificate(s) in '%s'",
                   cert_path, n, clients_dir);
    return self;
fail:
    curve_destroy(&self);
    return NULL;
}

void
curve_destroy(curve_t **self_p)
{
    assert(self_p);
    curve_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->n_watches; i++)
        zsock_destroy(&self->watches[i].mon);
    zactor_destroy(&self->auth);
    zcert_destroy(&self->cert);
    free(self);
    *self_p = NULL;
}

/* ---- sockets ------------------------------------------------------------ */

int
curve_secure(curve_t *self, zsock_t *sock, const char *name)
{
    assert(self && sock && name);
    if (self->n_watches >= CURVE_MAX_ENDPOINTS) {
        cdt_log_error("cannot secure '%s': %d endpoints already", name,
                      CURVE_MAX_ENDPOINTS);
        return -1;
    }
    zcert_apply(self->cert, sock);
    zsock_set_curve_server(sock, 1);
    /* Any domain makes libzmq consult the ZAP handler; naming it shows
     * up in zauth's requests. */
    zsock_set_zap_domain(sock, "conduit");
    char ep[96];
    snprintf(ep, sizeof ep, "inproc://cdt-curve-%016" PRIx64 "-%zu", self->uniq,
             self->n_watches);
    if (zmq_socket_monitor(zsock_resolve(sock), ep, EVENTS) != 0) {
        cdt_log_error("cannot monitor '%s': %s", name,
                      zmq_strerror(zmq_errno()));
        return -1;
    }
    watch_t *w = &self->watches[self->n_watches];
    memset(w, 0, sizeof *w);
    w->name = name;
    w->mon = zsock_new(ZMQ_PAIR);
    if (!w->mon || zsock_connect(w->mon, "%s", ep) != 0) {
        cdt_log_error("cannot connect to the monitor of '%s': %s", name,
                      zmq_strerror(zmq_errno()));
        zsock_destroy(&w->mon);
        (void)zmq_socket_monitor(zsock_resolve(sock), NULL, 0);
        return -1;
    }
    self->n_watches++;
    return 0;
}

static const char *
s_protocol_reason(uint32_t value)
{
    switch (value) {
    case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
        return "the client does not use CurveZMQ";
    case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
        return "cryptographic error (wrong server key?)";
    default:
        return NULL;
    }
}

static void
s_event(watch_t *w, uint16_t event, uint32_t value, int64_t now_ms)
{
    uint64_t skipped = 0;
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        w->counters.handshakes++;
        cdt_log_debug("CurveZMQ client accepted on '%s'", w->name);
    } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        w->counters.auth_failures++;
        if (cdt_ratelog_allow(&w->auth_log, now_ms, &skipped))
            cdt_log_warn("refused a CurveZMQ client on '%s': its public key "
                         "is not in broker.curve_clients_dir (status %" PRIu32
                         "; %" PRIu64 " more since the last report)",
                         w->name, value, skipped);
    } else {
        w->counters.protocol_failures++;
        const char *why = event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                              ? s_protocol_reason(value)
                              : "no detail";
        if (cdt_ratelog_allow(&w->protocol_log, now_ms, &skipped)) {
            if (why)
                cdt_log_warn("a client failed the CurveZMQ handshake on "
                             "'%s': %s (%" PRIu64
                             " more since the last report)",
                             w->name, why, skipped);
            else
                cdt_log_warn("a client failed the CurveZMQ handshake on "
                             "'%s': protocol error 0x%" PRIx32 " (%" PRIu64
                             " more since the last report)",
                             w->name, value, skipped);
        }
    }
}

/* Reads the events waiting on one monitor: each is two frames, [u16
 * event, u32 value] in host order, then the endpoint. */
static void
s_drain(watch_t *w, int64_t now_ms)
{
    void *s = zsock_resolve(w->mon);
    for (int i = 0; i < 1024; i++) {
        zmq_msg_t head;
        zmq_msg_init(&head);
        if (zmq_msg_recv(&head, s, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close(&head);
            return;
        }
        bool more = zmq_msg_more(&head);
        if (zmq_msg_size(&head) >= 6) {
            const uint8_t *d = zmq_msg_data(&head);
            uint16_t event;
            uint32_t value;
            memcpy(&event, d, sizeof event);
            memcpy(&value, d + 2, sizeof value);
            s_event(w, event, value, now_ms);
        }
        zmq_msg_close(&head);
        while (more) {
            zmq_msg_t rest;
            zmq_msg_init(&rest);
            if (zmq_msg_recv(&rest, s, 0) == -1) {
                zmq_msg_close(&rest);
                return;
            }
            more = zmq_msg_more(&rest);
            zmq_msg_close(&rest);
        }
    }
}

void
curve_poll(curve_t *self, int64_t now_ms)
{
    assert(self);
    for (size_t i = 0; i < self->n_watches; i++)
        s_drain(&self->watches[i], now_ms);
}

static int
s_on_monitor(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    (void)sock;
    curve_poll(arg, cdt_clock_mono_ms());
    return 0;
}

int
curve_attach(curve_t *self, zloop_t *loop)
{
    assert(self && loop);
    for (size_t i = 0; i < self->n_watches; i++)
        if (zloop_reader(loop, self->watches[i].mon, s_on_monitor, self) != 0)
            return -1;
    return 0;
}

/* ---- figures ------------------------------------------------------------ */

const char *
curve_public_txt(const curve_t *self)
{
    return zcert_public_txt(self->cert);
}

size_t
curve_n_endpoints(const curve_t *self)
{
    return self->n_watches;
}

const char *
curve_endpoint_name(const curve_t *self, size_t i)
{
    assert(i < self->n_watches);
    return self->watches[i].name;
}

const curve_counters_t *
curve_endpoint_counters(const curve_t *self, size_t i)
{
    assert(i < self->n_watches);
    return &self->watches[i].counters;
}

void
curve_totals(const curve_t *self, curve_counters_t *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; self && i < self->n_watches; i++) {
        const curve_counters_t *c = &self->watches[i].counters;
        out->handshakes += c->handshakes;
        out->auth_failures += c->auth_failures;
        out->protocol_failures += c->protocol_failures;
    }
}
