"""Issue 3: static files (SPEC 6): static_dir / --staticdir, GET and HEAD,
index.html, no listings, no dotfiles, no escape from the root, MIME types,
Last-Modified/ETag/304, keep-alive; --devconsole.  Raw sockets throughout so
the request target reaches wsbridge exactly as written."""

import os

import pytest

import shared
import wsutil
from cfgutil import start_config, http_request, send_http, read_http

FILES = {
    "index.html": b"<!doctype html><h1>home</h1>\n",
    "style.css": b"body { color: red }\n",
    "app.js": b"console.log('hi');\n",
    "data.json": b'{"a": 1}\n',
    "pic.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
    "notes.txt": b"plain text\n",
    "icon.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>\n",
    "blob.unknownext": b"\x00\x01\x02",
    "sub/index.html": b"<p>sub index</p>\n",
    "sub/page.html": b"<p>sub page</p>\n",
    "noindex/a.txt": b"listing-would-show-this\n",
    ".secret": b"DOTFILE-SECRET\n",
    ".git/config": b"DOTDIR-SECRET\n",
    "sub/.env": b"DOTFILE-SECRET\n",
}
OUTSIDE = b"OUTSIDE-SECRET\n"


def make_www(tmp_path):
    root = tmp_path / "www"
    for name, data in FILES.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    (tmp_path / "outside.txt").write_bytes(OUTSIDE)
    (tmp_path / "outdir").mkdir()
    (tmp_path / "outdir" / "index.html").write_bytes(OUTSIDE)
    os.symlink(str(tmp_path / "outside.txt"), str(root / "link-out.txt"))
    os.symlink("../outside.txt", str(root / "rel-out.txt"))
    os.symlink(str(tmp_path / "outdir"), str(root / "dirlink"))
    return root


@pytest.fixture
def www(tmp_path):
    return make_www(tmp_path)


def start_static(wsbridge, tmp_path):
    srv, _ = start_config(wsbridge, tmp_path, "[route /ws]\necho = yes\n",
                          server_extra="static_dir = www\n")
    return srv


# The tests that only read the tree share one server (shared.py).
@pytest.fixture(scope="module")
def static_m(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("static")
    make_www(tmp)
    with shared.servers(tmp) as start:
        yield start_static(start, tmp)


@pytest.fixture
def static_srv(static_m, request):
    with shared.window(static_m, request) as srv:
        yield srv


def get(srv, path, headers=()):
    return http_request(srv.port, "GET", path, headers)


@pytest.mark.parametrize("name", ["index.html", "style.css", "pic.png",
                                  "sub/page.html", "blob.unknownext"])
def test_get_file(static_srv, name):
    head = get(static_srv, "/" + name)
    assert head.status == 200, head
    assert head.body == FILES[name]
    assert int(head.header("content-length")) == len(FILES[name])


def test_index_html_for_directories(static_srv):
    head = get(static_srv, "/")
    assert head.status == 200 and head.body == FILES["index.html"], head
    head = get(static_srv, "/sub/")
    assert head.status == 200 and head.body == FILES["sub/index.html"], head


def test_directory_without_slash_redirects(static_srv):
    head = get(static_srv, "/sub")
    # 301 to /sub/ (or the index directly); never a listing.
    if head.status == 301:
        assert head.header("location").endswith("/sub/"), head
    else:
        assert head.status == 200 and head.body == FILES["sub/index.html"]


def test_no_directory_listing(static_srv):
    head = get(static_srv, "/noindex/")
    assert head.status == 404, head
    assert b"a.txt" not in head.body
    # The file itself is served.
    assert get(static_srv, "/noindex/a.txt").status == 200


@pytest.mark.parametrize("name,mime", [
    ("index.html", "text/html"),
    ("style.css", "text/css"),
    ("app.js", "javascript"),
    ("data.json", "application/json"),
    ("pic.png", "image/png"),
    ("notes.txt", "text/plain"),
    ("icon.svg", "image/svg+xml"),
    ("blob.unknownext", "application/octet-stream"),
])
def test_mime_types(static_srv, name, mime):
    head = get(static_srv, "/" + name)
    assert head.status == 200
    ctype = head.header("content-type") or ""
    assert mime in ctype, (name, ctype)


@pytest.mark.parametrize("path", [
    "/.secret", "/%2esecret", "/.git/config", "/.git/", "/sub/.env",
    "/sub/%2Eenv",
])
def test_dotfiles_404(static_srv, path):
    head = get(static_srv, path)
    assert head.status == 404, (path, head)
    assert b"SECRET" not in head.body


@pytest.mark.parametrize("path", [
    "/../outside.txt",
    "/sub/../../outside.txt",
    "/%2e%2e/outside.txt",
    "/%2E%2E/outside.txt",
    "/.%2e/outside.txt",
    "/..%2foutside.txt",
    "/%2e%2e%2foutside.txt",
    "/sub/%2e%2e/%2e%2e/outside.txt",
    "/link-out.txt",
    "/rel-out.txt",
    "/dirlink/",
    "/dirlink/index.html",
])
def test_no_escape_from_root(static_srv, path):
    head = get(static_srv, path)
    assert b"SECRET" not in head.body, (path, head)
    assert head.status == 404, (path, head)


def test_dotdot_inside_root_not_served_outside(static_srv):
    # Resolving /sub/../index.html inside the root may serve the index or
    # refuse; it must never be anything else.
    head = get(static_srv, "/sub/../index.html")
    assert head.status in (200, 400, 404), head
    if head.status == 200:
        assert head.body == FILES["index.html"]


def test_head_has_no_body(static_srv):
    conn = wsutil.connect_tcp(static_srv.port)
    try:
        send_http(conn, static_srv.port, "HEAD", "/style.css")
        head = read_http(conn, head_only=True)
        assert head.status == 200, head
        assert int(head.header("content-length")) == len(FILES["style.css"])
        assert "text/css" in head.header("content-type")
        # If a body followed, the next response would not start with a
        # status line.
        send_http(conn, static_srv.port, "GET", "/notes.txt")
        nxt = read_http(conn)
        assert nxt.status == 200 and nxt.body == FILES["notes.txt"], nxt
    finally:
        conn.close()


def test_head_and_get_same_headers(static_srv):
    h1 = http_request(static_srv.port, "HEAD", "/app.js")
    h2 = get(static_srv, "/app.js")
    for name in ("content-length", "content-type", "etag", "last-modified"):
        assert h1.header(name) == h2.header(name), name


def test_validators_and_304(static_srv):
    head = get(static_srv, "/style.css")
    etag = head.header("etag")
    lm = head.header("last-modified")
    assert etag, head
    assert lm and lm.endswith("GMT"), head
    r = get(static_srv, "/style.css", [("If-None-Match", etag)])
    assert r.status == 304, r
    assert r.body == b""
    r = get(static_srv, "/style.css", [("If-Modified-Since", lm)])
    assert r.status == 304, r
    r = get(static_srv, "/style.css", [("If-None-Match", '"not-the-etag"')])
    assert r.status == 200 and r.body == FILES["style.css"], r
    r = get(static_srv, "/style.css",
            [("If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")])
    assert r.status == 200, r


def test_etag_changes_with_content(wsbridge, tmp_path, www):
    # It changes a file: a tree and a server of its own.
    static_srv = start_static(wsbridge, tmp_path)
    etag1 = get(static_srv, "/notes.txt").header("etag")
    (www / "notes.txt").write_bytes(b"changed content, longer than before\n")
    r = get(static_srv, "/notes.txt", [("If-None-Match", etag1)])
    assert r.status == 200, r
    assert r.body == b"changed content, longer than before\n"
    assert r.header("etag") != etag1


def test_keep_alive_two_requests(static_srv):
    conn = wsutil.connect_tcp(static_srv.port)
    try:
        send_http(conn, static_srv.port, "GET", "/style.css")
        a = read_http(conn)
        send_http(conn, static_srv.port, "GET", "/app.js")
        b = read_http(conn)
        assert (a.status, a.body) == (200, FILES["style.css"]), a
        assert (b.status, b.body) == (200, FILES["app.js"]), b
        # Pipelined: both requests in one write.
        conn.sendall(
            wsutil.request_bytes("GET", "/notes.txt",
                                 [("Host", "x")]) +
            wsutil.request_bytes("GET", "/data.json", [("Host", "x")]))
        c = read_http(conn)
        d = read_http(conn)
        assert c.body == FILES["notes.txt"] and d.body == FILES["data.json"]
    finally:
        conn.close()


def test_keep_alive_after_404(static_srv):
    conn = wsutil.connect_tcp(static_srv.port)
    try:
        send_http(conn, static_srv.port, "GET", "/nope.txt")
        a = read_http(conn)
        assert a.status == 404
        if (a.header("connection") or "").lower() == "close":
            return      # closing after an error is allowed
        send_http(conn, static_srv.port, "GET", "/notes.txt")
        assert read_http(conn).body == FILES["notes.txt"]
    finally:
        conn.close()


def test_connection_close_honoured(static_srv):
    conn = wsutil.connect_tcp(static_srv.port)
    try:
        send_http(conn, static_srv.port, "GET", "/notes.txt",
                  [("Connection", "close")])
        a = read_http(conn)
        assert a.body == FILES["notes.txt"]
        assert conn.recv_to_eof(timeout=5) == b""
    finally:
        conn.close()


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_other_methods_405(static_srv, method):
    head = http_request(static_srv.port, method, "/index.html",
                        [("Content-Length", "0")])
    assert head.status == 405, head
    allow = [t.strip().upper() for t in (head.header("allow") or "").split(",")]
    assert "GET" in allow and "HEAD" in allow, head


def test_websocket_route_still_works_beside_static(static_srv):
    s = wsutil.ws_session(static_srv.url("/ws"), ["x"], done=wsutil.count(1))
    assert s.messages == ["x"]


def test_staticdir_flag(wsbridge, tmp_path, www):
    srv = wsbridge("--staticdir", str(www), "/bin/cat")
    head = get(srv, "/style.css")
    assert head.status == 200 and head.body == FILES["style.css"], head
    assert get(srv, "/").body == FILES["index.html"]
    # With a COMMAND every path is a route: a path the static dir refuses
    # falls through to it (a plain GET on a route is 426), never a leak.
    for path in ("/.secret", "/%2e%2e/outside.txt", "/link-out.txt"):
        head = get(srv, path)
        assert head.status in (404, 426), (path, head)
        assert b"SECRET" not in head.body
    # WebSocket upgrades still reach the command.
    s = wsutil.ws_session(srv.url("/"), ["hello"], done=wsutil.count(1))
    assert s.messages == ["hello"]


def test_websockify_style_with_staticdir(wsbridge, tmp_path, www):
    import socket as _s
    from cfgutil import Backend, echo_handler
    b = Backend(echo_handler)
    try:
        srv = wsbridge("--connect", b.addr, "--staticdir", str(www))
        assert get(srv, "/index.html").body == FILES["index.html"]
        s = wsutil.ws_session(srv.url("/websockify"), [b"rfb"],
                              done=wsutil.count(1))
        assert s.messages == [b"rfb"]
    finally:
        b.stop()


def test_devconsole_flag(wsbridge):
    srv = wsbridge("--devconsole", "--echo")
    head = get(srv, "/some/route")
    assert head.status == 200, head
    assert "text/html" in (head.header("content-type") or "")
    assert b"<html" in head.body.lower() or b"<!doctype" in head.body.lower()
    # The console still leaves WebSocket upgrades alone.
    s = wsutil.ws_session(srv.url("/some/route"), ["x"], done=wsutil.count(1))
    assert s.messages == ["x"]


def test_devconsole_config(wsbridge, tmp_path):
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /e]\necho = yes\n",
                          server_extra="devconsole = yes\n")
    head = get(srv, "/e")
    assert head.status == 200, head
    assert "text/html" in (head.header("content-type") or "")


def test_devconsole_unrouted_path_404(wsbridge, tmp_path):
    # SPEC 4: a path with no route and no static file is 404; the console
    # belongs to route paths only.
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /e]\necho = yes\n",
                          server_extra="devconsole = yes\n")
    head = get(srv, "/nowhere")
    assert head.status == 404, head


def test_custom_headers_on_every_response(wsbridge, tmp_path, www):
    # header: every response; header_http: plain HTTP only; header_ws: the
    # 101 only (websocketd --header, --header-http, --header-ws).
    srv, _ = start_config(
        wsbridge, tmp_path, "[route /ws]\necho = yes\n",
        server_extra="static_dir = %s\nheader = X-All: 1\n"
                     "header_http = X-Http: 2\nheader_ws = X-Ws: 3\n" % www)
    for path, status in (("/index.html", 200), ("/missing", 404),
                         ("/ws", 426)):
        head = http_request(srv.port, "GET", path)
        assert head.status == status, (path, head)
        assert head.header("x-all") == "1", (path, head)
        assert head.header("x-http") == "2", (path, head)
        assert head.header("x-ws") is None, (path, head)
    head = http_request(srv.port, "POST", "/index.html")
    assert head.status == 405 and head.header("x-all") == "1"
    conn, head, _ = wsutil.raw_handshake(srv.port, "/ws")
    assert head.status == 101
    assert head.header("x-all") == "1" and head.header("x-ws") == "3"
    assert head.header("x-http") is None
    conn.close()
