#!/usr/bin/env bash
# Emergency_Stop from the controller mid-charge while the converter on
# Modbus TCP answers its measurement reads slowly (150 ms late, so that a
# request is in flight when the stop arrives): System_Enable = Not_Allowed
# at once, and the output disable is the very next request the converter
# gets, right after the slow one; the output stays off until a new
# session, which then charges normally.
# shellcheck source-path=SCRIPTDIR source=modbus-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/modbus-lib.sh"
test_begin "$@"
# No pause between requests: the bus is busy nearly all the time.
mb_setup tcp "min_gap_ms = 1"

SLOW_MS=150      # the converter's reply delay to a measurement read (FC 04)
MARGIN_MS=100    # scheduling margin of an emulated machine
RACE_MS=20       # from the stop's frame to the OFF reaching the Modbus worker

# Every measurement read is answered SLOW_MS late, from the start: nearly
# always one is on the bus.
MB_SERVER_SETUP=(delay "$SLOW_MS" -1 4)

# The converter's 0 A reading comes up to twice SLOW_MS late (the slow read
# in flight, then the next read after the disable): seccsim's reaction
# check, which wants System_Enable = Not_Allowed and 0 A, gets that margin
# (and so do its other timings); System_Enable alone is timed below
# without it.  When the stop happens to come between two requests, again.
for attempt in 1 2 3; do
        mb_session_run "estop$attempt" -- --protocol ccs --charge-time 5 --profile "$MB_PROFILE_A" \
                --charger-power $(( MB_MAX_P / 1000 )) --fault estop@Charging --fault-delay 2500 \
                --estop-time 1s --margin $(( 2 * SLOW_MS + 2 * MARGIN_MS ))
        expect_verdict 0
        expect_daemon_clean
        t_es=$(first_after 0 "Emergency_Stop pistol=1 Origin=EVSE")
        [ -n "$t_es" ] || fail "no Emergency_Stop on the bus"
        # The output disable after the stop, and the request just before
        # it on the bus: the one in flight when the daemon acted.
        dis=$(awk -v t="$t_es" '$1 > t && $2 == "modbus" && $3 == "fc=5" && $4 == "addr=0" && $6 == "values=0" { print; exit }' "$MB_SLOG")
        [ -n "$dis" ] || fail "no output disable reached the server after Emergency_Stop"
        slow_req=$(awk -v t="${dis%% *}" '$1 < t && $2 == "modbus" { l = $0 } END { print l }' "$MB_SLOG")
        # Slow, and its answer still held back by the server at the stop.
        if [[ $slow_req == *" action=delayed$SLOW_MS "* ]] &&
                awk -v a="${slow_req%% *}" -v t="$t_es" -v d="$SLOW_MS" -v e="$MB_CLOCK_ERR_MS" \
                        'BEGIN { exit !(t < a + (d - e) / 1000) }'; then
                break
        fi
        [ "$attempt" -lt 3 ] || fail "in 3 attempts the Emergency_Stop never came while a slow request was in flight (last: '$slow_req')"
        note "attempt $attempt: the Emergency_Stop came between two requests ('$slow_req'); again"
done
assert_file_has "$S_OUT" "converter off [0-9]+ ms after Emergency_Stop" "seccsim's reaction check"
note "Emergency_Stop at $(ms_between "${slow_req%% *}" "$t_es") ms of a request answered after $SLOW_MS ms: $slow_req"
note "output disable at the server $(ms_between "$t_es" "${dis%% *}") ms after Emergency_Stop, $(ms_between "${slow_req%% *}" "${dis%% *}") ms after the slow request began"

# The converter: nothing but the slow request between the stop and the
# disable.  That request may have begun a little after the stop's frame
# (the daemon reads the frame, the core commands OFF, the worker sees it),
# not later than RACE_MS.
[ "$(ms_between "$t_es" "${slow_req%% *}")" -le "$RACE_MS" ] \
        || fail "a request began $(ms_between "$t_es" "${slow_req%% *}") ms after Emergency_Stop instead of the disable: $slow_req"
wait_ms=$(ms_between "${slow_req%% *}" "${dis%% *}")
[ "$wait_ms" -le $(( SLOW_MS + MARGIN_MS )) ] \
        || fail "the output disable came $wait_ms ms after the slow request began (limit: its reply $SLOW_MS + margin $MARGIN_MS ms)"
lat=$(ms_between "$t_es" "${dis%% *}")
[ "$lat" -le $(( SLOW_MS + RACE_MS + MARGIN_MS )) ] \
        || fail "the output disable reached the server $lat ms after Emergency_Stop (limit: the slow reply $SLOW_MS + $RACE_MS + margin $MARGIN_MS ms)"

# The core: Not_Allowed in the first status it can have sent after the
# stop (a status stamped within a few ms of it was already on its way).
nx=$(awk -v t0="$t_es" '$1 > t0 + 0.005 && $2 == "Power_Modules_Status" && $3 == "pistol=1" { print; exit }' "$S_DEC")
[[ $nx == *System_Enable=Not_Allowed* ]] \
        || fail "a status $(ms_between "$t_es" "${nx%% *}") ms after Emergency_Stop still allows power: $nx"
note "System_Enable = Not_Allowed in a status $(ms_between "$t_es" "${nx%% *}") ms after Emergency_Stop"

# Off until the new session, which charges again and ends cleanly.
t_ncs2=$(first_after "$t_es" "New_Charge_Session pistol=1 ")
[ -n "$t_ncs2" ] || fail "no second session"
on=$(mb_enable_writes | awk -v a="$t_es" -v b="$t_ncs2" '$1 > a && $1 < b && $2 == 1' | head -n 1)
[ -z "$on" ] || fail "output enabled again before a new session: $on"
on=$(mb_enable_writes | awk -v a="$t_ncs2" '$1 > a && $2 == 1' | head -n 1)
[ -n "$on" ] || fail "the output never went on again in the second session"
t_csf2=$(first_after "$t_ncs2" "Charge_Session_Finished pistol=1 ")
assert_match "State=Clean_Stop" "$(awk -v t="$t_csf2" '$1 == t' "$S_DEC")" "end of the second session"
assert_file_has "$S_DLOG" "session: Emergency_Stop from the charger" "the daemon's log"

mb_finish
