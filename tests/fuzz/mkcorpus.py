#!/usr/bin/python3
"""Write the seed corpora under tests/fuzz/corpus/ (run from the top).

Each seed is small and named for what it holds. The generated files are
committed; rerun this after changing a target's input layout.
Layouts: frames and handshake inputs start with an options byte and four
chunk sizes (0 = the rest), url inputs with the path and query buffer
sizes; see the top of each fuzz_*.c.
"""
import os
import shutil
import struct

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
MASK = bytes.fromhex("37fa213d")


def put(target, name, data):
    d = os.path.join(TOP, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def frame(opcode, payload, fin=True, mask=MASK, rsv=0, length=None):
    n = len(payload) if length is None else length
    b = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    m = 0x80 if mask is not None else 0
    if n <= 125:
        b += bytes([m | n])
    elif n <= 0xffff:
        b += bytes([m | 126]) + struct.pack(">H", n)
    else:
        b += bytes([m | 127]) + struct.pack(">Q", n)
    if mask is None:
        return b + payload
    return b + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload))


# options byte: bit 0 = client side (no mask needed), bits 1..3 max_len
# index (0 unlimited, 1, 16, 125, 126, 65535, 65536, 1M).
WHOLE = bytes([0, 0, 0, 0])
BYTES = bytes([1, 1, 1, 1])
ODD = bytes([3, 7, 2, 5])


def frames():
    hello = b"Hello"
    # RFC 6455 5.7 examples.
    put("frames", "rfc-unmasked-hello", b"\x01" + WHOLE +
        bytes.fromhex("810548656c6c6f"))
    put("frames", "rfc-masked-hello", b"\x00" + WHOLE +
        bytes.fromhex("818537fa213d7f9f4d5158"))
    put("frames", "rfc-masked-hello-bytewise", b"\x00" + BYTES +
        bytes.fromhex("818537fa213d7f9f4d5158"))
    put("frames", "rfc-fragmented-unmasked", b"\x01" + ODD +
        bytes.fromhex("010348656c80026c6f"))
    put("frames", "rfc-ping-pong", b"\x00" + WHOLE +
        frame(0x9, hello) + frame(0xa, hello))
    put("frames", "binary-256", b"\x00" + ODD + frame(0x2, bytes(range(256))))
    put("frames", "binary-65536-header", b"\x0a" + WHOLE +
        frame(0x2, b"", length=65536) + b"abc")
    put("frames", "len-126-at-limit", b"\x08" + BYTES +
        frame(0x2, b"x" * 126))
    put("frames", "len-127-over-limit", b"\x08" + WHOLE +
        frame(0x1, b"y" * 127))
    put("frames", "fragmented-text-ping-between", b"\x00" + ODD +
        frame(0x1, "κό".encode(), fin=False) + frame(0x9, b"p") +
        frame(0x0, "σμε".encode()[:3], fin=False) +
        frame(0x0, "σμε".encode()[3:]))
    utf = "€𝄞".encode()
    put("frames", "utf8-split-in-char", b"\x00" + BYTES +
        frame(0x1, utf[:2], fin=False) + frame(0x0, utf[2:5], fin=False) +
        frame(0x0, utf[5:]))
    put("frames", "utf8-bad-across-fragments", b"\x00" + ODD +
        frame(0x1, b"\xce", fin=False) + frame(0x0, b"\x41"))
    put("frames", "utf8-truncated-at-end", b"\x00" + WHOLE +
        frame(0x1, b"ok\xe2\x82"))
    put("frames", "empty-fin-text", b"\x00" + WHOLE + frame(0x1, b"") +
        frame(0x1, b"", fin=False) + frame(0x0, b""))
    put("frames", "close-1000-reason", b"\x00" + ODD +
        frame(0x8, b"\x03\xe8bye"))
    put("frames", "close-empty", b"\x00" + WHOLE + frame(0x8, b""))
    put("frames", "close-bad-code", b"\x00" + WHOLE +
        frame(0x8, b"\x03\xed"))
    put("frames", "close-bad-utf8", b"\x00" + WHOLE +
        frame(0x8, b"\x03\xe8\xff"))
    put("frames", "cont-without-start", b"\x00" + WHOLE +
        frame(0x0, b"abc"))
    put("frames", "rsv-bits", b"\x00" + WHOLE + frame(0x1, b"a", rsv=4))
    put("frames", "unmasked-from-client", b"\x00" + WHOLE +
        frame(0x1, b"a", mask=None))
    put("frames", "reserved-opcode", b"\x00" + WHOLE + frame(0x3, b""))
    put("frames", "ping-fragmented", b"\x00" + WHOLE +
        frame(0x9, b"", fin=False))
    put("frames", "ping-126", b"\x00" + WHOLE + frame(0x9, b"z" * 126))
    put("frames", "len-2-63", b"\x00" + WHOLE +
        bytes.fromhex("82ff8000000000000000") + MASK)
    put("frames", "new-data-inside-message", b"\x00" + WHOLE +
        frame(0x1, b"a", fin=False) + frame(0x2, b"b"))


def utf8():
    samples = {
        "ascii": b"Hello, world! 0123456789abcdef",
        "kosme": "κόσμε".encode(),
        "boundaries": "\u0080\u07ff\u0800\uffff\U00010000\U0010ffff"
                      .encode(),
        "ascii-then-multibyte": b"abcdefgh" * 3 + "é€𝄞".encode(),
        "overlong-slash": b"\xc0\xaf\xe0\x80\xaf\xf0\x80\x80\xaf",
        "surrogates": b"\xed\xa0\x80\xed\xbf\xbf",
        "over-10ffff": b"\xf4\x90\x80\x80\xf5\x80",
        "lone-continuations": b"\x80\xbf\x80a",
        "truncated": b"\xe2\x82\xf0\x9f\x98",
        "maximal-subparts": b"\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63"
                            b"\x80\xbf\x64",
        "fe-ff": b"\xfe\xff",
        "nul": b"a\x00b",
    }
    for name, data in samples.items():
        put("utf8", name, data)


def close():
    put("close", "1000", b"\x03\xe8")
    put("close", "1000-reason", b"\x03\xe8normal closure")
    put("close", "1005", b"\x03\xed")
    put("close", "1015", b"\x03\xf7")
    put("close", "4000-utf8", b"\x0f\xa0" + "κόσμε".encode())
    put("close", "3000", b"\x0b\xb8")
    put("close", "one-byte", b"\x03")
    put("close", "bad-utf8", b"\x03\xe8\xc0\xaf")
    put("close", "125", b"\x03\xe9" + b"r" * 123)
    put("close", "126", b"\x03\xe9" + b"r" * 124)
    # A reason cut at 123 bytes inside a 4-byte character.
    put("close", "long-multibyte", b"\x03\xe8" + b"a" * 121 +
        "𝄞𝄞".encode())
    put("close", "code-0", b"\x00\x00reason")


def handshake():
    rfc = (b"GET /chat HTTP/1.1\r\n"
           b"Host: server.example.com\r\n"
           b"Upgrade: websocket\r\n"
           b"Connection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           b"Origin: http://example.com\r\n"
           b"Sec-WebSocket-Protocol: chat, superchat\r\n"
           b"Sec-WebSocket-Version: 13\r\n\r\n")
    put("handshake", "rfc-upgrade", b"\x00" + WHOLE + rfc)
    put("handshake", "rfc-upgrade-bytewise", b"\x00" + BYTES + rfc)
    put("handshake", "rfc-upgrade-odd-cuts", b"\x00" + ODD + rfc)
    put("handshake", "upgrade-then-frame", b"\x00" + ODD + rfc +
        bytes.fromhex("818537fa213d7f9f4d5158"))
    put("handshake", "pipelined-gets", b"\x00" + WHOLE +
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
        b"GET /b?x=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    put("handshake", "http10", b"\x00" + WHOLE +
        b"GET / HTTP/1.0\r\nUpgrade: websocket\r\n\r\n")
    put("handshake", "post-upgrade", b"\x00" + WHOLE +
        rfc.replace(b"GET", b"POST", 1))
    put("handshake", "version-8", b"\x00" + WHOLE +
        rfc.replace(b"Version: 13", b"Version: 8"))
    put("handshake", "bad-key", b"\x00" + WHOLE +
        rfc.replace(b"dGhlIHNhbXBsZSBub25jZQ==", b"short=="))
    put("handshake", "no-host", b"\x00" + WHOLE +
        rfc.replace(b"Host: server.example.com\r\n", b""))
    put("handshake", "chunked-body", b"\x00" + WHOLE +
        b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\n")
    put("handshake", "content-length", b"\x00" + WHOLE +
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc")
    put("handshake", "absolute-url", b"\x00" + WHOLE +
        b"GET http://h:80/p%20q?x#f HTTP/1.1\r\nHost: h\r\n\r\n")
    put("handshake", "space-before-colon", b"\x00" + WHOLE +
        b"GET / HTTP/1.1\r\nHost : a\r\n\r\n")
    put("handshake", "obs-fold", b"\x00" + WHOLE +
        b"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n")
    put("handshake", "small-max-head", b"\x02" + WHOLE + rfc)
    put("handshake", "many-headers", b"\x00" + ODD +
        b"GET / HTTP/1.1\r\n" + b"".join(
            b"X-%d: v\r\n" % i for i in range(101)) + b"\r\n")
    put("handshake", "token-lists", b"\x00" + WHOLE +
        rfc.replace(b"Connection: Upgrade",
                    b"Connection: keep-alive, ,Upgrade")
        .replace(b"chat, superchat", b" ,, v2.bin ,chat"))
    put("handshake", "garbage", b"\x00" + WHOLE + b"\x16\x03\x01\x00")


def url():
    urls = {
        "root": b"/",
        "chat": b"/chat",
        "query-fragment": b"/a%20b/c?x=1&y=%41#frag",
        "absolute": b"http://host:8080/p?q",
        "absolute-no-path": b"https://host?q=1",
        "nul-escape": b"/a%00b",
        "bad-escape": b"/a%zz",
        "short-escape": b"/a%4",
        "asterisk": b"*",
        "dotdot": b"/..%2f..%2Fetc/passwd",
        "empty-query": b"/x?",
        "high-bytes": b"/\xc3\xa9%C3%A9",
    }
    for name, u in urls.items():
        put("url", name, b"\x40\x40" + u)
    put("url", "tiny-buffers", b"\x02\x01/ab?cd")
    put("url", "no-query-buffer", b"\x10\xff/ab?cd")


def config():
    top = os.path.dirname(os.path.dirname(os.path.dirname(TOP)))
    shutil.copy(os.path.join(top, "conf", "wsbridge.ini"),
                os.path.join(TOP, "config", "wsbridge.ini"))
    put("config", "minimal", b"[route /echo]\necho = yes\n")
    put("config", "every-type", b"""[server]
listen = 127.0.0.1:8080
listen = [::1]:8081
listen = unix:/tmp/x.sock
workers = auto
max_connections = 10
handshake_timeout = 10s
max_header_size = 16K
devconsole = yes
log_level = debug
header = X-A: b
[tls]
listen = :8443
cert = c.pem
[route /x/*]
exec = "a b" 'c d' e\\ f
mode = pty
origins = a, b,
env = A=1
env = B=2
protocols = chat
max_message_size = 1M
ping_interval = 0
close_grace = 500ms
[route /t]
connect = unix:/run/x
""")
    put("config", "errors", b"""key = outside
[server]
max_connections = 1X
max_connections = 2
bogus = 1
[route /a]
echo = maybe
exec = "unterminated
[route nope]
 indented = 1
[other]
""" + b"x = " + b"y" * 210 + b"\n")
    put("config", "crlf", b"[route /a]\r\necho = yes\r\n; c\r\n")


def pty():
    # byte 0: the token buffer size; then an init or resize message
    msgs = {
        "init-ttyd": b'{"AuthToken":"","columns":80,"rows":24}',
        "init-empty": b"{}",
        "init-token": b'{"AuthToken":"s3cr\\u0065t","rows":50}',
        "resize": b'{"columns":132,"rows":43}',
        "resize-max": b'{"columns":4096,"rows":4096}',
        "resize-over": b'{"columns":4097,"rows":1}',
        "float": b'{"columns":80.0,"rows":24}',
        "string-size": b'{"columns":"80","rows":24}',
        "nested": b'{"x":[1,{"y":null}],"AuthToken":5}',
        "trailing": b"{}{}",
        "truncated": b'{"columns":80',
        "nul-inside": b'{"a":"\x00"}',
    }
    for name, m in msgs.items():
        put("pty", name, b"\x10" + m)
    put("pty", "token-cut", b"\x04" + b'{"AuthToken":"abcdefgh"}')
    put("pty", "token-no-buffer", b"\x00" + b'{"AuthToken":"abc"}')
    put("pty", "at-limit", b"\x10{" + b" " * 4094 + b"}")
    put("pty", "over-limit", b"\x10{" + b" " * 4095 + b"}")


if __name__ == "__main__":
    os.makedirs(os.path.join(TOP, "config"), exist_ok=True)
    frames()
    utf8()
    close()
    handshake()
    url()
    config()
    pty()
