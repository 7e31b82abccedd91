#!/usr/bin/env bash
# Issue #3: kill -9 of the broker loses nothing it acknowledged. The node
# script (issue3_restart.mjs) runs across the restart; this shell kills
# the broker with SIGKILL when the script says so and starts a new one on
# the same endpoints and store. Gateways and clients stay up throughout.
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/issue3_lib.sh"
e2e_init "$1"
e2e_start 2
export ISSUE3_SYNC="$WORK/sync" ISSUE3_KEY_4=condt_e2e_issue3_other_tenant_00000004
ISSUE3_KEYS=("$ISSUE3_KEY_4")
mkdir -p "$ISSUE3_SYNC"
e2e_node issue3_restart.mjs &
node_pid=$!
issue3_wait_file "$ISSUE3_SYNC/phase1" 60 "$node_pid"
issue3_kill9_broker
issue3_restart_broker
touch "$ISSUE3_SYNC/restarted"
rc=0
wait "$node_pid" || rc=$?
[ "$rc" = 0 ] || fail "issue3_restart.mjs failed (exit $rc)"
grep -q 'restored 1 task(s) from the store' "$WORK/broker.log" ||
    fail "the restarted broker did not report the restored task"
issue3_no_key_material
e2e_log "ok"
