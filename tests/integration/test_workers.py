"""Issue 4: workers = N (SPEC 7): N processes sharing the listeners with
SO_REUSEPORT under a supervisor that restarts a crashed one and passes
SIGHUP and SIGTERM on to all of them."""

import os
import re
import signal
import subprocess

import pytest

from cfgutil import start_config, wait_log
import wsutil
from wsutil import wait_until, send_frame, recv_message, expect_close, \
    OP_TEXT

RELOADED = "configuration reloaded"


def workers_of(srv, n=2, timeout=10):
    """Poll until the supervisor has exactly n live children and has
    said they are all ready (the port opens with the first); their pids
    (sorted)."""
    def ready():
        if "%d workers ready" % n not in srv.log():
            return None
        kids = [p for p, st in wsutil.children(srv.pid)
                if st not in ("Z", "X")]
        return sorted(kids) if len(kids) == n else None
    return wait_until(ready, timeout, what="%d workers of %d" % (n, srv.pid))


@pytest.fixture
def pool(wsbridge, tmp_path, script):
    # $PPID of a spawned program is the worker that accepted it.
    who = script("who.sh", "echo $PPID\n")
    srv, _ = start_config(wsbridge, tmp_path,
                          "[route /echo]\necho = yes\n"
                          "[route /who]\nexec = %s\n" % who,
                          server_extra="workers = 2\n")
    srv.workers = workers_of(srv)
    return srv


def served_by(srv, n):
    """Which worker served each of n connections to /who."""
    out = []
    for _ in range(n):
        s = wsutil.ws_session(srv.url("/who"))
        assert s.code == 1000 and len(s.messages) == 1, s.messages
        out.append(int(s.messages[0]))
    return out


def echo(srv, text="hi"):
    s = wsutil.ws_session(srv.url("/echo"), [text], done=wsutil.count(1))
    assert s.messages == [text]


def test_two_workers_serve(pool):
    assert len(pool.workers) == 2
    for pid in pool.workers:
        assert wsutil.proc_stat(pid)[1] == pool.pid   # children of it
        # Each one has its own listening socket on the port.
        assert wsutil.fd_count(pid) > 0
    echo(pool, "x" * 70000)
    # The kernel spreads connections over both (by the 4-tuple hash;
    # 40 connections all on one worker: about 2 ** -39).
    seen = served_by(pool, 40)
    assert set(seen) == set(pool.workers), seen
    assert "2 workers ready" in pool.log()


def test_killed_worker_is_replaced(pool):
    victim, survivor = pool.workers
    start = len(pool.log())
    os.kill(victim, signal.SIGKILL)
    # Once the victim's socket is closed (a connection queued on it
    # meanwhile is lost: SO_REUSEPORT does not migrate them), service
    # goes on with the survivor.
    wait_until(lambda: not wsutil.alive(victim), 5, what="the victim gone")

    # A connection racing the victim's socket teardown may be refused by
    # the kernel; service goes on with the survivor right after.
    def echo_ok():
        try:
            echo(pool, "during")
            return True
        except OSError:
            return False
    wait_until(echo_ok, 5, what="an echo served by the survivor")

    def replaced():
        kids = [p for p, st in wsutil.children(pool.pid)
                if st not in ("Z", "X")]
        return sorted(kids) if len(kids) == 2 and victim not in kids \
            else None
    now = wait_until(replaced, 10, what="a replacement worker")
    assert survivor in now
    new = [p for p in now if p != survivor][0]
    log = wait_log(pool, "restarting", start=start)
    assert re.search(r"worker \d+ \(pid %d\) killed by signal 9" % victim,
                     log[start:]), log[start:]
    # The new worker takes connections too (once its socket is up).
    def new_serves():
        return new in served_by(pool, 10)
    wait_until(new_serves, 10, interval=0.1,
               what="the replacement worker serving")
    for i in range(5):
        echo(pool, "after %d" % i)
    assert pool.proc.poll() is None


def test_sighup_reaches_every_worker(pool):
    start = len(pool.log())
    os.kill(pool.pid, signal.SIGHUP)

    def both():
        lines = [l for l in pool.log()[start:].splitlines() if RELOADED in l]
        return lines if len(lines) >= 2 else None
    lines = wait_until(both, 10, what="two reload lines")
    pids = {int(re.search(r"\[(\d+)\]", l).group(1)) for l in lines}
    assert pids == set(pool.workers), (lines, pool.workers)
    # Same workers, still serving.
    assert workers_of(pool) == pool.workers
    echo(pool, "after reload")


def test_sigterm_stops_all(pool):
    conn = wsutil.open_ws(pool.port, "/echo")
    try:
        send_frame(conn, OP_TEXT, "open")
        assert recv_message(conn) == (OP_TEXT, b"open")
        pool.proc.send_signal(signal.SIGTERM)
        code, _ = expect_close(conn, timeout=10, reply=True)
        assert code == 1001
    finally:
        conn.close()
    assert pool.proc.wait(10) == 0
    for pid in pool.workers:
        wait_until(lambda: not wsutil.alive(pid), 5,
                   what="worker %d to exit" % pid)
    assert "all workers stopped" in pool.log()


def test_workers_flag(wsbridge):
    srv = wsbridge("--workers", "2", "--echo")
    workers = workers_of(srv)
    assert len(workers) == 2
    echo(srv, "flag")
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(10) == 0
    for pid in workers:
        wait_until(lambda: not wsutil.alive(pid), 5,
                   what="worker %d to exit" % pid)


def test_sigterm_right_after_worker_crash(wsbridge):
    """Issue 4 bug: SIGTERM while the supervisor restarts a crashed
    worker must still stop everything (the replacement worker included)
    and exit 0."""
    srv = wsbridge("--workers", "2", "--echo", "--shutdown-timeout", "2s")
    victim, survivor = workers_of(srv)
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: not wsutil.alive(victim), 5, what="the victim gone")
    srv.proc.send_signal(signal.SIGTERM)
    try:
        rc = srv.proc.wait(8)
    except subprocess.TimeoutExpired:
        left = [p for p, st in wsutil.children(srv.pid)
                if st not in ("Z", "X")]
        raise AssertionError("supervisor still running 8s after SIGTERM "
                             "(shutdown_timeout 2s); live workers %r; log:"
                             "\n%s" % (left, srv.log()))
    assert rc == 0
    assert not wsutil.alive(survivor)
    assert "all workers stopped" in srv.log()


def test_sigterm_and_sigchld_pending_together(wsbridge):
    """A worker dies and SIGTERM arrives before the supervisor runs: both
    signals are pending at once (the supervisor is stopped meanwhile so
    that they are) and the stop must not be lost to the restart."""
    srv = wsbridge("--workers", "2", "--echo", "--shutdown-timeout", "2s")
    victim, survivor = workers_of(srv)
    both = (1 << (signal.SIGTERM - 1)) | (1 << (signal.SIGCHLD - 1))

    def pending():
        with open("/proc/%d/status" % srv.pid) as f:
            masks = [int(line.split()[1], 16) for line in f
                     if line.startswith(("SigPnd:", "ShdPnd:"))]
        return (masks[0] | masks[1]) & both == both

    os.kill(srv.pid, signal.SIGSTOP)
    try:
        wait_until(lambda: wsutil.proc_stat(srv.pid)[0] == "T", 5,
                   what="the supervisor stopped")
        os.kill(victim, signal.SIGKILL)
        os.kill(srv.pid, signal.SIGTERM)
        wait_until(pending, 5, what="SIGTERM and SIGCHLD both pending")
    finally:
        os.kill(srv.pid, signal.SIGCONT)
    try:
        rc = srv.proc.wait(10)
    except subprocess.TimeoutExpired:
        raise AssertionError("supervisor lost the SIGTERM; log:\n%s"
                             % srv.log())
    assert rc == 0
    wait_until(lambda: not wsutil.alive(survivor), 5, what="the survivor")


def test_restarted_worker_serves_the_reloaded_config(wsbridge, tmp_path):
    """After SIGHUP a worker that crashes comes back with the new routes,
    not with the ones the supervisor started with."""
    srv, path = start_config(wsbridge, tmp_path, "[route /old]\necho = yes\n",
                             server_extra="workers = 2\n")
    victim, _ = workers_of(srv)
    with open(path, "a") as f:
        f.write("[route /new]\necho = yes\n")
    start = len(srv.log())
    srv.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: srv.log()[start:].count(RELOADED) >= 2, 10,
               what="both workers reloaded")
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: victim not in (workers_of(srv) or []), 10,
               what="the victim replaced")
    workers_of(srv)
    # Every connection, whichever worker takes it, finds /new.
    for i in range(12):
        conn, head, _ = wsutil.raw_handshake(srv.port, "/new")
        assert head.status == 101, (i, head)
        conn.close()


def test_workers_die_with_their_supervisor(wsbridge):
    """A supervisor killed outright (SIGKILL) leaves no orphan workers
    serving its port."""
    srv = wsbridge("--workers", "2", "--echo")
    workers = workers_of(srv)
    os.kill(srv.pid, signal.SIGKILL)
    for pid in workers:
        wait_until(lambda: not wsutil.alive(pid), 10,
                   what="worker %d to exit" % pid)


def test_single_process_port_in_use_is_an_error(wsbridge):
    """Alone (workers = 1), a port another server holds is an error, not
    a silent share of its connections."""
    first = wsbridge("--echo")
    second = wsbridge("--echo", port=first.port, ready=False)
    assert second.proc.wait(10) == 1
    assert "Address already in use" in second.log()
