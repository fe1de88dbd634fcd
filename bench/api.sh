#!/usr/bin/env bash
# Authenticated API routes under wrk (JWT auth, 32 connections), and the
# peak RSS of silo while a 1 GiB file is uploaded through
# POST /api/v1/s3/upload.
# usage: bench/api.sh [SECONDS] [UPLOAD_MIB]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
seconds=${1:-10}
mib=${2:-1024}
silo_start --threads 4
token=$("$SILO" token --sub bench --data "$SILO_DIR/data")
work=$(mktemp -d /tmp/silo-bench-api-XXXXXX)

# One small object to sign URLs for.
printf 'RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00' >"$work/small.wav"
key=$(curl -sf -H "Authorization: Bearer $token" -F "file=@$work/small.wav;type=audio/wav" "$SILO_API/api/v1/s3/upload" |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')

cat >"$work/presign.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"filename": "take.wav", "contentType": "audio/wav"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
LUA
echo "== JWT-authenticated routes, 32 connections, ${seconds}s each"
bash "$BENCH_ROOT/bench/wrk.sh" "$SILO_API/api/upload/presigned-url" "$seconds" 32 2 -- -s "$work/presign.lua"
bash "$BENCH_ROOT/bench/wrk.sh" "$SILO_API/api/v1/s3/file/$key/url" "$seconds" 32 2 -- -H "Authorization: Bearer $token"
silo_stop

echo "== ${mib} MiB upload through POST /api/v1/s3/upload"
silo_start --threads 4 --max-upload-size 2G
token=$("$SILO" token --sub bench --data "$SILO_DIR/data")
{ cat "$work/small.wav"; head -c "$((mib * 1024 * 1024))" /dev/zero; } >"$work/big.wav"
start=$(date +%s.%N)
curl -sf -o /dev/null -H "Authorization: Bearer $token" -F "file=@$work/big.wav;type=audio/wav" "$SILO_API/api/v1/s3/upload"
end=$(date +%s.%N)
awk -v a="$start" -v b="$end" -v m="$mib" 'BEGIN {printf "upload: %d MiB in %.2f s\n", m, b - a}'
silo_stop
rm -rf "$work"
