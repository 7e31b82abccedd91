#!/usr/bin/python3
# A service publishing fire-and-forget ingress maps, as any language would:
# a ZeroMQ PUB socket connected to the broker's ingress endpoint, one
# MessagePack map per single-frame message (proto/cdt_ingress.h).
#
#   zmq_pub.py ENDPOINT < maps.ndjson      (one JSON object per line)
#
# PUB/SUB drops what is sent before the subscription has reached the
# publisher (the "slow joiner"), so it waits before the first send; and it
# lingers at close so that nothing queued is lost.
#
# Run with /usr/bin/python3 (it has zmq and msgpack).
#
# SPDX-License-Identifier: MIT
import json
import sys
import time

import msgpack
import zmq


def main():
    if len(sys.argv) != 2:
        print("usage: zmq_pub.py ENDPOINT < maps.ndjson", file=sys.stderr)
        return 2
    maps = [json.loads(line) for line in sys.stdin if line.strip()]
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUB)
    sock.setsockopt(zmq.SNDHWM, 100000)
    sock.setsockopt(zmq.LINGER, 3000)
    sock.connect(sys.argv[1])
    time.sleep(0.5)
    for m in maps:
        sock.send(msgpack.packb(m, use_bin_type=True))
    time.sleep(0.1)
    sock.close()
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
