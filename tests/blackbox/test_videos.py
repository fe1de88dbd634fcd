"""Seed 004's videos (issue 9), against a local video host and generator
webhook (video_host.py): the seed's whole flow generate -> download ->
gallery -> delete; the signed callback of a generator that answered
"processing"; the SSRF guard (loopback without an allowlist, redirects to
loopback addresses the allowlist does not name); slow, stalled, lying and
oversized hosts, with nothing stored after a refusal; share links with
right, wrong and rotated keys; status updates; ownership."""
import hashlib
import hmac
import json
import os
import re
import sqlite3
import tempfile
import threading
import time
import urllib.parse

import pytest
import requests

from conftest import Silo, assert_sanitizer_clean
from test_files import ELF, auth
from video_host import VideoHost, make_videos, padded_mp4

SECRET = "webhook-test-secret"
MAX_SIZE = 1 << 20
SEED_FORM = {"hook": "Video prompt", "body": "Video description", "conclusion": "Video conclusion",
             "company_name": "Company Name", "social_handles": "@handle", "license": "License Info",
             "avatar": "Avatar Name", "email": "alice@example.com"}
VIDEO_ID = re.compile(r"^video_\d{13}_[a-z0-9]{9}$")
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture(scope="module")
def videos():
    with tempfile.TemporaryDirectory(prefix="silo-videos-") as d:
        yield make_videos(d)


@pytest.fixture(scope="module")
def host(videos):
    files = dict(videos)
    files["big.mp4"] = padded_mp4(videos["clip.mp4"], MAX_SIZE + 300_000)
    files["elf"] = ELF
    files["page.html"] = b"<!doctype html><html><body>" + b"<p>not a video</p>" * 200 + b"</body></html>"
    files["broken.mp4"] = videos["clip.mp4"][:40] + bytes(range(256)) * 40  # ftyp, then junk
    h = VideoHost(files, addresses=("127.0.0.1", "127.0.0.2", "::1"))
    h.types["clip.webm"] = "video/webm"
    h.types["truthful.mp4"] = "text/plain"
    h.files["truthful.mp4"] = videos["clip.mp4"]
    yield h
    h.close()


@pytest.fixture(scope="module")
def silo(host):
    with tempfile.TemporaryDirectory(prefix="silo-test-") as d:
        instance = Silo(os.path.join(d, "data"), [
            "--outbound-allow", "127.0.0.1/32",
            "--video-webhook-url", host.url("/webhook"), "--video-webhook-secret", SECRET,
            "--video-webhook-timeout", "1", "--video-import-timeout", "2",
            "--video-max-size", str(MAX_SIZE), "--share-url-expiry", "60", "--workers", "2"]).start()
        yield instance
        instance.stop()
        assert_sanitizer_clean(instance)


@pytest.fixture(scope="module")
def users(silo):
    """Tokens; every user calls the API once so silo knows their email."""
    tokens = {name: silo.token(name, email=f"{name}@example.com") for name in ("alice", "bob", "erin")}
    tokens["admin"] = silo.token("root", role="admin")
    for name in ("alice", "bob", "erin"):
        assert requests.get(silo.url("/api/auth/video/gallery"), headers=auth(tokens[name])).status_code == 200
    return tokens


def gallery(silo, token, **params):
    r = requests.get(silo.url("/api/auth/video/gallery"), headers=auth(token), params=params)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def download(silo, token, url, email="alice@example.com", **extra):
    return requests.post(silo.url("/api/auth/video/download"), headers=auth(token),
                         json={"videoUrl": url, "userEmail": email, **extra}, timeout=60)


def wait_for(predicate, timeout=15, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def video_keys(silo, user):
    """Keys under videos/{user}/ in the fs store's catalog."""
    db = sqlite3.connect(f"file:{silo.data_dir}/store/catalog.db?mode=ro", uri=True)
    try:
        keys = [bytes(r[0]).decode() if isinstance(r[0], bytes) else r[0] for r in db.execute("SELECT key FROM objects")]
    finally:
        db.close()
    return sorted(k for k in keys if k.startswith(f"videos/{user}/"))


def sign(body, timestamp=None, secret=SECRET):
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Silo-Timestamp": timestamp, "X-Silo-Signature": "sha256=" + mac, "Content-Type": "application/json"}


def redirect(host, to):
    return host.url("/redirect?to=" + urllib.parse.quote(to, safe=""))


def find(data, video_id):
    return next((v for v in data["videos"] if v["videoId"] == video_id), None)


def delete_all(silo, token, user):
    for v in gallery(silo, token)["videos"]:
        requests.delete(silo.url("/api/auth/video/delete"), headers=auth(token), json={"videoId": v["videoId"]})
    assert video_keys(silo, user) == []


# ---- the seed's flow ----

def test_seed_flow_generate_download_gallery_delete(silo, host, users, videos):
    alice = users["alice"]
    clip_url = host.url("/v/clip.mp4")
    host.plan_webhook((200, {"videoUrl": clip_url}))
    r = requests.post(silo.url("/api/auth/create-video/generate-video"), headers=auth(alice), json=SEED_FORM)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True and body["message"] == "Video generated successfully"
    data = body["data"]
    assert data["videoUrl"] == clip_url and data["status"] == "ready" and ISO_MS.match(data["timestamp"])
    video_id = data["videoId"]
    assert VIDEO_ID.match(video_id)

    # The generator got the seed's form, who asks, and a signed request.
    (call,) = host.webhook_calls
    sent = json.loads(call["body"])
    assert {k: sent[k] for k in SEED_FORM} == SEED_FORM
    assert sent["userId"] == "alice" and sent["videoId"] == video_id
    assert sent["callbackUrl"].endswith("/api/auth/create-video/callback")
    assert call["headers"]["X-Silo-Signature"] == sign(call["body"], call["headers"]["X-Silo-Timestamp"])["X-Silo-Signature"]

    # The seed's modal then downloads the URL: the one copy silo imports.
    r = download(silo, alice, clip_url)
    assert r.status_code == 200, r.text
    assert r.json()["message"] == "Video downloaded and uploaded successfully"
    d = r.json()["data"]
    assert d["videoId"] == video_id and d["status"] == "ready" and d["size"] == len(videos["clip.mp4"])
    assert re.match(rf"^videos/alice/{video_id}/\d{{13}}_clip\.mp4$", d["s3Key"]), d["s3Key"]
    assert re.match(r"^[0-9a-f]{48}$", d["secretKey"]) and ISO_MS.match(d["createdAt"])
    assert d["title"] == "Video prompt"

    g = wait_for(lambda: (lambda g: g if find(g, video_id)["posterUrl"] else None)(gallery(silo, alice)),
                 what="the poster")
    assert (g["totalCount"], g["readyCount"], g["processingCount"], g["failedCount"]) == (1, 1, 0, 0)
    v = find(g, video_id)
    assert v["status"] == "ready" and ISO_MS.match(v["createdAt"]) and ISO_MS.match(v["updatedAt"])
    meta = v["metadata"]
    assert abs(meta["duration"] - 4.0) < 0.2 and meta["size"] == len(videos["clip.mp4"]) and meta["format"] == "mp4"
    assert meta["width"] == 320 and meta["height"] == 240 and meta["videoCodec"] == "h264"
    got = requests.get(v["downloadUrl"])
    assert got.status_code == 200 and got.content == videos["clip.mp4"]
    assert "attachment" in got.headers.get("Content-Disposition", "")
    ranged = requests.get(v["streamUrl"], headers={"Range": "bytes=100-199"})
    assert ranged.status_code == 206 and ranged.content == videos["clip.mp4"][100:200]
    poster = requests.get(v["posterUrl"])
    assert poster.status_code == 200 and poster.content[:3] == b"\xff\xd8\xff"
    assert poster.headers["Content-Type"] == "image/jpeg"
    assert video_keys(silo, "alice") == sorted([d["s3Key"], f"videos/alice/{video_id}/poster.jpg"])

    r = requests.delete(silo.url("/api/auth/video/delete"), headers=auth(alice),
                        json={"userId": "alice", "videoId": video_id})
    assert r.status_code == 200, r.text
    assert r.json()["success"] is True and r.json()["data"]["deletedObjects"] == 2
    assert gallery(silo, alice)["totalCount"] == 0
    assert video_keys(silo, "alice") == []
    assert requests.get(v["downloadUrl"]).status_code == 404
    r = requests.delete(silo.url("/api/auth/video/delete"), headers=auth(alice), json={"videoId": video_id})
    assert r.status_code == 404 and r.json()["success"] is False


def test_generate_processing_then_signed_callback(silo, host, users, videos):
    erin = users["erin"]
    host.plan_webhook((200, {"status": "processing", "estimatedTime": 7}))
    r = requests.post(silo.url("/api/auth/create-video/generate-video"), headers=auth(erin),
                      json={**SEED_FORM, "email": "erin@example.com"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["message"] == "Video generation request submitted successfully"
    data = body["data"]
    assert data["status"] == "processing" and data["estimatedTime"] == 7 and "7 minutes" in data["message"]
    video_id = data["videoId"]
    g = gallery(silo, erin)
    assert g["processingCount"] == 1 and find(g, video_id)["status"] == "processing"

    callback = silo.url("/api/auth/create-video/callback")
    payload = json.dumps({"videoId": video_id, "videoUrl": host.url("/v/clip.webm")}).encode()
    for headers in ({"Content-Type": "application/json"},                       # unsigned
                    sign(payload, secret="wrong"),                              # wrong key
                    sign(payload, timestamp=int(time.time()) - 3600)):          # replayed
        r = requests.post(callback, data=payload, headers=headers)
        assert r.status_code == 401, r.text
    tampered = payload.replace(b"clip.webm", b"elf")
    r = requests.post(callback, data=tampered, headers=sign(payload))
    assert r.status_code == 401
    r = requests.post(callback, data=payload, headers=sign(payload))
    assert r.status_code == 202, r.text
    v = wait_for(lambda: (lambda v: v if v["status"] == "ready" and v["posterUrl"] else None)(
        find(gallery(silo, erin), video_id)), what="the callback's import")
    assert v["metadata"]["format"] == "webm" and v["metadata"]["videoCodec"] == "vp8"
    assert requests.get(v["downloadUrl"]).content == videos["clip.webm"]
    # The same report again changes nothing.
    r = requests.post(callback, data=payload, headers=sign(payload))
    assert r.status_code == 200 and r.json()["message"] == "Video already stored"

    # A generator that reports a failure, and one whose URL is refused.
    for report, expected in (({"status": "failed", "error": "render crashed"}, "render crashed"),
                             ({"videoUrl": host.url("/v/elf")}, "does not hold a video")):
        r = requests.post(silo.url("/api/auth/create-video/generate-video"), headers=auth(erin),
                          json={**SEED_FORM, "email": "erin@example.com"})
        failing = r.json()["data"]["videoId"]
        payload = json.dumps({"videoId": failing, **report}).encode()
        assert requests.post(callback, data=payload, headers=sign(payload)).status_code in (200, 202)
        v = wait_for(lambda: (lambda v: v if v["status"] == "failed" else None)(find(gallery(silo, erin), failing)),
                     what="the failure")
        assert expected in v["error"] and v["downloadUrl"] is None
    assert gallery(silo, erin)["failedCount"] == 2
    delete_all(silo, erin, "erin")


def test_generate_validation(silo, host, users):
    alice, bob = users["alice"], users["bob"]
    url = silo.url("/api/auth/create-video/generate-video")
    r = requests.post(url, json=SEED_FORM)
    assert r.status_code == 401 and r.json()["success"] is False
    form = dict(SEED_FORM)
    del form["hook"], form["email"]
    r = requests.post(url, headers=auth(alice), json=form)
    assert r.status_code == 400 and "hook" in r.json()["message"] and "email" in r.json()["message"]
    r = requests.post(url, headers=auth(alice), json={**SEED_FORM, "avatar": 5})
    assert r.status_code == 400
    r = requests.post(url, headers=auth(alice), data="not json")
    assert r.status_code == 400 and r.json()["success"] is False
    r = requests.post(url, headers=auth(alice), json={**SEED_FORM, "email": "nobody@example.com"})
    assert r.status_code == 404
    r = requests.post(url, headers=auth(bob), json=SEED_FORM)  # alice's email
    assert r.status_code == 403
    # An admin may act for alice; a long title is cut at a character boundary.
    r = requests.post(url, headers=auth(users["admin"]), json={**SEED_FORM, "hook": "é" * 300})
    assert r.status_code == 200, r.text
    assert find(gallery(silo, alice), r.json()["data"]["videoId"])["title"] == "é" * 100
    delete_all(silo, alice, "alice")


def test_webhook_failures_are_retried_then_reported(silo, host, users):
    alice = users["alice"]
    url = silo.url("/api/auth/create-video/generate-video")
    host.plan_webhook((503, {}), (200, {"status": "processing"}))
    r = requests.post(url, headers=auth(alice), json=SEED_FORM)
    assert r.status_code == 200 and len(host.webhook_calls) == 2
    assert r.json()["data"]["estimatedTime"] == 15
    delete_all(silo, alice, "alice")

    host.plan_webhook((500, {"error": "down"}))
    started = time.time()
    r = requests.post(url, headers=auth(alice), json=SEED_FORM)
    assert r.status_code == 502 and "HTTP 500" in r.json()["message"] and len(host.webhook_calls) == 3
    assert time.time() - started < 5
    host.plan_webhook((400, {"error": "bad form"}))
    r = requests.post(url, headers=auth(alice), json=SEED_FORM)
    assert r.status_code == 502 and len(host.webhook_calls) == 1  # a 4xx is not retried
    host.plan_webhook((200, 1.5))  # answers after the 1 s timeout, every time
    r = requests.post(url, headers=auth(alice), json=SEED_FORM, timeout=30)
    assert r.status_code == 504 and len(host.webhook_calls) == 3
    assert gallery(silo, alice)["totalCount"] == 0  # a failed request leaves nothing


# ---- importing ----

def test_download_validation(silo, host, users):
    alice, bob = users["alice"], users["bob"]
    clip = host.url("/v/clip.mp4")
    for body in ({}, {"videoUrl": clip}, {"userEmail": "alice@example.com"}, {"videoUrl": "", "userEmail": "a@b"}):
        r = requests.post(silo.url("/api/auth/video/download"), headers=auth(alice), json=body)
        assert r.status_code == 400 and r.json()["success"] is False, body
    assert download(silo, alice, clip, email="nobody@example.com").status_code == 404
    assert download(silo, alice, "ftp://127.0.0.1/clip.mp4").status_code == 400
    assert download(silo, alice, "not a url").status_code == 400
    assert download(silo, bob, clip).status_code == 403  # alice's email
    r = download(silo, users["admin"], clip, title="By the admin")
    assert r.status_code == 200 and r.json()["data"]["title"] == "By the admin"
    assert r.json()["data"]["s3Key"].startswith("videos/alice/")
    again = download(silo, alice, clip)
    assert again.status_code == 200 and again.json()["data"]["videoId"] == r.json()["data"]["videoId"]
    assert again.json()["data"]["alreadyStored"] is True
    delete_all(silo, alice, "alice")


def test_loopback_is_refused_without_allowlist(silo_factory, host, videos):
    bare = silo_factory()
    token = bare.token("alice", email="alice@example.com")
    before = len(host.seen())
    for url in (host.url("/v/clip.mp4"), host.url("/v/clip.mp4").replace("127.0.0.1", "localhost"),
                host.url("/v/clip.mp4", "::1")):
        r = download(bare, token, url)
        assert r.status_code == 400, r.text
        assert "not public" in r.json()["message"] and "outbound-allow" in r.json()["message"]
    assert len(host.seen()) == before  # refused before connecting
    assert gallery(bare, token)["totalCount"] == 0 and video_keys(bare, "alice") == []


def test_redirects_to_addresses_outside_the_allowlist_are_refused(silo, host, users, videos):
    alice = users["alice"]
    target = "/v/clip.mp4"
    # Control: a redirect to the allowlisted address is followed.
    r = download(silo, alice, redirect(host, host.url(target)))
    assert r.status_code == 200, r.text
    delete_all(silo, alice, "alice")
    others = [a for a in ("127.0.0.2", "::1") if host.has(a)]
    assert "127.0.0.2" in others
    for address in others:
        before = len(host.seen(address))
        for url in (host.url(target, address), redirect(host, host.url(target, address))):
            r = download(silo, alice, url)
            assert r.status_code == 400 and "not public" in r.json()["message"], (url, r.text)
        assert len(host.seen(address)) == before, address
    r = download(silo, alice, redirect(host, "file:///etc/passwd"))
    assert r.status_code == 400 and "scheme" in r.json()["message"]
    assert gallery(silo, alice)["totalCount"] == 0 and video_keys(silo, "alice") == []


def test_content_type_is_judged_on_the_bytes(silo, host, users, videos):
    alice = users["alice"]
    for name in ("elf", "page.html"):  # served as video/mp4
        r = download(silo, alice, host.url(f"/v/{name}"))
        assert r.status_code == 415 and "does not hold a video" in r.json()["message"], r.text
    r = download(silo, alice, host.url("/v/broken.mp4"))  # looks like MP4, does not play
    assert r.status_code == 422, r.text
    assert gallery(silo, alice)["totalCount"] == 0 and video_keys(silo, "alice") == []
    r = download(silo, alice, host.url("/v/truthful.mp4"))  # a real MP4 the host calls text/plain
    assert r.status_code == 200 and r.json()["data"]["size"] == len(videos["clip.mp4"])
    delete_all(silo, alice, "alice")


def test_oversize_is_refused_and_nothing_stored(silo, host, users):
    alice = users["alice"]
    for kind in ("v", "chunked"):  # declared length, then only the bytes tell
        r = download(silo, alice, host.url(f"/{kind}/big.mp4"))
        assert r.status_code == 413 and "video-max-size" in r.json()["message"], (kind, r.text)
    assert gallery(silo, alice)["totalCount"] == 0 and video_keys(silo, "alice") == []
    assert not [f for _, _, fs in os.walk(os.path.join(silo.data_dir, "store")) for f in fs if "big" in f]


def test_slow_host_imports_while_the_server_stays_responsive(silo, host, users, videos):
    alice = users["alice"]
    result = {}
    worker = threading.Thread(target=lambda: result.update(r=download(
        silo, alice, host.url("/slow/clip.mp4?chunks=10&delay=0.25"))))
    started = time.time()
    worker.start()
    progress = wait_for(lambda: (lambda g: g["videos"][0]["progress"] if g["videos"] and g["videos"][0]["progress"]
                                 and g["videos"][0]["progress"]["bytesReceived"] else None)(gallery(silo, alice)),
                        what="import progress")
    assert progress["bytesTotal"] == len(videos["clip.mp4"]) and progress["bytesReceived"] < progress["bytesTotal"]
    t = time.time()
    assert requests.get(silo.url("/healthz")).status_code == 200 and time.time() - t < 0.5
    worker.join(30)
    assert result["r"].status_code == 200, result["r"].text
    assert time.time() - started > 2  # it really was slow
    delete_all(silo, alice, "alice")


def test_stalled_host_is_given_up(silo, host, users):
    alice = users["alice"]
    started = time.time()
    r = download(silo, alice, host.url("/stall/clip.mp4?after=20000"))
    assert r.status_code == 504 and "video-import-timeout" in r.json()["message"], r.text
    assert time.time() - started < 10
    r = download(silo, alice, host.url("/status/404"))
    assert r.status_code == 502 and "404" in r.json()["message"]
    assert gallery(silo, alice)["totalCount"] == 0 and video_keys(silo, "alice") == []


# ---- share links, status, ownership ----

def test_share_links_with_right_wrong_and_rotated_keys(silo, host, users, videos):
    alice, bob = users["alice"], users["bob"]
    d = download(silo, alice, host.url("/v/clip.mp4")).json()["data"]
    video_id, key = d["videoId"], d["secretKey"]
    share = silo.url(f"/api/auth/video/share/{video_id}")
    r = requests.get(share, params={"key": key}, allow_redirects=False)  # no login needed
    assert r.status_code == 302 and "X-Amz-Expires=60" in r.headers["Location"]
    assert r.headers["Cache-Control"] == "no-store"
    assert requests.get(share, params={"key": key}).content == videos["clip.mp4"]
    for params in ({"key": key[:-1] + ("0" if key[-1] != "0" else "1")}, {"key": ""}, {}):
        assert requests.get(share, params=params, allow_redirects=False).status_code == 403
    unknown = silo.url("/api/auth/video/share/video_1_nothing")
    assert requests.get(unknown, params={"key": key}, allow_redirects=False).status_code == 403

    assert requests.post(silo.url("/api/auth/video/rotate-key"), headers=auth(bob),
                         json={"videoId": video_id}).status_code == 404  # not bob's
    assert requests.post(silo.url("/api/auth/video/rotate-key"), headers=auth(bob),
                         json={"userId": "alice", "videoId": video_id}).status_code == 403
    r = requests.post(silo.url("/api/auth/video/rotate-key"), headers=auth(alice), json={"videoId": video_id})
    assert r.status_code == 200, r.text
    new_key = r.json()["data"]["secretKey"]
    assert new_key != key and r.json()["data"]["shareUrl"].endswith(f"/share/{video_id}?key={new_key}")
    assert requests.get(share, params={"key": key}, allow_redirects=False).status_code == 403
    assert requests.get(share, params={"key": new_key}, allow_redirects=False).status_code == 302
    assert find(gallery(silo, alice), video_id)["secretKey"] == new_key
    delete_all(silo, alice, "alice")
    assert requests.get(share, params={"key": new_key}, allow_redirects=False).status_code == 403


def test_status_updates_merge_metadata_and_check_transitions(silo, host, users):
    alice, bob = users["alice"], users["bob"]
    d = download(silo, alice, host.url("/v/clip.mp4")).json()["data"]
    video_id = d["videoId"]
    url = silo.url("/api/auth/video/status")

    r = requests.put(url, headers=auth(alice), json={"userId": "alice", "videoId": video_id, "status": "ready",
                                                     "metadata": {"duration": 120, "note": "checked"}})
    assert r.status_code == 200, r.text
    meta = r.json()["data"]["metadata"]
    assert meta["duration"] == 120 and meta["note"] == "checked" and meta["format"] == "mp4"
    r = requests.put(url, headers=auth(alice), json={"videoId": video_id, "status": "ready", "metadata": {"note": None}})
    assert "note" not in r.json()["data"]["metadata"]
    for body, status in (({"videoId": video_id, "status": "done"}, 400),
                         ({"videoId": video_id}, 400),
                         ({"videoId": video_id, "status": "ready", "metadata": [1]}, 400),
                         ({"videoId": video_id, "status": "processing"}, 409),  # ready -> processing
                         ({"videoId": "video_1_unknown", "status": "ready"}, 404)):
        r = requests.put(url, headers=auth(alice), json=body)
        assert r.status_code == status and r.json()["success"] is False, (body, r.text)
    r = requests.put(url, headers=auth(alice), json={"videoId": video_id, "status": "failed", "error": "bad cut"})
    assert r.status_code == 200 and r.json()["data"]["status"] == "failed" and r.json()["data"]["error"] == "bad cut"
    assert gallery(silo, alice)["failedCount"] == 1
    r = requests.put(url, headers=auth(alice), json={"videoId": video_id, "status": "ready"})
    assert r.status_code == 200 and r.json()["data"]["error"] is None
    assert requests.put(url, headers=auth(bob), json={"userId": "alice", "videoId": video_id,
                                                      "status": "failed"}).status_code == 403
    assert requests.put(url, headers=auth(bob), json={"videoId": video_id, "status": "failed"}).status_code == 404
    delete_all(silo, alice, "alice")


def test_gallery_ownership_and_pages(silo, host, users):
    alice, bob, admin = users["alice"], users["bob"], users["admin"]
    ids = [download(silo, alice, host.url(f"/v/clip.mp4?n={i}")).json()["data"]["videoId"] for i in range(3)]
    assert requests.get(silo.url("/api/auth/video/gallery"), headers=auth(bob),
                        params={"userId": "alice"}).status_code == 403
    assert gallery(silo, bob)["totalCount"] == 0
    assert gallery(silo, admin, userId="alice")["totalCount"] == 3
    assert requests.get(silo.url("/api/auth/video/gallery")).status_code == 401
    r = requests.delete(silo.url("/api/auth/video/delete"), headers=auth(bob),
                        json={"userId": "alice", "videoId": ids[0]})
    assert r.status_code == 403
    seen, cursor = [], None
    while True:
        page = gallery(silo, alice, limit=2, **({"cursor": cursor} if cursor else {}))
        assert page["totalCount"] == 3 and len(page["videos"]) <= 2
        seen += [v["videoId"] for v in page["videos"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert seen == ids[::-1]  # newest first
    for bad in ({"limit": 0}, {"limit": "x"}, {"cursor": "!!"}):
        r = requests.get(silo.url("/api/auth/video/gallery"), headers=auth(alice), params=bad)
        assert r.status_code == 400, bad
    r = requests.delete(silo.url("/api/auth/video/delete"), headers=auth(admin),
                        params={"userId": "alice", "videoId": ids[0]})
    assert r.status_code == 200
    delete_all(silo, alice, "alice")


def test_gallery_page_is_served_from_the_binary(silo):
    r = requests.get(silo.url("/gallery"))
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    assert '<script src="/gallery/gallery.js"' in r.text
    assert requests.get(silo.url("/gallery/gallery.js")).headers["Content-Type"].startswith("text/javascript")
    assert requests.get(silo.url("/gallery/gallery.css")).headers["Content-Type"].startswith("text/css")
    for path in ("/gallery/nope.js", "/gallery/..%2fgallery.html", "/gallery/other.js"):
        assert requests.get(silo.url(path)).status_code == 404, path
