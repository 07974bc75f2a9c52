"""DKIM signing (core/mail/dkim.c): keys generated with `posternctl dkim
generate`, messages signed with the test aid `posternctl dkim sign` (the
same dkim_sign_message() the outbound queue runner calls), verified by
python3-dkim with a dnsfunc answering the TXT records posternctl printed."""

import subprocess

import dkim
import pytest

import util

MSG = (
    "From: Alice Example <alice@{dom}>\r\n"
    "To: bob@remote.test\r\n"
    "Subject:   a  subject\twith   spaces   \r\n"
    "Date: Sun, 22 Nov 2026 01:00:00 +0000\r\n"
    "Message-ID: <{tag}@{dom}>\r\n"
    "X-Folded: first\r\n"
    "\tsecond   line\r\n"
    "\r\n"
    "Hello  world,   \r\n"
    "\r\n"
    "a line with trailing tabs\t\t\r\n"
    ".leading dot\r\n"
    "\r\n"
    "\r\n"
)


def generate(ctl, dom, *opts):
    ctl.ok("domain", "add", dom)
    rows = ctl.rows("dkim", "generate", dom, *opts)
    return {r[4] + ".": r[5] for r in rows}, rows


def dnsfunc_for(records):
    def dnsfunc(name, timeout=5):
        n = name.decode() if isinstance(name, bytes) else name
        rec = records.get(n) or records.get(n.rstrip(".") + ".")
        return rec.encode() if rec else None
    return dnsfunc


def verifies(msg, records, idx=0):
    try:
        return dkim.DKIM(msg).verify(idx=idx, dnsfunc=dnsfunc_for(records))
    except dkim.DKIMException:
        return False


def sign(ctl, msg):
    """Bytes in, bytes out: text mode would turn CRLF into LF."""
    r = subprocess.run([util.POSTERNCTL, "dkim", "sign"], input=msg.encode(), env=ctl.env,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("ktype,algs", [("rsa", [b"rsa-sha256"]), ("ed25519", [b"ed25519-sha256"]),
                                        ("both", [b"rsa-sha256", b"ed25519-sha256"])])
def test_sign_verifies_with_python_dkim(ctl, ktype, algs):
    dom = f"dkim-{ktype}.test"
    records, rows = generate(ctl, dom, "--type", ktype)
    assert len(rows) == len(algs)
    for r in rows:
        assert r[0] == dom and r[3] == "active" and r[5].startswith("v=DKIM1; k=")
    signed = sign(ctl, MSG.format(dom=dom, tag=ktype))
    assert signed.count(b"DKIM-Signature:") == len(algs)
    for line in signed.split(b"\r\n"):
        assert len(line) <= 998
    d = dkim.DKIM(signed)
    for i, alg in enumerate(algs):
        assert d.verify(idx=i, dnsfunc=dnsfunc_for(records)), (i, signed[:900])
        assert alg in signed
    # any change to a signed header or the body breaks every signature
    for tampered in (signed.replace(b"a  subject", b"b  subject"),
                     signed.replace(b"Hello  world", b"Hello  World"),
                     signed.replace(b"From: Alice", b"From: Mallory")):
        for i in range(len(algs)):
            assert not verifies(tampered, records, i)
    # relaxed canonicalization: whitespace changes in transit are tolerated
    relaxed = signed.replace(b"Hello  world,   ", b"Hello world,").replace(
        b"X-Folded: first\r\n\tsecond", b"X-Folded: first second")
    for i in range(len(algs)):
        assert dkim.DKIM(relaxed).verify(idx=i, dnsfunc=dnsfunc_for(records))


def test_oversigned_from_blocks_a_second_from(ctl):
    dom = "dkim-over.test"
    records, _ = generate(ctl, dom, "--type", "ed25519")
    signed = sign(ctl, MSG.format(dom=dom, tag="over"))
    assert dkim.DKIM(signed).verify(dnsfunc=dnsfunc_for(records))
    hdr_end = signed.index(b"\r\nFrom:") + 2
    forged = signed[:hdr_end] + b"From: ceo@" + dom.encode() + b"\r\n" + signed[hdr_end:]
    assert not verifies(forged, records)


def test_empty_body_and_selector(ctl):
    dom = "dkim-empty.test"
    records, rows = generate(ctl, dom, "--type", "rsa", "--selector", "mail2026")
    assert rows[0][1] == "mail2026" and rows[0][4] == f"mail2026._domainkey.{dom}"
    msg = f"From: <x@{dom}>\r\nSubject: nothing\r\n\r\n"
    signed = sign(ctl, msg)
    assert dkim.DKIM(signed).verify(dnsfunc=dnsfunc_for(records))
    # list shows the key and the same record
    rows = ctl.rows("dkim", "list", dom)
    assert [(r[1], r[2], r[5]) for r in rows] == [("mail2026", "rsa", records[f"mail2026._domainkey.{dom}."])]


def test_no_key_and_errors(ctl):
    ctl.ok("domain", "add", "dkim-none.test")
    r = ctl.run("dkim", "sign", input="From: a@dkim-none.test\r\n\r\nhi\r\n")
    assert r.returncode == 1 and "no DKIM key" in r.stderr
    r = ctl.run("dkim", "generate", "unknown-domain.test")
    assert r.returncode == 1 and r.stderr.startswith("posternctl: ")
    r = ctl.run("dkim", "generate", "dkim-none.test", "--type", "dsa")
    assert r.returncode == 1
    ctl.ok("dkim", "generate", "dkim-none.test", "--type", "rsa", "--selector", "s1")
    r = ctl.run("dkim", "generate", "dkim-none.test", "--type", "rsa", "--selector", "s1")
    assert r.returncode == 1 and "selector" in r.stderr
