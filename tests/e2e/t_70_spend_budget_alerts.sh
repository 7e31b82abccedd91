#!/usr/bin/env bash
# Issue #3: spend ingress through broker and gateways. The exact
# BudgetAlert sequence of a climb / fall / climb, HighSpendAlert on the
# admin hub, SpendUpdate batching (issue3_spend.mjs); the documented log
# line per notification, and no key material in any log.
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/issue3_lib.sh"
e2e_init "$1"
e2e_start 2
e2e_node issue3_spend.mjs
issue3_expect_log broker '[SignalR:BudgetAlert] Sent notification - VirtualKey: 1, Threshold: 80%, Groups: [vkey-1]'
issue3_expect_log broker '[SignalR:BudgetAlert] Sent notification - VirtualKey: 1, Threshold: 100%, Groups: [vkey-1]'
issue3_expect_log broker '[SignalR:HighSpendAlert] Sent notification - VirtualKey: 1'
issue3_expect_log broker '[SignalR:SpendUpdate] Sent notification - VirtualKey: 2'
issue3_no_key_material
e2e_log "ok"
