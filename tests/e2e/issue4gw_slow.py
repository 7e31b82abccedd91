#!/usr/bin/python3
# The slow consumers of t_95: N raw clients with a tiny receive buffer
# that complete the handshake and then stop reading. Writes READY_FILE
# when all are connected, sleeps until STOP_FILE appears, then reads what
# each socket still holds: a prefix of the stream, in order, and then the
# end of the connection (the gateway closed it).
#
#   issue4gw_slow.py BASE N READY_FILE STOP_FILE
#
# SPDX-License-Identifier: MIT
import os
import sys
import time

from issue4gw_ws import check, connect, gw_port, log, main_guard

BASE, N, READY, STOP = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


def main():
    port = gw_port(BASE)
    conns = [connect(port, rcvbuf=4096, timeout=20) for _ in range(N)]
    with open(READY, "w") as f:
        f.write("ready\n")
    deadline = time.monotonic() + 100
    while not os.path.exists(STOP):
        check(time.monotonic() < deadline, "never told to stop")
        time.sleep(0.1)
    for i, c in enumerate(conns):
        seqs = []
        while True:
            r = c.recv_record(10)
            if r is None:
                break
            if r.get("type") == 1 and r.get("target") == "SystemAnnouncement":
                seqs.append(r["arguments"][0]["seq"])
        check(c.eof or c.close_code is not None,
              "slow client %d still open after reading what it held" % i)
        check(seqs == list(range(1, len(seqs) + 1)),
              "slow client %d got events out of order: %r" % (i, seqs[:20]))
        c.close()
        log("slow client %d: %d events (a prefix, in order), then closed"
            % (i, len(seqs)))


if __name__ == "__main__":
    main_guard(main)
