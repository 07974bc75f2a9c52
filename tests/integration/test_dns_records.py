"""The DNS records page's API (docs/API.md "DNS records"): MX, SPF, DKIM
from the dkim_keys table (parsed with python3-dkim's tag parser and the key
loaded with python3-cryptography), DMARC, the RFC 6186/8314 SRV records with
the live ports (a disabled service published as "."), autoconfig and
autodiscover names, MTA-STS with the policy served at
/.well-known/mta-sts.txt whose digest is the TXT id, TLS-RPT. The live check (`check=1`) against a dnsmasq from Debian serving
some records right, two wrong and the rest not at all; then against a
silent server."""

import base64
import hashlib
import http.client
import time

import dkim.util
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import pytest

import util
from mailauth_dns import Dnsmasq
from test_api import Client, admin, error_of, port  # noqa: F401 (fixtures)
from util import DOMAIN, HOST, HOSTNAME

POLICY = f"version: STSv1\r\nmode: testing\r\nmx: {HOSTNAME}\r\nmax_age: 604800\r\n"
STS_ID = hashlib.sha256(POLICY.encode()).hexdigest()[:16]
CHECK_MS = 4000     # LIMIT_DNS_CHECK_MS


@pytest.fixture(scope="module")
def zone(site):
    """Right: MX, DMARC, _mta-sts, _submissions and _imaps SRV, autoconfig
    CNAME (next to an unrelated apex TXT). Wrong: SPF and the _pop3s port.
    Missing: TLS-RPT, the other SRV records, autodiscover and mta-sts."""
    p = site.ports
    z = Dnsmasq()
    z.a(HOSTNAME, "127.0.0.1")
    z.mx(DOMAIN, HOSTNAME, 10)
    z.txt(DOMAIN, "google-site-verification=abc")
    z.txt(DOMAIN, "v=spf1 a -all")
    z.txt(f"_dmarc.{DOMAIN}", f"v=DMARC1; p=none; rua=mailto:postmaster@{DOMAIN}")
    z.txt(f"_mta-sts.{DOMAIN}", f"v=STSv1; id={STS_ID}")
    z.lines += [f"srv-host=_submissions._tcp.{DOMAIN},{HOSTNAME},{p['smtps']},0,1",
                f"srv-host=_imaps._tcp.{DOMAIN},{HOSTNAME},{p['imaps']},0,1",
                f"srv-host=_pop3s._tcp.{DOMAIN},{HOSTNAME},9,0,1",
                f"cname=autoconfig.{DOMAIN},{HOSTNAME}"]
    z.start()
    yield z
    z.stop()


@pytest.fixture(scope="module")
def daemon_env(zone):
    return {"POSTERN_DNS_SERVER": zone.server}


def records(admin, domain=DOMAIN):
    r = admin.get(f"/dns-records?domain={domain}")
    assert r.status == 200, r
    return r.json["records"]


def find(recs, rtype, name):
    return [r for r in recs if r["type"] == rtype and r["name"] == name]


def test_basic_records(admin, ports):
    recs = records(admin)
    assert find(recs, "MX", f"{DOMAIN}.")[0]["value"] == f"10 {HOSTNAME}."
    assert find(recs, "TXT", f"{DOMAIN}.")[0]["value"] == '"v=spf1 mx -all"'
    dmarc = find(recs, "TXT", f"_dmarc.{DOMAIN}.")[0]["value"].strip('"')
    tags = dkim.util.parse_tag_value(dmarc.encode())
    assert tags[b"v"] == b"DMARC1" and tags[b"p"] in (b"none", b"quarantine", b"reject")
    for name in ("autoconfig", "autodiscover", "mta-sts"):
        assert find(recs, "CNAME", f"{name}.{DOMAIN}.")[0]["value"] == f"{HOSTNAME}."
    assert find(recs, "TXT", f"_smtp._tls.{DOMAIN}.")[0]["value"].startswith('"v=TLSRPTv1;')
    for r in recs:
        assert r["note"], r
    error_of(admin.get("/dns-records?domain=nothere.test"), 404, "domain")
    error_of(admin.get("/dns-records"), 400, "domain")


def test_srv_records_follow_listeners(admin, ports):
    recs = records(admin)
    want = {"submissions": (0, ports["smtps"]), "imaps": (0, ports["imaps"]),
            "pop3s": (0, ports["pop3s"]), "submission": (10, ports["submission"]),
            "imap": (10, ports["imap"]), "pop3": (10, ports["pop3"])}
    order = [r["name"].split(".")[0][1:] for r in recs if r["type"] == "SRV"]
    assert order == ["submissions", "imaps", "pop3s", "submission", "imap", "pop3"]
    for svc, (prio, p) in want.items():
        (r,) = find(recs, "SRV", f"_{svc}._tcp.{DOMAIN}.")
        assert r["value"] == f"{prio} 1 {p} {HOSTNAME}.", r
    assert admin.patch("/listeners/pop3s", {"enabled": False}).status == 200
    try:
        (r,) = find(records(admin), "SRV", f"_pop3s._tcp.{DOMAIN}.")
        assert r["value"] == "0 0 0 ."
    finally:
        assert admin.patch("/listeners/pop3s", {"enabled": True}).status == 200


def test_dkim_from_keys_table(admin, site):
    recs = records(admin)
    assert find(recs, "TXT", f"<selector>._domainkey.{DOMAIN}.")[0]["value"] == "(none yet)"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    p = base64.b64encode(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    site.pg.psql("INSERT INTO dkim_keys (domain_id, selector, private_key_sealed, public_key) "
                 f"SELECT id, 'paneltest', 'x', '{p}' FROM domains WHERE name = '{DOMAIN}'")
    try:
        (r,) = find(records(admin), "TXT", f"paneltest._domainkey.{DOMAIN}.")
        tags = dkim.util.parse_tag_value(r["value"].strip('"').encode())
        assert tags[b"v"] == b"DKIM1" and tags[b"k"] == b"rsa"
        pub = serialization.load_der_public_key(base64.b64decode(tags[b"p"]))
        assert pub.public_numbers() == key.public_key().public_numbers()
        assert not find(records(admin), "TXT", f"<selector>._domainkey.{DOMAIN}.")
    finally:
        site.pg.psql("DELETE FROM dkim_keys WHERE selector = 'paneltest'")


def test_mta_sts_policy_and_id(admin, port):
    c = http.client.HTTPConnection(HOST, port, timeout=30)
    c.request("GET", "/.well-known/mta-sts.txt", headers={"Host": f"mta-sts.{DOMAIN}"})
    r = c.getresponse()
    body = r.read()
    c.close()
    assert r.status == 200 and r.getheader("Content-Type").startswith("text/plain")
    lines = dict(line.split(": ", 1) for line in body.decode().split("\r\n") if line)
    assert lines == {"version": "STSv1", "mode": "testing", "mx": HOSTNAME, "max_age": "604800"}
    (txt,) = find(records(admin), "TXT", f"_mta-sts.{DOMAIN}.")
    tags = dkim.util.parse_tag_value(txt["value"].strip('"').encode())
    assert tags[b"v"] == b"STSv1"
    assert tags[b"id"].decode() == hashlib.sha256(body).hexdigest()[:16]


def checked(admin):
    t = time.monotonic()
    r = admin.get(f"/dns-records?check=1&domain={DOMAIN}")
    assert r.status == 200, r
    return r.json["records"], time.monotonic() - t


def test_live_check(admin, ports):
    recs, took = checked(admin)
    assert took < CHECK_MS / 1000 + 2, took
    status = {(r["type"], r["name"]): r.get("check") for r in recs}
    assert status == {
        ("MX", f"{DOMAIN}."): "ok",
        ("TXT", f"{DOMAIN}."): "different",
        ("TXT", f"<selector>._domainkey.{DOMAIN}."): None,     # nothing to publish yet
        ("TXT", f"_dmarc.{DOMAIN}."): "ok",
        ("SRV", f"_submissions._tcp.{DOMAIN}."): "ok",
        ("SRV", f"_imaps._tcp.{DOMAIN}."): "ok",
        ("SRV", f"_pop3s._tcp.{DOMAIN}."): "different",
        ("SRV", f"_submission._tcp.{DOMAIN}."): "missing",
        ("SRV", f"_imap._tcp.{DOMAIN}."): "missing",
        ("SRV", f"_pop3._tcp.{DOMAIN}."): "missing",
        ("CNAME", f"autoconfig.{DOMAIN}."): "ok",
        ("CNAME", f"autodiscover.{DOMAIN}."): "missing",
        ("TXT", f"_mta-sts.{DOMAIN}."): "ok",
        ("CNAME", f"mta-sts.{DOMAIN}."): "missing",
        ("TXT", f"_smtp._tls.{DOMAIN}."): "missing",
    }, recs
    # what was found comes back, the unrelated apex TXT filtered out
    assert find(recs, "TXT", f"{DOMAIN}.")[0]["found"] == ['"v=spf1 a -all"']
    assert find(recs, "SRV", f"_pop3s._tcp.{DOMAIN}.")[0]["found"] == [f"0 1 9 {HOSTNAME}."]
    for r in recs:
        assert ("found" in r) == (r.get("check") == "different"), r
    # without check=1 there is no lookup
    assert all("check" not in r for r in records(admin))


def test_live_check_dkim(admin, site, zone):
    """A DKIM key not published yet is missing."""
    site.pg.psql("INSERT INTO dkim_keys (domain_id, selector, private_key_sealed, public_key) "
                 f"SELECT id, 'livetest', 'x', 'AAAA' FROM domains WHERE name = '{DOMAIN}'")
    try:
        recs, _ = checked(admin)
        assert find(recs, "TXT", f"livetest._domainkey.{DOMAIN}.")[0]["check"] == "missing"
    finally:
        site.pg.psql("DELETE FROM dkim_keys WHERE selector = 'livetest'")


def test_live_check_unreachable(daemon, ports):
    """A silent DNS server (a UDP socket that never answers): every record
    is unknown, within the request's deadline."""
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((HOST, 0))
    try:
        daemon.extra_env["POSTERN_DNS_SERVER"] = f"{HOST}@{s.getsockname()[1]}"
        daemon.stop()
        daemon.start()
        util.wait_for(lambda: util.port_open(ports["admin"]), 30, what="admin panel port")
        c = Client(ports["admin"])
        assert c.login().status == 200
        recs, took = checked(c)
        assert took < CHECK_MS / 1000 + 2, took
        assert {r.get("check") for r in recs} == {"unknown", None}, recs
        assert sum(r.get("check") == "unknown" for r in recs) == 14
    finally:
        s.close()
