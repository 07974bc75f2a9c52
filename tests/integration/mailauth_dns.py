"""A dnsmasq from Debian serving the test zones of the mail authentication
tests (SPF, DKIM, DMARC) on a free loopback port: `local=/test/` makes every
unknown name under .test NXDOMAIN. Also points dnspython (python3-spf's
resolver) at it."""

import os
import subprocess
import tempfile
import time
from pathlib import Path

import dns.resolver

import util


def _txt(name, value):
    parts = [value[i:i + 255] for i in range(0, len(value), 255)] or [""]
    return "txt-record=%s,%s" % (name, ",".join('"%s"' % p.replace('"', '\\"') for p in parts))


class Dnsmasq:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="postern-dns-"))
        self.port = util.free_port()
        self.lines = []
        self.proc = None

    def txt(self, name, value):
        self.lines.append(_txt(name, value))

    def a(self, name, ip):
        self.lines.append(f"host-record={name},{ip}")

    def mx(self, name, host, pref=10):
        self.lines.append(f"mx-host={name},{host},{pref}")

    def start(self):
        conf = self.dir / "dnsmasq.conf"
        conf.write_text("\n".join([
            f"port={self.port}", "listen-address=127.0.0.1", "bind-interfaces", "no-resolv",
            "no-hosts", "no-negcache", "local=/test/", "cache-size=0",
        ] + self.lines) + "\n")
        cmd = ["dnsmasq", "-k", f"--conf-file={conf}", "--pid-file=", "--log-facility=-"]
        if util.is_root():
            cmd.append("--user=root")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = ["127.0.0.1"]
        r.port = self.port
        r.lifetime = 5
        deadline = time.monotonic() + 10
        while True:
            try:
                r.resolve("probe-does-not-exist.test", "A")
            except dns.resolver.NXDOMAIN:
                break
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("dnsmasq did not start: " +
                                         (self.proc.stderr.read().decode() if self.proc.poll()
                                          is not None else "timeout"))
                time.sleep(0.1)
        dns.resolver.default_resolver = r
        return self

    @property
    def server(self):
        return f"127.0.0.1@{self.port}"

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        dns.resolver.default_resolver = None
