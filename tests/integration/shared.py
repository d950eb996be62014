"""One wsbridge for all of a module's tests, where each test only opens
connections of its own (the conformance cases against --echo).

Starting the ASan build costs ~0.15 s of CPU (its start-up and the leak
check at exit), more than most of these cases; a module-scoped server
starts once per pytest worker instead.  What the per-test `wsbridge`
fixture checks is still checked for every test: `window` fails the test
when the server died during it or logged a sanitizer report, and prints
the test's part of the log when it failed; leaks (LSan reports them at
exit) fail the module's teardown.
"""

import contextlib
import os

from conftest import SANITIZER_MARKS, Server, free_port


@contextlib.contextmanager
def server(tmp_dir, *args):
    """wsbridge ARGS on a free loopback port, its log in tmp_dir."""
    port = free_port()
    srv = Server(["--port", str(port), "--address", "127.0.0.1"] + list(args),
                 str(tmp_dir), dict(os.environ),
                 str(tmp_dir / "wsbridge.log"), port)
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()
    log = srv.log()
    assert not any(m in log for m in SANITIZER_MARKS), \
        "sanitizer report in the shared wsbridge's log:\n" + log[-20000:]


@contextlib.contextmanager
def window(srv, request):
    """Around one test: the server outlives it, with no sanitizer report."""
    start = len(srv.log())
    yield
    log = srv.log()[start:]
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print("---- shared wsbridge %s, log during the test ----\n%s"
              % (" ".join(srv.args), log[-20000:]))
    assert not any(m in log for m in SANITIZER_MARKS), \
        "sanitizer report in the shared wsbridge's log:\n" + log[-20000:]
    assert srv.proc.poll() is None, \
        "the shared wsbridge exited (%s) during the test; log:\n%s" % (
            srv.proc.returncode, log[-20000:])
