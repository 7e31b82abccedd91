#!/usr/bin/env bash
# conduit-pub's exit statuses against a real broker: 0 when accepted, 1 when
# rejected (unknown hub, event not allowed on the hub), for malformed JSON,
# for an unreachable broker (within --timeout) and for a transport a DEALER
# cannot use (PGM: conduit-pub's libzmq has stubs there, which must never
# run), 2 for usage errors; NDJSON reports each bad line by number.
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
e2e_init "$1"
e2e_start 0

# ---- 0: accepted ----------------------------------------------------------
expect_rc 0 pub event --hub SpendNotificationHub --group vkey-1 \
    --target SpendUpdate --data '{"amount":1}'
[ -z "$LAST_ERR" ] || fail "an accepted publish wrote to stderr: $LAST_ERR"
expect_rc 0 pub event --hub /hubs/tasks --group vkey-1 --group vkey-2 \
    --target TaskProgress --args '[{"percent":1},"x"]' --id corr-1
expect_rc 0 pub task --id e2e-exit-1 --type other --key 1 --state started
expect_rc 0 pub task --id e2e-exit-1 --type other --state progress \
    --percent 50 --message half
expect_rc 0 pub spend --key 1 --amount 0.5 --total 10 --budget 100 \
    --provider openai --model gpt-4o --request-id r1
expect_rc 0 pub provider-health --provider openai --status healthy \
    --response-ms 12 --details ok
expect_rc 0 pub webhook --key 1 --url https://example.com/h \
    --status delivered --status-code 200 --attempt 1
expect_rc 0 pub key add --id 50 --name e2e-exit \
    --secret condt_e2e_exitcodes00000000000000000050

# the same through CONDUIT_BROKER and through -c CONFIG
expect_rc 0 env CONDUIT_BROKER="$BROKER_ACK" "$PUB" event \
    --hub SpendNotificationHub --group vkey-1 --target SpendUpdate --data 1
sed "s|^\( *ingress_ack:\).*|\1 $BROKER_ACK|" "$CONF" >"$WORK/conduit.yaml"
cp "$ROOT/etc/hubs.yaml" "$WORK/hubs.yaml"
expect_rc 0 env -u CONDUIT_BROKER "$PUB" -c "$WORK/conduit.yaml" event \
    --hub SpendNotificationHub --group vkey-1 --target SpendUpdate --data 2

# ---- 1: failures ------------------------------------------------------------
expect_rc 1 pub event --hub NoSuchHub --group g --target T --data '{}'
[[ "$LAST_ERR" == "conduit-pub: rejected: "*NoSuchHub* ]] ||
    fail "unknown hub: unexpected message '$LAST_ERR'"
expect_rc 1 pub event --hub SpendNotificationHub --group vkey-1 \
    --target TaskStarted --data '{}'
[[ "$LAST_ERR" == "conduit-pub: rejected: "*TaskStarted* ]] ||
    fail "event not allowed: unexpected message '$LAST_ERR'"
expect_rc 1 pub event --hub SpendNotificationHub --group vkey-1 \
    --target SpendUpdate --data '{"amount":'
[[ "$LAST_ERR" == "conduit-pub: event: --data is not valid JSON: "* ]] ||
    fail "malformed data: unexpected message '$LAST_ERR'"
expect_rc 1 pub event --hub SpendNotificationHub --group vkey-1 \
    --target SpendUpdate --args '{"not":"an array"}'

e2e_alloc_port DEAD
t0=$(date +%s%3N)
expect_rc 1 "$PUB" --broker "tcp://127.0.0.1:$DEAD" --timeout 500 event \
    --hub SpendNotificationHub --group vkey-1 --target SpendUpdate --data 1
t1=$(date +%s%3N)
want="conduit-pub: broker at 'tcp://127.0.0.1:$DEAD' did not answer within 500 ms"
[ "$LAST_ERR" = "$want" ] || fail "unreachable: got '$LAST_ERR', want '$want'"
[ $((t1 - t0)) -lt 3000 ] || fail "unreachable broker took $((t1 - t0)) ms"

# libzmq refuses the PGM transports for a DEALER before any PGM call
for ep in "epgm://127.0.0.1;239.192.1.1:5555" "pgm://127.0.0.1;239.192.1.1:5555"; do
    expect_rc 1 "$PUB" --broker "$ep" --timeout 500 stats
    [[ "$LAST_ERR" == "conduit-pub: cannot connect to '$ep': "*compatible* ]] ||
        fail "$ep: unexpected message '$LAST_ERR'"
done

# ---- NDJSON -----------------------------------------------------------------
ev='{"type":"event","hub":"SpendNotificationHub","group":"vkey-1","target":"SpendUpdate","data":{"n":1}}'
printf '%s\n{"type":\n%s\n\n{"type":"event","hub":"Nope","group":"g","target":"T","data":1}\n[1]\n%s\n' \
    "$ev" "$ev" "$ev" >"$WORK/mixed.ndjson"
expect_rc 1 pub ndjson <"$WORK/mixed.ndjson"
for n in 2 5 6; do
    grep -q "line $n: " <<<"$LAST_ERR" || fail "ndjson: no report for line $n: $LAST_ERR"
done
for n in 1 3 4 7; do
    if grep -q "line $n: " <<<"$LAST_ERR"; then
        fail "ndjson: line $n was reported: $LAST_ERR"
    fi
done
grep -q "line 5: .*Nope" <<<"$LAST_ERR" || fail "ndjson: line 5 lacks the broker's reason: $LAST_ERR"
for i in $(seq 1 500); do echo "$ev"; done >"$WORK/good.ndjson"
expect_rc 0 pub ndjson <"$WORK/good.ndjson"

# ---- 0: stats ---------------------------------------------------------------
expect_rc 0 pub stats
"$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); assert isinstance(d, dict) and d, d' \
    "$LAST_OUT" || fail "stats did not print a JSON object: '$LAST_OUT'"

# ---- 2: usage errors ----------------------------------------------------------
usage() {
    expect_rc 2 "$@"
    [ "$(printf '%s\n' "$LAST_ERR" | wc -l)" = 1 ] ||
        fail "usage error is not one line: $LAST_ERR"
    [[ "$LAST_ERR" == conduit-pub:*--help* ]] ||
        fail "usage error lacks a hint to --help: $LAST_ERR"
}
usage "$PUB"
usage pub frobnicate
usage pub event --hub SpendNotificationHub --target SpendUpdate --data 1
usage pub event --hub H --group g --target T --data 1 --bogus x
usage pub task --id t --type video --state started --percent lots
usage pub task --id t --type audio --state started
usage pub spend --key one --amount 1 --total 1
usage pub key add --id 5
usage pub --timeout soon stats
usage pub ndjson extra-argument
# a name that ZPL cannot hold is refused before anything is written
usage "$PUB" keygen --out "$WORK/named" --name 'say "hi"'
[ ! -e "$WORK/named" ] && [ ! -e "$WORK/named_secret" ] ||
    fail "keygen with a refused --name wrote a file"

expect_rc 0 pub --help
grep -q 'Commands:' <<<"$LAST_OUT" || fail "--help lacks the command list"
expect_rc 0 pub task --help
grep -q -- '--retryable' <<<"$LAST_OUT" || fail "task --help lacks --retryable"
e2e_log "ok"
