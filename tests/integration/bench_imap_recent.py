"""Timing probe, not part of `make test` (pytest collects only test_*.py):
the cost of \\Recent on the commands the IMAP benchmark repeats. One session
keeps INBOX (50 messages) selected; then 2000 NOOPs that find nothing (no
claim statement may run), 300 re-SELECTs (the claim rides in the statement
that finds the mailbox) and 200 NOOPs that each find one new message APPENDed
by another session (one claim UPDATE each). Run against the release build:
cd tests/integration && POSTERN_ROOT=$PWD/../.. POSTERN_BIN=$PWD/../../build/posternd
/usr/bin/python3 -m pytest -q -s -p no:cacheprovider bench_imap_recent.py"""
import time

import util
from util import REMOTE_DOMAIN
from test_imap_sync import Imap, connect, box  # noqa: F401 (fixture)


def test_measure(daemon, ports, box):
    user, pw = box
    msg = util.make_msg(f"x@{REMOTE_DOMAIN}", user, subject="bench")[1]
    m = connect(ports, user, pw)
    for _ in range(50):
        assert m.append("INBOX", None, None, msg)[0] == "OK"
    c = Imap(ports, user, pw)
    c.ok("SELECT INBOX")
    t = time.perf_counter()
    for _ in range(2000):
        c.ok("NOOP")
    t_noop = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(300):
        c.ok("SELECT INBOX")
    t_sel = time.perf_counter() - t
    t_new = 0.0
    for _ in range(200):
        assert m.append("INBOX", None, None, msg)[0] == "OK"
        t = time.perf_counter()
        _, u = c.ok("NOOP")
        t_new += time.perf_counter() - t
        assert any(x.endswith(" EXISTS") for x in u), u
    print(f"\nMEASURE NOOP (nothing new) {2000 / t_noop:.0f}/s; SELECT (re-select, 50 msgs) "
          f"{300 / t_sel:.0f}/s; NOOP finding 1 new message {200 / t_new:.0f}/s")
    c.close()
    m.logout()
