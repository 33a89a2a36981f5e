#!/usr/bin/env bash
# The fault soak: one seccbridge process (Modbus TCP backend, the test
# converter of tests/modbus/converter_server.py) lives through many charge
# sessions back to back on vcan, each played by `seccsim session` with a
# fault drawn at random on either side:
#
#   controller  none, heartbeat-stop@STATE, estop@STATE, insulation failure,
#               malformed frames, foreign-frame bus load, a fake session of
#               another pistol
#   converter   link drop (the server closes and refuses connections for a
#               while), late replies (past the response timeout), a fault
#               bit in the fault word
#   daemon      SIGHUP reloads at random moments
#
# After each session: (1) the converter ended off -- output enable 0 and
# setpoints 0 V / 0 A on the server; (2) the daemon still answers -- same
# process, and a controller heartbeat on the bus gets its Sequence_Control
# or Power_Modules_Limits back; (3) its file descriptors and memory: the fd
# count never above the count after warm-up, and at the end equal to it;
# resident memory at the end within SOAK_RSS_SLACK_KB of its value after
# warm-up.  Any of these violated is a failure.  seccsim's own verdict is
# counted too: a FAIL where the fault (or none) let it expect a clean
# outcome is a failure, unless seccsim found the machine stalled
# ("inconclusive", counted apart).
#
# Runs on a real vcan (inside the VM here): scripts/soak.sh drives it.
# Environment: SECCBRIDGE_SOAK_SESSIONS (200), SECCBRIDGE_SOAK_SEED (the
# time), SECCBRIDGE_SOAK_REPORT (file for the summary, optional).
# shellcheck source-path=SCRIPTDIR source=../integration/modbus-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../integration/modbus-lib.sh"
test_begin "$@"

SESSIONS=${SECCBRIDGE_SOAK_SESSIONS:-200}
SEED=${SECCBRIDGE_SOAK_SEED:-$(date +%s)}
REPORT=${SECCBRIDGE_SOAK_REPORT:-}
WARMUP=${SECCBRIDGE_SOAK_WARMUP:-10}
SOAK_RSS_SLACK_KB=${SECCBRIDGE_SOAK_RSS_SLACK_KB:-512}
RANDOM=$SEED
note "soak: $SESSIONS sessions, seed $SEED"

SECCSIM=$BUILD_DIR/src/seccsim/seccsim
SECCBRIDGE=$BUILD_DIR/src/seccbridge
mb_need tcp
need_cmd cansend
# The server lives as long as the soak.
bg_start mbserver nice -n 10 "$MB_PYTHON" "$MB_SERVER" --tcp 0 --lifetime $(( SESSIONS * 60 + 600 ))
wait_for_line "$(bg_log mbserver)" '^READY tcp=[0-9]+ control=[0-9]+$' 20
line=$(grep -E '^READY ' "$(bg_log mbserver)" | head -n 1)
MB_PORT=$(sed -E 's/.* tcp=([0-9]+).*/\1/' <<<"$line")
MB_CTL_PORT=$(sed -E 's/.* control=([0-9]+).*/\1/' <<<"$line")
wait_until 10 _mb_ctl_once now || fail "the server's control port does not answer"
mb_config tcp "link_timeout_ms = 500"

bg_start daemon "${MB_NICE[@]}" "$SECCBRIDGE" -c "$S_CONF"
wait_for_line "$(bg_log daemon)" "ready: pistol 1 on $VCAN_IF"
wait_until 10 grep -q "rated " "$(bg_log daemon)" || fail "the daemon never reached the converter"
DPID=$(bg_pid daemon)
# nice runs the daemon itself (exec): the background pid is the daemon's.

# Quick sessions: every phase short, the charge 3 s.
QUICK=(--protocol ccs --init-time 200 --idle-time 300 --negotiate-time 300 --wait-charge-time 200
       --welding-time 300 --cooldown 500 --after-time 300 --charge-time 3 --ccs-gap 0
       --insulation-iterations 3 --profile 40,60,20 --charger-power $(( MB_MAX_P / 1000 )))
STATES=(Insulation_Test Precharge Charging)
KINDS=(none none heartbeat-stop estop insulation malformed bus-load wrong-pistol
       link-drop late-replies converter-fault sighup)

declare -A count=() verdict_fail=()
failures=0 stalls=0 completed=0 ended=0
fd_base= rss_base= fd_max=0

rss_kb() { sed -nE 's/^VmRSS:[[:space:]]+([0-9]+) kB/\1/p' "/proc/$DPID/status"; }
fd_count() { find "/proc/$DPID/fd" -mindepth 1 -maxdepth 1 | wc -l; }

# Converter-side faults, staged once the controller is charging.
at_charging() {
        wait_until 60 grep -q "state Charging (7)" "$1" || return 0
        sleep 0.5
}
hook_link_drop() { at_charging "$1"; _mb_ctl_once stop; sleep 1.5; _mb_ctl_once start; }
hook_late() { at_charging "$1"; _mb_ctl_once delay 700 3; }
hook_fault() { at_charging "$1"; _mb_ctl_once fault 1; sleep 1; _mb_ctl_once fault 0; }
hook_sighup() {
        local n
        for n in 1 2 3; do
                sleep "0.$(( RANDOM % 9 + 1 ))"
                kill -HUP "$DPID" 2>/dev/null || true
        done
}

# The daemon answers: after a controller heartbeat it sends its flags or
# limits (a controller back from silence gets both again, E.8).
daemon_answers() {
        local cap=$TEST_TMP/answer.log n
        candump -L "$VCAN_IF" >"$cap" 2>/dev/null &
        local dump=$!
        sleep 0.2
        for n in 1 2 3 4 5 6 7 8 9 10; do
                cansend "$VCAN_IF" 01068009#01
                sleep 0.1
        done
        sleep 0.3
        kill "$dump" 2>/dev/null || true
        wait "$dump" 2>/dev/null || true
        grep -Eq ' 0106001[12]#' "$cap"
}

# The server's output enable and setpoints, "COIL V A" (control failures
# give "?").
converter_state() {
        local coil=? set='? ?'
        _mb_ctl_once get coil 0 && coil=${MB_REPLY#ok }
        _mb_ctl_once get holding 0 2 && set=${MB_REPLY#ok }
        printf '%s %s\n' "$coil" "$set"
}
converter_off() { [ "$(converter_state)" = "0 0 0" ]; }

for i in $(seq 1 "$SESSIONS"); do
        kind=${KINDS[$(( RANDOM % ${#KINDS[@]} ))]}
        state=${STATES[$(( RANDOM % ${#STATES[@]} ))]}
        args=("${QUICK[@]}")
        hook=
        expect_clean=1
        case "$kind" in
        heartbeat-stop) args+=(--fault "$kind@$state") ;;
        # The next session (seccsim plays one after the stop) comes after
        # the stop's release time (R46, estop_release_ms 1 s): sooner, the
        # latch rightly holds through it.
        estop) args+=(--fault "$kind@$state" --idle-time 1200) ;;
        insulation) args+=(--fault insulation); mb_ctl insulation 20 ;;
        malformed) args+=(--malformed) ;;
        bus-load) args+=(--bus-load=3800) ;;
        wrong-pistol) args+=(--wrong-pistol) ;;
        link-drop) hook=hook_link_drop; expect_clean=0
                args+=(--expect-shutdown=Charging --off-current 100 --estop-time 3500) ;;
        late-replies) hook=hook_late; expect_clean=0 ;;
        converter-fault) hook=hook_fault; expect_clean=0
                args+=(--expect-shutdown=Charging --off-current 100) ;;
        sighup) hook=hook_sighup ;;
        esac
        count[$kind]=$(( ${count[$kind]:-0} + 1 ))
        mb_ctl clearlog

        out=$TEST_TMP/session.out
        : >"$out"
        hook_pid=
        if [ -n "$hook" ]; then
                "$hook" "$out" &
                hook_pid=$!
        fi
        rc=0
        "${MB_NICE[@]}" timeout --kill-after=5 120 "$SECCSIM" session -i "$VCAN_IF" "${args[@]}" >"$out" 2>&1 || rc=$?
        if [ -n "$hook_pid" ]; then
                kill "$hook_pid" 2>/dev/null || true
                wait "$hook_pid" 2>/dev/null || true
        fi
        # Whatever the fault, the converter is healthy again for the checks.
        mb_ctl fault 0
        mb_ctl delay 0 0
        mb_ctl start
        mb_ctl insulation 10000

        problems=()
        if [ "$rc" -eq 0 ]; then
                if [ "$kind" = none ] || [ "$kind" = sighup ] || [ "$kind" = malformed ] ||
                   [ "$kind" = bus-load ] || [ "$kind" = wrong-pistol ] || [ "$kind" = late-replies ]; then
                        completed=$((completed + 1))
                else
                        ended=$((ended + 1))
                fi
                outcome=PASS
        elif grep -q '^  reason: inconclusive' "$out"; then
                stalls=$((stalls + 1))
                outcome=inconclusive
        else
                outcome=FAIL
                verdict_fail[$kind]=$(( ${verdict_fail[$kind]:-0} + 1 ))
                if [ "$expect_clean" = 1 ]; then
                        problems+=("seccsim: $(grep -m1 -E 'FAIL' "$out" | cut -c1-160)")
                fi
        fi

        # (1) converter off once the session is over
        wait_until 5 converter_off || problems+=("converter not off (output enable, V, A): $(converter_state)")
        # (2) the same daemon answers
        if ! kill -0 "$DPID" 2>/dev/null; then
                problems+=("the daemon is gone")
                show_file "$(bg_log daemon)"
        elif ! daemon_answers; then
                problems+=("no answer to a controller heartbeat")
        fi
        # (3) descriptors and memory
        fds=$(fd_count)
        rss=$(rss_kb)
        [ "$fds" -le "$fd_max" ] || fd_max=$fds
        if [ "$i" -eq "$WARMUP" ]; then
                fd_base=$fds
                rss_base=$rss
        elif [ -n "$fd_base" ] && [ "$fds" -gt "$fd_base" ]; then
                problems+=("file descriptors grew: $fds (after warm-up $fd_base)")
        fi
        [ "$i" -ne 1 ] || { fd_first=$fds; rss_first=$rss; }

        if [ ${#problems[@]} -gt 0 ]; then
                failures=$((failures + 1))
                printf 'soak %3d %-16s %-16s %-12s FAILURE: %s\n' "$i" "$kind" "$state" "$outcome" "${problems[*]}"
                show_file "$out"
        else
                printf 'soak %3d %-16s %-16s %-12s ok  fds %s rss %s kB\n' "$i" "$kind" "$state" "$outcome" "$fds" "$rss"
        fi
        # Let the daemon see the controller gone before the next session.
        sleep 0.5
done

rss_end=$(rss_kb)
fd_end=$(fd_count)
if [ -n "$rss_base" ] && [ $(( rss_end - rss_base )) -gt "$SOAK_RSS_SLACK_KB" ]; then
        failures=$((failures + 1))
        note "FAILURE: resident memory grew from $rss_base kB (after warm-up) to $rss_end kB"
fi
if [ -n "$fd_base" ] && [ "$fd_end" -ne "$fd_base" ]; then
        failures=$((failures + 1))
        note "FAILURE: $fd_end file descriptors at the end, $fd_base after warm-up"
fi
kill -0 "$DPID" 2>/dev/null || failures=$((failures + 1))
bg_stop daemon TERM || { failures=$((failures + 1)); note "FAILURE: the daemon did not stop cleanly"; }

faults=0
kinds=
for k in "${KINDS[@]}"; do
        case " $kinds " in *" $k "*) continue ;; esac
        kinds="$kinds $k"
        [ "$k" = none ] || faults=$((faults + ${count[$k]:-0}))
done
{
        echo "sessions $SESSIONS"
        echo "seed $SEED"
        echo "faults $faults"
        for k in $kinds; do
                echo "kind $k ${count[$k]:-0} ${verdict_fail[$k]:-0}"
        done
        echo "failures $failures"
        echo "completed $completed"
        echo "ended_by_fault $ended"
        echo "stalls $stalls"
        echo "fd first $fd_first warmup ${fd_base:-?} max $fd_max end $fd_end"
        echo "rss_kb first $rss_first warmup ${rss_base:-?} end $rss_end"
} | tee "${REPORT:-/dev/null}" >&2
[ "$failures" -eq 0 ] || fail "$failures failure(s) in $SESSIONS sessions"
