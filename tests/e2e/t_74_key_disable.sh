#!/usr/bin/env bash
# Issue #3: a disabled key is closed everywhere within a second, refused
# with 401, announced to the admin hub, and usable again once enabled
# (issue3_keys.mjs).
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/issue3_lib.sh"
e2e_init "$1"
e2e_start 2
e2e_node issue3_keys.mjs
issue3_expect_log broker '[SignalR:VirtualKeyUpdated] Sent notification - VirtualKey: 2, Change: disabled, Groups: [admin, admin-vkey-2]'
issue3_no_key_material
e2e_log "ok"
