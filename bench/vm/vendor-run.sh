#!/usr/bin/env bash
# Runs on a real vcan (inside the VM): seccbridge (simulated converter) with
# seccsim playing a CCS charge plus foreign frames (3800 a second unless
# told otherwise), and at the
# same time the vendor's Python power-modules simulator (interface v3: it
# answers none of the v2.7 controller's frames) on a second vcan that gets
# every frame of the first through the kernel's CAN gateway, so it receives
# the same traffic while its own v3 frames stay off the v2.7 bus (seccsim
# would rightly take them for a protocol violation).  Samples both processes' CPU time and memory every second and
# captures the bus.
#
#   vendor-run.sh BUILD_DIR OUTDIR VENDOR_SCRIPT SECONDS [FOREIGN_FRAMES_PER_S]
set -euo pipefail
# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
build=$1 out=$2 vendor=$3 secs=$4 load=${5:-3800}
ifc=${SECCBRIDGE_VCAN_IF:-vcan0}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
BENCH_NAP_FIFO=$tmp/nap
mkfifo "$BENCH_NAP_FIFO"
ip link show vcan1 >/dev/null 2>&1 || ip link add dev vcan1 type vcan
ip link set dev vcan1 up
cangw -F
cangw -A -s "$ifc" -d vcan1 -e
printf '[default]\ninterface = socketcan\nchannel = vcan1\n' >"$tmp/can.conf"
bench_sim_conf "$ifc" "$tmp/seccbridge.conf"
candump -L "$ifc" >"$out/bus.log" &
candump -L vcan1,1063000:1FFFFFFF >"$out/vendor-bus.log" &
declare -A pids
load_opt=()
[ "$load" -eq 0 ] || load_opt=(--bus-load="$load")
"$build/src/seccbridge" -c "$tmp/seccbridge.conf" 2>"$out/seccbridge.log" &
pids[seccbridge]=$!
/usr/bin/python3 "$(dirname "$0")/python-can-compat.py" "$vendor" --can-config "$tmp/can.conf" >"$out/vendor.log" 2>&1 &
pids[vendor]=$!
sleep 3
"$build/src/seccsim/seccsim" session -i "$ifc" --protocol ccs --loop-period 100 --ccs-gap 0 \
        --charge-time "$secs" --print-interval 0 ${load_opt[@]+"${load_opt[@]}"} >"$out/seccsim.out" 2>&1 &
sim=$!
: >"$out/samples"
t0=${EPOCHREALTIME/./}
while kill -0 "$sim" 2>/dev/null; do
        now=${EPOCHREALTIME/./}
        printf -v line "%d.%02d" $(( (now - t0) / 1000000 )) $(( (now - t0) % 1000000 / 10000 ))
        for p in seccbridge vendor; do
                proc_sample "${pids[$p]}" || PROC_TICKS=0 PROC_RSS=0 PROC_HWM=0
                line="$line $PROC_TICKS $PROC_RSS $PROC_HWM"
        done
        echo "$line" >>"$out/samples"
        bench_nap 1
done
wait "$sim" && echo 0 >"$out/seccsim.rc" || echo $? >"$out/seccsim.rc"
getconf CLK_TCK >"$out/clk_tck"
exit 0
