"""Shared sessions (issue 15): share = route | id | user, view routes,
persist, replay, slow clients, and what happens when the program or the
server ends. Raw WebSocket clients; every wait is bounded."""

import base64
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

import wsutil
from cfgutil import run_bin, start_config, wait_log, write_config
from wsutil import (OP_BINARY, OP_PING, OP_TEXT, expect_close, open_ws,
                    raw_handshake, recv_message, send_frame)

# A line program: "pid N" first, then "got LINE" for each input line.
LINES = """#!/bin/sh
echo "pid $$"
while IFS= read -r line; do echo "got $line"; done
"""


def text(conn, timeout=5):
    op, data = recv_message(conn, timeout)
    assert op == OP_TEXT, op
    return data.decode()


def until(conn, want, timeout=5, limit=200):
    """Messages up to and including the first equal to want."""
    seen = []
    deadline = time.monotonic() + timeout
    while len(seen) < limit:
        seen.append(text(conn, max(0.1, deadline - time.monotonic())))
        if seen[-1] == want:
            return seen
    raise AssertionError("no %r in %r" % (want, seen))


def status(port, path, headers=None):
    conn, head, _ = raw_handshake(port, path, headers)
    conn.close()
    return head.status


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(
        ("%s:%s" % (user, password)).encode()).decode()}


def users_file(tmp_path):
    """An htpasswd file (crypt(3) SHA-512) with alice and bob."""
    path = tmp_path / "htpasswd"
    entries = []
    for user in ("alice", "bob"):
        h = subprocess.run(["openssl", "passwd", "-6", "pw-" + user],
                           capture_output=True, text=True, check=True)
        entries.append("%s:%s" % (user, h.stdout.strip()))
    path.write_text("\n".join(entries) + "\n")
    return path


def metrics(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=5) as r:
        return r.read().decode()


def sample(text_, name, route):
    key = '%s{route="%s"} ' % (name, route)
    for line in text_.splitlines():
        if line.startswith(key):
            return int(float(line[len(key):]))
    raise AssertionError("no %s for %s" % (name, route))


@pytest.fixture
def lines(script):
    return script("lines.sh", LINES)


def start(wsbridge, tmp_path, routes, extra=""):
    srv, _ = start_config(wsbridge, tmp_path, routes,
                          server_extra="metrics_path = /metrics\n" + extra)
    return srv


def test_share_route_one_program_all_output(wsbridge, tmp_path, lines):
    srv = start(wsbridge, tmp_path,
                "[route /feed]\nexec = %s\nshare = route\n" % lines)
    a = open_ws(srv.port, "/feed")
    first = text(a)
    assert first.startswith("pid ")
    b = open_ws(srv.port, "/feed")
    send_frame(a, OP_TEXT, b"from a")
    assert text(a) == "got from a"
    assert text(b) == "got from a"
    send_frame(b, OP_TEXT, b"from b")
    assert text(a) == "got from b"
    assert text(b) == "got from b"
    # One program: b never saw a "pid" line of its own.
    m = metrics(srv.port)
    assert sample(m, "wsbridge_sessions", "/feed") == 1
    assert sample(m, "wsbridge_session_clients", "/feed") == 2
    assert "session /feed" in srv.log()
    a.close()
    b.close()


def binary(conn, timeout=5):
    op, data = recv_message(conn, timeout)
    assert op == OP_BINARY, op
    return data


def test_whole_messages_never_interleave(wsbridge, tmp_path):
    # cat echoes what reaches it: proof of where a's message stands.
    srv = start(wsbridge, tmp_path, "[route /cat]\nexec = /bin/cat\n"
                "mode = binary\nshare = route\n")
    a = open_ws(srv.port, "/cat")
    b = open_ws(srv.port, "/cat")
    send_frame(a, OP_BINARY, b"AAAA", fin=False)
    assert binary(a) == b"AAAA"          # a's first half is at cat
    # b's whole message must wait for a's to end, never land inside it.
    send_frame(b, OP_BINARY, b"BBBB")
    with pytest.raises(TimeoutError):
        recv_message(a, timeout=0.3)
    send_frame(a, 0, b"CCCC", fin=True)
    got = b""
    while len(got) < 8:
        got += binary(a)
    assert got == b"CCCCBBBB", got
    a.close()
    b.close()


def test_writer_leaving_mid_message_frees_the_others(wsbridge, tmp_path,
                                                     lines):
    srv = start(wsbridge, tmp_path,
                "[route /feed]\nexec = %s\nshare = route\n" % lines)
    a = open_ws(srv.port, "/feed")
    text(a)
    b = open_ws(srv.port, "/feed")
    # Synchronise: a full message from a is through before its fragment.
    send_frame(a, OP_TEXT, b"sync")
    assert text(b) == "got sync"
    assert text(a) == "got sync"
    send_frame(a, OP_TEXT, b"cut", fin=False)
    send_frame(a, OP_PING, b"p")
    wsutil.recv_frame(a)            # the pong: the fragment was read
    send_frame(b, OP_TEXT, b"waits")
    a.close()           # gone inside its message
    assert text(b) == "got cut"      # its line ended, not joined
    assert text(b) == "got waits"
    b.close()


def test_view_route_reads_and_cannot_write(wsbridge, tmp_path, lines):
    srv = start(wsbridge, tmp_path,
                "[route /feed]\nexec = %s\nshare = route\n"
                "[route /watch]\nview = /feed\n" % lines)
    assert status(srv.port, "/watch") == 404      # nothing to view yet
    a = open_ws(srv.port, "/feed")
    text(a)
    v = open_ws(srv.port, "/watch")
    send_frame(v, OP_TEXT, b"viewer says")
    send_frame(a, OP_TEXT, b"writer says")
    # The program only ever got the writer's line.
    assert text(a) == "got writer says"
    assert text(v) == "got writer says"
    m = metrics(srv.port)
    assert sample(m, "wsbridge_session_viewers", "/feed") == 1
    a.close()
    v.close()


def test_share_id_selects_and_refuses_bad_ids(wsbridge, tmp_path, lines):
    srv = start(wsbridge, tmp_path,
                "[route /t]\nexec = %s\nshare = id\n"
                "[route /t/watch]\nview = /t\n" % lines)
    x1 = open_ws(srv.port, "/t?session=x")
    px = text(x1)
    y = open_ws(srv.port, "/t?session=y")
    py = text(y)
    assert px != py                      # two programs
    x2 = open_ws(srv.port, "/t?session=x")
    send_frame(x2, OP_TEXT, b"hi")
    assert text(x1) == "got hi"
    assert text(x2) == "got hi"
    with pytest.raises(TimeoutError):
        recv_message(y, timeout=0.3)
    assert status(srv.port, "/t") == 400
    assert status(srv.port, "/t?session=") == 400
    assert status(srv.port, "/t?session=" + "a" * 65) == 400
    assert status(srv.port, "/t?session=a%2Fb") == 400
    assert status(srv.port, "/t?session=a.b") == 400
    assert status(srv.port, "/t/watch?session=nope") == 404
    assert status(srv.port, "/t/watch?session=" + "a" * 65) == 400
    for c in (x1, x2, y):
        c.close()
    assert srv.proc.poll() is None


def test_session_belongs_to_its_user(wsbridge, tmp_path, lines):
    htpasswd = users_file(tmp_path)
    srv = start(wsbridge, tmp_path,
                "[route /t]\nexec = %s\nshare = id\nauth = basic\n"
                "auth_file = %s\n"
                "[route /t/watch]\nview = /t\nauth = basic\n"
                "auth_file = %s\n" % (lines, htpasswd, htpasswd))
    a = open_ws(srv.port, "/t?session=s1", basic("alice", "pw-alice"))
    text(a)
    assert status(srv.port, "/t?session=s1",
                  basic("bob", "pw-bob")) == 403
    # The same user again, and another user as a viewer: both fine.
    a2 = open_ws(srv.port, "/t?session=s1", basic("alice", "pw-alice"))
    v = open_ws(srv.port, "/t/watch?session=s1", basic("bob", "pw-bob"))
    send_frame(a2, OP_TEXT, b"x")
    assert text(v) == "got x"
    for c in (a, a2, v):
        c.close()


def test_share_user_one_session_per_user(wsbridge, tmp_path, lines):
    htpasswd = users_file(tmp_path)
    srv = start(wsbridge, tmp_path,
                "[route /mine]\nexec = %s\nshare = user\nauth = basic\n"
                "auth_file = %s\n" % (lines, htpasswd))
    a1 = open_ws(srv.port, "/mine", basic("alice", "pw-alice"))
    pa = text(a1)
    a2 = open_ws(srv.port, "/mine", basic("alice", "pw-alice"))
    b = open_ws(srv.port, "/mine", basic("bob", "pw-bob"))
    assert text(b) != pa
    send_frame(a2, OP_TEXT, b"alice")
    assert text(a1) == "got alice"
    assert text(a2) == "got alice"
    with pytest.raises(TimeoutError):
        recv_message(b, timeout=0.3)
    for c in (a1, a2, b):
        c.close()


def pid_of(first_line):
    assert first_line.startswith("pid "), first_line
    return int(first_line.split()[1])


def test_persist_keeps_the_program_and_replays(wsbridge, tmp_path, lines):
    srv = start(wsbridge, tmp_path,
                "[route /t]\nexec = %s\nshare = id\npersist = 1h\n"
                "replay = 4K\n" % lines)
    a = open_ws(srv.port, "/t?session=keep")
    pid = pid_of(text(a))
    send_frame(a, OP_TEXT, b"before")
    assert text(a) == "got before"
    a.close()
    wait_log(srv, "no client, kept for")
    assert wsutil.alive(pid)
    b = open_ws(srv.port, "/t?session=keep")
    # The replay: what was said before, then live output.
    assert text(b) == "pid %d" % pid
    assert text(b) == "got before"
    send_frame(b, OP_TEXT, b"after")
    assert text(b) == "got after"
    b.close()


def test_persist_expiry_ends_the_program(wsbridge, tmp_path, lines):
    srv = start(wsbridge, tmp_path,
                "[route /t]\nexec = %s\nshare = id\npersist = 200ms\n"
                "close_grace = 200ms\n" % lines)
    a = open_ws(srv.port, "/t?session=gone")
    pid = pid_of(text(a))
    a.close()
    wait_log(srv, "no client for persist: stopped")
    wsutil.wait_until(lambda: not wsutil.alive(pid), 5,
                      what="the program to end after persist")
    b = open_ws(srv.port, "/t?session=gone")
    assert pid_of(text(b)) != pid       # a new session
    b.close()


def test_without_persist_the_last_client_ends_it(wsbridge, tmp_path, lines):
    srv = start(wsbridge, tmp_path,
                "[route /t]\nexec = %s\nshare = route\n"
                "close_grace = 200ms\n" % lines)
    a = open_ws(srv.port, "/t")
    pid = pid_of(text(a))
    b = open_ws(srv.port, "/t")
    a.close()
    send_frame(b, OP_TEXT, b"still")
    assert text(b) == "got still"
    assert wsutil.alive(pid)
    b.close()
    wsutil.wait_until(lambda: not wsutil.alive(pid), 5,
                      what="the program to end with its last client")


def test_replay_is_bounded_whole_lines(wsbridge, tmp_path, script):
    prog = script("count.sh", "#!/bin/sh\ni=0\nwhile [ $i -lt 50 ]; do "
                  "i=$((i+1)); echo \"line $i\"; done\necho done\n"
                  "exec cat\n")
    srv = start(wsbridge, tmp_path,
                "[route /c]\nexec = %s\nshare = route\nreplay = 40\n"
                % prog)
    a = open_ws(srv.port, "/c")
    until(a, "done")
    b = open_ws(srv.port, "/c")
    got = until(b, "done", limit=10)
    # At most 40 bytes of the latest whole lines, the last one included.
    assert sum(len(x) for x in got) <= 40, got
    assert got[-2:] == ["line 50", "done"], got
    assert all(x.startswith("line ") or x == "done" for x in got), got
    a.close()
    b.close()


# A steady line source, about 1 MB/s (any reading client keeps up; one
# that never reads falls behind within a second or so): "pid N", then
# 1000-byte lines until the session stops it.
FAST = """#!/bin/sh
echo "pid $$"
exec perl -e '$| = 1; while (1) { print "0123" x 250, "\\n";
    select(undef, undef, undef, 0.001) }'
"""


def open_stuck(port, path):
    """A client with a tiny receive window that will never read."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    conn = wsutil.RawConn(sock)
    key = wsutil.make_key()
    conn.sendall(wsutil.request_bytes("GET", path, [
        ("Host", "127.0.0.1:%d" % port), ("Upgrade", "websocket"),
        ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13")]))
    head = wsutil.read_response(conn)
    assert head.status == 101, head
    return conn


class Reader:
    """Reads a client's messages on a thread until stopped or closed."""

    def __init__(self, conn):
        self.conn, self.count, self.error = conn, 0, None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            while not self.stop.is_set():
                recv_message(self.conn, timeout=10)
                self.count += 1
        except Exception as e:      # reported by finish()
            self.error = e

    def finish(self):
        self.stop.set()
        self.thread.join(15)
        assert not self.thread.is_alive()
        return self.count


def test_slow_client_closed_1008_others_go_on(wsbridge, tmp_path, script):
    prog = script("fast.sh", FAST)
    srv = start(wsbridge, tmp_path,
                "[route /f]\nexec = %s\nshare = route\n"
                "buffer_size = 16K\n" % prog)
    fast = open_ws(srv.port, "/f")
    reader = Reader(fast)
    stuck = open_stuck(srv.port, "/f")
    # stuck never reads: the server closes it as too slow while fast,
    # reading all along, keeps getting lines.
    wait_log(srv, "fell behind", timeout=15)
    before = reader.count
    wsutil.wait_until(lambda: reader.count > before + 200, 10,
                      what="lines for the reading client after the close")
    assert reader.error is None, reader.error
    m = metrics(srv.port)
    assert sample(m, "wsbridge_slow_clients_closed_total", "/f") == 1
    # What stuck finally reads ends with a Close 1008 "too slow".
    code, reason = expect_close(stuck, timeout=15, allow_data=True,
                                eof=False)
    assert (code, reason) == (1008, "too slow")
    stuck.close()
    wsutil.wait_until(lambda: sample(metrics(srv.port),
                                     "wsbridge_session_clients", "/f") == 1,
                      10, what="the slow client to be gone")
    reader.finish()
    assert reader.error is None, reader.error
    fast.close()


def test_slow_client_skip_stays_connected(wsbridge, tmp_path, script):
    prog = script("fast.sh", FAST)
    srv = start(wsbridge, tmp_path,
                "[route /f]\nexec = %s\nshare = route\n"
                "buffer_size = 16K\nslow_client = skip\n" % prog)
    fast = open_ws(srv.port, "/f")
    reader = Reader(fast)
    slow = open_stuck(srv.port, "/f")
    # slow reads nothing until output was skipped for it.
    wsutil.wait_until(lambda: sample(metrics(srv.port),
                                     "wsbridge_skipped_bytes_total",
                                     "/f") > 0, 15,
                      what="output skipped for the slow client")
    reader.finish()
    assert reader.error is None and reader.count > 0, reader.error
    # Still connected: it reads on and gets whole lines.
    for _ in range(50):
        line = text(slow, timeout=10)
        assert line.startswith("0123") or line.startswith("pid "), line
    assert "fell behind" not in srv.log()
    fast.close()
    slow.close()


def test_program_exit_closes_every_client_alike(wsbridge, tmp_path, script):
    prog = script("ends.sh", "#!/bin/sh\nread line\necho bye\nexit 3\n")
    srv = start(wsbridge, tmp_path,
                "[route /e]\nexec = %s\nshare = route\n"
                "[route /e/watch]\nview = /e\n" % prog)
    a = open_ws(srv.port, "/e")
    viewers = [open_ws(srv.port, "/e/watch") for _ in range(3)]
    send_frame(a, OP_TEXT, b"go")
    for c in [a] + viewers:
        assert text(c) == "bye"
        code, reason = expect_close(c, reply=True)
        assert (code, reason) == (1011, "exit 3")
        c.close()
    # Ended: a new client starts a new session.
    assert status(srv.port, "/e/watch") == 404


def test_sigterm_closes_every_client_1001(wsbridge, tmp_path, lines):
    srv = start(wsbridge, tmp_path,
                "[route /t]\nexec = %s\nshare = id\npersist = 1h\n"
                "close_grace = 200ms\n"
                "[route /w]\nview = /t\n" % lines)
    a = open_ws(srv.port, "/t?session=one")
    pid1 = pid_of(text(a))
    b = open_ws(srv.port, "/t?session=two")
    pid2 = pid_of(text(b))
    v = open_ws(srv.port, "/w?session=one")
    c = open_ws(srv.port, "/t?session=kept")
    pid3 = pid_of(text(c))
    c.close()                       # persisting, no client
    wait_log(srv, "no client, kept for")
    os.kill(srv.pid, signal.SIGTERM)
    for conn in (a, b, v):
        code, _ = expect_close(conn, reply=True, allow_data=True, eof=False)
        assert code == 1001
        conn.close()
    wsutil.wait_until(lambda: srv.proc.poll() is not None, 10,
                      what="wsbridge to exit")
    assert srv.proc.returncode == 0
    wsutil.wait_until(lambda: not any(wsutil.alive(p)
                                      for p in (pid1, pid2, pid3)), 5,
                      what="every session's program to end")


def test_reload_keeps_attached_sessions(wsbridge, tmp_path, lines):
    srv, path = start_config(wsbridge, tmp_path,
                             "[route /t]\nexec = %s\nshare = route\n"
                             % lines)
    a = open_ws(srv.port, "/t")
    text(a)
    body = path.read_text().replace("[route /t]", "[route /other]")
    path.write_text(body)
    os.kill(srv.pid, signal.SIGHUP)
    wait_log(srv, "reload")
    assert status(srv.port, "/t") == 404
    send_frame(a, OP_TEXT, b"kept")
    assert text(a) == "got kept"
    a.close()


@pytest.mark.parametrize("routes,line,msg", [
    ("[route /w]\nview = /none\n", 2, "view: no route /none"),
    ("[route /a]\nexec = /bin/cat\n[route /w]\nview = /a\n", 4,
     "is not shared"),
    ("[route /a]\nexec = /bin/cat\nshare = user\n", 3,
     "share = user needs auth"),
    ("[route /a]\necho = yes\nshare = route\n", 3,
     "share needs exec or connect"),
    ("[route /a]\nexec = /bin/cat\npersist = 1m\n", 1,
     "persist and replay need share"),
    ("[route /a]\nexec = /bin/cat\nshare = sometimes\n", 3,
     "invalid share"),
], ids=["view-missing", "view-unshared", "user-no-auth", "echo",
        "persist-alone", "bad-word"])
def test_config_errors_name_the_line(tmp_path, routes, line, msg):
    path = write_config(tmp_path, routes)
    p = run_bin(["--check", "-c", str(path)])
    out = (p.stdout + p.stderr).decode()
    assert p.returncode != 0, out
    assert "%s:%d:" % (path, line) in out and msg in out, out


def test_workers_above_one_refused_with_share(tmp_path):
    path = write_config(tmp_path, "[server]\nworkers = 2\n"
                        "[route /a]\nexec = /bin/cat\nshare = route\n")
    p = run_bin(["--check", "-c", str(path)])
    out = (p.stdout + p.stderr).decode()
    assert p.returncode != 0
    assert "%s:2:" % path in out and "workers = 2" in out, out


PTY_INIT = b'{"AuthToken":"","columns":100,"rows":30}'


def test_pty_shared_writer_and_viewer(wsbridge, tmp_path):
    srv = start(wsbridge, tmp_path,
                "[route /term]\nexec = /bin/sh\nmode = pty\nshare = id\n"
                "replay = 64K\nclose_grace = 200ms\n"
                "[route /term/watch]\nview = /term\n")
    hdr = {"Sec-WebSocket-Protocol": "tty"}
    w = open_ws(srv.port, "/term?session=p", hdr)
    send_frame(w, OP_BINARY, PTY_INIT)
    v = open_ws(srv.port, "/term/watch?session=p", hdr)
    send_frame(v, OP_BINARY, b'{"AuthToken":"","columns":20,"rows":5}')
    # The viewer is told the title like any client (the replay and live
    # output may come first).
    for _ in range(50):
        op, data = recv_message(v)
        assert op == OP_BINARY, op
        if data[:1] == b"1":
            break
    else:
        raise AssertionError("no title for the viewer")
    # The viewer's keys and resize go nowhere; the writer's run.
    send_frame(v, OP_BINARY, b"0echo VIEWER$((6*7))\r")
    send_frame(v, OP_BINARY, b'1{"columns":20,"rows":5}')
    send_frame(w, OP_BINARY, b"0stty size; echo WRITER$((6*7))\r")

    def screen(conn, want, timeout=10):
        out = b""
        deadline = time.monotonic() + timeout
        while want not in out:
            op, data = recv_message(conn, deadline - time.monotonic())
            if data[:1] == b"0":
                out += data[1:]
        return out
    seen = screen(v, b"WRITER42")
    assert b"VIEWER42" not in seen
    assert b"30 100" in seen        # the writer's size, not the viewer's
    w.close()
    v.close()


def test_lone_client_that_pauses_is_never_too_slow(wsbridge, tmp_path,
                                                   script):
    # The session paces by its roomiest client; a read that completes a
    # held partial line must still fit it (the bench saw a lone reader
    # closed 1008 within 100 ms).
    prog = script("yes.sh", "#!/bin/sh\nexec yes "
                  "012345678901234567890123456789012345678901234567890123"
                  "456789\n")
    srv = start(wsbridge, tmp_path,
                "[route /f]\nexec = %s\nshare = route\n"
                "buffer_size = 4K\n" % prog)
    c = open_ws(srv.port, "/f")
    for _ in range(20):
        # A reader that stops now and then (not a synchronisation): its
        # queue fills, the program waits, nothing is dropped.
        time.sleep(0.05)
        for _ in range(200):
            assert text(c).startswith("0123")
    assert "fell behind" not in srv.log()
    c.close()
