#!/usr/bin/env bash
# Issue #3: provider health hysteresis end to end (issue3_health.mjs), and
# the log line per announcement.
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/issue3_lib.sh"
e2e_init "$1"
e2e_start 2
e2e_node issue3_health.mjs
issue3_expect_log broker '[SignalR:ProviderHealthChanged] Sent notification - '
n=$(grep -cF '[SignalR:ProviderHealthChanged] Sent notification' "$WORK/broker.log" || true)
# two changes, each one line per hub (SystemNotificationHub, AdminNotificationHub)
[ "$n" = 4 ] || fail "expected 4 ProviderHealthChanged log lines, got $n"
e2e_log "ok"
