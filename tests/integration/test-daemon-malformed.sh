#!/usr/bin/env bash
# Malformed frames (our identifiers, fewer bytes than the message) are
# counted and dropped: the daemon keeps running, says so once in its log,
# opens no session and powers nothing up; a well-formed New_Charge_Session
# afterwards is answered as usual.
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

cyclic 01068009#03
wait_for_line "$log" "controller: heartbeat present, state Connected_With_Full_Info"

# Each of these is one of our identifiers with too few bytes.
short=(
        01068001#02018813D0071E         # New_Charge_Session, 7 of 8 bytes
        01068002#88                     # Insulation_Test, 1 of 2
        01068003#A00F14                 # Precharge, 3 of 4
        01068004#                       # Charge_Status_Change, 0 of 1
        01068005#9411F401               # Charging_Loop, 4 of 5
        01068006#                       # Emergency_Stop, 0 of 1
        01068007#                       # Charge_Session_Finished, 0 of 1
        01068009#                       # Advantics_Controller_Status, 0 of 1
)
for f in "${short[@]}"; do
        cansend "$VCAN_IF" "$f"
done
# Twice, to see that a repeat is counted, not logged again.
for f in "${short[@]}"; do
        cansend "$VCAN_IF" "$f"
done
sleep 1

bg_running daemon || fail "the daemon stopped on malformed frames"
assert_eq 1 "$(count_lines "$log" "shorter than its message")" "log lines about malformed frames"
assert_file_lacks "$log" "session: opened|Emergency_Stop|converter: (standby|insulation-test|precharge|charge) " "daemon log"
decoded "$dump" >"$TEST_TMP/decoded"
assert_file_lacks "$TEST_TMP/decoded" "^Power_Modules_Status" "frames after the malformed ones"

# --- still at work: a well-formed New_Charge_Session opens a session
cyclic 01068009#03 01068001#02018813D0071E28
wait_for_line "$log" "session: opened"
wait_for_line "$log" "session: System_Enable Allowed"
cyclic 01068009#03

rc=0
bg_stop daemon || rc=$?
assert_eq 0 "$rc" "exit status after SIGTERM"
assert_file_has "$log" "counters: frames in [0-9]+, out [0-9]+, malformed 16, foreign 0,"
