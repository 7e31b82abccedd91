#!/usr/bin/env bash
# Issue #4: per-key and total connection caps are enforced by the broker
# across the fleet (AUTH / CONN_OPEN answer 429): with
# broker.max_conns_per_key=3 the 4th connection of a key is refused on
# either gateway while other keys still connect; with
# broker.max_conns_total=6 a key under its own cap is refused once six
# connections exist; closing one frees a slot (issue4_caps.mjs).
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/issue4_lib.sh"
e2e_init "$1"
E2E_BROKER_OPTS=(-o broker.max_conns_per_key=3 -o broker.max_conns_total=6)
e2e_start 2
e2e_node issue4_caps.mjs
e2e_log "ok"
