#!/usr/bin/env bash
# `make fuzz`: runs each libFuzzer target for FUZZ_SECONDS (default 60),
# with its corpus in build/fuzz/corpus/NAME, seeded from tests/fuzz/seeds/NAME.
set -u
seconds=${FUZZ_SECONDS:-60}
status=0
for bin in "$@"; do
    name=$(basename "$bin")
    corpus=build/fuzz/corpus/$name
    mkdir -p "$corpus"
    seeds=tests/fuzz/seeds/$name
    [ -d "$seeds" ] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null
    echo "== $name for ${seconds}s"
    if ! "$bin" -max_total_time="$seconds" -print_final_stats=1 "$corpus" >build/fuzz/$name.log 2>&1; then
        echo "FAIL $name: see build/fuzz/$name.log"
        tail -30 build/fuzz/$name.log
        status=1
    else
        grep -E "stat::number_of_executed_units|Done" build/fuzz/$name.log | tail -2
    fi
done
exit $status
