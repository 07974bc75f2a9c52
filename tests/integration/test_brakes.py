"""Abuse brakes (core/db/brake.c, core/auth/ban.c): per-account and
per-domain outbound limits on submission (451 4.7.1 at MAIL over the hourly
limit, 452 4.5.3 past the recipient limit), the queue of an account that
keeps hitting its limit held with an alert (`posternctl alerts`), and the
per-IP ban after failed logins over every protocol (421 4.7.0 / * BYE /
-ERR [SYS/TEMP] at connect). The daemon runs with POSTERN_TRUSTED_NETWORKS
empty so loopback clients are not exempt; failures come from 127.0.0.77."""

import smtplib
import threading

import pytest

import util
from util import HOST, LIMITS, Raw

BAD_IP = "127.0.0.77"


@pytest.fixture(scope="module")
def daemon_env():
    return {"POSTERN_TRUSTED_NETWORKS": ""}


def submission(site, user, pw):
    s = smtplib.SMTP(HOST, site.ports["submission"], timeout=30)
    s.ehlo("client.test")
    s.starttls(context=util.client_ctx())
    s.ehlo("client.test")
    s.login(user, pw)
    return s


def send_one(s, user, rcpts):
    code, msg = s.mail(user)
    if code != 250:
        s.rset()
        return code, msg, []
    codes = [s.rcpt(r)[0] for r in rcpts]
    if 250 in codes:
        code, msg = s.data(util.make_msg(user, rcpts[0])[1])
    else:
        s.rset()
    return code, msg, codes


def test_limits_command(ctl, site):
    user, _ = site.new_user("lim")
    assert ctl.rows("user", "limits", user, "--per-hour", "7") == [[user, "7", "default"]]
    assert ctl.rows("user", "limits", user, "--rcpts", "3") == [[user, "7", "3"]]
    assert ctl.rows("user", "limits", user, "--per-hour", "default") == [[user, "default", "3"]]
    r = ctl.run("user", "limits", user)
    assert r.returncode == 2
    r = ctl.run("user", "limits", "nobody@" + util.DOMAIN, "--rcpts", "1")
    assert r.returncode == 1 and "no such account" in r.stderr
    r = ctl.run("user", "limits", user, "--rcpts", "-4")
    assert r.returncode == 2


def test_recipient_limit_per_account_and_domain(daemon, ctl, site):
    ctl.ok("domain", "add", "brake.test")
    user, pw = "sender@brake.test", "brake-pw-1"
    site.add_user(user, pw)
    ctl.ok("user", "limits", "brake.test", "--rcpts", "2")
    s = submission(site, user, pw)
    try:
        code, _, codes = send_one(s, user, [f"r{i}@remote.test" for i in range(3)])
        assert code == 250 and codes[:2] == [250, 250] and codes[2] == 452, codes
        s.mail(user)
        s.rcpt("a@remote.test")
        s.rcpt("b@remote.test")
        code, msg = s.rcpt("c@remote.test")
        assert code == 452 and b"4.5.3" in msg and b"at most 2" in msg, msg
        s.rset()
    finally:
        s.quit()
    # the account's own value wins over the domain's
    ctl.ok("user", "limits", user, "--rcpts", "5")
    s = submission(site, user, pw)
    try:
        code, _, codes = send_one(s, user, [f"r{i}@remote.test" for i in range(5)])
        assert code == 250 and codes == [250] * 5
    finally:
        s.quit()


def test_hourly_limit_then_queue_held_and_alert(daemon, ctl, site):
    user, pw = site.new_user("spam")
    ctl.ok("user", "limits", user, "--per-hour", "3")
    s = submission(site, user, pw)
    try:
        for i in range(3):
            code, msg, _ = send_one(s, user, [f"victim{i}@remote.test"])
            assert code == 250, msg
        refused = []
        for _ in range(LIMITS["LIMIT_SEND_HOLD_AFTER"] + 2):
            code, msg = s.mail(user)
            refused.append((code, msg))
            s.rset()
        assert all(c == 451 and b"4.7.1" in m and b"3 messages per hour" in m
                   for c, m in refused), refused
    finally:
        s.quit()
    mine = [q for q in ctl.queue() if q[1] == user]
    assert len(mine) == 3 and all(q[3] == "held" for q in mine), mine
    alerts = [a for a in ctl.rows("alerts") if a[3] == user]
    kinds = [a[2] for a in alerts]
    # at most LIMIT_SEND_HOLD_AFTER hit alerts an hour, one queue_held
    assert kinds.count("send_limit") == LIMITS["LIMIT_SEND_HOLD_AFTER"], alerts
    assert kinds.count("queue_held") == 1 and "3 queued" in alerts[kinds.index("queue_held")][4]
    assert ctl.rows("alerts") == ctl.rows("alerts", "list")
    assert all(a[5] == "new" for a in alerts)
    held_id = alerts[kinds.index("queue_held")][0]
    ctl.ok("alerts", "ack", held_id)
    assert [a[5] for a in ctl.rows("alerts") if a[0] == held_id] == ["acknowledged"]
    r = ctl.run("alerts", "ack", "999999999")
    assert r.returncode == 1 and "no such alert" in r.stderr
    # other accounts are not affected
    other, opw = site.new_user("ok")
    s = submission(site, other, opw)
    try:
        assert send_one(s, other, ["friend@remote.test"])[0] == 250
    finally:
        s.quit()
    assert all(q[3] != "held" for q in ctl.queue() if q[1] == other)


def fail_login(site, proto, user):
    if proto == "smtp":
        with Raw(site.ports["smtps"], tls=True, source=BAD_IP, timeout=30) as c:
            c.greeting()
            c.ehlo()
            code, _ = c.cmd("AUTH PLAIN " + util.base64_plain(user, "wrong-password"))
            assert code == 535
    elif proto == "pop3":
        with Raw(site.ports["pop3s"], tls=True, source=BAD_IP, timeout=30) as c:
            assert c.pop_line().startswith("+OK")
            assert c.cmd_pop(f"USER {user}").startswith("+OK")
            assert c.cmd_pop("PASS wrong-password").startswith("-ERR [AUTH]")
    else:
        with Raw(site.ports["imaps"], tls=True, source=BAD_IP, timeout=30) as c:
            assert c.readline().startswith(b"* OK")
            c.send(f'a LOGIN "{user}" "wrong-password"\r\n'.encode())
            assert b"AUTHENTICATIONFAILED" in c.readline()


@pytest.mark.timeout(180)
def test_auth_failures_ban_the_ip_for_every_protocol(daemon, site, alice):
    user = alice[0]
    n = LIMITS["LIMIT_AUTH_FAIL_PER_IP"]
    protos = ["smtp", "pop3", "imap"]
    errors = []

    def worker(i):
        try:
            fail_login(site, protos[i % 3], user)
        except Exception as e:	# collected: the assertion below names it
            errors.append(repr(e))
    # n - 1 failures: not banned yet
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n - 1)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == []
    with Raw(site.ports["smtp"], source=BAD_IP) as c:
        c.greeting()
    worker(n - 1)
    assert errors == []
    # banned: the busy reply of each protocol at connect, then close
    with Raw(site.ports["smtp"], source=BAD_IP) as c:
        assert c.read_until_eof().startswith(b"421 4.7.0")
    with Raw(site.ports["pop3"], source=BAD_IP) as c:
        assert c.read_until_eof().startswith(b"-ERR [SYS/TEMP]")
    with Raw(site.ports["imap"], source=BAD_IP) as c:
        assert c.read_until_eof().startswith(b"* BYE")
    # other addresses are not
    with Raw(site.ports["smtp"]) as c:
        c.greeting()
    with Raw(site.ports["smtp"], source="127.0.0.78") as c:
        c.greeting()
