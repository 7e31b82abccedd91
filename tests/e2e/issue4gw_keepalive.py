#!/usr/bin/python3
# A silent client (t_99): it completes the handshake, then neither sends
# nor reads. The gateway (client_timeout_ms 1500, keepalive_ms 500) must
# close it after the client timeout and count it, and the connection
# count must come back to what it was. A client that pings stays.
#
#   issue4gw_keepalive.py BASE
#
# SPDX-License-Identifier: MIT
import sys
import time

from issue4gw_ws import (check, connect, gw_port, log, main_guard, metric,
                         wait_metric)

BASE = sys.argv[1]
PORT = gw_port(BASE)
CONNS = "conduit_gateway_connections"
TIMEOUTS = "conduit_gateway_client_timeouts_total"


def main():
    base_conns = metric(BASE, CONNS)
    base_timeouts = metric(BASE, TIMEOUTS)

    silent = connect(PORT)
    t0 = time.monotonic()
    talker = connect(PORT)
    wait_metric(BASE, CONNS, lambda v: v == base_conns + 2, 5,
                "two more connections")
    # the talker pings every 400 ms; the silent one does nothing at all
    deadline = t0 + 6
    while metric(BASE, CONNS) != base_conns + 1:
        check(time.monotonic() < deadline,
              "the silent client is still connected after 6 s")
        talker.send_record({"type": 6})
        time.sleep(0.4)
    took = time.monotonic() - t0
    # deadlines are checked by a once-a-second scan
    check(1.4 <= took <= 3.5, "closed after %.2f s, timeout 1.5 s" % took)
    check(metric(BASE, TIMEOUTS) == base_timeouts + 1,
          "the client timeout was not counted")
    log("silent client closed %.2f s after its handshake" % took)

    # what it would have read: pings, then a Close that allows a reconnect
    sclose, code, _ = silent.wait_end(5)
    want = ("Connection closed with an error. Client timeout: nothing "
            "received for 1500 ms.")
    check(sclose == {"type": 7, "error": want, "allowReconnect": True},
          "Close of a silent client: %r" % (sclose,))
    check(code == 1000, "WebSocket close %r" % code)
    silent.close()

    # the talker is still there and answered
    for _ in range(5):
        talker.send_record({"type": 6})
        time.sleep(0.4)
    talker.send_record({"type": 1, "target": "Nope", "arguments": [],
                        "invocationId": "k"})
    r = talker.recv_record(5)
    check(r is not None and r.get("invocationId") == "k",
          "the pinging client: %r" % (r,))
    talker.close()
    wait_metric(BASE, CONNS, lambda v: v == base_conns, 5,
                "the connection count back to %g" % base_conns)
    log("pinging client kept; connection count back to %g" % base_conns)


if __name__ == "__main__":
    main_guard(main)
