#!/usr/bin/env bash
# The fault soak (tests/soak/soak.sh) on a real vcan -- inside a throwaway VM
# when this kernel has no CAN -- and its figures in the "soak" section of
# BENCHMARKS.md.
#
#   scripts/soak.sh [--sessions N] [--seed S] [--lanes 1|2] [--build-dir DIR] [--no-write]
#
# --lanes 2 plays two sessions at a time (of different daemons).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
# shellcheck source=../bench/lib.sh
. bench/lib.sh

sessions=200
lanes=1
seed=$(date +%s)
build_dir=build
write=1
while [ $# -gt 0 ]; do
        case "$1" in
        --sessions) sessions=$2; shift ;;
        --seed) seed=$2; shift ;;
        --lanes) lanes=$2; shift ;;
        --build-dir) build_dir=$2; shift ;;
        --no-write) write=0 ;;
        -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
case "$lanes" in 1|2) ;; *) echo "soak.sh: --lanes takes 1 or 2" >&2; exit 2 ;; esac
SECCBRIDGE_SOAK_SESSIONS=$sessions SECCBRIDGE_SOAK_SEED=$seed SECCBRIDGE_SOAK_REPORT=$report \
        SECCBRIDGE_SOAK_LANES=$lanes \
        SECCBRIDGE_TEST_RETRIES=0 SECCBRIDGE_TEST_VERBOSE=1 BUILD_DIR=$build_abs \
        bash tests/integration/run.sh --timeout $(( sessions * 30 + 300 )) tests/soak/soak.sh || rc=$?
end=$(date +%s)
[ -s "$report" ] || { echo "soak.sh: no report (exit $rc)" >&2; exit 1; }
cat "$report"

if [ "$write" = 1 ]; then
        md=$(mktemp)
        /usr/bin/python3 - "$report" "$seed" "$sessions" "$(( end - start ))" "$(bench_machine vm)" "$lanes" >"$md" <<'PY'
import sys
path, seed, sessions, secs, machine, lanes = sys.argv[1:7]
r, modes, kinds, daemons = {}, [], [], []
for line in open(path):
    w = line.split()
    if not w:
        continue
    if w[0] == "mode":
        modes.append(w[1:])
    elif w[0] == "kind":
        kinds.append(w[1:])
    elif w[0] == "daemon":
        daemons.append(w[1:])
    else:
        r[w[0]] = w[1:]
n = int(r["sessions"][0])
ms = int(r["ms_per_session"][0])
lanes_opt = f" --lanes {lanes}" if lanes != "1" else ""
print("## Fault soak")
print()
if n < 1000:
    print(f"**A short run: {n} sessions.** The figures below are those of this run; the full soak is")
    print("`--sessions 1000` (its time extrapolated below).")
    print()
print(f"Command: `scripts/soak.sh --sessions {sessions} --seed {seed}{lanes_opt}` ({int(secs) // 60} min "
      f"{int(secs) % 60} s with the VM's boot); {machine}.")
print("One daemon per mode, each on a vcan of its own, lives through the whole soak (the Modbus modes")
print("with a test converter of `tests/modbus/converter_server.py` each, every daemon publishing to one")
print("mosquitto); sessions, their mode and their fault drawn at random from the seed (see `tests/soak/soak.sh`).")
print("Mode `shared`: one daemon with two pistols on one converter (`[sharing]`), two controllers per")
print("session (the second starting up to a second after the first, each charging in its turn, the")
print("fault on pistol 1; the second controller's FAIL is a failure).")
print()
print(f"- sessions: **{n}**, with a fault: **{r['faults'][0]}**, unsafe outcomes: **{r['unsafe'][0]}**, "
      f"failures: **{r['failures'][0]}**")
print(f"- broker outages (mosquitto stopped while charging, started again after the session): {r['broker_outages'][0]}; "
      f"machine stalls seen by the controller (inconclusive, not counted as failures): {r['stalls'][0]}")
print(f"- time per session: {ms / 1000:.1f} s ({r['lanes'][0]} session(s) at a time; seccsim's own run "
      f"{int(r['ms_seccsim_mean'][0]) / 1000:.1f} s on average): 1000 sessions take about "
      f"{ms * 1000 / 60000:.0f} min")
print()
print("| mode | sessions | with a fault | charge completed | ended by its fault | controller verdict FAIL | unsafe |")
print("|---|---|---|---|---|---|---|")
for m in modes:
    print("| " + " | ".join(m) + " |")
print()
print("| fault | sessions | controller verdict FAIL | unsafe |")
print("|---|---|---|---|")
for k in kinds:
    print("| " + " | ".join(k) + " |")
print()
print("| daemon | warm-up sessions | fds after its first session | after warm-up | most | at the end | RSS kB after its first session | after warm-up | most | at the end |")
print("|---|---|---|---|---|---|---|---|---|---|")
for d in daemons:
    fd = d[2:6]
    rss = d[7:11]
    warm = d[12] if len(d) > 12 else "?"
    print(f"| {d[0]} | {warm} | " + " | ".join(fd + rss) + " |")
print()
print("Unsafe: the converter not off after a session (output enable and setpoints on the server), a")
print("sink setpoint written by a daemon not configured for discharge, or a controller verdict FAIL")
print("in a session whose fault is a safety one (silence, emergency stop, insulation, converter fault,")
print("link loss, a discharge refused: seccsim checks the current after the stop), or both pistols of")
print("the shared converter reporting current at once on the bus.  A failure is")
print("that, or the daemon gone or silent to a controller heartbeat, a daemon not back on the broker")
print("after an outage, its descriptors above the count after its warm-up, its memory grown by more")
print("than 512 kB since, or a controller verdict FAIL where the fault allowed a clean outcome.  A")
print("daemon's warm-up lasts until it has played every fault of its mode once (at least 3 sessions):")
print("a path's first pass may take memory once, a leak grows after it.")
print("Expected controller FAILs: the late replies (three answers 700 ms late) outlast the soak")
print("configuration's 500 ms link timeout, so the daemon declares the converter lost and turns it")
print("off (System_Enable Not_Allowed, the safe outcome); controller-kill ends seccsim itself in")
print("supervisor mode (the daemon must see the silence and answer the next heartbeat).")
print("Fewer descriptors than after warm-up while the broker is away is the MQTT connection closed.")
PY
        bench_write_section soak "$md"
        rm -f "$md"
fi
exit "$rc"
