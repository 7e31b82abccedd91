#!/usr/bin/env bash
# Many tenants at once: 20 connections of the three configured virtual
# keys spread over both gateways; each receives exactly the events of its
# own key, in order, never another tenant's.
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
e2e_init "$1"
e2e_start 2
e2e_node tenants.mjs
e2e_log "ok"
