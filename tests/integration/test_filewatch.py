"""Issue 14: the files wsbridge re-reads when they change (htpasswd for
auth = basic, token files for targets) share one watcher: a replaced file
takes effect at the next request, a removed one leaves nothing loaded
and is warned about once, a restored one comes back."""

import base64
import os
import subprocess

import pytest

from cfgutil import Backend, echo_handler, start_config
from wsutil import OP_BINARY, raw_handshake, recv_message, send_frame


def basic(user, password):
    return ("Authorization", "Basic " + base64.b64encode(
        ("%s:%s" % (user, password)).encode()).decode())


def sha512_line(user, password):
    h = subprocess.run(["openssl", "passwd", "-6", password],
                       capture_output=True, timeout=30).stdout.decode()
    assert h.startswith("$6$"), h
    return "%s:%s\n" % (user, h.strip())


def replace(path, text):
    """A new file at path in one step, as editors and tools write it."""
    tmp = str(path) + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def status(port, path, headers=()):
    conn, head, _ = raw_handshake(port, path, list(headers))
    conn.close()
    return head.status


@pytest.fixture
def htpasswd_srv(wsbridge, tmp_path):
    pw = tmp_path / "htpasswd"
    pw.write_text(sha512_line("alice", "wonderland"))
    srv, _ = start_config(wsbridge, tmp_path, (
        "[route /a]\necho = yes\nauth = basic\nauth_file = %s\n" % pw))
    return srv, pw


def test_htpasswd_replaced_takes_effect_at_once(htpasswd_srv):
    srv, pw = htpasswd_srv
    alice, carol = basic("alice", "wonderland"), basic("carol", "c4rol")
    assert status(srv.port, "/a", [alice]) == 101
    assert status(srv.port, "/a", [carol]) == 401
    replace(pw, sha512_line("carol", "c4rol"))
    assert status(srv.port, "/a", [carol]) == 101
    assert status(srv.port, "/a", [alice]) == 401, "old user still allowed"


def test_htpasswd_removed_refuses_warns_once_and_comes_back(htpasswd_srv):
    srv, pw = htpasswd_srv
    alice = basic("alice", "wonderland")
    assert status(srv.port, "/a", [alice]) == 101
    os.unlink(pw)
    # The warning is written before the answer goes out.
    assert status(srv.port, "/a", [alice]) == 401
    assert status(srv.port, "/a", [alice]) == 401
    gone = "%s: No such file or directory" % pw
    assert srv.log().count(gone) == 1, srv.log()
    replace(pw, sha512_line("alice", "wonderland"))
    assert status(srv.port, "/a", [alice]) == 101


@pytest.fixture
def token_srv(wsbridge, tmp_path):
    a = Backend(echo_handler)
    tokens = tmp_path / "targets"
    tokens.write_text("alpha: %s\n" % a.addr)
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /vnc]\ntargets = %s\n" % tokens)
    yield srv, tokens, a
    a.stop()


def echo_through(port, path):
    conn, head, _ = raw_handshake(port, path)
    assert head.status == 101, head
    try:
        send_frame(conn, OP_BINARY, b"hello")
        return recv_message(conn)
    finally:
        conn.close()


def test_token_file_removed_warns_once_and_comes_back(token_srv):
    srv, tokens, a = token_srv
    assert echo_through(srv.port, "/vnc?token=alpha") == (OP_BINARY,
                                                          b"hello")
    os.unlink(tokens)
    assert status(srv.port, "/vnc?token=alpha") == 404
    assert status(srv.port, "/vnc?token=alpha") == 404
    gone = "%s: No such file or directory" % tokens
    assert srv.log().count(gone) == 1, srv.log()
    replace(tokens, "# back\nalpha: %s\n" % a.addr)
    assert echo_through(srv.port, "/vnc?token=alpha") == (OP_BINARY,
                                                          b"hello")
