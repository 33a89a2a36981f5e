#!/usr/bin/env bash
# Helpers for the several-pistol tests (test-pistols-*.sh): one seccbridge
# serving pistols 1 and 2 of one controller on one vcan, two `seccsim
# session` playing the two pistols' controllers at once (each told the
# other's index with --other-pistol), a capture of the bus.
#
# Sourced after test-session-lib.sh (for its decoder and readers):
#       pistols_config INI-LINES...     the daemon's file in $S_CONF: our vcan,
#                                       [limits], [sim], then the lines
#       pistols_daemon_start            start it, wait for "ready:"
#       pistols_run NAME [--gate FUNC] -- ARGS1 -- ARGS2
#                                       seccsim for pistol 1 with ARGS1 and for
#                                       pistol 2 with ARGS2 (started after
#                                       FUNC returned when FUNC is given,
#                                       else at once), sets P1_RC P1_OUT
#                                       P2_RC P2_OUT and S_DEC (capture decoded)
#       pistols_daemon_stop             S_DRC, S_DLOG

pistols_config() {
        session_config
        {
                printf '[can]\ninterface = %s\n' "$VCAN_IF"
                printf '[limits]\nmax_voltage = 1000\nmax_current = 200\nmax_power = 100000\n'
                printf '[sim]\nmax_current_a = 250\nmax_power_kw = 150\n'
                local line
                for line in "$@"; do
                        printf '%s\n' "$line"
                done
        } >"$S_CONF"
}

pistols_daemon_start() {
        bg_start daemon "$SECCBRIDGE" -c "$S_CONF"
        wait_for_line "$(bg_log daemon)" "ready: 2 pistols"
}

# shellcheck disable=SC2034 # S_DRC is read by the tests
pistols_daemon_stop() {
        S_DRC=0
        bg_stop daemon TERM || S_DRC=$?
        S_DLOG=$TEST_TMP/daemon.stopped.log
        cp "$(bg_log daemon)" "$S_DLOG"
}

# The start of pistol 2's controller waits for this: FUNC gets pistol 1's
# progress log and returns once pistol 2 may start.
pistols_run() {
        local name=$1 gate='' p1=() p2=()
        shift
        if [ "${1:-}" = --gate ]; then
                gate=$2
                shift 2
        fi
        [ "${1:-}" = -- ] && shift
        while [ $# -gt 0 ] && [ "$1" != -- ]; do
                p1+=("$1")
                shift
        done
        [ "${1:-}" = -- ] && shift
        p2=("$@")
        P1_OUT=$TEST_TMP/$name.p1.out
        P2_OUT=$TEST_TMP/$name.p2.out
        S_BUS=$(bg_log "$name-bus")
        candump_start "$name-bus" "$VCAN_IF"
        : >"$P1_OUT"
        "${CONTROLLER_NICE[@]}" timeout --kill-after=5 150 "$SECCSIM" session -i "$VCAN_IF" -p 1 --other-pistol 2 \
                --print-interval 500 "${p1[@]}" >"$P1_OUT" 2>&1 &
        local pid1=$!
        [ -z "$gate" ] || "$gate" "$P1_OUT"
        P2_RC=0
        "${CONTROLLER_NICE[@]}" timeout --kill-after=5 150 "$SECCSIM" session -i "$VCAN_IF" -p 2 --other-pistol 1 \
                --print-interval 500 "${p2[@]}" >"$P2_OUT" 2>&1 || P2_RC=$?
        P1_RC=0
        wait "$pid1" || P1_RC=$?
        candump_stop "$name-bus"
        S_DEC=$TEST_TMP/$name.decoded
        session_decode "$S_BUS" >"$S_DEC"
        note "$name: pistol 1 exit $P1_RC, pistol 2 exit $P2_RC"
}

# pistols_expect RC1 RC2: both controllers' verdicts.
pistols_expect() {
        local i rc want
        for i in 1 2; do
                if [ "$i" = 1 ]; then rc=$P1_RC want=$1; else rc=$P2_RC want=$2; fi
                if [ "$rc" != "$want" ]; then
                        show_file "$P1_OUT"
                        show_file "$P2_OUT"
                        show_file "$(bg_log daemon)"
                        fail "seccsim for pistol $i exited with $rc, expected $want"
                fi
        done
}

# current_at_least P A: the first time pistol P's Power_Modules_Status
# reports at least A amperes.
current_at_least() {
        awk -v p="pistol=$1" -v a="$2" '$2 == "Power_Modules_Status" && $3 == p {
                        split($5, kv, "="); if (kv[2] + 0 >= a) { print $1; exit } }' "$S_DEC"
}

# both_charging A: a moment when both pistols' latest statuses report at
# least A amperes ("" when never).
both_charging() {
        awk -v a="$1" '$2 == "Power_Modules_Status" && ($3 == "pistol=1" || $3 == "pistol=2") {
                        split($5, kv, "="); cur[$3] = kv[2] + 0
                        if (cur["pistol=1"] >= a && cur["pistol=2"] >= a) { print $1; exit } }' "$S_DEC"
}

# current_of P T: pistol P's latest reported current at time T.
current_of() {
        awk -v p="pistol=$1" -v t="$2" '$1 > t { exit } $2 == "Power_Modules_Status" && $3 == p {
                        split($5, kv, "="); c = kv[2] } END { print c + 0 }' "$S_DEC"
}
