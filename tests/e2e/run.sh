#!/usr/bin/env bash
# Runs every end-to-end test, tests/e2e/t_*.sh, in name order, each under a
# time limit, against the programs in BUILD_DIR. Prints PASS or FAIL per
# test (with the failing test's output), then exactly "N passed, N failed",
# and exits non-zero if any test failed.
#
#   tests/e2e/run.sh BUILD_DIR [NAME-PATTERN]
#
# E2E_TEST_TIMEOUT (seconds, default 120) bounds each test; E2E_KEEP=1
# keeps each test's temporary directory (logs, store).
#
# SPDX-License-Identifier: MIT
set -uo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 BUILD_DIR [NAME-PATTERN]" >&2
    exit 2
fi
dir=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" 2>/dev/null && pwd) || {
    echo "run.sh: no build directory '$1'" >&2
    exit 2
}
pattern=${2:-}
limit=${E2E_TEST_TIMEOUT:-120}

passed=0
failed=0
failures=()
out=$(mktemp /tmp/cdt-e2e-out.XXXXXX)
trap 'rm -f "$out"' EXIT

for t in "$dir"/t_*.sh; do
    [ -e "$t" ] || continue
    name=$(basename "$t" .sh)
    if [ -n "$pattern" ] && [[ "$name" != *$pattern* ]]; then
        continue
    fi
    start=$(date +%s%3N)
    timeout -k 10 "$limit" bash "$t" "$build" >"$out" 2>&1
    rc=$?
    ms=$(($(date +%s%3N) - start))
    secs=$((ms / 1000)).$((ms % 1000 / 100))
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
        echo "PASS $name (${secs}s)"
    else
        failed=$((failed + 1))
        failures+=("$name")
        why="exit $rc"
        [ $rc -eq 124 ] && why="timed out after ${limit}s"
        echo "FAIL $name (${secs}s, $why)"
        sed 's/^/    /' "$out"
    fi
done

if [ $failed -gt 0 ]; then
    echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ] && [ $passed -gt 0 ]
