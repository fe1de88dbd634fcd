"""What the console's tests share: the test OpenID Connect provider
(tests/browser/oidc_idp.mjs) as a context manager, started on 127.0.0.1
with Node and stopped (by its pid) at the end; a port nothing listens on;
waiting for a condition with a deadline."""
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request

from conftest import ROOT

SCRIPT = os.path.join(ROOT, "tests", "browser", "oidc_idp.mjs")
CLIENT_ID = "silo-console"


def node_available():
    return shutil.which("node") is not None


class IdP:
    """A running oidc_idp.mjs: .issuer, .sign(claims), .stats()."""


    def __init__(self, client_id=CLIENT_ID):
        self.client_id = client_id
        self.proc = subprocess.Popen(["node", SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=dict(os.environ, CLIENT_ID=client_id))
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("issuer: "):
            self.proc.kill()
            raise RuntimeError("the test IdP did not start: " + line + self.proc.stderr.read().decode())
        self.issuer = line.split(": ", 1)[1]

    def _call(self, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        with urllib.request.urlopen(urllib.request.Request(self.issuer + path, data=data), timeout=10) as r:
            return json.loads(r.read())

    def sign(self, claims):
        """An RS256 JWT of claims signed with the IdP's key."""
        return self._call("/test/sign", claims)["token"]

    def stats(self):
        return self._call("/test/stats")

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def closed_port():
    """A loopback port nothing listens on (bound once, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(fn, what, timeout=60):
    """fn()'s first true value, polled every 0.1 s; AssertionError after timeout seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)
