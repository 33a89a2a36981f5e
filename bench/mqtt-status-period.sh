#!/usr/bin/env bash
# Power_Modules_Status period during a charge with MQTT publishing at its
# highest rate (the state 20 times a second to a local mosquitto, a reader
# subscribed), against the same charge without MQTT, with the broker not
# running and with the broker frozen (SIGSTOP) mid-charge.  Kernel receive
# timestamps of a capture on the same vcan.  Writes the
# "mqtt-status-period" section of BENCHMARKS.md.
#
#   bench/mqtt-status-period.sh [--charge-time S] [--build-dir DIR]
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$BENCH_ROOT"
charge=60
build=build-bench
while [ $# -gt 0 ]; do
        case "$1" in
        --charge-time) charge=$2; shift ;;
        --build-dir) build=$2; shift ;;
        *) echo "mqtt-status-period.sh: unknown option $1" >&2; exit 2 ;;
        esac
        shift
done
bench_prepare "$build" mqtt-status-period
out=$BENCH_OUT
bench_on_vcan $(( 4 * charge + 400 )) bash bench/vm/mqtt-capture.sh "$BENCH_BUILD" "$out" "$charge" \
        off publishing down frozen
where=$BENCH_WHERE

md=$out/section.md
/usr/bin/python3 - "$out" "$charge" "$(bench_machine "$where")" >"$md" <<'PY'
import os, re, statistics, sys
out, charge, machine = sys.argv[1:4]
STATUS = 0x01060010          # Power_Modules_Status, pistol 1
rows = []
for mode, label in (("off", "no MQTT"),
                    ("publishing", "publishing: state 20/s to a local broker, a reader subscribed"),
                    ("down", "broker not running (connection refused, backoff)"),
                    ("frozen", "broker frozen (SIGSTOP) from the start of charging")):
    path = f"{out}/{mode}.log"
    if not os.path.exists(path):
        rows.append(f"| {label} | not measured (the run failed) | | | | | | |")
        continue
    times = []
    for line in open(path):
        m = re.match(r"\((\d+\.\d+)\) \S+ ([0-9A-F]+)#", line)
        if m and int(m.group(2), 16) == STATUS:
            times.append(float(m.group(1)))
    gaps = [(b - a) * 1000 for a, b in zip(times, times[1:]) if b - a < 2.0]
    dev = sorted(abs(g - 100) for g in gaps)
    missed = sum(max(0, round(g / 100) - 1) for g in gaps if g >= 150)
    p99 = dev[min(len(dev) - 1, int(len(dev) * 0.99))]
    states = events = 0
    mq = f"{out}/{mode}.mqtt"
    if os.path.exists(mq):
        for line in open(mq):
            states += " " in line and line.split(" ", 1)[0].endswith("/state")
            events += " " in line and line.split(" ", 1)[0].endswith("/event")
    verdict = "PASS" if "verdict: PASS" in open(f"{out}/{mode}.seccsim").read() else "FAIL"
    rows.append(f"| {label} | {len(gaps)} | {statistics.mean(gaps):.2f} | {statistics.median(dev):.2f} | "
                f"{p99:.2f} | {dev[-1]:.2f} | {missed} | {states} / {events} | {verdict} |")
print("## Power_Modules_Status period with MQTT")
print()
print(f"Command: `bench/mqtt-status-period.sh --charge-time {charge}`; {machine}.")
print("The daemon (release build, simulated converter) through a CCS charge of")
print(f"{charge} s per row, seccsim playing the controller (Charging_Loop every 100 ms);")
print("periods from the kernel receive timestamps of a capture on the same bus. With")
print("MQTT, `state_max_per_s = 20` (its highest): during a charge the state changes")
print("at every measurement, so a state message goes out every 50 ms; the reader is")
print("`mosquitto_sub` on the broker's Unix socket. \"down\": `[mqtt]` points at a port")
print("where nothing listens, the daemon retries with backoff; \"frozen\": the broker is")
print("stopped with SIGSTOP once charging starts and stays so to the end (its socket")
print("accepts nothing more, the daemon's keepalive gives it up and it retries).")
print()
print("| MQTT | periods | mean (ms) | median deviation from 100 ms | p99 deviation | worst | missed periods | state / event messages read | seccsim |")
print("|---|---|---|---|---|---|---|---|---|")
print("\n".join(rows))
PY
cat "$md"
bench_write_section mqtt-status-period "$md"
