"""Issue 17, checked item by item: the gaps that audit found.

--reverselookup under pressure (a full lookup queue, a client that leaves
while its name is looked up); --cgidir request bodies that fail after the
program's head went out, and chunked bodies with trailers; honest access
and disconnected reasons; --port's wording in --help, at start-up and in
the docs; the man page's terminal example; the demo pages' favicon and
nav; the metrics against the exposition format's rules (without
promtool); the README's start-up transcript and access lines as the
binary prints them.
"""

import os
import re
import signal
import socket
import subprocess
import time

import pytest

import wsutil
from cfgutil import (run_bin, server_section, start_config, wait_log,
                     write_config)
from conftest import BIN, REPO, free_port, port_open
from test_peer_flags2 import SHIM_C, ENV_SH, env_of
from wsutil import (connect_tcp, read_response, request_bytes, wait_until,
                    write_script, OP_TEXT)


UPGRADE = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
           ("Sec-WebSocket-Version", "13"),
           ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")]


@pytest.fixture
def shim(tmp_path):
    """getnameinfo for 192.0.2.1 hangs until tmp/shim/release (as in
    test_peer_flags2.py)."""
    d = tmp_path / "shim"
    d.mkdir()
    (d / "shim.c").write_text(SHIM_C)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(d / "shim.so"),
                    str(d / "shim.c"), "-ldl"], check=True, timeout=60)
    env = {"LD_PRELOAD": str(d / "shim.so"), "RDNS_SHIM_DIR": str(d),
           "ASAN_OPTIONS": (os.environ.get("ASAN_OPTIONS", "") +
                            ":verify_asan_link_order=0").lstrip(":")}
    yield d, env
    (d / "release").touch()     # never leave a thread parked


def rdns_server(wsbridge, tmp_path, env, prog):
    port = free_port()
    path = write_config(tmp_path, server_section(
        port, "reverse_lookup = yes\ntrusted_proxies = 127.0.0.1/32\n"
        "log_level = debug\n") + "[route /env]\nexec = %s\n" % prog)
    return wsbridge("-c", str(path), port=port, listen_args=False, env=env)


def send_upgrade(port, path, xff):
    conn = connect_tcp(port)
    conn.sendall(request_bytes("GET", path, [("Host", "127.0.0.1")] + UPGRADE
                               + [("X-Forwarded-For", xff)]))
    return conn


def count(log, text):
    return sum(1 for line in log.splitlines() if text in line)


# --- --reverselookup -------------------------------------------------------

def test_full_lookup_queue_goes_on_with_the_address(wsbridge, tmp_path,
                                                    shim):
    """RDNS_THREADS (2) lookups hang in the resolver, RDNS_QUEUE (64) wait
    for a thread: the next client is not queued but served at once with
    its address, and says so in the log."""
    d, env = shim
    prog = write_script(tmp_path / "env.sh", ENV_SH)
    srv = rdns_server(wsbridge, tmp_path, env, prog)
    conns = []
    full = None
    for i in range(200):                # bounded; 67 unless lookups expire
        conns.append(send_upgrade(srv.port, "/env", "192.0.2.1"))
        log = wait_until(
            lambda: (lambda lg: lg if count(lg, "-> lookup") + count(
                lg, "reverse lookup queue full") == i + 1 else None)(
                    srv.log()), 15, what="request %d handled" % i)
        if "reverse lookup queue full" in log:
            full = i
            break
    assert full is not None, srv.log()[-3000:]
    # When the queue was full, 2 + 64 lookups were waiting (any that had
    # timed out meanwhile had left it).
    before = srv.log().split("reverse lookup queue full")[0]
    waiting = count(before, "-> lookup") - count(before, "lookup timed out")
    assert waiting == 66, (full, waiting)
    assert not (d / "release").exists()
    head = read_response(conns[full], timeout=10)
    assert head.status == 101, head
    assert env_of(conns[full]) == {"host": "192.0.2.1", "addr": "192.0.2.1"}
    # The others go on with their address once their lookups time out.
    head = read_response(conns[0], timeout=30)
    assert head.status == 101, head
    assert env_of(conns[0]) == {"host": "192.0.2.1", "addr": "192.0.2.1"}
    for c in conns:
        c.close()


def test_client_gone_during_lookup_spawns_nothing(wsbridge, tmp_path, shim):
    """Seen at once (not after the lookup), the lookup dropped, no
    program spawned for nobody."""
    d, env = shim
    ran = tmp_path / "ran"
    prog = write_script(tmp_path / "env.sh", '[ "$REMOTE_ADDR" = 192.0.2.1 ]'
                        ' && touch %s\n%s' % (ran, ENV_SH))
    srv = rdns_server(wsbridge, tmp_path, env, prog)
    gone = send_upgrade(srv.port, "/env", "192.0.2.1")
    wait_until(lambda: (d / "started").exists(), 15,
               what="the lookup of 192.0.2.1 to start")
    wait_log(srv, "-> lookup", timeout=15)
    gone.close()
    log = wait_log(srv, "client gone during the reverse lookup", timeout=15)
    assert "during authentication" not in log
    # A second client whose lookup also hangs: its timeout (3 s after it
    # started, so after the first one's would have been) is logged, the
    # first client's is not, and only the second's program runs.
    stays = send_upgrade(srv.port, "/env", "192.0.2.1")
    assert read_response(stays, timeout=30).status == 101
    assert env_of(stays) == {"host": "192.0.2.1", "addr": "192.0.2.1"}
    stays.close()
    log = srv.log()
    assert count(log, "reverse lookup timed out") == 1, log
    assert count(log, ": connected: route /env, pid") == 1, log


# --- --cgidir request bodies -----------------------------------------------

HEAD_FIRST = ('printf "Content-Type: text/plain\\n\\nhead out\\n"\n'
              'echo $$ > %s\n'
              'exec cat\n')


def cgi_server(wsbridge, tmp_path, body, *args, sub="cgi"):
    d = tmp_path / sub
    d.mkdir()
    write_script(d / "prog", body)
    return wsbridge("--cgidir", str(d), "--loglevel", "access", *args)


def chunked_post(port):
    conn = connect_tcp(port)
    conn.sendall(request_bytes("POST", "/prog", [
        ("Host", "127.0.0.1"), ("Transfer-Encoding", "chunked")]))
    conn.sendall(b"5\r\nhello\r\n")
    return conn


@pytest.mark.parametrize("bad,why", [
    (b"5\r\nhelloXX\r\n", "Invalid character in chunk size"),
    (b"800\r\n" + b"z" * 0x800 + b"\r\n", "request body too large"),
])
def test_cgi_body_failing_after_the_head_closes(wsbridge, tmp_path, bad,
                                                why):
    """The status line is out: the body's error can only close the
    connection; the program is ended, the log says why."""
    pidfile = tmp_path / "pid"
    srv = cgi_server(wsbridge, tmp_path, HEAD_FIRST % pidfile,
                     "--cgi-max-body", "1000")
    conn = chunked_post(srv.port)
    got = conn.recv_until(b"head out\n", timeout=10)
    assert got.startswith(b"HTTP/1.1 200 "), got
    # cat echoes what it was given: the good chunk reached the program.
    assert conn.recv_exact(5, timeout=10) == b"hello"
    pid = int(wait_until(lambda: pidfile.exists() and
                         pidfile.read_text().strip(), 10, what="pid"))
    conn.sendall(bad)
    rest = conn.recv_to_eof(timeout=10)
    assert b"HTTP/1.1" not in rest, rest        # no second status line
    # Not "400:" or "413:": the client got a 200 that was cut short.
    wait_log(srv, "/prog: request body: %s: response cut short" % why,
             timeout=10)
    wait_until(lambda: wsutil.proc_stat(pid) is None, 15,
               what="the CGI program ended")
    acc = access_line(srv, "/prog")
    assert " status=200 " in acc and acc.endswith('reason="%s"' % why), acc


def test_cgi_chunked_body_with_trailers(wsbridge, tmp_path):
    """Trailer fields end the body like a bare last chunk; they reach
    neither the program's environment nor its stdin."""
    srv = cgi_server(wsbridge, tmp_path,
                     'printf "Content-Type: text/plain\\n\\n"\n'
                     'echo "l=${CONTENT_LENGTH-unset} '
                     't=${HTTP_X_SUM-none}"\ncat\n')
    for trailer in (b"X-Sum: 42\r\n", b"X-Sum: 1\r\nHost: other\r\n"
                    b"Content-Length: 3\r\n"):
        conn = chunked_post(srv.port)
        conn.sendall(b"6\r\n world\r\n0\r\n" + trailer + b"\r\n")
        head = read_response(conn, timeout=10)
        assert head.status == 200, head
        assert head.body == b"l=unset t=none\nhello world", head
        conn.close()
    # A malformed trailer section is a malformed body: 400, one line.
    slow = cgi_server(wsbridge, tmp_path, 'sleep 5\n', sub="slow")
    for body in (b"0\r\nno colon here\r\n\r\n", b"5\r\nhelloXX\r\n"):
        conn = chunked_post(slow.port)
        conn.sendall(body)
        head = read_response(conn, timeout=10)
        assert head.status == 400, head
        conn.close()
    log = wait_log(slow, "400: Invalid character in chunk size")
    lines = [x for x in log.splitlines() if "/prog: 400: " in x]
    assert len(lines) == 2, log
    assert lines[0].endswith("/prog: 400: Invalid header token"), lines


# --- reasons in the access log and the disconnected line --------------------

def access_line(srv, path):
    log = wait_log(srv, 'path="%s"' % path, timeout=10)
    return [x for x in log.splitlines() if 'path="%s"' % path in x][-1]


def test_finished_http_response_is_not_client_gone(wsbridge, tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    (www / "a.txt").write_text("a\n")
    srv = cgi_server(wsbridge, tmp_path,
                     'printf "Content-Type: text/plain\\n\\nok"\n',
                     "--staticdir", str(www))
    for path in ("/prog", "/a.txt"):
        conn = connect_tcp(srv.port)
        conn.sendall(request_bytes("GET", path, [("Host", "x"),
                                                 ("Connection", "close")]))
        assert read_response(conn).status == 200
        conn.close()
        line = access_line(srv, path)
        assert line.endswith('reason="response sent"'), line


def test_failed_websocket_says_why_not_client_gone(wsbridge):
    srv = wsbridge("--echo", "--loglevel", "access")
    for reply in (False, True):
        conn = wsutil.open_ws(srv.port, "/p%d" % reply)
        conn.sendall(bytes([0x83, 0x80, 1, 2, 3, 4]))   # reserved opcode
        assert wsutil.expect_close(conn, reply=reply)[0] == 1002
        conn.close()
        line = access_line(srv, "/p%d" % reply)
        assert line.endswith('reason="protocol error"'), line
        wait_log(srv, "/p%d: disconnected: route /*, echo, close 1002, "
                 % reply)
    assert "(client gone)" not in srv.log(), srv.log()


def test_plain_http_on_a_tls_port_says_so(wsbridge, tmp_path):
    from produtil import Certs
    certs = Certs(tmp_path)
    cert, key = certs.issue("srv", "/CN=localhost", san="DNS:localhost")
    srv = wsbridge("--ssl", "--sslcert", str(cert), "--sslkey", str(key),
                   "--echo", "--loglevel", "access")
    conn = connect_tcp(srv.port)
    conn.sendall(b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_response(conn).status == 400
    conn.close()
    line = wait_log(srv, "status=400", timeout=10)
    line = [x for x in line.splitlines() if "status=400" in x][0]
    assert line.endswith('reason="plain HTTP on a TLS port"'), line


# --- --port: what --help, the start-up lines and the docs say ---------------

def test_port_wording_agrees_everywhere():
    """--port alone listens on 0.0.0.0 and [::] (as websocketd's `*`):
    --help said 'all IPv4 interfaces', the [::] start-up line 'all
    interfaces' (it is IPv6 only: IPV6_V6ONLY)."""
    out = run_bin(["--help"]).stdout.decode()
    line = [x for x in out.splitlines() if x.strip().startswith("--port")]
    assert len(line) == 1 and "IPv4 and IPv6" in line[0], line
    readme = open(os.path.join(REPO, "README.md")).read()
    row = [x for x in readme.splitlines() if x.startswith("| `--port PORT`")]
    assert len(row) == 1 and "IPv4 and IPv6" in row[0], row
    man = open(os.path.join(REPO, "man", "wsbridge.1")).read()
    assert "every IPv4 and IPv6 address" in man


@pytest.mark.skipif(subprocess.run(["unshare", "-n", "true"],
                                   capture_output=True).returncode != 0,
                    reason="needs a private network namespace (root)")
def test_port_alone_announces_both_families(tmp_path):
    """Run inside `unshare -n` so the wildcard listeners reach nobody."""
    logpath = tmp_path / "log"
    with open(logpath, "wb") as logf:
        proc = subprocess.Popen(["unshare", "-n", BIN, "--port", "18099",
                                 "--echo"], stdin=subprocess.DEVNULL,
                                stdout=logf, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        log = wait_until(lambda: proc.poll() is not None or
                         logpath.read_text().count("listening on") == 2
                         and logpath.read_text(), 10, what="two listeners")
        assert proc.poll() is None, log
        assert "listening on http://0.0.0.0:18099/ (all IPv4 interfaces)" \
            in log, log
        assert "listening on http://[::]:18099/ (all IPv6 interfaces)" \
            in log, log
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


# --- the man page's terminal example ---------------------------------------

def man_example(word):
    """The EXAMPLES command line of wsbridge(1) holding word, as argv."""
    text = open(os.path.join(REPO, "man", "wsbridge.1")).read()
    text = text.split(".SH EXAMPLES", 1)[1].split(".SH", 1)[0]
    blocks = re.findall(r"\.EX\n(.*?)\.EE", text, re.S)
    cmds = [b.replace("\\e\n", " ").replace("\\-", "-") for b in blocks]
    found = [c for b in cmds for c in b.splitlines() if word in c]
    assert len(found) == 1, cmds
    return found[0].split()


def test_man_page_terminal_example_is_a_terminal(wsbridge, tmp_path):
    """The example answered a browser with 426 (issue 17); now it is the
    ttyd-style page, and the page's WebSocket gets its shell."""
    from test_peer_flags import fake_assets, http_get
    argv = man_example("--pty")
    assert argv[0] == "wsbridge"
    port = free_port()
    args = [str(port) if a == "7681" else a for a in argv[1:]]
    assert str(port) in args and "127.0.0.1" in args, args
    i = args.index("--pty")
    args[i:i] = ["--assets", str(fake_assets(tmp_path))]
    srv = wsbridge(*args, port=port, listen_args=False)
    head = http_get(port, "/")
    assert head.status == 200, head
    assert b"xterm.mjs" in head.body and b"new WebSocket(" in head.body
    conn, head, _ = wsutil.raw_handshake(port, "/", [
        ("Sec-WebSocket-Protocol", "tty")])
    assert head.status == 101, head
    conn.close()
    srv.stop()


# --- the demo site: favicon and nav -----------------------------------------

DEMO_PAGES = ("index.html", "echo.html", "count.html", "vmstat.html",
              "terminal/index.html", "vnc/index.html")


def test_demo_pages_have_favicon_and_nav(wsbridge, tmp_path):
    """Every page of the demo has the favicon; the shared nav links the
    terminal and VNC pages; each nav link and icon answers 200 from the
    shipped config (make run)."""
    # The config's paths are relative to the top of the tree.
    (tmp_path / "examples").symlink_to(os.path.join(REPO, "examples"))
    port = free_port()
    srv = wsbridge("-c", os.path.join(REPO, "conf", "wsbridge.ini"),
                   "--port", str(port), port=port, listen_args=False)
    from test_peer_flags import http_get
    for page in DEMO_PAGES:
        url = "/" + page.replace("index.html", "")
        head = http_get(port, url)
        assert head.status == 200, (url, head)
        html = head.body.decode()
        icon = re.search(r'<link rel="icon" href="([^"]+)"', html)
        assert icon, page
        base = url if url.endswith("/") else url.rsplit("/", 1)[0] + "/"
        target = os.path.normpath(base + icon.group(1))
        assert http_get(port, target).status == 200, (page, target)
        if "/" in page:
            continue                    # terminal and VNC: a back link
        nav = re.search(r"<nav>(.*?)</nav>", html, re.S).group(1)
        links = dict((t, h) for h, t in
                     re.findall(r'<a href="([^"]+)">([^<]+)</a>', nav))
        assert links.get("Terminal") == "terminal/", (page, links)
        assert links.get("VNC") == "vnc/", (page, links)
        for href in links.values():
            assert http_get(port, "/" + href).status == 200, (page, href)
    srv.stop()


# --- /metrics against the text exposition format (no promtool needed) -------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
SAMPLE_RE = re.compile(r"^(%s)(?:\{((?:%s)(?:,%s)*)?,?\})? (\S+)(?: -?\d+)?$"
                       % (NAME, LABEL, LABEL))
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)]
        if name.endswith(suffix) and types.get(base) == "histogram":
            return base
    return name


def check_exposition(text):
    """The rules of Prometheus' text format 0.0.4 (and promtool's lint):
    one TYPE and HELP per family, before its samples, its samples
    together; valid names, labels and values; no series twice; counters
    end in _total; histograms cumulative, +Inf equal to _count, with _sum.
    Returns {family: [(name, labels, value)]}."""
    assert text.endswith("\n"), text[-100:]
    types, helps, fams, seen, order = {}, set(), {}, set(), []
    for line in text.splitlines():
        assert line, "empty line in %r" % text
        if line.startswith("#"):
            kind, name = line.split(" ", 3)[1:3]
            assert re.fullmatch(NAME, name), line
            assert name not in fams, "%s after its samples" % line
            if kind == "TYPE":
                assert name not in types, line
                types[name] = line.split(" ", 3)[3]
                assert types[name] in TYPES, line
            elif kind == "HELP":
                assert name not in helps, line
                helps.add(name)
            continue
        m = SAMPLE_RE.match(line)
        assert m, "not a sample line: %r" % line
        name, value = m.group(1), m.group(m.lastindex)
        labels = tuple(re.findall(LABEL, m.group(2) or ""))
        assert len({k for k, _ in labels}) == len(labels), line
        assert not any(k.startswith("__") for k, _ in labels), line
        assert " " not in "".join(v for _, v in labels), line
        assert (name, labels) not in seen, "twice: " + line
        seen.add((name, labels))
        assert re.fullmatch(r"[-+]?(\d+\.?\d*([eE][-+]?\d+)?|Inf|NaN)",
                            value), line
        fam = family_of(name, types)
        assert fam in types and fam in helps, "no TYPE/HELP: " + line
        if not order or order[-1] != fam:
            assert fam not in order, "%s not together" % fam
            order.append(fam)
        fams.setdefault(fam, []).append((name, dict(labels), float(value)))
    for fam, kind in types.items():
        if kind == "counter":
            assert fam.endswith("_total"), fam
        if kind != "histogram":
            continue
        series = {}
        for name, labels, value in fams.get(fam, []):
            key = tuple(sorted((k, v) for k, v in labels.items()
                               if k != "le"))
            series.setdefault(key, {})[name[len(fam):] + (
                labels.get("le", "") if name.endswith("_bucket") else "")] \
                = value
        for key, s in series.items():
            les = sorted((float(k[len("_bucket"):]), v) for k, v in s.items()
                         if k.startswith("_bucket"))
            assert les and les[-1][0] == float("inf"), (fam, key)
            assert all(a[1] <= b[1] for a, b in zip(les, les[1:])), les
            assert les[-1][1] == s["_count"] and "_sum" in s, (fam, key)
    return fams


def test_metrics_follow_the_exposition_format(wsbridge, tmp_path):
    srv, _ = start_config(
        wsbridge, tmp_path, "[route /echo]\necho = yes\n"
        "[route /sig]\nexec = sh -c 'kill -13 $$'\n"
        "[route /fail]\nexec = sh -c 'exit 3'\n"
        "[route /vnc]\nconnect = 127.0.0.1:%d\n" % free_port(),
        server_extra="metrics_path = /metrics\n")
    from test_peer_flags import http_get
    head = http_get(srv.port, "/metrics")
    assert head.header("content-type").startswith("text/plain; version=0.0.4")
    fams = check_exposition(head.body.decode())
    # From start-up, before any traffic: every route's series at zero.
    for fam in ("wsbridge_connections_total",
                "wsbridge_backend_failures_total",
                "wsbridge_connection_duration_seconds"):
        routes = {l["route"] for _, l, v in fams[fam] if v == 0}
        assert routes >= {"/echo", "/sig", "/fail", "/vnc"}, (fam, fams[fam])
    for path, code in (("/sig", 1011), ("/fail", 1011)):
        conn = wsutil.open_ws(srv.port, path)
        assert wsutil.expect_close(conn, reply=True)[0] == code
    for path in ("/vnc", "/nowhere"):
        conn, _, _ = wsutil.raw_handshake(srv.port, path)
        conn.close()

    def settled():
        fams = check_exposition(http_get(srv.port, "/metrics").body.decode())
        exits = {tuple(sorted(l.items())) for _, l, _ in
                 fams.get("wsbridge_process_exits_total", [])}
        return fams if len(exits) == 2 else None
    fams = wait_until(settled, 10, what="two exits counted")
    exits = {tuple(sorted(l.items())): v for _, l, v in
             fams["wsbridge_process_exits_total"]}
    assert exits == {(("route", "/sig"), ("signal", "13")): 1,
                     (("code", "3"), ("route", "/fail")): 1}, exits
    refused = {(l["route"], l["status"]): v for _, l, v in
               fams["wsbridge_handshake_failures_total"]}
    assert refused == {("/vnc", "502"): 1, ("", "404"): 1}, refused
    for fam in ("process_start_time_seconds", "process_open_fds",
                "process_max_fds", "process_resident_memory_bytes",
                "process_virtual_memory_bytes", "process_cpu_seconds_total"):
        assert len(fams[fam]) == 1, fam


def test_exposition_checker_rejects_what_promtool_rejects():
    """The checker above can fail: each broken text is refused."""
    good = ("# HELP a_total A.\n# TYPE a_total counter\n"
            'a_total{route="/x"} 1\n')
    check_exposition(good)
    for bad in (good.replace("# TYPE a_total counter\n", ""),
                good + 'a_total{route="/x"} 2\n',
                good.replace('"/x"', '"a b"'),
                good.replace("a_total", "a"),
                good.replace(" 1\n", " one\n"),
                good + "# HELP h H.\n# TYPE h histogram\n"
                'h_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\n'
                "h_sum 1\nh_count 1\n"):
        with pytest.raises(AssertionError):
            check_exposition(bad)


# --- the README's transcript is what the binary prints ----------------------

def readme_block(after):
    text = open(os.path.join(REPO, "README.md")).read()
    i = text.index(after)
    a = text.index("```\n", i) + 4
    return text[a:text.index("```\n", a)].splitlines()


def normalize(line):
    line = re.sub(r"wsbridge\[\d+\]", "wsbridge[PID]", line)
    line = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", line)
    line = re.sub(r"pid \d+", "pid N", line)
    line = re.sub(r"\d+\.\d{3}s \(", "D (", line)
    line = re.sub(r"time=\S+", "time=T", line)
    line = re.sub(r"duration=\S+", "duration=D", line)
    line = re.sub(r'"time":"[^"]+"', '"time":"T"', line)
    return re.sub(r'"duration":[\d.]+', '"duration":D', line)


def run_demo(tmp_path, level, extra=""):
    """make run's configuration on a free port, the README's client
    (hello to /echo, /count to its end, /vnc with nothing listening),
    then SIGINT; the log."""
    (tmp_path / "examples").symlink_to(os.path.join(REPO, "examples"))
    conf = open(os.path.join(REPO, "conf", "wsbridge.ini")).read()
    assert "connect = 127.0.0.1:5900\n" in conf
    conf = conf.replace("connect = 127.0.0.1:5900\n",
                        "connect = 127.0.0.1:%d\n" % free_port())
    conf = conf.replace("[server]\n", "[server]\n" + extra, 1)
    (tmp_path / "wsbridge.ini").write_text(conf)
    port = free_port()
    logpath = tmp_path / ("demo-%s.log" % level)
    with open(logpath, "wb") as logf:
        proc = subprocess.Popen([BIN, "-c", "wsbridge.ini", "--port",
                                 str(port), "--loglevel", level],
                                cwd=str(tmp_path), stdin=subprocess.DEVNULL,
                                stdout=logf, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        # Not probed by connecting: conn 1 is the client's, as in make run.
        wait_until(lambda: "listening on" in logpath.read_text(), 10,
                   what="listening")
        conn = wsutil.open_ws(port, "/echo")
        wsutil.send_frame(conn, OP_TEXT, b"hello")
        assert wsutil.recv_message(conn) == (OP_TEXT, b"hello")
        wsutil.send_frame(conn, wsutil.OP_CLOSE, wsutil.close_payload(1000))
        wsutil.expect_close(conn)
        conn = wsutil.open_ws(port, "/count")
        assert wsutil.expect_close(conn, reply=True, timeout=30,
                                   allow_data=True)[0] == 1000
        conn, head, _ = wsutil.raw_handshake(port, "/vnc")
        assert head.status == 502
        conn.close()
        wait_until(lambda: "/vnc" in logpath.read_text(), 10, what="/vnc")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    return logpath.read_text()


def test_readme_transcript_is_real(tmp_path):
    want = readme_block("then Ctrl-C (run as root")
    if os.geteuid() != 0:
        want = [x for x in want if "running as root" not in x]
    log = run_demo(tmp_path, "info")
    got = [normalize(x) for x in log.splitlines()]
    assert got == [normalize(x) for x in want], "\n".join(got)


def test_readme_access_lines_are_real(tmp_path):
    log = run_demo(tmp_path, "access")
    got = [normalize(x) for x in log.splitlines() if " access " in x]
    for line in readme_block("The `/count` and `/vnc` lines above"):
        assert normalize(line) in got, (line, got)
    (tmp_path / "json").mkdir()
    log = run_demo(tmp_path / "json", "access", "access_log_format = json\n")
    got = [normalize(x) for x in log.splitlines() if '{"time"' in x]
    [line] = readme_block("with `access_log_format = json`")
    assert normalize(line) in got, (line, got)


# --- a timed-out backend connect names the address --------------------------

def test_timed_out_backend_line_names_its_address(wsbridge, tmp_path):
    """As websockify's 'Failed to connect to HOST:PORT' (the refused case
    is test_operator.py's)."""
    from test_socket_backend import fill_accept_queue
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(0)
    port = hole.getsockname()[1]
    socks = fill_accept_queue(port)
    try:
        srv, _ = start_config(wsbridge, tmp_path,
                              "[route /slow]\nconnect = 127.0.0.1:%d\n"
                              "connect_timeout = 300ms\n" % port)
        conn, head, _ = wsutil.raw_handshake(srv.port, "/slow", timeout=10)
        conn.close()
        assert head.status == 502, head
        log = wait_log(srv, "/slow: backend 127.0.0.1:%d: connect: timed out"
                       % port)
        assert count(log, "/slow: backend") == 1, log
    finally:
        for s in socks:
            s.close()
        hole.close()
