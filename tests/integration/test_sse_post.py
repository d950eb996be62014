"""Issue 16: input for Server-Sent Events sessions. POST
/route?session=ID with one message as the body goes to the program of the
open stream with that id: 204 queued; 413 over max_message_size; 429 +
Retry-After while the program's input is full (nothing lost); 404 for an
unknown id; 403 for a disallowed Origin or another user's stream; 415 for
binary on a text route; 400 for text that is not UTF-8."""

import base64
import json
import secrets
import subprocess

from cfgutil import start_config
from test_sse import SSE, TIMEOUT, parse_events, sse_get
import wsutil

GOOD = "http://good.example"


def server(wsbridge, tmp_path, route, server_extra=""):
    srv, _ = start_config(wsbridge, tmp_path, route, server_extra)
    return srv


class Stream:
    """An open event stream: its session event read, events on demand."""

    def __init__(self, port, path, headers=(SSE,)):
        self.conn, self.head = sse_get(port, path, headers)
        assert self.head.status == 200, self.head
        ev = parse_events(self.conn.recv_until(b"\n\n", timeout=TIMEOUT))
        assert ev[0][0] == "session", ev
        self.session = json.loads(ev[0][1])

    def event(self):
        while True:
            ev = parse_events(self.conn.recv_until(b"\n\n", limit=4 << 20,
                                                   timeout=TIMEOUT))
            if ev and ev[0][0] != "comment":
                return ev[0]

    def close(self):
        self.conn.close()


def post(port, target, body=b"", headers=(), chunked=False):
    conn = wsutil.connect_tcp(port, TIMEOUT)
    try:
        hdrs = [("Host", "127.0.0.1:%d" % port)] + list(headers)
        if chunked:
            hdrs.append(("Transfer-Encoding", "chunked"))
            data = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7]),
                                              body[i:i + 7])
                            for i in range(0, len(body), 7)) + b"0\r\n\r\n"
        else:
            hdrs.append(("Content-Length", str(len(body))))
            data = body
        conn.sendall(wsutil.request_bytes("POST", target, hdrs) + data)
        return wsutil.read_response(conn, timeout=TIMEOUT)
    finally:
        conn.close()


def test_text_post_reaches_the_program(wsbridge, tmp_path):
    srv = server(wsbridge, tmp_path, "[route /cat]\nexec = cat\n"
                 "transports = websocket, sse\n")
    s = Stream(srv.port, "/cat")
    try:
        for word in ("hello", "w\u00f6rld"):
            r = post(srv.port, s.session["send"], word.encode(),
                     [("Content-Type", "text/plain; charset=utf-8")])
            assert r.status == 204, r
            assert r.header("content-length") is None
            assert s.event()[:2] == ("message", word)
        # Chunked bodies too (fetch with a stream, curl -T -).
        r = post(srv.port, s.session["send"], b"in pieces", chunked=True)
        assert r.status == 204, r
        assert s.event()[:2] == ("message", "in pieces")
    finally:
        s.close()


def test_binary_post(wsbridge, tmp_path):
    srv = server(wsbridge, tmp_path, "[route /bin]\nexec = cat\n"
                 "mode = binary\ntransports = sse\n")
    s = Stream(srv.port, "/bin")
    try:
        data = bytes(range(256))
        r = post(srv.port, s.session["send"], data,
                 [("Content-Type", "application/octet-stream")])
        assert r.status == 204, r
        got = b""
        while len(got) < len(data):
            ev = s.event()
            assert ev[0] == "binary"
            got += base64.b64decode(ev[1])
        assert got == data
    finally:
        s.close()


def test_unknown_and_malformed_session_404(wsbridge, tmp_path):
    srv = server(wsbridge, tmp_path, "[route /cat]\nexec = cat\n"
                 "transports = sse\nsession_timeout = 200ms\n")
    r = post(srv.port, "/cat?session=" + secrets.token_hex(16), b"x")
    assert r.status == 404
    r = post(srv.port, "/cat?session=nothex", b"x")
    assert r.status == 404
    s = Stream(srv.port, "/cat")
    sid = s.session["id"]
    s.close()
    # Its stream gone (and not resumed within session_timeout), the
    # session is gone: 404, never a new program.
    wsutil.wait_until(lambda: post(srv.port, "/cat?session=" + sid,
                                   b"x").status == 404, TIMEOUT,
                      what="404 once the stream closed")


def test_another_routes_session_404(wsbridge, tmp_path):
    srv = server(wsbridge, tmp_path, "[route /a]\nexec = cat\n"
                 "transports = sse\n[route /b]\nexec = cat\n"
                 "transports = sse\n")
    s = Stream(srv.port, "/a")
    try:
        r = post(srv.port, "/b?session=" + s.session["id"], b"x")
        assert r.status == 404
        r = post(srv.port, "/a?session=" + s.session["id"], b"x")
        assert r.status == 204
    finally:
        s.close()


def test_over_max_message_size_413(wsbridge, tmp_path):
    srv = server(wsbridge, tmp_path, "[route /cat]\nexec = cat\n"
                 "transports = sse\nmax_message_size = 100\n")
    s = Stream(srv.port, "/cat")
    try:
        r = post(srv.port, s.session["send"], b"a" * 101)
        assert r.status == 413
        r = post(srv.port, s.session["send"], b"a" * 101, chunked=True)
        assert r.status == 413
        r = post(srv.port, s.session["send"], b"b" * 100)
        assert r.status == 204
        assert s.event()[:2] == ("message", "b" * 100)
    finally:
        s.close()


def test_full_input_429_then_nothing_lost(wsbridge, tmp_path, script):
    # The program reads nothing until told: POSTs fill its pipe and the
    # route's buffer, then get 429 + Retry-After; every accepted message
    # comes back, in order, once it reads.
    go = tmp_path / "go"
    prog = script("late.sh", "i=0\nwhile [ ! -e '%s' ] && [ $i -lt 600 ]; "
                  "do sleep 0.05; i=$((i+1)); done\nexec cat\n" % go)
    srv = server(wsbridge, tmp_path, "[route /late]\nexec = %s\n"
                 "transports = sse\nbuffer_size = 4K\n" % prog)
    s = Stream(srv.port, "/late")
    try:
        sent, refused = [], None
        for i in range(2000):
            msg = ("%05d" % i) * 200          # 1000 bytes
            r = post(srv.port, s.session["send"], msg.encode())
            if r.status == 429:
                refused = r
                break
            assert r.status == 204, r
            sent.append(msg)
        assert refused is not None, "never 429 after %d POSTs" % len(sent)
        assert int(refused.header("retry-after")) > 0
        assert len(sent) > 4
        go.write_text("")
        for msg in sent:
            assert s.event()[:2] == ("message", msg)
    finally:
        s.close()


def test_origin_rules_for_post(wsbridge, tmp_path):
    srv = server(wsbridge, tmp_path, "[route /cat]\nexec = cat\n"
                 "transports = sse\norigins = %s\n" % GOOD)
    s = Stream(srv.port, "/cat", [SSE, ("Origin", GOOD)])
    try:
        r = post(srv.port, s.session["send"], b"evil",
                 [("Origin", "http://evil.example")])
        assert r.status == 403
        assert r.header("access-control-allow-origin") is None
        r = post(srv.port, s.session["send"], b"good", [("Origin", GOOD)])
        assert r.status == 204
        assert r.header("access-control-allow-origin") == GOOD
        assert s.event()[:2] == ("message", "good")
    finally:
        s.close()


def htpasswd(tmp_path, users):
    lines = []
    for user, pw in users.items():
        h = subprocess.run(["openssl", "passwd", "-6", pw],
                           capture_output=True, timeout=30).stdout.decode()
        lines.append(user + ":" + h.strip())
    path = tmp_path / "htpasswd"
    path.write_text("\n".join(lines) + "\n")
    return path


def basic(user, pw):
    return ("Authorization", "Basic " +
            base64.b64encode(("%s:%s" % (user, pw)).encode()).decode())


def test_another_users_session_403(wsbridge, tmp_path):
    path = htpasswd(tmp_path, {"alice": "wonderland", "bob": "builder"})
    srv = server(wsbridge, tmp_path, "[route /cat]\nexec = cat\n"
                 "transports = sse\nauth = basic\nauth_file = %s\n" % path)
    s = Stream(srv.port, "/cat", [SSE, basic("alice", "wonderland")])
    try:
        r = post(srv.port, s.session["send"], b"x",
                 [basic("bob", "builder")])
        assert r.status == 403
        # Without credentials: authentication first, as for a WebSocket.
        r = post(srv.port, s.session["send"], b"x")
        assert r.status == 401
        r = post(srv.port, s.session["send"], b"mine",
                 [basic("alice", "wonderland")])
        assert r.status == 204
        assert s.event()[:2] == ("message", "mine")
    finally:
        s.close()


def test_same_user_other_credential_bytes_may_post(wsbridge, tmp_path):
    # The session is the user's, not the header's: alice authenticated
    # with "basic" (the scheme is case-insensitive) is still alice. Main
    # compared a digest of the Authorization bytes and said 403.
    path = htpasswd(tmp_path, {"alice": "wonderland"})
    srv = server(wsbridge, tmp_path, "[route /cat]\nexec = cat\n"
                 "transports = sse\nauth = basic\nauth_file = %s\n" % path)
    s = Stream(srv.port, "/cat", [SSE, basic("alice", "wonderland")])
    try:
        name, value = basic("alice", "wonderland")
        r = post(srv.port, s.session["send"], b"still alice",
                 [(name, "basic " + value.split(" ", 1)[1])])
        assert r.status == 204, r
        assert s.event()[:2] == ("message", "still alice")
    finally:
        s.close()


def test_binary_on_text_route_415_and_bad_utf8_400(wsbridge, tmp_path):
    srv = server(wsbridge, tmp_path, "[route /cat]\nexec = cat\n"
                 "transports = sse\n")
    s = Stream(srv.port, "/cat")
    try:
        r = post(srv.port, s.session["send"], b"\x00\x01",
                 [("Content-Type", "application/octet-stream")])
        assert r.status == 415
        r = post(srv.port, s.session["send"], b"\xff\xfe")
        assert r.status == 400
        # The stream is still fine.
        r = post(srv.port, s.session["send"], b"ok")
        assert r.status == 204
        assert s.event()[:2] == ("message", "ok")
    finally:
        s.close()


def test_post_without_session_is_unchanged(wsbridge, tmp_path):
    srv = server(wsbridge, tmp_path, "[route /cat]\nexec = cat\n"
                 "transports = sse\n")
    r = post(srv.port, "/cat", b"x")
    assert r.status == 400          # a body nothing takes, as before


def test_input_counts_in_the_access_log(wsbridge, tmp_path):
    # The line comes when the program ends: session_timeout after the
    # stream dropped.
    srv = server(wsbridge, tmp_path, "[route /cat]\nexec = cat\n"
                 "transports = sse\nsession_timeout = 200ms\n",
                 "log_level = access\n")
    s = Stream(srv.port, "/cat")
    r = post(srv.port, s.session["send"], b"abc")
    assert r.status == 204
    assert s.event()[:2] == ("message", "abc")
    s.close()
    from cfgutil import wait_log
    log = wait_log(srv, "status=200")
    assert "in=3/1" in log, log
    assert s.session["id"] not in log


def test_shared_session_writer_mid_message_429(wsbridge, tmp_path):
    # share = route: a WebSocket writer holds the input turn while its
    # message is half sent; a POST then must not be taken (and lost):
    # 429, and once the writer is done the POST goes in.
    from wsutil import open_ws, recv_frame, send_frame
    srv = server(wsbridge, tmp_path, "[route /chat]\nexec = cat\n"
                 "share = route\ntransports = websocket, sse\n")
    s = Stream(srv.port, "/chat")
    ws = open_ws(srv.port, "/chat")
    try:
        send_frame(ws, 0x1, "ws ", fin=False)
        # Frames are taken in order: the pong says the fragment is in
        # (and the turn the writer's).
        send_frame(ws, 0x9, b"sync")
        assert recv_frame(ws)[1:] == (0xA, b"sync")
        r = post(srv.port, s.session["send"], b"posted")
        assert r.status == 429, r
        assert int(r.header("retry-after")) > 0
        send_frame(ws, 0x0, "done", fin=True)
        assert s.event()[:2] == ("message", "ws done")
        r = post(srv.port, s.session["send"], b"posted")
        assert r.status == 204, r
        assert s.event()[:2] == ("message", "posted")
    finally:
        ws.close()
        s.close()


def test_view_route_stream_is_read_only_403(wsbridge, tmp_path):
    srv = server(wsbridge, tmp_path, "[route /chat]\nexec = cat\n"
                 "share = route\ntransports = websocket, sse\n"
                 "[route /watch]\nview = /chat\ntransports = sse\n")
    writer = Stream(srv.port, "/chat")
    viewer = Stream(srv.port, "/watch")
    try:
        r = post(srv.port, viewer.session["send"], b"from a viewer")
        assert r.status == 403, r
        r = post(srv.port, writer.session["send"], b"from the writer")
        assert r.status == 204, r
        assert viewer.event()[:2] == ("message", "from the writer")
        assert writer.event()[:2] == ("message", "from the writer")
    finally:
        viewer.close()
        writer.close()
