"""Outbound delivery (core/queue/): queue runners, the SMTP client, retries,
DSNs and posternctl queue. A dnsmasq started here answers for *.test
(`local=/test/`: unknown names get NXDOMAIN) and routes each test domain to
its own loopback address; remote MX hosts listen there on one port
(POSTERN_SMTP_OUT_PORT): a Postfix from Debian for the real STARTTLS
delivery, and small Python SMTP servers (below) for the behaviours Postfix
cannot be told to show on demand (4xx, 5xx, slow, down)."""

import base64
import email
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

import util
from util import DOMAIN, HOST, Daemon

# (domain, MX host, address, behaviour of the server there; None = no server)
ROUTES = {
    "ok.test": ("mx.ok.test", "127.0.0.2", "ok"),
    "temp.test": ("mx.temp.test", "127.0.0.3", "temp"),
    "perm.test": ("mx.perm.test", "127.0.0.4", "perm"),
    "down.test": ("mx.down.test", "127.0.0.5", None),
    "slow.test": ("mx.slow.test", "127.0.0.6", "slow"),
    "late.test": ("mx.late.test", "127.0.0.7", None),
    "pf.test": ("mx.pf.test", "127.0.0.8", "postfix"),
}
# MTA-STS (RFC 8461): policies served over HTTPS at STS_IP by a test CA's
# certificate; the MX of stsok.test has a certificate of that CA, the
# others self-signed ones. domain -> (mode, mx patterns)
STS_IP = "127.0.0.10"
STS = {
    "stsok.test": ("enforce", ["mx.stsok.test"]),
    "stsbad.test": ("enforce", ["mx.stsbad.test"]),
    "ststest.test": ("testing", ["*.ststest.test"]),
    "stsmx.test": ("enforce", ["mx.elsewhere.test"]),
}
ROUTES.update({
    "stsok.test": ("mx.stsok.test", "127.0.0.11", "ca"),
    "stsbad.test": ("mx.stsbad.test", "127.0.0.12", "ok"),
    "ststest.test": ("mx.ststest.test", "127.0.0.13", "ok"),
    "stsmx.test": ("mx.stsmx.test", "127.0.0.14", "ok"),
    "badtls.test": ("mx.badtls.test", "127.0.0.15", "badtls"),
})
# DANE (RFC 7672): dane.test is a DNSSEC-signed zone (dnssec_zone.py) whose
# DNSKEY is posternd's trust anchor; good.dane.test publishes the SHA-256
# of its MX certificate's key (DANE-EE), bad.dane.test a wrong one.
DANE = {"good.dane.test": ("mx.good.dane.test", "127.0.0.16"),
        "bad.dane.test": ("mx.bad.dane.test", "127.0.0.17")}
RELAY_IP = "127.0.0.9"
RELAY2_IP = "127.0.0.18"
RELAY_USER, RELAY_PASSWORD = "relayuser", "relay-Secret-1"
LIFETIME = 25		# POSTERN_QUEUE_LIFETIME for this module, seconds
DELAY_NOTICE = 6	# POSTERN_QUEUE_DELAY_NOTICE


# --------------------------------------------------------------------------
# a scriptable remote MX


class MX:
    """A threaded SMTP server on ip:port. EHLO offers STARTTLS (with the
    given certificate), PIPELINING, SIZE, 8BITMIME and CHUNKING. Records
    every transaction: dict(tls, mail, rcpts, data, bdat)."""

    def __init__(self, ip, port, cert, key, behaviour):
        self.behaviour = behaviour
        self.transactions = []
        self.auths = []
        self.sessions = 0
        self.rcpt_calls = 0
        self.temp_left = 2		# "temp": RCPT answers 451 this many times
        self.slow_s = 0		# "slow": delay before the reply to the final dot
        self.lock = threading.Lock()
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, port))
        self.sock.listen(16)
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.stopped = True
        self.sock.close()

    def _accept(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        with self.lock:
            self.sessions += 1
        s = _Session(self, conn)
        try:
            s.run()
        except (OSError, ssl.SSLError, EOFError):
            pass
        finally:
            try:
                s.conn.close()
            except OSError:
                pass


class _Session:
    def __init__(self, mx, conn):
        self.mx = mx
        self.conn = conn
        self.conn.settimeout(60)
        self.buf = b""
        self.tls = False
        self.authed = False

    def send(self, text):
        self.conn.sendall(text.encode() + b"\r\n")

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.conn.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        i = self.buf.index(b"\r\n")
        out, self.buf = self.buf[:i], self.buf[i + 2:]
        return out.decode("utf-8", "replace")

    def exact(self, n):
        while len(self.buf) < n:
            chunk = self.conn.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def run(self):
        mx = self.mx
        if mx.behaviour == "implicit":	# TLS from the first byte (port 465 style)
            self.conn = mx.ctx.wrap_socket(self.conn, server_side=True)
            self.tls = True
        self.send("220 mx.remote ESMTP test server")
        tx = None
        while True:
            cmd = self.line()
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO":
                ext = ["250-mx.remote", "250-PIPELINING", "250-SIZE 10000000", "250-8BITMIME"]
                if not self.tls:
                    ext.append("250-STARTTLS")
                elif mx.behaviour == "relay":
                    ext.append("250-AUTH PLAIN")
                ext.append("250 CHUNKING")
                self.send("\r\n".join(ext))
            elif verb == "STARTTLS" and mx.behaviour == "badtls":
                self.send("220 go ahead")
                self.conn.sendall(b"this is not a TLS record\r\n")
                return
            elif verb == "STARTTLS":
                self.send("220 go ahead")
                assert self.buf == b""
                self.conn = mx.ctx.wrap_socket(self.conn, server_side=True)
                self.tls = True
            elif verb == "AUTH" and mx.behaviour == "relay" and self.tls:
                raw = base64.b64decode(cmd.split()[2])
                mx.auths.append(raw)
                if raw == b"\0" + RELAY_USER.encode() + b"\0" + RELAY_PASSWORD.encode():
                    self.authed = True
                    self.send("235 2.7.0 ok")
                else:
                    self.send("535 5.7.8 bad credentials")
            elif verb == "MAIL" and mx.behaviour == "relay" and not self.authed:
                self.send("530 5.7.0 authentication required")
            elif verb == "MAIL":
                tx = {"tls": self.tls, "mail": cmd, "rcpts": [], "data": None, "bdat": False}
                self.send("250 2.1.0 ok")
            elif verb == "RCPT":
                rcpt = cmd[cmd.index("<") + 1:cmd.rindex(">")]
                with mx.lock:
                    mx.rcpt_calls += 1
                    temp = mx.behaviour == "temp" and mx.temp_left > 0
                    if temp:
                        mx.temp_left -= 1
                if temp:
                    self.send("451 4.3.2 try again later")
                elif mx.behaviour == "perm" or rcpt.startswith("nobody"):
                    self.send("550 5.1.1 <%s>: no such user here" % rcpt)
                else:
                    tx["rcpts"].append(rcpt)
                    self.send("250 2.1.5 ok")
            elif verb == "DATA":
                self.send("354 go on")
                lines = []
                while True:
                    ln = self.line()
                    if ln == ".":
                        break
                    lines.append(ln[1:] if ln.startswith(".") else ln)
                tx["data"] = ("\r\n".join(lines) + "\r\n").encode()
                self._finish(tx)
            elif verb == "BDAT":
                parts = cmd.split()
                tx["data"] = (tx["data"] or b"") + self.exact(int(parts[1]))
                tx["bdat"] = True
                if len(parts) > 2 and parts[2].upper() == "LAST":
                    self._finish(tx)
                else:
                    self.send("250 2.0.0 chunk ok")
            elif verb == "RSET":
                tx = None
                self.send("250 ok")
            elif verb == "QUIT":
                self.send("221 bye")
                return
            else:
                self.send("502 5.5.1 unknown")

    def _finish(self, tx):
        if self.mx.slow_s:
            time.sleep(self.mx.slow_s)
        with self.mx.lock:
            self.mx.transactions.append(tx)
        self.send("250 2.0.0 queued as X")


# --------------------------------------------------------------------------
# a test CA and the MTA-STS policy server


def make_ca(base: Path):
    ca_key, ca = base / "ca.key", base / "ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=Postern Test CA", "-keyout", str(ca_key), "-out", str(ca),
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
                   check=True, capture_output=True)
    return ca, ca_key


def ca_cert(base: Path, ca, ca_key, name, sans):
    key, csr, crt = base / f"{name}.key", base / f"{name}.csr", base / f"{name}.crt"
    ext = base / f"{name}.ext"
    ext.write_text("subjectAltName=" + ",".join(f"DNS:{n}" for n in sans) + "\n")
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={sans[0]}",
                    "-keyout", str(key), "-out", str(csr)], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey",
                    str(ca_key), "-CAcreateserial", "-days", "2", "-out", str(crt),
                    "-extfile", str(ext)], check=True, capture_output=True)
    return crt, key


class PolicyServer:
    """HTTPS on ip:port serving /.well-known/mta-sts.txt per Host header."""

    def __init__(self, ip, port, cert, key, policies):
        import http.server

        fetches = self.fetches = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                host = (self.headers.get("Host") or "").split(":")[0]
                domain = host[len("mta-sts."):]
                fetches.append((host, self.path))
                if self.path != "/.well-known/mta-sts.txt" or domain not in policies:
                    self.send_error(404)
                    return
                mode, mx = policies[domain]
                body = ("version: STSv1\r\nmode: %s\r\n%smax_age: 86400\r\n" % (
                    mode, "".join(f"mx: {m}\r\n" for m in mx))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer((ip, port), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def dane_zone(cert, mx_port, zone_port):
    """The signed zone dane.test with DANE-EE records, served on zone_port."""
    import hashlib
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    import dnssec_zone
    spki = x509.load_pem_x509_certificate(Path(cert).read_bytes()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    good = hashlib.sha256(spki).hexdigest()
    records = []
    for domain, (host, ip) in DANE.items():
        label, mxlabel = domain[:-len(".dane.test")], host[:-len(".dane.test")]
        digest = good if domain.startswith("good.") else "00" * 32
        records += [(label, "MX", f"10 {host}."), (mxlabel, "A", ip),
                    (f"_{mx_port}._tcp.{mxlabel}", "TLSA", f"3 1 1 {digest}")]
    zone = dnssec_zone.SignedZone("dane.test.", records)
    return zone, dnssec_zone.serve(zone, "127.0.0.1", zone_port)


# --------------------------------------------------------------------------
# Postfix from Debian as a remote MX


class Postfix:
    """A Postfix instance with its own config, queue and maildir under base,
    listening on ip:port with STARTTLS (smtpd_tls_security_level = may);
    every recipient of its virtual domain lands in one Maildir."""

    def __init__(self, base: Path, domain, host, ip, port, cert, key):
        self.base = base
        self.conf = base / "conf"
        self.mail = base / "mail"
        self.maillog = base / "maillog"
        for d in (base, base / "queue", self.conf):
            d.mkdir(mode=0o755, parents=True, exist_ok=True)
        for d in (base / "data", self.mail):
            d.mkdir(mode=0o755)
            shutil.chown(d, "postfix", "postfix")
        uid, gid = util.pwd.getpwnam("postfix")[2:4]
        (self.conf / "main.cf").write_text(f"""compatibility_level = 3.6
queue_directory = {base}/queue
data_directory = {base}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = {host}
mydomain = {domain}
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_security_level = may
smtpd_tls_received_header = yes
smtpd_tls_loglevel = 1
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {self.mail}
virtual_mailbox_maps = static:box/
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
maillog_file = {self.maillog}
maillog_file_prefixes = {base}
alias_maps =
alias_database =
""")
        master = Path("/etc/postfix/master.cf").read_text().splitlines()
        master = [f"{ip}:{port} inet n - n - - smtpd" if ln.startswith("smtp ") and " inet " in ln
                  else ln for ln in master]
        (self.conf / "master.cf").write_text("\n".join(master) + "\n")
        r = subprocess.run(["postfix", "-c", str(self.conf), "start"], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, (r.stdout, r.stderr, self.log())
        util.wait_for(lambda: util.port_open(port, host=ip), 20, what="Postfix listening")

    def log(self):
        try:
            return self.maillog.read_text(errors="replace")
        except OSError:
            return ""

    def messages(self):
        return [p.read_bytes() for p in sorted((self.mail / "box" / "new").glob("*"))] \
            if (self.mail / "box" / "new").is_dir() else []

    def stop(self):
        subprocess.run(["postfix", "-c", str(self.conf), "stop"], capture_output=True, timeout=60)


# --------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def world(site):
    """dnsmasq, TLS material, the remote servers, posternd with delivery on."""
    base = site.base / "outbound"
    base.mkdir()
    dns_port, mx_port, sts_port, zone_port = util.free_ports(4)
    cert, key = base / "mx.crt", base / "mx.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=mx.remote", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    conf = [f"port={dns_port}", "listen-address=127.0.0.1", "bind-interfaces", "no-resolv",
            "no-hosts", "local=/test/", "mx-host=nullmx.test,.,0",
            "host-record=implicit.test,127.0.0.2"]
    for domain, (host, ip, _) in ROUTES.items():
        conf += [f"mx-host={domain},{host},10", f"host-record={host},{ip}"]
    for domain in STS:
        conf += [f'txt-record=_mta-sts.{domain},"v=STSv1; id=20261122a;"',
                 f"host-record=mta-sts.{domain},{STS_IP}"]
    ca, ca_key = make_ca(base)
    sts_cert = ca_cert(base, ca, ca_key, "sts", [f"mta-sts.{d}" for d in STS])
    mx_ca_cert = ca_cert(base, ca, ca_key, "mxca", ["mx.stsok.test"])
    policy = PolicyServer(STS_IP, sts_port, *sts_cert, STS)
    conf += [f"server=/dane.test/127.0.0.1#{zone_port}"]
    (base / "dnsmasq.conf").write_text("\n".join(conf) + "\n")
    zone, zone_servers = dane_zone(cert, mx_port, zone_port)
    (base / "dane.anchor").write_text(zone.anchor_text() + "\n")
    dnsmasq = subprocess.Popen(["dnsmasq", "-k", "-C", str(base / "dnsmasq.conf"),
                                f"--pid-file={base}/dnsmasq.pid", "--log-facility=-"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    servers = {}
    for domain, (host, ip, behaviour) in ROUTES.items():
        if behaviour in ("ok", "temp", "perm", "slow", "badtls"):
            servers[domain] = MX(ip, mx_port, cert, key, behaviour)
        elif behaviour == "ca":
            servers[domain] = MX(ip, mx_port, *mx_ca_cert, "ok")
    for domain, (host, ip) in DANE.items():
        servers[domain] = MX(ip, mx_port, cert, key, "ok")
    pf = ROUTES["pf.test"]
    postfix = Postfix(base / "postfix", "pf.test", pf[0], pf[1], mx_port, cert, key)
    d = Daemon(site.pg.conninfo, site.data_dir, site.logs, site.ports)
    d.extra_env = {
        "POSTERN_QUEUE_RUNNERS": "2",
        "POSTERN_DNS_SERVER": f"127.0.0.1@{dns_port}",
        "POSTERN_SMTP_OUT_PORT": str(mx_port),
        "POSTERN_QUEUE_RETRY": "1",
        "POSTERN_QUEUE_LIFETIME": str(LIFETIME),
        "POSTERN_QUEUE_DELAY_NOTICE": str(DELAY_NOTICE),
        "POSTERN_MTA_STS_PORT": str(sts_port),
        "POSTERN_TLS_CA_FILE": str(ca),
        "POSTERN_DNS_TRUST_ANCHOR": str(base / "dane.anchor"),
    }
    w = type("World", (), {})()
    w.base, w.mx_port, w.cert, w.key, w.servers, w.daemon = base, mx_port, cert, key, servers, d
    w.postfix = postfix
    w.policy = policy
    try:
        d.start()
        site.current = d
        yield w
    finally:
        site.current = None
        if d.alive():
            d.stop()
        for s in servers.values():
            s.close()
        postfix.stop()
        policy.close()
        for z in zone_servers:
            z.shutdown()
            z.server_close()
        dnsmasq.terminate()
        dnsmasq.wait(10)
        report = d.sanitizer_report()
        if report:
            pytest.fail("sanitizer report in posternd log:\n" + report)


def sender(site):
    """A fresh local account to send from (its INBOX receives the DSNs)."""
    return site.new_user("out")


def submit(site, user, rcpts, **kw):
    msgid, msg = util.make_msg(user[0], rcpts, **kw)
    assert util.smtp_submit(site.ports["submission"], user[0], user[1], user[0], rcpts, msg) == {}
    return msgid, msg


def queue_rows(ctl, rcpt):
    return [r for r in ctl.queue() if r[2] == rcpt]


def error_row(ctl, rcpt):
    """The queue row of rcpt once an attempt has recorded its error."""
    return util.wait_for(lambda: [r for r in queue_rows(ctl, rcpt) if r[6]], 15, interval=0.2,
                         what=f"an error recorded for {rcpt}")[0]


def assert_refused(world, site, ctl, domain, *expect):
    """A message to domain is not sent: the entry waits with an error
    naming every string of expect, a second attempt (1 s back-off) sends
    nothing either; the entry is then dropped. Returns its row."""
    user = sender(site)
    rcpt = f"{util.token('no')}@{domain}"
    submit(site, user, [rcpt])
    row = error_row(ctl, rcpt)
    assert all(e in row[6] for e in expect), row
    time.sleep(1.5)
    assert not any(rcpt in t["rcpts"] for t in world.servers[domain].transactions)
    assert ctl.ok("queue", "drop", row[0]).strip() == "1"
    return row


def wait_gone(ctl, rcpt, timeout=30):
    util.wait_for(lambda: not queue_rows(ctl, rcpt), timeout, interval=0.3,
                  what=f"queue entry for {rcpt} to leave")


def dsns(site, user, msgid):
    """DSNs in user's INBOX about the message msgid, parsed."""
    out = []
    for raw in util.pop3_messages(site.ports, *user):
        m = email.message_from_bytes(raw)
        if m.get_content_type() == "multipart/report" and msgid.encode() in raw:
            out.append(m)
    return out


def dsn_fields(m):
    """(action, status, diagnostic) per recipient of a DSN."""
    parts = list(m.walk())
    ds = [p for p in parts if p.get_content_type() == "message/delivery-status"]
    assert len(ds) == 1, [p.get_content_type() for p in parts]
    blocks = ds[0].get_payload()
    out = []
    for b in blocks[1:]:
        out.append((b["Final-Recipient"], b["Action"], b["Status"], b["Diagnostic-Code"]))
    return out


# --------------------------------------------------------------------------
# tests


def test_delivery_starttls_pipelining(world, site, ctl):
    """One message to three recipients of one domain: one transaction over
    TLS, MAIL with SIZE, three RCPTs, the body byte-exact (BDAT: CHUNKING
    is offered), and the queue empty afterwards."""
    mx = world.servers["ok.test"]
    user = sender(site)
    rcpts = [f"{util.token('r')}@ok.test" for _ in range(3)]
    msgid, msg = submit(site, user, rcpts)
    for r in rcpts:
        wait_gone(ctl, r)
    txs = [t for t in mx.transactions if set(t["rcpts"]) & set(rcpts)]
    assert len(txs) == 1, txs
    t = txs[0]
    assert t["tls"] and t["bdat"] and sorted(t["rcpts"]) == sorted(rcpts)
    assert f"<{user[0]}>" in t["mail"] and "SIZE=" in t["mail"]
    # the stored remote copy is Received + the message
    assert t["data"].endswith(msg), t["data"][-200:]
    assert t["data"].startswith(b"Received: ")
    assert dsns(site, user, msgid) == []


def test_one_transaction_per_message_under_concurrency(world, site, ctl):
    """Two runners woken at once by many messages to one domain never split
    one message's recipients over two connections (their claims race for
    the same rows: the advisory lock plus a waiting take keep the rows of
    a domain together)."""
    mx = world.servers["ok.test"]
    user = sender(site)
    msgs = [[f"{util.token('c')}@ok.test" for _ in range(3)] for _ in range(24)]

    def send(rcpts):
        submit(site, user, rcpts)
    threads = [threading.Thread(target=send, args=(r,)) for r in msgs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for rcpts in msgs:
        for r in rcpts:
            wait_gone(ctl, r)
    for rcpts in msgs:
        txs = [t for t in mx.transactions if set(t["rcpts"]) & set(rcpts)]
        assert len(txs) == 1 and sorted(txs[0]["rcpts"]) == sorted(rcpts), txs


def test_delivery_to_postfix(world, site, ctl):
    """The real peer: Postfix accepts over STARTTLS (its Received field says
    ESMTPS and names the cipher), with BDAT (Postfix offers CHUNKING), one
    Maildir file per recipient, the message byte-exact after its trace."""
    pf = world.postfix
    user = sender(site)
    rcpts = [f"{util.token('pf')}@pf.test" for _ in range(2)]
    msgid, msg = submit(site, user, rcpts)
    for r in rcpts:
        wait_gone(ctl, r)
    got = util.wait_for(lambda: [m for m in pf.messages() if msgid.encode() in m] if
                        len([m for m in pf.messages() if msgid.encode() in m]) == 2 else None,
                        20, what="both copies in Postfix's Maildir")
    for m in got:
        m = m.replace(b"\n", b"\r\n")
        assert m.endswith(msg), m[-300:]
        head = m[:m.index(b"\r\n\r\n")].decode()
        first = head.split("\r\nReceived: ")[1] if "\r\nReceived: " in head else head
        assert "by mx.pf.test (Postfix) with ESMTPS" in first and "using TLS" in first, head
    log = pf.log()
    assert "Anonymous TLS connection established from localhost[127.0.0.1]" in log, log[-2000:]
    assert "starttls=1" in log and "bdat=1" in log, log[-2000:]
    assert dsns(site, user, msgid) == []


def test_dkim_signed_on_the_way_out(world, site, ctl):
    """A sender whose domain has DKIM keys (posternctl dkim generate, helper
    mailauth): the copy Postfix stores carries both signatures (rsa-sha256,
    ed25519-sha256) and python3-dkim verifies them against the published
    TXT records."""
    import dkim
    dom = f"signer{os.getpid() % 1000}.test"
    ctl.ok("domain", "add", dom)
    rows = ctl.rows("dkim", "generate", dom, "--type", "both")
    records = {r[4] + ".": r[5] for r in rows}
    user = (f"sig@{dom}", "sig-Secret-pw1")
    site.add_user(*user)
    rcpt = f"{util.token('dk')}@pf.test"
    msgid, msg = submit(site, user, [rcpt])
    wait_gone(ctl, rcpt)
    got = util.wait_for(lambda: [m for m in world.postfix.messages() if msgid.encode() in m], 20,
                        what="the copy in Postfix's Maildir")
    stored = got[0].replace(b"\n", b"\r\n")
    assert stored.count(b"DKIM-Signature:") == 2

    def dnsfunc(name, timeout=5):
        n = name.decode() if isinstance(name, bytes) else name
        rec = records.get(n) or records.get(n.rstrip(".") + ".")
        return rec.encode() if rec else None
    d = dkim.DKIM(stored)
    assert d.verify(idx=0, dnsfunc=dnsfunc) and d.verify(idx=1, dnsfunc=dnsfunc)


def burst_each_once(world, site, ctl, n):
    """n messages to ok.test submitted at once from n threads: each
    recipient must get exactly one copy."""
    mx = world.servers["ok.test"]
    user = sender(site)
    rcpts = [f"{util.token('b')}@ok.test" for _ in range(n)]
    threads = [threading.Thread(target=submit, args=(site, user, [r])) for r in rcpts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in rcpts:
        wait_gone(ctl, r)
    got = [r for t in mx.transactions for r in t["rcpts"]]
    assert all(got.count(r) == 1 for r in rcpts), [r for r in rcpts if got.count(r) != 1]


def test_runners_never_claim_one_row_twice(world, site, ctl):
    """Two runners woken together by each NOTIFY, 30 messages submitted
    in a burst: every recipient gets exactly one copy (SKIP LOCKED and the
    due test re-checked on the locked row)."""
    burst_each_once(world, site, ctl, 30)


def test_failed_handshake_falls_back_to_plain_text(world, site, ctl):
    """Opportunistic TLS (RFC 7435): a server whose STARTTLS handshake
    breaks gets the message on a second connection without STARTTLS."""
    mx = world.servers["badtls.test"]
    user = sender(site)
    rcpt = f"{util.token('bt')}@badtls.test"
    submit(site, user, [rcpt])
    wait_gone(ctl, rcpt)
    t = [t for t in mx.transactions if rcpt in t["rcpts"]]
    assert len(t) == 1 and not t[0]["tls"], t
    assert "TLS handshake failed; again in plain text" in world.daemon.log_text()


def test_two_nodes_share_the_queue(world, site, ctl):
    """A second posternd on the same database (its runners on; its mail
    listeners may or may not bind): four runners on two nodes, 20
    messages in a burst, every recipient gets exactly one copy."""
    ports = dict(site.ports)
    ports["admin"] = util.free_port()
    node2 = Daemon(site.pg.conninfo, site.data_dir, site.logs, ports)
    node2.extra_env = dict(world.daemon.extra_env)
    node2.start(wait=False)
    try:
        util.wait_for(lambda: "queue runner(s)" in node2.log_text() or not node2.alive(), 30,
                      what="node 2's queue runners")
        assert node2.alive(), node2.log_tail()
        burst_each_once(world, site, ctl, 20)
    finally:
        node2.stop()
        report = node2.sanitizer_report()
        assert report is None, report


def test_throughput_figure(world, site, ctl):
    """200 distinct messages put in the queue at once (one statement, as a
    burst of submissions would) to one domain: all delivered, each once;
    the rate is printed (pytest -s) as a figure, not judged."""
    mx = world.servers["ok.test"]
    tag = util.token("tp")
    n = 200
    t0 = time.monotonic()
    site.pg.psql(
        "WITH b AS (INSERT INTO blobs (sha256, size, body) SELECT"
        f" sha256(convert_to('{tag}' || g, 'UTF8')), 60, convert_to('Subject: {tag} ' || g ||"
        " E'\\r\\n\\r\\nthroughput body\\r\\n', 'UTF8')"
        f" FROM generate_series(1, {n}) g RETURNING id, body)"
        " INSERT INTO queue (blob_id, sender, recipient) SELECT id, 'tp@example.test',"
        f" '{tag}-' || id || '@ok.test' FROM b")
    util.wait_for(lambda: site.pg.psql(
        f"SELECT count(*) FROM queue WHERE recipient LIKE '{tag}-%'").strip() == "0", 120,
        interval=0.2, what="the queue to drain")
    dt = time.monotonic() - t0
    got = [r for t in mx.transactions for r in t["rcpts"] if r.startswith(tag)]
    assert len(got) == n and len(set(got)) == n
    print(f"\noutbound: {n} messages delivered over STARTTLS in {dt:.2f} s "
          f"({n / dt:.0f} messages/s, 2 runners, {util.POSTERND})")


def test_implicit_mx_and_dot_lines(world, site, ctl):
    """No MX record: the domain's own address (RFC 5321 5.1). A body with
    lines starting with a dot survives byte-exact."""
    mx = world.servers["ok.test"]
    user = sender(site)
    rcpt = f"{util.token('i')}@implicit.test"
    body = b".leading dot\r\n..two dots\r\n.\r\nend\r\n"
    msgid, msg = submit(site, user, [rcpt], body=body)
    wait_gone(ctl, rcpt)
    t = [t for t in mx.transactions if rcpt in t["rcpts"]][0]
    assert t["data"].endswith(msg)


def test_retry_after_4xx(world, site, ctl):
    """451 on RCPT twice: the entry stays with the reply as last error, then
    is delivered on a later attempt (first retry after 1 s, doubling)."""
    mx = world.servers["temp.test"]
    mx.temp_left = 2
    user = sender(site)
    rcpt = f"{util.token('t')}@temp.test"
    submit(site, user, [rcpt])
    row = util.wait_for(lambda: [r for r in queue_rows(ctl, rcpt) if "451" in r[6]], 20,
                        interval=0.2, what="a 451 recorded")[0]
    assert row[3] in ("queued", "delivering") and "4.3.2" in row[6], row
    wait_gone(ctl, rcpt, timeout=20)
    assert any(rcpt in t["rcpts"] for t in mx.transactions)
    assert mx.temp_left == 0


def test_bounce_on_5xx(world, site, ctl):
    """550 on RCPT: no retry, an RFC 3464 DSN to the local sender with the
    remote reply and the original headers."""
    user = sender(site)
    rcpt = f"{util.token('p')}@perm.test"
    msgid, _ = submit(site, user, [rcpt])
    wait_gone(ctl, rcpt)
    got = util.wait_for(lambda: dsns(site, user, msgid), 15, what="DSN")
    assert len(got) == 1
    m = got[0]
    assert m["From"].startswith("Mail Delivery System") and m["Auto-Submitted"] == "auto-replied"
    (final, action, status, diag), = dsn_fields(m)
    assert final == f"rfc822; {rcpt}" and action == "failed" and status == "5.1.1", (final, diag)
    assert diag.startswith("smtp; 550 5.1.1")
    hdrs = [p for p in m.walk() if p.get_content_type() == "text/rfc822-headers"]
    assert len(hdrs) == 1 and msgid in hdrs[0].get_payload()


def test_per_recipient_results(world, site, ctl):
    """One message, two recipients at one MX: the accepted one is delivered,
    the refused one (550 on its RCPT) bounces alone in the DSN."""
    mx = world.servers["ok.test"]
    user = sender(site)
    good, bad = f"{util.token('g')}@ok.test", f"nobody-{util.token('n')}@ok.test"
    msgid, _ = submit(site, user, [good, bad])
    wait_gone(ctl, good)
    wait_gone(ctl, bad)
    t = [t for t in mx.transactions if good in t["rcpts"]]
    assert len(t) == 1 and t[0]["rcpts"] == [good]
    got = util.wait_for(lambda: dsns(site, user, msgid), 15, what="DSN")
    fields = dsn_fields(got[0])
    assert [(f[0], f[1], f[2]) for f in fields] == [(f"rfc822; {bad}", "failed", "5.1.1")]


def test_null_mx_bounces_at_once(world, site, ctl):
    user = sender(site)
    rcpt = f"{util.token('n')}@nullmx.test"
    msgid, _ = submit(site, user, [rcpt])
    wait_gone(ctl, rcpt, timeout=15)
    got = util.wait_for(lambda: dsns(site, user, msgid), 15, what="DSN")
    (final, action, status, diag), = dsn_fields(got[0])
    assert action == "failed" and status == "5.1.10", diag


def test_unknown_domain_bounces(world, site, ctl):
    user = sender(site)
    rcpt = f"{util.token('x')}@no-such-domain.test"
    msgid, _ = submit(site, user, [rcpt])
    wait_gone(ctl, rcpt, timeout=15)
    got = util.wait_for(lambda: dsns(site, user, msgid), 15, what="DSN")
    assert dsn_fields(got[0])[0][2] == "5.1.2"


def test_null_sender_never_bounced(world, site, ctl):
    """A bounce of a bounce is never sent: <> to a 5xx recipient (through a
    forwarding alias) just leaves the queue."""
    src = f"{util.token('fw')}@{DOMAIN}"
    rcpt = f"{util.token('p')}@perm.test"
    ctl.ok("alias", "add", src, rcpt)
    msgid, msg = util.make_msg("someone@elsewhere.example", src)
    assert util.mx_send(site.ports["smtp"], "", [src], msg) == {}
    rows = queue_rows(ctl, rcpt)
    wait_gone(ctl, rcpt)
    log = world.daemon.log_text()
    assert any(rcpt in ln and "bounced" in ln for ln in log.splitlines()), rows


def test_down_then_retry_and_queue_commands(world, site, ctl):
    """No server at the MX: the entry waits with the connect error; hold
    keeps it back, release and retry make it due, and once a server
    listens it is delivered. drop removes another one without a DSN."""
    user = sender(site)
    ip = ROUTES["late.test"][1]
    rcpt = f"{util.token('d')}@late.test"
    msgid, _ = submit(site, user, [rcpt])
    row = error_row(ctl, rcpt)
    assert "connect" in row[6] and row[3] in ("queued", "delivering"), row
    qid = row[0]
    util.wait_for(lambda: ctl.run("queue", "hold", qid).returncode == 0, 10, interval=0.2,
                  what="hold")
    assert queue_rows(ctl, rcpt)[0][3] == "held"
    r = ctl.run("queue", "release", "999999999")
    assert r.returncode == 1 and "999999999" in r.stderr
    mx = MX(ip, world.mx_port, world.cert, world.key, "ok")
    try:
        time.sleep(2.5)		# held: not delivered although the server is up
        assert queue_rows(ctl, rcpt)[0][3] == "held"
        assert not any(rcpt in t["rcpts"] for t in mx.transactions)
        assert ctl.ok("queue", "release", qid).strip() == "1"
        wait_gone(ctl, rcpt, timeout=20)
        assert any(rcpt in t["rcpts"] for t in mx.transactions)
    finally:
        mx.close()
    # drop: no delivery, no DSN
    rcpt2 = f"{util.token('d')}@down.test"
    msgid2, _ = submit(site, user, [rcpt2])
    qid2 = util.wait_for(lambda: queue_rows(ctl, rcpt2), 10, what="queued")[0][0]
    assert ctl.ok("queue", "drop", qid2).strip() == "1"
    assert queue_rows(ctl, rcpt2) == []
    assert ctl.run("queue", "drop", qid2).returncode == 1
    assert ctl.ok("queue", "retry").strip().isdigit()
    assert dsns(site, user, msgid2) == []


@pytest.mark.timeout(120)
def test_delay_notice_then_expiry_bounce(world, site, ctl):
    """A host that never answers: a "delayed" DSN once after
    POSTERN_QUEUE_DELAY_NOTICE, then a "failed" one (4.4.7) when the
    lifetime runs out, and the entry is gone."""
    user = sender(site)
    rcpt = f"{util.token('e')}@down.test"
    msgid, _ = submit(site, user, [rcpt])
    got = util.wait_for(lambda: [m for m in dsns(site, user, msgid)
                                 if dsn_fields(m)[0][1] == "failed"], LIFETIME + 30,
                        interval=1, what="expiry DSN")
    wait_gone(ctl, rcpt, timeout=10)
    (final, action, status, diag), = dsn_fields(got[0])
    assert status == "4.4.7" and "expired" in diag, diag
    actions = sorted(dsn_fields(m)[0][1] for m in dsns(site, user, msgid))
    assert actions == ["delayed", "failed"], actions


def test_mta_sts_enforce_valid_certificate(world, site, ctl):
    """enforce + an MX certificate from a trusted CA naming the MX host:
    delivered over verified TLS; the policy is fetched once and cached."""
    user = sender(site)
    rcpt = f"{util.token('sts')}@stsok.test"
    submit(site, user, [rcpt])
    wait_gone(ctl, rcpt)
    t = [t for t in world.servers["stsok.test"].transactions if rcpt in t["rcpts"]]
    assert len(t) == 1 and t[0]["tls"]
    assert ("mta-sts.stsok.test", "/.well-known/mta-sts.txt") in world.policy.fetches
    row = site.pg.psql("SELECT policy_id, mode, mx FROM mta_sts_policies"
                       " WHERE domain = 'stsok.test'").strip()
    assert row == "20261122a|enforce|mx.stsok.test", row
    n = len(world.policy.fetches)
    rcpt2 = f"{util.token('sts')}@stsok.test"
    submit(site, user, [rcpt2])
    wait_gone(ctl, rcpt2)
    assert len(world.policy.fetches) == n		# same id, fresh: from the cache


def test_mta_sts_enforce_refuses_bad_certificate(world, site, ctl):
    """enforce + a self-signed MX certificate: nothing is sent, the entry
    waits with the verification error (no fallback to unchecked TLS)."""
    assert_refused(world, site, ctl, "stsbad.test", "self-signed certificate", "MTA-STS")


def test_mta_sts_mx_not_in_policy(world, site, ctl):
    row = assert_refused(world, site, ctl, "stsmx.test", "MTA-STS")
    assert row[6].startswith("4.7.5"), row


def test_mta_sts_testing_delivers_anyway(world, site, ctl):
    """testing: the same bad certificate is only reported (RFC 8461 5)."""
    user = sender(site)
    rcpt = f"{util.token('tst')}@ststest.test"
    submit(site, user, [rcpt])
    wait_gone(ctl, rcpt)
    assert any(rcpt in t["rcpts"] and t["tls"] for t in world.servers["ststest.test"].transactions)
    assert "MTA-STS policy testing" in world.daemon.log_text()


def test_dane_ee_match_delivers(world, site, ctl):
    """A DNSSEC-secure MX with a DANE-EE(3) SPKI SHA-256 TLSA record that
    matches the server's key: delivered over TLS checked by DANE."""
    user = sender(site)
    rcpt = f"{util.token('dn')}@good.dane.test"
    submit(site, user, [rcpt])
    wait_gone(ctl, rcpt)
    t = [t for t in world.servers["good.dane.test"].transactions if rcpt in t["rcpts"]]
    assert len(t) == 1 and t[0]["tls"]
    assert "mx.good.dane.test: 1 TLSA record(s): DANE" in world.daemon.log_text()


def test_dane_mismatch_refuses(world, site, ctl):
    """The same server behind a TLSA record that does not match: nothing
    is sent (no plain-text fallback), the entry waits with the DANE error."""
    assert_refused(world, site, ctl, "bad.dane.test", "no matching DANE TLSA records")


def test_relay_smarthost(world, site, ctl):
    """posternctl relay set: every domain goes to the smarthost, over
    STARTTLS with AUTH PLAIN (the password sealed in the database, never
    shown); relay show; relay clear returns to MX routing."""
    relay = MX(RELAY_IP, world.mx_port, world.cert, world.key, "relay")
    user = sender(site)
    try:
        r = ctl.run("relay", "set", RELAY_IP, "--port", world.mx_port, "--tls", "starttls",
                    "--user", RELAY_USER, input=RELAY_PASSWORD + "\n")
        assert r.returncode == 0, r.stderr
        assert ctl.rows("relay", "show") == [[RELAY_IP, str(world.mx_port), "starttls",
                                             RELAY_USER]]
        stored = site.pg.psql("SELECT string_agg(value, ' ') FROM outbound_settings")
        assert RELAY_PASSWORD not in stored
        # null MX and unknown domains are not looked up: the relay decides
        rcpts = [f"{util.token('s')}@nullmx.test", f"{util.token('s')}@perm.test"]
        msgid, msg = submit(site, user, rcpts)
        for rc in rcpts:
            wait_gone(ctl, rc)
        got = [t for t in relay.transactions if msgid.encode() in t["data"]]
        assert len(got) == 2 and all(t["tls"] for t in got), got
        assert sorted(rc for t in got for rc in t["rcpts"]) == sorted(rcpts)
        assert relay.auths and relay.auths[0] == \
            b"\0" + RELAY_USER.encode() + b"\0" + RELAY_PASSWORD.encode()
        assert ctl.run("relay", "set", RELAY_IP, "--tls", "none", "--user", "x",
                       input="pw\n").returncode == 1
        assert ctl.run("relay", "set", RELAY_IP, "--tls", "sometimes").returncode == 1
    finally:
        ctl.ok("relay", "clear")
        relay.close()
    assert ctl.rows("relay", "show") == []
    # implicit TLS, no AUTH
    relay = MX(RELAY2_IP, world.mx_port, world.cert, world.key, "implicit")
    try:
        ctl.ok("relay", "set", RELAY2_IP, "--port", world.mx_port, "--tls", "implicit")
        rcpt = f"{util.token('s')}@late.test"
        submit(site, user, [rcpt])
        wait_gone(ctl, rcpt)
        assert [t["tls"] for t in relay.transactions if rcpt in t["rcpts"]] == [True]
    finally:
        ctl.ok("relay", "clear")
        relay.close()
    rcpt = f"{util.token('s')}@ok.test"
    submit(site, user, [rcpt])
    wait_gone(ctl, rcpt)
    assert any(rcpt in t["rcpts"] for t in world.servers["ok.test"].transactions)


@pytest.mark.timeout(120)
def test_kill9_during_delivery_redelivers(world, site, ctl):
    """posternd killed while the remote holds the final reply: after a
    restart every message is delivered at least once and none is lost."""
    mx = world.servers["slow.test"]
    user = sender(site)
    rcpts = [f"{util.token('k')}@slow.test" for _ in range(4)]
    mx.slow_s = 3
    for r in rcpts:
        submit(site, user, [r])
    d = world.daemon
    util.wait_for(lambda: any(row[3] == "delivering" for r in rcpts for row in queue_rows(ctl, r)),
                  15, interval=0.1, what="a delivery in progress")
    time.sleep(0.5)
    d.kill9()
    mx.slow_s = 0
    d.start()
    for r in rcpts:
        wait_gone(ctl, r, timeout=30)
    got = [r for t in mx.transactions for r in t["rcpts"]]
    for r in rcpts:
        assert got.count(r) >= 1, (r, got)
