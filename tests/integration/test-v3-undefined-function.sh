#!/usr/bin/env bash
# Interface version 3: an undefined Power_Function (3) for one second
# mid-charge (V25, E.27): no power while it lasts, counted, but no fault:
# System_Enable stays Allowed and the charge goes on when Power_Transfer
# comes back.
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
test_begin "$@"
S_INTERFACE_VERSION=3
session_config

session_run v3undefined -- --charge-time 8 --fault undefined-function
expect_verdict 0
expect_daemon_clean
assert_file_has "$S_OUT" "current down to [0-9.]+ A [0-9]+ ms after the undefined Power_Function, System_Enable still Allowed" "seccsim's check"

t_u=$(first_after 0 "DC_Power_Control pistol=1 .*Power_Function=3 ")
[ -n "$t_u" ] || fail "no undefined Power_Function on the bus"
t_back=$(awk -v a="$t_u" '$1 > a && $2 == "DC_Power_Control" && /Power_Function=Power_Transfer/ { print $1; exit }' "$S_DEC")
[ -n "$t_back" ] || fail "no Power_Transfer after the undefined function"
# No current from one status period (plus 100 ms) after it until it ends.
bad=$(awk -v a="$t_u" -v b="$t_back" '$1 > a + 0.2 && $1 < b && $2 == "Power_Modules_Status" && $3 == "pistol=1" &&
                $5 !~ /^Present_Current=-?(0|1)\.[0-9]$/' "$S_DEC" | head -n 1)
[ -z "$bad" ] || fail "current during the undefined Power_Function: $bad"
off=$(awk -v a="$t_u" -v b="$t_back" '$1 > a && $1 < b && /Power_Modules_Status pistol=1 .*System_Enable=Not_Allowed/' "$S_DEC" | head -n 1)
[ -z "$off" ] || fail "System_Enable withdrawn for an undefined request: $off"
# The current back afterwards.
again=$(awk -v a="$t_back" '$1 > a && $2 == "Power_Modules_Status" && $3 == "pistol=1" {
                split($5, kv, "="); if (kv[2] + 0 > 45) { print $1; exit } }' "$S_DEC")
[ -n "$again" ] || fail "no current after Power_Transfer came back"
c=$(daemon_counter "undefined power functions")
[ "${c:-0}" -ge 5 ] || fail "the daemon counted ${c:-0} undefined power functions"
assert_file_lacks "$S_DLOG" "session: fault [a-z]" "a fault in the daemon's log"
