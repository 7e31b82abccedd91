/*
 * listener - the gateway's own listening socket, handed to lws one
 * accepted connection at a time.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE /* accept4 */
#include "gateway/listener.h"

#define CDT_LOG_MODULE "listen"
#include "common/cdt_log.h"
#include "common/cdt_mem.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* accepted per readable callback before letting other work run */
#define ACCEPT_BATCH 64

struct listener {
    int fd;
    int spare; /* kept open to be released when descriptors run out */
    struct lws_vhost *vhost;
    struct lws *wsi; /* NULL until adopted; lws owns fd from then on */
    uint64_t accepted;
    uint64_t refused;
    uint64_t adopt_failed;
};

listener_t *
listener_new(const char *host, int port, bool reuseport)
{
    listener_t *self = cdt_xcalloc(1, sizeof *self);
    self->fd = -1;
    self->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);

    struct sockaddr_storage ss;
    socklen_t sslen;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0) {
        v4->sin_family = AF_INET;
        v4->sin_addr.s_addr = htonl(INADDR_ANY);
        v4->sin_port = htons((uint16_t)port);
        sslen = sizeof *v4;
    } else if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        sslen = sizeof *v4;
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        sslen = sizeof *v6;
    } else {
        cdt_log_error("cannot listen on '%s': not a numeric address", host);
        goto fail;
    }

    self->fd =
        socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (self->fd < 0) {
        cdt_log_error("cannot create the listening socket: %s",
                      strerror(errno));
        goto fail;
    }
    int one = 1;
    (void)setsockopt(self->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport &&
        setsockopt(self->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        cdt_log_warn("cannot set SO_REUSEPORT: %s", strerror(errno));
    if (bind(self->fd, (struct sockaddr *)&ss, sslen) != 0) {
        cdt_log_error("cannot bind '%s:%d': %s", host, port, strerror(errno));
        goto fail;
    }
    if (listen(self->fd, SOMAXCONN) != 0) {
        cdt_log_error("cannot listen on '%s:%d': %s", host, port,
                      strerror(errno));
        goto fail;
    }
    return self;
fail:
    listener_destroy(&self);
    return NULL;
}

void
listener_destroy(listener_t **self_p)
{
    assert(self_p);
    listener_t *self = *self_p;
    if (!self)
        return;
    if (!self->wsi && self->fd >= 0)
        close(self->fd);
    if (self->spare >= 0)
        close(self->spare);
    free(self);
    *self_p = NULL;
}

/* Out of descriptors: accept with the spare one and close at once, so the
 * pending connection leaves the backlog instead of waking us forever. */
static void
s_shed(listener_t *self)
{
    if (self->spare < 0)
        return;
    close(self->spare);
    int fd = accept4(self->fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        self->refused++;
    }
    self->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void
s_accept(listener_t *self)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int fd = accept4(self->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE) {
                if (self->refused++ % 1000 == 0)
                    cdt_log_warn("out of descriptors: refusing connections");
                s_shed(self);
            }
            return; /* EAGAIN: the backlog is empty */
        }
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        self->accepted++;
        /* on failure lws closes fd itself */
        if (!lws_adopt_socket_vhost(self->vhost, fd)) {
            self->adopt_failed++;
            cdt_log_warn("lws refused an accepted connection (on a TLS "
                         "port: the client did not start with a TLS hello)");
        }
    }
}

int
listener_lws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                      void *user, void *in, size_t len)
{
    (void)user;
    (void)in;
    (void)len;
    const struct lws_protocols *p = lws_get_protocol(wsi);
    listener_t *self = p ? p->user : NULL;
    if (!self)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        s_accept(self);
        break;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (self->wsi == wsi)
            self->fd = -1; /* lws closed it */
        break;
    default:
        break;
    }
    return 0;
}

int
listener_attach(listener_t *self, struct lws_vhost *vhost,
                const char *protocol_name)
{
    self->vhost = vhost;
    lws_sock_file_fd_type fd;
    memset(&fd, 0, sizeof fd);
    fd.filefd = self->fd;
    self->wsi = lws_adopt_descriptor_vhost(vhost, LWS_ADOPT_RAW_FILE_DESC, fd,
                                           protocol_name, NULL);
    if (!self->wsi) {
        cdt_log_error("cannot adopt the listening socket into lws");
        return -1;
    }
    return 0;
}

uint64_t
listener_accepted(const listener_t *self)
{
    return self->accepted;
}

uint64_t
listener_refused(const listener_t *self)
{
    return self->refused;
}

uint64_t
listener_adopt_failed(const listener_t *self)
{
    return self->adopt_failed;
}
