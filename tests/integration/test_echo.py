"""Echo round trips through `cat` (text and binary mode) and `--echo`,
at every frame-length boundary up to 16 MiB, with python3-websockets."""

import pytest

import shared
from wsutil import ws_session, total_len, count

MiB = 1 << 20
SIZES = [0, 125, 126, 65535, 65536, MiB, 16 * MiB]


def text_payload(n):
    # Printable ASCII without newlines, not periodic in any frame size.
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    base = "".join(alphabet[(i * 7 + i // 61) % len(alphabet)]
                   for i in range(4093))
    return (base * (n // len(base) + 1))[:n]


def binary_payload(n):
    # All byte values, including \n and \0, which binary mode must keep.
    base = bytes((i * 31 + i // 251) & 0xFF for i in range(65521))
    return (base * (n // len(base) + 1))[:n]


def timeout_for(n):
    return 60 if n >= 16 * MiB else 15


# Every test opens connections of its own: one server per kind for the
# module (shared.py), each taking messages up to 20 MiB.
@pytest.fixture(scope="module")
def servers_m(tmp_path_factory):
    with shared.servers(tmp_path_factory.mktemp("echo")) as start:
        yield {"cat": start("--max-message-size", "20M", "cat"),
               "bin": start("--binary", "--max-message-size", "20M", "cat"),
               "echo": start("--echo", "--max-message-size", "20M")}


def shared_server(kind):
    @pytest.fixture
    def fixture(servers_m, request):
        with shared.window(servers_m[kind], request) as srv:
            yield srv
    return fixture


catsrv = shared_server("cat")
binsrv = shared_server("bin")
echosrv = shared_server("echo")


@pytest.mark.parametrize("n", SIZES)
def test_text_echo_through_cat(catsrv, n):
    srv = catsrv
    msg = text_payload(n)
    s = ws_session(srv.url("/cat"), [msg], done=count(1),
                   timeout=timeout_for(n))
    assert len(s.messages) == 1
    got = s.messages[0]
    assert isinstance(got, str), "text route answered with a binary message"
    assert len(got) == n
    assert got == msg


def test_text_lines_through_cat_in_order(catsrv):
    srv = catsrv
    msgs = ["line %d" % i for i in range(500)]
    s = ws_session(srv.url("/"), msgs, done=count(500))
    assert s.messages == msgs


@pytest.mark.parametrize("n", SIZES)
def test_binary_echo_through_cat(binsrv, n):
    srv = binsrv
    data = binary_payload(n)
    # An empty message writes nothing to cat; the trailing marker proves
    # the stream is intact and in order either way.
    marker = b"\xffEND"
    s = ws_session(srv.url("/bin"), [data, marker],
                   done=total_len(n + len(marker)), timeout=timeout_for(n))
    assert all(isinstance(m, bytes) for m in s.messages), \
        "binary route answered with a text message"
    assert all(len(m) <= 65536 for m in s.messages), \
        "a stdout read is at most 64 KiB, so is each message"
    got = b"".join(s.messages)
    assert len(got) == n + len(marker)
    assert got == data + marker


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", ["text", "binary"])
def test_builtin_echo(echosrv, kind, n):
    srv = echosrv
    msg = text_payload(n) if kind == "text" else binary_payload(n)
    s = ws_session(srv.url("/anything/at/all"), [msg], done=count(1),
                   timeout=timeout_for(n))
    assert len(s.messages) == 1
    got = s.messages[0]
    assert type(got) is type(msg), "echo changed the opcode"
    assert len(got) == n
    assert got == msg


def test_builtin_echo_keeps_each_opcode(echosrv):
    srv = echosrv
    msgs = ["t1", b"b1", "", b"", "t2 \u00e9\u4e2d\U0001F600", b"\x00\xff"]
    s = ws_session(srv.url("/"), msgs, done=count(len(msgs)))
    assert s.messages == msgs
    assert [type(m) for m in s.messages] == [type(m) for m in msgs]


def test_builtin_echo_client_close_gets_1000(echosrv):
    srv = echosrv
    s = ws_session(srv.url("/"), ["x"], done=count(1))
    assert s.messages == ["x"]
    assert s.code == 1000


def test_text_multibyte_utf8_through_cat(catsrv):
    srv = catsrv
    msg = "Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!! " \
          "\u03ba\u1f79\u03c3\u03bc\u03b5 \u4e2d\u6587 \U0001F600"
    s = ws_session(srv.url("/"), [msg * 1000], done=count(1))
    assert s.messages == [msg * 1000]
