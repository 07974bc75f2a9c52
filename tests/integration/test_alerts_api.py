"""Abuse alerts and held queue rows in the admin API (docs/API.md "Alerts",
"Queue"): an account made to exceed its outbound limit over real SMTP
submission gets its queue held and alerts recorded; GET /api/v1/alerts lists
them newest first (bounded by ?limit=), POST /alerts/{id}/ack and POST
/queue/{id}/release need a session (401) and the CSRF token (403), are
audited, and agree with posternctl. The daemon runs with
POSTERN_TRUSTED_NETWORKS empty so loopback submission is limited."""

import smtplib

import pytest

import util
from test_api import Client, admin, error_of, port  # noqa: F401 (fixtures)
from util import HOST, LIMITS


@pytest.fixture(scope="module")
def daemon_env():
    return {"POSTERN_TRUSTED_NETWORKS": ""}


@pytest.fixture(scope="module")
def held(daemon, ctl, site):
    """An account over its hourly limit until its queue is held:
    (address, [held queue ids])."""
    user, pw = site.new_user("held")
    ctl.ok("user", "limits", user, "--per-hour", "2")
    s = smtplib.SMTP(HOST, site.ports["submission"], timeout=30)
    try:
        s.ehlo("client.test")
        s.starttls(context=util.client_ctx())
        s.ehlo("client.test")
        s.login(user, pw)
        for i in range(2):
            s.sendmail(user, [f"victim{i}@remote.test"], util.make_msg(user, "x@remote.test")[1])
        for _ in range(LIMITS["LIMIT_SEND_HOLD_AFTER"] + 2):
            assert s.mail(user)[0] == 451
            s.rset()
    finally:
        s.quit()
    ids = [q[0] for q in ctl.queue() if q[1] == user and q[3] == "held"]
    assert len(ids) == 2, ctl.queue()
    return user, ids


def test_needs_session_and_csrf(port, admin, held):
    anon = Client(port)
    error_of(anon.get("/alerts"), 401)
    error_of(anon.post("/alerts/1/ack"), 401)
    error_of(anon.post("/queue/1/release"), 401)
    alert = admin.get("/alerts").json["alerts"][0]
    error_of(admin.post(f"/alerts/{alert['id']}/ack", csrf=False), 403)
    error_of(admin.post(f"/queue/{held[1][0]}/release", csrf=False), 403)
    # nothing changed
    assert admin.get("/alerts").json["alerts"][0]["acknowledged"] is False
    assert all(q["state"] == "held" for q in admin.get("/queue").json["queue"]
               if str(q["id"]) in held[1])
    error_of(admin.get(f"/alerts/{alert['id']}/ack"), 405)


def test_list_newest_first_and_bounded(admin, ctl, held):
    user, _ = held
    r = admin.get("/alerts")
    assert r.status == 200, r
    alerts = r.json["alerts"]
    mine = [a for a in alerts if a["account"] == user]
    kinds = [a["kind"] for a in mine]
    assert kinds.count("queue_held") == 1, mine
    assert kinds.count("send_limit") == LIMITS["LIMIT_SEND_HOLD_AFTER"], mine
    assert "2 queued" in mine[kinds.index("queue_held")]["detail"]
    ids = [int(a["id"]) for a in alerts]
    assert ids == sorted(ids, reverse=True)
    assert set(mine[0]) == {"id", "at", "kind", "account", "detail", "acknowledged"}
    assert r.json["unacknowledged"] == sum(not a["acknowledged"] for a in alerts)
    # the same rows posternctl shows
    cli = ctl.rows("alerts", "list")
    assert [a[0] for a in cli][:len(alerts)] == [a["id"] for a in alerts]
    one = admin.get("/alerts?limit=1")
    assert one.status == 200 and len(one.json["alerts"]) == 1 and one.json["truncated"] is True
    assert one.json["alerts"][0]["id"] == alerts[0]["id"]
    for bad in ("0", "501", "x", "-1"):
        error_of(admin.get("/alerts?limit=" + bad), 400, "limit")


def test_stored_text_returned_as_data(admin, site):
    payload = "<img src=x onerror=alert(1)>\"'&"
    site.pg.psql("INSERT INTO alerts (kind, detail) VALUES ('send_limit', "
                 f"'{payload.replace(chr(39), chr(39) * 2)}')")
    a = admin.get("/alerts?limit=1").json["alerts"][0]
    assert a["detail"] == payload and a["account"] == ""


def test_ack(admin, ctl, site, held):
    user, _ = held
    alert = next(a for a in admin.get("/alerts").json["alerts"]
                 if a["account"] == user and a["kind"] == "queue_held")
    r = admin.post(f"/alerts/{alert['id']}/ack")
    assert r.status == 200, r
    assert r.json == {"id": int(alert["id"]), "acknowledged": True}
    again = next(a for a in admin.get("/alerts").json["alerts"] if a["id"] == alert["id"])
    assert again["acknowledged"] is True
    assert [a[5] for a in ctl.rows("alerts", "list") if a[0] == alert["id"]] == ["acknowledged"]
    audit = admin.get("/audit?limit=5").json["entries"]
    assert any(e["action"] == "alert_ack" and e["detail"] == alert["id"]
               and e["admin"] == util.ADMIN_USER for e in audit), audit
    error_of(admin.post("/alerts/999999999/ack"), 404, "id")
    for bad in ("0", "x", "12a", "99999999999999999999"):
        error_of(admin.post(f"/alerts/{bad}/ack"), 404, "id")
    error_of(admin.post("/alerts//ack"), 404)


def test_release(admin, ctl, held):
    user, ids = held
    q = [e for e in admin.get("/queue").json["queue"] if str(e["id"]) in ids]
    assert len(q) == 2 and all(e["state"] == "held" and e["sender"] == user for e in q)
    r = admin.post(f"/queue/{ids[0]}/release")
    assert r.status == 200, r
    assert r.json == {"id": int(ids[0]), "released": 1}
    states = {q[0]: q[3] for q in ctl.queue()}
    assert states[ids[0]] == "queued" and states[ids[1]] == "held"
    # no longer held: refused, and nothing changes
    error_of(admin.post(f"/queue/{ids[0]}/release"), 404, "id")
    error_of(admin.post("/queue/999999999/release"), 404, "id")
    audit = admin.get("/audit?limit=5").json["entries"]
    assert any(e["action"] == "queue release" and e["detail"].startswith(ids[0] + " ")
               for e in audit), audit
