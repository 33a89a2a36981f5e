#!/usr/bin/env bash
# The sanitizer runs, one mode or all, each in its own build directory:
#
#   scripts/sanitize.sh [--no-write] asan|tsan|valgrind|all
#
#   asan      clang, AddressSanitizer + UndefinedBehaviorSanitizer (every
#             report fatal, LeakSanitizer at exit), libFuzzer short runs:
#             the meson suites and the CAN integration suite (build-asan)
#   tsan      clang, ThreadSanitizer: the Modbus suite (backend tests over
#             TCP loopback and RTU over a pty pair, worker thread checks),
#             the D-Bus suite and the MQTT suite (the publisher against a
#             real mosquitto: TCP, Unix socket, restarts, a stalled broker,
#             TLS, credentials) (build-tsan)
#   valgrind  the daemon (debug build) under valgrind memcheck through
#             whole sessions on vcan, a v2 CCS charge, a v3 V2G session
#             and two pistols sharing one converter
#             (tests/integration/valgrind-session.sh): no error, no definite
#             or indirect leak, no descriptor left open (build-valgrind)
#
# Each mode keeps its latest result (build-sanitize/MODE.rows); the
# "sanitizers" section of BENCHMARKS.md shows those of every mode run so far
# (--no-write skips it).  Exit status 1 when any failed.
# scripts/test.sh runs the asan part as well, on every test run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
# shellcheck source=../bench/lib.sh
. bench/lib.sh

write=1
if [ "${1:-}" = --no-write ]; then
        write=0
        shift
fi
mode=${1:-}
case "$mode" in
asan|tsan|valgrind|all) ;;
*) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac

rows=()
failed=0

# setup DIR ARGS...: configure once, build.
setup() {
        local dir=$1
        shift
        [ -d "$dir" ] || "$@" "$dir" >/dev/null
        ninja -C "$dir" >/dev/null
}

# meson_counts DIR: "passed failed skipped" of the last meson test run.
meson_counts() {
        /usr/bin/python3 - "$1/meson-logs/testlog.json" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    p += r in ("OK", "EXPECTEDFAIL")
    s += r == "SKIP"
    f += r not in ("OK", "EXPECTEDFAIL", "SKIP")
print(p, f, s)
PY
}

# The first column of each mode's rows.
declare -A tool_of=([asan]="ASan + UBSan" [tsan]="ThreadSanitizer" [valgrind]="valgrind memcheck")

# record TOOL SUITE RESULT [native|vm]: one row of the section, with the
# machine it ran on (the mode's unless given), kept for the mode.
results=build-sanitize
mkdir -p "$results"
record() {
        rows+=("| $1 | $2 | $3 |")
        printf '| %s | %s | %s | %s |\n' "$1" "$2" "$3" "$(bench_machine "${4:-$current_where}")" \
                >>"$results/$current.rows"
}
begin_mode() {
        current=$1 current_where=$2
        rm -f "$results/$current.rows" "$results/$current.machine"
}

run_asan() {
        local dir=build-asan rc=0 line p f s
        begin_mode asan native
        echo "== asan: build ($dir)"
        setup "$dir" env CC=clang meson setup -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
                -Dfuzz=true -Dc_args=-fno-sanitize-recover=all -Dc_link_args=-fno-sanitize-recover=all
        meson test -C "$dir" --print-errorlogs || rc=$?
        read -r p f s < <(meson_counts "$dir")
        record "ASan + UBSan (+ LeakSanitizer)" "meson suites: unit, tools, Modbus, D-Bus, systemd, fuzz (short libFuzzer runs)" \
                "$p passed, $f failed, $s skipped"
        [ "$rc" -eq 0 ] || failed=1
        rc=0
        line=$(BUILD_DIR=$dir bash tests/integration/run.sh 2>&1 | tee /dev/stderr | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1) || rc=$?
        record "ASan + UBSan (+ LeakSanitizer)" "CAN integration suite (daemon, seccsim, seccbridgectl on vcan, in the VM)" "${line:-no summary}" vm
        [ "$rc" -eq 0 ] || failed=1
}

run_tsan() {
        local dir=build-tsan rc=0 p f s
        begin_mode tsan native
        echo "== tsan: build ($dir)"
        setup "$dir" env CC=clang meson setup -Db_sanitize=thread -Db_lundef=false
        TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} \
                meson test -C "$dir" --suite modbus --suite dbus --suite mqtt --print-errorlogs || rc=$?
        read -r p f s < <(meson_counts "$dir")
        record "ThreadSanitizer" "Modbus suite (worker thread against pymodbus over TCP and RTU), D-Bus suite, MQTT suite (against a real mosquitto)" \
                "$p passed, $f failed, $s skipped"
        [ "$rc" -eq 0 ] || failed=1
}

run_valgrind() {
        local dir=build-valgrind rc=0 line
        begin_mode valgrind vm
        echo "== valgrind: build ($dir)"
        setup "$dir" meson setup --buildtype=debug
        # One boot of the VM for every case; each session under memcheck
        # takes a minute or two there.
        line=$(BUILD_DIR=$dir SECCBRIDGE_TEST_TIMEOUT=${SECCBRIDGE_TEST_TIMEOUT:-600} \
                bash tests/integration/run.sh tests/integration/valgrind-session.sh 2>&1 |
                tee /dev/stderr | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1) || rc=$?
        record "valgrind memcheck ($(valgrind --version))" "the daemon through a v2 CCS charge, a v3 V2G session (charge, discharge, charge; bidirectional config) and two pistols sharing one converter (one held, then served) on vcan (tests/integration/valgrind-session.sh)" \
                "${line:-no summary}"
        [ "$rc" -eq 0 ] || failed=1
}

case "$mode" in
asan) run_asan ;;
tsan) run_tsan ;;
valgrind) run_valgrind ;;
all) run_asan; run_tsan; run_valgrind ;;
esac

printf '%s\n' "${rows[@]}"
if [ "$write" = 1 ]; then
        md=$(mktemp)
        {
                echo "## Sanitizers"
                echo
                echo "Command: \`scripts/sanitize.sh asan|tsan|valgrind|all\` (clang $(clang --version | sed -n 's/.*clang version \([0-9.]*\).*/\1/p' | head -n 1)),"
                echo "each mode's latest run. The integration suite and the valgrind session run on vcan in"
                echo "the emulated VM (this kernel has no CAN). \`scripts/test.sh\` runs the ASan + UBSan"
                echo "part on every test run."
                echo
                echo "| tool | what ran | result | machine, date |"
                echo "|---|---|---|---|"
                for m in asan tsan valgrind; do
                        if [ -s "$results/$m.rows" ] && [ ! -e "$results/$m.machine" ]; then
                                cat "$results/$m.rows"
                        else
                                # Not run from this build tree: keep the rows already published.
                                sed -n '/^<!-- bench:sanitizers -->$/,/^<!-- \/bench:sanitizers -->$/p' "$BENCH_MD" |
                                        grep -F "| ${tool_of[$m]}" || true
                        fi
                done
        } >"$md"
        bench_write_section sanitizers "$md"
        rm -f "$md"
fi
exit "$failed"
