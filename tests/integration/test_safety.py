"""Refusing what is unsafe (issue 17): --sslcert/--sslkey without --ssl,
--port moving a config's loopback listener to every interface, and routes
that spawn programs for anyone who can reach a non-loopback listener.

Listeners on 0.0.0.0 are only ever opened inside a private network
namespace (`unshare -n`: its only interface is a loopback that is down),
so nothing outside this process tree can reach them.
"""

import os
import signal
import socket
import struct
import subprocess

import pytest

import wsutil
from cfgutil import run_bin, write_config, wait_log
from conftest import BIN, REPO, free_port, port_open
from produtil import Certs, client_context, tls_open_ws


def netns_ok():
    try:
        return subprocess.run(["unshare", "-n", "true"], timeout=10,
                              capture_output=True).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


needs_netns = pytest.mark.skipif(
    not netns_ok(), reason="unshare -n (a private network namespace) needs "
    "root; listeners on 0.0.0.0 are only opened inside one")


def listening_on(port):
    """The local addresses of LISTEN sockets on port, from /proc/net."""
    found = set()
    for name, v6 in (("tcp", False), ("tcp6", True)):
        try:
            with open("/proc/net/" + name) as f:
                lines = f.readlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            addr, hport = fields[1].split(":")
            if fields[3] != "0A" or int(hport, 16) != port:
                continue
            raw = bytes.fromhex(addr)
            # the kernel prints each 32-bit word in host order
            raw = b"".join(struct.pack("<I", struct.unpack(">I",
                           raw[i:i + 4])[0]) for i in range(0, len(raw), 4))
            found.add(socket.inet_ntop(socket.AF_INET6 if v6 else
                                       socket.AF_INET, raw))
    return found


PTY_ROUTES = """
[route /terminal]
exec = /bin/sh
mode = pty

[route /count]
exec = /bin/echo 1

[route /echo]
echo = yes

[route /vnc]
connect = 127.0.0.1:5900

[route /private]
exec = /bin/sh
auth = basic
auth_file = /dev/null
"""


# -- 1. --sslcert/--sslkey without --ssl -----------------------------------

@pytest.mark.parametrize("args,flag", [
    (["--sslcert", "C", "--sslkey", "K"], "--sslcert"),
    (["--sslkey", "K"], "--sslkey"),
])
def test_issue17_ssl_files_without_ssl_are_a_usage_error(args, flag):
    """websocketd refuses this; wsbridge served plain ws on the port."""
    r = run_bin(["--check", "--port", str(free_port()), "--address",
                 "127.0.0.1"] + args + ["--echo"])
    err = r.stderr.decode()
    assert r.returncode == 2, (r.returncode, err, r.stdout)
    assert err.startswith("wsbridge: %s: no TLS listener: add --ssl" % flag)
    assert len(err.strip().splitlines()) == 1, err
    assert r.stdout == b""


def test_issue17_ssl_files_with_c_need_a_tls_listener(tmp_path):
    cfg = write_config(tmp_path, "[server]\nlisten = 127.0.0.1:%d\n"
                       "[route /e]\necho = yes\n" % free_port())
    r = run_bin(["-c", str(cfg), "--sslcert", "C", "--sslkey", "K",
                 "--check"])
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert b"--sslcert: no TLS listener" in r.stderr


def test_issue17_ssl_files_fill_the_files_tls_listener(tmp_path, wsbridge):
    """With -c, a [tls] listener of the file takes --sslcert/--sslkey."""
    certs = Certs(tmp_path)
    cert, key = certs.issue("srv", "/CN=localhost", san="DNS:localhost")
    port = free_port()
    cfg = write_config(tmp_path, "[tls]\nlisten = 127.0.0.1:%d\n"
                       "cert = /nonexistent.pem\nkey = /nonexistent.key\n"
                       "[route /e]\necho = yes\n" % port)
    wsbridge("-c", str(cfg), "--sslcert", str(cert), "--sslkey", str(key),
             port=port, listen_args=False)
    conn = tls_open_ws(port, client_context(certs.ca), "/e")
    wsutil.send_frame(conn, wsutil.OP_TEXT, "over tls")
    assert wsutil.recv_message(conn) == (wsutil.OP_TEXT, b"over tls")
    conn.close()


# -- 2. --port with -c keeps the file's addresses --------------------------

def test_issue17_port_keeps_the_configs_loopback_address(tmp_path, wsbridge):
    """-c FILE --port N, the obvious fix when 8080 is busy, used to move
    the file's 127.0.0.1 listener (and its shell) to 0.0.0.0."""
    port = free_port()
    cfg = write_config(tmp_path, "[server]\nlisten = 127.0.0.1:1\n"
                       + PTY_ROUTES)
    srv = wsbridge("-c", str(cfg), "--port", str(port), port=port,
                   listen_args=False)
    assert listening_on(port) == {"127.0.0.1"}
    log = wait_log(srv, "listening on http://127.0.0.1:%d/" % port)
    assert "without auth" not in log, log


def test_issue17_shipped_config_with_port_stays_on_loopback():
    port = free_port()
    r = run_bin(["-c", "conf/wsbridge.ini", "--port", str(port), "--check"],
                cwd=REPO)
    out = r.stdout.decode()
    assert r.returncode == 0, (out, r.stderr)
    assert out.splitlines()[0] == "listen 127.0.0.1:%d" % port, out
    assert b"warning" not in r.stderr, r.stderr


# -- 2b. the warning -------------------------------------------------------

def warnings(text):
    return [line for line in text.splitlines() if "without auth" in line]


@needs_netns
def test_issue17_check_warns_of_programs_on_every_interface(tmp_path):
    port = free_port()
    cfg = write_config(tmp_path, "[server]\nlisten = 127.0.0.1:%d\n"
                       "listen = 0.0.0.0:%d\n" % (port, port) + PTY_ROUTES)
    r = subprocess.run(["unshare", "-n", BIN, "-c", str(cfg), "--check"],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=10)
    err = r.stderr.decode()
    assert r.returncode == 0, err
    assert r.stdout.decode().rstrip().endswith("configuration OK")
    got = warnings(err)
    where = "for anyone who reaches 0.0.0.0:%d, without auth" % port
    assert len(got) == 2, err
    assert got[0].startswith("wsbridge: warning: route /terminal gives a "
                             "terminal running /bin/sh " + where), got
    assert got[1].startswith("wsbridge: warning: route /count runs "
                             "/bin/echo " + where), got


@needs_netns
def test_issue17_startup_warns_of_a_shell_on_every_interface(tmp_path):
    port = free_port()
    cfg = write_config(tmp_path, "[server]\nlisten = *:%d\n" % port
                       + PTY_ROUTES)
    logpath = tmp_path / "wsbridge.log"
    with open(logpath, "wb") as logf:
        proc = subprocess.Popen(["unshare", "-n", BIN, "-c", str(cfg)],
                                stdin=subprocess.DEVNULL, stdout=logf,
                                stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        log = wsutil.wait_until(
            lambda: (proc.poll() is not None or "listening on" in
                     logpath.read_text()) and logpath.read_text(),
            10, what="wsbridge listening in its namespace")
        assert proc.poll() is None, log
        got = warnings(log)
        assert len(got) == 2, log
        assert "route /terminal gives a terminal running /bin/sh for " \
            "anyone who reaches *:%d" % port in got[0], got
        assert "warning: " in got[0]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@needs_netns
def test_issue17_client_certificates_are_enough(tmp_path):
    """A TLS listener that asks for client certificates is not open."""
    certs = Certs(tmp_path)
    cert, key = certs.issue("srv", "/CN=localhost", san="DNS:localhost")
    port = free_port()
    base = ("[tls]\nlisten = 0.0.0.0:%d\ncert = %s\nkey = %s\n"
            % (port, cert, key))
    for extra, n in (("", 2), ("client_ca = %s\n" % certs.ca, 0)):
        cfg = write_config(tmp_path, base + extra + PTY_ROUTES)
        r = subprocess.run(["unshare", "-n", BIN, "-c", str(cfg), "--check"],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=10)
        assert r.returncode == 0, r.stderr
        assert len(warnings(r.stderr.decode())) == n, r.stderr


# -- 2c. make run PORT=N ---------------------------------------------------

@pytest.mark.serial
@pytest.mark.timeout(600)
@pytest.mark.skipif(
    os.path.realpath(BIN) != os.path.join(REPO, "build", "wsbridge"),
    reason="make run builds and runs build/wsbridge; tested with it only")
def test_issue17_make_run_port_moves_the_demo_not_its_address(tmp_path):
    port = free_port()
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(k, None)
    logpath = tmp_path / "make-run.log"
    with open(logpath, "wb") as logf:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "run", "PORT=%d" % port],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=logf,
            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wsutil.wait_until(lambda: proc.poll() is not None or port_open(port),
                          540, interval=0.2, what="make run listening")
        assert proc.poll() is None, logpath.read_text()
        assert listening_on(port) == {"127.0.0.1"}, logpath.read_text()
        conn = wsutil.open_ws(port, "/echo")
        wsutil.send_frame(conn, wsutil.OP_TEXT, "moved")
        assert wsutil.recv_message(conn) == (wsutil.OP_TEXT, b"moved")
        conn.close()
        assert "without auth" not in logpath.read_text()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
