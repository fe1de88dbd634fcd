"""The s3 store driver against real S3 servers (issue 5).

Two peers, each in its own process on loopback:
  * silo's own built-in S3 endpoint (a second `silo serve`), and
  * s3rver from npm (tests/package.json; scripts/deps.sh installs it).

Against each, the C driver suite build/asan/unit/test_store_s3 runs with
SILO_TEST_S3_* pointing at the peer: the shared store suite (the same one
fs passes) plus the s3-only tests (multipart, abort, memory, metadata,
move, refused credentials). Then silo itself runs with its default store on
s3rver: an upload through the API is read straight from s3rver with boto3,
and named stores from a config file are listed by `silo config` and checked
by /readyz, which turns 503 when one of them goes away.
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import boto3
import botocore.config
import pytest
import requests

from conftest import ROOT, Silo, assert_sanitizer_clean
from test_files import WAV, auth, upload

S3RVER = os.path.join(ROOT, "tests", "node_modules", "s3rver", "bin", "s3rver.js")
SUITE_BIN = os.path.join(ROOT, "build", "asan", "unit", "test_store_s3")

# Shared-suite tests s3rver cannot pass, whatever the client does:
S3RVER_GAPS = {
    # keys are file paths: "../x" escapes the bucket directory, "." and
    # "a/b/../c" are normalised away, 1024-byte keys exceed NAME_MAX
    "hostile_keys_round_trip": "keys are file names",
    # listing walks directories: "a/" comes before "a", not byte-wise
    "listing_is_bytewise": "directory-walk order",
    # common prefixes do not count toward max-keys; a multi-byte delimiter
    # is cut one byte short
    "delimiter_rolls_up_prefixes": "common prefixes uncounted",
    # a PUT writes the object file in place, so concurrent PUTs of one key
    # interleave their bytes
    "concurrent_writers_one_winner": "PUT is not atomic",
}


class S3rver:
    """An s3rver on a free loopback port with a throwaway directory."""

    def __init__(self, tls=None):
        self.tls = tls  # (key file, certificate file) to serve https
        self.dir = tempfile.mkdtemp(prefix="silo-s3rver-")
        self.log_path = self.dir + ".log"
        self.proc = None
        self.url = None

    def start(self, timeout=30):
        self.log = open(self.log_path, "wb")
        # s3rver's continuation tokens use DES, which OpenSSL 3 keeps in
        # its legacy provider.
        args = ["node", "--openssl-legacy-provider", S3RVER, "--directory", self.dir, "--address", "127.0.0.1",
                "--port", "0", "--silent"]
        if self.tls:
            args += ["--key", str(self.tls[0]), "--cert", str(self.tls[1])]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log)
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.proc.stdout.readline().decode()
            if not line:
                break
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                self.url = f"{'https' if self.tls else 'http'}://127.0.0.1:{m.group(1)}"
                return self
        self.stop()
        raise RuntimeError("s3rver did not start: " + open(self.log_path).read()[-2000:])

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.proc.stdout.close()
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def client(self):
        return boto3.client("s3", endpoint_url=self.url, aws_access_key_id="S3RVER",
                            aws_secret_access_key="S3RVER", region_name="us-east-1", verify=False,
                            config=botocore.config.Config(s3={"addressing_style": "path"}))


def need_s3rver():
    if not shutil.which("node"):
        pytest.skip("node is not installed (sh scripts/deps.sh test)")
    if not os.path.exists(S3RVER):
        pytest.skip("s3rver is not installed (sh scripts/deps.sh test)")


@pytest.fixture(scope="module")
def s3rver():
    need_s3rver()
    server = S3rver().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def peer():
    """A silo whose built-in S3 endpoint plays the remote service."""
    with tempfile.TemporaryDirectory(prefix="silo-peer-") as d:
        instance = Silo(os.path.join(d, "data")).start()
        yield instance
        instance.stop()
        assert_sanitizer_clean(instance)


def run_suite(endpoint, access_key, secret_key, skip=()):
    """Runs the C driver suite against endpoint; returns (passed, failed, output)."""
    if not os.path.exists(SUITE_BIN):
        pytest.skip("build/asan/unit/test_store_s3 is not built (make unit)")
    env = dict(os.environ, SILO_TEST_S3_ENDPOINT=endpoint, SILO_TEST_S3_ACCESS_KEY=access_key,
               SILO_TEST_S3_SECRET_KEY=secret_key, SILO_TEST_S3_SKIP=",".join(skip))
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    started = time.time()
    out = subprocess.run([SUITE_BIN], capture_output=True, text=True, env=env, timeout=900)
    text = out.stdout + out.stderr
    passed = sum(int(n) for n in re.findall(r"\[  PASSED  \] (\d+) test", text))
    failed = sum(int(n) for n in re.findall(r"\[  FAILED  \] (\d+) test", text))
    print(f"test_store_s3 against {endpoint}: {passed} passed, {failed} failed in {time.time() - started:.1f} s")
    assert out.returncode == 0 and failed == 0, text[-8000:]
    assert "Sanitizer" not in text, text[-8000:]
    return passed, text


def test_driver_suite_against_silo_endpoint(peer):
    access_key, secret_key = peer.credentials()
    passed, text = run_suite(peer.s3_url, access_key, secret_key)
    # 6 scripted + the whole shared suite (23) + 6 s3-only (the 9 pure wire
    # format tests moved to test_store_s3_client, run with the unit tests)
    assert passed == 6 + 23 + 6, text[-4000:]
    assert "SKIPPED" not in text


def test_driver_suite_against_s3rver(s3rver):
    passed, text = run_suite(s3rver.url, "S3RVER", "S3RVER", skip=S3RVER_GAPS)
    assert passed == 6 + 23 - len(S3RVER_GAPS) + 6, text[-4000:]
    for name in S3RVER_GAPS:
        assert f"[ SKIPPED  ] {name}" in text


def remote_silo(silo_factory, server, bucket, extra_env=None, extra_args=()):
    env = {"AWS_S3_ENDPOINT_URL": server.url, "AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER",
           "AWS_S3_BUCKET": bucket, "SILO_S3_PATH_STYLE": "true"}
    env.update(extra_env or {})
    return silo_factory(extra_args=extra_args, env=env)


def test_default_store_on_s3rver(silo_factory, s3rver):
    silo = remote_silo(silo_factory, s3rver, "remote-media")
    s3 = s3rver.client()
    assert "remote-media" in [b["Name"] for b in s3.list_buckets()["Buckets"]]  # created at start
    alice = silo.token("alice")

    r = upload(silo, alice, name="r\u00e9union.wav", fields={"folder": "audio"})
    assert r.status_code == 200, r.text
    body = r.json()
    key = body["key"]
    assert key.startswith("audio/alice/") and body["bucket"] == "remote-media"

    # Straight from s3rver: the bytes, the type and silo's metadata.
    obj = s3.get_object(Bucket="remote-media", Key=key)
    assert obj["Body"].read() == WAV
    assert obj["ContentType"] == "audio/wav"
    assert obj["Metadata"]["user_id"] == "alice"
    # Not ASCII: stored as an RFC 2047 encoded word, as AWS itself answers.
    assert obj["Metadata"]["original_filename"] == "=?UTF-8?B?csOpdW5pb24ud2F2?="
    assert obj["ETag"].strip('"') == body["etag"]
    # The staging copy is gone: the move was CopyObject + DeleteObject.
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="remote-media")["Contents"]] == [key]

    # silo reads it back through the driver, decoded.
    m = requests.get(silo.url(f"/api/v1/s3/file/{key}/metadata"), headers=auth(alice)).json()
    assert m["metadata"]["original_filename"] == "r\u00e9union.wav" and m["size"] == len(WAV)
    exists = requests.get(silo.url(f"/api/v1/s3/file/{key}/exists"), headers=auth(alice)).json()
    assert exists["exists"] is True
    # A presigned URL points at s3rver and works there.
    url = requests.get(silo.url(f"/api/v1/s3/file/{key}/url"), headers=auth(alice)).json()["url"]
    assert url.startswith(s3rver.url + "/remote-media/")
    got = requests.get(url)
    assert got.status_code == 200 and got.content == WAV

    ready = requests.get(silo.url("/readyz"))
    assert ready.status_code == 200 and ready.json()["checks"]["store:default"] == "ok"

    assert requests.delete(silo.url(f"/api/v1/s3/file/{key}"), headers=auth(alice)).status_code == 200
    assert s3.list_objects_v2(Bucket="remote-media").get("KeyCount", 0) == 0


def test_named_stores_are_listed_and_checked(silo_factory, s3rver, peer, tmp_path):
    need_s3rver()
    doomed = S3rver().start()  # a store that will go away
    try:
        access_key, secret_key = peer.credentials()
        config = tmp_path / "silo.conf"
        config.write_text(
            f"# two remote stores beside the default one\n"
            f"[store r2]\ndriver = s3\nendpoint = {s3rver.url}\nbucket = named-r2\n"
            f"access-key = S3RVER\nsecret-key = S3RVER\npath-style = true\n\n"
            f"[store s3]\nendpoint = {peer.s3_url}\nregion = us-east-1\nbucket = named-peer\n"
            f"access-key = {access_key}\nsecret-key = {secret_key}\npath-style = true\n\n"
            f"[store flaky]\nendpoint = {doomed.url}\nbucket = named-flaky\n"
            f"access-key = S3RVER\nsecret-key = S3RVER\n")
        data = tmp_path / "data"
        listed = subprocess.run([os.path.join(ROOT, os.environ.get("SILO_BIN", "build/silo")), "config",
                                 "--config", str(config), "--data", str(data)],
                                capture_output=True, text=True, env={**os.environ, "ASAN_OPTIONS": "detect_leaks=0"})
        assert listed.returncode == 0, listed.stderr
        for name in ("r2", "s3", "flaky"):
            assert f"[store {name}]" in listed.stdout
        assert secret_key not in listed.stdout and "secret-key = ********" in listed.stdout

        silo = silo_factory(extra_args=["--config", str(config)], data_dir=str(data))
        checks = requests.get(silo.url("/readyz")).json()["checks"]
        assert checks["store:default"] == "ok"
        assert checks["store:r2"] == "ok" and checks["store:s3"] == "ok" and checks["store:flaky"] == "ok"
        # Each named store made its bucket on its own service.
        assert "named-r2" in [b["Name"] for b in s3rver.client().list_buckets()["Buckets"]]
        peer_s3 = boto3.client("s3", endpoint_url=peer.s3_url, aws_access_key_id=access_key,
                               aws_secret_access_key=secret_key, region_name="us-east-1")
        assert "named-peer" in [b["Name"] for b in peer_s3.list_buckets()["Buckets"]]

        doomed.stop()
        started = time.time()
        r = requests.get(silo.url("/readyz"), timeout=60)
        assert r.status_code == 503
        checks = r.json()["checks"]
        assert checks["store:flaky"] == "service unavailable"
        assert checks["store:r2"] == "ok" and checks["store:default"] == "ok"
        assert time.time() - started < 30  # retried with backoff, then gave up
        assert "store s3: HEAD /named-flaky" in silo.log_text()
    finally:
        doomed.stop()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_settings_are_honoured(silo_factory, tmp_path):
    """AWS_S3_USE_SSL makes a scheme-less endpoint https; AWS_S3_VERIFY_SSL
    decides whether a self-signed certificate is accepted."""
    need_s3rver()
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    server = S3rver(tls=(key, cert)).start()
    try:
        host = server.url.split("://", 1)[1]
        silo = remote_silo(silo_factory, server, "tls-media",
                           extra_env={"AWS_S3_ENDPOINT_URL": host, "AWS_S3_USE_SSL": "true",
                                      "AWS_S3_VERIFY_SSL": "false"})
        alice = silo.token("alice")
        r = upload(silo, alice, fields={"folder": "tls"})
        assert r.status_code == 200, r.text
        obj = server.client().get_object(Bucket="tls-media", Key=r.json()["key"])
        assert obj["Body"].read() == WAV
        assert requests.get(silo.url("/readyz")).json()["checks"]["store:default"] == "ok"

        with pytest.raises(RuntimeError) as refused:
            remote_silo(silo_factory, server, "tls-media",
                        extra_env={"AWS_S3_ENDPOINT_URL": host, "AWS_S3_USE_SSL": "true",
                                   "AWS_S3_VERIFY_SSL": "true"})
        assert "cannot open store 'default'" in str(refused.value)
        assert "certificate" in str(refused.value).lower()
    finally:
        server.stop()
