#!/usr/bin/env bash
# Runs on a real vcan (inside the VM): two pistols charging at the same time
# for MINUTES, played by two seccsim controllers (pistols 1 and 2, each told
# the other's index), served first by one seccbridge for both pistols (a
# simulated converter each), then by two seccbridge processes (one per
# pistol, the one-pistol format).  One setup at a time.  Samples the
# daemons' CPU time and memory from /proc every second; writes
# OUTDIR/{one,two}.{samples,log,sessions}: samples are "SECONDS TICKS RSS HWM"
# summed over the setup's daemons.
#
#   two-pistols-run.sh BUILD_DIR OUTDIR MINUTES
set -euo pipefail
# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
build=$1 out=$2 minutes=$3
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
BENCH_NAP_FIFO=$tmp/nap
mkfifo "$BENCH_NAP_FIFO"

sim_limits() {
        printf '[limits]\nmax_voltage = 1000\nmax_current = 200\nmax_power = 100000\n'
        printf '[sim]\nmax_current_a = 250\nmax_power_kw = 150\n[dbus]\nenable = false\n'
}

# sample NAME PID...: one line a second with the PIDs' ticks, RSS and peak
# RSS added up, until one of them exits or NAME.done appears.
sample() {
        local name=$1 t0 now ticks rss hwm pid
        shift
        t0=${EPOCHREALTIME/./}
        : >"$out/$name.samples"
        while [ ! -e "$out/$name.done" ]; do
                ticks=0 rss=0 hwm=0
                for pid in "$@"; do
                        proc_sample "$pid" || return 0
                        ticks=$(( ticks + PROC_TICKS )) rss=$(( rss + PROC_RSS )) hwm=$(( hwm + PROC_HWM ))
                done
                now=${EPOCHREALTIME/./}
                printf '%d.%02d %s %s %s\n' $(( (now - t0) / 1000000 )) $(( (now - t0) % 1000000 / 10000 )) \
                        "$ticks" "$rss" "$hwm" >>"$out/$name.samples"
                bench_nap 1
        done
}

# charge NAME PID...: both controllers at once for MINUTES, sampling PIDs.
charge() {
        local name=$1 sampler rc1=0 rc2=0 p1
        shift
        sleep 1
        sample "$name" "$@" &
        sampler=$!
        "$build/src/seccsim/seccsim" session -i vcan0 -p 1 --other-pistol 2 --loop-period 100 --ccs-gap 0 \
                --charge-time $(( minutes * 60 )) --print-interval 0 >"$tmp/$name.p1" 2>&1 &
        p1=$!
        "$build/src/seccsim/seccsim" session -i vcan0 -p 2 --other-pistol 1 --loop-period 100 --ccs-gap 0 \
                --charge-time $(( minutes * 60 )) --print-interval 0 >"$tmp/$name.p2" 2>&1 || rc2=$?
        wait "$p1" || rc1=$?
        : >"$out/$name.done"
        wait "$sampler" || true
        {
                printf '1 %s %s\n' "$rc1" "$(sed -n 's/^  reason: //p' "$tmp/$name.p1" | head -n 1)"
                printf '2 %s %s\n' "$rc2" "$(sed -n 's/^  reason: //p' "$tmp/$name.p2" | head -n 1)"
        } >"$out/$name.sessions"
}

# One process, two pistols.
{
        printf '[can]\ninterface = vcan0\n'
        sim_limits
        printf '[converter a]\nbackend = sim\n[converter b]\nbackend = sim\n'
        printf '[pistol one]\npistol_index = 1\nconverter = a\n[pistol two]\npistol_index = 2\nconverter = b\n'
} >"$tmp/one.conf"
"$build/src/seccbridge" -c "$tmp/one.conf" 2>"$out/one.log" &
d=$!
charge one "$d"
kill -TERM "$d" 2>/dev/null || true
wait "$d" 2>/dev/null || true

# Two processes, one pistol each.
for p in 1 2; do
        {
                printf '[can]\ninterface = vcan0\npistol_index = %s\n' "$p"
                sim_limits
        } >"$tmp/two-$p.conf"
done
"$build/src/seccbridge" -c "$tmp/two-1.conf" 2>"$out/two.log" &
d1=$!
"$build/src/seccbridge" -c "$tmp/two-2.conf" 2>>"$out/two.log" &
d2=$!
charge two "$d1" "$d2"
kill -TERM "$d1" "$d2" 2>/dev/null || true
wait "$d1" 2>/dev/null || true
wait "$d2" 2>/dev/null || true
getconf CLK_TCK >"$out/clk_tck"
exit 0
