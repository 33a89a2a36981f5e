#!/usr/bin/env bash
# The simulated converter trips mid-charge ("fault on" through its FIFO):
# within one status period System_Enable goes to Not_Allowed (R22: an
# emergency shutdown request for the controller) and the converter is
# commanded off.  seccsim expects that shutdown (--expect-shutdown),
# answers with Emergency_Stop and Rushed_Stop.
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
test_begin "$@"
session_config

# Trip 3 s into Charging; the wall-clock time goes to a file, for the
# capture's timestamps are wall-clock too.
trip() {
        local before after
        wait_for_line "$1" "state Charging \\(7\\)" 60
        sleep 3
        # Shell builtins only: starting a process can take longer in a test
        # VM than the reaction being timed.  The daemon holds its FIFO open,
        # so this neither blocks nor fails.
        before=$EPOCHREALTIME
        printf 'fault on\n' >"$S_FIFO"
        after=$EPOCHREALTIME
        # The fault is in once the write returns (the daemon may read it a
        # moment earlier, not later): the reaction is timed from there.
        echo "$after" >"$TEST_TMP/trip.time"
        echo "$before" >"$TEST_TMP/trip.before"
}
session_run convfault --hook trip -- --charge-time 10 --expect-shutdown=Charging
expect_verdict 0
expect_daemon_clean
[ -s "$TEST_TMP/trip.time" ] || fail "the fault was never injected"
t_trip=$(cat "$TEST_TMP/trip.time")
assert_file_has "$S_OUT" "System_Enable = Not_Allowed during Charging, as expected" "seccsim saw the shutdown"

# The first status after the trip that says Not_Allowed: within one period
# (100 ms) plus a model step (20 ms) plus 80 ms of scheduling margin.
t_ne=$(awk -v t0="$t_trip" '$1 > t0 && /Power_Modules_Status pistol=1 .*System_Enable=Not_Allowed/ { print $1; exit }' "$S_DEC")
[ -n "$t_ne" ] || fail "System_Enable never went to Not_Allowed after the fault"
lat=$(ms_between "$t_trip" "$t_ne")
note "System_Enable = Not_Allowed $lat ms after the fault (writing it took $(ms_between "$(cat "$TEST_TMP/trip.before")" "$t_trip") ms)"
[ "$lat" -le 200 ] || fail "System_Enable = Not_Allowed only $lat ms after the fault (limit 200)"
bad=$(awk -v a="$t_trip" -v b="$t_ne" '$1 > a && $1 < b && /Power_Modules_Status pistol=1 /' "$S_DEC" | wc -l)
[ "$bad" -le 1 ] || fail "$bad statuses still allowed power after the fault"

# Commanded off: in the daemon's log, and on the bus (current about 0).
assert_file_has "$S_DLOG" "control: fault on" "the simulator took the knob"
assert_file_has "$S_DLOG" "fault converter" "the daemon saw the converter fault"
awk '/control: fault on/ { f = 1 } f && /converter: off / { ok = 1 } END { exit !ok }' "$S_DLOG" \
        || { show_file "$S_DLOG"; fail "no converter off command after the fault"; }
t_off=$(awk -v t0="$t_ne" '$1 >= t0 && $2 == "Power_Modules_Status" && $3 == "pistol=1" {
                split($5, kv, "="); i = kv[2] + 0; if (i < 0) i = -i
                if (i <= 1.0) { print $1; exit } }' "$S_DEC")
[ -n "$t_off" ] || fail "the current never fell to 0 after the fault"
[ "$(ms_between "$t_ne" "$t_off")" -le 200 ] || fail "current still flowing $(ms_between "$t_ne" "$t_off") ms after Not_Allowed"

# The controller's answer, and the power side stays off until the end.
t_es=$(first_after "$t_ne" "Emergency_Stop pistol=1 Origin=EVSE")
[ -n "$t_es" ] || fail "no Emergency_Stop after the shutdown"
assert_file_has "$S_DEC" "Charge_Session_Finished pistol=1 State=Rushed_Stop" "Rushed_Stop"
bad=$(awk -v a="$t_ne" '$1 > a && /Power_Modules_Status pistol=1 .*System_Enable=Allowed/' "$S_DEC" | head -n 1)
[ -z "$bad" ] || fail "power allowed again after the fault: $bad"
