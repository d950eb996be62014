"""Issue 13 (items 3, 4, 5 and the cosmetic ones): a unix backend with a
full backlog, listeners that change role on reload, pty sessions whose
background jobs outlive the shell, and small protocol corrections."""

import os
import signal
import socket
import threading

import pytest

from conftest import free_port, port_open
import cfgutil
from cfgutil import start_config, wait_log
import produtil
import wsutil
from wsutil import (raw_handshake, recv_message, send_frame, OP_BINARY,
                    OP_TEXT)


# --------------------------------------------------------------------------
# Item 3: a unix backend whose listen backlog is full
# --------------------------------------------------------------------------

class FullBacklog:
    """A unix listener with listen(1) that accepts nothing until drain();
    its backlog is filled by connections of our own."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.fillers = []
        for _ in range(100):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(path)
            except BlockingIOError:
                s.close()
                break
            self.fillers.append(s)
        else:
            raise AssertionError("backlog never filled")
        self.threads = []
        self.events = []            # echo_handler records EOFs here

    def drain_and_echo(self):
        """Accept everything from now on; echo on the connections that
        are not our fillers (bounded by the sockets' lifetime)."""
        self.sock.settimeout(0.2)
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self.threads.append(t)

    def _accept(self):
        for _ in range(200):            # about 40 s at most
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=cfgutil.echo_handler,
                                 args=(self, c), daemon=True)
            t.start()

    def close(self):
        for s in self.fillers + [self.sock]:
            s.close()


@pytest.fixture
def full_backlog(tmp_path):
    b = FullBacklog(cfgutil.unix_path(tmp_path, "full.sock"))
    yield b
    b.close()


def test_full_unix_backlog_is_502_not_101(wsbridge, tmp_path, full_backlog):
    """Before: EAGAIN was taken for EINPROGRESS, the 101 went out and the
    first write failed: 1011 "backend: Invalid argument"."""
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /u]\nconnect = unix:%s\n"
                          "connect_timeout = 300ms\n" % full_backlog.path)
    conn, head, _ = raw_handshake(srv.port, "/u")
    conn.close()
    assert head.status == 502, head
    wait_log(srv, "listen backlog full")


def test_full_unix_backlog_retried_until_room(wsbridge, tmp_path,
                                              full_backlog):
    """The connect is tried again on a timer: once the backend accepts,
    the same request gets its 101 and the session works."""
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /u]\nconnect = unix:%s\n"
                          "connect_timeout = 20s\n" % full_backlog.path,
                          server_extra="log_level = debug\n")
    conn = wsutil.connect_tcp(srv.port)
    try:
        key = wsutil.make_key()
        conn.sendall(wsutil.request_bytes("GET", "/u", [
            ("Host", "127.0.0.1:%d" % srv.port), ("Upgrade", "websocket"),
            ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key),
            ("Sec-WebSocket-Version", "13")]))
        # It has met the full backlog (and not answered) ...
        wait_log(srv, "listen backlog full, trying again", timeout=10)
        # ... and gets through once there is room.
        full_backlog.drain_and_echo()
        head = wsutil.read_response(conn, timeout=15)
        assert head.status == 101, head
        send_frame(conn, OP_BINARY, b"through")
        assert recv_message(conn) == (OP_BINARY, b"through")
    finally:
        conn.close()


# --------------------------------------------------------------------------
# Item 4: a listener kept across SIGHUP takes its new declaration
# --------------------------------------------------------------------------

RELOADED = "configuration reloaded"
ECHO = "[route /echo]\necho = yes\n"


def reload_to(srv, path, body):
    """Replace the file, SIGHUP, wait for the reload to be taken."""
    tmp = str(path) + ".new"
    with open(tmp, "w") as f:
        f.write(body)
    os.replace(tmp, str(path))
    start = len(srv.log())
    os.kill(srv.pid, signal.SIGHUP)
    wait_log(srv, RELOADED, start=start)
    assert "keeping the running" not in srv.log()[start:], srv.log()[start:]


def upgrade_status(port, path="/echo"):
    conn, head, _ = raw_handshake(port, path)
    conn.close()
    return head.status


def get_status(port, path):
    return cfgutil.http_request(port, "GET", path).status


def wait_listening(port):
    wsutil.wait_until(lambda: port_open(port), 5,
                      what="a listener on %d" % port)


def test_reload_moves_metrics_listen_onto_plain_listener(wsbridge, tmp_path):
    """Before: the kept listener stayed a route listener, so /echo
    upgraded on the metrics port and /metrics was 404 on both."""
    p2, m = free_port(), free_port()
    srv, path = start_config(
        wsbridge, tmp_path, ECHO,
        server_extra="listen = 127.0.0.1:%d\nmetrics_path = /metrics\n"
                     "metrics_listen = 127.0.0.1:%d\n" % (p2, m))
    wait_listening(p2)
    wait_listening(m)
    assert upgrade_status(p2) == 101
    reload_to(srv, path, cfgutil.server_section(
        srv.port, "metrics_path = /metrics\nmetrics_listen = 127.0.0.1:%d\n"
        % p2) + ECHO)
    assert get_status(p2, "/metrics") == 200
    assert upgrade_status(p2) == 404
    assert get_status(srv.port, "/metrics") == 404
    assert upgrade_status(srv.port) == 101
    wsutil.wait_until(lambda: not port_open(m), 5, what="old metrics port")


def test_reload_turns_metrics_listener_into_route_listener(wsbridge,
                                                          tmp_path):
    """Before: the kept listener stayed metrics-only: every route 404."""
    p2, m = free_port(), free_port()
    srv, path = start_config(
        wsbridge, tmp_path, ECHO,
        server_extra="metrics_path = /metrics\n"
                     "metrics_listen = 127.0.0.1:%d\n" % p2)
    wait_listening(p2)
    assert upgrade_status(p2) == 404
    reload_to(srv, path, cfgutil.server_section(
        srv.port, "listen = 127.0.0.1:%d\nmetrics_path = /metrics\n"
        "metrics_listen = 127.0.0.1:%d\n" % (p2, m)) + ECHO)
    wait_listening(m)
    assert upgrade_status(p2) == 101
    assert get_status(p2, "/metrics") == 404
    assert get_status(m, "/metrics") == 200


def tls_body(plain, tls_port, certs):
    cert, key = certs.server
    return ("[server]\nlisten = 127.0.0.1:%d\n"
            "[tls]\nlisten = 127.0.0.1:%d\ncert = %s\nkey = %s\n%s"
            % (plain, tls_port, cert, key, ECHO))


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    c = produtil.Certs(tmp_path_factory.mktemp("certs"))
    c.server = c.issue("server", "/O=wsbridge tests/CN=localhost",
                       "DNS:localhost,IP:127.0.0.1")
    return c


def wss_echo(port, certs, text):
    ctx = produtil.client_context(certs.ca)
    conn = produtil.tls_open_ws(port, ctx, "/echo")
    try:
        send_frame(conn, OP_TEXT, text)
        assert recv_message(conn) == (OP_TEXT, text.encode())
    finally:
        conn.close()


def test_reload_switches_listener_between_plain_and_tls(wsbridge, tmp_path,
                                                        certs):
    """Before: the plain socket was kept and a TLS one bound beside it:
    EADDRINUSE, and the reload was refused."""
    p2 = free_port()
    srv, path = start_config(wsbridge, tmp_path, ECHO,
                             server_extra="listen = 127.0.0.1:%d\n" % p2)
    wait_listening(p2)
    live = wsutil.open_ws(p2, "/echo")      # a plain session on p2
    try:
        reload_to(srv, path, tls_body(srv.port, p2, certs))
        wss_echo(p2, certs, "now tls")
        # A plain upgrade there is now a failed TLS handshake.
        conn = wsutil.connect_tcp(p2)
        conn.sendall(wsutil.request_bytes("GET", "/echo", [("Host", "x")]))
        closed, data = wsutil.closed_within(conn.sock, 10)
        conn.close()
        assert closed and not data.startswith(b"HTTP/1.1 101"), data
        # The session that came in plain stays plain.
        send_frame(live, OP_TEXT, "still plain")
        assert recv_message(live) == (OP_TEXT, b"still plain")
        # And back.
        reload_to(srv, path, cfgutil.server_section(
            srv.port, "listen = 127.0.0.1:%d\n" % p2) + ECHO)
        assert upgrade_status(p2) == 101
    finally:
        live.close()
