"""Seed 002's file service and the auth in front of it (issue 6):
upload (streamed, sniffed, limited), list, url, metadata, exists, delete;
users kept apart whatever the key's encoding; JWT and API key checks."""
import base64
import hashlib
import hmac
import json
import os
import sqlite3
import subprocess
import time
import urllib.parse

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

WAV_HEADER = (b"RIFF" + (36 + 8000).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
              + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
              + (16000).to_bytes(4, "little") + (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
              + b"data" + (8000).to_bytes(4, "little"))
WAV = WAV_HEADER + bytes(range(256)) * 31 + bytes(64)
ELF = open("/bin/true", "rb").read()


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def upload(silo, token, data=WAV, name="clip.wav", ctype="audio/wav", fields=None, file_first=True):
    parts = []
    file_part = ("file", (name, data, ctype))
    extra = [(k, (None, v)) for k, v in (fields or {}).items()]
    parts = [file_part] + extra if file_first else extra + [file_part]
    return requests.post(silo.url("/api/v1/s3/upload"), headers=auth(token), files=parts)


def catalog_keys(silo):
    db = sqlite3.connect(f"file:{silo.data_dir}/store/catalog.db?mode=ro", uri=True)
    try:
        return [bytes(r[0]).decode() if isinstance(r[0], bytes) else r[0] for r in db.execute("SELECT key FROM objects")]
    finally:
        db.close()


@pytest.fixture(scope="module")
def env(silo_module):
    s = silo_module
    return s, s.token("alice", email="alice@example.com"), s.token("bob"), s.token("root", role="admin")


def test_upload_with_fields_after_file_lands_under_user(env):
    silo, alice, _, _ = env
    r = upload(silo, alice, fields={"folder": "documents"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True
    key = body["key"]
    folder, user, name = key.split("/")
    assert (folder, user) == ("documents", "alice")
    assert name.endswith(".wav") and len(name) == 36 + 4
    assert body["s3_key"] == key and body["size"] == len(WAV) and body["bucket"] == "media"
    meta = body["metadata"]
    assert meta["user_id"] == "alice" and meta["original_filename"] == "clip.wav"
    assert meta["content_type"] == "audio/wav" and meta["upload_timestamp"].endswith("Z")
    assert not [k for k in catalog_keys(silo) if k.startswith(".silo-staging/")]
    # The object carries the seed's metadata in the store too.
    m = requests.get(silo.url(f"/api/v1/s3/file/{key}/metadata"), headers=auth(alice)).json()
    assert m["metadata"]["user_id"] == "alice" and m["metadata"]["original_filename"] == "clip.wav"
    assert m["size"] == len(WAV) and m["content_type"] == "audio/wav"


def test_upload_with_class_id_before_file(env):
    silo, alice, _, _ = env
    r = upload(silo, alice, fields={"folder": "audio", "class_id": "class123"}, file_first=False, name="Lecture 1.MP3",
               ctype="application/octet-stream")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["key"].startswith("audio/class123/") and body["key"].endswith(".mp3")
    assert body["metadata"]["class_id"] == "class123"
    assert body["content_type"] == "audio/x-wav"  # sniffed when the client did not say


def test_default_folder_is_uploads(env):
    silo, alice, _, _ = env
    r = upload(silo, alice)
    assert r.status_code == 200
    assert r.json()["key"].startswith("uploads/alice/")


def test_listing_is_per_user_and_paginates(env):
    silo, _, _, admin = env
    carol = silo.token("carol")
    keys = sorted(upload(silo, carol, fields={"folder": "pages"}).json()["key"] for _ in range(5))
    seen, token = [], None
    while True:
        params = {"max_keys": 2, "prefix": "pages/"}
        if token:
            params["continuation_token"] = token
        page = requests.get(silo.url("/api/v1/s3/files"), headers=auth(carol), params=params).json()
        assert page["count"] == len(page["files"]) <= 2
        seen += [f["key"] for f in page["files"]]
        if not page["is_truncated"]:
            break
        token = page["next_continuation_token"]
    assert seen == keys
    assert all(f["owner"] == "carol" for f in requests.get(silo.url("/api/v1/s3/files"), headers=auth(carol)).json()["files"])
    everyone = requests.get(silo.url("/api/v1/s3/files"), headers=auth(admin)).json()["files"]
    assert {"alice", "carol"} <= {f["owner"] for f in everyone}


def test_list_validation(env):
    silo, alice, _, _ = env
    for bad in ({"max_keys": 0}, {"max_keys": 1001}, {"max_keys": "x"}, {"continuation_token": "!!"}):
        r = requests.get(silo.url("/api/v1/s3/files"), headers=auth(alice), params=bad)
        assert r.status_code == 400, bad


def test_url_downloads_the_bytes(env):
    silo, alice, _, _ = env
    key = upload(silo, alice).json()["key"]
    r = requests.get(silo.url(f"/api/v1/s3/file/{key}/url"), headers=auth(alice), params={"expires_in": 120})
    assert r.status_code == 200
    body = r.json()
    assert body["expires_in"] == 120 and body["key"] == key
    assert "X-Amz-Expires=120" in body["url"]
    got = requests.get(body["url"])
    if got.status_code != 501:  # the S3 endpoint serves GETs once issue 4 lands
        assert got.status_code == 200 and got.content == WAV
    for bad in ("0", "604801", "soon"):
        r = requests.get(silo.url(f"/api/v1/s3/file/{key}/url"), headers=auth(alice), params={"expires_in": bad})
        assert r.status_code == 400


def test_keys_with_slashes_and_odd_characters_in_the_path(env):
    silo, alice, _, _ = env
    key = upload(silo, alice, fields={"folder": "a/b.c/d-e_f"}).json()["key"]
    assert key.startswith("a/b.c/d-e_f/alice/")
    # Both spellings of the slashes reach the same object.
    plain = requests.get(silo.url(f"/api/v1/s3/file/{key}/exists"), headers=auth(alice)).json()
    encoded = requests.get(silo.url(f"/api/v1/s3/file/{urllib.parse.quote(key, safe='')}/exists"),
                           headers=auth(alice)).json()
    assert plain == encoded == {"key": key, "exists": True}


def test_exists_false_and_404s(env):
    silo, alice, _, _ = env
    r = requests.get(silo.url("/api/v1/s3/file/uploads/alice/nope.wav/exists"), headers=auth(alice))
    assert r.status_code == 200 and r.json() == {"key": "uploads/alice/nope.wav", "exists": False}
    for method, suffix in (("GET", "/metadata"), ("GET", "/url"), ("DELETE", "")):
        r = requests.request(method, silo.url(f"/api/v1/s3/file/uploads/alice/nope.wav{suffix}"), headers=auth(alice))
        assert r.status_code == 404, (method, suffix)


def test_delete_removes_object_and_index_row(env):
    silo, alice, _, _ = env
    key = upload(silo, alice).json()["key"]
    r = requests.delete(silo.url(f"/api/v1/s3/file/{key}"), headers=auth(alice))
    assert r.status_code == 200 and r.json()["success"] is True
    assert key not in catalog_keys(silo)
    listed = [f["key"] for f in requests.get(silo.url("/api/v1/s3/files"), headers=auth(alice)).json()["files"]]
    assert key not in listed
    assert requests.delete(silo.url(f"/api/v1/s3/file/{key}"), headers=auth(alice)).status_code == 404


def test_other_users_objects_are_off_limits_whatever_the_encoding(env):
    silo, alice, bob, admin = env
    key = upload(silo, alice).json()["key"]
    spellings = [key, urllib.parse.quote(key, safe=""), key.replace("/", "%2f"),
                 "uploads/bob/../alice/" + key.split("/")[-1], "uploads/bob/%2e%2e/alice/" + key.split("/")[-1]]
    for spelled in spellings:
        for method, suffix in (("GET", "/url"), ("GET", "/metadata"), ("GET", "/exists"), ("DELETE", "")):
            r = requests.request(method, silo.url(f"/api/v1/s3/file/{spelled}{suffix}"), headers=auth(bob))
            if spelled in spellings[:3]:
                assert r.status_code == 403, (spelled, method, suffix, r.text)
            else:  # a dot-segment path names another (absent) key, never alice's
                assert r.status_code in (403, 404) or (suffix == "/exists" and r.json()["exists"] is False), \
                    (spelled, method, suffix, r.text)
    bobs = [f["key"] for f in requests.get(silo.url("/api/v1/s3/files"), headers=auth(bob),
                                           params={"prefix": "uploads/alice/"}).json()["files"]]
    assert bobs == []
    assert key in catalog_keys(silo)  # still there
    assert requests.get(silo.url(f"/api/v1/s3/file/{key}/metadata"), headers=auth(admin)).status_code == 200


def test_oversized_upload_is_refused_and_nothing_stored(silo_factory):
    silo = silo_factory(extra_args=["--max-upload-size", "64K"])
    token = silo.token("alice")
    big = WAV_HEADER + bytes(200_000)
    r = upload(silo, token, data=big)
    assert r.status_code == 413
    assert "limit" in r.json()["detail"]
    assert catalog_keys(silo) == []


def test_disguised_file_is_refused_and_nothing_stored(env):
    silo, alice, _, _ = env
    before = set(catalog_keys(silo))
    r = upload(silo, alice, data=ELF, name="song.mp3", ctype="audio/mpeg")
    assert r.status_code == 415
    r = upload(silo, alice, data=b"%PDF-1.4\n" + bytes(5000), name="clip.wav", ctype="audio/wav")
    assert r.status_code == 415 and "does not match" in r.json()["detail"]
    assert set(catalog_keys(silo)) == before


def test_bad_folder_and_missing_file(env):
    silo, alice, _, _ = env
    for folder in ("../etc", "a//b", "/abs", "sp ace", "dots/..", "x" * 200):
        r = upload(silo, alice, fields={"folder": folder}, file_first=False)
        assert r.status_code == 400, folder
        assert "folder" in r.json()["detail"]
    r = requests.post(silo.url("/api/v1/s3/upload"), headers=auth(alice), files=[("folder", (None, "x"))])
    assert r.status_code == 400 and "file" in r.json()["detail"]
    r = requests.post(silo.url("/api/v1/s3/upload"), headers=auth(alice), data=b"{}")
    assert r.status_code == 400


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(header, claims, sign):
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def test_bad_tokens_are_refused(env):
    silo, alice, _, _ = env
    files = silo.url("/api/v1/s3/files")
    assert requests.get(files).status_code == 401
    assert requests.get(files, headers={"Authorization": "Basic abc"}).status_code == 401
    secret = json.load(open(os.path.join(silo.data_dir, "instance.json")))["jwt_secret"].encode()
    hs = lambda m: hmac.new(secret, m, hashlib.sha256).digest()
    expired = make_jwt({"alg": "HS256"}, {"sub": "alice", "exp": int(time.time()) - 120}, hs)
    future = make_jwt({"alg": "HS256"}, {"sub": "alice", "nbf": int(time.time()) + 600, "exp": 2**40}, hs)
    no_sub = make_jwt({"alg": "HS256"}, {"exp": 2**40}, hs)
    head, body, sig = alice.split(".")
    tampered = f"{head}.{b64url(json.dumps({'sub': 'root', 'role': 'admin', 'exp': 2**40}).encode())}.{sig}"
    none_alg = make_jwt({"alg": "none", "typ": "JWT"}, {"sub": "alice", "exp": 2**40}, lambda m: b"")
    for bad in (tampered, none_alg, "garbage", alice + "x", "a.b.c.d", "silo_notakey", future, no_sub):
        r = requests.get(files, headers=auth(bad))
        assert r.status_code == 401, bad
        assert r.json()["detail"]
    assert requests.get(files, headers=auth(make_jwt({"alg": "HS256"}, {"sub": "alice", "exp": 2**40}, hs))).ok
    r = requests.get(files, headers=auth(expired))
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_audience_and_issuer_are_enforced(silo_factory):
    silo = silo_factory(extra_args=["--jwt-audience", "media-api", "--jwt-issuer", "https://issuer.example/"])
    good = silo.cli("token", "--sub", "alice", "--jwt-audience", "media-api", "--jwt-issuer",
                    "https://issuer.example/").stdout.strip()  # silo token adds the configured iss and aud
    assert requests.get(silo.url("/api/v1/s3/files"), headers=auth(good)).status_code == 200
    secret = json.load(open(os.path.join(silo.data_dir, "instance.json")))["jwt_secret"].encode()
    hs = lambda m: hmac.new(secret, m, hashlib.sha256).digest()
    base = {"sub": "alice", "exp": int(time.time()) + 600}
    wrong_aud = make_jwt({"alg": "HS256"}, {**base, "aud": "other", "iss": "https://issuer.example/"}, hs)
    wrong_iss = make_jwt({"alg": "HS256"}, {**base, "aud": "media-api", "iss": "https://evil.example/"}, hs)
    aud_list = make_jwt({"alg": "HS256"}, {**base, "aud": ["x", "media-api"], "iss": "https://issuer.example/"}, hs)
    assert requests.get(silo.url("/api/v1/s3/files"), headers=auth(wrong_aud)).status_code == 401
    assert requests.get(silo.url("/api/v1/s3/files"), headers=auth(wrong_iss)).status_code == 401
    assert requests.get(silo.url("/api/v1/s3/files"), headers=auth(aud_list)).status_code == 200


def test_rs256_and_es256_tokens_from_a_jwks_file(silo_factory, tmp_path):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rn = rsa_key.public_key().public_numbers()
    en = ec_key.public_key().public_numbers()
    as_bytes = lambda n, size=None: n.to_bytes(size or (n.bit_length() + 7) // 8, "big")
    jwks = {"keys": [
        {"kty": "RSA", "kid": "r1", "use": "sig", "n": b64url(as_bytes(rn.n)), "e": b64url(as_bytes(rn.e))},
        {"kty": "EC", "kid": "e1", "crv": "P-256", "x": b64url(as_bytes(en.x, 32)), "y": b64url(as_bytes(en.y, 32))},
    ]}
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks))
    silo = silo_factory(extra_args=["--jwks", str(path)])
    claims = {"sub": "oidc-user", "email": "o@example.com", "exp": int(time.time()) + 600}
    rs = make_jwt({"alg": "RS256", "kid": "r1"}, claims,
                  lambda m: rsa_key.sign(m, padding.PKCS1v15(), hashes.SHA256()))

    def es_sign(m):
        r, s = utils.decode_dss_signature(ec_key.sign(m, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    es = make_jwt({"alg": "ES256", "kid": "e1"}, claims, es_sign)
    files = silo.url("/api/v1/s3/files")
    assert requests.get(files, headers=auth(rs)).status_code == 200
    assert requests.get(files, headers=auth(es)).status_code == 200
    # Algorithm confusion: HS256 "signed" with the RSA public key as secret.
    pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    confused = make_jwt({"alg": "HS256", "kid": "r1"}, claims, lambda m: hmac.new(pem, m, hashlib.sha256).digest())
    assert requests.get(files, headers=auth(confused)).status_code == 401
    # RS256 header on the EC key, and an unknown kid.
    wrong_type = make_jwt({"alg": "RS256", "kid": "e1"}, claims,
                          lambda m: rsa_key.sign(m, padding.PKCS1v15(), hashes.SHA256()))
    assert requests.get(files, headers=auth(wrong_type)).status_code == 401
    unknown = make_jwt({"alg": "ES256", "kid": "zz"}, claims, es_sign)
    assert requests.get(files, headers=auth(unknown)).status_code == 401


def test_api_keys(env):
    silo, alice, _, _ = env
    alice_key = upload(silo, alice).json()["key"]
    out = silo.cli("apikey", "create", "--name", "worker", "--role", "admin").stdout.split("\n")
    key, key_id = out[0], out[1].split()[1]
    assert key.startswith("silo_")
    r = requests.get(silo.url(f"/api/v1/s3/file/{alice_key}/metadata"), headers=auth(key))
    assert r.status_code == 200  # an admin key may act for anyone
    listed = silo.cli("apikey", "list").stdout
    assert key_id in listed and key not in listed  # stored hashed, never shown again
    silo.cli("apikey", "revoke", key_id)
    r = requests.get(silo.url(f"/api/v1/s3/file/{alice_key}/metadata"), headers=auth(key))
    assert r.status_code == 401
    user_key = silo.cli("apikey", "create", "--name", "svc").stdout.split("\n")[0]
    r = requests.get(silo.url(f"/api/v1/s3/file/{alice_key}/metadata"), headers=auth(user_key))
    assert r.status_code == 403


def test_jwks_from_a_url_is_fetched_again_for_an_unknown_kid(silo_factory):
    """Key rotation at the identity provider: a token signed with a key the
    cached set does not have makes silo fetch the JWKS again."""
    import http.server
    import threading

    keys = {"current": {"keys": []}}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps(keys["current"]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        def jwk_and_signer(kid):
            key = ec.generate_private_key(ec.SECP256R1())
            n = key.public_key().public_numbers()
            jwk = {"kty": "EC", "kid": kid, "crv": "P-256", "x": b64url(n.x.to_bytes(32, "big")),
                   "y": b64url(n.y.to_bytes(32, "big"))}

            def sign(m):
                r, s = utils.decode_dss_signature(key.sign(m, ec.ECDSA(hashes.SHA256())))
                return r.to_bytes(32, "big") + s.to_bytes(32, "big")
            return jwk, sign

        old_jwk, old_sign = jwk_and_signer("2025")
        new_jwk, new_sign = jwk_and_signer("2026")
        keys["current"] = {"keys": [old_jwk]}
        silo = silo_factory(extra_args=["--jwks", f"http://127.0.0.1:{server.server_port}/jwks.json",
                                        "--jwks-min-refresh", "0"])
        claims = {"sub": "rotating", "exp": int(time.time()) + 600}
        files = silo.url("/api/v1/s3/files")
        assert requests.get(files, headers=auth(make_jwt({"alg": "ES256", "kid": "2025"}, claims, old_sign))).ok
        new_token = make_jwt({"alg": "ES256", "kid": "2026"}, claims, new_sign)
        assert requests.get(files, headers=auth(new_token)).status_code == 401  # not published yet
        keys["current"] = {"keys": [old_jwk, new_jwk]}
        assert requests.get(files, headers=auth(new_token)).status_code == 200  # fetched again
    finally:
        server.shutdown()


def test_staging_leftovers_are_swept_at_start(silo_factory, tmp_path):
    """A crash between staging an upload and moving it leaves an object
    under .silo-staging/; the next start removes those older than a day."""
    import boto3
    import botocore.config
    data = tmp_path / "data"
    silo = silo_factory(data_dir=str(data))
    access, secret = silo.credentials()
    s3 = boto3.client("s3", endpoint_url=silo.s3_url, aws_access_key_id=access, aws_secret_access_key=secret,
                      region_name="us-east-1", config=botocore.config.Config(signature_version="s3v4"))
    s3.put_object(Bucket="media", Key=".silo-staging/old", Body=b"left over")
    s3.put_object(Bucket="media", Key=".silo-staging/fresh", Body=b"in flight")
    silo.stop()
    db = sqlite3.connect(str(data / "store" / "catalog.db"))
    db.execute("UPDATE objects SET last_modified = last_modified - 2 * 86400 WHERE key = CAST(? AS BLOB)",
               (".silo-staging/old",))
    db.commit()
    db.close()
    silo_factory(data_dir=str(data))
    assert ".silo-staging/old" not in catalog_keys(silo)
    assert ".silo-staging/fresh" in catalog_keys(silo)
