"""Helpers shared by the S3 endpoint tests (test_s3_*.py).

Real clients are configured only through the environment and files made
here: credentials in AWS_* variables, AWS_CONFIG_FILE and
AWS_SHARED_CREDENTIALS_FILE pointed at empty files, region us-east-1.
`Signer` signs requests by hand (SigV4 header and query auth, aws-chunked
bodies) for the cases no client sends on purpose: a clock an hour off, a
tampered signature, a bad chunk signature, trailers.
"""
import base64
import datetime
import hashlib
import hmac
import os
import tempfile
import urllib.parse
import zlib

import boto3
from botocore.config import Config

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
REGION = "us-east-1"

# Keys that must survive every client: spaces, '+', '%', unicode, a
# trailing slash, nesting.
ODD_KEYS = [
    "plain.txt",
    "with space/and more spaces.txt",
    "plus+sign+file.txt",
    "percent%20literal%.txt",
    "unicodé/ファイル 名.txt",
    "trailing/slash/",
]


def credentials(silo):
    """The endpoint's key pair, read once per Silo instance."""
    cached = getattr(silo, "_s3_credentials", None)
    if cached is None:
        cached = silo.credentials()
        silo._s3_credentials = cached
    return cached


def client_env(silo, extra=None):
    """Environment for awscli / boto3 subprocesses talking to silo."""
    access, secret = credentials(silo)
    empty_dir = tempfile.mkdtemp(prefix="silo-aws-")
    empty = os.path.join(empty_dir, "empty")
    open(empty, "w").close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_ACCESS_KEY_ID": access,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": empty,
        "AWS_SHARED_CREDENTIALS_FILE": empty,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
    })
    env.update(extra or {})
    return env


def boto_client(silo, addressing="path", endpoint=None, secret=None, **config):
    """Debian boto3 (this interpreter), SigV4, path style, no retries."""
    access, real_secret = credentials(silo)
    return boto3.client(
        "s3", endpoint_url=endpoint or silo.s3_url, aws_access_key_id=access,
        aws_secret_access_key=secret or real_secret, region_name=REGION,
        config=Config(signature_version="s3v4", s3={"addressing_style": addressing},
                      retries={"max_attempts": 1}, **config))


def _hmac(key, text):
    return hmac.new(key, text.encode() if isinstance(text, str) else text, hashlib.sha256).digest()


def _quote(s, safe="-_.~"):
    return urllib.parse.quote(s, safe=safe)


def canonical_query(query):
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    return "&".join(f"{_quote(k)}={_quote(v)}" for k, v in sorted(pairs) if k != "X-Amz-Signature")


class Signer:
    """SigV4 for S3, written from the specification, independent of silo."""

    def __init__(self, access, secret, region=REGION):
        self.access, self.secret, self.region = access, secret, region

    def key(self, day):
        k = _hmac(("AWS4" + self.secret).encode(), day)
        for part in (self.region, "s3", "aws4_request"):
            k = _hmac(k, part)
        return k

    def _sign(self, method, url, headers, payload_hash, amz, query=None):
        u = urllib.parse.urlsplit(url)
        signed = ";".join(sorted(headers))
        canon_headers = "".join(f"{k}:{' '.join(str(headers[k]).split())}\n" for k in sorted(headers))
        path = _quote(urllib.parse.unquote(u.path) or "/", safe="/-_.~")
        creq = "\n".join([method, path, canonical_query(u.query if query is None else query), canon_headers,
                          signed, payload_hash])
        scope = f"{amz[:8]}/{self.region}/s3/aws4_request"
        sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq.encode()).hexdigest()])
        return signed, scope, hmac.new(self.key(amz[:8]), sts.encode(), hashlib.sha256).hexdigest()

    def headers(self, method, url, headers=None, payload_hash=EMPTY_SHA256, when=None, host=None):
        """Header auth: returns (headers to send, amz_date, scope, signature)."""
        when = when or datetime.datetime.now(datetime.timezone.utc)
        amz = when.strftime("%Y%m%dT%H%M%SZ")
        h = {k.lower(): v for k, v in (headers or {}).items()}
        h["host"] = host or urllib.parse.urlsplit(url).netloc
        h["x-amz-date"] = amz
        h["x-amz-content-sha256"] = payload_hash
        signed, scope, sig = self._sign(method, url, h, payload_hash, amz)
        h["authorization"] = (f"AWS4-HMAC-SHA256 Credential={self.access}/{scope}, "
                              f"SignedHeaders={signed}, Signature={sig}")
        return h, amz, scope, sig

    def presign(self, method, url, expires=300, when=None):
        """Query auth URL."""
        when = when or datetime.datetime.now(datetime.timezone.utc)
        amz = when.strftime("%Y%m%dT%H%M%SZ")
        u = urllib.parse.urlsplit(url)
        params = urllib.parse.parse_qsl(u.query, keep_blank_values=True) + [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", f"{self.access}/{amz[:8]}/{self.region}/s3/aws4_request"),
            ("X-Amz-Date", amz), ("X-Amz-Expires", str(expires)), ("X-Amz-SignedHeaders", "host")]
        query = urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
        _, _, sig = self._sign(method, url, {"host": u.netloc}, "UNSIGNED-PAYLOAD", amz, query=query)
        return urllib.parse.urlunsplit((u.scheme, u.netloc, u.path, query + "&X-Amz-Signature=" + sig, ""))

    def chunked_body(self, pieces, amz, scope, seed, corrupt_chunk=None):
        """aws-chunked body with chunk signatures (STREAMING-AWS4-HMAC-SHA256-PAYLOAD)."""
        key = self.key(amz[:8])
        out, prev = b"", seed
        for i, piece in enumerate(list(pieces) + [b""]):
            sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz, scope, prev, EMPTY_SHA256,
                             hashlib.sha256(piece).hexdigest()])
            sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
            prev = sig
            if i == corrupt_chunk:
                sig = ("0" if sig[0] != "0" else "1") + sig[1:]
            out += f"{len(piece):x};chunk-signature={sig}\r\n".encode() + piece + b"\r\n"
        return out


def trailer_body(pieces, trailer_name="x-amz-checksum-crc32", value=None):
    """aws-chunked body without signatures, ending with a checksum trailer
    (STREAMING-UNSIGNED-PAYLOAD-TRAILER, as newer SDKs send); value
    overrides the correct CRC32."""
    crc = 0
    out = b""
    for piece in pieces:
        crc = zlib.crc32(piece, crc)
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    value = value or base64.b64encode(crc.to_bytes(4, "big")).decode()
    return out + f"0\r\n{trailer_name}:{value}\r\n\r\n".encode()


def error_code(response):
    """The <Code> of an S3 XML error body."""
    text = response.text
    start = text.find("<Code>")
    return text[start + 6:text.find("</Code>")] if start >= 0 else None
