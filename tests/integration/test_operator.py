"""Issue 17: tell the operator what is happening (start-up lines, a line per
connection at the default level, error lines with their context, quiet idle
keep-alives, honest access-log reasons, time stamps on a terminal, config
and --check errors) and metrics an operator can alert on."""
import json
import os
import pty
import re
import select
import shutil
import socket
import subprocess
import time

import pytest

import wsutil
from conftest import BIN, free_port
from cfgutil import (http_request, run_bin, start_config, unix_path,
                     wait_log, write_config)
from wsutil import (close_payload, connect_tcp, expect_close, raw_handshake,
                    recv_message, send_frame, wait_until)


def lines_with(log, text):
    return [x for x in log.splitlines() if text in x]


# --- start-up ----------------------------------------------------------------

def test_startup_line_per_listener_with_url_and_routes(wsbridge, tmp_path):
    other = free_port()
    (tmp_path / "www").mkdir()
    srv, _ = start_config(
        wsbridge, tmp_path, "[route /echo]\necho = yes\n"
        "[route /tools/*]\necho = yes\n",
        server_extra="listen = 127.0.0.1:%d\nstatic_dir = www\n" % other)
    log = wait_log(srv, "listening on http://127.0.0.1:%d/" % other)
    for port in (srv.port, other):
        want = ("listening on http://127.0.0.1:%d/, routes /echo /tools/*, "
                "static files from www" % port)
        assert len(lines_with(log, want)) == 1, log


# --- a line per connection ---------------------------------------------------

def test_connected_and_disconnected_lines_at_default_level(wsbridge, tmp_path):
    srv, _ = start_config(wsbridge, tmp_path, "[route /cat]\nexec = cat\n")
    conn = wsutil.open_ws(srv.port, "/cat?x=1")
    send_frame(conn, wsutil.OP_TEXT, b"hi")
    assert recv_message(conn) == (wsutil.OP_TEXT, b"hi")
    log = wait_log(srv, "connected: route /cat, pid ")
    pid = re.search(r"/cat: connected: route /cat, pid (\d+)", log).group(1)
    assert re.search(r"conn \d+ 127\.0\.0\.1:\d+ /cat: connected", log), log
    send_frame(conn, wsutil.OP_CLOSE, close_payload(1000))
    expect_close(conn)
    log = wait_log(srv, "disconnected:")
    assert re.search(r"conn \d+ 127\.0\.0\.1:\d+ /cat: disconnected: route "
                     r"/cat, pid %s, close 1000, \d+\.\d{3}s \(closed\)"
                     % pid, log), log


def test_socket_route_lines_name_the_backend(wsbridge, tmp_path):
    from cfgutil import Backend, echo_handler
    backend = Backend(echo_handler)
    try:
        srv, _ = start_config(wsbridge, tmp_path,
                              "[route /tcp]\nconnect = %s\n" % backend.addr)
        conn = wsutil.open_ws(srv.port, "/tcp")
        wait_log(srv, "/tcp: connected: route /tcp, %s" % backend.addr)
        conn.close()
        wait_log(srv, "/tcp: disconnected: route /tcp, %s, no close"
                 % backend.addr)
    finally:
        backend.stop()


# --- error lines carry their context -----------------------------------------

def test_404_line_names_the_path(wsbridge, tmp_path):
    srv, _ = start_config(wsbridge, tmp_path, "[route /echo]\necho = yes\n")
    conn, head, _ = raw_handshake(srv.port, "/nowhere")
    assert head.status == 404
    conn.close()
    log = wait_log(srv, "/nowhere: 404: no route")
    assert re.search(r"conn \d+ 127\.0\.0\.1:\d+ /nowhere: 404: no route",
                     log), log


def test_refused_backend_line_names_its_address(wsbridge, tmp_path):
    dead = free_port()
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /vnc]\nconnect = 127.0.0.1:%d\n" % dead)
    conn, head, _ = raw_handshake(srv.port, "/vnc")
    assert head.status == 502
    conn.close()
    # As websockify's "Failed to connect to 127.0.0.1:5999".
    wait_log(srv, "/vnc: backend 127.0.0.1:%d: connect: Connection refused"
             % dead)


@pytest.fixture
def token_srv(wsbridge, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("alpha: 127.0.0.1:%d\n" % free_port())
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /vnc]\ntargets = %s\n" % tokens)
    return srv


def test_unknown_token_is_one_line(token_srv):
    conn, head, _ = raw_handshake(token_srv.port, "/vnc?token=secretvalue99")
    assert head.status == 404
    conn.close()
    log = wait_log(token_srv, "unknown token")
    mine = [x for x in log.splitlines() if "/vnc" in x and "conn " in x]
    assert len(mine) == 1, log
    assert mine[0].endswith("/vnc: 404: unknown token secr... "
                            "(13 characters)"), mine
    assert "secretvalue99" not in log


def test_one_character_token_is_described_not_dotted(token_srv):
    conn, head, _ = raw_handshake(token_srv.port, "/vnc?token=x")
    assert head.status == 404
    conn.close()
    log = wait_log(token_srv, "unknown token")
    assert "unknown token of 1 character" in log, log
    assert "token ..." not in log


# --- idle keep-alive ---------------------------------------------------------

def test_idle_keepalive_after_static_get_is_quiet(wsbridge, tmp_path):
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("hello\n")
    log = tmp_path / "access.log"
    srv, _ = start_config(
        wsbridge, tmp_path, "[route /echo]\necho = yes\n",
        server_extra="static_dir = www\nhandshake_timeout = 300ms\n"
                     "access_log = %s\n" % log)
    conn = connect_tcp(srv.port)
    from cfgutil import read_http, send_http
    send_http(conn, srv.port, "GET", "/")
    assert read_http(conn).status == 200
    # The server ends the idle connection (EOF), bounded by 10s. Its
    # request had its access line; the idle close has none (nginx's way),
    # and no "handshake timeout" anywhere.
    conn.recv_to_eof(timeout=10)
    conn.close()
    ours = [x for x in log.read_text().splitlines() if 'path="-"' not in x]
    assert len(ours) == 1 and 'path="/"' in ours[0] and \
        'status=200' in ours[0] and 'reason="response sent"' in ours[0], ours
    assert "handshake timeout" not in srv.log(), srv.log()
    # A request that really stalls half way still says so.
    conn = connect_tcp(srv.port)
    conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    wait_log(srv, "handshake timeout", timeout=10)
    conn.close()


# --- access log --------------------------------------------------------------

def test_access_line_per_keep_alive_request(wsbridge, tmp_path):
    # Three requests on one connection, one of them a 404: three lines,
    # each with its own path, status, bytes and reason (before, one line
    # at the close with path "-" and the last status).
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "a.txt").write_text("aaaa\n")
    (tmp_path / "www" / "b.txt").write_text("bb\n")
    log = tmp_path / "access.log"
    srv, _ = start_config(
        wsbridge, tmp_path, "[route /echo]\necho = yes\n",
        server_extra="static_dir = www\naccess_log = %s\n"
                     "access_log_format = json\n" % log)
    from cfgutil import read_http, send_http
    conn = connect_tcp(srv.port)
    for path, status in (("/a.txt", 200), ("/nope", 404), ("/b.txt", 200)):
        send_http(conn, srv.port, "GET", path)
        assert read_http(conn).status == status
    conn.close()

    def records():
        recs = [json.loads(x) for x in log.read_text().splitlines()
                if '"path":"-"' not in x] if log.exists() else []
        return recs if len(recs) == 3 else None
    recs = wait_until(records, 5, what="3 lines")
    assert len({r["conn"] for r in recs}) == 1, recs
    got = [(r["path"], r["status"], r["bytes_out"], r["reason"])
           for r in recs]
    assert got == [("/a.txt", 200, 5, "response sent"),
                   ("/nope", 404, 0, "no such file"),
                   ("/b.txt", 200, 3, "response sent")], got


def test_access_log_refused_reason_and_json_nulls(wsbridge, tmp_path):
    log = tmp_path / "access.log"
    srv, _ = start_config(
        wsbridge, tmp_path, "[route /echo]\necho = yes\n"
        "[route /vnc]\nconnect = 127.0.0.1:%d\n" % free_port(),
        server_extra="access_log = %s\naccess_log_format = json\n" % log)
    for path, status in (("/nowhere", 404), ("/vnc", 502)):
        conn, head, _ = raw_handshake(srv.port, path)
        assert head.status == status
        conn.close()
    assert http_request(srv.port, "GET", "/echo").status == 426

    def records(n):
        # The fixture's readiness probe has a line too, without a path.
        recs = [json.loads(x) for x in log.read_text().splitlines()
                if '"path":"-"' not in x] if log.exists() else []
        return recs if len(recs) == n else None
    recs = {r["path"]: r for r in wait_until(lambda: records(3), 5,
                                             what="3 lines")}
    assert recs["/nowhere"]["reason"] == "no route"
    assert recs["/vnc"]["reason"] == "backend failed"
    assert recs["/echo"]["reason"] == "Upgrade Required"
    for r in recs.values():
        assert r["user"] is None and r["exit"] is None, r
        assert r["close"] is None, r
    # A WebSocket connection still has its close code and, with a
    # process, its exit status.
    conn = wsutil.open_ws(srv.port, "/echo")
    send_frame(conn, wsutil.OP_CLOSE, close_payload(1000))
    expect_close(conn)
    rec = wait_until(lambda: records(4), 5, what="the /echo line")[-1]
    assert rec["close"] == 1000 and rec["status"] == 101, rec


def test_access_log_text_refused_reason(wsbridge, tmp_path):
    log = tmp_path / "access.log"
    srv, _ = start_config(wsbridge, tmp_path, "[route /echo]\necho = yes\n",
                          server_extra="access_log = %s\n" % log)
    conn, head, _ = raw_handshake(srv.port, "/nowhere")
    assert head.status == 404
    conn.close()
    line = wait_until(lambda: log.exists() and lines_with(
        log.read_text(), 'path="/nowhere"'), 5, what="the line")[0]
    assert line.endswith(' status=404 duration=%s in=0/0 out=0/0 close=0 '
                         'exit="-" reason="no route"'
                         % re.search(r"duration=(\S+)", line).group(1)), line


# --- time stamps -------------------------------------------------------------

def test_stderr_lines_stamped_on_a_terminal_only(wsbridge, tmp_path):
    port = free_port()
    master, slave = pty.openpty()
    proc = subprocess.Popen([BIN, "--port", str(port), "--address",
                             "127.0.0.1", "--echo"], stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=slave, cwd=str(tmp_path))
    os.close(slave)
    out = b""
    try:
        deadline = time.monotonic() + 10
        while b"listening on" not in out and time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.5)
            if r:
                out += os.read(master, 4096)
    finally:
        proc.terminate()
        proc.wait(10)
        os.close(master)
    line = [x for x in out.decode().splitlines() if "listening on" in x]
    assert line, out
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} wsbridge\[\d+\]"
                    r": listening on", line[0]), line
    # Not a terminal (journald stamps its own lines): no time stamp.
    srv = wsbridge("--echo")
    log = wait_log(srv, "listening on")
    assert lines_with(log, "listening on")[0].startswith("wsbridge[")


# --- configuration errors ----------------------------------------------------

def test_missing_config_is_one_error():
    r = run_bin(["-c", "/nonexistent.ini"])
    assert r.returncode == 1
    assert r.stderr.decode() == \
        "wsbridge: /nonexistent.ini: No such file or directory\n"


def test_config_directory_says_so(tmp_path):
    r = run_bin(["-c", str(tmp_path)])
    assert r.returncode == 1
    assert r.stderr.decode() == "wsbridge: %s: Is a directory\n" % tmp_path


def test_short_unknown_flag_named_as_typed():
    r = run_bin(["-v"])
    assert r.returncode == 2
    assert r.stderr.decode() == "wsbridge: -v: unknown flag (see --help)\n"


def test_targets_directory_fails_the_check(tmp_path):
    (tmp_path / "tokens").mkdir()
    path = write_config(tmp_path, "[server]\nlisten = 127.0.0.1:%d\n"
                        "[route /vnc]\ntargets = %s\n"
                        % (free_port(), tmp_path / "tokens"))
    r = run_bin(["-c", str(path), "--check"])
    assert r.returncode == 1
    assert "is a directory" in r.stderr.decode(), r.stderr
    assert b"configuration OK" not in r.stdout


def test_check_names_the_file(tmp_path):
    path = write_config(tmp_path, "[server]\nlisten = 127.0.0.1:%d\n"
                        "[route /e]\necho = yes\n" % free_port())
    r = run_bin(["-c", str(path), "--check"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines()[-1] == \
        "%s: configuration OK" % path


def test_check_binds_the_listeners(tmp_path):
    # A port in use is reported (a warning: the running wsbridge holds
    # its own ports when a reload is checked).
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        port = held.getsockname()[1]
        path = write_config(tmp_path, "[server]\nlisten = 127.0.0.1:%d\n"
                            "[route /e]\necho = yes\n" % port)
        r = run_bin(["-c", str(path), "--check"])
    assert r.returncode == 0, r.stderr
    assert ("listen 127.0.0.1:%d: bind: Address already in use" % port) in \
        r.stderr.decode(), r.stderr
    # A listener that cannot be bound at all fails the check.
    path = write_config(tmp_path, "[server]\nlisten = unix:%s/no/such/dir.sock"
                        "\n[route /e]\necho = yes\n" % tmp_path, "bad.ini")
    r = run_bin(["-c", str(path), "--check"])
    assert r.returncode == 1
    assert "bind: No such file or directory" in r.stderr.decode(), r.stderr
    # A free unix path is bound, then left as it was.
    sock = unix_path(tmp_path)
    path = write_config(tmp_path, "[server]\nlisten = unix:%s\n"
                        "[route /e]\necho = yes\n" % sock, "unix.ini")
    r = run_bin(["-c", str(path), "--check"])
    assert r.returncode == 0, r.stderr
    assert not os.path.lexists(sock)


# --- metrics -----------------------------------------------------------------

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def scrape(port):
    head = http_request(port, "GET", "/metrics")
    assert head.status == 200
    text = head.body.decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, line
        out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return text, out


@pytest.fixture
def metrics_srv(wsbridge, tmp_path):
    srv, _ = start_config(
        wsbridge, tmp_path, "[route /echo]\necho = yes\n"
        "[route /fail]\nexec = sh -c 'exit 3'\n"
        "[route /vnc]\nconnect = 127.0.0.1:%d\n" % free_port(),
        server_extra="metrics_path = /metrics\n")
    return srv


def test_route_series_exist_from_startup(metrics_srv):
    _, m = scrape(metrics_srv.port)
    for route in ("/echo", "/fail", "/vnc"):
        lab = '{route="%s"}' % route
        assert m[("wsbridge_connections_total", lab)] == 0
        assert m[("wsbridge_backend_failures_total", lab)] == 0
        assert m[("wsbridge_connection_duration_seconds_count", lab)] == 0


def test_failures_exits_and_durations_by_route(metrics_srv):
    port = metrics_srv.port
    conn, head, _ = raw_handshake(port, "/vnc")
    assert head.status == 502
    conn.close()
    conn, head, _ = raw_handshake(port, "/nowhere")
    assert head.status == 404
    conn.close()
    conn = wsutil.open_ws(port, "/fail")
    assert expect_close(conn, reply=True)[0] == 1011

    def settled():
        _, m = scrape(port)
        return m if m.get(("wsbridge_process_exits_total",
                           '{route="/fail",code="3"}')) and m.get((
                               "wsbridge_connection_duration_seconds_count",
                               '{route="/fail"}')) else None
    m = wait_until(settled, 10, what="the exit and the close counted")
    assert m[("wsbridge_backend_failures_total", '{route="/vnc"}')] == 1
    assert m[("wsbridge_handshake_failures_total",
              '{route="/vnc",status="502"}')] == 1
    assert m[("wsbridge_handshake_failures_total",
              '{route="",status="404"}')] == 1
    assert m[("wsbridge_connection_duration_seconds_bucket",
              '{route="/fail",le="+Inf"}')] == 1


def test_process_metrics_as_client_libraries_export_them(metrics_srv):
    _, m = scrape(metrics_srv.port)
    with open("/proc/%d/stat" % metrics_srv.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as f:
        btime = [int(x.split()[1]) for x in f if x.startswith("btime")][0]
    start = btime + int(fields[19]) / tck
    assert abs(m[("process_start_time_seconds", "")] - start) < 0.02
    assert m[("process_open_fds", "")] >= 3
    assert m[("process_max_fds", "")] >= m[("process_open_fds", "")]
    assert m[("process_resident_memory_bytes", "")] > 100000
    assert m[("process_virtual_memory_bytes", "")] > \
        m[("process_resident_memory_bytes", "")]
    assert m[("process_cpu_seconds_total", "")] >= 0


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool (Debian package prometheus) missing")
def test_promtool_accepts_the_metrics(metrics_srv):
    conn = wsutil.open_ws(metrics_srv.port, "/fail")
    expect_close(conn, reply=True)
    conn, head, _ = raw_handshake(metrics_srv.port, "/vnc")
    conn.close()
    text, _ = scrape(metrics_srv.port)
    r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=30)
    assert r.returncode == 0, (r.stdout, r.stderr, text)
    assert r.stdout.decode() + r.stderr.decode() == "", text
