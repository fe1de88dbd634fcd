"""A local stand-in for the outside world of seed 004: the external video
host silo imports from, and the video generator's webhook.

VideoHost runs one small threaded HTTP server per loopback address it is
given (127.0.0.1, 127.0.0.2, ::1: all loopback, so tests can check that an
allowlist of 127.0.0.1/32 alone refuses the others), all serving:

  GET  /v/NAME                 the file NAME, Content-Length, the type of `types` (default video/mp4)
  GET  /chunked/NAME           the same without Content-Length (chunked)
  GET  /slow/NAME?chunks=&delay=   the file in `chunks` pieces, `delay` seconds apart
  GET  /stall/NAME?after=N     N bytes, then nothing until the client gives up
  GET  /redirect?to=URL        302 to URL
  GET  /status/CODE            that status
  POST /webhook                the generator: records the call, answers from `webhook_plan`

Test videos are made with the ffmpeg command line (make_videos).
"""
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

FFMPEG = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]


def make_videos(directory, seconds=4):
    """Writes clip.mp4 (H.264 + AAC) and clip.webm (VP8) of `seconds`,
    320x240, and returns {name: bytes}."""
    mp4 = os.path.join(directory, "clip.mp4")
    webm = os.path.join(directory, "clip.webm")
    source = ["-f", "lavfi", "-i", f"testsrc=duration={seconds}:size=320x240:rate=25"]
    subprocess.run(FFMPEG + source + ["-f", "lavfi", "-i", f"sine=duration={seconds}", "-c:v", "libx264",
                                      "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart", mp4],
                   check=True, timeout=120)
    subprocess.run(FFMPEG + source + ["-c:v", "libvpx", "-b:v", "300k", webm], check=True, timeout=120)
    return {name: open(os.path.join(directory, name), "rb").read() for name in ("clip.mp4", "clip.webm")}


def padded_mp4(mp4, size):
    """mp4 with a trailing MP4 'free' box bringing it to `size` bytes: still
    a valid MP4 that sniffs and probes as the original."""
    pad = size - len(mp4)
    assert 8 <= pad < 2**32
    return mp4 + pad.to_bytes(4, "big") + b"free" + bytes(pad - 8)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        """silo hanging up on a refused download is expected, not news."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


class VideoHost:
    def __init__(self, files, addresses=("127.0.0.1",)):
        self.files = dict(files)
        self.types = {}  # name -> Content-Type (default video/mp4)
        self.requests = []  # (address, method, path)
        self.webhook_calls = []  # {"headers": {...}, "body": bytes}
        self.webhook_plan = [(200, {"status": "processing", "estimatedTime": 15})]
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.servers = {}
        for address in addresses:
            cls = _Server6 if ":" in address else _Server
            try:
                server = cls((address, 0), self._handler(address))
            except OSError:
                continue  # e.g. no IPv6 here
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.servers[address] = server

    def has(self, address):
        return address in self.servers

    def url(self, path, address="127.0.0.1"):
        port = self.servers[address].server_address[1]
        host = f"[{address}]" if ":" in address else address
        return f"http://{host}:{port}{path}"

    def seen(self, address=None, path_prefix=""):
        with self.lock:
            return [r for r in self.requests
                    if (address is None or r[0] == address) and r[2].startswith(path_prefix)]

    def plan_webhook(self, *answers):
        """Answers for the next webhook calls, in order; the last repeats."""
        with self.lock:
            self.webhook_plan = list(answers)
            self.webhook_calls = []

    def close(self):
        self.closing.set()
        for server in self.servers.values():
            server.shutdown()
            server.server_close()

    def _handler(self, address):
        host = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status, body=b"", ctype="application/json", length=True):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                if length:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def do_POST(self):
                with host.lock:
                    host.requests.append((address, "POST", self.path))
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != "/webhook":
                    return self._send(404)
                with host.lock:
                    host.webhook_calls.append({"headers": dict(self.headers), "body": body})
                    status, answer = host.webhook_plan[0] if len(host.webhook_plan) == 1 else host.webhook_plan.pop(0)
                if isinstance(answer, (int, float)):  # a delay in seconds, then 200 {}
                    time.sleep(answer)
                    answer = {}
                self._send(status, json.dumps(answer).encode())

            def do_GET(self):
                with host.lock:
                    host.requests.append((address, "GET", self.path))
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                parts = url.path.strip("/").split("/", 1)
                kind, name = parts[0], parts[1] if len(parts) > 1 else ""
                if kind == "redirect":
                    self.send_response(302)
                    self.send_header("Location", query["to"])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if kind == "status":
                    return self._send(int(name), b'{"error": "as asked"}')
                data = host.files.get(name)
                if data is None:
                    return self._send(404, b"not here")
                ctype = host.types.get(name, "video/mp4")
                if kind == "v":
                    return self._send(200, data, ctype)
                if kind == "chunked":
                    self.send_response(200)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for i in range(0, len(data), 65536):
                        piece = data[i:i + 65536]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if kind == "slow":
                    chunks, delay = int(query.get("chunks", 8)), float(query.get("delay", 0.3))
                    self.send_response(200)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    step = -(-len(data) // chunks)
                    for i in range(0, len(data), step):
                        self.wfile.write(data[i:i + step])
                        self.wfile.flush()
                        if host.closing.wait(delay):
                            return
                    return
                if kind == "stall":
                    after = int(query.get("after", 1000))
                    self.send_response(200)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[:after])
                    self.wfile.flush()
                    host.closing.wait(60)
                    return
                self._send(404, b"unknown route")

        return Handler
