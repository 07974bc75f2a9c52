"""posternctl: commands, tab-separated output, exit codes and error lines,
and the live effect of `listener set` and account changes on a running
posternd."""

import poplib
import socket
import time

import pytest

import util
from util import DOMAIN, HOST, LIMITS, Raw


def assert_error(r, code=1):
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    err = r.stderr.rstrip("\n")
    assert err.startswith("posternctl: "), repr(r.stderr)
    assert "\n" not in err, f"more than one error line: {r.stderr!r}"
    assert len(err) > len("posternctl: ") + 3, repr(r.stderr)


def users(ctl):
    return {r[0]: r for r in ctl.rows("user", "list")}


# --- domains ---


def test_domain_add_list_del(ctl):
    ctl.ok("domain", "add", "cli-one.test")
    rows = ctl.rows("domain", "list")
    assert all(len(r) == 1 for r in rows), rows
    names = [r[0] for r in rows]
    assert "cli-one.test" in names and DOMAIN in names
    assert_error(ctl.run("domain", "add", "cli-one.test"))	# duplicate
    assert_error(ctl.run("domain", "add", "CLI-One.test"))	# case-insensitive duplicate
    ctl.ok("domain", "del", "cli-one.test")
    assert "cli-one.test" not in [r[0] for r in ctl.rows("domain", "list")]
    assert_error(ctl.run("domain", "del", "cli-one.test"))	# gone


@pytest.mark.parametrize("name", ["", "no_dots here", "a..b", "-bad.test", "x" * 300 + ".test"])
def test_domain_add_invalid(ctl, name):
    r = ctl.run("domain", "add", name)
    assert r.returncode in (1, 2), (r.returncode, r.stderr)
    assert r.stderr.startswith("posternctl: ") or r.returncode == 2, r.stderr
    assert name.lower() not in [x[0] for x in ctl.rows("domain", "list")] or name == ""


# --- users ---


def test_user_add_list_disable_enable_del(ctl):
    addr = f"cli-carol@{DOMAIN}"
    ctl.add_user(addr, "Carol-password-1")
    rows = users(ctl)
    assert addr in rows
    row = rows[addr]
    assert len(row) == 4, row
    assert row[1].isdigit() and row[2].isdigit(), row
    assert row[3] == "active"
    assert_error(ctl.run("user", "add", addr, input="Another-pass-1\n"))	# duplicate
    ctl.ok("user", "disable", addr)
    assert users(ctl)[addr][3] == "disabled"
    ctl.ok("user", "enable", addr)
    assert users(ctl)[addr][3] == "active"
    ctl.ok("user", "del", addr)
    assert addr not in users(ctl)
    assert_error(ctl.run("user", "del", addr))


@pytest.mark.parametrize("addr", ["noatsign", "two@@example.test", "@example.test",
                                  "sp ace@example.test", "x@", "a" * 65 + "@example.test"])
def test_user_add_invalid_address(ctl, addr):
    assert_error(ctl.run("user", "add", addr, input="Good-password-1\n"))


def test_user_add_unknown_domain(ctl):
    assert_error(ctl.run("user", "add", "dave@unknown-domain.test", input="Good-password-1\n"))


def test_user_add_weak_or_empty_password(ctl):
    n = LIMITS["LIMIT_PASSWORD_MIN"]
    assert_error(ctl.run("user", "add", f"cli-weak@{DOMAIN}", input=""))
    assert_error(ctl.run("user", "add", f"cli-weak@{DOMAIN}", input="\n"))
    assert_error(ctl.run("user", "add", f"cli-weak@{DOMAIN}",
                         input=("Zq7!xR2wP9#m" * 9)[:n - 1] + "\n"))
    assert_error(ctl.run("user", "add", f"cli-weak@{DOMAIN}", input="x" * (n + 4) + "\n"))
    assert f"cli-weak@{DOMAIN}" not in users(ctl)
    # Exactly the minimum is accepted; only the first line counts.
    ctl.ok("user", "add", f"cli-weak@{DOMAIN}", input=("Zq7!xR2wP9#m" * 9)[:n] + "\nsecond\n")
    ctl.ok("user", "del", f"cli-weak@{DOMAIN}")


def test_user_passwd_errors(ctl):
    assert_error(ctl.run("user", "passwd", f"nobody-here@{DOMAIN}", input="Good-password-1\n"))
    assert_error(ctl.run("user", "passwd", f"alice@{DOMAIN}", input="short\n"))


# --- aliases ---


def test_alias_add_list_del(ctl):
    ctl.ok("alias", "add", f"cli-team@{DOMAIN}", f"alice@{DOMAIN}")
    rows = ctl.rows("alias", "list")
    assert all(len(r) == 2 for r in rows), rows
    assert [f"cli-team@{DOMAIN}", f"alice@{DOMAIN}"] in rows
    assert [f"@{util.CATCHALL_DOMAIN}", f"bob@{DOMAIN}"] in rows
    assert_error(ctl.run("alias", "add", f"cli-team@{DOMAIN}", f"alice@{DOMAIN}"))
    assert_error(ctl.run("alias", "add", "x@unknown-domain.test", f"alice@{DOMAIN}"))
    assert_error(ctl.run("alias", "add", f"cli-bad@{DOMAIN}", "not an address"))
    ctl.ok("alias", "del", f"cli-team@{DOMAIN}", f"alice@{DOMAIN}")
    assert [f"cli-team@{DOMAIN}", f"alice@{DOMAIN}"] not in ctl.rows("alias", "list")
    assert_error(ctl.run("alias", "del", f"cli-team@{DOMAIN}", f"alice@{DOMAIN}"))


# --- listeners, queue ---


def test_listener_list(ctl, ports):
    rows = ctl.listeners()
    for name, tls in util.LISTENERS.items():
        row = rows[name]
        assert len(row) == 5, row
        proto = "pop3" if name.startswith("pop3") else "imap" if name.startswith("imap") else "smtp"
        assert row == [name, proto, str(ports[name]), tls, "enabled"], row
    for name in util.DISABLED_LISTENERS:
        if name in rows:
            assert rows[name][4] == "disabled", rows[name]


@pytest.mark.parametrize("port", ["0", "65536", "-1", "99999999999999999999"])
def test_listener_port_out_of_range(ctl, ports, port):
    r = ctl.run("listener", "set", "pop3", "--port", port)
    if port in ("0", "65536"):
        assert_error(r)	# a number, out of range: a failed request
    else:
        assert r.returncode in (1, 2), (r.returncode, r.stderr)
        assert r.stderr.startswith("posternctl: "), r.stderr
    assert ctl.listeners()["pop3"][2] == str(ports["pop3"])


def test_listener_set_errors(ctl):
    assert ctl.run("listener", "set", "pop3", "--tls", "sometimes").returncode in (1, 2)
    assert_error(ctl.run("listener", "set", "no-such-listener", "--port", "2000"))


def test_queue_list_format(ctl):
    r = ctl.run("queue", "list")
    assert r.returncode == 0, r.stderr
    for line in r.stdout.splitlines():
        assert len(line.split("\t")) == 7, line


# --- usage and database errors ---


@pytest.mark.parametrize("args", [[], ["frobnicate"], ["domain"], ["domain", "explode", "x.test"],
                                  ["user", "add"], ["alias", "add", "only-one@example.test"],
                                  ["listener", "set"]])
def test_usage_exit_2(ctl, args):
    r = ctl.run(*args, input="")
    assert r.returncode == 2, (args, r.returncode, r.stdout, r.stderr)
    assert r.stderr.strip() != ""


def test_database_unreachable_exit_3(ctl, tmp_path):
    bad = f"host={tmp_path} dbname=postern user=postgres connect_timeout=3"
    for args in (["domain", "list"], ["user", "list"], ["listener", "list"]):
        r = ctl.run(*args, env={"POSTERN_DATABASE_URL": bad})
        assert r.returncode == 3, (args, r.returncode, r.stderr)
        assert r.stderr.startswith("posternctl: ") and r.stderr.count("\n") <= 1, r.stderr


def test_bad_listener_values_refused_before_connecting(ctl, tmp_path):
    """Input errors are exit 1 with their own sentence even while the database is down."""
    bad = f"host={tmp_path} dbname=postern user=postgres connect_timeout=3"
    for args, words in ((["listener", "set", "pop3", "--port", "0"], "out of range"),
                        (["listener", "set", "pop3", "--port", "70000"], "70000 is out of range"),
                        (["listener", "set", "pop3", "--tls", "sometimes"], "TLS mode")):
        r = ctl.run(*args, env={"POSTERN_DATABASE_URL": bad})
        assert r.returncode == 1, (args, r.returncode, r.stderr)
        assert words in r.stderr and r.stderr.count("\n") <= 1, r.stderr


# --- live effects on a running posternd ---


def pop3_greets(port, timeout=2):
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.settimeout(timeout)
            return s.recv(100).startswith(b"+OK")
    except OSError:
        return False


def test_listener_move_live(daemon, ctl, ports):
    old = ports["pop3"]
    new = util.free_port()
    assert pop3_greets(old)
    try:
        ctl.ok("listener", "set", "pop3", "--port", new)
        util.wait_for(lambda: pop3_greets(new), 5, what=f"pop3 on new port {new}")
        util.wait_for(lambda: not util.port_open(old), 5, what=f"old pop3 port {old} closed")
        assert ctl.listeners()["pop3"][2] == str(new)
    finally:
        ctl.ok("listener", "set", "pop3", "--port", old)
    util.wait_for(lambda: pop3_greets(old), 5, what="pop3 back on its port")
    util.wait_for(lambda: not util.port_open(new), 5, what="temporary port closed")


def test_listener_port_in_use_keeps_old(daemon, ctl, ports):
    old = ports["pop3"]
    squatter = socket.socket()
    squatter.bind((HOST, 0))
    squatter.listen(5)
    busy = squatter.getsockname()[1]
    try:
        ctl.ok("listener", "set", "pop3", "--port", busy)
        time.sleep(2)	# let posternd receive the NOTIFY and try
        assert pop3_greets(old), "old pop3 port stopped although the new one could not be bound"
        # The squatter still owns the busy port.
        with socket.create_connection((HOST, busy), timeout=2):
            squatter.settimeout(2)
            conn, _ = squatter.accept()
            conn.close()
    finally:
        ctl.ok("listener", "set", "pop3", "--port", old)
        squatter.close()
    time.sleep(1)
    assert pop3_greets(old)


def test_listener_disable_enable_live(daemon, ctl, ports):
    port = ports["pop3s"]
    assert util.port_open(port)
    try:
        ctl.ok("listener", "set", "pop3s", "--disable")
        util.wait_for(lambda: not util.port_open(port), 5, what="pop3s disabled")
        assert ctl.listeners()["pop3s"][4] == "disabled"
    finally:
        ctl.ok("listener", "set", "pop3s", "--enable")
    util.wait_for(lambda: util.port_open(port), 5, what="pop3s enabled again")
    p = poplib.POP3_SSL(HOST, port, context=util.client_ctx(), timeout=10)
    assert p.getwelcome().startswith(b"+OK")
    p.quit()


def test_disabled_user_cannot_login_or_receive(daemon, site, ctl, ports):
    addr, pw = site.new_user("cli-dis")
    util.pop3_open(ports, addr, pw).quit()
    ctl.ok("user", "disable", addr)
    with pytest.raises(poplib.error_proto):
        util.pop3_open(ports, addr, pw)
    with Raw(ports["smtp"]) as c:
        c.greeting()
        c.ehlo()
        assert c.cmd("MAIL FROM:<x@remote.test>")[0] == 250
        code, text = c.cmd(f"RCPT TO:<{addr}>")
        assert 500 <= code < 600, (code, text)
    ctl.ok("user", "enable", addr)
    util.pop3_open(ports, addr, pw).quit()


def test_passwd_change_drops_old_password(daemon, site, ctl, ports):
    addr, pw = site.new_user("cli-pw")
    for _ in range(2):	# the second login may be served by the auth cache
        util.pop3_open(ports, addr, pw).quit()
    ctl.ok("user", "passwd", addr, input="New-password-22\n")
    with pytest.raises(poplib.error_proto):
        util.pop3_open(ports, addr, pw)
    util.pop3_open(ports, addr, "New-password-22").quit()


def test_deleted_user_is_unknown(daemon, site, ctl, ports):
    addr, pw = site.new_user("cli-del")
    ctl.ok("user", "del", addr)
    with Raw(ports["smtp"]) as c:
        c.greeting()
        c.ehlo()
        assert c.cmd("MAIL FROM:<x@remote.test>")[0] == 250
        code, text = c.cmd(f"RCPT TO:<{addr}>")
        assert code == 550 and text[0].startswith("5.1.1"), (code, text)
    with pytest.raises(poplib.error_proto):
        util.pop3_open(ports, addr, pw)


def test_list_filters_by_domain(ctl):
    ctl.ok("domain", "add", "cli-filter.test")
    try:
        ctl.add_user("only@cli-filter.test", "Filter-password-1")
        ctl.ok("alias", "add", "al@cli-filter.test", "only@cli-filter.test")
        assert [r[0] for r in ctl.rows("user", "list", "cli-filter.test")] == \
            ["only@cli-filter.test"]
        assert ctl.rows("alias", "list", "cli-filter.test") == \
            [["al@cli-filter.test", "only@cli-filter.test"]]
        assert f"alice@{DOMAIN}" in [r[0] for r in ctl.rows("user", "list")]
    finally:
        ctl.run("alias", "del", "al@cli-filter.test", "only@cli-filter.test")
        ctl.run("user", "del", "only@cli-filter.test")
        ctl.run("domain", "del", "cli-filter.test")
