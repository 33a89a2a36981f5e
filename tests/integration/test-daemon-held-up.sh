#!/usr/bin/env bash
# The daemon held up (SIGSTOP) for 250 ms at a time, eight times during a
# charge, while the controller's heartbeat goes on: every heartbeat counts
# from when it reached the socket (the kernel's reception time), not from
# when the daemon got round to reading it, so the charge goes on -- R1 judges
# the controller's silence, not the daemon's own delays.  (250 ms is past
# the 200 ms controller timeout whatever the heartbeat's phase: read late,
# the heartbeats would trip R1 every time.)  seccsim's status gap bound is
# widened to 600 ms: the daemon sends nothing while it is held.
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
test_begin "$@"
# shellcheck disable=SC2119 # the defaults
session_config

hold_up() {
        local pid _
        wait_for_line "$1" "state Charging \\(7\\)" 60
        pid=$(bg_pid daemon)
        for _ in 1 2 3 4 5 6 7 8; do
                nap 0.4
                kill -STOP "$pid"
                nap 0.25
                kill -CONT "$pid"
        done
        : >"$TEST_TMP/held-up"
}
session_run held-up --hook hold_up -- --charge-time 8 --gap 600
expect_verdict 0
expect_daemon_clean
[ -e "$TEST_TMP/held-up" ] || fail "the daemon was not held up eight times during the charge"
# The stretches seen on the bus: Power_Modules_Status gaps over 200 ms.
gaps=$(awk '$2 == "Power_Modules_Status" && $3 == "pistol=1" {
                if (l != "" && $1 - l > 0.2) n++; l = $1 } END { print n + 0 }' "$S_DEC")
note "status gaps over 200 ms: $gaps"
[ "$gaps" -ge 6 ] || fail "only $gaps status gaps over 200 ms: the daemon was not held up as meant"
# A trip would have ended the charge (seccsim's FAIL above); the count
# holds at most the one after seccsim left, before the daemon's stop.
n=$(daemon_counter "controller timeouts")
note "controller timeouts counted: $n"
[ "$n" -le 1 ] || fail "the daemon took its own delay for the controller's silence ($n controller timeouts)"
