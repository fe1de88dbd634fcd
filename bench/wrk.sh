#!/usr/bin/env bash
# Request rate and latency of one URL under wrk.
# usage: bench/wrk.sh URL [SECONDS] [CONNECTIONS] [THREADS] [-- extra wrk args]
# Prints one line: url, requests/s, p50, p90, p99 (ms).
set -euo pipefail
url=$1
seconds=${2:-10}
conns=${3:-32}
threads=${4:-2}
[ "$threads" -gt "$conns" ] && threads=$conns
shift $(( $# < 4 ? $# : 4 ))
[ "${1:-}" = "--" ] && shift
out=$(wrk -t"$threads" -c"$conns" -d"${seconds}s" --latency "$@" "$url")
rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
pct() { echo "$out" | awk -v p="$1" '$1 == p {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; printf "%.2f", v}'; }
errors=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
printf '%s  %s req/s  p50 %s ms  p90 %s ms  p99 %s ms  (%s conns, %ss) %s\n' "$url" "$rps" "$(pct 50%)" "$(pct 90%)" "$(pct 99%)" "$conns" "$seconds" "$errors"
