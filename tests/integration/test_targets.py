"""Issue 5: token-routed targets (websockify's token file): the token from
?token= (percent-decoded) or the Host header's first label picks HOST:PORT;
an unknown token is 404 with a body, a refused target 502; the file is
re-read when it changes; only the token's start reaches the log."""

import os

import pytest

import wsutil
from cfgutil import Backend, echo_handler, start_config
from conftest import free_port
from wsutil import OP_BINARY, raw_handshake, recv_message, send_frame


@pytest.fixture
def target_srv(wsbridge, tmp_path):
    a, b = Backend(echo_handler), Backend(echo_handler)
    tokens = tmp_path / "targets"
    tokens.write_text("# websockify token file\nalpha: %s\n"
                      "ab+c/d=: %s\nvnchost: %s\ndead: 127.0.0.1:%d\n"
                      % (a.addr, b.addr, a.addr, free_port()))
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /vnc]\ntargets = %s\n" % tokens)
    yield srv, tokens, a, b
    a.stop()
    b.stop()


def echo_through(port, path, headers=None):
    conn, head, _ = raw_handshake(port, path, headers)
    assert head.status == 101, head
    send_frame(conn, OP_BINARY, b"hello")
    got = recv_message(conn)
    conn.close()
    return got


def test_token_from_query(target_srv):
    srv, _, _, _ = target_srv
    assert echo_through(srv.port, "/vnc?token=alpha") == (OP_BINARY,
                                                          b"hello")


def test_token_percent_decoded(target_srv):
    # As URLSearchParams sends "ab+c/d=" (noVNC's vnc.js does).
    srv, _, _, _ = target_srv
    assert echo_through(srv.port, "/vnc?x=1&token=ab%2Bc%2Fd%3D") == \
        (OP_BINARY, b"hello")


def test_token_from_host_label(target_srv):
    srv, _, _, _ = target_srv
    assert echo_through(srv.port, "/vnc", {"Host": "vnchost.example"}) == \
        (OP_BINARY, b"hello")


def test_unknown_token_404_with_body_and_log_hides_it(target_srv):
    srv, _, _, _ = target_srv
    conn, head, _ = raw_handshake(srv.port, "/vnc?token=secretvalue99")
    assert head.status == 404, head
    assert head.body, "404 without a body"
    conn.close()
    wsutil.wait_until(lambda: "secr..." in srv.log(), 5,
                      what="the logged token start")
    assert "secretvalue99" not in srv.log()


def test_refused_target_502(target_srv):
    srv, _, _, _ = target_srv
    conn, head, _ = raw_handshake(srv.port, "/vnc?token=dead")
    assert head.status == 502, head
    conn.close()


def test_file_reread_when_changed(target_srv):
    srv, tokens, a, _ = target_srv
    conn, head, _ = raw_handshake(srv.port, "/vnc?token=later")
    assert head.status == 404
    conn.close()
    tmp = str(tokens) + ".new"
    with open(tmp, "w") as f:
        f.write("later: %s\n" % a.addr)
    os.replace(tmp, tokens)
    assert echo_through(srv.port, "/vnc?token=later") == (OP_BINARY,
                                                          b"hello")
    conn, head, _ = raw_handshake(srv.port, "/vnc?token=alpha")
    assert head.status == 404, "old token still accepted"
    conn.close()
