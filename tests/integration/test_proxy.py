"""Issue 4: behind load balancers (SPEC 7). PROXY protocol v1/v2
listeners (HAProxy's doc/proxy-protocol.txt), X-Forwarded-For and
Forwarded from trusted proxies only, and send_proxy toward a TCP backend
the test runs. The addresses in the headers are only bytes: no traffic
goes to them; everything runs on 127.0.0.1."""

import socket
import struct
import time

import pytest

from conftest import free_port
from cfgutil import Backend, start_config, write_config
import produtil
from produtil import env_script, proxy_v1, proxy_v2, raw_env
import shared
import wsutil
from wsutil import (read_response, request_bytes, make_key, accept_for,
                    send_frame, recv_message, expect_close, close_payload,
                    RawConn, OP_BINARY, OP_TEXT, OP_CLOSE)


def upgrade_bytes(port, path, headers=()):
    key = make_key()
    hdrs = [("Host", "127.0.0.1:%d" % port), ("Upgrade", "websocket"),
            ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key),
            ("Sec-WebSocket-Version", "13")] + list(headers)
    return request_bytes("GET", path, hdrs), key


def start_pp(wsbridge, tmp_path, routes, server_extra="", tls=None):
    """A listener with proxy_protocol; srv.port is it."""
    port = free_port()
    body = ("[server]\nlisten = 127.0.0.1:%d proxy_protocol\n%s\n"
            % (port, server_extra))
    if tls is not None:
        body += tls
    path = write_config(tmp_path, body + routes)
    return wsbridge("-c", str(path), port=port, listen_args=False)


# The PROXY listener tests only open connections of their own: one
# server for the module (shared.py); pp.log() is the test's part.
@pytest.fixture(scope="module")
def pp_m(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("pp")
    env_sh = env_script(shared.script_maker(tmp_path))
    with shared.servers(tmp_path) as start:
        yield start_pp(start, tmp_path,
                       "[route /env]\nexec = %s\n[route /echo]\necho = yes\n"
                       % env_sh, "handshake_timeout = 1s\n")


@pytest.fixture
def pp(pp_m, request):
    with shared.window(pp_m, request) as srv:
        yield srv


def env_after(port, chunks):
    """Send chunks (the last one followed by an upgrade to /env) on one
    connection; return the process environment."""
    conn = wsutil.connect_tcp(port)
    try:
        req, key = upgrade_bytes(port, "/env")
        chunks = list(chunks)
        chunks[-1] += req
        for i, c in enumerate(chunks):
            if i:
                time.sleep(0.05)    # separate segments, not synchronisation
            conn.sendall(c)
        head = read_response(conn)
        assert head.status == 101, head
        assert head.header("sec-websocket-accept") == accept_for(key)
        return raw_env(conn)
    finally:
        conn.close()


# --------------------------------------------------------------------------
# PROXY protocol listeners
# --------------------------------------------------------------------------


def test_proxy_v1_tcp4(pp):
    env = env_after(pp.port, [proxy_v1("203.0.113.7", "127.0.0.1", 5555,
                                       80)])
    assert env.get("REMOTE_ADDR") == "203.0.113.7", env
    assert env.get("REMOTE_PORT") == "5555", env


def test_proxy_v1_tcp6(pp):
    env = env_after(pp.port, [proxy_v1("2001:db8::5", "2001:db8::80", 4444,
                                       443, "TCP6")])
    assert env.get("REMOTE_ADDR") == "2001:db8::5", env
    assert env.get("REMOTE_PORT") == "4444", env


def test_proxy_v1_unknown_uses_socket_address(pp):
    env = env_after(pp.port, [b"PROXY UNKNOWN\r\n"])
    assert env.get("REMOTE_ADDR") == "127.0.0.1", env


@pytest.mark.parametrize("src,dst", [("203.0.113.8", "127.0.0.1"),
                                     ("2001:db8::1", "2001:db8::2")],
                         ids=["ipv4", "ipv6"])
def test_proxy_v2(pp, src, dst):
    env = env_after(pp.port, [proxy_v2(src, dst, 40000, 443)])
    assert env.get("REMOTE_ADDR") == src, env
    assert env.get("REMOTE_PORT") == "40000", env


def test_proxy_v2_with_tlvs(pp):
    # PP2_TYPE_AUTHORITY and PP2_TYPE_NOOP: skipped, not misread.
    tlvs = (b"\x02" + struct.pack("!H", 11) + b"example.com"
            + b"\x04" + struct.pack("!H", 3) + b"\x00\x00\x00")
    env = env_after(pp.port, [proxy_v2("198.51.100.2", "127.0.0.1", 1234,
                                       80, tlvs)])
    assert env.get("REMOTE_ADDR") == "198.51.100.2", env
    assert env.get("REMOTE_PORT") == "1234", env


def test_proxy_v2_local_uses_socket_address(pp):
    # LOCAL (a health check of the proxy itself): the real peer.
    hdr = proxy_v2("198.51.100.3", "127.0.0.1", 1, 2, command=0x0)
    env = env_after(pp.port, [hdr])
    assert env.get("REMOTE_ADDR") == "127.0.0.1", env


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_proxy_header_split_over_sends(pp, version):
    if version == "v1":
        hdr = proxy_v1("203.0.113.9", "127.0.0.1", 6001, 80)
        cuts = [3, 6, 20, len(hdr) - 1]
    else:
        hdr = proxy_v2("203.0.113.9", "127.0.0.1", 6001, 80)
        cuts = [5, 12, 15, 16, 22]
    chunks, prev = [], 0
    for c in cuts + [len(hdr)]:
        chunks.append(hdr[prev:c])
        prev = c
    env = env_after(pp.port, chunks)
    assert env.get("REMOTE_ADDR") == "203.0.113.9", env
    assert env.get("REMOTE_PORT") == "6001", env


def test_proxy_header_and_request_in_one_segment(pp):
    """The HTTP request right behind the header is not lost (the header
    reader must not swallow it)."""
    hdr = proxy_v2("203.0.113.10", "127.0.0.1", 7, 80)
    req, key = upgrade_bytes(pp.port, "/echo")
    conn = wsutil.connect_tcp(pp.port)
    try:
        frame = wsutil.build_frame(OP_TEXT, b"right behind")
        conn.sendall(hdr + req + frame)
        head = read_response(conn)
        assert head.status == 101, head
        assert recv_message(conn) == (OP_TEXT, b"right behind")
    finally:
        conn.close()


@pytest.mark.parametrize("partial", [
    b"PROXY TCP4 203.0.113.7 127.0.0.1 5555",     # no CRLF yet
    b"PROXY ",
    b"\r\n\r\n\x00\r\n",                            # half a v2 signature
    proxy_v2("203.0.113.7", "127.0.0.1", 5555, 80)[:20],
], ids=["v1-no-crlf", "v1-word", "v2-half-signature", "v2-short-address"])
def test_proxy_truncated_waits_then_times_out(pp, partial):
    conn = wsutil.connect_tcp(pp.port)
    try:
        t0 = time.monotonic()
        conn.sendall(partial)
        # Still waiting for the rest: nothing is answered, nothing
        # guessed...
        with pytest.raises(TimeoutError):
            conn.recv_exact(1, timeout=0.3)
        # ... until handshake_timeout (1s) closes it.
        data = conn.recv_to_eof(timeout=5)
        elapsed = time.monotonic() - t0
    finally:
        conn.close()
    assert data == b"", data
    assert 0.8 <= elapsed < 5, elapsed
    assert pp.proc.poll() is None


@pytest.mark.parametrize("garbage", [
    None,                                           # a plain upgrade
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"PROXY TCP4 203.0.113.7 127.0.0.1 99999 80\r\n",
    b"PROXY TCP4 not.an.ip 127.0.0.1 5555 80\r\n",
    b"PROXY TCP9 203.0.113.7 127.0.0.1 5555 80\r\n",
    b"PROXY TCP4 203.0.113.7 127.0.0.1 5555 80\n",  # LF only
    b"PROXY " + b"A" * 200 + b"\r\n",               # longer than 107
    b"\r\n\r\n\x00\r\nQUIT\n\x11\x11\x00\x0c" + b"\x00" * 12,  # version 1
    b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x04" + b"\x00" * 4,   # short body
    b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\xff\xff",      # huge length
    b"\x16\x03\x01\x00\x05hello",                   # TLS, no header
], ids=["plain-upgrade", "plain-get", "bad-port", "bad-address",
        "bad-family", "lf-only", "too-long", "v2-version-1", "v2-short-body",
        "v2-huge-length", "tls-hello"])
def test_proxy_garbage_closed_without_response(pp, garbage):
    conn = wsutil.connect_tcp(pp.port)
    try:
        if garbage is None:
            garbage, _ = upgrade_bytes(pp.port, "/echo")
        try:
            conn.sendall(garbage)
        except ConnectionError:
            pass
        data = conn.recv_to_eof(timeout=5)
    finally:
        conn.close()
    assert data == b"", "answered a connection without a PROXY header: %r" \
        % data[:200]
    # Closed for the bad header, not by the 1s handshake timeout (the log
    # says which, so a loaded machine cannot blur the two).
    assert "handshake timeout" not in pp.log(), pp.log()[-2000:]
    assert "PROXY header" in pp.log(), pp.log()[-2000:]
    assert pp.proc.poll() is None
    # The listener still serves proper clients.
    env = env_after(pp.port, [proxy_v1("203.0.113.7", "127.0.0.1", 5555,
                                       80)])
    assert env.get("REMOTE_ADDR") == "203.0.113.7"


def test_proxy_protocol_on_tls_listener(wsbridge, tmp_path, script):
    certs = produtil.Certs(tmp_path)
    cert, key = certs.issue("server", "/CN=localhost",
                            "DNS:localhost,IP:127.0.0.1")
    env_sh = env_script(script)
    plain, port = free_port(), free_port()
    path = write_config(tmp_path, (
        "[server]\nlisten = 127.0.0.1:%d\n"
        "[tls]\nlisten = 127.0.0.1:%d proxy_protocol\ncert = %s\nkey = %s\n"
        "[route /env]\nexec = %s\n" % (plain, port, cert, key, env_sh)))
    wsbridge("-c", str(path), port=port, listen_args=False)
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    raw.sendall(proxy_v2("2001:db8::42", "2001:db8::1", 5151, 443))
    ctx = produtil.client_context(certs.ca)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    conn = RawConn(s)
    try:
        req, key_ = upgrade_bytes(port, "/env")
        conn.sendall(req)
        head = read_response(conn)
        assert head.status == 101, head
        env = raw_env(conn)
    finally:
        conn.close()
    assert env.get("REMOTE_ADDR") == "2001:db8::42", env
    assert env.get("REMOTE_PORT") == "5151", env
    assert env.get("HTTPS") == "on", env


# --------------------------------------------------------------------------
# X-Forwarded-For and Forwarded
# --------------------------------------------------------------------------


def xff_server(wsbridge, tmp_path, script, trusted):
    env_sh = env_script(script)
    extra = "trusted_proxies = %s\n" % trusted if trusted else ""
    srv, _ = start_config(wsbridge, tmp_path, "[route /env]\nexec = %s\n"
                          % env_sh, server_extra=extra)
    return srv


def env_with(port, headers):
    conn, head, _ = wsutil.raw_handshake(port, "/env", headers)
    try:
        assert head.status == 101, head
        return raw_env(conn)
    finally:
        conn.close()


def test_xff_from_trusted_peer(wsbridge, tmp_path, script):
    srv = xff_server(wsbridge, tmp_path, script, "127.0.0.1/32")
    env = env_with(srv.port, [("X-Forwarded-For", "198.51.100.9")])
    assert env.get("REMOTE_ADDR") == "198.51.100.9", env
    # Walked from the right: the last untrusted hop is the client; what
    # the client itself wrote further left is not believed.
    env = env_with(srv.port, [("X-Forwarded-For",
                               "10.9.9.9, 203.0.113.5, 198.51.100.9")])
    assert env.get("REMOTE_ADDR") == "198.51.100.9", env
    # Several header lines are one list.
    env = env_with(srv.port, [("X-Forwarded-For", "203.0.113.5"),
                              ("X-Forwarded-For", "2001:db8::9")])
    assert env.get("REMOTE_ADDR") == "2001:db8::9", env
    # Not an address: the socket's.
    env = env_with(srv.port, [("X-Forwarded-For", "not-an-address")])
    assert env.get("REMOTE_ADDR") == "127.0.0.1", env


def test_xff_walks_past_trusted_hops(wsbridge, tmp_path, script):
    srv = xff_server(wsbridge, tmp_path, script,
                     "127.0.0.1/32, 192.0.2.0/24")
    env = env_with(srv.port, [("X-Forwarded-For",
                               "203.0.113.5, 192.0.2.10, 192.0.2.11")])
    assert env.get("REMOTE_ADDR") == "203.0.113.5", env


@pytest.mark.parametrize("trusted", [None, "10.0.0.0/8", "127.0.0.2/32"],
                         ids=["none", "10/8", "127.0.0.2"])
def test_xff_from_untrusted_peer_ignored(wsbridge, tmp_path, script,
                                         trusted):
    srv = xff_server(wsbridge, tmp_path, script, trusted)
    env = env_with(srv.port, [("X-Forwarded-For", "198.51.100.9"),
                              ("Forwarded", "for=198.51.100.10")])
    assert env.get("REMOTE_ADDR") == "127.0.0.1", env


def test_forwarded_header(wsbridge, tmp_path, script):
    srv = xff_server(wsbridge, tmp_path, script, "127.0.0.1/32")
    env = env_with(srv.port, [("Forwarded", 'for="[2001:db8::7]:4711"')])
    assert env.get("REMOTE_ADDR") == "2001:db8::7", env
    env = env_with(srv.port, [("Forwarded",
                               'for=192.0.2.60;proto=http;by=203.0.113.43')])
    assert env.get("REMOTE_ADDR") == "192.0.2.60", env
    env = env_with(srv.port, [("Forwarded",
                               'for=192.0.2.43, for="198.51.100.17:80"')])
    assert env.get("REMOTE_ADDR") == "198.51.100.17", env
    # An obfuscated identifier is no address: the socket's.
    env = env_with(srv.port, [("Forwarded", "for=_hidden")])
    assert env.get("REMOTE_ADDR") == "127.0.0.1", env


# --------------------------------------------------------------------------
# send_proxy toward a TCP backend
# --------------------------------------------------------------------------


class SockReader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _more(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("backend peer closed")
        self.buf += d

    def exact(self, n):
        while len(self.buf) < n:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def until(self, marker):
        while marker not in self.buf:
            if len(self.buf) > 300:
                raise AssertionError("no %r in %r" % (marker, self.buf))
            self._more()
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out


def proxy_echo_handler(backend, c):
    """Read the PROXY header first, record it, then echo."""
    c.settimeout(10)
    r = SockReader(c)
    backend.events.append(produtil.parse_proxy_header(r.exact, r.until))
    if r.buf:
        c.sendall(r.buf)
    try:
        while True:
            data = c.recv(65536)
            if not data:
                break
            c.sendall(data)
    except OSError:
        pass        # closed by stop() at teardown
    c.close()


@pytest.fixture
def proxy_backend():
    b = Backend(proxy_echo_handler)
    yield b
    b.stop()
    assert not b.errors, b.errors


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_send_proxy(wsbridge, tmp_path, proxy_backend, version):
    srv, _ = start_config(wsbridge, tmp_path, (
        "[route /tcp]\nconnect = %s\nsend_proxy = %s\n"
        % (proxy_backend.addr, version)))
    conn = wsutil.open_ws(srv.port, "/tcp")
    try:
        local_port = conn.sock.getsockname()[1]
        send_frame(conn, OP_BINARY, b"payload after the header")
        assert recv_message(conn) == (OP_BINARY, b"payload after the header")
        send_frame(conn, OP_BINARY, b"\r\n\r\n\x00\r\nQUIT\n")
        assert recv_message(conn) == (OP_BINARY, b"\r\n\r\n\x00\r\nQUIT\n")
        send_frame(conn, OP_CLOSE, close_payload(1000))
        code, _ = expect_close(conn)
        assert code == 1000
    finally:
        conn.close()
    assert proxy_backend.events == [
        (int(version[1]), "127.0.0.1", local_port, "127.0.0.1", srv.port)]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_send_proxy_passes_proxy_protocol_address(wsbridge, tmp_path,
                                                   proxy_backend, version):
    """PROXY in, PROXY out: the backend sees the original client."""
    srv = start_pp(wsbridge, tmp_path,
                   "[route /tcp]\nconnect = %s\nsend_proxy = %s\n"
                   % (proxy_backend.addr, version))
    for src, dst, sport in (("203.0.113.7", "198.51.100.1", 5555),
                            ("2001:db8::1", "2001:db8::2", 6666)):
        conn = wsutil.connect_tcp(srv.port)
        try:
            req, _ = upgrade_bytes(srv.port, "/tcp")
            conn.sendall(proxy_v2(src, dst, sport, 443) + req)
            head = read_response(conn)
            assert head.status == 101, head
            send_frame(conn, OP_BINARY, b"x")
            assert recv_message(conn) == (OP_BINARY, b"x")
        finally:
            conn.close()
        assert proxy_backend.events[-1] == (int(version[1]), src, sport,
                                            dst, 443)


def test_no_send_proxy_sends_no_header(wsbridge, tmp_path):
    got = []

    def handler(backend, c):
        c.settimeout(10)
        data = c.recv(100)
        got.append(data)
        c.sendall(data)
        c.close()
    b = Backend(handler)
    try:
        srv, _ = start_config(wsbridge, tmp_path,
                              "[route /tcp]\nconnect = %s\n" % b.addr)
        conn = wsutil.open_ws(srv.port, "/tcp")
        try:
            send_frame(conn, OP_BINARY, b"only this")
            assert recv_message(conn) == (OP_BINARY, b"only this")
        finally:
            conn.close()
    finally:
        b.stop()
    assert got == [b"only this"]
