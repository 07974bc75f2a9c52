"""The dashboard's live state and /metrics (docs/API.md "Dashboard",
"Metrics"): each listener's state and open connections read from the core
(real sockets opened and closed), a port that cannot be bound shown with its
error while the old port keeps serving, recent failed mail logins (poplib
with a wrong password), certificate expiry warnings, and the Prometheus text
(format checked line by line; counters moved by a real SMTP delivery and a
failed login) behind a session or the bearer token."""

import poplib
import re
import socket
import time

import pytest

import certs
import util
from test_api import Client, admin, error_of, port  # noqa: F401 (fixtures)
from util import DOMAIN, HOST, METRICS_TOKEN

PROM_LINE = re.compile(r'^[a-z_:][a-z0-9_:]*(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? -?[0-9.e+]+$')


def dashboard(admin):
    r = admin.get("/dashboard")
    assert r.status == 200, r
    return r.json


def listener(admin, name):
    return next(x for x in dashboard(admin)["listeners"] if x["name"] == name)


def metrics(port, token=METRICS_TOKEN, cookie=None):
    c = Client(port)
    h = {}
    if token:
        h["Authorization"] = f"Bearer {token}"
    if cookie:
        c.cookie = cookie
    return c.request("GET", "/metrics", headers=h)


def parse(text):
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        assert PROM_LINE.match(line), line
        name, value = line.rsplit(" ", 1)
        out[name] = float(value)
    return out


def test_listeners_live_state_and_connections(admin, ports):
    d = dashboard(admin)
    by = {x["name"]: x for x in d["listeners"]}
    for name in util.LISTENERS:
        assert by[name]["state"] == "up", by[name]
        assert by[name]["live_port"] == ports[name]
    base = listener(admin, "pop3")["connections"]
    socks = []
    try:
        for _ in range(3):
            s = socket.create_connection((HOST, ports["pop3"]), timeout=10)
            assert s.recv(100).startswith(b"+OK")
            socks.append(s)
        util.wait_for(lambda: listener(admin, "pop3")["connections"] == base + 3, 10,
                      what="three more POP3 connections counted")
    finally:
        for s in socks:
            s.close()
    util.wait_for(lambda: listener(admin, "pop3")["connections"] == base, 10,
                  what="connections closed")


@pytest.mark.timeout(120)
def test_bind_error_shown_old_port_kept(admin, ports):
    blocker = socket.socket()
    blocker.bind((HOST, 0))
    blocker.listen(1)
    taken = blocker.getsockname()[1]
    try:
        assert admin.patch("/listeners/pop3", {"port": taken}).status == 200
        util.wait_for(lambda: listener(admin, "pop3")["error"] != "", 15,
                      what="the bind error on the dashboard")
        x = listener(admin, "pop3")
        assert x["port"] == taken and x["live_port"] == ports["pop3"], x
        assert x["state"] == "up" and f"still on port {ports['pop3']}" in x["error"], x
        s = socket.create_connection((HOST, ports["pop3"]), timeout=10)
        assert s.recv(100).startswith(b"+OK")
        s.close()
    finally:
        assert admin.patch("/listeners/pop3", {"port": ports["pop3"]}).status == 200
        blocker.close()
    util.wait_for(lambda: listener(admin, "pop3")["error"] == "", 15, what="pop3 back")


def test_failed_logins_and_counters(admin, port, ports, alice):
    before = parse(metrics(port).body.decode())
    user = f"nobody-{util.token()}@{DOMAIN}"
    with pytest.raises(poplib.error_proto):
        util.pop3_open(ports, user, "wrong-password-1")
    util.wait_for(lambda: any(f["user"] == user for f in dashboard(admin)["auth_failures"]), 10,
                  what="the failed login on the dashboard")
    f = next(f for f in dashboard(admin)["auth_failures"] if f["user"] == user)
    assert f["listener"] == "pop3s" and f["peer"] == HOST and f["at"].endswith("Z")
    _, msg = util.make_msg("someone@remote.test", alice[0])
    util.mx_send(ports["smtp"], "someone@remote.test", [alice[0]], msg)
    after = parse(metrics(port).body.decode())
    assert after["postern_auth_failures_total"] >= before["postern_auth_failures_total"] + 1
    assert after["postern_messages_accepted_total"] == before["postern_messages_accepted_total"] + 1
    assert (after["postern_messages_delivered_total"] ==
            before["postern_messages_delivered_total"] + 1)


def test_metrics_text_and_access(admin, port, ports):
    r = metrics(port)
    assert r.status == 200, r
    assert r.header("Content-Type").startswith("text/plain; version=0.0.4")
    text = r.body.decode()
    m = parse(text)
    for name in util.LISTENERS:
        (up,) = [v for k, v in m.items()
                 if k.startswith(f'postern_listener_up{{listener="{name}",')]
        assert up == 1, name
        assert m[f'postern_listener_connections{{listener="{name}"}}'] >= 0
    for g in ("postern_domains", "postern_accounts", "postern_queue_messages",
              "postern_storage_used_bytes", "postern_db_workers", "postern_web_db_pool_size",
              "postern_database_up", "postern_db_jobs_in_flight"):
        assert g in m, g
    assert m["postern_database_up"] == 1 and m["postern_domains"] >= 2
    assert any(k.startswith("postern_certificate_not_after_seconds{") and v > time.time()
               for k, v in m.items())
    # every sample has its HELP and TYPE
    for name in {k.split("{")[0] for k in m}:
        assert f"# TYPE {name} " in text and f"# HELP {name} " in text, name
    assert metrics(port, token=None).status == 401
    assert metrics(port, token="wrong").status == 401
    assert metrics(port, token=METRICS_TOKEN + "x").status == 401
    assert metrics(port, token=None, cookie=admin.cookie).status == 200


def test_certificate_expiry_warning(admin):
    soon = certs.Chain(["soon.expiring.test"], not_after=certs.now() + 5 * certs.DAY)
    r = admin.post("/certificates", {"cert_pem": soon.chain_pem(), "key_pem": soon.key_pem()})
    assert r.status == 201, r
    cid = r.json["id"]
    try:
        warn = dashboard(admin)["cert_warnings"]
        (w,) = [c for c in warn if c["id"] == cid]
        assert 4 <= w["days_left"] <= 5 and w["names"] == ["soon.expiring.test"]
    finally:
        assert admin.delete(f"/certificates/{cid}").status == 200
    assert not [c for c in dashboard(admin)["cert_warnings"] if c["id"] == cid]
