"""listen = unix:PATH (SPEC 2): the socket file is created, served, and
removed at exit; an existing file that is not a socket, or a socket a live
server listens on, is never taken over; a stale one is; with workers every
worker accepts on the one socket."""

import os
import signal
import socket
import subprocess

import pytest

import wsutil
from conftest import BIN
from cfgutil import unix_path, write_config
from wsutil import (OP_TEXT, read_response, recv_message, request_bytes,
                    send_frame, wait_until)


def config(tmp_path, path, extra=""):
    return write_config(tmp_path, "[server]\nlisten = unix:%s\n%s"
                        "[route /echo]\necho = yes\n" % (path, extra))


def start(cfg, tmp_path, name="wsbridge.log"):
    log = open(tmp_path / name, "wb")
    p = subprocess.Popen([BIN, "-c", str(cfg)], stdin=subprocess.DEVNULL,
                         stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    log.close()
    return p


def unix_echo(path, text):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.connect(path)
    conn = wsutil.RawConn(sock)
    conn.sendall(request_bytes("GET", "/echo", [
        ("Host", "localhost"), ("Upgrade", "websocket"),
        ("Connection", "Upgrade"), ("Sec-WebSocket-Key", wsutil.make_key()),
        ("Sec-WebSocket-Version", "13")]))
    head = read_response(conn)
    assert head.status == 101, head
    send_frame(conn, OP_TEXT, text)
    got = recv_message(conn)
    conn.close()
    return got


def can_echo(path):
    try:
        return unix_echo(path, "ping") == (OP_TEXT, b"ping")
    except OSError:
        return False


def stop(p):
    p.send_signal(signal.SIGTERM)
    return p.wait(10)


@pytest.mark.parametrize("workers", [1, 2])
def test_serves_and_removes_its_socket(tmp_path, workers):
    path = unix_path(tmp_path)
    p = start(config(tmp_path, path, "workers = %d\n" % workers), tmp_path)
    try:
        wait_until(lambda: can_echo(path), 10, what="the unix listener")
        for i in range(6):
            assert unix_echo(path, "m%d" % i) == (OP_TEXT, b"m%d" % i)
    finally:
        rc = stop(p)
    assert rc == 0
    assert not os.path.lexists(path), "socket file left behind"


def test_regular_file_is_never_replaced(tmp_path):
    path = unix_path(tmp_path, "data.file")
    with open(path, "w") as f:
        f.write("important\n")
    p = start(config(tmp_path, path), tmp_path)
    assert p.wait(10) == 1
    with open(path) as f:
        assert f.read() == "important\n"
    assert "is not a socket" in (tmp_path / "wsbridge.log").read_text()


def test_live_socket_is_not_taken_over(tmp_path):
    path = unix_path(tmp_path)
    first = start(config(tmp_path, path), tmp_path)
    try:
        wait_until(lambda: can_echo(path), 10, what="the first server")
        second = start(config(tmp_path, path), tmp_path, "second.log")
        assert second.wait(10) == 1
        assert "a server is listening there" in \
            (tmp_path / "second.log").read_text()
        # The first server still owns the path and answers.
        assert unix_echo(path, "still") == (OP_TEXT, b"still")
    finally:
        assert stop(first) == 0


def test_stale_socket_is_reclaimed(tmp_path):
    path = unix_path(tmp_path)
    # A socket file with nobody listening, as a crashed server leaves.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()
    assert os.path.exists(path)
    p = start(config(tmp_path, path), tmp_path)
    try:
        wait_until(lambda: can_echo(path), 10, what="the reclaimed socket")
    finally:
        assert stop(p) == 0


@pytest.mark.parametrize("change", ["add", "drop"])
def test_workers_keep_their_unix_sockets_across_reload(tmp_path, change):
    # The workers share the supervisor's sockets: adding or dropping one
    # needs a restart. The reload is refused (logged), nothing hangs, the
    # socket keeps serving.
    path, other = unix_path(tmp_path), unix_path(tmp_path, "other.sock")
    cfg = config(tmp_path, path, "workers = 2\n")
    p = start(cfg, tmp_path)
    log = tmp_path / "wsbridge.log"
    try:
        wait_until(lambda: can_echo(path), 10, what="the unix listener")
        if change == "add":
            cfg.write_text(cfg.read_text().replace(
                "workers = 2\n", "workers = 2\nlisten = unix:%s\n" % other))
        else:
            cfg.write_text("[server]\nlisten = 127.0.0.1:1\nworkers = 2\n"
                           "[route /echo]\necho = yes\n")
        p.send_signal(signal.SIGHUP)
        wait_until(lambda: log.read_text().count(
            "unix listeners changed") >= 2, 10, what="both workers refusing")
        for i in range(6):
            assert unix_echo(path, "r%d" % i) == (OP_TEXT, b"r%d" % i)
        assert not os.path.exists(other)
    finally:
        assert stop(p) == 0
    assert not os.path.lexists(path)
