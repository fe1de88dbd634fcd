"""sigv4_reference.py: what Debian's botocore would sign, at a frozen time.

Reference values for silo's own SigV4 signer (src/aws/sigv4.c, src/aws/policy.c):
given credentials, region, endpoint, bucket, key, expiry and a fixed UTC
datetime, return the presigned GET and PUT URLs and the presigned POST
{url, fields} exactly as botocore 1.29 (/usr/bin/python3, signature_version
's3v4', path-style addressing) produces them. Time is frozen by swapping the
`datetime` module that botocore.auth, botocore.crt.auth and botocore.signers
call utcnow() on. Note that with python3-awscrt installed (as on Debian)
botocore presigns URLs through the CRT signer, whose query parameter order
is X-Amz-Algorithm, -Credential, -Date, -SignedHeaders, -Expires,
[-Security-Token], -Signature; POST policies are always signed in Python.

Run as a script to print the three results for the S3 documentation
credentials; `--json` prints them as one JSON object for other tests.
"""
import contextlib
import datetime as _real_datetime
import json
import sys
import types
from unittest import mock

import botocore.auth
import botocore.session

try:  # with awscrt installed (Debian: python3-awscrt) botocore presigns URLs through CRT
    import botocore.crt.auth as _crt_auth
except ImportError:  # pragma: no cover
    _crt_auth = None
import botocore.signers
from botocore.config import Config


def _frozen_datetime_module(now):
    """A stand-in for the datetime module whose utcnow() always returns now."""

    class FrozenDatetime(_real_datetime.datetime):
        @classmethod
        def utcnow(cls):
            return now

        @classmethod
        def now(cls, tz=None):
            return now if tz is None else now.replace(tzinfo=_real_datetime.timezone.utc).astimezone(tz)

    module = types.ModuleType("datetime")
    module.__dict__.update(_real_datetime.__dict__)
    module.datetime = FrozenDatetime
    return module


@contextlib.contextmanager
def frozen_time(now):
    """Freezes botocore's view of the clock at now (a naive UTC datetime)."""
    fake = _frozen_datetime_module(now)
    with contextlib.ExitStack() as stack:
        for module in (botocore.auth, botocore.signers, _crt_auth):
            if module is not None:
                stack.enter_context(mock.patch.object(module, "datetime", fake))
        yield


def make_client(access_key, secret_key, region, endpoint_url, session_token=None):
    """An S3 client signing with SigV4 and path-style URLs, like silo expects."""
    session = botocore.session.get_session()
    return session.create_client(
        "s3",
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=session_token,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def presigned_get(access_key, secret_key, region, endpoint_url, bucket, key, expires, now, session_token=None):
    """The presigned GetObject URL botocore makes at time now."""
    client = make_client(access_key, secret_key, region, endpoint_url, session_token)
    with frozen_time(now):
        return client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires
        )


def presigned_put(access_key, secret_key, region, endpoint_url, bucket, key, expires, now, session_token=None):
    """The presigned PutObject URL botocore makes at time now."""
    client = make_client(access_key, secret_key, region, endpoint_url, session_token)
    with frozen_time(now):
        return client.generate_presigned_url(
            "put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires
        )


def presigned_post(access_key, secret_key, region, endpoint_url, bucket, key, expires, now,
                   fields=None, conditions=None, session_token=None):
    """The presigned POST {url, fields} botocore makes at time now."""
    client = make_client(access_key, secret_key, region, endpoint_url, session_token)
    with frozen_time(now):
        return client.generate_presigned_post(
            bucket, key, Fields=fields, Conditions=conditions, ExpiresIn=expires
        )


def all_three(access_key, secret_key, region, endpoint_url, bucket, key, expires, now, **post_kwargs):
    """{"get": url, "put": url, "post": {"url": .., "fields": {..}}}."""
    args = (access_key, secret_key, region, endpoint_url, bucket, key, expires, now)
    return {
        "get": presigned_get(*args),
        "put": presigned_put(*args),
        "post": presigned_post(*args, **post_kwargs),
    }


def main(argv):
    now = _real_datetime.datetime(2013, 5, 24, 0, 0, 0)
    result = all_three(
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "us-east-1",
        "http://127.0.0.1:9000",
        "examplebucket",
        "photos/cat ü+1.jpg",
        86400,
        now,
        fields={"acl": "public-read", "Content-Type": "image/jpeg"},
        conditions=[{"acl": "public-read"}, ["starts-with", "$Content-Type", "image/"],
                    ["content-length-range", 1, 10485760]],
    )
    if "--json" in argv:
        json.dump(result, sys.stdout)
        print()
        return
    print("GET ", result["get"])
    print("PUT ", result["put"])
    print("POST", result["post"]["url"])
    for name, value in result["post"]["fields"].items():
        print("   ", name, "=", value)


if __name__ == "__main__":
    main(sys.argv[1:])
