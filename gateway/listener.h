/*
 * listener - the gateway's own listening socket, handed to lws one
 * accepted connection at a time.
 *
 * libwebsockets 4.1 sets SO_REUSEPORT on its listener only when it runs
 * several service threads, so several single-threaded gateway processes
 * could not share a port. The gateway therefore binds and listens itself
 * (SO_REUSEADDR, and SO_REUSEPORT when gateway.reuseport is set, so the
 * kernel spreads connections over the processes), adopts the listening
 * descriptor into the lws loop as a raw file, and on each readable event
 * accepts a bounded batch and adopts every new socket into the vhost in
 * HTTP serving mode (lws_adopt_socket_vhost), exactly where lws' own
 * listener would have put it.
 *
 * When the process runs out of descriptors, a spare descriptor kept for
 * that moment is released to accept and immediately close the pending
 * connection, so that the level-triggered listener does not spin.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef LISTENER_H
#define LISTENER_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct listener listener_t;

/* Binds host:port (a numeric IPv4 or IPv6 address, or "0.0.0.0"/"::"/"*"
 * for any) and listens. Returns NULL after logging why. */
listener_t *listener_new(const char *host, int port, bool reuseport);

/* Closes the socket unless lws owns it by then. */
void listener_destroy(listener_t **self_p);

/* The lws protocol callback for the adopted listening descriptor; the
 * protocol's `user` must be the listener_t. */
int listener_lws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                          void *user, void *in, size_t len);

/* Adopts the listening descriptor into vhost under protocol_name (lws
 * closes it with the context). Returns 0 or -1. */
int listener_attach(listener_t *self, struct lws_vhost *vhost,
                    const char *protocol_name);

/* Connections accepted, and refused for lack of descriptors. */
uint64_t listener_accepted(const listener_t *self);
uint64_t listener_refused(const listener_t *self);

/* Accepted connections lws would not take on. On a TLS port lws starts
 * the handshake while adopting, so a client whose first bytes are not a
 * TLS hello (plain HTTP to an https port) ends here. */
uint64_t listener_adopt_failed(const listener_t *self);

#endif
