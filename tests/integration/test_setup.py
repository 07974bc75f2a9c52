"""Client setup (docs/API.md "Client setup"): the settings table of a domain
from the live listeners table, and the automatic configuration documents
parsed as a client would: Thunderbird autoconfig (both paths, by address and
by autoconfig.<domain> Host), Outlook POX autodiscover, the Apple
.mobileconfig plist. Implicit TLS is listed before STARTTLS (RFC 8314),
plain-text and MX listeners never appear, a disabled listener disappears at
once, and an address full of XML metacharacters stays well-formed."""

import http.client
import plistlib
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

from test_api import Client, admin, error_of, port  # noqa: F401 (fixtures)
from util import DOMAIN, HOST, HOSTNAME

AD_RESP = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}"


def raw(port, method, path, body=None, headers=None):
    c = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def servers(root, tag):
    return [(s.get("type"), int(s.findtext("port")), s.findtext("socketType"),
             s.findtext("hostname"), s.findtext("username"), s.findtext("authentication"))
            for s in root.iter(tag)]


def expected_incoming(ports):
    return [("imap", ports["imaps"], "SSL"), ("imap", ports["imap"], "STARTTLS"),
            ("pop3", ports["pop3s"], "SSL"), ("pop3", ports["pop3"], "STARTTLS")]


def expected_outgoing(ports):
    return [("smtp", ports["smtps"], "SSL"), ("smtp", ports["submission"], "STARTTLS"),
            ("smtp", ports["submission-alt"], "STARTTLS")]


def test_settings_table(admin, ports):
    r = admin.get(f"/client-setup?domain={DOMAIN}")
    assert r.status == 200, r
    assert r.json["server"] == HOSTNAME and r.json["domain"] == DOMAIN
    got = [(s["protocol"], s["port"], s["security"]) for s in r.json["settings"]]
    want = [(p, port_, "SSL/TLS" if sec == "SSL" else sec)
            for p, port_, sec in expected_incoming(ports) + expected_outgoing(ports)]
    assert got == want
    assert ports["smtp"] not in [s["port"] for s in r.json["settings"]], "MX port offered"
    error_of(admin.get("/client-setup?domain=nothere.test"), 404, "domain")
    error_of(admin.get("/client-setup?domain=bad..name"), 400, "domain")
    error_of(admin.get("/client-setup"), 400, "domain")


@pytest.mark.parametrize("path", ["/mail/config-v1.1.xml",
                                  "/.well-known/autoconfig/mail/config-v1.1.xml"])
def test_thunderbird_autoconfig(port, ports, path):
    q = urllib.parse.urlencode({"emailaddress": f"alice@{DOMAIN}"})
    st, h, body = raw(port, "GET", f"{path}?{q}")
    assert st == 200, body
    assert h["content-type"].startswith("application/xml")
    assert h["x-content-type-options"] == "nosniff"
    root = ET.fromstring(body)
    assert root.tag == "clientConfig" and root.get("version") == "1.1"
    prov = root.find("emailProvider")
    assert prov.get("id") == DOMAIN and prov.findtext("domain") == DOMAIN
    inc = servers(root, "incomingServer")
    assert [(t, p, s) for t, p, s, *_ in inc] == expected_incoming(ports)
    out = servers(root, "outgoingServer")
    assert [(t, p, s) for t, p, s, *_ in out] == expected_outgoing(ports)
    for _, _, _, host, user, auth in inc + out:
        assert host == HOSTNAME and user == "%EMAILADDRESS%" and auth == "password-cleartext"


def test_autoconfig_by_host_header_and_errors(port):
    st, _, body = raw(port, "GET", "/mail/config-v1.1.xml",
                      headers={"Host": f"autoconfig.{DOMAIN}"})
    assert st == 200 and ET.fromstring(body).find("emailProvider").get("id") == DOMAIN
    st, _, _ = raw(port, "GET", "/mail/config-v1.1.xml")
    assert st == 400
    st, _, _ = raw(port, "GET", "/mail/config-v1.1.xml?emailaddress=x@nothere.test")
    assert st == 404
    st, _, _ = raw(port, "GET", "/mail/config-v1.1.xml?emailaddress=not-an-address")
    assert st == 400
    st, _, _ = raw(port, "POST", "/mail/config-v1.1.xml")
    assert st == 405


def autodiscover_request(email):
    return (f'<?xml version="1.0" encoding="utf-8"?>\r\n'
            f'<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/'
            f'outlook/requestschema/2006">\r\n  <Request>\r\n'
            f'    <EMailAddress>{email}</EMailAddress>\r\n'
            f'    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/'
            f'outlook/responseschema/2006a</AcceptableResponseSchema>\r\n'
            f'  </Request>\r\n</Autodiscover>\r\n').encode()


@pytest.mark.parametrize("path", ["/autodiscover/autodiscover.xml",
                                  "/Autodiscover/Autodiscover.xml"])
def test_outlook_autodiscover(port, ports, path):
    st, h, body = raw(port, "POST", path, body=autodiscover_request(f"bob@{DOMAIN}"),
                      headers={"Content-Type": "text/xml"})
    assert st == 200, body
    root = ET.fromstring(body)
    acc = root.find(f"{AD_RESP}Response/{AD_RESP}Account")
    assert acc.findtext(f"{AD_RESP}AccountType") == "email"
    assert acc.findtext(f"{AD_RESP}Action") == "settings"
    protos = {p.findtext(f"{AD_RESP}Type"): p for p in acc.findall(f"{AD_RESP}Protocol")}
    assert list(protos) == ["IMAP", "POP3", "SMTP"]
    for t, name in (("IMAP", "imaps"), ("POP3", "pop3s"), ("SMTP", "smtps")):
        p = protos[t]
        assert int(p.findtext(f"{AD_RESP}Port")) == ports[name]
        assert p.findtext(f"{AD_RESP}Server") == HOSTNAME
        assert p.findtext(f"{AD_RESP}LoginName") == f"bob@{DOMAIN}"
        assert p.findtext(f"{AD_RESP}SSL") == "on" and p.findtext(f"{AD_RESP}Encryption") == "SSL"
    st, _, _ = raw(port, "POST", path, body=b"<Autodiscover/>")
    assert st == 400
    st, _, _ = raw(port, "POST", path, body=autodiscover_request("x@nothere.test"))
    assert st == 404
    st, _, _ = raw(port, "GET", path)
    assert st == 405


def test_apple_mobileconfig(port, ports):
    email = f"alice@{DOMAIN}"
    st, h, body = raw(port, "GET", "/apple/mobileconfig?" + urllib.parse.urlencode({"email": email}))
    assert st == 200, body
    assert h["content-type"] == "application/x-apple-aspen-config"
    assert h["content-disposition"] == f'attachment; filename="{DOMAIN}.mobileconfig"'
    p = plistlib.loads(body)
    assert p["PayloadType"] == "Configuration" and p["PayloadVersion"] == 1
    assert len(p["PayloadUUID"]) == 36
    (acc,) = p["PayloadContent"]
    assert acc["PayloadType"] == "com.apple.mail.managed"
    assert acc["EmailAccountType"] == "EmailTypeIMAP" and acc["EmailAddress"] == email
    assert acc["IncomingMailServerHostName"] == HOSTNAME
    assert acc["IncomingMailServerPortNumber"] == ports["imaps"]
    assert acc["IncomingMailServerUseSSL"] is True
    assert acc["OutgoingMailServerPortNumber"] == ports["smtps"]
    assert acc["OutgoingMailServerUseSSL"] is True
    assert acc["IncomingMailServerUsername"] == email
    assert acc["OutgoingPasswordSameAsIncomingPassword"] is True
    assert acc["PayloadUUID"] != p["PayloadUUID"]
    st, _, _ = raw(port, "GET", "/apple/mobileconfig")
    assert st == 400


def test_xml_metacharacters_stay_text(port):
    email = f"a&b'c<d@{DOMAIN}"
    st, _, body = raw(port, "POST", "/autodiscover/autodiscover.xml",
                      body=autodiscover_request("a&amp;b'c@" + DOMAIN))
    # the request's text is taken verbatim (entities are not decoded): a
    # local part with '&' and ';' is not a valid address, refused cleanly
    assert st == 400
    st, _, body = raw(port, "GET", "/apple/mobileconfig?" +
                      urllib.parse.urlencode({"email": f"a&b'c@{DOMAIN}"}))
    assert st == 200, body
    assert plistlib.loads(body)["PayloadContent"][0]["EmailAddress"] == f"a&b'c@{DOMAIN}"
    st, _, _ = raw(port, "GET", "/apple/mobileconfig?" + urllib.parse.urlencode({"email": email}))
    assert st == 400


def test_disabled_listener_disappears(admin, port, ports):
    q = urllib.parse.urlencode({"emailaddress": f"alice@{DOMAIN}"})
    assert admin.patch("/listeners/pop3s", {"enabled": False}).status == 200
    try:
        st, _, body = raw(port, "GET", f"/mail/config-v1.1.xml?{q}")
        got = [(t, p) for t, p, *_ in servers(ET.fromstring(body), "incomingServer")]
        assert ("pop3", ports["pop3s"]) not in got and ("pop3", ports["pop3"]) in got
    finally:
        assert admin.patch("/listeners/pop3s", {"enabled": True}).status == 200
