"""Inbound mail authentication (core/mail/spf.c, dkim_verify.c, dmarc.c,
authres.c): a table of SPF, DKIM and DMARC cases served by a dnsmasq, run
through tests/tools/authres_check (the same code the MX listener runs), with
SPF verdicts compared to python3-spf (spf.check2, resolving through the same
dnsmasq) and DKIM verdicts to python3-dkim. DMARC has no reference
implementation in Debian's Python: its cases carry the verdicts RFC 7489
prescribes."""

import base64
import subprocess

import dkim
import nacl.signing
import pytest
import spf

import util
from mailauth_dns import Dnsmasq

TOOL = util.ROOT / "build/asan/tools/authres_check"

SPF_RECORDS = {
    "spf-pass.test": "v=spf1 ip4:127.0.0.0/8 -all",
    "spf-soft.test": "v=spf1 ~all",
    "spf-neutral.test": "v=spf1 ?all",
    "spf-a.test": "v=spf1 a -all",
    "spf-mx.test": "v=spf1 mx/24 -all",
    "spf-inc.test": "v=spf1 include:spf-pass.test -all",
    "spf-redir.test": "v=spf1 redirect=spf-pass.test",
    "spf-redir-none.test": "v=spf1 redirect=nothing-here.test",
    "spf-inc-none.test": "v=spf1 include:nothing-here.test -all",
    "spf-syntax.test": "v=spf1 foo:bar -all",
    "spf-exists.test": "v=spf1 exists:%{i}.allow.spf-exists.test -all",
    "spf-macro.test": "v=spf1 exists:%{l}.users.spf-macro.test -all",
    "spf-limit.test": "v=spf1 " + " ".join(f"a:h{i}.spf-limit.test" for i in range(11)) + " -all",
    "spf-nine.test": "v=spf1 " + " ".join(f"a:h{i}.spf-limit.test" for i in range(9)) + " ?all",
    "spf-void.test": "v=spf1 a:n1.nothing.test a:n2.nothing.test a:n3.nothing.test -all",
    "spf-void2.test": "v=spf1 a:n1.nothing.test a:n2.nothing.test ~all",
    "spf-ip6.test": "v=spf1 ip6:::1 ip4:127.0.0.3 -all",
    "spf-cidr.test": "v=spf1 ip4:127.0.0.0/30 -all",
    "spf-mech-case.test": "v=spf1 IP4:127.0.0.4 -ALL",
    "dm-rej.test": "v=spf1 -all",
    "mail.dm-rel.test": "v=spf1 ip4:127.0.0.0/8 -all",
    "mail.dm-strict.test": "v=spf1 ip4:127.0.0.0/8 -all",
    "dm-pass.test": "v=spf1 -all",
}

DMARC_RECORDS = {
    "dm-pass.test": "v=DMARC1; p=reject",
    "dm-rej.test": "v=DMARC1; p=reject",
    "dm-org.test": "v=DMARC1; p=reject; sp=quarantine",
    "dm-rel.test": "v=DMARC1; p=reject",
    "dm-strict.test": "v=DMARC1; p=reject; aspf=s",
    "dm-pct.test": "v=DMARC1; p=reject; pct=0",
}

SPF_CASES = [
    # ip, sender, helo, expected
    ("127.0.0.5", "a@spf-pass.test", "h.test", "pass"),
    ("10.1.1.1", "a@spf-pass.test", "h.test", "fail"),
    ("10.1.1.1", "a@spf-soft.test", "h.test", "softfail"),
    ("10.1.1.1", "a@spf-neutral.test", "h.test", "neutral"),
    ("10.1.1.1", "a@spf-nothing.test", "h.test", "none"),
    ("127.0.0.7", "a@spf-a.test", "h.test", "pass"),
    ("127.0.0.8", "a@spf-a.test", "h.test", "fail"),
    ("127.0.1.200", "a@spf-mx.test", "h.test", "pass"),
    ("127.0.2.1", "a@spf-mx.test", "h.test", "fail"),
    ("127.0.0.5", "a@spf-inc.test", "h.test", "pass"),
    ("10.0.0.1", "a@spf-inc.test", "h.test", "fail"),
    ("127.0.0.5", "a@spf-redir.test", "h.test", "pass"),
    ("10.0.0.1", "a@spf-redir.test", "h.test", "fail"),
    ("127.0.0.5", "a@spf-redir-none.test", "h.test", "permerror"),
    ("127.0.0.5", "a@spf-inc-none.test", "h.test", "permerror"),
    ("127.0.0.5", "a@spf-two.test", "h.test", "permerror"),
    ("127.0.0.5", "a@spf-syntax.test", "h.test", "permerror"),
    ("127.0.0.9", "a@spf-exists.test", "h.test", "pass"),
    ("127.0.0.10", "a@spf-exists.test", "h.test", "fail"),
    ("127.0.0.10", "alice@spf-macro.test", "h.test", "pass"),
    ("127.0.0.10", "mallory@spf-macro.test", "h.test", "fail"),
    ("127.0.0.10", "a@spf-limit.test", "h.test", "permerror"),
    ("127.0.0.10", "a@spf-nine.test", "h.test", "neutral"),
    ("127.0.0.10", "a@spf-void.test", "h.test", "permerror"),
    ("127.0.0.10", "a@spf-void2.test", "h.test", "softfail"),
    ("::1", "a@spf-ip6.test", "h.test", "pass"),
    ("::2", "a@spf-ip6.test", "h.test", "fail"),
    ("127.0.0.3", "a@spf-ip6.test", "h.test", "pass"),
    ("127.0.0.3", "a@spf-cidr.test", "h.test", "pass"),
    ("127.0.0.4", "a@spf-cidr.test", "h.test", "fail"),
    ("127.0.0.4", "a@spf-mech-case.test", "h.test", "pass"),
    ("127.0.0.5", "", "spf-pass.test", "pass"),		# null sender: the HELO identity
    ("10.9.9.9", "", "spf-pass.test", "fail"),
]


def openssl_rsa():
    pem = subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                          "rsa_keygen_bits:2048"], capture_output=True, check=True).stdout
    pub = subprocess.run(["openssl", "pkey", "-pubout", "-outform", "DER"], input=pem,
                         capture_output=True, check=True).stdout
    return pem, "v=DKIM1; k=rsa; p=" + base64.b64encode(pub).decode()


def ed25519_key():
    sk = nacl.signing.SigningKey.generate()
    return (base64.b64encode(bytes(sk)),
            "v=DKIM1; k=ed25519; p=" + base64.b64encode(bytes(sk.verify_key)).decode())


@pytest.fixture(scope="module")
def zone(ctl):
    subprocess.run(["make", "-s", "-C", str(util.ROOT), "build/asan/tools/authres_check"],
                   check=True, capture_output=True)
    z = Dnsmasq()
    for name, rec in SPF_RECORDS.items():
        z.txt(name, rec)
    z.txt("spf-two.test", "v=spf1 -all")
    z.txt("spf-two.test", "v=spf1 +all")
    z.txt("spf-pass.test", "unrelated text record")
    z.a("spf-a.test", "127.0.0.7")
    z.mx("spf-mx.test", "mail.spf-mx.test")
    z.a("mail.spf-mx.test", "127.0.1.9")
    z.a("127.0.0.9.allow.spf-exists.test", "127.0.0.2")
    z.a("alice.users.spf-macro.test", "127.0.0.2")
    for i in range(11):
        z.a(f"h{i}.spf-limit.test", f"10.0.0.{i + 1}")
    for name, rec in DMARC_RECORDS.items():
        z.txt("_dmarc." + name, rec)
    # keys: ours (posternctl, both types) and python3-dkim's (RSA, Ed25519)
    ctl.ok("domain", "add", "dk-ours.test")
    for r in ctl.rows("dkim", "generate", "dk-ours.test"):
        z.txt(r[4], r[5])
    keys = {}
    for dom in ("dk-py.test", "dm-pass.test"):
        pem, rec = openssl_rsa()
        z.txt(f"py._domainkey.{dom}", rec)
        keys[(dom, "py")] = pem
    seed, rec = ed25519_key()
    z.txt("ed._domainkey.dk-py.test", rec)
    keys[("dk-py.test", "ed")] = seed
    z.start()
    z.keys = keys
    yield z
    z.stop()


def run_tool(zone, ip, helo, sender, msg):
    r = subprocess.run([str(TOOL), ip, helo, sender], input=msg, capture_output=True, timeout=60,
                       env={**util.os.environ, "POSTERN_DNS_SERVER": zone.server,
                            "ASAN_OPTIONS": "detect_leaks=1"})
    assert r.returncode == 0, r.stderr.decode()
    out = {"dkim": [], "header": b""}
    for line in r.stdout.decode().split("\n"):
        w = line.split(" ")
        if w[0] in ("spf", "dmarc"):
            out[w[0]] = w[1:]
        elif w[0] == "dkim":
            out["dkim"].append(w[1:])
    out["header"] = r.stdout.split(b"\r\n\r\n")[0] if b"\r\n" in r.stdout else b""
    out["raw"] = r.stdout.decode()
    return out


def message(frm, body="Hello,\r\n\r\nthe  body.\r\n", extra=""):
    return (f"From: Someone <{frm}>\r\nTo: rcpt@example.test\r\nSubject: test  message\r\n"
            f"Date: Sun, 22 Nov 2026 01:00:00 +0000\r\nMessage-ID: <x@{frm.split('@')[1]}>\r\n"
            f"{extra}\r\n{body}").encode()


@pytest.mark.parametrize("ip,sender,helo,expected", SPF_CASES)
def test_spf_agrees_with_python_spf(zone, ip, sender, helo, expected):
    ours = run_tool(zone, ip, helo, sender, message("x@example.test"))["spf"][0]
    theirs = spf.check2(i=ip, s=sender, h=helo)[0]
    assert (ours, theirs) == (expected, expected)


def py_sign(msg, dom, sel, key, **kw):
    return dkim.sign(msg, sel.encode(), dom.encode(), key, **kw) + msg


def py_verify(zone, msg, idx=0):
    def dnsfunc(name, timeout=5):
        try:
            ans = util_resolve(zone, name)
        except Exception:
            return None
        return ans
    try:
        return dkim.DKIM(msg).verify(idx=idx, dnsfunc=dnsfunc)
    except dkim.DKIMException:
        return False


def util_resolve(zone, name):
    import dns.resolver
    n = name.decode() if isinstance(name, bytes) else name
    a = dns.resolver.default_resolver.resolve(n, "TXT")
    return b"".join(a[0].strings)


def ours_signed(ctl, msg):
    r = subprocess.run([util.POSTERNCTL, "dkim", "sign"], input=msg, env=ctl.env,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def dkim_cases(zone, ctl):
    k = zone.keys
    base = message("a@dk-py.test")
    ours = ours_signed(ctl, message("a@dk-ours.test"))
    rsa = py_sign(base, "dk-py.test", "py", k[("dk-py.test", "py")])
    return [
        ("ours-both", ours, ["pass", "pass"]),
        ("ours-body-changed", ours.replace(b"the  body", b"the  BODY"), ["fail", "fail"]),
        ("ours-subject-changed", ours.replace(b"test  message", b"test  massage"),
         ["fail", "fail"]),
        ("py-relaxed-simple", rsa, ["pass"]),
        ("py-simple-simple", py_sign(base, "dk-py.test", "py", k[("dk-py.test", "py")],
                                     canonicalize=(b"simple", b"simple")), ["pass"]),
        ("py-relaxed-relaxed-ws", py_sign(base, "dk-py.test", "py", k[("dk-py.test", "py")],
                                          canonicalize=(b"relaxed", b"relaxed")).replace(
                                              b"the  body.", b"the body.   "), ["pass"]),
        ("py-simple-ws-changed", py_sign(base, "dk-py.test", "py", k[("dk-py.test", "py")],
                                         canonicalize=(b"simple", b"simple")).replace(
                                             b"the  body.", b"the body."), ["fail"]),
        ("py-ed25519", py_sign(base, "dk-py.test", "ed", k[("dk-py.test", "ed")],
                               signature_algorithm=b"ed25519-sha256"), ["pass"]),
        ("py-length", py_sign(base, "dk-py.test", "py", k[("dk-py.test", "py")], length=True)
         + b"appended after signing\r\n", ["pass"]),
        ("py-no-key", py_sign(base, "dk-py.test", "py", k[("dk-py.test", "py")]).replace(
            b"s=py;", b"s=gone;"), ["permerror"]),
        ("py-body-changed", rsa.replace(b"Hello,", b"Hello!"), ["fail"]),
        ("unsigned", base, []),
    ]


def test_dkim_agrees_with_python_dkim(zone, ctl):
    for name, msg, expected in dkim_cases(zone, ctl):
        r = run_tool(zone, "127.0.0.5", "h.test", "a@spf-pass.test", msg)
        got = [d[0] for d in r["dkim"]]
        assert got == expected, (name, r["raw"])
        for i, v in enumerate(expected):
            assert py_verify(zone, msg, i) == (v == "pass"), (name, i)


@pytest.mark.parametrize("ip,sender,frm,dkim_dom,expected", [
    # dmarc result, policy, disposition
    ("10.0.0.1", "a@dm-pass.test", "a@dm-pass.test", "dm-pass.test", ["pass", "reject", "none"]),
    ("10.0.0.1", "a@dm-rej.test", "a@dm-rej.test", None, ["fail", "reject", "reject"]),
    ("10.0.0.1", "a@dm-rej.test", "a@dm-rej.test", "dk-py.test", ["fail", "reject", "reject"]),
    ("10.0.0.1", "a@sub.dm-org.test", "a@sub.dm-org.test", None,
     ["fail", "quarantine", "quarantine"]),
    ("127.0.0.5", "b@mail.dm-rel.test", "a@dm-rel.test", None, ["pass", "reject", "none"]),
    ("127.0.0.5", "b@mail.dm-strict.test", "a@dm-strict.test", None,
     ["fail", "reject", "reject"]),
    ("127.0.0.5", "a@spf-pass.test", "a@dm-none.test", None, ["none", "none", "none"]),
    ("10.0.0.1", "a@dm-pct.test", "a@dm-pct.test", None, ["fail", "reject", "quarantine"]),
])
def test_dmarc_table(zone, ip, sender, frm, dkim_dom, expected):
    msg = message(frm)
    if dkim_dom == "dm-pass.test":
        msg = py_sign(msg, "dm-pass.test", "py", zone.keys[("dm-pass.test", "py")])
    elif dkim_dom == "dk-py.test":	# a valid signature, not aligned
        msg = py_sign(msg, "dk-py.test", "py", zone.keys[("dk-py.test", "py")])
    r = run_tool(zone, ip, "h.test", sender, msg)
    assert r["dmarc"] == expected, r["raw"]
    assert "Authentication-Results: mx.postern.test;" in r["raw"]
    assert f"dmarc={expected[0]}" in r["raw"]


# --- through the MX listener of a running posternd ---


@pytest.fixture(scope="module")
def mx(site, zone):
    """posternd resolving through the dnsmasq, checking every client
    (POSTERN_TRUSTED_NETWORKS empty) and refusing DMARC rejects."""
    d = site.daemon()
    base_env = d.env
    d.extra = {"POSTERN_DNS_SERVER": zone.server, "POSTERN_TRUSTED_NETWORKS": "",
               "POSTERN_DMARC_REJECT": "1"}
    d.env = lambda: {**base_env(), **d.extra}
    d.start()
    site.current = d
    yield d
    site.current = None
    if d.alive():
        d.stop()
    report = d.sanitizer_report()
    if report:
        pytest.fail("sanitizer report in posternd log:\n" + report)


def header_of(msg, name):
    return [v for k, v in util.header_fields(msg) if k.lower() == name.lower()]


def test_mx_adds_authentication_results_and_drops_forged(site, mx, zone):
    user, pw = site.new_user("ar")
    msg = message("a@dm-pass.test", extra=(
        "Authentication-Results: mail.example.test; dkim=pass header.d=bank.test\r\n"
        "Authentication-Results: MAIL.EXAMPLE.TEST;\r\n\tspf=pass smtp.mailfrom=bank.test\r\n"
        "Authentication-Results: other.test; spf=pass smtp.mailfrom=kept.test\r\n"))
    msg = py_sign(msg, "dm-pass.test", "py", zone.keys[("dm-pass.test", "py")])
    util.mx_send(site.ports["smtp"], "a@spf-pass.test", [user], msg)
    got = util.wait_messages(site.ports, user, pw, 1)[0]
    ars = header_of(got, "Authentication-Results")
    ours = [v for v in ars if v.strip().lower().startswith("mail.example.test")]
    assert len(ours) == 1, ars
    v = " ".join(ours[0].split())
    assert "spf=pass smtp.mailfrom=spf-pass.test" in v, v
    assert "dkim=pass" in v and "header.d=dm-pass.test" in v and "header.s=py" in v, v
    assert "dmarc=pass" in v and "header.from=dm-pass.test" in v, v
    assert "bank.test" not in got.decode()	# both forged fields are gone
    assert any("kept.test" in a for a in ars)	# another server's field stays
    # the stored message still verifies for python3-dkim (nothing signed was touched)
    assert py_verify(zone, got[got.index(b"DKIM-Signature"):])


def test_mx_dmarc_reject_refused_at_data(site, mx):
    user, pw = site.new_user("rej")
    with pytest.raises(util.smtplib.SMTPDataError) as e:
        util.mx_send(site.ports["smtp"], "a@dm-rej.test", [user], message("a@dm-rej.test"))
    assert e.value.smtp_code == 550 and b"5.7.1" in e.value.smtp_error
    assert b"dm-rej.test" in e.value.smtp_error
    # a DMARC failure with p=quarantine is delivered, marked
    util.mx_send(site.ports["smtp"], "a@sub.dm-org.test", [user], message("a@sub.dm-org.test"))
    got = util.wait_messages(site.ports, user, pw, 1)[0]
    v = " ".join(header_of(got, "Authentication-Results")[0].split())
    assert "spf=none" in v and "dkim=none" in v and "dmarc=fail (p=quarantine dis=quarantine)" in v


def test_trusted_networks_are_not_checked(site, mx):
    mx.stop()
    mx.extra["POSTERN_TRUSTED_NETWORKS"] = "10.0.0.0/8, 127.0.0.0/8"
    mx.start()
    try:
        user, pw = site.new_user("tr")
        util.mx_send(site.ports["smtp"], "a@dm-rej.test", [user], message("a@dm-rej.test"))
        got = util.wait_messages(site.ports, user, pw, 1)[0]
        assert header_of(got, "Authentication-Results") == []
    finally:
        mx.stop()
        mx.extra["POSTERN_TRUSTED_NETWORKS"] = ""
        mx.start()
