"""Helpers for the churn, soak and hostile tests (issue 7): a minimal
raw-socket client fast enough for tens of thousands of cycles, an asyncio
echo backend on loopback, descriptor limits, and the daemon's resources
as seen in /proc.  Every wait is bounded.

Sizes scale with WSB_SOAK_SCALE (a float, default 1: about a minute for
test_churn.py and test_soak.py together on 2 cores).  WSB_CHURN_CYCLES and
WSB_SOAK_CONNS set the counts outright; the issue's full size is
WSB_CHURN_CYCLES=20000 WSB_SOAK_CONNS=5000.
"""

import asyncio
import os
import resource
import socket
import struct
import threading
import time

import wsutil

SCALE = float(os.environ.get("WSB_SOAK_SCALE", "1"))


def scaled(default, override_env=None):
    """default * WSB_SOAK_SCALE, unless override_env names a set variable."""
    if override_env and os.environ.get(override_env):
        return int(os.environ[override_env])
    return max(1, int(default * SCALE))


# --------------------------------------------------------------------------
# A fast raw client: fixed key, fixed mask, no parsing beyond what it checks
# --------------------------------------------------------------------------

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT_LINE = ("Sec-WebSocket-Accept: %s" % wsutil.accept_for(KEY)).encode()
MASK = b"\x11\x22\x33\x44"


def request(port, path="/"):
    return ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n" % (path, port, KEY)).encode()


def client_frame(opcode, payload):
    """A masked client frame (payload < 64 KiB)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    else:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    return head + MASK + wsutil.mask_bytes(payload, MASK)


def server_frame(opcode, payload):
    """What an unmasked server frame for payload (< 64 KiB) looks like."""
    n = len(payload)
    if n < 126:
        return struct.pack("!BB", 0x80 | opcode, n) + payload
    return struct.pack("!BBH", 0x80 | opcode, 126, n) + payload


CLOSE_1000 = client_frame(wsutil.OP_CLOSE, struct.pack("!H", 1000))
SERVER_CLOSE_1000 = server_frame(wsutil.OP_CLOSE, struct.pack("!H", 1000))


def _read_until(sock, buf, pred, what):
    """recv into buf until pred(buf); the socket has a timeout set."""
    while not pred(buf):
        data = sock.recv(65536)
        if not data:
            raise AssertionError("EOF waiting for %s; got %r"
                                 % (what, bytes(buf[:200])))
        buf += data
    return buf


def handshake(sock, port, path="/"):
    """Send the upgrade request on a connected socket and check the 101."""
    sock.sendall(request(port, path))
    buf = _read_until(sock, bytearray(), lambda b: b"\r\n\r\n" in b,
                      "the 101 head")
    end = buf.index(b"\r\n\r\n") + 4
    head = bytes(buf[:end])
    if not head.startswith(b"HTTP/1.1 101 ") or ACCEPT_LINE not in head:
        raise AssertionError("bad upgrade response %r" % head)
    return buf[end:]


def echo_once(sock, pending, payload, opcode=wsutil.OP_TEXT):
    """Send one message, expect exactly it back (as a single frame)."""
    sock.sendall(client_frame(opcode, payload))
    want = server_frame(opcode, payload)
    buf = _read_until(sock, pending, lambda b: len(b) >= len(want), "echo")
    if bytes(buf[:len(want)]) != want:
        raise AssertionError("echo mismatch: sent %r, got %r"
                             % (payload, bytes(buf[:len(want) + 16])))
    del buf[:len(want)]
    return buf


def close_clean(sock, pending):
    """Send Close 1000, expect Close 1000 back and then EOF."""
    sock.sendall(CLOSE_1000)
    n = len(SERVER_CLOSE_1000)
    buf = _read_until(sock, pending, lambda b: len(b) >= n, "the Close")
    if bytes(buf[:n]) != SERVER_CLOSE_1000:
        raise AssertionError("expected Close 1000, got %r" % bytes(buf[:16]))
    if len(buf) > n or sock.recv(64):
        raise AssertionError("bytes after the Close: %r" % bytes(buf[n:]))


def connect(port, timeout=10.0):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def cycle(port, path, payload, opcode=wsutil.OP_TEXT, timeout=10.0):
    """connect, upgrade, echo one message, close cleanly."""
    sock = connect(port, timeout)
    try:
        pending = handshake(sock, port, path)
        pending = echo_once(sock, pending, payload, opcode)
        close_clean(sock, pending)
    finally:
        sock.close()


def churn(port, path, cycles, threads=4, opcode=wsutil.OP_TEXT,
          timeout=10.0, budget=600.0):
    """Run cycles connect/echo/close cycles over threads concurrent
    workers.  Returns (cycles done, seconds, errors)."""
    lock = threading.Lock()
    left = [cycles]
    errors = []
    done = [0]
    deadline = time.monotonic() + budget

    def worker(wid):
        i = 0
        while time.monotonic() < deadline and not errors:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            i += 1
            payload = b"w%d c%d %s" % (wid, i, b"x" * (i % 97))
            try:
                cycle(port, path, payload, opcode, timeout)
            except Exception as e:  # noqa: BLE001 - reported by the test
                with lock:
                    errors.append("worker %d cycle %d: %r" % (wid, i, e))
                return
            with lock:
                done[0] += 1

    t0 = time.monotonic()
    ts = [threading.Thread(target=worker, args=(w,), daemon=True)
          for w in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(max(0.1, deadline - time.monotonic()) + timeout)
    return done[0], time.monotonic() - t0, errors


# --------------------------------------------------------------------------
# An asyncio echo backend in a thread of its own
# --------------------------------------------------------------------------

class AsyncBackend:
    """A TCP server on 127.0.0.1 running handler(reader, writer) per
    connection in its own event loop thread.  Counts connections open."""

    def __init__(self, handler=None):
        self.handler = handler or self._echo
        self.open = 0
        self.accepted = 0
        self.writers = set()
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,),
                                       daemon=True)
        self.thread.start()
        if not ready.wait(10):
            raise AssertionError("echo backend did not start")
        self.addr = "127.0.0.1:%d" % self.port

    def _run(self, ready):
        asyncio.set_event_loop(self.loop)

        async def start():
            self.server = await asyncio.start_server(
                self._conn, "127.0.0.1", 0, backlog=4096)
            self.port = self.server.sockets[0].getsockname()[1]
        self.loop.run_until_complete(start())
        ready.set()
        self.loop.run_forever()

    async def _conn(self, reader, writer):
        self.open += 1
        self.accepted += 1
        self.writers.add(writer)
        try:
            await self.handler(reader, writer)
        except (ConnectionError, OSError):
            pass
        finally:
            self.open -= 1
            self.writers.discard(writer)
            writer.close()

    @staticmethod
    async def _echo(reader, writer):
        while True:
            data = await reader.read(65536)
            if not data:
                return
            writer.write(data)
            await writer.drain()

    def stop(self):
        async def shut():
            self.server.close()
            for w in list(self.writers):
                w.transport.abort()
            await self.server.wait_closed()
        if self.loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(shut(), self.loop)
            try:
                fut.result(5)
            except Exception:  # noqa: BLE001 - best effort at teardown
                pass
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


# --------------------------------------------------------------------------
# Descriptor limits and the daemon's resources
# --------------------------------------------------------------------------

def raise_nofile(want):
    """Raise this process's RLIMIT_NOFILE soft limit toward want (capped
    by the hard limit); returns (new soft limit, old limits)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    new = min(want, hard) if hard != resource.RLIM_INFINITY else want
    if new > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return max(new, soft), (soft, hard)


def set_pid_nofile(pid, limit):
    """Set another process's RLIMIT_NOFILE (soft and hard) to limit."""
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, limit))


def cpu_seconds(pid):
    """utime + stime of pid, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    rest = data[data.rindex(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid):
    """[(pid, state)] of every process below pid (children, theirs...)."""
    parent = {}
    state = {}
    for p in wsutil.all_pids():
        st = wsutil.proc_stat(p)
        if st:
            parent[p] = st[1]
            state[p] = st[0]
    out = []
    todo = [pid]
    while todo:
        cur = todo.pop()
        for p, pp in parent.items():
            if pp == cur:
                out.append((p, state[p]))
                todo.append(p)
    return out


def settle(pid, base_fds, timeout=15.0):
    """Wait until pid has at most base_fds descriptors and no children
    (zombie or not).  Returns (fds, children) as last seen."""
    last = [None, None]

    def ok():
        last[0] = wsutil.fd_count(pid)
        last[1] = wsutil.children(pid)
        return last[0] <= base_fds and not last[1]
    try:
        wsutil.wait_until(ok, timeout, interval=0.05, what="settle")
    except AssertionError:
        pass
    return last[0], last[1]


def fd_targets(pid):
    """What the descriptors of pid point at (for failure messages)."""
    out = []
    d = "/proc/%d/fd" % pid
    for name in sorted(os.listdir(d), key=int):
        try:
            out.append("%s -> %s" % (name, os.readlink(os.path.join(d, name))))
        except OSError:
            pass
    return out


def sanitized(pid):
    """True if pid runs with AddressSanitizer (its RSS then includes the
    allocator's quarantine, so RSS margins say nothing about leaks; LSan
    checks those at exit instead)."""
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


def quiesce(pid, timeout=10.0, still=0.3):
    """Wait until pid has no children and its descriptor count has not
    changed for `still` seconds; return that count."""
    deadline = time.monotonic() + timeout
    last = None
    since = time.monotonic()
    while True:
        now = time.monotonic()
        n = wsutil.fd_count(pid)
        if n != last or wsutil.children(pid):
            last, since = n, now
        elif now - since >= still:
            return n
        if now >= deadline:
            raise AssertionError("pid %d did not settle: %d fds, children %r"
                                 % (pid, n, wsutil.children(pid)))
        time.sleep(0.05)
