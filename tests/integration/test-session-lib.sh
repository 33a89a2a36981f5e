#!/usr/bin/env bash
# Helpers for the session tests (test-session-*.sh): the daemon with its
# simulated converter, `seccsim session` playing the controller, a capture of
# the bus, and readers for the decoded capture.
#
# Sourced by the other test-session-*.sh scripts, after lib.sh.  Run directly
# (as run.sh does with every test-*.sh), it checks seccsim's command line and
# the live decoder `seccsim decode -i`.
#
# A scenario:
#       session_config                  # [can]/[limits]/[converter]/[sim] for vcan
#       session_run NAME [--hook FUNC] -- SECCSIM-SESSION-ARGS...
# runs daemon + candump + seccsim once (again when seccsim's verdict is
# inconclusive because the machine stalled), then sets
#       S_RC    seccsim's exit status       S_OUT   its progress log
#       S_DRC   the daemon's exit status    S_DLOG  the daemon's log
#       S_BUS   the capture (candump -L)    S_DEC   the capture decoded:
#               "SECONDS MESSAGE pistol=N SIGNAL=VALUE ..." per line
# FUNC, when given, runs in the background beside seccsim with the progress
# log's path as argument (e.g. to turn a knob of the simulated converter at
# the right moment); it is stopped when seccsim ends.
#
# Environment: SECCBRIDGE_SESSION_ATTEMPTS (default 2) bounds the attempts.
#
# Interface version 3: set S_INTERFACE_VERSION=3 before session_config; the
# daemon is configured for it, seccsim session plays a v3 controller and the
# capture is decoded with database v3.6.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SECCSIM=
SECCBRIDGE=
S_CONF=
S_FIFO=
S_INTERFACE_VERSION=${S_INTERFACE_VERSION:-2}
# Words put before the daemon's command line (e.g. setpriv ... --).
S_DAEMON_PREFIX=()

# session_config [INI LINES...]: the daemon's configuration for these tests
# in $S_CONF: our vcan, limits and simulated converter large enough for the
# session's 150 A at 450 V, a control FIFO for the simulated converter's
# knobs; extra lines (e.g. "[safety]" "estop_release_ms = 500") at the end.
session_config() {
        SECCSIM=$BUILD_DIR/src/seccsim/seccsim
        SECCBRIDGE=$BUILD_DIR/src/seccbridge
        need_build src/seccsim/seccsim src/seccbridge
        need_cmd candump ip
        vcan_is_up "$VCAN_IF" || fail "$VCAN_IF is not up"
        S_CONF=$TEST_TMP/seccbridge.conf
        S_FIFO=$TEST_TMP/sim-control
        {
                printf '[can]\ninterface = %s\npistol_index = 1\n' "$VCAN_IF"
                [ "$S_INTERFACE_VERSION" = 2 ] || printf 'interface_version = %s\n' "$S_INTERFACE_VERSION"
                printf '[limits]\nmax_voltage = 1000\nmax_current = 200\nmax_power = 100000\n'
                printf '[converter]\nbackend = sim\n'
                printf '[sim]\nmax_current_a = 250\nmax_power_kw = 150\ncontrol_path = %s\n' "$S_FIFO"
                local line
                for line in "$@"; do
                        printf '%s\n' "$line"
                done
        } >"$S_CONF"
}

# sim_control COMMAND: one line to the simulated converter's FIFO.
sim_control() {
        timeout 5 sh -c 'printf "%s\n" "$1" >"$2"' sh "$1" "$S_FIFO" \
                || fail "cannot write '$1' to the simulator's FIFO $S_FIFO"
}

# Start the daemon and wait until it is ready (its FIFO exists, its CAN
# socket listens).
session_daemon_start() {
        rm -f "$S_FIFO"
        bg_start daemon "${S_DAEMON_PREFIX[@]}" "$SECCBRIDGE" -c "$S_CONF"
        wait_for_line "$(bg_log daemon)" "ready: pistol"
        wait_until 5 test -p "$S_FIFO" || fail "the daemon did not create $S_FIFO"
}

# Decode a capture, keeping the timestamps: "SECONDS DESCRIPTION".
session_decode() {
        paste -d ' ' <(sed -E 's/^\(([0-9]+\.[0-9]+)\).*/\1/' "$1") \
                <("$SECCSIM" decode --interface-version "$S_INTERFACE_VERSION" <"$1")
}

_session_once() {
        local name=$1 hook=$2
        shift 2
        local hook_pid=

        S_OUT=$TEST_TMP/$name.out
        S_BUS=$(bg_log "$name-bus")
        candump_start "$name-bus" "$VCAN_IF"
        session_daemon_start
        if [ -n "$hook" ]; then
                : >"$S_OUT"
                "$hook" "$S_OUT" &
                hook_pid=$!
        fi
        S_RC=0
        "${CONTROLLER_NICE[@]}" timeout --kill-after=5 100 "$SECCSIM" session -i "$VCAN_IF" \
                --interface-version "$S_INTERFACE_VERSION" \
                --log "$TEST_TMP/$name.seccsim-log" "$@" >"$S_OUT" 2>&1 || S_RC=$?
        if [ -n "$hook_pid" ]; then
                kill "$hook_pid" 2>/dev/null || true
                wait "$hook_pid" 2>/dev/null || true
        fi
        S_DRC=0
        bg_stop daemon TERM || S_DRC=$?
        S_DLOG=$TEST_TMP/$name.daemon.log
        cp "$(bg_log daemon)" "$S_DLOG"
        candump_stop "$name-bus"
        S_DEC=$TEST_TMP/$name.decoded
        session_decode "$S_BUS" >"$S_DEC"
}

# session_inconclusive: after a failed session, true (and S_WHY says why)
# when the failure says more about the machine than about the daemon:
# seccsim says so itself (a failure soon after a stall of its own), it
# counted late ticks of its own (stalls of 180 ms or more) at any time, or
# the daemon timed out a controller whose heartbeats reached the bus on time
# (the daemon itself was descheduled for that long).  A scenario whose
# controller goes silent on purpose has a gap of over 200 ms on the bus and
# is judged by the first two alone.
S_WHY=
session_inconclusive() {
        local gap
        [ "$S_RC" -ne 0 ] || return 1
        if grep -q '^  reason: inconclusive' "$S_OUT"; then
                S_WHY=$(sed -n 's/^  reason: //p' "$S_OUT" | cut -c1-120)
                return 0
        fi
        if grep -Eq '^  controller ticks: .*, [1-9][0-9]* stall' "$S_OUT"; then
                S_WHY="seccsim was stalled: $(sed -nE 's/^  controller ticks: //p' "$S_OUT")"
                return 0
        fi
        if [ -n "${S_DLOG:-}" ] && grep -q "controller heartbeat lost" "$S_DLOG"; then
                gap=$(awk '$2 == "Advantics_Controller_Status" && $3 == "pistol=1" {
                                if (p != "" && ($1 - p) * 1000 > m) m = ($1 - p) * 1000; p = $1 }
                           END { printf "%d\n", m }' "$S_DEC")
                if [ "$gap" -lt 200 ]; then
                        S_WHY="the daemon timed out the controller, whose largest heartbeat gap on the bus was $gap ms"
                        return 0
                fi
        fi
        return 1
}

# session_run NAME [--hook FUNC] -- ARGS...: see the top of this file.
session_run() {
        local name=$1 hook= attempt max=${SECCBRIDGE_SESSION_ATTEMPTS:-2}
        shift
        if [ "${1:-}" = --hook ]; then
                hook=$2
                shift 2
        fi
        [ "${1:-}" = -- ] && shift
        for attempt in $(seq 1 "$max"); do
                _session_once "$name" "$hook" "$@"
                if [ "$attempt" -lt "$max" ] && session_inconclusive; then
                        note "attempt $attempt inconclusive: $S_WHY; again"
                        continue
                fi
                break
        done
        note "seccsim session $*: exit $S_RC, daemon exit $S_DRC"
}

# session_show: the interesting logs, for a failure message.
session_show() {
        show_file "$S_OUT"
        show_file "$S_DLOG"
}

# expect_verdict STATUS: seccsim's exit status and summary agree with it.
# A session still inconclusive after its attempts (session_inconclusive)
# ends the test inconclusive (status 75: run.sh runs it again) rather than
# failed.
expect_verdict() {
        if [ "$S_RC" != "$1" ]; then
                session_show
                if session_inconclusive; then
                        printf 'FAIL: seccsim session exited with %s, expected %s\n' "$S_RC" "$1" >&2
                        inconclusive "$S_WHY"
                fi
                fail "seccsim session exited with $S_RC, expected $1"
        fi
        if [ "$1" = 0 ]; then
                assert_file_has "$S_OUT" '^verdict: PASS$' "seccsim verdict"
        else
                assert_file_has "$S_OUT" '^verdict: FAIL$' "seccsim verdict"
        fi
}

# expect_daemon_clean: the daemon stopped cleanly with the converter off.
expect_daemon_clean() {
        local last
        if [ "$S_DRC" != 0 ]; then
                session_show
                fail "the daemon exited with $S_DRC"
        fi
        last=$(grep -E 'converter: (off|standby|insulation-test|precharge|charge) ' "$S_DLOG" | tail -n 1 || true)
        [[ $last == *"converter: off "* ]] || {
                session_show
                fail "the last converter command was not off: '$last'"
        }
        # bg_stop has waited for every background process of the scenario.
        for name in daemon; do
                ! bg_running "$name" || fail "$name still running"
        done
}

# daemon_counter NAME: a counter from the daemon's final "counters:" line.
daemon_counter() {
        sed -nE "s/.*counters: frames in.* $1 ([0-9]+).*/\\1/p" "$S_DLOG" | tail -n 1
}

# The decoded capture's time of the first line matching REGEX after time
# T0 (0 = from the start); empty when none.
first_after() {
        awk -v t0="$1" -v re="$2" '$1 > t0 && $0 ~ re { print $1; exit }' "$S_DEC"
}

# ms_between T1 T2: (T2 - T1) in whole milliseconds.
ms_between() {
        awk -v a="$1" -v b="$2" 'BEGIN { printf "%d\n", (b - a) * 1000 + 0.5 }'
}

# status_gaps T0 T1: the largest gap in ms between Power_Modules_Status of
# pistol 1 captured between T0 and T1, and their count: "MAX COUNT".
status_gaps() {
        awk -v t0="$1" -v t1="$2" '
                $1 >= t0 && $1 <= t1 && $2 == "Power_Modules_Status" && $3 == "pistol=1" {
                        if (last != "") { g = ($1 - last) * 1000; if (g > max) max = g }
                        last = $1; n++
                }
                END { printf "%d %d\n", max + 0.5, n }' "$S_DEC"
}

# value LINE SIGNAL: one signal's value in a decoded line.
value() {
        sed -nE "s/.* $2=([^ ]+).*/\\1/p" <<<"$1"
}

# controller_states: the sequence of Advantics_Controller_Status states of
# pistol 1 on the bus, repeats collapsed, space separated.
controller_states() {
        awk '$2 == "Advantics_Controller_Status" && $3 == "pistol=1" {
                        split($4, kv, "="); s = kv[2]
                        if (s != last) { out = out (out == "" ? "" : " ") s; last = s }
                }
                END { print out }' "$S_DEC"
}

# ---------------------------------------------------------------- run directly

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
        test_begin "$@"
        SECCSIM=$BUILD_DIR/src/seccsim/seccsim
        need_build src/seccsim/seccsim
        need_cmd cansend

        # Usage errors: exit 2, with a reason.
        for args in "" "-i $VCAN_IF --protocol ev" "-i $VCAN_IF --fault nothing" \
                "-i $VCAN_IF --protocol chademo --fault estop@Precharge" \
                "-i $VCAN_IF --profile 100,300,50" "-i $VCAN_IF --charge-time 2minutes" \
                "-i $VCAN_IF --limits-spacing 150" "-i $VCAN_IF extra"; do
                rc=0
                # shellcheck disable=SC2086  # word splitting wanted
                "$SECCSIM" session $args >/dev/null 2>"$TEST_TMP/usage.err" || rc=$?
                assert_eq 2 "$rc" "seccsim session $args: exit status"
                assert_file_has "$TEST_TMP/usage.err" "^seccsim session: " "seccsim session $args: message"
        done
        "$SECCSIM" session --help >"$TEST_TMP/help.out" || fail "seccsim session --help failed"
        assert_file_has "$TEST_TMP/help.out" "--fault heartbeat-stop" "session --help"
        rc=0
        "$SECCSIM" session -i no-such-can0 >"$TEST_TMP/nodev.out" 2>&1 || rc=$?
        assert_eq 1 "$rc" "seccsim session on a missing interface"
        assert_file_has "$TEST_TMP/nodev.out" "no CAN interface 'no-such-can0'" "missing interface"

        # Live decoding: names, timestamps, the pistol filter, exit 0 on TERM.
        bg_start live "$SECCSIM" decode -i "$VCAN_IF"
        bg_start live2 "$SECCSIM" decode -i "$VCAN_IF" --pistol 2
        wait_ready live
        wait_ready live2
        cansend "$VCAN_IF" 01068009#07
        cansend "$VCAN_IF" 01060010#A00FE504554601FF
        cansend "$VCAN_IF" 01068005#9411
        cansend "$VCAN_IF" 123#DEADBEEF
        live=$(bg_log live)
        wait_for_line "$live" "unknown 123#DEADBEEF"
        wait_for_line "$(bg_log live2)" "unknown 123#DEADBEEF"
        rc=0
        bg_stop live TERM || rc=$?
        assert_eq 0 "$rc" "seccsim decode -i exit status on SIGTERM"
        rc=0
        bg_stop live2 INT || rc=$?
        assert_eq 0 "$rc" "seccsim decode -i exit status on SIGINT"
        assert_file_has "$live" "^\\([0-9]+\\.[0-9]{6}\\) $VCAN_IF Advantics_Controller_Status pistol=1 State=Charging\$" "live decode"
        assert_file_has "$live" " Power_Modules_Status pistol=1 Present_Voltage=400.0 Present_Current=125.3 Power_Modules_Temperature=45 Enclosure_Temperature=30 System_Enable=Allowed Insulation_Resistance=510\$" "live decode"
        assert_file_has "$live" " malformed Charging_Loop 01068005#9411\$" "live decode of a short frame"
        assert_file_has "$(bg_log live2)" " foreign 01068009#07\$" "pistol filter"
        assert_file_has "$(bg_log live2)" "frames, 0 dropped by the kernel" "decode -i end line"
fi
