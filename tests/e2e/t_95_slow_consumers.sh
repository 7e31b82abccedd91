#!/usr/bin/env bash
# Slow consumers (issue #4): 100 clients on one gateway in one broadcast
# group; 90 are official clients (issue4gw_fast.mjs, three processes) and
# 10 are raw sockets with a 4 KB receive buffer that stop reading after
# the handshake (issue4gw_slow.py). A stream of 200 events of 32 KB is
# published. The 90 receive every event, in order, without a close; the
# 10 are closed as slow consumers and counted in /metrics; the gateway's
# RSS stays under the bound below while the stream runs.
#
# The bound: with gateway.max_queue_bytes Q (512 KiB here) a slow consumer
# holds at most Q bytes of queued frames plus lws' copy of one unfinished
# write (64 KiB of coalesced frames), so the ten cost at most 10 x 576 KiB
# = 5.6 MiB; the fast ones each hold at most one unfinished write too
# (90 x 64 KiB = 5.6 MiB); frames are shared, so the stream itself is at
# most the frames still queued somewhere. Plus 4 MiB for the allocator,
# and in a sanitizer build 16 MiB more for ASan's quarantine of freed
# blocks (limited to that here). Measured: about +1 MiB in the plain
# build, +18 MiB with ASan.
#
# SPDX-License-Identifier: MIT
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}:quarantine_size_mb=16"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/issue4gw_lib.sh"
e2e_init "$1"
QUEUE=524288
EVENTS=200
SIZE=32000
E2E_GATEWAY_OPTS=(-o gateway.max_queue_bytes=$QUEUE)
e2e_start 1

for i in 1 2 3; do
    e2e_spawn "fast$i" timeout -k 5 100 "$NODE" "$E2E_DIR/issue4gw_fast.mjs" \
        "$GW1" 30 "$EVENTS" "$WORK/fast$i.ready"
done
e2e_spawn slow timeout -k 5 110 "$PY" "$E2E_DIR/issue4gw_slow.py" "$GW1" 10 \
    "$WORK/slow.ready" "$WORK/slow.stop"
for f in fast1 fast2 fast3 slow; do
    for ((i = 0; i < 300; i++)); do
        [ -f "$WORK/$f.ready" ] && break
        e2e_alive "$f" || fail "$f exited while connecting: $(tail -5 "$WORK/$f.log")"
        sleep 0.1
    done
    [ -f "$WORK/$f.ready" ] || fail "$f did not connect within 30 s"
done
issue4gw_wait_metric "$GW1" conduit_gateway_connections 100 10
[ "$(issue4gw_metric "$GW1" 'conduit_gateway_connections_by_hub{hub="SystemNotificationHub"}')" = 100 ] ||
    fail "connections per hub: $(curl -s "$GW1/metrics" | grep connections_by_hub)"
deliveries0=$(issue4gw_metric "$GW1" conduit_gateway_deliveries_total)

gw_pid=$(e2e_pid_of gwA)
rss0=$(issue4gw_rss_kb "$gw_pid")
slack=$((4 * 1024))
if ldd "$GATEWAY_BIN" | grep -q libasan; then
    slack=$((slack + 16 * 1024))
fi
bound=$((rss0 + 10 * (QUEUE / 1024 + 64) + 90 * 64 + slack))
e2e_log "gateway RSS before the stream: $rss0 KiB; bound $bound KiB"
# sample the RSS every 50 ms while the stream runs (bounded: 120 s)
(
    max=0
    for ((i = 0; i < 2400; i++)); do
        [ -f "$WORK/sampler.stop" ] && break
        r=$(issue4gw_rss_kb "$gw_pid" 2>/dev/null) || break
        [ "${r:-0}" -gt "$max" ] && max=$r && echo "$max" >"$WORK/rss.max"
        sleep 0.05
    done
) &
sampler=$!

"$PY" - "$EVENTS" "$SIZE" >"$WORK/stream.ndjson" <<'PYEOF'
import json, sys
n, size = int(sys.argv[1]), int(sys.argv[2])
for i in range(1, n + 1):
    print(json.dumps({"type": "event", "hub": "SystemNotificationHub",
                      "group": "system-notifications",
                      "target": "SystemAnnouncement",
                      "data": {"seq": i, "pad": "x" * size}}))
PYEOF
# paced (about 50 events a second, 1.6 MB/s per client): the bound is
# for clients that fall behind, and a burst faster than any client reads
# would leave everyone behind
split -l 10 -d -a 3 "$WORK/stream.ndjson" "$WORK/chunk."
t0=$(date +%s%3N)
for f in "$WORK"/chunk.*; do
    pub ndjson <"$f" >/dev/null || fail "publishing the stream failed"
    sleep 0.2
done
t1=$(date +%s%3N)
e2e_log "published $EVENTS events of $SIZE bytes in $((t1 - t0)) ms"

for i in 1 2 3; do
    pid=$(e2e_pid_of "fast$i")
    for ((t = 0; t < 900; t++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && fail "fast$i still waiting for events after 90 s"
    st=0
    wait "$pid" || st=$?
    cp "$WORK/fast$i.log" "$WORK/fast$i.done.log"
    e2e_forget "fast$i"
    [ "$st" = 0 ] || { cat "$WORK/fast$i.done.log" >&2; fail "fast$i failed"; }
    e2e_log "$(grep 'fast:' "$WORK/fast$i.done.log" | tail -1)"
done
# the slow ones did not hold the others back: the last event reached all
# 90 soon after it was published (the processes poll every 20 ms)
late=$(($(date +%s%3N) - t1))
e2e_log "all 90 official clients had every event $late ms after the last publish"
[ "$late" -le 3000 ] || fail "the fast clients finished $late ms after the last publish"

issue4gw_wait_metric "$GW1" conduit_gateway_slow_consumer_closes_total 10 15
touch "$WORK/sampler.stop"
wait "$sampler" || true
rss_max=$(cat "$WORK/rss.max")
e2e_log "gateway RSS peak during the stream: $rss_max KiB (+$((rss_max - rss0)) KiB, bound $bound KiB)"
[ "$rss_max" -le "$bound" ] || fail "gateway RSS $rss_max KiB over the bound $bound KiB"

touch "$WORK/slow.stop"
pid=$(e2e_pid_of slow)
for ((t = 0; t < 600; t++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
st=0
wait "$pid" || st=$?
cp "$WORK/slow.log" "$WORK/slow.done.log"
e2e_forget slow
[ "$st" = 0 ] || { cat "$WORK/slow.done.log" >&2; fail "the slow clients' check failed"; }
grep 'slow client' "$WORK/slow.done.log" | head -3 >&2
issue4gw_wait_metric "$GW1" conduit_gateway_connections 0 10
dropped=$(issue4gw_metric "$GW1" 'conduit_gateway_deliveries_failed_total{reason="slow_consumer"}')
[ "${dropped%.*}" -ge 10 ] || fail "frames dropped for slow consumers not counted ($dropped)"
e2e_log "frames never written to the slow consumers: $dropped"
events=$(issue4gw_metric "$GW1" 'conduit_gateway_events_by_hub_total{hub="SystemNotificationHub"}')
[ "$events" = "$EVENTS" ] || fail "events counted for the hub: $events, not $EVENTS"
deliveries=$(($(issue4gw_metric "$GW1" conduit_gateway_deliveries_total) - deliveries0))
# every event to the 90, plus what the slow ones were given before the bound
[ "$deliveries" -ge $((90 * EVENTS)) ] && [ "$deliveries" -lt $((100 * EVENTS)) ] ||
    fail "deliveries counted: $deliveries"
e2e_log "metrics: $events events, $deliveries deliveries, 10 slow-consumer closes"
e2e_log "ok"
