#!/usr/bin/env bash
# Issue #3: webhook outcomes reach only the subscribing tenant's group for
# that URL (issue3_webhook.mjs).
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/issue3_lib.sh"
e2e_init "$1"
e2e_start 2
e2e_node issue3_webhook.mjs
issue3_expect_log broker '[SignalR:WebhookDelivered] Sent notification - VirtualKey: 1, Url: https://hook.example/x'
e2e_log "ok"
