#!/usr/bin/env bash
# Groups joined on connect receive events published by conduit-pub and by a
# service's ZeroMQ PUB socket, payloads intact, and only the addressed
# tenant's connections on the addressed hub receive them.
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
e2e_init "$1"
e2e_start 2
e2e_node events.mjs
e2e_log "ok"
