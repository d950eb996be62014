"""Issue 18: stateless TLS session tickets. The ticket keys live in memory
the supervisor maps before its workers fork, so a ticket from one worker
resumes on any; SIGHUP seals with a new key while the previous one still
opens (and renews) tickets, for one more SIGHUP."""

import os
import signal
import socket
import ssl

import pytest

from produtil import client_context
from test_tls import certs, start_tls, RELOADED  # noqa: F401 (fixture)
import wsutil

ATTEMPTS = 20


def exchange(s):
    """One HTTP request and some response: the client has now read the
    server's NewSessionTicket (TLS 1.3 sends it after the handshake)."""
    s.sendall(b"GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert s.recv(4096).startswith(b"HTTP/1.1 ")


def connect(port, ctx, session=None, server_hostname="localhost"):
    """TLS connection (offering session); returns (reused, new session)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s = ctx.wrap_socket(raw, server_hostname=server_hostname,
                            session=session)
    except BaseException:
        raw.close()
        raise
    try:
        s.settimeout(5)
        reused = s.session_reused
        exchange(s)
        return reused, s.session
    finally:
        s.close()


def reload(srv, workers):
    """SIGHUP; wait until every worker has reloaded."""
    start = len(srv.log())
    os.kill(srv.pid, signal.SIGHUP)
    wsutil.wait_until(lambda: srv.log()[start:].count(RELOADED) >= workers,
                      5.0, what="%d reloads" % workers)


@pytest.fixture
def two_workers(wsbridge, tmp_path, certs):  # noqa: F811
    return start_tls(wsbridge, tmp_path, certs, server_extra="workers = 2\n")


def test_ticket_resumes_on_every_worker(two_workers, certs):  # noqa: F811
    ctx = client_context(certs.ca)
    reused, sess = connect(two_workers.port, ctx)
    assert not reused
    assert sess.has_ticket
    # Connections spread over both workers (SO_REUSEPORT): with keys of
    # their own, about half of these would need a full handshake.
    results = [connect(two_workers.port, ctx, sess)[0]
               for _ in range(ATTEMPTS)]
    assert all(results), results


def test_sighup_rotates_ticket_keys(two_workers, certs):  # noqa: F811
    ctx = client_context(certs.ca)
    _, old = connect(two_workers.port, ctx)
    reload(two_workers, 2)
    # The previous key still opens the ticket, on any worker; the
    # renewed ticket is sealed with the new key.
    results = [connect(two_workers.port, ctx, old) for _ in range(4)]
    assert all(r for r, _ in results), results
    renewed = results[-1][1]
    reload(two_workers, 2)
    # Two rotations later the first key is gone: a full handshake...
    assert connect(two_workers.port, ctx, old)[0] is False
    # ... while the ticket renewed after the first one still resumes.
    assert all(connect(two_workers.port, ctx, renewed)[0]
               for _ in range(ATTEMPTS))


def test_single_process_rotates_too(wsbridge, tmp_path, certs):  # noqa: F811
    srv = start_tls(wsbridge, tmp_path, certs)
    ctx = client_context(certs.ca)
    _, old = connect(srv.port, ctx)
    assert connect(srv.port, ctx, old)[0]
    reload(srv, 1)
    assert connect(srv.port, ctx, old)[0]
    reload(srv, 1)
    assert connect(srv.port, ctx, old)[0] is False


VERSIONS = {"1.3": ssl.TLSVersion.TLSv1_3, "1.2": ssl.TLSVersion.TLSv1_2}


def version_context(ca, version, check_hostname=True):
    ctx = client_context(ca)
    ctx.check_hostname = check_hostname
    ctx.minimum_version = ctx.maximum_version = VERSIONS[version]
    return ctx


def single_use_chain(port, ctx, session, hostname, n=ATTEMPTS):
    """n connections, each offering only the newest ticket, as a client
    that uses a TLS 1.3 ticket once does (RFC 8446 C.4: OpenSSL's client,
    browsers). Returns [(resumed, got a ticket not offered before)] and
    the newest session; the session ids tell tickets apart (OpenSSL names
    a ticket's session by its hash)."""
    seen = {session.id}
    out = []
    for _ in range(n):
        reused, new = connect(port, ctx, session, hostname)
        out.append((reused, new.id not in seen))
        seen.add(new.id)
        session = new
    return out, session


def assert_chain(results, version):
    """All resumed; on TLS 1.3 each with a fresh ticket for the next
    (a TLS 1.2 client offers the same ticket again)."""
    assert all(r for r, _ in results), results
    if version == "1.3":
        assert all(f for _, f in results), results


SNI_SECTIONS = "[tls other.test]\ncert = %s\nkey = %s\n"


@pytest.mark.parametrize("version", ["1.3", "1.2"])
@pytest.mark.parametrize("hostname", ["localhost", "other.test", None])
def test_every_resumption_gets_a_fresh_ticket(
        wsbridge, tmp_path, certs, version, hostname):  # noqa: F811
    """20 resumptions in a row by a single-use client: on TLS 1.3 the
    ticket callback said "use, no new ticket", so a client that spends
    each ticket once resumed only every other connection (50 %; the C
    reference server, on OpenSSL's own keys, 99 %). With an SNI name the
    [tls other.test] context answers; without SNI the [tls] one."""
    srv = start_tls(wsbridge, tmp_path, certs,
                    tls_extra=SNI_SECTIONS % certs.other)
    ctx = version_context(certs.ca, version, hostname is not None)
    reused, sess = connect(srv.port, ctx, None, hostname)
    assert not reused
    assert sess.has_ticket
    results, _ = single_use_chain(srv.port, ctx, sess, hostname)
    assert_chain(results, version)


@pytest.mark.parametrize("version", ["1.3", "1.2"])
def test_fresh_tickets_across_reload(
        wsbridge, tmp_path, certs, version):  # noqa: F811
    """Two workers, SNI on, a SIGHUP in the middle of the chain: the
    ticket sealed before it opens with the previous key and the chain
    goes on with tickets of the new key, on either worker."""
    srv = start_tls(wsbridge, tmp_path, certs, server_extra="workers = 2\n",
                    tls_extra=SNI_SECTIONS % certs.other)
    ctx = version_context(certs.ca, version)
    _, sess = connect(srv.port, ctx, None, "other.test")
    results, sess = single_use_chain(srv.port, ctx, sess, "other.test", 4)
    assert_chain(results, version)
    reload(srv, 2)
    results, _ = single_use_chain(srv.port, ctx, sess, "other.test")
    # a ticket of the previous key is renewed on either version
    assert results[0] == (True, True), results
    assert_chain(results, version)


def pump(conn, out, want, timeout):
    """Send out and read until want bytes wait in conn.pending, in one
    thread: an SSL socket must not read in one thread while another
    writes (OpenSSL's SSL is not shared between threads; the threaded
    version of this test saw false EOFs under ASan's slower server)."""
    import select
    import ssl
    import time
    sock = conn.sock
    sock.settimeout(0)
    deadline = time.monotonic() + timeout
    sent = 0
    try:
        while sent < len(out) or len(conn.pending) < want:
            left = deadline - time.monotonic()
            assert left > 0, ("timed out: sent %d of %d, got %d of %d"
                              % (sent, len(out), len(conn.pending), want))
            wr = [sock] if sent < len(out) else []
            if sock.pending() == 0:
                select.select([sock], wr, [], min(left, 1.0))
            try:
                data = sock.recv(1 << 20)
                assert data, "EOF after %d bytes" % len(conn.pending)
                conn.pending += data
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
            if sent < len(out):
                try:
                    sent += sock.send(out[sent:sent + (1 << 16)])
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
    finally:
        sock.settimeout(None)


def test_wss_bulk_through_batched_records(wsbridge, tmp_path, certs):  # noqa: F811
    """Records gather in a send buffer (issue 18): with the client not
    reading for a while the socket fills, ciphertext waits unsent, and
    every byte must still arrive, in order, before the Close."""
    from produtil import tls_open_ws
    from wsutil import (build_frame, recv_message, expect_close,
                        close_payload, OP_BINARY, OP_CLOSE)

    srv = start_tls(wsbridge, tmp_path, certs)
    conn = tls_open_ws(srv.port, client_context(certs.ca), "/echo")
    msgs = [bytes([i]) * (200000 + i) for i in range(12)]
    out = b"".join(build_frame(OP_BINARY, m) for m in msgs)
    out += build_frame(OP_CLOSE, close_payload(1000))
    # each echo: a 10-byte header (64-bit length), then the Close's 4
    want = sum(10 + len(m) for m in msgs) + 4
    try:
        pump(conn, out, want, timeout=60)
        for m in msgs:
            op, got = recv_message(conn, timeout=30)
            assert (op, len(got)) == (OP_BINARY, len(m))
            assert got == m
        code, _ = expect_close(conn, timeout=30)
        assert code == 1000
    finally:
        conn.close()
