#!/usr/bin/env bash
# Interface version 3: a CHAdeMO session on a charger without output
# contactors ([safety] has_output_contactors = false).  No precharge; after
# the test the EV closes its contactors (V10).  At the end of charge the
# controller asks to lower the output with the contactors "open", but with
# none the battery may still be on the pins: the request is ignored (V21).
# In Closing_Communication the EV's contactors are open and the lowering is
# honoured (V23): the connector unlocks at <= 10 V.
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
test_begin "$@"
S_INTERFACE_VERSION=3
session_config "[safety]" "has_output_contactors = false"

session_run v3chademo -- --protocol chademo --charge-time 6
expect_verdict 0
expect_daemon_clean

states=$(controller_states)
assert_eq "Initialising Waiting_For_PEV Negotiating_Connection Connected_With_Full_Info Insulation_Test Waiting_For_Charge Charging Ending_Charge Welding_Detection Closing_Communication Waiting_For_PEV" \
        "$states" "controller states on the bus"
assert_file_lacks "$S_DEC" "Power_Function=Precharge" "a precharge request"
assert_file_has "$S_DEC" "New_Charge_Session pistol=1 Communication_Protocol=CHAdeMO_v1.0-v1.1-v1.2 Plug_and_pins=CHAdeMO$" "v3 New_Charge_Session"
assert_file_has "$S_DEC" "Power_Modules_Status pistol=1 .* Present_Current=1(4[6-9]|5[0-4])\\.[0-9] " "150 A delivered"

# V21: the lowering of Ending_Charge left the battery voltage alone ...
t_low=$(first_after 0 "DC_Power_Control pistol=1 .*Output_Contactors=Open Lower_Output_Voltage=Lowering")
t_close=$(first_after 0 "Advantics_Controller_Status pistol=1 State=Closing_Communication")
[ -n "$t_low" ] && [ -n "$t_close" ] || fail "no lowering request or no Closing_Communication on the bus"
low=$(awk -v a="$t_low" -v b="$t_close" '$1 > a && $1 < b && $2 == "Power_Modules_Status" && $3 == "pistol=1" {
                split($4, kv, "="); if (kv[2] + 0 < 300) print }' "$S_DEC" | head -n 1)
[ -z "$low" ] || fail "the output was lowered with the battery on the pins (no output contactors): $low"
# ... (V23) and the one of Closing_Communication brought it to <= 10 V.
t_csf=$(first_after 0 "Charge_Session_Finished pistol=1 State=Clean_Stop")
last=$(awk -v b="$t_csf" '$1 < b && $2 == "Power_Modules_Status" && $3 == "pistol=1"' "$S_DEC" | tail -n 1)
v=$(value "$last" Present_Voltage)
awk -v v="$v" 'BEGIN { exit !(v <= 10) }' || fail "output at $v V when the session finished (unlock needs <= 10 V)"
assert_file_has "$S_OUT" "output at [0-9.]+ V: the connector unlocks" "seccsim's unlock"
assert_eq 0 "$(daemon_counter "rejected requests")" "daemon's rejected requests"
