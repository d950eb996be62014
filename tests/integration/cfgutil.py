"""Helpers for the config-file tests (issue 3): write an INI file into the
test's tmp dir, start wsbridge -c on it, wait for log lines, plain HTTP
requests over raw sockets, small backends the tests run themselves.
Every wait is bounded."""

import os
import socket
import subprocess
import threading
import time

from conftest import BIN, REPO, free_port
import wsutil


def run_bin(args, cwd=None, timeout=10):
    """Run the binary to completion (e.g. --check); CompletedProcess."""
    return subprocess.run([BIN] + list(args), stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=timeout,
                          cwd=cwd or REPO)


def write_config(tmp_path, body, name="wsbridge.ini"):
    path = tmp_path / name
    path.write_text(body)
    return path


def server_section(port, extra=""):
    return "[server]\nlisten = 127.0.0.1:%d\n%s\n" % (port, extra)


def start_config(wsbridge, tmp_path, routes, server_extra="", port=None,
                 name="wsbridge.ini", args=()):
    """Write [server] (listen on a free loopback port) + routes, start
    wsbridge -c FILE; return (server, config path)."""
    port = port or free_port()
    path = write_config(tmp_path, server_section(port, server_extra) + routes,
                        name)
    srv = wsbridge("-c", str(path), *args, port=port, listen_args=False)
    srv.config = path
    return srv, path


def wait_log(srv, text, timeout=5.0, start=0):
    """Poll the server's log until text appears after offset start;
    return the log."""
    def seen():
        log = srv.log()
        return log if text in log[start:] else None
    return wsutil.wait_until(seen, timeout, what="log line %r; log:\n%s"
                             % (text, srv.log()[-3000:]))


def http_request(port, method, path, headers=(), timeout=5.0):
    """One plain HTTP request on a fresh raw connection; returns the
    parsed Head (with body unless HEAD)."""
    conn = wsutil.connect_tcp(port, timeout)
    try:
        send_http(conn, port, method, path, headers)
        return read_http(conn, head_only=(method == "HEAD"), timeout=timeout)
    finally:
        conn.close()


def send_http(conn, port, method, path, headers=()):
    hdrs = [("Host", "127.0.0.1:%d" % port)] + list(headers)
    conn.sendall(wsutil.request_bytes(method, path, hdrs))


def read_http(conn, head_only=False, timeout=5.0):
    """Read one response; a HEAD response (or 304) has no body even with
    Content-Length."""
    raw = conn.recv_until(b"\r\n\r\n", limit=65536, timeout=timeout)
    head = wsutil.Head(raw[:-4])
    if head_only or head.status in (204, 304) or head.status < 200:
        return head
    cl = head.header("content-length")
    if cl is not None:
        head.body = conn.recv_exact(int(cl), timeout=timeout)
    else:
        head.body = conn.recv_to_eof(timeout=timeout)
    return head


# --------------------------------------------------------------------------
# Backends started by the tests
# --------------------------------------------------------------------------

class Backend:
    """A threaded stream server; handler(sock) runs per connection.
    Records accepted connections; stop() closes everything."""

    def __init__(self, handler, family=socket.AF_INET, path=None):
        self.handler = handler
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if family == socket.AF_INET:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", 0))
            self.port = self.sock.getsockname()[1]
            self.addr = "127.0.0.1:%d" % self.port
        else:
            self.sock.bind(path)
            self.addr = "unix:" + path
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.conns = []
        self.errors = []
        self.events = []
        self._stop = False
        self._threads = []
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)

    def _accept(self):
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c.settimeout(None)
            self.conns.append(c)
            t = threading.Thread(target=self._run, args=(c,), daemon=True)
            t.start()
            self._threads.append(t)

    def _run(self, c):
        try:
            self.handler(self, c)
        except Exception as e:  # recorded, asserted by the tests
            self.errors.append(repr(e))

    def stop(self):
        self._stop = True
        for c in [self.sock] + self.conns:
            try:
                c.close()
            except OSError:
                pass
        for t in self._threads:
            t.join(2)


def echo_handler(backend, c):
    """Echo bytes until EOF, then record it and close."""
    while True:
        data = c.recv(65536)
        if not data:
            backend.events.append("eof")
            break
        c.sendall(data)
    c.close()


def wait_pid_gone(pid, timeout):
    return wsutil.wait_until(lambda: not wsutil.alive(pid), timeout,
                             what="pid %d to go" % pid)


def unix_path(tmp_path, name="wsb.sock"):
    """A unix socket path that fits sun_path, nothing there yet."""
    p = str(tmp_path / name)
    if len(p) >= 100:       # sun_path limit
        p = "/tmp/wsb-%d-%s" % (os.getpid(), name)
    if os.path.lexists(p):
        os.unlink(p)
    return p
