#!/usr/bin/env bash
# Interface version 3: insulation failure.  The simulated cable leaks
# 40 kOhm, a clear failure by either threshold (E.5: the v3 sequence text's
# absolute 100 kOhm, the database's 100 ohm/V = 50 kOhm at 500 V).  The power
# side reports what it measures; the controller fails the test and stops
# with Emergency_Stop and Rushed_Stop; the converter goes off and
# discharges.
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
test_begin "$@"
S_INTERFACE_VERSION=3
session_config

low_insulation() { sim_control "insulation 40"; }
session_run v3insulation --hook low_insulation -- --fault insulation --insulation-timeout 10
expect_verdict 0
expect_daemon_clean
assert_file_has "$S_OUT" "insulation test failed as expected: 40 kOhm < 100 kOhm" "seccsim's insulation check (E.5)"

t_it=$(first_after 0 "DC_Power_Control pistol=1 Target_Voltage=500.0 .*Power_Function=Insulation_Test")
t_es=$(first_after 0 "Emergency_Stop pistol=1 Origin=EVSE")
[ -n "$t_it" ] && [ -n "$t_es" ] || fail "no insulation test request or Emergency_Stop on the bus"
low=$(awk -v a="$t_it" -v b="$t_es" '$1 > a && $1 < b && /Power_Modules_Status pistol=1 Present_Voltage=(4[5-9][0-9]|50[0-9])\./ &&
                /Insulation_Resistance=40$/' "$S_DEC" | wc -l)
[ "$low" -ge 10 ] || fail "only $low statuses reported 40 kOhm at the test voltage"
nx=$(awk -v t0="$t_es" '$1 > t0 + 0.005 && $2 == "Power_Modules_Status" && $3 == "pistol=1" { print; exit }' "$S_DEC")
[[ $nx == *System_Enable=Not_Allowed* ]] \
        || fail "a status $(ms_between "$t_es" "${nx%% *}") ms after Emergency_Stop allows power: $nx"
t_csf=$(first_after 0 "Charge_Session_Finished pistol=1 ")
last=$(awk -v b="$t_csf" '$1 < b && $2 == "Power_Modules_Status" && $3 == "pistol=1"' "$S_DEC" | tail -n 1)
v=$(value "$last" Present_Voltage)
awk -v v="$v" 'BEGIN { exit !(v <= 20) }' || fail "output still at $v V at the end"
assert_file_lacks "$S_DEC" "Power_Function=(Precharge|Power_Transfer)" "the session went on after the failed test"
