"""Timing probe, not part of `make test` (pytest collects only test_*.py):
a 10,000-message INBOX (grown by COPY), then plain SELECT, FETCH 1:* (FLAGS),
UID FETCH (CHANGEDSINCE VANISHED) and SELECT (QRESYNC) after 10 flag changes
and 10 expunges. Run: cd tests/integration && POSTERN_ROOT=$PWD/../..
/usr/bin/python3 -m pytest -q -s -p no:cacheprovider bench_imap_sync.py"""
import re
import time

from test_imap_sync import Imap, connect, append, highest, box  # noqa

def test_measure(daemon, ports, box):
    user, pw = box
    m = connect(ports, user, pw)
    append(m)
    m.select("INBOX")
    while True:
        typ, d = m.select("INBOX")
        n = int(d[0])
        if n >= 10000:
            break
        m.copy(f"1:{min(n, 10000 - n)}", "INBOX")
    m.logout()
    c = Imap(ports, user, pw)
    c.ok("ENABLE QRESYNC")
    t = time.perf_counter(); _, u = c.ok("SELECT INBOX"); t_sel = time.perf_counter() - t
    h0 = highest(u)
    uv = int(re.search(r"UIDVALIDITY (\d+)", " ".join(u)).group(1))
    n = [x for x in u if x.endswith("EXISTS")][0]
    c.ok("STORE 100:109 +FLAGS (\\Seen)")
    c.ok("STORE 200:209 +FLAGS.SILENT (\\Deleted)")
    c.ok("EXPUNGE")
    t = time.perf_counter(); _, u = c.ok("FETCH 1:* (FLAGS)"); t_full = time.perf_counter() - t
    assert len(u) >= 9990
    t = time.perf_counter(); _, u = c.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {h0} VANISHED)"); t_cs = time.perf_counter() - t
    assert len(u) == 11, u[:3]
    t = time.perf_counter(); _, u = c.ok(f"SELECT INBOX (QRESYNC ({uv} {h0}))"); t_qr = time.perf_counter() - t
    print(f"\nMEASURE {n}: SELECT {t_sel*1000:.1f} ms; FETCH 1:* (FLAGS) {t_full*1000:.1f} ms; "
          f"UID FETCH (CHANGEDSINCE VANISHED) {t_cs*1000:.1f} ms; SELECT QRESYNC {t_qr*1000:.1f} ms")
    c.close()
