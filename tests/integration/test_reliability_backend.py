"""Issue 13 (items 3, 4, 5 and the cosmetic ones): a unix backend with a
full backlog, listeners that change role on reload, pty sessions whose
background jobs outlive the shell, and small protocol corrections."""

import os
import socket
import threading

import pytest

import cfgutil
from cfgutil import start_config, wait_log
import wsutil
from wsutil import (raw_handshake, recv_message, send_frame, OP_BINARY)


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
