"""A shared session fanned out to several readers and one client that
stops reading (issue 15's fan-out goal): the readers keep getting every
line in order while the stopped one is closed 1008 (slow_client = close)
or skips (slow_client = skip). Every client has big kernel buffers, so the
stopped one absorbs megabytes before it stalls; progress is asserted by
counts and log/metrics events, each wait bounded."""

import re
import socket
import threading
import urllib.request

import pytest

import wsutil
from cfgutil import start_config, wait_log
from wsutil import OP_CLOSE, OP_TEXT, parse_close

# Numbered lines of 1 KB until the session ends (SIGPIPE), at most about
# 2 MB/s: readers in Python keep up with that even on a loaded machine
# (a reader that stalls until its 4 MB are full is rightly too slow), and
# the stopped client still fills its buffers in seconds.
NUMBERED = """#!/bin/sh
exec perl -e 'my $pad = "x" x 1000;
    for (my $i = 0; ; $i++) { printf "%012d %s\\n", $i, $pad;
        select(undef, undef, undef, 0.01) if $i % 20 == 19 }'
"""
LINE = re.compile(rb"^(\d{12}) x{1000}$")
BIG = 4 * 1024 * 1024       # SO_RCVBUF of every client (net.core.rmem_max)
READERS = 3


def open_big(port, path):
    """A client with a big receive buffer; the 101 read byte by byte so
    that nothing after it is taken from the kernel."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BIG)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    key = wsutil.make_key()
    sock.sendall(wsutil.request_bytes("GET", path, [
        ("Host", "127.0.0.1:%d" % port), ("Upgrade", "websocket"),
        ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13")]))
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        b = sock.recv(1)
        assert b, "closed before the 101: %r" % head
        head += b
        assert len(head) < 4096, head
    assert head.startswith(b"HTTP/1.1 101 "), head
    return sock


class Frames:
    """Server frames (unmasked) read in large chunks: (fin, op, payload)."""

    def __init__(self, sock):
        self.sock, self.buf, self.pos = sock, b"", 0

    def _fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError
        self.buf, self.pos = self.buf[self.pos:] + data, 0

    def next(self):
        while True:
            b, p = self.buf, self.pos
            if len(b) - p >= 2:
                n, h = b[p + 1] & 0x7f, 2
                if n == 126:
                    n, h = int.from_bytes(b[p + 2:p + 4], "big"), 4
                elif n == 127:
                    n, h = int.from_bytes(b[p + 2:p + 10], "big"), 10
                if len(b) - p >= h and len(b) - p >= h + n:
                    assert not b[p + 1] & 0x80, "masked server frame"
                    self.pos = p + h + n
                    return bool(b[p] & 0x80), b[p] & 0x0f, \
                        b[p + h:p + h + n]
            self._fill()


def number(payload):
    m = LINE.match(payload)
    assert m, "not a whole line: %r" % payload[:80]
    return int(m.group(1))


class Reader:
    """Reads every line on a thread; each must follow the one before."""

    def __init__(self, sock):
        self.frames, self.count, self.last, self.error = Frames(sock), 0, \
            None, None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            while not self.stop.is_set():
                fin, op, payload = self.frames.next()
                assert fin and op == OP_TEXT, (fin, op, payload[:80])
                n = number(payload)
                assert self.last is None or n == self.last + 1, \
                    "line %d after %d" % (n, self.last)
                self.last = n
                self.count += 1
        except Exception as e:      # reported by finish()
            self.error = e

    def finish(self):
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive()
        assert self.error is None, self.error
        return self.count


def metric(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=10) as r:
        text = r.read().decode()
    key = '%s{route="/f"} ' % name
    for line in text.splitlines():
        if line.startswith(key):
            return int(float(line[len(key):]))
    raise AssertionError("no %s" % name)


@pytest.mark.serial
@pytest.mark.parametrize("slow", ["close", "skip"])
def test_stopped_client_does_not_hold_the_readers(wsbridge, tmp_path, script,
                                                  slow):
    prog = script("numbered.sh", NUMBERED)
    # close_timeout: the stopped client's Close waits behind its queue
    # until the test reads it.
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /f]\nexec = %s\nshare = route\n"
                          "slow_client = %s\n" % (prog, slow),
                          server_extra="metrics_path = /metrics\n"
                          "close_timeout = 2m\n")
    socks = [open_big(srv.port, "/f") for _ in range(READERS)]
    readers = [Reader(s) for s in socks]
    stopped = open_big(srv.port, "/f")
    # The stopped client's kernel buffers and its queue fill (megabytes),
    # then it no longer paces the session: closed or skipping.
    if slow == "close":
        wait_log(srv, "fell behind", timeout=60)
    else:
        wsutil.wait_until(lambda: metric(srv.port,
                                         "wsbridge_skipped_bytes_total") > 0,
                          60, what="output skipped for the stopped client")
    # The readers go on: each gets 4 MB more, every line in order.
    before = [r.count for r in readers]
    for r, b in zip(readers, before):
        wsutil.wait_until(lambda: r.count >= b + 4000 or r.error, 60,
                          what="4000 more lines for every reader")
        assert r.error is None, r.error
    # Counted while the readers still read: once they stop, they too
    # fall behind and are closed (or skip), as they should.
    closed = metric(srv.port, "wsbridge_slow_clients_closed_total")
    assert all(r.error is None for r in readers)
    counts = [r.finish() for r in readers]
    assert min(counts) > 4000, counts
    frames = Frames(stopped)
    got, last, gaps = 0, None, 0
    if slow == "close":
        assert closed == 1, closed
        # It gets whole lines in order up to where it fell behind, then
        # Close 1008 "too slow".
        while True:
            fin, op, payload = frames.next()
            if op == OP_CLOSE:
                assert parse_close(payload) == (1008, "too slow")
                break
            assert fin and op == OP_TEXT, (fin, op)
            n = number(payload)
            assert last is None or n == last + 1, (n, last)
            last, got = n, got + 1
        # More than buffer_size (256K) of 1 KB lines: the kernel held
        # some of it before the session left it out.
        assert got > 256, got
        assert "fell behind" in srv.log()
    else:
        # Skipping: whole lines, ascending, with at least one gap where
        # output was skipped, and it stays connected (lines after it).
        while gaps == 0 or got < 100:
            assert got < 10 ** 6, "no gap in %d lines" % got
            fin, op, payload = frames.next()
            assert fin and op == OP_TEXT, (fin, op, payload[:80])
            n = number(payload)
            assert last is None or n > last, (n, last)
            if last is not None and n > last + 1:
                gaps, got = gaps + 1, 0
            last, got = n, got + 1
        assert "fell behind" not in srv.log()
        assert closed == 0, closed
    for s in socks + [stopped]:
        s.close()


# Waits for one input line, then 3000 numbered lines (bursts of many lines
# per read), then exits: the session ends with 1000.
BURST = """#!/bin/sh
read go
exec perl -e 'for (my $i = 0; $i < 3000; $i++) { printf "%05d %s\\n", $i,
    "y" x ($i % 300) }'
"""


def collect(target):
    """Run target on a thread; the returned list gets its result."""
    out = []
    t = threading.Thread(target=lambda: out.append(target()), daemon=True)
    t.start()
    return t, out


def ws_lines(conn):
    """Text messages up to the Close, and the Close's code."""
    got = []
    while True:
        fin, op, payload = wsutil.recv_frame(conn, timeout=20)
        if op == 9:         # a ping, when the machine is slow
            continue
        if op == OP_CLOSE:
            return got, parse_close(payload)[0]
        assert fin and op == OP_TEXT, (fin, op)
        got.append(payload.decode())


def test_members_on_different_wires_get_the_same_lines(wsbridge, tmp_path,
                                                       script):
    # A read's lines are encoded once for the plain WebSocket members; a
    # compressed one and an event stream get them one by one, in order.
    from test_sse import parse_events, sse_get
    prog = script("burst.sh", BURST)
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /f]\nexec = %s\nshare = route\n"
                          "compression = yes\n"
                          "transports = websocket, sse\n" % prog)
    plain = [wsutil.open_ws(srv.port, "/f") for _ in range(2)]
    sse, head = sse_get(srv.port, "/f")
    assert head.status == 200, head
    threads = [collect(lambda c=c: ws_lines(c)) for c in plain]
    threads.append(collect(lambda: sse.recv_to_eof(timeout=20)))
    # The compressed client joins last and starts the output.
    s = wsutil.ws_session("ws://127.0.0.1:%d/f" % srv.port, send=["go"],
                          timeout=30, compression="deflate")
    assert s.response_headers.get("Sec-WebSocket-Extensions",
                                  "").startswith("permessage-deflate")
    want = ["%05d %s" % (i, "y" * (i % 300)) for i in range(3000)]
    assert s.messages == want
    assert s.code == 1000
    for t, out in threads:
        t.join(30)
        assert not t.is_alive()
        assert len(out) == 1
    for t, out in threads[:2]:
        assert out[0] == (want, 1000)
    events = [e[1] for e in parse_events(threads[2][1][0])
              if e[0] == "message"]
    assert events == want
    for c in plain + [sse]:
        c.close()
