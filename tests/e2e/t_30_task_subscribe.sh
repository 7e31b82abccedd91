#!/usr/bin/env bash
# Task ownership on TaskHub, VideoGenerationHub and ImageGenerationHub: the
# owner subscribes and receives the next progress, another tenant is
# denied with the catalog's text, the admin virtual key passes, an unknown
# task gives the not-found text, and a late subscriber immediately receives
# the task's latest state.
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
e2e_init "$1"
e2e_start 2
e2e_node tasks.mjs
e2e_log "ok"
