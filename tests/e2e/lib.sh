# Helpers for the end-to-end tests; sourced by every tests/e2e/t_*.sh.
#
# A test calls e2e_init "$1" (the build directory), then e2e_start to run a
# broker and two gateways on free loopback ports with etc/conduit.yaml plus
# -o overrides (the store in a temporary directory), and then drives them
# with conduit-pub, curl, node scripts (the official @microsoft/signalr
# client) and tests/e2e/zmq_pub.py. An EXIT trap kills exactly the
# processes the test started, fails the test if one of them crashed or a
# sanitizer complained, and dumps their logs when the test failed.
#
# Variables for the test after e2e_start: BROKER_ACK, BROKER_INGRESS,
# BROKER_LINK (tcp:// endpoints), GW1, GW2 (http://127.0.0.1:port), WORK (a
# temporary directory), PUB, PY. Extra options: E2E_BROKER_OPTS and
# E2E_GATEWAY_OPTS (arrays of "-o key=value" words) set before e2e_start.
#
# SPDX-License-Identifier: MIT

set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$E2E_DIR/../.." && pwd)
CONF="$ROOT/etc/conduit.yaml"
PY=/usr/bin/python3
NODE=${NODE:-node}

# Demo keys (etc/conduit.yaml comments).
KEY_A=condt_demotenanta0000000000000000000001   # virtual key id 1
KEY_B=condt_demotenantb0000000000000000000002   # virtual key id 2
KEY_ADMIN=condt_demoadmin00000000000000000000000003   # id 3, admin
MASTER_KEY=cdt_master_demo_0000000000000000000000

E2E_PIDS=()
E2E_NAMES=()
E2E_PORTS_TAKEN=" "
E2E_BROKER_OPTS=(${E2E_BROKER_OPTS[@]+"${E2E_BROKER_OPTS[@]}"})
E2E_GATEWAY_OPTS=(${E2E_GATEWAY_OPTS[@]+"${E2E_GATEWAY_OPTS[@]}"})

e2e_log() {
    printf '%s %s\n' "$(date +%H:%M:%S.%3N)" "$*" >&2
}

fail() {
    e2e_log "FAIL: $*"
    exit 1
}

# e2e_init BUILD_DIR
e2e_init() {
    [ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
    BUILD=$(cd "$1" && pwd)
    BROKER_BIN="$BUILD/conduit-broker"
    GATEWAY_BIN="$BUILD/conduit-gateway"
    PUB="$BUILD/conduit-pub"
    for b in "$BROKER_BIN" "$GATEWAY_BIN" "$PUB"; do
        [ -x "$b" ] || fail "missing program '$b' (build it first)"
    done
    WORK=$(mktemp -d /tmp/cdt-e2e.XXXXXX)
    trap e2e_cleanup EXIT
    # sanitizer builds: report at exit, and make leaks a failure we see
    export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
    export NODE_PATH="$ROOT/node_modules"
}

# e2e_alloc_port VAR : sets VAR to a free TCP port on 127.0.0.1, never one
# handed out before in this test. Ports come from 20000-45000, starting at
# a random point, but below the kernel's ephemeral range: an outgoing
# connection (ours or anybody's) could otherwise take the port between
# this check and the server's bind. (Not a $(...) function: the list of
# ports taken must survive.)
e2e_alloc_port() {
    local var=$1 port tries=0 lo=20000 hi=45000 eph
    eph=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 0)
    if [ "${eph:-0}" -gt $((lo + 1000)) ] && [ "$eph" -le $hi ]; then
        hi=$((eph - 1))
    fi
    port=$((lo + RANDOM % (hi - lo)))
    while [ $tries -lt 500 ]; do
        tries=$((tries + 1))
        port=$((port + 1))
        [ $port -gt $hi ] && port=$lo
        case "$E2E_PORTS_TAKEN" in *" $port "*) continue ;; esac
        if "$PY" -c 'import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.close()' "$port" 2>/dev/null; then
            E2E_PORTS_TAKEN="$E2E_PORTS_TAKEN$port "
            printf -v "$var" '%s' "$port"
            return 0
        fi
    done
    fail "no free port found"
}

# e2e_spawn NAME CMD... : runs CMD in the background, stderr and stdout to
# $WORK/NAME.log, and remembers its PID.
e2e_spawn() {
    local name=$1
    shift
    "$@" >"$WORK/$name.log" 2>&1 &
    E2E_PIDS+=($!)
    E2E_NAMES+=("$name")
    e2e_log "started $name (pid $!)"
}

e2e_pid_of() {
    local i
    for i in "${!E2E_NAMES[@]}"; do
        if [ "${E2E_NAMES[$i]}" = "$1" ]; then
            echo "${E2E_PIDS[$i]}"
            return 0
        fi
    done
    return 1
}

# Drops NAME from the processes to stop (it has exited and was waited for).
e2e_forget() {
    local i pid
    for i in "${!E2E_NAMES[@]}"; do
        if [ "${E2E_NAMES[$i]}" = "$1" ]; then
            pid=${E2E_PIDS[$i]}
            wait "$pid" 2>/dev/null || true
            mv "$WORK/$1.log" "$WORK/$1.failed-start.log" 2>/dev/null || true
            unset 'E2E_NAMES[i]' 'E2E_PIDS[i]'
            E2E_NAMES=(${E2E_NAMES[@]+"${E2E_NAMES[@]}"})
            E2E_PIDS=(${E2E_PIDS[@]+"${E2E_PIDS[@]}"})
            return 0
        fi
    done
}

# True if NAME exited because a port was taken after we picked it.
e2e_lost_port_race() {
    ! e2e_alive "$1" &&
        grep -Eq 'cannot (bind|listen)|Address already in use|binding fd' \
            "$WORK/$1.log" 2>/dev/null
}

e2e_alive() {
    local pid
    pid=$(e2e_pid_of "$1") && kill -0 "$pid" 2>/dev/null
}

# True when GET /healthz answers 200 and does not report the broker link
# as down.
e2e_healthz_up() {
    local url=$1 body code
    body=$(curl -s --max-time 2 -w '\n%{http_code}' "$url/healthz" 2>/dev/null) ||
        return 1
    code=${body##*$'\n'}
    body=${body%$'\n'*}
    [ "$code" = 200 ] || return 1
    if printf '%s' "$body" | grep -Eqi \
        '"(broker|link|upstream)[a-z_]*"[[:space:]]*:[[:space:]]*(false|"(down|disconnected|connecting|lost)")'; then
        return 1
    fi
    # the gateway's form: {"broker":{"link":"up"|"down",...},...}
    if printf '%s' "$body" | grep -q '"link"' &&
        ! printf '%s' "$body" | grep -Eq '"link"[[:space:]]*:[[:space:]]*"up"'; then
        return 1
    fi
    return 0
}

# Picks the broker's three ports (P_INGRESS, P_ACK, P_LINK) and sets its
# endpoints from them (BROKER_INGRESS, BROKER_ACK, BROKER_LINK).
e2e_broker_endpoints() {
    e2e_alloc_port P_INGRESS
    e2e_alloc_port P_ACK
    e2e_alloc_port P_LINK
    BROKER_INGRESS=tcp://127.0.0.1:$P_INGRESS
    BROKER_ACK=tcp://127.0.0.1:$P_ACK
    BROKER_LINK=tcp://127.0.0.1:$P_LINK
}

# Starts the broker; picks new ports and retries (twice at most) if one of
# them was taken between the check and the bind.
e2e_start_broker() {
    local attempt
    mkdir -p "$WORK/store"
    for attempt in 1 2 3; do
        e2e_broker_endpoints
        e2e_spawn broker "$BROKER_BIN" -c "$CONF" \
            -o "broker.ingress=$BROKER_INGRESS" \
            -o "broker.ingress_ack=$BROKER_ACK" \
            -o "broker.gateway_link=$BROKER_LINK" \
            -o "broker.store=$WORK/store" \
            ${E2E_BROKER_OPTS[@]+"${E2E_BROKER_OPTS[@]}"}
        sleep 0.2
        if [ $attempt -lt 3 ] && e2e_lost_port_race broker; then
            e2e_log "broker lost a port race; retrying on other ports"
            e2e_forget broker
            continue
        fi
        break
    done
    export CONDUIT_BROKER=$BROKER_ACK
}

# e2e_start_gateway NAME PORT
e2e_start_gateway() {
    local name=$1 port=$2
    e2e_spawn "$name" "$GATEWAY_BIN" -c "$CONF" \
        -o "gateway.listen=127.0.0.1:$port" \
        -o "gateway.broker=$BROKER_LINK" \
        -o "gateway.name=$name" \
        -o "broker.ingress=$BROKER_INGRESS" \
        -o "broker.ingress_ack=$BROKER_ACK" \
        -o "broker.gateway_link=$BROKER_LINK" \
        -o "broker.store=$WORK/store" \
        ${E2E_GATEWAY_OPTS[@]+"${E2E_GATEWAY_OPTS[@]}"}
}

# e2e_up_gateway NAME PORTVAR : starts a gateway on a fresh port (stored
# in PORTVAR) and waits until its broker link is up; retries on a lost
# port race.
e2e_up_gateway() {
    local name=$1 var=$2 attempt i
    for attempt in 1 2 3; do
        e2e_alloc_port "$var"
        e2e_start_gateway "$name" "${!var}"
        for ((i = 0; i < 150; i++)); do
            e2e_alive "$name" || break
            e2e_healthz_up "http://127.0.0.1:${!var}" && return 0
            sleep 0.1
        done
        if [ $attempt -lt 3 ] && e2e_lost_port_race "$name"; then
            e2e_log "$name lost a port race; retrying on another port"
            e2e_forget "$name"
            continue
        fi
        e2e_alive "$name" || fail "$name exited while starting"
        fail "$name: /healthz did not report the broker link up within 15 s (last: $(curl -s --max-time 2 "http://127.0.0.1:${!var}/healthz" 2>&1 | head -c 300))"
    done
}

# e2e_start [N_GATEWAYS] : a broker and N (default 2) gateways, all up.
e2e_start() {
    local n=${1:-2}
    e2e_start_broker
    GW1=
    GW2=
    if [ "$n" -ge 1 ]; then
        e2e_up_gateway gwA GW1_PORT
        GW1=http://127.0.0.1:$GW1_PORT
    fi
    if [ "$n" -ge 2 ]; then
        e2e_up_gateway gwB GW2_PORT
        GW2=http://127.0.0.1:$GW2_PORT
    fi
    if [ "$n" -eq 0 ]; then
        e2e_wait_broker
    fi
    export GW1 GW2 BROKER_ACK BROKER_INGRESS PUB PY KEY_A KEY_B KEY_ADMIN \
        MASTER_KEY
}

# Waits until the broker answers on its acknowledged endpoint (any answer,
# even a refusal of 'stats', shows it is up).
e2e_wait_broker() {
    local i rc
    for ((i = 0; i < 30; i++)); do
        e2e_alive broker || fail "broker exited while starting"
        rc=0
        "$PUB" --broker "$BROKER_ACK" --timeout 500 stats >/dev/null \
            2>"$WORK/wait.err" || rc=$?
        if [ $rc = 0 ] || grep -q 'rejected:' "$WORK/wait.err"; then
            return 0
        fi
    done
    fail "broker did not answer on $BROKER_ACK within 15 s"
}

# pub ARGS... : conduit-pub against this test's broker.
pub() {
    "$PUB" --broker "$BROKER_ACK" "$@"
}

# e2e_node SCRIPT [ARGS...] : runs tests/e2e/SCRIPT with node, bounded.
e2e_node() {
    local script=$1
    shift
    timeout -k 5 "${E2E_NODE_TIMEOUT:-90}" "$NODE" "$E2E_DIR/$script" "$@"
}

# expect_rc WANT CMD... : runs CMD, keeps its stderr in $LAST_ERR and stdout
# in $LAST_OUT, and fails unless it exits with WANT.
expect_rc() {
    local want=$1 rc=0
    shift
    LAST_OUT=$("$@" 2>"$WORK/last.err") || rc=$?
    LAST_ERR=$(cat "$WORK/last.err")
    if [ "$rc" != "$want" ]; then
        fail "expected exit $want, got $rc from: $* (stderr: $LAST_ERR)"
    fi
}

# Fails when a log shows a sanitizer report or a crash.
e2e_scan_log() {
    local name=$1 f="$WORK/$1.log"
    [ -f "$f" ] || return 0
    if grep -Eq 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:|SUMMARY: (Address|Undefined|Leak)' "$f"; then
        e2e_log "$name: sanitizer report in its log"
        return 1
    fi
    return 0
}

# Stops the processes we started (TERM, then KILL after 5 s), checks how
# they ended, dumps logs if anything failed, removes $WORK.
e2e_cleanup() {
    local rc=$? i pid name st bad=0
    for ((i = ${#E2E_PIDS[@]} - 1; i >= 0; i--)); do
        pid=${E2E_PIDS[$i]}
        name=${E2E_NAMES[$i]}
        if ! kill -0 "$pid" 2>/dev/null; then
            st=0
            wait "$pid" 2>/dev/null || st=$?
            e2e_log "$name (pid $pid) had already exited with status $st"
            bad=1
            continue
        fi
        kill -TERM "$pid" 2>/dev/null || true
        local t
        for ((t = 0; t < 50; t++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            e2e_log "$name (pid $pid) ignored SIGTERM for 5 s: killing"
            kill -KILL "$pid" 2>/dev/null || true
            bad=1
        fi
        st=0
        wait "$pid" 2>/dev/null || st=$?
        # 143 = killed by the TERM we sent (no handler); 0 = clean exit
        if [ "$st" != 0 ] && [ "$st" != 143 ]; then
            e2e_log "$name (pid $pid) exited with status $st after SIGTERM"
            bad=1
        fi
    done
    for name in ${E2E_NAMES[@]+"${E2E_NAMES[@]}"}; do
        e2e_scan_log "$name" || bad=1
    done
    if [ "$rc" != 0 ] || [ "$bad" != 0 ]; then
        for name in ${E2E_NAMES[@]+"${E2E_NAMES[@]}"}; do
            if [ -f "$WORK/$name.log" ]; then
                echo "----- $name log (last 80 lines) -----" >&2
                tail -n 80 "$WORK/$name.log" >&2
            fi
        done
        [ "$rc" != 0 ] || rc=1
    fi
    if [ -n "${WORK:-}" ] && [ -z "${E2E_KEEP:-}" ]; then
        rm -rf "$WORK"
    elif [ -n "${WORK:-}" ]; then
        e2e_log "kept $WORK"
    fi
    exit "$rc"
}
