"""The built-in S3 endpoint at the protocol level: authentication and its
failures, payload checks, aws-chunked bodies, conditional and ranged GETs,
addressing styles, sub-resources, listings, multipart edge cases, browser
POST policies and CORS. Requests are signed by boto3 where a client would
send them, and by hand (s3_support.Signer) where no client would."""
import base64
import concurrent.futures
import datetime
import hashlib
import socket
import time
import urllib.parse
import xml.etree.ElementTree as ET
import zlib

import botocore
import pytest
import requests

from s3_support import (EMPTY_SHA256, ODD_KEYS, Signer, boto_client, credentials, error_code, trailer_body)

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@pytest.fixture(scope="module")
def s3(silo_module):
    client = boto_client(silo_module)
    client.create_bucket(Bucket="proto")
    return client


@pytest.fixture(scope="module")
def signer(silo_module):
    return Signer(*credentials(silo_module))


def url(silo, path):
    return silo.s3_url + path


def exists(s3, key, bucket="proto"):
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except botocore.exceptions.ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        return False


def client_error(call, *args, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(*args, **kwargs)
    return info.value.response


# ---- errors and request ids ----

def test_errors_are_s3_xml_with_request_id(silo_module, s3, signer):
    target = url(silo_module, "/no-such-bucket/some/key")
    r = requests.get(target, headers=signer.headers("GET", target)[0])
    assert r.status_code == 404
    assert r.headers["Content-Type"] == "application/xml"
    root = ET.fromstring(r.content)
    assert root.tag == "Error"
    assert root.findtext("Code") == "NoSuchBucket"
    assert root.findtext("Message")
    assert root.findtext("Resource") == "/no-such-bucket/some/key"
    assert root.findtext("RequestId") == r.headers["x-amz-request-id"]


def test_every_response_carries_a_request_id(silo_module, s3):
    s3.put_object(Bucket="proto", Key="id-check", Body=b"x")
    for response in (s3.list_buckets(), s3.get_object(Bucket="proto", Key="id-check"),
                     s3.head_bucket(Bucket="proto")):
        assert len(response["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]) == 32
    r = requests.get(url(silo_module, "/proto/id-check"))
    assert r.status_code == 403 and error_code(r) == "AccessDenied"
    assert r.headers["x-amz-request-id"]


def test_head_errors_have_no_body(silo_module, signer):
    target = url(silo_module, "/proto/missing-object")
    r = requests.head(target, headers=signer.headers("HEAD", target)[0])
    assert r.status_code == 404
    assert r.content == b""
    assert r.headers["x-amz-request-id"]
    r = requests.head(target)
    assert r.status_code == 403 and r.content == b""


# ---- authentication ----

def test_wrong_secret_is_refused_and_stores_nothing(silo_module, s3):
    bad = boto_client(silo_module, secret="wrong" * 8)
    response = client_error(bad.put_object, Bucket="proto", Key="wrong-secret", Body=b"data")
    assert response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert not exists(s3, "wrong-secret")


def test_unknown_access_key(silo_module, s3):
    other = Signer("AKIDNOTSILO000000000", "secret")
    target = url(silo_module, "/proto/x")
    r = requests.put(target, data=b"x", headers=other.headers("PUT", target, payload_hash="UNSIGNED-PAYLOAD")[0])
    assert r.status_code == 403 and error_code(r) == "InvalidAccessKeyId"
    assert not exists(s3, "x")


def test_tampered_signature_is_refused(silo_module, s3, signer):
    target = url(silo_module, "/proto/tampered")
    headers = signer.headers("PUT", target, payload_hash="UNSIGNED-PAYLOAD")[0]
    auth = headers["authorization"]
    headers["authorization"] = auth[:-1] + ("0" if auth[-1] != "0" else "1")
    r = requests.put(target, data=b"evil", headers=headers)
    assert r.status_code == 403 and error_code(r) == "SignatureDoesNotMatch"
    # a signed header changed after signing
    headers = signer.headers("PUT", target, headers={"x-amz-meta-a": "1"}, payload_hash="UNSIGNED-PAYLOAD")[0]
    headers["x-amz-meta-a"] = "2"
    r = requests.put(target, data=b"evil", headers=headers)
    assert r.status_code == 403 and error_code(r) == "SignatureDoesNotMatch"
    assert not exists(s3, "tampered")


def test_skewed_clock_is_refused(silo_module, s3, signer):
    target = url(silo_module, "/proto/skewed")
    when = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    r = requests.put(target, data=b"x", headers=signer.headers("PUT", target, payload_hash="UNSIGNED-PAYLOAD",
                                                             when=when)[0])
    assert r.status_code == 403 and error_code(r) == "RequestTimeTooSkewed"
    assert not exists(s3, "skewed")


def test_presigned_urls_and_expiry(silo_module, s3, signer):
    s3.put_object(Bucket="proto", Key="presigned obj", Body=b"presigned body")
    target = url(silo_module, "/proto/presigned%20obj")
    assert requests.get(signer.presign("GET", target)).content == b"presigned body"
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=2)
    r = requests.get(signer.presign("GET", target, expires=60, when=old))
    assert r.status_code == 403 and error_code(r) == "AccessDenied"
    assert "expired" in r.text
    put_url = signer.presign("PUT", url(silo_module, "/proto/late-put"), expires=60, when=old)
    assert requests.put(put_url, data=b"late").status_code == 403
    assert not exists(s3, "late-put")
    # a presigned GET does not allow a PUT
    r = requests.put(signer.presign("GET", url(silo_module, "/proto/sneaky")), data=b"x")
    assert r.status_code == 403 and error_code(r) == "SignatureDoesNotMatch"
    assert not exists(s3, "sneaky")


# ---- payload checks ----

def test_payload_hash_mismatch_stores_nothing(silo_module, s3, signer):
    target = url(silo_module, "/proto/sha-mismatch")
    declared = hashlib.sha256(b"what was signed").hexdigest()
    r = requests.put(target, data=b"what was sent!!", headers=signer.headers("PUT", target, payload_hash=declared)[0])
    assert r.status_code == 400 and error_code(r) == "XAmzContentSHA256Mismatch"
    assert not exists(s3, "sha-mismatch")
    # and the matching hash works
    good = b"what was signed"
    r = requests.put(target, data=good, headers=signer.headers("PUT", target,
                                                               payload_hash=hashlib.sha256(good).hexdigest())[0])
    assert r.status_code == 200
    assert s3.get_object(Bucket="proto", Key="sha-mismatch")["Body"].read() == good


def test_content_md5_is_checked(silo_module, s3, signer):
    target = url(silo_module, "/proto/md5")
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    r = requests.put(target, data=b"body", headers=signer.headers(
        "PUT", target, headers={"Content-MD5": wrong}, payload_hash="UNSIGNED-PAYLOAD")[0])
    assert r.status_code == 400 and error_code(r) == "BadDigest"
    assert not exists(s3, "md5")
    r = requests.put(target, data=b"body", headers=signer.headers(
        "PUT", target, headers={"Content-MD5": "not base64 md5"}, payload_hash="UNSIGNED-PAYLOAD")[0])
    assert r.status_code == 400 and error_code(r) == "InvalidDigest"
    right = base64.b64encode(hashlib.md5(b"body").digest()).decode()
    s3.put_object(Bucket="proto", Key="md5", Body=b"body", ContentMD5=right)
    assert s3.head_object(Bucket="proto", Key="md5")["ETag"] == '"%s"' % hashlib.md5(b"body").hexdigest()


def test_aws_chunked_signed_upload(silo_module, s3, signer):
    target = url(silo_module, "/proto/chunked%20upload")
    pieces = [b"a" * 65536, b"b" * 1024]
    data = b"".join(pieces)
    headers, amz, scope, seed = signer.headers("PUT", target, headers={
        "content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data))},
        payload_hash="STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    r = requests.put(target, data=signer.chunked_body(pieces, amz, scope, seed), headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == '"%s"' % hashlib.md5(data).hexdigest()
    assert s3.get_object(Bucket="proto", Key="chunked upload")["Body"].read() == data


def test_aws_chunked_bad_chunk_signature_stores_nothing(silo_module, s3, signer):
    target = url(silo_module, "/proto/chunked-bad")
    pieces = [b"x" * 8192, b"y" * 100]
    headers, amz, scope, seed = signer.headers("PUT", target, headers={
        "content-encoding": "aws-chunked", "x-amz-decoded-content-length": "8292"},
        payload_hash="STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    r = requests.put(target, data=signer.chunked_body(pieces, amz, scope, seed, corrupt_chunk=1), headers=headers)
    assert r.status_code == 403 and error_code(r) == "SignatureDoesNotMatch"
    assert not exists(s3, "chunked-bad")


def test_streaming_unsigned_payload_trailer(silo_module, s3, signer):
    target = url(silo_module, "/proto/trailer%2Bupload")
    pieces = [b"t" * 70000, b"u" * 3]
    data = b"".join(pieces)
    headers = signer.headers("PUT", target, headers={
        "content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
        "x-amz-trailer": "x-amz-checksum-crc32", "x-amz-sdk-checksum-algorithm": "CRC32"},
        payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")[0]
    r = requests.put(target, data=trailer_body(pieces), headers=headers)
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket="proto", Key="trailer+upload")["Body"].read() == data


def test_unsigned_payload_put(silo_module, s3, signer):
    target = url(silo_module, "/proto/unsigned")
    r = requests.put(target, data=b"u" * 1000, headers=signer.headers("PUT", target,
                                                                        payload_hash="UNSIGNED-PAYLOAD")[0])
    assert r.status_code == 200
    assert s3.head_object(Bucket="proto", Key="unsigned")["ContentLength"] == 1000


# ---- GET: ranges, conditions, overrides ----

def test_ranges(s3):
    body = bytes(range(256)) * 40
    s3.put_object(Bucket="proto", Key="ranged", Body=body)
    r = s3.get_object(Bucket="proto", Key="ranged", Range="bytes=10-19")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert r["ContentRange"] == "bytes 10-19/10240" and r["Body"].read() == body[10:20]
    r = s3.get_object(Bucket="proto", Key="ranged", Range="bytes=-5")
    assert r["Body"].read() == body[-5:] and r["ContentRange"] == "bytes 10235-10239/10240"
    r = s3.get_object(Bucket="proto", Key="ranged", Range="bytes=10000-")
    assert r["Body"].read() == body[10000:]
    r = s3.get_object(Bucket="proto", Key="ranged", Range="bytes=10000-99999")
    assert r["Body"].read() == body[10000:]
    response = client_error(s3.get_object, Bucket="proto", Key="ranged", Range="bytes=20000-")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 416
    assert response["Error"]["Code"] == "InvalidRange"
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-range"] == "bytes */10240"
    h = s3.head_object(Bucket="proto", Key="ranged", Range="bytes=0-99")
    assert h["ContentLength"] == 100 and h["ResponseMetadata"]["HTTPStatusCode"] == 206


def test_conditional_get(s3):
    put = s3.put_object(Bucket="proto", Key="conditional", Body=b"v1")
    etag = put["ETag"]
    head = s3.head_object(Bucket="proto", Key="conditional")
    modified = head["LastModified"]
    assert s3.get_object(Bucket="proto", Key="conditional", IfMatch=etag)["Body"].read() == b"v1"
    r = client_error(s3.get_object, Bucket="proto", Key="conditional", IfMatch='"00000000000000000000000000000000"')
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 412 and r["Error"]["Code"] == "PreconditionFailed"
    r = client_error(s3.get_object, Bucket="proto", Key="conditional", IfNoneMatch=etag)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 304
    r = client_error(s3.get_object, Bucket="proto", Key="conditional",
                     IfModifiedSince=modified + datetime.timedelta(seconds=10))
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 304
    r = client_error(s3.get_object, Bucket="proto", Key="conditional",
                     IfUnmodifiedSince=modified - datetime.timedelta(seconds=10))
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 412
    ok = s3.get_object(Bucket="proto", Key="conditional", IfModifiedSince=modified - datetime.timedelta(days=1))
    assert ok["Body"].read() == b"v1"
    # If-Match true wins over a false If-Unmodified-Since, as S3 does
    ok = s3.get_object(Bucket="proto", Key="conditional", IfMatch=etag,
                       IfUnmodifiedSince=modified - datetime.timedelta(days=1))
    assert ok["Body"].read() == b"v1"


def test_response_header_overrides(silo_module, s3):
    s3.put_object(Bucket="proto", Key="override.bin", Body=b"abc", ContentType="application/octet-stream")
    presigned = s3.generate_presigned_url("get_object", Params={
        "Bucket": "proto", "Key": "override.bin", "ResponseContentType": "text/plain; charset=utf-8",
        "ResponseContentDisposition": 'attachment; filename="report 1.txt"'}, ExpiresIn=60)
    r = requests.get(presigned)
    assert r.status_code == 200 and r.content == b"abc"
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert r.headers["Content-Disposition"] == 'attachment; filename="report 1.txt"'


def test_metadata_and_empty_objects(s3):
    s3.put_object(Bucket="proto", Key="meta", Body=b"", ContentType="audio/mpeg",
                  Metadata={"user-id": "u1", "Session": "S 2"})
    r = s3.get_object(Bucket="proto", Key="meta")
    assert r["Body"].read() == b"" and r["ContentLength"] == 0
    assert r["ContentType"] == "audio/mpeg"
    assert r["Metadata"] == {"user-id": "u1", "session": "S 2"}
    assert r["ETag"] == '"%s"' % hashlib.md5(b"").hexdigest()


# ---- addressing ----

def test_virtual_hosted_style_with_boto3(silo_module, s3, monkeypatch):
    s3.create_bucket(Bucket="vhost-bucket")
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):  # *.localhost is loopback (RFC 6761)
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    port = urllib.parse.urlsplit(silo_module.s3_url).port
    virtual = boto_client(silo_module, addressing="virtual", endpoint=f"http://localhost:{port}")
    virtual.put_object(Bucket="vhost-bucket", Key="dir/v key+.txt", Body=b"virtual")
    assert virtual.get_object(Bucket="vhost-bucket", Key="dir/v key+.txt")["Body"].read() == b"virtual"
    listed = virtual.list_objects_v2(Bucket="vhost-bucket")
    assert [o["Key"] for o in listed["Contents"]] == ["dir/v key+.txt"]
    assert s3.get_object(Bucket="vhost-bucket", Key="dir/v key+.txt")["Body"].read() == b"virtual"
    url_ = virtual.generate_presigned_url("get_object", Params={"Bucket": "vhost-bucket", "Key": "dir/v key+.txt"})
    assert urllib.parse.urlsplit(url_).hostname == "vhost-bucket.localhost"
    assert requests.get(url_).content == b"virtual"


def test_virtual_hosted_style_hosts(silo_module, s3, signer):
    s3.put_object(Bucket="proto", Key="vh.txt", Body=b"vh")
    port = urllib.parse.urlsplit(silo_module.s3_url).port
    for host in (f"proto.127.0.0.1.nip.io:{port}", f"proto.localhost:{port}", f"PROTO.LOCALHOST:{port}"):
        target = url(silo_module, "/vh.txt")
        r = requests.get(target, headers=signer.headers("GET", target, host=host)[0])
        assert r.status_code == 200 and r.content == b"vh", host
    # the endpoint's own name and names as deep as it stay path style
    for host in (f"127.0.0.1.nip.io:{port}", f"localhost:{port}", f"127.0.0.1:{port}"):
        target = url(silo_module, "/proto/vh.txt")
        r = requests.get(target, headers=signer.headers("GET", target, host=host)[0])
        assert r.status_code == 200 and r.content == b"vh", host


# ---- buckets and sub-resources ----

def test_bucket_lifecycle(s3):
    s3.create_bucket(Bucket="life-cycle")
    assert "life-cycle" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    r = client_error(s3.create_bucket, Bucket="life-cycle")
    assert r["Error"]["Code"] == "BucketAlreadyOwnedByYou"
    r = client_error(s3.create_bucket, Bucket="Bad_Name")
    assert r["Error"]["Code"] == "InvalidBucketName"
    s3.head_bucket(Bucket="life-cycle")
    s3.put_object(Bucket="life-cycle", Key="k", Body=b"1")
    r = client_error(s3.delete_bucket, Bucket="life-cycle")
    assert r["Error"]["Code"] == "BucketNotEmpty" and r["ResponseMetadata"]["HTTPStatusCode"] == 409
    s3.delete_object(Bucket="life-cycle", Key="k")
    s3.delete_object(Bucket="life-cycle", Key="k")  # deleting twice is fine
    s3.delete_bucket(Bucket="life-cycle")
    r = client_error(s3.head_bucket, Bucket="life-cycle")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 404
    r = client_error(s3.delete_bucket, Bucket="life-cycle")
    assert r["Error"]["Code"] == "NoSuchBucket"


def test_sub_resources_clients_probe(s3):
    assert s3.get_bucket_location(Bucket="proto").get("LocationConstraint") is None
    assert "Status" not in s3.get_bucket_versioning(Bucket="proto")
    acl = s3.get_bucket_acl(Bucket="proto")
    assert acl["Grants"][0]["Permission"] == "FULL_CONTROL"
    s3.put_object(Bucket="proto", Key="acl-obj", Body=b"")
    assert s3.get_object_acl(Bucket="proto", Key="acl-obj")["Grants"][0]["Permission"] == "FULL_CONTROL"
    assert s3.get_object_tagging(Bucket="proto", Key="acl-obj")["TagSet"] == []
    for call, code in ((s3.get_bucket_policy, "NoSuchBucketPolicy"), (s3.get_bucket_cors, "NoSuchCORSConfiguration"),
                       (s3.get_bucket_lifecycle_configuration, "NoSuchLifecycleConfiguration"),
                       (s3.get_bucket_tagging, "NoSuchTagSet"), (s3.get_bucket_website, "NoSuchWebsiteConfiguration"),
                       (s3.get_bucket_encryption, "ServerSideEncryptionConfigurationNotFoundError")):
        r = client_error(call, Bucket="proto")
        assert r["Error"]["Code"] == code and r["ResponseMetadata"]["HTTPStatusCode"] == 404
    s3.get_bucket_logging(Bucket="proto")
    s3.get_bucket_notification_configuration(Bucket="proto")
    r = client_error(s3.put_bucket_versioning, Bucket="proto", VersioningConfiguration={"Status": "Enabled"})
    assert r["Error"]["Code"] == "NotImplemented"
    r = client_error(s3.get_bucket_location, Bucket="not-there")
    assert r["Error"]["Code"] == "NoSuchBucket"


def test_staging_bucket_is_hidden(silo_module, s3):
    s3.create_multipart_upload(Bucket="proto", Key="makes-staging")
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert "silo-internal-multipart" not in names
    r = client_error(s3.list_objects_v2, Bucket="silo-internal-multipart")
    assert r["Error"]["Code"] == "NoSuchBucket"
    r = client_error(s3.create_bucket, Bucket="silo-internal-multipart")
    assert r["Error"]["Code"] == "BucketAlreadyExists"


def test_method_not_allowed(silo_module, signer):
    target = url(silo_module, "/")
    r = requests.delete(target, headers=signer.headers("DELETE", target)[0])
    assert r.status_code == 405 and error_code(r) == "MethodNotAllowed"


# ---- listings ----

def test_list_v1_and_v2_with_prefix_delimiter_and_markers(s3):
    s3.create_bucket(Bucket="listing")
    keys = ["a/1", "a/2", "b", "c/x/1", "c/y", "d", "d/", "e+f g", "é"]
    for k in keys:
        s3.put_object(Bucket="listing", Key=k, Body=b"")
    # v1 paging one entry at a time never repeats a common prefix
    seen, marker = [], ""
    while True:
        page = s3.list_objects(Bucket="listing", Delimiter="/", MaxKeys=1, Marker=marker)
        entries = [o["Key"] for o in page.get("Contents", [])] + [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        seen += entries
        if not page["IsTruncated"]:
            break
        marker = page["NextMarker"]
    assert seen == ["a/", "b", "c/", "d", "d/", "e+f g", "é"]
    # v2 paging with continuation tokens
    seen, token = [], None
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket="listing", Delimiter="/", MaxKeys=2, **kwargs)
        assert page["KeyCount"] == len(page.get("Contents", [])) + len(page.get("CommonPrefixes", []))
        seen += [o["Key"] for o in page.get("Contents", [])] + [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert sorted(seen) == sorted(["a/", "b", "c/", "d", "d/", "e+f g", "é"])
    page = s3.list_objects_v2(Bucket="listing", Prefix="c/", Delimiter="/")
    assert [o["Key"] for o in page["Contents"]] == ["c/y"]
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["c/x/"]
    page = s3.list_objects_v2(Bucket="listing", StartAfter="c/y")
    assert [o["Key"] for o in page["Contents"]] == ["d", "d/", "e+f g", "é"]
    page = s3.list_objects_v2(Bucket="listing", MaxKeys=0)
    assert page["KeyCount"] == 0 and not page["IsTruncated"]
    r = client_error(s3.list_objects_v2, Bucket="listing", ContinuationToken="bogus!")
    assert r["Error"]["Code"] == "InvalidArgument"


def test_list_encoding_type_url(silo_module, signer):
    boto = boto_client(silo_module)
    boto.create_bucket(Bucket="encoded")
    weird = "ctl\x01and<amp>&+ space"
    boto.put_object(Bucket="encoded", Key=weird, Body=b"")
    target = url(silo_module, "/encoded?list-type=2&encoding-type=url")
    r = requests.get(target, headers=signer.headers("GET", target)[0])
    root = ET.fromstring(r.content)
    key = root.find(NS + "Contents").findtext(NS + "Key")
    assert "%01" in key and urllib.parse.unquote_plus(key) == weird
    assert [o["Key"] for o in boto.list_objects_v2(Bucket="encoded")["Contents"]] == [weird]


def test_list_object_versions_and_resource_cleanup(silo_module):
    resource = boto_client(silo_module)
    resource.create_bucket(Bucket="versions")
    for k in ("v/1", "v/2", "w"):
        resource.put_object(Bucket="versions", Key=k, Body=b"v")
    listed = resource.list_object_versions(Bucket="versions")
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == \
        [("v/1", "null", True), ("v/2", "null", True), ("w", "null", True)]
    page = resource.list_object_versions(Bucket="versions", MaxKeys=1, Delimiter="/")
    assert page["IsTruncated"] and page["CommonPrefixes"][0]["Prefix"] == "v/"
    page = resource.list_object_versions(Bucket="versions", KeyMarker=page["NextKeyMarker"], Delimiter="/")
    assert [v["Key"] for v in page["Versions"]] == ["w"]
    import boto3
    access, secret = credentials(silo_module)
    bucket = boto3.resource("s3", endpoint_url=silo_module.s3_url, aws_access_key_id=access,
                            aws_secret_access_key=secret, region_name="us-east-1",
                            config=botocore.config.Config(signature_version="s3v4")).Bucket("versions")
    bucket.object_versions.delete()  # the standard "empty a bucket" recipe
    bucket.delete()
    assert "versions" not in [b["Name"] for b in resource.list_buckets()["Buckets"]]


# ---- copy and delete ----

def test_copy_object_metadata_directives(s3):
    s3.put_object(Bucket="proto", Key="src dir/ünï+%.txt", Body=b"copy me", ContentType="text/plain",
                  Metadata={"a": "1"})
    r = s3.copy_object(Bucket="proto", Key="copied", CopySource={"Bucket": "proto", "Key": "src dir/ünï+%.txt"})
    assert r["CopyObjectResult"]["ETag"] == '"%s"' % hashlib.md5(b"copy me").hexdigest()
    h = s3.head_object(Bucket="proto", Key="copied")
    assert h["ContentType"] == "text/plain" and h["Metadata"] == {"a": "1"}
    s3.copy_object(Bucket="proto", Key="copied", CopySource="proto/src dir/ünï+%.txt",
                   MetadataDirective="REPLACE", ContentType="text/csv", Metadata={"b": "2"})
    h = s3.head_object(Bucket="proto", Key="copied")
    assert h["ContentType"] == "text/csv" and h["Metadata"] == {"b": "2"}
    r = client_error(s3.copy_object, Bucket="proto", Key="copied", CopySource={"Bucket": "proto", "Key": "copied"})
    assert r["Error"]["Code"] == "InvalidRequest"
    s3.copy_object(Bucket="proto", Key="copied", CopySource={"Bucket": "proto", "Key": "copied"},
                   MetadataDirective="REPLACE", Metadata={"c": "3"})
    assert s3.head_object(Bucket="proto", Key="copied")["Metadata"] == {"c": "3"}
    r = client_error(s3.copy_object, Bucket="proto", Key="x", CopySource={"Bucket": "proto", "Key": "nope"})
    assert r["Error"]["Code"] == "NoSuchKey"
    r = client_error(s3.copy_object, Bucket="proto", Key="x", CopySource={"Bucket": "proto", "Key": "copied"},
                     CopySourceIfMatch='"0123"')
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 412


def test_delete_objects_batch(s3):
    keys = [f"batch/{i}" for i in range(30)] + ODD_KEYS
    for k in keys:
        s3.put_object(Bucket="proto", Key=k, Body=b"d")
    r = s3.delete_objects(Bucket="proto", Delete={"Objects": [{"Key": k} for k in keys + ["never-there"]]})
    assert sorted(d["Key"] for d in r["Deleted"]) == sorted(keys + ["never-there"])
    assert "Errors" not in r
    r = s3.delete_objects(Bucket="proto", Delete={"Objects": [{"Key": "batch/0"}], "Quiet": True})
    assert "Deleted" not in r
    assert not any(exists(s3, k) for k in keys)


def test_delete_objects_malformed_xml(silo_module, signer):
    target = url(silo_module, "/proto?delete")
    for body in (b"<Delete><Object><Key>a</Key></Object>", b"<!DOCTYPE x [<!ENTITY e 'x'>]><Delete/>",
                 b"<Delete></Delete>", b"<Delete><Object></Object></Delete>"):
        headers = signer.headers("POST", target, payload_hash=hashlib.sha256(body).hexdigest())[0]
        r = requests.post(target, data=body, headers=headers)
        assert r.status_code == 400 and error_code(r) == "MalformedXML", body


# ---- multipart ----

def test_multipart_api(s3):
    part = 5 * 1024 * 1024
    a, b, c = b"a" * part, b"b" * part, b"tail"
    up = s3.create_multipart_upload(Bucket="proto", Key="mp/obj ect+", ContentType="video/mp4",
                                    Metadata={"origin": "test"})
    uid = up["UploadId"]
    e1 = s3.upload_part(Bucket="proto", Key="mp/obj ect+", UploadId=uid, PartNumber=1, Body=a)["ETag"]
    e2 = s3.upload_part(Bucket="proto", Key="mp/obj ect+", UploadId=uid, PartNumber=2, Body=b)["ETag"]
    s3.put_object(Bucket="proto", Key="part-source", Body=b"0123tail4567")
    e3 = s3.upload_part_copy(Bucket="proto", Key="mp/obj ect+", UploadId=uid, PartNumber=3,
                             CopySource={"Bucket": "proto", "Key": "part-source"},
                             CopySourceRange="bytes=4-7")["CopyPartResult"]["ETag"]
    parts = s3.list_parts(Bucket="proto", Key="mp/obj ect+", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, part), (2, part), (3, 4)]
    page = s3.list_parts(Bucket="proto", Key="mp/obj ect+", UploadId=uid, MaxParts=2)
    assert page["IsTruncated"] and page["NextPartNumberMarker"] == 2
    uploads = s3.list_multipart_uploads(Bucket="proto", Prefix="mp/")["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("mp/obj ect+", uid)]
    r = client_error(s3.complete_multipart_upload, Bucket="proto", Key="mp/obj ect+", UploadId=uid,
                     MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]})
    assert r["Error"]["Code"] == "InvalidPartOrder"
    r = client_error(s3.complete_multipart_upload, Bucket="proto", Key="mp/obj ect+", UploadId=uid,
                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e2}]})
    assert r["Error"]["Code"] == "InvalidPart"
    r = client_error(s3.complete_multipart_upload, Bucket="proto", Key="mp/obj ect+", UploadId=uid,
                     MultipartUpload={"Parts": [{"PartNumber": 3, "ETag": e3}, {"PartNumber": 4, "ETag": e3}]})
    assert r["Error"]["Code"] == "InvalidPart"
    done = s3.complete_multipart_upload(Bucket="proto", Key="mp/obj ect+", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}, {"PartNumber": 3, "ETag": e3}]})
    digests = b"".join(hashlib.md5(x).digest() for x in (a, b, c))
    assert done["ETag"] == '"%s-3"' % hashlib.md5(digests).hexdigest()
    got = s3.get_object(Bucket="proto", Key="mp/obj ect+")
    assert got["ContentType"] == "video/mp4" and got["Metadata"] == {"origin": "test"}
    assert got["Body"].read() == a + b + c
    assert got["ETag"] == done["ETag"]
    r = client_error(s3.upload_part, Bucket="proto", Key="mp/obj ect+", UploadId=uid, PartNumber=4, Body=b"x")
    assert r["Error"]["Code"] == "NoSuchUpload"
    assert s3.list_multipart_uploads(Bucket="proto", Prefix="mp/").get("Uploads", []) == []


def test_multipart_small_parts_abort_and_bad_ids(s3):
    uid = s3.create_multipart_upload(Bucket="proto", Key="small-parts")["UploadId"]
    e1 = s3.upload_part(Bucket="proto", Key="small-parts", UploadId=uid, PartNumber=1, Body=b"x" * 100)["ETag"]
    e2 = s3.upload_part(Bucket="proto", Key="small-parts", UploadId=uid, PartNumber=2, Body=b"y")["ETag"]
    r = client_error(s3.complete_multipart_upload, Bucket="proto", Key="small-parts", UploadId=uid,
                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert r["Error"]["Code"] == "EntityTooSmall"
    r = client_error(s3.upload_part, Bucket="proto", Key="small-parts", UploadId=uid, PartNumber=10001, Body=b"")
    assert r["Error"]["Code"] == "InvalidArgument"
    r = client_error(s3.upload_part, Bucket="proto", Key="other-key", UploadId=uid, PartNumber=1, Body=b"")
    assert r["Error"]["Code"] == "NoSuchUpload"
    s3.abort_multipart_upload(Bucket="proto", Key="small-parts", UploadId=uid)
    r = client_error(s3.list_parts, Bucket="proto", Key="small-parts", UploadId=uid)
    assert r["Error"]["Code"] == "NoSuchUpload" and r["ResponseMetadata"]["HTTPStatusCode"] == 404
    r = client_error(s3.abort_multipart_upload, Bucket="proto", Key="small-parts", UploadId="../../etc")
    assert r["Error"]["Code"] == "NoSuchUpload"
    assert not exists(s3, "small-parts")
    # a single-part upload may be small
    uid = s3.create_multipart_upload(Bucket="proto", Key="one-part")["UploadId"]
    e1 = s3.upload_part(Bucket="proto", Key="one-part", UploadId=uid, PartNumber=1, Body=b"tiny")["ETag"]
    s3.complete_multipart_upload(Bucket="proto", Key="one-part", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})
    assert s3.get_object(Bucket="proto", Key="one-part")["Body"].read() == b"tiny"


def test_abandoned_uploads_are_removed_after_the_expiry(silo_factory):
    silo = silo_factory(extra_args=["--s3-multipart-expiry", "2"])
    s3 = boto_client(silo)
    s3.create_bucket(Bucket="expiry")
    uid = s3.create_multipart_upload(Bucket="expiry", Key="abandoned")["UploadId"]
    s3.upload_part(Bucket="expiry", Key="abandoned", UploadId=uid, PartNumber=1, Body=b"p" * 1000)
    assert len(s3.list_multipart_uploads(Bucket="expiry")["Uploads"]) == 1
    time.sleep(3.2)
    assert s3.list_multipart_uploads(Bucket="expiry").get("Uploads", []) == []
    r = client_error(s3.upload_part, Bucket="expiry", Key="abandoned", UploadId=uid, PartNumber=2, Body=b"x")
    assert r["Error"]["Code"] == "NoSuchUpload"
    assert "removed 1 upload" in silo.log_text()


# ---- browser POST ----

def post_form(presigned, key_field=None, filename="photo.jpg", content=b"JPEGDATA", extra=None, **kwargs):
    fields = dict(presigned["fields"])
    if key_field is not None:
        fields["key"] = key_field
    fields.update(extra or {})
    return requests.post(presigned["url"], data=fields, files={"file": (filename, content)}, **kwargs)


def test_post_policy_upload_statuses_and_filename(s3):
    for status, code in (("201", 201), ("200", 200), (None, 204)):
        fields = {"success_action_status": status} if status else {}
        conditions = [{"success_action_status": status}] if status else []
        presigned = s3.generate_presigned_post("proto", "uploads/${filename}", Fields=fields,
                                               Conditions=conditions + [["starts-with", "$key", "uploads/"],
                                                                        ["content-length-range", 1, 1000]],
                                               ExpiresIn=300)
        r = post_form(presigned, filename=f"C:\\Pictures\\my photo {code}.jpg")
        assert r.status_code == code, r.text
        assert r.headers["ETag"] == '"%s"' % hashlib.md5(b"JPEGDATA").hexdigest()
        if code == 201:
            root = ET.fromstring(r.content)
            assert root.findtext("Key") == "uploads/my photo 201.jpg"
            assert root.findtext("Bucket") == "proto"
        assert s3.get_object(Bucket="proto", Key=f"uploads/my photo {code}.jpg")["Body"].read() == b"JPEGDATA"


def test_post_policy_redirect_and_fields(s3):
    presigned = s3.generate_presigned_post(
        "proto", "form/${filename}",
        Fields={"success_action_redirect": "http://app.example/done?x=1", "Content-Type": "image/png",
                "x-amz-meta-owner": "alice"},
        Conditions=[{"success_action_redirect": "http://app.example/done?x=1"},
                    ["starts-with", "$Content-Type", "image/"], {"x-amz-meta-owner": "alice"},
                    ["starts-with", "$key", "form/"]], ExpiresIn=300)
    r = post_form(presigned, filename="pic.png", allow_redirects=False)
    assert r.status_code == 303
    location = urllib.parse.urlsplit(r.headers["Location"])
    query = urllib.parse.parse_qs(location.query)
    assert location.netloc == "app.example" and query["x"] == ["1"]
    assert query["bucket"] == ["proto"] and query["key"] == ["form/pic.png"]
    assert query["etag"] == ['"%s"' % hashlib.md5(b"JPEGDATA").hexdigest()]
    h = s3.head_object(Bucket="proto", Key="form/pic.png")
    assert h["ContentType"] == "image/png" and h["Metadata"] == {"owner": "alice"}
    # every field is checked against the policy
    r = post_form(presigned, filename="evil.png", extra={"Content-Type": "text/html"}, allow_redirects=False)
    assert r.status_code == 403 and error_code(r) == "AccessDenied"
    r = post_form(presigned, filename="extra.png", extra={"x-amz-meta-extra": "1"}, allow_redirects=False)
    assert r.status_code == 403 and "Extra input fields" in r.text
    r = post_form(presigned, key_field="elsewhere/${filename}", filename="x.png", allow_redirects=False)
    assert r.status_code == 403
    assert not exists(s3, "form/evil.png") and not exists(s3, "form/extra.png") and not exists(s3, "elsewhere/x.png")


def test_post_policy_refusals_store_nothing(s3):
    presigned = s3.generate_presigned_post("proto", "limited/${filename}",
                                           Conditions=[["content-length-range", 10, 100000]], ExpiresIn=300)
    r = post_form(presigned, filename="big.bin", content=b"z" * 300000)
    assert r.status_code == 400 and error_code(r) == "EntityTooLarge"
    r = post_form(presigned, filename="small.bin", content=b"z" * 5)
    assert r.status_code == 400 and error_code(r) == "EntityTooSmall"
    tampered = {"url": presigned["url"], "fields": dict(presigned["fields"])}
    sig = tampered["fields"]["x-amz-signature"]
    tampered["fields"]["x-amz-signature"] = ("0" if sig[0] != "0" else "1") + sig[1:]
    r = post_form(tampered, filename="tampered.bin", content=b"z" * 50)
    assert r.status_code == 403 and error_code(r) == "SignatureDoesNotMatch"
    expired = s3.generate_presigned_post("proto", "limited/${filename}", ExpiresIn=-10)
    r = post_form(expired, filename="expired.bin", content=b"z" * 50)
    assert r.status_code == 403 and error_code(r) == "AccessDenied"
    r = requests.post(presigned["url"], data=presigned["fields"])  # not a form
    assert r.status_code == 400 and error_code(r) == "MalformedPOSTRequest"
    r = requests.post(presigned["url"], data=presigned["fields"], files={"notfile": ("n", b"1")})
    assert r.status_code == 400 and error_code(r) == "InvalidArgument"
    for name in ("big.bin", "small.bin", "tampered.bin", "expired.bin"):
        assert not exists(s3, "limited/" + name)
    ok = post_form(presigned, filename="ok.bin", content=b"z" * 50)
    assert ok.status_code == 204


# ---- CORS ----

def test_cors_preflight_and_exposed_headers(silo_module, s3):
    target = url(silo_module, "/proto/cors-object")
    r = requests.options(target, headers={"Origin": "http://page.example:8080",
                                          "Access-Control-Request-Method": "PUT",
                                          "Access-Control-Request-Headers": "content-type,x-amz-date"})
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "http://page.example:8080"
    assert "PUT" in r.headers["Access-Control-Allow-Methods"]
    assert r.headers["Access-Control-Allow-Headers"] == "content-type,x-amz-date"
    s3.put_object(Bucket="proto", Key="cors-object", Body=b"c")
    presigned = s3.generate_presigned_url("get_object", Params={"Bucket": "proto", "Key": "cors-object"})
    r = requests.get(presigned, headers={"Origin": "http://page.example:8080"})
    assert r.headers["Access-Control-Allow-Origin"] == "http://page.example:8080"
    exposed = [h.strip().lower() for h in r.headers["Access-Control-Expose-Headers"].split(",")]
    assert "etag" in exposed and "x-amz-request-id" in exposed
    # a browser form POST gets the headers too, so the page can read the answer
    form = s3.generate_presigned_post("proto", "cors-post", ExpiresIn=60)
    r = requests.post(form["url"], data=form["fields"], files={"file": ("f", b"data")},
                      headers={"Origin": "http://page.example:8080"})
    assert r.status_code == 204 and r.headers["Access-Control-Allow-Origin"] == "http://page.example:8080"


def test_cors_origins_setting(silo_factory):
    silo = silo_factory(extra_args=["--s3-cors-origins", "https://app.example, https://*.trusted.example"])
    target = silo.s3_url + "/media/x"
    for origin, allowed in (("https://app.example", True), ("https://a.trusted.example", True),
                            ("https://evil.example", False)):
        r = requests.options(target, headers={"Origin": origin, "Access-Control-Request-Method": "GET"})
        assert (r.status_code == 200) == allowed, origin
        assert ("Access-Control-Allow-Origin" in r.headers) == allowed
    r = requests.options(target, headers={"Origin": "https://app.example", "Access-Control-Request-Method": "PATCH"})
    assert r.status_code == 403


# ---- streaming ----

def test_parallel_transfers(silo_module, s3):
    blobs = {f"par/{i}": bytes([i]) * (300000 + i) for i in range(12)}

    def roundtrip(item):
        key, data = item
        s3.put_object(Bucket="proto", Key=key, Body=data)
        return s3.get_object(Bucket="proto", Key=key)["Body"].read() == data

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        assert all(pool.map(roundtrip, blobs.items()))


def test_empty_sha256_header_on_get_is_verified(silo_module, s3, signer):
    s3.put_object(Bucket="proto", Key="get-sha", Body=b"g")
    target = url(silo_module, "/proto/get-sha")
    r = requests.get(target, headers=signer.headers("GET", target, payload_hash=EMPTY_SHA256)[0])
    assert r.status_code == 200 and r.content == b"g"


# ---- x-amz-checksum-* ----

def test_checksum_headers_are_verified(silo_module, s3, signer):
    target = url(silo_module, "/proto/checksummed")
    body = b"checksum me" * 1000
    crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    r = requests.put(target, data=body, headers=signer.headers(
        "PUT", target, headers={"x-amz-checksum-crc32": crc}, payload_hash="UNSIGNED-PAYLOAD")[0])
    assert r.status_code == 200 and r.headers["x-amz-checksum-crc32"] == crc
    wrong = base64.b64encode((zlib.crc32(body) ^ 1).to_bytes(4, "big")).decode()
    r = requests.put(url(silo_module, "/proto/checksum-bad"), data=body, headers=signer.headers(
        "PUT", url(silo_module, "/proto/checksum-bad"), headers={"x-amz-checksum-crc32": wrong},
        payload_hash="UNSIGNED-PAYLOAD")[0])
    assert r.status_code == 400 and error_code(r) == "BadDigest"
    sha = base64.b64encode(hashlib.sha256(body).digest()).decode()
    r = requests.put(target, data=body, headers=signer.headers(
        "PUT", target, headers={"x-amz-checksum-sha256": sha}, payload_hash="UNSIGNED-PAYLOAD")[0])
    assert r.status_code == 200 and r.headers["x-amz-checksum-sha256"] == sha
    # CRC32C of "123456789" is e3069283 (RFC 3720 check value)
    r = requests.put(target, data=b"123456789", headers=signer.headers(
        "PUT", target, headers={"x-amz-checksum-crc32c": base64.b64encode(bytes.fromhex("e3069283")).decode()},
        payload_hash="UNSIGNED-PAYLOAD")[0])
    assert r.status_code == 200
    assert not exists(s3, "checksum-bad")


def test_trailer_checksum_mismatch_stores_nothing(silo_module, s3, signer):
    target = url(silo_module, "/proto/trailer-bad")
    body = trailer_body([b"q" * 5000], value="AAAAAA==")
    headers = signer.headers("PUT", target, headers={
        "content-encoding": "aws-chunked", "x-amz-decoded-content-length": "5000",
        "x-amz-trailer": "x-amz-checksum-crc32"}, payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")[0]
    r = requests.put(target, data=body, headers=headers)
    assert r.status_code == 400 and error_code(r) == "BadDigest"
    assert not exists(s3, "trailer-bad")


# ---- SigV2 presigned URLs (botocore's default for presigning) ----

def test_sigv2_presigned_urls(silo_module, s3):
    import boto3
    access, secret = credentials(silo_module)
    legacy = boto3.client("s3", endpoint_url=silo_module.s3_url, aws_access_key_id=access,
                          aws_secret_access_key=secret, region_name="us-east-1")
    put_url = legacy.generate_presigned_url("put_object", Params={"Bucket": "proto", "Key": "v2 dir/ké+y.txt"})
    assert "AWSAccessKeyId=" in put_url and "X-Amz-Signature" not in put_url
    assert requests.put(put_url, data=b"sigv2").status_code == 200
    get_url = legacy.generate_presigned_url("get_object", Params={
        "Bucket": "proto", "Key": "v2 dir/ké+y.txt", "ResponseContentType": "text/x-v2"})
    r = requests.get(get_url)
    assert r.content == b"sigv2" and r.headers["Content-Type"] == "text/x-v2"
    tampered = get_url.replace("text%2Fx-v2", "text%2Fx-v3")
    r = requests.get(tampered)
    assert r.status_code == 403 and error_code(r) == "SignatureDoesNotMatch"
    expired = legacy.generate_presigned_url("get_object", Params={"Bucket": "proto", "Key": "v2 dir/ké+y.txt"},
                                            ExpiresIn=-5)
    r = requests.get(expired)
    assert r.status_code == 403 and "expired" in r.text
    # header authentication must be SigV4
    v2_headers = boto3.client("s3", endpoint_url=silo_module.s3_url, aws_access_key_id=access,
                              aws_secret_access_key=secret, region_name="us-east-1",
                              config=botocore.config.Config(signature_version="s3"))
    response = client_error(v2_headers.put_object, Bucket="proto", Key="v2-header", Body=b"x")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert not exists(s3, "v2-header")
