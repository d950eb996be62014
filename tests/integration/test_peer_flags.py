"""Issue 17: the peers' everyday flags and habits.

ttyd: a terminal page on a browser's GET of a pty route, --writable /
--readonly, --credential, a login-like environment for terminals.
websocketd: --redirport, REMOTE_HOST without --reverselookup, --license, --port
alone on IPv4 and IPv6, a text message in --binary mode gets a newline.
websockify: --connect echoes the "binary" subprotocol, --record FILE.
"""

import base64
import json
import os
import pwd
import select
import socket
import subprocess
import time

import pytest

from conftest import BIN, free_port
from wsutil import (connect_tcp, expect_close, open_ws, raw_handshake, read_response,
                    recv_message, request_bytes, send_frame, wait_until,
                    OP_BINARY as WS_OP_BINARY, OP_TEXT as WS_OP_TEXT)

ASSET_FILES = ("@xterm/xterm/lib/xterm.mjs", "@xterm/xterm/css/xterm.css",
               "@xterm/addon-fit/lib/addon-fit.mjs")
INIT = json.dumps({"AuthToken": "", "columns": 80, "rows": 24}).encode()


def fake_assets(tmp_path):
    root = tmp_path / "node_modules"
    for f in ASSET_FILES:
        p = root / f
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("/* %s */\n" % f)
    return root


def http_get(port, path, headers=()):
    conn = connect_tcp(port)
    conn.sendall(request_bytes("GET", path, [("Host", "127.0.0.1:%d" % port),
                                             ("Connection", "close")]
                               + list(headers)))
    return read_response(conn)


# --- ttyd -----------------------------------------------------------------

def test_pty_get_serves_terminal_page_and_its_assets(wsbridge, tmp_path):
    assets = fake_assets(tmp_path)
    srv = wsbridge("--assets", str(assets), "--pty", "sh")
    head = http_get(srv.port, "/")
    assert head.status == 200, head
    assert head.header("content-type").startswith("text/html"), head
    page = head.body.decode()
    assert "new WebSocket(" in page and "['tty']" in page
    for f in ASSET_FILES:
        assert "/_wsbridge/" + f in page
    js = http_get(srv.port, "/_wsbridge/" + ASSET_FILES[0])
    assert js.status == 200, js
    assert js.body == ("/* %s */\n" % ASSET_FILES[0]).encode()
    assert "javascript" in js.header("content-type")
    # only the page's files, nothing else of the directory
    (assets / "secret.txt").write_text("no")
    assert http_get(srv.port, "/_wsbridge/secret.txt").status == 404
    assert http_get(srv.port, "/_wsbridge/../secret.txt").status in (400,
                                                                     404)


def test_pty_page_without_assets_is_a_clear_error(wsbridge, tmp_path):
    missing = tmp_path / "nowhere"
    srv = wsbridge("--assets", str(missing), "--pty", "sh")
    head = http_get(srv.port, "/")
    assert head.status == 500, head
    body = head.body.decode()
    assert str(missing) in body and "make browser-deps" in body
    assert "--assets" in body
    assert "terminal page" in srv.log()
    # the route itself still works for WebSocket clients
    conn = open_ws(srv.port, "/", {"Sec-WebSocket-Protocol": "tty"})
    conn.close()


def test_non_pty_route_still_answers_426(wsbridge, tmp_path):
    srv = wsbridge("--assets", str(fake_assets(tmp_path)), "cat")
    assert http_get(srv.port, "/").status == 426
    # and the asset files are served only where a terminal route is
    assert http_get(srv.port, "/_wsbridge/" + ASSET_FILES[0]).status == 426


def pty_open(port):
    conn = open_ws(port, "/", {"Sec-WebSocket-Protocol": "tty"})
    send_frame(conn, WS_OP_BINARY, INIT)
    return conn


def pty_read_until(conn, needle, timeout=15):
    """Terminal output ('0' messages) until needle appears."""
    out = b""
    deadline = time.monotonic() + timeout
    while needle not in out:
        left = deadline - time.monotonic()
        assert left > 0, "no %r in terminal output %r" % (needle, out)
        op, data = recv_message(conn, timeout=left)
        if op == WS_OP_BINARY and data[:1] == b"0":
            out += data[1:]
        elif op == 8:
            raise AssertionError("closed before %r; output %r"
                                 % (needle, out))
    return out


ENV_SCRIPT = ('echo "H=$HOME U=$USER S=$SHELL L=$LANG T=$TERM end"')


def test_pty_gets_home_user_shell_lang(wsbridge):
    pw = pwd.getpwuid(os.getuid())
    srv = wsbridge("--pty", "sh", "-c", ENV_SCRIPT, env={"LANG": None})
    out = pty_read_until(pty_open(srv.port), b"end")
    line = out.decode().replace("\r", "")
    assert "H=%s " % pw.pw_dir in line, line
    assert "U=%s " % pw.pw_name in line, line
    assert "S=%s " % pw.pw_shell in line, line
    assert "L=C.UTF-8 " in line, line


def test_pty_lang_from_environment_and_env_overrides(wsbridge, tmp_path):
    conf = tmp_path / "t.ini"
    conf.write_text("[route /t]\nexec = sh -c '%s'\nmode = pty\n"
                    "env = HOME=/elsewhere\n" % ENV_SCRIPT)
    port = free_port()
    srv = wsbridge("-c", str(conf), "--listen", "127.0.0.1:%d" % port,
                   port=port, listen_args=False, env={"LANG": "fr_FR.UTF-8"})
    conn = open_ws(srv.port, "/t", {"Sec-WebSocket-Protocol": "tty"})
    send_frame(conn, WS_OP_BINARY, INIT)
    line = pty_read_until(conn, b"end").decode()
    assert "L=fr_FR.UTF-8 " in line, line
    assert "H=/elsewhere " in line, line


# bash: dash's read has no -t. The 3 s bound only ends the readonly case.
READER = ('echo ready; if read -t 3 x; then echo "got:$x"; '
          'else echo nothing; fi')


@pytest.mark.parametrize("flag", [None, "--writable", "-W"])
def test_pty_input_reaches_program(wsbridge, flag):
    args = ([flag] if flag else []) + ["--pty", "bash", "-c", READER]
    conn = pty_open(wsbridge(*args).port)
    pty_read_until(conn, b"ready")
    send_frame(conn, WS_OP_BINARY, b"0hello\r")
    out = pty_read_until(conn, b"got:hello")
    assert b"nothing" not in out


@pytest.mark.parametrize("flag", ["--readonly", "-R"])
def test_pty_readonly_drops_input_keeps_resize(wsbridge, flag):
    conn = pty_open(wsbridge(flag, "--pty", "bash", "-c",
                             READER + "; stty size").port)
    pty_read_until(conn, b"ready")
    send_frame(conn, WS_OP_BINARY, b"0hello\r")
    send_frame(conn, WS_OP_BINARY,
               b"1" + json.dumps({"columns": 100, "rows": 30}).encode())
    out = pty_read_until(conn, b"30 100")
    assert b"nothing" in out and b"got:" not in out, out
    assert b"hello" not in out, out     # not even the tty's echo


def test_credential_basic_auth(wsbridge, script):
    prog = script("env.sh", 'echo "user=$REMOTE_USER '
                  'auth=${HTTP_AUTHORIZATION:-none}"')
    srv = wsbridge("--credential", "alice:s3cr:et", prog)
    _, head, _ = raw_handshake(srv.port)
    assert head.status == 401, head
    assert head.header("www-authenticate").startswith("Basic realm="), head

    def auth(cred):
        return {"Authorization": "Basic "
                + base64.b64encode(cred.encode()).decode()}
    for wrong in ("alice:s3cr", "alice:s3cr:etX", "bob:s3cr:et", ":"):
        _, head, _ = raw_handshake(srv.port, "/", auth(wrong))
        assert head.status == 401, (wrong, head)
    conn = open_ws(srv.port, "/", auth("alice:s3cr:et"))
    assert recv_message(conn) == (WS_OP_TEXT, b"user=alice auth=none")


@pytest.mark.parametrize("bad", ["nocolon", ":pw", "a\tb:c"])
def test_credential_malformed_is_usage_error(bad):
    p = subprocess.run([BIN, "--credential", bad, "--echo"],
                       capture_output=True, timeout=30)
    assert p.returncode == 2, p
    assert b"--credential: want USER:PASSWORD" in p.stderr


# --- websocketd -----------------------------------------------------------

def test_redirport_redirects_to_the_main_port(wsbridge):
    rport = free_port()
    srv = wsbridge("--redirport", str(rport), "--echo")
    conn = connect_tcp(rport)
    conn.sendall(request_bytes("GET", "/page?x=1",
                               [("Host", "localhost:%d" % rport)]))
    head = read_response(conn)
    assert head.status == 301, head
    assert head.header("location") == \
        "http://localhost:%d/page?x=1" % srv.port
    # the main port serves as before
    open_ws(srv.port).close()
    assert "redirects to port %d" % srv.port in srv.log()


def test_redirport_refuses_a_host_that_is_not_a_name(wsbridge):
    rport = free_port()
    wsbridge("--redirport", str(rport), "--echo")
    conn = connect_tcp(rport)
    conn.sendall(request_bytes("GET", "/", [("Host", "a/b@c")]))
    assert read_response(conn).status == 400


def test_license_prints_notices():
    p = subprocess.run([BIN, "--license"], capture_output=True, timeout=30)
    assert p.returncode == 0, p
    out = p.stdout.decode()
    assert out.startswith("wsbridge ")
    assert "llhttp" in out and "Permission is hereby granted" in out


def test_remote_host_without_reverselookup_is_the_address(wsbridge, script):
    # --reverselookup itself: test_peer_flags2.py
    prog = script("rh.sh", 'echo "host=$REMOTE_HOST"')
    srv = wsbridge(prog)
    assert recv_message(open_ws(srv.port)) == (WS_OP_TEXT,
                                                b"host=127.0.0.1")


def test_port_alone_listens_on_ipv4_and_ipv6():
    # --check: the listeners, without binding a wildcard address here
    p = subprocess.run([BIN, "--port", "18099", "--check", "--echo"],
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p
    lines = p.stdout.decode().splitlines()
    assert "listen 0.0.0.0:18099" in lines
    have_v6 = True
    try:
        socket.socket(socket.AF_INET6).close()
    except OSError:
        have_v6 = False
    assert ("listen [::]:18099" in lines) == have_v6, lines
    # --address still narrows it to what is named
    p = subprocess.run([BIN, "--port", "18099", "--address", "::1",
                        "--check", "--echo"], capture_output=True,
                       timeout=30)
    assert [l for l in p.stdout.decode().splitlines()
            if l.startswith("listen")] == ["listen [::1]:18099"]


def test_binary_mode_text_message_gets_a_newline(wsbridge):
    # websocketd 0.4.1 --binary writes a text message and "\n" to stdin,
    # a binary message as it is; a socket route gets bytes verbatim.
    srv = wsbridge("--binary", "sh", "-c", "head -c 4 | od -An -tx1")
    conn = open_ws(srv.port)
    send_frame(conn, WS_OP_TEXT, b"hi")
    send_frame(conn, WS_OP_BINARY, b"B")
    op, data = recv_message(conn)
    assert op == WS_OP_BINARY
    assert data.split() == [b"68", b"69", b"0a", b"42"], data


# --- websockify -----------------------------------------------------------

@pytest.fixture
def tcp_sink():
    """A listening socket: a --connect route's connect succeeds."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    yield s
    s.close()


def test_connect_echoes_binary_subprotocol(wsbridge, tcp_sink):
    target = "127.0.0.1:%d" % tcp_sink.getsockname()[1]
    srv = wsbridge("--connect", target)
    _, head, _ = raw_handshake(srv.port, "/",
                               {"Sec-WebSocket-Protocol": "binary"})
    assert head.status == 101, head
    assert head.header("sec-websocket-protocol") == "binary"
    _, head, _ = raw_handshake(srv.port, "/",
                               {"Sec-WebSocket-Protocol": "chat, binary"})
    assert head.header("sec-websocket-protocol") == "binary", head
    _, head, _ = raw_handshake(srv.port)
    assert head.status == 101 and \
        head.header("sec-websocket-protocol") is None, head


def read_record(path, conn_close_count):
    def done():
        if not os.path.exists(path):
            return False
        with open(path) as f:
            return sum('"event":"close"' in l for l in f) >= conn_close_count
    wait_until(done, 15, what="close event in the record")
    with open(path) as f:
        return [json.loads(l) for l in f]


def test_record_writes_both_directions(wsbridge, tmp_path):
    rec = tmp_path / "traffic.jsonl"
    srv = wsbridge("--record", str(rec), "cat")
    conn = open_ws(srv.port, "/some/path")
    send_frame(conn, WS_OP_TEXT, b"hello")
    assert recv_message(conn) == (WS_OP_TEXT, b"hello")
    send_frame(conn, 8, b"\x03\xe8")
    expect_close(conn)
    lines = read_record(str(rec), 1)
    assert [l.get("event") or l["dir"] for l in lines] == \
        ["open", "in", "out", "close"], lines
    ids = {l["conn"] for l in lines}
    assert len(ids) == 1
    assert lines[0]["path"] == "/some/path"
    assert lines[0]["peer"].startswith("127.0.0.1:")
    assert base64.b64decode(lines[1]["data"]) == b"hello\n"
    assert base64.b64decode(lines[2]["data"]) == b"hello\n"
    t = [l["t"] for l in lines]
    assert t == sorted(t) and abs(t[0] - time.time()) < 600


def test_record_unwritable_file_fails_start(tmp_path):
    p = subprocess.run([BIN, "--port", str(free_port()), "--address",
                        "127.0.0.1", "--record",
                        str(tmp_path / "no" / "such" / "dir"), "--echo"],
                       capture_output=True, timeout=30)
    assert p.returncode == 1, p
    assert b"record" in p.stderr
