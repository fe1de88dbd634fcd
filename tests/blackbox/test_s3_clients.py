"""The built-in S3 endpoint against real clients: Debian's awscli 2.9 and the
image's awscli 1.45, Debian's boto3 1.26 and the image's boto3 1.43 (each in
its own interpreter), s3cmd 2.3 and rclone 1.60. Every client round-trips
keys with spaces, '+', '%', unicode and trailing slashes. One silo serves
the whole module."""
import filecmp
import hashlib
import os
import shutil
import subprocess
import json
import textwrap
import time
import urllib.parse

import pytest
from s3_support import ODD_KEYS, boto_client, client_env, credentials

FILE_KEYS = [k for k in ODD_KEYS if not k.endswith("/")]  # keys a local file can carry
MIB = 1024 * 1024


def run(args, env, timeout=180, check=True):
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return out


def write_tree(root, keys, size=1000):
    for i, key in enumerate(keys):
        path = os.path.join(root, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(hashlib.sha256(key.encode()).digest() * (size // 32 + i))
    return root


def big_file(path, size):
    block = os.urandom(MIB)
    with open(path, "wb") as f:
        for i in range(size // MIB):
            f.write(bytes([i % 251]) + block[1:])
    return path


@pytest.fixture(scope="module")
def big50(tmp_path_factory):
    return big_file(str(tmp_path_factory.mktemp("big") / "fifty.bin"), 50 * MIB)


@pytest.fixture(scope="module")
def s3(silo_module):
    return boto_client(silo_module)


# ---- awscli ----

def image_tool(name):
    """The image's own `name` on PATH (pyenv), not Debian's in /usr/bin."""
    for d in os.environ.get("PATH", "").split(os.pathsep):
        path = os.path.join(d, name)
        if d and os.path.realpath(d) not in ("/usr/bin", "/bin") and os.access(path, os.X_OK):
            return path
    return None


AWS_CLIS = [pytest.param("/usr/bin/aws", id="awscli2-debian"), pytest.param(image_tool("aws"), id="awscli1-image")]


@pytest.mark.parametrize("cli", AWS_CLIS)
def test_awscli(cli, request, silo_module, s3, tmp_path, big50):
    assert cli, "aws not found on PATH"
    env = client_env(silo_module)
    bucket = "cli-" + request.node.callspec.id
    aws = [cli, "--endpoint-url", silo_module.s3_url]
    s3api = aws + ["s3api"]
    aws_s3 = aws + ["s3"]
    quiet = ["--only-show-errors"]
    version = run([cli, "--version"], env).stdout + run([cli, "--version"], env).stderr
    assert ("aws-cli/2." in version) == (cli == "/usr/bin/aws"), version

    run(aws_s3 + ["mb", f"s3://{bucket}"], env)
    # small objects with odd names: sync up, list, sync down
    src = write_tree(str(tmp_path / "src"), FILE_KEYS)
    past = time.time() - 60
    for d, _, files in os.walk(src):
        for f in files:
            os.utime(os.path.join(d, f), (past, past))
    run(aws_s3 + ["sync", src, f"s3://{bucket}/synced"] + quiet, env)
    listing = run(aws_s3 + ["ls", "--recursive", f"s3://{bucket}/"], env).stdout
    for key in FILE_KEYS:
        assert f"synced/{key}" in listing, (key, listing)
    down = str(tmp_path / "down")
    run(aws_s3 + ["sync", f"s3://{bucket}/synced", down] + quiet, env)
    assert not filecmp.dircmp(src, down).diff_files
    assert sorted(os.path.relpath(os.path.join(d, f), down) for d, _, fs in os.walk(down) for f in fs) == \
        sorted(FILE_KEYS)
    # a second sync finds nothing to do (the files are a minute old: silo's
    # times are whole seconds, and a file written in the second of its upload
    # would look newer than the object)
    assert run(aws_s3 + ["sync", src, f"s3://{bucket}/synced"], env).stdout.strip() == ""
    # single cp up and down of an odd key
    one = os.path.join(src, FILE_KEYS[3])
    run(aws_s3 + ["cp", one, f"s3://{bucket}/single/{FILE_KEYS[4]}"] + quiet, env)
    run(aws_s3 + ["cp", f"s3://{bucket}/single/{FILE_KEYS[4]}", str(tmp_path / "one")] + quiet, env)
    assert filecmp.cmp(one, str(tmp_path / "one"), shallow=False)
    # 50 MiB: multipart up, ranged parallel GETs down
    run(aws_s3 + ["cp", big50, f"s3://{bucket}/big/fifty mb.bin"] + quiet, env)
    head = run(s3api + ["head-object", "--bucket", bucket, "--key", "big/fifty mb.bin"], env).stdout
    assert '"ContentLength": 52428800' in head and '-7\\""' in head, head
    run(aws_s3 + ["cp", f"s3://{bucket}/big/fifty mb.bin", str(tmp_path / "fifty.back")] + quiet, env)
    assert filecmp.cmp(big50, str(tmp_path / "fifty.back"), shallow=False)
    # a trailing-slash key through s3api
    run(s3api + ["put-object", "--bucket", bucket, "--key", "folder/marker/"], env)
    head = run(s3api + ["head-object", "--bucket", bucket, "--key", "folder/marker/"], env).stdout
    assert '"ContentLength": 0' in head
    assert "folder/marker/" in run(aws_s3 + ["ls", "--recursive", f"s3://{bucket}/folder/"], env).stdout
    # presign, then a plain curl
    url = run(aws_s3 + ["presign", f"s3://{bucket}/single/{FILE_KEYS[4]}", "--expires-in", "300"],
              env).stdout.strip()
    # awscli 2 presigns with SigV4, awscli 1 (botocore's default) with SigV2
    assert ("X-Amz-Signature=" in url) == (cli == "/usr/bin/aws"), url
    assert "Signature=" in url
    got = subprocess.run(["curl", "-sSf", url], capture_output=True, timeout=60)
    assert got.returncode == 0 and got.stdout == open(one, "rb").read()
    # remove everything
    run(aws_s3 + ["rm", "--recursive", f"s3://{bucket}/"] + quiet, env)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    run(aws_s3 + ["rb", f"s3://{bucket}"], env)


# ---- boto3, both of them ----

BOTO_SCRIPT = textwrap.dedent(r'''
    import concurrent.futures, hashlib, io, json, os, sys
    import boto3, requests
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    endpoint, bucket, workdir = sys.argv[1:4]
    odd_keys = json.loads(sys.argv[4])
    MIB = 1024 * 1024
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      config=Config(signature_version="s3v4", max_pool_connections=16,
                                    retries={"max_attempts": 1}))
    s3.create_bucket(Bucket=bucket)

    # upload_file: multipart (8 MiB parts); download_file: parallel ranged GETs
    src = os.path.join(workdir, "twenty.bin")
    with open(src, "wb") as f:
        for i in range(20):
            f.write(bytes([i]) * MIB)
    config = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB, max_concurrency=4)
    s3.upload_file(src, bucket, "big/twenty.bin", Config=config, ExtraArgs={"Metadata": {"kind": "big"}})
    head = s3.head_object(Bucket=bucket, Key="big/twenty.bin")
    assert head["ETag"].endswith('-3"'), head["ETag"]
    assert head["ContentLength"] == 20 * MIB and head["Metadata"] == {"kind": "big"}
    dst = os.path.join(workdir, "twenty.back")
    s3.download_file(bucket, "big/twenty.bin", dst,
                     Config=TransferConfig(multipart_threshold=4 * MIB, multipart_chunksize=4 * MIB, max_concurrency=4))
    assert open(dst, "rb").read() == open(src, "rb").read()
    part = s3.get_object(Bucket=bucket, Key="big/twenty.bin", Range="bytes=%d-%d" % (5 * MIB - 2, 5 * MIB + 1))
    assert part["Body"].read() == bytes([4, 4, 5, 5]) and part["ContentRange"] == "bytes %d-%d/%d" % (
        5 * MIB - 2, 5 * MIB + 1, 20 * MIB)

    # odd keys round-trip through put, get, list and copy
    for key in odd_keys:
        s3.put_object(Bucket=bucket, Key="odd/" + key, Body=key.encode())
    for key in odd_keys:
        assert s3.get_object(Bucket=bucket, Key="odd/" + key)["Body"].read() == key.encode(), key
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="odd/")["Contents"]]
    assert listed == sorted("odd/" + k for k in odd_keys), listed
    listed = [o["Key"] for o in s3.list_objects(Bucket=bucket, Prefix="odd/")["Contents"]]
    assert listed == sorted("odd/" + k for k in odd_keys), listed
    for key in odd_keys:
        s3.copy_object(Bucket=bucket, Key="copy/" + key, CopySource={"Bucket": bucket, "Key": "odd/" + key})
        assert s3.get_object(Bucket=bucket, Key="copy/" + key)["Body"].read() == key.encode(), key
    s3.copy_object(Bucket=bucket, Key="copy/replaced", CopySource={"Bucket": bucket, "Key": "big/twenty.bin"},
                   MetadataDirective="REPLACE", Metadata={"kind": "copy"}, ContentType="video/mp4")
    head = s3.head_object(Bucket=bucket, Key="copy/replaced")
    assert head["Metadata"] == {"kind": "copy"} and head["ContentType"] == "video/mp4"
    assert head["ContentLength"] == 20 * MIB

    # list_objects_v2 pagination over 2,500 keys
    keys = ["many/%04d" % i for i in range(2500)]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=b"m"), keys))
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="many/"))
    assert [p["KeyCount"] for p in pages] == [1000, 1000, 500]
    assert [o["Key"] for p in pages for o in p["Contents"]] == keys
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="many/",
                                                              PaginationConfig={"PageSize": 700}))
    assert sum(p["KeyCount"] for p in pages) == 2500 and len(pages) == 4
    pages = list(s3.get_paginator("list_objects").paginate(Bucket=bucket, Prefix="many/"))
    assert [o["Key"] for p in pages for o in p["Contents"]] == keys

    # delete_objects in batches of 1000
    for i in range(0, len(keys), 1000):
        out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]]})
        assert len(out["Deleted"]) == len(keys[i:i + 1000]) and "Errors" not in out
    assert s3.list_objects_v2(Bucket=bucket, Prefix="many/")["KeyCount"] == 0

    # presigned GET and PUT
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "presigned/pùt me+.txt"},
                                        ExpiresIn=300)
    assert requests.put(put_url, data=b"presigned put").status_code == 200
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "presigned/pùt me+.txt"},
                                        ExpiresIn=300)
    assert requests.get(get_url).content == b"presigned put"

    # presigned POST through requests
    post = s3.generate_presigned_post(bucket, "posted/${filename}", Fields={"Content-Type": "audio/mpeg"},
                                      Conditions=[{"Content-Type": "audio/mpeg"},
                                                  ["content-length-range", 1, 10 * MIB]], ExpiresIn=300)
    r = requests.post(post["url"], data=post["fields"], files={"file": ("voice memo+1.mp3", b"ID3" + b"\0" * 1000)})
    assert r.status_code == 204, r.text
    head = s3.head_object(Bucket=bucket, Key="posted/voice memo+1.mp3")
    assert head["ContentType"] == "audio/mpeg" and head["ContentLength"] == 1003
    r = requests.post(post["url"], data=post["fields"], files={"file": ("huge.mp3", b"x" * (10 * MIB + 1))})
    assert r.status_code == 400 and "EntityTooLarge" in r.text
    try:
        s3.head_object(Bucket=bucket, Key="posted/huge.mp3")
        raise AssertionError("an upload past content-length-range was stored")
    except s3.exceptions.ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    print("OK", boto3.__version__)
''')


@pytest.mark.parametrize("python", [pytest.param("/usr/bin/python3", id="boto3-debian"),
                                    pytest.param("python3", id="boto3-image")])
def test_boto3(python, request, silo_module, tmp_path):
    exe = python if python.startswith("/") else image_tool(python)
    assert exe, "the image's python3 is not on PATH"
    script = tmp_path / "boto_script.py"
    script.write_text(BOTO_SCRIPT)
    bucket = "boto-" + request.node.callspec.id.split("-")[1]
    out = run([exe, str(script), silo_module.s3_url, bucket, str(tmp_path), json.dumps(ODD_KEYS)],
              client_env(silo_module), timeout=240)
    assert out.stdout.startswith("OK"), out.stdout + out.stderr
    version = out.stdout.split()[1]
    assert version.startswith("1.26" if python == "/usr/bin/python3" else "1.4"), version


# ---- s3cmd ----

def test_s3cmd(silo_module, s3, tmp_path):
    access, secret = credentials(silo_module)
    host = urllib.parse.urlsplit(silo_module.s3_url).netloc
    cfg = tmp_path / "s3cfg"
    cfg.write_text(f"[default]\naccess_key = {access}\nsecret_key = {secret}\nhost_base = {host}\n"
                   f"host_bucket = {host}\nuse_https = False\nsignature_v2 = False\nbucket_location = us-east-1\n")
    env = client_env(silo_module)
    cmd = ["s3cmd", "-c", str(cfg), "--no-progress"]
    run(cmd + ["mb", "s3://s3cmd-bucket"], env)
    src = write_tree(str(tmp_path / "src"), FILE_KEYS)
    for key in FILE_KEYS:
        run(cmd + ["put", os.path.join(src, key), f"s3://s3cmd-bucket/{key}"], env)
    listing = run(cmd + ["ls", "-r", "s3://s3cmd-bucket"], env).stdout
    for key in FILE_KEYS:
        assert f"s3://s3cmd-bucket/{key}" in listing, (key, listing)
    top = run(cmd + ["ls", "s3://s3cmd-bucket"], env).stdout  # v1 listing with a delimiter
    assert "DIR  s3://s3cmd-bucket/with space/" in top and "s3://s3cmd-bucket/plus+sign+file.txt" in top
    for key in FILE_KEYS:
        back = str(tmp_path / "back")
        run(cmd + ["get", "--force", f"s3://s3cmd-bucket/{key}", back], env)
        assert filecmp.cmp(os.path.join(src, key), back, shallow=False), key
    s3.put_object(Bucket="s3cmd-bucket", Key="dir/marker/", Body=b"")
    assert "s3://s3cmd-bucket/dir/marker/" in run(cmd + ["ls", "-r", "s3://s3cmd-bucket/dir/"], env).stdout
    big = big_file(str(tmp_path / "big.bin"), 20 * MIB)
    run(cmd + ["put", "--multipart-chunk-size-mb=5", big, "s3://s3cmd-bucket/big.bin"], env)
    assert s3.head_object(Bucket="s3cmd-bucket", Key="big.bin")["ETag"].endswith('-4"')
    for key in FILE_KEYS + ["big.bin"]:
        run(cmd + ["del", f"s3://s3cmd-bucket/{key}"], env)
    run(cmd + ["del", "--recursive", "s3://s3cmd-bucket/dir/"], env)
    assert s3.list_objects_v2(Bucket="s3cmd-bucket")["KeyCount"] == 0
    run(cmd + ["rb", "s3://s3cmd-bucket"], env)


# ---- rclone ----

def test_rclone(silo_module, s3, tmp_path):
    access, secret = credentials(silo_module)
    cfg = tmp_path / "rclone.conf"
    cfg.write_text(f"[silo]\ntype = s3\nprovider = Other\nendpoint = {silo_module.s3_url}\n"
                   f"access_key_id = {access}\nsecret_access_key = {secret}\nregion = us-east-1\n")
    env = client_env(silo_module)
    env.pop("AWS_CA_BUNDLE", None)
    rclone = ["rclone", "--config", str(cfg)]
    src = write_tree(str(tmp_path / "src"), FILE_KEYS, size=3000)
    big_file(os.path.join(src, "big.bin"), 12 * MIB)
    run(rclone + ["mkdir", "silo:rclone-bucket"], env)
    run(rclone + ["copy", src, "silo:rclone-bucket/tree"], env)
    listing = run(rclone + ["ls", "silo:rclone-bucket"], env).stdout
    for key in FILE_KEYS + ["big.bin"]:
        assert f" tree/{key}\n" in listing, (key, listing)
    back = str(tmp_path / "back")
    run(rclone + ["copy", "silo:rclone-bucket/tree", back], env)
    comparison = filecmp.dircmp(src, back)
    assert not comparison.diff_files and not comparison.left_only and not comparison.right_only
    run(rclone + ["check", src, "silo:rclone-bucket/tree"], env)
    run(rclone + ["delete", "silo:rclone-bucket"], env)
    assert s3.list_objects_v2(Bucket="rclone-bucket")["KeyCount"] == 0
    run(rclone + ["rmdir", "silo:rclone-bucket"], env)

