#!/usr/bin/env bash
# seccbridge side by side with the vendor's published Python power-modules
# simulator (ADVANTICS/examples, charge-controllers/tutorials/EVSE Generic
# Interface v3/evse-simulator.py).  Both speak interface v3: the same
# controller, `seccsim session --interface-version 3` (a CCS charge), drives
# each power side in turn on the same bus, on an idle bus and with the bus
# full of foreign frames.  Reported: CPU time, memory, the
# Power_Modules_Status period, and whether each passed seccsim's checks.
# Nothing of the vendor's checkout is copied here: give its path.
#
#   bench/vendor-compare.sh --vendor-dir DIR [--seconds N] [--bus-load N] [--build-dir DIR]
#   (--seconds: the charge time of each session, 120 by default;
#   --bus-load: foreign frames a second, both 0 and 3800 by default;
#   --report-only writes the sections again from the last run's measurements)
#   (VENDOR_COMMIT names the checkout's commit when DIR is no git work tree)
#
# Needs Debian's python3-can, python3-typer and python3-rich (installed
# when missing).  Writes the "vendor-compare" (3800 frames/s) and
# "vendor-compare-0" sections of BENCHMARKS.md (vendor-compare-N for
# another rate).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$BENCH_ROOT"
vendor_dir=
secs=120
loads="0 3800"
build=build-bench
report_only=0
while [ $# -gt 0 ]; do
        case "$1" in
        --vendor-dir) vendor_dir=$2; shift ;;
        --seconds) secs=$2; shift ;;
        --bus-load) loads=$2; shift ;;
        --report-only) report_only=1 ;;
        --build-dir) build=$2; shift ;;
        *) echo "vendor-compare: unknown option $1" >&2; exit 2 ;;
        esac
        shift
done
if [ "$report_only" = 1 ]; then
        # The sections again from the last run's measurements.
        out=$build/bench-vendor
        read -r secs vendor_commit <"$out/run"
        loads=$(cat "$out/loads")
        where=$(cat "$out/where")
        hostload=$(cat "$out/hostload")
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
        load_start=$(cut -d ' ' -f 1-3 /proc/loadavg)
        # shellcheck disable=SC2086  # one argument per rate
        SECCBRIDGE_VM_SHARE=$(dirname "$script") \
                bench_on_vcan $(( (secs + 90) * 2 * $(wc -w <<<"$loads") + 300 )) \
                bash bench/vm/vendor-run.sh "$BENCH_BUILD" "$out" "$script" "$secs" $loads
        load_end=$(cut -d ' ' -f 1-3 /proc/loadavg)
        where=$BENCH_WHERE
        [ -s "$out/clk_tck" ] || { echo "vendor-compare: no measurements in $out" >&2; exit 1; }
        echo "$secs $vendor_commit" >"$out/run"
        echo "$loads" >"$out/loads"
        echo "$where" >"$out/where"
        hostload="the host's load average (1, 5, 15 min) was $load_start before the run and $load_end after it"
        echo "$hostload" >"$out/hostload"
fi
for load in $loads; do
        /usr/bin/python3 - "$out" "$load" "$secs" "$(bench_machine "$where")" "$vendor_commit" "$hostload" \
                >"$out/section-$load.md" <<'PY'
import re, statistics, sys
out, load, secs, machine, commit, hostload = sys.argv[1:7]
tck = int(open(f"{out}/clk_tck").read())
rows = {}
for prog in ("seccbridge", "vendor"):
    d = f"{out}/{load}-{prog}"
    s = [list(map(float, l.split())) for l in open(f"{d}/samples") if len(l.split()) == 4]
    span = s[-1][0] - s[0][0] if len(s) > 1 else 0
    cpu = (s[-1][1] - s[0][1]) / tck if s else 0
    rss = int(s[-1][2]) if s else 0
    hwm = int(max(x[3] for x in s)) if s else 0
    t, p = [], []
    for line in open(f"{d}/status.log"):
        m = re.match(r"\((\d+\.\d+)\) \S+ ([0-9A-F]+)#", line)
        if m and int(m.group(2), 16) == 0x01063000:
            t.append(float(m.group(1)))
        elif m and int(m.group(2), 16) == 0x01063001:
            p.append(float(m.group(1)))
    close = [(b - a) * 1000 for a, b in zip(p, p[1:]) if b - a < 0.090]
    gaps = [(b - a) * 1000 for a, b in zip(t, t[1:]) if b - a < 2.0]
    dev = sorted(abs(g - 100) for g in gaps) or [0]
    rc = open(f"{d}/seccsim.rc").read().strip()
    sim = open(f"{d}/seccsim.out").read()
    reason = re.search(r"^  reason: (.*)$", sim, re.M)
    period = re.search(r"period mean ([0-9.]+) ms, min ([0-9.]+), max ([0-9.]+)", sim)
    charge = re.search(r"charging: ([0-9.]+) s, peak ([0-9.]+) A", sim)
    fail_at = re.search(r"^\[ *([0-9.]+)\] FAIL: ", sim, re.M)
    rows[prog] = dict(span=span, cpu=cpu, rss=rss, hwm=hwm, n=len(gaps),
                      mean=statistics.mean(gaps) if gaps else 0,
                      p99=dev[min(len(dev) - 1, int(len(dev) * 0.99))],
                      missed=sum(max(0, round(g / 100) - 1) for g in gaps if g >= 150),
                      params=len(p), close=len(close), closest=min(close) if close else None,
                      passed=rc == "0", reason=reason.group(1).strip() if reason else "",
                      fail_at=float(fail_at.group(1)) if fail_at else None,
                      window=period.groups() if period else None,
                      charge=charge.groups() if charge else None)
title = "## Side by side with the vendor's Python power-modules simulator, interface v3"
title += "" if load == "3800" else f" ({int(load):,} foreign frames/s)" if int(load) else " (no foreign frames)"
print(title)
print()
print(f"Command: `bench/vendor-compare.sh --vendor-dir DIR --seconds {secs}` (ADVANTICS/examples at {commit},")
print("a local checkout, nothing of it copied here); " + machine + "; " + hostload + " (other")
print("programs may have shared the two cores: compare the load averages).")
print("The same controller, `seccsim session --interface-version 3 --protocol ccs --loop-period 100")
print(f"--ccs-gap 0 --charge-time {secs} --profile 60,120,120 --settle 4s --limits-spacing 0`" +
      (f" with `--bus-load={load}` (foreign frames a second)" if int(load) else "") + ", played a v3 CCS charge")
print("against each power side in turn on the same vcan: seccbridge (`interface_version = 3`,")
print("simulated converter), then the vendor's `evse-simulator.py` (its defaults: 500 V,")
print("120 A, current ramp 20 A/s up and down, hence a profile that stays below 120 A, only")
print("steps up, and 4 s to settle). Debian's python3-can is 4.1 (the script asks for 4.4): it")
print("runs through `bench/vm/python-can-compat.py`, which adds the `modifier_callback` argument")
print("of `send_periodic()` that 4.1 lacks. CPU time and memory of the power-side process,")
print("sampled every second; the Power_Modules_Status period from a capture of the bus.")
print("The spacing of DC_Power_Parameters (V4: at most one per 100 ms) is counted from the")
print("capture rather than checked by seccsim (`--limits-spacing 0`): the example re-sends the")
print("frame from a 100 ms timer, and a single early pair closer than seccsim's 90 ms would end")
print("its session before anything is measured.")
print()
print("| power side | seccsim's checks | run (s) | CPU time (s) | CPU (% of one core) | RSS at end (kB) | peak RSS (kB) | status periods | mean period (ms) | p99 deviation (ms) | missed | DC_Power_Parameters | of them < 90 ms after the previous (V4) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for prog, label in (("seccbridge", "seccbridge (C)"), ("vendor", "vendor simulator (Python)")):
    r = rows[prog]
    verdict = "passed" if r["passed"] else "failed" + (f" after {r['fail_at']:.0f} s" if r["fail_at"] else "")
    print(f"| {label} | {verdict} | {r['span']:.0f} | {r['cpu']:.2f} | {100 * r['cpu'] / r['span'] if r['span'] else 0:.2f} | "
          f"{r['rss']} | {r['hwm']} | {r['n']} | {r['mean']:.2f} | {r['p99']:.2f} | {r['missed']} | "
          f"{r['params']} | {r['close']}" + (f" (closest {r['closest']:.0f} ms)" if r["closest"] is not None else "") + " |")
print()
b, v = rows["seccbridge"], rows["vendor"]
if b["cpu"] and b["hwm"] and b["span"] and v["span"]:
    print(f"Ratios vendor : seccbridge: CPU (share of a core, the runs differ in length) "
          f"{(v['cpu'] / v['span']) / (b['cpu'] / b['span']):.1f} : 1, peak memory {v['hwm'] / b['hwm']:.1f} : 1.")
for prog, label in (("seccbridge", "seccbridge"), ("vendor", "The vendor simulator")):
    r = rows[prog]
    if r["window"]:
        line = (f"{label}, as seccsim measured it in the session window: status period mean {r['window'][0]} ms,"
                f" min {r['window'][1]}, max {r['window'][2]}")
        if r["charge"]:
            line += f"; {r['charge'][0]} s charging, peak {r['charge'][1]} A"
        print()
        print(line + ".")
    if not r["passed"]:
        print()
        print(f"{label} failed seccsim's checks: {r['reason'] or 'no reason printed'}. Its figures are over the "
              "run until then.")
        if prog == "vendor" and "after Charge_Stopped (V20" in r["reason"]:
            print("On a Standby the example sets its current to 0 but leaves its current ramp aimed at the")
            print("last target, so the current climbs back at 20 A/s; only a Standby with")
            print("Lower_Output_Voltage stops the ramp. Sent as the v3 sequence description has it (E.13:")
            print("the contactors opened and the output lowered once the current is below 1 A), the three")
            print("Standby of Ending_Charge leave it charging unless they follow each other closely, as")
            print("the sequence diagram draws them (back to back); how closely depends on how fast each")
            print("side answers, so a run may pass or fail here.")
PY
        cat "$out/section-$load.md"
        if [ "$load" = 3800 ]; then section=vendor-compare; else section=vendor-compare-$load; fi
        bench_write_section "$section" "$out/section-$load.md"
done
