"""Operations: `posternctl health` against the running posternd, and
`posternctl backup` / `restore`: a backup of the test site restored into a
fresh database and a fresh data directory, served by a second posternd and
read back over IMAP (imaplib) and POP3 (poplib) with the same messages,
flags and internal dates."""

import imaplib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

import util
from util import DOMAIN, HOST, REMOTE_DOMAIN, Ctl, Daemon


def imap_connect(ports, user, password):
    m = imaplib.IMAP4_SSL(HOST, ports["imaps"], ssl_context=util.client_ctx(), timeout=30)
    assert m.login(user, password)[0] == "OK"
    return m


def imap_snapshot(ports, user, password):
    """{mailbox: [(uid, flags, internaldate, body)]} plus UIDVALIDITY per mailbox."""
    m = imap_connect(ports, user, password)
    try:
        out = {}
        for mailbox in ("INBOX", "Projects"):
            typ, data = m.select(mailbox, readonly=True)
            assert typ == "OK", data
            uidvalidity = m.response("UIDVALIDITY")[1][0]
            typ, data = m.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
            assert typ == "OK", data
            rows = []
            for item in data:
                if not isinstance(item, tuple):
                    continue
                head = item[0].decode()
                uid = int(re.search(r"UID (\d+)", head).group(1))
                flags = sorted(re.search(r"FLAGS \(([^)]*)\)", head).group(1).split())
                date = re.search(r'INTERNALDATE "([^"]+)"', head).group(1)
                rows.append((uid, flags, date, item[1]))
            out[mailbox] = (uidvalidity, sorted(rows))
        return out
    finally:
        m.logout()


def new_site_db(site, name):
    """A fresh, empty database in the test cluster, a fresh data directory,
    free ports: (conninfo, data_dir, ports, ctl)."""
    site.pg.createdb(name)
    conninfo = f"host={site.pg.sock} dbname={name} user=postgres"
    data_dir = site.base / f"data-{name}"
    data_dir.mkdir(mode=0o755)
    names = list(util.LISTENERS) + ["admin"]
    ports = dict(zip(names, util.free_ports(len(names))))
    return conninfo, data_dir, ports, Ctl(conninfo, data_dir)


# --- health ---


def test_health_up(daemon, ctl):
    r = ctl.run("health")
    assert r.returncode == 0, (r.stdout, r.stderr)
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    enabled = {n for n, row in ctl.listeners().items() if row[4] == "enabled"}
    assert {row[0] for row in rows} == enabled
    assert all(row[2] == "up" for row in rows), rows


def test_health_listener_down(daemon, ctl):
    daemon.stop()
    try:
        r = ctl.run("health")
        assert r.returncode == 4, (r.returncode, r.stdout, r.stderr)
        assert r.stderr.startswith("posternctl: listener "), r.stderr
        assert all(line.split("\t")[2] == "down" for line in r.stdout.splitlines()), r.stdout
    finally:
        daemon.start()
    assert ctl.run("health").returncode == 0


def test_health_database_down(site):
    bad = Ctl(f"host={site.base}/nowhere dbname=postern user=postgres connect_timeout=2",
              site.data_dir)
    r = bad.run("health")
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert r.stderr.startswith("posternctl: cannot connect"), r.stderr


# --- backup and restore ---


@pytest.mark.timeout(240)
def test_backup_restore_same_mail(daemon, site, ctl, ports):
    user, pw = site.new_user("bk")
    sent = []
    for i in range(3):
        _, msg = util.make_msg(f"x@{REMOTE_DOMAIN}", user, subject=f"backup {i}")
        assert util.mx_send(ports["smtp"], f"x@{REMOTE_DOMAIN}", [user], msg) == {}
        sent.append(msg)
    m = imap_connect(ports, user, pw)
    try:
        r = m.create("Projects")
        assert r[0] == "OK", r
        m.select("INBOX")
        assert m.uid("STORE", "1", "+FLAGS", r"(\Flagged $Work)")[0] == "OK"
        assert m.uid("STORE", "2", "+FLAGS", r"(\Seen)")[0] == "OK"
        assert m.append("Projects", r"(\Answered)", '"01-Feb-2020 10:11:12 +0000"',
                        util.make_msg(user, user, subject="archived")[1])[0] == "OK"
    finally:
        m.logout()
    before = imap_snapshot(ports, user, pw)
    pop_before = util.pop3_messages(ports, user, pw)
    assert len(pop_before) == 3

    out = Path(tempfile.mkdtemp(prefix="postern-backup-", dir=site.base)) / "b1"
    r = ctl.run("backup", out)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(out)) == ["MANIFEST", "postern.dump", "seal.key"]
    manifest = (out / "MANIFEST").read_text()
    assert manifest.startswith("postern-backup 1\n"), manifest
    assert re.search(r"^schema \d+$", manifest, re.M), manifest
    assert (out / "seal.key").read_bytes() == (site.data_dir / "seal.key").read_bytes()
    assert oct((out / "seal.key").stat().st_mode & 0o777) == "0o600"
    # a second backup into the same (now non-empty) directory is refused
    assert ctl.run("backup", out).returncode == 1

    conninfo, data_dir, ports2, ctl2 = new_site_db(site, "postern_restored")
    r = ctl2.run("restore", out)
    assert r.returncode == 0, r.stderr
    assert (data_dir / "seal.key").read_bytes() == (out / "seal.key").read_bytes()
    # restoring again into the now full database is refused, nothing changed
    r = ctl2.run("restore", out)
    assert r.returncode == 1 and "not empty" in r.stderr, r.stderr
    for name, tls in util.LISTENERS.items():
        ctl2.ok("listener", "set", name, "--port", ports2[name], "--tls", tls, "--enable")
    d2 = Daemon(conninfo, data_dir, site.logs, ports2).start()
    try:
        assert imap_snapshot(ports2, user, pw) == before
        assert util.pop3_messages(ports2, user, pw) == pop_before
        assert ctl2.run("health").returncode == 0
    finally:
        d2.stop()
    assert d2.sanitizer_report() is None


def test_restore_refuses_damaged_backup(site, ctl):
    out = Path(tempfile.mkdtemp(prefix="postern-backup-", dir=site.base)) / "b2"
    assert ctl.run("backup", out).returncode == 0
    with open(out / "postern.dump", "ab") as f:
        f.write(b"x")
    _, _, _, ctl3 = new_site_db(site, "postern_damaged")
    r = ctl3.run("restore", out)
    assert r.returncode == 1 and "does not match the MANIFEST" in r.stderr, r.stderr
    (out / "MANIFEST").unlink()
    r = ctl3.run("restore", out)
    assert r.returncode == 1 and "MANIFEST" in r.stderr, r.stderr
    # the database stayed empty: a good backup still restores into it
    good = out.parent / "b3"
    assert ctl.run("backup", good).returncode == 0
    r = ctl3.run("restore", good)
    assert r.returncode == 0, r.stderr
    shutil.rmtree(out.parent, ignore_errors=True)


class EmbeddedDaemon(Daemon):
    """posternd with its own embedded PostgreSQL (POSTERN_DATABASE_URL unset)."""

    def env(self):
        e = super().env()
        del e["POSTERN_DATABASE_URL"]
        return e


@pytest.mark.timeout(240)
def test_restore_into_embedded_database(daemon, site, ctl, ports):
    """The image's no-database-URL mode: a backup of the external database
    restored by the postern user into a new data directory (posternctl
    starts and stops the embedded cluster itself), then served by posternd
    with that embedded cluster."""
    user, pw = site.new_user("emb")
    sent = []
    for i in range(2):
        _, msg = util.make_msg(f"x@{REMOTE_DOMAIN}", user, subject=f"embedded {i}")
        assert util.mx_send(ports["smtp"], f"x@{REMOTE_DOMAIN}", [user], msg) == {}
        sent.append(msg)
    before = util.pop3_messages(ports, user, pw)
    out = Path(tempfile.mkdtemp(prefix="postern-backup-", dir=site.base)) / "emb"
    assert ctl.run("backup", out).returncode == 0
    data_dir = site.base / "data-embedded"
    data_dir.mkdir(mode=0o750)
    for p in (out.parent, out, data_dir, *out.iterdir()):
        shutil.chown(p, "postern", "postern")
    env = {k: v for k, v in ctl.env.items() if k != "POSTERN_DATABASE_URL"}
    env["POSTERN_DATA_DIR"] = str(data_dir)
    r = subprocess.run(["runuser", "-u", "postern", "--", util.POSTERNCTL, "restore", str(out)],
                       env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    assert (data_dir / "pgdata").is_dir() and (data_dir / "seal.key").exists()
    assert not (data_dir / "pgdata/postmaster.pid").exists(), "cluster left running"
    # as root, the embedded cluster cannot be created (initdb refuses root): a clear sentence
    r = subprocess.run([util.POSTERNCTL, "restore", str(out)],
                       env=dict(env, POSTERN_DATA_DIR=str(site.base / "data-root")),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 3 and "not root" in r.stderr, (r.returncode, r.stderr)

    daemon.stop()	# the restored listener table holds the module daemon's ports
    d = EmbeddedDaemon(None, data_dir, site.logs, ports)
    try:
        d.start(timeout=120)
        assert util.pop3_messages(ports, user, pw) == before
        m = imap_connect(ports, user, pw)
        try:
            m.select("INBOX", readonly=True)
            typ, data = m.uid("SEARCH", "ALL")
            assert len(data[0].split()) == 2, data
        finally:
            m.logout()
        e = dict(env, POSTERN_LISTEN_ADDRESS=HOST)
        r = subprocess.run([util.POSTERNCTL, "health"], env=e, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr
    finally:
        d.stop(timeout=60)
        daemon.start()
    assert d.sanitizer_report() is None
