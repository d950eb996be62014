"""One wsbridge for all of a module's tests, where each test only opens
connections of its own (the conformance cases against --echo, static
files, handshake statuses, auth, PROXY headers...).

Starting the ASan build costs ~0.14 s of CPU (its start-up and the leak
check at exit), more than most of these cases; a module-scoped server
starts once per pytest worker instead.  What the per-test `wsbridge`
fixture checks is still checked for every test: `window` fails the test
when the server died during it or logged a sanitizer report, prints the
test's part of the log when it failed, and hands the test a view of the
server whose log() is only that part; leaks (LSan reports them at exit)
fail the module's teardown.

    @pytest.fixture(scope="module")
    def cat_m(tmp_path_factory):
        with shared.server(tmp_path_factory.mktemp("cat"), "cat") as srv:
            yield srv

    @pytest.fixture
    def catsrv(cat_m, request):
        with shared.window(cat_m, request) as srv:
            yield srv

`servers(tmp_dir)` is the module-scoped twin of conftest's `wsbridge`
factory, for servers started from a config file (cfgutil.start_config).
"""

import contextlib

from conftest import SANITIZER_MARKS, server_starter
import wsutil


@contextlib.contextmanager
def servers(tmp_dir):
    """start(*args, env=None, port=None, listen_args=True) -> Server, like
    the `wsbridge` fixture; every server is stopped at the end and none
    may have logged a sanitizer report."""
    started = []

    start = server_starter(tmp_dir, started)

    try:
        yield start
    finally:
        for srv in started:
            srv.stop()
    for srv in started:
        log = srv.log()
        assert not any(m in log for m in SANITIZER_MARKS), \
            "sanitizer report in the shared wsbridge's log:\n" + log[-20000:]


@contextlib.contextmanager
def server(tmp_dir, *args):
    """wsbridge ARGS on a free loopback port, its log in tmp_dir."""
    with servers(tmp_dir) as start:
        yield start(*args)


def script_maker(tmp_dir):
    """The `script` fixture's twin for module-scoped servers."""
    def make(name, body):
        return wsutil.write_script(tmp_dir / name, body)
    return make


class View:
    """A shared server as one test sees it: the same process and port,
    log() only from the test's start."""

    def __init__(self, srv, start):
        self._srv = srv
        self._start = start

    def __getattr__(self, name):
        return getattr(self._srv, name)

    def log(self):
        return self._srv.log()[self._start:]


@contextlib.contextmanager
def window(srv, request):
    """Around one test: the server outlives it, with no sanitizer report."""
    view = View(srv, len(srv.log()))
    yield view
    log = view.log()
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print("---- shared wsbridge %s, log during the test ----\n%s"
              % (" ".join(srv.args), log[-20000:]))
    assert not any(m in log for m in SANITIZER_MARKS), \
        "sanitizer report in the shared wsbridge's log:\n" + log[-20000:]
    assert srv.proc.poll() is None, \
        "the shared wsbridge exited (%s) during the test; log:\n%s" % (
            srv.proc.returncode, log[-20000:])
