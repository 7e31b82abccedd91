# Helpers of the issue #4 broker/CLI end-to-end tests (t_90..t_94),
# sourced after lib.sh (and issue3_lib.sh where a test restarts the
# broker): reading the broker's stats, waiting for a figure, two gateways
# on one shared port.
#
# SPDX-License-Identifier: MIT

# issue4_stats [PUB-OPTIONS...] : the broker's stats (JSON) on stdout;
# fails the test if conduit-pub cannot get them.
issue4_stats() {
    "$PUB" --broker "$BROKER_ACK" --timeout 2000 "$@" stats 2>"$WORK/stats.err" ||
        fail "conduit-pub stats failed: $(cat "$WORK/stats.err")"
}

# issue4_jq JSON EXPR : evaluates a Python expression over the parsed
# JSON (bound to d) and prints the result (no jq on the machines).
issue4_jq() {
    "$PY" -c 'import json, sys
d = json.loads(sys.argv[1])
v = eval(sys.argv[2], {"d": d})
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$1" "$2"
}

# issue4_stat EXPR [PUB-OPTIONS...] : one figure from a fresh stats answer.
issue4_stat() {
    local expr=$1
    shift
    issue4_jq "$(issue4_stats "$@")" "$expr"
}

# issue4_wait_stat EXPR WANT SECONDS [PUB-OPTIONS...] : polls until the
# figure EXPR prints WANT; fails with the last value after SECONDS.
issue4_wait_stat() {
    local expr=$1 want=$2 secs=$3 i got=
    shift 3
    for ((i = 0; i < secs * 10; i++)); do
        got=$(issue4_stat "$expr" "$@")
        [ "$got" = "$want" ] && return 0
        sleep 0.1
    done
    fail "broker stats: $expr is '$got', expected '$want' within $secs s"
}

# issue4_count_log NAME TEXT : how many lines of NAME's log hold TEXT.
issue4_count_log() {
    grep -cF -- "$2" "$WORK/$1.log" 2>/dev/null || true
}

# issue4_start_shared_gateways : gwA and gwB on ONE port (GW_SHARED,
# http://127.0.0.1:port), both with gateway.reuseport true, both linked to
# the broker (its stats show two gateways).
issue4_start_shared_gateways() {
    local attempt i
    for attempt in 1 2 3; do
        e2e_alloc_port GW_SHARED_PORT
        E2E_GATEWAY_OPTS+=(-o gateway.reuseport=true)
        e2e_start_gateway gwA "$GW_SHARED_PORT"
        e2e_start_gateway gwB "$GW_SHARED_PORT"
        for ((i = 0; i < 150; i++)); do
            e2e_alive gwA && e2e_alive gwB || break
            if [ "$(issue4_stat 'd["gateways"]')" = 2 ] &&
                e2e_healthz_up "http://127.0.0.1:$GW_SHARED_PORT"; then
                GW_SHARED=http://127.0.0.1:$GW_SHARED_PORT
                export GW_SHARED
                return 0
            fi
            sleep 0.1
        done
        if [ $attempt -lt 3 ] && { e2e_lost_port_race gwA || e2e_lost_port_race gwB; }; then
            e2e_log "a gateway lost a port race; retrying on another port"
            e2e_alive gwA && kill -TERM "$(e2e_pid_of gwA)"
            e2e_alive gwB && kill -TERM "$(e2e_pid_of gwB)"
            e2e_forget gwA
            e2e_forget gwB
            continue
        fi
        fail "two gateways on port $GW_SHARED_PORT did not both come up within 15 s"
    done
}
