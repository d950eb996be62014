"""Command line (SPEC 1): websocketd-compatible flag forms, usage errors
exit 2 with one line naming the flag."""

import subprocess

import pytest

from conftest import BIN, free_port
from wsutil import ws_session, count


def run(args, timeout=5):
    return subprocess.run([BIN] + args, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=timeout)


@pytest.mark.parametrize("args,flag", [
    (["--no-such-flag", "cat"], "no-such-flag"),
    (["--port"], "port"),
    (["--port", "notanumber", "cat"], "port"),
    (["--port", "70000", "cat"], "port"),
    (["--maxforks", "-1", "cat"], "maxforks"),
    (["--max-message-size", "12Q", "--echo"], "max-message-size"),
    (["--ping-interval", "soon", "--echo"], "ping-interval"),
])
def test_usage_error_exit_2(args, flag):
    r = run(args)
    assert r.returncode == 2, (r.returncode, r.stderr)
    err = r.stderr.decode()
    assert flag in err, err
    assert len(err.strip().splitlines()) == 1, "one-line error expected: %r" % err


@pytest.mark.parametrize("form", ["--port N", "--port=N", "-port N"])
def test_port_flag_forms(wsbridge, form):
    port = free_port()
    args = form.replace("N", str(port)).split()
    srv = wsbridge(*args, "--address", "127.0.0.1", "--echo", port=port,
                   listen_args=False)
    s = ws_session(srv.url("/"), ["hi"], done=count(1))
    assert s.messages == ["hi"]


def test_command_args_are_passed(wsbridge):
    # The first non-option word starts COMMAND; later words, even ones
    # that look like flags, are its arguments.
    srv = wsbridge("/bin/echo", "--port", "x")
    s = ws_session(srv.url("/"))
    assert s.messages == ["--port x"]
    assert s.code == 1000
