"""Fixtures: start the real wsbridge binary on a free loopback port.

The binary is $WSBRIDGE_BIN, default <repo>/build/wsbridge.  Each server
runs in the test's tmp dir, in a session of its own so that anything it
leaves behind can be found and killed at teardown; its stderr and stdout
go to a log file that is printed when the test fails.
"""

import fcntl
import os
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import wsutil  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("WSBRIDGE_BIN", os.path.join(REPO, "build", "wsbridge"))
START_TIMEOUT = 10.0
# Bounded wait for exit after SIGTERM at teardown (then SIGKILL).
STOP_TIMEOUT = float(os.environ.get("WSBRIDGE_STOP_TIMEOUT", "5"))


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "serial: needs the machine to itself (timing, load, the "
        "process table, fixed ports, apt): run alone, after the parallel "
        "part (tests/run_all.sh)")
    config.addinivalue_line(
        "markers", "long: runs for tens of seconds or more (the .deb "
        "build, churn): started first so that it does not end the parallel "
        "run last")


def pytest_collection_modifyitems(config, items):
    # pytest-xdist hands tests out in this order: `long` ones first.
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


# Ports for servers under test come from a block of their own for each
# pytest process (xdist worker), below the kernel's ephemeral range: a port
# handed out here is never also handed to a parallel worker, nor taken by a
# client's outgoing connection between free_port() and the server's bind.
# WSB_PORT_BASE separates suites that run at the same time.
# A block is also claimed with a lock file, held for the process's life: a
# suite run at the same time from another tree has the same worker numbers
# and bases, and takes the next free block instead of racing for ports.
PORT_BLOCK = 400
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
_block = int(_worker[2:]) + 1 if _worker.startswith("gw") else 0
_port_wanted = (int(os.environ.get("WSB_PORT_BASE", "20000"))
                + _block * PORT_BLOCK)
_port_first = None
_port_next = [0]
_port_lock = []


def _claim_port_block():
    starts = list(range(20000, 32768 - PORT_BLOCK + 1, PORT_BLOCK))
    i0 = starts.index(_port_wanted) if _port_wanted in starts else 0
    for k in range(len(starts)):
        first = starts[(i0 + k) % len(starts)]
        fd = os.open("/tmp/wsbridge-test-ports-%d.lock" % first,
                     os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        _port_lock.append(fd)       # not inherited: O_CLOEXEC
        return first
    raise AssertionError("every block of test ports is held")


def _bindable(port):
    """Nothing is bound to port on 127.0.0.1 (or in TIME_WAIT there)."""
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False


def free_port():
    global _port_first
    if _port_first is None:
        _port_first = _claim_port_block()
    for _ in range(PORT_BLOCK):
        port = _port_first + _port_next[0]
        _port_next[0] = (_port_next[0] + 1) % PORT_BLOCK
        if _bindable(port):
            return port
    raise AssertionError("no free port in %d..%d"
                         % (_port_first, _port_first + PORT_BLOCK - 1))


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _listening_inodes(port):
    """Inodes of the TCP sockets listening on port (any address), from
    sock_diag: only the listening sockets are walked, where /proc/net/tcp
    lists every connection on the machine (10,000 lines when busy)."""
    inodes = set()
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW,
                       4) as nl:                # NETLINK_SOCK_DIAG
        nl.settimeout(5)
        for family in (socket.AF_INET, socket.AF_INET6):
            # inet_diag_req_v2: family, protocol, ext, pad, states
            # (1 << TCP_LISTEN), then a zeroed inet_diag_sockid.
            req = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0,
                              1 << 10) + bytes(48)
            # nlmsghdr: SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP.
            nl.send(struct.pack("=IHHII", 16 + len(req), 20, 0x301, 1, 0)
                    + req)
            done = False
            while not done:
                data = nl.recv(65536)
                off = 0
                while off + 16 <= len(data):
                    length, kind = struct.unpack_from("=IH", data, off)
                    if kind in (2, 3):          # NLMSG_ERROR, NLMSG_DONE
                        done = True
                        break
                    msg = off + 16
                    if struct.unpack_from("!H", data, msg + 4)[0] == port:
                        inodes.add(str(struct.unpack_from(
                            "=I", data, msg + 68)[0]))
                    off += (length + 3) & ~3
                if not data:
                    break
    return inodes


def listens_on(sid, port):
    """A process of session sid (the server, or one of its workers) holds
    a socket listening on port."""
    inodes = _listening_inodes(port)

    def holds(pid):
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            return False
        for fd in fds:
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                return True
        return False
    return holds(sid) or any(holds(p) for p in wsutil.session_members(sid))


class Server:
    def __init__(self, args, cwd, env, logpath, port):
        self.args = args
        self.port = port
        self.logpath = logpath
        self._logf = open(logpath, "wb")
        self.proc = subprocess.Popen(
            [BIN] + args, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
            stdout=self._logf, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.pid = self.proc.pid

    def url(self, path="/"):
        return "ws://127.0.0.1:%d%s" % (self.port, path)

    def log(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    "wsbridge %s exited with %d before listening; log:\n%s"
                    % (" ".join(self.args), self.proc.returncode, self.log()))
            # The port answering is not enough: another program on the
            # machine may have taken it between free_port() and our bind
            # (the server then exits "Address already in use").
            if port_open(self.port) and listens_on(self.pid, self.port):
                return
            time.sleep(0.02)
        raise AssertionError("wsbridge did not listen on %d within %.0fs"
                             % (self.port, START_TIMEOUT))

    def stop(self):
        """SIGTERM, bounded wait, then SIGKILL; kill leftovers of the session."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        for pid in wsutil.session_members(self.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._logf.close()


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:")


def server_starter(tmp_dir, started):
    """start(*args, env=None, port=None, ready=True, listen_args=True) ->
    Server, appended to started. --port and --address are added (unless
    listen_args=False); env entries are added to (or, with value None,
    removed from) this process's environment."""
    def start(*args, env=None, port=None, ready=True, listen_args=True):
        port = port or free_port()
        full_env = dict(os.environ)
        for k, v in (env or {}).items():
            if v is None:
                full_env.pop(k, None)
            else:
                full_env[k] = v
        argv = list(args)
        if listen_args:
            argv = ["--port", str(port), "--address", "127.0.0.1"] + argv
        srv = Server(argv, str(tmp_dir), full_env,
                     str(tmp_dir / ("wsbridge-%d.log" % len(started))), port)
        started.append(srv)
        if ready:
            srv.wait_ready()
        return srv
    return start


@pytest.fixture
def wsbridge(request, tmp_path):
    """Factory: wsbridge(*args, env=None, port=None) -> Server.

    --port and --address are added (unless listen_args=False); env entries are added to (or, with
    value None, removed from) this process's environment.
    """
    servers = []

    start = server_starter(tmp_path, servers)

    yield start

    failed = any(getattr(request.node, "rep_" + w, None) is not None
                 and getattr(request.node, "rep_" + w).failed
                 for w in ("setup", "call"))
    reports = []
    for srv in servers:
        srv.stop()
        log = srv.log()
        # Under `make test SANITIZE=1` any ASan/UBSan/LSan report fails.
        if any(m in log for m in SANITIZER_MARKS):
            reports.append(srv)
        if failed or srv in reports:
            if len(log) > 20000:
                log = "...\n" + log[-20000:]
            print("---- wsbridge %s (exit %s) log ----\n%s"
                  % (" ".join(srv.args), srv.proc.returncode, log))
    assert not reports, "sanitizer report in the wsbridge log (printed above)"


@pytest.fixture
def script(tmp_path):
    """script(name, body) -> path of an executable /bin/sh script."""
    def make(name, body):
        return wsutil.write_script(tmp_path / name, body)
    return make


@pytest.fixture
def echo_backend():
    """An asyncio TCP echo server for the load tests (churn, soak)."""
    from loadutil import AsyncBackend
    b = AsyncBackend()
    yield b
    b.stop()
