"""Issue 3: SIGHUP reload (SPEC 7): new connections use the new file,
established ones continue untouched, a broken file is reported FILE:LINE
and the old configuration stays; listeners follow the file."""

import os
import signal

from conftest import free_port, port_open
from cfgutil import start_config, server_section, wait_log
import wsutil
from wsutil import (raw_handshake, open_ws, recv_message, send_frame,
                    expect_close, wait_until, OP_TEXT, OP_CLOSE,
                    close_payload)

RELOADED = "configuration reloaded"


def rewrite(path, text):
    """Replace the file atomically, as an editor or config tool would."""
    tmp = str(path) + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, str(path))


def hup(srv):
    """SIGHUP; return the log offset from before the signal."""
    start = len(srv.log())
    os.kill(srv.pid, signal.SIGHUP)
    return start


def echo_once(conn, text):
    send_frame(conn, OP_TEXT, text)
    assert recv_message(conn) == (OP_TEXT, text.encode())


def status(port, path):
    conn, head, _ = raw_handshake(port, path)
    conn.close()
    return head.status


def test_reload_swaps_routes_live_connection_survives(wsbridge, tmp_path):
    srv, path = start_config(wsbridge, tmp_path, "[route /a]\necho = yes\n")
    old = open_ws(srv.port, "/a")
    try:
        echo_once(old, "before")
        rewrite(path, server_section(srv.port) + "[route /b]\necho = yes\n")
        start = hup(srv)
        wait_log(srv, RELOADED, start=start)
        # The established connection on the removed route still works.
        echo_once(old, "after reload")
        # New connections see the new file.
        s = wsutil.ws_session(srv.url("/b"), ["new"], done=wsutil.count(1))
        assert s.messages == ["new"]
        assert status(srv.port, "/a") == 404
        echo_once(old, "still here")
        send_frame(old, OP_CLOSE, close_payload(1000))
        code, _ = expect_close(old)
        assert code == 1000
    finally:
        old.close()
    assert srv.proc.poll() is None


def test_reload_changes_process_route(wsbridge, tmp_path, script):
    v1 = script("v1.sh", "echo one\n")
    v2 = script("v2.sh", "echo two\n")
    srv, path = start_config(wsbridge, tmp_path,
                             "[route /v]\nexec = %s\n" % v1)
    assert wsutil.ws_session(srv.url("/v")).messages == ["one"]
    rewrite(path, server_section(srv.port) + "[route /v]\nexec = %s\n" % v2)
    start = hup(srv)
    wait_log(srv, RELOADED, start=start)
    assert wsutil.ws_session(srv.url("/v")).messages == ["two"]


def test_broken_reload_keeps_old_config(wsbridge, tmp_path):
    srv, path = start_config(wsbridge, tmp_path, "[route /a]\necho = yes\n")
    live = open_ws(srv.port, "/a")
    try:
        echo_once(live, "x")
        body = server_section(srv.port)          # ends with a blank line
        bad_line = body.count("\n") + 3
        body += "[route /b]\necho = yes\ncolour = red\n"
        rewrite(path, body)
        start = hup(srv)
        log = wait_log(srv, "%s:%d:" % (path, bad_line), start=start)
        assert "colour" in log[start:], log[start:]
        # Give a (wrong) reload the chance to be logged, then check it was
        # not: a later SIGHUP of the same broken file must report again.
        start2 = hup(srv)
        wait_log(srv, "%s:%d:" % (path, bad_line), start=start2)
        assert RELOADED not in srv.log()[start:], srv.log()[start:]
        assert srv.proc.poll() is None, "a broken reload stopped wsbridge"
        # The old routes are still in force for new connections.
        s = wsutil.ws_session(srv.url("/a"), ["old"], done=wsutil.count(1))
        assert s.messages == ["old"]
        assert status(srv.port, "/b") == 404
        echo_once(live, "y")
    finally:
        live.close()


def test_reload_after_broken_reload(wsbridge, tmp_path):
    srv, path = start_config(wsbridge, tmp_path, "[route /a]\necho = yes\n")
    rewrite(path, server_section(srv.port) + "[route /b]\nexec = /no/such\n")
    start = hup(srv)
    wait_log(srv, "%s:" % path, start=start)
    assert status(srv.port, "/a") == 101
    rewrite(path, server_section(srv.port) + "[route /b]\necho = yes\n")
    start = hup(srv)
    wait_log(srv, RELOADED, start=start)
    assert status(srv.port, "/b") == 101
    assert status(srv.port, "/a") == 404


def test_reload_adds_and_removes_listeners(wsbridge, tmp_path):
    srv, path = start_config(wsbridge, tmp_path, "[route /a]\necho = yes\n")
    p2 = free_port()
    assert not port_open(p2)
    rewrite(path, "[server]\nlisten = 127.0.0.1:%d\nlisten = 127.0.0.1:%d\n"
            "[route /a]\necho = yes\n" % (srv.port, p2))
    start = hup(srv)
    wait_log(srv, RELOADED, start=start)
    wait_until(lambda: port_open(p2), 5, what="new listener on %d" % p2)
    s = wsutil.ws_session("ws://127.0.0.1:%d/a" % p2, ["via new port"],
                          done=wsutil.count(1))
    assert s.messages == ["via new port"]
    assert status(srv.port, "/a") == 101

    # Now drop the first listener; a connection open on it survives.
    live = open_ws(srv.port, "/a")
    try:
        rewrite(path, "[server]\nlisten = 127.0.0.1:%d\n"
                "[route /a]\necho = yes\n" % p2)
        start = hup(srv)
        wait_log(srv, RELOADED, start=start)
        wait_until(lambda: not port_open(srv.port), 5,
                   what="old listener on %d to close" % srv.port)
        assert status(p2, "/a") == 101
        echo_once(live, "on the removed listener")
    finally:
        live.close()


def test_reload_bad_listen_keeps_old(wsbridge, tmp_path):
    # A listen address that cannot be bound (port in use by someone else)
    # must not take the server down or drop the working listener.
    import socket
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    taken = blocker.getsockname()[1]
    try:
        srv, path = start_config(wsbridge, tmp_path,
                                 "[route /a]\necho = yes\n")
        rewrite(path, "[server]\nlisten = 127.0.0.1:%d\n"
                "listen = 127.0.0.1:%d\n[route /b]\necho = yes\n"
                % (srv.port, taken))
        start = hup(srv)
        wait_log(srv, "reload", start=start)
        wait_until(lambda: len(srv.log()) > start and (
            RELOADED in srv.log()[start:] or "keeping" in srv.log()[start:]),
            5, what="reload outcome")
        assert srv.proc.poll() is None
        assert port_open(srv.port)
        # Either the whole new config or the whole old one: /a or /b works.
        ok = [p for p in ("/a", "/b") if status(srv.port, p) == 101]
        assert len(ok) == 1, ok
    finally:
        blocker.close()
