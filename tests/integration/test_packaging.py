"""Installing wsbridge (issue 8): `make install` into a DESTDIR and into a
PREFIX, then the Debian package built by `make deb`, installed with apt on
this machine, run as its system user, and purged.

The package test needs root (CI runs as root) and leaves the machine as it
found it: it is skipped when a wsbridge package or a wsbridge user is
already there, and purges what it installed even when a check fails.
"""

import grp
import os
import pwd
import re
import shutil
import signal
import subprocess

import pytest

import wsutil
from conftest import BIN, free_port, port_open

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MAKE_TIMEOUT = 600      # a cold build of the package on a slow machine
APT_TIMEOUT = 300

# These tests build and install their own (plain) binary: run them once,
# in the plain integration stage, not again against the sanitizer build.
pytestmark = pytest.mark.skipif(
    os.path.realpath(BIN) != os.path.join(REPO, "build", "wsbridge"),
    reason="packaging builds its own binary; tested with build/wsbridge only")


def run(argv, timeout=120, check=True, **kw):
    """Run argv from the repository root; output in the failure message."""
    env = dict(os.environ)
    # A make above us (make integration) must not lend its jobserver.
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES",
              "WSB_DEPS_DONE"):
        env.pop(k, None)
    env.update(kw.pop("env", {}))
    p = subprocess.run(argv, cwd=kw.pop("cwd", REPO), env=env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout, **kw)
    out = p.stdout.decode("utf-8", "replace")
    if check:
        assert p.returncode == 0, "%s exited %d:\n%s" % (
            " ".join(argv), p.returncode, out[-6000:])
    return p.returncode, out


def repo_version():
    _, out = run([os.path.join(REPO, "build", "wsbridge"), "--version"])
    return out.strip()


def unit_directives(path):
    """The unit file as a list of (key, value), in order."""
    pairs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and line[0] not in "#;[" and "=" in line:
                k, v = line.split("=", 1)
                pairs.append((k, v))
    return pairs


def check_unit(path, bindir, etc):
    d = unit_directives(path)
    keys = dict(d)
    cfg = "%s/wsbridge/wsbridge.ini" % etc
    assert keys["Type"] == "notify"
    assert keys["ExecStartPre"] == "%s/wsbridge -c %s --check" % (bindir, cfg)
    assert keys["ExecStart"] == "%s/wsbridge -c %s" % (bindir, cfg)
    # reload: the check first, then SIGHUP
    reloads = [v for k, v in d if k == "ExecReload"]
    assert reloads == ["%s/wsbridge -c %s --check" % (bindir, cfg),
                       "/bin/kill -HUP $MAINPID"]
    assert keys["User"] == "wsbridge"
    for k, v in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                 ("PrivateTmp", "yes"), ("ProtectHome", "read-only"),
                 ("CapabilityBoundingSet", "CAP_NET_BIND_SERVICE"),
                 ("AmbientCapabilities", "CAP_NET_BIND_SERVICE"),
                 ("LimitNOFILE", "65536")):
        assert keys.get(k) == v, "%s=%r, expected %r" % (k, keys.get(k), v)
    assert set(keys["RestrictAddressFamilies"].split()) == {
        "AF_INET", "AF_INET6", "AF_UNIX"}
    # Hardening that would stop routes from spawning programs or ptys.
    for k in ("MemoryDenyWriteExecute", "NoExecPaths", "ExecPaths"):
        assert k not in keys, "%s would stop route programs" % k


INSTALLED = ["usr/bin/wsbridge",
             "usr/share/man/man1/wsbridge.1",
             "usr/share/man/man5/wsbridge.ini.5",
             "etc/wsbridge/wsbridge.ini",
             "etc/logrotate.d/wsbridge",
             "lib/systemd/system/wsbridge.service",
             "usr/share/wsbridge/examples/count.sh",
             "usr/share/wsbridge/www/index.html",
             "usr/share/wsbridge/www/favicon.svg",
             "usr/share/wsbridge/www/wsbridge.js",
             "usr/share/wsbridge/www/terminal/index.html",
             "usr/share/wsbridge/reference.ini"]


@pytest.mark.timeout(MAKE_TIMEOUT + 60)
def test_install_into_destdir_runs_and_uninstalls(tmp_path):
    dest = tmp_path / "dest"
    run(["make", "--no-print-directory", "install", "DESTDIR=%s" % dest,
         "PREFIX=/usr"], timeout=MAKE_TIMEOUT)
    for rel in INSTALLED:
        assert (dest / rel).is_file(), rel + " not installed"
    for rel in ("usr/bin/wsbridge", "usr/share/wsbridge/examples/count.sh"):
        assert os.access(dest / rel, os.X_OK), rel + " not executable"
    # Issue 17: the web root holds the site only, and its browser assets.
    www = dest / "usr/share/wsbridge/www"
    for p in www.rglob("*"):
        if p.is_file():
            assert p.suffix in (".html", ".js", ".mjs", ".css", ".svg"), \
                "not part of the site: %s" % p.relative_to(www)
    assert not list((dest / "usr/share/wsbridge/examples").rglob(
        "node_modules")), "node_modules in examples/"
    if os.path.isdir(os.path.join(REPO, "examples/node_modules/@xterm")):
        for rel in ("node_modules/@xterm/xterm/lib/xterm.mjs",
                    "node_modules/@novnc/novnc/core/rfb.js"):
            assert (www / rel).is_file(), rel

    _, out = run([str(dest / "usr/bin/wsbridge"), "--version"])
    assert out.strip() == repo_version()

    # The installed config names /usr/share/wsbridge: check it with the
    # DESTDIR in front, as the package's real location would be.
    text = (dest / "etc/wsbridge/wsbridge.ini").read_text()
    assert "static_dir = /usr/share/wsbridge/www" in text
    cfg = tmp_path / "installed.ini"
    cfg.write_text(text.replace("/usr/share/wsbridge",
                                str(dest / "usr/share/wsbridge")))
    _, out = run([str(dest / "usr/bin/wsbridge"), "-c", str(cfg), "--check"])
    assert out.rstrip().endswith("configuration OK"), out

    check_unit(dest / "lib/systemd/system/wsbridge.service", "/usr/bin",
               "/etc")
    logrotate = (dest / "etc/logrotate.d/wsbridge").read_text()
    assert "/var/log/wsbridge/" in logrotate
    # Only the daemon: route programs may die of SIGUSR1.
    assert "systemctl kill --kill-whom=main -s USR1 wsbridge.service" \
        in logrotate

    run(["make", "--no-print-directory", "uninstall", "DESTDIR=%s" % dest,
         "PREFIX=/usr"])
    left = [str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()]
    assert left == [], "left after uninstall: %s" % left


@pytest.mark.timeout(MAKE_TIMEOUT + 60)
def test_install_into_prefix_rewrites_paths(tmp_path):
    prefix = tmp_path / "local"
    run(["make", "--no-print-directory", "install", "PREFIX=%s" % prefix],
        timeout=MAKE_TIMEOUT)
    cfg = prefix / "etc/wsbridge/wsbridge.ini"
    _, out = run([str(prefix / "bin/wsbridge"), "-c", str(cfg), "--check"])
    assert out.rstrip().endswith("configuration OK"), out
    assert "static %s/share/wsbridge/www" % prefix in out
    check_unit(prefix / "lib/systemd/system/wsbridge.service",
               "%s/bin" % prefix, "%s/etc" % prefix)
    # A config you changed survives uninstall; the rest goes.
    with open(cfg, "a") as f:
        f.write("; mine\n")
    run(["make", "--no-print-directory", "uninstall", "PREFIX=%s" % prefix])
    assert cfg.is_file()
    assert not (prefix / "bin/wsbridge").exists()
    assert not (prefix / "share/wsbridge").exists()


def dpkg_installed(name):
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", name],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return p.returncode == 0 and b"ok installed" in p.stdout


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def deb_preconditions():
    if os.geteuid() != 0:
        return "installing a .deb needs root (CI runs as root)"
    for tool in ("apt-get", "dpkg-deb", "dpkg-query"):
        if shutil.which(tool) is None:
            return "%s not found: not a Debian system" % tool
    if dpkg_installed("wsbridge"):
        return "a wsbridge package is already installed; not touching it"
    if user_exists("wsbridge") or group_exists("wsbridge"):
        return ("a wsbridge user or group exists that no package made; "
                "purge would remove it")
    return None


def as_wsbridge():
    return {"user": "wsbridge", "group": "wsbridge", "extra_groups": []}


def smoke_installed_daemon():
    """The installed config, run as wsbridge: static page, echo, a script."""
    port = free_port()
    proc = subprocess.Popen(
        ["/usr/bin/wsbridge", "-c", "/etc/wsbridge/wsbridge.ini",
         "--listen", "127.0.0.1:%d" % port], cwd="/",
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, start_new_session=True, **as_wsbridge())
    try:
        wsutil.wait_until(lambda: port_open(port) or proc.poll() is not None,
                          10, what="installed wsbridge listening")
        assert proc.poll() is None, proc.stdout.read().decode()
        conn = wsutil.connect_tcp(port)
        conn.sendall(wsutil.request_bytes("GET", "/", [
            ("Host", "127.0.0.1"), ("Connection", "close")]))
        head = wsutil.read_response(conn)
        assert head.status == 200 and b"<html" in head.body.lower(), head
        conn.close()

        conn = wsutil.open_ws(port, "/echo")
        wsutil.send_frame(conn, wsutil.OP_TEXT, "hello")
        assert wsutil.recv_message(conn) == (wsutil.OP_TEXT, b"hello")
        conn.close()

        conn = wsutil.open_ws(port, "/count")
        assert wsutil.recv_message(conn) == (wsutil.OP_TEXT, b"1")
        conn.close()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        proc.stdout.close()


def check_installed_package(version):
    _, out = run(["/usr/bin/wsbridge", "--version"])
    assert out.strip() == version
    pw = pwd.getpwnam("wsbridge")
    assert pw.pw_uid < 1000, "not a system user: uid %d" % pw.pw_uid
    assert pw.pw_shell.endswith("nologin"), pw.pw_shell
    assert grp.getgrgid(pw.pw_gid).gr_name == "wsbridge"
    assert not os.path.exists(pw.pw_dir), "home %s created" % pw.pw_dir

    unit = "/lib/systemd/system/wsbridge.service"
    check_unit(unit, "/usr/bin", "/etc")
    if shutil.which("systemd-analyze"):
        _, out = run(["systemd-analyze", "verify", unit], check=False)
        assert "wsbridge.service" not in out, out
    _, conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", "wsbridge"])
    assert "/etc/wsbridge/wsbridge.ini" in conffiles
    assert "/etc/logrotate.d/wsbridge" in conffiles
    _, out = run(["man", "-w", "wsbridge"])
    assert "wsbridge.1" in out

    # ExecStartPre runs the check as the service user.
    for kw in ({}, as_wsbridge()):
        _, out = run(["/usr/bin/wsbridge", "-c", "/etc/wsbridge/wsbridge.ini",
                      "--check"], cwd="/", **kw)
        assert out.rstrip().endswith("configuration OK"), out
    smoke_installed_daemon()


def check_package_in_browser():
    """tests/browser/package.test.mjs (the demo site in Chromium) against
    the package installed here: make test (WSB_DEB_BROWSER=1) runs it from
    this test, so that the .deb is installed and purged once."""
    rc, out = run(["node", "--test", "tests/browser/package.test.mjs"],
                  timeout=BROWSER_TIMEOUT, check=False,
                  env={"WSB_DEB_INSTALLED": "1", "WSBRIDGE_BIN": BIN})
    assert rc == 0, "browser package test exited %d:\n%s" % (rc, out[-8000:])
    assert re.search(r"^# pass 1$", out, re.M), out[-8000:]
    assert re.search(r"^# skipped 0$", out, re.M), out[-8000:]


BROWSER_TIMEOUT = 300


# Building (first time: installing debhelper and lintian), lintian, apt;
# first of the suite (conftest: `long`), so that it does not end the
# parallel run last.
@pytest.mark.long
@pytest.mark.timeout(MAKE_TIMEOUT + 2 * APT_TIMEOUT + BROWSER_TIMEOUT + 60)
def test_deb_installs_runs_and_purges():
    why = deb_preconditions()
    if why:
        pytest.skip(why)
    # The unit tests run in `make unit`; the dbgsym package is not needed.
    run(["make", "--no-print-directory", "deb"], timeout=MAKE_TIMEOUT,
        env={"DEB_BUILD_OPTIONS": "nocheck noddebs parallel=%d"
             % (os.cpu_count() or 1)})
    version = repo_version()
    num = version.split()[-1]
    debs = [f for f in os.listdir(os.path.join(REPO, "build"))
            if re.fullmatch(r"wsbridge_%s_[a-z0-9]+\.deb" % re.escape(num), f)]
    assert len(debs) == 1, debs
    deb = os.path.join(REPO, "build", debs[0])
    _, depends = run(["dpkg-deb", "-f", deb, "Depends"])
    assert "adduser" in depends

    apt_env = {"DEBIAN_FRONTEND": "noninteractive"}
    try:
        run(["apt-get", "install", "-y", "--no-install-recommends", deb],
            timeout=APT_TIMEOUT, env=apt_env)
        check_installed_package(version)
        if os.environ.get("WSB_DEB_BROWSER") == "1":
            check_package_in_browser()
    finally:
        run(["apt-get", "purge", "-y", "wsbridge"], timeout=APT_TIMEOUT,
            env=apt_env, check=False)
    assert not dpkg_installed("wsbridge")
    assert not os.path.exists("/usr/bin/wsbridge")
    assert not os.path.exists("/lib/systemd/system/wsbridge.service")
    assert not os.path.exists("/etc/wsbridge"), os.listdir("/etc/wsbridge")
    assert not user_exists("wsbridge"), "user wsbridge left after purge"
    assert not group_exists("wsbridge"), "group wsbridge left after purge"


def test_first_run_builds_when_deps_step_brings_llhttp(tmp_path):
    """Issue 12: on a fresh machine the deps step is what brings llhttp's
    sources. A copy of the tree is built with LLHTTP_SRC/LLHTTP_INC naming
    a directory that only the (stand-in) deps step creates: one `make`
    must install, then build, and the binary must run."""
    tree = tmp_path / "tree"
    _, files = run(["git", "ls-files", "-z"])
    for rel in files.split("\0"):
        if not rel or rel.startswith(("tests/", "examples/")):
            continue
        dst = tree / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.join(REPO, rel), dst)
    # The objects of src/ that the repository's build already has, copied
    # with their times (newer than the copied sources): what the first
    # run must get right is llhttp's rule, so the copy compiles llhttp,
    # links, and leaves the rest as it is. A missing or stale object is
    # compiled as usual.
    built = os.path.join(REPO, "build")
    for name in (os.listdir(built) if os.path.isdir(built) else ()):
        if name.endswith(".o"):
            (tree / "build").mkdir(exist_ok=True)
            shutil.copy2(os.path.join(built, name), tree / "build" / name)
    later = tmp_path / "later"
    assert not later.exists()
    deps = tmp_path / "deps.sh"
    deps.write_text("#!/bin/sh\nset -e\nmkdir -p %s\n"
                    "cp -r /usr/share/llhttp %s/src\n"
                    "cp -r /usr/share/include/llhttp %s/inc\n"
                    % (later, later, later))
    rc, out = run(["make", "-j2", "DEPS_SH=sh %s" % deps,
                   "LLHTTP_SRC=%s/src" % later, "LLHTTP_INC=%s/inc" % later],
                  cwd=str(tree), timeout=MAKE_TIMEOUT, check=False)
    assert rc == 0, "first make failed:\n" + out[-4000:]
    assert (later / "src" / "llhttp.c").exists()
    assert (tree / "build" / "llhttp" / "llhttp.o").exists()
    _, version = run([str(tree / "build" / "wsbridge"), "--version"])
    assert version.startswith("wsbridge"), version
