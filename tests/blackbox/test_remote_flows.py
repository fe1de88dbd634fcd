"""The API on a remote store: silo's default store on s3rver (a third-party
S3 server), every object checked straight in s3rver with boto3. Seed 002's
files, seed 003's direct uploads and seed 001's recordings behave as they do
on the local disk; what differs is only where presigned URLs point."""
import base64
import itertools
import json

import pytest
import requests

from test_files import ELF, WAV, WAV_HEADER, auth, upload
from test_recordings import audio, save
from test_store_remote import remote_silo, s3rver  # noqa: F401  (fixture)

_numbers = itertools.count()


class Remote:
    """The module's s3rver seen through one bucket."""

    def __init__(self, server, bucket):
        self.s3 = server.client()
        self.bucket = bucket

    def keys(self, prefix=""):
        out = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for o in out.get("Contents", []))

    def read(self, key):
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()


@pytest.fixture
def env(silo_factory, s3rver):  # noqa: F811
    """A silo whose default store is a bucket of its own in the s3rver."""
    bucket = f"remote-flows-{next(_numbers)}"
    silo = remote_silo(silo_factory, s3rver, bucket, extra_args=["--max-upload-size", "1M"])
    return silo, Remote(s3rver, bucket), silo.token("alice"), silo.token("bob")


def test_files_routes_and_isolation_on_s3rver(env):
    silo, remote, alice, bob = env
    keys = sorted(upload(silo, alice, fields={"folder": "docs"}).json()["key"] for _ in range(3))
    assert remote.keys("docs/alice/") == keys
    page = requests.get(silo.url("/api/v1/s3/files"), headers=auth(alice), params={"max_keys": 2}).json()
    assert page["is_truncated"] and page["count"] == 2
    rest = requests.get(silo.url("/api/v1/s3/files"), headers=auth(alice),
                        params={"continuation_token": page["next_continuation_token"]}).json()
    assert [f["key"] for f in page["files"] + rest["files"]] == keys
    for suffix, method in (("/url", "GET"), ("/metadata", "GET"), ("/exists", "GET"), ("", "DELETE")):
        r = requests.request(method, silo.url(f"/api/v1/s3/file/{keys[0]}{suffix}"), headers=auth(bob))
        assert r.status_code == 403
    assert remote.keys("docs/alice/") == keys
    url = requests.get(silo.url(f"/api/v1/s3/file/{keys[0]}/url"), headers=auth(alice)).json()["url"]
    assert requests.get(url).content == WAV


def test_refused_uploads_leave_nothing_on_s3rver(env):
    silo, remote, alice, _ = env
    assert upload(silo, alice, data=ELF, name="x.mp3", ctype="audio/mpeg").status_code == 415
    assert upload(silo, alice, data=WAV_HEADER + bytes(2 << 20)).status_code == 413
    assert upload(silo, alice, data=ELF, name="x.mp3", ctype="audio/mpeg",
                  fields={"folder": "late"}).status_code == 415  # staged, then refused
    assert remote.keys() == []


def test_presigned_post_browser_flow_on_s3rver(env):
    silo, remote, alice, _ = env
    body = requests.post(silo.url("/api/upload/presigned-url"), headers=auth(alice),
                         json={"filename": "take.wav", "contentType": "audio/wav"}).json()
    assert body["url"].startswith(silo.env["AWS_S3_ENDPOINT_URL"])
    policy = json.loads(base64.b64decode(body["fields"]["policy"]))
    assert {"bucket": remote.bucket} in policy["conditions"]
    files = [(k, (None, v)) for k, v in body["fields"].items()] + [("file", ("take.wav", WAV, "audio/wav"))]
    r = requests.post(body["url"], files=files)
    assert r.status_code in (200, 201, 204), r.text
    assert body["key"] in remote.keys()
    done = requests.post(silo.url("/api/upload/complete"), headers=auth(alice), json={"key": body["key"]})
    assert done.status_code == 200, done.text
    listed = requests.get(silo.url("/api/v1/s3/files"), headers=auth(alice)).json()["files"]
    assert body["key"] in [f["key"] for f in listed]
    url = requests.get(silo.url(f"/api/v1/s3/file/{body['key']}/url"), headers=auth(alice)).json()["url"]
    assert requests.get(url).content == WAV


def test_presigned_put_and_complete_refusal_on_s3rver(env):
    silo, remote, alice, _ = env
    body = requests.post(silo.url("/api/upload/presigned-url"), headers=auth(alice),
                         json={"filename": "x.wav", "contentType": "audio/wav", "method": "PUT"}).json()
    assert requests.put(body["url"], data=ELF, headers=body["headers"]).status_code == 200
    assert body["key"] in remote.keys()
    r = requests.post(silo.url("/api/upload/complete"), headers=auth(alice), json={"key": body["key"]})
    assert r.status_code == 415
    assert body["key"] not in remote.keys()


def test_recordings_on_s3rver(env):
    silo, remote, alice, bob = env
    r = save(silo, alice, data=audio("wav", 1.5), fields={"session_id": "s1"},
             metadata={"display_name": "Standup", "tags": ["team"]})
    assert r.status_code == 200, r.text
    prefix = "user_recordings/alice/s1/"
    assert remote.keys(prefix) == [prefix + "audio.wav", prefix + "session_metadata.json",
                                       prefix + "transcript.txt"]
    meta = json.loads(remote.read(prefix + "session_metadata.json"))
    assert meta["display_name"] == "Standup" and abs(meta["duration"] - 1.5) < 0.1
    assert remote.read(prefix + "transcript.txt") == b"hello world"
    listed = requests.get(silo.url("/api/v1/user_recordings/alice"), headers=auth(alice)).json()
    assert [x["session_id"] for x in listed] == ["s1"]
    assert requests.get(listed[0]["audio_url"]).status_code == 200
    assert requests.get(silo.url("/api/v1/user_recordings/alice"), headers=auth(bob)).status_code == 403
    settings = {"custom_vocabulary": ["silo"], "macro_phrases": []}
    assert requests.post(silo.url("/api/v1/user_settings"), headers=auth(alice), json=settings).status_code == 200
    stored = json.loads(remote.read("user_settings/alice/settings.json"))
    assert stored["custom_vocabulary"] == ["silo"]
    assert requests.delete(silo.url("/api/v1/recordings/alice/s1"), headers=auth(alice)).status_code == 200
    assert remote.keys(prefix) == []
