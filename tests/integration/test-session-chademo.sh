#!/usr/bin/env bash
# A whole CHAdeMO session: no precharge (R30), the loop every 100 ms, the
# connector unlocked only at <= 10 V (R43).
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
test_begin "$@"
session_config

session_run chademo -- --protocol chademo --charge-time 8
expect_verdict 0
expect_daemon_clean

assert_eq "Initialising Waiting_For_PEV Negotiating_Connection Connected_With_Full_Info Insulation_Test Waiting_For_Charge Charging Ending_Charge Welding_Detection Closing_Communication Waiting_For_PEV" \
        "$(controller_states)" "controller states on the bus"
assert_file_has "$S_DEC" "New_Charge_Session pistol=1 Communication_Protocol=CHAdeMO_v1.0-v1.1-v1.2 Plug_and_pins=CHAdeMO " "New_Charge_Session"
assert_file_lacks "$S_DEC" " Precharge pistol=1 " "Precharge in a CHAdeMO session"

t_ncs=$(first_after 0 "New_Charge_Session pistol=1 ")
t_csf=$(first_after 0 "Charge_Session_Finished pistol=1 State=Clean_Stop")
[ -n "$t_ncs" ] && [ -n "$t_csf" ] || fail "no New_Charge_Session or Charge_Session_Finished on the bus"
read -r max n < <(status_gaps "$t_ncs" "$t_csf")
note "Power_Modules_Status: $n in the session, largest gap $max ms"
[ "$max" -le 300 ] || fail "Power_Modules_Status gap of $max ms"

# Charging_Loop every 100 ms while charging (CHAdeMO pace).
t_chg=$(first_after 0 "Advantics_Controller_Status pistol=1 State=Charging")
t_end=$(first_after 0 "Advantics_Controller_Status pistol=1 State=Ending_Charge")
loops=$(awk -v a="$t_chg" -v b="$t_end" '$1 > a && $1 < b && $2 == "Charging_Loop" && $3 == "pistol=1"' "$S_DEC" | wc -l)
span=$(ms_between "$t_chg" "$t_end")
[ "$loops" -ge $(( span / 100 * 8 / 10 )) ] || fail "only $loops Charging_Loop in $span ms of charging"

# The last status before Charge_Session_Finished: the output at <= 10 V.
last=$(awk -v b="$t_csf" '$1 < b && $2 == "Power_Modules_Status" && $3 == "pistol=1"' "$S_DEC" | tail -n 1)
v=$(value "$last" Present_Voltage)
awk -v v="$v" 'BEGIN { exit !(v <= 10) }' || fail "Present_Voltage $v V when the session finished (R43)"
assert_file_has "$S_DEC" "Power_Modules_Status pistol=1 .* Present_Current=1(4[6-9]|5[0-4])\\.[0-9] " "150 A delivered"
