"""Issue 4: the scale-out recipe end to end (SPEC 7): Debian's HAProxy on
loopback in front of two wsbridge instances, with the files shipped in
examples/haproxy/ (haproxy.cfg as is, copies of wsbridge.ini on other
ports). Clients through HAProxy see their own address and port in
REMOTE_ADDR/REMOTE_PORT (send-proxy-v2); connections spread over both
instances (leastconn); stopping one gracefully closes its connections
with 1001 and moves new ones to the other. Also nginx -t on
examples/nginx/wsbridge.conf.

Issue 15 (shared sessions live in one process): the shipped haproxy.cfg
hashes ?session=ID (balance url_param session, hash-type consistent) and
a share = route route's path (balance uri), so every client of one
session, viewers included, reaches the instance that runs it and sees the
same output (the shared routes of examples/haproxy/wsbridge.ini)."""

import os
import re
import shutil
import signal
import subprocess

import pytest

from conftest import REPO, free_port, port_open
from cfgutil import write_config
import wsutil
from wsutil import (send_frame, recv_message, expect_close, close_payload,
                    wait_until, OP_TEXT, OP_CLOSE)

HAPROXY_CFG = os.path.join(REPO, "examples", "haproxy", "haproxy.cfg")
WSBRIDGE_INI = os.path.join(REPO, "examples", "haproxy", "wsbridge.ini")
NGINX_CONF = os.path.join(REPO, "examples", "nginx", "wsbridge.conf")


def ensure(binary, package):
    """The program from Debian, installed if missing; skip only when apt
    cannot install it."""
    path = shutil.which(binary) or shutil.which(binary, path="/usr/sbin")
    if path:
        return path
    r = subprocess.run(["apt-get", "install", "-y", package],
                       capture_output=True, timeout=600,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    path = shutil.which(binary) or shutil.which(binary, path="/usr/sbin")
    if r.returncode != 0 or not path:
        pytest.skip("%s not installed and apt-get install %s failed: %s"
                    % (binary, package,
                       r.stderr.decode(errors="replace")[-500:]))
    return path


class HAProxy:
    def __init__(self, binary, cfg, env, logpath):
        self.logpath = logpath
        self._logf = open(logpath, "wb")
        self.proc = subprocess.Popen(
            [binary, "-db", "-f", cfg], env=env, stdin=subprocess.DEVNULL,
            stdout=self._logf, stderr=subprocess.STDOUT,
            start_new_session=True)

    def log(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for pid in wsutil.session_members(self.proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._logf.close()


def instance_config(tmp_path, port, n):
    """The shipped wsbridge.ini on another port."""
    text = open(WSBRIDGE_INI).read()
    text, count = re.subn(r"(?m)^listen = 127\.0\.0\.1:\d+ proxy_protocol$",
                          "listen = 127.0.0.1:%d proxy_protocol" % port, text)
    assert count == 1, "no proxy_protocol listen line in %s" % WSBRIDGE_INI
    # Short enough for the test; the shipped value is 10s.
    text = text.replace("shutdown_timeout = 10s", "shutdown_timeout = 5s")
    return write_config(tmp_path, text, "wsbridge-%d.ini" % n)


@pytest.fixture
def cluster(wsbridge, tmp_path, request):
    binary = ensure("haproxy", "haproxy")
    ports = [free_port(), free_port()]
    instances = []
    for i, port in enumerate(ports):
        cfg = instance_config(tmp_path, port, i + 1)
        srv = wsbridge("-c", str(cfg), port=port, listen_args=False)
        instances.append(srv)
    front = free_port()
    env = dict(os.environ, WSB_FRONT="127.0.0.1:%d" % front,
               WSB_SERVER1="127.0.0.1:%d" % ports[0],
               WSB_SERVER2="127.0.0.1:%d" % ports[1])
    r = subprocess.run([binary, "-c", "-f", HAPROXY_CFG], env=env,
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    hap = HAProxy(binary, HAPROXY_CFG, env, str(tmp_path / "haproxy.log"))
    try:
        wait_until(lambda: hap.proc.poll() is not None or port_open(front),
                   10, what="haproxy listening")
        assert hap.proc.poll() is None, hap.log()
        yield front, instances, hap
    finally:
        hap.stop()
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            print("---- haproxy log ----\n" + hap.log()[-5000:])


def whoami(front):
    """A WebSocket to /whoami through HAProxy: (conn, addr, port, pid,
    our local port)."""
    conn = wsutil.open_ws(front, "/whoami")
    local = conn.sock.getsockname()[1]
    op, line = recv_message(conn)
    assert op == OP_TEXT
    addr, port, pid = line.decode().split()
    return conn, addr, int(port), int(pid), local


def echo(conn, text):
    send_frame(conn, OP_TEXT, text)
    assert recv_message(conn) == (OP_TEXT, text.encode())


def close_all(conns):
    for c in conns:
        try:
            send_frame(c, OP_CLOSE, close_payload(1000))
            expect_close(c, timeout=5, eof=False)
        except (AssertionError, OSError, EOFError, TimeoutError):
            pass
        c.close()


def test_haproxy_scale_out(cluster):
    front, (one, two), hap = cluster
    pids = {one.pid: one, two.pid: two}
    conns = []
    try:
        # Clients see their own address and port; leastconn with all of
        # them open alternates the instances.
        served = []
        for _ in range(6):
            conn, addr, port, pid, local = whoami(front)
            conns.append(conn)
            assert addr == "127.0.0.1"
            assert port == local, (port, local)
            assert pid in pids, (pid, pids)
            served.append(pid)
            echo(conn, "through haproxy")
        assert served.count(one.pid) == 3 and served.count(two.pid) == 3, \
            served
        # Stop instance one gracefully.
        on_one = [c for c, p in zip(conns, served) if p == one.pid]
        on_two = [c for c, p in zip(conns, served) if p == two.pid]
        one.proc.send_signal(signal.SIGTERM)
        for c in on_one:
            code, _ = expect_close(c, timeout=10, reply=True, eof=False)
            assert code == 1001
        assert one.proc.wait(10) == 0
        # New connections all go to instance two (a refused connect is
        # redispatched; the check marks one down within 200ms).
        for _ in range(6):
            conn, addr, port, pid, local = whoami(front)
            conns.append(conn)
            on_two.append(conn)
            assert pid == two.pid, "new connection on the stopped instance"
            assert (addr, port) == ("127.0.0.1", local)
            echo(conn, "after the stop")
        # The old connections on instance two were never disturbed.
        for c in on_two:
            echo(c, "still here")
        assert hap.proc.poll() is None
    finally:
        close_all(conns)


def test_haproxy_long_messages_and_binary(cluster):
    front, _, _ = cluster
    s = wsutil.ws_session("ws://127.0.0.1:%d/echo" % front,
                          ["x" * 200000, b"\x00\xff" * 1000],
                          done=wsutil.count(2))
    assert s.messages == ["x" * 200000, b"\x00\xff" * 1000]


def test_shipped_wsbridge_ini_checks():
    from cfgutil import run_bin
    r = run_bin(["-c", WSBRIDGE_INI, "--check"])
    assert r.returncode == 0, r.stderr
    assert b"proxy_protocol" in r.stdout


def instance_line(conn, pids):
    """The first line of a session's program: the instance running it."""
    op, line = recv_message(conn)
    assert op == OP_TEXT and line.startswith(b"instance "), line
    pid = int(line.split()[1])
    assert pid in pids, (pid, pids)
    return pid


def everyone_sees(sender, clients, text):
    """sender writes a line; every client of the session reads it next
    (a client on another instance, or in another session, would not)."""
    send_frame(sender, OP_TEXT, text)
    for c in clients:
        assert recv_message(c) == (OP_TEXT, text.encode()), text


def test_haproxy_session_param_picks_the_instance(cluster):
    """The hashing alone, on any route (here /whoami, not shared): held
    connections with one ?session=ID reach one instance, where leastconn
    would alternate; over a few ids both instances are used."""
    front, (one, two), _ = cluster
    pids = {one.pid, two.pid}
    conns, placed = [], {}
    try:
        for i in range(20):
            sid = "hash-%d-%02d" % (os.getpid(), i)
            got = set()
            for _ in range(3):
                conn = wsutil.open_ws(front, "/whoami?session=" + sid)
                conns.append(conn)
                op, line = recv_message(conn)
                assert op == OP_TEXT
                got.add(int(line.split()[2]))
            assert len(got) == 1 and got <= pids, (sid, got, pids)
            placed.setdefault(got.pop(), []).append(sid)
            if len(placed) == 2 and i >= 3:
                break
        assert len(placed) == 2, "every id on one instance: %s" % placed
    finally:
        close_all(conns)


def test_haproxy_same_session_id_same_instance(cluster):
    """Clients (and viewers) with one ?session=ID land on the instance
    that runs it: leastconn alone would put the second one elsewhere,
    where it would start a new session and read its "instance" line
    rather than the first client's marker. Ids are tried until both
    instances run some (bounded: 20 ids)."""
    front, (one, two), _ = cluster
    pids = {one.pid, two.pid}
    sessions, conns, placed = [], [], {}
    try:
        for i in range(20):
            sid = "hap-%d-%02d" % (os.getpid(), i)
            first = wsutil.open_ws(front, "/shared?session=" + sid)
            conns.append(first)
            pid = instance_line(first, pids)
            second = wsutil.open_ws(front, "/shared?session=" + sid)
            viewer = wsutil.open_ws(front, "/shared/watch?session=" + sid)
            conns += [second, viewer]
            members = [first, second, viewer]
            everyone_sees(first, members, "%s: from the first" % sid)
            everyone_sees(second, members, "%s: from the second" % sid)
            sessions.append((sid, members))
            placed.setdefault(pid, []).append(sid)
            if len(placed) == 2 and i >= 3:
                break
        assert len(placed) == 2, "every id on one instance: %s" % placed
        # No session saw another's lines: each one's next line is its own.
        for sid, members in sessions:
            everyone_sees(members[0], members, "%s: again" % sid)
    finally:
        close_all(conns)


def test_haproxy_share_route_one_instance(cluster):
    """All clients of a share = route route reach one instance (balance
    uri on the path; a query string does not move them)."""
    front, (one, two), _ = cluster
    conns = []
    try:
        conns.append(wsutil.open_ws(front, "/broadcast"))
        instance_line(conns[0], {one.pid, two.pid})
        for i in range(5):
            conns.append(wsutil.open_ws(front, "/broadcast?client=%d" % i))
        everyone_sees(conns[0], conns, "to all six")
        everyone_sees(conns[3], conns, "from the fourth")
    finally:
        close_all(conns)


def test_nginx_example_config(tmp_path):
    binary = ensure("nginx", "nginx")
    (tmp_path / "logs").mkdir()
    main = tmp_path / "nginx.conf"
    main.write_text(
        "pid %s/nginx.pid;\nerror_log %s/logs/error.log;\n"
        "events {}\nhttp {\n    access_log off;\n"
        "    client_body_temp_path %s/client;\n"
        "    proxy_temp_path %s/proxy;\n"
        "    fastcgi_temp_path %s/fastcgi;\n"
        "    uwsgi_temp_path %s/uwsgi;\n"
        "    scgi_temp_path %s/scgi;\n"
        "    include %s;\n}\n" % ((tmp_path,) * 7 + (NGINX_CONF,)))
    r = subprocess.run([binary, "-t", "-p", str(tmp_path), "-e",
                        str(tmp_path / "logs" / "error.log"),
                        "-c", str(main)], capture_output=True, timeout=30)
    out = (r.stdout + r.stderr).decode(errors="replace")
    assert r.returncode == 0, out
    assert "test is successful" in out, out
    text = open(NGINX_CONF).read()
    for needed in ("proxy_set_header Upgrade $http_upgrade",
                   "proxy_set_header Connection", "proxy_http_version 1.1",
                   "proxy_read_timeout"):
        assert needed in text, needed
