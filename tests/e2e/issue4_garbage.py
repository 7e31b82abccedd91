#!/usr/bin/python3
# Issue #4 (t_90): hostile input on the broker's three ZeroMQ endpoints,
# each followed at once by a good message that must still be handled.
#
#   issue4_garbage.py INGRESS INGRESS_ACK GATEWAY_LINK MAX_INGRESS_BYTES
#
#   ingress      (SUB)    a PUB socket sends garbage bytes, truncated
#                         MessagePack, a map declaring 4 G entries, deep
#                         nesting, a non-map, an oversize message and
#                         multi-frame messages; then one good `event` map
#                         (data.source = "sub-after-garbage")
#   ingress_ack  (ROUTER) a DEALER sends the same bodies as [seq][body]
#                         (each must get a negative ack), then frames of
#                         the wrong shape (one frame, three, a 3-byte
#                         sequence); then one good event, acked ok
#                         (data.source = "ack-after-garbage")
#   gateway_link (ROUTER) a DEALER sends garbage, a truncated HELLO, a
#                         HELLO with fields of the wrong types, a
#                         broker-to-gateway kind, an empty frame, an
#                         oversize frame and a two-frame message; then a
#                         good HELLO, which must be answered with WELCOME
#
# Prints one JSON object: how many bad messages went to each endpoint
# (the broker's counters must have risen by at least as much, minus none:
# every one is counted). Exits 1 if a good message is not handled.
#
# Run with /usr/bin/python3 (it has zmq and msgpack).
#
# SPDX-License-Identifier: MIT
import json
import signal
import sys
import time

import msgpack
import zmq


def fail(msg):
    print("issue4_garbage.py: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def bodies(max_bytes):
    """The bad single-frame bodies, each refused by the ingress decoder."""
    good_map = msgpack.packb({"type": "event", "hub": "TaskHub",
                              "group": "vkey-1", "target": "TaskProgress",
                              "data": {"x": 1}})
    deep = b"\x91" * 3000 + b"\xc0"                 # < the size limit
    return [
        b"\x00\xff garbage \xc1\xc1",              # reserved byte 0xc1
        b"hello world",                          # text
        good_map[: len(good_map) // 2],          # truncated map
        b"\xdf\xff\xff\xff\xff",                 # map of 4 G entries, no body
        b"\xdd\xff\xff\xff\xff\x01",             # array of 4 G entries
        deep,                                    # nesting 3000 deep
        msgpack.packb([1, 2, 3]),                # not a map
        msgpack.packb({"type": "nonsense"}),     # unknown type
        msgpack.packb({"type": 7}),              # type of the wrong type
        good_map + b"\x00",                      # trailing byte
        msgpack.packb({"type": "event", "hub": "TaskHub", "group": "g",
                       "target": "TaskProgress",
                       "data": "x" * (max_bytes + 100)}),  # oversize
        b"",                                     # empty
    ]


def wait_connected(mon, what, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if mon.poll(100):
            ev = mon.recv_multipart()
            event = int.from_bytes(ev[0][:2], "little")
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                return
    fail(what + ": no connection to the broker within %.0f s" % timeout)


def connect(ctx, kind, endpoint, what):
    s = ctx.socket(kind)
    s.setsockopt(zmq.LINGER, 2000)
    s.setsockopt(zmq.SNDHWM, 100000)
    mon = s.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
    s.connect(endpoint)
    wait_connected(mon, what)
    s.disable_monitor()
    mon.close()
    return s


def good_event(source):
    return msgpack.packb({"type": "event", "hub": "TaskHub",
                          "group": "vkey-1", "target": "TaskProgress",
                          "data": {"source": source}})


def sub_endpoint(ctx, endpoint, max_bytes):
    pub = connect(ctx, zmq.PUB, endpoint, "ingress")
    # the subscription travels after the handshake: give it time to land
    time.sleep(0.3)
    sent = 0
    for rnd in range(20):  # many, so the WARN rate limit shows
        for b in bodies(max_bytes):
            pub.send(b)
            sent += 1
    for parts in ([b"a", b"b"], [good_event("x"), b"tail"],
                  [b"", good_event("y")]):
        pub.send_multipart(parts)
        sent += 1
    pub.send(good_event("sub-after-garbage"))
    time.sleep(0.2)
    pub.close()
    return sent


def ack_endpoint(ctx, endpoint, max_bytes):
    d = connect(ctx, zmq.DEALER, endpoint, "ingress_ack")
    sent = 0
    seq = 0
    for b in bodies(max_bytes):
        seq += 1
        d.send_multipart([seq.to_bytes(8, "big"), b])
        sent += 1
        if not d.poll(3000):
            fail("ingress_ack: no answer to a bad body")
        rseq, ack = d.recv_multipart()
        if rseq != seq.to_bytes(8, "big"):
            fail("ingress_ack: answer for sequence %r, expected %d"
                 % (rseq, seq))
        a = msgpack.unpackb(ack, raw=False)
        if a.get("ok") is not False or not a.get("error"):
            fail("ingress_ack: a bad body was not refused: %r" % a)
    # frames of the wrong shape
    shapes = [
        [good_event("one-frame")],                      # no sequence
        [b"\x00" * 8, good_event("three"), b"extra"],   # three frames
        [b"\x00\x00\x01", good_event("short-seq")],     # 3-byte sequence
        [b"\x00" * 8, b"", b"", b""],                   # four frames
    ]
    for parts in shapes:
        d.send_multipart(parts)
        sent += 1
    # whatever answers the wrong shapes get, they are negative
    deadline = time.time() + 1.0
    while time.time() < deadline:
        if d.poll(100):
            r = d.recv_multipart()
            a = msgpack.unpackb(r[-1], raw=False)
            if a.get("ok") is not False:
                fail("ingress_ack: a message of the wrong shape was "
                     "accepted: %r" % a)
    seq += 1
    d.send_multipart([seq.to_bytes(8, "big"), good_event("ack-after-garbage")])
    if not d.poll(3000):
        fail("ingress_ack: no answer to the good event after the garbage")
    rseq, ack = d.recv_multipart()
    a = msgpack.unpackb(ack, raw=False)
    if rseq != seq.to_bytes(8, "big") or a.get("ok") is not True:
        fail("ingress_ack: the good event after the garbage was not "
             "accepted: %r" % a)
    d.close()
    return sent


def link_endpoint(ctx, endpoint, max_bytes):
    d = connect(ctx, zmq.DEALER, endpoint, "gateway_link")
    # [1, name, incarnation, CDT_LINK_VERSION (proto/cdt_link.h)]
    hello = msgpack.packb([1, "issue4-garbage", 424242, 2])
    bad = [
        b"\x00\xff garbage \xc1",
        hello[:-3],                                   # truncated HELLO
        msgpack.packb([1, 5, "not-an-int"]),          # wrong types
        msgpack.packb([1, "x"]),                      # too short
        msgpack.packb([2, 1, 1000, 5000]),            # WELCOME: B->G kind
        msgpack.packb([99, 1]),                       # unknown kind
        msgpack.packb({"kind": 1}),                   # a map
        b"\xdd\xff\xff\xff\xff",                      # 4 G elements
        b"",                                          # empty
        b"\x93\x01" + b"\xa1x" * (max_bytes + 70000),  # oversize
    ]
    sent = 0
    for rnd in range(10):
        for b in bad:
            d.send(b)
            sent += 1
    d.send_multipart([hello, b"second body frame"])
    sent += 1
    d.send(hello)
    deadline = time.time() + 3.0
    while time.time() < deadline:
        if d.poll(200):
            r = d.recv_multipart()
            m = msgpack.unpackb(r[-1], raw=False)
            if isinstance(m, list) and m and m[0] == 2:
                d.close()
                return sent
            fail("gateway_link: answered %r to garbage" % m)
    fail("gateway_link: no WELCOME for the good HELLO after the garbage")


def main():
    if len(sys.argv) != 5:
        print("usage: issue4_garbage.py INGRESS INGRESS_ACK GATEWAY_LINK "
              "MAX_INGRESS_BYTES", file=sys.stderr)
        return 2
    signal.alarm(50)  # bounded, whatever ZeroMQ does
    ingress, ack, link, max_bytes = sys.argv[1:4] + [int(sys.argv[4])]
    ctx = zmq.Context()
    out = {
        "ingress": sub_endpoint(ctx, ingress, max_bytes),
        "ingress_ack": ack_endpoint(ctx, ack, max_bytes),
        "gateway_link": link_endpoint(ctx, link, max_bytes),
    }
    print(json.dumps(out), flush=True)
    ctx.destroy(linger=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
