#!/usr/bin/env bash
# Encrypted links and the Origin allow-list (issue #4). A gateway given
# gateway.tls_cert/tls_key (a self-signed certificate made here) serves
# https and wss: the official client, trusting the certificate through
# NODE_EXTRA_CA_CERTS, negotiates over https, runs over wss and receives
# an event, with and without negotiation; plain http to that port fails
# (issue4gw_tls.mjs, curl). A gateway with gateway.cors_origins
# [https://good.example] refuses negotiate, upgrade and preflight from
# https://evil.example with 403 and no CORS headers, echoes only the
# allowed origin, and lets clients that send no Origin (not browsers)
# through; the refusals are counted.
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/issue4gw_lib.sh"
e2e_init "$1"
e2e_start 0

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/key.pem" \
    -out "$WORK/cert.pem" 2>"$WORK/openssl.log" || fail "openssl: $(cat "$WORK/openssl.log")"

# the TLS gateway: lib.sh's wait polls http, so this one waits on https
e2e_alloc_port TLS_PORT
E2E_GATEWAY_OPTS=(-o "gateway.tls_cert=$WORK/cert.pem" -o "gateway.tls_key=$WORK/key.pem")
e2e_start_gateway gwTLS "$TLS_PORT"
E2E_GATEWAY_OPTS=()
TLS=https://127.0.0.1:$TLS_PORT
for ((i = 0; i < 150; i++)); do
    e2e_alive gwTLS || fail "the TLS gateway exited: $(tail -5 "$WORK/gwTLS.log")"
    curl -s --max-time 2 --cacert "$WORK/cert.pem" "$TLS/healthz" 2>/dev/null |
        grep -q '"link":"up"' && break
    sleep 0.1
done
curl -sf --max-time 2 --cacert "$WORK/cert.pem" "$TLS/healthz" | grep -q '"link":"up"' ||
    fail "the TLS gateway did not come up"
grep -q "listening on https://" "$WORK/gwTLS.log" || fail "the gateway does not say it serves https"

# plain http to the TLS port gets no HTTP answer
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$TLS_PORT/healthz" || true)
[ "$code" = 000 ] || fail "plain http to the TLS port answered $code"
# and https is verified against the certificate, not just accepted
curl -s --max-time 5 "$TLS/healthz" >/dev/null 2>&1 &&
    fail "https to the gateway passed without trusting its certificate"

issue4gw_up_gateway gwO GWO_PORT -o 'gateway.cors_origins=[https://good.example]'
ORIGIN=http://127.0.0.1:$GWO_PORT

NODE_EXTRA_CA_CERTS="$WORK/cert.pem" e2e_node issue4gw_tls.mjs "$TLS" "$ORIGIN"

# the plain-http attempts on the TLS port were counted (as tls when lws
# saw the request at once, else as http)
bad=$(curl -s --max-time 5 --cacert "$WORK/cert.pem" "$TLS/metrics" |
    awk '$1 ~ /^conduit_gateway_protocol_errors_total\{kind="(tls|http)"\}$/ { n += $2 } END { print n + 0 }')
[ "$bad" -ge 2 ] || fail "plain http to the TLS port counted $bad times, not 2"
e2e_log "plain http to the TLS port: refused, counted ($bad)"

# ---- Origin, as a browser's requests would carry it ----
neg="$ORIGIN/hubs/notifications/negotiate?negotiateVersion=1"
auth="Authorization: Bearer $KEY_A"
refused0=$(issue4gw_metric "$ORIGIN" conduit_gateway_origin_refused_total)

hdrs=$(curl -s -D - -o /dev/null -X POST -H "$auth" -H 'Origin: https://good.example' "$neg")
printf '%s' "$hdrs" | grep -q '^HTTP/1.1 200' || fail "negotiate from the allowed origin: $hdrs"
printf '%s' "$hdrs" | grep -qi '^access-control-allow-origin: https://good.example' ||
    fail "negotiate from the allowed origin does not echo it: $hdrs"

hdrs=$(curl -s -D - -o /dev/null -X POST -H "$auth" -H 'Origin: https://evil.example' "$neg")
printf '%s' "$hdrs" | grep -q '^HTTP/1.1 403' || fail "negotiate from a foreign origin: $hdrs"
printf '%s' "$hdrs" | grep -qi '^access-control-allow-origin' &&
    fail "a refused negotiate carries CORS headers: $hdrs"

pre() {
    curl -s -D - -o /dev/null -X OPTIONS -H "Origin: $1" \
        -H 'Access-Control-Request-Method: POST' \
        -H 'Access-Control-Request-Headers: authorization, x-requested-with' "$neg"
}
hdrs=$(pre https://good.example)
printf '%s' "$hdrs" | grep -q '^HTTP/1.1 204' || fail "preflight from the allowed origin: $hdrs"
printf '%s' "$hdrs" | grep -qi '^access-control-allow-origin: https://good.example' ||
    fail "preflight does not echo the allowed origin: $hdrs"
printf '%s' "$hdrs" | grep -qi '^access-control-allow-headers: authorization, x-requested-with' ||
    fail "preflight does not allow the requested headers: $hdrs"
hdrs=$(pre https://evil.example)
printf '%s' "$hdrs" | grep -q '^HTTP/1.1 403' || fail "preflight from a foreign origin: $hdrs"
printf '%s' "$hdrs" | grep -qi '^access-control-allow' &&
    fail "preflight from a foreign origin got CORS headers: $hdrs"

up() {
    curl -s -D - -o /dev/null --max-time 1 -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
        -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
        -H "Origin: $1" "$ORIGIN/hubs/notifications?access_token=$KEY_A" || true
}
hdrs=$(up https://evil.example)
printf '%s' "$hdrs" | grep -q '^HTTP/1.[01] 403' || fail "upgrade from a foreign origin: $hdrs"
hdrs=$(up https://good.example)
printf '%s' "$hdrs" | grep -q '^HTTP/1.1 101' || fail "upgrade from the allowed origin: $hdrs"

# counted: the three refusals above (negotiate, preflight, upgrade)
refused=$(issue4gw_metric "$ORIGIN" conduit_gateway_origin_refused_total)
[ "$refused" = $((refused0 + 3)) ] || fail "origin refusals counted: $refused0 -> $refused"
e2e_log "Origin allow-list: foreign origin refused at negotiate, preflight, upgrade"
e2e_log "ok"
