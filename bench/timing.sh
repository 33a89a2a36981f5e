#!/usr/bin/env bash
# Setpoint latency and reaction times of the daemon, with the simulated
# converter and with the Modbus TCP backend (the test converter on
# loopback): bench/vm/timing.py plays the controller on a real vcan (in the
# throwaway VM when this kernel has no CAN).  Writes the "latency" and
# "reaction" sections of BENCHMARKS.md.
#
#   bench/timing.sh [--setpoints N] [--trials N] [--build-dir DIR]
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$BENCH_ROOT"
setpoints=1000
trials=50
build=build-bench
while [ $# -gt 0 ]; do
        case "$1" in
        --setpoints) setpoints=$2; shift ;;
        --trials) trials=$2; shift ;;
        --build-dir) build=$2; shift ;;
        *) echo "timing.sh: unknown option $1" >&2; exit 2 ;;
        esac
        shift
done
bench_prepare "$build" timing
out=$BENCH_OUT
bench_on_vcan $(( setpoints / 5 + trials * 20 + 600 )) sh -c \
        "/usr/bin/python3 bench/vm/timing.py '$BENCH_BUILD' '$out/sim.json' sim $setpoints $trials &&
         /usr/bin/python3 bench/vm/timing.py '$BENCH_BUILD' '$out/modbus.json' modbus $setpoints $trials"
where=$BENCH_WHERE

/usr/bin/python3 - "$out" "$setpoints" "$trials" "$(bench_machine "$where")" <<'PY'
import json, statistics, sys
out, n, trials, machine = sys.argv[1:5]
res = {b: json.load(open(f"{out}/{b}.json")) for b in ("sim", "modbus")}

def stats(v):
    v = sorted(v)
    if not v:
        return "-", "-", "-"
    return (f"{statistics.median(v):.2f}", f"{v[min(len(v) - 1, int(len(v) * 0.99))]:.2f}", f"{v[-1]:.2f}")

lat = [
    "## Setpoint latency",
    "",
    f"Command: `bench/timing.sh --setpoints {n} --trials {trials}`; {machine}.",
    "`bench/vm/timing.py` plays the controller: a minimal CCS session, then one",
    "Charging_Loop every 100 ms, each with another target current (current ramp set",
    "to a step). Latency of each setpoint from the frame's send time to:",
    "the daemon's converter command with that current (its debug log line, stamped as",
    "it reaches a reader on the daemon's stderr; simulated converter), or the Modbus",
    "write of that current received by the test converter (its request log;",
    f"clock offset known to {res['modbus']['clock_offset_error_ms']:.2f} ms).",
    "A setpoint not matched was superseded by the next one before the Modbus worker's",
    "next write: the worker always writes the newest command, never a backlog.",
    "",
    "| path | setpoints matched | median (ms) | p99 (ms) | worst (ms) |",
    "|---|---|---|---|---|",
]
for b, label in (("sim", "Charging_Loop sent -> converter command issued (simulated converter)"),
                 ("modbus", "Charging_Loop sent -> Modbus write received by the converter (TCP loopback)")):
    m, p, w = stats(res[b]["setpoint_latency_ms"])
    lat.append(f"| {label} | {len(res[b]['setpoint_latency_ms'])} of {res[b]['setpoints_sent']} | {m} | {p} | {w} |")
rea = [
    "## Reaction to controller silence and to Emergency_Stop",
    "",
    f"Command: `bench/timing.sh --setpoints {n} --trials {trials}`; {machine}.",
    "Each trial charges, then either the controller falls silent (time from its last",
    "heartbeat; the protocol's timeout is 200 ms, R1) or sends Emergency_Stop (time from",
    "the first frame, R45), to the converter off: the daemon's \"converter: off\" line",
    "(simulated converter) or the output-disable write received by the Modbus",
    "converter (the Modbus worker's poll and request time included).",
    "",
    "| event | converter | trials | median (ms) | p99 (ms) | worst (ms) |",
    "|---|---|---|---|---|---|",
]
for kind, label in (("silence", "controller silent"), ("estop", "Emergency_Stop")):
    for b in ("sim", "modbus"):
        v = res[b][f"reaction_{kind}_ms"]
        m, p, w = stats(v)
        rea.append(f"| {label} | {b} | {len(v)} of {trials} | {m} | {p} | {w} |")
open(f"{out}/latency.md", "w").write("\n".join(lat) + "\n")
open(f"{out}/reaction.md", "w").write("\n".join(rea) + "\n")
print("\n".join(lat + [""] + rea))
PY
bench_write_section latency "$out/latency.md"
bench_write_section reaction "$out/reaction.md"
