#!/usr/bin/env bash
# Interface version 3, a bidirectional charger (part D.4): an emergency stop
# (V24 = R45) and a controller silence (V1) while discharging switch the
# converter off as while charging, latched until a new session, which then
# plays charge, discharge, charge again.
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
test_begin "$@"
S_INTERFACE_VERSION=3
session_config "[limits]" "max_discharge_current = 80" "max_discharge_power = 30000" \
        "[v3]" "bidirectional = true" "range_policy = ocpp"

# 1. An emergency stop while discharging: off at once, whatever the sign.
session_run v3bpt-estop -- --discharge --discharge-current 40 --charge-time 7500ms --ccs-gap 0 \
        --fault estop@Charging --fault-delay 3500ms --estop-time 1s
expect_verdict 0
expect_daemon_clean
t_es=$(first_after 0 "Emergency_Stop pistol=1 Origin=EVSE")
[ -n "$t_es" ] || fail "no Emergency_Stop on the bus"
before=$(awk -v t0="$t_es" '$1 < t0 && $2 == "Power_Modules_Status" && $3 == "pistol=1" { l = $0 } END { print l }' "$S_DEC")
[[ $before == *Present_Current=-3[6-9].* || $before == *Present_Current=-4[0-4].* ]] \
        || fail "not discharging when the Emergency_Stop came: $before"
nx=$(awk -v t0="$t_es" '$1 > t0 + 0.005 && $2 == "Power_Modules_Status" && $3 == "pistol=1" { print; exit }' "$S_DEC")
[[ $nx == *System_Enable=Not_Allowed* ]] || fail "a status after the Emergency_Stop still allows power: $nx"
t_ncs2=$(first_after "$t_es" "New_Charge_Session pistol=1 ")
[ -n "$t_ncs2" ] || fail "no second session"
bad=$(awk -v a="$t_es" -v b="$t_ncs2" '$1 > a + 0.2 && $1 < b && $2 == "Power_Modules_Status" && $3 == "pistol=1" &&
                (/System_Enable=Allowed/ || $5 !~ /^Present_Current=-?(0|1)\.[0-9]$/)' "$S_DEC" | head -n 1)
[ -z "$bad" ] || fail "power again before a new session: $bad"

# 2. The controller falls silent while discharging (V1).
session_run v3bpt-silence -- --discharge --discharge-current 40 --charge-time 7500ms --ccs-gap 0 \
        --fault heartbeat-stop@Charging --fault-delay 3500ms --silence 1200ms
expect_verdict 0
expect_daemon_clean
assert_file_has "$S_OUT" "converter off [0-9]+ ms after the heartbeat stopped" "seccsim's reaction check"
t_last=$(awk '$2 == "Advantics_Controller_Status" && $3 == "pistol=1" {
                if (last != "" && $1 - last > 1.0) { print last; exit }
                last = $1 }' "$S_DEC")
[ -n "$t_last" ] || fail "no heartbeat silence on the bus"
before=$(awk -v t0="$t_last" '$1 < t0 && $2 == "Power_Modules_Status" && $3 == "pistol=1" { l = $0 } END { print l }' "$S_DEC")
[[ $before == *Present_Current=-3[6-9].* || $before == *Present_Current=-4[0-4].* ]] \
        || fail "not discharging when the controller fell silent: $before"
t_off=$(awk -v t0="$t_last" '$1 > t0 && $2 == "Power_Modules_Status" && $3 == "pistol=1" &&
                /System_Enable=Not_Allowed/ {
                        split($5, kv, "="); i = kv[2] + 0; if (i < 0) i = -i
                        if (i <= 1.0) { print $1; exit } }' "$S_DEC")
[ -n "$t_off" ] || fail "the converter never reported off after the heartbeat stopped"
lat=$(ms_between "$t_last" "$t_off")
note "converter off in a status $lat ms after the last heartbeat, discharging before"
[ "$lat" -le 400 ] || fail "converter reported off only $lat ms after the last heartbeat (limit 400)"
c=$(daemon_counter "controller timeouts")
[ "${c:-0}" -ge 1 ] || fail "the daemon counted no controller timeout"
