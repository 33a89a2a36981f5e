# shellcheck shell=bash
# Helpers shared by the daemon's integration tests (test-daemon-*.sh),
# sourced after lib.sh and test_begin: a stand-in for the controller's cyclic
# frames, a lab config, starting the daemon, decoding a capture.
daemon=$BUILD_DIR/src/seccbridge
# cyclic FRAME...: from now on a stand-in for the controller sends these
# frames (cansend syntax) every 50 ms, twice its real rate so that a slow
# machine never leaves 200 ms without a heartbeat; no argument: nothing.
cyclic() {
        printf '%s\n' "$@" >"$TEST_TMP/cyclic.new"
        mv "$TEST_TMP/cyclic.new" "$TEST_TMP/cyclic"
}
cyclic_start() {
        local python
        python=$(command -v /usr/bin/python3 || command -v python3) || fail "python3 not found"
        cyclic
        bg_start cyclic "${CONTROLLER_NICE[@]}" "$python" "$SECCBRIDGE_ROOT/tests/integration/cyclic-sender.py" \
                "$VCAN_IF" "$TEST_TMP/cyclic" "$TEST_TMP/stalls"
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
