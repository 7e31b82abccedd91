# Helpers of the issue #3 end-to-end tests (t_7*, t_8*), sourced after
# lib.sh: log assertions, and killing and restarting the broker on the
# same endpoints and store.
#
# SPDX-License-Identifier: MIT

# issue3_expect_log NAME TEXT : fails unless NAME's log holds TEXT.
issue3_expect_log() {
    local name=$1 text=$2 i
    # the line may still be on its way to the file: a bounded wait
    for ((i = 0; i < 20; i++)); do
        grep -qF -- "$text" "$WORK/$name.log" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "$name.log has no line with: $text"
}

# issue3_no_key_material : no log of this test holds a demo key or the
# SHA-256 of one.
issue3_no_key_material() {
    local k h f
    for k in "$KEY_A" "$KEY_B" "$KEY_ADMIN" "$MASTER_KEY" ${ISSUE3_KEYS[@]+"${ISSUE3_KEYS[@]}"}; do
        h=$(printf '%s' "$k" | sha256sum | cut -d' ' -f1)
        for f in "$WORK"/*.log; do
            [ -f "$f" ] || continue
            if grep -qF -e "$k" -e "$h" "$f"; then
                fail "$(basename "$f") shows key material (…${k: -4} or its hash)"
            fi
        done
    done
}

# issue3_kill9_broker : SIGKILLs the broker; its log is kept as
# broker-killed.log.
issue3_kill9_broker() {
    local pid
    pid=$(e2e_pid_of broker) || fail "no broker to kill"
    kill -KILL "$pid"
    e2e_forget broker
    mv "$WORK/broker.failed-start.log" "$WORK/broker-killed.log"
    e2e_log "killed the broker (pid $pid) with SIGKILL"
}

# issue3_restart_broker : starts the broker again on the endpoints and the
# store of the first one, and waits until it answers.
issue3_restart_broker() {
    e2e_spawn broker "$BROKER_BIN" -c "$CONF" \
        -o "broker.ingress=$BROKER_INGRESS" \
        -o "broker.ingress_ack=$BROKER_ACK" \
        -o "broker.gateway_link=$BROKER_LINK" \
        -o "broker.store=$WORK/store" \
        ${E2E_BROKER_OPTS[@]+"${E2E_BROKER_OPTS[@]}"}
    e2e_wait_broker
}

# issue3_wait_file FILE SECONDS PID : waits until FILE exists; fails if
# PID (a helper we run in the background) exits first or time runs out.
issue3_wait_file() {
    local file=$1 secs=$2 pid=$3 i
    for ((i = 0; i < secs * 10; i++)); do
        [ -e "$file" ] && return 0
        kill -0 "$pid" 2>/dev/null || fail "the node script exited before '$(basename "$file")'"
        sleep 0.1
    done
    kill -TERM "$pid" 2>/dev/null || true
    fail "no '$(basename "$file")' within $secs s"
}
