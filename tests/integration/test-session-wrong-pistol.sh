#!/usr/bin/env bash
# A fake session of pistol 2 interleaved with ours (pistol 1): its
# heartbeats, New_Charge_Session, requests of 500 A at 900 V,
# Emergency_Stop and Charge_Session_Finished every 100 ms.  The power side
# must ignore all of it (R5) and never answer for pistol 2.
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
test_begin "$@"
session_config

session_run wrongpistol -- --charge-time 8 --wrong-pistol=2
expect_verdict 0
expect_daemon_clean

n2=$(grep -c " Charging_Loop pistol=2 Target_Voltage=900.0 Target_Current=500.0" "$S_DEC" || true)
e2=$(grep -c " Emergency_Stop pistol=2 " "$S_DEC" || true)
f2=$(grep -c " Charge_Session_Finished pistol=2 " "$S_DEC" || true)
note "pistol 2 on the bus: $n2 Charging_Loop, $e2 Emergency_Stop, $f2 Charge_Session_Finished"
[ "$n2" -ge 100 ] && [ "$e2" -ge 100 ] && [ "$f2" -ge 100 ] || fail "too little traffic of pistol 2"
assert_file_lacks "$S_DEC" " (Power_Modules_Status|Power_Modules_Limits|Sequence_Control) pistol=2 " "an answer for pistol 2"

# Our session was not disturbed: power allowed throughout, never more
# current than we asked (150 A), a clean end.
t_en=$(first_after 0 "Power_Modules_Status pistol=1 .*System_Enable=Allowed")
t_weld=$(first_after 0 "Advantics_Controller_Status pistol=1 State=Welding_Detection")
off=$(awk -v a="$t_en" -v b="$t_weld" '$1 > a && $1 < b && /Power_Modules_Status pistol=1 .*System_Enable=Not_Allowed/' "$S_DEC" | head -n 1)
[ -z "$off" ] || fail "System_Enable dropped: $off"
over=$(awk '$2 == "Power_Modules_Status" && $3 == "pistol=1" { split($5, kv, "="); if (kv[2] + 0 > 155) print }' "$S_DEC" | head -n 1)
[ -z "$over" ] || fail "more current than pistol 1 asked for: $over"
assert_file_has "$S_DEC" "Charge_Session_Finished pistol=1 State=Clean_Stop" "our session's end"
assert_eq 0 "$(daemon_counter "emergency stops")" "daemon's emergency stops"
