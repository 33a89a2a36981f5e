#!/usr/bin/env bash
# The converter on Modbus TCP reports a fault mid-charge (over-temperature,
# bit 2 of its fault word): the controller sees System_Enable = Not_Allowed
# in Power_Modules_Status within one status period of the daemon reading
# the fault, the output is disabled on the converter, and stays disabled for
# the rest of the session although the fault clears again.
# shellcheck source-path=SCRIPTDIR source=modbus-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/modbus-lib.sh"
test_begin "$@"
mb_setup tcp

POLL_MS=100      # [modbus] poll_interval_ms (mb_config)
PERIOD_MS=100    # Power_Modules_Status period
MARGIN_MS=100    # scheduling margin of an emulated machine

# 3 s into Charging (at 40 A) the fault bit goes on, 1.5 s later off again.
trip() {
        wait_for_line "$1" "state Charging \\(7\\)" 60
        sleep 3
        local before after
        before=$EPOCHREALTIME
        mb_ctl fault 4
        after=$EPOCHREALTIME
        echo "$before $after" >"$TEST_TMP/trip.time"
        sleep 1.5
        mb_ctl fault 0
        echo "$EPOCHREALTIME" >"$TEST_TMP/clear.time"
}
mb_session_run fault --hook trip -- --protocol ccs --charge-time 10 --profile "$MB_PROFILE_A" \
        --charger-power $(( MB_MAX_P / 1000 )) --expect-shutdown=Charging
expect_verdict 0
expect_daemon_clean
[ -s "$TEST_TMP/trip.time" ] || fail "the fault was never injected"
[ -s "$TEST_TMP/clear.time" ] || fail "the fault was never cleared"
read -r t_before t_after <"$TEST_TMP/trip.time"
t_clear=$(cat "$TEST_TMP/clear.time")
assert_file_has "$S_OUT" "System_Enable = Not_Allowed during Charging, as expected" "seccsim saw the shutdown"

# Detection: the first measurement read after the fault was set.
det=$(awk -v t="$t_after" '$1 > t && $2 == "modbus" && $3 == "fc=4" && $4 == "addr=0" { print $1; exit }' "$MB_SLOG")
[ -n "$det" ] || fail "no measurement read after the fault"
t_ne=$(first_after "$t_before" "Power_Modules_Status pistol=1 .*System_Enable=Not_Allowed")
[ -n "$t_ne" ] || fail "System_Enable never went to Not_Allowed after the fault"
lat=$(ms_between "$t_before" "$t_ne")
lat_det=$(ms_between "$det" "$t_ne")
note "fault set at +0 ms (control round trip $(ms_between "$t_before" "$t_after") ms), read at +$(ms_between "$t_before" "$det") ms, System_Enable = Not_Allowed at +$lat ms ($lat_det ms after the read)"
[ "$lat" -le $(( POLL_MS + PERIOD_MS + MARGIN_MS )) ] \
        || fail "System_Enable = Not_Allowed $lat ms after the fault (limit poll $POLL_MS + period $PERIOD_MS + margin $MARGIN_MS ms)"
[ "$lat_det" -le $(( PERIOD_MS + MARGIN_MS )) ] \
        || fail "System_Enable = Not_Allowed $lat_det ms after the daemon read the fault (limit period $PERIOD_MS + margin $MARGIN_MS ms)"
n=$(awk -v a="$t_before" -v b="$t_ne" '$1 > a && $1 < b && /Power_Modules_Status pistol=1 .*System_Enable=Allowed/' "$S_DEC" | wc -l)
[ "$n" -le 2 ] || fail "$n statuses still allowed power after the fault"

# The converter: output disabled right after the read, never enabled again.
dis=$(mb_enable_writes | awk -v t="$t_before" '$1 > t && $2 == 0 { print $1; exit }')
[ -n "$dis" ] || fail "no output disable reached the server after the fault"
note "output disable reached the server $(ms_between "$det" "$dis") ms after the read that found the fault"
[ "$(ms_between "$det" "$dis")" -le $(( PERIOD_MS + MARGIN_MS )) ] \
        || fail "output disabled only $(ms_between "$det" "$dis") ms after the fault was read"
on=$(mb_enable_writes | awk -v t="$dis" '$1 > t && $2 == 1' | head -n 1)
[ -z "$on" ] || fail "output enabled again after the fault (cleared at $t_clear): $on"
bad=$(awk -v a="$t_ne" '$1 > a && /Power_Modules_Status pistol=1 .*System_Enable=Allowed/' "$S_DEC" | head -n 1)
[ -z "$bad" ] || fail "power allowed again after the fault: $bad"
assert_file_has "$S_DEC" "Emergency_Stop pistol=1 Origin=EVSE" "the controller's Emergency_Stop"
assert_file_has "$S_DEC" "Charge_Session_Finished pistol=1 State=Rushed_Stop" "Rushed_Stop"

# The daemon says why.
assert_file_has "$S_DLOG" "over-temperature" "the fault bit named in the daemon's log"
assert_file_has "$S_DLOG" "session: fault converter" "the core latched the converter fault"

mb_finish
