#!/usr/bin/env bash
# Scale-out: requests/s of an authenticated read route, GET /api/v1/s3/files
# with a JWT (it reads the objects index in the database, not the store),
# with one silo instance and with two, both on one PostgreSQL database.
#
# PostgreSQL: a throwaway cluster from scripts/pg.sh (removed at the end),
# or the server of $DATABASE_URL_TEST when set (a fresh database on it).
# Each instance gets --threads 4, the shared --jwt-secret and key pair, the
# built-in S3 endpoint off, and its own data directory for the fs store
# (the route does not touch the store). 20 objects are uploaded through the
# first instance, so every request lists 20 rows.
#
# One instance: one wrk, CONNS connections. Two instances: no load balancer
# in front; two wrk at once, CONNS/2 connections each, one per instance,
# and their requests/s added. wrk, silo and PostgreSQL share the machine's
# cores, so on a small machine the figure shows the overhead of a second
# instance more than its gain; on N machines each instance has its own.
# usage: bench/scale.sh [SECONDS] [CONNS]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
seconds=${1:-10}
conns=${2:-32}
work=$(mktemp -d /tmp/silo-bench-scale-XXXXXX)
pids=()
pg_dir=""
cleanup() {
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    [ -n "$pg_dir" ] && bash "$BENCH_ROOT/scripts/pg.sh" stop "$pg_dir"
    rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${DATABASE_URL_TEST:-}" ]; then
    server=$DATABASE_URL_TEST
else
    pg_dir=$(mktemp -d /tmp/silo-bench-pg-XXXXXX)
    server=$(bash "$BENCH_ROOT/scripts/pg.sh" start "$pg_dir")
fi
name=silo_bench_$$
psql -X -q -d "${server%/*}/postgres" -c "CREATE DATABASE $name"
db="${server%/*}/$name"
shared=(--db "$db" --jwt-secret bench-scale-secret --s3-listen off
    --s3-access-key SILOBENCHSCALE0000 --s3-secret-key bench-scale-key-pair-secret-0000000000000)

# start_instance NAME: runs silo in $work/NAME; prints its API URL.
start_instance() {
    "$SILO" serve --listen 127.0.0.1:0 --data "$work/$1" --threads 4 --workers 0 "${shared[@]}" \
        >"$work/$1.out" 2>"$work/$1.log" &
    pids+=($!)
    local url=""
    for _ in $(seq 100); do
        url=$(sed -n 's/^api: //p' "$work/$1.out")
        [ -n "$url" ] && break
        sleep 0.1
    done
    [ -n "$url" ] || { echo "silo $1 did not start" >&2; cat "$work/$1.log" >&2; exit 1; }
    echo "$url"
}

# rps URL CONNS: requests/s of wrk against URL.
rps() {
    wrk -t2 -c"$2" -d"${seconds}s" -H "Authorization: Bearer $token" "$1/api/v1/s3/files" |
        awk '/Requests\/sec/ {print $2}'
}

a=$(start_instance a)
token=$("$SILO" token --sub bench --data "$work/a" "${shared[@]}")
printf 'RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00' >"$work/small.wav"
for i in $(seq 20); do
    curl -sf -o /dev/null -H "Authorization: Bearer $token" -F "file=@$work/small.wav;type=audio/wav" "$a/api/v1/s3/upload"
done

echo "== GET /api/v1/s3/files (20 rows, JWT), PostgreSQL, ${seconds}s, $(nproc) cores"
one=$(rps "$a" "$conns")
echo "one instance:   $one req/s ($conns connections)"

b=$(start_instance b)
half=$((conns / 2))
rps "$a" "$half" >"$work/a.rps" &
wa=$!
rps "$b" "$half" >"$work/b.rps" &
wb=$!
wait "$wa" "$wb"
ra=$(cat "$work/a.rps")
rb=$(cat "$work/b.rps")
awk -v a="$ra" -v b="$rb" -v one="$one" -v c="$half" \
    'BEGIN {printf "two instances: %.2f req/s (A %.2f + B %.2f, %d connections each); %.2fx one\n", a + b, a, b, c, (a + b) / one}'
psql -X -q -d "${server%/*}/postgres" -c "DROP DATABASE $name WITH (FORCE)" >/dev/null 2>&1 || true
