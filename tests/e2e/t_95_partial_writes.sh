#!/usr/bin/env bash
# Partial direct writes (issue #5): on plain TCP the gateway writes event
# frames straight to the socket and hands what the socket did not take to
# libwebsockets (gateway/conn.c s_send_direct). A raw client with a 4 KB
# receive buffer stops reading while 6 events are published, each larger
# than the kernel lets a TCP send buffer grow (net.ipv4.tcp_wmem's
# maximum), so the first direct write cannot be taken whole whatever the
# buffer's autotuning did; the queue stays under gateway.max_queue_bytes,
# so the reader is backed up but not a slow consumer. It sends a
# WebSocket Ping meanwhile, then reads everything (issue5_partial.py):
# every frame parses, every event is whole and in order, the Pong comes
# between two frames. /metrics counts the partial writes; an official
# neighbour keeps receiving its own events throughout.
#
# (With events of 600 KB, a few fitted whole into a send buffer grown to
# 4 MB, the full socket then never became writable while the reader
# slept, and no partial write happened in about one run of three.)
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/issue4gw_lib.sh"
e2e_init "$1"
EVENTS=6
wmem_max=$(awk '{ print $3 }' /proc/sys/net/ipv4/tcp_wmem 2>/dev/null)
SIZE=$((${wmem_max:-4194304} + 262144))
E2E_BROKER_OPTS=(-o "broker.max_ingress_bytes=$((2 * SIZE))")
E2E_GATEWAY_OPTS=(-o "gateway.max_queue_bytes=$((4 * EVENTS * SIZE))")
e2e_start 1
issue4gw_neighbour_start "$GW1"

e2e_spawn reader timeout -k 5 90 "$PY" "$E2E_DIR/issue5_partial.py" "$GW1" \
    "$EVENTS" "$SIZE" "$WORK/reader.ready" "$WORK/reader.stop"
for ((i = 0; i < 300; i++)); do
    [ -f "$WORK/reader.ready" ] && break
    e2e_alive reader || fail "reader exited while connecting: $(tail -5 "$WORK/reader.log")"
    sleep 0.1
done
[ -f "$WORK/reader.ready" ] || fail "reader did not connect within 30 s"
partial0=$(issue4gw_metric "$GW1" conduit_gateway_writes_partial_total)

"$PY" - "$EVENTS" "$SIZE" >"$WORK/stream.ndjson" <<'PYEOF'
import json, sys
n, size = int(sys.argv[1]), int(sys.argv[2])
for i in range(1, n + 1):
    print(json.dumps({"type": "event", "hub": "SystemNotificationHub",
                      "group": "vkey-1",
                      "target": "SystemAnnouncement",
                      "data": {"seq": i, "pad": "x" * size}}))
PYEOF
pub ndjson <"$WORK/stream.ndjson" >/dev/null || fail "publishing the stream failed"
# the gateway has queued what the socket would not take
for ((i = 0; i < 100; i++)); do
    p=$(issue4gw_metric "$GW1" conduit_gateway_writes_partial_total)
    [ "${p%.*}" -gt "${partial0%.*}" ] && break
    sleep 0.1
done
[ "${p%.*}" -gt "${partial0%.*}" ] || fail "no partial write counted ($p)"
e2e_log "partial writes: $((${p%.*} - ${partial0%.*}))"
touch "$WORK/reader.stop.ping"
sleep 0.5
touch "$WORK/reader.stop"
pid=$(e2e_pid_of reader)
st=0
wait "$pid" || st=$?
cp "$WORK/reader.log" "$WORK/reader.done.log"
e2e_forget reader
[ "$st" = 0 ] || { cat "$WORK/reader.done.log" >&2; fail "the reader's check failed"; }
grep 'partial:' "$WORK/reader.done.log" >&2
closes=$(issue4gw_metric "$GW1" conduit_gateway_slow_consumer_closes_total)
[ "$closes" = 0 ] || fail "the backed-up reader was closed as a slow consumer"
issue4gw_neighbour_stop
e2e_log "ok"
