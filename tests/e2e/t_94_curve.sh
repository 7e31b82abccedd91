#!/usr/bin/env bash
# Issue #4: CurveZMQ on the broker's three endpoints
# (broker.curve_secret_cert, broker.curve_clients_dir), with certificates
# made by `conduit-pub keygen`: the gateway (gateway.curve_cert,
# gateway.curve_server_public), conduit-pub (--curve-cert,
# --curve-server-public) and a Python service with accepted keys get
# through; clients with unknown keys or without CurveZMQ are refused,
# their messages dropped and their handshakes counted per endpoint
# (issue4_curve.mjs). Also: --check-config refuses a missing certificate
# and a public-only one.
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/issue4_lib.sh"
e2e_init "$1"
C="$WORK/certs"
mkdir -p "$C/clients"
for name in broker gateway pub svc evil; do
    "$PUB" keygen --out "$C/$name" --name "$name" >"$WORK/$name.key" ||
        fail "conduit-pub keygen --out $C/$name failed"
    [ "$(stat -c %a "$C/${name}_secret")" = 600 ] || fail "${name}_secret is not mode 0600"
done
cp "$C/gateway" "$C/pub" "$C/svc" "$C/clients/"
"$PUB" keygen --out "$C/broker" >/dev/null 2>&1 && fail "keygen overwrote an existing certificate"

# --check-config
"$BROKER_BIN" -c "$CONF" -o "broker.curve_secret_cert=$C/broker" \
    -o "broker.curve_clients_dir=$C/clients" --check-config >/dev/null ||
    fail "--check-config refused a good CurveZMQ setup"
cp "$C/broker" "$WORK/public-only"
for bad in "$C/missing:cannot read the broker certificate" \
    "$WORK/public-only:has no secret key"; do
    rc=0
    "$BROKER_BIN" -c "$CONF" -o "broker.curve_secret_cert=${bad%%:*}" \
        -o "broker.curve_clients_dir=$C/clients" --check-config \
        >/dev/null 2>"$WORK/check.err" || rc=$?
    [ "$rc" = 1 ] || fail "--check-config with curve_secret_cert ${bad%%:*} exited $rc"
    grep -q "${bad#*:}" "$WORK/check.err" || fail "--check-config: no '${bad#*:}' in: $(cat "$WORK/check.err")"
done

E2E_BROKER_OPTS=(-o "broker.curve_secret_cert=$C/broker_secret" -o "broker.curve_clients_dir=$C/clients")
E2E_GATEWAY_OPTS=(-o "gateway.curve_cert=$C/gateway" -o "gateway.curve_server_public=$C/broker")
e2e_start 1
export BROKER_LINK ISSUE4_CERTS="$C"
e2e_node issue4_curve.mjs
# with -c, conduit-pub takes the broker's public key from the config's
# broker.curve_secret_cert (relative to the config file)
printf 'broker:\n  ingress_ack: %s\n  curve_secret_cert: certs/broker\n' \
    "$BROKER_ACK" >"$WORK/pub.yaml"
"$PUB" -c "$WORK/pub.yaml" --curve-cert "$C/pub" stats >"$WORK/stats.json" ||
    fail "conduit-pub -c pub.yaml --curve-cert pub stats failed"
[ "$(issue4_jq "$(cat "$WORK/stats.json")" 'd["curve"]')" = true ] ||
    fail "stats through -c: $(head -c 200 "$WORK/stats.json")"
for ep in ingress ingress_ack gateway_link; do
    grep -q "W curve: refused a CurveZMQ client on '$ep'" "$WORK/broker.log" ||
        fail "no WARN about the refused client on '$ep'"
done
# (the plain client shows as a mechanism mismatch or, depending on who
# closes first, as a failure without detail)
grep -q "W curve: a client failed the CurveZMQ handshake on 'ingress': " \
    "$WORK/broker.log" || fail "no WARN about the plain client on 'ingress'"
# secrets never reach a log
for name in broker gateway pub svc evil; do
    secret=$(sed -n 's/^ *secret-key = "\(.*\)"$/\1/p' "$C/${name}_secret")
    [ -n "$secret" ] || fail "no secret key in ${name}_secret"
    if grep -qF -- "$secret" "$WORK"/*.log; then fail "the secret key of $name is in a log"; fi
done
e2e_log "ok"
