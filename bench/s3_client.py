#!/usr/bin/env python3
"""s3_client.py: the load client of bench/s3.sh, the same for every server.

PUTs or GETs COUNT objects of SIZE bytes to ENDPOINT/BUCKET from CONCURRENCY
threads, each on its own keep-alive connection, and prints one JSON line:
objects/s, MiB/s and latency percentiles. Requests are signed with SigV4
(header auth, UNSIGNED-PAYLOAD, the way rclone uploads), by hand with
hashlib/hmac so the client costs microseconds per request and the figures
are the servers'. Bodies are one shared buffer; GET bodies are read and
dropped. `--stream-put` instead uploads one object of SIZE bytes generated
on the fly (for the RSS measurement of a large upload).

usage: s3_client.py ENDPOINT ACCESS SECRET BUCKET (put|get|mkbucket) [--size N] [--count N]
                    [--concurrency N] [--prefix P] [--stream-put]
"""
import argparse
import datetime
import hashlib
import hmac
import http.client
import json
import threading
import time
import urllib.parse

REGION = "us-east-1"


def signing_key(secret, day):
    k = hmac.new(("AWS4" + secret).encode(), day.encode(), hashlib.sha256).digest()
    for part in (REGION, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


class Signer:
    def __init__(self, access, secret):
        self.access, self.secret = access, secret
        self.keys = {}

    def headers(self, method, host, path, extra=None):
        amz = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        day = amz[:8]
        key = self.keys.get(day) or self.keys.setdefault(day, signing_key(self.secret, day))
        h = {"host": host, "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-amz-date": amz}
        h.update(extra or {})
        names = sorted(h)
        canonical = "\n".join([method, path, "", "".join(f"{n}:{h[n]}\n" for n in names), ";".join(names),
                               "UNSIGNED-PAYLOAD"])
        scope = f"{day}/{REGION}/s3/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        h["authorization"] = (f"AWS4-HMAC-SHA256 Credential={self.access}/{scope}, "
                              f"SignedHeaders={';'.join(names)}, Signature={signature}")
        return h


def request(conn, signer, host, method, path, body=None, length=None):
    extra = {"content-length": str(length if length is not None else len(body or b""))} if method == "PUT" else None
    conn.request(method, path, body=body, headers=signer.headers(method, host, path, extra))
    response = conn.getresponse()
    got = 0
    while True:
        chunk = response.read(1 << 20)
        if not chunk:
            break
        got += len(chunk)
    if response.status not in (200, 204):
        raise RuntimeError(f"{method} {path}: HTTP {response.status}")
    return got


def generated(size, block=1 << 20):
    piece = bytes(range(256)) * (block // 256)
    sent = 0
    while sent < size:
        n = min(block, size - sent)
        yield piece[:n]
        sent += n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("access")
    ap.add_argument("secret")
    ap.add_argument("bucket")
    ap.add_argument("op", choices=["put", "get", "mkbucket"])
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--prefix", default="bench")
    ap.add_argument("--stream-put", action="store_true")
    args = ap.parse_args()
    u = urllib.parse.urlsplit(args.endpoint)
    host = u.netloc
    signer = Signer(args.access, args.secret)

    if args.op == "mkbucket":
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
        conn.request("PUT", f"/{args.bucket}", headers=signer.headers("PUT", host, f"/{args.bucket}",
                                                                        {"content-length": "0"}))
        response = conn.getresponse()
        response.read()
        print(json.dumps({"op": "mkbucket", "status": response.status}))
        return

    if args.stream_put:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
        path = f"/{args.bucket}/{args.prefix}/streamed"
        start = time.monotonic()
        request(conn, signer, host, "PUT", path, body=generated(args.size), length=args.size)
        seconds = time.monotonic() - start
        print(json.dumps({"op": "put", "size": args.size, "count": 1, "seconds": round(seconds, 3),
                          "mib_per_s": round(args.size / seconds / (1 << 20), 1)}))
        return

    body = (bytes(range(256)) * (args.size // 256 + 1))[:args.size]
    latencies = []
    lock = threading.Lock()
    next_index = [0]
    errors = []

    def worker():
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
        mine = []
        try:
            while True:
                with lock:
                    i = next_index[0]
                    next_index[0] += 1
                if i >= args.count:
                    break
                path = f"/{args.bucket}/{args.prefix}/{args.size}/{i:06d}"
                t = time.monotonic()
                if args.op == "put":
                    request(conn, signer, host, "PUT", path, body=body)
                else:
                    got = request(conn, signer, host, "GET", path)
                    if got != args.size:
                        raise RuntimeError(f"GET {path}: {got} bytes")
                mine.append(time.monotonic() - t)
        except Exception as e:  # reported after the run
            errors.append(repr(e))
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - start
    if errors:
        raise SystemExit("errors: " + "; ".join(errors[:3]))
    latencies.sort()

    def pct(p):
        return round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000, 2)

    print(json.dumps({"op": args.op, "size": args.size, "count": args.count, "concurrency": args.concurrency,
                      "seconds": round(seconds, 3), "objects_per_s": round(args.count / seconds, 1),
                      "mib_per_s": round(args.count * args.size / seconds / (1 << 20), 1),
                      "p50_ms": pct(50), "p99_ms": pct(99)}))


if __name__ == "__main__":
    main()
