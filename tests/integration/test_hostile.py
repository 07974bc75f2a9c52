"""Hostile and heavy clients: oversized lines, NUL bytes, SMTP smuggling,
STARTTLS/STLS command injection, error limits, connection limits, floods,
100 parallel deliveries, and idle clients cut off by the pre-auth and TLS
handshake timeouts (the last test waits for those: keep it last)."""

import socket
import ssl
import threading
import time

import pytest

import util
from util import HOST, LIMITS, REMOTE_DOMAIN, Raw

SENDER = f"x@{REMOTE_DOMAIN}"


def mx(ports, **kw):
    c = Raw(ports["smtp"], **kw)
    c.greeting()
    c.ehlo()
    return c


# --- idle clients, opened first (see test_timeouts at the end) ---


class Idle:
    """A connection that never sends anything; a thread records when and
    what the server sends before it closes."""

    def __init__(self, port, source, tls=False, prelude=b""):
        self.sock = socket.socket()
        self.sock.bind((source, 0))
        self.sock.settimeout(10)
        self.sock.connect((HOST, port))
        self.opened = time.monotonic()
        self.data = b""
        self.closed_at = None
        self.tls = tls
        if prelude:
            self.data += self.sock.recv(4096)
            self.sock.sendall(prelude)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        self.sock.settimeout(300)
        try:
            while True:
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                self.data += chunk
        except OSError:
            pass
        self.closed_at = time.monotonic()

    def elapsed(self):
        return None if self.closed_at is None else self.closed_at - self.opened


@pytest.fixture(scope="module")
def idle(daemon, ports):
    src = "127.0.3.1"
    conns = {
        "smtp": Idle(ports["smtp"], src),
        "submission": Idle(ports["submission"], src, prelude=b"EHLO idle.test\r\n"),
        "pop3": Idle(ports["pop3"], src),
        "tls-handshake": Idle(ports["smtps"], src),	# TCP only, never a ClientHello
    }
    yield conns
    for c in conns.values():
        c.sock.close()


def test_idle_clients_opened(idle):
    """Opens the idle clients early so the timeout test at the end waits less."""
    assert all(c.closed_at is None for c in idle.values()), \
        {k: (c.data, c.elapsed()) for k, c in idle.items()}


# --- oversized lines ---


def test_smtp_line_limit(daemon, ports):
    n = LIMITS["LIMIT_SMTP_LINE"]
    with mx(ports) as c:
        # Exactly at the limit (CRLF included): accepted.
        line = b"NOOP " + b"a" * (n - 7) + b"\r\n"
        assert len(line) == n
        c.send(line)
        code, text = c.reply()
        assert code == 250, (code, text)
        # One past: refused.
        line = b"NOOP " + b"a" * (n - 6) + b"\r\n"
        assert len(line) == n + 1
        c.send(line)
        code, text = c.reply()
        assert code == 500, (code, text)
        assert c.cmd("NOOP")[0] == 250
        # What follows the cap is never read as a command of its own.
        line = b"NOOP " + b"a" * (n - 5) + b"QUIT\r\n"
        assert line.index(b"QUIT") == n
        c.send(line)
        code, text = c.reply()
        assert code == 500, (code, text)
        assert c.cmd("NOOP")[0] == 250
        # Far past, in several writes.
        c.send(b"MAIL FROM:<" + b"b" * 50000)
        time.sleep(0.2)
        c.send(b"b" * 50000 + b"@remote.test>\r\nRSET\r\n")
        code, _ = c.reply()
        assert code == 500, code
        assert c.reply()[0] == 250	# the RSET after it


def test_smtp_endless_line(daemon, ports):
    with mx(ports) as c:
        try:
            for _ in range(64):
                c.send(b"x" * 16384)	# 1 MiB, never a newline
        except OSError:
            pass
        data = c.pending(2)
        assert data == b"" or data.startswith(b"500") or data.startswith(b"421"), data[:200]


def test_auth_line_limit(daemon, ports, alice):
    n = LIMITS["LIMIT_SMTP_AUTH_LINE"]
    with Raw(ports["smtps"], tls=True) as c:
        c.greeting()
        c.ehlo()
        assert c.cmd("AUTH PLAIN")[0] == 334
        code, _ = c.cmd("A" * (n + 100))
        assert 500 <= code < 600, code
        code, _ = c.cmd("NOOP")
        assert code == 250


def test_pop3_line_limit(daemon, ports):
    n = LIMITS["LIMIT_POP3_LINE"]
    with Raw(ports["pop3s"], tls=True) as c:
        assert c.pop_line().startswith("+OK")
        line = c.cmd_pop("USER " + "u" * (n + 10))
        assert line.startswith("-ERR"), line
        c.send(b"z" * 200000)
        time.sleep(0.3)
        c.send(b"\r\n")
        try:
            line = c.pop_line()
            assert line.startswith("-ERR"), line
            assert c.cmd_pop("CAPA").startswith("+OK")
            c.pop_multi()
        except (EOFError, OSError):
            pass	# closing on a hostile line is acceptable


# --- NUL bytes and binary junk ---


def test_nul_bytes_in_commands(daemon, ports):
    with mx(ports) as c:
        code, _ = c.cmd(b"NOOP\x00")
        assert 500 <= code < 600, code
        code, _ = c.cmd(b"MAIL FROM:<a\x00b@remote.test>")
        assert 500 <= code < 600, code
        code, _ = c.cmd(b"EHLO \x00\xff\xfe")
        assert 500 <= code < 600, code
        assert c.cmd("NOOP")[0] == 250
    with Raw(ports["pop3s"], tls=True) as c:
        c.pop_line()
        assert c.cmd_pop("USER al\x00ice@example.test").startswith("-ERR")
        assert c.cmd_pop("CAPA").startswith("+OK")
        c.pop_multi()


def test_nul_in_auth_password(daemon, ports, alice):
    import base64
    raw = b"\0" + alice[0].encode() + b"\0" + alice[1].encode() + b"\0extra"
    with Raw(ports["smtps"], tls=True) as c:
        c.greeting()
        c.ehlo()
        code, _ = c.cmd("AUTH PLAIN " + base64.b64encode(raw).decode())
        assert code in (501, 535), code


def test_nul_in_message_body(daemon, site, ports):
    rcpt, rpw = site.new_user("nul")
    with mx(ports) as c:
        assert c.cmd(f"MAIL FROM:<{SENDER}>")[0] == 250
        assert c.cmd(f"RCPT TO:<{rcpt}>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.send(b"Subject: nul\r\n\r\nbefore\x00after\r\n.\r\n")
        code, text = c.reply()
        assert code == 250 or 500 <= code < 600, (code, text)
        assert c.cmd("NOOP")[0] == 250
    if code == 250:
        msgs = util.wait_messages(ports, rcpt, rpw, 1)
        assert b"before" in msgs[0] and b"after" in msgs[0]


def test_tls_garbage(daemon, ports):
    for payload in (b"EHLO plain.test\r\n", b"\x16\x03\x01\x00\x05hello", b"\x00" * 1000,
                    b"\x16\x03\x01\xff\xff" + b"A" * 70000):
        with socket.create_connection((HOST, ports["smtps"]), timeout=10) as s:
            try:
                s.sendall(payload)
                s.settimeout(10)
                while s.recv(4096):
                    pass
            except OSError:
                pass
    # A handshake abandoned half way.
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = util.client_ctx().wrap_bio(incoming, outgoing, server_hostname=util.HOSTNAME)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    assert hello[:1] == b"\x16"
    for port in (ports["pop3s"], ports["smtps"]):
        with socket.create_connection((HOST, port), timeout=10) as raw:
            raw.sendall(hello)
            raw.recv(10)	# the server's first handshake bytes; then we vanish
    with Raw(ports["smtps"], tls=True) as c:
        c.greeting()


# --- SMTP smuggling (bare LF / bare CR end-of-data look-alikes) ---


SMUGGLE = [b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\r.\r", b"\r\n.\r", b"\r.\r\n", b"\n.\r", b"\r.\n"]


@pytest.mark.parametrize("eod", SMUGGLE, ids=[repr(x)[2:-1] for x in SMUGGLE])
def test_smuggling(daemon, site, ports, eod):
    rcpt, rpw = site.new_user("smug")
    victim, vpw = site.new_user("victim")
    smuggled = (f"MAIL FROM:<evil@{REMOTE_DOMAIN}>\r\nRCPT TO:<{victim}>\r\nDATA\r\n"
                f"Subject: smuggled\r\n\r\nsmuggled body\r\n").encode()
    body = b"Subject: carrier\r\n\r\nbefore" + eod + smuggled + b".\r\n"
    with mx(ports) as c:
        assert c.cmd(f"MAIL FROM:<{SENDER}>")[0] == 250
        assert c.cmd(f"RCPT TO:<{rcpt}>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.send(body + b"QUIT\r\n")
        rest = c.read_until_eof(15)
    replies = [ln for ln in rest.split(b"\r\n") if ln]
    assert [r[:3] for r in replies] == [b"250", b"221"], rest
    time.sleep(0.3)
    assert util.pop3_messages(ports, victim, vpw) == []
    util.wait_messages(ports, rcpt, rpw, 1)
    msgs = util.pop3_raw_messages(ports, rcpt, rpw)
    assert len(msgs) == 1
    stored = msgs[0]
    assert b"MAIL FROM:<evil@" in stored and b"smuggled body" in stored
    # Bare CR and bare LF were turned into CRLF.
    assert stored.replace(b"\r\n", b"") .count(b"\r") == 0, stored
    assert stored.replace(b"\r\n", b"").count(b"\n") == 0, stored


def test_bare_lf_message_stored_as_crlf(daemon, site, ports):
    rcpt, rpw = site.new_user("barelf")
    with mx(ports) as c:
        assert c.cmd(f"MAIL FROM:<{SENDER}>")[0] == 250
        assert c.cmd(f"RCPT TO:<{rcpt}>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.send(b"Subject: lf\nX-A: 1\r\n\nline1\nline2\rline3\r\n.\r\n")
        assert c.reply()[0] == 250
    util.wait_messages(ports, rcpt, rpw, 1)
    stored = util.pop3_raw_messages(ports, rcpt, rpw)[0]
    assert stored.endswith(b"Subject: lf\r\nX-A: 1\r\n\r\nline1\r\nline2\r\nline3\r\n"), stored


# --- STARTTLS injection (CVE-2011-0411 class) ---


@pytest.mark.parametrize("listener", ["smtp", "submission"])
def test_starttls_injection(daemon, ports, listener):
    with Raw(ports[listener]) as c:
        c.greeting()
        c.ehlo()
        c.send(b"STARTTLS\r\nRSET\r\n")
        code, text = c.reply()
        if code != 220:
            # Refused because commands followed it: the RSET answer stays plaintext.
            assert 400 <= code < 600, (code, text)
            return
        c.upgrade()
        code, lines = c.cmd("EHLO after.test")
        assert code == 250 and len(lines) > 1, \
            f"first reply inside TLS is not the EHLO answer: {code} {lines}"
        assert c.pending(0.5) == b""


# --- error limits ---


@pytest.mark.parametrize("listener,limit", [("smtp", "LIMIT_SMTP_ERRORS"),
                                            ("submission", "LIMIT_SMTP_ERRORS_PREAUTH")])
def test_too_many_errors_421(daemon, ports, listener, limit):
    n = LIMITS[limit]
    with Raw(ports[listener]) as c:
        c.greeting()
        codes = []
        for i in range(n + 3):
            try:
                code, text = c.cmd(f"BOGUS{i}")
            except (EOFError, OSError):
                break
            codes.append((code, text[0]))
            if code == 421:
                break
        assert codes and codes[-1][0] == 421 and codes[-1][1].startswith("4.7.0"), codes
        assert n - 1 <= len(codes) <= n + 1, codes
        assert c.read_until_eof(5) == b""


# --- floods and concurrency ---


@pytest.mark.timeout(180)
def test_pipelined_noop_flood(daemon, ports):
    n = 20000
    with mx(ports, timeout=60) as c:
        sender = threading.Thread(target=c.send, args=(b"NOOP\r\n" * n,), daemon=True)
        sender.start()
        time.sleep(1)	# let the replies pile up: the server must apply backpressure
        got = 0
        for _ in range(n):
            code, _ = c.reply()
            assert code == 250, (got, code)
            got += 1
        sender.join(10)
        assert c.cmd("QUIT")[0] == 221


@pytest.mark.timeout(180)
def test_100_parallel_deliveries(daemon, site, ports):
    rcpt, rpw = site.new_user("par")
    n = 100
    barrier = threading.Barrier(n, timeout=60)

    def one(i):
        c = Raw(ports["smtp"], source=f"127.0.1.{1 + i % 10}", timeout=60)
        try:
            c.greeting()
            c.ehlo()
            barrier.wait()
            msgid, msg = util.make_msg(SENDER, rcpt, msgid=f"<par-{i}@client.test>")
            assert c.cmd(f"MAIL FROM:<{SENDER}>")[0] == 250
            assert c.cmd(f"RCPT TO:<{rcpt}>")[0] == 250
            assert c.cmd("DATA")[0] == 354
            c.send(msg + b".\r\n")
            code, text = c.reply()
            assert code == 250, (i, code, text)
            c.cmd("QUIT")
            return msgid
        finally:
            c.close()
    ids = util.run_threads(n, one)
    assert len(set(ids)) == n
    stored = util.wait_for(lambda: (lambda x: x if len(x) >= n else None)(
        util.pop3_ids(ports, rcpt, rpw)), 20, interval=0.5, what="100 messages")
    assert sorted(stored) == sorted(ids)


def test_connection_limit_per_ip(daemon, ports):
    n = LIMITS["LIMIT_CONNECTIONS_PER_IP"]
    src = "127.0.2.1"
    conns = []
    try:
        for _ in range(n):
            c = Raw(ports["smtp"], source=src, timeout=20)
            conns.append(c)
            c.greeting()
        extra = Raw(ports["smtp"], source=src, timeout=20)
        conns.append(extra)
        code, text = extra.reply()
        assert code == 421 and text[0].startswith("4.7.0"), (code, text)
        assert extra.read_until_eof(5) == b""
        # Another address is not affected.
        with Raw(ports["smtp"], source="127.0.2.2") as other:
            other.greeting()
    finally:
        for c in conns:
            c.close()

    def fresh():
        with Raw(ports["smtp"], source=src) as c:
            return c.reply()[0] == 220
    util.wait_for(fresh, 10, interval=0.5, what="slots freed after close")


# --- timeouts: keep this test last in the module ---


@pytest.mark.timeout(200)
def test_timeouts(idle):
    preauth = LIMITS["LIMIT_SMTP_TIMEOUT_PREAUTH_MS"] / 1000
    pop_preauth = LIMITS["LIMIT_POP3_TIMEOUT_PREAUTH_MS"] / 1000
    handshake = LIMITS["LIMIT_TLS_HANDSHAKE_MS"] / 1000
    longest = max(preauth, pop_preauth, handshake)
    deadline = min(c.opened for c in idle.values()) + longest + 20
    for c in idle.values():
        c.thread.join(max(0.0, deadline - time.monotonic()))
    report = {k: (c.data[-200:], c.elapsed()) for k, c in idle.items()}
    for name, limit in (("smtp", preauth), ("submission", preauth), ("pop3", pop_preauth),
                        ("tls-handshake", handshake)):
        c = idle[name]
        assert c.closed_at is not None, (name, report)
        assert limit * 0.9 <= c.elapsed() <= limit + 15, (name, limit, report)
    for name in ("smtp", "submission"):
        last = idle[name].data.rstrip(b"\r\n").split(b"\r\n")[-1]
        assert last.startswith(b"421 4.4.2"), (name, report)
    last = idle["pop3"].data.rstrip(b"\r\n").split(b"\r\n")[-1]
    assert last.startswith(b"-ERR") or last.startswith(b"+OK"), report


def check(c, cmd, ok):
    code, text = c.cmd(cmd)
    if ok is True:
        assert 200 <= code < 300, (cmd, code, text)
    elif ok is False:
        assert 500 <= code < 600, (cmd, code, text)
    else:
        assert 200 <= code < 600, (cmd, code, text)


def test_odd_arguments(daemon, ports, alice):
    """Edge arguments get a reply each and leave the session usable."""
    with mx(ports) as c:
        for cmd, ok in [("MAIL FROM:<" + "a" * 400 + "@remote.test>", False),
                        ("MAIL FROM:<x@remote.test> BODY=UNKNOWN", False),
                        ("MAIL FROM:<x@remote.test> NOSUCHPARAM=1", False),
                        ("MAIL FROM:x@remote.test", None),
                        ("RSET", True)]:
            check(c, cmd, ok)
    with mx(ports) as c:
        for cmd, ok in [("MAIL FROM:<x@remote.test>", True),
                        ("RCPT TO:<" + "b" * 70 + "@example.test>", False),
                        ("RCPT TO:<@example.test>", False),
                        ("RCPT TO:<>", False),
                        ("RCPT TO:<alice@example.test> NOTIFY=NEVER", None),
                        ("VRFY alice", None),
                        ("EXPN staff", False),
                        ("HELP", None),
                        ("STARTTLS extra", False)]:
            check(c, cmd, ok)
        assert c.cmd("RSET")[0] == 250
    with Raw(ports["pop3s"], tls=True) as c:
        c.pop_line()
        login(c, *alice)
        for cmd in ("RETR 0", "RETR -1", "RETR 99999999999999999999", "TOP 1 -1",
                    "TOP 1 99999999999999999999", "DELE", "LIST 1 2", "UIDL 0"):
            line = c.cmd_pop(cmd)
            assert line.startswith(("-ERR", "+OK")), (cmd, line)
            if line.startswith("+OK") and cmd.startswith(("TOP", "RETR")):
                c.pop_multi()
        assert c.cmd_pop("RSET").startswith("+OK")
        assert c.cmd_pop("QUIT").startswith("+OK")


def login(c, user, password):
    assert c.cmd_pop(f"USER {user}").startswith("+OK")
    line = c.cmd_pop(f"PASS {password}")
    assert line.startswith("+OK"), line


def test_empty_and_headerless_messages(daemon, site, ports):
    rcpt, rpw = site.new_user("empty")
    accepted = 0
    for data in (b".\r\n", b"\r\n.\r\n", b"no header at all\r\n.\r\n", b"x" * 3000 + b"\r\n.\r\n"):
        with mx(ports) as c:
            assert c.cmd(f"MAIL FROM:<{SENDER}>")[0] == 250
            assert c.cmd(f"RCPT TO:<{rcpt}>")[0] == 250
            assert c.cmd("DATA")[0] == 354
            c.send(data)
            code, text = c.reply()
            assert code == 250 or 500 <= code < 600, (data[:20], code, text)
            accepted += code == 250
            assert c.cmd("NOOP")[0] == 250
    msgs = util.pop3_raw_messages(ports, rcpt, rpw)
    assert len(msgs) == accepted
