#!/usr/bin/env bash
# Real-time setup as the service unit gives it: the daemon as an unprivileged
# user with no capability, under SCHED_FIFO (CPUSchedulingPolicy=fifo) and
# with the unit's LimitMEMLOCK=, on a Modbus TCP converter (a worker thread,
# the largest mapping):
#  1. the unit's limit is enough: the memory is locked, the whole of it
#     (VmLck), the policy holds, and a CCS session passes;
#  2. a limit too small (1 MiB): a warning that says how to fix it, and the
#     session still passes, unlocked (late frames are better than none);
#  3. no real-time policy (a lab run from a shell): said so, nothing locked.
# shellcheck source-path=SCRIPTDIR source=modbus-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/modbus-lib.sh"
test_begin "$@"
need_cmd setpriv chrt prlimit
[ "$(id -u)" = 0 ] || skip "needs root to set a real-time policy and drop to another user"
unit=$BUILD_DIR/systemd/seccbridge.service
need_build systemd/seccbridge.service
prio=$(sed -n 's/^CPUSchedulingPriority=//p' "$unit")
limit=$(sed -n 's/^LimitMEMLOCK=//p' "$unit")
[ -n "$prio" ] && [ -n "$limit" ] || fail "$unit sets no CPUSchedulingPriority= or LimitMEMLOCK="
note "the unit: SCHED_FIFO priority $prio, LimitMEMLOCK=$limit"
limit_bytes=$(numfmt --from=iec "$limit")

mb_setup tcp
# The configuration readable by the unprivileged daemon, as
# /etc/seccbridge/seccbridge.conf is.
chmod 0711 "$TEST_TMP"
chmod 0644 "$S_CONF"
unprivileged=(setpriv --reuid=nobody --regid=nogroup --clear-groups
        --inh-caps=-all --ambient-caps=-all --bounding-set=-all --no-new-privs --)

# What the daemon is running with, read while it runs.
inspect() {
        local pid
        pid=$(bg_pid daemon)
        { grep -E '^(Name|Uid|VmSize|VmLck|CapEff):' "/proc/$pid/status"; chrt -p "$pid"; } >"$TEST_TMP/inspect.$1"
}
inspect_locked() { inspect locked; }
inspect_small() { inspect small; }
inspect_other() { inspect other; }
kib() { sed -nE "s/^$2:[[:space:]]+([0-9]+) kB\$/\\1/p" "$TEST_TMP/inspect.$1"; }

session=(--protocol ccs --charge-time 2 --profile "$MB_PROFILE_A" --charger-power $(( MB_MAX_P / 1000 )))

# 1. The unit's settings.
S_DAEMON_PREFIX=(prlimit "--memlock=$limit_bytes:$limit_bytes" chrt -f "$prio" "${unprivileged[@]}")
mb_session_run locked --hook inspect_locked -- "${session[@]}"
expect_verdict 0
expect_daemon_clean
show_file "$TEST_TMP/inspect.locked"
assert_file_has "$TEST_TMP/inspect.locked" "^Name:[[:space:]]+seccbridge$" "the daemon itself was inspected"
assert_file_has "$TEST_TMP/inspect.locked" "^Uid:[[:space:]]+$(id -u nobody)[[:space:]]" "runs unprivileged"
assert_file_has "$TEST_TMP/inspect.locked" "^CapEff:[[:space:]]+0000000000000000\$" "no capability (so no CAP_IPC_LOCK)"
assert_file_has "$TEST_TMP/inspect.locked" "scheduling policy: SCHED_FIFO" "SCHED_FIFO"
assert_file_has "$TEST_TMP/inspect.locked" "scheduling priority: $prio\$" "priority $prio"
assert_file_has "$S_DLOG" "converter on tcp 127\\.0\\.0\\.1:$MB_PORT" "the Modbus worker ran"
if grep -q "memory not locked in a sanitizer build" "$S_DLOG"; then
        note "sanitizer build: the daemon leaves its memory unlocked (shadow memory), as designed"
else
        assert_file_has "$S_DLOG" "scheduling: SCHED_FIFO priority $prio, memory locked \\([0-9]+ MiB mapped, RLIMIT_MEMLOCK [0-9]+ MiB\\)" "locked at start"
        size=$(kib locked VmSize)
        lck=$(kib locked VmLck)
        note "mapped ${size} kB, locked ${lck} kB, limit $limit"
        # Everything mapped is locked but the few special mappings (vdso,
        # vvar) that mlockall leaves out.
        [ "$lck" -gt 0 ] && [ $(( size - lck )) -le 1024 ] \
                || fail "only $lck kB of $size kB locked"
fi

# 2. A limit too small for the daemon.
S_DAEMON_PREFIX=(prlimit "--memlock=1048576:1048576" chrt -f "$prio" "${unprivileged[@]}")
mb_session_run small --hook inspect_small -- "${session[@]}"
expect_verdict 0
expect_daemon_clean
if ! grep -q "memory not locked in a sanitizer build" "$S_DLOG"; then
        assert_file_has "$S_DLOG" "scheduling: SCHED_FIFO priority $prio, but the memory is NOT locked: mlockall: .*RLIMIT_MEMLOCK 1 MiB.*LimitMEMLOCK=" "the failure and its fix"
        [ "$(kib small VmLck)" = 0 ] || fail "locked $(kib small VmLck) kB despite the failure"
fi
assert_file_has "$TEST_TMP/inspect.small" "scheduling policy: SCHED_FIFO" "still real-time"

# 3. No real-time policy.
S_DAEMON_PREFIX=("${unprivileged[@]}")
mb_session_run other --hook inspect_other -- "${session[@]}"
expect_verdict 0
expect_daemon_clean
assert_file_has "$S_DLOG" "scheduling: SCHED_OTHER \\(not real-time\\).*CPUSchedulingPolicy=fifo.*memory not locked" "said so"
assert_file_has "$TEST_TMP/inspect.other" "^VmLck:[[:space:]]+0 kB\$" "nothing locked"

mb_finish
