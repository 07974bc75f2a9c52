"""Durability: every message answered 250 is stored, whatever happens
after — posternd killed with SIGKILL while clients send, PostgreSQL stopped
(fast, or immediate = crash) under load. While the database is away clients
get temporary failures, never 250; when it is back, sending works again
without restarting posternd."""

import threading
import time

import pytest

import util
from util import LIMITS, REMOTE_DOMAIN, Raw

SENDER = f"load@{REMOTE_DOMAIN}"
THREADS = 8


class Load:
    """THREADS clients delivering to one account over and over through the
    MX, recording what each reply said."""

    def __init__(self, port, rcpt, reconnect=True):
        self.port = port
        self.rcpt = rcpt
        self.reconnect = reconnect
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = []		# Message-IDs answered 250 after DATA
        self.temp = 0		# 4xx replies at any step
        self.perm = []		# 5xx replies (must not happen)
        self.conn_errors = 0
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(THREADS)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def run(self, i):
        seq = 0
        while not self.stop.is_set():
            try:
                c = Raw(self.port, source=f"127.0.4.{1 + i}", timeout=20)
            except OSError:
                self.conn_errors += 1
                if not self.reconnect:
                    return
                time.sleep(0.1)
                continue
            try:
                c.greeting()
                c.ehlo()
                while not self.stop.is_set():
                    seq += 1
                    msgid = f"<load-{i}-{seq}-{util.secrets.token_hex(3)}@client.test>"
                    if not self.one(c, msgid):
                        break
            except (OSError, EOFError, AssertionError):
                with self.lock:
                    self.conn_errors += 1
                if not self.reconnect:
                    return
                time.sleep(0.05)
            finally:
                c.close()

    def check(self, code, text, msgid):
        """True to go on with the transaction."""
        if 200 <= code < 400:
            return True
        with self.lock:
            if 400 <= code < 500:
                self.temp += 1
            else:
                self.perm.append((code, text, msgid))
        return False

    def one(self, c, msgid):
        """One transaction; False when the connection should be dropped."""
        _, msg = util.make_msg(SENDER, self.rcpt, msgid=msgid)
        code, text = c.cmd(f"MAIL FROM:<{SENDER}>")
        if not self.check(code, text, msgid):
            return self.after_fail(c, code)
        code, text = c.cmd(f"RCPT TO:<{self.rcpt}>")
        if not self.check(code, text, msgid):
            return self.after_fail(c, code)
        code, text = c.cmd("DATA")
        if not self.check(code, text, msgid):
            return self.after_fail(c, code)
        c.send(msg + b".\r\n")
        code, text = c.reply()
        if code == 250:
            with self.lock:
                self.acked.append(msgid)
            return True
        self.check(code, text, msgid)
        return self.after_fail(c, code)

    def after_fail(self, c, code):
        if code == 421:
            return False
        time.sleep(0.05)
        try:
            return c.cmd("RSET")[0] == 250
        except (OSError, EOFError):
            return False


def assert_all_stored(ports, user, password, acked):
    stored = util.pop3_ids(ports, user, password)
    missing = set(acked) - set(stored)
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged messages lost: " \
                        f"{sorted(missing)[:10]}"
    return stored


@pytest.mark.timeout(180)
def test_kill9_while_sending(daemon, site, ports):
    rcpt, rpw = site.new_user("dur")
    load = Load(ports["smtp"], rcpt, reconnect=False).start()
    time.sleep(2.5)
    daemon.kill9()
    load.finish()
    assert load.acked, "no message was acknowledged before the kill"
    assert not load.perm, load.perm[:5]
    daemon.start()	# same ports at once: needs SO_REUSEADDR
    stored = assert_all_stored(ports, rcpt, rpw, load.acked)
    assert len(stored) == len(set(stored)), "a message stored twice under one Message-ID"
    print(f"acked {len(load.acked)}, stored {len(stored)}")
    # And the restarted daemon delivers.
    msgid, msg = util.make_msg(SENDER, rcpt)
    assert util.mx_send(ports["smtp"], SENDER, [rcpt], msg) == {}


def first_success(ports, rcpt, timeout):
    """Seconds until a fresh delivery is answered 250 (polls)."""
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < timeout:
        try:
            msgid, msg = util.make_msg(SENDER, rcpt)
            with Raw(ports["smtp"], timeout=10) as c:
                c.greeting()
                c.ehlo()
                if (c.cmd(f"MAIL FROM:<{SENDER}>")[0] == 250
                        and c.cmd(f"RCPT TO:<{rcpt}>")[0] == 250
                        and c.cmd("DATA")[0] == 354):
                    c.send(msg + b".\r\n")
                    code, text = c.reply()
                    last = (code, text)
                    if code == 250:
                        return time.monotonic() - t0, msgid
        except (OSError, EOFError) as e:
            last = e
        time.sleep(0.2)
    raise AssertionError(f"no delivery within {timeout}s of PostgreSQL restart; last: {last}")


@pytest.mark.timeout(240)
@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgres_outage(daemon, site, ports, mode):
    rcpt, rpw = site.new_user(f"pg{mode[0]}")
    load = Load(ports["smtp"], rcpt).start()
    try:
        time.sleep(2)
        r = site.pg.stop(mode)
        assert r.returncode == 0, r.stderr
        acked_at_stop = len(load.acked)
        time.sleep(3)
        during = len(load.acked) - acked_at_stop
    finally:
        if not site.pg.running():
            site.pg.start()
    try:
        assert daemon.alive(), "posternd died when PostgreSQL stopped\n" + daemon.log_tail()
        took, msgid = first_success(ports, rcpt, 15)
        time.sleep(1)
    finally:
        load.finish()
    print(f"mode {mode}: acked {len(load.acked)}, temp {load.temp}, "
          f"conn errors {load.conn_errors}, first success after {took:.2f}s")
    assert not load.perm, f"permanent failures while the database was away: {load.perm[:5]}"
    assert load.temp + load.conn_errors > 0, "the outage was not noticed by any client"
    # A few deliveries may finish in the instant of the stop; then none.
    assert during <= THREADS, f"{during} messages acknowledged while PostgreSQL was down"
    limit = 5 + 1
    assert took <= limit, f"sending resumed only after {took:.1f}s"
    assert_all_stored(ports, rcpt, rpw, load.acked + [msgid])


def test_pop3_after_outage(daemon, site, ports, alice):
    """Logins work after the outages (worker and auth connections recovered)."""
    for _ in range(LIMITS["LIMIT_DB_WORKERS"] + 1):
        util.pop3_open(ports, *alice).quit()
