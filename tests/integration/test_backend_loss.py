"""Issue 12: the close code is 1011 whenever bytes the client sent did not
reach the backend because the backend failed or went away; 1000 only when
everything was delivered and the backend ended cleanly.

Linux reports a pending reset once (ECONNRESET from the first call that
looks, or SO_ERROR); after that recv() returns 0 like a clean EOF. Each
test makes one of the calls that can meet the reset (or the loss) first
deterministically, synchronising on what the kernel shows (the sockets'
queues from sock_diag, FIONREAD) and on wsbridge's log, never on time."""

import errno
import fcntl
import os
import queue
import socket
import struct
import termios

import pytest

from cfgutil import Backend, start_config, unix_path, wait_log
from wsutil import (OP_BINARY, OP_TEXT, expect_close, open_ws, recv_message,
                    send_frame, tcp_queues, wait_until, write_script)

ECHO_ROUTE = "[route /echo]\necho = yes\n"
RESET = "backend: " + os.strerror(errno.ECONNRESET)
BROKEN_PIPE = "backend: " + os.strerror(errno.EPIPE)
UNDELIVERED = "backend: closed with data undelivered"


def outq(sock):
    """Bytes the kernel holds unsent or unacknowledged for sock."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ,
                                          b"\0" * 4))[0]


def unread(sock):
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD,
                                          b"\0" * 4))[0]


def echo_roundtrip(conn, text="ping"):
    send_frame(conn, OP_TEXT, text)
    assert recv_message(conn) == (OP_TEXT, text.encode())


def start(wsbridge, tmp_path, routes):
    srv, _ = start_config(wsbridge, tmp_path, ECHO_ROUTE + routes)
    return srv


# --------------------------------------------------------------------------
# A write meets the reset first; the read that follows only sees EOF
# --------------------------------------------------------------------------

class Flooder:
    """Backend that sends on command until its socket is full, and resets
    the connection on command."""

    def __init__(self):
        self.cmds = queue.Queue()
        self.done = queue.Queue()
        self.sock = None
        self.backend = Backend(self.handler)

    def handler(self, backend, sock):
        self.sock = sock
        sock.setblocking(False)
        chunk = b"d" * 65536
        for _ in range(1000):
            cmd = self.cmds.get(timeout=60)
            if cmd == "reset":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                struct.pack("ii", 1, 0))
                sock.close()
                self.done.put("reset")
                return
            sent = 0
            while sent < 64 << 20:
                try:
                    sent += sock.send(chunk)
                except BlockingIOError:
                    break
            self.done.put(sent)

    def command(self, cmd):
        self.cmds.put(cmd)
        return self.done.get(timeout=30)


def wait_backend_reader_off(fl, echo):
    """Fill wsbridge towards a client that never reads until it stops
    reading the backend: its receive queue from the backend holds bytes
    and neither that queue nor ours moves across two trips through
    wsbridge's event loop (a live reader would have taken some)."""
    wsb_port = fl.sock.getpeername()[1]
    for _ in range(100):
        fl.command("fill")
        before = (tcp_queues(wsb_port, fl.backend.port), outq(fl.sock))
        echo_roundtrip(echo)
        echo_roundtrip(echo)
        after = (tcp_queues(wsb_port, fl.backend.port), outq(fl.sock))
        if before == after and before[0] is not None and before[0][1] > 0:
            return
    pytest.fail("wsbridge kept reading the backend")


@pytest.mark.parametrize("size", [100, 100000],
                         ids=["buffered-write", "write-through"])
def test_reset_seen_by_write_first_1011(wsbridge, tmp_path, size):
    # Small messages go through backend.out and the write callback;
    # large ones are written straight from the frame (sendmsg).
    fl = Flooder()
    try:
        srv = start(wsbridge, tmp_path,
                    "[route /b]\nconnect = %s\n" % fl.backend.addr)
        echo = open_ws(srv.port, "/echo")
        c = open_ws(srv.port, "/b")
        wait_until(lambda: fl.sock is not None, 5, what="backend accept")
        wait_backend_reader_off(fl, echo)
        assert fl.command("reset") == "reset"
        mark = len(srv.log())
        send_frame(c, OP_BINARY, b"m" * size)
        # The write takes the ECONNRESET; the later read returns 0.
        wait_log(srv, "backend write: " + os.strerror(errno.ECONNRESET),
                 timeout=10, start=mark)
        code, reason = expect_close(c, timeout=60, allow_data=True,
                                    reply=True)
        assert (code, reason) == (1011, RESET)
        assert all(p == b"d" * len(p) for _, _, p in c.seen)
        echo_roundtrip(echo, "still serving")
    finally:
        fl.backend.stop()


# --------------------------------------------------------------------------
# A reset while the client streams: either the read or the write sees it
# --------------------------------------------------------------------------

def reset_after_handler(backend, sock):
    """Read 300000 bytes of the client's stream, then reset: close with
    bytes unread (a unix socket's only way), linger 0 for TCP too."""
    got = 0
    while got < 300000:
        d = sock.recv(65536)
        if not d:
            break
        got += len(d)
    wait_until(lambda: unread(sock) > 0, 10, what="more of the stream")
    backend.events.append("reset")     # before: the Close may be quicker
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))
    sock.close()


@pytest.mark.parametrize("family", ["tcp", "unix"])
def test_reset_while_client_streams_names_the_error(wsbridge, tmp_path,
                                                    family):
    kw = {} if family == "tcp" else {
        "family": socket.AF_UNIX, "path": unix_path(tmp_path, "b.sock")}
    rb = Backend(reset_after_handler, **kw)
    try:
        srv = start(wsbridge, tmp_path,
                    "[route /b]\nconnect = %s\n" % rb.addr)
        c = open_ws(srv.port, "/b")
        c.sock.settimeout(10)
        try:
            for _ in range(64):             # 4 MiB at most
                send_frame(c, OP_BINARY, b"s" * 65536)
        except OSError:
            pass                            # the server closed on us
        code, reason = expect_close(c, timeout=10, allow_data=True,
                                    reply=True)
        assert rb.events == ["reset"]
        # A unix socket's writer sees EPIPE, its reader ECONNRESET:
        # whichever came first is named.
        expected = [RESET] if family == "tcp" else [RESET, BROKEN_PIPE]
        assert code == 1011 and reason in expected, (code, reason)
    finally:
        rb.stop()


# --------------------------------------------------------------------------
# A clean FIN while the client's data still waits for the backend
# --------------------------------------------------------------------------

def fin_when(ready):
    """Never read; once ready(backend, sock), half-close (FIN) and keep
    the socket open, still not reading, until the test ends."""
    def handler(backend, sock):
        wait_until(lambda: ready(backend, sock), 20,
                   what="client data queued for the backend")
        backend.events.append("fin")
        sock.shutdown(socket.SHUT_WR)
        wait_until(lambda: backend._stop, 60, what="test end")
    return handler


def tcp_unacked(backend, sock):
    # wsbridge holds far more unacknowledged than our 4 KiB buffer can
    # ever take: those bytes cannot be delivered before the FIN.
    q = tcp_queues(sock.getpeername()[1], backend.port)
    return q is not None and q[0] > 256 * 1024


def unix_unread(backend, sock):
    # Bytes waiting unread on a unix socket: wsbridge's SIOCOUTQ > 0.
    return unread(sock) > 0


@pytest.mark.parametrize("family", ["tcp", "unix"])
def test_fin_with_client_data_undelivered_1011(wsbridge, tmp_path, family):
    if family == "tcp":
        b = Backend(fin_when(tcp_unacked))
        b.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    else:
        b = Backend(fin_when(unix_unread), family=socket.AF_UNIX,
                    path=unix_path(tmp_path, "b.sock"))
    try:
        srv = start(wsbridge, tmp_path,
                    "[route /b]\nconnect = %s\n" % b.addr)
        c = open_ws(srv.port, "/b")
        c.sock.settimeout(10)
        try:
            for _ in range(128):            # 8 MiB at most
                send_frame(c, OP_BINARY, b"f" * 65536)
                if b.events:
                    break
        except OSError:
            pass
        code, reason = expect_close(c, timeout=10, allow_data=True,
                                    eof=False)
        assert (code, reason, b.events) == (1011, UNDELIVERED, ["fin"])
    finally:
        b.stop()


@pytest.mark.parametrize("family", ["tcp", "unix"])
def test_fin_after_everything_read_1000(wsbridge, tmp_path, family):
    # The other side of the rule: a backend that read all and then closed.
    def handler(backend, sock):
        got = 0
        while got < 200000:
            d = sock.recv(65536)
            if not d:
                break
            got += len(d)
        sock.sendall(b"got %d" % got)
        sock.close()

    kw = {} if family == "tcp" else {
        "family": socket.AF_UNIX, "path": unix_path(tmp_path, "b.sock")}
    b = Backend(handler, **kw)
    try:
        srv = start(wsbridge, tmp_path,
                    "[route /b]\nconnect = %s\n" % b.addr)
        c = open_ws(srv.port, "/b")
        for _ in range(4):
            send_frame(c, OP_BINARY, b"a" * 50000)
        code, reason = expect_close(c, timeout=10, allow_data=True,
                                    reply=True)
        assert b"".join(p for _, _, p in c.seen) == b"got 200000"
        assert (code, reason) == (1000, "")
    finally:
        b.stop()


# --------------------------------------------------------------------------
# Processes: exit 0 is 1000 unless the client's bytes met a broken pipe
# --------------------------------------------------------------------------

def fifo_script(tmp_path, before):
    """A program that runs `before`, says "ready", then exits 0 when the
    test writes to its FIFO."""
    fifo = str(tmp_path / "go")
    os.mkfifo(fifo)
    script = write_script(tmp_path / "prog.sh",
                          "%s\necho ready\nread x < %s\nexit 0\n"
                          % (before, fifo))
    return script, fifo


def release(fifo):
    def opened():
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            if e.errno == errno.ENXIO:      # no reader yet
                return None
            raise
    fd = wait_until(opened, 10, what="program waiting on its FIFO")
    os.write(fd, b"go\n")
    os.close(fd)


@pytest.mark.parametrize("size", [5, 100000],
                         ids=["buffered-write", "write-through"])
def test_process_closed_stdin_client_data_broken_pipe_1011(wsbridge,
                                                           tmp_path, size):
    script, fifo = fifo_script(tmp_path, "exec 0<&-")
    srv = start(wsbridge, tmp_path, "[route /p]\nexec = %s\n" % script)
    c = open_ws(srv.port, "/p")
    assert recv_message(c) == (OP_TEXT, b"ready")
    send_frame(c, OP_TEXT, "x" * size)
    wait_log(srv, "backend write: " + os.strerror(errno.EPIPE), timeout=10)
    release(fifo)
    assert expect_close(c, timeout=10, reply=True) == (1011, BROKEN_PIPE)


def test_process_exit_with_client_data_queued_1011(wsbridge, tmp_path):
    # The program never reads stdin: its pipe fills (64 KiB) and the rest
    # of the message waits in wsbridge. When it exits, nothing will ever
    # read those bytes.
    script, fifo = fifo_script(tmp_path, ":")
    srv = start(wsbridge, tmp_path, "[route /p]\nexec = %s\n" % script)
    c = open_ws(srv.port, "/p")
    assert recv_message(c) == (OP_TEXT, b"ready")
    send_frame(c, OP_TEXT, "q" * 200000)
    me = c.sock.getsockname()[1]
    # wsbridge has read the whole frame (nothing left in flight to it).
    wait_until(lambda: outq(c.sock) == 0 and
               tcp_queues(srv.port, me) == (0, 0), 10,
               what="wsbridge to read the message")
    release(fifo)
    assert expect_close(c, timeout=10, reply=True) == (1011, BROKEN_PIPE)


def test_process_exit_0_after_reading_everything_1000(wsbridge, tmp_path):
    script, fifo = fifo_script(tmp_path, "read line")
    srv = start(wsbridge, tmp_path, "[route /p]\nexec = %s\n" % script)
    c = open_ws(srv.port, "/p")
    send_frame(c, OP_TEXT, "one line")
    assert recv_message(c) == (OP_TEXT, b"ready")
    release(fifo)
    assert expect_close(c, timeout=10, reply=True) == (1000, "")
