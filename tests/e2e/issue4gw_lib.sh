# Helpers of the issue #4 gateway tests (t_95..t_99), sourced after
# lib.sh: gateways with their own options, the official-client neighbour
# that must keep receiving events while others misbehave
# (issue4gw_neighbour.mjs), /metrics values and process memory.
#
# SPDX-License-Identifier: MIT

# issue4gw_up_gateway NAME PORTVAR [-o key=value ...] : one more gateway
# with these options on top of E2E_GATEWAY_OPTS, up and linked.
issue4gw_up_gateway() {
    local name=$1 var=$2
    shift 2
    local saved=(${E2E_GATEWAY_OPTS[@]+"${E2E_GATEWAY_OPTS[@]}"})
    E2E_GATEWAY_OPTS=(${E2E_GATEWAY_OPTS[@]+"${E2E_GATEWAY_OPTS[@]}"} "$@")
    e2e_up_gateway "$name" "$var"
    E2E_GATEWAY_OPTS=(${saved[@]+"${saved[@]}"})
}

# issue4gw_metric BASE NAME : the value of one sample of BASE/metrics
# (NAME with its labels, e.g. 'x_total{kind="json"}'); 0 when absent.
issue4gw_metric() {
    local base=$1 name=$2
    curl -s --max-time 5 "$base/metrics" |
        awk -v n="$name" '$1 == n { v = $2 } END { print (v == "" ? 0 : v) }'
}

# issue4gw_wait_metric BASE NAME VALUE SECONDS : waits until the sample
# equals VALUE.
issue4gw_wait_metric() {
    local base=$1 name=$2 want=$3 secs=$4 i v
    for ((i = 0; i < secs * 10; i++)); do
        v=$(issue4gw_metric "$base" "$name")
        [ "$v" = "$want" ] && return 0
        sleep 0.1
    done
    fail "$name on $base is $v, not $want, after $secs s"
}

# issue4gw_rss_kb PID : resident set size in KiB (/proc/PID/status).
issue4gw_rss_kb() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# issue4gw_neighbour_start BASE [NAME] : starts issue4gw_neighbour.mjs
# against BASE and waits until it is connected.
issue4gw_neighbour_start() {
    local base=$1 name=${2:-neighbour} i
    rm -f "$WORK/$name.ready" "$WORK/$name.stop"
    e2e_spawn "$name" timeout -k 5 100 "$NODE" "$E2E_DIR/issue4gw_neighbour.mjs" \
        "$base" "$WORK/$name.ready" "$WORK/$name.stop"
    for ((i = 0; i < 150; i++)); do
        [ -f "$WORK/$name.ready" ] && return 0
        e2e_alive "$name" || fail "$name exited while connecting: $(tail -5 "$WORK/$name.log")"
        sleep 0.1
    done
    fail "$name did not connect within 15 s"
}

# issue4gw_neighbour_stop [NAME] : tells the neighbour to stop and fails
# unless it saw every one of its events, in order, on one connection.
issue4gw_neighbour_stop() {
    local name=${1:-neighbour} pid i st=0
    pid=$(e2e_pid_of "$name") || fail "no $name running"
    touch "$WORK/$name.stop"
    for ((i = 0; i < 200; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && fail "$name did not stop within 20 s"
    wait "$pid" || st=$?
    cp "$WORK/$name.log" "$WORK/$name.done.log"
    e2e_forget "$name"
    if [ "$st" != 0 ]; then
        cat "$WORK/$name.done.log" >&2
        fail "$name failed (exit $st)"
    fi
    e2e_log "$(grep 'neighbour:' "$WORK/$name.done.log" | tail -1)"
}
