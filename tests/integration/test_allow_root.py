"""allow_root (issue 4): spawning as root is refused when allow_root = no."""
import os

import pytest

import wsutil
from cfgutil import start_config


pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def upgrade_status(port, path):
    conn, head, _ = wsutil.raw_handshake(port, path)
    conn.close()
    return head.status


def test_allow_root_no_refuses_spawn(wsbridge, tmp_path):
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /x]\nexec = /bin/cat\n",
                          server_extra="allow_root = no\n")
    assert upgrade_status(srv.port, "/x") == 502
    assert "refusing to spawn as root" in srv.log()


def test_allow_root_yes_spawns(wsbridge, tmp_path):
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /x]\nexec = /bin/cat\n",
                          server_extra="allow_root = yes\n")
    assert upgrade_status(srv.port, "/x") == 101
    assert "running as root" not in srv.log()


def test_allow_root_unset_warns(wsbridge, tmp_path):
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /x]\nexec = /bin/cat\n")
    assert upgrade_status(srv.port, "/x") == 101
    wsutil.wait_until(lambda: "running as root" in srv.log(), 5,
                      what="the root warning")
