"""The admin panel in a real browser: runs tests/browser/panel.test.js
(node --test, playwright-core driving Debian's headless chromium) against
this module's posternd. The scenario itself (login, domain and account added
in the UI, SMTP in / POP3S out, POP3 port moved on the Ports page) is in the
JavaScript file; this test passes it the addresses and checks it passed.
A CA-signed certificate is uploaded on the Certificates page; afterwards
this test checks that IMAPS and POP3S serve it (Python's ssl module,
verified against the test CA). Screenshots land in tests/browser/artifacts/."""

import os
import shutil
import subprocess

import pytest

import certs
import util
from util import ADMIN_PASSWORD, ADMIN_USER, HOST

BROWSER_DIR = util.ROOT / "tests/browser"
CHROMIUM = os.environ.get("POSTERN_CHROMIUM", "/usr/bin/chromium")


def missing_tools():
    missing = []
    if shutil.which("node") is None:
        missing.append("node")
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(CHROMIUM)
    if not (BROWSER_DIR / "node_modules/playwright-core").is_dir():
        missing.append("tests/browser/node_modules (npm ci --prefix tests/browser)")
    return missing


@pytest.mark.timeout(240)
def test_admin_panel_in_chromium(daemon, ports, ctl, tmp_path):
    missing = missing_tools()
    if missing:
        pytest.fail("browser test needs: " + ", ".join(missing) + " (make test installs them)")
    util.wait_for(lambda: util.port_open(ports["admin"]), 30, what="admin panel port")
    new_pop3 = util.free_port()
    cert_name = "mail.browser.test"
    chain = certs.Chain([cert_name])
    (tmp_path / "chain.pem").write_text(chain.chain_pem())
    (tmp_path / "key.pem").write_text(chain.key_pem())
    env = dict(os.environ)
    env.update({
        "POSTERN_ADMIN_URL": f"http://{HOST}:{ports['admin']}/",
        "POSTERN_ADMIN_USER": ADMIN_USER,
        "POSTERN_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "POSTERN_SMTP_PORT": str(ports["smtp"]),
        "POSTERN_POP3_PORT": str(ports["pop3"]),
        "POSTERN_POP3S_PORT": str(ports["pop3s"]),
        "POSTERN_NEW_POP3_PORT": str(new_pop3),
        "POSTERN_ARTIFACTS": str(BROWSER_DIR / "artifacts"),
        "POSTERN_CHROMIUM": CHROMIUM,
        "POSTERN_CERT_FILE": str(tmp_path / "chain.pem"),
        "POSTERN_KEY_FILE": str(tmp_path / "key.pem"),
        "POSTERN_CERT_NAME": cert_name,
    })
    try:
        r = subprocess.run(["node", "--test", "--test-reporter=spec", "panel.test.js"],
                           cwd=BROWSER_DIR, env=env, capture_output=True, text=True,
                           timeout=200)
    finally:
        # Whatever happened in the browser, the POP3 listener goes back to the
        # port the rest of the suite expects.
        # the scenario turns on TOTP for the shared admin: off again for the
        # modules that follow
        ctl.run("admin", "totp-reset", ADMIN_USER)
        pop3 = ctl.listeners().get("pop3")
        if pop3 is not None and pop3[2] != str(ports["pop3"]):
            ctl.ok("listener", "set", "pop3", "--port", ports["pop3"])
    assert r.returncode == 0, (f"node --test panel.test.js exited {r.returncode}\n"
                               f"--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}")
    # the certificate uploaded in the browser is what the TLS ports serve now
    root = certs.pem(chain.root)
    for name in ("imaps", "pop3s"):
        util.wait_for(lambda: certs.served(ports[name], cert_name) == chain.der(), 15,
                      interval=0.2, what=f"{name} serving the uploaded certificate")
        peer = certs.verify_with(ports[name], cert_name, root)
        assert ("DNS", cert_name) in peer["subjectAltName"]
