"""Issue 18: the wss data path. Large backend output is encrypted from
where it was read (the frame header in the read buffer's headroom), and
what the socket does not take is queued behind it: the bytes and their
order must come out exactly as through the plain path, also when the
client stops reading for a while."""

import os
import socket
import select
import ssl
import struct
import time

from loadutil import AsyncBackend
from produtil import client_context, tls_open_ws
from test_tls import certs, start_tls  # noqa: F401 (fixture)
from wsutil import build_frame, OP_BINARY, OP_CLOSE

import pytest


@pytest.fixture
def backend():
    b = AsyncBackend()
    yield b
    b.stop()


def parse_frames(data, out):
    """Server frames off the front of data (unmasked); payloads of data
    frames are appended to out. Returns what is left of data."""
    while len(data) >= 2:
        op, n = data[0] & 0x0F, data[1] & 0x7F
        assert data[1] & 0x80 == 0, "server frame masked"
        pos = 2
        if n == 126:
            if len(data) < 4:
                break
            n, pos = struct.unpack(">H", data[2:4])[0], 4
        elif n == 127:
            if len(data) < 10:
                break
            n, pos = struct.unpack(">Q", data[2:10])[0], 10
        if len(data) < pos + n:
            break
        if op == OP_CLOSE:
            raise AssertionError("server closed: %r" % data[pos:pos + n])
        out.append(data[pos:pos + n])
        data = data[pos + n:]
    return data


def pump(conn, payload, want, stall_first, timeout=60):
    """Send payload (masked binary messages), read the echo until want
    bytes came back. With stall_first, send until the socket refuses
    more (the server's output to us is then backed up) before reading."""
    sock = conn.sock
    sock.setblocking(False)
    msgs = [build_frame(OP_BINARY, payload[i:i + 200000], True, True)
            for i in range(0, len(payload), 200000)]
    pending = b"".join(msgs)
    got, stalled = [], not stall_first
    rest = parse_frames(bytes(conn.pending), got)
    deadline = time.monotonic() + timeout
    while sum(len(p) for p in got) < want:
        assert time.monotonic() < deadline, "echo incomplete: %d of %d" % (
            sum(len(p) for p in got), want)
        progressed = False
        if pending:
            try:
                n = sock.send(pending[:65536])
                pending = pending[n:]
                progressed = n > 0
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError,
                    BlockingIOError):
                stalled = True
        else:
            stalled = True
        if stalled:
            try:
                chunk = sock.recv(262144)
                assert chunk, "server closed the connection"
                rest = parse_frames(rest + chunk, got)
                progressed = True
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError,
                    BlockingIOError):
                pass
        if not progressed:
            select.select([sock], [sock] if pending else [], [], 0.5)
    return b"".join(got)


@pytest.mark.parametrize("stall_first", [False, True])
def test_wss_bulk_through_tcp_route(wsbridge, tmp_path, certs, backend,
                                    stall_first):
    routes = ("[route /b]\nconnect = %s\nmode = binary\n"
              "buffer_size = 256K\n" % backend.addr)
    srv = start_tls(wsbridge, tmp_path, certs, routes=routes)
    conn = tls_open_ws(srv.port, client_context(certs.ca), "/b")
    try:
        payload = os.urandom(6 * 1024 * 1024 + 12345)
        echoed = pump(conn, payload, len(payload), stall_first)
        assert len(echoed) == len(payload)
        assert echoed == payload, "echo differs from what was sent"
    finally:
        conn.sock.close()


@pytest.mark.parametrize("version", ["1.3", "1.2"])
def test_aes128_gcm_preferred(wsbridge, tmp_path, certs, version):  # noqa: F811
    """AES-128-GCM costs 0.6 of AES-256-GCM per byte: the server picks it
    over a client's AES-256-GCM first, on TLS 1.3 (TLS_SUITES) and 1.2
    (OpenSSL's DEFAULT put ECDHE-*-AES256-GCM first), while a client that
    puts ChaCha20 first (no AES instructions) still gets it."""
    srv = start_tls(wsbridge, tmp_path, certs)
    tls12 = version == "1.2"
    aes256 = "ECDHE+AESGCM+AES256:ECDHE+AESGCM+AES128:ECDHE+CHACHA20"
    chacha = "ECDHE+CHACHA20:ECDHE+AESGCM+AES256:ECDHE+AESGCM+AES128"
    for offer, want in ((aes256, "AES128-GCM" if tls12 else "AES_128_GCM"),
                        (chacha, "CHACHA20")):
        ctx = client_context(certs.ca)
        if tls12:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers(offer)
        elif offer == chacha:
            continue    # Python cannot order the client's 1.3 suites
        raw = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            name, proto, _ = s.cipher()
        assert proto == ("TLSv1.2" if tls12 else "TLSv1.3")
        assert want in name, (offer, name)
