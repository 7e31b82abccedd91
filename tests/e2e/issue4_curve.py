#!/usr/bin/python3
# Issue #4 (t_94_curve): a service's ZeroMQ sockets with or without
# CurveZMQ keys, against a broker that requires them.
#
#   issue4_curve.py pub   INGRESS SERVER_CERT OWN_CERT|- JSON-MAP
#   issue4_curve.py hello GATEWAY_LINK SERVER_CERT OWN_CERT|-
#
# pub:   a PUB socket (a CURVE client with OWN_CERT's keys and the
#        broker's public key from SERVER_CERT, or plain with "-") sends
#        the map once the handshake succeeded, or regardless once it
#        failed (the broker must then never see it).
# hello: a DEALER on the gateway link sends a HELLO and waits 1.5 s for
#        the WELCOME.
#
# Keys come from czmq certificate files (what `conduit-pub keygen`
# writes): the Z85 `public-key` of FILE and `secret-key` of FILE_secret.
# Prints one JSON object: {"handshake": "ok"|"failed"|"none",
# "answered": bool}.
#
# Run with /usr/bin/python3 (it has zmq and msgpack).
#
# SPDX-License-Identifier: MIT
import json
import os
import re
import signal
import sys
import time

import msgpack
import zmq


def key_of(path, which):
    """The Z85 key named which ("public-key"/"secret-key") in a zcert."""
    if which == "secret-key" and not path.endswith("_secret"):
        path += "_secret"
    with open(path, encoding="utf-8") as f:
        m = re.search(r'^\s*' + which + r'\s*=\s*"([^"]{40})"', f.read(),
                      re.M)
    if not m:
        raise SystemExit("issue4_curve.py: no %s in %s" % (which, path))
    return m.group(1).encode()


def socket(ctx, kind, server_cert, own_cert):
    s = ctx.socket(kind)
    s.setsockopt(zmq.LINGER, 1000)
    if own_cert != "-":
        s.curve_serverkey = key_of(server_cert, "public-key")
        s.curve_publickey = key_of(own_cert, "public-key")
        s.curve_secretkey = key_of(own_cert, "secret-key")
    return s


def handshake(mon, timeout):
    """ok at the first success, failed at the first failure, none if
    neither happened within timeout seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if mon.poll(50):
            ev = mon.recv_multipart()
            event = int.from_bytes(ev[0][:2], sys.byteorder)
            return "ok" if event == zmq.EVENT_HANDSHAKE_SUCCEEDED else "failed"
    return "none"


def main():
    signal.alarm(15)  # bounded, whatever ZeroMQ does
    if len(sys.argv) < 5 or sys.argv[1] not in ("pub", "hello"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, endpoint, server_cert, own_cert = sys.argv[1:5]
    ctx = zmq.Context()
    kind = zmq.PUB if mode == "pub" else zmq.DEALER
    s = socket(ctx, kind, server_cert, own_cert)
    mon = s.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED
                               | zmq.EVENT_HANDSHAKE_FAILED_AUTH
                               | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                               | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
    s.connect(endpoint)
    hs = handshake(mon, 2.0)
    answered = False
    if mode == "pub":
        if hs == "ok":
            time.sleep(0.3)  # the subscription follows the handshake
        s.send(msgpack.packb(json.loads(sys.argv[5])), zmq.NOBLOCK)
        time.sleep(0.2)
    else:
        # a refused DEALER may have no pipe at all: a blocking send would
        # wait for one forever
        try:
            # [1, name, incarnation, CDT_LINK_VERSION (proto/cdt_link.h)]
            s.send(msgpack.packb([1, "issue4-curve-" + own_cert[-8:],
                                  os.getpid(), 2]), zmq.NOBLOCK)
            answered = bool(s.poll(1500))
        except zmq.Again:
            answered = False
    print(json.dumps({"handshake": hs, "answered": answered}), flush=True)
    s.disable_monitor()
    ctx.destroy(linger=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
