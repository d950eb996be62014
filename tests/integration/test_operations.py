"""Operations (issue 8): metrics in Prometheus text, the access log in text
and JSON, SIGUSR1 reopening the access log file."""
import json
import os
import re
import signal

import wsutil
from conftest import free_port
from cfgutil import http_request, start_config, wait_log
from wsutil import (connect_tcp, count, read_response, wait_until,
                    ws_session)


ROUTES = "[route /echo]\necho = yes\n[route /fail]\nexec = sh -c 'exit 3'\n"
SAMPLE = re.compile(r'^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$')


def metrics(port, path="/metrics"):
    """Parse the exposition format: {(name, labels): value}."""
    head = http_request(port, "GET", path)
    assert head.status == 200
    assert head.header("content-type").startswith("text/plain; version=0.0.4")
    out = {}
    for line in head.body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not a Prometheus sample line: %r" % line
        out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def test_metrics_count_connections_and_failures(wsbridge, tmp_path):
    srv, _ = start_config(wsbridge, tmp_path, ROUTES,
                          server_extra="metrics_path = /metrics\n")
    s = ws_session("ws://127.0.0.1:%d/echo" % srv.port, ["a", "bc"],
                   done=count(2))
    assert s.messages == ["a", "bc"]
    s = ws_session("ws://127.0.0.1:%d/fail" % srv.port)
    assert s.code == 1011
    assert http_request(srv.port, "GET", "/nowhere").status == 404
    m = wait_until(lambda: (lambda v: v if v.get(
        ("wsbridge_connections_total", '{route="/fail"}')) else None)(
        metrics(srv.port)), 5, what="metrics after the connections")
    assert m[("wsbridge_connections_total", '{route="/echo"}')] == 1
    assert m[("wsbridge_received_messages_total", '{route="/echo"}')] == 2
    assert m[("wsbridge_received_bytes_total", '{route="/echo"}')] == 3
    assert m[("wsbridge_connections_open", '{route="/echo"}')] == 0
    assert m[("wsbridge_close_codes_total", '{code="1011"}')] >= 1


def test_metrics_listen_separates_metrics(wsbridge, tmp_path):
    mport = free_port()
    srv, _ = start_config(
        wsbridge, tmp_path, ROUTES,
        server_extra="metrics_path = /metrics\n"
                     "metrics_listen = 127.0.0.1:%d\n" % mport)
    # It binds just after the main listener the fixture waited for.
    def metrics_up():
        try:
            return http_request(mport, "GET", "/metrics").status == 200
        except ConnectionRefusedError:
            return False
    wait_until(metrics_up, 5, what="the metrics listener")
    # Only metrics there; no metrics on the main listener.
    assert http_request(mport, "GET", "/echo").status == 404
    assert http_request(srv.port, "GET", "/metrics").status == 404
    assert metrics(mport)[("wsbridge_build_info",
                           '{version="0.1.0"}')] == 1


def test_metrics_prefix_routes_and_failed_handshakes(wsbridge, tmp_path):
    # /x and /x/* are two routes: two series. Garbage on the port and a
    # plain GET on a route are failed handshakes; a static 404 is not.
    srv, _ = start_config(
        wsbridge, tmp_path,
        "[route /x]\necho = yes\n[route /x/*]\necho = yes\n",
        server_extra="metrics_path = /metrics\n")
    for path in ("/x", "/x/y"):
        s = ws_session("ws://127.0.0.1:%d%s" % (srv.port, path), ["m"],
                       done=count(1))
        assert s.messages == ["m"]
    assert http_request(srv.port, "GET", "/x").status == 426
    conn = connect_tcp(srv.port)
    conn.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
    assert read_response(conn).status == 400
    conn.close()
    m = wait_until(lambda: (lambda v: v if v.get(
        ("wsbridge_connections_total", '{route="/x/*"}')) else None)(
        metrics(srv.port)), 5, what="metrics after the connections")
    assert m[("wsbridge_connections_total", '{route="/x"}')] == 1
    assert m[("wsbridge_connections_total", '{route="/x/*"}')] == 1
    assert m[("wsbridge_handshake_failures_total",
              '{route="/x",status="426"}')] == 1
    assert m[("wsbridge_handshake_failures_total",
              '{route="",status="400"}')] == 1


def test_access_log_json_then_sigusr1_reopens(wsbridge, tmp_path):
    log = tmp_path / "access.log"
    srv, _ = start_config(
        wsbridge, tmp_path, ROUTES,
        server_extra="log_level = access\naccess_log = %s\n"
                     "access_log_format = json\n" % log)
    s = ws_session("ws://127.0.0.1:%d/echo?x=1" % srv.port, ["hello"],
                   done=count(1))
    assert s.code == 1000
    wait_until(lambda: log.exists() and log.read_text().strip(), 5,
               what="an access line")
    rec = json.loads(log.read_text().strip().splitlines()[-1])
    assert rec["route"] == "/echo" and rec["status"] == 101
    assert rec["bytes_in"] == 5 and rec["msgs_in"] == 1
    assert rec["msgs_out"] == 1 and rec["close"] == 1000
    assert rec["peer"].startswith("127.0.0.1:")
    # Rotation: move the file away, SIGUSR1, new lines go to a new file.
    os.rename(log, tmp_path / "access.log.1")
    os.kill(srv.pid, signal.SIGUSR1)
    wait_until(lambda: log.exists(), 5, what="the reopened log file")
    ws_session("ws://127.0.0.1:%d/fail" % srv.port)
    wait_until(lambda: log.read_text().strip(), 5, what="a line after USR1")
    rec = json.loads(log.read_text().strip().splitlines()[-1])
    assert rec["route"] == "/fail" and rec["exit"] == "exit 3"
    assert rec["close"] == 1011


def test_exit_status_known_after_the_client_left(wsbridge, tmp_path):
    # The client leaves while the program runs: its line waits for the
    # reaping and carries the exit status; the metric counts it too.
    log = tmp_path / "access.log"
    srv, _ = start_config(
        wsbridge, tmp_path,
        "[route /sleep]\nexec = sleep 30\nclose_grace = 100ms\n",
        server_extra="access_log = %s\naccess_log_format = json\n"
                     "metrics_path = /metrics\n" % log)
    conn = wsutil.open_ws(srv.port, "/sleep")
    conn.close()
    def sleep_line():
        lines = log.read_text().splitlines() if log.exists() else []
        recs = [json.loads(x) for x in lines if '"route":"/sleep"' in x]
        return recs[-1] if recs else None
    rec = wait_until(sleep_line, 10, what="the /sleep access line")
    assert rec["status"] == 101
    assert rec["exit"] == "signal 15", rec
    m = metrics(srv.port)
    assert m[("wsbridge_process_exits_total",
              '{route="/sleep",signal="15"}')] == 1


def test_access_log_file_at_default_level(wsbridge, tmp_path):
    # Naming a file is asking for the lines: no log_level needed. At the
    # default level stderr stays free of them.
    log = tmp_path / "access.log"
    srv, _ = start_config(wsbridge, tmp_path, ROUTES,
                          server_extra="access_log = %s\n" % log)
    s = ws_session("ws://127.0.0.1:%d/echo" % srv.port, ["hi"],
                   done=count(1))
    assert s.code == 1000
    wait_until(lambda: log.exists() and "route=/echo" in log.read_text(),
               5, what="an access line in the file")
    assert "status=101" in log.read_text()
    assert "access time=" not in srv.log()


def test_access_log_text_escapes_peer_bytes(wsbridge, tmp_path):
    srv, _ = start_config(wsbridge, tmp_path, ROUTES,
                          server_extra="log_level = access\n")
    assert http_request(srv.port, "GET", "/no%0Aroute%1B").status == 404
    # The line is written when the connection ends, after the response.
    text = wait_log(srv, "status=404")
    # The decoded newline and escape never reach the log raw.
    assert "\x1b" not in text
    assert "no\\\\x0aroute" in text or "no\\x0aroute" in text, text
