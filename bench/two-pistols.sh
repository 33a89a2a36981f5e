#!/usr/bin/env bash
# CPU time and memory of one seccbridge serving two pistols against two
# seccbridge processes (one per pistol), with the same traffic: two
# seccsim controllers charging pistols 1 and 2 at once (Charging_Loop every
# 100 ms each), a simulated converter per pistol.  bench/vm/two-pistols-run.sh
# on a real vcan (in the throwaway VM when this kernel has no CAN).  Writes
# the "two-pistols" section of BENCHMARKS.md.
#
#   bench/two-pistols.sh [--minutes N] [--build-dir DIR] [--report-only]
#
# Boots the VM: run it under flock /tmp/seccbridge-vm.lock on a shared
# machine.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$BENCH_ROOT"
minutes=3
build=build-bench
report_only=0
while [ $# -gt 0 ]; do
        case "$1" in
        --minutes) minutes=$2; shift ;;
        --build-dir) build=$2; shift ;;
        --report-only) report_only=1 ;;
        *) echo "two-pistols.sh: unknown option $1" >&2; exit 2 ;;
        esac
        shift
done
if [ "$report_only" = 1 ]; then
        out=$build/bench-two-pistols
        minutes=$(cat "$out/minutes")
else
        bench_prepare "$build" two-pistols
        out=$BENCH_OUT
        bench_on_vcan $(( 2 * minutes * 60 + 600 )) bash bench/vm/two-pistols-run.sh "$BENCH_BUILD" "$out" "$minutes"
        echo "$BENCH_WHERE" >"$out/where"
        echo "$minutes" >"$out/minutes"
fi
where=$(cat "$out/where")
[ -s "$out/clk_tck" ] || { echo "two-pistols: no measurements in $out" >&2; exit 1; }

/usr/bin/python3 - "$out" "$minutes" "$(bench_machine "$where")" >"$out/section.md" <<'PY'
import re, sys
out, minutes, machine = sys.argv[1:4]
tck = int(open(f"{out}/clk_tck").read())
print("## Two pistols: one process against two")
print()
print(f"Command: `bench/two-pistols.sh --minutes {minutes}`; {machine}.")
print("The same traffic twice: two seccsim controllers charging pistols 1 and 2 at the same")
print("time (Charging_Loop every 100 ms each, `--other-pistol` the other's index), a simulated")
print("converter per pistol (release build). First one seccbridge with `[pistol NAME]`")
print("sections serving both, then two seccbridge processes in the one-pistol format, one per")
print("pistol. CPU time (user + system) and resident memory from /proc every second, added up")
print("over the setup's daemons. On an emulated machine the figures compare the two setups;")
print("they are not a speed.")
print()
print("| setup | time sampled | sessions passed (of 2) | CPU time (s) | CPU (% of one core) | frames received | RSS after the first minute, min - max (kB) | peak RSS (kB) |")
print("|---|---|---|---|---|---|---|---|")
notes = []
for name, label in (("one", "one process, two pistols"), ("two", "two processes, one pistol each")):
    s = [l.split() for l in open(f"{out}/{name}.samples") if len(l.split()) == 4]
    t = float(s[-1][0]) - float(s[0][0])
    cpu = (int(s[-1][1]) - int(s[0][1])) / tck
    log = open(f"{out}/{name}.log").read()
    frames = sum(int(x) for x in re.findall(r"counters: CAN rx (\d+)", log))
    sessions = [l.split(None, 2) for l in open(f"{out}/{name}.sessions") if l.strip()]
    passed = sum(1 for x in sessions if x[1] == "0")
    later = [int(x[2]) for x in s if float(x[0]) - float(s[0][0]) >= 60] or [int(s[-1][2])]
    print(f"| {label} | {t / 60:.1f} min | {passed} | {cpu:.2f} | {100 * cpu / t:.2f} | {frames} | "
          f"{min(later)} - {max(later)} | {max(int(x[3]) for x in s)} |")
    for x in sessions:
        if x[1] != "0":
            notes.append(f"{label}: pistol {x[0]}'s session ended with status {x[1]}: {x[2].strip() if len(x) > 2 else '-'}.")
if notes:
    print()
    print("\n".join(notes))
PY
cat "$out/section.md"
bench_write_section two-pistols "$out/section.md"
