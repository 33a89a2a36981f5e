#!/usr/bin/env bash
# A whole CCS session, seccsim playing the controller with sequence flags and
# external authorisation: seccsim's verdict, and what crossed the bus.
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
test_begin "$@"
session_config

session_run ccs -- --protocol ccs --sequence-flags --external-auth --charge-time 8
expect_verdict 0
expect_daemon_clean

# The vendor's sequence, state by state (PROTOCOL.md C.1).
states=$(controller_states)
assert_eq "Initialising Not_Available Waiting_For_PEV Negotiating_Connection CCS_Authorisation_Process Connected_With_Full_Info Insulation_Test Precharge Waiting_For_Charge Charging Ending_Charge Welding_Detection Closing_Communication Waiting_For_PEV" \
        "$states" "controller states on the bus"

# Sequence_Control: authorised, CCS authorisation done and valid, limits final.
assert_file_has "$S_DEC" "Sequence_Control pistol=1 Start_Charge_Authorisation=Allowed .*CCS_Authorisation_Done=Done CCS_Authorisation_Valid=Valid Charge_Parameters_Done=Done" "flags"
assert_file_has "$S_DEC" "Power_Modules_Limits pistol=1 Maximum_Voltage=1000.0 Maximum_Current=200.0" "limits"

# Power_Modules_Status every 100 ms from the first New_Charge_Session to
# Charge_Session_Finished (R2).
t_ncs=$(first_after 0 "New_Charge_Session pistol=1 ")
t_csf=$(first_after 0 "Charge_Session_Finished pistol=1 State=Clean_Stop")
[ -n "$t_ncs" ] && [ -n "$t_csf" ] || fail "no New_Charge_Session or Charge_Session_Finished on the bus"
read -r max n < <(status_gaps "$t_ncs" "$t_csf")
note "Power_Modules_Status: $n in the session, largest gap $max ms"
[ "$max" -le 300 ] || fail "Power_Modules_Status gap of $max ms"
span=$(ms_between "$t_ncs" "$t_csf")
[ "$n" -ge $(( span / 100 * 8 / 10 )) ] || fail "only $n Power_Modules_Status in $span ms"

# System_Enable Allowed from the first Allowed to the end of charge.
t_en=$(first_after "$t_ncs" "Power_Modules_Status pistol=1 .*System_Enable=Allowed")
t_weld=$(first_after "$t_ncs" "Advantics_Controller_Status pistol=1 State=Welding_Detection")
off=$(awk -v a="$t_en" -v b="$t_weld" '$1 > a && $1 < b && /Power_Modules_Status pistol=1 .*System_Enable=Not_Allowed/' "$S_DEC" | head -n 1)
[ -z "$off" ] || fail "System_Enable dropped during the power phases: $off"

# Insulation test at 500 V reached, precharge at <= 2 A, 150 A delivered.
assert_file_has "$S_DEC" "Insulation_Test pistol=1 Test_Voltage=500.0" "insulation test request"
assert_file_has "$S_DEC" "Power_Modules_Status pistol=1 Present_Voltage=(4[5-9][0-9]|50[0-9])\\.[0-9] " "insulation test voltage"
assert_file_has "$S_DEC" "Precharge pistol=1 Target_Voltage=400.0 Maximum_Current=2.0" "precharge request"
assert_file_has "$S_DEC" "Precharge pistol=1 Target_Voltage=400.0 Maximum_Current=0.0" "end of precharge (R33)"
assert_file_has "$S_DEC" "Power_Modules_Status pistol=1 .* Present_Current=1(4[6-9]|5[0-4])\\.[0-9] " "150 A delivered"
over=$(awk '$2 == "Power_Modules_Status" && $3 == "pistol=1" { split($5, kv, "="); if (kv[2] + 0 > 155) print }' "$S_DEC" | head -n 1)
[ -z "$over" ] || fail "more current than ever requested: $over"

# Nothing on the bus from the power side for another pistol, every DLC right.
assert_file_lacks "$S_DEC" "^[0-9.]+ (malformed|unknown) " "malformed or unknown frames"
assert_file_lacks "$S_DEC" "(Power_Modules_Status|Power_Modules_Limits|Sequence_Control) pistol=[^1]" "power-side frames of another pistol"
assert_eq 0 "$(daemon_counter malformed)" "daemon's malformed counter"
