"""Issue 16: long polling (`transports = poll`). POST /route?transport=poll
starts the route's backend as a WebSocket would and answers 201 with the
session's id; GET /route?session=ID&after=SEQ acknowledges up to SEQ and
answers with the messages after it as JSON, at once or within
poll_timeout; input by POST /route?session=ID. Output waits in a bounded
queue (the program is paused while it is full); a session without a poll
for session_timeout ends, its process group gone."""

import base64
import json
import os
import secrets
import time

import pytest

from cfgutil import start_config, wait_log
from test_sse import check_errors
from test_sse_post import basic, htpasswd, post
import wsutil

TIMEOUT = 10.0
GOOD = "http://good.example"


def server(wsbridge, tmp_path, routes, extra=""):
    srv, _ = start_config(wsbridge, tmp_path, routes, extra)
    return srv


def request(port, method, target, headers=(), body=b""):
    conn = wsutil.connect_tcp(port, TIMEOUT)
    try:
        hdrs = [("Host", "127.0.0.1:%d" % port)] + list(headers)
        if method == "POST":
            hdrs.append(("Content-Length", str(len(body))))
        conn.sendall(wsutil.request_bytes(method, target, hdrs) + body)
        head = wsutil.read_response(conn, timeout=TIMEOUT)
        return head, head.body
    finally:
        conn.close()


def open_session(port, path, headers=()):
    head, body = request(port, "POST", path + "?transport=poll", headers)
    assert head.status == 201, (head, body)
    assert head.header("content-type") == "application/json"
    s = json.loads(body)
    assert len(s["id"]) == 32 and int(s["id"], 16) >= 0
    assert s["send"] == "%s?session=%s" % (path, s["id"])
    return s


def poll(port, path, sid, after=None, headers=()):
    target = "%s?session=%s" % (path, sid)
    if after is not None:
        target += "&after=%d" % after
    head, body = request(port, "GET", target, headers)
    return head, (json.loads(body) if head.status == 200 else None)


def collect(port, path, sid, want=None, headers=(), limit=400):
    """Poll until closed (or `want` messages): every message, in order,
    acknowledged as it goes; the close."""
    msgs, after = [], 0
    for _ in range(limit):
        head, ans = poll(port, path, sid, after, headers)
        assert head.status == 200, head
        for m in ans["messages"]:
            assert m["seq"] == after + 1, (m["seq"], after)
            after = m["seq"]
            msgs.append(m)
        if ans["closed"] is not None or (want is not None and
                                         len(msgs) >= want):
            return msgs, ans["closed"]
    raise AssertionError("no close after %d polls" % limit)


def test_open_input_and_poll_text(wsbridge, tmp_path):
    srv = server(wsbridge, tmp_path, "[route /cat]\nexec = cat\n"
                 "transports = websocket, poll\n")
    s = open_session(srv.port, "/cat")
    for word in ("hello", "w\u00f6rld", 'quote " back\\slash\ttab'):
        r = post(srv.port, s["send"], word.encode())
        assert r.status == 204, r
    msgs, closed = collect(srv.port, "/cat", s["id"], want=3)
    assert closed is None
    assert [(m["type"], m["data"]) for m in msgs] == [
        ("text", "hello"), ("text", "w\u00f6rld"),
        ("text", 'quote " back\\slash\ttab')]
    # Acknowledged: a poll after the last one has nothing (it waits).
    r = post(srv.port, s["send"], b"later")
    assert r.status == 204
    head, ans = poll(srv.port, "/cat", s["id"], 3)
    assert head.status == 200
    assert [(m["seq"], m["data"]) for m in ans["messages"]] == [(4, "later")]


def test_unacknowledged_output_is_sent_again(wsbridge, tmp_path, script):
    prog = script("two.sh", "echo one\necho two\nexec sleep 600\n")
    srv = server(wsbridge, tmp_path, "[route /two]\nexec = %s\n"
                 "transports = poll\n" % prog)
    s = open_session(srv.port, "/two")
    # after=0 acknowledges nothing: both lines come (maybe in two
    # answers), and come again (an answer that was lost).
    for _ in range(100):
        head, ans = poll(srv.port, "/two", s["id"], 0)
        if len(ans["messages"]) == 2:
            break
    assert [m["data"] for m in ans["messages"]] == ["one", "two"]
    head, ans = poll(srv.port, "/two", s["id"])
    assert [m["data"] for m in ans["messages"]] == ["one", "two"]
    head, ans = poll(srv.port, "/two", s["id"], 1)
    assert [m["data"] for m in ans["messages"]] == ["two"]


def test_binary_and_close_1011(wsbridge, tmp_path, script):
    prog = script("bin.sh", "printf '\\000\\001\\377abc'\nexit 3\n")
    srv = server(wsbridge, tmp_path, "[route /bin]\nexec = %s\n"
                 "mode = binary\ntransports = poll\n" % prog)
    s = open_session(srv.port, "/bin")
    msgs, closed = collect(srv.port, "/bin", s["id"])
    assert all(m["type"] == "binary" for m in msgs)
    got = b"".join(base64.b64decode(m["data"]) for m in msgs)
    assert got == b"\x00\x01\xffabc"
    assert closed == {"code": 1011, "reason": "exit 3"}
    # The close stays for later polls until the session expires.
    head, ans = poll(srv.port, "/bin", s["id"], len(msgs))
    assert ans == {"messages": [], "closed": closed}


def test_close_1000_after_exit_0(wsbridge, tmp_path, script):
    prog = script("one.sh", "echo bye\n")
    srv = server(wsbridge, tmp_path, "[route /one]\nexec = %s\n"
                 "transports = poll\n" % prog)
    s = open_session(srv.port, "/one")
    msgs, closed = collect(srv.port, "/one", s["id"])
    assert [m["data"] for m in msgs] == ["bye"]
    assert closed["code"] == 1000


def test_poll_waits_then_answers_empty(wsbridge, tmp_path):
    srv = server(wsbridge, tmp_path, "[route /cat]\nexec = cat\n"
                 "transports = poll\npoll_timeout = 500ms\n")
    s = open_session(srv.port, "/cat")
    t0 = time.monotonic()
    head, ans = poll(srv.port, "/cat", s["id"], 0)
    assert head.status == 200
    assert ans == {"messages": [], "closed": None}
    assert time.monotonic() - t0 >= 0.45


def test_waiting_poll_answered_by_output(wsbridge, tmp_path):
    srv = server(wsbridge, tmp_path, "[route /cat]\nexec = cat\n"
                 "transports = poll\npoll_timeout = 60s\n",
                 "log_level = debug\n")
    s = open_session(srv.port, "/cat")
    conn = wsutil.connect_tcp(srv.port, TIMEOUT)
    try:
        conn.sendall(wsutil.request_bytes(
            "GET", "/cat?session=%s&after=0" % s["id"],
            [("Host", "127.0.0.1")]))
        # The poll is in, and waiting.
        wait_log(srv, "poll waits", timeout=TIMEOUT)
        r = post(srv.port, s["send"], b"wake up")
        assert r.status == 204
        head = wsutil.read_response(conn, timeout=TIMEOUT)
        body = json.loads(head.body)
        assert head.status == 200
        assert [m["data"] for m in body["messages"]] == ["wake up"]
    finally:
        conn.close()


def test_second_poll_supersedes_a_waiting_one(wsbridge, tmp_path):
    srv = server(wsbridge, tmp_path, "[route /cat]\nexec = cat\n"
                 "transports = poll\npoll_timeout = 60s\n",
                 "log_level = debug\n")
    s = open_session(srv.port, "/cat")
    first = wsutil.connect_tcp(srv.port, TIMEOUT)
    try:
        first.sendall(wsutil.request_bytes(
            "GET", "/cat?session=%s&after=0" % s["id"],
            [("Host", "127.0.0.1")]))
        wait_log(srv, "poll waits", timeout=TIMEOUT)
        # The second poll answers the first (empty), then gets the input.
        second = wsutil.connect_tcp(srv.port, TIMEOUT)
        second.sendall(wsutil.request_bytes(
            "GET", "/cat?session=%s&after=0" % s["id"],
            [("Host", "127.0.0.1")]))
        head = wsutil.read_response(first, timeout=TIMEOUT)
        assert head.status == 200
        assert json.loads(head.body) == {
            "messages": [], "closed": None}
        assert post(srv.port, s["send"], b"x").status == 204
        head = wsutil.read_response(second, timeout=TIMEOUT)
        assert [m["data"] for m in json.loads(
            head.body)["messages"]] == ["x"]
        second.close()
    finally:
        first.close()


def test_statuses(wsbridge, tmp_path):
    srv = server(wsbridge, tmp_path, "[route /a]\nexec = cat\n"
                 "transports = poll\n[route /b]\nexec = cat\n"
                 "transports = poll\n[route /ws]\nexec = cat\n")
    s = open_session(srv.port, "/a")
    unknown = secrets.token_hex(16)
    assert poll(srv.port, "/a", unknown, 0)[0].status == 404
    assert poll(srv.port, "/a", "nothex", 0)[0].status == 404
    assert poll(srv.port, "/b", s["id"], 0)[0].status == 404
    head, _ = request(srv.port, "GET", "/a?session=%s&after=x" % s["id"])
    assert head.status == 400
    assert post(srv.port, "/a?session=" + unknown, b"x").status == 404
    assert post(srv.port, "/b?session=" + s["id"], b"x").status == 404
    # A body on the opening POST: nothing takes it.
    head, _ = request(srv.port, "POST", "/a?transport=poll", body=b"x")
    assert head.status == 400
    # A route without poll: the POST is no poll session.
    head, _ = request(srv.port, "POST", "/ws?transport=poll")
    assert head.status not in (200, 201)
    # WebSocket is not among /a's transports.
    head, _ = request(srv.port, "GET", "/a", [
        ("Upgrade", "websocket"), ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", wsutil.make_key()),
        ("Sec-WebSocket-Version", "13")])
    assert head.status == 400


def test_auth_and_another_users_session(wsbridge, tmp_path):
    path = htpasswd(tmp_path, {"alice": "wonderland", "bob": "builder"})
    srv = server(wsbridge, tmp_path, "[route /cat]\nexec = cat\n"
                 "transports = poll\nauth = basic\nauth_file = %s\n" % path)
    head, _ = request(srv.port, "POST", "/cat?transport=poll")
    assert head.status == 401
    alice = [basic("alice", "wonderland")]
    bob = [basic("bob", "builder")]
    s = open_session(srv.port, "/cat", alice)
    assert poll(srv.port, "/cat", s["id"], 0, bob)[0].status == 403
    assert poll(srv.port, "/cat", s["id"], 0)[0].status == 401
    assert post(srv.port, s["send"], b"x", bob).status == 403
    assert post(srv.port, s["send"], b"mine", alice).status == 204
    msgs, _ = collect(srv.port, "/cat", s["id"], want=1, headers=alice)
    assert msgs[0]["data"] == "mine"


def test_origins_as_for_websocket(wsbridge, tmp_path):
    srv = server(wsbridge, tmp_path, "[route /cat]\nexec = cat\n"
                 "transports = poll\norigins = %s\n" % GOOD)
    head, _ = request(srv.port, "POST", "/cat?transport=poll",
                      [("Origin", "http://evil.example")])
    assert head.status == 403
    head, body = request(srv.port, "POST", "/cat?transport=poll",
                         [("Origin", GOOD)])
    assert head.status == 201
    assert head.header("access-control-allow-origin") == GOOD
    sid = json.loads(body)["id"]
    head, _ = poll(srv.port, "/cat", sid, 0, [("Origin", "http://evil.example")])
    assert head.status == 403
    assert post(srv.port, "/cat?session=" + sid, b"x",
                [("Origin", "http://evil.example")]).status == 403


def test_route_limit_counts_poll_sessions(wsbridge, tmp_path):
    srv = server(wsbridge, tmp_path, "[route /cat]\nexec = cat\n"
                 "transports = poll, websocket\nmax_connections = 1\n"
                 "session_timeout = 1s\n")
    s = open_session(srv.port, "/cat")
    head, _ = request(srv.port, "POST", "/cat?transport=poll")
    assert head.status == 429
    # Once it expired (nobody polled), there is room again.
    wait_log(srv, "no poll for session_timeout", timeout=TIMEOUT)
    assert poll(srv.port, "/cat", s["id"])[0].status == 404
    open_session(srv.port, "/cat")


@pytest.mark.serial
def test_session_timeout_ends_the_process_group(wsbridge, tmp_path, script):
    pidfile = tmp_path / "pids"
    prog = script("grp.sh", "sleep 600 &\necho $$ $! > '%s'\n"
                  "echo ready\nwait\n" % pidfile)
    srv = server(wsbridge, tmp_path, "[route /grp]\nexec = %s\n"
                 "transports = poll\nsession_timeout = 1s\n" % prog)
    s = open_session(srv.port, "/grp")
    msgs, _ = collect(srv.port, "/grp", s["id"], want=1)
    assert msgs[0]["data"] == "ready"
    pids = [int(p) for p in pidfile.read_text().split()]
    assert all(wsutil.alive(p) for p in pids)
    # No poll for session_timeout: the program and its child are gone.
    for p in pids:
        wsutil.wait_until(lambda: wsutil.proc_stat(p) is None, TIMEOUT,
                          what="pid %d gone" % p)
    wait_log(srv, "no poll for session_timeout")
    assert poll(srv.port, "/grp", s["id"], 1)[0].status == 404
    assert post(srv.port, s["send"], b"x").status == 404


def test_program_that_never_reads_gets_429_nothing_lost(wsbridge, tmp_path,
                                                         script):
    go = tmp_path / "go"
    prog = script("late.sh", "i=0\nwhile [ ! -e '%s' ] && [ $i -lt 600 ]; "
                  "do sleep 0.05; i=$((i+1)); done\nexec cat\n" % go)
    srv = server(wsbridge, tmp_path, "[route /late]\nexec = %s\n"
                 "transports = poll\nbuffer_size = 4K\n" % prog)
    s = open_session(srv.port, "/late")
    sent, refused = [], None
    for i in range(2000):
        msg = ("%05d" % i) * 200          # 1000 bytes
        r = post(srv.port, s["send"], msg.encode())
        if r.status == 429:
            refused = r
            break
        assert r.status == 204, r
        sent.append(msg)
    assert refused is not None, "never 429 after %d POSTs" % len(sent)
    assert int(refused.header("retry-after")) > 0
    assert len(sent) > 4
    go.write_text("")
    msgs, _ = collect(srv.port, "/late", s["id"], want=len(sent))
    assert [m["data"] for m in msgs] == sent


def test_flood_without_poller_is_paused_nothing_lost(wsbridge, tmp_path,
                                                      script):
    # 200,000 numbered lines (1.3 MB) against a 64 KiB queue and nobody
    # polling: the program blocks in write (paused), the daemon holds a
    # bounded amount; polled afterwards every line comes, in order.
    n = 200000
    pidfile, done = tmp_path / "pid", tmp_path / "done"
    prog = script("flood.sh", "echo $$ > '%s'\nseq 1 %d\ntouch '%s'\n"
                  % (pidfile, n, done))
    srv = server(wsbridge, tmp_path, "[route /flood]\nexec = %s\n"
                 "transports = poll\nbuffer_size = 64K\n" % prog)
    s = open_session(srv.port, "/flood")
    wsutil.wait_until(lambda: pidfile.exists() and
                      pidfile.read_text().strip() != "", TIMEOUT,
                      what="pid file")
    pid = int(pidfile.read_text())

    def blocked():
        kids = wsutil.children(pid)
        for k, _ in kids:
            try:
                with open("/proc/%d/wchan" % k) as f:
                    if "pipe_write" in f.read():
                        return True
            except OSError:
                pass
        return False
    wsutil.wait_until(blocked, TIMEOUT, what="seq blocked in write")
    assert not done.exists()
    rss = int(open("/proc/%d/statm" % srv.proc.pid).read().split()[1]) \
        * os.sysconf("SC_PAGE_SIZE")
    assert rss < 64 << 20, rss
    got, after = [], 0
    for _ in range(20000):
        head, ans = poll(srv.port, "/flood", s["id"], after)
        assert head.status == 200
        for m in ans["messages"]:
            assert m["seq"] == after + 1
            after = m["seq"]
            got.append(m["data"])
        # The answer carries at most about a queue's worth.
        assert len(ans["messages"]) <= (64 << 10) // 2 + 16
        if ans["closed"] is not None:
            assert ans["closed"]["code"] == 1000
            break
    assert got == [str(i) for i in range(1, n + 1)]
    assert done.exists()


def test_access_log_lines(wsbridge, tmp_path):
    srv = server(wsbridge, tmp_path, "[route /cat]\nexec = cat\n"
                 "transports = poll\n", "log_level = access\n")
    s = open_session(srv.port, "/cat")
    assert post(srv.port, s["send"], b"abc").status == 204
    collect(srv.port, "/cat", s["id"], want=1)
    wait_log(srv, "status=200")
    wait_log(srv, "status=201")
    log = wait_log(srv, "status=204")
    assert s["id"] not in log


def test_shared_route_poll_member_gets_replay_and_live(wsbridge, tmp_path):
    srv = server(wsbridge, tmp_path, "[route /chat]\nexec = cat\n"
                 "share = route\nreplay = 4K\n"
                 "transports = websocket, poll\n")
    ws = wsutil.open_ws(srv.port, "/chat")
    try:
        wsutil.send_frame(ws, 0x1, "before")
        wsutil.recv_message(ws)     # echoed: in the replay ring
        s = open_session(srv.port, "/chat")
        msgs, _ = collect(srv.port, "/chat", s["id"], want=1)
        assert msgs[0]["data"] == "before"
        assert post(srv.port, s["send"], b"from poll").status == 204
        msgs, _ = collect(srv.port, "/chat", s["id"], want=2)
        assert msgs[1]["data"] == "from poll"
    finally:
        ws.close()


def test_config_poll_accepted_and_not_with_pty(tmp_path):
    rc, out, _ = check_errors(tmp_path, "transports = websocket, sse, "
                              "poll\npoll_timeout = 10s\n"
                              "session_timeout = 30s\n")
    assert rc == 0, out
    rc, out, path = check_errors(tmp_path, "mode = pty\n"
                                 "transports = websocket, poll\n")
    assert rc == 1
    assert "%s:6:" % path in out
    assert "poll does not work with mode = pty" in out
