"""The web console's server side, with requests: the page and its
Content-Security-Policy, one-time sign-in links (`silo login-link`, the
link `silo serve` prints, POST /api/console/login), GET /api/console/me,
OpenID Connect ID tokens from a test provider, the admin API (admin
allowed, plain user 403, no credential 401) and the listing of
transcriptions (GET /v1/audio/transcriptions)."""
import base64
import hashlib
import hmac
import json
import os
import re
import sqlite3
import time

import pytest
import requests

from console_support import IdP, closed_port, node_available, wait_for

CLIP = "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav"
needs_node = pytest.mark.skipif(not node_available(), reason="needs node (the test OpenID provider)")
needs_clip = pytest.mark.skipif(not os.path.exists(CLIP), reason="needs pocketsphinx-testdata")


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def login_link(silo, sub, *args):
    out = silo.cli("login-link", "--sub", sub, "--public-url", silo.api_url, *args)
    link = out.stdout.strip()
    assert re.fullmatch(re.escape(silo.api_url) + r"/#login=[0-9a-f]{64}", link), link
    assert "works once" in out.stderr
    return link.split("#login=")[1]


def exchange(silo, code):
    return requests.post(silo.url("/api/console/login"), json={"code": code})


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


# ---- the page ----

def test_console_page_is_served_with_a_strict_policy(silo):
    r = requests.get(silo.url("/"))
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert '<script type="module" src="/console/app.js">' in r.text
    csp = r.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert "unsafe" not in csp and "*" not in csp
    assert directives["connect-src"].split() == ["'self'", silo.s3_url]  # presigned uploads, transcripts
    assert directives["frame-ancestors"] == "'none'"
    assert r.headers["X-Frame-Options"] == "DENY"
    for asset, kind in (("app.js", "text/javascript"), ("console.css", "text/css"), ("lib.js", "text/javascript")):
        a = requests.get(silo.url("/console/" + asset))
        assert a.status_code == 200 and a.headers["Content-Type"].startswith(kind), asset
        assert a.headers["X-Content-Type-Options"] == "nosniff"
    for bad in ("/console/missing.js", "/console/..%2Fgallery.js", "/console/.hidden", "/console/gallery.js"):
        assert requests.get(silo.url(bad)).status_code == 404, bad
    assert requests.get(silo.url("/gallery")).status_code == 200  # the gallery page is unchanged


def test_console_config_without_and_with_oidc(silo_factory):
    plain = silo_factory()
    doc = requests.get(plain.url("/api/console/config")).json()
    assert doc["oidc"] is None
    assert doc["limits"]["max_upload_size"] == 5 * 1024 ** 3 and doc["recordings_window_days"] == 15
    named = silo_factory(extra_args=["--oidc-issuer", "http://127.0.0.1:9/realm", "--oidc-client-id", "console",
                                     "--max-upload-size", "2M"])
    doc = requests.get(named.url("/api/console/config")).json()
    assert doc["oidc"] == {"issuer": "http://127.0.0.1:9/realm", "client_id": "console", "name": "127.0.0.1:9"}
    assert doc["limits"]["max_upload_size"] == 2 * 1024 ** 2
    csp = requests.get(named.url("/")).headers["Content-Security-Policy"]
    assert f"connect-src 'self' {named.s3_url} http://127.0.0.1:9;" in csp  # the issuer, for discovery


def test_oidc_settings_are_checked(silo_factory, tmp_path):
    for args, message in ((["--oidc-issuer", "http://127.0.0.1:9"], "go together"),
                          (["--oidc-client-id", "x"], "go together"),
                          (["--oidc-issuer", "ftp://x", "--oidc-client-id", "x"], "oidc-issuer"),
                          (["--console-session-ttl", "5"], "console-session-ttl")):
        with pytest.raises(RuntimeError, match="silo did not start"):
            silo_factory(extra_args=args, data_dir=str(tmp_path / "bad"))
        log = open(str(tmp_path / "bad") + ".log").read()
        assert message in log, log[-500:]


# ---- one-time sign-in links ----

def test_login_link_works_once(silo):
    code = login_link(silo, "alice", "--email", "alice@example.com")
    r = exchange(silo, code)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["token_type"] == "Bearer" and doc["expires_in"] == 28800
    assert doc["user"] == {"sub": "alice", "email": "alice@example.com", "admin": False}
    assert r.headers["Cache-Control"] == "no-store"
    claims = claims_of(doc["token"])
    assert claims["sub"] == "alice" and claims["exp"] - claims["iat"] == 28800 and "role" not in claims
    me = requests.get(silo.url("/api/console/me"), headers=auth(doc["token"]))
    assert me.json() == {"sub": "alice", "email": "alice@example.com", "admin": False, "api_key": False}
    # The session token is an ordinary silo credential: the seeds' routes take it.
    assert requests.get(silo.url("/api/v1/s3/files"), headers=auth(doc["token"])).status_code == 200
    again = exchange(silo, code)
    assert again.status_code == 401
    assert "used already or has expired" in again.json()["detail"]
    assert requests.get(silo.url("/api/admin/users"), headers=auth(doc["token"])).status_code == 403


def test_login_link_for_an_admin_and_its_lifetime(silo_factory):
    silo = silo_factory(extra_args=["--console-session-ttl", "600"])
    code = login_link(silo, "root", "--role", "admin", "--ttl", "120")
    doc = exchange(silo, code).json()
    claims = claims_of(doc["token"])
    assert claims["role"] == "admin" and claims["exp"] - claims["iat"] == 600 and doc["user"]["admin"] is True
    assert requests.get(silo.url("/api/admin/users"), headers=auth(doc["token"])).status_code == 200


def test_expired_and_malformed_codes_are_refused_alike(silo):
    code = login_link(silo, "bob", "--ttl", "1")
    deadline = time.time() + 2.5  # the code expires 1 s after it was made; wait for the clock, not a guess
    while time.time() < deadline:
        time.sleep(0.1)
    r = exchange(silo, code)
    assert r.status_code == 401 and "used already or has expired" in r.json()["detail"]
    for bad in ("0" * 64, "zz", "A" * 64, code.upper()):
        r = exchange(silo, bad)
        assert r.status_code == 401 and "used already or has expired" in r.json()["detail"], bad
    assert exchange(silo, "").status_code == 400
    assert requests.post(silo.url("/api/console/login"), json={}).status_code == 400
    assert requests.post(silo.url("/api/console/login"), data="code=1").status_code == 400


def test_login_link_usage_errors(silo):
    for args, message in (([], "usage"), (["--sub", "x", "--role", "root"], "--role"),
                          (["--sub", "x", "--ttl", "0"], "--ttl"), (["--sub", "x", "--ttl", "86401"], "--ttl")):
        out = silo.cli("login-link", *args, check=False)
        assert out.returncode == 2 and message in out.stderr, (args, out.stderr)


@pytest.mark.skipif(bool(os.environ.get("SILO_TEST_DB")), reason="reads the SQLite database of the data directory")
def test_codes_are_stored_hashed(silo):
    code = login_link(silo, "carol")
    db = sqlite3.connect(os.path.join(silo.data_dir, "silo.db"))
    try:
        rows = db.execute("SELECT hash, sub, role, expires_at - created_at FROM login_codes").fetchall()
    finally:
        db.close()
    hashes = {row[0]: row[1:] for row in rows}
    assert code not in hashes
    assert hashes[hashlib.sha256(code.encode()).hexdigest()] == ("carol", "user", 900)


@pytest.mark.skipif(bool(os.environ.get("SILO_TEST_DB")), reason="serve prints the link on the SQLite default only")
def test_serve_prints_a_login_link_for_the_dev_admin(silo):
    line = silo.proc.stdout.readline().decode().strip()
    assert line.startswith("login: " + silo.api_url + "/#login="), line
    doc = exchange(silo, line.split("#login=")[1]).json()
    assert doc["user"] == {"sub": "dev", "email": "dev@example.com", "admin": True}


def test_serve_prints_no_link_when_told_not_to(silo_factory):
    silo = silo_factory(extra_args=["--console-login-link=false"])
    silo.proc.terminate()
    rest = silo.proc.stdout.read().decode()  # everything after api, s3 and data, up to the exit
    silo.proc.wait(timeout=30)
    assert "login:" not in rest


# ---- OpenID Connect ID tokens ----

@needs_node
def test_oidc_id_tokens_are_verified_against_the_issuers_keys(silo_factory):
    with IdP() as idp:
        silo = silo_factory(extra_args=["--oidc-issuer", idp.issuer, "--oidc-client-id", idp.client_id])
        now = int(time.time())
        good = {"iss": idp.issuer, "aud": idp.client_id, "sub": "olga", "email": "olga@example.com",
                "iat": now, "exp": now + 600}
        me = requests.get(silo.url("/api/console/me"), headers=auth(idp.sign(good)))
        assert me.status_code == 200, me.text
        assert me.json() == {"sub": "olga", "email": "olga@example.com", "admin": False, "api_key": False}
        # aud may be a list holding the client id
        assert requests.get(silo.url("/api/console/me"),
                            headers=auth(idp.sign({**good, "aud": ["other", idp.client_id]}))).status_code == 200
        refused = {
            "another audience": {**good, "aud": "someone-else"},
            "expired": {**good, "exp": now - 3600},
            "not yet valid": {**good, "nbf": now + 3600},
            "another issuer": {**good, "iss": idp.issuer + "/other"},
        }
        for why, claims in refused.items():
            r = requests.get(silo.url("/api/console/me"), headers=auth(idp.sign(claims)))
            assert r.status_code == 401, why
        # HS256 with the issuer's name, signed with the instance secret: the issuer's tokens are RS256 only.
        secret = json.load(open(os.path.join(silo.data_dir, "instance.json")))["jwt_secret"] \
            if not os.environ.get("SILO_TEST_DB") else silo.db_args[silo.db_args.index("--jwt-secret") + 1]
        head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = b64url(json.dumps(good).encode())
        mac = b64url(hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
        r = requests.get(silo.url("/api/console/me"), headers=auth(f"{head}.{body}.{mac}"))
        assert r.status_code == 401
        # silo's own tokens still work beside the issuer's
        assert requests.get(silo.url("/api/console/me"), headers=auth(silo.token("dave"))).status_code == 200
        csp = requests.get(silo.url("/")).headers["Content-Security-Policy"]
        assert f"connect-src 'self' {silo.s3_url} {idp.issuer} {idp.issuer};" in csp  # issuer and token endpoint


# ---- the admin API ----

ADMIN_ROUTES = [("GET", "/api/admin/users"), ("GET", "/api/admin/api-keys"), ("POST", "/api/admin/api-keys"),
                ("DELETE", "/api/admin/api-keys/0123456789abcdef"), ("GET", "/api/admin/jobs"),
                ("POST", "/api/admin/jobs/1/retry"), ("POST", "/api/admin/jobs/1/cancel")]


def test_admin_routes_refuse_everyone_but_admins(silo):
    user = silo.token("uma")
    key = silo.cli("apikey", "create", "--name", "svc").stdout.split()[0]
    for method, path in ADMIN_ROUTES:
        r = requests.request(method, silo.url(path), json={"name": "x"})
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer", (method, path)
        for who in (user, key):
            r = requests.request(method, silo.url(path), headers=auth(who), json={"name": "x"})
            assert r.status_code == 403, (method, path, r.text)
            assert "admin" in r.json()["detail"]
    assert requests.get(silo.url("/api/admin/users"), headers=auth("not-a-token")).status_code == 401


def test_admin_users_and_api_keys(silo):
    admin = silo.token("root", role="admin")
    for name in ("walt", "vera"):
        requests.get(silo.url("/api/console/me"), headers=auth(silo.token(name, email=name + "@example.com")))
    r = requests.get(silo.url("/api/admin/users"), headers=auth(admin))
    assert r.status_code == 200
    users = {u["sub"]: u for u in r.json()["users"]}
    assert users["walt"]["email"] == "walt@example.com" and users["walt"]["last_seen"].endswith("Z")
    page = requests.get(silo.url("/api/admin/users?limit=1"), headers=auth(admin)).json()
    assert len(page["users"]) == 1 and page["next_after"] == page["users"][0]["sub"]
    rest = requests.get(silo.url("/api/admin/users?limit=500&after=" + page["next_after"]), headers=auth(admin)).json()
    assert page["users"][0]["sub"] not in {u["sub"] for u in rest["users"]} and rest["next_after"] is None
    assert requests.get(silo.url("/api/admin/users?limit=0"), headers=auth(admin)).status_code == 400

    created = requests.post(silo.url("/api/admin/api-keys"), headers=auth(admin), json={"name": "worker-1"})
    assert created.status_code == 201, created.text
    k = created.json()
    assert k["key"].startswith("silo_") and k["role"] == "user" and k["name"] == "worker-1"
    me = requests.get(silo.url("/api/console/me"), headers=auth(k["key"])).json()
    assert me == {"sub": "worker-1", "email": None, "admin": False, "api_key": True}
    listed = requests.get(silo.url("/api/admin/api-keys"), headers=auth(admin)).json()["api_keys"]
    row = next(x for x in listed if x["id"] == k["id"])
    assert row["revoked_at"] is None and "key" not in row and k["key"] not in json.dumps(listed)
    assert k["id"] in silo.cli("apikey", "list").stdout  # the same keys as the command line's
    admin_key = requests.post(silo.url("/api/admin/api-keys"), headers=auth(admin),
                              json={"name": "ops", "role": "admin"}).json()
    assert requests.get(silo.url("/api/admin/jobs"), headers=auth(admin_key["key"])).status_code == 200
    for bad, field in (({"name": ""}, "name"), ({"name": "a/b"}, "name"), ({"name": "x" * 129}, "name"),
                       ({}, "name"), ({"name": "ok", "role": "root"}, "role"), ({"name": "ok", "role": 1}, "role")):
        r = requests.post(silo.url("/api/admin/api-keys"), headers=auth(admin), json=bad)
        assert r.status_code == 400 and r.json()["field"] == field, bad
    r = requests.delete(silo.url("/api/admin/api-keys/" + k["id"]), headers=auth(admin))
    assert r.status_code == 200 and r.json() == {"id": k["id"], "revoked": True}
    assert requests.get(silo.url("/api/console/me"), headers=auth(k["key"])).status_code == 401
    assert requests.delete(silo.url("/api/admin/api-keys/" + k["id"]), headers=auth(admin)).status_code == 404
    listed = requests.get(silo.url("/api/admin/api-keys"), headers=auth(admin)).json()["api_keys"]
    assert next(x for x in listed if x["id"] == k["id"])["revoked_at"].endswith("Z")


def job_state(silo, admin, job_id):
    jobs = requests.get(silo.url("/api/admin/jobs?limit=500"), headers=auth(admin)).json()["jobs"]
    return next(j for j in jobs if j["id"] == job_id)


@needs_clip
def test_admin_jobs_list_filter_retry_cancel(silo_factory):
    silo = silo_factory(extra_args=["--outbound-allow", "127.0.0.1/32"])
    admin = silo.token("root", role="admin")
    alice = silo.token("alice")
    # A delivery to a closed port fails in a way that may pass: a deliver_result job is retried with backoff.
    with open(CLIP, "rb") as f:
        r = requests.post(silo.url("/v1/audio/transcriptions"), headers=auth(alice),
                          files={"file": ("clip.wav", f, "audio/wav")},
                          data={"response_format": "text", "upload_presigned_url":
                                f"http://127.0.0.1:{closed_port()}/out.txt?X-Amz-Signature=x"}, timeout=120)
    assert r.status_code == 200 and r.headers["X-Silo-Delivery-Status"] == "pending", r.headers
    job_id = int(r.headers["X-Silo-Delivery-Job"])
    listed = requests.get(silo.url("/api/admin/jobs"), headers=auth(admin)).json()
    kinds = {j["kind"] for j in listed["jobs"]}
    assert {"transcribe", "deliver_result"} <= kinds and listed["next_before"] is None
    # The synchronous answer may come a moment before its job is recorded done.
    done = wait_for(lambda: requests.get(silo.url("/api/admin/jobs?state=done"), headers=auth(admin)).json()["jobs"],
                    "the transcription to be recorded done")
    assert all(j["state"] == "done" for j in done)
    by_kind = requests.get(silo.url("/api/admin/jobs?kind=transcribe"), headers=auth(admin)).json()["jobs"]
    assert by_kind and all(j["kind"] == "transcribe" for j in by_kind)
    page = requests.get(silo.url("/api/admin/jobs?limit=1"), headers=auth(admin)).json()
    assert len(page["jobs"]) == 1 and page["next_before"] == page["jobs"][0]["id"]
    older = requests.get(silo.url(f"/api/admin/jobs?before={page['next_before']}"), headers=auth(admin)).json()
    assert all(j["id"] < page["next_before"] for j in older["jobs"])
    for bad in ("state=nope", "limit=0", "limit=501", "before=x"):
        assert requests.get(silo.url("/api/admin/jobs?" + bad), headers=auth(admin)).status_code == 400, bad

    transcribe_id = by_kind[0]["id"]
    r = requests.post(silo.url(f"/api/admin/jobs/{transcribe_id}/retry"), headers=auth(admin))
    assert r.status_code == 409 and "dead nor cancelled" in r.json()["detail"]
    assert requests.post(silo.url(f"/api/admin/jobs/{transcribe_id}/cancel"), headers=auth(admin)).status_code == 409
    for missing in ("999999", "abc", "0"):
        assert requests.post(silo.url(f"/api/admin/jobs/{missing}/cancel"), headers=auth(admin)).status_code == 404

    # Cancel the delivery wherever it is (queued in its backoff, running, or dead after its last try).
    state = job_state(silo, admin, job_id)["state"]
    if state in ("queued", "running"):
        r = requests.post(silo.url(f"/api/admin/jobs/{job_id}/cancel"), headers=auth(admin))
        assert r.status_code == 200 and r.json()["state"] in ("cancelled", "cancelling"), r.text
        wait_for(lambda: job_state(silo, admin, job_id)["state"] == "cancelled", "the cancel to settle")
    r = requests.post(silo.url(f"/api/admin/jobs/{job_id}/retry"), headers=auth(admin))
    assert r.status_code == 200 and r.json() == {"id": job_id, "state": "queued"}, r.text
    r = requests.post(silo.url(f"/api/admin/jobs/{job_id}/cancel"), headers=auth(admin))
    assert r.status_code in (200, 409), r.text  # 409 only if it ran out of tries meanwhile


# ---- listing transcriptions ----

@needs_clip
def test_transcriptions_are_listed_for_their_owner(silo):
    ana, ben = silo.token("ana"), silo.token("ben")
    admin = silo.token("root", role="admin")
    ids = {}
    for who, name in ((ana, "one.wav"), (ana, "two.wav"), (ben, "three.wav")):
        with open(CLIP, "rb") as f:
            r = requests.post(silo.url("/v1/audio/transcriptions"), headers=auth(who),
                              files={"file": (name, f, "audio/wav")}, data={"async": "true"})
        assert r.status_code == 202
        ids[name] = r.json()["id"]
    mine = requests.get(silo.url("/v1/audio/transcriptions"), headers=auth(ana)).json()
    assert mine["object"] == "list" and mine["has_more"] is False
    assert [t["id"] for t in mine["data"]] == [ids["two.wav"], ids["one.wav"]]  # newest first
    assert {t["filename"] for t in mine["data"]} == {"one.wav", "two.wav"} and {t["user"] for t in mine["data"]} == {"ana"}
    assert all("result" not in t and t["status"] in ("queued", "in_progress", "completed") for t in mine["data"])
    everyone = requests.get(silo.url("/v1/audio/transcriptions"), headers=auth(admin)).json()
    assert set(ids.values()) <= {t["id"] for t in everyone["data"]}
    first = requests.get(silo.url("/v1/audio/transcriptions?limit=1"), headers=auth(ana)).json()
    assert first["has_more"] is True and first["last_id"] == ids["two.wav"]
    second = requests.get(silo.url(f"/v1/audio/transcriptions?limit=1&after={first['last_id']}"),
                          headers=auth(ana)).json()
    assert [t["id"] for t in second["data"]] == [ids["one.wav"]]
    wait_for(lambda: all(t["status"] == "completed" for t in requests.get(
        silo.url("/v1/audio/transcriptions"), headers=auth(ana)).json()["data"]), "the transcriptions")
    r = requests.get(silo.url("/v1/audio/transcriptions"))
    assert r.status_code == 401 and r.json()["error"]["type"] == "invalid_request_error"
    for bad, param in (("limit=0", "limit"), ("limit=101", "limit"), ("after=nope", "after")):
        r = requests.get(silo.url("/v1/audio/transcriptions?" + bad), headers=auth(ana))
        assert r.status_code == 400 and r.json()["error"]["param"] == param, bad


# ---- seed 003: what the console's uploads need ----

def test_direct_upload_keeps_the_file_name(silo):
    token = silo.token("nora")
    grant = requests.post(silo.url("/api/upload/presigned-url"), headers=auth(token),
                          json={"filename": "Meeting notes.txt", "contentType": "text/plain", "size": 6}).json()
    assert grant["fields"]["x-amz-meta-original_filename"] == "Meeting notes.txt"
    files = [(k, (None, v)) for k, v in grant["fields"].items()] + [("file", ("x", b"hello\n", "text/plain"))]
    assert requests.post(grant["url"], files=files).status_code in (200, 201, 204)
    done = requests.post(silo.url("/api/upload/complete"), headers=auth(token), json={"key": grant["key"]}).json()
    assert done["metadata"]["original_filename"] == "Meeting notes.txt"
    listed = requests.get(silo.url("/api/v1/s3/files"), headers=auth(token)).json()["files"]
    assert [f["metadata"]["original_filename"] for f in listed] == ["Meeting notes.txt"]
    # The name is part of the signed policy: another one is refused.
    forged = dict(grant["fields"], **{"x-amz-meta-original_filename": "other.txt"})
    files = [(k, (None, v)) for k, v in forged.items()] + [("file", ("x", b"hello\n", "text/plain"))]
    assert requests.post(grant["url"], files=files).status_code == 403
