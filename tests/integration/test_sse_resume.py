"""Issue 16: an event stream that drops resumes with Last-Event-ID. Each
event's id is the session's sequence number; a reconnect is GET
/route?session=ID (the id of the session event) with Last-Event-ID: SEQ
(or ?last_event_id=SEQ; none is 0). Within session_timeout the
reconnect gets exactly what came after that id; an id whose output is no
longer kept (buffer_size bytes of what went out) gets an `event: close`
saying so; a stream gone (session_timeout passed, or ended) gets 404, and
its program is gone with its process group."""

import json
import os
import re
import secrets
import signal

from cfgutil import start_config, wait_log
from test_sse import SSE, TIMEOUT, sse_get
from test_sse_post import post
import wsutil


def server(wsbridge, tmp_path, routes, extra=""):
    srv, _ = start_config(wsbridge, tmp_path, routes, extra)
    return srv


def event_block(block):
    """(type, data, raw id or None) of one event's lines."""
    etype, data, eid = "message", [], None
    for line in block.decode("utf-8").split("\n"):
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            etype = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            eid = value
    return etype, "\n".join(data), eid


class Stream:
    """An event stream read event by event (comments skipped)."""

    def __init__(self, port, path, last_id=None):
        hdrs = [SSE] + ([("Last-Event-ID", last_id)] if last_id else [])
        self.conn, self.head = sse_get(port, path, hdrs)
        self.session = None
        if self.head.status == 200:
            ev = self.event()
            assert ev[0] == "session", ev
            self.session = json.loads(ev[1])
            self.session_event_id = ev[2]

    def event(self):
        while True:
            block = self.conn.recv_until(b"\n\n", timeout=TIMEOUT)[:-2]
            if not block.startswith(b":"):
                return event_block(block)

    def close(self):
        self.conn.close()


def cat_route(tmp_path, script, extra=""):
    """cat, its pid in a file: output on demand by POST."""
    pidfile = tmp_path / "pid"
    prog = script("cat.sh", "echo $$ > '%s'\nexec cat\n" % pidfile)
    return pidfile, ("[route /cat]\nexec = %s\ntransports = sse\n%s"
                     % (prog, extra))


def cat_stream(wsbridge, tmp_path, script, extra=""):
    """A server with the cat route and a first stream on it: (pid file,
    server, stream, its session id)."""
    pidfile, route = cat_route(tmp_path, script, extra)
    srv = server(wsbridge, tmp_path, route)
    a = Stream(srv.port, "/cat")
    return pidfile, srv, a, a.session["id"]


def say(port, s, text):
    r = post(port, s.session["send"], text.encode())
    assert r.status == 204, r


def test_resume_gets_exactly_what_it_missed(wsbridge, tmp_path, script):
    pidfile, srv, a, sid = cat_stream(wsbridge, tmp_path, script)
    assert a.session_event_id == "0"
    say(srv.port, a, "m1")
    say(srv.port, a, "m2")
    assert a.event() == ("message", "m1", "1")
    assert a.event() == ("message", "m2", "2")
    a.close()
    wait_log(srv, "the stream dropped: kept for a reconnect")
    pid, = wsutil.read_pids(pidfile)
    assert wsutil.alive(pid)
    # Input goes on while no stream is attached: the session lives.
    say(srv.port, a, "m3")
    say(srv.port, a, "m4")
    b = Stream(srv.port, "/cat?session=" + sid, "2")
    assert b.head.status == 200
    assert b.session["id"] == sid
    assert b.session_event_id == "2"
    assert b.event() == ("message", "m3", "3")
    assert b.event() == ("message", "m4", "4")
    say(srv.port, b, "m5")
    assert b.event() == ("message", "m5", "5")
    assert wsutil.alive(pid)
    wait_log(srv, "resumed after 2")
    # What went out before the drop is kept too (it may have been lost
    # in flight): from 3 on again, in order, once each.
    mark = len(srv.log())
    b.close()
    wait_log(srv, "kept for a reconnect", start=mark)
    c = Stream(srv.port, "/cat?session=" + sid, "2")
    assert [c.event() for _ in range(3)] == [
        ("message", "m%d" % n, str(n)) for n in (3, 4, 5)]
    say(srv.port, c, "m6")
    assert c.event() == ("message", "m6", "6")
    c.close()


def test_resume_before_the_first_message(wsbridge, tmp_path, script):
    # The session event's id (0) is enough: everything from the start.
    _, srv, a, sid = cat_stream(wsbridge, tmp_path, script)
    a.close()
    wait_log(srv, "kept for a reconnect")
    say(srv.port, a, "x")
    b = Stream(srv.port, "/cat?session=" + sid, a.session_event_id)
    assert b.event() == ("message", "x", "1")
    b.close()


def test_resume_by_query_parameter(wsbridge, tmp_path, script):
    # A client that opens a new EventSource itself cannot set headers.
    _, srv, a, sid = cat_stream(wsbridge, tmp_path, script)
    say(srv.port, a, "one")
    assert a.event()[1] == "one"
    a.close()
    wait_log(srv, "kept for a reconnect")
    say(srv.port, a, "two")
    b = Stream(srv.port, "/cat?session=%s&last_event_id=1" % sid)
    assert b.session["id"] == sid
    assert b.event() == ("message", "two", "2")
    b.close()


def test_resume_takes_over_a_stream_not_yet_seen_gone(wsbridge, tmp_path,
                                                      script):
    # The old connection may look alive to the server (a client that
    # moved networks): the reconnect wins, the old one is closed.
    _, srv, a, sid = cat_stream(wsbridge, tmp_path, script)
    say(srv.port, a, "one")
    assert a.event()[1] == "one"
    b = Stream(srv.port, "/cat?session=" + sid, "1")
    assert b.session["id"] == sid
    a.conn.recv_to_eof(timeout=TIMEOUT)     # closed by the server
    say(srv.port, b, "two")
    assert b.event() == ("message", "two", "2")
    wait_log(srv, "resumed by another connection")
    a.close()
    b.close()


def test_output_no_longer_kept_gets_close(wsbridge, tmp_path, script):
    # buffer_size = 1k: 40 messages of 100 bytes went out, the first are
    # no longer kept. A reconnect after 1 cannot go on: close, 1011.
    pidfile, srv, a, sid = cat_stream(wsbridge, tmp_path, script, "buffer_size = 1k\n")
    for i in range(1, 41):
        say(srv.port, a, "%03d" % i + "x" * 96)
        assert a.event()[2] == str(i)
    a.close()
    wait_log(srv, "kept for a reconnect")
    pid, = wsutil.read_pids(pidfile)
    b = Stream(srv.port, "/cat?session=" + sid, "1")
    assert b.session["id"] == sid
    ev = b.event()
    assert ev[0] == "close", ev
    assert json.loads(ev[1]) == {"code": 1011,
                                 "reason": "resume: output lost"}
    b.conn.recv_to_eof(timeout=TIMEOUT)
    b.close()
    # The session is over: the program is gone, the id unknown.
    wsutil.wait_until(lambda: not wsutil.alive(pid), TIMEOUT,
                      what="pid %d gone" % pid)
    wsutil.wait_until(lambda: Stream(srv.port, "/cat?session=" + sid, "40")
                      .head.status == 404, TIMEOUT, what="404")


def test_recent_output_still_resumes_after_trimming(wsbridge, tmp_path,
                                                    script):
    # The same stream, a reconnect after 38: what is kept suffices.
    _, srv, a, sid = cat_stream(wsbridge, tmp_path, script, "buffer_size = 1k\n")
    for i in range(1, 41):
        say(srv.port, a, "%03d" % i + "x" * 96)
        assert a.event()[2] == str(i)
    a.close()
    wait_log(srv, "kept for a reconnect")
    b = Stream(srv.port, "/cat?session=" + sid, "38")
    assert [b.event()[2] for _ in range(2)] == ["39", "40"]
    b.close()


def test_an_id_never_sent_gets_close(wsbridge, tmp_path, script):
    _, srv, a, sid = cat_stream(wsbridge, tmp_path, script)
    a.close()
    wait_log(srv, "kept for a reconnect")
    b = Stream(srv.port, "/cat?session=" + sid, "7")
    ev = b.event()
    assert ev[0] == "close"
    assert json.loads(ev[1])["reason"] == "resume: no such event"
    b.close()


def test_unknown_stream_404_and_foreign_ids_start_anew(wsbridge, tmp_path,
                                                       script):
    _, route = cat_route(tmp_path, script)
    srv = server(wsbridge, tmp_path, route)
    for path, last in (("/cat?session=" + secrets.token_hex(16), "3"),
                       ("/cat?session=" + secrets.token_hex(16), None),
                       ("/cat?session=nope", "3"),
                       ("/cat", "3-" + secrets.token_hex(16))):
        s = Stream(srv.port, path, last)
        assert s.head.status == 404, (path, last)
        s.close()
    # Without ?session=, a number (a browser's own reconnect to the
    # plain URL) or an id not ours: a new stream.
    for foreign in ("42", "0", "abc", "3-" + "A" * 32, "-" + "a" * 32):
        s = Stream(srv.port, "/cat", foreign)
        assert s.head.status == 200, foreign
        assert re.fullmatch(r"[0-9a-f]{32}", s.session["id"])
        assert s.session_event_id == "0"
        s.close()


def test_after_session_timeout_404_and_program_gone(wsbridge, tmp_path,
                                                    script):
    # A program with a child in its process group: both go when nobody
    # came back within session_timeout.
    pids = tmp_path / "pids"
    prog = script("pg.sh", "sleep 600 &\necho $$ $! > '%s'\nexec cat\n"
                  % pids)
    srv = server(wsbridge, tmp_path, "[route /pg]\nexec = %s\n"
                 "transports = sse\nsession_timeout = 300ms\n" % prog)
    a = Stream(srv.port, "/pg")
    sid = a.session["id"]
    wsutil.wait_until(lambda: len(pids.read_text().split()) == 2
                      if pids.exists() else False, TIMEOUT, what="pids")
    leader, child = map(int, pids.read_text().split())
    a.close()
    wait_log(srv, "no reconnect within session_timeout: ended")
    for pid in (leader, child):
        wsutil.wait_until(lambda: not wsutil.alive(pid), TIMEOUT,
                          what="pid %d gone" % pid)
    s = Stream(srv.port, "/pg?session=" + sid, "0")
    assert s.head.status == 404
    s.close()
    r = post(srv.port, "/pg?session=" + sid, b"x")
    assert r.status == 404


def test_a_stream_closed_after_the_program_ended_ends_at_once(
        wsbridge, tmp_path, script):
    prog = script("two.sh", "echo one\necho two\n")
    srv = server(wsbridge, tmp_path, "[route /two]\nexec = %s\n"
                 "transports = sse\n" % prog)
    a = Stream(srv.port, "/two")
    sid = a.session["id"]
    assert [a.event()[:2] for _ in range(3)] == [
        ("message", "one"), ("message", "two"),
        ("close", '{"code":1000,"reason":""}')]
    a.conn.recv_to_eof(timeout=TIMEOUT)
    a.close()
    # Told the end: nothing waits for a reconnect.
    wsutil.wait_until(lambda: Stream(srv.port, "/two?session=" + sid, "2")
                      .head.status == 404, TIMEOUT, what="404")
    assert "kept for a reconnect" not in srv.log()


def test_program_ended_while_away_resume_gets_the_rest_and_close(
        wsbridge, tmp_path, script):
    go, pidfile = tmp_path / "go", tmp_path / "pid"
    prog = script("late.sh", "echo $$ > '%s'\necho one\n"
                  "while [ ! -e '%s' ]; do sleep 0.02; done\n"
                  "echo two\nexit 3\n" % (pidfile, go))
    srv = server(wsbridge, tmp_path, "[route /late]\nexec = %s\n"
                 "transports = sse\n" % prog, "log_level = access\n")
    a = Stream(srv.port, "/late")
    sid = a.session["id"]
    assert a.event() == ("message", "one", "1")
    a.close()
    wait_log(srv, "kept for a reconnect")
    pid, = wsutil.read_pids(pidfile)
    go.write_text("")
    # Reaped: its exit is in the dropped connection's access line.
    wsutil.wait_until(lambda: wsutil.proc_stat(pid) is None, TIMEOUT,
                      what="pid %d reaped" % pid)
    wait_log(srv, 'exit="exit 3"')
    b = Stream(srv.port, "/late?session=" + sid, "1")
    assert b.event() == ("message", "two", "2")
    ev = b.event()
    assert ev[0] == "close"
    assert json.loads(ev[1]) == {"code": 1011, "reason": "exit 3"}
    b.conn.recv_to_eof(timeout=TIMEOUT)
    b.close()


def test_output_while_away_waits_nothing_lost(wsbridge, tmp_path, script):
    # 20000 lines (over 100 KB) while no stream is attached: the program
    # is held once buffer_size (16k) waits unsent, and a reconnect gets
    # every line, in order, then the close.
    prog = script("burst.sh", "read go\nseq 1 20000\n")
    srv = server(wsbridge, tmp_path, "[route /burst]\nexec = %s\n"
                 "transports = sse\nbuffer_size = 16k\n" % prog)
    a = Stream(srv.port, "/burst")
    sid = a.session["id"]
    a.close()
    wait_log(srv, "kept for a reconnect")
    say(srv.port, a, "go")
    b = Stream(srv.port, "/burst?session=" + sid, "0")
    body = b.conn.recv_to_eof(timeout=TIMEOUT * 3)
    b.close()
    events = [event_block(x) for x in body.split(b"\n\n") if x]
    assert events[-1][0] == "close", events[-1]
    msgs = events[:-1]
    assert [m[1] for m in msgs] == [str(n) for n in range(1, 20001)]
    assert [m[2] for m in msgs] == [str(n)
                                    for n in range(1, 20001)]


def test_shared_session_ids_are_the_sessions_sequence(wsbridge, tmp_path,
                                                      script):
    # share = route, replay: a stream that joins late numbers what it
    # gets as the session does (replayed ones keep theirs).
    srv = server(wsbridge, tmp_path, "[route /chat]\nexec = cat\n"
                 "share = route\nreplay = 64k\ntransports = sse\n")
    a = Stream(srv.port, "/chat")
    for w in ("one", "two"):
        say(srv.port, a, w)
        assert a.event()[1] == w
    b = Stream(srv.port, "/chat")
    bid = b.session["id"]
    assert [b.event() for _ in range(2)] == [
        ("message", "one", "1"), ("message", "two", "2")]
    say(srv.port, a, "three")
    assert b.event() == ("message", "three", "3")
    b.close()
    wait_log(srv, "kept for a reconnect")
    say(srv.port, a, "four")
    c = Stream(srv.port, "/chat?session=" + bid, "3")
    assert c.event() == ("message", "four", "4")
    a.close()
    c.close()


def test_shutdown_ends_a_waiting_stream(wsbridge, tmp_path, script):
    pidfile, route = cat_route(tmp_path, script)
    srv = server(wsbridge, tmp_path, route)
    a = Stream(srv.port, "/cat")
    a.close()
    wait_log(srv, "kept for a reconnect")
    pid, = wsutil.read_pids(pidfile)
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(timeout=TIMEOUT) == 0
    wsutil.wait_until(lambda: not wsutil.alive(pid), TIMEOUT,
                      what="pid %d gone" % pid)
    assert os.path.exists(str(pidfile))


def test_ids_are_plain_numbers_and_the_session_event_names_the_resume(
        wsbridge, tmp_path, script):
    _, srv, a, sid = cat_stream(wsbridge, tmp_path, script)
    assert a.session == {"id": sid, "send": "/cat?session=" + sid,
                         "resume": "/cat?session=" + sid}
    say(srv.port, a, "one")
    assert a.event() == ("message", "one", "1")
    a.close()


def test_resume_without_last_event_id_from_what_is_kept(wsbridge, tmp_path,
                                                        script):
    pidfile, srv, a, sid = cat_stream(wsbridge, tmp_path, script)
    for w in ("one", "two"):
        say(srv.port, a, w)
        assert a.event()[1] == w
    a.close()
    wait_log(srv, "kept for a reconnect")
    b = Stream(srv.port, a.session["resume"])
    assert b.head.status == 200
    assert b.session["id"] == sid and b.session_event_id == "0"
    assert [b.event() for _ in range(2)] == [
        ("message", "one", "1"), ("message", "two", "2")]
    say(srv.port, b, "three")
    assert b.event() == ("message", "three", "3")
    assert wsutil.alive(int(pidfile.read_text()))
    b.close()


def test_header_wins_over_query(wsbridge, tmp_path, script):
    _, srv, a, sid = cat_stream(wsbridge, tmp_path, script)
    for w in ("one", "two", "three"):
        say(srv.port, a, w)
        assert a.event()[1] == w
    a.close()
    wait_log(srv, "kept for a reconnect")
    b = Stream(srv.port, "/cat?session=%s&last_event_id=1" % sid, "2")
    assert b.session_event_id == "2"
    assert b.event() == ("message", "three", "3")
    b.close()


def test_old_compound_id_still_resumes(wsbridge, tmp_path, script):
    # "SEQ-ID", the ids of earlier versions, names the stream itself.
    _, srv, a, sid = cat_stream(wsbridge, tmp_path, script)
    for w in ("one", "two"):
        say(srv.port, a, w)
        assert a.event()[1] == w
    a.close()
    wait_log(srv, "kept for a reconnect")
    b = Stream(srv.port, "/cat", "1-" + sid)
    assert b.session["id"] == sid
    assert b.event() == ("message", "two", "2")
    b.close()


def test_share_id_session_key_is_not_a_stream(wsbridge, tmp_path, script):
    # share = id: ?session=KEY joins the shared session; ?session= with a
    # stream's id resumes that stream.
    srv = server(wsbridge, tmp_path, "[route /room]\nexec = cat\n"
                 "share = id\ntransports = sse\n")
    a = Stream(srv.port, "/room?session=k3")
    assert a.head.status == 200
    b = Stream(srv.port, "/room?session=k3", "5")
    assert b.head.status == 200
    assert a.session["id"] != b.session["id"]
    say(srv.port, a, "hi")
    assert a.event() == ("message", "hi", "1")
    assert b.event() == ("message", "hi", "1")
    b.close()
    wait_log(srv, "kept for a reconnect")
    say(srv.port, a, "again")
    assert a.event()[1] == "again"
    c = Stream(srv.port, "/room?session=" + b.session["id"], "1")
    assert c.session["id"] == b.session["id"]
    assert c.event() == ("message", "again", "2")
    a.close()
    c.close()
