"""Group commit (core/work batches, db_deliver_batch): many messages sent at
once from many threads, to one mailbox and to several, with an account near
its quota in the mix. Every message answered 250 is stored exactly once in
each of its mailboxes, UIDs ascend without gaps, the over-quota messages got
452 4.2.2 and nothing of them was stored, while the others of the same batch
were; used_bytes matches what is stored."""

import smtplib
import subprocess
import threading
import time

import pytest

import util
from util import DOMAIN, HOST, REMOTE_DOMAIN

SENDER = f"gc@{REMOTE_DOMAIN}"


def send_one(port, rcpts, msg):
    """One SMTP transaction on its own connection: ("rcpt"|"data", code)."""
    s = smtplib.SMTP(HOST, port, timeout=60)
    try:
        s.ehlo("client.test")
        code, _ = s.mail(SENDER)
        assert code == 250, code
        for r in rcpts:
            code, _ = s.rcpt(r)
            if code != 250:
                s.rset()
                return "rcpt", code
        code, text = s.data(msg)
        return "data", code, text
    finally:
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            s.close()


def mailbox_state(site, address):
    """(uids in order, sum of sizes, used_bytes, uidnext) of address's INBOX."""
    local = address.split("@")[0]
    out = site.pg.psql(
        "SELECT coalesce(string_agg(m.uid::text, ',' ORDER BY m.uid), ''),"
        " coalesce(sum(m.size), 0), a.used_bytes, x.uidnext"
        " FROM accounts a JOIN mailboxes x ON x.account_id = a.id AND x.name = 'INBOX'"
        " LEFT JOIN messages m ON m.mailbox_id = x.id"
        f" WHERE lower(a.local_part) = lower('{local}')"
        " GROUP BY a.used_bytes, x.uidnext").strip()
    uids, total, used, uidnext = out.split("|")
    return ([int(u) for u in uids.split(",")] if uids else []), int(total), int(used), int(uidnext)


def hold_inbox_lock(site, address):
    """A psql session holding the INBOX row of address FOR UPDATE, so that
    deliveries queue up behind it and the workers then take them in
    batches. Returns the process: write COMMIT to release."""
    local = address.split("@")[0]
    p = subprocess.Popen(
        site.pg._as_pg([site.pg.bindir / "psql", "-h", site.pg.sock, "-U", "postgres", "-d",
                        "postern", "-XAtq", "-v", "ON_ERROR_STOP=1"]),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    p.stdin.write("BEGIN;\nSELECT x.id FROM mailboxes x JOIN accounts a ON a.id = x.account_id"
                  f" WHERE lower(a.local_part) = lower('{local}') AND x.name = 'INBOX'"
                  " FOR UPDATE;\n\\echo locked\n")
    p.stdin.flush()
    assert p.stdout.readline().strip() != "", "psql did not lock the INBOX row"
    assert p.stdout.readline().strip() == "locked"
    return p


def release(p):
    p.stdin.write("COMMIT;\n")
    p.stdin.close()
    p.wait(30)


@pytest.mark.timeout(300)
def test_group_commit_many_threads(daemon, site, ports):
    big, _ = site.new_user("gcbig")		# most messages: one hot mailbox
    others = [site.new_user("gco")[0] for _ in range(3)]
    quota_addr = f"gcquota{util.token()}@{DOMAIN}"
    site.ctl.ok("user", "add", quota_addr, "--quota", "7000", input="Quota-password-1\n")
    body = b"g" * 70 + b"\r\n"

    # (recipients, message-id, raw message) for every message to send.
    plan = []
    for i in range(120):
        if i % 6 == 5:
            rcpts = [quota_addr]
        elif i % 6 == 4:
            rcpts = [others[i % 3]]
        elif i % 12 == 3:
            rcpts = [big, others[(i // 12) % 3]]	# two mailboxes, one message
        else:
            rcpts = [big]
        msgid, msg = util.make_msg(SENDER, rcpts[0], subject=f"gc {i}", body=body * 25)
        plan.append((rcpts, msgid, msg))

    results = [None] * len(plan)
    lock = threading.Lock()
    next_i = [0]

    def worker(_):
        while True:
            with lock:
                i = next_i[0]
                next_i[0] += 1
            if i >= len(plan):
                return
            results[i] = send_one(ports["smtp"], plan[i][0], plan[i][2])

    # Hold the hot mailbox for a moment so deliveries pile up in the queue
    # and the workers take them in batches.
    holder = hold_inbox_lock(site, big)
    try:
        t = threading.Thread(target=util.run_threads, args=(24, worker), daemon=True)
        t.start()
        time.sleep(2.0)
    finally:
        release(holder)
    t.join(240)
    assert not t.is_alive(), "senders did not finish"
    assert all(r is not None for r in results), results

    stored = {a: [] for a in [big, quota_addr] + others}
    quota_refused = 0
    for (rcpts, msgid, _), r in zip(plan, results):
        if r[0] == "data" and r[1] == 250:
            for a in rcpts:
                stored[a].append(msgid)
        else:
            # Over quota, at RCPT (already full) or after DATA (would
            # not fit): 452 4.2.2. Nothing else may fail.
            assert rcpts == [quota_addr], (rcpts, r)
            assert r[1] == 452, r
            if r[0] == "data":
                assert r[2].startswith(b"4.2.2"), r
            quota_refused += 1
    assert quota_refused > 0, "the quota account never filled up"
    assert 0 < len(stored[quota_addr]) <= 3, stored[quota_addr]

    # Batches did happen (the debug log of the delivery job).
    assert "group commit:" in daemon.log_text(), "no delivery batch was formed"

    for a, want in stored.items():
        pw = site.users.get(a, "Quota-password-1")
        ids = util.pop3_ids(ports, a, pw)
        assert sorted(ids) == sorted(want), (a, len(ids), len(want))
        assert len(set(ids)) == len(ids), f"{a}: a message stored twice"
        uids, total, used, uidnext = mailbox_state(site, a)
        # Unique, ascending, no gaps: a rolled-back delivery gave its
        # UID back along with everything else of its savepoint.
        assert uids == list(range(1, len(want) + 1)), (a, uids)
        assert uidnext == len(want) + 1, (a, uidnext)
        assert used == total, (a, used, total)


def _send_held(site, ports, hold, plan, wait=1.5):
    """Sends every (rcpts, msgid, msg) of plan at once, each on its own
    connection, while hold's INBOX row is locked, so that they queue up
    and go as one batch; returns the results in plan order."""
    out = {}

    def send_all():
        out["r"] = util.run_threads(len(plan), lambda i: send_one(ports["smtp"], plan[i][0],
                                                                  plan[i][2]))
    holder = hold_inbox_lock(site, hold)
    try:
        t = threading.Thread(target=send_all, daemon=True)
        t.start()
        time.sleep(wait)
    finally:
        release(holder)
    t.join(120)
    assert "r" in out, "senders did not finish"
    return out["r"]


def test_group_commit_over_quota_in_batch(daemon, site, ports):
    """Eight messages for one account with room for three, queued behind a
    held INBOX row so they share batches: three are stored (250), five get
    452 4.2.2 and store nothing, and the stored ones have UIDs 1..3."""
    addr = f"gcroom{util.token()}@{DOMAIN}"
    site.ctl.ok("user", "add", addr, "--quota", "7000", input="Quota-password-1\n")
    body = b"r" * 70 + b"\r\n"
    plan = []
    for i in range(8):
        msgid, msg = util.make_msg(SENDER, addr, subject=f"room {i}", body=body * 25)
        assert 1700 < len(msg) < 2050, len(msg)	# + ~250 of trace fields: 3 fit in 7000
        plan.append(([addr], msgid, msg))
    r = _send_held(site, ports, addr, plan)
    ok = [plan[i][1] for i, x in enumerate(r) if x[:2] == ("data", 250)]
    refused = [x for x in r if x[:2] != ("data", 250)]
    assert len(ok) == 3, r
    assert all(x[:2] == ("data", 452) and x[2].startswith(b"4.2.2") for x in refused), r
    assert sorted(util.pop3_ids(ports, addr, "Quota-password-1")) == sorted(ok)
    uids, total, used, uidnext = mailbox_state(site, addr)
    assert uids == [1, 2, 3] and uidnext == 4 and used == total, (uids, uidnext, used, total)
    # nothing of the refused ones was left behind
    orphans = site.pg.psql("SELECT count(*) FROM blobs b WHERE NOT EXISTS"
                           " (SELECT 1 FROM messages m WHERE m.blob_id = b.id)"
                           " AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.blob_id = b.id)")
    assert orphans.strip() == "0", orphans


def test_group_commit_over_quota_alone_in_batch(daemon, site, ports):
    """A message with two local recipients, one of them over quota, queued
    with others: it alone gets 452 and is stored for neither; the others
    of the batch are stored."""
    hot, hot_pw = site.new_user("gchot")
    full = f"gcfull{util.token()}@{DOMAIN}"
    site.ctl.ok("user", "add", full, "--quota", "3000", input="Quota-password-1\n")
    body = b"f" * 70 + b"\r\n"
    _, first = util.make_msg(SENDER, full, body=body * 25)
    assert util.mx_send(ports["smtp"], SENDER, [full], first) == {}

    plan = []
    for i in range(8):
        rcpts = [hot, full] if i == 3 else [hot]
        msgid, msg = util.make_msg(SENDER, rcpts[0], subject=f"q {i}", body=body * 25)
        plan.append((rcpts, msgid, msg))
    r = _send_held(site, ports, hot, plan)
    assert r[3][:2] == ("data", 452), r[3]
    assert all(x[:2] == ("data", 250) for i, x in enumerate(r) if i != 3), r
    ids = util.pop3_ids(ports, hot, hot_pw)
    assert sorted(ids) == sorted(m for i, (_, m, _) in enumerate(plan) if i != 3)
    assert len(util.pop3_ids(ports, full, "Quota-password-1")) == 1
    uids, total, used, uidnext = mailbox_state(site, hot)
    assert uids == list(range(1, 8)) and used == total, (uids, used, total)
