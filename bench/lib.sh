#!/usr/bin/env bash
# Shared helpers for the benchmark scripts: start and stop a silo on free
# loopback ports with a throwaway data directory, under /usr/bin/time -v so
# its peak RSS is known when it stops.
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SILO=${SILO:-$BENCH_ROOT/build/silo}

# silo_start [extra serve args...]: sets SILO_API, SILO_S3, SILO_DIR, SILO_PID, SILO_TIME_LOG
silo_start() {
    SILO_DIR=$(mktemp -d /tmp/silo-bench-XXXXXX)
    SILO_TIME_LOG=$SILO_DIR/time.log
    /usr/bin/time -v -o "$SILO_TIME_LOG" "$SILO" serve --listen 127.0.0.1:0 --s3-listen 127.0.0.1:0 \
        --data "$SILO_DIR/data" "$@" >"$SILO_DIR/out" 2>"$SILO_DIR/log" &
    SILO_PID=$!
    for _ in $(seq 100); do
        SILO_API=$(sed -n 's/^api: //p' "$SILO_DIR/out")
        [ -n "$SILO_API" ] && break
        sleep 0.1
    done
    SILO_S3=$(sed -n 's/^s3: //p' "$SILO_DIR/out")
    [ -n "$SILO_API" ] || { echo "silo did not start"; cat "$SILO_DIR/log"; exit 1; }
}

# silo_stop: stops the silo started by silo_start, prints its peak RSS (KiB)
silo_stop() {
    # /usr/bin/time is the direct child; silo is its child.
    local child
    child=$(pgrep -P "$SILO_PID" || true)
    [ -n "$child" ] && kill -TERM "$child"
    wait "$SILO_PID" || true
    SILO_PEAK_RSS=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$SILO_TIME_LOG")
    echo "silo peak RSS: ${SILO_PEAK_RSS} KiB"
    rm -rf "$SILO_DIR"
}
