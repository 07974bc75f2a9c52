"""IMAP sync extensions: CONDSTORE and QRESYNC (RFC 7162: MODSEQ, HIGHESTMODSEQ,
CHANGEDSINCE, UNCHANGEDSINCE/[MODIFIED], VANISHED (EARLIER), SELECT QRESYNC,
untagged VANISHED), QUOTA (RFC 9208) with usage kept exact by APPEND, COPY,
EXPUNGE, SMTP delivery and POP3 DELE. Python's imaplib where it has a method,
raw tagged lines (over IMAPS) where it has none or the order matters."""

import hashlib
import imaplib
import re
import ssl
import subprocess
import threading
import time

import pytest

import util
from util import HOST, REMOTE_DOMAIN, Raw


def connect(ports, user, password):
    m = imaplib.IMAP4_SSL(HOST, ports["imaps"], ssl_context=util.client_ctx(), timeout=30)
    typ, _ = m.login(user, password)
    assert typ == "OK"
    return m


class Imap:
    """Tagged commands over IMAPS, the untagged lines kept in order."""

    def __init__(self, ports, user, password, host=HOST):
        self.c = Raw(ports["imaps"], tls=True, host=host)
        self.n = 0
        assert self.c.readline().startswith(b"* OK")
        ok, _ = self.cmd(f'LOGIN "{user}" "{password}"')
        assert ok.startswith("OK"), ok

    def cmd(self, line):
        """Returns (tagged status text, [untagged lines]) as str."""
        self.n += 1
        tag = f"t{self.n}"
        self.c.send(f"{tag} {line}\r\n")
        untagged = []
        while True:
            got = self.c.readline().decode("utf-8", "replace").rstrip("\r\n")
            m = re.search(r"\{(\d+)\}$", got)
            if m:
                lit = b""
                size = int(m.group(1))
                while len(lit) < size:
                    need = size - len(lit)
                    if self.c.buf:
                        take, self.c.buf = self.c.buf[:need], self.c.buf[need:]
                        lit += take
                    else:
                        self.c._fill()
                got += lit.decode("utf-8", "replace") + \
                    self.c.readline().decode("utf-8", "replace").rstrip("\r\n")
            if got.startswith(tag + " "):
                return got[len(tag) + 1:], untagged
            untagged.append(got)

    def ok(self, line):
        st, u = self.cmd(line)
        assert st.startswith("OK"), (line, st, u)
        return st, u

    def close(self):
        try:
            self.cmd("LOGOUT")
        finally:
            self.c.close()


@pytest.fixture
def box(daemon, site):
    return site.new_user("sync")


def append(m, mailbox="INBOX", subject="s", body="body", flags=None):
    msg = util.make_msg(f"x@{REMOTE_DOMAIN}", "me@example.test", subject=subject, body=body)[1]
    typ, data = m.append(mailbox, flags, None, msg)
    assert typ == "OK", data
    return int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))


def modseq_of(line):
    return int(re.search(r"MODSEQ \((\d+)\)", line).group(1))


def highest(untagged):
    for u in untagged:
        m = re.search(r"\[HIGHESTMODSEQ (\d+)\]", u)
        if m:
            return int(m.group(1))
    raise AssertionError(f"no HIGHESTMODSEQ in {untagged}")


# --- CONDSTORE ---


def test_condstore_advertised_and_enable(daemon, ports, box):
    m = connect(ports, *box)
    caps = m.capability()[1][0].decode().split()
    assert "CONDSTORE" in caps and "QRESYNC" in caps, caps
    typ, data = m._simple_command("ENABLE", "CONDSTORE", "X-UNKNOWN")
    assert typ == "OK"
    assert m.untagged_responses.get("ENABLED") == [b"CONDSTORE"]
    m.logout()


def test_modseq_bumped_by_every_change(daemon, ports, box):
    m = connect(ports, *box)
    a = append(m)
    b = append(m)
    m.logout()
    c = Imap(ports, *box)
    _, u = c.ok("SELECT INBOX (CONDSTORE)")
    h0 = highest(u)
    _, u = c.ok("UID FETCH 1:* (MODSEQ FLAGS)")
    seqs = {int(re.search(r"UID (\d+)", x).group(1)): modseq_of(x) for x in u}
    assert set(seqs) == {a, b} and max(seqs.values()) <= h0
    # flags change: a new MODSEQ above the old highest, in the STORE reply
    _, u = c.ok(f"UID STORE {a} +FLAGS (\\Flagged)")
    ms_a = modseq_of(u[0])
    assert ms_a > h0 and f"UID {a}" in u[0]
    _, u = c.ok("STATUS INBOX (HIGHESTMODSEQ)")
    assert f"HIGHESTMODSEQ {ms_a}" in u[0]
    # a new message (another session) and an expunge both raise it
    m = connect(ports, *box)
    n = append(m)
    m.logout()
    _, u = c.ok("NOOP")
    assert any("EXISTS" in x for x in u), u
    _, u = c.ok(f"UID FETCH {n} (MODSEQ)")
    ms_n = modseq_of(u[0])
    assert ms_n > ms_a
    c.ok(f"UID STORE {b} +FLAGS.SILENT (\\Deleted)")
    _, u = c.ok("EXPUNGE")
    assert u == ["* 2 EXPUNGE"], u
    _, u = c.ok("STATUS INBOX (HIGHESTMODSEQ)")
    assert int(re.search(r"HIGHESTMODSEQ (\d+)", u[0]).group(1)) > ms_n
    c.close()


def test_fetch_changedsince_and_store_unchangedsince(daemon, ports, box):
    m = connect(ports, *box)
    uids = [append(m, subject=f"n{i}") for i in range(4)]
    m.logout()
    c = Imap(ports, *box)
    _, u = c.ok("SELECT INBOX")
    h0 = highest(u)
    c.ok(f"UID STORE {uids[1]} +FLAGS (\\Seen)")
    # only the changed message, with MODSEQ although not asked for
    _, u = c.ok(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {h0})")
    assert len(u) == 1 and f"UID" not in u[0] and "\\Seen" in u[0] and "MODSEQ" in u[0], u
    assert u[0].startswith("* 2 FETCH")
    _, u = c.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {h0})")
    assert len(u) == 1 and f"UID {uids[1]}" in u[0]
    _, u2 = c.ok(f"UID FETCH 1:* (UID) (CHANGEDSINCE {h0})")     # MODSEQ implied
    assert u2 == [f"* 2 FETCH (UID {uids[1]} MODSEQ ({modseq_of(u[0])}))"], u2
    ms1 = modseq_of(u[0])
    # conditional STORE: message 2 changed after h0 -> MODIFIED, untouched
    st, u = c.cmd(f"STORE 1:3 (UNCHANGEDSINCE {h0}) +FLAGS (\\Answered)")
    assert st.startswith("OK [MODIFIED 2]"), (st, u)
    assert sorted(x.split()[1] for x in u) == ["1", "3"], u
    assert all("MODSEQ" in x and "\\Answered" in x for x in u)
    _, u = c.ok("FETCH 2 (FLAGS MODSEQ)")
    assert "\\Answered" not in u[0] and modseq_of(u[0]) == ms1
    # UID STORE reports UIDs; UNCHANGEDSINCE 0 always fails (RFC 7162 3.1.3)
    st, u = c.cmd(f"UID STORE {uids[3]} (UNCHANGEDSINCE 0) +FLAGS (\\Seen)")
    assert st.startswith(f"OK [MODIFIED {uids[3]}]"), st
    # .SILENT still reports the new MODSEQ
    _, u = c.ok(f"UID FETCH {uids[0]} (MODSEQ)")
    cur = modseq_of(u[0])
    _, u = c.ok(f"UID STORE {uids[0]} (UNCHANGEDSINCE {cur}) -FLAGS.SILENT (\\Answered)")
    assert len(u) == 1 and "FLAGS" not in u[0] and modseq_of(u[0]) > cur, u
    # SEARCH MODSEQ (RFC 7162 3.1.5): the highest MODSEQ of the matches
    _, u = c.ok(f"FETCH 1:* (MODSEQ)")
    ms = {int(x.split()[1]): modseq_of(x) for x in u}
    _, u = c.ok(f"SEARCH MODSEQ {h0 + 1}")
    hits = [n for n, v in ms.items() if v >= h0 + 1]
    assert u == [f"* SEARCH {' '.join(map(str, sorted(hits)))} (MODSEQ {max(ms.values())})"], u
    _, u = c.ok(f'UID SEARCH MODSEQ "/flags/\\\\draft" all {max(ms.values())}')
    assert u == [f"* SEARCH {uids[0]} (MODSEQ {max(ms.values())})"], u
    _, u = c.ok(f"SEARCH MODSEQ {max(ms.values()) + 1}")
    assert u == ["* SEARCH"], u
    # a FETCH that sets \Seen reports the new MODSEQ with the new flags
    _, u = c.ok("FETCH 3 (MODSEQ)")
    before = modseq_of(u[0])
    _, u = c.ok("FETCH 3 (BODY[TEXT])")
    assert "\\Seen" in u[0] and modseq_of(u[0]) > before, u
    st, _ = c.cmd("FETCH 1 (FLAGS) (CHANGEDSINCE)")
    assert st.startswith("BAD")
    c.close()


def test_condstore_unsolicited_fetch_has_modseq(daemon, ports, box):
    m = connect(ports, *box)
    uid = append(m)
    m.logout()
    a, b = Imap(ports, *box), Imap(ports, *box)
    a.ok("ENABLE CONDSTORE")
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    b.ok(f"UID STORE {uid} +FLAGS ($Label1)")
    _, u = a.ok("NOOP")
    assert len(u) == 1 and "$Label1" in u[0] and "MODSEQ (" in u[0], u
    # a session without CONDSTORE gets no MODSEQ
    a.ok(f"UID STORE {uid} -FLAGS ($Label1)")
    _, u = b.ok("NOOP")
    assert len(u) == 1 and "MODSEQ" not in u[0], u
    a.close()
    b.close()


# --- QRESYNC ---


def test_qresync_select_and_vanished(daemon, ports, box):
    m = connect(ports, *box)
    uids = [append(m, subject=f"q{i}") for i in range(6)]
    m.logout()
    c = Imap(ports, *box)
    _, u = c.ok("ENABLE QRESYNC")
    assert u == ["* ENABLED QRESYNC"], u
    _, u = c.ok("SELECT INBOX")
    h0 = highest(u)
    uv = int(re.search(r"UIDVALIDITY (\d+)", " ".join(u)).group(1))
    c.close()
    # changes while the client is away: two expunged, one flagged
    c = Imap(ports, *box)
    c.ok("SELECT INBOX")
    c.ok(f"UID STORE {uids[1]},{uids[2]} +FLAGS.SILENT (\\Deleted)")
    c.ok("EXPUNGE")
    c.ok(f"UID STORE {uids[4]} +FLAGS.SILENT (\\Flagged)")
    c.close()
    c = Imap(ports, *box)
    c.ok("ENABLE QRESYNC")
    _, u = c.ok(f"SELECT INBOX (QRESYNC ({uv} {h0} 1:{uids[-1]}))")
    i_v = [i for i, x in enumerate(u) if x.startswith("* VANISHED")]
    assert len(i_v) == 1 and u[i_v[0]] == f"* VANISHED (EARLIER) {uids[1]}:{uids[2]}", u
    fetches = [x for x in u if " FETCH " in x]
    assert len(fetches) == 1 and f"UID {uids[4]}" in fetches[0] and "\\Flagged" in fetches[0]
    assert fetches[0].startswith("* 3 FETCH") and "MODSEQ (" in fetches[0]
    assert u.index(fetches[0]) > i_v[0]
    assert "* 4 EXISTS" in u
    # known-uids limits VANISHED
    _, u = c.ok(f"SELECT INBOX (QRESYNC ({uv} {h0} {uids[2]}:{uids[-1]}))")
    assert "* OK [CLOSED] Previous mailbox closed" in u
    assert f"* VANISHED (EARLIER) {uids[2]}" in u, u
    # wrong UIDVALIDITY: a plain SELECT, nothing to resync
    _, u = c.ok(f"SELECT INBOX (QRESYNC ({uv + 1} {h0}))")
    assert not any(x.startswith("* VANISHED") or " FETCH " in x for x in u), u
    # UID FETCH (CHANGEDSINCE VANISHED)
    _, u = c.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {h0} VANISHED)")
    assert u[0] == f"* VANISHED (EARLIER) {uids[1]}:{uids[2]}", u
    assert len(u) == 2 and f"UID {uids[4]}" in u[1]
    st, _ = c.cmd(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {h0} VANISHED)")
    assert st.startswith("BAD")
    c.close()


def test_qresync_untagged_vanished_instead_of_expunge(daemon, ports, box):
    m = connect(ports, *box)
    uids = [append(m) for _ in range(5)]
    m.logout()
    a, b = Imap(ports, *box), Imap(ports, *box)
    a.ok("ENABLE QRESYNC")
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    b.ok(f"UID STORE {uids[0]} +FLAGS.SILENT (\\Deleted)")
    _, u = b.ok("EXPUNGE")
    assert u == ["* 1 EXPUNGE"], u
    _, u = a.ok("NOOP")
    assert f"* VANISHED {uids[0]}" in u and not any("EXPUNGE" in x for x in u), u
    a.ok(f"UID STORE {uids[2]} +FLAGS.SILENT (\\Deleted)")
    _, u = a.ok(f"UID EXPUNGE {uids[2]}")
    assert u == [f"* VANISHED {uids[2]}"], u
    # several at once: one VANISHED with a set, from EXPUNGE and from a sync
    a.ok(f"UID STORE {uids[3]},{uids[4]} +FLAGS.SILENT (\\Deleted)")
    _, u = a.ok("EXPUNGE")
    assert u == [f"* VANISHED {uids[3]}:{uids[4]}"], u
    st, _ = b.cmd("SELECT INBOX (QRESYNC (1 1))")
    assert st.startswith("BAD"), st    # QRESYNC not enabled in b
    a.close()
    b.close()


# --- QUOTA ---


def quota_of(m, root=""):
    typ, data = m.getquota(root or '""')
    assert typ == "OK", data
    s = re.search(rb"STORAGE (\d+) (\d+)", data[0])
    return int(s.group(1)), int(s.group(2))


def test_quota_usage_exact_and_overquota(daemon, ports, ctl, site):
    user, pw = f"quota{util.token()}@{util.DOMAIN}".lower(), "pw-" + util.token()
    ctl.ok("user", "add", user, "--quota", str(40 * 1024), input=pw + "\n")
    m = connect(ports, user, pw)
    caps = m.capability()[1][0].decode().split()
    assert "QUOTA" in caps and "QUOTA=RES-STORAGE" in caps, caps
    used0, limit = quota_of(m)
    assert used0 == 0 and limit == 40
    typ, data = m.getquotaroot("INBOX")
    assert typ == "OK"
    big = "x" * 5000
    append(m, body=big)
    used1, _ = quota_of(m)
    typ, data = m.status("INBOX", "(SIZE)")
    size = int(re.search(rb"SIZE (\d+)", data[0]).group(1))
    assert used1 == (size + 1023) // 1024
    # COPY charges, EXPUNGE uncharges
    m.create("Keep")
    m.select("INBOX")
    assert m.copy("1", "Keep")[0] == "OK"
    assert quota_of(m)[0] == (2 * size + 1023) // 1024
    m.store("1", "+FLAGS", "(\\Deleted)")
    m.expunge()
    assert quota_of(m)[0] == (size + 1023) // 1024
    # SMTP delivery charges, POP3 DELE uncharges
    msg = util.make_msg(f"x@{REMOTE_DOMAIN}", user, subject="smtp", body="y" * 3000)[1]
    assert util.mx_send(ports["smtp"], f"x@{REMOTE_DOMAIN}", [user], msg) == {}
    util.wait_messages(ports, user, pw, 1)
    typ, data = m.status("INBOX", "(SIZE)")
    isize = int(re.search(rb"SIZE (\d+)", data[0]).group(1))
    assert quota_of(m)[0] == (size + isize + 1023) // 1024
    util.pop3_messages(ports, user, pw, delete=True)
    assert quota_of(m)[0] == (size + 1023) // 1024
    # over quota: APPEND and COPY refused with [OVERQUOTA]
    huge = "z" * (40 * 1024)
    msg = util.make_msg(f"x@{REMOTE_DOMAIN}", user, subject="huge", body=huge)[1]
    typ, data = m.append("INBOX", None, None, msg)
    assert typ == "NO" and b"[OVERQUOTA]" in data[0], data
    m.select("Keep")
    for _ in range(12):
        typ, data = m.copy("1", "Keep")
        if typ == "NO":
            break
    assert typ == "NO" and b"[OVERQUOTA]" in data[0], data
    # MOVE stays within the account: allowed at the limit, usage unchanged
    before = quota_of(m)[0]
    typ, data = m._simple_command("MOVE", "1", "INBOX")
    assert typ == "OK", data
    assert quota_of(m)[0] == before
    # DELETE of a mailbox uncharges its messages
    m.select("INBOX")
    assert m.delete("Keep")[0] == "OK"
    assert quota_of(m)[0] == (size + 1023) // 1024
    typ, data = m.setquota('""', "(STORAGE 999999)")
    assert typ == "NO" and b"[NOPERM]" in data[0], data
    m.logout()


def test_quota_unlimited_account(daemon, ports, box):
    m = connect(ports, *box)
    typ, data = m.getquotaroot("INBOX")
    assert typ == "OK" and data[0] == [b'"INBOX"'] and data[1] == [None], data
    typ, data = m.getquota('""')
    assert typ == "NO" and b"NONEXISTENT" in data[0], data
    typ, data = m.getquotaroot("NoSuchBox")
    assert typ == "NO"
    m.logout()


# --- STATUS=SIZE, APPENDLIMIT ---


def test_appendlimit_and_status_size(daemon, ports, box):
    c = Imap(ports, *box)
    _, u = c.ok("CAPABILITY")
    limit = int(re.search(r"APPENDLIMIT=(\d+)", u[0]).group(1))
    assert "STATUS=SIZE" in u[0].split()
    assert limit == util.limits()["LIMIT_IMAP_LITERAL"]
    _, u = c.ok("STATUS INBOX (SIZE APPENDLIMIT MESSAGES)")
    assert u == [f"* STATUS \"INBOX\" (MESSAGES 0 SIZE 0 APPENDLIMIT {limit})"], u
    # a literal over the limit is refused before any of it is sent
    st, _ = c.cmd(f"APPEND INBOX {{{limit + 1}}}")
    assert st.startswith("NO [TOOBIG]"), st
    c.close()


# --- LIST-EXTENDED, LIST-STATUS ---


def list_lines(u):
    return [x for x in u if x.startswith("* LIST")]


def test_list_extended_and_status(daemon, ports, box):
    m = connect(ports, *box)
    caps = m.capability()[1][0].decode().split()
    assert "LIST-EXTENDED" in caps and "LIST-STATUS" in caps
    for name in ("Work", "Work/Alpha", "Work/Beta", "Play"):
        assert m.create(name)[0] == "OK"
    append(m, "Work/Alpha")
    append(m, "Work/Alpha")
    m.unsubscribe("Work")
    m.unsubscribe("Work/Beta")
    m.unsubscribe("Play")
    m.logout()
    c = Imap(ports, *box)
    # SUBSCRIBED selection: subscribed ones only, with \Subscribed
    _, u = c.ok('LIST (SUBSCRIBED) "" "Work*"')
    assert list_lines(u) == ['* LIST (\\HasNoChildren \\Subscribed) "/" "Work/Alpha"'], u
    # RECURSIVEMATCH: the unsubscribed parent with CHILDINFO
    _, u = c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
    work = [x for x in list_lines(u) if '"/" "Work"' in x]
    assert work == ['* LIST (\\HasChildren) "/" "Work" ("CHILDINFO" ("SUBSCRIBED"))'], u
    assert not any('"/" "Play"' in x for x in u)
    st, _ = c.cmd('LIST (RECURSIVEMATCH) "" "*"')
    assert st.startswith("BAD")
    # SPECIAL-USE selection and several patterns
    _, u = c.ok('LIST (SPECIAL-USE) "" "*"')
    names = sorted(x.rsplit(" ", 1)[1].strip('"') for x in list_lines(u))
    assert names == ["Archive", "Drafts", "Junk", "Sent", "Trash"], u
    _, u = c.ok('LIST "" ("Play" "Work/%") RETURN (SUBSCRIBED CHILDREN)')
    assert list_lines(u) == ['* LIST (\\HasNoChildren) "/" "Play"',
                             '* LIST (\\HasNoChildren \\Subscribed) "/" "Work/Alpha"',
                             '* LIST (\\HasNoChildren) "/" "Work/Beta"'], u
    # LIST-STATUS: a STATUS after each LIST line
    _, u = c.ok('LIST "" "Work/*" RETURN (STATUS (MESSAGES UNSEEN))')
    assert u == ['* LIST (\\HasNoChildren) "/" "Work/Alpha"',
                 '* STATUS "Work/Alpha" (MESSAGES 2 UNSEEN 2)',
                 '* LIST (\\HasNoChildren) "/" "Work/Beta"',
                 '* STATUS "Work/Beta" (MESSAGES 0 UNSEEN 0)'], u
    # plain RFC 3501 LIST is unchanged
    _, u = c.ok('LIST "" ""')
    assert u == ['* LIST (\\Noselect) "/" ""'], u
    st, _ = c.cmd('LIST "" "*" RETURN (BOGUS)')
    assert st.startswith("BAD")
    c.close()


# --- UTF8=ACCEPT (RFC 6855), IMAP4rev2 (RFC 9051) ---


def test_utf8_accept_names_and_append(daemon, ports, box):
    m = connect(ports, *box)
    assert "UTF8=ACCEPT" in m.capability()[1][0].decode().split()
    # created in modified UTF-7 by a client that did not enable UTF-8
    assert m.create("&AMk-t&AOk-")[0] == "OK"      # "Été"
    m.logout()
    c = Imap(ports, *box)
    _, u = c.ok('LIST "" "*t*"')
    assert '* LIST (\\HasNoChildren) "/" "&AMk-t&AOk-"' in u, u
    _, u = c.ok("ENABLE UTF8=ACCEPT")
    assert u == ["* ENABLED UTF8=ACCEPT"], u
    _, u = c.ok('LIST "" "*t*"')
    assert '* LIST (\\HasNoChildren) "/" "Été"' in u, u
    c.ok('CREATE "Ünïcode/子"')
    _, u = c.ok('STATUS "Ünïcode/子" (MESSAGES)')
    assert u == ['* STATUS "Ünïcode/子" (MESSAGES 0)'], u
    # APPEND UTF8 (~{n}): a message with a UTF-8 header
    msg = ("From: Jörg <j@example.test>\r\nSubject: Grüße\r\n\r\nHallo\r\n").encode()
    c.c.send(f'a1 APPEND "Été" UTF8 (~{{{len(msg)}}}\r\n'.encode())
    assert c.c.readline().startswith(b"+")
    c.c.send(msg + b")\r\n")
    line = c.c.readline()
    assert line.startswith(b"a1 OK [APPENDUID"), line
    _, u = c.ok('SELECT "Été"')
    assert "* 1 EXISTS" in u
    _, u = c.ok("FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert "Grüße" in u[0], u
    c.close()
    m = connect(ports, *box)
    typ, data = m.list('""', '"*"')
    assert any(b'"&ANw-n&AO8-code/&W1A-"' in d for d in data), data
    m.logout()


def test_imap4rev2_behaviour(daemon, ports, box):
    m = connect(ports, *box)
    append(m, flags="(\\Deleted)")
    append(m)
    m.logout()
    c = Imap(ports, *box)
    _, u = c.ok("ENABLE IMAP4rev2")
    assert u == ["* ENABLED IMAP4rev2"], u
    _, u = c.ok("SELECT INBOX")
    assert not any("RECENT" in x or "[UNSEEN" in x for x in u), u
    assert '* LIST () "/" "INBOX"' in u and "* 2 EXISTS" in u, u
    _, u = c.ok("STATUS INBOX (MESSAGES DELETED SIZE)")
    assert re.fullmatch(r'\* STATUS "INBOX" \(MESSAGES 2 SIZE \d+ DELETED 1\)', u[0]), u
    st, _ = c.cmd("STATUS INBOX (RECENT)")
    assert st.startswith("BAD"), st
    _, u = c.ok("SELECT INBOX")
    assert u[0] == "* OK [CLOSED] Previous mailbox closed", u
    c.close()


# --- real sync clients, ordering under concurrent deliveries ---


def deliver(ports, rcpt, subject, body="hello"):
    msg = util.make_msg(f"x@{REMOTE_DOMAIN}", rcpt, subject=subject, body=body)[1]
    assert util.mx_send(ports["smtp"], f"x@{REMOTE_DOMAIN}", [rcpt], msg) == {}


def server_cert(tmp, ports):
    pem = ssl.get_server_certificate((HOST, ports["imaps"]))
    path = tmp / "server.pem"
    path.write_text(pem)
    return path, pem


def maildir_files(folder):
    return sorted(p for sub in ("cur", "new") for p in (folder / sub).glob("*"))


def subjects(files):
    out = set()
    for f in files:
        m = re.search(rb"^Subject: (.*?)\r?$", f.read_bytes(), re.M)
        out.add(m.group(1).decode())
    return out


def run_mbsync(conf):
    r = subprocess.run(["mbsync", "-c", str(conf), "-a"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, f"mbsync: {r.returncode}\n{r.stdout}\n{r.stderr}"


def test_mbsync_two_way(daemon, ports, box, tmp_path):
    user, pw = box
    deliver(ports, user, "in-1")
    deliver(ports, user, "in-2")
    util.wait_messages(ports, user, pw, 2)
    m = connect(ports, user, pw)
    m.create("Work")
    append(m, "Work", subject="work-1")
    m.logout()
    cert, _ = server_cert(tmp_path, ports)
    local = tmp_path / "mail"
    local.mkdir()
    conf = tmp_path / "mbsyncrc"
    conf.write_text(f"""IMAPAccount srv
Host {HOST}
Port {ports['imaps']}
User {user}
Pass {pw}
SSLType IMAPS
CertificateFile {cert}

IMAPStore remote
Account srv

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel ch
Far :remote:
Near :local:
Patterns INBOX Work
Create Both
Expunge Both
SyncState *
Sync All
""")
    run_mbsync(conf)
    assert subjects(maildir_files(local / "INBOX")) == {"in-1", "in-2"}
    assert subjects(maildir_files(local / "Work")) == {"work-1"}
    # local changes: \Seen on in-1, a new message in Work, in-2 deleted
    for f in maildir_files(local / "INBOX"):
        s = subjects([f]).pop()
        base = f.parent.parent / "cur" / f.name.split(":")[0]
        if s == "in-1":
            f.rename(str(base) + ":2,S")
        else:
            f.rename(str(base) + ":2,T")
    newf = local / "Work" / "new" / f"{int(time.time())}.local1.host"
    newf.write_bytes(util.make_msg("me@example.test", user, subject="work-local")[1])
    # server changes: \Flagged on work-1, a new message in INBOX
    m = connect(ports, user, pw)
    m.select("Work")
    m.store("1", "+FLAGS", "(\\Flagged)")
    m.logout()
    deliver(ports, user, "in-3")
    util.wait_for(lambda: len(util.pop3_ids(ports, user, pw)) >= 3, 10, what="in-3")
    run_mbsync(conf)
    m = connect(ports, user, pw)
    m.select("INBOX")
    typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    got = {re.search(rb"Subject: (\S+)", d[1]).group(1).decode(): d[0] for d in data
           if isinstance(d, tuple)}
    assert set(got) == {"in-1", "in-3"}, got
    assert b"\\Seen" in got["in-1"]
    m.select("Work")
    typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    got = {re.search(rb"Subject: (\S+)", d[1]).group(1).decode(): d[0] for d in data
           if isinstance(d, tuple)}
    assert set(got) == {"work-1", "work-local"}, got
    m.logout()
    assert subjects(maildir_files(local / "INBOX")) == {"in-1", "in-3"}
    work = {subjects([f]).pop(): f.name for f in maildir_files(local / "Work")}
    assert set(work) == {"work-1", "work-local"}
    assert work["work-1"].endswith(":2,F"), work


def test_offlineimap_sync(daemon, ports, box, tmp_path):
    user, pw = box
    deliver(ports, user, "oi-1")
    util.wait_messages(ports, user, pw, 1)
    m = connect(ports, user, pw)
    m.create("Lists")
    append(m, "Lists", subject="oi-list")
    m.logout()
    _, pem = server_cert(tmp_path, ports)
    der = ssl.PEM_cert_to_DER_cert(pem)
    fp = hashlib.sha512(der).hexdigest()
    local = tmp_path / "oi"
    conf = tmp_path / "offlineimaprc"
    conf.write_text(f"""[general]
accounts = t
metadata = {tmp_path}/meta
ui = quiet

[Account t]
localrepository = L
remoterepository = R

[Repository L]
type = Maildir
localfolders = {local}

[Repository R]
type = IMAP
remotehost = {HOST}
remoteport = {ports['imaps']}
remoteuser = {user}
remotepass = {pw}
ssl = yes
cert_fingerprint = {fp}
folderfilter = lambda f: f in ("INBOX", "Lists")
""")

    def run():
        r = subprocess.run(["offlineimap", "-c", str(conf), "-o", "-u", "quiet"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"offlineimap: {r.returncode}\n{r.stdout}\n{r.stderr}"
    run()
    assert subjects(maildir_files(local / "INBOX")) == {"oi-1"}
    assert subjects(maildir_files(local / "Lists")) == {"oi-list"}
    # a local flag and a server-side message both travel
    f = maildir_files(local / "INBOX")[0]
    f.rename(str(f.parent.parent / "cur" / f.name.split(":")[0]) + ":2,FS")
    deliver(ports, user, "oi-2")
    util.wait_for(lambda: len(util.pop3_ids(ports, user, pw)) >= 2, 10, what="oi-2")
    run()
    assert subjects(maildir_files(local / "INBOX")) == {"oi-1", "oi-2"}
    m = connect(ports, user, pw)
    m.select("INBOX", readonly=True)
    typ, data = m.search(None, "FLAGGED SEEN")
    assert data[0].split() == [b"1"], data
    m.logout()


def test_uid_order_under_concurrent_deliveries(daemon, ports, box):
    user, pw = box
    c = Imap(ports, user, pw)
    c.ok("SELECT INBOX")
    done = threading.Event()
    seen, known, problems, total = [], 0, [], 0

    def senders():
        util.run_threads(4, lambda i: [deliver(ports, user, f"c{i}-{k}") for k in range(8)])
        done.set()
    t = threading.Thread(target=senders, daemon=True)
    t.start()
    deadline = time.time() + 60
    while time.time() < deadline:
        finished = done.is_set()
        _, u = c.ok("NOOP")
        total = max([total] + [int(x.split()[1]) for x in u if x.endswith(" EXISTS")])
        if total > known:
            _, f = c.ok(f"FETCH {known + 1}:{total} (UID)")
            total = max([total] + [int(x.split()[1]) for x in f if x.endswith(" EXISTS")])
            for x in f:
                if " FETCH " not in x:
                    continue
                uid = int(re.search(r"UID (\d+)", x).group(1))
                if seen and uid <= seen[-1]:
                    problems.append((seen[-1], uid))
                seen.append(uid)
            known = len(seen)
        if finished and known >= 32:
            break
        time.sleep(0.02)
    t.join(60)
    c.close()
    assert not problems, problems
    assert len(seen) == 32 and seen == sorted(set(seen)), seen


# --- NOTIFY (RFC 5465) ---


def idle_start(c):
    """IDLE; untagged lines before the "+" (reports of earlier commands)
    are returned."""
    c.c.send(b"i1 IDLE\r\n")
    got = idle_until(c, lambda x: x.startswith("+"))
    return got[:-1]


def idle_until(c, pred, timeout=10):
    """Lines received in IDLE until pred(line) holds."""
    c.c.settimeout(timeout)
    got = []
    while True:
        line = c.c.readline().decode("utf-8", "replace").rstrip("\r\n")
        got.append(line)
        if pred(line):
            return got


def test_notify_status_and_mailbox_names(daemon, ports, box):
    user, pw = box
    a = Imap(ports, user, pw)
    _, caps = a.ok("CAPABILITY")
    assert "NOTIFY" in caps[0].split()
    st, _ = a.cmd("NOTIFY SET (PERSONAL (AnnotationChange))")
    assert st.startswith("NO [BADEVENT"), st
    st, _ = a.cmd("NOTIFY SET (PERSONAL (MessageNew))")
    assert st.startswith("BAD"), st
    _, u = a.ok("NOTIFY SET STATUS (SELECTED (MessageNew MessageExpunge)) (PERSONAL "
                "(MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange))")
    assert '* STATUS "INBOX" (MESSAGES 0 UIDNEXT 1 UNSEEN 0)' in u, u
    assert any(x.startswith('* STATUS "Trash"') for x in u), u
    a.ok("CREATE Work")
    a.ok("SELECT Work")
    idle_start(a)
    # a delivery to another mailbox: STATUS while idling
    deliver(ports, user, "notify-1")
    got = idle_until(a, lambda x: x.startswith('* STATUS "INBOX"'))
    assert got[-1] == '* STATUS "INBOX" (MESSAGES 1 UIDNEXT 2 UNSEEN 1)', got
    b = Imap(ports, user, pw)
    b.ok("CREATE News")
    got = idle_until(a, lambda x: x.startswith("* LIST"))
    assert got[-1] == '* LIST (\\Subscribed) "/" "News"', got
    b.ok("RENAME News Old")
    got += idle_until(a, lambda x: x.startswith("* LIST"))
    assert got[-1] == '* LIST (\\Subscribed) "/" "Old" ("OLDNAME" ("News"))', got
    b.ok("UNSUBSCRIBE Old")
    got += idle_until(a, lambda x: x.startswith("* LIST"))
    assert got[-1] == '* LIST () "/" "Old"', got
    b.ok("DELETE Old")
    got += idle_until(a, lambda x: x.startswith("* LIST"))
    assert got[-1] == '* LIST (\\NonExistent) "/" "Old"', got
    # names and subscriptions changed, no message did: no STATUS
    assert not any(x.startswith("* STATUS") for x in got), got
    # flags changed elsewhere: STATUS with the new UNSEEN
    b.ok("SELECT INBOX")
    b.ok("STORE 1 +FLAGS (\\Seen)")
    got = idle_until(a, lambda x: x.startswith('* STATUS "INBOX"'))
    assert got[-1] == '* STATUS "INBOX" (MESSAGES 1 UIDNEXT 2 UNSEEN 0)', got
    # the selected mailbox keeps EXISTS
    m = connect(ports, user, pw)
    append(m, "Work")
    m.logout()
    got = idle_until(a, lambda x: x.endswith("EXISTS"))
    assert got[-1] == "* 1 EXISTS", got
    assert a.c.readline() == b"* 1 RECENT\r\n"       # the first session to see it
    a.c.send(b"DONE\r\n")
    assert a.c.readline().startswith(b"i1 OK")
    a.ok("NOTIFY NONE")
    b.ok("CREATE Quiet")
    _, u = a.ok("NOOP")
    assert not any(x.startswith("* LIST") or x.startswith("* STATUS") for x in u), u
    a.close()
    b.close()


# --- two nodes on one database ---

NODE2 = "127.0.0.2"


class Node2(util.Daemon):
    """A second posternd on the same database, listening on 127.0.0.2."""

    def env(self):
        e = super().env()
        e["POSTERN_LISTEN_ADDRESS"] = NODE2
        e["POSTERN_ADMIN_LISTEN"] = f"{NODE2}:{self.ports['admin']}"
        return e


def test_qresync_across_two_nodes(daemon, site, ports, box):
    user, pw = box
    m = connect(ports, user, pw)
    uids = [append(m) for _ in range(3)]
    m.logout()
    node2 = Node2(site.pg.conninfo, site.data_dir, site.logs, ports).start(wait=False)
    try:
        util.wait_for(lambda: util.port_open(ports["imaps"], host=NODE2), 60,
                      what="second node's IMAPS")
        a = Imap(ports, user, pw)
        a.ok("ENABLE QRESYNC")
        a.ok("SELECT INBOX")
        idle_start(a)
        b = Imap(ports, user, pw, host=NODE2)
        b.ok("SELECT INBOX")
        b.ok(f"UID STORE {uids[0]} +FLAGS (\\Flagged)")
        got = idle_until(a, lambda x: " FETCH " in x)
        assert f"UID {uids[0]}" in got[-1] and "\\Flagged" in got[-1], got
        assert "MODSEQ (" in got[-1]
        b.ok(f"UID STORE {uids[1]} +FLAGS.SILENT (\\Deleted)")
        b.ok("EXPUNGE")
        got = idle_until(a, lambda x: x.startswith("* VANISHED"))
        assert got[-1] == f"* VANISHED {uids[1]}", got
        a.c.send(b"DONE\r\n")
        assert a.c.readline().startswith(b"i1 OK")
        a.close()
        b.close()
    finally:
        node2.stop()
    report = node2.sanitizer_report()
    assert not report, report


def test_notify_mailboxes_subtree_at_noop(daemon, ports, box):
    user, pw = box
    m = connect(ports, user, pw)
    for name in ("Work", "Lists", "Lists/x", "Other"):
        assert m.create(name)[0] == "OK"
    m.logout()
    a = Imap(ports, user, pw)
    a.ok("NOTIFY SET (MAILBOXES Work (MessageNew MessageExpunge)) "
         "(SUBTREE (Lists) (MessageNew MessageExpunge))")
    m = connect(ports, user, pw)
    for name in ("INBOX", "Other", "Work", "Lists/x"):
        append(m, name)
    m.logout()

    def statuses():
        got = []
        for _ in range(50):
            _, u = a.ok("NOOP")
            got += [x for x in u if x.startswith("* STATUS")]
            if len(got) >= 2:
                break
            time.sleep(0.1)
        return sorted(got)
    got = statuses()
    assert got == ['* STATUS "Lists/x" (MESSAGES 1 UIDNEXT 2 UNSEEN 1)',
                   '* STATUS "Work" (MESSAGES 1 UIDNEXT 2 UNSEEN 1)'], got
    # NOTIFY SET replaces the filters; a bad mailbox name is BAD
    st, _ = a.cmd('NOTIFY SET (MAILBOXES "&Jjo" (MessageNew MessageExpunge))')
    assert st.startswith("BAD"), st
    a.ok("NOTIFY SET (INBOXES (MessageNew MessageExpunge))")
    deliver(ports, user, "to-inbox")
    for _ in range(50):
        _, u = a.ok("NOOP")
        got = [x for x in u if x.startswith("* STATUS")]
        if got:
            break
        time.sleep(0.1)
    assert got == ['* STATUS "INBOX" (MESSAGES 2 UIDNEXT 3 UNSEEN 2)'], got
    # reported after any command, not only NOOP / IDLE
    deliver(ports, user, "to-inbox-2")
    got = []
    for _ in range(50):
        _, u = a.ok('LIST "" "Other"')
        got += [x for x in u if x.startswith("* STATUS")]
        if got:
            break
        time.sleep(0.1)
    assert got == ['* STATUS "INBOX" (MESSAGES 3 UIDNEXT 4 UNSEEN 3)'], got
    a.close()


# --- limits and bad arguments of the new commands ---


def check_bad(ports, box, lines, prefix=()):
    """Each line is refused; a fresh session every 8 (the error limit)."""
    for k in range(0, len(lines), 8):
        c = Imap(ports, *box)
        for p in prefix:
            c.ok(p)
        for bad in lines[k:k + 8]:
            st, _ = c.cmd(bad)
            assert st.startswith("BAD") or st.startswith("NO"), (bad, st)
        c.close()


def test_sync_extensions_limits_and_bad_input(daemon, ports, box):
    lim = util.limits()
    m = connect(ports, *box)
    append(m)
    m.logout()
    c = Imap(ports, *box)
    n = lim["LIMIT_IMAP_LIST_PATTERNS"]
    pats = " ".join(f'"p{i}"' for i in range(n))
    c.ok(f'LIST "" ({pats})')
    st, _ = c.cmd(f'LIST "" ({pats} "one-more")')
    assert st.startswith("BAD [LIMIT]"), st
    n = lim["LIMIT_IMAP_NOTIFY_FILTERS"]
    flt = " ".join("(INBOXES (MessageNew MessageExpunge))" for _ in range(n))
    c.ok(f"NOTIFY SET {flt}")
    st, _ = c.cmd(f"NOTIFY SET {flt} (PERSONAL NONE)")
    assert st.startswith("BAD [LIMIT]"), st
    c.ok("NOTIFY NONE")
    # the limit of 63-bit MODSEQ values is accepted
    c.ok("ENABLE QRESYNC")
    c.ok("SELECT INBOX")
    c.ok("FETCH 1:* (FLAGS) (CHANGEDSINCE 9223372036854775807)")
    c.ok("SELECT INBOX (QRESYNC (1 9223372036854775807 1:4294967295))")
    c.close()
    check_bad(ports, box, [
        "NOTIFY", "NOTIFY SET", "NOTIFY SET ()", "NOTIFY SET (BOGUS NONE)",
        "NOTIFY SET (SUBTREE (MessageNew))", "GETQUOTA", "SETQUOTA \"\"",
        "LIST () \"\"", "LIST (BOGUS) \"\" \"*\"", "LIST \"\" \"*\" RETURN",
        "LIST \"\" \"*\" RETURN (STATUS (BOGUS))", "ENABLE"])
    check_bad(ports, box, [
        "STORE 1 (UNCHANGEDSINCE) +FLAGS (\\Seen)",
        "STORE 1 (UNCHANGEDSINCE -1) +FLAGS (\\Seen)",
        "STORE 1 (UNCHANGEDSINCE 9223372036854775808) +FLAGS (\\Seen)",
        "STORE 1 (BOGUS 1) +FLAGS (\\Seen)",
        "FETCH 1 (FLAGS) (CHANGEDSINCE 9223372036854775808)",
        "FETCH 1 (FLAGS) (BOGUS)", "FETCH 1 (FLAGS) (CHANGEDSINCE 1) extra",
        "SELECT INBOX (QRESYNC)", "SELECT INBOX (QRESYNC ())",
        "SELECT INBOX (QRESYNC (0 1))", "SELECT INBOX (QRESYNC (1 0))",
        "SELECT INBOX (QRESYNC (4294967296 1))",
        "SELECT INBOX (QRESYNC (1 1 1:*))", "SELECT INBOX (QRESYNC (1 1 x))",
        "SELECT INBOX (BOGUS)", "SELECT INBOX (CONDSTORE) extra",
        "SEARCH MODSEQ", "SEARCH MODSEQ x"], prefix=("ENABLE QRESYNC", "SELECT INBOX"))


def test_notify_selected_messagenew_fetch_att(daemon, ports, box):
    user, pw = box
    a = Imap(ports, user, pw)
    st, _ = a.cmd("NOTIFY SET (PERSONAL (MessageNew (UID) MessageExpunge))")
    assert st.startswith("BAD"), st     # fetch-att only for the selected mailbox
    a.ok("NOTIFY SET (SELECTED (MessageNew (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)]) "
         "MessageExpunge))")
    a.ok("SELECT INBOX")
    idle_start(a)
    deliver(ports, user, "nf-1")
    got = idle_until(a, lambda x: x.startswith("Subject:"))
    assert "* 1 EXISTS" in got, got
    fetch = [x for x in got if " FETCH " in x]
    assert len(fetch) == 1 and fetch[0].startswith("* 1 FETCH (UID 1 FLAGS (\\Recent) "), got
    assert got[-1] == "Subject: nf-1", got
    a.c.send(b"DONE\r\n")
    line = a.c.readline()
    while not line.startswith(b"i1 "):
        line = a.c.readline()
    assert line.startswith(b"i1 OK"), line
    # the message is still unseen (BODY.PEEK) and the session goes on
    _, u = a.ok("FETCH 1 (FLAGS)")
    assert u == ["* 1 FETCH (FLAGS (\\Recent))"], u
    a.close()
