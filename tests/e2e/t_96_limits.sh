#!/usr/bin/env bash
# The gateway's limits are enforced, each with a clear refusal and a
# /metrics count (issue #4): gateway.handshake_timeout_ms (also for a
# connection that never sends its request), gateway.max_header_bytes,
# gateway.max_message_bytes, gateway.invocations_per_sec (blocking calls
# get the rate-limit error, non-blocking ones are dropped but counted),
# gateway.max_connections (503 at negotiate and upgrade) and
# gateway.connects_per_ip_per_sec (429 at negotiate and skipNegotiation
# upgrade), from a raw client (issue4gw_limits.py) and from the official
# client (issue4gw_limits.mjs). An official neighbour on the gateway with
# most of the limits receives every one of its events throughout.
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/issue4gw_lib.sh"
e2e_init "$1"
E2E_GATEWAY_OPTS=(-o gateway.max_message_bytes=4096
    -o gateway.handshake_timeout_ms=1500 -o gateway.max_header_bytes=2048
    -o gateway.invocations_per_sec=5)
e2e_start 1
E2E_GATEWAY_OPTS=()
issue4gw_up_gateway gwC GWC_PORT -o gateway.max_connections=5
issue4gw_up_gateway gwD GWD_PORT -o gateway.connects_per_ip_per_sec=5
GWC=http://127.0.0.1:$GWC_PORT
GWD=http://127.0.0.1:$GWD_PORT

issue4gw_neighbour_start "$GW1"
"$PY" "$E2E_DIR/issue4gw_limits.py" "$GW1" "$GWC" "$GWD" || fail "limits (raw client)"
e2e_node issue4gw_limits.mjs "$GW1" "$GWC" "$GWD"
issue4gw_neighbour_stop

# nothing leaked: every connection of the test is gone
for gw in "$GW1" "$GWC" "$GWD"; do
    issue4gw_wait_metric "$gw" conduit_gateway_connections 0 10
done
e2e_log "ok"
