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

# shellcheck source-path=SCRIPTDIR source=daemon-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/daemon-lib.sh"

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
