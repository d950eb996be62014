"""Issue 4: route access (origins, same_origin, basic auth, a trusted
auth header), connection limits with their status codes, and the
privilege drop (SPEC 7)."""

import base64
import os
import pwd
import grp
import shutil
import subprocess
import types
import warnings

import pytest

from cfgutil import start_config
from produtil import env_script, raw_env
import shared
import wsutil
from wsutil import (raw_handshake, send_frame, recv_message, expect_close,
                    close_payload, wait_until, OP_TEXT, OP_CLOSE)


def basic(user, password):
    return ("Authorization", "Basic " + base64.b64encode(
        ("%s:%s" % (user, password)).encode()).decode())


def handshake(port, path, headers=()):
    """(status, head); a 101 connection is returned open in head.conn."""
    conn, head, _ = raw_handshake(port, path, list(headers))
    if head.status == 101:
        head.conn = conn
    else:
        conn.close()
    return head.status, head


def env_of(port, path, headers=()):
    status, head = handshake(port, path, headers)
    assert status == 101, head
    try:
        return raw_env(head.conn)
    finally:
        head.conn.close()


def close_ws(conn):
    try:
        send_frame(conn, OP_CLOSE, close_payload(1000))
        expect_close(conn)
    finally:
        conn.close()


# --------------------------------------------------------------------------
# Basic authentication
# --------------------------------------------------------------------------


def bcrypt_line(user, password):
    """A bcrypt htpasswd line: htpasswd -B if installed, else crypt(3)
    through python's crypt module; None when neither is there."""
    if shutil.which("htpasswd"):
        r = subprocess.run(["htpasswd", "-nbB", user, password],
                           capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr
        line = r.stdout.decode().strip()
        assert line.startswith(user + ":$2y$"), line
        return line
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt
        h = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))
    except (ImportError, AttributeError):
        return None
    return "%s:%s" % (user, h) if h and h.startswith("$2") else None


@pytest.fixture(scope="module")
def htpasswd(tmp_path_factory):
    """alice (sha-512 crypt), sam (sha-256 crypt), bob (bcrypt when it
    can be made here); made once per module, only read."""
    tmp_path = tmp_path_factory.mktemp("htpasswd")
    lines = []
    h = subprocess.run(["openssl", "passwd", "-6", "wonderland"],
                       capture_output=True, timeout=30).stdout.decode()
    assert h.startswith("$6$"), h
    lines.append("alice:" + h.strip())
    h = subprocess.run(["openssl", "passwd", "-5", "s4m s3cret:x"],
                       capture_output=True, timeout=30).stdout.decode()
    assert h.startswith("$5$"), h
    lines.append("sam:" + h.strip())
    b = bcrypt_line("bob", "builder")
    if b:
        lines.append(b)
    path = tmp_path / "htpasswd"
    path.write_text("\n".join(lines) + "\n")
    return types.SimpleNamespace(path=path, bcrypt=b is not None)


# The auth and origin tests only open connections of their own: one
# server each for the module (shared.py).
@pytest.fixture(scope="module")
def auth_m(tmp_path_factory, htpasswd):
    tmp_path = tmp_path_factory.mktemp("auth")
    env_sh = env_script(shared.script_maker(tmp_path))
    with shared.servers(tmp_path) as start:
        srv, _ = start_config(start, tmp_path, (
            "[route /env]\nexec = %s\nauth = basic\nauth_file = %s\n"
            "auth_realm = Test Realm\n"
            "[route /open]\nexec = %s\n" % (env_sh, htpasswd.path, env_sh)))
        yield srv


@pytest.fixture
def auth_server(auth_m, request):
    with shared.window(auth_m, request) as srv:
        yield srv


def test_basic_auth_good(auth_server, htpasswd):
    env = env_of(auth_server.port, "/env", [basic("alice", "wonderland")])
    assert env.get("REMOTE_USER") == "alice", env
    # The password wsbridge checked is not handed on (RFC 3875 4.1.18).
    assert "HTTP_AUTHORIZATION" not in env, env
    env = env_of(auth_server.port, "/env", [basic("sam", "s4m s3cret:x")])
    assert env.get("REMOTE_USER") == "sam", env


def test_basic_auth_bcrypt(auth_server, htpasswd):
    if not htpasswd.bcrypt:
        pytest.skip("neither htpasswd nor crypt(3) bcrypt available here")
    env = env_of(auth_server.port, "/env", [basic("bob", "builder")])
    assert env.get("REMOTE_USER") == "bob", env
    status, head = handshake(auth_server.port, "/env",
                             [basic("bob", "builde")])
    assert status == 401, head


@pytest.mark.parametrize("headers", [
    [],
    [basic("alice", "wrong")],
    [basic("alice", "wonderland ")],
    [basic("nobody", "wonderland")],
    [basic("", "")],
    [("Authorization", "Basic !!!not-base64")],
    [("Authorization", "Bearer abc")],
    [("Authorization", "Basic " + base64.b64encode(b"alice").decode())],
], ids=["missing", "bad-password", "trailing-blank", "unknown-user",
        "empty", "bad-base64", "bearer", "no-colon"])
def test_basic_auth_refused(auth_server, headers):
    status, head = handshake(auth_server.port, "/env", headers)
    assert status == 401, head
    challenge = head.header("www-authenticate") or ""
    assert challenge.startswith("Basic "), head
    assert 'realm="Test Realm"' in challenge, challenge
    assert "REMOTE_USER" not in head.body.decode("latin-1")


def test_no_auth_route_has_no_remote_user(auth_server):
    # A header nobody vouches for does not name the user.
    env = env_of(auth_server.port, "/open", [("X-Remote-User", "mallory"),
                                             basic("alice", "wonderland")])
    assert "REMOTE_USER" not in env, env


# --------------------------------------------------------------------------
# auth_header from trusted proxies only
# --------------------------------------------------------------------------


def sso_server(wsbridge, tmp_path, script, trusted, htpasswd=None):
    env_sh = env_script(script)
    extra = ""
    if htpasswd is not None:
        extra = "auth = basic\nauth_file = %s\n" % htpasswd.path
    srv, _ = start_config(wsbridge, tmp_path, (
        "[route /sso]\nexec = %s\nauth_header = X-Remote-User\n%s"
        % (env_sh, extra)), server_extra="trusted_proxies = %s\n" % trusted)
    return srv


def test_auth_header_from_trusted_proxy(wsbridge, tmp_path, script):
    srv = sso_server(wsbridge, tmp_path, script, "127.0.0.1/32")
    env = env_of(srv.port, "/sso", [("X-Remote-User", "carol")])
    assert env.get("REMOTE_USER") == "carol", env
    # The route needs a user: none given is 401.
    status, head = handshake(srv.port, "/sso")
    assert status == 401, head
    status, head = handshake(srv.port, "/sso", [("X-Remote-User", "")])
    assert status == 401, head


@pytest.mark.parametrize("trusted", ["10.0.0.0/8", "127.0.0.2", "::1"])
def test_auth_header_from_untrusted_peer(wsbridge, tmp_path, script,
                                         trusted):
    srv = sso_server(wsbridge, tmp_path, script, trusted)
    status, head = handshake(srv.port, "/sso", [("X-Remote-User", "carol")])
    assert status == 401, head


def test_auth_header_untrusted_falls_back_to_basic(wsbridge, tmp_path,
                                                   script, htpasswd):
    srv = sso_server(wsbridge, tmp_path, script, "10.0.0.0/8", htpasswd)
    status, head = handshake(srv.port, "/sso", [("X-Remote-User", "alice")])
    assert status == 401, head
    env = env_of(srv.port, "/sso", [("X-Remote-User", "carol"),
                                    basic("alice", "wonderland")])
    assert env.get("REMOTE_USER") == "alice", env


# --------------------------------------------------------------------------
# Origins
# --------------------------------------------------------------------------


ORIGIN_CASES = [
    ("http://good.example:8080", 101),
    ("HTTP://Good.Example:8080", 101),
    ("http://good.example:8081", 403),
    ("https://good.example:8080", 403),
    ("http://good.example", 403),
    ("http://good.example:8080.evil.example", 403),
    ("https://a.trusted.example", 101),
    ("http://x.y.trusted.example:9000", 101),
    ("http://trusted.example", 403),
    ("http://eviltrusted.example", 403),
    ("http://trusted.example.evil", 403),
    ("http://anyport.example:1", 101),
    ("https://anyport.example:65535", 101),
    ("http://anyport.example", 101),        # ":*": any port, or none
    ("http://evil.example", 403),
    ("null", 403),
    (None, 403),
]


@pytest.fixture(scope="module")
def origin_m(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("origin")
    with shared.servers(tmp_path) as start:
        srv, _ = start_config(start, tmp_path, (
            "[route /o]\necho = yes\norigins = http://good.example:8080, "
            "*.trusted.example, anyport.example:*\n"
            "[route /same]\necho = yes\nsame_origin = yes\n"
            "[route /any]\necho = yes\n"))
        yield srv


@pytest.fixture
def origin_server(origin_m, request):
    with shared.window(origin_m, request) as srv:
        yield srv


@pytest.mark.parametrize("origin,expected", ORIGIN_CASES,
                         ids=[str(o) for o, _ in ORIGIN_CASES])
def test_origins(origin_server, origin, expected):
    hdrs = [("Origin", origin)] if origin is not None else []
    status, head = handshake(origin_server.port, "/o", hdrs)
    assert status == expected, head
    if status == 101:
        send_frame(head.conn, OP_TEXT, "hi")
        assert recv_message(head.conn) == (OP_TEXT, b"hi")
        close_ws(head.conn)
    # A route without origins takes anything.
    status, head = handshake(origin_server.port, "/any", hdrs)
    assert status == 101, head
    close_ws(head.conn)


def test_same_origin(origin_server):
    port = origin_server.port
    for origin, expected in (("http://127.0.0.1:%d" % port, 101),
                             ("https://127.0.0.1:%d" % port, 101),
                             ("http://127.0.0.1:%d" % (port + 1), 403),
                             ("http://127.0.0.1", 403),
                             ("http://evil.example:%d" % port, 403),
                             (None, 403)):
        hdrs = [("Origin", origin)] if origin else []
        status, head = handshake(port, "/same", hdrs)
        assert status == expected, (origin, head)
        if status == 101:
            close_ws(head.conn)
    # The Host header is what the origin is compared with.
    status, head = handshake(port, "/same", [("Host", "app.example"),
                                             ("Origin", "http://app.example")])
    assert status == 101, head
    close_ws(head.conn)


# --------------------------------------------------------------------------
# Limits
# --------------------------------------------------------------------------


def open_counted(port, path, n):
    """Open n connections; the readiness probe of the fixture may still
    be counted for a moment, so a refusal is retried (bounded)."""
    conns = []
    for _ in range(n):
        def attempt():
            status, head = handshake(port, path)
            return head.conn if status == 101 else None
        conns.append(wait_until(attempt, 5, interval=0.05,
                                what="a connection under the limit"))
    return conns


def assert_retry_after(head, status):
    assert head.status == status, head
    ra = head.header("retry-after")
    assert ra is not None and ra.isdigit(), head


def reopen_after_close(port, path, conns):
    """Close one connection; a new one gets in (once the server saw the
    close)."""
    close_ws(conns.pop())

    def attempt():
        status, head = handshake(port, path)
        return head.conn if status == 101 else None
    conns.append(wait_until(attempt, 5, interval=0.05,
                            what="a connection after one closed"))


def test_server_max_connections_503(wsbridge, tmp_path):
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /a]\necho = yes\n[route /b]\necho = yes\n",
                          server_extra="max_connections = 2\n")
    conns = open_counted(srv.port, "/a", 2)
    try:
        for path in ("/a", "/b"):
            status, head = handshake(srv.port, path)
            assert_retry_after(head, 503)
        # The open ones still work.
        send_frame(conns[0], OP_TEXT, "x")
        assert recv_message(conns[0]) == (OP_TEXT, b"x")
        reopen_after_close(srv.port, "/b", conns)
        status, head = handshake(srv.port, "/a")
        assert_retry_after(head, 503)
    finally:
        for c in conns:
            c.close()


def test_route_max_connections_429(wsbridge, tmp_path):
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /limited]\necho = yes\nmax_connections = 1\n"
                          "[route /free]\necho = yes\n")
    conns = open_counted(srv.port, "/limited", 1)
    try:
        status, head = handshake(srv.port, "/limited")
        assert_retry_after(head, 429)
        # Other routes are not limited by it.
        conns += open_counted(srv.port, "/free", 2)
        reopen_after_close(srv.port, "/limited", conns[:1])
    finally:
        for c in conns:
            c.close()


def test_max_connections_per_ip_429(wsbridge, tmp_path):
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /a]\necho = yes\n[route /b]\necho = yes\n",
                          server_extra="max_connections_per_ip = 2\n")
    conns = open_counted(srv.port, "/a", 2)
    try:
        for path in ("/a", "/b"):
            status, head = handshake(srv.port, path)
            assert_retry_after(head, 429)
        reopen_after_close(srv.port, "/b", conns)
        status, head = handshake(srv.port, "/a")
        assert_retry_after(head, 429)
        # Closing both frees both.
        close_ws(conns.pop())
        close_ws(conns.pop())
        conns += open_counted(srv.port, "/a", 2)
    finally:
        for c in conns:
            c.close()


# --------------------------------------------------------------------------
# Privilege drop
# --------------------------------------------------------------------------


def status_ids(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return [int(x) for x in line.split()[1:]]
    raise AssertionError("no %s line for %d" % (field, pid))


def test_privilege_drop_to_nobody(wsbridge, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to drop privileges")
    try:
        nobody = pwd.getpwnam("nobody")
        nogroup = grp.getgrnam("nogroup")
    except KeyError:
        pytest.skip("no user nobody / group nogroup here")
    # id from PATH: the test's tmp dir is not reachable by nobody.
    srv, _ = start_config(wsbridge, tmp_path,
                          '[route /id]\nexec = sh -c "id -u; id -g; id -G"\n',
                          server_extra="user = nobody\ngroup = nogroup\n")
    uid, gid = nobody.pw_uid, nogroup.gr_gid
    # The daemon itself: every uid and gid, and no supplementary groups
    # left from root. It listens first and drops just after: wait for it.
    wait_until(lambda: status_ids(srv.pid, "Uid") == [uid] * 4, 5,
               what="the daemon to drop to nobody")
    assert status_ids(srv.pid, "Gid") == [gid] * 4
    assert 0 not in status_ids(srv.pid, "Groups")
    s = wsutil.ws_session(srv.url("/id"))
    assert s.messages[:2] == [str(uid), str(gid)], s.messages
    assert "0" not in s.messages[2].split(), s.messages
    assert "running as root" not in srv.log()


def test_wrong_password_flood_gets_503_not_a_stalled_loop(wsbridge,
                                                          tmp_path):
    # Passwords are hashed on a few threads, at most 4 checks in flight
    # per client address (issue 13): a burst of 12 wrong passwords at
    # once gets 503 + Retry-After for the ones past that, at once, and
    # 401 for the others; the loop never waits for a hash.
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    slow = crypt.crypt("right", crypt.mksalt(crypt.METHOD_SHA512,
                                             rounds=400000))
    pw = tmp_path / "slow.htpasswd"
    pw.write_text("ann:%s\n" % slow)
    srv, _ = start_config(wsbridge, tmp_path, (
        "[route /e]\necho = yes\nauth = basic\nauth_file = %s\n" % pw))
    name, value = basic("ann", "wrong")
    conns = []
    for _ in range(12):
        c = wsutil.connect_tcp(srv.port)
        c.sendall(wsutil.request_bytes("GET", "/e", [
            ("Host", "127.0.0.1:%d" % srv.port), ("Upgrade", "websocket"),
            ("Connection", "Upgrade"), ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", wsutil.make_key()), (name, value)]))
        conns.append(c)
    heads = [wsutil.read_response(c, timeout=60) for c in conns]
    for c in conns:
        c.close()
    seen = [h.status for h in heads]
    assert set(seen) == {401, 503}, seen
    assert seen.count(503) >= 12 - 4, seen
    for h in heads:
        if h.status == 503:
            assert h.header("retry-after"), h
