#!/usr/bin/env bash
# Insulation failure (R27, R28): the simulated cable leaks (20 kOhm, below
# 100 ohm/V x 500 V = 50 kOhm).  The power side must report what it
# measures; the controller fails the test, stops with Emergency_Stop and
# Rushed_Stop, and the converter goes off and discharges.
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
test_begin "$@"
session_config

low_insulation() { sim_control "insulation 20"; }
# The knob goes in as soon as the daemon runs, before the session starts.
session_run insulation --hook low_insulation -- --fault insulation --insulation-timeout 10
expect_verdict 0
expect_daemon_clean
assert_file_has "$S_OUT" "insulation test failed as expected: 20 kOhm < 50 kOhm" "seccsim's insulation check"
assert_file_has "$S_DLOG" "control: insulation 20" "the simulator took the knob"

# What the power side reported during the test: the test voltage, and the
# low resistance it measured (raw 10 = 20 kOhm).
t_it=$(first_after 0 "Insulation_Test pistol=1 Test_Voltage=500.0")
t_es=$(first_after 0 "Emergency_Stop pistol=1 Origin=EVSE")
[ -n "$t_it" ] && [ -n "$t_es" ] || fail "no Insulation_Test or Emergency_Stop on the bus"
low=$(awk -v a="$t_it" -v b="$t_es" '$1 > a && $1 < b && /Power_Modules_Status pistol=1 Present_Voltage=(4[5-9][0-9]|50[0-9])\./ &&
                /Insulation_Resistance=20$/' "$S_DEC" | wc -l)
[ "$low" -ge 10 ] || fail "only $low statuses reported 20 kOhm at the test voltage"

# After the Emergency_Stop: off, discharged, never on again.
# (A status stamped within 5 ms of the stop was already on its way.)
nx=$(awk -v t0="$t_es" '$1 > t0 + 0.005 && $2 == "Power_Modules_Status" && $3 == "pistol=1" { print; exit }' "$S_DEC")
[[ $nx == *System_Enable=Not_Allowed* ]] \
        || fail "a status $(ms_between "$t_es" "${nx%% *}") ms after Emergency_Stop allows power: $nx"
assert_file_has "$S_DEC" "Charge_Session_Finished pistol=1 State=Rushed_Stop" "Rushed_Stop"
t_csf=$(first_after 0 "Charge_Session_Finished pistol=1 ")
last=$(awk -v b="$t_csf" '$1 < b && $2 == "Power_Modules_Status" && $3 == "pistol=1"' "$S_DEC" | tail -n 1)
v=$(value "$last" Present_Voltage)
awk -v v="$v" 'BEGIN { exit !(v <= 20) }' || fail "output still at $v V at the end"
bad=$(awk -v a="$t_es" '$1 > a + 0.005 && /Power_Modules_Status pistol=1 .*System_Enable=Allowed/' "$S_DEC" | head -n 1)
[ -z "$bad" ] || fail "power allowed after the failed test: $bad"
assert_file_lacks "$S_DEC" " (Precharge|Charge_Status_Change) pistol=1 " "the session went on after the failed test"
