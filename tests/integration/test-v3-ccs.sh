#!/usr/bin/env bash
# Interface version 3: a whole CCS session, seccsim playing a v3 controller
# with sequence flags and external authorisation (part D.5): seccsim's
# verdict, and what crossed the bus in database v3.6.
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
test_begin "$@"
S_INTERFACE_VERSION=3
session_config

session_run v3ccs -- --protocol ccs --sequence-flags --external-auth --charge-time 8
expect_verdict 0
expect_daemon_clean
assert_file_has "$S_DLOG" "ready: pistol 1 on $VCAN_IF, converter sim, interface version 3 \\(database v3.6\\)" "daemon"

states=$(controller_states)
assert_eq "Initialising Not_Available Waiting_For_PEV Negotiating_Connection CCS_Authorisation_Process Connected_With_Full_Info Insulation_Test Precharge Waiting_For_Charge Charging Ending_Charge Welding_Detection Closing_Communication Waiting_For_PEV" \
        "$states" "controller states on the bus"

# Only v3.6 identifiers from the power side: DC_Power_Parameters in place of
# Power_Modules_Limits, no discharge, no range target (V4).
assert_file_lacks "$S_DEC" "^[0-9.]+ (malformed|unknown) " "frames outside v3.6"
assert_file_has "$S_DEC" "DC_Power_Parameters pistol=1 Maximum_Voltage=1000.0 Maximum_Charge_Current=200.0 Maximum_Discharge_Current=0.0 Range_Target_Current=0.0" "limits"
assert_file_has "$S_DEC" "Sequence_Control pistol=1 Start_Charge_Authorisation=Allowed .*CCS_Authorisation_Done=Done CCS_Authorisation_Valid=Valid Charge_Parameters_Done=Done" "flags"
assert_file_has "$S_BUS" " 0106300[0-2]#" "v3 identifiers of the power side"
assert_file_lacks "$S_BUS" " 0106001[0-4]#" "v2 identifiers of the power side"

# The controller's side: New_Charge_Session of two bytes, EV information,
# DC_Power_Control for every power function.
assert_file_has "$S_DEC" "New_Charge_Session pistol=1 Communication_Protocol=CCS_ISO_15118_2013_v2 Plug_and_pins=CCS_DC_Core$" "v3 New_Charge_Session"
assert_file_has "$S_DEC" "EV_Information_Voltages pistol=1 .*EV_Maximum_Voltage=500.0" "EV information"
assert_file_has "$S_DEC" "DC_Power_Control pistol=1 Target_Voltage=500.0 .*Power_Function=Insulation_Test Setpoints_Mode=Target_Mode Output_Contactors=Close" "insulation test request"
assert_file_has "$S_DEC" "DC_Power_Control pistol=1 Target_Voltage=0.0 .*Power_Function=Standby .*Output_Contactors=Close Lower_Output_Voltage=Lowering" "end of test (V10)"
assert_file_has "$S_DEC" "DC_Power_Control pistol=1 Target_Voltage=400.0 Current_Range_Max=2.0 Current_Range_Min=0.0 Power_Function=Precharge Setpoints_Mode=Range_Mode" "precharge request"
assert_file_has "$S_DEC" "DC_Power_Control pistol=1 Target_Voltage=450.0 Current_Range_Max=150.0 Current_Range_Min=150.0 Power_Function=Power_Transfer" "150 A requested"
assert_file_has "$S_DEC" "DC_Power_Control pistol=1 .*Power_Function=Standby .*Output_Contactors=Open Lower_Output_Voltage=Lowering" "end of charge (V20)"

# R2/V2: Power_Modules_Status every 100 ms in the session.
t_ncs=$(first_after 0 "New_Charge_Session pistol=1 ")
t_csf=$(first_after 0 "Charge_Session_Finished pistol=1 State=Clean_Stop")
[ -n "$t_ncs" ] && [ -n "$t_csf" ] || fail "no New_Charge_Session or Charge_Session_Finished on the bus"
read -r max n < <(status_gaps "$t_ncs" "$t_csf")
note "Power_Modules_Status: $n in the session, largest gap $max ms"
[ "$max" -le 300 ] || fail "Power_Modules_Status gap of $max ms"

# The test voltage reached, 150 A delivered, never more than asked; the
# output lowered after the test (V10) and at the end (V20, contactors).
assert_file_has "$S_DEC" "Power_Modules_Status pistol=1 Present_Voltage=(4[5-9][0-9]|50[0-9])\\.[0-9] " "insulation test voltage"
assert_file_has "$S_DEC" "Power_Modules_Status pistol=1 .* Present_Current=1(4[6-9]|5[0-4])\\.[0-9] " "150 A delivered"
over=$(awk '$2 == "Power_Modules_Status" && $3 == "pistol=1" { split($5, kv, "="); if (kv[2] + 0 > 155) print }' "$S_DEC" | head -n 1)
[ -z "$over" ] || fail "more current than ever requested: $over"
assert_file_has "$S_OUT" "output at [0-9.]+ V .* after the end of the test \\(V10: <= 20 V\\)" "seccsim's V10 check"
t_low=$(first_after 0 "DC_Power_Control pistol=1 .*Output_Contactors=Open Lower_Output_Voltage=Lowering")
t_weld=$(first_after 0 "Advantics_Controller_Status pistol=1 State=Welding_Detection")
v=$(value "$(awk -v a="$t_low" '$1 > a + 0.3 && $2 == "Power_Modules_Status" && $3 == "pistol=1" { print; exit }' "$S_DEC")" Present_Voltage)
awk -v v="$v" 'BEGIN { exit !(v <= 20) }' || fail "output at $v V after the contactors opened and lowering was asked"
assert_file_has "$S_DLOG" "converter: standby 0.0 V / 0.0 A, discharge" "daemon log"
[ -n "$t_weld" ] || fail "no welding detection"

assert_eq 0 "$(daemon_counter malformed)" "daemon's malformed counter"
assert_eq 0 "$(daemon_counter "other version")" "daemon's other-version counter"
assert_eq 0 "$(daemon_counter "undefined power functions")" "daemon's undefined power functions"
assert_eq 0 "$(daemon_counter "rejected requests")" "daemon's rejected requests"
