"""Flow control and timers (SPEC 3 "Flow control", 4, 8): bounded memory
with a slow client or a process that never reads, handshake deadline,
server pings, idle timeout."""

import select
import socket
import struct
import time

import pytest

import wsutil

from wsutil import (open_ws, connect_tcp, recv_frame, recv_message,
                    send_frame, expect_close, build_frame, wait_until,
                    rss_kib, children, alive, OP_TEXT, OP_BINARY, OP_PING,
                    OP_PONG, OP_CLOSE, close_payload)

MiB = 1 << 20
RSS_SLACK_KIB = 64 * 1024


def watch_rss(pid, seconds):
    """Max VmRSS (KiB) seen over a bounded window."""
    peak = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        peak = max(peak, rss_kib(pid))
        time.sleep(0.05)
    return peak


@pytest.mark.parametrize("mode", ["binary", "text"])
def test_slow_client_flooding_process_bounded_memory(wsbridge, mode):
    line = "0123456789abcdef" * 4
    if mode == "binary":
        srv = wsbridge("--binary", "cat", "/dev/zero")
    else:
        srv = wsbridge("yes", line)
    baseline = rss_kib(srv.pid)
    c = open_ws(srv.port, "/")
    # The client reads nothing for two seconds while the process floods.
    peak = watch_rss(srv.pid, 2.0)
    assert peak - baseline < RSS_SLACK_KIB, \
        "wsbridge RSS grew %d KiB with a paused client" % (peak - baseline)
    kids = children(srv.pid)
    assert kids, "the flooding process died"
    # Reading resumes: data flows, intact.
    want = 16 * MiB if mode == "binary" else 1 * MiB
    got = 0
    deadline = time.monotonic() + 20
    while got < want:
        fin, op, payload = recv_frame(c, deadline - time.monotonic())
        if mode == "binary":
            assert op == OP_BINARY and fin
            assert payload == bytes(len(payload))
        else:
            assert op == OP_TEXT and fin
            assert payload == line.encode()
        got += len(payload)
    assert rss_kib(srv.pid) - baseline < RSS_SLACK_KIB
    send_frame(c, OP_CLOSE, close_payload(1000))
    c.close()


def flood_until_stalled(conn, limit=512 * MiB, seconds=20):
    """Send 64 KiB binary frames until the socket stays unwritable for a
    second.  Returns (stalled, bytes_sent)."""
    conn.sock.setblocking(False)
    frame = build_frame(OP_BINARY, b"\x01" * 65536)
    pending = memoryview(frame)
    sent = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and sent < limit:
        _, w, _ = select.select([], [conn.sock], [], 1.0)
        if not w:
            return True, sent
        try:
            n = conn.sock.send(pending)
        except BlockingIOError:
            continue
        sent += n
        pending = pending[n:]
        if not pending:
            pending = memoryview(frame)
    return False, sent


def test_process_not_reading_stalls_client_bounded_memory(wsbridge):
    srv = wsbridge("--binary", "sleep", "300")
    baseline = rss_kib(srv.pid)
    c = open_ws(srv.port, "/")
    stalled, sent = flood_until_stalled(c)
    assert stalled, "wsbridge kept reading: %d MiB accepted in 20s from a " \
        "client whose process never reads" % (sent // MiB)
    # Kernel buffers (client send + server receive) hold some; wsbridge
    # buffers at most buffer_size per direction.
    assert sent < 96 * MiB, "%d MiB accepted before stalling" % (sent // MiB)
    assert rss_kib(srv.pid) - baseline < RSS_SLACK_KIB
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                      struct.pack("ii", 1, 0))
    c.close()


@pytest.mark.parametrize("how", ["rst", "fin"])
def test_client_vanishing_while_stalled_is_noticed(wsbridge, how):
    # The client->process direction is stalled (the server is not reading
    # the client), then the client goes away.  A FIN is stuck behind the
    # unread data; keepalive (a failed ping write, or no pong within
    # ping_timeout) must still end the connection and the process.
    srv = wsbridge("--ping-interval", "1s", "--ping-timeout", "1s",
                   "--closems", "200", "--binary",
                   "sh", "-c", "echo $$; exec sleep 300")
    c = open_ws(srv.port, "/")
    op, pid = recv_message(c)
    pid = int(pid)
    stalled, _ = flood_until_stalled(c)
    assert stalled
    if how == "rst":
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          struct.pack("ii", 1, 0))
    c.sock.close()
    wait_until(lambda: not alive(pid), 8, 0.05,
               "process of a vanished, stalled client to be killed")


def test_big_text_both_ways_no_deadlock(wsbridge):
    # cat writes while being written to: many 64 KiB lines in flight.
    from wsutil import ws_session, count
    srv = wsbridge("cat")
    msgs = [("%05d" % i) * 13000 for i in range(64)]
    s = ws_session(srv.url("/"), msgs, done=count(64), timeout=30)
    assert s.messages == msgs


# ---- handshake deadline --------------------------------------------------

def closed_within(conn, seconds):
    """True if the server closes (EOF, reset, or a response then EOF)."""
    return wsutil.closed_within(conn.sock, seconds)


def test_handshake_timeout_silent_socket(wsbridge):
    srv = wsbridge("--handshake-timeout", "1s", "cat")
    c = connect_tcp(srv.port)
    closed, data = closed_within(c, 4.0)
    assert closed, "silent connection still open 4s after accept"
    assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:100]
    c.close()


def test_handshake_timeout_slowloris(wsbridge):
    # Trickling bytes does not extend the deadline from accept.
    srv = wsbridge("--handshake-timeout", "1s", "cat")
    c = connect_tcp(srv.port)
    c.sendall(b"GET / HTTP/1.1\r\n")
    deadline = time.monotonic() + 4.0
    closed = False
    while time.monotonic() < deadline and not closed:
        try:
            c.sendall(b"X")
        except OSError:
            closed = True
            break
        closed, _ = closed_within(c, 0.1)
    assert closed, "trickling client still connected 4s after accept"
    c.close()


def test_handshake_timeout_not_applied_after_upgrade(wsbridge):
    srv = wsbridge("--handshake-timeout", "1s", "cat")
    c = open_ws(srv.port, "/")
    closed, data = closed_within(c, 2.0)
    assert not closed and data == b"", \
        "open WebSocket closed by the handshake deadline"
    send_frame(c, OP_TEXT, "still here")
    assert recv_message(c) == (OP_TEXT, b"still here")
    c.close()


def test_default_handshake_timeout_does_not_fire_early(wsbridge):
    srv = wsbridge("cat")
    c = connect_tcp(srv.port)
    closed, _ = closed_within(c, 1.5)
    assert not closed
    c.close()


# ---- keepalive -----------------------------------------------------------

def test_server_pings(wsbridge):
    srv = wsbridge("--ping-interval", "1s", "--echo")
    c = open_ws(srv.port, "/")
    start = time.monotonic()
    for _ in range(2):
        fin, op, payload = recv_frame(c, timeout=4)
        assert op == OP_PING, "expected a server Ping, got op %d" % op
        send_frame(c, OP_PONG, payload)
    assert time.monotonic() - start < 5
    send_frame(c, OP_TEXT, "alive")
    assert recv_message(c) == (OP_TEXT, b"alive")
    c.close()


def test_no_pings_by_default_within_a_second(wsbridge):
    srv = wsbridge("--echo")
    c = open_ws(srv.port, "/")
    closed, data = closed_within(c, 1.2)
    assert not closed and data == b""
    c.close()


def test_idle_timeout_closes_1001(wsbridge):
    srv = wsbridge("--idle-timeout", "1s", "--echo")
    c = open_ws(srv.port, "/")
    code, _ = expect_close(c, timeout=5, reply=True)
    assert code == 1001


def test_idle_timeout_reset_by_traffic(wsbridge):
    srv = wsbridge("--idle-timeout", "1s", "--closems", "200", "cat")
    c = open_ws(srv.port, "/")
    for i in range(6):
        send_frame(c, OP_TEXT, "tick %d" % i)
        assert recv_message(c) == (OP_TEXT, b"tick %d" % i)
        closed, _ = closed_within(c, 0.4)
        assert not closed, "idle timeout fired despite traffic"
    code, _ = expect_close(c, timeout=5, reply=True)
    assert code == 1001
    wait_until(lambda: not children(srv.pid), 5,
               what="process of the idle connection to end")
