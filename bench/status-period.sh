#!/usr/bin/env bash
# Power_Modules_Status period during a charge: mean, deviation from 100 ms
# (median, p99, worst) and missed periods, with no other traffic, with the
# bus full of foreign frames (100 % of 500 kbit/s) and with an unthrottled
# flood.  Kernel receive timestamps of a capture on the same vcan, and the
# controller stand-in's own count.  Writes the "status-period" section of
# BENCHMARKS.md.
#
#   bench/status-period.sh [--charge-time S] [--build-dir DIR] [--report-only]
#   (--report-only writes the section again from the last run's measurements)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$BENCH_ROOT"
charge=60
build=build-bench
report_only=0
while [ $# -gt 0 ]; do
        case "$1" in
        --charge-time) charge=$2; shift ;;
        --report-only) report_only=1 ;;
        --build-dir) build=$2; shift ;;
        *) echo "status-period.sh: unknown option $1" >&2; exit 2 ;;
        esac
        shift
done
if [ "$report_only" = 1 ]; then
        out=$build/bench-status-period
        read -r charge where <"$out/run"
else
        bench_prepare "$build" status-period
        out=$BENCH_OUT
        bench_on_vcan $(( 3 * charge + 300 )) bash bench/vm/session-capture.sh "$BENCH_BUILD" "$out" "$charge" none full flood
        where=$BENCH_WHERE
        echo "$charge $where" >"$out/run"
fi

md=$out/section.md
/usr/bin/python3 - "$out" "$charge" "$(bench_machine "$where")" >"$md" <<'PY'
import re, statistics, sys
out, charge, machine = sys.argv[1:4]
STATUS = 0x01060010          # Power_Modules_Status, pistol 1
rows = []
for load, label in (("none", "controller traffic only"),
                    ("full", "+ 3800 foreign frames/s (100 % of 500 kbit/s)"),
                    ("flood", "+ unthrottled flood (cangen -g 0)")):
    times, other = [], 0
    for line in open(f"{out}/{load}.log"):
        m = re.match(r"\((\d+\.\d+)\) \S+ ([0-9A-F]+)#", line)
        if not m:
            continue
        if int(m.group(2), 16) == STATUS:
            times.append(float(m.group(1)))
        else:
            other += 1
    span = times[-1] - times[0] if len(times) > 1 else 0
    gaps = [(b - a) * 1000 for a, b in zip(times, times[1:]) if b - a < 2.0]
    dev = sorted(abs(g - 100) for g in gaps)
    missed = sum(max(0, round(g / 100) - 1) for g in gaps if g >= 150)
    p99 = dev[min(len(dev) - 1, int(len(dev) * 0.99))]
    rate = other / span if span else 0
    # The controller stand-in reads every frame itself: its summary line.
    sim = "-"
    for line in open(f"{out}/{load}.seccsim"):
        m = re.search(r"Power_Modules_Status: (\d+) in the session window.*min ([\d.]+), max ([\d.]+).*?(\d+) over 150 ms", line)
        if m:
            sim = f"{m.group(1)}, {m.group(2)} - {m.group(3)}, {m.group(4)}"
    rows.append(f"| {label} | {len(gaps)} | {statistics.mean(gaps):.2f} | {statistics.median(dev):.2f} | "
                f"{p99:.2f} | {dev[-1]:.2f} | {missed} | {rate:.0f} | {sim} |")
print("## Power_Modules_Status period under bus load")
print()
print(f"Command: `bench/status-period.sh --charge-time {charge}`; {machine}.")
print("The daemon (release build, simulated converter) through a CCS charge of")
print(f"{charge} s per row, seccsim playing the controller (Charging_Loop every 100 ms);")
print("periods from the kernel receive timestamps of a capture on the same bus.")
print("100 % load: an extended frame of 8 bytes is 131 bits on the wire with the")
print("interframe space and no stuff bits, 160 with worst-case stuffing, so a full")
print("500 kbit/s bus carries 3,125 to 3,817 of them a second; seccsim sends 3,800 a")
print("second (vcan itself has no bit rate, so the flood row goes beyond any real bus).")
print("The daemon's socket filters its own identifiers in the kernel; in the flood row the")
print("flooder, the capture and the controller stand-in (which read every frame) share the")
print("machine with it, so on an emulated machine that row measures the machine's saturation")
print("as much as the daemon.  The last column is the controller stand-in's own count over")
print("its session window (statuses, shortest - longest period in ms, periods over 150 ms):")
print("where the capture falls behind and loses frames, the controller may still have")
print("received every status on time.")
print()
print("| bus | periods | mean (ms) | median deviation from 100 ms | p99 deviation | worst | missed periods | other frames/s on the bus | seccsim: statuses, period min - max, over 150 ms |")
print("|---|---|---|---|---|---|---|---|---|")
print("\n".join(rows))
PY
cat "$md"
bench_write_section status-period "$md"
