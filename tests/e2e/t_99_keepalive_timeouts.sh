#!/usr/bin/env bash
# Keep-alive and client timeout (issue #4): with gateway.client_timeout_ms
# 1500, a raw client that handshakes and then neither sends nor reads is
# closed after the timeout (Close with allowReconnect) and counted, while
# a client that pings stays (issue4gw_keepalive.py); an official client
# whose process is SIGSTOPped (its kernel still acknowledges: half-open as
# far as the gateway can tell) is closed the same way and reconnects by
# itself once continued (issue4gw_stopped.mjs). The connection count
# returns to its previous value each time; an official neighbour keeps
# receiving its events.
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/issue4gw_lib.sh"
e2e_init "$1"
E2E_GATEWAY_OPTS=(-o gateway.client_timeout_ms=1500 -o gateway.keepalive_ms=500)
e2e_start 1
export NEIGHBOUR_KEEPALIVE_MS=300
issue4gw_neighbour_start "$GW1"

"$PY" "$E2E_DIR/issue4gw_keepalive.py" "$GW1" || fail "silent client"

conns=$(issue4gw_metric "$GW1" conduit_gateway_connections)
timeouts=$(issue4gw_metric "$GW1" conduit_gateway_client_timeouts_total)
e2e_spawn stopped "$NODE" "$E2E_DIR/issue4gw_stopped.mjs" "$GW1" "$WORK/stopped.ready"
for ((i = 0; i < 150; i++)); do
    [ -f "$WORK/stopped.ready" ] && break
    e2e_alive stopped || fail "the client to stop exited: $(tail -5 "$WORK/stopped.log")"
    sleep 0.1
done
[ -f "$WORK/stopped.ready" ] || fail "the client to stop did not connect"
issue4gw_wait_metric "$GW1" conduit_gateway_connections $((conns + 1)) 5
pid=$(e2e_pid_of stopped)
kill -STOP "$pid"
start=$(date +%s%3N)
issue4gw_wait_metric "$GW1" conduit_gateway_connections "$conns" 6
took=$(($(date +%s%3N) - start))
[ "$(issue4gw_metric "$GW1" conduit_gateway_client_timeouts_total)" = $((timeouts + 1)) ] ||
    fail "the stopped client's timeout was not counted"
[ "$took" -ge 1000 ] || fail "the stopped client was closed after only $took ms"
e2e_log "SIGSTOPped client closed $took ms after the stop"
kill -CONT "$pid"
for ((i = 0; i < 150; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$pid" 2>/dev/null && fail "the continued client did not reconnect within 15 s"
st=0
wait "$pid" || st=$?
cp "$WORK/stopped.log" "$WORK/stopped.done.log"
e2e_forget stopped
[ "$st" = 0 ] || { cat "$WORK/stopped.done.log" >&2; fail "the continued client failed"; }
e2e_log "$(grep 'reconnected' "$WORK/stopped.done.log" | tail -1)"
issue4gw_wait_metric "$GW1" conduit_gateway_connections "$conns" 5

issue4gw_neighbour_stop
e2e_log "ok"
