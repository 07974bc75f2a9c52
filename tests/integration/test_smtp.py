"""SMTP: MX and submission roles, STARTTLS/implicit TLS, AUTH, relay
refusal, envelope rules, addressing (+tag, alias, catch-all), SIZE, BDAT,
PIPELINING, trace headers, and the byte-for-byte round trip to POP3."""

import base64
import shutil
import smtplib
import subprocess
import time

import pytest

import util
from util import CATCHALL_DOMAIN, DOMAIN, HOST, LIMITS, REMOTE_DOMAIN, Raw

SUBMISSION = ["submission", "submission-alt"]
ALL_EXT = ["PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8", "CHUNKING", "ENHANCEDSTATUSCODES"]


def ext_names(lines):
    return {ln.split()[0] for ln in lines if ln}


def ext_args(lines, name):
    for ln in lines:
        parts = ln.split()
        if parts and parts[0] == name:
            return parts[1:]
    return None


def authed(ports, listener, user, password):
    """A Raw SMTP session on a submission listener, TLS up, AUTH done."""
    c = Raw(ports[listener], tls=(listener == "smtps"))
    c.greeting()
    c.ehlo()
    if listener != "smtps":
        c.starttls()
        c.ehlo()
    code, text = c.auth_plain(user, password)
    assert code == 235, (code, text)
    return c


def send_raw_data(c, body: bytes, sender, rcpts):
    """MAIL/RCPT/DATA with an already dot-stuffed body ending in CRLF."""
    assert c.cmd(f"MAIL FROM:<{sender}>")[0] == 250
    for r in rcpts:
        code, text = c.cmd(f"RCPT TO:<{r}>")
        assert code == 250, (r, code, text)
    assert c.cmd("DATA")[0] == 354
    c.send(body + b".\r\n")
    return c.reply()


def stored_one(ports, user, password, timeout=10):
    msgs = util.wait_messages(ports, user, password, 1, timeout)
    assert len(msgs) == 1, f"{len(msgs)} messages for {user}"
    return msgs[0]


def wait_id(ports, user, password, msgid, timeout=10):
    util.wait_for(lambda: msgid in util.pop3_ids(ports, user, password), timeout, interval=0.3,
                  what=f"{msgid} in {user}")


# --- EHLO ---


def test_mx_ehlo(daemon, ports):
    with Raw(ports["smtp"]) as c:
        greet = c.greeting()
        assert util.HOSTNAME in greet[0], greet
        lines = c.ehlo()
        names = ext_names(lines)
        for e in ALL_EXT + ["STARTTLS"]:
            assert e in names, (e, lines)
        assert "AUTH" not in names, lines
        assert ext_args(lines, "SIZE") == [str(LIMITS["LIMIT_SMTP_MESSAGE_SIZE"])]
        c.starttls()
        lines = c.ehlo()
        assert "STARTTLS" not in ext_names(lines)
        assert "AUTH" not in ext_names(lines), "MX offers AUTH"
        assert c.cmd("QUIT")[0] == 221


@pytest.mark.parametrize("listener", SUBMISSION)
def test_submission_tls_before_auth(daemon, ports, listener):
    with Raw(ports[listener]) as c:
        c.greeting()
        lines = c.ehlo()
        names = ext_names(lines)
        assert "STARTTLS" in names
        assert "AUTH" not in names, f"AUTH offered before TLS: {lines}"
        code, text = c.cmd("MAIL FROM:<alice@example.test>")
        assert code == 530 and text[0].startswith("5.7.0"), (code, text)
        code, text = c.cmd("AUTH PLAIN " + util.base64_plain("alice@example.test", "x"))
        assert code == 530 and text[0].startswith("5.7.0"), (code, text)
        c.starttls()
        lines = c.ehlo()
        names = ext_names(lines)
        for e in ALL_EXT + ["AUTH"]:
            assert e in names, (e, lines)
        assert "STARTTLS" not in names
        assert {"PLAIN", "LOGIN"} <= set(ext_args(lines, "AUTH")), lines
        code, text = c.cmd("MAIL FROM:<alice@example.test>")
        assert code == 530 and text[0].startswith("5.7.0"), (code, text)


def test_smtps_implicit_ehlo(daemon, ports):
    with Raw(ports["smtps"], tls=True) as c:
        c.greeting()
        lines = c.ehlo()
        names = ext_names(lines)
        assert "AUTH" in names and "STARTTLS" not in names, lines
        assert c.sock.version() in ("TLSv1.2", "TLSv1.3")


def test_helo_and_sequence_errors(daemon, ports):
    with Raw(ports["smtp"]) as c:
        c.greeting()
        code, text = c.cmd("MAIL FROM:<a@remote.test>")
        assert code == 503, (code, text)	# no EHLO yet
        assert c.cmd("HELO client.test")[0] == 250
        code, text = c.cmd("RCPT TO:<alice@example.test>")
        assert code == 503 and text[0].startswith("5.5.1"), (code, text)
        assert c.cmd("DATA")[0] == 503
        assert c.cmd("NOOP")[0] == 250
        assert c.cmd("MAIL FROM:<a@remote.test>")[0] == 250
        assert c.cmd("MAIL FROM:<a@remote.test>")[0] == 503	# nested MAIL
        assert c.cmd("DATA")[0] == 503	# no recipient
        assert c.cmd("RSET")[0] == 250
        assert c.cmd("RCPT TO:<alice@example.test>")[0] == 503
        code, text = c.cmd("FROBNICATE")
        assert code == 500 and text[0].startswith("5.5."), (code, text)
        assert c.cmd("QUIT")[0] == 221
        assert c.read_until_eof() == b""


# --- submission ---


@pytest.mark.parametrize("listener", SUBMISSION)
def test_smtplib_starttls_auth(daemon, site, ports, alice, listener):
    rcpt, rpw = site.new_user("sub")
    msgid, msg = util.make_msg(alice[0], rcpt)
    refused = util.smtp_submit(ports[listener], alice[0], alice[1], alice[0], [rcpt], msg)
    assert refused == {}
    stored = stored_one(ports, rcpt, rpw)
    trace = util.strip_trace(stored, msg)
    fields = util.header_fields(trace + b"\r\n")
    assert fields[0][0].lower() == "return-path" and fields[0][1] == f"<{alice[0]}>", fields
    assert any(n.lower() == "received" for n, _ in fields)


def test_smtps_implicit_submit(daemon, site, ports, alice):
    rcpt, rpw = site.new_user("smtps")
    msgid, msg = util.make_msg(alice[0], rcpt)
    assert util.smtp_submit(ports["smtps"], alice[0], alice[1], alice[0], [rcpt], msg,
                            mode="ssl") == {}
    util.strip_trace(stored_one(ports, rcpt, rpw), msg)


def test_received_header_names_tls(daemon, site, ports, alice):
    rcpt, rpw = site.new_user("rcvd")
    c = authed(ports, "submission", *alice)
    version, cipher = c.sock.version(), c.sock.cipher()[0]
    msgid, msg = util.make_msg(alice[0], rcpt)
    code, text = send_raw_data(c, msg, alice[0], [rcpt])
    assert code == 250, (code, text)
    c.cmd("QUIT")
    c.close()
    trace = util.strip_trace(stored_one(ports, rcpt, rpw), msg)
    received = [v for n, v in util.header_fields(trace + b"\r\n") if n.lower() == "received"]
    assert received, trace
    assert version in received[0] and cipher in received[0], (version, cipher, received[0])
    assert util.HOSTNAME in received[0], received[0]


def test_auth_login_and_plain_variants(daemon, ports, alice):
    user, pw = alice
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    with Raw(ports["submission"]) as c:
        c.greeting()
        c.ehlo()
        c.starttls()
        c.ehlo()
        code, text = c.cmd("AUTH LOGIN")
        assert code == 334 and base64.b64decode(text[0]).lower().startswith(b"username"), text
        code, text = c.cmd(b64(user))
        assert code == 334 and base64.b64decode(text[0]).lower().startswith(b"password"), text
        code, text = c.cmd(b64(pw))
        assert code == 235 and text[0].startswith("2.7.0"), (code, text)
        assert c.cmd("AUTH PLAIN " + util.base64_plain(user, pw))[0] == 503	# already authed
    with Raw(ports["submission-alt"]) as c:
        c.greeting()
        c.ehlo()
        c.starttls()
        c.ehlo()
        code, text = c.cmd("AUTH PLAIN")	# no initial response
        assert code == 334, (code, text)
        code, text = c.cmd(util.base64_plain(user, pw))
        assert code == 235, (code, text)
    with Raw(ports["smtps"], tls=True) as c:
        c.greeting()
        c.ehlo()
        assert c.cmd("AUTH LOGIN")[0] == 334
        code, text = c.cmd("*")	# client cancels
        assert code == 501, (code, text)
        assert c.cmd("NOOP")[0] == 250


@pytest.mark.parametrize("user,password", [("alice@example.test", "wrong-password-1"),
                                           ("nobody@example.test", "wrong-password-1"),
                                           ("alice@example.test", ""),
                                           ("alice@remote.test", "whatever-pass")])
def test_bad_auth_535(daemon, ports, user, password):
    with Raw(ports["submission"]) as c:
        c.greeting()
        c.ehlo()
        c.starttls()
        c.ehlo()
        t = time.monotonic()
        code, text = c.auth_plain(user, password)
        elapsed = time.monotonic() - t
        assert code == 535 and text[0].startswith("5.7.8"), (code, text)
        assert elapsed >= 0.8 * LIMITS["LIMIT_SMTP_AUTH_FAIL_DELAY_MS"] / 1000, elapsed
        code, text = c.cmd("MAIL FROM:<alice@example.test>")
        assert code == 530, (code, text)


def test_auth_malformed(daemon, ports):
    with Raw(ports["submission"]) as c:
        c.greeting()
        c.ehlo()
        c.starttls()
        c.ehlo()
        code, _ = c.cmd("AUTH PLAIN !!!notbase64!!!")
        assert code in (501, 535), code
        code, _ = c.cmd("AUTH CRAM-MD5")
        assert code == 504, code
        code, _ = c.cmd("AUTH PLAIN " + base64.b64encode(b"no-nul-bytes-here").decode())
        assert code in (501, 535), code


def test_no_auth_on_mx(daemon, ports, alice):
    with Raw(ports["smtp"]) as c:
        c.greeting()
        c.ehlo()
        c.starttls()
        c.ehlo()
        code, text = c.auth_plain(*alice)
        assert 500 <= code < 600, (code, text)
        code, text = c.cmd("MAIL FROM:<alice@example.test>")
        assert code == 250
        code, text = c.cmd(f"RCPT TO:<someone@{REMOTE_DOMAIN}>")
        assert code == 554 and text[0].startswith("5.7.1"), (code, text)


def test_submission_sender_rules(daemon, ports, alice, bob):
    c = authed(ports, "submission", *alice)
    with c:
        for sender, want in [(bob[0], 553), (f"x@{REMOTE_DOMAIN}", 553),
                             (f"ALICE@{DOMAIN.upper()}", 250), (f"sales@{DOMAIN}", 250),
                             (f"alice+lists@{DOMAIN}", 250), (f"fwd@{DOMAIN}", 553)]:
            code, text = c.cmd(f"MAIL FROM:<{sender}>")
            assert code == want, (sender, code, text)
            if code == 553:
                assert text[0].startswith("5.7.1"), text
            else:
                assert c.cmd("RSET")[0] == 250


def test_submission_remote_recipient_queued(daemon, ctl, ports, alice):
    rcpt = f"{util.token('far')}@{REMOTE_DOMAIN}"
    msgid, msg = util.make_msg(alice[0], rcpt)
    assert util.smtp_submit(ports["submission"], *alice, alice[0], [rcpt], msg) == {}
    rows = [r for r in ctl.queue() if r[2] == rcpt]
    assert len(rows) == 1, ctl.queue()
    row = rows[0]
    assert row[1] == alice[0], row
    assert row[0].isdigit() and row[4].isdigit(), row


def test_alias_to_remote_is_queued(daemon, ctl, ports):
    before = len([r for r in ctl.queue() if r[2] == f"friend@{REMOTE_DOMAIN}"])
    msgid, msg = util.make_msg(f"x@{REMOTE_DOMAIN}", f"fwd@{DOMAIN}")
    assert util.mx_send(ports["smtp"], f"x@{REMOTE_DOMAIN}", [f"fwd@{DOMAIN}"], msg) == {}
    after = len([r for r in ctl.queue() if r[2] == f"friend@{REMOTE_DOMAIN}"])
    assert after == before + 1


# --- MX ---


def test_mx_delivers_local(daemon, site, ports):
    rcpt, rpw = site.new_user("mx")
    msgid, msg = util.make_msg(f"sender@{REMOTE_DOMAIN}", rcpt)
    assert util.mx_send(ports["smtp"], f"sender@{REMOTE_DOMAIN}", [rcpt], msg) == {}
    stored = stored_one(ports, rcpt, rpw)
    trace = util.strip_trace(stored, msg)
    assert trace.startswith(f"Return-Path: <sender@{REMOTE_DOMAIN}>\r\n".encode()), trace


def test_null_sender_return_path(daemon, site, ports):
    rcpt, rpw = site.new_user("bounce")
    msgid, msg = util.make_msg("mailer-daemon@remote.test", rcpt)
    with Raw(ports["smtp"]) as c:
        c.greeting()
        c.ehlo()
        code, text = send_raw_data(c, msg, "", [rcpt])
        assert code == 250, (code, text)
    trace = util.strip_trace(stored_one(ports, rcpt, rpw), msg)
    assert trace.startswith(b"Return-Path: <>\r\n"), trace


def test_mx_unknown_user(daemon, ports):
    with Raw(ports["smtp"]) as c:
        c.greeting()
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<x@{REMOTE_DOMAIN}>")[0] == 250
        code, text = c.cmd(f"RCPT TO:<no-such-user-xyz@{DOMAIN}>")
        assert code == 550 and text[0].startswith("5.1.1"), (code, text)


RELAY_ATTEMPTS = [
    f"victim@{REMOTE_DOMAIN}",
    "VICTIM@REMOTE.TEST",
    f"victim@{REMOTE_DOMAIN}.",
    f"victim%{REMOTE_DOMAIN}@{DOMAIN}",
    f"victim%{REMOTE_DOMAIN}%{DOMAIN}@{DOMAIN}",
    f"@a.test:victim@{REMOTE_DOMAIN}",
    f"@{DOMAIN}:victim@{REMOTE_DOMAIN}",
    f"@{DOMAIN},@a.test:victim@{REMOTE_DOMAIN}",
    f"\"victim@{REMOTE_DOMAIN}\"@{DOMAIN}",
    f"\"victim%{REMOTE_DOMAIN}\"@{DOMAIN}",
    f"{REMOTE_DOMAIN}!victim@{DOMAIN}",
    f"victim@{REMOTE_DOMAIN}@{DOMAIN}",
    "victim@[127.0.0.1]",
    f"victim@{DOMAIN}@{REMOTE_DOMAIN}",
]


@pytest.mark.parametrize("rcpt", RELAY_ATTEMPTS)
def test_mx_refuses_relay(daemon, ctl, ports, rcpt):
    before = ctl.queue()
    with Raw(ports["smtp"]) as c:
        c.greeting()
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<x@{REMOTE_DOMAIN}>")[0] == 250
        code, text = c.cmd(f"RCPT TO:<{rcpt}>")
        assert 500 <= code < 600, (rcpt, code, text)
        if rcpt.lower() == f"victim@{REMOTE_DOMAIN}":
            assert code == 554 and text[0].startswith("5.7.1"), (rcpt, code, text)
        # Even so, a DATA must not put anything in the queue.
        code, _ = c.cmd("DATA")
        if code == 354:
            c.send(b"Subject: relay\r\n\r\nrelay\r\n.\r\n")
            c.reply()
    assert ctl.queue() == before


def test_catchall_percent_hack_stays_local(daemon, ctl, ports, bob):
    """On a catch-all domain a %-hack address is just a local name."""
    before = ctl.queue()
    rcpt = f"victim%{REMOTE_DOMAIN}@{CATCHALL_DOMAIN}"
    msgid, msg = util.make_msg(f"x@{REMOTE_DOMAIN}", rcpt)
    assert util.mx_send(ports["smtp"], f"x@{REMOTE_DOMAIN}", [rcpt], msg) == {}
    assert ctl.queue() == before
    wait_id(ports, *bob, msgid)


def test_plus_tag_alias_catchall(daemon, site, ports, alice, bob):
    rcpt, rpw = site.new_user("tag")
    local, domain = rcpt.split("@")
    ids = []
    for to, (user, pw) in [(f"{local}+news@{domain}", (rcpt, rpw)),
                           (f"{local}+a+b@{domain}", (rcpt, rpw)),
                           (f"sales@{DOMAIN}", alice),
                           (f"anything-{util.token()}@{CATCHALL_DOMAIN}", bob),
                           (f"sales+x@{DOMAIN}", alice)]:
        msgid, msg = util.make_msg(f"x@{REMOTE_DOMAIN}", to)
        assert util.mx_send(ports["smtp"], f"x@{REMOTE_DOMAIN}", [to], msg) == {}, to
        ids.append((msgid, user, pw))
    for msgid, user, pw in ids:
        wait_id(ports, user, pw, msgid)


def test_one_message_two_local_users(daemon, site, ports):
    u1, p1 = site.new_user("two")
    u2, p2 = site.new_user("two")
    msgid, msg = util.make_msg(f"x@{REMOTE_DOMAIN}", [u1, u2])
    assert util.mx_send(ports["smtp"], f"x@{REMOTE_DOMAIN}", [u1, u2], msg) == {}
    m1, m2 = stored_one(ports, u1, p1), stored_one(ports, u2, p2)
    util.strip_trace(m1, msg)
    util.strip_trace(m2, msg)


def test_same_recipient_twice_stored_once(daemon, site, ports):
    u, p = site.new_user("dup")
    local, domain = u.split("@")
    msgid, msg = util.make_msg(f"x@{REMOTE_DOMAIN}", u)
    with Raw(ports["smtp"]) as c:
        c.greeting()
        c.ehlo()
        code, text = send_raw_data(c, msg, f"x@{REMOTE_DOMAIN}", [u, u.upper(), f"{local}+t@{domain}"])
        assert code == 250, (code, text)
    time.sleep(0.5)
    assert len(util.pop3_messages(ports, u, p)) == 1


def test_smtputf8_addresses(daemon, site, ports):
    rcpt, rpw = site.new_user("utf")
    msgid, msg = util.make_msg("jörg@remote.test", rcpt, subject="Grüße")
    with Raw(ports["smtp"]) as c:
        c.greeting()
        c.ehlo()
        code, text = c.cmd("MAIL FROM:<jörg@bücher.test> SMTPUTF8 BODY=8BITMIME")
        assert code == 250, (code, text)
        assert c.cmd(f"RCPT TO:<{rcpt}>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.send(msg + b".\r\n")
        assert c.reply()[0] == 250
    trace = util.strip_trace(stored_one(ports, rcpt, rpw), msg)
    assert "Return-Path: <jörg@bücher.test>".encode() in trace


# --- SIZE ---


def test_size_declared(daemon, ports):
    limit = LIMITS["LIMIT_SMTP_MESSAGE_SIZE"]
    with Raw(ports["smtp"]) as c:
        c.greeting()
        c.ehlo()
        code, text = c.cmd(f"MAIL FROM:<x@{REMOTE_DOMAIN}> SIZE={limit + 1}")
        assert code == 552 and text[0].startswith("5.3.4"), (code, text)
        code, text = c.cmd(f"MAIL FROM:<x@{REMOTE_DOMAIN}> SIZE={limit}")
        assert code == 250, (code, text)
        assert c.cmd("RSET")[0] == 250
        code, text = c.cmd(f"MAIL FROM:<x@{REMOTE_DOMAIN}> SIZE=99999999999999999999999")
        assert code in (501, 552), (code, text)


@pytest.mark.timeout(180)
def test_size_exceeded_in_data(daemon, site, ports):
    rcpt, rpw = site.new_user("big")
    limit = LIMITS["LIMIT_SMTP_MESSAGE_SIZE"]
    line = b"Y" * 998 + b"\r\n"
    block = line * 1024
    with Raw(ports["smtp"], timeout=60) as c:
        c.greeting()
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<x@{REMOTE_DOMAIN}>")[0] == 250
        assert c.cmd(f"RCPT TO:<{rcpt}>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        sent = 0
        try:
            c.send(b"Subject: big\r\n\r\n")
            while sent <= limit + len(block):
                c.send(block)
                sent += len(block)
            c.send(b".\r\n")
        except OSError:
            pass	# the server may answer early and stop reading
        code, text = c.reply()
        assert code == 552 and text[0].startswith("5.3.4"), (code, text)
        try:
            code, _ = c.cmd("RSET")
            assert code == 250
        except (OSError, EOFError):
            pass
    time.sleep(0.5)
    assert util.pop3_messages(ports, rcpt, rpw) == []


# --- BDAT / CHUNKING, PIPELINING ---


def test_bdat(daemon, site, ports):
    rcpt, rpw = site.new_user("bdat")
    msgid, msg = util.make_msg(f"x@{REMOTE_DOMAIN}", rcpt,
                               body=b"line one\r\n.\r\n..two dots\r\n.\r\nend\r\n")
    a, b, rest = msg[:50], msg[50:120], msg[120:]
    with Raw(ports["smtp"]) as c:
        c.greeting()
        c.ehlo()
        # MAIL, RCPT and the first chunk pipelined in one write.
        c.send(f"MAIL FROM:<x@{REMOTE_DOMAIN}>\r\nRCPT TO:<{rcpt}>\r\nBDAT {len(a)}\r\n".encode() + a)
        assert c.reply()[0] == 250
        assert c.reply()[0] == 250
        code, text = c.reply()
        assert code == 250, (code, text)
        # A chunk split over several writes.
        c.send(f"BDAT {len(b)}\r\n".encode() + b[:10])
        time.sleep(0.1)
        c.send(b[10:])
        assert c.reply()[0] == 250
        c.send(f"BDAT {len(rest)} LAST\r\n".encode() + rest)
        code, text = c.reply()
        assert code == 250, (code, text)
        # Empty last chunk in a second transaction.
        msgid2, msg2 = util.make_msg(f"x@{REMOTE_DOMAIN}", rcpt)
        assert c.cmd(f"MAIL FROM:<x@{REMOTE_DOMAIN}>")[0] == 250
        assert c.cmd(f"RCPT TO:<{rcpt}>")[0] == 250
        c.send(f"BDAT {len(msg2)}\r\n".encode() + msg2)
        assert c.reply()[0] == 250
        assert c.cmd("BDAT 0 LAST")[0] == 250
        # BDAT and DATA do not mix; BDAT without a transaction fails.
        c.send(b"BDAT 3 LAST\r\nabc")
        assert c.reply()[0] == 503
    msgs = util.wait_messages(ports, rcpt, rpw, 2)
    assert len(msgs) == 2
    util.strip_trace(msgs[0], msg)
    util.strip_trace(msgs[1], msg2)


def test_bdat_bad_size(daemon, ports):
    with Raw(ports["smtp"]) as c:
        c.greeting()
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<x@{REMOTE_DOMAIN}>")[0] == 250
        assert c.cmd("RCPT TO:<alice@example.test>")[0] == 250
        code, text = c.cmd("BDAT -5")
        assert 500 <= code < 600, (code, text)
        code, text = c.cmd("BDAT 99999999999999999999999 LAST")
        assert code in (501, 552), (code, text)


def test_pipelining(daemon, site, ports):
    rcpt, rpw = site.new_user("pipe")
    msgid, msg = util.make_msg(f"x@{REMOTE_DOMAIN}", rcpt)
    with Raw(ports["smtp"]) as c:
        c.greeting()
        c.ehlo()
        c.send(f"MAIL FROM:<x@{REMOTE_DOMAIN}>\r\nRCPT TO:<{rcpt}>\r\n"
               f"RCPT TO:<nobody-pipe@{DOMAIN}>\r\nRCPT TO:<v@{REMOTE_DOMAIN}>\r\nDATA\r\n")
        codes = [c.reply()[0] for _ in range(5)]
        assert codes == [250, 250, 550, 554, 354], codes
        c.send(msg + b".\r\nNOOP\r\nQUIT\r\n")
        assert [c.reply()[0] for _ in range(3)] == [250, 250, 221]
    util.strip_trace(stored_one(ports, rcpt, rpw), msg)


def test_too_many_recipients(daemon, site, ports):
    rcpt, rpw = site.new_user("many")
    local, domain = rcpt.split("@")
    n = LIMITS["LIMIT_SMTP_RECIPIENTS"]
    with Raw(ports["smtp"], timeout=60) as c:
        c.greeting()
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<x@{REMOTE_DOMAIN}>")[0] == 250
        c.send("".join(f"RCPT TO:<{local}+{i}@{domain}>\r\n" for i in range(n + 1)))
        codes = [c.reply()[0] for _ in range(n + 1)]
        assert codes[:n] == [250] * n, [x for x in codes[:n] if x != 250][:5]
        assert codes[n] == 452, codes[n]
        assert c.cmd("RSET")[0] == 250


# --- byte-for-byte ---


def tricky_body(long_line=998):
    parts = [
        b"Plain ASCII line.",
        b".",
        b"..",
        b".starts with a dot",
        b"..two dots",
        b"",
        b"   leading spaces and trailing   ",
        b"\ttab\tseparated\t",
        "8-bit: Grüße aus Köln, 日本語, emoji \U0001F4EC".encode(),
        b"\xff\xfe raw high bytes \x80\x81",
        b"L" * long_line,
        b"From the start of a line",
        b"--boundary-like--",
        b"",
        b"",
        b"end.",
    ]
    return b"\r\n".join(parts) + b"\r\n"


@pytest.mark.parametrize("listener", ["submission", "smtps"])
def test_byte_for_byte_roundtrip(daemon, site, ports, alice, listener):
    rcpt, rpw = site.new_user("b4b")
    msgid, msg = util.make_msg(alice[0], rcpt, body=tricky_body(),
                               extra_headers=["MIME-Version: 1.0",
                                              "Content-Type: text/plain; charset=utf-8",
                                              "Content-Transfer-Encoding: 8bit",
                                              "X-Folded: first",
                                              "\tsecond part of the folded header"])
    mode = "ssl" if listener == "smtps" else "starttls"
    assert util.smtp_submit(ports[listener], *alice, alice[0], [rcpt], msg, mode=mode,
                            mail_options=["BODY=8BITMIME"]) == {}
    stored_one(ports, rcpt, rpw)
    stored = util.pop3_raw_messages(ports, rcpt, rpw)[0]
    util.strip_trace(stored, msg)


def test_byte_for_byte_very_long_line(daemon, site, ports, alice):
    """Lines far past 998 octets are kept as they are (no rewrapping)."""
    rcpt, rpw = site.new_user("long")
    msgid, msg = util.make_msg(alice[0], rcpt, body=tricky_body(long_line=20000))
    assert util.smtp_submit(ports["submission"], *alice, alice[0], [rcpt], msg,
                            mail_options=["BODY=8BITMIME"]) == {}
    stored_one(ports, rcpt, rpw)
    util.strip_trace(util.pop3_raw_messages(ports, rcpt, rpw)[0], msg)


# --- real clients ---


def swaks(*args, timeout=60):
    return subprocess.run([shutil.which("swaks") or "/usr/bin/swaks", "--server", HOST, "--helo", "client.test", "--timeout", "30",
                           *args], capture_output=True, text=True, timeout=timeout)


def test_swaks_submission(daemon, site, ports, alice):
    rcpt, rpw = site.new_user("swaks")
    tok = util.token("swaks")
    r = swaks("--port", str(ports["submission"]), "--tls", "--auth", "PLAIN",
              "--auth-user", alice[0], "--auth-password", alice[1],
              "--from", alice[0], "--to", rcpt, "--header", f"Subject: {tok}",
              "--body", f"body {tok}")
    assert r.returncode == 0, r.stdout + r.stderr
    stored = stored_one(ports, rcpt, rpw)
    assert tok.encode() in stored


def test_swaks_mx(daemon, site, ports):
    rcpt, rpw = site.new_user("swaksmx")
    tok = util.token("swaks")
    r = swaks("--port", str(ports["smtp"]), "--from", f"someone@{REMOTE_DOMAIN}", "--to", rcpt,
              "--header", f"Subject: {tok}")
    assert r.returncode == 0, r.stdout + r.stderr
    assert tok.encode() in stored_one(ports, rcpt, rpw)
    r = swaks("--port", str(ports["smtp"]), "--from", f"someone@{REMOTE_DOMAIN}",
              "--to", f"victim@{REMOTE_DOMAIN}")
    assert r.returncode != 0 and "554 5.7.1" in r.stdout, r.stdout


def test_smtplib_rejects_are_reported(daemon, ports, alice):
    """smtplib sees a refused recipient in the sendmail() result."""
    msgid, msg = util.make_msg(f"x@{REMOTE_DOMAIN}", "whoever")
    refused = util.mx_send(ports["smtp"], f"x@{REMOTE_DOMAIN}",
                           [alice[0], f"nobody-{util.token()}@{DOMAIN}"], msg)
    assert len(refused) == 1 and list(refused.values())[0][0] == 550, refused
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        util.mx_send(ports["smtp"], f"x@{REMOTE_DOMAIN}", [f"v@{REMOTE_DOMAIN}"], msg)


# --- loops, quota, TLS parameters ---


@pytest.mark.parametrize("hops,want", [(LIMITS["LIMIT_SMTP_RECEIVED_HOPS"], 250),
                                       (LIMITS["LIMIT_SMTP_RECEIVED_HOPS"] + 1, 554)])
def test_received_hops_loop(daemon, site, ports, hops, want):
    rcpt, rpw = site.new_user("hops")
    received = [f"Received: from hop{i}.test by hop{i + 1}.test; {util.email.utils.formatdate()}"
                for i in range(hops)]
    msgid, msg = util.make_msg(f"x@{REMOTE_DOMAIN}", rcpt)
    msg = ("\r\n".join(received) + "\r\n").encode() + msg
    with Raw(ports["smtp"]) as c:
        c.greeting()
        c.ehlo()
        code, text = send_raw_data(c, msg, f"x@{REMOTE_DOMAIN}", [rcpt])
        assert code == want, (code, text)
        if want == 554:
            assert text[0].startswith("5.4.6"), text
    time.sleep(0.3)
    assert len(util.pop3_messages(ports, rcpt, rpw)) == (1 if want == 250 else 0)


def test_quota(daemon, site, ctl, ports):
    addr = f"quota-{util.token()}@{DOMAIN}"
    pw = "Quota-password-1"
    ctl.ok("user", "add", addr, "--quota", "3000", input=pw + "\n")
    row = {r[0]: r for r in ctl.rows("user", "list")}[addr]
    assert row[1:] == ["0", "3000", "active"], row
    body = b"q" * 70 + b"\r\n"
    msgid, msg = util.make_msg(f"x@{REMOTE_DOMAIN}", addr, body=body * 25)	# ~2 KB
    assert util.mx_send(ports["smtp"], f"x@{REMOTE_DOMAIN}", [addr], msg) == {}
    p = util.pop3_open(ports, addr, pw)
    size = p.stat()[1]
    p.quit()
    row = {r[0]: r for r in ctl.rows("user", "list")}[addr]
    assert row[1] == str(size), (row, size)
    # A second one does not fit: refused after DATA, nothing stored.
    with Raw(ports["smtp"]) as c:
        c.greeting()
        c.ehlo()
        code, text = send_raw_data(c, msg, f"x@{REMOTE_DOMAIN}", [addr])
        assert (code, text[0][:5]) in ((452, "4.2.2"), (552, "5.2.2")), (code, text)
    assert len(util.pop3_messages(ports, addr, pw)) == 1
    # Deleting frees the space.
    util.pop3_messages(ports, addr, pw, delete=True)
    assert {r[0]: r for r in ctl.rows("user", "list")}[addr][1] == "0"
    assert util.mx_send(ports["smtp"], f"x@{REMOTE_DOMAIN}", [addr], msg) == {}


def test_tls_certificate_and_versions(daemon, ports):
    with Raw(ports["smtps"], tls=True) as c:
        der = c.sock.getpeercert(binary_form=True)
        assert util.HOSTNAME.encode() in der, "certificate does not name POSTERN_HOSTNAME"
        c.greeting()
    old = util.client_ctx()
    old.minimum_version = util.ssl.TLSVersion.TLSv1
    old.maximum_version = util.ssl.TLSVersion.TLSv1_1
    try:
        old.set_ciphers("DEFAULT:@SECLEVEL=0")
    except util.ssl.SSLError:
        pytest.skip("local OpenSSL cannot offer TLS 1.1")
    with util.socket.create_connection((HOST, ports["smtps"]), timeout=10) as s:
        with pytest.raises((util.ssl.SSLError, OSError)):
            with old.wrap_socket(s, server_hostname=util.HOSTNAME) as t:
                t.recv(100)


def test_queue_row_fields(daemon, ctl, ports, alice):
    rcpt = f"{util.token('q')}@{REMOTE_DOMAIN}"
    msgid, msg = util.make_msg(alice[0], rcpt)
    assert util.smtp_submit(ports["smtps"], *alice, alice[0], [rcpt], msg, mode="ssl") == {}
    row = [r for r in ctl.queue() if r[2] == rcpt][0]
    qid, sender, recipient, state, attempts, next_attempt, last_error = row
    assert qid.isdigit() and sender == alice[0] and attempts.isdigit()
    assert state and state.isidentifier(), state
    assert next_attempt[:2] == "20", next_attempt


def test_auth_plain_authzid(daemon, ports, alice, bob):
    with Raw(ports["smtps"], tls=True) as c:
        c.greeting()
        c.ehlo()
        code, text = c.cmd("AUTH PLAIN " + util.base64_plain(alice[0], alice[1], authzid=bob[0]))
        assert code in (535, 501), f"authorized as another user: {code} {text}"
        code, text = c.cmd("AUTH PLAIN " + util.base64_plain(*alice, authzid=alice[0]))
        assert code == 235, (code, text)


@pytest.mark.timeout(180)
def test_large_message_roundtrip(daemon, site, ports, alice):
    """Several MB: the spool goes to a file, POP3 streams the answer."""
    rcpt, rpw = site.new_user("large")
    lines = []
    for i in range(100000):
        lines.append(b"." * (i % 3) + (b"%06d " % i) + b"x" * (i % 70) + "é".encode() * (i % 5))
    body = b"\r\n".join(lines) + b"\r\n"
    assert len(body) > 10 * LIMITS["LIMIT_SPOOL_MEMORY"]
    msgid, msg = util.make_msg(alice[0], rcpt, body=body)
    assert util.smtp_submit(ports["submission"], *alice, alice[0], [rcpt], msg,
                            mail_options=["BODY=8BITMIME"]) == {}
    stored_one(ports, rcpt, rpw)
    util.strip_trace(util.pop3_raw_messages(ports, rcpt, rpw)[0], msg)
