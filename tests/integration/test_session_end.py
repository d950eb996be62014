"""Issue 16: an explicit end for sessions reached without WebSocket.
DELETE /route?session=ID (the id POST input uses) ends the client's
member at once instead of after session_timeout: alone, its program's
stdin is closed and the close_grace / TERM / KILL sequence follows; an
attached event stream gets `event: close` (1000) and ends; a waiting poll
is answered with `closed`. Same checks as POST input (Origin, auth, the
owner: 403), 404 unknown or already ended; a shared session goes on
without that member; the preflight allows DELETE for allowed origins."""

import json
import secrets

from cfgutil import start_config, wait_log
from test_poll import collect, open_session, poll
from test_sse import parse_events
from test_sse_post import SSE, Stream, basic, htpasswd, post
import wsutil

TIMEOUT = 10.0
GOOD = "http://good.example"
REASON = "ended by the client"


def server(wsbridge, tmp_path, routes, extra=""):
    srv, _ = start_config(wsbridge, tmp_path, routes, extra)
    return srv


def delete(port, target, headers=()):
    conn = wsutil.connect_tcp(port, TIMEOUT)
    try:
        hdrs = [("Host", "127.0.0.1:%d" % port)] + list(headers)
        conn.sendall(wsutil.request_bytes("DELETE", target, hdrs))
        return wsutil.read_response(conn, timeout=TIMEOUT)
    finally:
        conn.close()


def group_route(script, tmp_path, path, transports, extra=""):
    """A program that ignores its stdin and has a child: only the grace
    sequence (TERM to the group) ends both. session_timeout is long, so
    nothing but the DELETE can end it within the test."""
    pidfile = tmp_path / "pids"
    prog = script("grp.sh", "sleep 600 &\necho $$ $! > '%s'\n"
                  "echo ready\nwait\n" % pidfile)
    return pidfile, ("[route %s]\nexec = %s\ntransports = %s\n"
                     "session_timeout = 600s\nclose_grace = 200ms\n%s"
                     % (path, prog, transports, extra))


def pids_of(pidfile):
    pids = wsutil.read_pids(pidfile, 2)
    assert len(pids) == 2 and all(wsutil.alive(p) for p in pids), pids
    return pids


def wait_gone(pids):
    for p in pids:
        wsutil.wait_until(lambda: wsutil.proc_stat(p) is None, TIMEOUT,
                          what="pid %d gone" % p)


def read_close(stream):
    """Events up to the close event (bounded), then EOF."""
    for _ in range(100):
        ev = stream.event()
        if ev[0] == "close":
            assert stream.conn.recv_to_eof(timeout=TIMEOUT) == b""
            return json.loads(ev[1])
    raise AssertionError("no close event")


def test_delete_ends_an_attached_sse_stream(wsbridge, tmp_path, script):
    pidfile, route = group_route(script, tmp_path, "/grp", "sse")
    srv = server(wsbridge, tmp_path, route)
    s = Stream(srv.port, "/grp")
    try:
        assert s.event()[:2] == ("message", "ready")
        pids = pids_of(pidfile)
        r = delete(srv.port, s.session["send"])
        assert r.status == 204, r
        assert r.header("content-length") is None
        close = read_close(s)
        assert close["code"] == 1000 and close["reason"] == REASON, close
    finally:
        s.close()
    wait_gone(pids)
    wait_log(srv, REASON)
    # Gone: a second DELETE, input and a resume all get 404.
    assert delete(srv.port, s.session["send"]).status == 404
    assert post(srv.port, s.session["send"], b"x").status == 404


def test_delete_ends_a_dropped_sse_stream(wsbridge, tmp_path, script):
    # The page closed its EventSource first (the stream is kept for a
    # reconnect), then said DELETE: no wait for session_timeout.
    pidfile, route = group_route(script, tmp_path, "/grp", "sse")
    srv = server(wsbridge, tmp_path, route)
    s = Stream(srv.port, "/grp")
    assert s.event()[:2] == ("message", "ready")
    pids = pids_of(pidfile)
    s.close()
    wait_log(srv, "kept for a reconnect", timeout=TIMEOUT)
    assert all(wsutil.alive(p) for p in pids)
    r = delete(srv.port, s.session["send"])
    assert r.status == 204, r
    wait_gone(pids)
    assert delete(srv.port, s.session["send"]).status == 404


def test_delete_ends_a_poll_session(wsbridge, tmp_path, script):
    pidfile, route = group_route(script, tmp_path, "/grp", "poll",
                                 "poll_timeout = 60s\n")
    srv = server(wsbridge, tmp_path, route, "log_level = debug\n")
    s = open_session(srv.port, "/grp")
    msgs, _ = collect(srv.port, "/grp", s["id"], want=1)
    assert msgs[0]["data"] == "ready"
    pids = pids_of(pidfile)
    waiting = wsutil.connect_tcp(srv.port, TIMEOUT)
    try:
        # (An earlier poll of collect may have waited too: after it.)
        start = len(srv.log())
        waiting.sendall(wsutil.request_bytes(
            "GET", "/grp?session=%s&after=1" % s["id"],
            [("Host", "127.0.0.1")]))
        wait_log(srv, "poll waits", timeout=TIMEOUT, start=start)
        r = delete(srv.port, s["send"])
        assert r.status == 204, r
        head = wsutil.read_response(waiting, timeout=TIMEOUT)
        assert head.status == 200, head
        assert json.loads(head.body) == {
            "messages": [], "closed": {"code": 1000, "reason": REASON}}
    finally:
        waiting.close()
    wait_gone(pids)
    assert delete(srv.port, s["send"]).status == 404
    assert poll(srv.port, "/grp", s["id"], 1)[0].status == 404


def test_unknown_and_malformed_404(wsbridge, tmp_path):
    srv = server(wsbridge, tmp_path, "[route /cat]\nexec = cat\n"
                 "transports = sse, poll\n[route /cat2]\nexec = cat\n"
                 "transports = poll\n")
    assert delete(srv.port, "/cat?session=" +
                  secrets.token_hex(16)).status == 404
    assert delete(srv.port, "/cat?session=nothex").status == 404
    # Another route's session is not this route's.
    s = open_session(srv.port, "/cat")
    r = delete(srv.port, "/cat2?session=" + s["id"])
    assert r.status == 404, r
    assert delete(srv.port, s["send"]).status == 204
    assert delete(srv.port, s["send"]).status == 404


def test_auth_and_owner(wsbridge, tmp_path):
    path = htpasswd(tmp_path, {"alice": "wonderland", "bob": "builder"})
    srv = server(wsbridge, tmp_path, "[route /cat]\nexec = cat\n"
                 "transports = sse, poll\nauth = basic\nauth_file = %s\n"
                 % path)
    alice, bob = [basic("alice", "wonderland")], [basic("bob", "builder")]
    s = Stream(srv.port, "/cat", [SSE] + alice)
    try:
        assert delete(srv.port, s.session["send"]).status == 401
        assert delete(srv.port, s.session["send"], bob).status == 403
        # Refused: the stream is still there and takes input.
        assert post(srv.port, s.session["send"], b"still",
                    alice).status == 204
        assert s.event()[:2] == ("message", "still")
        assert delete(srv.port, s.session["send"], alice).status == 204
        assert read_close(s)["code"] == 1000
    finally:
        s.close()
    p = open_session(srv.port, "/cat", alice)
    assert delete(srv.port, p["send"], bob).status == 403
    assert delete(srv.port, p["send"], alice).status == 204
    assert delete(srv.port, p["send"], alice).status == 404


def test_origin(wsbridge, tmp_path):
    srv = server(wsbridge, tmp_path, "[route /cat]\nexec = cat\n"
                 "transports = sse, poll\norigins = %s\n" % GOOD)
    s = open_session(srv.port, "/cat", [("Origin", GOOD)])
    r = delete(srv.port, s["send"], [("Origin", "http://evil.example")])
    assert r.status == 403
    r = delete(srv.port, s["send"], [("Origin", GOOD)])
    assert r.status == 204
    assert r.header("access-control-allow-origin") == GOOD


def test_preflight_allows_delete_for_allowed_origins(wsbridge, tmp_path):
    srv = server(wsbridge, tmp_path, "[route /cat]\nexec = cat\n"
                 "transports = sse, poll\norigins = %s\n" % GOOD)
    ask = [("Access-Control-Request-Method", "DELETE")]
    conn = wsutil.connect_tcp(srv.port, TIMEOUT)
    try:
        conn.sendall(wsutil.request_bytes("OPTIONS", "/cat?session=x", [
            ("Host", "127.0.0.1"), ("Origin", GOOD)] + ask))
        r = wsutil.read_response(conn, timeout=TIMEOUT)
    finally:
        conn.close()
    assert r.status == 204, r
    methods = [m.strip() for m in
               r.header("access-control-allow-methods").split(",")]
    assert "DELETE" in methods, methods
    assert r.header("access-control-allow-origin") == GOOD
    conn = wsutil.connect_tcp(srv.port, TIMEOUT)
    try:
        conn.sendall(wsutil.request_bytes("OPTIONS", "/cat?session=x", [
            ("Host", "127.0.0.1"), ("Origin", "http://evil.example")] + ask))
        r = wsutil.read_response(conn, timeout=TIMEOUT)
    finally:
        conn.close()
    assert r.status == 403, r
    assert r.header("access-control-allow-methods") is None
    assert r.header("access-control-allow-origin") is None


def test_shared_session_only_that_member_leaves(wsbridge, tmp_path, script):
    pidfile = tmp_path / "pid"
    prog = script("chat.sh", "echo $$ > '%s'\nexec cat\n" % pidfile)
    srv = server(wsbridge, tmp_path, "[route /chat]\nexec = %s\n"
                 "share = route\ntransports = websocket, sse, poll\n"
                 "session_timeout = 600s\n" % prog)
    ws = wsutil.open_ws(srv.port, "/chat")
    s = Stream(srv.port, "/chat")
    try:
        wsutil.wait_until(lambda: pidfile.exists() and
                          pidfile.read_text().strip() != "", TIMEOUT,
                          what="pid file")
        pid = int(pidfile.read_text())
        p = open_session(srv.port, "/chat")
        # The stream's member leaves; the others go on.
        assert delete(srv.port, s.session["send"]).status == 204
        close = read_close(s)
        assert (close["code"], close["reason"]) == (1000, REASON), close
        assert post(srv.port, s.session["send"], b"x").status == 404
        assert post(srv.port, p["send"], b"from poll").status == 204
        op, msg = wsutil.recv_message(ws, timeout=TIMEOUT)
        assert msg == b"from poll", (op, msg)
        msgs, _ = collect(srv.port, "/chat", p["id"], want=1)
        assert msgs[-1]["data"] == "from poll"
        # The poll member leaves; the WebSocket client goes on.
        assert delete(srv.port, p["send"]).status == 204
        wsutil.send_frame(ws, 0x1, "still here")
        op, msg = wsutil.recv_message(ws, timeout=TIMEOUT)
        assert msg == b"still here", (op, msg)
        assert wsutil.alive(pid)
    finally:
        s.close()
        ws.close()


def test_405_names_the_methods_a_route_takes(wsbridge, tmp_path):
    # A route with sse or poll also takes POST (input, opening a poll),
    # DELETE (the end) and OPTIONS (preflights): its 405 says so; a
    # WebSocket-only route's doesn't.
    from cfgutil import http_request
    srv = server(wsbridge, tmp_path, "[route /s]\nexec = cat\n"
                 "transports = websocket, sse, poll\n"
                 "[route /w]\nexec = cat\n")
    r = http_request(srv.port, "PUT", "/s")
    assert r.status == 405, r
    assert r.header("allow") == "GET, HEAD, POST, DELETE, OPTIONS", r
    r = http_request(srv.port, "PUT", "/w")
    assert r.status == 405, r
    assert r.header("allow") == "GET, HEAD", r
