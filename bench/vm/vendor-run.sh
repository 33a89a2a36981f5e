#!/usr/bin/env bash
# Runs on a real vcan (inside the VM): the same v3 controller, `seccsim
# session --interface-version 3`, against two power sides one after the
# other on the same bus: seccbridge (interface_version = 3, simulated
# converter), then the vendor's Python power-modules simulator.  For each
# foreign-frame rate given, both in turn.  Samples the power side's CPU time
# and memory every second, captures its Power_Modules_Status and
# DC_Power_Parameters frames, keeps seccsim's verdict.
#
#   vendor-run.sh BUILD_DIR OUTDIR VENDOR_SCRIPT SECONDS RATE...
#   (OUTDIR/RATE-seccbridge/ and OUTDIR/RATE-vendor/: samples, status.log
#   (Power_Modules_Status and DC_Power_Parameters),
#   seccsim.out, seccsim.rc, power-side.log)
set -euo pipefail
# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
build=$1 out=$2 vendor=$3 secs=$4
shift 4
ifc=${SECCBRIDGE_VCAN_IF:-vcan0}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
BENCH_NAP_FIFO=$tmp/nap
mkfifo "$BENCH_NAP_FIFO"
printf '[default]\ninterface = socketcan\nchannel = %s\n' "$ifc" >"$tmp/can.conf"
bench_sim_conf "$ifc" "$tmp/seccbridge.conf"
printf '[can]\ninterface_version = 3\n' >>"$tmp/seccbridge.conf"

# The controller played for both: a v3 CCS charge.  The vendor's example
# ramps its current at 20 A/s, down as slowly as up, and advertises 500 V,
# 120 A: the profile stays below that and only steps up (60 A, then 120 A),
# and a new request gets 4 s to settle, so that a correct but slow ramp is
# not taken for a failure.  Requests every 100 ms, no pause.  The spacing
# of DC_Power_Parameters (V4) is counted from the capture instead of ending
# the session: the example re-sends it from a timer every 100 ms, and one
# early pair closer than seccsim's 90 ms would leave nothing to measure.
session_args=(--interface-version 3 --protocol ccs --loop-period 100 --ccs-gap 0 --charge-time "$secs"
              --profile 60,120,120 --settle 4s --limits-spacing 0 --print-interval 0)

# run RATE NAME COMMAND...: the power side COMMAND with the controller.
run() {
        local rate=$1 name=$2 dir pid sim t0 now line load_opt=()
        shift 2
        dir=$out/$rate-$name
        mkdir -p "$dir"
        [ "$rate" -eq 0 ] || load_opt=(--bus-load="$rate")
        candump -L "$ifc,1063000:1FFFFFFE" >"$dir/status.log" &
        local dump=$!
        "$@" >"$dir/power-side.log" 2>&1 &
        pid=$!
        # Ready: its first Power_Modules_Status (the vendor's comes from
        # its start; seccbridge's only in a session, so its ready line).
        for _ in $(seq 1 300); do
                [ -s "$dir/status.log" ] && break
                grep -q "ready: pistol" "$dir/power-side.log" 2>/dev/null && break
                kill -0 "$pid" 2>/dev/null || break
                bench_nap 0.1
        done
        bench_nap 1
        "$build/src/seccsim/seccsim" session -i "$ifc" "${session_args[@]}" ${load_opt[@]+"${load_opt[@]}"} \
                >"$dir/seccsim.out" 2>&1 &
        sim=$!
        : >"$dir/samples"
        t0=${EPOCHREALTIME/./}
        while kill -0 "$sim" 2>/dev/null; do
                now=${EPOCHREALTIME/./}
                printf -v line "%d.%02d" $(( (now - t0) / 1000000 )) $(( (now - t0) % 1000000 / 10000 ))
                proc_sample "$pid" || PROC_TICKS=0 PROC_RSS=0 PROC_HWM=0
                echo "$line $PROC_TICKS $PROC_RSS $PROC_HWM" >>"$dir/samples"
                bench_nap 1
        done
        wait "$sim" && echo 0 >"$dir/seccsim.rc" || echo $? >"$dir/seccsim.rc"
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        kill "$dump" 2>/dev/null || true
        wait "$dump" 2>/dev/null || true
}

for rate in "$@"; do
        run "$rate" seccbridge "$build/src/seccbridge" -c "$tmp/seccbridge.conf"
        run "$rate" vendor /usr/bin/python3 "$(dirname "$0")/python-can-compat.py" "$vendor" \
                --can-config "$tmp/can.conf"
done
getconf CLK_TCK >"$out/clk_tck"
exit 0
