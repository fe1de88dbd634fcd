"""Seed 001's recordings and settings (issue 7): saving a session whole or
not at all in the seed's exact object layout, the duration measured with
FFmpeg, the 15-day listing from the index with keyset paging, deletion,
settings with defaults, users kept apart, and the index following the
store (`silo reindex`, sessions written straight into the bucket with
boto3, the retention sweep)."""
import datetime
import json
import os
import subprocess
import tempfile
import time
import urllib.parse

import boto3
import pytest
import requests
from botocore.config import Config

ELF = open("/bin/true", "rb").read()
METADATA_FIELDS = {"session_id", "user_id", "display_name", "creation_date", "duration", "duration_source",
                   "audio_key", "transcript_key", "metadata_key", "bucket", "audio_content_type", "audio_size",
                   "audio_filename", "transcript_size", "tags", "notes", "metadata"}
INFO_FIELDS = {"session_id", "user_id", "display_name", "creation_date", "duration", "audio_key", "transcript_key",
               "metadata_key", "audio_url", "transcript_url", "audio_content_type", "size", "tags", "notes",
               "metadata"}
FORMATS = {  # extension: ffmpeg output options (webm through a pipe: no duration in its header)
    "wav": ["-f", "wav"],
    "mp3": ["-c:a", "libmp3lame", "-f", "mp3"],
    "ogg": ["-c:a", "libopus", "-f", "ogg"],
    "m4a": ["-c:a", "aac", "-f", "ipod"],
    "webm": ["-c:a", "libopus", "-f", "webm"],
}


def auth(token):
    return {"Authorization": f"Bearer {token}"}


_audio_cache = {}


def audio(ext="wav", seconds=2.5):
    """Bytes of `seconds` of a 440 Hz sine in format ext, made by ffmpeg."""
    if (ext, seconds) not in _audio_cache:
        with tempfile.TemporaryDirectory() as d:
            # A file, so that MP4 gets its index; WebM through a pipe, as a
            # browser's MediaRecorder makes it: without a duration.
            target = "pipe:1" if ext == "webm" else os.path.join(d, "out")
            out = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                                  f"sine=frequency=440:duration={seconds}", "-ac", "1", "-ar",
                                  "48000" if ext != "wav" else "16000", *FORMATS[ext], target],
                                 capture_output=True, check=True)
            _audio_cache[(ext, seconds)] = out.stdout if ext == "webm" else open(target, "rb").read()
    return _audio_cache[(ext, seconds)]


def save(silo, token, data=None, filename="take.wav", ctype="audio/wav", transcript="hello world",
         metadata=None, fields=None, audio_field="audio", audio_first=True, transcript_file=False):
    """POSTs a session; parts in the order the arguments suggest."""
    data = audio() if data is None else data
    parts = []
    if transcript is not None:
        parts.append(("transcript", ("transcript.txt", transcript, "text/plain") if transcript_file
                      else (None, transcript)))
    if metadata is not None:
        parts.append(("metadata", (None, metadata if isinstance(metadata, str) else json.dumps(metadata))))
    parts += [(k, (None, str(v))) for k, v in (fields or {}).items()]
    audio_part = (audio_field, (filename, data, ctype))
    parts = [audio_part] + parts if audio_first else parts + [audio_part]
    return requests.post(silo.url("/api/v1/save_recording_details"), headers=auth(token), files=parts)


def s3_client(silo):
    key_id, secret = silo.credentials()
    return boto3.client("s3", endpoint_url=silo.s3_url, aws_access_key_id=key_id, aws_secret_access_key=secret,
                        region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))


def keys(s3, prefix):
    out, token = [], None
    while True:
        kw = {"Bucket": "media", "Prefix": prefix}
        if token:
            kw["ContinuationToken"] = token
        page = s3.list_objects_v2(**kw)
        out += [o["Key"] for o in page.get("Contents", [])]
        if not page.get("IsTruncated"):
            return out
        token = page["NextContinuationToken"]


def get(s3, key):
    return s3.get_object(Bucket="media", Key=key)["Body"].read()


def listing(silo, token, user, **params):
    r = requests.get(silo.url(f"/api/v1/user_recordings/{user}"), headers=auth(token), params=params)
    assert r.status_code == 200, r.text
    return r


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@pytest.fixture(scope="module")
def env(silo_module):
    s = silo_module
    return s, s.token("alice"), s.token("bob"), s.token("root", role="admin"), s3_client(s)


def test_save_writes_the_seed_layout_exactly(env):
    silo, alice, _, _, s3 = env
    meta = {"display_name": "Standup", "tags": ["work", "daily"], "notes": "first take",
            "language": "en", "client": {"app": "recorder", "version": 3}}
    r = save(silo, alice, metadata=meta, fields={"session_id": "20251121T193000Z"}, transcript="hello world\n")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True and body["session_id"] == "20251121T193000Z" and body["replaced"] is False
    folder = "user_recordings/alice/20251121T193000Z/"
    assert sorted(keys(s3, folder)) == [folder + "audio.wav", folder + "session_metadata.json",
                                        folder + "transcript.txt"]
    assert get(s3, folder + "audio.wav") == audio()
    assert get(s3, folder + "transcript.txt") == b"hello world\n"
    doc = json.loads(get(s3, folder + "session_metadata.json"))
    assert set(doc) == METADATA_FIELDS
    assert doc["session_id"] == "20251121T193000Z" and doc["user_id"] == "alice"
    assert doc["display_name"] == "Standup" and doc["tags"] == ["work", "daily"] and doc["notes"] == "first take"
    assert doc["metadata"] == {"language": "en", "client": {"app": "recorder", "version": 3}}
    assert doc["audio_key"] == folder + "audio.wav" and doc["transcript_key"] == folder + "transcript.txt"
    assert doc["metadata_key"] == folder + "session_metadata.json" and doc["bucket"] == "media"
    assert doc["audio_content_type"] == "audio/wav" and doc["audio_size"] == len(audio())
    assert doc["transcript_size"] == 12 and doc["audio_filename"] == "take.wav"
    assert doc["duration"] == pytest.approx(2.5, abs=0.01) and doc["duration_source"] == "measured"
    created = datetime.datetime.strptime(doc["creation_date"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert abs((datetime.datetime.utcnow() - created).total_seconds()) < 60
    assert body["session_metadata"] == doc
    info = body["recording"]
    assert set(info) == INFO_FIELDS and info["duration"] == pytest.approx(2.5, abs=0.01)
    assert requests.get(info["audio_url"]).content == audio()
    assert requests.get(info["transcript_url"]).content == b"hello world\n"
    assert keys(s3, ".silo-staging/") == []
    # The objects are the caller's in the file service too.
    files = requests.get(silo.url("/api/v1/s3/files"), headers=auth(alice), params={"prefix": folder}).json()
    assert sorted(f["key"] for f in files["files"]) == sorted(keys(s3, folder))


@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_formats_get_their_extension_and_a_measured_duration(env, ext):
    silo, alice, _, _, s3 = env
    r = save(silo, alice, data=audio(ext), filename=f"clip.{ext}", ctype="application/octet-stream",
             audio_field="file", audio_first=False, transcript=None)
    assert r.status_code == 200, r.text
    doc = r.json()["session_metadata"]
    assert doc["session_id"].isdigit()  # unix milliseconds when the client names none
    assert doc["audio_key"].endswith(f"/audio.{ext}")
    folder = doc["audio_key"].rsplit("/", 1)[0] + "/"
    assert {k[len(folder):] for k in keys(s3, folder)} == {f"audio.{ext}", "transcript.txt", "session_metadata.json"}
    assert get(s3, doc["transcript_key"]) == b""  # a transcript object always exists
    assert doc["duration"] == pytest.approx(2.5, abs=0.08), doc


def test_client_duration_name_alias_and_fields_after_audio(env):
    silo, alice, _, _, s3 = env
    r = save(silo, alice, metadata={"name": "Alias", "duration": 99, "mood": "calm"},
             fields={"session_id": "dur-1", "duration": "12.75", "tags": "x, y", "device": "phone"},
             transcript="t" * 100_000, transcript_file=True)
    assert r.status_code == 200, r.text
    doc = json.loads(get(s3, "user_recordings/alice/dur-1/session_metadata.json"))
    assert doc["duration"] == 12.75 and doc["duration_source"] == "client"
    assert doc["display_name"] == "Alias" and doc["tags"] == ["x", "y"]
    assert doc["metadata"] == {"mood": "calm", "device": "phone"}
    assert len(get(s3, "user_recordings/alice/dur-1/transcript.txt")) == 100_000


def test_list_is_newest_first_in_recording_info_shape_and_pages(silo):
    alice = silo.token("alice")
    ids = []
    for i in range(5):
        r = save(silo, alice, fields={"session_id": f"s{i}"}, metadata={"display_name": f"n{i}"})
        assert r.status_code == 200, r.text
        ids.append(f"s{i}")
    body = listing(silo, alice, "alice")
    items = body.json()
    assert isinstance(items, list) and [x["session_id"] for x in items] == ids[::-1]
    assert "X-Next-Cursor" not in body.headers
    first = items[0]
    assert set(first) == INFO_FIELDS and first["display_name"] == "n4" and first["size"] == len(audio())
    assert first["audio_key"] == "user_recordings/alice/s4/audio.wav"
    assert first["audio_content_type"] == "audio/wav" and first["tags"] == [] and first["notes"] is None
    assert "X-Amz-Signature=" in first["audio_url"] and "X-Amz-Expires=3600" in first["audio_url"]
    assert requests.get(first["transcript_url"]).content == b"hello world"
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = listing(silo, alice, "alice", **params)
        assert len(page.json()) <= 2
        seen += [x["session_id"] for x in page.json()]
        cursor = page.headers.get("X-Next-Cursor")
        if not cursor:
            break
    assert seen == ids[::-1]
    for bad in ({"limit": 0}, {"limit": 1001}, {"limit": "x"}, {"cursor": "!!"}, {"cursor": "bm9wZQ"}):
        r = requests.get(silo.url("/api/v1/user_recordings/alice"), headers=auth(alice), params=bad)
        assert r.status_code == 400, bad
    assert listing(silo, silo.token("nobody"), "nobody").json() == []


def test_existing_session_is_409_unless_replace(env):
    silo, alice, _, _, s3 = env
    assert save(silo, alice, fields={"session_id": "dup"}).status_code == 200
    r = save(silo, alice, data=audio("mp3"), filename="new.mp3", ctype="audio/mpeg", fields={"session_id": "dup"})
    assert r.status_code == 409 and "replace" in r.json()["detail"]
    assert keys(s3, "user_recordings/alice/dup/audio") == ["user_recordings/alice/dup/audio.wav"]
    r = save(silo, alice, data=audio("mp3"), filename="new.mp3", ctype="audio/mpeg", transcript="v2",
             fields={"session_id": "dup", "replace": "true"})
    assert r.status_code == 200, r.text
    assert r.json()["replaced"] is True
    assert sorted(keys(s3, "user_recordings/alice/dup/")) == [
        "user_recordings/alice/dup/audio.mp3", "user_recordings/alice/dup/session_metadata.json",
        "user_recordings/alice/dup/transcript.txt"]
    assert get(s3, "user_recordings/alice/dup/transcript.txt") == b"v2"
    dups = [x for x in listing(silo, alice, "alice").json() if x["session_id"] == "dup"]
    assert len(dups) == 1 and dups[0]["audio_key"].endswith("audio.mp3")


def assert_nothing_saved(silo, token, s3, user, session):
    assert keys(s3, f"user_recordings/{user}/{session}/") == []
    assert keys(s3, ".silo-staging/") == []
    assert session not in [x["session_id"] for x in listing(silo, token, user).json()]


def test_a_half_failed_save_leaves_nothing(env):
    silo, alice, _, _, s3 = env
    # The transcript streams first, then the audio turns out to be a program.
    r = save(silo, alice, data=ELF, filename="song.mp3", ctype="audio/mpeg", audio_first=False,
             transcript="x" * 200_000, fields={"session_id": "bad-1"})
    assert r.status_code == 415, r.text
    assert_nothing_saved(silo, alice, s3, "alice", "bad-1")
    # A PDF is not audio even when its part says so; a text file is not audio either.
    for data, name in ((b"%PDF-1.4\n" + bytes(5000), "a.wav"), (b"just words\n" * 100, "a.txt")):
        r = save(silo, alice, data=data, filename=name, ctype="application/octet-stream",
                 fields={"session_id": "bad-2"})
        assert r.status_code == 415, r.text
    assert_nothing_saved(silo, alice, s3, "alice", "bad-2")
    # Malformed metadata after the audio was stored to staging.
    r = save(silo, alice, metadata='{"display_name": "x",', fields={"session_id": "bad-3"})
    assert r.status_code == 400 and "metadata" in r.json()["detail"]
    assert_nothing_saved(silo, alice, s3, "alice", "bad-3")
    for bad_meta in ("[1, 2]", json.dumps({"tags": "nope"}), json.dumps({"tags": [1]}),
                     json.dumps({"duration": -3}), json.dumps({"notes": 5}), json.dumps({"user_id": "bob"})):
        r = save(silo, alice, metadata=bad_meta, fields={"session_id": "bad-4"})
        assert r.status_code == 400, (bad_meta, r.text)
    for fields in ({"duration": "soon"}, {"replace": "maybe"}, {"session_id": ".."}, {"session_id": "a/b"},
                   {"session_id": "x" * 129}):
        r = save(silo, alice, fields={"session_id": "bad-5", **fields} if "session_id" not in fields else fields)
        assert r.status_code == 400, (fields, r.text)
    assert_nothing_saved(silo, alice, s3, "alice", "bad-4")
    assert_nothing_saved(silo, alice, s3, "alice", "bad-5")
    # No audio, an empty audio, two audio parts, an unknown file part, not multipart at all.
    r = requests.post(silo.url("/api/v1/save_recording_details"), headers=auth(alice),
                      files=[("transcript", (None, "t")), ("session_id", (None, "bad-6"))])
    assert r.status_code == 400 and "audio" in r.json()["detail"]
    assert save(silo, alice, data=b"", fields={"session_id": "bad-6"}).status_code == 400
    r = requests.post(silo.url("/api/v1/save_recording_details"), headers=auth(alice),
                      files=[("audio", ("a.wav", audio(), "audio/wav")), ("file", ("b.wav", audio(), "audio/wav")),
                             ("session_id", (None, "bad-6"))])
    assert r.status_code == 400
    r = requests.post(silo.url("/api/v1/save_recording_details"), headers=auth(alice),
                      files=[("audio", ("a.wav", audio(), "audio/wav")), ("video", ("b.wav", audio(), "audio/wav")),
                             ("session_id", (None, "bad-6"))])
    assert r.status_code == 400 and "video" in r.json()["detail"]
    r = requests.post(silo.url("/api/v1/save_recording_details"), headers=auth(alice), json={"audio": "x"})
    assert r.status_code == 400
    assert_nothing_saved(silo, alice, s3, "alice", "bad-6")


def test_truncated_body_leaves_nothing(env):
    silo, alice, _, _, s3 = env
    boundary = "XyZ"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"session_id\"\r\n\r\ncut-1\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"audio\"; filename=\"a.wav\"\r\n"
            "Content-Type: audio/wav\r\n\r\n").encode() + audio()  # no closing boundary
    r = requests.post(silo.url("/api/v1/save_recording_details"), data=body,
                      headers={**auth(alice), "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 400
    assert_nothing_saved(silo, alice, s3, "alice", "cut-1")


def test_oversized_audio_is_413_and_leaves_nothing(silo_factory):
    silo = silo_factory(extra_args=["--max-upload-size", "64K"])
    alice, s3 = silo.token("alice"), s3_client(silo)
    r = save(silo, alice, data=audio("wav", 5), fields={"session_id": "big"}, audio_first=False)
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    assert_nothing_saved(silo, alice, s3, "alice", "big")
    assert keys(s3, "") == []


def test_users_are_kept_apart_whatever_the_path(env):
    silo, alice, bob, admin, s3 = env
    assert save(silo, alice, fields={"session_id": "private"}).status_code == 200
    refused = (400, 403, 404)
    assert requests.get(silo.url("/api/v1/user_recordings/alice"), headers=auth(bob)).status_code == 403
    assert requests.delete(silo.url("/api/v1/recordings/alice/private"), headers=auth(bob)).status_code == 403
    assert requests.get(silo.url("/api/v1/user_settings/alice"), headers=auth(bob)).status_code == 403
    assert requests.post(silo.url("/api/v1/user_settings"), headers=auth(bob), json={"user_id": "alice"}).status_code == 403
    assert requests.post(silo.url("/api/v1/user_settings?user_id=alice"), headers=auth(bob), json={}).status_code == 403
    assert save(silo, bob, fields={"user_id": "alice", "session_id": "from-bob"}).status_code == 403
    assert_nothing_saved(silo, alice, s3, "alice", "from-bob")
    for path in ("/api/v1/user_recordings/bob%2F..%2Falice", "/api/v1/user_recordings/bob%2Falice",
                 "/api/v1/user_recordings/..", "/api/v1/user_recordings/%2e%2e", "/api/v1/user_recordings/.",
                 "/api/v1/user_recordings/bob/../alice", "/api/v1/user_settings/bob%2F..%2Falice",
                 "/api/v1/user_settings/%2e%2e"):
        r = requests.get(silo.url(path), headers=auth(bob))
        assert r.status_code in refused, (path, r.status_code, r.text)
    for path in ("/api/v1/recordings/bob%2F..%2Falice/private", "/api/v1/recordings/bob/..%2Falice%2Fprivate",
                 "/api/v1/recordings/bob/%2e%2e", "/api/v1/recordings/alice%2Fprivate/x",
                 "/api/v1/recordings/bob/../alice/private"):
        r = requests.delete(silo.url(path), headers=auth(bob))
        assert r.status_code in refused, (path, r.status_code, r.text)
    r = requests.get(silo.url("/api/v1/user_recordings/bob%2F..%2Falice"), headers=auth(bob))
    assert r.status_code == 400
    assert requests.get(silo.url("/api/v1/user_recordings/alice")).status_code == 401
    assert keys(s3, "user_recordings/alice/private/") != []
    # An admin acts for anyone, also saving with user_id.
    assert "private" in [x["session_id"] for x in listing(silo, admin, "alice").json()]
    r = save(silo, admin, fields={"user_id": "alice", "session_id": "by-admin"})
    assert r.status_code == 200 and r.json()["user_id"] == "alice"
    assert keys(s3, "user_recordings/alice/by-admin/") != []


def test_delete_removes_every_object_and_the_row(env):
    silo, alice, _, admin, s3 = env
    assert save(silo, alice, fields={"session_id": "gone"}).status_code == 200
    s3.put_object(Bucket="media", Key="user_recordings/alice/gone/extra/notes.md", Body=b"x")
    r = requests.delete(silo.url("/api/v1/recordings/alice/gone"), headers=auth(alice))
    assert r.status_code == 200, r.text
    assert r.json() == {"success": True, "message": "Recording deleted successfully", "user_id": "alice",
                        "session_id": "gone", "deleted_objects": 4}
    assert keys(s3, "user_recordings/alice/gone/") == []
    assert "gone" not in [x["session_id"] for x in listing(silo, alice, "alice").json()]
    assert requests.delete(silo.url("/api/v1/recordings/alice/gone"), headers=auth(alice)).status_code == 404
    assert requests.delete(silo.url("/api/v1/recordings/alice/never"), headers=auth(alice)).status_code == 404
    # Objects without an index row (another tool's) are deleted too.
    s3.put_object(Bucket="media", Key="user_recordings/alice/foreign/audio.wav", Body=audio())
    r = requests.delete(silo.url("/api/v1/recordings/alice/foreign"), headers=auth(admin))
    assert r.status_code == 200 and r.json()["deleted_objects"] == 1
    assert keys(s3, "user_recordings/alice/foreign/") == []


def test_settings_defaults_save_validate_and_read_back(env):
    silo, alice, bob, admin, s3 = env
    carol = silo.token("carol")
    r = requests.get(silo.url("/api/v1/user_settings/carol"), headers=auth(carol))
    assert r.status_code == 200 and r.headers["X-Settings-Source"] == "default"
    defaults = r.json()
    assert defaults["macro_phrases"] == [] and defaults["custom_vocabulary"] == []
    assert defaults["transcription_profiles"][0]["name"] == "default"
    settings = {"macro_phrases": ["sig", {"trigger": "brb", "expansion": "be right back", "case": "keep"}],
                "custom_vocabulary": ["Kubernetes", "silo"], "theme": "dark", "nested": {"a": [1, 2]}}
    r = requests.post(silo.url("/api/v1/user_settings"), headers=auth(carol), json=settings)
    assert r.status_code == 200 and r.json() == settings
    assert json.loads(get(s3, "user_settings/carol/settings.json")) == settings
    r = requests.get(silo.url("/api/v1/user_settings/carol"), headers=auth(carol))
    assert r.headers["X-Settings-Source"] == "stored"
    assert r.json() == {**settings, "transcription_profiles": defaults["transcription_profiles"]}
    # Wrapped in {"settings": ...}, with the user named by an admin.
    wrapped = {"user_id": "carol", "settings": {"custom_vocabulary": ["x"]}}
    r = requests.post(silo.url("/api/v1/user_settings"), headers=auth(admin), json=wrapped)
    assert r.status_code == 200 and r.json() == {"custom_vocabulary": ["x"]}
    assert json.loads(get(s3, "user_settings/carol/settings.json")) == {"custom_vocabulary": ["x"]}
    r = requests.post(silo.url("/api/v1/user_settings?user_id=carol"), headers=auth(admin), json={"theme": "light"})
    assert r.status_code == 200 and json.loads(get(s3, "user_settings/carol/settings.json")) == {"theme": "light"}
    for bad, field in (({"macro_phrases": "x"}, "macro_phrases"), ({"macro_phrases": [{"trigger": "a"}]}, "macro_phrases"),
                       ({"macro_phrases": [3]}, "macro_phrases"), ({"custom_vocabulary": [1]}, "custom_vocabulary"),
                       ({"custom_vocabulary": "a"}, "custom_vocabulary"),
                       ({"transcription_profiles": ["en"]}, "transcription_profiles"),
                       ({"transcription_profiles": {}}, "transcription_profiles"), ({"user_id": 5}, "user_id")):
        r = requests.post(silo.url("/api/v1/user_settings"), headers=auth(carol), json=bad)
        assert r.status_code == 400 and r.json()["field"] == field, (bad, r.text)
    for body in (b"[1]", b"not json", b'"s"'):
        r = requests.post(silo.url("/api/v1/user_settings"), headers={**auth(carol), "Content-Type": "application/json"},
                          data=body)
        assert r.status_code == 400
    r = requests.post(silo.url("/api/v1/user_settings"), headers=auth(carol), json={"blob": "x" * 70_000})
    assert r.status_code == 413
    assert json.loads(get(s3, "user_settings/carol/settings.json")) == {"theme": "light"}
    # Unreadable settings (not JSON, not an object) answer the defaults.
    for junk in (b"{oops", b"[1, 2]"):
        s3.put_object(Bucket="media", Key="user_settings/dave/settings.json", Body=junk)
        r = requests.get(silo.url("/api/v1/user_settings/dave"), headers=auth(silo.token("dave")))
        assert r.status_code == 200 and r.json() == defaults and r.headers["X-Settings-Source"] == "default"


def write_foreign_session(s3, user, session, created, ext="webm", name_key="display_name", **extra):
    """A session as the seed's own backend writes it, straight into the bucket."""
    folder = f"user_recordings/{user}/{session}/"
    s3.put_object(Bucket="media", Key=folder + f"audio.{ext}", Body=audio(ext), ContentType=f"audio/{ext}")
    s3.put_object(Bucket="media", Key=folder + "transcript.txt", Body=b"foreign words")
    doc = {name_key: f"foreign {session}", "creation_date": created, "audio_s3_path": folder + f"audio.{ext}",
           "tags": ["imported", 7], "notes": "from the seed", "speaker": "Ann", **extra}
    s3.put_object(Bucket="media", Key=folder + "session_metadata.json", Body=json.dumps(doc).encode())
    return folder


def test_window_and_reindex_follow_the_store(env):
    silo, _, _, _, s3 = env
    erin = silo.token("erin")
    now = datetime.datetime.now(datetime.timezone.utc)
    write_foreign_session(s3, "erin", "recent", (now - datetime.timedelta(days=2)).isoformat(), name_key="name")
    write_foreign_session(s3, "erin", "edge", iso(now - datetime.timedelta(days=14, hours=23)), ext="mp3",
                          duration=2.5)
    write_foreign_session(s3, "erin", "old", iso(now - datetime.timedelta(days=20)))
    s3.put_object(Bucket="media", Key="user_recordings/erin/no-metadata/audio.wav", Body=audio())
    s3.put_object(Bucket="media", Key="user_recordings/erin/broken/session_metadata.json", Body=b"{nope")
    assert listing(silo, erin, "erin").json() == []  # the index does not know them yet
    out = silo.cli("reindex", "--prefix", "user_recordings/erin/").stdout
    assert "sessions indexed: 3" in out and "sessions skipped: 2" in out, out
    items = listing(silo, erin, "erin").json()
    assert [x["session_id"] for x in items] == ["recent", "edge"]  # "old" is outside the 15 days
    recent = items[0]
    assert recent["display_name"] == "foreign recent" and recent["tags"] == ["imported"]
    assert recent["audio_key"] == "user_recordings/erin/recent/audio.webm" and recent["duration"] is None
    assert recent["transcript_key"] == "user_recordings/erin/recent/transcript.txt"
    assert recent["metadata"]["speaker"] == "Ann" and recent["notes"] == "from the seed"
    assert recent["audio_content_type"] == "audio/webm" and recent["size"] == len(audio("webm"))
    assert requests.get(recent["audio_url"]).content == audio("webm")
    assert items[1]["duration"] == 2.5
    # Objects deleted behind silo's back disappear from the index on the next reindex.
    s3.delete_objects(Bucket="media", Delete={"Objects": [{"Key": k} for k in keys(s3, "user_recordings/erin/recent/")]})
    out = silo.cli("reindex").stdout
    assert "stale rows removed: 1" in out, out
    assert [x["session_id"] for x in listing(silo, erin, "erin").json()] == ["edge"]
    r = silo.cli("reindex", "--prefix", "uploads/", check=False)
    assert r.returncode == 2 and "user_recordings/" in r.stderr


def test_window_setting(silo_factory):
    silo = silo_factory(extra_args=["--recordings-window-days", "30"])
    s3, fay = s3_client(silo), silo.token("fay")
    now = datetime.datetime.now(datetime.timezone.utc)
    write_foreign_session(s3, "fay", "d20", iso(now - datetime.timedelta(days=20)))
    write_foreign_session(s3, "fay", "d40", int((now - datetime.timedelta(days=40)).timestamp() * 1000))
    silo.cli("reindex")
    assert [x["session_id"] for x in listing(silo, fay, "fay").json()] == ["d20"]


def test_retention_sweep_deletes_old_sessions(silo_factory, tmp_path):
    data = str(tmp_path / "data")
    first = silo_factory(data_dir=data)
    s3, gil = s3_client(first), first.token("gil")
    assert save(first, gil, fields={"session_id": "fresh"}).status_code == 200
    now = datetime.datetime.now(datetime.timezone.utc)
    write_foreign_session(s3, "gil", "ancient", iso(now - datetime.timedelta(days=40)))
    first.cli("reindex")
    first.stop()
    second = silo_factory(extra_args=["--recordings-retention-days", "30", "--recordings-window-days", "0"],
                          data_dir=data)
    s3 = s3_client(second)
    deadline = time.time() + 20
    while keys(s3, "user_recordings/gil/ancient/") and time.time() < deadline:
        time.sleep(0.2)
    assert keys(s3, "user_recordings/gil/ancient/") == []
    assert [x["session_id"] for x in listing(second, gil, "gil").json()] == ["fresh"]
    assert len(keys(s3, "user_recordings/gil/fresh/")) == 3


def test_identity_provider_subjects_and_iso_session_ids(env):
    silo, _, _, _, s3 = env
    sub = "auth0|5f2c9e"
    token = silo.token(sub)
    session = "2025-11-21T19:30:00.000Z"
    r = save(silo, token, fields={"session_id": session})
    assert r.status_code == 200, r.text
    folder = f"user_recordings/{sub}/{session}/"
    assert len(keys(s3, folder)) == 3
    quoted = urllib.parse.quote(sub, safe="")
    items = listing(silo, token, quoted).json()
    assert [x["session_id"] for x in items] == [session]
    assert requests.get(items[0]["audio_url"]).content == audio()
    r = requests.delete(silo.url(f"/api/v1/recordings/{quoted}/{urllib.parse.quote(session, safe='')}"),
                        headers=auth(token))
    assert r.status_code == 200 and keys(s3, folder) == []
    assert requests.get(silo.url(f"/api/v1/user_settings/{quoted}"), headers=auth(token)).status_code == 200


def test_concurrent_saves_of_one_session_id(env):
    silo, alice, _, _, s3 = env
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        codes = sorted(pool.map(lambda i: save(silo, alice, transcript=f"take {i}",
                                               fields={"session_id": "race"}).status_code, range(6)))
    assert codes == [200, 409, 409, 409, 409, 409]
    assert len(keys(s3, "user_recordings/alice/race/")) == 3
    assert keys(s3, ".silo-staging/") == []
