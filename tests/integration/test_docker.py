"""The appliance files without a Docker engine (none runs on the build
machines): docker/entrypoint.sh run directly against the test cluster
(waiting for a database that appears late, migrating, *_FILE secrets, exec
of posternd with the first admin created once), shellcheck on every shell
script of the repository, `docker-compose config` on docker/compose.yml, and
the Dockerfile's promises (base image, non-root user, HEALTHCHECK, VOLUME,
every COPY source present)."""

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

import util
from util import HOST, ROOT, Ctl

ENTRYPOINT = ROOT / "docker/entrypoint.sh"
COMPOSE_PORTS = {25, 465, 587, 2525, 110, 995, 143, 993, 8080, 8443,
                 80, 443}	# ACME HTTP-01 and TLS-ALPN-01 (POSTERN_ACME_*_PORT)


def shell_scripts():
    """Every shell script of the source tree: *.sh, or a sh/bash/dash shebang
    (without git: the tree may come from a tarball)."""
    skip = {".git", "build", "var", "node_modules", "__pycache__", "artifacts"}
    out = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if d not in skip]
        for name in filenames:
            p = Path(dirpath) / name
            if name.endswith(".sh"):
                out.append(p)
                continue
            try:
                with open(p, "rb") as f:
                    first = f.readline(200)
            except OSError:
                continue
            if re.match(rb"#!\s*/(usr/)?bin/(env\s+)?(ba|da)?sh\b", first):
                out.append(p)
    return sorted(out)


def test_shellcheck_every_script():
    scripts = shell_scripts()
    names = {str(p.relative_to(ROOT)) for p in scripts}
    assert "docker/entrypoint.sh" in names and ".ci/run" in names, names
    with_shebang = [str(p) for p in scripts if p.read_bytes().startswith(b"#!")]
    # a sourced library without a shebang (bench/lib.sh) is checked as bash
    sourced = [str(p) for p in scripts if not p.read_bytes().startswith(b"#!")]
    for files, opts in ((with_shebang, []), (sourced, ["--shell=bash"])):
        if files:
            r = subprocess.run(["shellcheck", "-x", "-S", "style"] + opts + files,
                               capture_output=True, text=True, cwd=ROOT)
            assert r.returncode == 0, r.stdout

def compose_config(tmp_path, env_text=None):
    for name in ("compose.yml", "postern.env.example"):
        shutil.copy(ROOT / "docker" / name, tmp_path / name)
    (tmp_path / "db_password.txt").write_text("not-a-real-password\n")
    if env_text is not None:
        (tmp_path / ".env").write_text(env_text)
    r = subprocess.run(["docker-compose", "-f", str(tmp_path / "compose.yml"), "config"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r.stderr
    return yaml.safe_load(r.stdout)


def test_compose_config(tmp_path):
    env = (ROOT / "docker/postern.env.example").read_text().replace(
        "POSTERN_HOSTNAME=mail.example.com", "POSTERN_HOSTNAME=mail.compose.test")
    cfg = compose_config(tmp_path, env)
    app, db = cfg["services"]["postern"], cfg["services"]["db"]
    assert db["image"] == "postgres:15"
    published = {int(p["published"]) if isinstance(p, dict) else int(str(p).split(":")[0])
                 for p in app["ports"]}
    assert published == COMPOSE_PORTS
    assert app["restart"] == db["restart"] == "unless-stopped"
    assert app["environment"]["POSTERN_HOSTNAME"] == "mail.compose.test"
    assert "POSTERN_ADMIN_PASSWORD" in app["environment"]
    assert app["environment"]["PGPASSWORD_FILE"] == "/run/secrets/db_password"
    assert db["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password"
    assert "password" not in app["environment"]["POSTERN_DATABASE_URL"]
    assert set(cfg["volumes"]) == {"postern-data", "postern-db"}
    assert any(v.startswith("postern-data:/var/lib/postern") for v in app["volumes"])
    assert any(v.startswith("postern-db:/var/lib/postgresql/data") for v in db["volumes"])
    assert cfg["secrets"]["db_password"]["file"].endswith("db_password.txt")
    # without a .env file the defaults apply
    bare = tmp_path / "bare"
    bare.mkdir()
    cfg = compose_config(bare)
    assert cfg["services"]["postern"]["environment"]["POSTERN_HOSTNAME"] == "mail.example.com"


def test_dockerfile_promises():
    text = (ROOT / "docker/Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert stages == ["debian:bookworm-slim", "debian:bookworm-slim"], stages
    final = text[text.rindex("\nFROM "):]
    assert "gcc" not in final and "-dev" not in final, "build tools in the final stage"
    users = re.findall(r"^USER\s+(\S+)", final, re.M)
    assert users and users[-1] not in ("root", "0"), users
    assert re.search(r"^HEALTHCHECK .*\n?.*CMD \[\"posternctl\", \"health\"\]", final, re.M)
    assert re.search(r"^VOLUME /var/lib/postern$", final, re.M)
    assert "POSTERN_ADMIN_LISTEN=0.0.0.0:8080" in final
    for src in re.findall(r"^COPY (?!--from)(\S+)", text, re.M):
        assert (ROOT / src).exists(), f"COPY source {src} missing"
    exposed = {int(p) for p in re.search(r"^EXPOSE (.*)$", final, re.M).group(1).split()}
    assert exposed == COMPOSE_PORTS


# --- the entrypoint, run directly ---


@pytest.fixture
def bindir(tmp_path):
    """PATH directory with posternd and posternctl as the image has them."""
    d = tmp_path / "bin"
    d.mkdir()
    (d / "posternd").symlink_to(util.POSTERND)
    (d / "posternctl").symlink_to(util.POSTERNCTL)
    return d


def entry_env(bindir, conninfo, data_dir, **extra):
    e = dict(os.environ)
    for k in list(e):
        if k.startswith("POSTERN_"):
            del e[k]
    e.update({
        "PATH": f"{bindir}:{e.get('PATH', '/usr/bin:/bin')}",
        "POSTERN_DATABASE_URL": conninfo,
        "POSTERN_DATA_DIR": str(data_dir),
        "POSTERN_SQL_DIR": str(ROOT / "sql"),
        "POSTERN_HOSTNAME": util.HOSTNAME,
        "POSTERN_LISTEN_ADDRESS": HOST,
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0",
    })
    e.update({k: str(v) for k, v in extra.items()})
    return e


@pytest.mark.timeout(120)
def test_entrypoint_waits_migrates_then_execs(site, bindir, tmp_path):
    name = "postern_entry"
    conninfo = f"host={site.pg.sock} dbname={name} user=postgres connect_timeout=2"
    data_dir = site.base / "data-entry"
    data_dir.mkdir(mode=0o755)
    env = entry_env(bindir, conninfo, data_dir, POSTERN_DB_WAIT=60)
    started = time.monotonic()
    p = subprocess.Popen(["sh", str(ENTRYPOINT), "posternctl", "listener", "list"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    assert p.poll() is None, "entrypoint did not wait for the database: " + p.stderr.read()
    site.pg.createdb(name)	# the database appears late
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert time.monotonic() - started >= 2
    assert "database ready" in err
    names = {line.split("\t")[0] for line in out.splitlines()}
    assert {"smtp", "submission", "imaps", "pop3s"} <= names, out

    # second part: the appliance start, with the first admin's password from a file
    ports = dict(zip(list(util.LISTENERS) + ["admin"], util.free_ports(len(util.LISTENERS) + 1)))
    ctl = Ctl(conninfo, data_dir)
    for lname, tls in util.LISTENERS.items():
        ctl.ok("listener", "set", lname, "--port", ports[lname], "--tls", tls, "--enable")
    secret = tmp_path / "admin_password"
    secret.write_text("Entry-Point-pw1\n")
    env = entry_env(bindir, conninfo, data_dir, POSTERN_ADMIN_PASSWORD_FILE=secret,
                    POSTERN_ADMIN_LISTEN=f"{HOST}:{ports['admin']}")
    log = open(tmp_path / "posternd.log", "wb")
    d = subprocess.Popen(["sh", str(ENTRYPOINT)], env=env, stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    log.close()
    try:
        util.wait_for(lambda: d.poll() is not None or ctl.run("health").returncode == 0, 60,
                      interval=0.3, what="posternctl health through the entrypoint's posternd")
        assert d.poll() is None, (tmp_path / "posternd.log").read_text()
        # exec: the entrypoint's pid is posternd now
        assert os.readlink(f"/proc/{d.pid}/exe").endswith("posternd")
        util.wait_for(lambda: util.port_open(ports["admin"]), 30, what="the admin panel")
        c = http.client.HTTPConnection(HOST, ports["admin"], timeout=30)
        c.request("POST", "/api/v1/login", body=json.dumps(
            {"username": "admin", "password": "Entry-Point-pw1"}),
            headers={"Content-Type": "application/json"})
        assert c.getresponse().status == 200
        c.close()
        assert "password from POSTERN_ADMIN_PASSWORD" in (tmp_path / "posternd.log").read_text()
    finally:
        d.send_signal(signal.SIGTERM)
        d.wait(30)
    assert d.returncode == 0, (tmp_path / "posternd.log").read_text()
    text = (tmp_path / "posternd.log").read_text()
    assert not any(m in text for m in util.SANITIZER_MARKS), text


def test_entrypoint_refuses_both_value_and_file(site, bindir, tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("x\n")
    env = entry_env(bindir, site.pg.conninfo, site.data_dir, POSTERN_ADMIN_PASSWORD="a",
                    POSTERN_ADMIN_PASSWORD_FILE=secret)
    r = subprocess.run(["sh", str(ENTRYPOINT), "true"], env=env, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 1 and "both POSTERN_ADMIN_PASSWORD and" in r.stderr, r.stderr


def test_entrypoint_gives_up_on_absent_database(site, bindir):
    env = entry_env(bindir, f"host={site.base}/nowhere dbname=x user=postgres connect_timeout=1",
                    site.data_dir, POSTERN_DB_WAIT=2)
    started = time.monotonic()
    r = subprocess.run(["sh", str(ENTRYPOINT), "true"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 3, r.stderr
    assert "did not answer within 2s" in r.stderr
    assert time.monotonic() - started < 20


def test_dockerfile_has_every_runtime_library():
    """Each shared library the programs are linked against (ELF NEEDED) comes
    from a Debian package that the final stage installs."""
    final = (ROOT / "docker/Dockerfile").read_text()
    final = final[final.rindex("\nFROM "):]
    for prog in ("build/posternd", "build/posternctl"):
        path = ROOT / prog
        assert path.exists(), f"{prog} not built (make all)"
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]",
                            subprocess.run(["readelf", "-d", str(path)], capture_output=True,
                                           text=True, check=True).stdout)
        for lib in needed:
            if lib.startswith(("libc.so", "libm.so", "libpthread.so", "libdl.so", "ld-linux")):
                continue
            r = subprocess.run(["dpkg", "-S", f"/usr/lib/x86_64-linux-gnu/{lib}"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                r = subprocess.run(["dpkg", "-S", f"/lib/x86_64-linux-gnu/{lib}"],
                                   capture_output=True, text=True)
            assert r.returncode == 0, f"no Debian package owns {lib}"
            pkg = r.stdout.split(":")[0]
            assert re.search(rf"\s{re.escape(pkg)}\s", final), \
                f"{prog} needs {lib} from {pkg}, not installed in the final stage"


@pytest.mark.timeout(180)
def test_entrypoint_embedded_as_non_root(site, tmp_path):
    """`docker run -v postern:/var/lib/postern` without POSTERN_DATABASE_URL:
    the entrypoint, run as the unprivileged user like the image's USER,
    starts posternd with its embedded PostgreSQL in the data directory; the
    listeners are moved to free ports through posternctl (the cluster's
    socket), posternd rebinds live, and `posternctl health` (the
    HEALTHCHECK) turns healthy."""
    base = site.base / "entry-embedded"	# pytest's tmp_path is not readable by postern
    bindir = base / "bin"
    data_dir = base / "volume"
    bindir.mkdir(parents=True)
    (bindir / "posternd").symlink_to(util.POSTERND)
    (bindir / "posternctl").symlink_to(util.POSTERNCTL)
    data_dir.mkdir(mode=0o750)
    shutil.chown(data_dir, "postern", "postern")
    addr = "127.0.0.3"	# the defaults (25, 587, ...) must not meet other tests' sockets
    admin_port = util.free_port(addr)
    env = entry_env(bindir, "", data_dir, POSTERN_ADMIN_PASSWORD="Embedded-pw-1",
                    POSTERN_LISTEN_ADDRESS=addr, POSTERN_ADMIN_LISTEN=f"{addr}:{admin_port}")
    del env["POSTERN_DATABASE_URL"]
    log = open(tmp_path / "posternd.log", "wb")
    d = subprocess.Popen(["runuser", "-u", "postern", "--", "sh", str(ENTRYPOINT)], env=env,
                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()

    def ctl(*args):
        return subprocess.run(["runuser", "-u", "postern", "--", util.POSTERNCTL] +
                              [str(a) for a in args], env=env, capture_output=True, text=True,
                              timeout=60)
    try:
        util.wait_for(lambda: d.poll() is not None or ctl("listener", "list").returncode == 0,
                      120, interval=0.5, what="the embedded database through posternd")
        assert d.poll() is None, (tmp_path / "posternd.log").read_text()
        assert (data_dir / "pgdata").is_dir()
        ports = dict(zip(util.LISTENERS, util.free_ports(len(util.LISTENERS), addr)))
        for name, port in ports.items():
            r = ctl("listener", "set", name, "--port", port, "--enable")
            assert r.returncode == 0, r.stderr
        util.wait_for(lambda: ctl("health").returncode == 0, 30, interval=0.3,
                      what="posternctl health after the live rebind")
        rows = [line.split("\t") for line in ctl("health").stdout.splitlines()]
        assert {r[0] for r in rows} == set(util.LISTENERS)
        assert all(int(r[1]) == ports[r[0]] and r[2] == "up" for r in rows), rows
    finally:
        if d.poll() is None:
            os.killpg(d.pid, signal.SIGTERM)	# runuser and posternd: one group
        d.wait(60)
    # runuser dies of the signal; posternd shuts down cleanly, embedded cluster included
    util.wait_for(lambda: "posternd stopped" in (tmp_path / "posternd.log").read_text() and
                  not (data_dir / "pgdata/postmaster.pid").exists(), 60,
                  what="posternd and its PostgreSQL stopped")
    text = (tmp_path / "posternd.log").read_text()
    assert "database: embedded" in text
    assert not any(m in text for m in util.SANITIZER_MARKS), text


def test_posternctl_reads_file_variables(site, tmp_path):
    """`docker exec ... posternctl` and the HEALTHCHECK get the same
    environment as the entrypoint, *_FILE variables included: posternctl
    reads POSTERN_DATABASE_URL_FILE (and PGPASSWORD_FILE) itself."""
    url = tmp_path / "url"
    url.write_text(site.pg.conninfo + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTERN_")}
    env.update(POSTERN_DATABASE_URL_FILE=str(url), POSTERN_DATA_DIR=str(site.data_dir),
               POSTERN_SQL_DIR=str(ROOT / "sql"))
    r = subprocess.run([util.POSTERNCTL, "domain", "list"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and util.DOMAIN in r.stdout.split(), r.stderr
    env["POSTERN_DATABASE_URL_FILE"] = str(tmp_path / "missing")
    r = subprocess.run([util.POSTERNCTL, "domain", "list"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and "POSTERN_DATABASE_URL_FILE" in r.stderr, r.stderr
