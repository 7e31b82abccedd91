#!/usr/bin/env bash
# bench/run.sh - Conduit Realtime's benchmark (`make bench`, `make
# bench-quick`; issue #5).
#
#   bench/run.sh full|quick BUILD_DIR
#
# Starts a broker and two gateways from BUILD_DIR on 127.0.0.1 (ports
# BENCH_PORT_BASE+1/+2 for the gateways, +570/+571/+572 for the broker;
# base 7000 unless set), with a generated configuration (every benchmark
# key in its `keys:` list, warn-level logs, per-key and per-address
# connection limits lifted), and drives them with conduit-bench:
#
#   S1        one group (system-notifications) broadcast to N = 1,000 and
#             N = 10,000 connections over the two gateways, 100-byte
#             events, publish rate stepped up until p99 >= 100 ms or loss
#   S1-burst  N = 1,000, events published in bursts of 32 (so >= 16 frames
#             queue per connection), stepped likewise
#   S2        10,000 connections, each alone in its own vkey-{id} group,
#             publishes spread over random keys, stepped
#   S3        100-member groups (100 keys x 100 connections), 1,000
#             publishes/s spread over the groups: latency
#   S4        idle connections, 19,000 per gateway (20,000 open files per
#             process is a hard limit): user-space RSS per connection
#   S5        the broker alone: fake gateways on its link count the EVENT
#             messages it routes while a publisher floods its ingress;
#             then libzmq alone receiving the same flood (its share)
#   S6        conduit-pub: one `event` per process, and `ndjson` throughput
#
# A scenario's row is its saturation step: the highest delivered rate with
# p99 < 100 ms, nothing lost and the publisher on schedule. Server CPU per
# delivery comes from /proc/PID/stat of the broker and the gateways, RSS
# from /proc/PID/status; the load tool's CPU (clients + publisher) is shown
# beside it because it shares the machine. The table goes to stdout and to
# bench/results/latest.md (a quick run: quick.md), every step's figures
# below it.
#
# Every process started here is killed by PID on exit; every wait is
# bounded. BENCH_KEEP=1 keeps the work directory (logs, reports);
# BENCH_ONLY="S2 S4" runs only the named scenarios (S1 = S1-N1000 and
# S1-N10000, S1-burst S2 S3 S4 S5 S6); such a partial run writes
# bench/results/partial.md, not latest.md.
set -euo pipefail

usage() {
    echo "usage: bench/run.sh full|quick BUILD_DIR" >&2
    exit 2
}
[ $# -eq 2 ] || usage
MODE=$1
B=$2
case $MODE in full | quick) ;; *) usage ;; esac

cd "$(dirname "$0")/.."
ROOT=$PWD
[[ $B = /* ]] || B=$ROOT/$B
BENCH=$B/conduit-bench
BROKER=$B/conduit-broker
GATEWAY=$B/conduit-gateway
PUBCLI=$B/conduit-pub
for x in "$BENCH" "$BROKER" "$GATEWAY" "$PUBCLI"; do
    if [ ! -x "$x" ]; then
        echo "bench: missing $x (make B=... all ${B#"$ROOT"/}/conduit-bench)" >&2
        exit 1
    fi
done
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

BASE=${BENCH_PORT_BASE:-7000}
GW_PORTS=($((BASE + 1)) $((BASE + 2)))
INGRESS_PORT=$((BASE + 570))
ACK_PORT=$((BASE + 571))
LINK_PORT=$((BASE + 572))
INGRESS=tcp://127.0.0.1:$INGRESS_PORT
ACK=tcp://127.0.0.1:$ACK_PORT
LINK=tcp://127.0.0.1:$LINK_PORT
CLK_TCK=$(getconf CLK_TCK)

# The file limit is 20,000 here and cannot be raised past the hard limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

if [ "$MODE" = full ]; then
    STEP_S=10
    DRAIN_S=2
    NKEYS=10000
    S1_SMALL=1000
    S1_SMALL_RATES="50 100 200 400 800 1600 3200"
    S1_LARGE=10000
    S1_LARGE_RATES="5 10 20 30 40 60 80"
    BURST_RATES="200 400 800 1600 3200 6400"
    S2_N=10000
    S2_RATES="1000 2000 5000 10000 20000 40000 80000"
    S3_N=10000
    S3_RATES="250 500 1000"
    S4_PER_GW=19000
    S5_RATES="5000 10000 20000 40000 80000"
    S6_CALLS=200
    S6_LINES=100000
else
    STEP_S=2
    DRAIN_S=1
    NKEYS=1000
    S1_SMALL=1000
    S1_SMALL_RATES="100 400"
    S1_LARGE=0
    S1_LARGE_RATES=""
    BURST_RATES="400"
    S2_N=1000
    S2_RATES="2000"
    S3_N=1000
    S3_RATES="1000"
    S4_PER_GW=2000
    S5_RATES="10000"
    S6_CALLS=20
    S6_LINES=10000
fi
# BENCH_<NAME>_RATES overrides a scenario's rate steps, e.g.
# BENCH_S1_LARGE_RATES="20 30" BENCH_ONLY=S1 for one experiment.
S1_SMALL_RATES=${BENCH_S1_SMALL_RATES:-$S1_SMALL_RATES}
S1_LARGE_RATES=${BENCH_S1_LARGE_RATES:-$S1_LARGE_RATES}
BURST_RATES=${BENCH_BURST_RATES:-$BURST_RATES}
S2_RATES=${BENCH_S2_RATES:-$S2_RATES}
S3_RATES=${BENCH_S3_RATES:-$S3_RATES}
S5_RATES=${BENCH_S5_RATES:-$S5_RATES}
BURST=32
PAYLOAD=100
P99_LIMIT_US=100000
CLIENT_MAX_S=1800 # a safety net: clients exit on their own after this

WORK=$(mktemp -d /tmp/conduit-bench.XXXXXX)
PIDS=()

log() { echo "bench: $*" >&2; }

cleanup() {
    local p i alive
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for ((i = 0; i < 50; i++)); do
        alive=0
        for p in "${PIDS[@]}"; do
            kill -0 "$p" 2>/dev/null && alive=1
        done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for p in "${PIDS[@]}"; do
        kill -KILL "$p" 2>/dev/null || true
    done
    if [ -n "${BENCH_KEEP:-}" ]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
    log "$*"
    local f
    for f in "$WORK"/*.log; do
        [ -s "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
    done
    exit 1
}

# Stops one process we started: TERM, a bounded wait, then KILL.
stop_pid() {
    local p=$1 i
    kill -TERM "$p" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}

# kv FILE KEY: the value of "KEY value" in a report (0 when absent).
kv() {
    awk -v k="$2" '$1 == k { v = $2 } END { print (v == "" ? 0 : v) }' "$1"
}

# proc_cpu STAT_FILE...: "pid ticks name" for each /proc/PID/stat given
# (a process's ticks include its threads'). The name is the text between
# the parentheses, which may hold spaces: the fields are counted after it.
proc_cpu() {
    awk '{
        line = $0
        name = line; sub(/^[^(]*\(/, "", name); sub(/\) [^)]*$/, "", name)
        gsub(/[ \t]/, "_", name)
        sub(/^.*\) /, "", line)
        split(line, f, " ")
        print $1, f[12] + f[13], name
    }' "$@" 2>/dev/null
}

# cpu_ticks PID: its CPU ticks so far (0 once it is gone).
cpu_ticks() {
    local ticks
    read -r _ ticks _ < <(proc_cpu "/proc/$1/stat")
    echo "${ticks:-0}"
}

# cpu_snapshot FILE: proc_cpu of every process now.
cpu_snapshot() { proc_cpu /proc/[0-9]*/stat >"$1" || true; }

# other_cpu SNAP0 SNAP1: CPU used between the snapshots by processes that
# lived through both and that the bench did not start (kernel threads
# included), as "ms largest_name largest_ms".
other_cpu() {
    awk -v tck="$CLK_TCK" -v ours="${PIDS[*]} $$" '
        BEGIN { n = split(ours, o, " "); for (i = 1; i <= n; i++) skip[o[i]] = 1 }
        FNR == NR { t0[$1] = $2; next }
        ($1 in t0) && !($1 in skip) {
            d = $2 - t0[$1]
            if (d <= 0) next
            sum += d
            if (d > top) { top = d; name = $3 }
        }
        END { printf "%.0f %s %.0f\n", sum * 1000 / tck, name == "" ? "-" : name, top * 1000 / tck }
    ' "$1" "$2"
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# port_free PORT: nothing listens there (a leftover server would answer in
# place of ours and the figures would be someone else's).
port_free() { ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# alive PID NAME: the process still runs, else the run ends with its log.
alive() { kill -0 "$1" 2>/dev/null || die "$2 exited (see its log)"; }

wait_port() {
    local i
    for ((i = 0; i < 100; i++)); do
        ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
        sleep 0.1
    done
    return 1
}

# ---- configuration -------------------------------------------------------

CFG=$WORK/conduit.yaml
"$PY" - "$CFG" "$NKEYS" "$ROOT" "$INGRESS" "$ACK" "$LINK" <<'EOF'
import hashlib, sys
path, nkeys, root, ingress, ack, link = sys.argv[1:]
with open(path, "w") as f:
    f.write(f"""# generated by bench/run.sh
log:
  level: warn
broker:
  ingress: {ingress}
  ingress_ack: {ack}
  gateway_link: {link}
  catalog: {root}/etc/hubs.yaml
  store: ""
  max_conns_per_key: 1000000
gateway:
  broker: {link}
  reuseport: false
  connects_per_ip_per_sec: 1000000
  static_dir: {root}/www
keys:
""")
    for i in range(1, int(nkeys) + 1):
        h = hashlib.sha256(f"condt_bench_{i}".encode()).hexdigest()
        f.write(f"  - id: {i}\n    name: bench-{i}\n    hash: {h}\n")
EOF
TOKEN_FMT='condt_bench_%d'

# ---- servers -------------------------------------------------------------

BROKER_PID=
GW_PIDS=()

# start_servers [-o key=value ...]: a fresh broker and two gateways.
start_servers() {
    start_broker_only "$@"
    GW_PIDS=()
    local i
    for i in 0 1; do
        port_free "${GW_PORTS[$i]}" || die "port ${GW_PORTS[$i]} is in use"
        "$GATEWAY" -c "$CFG" -o "gateway.listen=127.0.0.1:${GW_PORTS[$i]}" \
            -o "gateway.name=bench-gw$i" "$@" >>"$WORK/gateway$i.log" 2>&1 &
        GW_PIDS+=($!)
        PIDS+=($!)
    done
    for i in 0 1; do
        wait_port "${GW_PORTS[$i]}" ||
            die "gateway $i did not listen on ${GW_PORTS[$i]}"
        alive "${GW_PIDS[$i]}" "gateway $i"
        wait_link "${GW_PORTS[$i]}" ||
            die "gateway $i did not reach the broker"
    done
}

# wait_link PORT: until the gateway's /healthz says its broker link is up.
wait_link() {
    local i
    for ((i = 0; i < 100; i++)); do
        curl -s --max-time 1 "http://127.0.0.1:$1/healthz" 2>/dev/null |
            grep -q '"link":"up"' && return 0
        sleep 0.1
    done
    return 1
}

start_broker_only() {
    local p
    for p in "$INGRESS_PORT" "$ACK_PORT" "$LINK_PORT"; do
        port_free "$p" || die "port $p is in use"
    done
    "$BROKER" -c "$CFG" "$@" >>"$WORK/broker.log" 2>&1 &
    BROKER_PID=$!
    PIDS+=("$BROKER_PID")
    wait_port "$LINK_PORT" || die "the broker did not listen on $LINK"
    alive "$BROKER_PID" broker
}

stop_servers() {
    local p
    for p in "${GW_PIDS[@]}"; do stop_pid "$p"; done
    [ -n "$BROKER_PID" ] && stop_pid "$BROKER_PID"
    GW_PIDS=()
    BROKER_PID=
}

# gw_ticks: CPU ticks of the gateways together.
gw_ticks() {
    local t=0 p
    for p in "${GW_PIDS[@]}"; do t=$((t + $(cpu_ticks "$p"))); done
    echo "$t"
}

gw_rss_kb() {
    local t=0 p
    for p in "${GW_PIDS[@]}"; do t=$((t + $(rss_kb "$p"))); done
    echo "$t"
}

# ---- client processes ----------------------------------------------------

# Each client process binds to 4 source addresses of its own: the
# kernel's ephemeral-port search (__inet_hash_connect) gets slow when one
# address/destination pair holds most of its 28k ports, and fresh
# addresses per scenario keep TIME_WAIT leftovers out of the way.
SRC_NEXT=10
next_src() {
    local list="" k
    for ((k = 0; k < 4; k++)); do
        list+="${list:+,}127.0.0.$SRC_NEXT"
        SRC_NEXT=$((SRC_NEXT >= 250 ? 10 : SRC_NEXT + 1))
    done
    SRC_LIST=$list
}

CL_PIDS=()
CL_REPS=()
CL_GW=()
CL_EPOCH=0
CL_SPREAD=
CONNS_OK=0
CONNS_FAILED=0
SETUP_MS=0

# start_clients NAME N PROCS HUB_PATH [clients options...]: PROCS processes
# (alternating between the gateways) share N connections; waits until
# every attempt had an outcome.
start_clients() {
    local name=$1 n=$2 procs=$3 hub=$4
    shift 4
    local per=$(((n + procs - 1) / procs)) off=0 p k port rep src
    CL_PIDS=()
    CL_REPS=()
    CL_GW=()
    CL_EPOCH=0
    for ((p = 0; p < procs && off < n; p++)); do
        k=$((n - off < per ? n - off : per))
        port=${GW_PORTS[$((p % 2))]}
        spread=()
        # spread: every process's connections alternate between the two
        # gateways, as a load balancer spreads a tenant's connections, so
        # a group's members are on both (else a key's group would sit on
        # the one gateway its client process talks to)
        [ -n "$CL_SPREAD" ] && spread=(--also-port "${GW_PORTS[$(((p + 1) % 2))]}")
        rep=$WORK/$name.c$p
        next_src
        src=$SRC_LIST
        ${BENCH_CLIENT_NICE:+nice -n "$BENCH_CLIENT_NICE"} \
            "$BENCH" clients --url "ws://127.0.0.1:$port$hub" --n "$k" \
            --offset "$off" --src "$src" --duration "$CLIENT_MAX_S" \
            --report "$rep" --ready "$rep.ready" "${spread[@]}" \
            ${BENCH_CLIENT_OPTS:-} "$@" \
            2>>"$WORK/clients.log" &
        CL_PIDS+=($!)
        PIDS+=($!)
        CL_REPS+=("$rep")
        CL_GW+=($((p % 2)))
        off=$((off + k))
    done
    local limit=$((300 + n / 20)) i ready # tenths of a second
    for ((i = 0; i < limit; i++)); do
        ready=0
        for rep in "${CL_REPS[@]}"; do [ -f "$rep.ready" ] && ready=$((ready + 1)); done
        [ $ready = ${#CL_REPS[@]} ] && break
        sleep 0.1
    done
    [ $ready = ${#CL_REPS[@]} ] || die "clients '$name' did not finish connecting"
    CONNS_OK=$(cat "${CL_REPS[@]/%/.ready}" | awk '$1 == "conns_ok" { s += $2 } END { print s + 0 }')
    CONNS_FAILED=$(cat "${CL_REPS[@]/%/.ready}" | awk '$1 == "conns_failed" { s += $2 } END { print s + 0 }')
    SETUP_MS=$(cat "${CL_REPS[@]/%/.ready}" | awk '$1 == "setup_ms" && $2 > m { m = $2 } END { print m + 0 }')
    log "$name: $CONNS_OK connections open, $CONNS_FAILED failed, ${SETUP_MS} ms"
    if [ "$CONNS_FAILED" -gt 0 ]; then
        log "$name: first error: $(grep -h '^first_error' "${CL_REPS[@]/%/.ready}" 2>/dev/null | head -1)"
    fi
}

# Ends the clients' current epoch: each writes REPORT.<epoch>.
EPOCH_FILES=()
clients_epoch() {
    local p rep i done_n
    for p in "${CL_PIDS[@]}"; do kill -USR1 "$p" 2>/dev/null || true; done
    EPOCH_FILES=("${CL_REPS[@]/%/.$CL_EPOCH}")
    for ((i = 0; i < 100; i++)); do
        done_n=0
        for rep in "${EPOCH_FILES[@]}"; do [ -f "$rep" ] && done_n=$((done_n + 1)); done
        [ $done_n = ${#EPOCH_FILES[@]} ] && break
        sleep 0.05
    done
    CL_EPOCH=$((CL_EPOCH + 1))
    [ $done_n = ${#EPOCH_FILES[@]} ] || die "clients did not write epoch reports"
}

stop_clients() {
    local p
    for p in "${CL_PIDS[@]}"; do stop_pid "$p"; done
    CL_PIDS=()
}

# ---- results -------------------------------------------------------------

ROWS=$WORK/rows.md
STEPS=$WORK/steps.md
: >"$ROWS"
: >"$STEPS"
ROW_HEAD='| Scenario | Deliveries/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | Loss | GW RSS MiB | Broker RSS MiB | Server CPU µs/deliv | Tool CPU µs/deliv | Notes |'
ROW_SEP='|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|'
STEP_HEAD='| Scenario | Target ev/s | Sent | Deliveries/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | Loss | Server CPU µs/deliv | Tool CPU µs/deliv | CPU % broker / gateways | Other CPU ms (largest) | OK |'
STEP_SEP='|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|'

# One step's figures as a TSV line in $WORK/<scenario>.tsv:
# target sent got rate p50 p90 p99 p999 max loss gw_rss broker_rss srv_per
# tool_per cpu_split ok more other_cpu; OTHER is other_cpu's answer.
record_step() {
    local scen=$1 target=$2 merged=$3 pubrep=$4 members=$5 dbroker=$6
    local dgw=$7 other=${8:-"0 - 0"}
    local secs=$STEP_S
    local line
    line=$(awk -v members="$members" -v target="$target" -v secs="$secs" \
        -v db="$dbroker" -v dg="$dgw" -v tck="$CLK_TCK" \
        -v lim="$P99_LIMIT_US" -v gwrss="$(gw_rss_kb)" \
        -v brss="$(rss_kb "$BROKER_PID")" -v other="$other" '
        FNR == NR { m[$1] = $2; next }
        { p[$1] = $2 }
        END {
            sent = p["pub_sent"] + 0
            got = m["recv_inv"] + 0
            expect = sent * members
            loss = expect - got; if (loss < 0) loss = 0
            rate = got / secs
            srv = (db + dg) * 1e6 / tck
            tool = m["cpu_us"] + p["pub_cpu_us"]
            srvper = got ? srv / got : 0
            toolper = got ? tool / got : 0
            ontime = target <= 0 || p["pub_rate"] >= 0.95 * target
            lossless = (loss == 0 && got > 0 && ontime &&
                        m["disconnects"] + 0 == 0)
            ok = lossless && m["lat_p99_us"] < lim
            # worth a higher step: nothing lost and p99 under 10 x the limit
            more = lossless && m["lat_p99_us"] < 10 * lim
            split(other, oc, " ")
            printf "%s\t%d\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%s\t%.1f\t%.1f\t%.1f\t%.0f / %.0f\t%d\t%d\t%s (%s %s)\n",
                target, sent, got, rate, m["lat_p50_us"] / 1000,
                m["lat_p90_us"] / 1000, m["lat_p99_us"] / 1000,
                m["lat_p999_us"] / 1000, m["lat_max_us"] / 1000, loss,
                gwrss ? sprintf("%.1f", gwrss / 1024) : "-", brss / 1024,
                srvper, toolper,
                db * 1e6 / tck / secs / 1e4, dg * 1e6 / tck / secs / 1e4,
                ok, more, oc[1], oc[2], oc[3]
        }' "$merged" "$pubrep")
    echo "$line" >>"$WORK/$scen.tsv"
    echo "$line" | awk -F'\t' -v s="$scen" '{
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
            s, $1, $2, $4, $5, $6, $7, $8, $9, $10, $13, $14, $15, $18,
            ($16 ? "yes" : "no") }' >>"$STEPS"
    log "$scen @ $target/s: $(echo "$line" | awk -F'\t' '{ printf "%s deliveries/s, p50 %s p99 %s max %s ms, loss %s, %s us/deliv server, ok=%s", $4, $5, $7, $9, $10, $13, $16 }')"
    STEP_MORE=$(echo "$line" | cut -f17)
}

# The scenario's row: its best passing step, else its first step.
emit_row() {
    local scen=$1 notes=$2
    local tsv=$WORK/$scen.tsv
    [ -s "$tsv" ] || {
        echo "| $scen | - | - | - | - | - | - | - | - | - | - | - | no data: $notes |" >>"$ROWS"
        return
    }
    awk -F'\t' -v s="$scen" -v notes="$notes" '
        NR == 1 { first = $0 }
        $16 == 1 && $4 + 0 >= best { best = $4 + 0; row = $0 }
        $16 == 0 && fail == "" { fail = $1 }
        $17 == 1 && $4 + 0 > lbest { lbest = $4 + 0; lrow = $0 }
        END {
            if (row == "") { row = first; tag = "no step passed (" notes ")" }
            else tag = notes (fail != "" ? "; fails at " fail " ev/s" : "; no step failed")
            if (lrow != "" && lrow != row) {
                split(lrow, l, "\t")
                tag = tag "; highest lossless (p99 < 1 s): " l[4] " deliveries/s at p99 " l[7] " ms"
            }
            split(row, f, "\t")
            printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s ev/s published; %s |\n",
                s, f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], f[12],
                f[13], f[14], f[1], tag
        }' "$tsv" >>"$ROWS"
    tail -n 1 "$ROWS" >&2
}

# step SCEN TARGET MEMBERS [publish options...]: one measured step against
# the running clients.
step() {
    local scen=$1 target=$2 members=$3
    shift 3
    local label=$scen.$CL_EPOCH b0 b1 g0 g1
    cpu_snapshot "$WORK/$label.cpu0"
    b0=$(cpu_ticks "$BROKER_PID")
    g0=$(gw_ticks)
    "$BENCH" publish --endpoint "$INGRESS" --epoch "$CL_EPOCH" \
        --duration "$STEP_S" --payload "$PAYLOAD" --rate "$target" \
        --report "$WORK/$label.pub" "$@" 2>>"$WORK/publish.log" ||
        die "the publisher failed"
    sleep "$DRAIN_S"
    clients_epoch
    b1=$(cpu_ticks "$BROKER_PID")
    g1=$(gw_ticks)
    cpu_snapshot "$WORK/$label.cpu1"
    "$BENCH" merge "${EPOCH_FILES[@]}" >"$WORK/$label.merged"
    record_step "$scen" "$target" "$WORK/$label.merged" "$WORK/$label.pub" \
        "$members" $((b1 - b0)) $((g1 - g0)) \
        "$(other_cpu "$WORK/$label.cpu0" "$WORK/$label.cpu1")"
}

# ---- S1 and S1-burst: broadcast to one group -----------------------------

scenario_broadcast() {
    local scen=$1 n=$2 rates=$3 burst=$4
    shift 4
    log "== $scen: $n connections, one group, rates: $rates (burst $burst)"
    start_servers "$@"
    local procs=$(((n + 8999) / 9000))
    [ $procs -lt 2 ] && procs=2
    start_clients "$scen" "$n" "$procs" /hubs/notifications \
        --token condt_bench_1
    clients_epoch # start counting from here
    local r
    for r in $rates; do
        step "$scen" "$r" "$CONNS_OK" --hub SystemNotificationHub \
            --target SystemAnnouncement --group system-notifications \
            --burst "$burst"
        [ "$STEP_MORE" = 1 ] || break
    done
    stop_clients
    stop_servers
    local notes="N=$n over 2 gateways"
    [ "$burst" -gt 1 ] && notes="$notes, bursts of $burst"
    [ "$CONNS_FAILED" -gt 0 ] && notes="$notes, $CONNS_FAILED connects failed"
    emit_row "$scen" "$notes"
}

# ---- S2 and S3: groups of one key ----------------------------------------

scenario_groups() {
    local scen=$1 n=$2 members=$3 rates=$4
    local nkeys=$((n / members))
    log "== $scen: $n connections in $nkeys groups of $members, rates: $rates"
    start_servers
    local procs=$(((n + 8999) / 9000))
    [ $procs -lt 2 ] && procs=2
    CL_SPREAD=1 start_clients "$scen" "$n" "$procs" /hubs/spend-notifications \
        --token-fmt "$TOKEN_FMT" --keys "1..$nkeys" --per-key "$members"
    clients_epoch
    local r
    for r in $rates; do
        step "$scen" "$r" "$members" --hub SpendNotificationHub \
            --target SpendUpdate --groups-from 'vkey-%d' --keys "1..$nkeys"
        [ "$STEP_MORE" = 1 ] || break
    done
    stop_clients
    stop_servers
    local notes="$nkeys groups x $members"
    [ "$CONNS_FAILED" -gt 0 ] && notes="$notes, $CONNS_FAILED connects failed"
    emit_row "$scen" "$notes"
}

# ---- S4: idle connections ------------------------------------------------

scenario_idle() {
    local scen=S4 per=$1
    local n=$((2 * per))
    log "== $scen: $per idle connections per gateway"
    start_servers
    sleep 1
    local g0 g1 b0
    g0=$(rss_kb "${GW_PIDS[0]}")
    g1=$(rss_kb "${GW_PIDS[1]}")
    b0=$(rss_kb "$BROKER_PID")
    local procs=$(((n + 9499) / 9500))
    [ $procs -lt 2 ] && procs=2
    [ $((procs % 2)) = 1 ] && procs=$((procs + 1))
    start_clients "$scen" "$n" "$procs" /hubs/spend-notifications \
        --token-fmt "$TOKEN_FMT" --keys "1..$NKEYS" --per-key 4 \
        --connect-rate 0 --inflight 512
    sleep 2
    local g0b g1b b1 ok0=0 ok1=0 i k
    g0b=$(rss_kb "${GW_PIDS[0]}")
    g1b=$(rss_kb "${GW_PIDS[1]}")
    b1=$(rss_kb "$BROKER_PID")
    for i in "${!CL_REPS[@]}"; do
        k=$(kv "${CL_REPS[$i]}.ready" conns_ok)
        if [ "${CL_GW[$i]}" = 0 ]; then ok0=$((ok0 + k)); else ok1=$((ok1 + k)); fi
    done
    stop_clients
    stop_servers
    awk -v g0="$g0" -v g1="$g1" -v g0b="$g0b" -v g1b="$g1b" -v b0="$b0" \
        -v b1="$b1" -v ok0="$ok0" -v ok1="$ok1" -v failed="$CONNS_FAILED" \
        -v ms="$SETUP_MS" -v s="$scen" 'BEGIN {
            pg0 = ok0 ? (g0b - g0) / ok0 : 0
            pg1 = ok1 ? (g1b - g1) / ok1 : 0
            pb = ok0 + ok1 ? (b1 - b0) / (ok0 + ok1) : 0
            printf "| %s | - | - | - | - | - | - | - | %.1f | %.1f | - | - | %d + %d idle connections (%d failed): gateway user-space RSS %.2f / %.2f KiB per connection, broker %.2f KiB; setup %.0f connections/s |\n",
                s, (g0b + g1b) / 1024, b1 / 1024, ok0, ok1, failed, pg0, pg1,
                pb, ms ? (ok0 + ok1) * 1000 / ms : 0
        }' >>"$ROWS"
    tail -n 1 "$ROWS" >&2
}

# ---- S5: the broker alone ------------------------------------------------

# s5_run LABEL RATE CONNS: one fakegw run; sets S5_DTICKS (broker CPU)
# and S5_OTHER (other_cpu).
S5_DTICKS=0
S5_OTHER=
s5_run() {
    local label=$1 r=$2 conns=$3 t0 t1
    cpu_snapshot "$WORK/$label.cpu0"
    t0=$(cpu_ticks "$BROKER_PID")
    "$BENCH" fakegw --link "$LINK" --gateways 2 --conns "$conns" \
        --conn-hub SpendNotificationHub --conn-groups 'vkey-%d' \
        --conn-keys "1..$NKEYS" --endpoint "$INGRESS" \
        --hub SpendNotificationHub --target SpendUpdate \
        --groups-from 'vkey-%d' --keys "1..$NKEYS" --rate "$r" \
        --duration "$STEP_S" --payload "$PAYLOAD" \
        --report "$WORK/$label.fg" 2>>"$WORK/fakegw.log" ||
        die "fakegw failed"
    t1=$(cpu_ticks "$BROKER_PID")
    S5_DTICKS=$((t1 - t0))
    cpu_snapshot "$WORK/$label.cpu1"
    S5_OTHER=$(other_cpu "$WORK/$label.cpu0" "$WORK/$label.cpu1")
    "$BENCH" merge "$WORK/$label.fg" | sed 's/^events /recv_inv /' \
        >"$WORK/$label.merged"
    # fakegw is also the publisher: its CPU is in cpu_us already
    grep -v '^pub_cpu_us' "$WORK/$label.fg" >"$WORK/$label.pub"
}

scenario_broker() {
    local scen=S5 rates=$1
    local conns=$NKEYS
    log "== $scen: broker alone, $conns connections on 2 fake gateways, rates: $rates flood"
    start_broker_only
    local r label i=0 flood_rate=0 flood_cpu=0 skip=0 f floods=""
    for r in $rates 0; do
        [ $skip = 1 ] && [ "$r" != 0 ] && continue
        label=$scen.$i
        i=$((i + 1))
        if [ "$r" = 0 ]; then
            # the guest's speed drifts by a third within minutes: three
            # floods, and the one with the median CPU per event counts
            for f in 1 2 3; do
                s5_run "$label.f$f" 0 "$conns"
                awk -v d="$S5_DTICKS" -v t="$CLK_TCK" \
                    -v e="$(kv "$WORK/$label.f$f.fg" events)" \
                    -v r="$(kv "$WORK/$label.f$f.fg" events_rate)" \
                    'BEGIN { printf "%.3f %s\n", e ? d * 1e6 / t / e : 0, r }' \
                    >>"$WORK/$scen.floods"
            done
            read -r flood_cpu flood_rate < <(sort -n "$WORK/$scen.floods" | sed -n 2p)
            floods=$(awk '{ printf "%s%s", (NR > 1 ? ", " : ""), $1 }' "$WORK/$scen.floods")
            log "$scen flood: ${flood_rate} events/s, ${flood_cpu} us broker CPU per event (of $floods)"
            break
        fi
        s5_run "$label" "$r" "$conns"
        record_step "$scen" "$r" "$WORK/$label.merged" "$WORK/$label.pub" 1 \
            "$S5_DTICKS" 0 "$S5_OTHER"
        # past the first failing rate only the flood is left to measure
        [ "$STEP_MORE" = 1 ] || skip=1
    done
    stop_servers
    # libzmq's share: libzmq alone receiving the same events on a SUB socket
    # bound where the broker's was, doing nothing with them
    port_free "$INGRESS_PORT" || die "port $INGRESS_PORT is in use"
    "$BENCH" zmqfloor --endpoint "$INGRESS" --hub SpendNotificationHub \
        --target SpendUpdate --groups-from 'vkey-%d' --keys "1..$NKEYS" \
        --rate 0 --duration "$STEP_S" --payload "$PAYLOAD" \
        --report "$WORK/$scen.zf" 2>>"$WORK/fakegw.log" || die "zmqfloor failed"
    local per_core zf_cpu zf_core zf_busy
    per_core=$(awk -v c="$flood_cpu" 'BEGIN { printf "%.0f", (c > 0 ? 1e6 / c : 0) }')
    zf_cpu=$(kv "$WORK/$scen.zf" cpu_us_per_msg)
    zf_core=$(awk -v c="$zf_cpu" 'BEGIN { printf "%.0f", (c > 0 ? 1e6 / c : 0) }')
    zf_busy=$(awk -v c="$(kv "$WORK/$scen.zf" cpu_us)" \
        -v s="$(kv "$WORK/$scen.zf" span_us)" \
        'BEGIN { printf "%.0f", (s > 0 ? 100 * c / s : 0) }')
    log "$scen: libzmq alone ${zf_cpu} us per event, receiver ${zf_busy} % busy"
    emit_row "$scen" "events routed to fake gateways (1 per publish); flood (median of 3, by CPU per event: $floods µs): $(printf '%.0f' "$flood_rate") events/s at $flood_cpu µs broker CPU each = $per_core events/s per core; libzmq alone receiving them (\`conduit-bench zmqfloor\`, receiver $zf_busy % busy): $zf_cpu µs each = $zf_core events/s per core"
}

# ---- S6: conduit-pub -----------------------------------------------------

scenario_cli() {
    local scen=S6
    log "== $scen: conduit-pub, $S6_CALLS single events, ndjson of $S6_LINES lines"
    start_broker_only
    sleep 0.3
    local i t0 t1 fails=0
    : >"$WORK/s6.times"
    # $EPOCHREALTIME is read without a process: timing with $(date)
    # counted a fork and exec of date (1.5-3 ms here) into every call
    for ((i = 0; i < S6_CALLS; i++)); do
        t0=${EPOCHREALTIME/[.,]/}
        if ! "$PUBCLI" --broker "$ACK" event --hub SystemNotificationHub \
            --group system-notifications --target SystemAnnouncement \
            --data "{\"n\":$i}" >/dev/null 2>>"$WORK/pub.log"; then
            fails=$((fails + 1))
        fi
        t1=${EPOCHREALTIME/[.,]/}
        echo $((10#$t1 - 10#$t0)) >>"$WORK/s6.times"
    done
    awk -v n="$S6_LINES" 'BEGIN {
        for (i = 0; i < n; i++)
            printf "{\"type\":\"event\",\"hub\":\"SpendNotificationHub\",\"group\":\"vkey-%d\",\"target\":\"SpendUpdate\",\"data\":{\"n\":%d,\"p\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}\n", i % 1000 + 1, i
    }' >"$WORK/s6.ndjson"
    local b0 b1 rc=0
    b0=$(cpu_ticks "$BROKER_PID")
    t0=$(date +%s%N)
    "$PUBCLI" --broker "$ACK" --timeout 60000 ndjson <"$WORK/s6.ndjson" \
        >/dev/null 2>>"$WORK/pub.log" || rc=$?
    t1=$(date +%s%N)
    b1=$(cpu_ticks "$BROKER_PID")
    stop_servers
    sort -n "$WORK/s6.times" | awk -v s="$scen" -v n="$S6_LINES" \
        -v ns=$((t1 - t0)) -v rc="$rc" -v fails="$fails" \
        -v d=$((b1 - b0)) -v t="$CLK_TCK" '
        { v[NR] = $1; sum += $1 }
        END {
            p50 = v[int(NR * 0.5 + 0.5)]; p99 = v[int(NR * 0.99 + 0.5)]
            rate = n * 1e9 / ns
            printf "| %s | %.0f | %.2f | - | %.2f | - | %.2f | %d | - | - | %.1f | - | ndjson: %d lines in %.2f s (exit %d), broker CPU per event as server CPU; `conduit-pub event`: %d runs, mean %.2f ms per process, %d failed |\n",
                s, rate, p50 / 1000, p99 / 1000, v[NR] / 1000, fails,
                n ? d * 1e6 / t / n : 0, n, ns / 1e9, rc, NR,
                sum / NR / 1000, fails
        }' >>"$ROWS"
    tail -n 1 "$ROWS" >&2
}

# ---- main ----------------------------------------------------------------

START=$(date +%s)
# want NAME: BENCH_ONLY (e.g. "S1 S4") selects scenarios; all by default.
want() { [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " = *" $1 "* ]]; }

"$BENCH" selftest >/dev/null || die "conduit-bench selftest failed"
if want S1 || want S1-N1000; then
    scenario_broadcast S1-N1000 "$S1_SMALL" "$S1_SMALL_RATES" 1
fi
if [ "$S1_LARGE" -gt 0 ] && { want S1 || want S1-N10000; }; then
    scenario_broadcast S1-N10000 "$S1_LARGE" "$S1_LARGE_RATES" 1
fi
if want S1-burst; then
    scenario_broadcast S1-burst "$S1_SMALL" "$BURST_RATES" "$BURST" \
        -o gateway.max_queue_bytes=16777216
fi
if want S2; then scenario_groups S2 "$S2_N" 1 "$S2_RATES"; fi
if want S3; then scenario_groups S3 "$S3_N" 100 "$S3_RATES"; fi
if want S4; then scenario_idle "$S4_PER_GW"; fi
if want S5; then scenario_broker "$S5_RATES"; fi
if want S6; then scenario_cli; fi
END=$(date +%s)

OUT=$ROOT/bench/results/latest.md
[ "$MODE" = quick ] && OUT=$ROOT/bench/results/quick.md
[ -n "${BENCH_ONLY:-}" ] && OUT=$ROOT/bench/results/partial.md
mkdir -p "$(dirname "$OUT")"
{
    echo "# Conduit Realtime benchmark ($MODE)"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), $((END - START)) s"
    echo "- command: bench/run.sh $MODE ${B#"$ROOT"/}"
    echo "- commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet -- . ':!bench/results' 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "- machine: $(nproc) CPU, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr)"
    echo "- steps: ${STEP_S} s of publishing + ${DRAIN_S} s drain; payload ${PAYLOAD} B; saturation = highest delivered rate with p99 < 100 ms, no loss, publisher on schedule"
    echo "- server CPU = broker + gateways (/proc/PID/stat), tool CPU = load clients + publisher (getrusage); all share the $(nproc) CPUs"
    echo "- other CPU = CPU taken during the step by processes the bench did not start, kernel threads included (/proc/*/stat), and the largest of them: whatever else this machine runs competes for the same CPUs"
    echo "- loss = expected deliveries (events sent x group members) not received by the end of the drain: lost, or later than the drain; a step keeps the higher rates coming while nothing is lost and p99 < 1 s"
    echo "- S4 columns: RSS after the connections are open; S5: the broker alone (no gateways), deliveries = EVENT messages routed; S6: deliveries/s = ndjson events/s, latency columns = one \`conduit-pub event\` process (p50/p99/max), loss = failed runs"
    echo
    echo "$ROW_HEAD"
    echo "$ROW_SEP"
    cat "$ROWS"
    echo
    echo "## Steps"
    echo
    echo "$STEP_HEAD"
    echo "$STEP_SEP"
    cat "$STEPS"
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo
cat "$OUT"
