"""Idle queue runners (core/queue/runner.c) sleep: with nothing queued they
wait for a NOTIFY or LIMIT_QUEUE_IDLE_MS, they do not poll the queue table.
(STMT_QUEUE_NEXT_DUE once answered 0 seconds for an empty queue, so two
runners claimed about 40 times a second on an idle box.)"""

import time

import pytest

import util


@pytest.fixture(scope="module")
def daemon_env():
    return {"POSTERN_QUEUE_RUNNERS": "2"}


def queue_scans(site):
    """Scans of the queue table so far (the claim and next-due queries)."""
    out = site.pg.psql("SELECT pg_stat_clear_snapshot();"
                       " SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0)"
                       " FROM pg_stat_user_tables WHERE relname = 'queue'")
    return int(out.split()[-1])


def test_idle_runners_do_not_poll(daemon, site):
    # rows earlier modules left (remote recipients of their submissions)
    site.pg.psql("DELETE FROM queue")
    util.wait_for(lambda: util.port_open(site.ports["smtp"]), 30, what="posternd up")
    time.sleep(2)		# the runners see the empty queue and go to sleep
    before = queue_scans(site)
    time.sleep(4)
    after = queue_scans(site)
    # two runners polling every 50 ms made ~300 scans in 4 s; asleep, none
    assert after - before <= 4, (before, after)
