#!/usr/bin/env bash
# Interface version 3, a charge-only daemon (no [v3] bidirectional, B1):
# seccsim plays an ISO 15118-20 BPT vehicle that asks for a discharge for a
# third of the charge; every such request is refused and counted, the
# converter stays at 0 A however long the vehicle asks, the refusal is
# logged once, and charging goes on afterwards.
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
test_begin "$@"
S_INTERFACE_VERSION=3
session_config

session_run v3refuse -- --protocol ccs --discharge --discharge-current 40 --charge-time 9 --ccs-gap 0 \
        --loop-period 100
expect_verdict 0
expect_daemon_clean
assert_file_has "$S_DEC" "DC_Power_Parameters pistol=1 .*Maximum_Discharge_Current=0.0 " "no discharge announced"
assert_file_has "$S_DEC" "DC_Power_Control pistol=1 Target_Voltage=450.0 Current_Range_Max=-40.0 Current_Range_Min=-40.0 Power_Function=Power_Transfer" "the vehicle asks for a discharge"
assert_file_lacks "$S_DEC" "Power_Modules_Status pistol=1 Present_Voltage=[0-9.]+ Present_Current=-([2-9]|[1-9][0-9]+)\\.[0-9] " "a current out of the EV"
assert_file_has "$S_OUT" "discharge: peak -?0\\.[0-9] A out of the EV \\(limit announced 0.0 A\\), [0-9.]+ kWh out; 0 reversals" "seccsim's summary"
# Asked again and again for 3 s: refused each time, every request counted.
asks=$(grep -cE "DC_Power_Control pistol=1 Target_Voltage=[0-9.]+ Current_Range_Max=-40.0 .*Power_Function=Power_Transfer" "$S_DEC" || true)
[ "$asks" -ge 10 ] || fail "the vehicle asked only $asks times for a discharge"
c=$(daemon_counter "discharges refused")
assert_eq "$asks" "${c:-0}" "discharges refused, one per request"
c2=$(daemon_counter "rejected requests")
[ "${c2:-0}" -ge "${c:-0}" ] || fail "rejected requests ${c2:-0} below the refused discharges ${c:-0}"
n=$(grep -c "the controller asks for -40.0 A, a discharge; v3.bidirectional is false: refused" "$S_DLOG" || true)
assert_eq 1 "$n" "refusals logged (once per session)"
assert_eq 0 "$(daemon_counter "direction changes")" "daemon's direction changes"
# Charging again after the refused part: 50 A delivered.
assert_file_has "$S_DEC" "Power_Modules_Status pistol=1 Present_Voltage=[0-9.]+ Present_Current=(4[6-9]|5[0-4])\\.[0-9] " "charging again"
