"""The loop's recipient cache (core/smtp/rcpt_cache.c) never outlives a
change: once an address has been resolved (and kept), disabling or deleting
its account, adding an account that shadows a catch-all, or removing an
alias is seen by the very next RCPT, because migration 012's triggers send
NOTIFY directory_changed and every node drops its cache."""

import time

import util
from util import DOMAIN, HOST, REMOTE_DOMAIN

SENDER = f"cache@{REMOTE_DOMAIN}"


def rcpt(ports, addr):
    """The RCPT reply code for addr on the MX listener."""
    with util.Raw(ports["smtp"]) as c:
        c.reply()
        assert c.cmd("EHLO client.test")[0] == 250
        assert c.cmd(f"MAIL FROM:<{SENDER}>")[0] == 250
        return c.cmd(f"RCPT TO:<{addr}>")[0]


def eventually(pred, what):
    """NOTIFY reaches the loop within moments; allow a second."""
    deadline = time.monotonic() + 1.0
    while not pred():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_disable_and_delete_seen_at_once(daemon, site, ports):
    addr = f"rc{util.token()}@{DOMAIN}"
    site.ctl.ok("user", "add", addr, input="Cache-password-1\n")
    for _ in range(3):	# resolved, then answered from the cache
        assert rcpt(ports, addr) == 250
    site.ctl.ok("user", "disable", addr)
    eventually(lambda: rcpt(ports, addr) == 550, "disabled account still accepted")
    site.ctl.ok("user", "enable", addr)
    eventually(lambda: rcpt(ports, addr) == 250, "enabled account still refused")
    assert rcpt(ports, addr) == 250
    site.ctl.ok("user", "del", addr)
    eventually(lambda: rcpt(ports, addr) == 550, "deleted account still accepted")


def test_alias_removal_and_shadowing_account(daemon, site, ports):
    target = f"rct{util.token()}@{DOMAIN}"
    alias = f"rca{util.token()}@{DOMAIN}"
    site.ctl.ok("user", "add", target, input="Cache-password-1\n")
    site.ctl.ok("alias", "add", alias, target)
    for _ in range(2):
        assert rcpt(ports, alias) == 250
    site.ctl.ok("alias", "del", alias, target)
    eventually(lambda: rcpt(ports, alias) == 550, "removed alias still accepted")

    # catchall.test has a catch-all to bob: an address there is accepted
    # (and kept); an account created with that name takes over at once,
    # so the message lands in the new account, not in bob's.
    local = f"rcs{util.token()}"
    shadow = f"{local}@catchall.test"
    assert rcpt(ports, shadow) == 250
    site.ctl.ok("user", "add", shadow, input="Cache-password-1\n")
    msgid, msg = util.make_msg(SENDER, shadow)
    deadline = time.monotonic() + 1.0
    while True:
        util.mx_send(ports["smtp"], SENDER, [shadow], msg)
        if msgid in util.pop3_ids(ports, shadow, "Cache-password-1"):
            break
        assert time.monotonic() < deadline, "the new account did not get the message"
        msgid, msg = util.make_msg(SENDER, shadow)
