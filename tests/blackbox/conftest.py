"""Black-box harness: starts the real silo binary on free loopback ports.

Each test that asks for the `silo` fixture gets a fresh instance with its
own temporary data directory; `silo_module` shares one per test module.
The binary is $SILO_BIN (scripts/test.sh points it at the ASan build).
With $SILO_TEST_DB set to a PostgreSQL URL, every data directory gets a
database of its own on that server (created on first use, named after
the directory), passed to silo as --db, instead of SQLite in the directory,
with the secrets silo then requires (--jwt-secret, --s3-access-key,
--s3-secret-key) derived from the directory's name.
"""
import hashlib
import os
import signal
import subprocess
import tempfile
import time
import urllib.parse

import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, os.environ.get("SILO_BIN", "build/silo"))


def database_args(data_dir):
    """["--db", URL, secrets...] for data_dir when $SILO_TEST_DB is set, else []."""
    server = os.environ.get("SILO_TEST_DB")
    if not server:
        return []
    url = urllib.parse.urlsplit(server)
    name = "silo_" + hashlib.sha1(os.path.abspath(data_dir).encode()).hexdigest()[:16]
    admin = url._replace(path="/postgres").geturl()
    exists = subprocess.run(["psql", "-X", "-qtA", "-d", admin, "-c",
                             f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
                            capture_output=True, text=True, timeout=60, check=True)
    if exists.stdout.strip() != "1":
        subprocess.run(["psql", "-X", "-q", "-d", admin, "-c", f'CREATE DATABASE "{name}"'],
                       capture_output=True, text=True, timeout=60, check=True)
    digest = hashlib.sha256(name.encode()).hexdigest()
    return ["--db", url._replace(path="/" + name).geturl(), "--jwt-secret", digest,
            "--s3-access-key", "SILO" + digest[:16].upper(), "--s3-secret-key", digest[16:56]]


class Silo:
    """A running `silo serve` and helpers to talk to it."""

    def __init__(self, data_dir, extra_args=(), env=None):
        self.data_dir = data_dir
        self.env = dict(os.environ)
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_S3_ENDPOINT_URL", "AWS_S3_BUCKET",
                     "AWS_S3_BUCKET_NAME", "AWS_REGION", "DATABASE_URL", "DEBUG", "SILO_CONFIG"):
            self.env.pop(name, None)
        self.env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
        self.env.update(env or {})
        self.log_path = data_dir.rstrip("/") + ".log"
        self.db_args = database_args(data_dir)
        self.args = [BIN, "serve", "--listen", "127.0.0.1:0", "--s3-listen", "127.0.0.1:0",
                     "--data", data_dir, *self.db_args, *extra_args]
        self.proc = None

    def start(self, timeout=30):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self.log, env=self.env)
        lines = {}
        deadline = time.time() + timeout
        while len(lines) < 3 and time.time() < deadline:
            line = self.proc.stdout.readline().decode()
            if not line:
                break
            name, _, value = line.strip().partition(": ")
            lines[name] = value
        if "api" not in lines:
            self.proc.kill()
            raise RuntimeError("silo did not start: " + open(self.log_path).read()[-3000:])
        self.api_url = lines["api"]
        self.s3_url = lines.get("s3")
        while time.time() < deadline:
            try:
                if requests.get(self.api_url + "/healthz", timeout=2).status_code == 200:
                    return self
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("silo did not answer /healthz")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.proc.stdout.close()
            self.log.close()
        return self.proc.returncode if self.proc else None

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def cli(self, *args, check=True):
        """Runs `silo ARGS --data DIR` and returns stdout."""
        out = subprocess.run([BIN, *args, "--data", self.data_dir, *self.db_args], capture_output=True,
                             text=True, env=self.env, timeout=60)
        if check and out.returncode != 0:
            raise AssertionError(f"silo {' '.join(args)} failed: {out.stderr}")
        return out

    def token(self, sub="alice", **claims):
        args = ["token", "--sub", sub]
        for name, value in claims.items():
            args += [f"--{name}", str(value)]
        return self.cli(*args).stdout.strip()

    def credentials(self):
        out = self.cli("s3-credentials").stdout
        pairs = dict(line.split("=", 1) for line in out.strip().splitlines())
        return pairs["AWS_ACCESS_KEY_ID"], pairs["AWS_SECRET_ACCESS_KEY"]

    def url(self, path):
        return self.api_url + path


def assert_sanitizer_clean(instance):
    text = instance.log_text()
    assert "ERROR: AddressSanitizer" not in text, text[-5000:]
    assert "runtime error:" not in text, text[-5000:]


@pytest.fixture
def silo_factory():
    """Starts silo instances with custom arguments; stops them at the end."""
    started = []
    dirs = []

    def make(extra_args=(), env=None, data_dir=None):
        if data_dir is None:
            d = tempfile.TemporaryDirectory(prefix="silo-test-")
            dirs.append(d)
            data_dir = os.path.join(d.name, "data")
        instance = Silo(data_dir, extra_args, env)
        started.append(instance)
        return instance.start()

    yield make
    for instance in started:
        instance.stop()
        assert_sanitizer_clean(instance)
    for d in dirs:
        d.cleanup()


@pytest.fixture
def silo(silo_factory):
    return silo_factory()


@pytest.fixture(scope="module")
def silo_module():
    with tempfile.TemporaryDirectory(prefix="silo-test-") as d:
        instance = Silo(os.path.join(d, "data")).start()
        yield instance
        instance.stop()
        assert_sanitizer_clean(instance)
