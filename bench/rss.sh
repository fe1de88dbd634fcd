#!/usr/bin/env bash
# Peak resident memory of a command, from /usr/bin/time -v.
# usage: bench/rss.sh COMMAND [ARGS...]   -> prints "peak_rss_kib N" after the command's output
set -euo pipefail
log=$(mktemp)
status=0
/usr/bin/time -v -o "$log" "$@" || status=$?
rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
echo "peak_rss_kib $rss wall $wall status $status"
rm -f "$log"
exit $status
