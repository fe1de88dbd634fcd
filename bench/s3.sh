#!/usr/bin/env bash
# The built-in S3 endpoint against s3rver (npm, the reference third-party S3
# server of the test tools), driven by one client (bench/s3_client.py:
# SigV4, UNSIGNED-PAYLOAD, keep-alive connections, hand-rolled so it costs
# the same on both sides): PUT then GET of 4 KiB and 16 MiB objects, with
# objects/s, MiB/s, p50 and p99. Then silo's peak RSS during one streamed
# 1 GiB PUT, in a fresh silo (bench/lib.sh measures it with /usr/bin/time).
# s3rver is installed under bench/node_modules on first use.
#
# usage: bench/s3.sh [SMALL_COUNT] [LARGE_COUNT] [CONCURRENCY]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
small=${1:-2000}
large=${2:-32}
concurrency=${3:-4}
client=(/usr/bin/python3 "$BENCH_ROOT/bench/s3_client.py")
s3rver="$BENCH_ROOT/bench/node_modules/.bin/s3rver"

if [ ! -x "$s3rver" ]; then
    echo "installing s3rver under bench/node_modules"
    npm install --prefix "$BENCH_ROOT/bench" --no-audit --no-fund --loglevel=error s3rver >/dev/null
fi

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listens on port $1"
    exit 1
}

# suite NAME ENDPOINT ACCESS SECRET: one table row per operation and size
suite() {
    local name=$1 endpoint=$2 access=$3 secret=$4
    "${client[@]}" "$endpoint" "$access" "$secret" bench mkbucket >/dev/null
    for spec in "4096 $small" "16777216 $large"; do
        set -- $spec
        for op in put get; do
            "${client[@]}" "$endpoint" "$access" "$secret" bench "$op" --size "$1" --count "$2" \
                --concurrency "$concurrency" |
                /usr/bin/python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
size = "4 KiB" if r["size"] == 4096 else "%d MiB" % (r["size"] >> 20)
print("| %s | %s %s | %d | %s | %s | %s ms | %s ms |" % (sys.argv[1], r["op"].upper(), size, r["count"],
      "{:,}".format(r["objects_per_s"]), r["mib_per_s"], r["p50_ms"], r["p99_ms"]))' "$name"
        done
    done
}

echo "== S3 endpoints, $(nproc) cores, client: s3_client.py, $concurrency connections"
echo "| server | operation | objects | objects/s | MiB/s | p50 | p99 |"
echo "|---|---|---|---|---|---|---|"

silo_start
eval "$("$SILO" s3-credentials --data "$SILO_DIR/data")"
suite silo "$SILO_S3" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"
silo_stop >"$BENCH_ROOT/build/s3-bench-rss.txt"
silo_rss=$(awk '{print $4}' "$BENCH_ROOT/build/s3-bench-rss.txt")

s3rver_dir=$(mktemp -d /tmp/s3rver-bench-XXXXXX)
port=$(free_port)
/usr/bin/time -v -o "$s3rver_dir.time" "$s3rver" -d "$s3rver_dir" -a 127.0.0.1 -p "$port" --silent \
    >/dev/null 2>&1 &
s3rver_pid=$!
wait_port "$port"
suite s3rver "http://127.0.0.1:$port" S3RVER S3RVER
child=$(pgrep -P "$s3rver_pid" || true)
[ -n "$child" ] && kill -TERM "$child"
wait "$s3rver_pid" || true
s3rver_rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$s3rver_dir.time")
rm -rf "$s3rver_dir" "$s3rver_dir.time"

echo
echo "peak RSS over the run above: silo ${silo_rss} KiB, s3rver ${s3rver_rss} KiB"

echo
echo "== one streamed 1 GiB PUT into a fresh silo"
silo_start
eval "$("$SILO" s3-credentials --data "$SILO_DIR/data")"
"${client[@]}" "$SILO_S3" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" bench mkbucket >/dev/null
"${client[@]}" "$SILO_S3" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" bench put --stream-put --size $((1 << 30))
silo_stop
