#!/usr/bin/env bash
# Handshake and keep-alive with the official client: with the gateway
# pinging every second, a client whose server timeout is 3 s stays
# connected through 6 s of silence; an unknown method invoked gets the
# exact .NET error text; a non-blocking send of one gets no answer and the
# connection stays up.
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
e2e_init "$1"
E2E_GATEWAY_OPTS=(-o gateway.keepalive_ms=1000)
e2e_start 2
e2e_node handshake.mjs
e2e_log "ok"
