#!/usr/bin/python3
# A raw WebSocket + SignalR JSON client for the gateway's issue #4 tests
# (t_95..t_97): it says exactly what goes on the wire, so it can send what
# no real client would (bad opcodes, reserved bits, unmasked frames,
# invalid UTF-8, oversize or malformed records) and stop reading on
# purpose (a slow consumer). Imported by issue4gw_*.py; never used for
# well-behaved traffic, which the official client covers.
#
# Every socket operation has a deadline; a failed expectation raises
# Failure, which the scripts turn into "FAIL: ..." and exit status 1.
#
# SPDX-License-Identifier: MIT
import base64
import json
import os
import re
import socket
import struct
import sys
import time
import urllib.request

RS = "\x1e"
KEY_A = os.environ.get("KEY_A", "condt_demotenanta0000000000000000000001")

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA


class Failure(Exception):
    pass


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, file=sys.stderr, flush=True)


def check(cond, what):
    if not cond:
        raise Failure(what)


def gw_port(url):
    """The port of a base URL such as http://127.0.0.1:5000."""
    m = re.match(r"^https?://[^:/]+:(\d+)", url)
    check(m is not None, "not a base URL: %r" % url)
    return int(m.group(1))


def metrics(base, ctx=None):
    """GET /metrics as {name-with-labels: value}."""
    with urllib.request.urlopen(base + "/metrics", timeout=5, context=ctx) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        out[name] = float(value)
    return out


def metric(base, name, ctx=None):
    return metrics(base, ctx).get(name, 0.0)


def wait_metric(base, name, pred, secs, what):
    """Polls /metrics until pred(value) holds; returns the value."""
    deadline = time.monotonic() + secs
    while True:
        v = metric(base, name)
        if pred(v):
            return v
        if time.monotonic() > deadline:
            raise Failure("%s: %s stayed at %g for %g s" % (what, name, v, secs))
        time.sleep(0.05)


class WS:
    """One client connection: HTTP upgrade, WebSocket frames, SignalR
    records. rcvbuf shrinks the receive buffer before connecting (so a
    client that stops reading backs up the server quickly)."""

    def __init__(self, port, path="/hubs/notifications", key=KEY_A,
                 rcvbuf=None, timeout=10.0, host="127.0.0.1"):
        self.port = port
        self.path = path
        self.key = key
        self.host = host
        self.timeout = timeout
        self.buf = b""
        self.records = []   # SignalR records received, parsed
        self.close_code = None
        self.close_reason = None
        self.eof = False
        self.reply_close = True  # answer a close frame, as clients must
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # ---- HTTP ------------------------------------------------------------

    def request(self, extra_headers=None, query=None, raw=None):
        """Sends the upgrade request (or raw bytes); returns the status
        code and the response head (bytes), or (0, b"") if the server
        closed without answering."""
        if raw is None:
            q = query if query is not None else "access_token=" + self.key
            lines = [
                "GET %s?%s HTTP/1.1" % (self.path, q),
                "Host: %s:%d" % (self.host, self.port),
                "Upgrade: websocket",
                "Connection: Upgrade",
                "Sec-WebSocket-Key: "
                + base64.b64encode(os.urandom(16)).decode(),
                "Sec-WebSocket-Version: 13",
            ]
            lines += extra_headers or []
            raw = ("\r\n".join(lines) + "\r\n\r\n").encode()
        try:
            self.sock.sendall(raw)
        except OSError:
            return 0, b""
        deadline = time.monotonic() + self.timeout
        while b"\r\n\r\n" not in self.buf:
            if time.monotonic() > deadline:
                raise Failure("no HTTP answer within %g s" % self.timeout)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            except socket.timeout:
                continue
            if not chunk:
                return 0, self.buf
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        m = re.match(rb"HTTP/1\.[01] (\d+)", head)
        check(m is not None, "not an HTTP answer: %r" % head[:200])
        return int(m.group(1)), head

    def upgrade(self, **kw):
        status, head = self.request(**kw)
        check(status == 101, "upgrade answered %d: %r" % (status, head[:300]))
        return self

    # ---- frames ------------------------------------------------------------

    def send_frame(self, opcode, payload, fin=True, mask=True, rsv=0,
                   mask_key=None):
        if isinstance(payload, str):
            payload = payload.encode()
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        n = len(payload)
        mbit = 0x80 if mask else 0
        if n < 126:
            head = struct.pack("!BB", b0, mbit | n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, mbit | 126, n)
        else:
            head = struct.pack("!BBQ", b0, mbit | 127, n)
        if mask:
            key = mask_key or os.urandom(4)
            # bytes.translate cannot mask; XOR through a big integer
            k = (key * (n // 4 + 1))[:n]
            body = (int.from_bytes(payload, "big")
                    ^ int.from_bytes(k, "big")).to_bytes(n, "big") if n else b""
            head += key
        else:
            body = payload
        self.sock.sendall(head + body)

    def send_text(self, text):
        self.send_frame(OP_TEXT, text)

    def send_record(self, obj):
        self.send_text(json.dumps(obj) + RS)

    def _fill(self, deadline):
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(min(left, 1.0))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if not chunk:
                self.eof = True
                return False
            self.buf += chunk
            return True

    def recv_frame(self, secs=None):
        """The next frame as (opcode, payload), or None at end of stream
        or deadline (self.eof tells which)."""
        deadline = time.monotonic() + (self.timeout if secs is None else secs)
        while True:
            b = self.buf
            if len(b) >= 2:
                n = b[1] & 0x7F
                off = 2
                if n == 126 and len(b) >= 4:
                    n = struct.unpack("!H", b[2:4])[0]
                    off = 4
                elif n == 127 and len(b) >= 10:
                    n = struct.unpack("!Q", b[2:10])[0]
                    off = 10
                if (b[1] & 0x7F) < 126 or off > 2:
                    if len(b) >= off + n:
                        self.buf = b[off + n:]
                        return b[0] & 0x0F, b[off:off + n]
            if not self._fill(deadline):
                return None

    def recv_record(self, secs=None, skip_pings=True):
        """The next SignalR record (a dict), or None when the connection
        ended (a WebSocket close sets close_code) or time ran out."""
        deadline = time.monotonic() + (self.timeout if secs is None else secs)
        while True:
            while self.records:
                r = self.records.pop(0)
                if skip_pings and r.get("type") == 6:
                    continue
                return r
            f = self.recv_frame(max(0.0, deadline - time.monotonic()))
            if f is None:
                return None
            op, payload = f
            if op == OP_CLOSE:
                self._on_close(payload)
                return None
            if op in (OP_TEXT, OP_CONT):
                for part in payload.decode().split(RS):
                    if part:
                        self.records.append(json.loads(part))

    def _on_close(self, payload):
        self.close_code = struct.unpack("!H", payload[:2])[0] \
            if len(payload) >= 2 else 1005
        self.close_reason = payload[2:].decode(errors="replace")
        if not self.reply_close:
            return
        # answer as a compliant client does; the server then closes TCP
        try:
            self.send_frame(OP_CLOSE, payload[:2])
        except OSError:
            pass

    def handshake(self):
        self.send_text('{"protocol":"json","version":1}' + RS)
        r = self.recv_record(skip_pings=False)
        check(r == {}, "handshake answer: %r" % (r,))
        return self

    def wait_end(self, secs):
        """Reads until the server closes; returns (signalr_close_record or
        None, websocket close code or None, seconds waited). Fails if the
        connection is still open after secs."""
        t0 = time.monotonic()
        deadline = t0 + secs
        sclose = None
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("connection still open after %g s" % secs)
            r = self.recv_record(left)
            if r is None:
                if self.close_code is not None or self.eof:
                    took = time.monotonic() - t0
                    # the server ends TCP after the close handshake (or
                    # its own timeout when we do not answer): wait for it
                    while not self.eof and time.monotonic() < deadline:
                        if not self._fill(deadline):
                            break
                    check(self.eof, "no end of stream within %g s after "
                          "the close" % secs)
                    return sclose, self.close_code, took
                continue
            if r.get("type") == 7:
                sclose = r


def connect(port, path="/hubs/notifications", key=KEY_A, **kw):
    """An upgraded, handshaken connection."""
    return WS(port, path, key, **kw).upgrade().handshake()


def main_guard(fn):
    try:
        fn()
    except Failure as e:
        log("FAIL:", e)
        sys.exit(1)
    sys.exit(0)
