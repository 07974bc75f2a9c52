"""Shutdown: SIGTERM makes posternd say goodbye to idle clients (SMTP
421 4.3.2, POP3 -ERR), apply no pending POP3 deletions, finish or refuse a
message in flight honestly, and exit 0 within LIMIT_SHUTDOWN_MS."""

import signal
import time

import pytest

import util
from util import LIMITS, REMOTE_DOMAIN, Raw

GRACE = LIMITS["LIMIT_SHUTDOWN_MS"] / 1000


@pytest.fixture
def own_daemon(site):
    """A posternd for one test (the test stops it)."""
    assert site.current is None or not site.current.alive()
    d = site.daemon().start()
    site.current = d
    yield d
    if d.alive():
        d.stop(signal.SIGKILL)
    site.current = None
    report = d.sanitizer_report()
    if report:
        pytest.fail("sanitizer report in posternd log:\n" + report)


def sigterm_and_wait(d):
    t0 = time.monotonic()
    d.expect_dead = True
    d.send_signal(signal.SIGTERM)
    try:
        rc = d.proc.wait(GRACE + 5)
    except Exception:
        raise AssertionError(f"posternd still running {GRACE + 5}s after SIGTERM\n{d.log_tail()}")
    took = time.monotonic() - t0
    assert rc == 0, f"exit status {rc} after SIGTERM\n{d.log_tail()}"
    assert took <= GRACE + 0.5, f"exit took {took:.1f}s"
    return took


@pytest.mark.timeout(90)
def test_sigterm_idle_clients(own_daemon, site, ports):
    d = own_daemon
    addr, pw = site.new_user("shut")
    msgid, msg = util.make_msg(f"x@{REMOTE_DOMAIN}", addr)
    assert util.mx_send(ports["smtp"], f"x@{REMOTE_DOMAIN}", [addr], msg) == {}
    util.wait_messages(ports, addr, pw, 1)

    smtp = Raw(ports["smtp"])
    smtp.greeting()
    smtp.ehlo()
    sub = Raw(ports["smtps"], tls=True)
    sub.greeting()
    sub.ehlo()
    assert sub.auth_plain(addr, pw)[0] == 235
    pop = Raw(ports["pop3s"], tls=True)
    assert pop.pop_line().startswith("+OK")
    assert pop.cmd_pop(f"USER {addr}").startswith("+OK")
    assert pop.cmd_pop(f"PASS {pw}").startswith("+OK")
    assert pop.cmd_pop("DELE 1").startswith("+OK")	# never committed: no QUIT

    took = sigterm_and_wait(d)
    for name, c in (("smtp", smtp), ("smtps", sub)):
        data = c.read_until_eof(5)
        assert data.startswith(b"421 4.3.2"), (name, data)
        c.close()
    data = pop.read_until_eof(5)
    assert data.startswith(b"-ERR"), data
    pop.close()
    for name in util.LISTENERS:
        assert not util.port_open(ports[name]), f"{name} still accepting after exit"
    print(f"shutdown took {took:.2f}s")

    # The DELE was not applied.
    d.start()
    assert len(util.pop3_messages(ports, addr, pw)) == 1
    sigterm_and_wait(d)


@pytest.mark.timeout(90)
def test_sigterm_during_data(own_daemon, site, ports):
    d = own_daemon
    addr, pw = site.new_user("shutdata")
    msgid, msg = util.make_msg(f"x@{REMOTE_DOMAIN}", addr)
    c = Raw(ports["smtp"])
    c.greeting()
    c.ehlo()
    assert c.cmd(f"MAIL FROM:<x@{REMOTE_DOMAIN}>")[0] == 250
    assert c.cmd(f"RCPT TO:<{addr}>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    half = len(msg) // 2
    c.send(msg[:half])
    d.expect_dead = True
    d.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    try:
        c.send(msg[half:] + b".\r\n")
        code, text = c.reply()
    except (OSError, EOFError):
        code, text = None, None
    rc = d.proc.wait(GRACE + 5)
    assert rc == 0, rc
    c.close()
    assert code in (None, 250, 421, 451), (code, text)
    d.start()
    ids = util.pop3_ids(ports, addr, pw)
    if code == 250:
        assert ids == [msgid], ids
    print(f"reply to a message finished during shutdown: {code} {text}")
    sigterm_and_wait(d)


@pytest.mark.timeout(60)
def test_sigterm_when_idle_exits_fast(own_daemon):
    took = sigterm_and_wait(own_daemon)
    assert took < 3, f"an idle posternd took {took:.1f}s to stop"
