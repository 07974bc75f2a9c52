"""Upgrades: migrations are forward-only, and every one is tested from every
earlier schema version with data in it. For each k, a fresh database gets
sql/001..k exactly as db_migrate() applies them (one transaction per file
with its schema_version row), then an account, mailboxes and messages
written with the columns that schema version has; then posternd (the
current one) starts on it, applies the rest, and the data is read back over
IMAP (imaplib) and POP3 (poplib): same bodies, flags, keywords, internal
dates, UIDs and UIDVALIDITY."""

import imaplib
import re
from pathlib import Path

import pytest

import util
from util import DOMAIN, HOST, Ctl, Daemon

MIGRATIONS = sorted(p for p in (util.ROOT / "sql").glob("[0-9][0-9][0-9]_*.sql"))
UIDVALIDITY = 1234567
INTERNALDATE = "2021-03-04 05:06:07+00"
IMAP_INTERNALDATE = "04-Mar-2021 05:06:07 +0000"


def version(p: Path):
    return int(p.name[:3])


def psql(site, db, sql=None, files=(), single=True):
    cmd = [site.pg.bindir / "psql", "-h", site.pg.sock, "-U", "postgres", "-d", db, "-XAtq",
           "-v", "ON_ERROR_STOP=1"]
    if single:
        cmd.append("--single-transaction")
    for f in files:
        cmd += ["-f", f]
    if sql:
        cmd += ["-c", sql]
    return site.pg.run(cmd).stdout


def q(s):
    return "'" + s.replace("'", "''") + "'"


def seed(site, db, password_hash):
    """An account with INBOX (two messages, one \\Seen with a keyword) and a
    second mailbox, in the columns 001_init.sql defines."""
    local = "upgrader"
    msgs = [util.make_msg(f"x@{util.REMOTE_DOMAIN}", f"{local}@{DOMAIN}",
                          subject=f"from an old schema {i}")[1] for i in range(2)]
    sql = [
        f"INSERT INTO domains (name) VALUES ({q(DOMAIN)}) ON CONFLICT DO NOTHING",
        f"INSERT INTO accounts (domain_id, local_part, password_hash) SELECT id, "
        f"{q(local)}, {q(password_hash)} FROM domains WHERE name = {q(DOMAIN)}",
        f"INSERT INTO mailboxes (account_id, name, uidvalidity, uidnext, highestmodseq) "
        f"SELECT id, 'INBOX', {UIDVALIDITY}, 3, 5 FROM accounts WHERE local_part = {q(local)}",
        f"INSERT INTO mailboxes (account_id, name, special_use, uidvalidity, uidnext, "
        f"highestmodseq) SELECT id, 'Sent', '\\Sent', {UIDVALIDITY + 1}, 1, 1 FROM accounts "
        f"WHERE local_part = {q(local)}",
    ]
    for i, body in enumerate(msgs):
        hexbody = body.hex()
        flags, keywords = (1, "{$Work}") if i == 0 else (0, "{}")
        sql.append(
            f"INSERT INTO blobs (sha256, size, body) VALUES (sha256('\\x{hexbody}'::bytea), "
            f"{len(body)}, '\\x{hexbody}'::bytea)")
        sql.append(
            f"INSERT INTO messages (mailbox_id, uid, blob_id, modseq, flags, keywords, "
            f"internal_date, size) SELECT m.id, {i + 1}, b.id, {i + 3}, {flags}, "
            f"{q(keywords)}, {q(INTERNALDATE)}, {len(body)} FROM mailboxes m, blobs b, "
            f"accounts a WHERE m.account_id = a.id AND a.local_part = {q(local)} AND "
            f"m.name = 'INBOX' AND b.sha256 = sha256('\\x{hexbody}'::bytea)")
        sql.append(f"UPDATE accounts SET used_bytes = used_bytes + {len(body)} "
                   f"WHERE local_part = {q(local)}")
    psql(site, db, ";\n".join(sql))
    return f"{local}@{DOMAIN}", msgs


@pytest.fixture(scope="module")
def password_hash(site):
    """A real argon2id hash of alice's password, written by posternctl."""
    return site.pg.psql("SELECT password_hash FROM accounts WHERE local_part = 'alice'").strip()


@pytest.mark.timeout(180)
@pytest.mark.parametrize("upto", MIGRATIONS[:-1] or MIGRATIONS, ids=lambda p: f"from-{p.name[:3]}")
def test_upgrade_from(site, password_hash, upto):
    db = f"postern_up{version(upto):03d}"
    site.pg.createdb(db)
    for f in MIGRATIONS:
        if version(f) > version(upto):
            break
        psql(site, db, f"INSERT INTO schema_version (version) VALUES ({version(f)})", [f])
    user, msgs = seed(site, db, password_hash)
    password = site.users[f"alice@{DOMAIN}"]
    names = list(util.LISTENERS) + ["admin"]
    ports = dict(zip(names, util.free_ports(len(names))))
    for name, tls in util.LISTENERS.items():
        psql(site, db, f"UPDATE listeners SET port = {ports[name]}, tls_mode = {q(tls)}, "
             f"enabled = true WHERE name = {q(name)}")
    data_dir = site.base / f"data-{db}"
    data_dir.mkdir(mode=0o755)
    conninfo = f"host={site.pg.sock} dbname={db} user=postgres"
    d = Daemon(conninfo, data_dir, site.logs, ports).start()
    try:
        applied = [int(v) for v in psql(site, db, "SELECT version FROM schema_version "
                                         "ORDER BY 1").split()]
        assert applied == [version(f) for f in MIGRATIONS]
        # 013_recent.sql: what existed before is not \Recent (recent_uid = uidnext)
        if version(upto) < 13:
            assert psql(site, db, "SELECT count(*) > 1, bool_and(recent_uid = uidnext) "
                        "FROM mailboxes").strip() == "t|t"
        # POP3: the same octets
        assert util.pop3_messages(ports, user, password) == msgs
        # IMAP: UIDs, UIDVALIDITY, flags, keywords, internal dates, bodies
        m = imaplib.IMAP4_SSL(HOST, ports["imaps"], ssl_context=util.client_ctx(), timeout=30)
        try:
            assert m.login(user, password)[0] == "OK"
            typ, _ = m.select("INBOX", readonly=True)
            assert typ == "OK"
            assert int(m.response("UIDVALIDITY")[1][0]) == UIDVALIDITY
            typ, data = m.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
            assert typ == "OK", data
            got = {}
            for item in data:
                if isinstance(item, tuple):
                    head = item[0].decode()
                    uid = int(re.search(r"UID (\d+)", head).group(1))
                    got[uid] = (set(re.search(r"FLAGS \(([^)]*)\)", head).group(1).split()),
                                re.search(r'INTERNALDATE "([^"]+)"', head).group(1), item[1])
            # seeded from 013 on with the column's default: never selected, \Recent
            rec = {"\\Recent"} if version(upto) >= 13 else set()
            assert got == {1: ({"\\Seen", "$Work"} | rec, IMAP_INTERNALDATE, msgs[0]),
                           2: (rec, IMAP_INTERNALDATE, msgs[1])}
            typ, data = m.status("Sent", "(MESSAGES UIDNEXT UIDVALIDITY)")
            assert typ == "OK" and b"MESSAGES 0" in data[0], data
            # a new delivery lands after the old UIDs
            assert util.mx_send(ports["smtp"], f"x@{util.REMOTE_DOMAIN}", [user],
                                util.make_msg(f"x@{util.REMOTE_DOMAIN}", user)[1]) == {}
            m.noop()
            typ, data = m.uid("SEARCH", "ALL")
            assert data[0].split() == [b"1", b"2", b"3"], data
        finally:
            m.logout()
        assert Ctl(conninfo, data_dir).run("health").returncode == 0
    finally:
        d.stop()
    assert d.sanitizer_report() is None
