#!/usr/bin/env bash
# The s3 store driver: a file uploaded through POST /api/v1/s3/upload of a
# silo whose default store is remote (a second silo's built-in S3 endpoint,
# in another process), against `aws s3 cp` of the same file to the same
# endpoint. Prints each one's throughput and the peak RSS of the uploading
# process (the front silo; aws) and of the remote silo.
# usage: bench/remote.sh [MIB]   (default 1024)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mib=${1:-1024}
[ -x "$SILO" ] || make -s -C "$BENCH_ROOT" build/silo
work=$(mktemp -d /tmp/silo-bench-remote-XXXXXX)
trap 'rm -rf "$work"' EXIT

# A WAV header (so the upload is sniffed as audio) and MIB MiB after it.
printf 'RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00' >"$work/big.wav"
head -c "$((mib * 1024 * 1024))" /dev/urandom >>"$work/big.wav"
bytes=$(stat -c %s "$work/big.wav")

rate() { awk -v a="$1" -v b="$2" -v n="$bytes" 'BEGIN {printf "%.2f s, %.1f MiB/s", b - a, n / 1048576 / (b - a)}'; }

# The remote: a silo whose built-in endpoint plays S3.
silo_start --threads 4
remote_pid=$SILO_PID remote_dir=$SILO_DIR remote_time_log=$SILO_TIME_LOG remote_s3=$SILO_S3
eval "$("$SILO" s3-credentials --data "$remote_dir/data")"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION=us-east-1

# The front: a silo whose default store is the remote, through the s3 driver.
export AWS_S3_ENDPOINT_URL=$remote_s3 AWS_S3_BUCKET=bench-remote
silo_start --threads 4 --max-upload-size 2G
unset AWS_S3_ENDPOINT_URL AWS_S3_BUCKET
token=$("$SILO" token --sub bench --data "$SILO_DIR/data")

echo "== ${mib} MiB through silo (POST /api/v1/s3/upload) to a remote store at $remote_s3"
# "folder" before the file: the key is known up front, so the bytes stream
# straight to it (without, silo stages them and moves them into place with
# a server-side CopyObject, which costs the remote a copy).
start=$(date +%s.%N)
curl -sf -o "$work/upload.json" -H "Authorization: Bearer $token" -F folder=bench \
    -F "file=@$work/big.wav;type=audio/wav" "$SILO_API/api/v1/s3/upload"
end=$(date +%s.%N)
echo "silo upload: $(rate "$start" "$end")"
/usr/bin/python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); print("stored", b["key"], b["size"], "bytes, etag", b["etag"])' "$work/upload.json"
echo -n "front "
silo_stop

echo "== ${mib} MiB with aws s3 cp to the same endpoint"
start=$(date +%s.%N)
/usr/bin/time -v -o "$work/aws.time" aws --endpoint-url "$remote_s3" s3 cp --only-show-errors "$work/big.wav" \
    s3://bench-remote/aws-cp.wav
end=$(date +%s.%N)
echo "aws s3 cp: $(rate "$start" "$end")"
echo "aws peak RSS: $(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/aws.time") KiB"
aws --endpoint-url "$remote_s3" s3 ls s3://bench-remote --recursive

SILO_PID=$remote_pid SILO_DIR=$remote_dir SILO_TIME_LOG=$remote_time_log
echo -n "remote "
silo_stop
