#!/usr/bin/python3
# Hostile input against one gateway (t_97): malformed WebSocket frames,
# bad text, bad JSON, bad hub messages, a binary frame, garbage instead of
# HTTP. Each case runs on its own connection and must end the way it is
# written down here, with its /metrics counter up by one; the official
# neighbour (issue4gw_neighbour.mjs) checks meanwhile that nobody else
# noticed.
#
#   issue4gw_hostile.py BASE
#
# SPDX-License-Identifier: MIT
import socket
import sys
import time

from issue4gw_ws import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, RS,
                         WS, check, connect, gw_port, log, main_guard,
                         metrics)

BASE = sys.argv[1]
PORT = gw_port(BASE)
PE = 'conduit_gateway_protocol_errors_total{kind="%s"}'
CLOSED_WITH_ERROR = "Connection closed with an error. InvalidDataException: "


def delta(before, name):
    return metrics(BASE).get(name, 0.0) - before.get(name, 0.0)


def wait_delta(before, name, want, secs=3.0):
    deadline = time.monotonic() + secs
    while True:
        d = delta(before, name)
        if d == want or time.monotonic() > deadline:
            check(d == want, "%s rose by %g, not %g" % (name, d, want))
            return
        time.sleep(0.05)


def ws_refusal(name, frame_kw, want_code, want_reason, reply_close=True,
               secs=10):
    """A frame lws refuses: WebSocket close want_code (None: the
    connection just ends), counted as kind websocket."""
    before = metrics(BASE)
    c = connect(PORT)
    c.reply_close = reply_close
    c.send_frame(**frame_kw)
    sclose, code, took = c.wait_end(secs)
    check(sclose is None, "%s: unexpected SignalR close %r" % (name, sclose))
    check(code == want_code, "%s: close code %r, want %r" % (name, code,
                                                              want_code))
    if want_reason:
        check(c.close_reason == want_reason,
              "%s: close reason %r" % (name, c.close_reason))
    # the gateway counts a close lws decided on while the client is still
    # connected; a client that closes in the same instant can be missed,
    # so this one stays a moment
    time.sleep(0.3)
    c.close()
    wait_delta(before, PE % "websocket", 1)
    log("%s: closed with %s %r after %.2f s, counted" %
        (name, code, c.close_reason, took))


def hub_refusal(name, send, kind, want_code, want_text):
    """Input the gateway itself refuses: a SignalR Close carrying the
    reason and no reconnect, then WebSocket close want_code."""
    before = metrics(BASE)
    c = connect(PORT)
    send(c)
    sclose, code, took = c.wait_end(5)
    check(sclose is not None, "%s: no SignalR Close record" % name)
    check(sclose.get("allowReconnect") is not True,
          "%s: Close allows reconnecting: %r" % (name, sclose))
    err = sclose.get("error", "")
    check(err.startswith(CLOSED_WITH_ERROR) and want_text in err,
          "%s: Close error %r lacks %r" % (name, err, want_text))
    check(code == want_code, "%s: close code %r, want %r" % (name, code,
                                                              want_code))
    c.close()
    wait_delta(before, PE % kind, 1)
    log("%s: Close %r, WebSocket %s, counted as %s" % (name, err, code, kind))


def raw_http(name, data, want):
    """Garbage instead of an HTTP request: lws answers (want = status) or
    just closes (want = 0); counted as kind http."""
    before = metrics(BASE)
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    s.sendall(data)
    got = b""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        got += chunk
    s.close()
    status = int(got.split(b" ")[1]) if got.startswith(b"HTTP/1.") else 0
    check(status == want, "%s: answered %r, want %d" % (name, got[:80], want))
    wait_delta(before, PE % "http", 1)
    log("%s: %s, counted as http" %
        (name, "HTTP %d" % status if status else "closed without an answer"))


def invoke_answered(c, target, args, inv):
    c.send_record({"type": 1, "target": target, "arguments": args,
                   "invocationId": inv})
    r = c.recv_record(5)
    check(r is not None and r.get("type") == 3 and r.get("invocationId") == inv,
          "no Completion %s: %r" % (inv, r))
    return r


def main():
    # ---- WebSocket framing (lws refuses these itself) -------------------
    ws_refusal("reserved opcode 0x3", dict(opcode=0x3, payload=b"x"), 1002,
               "bad opc")
    ws_refusal("reserved opcode 0xB (control)",
               dict(opcode=0xB, payload=b"x"), 1002, "bad opc")
    # lws cannot parse the client's close answer after this one (it stops
    # mid-header): it closes by itself after its close-ack timeout
    ws_refusal("RSV1 without an extension",
               dict(opcode=OP_TEXT, payload='{"type":6}' + RS, rsv=4), 1002,
               "rsv bits", reply_close=False)
    ws_refusal("fragmented control frame",
               dict(opcode=OP_PING, payload=b"x", fin=False), 1002,
               "frag ctl")
    ws_refusal("continuation without a first frame",
               dict(opcode=OP_CONT, payload=b"x"), 1002, "bad cont")
    ws_refusal("control frame of 126 bytes",
               dict(opcode=OP_PING, payload=b"x" * 126), None, None)
    ws_refusal("close frame of 200 bytes",
               dict(opcode=OP_CLOSE, payload=b"\x03\xe8" + b"x" * 198), None,
               None)

    # lws 4.1.6 does not check that client frames are masked (newer lws
    # close with 1002 "client unmasked"): the frame is taken as if masked.
    # What is checked: the gateway is unharmed and the connection works.
    c = connect(PORT, path="/hubs/tasks")
    c.send_frame(OP_TEXT, '{"type":1,"target":"Nope","arguments":[],'
                 '"invocationId":"u1"}' + RS, mask=False)
    r = c.recv_record(5)
    check(r is not None and r.get("invocationId") == "u1",
          "unmasked frame: %r" % (r,))
    c.close()
    log("unmasked frame: accepted by lws 4.1.6 (known gap), gateway fine")

    # ---- the gateway's own checks ----------------------------------------
    hub_refusal("invalid UTF-8 in a text frame",
                lambda c: c.send_frame(OP_TEXT,
                                       b'{"type":6,"x":"\xff\xfe"}\x1e'),
                "utf8", 1007, "invalid UTF-8")
    hub_refusal("overlong UTF-8 split over two frames",
                lambda c: (c.send_frame(OP_TEXT, b'{"type":6,"x":"\xc0',
                                        fin=False),
                           c.send_frame(OP_CONT, b'\xaf"}\x1e')),
                "utf8", 1007, "invalid UTF-8")
    hub_refusal("binary frame on a JSON connection",
                lambda c: c.send_frame(OP_BINARY, b'{"type":6}\x1e'),
                "binary", 1003, "binary frame")
    hub_refusal("bad JSON", lambda c: c.send_text('{"type":1,' + RS),
                "json", 1000, "invalid JSON")
    hub_refusal("deep nesting",
                lambda c: c.send_text(
                    '{"type":1,"target":"X","arguments":[' + "[" * 5000 +
                    "]" * 5000 + "]}" + RS),
                "json", 1000, "nesting deeper")
    hub_refusal("number beyond a double",
                lambda c: c.send_text(
                    '{"type":1,"target":"SubscribeToTask","arguments":'
                    '[1e999],"invocationId":"1"}' + RS),
                "json", 1000, "invalid JSON")
    hub_refusal("arguments not an array",
                lambda c: c.send_record({"type": 1,
                                         "target": "SubscribeToTask",
                                         "arguments": "task-1",
                                         "invocationId": "1"}),
                "message", 1000, "arguments")
    hub_refusal("a record without a type",
                lambda c: c.send_record({"target": "X", "arguments": []}),
                "message", 1000, "type")

    # ---- accepted: huge numbers that are numbers, unknown types ----------
    c = connect(PORT, path="/hubs/tasks")
    r = invoke_answered(c, "SubscribeToTask",
                        [123456789012345678901234567890], "big")
    check("error" in r, "a huge integer argument was accepted: %r" % (r,))
    log("huge integer argument: Completion error %r" % r["error"])
    c.send_record({"type": 99, "anything": [1, 2, 3]})
    c.send_record({"type": 6})
    r = invoke_answered(c, "Nope", [], "after-unknown")
    check("Method does not exist" in r.get("error", ""),
          "after an unknown type: %r" % (r,))
    c.close()
    log("unknown message type 99: ignored, connection still answers")

    # ---- garbage instead of HTTP ------------------------------------------
    raw_http("binary garbage", b"\x00\x01\x02\xff\xfe garbage\r\n\r\n", 403)
    raw_http("not HTTP", b"HELLO WORLD\r\n\r\n", 403)
    raw_http("request head of 20 KB",
             b"GET /hubs/notifications HTTP/1.1\r\nHost: x\r\nX-Pad: " +
             b"a" * 20000 + b"\r\n\r\n", 0)

    # nothing of the above may have cost the gateway its health
    m = metrics(BASE)
    check(m.get("conduit_gateway_broker_link_up") == 1.0, "link down")
    log("hostile input: all cases refused as expected")


if __name__ == "__main__":
    main_guard(main)
