#!/usr/bin/env bash
# Runs on a real vcan (inside the VM): seccbridge (simulated converter) with
# seccsim playing a CCS charge plus 3800 foreign frames a second, and at the
# same time the vendor's Python power-modules simulator (interface v3: it
# answers none of the v2.7 controller's frames) on a second vcan that gets
# every frame of the first through the kernel's CAN gateway, so it receives
# the same traffic while its own v3 frames stay off the v2.7 bus (seccsim
# would rightly take them for a protocol violation).  Samples both processes' CPU time and memory every second and
# captures the bus.
#
#   vendor-run.sh BUILD_DIR OUTDIR VENDOR_SCRIPT SECONDS
set -euo pipefail
# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
build=$1 out=$2 vendor=$3 secs=$4
ifc=${SECCBRIDGE_VCAN_IF:-vcan0}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
ip link show vcan1 >/dev/null 2>&1 || ip link add dev vcan1 type vcan
ip link set dev vcan1 up
cangw -F
cangw -A -s "$ifc" -d vcan1 -e
printf '[default]\ninterface = socketcan\nchannel = vcan1\n' >"$tmp/can.conf"
bench_sim_conf "$ifc" "$tmp/seccbridge.conf"
candump -L "$ifc" >"$out/bus.log" &
candump -L vcan1,1063000:1FFFFFFF >"$out/vendor-bus.log" &
"$build/src/seccbridge" -c "$tmp/seccbridge.conf" 2>"$out/seccbridge.log" &
echo $! >"$tmp/seccbridge.pid"
/usr/bin/python3 "$(dirname "$0")/python-can-compat.py" "$vendor" --can-config "$tmp/can.conf" >"$out/vendor.log" 2>&1 &
echo $! >"$tmp/vendor.pid"
sleep 3
"$build/src/seccsim/seccsim" session -i "$ifc" --protocol ccs --loop-period 100 --ccs-gap 0 \
        --charge-time "$secs" --print-interval 0 --bus-load=3800 >"$out/seccsim.out" 2>&1 &
sim=$!
: >"$out/samples"
t0=$(date +%s.%N)
while kill -0 "$sim" 2>/dev/null; do
        line=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
        for p in seccbridge vendor; do
                pid=$(cat "$tmp/$p.pid")
                stat=$(cut -d' ' -f14,15 "/proc/$pid/stat" 2>/dev/null) || stat="0 0"
                line="$line $(( ${stat% *} + ${stat#* } )) $(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status") $(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status")"
        done
        echo "$line" >>"$out/samples"
        sleep 1
done
wait "$sim" && echo 0 >"$out/seccsim.rc" || echo $? >"$out/seccsim.rc"
getconf CLK_TCK >"$out/clk_tck"
exit 0
