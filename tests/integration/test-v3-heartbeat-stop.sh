#!/usr/bin/env bash
# Interface version 3: the controller goes silent mid-charge (V1): the
# converter off within 200 ms plus one status period, latched until a new
# session, which then completes.
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
test_begin "$@"
S_INTERFACE_VERSION=3
session_config

session_run v3hbstop -- --charge-time 6 --fault heartbeat-stop@Charging --silence 1200ms
expect_verdict 0
expect_daemon_clean
assert_file_has "$S_OUT" "converter off [0-9]+ ms after the heartbeat stopped" "seccsim's reaction check"
assert_file_has "$S_OUT" ", 2 session\\(s\\) finished" "second session"

t_last=$(awk '$2 == "Advantics_Controller_Status" && $3 == "pistol=1" {
                if (last != "" && $1 - last > 1.0) { print last; exit }
                last = $1 }' "$S_DEC")
[ -n "$t_last" ] || fail "no heartbeat silence on the bus"
t_off=$(awk -v t0="$t_last" '$1 > t0 && $2 == "Power_Modules_Status" && $3 == "pistol=1" &&
                /System_Enable=Not_Allowed/ {
                        split($5, kv, "="); i = kv[2] + 0; if (i < 0) i = -i
                        if (i <= 1.0) { print $1; exit } }' "$S_DEC")
[ -n "$t_off" ] || fail "no Power_Modules_Status with the converter off after the heartbeat stopped"
lat=$(ms_between "$t_last" "$t_off")
note "converter off in a status $lat ms after the last heartbeat"
[ "$lat" -le 400 ] || fail "converter reported off only $lat ms after the last heartbeat (limit 400)"
t_ncs2=$(first_after "$t_off" "New_Charge_Session pistol=1 ")
[ -n "$t_ncs2" ] || fail "no second session"
bad=$(awk -v a="$t_off" -v b="$t_ncs2" '$1 >= a && $1 < b && $2 == "Power_Modules_Status" && $3 == "pistol=1" &&
                (/System_Enable=Allowed/ || $5 !~ /^Present_Current=-?(0|1)\.[0-9]$/)' "$S_DEC" | head -n 1)
[ -z "$bad" ] || fail "the converter came back before a new session: $bad"
assert_file_has "$S_DEC" "Charge_Session_Finished pistol=1 State=Clean_Stop" "second session"
c=$(daemon_counter "controller timeouts")
[ "${c:-0}" -ge 1 ] || fail "the daemon counted no controller timeout"
