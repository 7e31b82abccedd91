/*
 * zmqstubs - what conduit-pub's static libzmq refers to but never calls.
 *
 * Debian's libzmq is built with the GSSAPI mechanism (Kerberos) and the
 * PGM transports. Linked statically (Makefile, the conduit-pub rule), it
 * still needs their libraries, and each costs every conduit-pub run
 * time for nothing (issue #5, S6, measured on the 2-core bench machine):
 *
 * - GSSAPI: libgssapi_krb5 and the six shared libraries behind it
 *   (krb5, k5crypto, com_err, krb5support, keyutils, resolv) are found,
 *   mapped and relocated at start-up, about 0.7 ms. conduit-pub never
 *   sets a ZMQ_GSSAPI_* option, so libzmq never makes a GSSAPI
 *   mechanism: the functions below are never called.
 * - PGM: zmq_ctx_new calls pgm_init, which looks the "pgm" protocol up
 *   through NSS (/etc/nsswitch.conf, a failing search for libnss_db in
 *   some seventy directories, /etc/protocols), about 0.3 ms. The pgm and
 *   epgm transports are for PUB and SUB sockets only: libzmq refuses them
 *   for conduit-pub's DEALER ("not compatible with the socket type")
 *   before any PGM call, so only pgm_init and pgm_shutdown are reached,
 *   and they report success without doing anything.
 *
 * Every other stub aborts: reaching one would mean that libzmq took a path
 * this reasoning excludes. The link keeps the real libraries after these
 * definitions, with --as-needed: should a later libzmq refer to a symbol
 * missing here, it comes from the real library (which is then loaded
 * again) instead of failing.
 *
 * The parameter lists follow <gssapi/gssapi.h> and OpenPGM's <pgm/pgm.h>, with
 * the libraries' own types replaced by equivalent ones (pointers, integers of
 * the same size), so that this file needs neither header.
 *
 * Only the conduit-pub link names this object (the archive member is never
 * pulled in by anything else: nothing in the project calls these names).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

/* ---- GSSAPI (OM_uint32 is uint32_t; handles and OIDs are pointers) ---- */

typedef uint32_t om_uint32_t;

/* gss_OID values libzmq reads when it names a principal */
extern void *GSS_C_NT_HOSTBASED_SERVICE;
extern void *GSS_C_NT_USER_NAME;
void *GSS_C_NT_HOSTBASED_SERVICE = NULL;
void *GSS_C_NT_USER_NAME = NULL;

om_uint32_t gss_accept_sec_context(om_uint32_t *, void **, void *, void *,
                                   void *, void **, void **, void *,
                                   om_uint32_t *, om_uint32_t *, void **);
om_uint32_t gss_acquire_cred(om_uint32_t *, void *, om_uint32_t, void *, int,
                             void **, void **, om_uint32_t *);
om_uint32_t gss_delete_sec_context(om_uint32_t *, void **, void *);
om_uint32_t gss_display_name(om_uint32_t *, void *, void *, void **);
om_uint32_t gss_import_name(om_uint32_t *, void *, void *, void **);
om_uint32_t gss_init_sec_context(om_uint32_t *, void *, void **, void *, void *,
                                 om_uint32_t, om_uint32_t, void *, void *,
                                 void **, void *, om_uint32_t *, om_uint32_t *);
om_uint32_t gss_release_buffer(om_uint32_t *, void *);
om_uint32_t gss_release_cred(om_uint32_t *, void **);
om_uint32_t gss_release_name(om_uint32_t *, void **);
om_uint32_t gss_unwrap(om_uint32_t *, void *, void *, void *, int *,
                       om_uint32_t *);
om_uint32_t gss_wrap(om_uint32_t *, void *, int, om_uint32_t, void *, int *,
                     void *);

om_uint32_t
gss_accept_sec_context(om_uint32_t *minor, void **ctx, void *cred, void *in,
                       void *bindings, void **src, void **mech, void *out,
                       om_uint32_t *flags, om_uint32_t *time_rec,
                       void **delegated)
{
    (void)minor, (void)ctx, (void)cred, (void)in, (void)bindings, (void)src;
    (void)mech, (void)out, (void)flags, (void)time_rec, (void)delegated;
    abort();
}

om_uint32_t
gss_acquire_cred(om_uint32_t *minor, void *name, om_uint32_t time_req,
                 void *mechs, int usage, void **cred, void **actual,
                 om_uint32_t *time_rec)
{
    (void)minor, (void)name, (void)time_req, (void)mechs, (void)usage;
    (void)cred, (void)actual, (void)time_rec;
    abort();
}

om_uint32_t
gss_delete_sec_context(om_uint32_t *minor, void **ctx, void *out)
{
    (void)minor, (void)ctx, (void)out;
    abort();
}

om_uint32_t
gss_display_name(om_uint32_t *minor, void *name, void *out, void **type)
{
    (void)minor, (void)name, (void)out, (void)type;
    abort();
}

om_uint32_t
gss_import_name(om_uint32_t *minor, void *in, void *type, void **name)
{
    (void)minor, (void)in, (void)type, (void)name;
    abort();
}

om_uint32_t
gss_init_sec_context(om_uint32_t *minor, void *cred, void **ctx, void *target,
                     void *mech, om_uint32_t flags, om_uint32_t time_req,
                     void *bindings, void *in, void **actual, void *out,
                     om_uint32_t *ret_flags, om_uint32_t *time_rec)
{
    (void)minor, (void)cred, (void)ctx, (void)target, (void)mech;
    (void)flags, (void)time_req, (void)bindings, (void)in, (void)actual;
    (void)out, (void)ret_flags, (void)time_rec;
    abort();
}

om_uint32_t
gss_release_buffer(om_uint32_t *minor, void *buffer)
{
    (void)minor, (void)buffer;
    abort();
}

om_uint32_t
gss_release_cred(om_uint32_t *minor, void **cred)
{
    (void)minor, (void)cred;
    abort();
}

om_uint32_t
gss_release_name(om_uint32_t *minor, void **name)
{
    (void)minor, (void)name;
    abort();
}

om_uint32_t
gss_unwrap(om_uint32_t *minor, void *ctx, void *in, void *out, int *conf,
           om_uint32_t *qop)
{
    (void)minor, (void)ctx, (void)in, (void)out, (void)conf, (void)qop;
    abort();
}

om_uint32_t
gss_wrap(om_uint32_t *minor, void *ctx, int conf_req, om_uint32_t qop, void *in,
         int *conf, void *out)
{
    (void)minor, (void)ctx, (void)conf_req, (void)qop, (void)in, (void)conf;
    (void)out;
    abort();
}

/* ---- PGM (pgm_error_t, pgm_sock_t and the rest are behind pointers) --- */

bool pgm_init(void **error);
bool pgm_shutdown(void);
void pgm_error_free(void *error);
void pgm_free(void *mem);
bool pgm_gsi_create_from_data(void *gsi, const uint8_t *data, size_t len);
bool pgm_socket(void **sock, sa_family_t family, int type, int protocol,
                void **error);
bool pgm_bind3(void *sock, const void *addr, socklen_t addrlen,
               const void *send_req, socklen_t send_len, const void *recv_req,
               socklen_t recv_len, void **error);
bool pgm_connect(void *sock, void **error);
bool pgm_close(void *sock, bool flush);
bool pgm_setsockopt(void *sock, int level, int name, const void *value,
                    socklen_t len);
bool pgm_getsockopt(void *sock, int level, int name, void *value,
                    socklen_t *len);
bool pgm_getaddrinfo(const char *network, const void *hints, void **res,
                     void **error);
void pgm_freeaddrinfo(void *res);
int pgm_send(void *sock, const void *buf, size_t len, size_t *written);
int pgm_recvmsgv(void *sock, void *msgv, size_t len, int flags, size_t *nread,
                 void **error);

/* zmq_ctx_new and zmq_ctx_term: PGM is "ready", and nothing to undo */
bool
pgm_init(void **error)
{
    (void)error;
    return true;
}

bool
pgm_shutdown(void)
{
    return true;
}

void
pgm_error_free(void *error)
{
    (void)error;
    abort();
}

void
pgm_free(void *mem)
{
    (void)mem;
    abort();
}

bool
pgm_gsi_create_from_data(void *gsi, const uint8_t *data, size_t len)
{
    (void)gsi, (void)data, (void)len;
    abort();
}

bool
pgm_socket(void **sock, sa_family_t family, int type, int protocol,
           void **error)
{
    (void)sock, (void)family, (void)type, (void)protocol, (void)error;
    abort();
}

bool
pgm_bind3(void *sock, const void *addr, socklen_t addrlen, const void *send_req,
          socklen_t send_len, const void *recv_req, socklen_t recv_len,
          void **error)
{
    (void)sock, (void)addr, (void)addrlen, (void)send_req, (void)send_len;
    (void)recv_req, (void)recv_len, (void)error;
    abort();
}

bool
pgm_connect(void *sock, void **error)
{
    (void)sock, (void)error;
    abort();
}

bool
pgm_close(void *sock, bool flush)
{
    (void)sock, (void)flush;
    abort();
}

bool
pgm_setsockopt(void *sock, int level, int name, const void *value,
               socklen_t len)
{
    (void)sock, (void)level, (void)name, (void)value, (void)len;
    abort();
}

bool
pgm_getsockopt(void *sock, int level, int name, void *value, socklen_t *len)
{
    (void)sock, (void)level, (void)name, (void)value, (void)len;
    abort();
}

bool
pgm_getaddrinfo(const char *network, const void *hints, void **res,
                void **error)
{
    (void)network, (void)hints, (void)res, (void)error;
    abort();
}

void
pgm_freeaddrinfo(void *res)
{
    (void)res;
    abort();
}

int
pgm_send(void *sock, const void *buf, size_t len, size_t *written)
{
    (void)sock, (void)buf, (void)len, (void)written;
    abort();
}

int
pgm_recvmsgv(void *sock, void *msgv, size_t len, int flags, size_t *nread,
             void **error)
{
    (void)sock, (void)msgv, (void)len, (void)flags, (void)nread, (void)error;
    abort();
}
