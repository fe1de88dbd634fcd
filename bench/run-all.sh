#!/usr/bin/env bash
# `make bench`: every benchmark, in order. Results go to stdout; copy the
# figures into docs/benchmarks.md with the command that produced them.
set -euo pipefail
cd "$(dirname "$0")/.."
for b in bench/http.sh bench/store.sh bench/api.sh bench/recordings.sh bench/videos.sh bench/s3.sh bench/remote.sh bench/scale.sh bench/transcribe.sh; do
    echo "### $b"
    bash "$b"
done
