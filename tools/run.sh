#!/usr/bin/env bash
# `make run`: starts a broker and a gateway with etc/conduit.yaml, waits
# until the gateway's broker link is up, prints how to connect and how to
# see an event arrive, and runs until Ctrl-C, which stops both.
#
#   tools/run.sh BUILD_DIR [-o key=value ...]
#
# Options after BUILD_DIR go to both programs (e.g. -o gateway.listen=...).
#
# SPDX-License-Identifier: MIT
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 BUILD_DIR [-o key=value ...]" >&2
    exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
shift
extra=("$@")
conf="$root/etc/conduit.yaml"
for b in conduit-broker conduit-gateway conduit-pub; do
    [ -x "$build/$b" ] || { echo "run: missing $build/$b (make all)" >&2; exit 1; }
done
cd "$root"
mkdir -p var
# The dashboard at / loads the official browser client from /vendor/.
bundle=node_modules/@microsoft/signalr/dist/browser/signalr.min.js
if [ -f "$bundle" ]; then
    mkdir -p www/vendor
    cp "$bundle" www/vendor/signalr.min.js
fi

# Read what to print from the effective configuration, so this stays true
# to it; the keys come from the comments of the file.
effective=$("$build/conduit-gateway" -c "$conf" ${extra[@]+"${extra[@]}"} \
    --dump-config) || exit 1
value() {
    sed -n "s/^ *$1: *\"\{0,1\}\([^\" #]*\).*/\1/p" <<<"$effective" | head -n 1
}
listen=$(value listen)
ack=$(value ingress_ack)
url="http://${listen:-127.0.0.1:5000}"
pub_opts=
[ "${ack:-tcp://127.0.0.1:5571}" = tcp://127.0.0.1:5571 ] || pub_opts="--broker $ack "
key_a=$(sed -n 's/^# *1 demo-tenant-a *\([^ ]*\).*/\1/p' "$conf")
key_b=$(sed -n 's/^# *2 demo-tenant-b *\([^ ]*\).*/\1/p' "$conf")
key_admin=$(sed -n 's/^# *3 demo-admin *\([^ ]*\).*/\1/p' "$conf")
master=$(sed -n 's/^ *# Demo value: the hash of *\([^ ]*\).*/\1/p' "$conf")

broker_pid=
gateway_pid=
stop() {
    trap - INT TERM EXIT
    echo
    echo "stopping"
    for pid in $gateway_pid $broker_pid; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in $gateway_pid $broker_pid; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    exit 0
}
trap stop INT TERM EXIT

"$build/conduit-broker" -c "$conf" ${extra[@]+"${extra[@]}"} &
broker_pid=$!
"$build/conduit-gateway" -c "$conf" ${extra[@]+"${extra[@]}"} &
gateway_pid=$!

up=
for _ in $(seq 150); do
    kill -0 "$broker_pid" 2>/dev/null || { echo "run: conduit-broker exited" >&2; exit 1; }
    kill -0 "$gateway_pid" 2>/dev/null || { echo "run: conduit-gateway exited" >&2; exit 1; }
    # up when /healthz answers and, if it reports the broker link, says up
    health=$(curl -sf --max-time 1 "$url/healthz" 2>/dev/null) || health=
    if [ -n "$health" ] && { ! grep -q '"link"' <<<"$health" ||
        grep -Eq '"link" *: *"up"' <<<"$health"; }; then
        up=1
        break
    fi
    sleep 0.1
done
[ -n "$up" ] || { echo "run: $url/healthz did not answer within 15 s" >&2; exit 1; }

cat <<EOF

Conduit Realtime is running (broker pid $broker_pid, gateway pid $gateway_pid).

  Gateway    $url        (dashboard at /, $url/healthz, $url/metrics)
  Hubs       /hubs/tasks  /hubs/video-generation  /hubs/image-generation
             /hubs/notifications  /hubs/spend-notifications  /hubs/webhooks
             /hubs/navigation-state
             /hubs/admin-notifications   (master key only)
  Keys       tenant A (virtual key 1)  $key_a
             tenant B (virtual key 2)  $key_b
             admin    (virtual key 3)  $key_admin
             master key                $master
  Publish    conduit-pub talks to ${ack:-tcp://127.0.0.1:5571}

Watch tenant A's spend events (in another terminal, from $root):

  node -e 'const s=require("@microsoft/signalr");const c=new s.HubConnectionBuilder().withUrl("$url/hubs/spend-notifications",{accessTokenFactory:()=>"$key_a"}).withAutomaticReconnect().build();c.on("SpendUpdate",(...a)=>console.log("SpendUpdate",JSON.stringify(a)));c.start().then(()=>console.log("connected"))'

or open $url/ in a browser. Then send one:

  $build/conduit-pub ${pub_opts}event --hub SpendNotificationHub --group vkey-1 --target SpendUpdate --data '{"amount":0.25,"totalSpend":12.5}'

Ctrl-C stops both.
EOF

# Wait for either to exit (or for Ctrl-C).
set +e
wait -n "$broker_pid" "$gateway_pid"
echo "run: a process exited" >&2
stop
