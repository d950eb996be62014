"""record = DIR (issue 15): one recording per session, asciicast v2 for
terminals, JSON lines otherwise; record_max and a full disk stop the
recording (logged once), never the session."""

import glob
import json
import os
import stat
import subprocess

import pytest

import wsutil
from cfgutil import start_config, wait_log
from wsutil import OP_BINARY, OP_TEXT, open_ws, recv_message, send_frame

LINES = """#!/bin/sh
while IFS= read -r line; do echo "got $line"; done
"""


def text(conn, timeout=5):
    op, data = recv_message(conn, timeout)
    assert op == OP_TEXT, op
    return data.decode()


def one_file(d, suffix):
    files = glob.glob(os.path.join(str(d), "*" + suffix))
    assert len(files) == 1, files
    return files[0]


def read_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_text_session_recorded_as_json_lines(wsbridge, tmp_path, script):
    casts = tmp_path / "casts"
    casts.mkdir()
    prog = script("lines.sh", LINES)
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /feed]\nexec = %s\nshare = id\n"
                          "record = %s\n" % (prog, casts))
    a = open_ws(srv.port, "/feed?session=rec1")
    b = open_ws(srv.port, "/feed?session=rec1")
    send_frame(a, OP_TEXT, b"hello")
    assert text(a) == "got hello"
    assert text(b) == "got hello"
    a.close()
    b.close()
    wait_log(srv, "recording ")
    path = one_file(casts, ".jsonl")
    assert os.path.basename(path).startswith("feed-")
    assert path.endswith("-rec1.jsonl"), path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    wsutil.wait_until(lambda: len(read_lines(path)) >= 3, 5,
                      what="the recording's lines")
    lines = read_lines(path)
    assert lines[0]["route"] == "/feed" and lines[0]["session"] == "rec1"
    events = [(x["dir"], x["type"], x["data"]) for x in lines[1:]]
    # Recorded once, not once per client.
    assert events == [("in", "text", "hello"), ("out", "text", "got hello")]
    times = [x["t"] for x in lines[1:]]
    assert times == sorted(times)


PTY_INIT = b'{"AuthToken":"","columns":90,"rows":20}'


def screen(conn, want, timeout=10):
    out = b""
    while want not in out:
        op, data = recv_message(conn, timeout)
        if data[:1] == b"0":
            out += data[1:]
    return out


def test_pty_session_recorded_as_asciicast(wsbridge, tmp_path):
    casts = tmp_path / "casts"
    casts.mkdir()
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /term]\nexec = /bin/sh\nmode = pty\n"
                          "share = id\nrecord = %s\nclose_grace = 200ms\n"
                          % casts)
    w = open_ws(srv.port, "/term?session=c1",
                {"Sec-WebSocket-Protocol": "tty"})
    send_frame(w, OP_BINARY, PTY_INIT)
    send_frame(w, OP_BINARY, b'1{"columns":100,"rows":30}')
    send_frame(w, OP_BINARY, b"0echo REC$((6*7))\r")
    screen(w, b"REC42")
    w.close()
    wait_log(srv, "recording ")
    path = one_file(casts, ".cast")
    wsutil.wait_until(
        lambda: "REC42" in "".join(e[2] for e in read_lines(path)[1:]
                                   if e[1] == "o"), 5,
        what="the output in the recording")
    lines = read_lines(path)
    head = lines[0]
    assert head["version"] == 2
    assert (head["width"], head["height"]) == (90, 20)
    assert head["env"]["TERM"] == "xterm-256color"
    kinds = [e[1] for e in lines[1:]]
    assert "r" in kinds and "i" not in kinds       # input not recorded
    assert [e[2] for e in lines[1:] if e[1] == "r"][0] == "100x30"


def test_record_max_stops_the_recording_not_the_session(wsbridge, tmp_path,
                                                         script):
    casts = tmp_path / "casts"
    casts.mkdir()
    prog = script("lines.sh", LINES)
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /feed]\nexec = %s\nshare = route\n"
                          "record = %s\nrecord_max = 1K\n" % (prog, casts))
    a = open_ws(srv.port, "/feed")
    for i in range(40):
        send_frame(a, OP_TEXT, b"message %d with some padding" % i)
        assert text(a) == "got message %d with some padding" % i
    wait_log(srv, "stopped: record_max reached")
    assert srv.log().count("record_max reached") == 1
    path = one_file(casts, ".jsonl")
    assert os.path.getsize(path) <= 1024 + 64
    assert read_lines(path)[-1].get("marker") == "record_max reached"
    a.close()


def test_full_disk_logged_once_session_goes_on(wsbridge, tmp_path, script):
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    casts = tmp_path / "casts"
    casts.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs",
                    str(casts)], check=True)
    try:
        prog = script("lines.sh", LINES)
        srv, _ = start_config(wsbridge, tmp_path,
                              "[route /feed]\nexec = %s\nshare = route\n"
                              "record = %s\n" % (prog, casts))
        a = open_ws(srv.port, "/feed")
        pad = b"x" * 900
        for i in range(60):      # about 108 KB of recording for 16 KB
            send_frame(a, OP_TEXT, pad + b" %d" % i)
            assert text(a) == "got " + pad.decode() + " %d" % i
        wait_log(srv, "No space left on device")
        assert srv.log().count("No space left on device") == 1
        a.close()
        srv.stop()
    finally:
        subprocess.run(["umount", str(casts)], check=False)
