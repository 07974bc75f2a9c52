/* app.js - the Postern admin panel. Talks to the JSON API under /api/v1
 * (docs/API.md) with the session cookie and the CSRF token from login/me.
 * Every piece of data reaches the page through textContent or
 * createElement: never innerHTML, so stored text stays inert. */
"use strict";

const state = { csrf: "", user: "", page: "dashboard", accOffset: 0, accLimit: 50, accTotal: 0, acmeTimer: 0 };

function $(id) { return document.getElementById(id); }

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const td = document.createElement("td");
    if (c instanceof Node) td.appendChild(c); else td.textContent = c === undefined ? "" : String(c);
    tr.appendChild(td);
  }
  return tr;
}

function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

function bytes(n) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + u[i];
}

async function api(method, path, body) {
  const opt = { method, headers: {}, credentials: "same-origin" };
  if (method !== "GET" && method !== "HEAD") opt.headers["X-CSRF-Token"] = state.csrf;
  if (body !== undefined) {
    opt.headers["Content-Type"] = "application/json";
    opt.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch("/api/v1" + path, opt);
  } catch (e) {
    return { ok: false, status: 0, data: { error: "the server cannot be reached", field: "" } };
  }
  let data = {};
  try { data = await res.json(); } catch (e) { data = {}; }
  if (res.status === 401 && path !== "/login" && path !== "/me") showLogin("Your session has ended; please log in again.");
  return { ok: res.ok, status: res.status, data };
}

function notice(text) {
  const n = $("notice");
  n.textContent = text || "";
  n.hidden = !text;
}

/* Shows an API error next to its field (data-error="field"), or the form's general slot. */
function formErrors(form, r) {
  for (const p of form.querySelectorAll(".error")) p.textContent = "";
  if (!r || r.ok) return;
  const field = (r.data && r.data.field) || "";
  let slot = form.querySelector('.error[data-error="' + CSS.escape(field) + '"]');
  if (!slot) slot = form.querySelector('.error[data-error=""]');
  if (slot) slot.textContent = (r.data && r.data.error) || ("request failed (" + r.status + ")");
}

function confirmDelete(what) { return window.confirm("Delete " + what + "?"); }

/* ---------- pages ---------- */

function showPage(name) {
  state.page = name;
  for (const s of document.querySelectorAll("section.page")) s.hidden = s.id !== "page-" + name;
  for (const b of document.querySelectorAll("nav button[data-page]"))
    b.classList.toggle("active", b.dataset.page === name);
  const loader = loaders[name];
  if (loader) loader();
}

function showLogin(msg) {
  state.csrf = "";
  $("nav").hidden = true;
  notice(msg || "");
  for (const s of document.querySelectorAll("section.page")) s.hidden = s.id !== "page-login";
}

function showApp() {
  $("nav").hidden = false;
  $("whoami").textContent = state.user;
  notice("");
  showPage(state.page);
}

const loaders = {
  async dashboard() {
    const r = await api("GET", "/dashboard");
    if (!r.ok) return;
    const counts = $("counts");
    clear(counts);
    const labels = { domains: "domains", accounts: "accounts", aliases: "aliases", messages: "messages",
                     storage_bytes: "storage used", queue: "queued for delivery", sessions: "admin sessions" };
    for (const k of Object.keys(labels)) {
      const c = el("div", null, "card");
      const v = r.data.counts[k];
      c.appendChild(el("div", k === "storage_bytes" ? bytes(v) : v, "n"));
      c.appendChild(el("div", labels[k], "l"));
      counts.appendChild(c);
    }
    const warn = $("cert-warnings");
    clear(warn);
    for (const c of r.data.cert_warnings || []) {
      const text = c.days_left < 0
        ? "Certificate " + c.id + " (" + c.names.join(", ") + ") expired on " + c.not_after.slice(0, 10) + "."
        : "Certificate " + c.id + " (" + c.names.join(", ") + ") expires in " + c.days_left + " days (" + c.not_after.slice(0, 10) + ").";
      warn.appendChild(el("p", text, "notice warn"));
    }
    loadAlerts();
    const tb = $("dash-listeners");
    clear(tb);
    for (const l of r.data.listeners) {
      let state;
      if (l.state === "up") state = el("span", l.error ? "up (" + l.error + ")" : "up", "up");
      else if (l.state === "off") state = el("span", "off", "off");
      else state = el("span", "error: " + (l.error || "not bound"), "warn");
      tb.appendChild(row([l.name, l.protocol, l.live_port && l.live_port !== l.port ? l.port + " (serving " + l.live_port + ")" : l.port,
                          l.tls, state, l.state === "up" ? l.connections : ""]));
    }
    const fb = $("dash-failures");
    clear(fb);
    for (const f of r.data.auth_failures || []) fb.appendChild(row([f.at, f.user, f.peer, f.listener]));
  },

  async domains() {
    const r = await api("GET", "/domains");
    if (!r.ok) return;
    const tb = $("domain-list");
    clear(tb);
    for (const d of r.data.domains) {
      const del = el("button", "Delete", "danger");
      del.type = "button";
      del.addEventListener("click", async () => {
        if (!confirmDelete(d.name)) return;
        const x = await api("DELETE", "/domains/" + encodeURIComponent(d.name));
        formErrors($("domain-form"), x);
        if (x.ok) loaders.domains();
      });
      tb.appendChild(row([d.name, d.active ? "yes" : "no", del]));
    }
  },

  async accounts() {
    const q = $("account-search").elements.q.value.trim();
    const params = new URLSearchParams({ offset: state.accOffset, limit: state.accLimit });
    if (q) params.set("q", q);
    const r = await api("GET", "/accounts?" + params.toString());
    if (!r.ok) return;
    state.accTotal = r.data.total;
    const first = r.data.total === 0 ? 0 : state.accOffset + 1;
    $("account-range").textContent = first + "–" + (state.accOffset + r.data.accounts.length) + " of " + r.data.total;
    const tb = $("account-list");
    clear(tb);
    for (const a of r.data.accounts) {
      const usage = el("div");
      usage.appendChild(el("div", bytes(a.used_bytes) + (a.quota_bytes ? " of " + bytes(a.quota_bytes) : " (no quota)")));
      if (a.quota_bytes) {
        const bar = el("div", null, "bar");
        bar.appendChild(el("span", null, "w" + Math.min(10, Math.floor(10 * a.used_bytes / a.quota_bytes))));
        usage.appendChild(bar);
      }
      const actions = el("div");
      const toggle = el("button", a.active ? "Disable" : "Enable");
      toggle.type = "button";
      toggle.addEventListener("click", async () => {
        const x = await api("PATCH", "/accounts/" + encodeURIComponent(a.address), { active: !a.active });
        formErrors($("account-form"), x);
        if (x.ok) loaders.accounts();
      });
      const pw = el("button", "Reset password");
      pw.type = "button";
      pw.addEventListener("click", async () => {
        const p = window.prompt("New password for " + a.address);
        if (!p) return;
        const x = await api("PATCH", "/accounts/" + encodeURIComponent(a.address), { password: p });
        formErrors($("account-form"), x);
        if (x.ok) notice("Password of " + a.address + " changed.");
      });
      const quota = el("button", "Quota");
      quota.type = "button";
      quota.addEventListener("click", async () => {
        const m = window.prompt("Quota for " + a.address + " in MiB (0 = none)", String(Math.round(a.quota_bytes / 1048576)));
        if (m === null) return;
        const n = Number(m);
        const x = await api("PATCH", "/accounts/" + encodeURIComponent(a.address),
                            { quota_bytes: Number.isInteger(n) && n >= 0 ? n * 1048576 : -1 });
        formErrors($("account-form"), x);
        if (x.ok) loaders.accounts();
      });
      const del = el("button", "Delete", "danger");
      del.type = "button";
      del.addEventListener("click", async () => {
        if (!confirmDelete(a.address + " and all its mail")) return;
        const x = await api("DELETE", "/accounts/" + encodeURIComponent(a.address));
        formErrors($("account-form"), x);
        if (x.ok) loaders.accounts();
      });
      actions.append(toggle, " ", pw, " ", quota, " ", del);
      tb.appendChild(row([a.address, usage, a.active ? "yes" : "no", actions]));
    }
  },

  async aliases() {
    const r = await api("GET", "/aliases");
    if (!r.ok) return;
    const tb = $("alias-list");
    clear(tb);
    for (const a of r.data.aliases) {
      const del = el("button", "Delete", "danger");
      del.type = "button";
      del.addEventListener("click", async () => {
        if (!confirmDelete(a.source + " → " + a.destination)) return;
        const p = new URLSearchParams({ source: a.source, destination: a.destination });
        const x = await api("DELETE", "/aliases?" + p.toString());
        formErrors($("alias-form"), x);
        if (x.ok) loaders.aliases();
      });
      tb.appendChild(row([a.source.startsWith("@") ? a.source + " (catch-all)" : a.source, a.destination, del]));
    }
  },

  async ports() {
    const r = await api("GET", "/listeners");
    if (!r.ok) return;
    const tb = $("port-list");
    clear(tb);
    $("ports-error").textContent = "";
    for (const l of r.data.listeners) {
      const port = el("input", null, "port");
      port.type = "number"; port.min = "1"; port.max = "65535"; port.value = l.port;
      const tls = el("select");
      for (const m of ["none", "starttls", "implicit"]) {
        const o = el("option", m === "none" ? "none" : m === "starttls" ? "STARTTLS" : "implicit TLS");
        o.value = m;
        if (m === l.tls) o.selected = true;
        tls.appendChild(o);
      }
      const on = el("input");
      on.type = "checkbox"; on.checked = l.enabled;
      const save = el("button", "Apply");
      save.type = "button";
      save.addEventListener("click", async () => {
        const x = await api("PATCH", "/listeners/" + encodeURIComponent(l.name),
                            { port: Number(port.value), tls: tls.value, enabled: on.checked });
        $("ports-error").textContent = x.ok ? "" : l.name + ": " + ((x.data && x.data.error) || "request failed");
        if (x.ok) {
          notice("Listener " + l.name + " updated.");
          await loaders.ports();
          /* the mail core rebinds a moment later: refresh the state column
             only, so nothing being typed in the table is lost */
          setTimeout(() => { if (state.page === "ports") portStates(); }, 1500);
        }
      });
      const st = el("span", "");
      st.dataset.listener = l.name;
      tb.appendChild(row([l.name, l.protocol, port, tls, on, st, save]));
    }
    await portStates();
  },

  async certificates() {
    const r = await api("GET", "/certificates");
    if (!r.ok) return;
    const tb = $("cert-list");
    clear(tb);
    $("certs-error").textContent = "";
    const failed = (x) => { $("certs-error").textContent = x.ok ? "" : ((x.data && x.data.error) || "request failed"); };
    for (const c of r.data.certificates) {
      const expires = el("span", c.not_after.slice(0, 10) + " (" + c.days_left + " days)",
                         c.days_left < 21 ? "warn" : "");
      const actions = el("div");
      const names = el("button", "Hostnames");
      names.type = "button";
      names.addEventListener("click", async () => {
        const v = window.prompt("Hostnames certificate " + c.id + " serves (comma-separated)", c.hostnames.join(", "));
        if (v === null) return;
        const list = v.split(",").map((h) => h.trim()).filter(Boolean);
        const x = await api("PATCH", "/certificates/" + c.id, { hostnames: list });
        failed(x);
        if (x.ok) { notice("Certificate " + c.id + " now serves " + list.join(", ") + "."); loaders.certificates(); }
      });
      const def = el("button", "Make default");
      def.type = "button";
      def.disabled = c.default;
      def.addEventListener("click", async () => {
        const x = await api("PATCH", "/certificates/" + c.id, { default: true });
        failed(x);
        if (x.ok) loaders.certificates();
      });
      const del = el("button", "Delete", "danger");
      del.type = "button";
      del.addEventListener("click", async () => {
        if (!confirmDelete("certificate " + c.id + " (" + c.names.join(", ") + ")")) return;
        const x = await api("DELETE", "/certificates/" + c.id);
        failed(x);
        if (x.ok) loaders.certificates();
      });
      actions.append(names, " ", def, " ", del);
      tb.appendChild(row([c.id, c.hostnames.join(", ") || "(none)", c.names.join(", "),
                          c.self_signed ? "self-signed" : c.issuer, expires, c.default ? "yes" : "", actions]));
    }
    await acmeOrders();
  },

  async setup() {
    const d = await fillDomains($("setup-domain"));
    if (!d) return;
    const f = $("setup-form");
    const r = await api("GET", "/client-setup?domain=" + encodeURIComponent(d));
    formErrors(f, r);
    const tb = $("setup-list");
    clear(tb);
    const auto = $("setup-auto");
    clear(auto);
    if (!r.ok) return;
    for (const s of r.data.settings)
      tb.appendChild(row([s.direction, s.protocol.toUpperCase(), s.server, s.port, s.security]));
    const tbUrl = "/mail/config-v1.1.xml?emailaddress=" + encodeURIComponent("user@" + d);
    const li1 = el("li", "Thunderbird: publishes itself at autoconfig." + d + " — ");
    const a1 = el("a", "preview");
    a1.href = tbUrl;
    li1.appendChild(a1);
    auto.appendChild(li1);
    auto.appendChild(el("li", "Outlook: POX autodiscover at autodiscover." + d + "/autodiscover/autodiscover.xml"));
    auto.appendChild(el("li", "Apple Mail, iPhone, iPad: download a profile below and open it on the device."));
  },

  async dns() {
    const d = await fillDomains($("dns-domain"));
    if (!d) return;
    const f = $("dns-form");
    const r = await api("GET", "/dns-records?domain=" + encodeURIComponent(d));
    formErrors(f, r);
    const tb = $("dns-list");
    clear(tb);
    if (!r.ok) return;
    const cells = [];
    for (const rec of r.data.records) {
      const copy = el("button", "Copy");
      copy.type = "button";
      copy.addEventListener("click", async () => {
        const text = rec.name + " IN " + rec.type + " " + rec.value;
        try {
          await navigator.clipboard.writeText(text);
          notice("Copied: " + text);
        } catch (e) {
          window.prompt("Copy this record", text);
        }
      });
      const live = el("span", "checking…", "dns-check");
      cells.push(live);
      tb.appendChild(row([rec.type, rec.name, rec.value, rec.note, live, copy]));
    }
    // The live check (GET ...&check=1) answers within a few seconds; a
    // record is matched on type, name and value (listeners may change).
    const c = await api("GET", "/dns-records?check=1&domain=" + encodeURIComponent(d));
    if ($("dns-domain").value !== d) return;
    r.data.records.forEach((rec, i) => {
      const got = c.ok ? c.data.records.find((x) => x.type === rec.type && x.name === rec.name &&
        x.value === rec.value) : null;
      const st = got && got.check ? got.check : (c.ok ? "" : "unknown");
      cells[i].textContent = st === "different" ? "different: " + (got.found || []).join(", ") : st;
      cells[i].className = "dns-check dns-" + (st || "none");
    });
  },

  async security() {
    const r = await api("GET", "/totp");
    if (!r.ok) return;
    $("totp-state").textContent = r.data.enabled ? "Two-factor login is on: every login asks for a code."
      : "Two-factor login is off: a password alone logs in.";
    $("totp-enroll").hidden = r.data.enabled;
    $("totp-disable").hidden = !r.data.enabled;
    $("totp-confirm").hidden = r.data.enabled || !r.data.pending || $("totp-setup").hidden;
    if (r.data.enabled) $("totp-setup").hidden = true;
  },

  async queue() {
    const r = await api("GET", "/queue");
    if (!r.ok) return;
    const tb = $("queue-list");
    clear(tb);
    for (const q of r.data.queue) {
      let act = "";
      if (q.state === "held") {
        act = el("button", "Release");
        act.type = "button";
        act.addEventListener("click", async () => {
          const x = await api("POST", "/queue/" + encodeURIComponent(q.id) + "/release");
          notice(x.ok ? "" : (x.data.error || "release failed (" + x.status + ")"));
          loaders.queue();
        });
      }
      tb.appendChild(row([q.id, q.sender || "<>", q.recipient, q.state, q.attempts, q.next_attempt, q.last_error, act]));
    }
  },

  async audit() {
    const r = await api("GET", "/audit?limit=200");
    if (!r.ok) return;
    const tb = $("audit-list");
    clear(tb);
    for (const e of r.data.entries) tb.appendChild(row([e.at, e.admin, e.action, e.detail]));
  },
};

/* The dashboard's alerts (an account held for exceeding its outbound
   limit, ...), newest first; unacknowledged ones carry an Acknowledge button. */
async function loadAlerts() {
  const r = await api("GET", "/alerts?limit=50");
  const tb = $("dash-alerts");
  clear(tb);
  if (!r.ok) return;
  $("alerts-none").hidden = r.data.alerts.length > 0;
  $("alerts-table").hidden = r.data.alerts.length === 0;
  for (const a of r.data.alerts) {
    let act = "acknowledged";
    if (!a.acknowledged) {
      act = el("button", "Acknowledge");
      act.type = "button";
      act.addEventListener("click", async () => {
        const x = await api("POST", "/alerts/" + encodeURIComponent(a.id) + "/ack");
        notice(x.ok ? "" : (x.data.error || "acknowledge failed (" + x.status + ")"));
        loadAlerts();
      });
    }
    const tr = row([a.at, a.kind, a.account, a.detail, act]);
    if (!a.acknowledged) tr.className = "warn";
    tb.appendChild(tr);
  }
}

/* ---------- forms ---------- */

function bind() {
  for (const b of document.querySelectorAll("nav button[data-page]"))
    b.addEventListener("click", () => showPage(b.dataset.page));

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const body = { username: f.elements.username.value, password: f.elements.password.value };
    if (f.elements.totp.value.trim()) body.totp = f.elements.totp.value.trim();
    const r = await api("POST", "/login", body);
    formErrors(f, r);
    if (!r.ok) {
      if (r.data && r.data.totp_required) { $("login-totp").hidden = false; f.elements.totp.value = ""; f.elements.totp.focus(); }
      return;
    }
    f.elements.password.value = "";
    f.elements.totp.value = "";
    $("login-totp").hidden = true;
    state.csrf = r.data.csrf;
    state.user = r.data.username;
    showApp();
  });

  $("logout").addEventListener("click", async () => {
    await api("POST", "/logout");
    showLogin("You are logged out.");
  });

  $("domain-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const r = await api("POST", "/domains", { name: f.elements.name.value.trim() });
    formErrors(f, r);
    if (r.ok) { f.reset(); loaders.domains(); }
  });

  $("account-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const mib = Number(f.elements.quota.value || 0);
    const r = await api("POST", "/accounts", {
      address: f.elements.address.value.trim(),
      password: f.elements.password.value,
      quota_bytes: Number.isInteger(mib) && mib >= 0 ? mib * 1048576 : -1,
    });
    formErrors(f, r);
    if (r.ok) { f.reset(); loaders.accounts(); }
  });

  $("account-search").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.accOffset = 0;
    loaders.accounts();
  });
  $("account-prev").addEventListener("click", () => {
    state.accOffset = Math.max(0, state.accOffset - state.accLimit);
    loaders.accounts();
  });
  $("account-next").addEventListener("click", () => {
    if (state.accOffset + state.accLimit < state.accTotal) state.accOffset += state.accLimit;
    loaders.accounts();
  });

  $("alias-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const r = await api("POST", "/aliases", { source: f.elements.source.value.trim(), destination: f.elements.destination.value.trim() });
    formErrors(f, r);
    if (r.ok) { f.reset(); loaders.aliases(); }
  });
}

/* The Ports page's "State now" column from the core's live state (bound,
   bind error, connections), which comes with the dashboard. */
async function portStates() {
  const d = await api("GET", "/dashboard");
  if (!d.ok) return;
  for (const sp of document.querySelectorAll("#port-list span[data-listener]")) {
    const s = d.data.listeners.find((l) => l.name === sp.dataset.listener);
    sp.className = "";
    if (!s) sp.textContent = "";
    else if (s.state === "up" && !s.error) { sp.textContent = "up, " + s.connections + " connected"; sp.className = "up"; }
    else if (s.state === "up") { sp.textContent = s.error; sp.className = "warn"; }	/* "... (still on port N)" */
    else if (s.state === "error") { sp.textContent = s.error || "not bound"; sp.className = "warn"; }
    else { sp.textContent = s.state; sp.className = "off"; }
  }
}

/* Fills a domain <select> (keeping its choice) and returns the chosen domain, or "". */
async function fillDomains(sel) {
  const r = await api("GET", "/domains");
  if (!r.ok) return "";
  const keep = sel.value;
  clear(sel);
  for (const d of r.data.domains) {
    const o = el("option", d.name);
    o.value = d.name;
    sel.appendChild(o);
  }
  if (keep && r.data.domains.some((d) => d.name === keep)) sel.value = keep;
  return sel.value;
}

function bindSecurity() {
  $("totp-enroll").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const r = await api("POST", "/totp/enroll");
    formErrors(ev.target, r);
    if (!r.ok) return;
    $("totp-secret").textContent = r.data.secret;
    $("totp-uri").href = r.data.uri;
    $("totp-setup").hidden = false;
    $("totp-confirm").hidden = false;
  });
  $("totp-confirm").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const r = await api("POST", "/totp/confirm", { code: f.elements.code.value.trim() });
    formErrors(f, r);
    if (!r.ok) return;
    f.reset();
    $("totp-secret").textContent = "";
    $("totp-setup").hidden = true;
    notice("Two-factor login is on.");
    loaders.security();
  });
  $("totp-disable").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const r = await api("POST", "/totp/disable", { code: f.elements.code.value.trim() });
    formErrors(f, r);
    if (!r.ok) return;
    f.reset();
    notice("Two-factor login is off.");
    loaders.security();
  });
}

function bindSetup() {
  $("setup-domain").addEventListener("change", () => loaders.setup());
  $("dns-domain").addEventListener("change", () => loaders.dns());
  $("setup-form").addEventListener("submit", (ev) => { ev.preventDefault(); loaders.setup(); });
  $("dns-form").addEventListener("submit", (ev) => { ev.preventDefault(); loaders.dns(); });
  $("setup-apple").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const email = ev.target.elements.email.value.trim();
    if (email) window.location.assign("/apple/mobileconfig?email=" + encodeURIComponent(email));
  });
}

/* Lists the ACME orders; polls every 2 s while one is requested or running
 * and the Certificates page is open (one timer at most). */
async function acmeOrders() {
  clearTimeout(state.acmeTimer);
  const r = await api("GET", "/certificates/acme");
  if (!r.ok) return;
  const tb = $("acme-list");
  clear(tb);
  let busy = false;
  for (const o of r.data.orders) {
    if (o.state === "requested" || o.state === "running") busy = true;
    tb.appendChild(row([o.id, o.hostname, o.challenge,
                        el("span", o.state, o.state === "failed" ? "warn" : ""),
                        o.step || "", o.error || "", (o.updated_at || "").replace("T", " ").slice(0, 19)]));
  }
  const here = () => state.page === "certificates" && state.csrf !== "";	/* not after logout */
  if (busy && here()) state.acmeTimer = setTimeout(() => { if (here()) acmeOrders(); }, 2000);
}

function bindCertificates() {
  $("acme-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const r = await api("POST", "/certificates/acme", { hostname: f.elements.hostname.value.trim(),
                                                        challenge: f.elements.challenge.value });
    formErrors(f, r);
    if (r.ok) {
      f.reset();
      notice("Certificate for " + r.data.hostname + " requested (order " + r.data.id + ").");
      acmeOrders();
    }
  });

  $("cert-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const body = { cert_pem: f.elements.cert_pem.value, key_pem: f.elements.key_pem.value,
                   default: f.elements.default.checked };
    const hosts = f.elements.hostnames.value.split(",").map((h) => h.trim()).filter(Boolean);
    if (hosts.length) body.hostnames = hosts;
    const r = await api("POST", "/certificates", body);
    formErrors(f, r);
    if (r.ok) {
      f.reset();
      notice("Certificate " + r.data.id + " for " + r.data.hostnames.join(", ") + " uploaded; it is in use now.");
      loaders.certificates();
    }
  });

  $("cert-generate").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const days = Number(f.elements.days.value || 365);
    const r = await api("POST", "/certificates/generate", { hostname: f.elements.hostname.value.trim(),
                                                            days: Number.isInteger(days) ? days : -1 });
    formErrors(f, r);
    if (r.ok) { f.reset(); notice("Self-signed certificate " + r.data.id + " generated."); loaders.certificates(); }
  });
}

async function start() {
  bind();
  bindCertificates();
  bindSetup();
  bindSecurity();
  const r = await api("GET", "/me");
  if (r.ok) {
    state.csrf = r.data.csrf;
    state.user = r.data.username;
    showApp();
  } else {
    showLogin("");
  }
}

document.addEventListener("DOMContentLoaded", start);
