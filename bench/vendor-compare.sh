#!/usr/bin/env bash
# seccbridge side by side with the vendor's published Python power-modules
# simulator (ADVANTICS/examples, charge-controllers/tutorials/EVSE Generic
# Interface v3/evse-simulator.py) under the same bus traffic: a v2.7 CCS
# charge played by seccsim with seccbridge answering, plus 3800 foreign
# frames a second.  The vendor script speaks interface v3 (other
# identifiers), so it takes no part in the v2.7 session; it receives the
# same traffic and sends its own Power_Modules_Status every 100 ms, which is
# what is compared: CPU time, memory, status period.  Nothing of the vendor's
# checkout is copied here: give its path.
#
#   bench/vendor-compare.sh --vendor-dir DIR [--seconds N] [--bus-load N] [--build-dir DIR]
#   (--bus-load: foreign frames a second, 3800 by default, 0 for none;
#   --report-only writes the section again from the last run's measurements)
#   (VENDOR_COMMIT names the checkout's commit when DIR is no git work tree)
#
# Needs Debian's python3-can, python3-typer and python3-rich (installed
# when missing).  Writes the "vendor-compare" section of BENCHMARKS.md.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$BENCH_ROOT"
vendor_dir=
secs=180
load=3800
build=build-bench
report_only=0
while [ $# -gt 0 ]; do
        case "$1" in
        --vendor-dir) vendor_dir=$2; shift ;;
        --seconds) secs=$2; shift ;;
        --bus-load) load=$2; shift ;;
        --report-only) report_only=1 ;;
        --build-dir) build=$2; shift ;;
        *) echo "vendor-compare.sh: unknown option $1" >&2; exit 2 ;;
        esac
        shift
done
if [ "$report_only" = 1 ]; then
        # The section again from the last run's measurements.
        out=$build/bench-vendor
        read -r secs load vendor_commit <"$out/run"
        where=$(cat "$out/where")
else
        script="$vendor_dir/charge-controllers/tutorials/EVSE Generic Interface v3/evse-simulator.py"
        if [ -z "$vendor_dir" ] || [ ! -f "$script" ]; then
                echo "vendor-compare: give --vendor-dir, a checkout of ADVANTICS/examples (evse-simulator.py not found)" >&2
                exit 77
        fi
        missing=()
        for p in python3-can python3-typer python3-rich; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
        done
        [ ${#missing[@]} -eq 0 ] || apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        vendor_commit=${VENDOR_COMMIT:-$(git -C "$vendor_dir" rev-parse --short HEAD 2>/dev/null || echo "an unnamed commit")}

        bench_prepare "$build" vendor
        out=$BENCH_OUT
        SECCBRIDGE_VM_SHARE=$(dirname "$script") SECCBRIDGE_VM_MODULES="can-gw" \
                bench_on_vcan $(( secs + 600 )) bash bench/vm/vendor-run.sh "$BENCH_BUILD" "$out" "$script" "$secs" "$load"
        where=$BENCH_WHERE
        [ -s "$out/clk_tck" ] || { echo "vendor-compare: no measurements in $out" >&2; exit 1; }
        echo "$secs $load $vendor_commit" >"$out/run"
        echo "$where" >"$out/where"
fi
/usr/bin/python3 - "$out" "$secs" "$(bench_machine "$where")" "$vendor_commit" "$load" >"$out/section.md" <<'PY'
import re, statistics, sys
out, secs, machine, commit, load = sys.argv[1:6]
tck = int(open(f"{out}/clk_tck").read())
s = [list(map(float, l.split())) for l in open(f"{out}/samples") if len(l.split()) == 7]
span = s[-1][0] - s[0][0]
ids = {"seccbridge": 0x01060010, "vendor": 0x01063000}
times = {k: [] for k in ids}
for line in list(open(f"{out}/bus.log")) + list(open(f"{out}/vendor-bus.log")):
    m = re.match(r"\((\d+\.\d+)\) \S+ ([0-9A-F]+)#", line)
    if m:
        for k, i in ids.items():
            if int(m.group(2), 16) == i:
                times[k].append(float(m.group(1)))
res = {}
for k, col in (("seccbridge", 1), ("vendor", 4)):
    cpu = (s[-1][col] - s[0][col]) / tck
    rss = int(s[-1][col + 1])
    hwm = int(max(x[col + 2] for x in s))
    t = times[k]
    gaps = [(b - a) * 1000 for a, b in zip(t, t[1:]) if b - a < 2.0 and a >= min(t) ]
    dev = sorted(abs(g - 100) for g in gaps) or [0]
    res[k] = (cpu, rss, hwm, len(gaps), statistics.mean(gaps) if gaps else 0,
              dev[min(len(dev) - 1, int(len(dev) * 0.99))], sum(max(0, round(g / 100) - 1) for g in gaps if g >= 150))
b, v = res["seccbridge"], res["vendor"]
print("## Side by side with the vendor's Python power-modules simulator" + ("" if load == "3800" else f" ({int(load):,} foreign frames/s)" if int(load) else " (no foreign frames)"))
print()
print(f"Command: `bench/vendor-compare.sh --vendor-dir DIR --seconds {secs} --bus-load {load}` (ADVANTICS/examples at {commit},")
print("a local checkout, nothing of it copied here); " + machine + ".")
print("Both programs on the same bus at the same time, for the same traffic: a v2.7 CCS charge")
print("(seccsim, Charging_Loop every 100 ms) answered by seccbridge, plus " + (f"{int(load):,} foreign frames a second." if int(load) else "no foreign frames."))
print("The vendor script implements interface v3 (other identifiers), so it takes no part")
print("in the v2.7 session. It runs on a second vcan that the kernel's CAN gateway feeds with")
print("every frame of the first (so its v3 frames stay off the v2.7 bus): it receives all of it")
print("(python-can, no kernel filter) and sends its own Power_Modules_Status every 100 ms.")
print("seccbridge filters its identifiers in the")
print("kernel. Debian's python3-can is 4.1 (the script asks for 4.4): it runs through")
print("`bench/vm/python-can-compat.py`, which adds the `modifier_callback` argument of")
print("`send_periodic()` that 4.1 lacks, with a plain sending thread.")
print()
print("| program | CPU time (s) | CPU (% of one core) | RSS at end (kB) | peak RSS (kB) | status periods | mean period (ms) | p99 deviation (ms) | missed |")
print("|---|---|---|---|---|---|---|---|---|")
for k, r in (("seccbridge (C, v2.7)", b), ("vendor simulator (Python, v3)", v)):
    print(f"| {k} | {r[0]:.2f} | {100 * r[0] / span:.2f} | {r[1]} | {r[2]} | {r[3]} | {r[4]:.2f} | {r[5]:.2f} | {r[6]} |")
print()
ratio_cpu = v[0] / b[0] if b[0] else float("inf")
print(f"Ratios vendor : seccbridge over {span:.0f} s: CPU time {ratio_cpu:.1f} : 1, peak memory {v[2] / b[2]:.1f} : 1.")
if b[6] > v[6]:
    print()
    print(f"seccbridge's status was late {b[6]} times here, the vendor script's {v[6]}. This")
    print("emulated machine was saturated: the vendor script took "
          f"{100 * v[0] / span:.0f} % of a core, and the copy of every frame to its bus and")
    print("the load generator took more. Compare the status-period section, which has the same")
    print("load but no vendor script.")
if open(f"{out}/seccsim.rc").read().strip() != "0":
    reason = [l for l in open(f"{out}/seccsim.out") if l.startswith("  reason: ")]
    print()
    print(f"The charge did not run its {secs} s: seccsim ended it after {span:.0f} s "
          f"({reason[0][len('  reason: '):].strip() if reason else 'no reason printed'}). The figures are over "
          "that span; seccbridge's status periods after the session ended count as missed.")
PY
cat "$out/section.md"
# One section per load: the default (a full bus) and any other run side by side.
if [ "$load" = 3800 ]; then section=vendor-compare; else section=vendor-compare-$load; fi
bench_write_section "$section" "$out/section.md"
