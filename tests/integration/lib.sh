# shellcheck shell=bash
# Helpers for seccbridge's integration tests, which run on a real vcan.
#
# A test script starts with
#
#       . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#       test_begin "$@"
#
# and then uses the helpers below.  Exit status 0 is a pass, 77 a skip,
# anything else a failure.  Sourcing this file only defines functions and
# variables; test_begin sets up the per-test state (temporary directory,
# BUILD_DIR, cleanup at exit).
#
# Environment:
#   BUILD_DIR               the meson build directory (also the first argument
#                           of a test script; default "build")
#   SECCBRIDGE_VCAN_IF      the vcan interface the tests use (vcan0)
#   SECCBRIDGE_VCAN_MODE    auto (default), native or vm: how with_vcan runs
#   SECCBRIDGE_WAIT_TIMEOUT default seconds for the wait_* helpers (10)
#   SECCBRIDGE_IN_VM        set to 1 inside tests/vm/run-in-vm.sh's guest

# Sourced once per test: a helper library sourced after test_begin (such as
# test-dbus-lib.sh) would otherwise empty TEST_TMP and forget the test's
# background processes and exit actions.
if [ -n "${_SECCBRIDGE_TEST_LIB:-}" ]; then
        return 0
fi
_SECCBRIDGE_TEST_LIB=1

SECCBRIDGE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VCAN_IF=${SECCBRIDGE_VCAN_IF:-vcan0}
# ip and friends live in sbin, which an ordinary user's PATH may lack.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin:/sbin ;; esac

# ------------------------------------------------------------------ messages

note() { printf '# %s\n' "$*" >&2; }

# The controller stand-ins (seccsim session, cyclic-sender.py) run ahead of
# the rest of a test: a real controller is a device of its own, never held
# up by the charger's machine, and on a busy (emulated) machine a late
# heartbeat of the stand-in is the machine's fault, not the daemon's.  As
# root only (a raised priority needs it): "${CONTROLLER_NICE[@]}" COMMAND...
CONTROLLER_NICE=()
[ "$(id -u)" -ne 0 ] || CONTROLLER_NICE=(nice -n -10)

# inconclusive WHY: end the test with status 75, which run.sh treats as
# inconclusive and runs again.
inconclusive() {
        printf 'INCONCLUSIVE: %s\n' "$*" >&2
        exit 75
}

# A failure soon after the machine held the controller stand-in up past
# the protocol's timing (cyclic-sender.py records it in $TEST_TMP/stalls)
# says nothing about the daemon: it is inconclusive.  Soon: within the
# longest wait of a check (SECCBRIDGE_WAIT_TIMEOUT, 10 s) and 5 s more, as a
# lost controller shows up in a check only when that check gives up
# waiting.  So is a failure in a test where `seccsim session` gave up as
# inconclusive itself (a stall of its own just before one of its checks
# failed; its summary says "reason: inconclusive"): what the test checks
# afterwards did not happen because seccsim stopped.
fail() {
        local last when out
        printf 'FAIL: %s\n' "$*" >&2
        if [ -n "${TEST_TMP:-}" ] && [ -d "$TEST_TMP" ]; then
                out=$(grep -rlE -D skip -m 1 '^  reason: inconclusive' "$TEST_TMP" 2>/dev/null | head -n 1 || true)
                if [ -n "$out" ]; then
                        inconclusive "seccsim ($(basename "$out")): $(sed -n 's/^  reason: //p' "$out" | head -n 1 | cut -c1-160)"
                fi
        fi
        if [ -n "${TEST_TMP:-}" ] && [ -s "$TEST_TMP/stalls" ]; then
                last=$(tail -n 1 "$TEST_TMP/stalls")
                when=${last%% *}
                if (( ${EPOCHREALTIME%.*} - ${when%.*} <= ${SECCBRIDGE_WAIT_TIMEOUT:-10} + 5 )); then
                        inconclusive "${last#* }"
                fi
                printf '(the controller stand-in was last held up %s s before this failure: not counted)\n' \
                        "$(( ${EPOCHREALTIME%.*} - ${when%.*} ))" >&2
        fi
        exit 1
}

skip() {
        printf 'SKIP: %s\n' "$*" >&2
        exit 77
}

need_cmd() {
        local c
        for c in "$@"; do
                command -v "$c" >/dev/null 2>&1 \
                        || fail "$c not found (see scripts/install-deps.sh)"
        done
}

# Skip unless this process may configure network interfaces.
need_net_admin() {
        [ "$(id -u)" -eq 0 ] || skip "${1:-this test} needs root (CAP_NET_ADMIN)"
}

# ------------------------------------------------------------------ asserts

assert_eq() {
        [ "$1" = "$2" ] || fail "${3:-value}: expected '$1', got '$2'"
}

assert_match() {
        [[ $2 =~ $1 ]] || fail "${3:-value}: '$2' does not match /$1/"
}

assert_ok() {
        local rc=0
        "$@" || rc=$?
        [ "$rc" -eq 0 ] || fail "command failed (status $rc): $*"
}

assert_fails() {
        if "$@"; then
                fail "command succeeded but should have failed: $*"
        fi
}

# Print a file for a failure message, indented, at most the last 40 lines.
show_file() {
        if [ -s "$1" ]; then
                printf '# --- %s (last lines)\n' "$1" >&2
                tail -n 40 "$1" | sed 's/^/#   /' >&2
        else
                printf '# --- %s is empty or missing\n' "$1" >&2
        fi
}

assert_file_has() {
        grep -Eq -- "$2" "$1" 2>/dev/null || {
                show_file "$1"
                fail "${3:-$1}: no line matches /$2/"
        }
}

assert_file_lacks() {
        if grep -Eq -- "$2" "$1" 2>/dev/null; then
                show_file "$1"
                fail "${3:-$1}: a line matches /$2/"
        fi
}

# wait_until SECONDS COMMAND...: poll COMMAND until it succeeds.
wait_until() {
        local limit=$1 deadline
        shift
        deadline=$(( ${EPOCHREALTIME/./} + limit * 1000000 ))
        until "$@"; do
                [ "${EPOCHREALTIME/./}" -lt "$deadline" ] || return 1
                nap 0.05
        done
}

# nap SECONDS: sleep(1) without starting a program (see wait_for_line): a read
# with a timeout from a FIFO that nobody writes, made by test_begin and
# opened for the read alone (no descriptor for children to inherit).
_NAP_FIFO=
nap() {
        if [ -n "$_NAP_FIFO" ]; then
                read -r -t "$1" _ <>"$_NAP_FIFO" || true
        else
                sleep "$1"
        fi
}

# wait_for_line FILE REGEX [SECONDS]: until a line of FILE matches REGEX
# (extended, as grep -E).  Shell builtins only, no grep: on an emulated
# machine, starting a program twenty times a second makes the whole machine
# stall now and then for longer than the protocol's 200 ms.  Each round
# reads only the lines added since the last one (the files it waits on only
# grow), and a last line without its newline yet is read again when complete.
wait_for_line() {
        local file=$1 re=$2 limit=${3:-${SECCBRIDGE_WAIT_TIMEOUT:-10}} deadline seen=0 line
        local -a lines
        deadline=$(( ${EPOCHREALTIME/./} + limit * 1000000 ))
        while :; do
                if [ -r "$file" ]; then
                        mapfile -s "$seen" lines <"$file"
                        for line in "${lines[@]}"; do
                                [[ ${line%$'\n'} =~ $re ]] && return 0
                        done
                        seen=$(( seen + ${#lines[@]} ))
                        [ "${#lines[@]}" -eq 0 ] || [[ ${lines[-1]} == *$'\n' ]] || seen=$(( seen - 1 ))
                fi
                [ "${EPOCHREALTIME/./}" -lt "$deadline" ] || break
                nap 0.05
        done
        show_file "$file"
        fail "no line matching /$re/ in $file within ${limit} s"
}

# count_lines FILE REGEX: how many lines of FILE match.
count_lines() {
        grep -Ec -- "$2" "$1" 2>/dev/null || true
}

# ------------------------------------------------------------------ per test

TEST_TMP=
_at_exit=()
declare -A BG_PID=()
declare -A BG_LOG=()

# at_exit COMMAND...: run at the end of the test (last registered, first run).
at_exit() {
        local cmd
        printf -v cmd '%q ' "$@"
        _at_exit=("$cmd" "${_at_exit[@]}")
}

_test_cleanup() {
        local rc=$? c name
        set +e
        for c in "${_at_exit[@]}"; do
                eval "$c"
        done
        for name in "${!BG_PID[@]}"; do
                bg_stop "$name" >/dev/null 2>&1
        done
        [ -z "$TEST_TMP" ] || rm -rf "$TEST_TMP"
        exit "$rc"
}

# test_begin "$@": BUILD_DIR from the first argument, the environment or
# "build" (made absolute); a private temporary directory in TEST_TMP; all
# background processes and at_exit commands are cleaned up at exit.
test_begin() {
        set -euo pipefail
        BUILD_DIR=${1:-${BUILD_DIR:-build}}
        case "$BUILD_DIR" in
        /*) ;;
        *) BUILD_DIR=$PWD/$BUILD_DIR ;;
        esac
        export BUILD_DIR
        TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/seccbridge-test.XXXXXX")
        if mkfifo "$TEST_TMP/.nap"; then _NAP_FIFO=$TEST_TMP/.nap; fi
        trap _test_cleanup EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
}

# need_build FILE...: fail unless these exist in BUILD_DIR.
need_build() {
        local f
        for f in "$@"; do
                [ -e "$BUILD_DIR/$f" ] || fail "$BUILD_DIR/$f not found: build first (meson setup $BUILD_DIR && ninja -C $BUILD_DIR)"
        done
}

# ------------------------------------------------------------------ processes

# bg_start NAME COMMAND...: start COMMAND in the background, its output in
# $(bg_log NAME); stopped at exit at the latest.
bg_start() {
        local name=$1
        shift
        [ -z "${BG_PID[$name]:-}" ] || fail "background process $name already running"
        BG_LOG[$name]=$TEST_TMP/$name.log
        "$@" </dev/null >"${BG_LOG[$name]}" 2>&1 &
        BG_PID[$name]=$!
}

bg_pid() { printf '%s\n' "${BG_PID[$1]:?no background process $1}"; }
bg_log() { printf '%s\n' "${BG_LOG[$1]:-${TEST_TMP:?bg_log before test_begin}/$1.log}"; }

bg_running() {
        local pid=${BG_PID[$1]:-}
        [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# bg_stop NAME [SIGNAL]: signal it (TERM), wait up to SECCBRIDGE_STOP_WAIT
# seconds (5), then KILL.  Returns the process's exit status.
bg_stop() {
        local name=$1 sig=${2:-TERM} pid rc=0
        pid=${BG_PID[$name]:-}
        [ -n "$pid" ] || return 0
        unset "BG_PID[$name]"
        kill -s "$sig" "$pid" 2>/dev/null || true
        wait_until "${SECCBRIDGE_STOP_WAIT:-5}" _gone "$pid" || kill -s KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || rc=$?
        return "$rc"
}

# bg_wait NAME [SECONDS]: wait for it to exit by itself; its exit status.
bg_wait() {
        local name=$1 limit=${2:-${SECCBRIDGE_WAIT_TIMEOUT:-10}} pid rc=0
        pid=$(bg_pid "$name")
        wait_until "$limit" _gone "$pid" || fail "$name did not exit within ${limit} s"
        unset "BG_PID[$name]"
        wait "$pid" 2>/dev/null || rc=$?
        return "$rc"
}

_gone() { ! kill -0 "$1" 2>/dev/null; }

# Is PID asleep waiting for input (select, poll, epoll, recv)?
_waiting_for_input() {
        local nr wchan=
        read -r nr _ <"/proc/$1/syscall" 2>/dev/null || nr=
        if [ "$(uname -m)" = x86_64 ]; then
                # poll, select, recvfrom, recvmsg, epoll_wait, pselect6,
                # ppoll, epoll_pwait, recvmmsg, epoll_pwait2 (not read: the
                # dynamic loader blocks in it reading over a network file
                # system)
                case "$nr" in
                7|23|45|47|232|270|271|281|299|441) return 0 ;;
                *) ;;
                esac
        fi
        read -r wchan <"/proc/$1/wchan" 2>/dev/null || true
        case "$wchan" in
        *select*|*poll*|*recv*) return 0 ;;
        *) return 1 ;;
        esac
}

# wait_ready NAME [SECONDS]: until the process blocks waiting for input,
# i.e. has set itself up (bound its sockets); fails if it exits first.
wait_ready() {
        local name=$1 limit=${2:-${SECCBRIDGE_WAIT_TIMEOUT:-10}} pid
        pid=$(bg_pid "$name")
        wait_until "$limit" _ready_or_gone "$pid" || fail "$name not ready within ${limit} s"
        if ! kill -0 "$pid" 2>/dev/null; then
                show_file "$(bg_log "$name")"
                fail "$name exited while starting"
        fi
}

_ready_or_gone() { _gone "$1" || _waiting_for_input "$1"; }

# ------------------------------------------------------------------ CAN

# candump_start NAME [INTERFACE [CANDUMP ARGS...]]: capture frames in
# candump's log format, "(seconds.micros) IF ID#DATA" per line, into
# $(bg_log NAME); returns once candump listens.
candump_start() {
        local name=$1 ifc=${2:-$VCAN_IF}
        shift $(( $# >= 2 ? 2 : 1 ))
        need_cmd candump
        bg_start "$name" candump -L "$@" "$ifc"
        wait_ready "$name"
}

candump_stop() {
        bg_stop "$1" TERM || true
}

# frames FILE: the captured frames without timestamps, "IF ID#DATA".
frames() {
        sed -E 's/^\([0-9]+\.[0-9]+\) //' "$1"
}

vcan_exists() { ip link show dev "${1:-$VCAN_IF}" >/dev/null 2>&1; }

vcan_is_up() {
        ip -o link show dev "${1:-$VCAN_IF}" 2>/dev/null | grep -Eq '<([^>]*,)?UP[,>]'
}

_is_vcan() {
        ip -d -o link show dev "$1" 2>/dev/null | grep -Eq '[[:space:]]vcan[[:space:]]'
}

vcan_up() { ip link set dev "${1:-$VCAN_IF}" up; }
vcan_down() { ip link set dev "${1:-$VCAN_IF}" down; }

# vcan_ensure [IF]: make sure IF exists and is up, creating it if needed.
# Prints "created" when it did create it (the caller may remove it later).
vcan_ensure() {
        local ifc=${1:-$VCAN_IF}
        if ! vcan_exists "$ifc"; then
                ip link add dev "$ifc" type vcan || return 1
                echo created
        fi
        vcan_is_up "$ifc" || ip link set dev "$ifc" up
}

# vcan_reset [IF]: a fresh interface where it is ours (inside the test VM,
# or when VCAN_OWNED=1: the caller created it), otherwise, so as not to
# disturb others using it, just make sure that it exists and is up.
VCAN_OWNED=${VCAN_OWNED:-0}
vcan_reset() {
        local ifc=${1:-$VCAN_IF}
        if { [ "${SECCBRIDGE_IN_VM:-0}" = 1 ] || [ "$VCAN_OWNED" = 1 ]; } && _is_vcan "$ifc"; then
                ip link delete dev "$ifc" && ip link add dev "$ifc" type vcan \
                        && ip link set dev "$ifc" up
        else
                vcan_ensure "$ifc" >/dev/null
        fi
}

# have_vcan [IF]: does the running kernel give us a usable vcan?  True when
# IF is a vcan that is up, or when a vcan interface can be created here.
have_vcan() {
        local ifc=${1:-$VCAN_IF} probe="vcanp$$"
        command -v ip >/dev/null 2>&1 || return 1
        if _is_vcan "$ifc" && vcan_is_up "$ifc"; then
                return 0
        fi
        ip link add dev "$probe" type vcan 2>/dev/null || return 1
        ip link delete dev "$probe" 2>/dev/null || true
        return 0
}

# with_vcan COMMAND...: run COMMAND where a vcan interface $VCAN_IF is up:
# natively when the kernel has vcan, otherwise inside a throwaway VM
# (tests/vm/run-in-vm.sh).  Returns COMMAND's exit status.
with_vcan() {
        local mode=${SECCBRIDGE_VCAN_MODE:-auto}
        if [ "$mode" = auto ]; then
                if have_vcan "$VCAN_IF"; then mode=native; else mode=vm; fi
        fi
        case "$mode" in
        native) _with_vcan_native "$@" ;;
        vm) "$SECCBRIDGE_ROOT/tests/vm/run-in-vm.sh" -- "$@" ;;
        *) echo "with_vcan: SECCBRIDGE_VCAN_MODE must be auto, native or vm" >&2; return 2 ;;
        esac
}

_with_vcan_native() {
        local created rc=0
        created=$(vcan_ensure "$VCAN_IF") || {
                echo "with_vcan: cannot create or raise $VCAN_IF (needs root)" >&2
                return 1
        }
        "$@" || rc=$?
        if [ "$created" = created ]; then
                ip link delete dev "$VCAN_IF" 2>/dev/null || true
        fi
        return "$rc"
}
