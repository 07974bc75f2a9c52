"""Integration harness: one throwaway PostgreSQL cluster per session, the
test site provisioned with posternctl (domains, users, aliases, listeners
on free ports), and a posternd per test module. After every test the daemon
must still be alive and its log free of sanitizer reports; a failing test
shows the tail of the daemon's log."""

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

import util
from util import (CATCHALL_DOMAIN, DISABLED_LISTENERS, DOMAIN, LISTENERS, Ctl, Daemon, Postgres)

DEFAULT_TEST_TIMEOUT = 120


def pytest_configure(config):
    config.addinivalue_line("markers", "timeout(seconds): per-test time limit (SIGALRM)")


class Site:
    """Everything shared by the session: database, ports, accounts."""

    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="postern-it-"))
        os.chmod(self.base, 0o755)
        self.data_dir = self.base / "data"
        self.data_dir.mkdir(mode=0o755)
        self.logs = self.base / "logs"
        self.logs.mkdir(mode=0o755)
        self.pg = Postgres(self.base)
        names = list(LISTENERS) + ["admin", "admin_tls"]
        self.ports = dict(zip(names, util.free_ports(len(names))))
        self.ctl = Ctl(self.pg.conninfo, self.data_dir)
        self.current = None		# the running Daemon of the module, if any
        self.users = {}			# address -> password
        self._n = 0

    def daemon(self):
        return Daemon(self.pg.conninfo, self.data_dir, self.logs, self.ports)

    def configure_listeners(self):
        for name, tls in LISTENERS.items():
            self.ctl.ok("listener", "set", name, "--port", self.ports[name], "--tls", tls,
                        "--enable")
        for name in DISABLED_LISTENERS:
            # IMAP may not exist yet in the listeners table: ignore that.
            self.ctl.run("listener", "set", name, "--disable")

    def bootstrap_schema(self):
        """posternctl may or may not create the schema itself; if it does not,
        let posternd migrate once (its default listeners may fail to bind,
        which is fine), then configure."""
        if self.ctl.run("listener", "list").returncode == 0:
            return
        d = self.daemon().start(wait=False)
        try:
            util.wait_for(lambda: not d.alive() or
                          self.ctl.run("listener", "list").returncode == 0,
                          60, interval=0.3, what="schema created by posternd")
            if not d.alive():
                raise AssertionError("posternd exited while creating the schema\n" + d.log_tail())
            self.configure_listeners()
        finally:
            d.stop()

    def provision(self):
        self.ctl.ok("domain", "add", DOMAIN)
        self.ctl.ok("domain", "add", CATCHALL_DOMAIN)
        for local in ("alice", "bob"):
            self.add_user(f"{local}@{DOMAIN}", f"{local}-Secret-pw1")
        self.ctl.ok("alias", "add", f"sales@{DOMAIN}", f"alice@{DOMAIN}")
        self.ctl.ok("alias", "add", f"fwd@{DOMAIN}", f"friend@{util.REMOTE_DOMAIN}")
        self.ctl.ok("alias", "add", f"@{CATCHALL_DOMAIN}", f"bob@{DOMAIN}")

    def add_user(self, address, password):
        self.ctl.add_user(address, password)
        self.users[address] = password

    def new_user(self, prefix="u"):
        """A fresh account with an empty mailbox: (address, password)."""
        self._n += 1
        address = f"{prefix}{self._n}x{os.getpid() % 1000}@{DOMAIN}"
        password = f"pw-{util.secrets.token_hex(6)}"
        self.add_user(address, password)
        return address, password

    def cleanup(self):
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="session")
def site():
    for binary in (util.POSTERND, util.POSTERNCTL):
        if not os.access(binary, os.X_OK):
            pytest.exit(f"{binary} not built (make asan all)", returncode=1)
    if util.is_root() and not util.user_exists("postern"):
        subprocess.run(["make", "-s", "-C", str(util.ROOT), "user"], check=True)
    s = Site()
    try:
        s.pg.init()
        s.pg.start()
        s.pg.createdb("postern")
        s.bootstrap_schema()
        s.configure_listeners()
        s.provision()
        yield s
    finally:
        if s.current is not None and s.current.alive():
            s.current.stop()
        s.pg.stop()
        if os.environ.get("POSTERN_KEEP_TMP"):
            print(f"\nkept {s.base}")
        else:
            s.cleanup()


@pytest.fixture(scope="session")
def ports(site):
    return site.ports


@pytest.fixture(scope="session")
def ctl(site):
    return site.ctl


@pytest.fixture(scope="session")
def alice(site):
    a = f"alice@{DOMAIN}"
    return a, site.users[a]


@pytest.fixture(scope="session")
def bob(site):
    b = f"bob@{DOMAIN}"
    return b, site.users[b]


@pytest.fixture(scope="module")
def daemon_env():
    """Extra environment of the module's posternd: a module overrides this
    fixture; tests may change daemon.extra_env before a restart."""
    return {}


@pytest.fixture(scope="module")
def daemon(site, daemon_env):
    """posternd for the whole module; tests may stop/kill/restart it."""
    d = site.daemon()
    d.extra_env = {**d.extra_env, **daemon_env}
    base_env = d.env
    d.env = lambda: {**base_env(), **d.extra_env}
    d.start()
    site.current = d
    yield d
    site.current = None
    if d.alive():
        d.stop()
    report = d.sanitizer_report()
    if report:
        pytest.fail("sanitizer report in posternd log:\n" + report)


class TestTimeout(Exception):
    pass


@pytest.fixture(autouse=True)
def guard(request, site):
    """Per-test time limit; the daemon must survive every test and stay
    free of sanitizer reports."""
    marker = request.node.get_closest_marker("timeout")
    seconds = int(marker.args[0]) if marker else DEFAULT_TEST_TIMEOUT

    def on_alarm(signum, frame):
        raise TestTimeout(f"test exceeded {seconds}s")
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    d = site.current
    if d is not None:
        report = d.sanitizer_report()
        if report:
            pytest.fail("sanitizer report in posternd log:\n" + report)
        if not d.expect_dead and not d.alive():
            pytest.fail(f"posternd died (exit {d.proc.returncode})\n{d.log_tail()}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        site = item.funcargs.get("site") if hasattr(item, "funcargs") else None
        if site is not None:
            d = site.current
            if d is not None:
                rep.sections.append(("posternd log (tail)", d.log_tail(120)))
            tail = site.pg.log_tail(30)
            if tail:
                rep.sections.append(("postgres log (tail)", tail))
