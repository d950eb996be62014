"""Hostile clients and backends (issue 7): each misbehaviour gets its exact
status or close code, and none of them crashes wsbridge, wedges its event
loop or disturbs other connections: a healthy echo connection opened first
keeps echoing from a thread throughout every test, and a fresh connection
is served at the end."""

import os
import errno
import select
import socket
import struct
import threading
import time
from contextlib import contextmanager

import pytest

from cfgutil import Backend, start_config, wait_log
from loadutil import quiesce
from wsutil import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,
                    closed_within,
                    alive, build_frame, children, close_payload, connect_tcp,
                    expect_close, fd_count, make_key, open_ws, read_response,
                    recv_frame, recv_message, request_bytes, raw_handshake,
                    rss_kib, send_all_threaded, send_frame, wait_until)

MiB = 1 << 20
RSS_BOUND_KIB = 32 * 1024     # growth allowed while a peer misbehaves
ECHO_TIMEOUT = 3.0            # a healthy round trip slower than this: wedged
GRACE = "300ms"               # close_grace of the process routes

ECHO_ROUTE = "[route /echo]\necho = yes\n"


def start(wsbridge, tmp_path, routes="", server=""):
    srv, _ = start_config(wsbridge, tmp_path, ECHO_ROUTE + routes,
                          server_extra=server)
    return srv


def proc_route(path, script_path, extra=""):
    return ("[route %s]\nexec = %s\nclose_grace = %s\n%s"
            % (path, script_path, GRACE, extra))


# --------------------------------------------------------------------------
# The healthy neighbour
# --------------------------------------------------------------------------

class Healthy:
    """An echo connection that keeps a message in flight every 50 ms from
    a thread of its own, answering the server's pings on the way."""

    PERIOD = 0.05

    def __init__(self, port):
        self.port = port
        self.conn = open_ws(port, "/echo")
        self.count = 0
        self.worst = 0.0
        self.errors = []
        self._stop = threading.Event()
        self.roundtrip("first")
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def roundtrip(self, text):
        t0 = time.monotonic()
        deadline = t0 + ECHO_TIMEOUT
        send_frame(self.conn, OP_TEXT, text)
        while True:
            fin, op, payload = recv_frame(self.conn,
                                          deadline - time.monotonic())
            if op == OP_PING:
                send_frame(self.conn, OP_PONG, payload)
                continue
            assert (fin, op, payload) == (True, OP_TEXT, text.encode()), \
                "healthy connection got %r" % ((fin, op, payload[:80]),)
            break
        self.worst = max(self.worst, time.monotonic() - t0)
        self.count += 1

    def _run(self):
        i = 0
        while not self._stop.wait(self.PERIOD):
            i += 1
            try:
                self.roundtrip("healthy %d" % i)
            except Exception as e:  # noqa: BLE001 - asserted in finish()
                self.errors.append("round trip %d: %r" % (i, e))
                return

    def finish(self):
        """Stop the thread; the connection must have echoed all along and
        still close cleanly; a fresh connection must be served too."""
        self._stop.set()
        self.thread.join(ECHO_TIMEOUT + 2)
        assert not self.errors, "healthy connection failed: %s" % self.errors
        self.roundtrip("last")
        send_frame(self.conn, OP_CLOSE, close_payload(1000))
        assert expect_close(self.conn)[0] == 1000
        fresh = open_ws(self.port, "/echo")
        send_frame(fresh, OP_TEXT, "fresh")
        assert recv_message(fresh) == (OP_TEXT, b"fresh")
        fresh.close()

    def close(self):
        self._stop.set()
        self.thread.join(ECHO_TIMEOUT + 2)
        self.conn.close()


@contextmanager
def healthy_neighbour(srv):
    h = Healthy(srv.port)
    try:
        yield h
        h.finish()
        assert srv.proc.poll() is None, "wsbridge exited"
        print("healthy neighbour: %d round trips, slowest %.3fs"
              % (h.count, h.worst))
    finally:
        h.close()


def rst_close(conn):
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
    conn.close()


def peak_rss(pid, seconds):
    peak = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        peak = max(peak, rss_kib(pid))
        time.sleep(0.05)
    return peak


def flood_until_stalled(conn, limit=256 * MiB, seconds=30):
    """Send 64 KiB binary frames until the socket stays unwritable for a
    second; returns (stalled, bytes sent)."""
    conn.sock.setblocking(False)
    frame = memoryview(build_frame(OP_BINARY, b"\x05" * 65536))
    pending = frame
    sent = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline and sent < limit:
            _, w, _ = select.select([], [conn.sock], [], 1.0)
            if not w:
                return True, sent
            try:
                n = conn.sock.send(pending)
            except BlockingIOError:
                continue
            sent += n
            pending = pending[n:] or frame
        return False, sent
    finally:
        conn.sock.setblocking(True)


# --------------------------------------------------------------------------
# Hostile clients
# --------------------------------------------------------------------------

def test_slowloris_head_closed_at_handshake_timeout(wsbridge, tmp_path):
    srv = start(wsbridge, tmp_path, server="handshake_timeout = 1s\n")
    with healthy_neighbour(srv):
        c = connect_tcp(srv.port)
        t0 = time.monotonic()
        head = (b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
                + b"a" * 200)
        closed, data = False, b""
        for byte in head:
            try:
                c.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            closed, data = closed_within(c.sock, 0.1)
            if closed or time.monotonic() - t0 > 5:
                break
        elapsed = time.monotonic() - t0
        c.close()
        assert closed, "trickling head still open after %.1fs" % elapsed
        assert 0.9 <= elapsed < 4.0, "closed after %.2fs" % elapsed
        # Closed without an answer, or with 408; never a 101.
        assert data == b"" or data.startswith(b"HTTP/1.1 408 "), data[:100]
        wait_log(srv, "handshake timeout")


def test_half_open_client_closed_by_ping_timeout(wsbridge, tmp_path):
    srv = start(wsbridge, tmp_path,
                server="ping_interval = 1s\nping_timeout = 1s\n")
    with healthy_neighbour(srv):
        c = open_ws(srv.port, "/echo")
        t0 = time.monotonic()
        # The client neither reads nor answers from now on.
        wait_log(srv, "no pong within", timeout=8)
        elapsed = time.monotonic() - t0
        assert elapsed >= 1.5, "ping timeout after only %.2fs" % elapsed
        # What did it get meanwhile: pings, then the end of the stream.
        ops = []
        while True:
            try:
                fin, op, payload = recv_frame(c, 3)
            except EOFError:
                break
            ops.append(op)
            if op == OP_CLOSE:
                assert struct.unpack("!H", payload[:2])[0] == 1011, payload
                break
        assert ops and set(ops) <= {OP_PING, OP_CLOSE}, ops
        closed, data = closed_within(c.sock, 3)
        assert closed and data == b"", "half-open client still connected"
        c.close()


def test_client_never_reads_while_process_floods(wsbridge, tmp_path, script):
    flood = script("flood.sh", "echo $$ >&2\nexec cat /dev/zero\n")
    srv = start(wsbridge, tmp_path,
                proc_route("/flood", flood, "mode = binary\n"))
    base = rss_kib(srv.pid)
    with healthy_neighbour(srv):
        c = open_ws(srv.port, "/flood")
        log = wait_log(srv, "stderr: ")
        pid = int(log.split("stderr: ")[-1].split()[0])
        peak = peak_rss(srv.pid, 2.0)
        assert peak - base < RSS_BOUND_KIB, \
            "RSS grew %d KiB while the client read nothing" % (peak - base)
        assert alive(pid), "the flooding process died"
        # A few frames still arrive intact once the client reads.
        for _ in range(8):
            fin, op, payload = recv_frame(c)
            assert op == OP_BINARY and payload == bytes(len(payload))
        rst_close(c)
        wait_until(lambda: not alive(pid), 5, what="flooding process to go")
    wait_until(lambda: not children(srv.pid), 5, what="no children")


def test_ping_flood_answered_in_order_memory_bounded(wsbridge, tmp_path):
    srv = start(wsbridge, tmp_path)
    n = 20000
    with healthy_neighbour(srv):
        base = rss_kib(srv.pid)
        c = open_ws(srv.port, "/echo")
        payloads = [b"%06d" % i + b"p" * 119 for i in range(n)]
        frames = b"".join(build_frame(OP_PING, p) for p in payloads)
        sender, err = send_all_threaded(c, frames)
        # Not reading for a second: either wsbridge buffers the pongs
        # within its limit or it stops reading (the sender then blocks).
        peak = peak_rss(srv.pid, 1.0)
        assert peak - base < RSS_BOUND_KIB, \
            "RSS grew %d KiB under a ping flood" % (peak - base)
        got = []
        deadline = time.monotonic() + 60
        while not got or got[-1] != payloads[-1]:
            fin, op, payload = recv_frame(c, deadline - time.monotonic())
            assert op == OP_PONG, "op %d in reply to pings" % op
            got.append(payload)
        sender.join(10)
        assert not sender.is_alive() and not err, err
        # RFC 6455 5.5.3 lets a server answer only the latest of several
        # pings; what comes back is in order and is what was sent.
        idx = [int(p[:6]) for p in got]
        assert idx == sorted(set(idx)), "pongs out of order or repeated"
        assert all(payloads[i] == p for i, p in zip(idx, got))
        print("ping flood: %d pings, %d pongs, RSS +%d KiB"
              % (n, len(got), peak - base))
        send_frame(c, OP_TEXT, "after the flood")
        assert recv_message(c) == (OP_TEXT, b"after the flood")
        send_frame(c, OP_CLOSE, close_payload(1000))
        assert expect_close(c)[0] == 1000


@pytest.mark.parametrize("headers,why", [
    ([("X-Huge", "a" * 20000)], "request head too large"),
    ([("X-H%d" % i, "b" * 100) for i in range(200)],
     "too many request headers"),
])
def test_huge_header_431(wsbridge, tmp_path, headers, why):
    srv = start(wsbridge, tmp_path)
    with healthy_neighbour(srv):
        c, head, _ = raw_handshake(srv.port, "/echo", headers)
        assert head.status == 431, head
        closed, data = closed_within(c.sock, 3)
        assert closed and data == b"", "connection left open after 431"
        c.close()
        wait_log(srv, "431: " + why)


@pytest.mark.parametrize("length,code,reason", [
    ((1 << 63) - 1, 1009, "message over the size limit"),
    # RFC 6455 5.2: the top bit MUST be 0, a protocol error (issue 13).
    (1 << 63, 1002, "64-bit payload length with the top bit set"),
    ((1 << 64) - 1, 1002, "64-bit payload length with the top bit set"),
])
def test_frame_length_2_63_and_over(wsbridge, tmp_path, length, code,
                                    reason):
    srv = start(wsbridge, tmp_path)
    with healthy_neighbour(srv):
        c = open_ws(srv.port, "/echo")
        c.sendall(struct.pack("!BBQ", 0x82, 0x80 | 127, length)
                  + os.urandom(4) + b"x" * 1000)
        assert expect_close(c) == (code, reason)


def test_continuation_without_start_1002(wsbridge, tmp_path):
    srv = start(wsbridge, tmp_path)
    with healthy_neighbour(srv):
        c = open_ws(srv.port, "/echo")
        send_frame(c, OP_CONT, b"orphan", fin=True)
        assert expect_close(c) == (1002,
                                   "continuation frame without a message")


@pytest.mark.parametrize("route", ["/echo", "/cat"])
def test_invalid_utf8_across_fragments_1007(wsbridge, tmp_path, route):
    srv = start(wsbridge, tmp_path, proc_route("/cat", "cat"))
    with healthy_neighbour(srv):
        c = open_ws(srv.port, route)
        # E2 82 starts a valid 3-byte sequence; 28 cannot continue it.
        send_frame(c, OP_TEXT, b"ok \xe2\x82", fin=False)
        send_frame(c, OP_CONT, b"\x28 rest", fin=True)
        code, reason = expect_close(c, allow_data=True)
        assert (code, reason) == (1007, "invalid UTF-8 in text message")
        # Only the valid prefix may have been relayed.
        relayed = b"".join(p for _, _, p in c.seen)
        assert b"ok \xe2\x82".startswith(relayed), relayed
        c.close()
    wait_until(lambda: not children(srv.pid), 5, what="cat to go")


@pytest.mark.parametrize("garbage", [
    b"GARBAGE\r\n\r\n",                 # 'G' = 0x47: RSV bits set
    b"\x81\x05hello",                   # an unmasked client frame
])
def test_pipelined_garbage_after_upgrade_1002(wsbridge, tmp_path, garbage):
    srv = start(wsbridge, tmp_path)
    with healthy_neighbour(srv):
        c = connect_tcp(srv.port)
        hdrs = [("Host", "127.0.0.1:%d" % srv.port), ("Upgrade", "websocket"),
                ("Connection", "Upgrade"), ("Sec-WebSocket-Key", make_key()),
                ("Sec-WebSocket-Version", "13")]
        # One send, one segment: the head and the garbage together.
        c.sendall(request_bytes("GET", "/echo", hdrs) + garbage)
        head = read_response(c)
        assert head.status == 101, head
        code, _ = expect_close(c)
        assert code == 1002


# --------------------------------------------------------------------------
# Hostile processes
# --------------------------------------------------------------------------

def first_pid(conn):
    op, msg = recv_message(conn)
    assert op == OP_TEXT and msg.startswith(b"pid "), msg
    return int(msg.split()[1])


def test_process_ignoring_sigterm_is_killed(wsbridge, tmp_path, script):
    stubborn = script("stubborn.sh",
                      "trap '' TERM\necho \"pid $$\"\nexec sleep 60\n")
    srv = start(wsbridge, tmp_path, proc_route("/stubborn", stubborn))
    with healthy_neighbour(srv):
        c = open_ws(srv.port, "/stubborn")
        pid = first_pid(c)
        t0 = time.monotonic()
        send_frame(c, OP_CLOSE, close_payload(1000))
        assert expect_close(c) == (1000, "")
        # stdin closed; SIGTERM after close_grace (ignored); SIGKILL after
        # another close_grace.  It cannot be gone before the SIGKILL.
        wait_until(lambda: not alive(pid), 5, 0.01,
                   what="the process ignoring SIGTERM to be killed")
        elapsed = time.monotonic() - t0
        assert elapsed >= 0.55, "gone after %.2fs, before the SIGKILL" \
            % elapsed
        wait_until(lambda: not children(srv.pid), 5, what="reaped")


def test_process_forking_grandchildren_then_exiting(wsbridge, tmp_path,
                                                    script):
    forker = script("forker.sh",
                    "sleep 60 &\necho \"pid $!\"\n"
                    "(sleep 61 >/dev/null 2>&1 </dev/null &\n"
                    " echo \"pid $!\")\n"
                    "exit 0\n")
    srv = start(wsbridge, tmp_path, proc_route("/forker", forker))
    with healthy_neighbour(srv):
        c = open_ws(srv.port, "/forker")
        holding_stdout = first_pid(c)
        detached = first_pid(c)
        # Exit 0 is 1000, once the grandchild holding stdout is gone too.
        assert expect_close(c, timeout=10, reply=True) == (1000, "")
        for pid in (holding_stdout, detached):
            wait_until(lambda: not alive(pid), 5,
                       what="grandchild %d to be killed" % pid)
        wait_until(lambda: not children(srv.pid), 5, what="reaped")


def test_process_closing_stdout_but_running_1011(wsbridge, tmp_path,
                                                  script):
    mute = script("mute.sh", "echo \"pid $$\"\nexec >&-\nexec sleep 60\n")
    srv = start(wsbridge, tmp_path, proc_route("/mute", mute))
    with healthy_neighbour(srv):
        c = open_ws(srv.port, "/mute")
        pid = first_pid(c)
        # stdout EOF -> stdin closed -> SIGTERM after close_grace.
        assert expect_close(c, timeout=10, reply=True) == (1011, "signal 15")
        wait_until(lambda: not alive(pid), 5, what="the mute process to go")
        wait_until(lambda: not children(srv.pid), 5, what="reaped")


STDERR_100MB = ("yes \"$(head -c 65535 /dev/zero | tr '\\0' e)\" "
                "| head -c 100000000 >&2\necho done\n")


def test_process_writing_100mb_to_stderr_finishes_1000(wsbridge, tmp_path,
                                                       script):
    loud = script("loud.sh", STDERR_100MB)
    srv = start(wsbridge, tmp_path, proc_route("/loud", loud))
    with healthy_neighbour(srv):
        c = open_ws(srv.port, "/loud")
        assert recv_message(c, timeout=60) == (OP_TEXT, b"done")
        assert expect_close(c, timeout=10, reply=True) == (1000, "")
        wait_until(lambda: not children(srv.pid), 5, what="reaped")


def test_long_stderr_line_logged_once_cut(wsbridge, tmp_path, script):
    # Issue 7: a stderr line over the cut length is one log line, its
    # first 512 bytes and the marker; not its prefix unmarked and then an
    # empty "stderr:  [line cut]" line when the newline comes.
    long_line = script("long.sh", "head -c 3000 /dev/zero | tr '\\0' e >&2\n"
                       "echo >&2\necho 'short line' >&2\necho done\n")
    srv = start(wsbridge, tmp_path, proc_route("/long", long_line))
    c = open_ws(srv.port, "/long")
    assert recv_message(c) == (OP_TEXT, b"done")
    assert expect_close(c, reply=True) == (1000, "")
    log = wait_log(srv, "stderr: short line")
    lines = [l.split("stderr: ", 1)[1] for l in log.splitlines()
             if "stderr: " in l]
    assert lines == ["e" * 512 + " [line cut]", "short line"], lines


# --------------------------------------------------------------------------
# Hostile TCP backends
# --------------------------------------------------------------------------

def sink_handler(backend, sock):
    """Accept and never read."""
    while not backend._stop:
        time.sleep(0.05)


def test_backend_never_reading_stalls_client_bounded(wsbridge, tmp_path):
    sink = Backend(sink_handler)
    try:
        # A client that vanishes while wsbridge is not reading from it
        # is noticed by keepalive (test_flow.py); 1s keeps this short.
        srv = start(wsbridge, tmp_path,
                    "[route /sink]\nconnect = %s\n" % sink.addr,
                    server="ping_interval = 1s\nping_timeout = 1s\n")
        base_fds = quiesce(srv.pid)
        with healthy_neighbour(srv):
            base = rss_kib(srv.pid)
            c = open_ws(srv.port, "/sink")
            stalled, sent = flood_until_stalled(c)
            assert stalled, "%d MiB sent and no backpressure" % (sent // MiB)
            grown = rss_kib(srv.pid) - base
            print("sink: stalled after %.1f MiB, RSS +%d KiB"
                  % (sent / MiB, grown))
            assert sent < 64 * MiB
            assert grown < RSS_BOUND_KIB, "RSS grew %d KiB" % grown
            rst_close(c)
        # The stuck backend connection is dropped with its client.
        wait_until(lambda: fd_count(srv.pid) <= base_fds, 10,
                   what="descriptors back to %d" % base_fds)
    finally:
        sink.stop()


def backend_reset(backend, sock):
    """Close with an RST (linger 0) and note it."""
    backend.events.append("reset")     # before: the Close may be quicker
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))
    sock.close()


def reset_handler(backend, sock):
    """Read the start of a message, send half an answer, then RST."""
    sock.recv(16)
    sock.sendall(b"r" * 100000)
    backend_reset(backend, sock)


def test_backend_reset_mid_message_1011(wsbridge, tmp_path):
    rb = Backend(reset_handler)
    try:
        srv = start(wsbridge, tmp_path,
                    "[route /reset]\nconnect = %s\n" % rb.addr)
        with healthy_neighbour(srv):
            c = open_ws(srv.port, "/reset")
            # The client is in the middle of a fragmented message.
            send_frame(c, OP_BINARY, b"first half of a message", fin=False)
            code, reason = expect_close(c, timeout=10, reply=True,
                                        allow_data=True)
            assert rb.events == ["reset"]
            assert all(op == OP_BINARY and set(p) <= {ord("r")}
                       for _, op, p in c.seen)
            assert code == 1011, (code, reason)
            # The reason names the error in full (issue 7: a 32-byte
            # buffer in conn_backend_finish() cut it to "...reset by pe").
            assert reason == "backend: " + os.strerror(errno.ECONNRESET)
    finally:
        rb.stop()


def reset_while_reading_handler(backend, sock):
    # Take a little of the client's stream, then reset the connection
    # while wsbridge is still writing to it.
    got = 0
    while got < 300000:
        d = sock.recv(65536)
        if not d:
            break
        got += len(d)
    backend_reset(backend, sock)


def test_backend_reset_while_client_streams_1011(wsbridge, tmp_path):
    # The client's data did not all arrive: the close says so (1011 with
    # the error), it is not a normal 1000.
    rb = Backend(reset_while_reading_handler)
    try:
        srv = start(wsbridge, tmp_path,
                    "[route /reset]\nconnect = %s\n" % rb.addr)
        with healthy_neighbour(srv):
            c = open_ws(srv.port, "/reset")
            chunk = os.urandom(65536)
            code = reason = None
            c.sock.settimeout(10)
            try:
                for _ in range(64):         # 4 MiB at most, bounded
                    send_frame(c, OP_BINARY, chunk)
            except OSError:
                pass                        # the server closed on us
            code, reason = expect_close(c, timeout=10, allow_data=True)
            assert rb.events == ["reset"]
            assert code == 1011, (code, reason)
            assert reason.startswith("backend: "), reason
    finally:
        rb.stop()
