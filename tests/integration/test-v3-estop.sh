#!/usr/bin/env bash
# Interface version 3: Emergency_Stop (0x6B005, Origin = EVSE) mid-charge
# (V24 = R45, R46): the converter off at once, latched against the
# DC_Power_Control requests that keep coming, power again only for a new
# session.
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
test_begin "$@"
S_INTERFACE_VERSION=3
session_config

session_run v3estop -- --charge-time 6 --fault estop@Charging --estop-time 1s
expect_verdict 0
expect_daemon_clean
assert_file_has "$S_OUT" "converter off [0-9]+ ms after Emergency_Stop" "seccsim's reaction check"
assert_file_has "$S_BUS" " 0106B005#01" "Emergency_Stop with the v3 identifier"

t_es=$(first_after 0 "Emergency_Stop pistol=1 Origin=EVSE")
[ -n "$t_es" ] || fail "no Emergency_Stop on the bus"
nx=$(awk -v t0="$t_es" '$1 > t0 + 0.005 && $2 == "Power_Modules_Status" && $3 == "pistol=1" { print; exit }' "$S_DEC")
[[ $nx == *System_Enable=Not_Allowed* ]] \
        || fail "a status $(ms_between "$t_es" "${nx%% *}") ms after Emergency_Stop still allows power: $nx"
t_ncs2=$(first_after "$t_es" "New_Charge_Session pistol=1 ")
[ -n "$t_ncs2" ] || fail "no second session"
reqs=$(awk -v a="$t_es" -v b="$t_ncs2" '$1 > a && $1 < b && $2 == "DC_Power_Control" && /Power_Function=Power_Transfer/' "$S_DEC" | wc -l)
[ "$reqs" -ge 5 ] || fail "only $reqs power requests during the Emergency_Stop"
bad=$(awk -v a="$t_es" -v b="$t_ncs2" '$1 > a + 0.2 && $1 < b && $2 == "Power_Modules_Status" && $3 == "pistol=1" &&
                (/System_Enable=Allowed/ || $5 !~ /^Present_Current=-?(0|1)\.[0-9]$/)' "$S_DEC" | head -n 1)
[ -z "$bad" ] || fail "power allowed again before a new session: $bad"
t_en2=$(first_after "$t_ncs2" "Power_Modules_Status pistol=1 .*System_Enable=Allowed")
[ -n "$t_en2" ] || fail "System_Enable never Allowed in the second session"
c=$(daemon_counter "emergency stops")
[ "${c:-0}" -ge 1 ] || fail "the daemon counted no emergency stop"
c=$(daemon_counter "rejected requests")
[ "${c:-0}" -ge 5 ] || fail "the daemon refused only ${c:-0} requests during the stop"
