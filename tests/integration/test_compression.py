"""permessage-deflate (RFC 7692) on routes with compression = yes."""
import random
import zlib

import pytest

import wsutil
from cfgutil import start_config
from wsutil import (OP_BINARY, OP_CONT, OP_TEXT, expect_close,
                    recv_frame_full, send_frame, ws_session, count)

ROUTES = """
[route /echo]
echo = yes
compression = yes
max_message_size = 1M
[route /plain]
echo = yes
[route /cat]
exec = cat
compression = yes
"""
OFFER = {"Sec-WebSocket-Extensions":
         "permessage-deflate; client_max_window_bits"}


def deflate(data):
    c = zlib.compressobj(wbits=-15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def inflate(data):
    return zlib.decompressobj(wbits=-15).decompress(data + b"\x00\x00\xff\xff")


def recv_payloads(conn):
    """The payloads of one message's frames, joined (still compressed)."""
    got = b""
    while True:
        fin, rsv, op, payload = recv_frame_full(conn)
        got += payload
        if fin:
            return got


def close_code(conn):
    """Skip (compressed) data frames up to the Close; return its code."""
    while True:
        fin, rsv, op, payload = recv_frame_full(conn)
        if op == 8:
            return int.from_bytes(payload[:2], "big") if payload else 1005


@pytest.fixture
def srv(wsbridge, tmp_path):
    s, _ = start_config(wsbridge, tmp_path, ROUTES)
    return s


def test_negotiated_only_when_offered_and_enabled(srv):
    c, head, _ = wsutil.raw_handshake(srv.port, "/echo", OFFER)
    assert head.status == 101
    ext = head.header("sec-websocket-extensions")
    assert ext is not None and ext.startswith("permessage-deflate")
    c.close()
    c, head, _ = wsutil.raw_handshake(srv.port, "/plain", OFFER)
    assert head.header("sec-websocket-extensions") is None
    c.close()
    c, head, _ = wsutil.raw_handshake(srv.port, "/echo")
    assert head.header("sec-websocket-extensions") is None
    c.close()


def test_unacceptable_offer_declined(srv):
    # zlib cannot deflate with an 8-bit window: no extension, still 101.
    c, head, _ = wsutil.raw_handshake(
        srv.port, "/echo",
        {"Sec-WebSocket-Extensions": "permessage-deflate; "
                                     "server_max_window_bits=8"})
    assert head.status == 101
    assert head.header("sec-websocket-extensions") is None
    c.close()


def test_compressed_echo_fragmented(srv):
    c, head, _ = wsutil.raw_handshake(srv.port, "/echo", OFFER)
    text = ("compress me " * 2000).encode()
    z = deflate(text)
    half = len(z) // 2
    send_frame(c, OP_TEXT, z[:half], fin=False, rsv=4)
    send_frame(c, OP_CONT, z[half:], fin=True)
    got, first = b"", True
    while True:
        fin, rsv, op, payload = recv_frame_full(c)
        assert op == (OP_TEXT if first else OP_CONT)
        assert rsv == (4 if first else 0)
        first = False
        got += payload
        if fin:
            break
    assert inflate(got) == text
    c.close()


def test_uncompressed_message_still_fine(srv):
    c, head, _ = wsutil.raw_handshake(srv.port, "/echo", OFFER)
    send_frame(c, OP_BINARY, b"raw bytes", rsv=0)
    fin, rsv, op, payload = recv_frame_full(c)
    assert op == OP_BINARY and rsv == 4 and inflate(payload) == b"raw bytes"
    c.close()


def test_rsv1_on_continuation_is_1002(srv):
    c, head, _ = wsutil.raw_handshake(srv.port, "/echo", OFFER)
    send_frame(c, OP_TEXT, deflate(b"a"), fin=False, rsv=4)
    send_frame(c, OP_CONT, deflate(b"b"), fin=True, rsv=4)
    code = close_code(c)
    assert code == 1002


def test_rsv1_without_negotiation_is_1002(srv):
    c = wsutil.open_ws(srv.port, "/plain")
    send_frame(c, OP_TEXT, deflate(b"hello"), rsv=4)
    code, _ = expect_close(c)
    assert code == 1002


def test_corrupt_data_is_1007(srv):
    c, head, _ = wsutil.raw_handshake(srv.port, "/echo", OFFER)
    send_frame(c, OP_BINARY, b"\xff\xff\xff\xff\xff", rsv=4)
    assert close_code(c) == 1007


def test_inflated_size_limit_is_1009(srv):
    # 2 MiB of zeros compress to a few KiB: the limit is on the inflated
    # size (a zip bomb stops at max_message_size).
    c, head, _ = wsutil.raw_handshake(srv.port, "/echo", OFFER)
    z = deflate(b"\0" * (2 << 20))
    assert len(z) < 1 << 20
    send_frame(c, OP_BINARY, z, rsv=4)
    code = close_code(c)
    assert code == 1009


def test_invalid_utf8_after_inflate_is_1007(srv):
    c, head, _ = wsutil.raw_handshake(srv.port, "/echo", OFFER)
    send_frame(c, OP_TEXT, deflate(b"ok \xff bad"), rsv=4)
    code = close_code(c)
    assert code == 1007


def test_process_route_with_an_independent_client(srv):
    # python3-websockets offers permessage-deflate and checks our side.
    msgs = ["line %d " % i * 50 for i in range(200)]
    s = ws_session("ws://127.0.0.1:%d/cat" % srv.port, msgs,
                   done=count(200))
    assert s.messages == msgs


def test_messages_on_64k_boundaries(srv):
    # The echo's last fragment is empty when the inflated size is a
    # multiple of 64 KiB: it must still be a valid compressed frame.
    msgs = ["a" * n for n in (65536, 131072, 1 << 20, 0, 1, 65537)]
    s = ws_session("ws://127.0.0.1:%d/echo" % srv.port, msgs,
                   done=count(len(msgs)))
    assert s.messages == msgs
    assert s.code == 1000


def test_empty_final_fragment(srv):
    # The server's echo ends with an empty piece here: it is sent as a
    # frame the client can inflate, and the stream stays in step.
    c, head, _ = wsutil.raw_handshake(srv.port, "/echo", OFFER)
    z = zlib.compressobj(wbits=-15)
    first = z.compress(b"abc") + z.flush(zlib.Z_SYNC_FLUSH)
    # Its own flush ended the first fragment: the last one is the single
    # 0x00 that the appended 00 00 ff ff completes (RFC 7692 7.2.3.6).
    send_frame(c, OP_TEXT, first, fin=False, rsv=4)
    send_frame(c, OP_CONT, b"\x00", fin=True)
    assert inflate(recv_payloads(c)) == b"abc"
    # The connection is still healthy: a second message echoes too.
    send_frame(c, OP_TEXT, deflate(b"next"), rsv=4)
    fin, rsv, op, payload = recv_frame_full(c)
    assert (fin, op) == (True, OP_TEXT) and inflate(payload) == b"next"
    c.close()


def test_server_max_window_bits_answered(srv):
    # RFC 7692 7.1.2.1: accepting the parameter means echoing it.
    from websockets.extensions.permessage_deflate import (
        ClientPerMessageDeflateFactory)
    for bits in (15, 10):
        c, head, _ = wsutil.raw_handshake(
            srv.port, "/echo",
            {"Sec-WebSocket-Extensions":
             "permessage-deflate; server_max_window_bits=%d" % bits})
        assert head.status == 101
        assert ("server_max_window_bits=%d" % bits
                in head.header("sec-websocket-extensions"))
        c.close()
    factory = ClientPerMessageDeflateFactory(server_max_window_bits=15)
    s = ws_session("ws://127.0.0.1:%d/echo" % srv.port, ["x" * 1000],
                   done=count(1), extensions=[factory])
    assert s.messages == ["x" * 1000]


def test_incompressible_message_under_the_limit(srv):
    # Random bytes grow a little when deflated: the limit is on the
    # message, not on its compressed form.
    # (One generator for all the bytes: a Random(7) per byte gave one
    # byte value a million times, which deflates to almost nothing.)
    blob = random.Random(7).randbytes(1000000)
    assert len(zlib.compress(blob)) > len(blob)
    s = ws_session("ws://127.0.0.1:%d/echo" % srv.port, [blob],
                   done=count(1))
    assert s.messages == [blob]


def test_message_with_final_deflate_block(srv):
    # RFC 7692 7.2.3.4: a sender may end with BFINAL (zlib's Z_FINISH);
    # the message completes and the next one starts a fresh stream.
    c, head, _ = wsutil.raw_handshake(srv.port, "/echo", OFFER)
    for text in (b"first message", b"second one"):
        z = zlib.compressobj(wbits=-15)
        send_frame(c, OP_TEXT, z.compress(text) + z.flush(zlib.Z_FINISH),
                   rsv=4)
        fin, rsv, op, payload = recv_frame_full(c)
        assert (fin, op) == (True, OP_TEXT) and inflate(payload) == text
    c.close()


def test_empty_non_final_compressed_fragment(srv):
    # An empty first fragment must not stall what follows it.
    c, head, _ = wsutil.raw_handshake(srv.port, "/echo", OFFER)
    send_frame(c, OP_TEXT, b"", fin=False, rsv=4)
    send_frame(c, OP_CONT, deflate(b"after an empty piece"), fin=True)
    assert inflate(recv_payloads(c)) == b"after an empty piece"
    c.close()
