/* panel.test.js - the admin panel (static/) driven in headless Debian chromium
 * through playwright-core: log in, add a domain and an account in the UI, mail
 * that account over SMTP and read it back over POP3S, move the POP3 listener
 * on the Ports page and check the new port greets "+OK" while the old one is
 * closed. Screenshots of every page go to artifacts/ (POSTERN_ARTIFACTS).
 * Run by tests/integration/test_browser.py, which starts posternd and passes
 * the addresses in POSTERN_* environment variables; `node --test`. */
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const tls = require("node:tls");
const { chromium } = require("playwright-core");

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is not set (run through test_browser.py)`);
  return v;
}

const HOST = "127.0.0.1";
const ADMIN_URL = need("POSTERN_ADMIN_URL");
const ADMIN_USER = need("POSTERN_ADMIN_USER");
const ADMIN_PASSWORD = need("POSTERN_ADMIN_PASSWORD");
const SMTP_PORT = Number(need("POSTERN_SMTP_PORT"));
const POP3_PORT = Number(need("POSTERN_POP3_PORT"));
const POP3S_PORT = Number(need("POSTERN_POP3S_PORT"));
const NEW_POP3_PORT = Number(need("POSTERN_NEW_POP3_PORT"));
const CERT_FILE = need("POSTERN_CERT_FILE");	/* a CA-signed chain made by test_browser.py */
const KEY_FILE = need("POSTERN_KEY_FILE");
const CERT_NAME = need("POSTERN_CERT_NAME");
const ACME_NAME = "acme." + CERT_NAME;
const ARTIFACTS = process.env.POSTERN_ARTIFACTS || path.join(__dirname, "artifacts");
const CHROMIUM = process.env.POSTERN_CHROMIUM || "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                       "--disable-background-networking", "--disable-component-update",
                       "--disable-sync"];

const tag = crypto.randomBytes(4).toString("hex");
const DOMAIN = `web${tag}.test`;
const ADDRESS = `reader@${DOMAIN}`;
const PASSWORD = `Web-pw-${tag}-9`;

let profile, context, page;
const pageErrors = [];
let expectBadUpload = false;	/* the certificate step sends a bad key on purpose */
let expectBadAcme = false;	/* the ACME step sends a bad hostname on purpose */
let expectTotpPrompt = false;	/* the login without a code is a 401 on purpose */

/* RFC 6238 TOTP (HMAC-SHA1, 30 s, 6 digits) of a base32 secret at a step. */
function totp(secret, step) {
  const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of secret.toUpperCase()) bits += alpha.indexOf(ch).toString(2).padStart(5, "0");
  const key = Buffer.alloc(Math.floor(bits.length / 8));
  for (let i = 0; i < key.length; i++) key[i] = parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const mac = crypto.createHmac("sha1", key).update(msg).digest();
  const off = mac[19] & 0x0f;
  return String((mac.readUInt32BE(off) & 0x7fffffff) % 1000000).padStart(6, "0");
}
let shotNo = 0;

async function shot(name) {
  shotNo += 1;
  const file = path.join(ARTIFACTS, `${String(shotNo).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

async function waitFor(pred, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

/* ---------- a tiny line client (SMTP, POP3) over TCP or TLS ---------- */

class Lines {
  constructor(sock) {
    this.sock = sock;
    this.buf = "";
    this.waiters = [];
    this.closed = false;
    this.error = null;
    sock.setEncoding("latin1");
    sock.on("data", (d) => { this.buf += d; this.wake(); });
    sock.on("end", () => { this.closed = true; this.wake(); });
    sock.on("close", () => { this.closed = true; this.wake(); });
    sock.on("error", (e) => { this.error = e; this.closed = true; this.wake(); });
  }

  static open(port, useTls, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      const sock = useTls
        ? tls.connect({ host: HOST, port, rejectUnauthorized: false, servername: "mail.example.test" })
        : net.connect({ host: HOST, port });
      const timer = setTimeout(() => { sock.destroy(); reject(new Error(`connect ${port}: timeout`)); }, timeoutMs);
      sock.once(useTls ? "secureConnect" : "connect", () => { clearTimeout(timer); resolve(new Lines(sock)); });
      sock.once("error", (e) => { clearTimeout(timer); reject(e); });
    });
  }

  wake() { const w = this.waiters; this.waiters = []; for (const f of w) f(); }

  async line(timeoutMs = 15000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.buf.indexOf("\r\n");
      if (i >= 0) {
        const l = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        return l;
      }
      if (this.closed) throw this.error || new Error(`connection closed; buffered ${JSON.stringify(this.buf)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no line within ${timeoutMs} ms; buffered ${JSON.stringify(this.buf)}`);
      await new Promise((r) => { this.waiters.push(r); setTimeout(r, left); });
    }
  }

  send(s) { this.sock.write(s, "latin1"); }

  /* One SMTP reply: [code, text of the last line]. */
  async reply() {
    for (;;) {
      const l = await this.line();
      assert.match(l, /^\d{3}([ -]|$)/, `bad SMTP reply line ${l}`);
      if (l.length === 3 || l[3] === " ") return [Number(l.slice(0, 3)), l.slice(4)];
    }
  }

  async smtp(cmd, want) {
    this.send(cmd + "\r\n");
    const [code, text] = await this.reply();
    assert.equal(code, want, `${cmd} -> ${code} ${text}`);
  }

  async pop(cmd) {
    this.send(cmd + "\r\n");
    const l = await this.line();
    assert.ok(l.startsWith("+OK"), `${cmd.startsWith("PASS") ? "PASS ..." : cmd} -> ${l}`);
    return l;
  }

  /* A multi-line POP3 body, dot-unstuffed, CRLF-joined. */
  async multi() {
    const out = [];
    for (;;) {
      let l = await this.line();
      if (l === ".") return out.join("\r\n") + "\r\n";
      if (l.startsWith(".")) l = l.slice(1);
      out.push(l);
    }
  }

  close() { this.sock.destroy(); }
}

async function smtpSend(port, from, to, message) {
  const c = await Lines.open(port, false);
  try {
    const [code] = await c.reply();
    assert.equal(code, 220);
    await c.smtp("EHLO client.test", 250);
    await c.smtp(`MAIL FROM:<${from}>`, 250);
    await c.smtp(`RCPT TO:<${to}>`, 250);
    await c.smtp("DATA", 354);
    const body = message.replace(/^\./gm, "..");
    await c.smtp(body + ".", 250);
    await c.smtp("QUIT", 221);
  } finally {
    c.close();
  }
}

/* Every message of the maildrop over POP3S. */
async function pop3sMessages(port, user, password) {
  const c = await Lines.open(port, true);
  try {
    assert.ok((await c.line()).startsWith("+OK"));
    await c.pop(`USER ${user}`);
    await c.pop(`PASS ${password}`);
    const count = Number((await c.pop("STAT")).split(" ")[1]);
    const out = [];
    for (let i = 1; i <= count; i++) {
      await c.pop(`RETR ${i}`);
      out.push(await c.multi());
    }
    await c.pop("QUIT");
    return out;
  } finally {
    c.close();
  }
}

/* True when the port accepts a connection and greets with "+OK". */
async function pop3Greets(port) {
  let c;
  try {
    c = await Lines.open(port, false, 3000);
    return (await c.line(5000)).startsWith("+OK");
  } catch (e) {
    return false;
  } finally {
    if (c) c.close();
  }
}

/* True when nothing accepts connections on the port. */
function portClosed(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: HOST, port });
    const timer = setTimeout(() => { s.destroy(); resolve(false); }, 3000);
    s.once("connect", () => { clearTimeout(timer); s.destroy(); resolve(false); });
    s.once("error", (e) => { clearTimeout(timer); resolve(e.code === "ECONNREFUSED"); });
  });
}

/* ---------- panel helpers ---------- */

async function gotoPage(name, label) {
  await page.click(`nav button[data-page="${name}"]`);
  await page.waitForSelector(`#page-${name}:not([hidden])`);
  await page.waitForLoadState("networkidle");
  await shot(label || name);
}

async function tableHasRow(tbody, firstCell) {
  return page.$$eval(`#${tbody} tr`, (rows, want) =>
    rows.some((r) => r.cells[0] && r.cells[0].textContent.trim() === want), firstCell);
}

/* ---------- the scenario ---------- */

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  for (const f of fs.readdirSync(ARTIFACTS))
    if (f.endsWith(".png")) fs.rmSync(path.join(ARTIFACTS, f));
  profile = fs.mkdtempSync(path.join(os.tmpdir(), "postern-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
  });
  context.setDefaultTimeout(20000);
  page = context.pages()[0] || await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  // Resource failures are checked through "response" below, with their URL.
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) pageErrors.push(m.text());
  });
  page.on("response", (r) => {
    const u = new URL(r.url());
    const expected = (u.pathname === "/api/v1/me" && r.status() === 401) ||	// before login
                     (u.pathname === "/favicon.ico" && r.status() === 404) ||	// not served
                     (u.pathname === "/api/v1/certificates" && r.status() === 400 && expectBadUpload) ||
                     (u.pathname === "/api/v1/certificates/acme" && r.status() === 400 && expectBadAcme) ||
                     (u.pathname === "/api/v1/login" && r.status() === 401 && expectTotpPrompt);
    if (r.status() >= 400 && !expected) pageErrors.push(`${r.request().method()} ${u.pathname}: ${r.status()}`);
  });
  page.on("dialog", (d) => d.dismiss());
});

after(async () => {
  if (context) await context.close();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
});

test("log in as admin", async () => {
  await page.goto(ADMIN_URL);
  await page.waitForSelector("#page-login:not([hidden])");
  await shot("login");
  await page.fill('#login-form input[name="username"]', ADMIN_USER);
  await page.fill('#login-form input[name="password"]', ADMIN_PASSWORD);
  await page.click('#login-form button[type="submit"]');
  await page.waitForSelector("#nav:not([hidden])");
  await page.waitForSelector("#page-dashboard:not([hidden])");
  await page.waitForSelector("#counts .card");
  assert.equal((await page.textContent("#whoami")).trim(), ADMIN_USER);
  await shot("dashboard");
});

test("every page renders", async () => {
  for (const name of ["dashboard", "domains", "accounts", "aliases", "ports", "certificates", "setup", "dns",
                      "queue", "audit", "security"])
    await gotoPage(name);
  const listeners = await page.$$eval("#port-list tr", (rows) => rows.map((r) => r.cells[0].textContent));
  assert.ok(listeners.includes("pop3") && listeners.includes("smtp"), JSON.stringify(listeners));
});

test("add a domain in the UI", async () => {
  await gotoPage("domains");
  await page.fill('#domain-form input[name="name"]', DOMAIN);
  await page.click('#domain-form button[type="submit"]');
  await waitFor(() => tableHasRow("domain-list", DOMAIN), 10000, `${DOMAIN} in the domain list`);
  assert.equal(await page.inputValue('#domain-form input[name="name"]'), "");
  await shot("domain-added");
});

test("add an account in the UI", async () => {
  await gotoPage("accounts");
  // other test modules may have made more accounts than one page shows:
  // list only this domain's (the search stays for the later usage check)
  await page.fill('#account-search input[name="q"]', DOMAIN);
  await page.fill('#account-form input[name="address"]', ADDRESS);
  await page.fill('#account-form input[name="password"]', PASSWORD);
  await page.fill('#account-form input[name="quota"]', "10");
  await page.click('#account-form button[type="submit"]');
  await waitFor(async () => (await page.$$eval('#account-form .error', (ps) => ps.some((p) => p.textContent))) ||
                            tableHasRow("account-list", ADDRESS), 10000, `${ADDRESS} in the account list`);
  const errors = await page.$$eval("#account-form .error", (ps) => ps.map((p) => p.textContent).filter(Boolean));
  assert.deepEqual(errors, []);
  assert.ok(await tableHasRow("account-list", ADDRESS));
  await shot("account-added");
});

test("mail the new account over SMTP, read it over POP3S", async () => {
  const msgid = `<browser-${tag}@client.test>`;
  const msg = [`From: <sender@remote.test>`, `To: <${ADDRESS}>`, `Subject: hello ${tag}`,
               `Date: ${new Date().toUTCString()}`, `Message-ID: ${msgid}`, "",
               "Hello from the browser test.", ".a line that starts with a dot", ""].join("\r\n");
  await smtpSend(SMTP_PORT, "sender@remote.test", ADDRESS, msg);
  let msgs = [];
  await waitFor(async () => { msgs = await pop3sMessages(POP3S_PORT, ADDRESS, PASSWORD); return msgs.length >= 1; },
                15000, `a message for ${ADDRESS}`);
  assert.equal(msgs.length, 1);
  assert.ok(msgs[0].endsWith(msg), `stored message does not end with the sent one:\n${msgs[0]}`);
  // The account page shows the usage.
  await gotoPage("accounts", "account-usage");
  const usage = await page.$$eval("#account-list tr", (rows, want) => {
    const r = rows.find((x) => x.cells[0].textContent.trim() === want);
    return r ? r.cells[1].textContent : "";
  }, ADDRESS);
  assert.match(usage, /of 10\.0 MiB/);
  assert.doesNotMatch(usage, /^0 B/);
});

async function setPop3Port(port) {
  await gotoPage("ports", `ports-before-${port}`);
  const row = page.locator("#port-list tr").filter({ has: page.locator("td:first-child", { hasText: /^pop3$/ }) });
  assert.equal(await row.count(), 1);
  await row.locator("input.port").fill(String(port));
  await row.locator("button", { hasText: "Apply" }).click();
  await page.waitForSelector("#notice:not([hidden])");
  assert.equal((await page.textContent("#notice")).trim(), "Listener pop3 updated.");
  assert.equal((await page.textContent("#ports-error")).trim(), "");
  await page.waitForFunction((p) => {
    for (const r of document.querySelectorAll("#port-list tr"))
      if (r.cells[0].textContent === "pop3") return r.querySelector("input.port").value === String(p);
    return false;
  }, port);
  await shot(`ports-after-${port}`);
}

test("move the POP3 port on the Ports page", async () => {
  assert.ok(await pop3Greets(POP3_PORT), `POP3 does not answer on ${POP3_PORT}`);
  await setPop3Port(NEW_POP3_PORT);
  try {
    await waitFor(() => pop3Greets(NEW_POP3_PORT), 30000, `POP3 on the new port ${NEW_POP3_PORT}`);
    await waitFor(() => portClosed(POP3_PORT), 30000, `the old port ${POP3_PORT} closed`);
    await gotoPage("dashboard", "dashboard-moved");
    const shown = await page.$$eval("#dash-listeners tr", (rows) =>
      rows.filter((r) => r.cells[0].textContent === "pop3").map((r) => r.cells[2].textContent));
    assert.deepEqual(shown, [String(NEW_POP3_PORT)]);
  } finally {
    // Put it back (the harness checks again and restores it with posternctl if this fails).
    await setPop3Port(POP3_PORT);
  }
  await waitFor(() => pop3Greets(POP3_PORT), 30000, `POP3 back on ${POP3_PORT}`);
});

test("a port that cannot be bound shows its error, the old port keeps serving", async () => {
  const blocker = net.createServer();
  await new Promise((r) => blocker.listen(0, HOST, r));
  const taken = blocker.address().port;
  try {
    await setPop3Port(taken);
    // the core rebinds asynchronously: reopen the page until it reports it
    const pop3State = () => page.$$eval("#port-list tr", (rows) =>
      rows.filter((r) => r.cells[0].textContent === "pop3").map((r) => r.cells[5].textContent)[0] || "");
    // Keep the text that matched: a click starts a new render of the table
    // (rows first, state column a request later), so reading it again races it.
    let text = "";
    await waitFor(async () => {
      await Promise.all([
        page.waitForResponse((r) => r.url().endsWith("/dashboard"), { timeout: 5000 }),
        page.click('nav button[data-page="ports"]'),
      ]);
      await sleep(100);
      text = await pop3State();
      return text.includes("still on port");
    }, 20000, "the bind error on the Ports page");
    assert.ok(text.includes(String(POP3_PORT)), text);
    await shot("ports-bind-error");
    assert.ok(await pop3Greets(POP3_PORT), "the old POP3 port stopped serving");
  } finally {
    await setPop3Port(POP3_PORT);
    await new Promise((r) => blocker.close(r));
  }
});

test("upload a certificate on the Certificates page", async () => {
  await gotoPage("certificates", "certificates-before");
  // a mismatched key first: the sentence appears next to the key field
  const other = fs.readFileSync(CERT_FILE, "utf8");
  await page.fill('#cert-form textarea[name="cert_pem"]', other);
  await page.fill('#cert-form textarea[name="key_pem"]', "not a key");
  expectBadUpload = true;
  await page.click('#cert-form button[type="submit"]');
  await page.waitForSelector('#cert-form .error[data-error="key_pem"]:not(:empty)');
  expectBadUpload = false;
  assert.match(await page.textContent('#cert-form .error[data-error="key_pem"]'), /no private key found/);
  await shot("certificate-bad-key");
  await page.fill('#cert-form textarea[name="key_pem"]', fs.readFileSync(KEY_FILE, "utf8"));
  await page.click('#cert-form button[type="submit"]');
  await waitFor(() => page.$$eval("#cert-list tr", (rows, want) =>
    rows.some((r) => r.cells[1].textContent.split(", ").includes(want)), CERT_NAME), 10000,
    `${CERT_NAME} in the certificate list`);
  const errors = await page.$$eval("#cert-form .error", (ps) => ps.map((p) => p.textContent).filter(Boolean));
  assert.deepEqual(errors, []);
  assert.equal(await page.inputValue('#cert-form textarea[name="cert_pem"]'), "");
  await shot("certificate-uploaded");
});

test("request a Let's Encrypt certificate on the Certificates page", async () => {
  await gotoPage("certificates");
  // a bad hostname first: the API's sentence appears next to the field
  await page.fill('#acme-form input[name="hostname"]', "not a host!");
  expectBadAcme = true;
  await page.click('#acme-form button[type="submit"]');
  await page.waitForSelector('#acme-form .error[data-error="hostname"]:not(:empty)');
  expectBadAcme = false;
  await page.fill('#acme-form input[name="hostname"]', ACME_NAME);
  await page.selectOption('#acme-form select[name="challenge"]', "tls-alpn-01");
  await page.click('#acme-form button[type="submit"]');
  // no CA runs here: the order stays requested (or fails); either way it is listed with its state
  await waitFor(() => page.$$eval("#acme-list tr", (rows, want) =>
    rows.some((r) => r.cells[1].textContent === want), ACME_NAME), 10000, `${ACME_NAME} in the ACME orders`);
  const order = await page.$$eval("#acme-list tr", (rows, want) =>
    rows.filter((r) => r.cells[1].textContent === want).map((r) => [...r.cells].map((c) => c.textContent))[0],
    ACME_NAME);
  assert.equal(order[2], "tls-alpn-01");
  assert.ok(["requested", "running", "failed"].includes(order[3]), JSON.stringify(order));
  const errors = await page.$$eval("#acme-form .error", (ps) => ps.map((p) => p.textContent).filter(Boolean));
  assert.deepEqual(errors, []);
  await shot("certificate-acme-order");
});

test("client setup and DNS records of the new domain", async () => {
  await gotoPage("setup", "setup-first-domain");
  await page.selectOption("#setup-domain", DOMAIN);
  await waitFor(() => page.$$eval("#setup-list tr", (rows) => rows.length > 0), 10000, "settings rows");
  await page.waitForLoadState("networkidle");
  const rows = await page.$$eval("#setup-list tr", (rs) => rs.map((r) => [...r.cells].map((c) => c.textContent)));
  assert.deepEqual(rows[0].slice(0, 3), ["incoming", "IMAP", "mail.example.test"]);
  assert.equal(rows[0][4], "SSL/TLS");
  assert.ok(rows.some((r) => r[0] === "outgoing" && r[4] === "SSL/TLS"), JSON.stringify(rows));
  await shot("client-setup");
  await gotoPage("dns", "dns-first-domain");
  await page.selectOption("#dns-domain", DOMAIN);
  await waitFor(() => page.$$eval("#dns-list tr", (rs, d) =>
    rs.some((r) => r.cells[0].textContent === "MX" && r.cells[1].textContent === d + "."), DOMAIN),
    10000, "the MX record of the new domain");
  const srv = await page.$$eval("#dns-list tr", (rs) =>
    rs.filter((r) => r.cells[0].textContent === "SRV").map((r) => r.cells[1].textContent.split(".")[0]));
  assert.deepEqual(srv, ["_submissions", "_imaps", "_pop3s", "_submission", "_imap", "_pop3"]);
  await shot("dns-records");
});

test("the audit log shows the changes", async () => {
  await gotoPage("audit", "audit-after");
  const text = await page.textContent("#audit-list");
  assert.ok(text.includes(DOMAIN), "the new domain is not in the audit log");
  assert.ok(text.includes(ADDRESS), "the new account is not in the audit log");
});

test("turn on two-factor login, log in again with a code", async () => {
  await gotoPage("security", "security-before");
  await page.click('#totp-enroll button[type="submit"]');
  await page.waitForSelector("#totp-setup:not([hidden])");
  const secret = (await page.textContent("#totp-secret")).trim();
  assert.match(secret, /^[A-Z2-7]{32}$/);
  await shot("security-enrol");
  const step = Math.floor(Date.now() / 30000);
  await page.fill('#totp-confirm input[name="code"]', totp(secret, step));
  await page.click('#totp-confirm button[type="submit"]');
  await page.waitForSelector("#totp-disable:not([hidden])");
  assert.match(await page.textContent("#totp-state"), /is on/);
  await shot("security-on");
  await page.click("#logout");
  await page.waitForSelector("#page-login:not([hidden])");
  await page.fill('#login-form input[name="username"]', ADMIN_USER);
  await page.fill('#login-form input[name="password"]', ADMIN_PASSWORD);
  expectTotpPrompt = true;
  await page.click('#login-form button[type="submit"]');
  await page.waitForSelector("#login-totp:not([hidden])");
  expectTotpPrompt = false;
  await shot("login-totp");
  await page.fill('#login-form input[name="totp"]', totp(secret, step + 1));
  await page.click('#login-form button[type="submit"]');
  await page.waitForSelector("#nav:not([hidden])");
  // test_browser.py removes the second factor again with posternctl admin totp-reset
});

test("log out", async () => {
  await page.click("#logout");
  await page.waitForSelector("#page-login:not([hidden])");
  await shot("logged-out");
  assert.deepEqual(pageErrors, []);
});
