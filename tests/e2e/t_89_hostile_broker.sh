#!/usr/bin/env bash
# A gateway against a hostile broker (issue #5): the broker hands on each
# event's MessagePack and the gateway writes the JSON frame, so arguments
# that make no frame are the gateway's to refuse. A fake broker in Python
# (issue5_hostile_broker.py) sends EVENTs whose arguments are truncated,
# start no value or have a byte after them, garbage frames, an EVENT with
# both args and data, and a batch whose good EVENT is followed by garbage;
# a raw SignalR client must receive exactly the two good events, whole
# and in order, on a connection that stays open, and /metrics must count
# every refusal. The gateway neither crashes nor reports a sanitizer error.
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
e2e_init "$1"
e2e_broker_endpoints # no broker: the fake one binds P_LINK
mkdir -p "$WORK/store"
e2e_alloc_port GW1_PORT
e2e_start_gateway gwA "$GW1_PORT"
GW1=http://127.0.0.1:$GW1_PORT

timeout -k 5 60 "$PY" "$E2E_DIR/issue5_hostile_broker.py" "$P_LINK" "$GW1" ||
    fail "hostile broker"
e2e_alive gwA || fail "the gateway died"
grep -q "dropping event 'Bad'" "$WORK/gwA.log" ||
    fail "no WARN about the unwritable events in the gateway's log"
e2e_log "ok"
