#!/usr/bin/env bash
# Run seccbridge's integration tests on a real vcan.
#
#   tests/integration/run.sh [--timeout SECONDS] [TEST...]
#
# TEST is a script tests/integration/test-NAME.sh, given as a path or as
# test-NAME.sh, test-NAME or NAME; without any, all of them run.  When the
# running kernel has vcan (or SECCBRIDGE_VCAN_MODE=native), the tests run
# here; otherwise all of them run inside one boot of a throwaway VM
# (tests/vm/run-in-vm.sh).  Prints "PASS name", "FAIL name" or "SKIP name"
# per test, a failed test's log, and at the end "N passed, N failed" (plus
# ", N skipped" when some were skipped).  Exit status 1 when a test failed.
#
# Each test runs as "bash SCRIPT BUILD_DIR" from the top of the source tree,
# with BUILD_DIR exported too, in a process group of its own that is killed
# when the test ends; a fresh (or at least raised) vcan interface per test;
# exit status 0 passes, 77 skips, anything else (or the timeout) fails.
#
# Environment:
#   BUILD_DIR                 meson build directory (default "build")
#   SECCBRIDGE_TEST_TIMEOUT   seconds per test (default 180; --timeout)
#   SECCBRIDGE_TEST_RETRIES   attempts more for a failed test (default 1)
#   SECCBRIDGE_TEST_STALL_RETRIES  attempts more for an inconclusive one
#                             (status 75, see fail() in lib.sh; default 3)
#   SECCBRIDGE_TEST_LOGDIR    where test logs go (default BUILD_DIR/integration-logs)
#   SECCBRIDGE_TEST_VERBOSE   1: print every test's log, not only failures'
#   SECCBRIDGE_VCAN_MODE      auto (default), native or vm
#   SECCBRIDGE_VM_CAN_PAIR    1 (default): the VM has two emulated CAN
#                             controllers on one bus (can0 <-> can1); 0: none
#   SECCBRIDGE_VM_TIMEOUT     limit for the whole VM run (default: the
#                             per-test timeouts added up, plus 180 s)
#   and those of tests/vm/run-in-vm.sh and tests/integration/lib.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
root=$SECCBRIDGE_ROOT

usage() { sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; }

per_test=${SECCBRIDGE_TEST_TIMEOUT:-180}
names=()
while [ $# -gt 0 ]; do
        case "$1" in
        --timeout) [ $# -ge 2 ] || { usage >&2; exit 2; }; per_test=$2; shift 2 ;;
        --timeout=*) per_test=${1#*=}; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; names+=("$@"); break ;;
        -*) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
        *) names+=("$1"); shift ;;
        esac
done
case "$per_test" in
''|*[!0-9]*|0) echo "run.sh: --timeout takes a positive number of seconds" >&2; exit 2 ;;
esac

BUILD_DIR=${BUILD_DIR:-build}
case "$BUILD_DIR" in
/*) ;;
*) BUILD_DIR=$PWD/$BUILD_DIR ;;
esac
export BUILD_DIR

# ------------------------------------------------------------------ tests

tests=()
if [ ${#names[@]} -eq 0 ]; then
        for t in "$here"/test-*.sh; do
                [ -f "$t" ] && tests+=("$t")
        done
else
        for n in "${names[@]}"; do
                t=
                for c in "$n" "$here/$n" "$here/$n.sh" "$here/test-$n.sh"; do
                        if [ -f "$c" ]; then
                                t=$(cd "$(dirname "$c")" && pwd)/$(basename "$c")
                                break
                        fi
                done
                [ -n "$t" ] || { echo "run.sh: no such test: $n" >&2; exit 2; }
                tests+=("$t")
        done
fi
if [ ${#tests[@]} -eq 0 ]; then
        echo "run.sh: no tests found in $here" >&2
        exit 2
fi
test_name() { basename "${1%.sh}"; }

summary() {
        if [ "$3" -gt 0 ]; then
                echo "$1 passed, $2 failed, $3 skipped"
        else
                echo "$1 passed, $2 failed"
        fi
}

cd "$root"

mode=${SECCBRIDGE_VCAN_MODE:-auto}
case "$mode" in
auto) if have_vcan "$VCAN_IF"; then mode=native; else mode=vm; fi ;;
native|vm) ;;
*) echo "run.sh: SECCBRIDGE_VCAN_MODE must be auto, native or vm" >&2; exit 2 ;;
esac

# ------------------------------------------------------------------ in a VM

if [ "$mode" = vm ]; then
        echo "# no vcan on this kernel: running ${#tests[@]} test(s) in one VM boot"
        vm_timeout=${SECCBRIDGE_VM_TIMEOUT:-$(( ${#tests[@]} * (per_test + 10) + 180 ))}
        # Test scripts outside the source tree must stay visible in the guest.
        share=${SECCBRIDGE_VM_SHARE:-}
        for t in "${tests[@]}"; do
                share=$share:$(dirname "$t")
        done
        out=$(mktemp)
        trap 'rm -f "$out"' EXIT
        rc=0
        # The VM also gets a pair of emulated CAN controllers (can0 <-> can1)
        # for the tests of real controller settings.
        SECCBRIDGE_VCAN_MODE=native SECCBRIDGE_TEST_TIMEOUT=$per_test \
                SECCBRIDGE_VM_SHARE=${share#:} \
                SECCBRIDGE_VM_CAN_PAIR=${SECCBRIDGE_VM_CAN_PAIR:-1} \
                "$root/tests/vm/run-in-vm.sh" --timeout "$vm_timeout" -- \
                bash "$here/run.sh" "${tests[@]}" | tee "$out" || rc=${PIPESTATUS[0]}
        if grep -Eq '^[0-9]+ passed, [0-9]+ failed' "$out"; then
                exit "$rc"
        fi
        # The VM died or timed out before the summary: whatever did not
        # report counts as failed.
        echo "# the VM run ended (status $rc) before all tests reported"
        passed=$(grep -c '^PASS ' "$out" || true)
        failed=$(grep -c '^FAIL ' "$out" || true)
        skipped=$(grep -c '^SKIP ' "$out" || true)
        for t in "${tests[@]}"; do
                n=$(test_name "$t")
                if ! grep -Eq "^(PASS|FAIL|SKIP) $n( |\$)" "$out"; then
                        echo "FAIL $n"
                        failed=$((failed + 1))
                fi
        done
        summary "$passed" "$failed" "$skipped"
        exit 1
fi

# ------------------------------------------------------------------ natively

logdir=${SECCBRIDGE_TEST_LOGDIR:-}
own_logdir=0
if [ -z "$logdir" ]; then
        if [ -d "$BUILD_DIR" ]; then
                logdir=$BUILD_DIR/integration-logs
        else
                logdir=$(mktemp -d)
                own_logdir=1
        fi
fi
mkdir -p "$logdir"

group=
created=
finish() {
        local rc=$?
        trap - EXIT INT TERM HUP
        [ -z "$group" ] || kill_group "$group"
        if [ "$created" = created ]; then
                ip link delete dev "$VCAN_IF" 2>/dev/null || true
        fi
        [ "$own_logdir" = 0 ] || rm -rf "$logdir"
        exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

group_alive() { kill -0 -- "-$1" 2>/dev/null; }
group_gone() { ! group_alive "$1"; }

# kill_group PGID: end every process a test left behind.
kill_group() {
        group_alive "$1" || return 0
        kill -TERM -- "-$1" 2>/dev/null || true
        if ! wait_until 3 group_gone "$1"; then
                kill -KILL -- "-$1" 2>/dev/null || true
                wait_until 2 group_gone "$1" || true
        fi
}

vcan_ok=1
if ! created=$(vcan_ensure "$VCAN_IF" 2>&1); then
        echo "# cannot create or raise $VCAN_IF: $created"
        created=
        vcan_ok=0
fi
[ "$created" != created ] || VCAN_OWNED=1

passed=0
failed=0
skipped=0
# run_one TEST LOG: one attempt of a test; sets rc.
run_one() {
        local t=$1 log=$2 name
        name=$(test_name "$t")
        rc=0
        if [ "$vcan_ok" = 0 ] || ! vcan_reset "$VCAN_IF" >>"$log" 2>&1; then
                echo "run.sh: no usable $VCAN_IF for this test" >>"$log"
                rc=1
        else
                # timeout(1) leads a process group of its own: the test and
                # everything it starts, which kill_group then takes down.
                timeout --kill-after=5 "$per_test" bash "$t" "$BUILD_DIR" \
                        </dev/null >>"$log" 2>&1 &
                group=$!
                wait "$group" || rc=$?
                if group_alive "$group"; then
                        echo "# $name left processes behind; killing them"
                        kill_group "$group"
                fi
                group=
        fi
        [ "$rc" -ne 124 ] || echo "run.sh: timed out after ${per_test} s" >>"$log"
}

# A failed test runs again (SECCBRIDGE_TEST_RETRIES times, default 1): the
# scenarios follow a real-time protocol (a 100 ms heartbeat, 200 ms
# timeout), and an emulated machine that stalls for longer than that makes
# the controller stand-in itself go silent.  The failed attempt's log is
# printed all the same, and the retry is said on its own line.
# An attempt that ended inconclusive (status 75: it failed after the
# machine held the controller stand-in up past the protocol's timing, see
# fail() in lib.sh) runs again up to SECCBRIDGE_TEST_STALL_RETRIES times
# (default 3) on top of that; a test still inconclusive at the end fails.
retries=${SECCBRIDGE_TEST_RETRIES:-1}
stall_retries=${SECCBRIDGE_TEST_STALL_RETRIES:-3}
inconclusive=0
for t in "${tests[@]}"; do
        name=$(test_name "$t")
        log=$logdir/$name.log
        : >"$log"
        attempt=0
        stalled=0
        run_one "$t" "$log"
        while [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; do
                if [ "$rc" -eq 75 ] && [ "$stalled" -lt "$stall_retries" ]; then
                        stalled=$((stalled + 1))
                        inconclusive=$((inconclusive + 1))
                        echo "# $name inconclusive ($(sed -n 's/^INCONCLUSIVE: //p' "$log" | tail -n 1)); its log, then attempt $((attempt + stalled + 1)):"
                elif [ "$rc" -ne 75 ] && [ "$attempt" -lt "$retries" ]; then
                        attempt=$((attempt + 1))
                        echo "# $name failed (status $rc); its log, then attempt $((attempt + stalled + 1)):"
                else
                        break
                fi
                sed "s/^/    /" "$log"
                : >"$log"
                run_one "$t" "$log"
        done
        case "$rc" in
        0) echo "PASS $name"; passed=$((passed + 1)) ;;
        77) echo "SKIP $name"; skipped=$((skipped + 1)) ;;
        75)
                inconclusive=$((inconclusive + 1))
                echo "FAIL $name (inconclusive $((stalled + 1)) times: the machine kept stalling the controller stand-in)"
                failed=$((failed + 1))
                ;;
        *)
                echo "FAIL $name"
                failed=$((failed + 1))
                ;;
        esac
        if [ "${SECCBRIDGE_TEST_VERBOSE:-0}" = 1 ] || { [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; }; then
                sed "s/^/    /" "$log"
        elif [ "$rc" -eq 77 ]; then
                grep '^SKIP:' "$log" | sed "s/^/    /" || true
        fi
done

[ "$inconclusive" -eq 0 ] || echo "# $inconclusive attempt(s) inconclusive: the machine stalled the controller stand-in"
summary "$passed" "$failed" "$skipped"
[ "$failed" -eq 0 ]
