"""Clients for the integration tests.

Two independent clients: a raw-socket one that can send hostile bytes and
checks exact status lines and close codes, and Debian's python3-websockets
(asyncio API, 10.4) for normal traffic.  Every wait here is bounded.
"""

import asyncio
import base64
import hashlib
import os
import select
import socket
import struct
import time

import websockets

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA

DEFAULT_TIMEOUT = 5.0


# --------------------------------------------------------------------------
# Raw socket client
# --------------------------------------------------------------------------

class RawConn:
    """A TCP socket plus bytes already read but not yet consumed."""

    def __init__(self, sock, pending=b""):
        self.sock = sock
        self.pending = bytearray(pending)

    def sendall(self, data):
        self.sock.sendall(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def fileno(self):
        return self.sock.fileno()

    def _fill(self, deadline):
        """Read more bytes into pending; return False on EOF."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out waiting for data from wsbridge")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            raise TimeoutError("timed out waiting for data from wsbridge")
        except ConnectionResetError:
            return False
        if not data:
            return False
        self.pending += data
        return True

    def recv_exact(self, n, timeout=DEFAULT_TIMEOUT, deadline=None):
        if deadline is None:
            deadline = time.monotonic() + timeout
        while len(self.pending) < n:
            if not self._fill(deadline):
                raise EOFError("connection closed after %d of %d bytes"
                               % (len(self.pending), n))
        out = bytes(self.pending[:n])
        del self.pending[:n]
        return out

    def recv_until(self, marker, limit=1 << 20, timeout=DEFAULT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            i = self.pending.find(marker)
            if i >= 0:
                out = bytes(self.pending[:i + len(marker)])
                del self.pending[:i + len(marker)]
                return out
            if len(self.pending) > limit:
                raise AssertionError("no %r within %d bytes" % (marker, limit))
            if not self._fill(deadline):
                raise EOFError("connection closed before %r; got %r"
                               % (marker, bytes(self.pending[:200])))

    def recv_to_eof(self, timeout=DEFAULT_TIMEOUT):
        """Read until the peer closes; return the bytes read meanwhile."""
        deadline = time.monotonic() + timeout
        while self._fill(deadline):
            pass
        out = bytes(self.pending)
        self.pending.clear()
        return out


def connect_tcp(port, timeout=DEFAULT_TIMEOUT):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return RawConn(sock)


def make_key():
    return base64.b64encode(os.urandom(16)).decode()


def accept_for(key):
    return base64.b64encode(
        hashlib.sha1(key.encode() + WS_GUID).digest()).decode()


class Head:
    """A parsed HTTP response head (and body, for non-101 responses)."""

    def __init__(self, raw):
        self.raw = raw
        text = raw.decode("latin-1")
        lines = text.split("\r\n")
        parts = lines[0].split(" ", 2)
        assert len(parts) >= 2 and parts[0] == "HTTP/1.1", \
            "bad status line %r" % lines[0]
        self.status = int(parts[1])
        self.reason = parts[2] if len(parts) > 2 else ""
        self.headers = {}
        for line in lines[1:]:
            if not line:
                continue
            name, sep, value = line.partition(":")
            assert sep, "bad header line %r" % line
            name = name.strip().lower()
            value = value.strip()
            if name in self.headers:
                self.headers[name] += ", " + value
            else:
                self.headers[name] = value
        self.body = b""

    def header(self, name):
        return self.headers.get(name.lower())

    def has_token(self, name, token):
        value = self.header(name) or ""
        return token.lower() in [t.strip().lower() for t in value.split(",")]

    def __repr__(self):
        return "<Head %d %r %r>" % (self.status, self.headers, self.body[:100])


def read_response(conn, timeout=DEFAULT_TIMEOUT):
    """Read one HTTP response head; for non-101 also its body."""
    raw = conn.recv_until(b"\r\n\r\n", limit=65536, timeout=timeout)
    head = Head(raw[:-4])
    if head.status != 101:
        cl = head.header("content-length")
        if cl is not None:
            head.body = conn.recv_exact(int(cl), timeout=timeout)
        else:
            head.body = conn.recv_to_eof(timeout=timeout)
    return head


def request_bytes(method, path, headers):
    lines = ["%s %s HTTP/1.1" % (method, path)]
    for name, value in headers:
        lines.append("%s: %s" % (name, value))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def raw_handshake(port, path="/", extra_headers=None, *, method="GET",
                  key=None, timeout=DEFAULT_TIMEOUT):
    """Send an upgrade request; return (conn, head, leftover).

    extra_headers is a dict or a list of (name, value); a value of None
    removes one of the default headers, a name already present replaces
    it.  conn keeps the leftover bytes (sent after the head) for
    recv_frame().  For a non-101 response head.body holds the body.
    """
    if key is None:
        key = make_key()
    headers = [("Host", "127.0.0.1:%d" % port),
               ("Upgrade", "websocket"),
               ("Connection", "Upgrade"),
               ("Sec-WebSocket-Key", key),
               ("Sec-WebSocket-Version", "13")]
    if extra_headers:
        items = (extra_headers.items() if isinstance(extra_headers, dict)
                 else extra_headers)
        for name, value in items:
            idx = [i for i, (n, _) in enumerate(headers)
                   if n.lower() == name.lower()]
            if value is None:
                headers = [h for i, h in enumerate(headers) if i not in idx]
            elif idx:
                headers[idx[0]] = (name, value)
            else:
                headers.append((name, value))
    conn = connect_tcp(port, timeout)
    conn.sendall(request_bytes(method, path, headers))
    head = read_response(conn, timeout)
    head.key = key
    leftover = bytes(conn.pending)
    return conn, head, leftover


def open_ws(port, path="/", extra_headers=None, timeout=DEFAULT_TIMEOUT):
    """Handshake that must succeed; checks the 101 response fully."""
    conn, head, _ = raw_handshake(port, path, extra_headers, timeout=timeout)
    assert head.status == 101, "expected 101, got %r" % head
    assert head.has_token("upgrade", "websocket"), head
    assert head.has_token("connection", "upgrade"), head
    assert head.header("sec-websocket-accept") == accept_for(head.key), head
    return conn


def mask_bytes(data, key):
    n = len(data)
    if n == 0:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little")
            ^ int.from_bytes(k, "little")).to_bytes(n, "little")


def build_frame(opcode, payload, fin=True, mask=True, rsv=0, length=None):
    """Encode one client frame. length overrides the encoded length."""
    payload = bytes(payload)
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask:
        key = os.urandom(4)
        return head + key + mask_bytes(payload, key)
    return head + payload


def send_frame(conn, opcode, payload=b"", fin=True, mask=True, rsv=0):
    if isinstance(payload, str):
        payload = payload.encode()
    conn.sendall(build_frame(opcode, payload, fin, mask, rsv))


def recv_frame_full(conn, timeout=DEFAULT_TIMEOUT):
    """Read one server frame; return (fin, rsv, opcode, payload).

    Asserts what RFC 6455 requires of a server frame: no mask, minimal
    length encoding, control frames short and unfragmented.
    """
    deadline = time.monotonic() + timeout
    b0, b1 = conn.recv_exact(2, deadline=deadline)
    fin = bool(b0 & 0x80)
    rsv = (b0 >> 4) & 7
    opcode = b0 & 0xF
    assert not (b1 & 0x80), "server frame is masked"
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", conn.recv_exact(2, deadline=deadline))
        assert n >= 126, "non-minimal 16-bit length %d" % n
    elif n == 127:
        (n,) = struct.unpack("!Q", conn.recv_exact(8, deadline=deadline))
        assert 65536 <= n < (1 << 63), "non-minimal 64-bit length %d" % n
    if opcode >= 8:
        assert fin, "fragmented control frame from server"
        assert n <= 125, "control frame of %d bytes from server" % n
    payload = conn.recv_exact(n, deadline=deadline)
    return fin, rsv, opcode, payload


def recv_frame(conn, timeout=DEFAULT_TIMEOUT):
    """Read one server frame; return (fin, opcode, payload)."""
    fin, rsv, opcode, payload = recv_frame_full(conn, timeout)
    assert rsv == 0, "server frame has RSV bits %d" % rsv
    return fin, opcode, payload


def recv_message(conn, timeout=DEFAULT_TIMEOUT, pongs=None):
    """Reassemble one data message; return (opcode, payload).

    Pongs met on the way are appended to the list pongs (an error if
    pongs is None); a Close frame raises AssertionError with its code.
    """
    deadline = time.monotonic() + timeout
    opcode = None
    parts = []
    while True:
        fin, op, payload = recv_frame(conn, deadline - time.monotonic())
        if op == OP_PONG:
            assert pongs is not None, "unexpected pong %r" % payload
            pongs.append(payload)
            continue
        if op == OP_PING:
            continue
        if op == OP_CLOSE:
            raise AssertionError("expected a message, got Close %r"
                                 % (parse_close(payload),))
        if opcode is None:
            assert op in (OP_TEXT, OP_BINARY), "message starts with op %d" % op
            opcode = op
        else:
            assert op == OP_CONT, "op %d inside a fragmented message" % op
        parts.append(payload)
        if fin:
            return opcode, b"".join(parts)


def parse_close(payload):
    if not payload:
        return None, ""
    assert len(payload) >= 2, "close payload of 1 byte from server"
    (code,) = struct.unpack("!H", payload[:2])
    return code, payload[2:].decode("utf-8")


def close_payload(code, reason=b""):
    if isinstance(reason, str):
        reason = reason.encode()
    return struct.pack("!H", code) + reason


def expect_eof(conn, timeout=DEFAULT_TIMEOUT):
    """The server must close TCP within timeout and send nothing more."""
    extra = conn.recv_to_eof(timeout=timeout)
    assert extra == b"", "bytes after the Close frame: %r" % extra[:100]


def expect_close(conn, timeout=DEFAULT_TIMEOUT, reply=False, eof=True,
                 allow_data=False):
    """Read frames up to a Close; return (code, reason).

    Data frames before the Close fail the test unless allow_data.  With
    reply, a Close is sent back; with eof, the server must then close the
    TCP connection within timeout (a failed connection is closed without
    waiting for the client's Close).
    """
    deadline = time.monotonic() + timeout
    conn.seen = []      # data frames met before the Close: (fin, op, payload)
    while True:
        try:
            fin, op, payload = recv_frame(conn, deadline - time.monotonic())
        except EOFError:
            raise AssertionError("connection closed without a Close frame")
        if op == OP_CLOSE:
            break
        if op in (OP_PING, OP_PONG):
            continue
        assert allow_data, "expected Close, got op %d %r" % (op, payload[:80])
        conn.seen.append((fin, op, payload))
    code, reason = parse_close(payload)
    if reply:
        try:
            send_frame(conn, OP_CLOSE, payload[:2])
        except OSError:
            pass
    if eof:
        expect_eof(conn, max(0.5, deadline - time.monotonic()))
    return code, reason


def send_all_threaded(conn, data):
    """Send bytes from a thread so the caller can read meanwhile."""
    import threading
    err = []

    def run():
        try:
            conn.sendall(data)
        except OSError as e:
            err.append(e)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, err


# --------------------------------------------------------------------------
# python3-websockets client (asyncio; websockets.sync does not exist in 10.4)
# --------------------------------------------------------------------------

class Session:
    def __init__(self):
        self.messages = []
        self.code = None
        self.reason = None
        self.local_port = None
        self.response_headers = None


async def _session(url, send, done, timeout, kw):
    s = Session()
    kw.setdefault("max_size", None)
    kw.setdefault("ping_interval", None)
    kw.setdefault("open_timeout", timeout)
    kw.setdefault("close_timeout", timeout)
    async with websockets.connect(url, **kw) as ws:
        s.local_port = ws.local_address[1]
        s.response_headers = ws.response_headers

        async def rx():
            try:
                while True:
                    if done is not None and done(s.messages):
                        return
                    s.messages.append(await ws.recv())
            except websockets.ConnectionClosed:
                pass

        async def tx():
            try:
                for m in send:
                    await ws.send(m)
            except websockets.ConnectionClosed:
                pass

        await asyncio.wait_for(asyncio.gather(rx(), tx()), timeout)
        if done is None:
            await asyncio.wait_for(ws.wait_closed(), timeout)
    s.code = ws.close_code
    s.reason = ws.close_reason
    return s


def ws_session(url, send=(), done=None, timeout=15, **kw):
    """Connect with python3-websockets, send messages, collect replies.

    Receiving runs concurrently with sending.  With done=None the
    session lasts until the server closes; otherwise until
    done(messages) is true, then the client closes.  Returns a Session
    with messages, code, reason (of the close) and local_port.
    """
    return asyncio.run(_session(url, list(send), done, timeout, kw))


def total_len(n):
    return lambda msgs: sum(len(m) for m in msgs) >= n


def count(n):
    return lambda msgs: len(msgs) >= n


def wait_until(pred, timeout, interval=0.02, what="condition"):
    """Poll pred() until true; bounded. Returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


# --------------------------------------------------------------------------
# /proc helpers
# --------------------------------------------------------------------------

def proc_stat(pid):
    """(state, ppid, pgrp, session) of pid, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = data[data.rindex(")") + 2:].split()
    return rest[0], int(rest[1]), int(rest[2]), int(rest[3])


def read_pids(path, count=1, timeout=10):
    """The pids a program wrote to path (`echo $$ > path`), once count of
    them are there in whole lines: the file exists, empty, before the
    write."""
    def lines():
        try:
            text = path.read_text()
        except FileNotFoundError:
            return None
        got = text[:text.rfind("\n") + 1].split()     # whole lines only
        return got if len(got) >= count else None
    return [int(x) for x in wait_until(lines, timeout,
                                       what="%d pid(s) in %s"
                                       % (count, path))]


def alive(pid):
    """True while pid exists and is not a zombie."""
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def children(pid):
    """[(child_pid, state)] of pid's direct children."""
    out = []
    for p in all_pids():
        st = proc_stat(p)
        if st and st[1] == pid:
            out.append((p, st[0]))
    return out


def session_members(sid):
    out = []
    for p in all_pids():
        st = proc_stat(p)
        if st and st[3] == sid and p != sid:
            out.append(p)
    return out


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def tcp_queues(local_port, remote_port):
    """(send queue, receive queue) in bytes of the loopback IPv4 TCP
    socket 127.0.0.1:local_port -> 127.0.0.1:remote_port, or None when
    there is none. One sock_diag lookup of that socket: /proc/net/tcp
    lists every socket of the machine (thousands while other suites run,
    tenths of a second to read)."""
    lo = socket.inet_aton("127.0.0.1") + bytes(12)
    # inet_diag_req_v2: AF_INET, TCP, no extensions, every state; the
    # socket's id (ports, addresses, any interface, no cookie).
    req = struct.pack("=BBBBI", socket.AF_INET, socket.IPPROTO_TCP, 0, 0,
                      0xfff)
    req += struct.pack("!HH", local_port, remote_port) + lo + lo
    req += struct.pack("=III", 0, 0xffffffff, 0xffffffff)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW,
                       4) as nl:                # NETLINK_SOCK_DIAG
        nl.settimeout(5)
        # nlmsghdr: SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST (one socket).
        nl.send(struct.pack("=IHHII", 16 + len(req), 20, 1, 1, 0) + req)
        data = nl.recv(65536)
    if len(data) < 16 + 72 or struct.unpack_from("=H", data, 4)[0] != 20:
        return None                             # NLMSG_ERROR: not found
    # inet_diag_msg: 4 bytes, the 48-byte id, expires, rqueue, wqueue.
    rq, wq = struct.unpack_from("=II", data, 16 + 56)
    return wq, rq


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def write_script(path, body):
    """Write an executable /bin/sh script."""
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def closed_within(sock, seconds):
    """Read until EOF or reset within seconds; (closed, bytes read)."""
    deadline = time.monotonic() + seconds
    data = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([sock], [], [], 0.05)
        if r:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return True, data
            if not chunk:
                return True, data
            data += chunk
    return False, data
