"""Issue 3: TCP and unix-socket backends (SPEC 3 "Socket"): the backend is
connected before the 101 (502 when refused or timed out), binary and text
modes, EOF both ways, bounded buffering, subprotocol echo.  The backends
are small threaded servers the tests run themselves."""

import hashlib
import os
import socket
import time

import pytest

from conftest import free_port
import cfgutil
import shared
from cfgutil import start_config, Backend, echo_handler
import wsutil
from wsutil import (raw_handshake, open_ws, recv_message, send_frame,
                    expect_close, ws_session, total_len, count, wait_until,
                    OP_TEXT, OP_BINARY, OP_CLOSE, close_payload)


@pytest.fixture
def backends():
    made = []

    def make(handler=echo_handler, **kw):
        b = Backend(handler, **kw)
        made.append(b)
        return b
    yield make
    for b in made:
        b.stop()


def unix_path(tmp_path, name="backend.sock"):
    return cfgutil.unix_path(tmp_path, name)


def close_cleanly(conn):
    send_frame(conn, OP_CLOSE, close_payload(1000))
    code, _ = expect_close(conn, allow_data=True)
    assert code == 1000


# --------------------------------------------------------------------------
# Echo through the backend
# --------------------------------------------------------------------------

def test_tcp_binary_echo(wsbridge, tmp_path, backends):
    b = backends()
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /tcp]\nconnect = %s\n" % b.addr)
    conn = open_ws(srv.port, "/tcp")
    try:
        send_frame(conn, OP_BINARY, b"\x00\x01binary\xff")
        op, payload = recv_message(conn)
        assert (op, payload) == (OP_BINARY, b"\x00\x01binary\xff")
        # A text message from the client is relayed as bytes; the reply is
        # binary (binary mode is the default for connect).
        send_frame(conn, OP_TEXT, "text")
        op, payload = recv_message(conn)
        assert (op, payload) == (OP_BINARY, b"text")
        close_cleanly(conn)
    finally:
        conn.close()


def test_tcp_text_mode_lines(wsbridge, tmp_path, backends):
    b = backends()
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /t]\nconnect = %s\nmode = text\n" % b.addr)
    s = ws_session(srv.url("/t"), ["hello", "wörld", ""], done=count(3))
    assert s.messages == ["hello", "wörld", ""], s.messages


def test_tcp_text_mode_splits_backend_output(wsbridge, tmp_path, backends):
    def handler(backend, c):
        c.sendall(b"one\ntwo\r\nthr")
        c.sendall(b"ee\nlast-without-newline")
        c.shutdown(socket.SHUT_WR)
        c.recv(1)
        c.close()
    b = backends(handler)
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /t]\nconnect = %s\nmode = text\n" % b.addr)
    s = ws_session(srv.url("/t"))
    assert s.messages == ["one", "two", "three", "last-without-newline"]
    assert s.code == 1000


def test_unix_socket_echo(wsbridge, tmp_path, backends):
    path = unix_path(tmp_path)
    b = backends(family=socket.AF_UNIX, path=path)
    try:
        srv, _ = start_config(wsbridge, tmp_path,
                              "[route /u]\nconnect = unix:%s\n" % path)
        s = ws_session(srv.url("/u"), [b"over unix"], done=count(1))
        assert s.messages == [b"over unix"]
    finally:
        if path.startswith("/tmp/wsb-"):
            os.unlink(path)


def test_websockify_command_line(wsbridge, backends):
    b = backends()
    srv = wsbridge("--connect", b.addr)
    s = ws_session(srv.url("/anything"), [b"vnc bytes"], done=count(1))
    assert s.messages == [b"vnc bytes"]


def test_websockify_command_line_unix(wsbridge, tmp_path, backends):
    path = unix_path(tmp_path, "cli.sock")
    b = backends(family=socket.AF_UNIX, path=path)
    try:
        srv = wsbridge("--connect", "unix:" + path)
        s = ws_session(srv.url("/"), [b"abc"], done=count(1))
        assert s.messages == [b"abc"]
    finally:
        if path.startswith("/tmp/wsb-"):
            os.unlink(path)


# --------------------------------------------------------------------------
# 502 before the 101
# --------------------------------------------------------------------------

def test_refused_is_502(wsbridge, tmp_path):
    dead = free_port()          # nothing listens there
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /r]\nconnect = 127.0.0.1:%d\n" % dead)
    conn, head, _ = raw_handshake(srv.port, "/r")
    try:
        assert head.status == 502, head
        assert head.header("sec-websocket-accept") is None
    finally:
        conn.close()
    # The server is still fine afterwards.
    conn, head, _ = raw_handshake(srv.port, "/r")
    conn.close()
    assert head.status == 502


def test_unix_missing_is_502(wsbridge, tmp_path):
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /r]\nconnect = unix:%s\n"
                          % (tmp_path / "nobody.sock"))
    conn, head, _ = raw_handshake(srv.port, "/r")
    conn.close()
    assert head.status == 502, head


def fill_accept_queue(listener_port, limit=64):
    """Connect to a backlog-0 listener that never accepts until a SYN goes
    unanswered; return the sockets (the caller closes them)."""
    socks = []
    for _ in range(limit):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", listener_port))
        except BlockingIOError:
            pass
        socks.append(s)
        import select
        _, w, _ = select.select([], [s], [], 0.3)
        if not w:
            return socks        # this SYN was dropped: the queue is full
    raise AssertionError("accept queue never filled")


def test_connect_timeout_is_502(wsbridge, tmp_path):
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(0)
    port = hole.getsockname()[1]
    socks = fill_accept_queue(port)
    try:
        srv, _ = start_config(wsbridge, tmp_path,
                              "[route /slow]\nconnect = 127.0.0.1:%d\n"
                              "connect_timeout = 500ms\n" % port)
        t0 = time.monotonic()
        conn, head, _ = raw_handshake(srv.port, "/slow", timeout=10)
        elapsed = time.monotonic() - t0
        conn.close()
        assert head.status == 502, head
        assert 0.4 <= elapsed <= 2.5, "502 after %.2fs, connect_timeout " \
            "500ms" % elapsed
    finally:
        for s in socks:
            s.close()
        hole.close()


# --------------------------------------------------------------------------
# EOF both ways
# --------------------------------------------------------------------------

def test_backend_eof_flushes_then_close_1000(wsbridge, tmp_path, backends):
    blob = os.urandom(300000)

    def handler(backend, c):
        c.sendall(b"first")
        c.sendall(blob)
        c.shutdown(socket.SHUT_WR)
        c.close()
    b = backends(handler)
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /e]\nconnect = %s\n" % b.addr)
    conn = open_ws(srv.port, "/e")
    try:
        code, _ = expect_close(conn, timeout=10, reply=True, allow_data=True)
        got = b"".join(p for _, op, p in conn.seen)
        assert all(op in (OP_BINARY, 0) for _, op, _ in conn.seen)
        assert got == b"first" + blob
        assert code == 1000
    finally:
        conn.close()


def test_client_close_shuts_backend_write_side(wsbridge, tmp_path, backends):
    b = backends()
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /e]\nconnect = %s\n" % b.addr)
    conn = open_ws(srv.port, "/e")
    try:
        send_frame(conn, OP_BINARY, b"x")
        assert recv_message(conn) == (OP_BINARY, b"x")
        close_cleanly(conn)
    finally:
        conn.close()
    # The backend reads EOF (a shutdown, not a reset).
    wait_until(lambda: b.events, 5, what="backend EOF")
    assert b.events == ["eof"], (b.events, b.errors)
    assert b.errors == []


def test_client_vanishing_closes_backend(wsbridge, tmp_path, backends):
    b = backends()
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /e]\nconnect = %s\n" % b.addr)
    conn = open_ws(srv.port, "/e")
    send_frame(conn, OP_BINARY, b"x")
    assert recv_message(conn) == (OP_BINARY, b"x")
    conn.close()                # no Close frame
    wait_until(lambda: b.events or b.errors, 10, what="backend EOF")
    assert b.events == ["eof"] or b.errors, (b.events, b.errors)


# --------------------------------------------------------------------------
# Volume and flow control
# --------------------------------------------------------------------------

def test_one_mib_each_way(wsbridge, tmp_path, backends):
    received = []

    def handler(backend, c):
        # Read 1 MiB from the client, hash it, then send back a different
        # 1 MiB and close.
        h = hashlib.sha256()
        n = 0
        while n < (1 << 20):
            d = c.recv(65536)
            if not d:
                break
            h.update(d)
            n += len(d)
        received.append((n, h.hexdigest()))
        c.sendall(out_blob)
        c.shutdown(socket.SHUT_WR)
        c.recv(1)
        c.close()
    in_blob = os.urandom(1 << 20)
    out_blob = os.urandom(1 << 20)
    b = backends(handler)
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /big]\nconnect = %s\n" % b.addr)
    chunks = [in_blob[i:i + 65536] for i in range(0, len(in_blob), 65536)]
    s = ws_session(srv.url("/big"), chunks, timeout=30)
    assert received == [(1 << 20, hashlib.sha256(in_blob).hexdigest())]
    assert b"".join(s.messages) == out_blob
    assert s.code == 1000


def test_one_mib_echo(wsbridge, tmp_path, backends):
    b = backends()
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /big]\nconnect = %s\n" % b.addr)
    blob = os.urandom(1 << 20)
    chunks = [blob[i:i + 32768] for i in range(0, len(blob), 32768)]
    s = ws_session(srv.url("/big"), chunks, done=total_len(len(blob)),
                   timeout=30)
    assert b"".join(s.messages) == blob


@pytest.mark.parametrize("buffer_size", ["4K", "1M"])
def test_large_message_through_buffer_sizes(wsbridge, tmp_path, backends,
                                            buffer_size):
    # Socket reads follow buffer_size (clamped to 16K..1M) and big chunks
    # are written without a copy: 8 MiB in one frame comes back intact
    # and in order either way.
    b = backends()
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /bulk]\nconnect = %s\nbuffer_size = %s\n"
                          "max_message_size = 16M\n" % (b.addr, buffer_size))
    blob = os.urandom(8 << 20)
    s = ws_session(srv.url("/bulk"), [blob], done=total_len(len(blob)),
                   timeout=60)
    got = b"".join(s.messages)
    assert len(got) == len(blob)
    assert got == blob


FLOOD = 50 << 20
PATTERN = bytes(range(256)) * 256        # 64 KiB


@pytest.mark.parametrize("buffer_size", ["256K", "1M"])
def test_slow_client_fast_backend_bounded(wsbridge, tmp_path, backends,
                                          buffer_size):
    sent = [0]

    def handler(backend, c):
        try:
            while sent[0] < FLOOD:
                c.sendall(PATTERN)
                sent[0] += len(PATTERN)
        except OSError:
            pass
    b = backends(handler)
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /flood]\nconnect = %s\nbuffer_size = %s\n"
                          % (b.addr, buffer_size))
    base = wsutil.rss_kib(srv.pid)

    # A client with a small receive window that reads nothing.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", srv.port))
    conn = wsutil.RawConn(sock)
    key = wsutil.make_key()
    conn.sendall(wsutil.request_bytes("GET", "/flood", [
        ("Host", "127.0.0.1:%d" % srv.port), ("Upgrade", "websocket"),
        ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13")]))
    head = wsutil.read_response(conn)
    assert head.status == 101, head
    try:
        # Wait until the backend's sends stall: no progress for 1s.
        deadline = time.monotonic() + 30
        last, since = -1, time.monotonic()
        peak = base
        while time.monotonic() < deadline:
            peak = max(peak, wsutil.rss_kib(srv.pid))
            if sent[0] != last:
                last, since = sent[0], time.monotonic()
            elif time.monotonic() - since >= 1.0:
                break
            time.sleep(0.05)
        assert sent[0] < FLOOD, "backend sent all %d bytes: no backpressure" \
            % FLOOD
        assert time.monotonic() < deadline, "backend never stalled"
        grown = peak - base
        assert grown < 40 * 1024, "wsbridge RSS grew by %d KiB" % grown
        # The data that did get through is intact and in order.
        got = bytearray()
        while len(got) < (1 << 20):
            op, payload = recv_message(conn, timeout=10)
            assert op == OP_BINARY
            got += payload
        want = (PATTERN * (len(got) // len(PATTERN) + 1))[:len(got)]
        assert bytes(got) == want
    finally:
        conn.close()


# --------------------------------------------------------------------------
# Subprotocols
# --------------------------------------------------------------------------

# The subprotocol tests only open connections of their own (each its own
# backend connection): one server and one echo backend for the module
# (shared.py).
@pytest.fixture(scope="module")
def proto_m(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("proto")
    b = Backend(echo_handler)
    try:
        with shared.servers(tmp_path) as start:
            yield start_proto(start, tmp_path, b)
    finally:
        b.stop()


@pytest.fixture
def proto_srv(proto_m, request):
    with shared.window(proto_m, request) as srv:
        yield srv


def start_proto(wsbridge, tmp_path, b):
    srv, _ = start_config(wsbridge, tmp_path, """
[route /p]
connect = {a}
protocols = binary, base64

[route /req]
connect = {a}
protocols = binary
require_protocol = yes
""".format(a=b.addr))
    return srv


@pytest.mark.parametrize("offer,chosen", [
    ("base64, binary", "base64"),
    ("binary, base64", "binary"),
    ("chat, base64", "base64"),
    ("chat", None),
])
def test_subprotocol_first_client_offer(proto_srv, offer, chosen):
    conn, head, _ = raw_handshake(proto_srv.port, "/p",
                                  {"Sec-WebSocket-Protocol": offer})
    conn.close()
    assert head.status == 101, head
    assert head.header("sec-websocket-protocol") == chosen, head


def test_subprotocol_split_over_headers(proto_srv):
    conn, head, _ = raw_handshake(proto_srv.port, "/p", [
        ("Sec-WebSocket-Protocol", "chat"),
        ("Sec-WebSocket-Protocol", "base64")])
    conn.close()
    assert head.status == 101, head
    assert head.header("sec-websocket-protocol") == "base64", head


def test_no_offer_no_header(proto_srv):
    conn, head, _ = raw_handshake(proto_srv.port, "/p")
    conn.close()
    assert head.status == 101, head
    assert head.header("sec-websocket-protocol") is None, head


def test_websockets_client_gets_subprotocol(proto_srv):
    import asyncio
    import websockets

    async def go():
        async with websockets.connect(
                proto_srv.url("/p"), subprotocols=["base64", "binary"],
                open_timeout=5, close_timeout=5) as ws:
            # base64 chosen: "z" travels as its base64 text both ways.
            await ws.send("eg==")
            reply = await asyncio.wait_for(ws.recv(), 5)
            return ws.subprotocol, reply
    assert asyncio.run(go()) == ("base64", "eg==")


@pytest.mark.parametrize("offer", [None, "chat"])
def test_require_protocol_without_match_is_400(proto_srv, offer):
    hdrs = {"Sec-WebSocket-Protocol": offer} if offer else None
    conn, head, _ = raw_handshake(proto_srv.port, "/req", hdrs)
    conn.close()
    assert head.status == 400, head


def test_require_protocol_with_match(proto_srv):
    conn, head, _ = raw_handshake(proto_srv.port, "/req",
                                  {"Sec-WebSocket-Protocol": "binary"})
    conn.close()
    assert head.status == 101, head
    assert head.header("sec-websocket-protocol") == "binary"


def test_base64_protocol_relays_base64_text(proto_srv):
    # websockify's "base64": the client sends base64 text, the backend
    # gets the bytes; its bytes come back as base64 text messages.
    import base64
    blob = os.urandom(70000)
    enc = base64.b64encode(blob).decode()
    c, head, _ = wsutil.raw_handshake(
        proto_srv.port, "/p", {"Sec-WebSocket-Protocol": "base64"})
    assert head.status == 101
    assert head.header("sec-websocket-protocol") == "base64"
    # One message in three fragments cut inside base64 groups.
    send_frame(c, OP_TEXT, enc[:5], fin=False)
    send_frame(c, wsutil.OP_CONT, enc[5:40001], fin=False)
    send_frame(c, wsutil.OP_CONT, enc[40001:], fin=True)
    got = b""
    while len(got) < len(blob):
        op, payload = recv_message(c)
        assert op == OP_TEXT
        got += base64.b64decode(payload, validate=True)
    assert got == blob
    # Not base64: 1007.
    send_frame(c, OP_TEXT, "not base64!")
    code, _ = expect_close(c, allow_data=True)
    assert code == 1007
    c.close()


def test_binary_protocol_stays_binary(proto_srv):
    c, head, _ = wsutil.raw_handshake(
        proto_srv.port, "/p", {"Sec-WebSocket-Protocol": "binary"})
    assert head.header("sec-websocket-protocol") == "binary"
    send_frame(c, OP_BINARY, b"\x00raw\xff")
    assert recv_message(c) == (OP_BINARY, b"\x00raw\xff")
    c.close()
