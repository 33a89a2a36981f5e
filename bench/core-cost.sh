#!/usr/bin/env bash
# Instructions the protocol core spends per decoded frame, per encoded
# Power_Modules_Status and per session step, with interface version 2
# (database v2.7) and version 3 (v3.6) side by side, counted by callgrind
# (exact and repeatable: no wall clock).  Each figure is (Ir of 2N repetitions - Ir of N)
# / units of work in N, so start-up is excluded.  Writes the "core-cost"
# section of BENCHMARKS.md.
#
#   bench/core-cost.sh [BUILD_DIR]      (default build-bench, release build)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$BENCH_ROOT"
build=${1:-build-bench}
[ -d "$build" ] || meson setup "$build" --buildtype=release >/dev/null
ninja -C "$build" bench/core-cost >/dev/null
driver=$build/bench/core-cost
buildtype=$(meson introspect --buildoptions "$build" |
        /usr/bin/python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "buildtype"))')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ir WORK N: total instructions of one run; units of work on stdout of the
# driver go to $tmp/units.
ir() {
        valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" "$driver" "$1" "$2" >"$tmp/units" 2>"$tmp/vg.log"
        sed -n 's/^summary: //p' "$tmp/cg.out"
}

row() {
        local work=$1 n=$2 label=$3 a b units per again
        a=$(ir "$work" "$n")
        b=$(ir "$work" $((2 * n)))
        units=$(( $(cat "$tmp/units") / 2 ))
        per=$(awk -v a="$a" -v b="$b" -v u="$units" 'BEGIN { printf "%.1f", (b - a) / u }')
        # Deterministic: a second measurement gives the same count.
        again=$(ir "$work" "$n")
        [ "$again" = "$a" ] || echo "core-cost: $work: $a then $again instructions (not repeatable)" >&2
        echo "core-cost: $label: $per instructions ($units units, Ir $a / $b)" >&2
        printf '| %s | %s | %s | %s |\n' "$label" "$per" "$units" "$([ "$again" = "$a" ] && echo yes || echo NO)"
}

{
        echo "## Core cost per frame and per session step (callgrind)"
        echo
        echo "Command: \`bench/core-cost.sh\` ($buildtype build, $(gcc --version | head -n 1 | sed 's/ (.*)//'),"
        echo "$(valgrind --version)); $(bench_machine). Instruction counts (Ir) of"
        echo "\`bench/core-cost\`: a run repeating the work 2N times minus a run with N, divided"
        echo "by the units of work in N; each count was taken twice and must match."
        echo
        echo "| work | instructions per unit | units in N | repeatable |"
        echo "|---|---|---|---|"
        row decode 20000 "decode one controller frame (mean of the 8 controller messages)"
        row decode-v3 20000 "v3: decode one controller frame (mean of 8 v3 controller messages)"
        row decode-cl 100000 "decode Charging_Loop (v2)"
        row decode-dpc 100000 "v3: decode DC_Power_Control"
        row encode 100000 "encode one Power_Modules_Status"
        row encode-v3 100000 "v3: encode one Power_Modules_Status (0x63000)"
        row session 200 "one session step (frame, measurement or timer run; whole CCS sessions)"
        row session-v3 200 "v3: one session step (whole v3 CCS sessions)"
        echo
        echo "A CCS session of the driver is 295 steps (heartbeats every 100 ms,"
        echo "insulation test, precharge, 50 charging-loop setpoints, ending); each step"
        echo "includes the frames the core transmits in it (encoded by the core)."
        echo "The v3 session is the same with DC_Power_Control (and New_Charge_Session,"
        echo "EV_Information_Voltages and the Standby requests of v3): 300 steps. The v3"
        echo "controller messages decoded are Advantics_Controller_Status, New_Charge_Session,"
        echo "DC_Power_Control, EV_Information_Battery, Charge_Status_Change, OCPP_Control,"
        echo "Emergency_Stop and Charge_Session_Finished. A database is a list searched"
        echo "linearly (23 messages in v3.6, 19 in v2.7), which the decode figures include."
} >"$tmp/section.md"
cat "$tmp/section.md"
bench_write_section core-cost "$tmp/section.md"
