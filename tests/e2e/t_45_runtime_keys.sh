#!/usr/bin/env bash
# Keys managed at run time with conduit-pub key: an added key connects and
# receives its own events on both gateways; disabling it closes its
# connections across the fleet without reconnect and refuses it (401);
# enabling restores it; a new secret replaces the old one; deleting it
# closes and refuses it and tells the admin hub.
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
e2e_init "$1"
e2e_start 2
e2e_node keys.mjs
e2e_log "ok"
