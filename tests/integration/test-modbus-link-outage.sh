#!/usr/bin/env bash
# The converter on Modbus TCP goes away mid-charge (the server closes its
# connections and refuses new ones) and comes back 2 s later: the link is
# declared lost within link_timeout_ms, the controller sees System_Enable =
# Not_Allowed, and once the converter answers again the first thing it
# gets is the output disable; the output is never enabled again in that
# session.  The daemon keeps running throughout, logs the outage once and
# its end once.
# shellcheck source-path=SCRIPTDIR source=modbus-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/modbus-lib.sh"
test_begin "$@"
LINK_TIMEOUT_MS=500
mb_setup tcp "link_timeout_ms = $LINK_TIMEOUT_MS"

PERIOD_MS=100    # Power_Modules_Status period
MARGIN_MS=150    # scheduling margin of an emulated machine
OUTAGE_S=2

outage() {
        wait_for_line "$1" "state Charging \\(7\\)" 60
        sleep 3
        local t
        t=$EPOCHREALTIME
        mb_ctl stop
        echo "$t $EPOCHREALTIME" >"$TEST_TMP/stop.time"
        sleep "$OUTAGE_S"
        t=$EPOCHREALTIME
        mb_ctl start
        echo "$t $EPOCHREALTIME" >"$TEST_TMP/start.time"
}
# While the link is down the daemon cannot measure and repeats the last
# readings (40 A): the controller's "converter off" check is System_Enable
# alone (--off-current), the current is checked on the server and on the
# bus once the converter is back.  The controller answers Not_Allowed with
# an Emergency_Stop held for 3.5 s before it ends the session: the converter
# comes back inside the session.
mb_session_run outage --hook outage -- --protocol ccs --charge-time 10 --profile "$MB_PROFILE_A" \
        --charger-power $(( MB_MAX_P / 1000 )) --expect-shutdown=Charging --off-current 100 --estop-time 3500
expect_verdict 0
expect_daemon_clean
if [ ! -s "$TEST_TMP/stop.time" ] || [ ! -s "$TEST_TMP/start.time" ]; then
        fail "the outage was not staged while the controller ran"
fi
# Each: before the control command, after its answer.
read -r t_stop t_stopped <"$TEST_TMP/stop.time"
read -r t_start _ <"$TEST_TMP/start.time"
assert_file_has "$S_OUT" "System_Enable = Not_Allowed during Charging, as expected" "seccsim saw the shutdown"

# Not_Allowed once the link counts as lost.
t_ne=$(first_after "$t_stop" "Power_Modules_Status pistol=1 .*System_Enable=Not_Allowed")
[ -n "$t_ne" ] || fail "System_Enable never went to Not_Allowed after the converter went away"
lat=$(ms_between "$t_stop" "$t_ne")
note "System_Enable = Not_Allowed $lat ms after the converter went away (link_timeout_ms $LINK_TIMEOUT_MS)"
[ "$lat" -le $(( LINK_TIMEOUT_MS + PERIOD_MS + MARGIN_MS )) ] \
        || fail "System_Enable = Not_Allowed only $lat ms after the converter went away (limit link timeout $LINK_TIMEOUT_MS + period $PERIOD_MS + margin $MARGIN_MS ms)"
bad=$(awk -v a="$t_ne" '$1 > a && /Power_Modules_Status pistol=1 .*System_Enable=Allowed/' "$S_DEC" | head -n 1)
[ -z "$bad" ] || fail "power allowed again after the outage: $bad"

# Nothing reached the server while it was away; when it is back, the
# output disable comes first, and the output stays off.
n=$(awk -v a="$t_stopped" -v b="$t_start" '$1 > a && $1 < b && $2 == "modbus"' "$MB_SLOG" | wc -l)
[ "$n" -eq 0 ] || fail "$n requests logged by the server while it was stopped"
first=$(mb_first_request_after "$t_start")
[ -n "$first" ] || fail "the daemon never came back to the converter"
first_write=$(mb_writes "$t_start" | head -n 1)
[[ $first_write == *" fc=5 addr=0 count=1 values=0 "* ]] \
        || fail "the first write after the converter came back is not the output disable: '$first_write'"
note "converter back: first request $(ms_between "$t_start" "${first%% *}") ms later, the output disable $(ms_between "$t_start" "${first_write%% *}") ms later"
reads=$(awk -v t="$t_start" '$1 > t && $2 == "modbus" && $3 == "fc=4"' "$MB_SLOG" | wc -l)
[ "$reads" -ge 5 ] || fail "only $reads measurement reads after the converter came back"
t_csf=$(first_after "$t_stop" "Charge_Session_Finished pistol=1 ")
[ -n "$t_csf" ] || fail "the session never finished"
awk -v a="$t_start" -v b="$t_csf" 'BEGIN { exit !(a < b) }' \
        || fail "the converter came back only after the session ended: the test proves nothing"
on=$(mb_enable_writes | awk -v t="$t_stopped" '$1 > t && $2 == 1' | head -n 1)
[ -z "$on" ] || fail "output enabled again after the outage: $on"
note "the converter was back $(ms_between "$t_start" "$t_csf") ms before the end of the session"
# Fresh readings on the bus: the output is off.
t_read=$(awk -v t="${first_write%% *}" '$1 > t && $2 == "modbus" && $3 == "fc=4" { print $1; exit }' "$MB_SLOG")
t_zero=$(awk -v t="$t_read" '$1 > t && $2 == "Power_Modules_Status" && $3 == "pistol=1" {
                split($5, kv, "="); i = kv[2] + 0; if (i < 0) i = -i
                if (i <= 1.0) { print $1; exit } }' "$S_DEC")
[ -n "$t_zero" ] || fail "the controller never saw the current at 0 after the converter came back"
[ "$(ms_between "$t_read" "$t_zero")" -le $(( PERIOD_MS + MARGIN_MS )) ] \
        || fail "0 A reported only $(ms_between "$t_read" "$t_zero") ms after the first reading"
bad=$(awk -v t="$t_zero" '$1 > t && $2 == "Power_Modules_Status" && $3 == "pistol=1" {
                split($5, kv, "="); i = kv[2] + 0; if (i < 0) i = -i; if (i > 1.0) { print; exit } }' "$S_DEC")
[ -z "$bad" ] || fail "current again after the converter came back: $bad"
note "0 A on the bus $(ms_between "$t_start" "$t_zero") ms after the converter came back"
mb_ctl conns
[ "${MB_REPLY#ok }" -ge 2 ] || fail "the daemon did not reconnect (${MB_REPLY#ok } connections)"

# The daemon kept running (it stopped only on SIGTERM, exit 0, checked
# above) and logged the outage as one episode: one line when it began, at
# most one more when its reason changed (the broken connection, then the
# refused reconnects), never one per retry, and one line at its end.
assert_file_has "$S_DLOG" "session: fault converter-link" "the core latched the link loss"
grep -E "^<[0-5]>modbus: converter \\(tcp [^)]*\\): " "$S_DLOG" | grep -v ": Generic Modbus" \
        | sed 's/^/#   daemon: /' >&2
began=$(grep -E "^<4>modbus: converter \\(tcp [^)]*\\): " "$S_DLOG" | grep -Evc "times so far\\)$" || true)
again=$(mb_daemon_lines "^<4>modbus: converter \\(tcp [^)]*\\): .*\\(seen [0-9]+ times so far\\)$")
back=$(mb_daemon_lines "modbus: converter \\(tcp [^)]*\\): back to normal after [0-9.]+ s \\(seen [0-9]+ times\\)")
seen=$(sed -nE 's/.*modbus: converter \(tcp [^)]*\): back to normal after [0-9.]+ s \(seen ([0-9]+) times\).*/\1/p' "$S_DLOG" | head -n 1)
note "daemon log: outage began in $began line, reason changed in $again, ended in $back; $seen failed attempts in all"
[ "$began" -eq 1 ] || fail "the outage's beginning was logged $began times, expected once"
[ "$again" -le 1 ] || fail "the outage was logged again $again times (once per reason change expected, one change at most)"
[ "$back" -eq 1 ] || fail "the end of the outage was logged $back times, expected once"
[ "${seen:-0}" -gt $(( began + again )) ] || fail "fewer failed attempts ($seen) than log lines: nothing shows retries were not logged"

mb_finish
