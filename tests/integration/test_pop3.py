"""POP3: STLS before login, implicit TLS, CAPA, every RFC 1939 command,
deletion only at QUIT, stable never-reused UIDLs, LIST sizes, and real
clients (poplib, fetchmail keep/delete, curl)."""

import os
import poplib
import socket
import subprocess
import time

import pytest

import util
from util import HOST, LIMITS, REMOTE_DOMAIN, Raw


def deliver(ports, rcpt, n, body=None):
    """n messages to rcpt through the MX; returns their bytes, in order."""
    msgs = []
    for i in range(n):
        msgid, msg = util.make_msg(f"x@{REMOTE_DOMAIN}", rcpt, subject=f"message {i}",
                                   body=body)
        assert util.mx_send(ports["smtp"], f"x@{REMOTE_DOMAIN}", [rcpt], msg) == {}
        msgs.append(msg)
    return msgs


@pytest.fixture
def box(daemon, site, ports):
    """A fresh account with three messages: (address, password, [sent bytes])."""
    addr, pw = site.new_user("pop")
    msgs = deliver(ports, addr, 3, body=b"first body line\r\n.dot line\r\n\r\nlast\r\n")
    util.wait_messages(ports, addr, pw, 3)
    return addr, pw, msgs


def login(c, user, password):
    assert c.cmd_pop(f"USER {user}").startswith("+OK")
    line = c.cmd_pop(f"PASS {password}")
    assert line.startswith("+OK"), line


def capa(c):
    line = c.cmd_pop("CAPA")
    assert line.startswith("+OK"), line
    return [ln.decode().upper() for ln in c.pop_multi()]


# --- TLS and login ---


def test_pop3_requires_stls(daemon, ports, alice):
    with Raw(ports["pop3"]) as c:
        assert c.pop_line().startswith("+OK")
        caps = capa(c)
        assert "STLS" in caps, caps
        for cmd in (f"USER {alice[0]}", f"PASS {alice[1]}",
                    "AUTH PLAIN " + util.base64_plain(*alice)):
            line = c.cmd_pop(cmd)
            assert line.startswith("-ERR [AUTH]"), (cmd, line)
        line = c.cmd_pop("STAT")
        assert line.startswith("-ERR"), line
        c.starttls(verb="STLS")
        caps = capa(c)
        assert "STLS" not in caps, caps
        for want in ("USER", "UIDL", "TOP", "RESP-CODES"):
            assert want in caps, (want, caps)
        assert any(x.startswith("SASL") and "PLAIN" in x for x in caps), caps
        login(c, *alice)
        assert c.cmd_pop("STAT").startswith("+OK")
        assert c.cmd_pop("QUIT").startswith("+OK")


def test_pop3s_implicit(daemon, ports, alice):
    p = poplib.POP3_SSL(HOST, ports["pop3s"], context=util.client_ctx(), timeout=10)
    assert p.sock.version() in ("TLSv1.2", "TLSv1.3")
    caps = p.capa()
    assert "STLS" not in caps and "USER" in caps, caps
    p.user(alice[0])
    p.pass_(alice[1])
    count, size = p.stat()
    assert count >= 0 and size >= 0
    p.quit()


def test_poplib_stls(daemon, ports, alice):
    p = poplib.POP3(HOST, ports["pop3"], timeout=10)
    p.stls(context=util.client_ctx())
    p.user(alice[0])
    p.pass_(alice[1])
    p.stat()
    p.quit()


def test_pop3_auth_plain(daemon, ports, alice):
    with Raw(ports["pop3s"], tls=True) as c:
        c.pop_line()
        line = c.cmd_pop("AUTH PLAIN " + util.base64_plain(*alice))
        assert line.startswith("+OK"), line
    with Raw(ports["pop3s"], tls=True) as c:
        c.pop_line()
        line = c.cmd_pop("AUTH PLAIN")
        assert line.startswith("+"), line
        line = c.cmd_pop(util.base64_plain(*alice))
        assert line.startswith("+OK"), line


@pytest.mark.parametrize("how", ["userpass", "plain"])
def test_pop3_bad_login(daemon, ports, alice, how):
    with Raw(ports["pop3s"], tls=True) as c:
        c.pop_line()
        t = time.monotonic()
        if how == "userpass":
            assert c.cmd_pop(f"USER {alice[0]}").startswith("+OK")
            line = c.cmd_pop("PASS wrong-password-1")
        else:
            line = c.cmd_pop("AUTH PLAIN " + util.base64_plain(alice[0], "wrong-password-1"))
        assert line.startswith("-ERR [AUTH]"), line
        assert time.monotonic() - t >= 0.8 * LIMITS.get("LIMIT_POP3_AUTH_FAIL_DELAY_MS", 0) / 1000
        assert c.cmd_pop("STAT").startswith("-ERR")
        login(c, *alice)	# a retry on the same connection works
        assert c.cmd_pop("QUIT").startswith("+OK")


def test_pop3_preauth_error_limit(daemon, ports):
    n = LIMITS.get("LIMIT_POP3_ERRORS_PREAUTH", LIMITS["LIMIT_POP3_ERRORS"])
    with Raw(ports["pop3s"], tls=True) as c:
        c.pop_line()
        for _ in range(n + 1):
            try:
                line = c.cmd_pop("BOGUS")
            except (EOFError, OSError):
                break
            assert line.startswith("-ERR"), line
        else:
            pytest.fail("no disconnect after too many errors")
        assert c.read_until_eof(5) == b""


# --- commands ---


def test_pop3_commands(box, ports):
    addr, pw, sent = box
    with Raw(ports["pop3s"], tls=True) as c:
        c.pop_line()
        login(c, addr, pw)
        line = c.cmd_pop("STAT")
        _, count, total = line.split()[:3]
        assert int(count) == 3
        assert c.cmd_pop("LIST").startswith("+OK")
        listing = [ln.decode().split() for ln in c.pop_multi()]
        assert [x[0] for x in listing] == ["1", "2", "3"]
        sizes = [int(x[1]) for x in listing]
        assert sum(sizes) == int(total)
        assert c.cmd_pop("LIST 2").split()[:3] == ["+OK", "2", str(sizes[1])]
        assert c.cmd_pop("LIST 4").startswith("-ERR")
        assert c.cmd_pop("LIST 0").startswith("-ERR")
        assert c.cmd_pop("LIST x").startswith("-ERR")
        assert c.cmd_pop("UIDL").startswith("+OK")
        uidls = [ln.decode().split() for ln in c.pop_multi()]
        assert [u[0] for u in uidls] == ["1", "2", "3"]
        uids = [u[1] for u in uidls]
        assert len(set(uids)) == 3
        assert all(0 < len(u) <= 70 and all(0x21 <= ord(ch) <= 0x7e for ch in u) for u in uids)
        assert c.cmd_pop("UIDL 3").split() == ["+OK", "3", uids[2]]
        for i in range(3):
            assert c.cmd_pop(f"RETR {i + 1}").startswith("+OK")
            body = b"".join(ln + b"\r\n" for ln in c.pop_multi())
            assert len(body) == sizes[i], (i, len(body), sizes[i])
            util.strip_trace(body, sent[i])
        assert c.cmd_pop("TOP 1 0").startswith("+OK")
        top0 = b"".join(ln + b"\r\n" for ln in c.pop_multi())
        assert top0.endswith(b"\r\n\r\n") and b"first body line" not in top0, top0
        assert c.cmd_pop("TOP 1 1").startswith("+OK")
        top1 = b"".join(ln + b"\r\n" for ln in c.pop_multi())
        assert top1.endswith(b"\r\n\r\nfirst body line\r\n"), top1[-80:]
        assert c.cmd_pop("TOP 1 2").startswith("+OK")
        assert b"".join(ln + b"\r\n" for ln in c.pop_multi()).endswith(
            b"first body line\r\n.dot line\r\n")
        assert c.cmd_pop("TOP 1 100000").startswith("+OK")
        assert len(b"".join(ln + b"\r\n" for ln in c.pop_multi())) == sizes[0]
        assert c.cmd_pop("TOP 1").startswith("-ERR")
        assert c.cmd_pop("NOOP").startswith("+OK")
        assert c.cmd_pop("DELE 2").startswith("+OK")
        assert c.cmd_pop("DELE 2").startswith("-ERR")	# already deleted
        assert c.cmd_pop("RETR 2").startswith("-ERR")
        assert c.cmd_pop("LIST 2").startswith("-ERR")
        assert c.cmd_pop("STAT").split()[1] == "2"
        assert c.cmd_pop("RSET").startswith("+OK")
        assert c.cmd_pop("STAT").split()[1] == "3"
        assert c.cmd_pop("DELE 1").startswith("+OK")
        assert c.cmd_pop("QUIT").startswith("+OK")
        assert c.read_until_eof() == b""
    p = util.pop3_open(ports, addr, pw)
    try:
        _, listing, _ = p.uidl()
        assert [ln.split()[1].decode() for ln in listing] == uids[1:]
    finally:
        p.quit()


def test_dropped_connection_deletes_nothing(box, ports):
    addr, pw, _ = box
    for close in ("drop", "rset"):
        with Raw(ports["pop3s"], tls=True) as c:
            c.pop_line()
            login(c, addr, pw)
            for i in (1, 2, 3):
                assert c.cmd_pop(f"DELE {i}").startswith("+OK")
            if close == "rset":
                assert c.cmd_pop("RSET").startswith("+OK")
                assert c.cmd_pop("QUIT").startswith("+OK")
            else:
                c.sock.shutdown(socket.SHUT_RDWR)
        time.sleep(0.5)
        assert len(util.pop3_messages(ports, addr, pw)) == 3, close


def test_uidl_stable_and_never_reused(box, site, ports):
    addr, pw, _ = box

    def uidl():
        p = util.pop3_open(ports, addr, pw)
        try:
            return [ln.split()[1] for ln in p.uidl()[1]]
        finally:
            p.quit()
    first = uidl()
    assert uidl() == first
    p = util.pop3_open(ports, addr, pw, mode="stls")
    p.dele(3)	# the newest: its UID must not come back
    p.quit()
    deliver(ports, addr, 1)
    util.wait_messages(ports, addr, pw, 3)
    after = uidl()
    assert after[:2] == first[:2]
    assert after[2] not in first, (first, after)


def test_deleted_elsewhere_while_listed(box, ports):
    """Session B lists a message session A then deletes: B gets -ERR, not a crash."""
    addr, pw, _ = box
    with Raw(ports["pop3s"], tls=True) as a, Raw(ports["pop3s"], tls=True) as b:
        a.pop_line()
        b.pop_line()
        login(a, addr, pw)
        login(b, addr, pw)
        assert a.cmd_pop("DELE 1").startswith("+OK")
        assert a.cmd_pop("QUIT").startswith("+OK")
        a.read_until_eof()
        time.sleep(0.3)
        line = b.cmd_pop("RETR 1")
        if line.startswith("+OK"):	# served from a snapshot: must be complete
            b.pop_multi()
        else:
            assert line.startswith("-ERR"), line
        assert b.cmd_pop("RETR 2").startswith("+OK")
        b.pop_multi()
        assert b.cmd_pop("DELE 1").startswith(("+OK", "-ERR"))
        assert b.cmd_pop("QUIT").startswith("+OK")
    assert len(util.pop3_messages(ports, addr, pw)) == 2


def test_stls_injection(daemon, ports, alice):
    with Raw(ports["pop3"]) as c:
        c.pop_line()
        c.send(b"STLS\r\nCAPA\r\n")
        line = c.pop_line()
        if not line.startswith("+OK"):
            return	# STLS refused because more input followed: fine
        c.upgrade()
        line = c.cmd_pop("NOOP")	# not authenticated: an error, but the FIRST reply in TLS
        assert line.startswith("-ERR"), f"injected CAPA answered inside TLS: {line!r}"
        rest = c.pending(0.5)
        assert rest == b"", rest


def test_list_size_matches_retr_for_odd_messages(daemon, site, ports):
    addr, pw = site.new_user("odd")
    bodies = [b"", b".\r\n", b"..\r\n.\r\n", b"x" * 5000 + b"\r\n", b"no final newline",
              "ünïcödé\r\n".encode()]
    for body in bodies:
        msgid, msg = util.make_msg(f"x@{REMOTE_DOMAIN}", addr, body=body)
        assert util.mx_send(ports["smtp"], f"x@{REMOTE_DOMAIN}", [addr], msg) == {}
    util.wait_messages(ports, addr, pw, len(bodies))
    p = util.pop3_open(ports, addr, pw)
    try:
        _, listing, _ = p.list()
        for ln in listing:
            num, size = map(int, ln.split())
            _, lines, octets = p.retr(num)
            msg = b"\r\n".join(lines) + b"\r\n"
            assert len(msg) == size == octets, (num, len(msg), size, octets)
    finally:
        p.quit()


# --- real clients ---


def fetchmail(tmp_path, port, user, password, ssl_mode, keep, outdir):
    rc = tmp_path / "fetchmailrc"
    tls = "ssl" if ssl_mode == "implicit" else "sslproto 'TLS1.2+'"
    rc.write_text(
        "set no syslog\n"
        f"poll {HOST} protocol POP3 service {port} auth password timeout 30\n"
        f"  user \"{user}\" there with password \"{password}\" is root here\n"
        f"  {tls} no sslcertck fetchall {'keep' if keep else 'no keep'}\n"
        f"  mda \"/bin/sh -c 'cat > {outdir}/msg.$$'\"\n")
    os.chmod(rc, 0o600)
    env = dict(os.environ, FETCHMAILHOME=str(tmp_path), HOME=str(tmp_path))
    return subprocess.run(["fetchmail", "-f", str(rc), "--nodetach", "-v"], env=env,
                          capture_output=True, text=True, timeout=90)


def test_fetchmail_keep_then_delete(daemon, site, ports, tmp_path):
    addr, pw = site.new_user("fm")
    sent = deliver(ports, addr, 3)
    util.wait_messages(ports, addr, pw, 3)
    ids = sorted(util.message_id(m) for m in sent)
    out1 = tmp_path / "keep"
    out1.mkdir()
    r = fetchmail(tmp_path, ports["pop3s"], addr, pw, "implicit", True, out1)
    assert r.returncode == 0, r.stdout + r.stderr
    got = sorted(util.message_id(f.read_bytes().replace(b"\n", b"\r\n")) for f in out1.iterdir())
    assert got == ids, (got, ids)
    assert len(util.pop3_messages(ports, addr, pw)) == 3	# kept on the server
    out2 = tmp_path / "delete"
    out2.mkdir()
    r = fetchmail(tmp_path, ports["pop3"], addr, pw, "starttls", False, out2)
    assert r.returncode == 0, r.stdout + r.stderr
    got = sorted(util.message_id(f.read_bytes().replace(b"\n", b"\r\n")) for f in out2.iterdir())
    assert got == ids, (got, ids)
    assert util.pop3_messages(ports, addr, pw) == []	# deleted at QUIT


def curl(*args):
    return subprocess.run(["curl", "-sS", "-k", "--max-time", "30", *args], capture_output=True,
                          timeout=60)


def test_curl_pop3s_list_and_retr(daemon, site, ports):
    addr, pw = site.new_user("curl")
    sent = deliver(ports, addr, 2, body=b"hello curl\r\n..leading dot\r\n")
    msgs = util.wait_messages(ports, addr, pw, 2)
    r = curl("--user", f"{addr}:{pw}", f"pop3s://{HOST}:{ports['pop3s']}/")
    assert r.returncode == 0, r.stderr
    listing = [ln.split() for ln in r.stdout.decode().splitlines()]
    assert listing == [["1", str(len(msgs[0]))], ["2", str(len(msgs[1]))]], listing
    r = curl("--user", f"{addr}:{pw}", f"pop3s://{HOST}:{ports['pop3s']}/2")
    assert r.returncode == 0, r.stderr
    assert r.stdout == msgs[1]
    util.strip_trace(r.stdout, sent[1])
    # STLS on the plain POP3 port.
    r = curl("--ssl-reqd", "--user", f"{addr}:{pw}", f"pop3://{HOST}:{ports['pop3']}/1")
    assert r.returncode == 0, r.stderr
    assert r.stdout == msgs[0]
    r = curl("--user", f"{addr}:wrong-password", f"pop3s://{HOST}:{ports['pop3s']}/")
    assert r.returncode != 0


def test_password_with_spaces_and_utf8(daemon, site, ctl, ports):
    addr = f"spacey-{util.token()}@{util.DOMAIN}"
    pw = "correct horse  bättery staple "
    ctl.add_user(addr, pw)
    util.pop3_open(ports, addr, pw).quit()	# USER/PASS: PASS takes the rest of the line
    with Raw(ports["pop3s"], tls=True) as c:
        c.pop_line()
        assert c.cmd_pop("AUTH PLAIN " + util.base64_plain(addr, pw)).startswith("+OK")
    with Raw(ports["smtps"], tls=True) as c:	# smtplib can only AUTH in ASCII
        c.greeting()
        c.ehlo()
        code, text = c.auth_plain(addr, pw)
        assert code == 235, (code, text)


def test_login_address_case_insensitive(daemon, ports, alice):
    local, domain = alice[0].split("@")
    util.pop3_open(ports, f"{local.upper()}@{domain.upper()}", alice[1]).quit()
