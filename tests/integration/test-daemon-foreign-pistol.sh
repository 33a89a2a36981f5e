#!/usr/bin/env bash
# Frames of another pistol are none of our business: a whole session played
# for pistol 2 (heartbeats, New_Charge_Session, Insulation_Test, Precharge,
# Charging_Loop, Emergency_Stop, Charge_Session_Finished) makes a daemon of
# pistol 1 neither answer nor power up.  The only frame it sends is the one
# due at its stop: a last Power_Modules_Status with System_Enable =
# Not_Allowed.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin "$@"
need_build src/seccbridge src/seccsim/seccsim
need_cmd cansend candump
vcan_is_up "$VCAN_IF" || fail "$VCAN_IF is not up"

# shellcheck source-path=SCRIPTDIR source=daemon-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/daemon-lib.sh"

cyclic_start
daemon_conf
daemon_start
candump_start bus "$VCAN_IF"
dump=$(bg_log bus)

# --- a session of pistol 2, phase by phase
cyclic 02068009#01
sleep 1
cyclic 02068009#03 02068001#02018813D0071E28
sleep 1
cyclic 02068009#04 02068002#8813
sleep 1
cyclic 02068009#04 02068002#0000 02068005#0000000000
sleep 0.5
cyclic 02068009#05 02068003#A00F1400
sleep 1
cansend "$VCAN_IF" 02068003#A00F0000
cyclic 02068009#06
cansend "$VCAN_IF" 02068004#01
cyclic 02068009#07 02068005#9411F40128
sleep 1
cyclic 02068009#07 02068006#01
sleep 0.5
cyclic 02068009#0A
cansend "$VCAN_IF" 02068007#01
sleep 0.5
cyclic 02068009#01
sleep 0.5

# --- we said nothing, we did nothing
grep -v " 02068" "$dump" >"$TEST_TMP/ours" || true
if [ -s "$TEST_TMP/ours" ]; then
        show_file "$TEST_TMP/ours"
        fail "the daemon of pistol 1 sent frames during pistol 2's session"
fi
assert_file_lacks "$log" "converter: (standby|insulation-test|precharge|charge) " "daemon log"
assert_file_lacks "$log" "controller: heartbeat present|session: opened" "daemon log"

# --- the stop: one last Power_Modules_Status, System_Enable = Not_Allowed
cyclic
rc=0
bg_stop daemon || rc=$?
assert_eq 0 "$rc" "exit status after SIGTERM"
sleep 0.3
candump_stop bus
grep -v " 02068" "$dump" >"$TEST_TMP/ours" || true
decoded "$TEST_TMP/ours" >"$TEST_TMP/ours.decoded"
assert_eq 1 "$(count_lines "$TEST_TMP/ours.decoded" .)" "frames sent by the daemon of pistol 1"
assert_file_has "$TEST_TMP/ours.decoded" "^Power_Modules_Status pistol=1 .*System_Enable=Not_Allowed"
# The kernel filters kept every frame of pistol 2 away from the core.
assert_file_has "$log" "counters: frames in 0, out 1, malformed 0, foreign 0,"
assert_file_has "$log" "counters: CAN rx 0, "
