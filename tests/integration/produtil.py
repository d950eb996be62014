"""Helpers for the production front door tests (issue 4): certificates
made with the openssl CLI, TLS clients (python's ssl over raw sockets and
python3-websockets), programs that print their environment, PROXY
protocol headers.  Every wait is bounded."""

import socket
import ssl
import struct
import subprocess

import wsutil
from wsutil import RawConn, read_response, request_bytes, make_key, \
    accept_for

# --------------------------------------------------------------------------
# Certificates (openssl CLI, EC P-256 keys: fast to make)
# --------------------------------------------------------------------------


def openssl(*args, cwd=None, input=None):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, input=input,
                       capture_output=True, timeout=30)
    assert r.returncode == 0, "openssl %s failed: %s" % (
        " ".join(args), r.stderr.decode(errors="replace"))
    return r.stdout


def _newkey(path):
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-out", str(path))


class Certs:
    """A test CA and certificates it signs, in directory d."""

    def __init__(self, d):
        self.d = d
        self.ca_key = d / "ca.key"
        self.ca = d / "ca.pem"
        _newkey(self.ca_key)
        openssl("req", "-x509", "-new", "-key", str(self.ca_key),
                "-out", str(self.ca), "-days", "2",
                "-subj", "/O=wsbridge tests/CN=wsbridge test CA",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self._serial = 100

    def issue(self, name, subject, san=None, usage="serverAuth",
              self_signed=False):
        """Make NAME.key and NAME.pem; return (cert path, key path)."""
        key = self.d / (name + ".key")
        cert = self.d / (name + ".pem")
        csr = self.d / (name + ".csr")
        ext = self.d / (name + ".ext")
        _newkey(key)
        lines = ["basicConstraints = CA:FALSE",
                 "keyUsage = critical, digitalSignature",
                 "extendedKeyUsage = " + usage]
        if san:
            lines.append("subjectAltName = " + san)
        ext.write_text("\n".join(lines) + "\n")
        openssl("req", "-new", "-key", str(key), "-out", str(csr),
                "-subj", subject)
        self._serial += 1
        if self_signed:
            openssl("x509", "-req", "-in", str(csr), "-signkey", str(key),
                    "-out", str(cert), "-days", "2", "-extfile", str(ext),
                    "-set_serial", str(self._serial))
        else:
            openssl("x509", "-req", "-in", str(csr), "-CA", str(self.ca),
                    "-CAkey", str(self.ca_key), "-out", str(cert),
                    "-days", "2", "-extfile", str(ext),
                    "-set_serial", str(self._serial))
        return cert, key


def pem_der(path):
    """DER bytes of the first certificate in a PEM file."""
    text = open(path).read()
    end = "-----END CERTIFICATE-----"
    return ssl.PEM_cert_to_DER_cert(text[:text.index(end) + len(end)])


def client_context(ca, cert=None, key=None):
    ctx = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        ctx.load_cert_chain(str(cert), str(key))
    return ctx


def tls_socket(port, ctx, server_hostname="localhost", timeout=5.0):
    """TCP connect and TLS handshake; returns the SSLSocket."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s = ctx.wrap_socket(raw, server_hostname=server_hostname)
    except BaseException:
        raw.close()
        raise
    s.settimeout(timeout)
    return s


def tls_handshake(port, ctx, path="/", headers=(), server_hostname=
                  "localhost", timeout=5.0):
    """WebSocket upgrade over TLS; returns (RawConn, Head)."""
    s = tls_socket(port, ctx, server_hostname, timeout)
    conn = RawConn(s)
    key = make_key()
    hdrs = [("Host", "localhost:%d" % port), ("Upgrade", "websocket"),
            ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key),
            ("Sec-WebSocket-Version", "13")] + list(headers)
    try:
        conn.sendall(request_bytes("GET", path, hdrs))
        head = read_response(conn, timeout)
    except BaseException:
        conn.close()
        raise
    head.key = key
    return conn, head


def tls_open_ws(port, ctx, path="/", server_hostname="localhost"):
    conn, head = tls_handshake(port, ctx, path,
                               server_hostname=server_hostname)
    assert head.status == 101, head
    assert head.header("sec-websocket-accept") == accept_for(head.key)
    return conn


# --------------------------------------------------------------------------
# Programs that report what they were given
# --------------------------------------------------------------------------

def env_script(script, marker=None):
    """An exec script printing its environment (one message a line) and
    exiting; with marker, it first appends its pid to that file (spawned
    processes can be counted)."""
    body = ""
    if marker is not None:
        body += "echo $$ >> '%s'\n" % marker
    body += "env\n"
    return script("env.sh", body)


def parse_env(messages):
    env = {}
    for m in messages:
        k, sep, v = m.partition("=")
        if sep:
            env[k] = v
    return env


def session_env(url, **kw):
    """Connect with python3-websockets to an env_script route; return
    (environment dict, Session)."""
    s = wsutil.ws_session(url, **kw)
    return parse_env(s.messages), s


def raw_env(conn, timeout=5.0):
    """Read an env_script's messages on a raw connection up to its
    Close; returns the environment dict."""
    code, _ = wsutil.expect_close(conn, timeout, reply=True, eof=False,
                                  allow_data=True)
    assert code == 1000, code
    return parse_env([p.decode() for _, _, p in conn.seen])


def spawned(marker):
    try:
        return open(marker).read().split()
    except FileNotFoundError:
        return []


# --------------------------------------------------------------------------
# PROXY protocol
# --------------------------------------------------------------------------

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def proxy_v1(src, dst, sport, dport, fam="TCP4"):
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport, dport)
            ).encode()


def proxy_v2(src, dst, sport, dport, tlvs=b"", command=0x1):
    """Binary v2 header (HAProxy's proxy-protocol.txt 2.2), TCP over
    IPv4 or IPv6 picked from the address."""
    if ":" in src:
        fam = 0x21
        addrs = (socket.inet_pton(socket.AF_INET6, src)
                 + socket.inet_pton(socket.AF_INET6, dst))
    else:
        fam = 0x11
        addrs = socket.inet_aton(src) + socket.inet_aton(dst)
    body = addrs + struct.pack("!HH", sport, dport) + tlvs
    return (V2_SIG + bytes([0x20 | command, fam])
            + struct.pack("!H", len(body)) + body)


def parse_proxy_header(read_exact, read_until):
    """Read one PROXY header from a backend socket; return
    (version, src, sport, dst, dport)."""
    first = read_exact(6)
    if first == b"PROXY ":
        line = read_until(b"\r\n")
        parts = line[:-2].decode().split(" ")
        assert parts[0] in ("TCP4", "TCP6"), parts
        return 1, parts[1], int(parts[3]), parts[2], int(parts[4])
    rest = read_exact(10)
    head = first + rest
    assert head[:12] == V2_SIG, "no PROXY signature: %r" % head
    assert head[12] == 0x21, "v2 PROXY command byte %#x" % head[12]
    fam = head[13]
    (n,) = struct.unpack("!H", head[14:16])
    body = read_exact(n)
    if fam == 0x11:
        src = socket.inet_ntoa(body[0:4])
        dst = socket.inet_ntoa(body[4:8])
        sport, dport = struct.unpack("!HH", body[8:12])
    elif fam == 0x21:
        src = socket.inet_ntop(socket.AF_INET6, body[0:16])
        dst = socket.inet_ntop(socket.AF_INET6, body[16:32])
        sport, dport = struct.unpack("!HH", body[32:36])
    else:
        raise AssertionError("v2 family %#x" % fam)
    return 2, src, sport, dst, dport
