#!/usr/bin/env bash
# Issue #4: hostile input on every ZeroMQ endpoint of the broker (the SUB
# ingress, the acknowledged ROUTER, the gateway-link ROUTER): garbage
# bytes, truncated MessagePack, containers declaring 4 G elements, deep
# nesting, oversize messages (> broker.max_ingress_bytes) and multi-frame
# messages of the wrong shape. Nothing crashes, a good message right after
# is still handled (issue4_garbage.mjs: two events reach a SignalR
# client, and a HELLO is welcomed), every bad message is counted per
# endpoint, and the WARN lines are rate-limited.
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/issue4_lib.sh"
e2e_init "$1"
MAX=4096
E2E_BROKER_OPTS=(-o "broker.max_ingress_bytes=$MAX")
e2e_start 1
export BROKER_LINK ISSUE4_OUT="$WORK/sent.json" ISSUE4_MAX_BYTES=$MAX
before=$(issue4_stats)
e2e_node issue4_garbage.mjs
sent=$(cat "$ISSUE4_OUT")
after=$(issue4_stats)

# every bad message is counted, on its own endpoint
for pair in ingress:ingress_sub_garbage ingress_ack:ingress_ack_garbage \
    gateway_link:link_garbage; do
    ep=${pair%%:*} counter=${pair#*:}
    want=$(issue4_jq "$sent" "d['$ep']")
    got=$(($(issue4_jq "$after" "d['$counter']") - $(issue4_jq "$before" "d['$counter']")))
    [ "$got" = "$want" ] || fail "$counter rose by $got, expected $want (one per bad message sent to $ep)"
    e2e_log "$ep: $want bad messages, $counter +$got"
done
# 20 oversize maps on ingress, 1 on ingress_ack, 10 link frames
[ "$(issue4_jq "$after" 'd["ingress_oversize"]')" = 21 ] ||
    fail "ingress_oversize is $(issue4_jq "$after" 'd["ingress_oversize"]'), expected 21"
[ "$(issue4_jq "$after" 'd["link_oversize"]')" = 10 ] ||
    fail "link_oversize is $(issue4_jq "$after" 'd["link_oversize"]'), expected 10"
# the good ones were handled: two events accepted, the fake gateway admitted
[ "$(issue4_jq "$after" 'd["ingress_accepted"]["event"]')" = 2 ] ||
    fail "ingress_accepted.event is $(issue4_jq "$after" 'd["ingress_accepted"]["event"]'), expected 2"
[ "$(issue4_jq "$after" 'd["gateways_admitted"] - 1')" = "$(issue4_jq "$before" 'd["gateways_admitted"]')" ] ||
    fail "the HELLO after the link garbage was not admitted"

# a clear WARN per endpoint, rate-limited (hundreds sent, a few lines)
for ep in ingress ingress_ack gateway_link; do
    n=$(issue4_count_log broker "W ingress: dropping a message on '$ep'")
    [ "$ep" = gateway_link ] && n=$(issue4_count_log broker "W gwlink: dropping a message on '$ep' from")
    [ "$n" -ge 1 ] || fail "no WARN line about garbage on '$ep' in the broker log"
    [ "$n" -le 12 ] || fail "$n WARN lines about garbage on '$ep': not rate-limited"
done
grep -q "message too large (.* bytes, limit $MAX)" "$WORK/broker.log" ||
    fail "no WARN naming the oversize limit"
e2e_alive broker || fail "the broker died"
e2e_log "ok"
