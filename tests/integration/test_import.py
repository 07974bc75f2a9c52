"""posternctl import: from Dovecot (Debian's, started here on loopback ports
with its own self-signed certificate) over IMAPS and STARTTLS, from the
Maildir that Dovecot wrote, and from an mbox file written by Python's
mailbox module. Every folder (hierarchy and a non-ASCII name included),
flag, keyword and internal date must arrive, read back over Postern's IMAP;
repeated runs copy nothing twice and a run after new mail copies only it."""

import imaplib
import mailbox
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import util
from util import DOMAIN, HOST, REMOTE_DOMAIN

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = "olduser"
PASSWORD = "Old-Server-pw1"
# (folder as Dovecot names it, Postern's name, messages: (flags, date))
SEED = [
    ("INBOX", "INBOX", [(r"(\Seen)", "01-Feb-2019 10:11:12 +0000"),
                        (r"(\Flagged $Work)", "15-Jun-2020 23:59:59 +0200"),
                        ("()", "03-Mar-2021 00:00:01 -0500")]),
    ("Work", "Work", [(r"(\Seen \Answered)", "10-Oct-2018 08:00:00 +0000")]),
    ("Work.Reports", "Work/Reports", [(r"(\Draft \Seen project-x)", "11-Nov-2017 11:11:11 +0000")]),
    ("Entw&APw-rfe", "Entw&APw-rfe", [(r"(\Deleted)", "12-Dec-2016 12:12:12 +0000")]),
]


class Dovecot:
    def __init__(self, base: Path):
        self.base = base
        self.imap_port, self.imaps_port = util.free_ports(2)
        self.proc = None
        self.cert = base / "cert.pem"
        self.home = base / "home"

    def start(self):
        b = self.base
        (b / "run").mkdir()
        (b / "state").mkdir()
        self.home.mkdir()
        shutil.chown(self.home, "nobody", "nogroup")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(b / "key.pem"), "-out", str(self.cert)],
                       check=True, capture_output=True)
        (b / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        conf = b / "dovecot.conf"
        conf.write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {b}/run
state_dir = {b}/state
log_path = {b}/dovecot.log
ssl = yes
ssl_cert = <{self.cert}
ssl_key = <{b}/key.pem
disable_plaintext_auth = yes
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
first_valid_uid = 1
mail_uid = nobody
mail_gid = nogroup
default_login_user = dovenull
default_internal_user = dovecot
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {b}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={self.home}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.imaps_port}
    ssl = yes
  }}
}}
""")
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for port in (self.imap_port, self.imaps_port):
            util.wait_for(lambda: self.proc.poll() is not None or util.port_open(port), 20,
                          what="dovecot listening")
            if self.proc.poll() is not None:
                raise RuntimeError("dovecot exited: " + self.proc.stderr.read().decode())

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def client(self):
        m = imaplib.IMAP4_SSL(HOST, self.imaps_port, ssl_context=util.client_ctx(), timeout=30)
        assert m.login(USER, PASSWORD)[0] == "OK"
        return m

    @property
    def maildir(self):
        return self.home / USER / "Maildir"


def msg_for(folder, i):
    return util.make_msg(f"old@{REMOTE_DOMAIN}", f"{USER}@old.test",
                         subject=f"{folder} message {i}",
                         body=f"Hello from {folder} #{i}.\r\nFrom here on, a From_ line.\r\n")[1]


@pytest.fixture(scope="module")
def dovecot(site):
    base = Path(tempfile.mkdtemp(prefix="postern-import-", dir=site.base))
    os.chmod(base, 0o755)	# dovecot's own users read the passwd file
    d = Dovecot(base)
    d.start()
    m = d.client()
    try:
        for folder, _, msgs in SEED:
            if folder != "INBOX":
                assert m.create(folder)[0] == "OK"
            for i, (flags, date) in enumerate(msgs):
                typ, data = m.append(folder, flags, f'"{date}"', msg_for(folder, i))
                assert typ == "OK", data
    finally:
        m.logout()
    yield d
    d.stop()


def snapshot(m, folders):
    """{folder: sorted [(flags, internaldate, body)]} of an imaplib client."""
    out = {}
    for folder in folders:
        typ, data = m.select(f'"{folder}"', readonly=True)
        assert typ == "OK", (folder, data)
        rows = []
        if int(data[0]) > 0:
            typ, data = m.fetch("1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
            assert typ == "OK", data
            for item in data:
                if isinstance(item, tuple):
                    head = item[0].decode()
                    flags = set(re.search(r"FLAGS \(([^)]*)\)", head).group(1).split())
                    flags.discard("\\Recent")
                    date = re.search(r'INTERNALDATE "([^"]+)"', head).group(1)
                    rows.append((sorted(flags), date, item[1]))
        out[folder] = sorted(rows)
    return out


def postern_client(ports, user, pw):
    m = imaplib.IMAP4_SSL(HOST, ports["imaps"], ssl_context=util.client_ctx(), timeout=30)
    assert m.login(user, pw)[0] == "OK"
    return m


def dovecot_snapshot(dovecot):
    m = dovecot.client()
    try:
        return snapshot(m, [f for f, _, _ in SEED])
    finally:
        m.logout()


def postern_snapshot(ports, user, pw):
    m = postern_client(ports, user, pw)
    try:
        return snapshot(m, [p for _, p, _ in SEED])
    finally:
        m.logout()


def rename(snap):
    """Dovecot folder names -> Postern's."""
    names = {f: p for f, p, _ in SEED}
    return {names[k]: v for k, v in snap.items()}


def run_import(ctl, *args, password=PASSWORD):
    return ctl.run("import", *args, input=password + "\n" if password is not None else None,
                   timeout=120)


def rows(stdout):
    return {r[0]: r[1:] for r in (line.split("\t") for line in stdout.splitlines())}


@pytest.mark.timeout(240)
def test_import_imap_every_folder_flag_and_date(daemon, site, ctl, ports, dovecot):
    user, pw = site.new_user("imp")
    args = ["imap", "--host", HOST, "--port", dovecot.imaps_port, "--user", USER,
            "--password-stdin", "--to", user, "--ca-file", dovecot.cert]
    r = run_import(ctl, *args)
    assert r.returncode == 0, r.stderr
    got = rows(r.stdout)
    assert got["INBOX"] == ["INBOX", "3", "0", "0"], got
    assert got["Work.Reports"] == ["Work/Reports", "1", "0", "0"], got
    assert got["Entwürfe"] == ["Entwürfe", "1", "0", "0"], got
    before = postern_snapshot(ports, user, pw)
    assert before == rename(dovecot_snapshot(dovecot))
    m = postern_client(ports, user, pw)
    typ, data = m.list()
    m.logout()
    names = b" ".join(data)
    assert b'"Work/Reports"' in names and b"Entw&APw-rfe" in names, data

    # again: nothing copied twice
    r = run_import(ctl, *args)
    assert r.returncode == 0, r.stderr
    assert rows(r.stdout)["INBOX"] == ["INBOX", "0", "3", "0"], r.stdout
    assert postern_snapshot(ports, user, pw) == before

    # new mail on the old server; resume over STARTTLS on port 143-style listener
    m = dovecot.client()
    assert m.append("INBOX", r"(\Answered)", '"05-May-2022 05:05:05 +0000"',
                    msg_for("INBOX", 99))[0] == "OK"
    m.logout()
    args = ["imap", "--host", HOST, "--port", dovecot.imap_port, "--tls", "starttls", "--user",
            USER, "--password-stdin", "--to", user, "--ca-file", dovecot.cert]
    r = run_import(ctl, *args)
    assert r.returncode == 0, r.stderr
    assert rows(r.stdout)["INBOX"] == ["INBOX", "1", "3", "0"], r.stdout
    assert postern_snapshot(ports, user, pw) == rename(dovecot_snapshot(dovecot))


def test_import_imap_errors(site, ctl, dovecot):
    user, _ = site.new_user("imp")
    base = ["imap", "--host", HOST, "--port", dovecot.imaps_port, "--user", USER,
            "--password-stdin", "--ca-file", dovecot.cert]
    r = run_import(ctl, *base, "--to", user, password="wrong-password")
    assert r.returncode == 1 and "LOGIN refused" in r.stderr, r.stderr
    r = run_import(ctl, *base, "--to", f"nobody@{DOMAIN}")
    assert r.returncode == 1 and "does not exist" in r.stderr, r.stderr
    # the certificate is not trusted without --ca-file
    r = run_import(ctl, "imap", "--host", HOST, "--port", dovecot.imaps_port, "--user", USER,
                   "--password-stdin", "--to", user)
    assert r.returncode == 3 and "certificate" in r.stderr, r.stderr
    r = run_import(ctl, "imap", "--host", HOST, "--port", util.free_port(), "--user", USER,
                   "--password-stdin", "--to", user)
    assert r.returncode == 3 and "cannot connect" in r.stderr, r.stderr
    assert ctl.run("import", "imap", "--host", HOST, "--to", user).returncode == 2


@pytest.mark.timeout(180)
def test_import_dovecot_maildir(daemon, site, ctl, ports, dovecot):
    user, pw = site.new_user("imp")
    copy = Path(tempfile.mkdtemp(prefix="maildir-", dir=site.base)) / "Maildir"
    shutil.copytree(dovecot.maildir, copy)
    r = ctl.run("import", "maildir", copy, "--to", user)
    assert r.returncode == 0, r.stderr
    got = rows(r.stdout)
    assert got["INBOX"][:2] == ["INBOX", str(len(os.listdir(copy / "cur")) +
                                             len(os.listdir(copy / "new")))], got
    assert got["Work.Reports"][0] == "Work/Reports", got
    assert postern_snapshot(ports, user, pw) == rename(dovecot_snapshot(dovecot))
    r = ctl.run("import", "maildir", copy, "--to", user)
    assert r.returncode == 0 and rows(r.stdout)["INBOX"][1] == "0", r.stdout
    assert postern_snapshot(ports, user, pw) == rename(dovecot_snapshot(dovecot))


def test_import_mbox(daemon, site, ctl, ports):
    user, pw = site.new_user("imp")
    path = Path(tempfile.mkdtemp(prefix="mbox-", dir=site.base)) / "old.mbox"
    box = mailbox.mbox(str(path))
    expected = []
    for i, (flags, imap_flags) in enumerate([("RO", ["\\Seen"]), ("OAF", ["\\Answered",
                                              "\\Flagged"]), ("", [])]):
        raw = msg_for("mbox", i)
        msg = mailbox.mboxMessage(raw)
        msg.set_flags(flags)
        msg.set_from("old@remote.test", time.gmtime(1600000000 + i * 86400))
        box.add(msg)
        date = time.strftime("%d-%b-%Y %H:%M:%S +0000", time.gmtime(1600000000 + i * 86400))
        expected.append((sorted(imap_flags), date, raw))
    box.flush()
    box.close()
    assert b">From here" in path.read_bytes()	# the body line was escaped
    r = ctl.run("import", "mbox", path, "--to", user)
    assert r.returncode == 0, r.stderr
    assert rows(r.stdout)["old.mbox"] == ["INBOX", "3", "0", "0"], r.stdout
    m = postern_client(ports, user, pw)
    try:
        assert snapshot(m, ["INBOX"])["INBOX"] == sorted(expected)
    finally:
        m.logout()
    r = ctl.run("import", "mbox", path, "--to", user)
    assert rows(r.stdout)["old.mbox"] == ["INBOX", "0", "3", "0"], r.stdout
