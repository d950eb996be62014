"""Issue 3: route matching from an INI file (SPEC 2): exact paths, `/x/*`
prefixes, the longest match wins, anything else is 404; a plain GET on a
route path is 426."""

import pytest

from cfgutil import start_config, http_request
import shared
import wsutil
from wsutil import (raw_handshake, open_ws, recv_message, send_frame,
                    expect_close, OP_TEXT, OP_BINARY, OP_CLOSE, close_payload)


# The routing tests only open connections of their own: one server for
# the module (shared.py).
@pytest.fixture(scope="module")
def routed_m(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("routed")
    script = shared.script_maker(tmp_path)
    tags = {}
    for tag in ("a", "p", "pq", "x_exact", "x_prefix", "root"):
        tags[tag] = script("%s.sh" % tag,
                           'echo "%s $SCRIPT_NAME|$PATH_INFO|$REQUEST_URI"\n'
                           % tag)
    routes = """
[route /a]
exec = {a}

[route /p/*]
exec = {p}

[route /p/q/*]
exec = {pq}

[route /x/*]
exec = {x_prefix}

[route /x]
exec = {x_exact}

[route /e]
echo = yes
""".format(**tags)
    with shared.servers(tmp_path) as start:
        srv, _ = start_config(start, tmp_path, routes)
        yield srv


@pytest.fixture
def routed(routed_m, request):
    with shared.window(routed_m, request) as srv:
        yield srv


def tag_of(port, path):
    """Handshake to path; return the first line the script printed."""
    conn = open_ws(port, path)
    try:
        op, payload = recv_message(conn)
        assert op == OP_TEXT
        code, _ = expect_close(conn, reply=True)
        assert code == 1000
        return payload.decode()
    finally:
        conn.close()


@pytest.mark.parametrize("path,tag", [
    ("/a", "a"),
    ("/a?x=1", "a"),
    ("/p", "p"),
    ("/p/", "p"),
    ("/p/zz", "p"),
    ("/p/zz/q", "p"),
    ("/p/qq", "p"),
    ("/p/q", "pq"),
    ("/p/q/", "pq"),
    ("/p/q/r/s", "pq"),
    ("/x", "x_exact"),
    ("/x/y", "x_prefix"),
])
def test_longest_match_wins(routed, path, tag):
    out = tag_of(routed.port, path)
    assert out.split(" ", 1)[0] == tag, (path, out)
    # REQUEST_URI is the request target as sent.
    assert out.rsplit("|", 1)[1] == path, out


@pytest.mark.parametrize("path", [
    "/px", "/pq", "/ab", "/a/", "/a/b", "/e/x", "/", "/unrouted", "/P/q",
])
def test_unmatched_is_404(routed, path):
    conn, head, _ = raw_handshake(routed.port, path)
    conn.close()
    assert head.status == 404, (path, head)


def test_plain_get_on_route_is_426(routed):
    for path in ("/a", "/p/q/r", "/e"):
        head = http_request(routed.port, "GET", path)
        assert head.status == 426, (path, head)
        assert head.header("sec-websocket-version") == "13", head


def test_plain_get_unrouted_is_404(routed):
    head = http_request(routed.port, "GET", "/nowhere")
    assert head.status == 404, head


def test_echo_route_keeps_opcodes(routed):
    conn = open_ws(routed.port, "/e")
    try:
        send_frame(conn, OP_TEXT, "héllo")
        assert recv_message(conn) == (OP_TEXT, "héllo".encode())
        send_frame(conn, OP_BINARY, b"\x00\xff")
        assert recv_message(conn) == (OP_BINARY, b"\x00\xff")
        send_frame(conn, OP_CLOSE, close_payload(1000))
        code, _ = expect_close(conn)
        assert code == 1000
    finally:
        conn.close()


def test_websockets_client_on_exact_route(routed):
    s = wsutil.ws_session(routed.url("/a"))
    assert len(s.messages) == 1 and s.messages[0].startswith("a "), s.messages
    assert s.code == 1000


def test_exec_argv_split_like_a_shell(wsbridge, tmp_path):
    # SPEC 2: argv split as a shell would (quotes, backslash), no shell.
    srv, _ = start_config(wsbridge, tmp_path, """
[route /argv]
exec = /usr/bin/printf "%s|" "two  spaces" 'single $HOME' back\\ slash *
""")
    s = wsutil.ws_session(srv.url("/argv"))
    assert s.messages == ["two  spaces|single $HOME|back slash|*|"], \
        s.messages
    assert s.code == 1000


def test_route_env_and_cwd(wsbridge, tmp_path, script):
    work = tmp_path / "work"
    work.mkdir()
    cmd = script("env.sh", 'echo "$GREETING|$OTHER|$(pwd)"\n')
    srv, _ = start_config(wsbridge, tmp_path, """
[route /env]
exec = %s
env = GREETING=hello
env = OTHER=x = y
cwd = %s
""" % (cmd, work))
    s = wsutil.ws_session(srv.url("/env"))
    assert s.messages == ["hello|x = y|%s" % work], s.messages
