#!/usr/bin/env bash
# Issue #3: UnusualSpending fires for a spike over a key's baseline and
# not for steady spend (issue3_unusual.mjs; small windows set here).
#
# SPDX-License-Identifier: MIT
E2E_BROKER_OPTS=(-o spend.unusual_short_ms=2000 -o spend.unusual_long_ms=20000
    -o spend.unusual_min_samples=3 -o spend.unusual_multiple=3)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/issue3_lib.sh"
e2e_init "$1"
e2e_start 2
e2e_node issue3_unusual.mjs
issue3_expect_log broker '[SignalR:UnusualSpending] Sent notification - VirtualKey: 1, Rate: '
e2e_log "ok"
