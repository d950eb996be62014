"""Issue 13 (items 3, 4, 5 and the cosmetic ones): a unix backend with a
full backlog, listeners that change role on reload, pty sessions whose
background jobs outlive the shell, and small protocol corrections."""

import os
import signal
import socket
import struct
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
        """Accept everything from now on and echo on it (our fillers
        included: they send nothing); the accept loop is bounded."""
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


# --------------------------------------------------------------------------
# Item 5: a pty session ends with its leader, and takes its jobs along
# --------------------------------------------------------------------------

def find_cmdline(argv):
    """Pids whose command line is exactly argv (a list of bytes)."""
    want = b"\0".join(argv) + b"\0"
    out = []
    for pid in wsutil.all_pids():
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if f.read() == want:
                    out.append(pid)
        except OSError:
            pass
    return out


def pty_open(port, path):
    conn, head, _ = raw_handshake(port, path,
                                  {"Sec-WebSocket-Protocol": "tty"})
    assert head.status == 101, head
    send_frame(conn, OP_BINARY, b'{"AuthToken":"","columns":80,"rows":24}')
    return conn


@pytest.mark.serial
def test_pty_background_job_ends_with_the_session(wsbridge, tmp_path):
    """Before: `sleep &` (its own group, job control) held the slave, so
    no Close came after `exit`, and it outlived the session."""
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /t]\nexec = /bin/bash --norc --noprofile\n"
                          "mode = pty\nclose_grace = 200ms\n")
    # A duration no other test uses finds our job in the process table.
    secs = b"4545.%d" % os.getpid()
    conn = pty_open(srv.port, "/t")
    try:
        send_frame(conn, OP_BINARY, b"0sleep " + secs + b" &\n")
        pids = wsutil.wait_until(lambda: find_cmdline([b"sleep", secs]), 10,
                                 what="the background job")
        job = pids[0]
        _, _, pgrp, sid = wsutil.proc_stat(job)
        assert pgrp == job and sid != job, "not a job-control job"
        assert sid not in (srv.pid, os.getpid())
        send_frame(conn, OP_BINARY, b"0echo mark-$((6*7)); exit\n")
        code, _ = wsutil.expect_close(conn, timeout=15, allow_data=True,
                                      reply=True)
        out = b"".join(p[1:] for _, _, p in conn.seen if p[:1] == b"0")
        assert code == 1000, (code, out)
        assert b"mark-42" in out, out       # the last output came through
    finally:
        conn.close()
    cfgutil.wait_pid_gone(job, 10)


# --------------------------------------------------------------------------
# Cosmetic: one SIGKILL line per group, zombies are not "still there"
# --------------------------------------------------------------------------

ZOMBIE_IN_GROUP = r'''#!/usr/bin/python3
# Leaves a zombie in its own process group (its parent, in a group of
# its own, never reaps it), closes stdout and ignores SIGTERM.
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
leader = os.getpid()
r, w = os.pipe()
if os.fork() == 0:
    os.setpgid(0, 0)
    if os.fork() == 0:
        os.setpgid(0, leader)
        os.write(w, b"%d\n" % os.getpid())
        os._exit(0)
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(r)
    os.close(w)
    for _ in range(600):
        time.sleep(1)
    os._exit(0)
os.close(w)
zombie = int(os.read(r, 32))
for _ in range(500):
    with open("/proc/%d/stat" % zombie) as f:
        if f.read().rsplit(")", 1)[1].split()[0] == "Z":
            break
    time.sleep(0.01)
print("zombie %d" % zombie, flush=True)
null = os.open("/dev/null", os.O_RDWR)
os.dup2(null, 1)
for _ in range(600):
    time.sleep(1)
'''


@pytest.mark.serial
def test_group_kill_logged_once_despite_zombie(wsbridge, tmp_path):
    """Before: after the SIGKILL the leader was reaped, the zombie made
    kill(-pgid, 0) succeed and a second TERM/KILL round logged again."""
    prog = tmp_path / "zombie.py"
    prog.write_text(ZOMBIE_IN_GROUP)
    prog.chmod(0o755)
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /z]\nexec = %s\nclose_grace = 100ms\n"
                          % prog)
    conn = wsutil.open_ws(srv.port, "/z")
    try:
        _, msg = recv_message(conn, timeout=15)
        assert msg.startswith(b"zombie "), msg
        # stdout closed, SIGTERM ignored: SIGKILL, then Close 1011.
        code, reason = wsutil.expect_close(conn, timeout=15, reply=True)
        assert (code, reason) == (1011, "signal 9")
    finally:
        conn.close()
    # wsbridge exits once no connection and no process is left: every
    # round it would run for this process has run by then.
    srv.proc.send_signal(signal.SIGTERM)
    srv.proc.wait(15)
    lines = [l for l in srv.log().splitlines()
             if "still there after SIGTERM" in l]
    assert len(lines) == 1, lines


# --------------------------------------------------------------------------
# Cosmetic: protocol corrections
# --------------------------------------------------------------------------

def test_64bit_length_top_bit_is_protocol_error(wsbridge):
    """RFC 6455 5.2: the most significant bit MUST be 0 (was 1009)."""
    srv = wsbridge("--echo")
    conn = wsutil.open_ws(srv.port, "/")
    try:
        conn.sendall(struct.pack("!BBQ", 0x82, 0x80 | 127, 1 << 63)
                     + b"\0\0\0\0")
        code, _ = wsutil.expect_close(conn)
        assert code == 1002
    finally:
        conn.close()


def test_http2_request_line_is_505(wsbridge):
    """An upgrade on an HTTP/2.0 request line got a 101."""
    srv = wsbridge("--echo")
    conn = wsutil.connect_tcp(srv.port)
    try:
        conn.sendall(b"GET / HTTP/2.0\r\nHost: x\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Key: "
                     + wsutil.make_key().encode() +
                     b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
        head = wsutil.read_response(conn)
        assert head.status == 505, head
    finally:
        conn.close()


@pytest.mark.serial
def test_pty_client_leaving_ends_the_whole_session(wsbridge, tmp_path):
    """The client goes first: the shell and its job-control job (its own
    group, so kill(-leader) alone missed it) both get the sequence."""
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /t]\nexec = /bin/bash --norc --noprofile\n"
                          "mode = pty\nclose_grace = 200ms\n")
    secs = b"4546.%d" % os.getpid()
    conn = pty_open(srv.port, "/t")
    try:
        send_frame(conn, OP_BINARY, b"0trap '' HUP; sleep " + secs + b" &\n")
        job = wsutil.wait_until(lambda: find_cmdline([b"sleep", secs]), 10,
                                what="the background job")[0]
        leader = wsutil.proc_stat(job)[3]
        assert wsutil.proc_stat(job)[2] != leader, "not a job-control job"
    finally:
        conn.close()
    cfgutil.wait_pid_gone(leader, 10)
    cfgutil.wait_pid_gone(job, 10)
