"""`silo presign` signs exactly what Debian's botocore signs (s3v4,
path-style) for the same credentials, time, bucket, key and expiry.
The command runs beside the server, so it is told the server's S3 URL.

silo signs first; its X-Amz-Date is then handed to botocore as a frozen
clock, so the two are compared at the same second."""
import datetime
import json
import urllib.parse

import pytest

import sigv4_reference as ref

KEYS = ["plain.txt", "dir/sub/file.mp3", "with space.wav", "plus+sign.txt", "percent%20literal",
        "unicode-é-日本.txt", "trailing/", "tilde~star*(paren)"]


def amz_date_of(url):
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    return datetime.datetime.strptime(q["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")


@pytest.mark.parametrize("method", ["GET", "PUT"])
@pytest.mark.parametrize("key", KEYS)
def test_presigned_url_matches_botocore(silo_module, method, key):
    silo = silo_module
    access, secret = silo.credentials()
    url = silo.cli("presign", "--s3-public-url", silo.s3_url, "--method", method, "--expires", "900",
                   f"s3://media/{key}").stdout.strip()
    now = amz_date_of(url)
    fn = ref.presigned_get if method == "GET" else ref.presigned_put
    expected = fn(access, secret, "us-east-1", silo.s3_url, "media", key, 900, now)
    assert url == expected


@pytest.mark.parametrize("key", ["uploads/clip.webm", "a b/c+d.bin"])
def test_presigned_post_matches_botocore(silo_module, key):
    silo = silo_module
    access, secret = silo.credentials()
    form = json.loads(silo.cli("presign", "--s3-public-url", silo.s3_url, "--method", "POST", "--expires", "300",
                               f"s3://media/{key}").stdout)
    now = datetime.datetime.strptime(form["fields"]["x-amz-date"], "%Y%m%dT%H%M%SZ")
    expected = ref.presigned_post(access, secret, "us-east-1", silo.s3_url, "media", key, 300, now)
    assert form["url"] == expected["url"]
    assert form["fields"] == expected["fields"]
    assert list(form["fields"]) == list(expected["fields"])


def test_presign_refuses_bad_input(silo_module):
    silo = silo_module
    for args in (["--expires", "0", "s3://media/k"], ["--expires", "604801", "s3://media/k"],
                 ["--method", "PATCH", "s3://media/k"], ["media/k"], ["s3://media/"]):
        r = silo.cli("presign", *args, check=False)
        assert r.returncode == 2, args
