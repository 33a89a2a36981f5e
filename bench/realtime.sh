#!/usr/bin/env bash
# Power_Modules_Status period while other programs saturate every core
# (stress-ng, HOGS CPU hogs per core), with the daemon under the service
# unit's real-time policy (SCHED_FIFO, memory locked) and the same run under
# SCHED_OTHER: charge sessions back to back for SECONDS each, missed
# periods, deviation from 100 ms (median, p99, worst).  Kernel receive
# timestamps of a capture on the same vcan (as status-period.sh).  Writes
# the "realtime" section of BENCHMARKS.md; --report-only writes it again
# from the last run's measurements.
#
#   bench/realtime.sh [--seconds S] [--hogs-per-core N] [--build-dir DIR] [--report-only]
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$BENCH_ROOT"
secs=150
hogs=4
build=build-bench
report_only=0
while [ $# -gt 0 ]; do
        case "$1" in
        --seconds) secs=$2; shift ;;
        --hogs-per-core) hogs=$2; shift ;;
        --build-dir) build=$2; shift ;;
        --report-only) report_only=1 ;;
        *) echo "realtime.sh: unknown option $1" >&2; exit 2 ;;
        esac
        shift
done
if [ "$report_only" = 1 ]; then
        BENCH_BUILD=$(cd "$build" && pwd)
        out=$BENCH_BUILD/bench-realtime
        where=$(cat "$out/where")
else
        command -v stress-ng >/dev/null || { echo "realtime.sh: stress-ng not found (apt-get install stress-ng)" >&2; exit 1; }
        bench_prepare "$build" realtime
        out=$BENCH_OUT
        bench_on_vcan $(( 2 * secs + 600 )) bash bench/vm/realtime-run.sh "$BENCH_BUILD" "$out" "$secs" "$hogs" other fifo
        where=$BENCH_WHERE
        echo "$where" >"$out/where"
        bench_machine "$where" >"$out/machine"
fi

md=$out/section.md
/usr/bin/python3 - "$out" "$secs" "$hogs" "$(cat "$out/machine")" >"$md" <<'PY'
import glob, re, statistics, sys
out, secs, hogs, machine = sys.argv[1:5]
STATUS = 0x01060010          # Power_Modules_Status, pistol 1
HEARTBEAT = 0x01068009       # Advantics_Controller_Status, pistol 1
NEW_SESSION = 0x01068001     # New_Charge_Session: status from here on (R3)
FINISHED = 0x01068007        # Charge_Session_Finished: the session window ends
cores = open(f"{out}/cores").read().strip()

def gaps_of(times):
    return [(a, b) for a, b in zip(times, times[1:])]

rows = []
for mode, label in (("other", "SCHED_OTHER (no real-time policy)"),
                    ("fifo", "SCHED_FIFO 40, memory locked (the unit)")):
    logs = sorted((p for p in glob.glob(f"{out}/{mode}.*.log") if re.search(r"\.\d+\.log$", p)),
                  key=lambda p: int(p.split(".")[-2]))
    gaps, missed, missed_stall, timeouts, passed, span = [], 0, 0, 0, 0, 0.0
    sched = "?"
    for path in logs:
        status, beat = [], []
        start = end = None
        for line in open(path):
            m = re.match(r"\((\d+\.\d+)\) \S+ ([0-9A-F]+)#", line)
            if not m:
                continue
            ident, t = int(m.group(2), 16), float(m.group(1))
            if ident == NEW_SESSION and start is None:
                start = t
            elif ident == FINISHED and start is not None and end is None:
                end = t
            elif ident == STATUS:
                status.append(t)
            elif ident == HEARTBEAT:
                beat.append(t)
        # The session window only: no status is due before the session
        # opens nor after it is finished.
        status = [t for t in status if start is not None and t >= start and (end is None or t <= end)]
        if len(status) > 1:
            span += status[-1] - status[0]
        late_beats = [(a, b) for a, b in gaps_of(beat) if b - a >= 0.150]
        for a, b in gaps_of(status):
            g = (b - a) * 1000
            gaps.append(g)
            if g >= 150:
                n = max(0, round(g / 100) - 1)
                missed += n
                # The controller stand-in (SCHED_FIFO 30) late at the same
                # time: the whole machine stalled, not the daemon alone.
                if any(c < b and d > a for c, d in late_beats):
                    missed_stall += n
        base = path[:-len(".log")]
        log = open(base + ".daemon.log").read()
        m = re.search(r"controller timeouts (\d+)", log)
        timeouts += int(m.group(1)) if m else 0
        m = re.search(r"scheduling: (SCHED_\w+)(?: priority (\d+))?(, memory locked)?", log)
        if m:
            sched = f"{m.group(1)} {m.group(2) or ''}".strip() + (", locked" if m.group(3) else "")
        passed += open(base + ".rc").read().strip() == "0"
    dev = sorted(abs(g - 100) for g in gaps)
    p99 = dev[min(len(dev) - 1, int(len(dev) * 0.99))]
    stress = open(f"{out}/{mode}.stress").read()
    m = re.search(r"\] cpu\s+\d+\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", stress)
    hog = f"{float(m.group(2)) + float(m.group(3)):.0f} s in {float(m.group(1)):.0f} s" if m else "?"
    rows.append(f"| {label} | {sched} | {len(logs)} ({passed} passed) | {len(gaps)} | {statistics.mean(gaps):.2f} | "
                f"{dev[len(dev) // 2]:.2f} | {p99:.2f} | {dev[-1]:.2f} | **{missed}** | {missed - missed_stall} | "
                f"{timeouts} | {hog} |")
print("## Power_Modules_Status on a saturated machine, with and without real-time scheduling")
print()
print(f"Command: `bench/realtime.sh --seconds {secs} --hogs-per-core {hogs}`; {machine}.")
print(f"The daemon (release build, simulated converter) through CCS charge sessions back to back for")
print(f"{secs} s per row (Charging_Loop every 100 ms, 30 s of charge each), while `stress-ng --cpu` runs")
print(f"{hogs} CPU hogs per core ({int(hogs) * int(cores)} on the machine's {cores} cores) at the default policy and")
print("nice 0. Only the daemon's scheduling changes between the rows: the controller stand-in and the")
print("capture run at SCHED_FIFO 30 in both (on a charger the controller is another device), the hogs")
print("at SCHED_OTHER in both. Periods from the kernel receive timestamps of the captures, within each")
print("session's window (New_Charge_Session to Charge_Session_Finished); a gap of")
print("150 ms or more counts its missed periods (the controller allows 200 ms). \"Daemon alone\": the")
print("missed periods during which the controller stand-in's own heartbeat was on time, so the daemon")
print("alone was late; the others fell in a stall of the whole emulated machine (its virtual CPUs")
print("descheduled by the host), which no policy inside it can help. \"Controller timeouts\": times")
print("the daemon took the controller for silent (R1) and switched the converter off, which fails the")
print("session (System_Enable = Not_Allowed in the middle of it).")
print()
print("| daemon | policy (its log) | sessions | periods | mean (ms) | median deviation from 100 ms | p99 deviation | worst deviation | missed periods | of which the daemon alone | controller timeouts | CPU time of the hogs |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
print("\n".join(rows))
PY
cat "$md"
bench_write_section realtime "$md"
