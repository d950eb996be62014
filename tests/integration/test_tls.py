"""Issue 4: TLS listeners (SPEC 5). Certificates are made at test time
with the openssl CLI: a CA, a server certificate for localhost and
127.0.0.1, certificates for other SNI names, client certificates signed
by the CA and a self-signed one."""

import os
import signal
import ssl
import subprocess
import time

import pytest

from conftest import free_port
from cfgutil import wait_log
import produtil
from produtil import (client_context, pem_der, tls_handshake, tls_open_ws,
                      tls_socket, session_env, spawned)
import wsutil
from wsutil import (send_frame, recv_message, expect_close, close_payload,
                    OP_TEXT, OP_CLOSE)

RELOADED = "configuration reloaded"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    c = produtil.Certs(tmp_path_factory.mktemp("certs"))
    c.server = c.issue("server", "/O=wsbridge tests/CN=localhost",
                       "DNS:localhost,IP:127.0.0.1")
    c.server2 = c.issue("server2", "/O=second/CN=localhost",
                        "DNS:localhost,IP:127.0.0.1")
    c.other = c.issue("other", "/O=wsbridge tests/CN=other.test",
                      "DNS:other.test")
    c.wild = c.issue("wild", "/O=wsbridge tests/CN=*.wild.test",
                     "DNS:*.wild.test")
    c.alice = c.issue("alice", "/O=wsbridge tests/CN=alice",
                      usage="clientAuth")
    c.mallory = c.issue("mallory", "/O=wsbridge tests/CN=mallory",
                        usage="clientAuth", self_signed=True)
    return c


def copy(src, dst):
    """Replace dst atomically with src's bytes."""
    tmp = str(dst) + ".new"
    with open(src, "rb") as f, open(tmp, "wb") as g:
        g.write(f.read())
    os.replace(tmp, str(dst))


def start_tls(wsbridge, tmp_path, certs, tls_extra="", routes=None,
              server_extra="", cert=None, name="tls.ini"):
    """[server] on a plain port, [tls] on another (the one waited for);
    srv.port is the TLS port, srv.plain_port the other."""
    plain, port = free_port(), free_port()
    cert, key = cert or certs.server
    if routes is None:
        routes = "[route /echo]\necho = yes\n"
    body = ("[server]\nlisten = 127.0.0.1:%d\n%s\n"
            "[tls]\nlisten = 127.0.0.1:%d\ncert = %s\nkey = %s\n%s\n%s"
            % (plain, server_extra, port, cert, key, tls_extra, routes))
    path = tmp_path / name
    path.write_text(body)
    srv = wsbridge("-c", str(path), port=port, listen_args=False)
    srv.plain_port = plain
    srv.config = path
    return srv


def wss(port, path="/echo"):
    return "wss://127.0.0.1:%d%s" % (port, path)


def echo_once(conn, text):
    send_frame(conn, OP_TEXT, text)
    assert recv_message(conn) == (OP_TEXT, text.encode())


def close_ok(conn):
    send_frame(conn, OP_CLOSE, close_payload(1000))
    code, _ = expect_close(conn)
    assert code == 1000


def peer_der(port, ctx, server_hostname="localhost"):
    s = tls_socket(port, ctx, server_hostname)
    try:
        return s.getpeercert(binary_form=True)
    finally:
        s.close()


def refused(fn):
    """fn() must fail at the TLS layer (never an HTTP response)."""
    try:
        conn, head = fn()
    except (ssl.SSLError, EOFError, ConnectionError, TimeoutError) as e:
        return e
    conn.close()
    raise AssertionError("expected the TLS handshake to fail, got %r" % head)


# --------------------------------------------------------------------------


def test_wss_echo_websockets(wsbridge, tmp_path, certs):
    srv = start_tls(wsbridge, tmp_path, certs)
    ctx = client_context(certs.ca)
    # Verified against the test CA, by IP address (SAN IP:127.0.0.1)...
    s = wsutil.ws_session(wss(srv.port), ["hello", b"\x00\x01bin", "é"],
                          done=wsutil.count(3), ssl=ctx)
    assert s.messages == ["hello", b"\x00\x01bin", "é"]
    # ... and by name, with SNI localhost.
    s = wsutil.ws_session(wss(srv.port), ["x" * 100000],
                          done=wsutil.count(1), ssl=ctx,
                          server_hostname="localhost")
    assert s.messages == ["x" * 100000]
    # The plain listener of the same file is not TLS.
    s = wsutil.ws_session("ws://127.0.0.1:%d/echo" % srv.plain_port, ["p"],
                          done=wsutil.count(1))
    assert s.messages == ["p"]


def test_websocketd_ssl_flags(wsbridge, certs):
    cert, key = certs.server
    srv = wsbridge("--ssl", "--sslcert", str(cert), "--sslkey", str(key),
                   "--echo")
    ctx = client_context(certs.ca)
    s = wsutil.ws_session(wss(srv.port, "/anything"), ["over tls"],
                          done=wsutil.count(1), ssl=ctx)
    assert s.messages == ["over tls"]
    assert peer_der(srv.port, ctx) == pem_der(cert)


def test_full_chain_and_version(wsbridge, tmp_path, certs):
    srv = start_tls(wsbridge, tmp_path, certs)
    ctx = client_context(certs.ca)
    s = tls_socket(srv.port, ctx)
    try:
        assert s.version() in ("TLSv1.2", "TLSv1.3")
        assert s.getpeercert()["subject"] == (
            (("organizationName", "wsbridge tests"),),
            (("commonName", "localhost"),))
    finally:
        s.close()


def legacy_context(ca, maximum):
    """A client that is willing to speak old protocols (OpenSSL 3 needs
    security level 0 to offer TLS 1.0/1.1 at all)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(ca))
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = maximum
    return ctx


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls11_refused(wsbridge, tmp_path, certs):
    srv = start_tls(wsbridge, tmp_path, certs)
    # The same relaxed client gets in with TLS 1.2: the setup is sound.
    s = tls_socket(srv.port, legacy_context(certs.ca, ssl.TLSVersion.TLSv1_2))
    assert s.version() == "TLSv1.2"
    s.close()
    try:
        s = tls_socket(srv.port,
                       legacy_context(certs.ca, ssl.TLSVersion.TLSv1_1))
    except ssl.SSLError as e:
        err = e
    else:
        v = s.version()
        s.close()
        raise AssertionError("TLS 1.1 client got in with %s" % v)
    print("TLS 1.1 client:", err)
    if "NO_PROTOCOLS_AVAILABLE" in str(err) or "no protocols" in str(err):
        # Our own OpenSSL would not even offer 1.1: ask s_client.
        r = subprocess.run(
            ["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.port,
             "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0",
             "-CAfile", str(certs.ca)],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
        assert r.returncode != 0, r.stdout
        assert b"Protocol  : TLSv1.1" not in r.stdout
        return
    # The server's alert, not a local refusal.
    assert "PROTOCOL_VERSION" in str(err).upper() or \
        "UNSUPPORTED_PROTOCOL" in str(err).upper(), err
    assert srv.proc.poll() is None


def test_min_version_13(wsbridge, tmp_path, certs):
    srv = start_tls(wsbridge, tmp_path, certs, "min_version = 1.3\n")
    ctx = client_context(certs.ca)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(ssl.SSLError):
        tls_socket(srv.port, ctx).close()
    s = tls_socket(srv.port, client_context(certs.ca))
    assert s.version() == "TLSv1.3"
    s.close()


def test_alpn_http11(wsbridge, tmp_path, certs):
    srv = start_tls(wsbridge, tmp_path, certs)
    ctx = client_context(certs.ca)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    s = tls_socket(srv.port, ctx)
    assert s.selected_alpn_protocol() == "http/1.1"
    s.close()
    # Offering only h2: no ALPN, but the connection goes on and works.
    ctx = client_context(certs.ca)
    ctx.set_alpn_protocols(["h2"])
    s = tls_socket(srv.port, ctx)
    assert s.selected_alpn_protocol() is None
    s.close()
    conn = tls_open_ws(srv.port, client_context(certs.ca), "/echo")
    echo_once(conn, "alpn")
    close_ok(conn)


def test_sni_picks_certificate(wsbridge, tmp_path, certs):
    srv = start_tls(wsbridge, tmp_path, certs, tls_extra=(
        "[tls other.test]\ncert = %s\nkey = %s\n"
        "[tls *.wild.test]\ncert = %s\nkey = %s\n"
        % (certs.other + certs.wild)))
    ctx = client_context(certs.ca)        # checks the name too
    for name, cn in (("localhost", "localhost"),
                     ("other.test", "other.test"),
                     ("OTHER.test", "other.test"),
                     ("a.wild.test", "*.wild.test")):
        s = tls_socket(srv.port, ctx, server_hostname=name)
        try:
            cert = s.getpeercert()
        finally:
            s.close()
        assert dict(x[0] for x in cert["subject"])["commonName"] == cn, name
        if cn != "localhost":
            assert ("DNS", cn) in cert["subjectAltName"]
    # A name with no section, and no SNI at all: the [tls] certificate.
    lax = client_context(certs.ca)
    lax.check_hostname = False
    assert peer_der(srv.port, lax, "unknown.test") == pem_der(certs.server[0])
    assert peer_der(srv.port, lax, None) == pem_der(certs.server[0])
    # "*.wild.test" is one label: a.b.wild.test and wild.test are not it.
    assert peer_der(srv.port, lax, "a.b.wild.test") == \
        pem_der(certs.server[0])
    assert peer_der(srv.port, lax, "wild.test") == pem_der(certs.server[0])
    # A WebSocket over the SNI certificate works end to end.
    conn = tls_open_ws(srv.port, ctx, "/echo", server_hostname="other.test")
    echo_once(conn, "sni")
    close_ok(conn)


def test_https_env(wsbridge, tmp_path, certs, script):
    env_sh = produtil.env_script(script)
    srv = start_tls(wsbridge, tmp_path, certs,
                    routes="[route /env]\nexec = %s\n" % env_sh)
    env, s = session_env(wss(srv.port, "/env"), ssl=client_context(certs.ca))
    assert s.code == 1000
    assert env.get("HTTPS") == "on", env
    assert "SSL_CLIENT_S_DN" not in env, env
    # Not over the plain listener.
    env, _ = session_env("ws://127.0.0.1:%d/env" % srv.plain_port)
    assert env.get("REMOTE_ADDR") == "127.0.0.1", env
    assert "HTTPS" not in env, env


@pytest.fixture
def mtls(wsbridge, tmp_path, certs, script):
    marker = str(tmp_path / "spawned")
    env_sh = produtil.env_script(script, marker)
    srv = start_tls(wsbridge, tmp_path, certs,
                    tls_extra="client_ca = %s\n" % certs.ca,
                    routes="[route /env]\nexec = %s\n" % env_sh)
    srv.marker = marker
    return srv


def test_mtls_valid_client(mtls, certs):
    ctx = client_context(certs.ca, *certs.alice)
    env, s = session_env(wss(mtls.port, "/env"), ssl=ctx)
    assert s.code == 1000
    dn = env.get("SSL_CLIENT_S_DN", "")
    assert "CN=alice" in dn and "O=wsbridge tests" in dn, env
    assert env.get("SSL_CLIENT_VERIFY") == "SUCCESS", env
    assert env.get("HTTPS") == "on", env
    assert len(spawned(mtls.marker)) == 1


@pytest.mark.parametrize("version", ["1.2", "1.3"])
@pytest.mark.parametrize("who", ["no certificate", "self-signed"])
def test_mtls_refused(mtls, certs, who, version):
    if who == "no certificate":
        ctx = client_context(certs.ca)
    else:
        ctx = client_context(certs.ca, *certs.mallory)
    if version == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    # TLS 1.3 clients finish their side first: the refusal comes when
    # they read, instead of the response.
    refused(lambda: tls_handshake(mtls.port, ctx, "/env"))
    # Then a valid client: the only process ever spawned is its own.
    good = client_context(certs.ca, *certs.alice)
    env, _ = session_env(wss(mtls.port, "/env"), ssl=good)
    assert env.get("SSL_CLIENT_VERIFY") == "SUCCESS"
    assert len(spawned(mtls.marker)) == 1, "a refused client got a process"
    assert mtls.proc.poll() is None


def test_sighup_swaps_certificate(wsbridge, tmp_path, certs):
    cert, key = tmp_path / "live.pem", tmp_path / "live.key"
    copy(certs.server[0], cert)
    copy(certs.server[1], key)
    srv = start_tls(wsbridge, tmp_path, certs, cert=(cert, key))
    ctx = client_context(certs.ca)
    old = tls_open_ws(srv.port, ctx, "/echo")
    try:
        assert old.sock.getpeercert(True) == pem_der(certs.server[0])
        echo_once(old, "before")
        copy(certs.server2[0], cert)
        copy(certs.server2[1], key)
        start = len(srv.log())
        os.kill(srv.pid, signal.SIGHUP)
        wait_log(srv, RELOADED, start=start)
        # New connections get the new certificate...
        assert peer_der(srv.port, ctx) == pem_der(certs.server2[0])
        new = tls_open_ws(srv.port, ctx, "/echo")
        echo_once(new, "new")
        close_ok(new)
        # ... and the old one keeps working on the old session.
        echo_once(old, "after reload")
        echo_once(old, "x" * 70000)
        close_ok(old)
    finally:
        old.close()


def test_sighup_bad_certificate_keeps_old(wsbridge, tmp_path, certs):
    cert, key = tmp_path / "live.pem", tmp_path / "live.key"
    copy(certs.server[0], cert)
    copy(certs.server[1], key)
    srv = start_tls(wsbridge, tmp_path, certs, cert=(cert, key))
    ctx = client_context(certs.ca)
    old = tls_open_ws(srv.port, ctx, "/echo")
    try:
        tmp = str(cert) + ".new"
        with open(tmp, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n"
                    "-----END CERTIFICATE-----\n")
        os.replace(tmp, str(cert))
        start = len(srv.log())
        os.kill(srv.pid, signal.SIGHUP)
        log = wait_log(srv, "keeping the running configuration", start=start)
        assert str(cert) in log[start:], log[start:]
        assert RELOADED not in log[start:]
        assert srv.proc.poll() is None
        assert peer_der(srv.port, ctx) == pem_der(certs.server[0])
        echo_once(old, "still")
        # A good certificate later is taken.
        copy(certs.server2[0], cert)
        copy(certs.server2[1], key)
        start = len(srv.log())
        os.kill(srv.pid, signal.SIGHUP)
        wait_log(srv, RELOADED, start=start)
        assert peer_der(srv.port, ctx) == pem_der(certs.server2[0])
        echo_once(old, "still here")
        close_ok(old)
    finally:
        old.close()


@pytest.mark.parametrize("request_bytes", [
    b"GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n",
    b"GET / HTTP/1.0\r\n\r\n",
], ids=["upgrade", "http10"])
def test_plain_http_to_tls_port(wsbridge, tmp_path, certs, request_bytes):
    srv = start_tls(wsbridge, tmp_path, certs)
    conn = wsutil.connect_tcp(srv.port)
    try:
        conn.sendall(request_bytes)
        # The whole answer, up to the server's clean close.
        data = conn.recv_to_eof(timeout=5)
    finally:
        conn.close()
    head_raw, sep, body = data.partition(b"\r\n\r\n")
    assert sep, "no complete response head: %r" % data
    head = wsutil.Head(head_raw)
    assert head.status == 400, head
    assert head.has_token("connection", "close"), head
    assert int(head.header("content-length")) == len(body), \
        "Content-Length %s but %d body bytes %r" % (
            head.header("content-length"), len(body), body)
    # Still serving TLS.
    s = wsutil.ws_session(wss(srv.port), ["ok"], done=wsutil.count(1),
                          ssl=client_context(certs.ca))
    assert s.messages == ["ok"]


def test_plain_garbage_to_tls_port(wsbridge, tmp_path, certs):
    srv = start_tls(wsbridge, tmp_path, certs)
    conn = wsutil.connect_tcp(srv.port)
    try:
        conn.sendall(bytes(range(256)) * 4)
        data = conn.recv_to_eof(timeout=5)
        assert not data.startswith(b"HTTP/1.1 101"), data[:100]
    finally:
        conn.close()
    assert srv.proc.poll() is None
    conn = tls_open_ws(srv.port, client_context(certs.ca), "/echo")
    echo_once(conn, "alive")
    close_ok(conn)


@pytest.mark.parametrize("sent", [b"", b"\x16\x03\x01\x02\x00\x01"],
                         ids=["silent", "partial-hello"])
def test_tls_handshake_timeout(wsbridge, tmp_path, certs, sent):
    srv = start_tls(wsbridge, tmp_path, certs,
                    server_extra="handshake_timeout = 1s\n")
    conn = wsutil.connect_tcp(srv.port)
    try:
        t0 = time.monotonic()
        if sent:
            conn.sendall(sent)
        data = conn.recv_to_eof(timeout=6)
        elapsed = time.monotonic() - t0
    finally:
        conn.close()
    assert not data.startswith(b"HTTP"), data
    assert 0.8 <= elapsed < 5, elapsed
    assert srv.proc.poll() is None
    # A client that does speak TLS in time is served.
    s = wsutil.ws_session(wss(srv.port), ["in time"], done=wsutil.count(1),
                          ssl=client_context(certs.ca))
    assert s.messages == ["in time"]


def test_tls_check_reports_bad_key(tmp_path, certs):
    """--check loads the certificates: a key that is not the cert's is an
    error before start-up."""
    from cfgutil import run_bin
    path = tmp_path / "bad.ini"
    path.write_text("[tls]\nlisten = 127.0.0.1:%d\ncert = %s\nkey = %s\n"
                    "[route /echo]\necho = yes\n"
                    % (free_port(), certs.server[0], certs.other[1]))
    r = run_bin(["-c", str(path), "--check"])
    assert r.returncode == 1, r
    assert str(certs.other[1]).encode() in r.stderr, r.stderr
    # The key's line is named (FILE:LINE), as for every config error.
    assert ("%s:4: key " % path).encode() in r.stderr, r.stderr
    # A file that is not PEM at all: the cert's line.
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    path.write_text("[tls]\nlisten = 127.0.0.1:%d\ncert = %s\nkey = %s\n"
                    "[route /echo]\necho = yes\n"
                    % (free_port(), junk, certs.server[1]))
    r = run_bin(["-c", str(path), "--check"])
    assert r.returncode == 1, r
    assert ("%s:3: cert %s" % (path, junk)).encode() in r.stderr, r.stderr
    path.write_text("[tls]\nlisten = 127.0.0.1:%d\ncert = %s\nkey = %s\n"
                    "[route /echo]\necho = yes\n"
                    % (free_port(), certs.server[0], certs.server[1]))
    r = run_bin(["-c", str(path), "--check"])
    assert r.returncode == 0, r.stderr
