#!/usr/bin/env bash
# Issue #4: the broker is killed with SIGKILL while clients are connected
# through two gateways (issue4_restart.mjs drives the clients). While it
# is frozen (SIGSTOP) and while it is down, an invocation gets an error
# Completion within gateway.invoke_timeout_ms (1500 ms here), and
# conduit-pub exits 1 within its --timeout without reporting success. After a restart on the same
# endpoints and store, events reach the same clients without any
# reconnection, including the groups they joined by invocation.
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/issue3_lib.sh"
. "$(dirname "$0")/issue4_lib.sh"
e2e_init "$1"
E2E_GATEWAY_OPTS=(-o gateway.invoke_timeout_ms=1500)
e2e_start 2
export ISSUE4_SYNC="$WORK/sync"
mkdir -p "$ISSUE4_SYNC"
e2e_node issue4_restart.mjs &
node_pid=$!
issue3_wait_file "$ISSUE4_SYNC/phase1" 60 "$node_pid"
kill -STOP "$(e2e_pid_of broker)"
touch "$ISSUE4_SYNC/frozen"
e2e_log "froze the broker (SIGSTOP)"
issue3_wait_file "$ISSUE4_SYNC/frozen-done" 30 "$node_pid"
kill -CONT "$(e2e_pid_of broker)"
issue3_kill9_broker
touch "$ISSUE4_SYNC/down"

# conduit-pub while the broker is down: exit 1 within its timeout
for cmd in "event --hub TaskHub --group vkey-1 --target TaskProgress --data {}" stats; do
    t0=$(date +%s%3N)
    rc=0
    # shellcheck disable=SC2086
    out=$("$PUB" --broker "$BROKER_ACK" --timeout 1000 $cmd 2>"$WORK/down.err") || rc=$?
    took=$(($(date +%s%3N) - t0))
    [ "$rc" = 1 ] || fail "conduit-pub $cmd exited $rc with the broker down (stdout: $out)"
    [ -z "$out" ] || fail "conduit-pub $cmd printed '$out' with the broker down"
    [ "$took" -lt 2500 ] || fail "conduit-pub $cmd took $took ms with --timeout 1000"
    grep -q 'did not answer within 1000 ms' "$WORK/down.err" ||
        fail "conduit-pub $cmd: unexpected reason: $(cat "$WORK/down.err")"
    e2e_log "conduit-pub $cmd with the broker down: exit 1 after $took ms"
done

issue3_wait_file "$ISSUE4_SYNC/invoked" 30 "$node_pid"
issue3_restart_broker
touch "$ISSUE4_SYNC/restarted"
rc=0
wait "$node_pid" || rc=$?
[ "$rc" = 0 ] || fail "issue4_restart.mjs failed (exit $rc)"
e2e_log "ok"
