"""Scale-out (issue 10): two silo instances on one PostgreSQL database and
one remote store act as one service.

A throwaway PostgreSQL (a fresh database on $DATABASE_URL_TEST, which
scripts/test.sh exports, or a cluster of our own from scripts/pg.sh) and
s3rver as the store; instances A and B share both and the jwt secret,
with the built-in S3 endpoint off, as docs/deploy.md lays out. Shown:

  * an upload through A is listed by B and downloadable through B's URL;
  * a token from `silo token` with the shared secret (run against a data
    directory neither instance uses) works on both, a token signed with
    another secret on neither; an API key made with A's CLI works on B;
  * 200 video imports, called back alternately through A and B, each run
    exactly once: every video ends ready with one stored object (and its
    poster), the video host saw one download per URL; A is killed with
    SIGKILL in the middle, and B (short job lease) finishes what A held:
    nothing lost, nothing stored twice.
"""
import collections
import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse

import pytest
import requests

from conftest import BIN, ROOT, Silo, assert_sanitizer_clean
from test_files import WAV, auth, upload
from test_store_remote import S3rver, need_s3rver
from video_host import FFMPEG, VideoHost

PG_SH = os.path.join(ROOT, "scripts", "pg.sh")
JWT_SECRET = "scale-out-shared-jwt-secret"
WEBHOOK_SECRET = "scale-out-webhook-secret"
BUCKET = "scale-media"
VIDEOS = 200
WORKERS = 2
LEASE = 2


def psql(url, sql):
    return subprocess.run(["psql", "-X", "-qtA", "-d", url, "-c", sql], capture_output=True, text=True,
                          timeout=60, check=True).stdout.strip()


@pytest.fixture(scope="module")
def database():
    """The URL of a fresh database on $DATABASE_URL_TEST's server, or on a
    cluster started here (and removed at the end)."""
    if not shutil.which("psql"):
        pytest.skip("psql is not installed")
    server = os.environ.get("DATABASE_URL_TEST")
    cluster = None
    if not server:
        cluster = tempfile.mkdtemp(prefix="silo-pg-")
        out = subprocess.run(["bash", PG_SH, "start", cluster], capture_output=True, text=True, timeout=180)
        if out.returncode != 0:
            subprocess.run(["bash", PG_SH, "stop", cluster], capture_output=True, timeout=60)
            pytest.skip("PostgreSQL did not start: " + out.stderr[-500:])
        server = out.stdout.strip()
    url = urllib.parse.urlsplit(server)
    name = "silo_scale_" + secrets.token_hex(6)
    admin = url._replace(path="/postgres").geturl()
    psql(admin, f'CREATE DATABASE "{name}"')
    yield url._replace(path="/" + name).geturl()
    if cluster:
        subprocess.run(["bash", PG_SH, "stop", cluster], capture_output=True, timeout=60)
    else:
        psql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def store():
    need_s3rver()
    server = S3rver().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def clip():
    """A one-second 64x48 H.264 MP4: small, so 200 imports stay quick."""
    with tempfile.TemporaryDirectory(prefix="silo-scale-") as d:
        path = os.path.join(d, "tiny.mp4")
        subprocess.run(FFMPEG + ["-f", "lavfi", "-i", "testsrc=duration=1:size=64x48:rate=10", "-c:v", "libx264",
                                 "-pix_fmt", "yuv420p", "-movflags", "+faststart", path], check=True, timeout=60)
        return open(path, "rb").read()


@pytest.fixture(scope="module")
def host(clip):
    h = VideoHost({f"v{i}.mp4": clip for i in range(VIDEOS)})
    h.plan_webhook((200, {"status": "processing", "estimatedTime": 1}))
    yield h
    h.close()


def shared_args(database):
    """What every instance (and every CLI run) of the service is given."""
    return ["--db", database, "--jwt-secret", JWT_SECRET, "--s3-listen", "off"]


def store_env(store):
    return {"AWS_S3_ENDPOINT_URL": store.url, "AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER",
            "AWS_S3_BUCKET": BUCKET, "SILO_S3_PATH_STYLE": "true"}


def instance(data_dir, database, store, host):
    silo = Silo(data_dir, env=store_env(store))
    silo.db_args = shared_args(database)
    silo.args = [BIN, "serve", "--listen", "127.0.0.1:0", "--data", data_dir, *silo.db_args,
                 "--outbound-allow", "127.0.0.1/32", "--video-webhook-url", host.url("/webhook"),
                 "--video-webhook-secret", WEBHOOK_SECRET, "--workers", str(WORKERS), "--job-lease", str(LEASE)]
    return silo


@pytest.fixture(scope="module")
def pair(database, store, host):
    with tempfile.TemporaryDirectory(prefix="silo-scale-") as d:
        a = instance(os.path.join(d, "a"), database, store, host).start()
        b = instance(os.path.join(d, "b"), database, store, host).start()
        yield a, b
        for silo in (a, b):
            silo.stop()
            assert_sanitizer_clean(silo)


def test_missing_shared_secret_is_refused(database, store):
    with tempfile.TemporaryDirectory(prefix="silo-scale-") as d:
        env = dict(os.environ, **store_env(store), ASAN_OPTIONS="detect_leaks=0")
        out = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--s3-listen", "off", "--data", d,
                              "--db", database], capture_output=True, text=True, env=env, timeout=60)
        assert out.returncode == 1
        assert "'jwt-secret' (SILO_JWT_SECRET) is required" in out.stderr
        # With the built-in endpoint on, its key pair must be shared too.
        out = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--s3-listen", "127.0.0.1:0", "--data", d,
                              "--db", database, "--jwt-secret", JWT_SECRET], capture_output=True, text=True,
                             env=env, timeout=60)
        assert out.returncode == 1 and "'s3-access-key' (SILO_S3_ACCESS_KEY) is required" in out.stderr
        assert not os.path.exists(os.path.join(d, "instance.json"))


def test_upload_through_a_is_served_by_b(pair, store):
    a, b = pair
    alice = a.token("alice")
    r = upload(a, alice, name="shared.wav")
    assert r.status_code == 200, r.text
    key = r.json()["key"]
    listed = requests.get(b.url("/api/v1/s3/files"), headers=auth(alice)).json()["files"]
    assert key in [f["key"] for f in listed]
    r = requests.get(b.url(f"/api/v1/s3/file/{key}/url"), headers=auth(alice))
    assert r.status_code == 200, r.text
    got = requests.get(r.json()["url"])
    assert got.status_code == 200 and got.content == WAV
    meta = requests.get(b.url(f"/api/v1/s3/file/{key}/metadata"), headers=auth(alice))
    assert meta.status_code == 200 and meta.json()["metadata"]["user_id"] == "alice"
    assert store.client().get_object(Bucket=BUCKET, Key=key)["Body"].read() == WAV


def test_tokens_and_api_keys_work_on_both(pair, database, store):
    a, b = pair
    with tempfile.TemporaryDirectory(prefix="silo-scale-cli-") as d:
        # Neither instance's data directory: the secret is the configuration's.
        out = subprocess.run([BIN, "token", "--sub", "carol", "--data", d, *shared_args(database)],
                             capture_output=True, text=True, env=dict(os.environ, **store_env(store)), timeout=60)
        assert out.returncode == 0, out.stderr
        token = out.stdout.strip()
    for silo in (a, b):
        assert requests.get(silo.url("/api/v1/s3/files"), headers=auth(token)).status_code == 200
    forged = subprocess.run([BIN, "token", "--sub", "carol", "--data", a.data_dir + "-other", "--db", database,
                             "--jwt-secret", "another-secret", "--s3-listen", "off"], capture_output=True, text=True,
                            env=dict(os.environ, **store_env(store)), timeout=60).stdout.strip()
    for silo in (a, b):
        assert requests.get(silo.url("/api/v1/s3/files"), headers=auth(forged)).status_code == 401
    key = a.cli("apikey", "create", "--name", "scale").stdout.split("\n")[0]
    assert key.startswith("silo_")
    for silo in (a, b):
        r = requests.get(silo.url("/api/v1/s3/files"), headers=auth(key))
        assert r.status_code == 200, r.text


def sign(body):
    timestamp = str(int(time.time()))
    mac = hmac.new(WEBHOOK_SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Silo-Timestamp": timestamp, "X-Silo-Signature": "sha256=" + mac, "Content-Type": "application/json"}


def gallery(silo, token):
    r = requests.get(silo.url("/api/auth/video/gallery"), headers=auth(token), params={"limit": 500}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_jobs_run_once_across_instances_and_survive_a_kill(pair, database, store, host, clip):
    a, b = pair
    user = "vera"
    token = a.token(user, email=f"{user}@example.com")
    assert requests.get(a.url("/api/auth/video/gallery"), headers=auth(token)).status_code == 200
    form = {"hook": "h", "body": "b", "conclusion": "c", "company_name": "n", "social_handles": "@s",
            "license": "l", "avatar": "v", "email": f"{user}@example.com"}
    sources = {}  # videoId -> path on the host
    session = requests.Session()
    for i in range(VIDEOS):
        silo = (a, b)[i % 2]
        r = session.post(silo.url("/api/auth/create-video/generate-video"), headers=auth(token), json=form)
        assert r.status_code == 200 and r.json()["data"]["status"] == "processing", r.text
        sources[r.json()["data"]["videoId"]] = f"/slow/v{i}.mp4?chunks=2&delay=0.05"
    started = time.time()
    for i, (video_id, path) in enumerate(sources.items()):
        silo = (a, b)[i % 2]
        payload = json.dumps({"videoId": video_id, "videoUrl": host.url(path)}).encode()
        r = session.post(silo.url("/api/auth/create-video/callback"), data=payload, headers=sign(payload))
        assert r.status_code == 202, r.text

    # Kill A in the middle: a third of the imports done.
    deadline = time.time() + 60
    while gallery(b, token)["readyCount"] < VIDEOS // 3:
        assert time.time() < deadline, "the imports did not start"
        time.sleep(0.1)
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait()
    killed_at = gallery(b, token)["readyCount"]
    assert killed_at < VIDEOS, "every import was done before the kill: nothing was shown"

    # B finishes everything, A's leased jobs included once their lease runs out.
    deadline = time.time() + 60
    while True:
        g = gallery(b, token)
        posters = sum(1 for v in g["videos"] if v["posterUrl"])
        if g["readyCount"] == VIDEOS and posters == VIDEOS:
            break
        assert g["failedCount"] == 0, [v["error"] for v in g["videos"] if v["status"] == "failed"][:5]
        assert time.time() < deadline, f"{g['readyCount']} ready, {posters} posters after 60 s"
        time.sleep(0.2)
    print(f"{VIDEOS} imports in {time.time() - started:.1f} s; A killed at {killed_at} ready")

    videos = {v["videoId"]: v for v in g["videos"]}
    assert set(videos) == set(sources) and g["totalCount"] == VIDEOS

    # One row per video, one import job per video, done.
    rows = psql(database, f"SELECT count(*), count(DISTINCT video_id) FROM videos WHERE user_id = '{user}'")
    assert rows == f"{VIDEOS}|{VIDEOS}"
    jobs = psql(database, "SELECT state, count(*) FROM jobs WHERE kind = 'video_import' GROUP BY state")
    assert jobs == f"done|{VIDEOS}", jobs

    # One stored video (and one poster) per video, nothing else under videos/.
    s3 = store.client()
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"videos/{user}/"):
        keys += [o["Key"] for o in page.get("Contents", [])]
    per_video = collections.defaultdict(list)
    for key in keys:
        per_video[key.split("/")[2]].append(key.split("/")[3])
    assert set(per_video) == set(sources)
    for video_id, names in per_video.items():
        assert sorted(names) == sorted(["poster.jpg", videos[video_id]["s3Key"].split("/")[3]]), (video_id, names)
    sample = next(iter(videos.values()))
    assert requests.get(sample["downloadUrl"]).content == clip

    # The host: one download per URL, but for the imports the kill cut
    # short (at most one per worker A had), which B ran again.
    counts = collections.Counter(path for _, method, path in host.seen(path_prefix="/slow/"))
    assert set(counts) == set(sources.values())
    again = [p for p, n in counts.items() if n > 1]
    assert len(again) <= WORKERS and all(counts[p] == 2 for p in again), again
