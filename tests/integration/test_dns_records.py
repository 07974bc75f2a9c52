"""The DNS records page's API (docs/API.md "DNS records"): MX, SPF, DKIM
from the dkim_keys table (parsed with python3-dkim's tag parser and the key
loaded with python3-cryptography), DMARC, the RFC 6186/8314 SRV records with
the live ports (a disabled service published as "."), autoconfig and
autodiscover names, MTA-STS with the policy served at
/.well-known/mta-sts.txt whose digest is the TXT id, TLS-RPT."""

import base64
import hashlib
import http.client

import dkim.util
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from test_api import Client, admin, error_of, port  # noqa: F401 (fixtures)
from util import DOMAIN, HOST, HOSTNAME


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
