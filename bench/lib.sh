# shellcheck shell=bash
# Shared by the bench/ scripts: where things are, a description of the
# machine, and the writer that replaces one section of BENCHMARKS.md.
#
# Every section of BENCHMARKS.md sits between two markers,
#   <!-- bench:NAME -->  ...  <!-- /bench:NAME -->
# and belongs to exactly one script, which rewrites it whole on each run, so
# rerunning one benchmark never disturbs the figures of another.

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_MD=${BENCH_MD:-$BENCH_ROOT/BENCHMARKS.md}

# One line naming the machine a figure came from: CPU model, cores, kernel,
# and whether it ran inside the emulated VM (pass "vm" as $1 for that);
# BENCH_CONDITIONS, when set, adds what else the machine was doing.
bench_machine() {
        local cpu cores kernel where
        cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
        cores=$(nproc)
        kernel=$(uname -r)
        if [ "${1:-}" = vm ]; then
                where="inside a QEMU TCG (software-emulated) VM on this host: timings are emulated-machine figures"
        else
                where="natively"
        fi
        printf '%s, %s cores, Linux %s, %s, %s%s' "${cpu:-unknown CPU}" "$cores" "$kernel" \
                "$where" "$(date -u +%Y-%m-%d)" "${BENCH_CONDITIONS:+; $BENCH_CONDITIONS}"
}

# bench_write_section NAME FILE: replace section NAME of BENCHMARKS.md with
# the contents of FILE (markdown); the section is appended when missing.
bench_write_section() {
        local name=$1 body=$2
        /usr/bin/python3 - "$BENCH_MD" "$name" "$body" <<'PY'
import os, sys
md, name, body_path = sys.argv[1:4]
begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
body = open(body_path).read().rstrip("\n")
text = open(md).read() if os.path.exists(md) else "# Benchmarks\n"
block = f"{begin}\n{body}\n{end}"
if begin in text and end in text:
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    text = head + block + tail
else:
    text = text.rstrip("\n") + "\n\n" + block + "\n"
with open(md + ".tmp", "w") as f:
    f.write(text)
os.replace(md + ".tmp", md)
PY
}

# bench_prepare BUILD_DIR NAME: the release build (configured when missing)
# with the daemon and seccsim built; sets BENCH_BUILD (absolute) and
# BENCH_OUT (an empty BUILD_DIR/bench-NAME for the raw measurements).
bench_prepare() {
        [ -d "$1" ] || meson setup "$1" --buildtype=release >/dev/null
        ninja -C "$1" src/seccbridge src/seccsim/seccsim >/dev/null
        BENCH_BUILD=$(cd "$1" && pwd)
        BENCH_OUT=$BENCH_BUILD/bench-$2
        rm -rf "$BENCH_OUT"
        mkdir -p "$BENCH_OUT"
}

# bench_on_vcan TIMEOUT COMMAND...: COMMAND on a real vcan, natively when
# this kernel has CAN, otherwise in the throwaway VM (BENCH_BUILD shared with
# it); BENCH_WHERE says which (native or vm).  A failed VM run is reported,
# not fatal: the caller checks what it measured.
bench_on_vcan() {
        local timeout=$1 rc=0
        shift
        # shellcheck source=../tests/integration/lib.sh
        . "$BENCH_ROOT/tests/integration/lib.sh"
        if have_vcan; then
                BENCH_WHERE=native
                "$@" || rc=$?
        else
                BENCH_WHERE=vm
                BUILD_DIR=$BENCH_BUILD "$BENCH_ROOT/tests/vm/run-in-vm.sh" --timeout "$timeout" -- "$@" || rc=$?
        fi
        [ "$rc" -eq 0 ] || echo "bench: the run on vcan ended with status $rc" >&2
}

# bench_sim_conf IFACE FILE: a daemon configuration with the simulated
# converter on IFACE, pistol 1, limits for a 150 A charge, no D-Bus.
bench_sim_conf() {
        printf '[can]\ninterface = %s\npistol_index = 1\n' "$1"
        printf '[limits]\nmax_voltage = 1000\nmax_current = 200\nmax_power = 100000\n'
        printf '[converter]\nbackend = sim\n[sim]\nmax_current_a = 250\nmax_power_kw = 150\n'
        printf '[dbus]\nenable = false\n'
} >"$2"

# proc_sample PID: the process's CPU clock ticks (user + system) in
# PROC_TICKS, VmRSS and VmHWM (kB) in PROC_RSS and PROC_HWM; false when it
# is gone.  Shell builtins only (no fork, no program started): on an
# emulated machine, starting programs every second disturbs what is measured.
proc_sample() {
        local -a stat status
        local line key val rest
        PROC_TICKS='' PROC_RSS='' PROC_HWM=''
        { read -r -a stat <"/proc/$1/stat"; } 2>/dev/null || return 1
        [ "${#stat[@]}" -gt 14 ] || return 1
        { mapfile -t status <"/proc/$1/status"; } 2>/dev/null || return 1
        for line in "${status[@]}"; do
                read -r key val rest <<<"$line"
                case "$key" in
                VmRSS:) PROC_RSS=$val ;;
                VmHWM:) PROC_HWM=$val ;;
                esac
        done
        [ -n "$PROC_RSS" ] && [ -n "$PROC_HWM" ] || return 1
        PROC_TICKS=$(( stat[13] + stat[14] ))
}

# bench_nap SECONDS: sleep without starting a program: a read with a
# timeout from the FIFO BENCH_NAP_FIFO, which the caller makes and nobody
# writes.
bench_nap() {
        read -r -t "$1" _ <>"$BENCH_NAP_FIFO" || true
}
