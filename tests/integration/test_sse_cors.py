"""Issue 16: CORS and caching for the fallback transports. The route's
origins / same_origin decide Access-Control-Allow-Origin (only for an
allowed Origin, with Vary: Origin); a route that answers a page or 426 and
an event stream on one URL says Vary: Accept; a preflight for POST is
answered on routes with sse; a disallowed Origin gets 403. Also: a
require_protocol route streams SSE (an event stream carries no
subprotocol)."""

import json

from cfgutil import http_request, start_config
from test_sse import SSE, parse_events, read_stream
from wsutil import raw_handshake

GOOD = "http://good.example"
EVIL = "http://evil.example"


def server(wsbridge, tmp_path, script, extra="", server_extra=""):
    prog = script("o.sh", "echo ok\n")
    srv, _ = start_config(wsbridge, tmp_path, "[route /o]\nexec = %s\n"
                          "transports = websocket, sse\n%s" % (prog, extra),
                          server_extra)
    return srv


def tokens(head, name):
    return [t.strip().lower() for t in (head.header(name) or "").split(",")
            if t.strip()]


def test_allowed_origin_gets_allow_origin(wsbridge, tmp_path, script):
    srv = server(wsbridge, tmp_path, script, "origins = %s\n" % GOOD)
    head, ev = read_stream(srv.port, "/o", [SSE, ("Origin", GOOD)])
    assert head.status == 200
    assert head.header("access-control-allow-origin") == GOOD
    # Listed origins are trusted as a WebSocket's page would be: with
    # the user's cookies and credentials.
    assert head.header("access-control-allow-credentials") == "true"
    assert "origin" in tokens(head, "vary")
    assert "accept" in tokens(head, "vary")
    assert ev[1] == ("message", "ok", "1")


def test_disallowed_origin_403_without_allow_origin(wsbridge, tmp_path,
                                                    script):
    srv = server(wsbridge, tmp_path, script, "origins = %s\n" % GOOD)
    head, ev = read_stream(srv.port, "/o", [SSE, ("Origin", EVIL)])
    assert head.status == 403
    assert head.header("access-control-allow-origin") is None
    assert ev == []


def test_same_origin_echoes_the_matching_origin(wsbridge, tmp_path, script):
    srv = server(wsbridge, tmp_path, script, "same_origin = yes\n")
    mine = "http://127.0.0.1:%d" % srv.port
    head, _ = read_stream(srv.port, "/o", [SSE, ("Origin", mine)])
    assert head.status == 200
    assert head.header("access-control-allow-origin") == mine
    head, _ = read_stream(srv.port, "/o", [SSE, ("Origin", EVIL)])
    assert head.status == 403


def test_no_origin_rules_grant_no_cors(wsbridge, tmp_path, script):
    # No origins, no same_origin: nothing is checked, and nothing is
    # granted to other sites' pages either (the browser's default).
    srv = server(wsbridge, tmp_path, script)
    head, ev = read_stream(srv.port, "/o", [SSE, ("Origin", EVIL)])
    assert head.status == 200
    assert head.header("access-control-allow-origin") is None
    assert ev[1] == ("message", "ok", "1")


def test_vary_accept_on_426_and_on_the_stream(wsbridge, tmp_path, script):
    srv = server(wsbridge, tmp_path, script)
    plain = http_request(srv.port, "GET", "/o")
    assert plain.status == 426
    assert "accept" in tokens(plain, "vary")
    head, _ = read_stream(srv.port, "/o")
    assert head.status == 200
    assert "accept" in tokens(head, "vary")


def test_vary_accept_on_a_page_at_the_route(wsbridge, tmp_path, script):
    # websocketd's habit: --staticdir serves / and the program is on /
    # too; with sse the same URL is a page or a stream by Accept.
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("<p>page</p>\n")
    prog = script("r.sh", "echo ok\n")
    srv, _ = start_config(wsbridge, tmp_path, "[route /]\nexec = %s\n"
                          "transports = websocket, sse\n" % prog,
                          "static_dir = %s\n" % www)
    page = http_request(srv.port, "GET", "/")
    assert page.status == 200 and b"page" in page.body
    assert "accept" in tokens(page, "vary")
    head, ev = read_stream(srv.port, "/")
    assert head.status == 200 and ev[1] == ("message", "ok", "1")


def test_websocket_only_route_has_no_vary_accept(wsbridge, tmp_path, script):
    prog = script("w.sh", "echo ok\n")
    srv, _ = start_config(wsbridge, tmp_path, "[route /w]\nexec = %s\n"
                          % prog)
    plain = http_request(srv.port, "GET", "/w")
    assert plain.status == 426
    assert "accept" not in tokens(plain, "vary")


def preflight(port, origin, path="/o", method="POST"):
    return http_request(port, "OPTIONS", path, [
        ("Origin", origin), ("Access-Control-Request-Method", method),
        ("Access-Control-Request-Headers", "content-type")])


def test_preflight_for_post(wsbridge, tmp_path, script):
    srv = server(wsbridge, tmp_path, script, "origins = %s\n" % GOOD)
    head = preflight(srv.port, GOOD)
    assert head.status == 204
    assert head.header("access-control-allow-origin") == GOOD
    assert "post" in tokens(head, "access-control-allow-methods")
    assert "content-type" in tokens(head, "access-control-allow-headers")
    assert int(head.header("access-control-max-age")) > 0
    assert "origin" in tokens(head, "vary")
    assert head.header("content-length") in (None, "0")


def test_preflight_from_disallowed_origin_403(wsbridge, tmp_path, script):
    srv = server(wsbridge, tmp_path, script, "origins = %s\n" % GOOD)
    head = preflight(srv.port, EVIL)
    assert head.status == 403
    assert head.header("access-control-allow-origin") is None


def test_preflight_on_websocket_only_route_unchanged(wsbridge, tmp_path,
                                                     script):
    prog = script("w.sh", "echo ok\n")
    srv, _ = start_config(wsbridge, tmp_path, "[route /w]\nexec = %s\n"
                          "origins = %s\n" % (prog, GOOD))
    head = preflight(srv.port, GOOD, "/w")
    assert head.status == 405
    assert head.header("access-control-allow-origin") is None


def test_require_protocol_route_streams_sse(wsbridge, tmp_path, script):
    # An event stream cannot carry a subprotocol: require_protocol is a
    # WebSocket check; the SSE client gets the route's own framing.
    srv = server(wsbridge, tmp_path, script,
                 "protocols = chat\nrequire_protocol = yes\n")
    head, ev = read_stream(srv.port, "/o")
    assert head.status == 200
    assert ev[1] == ("message", "ok", "1")
    assert json.loads(ev[-1][1])["code"] == 1000
    conn, head, _ = raw_handshake(srv.port, "/o")
    conn.close()
    assert head.status == 400


def test_same_origin_fetch_without_origin_header(wsbridge, tmp_path, script):
    # A same-origin EventSource sends no Origin (Fetch: only cross-origin
    # requests carry it) but Sec-Fetch-Site: same-origin. A cross-site
    # no-cors GET has neither Origin nor that value: still 403.
    srv = server(wsbridge, tmp_path, script, "same_origin = yes\n")
    head, ev = read_stream(srv.port, "/o",
                           [SSE, ("Sec-Fetch-Site", "same-origin")])
    assert head.status == 200 and ev[1] == ("message", "ok", "1")
    assert head.header("access-control-allow-origin") is None
    head, _ = read_stream(srv.port, "/o",
                          [SSE, ("Sec-Fetch-Site", "cross-site")])
    assert head.status == 403
    head, _ = read_stream(srv.port, "/o")
    assert head.status == 403
    # A WebSocket always carries Origin: the exception is SSE's alone.
    conn, head, _ = raw_handshake(srv.port, "/o",
                                  [("Sec-Fetch-Site", "same-origin")])
    conn.close()
    assert head.status == 403


def test_parse_events_helper_sees_the_stream(wsbridge, tmp_path, script):
    # Guard for the helpers above: a 200 stream parses to events.
    srv = server(wsbridge, tmp_path, script)
    head, ev = read_stream(srv.port, "/o")
    assert head.status == 200 and [e[0] for e in ev] == \
        ["session", "message", "close"]
    assert parse_events(b"data: a\n\n") == [("message", "a", None)]
