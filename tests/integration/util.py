"""Helpers for Postern's integration tests: the throwaway PostgreSQL cluster,
the posternd process, posternctl, raw line clients for byte-exact SMTP and
POP3 dialogs, and small wrappers around smtplib/poplib.

Python 3.11 standard library only (plus pytest in conftest.py)."""

import email.utils
import itertools
import os
import poplib
import pwd
import re
import secrets
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(os.environ.get("POSTERN_ROOT") or Path(__file__).resolve().parents[2])
POSTERND = os.environ.get("POSTERN_BIN") or str(ROOT / "build/asan/posternd")
POSTERNCTL = os.environ.get("POSTERN_CTL") or str(ROOT / "build/posternctl")

HOST = "127.0.0.1"
HOSTNAME = "mail.example.test"
DOMAIN = "example.test"
CATCHALL_DOMAIN = "catchall.test"
REMOTE_DOMAIN = "remote.test"

# The panel's first admin (created by the first posternd on an empty admins table).
ADMIN_USER = "admin"
ADMIN_PASSWORD = "Admin-Test-pw1"
METRICS_TOKEN = "metrics-test-token-0123456789"

# The listeners the tests configure, with the TLS mode each one keeps.
LISTENERS = {
    "smtp": "starttls",
    "submission": "starttls",
    "smtps": "implicit",
    "submission-alt": "starttls",
    "pop3": "starttls",
    "pop3s": "implicit",
    "imap": "starttls",
    "imaps": "implicit",
}
DISABLED_LISTENERS = ()

# poplib refuses reply lines over 2048 octets; messages may carry longer ones.
poplib._MAXLINE = 1 << 20

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer",
                   "SUMMARY: UndefinedBehaviorSanitizer", "AddressSanitizer:DEADLYSIGNAL")


# --------------------------------------------------------------------------
# limits.h


def limits():
    """The LIMIT_* constants of core/config/limits.h as ints."""
    out = {}
    text = (ROOT / "core/config/limits.h").read_text()
    for m in re.finditer(r"^#define\s+(LIMIT_\w+)\s+([^/\n]+)", text, re.M):
        expr = m.group(2).strip()
        if re.fullmatch(r"[\d\s*+\-()]+", expr):
            out[m.group(1)] = int(eval(expr, {"__builtins__": {}}))  # digits and operators only
    return out


LIMITS = limits()


# --------------------------------------------------------------------------
# processes


def is_root():
    return os.geteuid() == 0


def free_port(host=HOST):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def free_ports(n, host=HOST):
    """n distinct free ports (held open together so they differ)."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((host, 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def port_open(port, host=HOST, timeout=1.0):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(pred, timeout, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def pg_bindir():
    base = Path("/usr/lib/postgresql")
    versions = sorted((p for p in base.iterdir() if (p / "bin/postgres").exists()),
                      key=lambda p: int(p.name) if p.name.isdigit() else 0)
    if not versions:
        raise RuntimeError("no PostgreSQL under /usr/lib/postgresql")
    return versions[-1] / "bin"


class Postgres:
    """A throwaway cluster: unix socket only, run as user postgres when root."""

    def __init__(self, base: Path):
        self.bindir = pg_bindir()
        self.dir = base / "pg"
        self.data = self.dir / "data"
        self.sock = self.dir / "sock"
        self.log = self.dir / "postgres.log"
        self.dir.mkdir(mode=0o755)
        self.sock.mkdir(mode=0o755)
        if is_root():
            for p in (self.dir, self.sock):
                shutil.chown(p, "postgres", "postgres")

    def _as_pg(self, cmd):
        cmd = [str(c) for c in cmd]
        return ["runuser", "-u", "postgres", "--"] + cmd if is_root() else cmd

    def run(self, cmd, check=True, **kw):
        return subprocess.run(self._as_pg(cmd), check=check, capture_output=True, text=True,
                              timeout=kw.pop("timeout", 120), **kw)

    def init(self):
        self.run([self.bindir / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--no-sync", "--locale=C"])

    def start(self):
        opts = f"-k {self.sock} -c listen_addresses='' -c fsync=on -c max_connections=200"
        self.run([self.bindir / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60",
                  "-o", opts, "start"])

    def stop(self, mode="fast"):
        return self.run([self.bindir / "pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60",
                         "stop"], check=False)

    def running(self):
        r = self.run([self.bindir / "pg_ctl", "-D", self.data, "status"], check=False)
        return r.returncode == 0

    def createdb(self, name):
        self.run([self.bindir / "createdb", "-h", self.sock, "-U", "postgres", name])

    @property
    def conninfo(self):
        return f"host={self.sock} dbname=postern user=postgres"

    def psql(self, sql):
        r = self.run([self.bindir / "psql", "-h", self.sock, "-U", "postgres", "-d", "postern",
                      "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql])
        return r.stdout

    def log_tail(self, n=60):
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


class Ctl:
    """posternctl against the test database."""

    def __init__(self, conninfo, data_dir):
        self.env = dict(os.environ)
        self.env.update({
            "POSTERN_DATABASE_URL": conninfo,
            "POSTERN_DATA_DIR": str(data_dir),
            "POSTERN_SQL_DIR": str(ROOT / "sql"),
            "POSTERN_HOSTNAME": HOSTNAME,
            "ASAN_OPTIONS": "detect_leaks=0",
        })

    def run(self, *args, input=None, env=None, timeout=60):
        e = dict(self.env)
        if env:
            e.update(env)
        return subprocess.run([POSTERNCTL] + [str(a) for a in args], input=input, env=e,
                              capture_output=True, text=True, timeout=timeout)

    def ok(self, *args, input=None):
        r = self.run(*args, input=input)
        if r.returncode != 0:
            raise AssertionError(f"posternctl {' '.join(map(str, args))} -> {r.returncode}\n"
                                 f"stdout: {r.stdout}\nstderr: {r.stderr}")
        return r.stdout

    def rows(self, *args):
        """Output rows split on tabs."""
        return [line.split("\t") for line in self.ok(*args).splitlines() if line != ""]

    def add_user(self, address, password):
        self.ok("user", "add", address, input=password + "\n")

    def queue(self):
        return self.rows("queue", "list")

    def listeners(self):
        return {r[0]: r for r in self.rows("listener", "list")}


class Daemon:
    """One posternd process; restartable."""

    def __init__(self, conninfo, data_dir: Path, log_dir: Path, ports):
        self.conninfo = conninfo
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.ports = ports
        self.proc = None
        self.log_path = None
        self.starts = 0
        self.expect_dead = False
        self.all_logs = []
        self.checked = {}	# log path -> offset up to which reports were returned
        # Extra environment. Outbound delivery is off unless a module turns
        # it on (test_outbound.py, with its own DNS server and remote MX):
        # elsewhere queued mail must stay queued for the tests to see.
        self.extra_env = {"POSTERN_QUEUE_RUNNERS": "0"}

    def env(self):
        e = dict(os.environ)
        e.update({
            "POSTERN_DATABASE_URL": self.conninfo,
            "POSTERN_DATA_DIR": str(self.data_dir),
            "POSTERN_HOSTNAME": HOSTNAME,
            "POSTERN_LISTEN_ADDRESS": HOST,
            "POSTERN_LOG_LEVEL": "debug",
            "POSTERN_SQL_DIR": str(ROOT / "sql"),
            "POSTERN_ADMIN_LISTEN": f"{HOST}:{self.ports['admin']}",
            # a Daemon built with its own ports (test_ops, test_upgrade)
            # may have no HTTPS panel port: the panel's HTTPS is then off
            "POSTERN_ADMIN_TLS_LISTEN": (f"{HOST}:{self.ports['admin_tls']}"
                                         if "admin_tls" in self.ports else "off"),
            "POSTERN_METRICS_TOKEN": METRICS_TOKEN,
            "POSTERN_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0",
            "UBSAN_OPTIONS": "print_stacktrace=1",
        })
        e.update(self.extra_env)
        return e

    def start(self, wait=True, timeout=60):
        assert self.proc is None or self.proc.poll() is not None, "posternd already running"
        self.starts += 1
        self.log_path = self.log_dir / f"posternd-{os.getpid()}-{id(self)}-{self.starts}.log"
        self.all_logs.append(self.log_path)
        logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen([POSTERND], env=self.env(), stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        logf.close()
        self.expect_dead = False
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=60, ports=None):
        """Every given (default: SMTP) port answers with a greeting."""
        ports = ports or [self.ports["smtp"]]
        deadline = time.monotonic() + timeout
        for port in ports:
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError(f"posternd exited with {self.proc.returncode} during "
                                         f"start-up\n{self.log_tail()}")
                try:
                    with socket.create_connection((HOST, port), timeout=2) as s:
                        s.settimeout(10)
                        if s.recv(1):
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"posternd not answering on {port} after {timeout}s\n"
                                         f"{self.log_tail()}")
                time.sleep(0.1)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Signals and waits; returns the exit status (negative = signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.expect_dead = True
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError(f"posternd did not exit within {timeout}s of {sig!r}")
        return self.proc.returncode

    def kill9(self):
        self.expect_dead = True
        self.proc.kill()
        self.proc.wait(10)

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except (OSError, AttributeError):
            return ""

    def log_tail(self, n=80):
        return "\n".join(self.log_text().splitlines()[-n:])

    def sanitizer_report(self):
        """The first sanitizer report not returned before, in any log of
        this daemon (restarts included), or None."""
        for path in self.all_logs:
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            start = self.checked.get(path, 0)
            hits = [i for i in (text.find(m, start) for m in SANITIZER_MARKS) if i >= 0]
            if hits:
                i = min(hits)
                self.checked[path] = len(text)
                return f"{path}:\n" + text[max(0, i - 200):i + 6000]
        return None


# --------------------------------------------------------------------------
# TLS and raw line clients


def client_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Raw:
    """A byte-exact line client (SMTP or POP3) over TCP, optionally TLS."""

    def __init__(self, port, tls=False, source=None, timeout=15, host=HOST):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if source:
            self.sock.bind((source, 0))
        self.sock.connect((host, port))
        self.buf = b""
        if tls:
            self.sock = client_ctx().wrap_socket(self.sock, server_hostname=HOSTNAME)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def settimeout(self, t):
        self.sock.settimeout(t)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed by server; buffered: %r" % self.buf[:200])
        self.buf += chunk

    def readline(self):
        """One line including its CRLF."""
        while b"\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\n") + 1
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def read_until_eof(self, timeout=10):
        """Everything up to EOF (raises socket.timeout if it does not come)."""
        self.sock.settimeout(timeout)
        out = self.buf
        self.buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out

    def pending(self, wait=0.3):
        """Whatever the server sends within wait seconds (no EOF needed)."""
        self.sock.settimeout(wait)
        out = self.buf
        self.buf = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                out += chunk
        except (socket.timeout, TimeoutError, ssl.SSLWantReadError):
            pass
        finally:
            self.sock.settimeout(15)
        return out

    # --- SMTP ---

    def reply(self):
        """(code, [text lines]) of one possibly multi-line SMTP reply."""
        lines = []
        while True:
            line = self.readline()
            s = line.decode("utf-8", "replace").rstrip("\r\n")
            assert line.endswith(b"\r\n"), f"reply line without CRLF: {line!r}"
            assert re.match(r"^\d{3}[ -]", s) or re.fullmatch(r"\d{3}", s), f"bad reply line {s!r}"
            lines.append(s[4:])
            if len(s) == 3 or s[3] == " ":
                return int(s[:3]), lines

    def cmd(self, line):
        self.send(line + "\r\n" if isinstance(line, str) else line + b"\r\n")
        return self.reply()

    def greeting(self):
        code, text = self.reply()
        assert code == 220, (code, text)
        return text

    def ehlo(self, name="client.test"):
        code, lines = self.cmd(f"EHLO {name}")
        assert code == 250, (code, lines)
        return [ln.upper() for ln in lines[1:]]

    def starttls(self, verb="STARTTLS", ok=None):
        if verb == "STARTTLS":
            code, text = self.cmd(verb)
            assert code == 220, (code, text)
        else:
            line = self.cmd_pop(verb)
            assert line.startswith("+OK"), line
        self.upgrade()

    def upgrade(self):
        assert self.buf == b"", f"plaintext after the TLS go-ahead: {self.buf!r}"
        self.sock = client_ctx().wrap_socket(self.sock, server_hostname=HOSTNAME)

    def auth_plain(self, user, password):
        tok = base64_plain(user, password)
        return self.cmd(f"AUTH PLAIN {tok}")

    # --- POP3 ---

    def pop_line(self):
        return self.readline().decode("utf-8", "replace").rstrip("\r\n")

    def cmd_pop(self, line):
        self.send(line + "\r\n")
        return self.pop_line()

    def pop_multi(self):
        """Lines of a multi-line POP3 response body, dot-unstuffed, as bytes."""
        lines = []
        while True:
            line = self.readline()
            assert line.endswith(b"\r\n"), f"POP3 line without CRLF: {line!r}"
            line = line[:-2]
            if line == b".":
                return lines
            if line.startswith(b"."):
                line = line[1:]
            lines.append(line)


def base64_plain(user, password, authzid=""):
    import base64
    raw = f"{authzid}\0{user}\0{password}".encode()
    return base64.b64encode(raw).decode()


# --------------------------------------------------------------------------
# messages


_seq = itertools.count(1)


def token(prefix="m"):
    return f"{prefix}{next(_seq)}-{secrets.token_hex(4)}"


def make_msg(sender, to, subject=None, body=None, msgid=None, extra_headers=()):
    """A CRLF message (bytes) with a unique Message-ID; returns (msgid, bytes)."""
    msgid = msgid or f"<{token()}@client.test>"
    subject = subject or f"test {msgid}"
    to = to if isinstance(to, str) else ", ".join(to)
    hdr = [f"From: <{sender}>", f"To: {to}", f"Subject: {subject}",
           f"Date: {email.utils.formatdate()}", f"Message-ID: {msgid}"]
    hdr.extend(extra_headers)
    if body is None:
        body = f"Hello,\r\nthis is {msgid}.\r\n"
    if isinstance(body, str):
        body = body.encode()
    return msgid, ("\r\n".join(hdr) + "\r\n\r\n").encode() + body


def message_id(msg: bytes):
    m = re.search(rb"(?im)^Message-ID:\s*(<[^>\r\n]+>)", msg)
    return m.group(1).decode() if m else None


def split_headers(msg: bytes):
    """Header block (bytes, without the blank line) and body of a message."""
    i = msg.find(b"\r\n\r\n")
    if i < 0:
        return msg, b""
    return msg[:i + 2], msg[i + 4:]


def header_fields(msg: bytes):
    """[(name, unfolded value)] in order."""
    head, _ = split_headers(msg)
    fields = []
    for line in head.split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1][1] += b" " + line.strip()
        else:
            name, _, value = line.partition(b":")
            fields.append([name.decode("latin-1"), value.strip()])
    return [(n, v.decode("utf-8", "replace")) for n, v in fields]


def strip_trace(stored: bytes, original: bytes):
    """Asserts stored == trace header lines (Return-Path, Received) + original,
    returns the trace block."""
    assert stored.endswith(original), (
        "stored message does not end with the sent message\n"
        f"sent tail:   {original[-300:]!r}\nstored tail: {stored[-300:]!r}")
    trace = stored[:len(stored) - len(original)]
    assert trace.endswith(b"\r\n") or trace == b"", trace
    names = [n.lower() for n, _ in header_fields(trace + b"\r\n")]
    assert set(names) <= {"return-path", "received"}, f"unexpected prepended headers: {names}"
    return trace


# --------------------------------------------------------------------------
# SMTP and POP3 through the standard library


def smtp_submit(port, user, password, sender, rcpts, msg, mode="starttls", mail_options=()):
    """Sends with smtplib; returns the sendmail() result (refused dict)."""
    if mode == "ssl":
        s = smtplib.SMTP_SSL(HOST, port, context=client_ctx(), timeout=30)
    else:
        s = smtplib.SMTP(HOST, port, timeout=30)
    try:
        s.ehlo("client.test")
        if mode == "starttls":
            s.starttls(context=client_ctx())
            s.ehlo("client.test")
        if user:
            s.login(user, password)
        return s.sendmail(sender, rcpts, msg, mail_options=list(mail_options))
    finally:
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            s.close()


def mx_send(port, sender, rcpts, msg, mail_options=()):
    return smtp_submit(port, None, None, sender, rcpts, msg, mode="plain",
                       mail_options=mail_options)


def pop3_open(ports, user, password, mode="ssl"):
    if mode == "ssl":
        p = poplib.POP3_SSL(HOST, ports["pop3s"], context=client_ctx(), timeout=30)
    else:
        p = poplib.POP3(HOST, ports["pop3"], timeout=30)
        p.stls(context=client_ctx())
    p.user(user)
    p.pass_(password)
    return p


def pop3_messages(ports, user, password, delete=False):
    """Every message of the maildrop as bytes (CRLF lines), in order."""
    p = pop3_open(ports, user, password)
    try:
        out = []
        count, _ = p.stat()
        for i in range(1, count + 1):
            _, lines, _ = p.retr(i)
            out.append(b"\r\n".join(lines) + b"\r\n")
            if delete:
                p.dele(i)
        p.quit()
        return out
    finally:
        p.close()


def pop3_raw_messages(ports, user, password):
    """Every message as the server sends it over POP3S, read with the raw
    client: each line must end in CRLF (poplib would hide a bare LF), and
    each one as long as LIST says."""
    with Raw(ports["pop3s"], tls=True) as c:
        assert c.pop_line().startswith("+OK")
        assert c.cmd_pop(f"USER {user}").startswith("+OK")
        line = c.cmd_pop(f"PASS {password}")
        assert line.startswith("+OK"), line
        line = c.cmd_pop("STAT")
        count = int(line.split()[1])
        out = []
        for i in range(1, count + 1):
            size = int(c.cmd_pop(f"LIST {i}").split()[2])
            line = c.cmd_pop(f"RETR {i}")
            assert line.startswith("+OK"), line
            out.append(b"".join(ln + b"\r\n" for ln in c.pop_multi()))
            # The stored octets (LIST) are what RETR sends: nothing was
            # stored with bare LF/CR that the POP3 output then repaired.
            assert len(out[-1]) == size, (i, size, len(out[-1]))
        assert c.cmd_pop("QUIT").startswith("+OK")
        return out


def pop3_ids(ports, user, password):
    """Message-IDs of the maildrop (TOP 0)."""
    p = pop3_open(ports, user, password)
    try:
        ids = []
        count, _ = p.stat()
        for i in range(1, count + 1):
            _, lines, _ = p.top(i, 0)
            ids.append(message_id(b"\r\n".join(lines) + b"\r\n"))
        p.quit()
        return ids
    finally:
        p.close()


def wait_messages(ports, user, password, n, timeout=10):
    """Waits until the maildrop holds at least n messages; returns them."""
    msgs = []

    def enough():
        nonlocal msgs
        msgs = pop3_messages(ports, user, password)
        return len(msgs) >= n
    try:
        wait_for(enough, timeout, interval=0.3, what=f"{n} message(s) for {user}")
    except AssertionError:
        raise AssertionError(f"{user} has {len(msgs)} message(s), expected {n}")
    return msgs


def run_threads(n, fn, *args):
    """Runs fn(i, *args) in n threads; returns results (re-raises the first error)."""
    results = [None] * n
    errors = []

    def wrap(i):
        try:
            results[i] = fn(i, *args)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=wrap, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    if errors:
        raise errors[0]
    return results


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
