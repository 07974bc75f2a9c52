"""IMAP: STARTTLS/LOGINDISABLED and IMAPS, LIST with special-use, SELECT,
FETCH of SMTP-delivered mail (ENVELOPE/BODYSTRUCTURE equal to mime_dump's),
BODY[] byte-exact, sections, STORE, COPY/MOVE with COPYUID, APPEND with
APPENDUID, EXPUNGE, SEARCH, IDLE woken by a delivery, two sessions, POP3
and IMAP seeing each other's deletions, hostile input, curl imaps://."""

import imaplib
import re
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

import util
from util import HOST, REMOTE_DOMAIN, Raw

DUMP = util.ROOT / "build/asan/tools/mime_dump"

MULTIPART = (
    b"From: =?UTF-8?Q?J=C3=B6rg?= <jorg@remote.test>\r\n"
    b"To: Someone <someone@example.test>, other@example.test\r\n"
    b"Cc: cc@example.test\r\n"
    b"Subject: multipart test\r\n"
    b"Date: Sat, 21 Nov 2026 10:00:00 +0100\r\n"
    b"Message-ID: <mp-1@remote.test>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
    b"\r\n"
    b"preamble\r\n"
    b"--XX\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Hello part one\r\nsecond line\r\n"
    b"--XX\r\n"
    b"Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"Content-Disposition: attachment; filename=\"a.bin\"\r\n"
    b"\r\n"
    b"AAECAwQF\r\n"
    b"--XX--\r\n")


def deliver(ports, rcpt, msg):
    assert util.mx_send(ports["smtp"], f"x@{REMOTE_DOMAIN}", [rcpt], msg) == {}


def simple(rcpt, subject="hello", body=None):
    return util.make_msg(f"x@{REMOTE_DOMAIN}", rcpt, subject=subject, body=body)[1]


def connect(ports, user=None, password=None):
    m = imaplib.IMAP4_SSL(HOST, ports["imaps"], ssl_context=util.client_ctx(), timeout=30)
    if user:
        typ, _ = m.login(user, password)
        assert typ == "OK"
    return m


@pytest.fixture
def box(daemon, site):
    return site.new_user("imap")


def wait_count(ports, user, pw, n, mailbox="INBOX", timeout=10):
    def have():
        m = connect(ports, user, pw)
        try:
            typ, data = m.status(mailbox, "(MESSAGES)")
            got = int(re.search(rb"MESSAGES (\d+)", data[0]).group(1))
            return got >= n
        finally:
            m.logout()
    util.wait_for(have, timeout, interval=0.2, what=f"{n} message(s) in {mailbox}")


def fetch_one(m, num, item, uid=False):
    typ, data = (m.uid if uid else m.fetch)(*(("FETCH",) if uid else ()), str(num), item)
    assert typ == "OK", data
    return data


def literal_of(data):
    for d in data:
        if isinstance(d, tuple):
            return d[1]
    raise AssertionError(f"no literal in {data!r}")


# --- TLS and login ---


def test_imap_starttls_and_logindisabled(daemon, ports, alice):
    m = imaplib.IMAP4(HOST, ports["imap"], timeout=30)
    caps = m.capabilities
    assert "STARTTLS" in caps and "LOGINDISABLED" in caps, caps
    assert "AUTH=PLAIN" not in caps
    with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
        m.login(*alice)
    m.starttls(ssl_context=util.client_ctx())
    assert "AUTH=PLAIN" in m.capabilities and "LOGINDISABLED" not in m.capabilities
    typ, _ = m.login(*alice)
    assert typ == "OK"
    for cap in ("IDLE", "UIDPLUS", "MOVE", "SPECIAL-USE", "NAMESPACE", "UNSELECT", "CHILDREN"):
        assert cap in m.capabilities or cap in m.capability()[1][0].decode(), cap
    m.logout()


def test_imap_starttls_discards_pipelined_plaintext(daemon, ports):
    with Raw(ports["imap"]) as c:
        assert c.readline().startswith(b"* OK")
        c.send(b"a STARTTLS\r\nb CAPABILITY\r\n")
        assert c.readline().startswith(b"a OK")
        c.upgrade()
        c.send(b"c NOOP\r\n")
        line = c.readline()
        assert line.startswith(b"c OK"), line


def test_imaps_login_plain_and_failure(daemon, ports, alice):
    m = connect(ports)
    assert "AUTH=PLAIN" in m.capabilities
    typ, _ = m.authenticate("PLAIN", lambda _: f"\0{alice[0]}\0{alice[1]}".encode())
    assert typ == "OK"
    m.logout()
    m = connect(ports)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        m.login(alice[0], "wrong-password")
    m.logout()
    # SASL-IR
    with Raw(ports["imaps"], tls=True) as c:
        assert c.readline().startswith(b"* OK")
        c.send(f"a AUTHENTICATE PLAIN {util.base64_plain(*alice)}\r\n")
        line = c.readline()
        assert line.startswith(b"a OK"), line


# --- mailboxes ---


def test_imap_list_special_use_and_management(box, ports):
    m = connect(ports, *box)
    typ, data = m.list('""', "*")
    assert typ == "OK"
    lines = [d.decode() for d in data]
    found = {re.search(r'"/" "?([^"]*)"?$', ln).group(1): ln for ln in lines}
    assert set(found) >= {"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"}, lines
    assert "\\Sent" in found["Sent"] and "\\Archive" in found["Archive"], lines
    assert "\\HasNoChildren" in found["INBOX"]
    assert m.create("Projects")[0] == "OK"
    assert m.create("Projects/Gr&APY-sse")[0] == "OK"  # "Grösse" in modified UTF-7
    typ, data = m.list('""', "Projects*")
    text = b"\n".join(data).decode()
    assert "\\HasChildren" in text and "Projects/Gr&APY-sse" in text, text
    assert m.rename("Projects", "Work")[0] == "OK"
    typ, data = m.list('""', "Work/%")
    assert b"Work/Gr&APY-sse" in data[0], data
    assert m.subscribe("Work")[0] == "OK"
    typ, data = m.lsub('""', "Work")
    assert data[0] is not None and b"Work" in data[0], data
    assert m.unsubscribe("Work")[0] == "OK"
    typ, data = m.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT SIZE)")
    assert typ == "OK" and b"UIDVALIDITY" in data[0], data
    assert m.delete("Work/Gr&APY-sse")[0] == "OK"
    assert m.delete("Work")[0] == "OK"
    assert m.delete("INBOX")[0] == "NO"
    assert m.create("Sent")[0] == "NO"
    typ, data = m.namespace()
    assert typ == "OK" and b'(("" "/"))' in data[0], data
    m.logout()


# --- FETCH of a delivered message ---


def test_imap_fetch_delivered_message(box, ports, tmp_path):
    addr, pw = box
    deliver(ports, addr, MULTIPART)
    wait_count(ports, addr, pw, 1)
    stored = util.pop3_messages(ports, addr, pw)[0]
    m = connect(ports, addr, pw)
    typ, data = m.select("INBOX")
    assert typ == "OK" and data == [b"1"], data
    # BODY[] is byte-exact, the message as stored (POP3 RETR shows the same)
    body = literal_of(fetch_one(m, 1, "(BODY.PEEK[])"))
    assert body == stored
    assert body.endswith(MULTIPART)
    # ENVELOPE / BODYSTRUCTURE / BODY equal mime_dump's rendering
    f = tmp_path / "m.eml"
    f.write_bytes(stored)
    subprocess.run(["make", "-s", "-C", str(util.ROOT), "build/asan/tools/mime_dump"],
                   capture_output=True)
    res = subprocess.run([str(DUMP), str(f)], capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr
    dump, rest = {}, res.stdout
    while rest:
        head, rest = rest.split(b"\n", 1)
        name, n = head.split(b" ")
        dump[name.decode()] = rest[:int(n)]
        rest = rest[int(n) + 1:]
    with Raw(ports["imaps"], tls=True) as c:
        c.readline()
        c.send(f"a LOGIN {addr} {pw}\r\n")
        assert c.readline().startswith(b"a OK")
        c.send(b"b EXAMINE INBOX\r\n")
        while not c.readline().startswith(b"b OK"):
            pass
        for item in ("ENVELOPE", "BODYSTRUCTURE", "BODY"):
            c.send(f"c FETCH 1 {item}\r\n".encode())
            line = c.readline()
            want = b"* 1 FETCH (" + item.encode() + b" " + dump[item] + b")\r\n"
            assert line == want, (item, line, want)
            assert c.readline().startswith(b"c OK")
    # sections
    assert literal_of(fetch_one(m, 1, "(BODY.PEEK[1])")) == b"Hello part one\r\nsecond line"
    assert literal_of(fetch_one(m, 1, "(BODY.PEEK[2])")) == b"AAECAwQF"
    mime = literal_of(fetch_one(m, 1, "(BODY.PEEK[2.MIME])"))
    assert mime.startswith(b"Content-Type: application/octet-stream") and mime.endswith(b"\r\n\r\n")
    hdr = literal_of(fetch_one(m, 1, "(BODY.PEEK[HEADER.FIELDS (Subject Message-ID)])"))
    assert hdr == b"Subject: multipart test\r\nMessage-ID: <mp-1@remote.test>\r\n\r\n", hdr
    hdr = literal_of(fetch_one(m, 1, "(BODY.PEEK[HEADER.FIELDS.NOT (Received Return-Path)])"))
    assert hdr.startswith(b"From: =?UTF-8?Q?J=C3=B6rg?=") and b"Received" not in hdr
    head, text = stored.split(b"\r\n\r\n", 1)
    assert literal_of(fetch_one(m, 1, "(BODY.PEEK[HEADER])")) == head + b"\r\n\r\n"
    assert literal_of(fetch_one(m, 1, "(BODY.PEEK[TEXT])")) == text
    assert literal_of(fetch_one(m, 1, "(RFC822.HEADER)")) == head + b"\r\n\r\n"
    part = fetch_one(m, 1, "(BODY.PEEK[]<10.20>)")
    assert literal_of(part) == stored[10:30] and b"BODY[]<10>" in part[0][0], part
    data = fetch_one(m, 1, "(FLAGS INTERNALDATE RFC822.SIZE UID)")
    assert f"RFC822.SIZE {len(stored)}".encode() in data[0] and b"\\Seen" not in data[0], data
    # a non-PEEK body fetch sets \Seen and reports it
    data = fetch_one(m, 1, "(BODY[TEXT])")
    assert b"\\Seen" in data[0][0] or b"\\Seen" in b"".join(
        x if isinstance(x, bytes) else x[0] for x in data), data
    data = fetch_one(m, 1, "(FLAGS)")
    assert b"\\Seen" in data[0], data
    data = fetch_one(m, 1, "FAST")
    assert b"RFC822.SIZE" in data[0]
    m.logout()


# --- STORE, COPY, MOVE, APPEND, EXPUNGE, SEARCH ---


def test_imap_store_copy_move_append_expunge_search(box, ports):
    addr, pw = box
    for i in range(3):
        deliver(ports, addr, simple(addr, subject=f"subject-{i}",
                                    body=f"needle{i} body text\r\n".encode()))
    wait_count(ports, addr, pw, 3)
    m = connect(ports, addr, pw)
    typ, data = m.select("INBOX")
    assert data == [b"3"]
    typ, data = m.store("1", "+FLAGS", r"(\Flagged $Work)")
    assert typ == "OK" and b"\\Flagged" in data[0] and b"$Work" in data[0], data
    typ, data = m.store("1", "-FLAGS", r"($Work)")
    assert b"$Work" not in data[0]
    typ, data = m.store("2", "+FLAGS.SILENT", r"(\Seen)")
    assert typ == "OK"
    typ, data = m.fetch("1:3", "(FLAGS)")
    assert b"\\Flagged" in data[0] and b"\\Seen" in data[1] and b"\\Seen" not in data[2], data

    typ, data = m.search(None, "FLAGGED")
    assert data == [b"1"], data
    typ, data = m.search(None, "UNSEEN")
    assert data == [b"1 3"], data
    typ, data = m.search(None, "SUBJECT", "subject-2")
    assert data == [b"3"], data
    typ, data = m.search(None, "BODY", "needle1")
    assert data == [b"2"], data
    typ, data = m.search(None, "TEXT", "NEEDLE0")
    assert data == [b"1"], data
    typ, data = m.search(None, "OR", "FLAGGED", "SEEN")
    assert data == [b"1 2"], data
    typ, data = m.search(None, "NOT", "SEEN", "LARGER", "10")
    assert data == [b"1 3"], data
    typ, data = m.search(None, "SINCE", "1-Jan-2000", "BEFORE", "1-Jan-2100")
    assert data == [b"1 2 3"], data
    typ, data = m.search(None, "HEADER", "Message-ID", "client.test")
    assert data == [b"1 2 3"], data
    typ, data = m.uid("SEARCH", None, "ALL")
    uids = [int(x) for x in data[0].split()]
    assert uids == sorted(uids) and len(uids) == 3
    typ, data = m.search(None, "2:3")
    assert data == [b"2 3"]

    typ, data = m.status("Archive", "(UIDVALIDITY)")
    uv = int(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1))
    typ, data = m.copy("1:2", "Archive")
    assert typ == "OK", data
    code = m.untagged_responses.get("COPYUID") or []
    line = data[0].decode()
    mo = re.search(r"COPYUID (\d+) (\S+) (\S+)\]", line) or (
        code and re.search(r"(\d+) (\S+) (\S+)", code[-1].decode()))
    assert mo and int(mo.group(1)) == uv and mo.group(2) == f"{uids[0]}:{uids[1]}", (line, code)
    typ, data = m.copy("1", "Nowhere")
    assert typ == "NO" and b"TRYCREATE" in data[0], data

    typ, data = m.uid("MOVE", str(uids[2]), "Trash")
    assert typ == "OK", data
    assert m.untagged_responses.get("EXPUNGE") == [b"3"], m.untagged_responses
    typ, data = m.select("Trash")
    assert data == [b"1"]
    typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (Subject)])")
    assert b"subject-2" in literal_of(data)

    msg = b"From: me@example.test\r\nSubject: appended\r\n\r\nappended body\r\n"
    typ, data = m.append("Drafts", r"(\Draft \Seen)", imaplib.Time2Internaldate(time.time()), msg)
    assert typ == "OK" and b"APPENDUID" in data[0], data
    auv, auid = map(int, re.search(rb"APPENDUID (\d+) (\d+)", data[0]).groups())
    typ, data = m.select("Drafts")
    assert data == [b"1"]
    typ, data = m.uid("FETCH", str(auid), "(FLAGS BODY.PEEK[] ENVELOPE)")
    assert literal_of(data) == msg
    assert b"\\Draft" in data[0][0] and b"appended" in data[1], data
    typ, data = m.append("Missing", None, None, msg)
    assert typ == "NO" and b"TRYCREATE" in data[0]

    typ, data = m.select("INBOX")
    assert data == [b"2"]
    typ, data = m.store("1", "+FLAGS", r"(\Deleted)")
    typ, data = m.expunge()
    assert typ == "OK" and data == [b"1"], data
    typ, data = m.select("INBOX")
    assert data == [b"1"]
    typ, data = m.select("Archive")
    assert data == [b"2"]
    typ, data = m.uid("STORE", "1:*", "+FLAGS", r"(\Deleted)")
    typ, data = m.uid("FETCH", "1:*", "(UID)")
    first = int(re.search(rb"UID (\d+)", data[0]).group(1))
    m.untagged_responses.pop("EXPUNGE", None)
    typ, data = m.uid("EXPUNGE", str(first))
    assert typ == "OK" and m.untagged_responses.get("EXPUNGE") == [b"1"], m.untagged_responses
    assert m.close()[0] == "OK"
    typ, data = m.status("Archive", "(MESSAGES)")
    assert b"MESSAGES 0" in data[0], data
    m.logout()


# --- concurrency: IDLE, two sessions, POP3 ---


def test_imap_idle_woken_by_delivery(box, ports):
    addr, pw = box
    with Raw(ports["imaps"], tls=True) as c:
        c.readline()
        c.send(f"a LOGIN {addr} {pw}\r\n")
        assert c.readline().startswith(b"a OK")
        c.send(b"b SELECT INBOX\r\n")
        while not c.readline().startswith(b"b OK"):
            pass
        c.send(b"c IDLE\r\n")
        assert c.readline().startswith(b"+ ")
        time.sleep(0.2)
        t0 = time.monotonic()
        deliver(ports, addr, simple(addr))
        t_sent = time.monotonic()
        c.settimeout(5)
        line = c.readline()
        assert line == b"* 1 EXISTS\r\n", line
        assert time.monotonic() - t_sent < 1.0, (time.monotonic() - t_sent, t_sent - t0)
        assert c.readline() == b"* 1 RECENT\r\n"     # RFC 3501 7.3.2: this session's
        c.send(b"DONE\r\n")
        assert c.readline().startswith(b"c OK")


def test_imap_two_sessions_see_each_other(box, ports):
    addr, pw = box
    deliver(ports, addr, simple(addr))
    deliver(ports, addr, simple(addr))
    wait_count(ports, addr, pw, 2)
    a = connect(ports, addr, pw)
    b = connect(ports, addr, pw)
    assert a.select("INBOX")[1] == [b"2"]
    assert b.select("INBOX")[1] == [b"2"]
    a.store("1", "+FLAGS", r"(\Flagged)")
    typ, _ = b.noop()
    fetches = b.untagged_responses.pop("FETCH", [])
    assert any(b"\\Flagged" in f for f in fetches), (fetches, b.untagged_responses)
    a.store("2", "+FLAGS", r"(\Deleted)")
    a.expunge()
    b.noop()
    assert b.untagged_responses.pop("EXPUNGE", None) == [b"2"], b.untagged_responses
    deliver(ports, addr, simple(addr))
    util.wait_for(lambda: b.noop() and b.untagged_responses.get("EXISTS"), 10, 0.2, "EXISTS")
    assert b.untagged_responses["EXISTS"][-1] == b"2"
    a.logout()
    b.logout()


def test_imap_and_pop3_see_each_others_deletions(box, ports):
    addr, pw = box
    for i in range(3):
        deliver(ports, addr, simple(addr, subject=f"p{i}"))
    util.wait_messages(ports, addr, pw, 3)
    p = util.pop3_open(ports, addr, pw)
    p.dele(1)
    p.quit()
    m = connect(ports, addr, pw)
    assert m.select("INBOX")[1] == [b"2"]
    m.store("1", "+FLAGS", r"(\Deleted)")
    m.expunge()
    m.logout()
    left = util.pop3_messages(ports, addr, pw)
    assert len(left) == 1 and b"Subject: p2" in left[0]


# --- hostile input ---


def test_imap_hostile_input(daemon, ports, alice):
    with Raw(ports["imaps"], tls=True) as c:
        c.readline()
        c.send(b"a LOGIN {100000}\r\n")
        line = c.readline()
        assert line.startswith(b"a NO [TOOBIG]"), line
        c.send(b"b FROB\r\n")
        assert c.readline().startswith(b"b BAD"), "unknown command"
        c.send(b"c ID ((nested))\r\n")
        assert c.readline().startswith(b"c BAD")
        c.send(b"d NOOP \x00\r\n")
        assert c.readline().startswith(b"d BAD")
        c.send(f"e LOGIN {alice[0]} {alice[1]}\r\n".encode())
        assert c.readline().startswith(b"e OK")
        c.send(b"f SELECT INBOX\r\n")
        while not c.readline().startswith(b"f OK"):
            pass
        c.send(b"g APPEND INBOX {999999999999}\r\n")
        assert c.readline().startswith(b"g NO [TOOBIG]")
        c.send(b"h FETCH 1:* (FLAGS" + b" (" * 40 + b"\r\n")
        assert c.readline().startswith(b"h BAD")
        c.send(b"i FETCH 999999 FLAGS\r\n")
        assert c.readline().startswith(b"i BAD")
        c.send(b"j SELECT &Jjo\r\n")
        assert c.readline().startswith(b"j BAD")
        c.send(b"k NOOP\r\n")
        while True:
            line = c.readline()
            if line.startswith(b"k "):
                assert line.startswith(b"k OK"), line
                break


def test_imap_append_literal_plus_and_sync(box, ports):
    addr, pw = box
    msg = b"Subject: lit\r\n\r\nbody\r\n"
    with Raw(ports["imaps"], tls=True) as c:
        c.readline()
        c.send(f"a LOGIN {addr} {pw}\r\n")
        assert c.readline().startswith(b"a OK")
        c.send(b"b APPEND INBOX (\\Seen) {%d+}\r\n" % len(msg) + msg + b"\r\n")
        line = c.readline()
        assert line.startswith(b"b OK [APPENDUID"), line
        c.send(b"c APPEND INBOX {%d}\r\n" % len(msg))
        assert c.readline().startswith(b"+ ")
        c.send(msg + b"\r\n")
        line = c.readline()
        assert line.startswith(b"c OK [APPENDUID"), line


# --- curl ---


def test_curl_imaps_list_and_fetch(box, ports):
    addr, pw = box
    deliver(ports, addr, simple(addr, subject="for curl"))
    wait_count(ports, addr, pw, 1)
    base = f"imaps://{HOST}:{ports['imaps']}"
    r = subprocess.run(["curl", "-sS", "-k", "--user", f"{addr}:{pw}", base + "/"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert b"INBOX" in r.stdout and b"Archive" in r.stdout, r.stdout
    r = subprocess.run(["curl", "-sS", "-k", "--user", f"{addr}:{pw}",
                        base + "/INBOX;UID=1"], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert b"Subject: for curl" in r.stdout, r.stdout


def test_imap_literal_plus_too_big_is_bye(daemon, ports, alice):
    with Raw(ports["imaps"], tls=True) as c:
        c.readline()
        c.send(f"a LOGIN {alice[0]} {alice[1]}\r\n".encode())
        assert c.readline().startswith(b"a OK")
        c.send(b"b APPEND INBOX {999999999999+}\r\n")
        line = c.readline()
        assert line.startswith(b"* BYE"), line
        assert c.read_until_eof() == b""


def test_imap_large_message_and_fetch_batches(box, ports):
    addr, pw = box
    m = connect(ports, addr, pw)
    big = b"Subject: big\r\n\r\n" + b"".join(b"line %07d of a big message\r\n" % i
                                              for i in range(40000))
    assert m.append("INBOX", None, None, big)[0] == "OK"
    n = util.LIMITS["LIMIT_IMAP_FETCH_BATCH"] + 44
    for i in range(n):
        typ, _ = m.append("INBOX", r"(\Seen)" if i % 2 else None, None,
                          b"Subject: small %d\r\n\r\nx\r\n" % i)
        assert typ == "OK"
    typ, data = m.select("INBOX")
    assert data == [str(n + 1).encode()]
    typ, data = m.fetch("1:*", "(UID RFC822.SIZE FLAGS)")
    assert typ == "OK" and len(data) == n + 1, len(data)
    seqs = [int(d.split()[0]) for d in data]
    assert seqs == list(range(1, n + 2))
    assert f"RFC822.SIZE {len(big)}".encode() in data[0]
    typ, data = m.fetch("1", "(BODY.PEEK[])")
    assert literal_of(data) == big
    typ, data = m.search(None, "SEEN")
    assert len(data[0].split()) == n // 2
    # header sync as mail clients do it (bodies loaded in bulk per batch)
    typ, data = m.fetch("1:*", "(UID BODY.PEEK[HEADER.FIELDS (Subject)])")
    subjects = [d[1] for d in data if isinstance(d, tuple)]
    assert subjects[0] == b"Subject: big\r\n\r\n"
    assert subjects[1:] == [b"Subject: small %d\r\n\r\n" % i for i in range(n)]
    typ, data = m.fetch("2:40", "(BODY.PEEK[])")
    bodies = [d[1] for d in data if isinstance(d, tuple)]
    assert bodies == [b"Subject: small %d\r\n\r\nx\r\n" % i for i in range(39)]
    typ, data = m.fetch("1:3", "(BODY.PEEK[HEADER] BODY.PEEK[TEXT]<0.9>)")
    parts = [d[1] for d in data if isinstance(d, tuple)]
    assert parts[:2] == [b"Subject: big\r\n\r\n", b"line 0000"], parts[:2]
    m.logout()


def test_imap_idle_sees_other_sessions_flags(box, ports):
    addr, pw = box
    deliver(ports, addr, simple(addr))
    wait_count(ports, addr, pw, 1)
    other = connect(ports, addr, pw)
    other.select("INBOX")
    with Raw(ports["imaps"], tls=True) as c:
        c.readline()
        c.send(f"a LOGIN {addr} {pw}\r\n")
        assert c.readline().startswith(b"a OK")
        c.send(b"b SELECT INBOX\r\n")
        while not c.readline().startswith(b"b OK"):
            pass
        c.send(b"c IDLE\r\n")
        assert c.readline().startswith(b"+ ")
        other.store("1", "+FLAGS", r"(\Flagged)")
        c.settimeout(5)
        line = c.readline()
        assert line.startswith(b"* 1 FETCH (") and b"\\Flagged" in line, line
        other.store("1", "+FLAGS", r"(\Deleted)")
        other.expunge()
        while True:
            line = c.readline()
            if b"EXPUNGE" in line:
                assert line == b"* 1 EXPUNGE\r\n", line
                break
        c.send(b"DONE\r\n")
        assert c.readline().startswith(b"c OK")
    other.logout()


def test_imap_pipelined_and_garbage(box, ports):
    import random
    addr, pw = box
    rnd = random.Random(3501)
    with Raw(ports["imaps"], tls=True) as c:
        c.readline()
        c.send(f"a LOGIN {addr} {pw}\r\n".encode() + b"".join(
            b"p%d NOOP\r\n" % i for i in range(50)) + b"s SELECT INBOX\r\n" + b"".join(
            b"f%d FETCH 1:* FLAGS\r\n" % i for i in range(20)))
        tags = []
        while len(tags) < 72:
            line = c.readline()
            if not line.startswith(b"*"):
                tags.append(line.split()[0])
        assert tags == [b"a"] + [b"p%d" % i for i in range(50)] + [b"s"] + [
            b"f%d" % i for i in range(20)], tags
        # random junk: every line gets a BAD (or the session says BYE), never a crash
        junk = b""
        for _ in range(10):
            line = bytes(rnd.choice(b"()[]{}<>*%\\\" abcUIDFETCH0123456789.:\x01\x7f\xff")
                         for _ in range(rnd.randint(1, 200)))
            junk += b"x " + line.replace(b"\r", b"").replace(b"\n", b"") + b"\r\n"
        try:
            c.send(junk + b"z LOGOUT\r\n")
        except OSError:
            pass
        try:
            out = c.read_until_eof()
        except (OSError, socket.timeout):
            out = b"* BYE (connection reset)"
        assert b"* BYE" in out, out[-300:]


def test_imap_metadata_stored_at_delivery(box, ports, site):
    addr, pw = box
    deliver(ports, addr, MULTIPART)
    wait_count(ports, addr, pw, 1)
    local = addr.split("@")[0]
    row = site.pg.psql(
        "SELECT m.envelope IS NOT NULL, m.bodystructure IS NOT NULL, m.parts IS NOT NULL,"
        " m.body_simple IS NOT NULL FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
        f" JOIN accounts a ON a.id = b.account_id WHERE a.local_part = '{local}'").strip()
    assert row == "t|t|t|t", row
    # a row stored without them (as before 004_imap.sql) gets them on first FETCH
    site.pg.psql(
        "UPDATE messages m SET envelope = NULL, bodystructure = NULL, parts = NULL,"
        " body_simple = NULL FROM mailboxes b, accounts a WHERE b.id = m.mailbox_id"
        f" AND a.id = b.account_id AND a.local_part = '{local}'")
    m = connect(ports, addr, pw)
    m.select("INBOX", readonly=True)
    typ, data = m.fetch("1", "(ENVELOPE)")
    assert b"multipart test" in data[0], data
    m.logout()
    row = site.pg.psql(
        "SELECT m.parts IS NOT NULL FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
        f" JOIN accounts a ON a.id = b.account_id WHERE a.local_part = '{local}'").strip()
    assert row == "t", row


def test_imap_search_utf8_literal(box, ports):
    addr, pw = box
    m = connect(ports, addr, pw)
    body = "Viele Grüße aus Köln\r\n".encode()
    assert m.append("INBOX", None, None,
                    b"Subject: utf8\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body)[0] == "OK"
    assert m.append("INBOX", None, None, b"Subject: other\r\n\r\nnothing\r\n")[0] == "OK"
    m.select("INBOX")
    m.literal = "Grüße".encode()
    typ, data = m.search("UTF-8", "BODY")
    assert typ == "OK" and data == [b"1"], data
    typ, data = m.search("UTF-8", "NOT", "BODY", "nothing")
    assert data == [b"1"], data
    typ, data = m.search("ISO-8859-1", "ALL")
    assert typ == "NO"
    m.logout()


def test_fetchmail_imap_starttls_and_imaps(box, ports, tmp_path):
    """fetchmail over IMAP (STARTTLS on the imap port, then IMAPS): keep,
    then fetch-and-delete (STORE \\Deleted + EXPUNGE)."""
    import os
    addr, pw = box
    ids = []
    for i in range(3):
        msgid, msg = util.make_msg(f"x@{REMOTE_DOMAIN}", addr, subject=f"fm {i}")
        deliver(ports, addr, msg)
        ids.append(msgid)
    wait_count(ports, addr, pw, 3)

    def run(port, tls, keep, out):
        rc = tmp_path / "fetchmailrc"
        rc.write_text(
            "set no syslog\n"
            f"poll {HOST} protocol IMAP service {port} auth password timeout 30\n"
            f"  user \"{addr}\" there with password \"{pw}\" is root here\n"
            f"  {tls} no sslcertck fetchall {'keep' if keep else 'no keep'}\n"
            f"  mda \"/bin/sh -c 'cat > {out}/msg.$$'\"\n")
        os.chmod(rc, 0o600)
        env = dict(os.environ, FETCHMAILHOME=str(tmp_path), HOME=str(tmp_path))
        return subprocess.run(["fetchmail", "-f", str(rc), "--nodetach", "-v"], env=env,
                              capture_output=True, text=True, timeout=90)

    out1 = tmp_path / "keep"
    out1.mkdir()
    r = run(ports["imap"], "sslproto 'TLS1.2+'", True, out1)
    assert r.returncode == 0, r.stdout + r.stderr
    got = sorted(util.message_id(f.read_bytes().replace(b"\n", b"\r\n")) for f in out1.iterdir())
    assert got == sorted(ids), (got, r.stdout)
    out2 = tmp_path / "delete"
    out2.mkdir()
    r = run(ports["imaps"], "ssl", False, out2)
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(list(out2.iterdir())) == 3
    m = connect(ports, addr, pw)
    assert m.select("INBOX")[1] == [b"0"]
    m.logout()


def test_imap_fetch_sets_dense_and_sparse(box, ports):
    """FETCH reads a dense run of UIDs as one range (rows it was not asked
    for are dropped) and a sparse set by its UIDs: either way exactly the
    messages asked for come back, also across expunged gaps."""
    user, pw = box
    m = connect(ports, user, pw)
    m.create("Sets")
    for i in range(12):
        assert m.append("Sets", None, None, f"Subject: s{i}\r\n\r\nbody {i}\r\n".encode())[0] == "OK"
    m.select("Sets")
    m.store("2,3,7", "+FLAGS", r"(\Deleted)")
    m.expunge()         # UIDs 1 4 5 6 8 9 10 11 12 stay, as 1..9

    def uids(spec, uid=False):
        typ, data = (m.uid("FETCH", spec, "(FLAGS)") if uid else m.fetch(spec, "(UID FLAGS)"))
        assert typ == "OK", data
        return [int(re.search(rb"UID (\d+)", d).group(1)) for d in data if d]
    assert uids("1:*") == [1, 4, 5, 6, 8, 9, 10, 11, 12]
    assert uids("2:4") == [4, 5, 6]
    assert uids("1,9") == [1, 12]                # sparse: by UID array
    assert uids("1,3,5,7") == [1, 5, 8, 10]
    assert uids("3:12", uid=True) == [4, 5, 6, 8, 9, 10, 11, 12]
    assert uids("1,12", uid=True) == [1, 12]
    m.logout()
