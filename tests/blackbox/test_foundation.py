"""Foundation: serve, configuration, first run, tokens, credentials, health,
metrics, request ids, access log, limits and graceful shutdown."""
import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import stat
import subprocess
import time

import requests

from conftest import BIN, Silo


def b64url_decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def run(*args, env=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SILO_")) and k != "DEBUG"}
    full_env.update(env or {})
    return subprocess.run([BIN, *args], capture_output=True, text=True, env=full_env, timeout=60)


def test_serve_prints_addresses_and_answers_healthz(silo):
    assert silo.api_url.startswith("http://127.0.0.1:")
    assert silo.s3_url.startswith("http://127.0.0.1:")
    assert silo.api_url != silo.s3_url
    r = requests.get(silo.url("/healthz"))
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    assert r.headers["Content-Type"] == "application/json"


def test_readyz_checks_database_and_store(silo):
    r = requests.get(silo.url("/readyz"))
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ready"
    assert body["checks"] == {"database": "ok", "store:default": "ok"}


def test_request_ids_are_unique_and_on_errors_too(silo):
    ids = {requests.get(silo.url("/healthz")).headers["X-Request-Id"] for _ in range(20)}
    assert len(ids) == 20
    r = requests.get(silo.url("/no/such/route"))
    assert r.status_code == 404
    assert r.json()["detail"]
    assert len(r.headers["X-Request-Id"]) == 32


def test_wrong_method_is_405(silo):
    r = requests.delete(silo.url("/healthz"))
    assert r.status_code == 405
    assert "method" in r.json()["detail"]


def test_access_log_has_one_json_line_per_request(silo):
    r = requests.get(silo.url("/healthz?probe=1"))
    rid = r.headers["X-Request-Id"]
    time.sleep(0.2)
    lines = [json.loads(l) for l in silo.log_text().splitlines() if l.startswith("{")]
    mine = [l for l in lines if l.get("id") == rid]
    assert len(mine) == 1
    line = mine[0]
    assert line["msg"] == "request" and line["method"] == "GET" and line["path"] == "/healthz"
    assert line["status"] == 200 and line["route"] == "/healthz" and line["listener"] == "api"
    assert isinstance(line["ms"], int) and line["bytes_out"] == len(r.content)


def metric(text, series):
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return 0.0


def test_metrics_in_prometheus_format(silo):
    ok = 'silo_http_requests_total{listener="api",route="/healthz",method="GET",status="200"}'
    missing = 'silo_http_requests_total{listener="api",route="unmatched",method="GET",status="404"}'
    before = requests.get(silo.url("/metrics")).text
    for _ in range(3):
        requests.get(silo.url("/healthz"))
    requests.get(silo.url("/missing"))
    text = requests.get(silo.url("/metrics")).text
    assert metric(text, ok) - metric(before, ok) == 3
    assert metric(text, missing) - metric(before, missing) == 1
    assert "# TYPE silo_http_request_duration_seconds histogram" in text
    inf = 'silo_http_request_duration_seconds_bucket{listener="api",route="/healthz",method="GET",status="200",le="+Inf"}'
    assert metric(text, inf) == metric(text, ok)
    assert "silo_http_response_bytes_total" in text and "silo_http_request_bytes_total" in text
    assert "silo_uploads_in_flight 0" in text


def test_first_run_creates_data_dir_and_reuses_it(silo_factory, tmp_path):
    data = tmp_path / "data"
    first = silo_factory(data_dir=str(data))
    assert (data / "silo.db").exists()
    secrets = data / "instance.json"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    creds = first.credentials()
    token = first.token("bob")
    first.stop()
    second = silo_factory(data_dir=str(data))
    assert second.credentials() == creds
    # A token minted before the restart still verifies with the same secret.
    secret = json.loads(secrets.read_text())["jwt_secret"]
    head, body, sig = token.split(".")
    expected = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    assert b64url_decode(sig) == expected


def test_default_bucket_created_on_first_run(silo):
    store = os.path.join(silo.data_dir, "store")
    assert os.path.isdir(store)
    assert requests.get(silo.url("/readyz")).status_code == 200


def test_token_claims(silo):
    token = silo.token("user-42", email="u42@example.com", role="admin", ttl=120)
    head, body, _ = token.split(".")
    assert json.loads(b64url_decode(head)) == {"alg": "HS256", "typ": "JWT"}
    claims = json.loads(b64url_decode(body))
    assert claims["sub"] == "user-42" and claims["email"] == "u42@example.com" and claims["role"] == "admin"
    assert claims["exp"] - claims["iat"] == 120
    assert abs(claims["iat"] - time.time()) < 60


def test_token_usage_errors(tmp_path):
    r = run("token", "--data", str(tmp_path))
    assert r.returncode == 2 and "--sub" in r.stderr
    r = run("token", "--sub", "a", "--role", "root", "--data", str(tmp_path))
    assert r.returncode == 2 and "--role" in r.stderr
    r = run("token", "--sub", "a", "--ttl", "soon", "--data", str(tmp_path))
    assert r.returncode == 2 and "--ttl" in r.stderr


def test_s3_credentials_prints_two_lines(tmp_path):
    r = run("s3-credentials", "--data", str(tmp_path))
    assert r.returncode == 0
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("AWS_ACCESS_KEY_ID=") and len(lines[0]) > len("AWS_ACCESS_KEY_ID=") + 15
    assert lines[1].startswith("AWS_SECRET_ACCESS_KEY=") and len(lines[1]) > len("AWS_SECRET_ACCESS_KEY=") + 30
    again = run("s3-credentials", "--data", str(tmp_path))
    assert again.stdout == r.stdout


def config_map(result):
    assert result.returncode == 0, result.stderr
    out = {}
    for line in result.stdout.splitlines():
        if " = " in line:
            k, v = line.split(" = ", 1)
            out.setdefault(k, v)
    return out


def test_config_defaults_and_masking(tmp_path):
    cfg = config_map(run("config", "--jwt-secret", "topsecret", "--data", str(tmp_path)))
    assert cfg["listen"] == "127.0.0.1:3333"
    assert cfg["s3-listen"] == "127.0.0.1:3334"
    assert cfg["bucket"] == "media"
    assert cfg["store"] == "fs"
    assert cfg["jwt-secret"] == "********"
    assert "topsecret" not in run("config", "--jwt-secret", "topsecret").stdout


def test_config_seed_environment_names_and_precedence(tmp_path):
    conf = tmp_path / "silo.conf"
    conf.write_text("bucket = from-file\nregion = eu-west-1\nthreads = 4\n[store r2]\nendpoint = https://r2.example\n"
                    "bucket = r2-bucket\naccess-key = AK\nsecret-key = verysecret\n")
    env = {"SILO_CONFIG": str(conf), "AWS_S3_BUCKET_NAME": "from-env", "AWS_SECRET_ACCESS_KEY": "shh",
           "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_S3_USE_SSL": "false", "DEBUG": "true"}
    r = run("config", env=env)
    cfg = config_map(r)
    assert cfg["bucket"] == "from-env"          # environment beats file
    assert cfg["region"] == "eu-west-1"         # file beats default
    assert cfg["threads"] == "4"
    assert cfg["store"] == "s3"                 # an endpoint URL selects the remote driver
    assert cfg["use-ssl"] == "false" and cfg["debug"] == "true"
    assert cfg["secret-key"] == "********" and "shh" not in r.stdout
    assert "[store r2]" in r.stdout and "verysecret" not in r.stdout
    cfg = config_map(run("config", "--bucket", "from-flag", env=env))
    assert cfg["bucket"] == "from-flag"         # flag beats environment
    cfg = config_map(run("config", env={"AWS_S3_BUCKET": "primary", "AWS_S3_BUCKET_NAME": "secondary"}))
    assert cfg["bucket"] == "primary"


def test_bad_settings_fail_at_start_naming_the_setting(tmp_path):
    cases = [
        (["--listen", "nonsense"], {}, "listen"),
        (["--threads", "0"], {}, "threads"),
        (["--max-upload-size", "12Q"], {}, "max-upload-size"),
        ([], {"DEBUG": "maybe"}, "debug"),
        ([], {"AWS_S3_USE_SSL": "perhaps"}, "use-ssl"),
        (["--no-such-flag", "1"], {}, "--no-such-flag"),
        (["--store", "ftp"], {}, "store"),
    ]
    for args, env, name in cases:
        r = run("serve", "--data", str(tmp_path), *args, env=env)
        assert r.returncode == 2, (args, env, r.stdout, r.stderr)
        assert name in r.stderr, (args, r.stderr)


def test_port_in_use_is_a_clear_error(silo, tmp_path):
    port = silo.api_url.rsplit(":", 1)[1]
    r = run("serve", "--listen", f"127.0.0.1:{port}", "--s3-listen", "127.0.0.1:0", "--data", str(tmp_path))
    assert r.returncode == 1
    assert "listen" in r.stderr


def test_idle_connection_is_closed(silo_factory):
    s = silo_factory(extra_args=["--idle-timeout", "1"])
    port = int(s.api_url.rsplit(":", 1)[1])
    conn = socket.create_connection(("127.0.0.1", port))
    conn.settimeout(10)
    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # head never finished
    start = time.time()
    data = conn.recv(4096)
    assert time.time() - start < 8
    assert data == b"" or b"408" in data or b"HTTP/1.1" in data
    conn.close()


def test_oversized_request_head_is_refused(silo):
    r = requests.get(silo.url("/healthz"), headers={"X-Big": "a" * 200_000})
    assert r.status_code in (413, 431)


def test_sigterm_stops_cleanly(silo_factory):
    s = silo_factory()
    assert requests.get(s.url("/healthz")).status_code == 200
    assert s.stop(signal.SIGTERM) == 0
    assert '"msg":"stopped"' in s.log_text()


def test_sigterm_lets_in_flight_request_finish(silo_factory):
    """A request whose body is still arriving when SIGTERM comes completes."""
    s = silo_factory(extra_args=["--shutdown-timeout", "10"])
    port = int(s.s3_url.rsplit(":", 1)[1])
    conn = socket.create_connection(("127.0.0.1", port))
    conn.settimeout(20)
    conn.sendall(b"PUT /media/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
    time.sleep(0.3)
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert s.proc.poll() is None, "silo exited with a request in flight"
    # New connections are refused while draining.
    try:
        socket.create_connection(("127.0.0.1", int(s.api_url.rsplit(":", 1)[1])), timeout=2).close()
        refused = False
    except OSError:
        refused = True
    assert refused
    conn.sendall(b"world")
    reply = conn.recv(65536)
    assert reply.startswith(b"HTTP/1.1 ")
    conn.close()
    s.proc.wait(timeout=15)
    assert s.proc.returncode == 0
