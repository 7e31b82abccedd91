#!/usr/bin/env bash
# The admin hub takes the master key only: negotiate with a virtual key
# (even the admin one) or none is 401, start() with one rejects; the master
# key connects (Authorization header, access_token query, X-API-Key) and
# receives events to the group 'admin'.
#
# SPDX-License-Identifier: MIT
. "$(dirname "$0")/lib.sh"
e2e_init "$1"
e2e_start 2

negotiate() { # URL [curl args...] -> HTTP status
    local url=$1
    shift
    curl -s -o "$WORK/negotiate.body" -w '%{http_code}' --max-time 5 \
        -X POST "$@" "$url"
}
base="$GW1/hubs/admin-notifications/negotiate?negotiateVersion=1"
for key in "$KEY_A" "$KEY_ADMIN"; do
    code=$(negotiate "$base" -H "Authorization: Bearer $key")
    [ "$code" = 401 ] || fail "negotiate with a virtual key (…${key: -4}): HTTP $code, want 401"
    code=$(negotiate "$base&access_token=$key")
    [ "$code" = 401 ] || fail "negotiate with a virtual key in access_token: HTTP $code, want 401"
done
code=$(negotiate "$base")
[ "$code" = 401 ] || fail "negotiate without a key: HTTP $code, want 401"
code=$(negotiate "$base" -H "Authorization: Bearer wrong-master-key")
[ "$code" = 401 ] || fail "negotiate with a wrong key: HTTP $code, want 401"

code=$(negotiate "$base" -H "Authorization: Bearer $MASTER_KEY")
[ "$code" = 200 ] || fail "negotiate with the master key: HTTP $code, want 200"
grep -q '"connectionToken"' "$WORK/negotiate.body" ||
    fail "negotiate answer lacks connectionToken: $(cat "$WORK/negotiate.body")"
code=$(negotiate "$GW2/hubs/admin-notifications/negotiate?negotiateVersion=1&access_token=$MASTER_KEY")
[ "$code" = 200 ] || fail "negotiate with the master key in access_token: HTTP $code"
code=$(negotiate "$base" -H "X-API-Key: $MASTER_KEY")
[ "$code" = 200 ] || fail "negotiate with the master key in X-API-Key: HTTP $code"

# a virtual-key hub refuses a missing key too
code=$(negotiate "$GW1/hubs/spend-notifications/negotiate?negotiateVersion=1")
[ "$code" = 401 ] || fail "negotiate on a virtual-key hub without a key: HTTP $code, want 401"
code=$(negotiate "$GW1/hubs/spend-notifications/negotiate?negotiateVersion=1" \
    -H "Authorization: Bearer $KEY_A")
[ "$code" = 200 ] || fail "negotiate on a virtual-key hub with key 1: HTTP $code, want 200"

e2e_node admin.mjs
e2e_log "ok"
