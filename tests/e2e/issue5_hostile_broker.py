#!/usr/bin/python3
# Issue #5 (t_89): a gateway against a broker that sends what it must not.
# Since the broker hands on an event's MessagePack and each gateway writes
# the JSON frame, an EVENT whose arguments do not make a frame is the
# gateway's to refuse, without losing anything else.
#
#   issue5_hostile_broker.py LINK_PORT GATEWAY_BASE_URL
#
# A thread plays the broker on tcp://127.0.0.1:LINK_PORT (a ROUTER, as the
# real one): WELCOME to HELLO, PONG to PING, 200 to AUTH, CONN_READY with
# the group "g-hostile" to CONN_OPEN. The main thread waits for the
# gateway's link (/healthz), then connects a raw SignalR client
# (issue4gw_ws.py) to /hubs/notifications, and then the broker sends, one
# ZeroMQ frame each unless said otherwise:
#
#   1. EVENT, args a truncated array                  unwritable
#   2. EVENT, data a byte that starts no value         unwritable
#   3. EVENT, data one value with a byte after it      unwritable
#   4. garbage bytes                                   malformed frame
#   5. EVENT with both args and data                   malformed frame
#   6. one frame: EVENT "good-1" (args), then garbage  the first delivered
#   7. EVENT "good-2" (data, with a timestamp to add)  delivered
#
# The client must get exactly good-1 then good-2, whole (good-2 with the
# added timestamp), and /metrics must count 3 unwritable events and at
# least 3 malformed link frames; the connection stays open throughout.
#
# Run with /usr/bin/python3 (it has zmq and msgpack).
#
# SPDX-License-Identifier: MIT
import json
import os
import sys
import threading
import time
import urllib.request

import msgpack
import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from issue4gw_ws import check, connect, gw_port, log, main_guard, metric  # noqa: E402

HUB = "SystemNotificationHub"
GROUP = "g-hostile"
TS = "2026-12-07T10:00:00.000Z"


def pack(*fields):
    return msgpack.packb(list(fields), use_bin_type=True)


def event(seq, target, args=b"", data=b"", add=()):
    return pack(12, HUB, [GROUP], seq, target, args, data, list(add))


HOSTILE = [
    event(1, "Bad", args=b"\x92\x01"),
    event(2, "Bad", data=b"\xc1"),
    event(3, "Bad", data=b"\x01\x02"),
    b"\xff\xfe\x00garbage",
    pack(12, HUB, [GROUP], 5, "Bad", b"\x90", b"\x80", []),
    event(6, "Good", args=msgpack.packb(["good-1", 1])) + b"\xc1\xc1",
    event(7, "Good", data=msgpack.packb({"n": "good-2"}),
          add=("timestamp", TS)),
]


class Broker(threading.Thread):
    """The fake broker: answers the gateway, and sends HOSTILE once asked
    (self.go) to the gateway that opened a connection."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind("tcp://127.0.0.1:%d" % port)
        self.go = threading.Event()
        self.sent = threading.Event()
        self.stop = threading.Event()
        self.gw = None  # the routing id of the gateway with the client
        self.error = None

    def run(self):
        try:
            self._loop()
        except Exception as e:  # reported by the main thread
            self.error = repr(e)

    def _loop(self):
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        while not self.stop.is_set():
            if self.go.is_set() and not self.sent.is_set() and self.gw:
                for frame in HOSTILE:
                    self.sock.send_multipart([self.gw, frame])
                self.sent.set()
            if not poller.poll(50):
                continue
            rid, frame = self.sock.recv_multipart()
            m = msgpack.unpackb(frame, raw=False)
            kind = m[0]
            if kind == 1:  # HELLO
                self.sock.send_multipart(
                    [rid, pack(2, 7, 1000, 30000, b"s" * 32)])
            elif kind == 3:  # PING
                self.sock.send_multipart([rid, pack(4, 7)])
            elif kind == 5:  # AUTH [5, req_id, hub, token, peer]
                self.sock.send_multipart([rid, pack(6, m[1], 200, 1, False, "")])
            elif kind == 7:  # CONN_OPEN [7, conn_id, hub, key, admin, restore, groups]
                self.gw = rid
                self.sock.send_multipart([rid, pack(8, m[1], 0, "", [GROUP])])


def link_up(base):
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
            body = json.loads(r.read().decode())
        return body.get("broker", {}).get("link") == "up"
    except OSError:
        return False


def run():
    link_port, base = int(sys.argv[1]), sys.argv[2]
    broker = Broker(link_port)
    broker.start()
    deadline = time.monotonic() + 15
    while not link_up(base):
        check(broker.error is None, "fake broker: %s" % broker.error)
        check(time.monotonic() < deadline, "the gateway's link never came up")
        time.sleep(0.1)
    ws = connect(gw_port(base))
    broker.go.set()
    check(broker.sent.wait(10), "the fake broker did not send")
    got = []
    while len(got) < 2:
        r = ws.recv_record(secs=10)
        check(r is not None, "the connection ended or went quiet after %r "
              "(close %r)" % (got, ws.close_code))
        check(r.get("type") == 1, "not an invocation: %r" % r)
        got.append(r)
    check(got[0] == {"type": 1, "target": "Good", "arguments": ["good-1", 1]},
          "first delivery: %r" % got[0])
    check(got[1] == {"type": 1, "target": "Good",
                     "arguments": [{"n": "good-2", "timestamp": TS}]},
          "second delivery: %r" % got[1])
    extra = ws.recv_record(secs=0.5)
    check(extra is None and ws.close_code is None and not ws.eof,
          "after the good events: %r (close %r)" % (extra, ws.close_code))
    unwritable = metric(base, "conduit_gateway_events_unwritable_total")
    malformed = metric(base, "conduit_gateway_link_malformed_total")
    check(unwritable == 3, "events_unwritable_total %g, not 3" % unwritable)
    check(malformed >= 3, "link_malformed_total %g, under 3" % malformed)
    log("ok: 2 good events delivered; unwritable %g, malformed frames %g"
        % (unwritable, malformed))
    ws.close()
    broker.stop.set()
    broker.join(5)
    check(broker.error is None, "fake broker: %s" % broker.error)


if __name__ == "__main__":
    main_guard(run)
