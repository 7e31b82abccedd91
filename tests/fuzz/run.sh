#!/usr/bin/env bash
# run.sh - build and run every libFuzzer target in tests/fuzz/ for a bounded
# time (make fuzz).
#
# Each tests/fuzz/fuzz_X.c is linked with clang -fsanitize=fuzzer,address,
# undefined against an archive of every common/*.c, proto/*.c and
# gateway/hubproto_json.c object (so a target pulls only what it uses),
# into build/fuzz/fuzz_X. It then runs for FUZZ_SECONDS (default 30) from
# a scratch corpus under build/fuzz/corpus/fuzz_X/ seeded with the
# committed tests/fuzz/corpus/fuzz_X/ (which is never written to), plus
# tests/fuzz/fuzz_X.dict when present. Crash inputs land in
# build/fuzz/artifacts/. The script fails if any target fails to build or
# finds a crash, leak or timeout.
#
#   FUZZ_SECONDS=300 tests/fuzz/run.sh            all targets, 5 minutes each
#   tests/fuzz/run.sh fuzz_json fuzz_link         only these
#
# SPDX-License-Identifier: MIT
set -euo pipefail

cd "$(dirname "$0")/../.."
SECONDS_EACH=${FUZZ_SECONDS:-30}
OUT=build/fuzz
CC=${FUZZ_CC:-clang}
PKGS="libczmq libzmq libwebsockets msgpack yaml-0.1 lmdb libcrypto"

if ! command -v "$CC" >/dev/null; then
    echo "run.sh: '$CC' not found (libFuzzer needs clang)" >&2
    exit 1
fi

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
CFLAGS="-std=c11 -D_DEFAULT_SOURCE -g -O1 -fno-omit-frame-pointer -I. \
    $(pkg-config --cflags $PKGS)"
LIBS="$(pkg-config --libs $PKGS) -lm"

mkdir -p "$OUT/obj" "$OUT/artifacts"

# The library under test, compiled once for all targets.
srcs=(common/*.c proto/*.c)
[ -f gateway/hubproto_json.c ] && srcs+=(gateway/hubproto_json.c)
objs=()
for src in "${srcs[@]}"; do
    obj="$OUT/obj/${src//\//_}.o"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] ||
        [ -n "$(find "$(dirname "$src")" common proto -name '*.h' \
            -newer "$obj" -print -quit)" ]; then
        echo "  CC      $src"
        $CC $CFLAGS $SAN -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
    fi
    objs+=("$obj")
done
rm -f "$OUT/libfuzzsrc.a"
ar rcs "$OUT/libfuzzsrc.a" "${objs[@]}"

if [ $# -gt 0 ]; then
    targets=()
    for t in "$@"; do targets+=("tests/fuzz/${t%.c}.c"); done
else
    targets=(tests/fuzz/fuzz_*.c)
fi

failed=()
for src in "${targets[@]}"; do
    name=$(basename "$src" .c)
    bin="$OUT/$name"
    echo "  LD      $bin"
    if ! $CC $CFLAGS $SAN -fsanitize=fuzzer "$src" "$OUT/libfuzzsrc.a" \
        $LIBS -o "$bin"; then
        failed+=("$name (build)")
        continue
    fi
    work="$OUT/corpus/$name"
    mkdir -p "$work"
    seeds=()
    [ -d "tests/fuzz/corpus/$name" ] && seeds+=("tests/fuzz/corpus/$name")
    dict=()
    [ -f "tests/fuzz/$name.dict" ] && dict+=("-dict=tests/fuzz/$name.dict")
    echo "== $name for ${SECONDS_EACH}s"
    if ! "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$OUT/artifacts/$name-" "${dict[@]}" \
        "$work" "${seeds[@]}" > "$OUT/$name.log" 2>&1; then
        failed+=("$name")
        tail -n 40 "$OUT/$name.log" >&2
        echo "== $name FAILED (log: $OUT/$name.log)" >&2
    else
        grep -E '^stat::(number_of_executed_units|new_units_added):' \
            "$OUT/$name.log" | sed 's/^/   /' || true
        echo "== $name ok"
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: ok"
