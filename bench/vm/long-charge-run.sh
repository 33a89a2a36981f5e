#!/usr/bin/env bash
# Runs on a real vcan (inside the VM): two long charges, one after the
# other, each with its own daemon (simulated converter) and seccsim
# controller: first on an otherwise idle bus, then on a bus full of foreign
# frames (3800 extended 8-byte frames a second).  One at a time, so the two
# never compete for the machine.  Samples the daemon's CPU time and memory
# from /proc every second; writes
# OUTDIR/{idle,loaded}.{samples,log,seccsim,sessions,rc}.
#
#   long-charge-run.sh BUILD_DIR OUTDIR MINUTES
set -euo pipefail
# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
build=$1 out=$2 minutes=$3
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
BENCH_NAP_FIFO=$tmp/nap
mkfifo "$BENCH_NAP_FIFO"

# Appends one line per second to OUTDIR/NAME.samples (seconds since start,
# CPU clock ticks user + system, VmRSS kB, VmHWM kB) until the daemon PID
# exits or NAME.rc appears (proc_sample: shell builtins only).
sample() {
        local name=$1 pid=$2 t0 now
        t0=${EPOCHREALTIME/./}
        : >"$out/$name.samples"
        while [ ! -e "$out/$name.rc" ] && proc_sample "$pid"; do
                now=${EPOCHREALTIME/./}
                printf '%d.%02d %s %s %s\n' $(( (now - t0) / 1000000 )) $(( (now - t0) % 1000000 / 10000 )) \
                        "$PROC_TICKS" "$PROC_RSS" "$PROC_HWM" >>"$out/$name.samples"
                bench_nap 1
        done
}

# One charge of MINUTES: the daemon, then seccsim sessions one after the
# other (with LOAD as extra seccsim options) until MINUTES have passed, each
# asked to charge for the time left: a session that ends early (when the
# emulated machine stalls the controller past the protocol's 200 ms, seccsim
# calls it inconclusive) is followed by another, and the daemon runs on.
# Writes NAME.sessions (one line per session: exit status, seconds, reason),
# NAME.rc (0 when every session passed) and NAME.seccsim (all output);
# the daemon is stopped at the end so its closing counters reach the log.
charge() {
        local name=$1 load=$2 daemon sampler t_end left rc t0 reason
        bench_sim_conf vcan0 "$tmp/$name.conf"
        "$build/src/seccbridge" -c "$tmp/$name.conf" 2>"$out/$name.log" &
        daemon=$!
        : >"$out/$name.sessions"
        : >"$out/$name.seccsim"
        sleep 1
        sample "$name" "$daemon" &
        sampler=$!
        t_end=$(( SECONDS + minutes * 60 ))
        while left=$(( t_end - SECONDS )); [ "$left" -gt 5 ]; do
                t0=$SECONDS
                rc=0
                # shellcheck disable=SC2086
                "$build/src/seccsim/seccsim" session -i vcan0 --protocol ccs --loop-period 100 --ccs-gap 0 \
                        --charge-time "$left" --print-interval 0 $load >"$tmp/session.out" 2>&1 || rc=$?
                cat "$tmp/session.out" >>"$out/$name.seccsim"
                reason=$(sed -n 's/^  reason: //p' "$tmp/session.out" | head -n 1)
                printf '%s %s %s\n' "$rc" "$(( SECONDS - t0 ))" "${reason:--}" >>"$out/$name.sessions"
                kill -0 "$daemon" 2>/dev/null || break
                sleep 1
        done
        awk '$1 != 0 { bad = 1 } END { print bad ? 1 : 0 }' "$out/$name.sessions" >"$out/$name.rc"
        wait "$sampler" || true
        sleep 1
        kill -TERM "$daemon" 2>/dev/null || true
        wait "$daemon" 2>/dev/null || true
}

charge idle ""
charge loaded "--bus-load=3800"
getconf CLK_TCK >"$out/clk_tck"
exit 0
