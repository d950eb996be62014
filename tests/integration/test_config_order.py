"""Issue 12: `--check` and start-up print configuration errors in file
order (line 2 before line 5), as compilers and `nginx -t` do, whichever
check found them first; errors on one line keep the order found."""

import pytest

from cfgutil import run_bin, write_config
from test_config_cli import error_lines

# Found out of order: exec (5) and cwd (4) are checked after the whole
# file, static_dir (2) after the routes, the unknown key (6) while
# loading, before all of them.
BODY = ("[server]\n"                            # 1
        "static_dir = /nonexistent-dir\n"       # 2
        "[route /a]\n"                          # 3
        "cwd = /nonexistent-cwd\n"              # 4
        "exec = /nonexistent-prog\n"            # 5
        "colour = red\n"                        # 6
        "[route /b]\n"                          # 7
        "echo = yes\n"                          # 8
        "[route /b]\n"                          # 9 duplicate and
        "mode = pty\n"                          # 10 (pty on a socket:
        "connect = 127.0.0.1:1\n")              # 11  reported at line 9)


@pytest.mark.parametrize("check", [True, False], ids=["check", "start"])
def test_errors_in_file_order(tmp_path, check):
    path = write_config(tmp_path, BODY)
    r = run_bin(["-c", str(path)] + (["--check"] if check else []),
                cwd=str(tmp_path))
    out, err = r.stdout.decode(), r.stderr.decode()
    assert r.returncode == 1, out + err
    found = error_lines(path, out, err)
    assert [n for n, _ in found] == [2, 4, 5, 6, 9, 9], out + err
    assert found[-2:] == [
        (9, '[route "/b"]: mode = pty needs exec or dir'),
        (9, '[route "/b"]: duplicate route (first on line 7)')], out + err


def test_check_order_without_load_errors(tmp_path):
    # The case: lines 2, 4 and 5 used to come out 5, 4, 2.
    path = write_config(tmp_path, "".join(BODY.splitlines(True)[:5]))
    r = run_bin(["-c", str(path), "--check"], cwd=str(tmp_path))
    out, err = r.stdout.decode(), r.stderr.decode()
    assert r.returncode == 1, out + err
    assert [n for n, _ in error_lines(path, out, err)] == [2, 4, 5], out + err
