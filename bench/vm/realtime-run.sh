#!/usr/bin/env bash
# Runs on a real vcan (inside the VM): the daemon on its simulated converter
# through seccsim charge sessions, back to back for SECONDS per MODE, while
# stress-ng keeps every core of the machine busy; each session's bus
# captured with kernel timestamps.
#
#   realtime-run.sh BUILD_DIR OUTDIR SECONDS HOGS_PER_CORE MODE...
#
# MODE: other (the daemon under SCHED_OTHER, as from a shell) or fifo
# (SCHED_FIFO at the service unit's priority, as the unit runs it; the daemon
# then locks its memory).  Only the daemon's policy changes between the
# modes: the controller stand-in and the capture run at SCHED_FIFO 30 in
# both (the controller is another device on a real charger), the CPU hogs at
# SCHED_OTHER in both.  A session that fails (the daemon starved, or the
# whole machine stalled) is counted and the next one starts.  Writes
# OUTDIR/MODE.N.log (capture of session N), MODE.N.seccsim, MODE.N.daemon.log,
# MODE.N.rc and MODE.stress.
# shellcheck source=../../tests/integration/test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../tests/integration/test-session-lib.sh"
test_begin "$1"
out=$2
secs=$3
hogs=$4
shift 4
mkdir -p "$out"
session_config
prio=$(sed -n 's/^CPUSchedulingPriority=//p' "$BUILD_DIR/systemd/seccbridge.service")
[ -n "$prio" ] || fail "no CPUSchedulingPriority= in $BUILD_DIR/systemd/seccbridge.service"
need_cmd chrt stress-ng
# This shell, and so candump and seccsim started from it, at SCHED_FIFO 30.
chrt -f -p 30 $$
cores=$(nproc)

for mode in "$@"; do
        case "$mode" in
        other) S_DAEMON_PREFIX=(chrt -o 0) ;;
        fifo) S_DAEMON_PREFIX=(chrt -f "$prio") ;;
        *) fail "unknown mode $mode" ;;
        esac
        chrt -o 0 stress-ng --cpu $(( hogs * cores )) --timeout $(( secs + 300 ))s \
                --metrics-brief >"$out/$mode.stress" 2>&1 &
        stress=$!
        sleep 5
        n=0
        t0=$SECONDS
        while [ $(( SECONDS - t0 )) -lt "$secs" ]; do
                n=$(( n + 1 ))
                SECCBRIDGE_SESSION_ATTEMPTS=1 session_run "$mode.$n" -- --protocol ccs --charge-time 30 \
                        --ccs-gap 0 --loop-period 100 --profile 100,150,50 --gap 100000
                cp "$S_BUS" "$out/$mode.$n.log"
                cp "$S_OUT" "$out/$mode.$n.seccsim"
                cp "$S_DLOG" "$out/$mode.$n.daemon.log"
                echo "$S_RC" >"$out/$mode.$n.rc"
                note "$mode session $n: seccsim exit $S_RC"
        done
        kill -INT "$stress" 2>/dev/null || true
        wait "$stress" 2>/dev/null || true
done
echo "$cores" >"$out/cores"
