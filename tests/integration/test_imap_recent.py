"""The IMAP \\Recent flag (RFC 3501 2.3.2, 6.3.1, 6.3.2, 6.3.10, 6.4.4, 7.3.2):
a message is recent in exactly one session, the first to have its mailbox
selected read-write since it arrived (SMTP delivery, APPEND, COPY/MOVE);
EXAMINE and STATUS only look. The claim is one UPDATE of mailboxes.recent_uid
in PostgreSQL, so it holds across sessions and across two posternd nodes on
one database. IMAP4rev2 (RFC 9051) shows no \\Recent at all. Raw tagged
lines over IMAPS (test_imap_sync.Imap) so every untagged line is seen."""

import re
import threading

import pytest

import util
from util import REMOTE_DOMAIN
from test_imap_sync import Imap, deliver, idle_start, idle_until  # noqa: F401
from test_nodes import NODE_B, node_b, send_via  # noqa: F401 (fixture)


@pytest.fixture
def box(daemon, site):
    return site.new_user("recent")


def recent_line(untagged):
    """n of the last "* n RECENT", or None."""
    got = [int(x.split()[1]) for x in untagged if re.fullmatch(r"\* \d+ RECENT", x)]
    return got[-1] if got else None


def flags(c, uid=True):
    """{uid: set of flags} of every message of the selected mailbox."""
    _, u = c.ok("UID FETCH 1:* (FLAGS)" if uid else "FETCH 1:* (FLAGS UID)")
    out = {}
    for x in u:
        m = re.search(r"UID (\d+)", x)
        f = re.search(r"FLAGS \(([^)]*)\)", x)
        if m and f:
            out[int(m.group(1))] = set(f.group(1).split())
    return out


def recent_uids(c):
    return {u for u, f in flags(c).items() if "\\Recent" in f}


def search(c, keys):
    _, u = c.ok(f"SEARCH {keys}")
    line = [x for x in u if x.startswith("* SEARCH")]
    assert len(line) == 1, u
    return [int(n) for n in line[0].split()[2:]]


def status_recent(c, name="INBOX"):
    _, u = c.ok(f"STATUS {name} (RECENT MESSAGES)")
    line = [x for x in u if x.startswith("* STATUS")]
    assert len(line) == 1, u
    return int(re.search(r"RECENT (\d+)", line[0]).group(1))


def deliver_n(ports, user, n, tag="r"):
    for i in range(n):
        deliver(ports, user, f"{tag}-{i}")


def test_first_select_owns_recent(daemon, ports, box):
    user, pw = box
    b = Imap(ports, user, pw)          # opened before the messages arrive
    deliver_n(ports, user, 3)
    a = Imap(ports, user, pw)
    _, u = a.ok("SELECT INBOX")
    assert "* 3 EXISTS" in u and recent_line(u) == 3, u
    # FLAGS lists the flags a client may set; PERMANENTFLAGS never \Recent
    assert not any("PERMANENTFLAGS" in x and "\\Recent" in x for x in u), u
    assert flags(a) == {1: {"\\Recent"}, 2: {"\\Recent"}, 3: {"\\Recent"}}
    assert search(a, "RECENT") == [1, 2, 3]
    assert search(a, "NEW") == [1, 2, 3]
    assert search(a, "OLD") == []
    _, u = a.ok("STORE 1 +FLAGS (\\Seen)")
    assert u == ["* 1 FETCH (FLAGS (\\Seen \\Recent))"], u
    assert search(a, "NEW") == [2, 3]
    assert search(a, "NOT NEW") == [1]
    assert search(a, "OR SEEN OLD") == [1]
    assert search(a, "RECENT SEEN") == [1]
    assert search(a, "NOT RECENT") == []
    _, u = a.ok("UID SEARCH RECENT UNSEEN")
    assert u == ["* SEARCH 2 3"], u
    _, u = a.ok("SEARCH RETURN (COUNT MIN) NEW")
    assert u[0].endswith("MIN 2 COUNT 2"), u
    _, u = a.ok("SORT (ARRIVAL) UTF-8 NOT OLD")
    assert u == ["* SORT 1 2 3"], u
    _, u = a.ok("THREAD ORDEREDSUBJECT UTF-8 OLD")
    assert u == ["* THREAD"], u
    # STORE can neither set nor clear \Recent
    _, u = a.ok("STORE 2 -FLAGS (\\Recent)")
    assert search(a, "RECENT") == [1, 2, 3]
    # B was connected all along, C comes later: neither sees them as recent
    c = Imap(ports, user, pw)
    for s in (b, c):
        _, u = s.ok("SELECT INBOX")
        assert recent_line(u) == 0, u
        assert recent_uids(s) == set()
        assert search(s, "RECENT") == [] and search(s, "NEW") == []
        assert search(s, "OLD") == [1, 2, 3]
        s.ok("STORE 3 +FLAGS (\\Recent \\Flagged)")
        assert flags(s)[3] == {"\\Flagged"}
    # A keeps them while it stays selected; an expunge removes one
    a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    _, u = a.ok("EXPUNGE")
    assert u == ["* 2 EXPUNGE"], u
    assert recent_uids(a) == {1, 3} and search(a, "RECENT") == [1, 2]
    # a new SELECT of the same mailbox ends this session's claim
    _, u = a.ok("SELECT INBOX")
    assert recent_line(u) == 0, u
    for s in (a, b, c):
        s.close()


def test_examine_and_status_do_not_claim(daemon, ports, box):
    user, pw = box
    deliver_n(ports, user, 3)
    x = Imap(ports, user, pw)
    st = Imap(ports, user, pw)
    assert status_recent(st) == 3
    _, u = x.ok("EXAMINE INBOX")
    assert recent_line(u) == 3, u
    assert recent_uids(x) == {1, 2, 3}
    assert search(x, "RECENT") == [1, 2, 3]
    # LIST-STATUS (RFC 5819) counts the same
    _, u = st.ok('LIST "" "INBOX" RETURN (STATUS (RECENT))')
    assert '* STATUS "INBOX" (RECENT 3)' in u, u
    x.ok("CLOSE")
    assert status_recent(st) == 3
    a = Imap(ports, user, pw)
    _, u = a.ok("SELECT INBOX")
    assert recent_line(u) == 3, u          # EXAMINE did not clear them
    assert status_recent(st) == 0
    # one more while A is selected: unclaimed until A's next sync
    deliver(ports, user, "late")
    assert status_recent(st) == 1
    _, u = x.ok("EXAMINE INBOX")
    assert recent_line(u) == 1 and recent_uids(x) == {4}, u
    _, u = a.ok("NOOP")
    assert "* 4 EXISTS" in u and recent_line(u) == 4, u
    assert status_recent(st) == 0
    assert recent_uids(a) == {1, 2, 3, 4}
    for s in (x, st, a):
        s.close()


def test_examine_sees_arrivals_no_one_claimed(daemon, ports, box):
    """RFC 3501 2.3.2: a read-only session may show \\Recent on what it sees
    first, without taking it from the read-write session that comes after."""
    user, pw = box
    a, x = Imap(ports, user, pw), Imap(ports, user, pw)
    a.ok("SELECT INBOX")
    _, u = x.ok("EXAMINE INBOX")
    assert recent_line(u) == 0, u
    deliver(ports, user, "first-seen-by-examine")
    _, u = x.ok("NOOP")
    assert "* 1 EXISTS" in u and recent_line(u) == 1 and recent_uids(x) == {1}, u
    _, u = a.ok("NOOP")
    assert "* 1 EXISTS" in u and recent_line(u) == 1 and recent_uids(a) == {1}, u
    # the read-write session synced first: claimed, not recent in x
    deliver(ports, user, "first-seen-by-select")
    _, u = a.ok("NOOP")
    assert recent_line(u) == 2 and recent_uids(a) == {1, 2}, u
    _, u = x.ok("NOOP")
    assert "* 2 EXISTS" in u and recent_line(u) == 1 and recent_uids(x) == {1}, u
    a.close()
    x.close()


def both(a, b, line="NOOP"):
    """line in both sessions at the same moment: their untagged lines."""
    res = {}

    def run(name, c):
        res[name] = c.ok(line)[1]
    ts = [threading.Thread(target=run, args=(n, c)) for n, c in (("a", a), ("b", b))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    return res["a"], res["b"]


def check_split(a, b, new, ua=None, ub=None):
    """The UIDs new are recent in exactly one of a, b; the RECENT lines
    (when given) match each session's own count."""
    ra, rb = recent_uids(a) & new, recent_uids(b) & new
    assert ra | rb == new and not ra & rb, (ra, rb)
    for c, u in ((a, ua), (b, ub)):
        if u is not None:
            assert recent_line(u) == len(recent_uids(c)), u
    return ra, rb


def test_noop_race_one_owner(daemon, ports, box):
    user, pw = box
    deliver_n(ports, user, 1, "old")
    a, b = Imap(ports, user, pw), Imap(ports, user, pw)
    _, u = a.ok("SELECT INBOX")
    assert recent_line(u) == 1, u
    _, u = b.ok("SELECT INBOX")
    assert recent_line(u) == 0, u
    for rnd in range(3):
        first = 2 + 2 * rnd
        deliver_n(ports, user, 2, f"race{rnd}")
        ua, ub = both(a, b)
        assert f"* {first + 1} EXISTS" in ua and f"* {first + 1} EXISTS" in ub, (ua, ub)
        ra, rb = check_split(a, b, {first, first + 1}, ua, ub)
        # both arrived before either sync: one claim took both
        assert {len(ra), len(rb)} == {0, 2}, (ra, rb)
    a.close()
    b.close()


def test_idle_race_one_owner(daemon, ports, box):
    user, pw = box
    a, b = Imap(ports, user, pw), Imap(ports, user, pw)
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    idle_start(a)
    idle_start(b)
    deliver_n(ports, user, 2, "idle")
    got = {}
    for name, c in (("a", a), ("b", b)):
        lines = idle_until(c, lambda x: x == "* 2 EXISTS")
        lines.append(c.c.readline().decode().rstrip("\r\n"))
        assert re.fullmatch(r"\* \d RECENT", lines[-1]), lines
        got[name] = lines
        c.c.send(b"DONE\r\n")
        while True:
            line = c.c.readline().decode().rstrip("\r\n")
            if line.startswith("i1 "):
                assert line.startswith("i1 OK"), line
                break
            got[name].append(line)
    ra, rb = check_split(a, b, {1, 2}, got["a"], got["b"])
    assert len(ra) + len(rb) == 2
    a.close()
    b.close()


def test_append_copy_move_are_recent(daemon, ports, box):
    user, pw = box
    a = Imap(ports, user, pw)
    a.ok("CREATE Work")
    a.ok("CREATE Dest")
    msg = util.make_msg(f"x@{REMOTE_DOMAIN}", user, subject="app")[1]
    for _ in range(2):
        a.c.send(f"ap APPEND Work (\\Seen) {{{len(msg)}}}\r\n".encode())
        assert a.c.readline().startswith(b"+")
        a.c.send(msg + b"\r\n")
        assert a.c.readline().startswith(b"ap OK [APPENDUID")
    b = Imap(ports, user, pw)
    _, u = b.ok("SELECT Work")
    assert recent_line(u) == 2, u
    assert flags(b) == {1: {"\\Seen", "\\Recent"}, 2: {"\\Seen", "\\Recent"}}
    assert search(b, "NEW") == [] and search(b, "RECENT") == [1, 2]
    # APPEND into the selected mailbox: this session's sync claims it
    a.ok("SELECT Work")
    a.c.send(f"ap APPEND Work {{{len(msg)}}}\r\n".encode())
    assert a.c.readline().startswith(b"+")
    a.c.send(msg + b"\r\n")
    u = []
    while True:
        line = a.c.readline().decode().rstrip("\r\n")
        if line.startswith("ap "):
            break
        u.append(line)
    assert "* 3 EXISTS" in u and recent_line(u) == 1, u
    assert recent_uids(a) == {3}
    # COPY and MOVE: recent in Dest for the first session to select it
    a.ok("COPY 1 Dest")
    a.ok("MOVE 2 Dest")
    assert status_recent(b, "Dest") == 2
    c = Imap(ports, user, pw)
    _, u = c.ok("SELECT Dest")
    assert recent_line(u) == 2 and recent_uids(c) == {1, 2}, u
    _, u = b.ok("SELECT Dest")
    assert recent_line(u) == 0, u
    for s in (a, b, c):
        s.close()


def test_imap4rev2_has_no_recent(daemon, ports, box):
    user, pw = box
    deliver_n(ports, user, 2)
    c = Imap(ports, user, pw)
    c.ok("ENABLE IMAP4rev2")
    _, u = c.ok("SELECT INBOX")
    assert "* 2 EXISTS" in u and recent_line(u) is None, u
    assert flags(c) == {1: set(), 2: set()}
    for key in ("RECENT", "NEW", "OLD", "NOT RECENT"):
        st, _ = c.cmd(f"SEARCH {key}")
        assert st.startswith("BAD"), (key, st)
    deliver(ports, user, "rev2")
    _, u = c.ok("NOOP")
    assert "* 3 EXISTS" in u and not any("RECENT" in x for x in u), u
    # the rev2 session was the first to see them: a rev1 session is not
    d = Imap(ports, user, pw)
    assert status_recent(d) == 0
    _, u = d.ok("SELECT INBOX")
    assert recent_line(u) == 0, u
    c.close()
    d.close()


def test_two_nodes_one_owner(daemon, ports, box, node_b):
    user, pw = box
    deliver_n(ports, user, 3)
    a = Imap(ports, user, pw)
    b = Imap(ports, user, pw, host=NODE_B)
    ua, ub = both(a, b, "SELECT INBOX")
    assert sorted([recent_line(ua), recent_line(ub)]) == [0, 3], (ua, ub)
    check_split(a, b, {1, 2, 3})
    send_via(NODE_B, ports["smtp"], user)
    send_via(util.HOST, ports["smtp"], user)
    ua, ub = both(a, b)
    check_split(a, b, {4, 5}, ua, ub)
    a.close()
    b.close()
