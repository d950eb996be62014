"""Issue 3: `wsbridge -c FILE --check` (SPEC 2): routes and "configuration
OK" on a good file; every error as FILE:LINE: message, all of them, exit 1;
usage errors exit 2 with one line naming the flag."""

import glob
import os
import re

import pytest

from conftest import REPO
from cfgutil import run_bin, write_config


def check(path, cwd=None):
    r = run_bin(["-c", str(path), "--check"], cwd=cwd)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def error_lines(path, out, err):
    """FILE:LINE: lines of the output, as [(line, message)]."""
    pat = re.compile(r"^%s:(\d+): (.*)$" % re.escape(str(path)))
    found = []
    for line in (out + err).splitlines():
        m = pat.match(line)
        if m:
            found.append((int(m.group(1)), m.group(2)))
    return found


def test_check_prints_routes_and_ok(tmp_path, script):
    cmd = script("hello.sh", "echo hi\n")
    d = tmp_path / "scripts"
    d.mkdir()
    path = write_config(tmp_path, """\
[server]
listen = 127.0.0.1:1
handshake_timeout = 2s
max_header_size = 8K

[route /echo]
echo = yes

[route /hello]
exec = %s
mode = text
close_grace = 250ms
max_message_size = 64K

[route /tcp]
connect = 127.0.0.1:9
protocols = binary, base64
connect_timeout = 500ms

[route /scripts/*]
dir = %s
""" % (cmd, d))
    rc, out, err = check(path)
    assert rc == 0, (out, err)
    assert "configuration OK" in out + err
    for route in ("/echo", "/hello", "/tcp", "/scripts/*"):
        assert re.search(r"\broute %s(\s|$)" % re.escape(route), out), out
    # The exec route shows its command.
    assert cmd in out, out


def test_every_key_accepted(tmp_path, script):
    # Every documented key of [server], [tls] and [route], with valid
    # values, passes --check.
    import pwd
    import grp
    import subprocess
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost"],
                   check=True, capture_output=True, timeout=30)
    cmd = script("tool.sh", "cat\n")
    (tmp_path / "www").mkdir()
    (tmp_path / "scripts").mkdir()
    user = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    path = write_config(tmp_path, """\
[server]
listen = 127.0.0.1:1
listen = unix:{t}/wsb.sock
workers = 1
max_connections = 100
handshake_timeout = 10s
close_timeout = 5s
shutdown_timeout = 10s
max_header_size = 16K
static_dir = {t}/www
devconsole = no
user = {user}
group = {group}
log_level = access
access_log = {t}/access.log
max_message_size = 1M
buffer_size = 256K
ping_interval = 30s
ping_timeout = 30s
idle_timeout = 0
close_grace = 500ms
connect_timeout = 5s
header = X-Frame-Options: DENY
header_ws = X-Bridge: wsbridge
header_http = Cache-Control: no-cache

[tls]
listen = 127.0.0.1:2
cert = {cert}
key = {key}
client_ca = {cert}

[route /tool]
exec = {cmd} "quoted arg" back\\ slash
mode = binary
origins = http://localhost:*, https://example.com
same_origin = no
protocols = binary, base64
require_protocol = no
max_connections = 10
pass_env = PATH, LANG
env = GREETING=hello
env = OTHER=x y
cwd = {t}
compression = no
max_message_size = 64K
buffer_size = 64K
ping_interval = 0
ping_timeout = 10s
idle_timeout = 5m
close_grace = 1s
connect_timeout = 1s
header = X-Route: tool
header_ws = X-WS: 1
header_http = X-HTTP: 1

[route /term]
exec = /bin/sh
mode = pty
readonly = yes
term = xterm

[route /vnc]
connect = 127.0.0.1:5900
protocols = binary
require_protocol = yes

[route /scripts/*]
dir = {t}/scripts

[route /echo]
echo = yes
""".format(t=tmp_path, user=user, group=group, cert=cert, key=key, cmd=cmd))
    rc, out, err = check(path)
    assert rc == 0, out + err
    assert "configuration OK" in out + err


@pytest.mark.parametrize("value,ok", [
    ("500ms", True), ("10s", True), ("5m", True), ("1h", True), ("0", True),
    ("0s", True), ("5", False), ("ms", False), ("-1s", False),
    ("1.5s", False), ("10sec", False), ("10 s", False),
    ("99999999999999999999s", False),
])
def test_duration_values(tmp_path, value, ok):
    path = write_config(tmp_path, "[route /a]\necho = yes\n"
                        "idle_timeout = %s\n" % value)
    rc, out, err = check(path)
    assert rc == (0 if ok else 1), (value, out, err)
    if not ok:
        assert [n for n, _ in error_lines(path, out, err)] == [3]


@pytest.mark.parametrize("value,ok", [
    ("4096", True), ("64K", True), ("1M", True), ("1G", True),
    ("12Q", False), ("-1", False), ("1.5M", False), ("K", False),
    ("64KB", False), ("64 K", False), ("99999999999G", False),
])
def test_size_values(tmp_path, value, ok):
    path = write_config(tmp_path, "[route /a]\necho = yes\n"
                        "buffer_size = %s\n" % value)
    rc, out, err = check(path)
    assert rc == (0 if ok else 1), (value, out, err)
    if not ok:
        assert [n for n, _ in error_lines(path, out, err)] == [3]


def repo_configs():
    found = set()
    for top in ("conf", "examples"):
        found.update(glob.glob(os.path.join(REPO, top, "**", "*.ini"),
                               recursive=True))
    return sorted(os.path.relpath(p, REPO) for p in found)


def test_repo_has_configs():
    assert "conf/wsbridge.ini" in repo_configs()


@pytest.mark.parametrize("rel", repo_configs())
def test_repo_config_passes_check(rel):
    # Run from the repository root, as `make run` does.
    rc, out, err = check(rel, cwd=REPO)
    assert rc == 0, "%s failed --check:\n%s%s" % (rel, out, err)
    assert "configuration OK" in out + err


# (body, line of the error, regex the message must match)
ERROR_CASES = {
    "unknown_section": (
        "[route /a]\necho = yes\n[bogus]\nx = 1\n", 3, r"(?i)section"),
    "unknown_key": (
        "[route /a]\necho = yes\ncolour = red\n", 3, r"colour"),
    "unknown_server_key": (
        "[server]\nlisten = 127.0.0.1:1\nlisen = 127.0.0.1:2\n"
        "[route /a]\necho = yes\n", 3, r"lisen"),
    "bad_duration": (
        "[route /a]\necho = yes\nidle_timeout = 5 parsecs\n", 3,
        r"idle_timeout"),
    "bare_number_duration": (
        "[route /a]\necho = yes\nping_interval = 30\n", 3, r"ping_interval"),
    "bad_size": (
        "[route /a]\necho = yes\nbuffer_size = 12Q\n", 3, r"buffer_size"),
    "bad_boolean": (
        "[route /a]\necho = maybe\n", 2, r"echo"),
    "missing_backend": (
        "[route /a]\nmode = text\n", 1, r"(?i)backend"),
    "two_backends": (
        "[route /a]\necho = yes\nexec = /bin/cat\n", 1, r"(?i)backend"),
    "duplicate_route": (
        "[route /a]\necho = yes\n[route /b]\necho = yes\n"
        "[route /a]\necho = yes\n", 5, r"(?i)duplicate"),
    "command_not_found_abs": (
        "[route /a]\nexec = /no/such/command-xyz\n", 2, r"command-xyz"),
    "command_not_in_path": (
        "[route /a]\nexec = no-such-command-xyz --flag\n", 2,
        r"no-such-command-xyz"),
    "command_not_executable": (
        "[route /a]\nexec = {tmp}/not-executable.sh\n", 2,
        r"not-executable"),
    "dir_missing": (
        "[route /s/*]\ndir = /no/such/dir-xyz\n", 2, r"dir-xyz"),
    "bad_connect": (
        "[route /a]\nconnect = 127.0.0.1:notaport\n", 2, r"connect"),
    "key_twice": (
        "[route /a]\necho = yes\nmode = text\nmode = binary\n", 4,
        r"mode"),
    "route_without_path": (
        "[route]\necho = yes\n", 1, r"(?i)route"),
    "indented_continuation": (
        "[route /a]\nexec = /bin/echo\n  more words\n", 3,
        r"(?i)indent|continuation"),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_error_file_line(tmp_path, case):
    body, line, pat = ERROR_CASES[case]
    plain = tmp_path / "not-executable.sh"
    plain.write_text("#!/bin/sh\necho hi\n")
    plain.chmod(0o644)
    path = write_config(tmp_path, body.replace("{tmp}", str(tmp_path)))
    rc, out, err = check(path)
    assert rc == 1, (rc, out, err)
    errs = error_lines(path, out, err)
    assert errs, "no %s:LINE: error in %r" % (path, out + err)
    assert errs[0][0] == line, "error on line %d, expected %d: %r" % (
        errs[0][0], line, errs)
    assert re.search(pat, errs[0][1]), errs
    assert "configuration OK" not in out + err


def test_overlong_line_real_line_number(tmp_path):
    # Debian's inih truncates lines over 199 characters and then numbers
    # the rest of the line as further lines: the error must name the real
    # line, and a later error must keep its real number too.
    long_value = "GREETING=" + "a" * 240
    body = ("[route /a]\n"                          # 1
            "echo = yes\n"                          # 2
            "[route /b]\n"                          # 3
            "exec = /bin/cat\n"                     # 4
            "env = %s\n"                            # 5 (over-long)
            "mode = text\n"                         # 6
            "colour = red\n"                        # 7 (unknown key)
            % long_value)
    path = write_config(tmp_path, body)
    rc, out, err = check(path)
    assert rc == 1, (out, err)
    errs = error_lines(path, out, err)
    lines = [n for n, _ in errs]
    assert 5 in lines, errs
    assert re.search(r"(?i)long|199", dict(errs)[5]), errs
    assert 7 in lines and "colour" in dict(errs)[7], errs
    assert set(lines) <= {5, 7}, "spurious errors: %r" % errs


def test_line_length_boundary(tmp_path):
    # "Lines are at most 199 characters" (conf/wsbridge.ini): 199 is fine,
    # 200 is an error.
    def body(n):
        prefix = "; "
        return "[route /a]\necho = yes\n%s%s\n" % (prefix, "x" * (n - 2))
    ok = write_config(tmp_path, body(199), "ok.ini")
    rc, out, err = check(ok)
    assert rc == 0, (out, err)
    bad = write_config(tmp_path, body(200), "bad.ini")
    rc, out, err = check(bad)
    assert rc == 1, (out, err)
    assert [n for n, _ in error_lines(bad, out, err)] == [3], out + err


def test_all_errors_in_one_run(tmp_path):
    # SPEC 2: "all errors reported, then exit 1" -- syntax errors and the
    # start-up checks (duplicate route, command not found) alike.
    body = ("[server]\n"                            # 1
            "listen = 127.0.0.1:1\n"                # 2
            "[bogus]\n"                             # 3
            "[route /a]\n"                          # 4
            "echo = yes\n"                          # 5
            "colour = red\n"                        # 6
            "[route /b]\n"                          # 7
            "echo = yes\n"                          # 8
            "idle_timeout = 5x\n"                   # 9
            "buffer_size = lots\n"                  # 10
            "[route /c]\n"                          # 11 (no backend)
            "mode = text\n"                         # 12
            "[route /d]\n"                          # 13 (two backends)
            "echo = yes\n"                          # 14
            "exec = /bin/cat\n"                     # 15
            "[route /a]\n"                          # 16 (duplicate)
            "echo = yes\n"                          # 17
            "[route /e]\n"                          # 18
            "exec = /no/such/command-xyz\n"         # 19
            "[route /f]\n"                          # 20
            "echo = yes\n"                          # 21
            "  indented\n")                         # 22
    path = write_config(tmp_path, body)
    rc, out, err = check(path)
    assert rc == 1, (out, err)
    lines = sorted(set(n for n, _ in error_lines(path, out, err)))
    expected = [3, 6, 9, 10, 11, 13, 16, 19, 22]
    assert lines == expected, "errors on lines %r, expected %r:\n%s" % (
        lines, expected, out + err)


def test_start_with_bad_config_exits_1(tmp_path):
    path = write_config(tmp_path, "[route /a]\necho = yes\ncolour = red\n")
    r = run_bin(["-c", str(path)], cwd=str(tmp_path))
    assert r.returncode == 1
    assert "%s:3:" % path in (r.stdout + r.stderr).decode()


def test_missing_config_file_exits_1(tmp_path):
    r = run_bin(["-c", str(tmp_path / "nope.ini"), "--check"])
    assert r.returncode == 1
    assert "nope.ini" in r.stderr.decode()


@pytest.mark.parametrize("args,flag", [
    (["-c"], "c"),
    (["--config"], "config"),
    (["-c", "conf/wsbridge.ini", "--bogus-flag", "--check"], "bogus-flag"),
    (["-c", "conf/wsbridge.ini", "--check", "--port", "x"], "port"),
    (["-c", "conf/wsbridge.ini", "--check", "--connect-timeout", "soon"],
     "connect-timeout"),
    (["-c", "conf/wsbridge.ini", "--check", "--buffer-size", "12Q"],
     "buffer-size"),
    (["-c", "conf/wsbridge.ini", "--echo", "--check"], "echo"),
    (["--ssl", "--echo"], "ssl"),
    (["--ssl", "--sslcert", "cert.pem", "--echo"], "ssl"),
])
def test_usage_errors_exit_2(args, flag):
    r = run_bin(args, cwd=REPO)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    err = r.stderr.decode()
    assert len(err.strip().splitlines()) == 1, "one line expected: %r" % err
    assert re.search(r"-%s\b" % re.escape(flag), err), err
    # A one-letter flag is named with one dash.
    if len(flag) == 1:
        assert "--%s" % flag not in err, err


def test_check_access_log_that_cannot_be_written(tmp_path):
    path = write_config(tmp_path, "[server]\nlisten = 127.0.0.1:1\n"
                        "access_log = %s/no/such/dir/access.log\n"
                        "[route /e]\necho = yes\n" % tmp_path)
    r = run_bin(["-c", str(path), "--check"])
    assert r.returncode == 1, r
    assert ("%s:3: [server]: access_log" % path).encode() in r.stderr, \
        r.stderr
    # A writable place passes and is not created by the check.
    log = tmp_path / "access.log"
    path.write_text("[server]\nlisten = 127.0.0.1:1\naccess_log = %s\n"
                    "[route /e]\necho = yes\n" % log)
    r = run_bin(["-c", str(path), "--check"])
    assert r.returncode == 0, r.stderr
    assert not log.exists()


def test_check_reports_certificate_with_other_errors(tmp_path):
    # One run shows every error: a route's and the certificate's.
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    path = write_config(tmp_path, "[tls]\nlisten = 127.0.0.1:1\n"
                        "cert = %s\nkey = %s\n[route /y]\n"
                        "exec = /nonexistent/prog\n" % (junk, junk))
    r = run_bin(["-c", str(path), "--check"])
    assert r.returncode == 1, r
    assert ("%s:6:" % path).encode() in r.stderr, r.stderr
    assert ("%s:3: cert %s" % (path, junk)).encode() in r.stderr, r.stderr
