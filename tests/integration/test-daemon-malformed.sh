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

# ---- helpers shared by the daemon tests (kept identical in each file) ----
daemon=$BUILD_DIR/src/seccbridge
# cyclic FRAME...: from now on a stand-in for the controller sends these
# frames (cansend syntax) every 50 ms, twice its real rate so that a slow
# machine never leaves 200 ms without a heartbeat; no argument: nothing.
cyclic() {
        printf '%s\n' "$@" >"$TEST_TMP/cyclic.new"
        mv "$TEST_TMP/cyclic.new" "$TEST_TMP/cyclic"
}
cyclic_start() {
        local python nice=()
        python=$(command -v /usr/bin/python3 || command -v python3) || fail "python3 not found"
        cat >"$TEST_TMP/cyclic.py" <<'EOF'
import socket, struct, sys, time
ifname, path = sys.argv[1], sys.argv[2]
sock, due = None, time.monotonic()
while True:
    try:
        frames = open(path).read().split()
    except OSError:
        frames = []
    try:
        if sock is None:
            sock = socket.socket(socket.AF_CAN, socket.SOCK_RAW, socket.CAN_RAW)
            sock.bind((ifname,))
        for f in frames:
            can_id, data = f.split("#")
            data = bytes.fromhex(data)
            sock.send(struct.pack("=IB3x8s", int(can_id, 16) | socket.CAN_EFF_FLAG,
                                  len(data), data))
    except OSError:
        if sock is not None:
            sock.close()
        sock = None
    due += 0.05
    time.sleep(max(0.0, due - time.monotonic()))
EOF
        cyclic
        # The controller is a real-time device: keep it ahead of the rest
        # of the test on a busy machine.
        [ "$(id -u)" -ne 0 ] || nice=(nice -n -10)
        bg_start cyclic "${nice[@]}" "$python" "$TEST_TMP/cyclic.py" "$VCAN_IF" "$TEST_TMP/cyclic"
}
# daemon_conf [LINES...]: a config for pistol 1 on $VCAN_IF, lab limits, a
# quick simulated converter; extra lines go at the end.
daemon_conf() {
        {
                printf '[can]\ninterface = %s\npistol_index = 1\n\n' "$VCAN_IF"
                printf '[limits]\nmax_voltage = 1000\nmax_current = 125\nmax_power = 50000\n\n'
                printf '[sim]\nwakeup_ms = 200\n'
                [ $# -eq 0 ] || printf '%s\n' "$@"
        } >"$TEST_TMP/seccbridge.conf"
}
# daemon_start: start it on $TEST_TMP/seccbridge.conf, wait for "ready";
# its log is in $log, and in the test's log at the end.
daemon_start() {
        bg_start daemon "$daemon" -v -c "$TEST_TMP/seccbridge.conf"
        log=$(bg_log daemon)
        at_exit sed "s/^/# daemon: /" "$log"
        wait_for_line "$log" "ready: pistol 1 on $VCAN_IF"
}
# decoded FILE: a candump -L capture, decoded for pistol 1.
decoded() { "$BUILD_DIR/src/seccsim/seccsim" decode --pistol 1 <"$1"; }
# at_least N FILE REGEX: at least N lines of FILE match (for wait_until).
at_least() { [ "$(count_lines "$2" "$3")" -ge "$1" ]; }
# -------------------------------------------------------------------------

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
