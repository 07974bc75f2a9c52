"""The panel over HTTPS (POSTERN_ADMIN_TLS_LISTEN; libmicrohttpd with GnuTLS
and a certificate callback): the same UI and API as HTTP with the security
headers, the session cookie marked Secure only there, the certificate taken
from the certificates table, and a newly uploaded default certificate served
on the next handshake without a restart (checked with Python's ssl and curl
verifying against the test CA)."""

import http.client
import json
import socket
import ssl
import subprocess

import pytest

import certs
import util
from util import ADMIN_PASSWORD, ADMIN_USER, HOST, HOSTNAME


@pytest.fixture(scope="module")
def https_port(daemon, ports):
    util.wait_for(lambda: util.port_open(ports["admin_tls"]), 30, what="HTTPS panel port")
    return ports["admin_tls"]


def unverified():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def request(port, method, path, body=None, headers=None, tls=True, ctx=None, sni=HOSTNAME):
    c = http.client.HTTPConnection(HOST, port, timeout=30)
    if tls:
        # connected by hand so that the SNI name is sni, not the address
        c.sock = (ctx or unverified()).wrap_socket(
            socket.create_connection((HOST, port), timeout=30), server_hostname=sni)
    h = dict(headers or {})
    raw = None
    if body is not None:
        raw = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    try:
        c.request(method, path, body=raw, headers=h)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def login(port, tls):
    st, h, body = request(port, "POST", "/api/v1/login",
                          {"username": ADMIN_USER, "password": ADMIN_PASSWORD}, tls=tls)
    assert st == 200, body
    cookie = h["set-cookie"]
    token = cookie.split(";")[0].split("=", 1)[1]
    return cookie, token, json.loads(body)["csrf"]


def test_ui_and_api_over_https(https_port):
    st, h, body = request(https_port, "GET", "/")
    assert st == 200 and b"Postern" in body
    assert h["x-frame-options"] == "DENY" and "default-src 'self'" in h["content-security-policy"]
    st, h, body = request(https_port, "GET", "/api/v1/me")
    assert st == 401 and json.loads(body)["error"]


def test_secure_cookie_only_over_https(https_port, ports):
    cookie, token, csrf = login(https_port, tls=True)
    attrs = [a.strip() for a in cookie.split(";")]
    assert "Secure" in attrs and "HttpOnly" in attrs and "SameSite=Strict" in attrs
    st, _, body = request(https_port, "GET", "/api/v1/domains",
                          headers={"Cookie": f"postern_session={token}"})
    assert st == 200, body
    cookie, _, _ = login(ports["admin"], tls=False)
    assert "Secure" not in [a.strip() for a in cookie.split(";")]


@pytest.mark.timeout(120)
def test_new_default_certificate_served_live(https_port, ports, tmp_path):
    _, token, csrf = login(https_port, tls=True)
    auth = {"Cookie": f"postern_session={token}", "X-CSRF-Token": csrf}
    chain = certs.Chain(["panel.https.test"])
    st, _, body = request(https_port, "GET", "/api/v1/certificates", headers=auth)
    main = next(c for c in json.loads(body)["certificates"] if HOSTNAME in c["names"])
    st, _, body = request(https_port, "POST", "/api/v1/certificates",
                          {"cert_pem": chain.chain_pem(), "key_pem": chain.key_pem(),
                           "default": True}, headers=auth)
    assert st == 201, body
    new_id = json.loads(body)["id"]
    try:
        root = certs.pem(chain.root)
        for sni in ("panel.https.test", "unknown.https.test"):
            util.wait_for(lambda: certs.served(https_port, sni) == chain.der(), 15, interval=0.2,
                          what=f"HTTPS serving the new certificate for {sni}")
        peer = certs.verify_with(https_port, "panel.https.test", root)
        assert ("DNS", "panel.https.test") in peer["subjectAltName"]
        # curl, verifying the chain and the name
        (tmp_path / "root.pem").write_text(root)
        r = subprocess.run(["curl", "-sS", "--cacert", str(tmp_path / "root.pem"),
                            "--resolve", f"panel.https.test:{https_port}:{HOST}",
                            f"https://panel.https.test:{https_port}/api/v1/me"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert "error" in json.loads(r.stdout)
    finally:
        # the default goes to the suite's hostname; the test certificate goes
        request(https_port, "PATCH", f"/api/v1/certificates/{main['id']}", {"default": True},
                headers=auth)
        st, _, body = request(https_port, "DELETE", f"/api/v1/certificates/{new_id}",
                              headers=auth)
        assert st == 200, body
    util.wait_for(lambda: certs.served(https_port, "panel.https.test") != chain.der(), 15,
                  what="HTTPS back on the old certificate")
    assert HOSTNAME in certs.served_cert(https_port, HOSTNAME).subject.rfc4514_string()
