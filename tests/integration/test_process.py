"""The process backend's contract (SPEC 3 "Process" and 8): CGI-style
environment, line semantics, UTF-8 repair, exit status as close code,
stderr draining, descriptors."""

import os
import re

import pytest

import shared
from wsutil import (ws_session, open_ws, send_frame, recv_message,
                    expect_close, wait_until, alive, OP_TEXT, OP_BINARY)

ENV_SCRIPT = "exec /usr/bin/env\n"


def env_of(session):
    env = {}
    for line in session.messages:
        assert isinstance(line, str)
        k, sep, v = line.partition("=")
        if sep:
            env[k] = v
    return env


# The environment tests only open connections of their own: one server
# for the module (shared.py).
@pytest.fixture(scope="module")
def env_m(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("env")
    script = shared.script_maker(tmp_path)
    with shared.servers(tmp_path) as start:
        yield start(script("env.sh", ENV_SCRIPT),
                    env={"WSB_TEST_SECRET": "hidden",
                         "WSB_TEST_PASSED": "shown"})


@pytest.fixture
def envsrv(env_m, request):
    with shared.window(env_m, request) as srv:
        yield srv


def run_env(srv, path="/foo/bar?x=1&y=two", headers=()):
    s = ws_session(srv.url(path), extra_headers=list(headers))
    assert s.code == 1000, "env exits 0: expected Close 1000, got %s %r" \
        % (s.code, s.reason)
    return s, env_of(s)


def test_env_cgi_variables(envsrv):
    s, env = run_env(envsrv, headers=[("X-Custom-Thing", "hello world")])
    assert env.get("SERVER_SOFTWARE"), env
    assert env.get("GATEWAY_INTERFACE"), env
    assert env.get("SERVER_PROTOCOL") == "HTTP/1.1"
    assert env.get("SERVER_NAME") == "127.0.0.1"
    assert env.get("SERVER_PORT") == str(envsrv.port)
    assert env.get("REQUEST_METHOD") == "GET"
    assert env.get("REQUEST_URI") == "/foo/bar?x=1&y=two"
    assert env.get("QUERY_STRING") == "x=1&y=two"
    # A command line serves every path: websocketd 0.4.1 says "/" and
    # puts the whole path in PATH_INFO; scripts dispatch on it.
    assert env.get("SCRIPT_NAME") == "/", env
    assert env.get("PATH_INFO") == "/foo/bar", env
    assert env.get("REMOTE_ADDR") == "127.0.0.1"
    assert env.get("REMOTE_PORT") == str(s.local_port)
    assert env.get("REMOTE_HOST"), env
    assert re.fullmatch(r"[0-9a-fA-F]{32}", env.get("UNIQUE_ID", "")), env
    assert env.get("HTTP_HOST") == "127.0.0.1:%d" % envsrv.port
    assert env.get("HTTP_X_CUSTOM_THING") == "hello world"
    assert env.get("HTTP_UPGRADE", "").lower() == "websocket"
    assert "HTTPS" not in env


def test_env_gateway_interface_is_websocketds(envsrv):
    # Scripts written for websocketd 0.4.1 see the value they know.
    _, env = run_env(envsrv)
    assert env.get("GATEWAY_INTERFACE") == "websocketd-CGI/0.1"


def test_env_no_query(envsrv):
    _, env = run_env(envsrv, path="/plain")
    assert env.get("REQUEST_URI") == "/plain"
    assert env.get("QUERY_STRING") == ""
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/", "/plain")


def test_env_repeated_header_joined(envsrv):
    # As websocketd (and RFC 9110 5.3): one variable, values in order.
    _, env = run_env(envsrv, headers=[("X-Dup", "a"), ("X-Other", "o"),
                                      ("x-dup", "b")])
    assert env.get("HTTP_X_DUP") == "a, b", env
    assert env.get("HTTP_X_OTHER") == "o"


def test_env_unique_id_differs(envsrv):
    _, a = run_env(envsrv)
    _, b = run_env(envsrv)
    assert a["UNIQUE_ID"] != b["UNIQUE_ID"]
    assert a["REMOTE_PORT"] != b["REMOTE_PORT"]


def test_env_never_http_proxy(envsrv):
    # httpoxy: a client's "Proxy:" header must not become HTTP_PROXY.
    _, env = run_env(envsrv, headers=[("Proxy", "http://evil.test:3128")])
    assert "HTTP_PROXY" not in env, env


def test_env_default_passenv(envsrv):
    _, env = run_env(envsrv)
    assert env.get("PATH") == os.environ["PATH"]
    assert "WSB_TEST_SECRET" not in env
    assert "WSB_TEST_PASSED" not in env


def test_env_passenv_list(wsbridge, script):
    srv = wsbridge("--passenv", "PATH,WSB_TEST_PASSED",
                   script("env.sh", ENV_SCRIPT),
                   env={"WSB_TEST_SECRET": "hidden",
                        "WSB_TEST_PASSED": "shown"})
    _, env = run_env(srv)
    assert env.get("WSB_TEST_PASSED") == "shown"
    assert "WSB_TEST_SECRET" not in env
    assert env.get("PATH") == os.environ["PATH"]


def test_env_passenv_without_path(wsbridge, script):
    srv = wsbridge("--passenv", "WSB_TEST_PASSED",
                   script("env.sh", ENV_SCRIPT),
                   env={"WSB_TEST_PASSED": "shown"})
    _, env = run_env(srv)
    assert env.get("WSB_TEST_PASSED") == "shown"
    assert "PATH" not in env
    assert env.get("REQUEST_METHOD") == "GET"


# ---- exit status and Close codes ----------------------------------------

@pytest.mark.parametrize("body,code,reason,msgs", [
    ("echo done\nexit 0\n", 1000, None, ["done"]),
    ("echo before\nexit 3\n", 1011, "exit 3", ["before"]),
    ("echo before\nexit 255\n", 1011, "exit 255", ["before"]),
    ("echo before\nkill -9 $$\n", 1011, "signal 9", ["before"]),
    ("echo before\nkill -TERM $$\n", 1011, "signal 15", ["before"]),
])
def test_exit_status_close_code(wsbridge, script, body, code, reason, msgs):
    srv = wsbridge(script("exit.sh", body))
    s = ws_session(srv.url("/"))
    assert s.messages == msgs
    assert s.code == code
    if reason is not None:
        assert s.reason == reason


def test_stdout_closed_early_then_exit(wsbridge, script):
    # EOF and exit arrive in either order; the close code still follows
    # the exit status. The grace sequence starts at the EOF: a long
    # close_grace lets the exit come first however loaded the machine is
    # (with the default 500 ms, `sleep 0.3` lost to the TERM in CI).
    srv = wsbridge("--close-grace", "30s",
                   script("eof.sh", "echo out\nexec >&-\nsleep 0.3\nexit 7\n"))
    s = ws_session(srv.url("/"))
    assert s.messages == ["out"]
    assert (s.code, s.reason) == (1011, "exit 7")


def test_all_output_flushed_before_close(wsbridge, script):
    srv = wsbridge(script("seq.sh", "seq 1 20000\n"))
    s = ws_session(srv.url("/"), timeout=30)
    assert s.messages == [str(i) for i in range(1, 20001)]
    assert s.code == 1000


def test_binary_output_flushed_before_close(wsbridge, script, tmp_path):
    expected = os.urandom(3000000)
    (tmp_path / "out.bin").write_bytes(expected)
    srv = wsbridge("--binary", script("bin.sh",
                                      "exec cat '%s'\n" % (tmp_path / "out.bin")))
    s = ws_session(srv.url("/"), timeout=30)
    assert s.code == 1000
    assert all(len(m) <= 65536 for m in s.messages)
    assert b"".join(s.messages) == expected


# ---- text line semantics --------------------------------------------------

@pytest.mark.parametrize("body,msgs", [
    (r"printf 'a\nb'", ["a", "b"]),                 # last line without \n
    (r"printf 'a\r\nb\r\n'", ["a", "b"]),           # CRLF: \r dropped
    (r"printf '\n\nx\n'", ["", "", "x"]),           # empty lines are messages
    (r"printf 'x\377y\n'", ["x\ufffdy"]),           # invalid UTF-8 repaired
    (r"printf 'a\300\257b\n'", None),               # overlong: replaced
    (r"printf '\316\272\341\275\271\n'", ["\u03ba\u1f79"]),
])
def test_text_output_lines(wsbridge, script, body, msgs):
    srv = wsbridge(script("out.sh", body + "\n"))
    s = ws_session(srv.url("/"))
    assert s.code == 1000
    if msgs is None:
        assert len(s.messages) == 1
        assert s.messages[0].startswith("a") and s.messages[0].endswith("b")
        assert "\ufffd" in s.messages[0]
    else:
        assert s.messages == msgs


def test_utf8_char_split_across_writes(wsbridge, script):
    # A character cut between two writes of the child is not "invalid".
    srv = wsbridge(script("split.sh",
                          "printf '\\316'\nsleep 0.2\nprintf '\\272 ok\\n'\n"))
    s = ws_session(srv.url("/"))
    assert s.messages == ["\u03ba ok"]


def test_line_longer_than_max_message_size_sent_in_pieces(wsbridge, script):
    srv = wsbridge("--max-message-size", "64K", script(
        "long.sh", "head -c 200000 /dev/zero | tr '\\0' a\necho\necho end\n"))
    s = ws_session(srv.url("/"), timeout=20)
    assert s.code == 1000
    assert s.messages[-1] == "end"
    pieces = s.messages[:-1]
    assert len(pieces) >= 4
    assert all(len(p.encode()) <= 64 * 1024 for p in pieces)
    assert "".join(pieces) == "a" * 200000


def test_stdin_gets_message_plus_newline(wsbridge, script):
    srv = wsbridge(script("rd.sh", "read a\nread b\necho \"[$a][$b]\"\n"))
    s = ws_session(srv.url("/"), ["first", "second"])
    assert s.messages == ["[first][second]"]
    assert s.code == 1000


def test_binary_message_on_text_route_1003(wsbridge):
    srv = wsbridge("cat")
    c = open_ws(srv.port, "/")
    send_frame(c, OP_TEXT, "ok")
    assert recv_message(c) == (OP_TEXT, b"ok")
    send_frame(c, OP_BINARY, b"\x00\x01")
    code, _ = expect_close(c, reply=True, allow_data=False)
    assert code == 1003


def test_binary_mode_writes_verbatim(wsbridge, script):
    # No newline added, nothing translated: od sees exactly 5 bytes.
    srv = wsbridge("--binary", script("hex.sh", "head -c 5 | od -An -tx1\n"))
    s = ws_session(srv.url("/"), [b"\x00\n\xff", b"\r\n"])
    assert s.code == 1000
    assert b"".join(s.messages).split() == [b"00", b"0a", b"ff", b"0d", b"0a"]


# ---- stderr ---------------------------------------------------------------

@pytest.mark.parametrize("nbytes", [100 * 1024, 2 * 1024 * 1024])
def test_long_stderr_line_does_not_wedge(wsbridge, script, nbytes):
    srv = wsbridge(script("err.sh",
                          "head -c %d /dev/zero | tr '\\0' e >&2\n"
                          "echo >&2\necho done\n" % nbytes))
    s = ws_session(srv.url("/"), timeout=20)
    assert s.messages == ["done"]
    assert s.code == 1000


def test_stderr_without_newline_then_stdout(wsbridge, script):
    srv = wsbridge(script("err2.sh",
                          "i=0\nwhile [ $i -lt 2000 ]; do\n"
                          "  printf 'stderr noise without newline ' >&2\n"
                          "  i=$((i+1))\ndone\necho done\n"))
    s = ws_session(srv.url("/"), timeout=20)
    assert s.messages == ["done"]


def test_stderr_logged(wsbridge, script):
    srv = wsbridge("--loglevel", "info", script("err3.sh",
                          "echo 'marker-on-stderr-42' >&2\necho out\n"))
    s = ws_session(srv.url("/"))
    assert s.messages == ["out"]
    wait_until(lambda: "marker-on-stderr-42" in srv.log(), 5,
               what="stderr line in wsbridge's log")


# ---- descriptors and process group ---------------------------------------

def in_sleep_syscall(pid):
    """pid is blocked in nanosleep (35) or clock_nanosleep (230), x86-64."""
    try:
        with open("/proc/%d/syscall" % pid) as f:
            return f.read().split()[0] in ("35", "230")
    except (OSError, IndexError):
        return False


def test_descriptors_inherited_by_wsbridge_do_not_reach_the_child(script):
    # Whatever wsbridge's own parent left open (here a pipe) stays out of
    # the programs it spawns.
    import subprocess
    from conftest import BIN, free_port, port_open
    prog = script("fds2.sh", "echo $$\nexec sleep 30\n")
    r, w = os.pipe()
    port = free_port()
    p = subprocess.Popen([BIN, "--port", str(port), "--address",
                          "127.0.0.1", prog], pass_fds=(r, w),
                         stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until(lambda: port_open(port), 10, what="wsbridge to listen")
        c = open_ws(port, "/")
        op, pid = recv_message(c)
        pid = int(pid)
        # Past the exec, the dynamic loader briefly opens libraries (fd 3):
        # look once sleep(1) is in its sleeping system call.
        wait_until(lambda: os.readlink("/proc/%d/exe" % pid)
                   .endswith("sleep") and in_sleep_syscall(pid), 5,
                   what="sleep(1) to be sleeping")
        fds = sorted(int(f) for f in os.listdir("/proc/%d/fd" % pid))
        assert fds == [0, 1, 2], "inherited descriptors leaked: %s" % {
            f: os.readlink("/proc/%d/fd/%d" % (pid, f)) for f in fds}
        c.close()
        wait_until(lambda: not alive(pid), 10, what="child to be killed")
    finally:
        p.terminate()
        p.wait(10)
        os.close(r)
        os.close(w)


def test_child_gets_only_stdio_and_own_group(wsbridge, script):
    srv = wsbridge(script("fds.sh", "echo $$\nexec sleep 30\n"))
    c = open_ws(srv.port, "/")
    op, pid = recv_message(c)
    pid = int(pid)
    # Past the exec the loader briefly holds libc open (fd 3).
    wait_until(lambda: os.readlink("/proc/%d/exe" % pid).endswith("sleep")
               and in_sleep_syscall(pid), 5, what="sleep(1) to be sleeping")
    fds = sorted(int(f) for f in os.listdir("/proc/%d/fd" % pid))
    assert fds == [0, 1, 2], "descriptors leaked into the child: %s" % {
        f: os.readlink("/proc/%d/fd/%d" % (pid, f)) for f in fds}
    for f in (0, 1, 2):
        assert os.readlink("/proc/%d/fd/%d" % (pid, f)).startswith("pipe:")
    assert os.getpgid(pid) == pid, "child not in its own process group"
    assert os.getpgid(pid) != os.getpgid(srv.pid)
    c.close()
    wait_until(lambda: not alive(pid), 10, what="child to be killed")

