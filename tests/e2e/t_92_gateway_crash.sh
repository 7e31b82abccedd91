#!/usr/bin/env bash
# Issue #4: two gateways share one port (gateway.reuseport, the same
# gateway.listen). The clients negotiate, and the kernel may hand the
# WebSocket upgrade to the gateway that did not answer the negotiate: 20
# negotiate-based connections must all open while both are alive (the
# connection token is signed with the broker's secret, gateway/tokens.h).
# Then one gateway is killed with SIGKILL. Its clients reconnect
# through the same address to the survivor, get their auto-joined groups
# back, and re-invoke their explicit subscriptions in onreconnected; the
# broker forgets the dead gateway after broker.gateway_timeout_ms (2000
# ms here) and stops routing to it (issue4_gwcrash.mjs).
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/issue4_lib.sh"
e2e_init "$1"
E2E_BROKER_OPTS=(-o broker.gateway_timeout_ms=2000)
e2e_start 0
issue4_start_shared_gateways
export ISSUE4_SYNC="$WORK/sync"
mkdir -p "$ISSUE4_SYNC"
e2e_node issue4_gwcrash.mjs &
node_pid=$!
for ((i = 0; i < 600; i++)); do
    [ -e "$ISSUE4_SYNC/ready" ] && break
    kill -0 "$node_pid" 2>/dev/null || break
    sleep 0.1
done
[ -e "$ISSUE4_SYNC/ready" ] || { wait "$node_pid"; fail "issue4_gwcrash.mjs did not get ready"; }
pid=$(e2e_pid_of gwB)
kill -KILL "$pid"
e2e_forget gwB
mv "$WORK/gwB.failed-start.log" "$WORK/gwB-killed.log"
e2e_log "killed gwB (pid $pid) with SIGKILL"
touch "$ISSUE4_SYNC/killed"
rc=0
wait "$node_pid" || rc=$?
[ "$rc" = 0 ] || fail "issue4_gwcrash.mjs failed (exit $rc)"
grep -q "forgetting gateway 'gwB': silent for" "$WORK/broker.log" ||
    fail "the broker did not log that it forgot gwB"
e2e_log "ok"
