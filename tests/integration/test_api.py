"""The admin panel's JSON API (docs/API.md) and static UI, against a real
posternd: sessions (login, me, logout, idle/absolute expiry, throttling),
CSRF, every endpoint with good and bad input (duplicate domain, invalid
address, weak password, port out of range, malformed JSON, oversized body),
security headers, the fixed static file list, XSS payloads returned as data,
a listener PATCH moving the POP3 port live, and the first-admin bootstrap
with a generated password."""

import http.client
import json
import poplib
import re
import socket
import urllib.parse

import pytest

import util
from util import ADMIN_PASSWORD, ADMIN_USER, DOMAIN, HOST, LIMITS

API = "/api/v1"
SECURITY_HEADERS = ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options",
                    "Referrer-Policy")


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


class Client:
    """One browser: a cookie and a CSRF token."""

    def __init__(self, port):
        self.port = port
        self.cookie = None
        self.csrf = None

    def request(self, method, path, body=None, raw=None, headers=None, csrf=True):
        h = {}
        if body is not None:
            raw = json.dumps(body).encode()
        if raw is not None:
            h["Content-Type"] = "application/json"
        if self.cookie:
            h["Cookie"] = f"postern_session={self.cookie}"
        if csrf and self.csrf:
            h["X-CSRF-Token"] = self.csrf
        h.update(headers or {})
        c = http.client.HTTPConnection(HOST, self.port, timeout=60)
        try:
            c.request(method, path, body=raw, headers=h)
            r = c.getresponse()
            resp = Resp(r.status, r.getheaders(), r.read())
        finally:
            c.close()
        sc = resp.header("Set-Cookie")
        if sc:
            m = re.match(r"postern_session=([^;]*)", sc)
            if m:
                self.cookie = m.group(1) or None
        return resp

    def get(self, path, **kw):
        return self.request("GET", API + path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", API + path, body=body if body is not None else {}, **kw)

    def patch(self, path, body, **kw):
        return self.request("PATCH", API + path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", API + path, **kw)

    def login(self, user=ADMIN_USER, password=ADMIN_PASSWORD):
        r = self.post("/login", {"username": user, "password": password})
        if r.status == 200:
            self.csrf = r.json["csrf"]
        return r


def q(s):
    return urllib.parse.quote(s, safe="")


@pytest.fixture(scope="module")
def port(daemon, ports):
    util.wait_for(lambda: util.port_open(ports["admin"]), 30, what="admin panel port")
    return ports["admin"]


@pytest.fixture(scope="module")
def admin(port):
    c = Client(port)
    r = c.login()
    assert r.status == 200, r
    return c


def error_of(r, status, field=None):
    assert r.status == status, r
    assert isinstance(r.json, dict) and isinstance(r.json.get("error"), str) and r.json["error"], r
    if field is not None:
        assert r.json.get("field") == field, r
    return r.json["error"]


# --------------------------------------------------------------------------
# serving, headers, static files


def test_security_headers_on_every_response(port, admin):
    anon = Client(port)
    for c, method, path in ((anon, "GET", "/"), (anon, "GET", "/app.js"), (anon, "GET", "/app.css"),
                            (anon, "GET", "/nope"), (anon, "GET", API + "/me"),
                            (anon, "GET", API + "/nothing"), (admin, "GET", API + "/domains"),
                            (anon, "POST", API + "/login")):
        r = c.request(method, path, body={} if method == "POST" else None)
        for h in SECURITY_HEADERS:
            assert r.header(h), f"{method} {path}: no {h} ({r})"
        csp = r.header("Content-Security-Policy")
        assert "default-src 'self'" in csp and "unsafe-inline" not in csp
        assert r.header("X-Frame-Options") == "DENY"
        assert r.header("X-Content-Type-Options") == "nosniff"
        assert r.header("Referrer-Policy") == "no-referrer"


def test_static_files_fixed_list(port):
    c = Client(port)
    r = c.request("GET", "/")
    assert r.status == 200 and r.header("Content-Type").startswith("text/html")
    assert b"/app.js" in r.body
    assert c.request("GET", "/index.html").body == r.body
    assert c.request("GET", "/app.js").header("Content-Type").startswith("text/javascript")
    assert c.request("GET", "/app.css").header("Content-Type").startswith("text/css")
    for path in ("/../sql/001_init.sql", "/%2e%2e/sql/001_init.sql", "/static/app.js",
                 "/app.js/", "//etc/passwd", "/.git/config", "/index.html%00"):
        r = c.request("GET", path)
        assert r.status in (400, 404), (path, r)
        assert b"CREATE TABLE" not in r.body
    assert c.request("POST", "/", body={}).status == 405


def test_ui_has_no_inline_script_or_innerhtml():
    html = (util.ROOT / "static/index.html").read_text()
    for m in re.finditer(r"<script\b([^>]*)>(.*?)</script>", html, re.S | re.I):
        assert "src=" in m.group(1) and m.group(2).strip() == "", "inline script in index.html"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler in index.html"
    assert "style=" not in html
    js = (util.ROOT / "static/app.js").read_text()
    js = re.sub(r"/\*.*?\*/", "", js, flags=re.S)	# comments may name what is avoided
    for bad in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert bad not in js, bad


def test_unknown_endpoint_and_method(admin):
    error_of(admin.get("/nothing"), 404)
    error_of(admin.request("PUT", API + "/domains", body={}), 405)
    error_of(admin.request("GET", API + "/domains/x"), 405)


# --------------------------------------------------------------------------
# sessions


def test_unauthenticated_is_401(port):
    c = Client(port)
    for path in ("/me", "/dashboard", "/domains", "/accounts", "/aliases", "/listeners",
                 "/queue", "/audit"):
        error_of(c.get(path), 401)
    error_of(c.post("/domains", {"name": "anon.test"}), 401)
    error_of(c.patch("/listeners/pop3", {"port": 1}), 401)
    error_of(c.delete("/domains/" + DOMAIN), 401)
    error_of(c.post("/logout"), 401)
    # a forged or malformed cookie is no better
    c.cookie = "A" * 43
    error_of(c.get("/me"), 401)
    c.cookie = "x;y"
    error_of(c.get("/me"), 401)


def test_login_bad_input(port):
    c = Client(port)
    error_of(c.post("/login", {"username": ADMIN_USER}), 400, "password")
    error_of(c.post("/login", {"password": "x"}), 400, "username")
    error_of(c.post("/login", {"username": 5, "password": "x"}), 400, "username")
    r = c.post("/login", {"username": ADMIN_USER, "password": "wrong-password"})
    error_of(r, 401)
    assert r.header("Set-Cookie") is None


def test_login_me_and_cookie(port):
    c = Client(port)
    r = c.login()
    assert r.status == 200, r
    assert r.json["username"] == ADMIN_USER and len(r.json["csrf"]) >= 40
    sc = r.header("Set-Cookie")
    assert sc.startswith("postern_session=")
    attrs = [a.strip().lower() for a in sc.split(";")[1:]]
    assert "httponly" in attrs and "samesite=strict" in attrs and "path=/" in attrs
    token = c.cookie
    assert len(token) == 43 and re.fullmatch(r"[A-Za-z0-9_-]+", token)
    me = c.get("/me")
    assert me.status == 200 and me.json["username"] == ADMIN_USER
    assert me.json["csrf"] == c.csrf


def test_only_token_hash_stored(site, admin):
    rows = site.pg.psql("SELECT encode(token_hash, 'hex') FROM admin_sessions").split()
    assert rows and all(len(h) == 64 for h in rows)
    assert admin.cookie not in site.pg.psql("SELECT token_hash::text, csrf FROM admin_sessions")


def test_csrf_required(admin):
    name = "csrf-" + util.token("d").lower() + ".test"
    error_of(admin.post("/domains", {"name": name}, csrf=False), 403)
    error_of(admin.post("/domains", {"name": name}, csrf=False,
                        headers={"X-CSRF-Token": "wrong"}), 403)
    error_of(admin.post("/domains", {"name": name}, csrf=False,
                        headers={"X-CSRF-Token": admin.csrf[:-1] +
                                 ("A" if admin.csrf[-1] != "A" else "B")}), 403)
    error_of(admin.delete("/domains/" + DOMAIN, csrf=False), 403)
    error_of(admin.patch("/listeners/pop3", {"enabled": False}, csrf=False), 403)
    names = [d["name"] for d in admin.get("/domains").json["domains"]]
    assert name not in names
    # GET needs none
    assert admin.get("/domains", csrf=False).status == 200


def test_logout_invalidates(port):
    c = Client(port)
    assert c.login().status == 200
    token = c.cookie
    error_of(c.post("/logout", csrf=False), 403)
    r = c.post("/logout")
    assert r.status == 200, r
    assert "max-age=0" in r.header("Set-Cookie").lower()
    c.cookie = token		# an old copy of the cookie is dead server-side
    error_of(c.get("/me"), 401)


def test_session_idle_and_absolute_expiry(site, port):
    a, b = Client(port), Client(port)
    assert a.login().status == 200 and b.login().status == 200
    ha = site.pg.psql("SELECT encode(token_hash, 'hex') FROM admin_sessions"
                      " ORDER BY created_at DESC LIMIT 2").split()
    assert len(ha) == 2
    # idle: expires_at passed
    site.pg.psql(f"UPDATE admin_sessions SET expires_at = now() - interval '1 second'"
                 f" WHERE token_hash = decode('{ha[1]}', 'hex')")
    # absolute: created too long ago, even though recently used
    site.pg.psql(f"UPDATE admin_sessions SET created_at = now() - interval '13 hours'"
                 f" WHERE token_hash = decode('{ha[0]}', 'hex')")
    error_of(a.get("/me"), 401)
    error_of(b.get("/me"), 401)


def test_login_throttled_per_user(port):
    c = Client(port)
    user = "ghost-" + util.token("u")
    for _ in range(LIMITS["LIMIT_WEB_LOGIN_FAILS_USER"]):
        error_of(c.post("/login", {"username": user, "password": "not-the-password"}), 401)
    r = c.post("/login", {"username": user, "password": "not-the-password"})
    error_of(r, 429)
    assert int(r.header("Retry-After")) > 0
    # another user from the same address is not locked out
    assert Client(port).login().status == 200


# --------------------------------------------------------------------------
# request bodies


def test_malformed_json(admin):
    for raw in (b"{", b"{\"name\": }", b"\xff\xfe", b"{\"name\": \"a\", \"name\": \"b\"}"):
        error_of(admin.request("POST", API + "/domains", raw=raw), 400)
    error_of(admin.request("POST", API + "/domains", raw=b"[1, 2]"), 400)
    error_of(admin.request("POST", API + "/domains", raw=b"\"x\""), 400)
    r = admin.request("POST", API + "/domains", raw=b"name=x.test",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    error_of(r, 415)


def test_oversized_body(admin, port):
    limit = LIMITS["LIMIT_WEB_BODY"]
    # declared too large: refused before the body is read
    with socket.create_connection((HOST, port), timeout=30) as s:
        s.sendall((f"POST {API}/domains HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {limit * 100}\r\nCookie: postern_session={admin.cookie}\r\n"
                   f"X-CSRF-Token: {admin.csrf}\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        assert data.startswith(b"HTTP/1.1 413"), data[:200]
    # one byte over the limit, sent in full
    body = b'{"name": "' + b"a" * (limit - 11) + b'"}'
    assert len(body) == limit + 1
    error_of(admin.request("POST", API + "/domains", raw=body), 413)
    # at the limit it is parsed (and refused for its content)
    body = body[:-2] + b'"}'
    body = b'{"name": "' + b"a" * (limit - 12) + b'"}'
    assert len(body) == limit
    error_of(admin.request("POST", API + "/domains", raw=body), 400, "name")
    assert admin.get("/me").status == 200


def test_xss_payload_is_data(admin):
    payload = "<script>alert(1)</script>"
    r = admin.post("/accounts", {"address": payload + "@" + DOMAIN, "password": "Long-enough-1"})
    error_of(r, 400, "address")
    # echoed only as a JSON string, which a browser never renders (nosniff)
    assert r.header("Content-Type").startswith("application/json")
    assert r.header("X-Content-Type-Options") == "nosniff"
    assert payload in r.json["error"]
    r = admin.post("/login", {"username": "<img src=x onerror=alert(1)>", "password": "x"})
    error_of(r, 401)
    # the characters a local part may hold come back exactly as stored
    odd = "o'reilly+{x}&=%" + util.token("x").lower()
    address = f"{odd}@{DOMAIN}"
    r = admin.post("/accounts", {"address": address, "password": "Long-enough-1"})
    assert r.status == 201, r
    got = admin.get("/accounts?q=" + q(odd)).json["accounts"]
    assert [a["address"] for a in got] == [address]
    assert admin.delete("/accounts/" + q(address)).status == 200


# --------------------------------------------------------------------------
# endpoints


def test_dashboard(admin):
    r = admin.get("/dashboard")
    assert r.status == 200, r
    counts = r.json["counts"]
    for k in ("domains", "accounts", "aliases", "messages", "storage_bytes", "queue"):
        assert isinstance(counts[k], int) and counts[k] >= 0
    assert counts["domains"] >= 2 and counts["accounts"] >= 2
    names = {l["name"] for l in r.json["listeners"]}
    assert {"smtp", "pop3", "pop3s"} <= names


def test_domains(admin, ctl):
    name = "dom-" + util.token("d").lower() + ".test"
    r = admin.post("/domains", {"name": name.upper()})
    assert r.status == 201 and r.json["name"] == name, r
    error_of(admin.post("/domains", {"name": name}), 409, "name")
    error_of(admin.post("/domains", {"name": "bad_domain!"}), 400, "name")
    error_of(admin.post("/domains", {"name": ""}), 400, "name")
    error_of(admin.post("/domains", {"name": "a" * 64 + ".test"}), 400, "name")
    error_of(admin.post("/domains", {}), 400, "name")
    error_of(admin.post("/domains", {"name": 42}), 400, "name")
    listed = {d["name"]: d for d in admin.get("/domains").json["domains"]}
    assert name in listed and listed[name]["active"] is True
    assert name in ctl.ok("domain", "list")
    # a domain with accounts cannot go
    error_of(admin.delete("/domains/" + DOMAIN), 400, "name")
    assert admin.delete("/domains/" + name).status == 200
    error_of(admin.delete("/domains/" + name), 404)
    assert name not in {d["name"] for d in admin.get("/domains").json["domains"]}


def test_accounts(admin, ctl, ports):
    dom = "acc-" + util.token("d").lower() + ".test"
    assert admin.post("/domains", {"name": dom}).status == 201
    addrs = [f"user{i:02d}@{dom}" for i in range(5)]
    for a in addrs:
        r = admin.post("/accounts", {"address": a, "password": "Good-pass-123",
                                     "quota_bytes": 1048576})
        assert r.status == 201, r
    error_of(admin.post("/accounts", {"address": addrs[0], "password": "Good-pass-123"}), 409,
             "address")
    error_of(admin.post("/accounts", {"address": "no-at-sign", "password": "Good-pass-123"}),
             400, "address")
    error_of(admin.post("/accounts", {"address": "a..b@" + dom, "password": "Good-pass-123"}),
             400, "address")
    error_of(admin.post("/accounts", {"address": "x@missing-domain.test",
                                      "password": "Good-pass-123"}), 400, "address")
    error_of(admin.post("/accounts", {"address": "weak@" + dom, "password": "short"}), 400,
             "password")
    error_of(admin.post("/accounts", {"address": "weak@" + dom, "password": "aaaaaaaaaaaa"}), 400,
             "password")
    error_of(admin.post("/accounts", {"address": "weak@" + dom, "password": "Good-pass-123",
                                      "quota_bytes": -1}), 400, "quota_bytes")
    error_of(admin.post("/accounts", {"address": "weak@" + dom, "password": "Good-pass-123",
                                      "quota_bytes": "10"}), 400, "quota_bytes")

    # paging and search
    r = admin.get(f"/accounts?domain={dom}&limit=2")
    assert r.status == 200 and r.json["total"] == 5, r
    assert [a["address"] for a in r.json["accounts"]] == addrs[:2]
    r = admin.get(f"/accounts?domain={dom}&limit=2&offset=4")
    assert [a["address"] for a in r.json["accounts"]] == addrs[4:]
    r = admin.get(f"/accounts?domain={dom}&offset=10")
    assert r.json["accounts"] == [] and r.json["total"] == 5
    r = admin.get(f"/accounts?q=USER03@{dom}")
    assert [a["address"] for a in r.json["accounts"]] == [addrs[3]]
    assert r.json["accounts"][0]["quota_bytes"] == 1048576
    assert r.json["accounts"][0]["active"] is True
    r = admin.get("/accounts?q=%25")  # a literal %, not a wildcard
    assert all("%" in a["address"] for a in r.json["accounts"])
    error_of(admin.get("/accounts?limit=0"), 400, "limit")
    error_of(admin.get(f"/accounts?limit={LIMITS['LIMIT_WEB_PAGE_MAX'] + 1}"), 400, "limit")
    error_of(admin.get("/accounts?offset=-1"), 400, "offset")
    error_of(admin.get("/accounts?domain=bad_domain"), 400, "domain")

    # PATCH: quota, active, password
    a = addrs[1]
    assert admin.patch("/accounts/" + q(a), {"quota_bytes": 0}).status == 200
    assert admin.patch("/accounts/" + q(a), {"active": False}).status == 200
    got = admin.get("/accounts?q=" + q(a)).json["accounts"][0]
    assert got["quota_bytes"] == 0 and got["active"] is False
    assert admin.patch("/accounts/" + q(a), {"active": True, "password": "New-pass-456"}).status == 200
    p = util.pop3_open(ports, a, "New-pass-456")
    p.quit()
    with pytest.raises(poplib.error_proto):
        util.pop3_open(ports, a, "Good-pass-123")
    error_of(admin.patch("/accounts/" + q(a), {"password": "x"}), 400, "password")
    error_of(admin.patch("/accounts/" + q(a), {"quota_bytes": -5}), 400, "quota_bytes")
    error_of(admin.patch("/accounts/" + q(a), {"active": "yes"}), 400, "active")
    error_of(admin.patch("/accounts/" + q(a), {}), 400)
    error_of(admin.patch("/accounts/" + q("nobody@" + dom), {"active": False}), 404, "address")
    error_of(admin.patch("/accounts/not-an-address", {"active": False}), 400, "address")

    for a in addrs:
        assert admin.delete("/accounts/" + q(a)).status == 200
    error_of(admin.delete("/accounts/" + q(addrs[0])), 404, "address")
    assert admin.delete("/domains/" + dom).status == 200


def test_aliases(admin):
    dom = "al-" + util.token("d").lower() + ".test"
    assert admin.post("/domains", {"name": dom}).status == 201
    src, dst = f"team@{dom}", f"alice@{DOMAIN}"
    r = admin.post("/aliases", {"source": src, "destination": dst})
    assert r.status == 201, r
    error_of(admin.post("/aliases", {"source": src, "destination": dst}), 409)
    error_of(admin.post("/aliases", {"source": "bad", "destination": dst}), 400, "source")
    error_of(admin.post("/aliases", {"source": src, "destination": "bad"}), 400, "destination")
    error_of(admin.post("/aliases", {"source": src, "destination": f"nobody@{DOMAIN}"}), 400,
             "destination")
    error_of(admin.post("/aliases", {"source": f"x@nothere-{dom}", "destination": dst}), 400,
             "source")
    r = admin.post("/aliases", {"source": f"@{dom}", "destination": dst})  # catch-all
    assert r.status == 201, r
    got = admin.get(f"/aliases?domain={dom}").json["aliases"]
    assert {(a["source"], a["destination"]) for a in got} == {(src, dst), (f"@{dom}", dst)}
    assert admin.get("/aliases").status == 200
    error_of(admin.get("/aliases?domain=nothere.test"), 400, "domain")
    for s in (src, f"@{dom}"):
        r = admin.delete(f"/aliases?source={q(s)}&destination={q(dst)}")
        assert r.status == 200, r
    error_of(admin.delete(f"/aliases?source={q(src)}&destination={q(dst)}"), 404)
    error_of(admin.delete(f"/aliases?source={q(src)}"), 400, "destination")
    assert admin.get(f"/aliases?domain={dom}").json["aliases"] == []
    assert admin.delete("/domains/" + dom).status == 200


def test_listeners_bad_input(admin):
    r = admin.get("/listeners")
    assert r.status == 200
    by = {l["name"]: l for l in r.json["listeners"]}
    assert by["pop3"]["protocol"] == "pop3" and by["pop3"]["tls"] == "starttls"
    for port in (0, 65536, -1, 100000):
        error_of(admin.patch("/listeners/pop3", {"port": port}), 400, "port")
    error_of(admin.patch("/listeners/pop3", {"port": "110"}), 400, "port")
    error_of(admin.patch("/listeners/pop3", {"tls": "ssl"}), 400, "tls")
    error_of(admin.patch("/listeners/pop3", {"enabled": 1}), 400, "enabled")
    error_of(admin.patch("/listeners/pop3", {}), 400)
    error_of(admin.patch("/listeners/nosuch", {"enabled": False}), 404)
    # a port another listener uses
    error_of(admin.patch("/listeners/pop3", {"port": by["pop3s"]["port"]}), 400, "port")
    assert admin.get("/listeners").json["listeners"] == r.json["listeners"]


def pop3_greets(port):
    try:
        with util.Raw(port, timeout=5) as c:
            return c.readline().startswith(b"+OK")
    except (OSError, EOFError):
        return False


@pytest.mark.timeout(90)
def test_listener_patch_moves_pop3_live(admin, ports):
    old = ports["pop3"]
    new = util.free_port()
    assert pop3_greets(old)
    try:
        r = admin.patch("/listeners/pop3", {"port": new})
        assert r.status == 200, r
        util.wait_for(lambda: pop3_greets(new), 30, interval=0.2, what=f"POP3 on new port {new}")
        util.wait_for(lambda: not util.port_open(old), 30, interval=0.2, what="old port closed")
        got = {l["name"]: l for l in admin.get("/listeners").json["listeners"]}["pop3"]
        assert got["port"] == new and got["enabled"] is True
    finally:
        r = admin.patch("/listeners/pop3", {"port": old})
        assert r.status == 200, r
        util.wait_for(lambda: pop3_greets(old), 30, interval=0.2, what="POP3 back on its port")


def test_queue(admin, ctl):
    r = admin.get("/queue")
    assert r.status == 200, r
    assert isinstance(r.json["queue"], list) and r.json["truncated"] is False
    assert len(r.json["queue"]) == len(ctl.queue())
    for item in r.json["queue"]:
        assert {"id", "sender", "recipient", "state", "attempts", "next_attempt",
                "last_error"} <= set(item)


def test_audit_log(admin):
    dom = "audit-" + util.token("d").lower() + ".test"
    assert admin.post("/domains", {"name": dom}).status == 201
    assert admin.delete("/domains/" + dom).status == 200
    r = admin.get("/audit?limit=20")
    assert r.status == 200, r
    entries = r.json["entries"]
    assert entries[0]["action"] == "domain del" and entries[0]["detail"] == dom
    assert entries[0]["admin"] == ADMIN_USER
    assert entries[1]["action"] == "domain add"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entries[0]["at"])
    assert any(e["action"] == "login" for e in admin.get("/audit?limit=500").json["entries"])
    assert len(admin.get("/audit?limit=1").json["entries"]) == 1
    error_of(admin.get("/audit?limit=x"), 400, "limit")


# --------------------------------------------------------------------------
# first admin (last: restarts the daemon)


@pytest.mark.timeout(120)
def test_first_admin_generated_password(site, daemon, port):
    daemon.stop()
    site.pg.psql("DELETE FROM admins")
    base_env = util.Daemon.env
    daemon.env = lambda: {k: v for k, v in base_env(daemon).items()
                          if k != "POSTERN_ADMIN_PASSWORD"}
    try:
        daemon.start()
        util.wait_for(lambda: "admin panel: " in daemon.log_text(), 30, what="admin line")
        lines = [l for l in daemon.log_text().splitlines() if l.startswith("admin panel: ")]
        assert len(lines) == 1, lines
        m = re.fullmatch(rf"admin panel: http://{HOST}:{port}/ user admin password (\S+)",
                         lines[0])
        assert m, lines[0]
        util.wait_for(lambda: util.port_open(port), 30, what="admin port")
        c = Client(port)
        assert c.login(ADMIN_USER, m.group(1)).status == 200
        # printed once: a restart with an admin present says nothing
        daemon.stop()
        daemon.start()
        assert "admin panel: " not in daemon.log_text()
    finally:
        daemon.stop()
        del daemon.env
        site.pg.psql("DELETE FROM admins")
        daemon.start()
        util.wait_for(lambda: util.port_open(port), 30, what="admin port")
        assert "admin panel: " in daemon.log_text()
        assert Client(port).login().status == 200
