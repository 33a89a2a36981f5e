#!/usr/bin/env bash
# Runs on a real vcan (inside the VM): two long charges at once, each with
# its own daemon (simulated converter) and seccsim controller: one on an
# otherwise idle bus (vcan0), one on a bus full of foreign frames (vcan1,
# 3800 extended 8-byte frames a second).  Samples each daemon's CPU time and
# memory from /proc every second; writes OUTDIR/{idle,loaded}.{samples,log,seccsim}.
#
#   long-charge-run.sh BUILD_DIR OUTDIR MINUTES
set -euo pipefail
# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
build=$1 out=$2 minutes=$3
mkdir -p "$out"
ip link show vcan1 >/dev/null 2>&1 || ip link add dev vcan1 type vcan
ip link set dev vcan1 up
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"; true' EXIT

start_one() {
        local name=$1 ifc=$2 load=$3
        bench_sim_conf "$ifc" "$tmp/$name.conf"
        "$build/src/seccbridge" -c "$tmp/$name.conf" 2>"$out/$name.log" &
        echo $! >"$tmp/$name.pid"
        # shellcheck disable=SC2086
        ( sleep 1; rc=0; "$build/src/seccsim/seccsim" session -i "$ifc" --protocol ccs --loop-period 100 --ccs-gap 0 \
                --charge-time $(( minutes * 60 )) --print-interval 0 $load >"$out/$name.seccsim" 2>&1 || rc=$?; \
          echo "$rc" >"$out/$name.rc" ) &
}

sample() {
        local name=$1 pid t0 now stat ticks
        pid=$(cat "$tmp/$name.pid")
        t0=$(date +%s.%N)
        : >"$out/$name.samples"
        while kill -0 "$pid" 2>/dev/null && [ ! -e "$out/$name.rc" ]; do
                now=$(date +%s.%N)
                stat=$(cut -d' ' -f14,15 "/proc/$pid/stat" 2>/dev/null) || break
                ticks=$(( ${stat% *} + ${stat#* } ))
                printf '%s %s %s %s\n' "$(awk -v a="$t0" -v b="$now" 'BEGIN { printf "%.2f", b - a }')" "$ticks" \
                        "$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status")" \
                        "$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status")" >>"$out/$name.samples"
                sleep 1
        done
}

start_one idle vcan0 ""
start_one loaded vcan1 "--bus-load=3800"
sample idle &
sample loaded &
wait "$!"
while [ ! -e "$out/idle.rc" ] || [ ! -e "$out/loaded.rc" ]; do sleep 1; done
sleep 1
for name in idle loaded; do
        kill -TERM "$(cat "$tmp/$name.pid")" 2>/dev/null || true
done
sleep 3
getconf CLK_TCK >"$out/clk_tck"
exit 0
