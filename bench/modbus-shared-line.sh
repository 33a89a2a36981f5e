#!/usr/bin/env bash
# Each converter's measurement period on one shared RS-485 line at the
# default 9600 baud and the default Modbus timing, for 1, 2 and 3 converters
# (units 1..3) all charging: the Modbus backend against the pymodbus test
# server on a pty pair, the server answering only when a 9600 baud line would
# have carried the request and the answer (converter_server.py --baud).
# Periods between the server's timestamps of the reads that start each
# measurement.  No CAN needed: runs natively.  Writes the
# "modbus-shared-line" section of BENCHMARKS.md.
#
#   bench/modbus-shared-line.sh [--seconds S] [--build-dir DIR]
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$BENCH_ROOT"
seconds=30
build=build-bench
while [ $# -gt 0 ]; do
        case "$1" in
        --seconds) seconds=$2; shift ;;
        --build-dir) build=$2; shift ;;
        *) echo "modbus-shared-line.sh: unknown option $1" >&2; exit 2 ;;
        esac
        shift
done
bench_prepare "$build" modbus-shared-line
ninja -C "$BENCH_BUILD" tests/modbus/test-modbus-backend >/dev/null
out=$BENCH_OUT
BENCH_SECONDS=$seconds "$BENCH_BUILD/tests/modbus/test-modbus-backend" rtu "$BENCH_ROOT/tests/modbus/converter_server.py" \
        "$BENCH_ROOT/conf/profiles" bench-shared-line >"$out/run.log" 2>&1 || {
        cat "$out/run.log" >&2
        exit 1
}

md=$out/section.md
timeouts=$(grep -c 'timed out' "$out/run.log" || true)
/usr/bin/python3 - "$out/run.log" "$seconds" "$(bench_machine)" "$timeouts" >"$md" <<'PY'
import re, sys
log, seconds, machine, timeouts = sys.argv[1:5]
rows = []
for line in open(log):
    m = re.match(r"# shared-line converters=(\d+) unit=(\d+) requests_per_s=([\d.]+) periods=(\d+) "
                 r"mean_ms=([\d.]+) max_ms=([\d.]+)", line)
    if m:
        rows.append("| {} | {} | {} | {} | {} | {} |".format(*m.groups()))
print("## Each converter's measurement period on a shared RS-485 line")
print()
print(f"Command: `bench/modbus-shared-line.sh --seconds {seconds}`; {machine}.")
print("The Modbus RTU backend (release build) with 1, 2 and 3 converters on one line")
print("(units 1..3 of one pymodbus server on a pty pair), every converter charging, at")
print("the defaults: 9600 baud 8N1, poll_interval_ms 100, setpoint_refresh_ms 1000,")
print("min_gap_ms 5, link_timeout_ms 1000.  A pty has no baud rate: the server sends")
print("each answer only when a 9600 baud line would have carried the request and the")
print(f"answer (10 bits a character, 3.5 characters of silence per frame).  {seconds} s")
print("per row; the period is the time between two reads of a converter's")
print("measurement block (input 0+8), from the server's timestamps.  A pass of one")
print("converter is two reads (about 20 and 40 ms on the wire at 9600 baud), and")
print("three setpoint writes once a second; the converters take turns request by")
print("request, so each one's period grows with the others' requests.  The worst")
print("periods include the scheduling of the machine (the server is a Python process;")
print(f"requests that timed out in these runs, as the backend logged them: {timeouts}).")
print()
print("| converters on the line | unit | its requests/s | periods | mean (ms) | worst (ms) |")
print("|---|---|---|---|---|---|")
print("\n".join(rows))
PY
cat "$md"
bench_write_section modbus-shared-line "$md"
