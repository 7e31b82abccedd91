#!/usr/bin/python3
# The reader of t_95_partial_writes: one raw client with a 4 KB receive
# buffer that handshakes, writes READY_FILE and stops reading, so that
# the gateway's direct writes (gateway/conn.c s_send_direct) are taken in
# part and the rest goes to libwebsockets. While it is not reading it
# sends a WebSocket Ping, which lws answers with a Pong it must not write
# inside a frame that is still half sent. When STOP_FILE appears it reads
# everything: every frame must parse, the N events must come whole (pad
# of SIZE bytes) and in order, and exactly one Pong with our payload must
# come between two frames.
#
#   issue5_partial.py BASE N SIZE READY_FILE STOP_FILE
#
# SPDX-License-Identifier: MIT
import json
import os
import sys
import time

from issue4gw_ws import (OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, RS,
                         check, connect, gw_port, log, main_guard)

BASE, N, SIZE = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
READY, STOP = sys.argv[4], sys.argv[5]


def main():
    c = connect(gw_port(BASE), rcvbuf=4096, timeout=20)
    with open(READY, "w") as f:
        f.write("ready\n")
    deadline = time.monotonic() + 60
    pinged = False
    while not os.path.exists(STOP):
        check(time.monotonic() < deadline, "never told to stop")
        if not pinged and os.path.exists(STOP + ".ping"):
            c.send_frame(OP_PING, b"mid-frame?")
            pinged = True
        time.sleep(0.05)
    check(pinged, "the ping was never asked for")
    seqs, pongs = [], 0
    while len(seqs) < N:
        f = c.recv_frame(20)
        check(f is not None, "stream ended after %d events (eof=%s)"
              % (len(seqs), c.eof))
        op, payload = f
        if op == OP_PONG:
            check(payload == b"mid-frame?", "pong payload %r" % payload)
            pongs += 1
            continue
        check(op != OP_CLOSE, "closed after %d events: %r" % (len(seqs),
                                                              payload[:80]))
        check(op in (OP_TEXT, OP_CONT), "unexpected opcode %d" % op)
        for part in payload.decode().split(RS):
            if not part:
                continue
            r = json.loads(part)
            if r.get("type") != 1:
                continue
            arg = r["arguments"][0]
            check(len(arg["pad"]) == SIZE, "event %d cut: %d bytes of pad"
                  % (arg["seq"], len(arg["pad"])))
            seqs.append(arg["seq"])
    check(seqs == list(range(1, N + 1)), "events out of order: %r" % seqs[:20])
    check(pongs == 1, "%d pongs, not 1" % pongs)
    log("partial: %d events of %d bytes whole and in order, one pong"
        % (N, SIZE))
    c.close()


if __name__ == "__main__":
    main_guard(main)
