"""websocketd's --cgidir (issue 17): plain GET/HEAD runs a program as CGI/1.1.

Status, headers and body parsed from the program's output; the request's
environment; 502 when the program fails before its headers, 504 on
cgi_timeout; dot segments and non-executable files refused; WebSocket
routes unchanged beside it.
"""

import os

from wsutil import (connect_tcp, open_ws, read_response, recv_message,
                    request_bytes, write_script)


def request(port, path, method="GET", headers=()):
    conn = connect_tcp(port)
    conn.sendall(request_bytes(method, path, [("Host", "127.0.0.1:%d" % port),
                                              ("Connection", "close")]
                               + list(headers)))
    if method == "HEAD":
        raw = conn.recv_to_eof()
        return raw
    return read_response(conn)


def cgi(tmp_path, name, body, mode=0o755):
    d = tmp_path / "cgi"
    p = d / name
    p.parent.mkdir(parents=True, exist_ok=True)
    write_script(p, body)
    os.chmod(p, mode)
    return d


def test_status_headers_body(wsbridge, tmp_path):
    d = cgi(tmp_path, "t", 'printf "Status: 201 Made\\r\\nContent-Type: text/x-t'
            '\\r\\nX-One: 1\\r\\nConnection: keep-alive\\r\\n\\r\\nbody here"\n')
    srv = wsbridge("--cgidir", str(d))
    head = request(srv.port, "/t")
    assert head.status == 201, head
    assert head.reason == "Made"
    assert head.header("content-type") == "text/x-t"
    assert head.header("x-one") == "1"
    # Hop-by-hop headers are the server's: the connection closes after.
    assert head.header("connection") == "close"
    assert head.body == b"body here"


def test_environment_and_path_info(wsbridge, tmp_path):
    d = cgi(tmp_path, "sub/env", 'printf "Content-Type: text/plain\\n\\n"\n'
            'env\n')
    srv = wsbridge("--cgidir", str(d))
    head = request(srv.port, "/sub/env/more/info?a=1&b=2",
                   headers=[("X-Thing", "yes"), ("Proxy", "evil")])
    assert head.status == 200, head
    env = dict(line.split("=", 1) for line in head.body.decode().splitlines()
               if "=" in line)
    assert env["GATEWAY_INTERFACE"] == "CGI/1.1"
    assert env["REQUEST_METHOD"] == "GET"
    assert env["SCRIPT_NAME"] == "/sub/env"
    assert env["PATH_INFO"] == "/more/info"
    assert env["QUERY_STRING"] == "a=1&b=2"
    assert env["SCRIPT_FILENAME"] == str((d / "sub/env").resolve())
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["SERVER_PORT"] == str(srv.port)
    assert env["HTTP_X_THING"] == "yes"
    assert "HTTP_PROXY" not in env          # httpoxy
    assert env["PWD"] == str((d / "sub").resolve())
    assert "PATH" in env


def test_location_redirect(wsbridge, tmp_path):
    d = cgi(tmp_path, "go", 'printf "Location: http://127.0.0.1/x\\n\\n"\n')
    srv = wsbridge("--cgidir", str(d))
    head = request(srv.port, "/go")
    assert head.status == 302, head
    assert head.header("location") == "http://127.0.0.1/x"


def test_head_sends_no_body(wsbridge, tmp_path):
    d = cgi(tmp_path, "h", 'printf "Content-Type: text/plain\\n\\n"\n'
            'echo "method $REQUEST_METHOD"\n')
    srv = wsbridge("--cgidir", str(d))
    raw = request(srv.port, "/h", method="HEAD")
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n"), raw
    assert raw.endswith(b"\r\n\r\n"), raw        # head only, then EOF


def test_large_body_streams_whole(wsbridge, tmp_path):
    # Far more than the client buffer (256K): read under backpressure.
    d = cgi(tmp_path, "big", 'printf "Content-Type: application/octet-stream'
            '\\n\\n"\nhead -c 3000000 /dev/zero | tr "\\0" "a"\n')
    srv = wsbridge("--cgidir", str(d))
    head = request(srv.port, "/big")
    assert head.status == 200, head
    assert head.body == b"a" * 3000000


def test_exit_before_headers_is_502(wsbridge, tmp_path):
    d = cgi(tmp_path, "fail", 'echo "oops" >&2\nexit 3\n')
    srv = wsbridge("--cgidir", str(d))
    head = request(srv.port, "/fail")
    assert head.status == 502, head
    assert "CGI" in srv.log()


def test_half_written_head_then_failure_is_502(wsbridge, tmp_path):
    d = cgi(tmp_path, "half", 'printf "Content-Type: text/plain\\n"\nexit 1\n')
    srv = wsbridge("--cgidir", str(d))
    assert request(srv.port, "/half").status == 502


def test_malformed_or_missing_content_type_is_502(wsbridge, tmp_path):
    d = cgi(tmp_path, "bad", 'printf "no colon here\\n\\nbody"\n')
    cgi(tmp_path, "notype", 'printf "X-A: b\\n\\nbody"\n')
    srv = wsbridge("--cgidir", str(d))
    assert request(srv.port, "/bad").status == 502
    assert request(srv.port, "/notype").status == 502


def test_timeout_is_504(wsbridge, tmp_path):
    d = cgi(tmp_path, "slow", "exec sleep 1000\n")
    srv = wsbridge("--cgidir", str(d), "--cgi-timeout", "300ms")
    head = request(srv.port, "/slow")
    assert head.status == 504, head


def test_dot_segments_refused(wsbridge, tmp_path):
    d = cgi(tmp_path, "sub/ok", 'printf "Content-Type: text/plain\\n\\nok"\n')
    # A program outside cgi_dir that a traversal would reach.
    write_script(tmp_path / "outside", 'printf "Content-Type: text/plain\\n\\n'
                 'escaped"\n')
    srv = wsbridge("--cgidir", str(d))
    assert request(srv.port, "/sub/ok").body == b"ok"
    for path in ("/../outside", "/sub/../../outside", "/sub/%2e%2e/../outside",
                 "/sub/./ok"):
        head = request(srv.port, path)
        assert head.status in (400, 404), (path, head)
        assert b"escaped" not in head.body


def test_symlink_out_refused(wsbridge, tmp_path):
    d = cgi(tmp_path, "sub/ok", 'printf "Content-Type: text/plain\\n\\nok"\n')
    write_script(tmp_path / "outside", 'printf "Content-Type: text/plain\\n\\n'
                 'escaped"\n')
    os.symlink(tmp_path / "outside", d / "link")
    srv = wsbridge("--cgidir", str(d))
    assert request(srv.port, "/link").status == 404


def test_non_executable_file_is_403(wsbridge, tmp_path):
    d = cgi(tmp_path, "plain", 'printf "Content-Type: text/plain\\n\\nsecret"\n',
            mode=0o644)
    srv = wsbridge("--cgidir", str(d))
    head = request(srv.port, "/plain")
    assert head.status == 403, head
    assert b"secret" not in head.body


def test_websocket_route_beside_cgidir(wsbridge, tmp_path, script):
    d = cgi(tmp_path, "page", 'printf "Content-Type: text/plain\\n\\npage"\n')
    prog = script("hello.sh", "echo hello\n")
    srv = wsbridge("--cgidir", str(d), prog)
    assert request(srv.port, "/page").body == b"page"
    ws = open_ws(srv.port, "/page")
    assert recv_message(ws)[1] == b"hello"


def test_post_runs_the_program(wsbridge, tmp_path):
    # Bodies: test_peer_flags2.py
    d = cgi(tmp_path, "p", 'printf "Content-Type: text/plain\\n\\nran"\n')
    srv = wsbridge("--cgidir", str(d))
    head = request(srv.port, "/p", method="POST",
                   headers=[("Content-Length", "0")])
    assert head.status == 200 and head.body == b"ran", head
