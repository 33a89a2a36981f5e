#!/usr/bin/env bash
# The fault soak (tests/soak/soak.sh) on a real vcan -- inside a throwaway VM
# when this kernel has no CAN -- and its figures in the "soak" section of
# BENCHMARKS.md.
#
#   scripts/soak.sh [--sessions N] [--seed S] [--build-dir DIR] [--no-write]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
# shellcheck source=../bench/lib.sh
. bench/lib.sh

sessions=200
seed=$(date +%s)
build_dir=build
write=1
while [ $# -gt 0 ]; do
        case "$1" in
        --sessions) sessions=$2; shift ;;
        --seed) seed=$2; shift ;;
        --build-dir) build_dir=$2; shift ;;
        --no-write) write=0 ;;
        -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "soak.sh: unknown option $1" >&2; exit 2 ;;
        esac
        shift
done
[ -d "$build_dir" ] || meson setup "$build_dir" >/dev/null
ninja -C "$build_dir" src/seccbridge src/seccsim/seccsim >/dev/null
build_abs=$(cd "$build_dir" && pwd)
report=$build_abs/soak-report.txt
rm -f "$report"

start=$(date +%s)
rc=0
SECCBRIDGE_SOAK_SESSIONS=$sessions SECCBRIDGE_SOAK_SEED=$seed SECCBRIDGE_SOAK_REPORT=$report \
        SECCBRIDGE_TEST_RETRIES=0 SECCBRIDGE_TEST_VERBOSE=1 BUILD_DIR=$build_abs \
        bash tests/integration/run.sh --timeout $(( sessions * 45 + 300 )) tests/soak/soak.sh || rc=$?
end=$(date +%s)
[ -s "$report" ] || { echo "soak.sh: no report (exit $rc)" >&2; exit 1; }
cat "$report"

if [ "$write" = 1 ]; then
        md=$(mktemp)
        /usr/bin/python3 - "$report" "$seed" "$sessions" "$(( end - start ))" "$(bench_machine vm)" >"$md" <<'PY'
import sys
path, seed, sessions, secs, machine = sys.argv[1:6]
r = {}
kinds = []
for line in open(path):
    w = line.split()
    if w[0] == "kind":
        kinds.append(w[1:])
    else:
        r[w[0]] = w[1:]
print("## Fault soak")
print()
print(f"Command: `scripts/soak.sh --sessions {sessions} --seed {seed}` ({int(secs) // 60} min); {machine}.")
print("One daemon (Modbus TCP backend, the test converter of `tests/modbus/converter_server.py`)")
print("through every session; faults drawn at random per session (see `tests/soak/soak.sh`).")
print()
print(f"- sessions: **{r['sessions'][0]}**, with a fault: **{r['faults'][0]}**, failures: **{r['failures'][0]}**")
print(f"- sessions that completed their charge: {r['completed'][0]}; ended by their fault as expected: {r['ended_by_fault'][0]}; "
      f"machine stalls seen by the controller (inconclusive, not counted as failures): {r['stalls'][0]}")
fd = r["fd"]
rss = r["rss_kb"]
print(f"- daemon file descriptors: after session 1 {fd[1]}, after warm-up {fd[3]}, most {fd[5]}, at the end {fd[7]}")
print(f"- daemon resident memory: after session 1 {rss[1]} kB, after warm-up {rss[3]} kB, at the end {rss[5]} kB")
print()
print("| fault | sessions | controller verdict FAIL (expected for converter-side faults) |")
print("|---|---|---|")
for k, n, f in kinds:
    print(f"| {k} | {n} | {f} |")
print()
print("A failure is: the converter not off after the session (output enable and setpoints on")
print("the server), the daemon gone or silent to a controller heartbeat, its descriptors above")
print("the count after warm-up, its memory grown by more than 512 kB, or a controller verdict")
print("FAIL where the fault allowed a clean outcome.")
print("The late replies (three answers 700 ms late) outlast the soak configuration's 500 ms link")
print("timeout: the daemon declares the converter lost and turns it off, so those charges end with")
print("System_Enable Not_Allowed, which the controller stand-in reports as FAIL: the safe outcome.")
PY
        bench_write_section soak "$md"
        rm -f "$md"
fi
exit "$rc"
