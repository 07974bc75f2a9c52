"""Differential check of core/mail/mime*.c against Dovecot from Debian: every
message of tests/corpus/mime/*.eml is APPENDed to a private Dovecot (its own
config, base_dir, passwd-file and maildir, IMAP on a free 127.0.0.1 port,
started here and stopped at the end), and Dovecot's FETCH ENVELOPE, BODY and
BODYSTRUCTURE must equal, byte for byte, what build/asan/tools/mime_dump
prints for the same file. Deliberate differences are listed in KNOWN_DIFFS
with the reason.

Run alone: /usr/bin/python3 -m pytest -q tests/integration/test_mime_dovecot.py
As a script (`... test_mime_dovecot.py FILE...`) it prints Dovecot's answers."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(os.environ.get("POSTERN_ROOT") or Path(__file__).resolve().parents[2])
CORPUS = ROOT / "tests/corpus/mime"
DUMP = ROOT / "build/asan/tools/mime_dump"
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
ITEMS = ("ENVELOPE", "BODY", "BODYSTRUCTURE")

# Differences we keep on purpose: (file, item) -> reason. Such a pair is not
# compared (but both sides must still answer).
KNOWN_DIFFS = {
    # Dovecot refuses to store a zero-byte message ("NO Can't save a zero
    # byte message"); we must still describe one, as a 0-octet text/plain.
    ("21_empty.eml", "*"): "Dovecot refuses empty APPEND",
}


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Dovecot:
    """A private Dovecot: started by start(), stopped by stop()."""

    USER = "mimetest"
    PASSWORD = "mimetest-pass"

    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="postern-dovecot-"))
        os.chmod(self.base, 0o755)
        self.port = _free_port()
        self.proc = None

    def start(self):
        run = self.base / "run"
        home = self.base / "home"
        run.mkdir()
        home.mkdir()
        shutil.chown(home, "nobody", "nogroup")
        (self.base / "passwd").write_text(f"{self.USER}:{{PLAIN}}{self.PASSWORD}::::::\n")
        conf = self.base / "dovecot.conf"
        conf.write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {run}
state_dir = {self.base}/state
log_path = {self.base}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:~/Maildir
first_valid_uid = 1
mail_uid = nobody
mail_gid = nogroup
default_login_user = dovenull
default_internal_user = dovecot
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.base}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={home}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
""")
        (self.base / "state").mkdir()
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("dovecot exited: " + self.proc.stderr.read().decode())
                time.sleep(0.1)
        raise RuntimeError("dovecot did not listen")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.base, ignore_errors=True)


class Imap:
    """A raw IMAP client that keeps server strings byte-exact (literals
    included), so the FETCH items can be compared with ours."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.buf = b""
        self.tag = 0
        self._line()		# greeting

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def _line(self):
        """One response line with its literals inlined as {n}\\r\\n<bytes>."""
        out = b""
        while True:
            while b"\r\n" not in self.buf:
                self._fill()
            line, self.buf = self.buf.split(b"\r\n", 1)
            out += line
            m = re.search(rb"\{(\d+)\}$", line)
            if not m:
                return out
            n = int(m.group(1))
            while len(self.buf) < n:
                self._fill()
            out += b"\r\n" + self.buf[:n]
            self.buf = self.buf[n:]

    def command(self, cmd, literal=None):
        self.tag += 1
        tag = b"a%d" % self.tag
        if literal is None:
            self.sock.sendall(tag + b" " + cmd + b"\r\n")
        else:
            self.sock.sendall(tag + b" " + cmd + b" {%d}\r\n" % len(literal))
            cont = self._line()
            if not cont.startswith(b"+"):
                return [], cont
            self.sock.sendall(literal + b"\r\n")
        untagged = []
        while True:
            line = self._line()
            if line.startswith(tag + b" "):
                return untagged, line
            untagged.append(line)


def dovecot_fetch(imap, uid, item):
    untagged, done = imap.command(b"UID FETCH %d (%s)" % (uid, item.encode()))
    assert b" OK " in done, done
    prefix = item.encode() + b" "
    for line in untagged:
        m = re.match(rb"\* \d+ FETCH \((.*)\)$", line, re.S)
        if not m:
            continue
        body = m.group(1)
        # "UID n" may come first or last
        body = re.sub(rb"^UID \d+ ", b"", body)
        body = re.sub(rb" UID \d+$", b"", body)
        if body.startswith(prefix):
            return body[len(prefix):]
    raise AssertionError(f"no {item} in {untagged!r}")


def dovecot_answers(dovecot, paths):
    """{file name: {item: bytes}} from Dovecot, None for a refused APPEND."""
    imap = Imap(dovecot.port)
    _, done = imap.command(b"LOGIN %s %s" % (Dovecot.USER.encode(), Dovecot.PASSWORD.encode()))
    assert b" OK " in done, done
    out = {}
    for path in paths:
        mbox = b"t" + re.sub(rb"[^A-Za-z0-9]", b"_", path.name.encode())
        imap.command(b"CREATE " + mbox)
        _, done = imap.command(b"APPEND " + mbox, path.read_bytes())
        if b" OK " not in done:
            out[path.name] = None
            continue
        _, done = imap.command(b"SELECT " + mbox)
        assert b" OK " in done, done
        out[path.name] = {item: dovecot_fetch(imap, 1, item) for item in ITEMS}
        imap.command(b"CLOSE")
    imap.command(b"LOGOUT")
    return out


def ours(path):
    """{item: bytes} from tools/mime_dump: one item per record, each record
    '<ITEM> <length>\\n<bytes>\\n'."""
    res = subprocess.run([str(DUMP), str(path)], capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    out, data = {}, res.stdout
    while data:
        head, data = data.split(b"\n", 1)
        name, n = head.split(b" ")
        n = int(n)
        out[name.decode()] = data[:n]
        data = data[n + 1:]
    return out


# --- pytest ---

def _corpus():
    return sorted(CORPUS.glob("*.eml"))


@pytest.fixture(autouse=True)
def guard():
    """Overrides the suite's guard: this module needs no posternd or
    PostgreSQL, only Dovecot."""
    yield


@pytest.fixture(scope="module")
def answers():
    if not os.path.exists(DOVECOT):
        pytest.skip("dovecot-imapd is not installed (make deps-test)")
    # make is incremental: this also rebuilds a stale tool
    res = subprocess.run(["make", "-C", str(ROOT), "build/asan/tools/mime_dump"],
                         capture_output=True)
    assert res.returncode == 0 or DUMP.exists(), res.stderr.decode(errors="replace")
    d = Dovecot()
    try:
        d.start()
        yield dovecot_answers(d, _corpus())
    finally:
        d.stop()


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.name)
def test_same_as_dovecot(answers, path):
    mine = ours(path)
    assert set(mine) == set(ITEMS)
    theirs = answers[path.name]
    if theirs is None:
        assert (path.name, "*") in KNOWN_DIFFS, f"Dovecot refused {path.name}"
        return
    for item in ITEMS:
        if (path.name, item) in KNOWN_DIFFS or (path.name, "*") in KNOWN_DIFFS:
            continue
        assert mine[item] == theirs[item], f"{path.name} {item}"


if __name__ == "__main__":
    d = Dovecot()
    try:
        d.start()
        paths = [Path(p) for p in sys.argv[1:]] or _corpus()
        for name, items in dovecot_answers(d, paths).items():
            print("==", name)
            for item, value in (items or {}).items():
                print(item, value.decode("utf-8", "replace"))
    finally:
        d.stop()
