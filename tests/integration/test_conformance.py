"""RFC 6455 conformance against `wsbridge --echo`, in the spirit of the
Autobahn testsuite's cases 1-7 and 9, with a raw client.  A connection
failed for a protocol error gets the exact close code and then the server
closes TCP on its own (the client does not answer the Close)."""

import os
import struct

import pytest

import shared
from wsutil import (open_ws, send_frame, recv_frame, recv_message,
                    expect_close, build_frame, close_payload,
                    send_all_threaded, OP_CONT, OP_TEXT, OP_BINARY,
                    OP_CLOSE, OP_PING, OP_PONG)

KiB, MiB = 1 << 10, 1 << 20


# Each case opens connections of its own: one server for all of them
# (shared.py says what is still checked per test).
@pytest.fixture(scope="module")
def echo_4m(tmp_path_factory):
    with shared.server(tmp_path_factory.mktemp("echo-4m"),
                       "--echo", "--max-message-size", "4M") as srv:
        yield srv


@pytest.fixture
def echo(echo_4m, request):
    conns = []

    def connect():
        c = open_ws(echo_4m.port, "/")
        conns.append(c)
        return c
    connect.server = echo_4m
    with shared.window(echo_4m, request):
        yield connect
        for c in conns:
            c.close()


def fails_with(conn, code, allow_data=False):
    got, _ = expect_close(conn, reply=False, eof=True, allow_data=allow_data)
    assert got == code, "expected close %d, got %s" % (code, got)


def fails_after_partial_echo(conn, code, prefix):
    """The echo may stream the start of a message before the failure is
    known; what it forwarded must be a prefix of what was sent, never
    completed (FIN) and, for text, never invalid UTF-8."""
    import codecs
    fails_with(conn, code, allow_data=True)
    fwd = b"".join(p for _, _, p in conn.seen)
    assert not any(fin for fin, _, _ in conn.seen), \
        "a failed message was echoed as complete: %r" % conn.seen
    assert prefix.startswith(fwd), "forwarded %r, sent %r" % (fwd, prefix)
    if conn.seen and conn.seen[0][1] == OP_TEXT:
        codecs.getincrementaldecoder("utf-8")().decode(fwd, final=False)


def send_frames(conn, *frames):
    """Send (opcode, payload, fin) frames in one write, so the server has
    read them all before it fails the connection."""
    conn.sendall(b"".join(build_frame(op, p, fin) for op, p, fin in frames))


def echoes(conn, opcode, payload):
    send_frame(conn, opcode, payload)
    assert recv_message(conn) == (opcode, payload)


# ---- 1.x framing ---------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 125, 126, 127, 128, 65535, 65536, 65537])
@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY])
def test_1_frame_lengths(echo, opcode, n):
    c = echo()
    payload = (b"*" * n) if opcode == OP_TEXT else os.urandom(n)
    echoes(c, opcode, payload)


def test_1_frame_sent_in_chops(echo):
    c = echo()
    frame = build_frame(OP_TEXT, b"chopped frame payload" * 10)
    for i in range(len(frame)):
        c.sendall(frame[i:i + 1])
    assert recv_message(c) == (OP_TEXT, b"chopped frame payload" * 10)


def test_1_many_frames_in_one_write(echo):
    c = echo()
    data = b"".join(build_frame(OP_BINARY, bytes([i]) * i) for i in range(100))
    c.sendall(data)
    for i in range(100):
        assert recv_message(c) == (OP_BINARY, bytes([i]) * i)


# ---- 2.x pings and pongs -------------------------------------------------

@pytest.mark.parametrize("payload", [b"", b"hello", b"\x00\xff" * 62 + b"!"])
def test_2_ping_gets_pong_with_same_payload(echo, payload):
    c = echo()
    send_frame(c, OP_PING, payload)
    fin, op, got = recv_frame(c)
    assert (fin, op, got) == (True, OP_PONG, payload)


def test_2_ping_126_bytes_fails(echo):
    c = echo()
    send_frame(c, OP_PING, b"x" * 126)
    fails_with(c, 1002)


def test_2_unsolicited_pong_ignored(echo):
    c = echo()
    send_frame(c, OP_PONG, b"unsolicited")
    echoes(c, OP_TEXT, b"after pong")


def test_2_ten_pings_ten_pongs_in_order(echo):
    c = echo()
    for i in range(10):
        send_frame(c, OP_PING, b"p%d" % i)
    for i in range(10):
        assert recv_frame(c) == (True, OP_PONG, b"p%d" % i)


def test_2_ping_in_chops(echo):
    c = echo()
    frame = build_frame(OP_PING, b"chopped ping")
    for i in range(len(frame)):
        c.sendall(frame[i:i + 1])
    assert recv_frame(c) == (True, OP_PONG, b"chopped ping")


# ---- 3.x reserved bits ---------------------------------------------------

@pytest.mark.parametrize("rsv", range(1, 8))
@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY, OP_PING])
def test_3_rsv_bits_fail(echo, opcode, rsv):
    c = echo()
    send_frame(c, opcode, b"rsv", rsv=rsv)
    fails_with(c, 1002)


def test_3_rsv_after_valid_frame(echo):
    # Autobahn 3.2: the valid frame may be echoed (strict) or not
    # (non-strict), then the connection fails; the ping is not answered.
    c = echo()
    c.sendall(build_frame(OP_TEXT, b"fine") +
              build_frame(OP_TEXT, b"bad", rsv=2) +
              build_frame(OP_PING, b""))
    fails_with(c, 1002, allow_data=True)


def test_3_rsv_on_close_fails(echo):
    c = echo()
    send_frame(c, OP_CLOSE, close_payload(1000), rsv=4)
    fails_with(c, 1002)


# ---- 4.x reserved opcodes ------------------------------------------------

@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 11, 12, 13, 14, 15])
@pytest.mark.parametrize("payload", [b"", b"reserved"])
def test_4_reserved_opcodes_fail(echo, opcode, payload):
    c = echo()
    send_frame(c, opcode, payload)
    fails_with(c, 1002)


def test_4_reserved_opcode_after_valid_frame(echo):
    c = echo()
    c.sendall(build_frame(OP_TEXT, b"fine") + build_frame(5, b"") +
              build_frame(OP_PING, b""))
    fails_with(c, 1002, allow_data=True)


# ---- 5.x fragmentation ---------------------------------------------------

@pytest.mark.parametrize("opcode", [OP_PING, OP_PONG])
def test_5_fragmented_control_frame_fails(echo, opcode):
    c = echo()
    send_frames(c, (opcode, b"frag", False), (OP_CONT, b"ment", True))
    fails_with(c, 1002)


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY])
def test_5_two_fragments(echo, opcode):
    c = echo()
    send_frame(c, opcode, b"frag", fin=False)
    send_frame(c, OP_CONT, b"ment")
    assert recv_message(c) == (opcode, b"fragment")


def test_5_ping_between_fragments(echo):
    c = echo()
    send_frame(c, OP_TEXT, b"frag", fin=False)
    send_frame(c, OP_PING, b"in between")
    # The pong must not wait for the end of the message (an echo that
    # streams may send the first fragment before it).
    early = []
    while True:
        fin, op, payload = recv_frame(c)
        if op == OP_PONG:
            assert payload == b"in between"
            break
        early.append((fin, op, payload))
    assert all(not fin for fin, _, _ in early), early
    send_frame(c, OP_CONT, b"ment")
    if early:
        assert early[0][1] == OP_TEXT
        rest = []
        while True:
            fin, op, payload = recv_frame(c)
            assert op == OP_CONT
            rest.append(payload)
            if fin:
                break
        got = b"".join([p for _, _, p in early] + rest)
        assert got == b"fragment"
    else:
        assert recv_message(c) == (OP_TEXT, b"fragment")


def test_5_pongs_and_pings_between_many_fragments(echo):
    c = echo()
    send_frame(c, OP_TEXT, b"a", fin=False)
    for i in range(10):
        send_frame(c, OP_PONG, b"unsolicited")
        send_frame(c, OP_PING, b"%d" % i)
        send_frame(c, OP_CONT, b"b", fin=False)
    send_frame(c, OP_CONT, b"c")
    pongs = []
    assert recv_message(c, pongs=pongs) == (OP_TEXT, b"a" + b"b" * 10 + b"c")
    assert pongs == [b"%d" % i for i in range(10)]


def test_5_one_byte_fragments_and_empty_fragments(echo):
    c = echo()
    msg = b"fragmented one byte at a time"
    send_frame(c, OP_TEXT, b"", fin=False)
    for ch in msg:
        send_frame(c, OP_CONT, bytes([ch]), fin=False)
        send_frame(c, OP_CONT, b"", fin=False)
    send_frame(c, OP_CONT, b"")
    assert recv_message(c) == (OP_TEXT, msg)


@pytest.mark.parametrize("fin", [True, False])
def test_5_continuation_without_start_fails(echo, fin):
    c = echo()
    send_frame(c, OP_CONT, b"orphan", fin=fin)
    fails_with(c, 1002)


def test_5_continuation_after_finished_message_fails(echo):
    c = echo()
    send_frame(c, OP_TEXT, b"frag", fin=False)
    send_frame(c, OP_CONT, b"ment", fin=True)
    assert recv_message(c) == (OP_TEXT, b"fragment")
    send_frame(c, OP_CONT, b"extra", fin=True)
    fails_with(c, 1002)


@pytest.mark.parametrize("second", [OP_TEXT, OP_BINARY])
def test_5_new_message_inside_fragmented_message_fails(echo, second):
    c = echo()
    send_frames(c, (OP_TEXT, b"frag", False), (second, b"new", True))
    fails_after_partial_echo(c, 1002, b"frag")


# ---- 6.x UTF-8 -----------------------------------------------------------

VALID_UTF8 = [
    "Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!!",
    "\u03ba\u1f79\u03c3\u03bc\u03b5",
    "\u0080\u07ff\u0800\uffff\U00010000\U0010ffff",
    "\ud7ff\ue000\ufffd",
    "\u4e2d\u6587 \U0001F600 \u0000 nul inside",
]

INVALID_UTF8 = [
    b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",  # surrogate
    b"\xc0\xaf",                 # overlong '/'
    b"\xe0\x80\xaf",             # overlong 3 bytes
    b"\xf0\x80\x80\xaf",         # overlong 4 bytes
    b"\xf4\x90\x80\x80",         # above U+10FFFF
    b"\xff",
    b"\xfe",
    b"\x80",                     # lone continuation
    b"abc\xce",                  # truncated at message end
    b"\xed\xbf\xbf",             # surrogate U+DFFF
    b"\xf8\x88\x80\x80\x80",     # 5-byte form
]


@pytest.mark.parametrize("text", VALID_UTF8)
def test_6_valid_utf8_echoed(echo, text):
    c = echo()
    echoes(c, OP_TEXT, text.encode())


@pytest.mark.parametrize("text", VALID_UTF8)
def test_6_valid_utf8_split_at_every_byte(echo, text):
    # Fragment boundaries fall inside characters; still valid.
    c = echo()
    data = text.encode()
    send_frame(c, OP_TEXT, data[:1], fin=len(data) <= 1)
    for i in range(1, len(data)):
        send_frame(c, OP_CONT, data[i:i + 1], fin=(i == len(data) - 1))
    assert recv_message(c) == (OP_TEXT, data)


@pytest.mark.parametrize("data", INVALID_UTF8)
def test_6_invalid_utf8_fails_1007(echo, data):
    c = echo()
    send_frame(c, OP_TEXT, data)
    fails_with(c, 1007)


def test_6_invalid_utf8_split_across_fragments(echo):
    # Each fragment alone could be a valid prefix or suffix; together not.
    c = echo()
    send_frames(c, (OP_TEXT, b"ok \xce", False), (OP_CONT, b"A fine", True))
    fails_after_partial_echo(c, 1007, b"ok \xce")


def test_6_invalid_utf8_in_continuation(echo):
    c = echo()
    send_frame(c, OP_TEXT, b"\xce\xba\xe1\xbd", fin=False)
    send_frame(c, OP_CONT, b"\xb9\xcf\x83\xce\xbc\xce\xb5")
    assert recv_message(c) == (OP_TEXT, "\u03ba\u1f79\u03c3\u03bc\u03b5".encode())
    send_frames(c, (OP_TEXT, b"\xce\xba\xe1", False),
                (OP_CONT, b"\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80",
                 False))
    fails_after_partial_echo(c, 1007, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc"
                             b"\xce\xb5")


def test_6_invalid_utf8_fails_fast(echo):
    # Autobahn 6.4: the message never finishes; validation is streaming,
    # so the server fails the connection on the bad fragment.
    c = echo()
    send_frame(c, OP_TEXT, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
               b"\xf4\x90\x80\x80", fin=False)
    fails_after_partial_echo(c, 1007, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc"
                             b"\xce\xb5")


# ---- 7.x close handling --------------------------------------------------

def test_7_close_1000_echoed_then_tcp_closed(echo):
    c = echo()
    send_frame(c, OP_CLOSE, close_payload(1000, "bye"))
    code, _ = expect_close(c, eof=True)
    assert code == 1000


def test_7_close_empty_payload(echo):
    c = echo()
    send_frame(c, OP_CLOSE, b"")
    code, _ = expect_close(c, eof=True)
    assert code in (None, 1000)


def test_7_nothing_after_close(echo):
    # Autobahn 7.1.3/7.1.4: frames after a Close are not answered.
    c = echo()
    c.sendall(build_frame(OP_CLOSE, close_payload(1000)) +
              build_frame(OP_TEXT, b"after close") +
              build_frame(OP_PING, b"after close"))
    code, _ = expect_close(c, eof=True)
    assert code == 1000


def test_7_close_with_max_reason(echo):
    c = echo()
    send_frame(c, OP_CLOSE, close_payload(1000, "r" * 123))
    code, _ = expect_close(c)
    assert code == 1000


def test_7_close_too_long_fails(echo):
    c = echo()
    send_frame(c, OP_CLOSE, close_payload(1000, "r" * 124))
    fails_with(c, 1002)


def test_7_close_payload_one_byte_fails(echo):
    c = echo()
    send_frame(c, OP_CLOSE, b"\x03")
    fails_with(c, 1002)


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100,
                                  2000, 2999, 5000, 65535])
def test_7_invalid_close_code_fails(echo, code):
    # (1012-1014 were registered after RFC 6455; either answer is fine, so
    # they are not tested.)
    c = echo()
    send_frame(c, OP_CLOSE, close_payload(code))
    fails_with(c, 1002)


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009,
                                  1010, 1011, 3000, 3999, 4000, 4999])
def test_7_valid_close_code_echoed(echo, code):
    c = echo()
    send_frame(c, OP_CLOSE, close_payload(code, "reason"))
    got, _ = expect_close(c)
    assert got == code


def test_7_close_reason_invalid_utf8_fails(echo):
    c = echo()
    send_frame(c, OP_CLOSE, close_payload(1000, b"\xce\xba\xe1\xbd\xb9\xcf"
                                          b"\x83\xce\xbc\xce\xb5\xed\xa0\x80"))
    fails_with(c, 1007)


def test_7_close_in_the_middle_of_fragmented_message(echo):
    c = echo()
    send_frame(c, OP_TEXT, b"frag", fin=False)
    send_frame(c, OP_CLOSE, close_payload(1000))
    code, _ = expect_close(c, allow_data=True)
    assert code == 1000
    assert b"".join(p for _, _, p in c.seen) in (b"", b"frag")
    assert not any(fin for fin, _, _ in c.seen)


# ---- masking -------------------------------------------------------------

@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY, OP_PING, OP_CLOSE])
def test_unmasked_client_frame_fails(echo, opcode):
    c = echo()
    payload = close_payload(1000) if opcode == OP_CLOSE else b"plain"
    send_frame(c, opcode, payload, mask=False)
    fails_with(c, 1002)


def test_64bit_length_with_top_bit_fails(echo):
    c = echo()
    c.sendall(bytes([0x82, 0xFF]) + struct.pack("!Q", 1 << 63) + b"\0\0\0\0")
    got, _ = expect_close(c)
    assert got == 1002      # RFC 6455 5.2 (issue 13)


# ---- limits --------------------------------------------------------------

@pytest.fixture(scope="module")
def echo_64k(tmp_path_factory):
    with shared.server(tmp_path_factory.mktemp("echo-64k"),
                       "--echo", "--max-message-size", "64K") as srv:
        yield srv


@pytest.fixture
def small(echo_64k, request):
    conns = []

    def connect():
        c = open_ws(echo_64k.port, "/")
        conns.append(c)
        return c
    with shared.window(echo_64k, request):
        yield connect
        for c in conns:
            c.close()


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY])
def test_message_at_limit_passes(small, opcode):
    c = small()
    echoes(c, opcode, b"L" * (64 * KiB))


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY])
def test_message_over_limit_1009(small, opcode):
    c = small()
    send_frame(c, opcode, b"L" * (64 * KiB + 1))
    fails_with(c, 1009)


def test_fragmented_message_over_limit_1009(small):
    c = small()
    send_frames(c, (OP_BINARY, b"F" * (40 * KiB), False),
                (OP_CONT, b"F" * (40 * KiB), False), (OP_CONT, b"F", True))
    fails_after_partial_echo(c, 1009, b"F" * (64 * KiB))


def test_huge_declared_length_1009_without_payload(small):
    # The header alone announces 1 GiB: no need to wait for the payload.
    c = small()
    c.sendall(bytes([0x82, 0xFF]) + struct.pack("!Q", 1 << 30) + b"abcd")
    fails_with(c, 1009)


def test_default_limit_is_1_mib(wsbridge):
    srv = wsbridge("--echo")
    c = open_ws(srv.port, "/")
    t, _ = send_all_threaded(c, build_frame(OP_BINARY, b"x" * (MiB + 1)))
    fails_with(c, 1009)
    c.close()
    t.join(5)


# ---- 9.x large messages --------------------------------------------------

def big_text(n):
    return (("\u00e9\u4e2d" + "abc") * (n // 8 + 1)).encode()[:n]


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY])
def test_9_one_mib_single_frame(echo, opcode):
    c = echo()
    payload = b"T" * MiB if opcode == OP_TEXT else os.urandom(MiB)
    t, err = send_all_threaded(c, build_frame(opcode, payload))
    assert recv_message(c, timeout=20) == (opcode, payload)
    t.join(5)
    assert not err


@pytest.mark.parametrize("frag", [64 * KiB, 4 * KiB + 3])
@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY])
def test_9_one_mib_in_fragments(echo, opcode, frag):
    c = echo()
    payload = big_text(MiB) if opcode == OP_TEXT else os.urandom(MiB)
    if opcode == OP_TEXT:
        payload = payload.decode("utf-8", "ignore").encode()
    chunks = [payload[i:i + frag] for i in range(0, len(payload), frag)]
    frames = [build_frame(opcode if i == 0 else OP_CONT, ch,
                          fin=(i == len(chunks) - 1))
              for i, ch in enumerate(chunks)]
    t, err = send_all_threaded(c, b"".join(frames))
    assert recv_message(c, timeout=20) == (opcode, payload)
    t.join(5)
    assert not err


def test_9_many_messages_pipelined(echo):
    c = echo()
    msgs = [os.urandom(1000 + i) for i in range(300)]
    t, err = send_all_threaded(
        c, b"".join(build_frame(OP_BINARY, m) for m in msgs))
    for m in msgs:
        assert recv_message(c, timeout=10) == (OP_BINARY, m)
    t.join(5)
    assert not err
