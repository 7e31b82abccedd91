#!/usr/bin/env bash
# Two gateways: a member on each receives a group event exactly once, and
# 200 events of one group, published with conduit-pub ndjson, arrive on
# both in publish order.
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
e2e_init "$1"
e2e_start 2
e2e_node order.mjs
e2e_log "ok"
