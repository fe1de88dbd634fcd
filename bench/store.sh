#!/usr/bin/env bash
# Storage core: presigns per second on one core, and a 1 GiB streamed write
# through the fs driver with its peak RSS.
# usage: bench/store.sh [PRESIGNS] [MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build/bench/store_bench
n=${1:-200000}
mib=${2:-1024}
taskset -c 0 build/bench/store_bench presign "$n"
dir=$(mktemp -d /tmp/silo-bench-store-XXXXXX)
bash bench/rss.sh build/bench/store_bench write "$dir" "$mib"
rm -rf "$dir"
