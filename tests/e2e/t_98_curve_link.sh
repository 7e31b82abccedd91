#!/usr/bin/env bash
# The gateway's CurveZMQ link to a broker that requires CurveZMQ (issue
# #4): with gateway.curve_cert (its own pair, from conduit-pub keygen)
# listed in the broker's broker.curve_clients_dir and
# gateway.curve_server_public the broker's certificate, the link comes up
# and an official client receives events published (over CurveZMQ too)
# through it. A gateway whose key the broker does not list, and one
# without CurveZMQ, never get a link: /healthz says down, negotiate is
# 503, the gateway says why it may be, the broker counts the refusals.
# Skipped when the broker has no CurveZMQ support.
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/issue4gw_lib.sh"
e2e_init "$1"
if ! "$BROKER_BIN" -c "$CONF" --dump-config 2>/dev/null | grep -q curve_secret_cert ||
    ! "$PUB" keygen --help >/dev/null 2>&1; then
    e2e_log "SKIP: this broker or conduit-pub has no CurveZMQ support"
    exit 0
fi

mkdir -p "$WORK/curve/clients"
for n in broker gw pub rogue; do
    "$PUB" keygen --out "$WORK/curve/$n.cert" --name "$n" >/dev/null ||
        fail "conduit-pub keygen $n"
done
cp "$WORK/curve/gw.cert" "$WORK/curve/pub.cert" "$WORK/curve/clients/"

E2E_BROKER_OPTS=(-o "broker.curve_secret_cert=$WORK/curve/broker.cert"
    -o "broker.curve_clients_dir=$WORK/curve/clients")
e2e_start_broker
CURVE_PUB=(--curve-cert "$WORK/curve/pub.cert" --curve-server-public "$WORK/curve/broker.cert")
for ((i = 0; i < 50; i++)); do
    pub "${CURVE_PUB[@]}" --timeout 500 stats >/dev/null 2>&1 && break
    e2e_alive broker || fail "the broker exited: $(tail -5 "$WORK/broker.log")"
done
grep -q "CurveZMQ on" "$WORK/broker.log" || fail "the broker does not say CurveZMQ is on"

# the gateway with a listed key: e2e_up_gateway waits for the link
E2E_GATEWAY_OPTS=(-o "gateway.curve_cert=$WORK/curve/gw.cert"
    -o "gateway.curve_server_public=$WORK/curve/broker.cert")
e2e_up_gateway gwA GW1_PORT
GW1=http://127.0.0.1:$GW1_PORT
export GW1 BROKER_ACK BROKER_INGRESS PUB PY KEY_A KEY_B KEY_ADMIN MASTER_KEY
E2E_GATEWAY_OPTS=()

# events through the encrypted links, from an encrypted publisher
export NEIGHBOUR_PUB_OPTS
NEIGHBOUR_PUB_OPTS=$(printf '["%s","%s","%s","%s"]' "${CURVE_PUB[@]}")
issue4gw_neighbour_start "$GW1"

# refused: a key the broker does not list, and no CurveZMQ at all
e2e_alloc_port ROGUE_PORT
E2E_GATEWAY_OPTS=(-o "gateway.curve_cert=$WORK/curve/rogue.cert"
    -o "gateway.curve_server_public=$WORK/curve/broker.cert")
e2e_start_gateway gwRogue "$ROGUE_PORT"
E2E_GATEWAY_OPTS=()
e2e_alloc_port PLAIN_PORT
e2e_start_gateway gwPlain "$PLAIN_PORT"
sleep 6.5  # past the link timeout (5 s) of both
for g in "gwRogue $ROGUE_PORT" "gwPlain $PLAIN_PORT"; do
    set -- $g
    e2e_alive "$1" || fail "$1 exited: $(tail -5 "$WORK/$1.log")"
    curl -s "http://127.0.0.1:$2/healthz" | grep -q '"link":"down"' ||
        fail "$1 has a broker link: $(curl -s "http://127.0.0.1:$2/healthz")"
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY_A" \
        "http://127.0.0.1:$2/hubs/notifications/negotiate?negotiateVersion=1")
    [ "$code" = 503 ] || fail "negotiate on $1 answered $code, not 503"
    grep -q "no answer from broker" "$WORK/$1.log" || fail "$1 does not say why it has no link"
done
grep -q "public key is not in broker.curve_clients_dir" "$WORK/broker.log" ||
    fail "the broker did not report the unlisted key"
grep -q "failed the CurveZMQ handshake on 'gateway_link'" "$WORK/broker.log" ||
    fail "the broker did not report the plain client"
e2e_log "unlisted key and plain ZeroMQ: no link, 503 at negotiate, reported"

issue4gw_neighbour_stop
e2e_log "ok"
