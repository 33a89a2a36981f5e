#!/usr/bin/env bash
# CPU time and memory of the daemon over a long charge (10 minutes by
# default), on an idle bus and then with the bus full of foreign frames:
# bench/vm/long-charge-run.sh on a real vcan (in the throwaway VM when this
# kernel has no CAN).  Writes the "long-charge"
# section of BENCHMARKS.md.
#
#   bench/long-charge.sh [--minutes N] [--build-dir DIR] [--report-only]
#
# --report-only writes the section again from the last run's measurements.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$BENCH_ROOT"
minutes=10
build=build-bench
report_only=0
while [ $# -gt 0 ]; do
        case "$1" in
        --minutes) minutes=$2; shift ;;
        --build-dir) build=$2; shift ;;
        --report-only) report_only=1 ;;
        *) echo "long-charge.sh: unknown option $1" >&2; exit 2 ;;
        esac
        shift
done
if [ "$report_only" = 1 ]; then
        # The section again from the last run's measurements.
        out=$build/bench-long-charge
        minutes=$(cat "$out/minutes")
else
        bench_prepare "$build" long-charge
        out=$BENCH_OUT
        bench_on_vcan $(( 2 * minutes * 60 + 600 )) bash bench/vm/long-charge-run.sh "$BENCH_BUILD" "$out" "$minutes"
        echo "$BENCH_WHERE" >"$out/where"
        echo "$minutes" >"$out/minutes"
fi
where=$(cat "$out/where")
[ -s "$out/clk_tck" ] || { echo "long-charge: no measurements in $out" >&2; exit 1; }

/usr/bin/python3 - "$out" "$minutes" "$(bench_machine "$where")" >"$out/section.md" <<'PY'
import re, sys
out, minutes, machine = sys.argv[1:4]
tck = int(open(f"{out}/clk_tck").read())
print("## CPU time and memory over a long charge")
print()
print(f"Command: `bench/long-charge.sh --minutes {minutes}`; {machine}.")
print("Two charges one after the other, each its own daemon (release build, simulated")
print("converter) and seccsim controller (Charging_Loop every 100 ms): first on an otherwise")
print("idle bus, then on a bus carrying 3,800 foreign extended frames a second (a full")
print("500 kbit/s bus). CPU time (user + system) and memory from /proc every second. The daemon's")
print("CAN socket filters its pistol's identifiers in the kernel, so foreign frames never")
print("reach it (frames received counts only ours).")
print()
print("The controller stand-in is seccsim, one session after another until the time is up")
print("(each asked to charge for the time left); the daemon runs through all of them. A session")
print("that the emulated machine stalled past the protocol's 200 ms heartbeat limit ends early")
print("(seccsim calls it inconclusive, the daemon rightly times the controller out) and the")
print("next one starts; such sessions are counted apart from failures.")
print()
print("RSS is the daemon's resident memory as /proc reports it (shared library pages it")
print("touched included); \"after the first minute\" gives its lowest and highest value from")
print("then to the end.")
print()
print("| bus | time sampled | sessions: passed / ended by a machine stall / failed | CPU time (s) | CPU (% of one core) | frames received | CPU per received frame (us) | RSS at start (kB) | RSS after the first minute, min - max (kB) | peak RSS (kB) |")
print("|---|---|---|---|---|---|---|---|---|---|")
notes = []
for name, label in (("idle", "idle (controller only)"), ("loaded", "100 % foreign load")):
    s = [l.split() for l in open(f"{out}/{name}.samples") if len(l.split()) == 4]
    t = float(s[-1][0]) - float(s[0][0])
    cpu = (int(s[-1][1]) - int(s[0][1])) / tck
    log = open(f"{out}/{name}.log").read()
    m = re.search(r"counters: CAN rx (\d+)", log)
    frames = int(m.group(1)) if m else 0
    sessions = [l.split(None, 2) for l in open(f"{out}/{name}.sessions") if l.strip()]
    passed = sum(1 for x in sessions if x[0] == "0")
    stalled = sum(1 for x in sessions if x[0] != "0" and x[2].startswith("inconclusive"))
    failed = [x for x in sessions if x[0] != "0" and not x[2].startswith("inconclusive")]
    per = f"{cpu / frames * 1e6:.1f}" if frames else "-"
    later = [int(x[2]) for x in s if float(x[0]) - float(s[0][0]) >= 60] or [int(s[-1][2])]
    print(f"| {label} | {t / 60:.1f} min | {passed} / {stalled} / {len(failed)} | {cpu:.2f} | {100 * cpu / t:.2f} | {frames} | {per} | "
          f"{s[0][2]} | {min(later)} - {max(later)} | {max(int(x[3]) for x in s)} |")
    for x in failed:
        notes.append(f"A session of the {label} charge failed after {x[1]} s: {x[2].strip()}.")
if notes:
    print()
    print("\n".join(notes))
PY
cat "$out/section.md"
bench_write_section long-charge "$out/section.md"
