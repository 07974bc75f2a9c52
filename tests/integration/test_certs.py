"""TLS certificates through the panel API and posternctl (docs/API.md
"Certificates", docs/CLI.md "cert"): upload a CA-signed chain and see the
IMAPS and POP3S ports serve it (Python's ssl module, full verification), each
bad upload refused with a sentence naming its field (key mismatch, expired,
not yet valid, chain out of order, garbage, key in the certificate field,
encrypted key, oversized, hostname not covered), self-signed generation, the
SNI hostname moved from one certificate to another live, the default
certificate, deletion (never the last one), CSRF/session checks, and the
posternctl cert commands on the same rows."""

import pytest

import certs
import util
from test_api import Client, admin, error_of, port  # noqa: F401 (fixtures)
from util import HOSTNAME, LIMITS

CERTS = "/certificates"


def listing(admin):
    r = admin.get(CERTS)
    assert r.status == 200, r
    return r.json["certificates"]


def by_id(admin, cid):
    return next(c for c in listing(admin) if c["id"] == cid)


def wait_served(ports, sni, der, what):
    for name in ("imaps", "pop3s"):
        util.wait_for(lambda: certs.served(ports[name], sni) == der, 15, interval=0.2,
                      what=f"{name} serving {what} for {sni}")


def upload(admin, chain, **extra):
    body = {"cert_pem": chain.chain_pem(), "key_pem": chain.key_pem()}
    body.update(extra)
    return admin.post(CERTS, body)


def test_initial_self_signed_listed(admin):
    cs = listing(admin)
    assert cs, "posternd generates a certificate at first start"
    mine = [c for c in cs if HOSTNAME in c["names"] and c["self_signed"]]
    assert mine and mine[0]["self_signed"] and mine[0]["days_left"] > 300
    for c in cs:
        assert c["not_after"].endswith("Z") and isinstance(c["names"], list)


@pytest.mark.timeout(120)
def test_upload_chain_served_on_imaps_and_pop3s(admin, ports):
    main = next(c for c in listing(admin) if HOSTNAME in c["names"])
    assert admin.patch(f"{CERTS}/{main['id']}", {"default": True}).status == 200
    chain = certs.Chain(["mail.upload.test", "imap.upload.test"])
    r = upload(admin, chain)
    assert r.status == 201, r
    c = r.json
    assert c["names"] == ["mail.upload.test", "imap.upload.test"]
    assert sorted(c["hostnames"]) == ["imap.upload.test", "mail.upload.test"]
    assert not c["self_signed"] and "Intermediate" in c["issuer"]
    assert 88 <= c["days_left"] <= 90
    wait_served(ports, "mail.upload.test", chain.der(), "the uploaded certificate")
    # the whole chain is sent: a client trusting only the root verifies it
    root = certs.pem(chain.root)
    for name in ("imaps", "pop3s"):
        peer = certs.verify_with(ports[name], "imap.upload.test", root)
        assert ("DNS", "imap.upload.test") in peer["subjectAltName"]
    # a name it does not list still gets the default, not this one
    assert certs.served(ports["imaps"], "other.upload.test") != chain.der()
    audit = admin.get("/audit?limit=20").json["entries"]
    assert any(e["action"] == "cert import" and f"id={c['id']}" in e["detail"] for e in audit)


def test_bad_uploads_name_their_field(admin):
    good = certs.Chain(["bad.upload.test"])
    other = certs.Chain(["bad.upload.test"])
    cases = []
    # key of another certificate
    cases.append(({"cert_pem": good.chain_pem(), "key_pem": other.key_pem()}, "key_pem",
                  "does not match"))
    # expired, and not valid yet
    old = certs.Chain(["old.upload.test"], not_before=certs.now() - 100 * certs.DAY,
                      not_after=certs.now() - certs.DAY)
    cases.append(({"cert_pem": old.chain_pem(), "key_pem": old.key_pem()}, "cert_pem",
                  "expired"))
    future = certs.Chain(["new.upload.test"], not_before=certs.now() + 10 * certs.DAY)
    cases.append(({"cert_pem": future.chain_pem(), "key_pem": future.key_pem()}, "cert_pem",
                  "not valid before"))
    # intermediate first
    cases.append(({"cert_pem": certs.pem(good.inter) + certs.pem(good.leaf),
                   "key_pem": good.key_pem()}, "cert_pem", "did not issue"))
    # garbage, a damaged block, a key pasted as the certificate
    cases.append(({"cert_pem": "hello", "key_pem": good.key_pem()}, "cert_pem",
                  "no certificate found"))
    broken = good.chain_pem().replace("\n", "\n!", 3)
    cases.append(({"cert_pem": broken, "key_pem": good.key_pem()}, "cert_pem", "damaged"))
    cases.append(({"cert_pem": good.key_pem(), "key_pem": good.key_pem()}, "cert_pem",
                  "private key"))
    # encrypted key, no key
    cases.append(({"cert_pem": good.chain_pem(), "key_pem": certs.key_pem(good.key, b"pw")},
                  "key_pem", "encrypted"))
    cases.append(({"cert_pem": good.chain_pem(), "key_pem": "nope"}, "key_pem",
                  "no private key"))
    # a hostname the certificate does not cover, and an invalid one
    cases.append(({"cert_pem": good.chain_pem(), "key_pem": good.key_pem(),
                   "hostnames": ["else.upload.test"]}, "hostnames", "does not cover"))
    cases.append(({"cert_pem": good.chain_pem(), "key_pem": good.key_pem(),
                   "hostnames": ["bad name"]}, "hostnames", "not a valid hostname"))
    cases.append(({"cert_pem": good.chain_pem(), "key_pem": good.key_pem(),
                   "hostnames": "bad.upload.test"}, "hostnames", "list"))
    # no SAN at all
    nosan, nosan_key = certs.make("nosan", None)
    cases.append(({"cert_pem": certs.pem(nosan), "key_pem": certs.key_pem(nosan_key)},
                  "cert_pem", "names no host"))
    # missing fields
    cases.append(({"key_pem": good.key_pem()}, "cert_pem", "required"))
    cases.append(({"cert_pem": good.chain_pem()}, "key_pem", "required"))
    before = len(listing(admin))
    for body, field, words in cases:
        r = admin.post(CERTS, body)
        msg = error_of(r, 400, field)
        assert words in msg, (field, msg)
    assert len(listing(admin)) == before, "nothing half-written"


def test_size_limits(admin):
    good = certs.Chain(["big.upload.test"])
    pad = "x" * (LIMITS["LIMIT_CERT_PEM"] + 1)
    error_of(admin.post(CERTS, {"cert_pem": pad, "key_pem": good.key_pem()}), 400, "cert_pem")
    pad = "x" * (LIMITS["LIMIT_CERT_KEY_PEM"] + 1)
    error_of(admin.post(CERTS, {"cert_pem": good.chain_pem(), "key_pem": pad}), 400, "key_pem")
    # a chain longer than LIMIT_CERT_CHAIN
    many = good.chain_pem() + certs.pem(good.root) * LIMITS["LIMIT_CERT_CHAIN"]
    error_of(admin.post(CERTS, {"cert_pem": many, "key_pem": good.key_pem()}), 400, "cert_pem")


@pytest.mark.timeout(120)
def test_generate_move_hostname_and_default(admin, ports):
    r = admin.post(CERTS + "/generate", {"hostname": "gen.move.test", "days": 30})
    assert r.status == 201, r
    gen = r.json
    assert gen["self_signed"] and gen["hostnames"] == ["gen.move.test"] and gen["days_left"] >= 29
    util.wait_for(lambda: "gen.move.test" in
                  certs.served_cert(ports["imaps"], "gen.move.test").subject.rfc4514_string(),
                  15, what="generated certificate served")
    error_of(admin.post(CERTS + "/generate", {"hostname": "bad name"}), 400, "hostname")
    error_of(admin.post(CERTS + "/generate", {"hostname": "x.test", "days": 0}), 400, "days")
    error_of(admin.post(CERTS + "/generate",
                        {"hostname": "x.test", "days": LIMITS["LIMIT_CERT_DAYS"] + 1}),
             400, "days")

    # a wildcard certificate cannot serve a name it does not cover
    wild = certs.Chain(["*.move.test"])
    r = upload(admin, wild)
    assert r.status == 201, r
    wid = r.json["id"]
    msg = error_of(admin.patch(f"{CERTS}/{wid}", {"hostnames": ["gen.other.test"]}), 400,
                   "hostnames")
    assert "does not cover" in msg
    # move gen.move.test to the wildcard certificate: served at once
    r = admin.patch(f"{CERTS}/{wid}", {"hostnames": ["*.move.test", "gen.move.test"]})
    assert r.status == 200, r
    assert by_id(admin, gen["id"])["hostnames"] == []
    wait_served(ports, "gen.move.test", wild.der(), "the wildcard certificate")
    # default: served without a matching name
    r = admin.patch(f"{CERTS}/{wid}", {"default": True})
    assert r.status == 200 and r.json["default"], r
    assert [c["id"] for c in listing(admin) if c["default"]] == [wid]
    wait_served(ports, "nothing.known.test", wild.der(), "the default certificate")
    # give the default back to the main hostname's certificate
    main = next(c for c in listing(admin) if HOSTNAME in c["names"])
    assert admin.patch(f"{CERTS}/{main['id']}", {"default": True}).status == 200
    util.wait_for(lambda: certs.served(ports["imaps"], "nothing.known.test") != wild.der(), 15,
                  what="default moved back")
    error_of(admin.patch(f"{CERTS}/{wid}", {}), 400)
    error_of(admin.patch(f"{CERTS}/999999", {"default": True}), 404)
    error_of(admin.patch(f"{CERTS}/abc", {"default": True}), 404)
    assert admin.delete(f"{CERTS}/{gen['id']}").status == 200
    error_of(admin.delete(f"{CERTS}/{gen['id']}"), 404)


def test_session_and_csrf(port, admin):
    anon = Client(port)
    assert anon.get(CERTS).status == 401
    assert anon.post(CERTS + "/generate", {"hostname": "a.test"}).status == 401
    r = admin.request("POST", "/api/v1" + CERTS + "/generate", body={"hostname": "a.test"},
                      csrf=False)
    assert r.status == 403, r


def test_posternctl_cert_commands(admin, ctl, ports, tmp_path):
    chain = certs.Chain(["cli.cert.test"])
    (tmp_path / "chain.pem").write_text(chain.chain_pem())
    (tmp_path / "key.pem").write_text(chain.key_pem())
    (tmp_path / "other.pem").write_text(certs.Chain(["cli.cert.test"]).key_pem())
    cid = ctl.ok("cert", "import", tmp_path / "chain.pem", tmp_path / "key.pem").strip()
    assert cid.isdigit()
    rows = {r[0]: r for r in ctl.rows("cert", "list")}
    assert rows[cid][3] == "cli.cert.test" and rows[cid][4] == "cli.cert.test"
    assert any(c["id"] == int(cid) for c in listing(admin))
    wait_served(ports, "cli.cert.test", chain.der(), "the imported certificate")
    r = ctl.run("cert", "import", tmp_path / "chain.pem", tmp_path / "other.pem")
    assert r.returncode == 1 and "does not match" in r.stderr
    r = ctl.run("cert", "import", tmp_path / "chain.pem", tmp_path / "missing.pem")
    assert r.returncode == 1 and "cannot open" in r.stderr
    gid = ctl.ok("cert", "generate", "gen.cli.test", "--days", "10").strip()
    rows = {r[0]: r for r in ctl.rows("cert", "list")}
    assert rows[gid][3] == "gen.cli.test" and rows[gid][5] == "self-signed"
    assert ctl.run("cert", "generate", "x.test", "--days", "0").returncode == 2
    assert ctl.run("cert", "set", gid).returncode == 2
    r = ctl.run("cert", "set", gid, "--hostnames", "cli.cert.test")
    assert r.returncode == 1 and "does not cover" in r.stderr
    ctl.ok("cert", "del", gid)
    ctl.ok("cert", "del", cid)
    assert ctl.run("cert", "del", cid).returncode == 1


def test_last_certificate_cannot_be_deleted(admin, ports):
    # keep exactly one: a fresh one for the suite's hostname, made default
    r = admin.post(CERTS + "/generate", {"hostname": HOSTNAME, "default": True})
    assert r.status == 201, r
    keep = r.json["id"]
    for c in listing(admin):
        if c["id"] != keep:
            assert admin.delete(f"{CERTS}/{c['id']}").status == 200
    msg = error_of(admin.delete(f"{CERTS}/{keep}"), 400)
    assert "last certificate" in msg
    der = certs.served(ports["imaps"], HOSTNAME)
    util.wait_for(lambda: certs.served_cert(ports["pop3s"], HOSTNAME).subject ==
                  certs.served_cert(ports["imaps"], HOSTNAME).subject, 15,
                  what="both ports on the kept certificate")
    assert der
