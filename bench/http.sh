#!/usr/bin/env bash
# Request rate of silo's health route: the floor every other route stands on.
# usage: bench/http.sh [SECONDS]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
seconds=${1:-10}
silo_start --threads 4
echo "== GET /healthz, $(nproc) cores, silo --threads 4"
for c in 1 32 128; do
    bash "$BENCH_ROOT/bench/wrk.sh" "$SILO_API/healthz" "$seconds" "$c" 2
done
silo_stop
