#!/usr/bin/env bash
# Issue #4: a configuration file with values of the wrong type is refused
# by `--check-config` of both programs with exit status 1 and a
# `file:line: reason` message naming the offending line (several kinds:
# a string for an integer, a word for a boolean, a scalar for a list, a
# mapping for a list, a list for a string, a scalar for a mapping, a word
# for a number, a fraction for an integer, an integer out of range, a
# list item's field). The unmodified etc/conduit.yaml passes.
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
e2e_init "$1"

# bad NAME LINE YAML... : writes $WORK/NAME.yaml from the YAML lines; the
# error must be reported at LINE.
n=0
bad() {
    local name=$1 line=$2 prog rc
    shift 2
    printf '%s\n' "$@" >"$WORK/$name.yaml"
    for prog in "$BROKER_BIN" "$GATEWAY_BIN"; do
        rc=0
        (cd "$WORK" && "$prog" -c "$name.yaml" --check-config) \
            >"$WORK/out.txt" 2>"$WORK/err.txt" || rc=$?
        [ "$rc" = 1 ] ||
            fail "$(basename "$prog") --check-config of $name.yaml exited $rc, expected 1 ($(head -c 300 "$WORK/err.txt"))"
        grep -Eq "^$(basename "$prog"): $name\.yaml:$line: [^ ]" "$WORK/err.txt" ||
            fail "$(basename "$prog") --check-config of $name.yaml: no '$name.yaml:$line: reason' line in: $(head -c 300 "$WORK/err.txt")"
    done
    n=$((n + 1))
    e2e_log "$name.yaml: refused at line $line by both: $(head -n 1 "$WORK/err.txt" | cut -d: -f4-)"
}

bad int-as-string 4 "log:" "  level: info" "broker:" "  heartbeat_ms: \"soon\""
bad bool-as-word 4 "log:" "  level: info" "gateway:" "  reuseport: maybe"
bad list-as-scalar 2 "spend:" "  thresholds: 80"
bad list-as-map 2 "keys:" "  name: demo"
bad string-as-list 2 "broker:" "  ingress: [a, b]"
bad strings-as-map 2 "gateway:" "  cors_origins: {a: 1}"
bad map-as-scalar 1 "broker: 5"
bad number-as-word 2 "spend:" "  unusual_multiple: lots"
bad int-as-fraction 3 "gateway:" "  listen: 127.0.0.1:5000" "  max_connections: 1.5"
bad int-overflow 2 "broker:" "  heartbeat_ms: 99999999999999999999999"
bad key-field 3 "keys:" "  - name: demo" "    id: one" "    hash: 0000000000000000000000000000000000000000000000000000000000000000"
[ $n = 11 ] || fail "only $n bad files checked"

for prog in "$BROKER_BIN" "$GATEWAY_BIN"; do
    "$prog" -c "$CONF" --check-config >"$WORK/out.txt" 2>"$WORK/err.txt" ||
        fail "$(basename "$prog") --check-config refused etc/conduit.yaml: $(cat "$WORK/err.txt")"
done
e2e_log "ok"
