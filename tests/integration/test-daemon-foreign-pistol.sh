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
