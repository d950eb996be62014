"""HTTP status of every rejected upgrade (SPEC section 4), with a raw
client: exact status, `Connection: close`, one short body, then the
server closes the TCP connection."""

import os

import pytest

import shared
from wsutil import (raw_handshake, open_ws, connect_tcp, read_response,
                    request_bytes, expect_eof, make_key, accept_for,
                    send_frame, recv_message, expect_close, OP_TEXT, OP_CLOSE,
                    close_payload, wait_until)


def assert_error_response(head, conn, status):
    assert head.status == status, "expected %d, got %r" % (status, head)
    assert head.has_token("connection", "close"), \
        "error response without Connection: close: %r" % head
    assert 0 < len(head.body) <= 1024, \
        "error body should be one short body, got %d bytes" % len(head.body)
    cl = head.header("content-length")
    if cl is not None:
        assert int(cl) == len(head.body)
    assert head.header("sec-websocket-accept") is None
    expect_eof(conn)
    conn.close()


def plain_request(port, raw):
    conn = connect_tcp(port)
    conn.sendall(raw)
    return conn, read_response(conn)


# The tests against `cat` only open connections of their own: one server
# for the module (shared.py).
@pytest.fixture(scope="module")
def cat_m(tmp_path_factory):
    with shared.server(tmp_path_factory.mktemp("cat"), "cat") as srv:
        yield srv


@pytest.fixture
def catsrv(cat_m, request):
    with shared.window(cat_m, request) as srv:
        yield srv


def test_101_is_correct(catsrv):
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    conn, head, _ = raw_handshake(catsrv.port, "/chat", key=key)
    assert head.status == 101
    assert head.header("sec-websocket-accept") == \
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert head.has_token("upgrade", "websocket")
    assert head.has_token("connection", "upgrade")
    send_frame(conn, OP_TEXT, "hello")
    assert recv_message(conn) == (OP_TEXT, b"hello")
    conn.close()


def test_101_with_connection_token_list_and_case(catsrv):
    # Firefox sends "keep-alive, Upgrade"; header names and the Upgrade
    # token are case-insensitive.
    conn, head, _ = raw_handshake(catsrv.port, "/", [
        ("Connection", "keep-alive, Upgrade"),
        ("Upgrade", "WebSocket")])
    assert head.status == 101, head
    assert head.header("sec-websocket-accept") == accept_for(head.key)
    conn.close()


def test_405_post_upgrade(catsrv):
    conn, head, _ = raw_handshake(catsrv.port, "/", method="POST")
    assert_error_response(head, conn, 405)


def test_400_missing_key(catsrv):
    conn, head, _ = raw_handshake(catsrv.port, "/", {"Sec-WebSocket-Key": None})
    assert_error_response(head, conn, 400)


@pytest.mark.parametrize("key", [
    "abc",                                   # not 16 bytes
    "dGhlIHNhbXBsZSBub25j",                  # 15 bytes decoded
    "dGhlIHNhbXBsZSBub25jZQ",                # missing padding
    "!!!!!!!!!!!!!!!!!!!!!!==",              # not base64
])
def test_400_bad_key(catsrv, key):
    conn, head, _ = raw_handshake(catsrv.port, "/", key=key)
    assert_error_response(head, conn, 400)


def test_400_missing_connection_upgrade(catsrv):
    conn, head, _ = raw_handshake(catsrv.port, "/",
                                  {"Connection": "keep-alive"})
    assert_error_response(head, conn, 400)


@pytest.mark.parametrize("raw", [
    b"HELLO\r\n\r\n",
    b"GET\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,
    b"GET / HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n",
])
def test_400_malformed_http(catsrv, raw):
    conn, head = plain_request(catsrv.port, raw)
    assert_error_response(head, conn, 400)


def test_426_wrong_version(catsrv):
    conn, head, _ = raw_handshake(catsrv.port, "/",
                                  {"Sec-WebSocket-Version": "8"})
    assert_error_response(head, conn, 426)
    assert head.header("sec-websocket-version") == "13"


def test_426_plain_get_on_route(catsrv):
    raw = request_bytes("GET", "/", [("Host", "127.0.0.1:%d" % catsrv.port)])
    conn, head = plain_request(catsrv.port, raw)
    assert_error_response(head, conn, 426)
    assert head.header("sec-websocket-version") == "13"


def test_426_and_405_name_what_is_required(catsrv):
    # RFC 9110 15.5.22: a 426 names the protocol (and lists "upgrade" in
    # Connection); 15.5.6: a 405 says which methods are allowed.
    raw = request_bytes("GET", "/", [("Host", "127.0.0.1:%d" % catsrv.port)])
    conn, head = plain_request(catsrv.port, raw)
    assert head.status == 426
    assert head.has_token("upgrade", "websocket")
    assert head.has_token("connection", "upgrade")
    conn.close()
    conn, head, _ = raw_handshake(catsrv.port, "/", method="PUT")
    assert head.status == 405
    assert "GET" in head.header("allow")
    conn.close()


@pytest.mark.parametrize("upgrade", [None, "h2c"])
def test_400_websocket_headers_without_upgrade_token(catsrv, upgrade):
    # Key and version sent but no "Upgrade: websocket": a broken upgrade,
    # not a plain GET.
    conn, head, _ = raw_handshake(catsrv.port, "/", {"Upgrade": upgrade})
    assert_error_response(head, conn, 400)


@pytest.mark.parametrize("name", ["Sec-WebSocket-Key",
                                  "Sec-WebSocket-Version"])
def test_400_repeated_key_or_version(catsrv, name):
    headers = [("Host", "127.0.0.1:%d" % catsrv.port),
               ("Upgrade", "websocket"), ("Connection", "Upgrade"),
               ("Sec-WebSocket-Key", make_key()),
               ("Sec-WebSocket-Version", "13")]
    headers.append((name, make_key() if name.endswith("Key") else "13"))
    conn, head = plain_request(catsrv.port, request_bytes("GET", "/",
                                                          headers))
    assert_error_response(head, conn, 400)


@pytest.mark.parametrize("upgrade", [True, False])
def test_400_repeated_host(catsrv, upgrade):
    # RFC 9112 3.2: more than one Host header is a 400, upgrade or not.
    headers = [("Host", "127.0.0.1:%d" % catsrv.port), ("Host", "evil")]
    if upgrade:
        headers += [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                    ("Sec-WebSocket-Key", make_key()),
                    ("Sec-WebSocket-Version", "13")]
    conn, head = plain_request(catsrv.port, request_bytes("GET", "/",
                                                          headers))
    assert_error_response(head, conn, 400)


def test_head_gets_the_head_without_a_body(catsrv):
    status = 426
    conn = connect_tcp(catsrv.port)
    conn.sendall(request_bytes("HEAD", "/", [
        ("Host", "127.0.0.1:%d" % catsrv.port)]))
    data = b""
    while True:
        chunk = conn.sock.recv(4096)
        if not chunk:
            break
        data += chunk
    conn.close()
    head, sep, rest = data.partition(b"\r\n\r\n")
    assert sep and head.startswith(b"HTTP/1.1 %d " % status), data
    assert b"\r\ncontent-length: " in head.lower()
    assert rest == b"", "HEAD response carries a body: %r" % rest


def test_403_origin_not_allowed(wsbridge):
    srv = wsbridge("--origin", "example.com", "cat")
    conn, head, _ = raw_handshake(srv.port, "/",
                                  {"Origin": "http://evil.test"})
    assert_error_response(head, conn, 403)
    # The same list lets its own origin in.
    conn = open_ws(srv.port, "/", {"Origin": "http://example.com"})
    conn.close()


def test_403_sameorigin(wsbridge):
    srv = wsbridge("--sameorigin", "cat")
    conn, head, _ = raw_handshake(srv.port, "/",
                                  {"Origin": "http://evil.test"})
    assert_error_response(head, conn, 403)
    conn = open_ws(srv.port, "/",
                   {"Origin": "http://127.0.0.1:%d" % srv.port})
    conn.close()


def test_429_maxforks(wsbridge):
    srv = wsbridge("--maxforks", "1", "cat")
    first = open_ws(srv.port, "/")
    send_frame(first, OP_TEXT, "one")
    assert recv_message(first) == (OP_TEXT, b"one")
    conn, head, _ = raw_handshake(srv.port, "/")
    assert_error_response(head, conn, 429)
    assert head.header("retry-after") is not None, head
    assert head.header("retry-after").isdigit(), head
    # The first connection still works, and once it is gone the slot is
    # free again.
    send_frame(first, OP_TEXT, "two")
    assert recv_message(first) == (OP_TEXT, b"two")
    send_frame(first, OP_CLOSE, close_payload(1000))
    expect_close(first)
    first.close()

    def try_again():
        c, h, _ = raw_handshake(srv.port, "/")
        if h.status == 101:
            return c
        c.close()
        return None
    c = wait_until(try_again, 5, 0.05, "the maxforks slot to free")
    c.close()


def test_414_long_request_target(catsrv):
    # Under the header limit, over what a path may be: 414, not 400.
    raw = request_bytes("GET", "/" + "a" * 5000, [
        ("Host", "127.0.0.1:%d" % catsrv.port)])
    conn, head = plain_request(catsrv.port, raw)
    assert_error_response(head, conn, 414)


def test_431_huge_header(catsrv):
    conn, head, _ = raw_handshake(catsrv.port, "/",
                                  {"X-Big": "a" * (20 * 1024)})
    assert_error_response(head, conn, 431)


def test_431_many_headers(catsrv):
    headers = [("X-H%d" % i, "v" * 60) for i in range(400)]
    conn, head, _ = raw_handshake(catsrv.port, "/", headers)
    assert_error_response(head, conn, 431)


def test_502_command_gone_at_spawn(wsbridge, script):
    path = script("vanishing.sh", "exec cat\n")
    srv = wsbridge(path)
    conn = open_ws(srv.port, "/")   # works while the script exists
    conn.close()
    os.unlink(path)
    conn, head, _ = raw_handshake(srv.port, "/")
    assert_error_response(head, conn, 502)


def test_502_command_not_executable_at_spawn(wsbridge, script):
    path = script("noexec.sh", "exec cat\n")
    srv = wsbridge(path)
    os.chmod(path, 0o644)
    conn, head, _ = raw_handshake(srv.port, "/")
    assert_error_response(head, conn, 502)


def test_pipelined_frame_after_handshake(catsrv):
    # Bytes sent right after the request, before the 101 is read, belong
    # to the WebSocket stream (llhttp stops at the upgrade).
    from wsutil import build_frame
    key = make_key()
    conn = connect_tcp(catsrv.port)
    req = request_bytes("GET", "/", [
        ("Host", "127.0.0.1:%d" % catsrv.port), ("Upgrade", "websocket"),
        ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13")])
    conn.sendall(req + build_frame(OP_TEXT, b"early"))
    head = read_response(conn)
    assert head.status == 101
    assert recv_message(conn) == (OP_TEXT, b"early")
    conn.close()
