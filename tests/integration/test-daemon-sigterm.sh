#!/usr/bin/env bash
# SIGTERM in the middle of a session (insulation test running at 500 V):
# the converter is switched off, a last Power_Modules_Status goes out with
# System_Enable = Not_Allowed, and the daemon exits 0 at once.  SIGINT does
# the same.
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

# stop_in_session SIGNAL
stop_in_session() {
        local sig=$1 rc=0 t0 t1
        cyclic_start
        daemon_conf
        daemon_start
        candump_start bus "$VCAN_IF"
        dump=$(bg_log bus)

        cyclic 01068009#03 01068001#02018813D0071E28
        wait_for_line "$log" "session: System_Enable Allowed"
        cyclic 01068009#04 01068002#8813
        wait_for_line "$log" "converter: insulation-test 500\\.0 V"
        sleep 0.5

        t0=${EPOCHREALTIME/./}
        bg_stop daemon "$sig" || rc=$?
        t1=${EPOCHREALTIME/./}
        assert_eq 0 "$rc" "exit status after SIG$sig"
        # A prompt stop (generous for an emulated machine).
        [ $(( (t1 - t0) / 1000 )) -lt 3000 ] || fail "SIG$sig took $(( (t1 - t0) / 1000 )) ms"
        assert_file_has "$log" "SIG$sig: stopping"
        assert_file_has "$log" "converter: off 0\\.0 V / 0\\.0 A"
        assert_file_has "$log" "stopped$"

        sleep 0.3
        candump_stop bus
        decoded "$dump" | grep '^Power_Modules_Status' >"$TEST_TMP/status" || true
        # Allowed while the test ran, Not_Allowed in the very last one.
        assert_file_has "$TEST_TMP/status" "System_Enable=Allowed"
        tail -n 1 "$TEST_TMP/status" >"$TEST_TMP/last"
        assert_file_has "$TEST_TMP/last" "System_Enable=Not_Allowed" "last Power_Modules_Status"
        cyclic
        bg_stop cyclic || true
}

stop_in_session TERM
stop_in_session INT
