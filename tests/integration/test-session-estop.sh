#!/usr/bin/env bash
# Emergency_Stop (Origin = EVSE) mid-charge (R45, R46): the converter off at
# once, latched while the stop lasts and after, power again only for a new
# session, which then runs normally.
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
test_begin "$@"
session_config

session_run estop -- --charge-time 8 --fault estop@Charging --estop-time 1s
expect_verdict 0
expect_daemon_clean
assert_file_has "$S_OUT" "converter off [0-9]+ ms after Emergency_Stop" "seccsim's reaction check"

t_es=$(first_after 0 "Emergency_Stop pistol=1 Origin=EVSE")
[ -n "$t_es" ] || fail "no Emergency_Stop on the bus"
# The next status after the stop (at most one period + 100 ms later)
# shows the converter off; a status sent before the stop's effect may
# still carry the last measurement, the one after it may not.
t_off=$(awk -v t0="$t_es" '$1 > t0 && $2 == "Power_Modules_Status" && $3 == "pistol=1" {
                n++; split($5, kv, "="); i = kv[2] + 0; if (i < 0) i = -i
                if (/System_Enable=Not_Allowed/ && i <= 1.0) { print $1; exit }
                if (n >= 2) exit }' "$S_DEC")
[ -n "$t_off" ] || fail "neither of the two statuses after Emergency_Stop shows the converter off"
lat=$(ms_between "$t_es" "$t_off")
note "converter off in a status $lat ms after Emergency_Stop"
[ "$lat" -le 200 ] || fail "converter reported off $lat ms after Emergency_Stop (limit 200)"
# System_Enable: Not_Allowed in the first status the daemon can have sent
# after reading the stop.  A status stamped within a few ms of the stop was
# already on its way when the stop arrived.
nx=$(awk -v t0="$t_es" '$1 > t0 + 0.005 && $2 == "Power_Modules_Status" && $3 == "pistol=1" { print; exit }' "$S_DEC")
first=$(awk -v t0="$t_es" '$1 > t0 && $2 == "Power_Modules_Status" && $3 == "pistol=1" { print $1; exit }' "$S_DEC")
note "first status $(ms_between "$t_es" "$first") ms after Emergency_Stop"
[[ $nx == *System_Enable=Not_Allowed* ]] \
        || fail "a status $(ms_between "$t_es" "${nx%% *}") ms after Emergency_Stop still allows power: $nx"

# Latched: no System_Enable = Allowed and no current until a new session,
# although Charging_Loop requests kept coming during the stop.
t_ncs2=$(first_after "$t_es" "New_Charge_Session pistol=1 ")
[ -n "$t_ncs2" ] || fail "no second session"
loops=$(awk -v a="$t_es" -v b="$t_ncs2" '$1 > a && $1 < b && $2 == "Charging_Loop" && $3 == "pistol=1" && $5 != "Target_Current=0.0"' "$S_DEC" | wc -l)
[ "$loops" -ge 5 ] || fail "only $loops charge requests during the Emergency_Stop"
bad=$(awk -v a="$t_off" -v b="$t_ncs2" '$1 >= a && $1 < b && $2 == "Power_Modules_Status" && $3 == "pistol=1" &&
                (/System_Enable=Allowed/ || $5 !~ /^Present_Current=-?(0|1)\.[0-9]$/)' "$S_DEC" | head -n 1)
[ -z "$bad" ] || fail "power allowed again before a new session: $bad"
assert_file_has "$S_DEC" "Charge_Session_Finished pistol=1 State=Rushed_Stop" "first session ends rushed"

# The new session clears the latch and completes.
t_en2=$(first_after "$t_ncs2" "Power_Modules_Status pistol=1 .*System_Enable=Allowed")
[ -n "$t_en2" ] || fail "System_Enable never Allowed in the second session"
t_csf2=$(first_after "$t_ncs2" "Charge_Session_Finished pistol=1 ")
assert_match "State=Clean_Stop" "$(awk -v t="$t_csf2" '$1 == t' "$S_DEC")" "end of the second session"
c=$(daemon_counter "emergency stops")
[ "${c:-0}" -ge 1 ] || fail "the daemon counted no emergency stop"
