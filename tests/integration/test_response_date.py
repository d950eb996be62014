"""Issue 14 (one response builder): every 2xx, 3xx and 4xx answer carries
exactly one Date (RFC 9110 6.6.1: an origin server with a clock MUST send
it there). Static files always did; error answers, built-in pages, plain
HTTP on a TLS port and CGI heads did not. The 101 stays as it was (Date
is optional on 1xx), and a CGI program's own Date is kept, not doubled.
"""

import email.utils
import os
import time

import produtil
import pytest
from wsutil import (Head, connect_tcp, raw_handshake, read_response,
                    request_bytes, write_script)

# A day either way: proves the field is the clock, without timing.
SLACK_S = 86400


def get(port, path, method="GET", headers=()):
    conn = connect_tcp(port)
    try:
        conn.sendall(request_bytes(method, path,
                                   [("Host", "127.0.0.1:%d" % port),
                                    ("Connection", "close")]
                                   + list(headers)))
        if method == "HEAD":
            raw = conn.recv_to_eof()
            return Head(raw.split(b"\r\n\r\n", 1)[0])
        return read_response(conn)
    finally:
        conn.close()


def date_lines(head):
    return [line for line in head.raw.split(b"\r\n")
            if line.lower().startswith(b"date:")]


def assert_now_date(head):
    """One Date line, right after the status line, an IMF-fixdate now."""
    lines = date_lines(head)
    assert len(lines) == 1, head.raw
    assert head.raw.split(b"\r\n")[1] == lines[0], head.raw
    value = lines[0].split(b":", 1)[1].strip().decode()
    assert value.endswith(" GMT") and len(value) == 29, value
    when = email.utils.parsedate_to_datetime(value).timestamp()
    assert abs(when - time.time()) < SLACK_S, value


def test_error_answers_carry_date(wsbridge):
    srv = wsbridge("--echo")
    # A plain GET on a WebSocket route: 426.
    head = get(srv.port, "/")
    assert head.status == 426, head
    assert_now_date(head)
    head = get(srv.port, "/", method="HEAD")
    assert head.status == 426, head
    assert_now_date(head)
    # A refused upgrade: 400 (bad key) and 405 (POST).
    for method, key, status in (("GET", "short", 400),
                                ("POST", None, 405)):
        conn, head, _ = raw_handshake(srv.port, "/", method=method,
                                      key=key)
        conn.close()
        assert head.status == status, head
        assert_now_date(head)


def test_switching_protocols_unchanged(wsbridge):
    srv = wsbridge("--echo")
    conn, head, _ = raw_handshake(srv.port, "/")
    conn.close()
    assert head.status == 101, head
    assert date_lines(head) == []


def test_devconsole_page_carries_date(wsbridge):
    srv = wsbridge("--devconsole", "/bin/cat")
    head = get(srv.port, "/")
    assert head.status == 200, head
    assert head.header("content-type").startswith("text/html")
    assert int(head.header("content-length")) == len(head.body)
    assert_now_date(head)


def cgi(tmp_path, name, body):
    d = tmp_path / "cgi"
    d.mkdir(exist_ok=True)
    write_script(d / name, body)
    os.chmod(d / name, 0o755)
    return d


def test_cgi_head_gets_date_unless_program_sent_one(wsbridge, tmp_path):
    cgi(tmp_path, "plain", 'printf "Content-Type: text/plain\\n\\nhi\\n"\n')
    d = cgi(tmp_path, "dated",
            'printf "Date: Mon, 01 Jan 2001 00:00:00 GMT\\n'
            'Content-Type: text/plain\\n\\nhi\\n"\n')
    srv = wsbridge("--cgidir", str(d))
    head = get(srv.port, "/plain")
    assert head.status == 200, head
    assert head.body == b"hi\n"
    assert_now_date(head)
    head = get(srv.port, "/dated")
    assert head.status == 200, head
    assert date_lines(head) == [b"Date: Mon, 01 Jan 2001 00:00:00 GMT"]


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    c = produtil.Certs(tmp_path_factory.mktemp("certs"))
    c.server = c.issue("server", "/O=wsbridge tests/CN=localhost",
                       "DNS:localhost,IP:127.0.0.1")
    return c


def test_plain_http_on_tls_port_carries_date(wsbridge, certs):
    cert, key = certs.server
    srv = wsbridge("--ssl", "--sslcert", str(cert), "--sslkey", str(key),
                   "--echo")
    head = get(srv.port, "/")
    assert head.status == 400, head
    assert head.body == b"400 this port speaks TLS (https:)\n"
    assert_now_date(head)
