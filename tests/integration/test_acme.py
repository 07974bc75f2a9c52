"""ACME (RFC 8555) against Debian's pebble on loopback: posternd issues a
certificate for a test hostname with HTTP-01 and with TLS-ALPN-01 (RFC 8737),
stores it and hot-reloads it, and IMAPS serves it by SNI with a chain that
verifies against pebble's root. A failed challenge shows the CA's error.

pebble's own HTTPS certificate is made here with openssl (Debian's package
does not ship the minica root); its VA resolves names through
pebble-challtestsrv's DNS (every A query -> 127.0.0.1, no AAAA) and connects
to the test's free HTTP-01 and TLS-ALPN-01 ports (httpPort/tlsPort)."""

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

import util
from util import HOST, Daemon

PEBBLE = shutil.which("pebble") or "/usr/bin/pebble"
CHALLTESTSRV = shutil.which("pebble-challtestsrv") or "/usr/bin/pebble-challtestsrv"


def run(cmd, **kw):
    subprocess.run(cmd, check=True, capture_output=True, **kw)


class Pebble:
    """pebble + pebble-challtestsrv (DNS only) on free loopback ports."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="postern-pebble-"))
        os.chmod(self.dir, 0o755)	# posternd may run as the postern user: reads ca.pem
        (self.acme_port, self.mgmt_port, self.dns_port, self.dns_mgmt_port, self.http01_port,
         self.tls_port) = util.free_ports(6)
        self.procs = []

    def make_certs(self):
        d = self.dir
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "2", "-subj", "/CN=postern test ACME server CA",
             "-keyout", d / "ca.key", "-out", d / "ca.pem"])
        run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-subj", "/CN=localhost", "-keyout", d / "key.pem", "-out", d / "req.pem"])
        (d / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        run(["openssl", "x509", "-req", "-in", d / "req.pem", "-CA", d / "ca.pem",
             "-CAkey", d / "ca.key", "-CAcreateserial", "-days", "2",
             "-extfile", d / "ext.cnf", "-out", d / "cert.pem"])
        os.chmod(d / "ca.pem", 0o644)

    def start(self):
        self.make_certs()
        self.spawn()
        return self

    def spawn(self):
        cfg = {"pebble": {
            "listenAddress": f"{HOST}:{self.acme_port}",
            "managementListenAddress": f"{HOST}:{self.mgmt_port}",
            "certificate": str(self.dir / "cert.pem"),
            "privateKey": str(self.dir / "key.pem"),
            "httpPort": self.http01_port,
            "tlsPort": self.tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }}
        (self.dir / "pebble.json").write_text(json.dumps(cfg))
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_VA_ALWAYS_VALID="0",
                   PEBBLE_AUTHZREUSE="0")
        self._spawn("challtestsrv", [CHALLTESTSRV, "-dns01", f"{HOST}:{self.dns_port}",
                                     "-http01", "", "-https01", "", "-tlsalpn01", "",
                                     "-management", f"{HOST}:{self.dns_mgmt_port}",
                                     "-defaultIPv4", HOST, "-defaultIPv6", ""], env)
        self._spawn("pebble", [PEBBLE, "-config", str(self.dir / "pebble.json"),
                               "-dnsserver", f"{HOST}:{self.dns_port}"], env)
        util.wait_for(lambda: util.port_open(self.acme_port) and util.port_open(self.dns_port),
                      30, what="pebble listening")

    def restart(self):
        """A new pebble on the same ports: it has forgotten every account."""
        self.terminate()
        util.wait_for(lambda: not util.port_open(self.acme_port), 10, what="pebble stopped")
        self.spawn()

    def _spawn(self, name, cmd, env):
        log = open(self.dir / f"{name}.log", "wb")
        self.procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, start_new_session=True))
        log.close()

    def dns_add_a(self, hostname, address):
        """Makes challtestsrv answer address for hostname."""
        req = urllib.request.Request(
            f"http://{HOST}:{self.dns_mgmt_port}/add-a",
            data=json.dumps({"host": hostname + ".", "addresses": [address]}).encode(),
            method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200

    @property
    def directory(self):
        return f"https://{HOST}:{self.acme_port}/dir"

    def root_pem(self):
        """The root pebble issues under (created at its start)."""
        ctx = ssl.create_default_context(cafile=str(self.dir / "ca.pem"))
        with urllib.request.urlopen(f"https://{HOST}:{self.mgmt_port}/roots/0", context=ctx,
                                    timeout=10) as r:
            return r.read().decode()

    def log(self):
        return "\n".join((self.dir / f"{n}.log").read_text(errors="replace")[-3000:]
                         for n in ("pebble", "challtestsrv") if (self.dir / f"{n}.log").exists())

    def stop(self):
        self.terminate()
        shutil.rmtree(self.dir, ignore_errors=True)

    def terminate(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        self.procs = []


class AcmeDaemon(Daemon):
    """The module's posternd, pointed at pebble."""

    def __init__(self, site, pebble):
        super().__init__(site.pg.conninfo, site.data_dir, site.logs, site.ports)
        self.pebble = pebble

    def env(self):
        e = super().env()
        e.update({
            "POSTERN_ACME_DIRECTORY": self.pebble.directory,
            "POSTERN_ACME_CA_FILE": str(self.pebble.dir / "ca.pem"),
            "POSTERN_ACME_HTTP_PORT": str(self.pebble.http01_port),
            "POSTERN_ACME_TLS_PORT": str(self.pebble.tls_port),
            "POSTERN_ACME_EMAIL": "postmaster@example.test",
        })
        return e


@pytest.fixture(scope="module")
def pebble():
    p = Pebble().start()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def acme_daemon(site, pebble):
    d = AcmeDaemon(site, pebble)
    d.start()
    site.current = d
    yield d
    site.current = None
    if d.alive():
        d.stop()
    report = d.sanitizer_report()
    if report:
        pytest.fail("sanitizer report in posternd log:\n" + report)


def imaps_cert(port, hostname, cafile=None):
    """The certificate IMAPS presents for SNI hostname (DER), and whether
    it verified against cafile (hostname checked too)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile=cafile)
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((HOST, port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname=hostname) as t:
            greeting = t.recv(200)
            assert greeting.startswith(b"* OK"), greeting
            return t.getpeercert(binary_form=True)


def der_names(der):
    """subjectAltName DNS names of a DER certificate (via openssl)."""
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-ext",
                          "subjectAltName"], input=der, capture_output=True, check=True).stdout
    return [w.strip().removeprefix("DNS:") for w in out.decode().splitlines()[-1].split(",")]


def issue(ctl, hostname, challenge):
    r = ctl.run("cert", "acme", hostname, "--challenge", challenge, timeout=200)
    return r


def served_after_reload(port, hostname, cafile, timeout=20):
    """Waits until IMAPS serves a certificate for hostname that verifies."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return imaps_cert(port, hostname, cafile)
        except ssl.SSLCertVerificationError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("challenge", ["http-01", "tls-alpn-01"])
def test_issue_and_serve_by_sni(site, ctl, ports, pebble, acme_daemon, challenge):
    hostname = f"{challenge.replace('-', '')}.acme.example.test"
    # before: IMAPS has no certificate for this name (the default one)
    assert hostname not in der_names(imaps_cert(ports["imaps"], hostname))

    r = issue(ctl, hostname, challenge)
    assert r.returncode == 0, (r.stdout, r.stderr, pebble.log())
    row = r.stdout.strip().split("\t")
    assert row[0] == hostname and row[1] == "valid" and row[2].endswith("Z"), r.stdout
    assert "certificate installed" in r.stderr	# progress, polled by posternctl
    assert f"{hostname}: validating ({challenge})" in acme_daemon.log_text()

    cafile = pebble.dir / f"root-{challenge}.pem"
    cafile.write_text(pebble.root_pem())
    der = served_after_reload(ports["imaps"], hostname, str(cafile))
    assert der_names(der) == [hostname]
    # the default certificate still answers other names
    assert hostname not in der_names(imaps_cert(ports["imaps"], "other.example.test"))

    status = [row for row in ctl.rows("cert", "acme-status") if row[1] == hostname]
    assert status[0][2] == challenge and status[0][3] == "valid"
    assert status[0][4] == "certificate installed"
    # the private key is sealed at rest, the account key too
    rows = site.pg.psql("SELECT key_pem_sealed FROM certificates "
                        f"WHERE hostnames = ARRAY['{hostname}']")
    assert rows.strip() and "PRIVATE KEY" not in rows
    acct = site.pg.psql("SELECT account_url, key_pem_sealed FROM acme_accounts")
    assert pebble.directory.split("/dir")[0] in acct and "PRIVATE KEY" not in acct


def serial(der):
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-serial"], input=der,
                         capture_output=True, check=True).stdout
    return out.decode().strip()


@pytest.mark.timeout(120)
def test_renewal_30_days_before_expiry(site, ctl, ports, pebble, acme_daemon):
    """A certificate ending within 30 days is renewed by posternd itself
    (the renewal timer; SIGHUP runs the same pass now) and the new one
    served without a restart."""
    hostname = "http01.acme.example.test"	# issued by test_issue_and_serve_by_sni
    before = imaps_cert(ports["imaps"], hostname)
    assert der_names(before) == [hostname]
    n_orders = int(site.pg.psql(f"SELECT count(*) FROM acme_orders WHERE hostname = '{hostname}'"))
    # 31 days left: nothing to do
    site.pg.psql("UPDATE acme_orders SET not_after = now() + interval '31 days' "
                 f"WHERE hostname = '{hostname}' AND state = 'valid'")
    acme_daemon.send_signal(signal.SIGHUP)
    time.sleep(1.5)
    assert int(site.pg.psql(
        f"SELECT count(*) FROM acme_orders WHERE hostname = '{hostname}'")) == n_orders
    # 29 days left: a renewal order, run to the end
    site.pg.psql("UPDATE acme_orders SET not_after = now() + interval '29 days' "
                 f"WHERE hostname = '{hostname}' AND state = 'valid'")
    acme_daemon.send_signal(signal.SIGHUP)
    util.wait_for(lambda: site.pg.psql(
        f"SELECT state FROM acme_orders WHERE hostname = '{hostname}' AND renewal "
        "ORDER BY id DESC LIMIT 1").strip() in ("valid", "failed"), 60, interval=0.2,
        what="renewal order finished")
    row = [r for r in ctl.rows("cert", "acme-status") if r[1] == hostname][0]
    assert row[3] == "valid", row
    util.wait_for(lambda: serial(imaps_cert(ports["imaps"], hostname)) != serial(before), 20,
                  interval=0.2, what="renewed certificate served")
    # the old certificate row is gone: one certificate for the name
    assert site.pg.psql("SELECT count(*) FROM certificates "
                        f"WHERE hostnames = ARRAY['{hostname}']").strip() == "1"


@pytest.mark.timeout(120)
def test_order_of_a_dead_node_is_taken_up(site, ctl, pebble, acme_daemon):
    """An order left 'running' with no session holding its advisory lock
    (its node died mid-order) is run again by the next pass."""
    hostname = "orphan.acme.example.test"
    oid = site.pg.psql("INSERT INTO acme_orders (hostname, challenge, state, step) "
                       f"VALUES ('{hostname}', 'http-01', 'running', 'validating (http-01)') "
                       "RETURNING id").strip().splitlines()[0]
    # a running order whose node is alive (the lock held) is left alone
    holder = subprocess.Popen(
        [str(site.pg.bindir / "psql"), "-h", str(site.pg.sock), "-U", "postgres", "-d",
         "postern", "-XAtq", "-c", f"SELECT pg_advisory_lock(20563, {oid})",
         "-c", "SELECT pg_sleep(4)"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        acme_daemon.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        assert site.pg.psql(f"SELECT state FROM acme_orders WHERE id = {oid}").strip() == \
            "running"
    finally:
        holder.wait(20)
    # its node is gone now: taken up and finished
    acme_daemon.send_signal(signal.SIGHUP)
    util.wait_for(lambda: site.pg.psql(
        f"SELECT state FROM acme_orders WHERE id = {oid}").strip() in ("valid", "failed"), 60,
        interval=0.2, what="orphaned order finished")
    row = [r for r in ctl.rows("cert", "acme-status") if r[0] == oid][0]
    assert row[3] == "valid", row


@pytest.mark.timeout(120)
def test_ca_that_forgot_the_account(site, ctl, pebble, acme_daemon):
    """The CA no longer knows the stored account (pebble restarted): the
    same key is registered again, the order goes through, the new account
    URL is stored."""
    pebble.restart()
    r = issue(ctl, "again.acme.example.test", "http-01")
    assert r.returncode == 0, (r.stdout, r.stderr, pebble.log())
    assert "registering the account again" in acme_daemon.log_text()
    assert site.pg.psql("SELECT count(*) FROM acme_accounts").strip() == "1"
    after = site.pg.psql("SELECT account_url FROM acme_accounts").strip()
    assert after and after.startswith(pebble.directory.rsplit("/", 1)[0])


@pytest.mark.timeout(120)
def test_failed_challenge_shows_ca_error(ctl, pebble, acme_daemon):
    # The name resolves to 127.0.0.2, where nothing listens: pebble's
    # validation is refused and the order fails with the CA's error.
    hostname = "elsewhere.acme.example.test"
    pebble.dns_add_a(hostname, "127.0.0.2")
    r = issue(ctl, hostname, "http-01")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "http-01 challenge failed [urn:ietf:params:acme:error:connection]" in r.stderr, \
        r.stderr
    status = [row for row in ctl.rows("cert", "acme-status") if row[1] == hostname]
    assert status[0][3] == "failed" and "error:connection" in status[0][7]
    assert "127.0.0.2" in status[0][7]	# the CA's detail, whole


@pytest.mark.timeout(120)
def test_busy_port_is_reported(ctl, pebble, acme_daemon):
    hostname = "busy.acme.example.test"
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind((HOST, pebble.tls_port))
    blocker.listen(1)
    try:
        r = issue(ctl, hostname, "tls-alpn-01")
    finally:
        blocker.close()
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "cannot bind the TLS-ALPN-01 port" in r.stderr, r.stderr


@pytest.mark.timeout(120)
def test_order_queued_while_posternd_is_down(site, ctl, ports, pebble, acme_daemon):
    """posternctl says when no posternd takes the order; the order waits in
    the table and posternd runs it when it starts."""
    hostname = "later.acme.example.test"
    acme_daemon.stop()
    p = subprocess.Popen([util.POSTERNCTL, "cert", "acme", hostname], env=ctl.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while not any("no posternd has taken the order yet" in x for x in lines):
            line = p.stderr.readline()
            assert line, lines
            lines.append(line)
    finally:
        p.kill()
        p.wait(10)
    acme_daemon.start()
    util.wait_for(lambda: [r for r in ctl.rows("cert", "acme-status")
                           if r[1] == hostname][0][3] in ("valid", "failed"), 60, interval=0.3,
                  what="order run after start-up")
    assert [r for r in ctl.rows("cert", "acme-status") if r[1] == hostname][0][3] == "valid"
    cafile = pebble.dir / "root-later.pem"
    cafile.write_text(pebble.root_pem())
    assert der_names(served_after_reload(ports["imaps"], hostname, str(cafile))) == [hostname]


def test_bad_arguments(ctl):
    r = ctl.run("cert", "acme", "not a host")
    assert r.returncode == 1 and "posternctl:" in r.stderr
    r = ctl.run("cert", "acme", "x.example.test", "--challenge", "dns-01")
    assert r.returncode == 1 and "http-01 or tls-alpn-01" in r.stderr


@pytest.mark.timeout(120)
def test_panel_api(ports, pebble, acme_daemon):
    from test_api import Client	# the panel's JSON client (cookie + CSRF)
    util.wait_for(lambda: util.port_open(ports["admin"]), 30, what="admin panel port")
    c = Client(ports["admin"])
    assert c.login().status == 200
    r = c.post("/certificates/acme", {"hostname": "panel.acme.example.test",
                                      "challenge": "dns-01"})
    assert r.status == 400 and r.json["field"] == "challenge", r
    r = c.post("/certificates/acme", {"hostname": "bad host"})
    assert r.status == 400 and r.json["field"] == "hostname", r
    assert c.post("/certificates/acme", {"hostname": "x.example.test"}, csrf=False).status == 403

    r = c.post("/certificates/acme", {"hostname": "Panel.ACME.example.test",
                                      "challenge": "tls-alpn-01"})
    assert r.status == 202, r
    oid = r.json["id"]
    assert r.json["hostname"] == "panel.acme.example.test" and r.json["state"] == "requested"

    def state():
        g = c.get(f"/certificates/acme?id={oid}")
        assert g.status == 200, g
        return g.json["orders"][0]
    util.wait_for(lambda: state()["state"] in ("valid", "failed"), 60, interval=0.2,
                  what="panel's ACME order finished")
    o = state()
    assert o["state"] == "valid" and o["error"] == "" and o["not_after"].endswith("Z"), o
    assert "panel.acme.example.test" in der_names(
        imaps_cert(ports["imaps"], "panel.acme.example.test"))
    listing = c.get("/certificates/acme")
    assert listing.status == 200 and listing.json["orders"][0]["id"] == oid
    assert c.get("/certificates/acme?id=999999").status == 404
    audit = c.get("/audit").json["entries"]
    assert any(e["action"] == "certificate acme" and f"order {oid}" in e["detail"]
               for e in audit)
