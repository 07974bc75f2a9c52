"""A small DNSSEC-signed authoritative DNS server (UDP and TCP) for one zone,
for the DANE tests (RFC 7672): dnspython signs every RRset with one Ed25519
key (RFC 8080) and answers with RRSIGs when the query sets DO, NSEC records
proving NODATA and NXDOMAIN (RFC 4035 3.1.3). Its DNSKEY is the trust
anchor posternd gets (POSTERN_DNS_TRUST_ANCHOR); dnsmasq forwards the zone
here. Python 3.11 + Debian's python3-dnspython and python3-cryptography."""

import socketserver
import struct
import threading
import time

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from cryptography.hazmat.primitives.asymmetric import ed25519

class SignedZone:
    def __init__(self, origin, records):
        """records: list of (name, type, text)"""
        self.origin = dns.name.from_text(origin)
        self.key = ed25519.Ed25519PrivateKey.generate()
        self.dnskey = dns.dnssec.make_dnskey(self.key.public_key(), dns.dnssec.Algorithm.ED25519, flags=257)
        self.rrsets = {}
        def add(name, rtype, text, ttl=300):
            n = dns.name.from_text(name, self.origin) if not name.endswith('.') else dns.name.from_text(name)
            t = dns.rdatatype.from_text(rtype)
            rs = self.rrsets.setdefault((n, t), dns.rrset.RRset(n, dns.rdataclass.IN, t))
            rs.update_ttl(ttl)
            rs.add(dns.rdata.from_text(dns.rdataclass.IN, t, text, origin=self.origin, relativize=False))
        add('@', 'SOA', 'ns.%s hostmaster.%s 1 3600 600 86400 60' % (origin, origin), 60)
        add('@', 'NS', 'ns.%s' % origin)
        self.rrsets[(self.origin, dns.rdatatype.DNSKEY)] = dns.rrset.from_rdata(self.origin, 300, self.dnskey)
        for r in records:
            add(*r)
        names = sorted({n for n, _ in self.rrsets})
        for i, n in enumerate(names):
            types = sorted({t for (m, t) in self.rrsets if m == n} | {dns.rdatatype.NSEC, dns.rdatatype.RRSIG})
            nxt = names[(i + 1) % len(names)]
            text = nxt.to_text() + ' ' + ' '.join(dns.rdatatype.to_text(t) for t in types)
            self.rrsets[(n, dns.rdatatype.NSEC)] = dns.rrset.from_text(n, 60, 'IN', 'NSEC', text)
        self.names = names
        self.sigs = {}
        now = int(time.time())
        for k, rs in self.rrsets.items():
            sig = dns.dnssec.sign(rs, self.key, self.origin, self.dnskey, inception=now - 3600, expiration=now + 86400 * 2)
            self.sigs[k] = dns.rrset.from_rdata(rs.name, rs.ttl, sig)

    def anchor_text(self):
        return '%s DNSKEY %s' % (self.origin.to_text(), self.dnskey.to_text())

    def answer(self, q):
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA
        do = q.ednsflags & dns.flags.DO
        qn, qt = q.question[0].name, q.question[0].rdtype
        def put(section, key):
            section.append(self.rrsets[key])
            if do:
                section.append(self.sigs[key])
        if not qn.is_subdomain(self.origin):
            r.set_rcode(dns.rcode.REFUSED)
            return r
        if (qn, qt) in self.rrsets:
            put(r.answer, (qn, qt))
            return r
        put(r.authority, (self.origin, dns.rdatatype.SOA))
        if qn in self.names:
            if do:
                put(r.authority, (qn, dns.rdatatype.NSEC))
            return r
        r.set_rcode(dns.rcode.NXDOMAIN)
        if do:
            prev = max((n for n in self.names if n < qn), default=self.names[-1])
            put(r.authority, (prev, dns.rdatatype.NSEC))
            wc = dns.name.from_text('*', self.origin)
            prevw = max((n for n in self.names if n < wc), default=self.names[-1])
            if prevw != prev:
                put(r.authority, (prevw, dns.rdatatype.NSEC))
        return r

def serve(zone, ip, port):
    class U(socketserver.BaseRequestHandler):
        def handle(self):
            data, sock = self.request
            try:
                q = dns.message.from_wire(data)
                r = zone.answer(q)
                if q.edns >= 0:
                    r.use_edns(0, q.ednsflags & dns.flags.DO, 4096)
                sock.sendto(r.to_wire(max_size=4096), self.client_address)
            except Exception as e:  # a test server: report and keep serving
                print("dns error", e)
    class T(socketserver.BaseRequestHandler):
        def handle(self):
            try:
                ln = struct.unpack('!H', self.request.recv(2))[0]
                data = b''
                while len(data) < ln:
                    data += self.request.recv(ln - len(data))
                q = dns.message.from_wire(data)
                r = zone.answer(q)
                if q.edns >= 0:
                    r.use_edns(0, q.ednsflags & dns.flags.DO, 65535)
                w = r.to_wire()
                self.request.sendall(struct.pack('!H', len(w)) + w)
            except Exception as e:
                print("dns tcp error", e)
    u = socketserver.ThreadingUDPServer((ip, port), U)
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    t = socketserver.ThreadingTCPServer((ip, port), T)
    for s in (u, t):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    return u, t
