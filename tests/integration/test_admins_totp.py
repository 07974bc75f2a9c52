"""Panel admins from the command line (`posternctl admin add|passwd|totp-reset`,
passwords on stdin) and the optional TOTP second factor (RFC 6238), with codes
computed here in Python (hmac + hashlib, independent of the C code):
enrolment confirmed by a first code, login refused without or with a wrong
code, each code accepted once, removal with a current code, and the CLI reset
for a lost authenticator."""

import base64
import hashlib
import hmac
import struct
import time

from test_api import Client, error_of, port  # noqa: F401 (fixtures)


def hotp(secret_b32, step):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000)


def now_step():
    return int(time.time()) // 30


def login(port, user, password, totp=None):
    c = Client(port)
    body = {"username": user, "password": password}
    if totp is not None:
        body["totp"] = totp
    r = c.post("/login", body)
    if r.status == 200:
        c.csrf = r.json["csrf"]
    return c, r


def test_admin_add_and_passwd(port, ctl):
    assert ctl.run("admin", "add", "ops.one", input="Ops-one-pw-1\n").returncode == 0
    c, r = login(port, "ops.one", "Ops-one-pw-1")
    assert r.status == 200, r
    r = ctl.run("admin", "add", "ops.one", input="Ops-one-pw-1\n")
    assert r.returncode == 1 and "already exists" in r.stderr
    r = ctl.run("admin", "add", "bad name", input="Ops-one-pw-1\n")
    assert r.returncode == 1 and "admin name" in r.stderr
    r = ctl.run("admin", "add", "ops.two", input="aaaaaaaaaa\n")
    assert r.returncode == 1
    r = ctl.run("admin", "passwd", "nobody", input="Ops-one-pw-2\n")
    assert r.returncode == 1 and "does not exist" in r.stderr
    assert ctl.run("admin", "passwd", "ops.one", input="Ops-one-pw-2\n").returncode == 0
    assert c.get("/me").status == 401, "the old session ended with the password change"
    assert login(port, "ops.one", "Ops-one-pw-1")[1].status == 401
    assert login(port, "ops.one", "Ops-one-pw-2")[1].status == 200
    assert ctl.run("admin", "add").returncode == 2


def test_totp_enrol_login_replay_disable(port, ctl):
    ctl.ok("admin", "add", "ops.totp", input="Ops-totp-pw-1\n")
    c, r = login(port, "ops.totp", "Ops-totp-pw-1")
    assert r.status == 200
    assert c.get("/totp").json == {"enabled": False, "pending": False}
    r = c.post("/totp/enroll")
    assert r.status == 200, r
    secret = r.json["secret"]
    assert len(secret) == 32 and r.json["uri"].startswith("otpauth://totp/Postern:ops.totp?")
    assert f"secret={secret}" in r.json["uri"]
    assert c.get("/totp").json == {"enabled": False, "pending": True}
    # not active until confirmed: login still works without a code
    assert login(port, "ops.totp", "Ops-totp-pw-1")[1].status == 200
    wrong = "%06d" % ((int(hotp(secret, now_step())) + 1) % 1000000)
    error_of(c.post("/totp/confirm", {"code": wrong}), 400, "code")
    assert c.post("/totp/confirm", {"code": hotp(secret, now_step())}).status == 200
    assert c.get("/totp").json["enabled"] is True
    assert c.post("/totp/enroll").status == 409

    _, r = login(port, "ops.totp", "Ops-totp-pw-1")
    assert r.status == 401 and r.json["field"] == "totp" and r.json["totp_required"] is True
    _, r = login(port, "ops.totp", "Ops-totp-pw-1", totp=wrong)
    assert r.status == 401 and r.json["field"] == "totp"
    # a wrong password says nothing about the second factor
    _, r = login(port, "ops.totp", "nope-nope-1", totp=hotp(secret, now_step()))
    assert r.status == 401 and r.json["field"] == "password"
    step = now_step() + 1     # the next step is inside the window, and unused
    c2, r = login(port, "ops.totp", "Ops-totp-pw-1", totp=hotp(secret, step))
    assert r.status == 200, r
    _, r = login(port, "ops.totp", "Ops-totp-pw-1", totp=hotp(secret, step))
    assert r.status == 401, "a code works once"
    error_of(c2.post("/totp/disable", {"code": hotp(secret, step)}), 400, "code")
    # no later unused step is inside the window now: the CLI resets it
    r = ctl.run("admin", "totp-reset", "ops.totp")
    assert r.returncode == 0, r.stderr
    assert c2.get("/me").status == 401, "the reset ends the admin's sessions"
    c3, r = login(port, "ops.totp", "Ops-totp-pw-1")
    assert r.status == 200, r
    # enrol again and turn it off from the panel with a current code
    secret = c3.post("/totp/enroll").json["secret"]
    assert c3.post("/totp/confirm", {"code": hotp(secret, now_step() - 1)}).status == 200
    assert c3.post("/totp/disable", {"code": hotp(secret, now_step())}).status == 200
    assert c3.get("/totp").json == {"enabled": False, "pending": False}
    assert login(port, "ops.totp", "Ops-totp-pw-1")[1].status == 200
    assert ctl.run("admin", "totp-reset", "nobody").returncode == 1
    audit = c3.get("/audit?limit=50").json["entries"]
    actions = [e["action"] for e in audit]
    assert "totp on" in actions and "totp off" in actions and "admin totp-reset" in actions


def test_unreadable_secret_never_falls_back_to_password(port, ctl, site):
    ctl.ok("admin", "add", "ops.sealed", input="Ops-sealed-pw-1\n")
    c, r = login(port, "ops.sealed", "Ops-sealed-pw-1")
    secret = c.post("/totp/enroll").json["secret"]
    assert c.post("/totp/confirm", {"code": hotp(secret, now_step())}).status == 200
    # a secret sealed under another key (seal.key replaced) cannot be opened
    site.pg.psql("UPDATE admins SET totp_secret_sealed = 'AAAA' WHERE username = 'ops.sealed'")
    _, r = login(port, "ops.sealed", "Ops-sealed-pw-1")
    assert r.status == 503 and r.json["field"] == "totp", r
    _, r = login(port, "ops.sealed", "Ops-sealed-pw-1", totp=hotp(secret, now_step() + 1))
    assert r.status == 503, r
    ctl.ok("admin", "totp-reset", "ops.sealed")
    assert login(port, "ops.sealed", "Ops-sealed-pw-1")[1].status == 200
