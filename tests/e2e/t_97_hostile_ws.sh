#!/usr/bin/env bash
# Hostile input against a gateway (issue #4): malformed WebSocket frames
# (reserved opcodes, RSV bits, fragmented, oversize or stray frames),
# invalid UTF-8, bad JSON, deep nesting, out-of-range numbers, invalid hub
# messages, a binary frame, garbage instead of HTTP (a raw Python client,
# issue4gw_hostile.py), and wrong argument types from the official client
# (issue4gw_hostile.mjs). Each gets its documented refusal and its
# /metrics counter; an official neighbour on the same gateway receives
# every one of its events throughout, and the gateway neither crashes nor
# reports a sanitizer error.
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/issue4gw_lib.sh"
e2e_init "$1"
e2e_start 1

issue4gw_neighbour_start "$GW1"
conns=$(issue4gw_metric "$GW1" conduit_gateway_connections)

"$PY" "$E2E_DIR/issue4gw_hostile.py" "$GW1" || fail "hostile input"
e2e_node issue4gw_hostile.mjs

# every hostile connection is gone; only the neighbour is left
issue4gw_wait_metric "$GW1" conduit_gateway_connections "$conns" 10
issue4gw_neighbour_stop
e2e_alive gwA || fail "the gateway died"
e2e_log "ok"
