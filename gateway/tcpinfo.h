/*
 * tcpinfo - what the kernel knows about one TCP connection (TCP_INFO).
 *
 * lws closes some connections on its own (a WebSocket frame it refuses, an
 * HTTP request head it cannot parse or store) without telling the
 * protocol callback why. What the socket looks like at that moment tells
 * those closes from a client that simply left: the peer of a refused frame
 * is still connected, and a request head that never completed still
 * brought bytes. Kept apart because <linux/tcp.h>, which has the byte
 * counts, cannot be included together with <netinet/tcp.h>.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TCPINFO_H
#define TCPINFO_H

#include <stdbool.h>
#include <stdint.h>

typedef struct tcpinfo {
    bool peer_open;    /* the peer has neither closed nor reset it */
    uint64_t received; /* bytes of data received (0 if unknown) */
} tcpinfo_t;

/* Fills *out for the socket fd. Returns 0, or -1 if fd is not a TCP
 * socket (or TCP_INFO fails); *out is then zeroed. */
int tcpinfo_get(int fd, tcpinfo_t *out);

#endif
