"""Issue 13, items 6-8: password checks off the event loop and no user
enumeration by their time, a bounded log for unknown terminal commands,
and a bad ?token= refused instead of falling back to the Host header."""

import pytest

import wsutil
from cfgutil import Backend, echo_handler, start_config, wait_log
from wsutil import OP_BINARY, raw_handshake, recv_message, send_frame


# --------------------------------------------------------------------------
# Item 8: a token that is present but bad is 404, never the Host's target
# --------------------------------------------------------------------------


@pytest.fixture
def token_srv(wsbridge, tmp_path):
    a = Backend(echo_handler)
    tokens = tmp_path / "targets"
    tokens.write_text("e1: %s\n" % a.addr)
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /vnc]\ntargets = %s\n" % tokens)
    yield srv
    a.stop()


def test_issue13_host_label_still_picks_the_target(token_srv):
    # The fallback itself stays: no token parameter at all.
    conn, head, _ = raw_handshake(token_srv.port, "/vnc", {"Host": "e1.x"})
    assert head.status == 101, head
    send_frame(conn, OP_BINARY, b"hi")
    assert recv_message(conn) == (OP_BINARY, b"hi")
    conn.close()


@pytest.mark.parametrize("query", ["token=", "token=" + "z" * 300,
                                   "token=e1%00", "x=1&token=&token=e1"])
def test_issue13_bad_token_is_404_not_the_host_target(token_srv, query):
    conn, head, _ = raw_handshake(token_srv.port, "/vnc?" + query,
                                  {"Host": "e1.x"})
    assert head.status == 404, head
    conn.close()


# --------------------------------------------------------------------------
# Item 7: unknown terminal commands are logged once, then counted
# --------------------------------------------------------------------------


def test_issue13_unknown_pty_commands_log_one_line_and_a_count(wsbridge,
                                                               tmp_path):
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /tty]\nexec = /bin/cat\nmode = pty\n")
    conn, head, _ = raw_handshake(srv.port, "/tty",
                                  {"Sec-WebSocket-Protocol": "tty"})
    assert head.status == 101, head
    # 2,000 seven-byte frames of command '9', before any init.
    conn.sendall(b"".join(wsutil.build_frame(OP_BINARY, b"9abcdef")
                          for _ in range(2000)))
    send_frame(conn, wsutil.OP_CLOSE, wsutil.close_payload(1000))
    wsutil.expect_close(conn, timeout=10)
    conn.close()
    log = wait_log(srv, "1999 more unknown terminal commands ignored",
                   timeout=10)
    assert log.count("unknown terminal command 0x39 ignored") == 1, \
        log[-2000:]
