#!/usr/bin/env bash
# Interface version 3, a bidirectional charger (part D.4, B1..B6): seccsim
# plays an ISO 15118-20 BPT session in Target_Mode and a CHAdeMO V2G one in
# Range_Mode (OCPP_Control picks the point), each charge, discharge, charge
# again, against the daemon with its simulated converter: the sign, the
# discharge limit announced and kept, the pass through 0 A in the daemon's
# commands.  (Emergency stop and silence while discharging:
# test-v3-bidir-faults.sh.)
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
test_begin "$@"
S_INTERFACE_VERSION=3
session_config "[limits]" "max_discharge_current = 80" "max_discharge_power = 30000" \
        "[v3]" "bidirectional = true" "range_policy = ocpp"

# The daemon's converter commands of a run, in order: "MODE VOLTS AMPS".
commands() {
        sed -nE 's/.*converter: (charge|standby|off|precharge|insulation-test) ([0-9.]+) V \/ (-?[0-9.]+) A.*/\1 \2 \3/p' \
                "$S_DLOG"
}

# B2: every change of sign of the commanded current goes through 0 A.
expect_zero_between_signs() {
        local bad
        bad=$(commands | awk '$1 == "charge" {
                        i = $3 + 0; s = (i > 0) - (i < 0)
                        if (s != 0 && last != 0 && s != last) { print "from " lasti " A to " i " A"; exit }
                        if (s != 0) { last = s; lasti = i } else last = 0 }
                $1 != "charge" { last = 0 }')
        [ -z "$bad" ] || { session_show; fail "the command changed sign without 0 A in between: $bad"; }
}

# 1. ISO 15118-20 BPT, Target_Mode: the EV asks for 100 A, -40 A, 50 A.
session_run v3bpt -- --protocol ccs --discharge --discharge-current 40 --charge-time 9 --ccs-gap 0
expect_verdict 0
expect_daemon_clean
assert_file_has "$S_DEC" "New_Charge_Session pistol=1 Communication_Protocol=CCS_ISO_15118_2022 " "ISO 15118-20"
assert_file_has "$S_DEC" "DC_Power_Parameters pistol=1 Maximum_Voltage=1000.0 Maximum_Charge_Current=200.0 Maximum_Discharge_Current=80.0 Range_Target_Current=0.0" "the discharge limit announced (V4)"
assert_file_has "$S_DEC" "DC_Power_Control pistol=1 Target_Voltage=450.0 Current_Range_Max=-40.0 Current_Range_Min=-40.0 Power_Function=Power_Transfer Setpoints_Mode=Target_Mode" "a negative target (B5)"
assert_file_has "$S_DEC" "Power_Modules_Status pistol=1 Present_Voltage=[0-9.]+ Present_Current=-(3[6-9]|4[0-4])\\.[0-9] " "40 A out of the EV"
assert_file_has "$S_OUT" "discharge: peak (3[6-9]|4[0-4])\\.[0-9] A out of the EV \\(limit announced 80.0 A\\), [0-9.]+ kWh out; 2 reversals" "seccsim's summary"
expect_zero_between_signs
assert_file_has "$S_DLOG" "converter: charge 450.0 V / 0.0 A" "0 A commanded between the directions"
assert_eq 2 "$(daemon_counter "direction changes")" "daemon's direction changes"
assert_eq 0 "$(daemon_counter "discharges refused")" "daemon's discharges refused"
assert_eq 0 "$(daemon_counter "rejected requests")" "daemon's rejected requests"

# 2. CHAdeMO V2G, Range_Mode (B6): the range -60..100 A, OCPP_Control's
# point 100 A, -60 A, 50 A (V16, range_policy = ocpp).
session_run v3v2g -- --protocol chademo --discharge --discharge-current 60 --charge-time 9
expect_verdict 0
expect_daemon_clean
assert_file_has "$S_DEC" "New_Charge_Session pistol=1 Communication_Protocol=CHAdeMO_v2.0 Plug_and_pins=CHAdeMO" "CHAdeMO 2.0"
assert_file_has "$S_DEC" "DC_Power_Control pistol=1 Target_Voltage=450.0 Current_Range_Max=100.0 Current_Range_Min=-60.0 Power_Function=Power_Transfer Setpoints_Mode=Range_Mode" "the range (B3)"
assert_file_has "$S_DEC" "OCPP_Control pistol=1 Dynamic_Target_Current=-60.0" "the CSMS's discharge point"
assert_file_has "$S_DEC" "Power_Modules_Status pistol=1 Present_Voltage=[0-9.]+ Present_Current=-(5[6-9]|6[0-4])\\.[0-9] " "60 A out of the EV"
assert_file_lacks "$S_DEC" "Power_Modules_Status pistol=1 Present_Voltage=[0-9.]+ Present_Current=-(8[1-9]|9[0-9]|[1-9][0-9][0-9])\\." "beyond the discharge limit"
expect_zero_between_signs
assert_eq 2 "$(daemon_counter "direction changes")" "daemon's direction changes"
assert_eq 0 "$(daemon_counter "mode changes refused")" "daemon's mode changes refused"
