"""Installing silo on a server (issue 22): versions, the documentation
written from the commands and settings tables, sd_notify readiness, the
refusal of a newer schema, `make install`, the Debian package (lintian,
installed into a scratch root with dpkg --root and served from there under
the unit's user and system call filter), the systemd unit (systemd-analyze
verify and security) and upgrades from the previous release.

The package tests build what they need, incrementally: `make deb` (the
package of this tree), `make next-schema` (this tree with one migration
more, as a newer release would have) and the previous release's binary
from the commit recorded in packaging/previous-release (cached under
build/prev/COMMIT/), each packaged by packaging/deb.sh. Scratch roots live
in temporary directories removed at the end. They need root (dpkg --root,
files owned by the silo user) and fail loudly when a tool is broken.
"""
import errno
import glob
import gzip
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import urllib.parse

import pytest
import requests

from conftest import BIN, ROOT, Silo, assert_sanitizer_clean

VERSION = open(os.path.join(ROOT, "VERSION")).read().strip()
UNIT_TEMPLATE = os.path.join(ROOT, "packaging", "silo.service.in")
# Real PATH for dpkg and its maintainer scripts (they call systemd-sysusers).
TOOL_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
WAV = (b"RIFF" + (36 + 8000).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
       + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
       + (16000).to_bytes(4, "little") + (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
       + b"data" + (8000).to_bytes(4, "little") + bytes(range(256)) * 31 + bytes(64))


def run(cmd, timeout=300, check=True, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} exited {out.returncode}:\n{out.stdout[-3000:]}\n"
                             f"{out.stderr[-3000:]}")
    return out


def clean_env(**extra):
    """The environment minus every setting silo reads, so defaults show."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SILO_", "AWS_")) and k not in ("DATABASE_URL", "DEBUG", "JWT_SECRET",
                                                                 "AUTH0_ISSUER", "AUTH0_AUDIENCE",
                                                                 "NOTIFY_SOCKET")}
    env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
    env.update(extra)
    return env


def silo_cli(*args, binary=BIN, env=None):
    return run([binary, *args], timeout=60, env=env or clean_env())


# ---- versions, the Server header, silo_build_info ----

def test_version_names_the_release_the_commit_and_the_libraries():
    out = silo_cli("version").stdout
    assert silo_cli("--version").stdout == out
    first = out.splitlines()[0]
    m = re.fullmatch(r"silo (\S+) \(commit ([0-9a-f]{12}(?:-dirty)?|unknown)\)", first)
    assert m, first
    assert m.group(1) == VERSION
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:
        assert m.group(2).startswith(head.stdout.strip()[:12])
    libs = dict(re.findall(r"^  (\S+)\s+(.+)$", out, re.M))
    for name in ("libmicrohttpd", "libcurl", "OpenSSL", "jansson", "SQLite", "libpq", "FFmpeg", "libavformat",
                 "libavcodec", "libavutil", "pocketsphinx", "libmagic", "libsystemd"):
        assert re.match(r"\S*\d", libs.get(name, "")), (name, out)
    # The versions are the ones the libraries report, as other programs see them.
    assert libs["SQLite"] == sqlite3.sqlite_version
    curl = run(["curl", "--version"]).stdout.split()[1]
    assert libs["libcurl"].split()[0] == curl
    assert libs["OpenSSL"] == run(["openssl", "version"]).stdout.split()[1]
    pkgconfig = run(["pkg-config", "--modversion", "libsystemd"]).stdout.strip()
    assert libs["libsystemd"].split()[0] == pkgconfig


def test_server_header_on_both_listeners_and_build_info_in_metrics(silo):
    r = requests.get(silo.url("/healthz"))
    assert r.headers["Server"] == f"silo/{VERSION}"
    assert requests.get(silo.url("/no/such/route")).headers["Server"] == f"silo/{VERSION}"
    s3 = requests.get(silo.s3_url + "/")  # unsigned: refused, still from silo
    assert s3.status_code == 403 and s3.headers["Server"] == f"silo/{VERSION}"
    metrics = requests.get(silo.url("/metrics")).text
    commit = silo_cli("version").stdout.split("(commit ")[1].split(")")[0]
    assert "# TYPE silo_build_info gauge" in metrics
    assert f'silo_build_info{{version="{VERSION}",commit="{commit}"}} 1' in metrics.splitlines()


# ---- help, silo(1) and the example configuration ----

def help_tables():
    """The commands and the settings (name -> (envs, default)) of `silo help`."""
    text = silo_cli("help").stdout
    commands_part, settings_part = text.split("\ncommands:\n")[1].split("\nsettings ")
    commands = [line.strip().split("  ")[0] for line in commands_part.splitlines()
                if line.startswith("  ") and not line.startswith("    ")]
    settings = {}
    for name, envs, default in re.findall(r"^  --(\S+) .*\n\s+env (.*); default '(.*)'$", settings_part, re.M):
        settings[name] = (envs.split(", "), default)
    return commands, settings


def test_help_man_page_and_example_config_list_the_same_commands_and_settings(tmp_path):
    commands, settings = help_tables()
    assert len(commands) >= 11 and {"serve", "man", "version", "help"} <= {c.split()[0] for c in commands}
    assert len(settings) >= 50 and "data" in settings and "shutdown-timeout" in settings
    man = silo_cli("man").stdout
    page = run(["man", "-l", "-"], input=man, env=dict(TOOL_ENV, MANWIDTH="2000", MAN_KEEP_FORMATTING="")).stdout
    page = re.sub(r".\x08", "", page)  # no overstrike, whatever man's pager settings
    page = page.replace("\u2212", "-").replace("\u2010", "-").replace("\u2018", "'").replace("\u2019", "'")
    commands_part, settings_part = page.split("\nCOMMANDS\n")[1].split("\nSETTINGS\n")
    settings_part = settings_part.split("\nCONFIGURATION FILE\n")[0]
    for command in commands:
        assert re.search(rf"^\s+silo {re.escape(command)}$", commands_part, re.M), command
    entries = re.split(r"\n(?= {1,8}--)", settings_part)
    assert len(entries) == len(settings) + 1
    for name, (envs, default) in settings.items():
        block = [e for e in entries if re.match(rf"\s+--{re.escape(name)} ", e)]
        assert len(block) == 1, name
        assert "Environment: " + ", ".join(envs) + "." in block[0], (name, block)
        assert (f"Default: {default}" if default else "Default: empty") in block[0], (name, block)

    example = silo_cli("config", "--example").stdout
    keys = re.findall(r"^#?([a-z0-9-]+) =(?: (.*))?$", example.split("# Named stores")[0], re.M)
    listed = {k: v or "" for k, v in keys if k in settings}
    assert set(listed) == set(settings)
    for name, (envs, default) in settings.items():
        assert listed[name] == default, name
        assert ", ".join(envs) in example.replace("\n# ", " "), name
    # Every line but the given flags' is commented out; the file parses
    # into exactly the defaults.
    path = tmp_path / "silo.conf"
    path.write_text(example)

    def effective(*args):
        return [line for line in silo_cli("config", *args).stdout.splitlines() if not line.startswith("config =")]

    assert effective("--config", str(path)) == effective()
    given = silo_cli("config", "--example", "--data", "/srv/silo", "--workers=4").stdout
    assert "\ndata = /srv/silo\n" in given and "\nworkers = 4\n" in given
    path.write_text(given)
    assert {"data = /srv/silo", "workers = 4"} <= set(effective("--config", str(path)))
    bad = run([BIN, "config", "--example", "--no-such-setting", "x"], check=False, env=clean_env())
    assert bad.returncode == 2 and "no-such-setting" in bad.stderr


def test_man_page_renders_without_warnings():
    out = run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", "-"], input=silo_cli("man").stdout,
              env=dict(TOOL_ENV, MANWIDTH="80"))
    assert out.stderr == "", out.stderr
    assert out.stdout


# ---- sd_notify ----

def unit_setting(name, text=None):
    text = text or open(UNIT_TEMPLATE).read()
    values = re.findall(rf"^{name}=(.*)$", text, re.M)
    assert values, name
    return values[-1]


def seconds(value):
    m = re.fullmatch(r"(\d+)(s|min)?", value)
    assert m, value
    return int(m.group(1)) * (60 if m.group(2) == "min" else 1)


def test_notify_ready_once_serving_and_stopping_on_sigterm(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(60)
    instance = Silo(str(tmp_path / "data"), env={"NOTIFY_SOCKET": str(tmp_path / "notify")})
    try:
        instance.start()
        ready = sock.recv(4096).decode()
        assert "READY=1" in ready.splitlines(), ready
        assert f"STATUS=serving: api {instance.api_url}, s3 {instance.s3_url}" in ready.splitlines(), ready
        ok = requests.get(instance.url("/readyz"))
        assert ok.status_code == 200 and ok.json()["status"] == "ready"
        started = time.monotonic()
        instance.proc.send_signal(signal.SIGTERM)
        stopping = sock.recv(4096).decode()
        assert "STOPPING=1" in stopping.splitlines(), stopping
        assert instance.proc.wait(timeout=120) == 0
        # systemd waits TimeoutStopSec: the drain (shutdown-timeout) must fit.
        limit = seconds(unit_setting("TimeoutStopSec"))
        drain = int(help_tables()[1]["shutdown-timeout"][1])
        assert drain < limit
        assert time.monotonic() - started < limit
    finally:
        instance.stop()
        sock.close()
    assert_sanitizer_clean(instance)


# ---- a schema newer than the binary ----

EMPTY = hashlib.sha256(b"").hexdigest()


def tree_digest(directory):
    """{path: sha256} of every file under directory, leaving out what
    SQLite itself creates and removes on any open and close of silo.db: its
    shared-memory index and an empty write-ahead log (a log with anything
    in it stays and counts)."""
    digests = {}
    for base, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(base, name)
            with open(path, "rb") as f:
                digests[os.path.relpath(path, directory)] = hashlib.sha256(f.read()).hexdigest()
    digests.pop("silo.db-shm", None)
    if digests.get("silo.db-wal") == EMPTY:
        del digests["silo.db-wal"]
    return digests


def test_newer_schema_is_refused_and_left_untouched_sqlite(tmp_path):
    data = str(tmp_path / "data")
    instance = Silo(data).start()
    assert instance.stop() == 0
    db = sqlite3.connect(os.path.join(data, "silo.db"))
    known = db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0]
    db.execute("INSERT INTO schema_migrations VALUES (?, 0)", (known + 7,))
    db.commit()
    db.close()
    before = tree_digest(data)
    again = Silo(data)
    proc = subprocess.run(again.args, capture_output=True, text=True, timeout=60, env=again.env)
    assert proc.returncode == 1, proc.stderr
    assert (f"the database schema is at version {known + 7}, but this silo {VERSION} knows versions up to "
            f"{known}") in proc.stderr
    assert "api:" not in proc.stdout
    assert tree_digest(data) == before
    # The commands that open the instance refuse it too.
    token = subprocess.run([BIN, "token", "--sub", "x", "--data", data], capture_output=True, text=True,
                           timeout=60, env=again.env)
    apikeys = subprocess.run([BIN, "apikey", "list", "--data", data], capture_output=True, text=True,
                             timeout=60, env=again.env)
    assert apikeys.returncode == 1 and f"version {known + 7}" in apikeys.stderr
    assert token.returncode == 0  # token only reads the secrets, never the database
    assert tree_digest(data) == before


def psql(url, sql):
    return run(["psql", "-X", "-qtA", "-d", url, "-c", sql], timeout=60).stdout.strip()


def test_newer_schema_is_refused_postgres(tmp_path):
    server = os.environ.get("DATABASE_URL_TEST")
    if not server:
        pytest.skip("no PostgreSQL: DATABASE_URL_TEST is not set (scripts/test.sh sets it)")
    url = urllib.parse.urlsplit(server)
    admin = url._replace(path="/postgres").geturl()
    name = "silo_downgrade_" + os.urandom(6).hex()
    psql(admin, f'CREATE DATABASE "{name}"')
    database = url._replace(path="/" + name).geturl()
    secrets = ["--db", database, "--jwt-secret", "downgrade-test-secret", "--s3-listen", "off",
               "--s3-access-key", "SILODOWNGRADETEST", "--s3-secret-key", "downgrade-test-s3-secret"]
    try:
        instance = Silo(str(tmp_path / "data"), extra_args=secrets).start()
        assert instance.stop() == 0
        known = int(psql(database, "SELECT MAX(version) FROM schema_migrations"))
        psql(database, f"INSERT INTO schema_migrations VALUES ({known + 1}, 0)")
        tables = psql(database, "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables "
                                "WHERE schemaname = 'public'")
        again = Silo(str(tmp_path / "data"), extra_args=secrets)
        proc = subprocess.run(again.args, capture_output=True, text=True, timeout=60, env=again.env)
        assert proc.returncode == 1, proc.stderr
        assert (f"pg: the database schema is at version {known + 1}, but this silo {VERSION} knows versions "
                f"up to {known}") in proc.stderr
        assert psql(database, "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations") \
            == ",".join(str(v) for v in list(range(1, known + 1)) + [known + 1])
        assert psql(database, "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables "
                              "WHERE schemaname = 'public'") == tables
    finally:
        psql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---- make install ----

def test_make_install_puts_every_file_in_place(tmp_path):
    dest = tmp_path / "dest"
    run(["make", "-s", "-C", ROOT, "install", f"DESTDIR={dest}"], timeout=900)
    prefix = dest / "usr/local"
    assert os.access(prefix / "bin/silo", os.X_OK)
    assert (prefix / "share/man/man1/silo.1").read_text() == silo_cli("man", binary=str(prefix / "bin/silo")).stdout
    conf = (prefix / "etc/silo/silo.conf").read_text()
    assert "\ndata = /var/lib/silo\n" in conf and "\n#listen = 127.0.0.1:3333\n" in conf
    unit = (prefix / "lib/systemd/system/silo.service").read_text()
    assert "ExecStart=/usr/local/bin/silo serve --config /usr/local/etc/silo/silo.conf\n" in unit
    assert "@" not in unit.replace("@system-service", "").replace("@privileged", "").replace("@resources", "")
    assert "u silo - " in (prefix / "lib/sysusers.d/silo.conf").read_text()
    assert "z /usr/local/etc/silo/silo.conf 0640 root silo" in (prefix / "lib/tmpfiles.d/silo.conf").read_text()
    # A second install keeps the operator's configuration.
    (prefix / "etc/silo/silo.conf").write_text("data = /srv/mine\n")
    run(["make", "-s", "-C", ROOT, "install", f"DESTDIR={dest}"], timeout=900)
    assert (prefix / "etc/silo/silo.conf").read_text() == "data = /srv/mine\n"
    assert (prefix / "etc/silo/silo.conf.new").read_text() == conf


# ---- the Debian package ----

def need_root():
    if os.geteuid() != 0:
        pytest.skip("installing into a scratch root needs root (dpkg --root, files owned by the silo user)")


def make(*targets):
    run(["make", "-s", "-j2", "-C", ROOT, *targets], timeout=900)


def previous_release():
    """(version, commit, binary) of the release recorded in
    packaging/previous-release, its binary built at -O0 (and cached)."""
    record = dict(line.split("=", 1) for line in open(os.path.join(ROOT, "packaging", "previous-release"))
                  .read().splitlines() if line and not line.startswith("#"))
    commit = record["commit"]
    tag = subprocess.run(["git", "-C", ROOT, "rev-parse", "--verify", "-q", record["tag"] + "^{commit}"],
                         capture_output=True, text=True)
    if tag.returncode == 0:
        assert tag.stdout.strip() == commit, f"tag {record['tag']} moved from {commit}"
    have = subprocess.run(["git", "-C", ROOT, "cat-file", "-e", commit + "^{commit}"], capture_output=True)
    assert have.returncode == 0, (f"the previous release {record['tag']} ({commit}) is not in this clone: "
                                  "fetch the full history (git fetch --unshallow --tags)")
    binary = os.path.join(ROOT, "build", "prev", commit, "silo")
    if not os.path.exists(binary):
        src = tempfile.mkdtemp(prefix="silo-prev-")
        try:
            archive = subprocess.run(["git", "-C", ROOT, "archive", "--format=tar", commit], capture_output=True,
                                     check=True, timeout=120).stdout
            run(["tar", "-x", "-C", src], input=archive.decode("latin-1"), encoding="latin-1")
            run(["make", "-s", "-C", src, "-j2", "build/silo", "RELEASE_CFLAGS=$(CFLAGS_COMMON) -O0 -g0"],
                timeout=900)
            os.makedirs(os.path.dirname(binary), exist_ok=True)
            shutil.copy(os.path.join(src, "build", "silo"), binary + ".tmp")
            os.rename(binary + ".tmp", binary)
        finally:
            shutil.rmtree(src, ignore_errors=True)
    return record["version"], commit, binary


@pytest.fixture(scope="module")
def packages():
    """{"head", "old", "next": (version, .deb path)}: this tree's package
    (`make deb`), the previous release's and this tree's with one
    migration more, the last two packaged by the current packaging."""
    need_root()
    make("deb", "next-schema")
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    head = os.path.join(ROOT, "build", f"silo_{VERSION}_{arch}.deb")
    assert os.path.exists(head)
    out = tempfile.mkdtemp(prefix="silo-debs-")
    doc = os.path.join(ROOT, "build", "deb", "doc")
    old_version, old_commit, old_binary = previous_release()
    old = run(["sh", os.path.join(ROOT, "packaging", "deb.sh"), "--binary", old_binary, "--doc", doc,
               "--version", old_version, "--commit", old_commit[:12], "--out", out]).stdout.split()[-1]
    next_version = VERSION + "+next1"
    nxt = run(["sh", os.path.join(ROOT, "packaging", "deb.sh"), "--binary", os.path.join(ROOT, "build/next/silo"),
               "--doc", doc, "--version", next_version, "--out", out]).stdout.split()[-1]
    yield {"head": (VERSION, head), "old": (old_version, old), "next": (next_version, nxt)}
    shutil.rmtree(out, ignore_errors=True)


def test_deb_is_lintian_clean(packages):
    out = run(["lintian", "--fail-on", "error", "--display-info", "--pedantic", packages["head"][1]], timeout=600)
    tags = [line for line in out.stdout.splitlines() if re.match(r"[EWIPX]: ", line)]
    assert not [t for t in tags if t.startswith("E: ")], tags
    # What is left is known and explained in README's Install section.
    allowed = {"package-supports-alternative-init-but-no-init.d-script"}
    assert {t.split()[2] for t in tags} <= allowed, tags


def test_deb_declares_shlibs_depends_and_its_conffile(packages):
    deb = packages["head"][1]
    fields = run(["dpkg-deb", "-f", deb, "Package", "Version", "Depends"]).stdout
    assert f"Version: {VERSION}\n" in fields
    depends = fields.split("Depends: ")[1]
    for lib in ("libc6", "libmicrohttpd12", "libcurl4", "libssl3", "libjansson4", "libsqlite3-0", "libpq5",
                "libavformat59", "libmagic1", "libsystemd0", "libpocketsphinx3"):
        assert re.search(rf"\b{lib} \(>= [^)]+\)|\b{lib}\b", depends), (lib, depends)
    with tempfile.TemporaryDirectory() as control:
        run(["dpkg-deb", "-e", deb, control])
        assert open(os.path.join(control, "conffiles")).read() == "/etc/silo/silo.conf\n"
        for script in ("postinst", "prerm", "postrm"):
            text = "".join(line for line in open(os.path.join(control, script)) if not line.lstrip().startswith("#"))
            assert "deb-systemd-helper enable" not in text or "was-enabled" in text
            assert "systemctl enable" not in text and "systemctl start" not in text
    listing = run(["dpkg-deb", "-c", deb]).stdout
    for path in ("./usr/bin/silo", "./usr/share/man/man1/silo.1.gz", "./etc/silo/silo.conf",
                 "./lib/systemd/system/silo.service", "./usr/lib/sysusers.d/silo.conf",
                 "./usr/lib/tmpfiles.d/silo.conf", "./usr/share/doc/silo/copyright",
                 "./usr/share/doc/silo/changelog.gz"):
        assert re.search(rf" {re.escape(path)}$", listing, re.M), path


class ScratchRoot:
    """A directory dpkg installs into (--root, maintainer scripts run
    chrootless with DPKG_ROOT), with the host's package list so that the
    package's Depends are checked against what this system has."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="silo-root-")
        os.chmod(self.path, 0o755)  # the silo user reaches its files
        dpkg = os.path.join(self.path, "var/lib/dpkg")
        for sub in ("info", "updates", "triggers"):
            os.makedirs(os.path.join(dpkg, sub))
        shutil.copy("/var/lib/dpkg/status", os.path.join(dpkg, "status"))
        open(os.path.join(dpkg, "available"), "w").close()
        # systemd's own units, as on a system that has the systemd package
        # (the unit's dependencies resolve against them).
        shutil.copytree("/lib/systemd/system", os.path.join(self.path, "lib/systemd/system"), symlinks=True)

    def __call__(self, *rel):
        return os.path.join(self.path, *rel)

    def dpkg(self, *args):
        return run(["dpkg", f"--root={self.path}", "--force-script-chrootless", "--log=/dev/null", *args],
                   env=TOOL_ENV)

    def install(self, deb):
        out = self.dpkg("-i", deb)
        version = run(["dpkg-deb", "-f", deb, "Version"]).stdout.strip()
        status = run(["dpkg-query", f"--root={self.path}", "-W", "-f=${Status} ${Version}", "silo"]).stdout
        assert status == f"install ok installed {version}", status
        return out

    def user(self):
        for line in open(self("etc/passwd")):
            name, _, uid, gid, _, home, shell = line.rstrip("\n").split(":")
            if name == "silo":
                return int(uid), int(gid), home, shell
        raise AssertionError("no silo user in " + open(self("etc/passwd")).read())

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)


@pytest.fixture
def root(packages):
    scratch = ScratchRoot()
    yield scratch
    scratch.remove()


def syscall_group(name, cache={}):
    """The system calls of a systemd group (@system-service...), expanded."""
    if name not in cache:
        out = run(["systemd-analyze", "syscall-filter", name]).stdout
        calls = set()
        for line in out.splitlines()[1:]:
            entry = line.strip()
            if not entry or entry.startswith("#"):
                continue
            calls |= syscall_group(entry) if entry.startswith("@") else {entry}
        cache[name] = calls
    return cache[name]


def unit_sandbox(uid, gid, unit_text):
    """A preexec function that does what the unit's User=, Group=, UMask=,
    NoNewPrivileges= and SystemCallFilter= lines do: the silo user, then
    only the system calls the filter allows. The unit answers any other
    with EPERM (SystemCallErrorNumber=); here it kills the process, so that
    nothing slips by unnoticed, except for the calls known to be refused
    harmlessly: set_mempolicy, which libnuma (loaded with FFmpeg's libx265)
    tries once at load time and does without."""
    import seccomp

    filters = re.findall(r"^SystemCallFilter=(.*)$", unit_text, re.M)
    assert filters == ["@system-service", "~@privileged @resources"], filters
    allowed = syscall_group("@system-service") - syscall_group("@privileged") - syscall_group("@resources")
    assert "execve" in allowed and "setuid" not in allowed

    umask = int(re.findall(r"^UMask=(\d+)$", unit_text, re.M)[-1], 8)

    def enter():
        os.umask(umask)
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        f = seccomp.SyscallFilter(defaction=seccomp.KILL_PROCESS)
        for call in sorted(allowed):
            try:
                f.add_rule(seccomp.ALLOW, call)
            except (RuntimeError, ValueError):
                pass  # a name this architecture does not have
        f.add_rule(seccomp.ERRNO(errno.EPERM), "set_mempolicy")
        f.load()

    return enter


class Installed:
    """`silo serve` run from a scratch root the way the unit runs it: the
    installed binary and configuration, the silo user, the unit's system
    call filter; loopback ports and the root's /var/lib/silo given as flags
    (flags win over the file)."""

    def __init__(self, root):
        self.root = root
        self.uid, self.gid, _, _ = root.user()
        self.unit = open(root("lib/systemd/system/silo.service")).read()
        self.data = root("var/lib/silo")
        self.args = ["--config", root("etc/silo/silo.conf"), "--data", self.data]
        self.env = dict(TOOL_ENV, HOME=self.data)
        self.log_path = root("serve.log")

    def command(self, *args):
        return [self.root("usr/bin/silo"), *args, *self.args]

    def start(self):
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                self.command("serve", "--listen", "127.0.0.1:0", "--s3-listen", "127.0.0.1:0"),
                stdout=subprocess.PIPE, stderr=log, env=self.env,
                preexec_fn=unit_sandbox(self.uid, self.gid, self.unit), text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("api: "):
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"installed silo did not start ({self.proc.returncode}): {line}"
                                 + open(self.log_path).read()[-3000:])
        self.api = line.split(": ", 1)[1].strip()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.api + "/readyz", timeout=5).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise AssertionError("installed silo never became ready")

    def stop(self):
        """SIGTERM, as systemd stops it; returns the log."""
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=120)
        self.proc.stdout.close()
        log = open(self.log_path).read()
        os.unlink(self.log_path)
        assert rc == 0, (rc, log[-3000:])
        return log

    def refused(self):
        """Runs serve on a database it must refuse: (exit status, stderr)."""
        out = subprocess.run(self.command("serve", "--listen", "127.0.0.1:0", "--s3-listen", "127.0.0.1:0"),
                             capture_output=True, text=True, timeout=120, env=self.env,
                             preexec_fn=unit_sandbox(self.uid, self.gid, self.unit))
        return out.returncode, out.stdout, out.stderr

    def token(self, user):
        out = subprocess.run(self.command("token", "--sub", user), capture_output=True, text=True, timeout=60,
                             env=self.env, preexec_fn=unit_sandbox(self.uid, self.gid, self.unit))
        assert out.returncode == 0, out.stderr
        return {"Authorization": "Bearer " + out.stdout.strip()}

    def upload(self, auth, name, **fields):
        r = requests.post(self.api + "/api/v1/s3/upload", headers=auth, files=[("file", (name, WAV, "audio/wav"))],
                          data=fields)
        assert r.status_code == 200, r.text
        return r.json()["key"]

    def download(self, auth, key):
        r = requests.get(self.api + f"/api/v1/s3/file/{key}/url", headers=auth)
        assert r.status_code == 200, r.text
        return requests.get(r.json()["url"]).content


def schema(root):
    db = sqlite3.connect(f"file:{root('var/lib/silo/silo.db')}?mode=ro", uri=True)
    try:
        return dict(db.execute("SELECT version, applied_at FROM schema_migrations"))
    finally:
        db.close()


def applied(log):
    return [int(m) for m in re.findall(r'"msg":"sqlite: applied migration (\d+)"', log)]


def test_deb_installs_into_a_scratch_root_and_serves_as_silo(packages, root):
    out = root.install(packages["head"][1])
    uid, gid, home, shell = root.user()
    assert uid < 1000 and home == "/var/lib/silo" and shell == "/usr/sbin/nologin"
    assert re.search(rf"^silo:x:{gid}:", open(root("etc/group")).read(), re.M)
    st = os.stat(root("var/lib/silo"))
    assert (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o700, uid, gid)
    st = os.stat(root("etc/silo/silo.conf"))
    assert (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o640, 0, gid)
    # Nothing enabled or started.
    assert not glob.glob(root("etc/systemd/system/*.wants/silo.service")), out.stdout
    # The installed manual page is the installed binary's own.
    with gzip.open(root("usr/share/man/man1/silo.1.gz"), "rt") as f:
        assert f.read() == silo_cli("man", binary=root("usr/bin/silo"), env=TOOL_ENV).stdout
    assert silo_cli("version", binary=root("usr/bin/silo"), env=TOOL_ENV).stdout.startswith(f"silo {VERSION} ")

    server = Installed(root).start()
    assert server.data == root("var/lib/silo")
    auth = server.token("alice")
    assert server.download(auth, server.upload(auth, "clip.wav")) == WAV
    assert requests.get(server.api + "/healthz").headers["Server"] == f"silo/{VERSION}"
    server.stop()
    # Everything the service wrote is the silo user's, private.
    for base, dirs, files in os.walk(root("var/lib/silo")):
        for name in dirs + files:
            st = os.lstat(os.path.join(base, name))
            assert st.st_uid == uid and not st.st_mode & 0o077, (name, oct(st.st_mode))


def test_unit_verifies_and_scores_ok_on_security(packages, root):
    root.install(packages["head"][1])
    unit = root("lib/systemd/system/silo.service")
    verify = run(["systemd-analyze", "verify", f"--root={root.path}", unit],
                 env=dict(TOOL_ENV, MANPATH=root("usr/share/man")), check=False)
    assert verify.returncode == 0 and verify.stdout + verify.stderr == "", verify.stdout + verify.stderr
    security = run(["systemd-analyze", "security", "--offline=true", f"--root={root.path}", "--no-pager",
                    "silo.service"], env=TOOL_ENV)
    m = re.search(r"Overall exposure level for silo\.service: (\d+\.\d+) (\w+)", security.stdout)
    assert m, security.stdout[-2000:]
    print("systemd-analyze security:", m.group(1), m.group(2))
    assert float(m.group(1)) <= 1.5 and m.group(2) == "OK", security.stdout
    text = open(unit).read()
    for line in ("Type=notify", "User=silo", "NoNewPrivileges=yes", "ProtectSystem=strict",
                 "ReadWritePaths=/var/lib/silo", "ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet=",
                 "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "SystemCallFilter=@system-service",
                 "ExecStart=/usr/bin/silo serve --config /etc/silo/silo.conf"):
        assert re.search(rf"^{re.escape(line)}$", text, re.M), line
    # Two listeners of 1000 connections, up to three descriptors each.
    assert int(unit_setting("LimitNOFILE", text)) >= 2 * 1000 * 3
    # The shipped configuration serves loopback only until told otherwise.
    conf = open(root("etc/silo/silo.conf")).read()
    assert "\n#listen = 127.0.0.1:3333\n" in conf and "\n#s3-listen = 127.0.0.1:3334\n" in conf


def test_upgrade_keeps_the_data_and_migrates_once_and_a_downgrade_is_refused(packages, root):
    # The previous release, with data uploaded through the API.
    root.install(packages["old"][1])
    server = Installed(root).start()
    assert run([root("usr/bin/silo"), "version"], env=TOOL_ENV).stdout.startswith(f"silo {packages['old'][0]}")
    auth = server.token("alice")
    keys = [server.upload(auth, f"clip{i}.wav", folder="kept") for i in range(3)]
    server.stop()
    old_schema = schema(root)
    # The administrator's change to the configuration survives upgrades.
    with open(root("etc/silo/silo.conf"), "a") as f:
        f.write("\nbucket = media\n")
    conf = open(root("etc/silo/silo.conf")).read()

    def files_listed(server):
        r = requests.get(server.api + "/api/v1/s3/files", headers=auth, params={"prefix": "kept/"})
        assert r.status_code == 200, r.text
        return sorted(f["key"] for f in r.json()["files"])

    def still_there(server):
        assert files_listed(server) == sorted(keys)
        assert server.download(auth, keys[0]) == WAV

    # This release over it: the data is there, migrations it lacks run once.
    root.install(packages["head"][1])
    assert open(root("etc/silo/silo.conf")).read() == conf
    st = os.stat(root("etc/silo/silo.conf"))
    assert (st.st_mode & 0o777, st.st_gid) == (0o640, root.user()[1])
    server = Installed(root).start()
    still_there(server)
    first = applied(server.stop())
    head_schema = schema(root)
    assert {v: head_schema[v] for v in old_schema} == old_schema  # none applied again
    assert sorted(first) == sorted(set(head_schema) - set(old_schema))
    server = Installed(root).start()
    still_there(server)
    assert applied(server.stop()) == []
    assert schema(root) == head_schema

    # A newer release (one migration more) over it: applied once.
    root.install(packages["next"][1])
    server = Installed(root).start()
    still_there(server)
    assert applied(server.stop()) == [1000]
    server = Installed(root).start()
    assert applied(server.stop()) == []
    newer = schema(root)
    assert set(newer) == set(head_schema) | {1000}

    # Back to this release: it refuses the newer schema, naming both
    # versions, and leaves the data as it was.
    before = tree_digest(root("var/lib/silo"))
    root.install(packages["head"][1])
    rc, stdout, stderr = Installed(root).refused()
    assert rc == 1, (rc, stderr[-2000:])
    assert "api:" not in stdout
    assert (f"the database schema is at version 1000, but this silo {VERSION} knows versions up to "
            f"{max(head_schema)}") in stderr, stderr[-2000:]
    assert tree_digest(root("var/lib/silo")) == before
    assert schema(root) == newer

    # And the newer release still finds everything.
    root.install(packages["next"][1])
    server = Installed(root).start()
    still_there(server)
    assert applied(server.stop()) == []
