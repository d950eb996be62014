"""Issue 16, first slice: Server-Sent Events on routes with
`transports = websocket, sse`. A GET with Accept: text/event-stream starts
the route's backend as a WebSocket would and streams its output as events:
a session event, text as data lines, binary as base64, comment pings, a
close event with the code; a client that leaves ends the program."""

import base64
import json
import os
import re
import signal
import subprocess
import time

import pytest

from cfgutil import run_bin, start_config, wait_log, write_config
import wsutil
from wsutil import raw_handshake

SSE = ("Accept", "text/event-stream")
TIMEOUT = 10.0


def sse_get(port, path, headers=(SSE,)):
    conn = wsutil.connect_tcp(port, TIMEOUT)
    hdrs = [("Host", "127.0.0.1:%d" % port)] + list(headers)
    conn.sendall(wsutil.request_bytes("GET", path, hdrs))
    head = wsutil.Head(conn.recv_until(b"\r\n\r\n", timeout=TIMEOUT)[:-4])
    return conn, head


def parse_events(data):
    """The HTML standard's event-stream parser: [(type, data, id)] in
    order, comments as ("comment", text, None)."""
    events, buf, etype, eid = [], [], "", None
    for line in re.split(r"\r\n|\r|\n", data.decode("utf-8"))[:-1]:
        if line == "":
            if buf:
                events.append((etype or "message", "\n".join(buf), eid))
            buf, etype = [], ""
            continue
        if line.startswith(":"):
            events.append(("comment", line[1:], None))
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            buf.append(value)
        elif name == "event":
            etype = value
        elif name == "id":
            eid = value
    # An id is the session's sequence number (what a reconnect resumes).
    assert all(re.fullmatch(r"[0-9]+", e[2]) for e in events
               if e[2] is not None), events
    return events


def read_stream(port, path, headers=(SSE,)):
    conn, head = sse_get(port, path, headers)
    try:
        body = conn.recv_to_eof(timeout=TIMEOUT) if head.status == 200 \
            else b""
    finally:
        conn.close()
    return head, parse_events(body)


def server(wsbridge, tmp_path, routes, extra=""):
    srv, _ = start_config(wsbridge, tmp_path, routes, extra)
    return srv


def test_headers_session_text_and_close_1000(wsbridge, tmp_path, script):
    prog = script("count.sh", "echo one\necho two\n")
    srv = server(wsbridge, tmp_path, "[route /count]\nexec = %s\n"
                 "transports = websocket, sse\n" % prog)
    r = subprocess.run(["curl", "-sS", "-i", "-N", "--max-time", "10",
                        "-H", "Accept: text/event-stream",
                        "http://127.0.0.1:%d/count" % srv.port],
                       capture_output=True, timeout=20)
    assert r.returncode == 0, r.stderr
    raw_head, _, body = r.stdout.partition(b"\r\n\r\n")
    head = wsutil.Head(raw_head)
    assert head.status == 200
    assert head.header("content-type") == "text/event-stream"
    assert head.header("cache-control") == "no-store"
    assert head.header("x-accel-buffering") == "no"
    assert head.header("connection") == "close"
    assert head.header("content-length") is None
    ev = parse_events(body)
    assert ev[0][0] == "session"
    sess = json.loads(ev[0][1])
    assert re.fullmatch(r"[0-9a-f]{32}", sess["id"])
    assert sess["send"] == "/count?session=" + sess["id"]
    assert ev[1:] == [("message", "one", "1"), ("message", "two", "2"),
                      ("close", '{"code":1000,"reason":""}', "2")]
    # The id is a credential to be: never in the log whole.
    assert sess["id"] not in srv.log()


def test_session_ids_differ(wsbridge, tmp_path, script):
    prog = script("one.sh", "echo x\n")
    srv = server(wsbridge, tmp_path, "[route /one]\nexec = %s\n"
                 "transports = sse\n" % prog)
    ids = {json.loads(read_stream(srv.port, "/one")[1][0][1])["id"]
           for _ in range(3)}
    assert len(ids) == 3


def test_text_with_line_breaks_is_data_lines(wsbridge, tmp_path, script):
    # Text mode makes a message of a line; a CR inside it is a line break
    # to an SSE parser and must become a data line of its own.
    prog = script("cr.sh", "printf 'first\\rsecond\\rthird\\n'\n")
    srv = server(wsbridge, tmp_path, "[route /cr]\nexec = %s\n"
                 "transports = sse\n" % prog)
    head, ev = read_stream(srv.port, "/cr")
    assert head.status == 200
    assert ev[1] == ("message", "first\nsecond\nthird", "1")
    assert ev[2][0] == "close"


def test_binary_as_base64(wsbridge, tmp_path, script):
    payload = bytes(range(256)) + b"\x00\xff\n\r"
    (tmp_path / "blob").write_bytes(payload)
    prog = script("bin.sh", "cat '%s'\n" % (tmp_path / "blob"))
    srv = server(wsbridge, tmp_path, "[route /bin]\nexec = %s\n"
                 "mode = binary\ntransports = sse\n" % prog)
    head, ev = read_stream(srv.port, "/bin")
    assert head.status == 200
    data = [e for e in ev if e[0] == "binary"]
    assert data and [e[2] for e in data] == [str(i + 1)
                                            for i in range(len(data))]
    assert b"".join(base64.b64decode(e[1]) for e in data) == payload
    assert ev[-1] == ("close", '{"code":1000,"reason":""}', data[-1][2])


def test_close_1011_after_exit_1(wsbridge, tmp_path, script):
    prog = script("fail.sh", "echo bye\nexit 1\n")
    srv = server(wsbridge, tmp_path, "[route /fail]\nexec = %s\n"
                 "transports = sse\n" % prog)
    head, ev = read_stream(srv.port, "/fail")
    assert ev[1] == ("message", "bye", "1")
    assert ev[-1][0] == "close"
    assert json.loads(ev[-1][1])["code"] == 1011


def test_ping_comment_every_interval(wsbridge, tmp_path, script):
    prog = script("quiet.sh", "echo hi\nexec sleep 600\n")
    srv = server(wsbridge, tmp_path, "[route /quiet]\nexec = %s\n"
                 "transports = sse\nping_interval = 100ms\n" % prog)
    conn, head = sse_get(srv.port, "/quiet")
    try:
        assert head.status == 200
        conn.recv_until(b"data: hi\n\n", timeout=TIMEOUT)
        # Two comments: the timer repeats.
        conn.recv_until(b":\n\n", timeout=TIMEOUT)
        conn.recv_until(b":\n\n", timeout=TIMEOUT)
    finally:
        conn.close()


def test_client_leaving_ends_the_program(wsbridge, tmp_path, script):
    # A dropped stream may come back with Last-Event-ID: the program
    # waits session_timeout for it (test_sse_resume.py), then goes.
    pidfile = tmp_path / "pid"
    prog = script("stay.sh", "echo $$ > '%s'\necho ready\n"
                  "exec sleep 600\n" % pidfile)
    srv = server(wsbridge, tmp_path, "[route /stay]\nexec = %s\n"
                 "transports = sse\nsession_timeout = 200ms\n" % prog)
    conn, head = sse_get(srv.port, "/stay")
    conn.recv_until(b"data: ready\n\n", timeout=TIMEOUT)
    pid = int(pidfile.read_text())
    assert wsutil.alive(pid)
    conn.close()
    # Gone and reaped: no zombie left behind.
    wsutil.wait_until(lambda: wsutil.proc_stat(pid) is None, TIMEOUT,
                      what="pid %d reaped" % pid)
    wait_log(srv, "client gone")
    wait_log(srv, "no reconnect within session_timeout")


def test_same_environment_as_websocket(wsbridge, tmp_path, script):
    prog = script("env.sh", "env\n")
    srv = server(wsbridge, tmp_path, "[route /env]\nexec = %s\n"
                 "transports = websocket, sse\n" % prog)
    _, ev = read_stream(srv.port, "/env?a=1")
    env = dict(e[1].split("=", 1) for e in ev
               if e[0] == "message" and "=" in e[1])
    assert env["QUERY_STRING"] == "a=1"
    assert env["REQUEST_METHOD"] == "GET"
    assert env["SCRIPT_NAME"] == "/env"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["HTTP_ACCEPT"] == "text/event-stream"


def test_origins_checked_as_for_websocket(wsbridge, tmp_path, script):
    prog = script("o.sh", "echo ok\n")
    srv = server(wsbridge, tmp_path, "[route /o]\nexec = %s\n"
                 "transports = websocket, sse\n"
                 "origins = http://good.example\n" % prog)
    conn, head, _ = raw_handshake(srv.port, "/o",
                                  [("Origin", "http://evil.example")])
    conn.close()
    assert head.status == 403
    head, _ = read_stream(srv.port, "/o",
                          [SSE, ("Origin", "http://evil.example")])
    assert head.status == 403
    head, ev = read_stream(srv.port, "/o",
                           [SSE, ("Origin", "http://good.example")])
    assert head.status == 200 and ev[1] == ("message", "ok", "1")


def test_basic_auth_as_for_websocket(wsbridge, tmp_path, script):
    h = subprocess.run(["openssl", "passwd", "-6", "wonderland"],
                       capture_output=True, timeout=30).stdout.decode()
    (tmp_path / "htpasswd").write_text("alice:" + h.strip() + "\n")
    prog = script("a.sh", "echo user=$REMOTE_USER\n")
    srv = server(wsbridge, tmp_path, "[route /a]\nexec = %s\n"
                 "transports = sse\nauth = basic\nauth_file = %s\n"
                 % (prog, tmp_path / "htpasswd"))
    head, _ = read_stream(srv.port, "/a")
    assert head.status == 401
    assert head.header("www-authenticate").startswith("Basic")
    bad = "Basic " + base64.b64encode(b"alice:nope").decode()
    head, _ = read_stream(srv.port, "/a", [SSE, ("Authorization", bad)])
    assert head.status == 401
    good = "Basic " + base64.b64encode(b"alice:wonderland").decode()
    head, ev = read_stream(srv.port, "/a", [SSE, ("Authorization", good)])
    assert head.status == 200
    assert ev[1] == ("message", "user=alice", "1")


def test_route_without_sse_answers_as_before(wsbridge, tmp_path, script):
    prog = script("p.sh", "echo x\n")
    srv = server(wsbridge, tmp_path, "[route /p]\nexec = %s\n" % prog)
    head, _ = read_stream(srv.port, "/p")
    plain, _ = read_stream(srv.port, "/p", ())
    assert head.status == plain.status == 426


def test_websocket_refused_on_sse_only_route(wsbridge, tmp_path, script):
    prog = script("s.sh", "echo x\n")
    srv = server(wsbridge, tmp_path, "[route /s]\nexec = %s\n"
                 "transports = sse\n" % prog)
    conn, head, _ = raw_handshake(srv.port, "/s")
    conn.close()
    assert head.status == 400


def test_route_limit_applies(wsbridge, tmp_path, script):
    prog = script("l.sh", "echo in\nexec sleep 600\n")
    srv = server(wsbridge, tmp_path, "[route /l]\nexec = %s\n"
                 "transports = sse\nmax_connections = 1\n" % prog)
    conn, head = sse_get(srv.port, "/l")
    try:
        conn.recv_until(b"data: in\n\n", timeout=TIMEOUT)
        head2, _ = read_stream(srv.port, "/l")
        assert head2.status == 429
    finally:
        conn.close()


def test_access_log_line(wsbridge, tmp_path, script):
    prog = script("x.sh", "echo x\n")
    srv = server(wsbridge, tmp_path, "[route /x]\nexec = %s\n"
                 "transports = sse\n" % prog, "log_level = access\n")
    read_stream(srv.port, "/x")
    log = wait_log(srv, 'reason="closed"')
    assert re.search(r'path="/x" route=/x .*status=200 .*close=1000 '
                     r'exit="exit 0"', log), log


def check_errors(tmp_path, route):
    path = write_config(tmp_path, "[server]\nlisten = 127.0.0.1:1\n"
                        "[route /r]\nexec = /bin/cat\n" + route)
    r = run_bin(["-c", str(path), "--check"])
    return r.returncode, (r.stdout + r.stderr).decode(), str(path)


def test_config_poll_is_a_transport(tmp_path):
    rc, out, path = check_errors(tmp_path, "transports = websocket, poll\n")
    assert rc == 0, out


def test_config_unknown_transport(tmp_path):
    rc, out, path = check_errors(tmp_path, "transports = carrier-pigeon\n")
    assert rc == 1
    assert "%s:5:" % path in out and "carrier-pigeon" in out


def test_config_sse_with_pty(tmp_path):
    rc, out, path = check_errors(tmp_path, "mode = pty\ntransports = sse\n")
    assert rc == 1
    assert "%s:6:" % path in out
    assert "sse does not work with mode = pty" in out


def test_config_sse_ok(tmp_path):
    rc, out, _ = check_errors(tmp_path, "transports = sse, websocket\n")
    assert rc == 0, out


@pytest.mark.serial
def test_slow_client_backpressure_bounded_memory(wsbridge, tmp_path):
    # A program that floods; the client reads nothing for a while: the
    # session must stop reading the program (memory stays bounded), and
    # the events are whole and in order when the client reads again.
    srv = server(wsbridge, tmp_path, "[route /zero]\nexec = cat /dev/zero\n"
                 "mode = binary\ntransports = sse\n")
    baseline = wsutil.rss_kib(srv.pid)
    conn, head = sse_get(srv.port, "/zero")
    try:
        assert head.status == 200
        peak, deadline = 0, time.monotonic() + 2.0
        while time.monotonic() < deadline:
            peak = max(peak, wsutil.rss_kib(srv.pid))
            time.sleep(0.05)
        assert peak - baseline < 64 * 1024, \
            "wsbridge RSS grew %d KiB with a paused client" % (peak - baseline)
        assert wsutil.children(srv.pid), "the flooding program died"
        conn.recv_until(b"event: session\n", timeout=TIMEOUT)
        conn.recv_until(b"\n\n", timeout=TIMEOUT)
        got, seq = 0, 0
        while got < 8 << 20:
            ev = parse_events(conn.recv_until(b"\n\n", limit=4 << 20,
                                              timeout=TIMEOUT))
            assert len(ev) == 1 and ev[0][0] == "binary", ev[:1]
            seq += 1
            assert ev[0][2] == str(seq)
            data = base64.b64decode(ev[0][1])
            assert data == bytes(len(data))
            got += len(data)
    finally:
        conn.close()


def test_long_text_message_in_pieces_is_one_event(wsbridge, tmp_path,
                                                  script):
    # A line longer than one read reaches the transport in pieces: still
    # one event, its CR a line break even deep inside.
    prog = script("long.sh", "head -c 200000 /dev/zero | tr '\\0' a\n"
                  "printf '\\rb\\n'\n")
    srv = server(wsbridge, tmp_path, "[route /long]\nexec = %s\n"
                 "transports = sse\n" % prog)
    head, ev = read_stream(srv.port, "/long")
    assert head.status == 200
    assert [e[0] for e in ev] == ["session", "message", "close"]
    assert ev[1] == ("message", "a" * 200000 + "\nb", "1")


def test_shutdown_sends_close_1001(wsbridge, tmp_path, script):
    prog = script("wait.sh", "echo up\nexec sleep 600\n")
    srv = server(wsbridge, tmp_path, "[route /w]\nexec = %s\n"
                 "transports = sse\n" % prog)
    conn, head = sse_get(srv.port, "/w")
    try:
        conn.recv_until(b"data: up\n\n", timeout=TIMEOUT)
        os.kill(srv.pid, signal.SIGTERM)
        ev = parse_events(conn.recv_to_eof(timeout=TIMEOUT))
    finally:
        conn.close()
    assert ev[-1][0] == "close"
    assert json.loads(ev[-1][1])["code"] == 1001
