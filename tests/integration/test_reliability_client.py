"""Issue 13, items 1 and 2: clients that stop taking part.

1. A client that leaves while its input is paused (the backend takes
   nothing) is noticed: its FIN or reset ends the connection, and its
   process gets the grace sequence; no descriptor or process is left.
   A client that takes none of our output is closed by the pong deadline
   (pings on) or by send_timeout, blocked or not.
2. A static download is bounded by its progress (send_timeout), not by
   handshake_timeout.
"""

import os
import select
import socket
import struct
import threading
import time

import pytest

import wsutil
from cfgutil import start_config, wait_log, send_http
from wsutil import (open_ws, connect_tcp, recv_message, build_frame,
                    wait_until, fd_count, session_members, closed_within,
                    ws_session, count, OP_TEXT)

MiB = 1 << 20


def flood_until_stalled(conn, seconds=20):
    """Send 64 KiB text frames until the socket stays unwritable for a
    second (or the server resets it); (stalled, bytes sent)."""
    conn.sock.setblocking(False)
    frame = build_frame(OP_TEXT, b"x" * 65536)
    pending = memoryview(frame)
    sent = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        _, w, _ = select.select([], [conn.sock], [], 1.0)
        if not w:
            return True, sent
        try:
            n = conn.sock.send(pending)
        except BlockingIOError:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True, sent
        sent += n
        pending = pending[n:] or memoryview(frame)
    return False, sent


def released(srv, fds):
    """Every connection's descriptors and processes are gone."""
    return fd_count(srv.pid) <= fds and not session_members(srv.pid)


# ---- item 1: a client gone while its input is paused ----------------------

@pytest.mark.parametrize("how", ["fin", "rst"])
def test_client_gone_behind_full_backend_is_released(wsbridge, how):
    # Issue 13 item 1: pings off, a program that never reads; clients
    # fill it, then close.  Their FIN waits behind data nobody takes (or
    # their reset comes while nobody reads them): before the fix the
    # connections, their descriptors and the processes stayed forever.
    srv = wsbridge("--ping-interval", "0", "--close-timeout", "1s",
                   "--close-grace", "200ms",
                   "sh", "-c", "echo started; exec sleep 1000")
    fds = fd_count(srv.pid)
    conns = []
    for _ in range(3):
        c = open_ws(srv.port, "/")
        assert recv_message(c) == (OP_TEXT, b"started")
        conns.append(c)
    for c in conns:
        stalled, sent = flood_until_stalled(c)
        # Far more than wsbridge buffers (pipe, buffer_size, a read): its
        # input is paused, and the FIN comes after all of it.
        assert stalled and sent > 2 * MiB, "sent %d bytes" % sent
    assert len(session_members(srv.pid)) == 3
    assert fd_count(srv.pid) > fds
    for c in conns:
        if how == "rst":
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                              struct.pack("ii", 1, 0))
        c.close()
    wait_until(lambda: released(srv, fds), 20, 0.05,
               "descriptors back to %d and no process left (now %d fds, "
               "processes %r)" % (fds, fd_count(srv.pid),
                                  session_members(srv.pid)))
    # The server still serves.
    c = open_ws(srv.port, "/")
    assert recv_message(c) == (OP_TEXT, b"started")
    c.close()


def test_blocked_client_not_reading_closed_by_pong_deadline(wsbridge):
    # Issue 13 item 1: /echo, pings on; the client floods and reads
    # nothing, so its input waits behind its own unread output.  The
    # pong deadline used to be skipped while input was blocked.
    srv = wsbridge("--ping-interval", "1s", "--ping-timeout", "1s",
                   "--echo")
    fds = fd_count(srv.pid)
    c = open_ws(srv.port, "/")
    stalled, _ = flood_until_stalled(c)
    assert stalled
    wait_log(srv, "no pong within", timeout=15)
    closed, _ = closed_within(c.sock, 15)
    assert closed, "the connection stayed open"
    c.close()
    wait_until(lambda: fd_count(srv.pid) <= fds, 5, 0.05,
               "descriptors back to %d" % fds)


def test_client_not_reading_closed_by_send_timeout(wsbridge, tmp_path):
    # Issue 13 item 1, pings off: a client that takes none of the output
    # waiting for it is closed after send_timeout.
    srv, _ = start_config(wsbridge, tmp_path, "[route /echo]\necho = yes\n",
                          "ping_interval = 0\nsend_timeout = 1s\n")
    c = open_ws(srv.port, "/echo")
    stalled, _ = flood_until_stalled(c)
    assert stalled
    wait_log(srv, "send timeout", timeout=15)
    closed, _ = closed_within(c.sock, 15)
    assert closed
    c.close()


@pytest.mark.serial
def test_blocked_client_that_reads_is_kept(wsbridge, script):
    # Backpressure still pauses, never drops: a client whose data waits
    # for a slow program (its pongs behind that data) but takes what we
    # send stays past several ping deadlines, and all its data arrives.
    total = 64 * 65536                  # with the newlines
    prog = script("slow.sh", "sleep 3\nhead -c %d | wc -c\n" % total)
    srv = wsbridge("--ping-interval", "1s", "--ping-timeout", "1s", prog)
    msgs = ["y" * 65535] * 64
    s = ws_session(srv.url("/"), send=msgs, done=count(1), timeout=60)
    assert s.messages == [str(total)]
    assert "no pong" not in srv.log()


def test_half_closed_client_data_still_reaches_the_program(wsbridge,
                                                         tmp_path, script):
    # A FIN seen while input is paused doesn't drop what came before it:
    # the program gets all of it once it reads.
    out = tmp_path / "count.txt"
    prog = script("slow.sh", "sleep 2\nexec wc -c > %s\n" % out)
    srv = wsbridge("--ping-interval", "0", "--close-timeout", "10s", prog)
    c = open_ws(srv.port, "/")
    total = 48 * 65537
    t, err = wsutil.send_all_threaded(
        c, build_frame(OP_TEXT, b"z" * 65536) * 48)
    t.join(30)
    assert not t.is_alive() and not err
    c.sock.shutdown(socket.SHUT_WR)
    wait_until(lambda: out.exists() and out.read_text().strip(), 30, 0.05,
               "the program's byte count")
    assert int(out.read_text()) == total
    c.close()


# ---- item 2: static downloads ----------------------------------------------

def static_server(wsbridge, tmp_path, extra, size):
    www = tmp_path / "www"
    www.mkdir()
    (www / "big.bin").write_bytes(os.urandom(1 << 16) * (size >> 16))
    srv, _ = start_config(wsbridge, tmp_path, "[route /ws]\necho = yes\n",
                          "static_dir = %s\n%s" % (www, extra))
    return srv


def slow_client(port):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    sock.connect(("127.0.0.1", port))
    conn = wsutil.RawConn(sock)
    send_http(conn, port, "GET", "/big.bin")
    head = wsutil.Head(conn.recv_until(b"\r\n\r\n", timeout=10)[:-4])
    return conn, head


@pytest.mark.serial
@pytest.mark.parametrize("timeout", ["handshake_timeout", "send_timeout"])
def test_slow_download_is_not_cut(wsbridge, tmp_path, timeout):
    # Issue 13 item 2: the handshake deadline cut every download at
    # handshake_timeout.  A reader that keeps taking bytes is never cut,
    # however long the whole response takes: send_timeout bounds the
    # time without progress, not the response.
    size = 8 * MiB
    srv = static_server(wsbridge, tmp_path, "%s = 1s\n" % timeout, size)
    conn, head = slow_client(srv.port)
    assert head.status == 200
    assert int(head.header("content-length")) == size
    # The slow reader takes its bytes at a steady rate: the whole
    # response lasts 3 s, three times the timeout, with never more than
    # a chunk's worth (~20 ms) between two reads.
    rate = size / 3.0
    start = time.monotonic()
    got = len(conn.pending)
    conn.pending.clear()
    conn.sock.settimeout(10)
    while got < size:
        data = conn.sock.recv(65536)
        assert data, "download cut after %d of %d bytes" % (got, size)
        got += len(data)
        ahead = start + got / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    elapsed = time.monotonic() - start
    assert elapsed > 2.0, "too fast (%.1fs) to test the timeouts" % elapsed
    assert got == size
    conn.close()


def test_stalled_download_closed_by_send_timeout(wsbridge, tmp_path):
    # A reader that takes nothing is closed after send_timeout, not held
    # for ever (and not by the handshake deadline any more).
    size = 8 * MiB
    srv = static_server(wsbridge, tmp_path,
                        "handshake_timeout = 60s\nsend_timeout = 1s\n", size)
    conn, head = slow_client(srv.port)
    assert head.status == 200
    wait_log(srv, "send timeout", timeout=15)
    closed, data = closed_within(conn.sock, 15)
    assert closed
    assert len(conn.pending) + len(data) < size
    conn.close()
