"""Seed 000's OpenAI-compatible transcription API (issue 8).

Clients: the official OpenAI SDK for JavaScript (tests/openai_client.mjs,
npm "openai") and requests. Audio: Debian's LibriVox clips
(pocketsphinx-testdata) and the same clip as MP3, M4A and Ogg made by the
ffmpeg command line. Peers, all on loopback: s3rver (npm) and a second
silo, as the "r2" and "s3" named stores and as targets of presigned PUT
URLs; small HTTP servers written here for a callback receiver, a flaky
PUT target, a redirect to a non-allowlisted loopback address, and a fake
OpenAI-compatible speech service for the openai engine.

One silo per role is shared by the module: `main` (named stores, outbound
allowlist 127.0.0.1/32 and ::1), `plain` (no allowlist, no named stores)
and `remote` (engine openai, a 64 KiB size limit, a 1 s synchronous
timeout). Most transcriptions use the shortest clip (3 s).
"""
import http.server
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse

import boto3
import botocore.config
import pytest
import requests

from conftest import ROOT, Silo, assert_sanitizer_clean
from test_store_remote import S3rver, need_s3rver

CLIPS = "/usr/share/pocketsphinx/test/data/librivox"
SHORT = os.path.join(CLIPS, "sense_and_sensibility_01_austen_64kb-0880.wav")  # 2.99 s
OTHER = os.path.join(CLIPS, "sense_and_sensibility_01_austen_64kb-0930.wav")  # 3.29 s
NODE_CLIENT = os.path.join(ROOT, "tests", "openai_client.mjs")
OPENAI_SDK = os.path.join(ROOT, "tests", "node_modules", "openai")
SRT_CUE = re.compile(r"(\d+)\n(\d\d:\d\d:\d\d,\d\d\d) --> (\d\d:\d\d:\d\d,\d\d\d)\n(.*)\n\n")
VTT_CUE = re.compile(r"(\d\d:\d\d:\d\d\.\d\d\d) --> (\d\d:\d\d:\d\d\.\d\d\d)\n(.*)\n\n")
SEGMENT_KEYS = {"id", "seek", "start", "end", "text", "tokens", "temperature", "avg_logprob", "compression_ratio",
                "no_speech_prob"}

pytestmark = pytest.mark.skipif(not os.path.exists(SHORT) or not os.path.exists("/usr/share/pocketsphinx/model"),
                                reason="needs pocketsphinx-testdata and pocketsphinx-en-us")


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def transcribe(silo, token, path=SHORT, data=None, name=None, ctype="audio/wav", route="transcriptions",
               timeout=120, **fields):
    """POSTs one file with fields (lists repeat the field) and returns the response."""
    content = open(path, "rb").read() if data is None else data
    parts = [("file", (name or os.path.basename(path), content, ctype))]
    for k, v in fields.items():
        for item in v if isinstance(v, list) else [v]:
            parts.append((k, (None, str(item))))
    return requests.post(silo.url(f"/v1/audio/{route}"), headers=auth(token) if token else {}, files=parts,
                         timeout=timeout)


def openai_error(r, status, param=None, code=None):
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["type"] == ("server_error" if status >= 500 else "invalid_request_error")
    assert err["param"] == param and err["code"] == code, err
    return err["message"]


def node_client(silo, key, ops):
    if not shutil.which("node") or not os.path.exists(OPENAI_SDK):
        pytest.skip("the openai npm package is not installed (sh scripts/deps.sh test)")
    out = subprocess.run(["node", NODE_CLIENT, silo.url("/v1"), key, json.dumps(ops)], capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def wait_for(fn, timeout=60, interval=0.2):
    deadline = time.time() + timeout
    while True:
        value = fn()
        if value or time.time() > deadline:
            return value
        time.sleep(interval)


def get_transcription(silo, token, tid):
    r = requests.get(silo.url(f"/v1/audio/transcriptions/{tid}"), headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()


class Peer(http.server.ThreadingHTTPServer):
    """A tiny HTTP server on 127.0.0.1 that records what it receives and
    answers from a queue of (status, headers, body); the last one repeats."""

    def __init__(self, answers=((200, {}, b""),), host="127.0.0.1"):
        self.requests = []
        self.answers = list(answers)
        peer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def handle_one(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                peer.requests.append((self.command, self.path, dict(self.headers), body))
                status, headers, answer = peer.answers.pop(0) if len(peer.answers) > 1 else peer.answers[0]
                if callable(answer):
                    status, headers, answer = answer(self.command, self.path, dict(self.headers), body)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_PUT = do_POST = handle_one

        super().__init__((host, 0), Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://{self.server_address[0]}:{self.server_address[1]}"

    def stop(self):
        self.shutdown()
        self.server_close()


def fake_openai(method, path, headers, body):
    """An OpenAI-compatible /audio/transcriptions: a fixed transcript, or the
    error the prompt asks for."""
    boundary = headers["Content-Type"].split("boundary=")[1].strip('"').encode()
    fields, files = {}, {}
    for part in body.split(b"--" + boundary)[1:-1]:
        head, _, value = part[2:-2].partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]*)"', head).group(1).decode()
        filename = re.search(rb'filename="([^"]*)"', head)
        if filename:
            files[name] = (filename.group(1).decode(), value)
        else:
            fields.setdefault(name, []).append(value.decode())
    FAKE_SEEN.append({"path": path, "auth": headers.get("Authorization"), "fields": fields, "files": files})
    prompt = fields.get("prompt", [""])[0]
    if prompt == "fail 400":
        return 400, {"Content-Type": "application/json"}, json.dumps(
            {"error": {"message": "upstream refuses this audio", "type": "invalid_request_error"}}).encode()
    if prompt == "slow":
        time.sleep(2.5)
    words = [{"word": w, "start": 0.5 * i, "end": 0.5 * i + 0.4} for i, w in enumerate(["fixed", "words", "here"])]
    doc = {"task": "translate" if path.endswith("translations") else "transcribe", "language": "french",
           "duration": 1.5, "text": "fixed words here",
           "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": 1.5, "text": " fixed words here", "tokens": [1],
                         "temperature": 0.0, "avg_logprob": -0.1, "compression_ratio": 1.0,
                         "no_speech_prob": 0.01}]}
    if "word" in fields.get("timestamp_granularities[]", []):
        doc["words"] = words
    return 200, {"Content-Type": "application/json"}, json.dumps(doc).encode()


FAKE_SEEN = []


@pytest.fixture(scope="module")
def world():
    need_s3rver()
    started, servers = [], []
    tmp = tempfile.mkdtemp(prefix="silo-tr-")
    try:
        s3rver = S3rver().start()
        servers.append(s3rver)
        peer = Silo(os.path.join(tmp, "peer")).start()
        started.append(peer)
        access_key, secret_key = peer.credentials()
        config = os.path.join(tmp, "silo.conf")
        with open(config, "w") as f:
            f.write(f"[store r2]\ndriver = s3\nendpoint = {s3rver.url}\nbucket = r2-results\n"
                    f"access-key = S3RVER\nsecret-key = S3RVER\npath-style = true\n\n"
                    f"[store s3]\nendpoint = {peer.s3_url}\nbucket = s3-results\n"
                    f"access-key = {access_key}\nsecret-key = {secret_key}\npath-style = true\n")
        main = Silo(os.path.join(tmp, "main"), ["--config", config, "--outbound-allow", "127.0.0.1/32,::1"]).start()
        started.append(main)
        fake = Peer([(200, {}, fake_openai)])
        servers.append(fake)
        remote = Silo(os.path.join(tmp, "remote"),
                      ["--asr-engine", "openai", "--asr-openai-url", fake.url + "/v1", "--asr-openai-key",
                       "sk-upstream", "--transcription-max-size", "64K", "--transcription-timeout", "1"]).start()
        started.append(remote)
        yield {"main": main, "plain": peer, "remote": remote, "s3rver": s3rver, "fake": fake,
               "alice": main.token("alice"), "bob": main.token("bob"), "peer_keys": (access_key, secret_key)}
    finally:
        for s in started:
            s.stop()
        for s in servers:
            s.stop()
        for s in started:
            assert_sanitizer_clean(s)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def reference(world):
    """The wav clip's transcript in verbose_json with words, read once."""
    r = transcribe(world["main"], world["alice"], response_format="verbose_json",
                   timestamp_granularities=["word", "segment"])
    assert r.status_code == 200, r.text
    return r.json()


# ---- the OpenAI SDK ----


def test_openai_sdk_every_response_format(world, reference):
    main = world["main"]
    key = main.cli("apikey", "create", "--name", "openai-sdk").stdout.split("\n")[0]
    ops = [{"op": "transcribe", "file": SHORT, "params": {"model": "whisper-1", **p}} for p in (
        {}, {"response_format": "text"}, {"response_format": "srt"}, {"response_format": "vtt"},
        {"response_format": "verbose_json"},
        {"response_format": "verbose_json", "timestamp_granularities": ["word"]},
        {"response_format": "verbose_json", "timestamp_granularities": ["word", "segment"], "language": "en",
         "temperature": 0.2, "prompt": "Sense and Sensibility"})]
    ops.append({"op": "models"})
    ops.append({"op": "model", "params": {"id": "pocketsphinx"}})
    out = node_client(main, key, ops)
    assert all(o["ok"] for o in out), out
    text = reference["text"]
    assert "young man" in text
    assert out[0]["kind"] == "object" and out[0]["result"] == {"text": text}
    assert out[1]["kind"] == "string" and out[1]["result"] == text + "\n"
    srt = SRT_CUE.findall(out[2]["result"])
    assert srt and "".join(c[0] for c in srt) == "".join(str(i + 1) for i in range(len(srt)))
    assert SRT_CUE.sub("", out[2]["result"]) == ""
    assert " ".join(c[3] for c in srt) == text
    vtt = out[3]["result"]
    assert vtt.startswith("WEBVTT\n\n") and VTT_CUE.sub("", vtt[8:]) == ""
    assert [c[0].replace(".", ",") for c in VTT_CUE.findall(vtt)] == [c[1] for c in srt]
    plain = out[4]["result"]
    assert plain["task"] == "transcribe" and plain["language"] == "english" and plain["text"] == text
    assert abs(plain["duration"] - 2.99) < 0.02
    assert "words" not in plain and plain["segments"]
    for i, s in enumerate(plain["segments"]):
        assert set(s) == SEGMENT_KEYS and s["id"] == i and s["text"].startswith(" ")
        assert 0 <= s["start"] < s["end"] <= plain["duration"] and s["temperature"] == 0
    words_only = out[5]["result"]
    assert "segments" not in words_only and [w["word"] for w in words_only["words"]] == text.split()
    both = out[6]["result"]
    assert both["segments"] and all(set(w) == {"word", "start", "end"} for w in both["words"])
    assert all(s["temperature"] == 0.2 for s in both["segments"])
    assert both["words"] == reference["words"]  # deterministic, whatever the worker decoded before
    models = out[7]["result"]
    assert {"whisper-1", "pocketsphinx"} <= {m["id"] for m in models}
    assert all(m["object"] == "model" and m["owned_by"] == "silo" for m in models)
    assert out[8]["result"]["id"] == "pocketsphinx"


def test_openai_sdk_translation_and_errors(world):
    main = world["main"]
    out = node_client(main, world["alice"], [
        {"op": "translate", "file": SHORT, "params": {"model": "whisper-1", "response_format": "verbose_json"}},
        {"op": "transcribe", "file": SHORT, "params": {"model": "gpt-9-transcribe"}},
        {"op": "transcribe", "file": SHORT, "params": {"model": "whisper-1", "language": "fr"}},
        {"op": "transcribe", "file": SHORT,
         "params": {"model": "whisper-1", "response_format": "json", "timestamp_granularities": ["word"]}},
        {"op": "model", "params": {"id": "davinci"}},
    ])
    assert out[0]["ok"] and out[0]["result"]["task"] == "translate"
    assert "young man" in out[0]["result"]["text"]  # English in, English out
    for o, status, code, param in ((out[1], 400, "model_not_found", "model"),
                                   (out[2], 400, "unsupported_language", "language"),
                                   (out[3], 400, None, "timestamp_granularities"),
                                   (out[4], 404, "model_not_found", "model")):
        assert not o["ok"] and o["status"] == status, o
        assert o["error"]["code"] == code and o["error"]["param"] == param, o
    assert out[1]["name"] == "BadRequestError" and out[4]["name"] == "NotFoundError"
    bad = node_client(main, "not-a-key", [{"op": "models"}])[0]
    assert not bad["ok"] and bad["status"] == 401 and bad["name"] == "AuthenticationError"
    assert bad["error"]["code"] == "invalid_api_key"


# ---- shapes and rules, with requests ----


def test_formats_with_requests_and_their_content_types(world, reference):
    main, alice = world["main"], world["alice"]
    r = transcribe(main, alice, response_format="srt")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    assert r.headers["X-Silo-Transcription-Id"].startswith("tr_")
    cues = SRT_CUE.findall(r.text)
    assert len(cues) == len(reference["segments"])
    for cue, seg in zip(cues, reference["segments"]):
        h, m, rest = cue[1].split(":")
        assert abs(int(h) * 3600 + int(m) * 60 + float(rest.replace(",", ".")) - seg["start"]) < 0.0015
    # No model field at all, as the seed's own curl example sends it.
    r = transcribe(main, alice)
    assert r.status_code == 200 and r.json() == {"text": reference["text"]}
    assert r.headers["Content-Type"].startswith("application/json")


def test_same_text_from_mp3_m4a_ogg(world):
    """Encoded at transparent quality (Vorbis q6 already flips a borderline
    word of this clip: lossy codecs change what the decoder hears)."""
    main, alice = world["main"], world["alice"]
    want = transcribe(main, alice, path=OTHER).json()["text"]
    assert want
    with tempfile.TemporaryDirectory() as d:
        for ext, args, ctype in (("mp3", ["-c:a", "libmp3lame", "-b:a", "128k"], "audio/mpeg"),
                                 ("m4a", ["-c:a", "aac", "-b:a", "128k"], "audio/mp4"),
                                 ("ogg", ["-c:a", "libvorbis", "-q:a", "10"], "audio/ogg")):
            target = os.path.join(d, "clip." + ext)
            subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", OTHER, *args, target], check=True)
            r = transcribe(main, alice, path=target, ctype=ctype)
            assert r.status_code == 200, (ext, r.text)
            assert r.json()["text"] == want, ext


def test_request_errors_have_openai_shape(world):
    main, alice = world["main"], world["alice"]
    r = requests.post(main.url("/v1/audio/transcriptions"), files=[("file", ("a.wav", b"x"))])
    assert "API key" in openai_error(r, 401)
    assert r.headers["WWW-Authenticate"] == "Bearer"
    openai_error(transcribe(main, "bogus"), 401, code="invalid_api_key")
    openai_error(transcribe(main, alice, model="tiny.en"), 400, "model", "model_not_found")
    openai_error(transcribe(main, alice, response_format="xml"), 400, "response_format")
    openai_error(transcribe(main, alice, temperature="2"), 400, "temperature")
    openai_error(transcribe(main, alice, language="zz"), 400, "language", "invalid_language_format")
    assert "cannot transcribe language 'de'" in openai_error(transcribe(main, alice, language="de"), 400,
                                                              "language", "unsupported_language")
    openai_error(transcribe(main, alice, timestamp_granularities="word"), 400, "timestamp_granularities")
    openai_error(transcribe(main, alice, response_format="verbose_json", timestamp_granularities="sentence"), 400,
                 "timestamp_granularities")
    openai_error(transcribe(main, alice, route="translations", response_format="verbose_json",
                            timestamp_granularities="word"), 400, "timestamp_granularities")
    assert "Invalid file format" in openai_error(
        transcribe(main, alice, data=b"just some words, not sound\n" * 50, name="notes.txt", ctype="text/plain"),
        400, "file", "invalid_file_format")
    # A WAV header over nothing FFmpeg can read: refused when the job decodes it.
    msg = openai_error(transcribe(main, alice, data=b"RIFF\x10\x00\x00\x00WAVEjunk" + b"\x01" * 4096,
                                  name="broken.wav"), 400, None, "invalid_file_format")
    assert "decode" in msg
    r = requests.post(main.url("/v1/audio/transcriptions"), headers=auth(alice), files=[("model", (None, "whisper-1"))])
    openai_error(r, 400, "file")
    r = requests.post(main.url("/v1/audio/transcriptions"), headers=auth(alice), data=b"{}")
    openai_error(r, 400)
    openai_error(transcribe(main, alice, **{"async": "maybe"}), 400, "async")
    # Over transcription-max-size (64K on this instance): 413, before any work.
    remote = world["remote"]
    big = open(SHORT, "rb").read()
    assert len(big) > 64 << 10
    msg = openai_error(transcribe(remote, remote.token("alice"), data=big), 413, "file", "file_too_large")
    assert "Maximum content size limit (65536) exceeded" in msg
    # Nothing of the refused uploads is left behind.
    s3 = boto3.client("s3", endpoint_url=main.s3_url, aws_access_key_id=main.credentials()[0],
                      aws_secret_access_key=main.credentials()[1], region_name="us-east-1")
    left = wait_for(lambda: not s3.list_objects_v2(Bucket="media", Prefix=".silo-transcriptions/").get("Contents")
                    or all(o["Key"].endswith("/result.json")
                           for o in s3.list_objects_v2(Bucket="media", Prefix=".silo-transcriptions/")["Contents"]),
                    timeout=10)
    assert left


def test_default_size_limit_is_25_mib(world):
    main, alice = world["main"], world["alice"]
    r = transcribe(main, alice, data=open(SHORT, "rb").read()[:44] + bytes((25 << 20) - 40))
    assert "(26214400) exceeded" in openai_error(r, 413, "file", "file_too_large")


# ---- async, status by id, callback ----


def test_async_status_by_id_owner_only_and_callback(world):
    main, alice, bob = world["main"], world["alice"], world["bob"]
    receiver = Peer([(204, {}, b"")])
    try:
        r = transcribe(main, alice, response_format="vtt", callback_url=receiver.url + "/done?x=1",
                       **{"async": "true"})
        assert r.status_code == 202, r.text
        body = r.json()
        assert body["status"] == "queued" and body["object"] == "transcription"
        tid = body["id"]
        assert r.headers["Location"] == f"/v1/audio/transcriptions/{tid}"
        done = wait_for(lambda: get_transcription(main, alice, tid)["status"] == "completed")
        assert done
        got = get_transcription(main, alice, tid)
        assert got["result"].startswith("WEBVTT\n\n") and got["task"] == "transcribe"
        assert got["response_format"] == "vtt" and got["completed_at"] >= got["created_at"]
        # Someone else's id is not found, nor is a made-up one.
        for token, path in ((bob, tid), (alice, tid[:-1] + ("0" if tid[-1] != "0" else "1")), (alice, "tr_1_x")):
            openai_error(requests.get(main.url(f"/v1/audio/transcriptions/{path}"), headers=auth(token)), 404,
                         "id", "not_found")
        # The admin may look.
        admin = main.token("root", role="admin")
        assert get_transcription(main, admin, tid)["id"] == tid
        # The callback came, POSTed, with the state and the result.
        assert wait_for(lambda: receiver.requests, timeout=30)
        method, path, headers, payload = receiver.requests[0]
        assert method == "POST" and path == "/done?x=1" and headers["Content-Type"] == "application/json"
        note = json.loads(payload)
        assert note["id"] == tid and note["status"] == "completed" and note["result"] == got["result"]
        assert wait_for(lambda: get_transcription(main, alice, tid)["callback"]["status"] == "delivered")
        assert get_transcription(main, alice, tid)["callback"]["url_host"] == receiver.url.split("//")[1]
    finally:
        receiver.stop()


def test_sync_wait_is_bounded_by_the_timeout(world):
    remote = world["remote"]
    alice = remote.token("alice")
    r = transcribe(remote, alice, data=open(SHORT, "rb").read()[:40000], prompt="slow")
    msg = openai_error(r, 504, None, "timeout")
    tid = r.headers["X-Silo-Transcription-Id"]
    assert tid in msg
    assert wait_for(lambda: get_transcription(remote, alice, tid)["status"] == "completed", timeout=30)
    assert get_transcription(remote, alice, tid)["result"] == {"text": "fixed words here"}


# ---- delivery: presigned URLs ----


def s3_of(silo):
    key_id, secret = silo.credentials()
    return boto3.client("s3", endpoint_url=silo.s3_url, aws_access_key_id=key_id, aws_secret_access_key=secret,
                        region_name="us-east-1", config=botocore.config.Config(s3={"addressing_style": "path"}))


def test_delivery_to_presigned_put_of_silo_endpoint(world, reference):
    main, alice = world["main"], world["alice"]
    s3 = s3_of(main)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "media", "Key": "results/alice.srt"},
                                    ExpiresIn=600)
    r = transcribe(main, alice, response_format="srt", upload_presigned_url=url)
    assert r.status_code == 200, r.text
    assert r.headers["X-Silo-Delivery-Status"] == "delivered"
    assert r.headers["X-Silo-Delivery-Host"] == urllib.parse.urlsplit(main.s3_url).netloc
    stored = s3.get_object(Bucket="media", Key="results/alice.srt")
    assert stored["Body"].read().decode() == r.text
    # The same through the SDK-shaped json answer: "delivery" says where and how it went.
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "media", "Key": "results/alice.json"},
                                    ExpiresIn=600)
    r = transcribe(main, alice, response_format="json", upload_presigned_url=url)
    body = r.json()
    assert body["text"] == reference["text"]
    assert body["delivery"] == {"method": "upload_presigned_url", "url_host": urllib.parse.urlsplit(url).netloc,
                                "status": "delivered"}
    assert json.loads(s3.get_object(Bucket="media", Key="results/alice.json")["Body"].read()) == {
        "text": reference["text"]}


def test_delivery_to_presigned_put_of_s3rver(world, reference):
    main, alice, server = world["main"], world["alice"], world["s3rver"]
    s3 = server.client()
    s3.create_bucket(Bucket="caller-bucket")
    # SigV4 with the Content-Type signed: silo sends exactly that type.
    v4 = boto3.client("s3", endpoint_url=server.url, aws_access_key_id="S3RVER", aws_secret_access_key="S3RVER",
                      region_name="us-east-1", config=botocore.config.Config(
                          signature_version="s3v4", s3={"addressing_style": "path"}))
    url = v4.generate_presigned_url("put_object", ExpiresIn=600, Params={
        "Bucket": "caller-bucket", "Key": "t/result.json", "ContentType": "application/json"})
    assert "content-type" in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["X-Amz-SignedHeaders"][0]
    r = transcribe(main, alice, response_format="verbose_json", upload_presigned_url=url)
    assert r.status_code == 200 and r.json()["delivery"]["status"] == "delivered", r.text
    obj = s3.get_object(Bucket="caller-bucket", Key="t/result.json")
    assert obj["ContentType"] == "application/json"
    stored = json.loads(obj["Body"].read())
    assert stored["text"] == reference["text"] and stored["segments"] == reference["segments"]
    assert "delivery" not in stored
    # upload_presigned_url wins over output_bucket.
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "caller-bucket", "Key": "t/second.txt"},
                                    ExpiresIn=600)
    r = transcribe(main, alice, response_format="text", upload_presigned_url=url, output_bucket="r2-results",
                   stored_output="true")
    assert r.status_code == 200 and r.headers["X-Silo-Delivery-Status"] == "delivered"
    assert s3.get_object(Bucket="caller-bucket", Key="t/second.txt")["Body"].read().decode() == r.text
    assert "Contents" not in s3.list_objects_v2(Bucket="r2-results", Prefix="transcriptions/")


def test_failed_delivery_is_retried_in_the_background(world, reference):
    main, alice = world["main"], world["alice"]
    flaky = Peer([(503, {}, b"busy"), (200, {}, b"")])
    try:
        r = transcribe(main, alice, upload_presigned_url=flaky.url + "/bucket/key.json?X-Amz-Signature=abc")
        assert r.status_code == 200, r.text
        delivery = r.json()["delivery"]
        assert delivery["status"] == "pending" and delivery["job_id"] > 0
        assert "503" in delivery["error"]
        tid = r.headers["X-Silo-Transcription-Id"]
        assert wait_for(lambda: get_transcription(main, alice, tid)["delivery"]["status"] == "delivered", timeout=30)
        assert len(flaky.requests) == 2
        method, path, headers, body = flaky.requests[1]
        assert method == "PUT" and path == "/bucket/key.json?X-Amz-Signature=abc"
        assert json.loads(body) == {"text": reference["text"]}
        assert get_transcription(main, alice, tid)["delivery"]["attempts"] == 1
    finally:
        flaky.stop()


def test_ssrf_targets_are_refused(world):
    main, plain, alice = world["main"], world["plain"], world["alice"]
    receiver = Peer()
    try:
        plain_alice = plain.token("alice")
        # Without the allowlist, loopback and link-local are refused before any work.
        for url in (receiver.url + "/x", "http://169.254.169.254/latest/meta-data", "http://[::1]:9/x",
                    "http://localhost:9/x", "http://10.1.2.3/x"):
            msg = openai_error(transcribe(plain, plain_alice, upload_presigned_url=url), 400, "upload_presigned_url",
                               "url_not_allowed")
            assert "outbound-allow" in msg
        openai_error(transcribe(plain, plain_alice, callback_url=receiver.url), 400, "callback_url", "url_not_allowed")
        openai_error(transcribe(plain, plain_alice, upload_presigned_url="file:///etc/passwd"), 400,
                     "upload_presigned_url", "invalid_url")
        # With 127.0.0.1/32 allowed, 127.0.0.2 is still loopback and refused.
        openai_error(transcribe(main, alice, upload_presigned_url="http://127.0.0.2:9/x"), 400,
                     "upload_presigned_url", "url_not_allowed")
        # An allowed target that redirects to a refused one: the guard stops the redirect.
        redirector = Peer([(307, {"Location": "http://127.0.0.2:%d/stolen" % receiver.server_address[1]}, b"")])
        try:
            r = transcribe(main, alice, upload_presigned_url=redirector.url + "/put")
            assert r.status_code == 200, r.text
            delivery = r.json()["delivery"]
            assert delivery["status"] == "failed" and "refused" in delivery["error"]
            assert "job_id" not in delivery  # final: not retried
            assert len(redirector.requests) == 1 and receiver.requests == []
        finally:
            redirector.stop()
        assert "refused a connection to 127.0.0.2" in main.log_text()
    finally:
        receiver.stop()


# ---- delivery: server-managed buckets ----


def test_output_bucket_and_stored_output_pick_the_store(world, reference):
    main, alice, server = world["main"], world["alice"], world["s3rver"]
    r2 = server.client()
    r2.create_bucket(Bucket="team-r2")
    access_key, secret_key = world["peer_keys"]
    peer_s3 = boto3.client("s3", endpoint_url=world["plain"].s3_url, aws_access_key_id=access_key,
                           aws_secret_access_key=secret_key, region_name="us-east-1")

    # stored_output=true: the store named r2 (s3rver), in the bucket asked for.
    r = transcribe(main, alice, response_format="text", output_bucket="team-r2", stored_output="true")
    assert r.status_code == 200, r.text
    tid = r.headers["X-Silo-Transcription-Id"]
    key = f"transcriptions/alice/{tid}.txt"
    assert r.headers["X-Silo-Delivery-Store"] == "r2" and r.headers["X-Silo-Delivery-Key"] == key
    obj = r2.get_object(Bucket="team-r2", Key=key)
    assert obj["Body"].read().decode() == reference["text"] + "\n"
    assert obj["Metadata"]["transcription_id"] == tid and obj["Metadata"]["user_id"] == "alice"

    # stored_output=false alone: the store named s3 (the peer silo), its default bucket.
    r = transcribe(main, alice, response_format="verbose_json", stored_output="false")
    body = r.json()
    tid = r.headers["X-Silo-Transcription-Id"]
    assert body["delivery"] == {"method": "output_bucket", "store": "s3", "bucket": "s3-results",
                                "key": f"transcriptions/alice/{tid}.json", "status": "delivered"}
    stored = json.loads(peer_s3.get_object(Bucket="s3-results", Key=body["delivery"]["key"])["Body"].read())
    assert stored["text"] == reference["text"] and "delivery" not in stored

    # output_bucket alone: the default store; the user then finds it in the file service.
    r = transcribe(main, alice, response_format="srt", output_bucket="media")
    tid = r.headers["X-Silo-Transcription-Id"]
    assert r.headers["X-Silo-Delivery-Store"] == "default"
    files = requests.get(main.url("/api/v1/s3/files"), headers=auth(alice), params={"prefix": "transcriptions/"})
    assert f"transcriptions/alice/{tid}.srt" in [f["key"] for f in files.json()["files"]]

    # Refusals: a bucket that does not exist, a store this server does not have.
    openai_error(transcribe(main, alice, output_bucket="no-such-bucket", stored_output="true"), 400,
                 "output_bucket", "bucket_not_found")
    openai_error(transcribe(main, alice, output_bucket="Bad_Name"), 400, "output_bucket")
    msg = openai_error(transcribe(world["plain"], world["plain"].token("alice"), output_bucket="media",
                                  stored_output="true"), 400, "stored_output", "store_not_configured")
    assert "[store r2]" in msg


# ---- the openai engine ----


def test_openai_engine_forwards_to_a_compatible_service(world):
    remote = world["remote"]
    alice = remote.token("alice")
    FAKE_SEEN.clear()
    tiny = open(SHORT, "rb").read()[:40000]
    r = transcribe(remote, alice, data=tiny, name="take.wav", response_format="verbose_json",
                   timestamp_granularities=["word", "segment"], language="fr", prompt="bonjour")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["text"] == "fixed words here" and body["language"] == "french"
    assert [w["word"] for w in body["words"]] == ["fixed", "words", "here"]
    assert body["segments"][0]["text"] == " fixed words here"
    seen = FAKE_SEEN[-1]
    assert seen["path"] == "/v1/audio/transcriptions" and seen["auth"] == "Bearer sk-upstream"
    assert seen["files"]["file"] == ("take.wav", tiny)  # the upload itself, forwarded
    assert seen["fields"]["model"] == ["whisper-1"] and seen["fields"]["language"] == ["fr"]
    assert seen["fields"]["response_format"] == ["verbose_json"]
    assert seen["fields"]["timestamp_granularities[]"] == ["segment", "word"]
    # Translation goes to /audio/translations.
    r = transcribe(remote, alice, data=tiny, route="translations", response_format="text")
    assert r.status_code == 200 and r.text == "fixed words here\n"
    assert FAKE_SEEN[-1]["path"] == "/v1/audio/translations"
    # The service's refusal reaches the caller as OpenAI's 400.
    msg = openai_error(transcribe(remote, alice, data=tiny, prompt="fail 400"), 400)
    assert msg == "upstream refuses this audio"
    models = requests.get(remote.url("/v1/models"), headers=auth(alice)).json()
    assert models["object"] == "list" and {m["id"] for m in models["data"]} == {"whisper-1", "openai"}


# ---- seed 001: recordings saved without a transcript ----


def test_recording_saved_without_transcript_gets_one(world, reference):
    main, alice = world["main"], world["alice"]
    s3 = s3_of(main)

    def save(session, transcript=None):
        parts = [("audio", ("take.wav", open(SHORT, "rb").read(), "audio/wav")), ("session_id", (None, session))]
        if transcript is not None:
            parts.append(("transcript", (None, transcript)))
        r = requests.post(main.url("/api/v1/save_recording_details"), headers=auth(alice), files=parts)
        assert r.status_code == 200, r.text
        return r.json()

    save("auto-1")
    save("given-1", transcript="my own words")
    prefix = "user_recordings/alice/auto-1/"

    def transcript():
        return s3.get_object(Bucket="media", Key=prefix + "transcript.txt")["Body"].read().decode()

    assert wait_for(transcript, timeout=60) == reference["text"]
    meta = json.loads(s3.get_object(Bucket="media", Key=prefix + "session_metadata.json")["Body"].read())
    assert meta["transcript_size"] == len(reference["text"]) and meta["transcript_key"] == prefix + "transcript.txt"
    items = requests.get(main.url("/api/v1/user_recordings/alice"), headers=auth(alice)).json()
    mine = [i for i in items if i["session_id"] == "auto-1"]
    assert mine and requests.get(mine[0]["transcript_url"]).text == reference["text"]
    # A transcript the client gave is never replaced.
    given = "user_recordings/alice/given-1/transcript.txt"
    assert s3.get_object(Bucket="media", Key=given)["Body"].read() == b"my own words"
