"""Issue 17, the last two websocketd flags.

--reverselookup (reverse_lookup = yes): REMOTE_HOST is the client's host
name, looked up on a thread (never on the event loop), bounded in time;
without a name, or on timeout, it is the address as websocketd has it.

--cgidir request bodies: POST (and other methods) with a Content-Length
or chunked body, streamed to the program's stdin with backpressure;
CONTENT_LENGTH and CONTENT_TYPE; 413 over cgi_max_body; 400 for a
malformed body.
"""

import os
import select
import socket
import subprocess
import time

import pytest

from cfgutil import server_section, start_config, wait_log, write_config
from conftest import free_port
from wsutil import (RawConn, connect_tcp, open_ws, raw_handshake,
                    read_response, recv_message, request_bytes, rss_kib,
                    send_frame, wait_until, write_script, OP_TEXT)

# getnameinfo for two documentation addresses made deterministic: 192.0.2.1
# blocks until the test releases it (a resolver that hangs), 192.0.2.2 has
# no name at once; every other address goes to the real resolver.
SHIM_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
getnameinfo(const struct sockaddr *sa, socklen_t len, char *host,
    socklen_t hostlen, char *serv, socklen_t servlen, int flags)
{
	static int (*real)(const struct sockaddr *, socklen_t, char *,
	    socklen_t, char *, socklen_t, int);
	const char *dir = getenv("RDNS_SHIM_DIR");
	char path[4096];
	int i;

	if (sa->sa_family == AF_INET && dir != NULL) {
		unsigned char *a = (unsigned char *)
		    &((const struct sockaddr_in *)sa)->sin_addr;
		if (a[0] == 192 && a[1] == 0 && a[2] == 2 && a[3] == 2)
			return EAI_NONAME;
		if (a[0] == 192 && a[1] == 0 && a[2] == 2 && a[3] == 1) {
			snprintf(path, sizeof(path), "%s/started", dir);
			fclose(fopen(path, "w"));
			snprintf(path, sizeof(path), "%s/release", dir);
			for (i = 0; i < 3000 && access(path, F_OK) != 0; i++)
				usleep(10000);
			return EAI_AGAIN;
		}
	}
	if (real == NULL)
		real = dlsym(RTLD_NEXT, "getnameinfo");
	return real(sa, len, host, hostlen, serv, servlen, flags);
}
"""


@pytest.fixture
def shim(tmp_path):
    d = tmp_path / "shim"
    d.mkdir()
    (d / "shim.c").write_text(SHIM_C)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(d / "shim.so"),
                    str(d / "shim.c"), "-ldl"], check=True, timeout=60)
    env = {"LD_PRELOAD": str(d / "shim.so"), "RDNS_SHIM_DIR": str(d),
           # ASan wants to be first; the shim only wraps one libc call.
           "ASAN_OPTIONS": (os.environ.get("ASAN_OPTIONS", "") +
                            ":verify_asan_link_order=0").lstrip(":")}
    yield d, env
    (d / "release").touch()     # never leave a thread parked


def env_of(conn):
    """The env script's one text message as a dict."""
    op, data = recv_message(conn)
    assert op == OP_TEXT
    return dict(kv.split("=", 1) for kv in data.decode().split())


ENV_SH = 'echo "host=$REMOTE_HOST addr=$REMOTE_ADDR"\n'


def rdns_server(wsbridge, tmp_path, env):
    prog = write_script(tmp_path / "env.sh", ENV_SH)
    port = free_port()
    path = write_config(tmp_path, server_section(
        port, "reverse_lookup = yes\ntrusted_proxies = 127.0.0.1/32\n"
        "log_level = debug\n") + "[route /env]\nexec = %s\n\n"
        "[route /echo]\necho = yes\n" % prog)
    return wsbridge("-c", str(path), port=port, listen_args=False, env=env)


def test_reverselookup_loopback_is_localhost(wsbridge, script):
    # This machine's /etc/hosts names 127.0.0.1 "localhost".
    out = subprocess.run(["getent", "hosts", "127.0.0.1"],
                         capture_output=True, text=True, timeout=10).stdout
    if "localhost" not in out.split():
        pytest.skip("127.0.0.1 has no name here: %r" % out)
    prog = script("rh.sh", ENV_SH)
    srv = wsbridge("--reverselookup", prog)
    env = env_of(open_ws(srv.port))
    assert env == {"host": "localhost", "addr": "127.0.0.1"}, env


def test_remote_host_is_the_address_by_default(wsbridge, script):
    prog = script("rh.sh", ENV_SH)
    srv = wsbridge(prog)
    env = env_of(open_ws(srv.port))
    assert env == {"host": "127.0.0.1", "addr": "127.0.0.1"}, env


def test_reverselookup_ini_key_and_cgi(wsbridge, tmp_path):
    d = tmp_path / "cgi"
    d.mkdir()
    write_script(d / "rh", 'printf "Content-Type: text/plain\\n\\n"\n'
                 'echo "host=$REMOTE_HOST"\n')
    srv, _ = start_config(wsbridge, tmp_path, "",
                          server_extra="reverse_lookup = yes\n"
                          "cgi_dir = %s\n" % d)
    conn = connect_tcp(srv.port)
    conn.sendall(request_bytes("GET", "/rh", [("Host", "127.0.0.1"),
                                              ("Connection", "close")]))
    head = read_response(conn)
    assert head.status == 200, head
    assert head.body == b"host=localhost\n"


def test_no_name_falls_back_to_the_address(wsbridge, tmp_path, shim):
    _, env = shim
    srv = rdns_server(wsbridge, tmp_path, env)
    conn, head, _ = raw_handshake(srv.port, "/env",
                                  [("X-Forwarded-For", "192.0.2.2")])
    assert head.status == 101, head
    assert env_of(conn) == {"host": "192.0.2.2", "addr": "192.0.2.2"}


def test_hanging_lookup_times_out_and_stalls_nobody(wsbridge, tmp_path,
                                                     shim):
    d, env = shim
    srv = rdns_server(wsbridge, tmp_path, env)
    # A: its lookup hangs in the resolver (until released or timed out).
    a = connect_tcp(srv.port)
    a.sendall(request_bytes("GET", "/env", [
        ("Host", "127.0.0.1"), ("Upgrade", "websocket"),
        ("Connection", "Upgrade"), ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("X-Forwarded-For", "192.0.2.1")]))
    wait_until(lambda: (d / "started").exists(), 15,
               what="the lookup of 192.0.2.1 to start")
    t0 = time.monotonic()
    # Meanwhile the loop serves others: an echo, and another lookup.
    b = open_ws(srv.port, "/echo")
    send_frame(b, OP_TEXT, b"still here")
    assert recv_message(b) == (OP_TEXT, b"still here")
    c = open_ws(srv.port, "/env")
    assert env_of(c)["addr"] == "127.0.0.1"
    assert not (d / "release").exists()     # A's lookup still hangs
    # A goes on with its address once RDNS_TIMEOUT_MS (3 s) has passed.
    head = read_response(a, timeout=30)
    assert head.status == 101, head
    assert time.monotonic() - t0 < 30
    assert env_of(a) == {"host": "192.0.2.1", "addr": "192.0.2.1"}
    wait_log(srv, "reverse lookup timed out")


# --- --cgidir request bodies ----------------------------------------------

CAT_CGI = ('printf "Content-Type: text/plain\\n\\n"\n'
           'echo "m=$REQUEST_METHOD l=${CONTENT_LENGTH-unset} '
           't=${CONTENT_TYPE-unset}"\n'
           'cat\n')


def cgi_dir(tmp_path, name, body):
    d = tmp_path / "cgi"
    d.mkdir(exist_ok=True)
    write_script(d / name, body)
    return d


def cgi_request(port, method, path, headers=(), body=b"", chunks=None):
    """One request; chunks (a list) are sent as a chunked body, in
    separate writes."""
    conn = connect_tcp(port)
    hdrs = [("Host", "127.0.0.1:%d" % port), ("Connection", "close")]
    hdrs += list(headers)
    if chunks is not None:
        hdrs.append(("Transfer-Encoding", "chunked"))
    elif body:
        hdrs.append(("Content-Length", str(len(body))))
    conn.sendall(request_bytes(method, path, hdrs))
    if chunks is not None:
        for c in chunks:
            conn.sendall(b"%x\r\n%s\r\n" % (len(c), c))
        conn.sendall(b"0\r\n\r\n")
    elif body:
        conn.sendall(body)
    return read_response(conn)


def test_cgi_post_content_length(wsbridge, tmp_path):
    d = cgi_dir(tmp_path, "cat", CAT_CGI)
    srv = wsbridge("--cgidir", str(d))
    head = cgi_request(srv.port, "POST", "/cat", [
        ("Content-Type", "application/x-www-form-urlencoded")],
        body=b"a=1&b=2")
    assert head.status == 200, head
    assert head.body == (b"m=POST l=7 t=application/x-www-form-urlencoded\n"
                         b"a=1&b=2")


def test_cgi_chunked_body_is_decoded(wsbridge, tmp_path):
    d = cgi_dir(tmp_path, "cat", CAT_CGI)
    srv = wsbridge("--cgidir", str(d))
    chunks = [b"first ", b"x" * 70000, b" last"]
    head = cgi_request(srv.port, "PUT", "/cat", chunks=chunks)
    assert head.status == 200, head
    # No length is known: CONTENT_LENGTH is unset, the program reads to EOF.
    assert head.body == b"m=PUT l=unset t=unset\n" + b"".join(chunks)


def test_cgi_other_methods_without_body(wsbridge, tmp_path):
    d = cgi_dir(tmp_path, "cat", CAT_CGI)
    srv = wsbridge("--cgidir", str(d))
    head = cgi_request(srv.port, "DELETE", "/cat")
    assert head.status == 200, head
    assert head.body == b"m=DELETE l=unset t=unset\n"
    # Not a program: still 405, and a body there is refused.
    assert cgi_request(srv.port, "POST", "/none").status == 405
    assert cgi_request(srv.port, "POST", "/none", body=b"x").status == 400


def test_cgi_body_over_the_limit_is_413(wsbridge, tmp_path):
    ran = tmp_path / "ran"
    d = cgi_dir(tmp_path, "slurp", 'touch %s\ncat >/dev/null\n'
                'printf "Content-Type: text/plain\\n\\nok"\n' % ran)
    srv = wsbridge("--cgidir", str(d), "--cgi-max-body", "1000")
    # A Content-Length over the limit: 413 before anything runs.
    head = cgi_request(srv.port, "POST", "/slurp", body=b"y" * 1001)
    assert head.status == 413, head
    assert not ran.exists()
    assert cgi_request(srv.port, "POST", "/slurp",
                       body=b"y" * 1000).status == 200
    ran.unlink()
    # Chunked: found out while streaming; the program has sent nothing.
    head = cgi_request(srv.port, "POST", "/slurp",
                       chunks=[b"z" * 600, b"z" * 600])
    assert head.status == 413, head


def test_cgi_malformed_chunked_body_is_400(wsbridge, tmp_path):
    d = cgi_dir(tmp_path, "slurp", 'cat >/dev/null\n'
                'printf "Content-Type: text/plain\\n\\nok"\n')
    srv = wsbridge("--cgidir", str(d))
    conn = connect_tcp(srv.port)
    conn.sendall(request_bytes("POST", "/slurp", [
        ("Host", "127.0.0.1"), ("Transfer-Encoding", "chunked")])
        + b"5\r\nhelloXX\r\n0\r\n\r\n")
    head = read_response(conn)
    assert head.status == 400, head


def test_cgi_slow_reader_holds_the_client_not_memory(wsbridge, tmp_path):
    """Its stdin full, wsbridge stops reading the client: what the client
    manages to send stays far below the body, and wsbridge's memory flat."""
    release = tmp_path / "release"
    d = cgi_dir(tmp_path, "slow", 'i=0\nwhile [ ! -e %s ] && [ $i -lt 3000 ]; '
                'do sleep 0.01; i=$((i+1)); done\n'
                'n=$(wc -c)\nprintf "Content-Type: text/plain\\n\\n%%s" "$n"\n'
                % release)
    srv = wsbridge("--cgidir", str(d), "--cgi-max-body", "1G")
    total = 64 << 20
    rss0 = rss_kib(srv.pid)
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    sock.sendall(request_bytes("POST", "/slow", [
        ("Host", "127.0.0.1"), ("Content-Length", str(total))]))
    sock.setblocking(False)
    block = b"b" * 65536
    sent = 0
    for _ in range(20000):              # bounded: stops once it blocks
        try:
            sent += sock.send(block[:min(len(block), total - sent)])
        except BlockingIOError:
            _, w, _ = select.select([], [sock], [], 1.0)
            if not w:
                break
    # Pipe (64K) + wsbridge's 32K + both sockets' buffers: a few MiB.
    grew = rss_kib(srv.pid) - rss0
    print("slow CGI reader: client sent %d bytes before blocking, "
          "wsbridge RSS +%d KiB" % (sent, grew))
    assert sent < 24 << 20, sent
    assert grew < 16 * 1024, grew
    release.touch()
    sock.setblocking(True)
    while sent < total:
        sent += sock.send(block[:min(len(block), total - sent)])
    conn = RawConn(sock)
    head = read_response(conn, timeout=60)
    assert head.status == 200, head
    assert head.body == str(total).encode()
