"""Issue 3: dir routes (websocketd --dir semantics): `[route /scripts/*]`
with `dir = DIR` runs DIR/NAME for /scripts/NAME/extra (DIR/sub/NAME for
/scripts/sub/NAME/extra), with SCRIPT_NAME and
PATH_INFO set; missing or non-executable → 404; nothing outside DIR is ever
run (.., encoded dots, dotfiles, symlinks)."""

import os

import pytest

import shared
import wsutil
from cfgutil import start_config
from wsutil import raw_handshake, open_ws, recv_message, expect_close, OP_TEXT

SHOW = 'echo "$SCRIPT_NAME|$PATH_INFO|$QUERY_STRING"\n'


def make_scripts_dir(tmp_path):
    d = tmp_path / "scripts"
    d.mkdir()
    wsutil.write_script(d / "hello", SHOW)
    wsutil.write_script(d / "hello.sh", 'echo "dotted $SCRIPT_NAME"\n')
    wsutil.write_script(d / ".hidden", 'echo HIDDEN-RAN\n')
    plain = d / "plain"
    plain.write_text("#!/bin/sh\necho PLAIN-RAN\n")
    plain.chmod(0o644)
    (d / "sub").mkdir()
    wsutil.write_script(d / "sub" / "inner", 'echo INNER-RAN\n')
    wsutil.write_script(d / "sub" / ".inner", 'echo HIDDEN-RAN\n')
    # Executables outside DIR that traversal attempts would reach.
    wsutil.write_script(tmp_path / "x", 'echo OUTSIDE-RAN\n')
    wsutil.write_script(tmp_path / "outside.sh", 'echo OUTSIDE-RAN\n')
    os.symlink(str(tmp_path / "outside.sh"), str(d / "link"))
    os.symlink("../x", str(d / "rellink"))
    return d


@pytest.fixture
def scripts_dir(tmp_path):
    return make_scripts_dir(tmp_path)


def output_of(port, path):
    conn = open_ws(port, path)
    try:
        op, payload = recv_message(conn)
        assert op == OP_TEXT
        code, _ = expect_close(conn, reply=True)
        assert code == 1000
        return payload.decode()
    finally:
        conn.close()


def status_of(port, path):
    conn, head, _ = raw_handshake(port, path)
    try:
        if head.status == 101:
            # Whatever ran, show it in the failure message.
            try:
                code, _ = expect_close(conn, allow_data=True, reply=True)
                head.ran = [p for _, _, p in conn.seen]
            except AssertionError:
                pass
        return head
    finally:
        conn.close()


def start_dir(wsbridge, tmp_path, scripts_dir):
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /scripts/*]\ndir = %s\n" % scripts_dir)
    return srv


# The tests that only read the directory share one server (shared.py);
# those that add a script have a directory and a server of their own.
@pytest.fixture(scope="module")
def dir_m(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dir")
    d = make_scripts_dir(tmp)
    with shared.servers(tmp) as start:
        yield start_dir(start, tmp, d)


@pytest.fixture
def dir_srv(dir_m, request):
    with shared.window(dir_m, request) as srv:
        yield srv


@pytest.fixture
def own_dir_srv(wsbridge, tmp_path, scripts_dir):
    return start_dir(wsbridge, tmp_path, scripts_dir)


@pytest.mark.parametrize("path,out", [
    ("/scripts/hello", "/scripts/hello||"),
    ("/scripts/hello/extra", "/scripts/hello|/extra|"),
    ("/scripts/hello/extra/more/", "/scripts/hello|/extra/more/|"),
    ("/scripts/hello?q=1&r=2", "/scripts/hello||q=1&r=2"),
    ("/scripts/hello/x?q", "/scripts/hello|/x|q"),
])
def test_dir_runs_name_with_cgi_vars(dir_srv, path, out):
    assert output_of(dir_srv.port, path) == out


def test_dir_script_with_extension(dir_srv):
    assert output_of(dir_srv.port, "/scripts/hello.sh") == \
        "dotted /scripts/hello.sh"


def test_dir_walks_subdirectories(own_dir_srv, scripts_dir):
    # websocketd --dir: /scripts/sub/NAME/extra runs DIR/sub/NAME.
    dir_srv = own_dir_srv
    wsutil.write_script(scripts_dir / "sub" / "show", SHOW)
    assert output_of(dir_srv.port, "/scripts/sub/inner") == "INNER-RAN"
    assert output_of(dir_srv.port, "/scripts/sub/show/x/y?z") == \
        "/scripts/sub/show|/x/y|z"


@pytest.mark.parametrize("path", [
    "/scripts/missing",
    "/scripts/missing/extra",
    "/scripts/plain",                # not executable
    "/scripts/sub",                  # a directory
    "/scripts/sub/",                 # a directory, nothing named in it
    "/scripts/sub/missing",
    "/scripts/sub/.inner",           # dot names at any depth
    "/scripts/",
    "/scripts",
])
def test_dir_missing_or_not_executable_404(dir_srv, path):
    head = status_of(dir_srv.port, path)
    assert head.status == 404, (path, head, getattr(head, "ran", None))


@pytest.mark.parametrize("path", [
    "/scripts/../x",
    "/scripts/../outside.sh",
    "/scripts/%2e%2e/x",
    "/scripts/%2E%2E/x",
    "/scripts/.%2e/x",
    "/scripts/..%2fx",
    "/scripts/%2e%2e%2fx",
    "/scripts/.hidden",
    "/scripts/%2ehidden",
    "/scripts/link",
    "/scripts/rellink",
    "/scripts/./hello",
    "/scripts//hello",
    "/scripts/hello%00",
])
def test_dir_traversal_404(dir_srv, path):
    head = status_of(dir_srv.port, path)
    assert head.status in (400, 404), (path, head, getattr(head, "ran", None))
    # 404 is what the issue asks for; a 400 for a malformed target (NUL)
    # is also acceptable, but never a 101.
    if "%00" not in path:
        assert head.status == 404, (path, head)


def test_dir_command_line(wsbridge, tmp_path, scripts_dir):
    srv = wsbridge("--dir", str(scripts_dir))
    assert output_of(srv.port, "/hello/extra") == "/hello|/extra|"
    assert output_of(srv.port, "/hello") == "/hello||"
    for path in ("/missing", "/plain", "/sub", "/../x", "/%2e%2e/x",
                 "/.hidden", "/link", "/rellink"):
        head = status_of(srv.port, path)
        assert head.status == 404, (path, head, getattr(head, "ran", None))


def test_dir_new_script_found_without_restart(own_dir_srv, scripts_dir):
    # The directory is looked up per connection.
    dir_srv = own_dir_srv
    assert status_of(dir_srv.port, "/scripts/later").status == 404
    wsutil.write_script(scripts_dir / "later", 'echo LATER\n')
    assert output_of(dir_srv.port, "/scripts/later") == "LATER"
