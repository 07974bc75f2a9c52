"""Scale-out: two posternd nodes on one PostgreSQL (docs/OPERATIONS.md, "Two
nodes"). Node A is the module's daemon on 127.0.0.1, node B a second
posternd on 127.0.0.2 with the same listener table (same ports, another
address, as on a second host). LISTEN/NOTIFY carries mailbox changes across
nodes: an IMAP IDLE on A sees a delivery made through B within 1 s, and a
message delivered through A is read over POP3 from B."""

import smtplib
import time

import pytest

import util
from util import DOMAIN, REMOTE_DOMAIN, Daemon, Raw

NODE_B = "127.0.0.2"


class NodeDaemon(Daemon):
    def __init__(self, *a, host, **kw):
        super().__init__(*a, **kw)
        self.host = host

    def env(self):
        e = super().env()
        e["POSTERN_LISTEN_ADDRESS"] = self.host
        e["POSTERN_ADMIN_LISTEN"] = f"{self.host}:{self.ports['admin']}"
        return e


@pytest.fixture(scope="module")
def node_b(site, daemon):
    d = NodeDaemon(site.pg.conninfo, site.data_dir, site.logs, site.ports, host=NODE_B)
    d.start(wait=False)
    util.wait_for(lambda: not d.alive() or util.port_open(site.ports["smtp"], host=NODE_B), 60,
                  what="node B's SMTP listener")
    assert d.alive(), d.log_tail()
    yield d
    d.stop()
    report = d.sanitizer_report()
    assert report is None, report


def send_via(host, port, rcpt):
    _, msg = util.make_msg(f"x@{REMOTE_DOMAIN}", rcpt)
    s = smtplib.SMTP(host, port, timeout=30)
    try:
        assert s.sendmail(f"x@{REMOTE_DOMAIN}", [rcpt], msg) == {}
    finally:
        s.quit()
    return msg


def test_idle_on_a_sees_delivery_through_b(site, ports, node_b):
    addr, pw = site.new_user("node")
    with Raw(ports["imaps"], tls=True) as c:
        c.readline()
        c.send(f"a LOGIN {addr} {pw}\r\n")
        assert c.readline().startswith(b"a OK")
        c.send(b"b SELECT INBOX\r\n")
        while not c.readline().startswith(b"b OK"):
            pass
        c.send(b"c IDLE\r\n")
        assert c.readline().startswith(b"+ ")
        time.sleep(0.2)
        send_via(NODE_B, ports["smtp"], addr)
        t_sent = time.monotonic()
        c.settimeout(5)
        line = c.readline()
        assert line == b"* 1 EXISTS\r\n", line
        assert time.monotonic() - t_sent < 1.0, time.monotonic() - t_sent
        assert c.readline() == b"* 1 RECENT\r\n"
        c.send(b"DONE\r\n")
        assert c.readline().startswith(b"c OK")
    assert "delivered" in node_b.log_text()


def test_pop3_on_b_reads_delivery_through_a(site, ports, node_b):
    addr, pw = site.new_user("node")
    msg = send_via(util.HOST, ports["smtp"], addr)
    p = util.poplib.POP3_SSL(NODE_B, ports["pop3s"], context=util.client_ctx(), timeout=30)
    try:
        p.user(addr)
        p.pass_(pw)
        _, lines, _ = p.retr(1)
        util.strip_trace(b"\r\n".join(lines) + b"\r\n", msg)
        p.quit()
    finally:
        p.close()
