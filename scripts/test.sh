#!/usr/bin/env bash
# Runs every test and ends with one line "N passed, N failed".
#   0. starts a throwaway PostgreSQL cluster (scripts/pg.sh) and exports its
#      URL as DATABASE_URL_TEST, so the db suite runs on it as well as on
#      SQLite; when it cannot start, those tests are skipped. The cluster is
#      removed on exit, whatever happened. A DATABASE_URL_TEST set already
#      is used as it is.
#   1. the include-layer check (scripts/layers.py: every include points down)
#   2. each C unit test (ASan/UBSan build) under build/asan/unit/
#   3. the black-box suite (pytest) against the ASan/UBSan binary
# Exit status is non-zero when anything failed.
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
results=build/test-results
mkdir -p "$results"
export SILO_SHARED_DIR=${SILO_SHARED_DIR:-$(cd .. && pwd)/shared}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

echo "== PostgreSQL"
if [ -n "${DATABASE_URL_TEST:-}" ]; then
    echo "ok   DATABASE_URL_TEST from the environment"
else
    pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/silo-pg.XXXXXX")
    trap 'bash scripts/pg.sh stop "$pg_dir"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    if pg_url=$(bash scripts/pg.sh start "$pg_dir" 2>"$results/pg.log"); then
        export DATABASE_URL_TEST=$pg_url
        echo "ok   $pg_url"
    else
        echo "skip PostgreSQL did not start, its tests are skipped; log: $results/pg.log"
        tail -3 "$results/pg.log"
    fi
fi

echo "== include layers"
if /usr/bin/python3 scripts/layers.py >"$results/layers.log" 2>&1; then
    passed=$((passed + 1))
    echo "ok   $(tail -1 "$results/layers.log")"
else
    failed=$((failed + 1))
    echo "FAIL include layers; log: $results/layers.log"
    head -20 "$results/layers.log"
fi

echo "== C unit tests"
for t in build/asan/unit/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    out="$results/$name.log"
    "$t" >"$out" 2>&1
    rc=$?
    # A program may run several cmocka groups: add up every summary line.
    p=$(sed -n 's/.*\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | awk '{s += $1} END {print s + 0}')
    f=$(sed -n 's/.*\[  FAILED  \] \([0-9]*\) test(s), listed below:.*/\1/p' "$out" | awk '{s += $1} END {print s + 0}')
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1 # crashed, or a sanitizer stopped it
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$f" -ne 0 ]; then
        echo "FAIL $name ($p passed, $f failed); log: $out"
        grep -E "FAILED|ERROR|error|Sanitizer" "$out" | head -20
    else
        echo "ok   $name ($p passed)"
    fi
done

echo "== black-box tests"
export SILO_BIN=${SILO_BIN:-build/asan/silo}
junit="$results/blackbox.xml"
rm -f "$junit"
/usr/bin/python3 -m pytest -q -rfE -p no:cacheprovider --junitxml="$junit" tests/blackbox "$@"
if [ -f "$junit" ]; then
    read -r bt bf be bs < <(/usr/bin/python3 - "$junit" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root)
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) for s in suites)
e = sum(int(s.get("errors", 0)) for s in suites)
s = sum(int(x.get("skipped", 0)) for x in suites)
print(t, f, e, s)
PY
)
    passed=$((passed + bt - bf - be - bs))
    failed=$((failed + bf + be))
else
    echo "pytest produced no report"
    failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
