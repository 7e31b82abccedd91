/*
 * tcpinfo - TCP_INFO of one socket.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/tcpinfo.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

/* tcpi_state values are the kernel's (include/net/tcp_states.h), which no
 * user-space header exports together with <linux/tcp.h> */
enum tcpinfo_state {
    TCPINFO_ESTABLISHED = 1,
    TCPINFO_FIN_WAIT1 = 4,
    TCPINFO_FIN_WAIT2 = 5,
};

int
tcpinfo_get(int fd, tcpinfo_t *out)
{
    memset(out, 0, sizeof *out);
    struct tcp_info ti;
    memset(&ti, 0, sizeof ti);
    socklen_t len = sizeof ti;
    if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        return -1;
    /* lws shuts down its side before the CLOSED callback of a close it
     * decided on (FIN_WAIT); a peer that closed or reset first leaves
     * CLOSE_WAIT, LAST_ACK or CLOSE */
    out->peer_open = ti.tcpi_state == TCPINFO_ESTABLISHED ||
                     ti.tcpi_state == TCPINFO_FIN_WAIT1 ||
                     ti.tcpi_state == TCPINFO_FIN_WAIT2;
    /* kernels before 4.1 return a shorter struct without the counter */
    if (len >= offsetof(struct tcp_info, tcpi_bytes_received) +
                   sizeof ti.tcpi_bytes_received)
        out->received = ti.tcpi_bytes_received;
    return 0;
}
