#!/usr/bin/python3
# The gateway's configured limits, from a raw client (t_96): the handshake
# timeout (also for a connection that never sends a request), the request
# head size, the inbound message size, the invocation rate, the connection
# cap and the per-address connect rate. Each limit refuses with its
# documented answer and counts the refusal in /metrics; just below a
# limit everything works.
#
#   issue4gw_limits.py BASE_A BASE_C BASE_D
#
# BASE_A: max_message_bytes 4096, handshake_timeout_ms 1500,
#         max_header_bytes 2048, invocations_per_sec 5
# BASE_C: max_connections 5
# BASE_D: connects_per_ip_per_sec 5
#
# SPDX-License-Identifier: MIT
import json
import socket
import sys
import time
import urllib.error
import urllib.request

from issue4gw_ws import (KEY_A, OP_CONT, OP_TEXT, RS, WS, Failure, check,
                         connect, gw_port, log, main_guard, metric, metrics,
                         wait_metric)

BASE_A, BASE_C, BASE_D = sys.argv[1:4]
REF = 'conduit_gateway_limit_refusals_total{kind="%s"}'
RATE_TEXT = ("An unexpected error occurred invoking 'Nope' on the server. "
             "HubException: Rate limit exceeded. Please try again later.")


def counter(base, kind):
    return metric(base, REF % kind)


def time_to_eof(sock, secs):
    """Seconds until the peer closes sock (without sending anything)."""
    t0 = time.monotonic()
    sock.settimeout(secs)
    got = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            got += chunk
    except socket.timeout:
        raise Failure("still open after %g s" % secs)
    except ConnectionResetError:
        pass
    return time.monotonic() - t0, got


def handshake_timeout():
    port = gw_port(BASE_A)
    before = counter(BASE_A, "handshake_timeout")
    c = WS(port).upgrade()
    t0 = time.monotonic()
    sclose, code, _ = c.wait_end(6)
    took = time.monotonic() - t0
    check(sclose is None, "a SignalR record before any handshake: %r" % sclose)
    check(code == 1008 and c.close_reason == "Handshake timed out",
          "no-handshake close: %r %r" % (code, c.close_reason))
    # deadlines are checked by a once-a-second scan
    check(1.4 <= took <= 3.5, "closed after %.2f s, limit 1.5 s" % took)
    c.close()
    check(counter(BASE_A, "handshake_timeout") == before + 1,
          "handshake_timeout refusal not counted")
    log("no handshake: closed with 1008 'Handshake timed out' after %.2f s"
        % took)

    # a connection that never sends its request: lws' idle timeout, set
    # from the same limit (rounded up to whole seconds)
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    took, got = time_to_eof(s, 6)
    s.close()
    check(got == b"", "an answer to nothing: %r" % got[:100])
    check(1.5 <= took <= 4.0, "idle TCP closed after %.2f s" % took)
    log("no request at all: closed after %.2f s" % took)

    # a handshake just in time is fine
    c = WS(port).upgrade()
    time.sleep(0.9)
    c.handshake()
    c.send_record({"type": 6})
    check(c.recv_record(0.5) is None and c.close_code is None and not c.eof,
          "a late but timely handshake was refused")
    c.close()


def header_size():
    port = gw_port(BASE_A)
    pe = 'conduit_gateway_protocol_errors_total{kind="http"}'
    before = metric(BASE_A, pe)
    # under the limit: works
    c = WS(port).upgrade(extra_headers=["X-Pad: " + "a" * 1200]).handshake()
    c.close()
    for what, kw in [
        ("upgrade", dict(extra_headers=["X-Pad: " + "a" * 3000])),
        ("upgrade with a long query",
         dict(query="access_token=%s&pad=%s" % (KEY_A, "b" * 3000))),
    ]:
        c = WS(port)
        status, head = c.request(**kw)
        check(status == 0, "%s over max_header_bytes answered %d" %
              (what, status))
        c.close()
        log("%s with a 3 KB head: connection closed without an answer" % what)
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"POST /hubs/notifications/negotiate?negotiateVersion=1 "
              b"HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"c" * 3000 +
              b"\r\nContent-Length: 0\r\n\r\n")
    _, got = time_to_eof(s, 5)
    s.close()
    check(got == b"", "an oversize negotiate was answered: %r" % got[:80])
    wait_metric(BASE_A, pe, lambda v: v == before + 3, 3,
                "oversize heads counted as http protocol errors")


def message_size():
    port = gw_port(BASE_A)
    before = counter(BASE_A, "message_size")
    # just under 4096: an ordinary answer
    c = connect(port, path="/hubs/tasks")
    rec = {"type": 1, "target": "Nope", "arguments": [""],
           "invocationId": "under"}
    pad = 4096 - len(json.dumps(rec))
    rec["arguments"] = ["x" * pad]
    check(len(json.dumps(rec)) == 4096, "test record size")
    c.send_record(rec)
    r = c.recv_record(5)
    check(r is not None and r.get("invocationId") == "under",
          "a 4096-byte record: %r" % (r,))
    # one byte more, split over frames so no single frame is oversize
    rec["arguments"] = ["x" * (pad + 1)]
    text = json.dumps(rec) + RS
    c.send_frame(OP_TEXT, text[:2000], fin=False)
    c.send_frame(OP_CONT, text[2000:4000], fin=False)
    c.send_frame(OP_CONT, text[4000:])
    sclose, code, _ = c.wait_end(5)
    want = ("Connection closed with an error. InvalidDataException: The "
            "maximum message size of 4096B was exceeded.")
    check(sclose == {"type": 7, "error": want},
          "oversize record: Close %r" % (sclose,))
    check(code == 1009, "oversize record: WebSocket close %r" % code)
    c.close()
    # an unfinished record already over the limit is refused as it comes
    c = connect(port)
    c.send_frame(OP_TEXT, '{"type":6,"pad":"' + "y" * 6000, fin=False)
    sclose, code, _ = c.wait_end(5)
    check(sclose is not None and sclose.get("error") == want and code == 1009,
          "an unfinished oversize record: %r %r" % (sclose, code))
    c.close()
    check(counter(BASE_A, "message_size") == before + 2,
          "message_size refusals not counted")
    log("message of 4097 bytes: Close %r, WebSocket 1009" % want)


def invoke_rate():
    port = gw_port(BASE_A)
    before = counter(BASE_A, "invoke_rate")
    c = connect(port, path="/hubs/tasks")
    n = 12
    for i in range(n):
        c.send_record({"type": 1, "target": "Nope", "arguments": [],
                       "invocationId": "b%d" % i})
    answers = {}
    for _ in range(n):
        r = c.recv_record(5)
        check(r is not None and r.get("type") == 3, "answer: %r" % (r,))
        answers[r["invocationId"]] = r.get("error")
    limited = [k for k, v in answers.items() if v == RATE_TEXT]
    other = [v for v in answers.values() if v != RATE_TEXT]
    # 12 calls in under a second span at most two one-second windows
    check(len(answers) == n, "answers: %r" % answers)
    check(n - 10 <= len(limited) <= n - 5,
          "%d of %d calls rate limited" % (len(limited), n))
    check(all("Method does not exist" in v for v in other),
          "calls within the rate: %r" % other)
    check(counter(BASE_A, "invoke_rate") == before + len(limited),
          "invoke_rate refusals: counted %g, refused %d" %
          (counter(BASE_A, "invoke_rate") - before, len(limited)))
    log("12 blocking calls at once: %d refused with %r" %
        (len(limited), RATE_TEXT))

    # non-blocking calls over the rate: no answer at all, but counted
    time.sleep(1.1)
    before = counter(BASE_A, "invoke_rate")
    for i in range(12):
        c.send_record({"type": 1, "target": "Nope", "arguments": [i]})
    c.send_record({"type": 6})
    r = c.recv_record(1.0)
    check(r is None and c.close_code is None and not c.eof,
          "something answered non-blocking calls: %r" % (r,))
    dropped = counter(BASE_A, "invoke_rate") - before
    check(2 <= dropped <= 7, "%g non-blocking calls counted as refused" %
          dropped)
    time.sleep(1.1)
    c.send_record({"type": 1, "target": "Nope", "arguments": [],
                   "invocationId": "after"})
    r = c.recv_record(5)
    check(r is not None and "Method does not exist" in r.get("error", ""),
          "after the burst: %r" % (r,))
    c.close()
    log("12 non-blocking calls at once: %d dropped silently, counted" %
        dropped)


def negotiate(base, headers=None):
    req = urllib.request.Request(
        base + "/hubs/notifications/negotiate?negotiateVersion=1",
        data=b"", method="POST",
        headers=dict({"Authorization": "Bearer " + KEY_A}, **(headers or {})))
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def max_connections():
    port = gw_port(BASE_C)
    before = counter(BASE_C, "max_connections")
    conns = [connect(port) for _ in range(5)]
    wait_metric(BASE_C, "conduit_gateway_connections", lambda v: v == 5, 5,
                "five connections")
    c = WS(port)
    status, head = c.request()
    c.close()
    check(status == 503, "sixth upgrade answered %d" % status)
    status, body = negotiate(BASE_C)
    check(status == 503 and "Too many connections" in body,
          "sixth negotiate answered %d %r" % (status, body))
    check(counter(BASE_C, "max_connections") == before + 2,
          "max_connections refusals not counted")
    # the first five are unharmed, and a place freed is a place to take
    for x in conns:
        x.send_record({"type": 6})
    conns.pop().close()
    wait_metric(BASE_C, "conduit_gateway_connections", lambda v: v == 4, 5,
                "a connection closed")
    conns.append(connect(port))
    for x in conns:
        x.close()
    log("max_connections 5: the sixth gets 503 at upgrade and negotiate")


def align_to_second():
    """Waits until just after a monotonic second starts: the gateway's
    windows are whole seconds of the same clock (CLOCK_MONOTONIC)."""
    now = time.monotonic()
    time.sleep(1.0 - (now % 1.0) + 0.02)


def connect_burst(port):
    """Five negotiates with their upgrades, then one more negotiate and a
    skipNegotiation upgrade, all in one monotonic second; None if the
    burst did not fit in one second (the machine is busy: try again)."""
    align_to_second()
    second = int(time.monotonic())
    ids = []
    for _ in range(5):
        status, body = negotiate(BASE_D)
        if int(time.monotonic()) != second:
            return None
        check(status == 200, "negotiate within the rate: %d %r" %
              (status, body))
        ids.append(body["connectionToken"])
    # upgrades with a negotiated id were counted at their negotiate
    conns = [WS(port).upgrade(query="id=%s&access_token=%s" % (i, KEY_A))
             .handshake() for i in ids]
    status, body = negotiate(BASE_D)
    status2, _ = WS(port).request()   # skipNegotiation: counted too
    if int(time.monotonic()) != second:
        for c in conns:
            c.close()
        return None
    return conns, status, body, status2


def connect_rate():
    port = gw_port(BASE_D)
    for attempt in range(3):
        before = counter(BASE_D, "connect_rate")
        got = connect_burst(port)
        if got:
            break
        log("connect burst %d spilled into the next second: again" % attempt)
    check(got is not None, "no connect burst fitted in one second")
    conns, status, body, status2 = got
    check(status == 429 and "Too Many Requests" in body,
          "sixth negotiate in a second answered %d %r" % (status, body))
    check(status2 == 429, "seventh attempt (an upgrade) answered %d" %
          status2)
    check(counter(BASE_D, "connect_rate") == before + 2,
          "connect_rate refusals not counted")
    align_to_second()
    status, _ = negotiate(BASE_D)
    check(status == 200, "negotiate in the next second answered %d" % status)
    for c in conns:
        c.send_record({"type": 6})
        c.close()
    log("connects_per_ip_per_sec 5: five negotiates and their upgrades "
        "pass, the sixth negotiate and a skipNegotiation upgrade get 429")


def auth_failure():
    """Not a limit, but counted with them in mind: a bad key is 401 and
    conduit_gateway_auth_failures_total counts it."""
    name = "conduit_gateway_auth_failures_total"
    before = metric(BASE_A, name)
    req = urllib.request.Request(
        BASE_A + "/hubs/notifications/negotiate?negotiateVersion=1",
        data=b"", method="POST",
        headers={"Authorization": "Bearer condt_not_a_key"})
    try:
        urllib.request.urlopen(req, timeout=5)
        raise Failure("a bad key was accepted")
    except urllib.error.HTTPError as e:
        check(e.code == 401, "a bad key answered %d" % e.code)
    wait_metric(BASE_A, name, lambda v: v == before + 1, 3,
                "the auth failure counted")


def main():
    auth_failure()
    handshake_timeout()
    header_size()
    message_size()
    invoke_rate()
    max_connections()
    connect_rate()
    m = metrics(BASE_A)
    check(m.get("conduit_gateway_broker_link_up") == 1.0, "link down")


if __name__ == "__main__":
    main_guard(main)
