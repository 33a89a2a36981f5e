#!/usr/bin/env bash
# A saturated bus: foreign extended frames at the rate a 500 kbit/s bus
# carries (about 3800 8-byte frames per second) for the whole session.  The
# session must complete and Power_Modules_Status keep its 100 ms period.
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
test_begin "$@"
session_config

session_run busload -- --charge-time 8 --bus-load
expect_verdict 0
expect_daemon_clean

rate=$(sed -nE 's/^  bus load: [0-9]+ foreign frames in [0-9.]+ s \(([0-9]+)\/s.*/\1/p' "$S_OUT")
note "bus load: ${rate:-?} frames/s"
[ "${rate:-0}" -ge 3400 ] || fail "bus load only ${rate:-0} frames/s"
foreign=$(grep -c " unknown 18FE" "$S_DEC" || true)
[ "$foreign" -ge 30000 ] || fail "only $foreign foreign frames captured"

t_ncs=$(first_after 0 "New_Charge_Session pistol=1 ")
t_csf=$(first_after 0 "Charge_Session_Finished pistol=1 State=Clean_Stop")
[ -n "$t_ncs" ] && [ -n "$t_csf" ] || fail "no New_Charge_Session or Charge_Session_Finished on the bus"
read -r max n < <(status_gaps "$t_ncs" "$t_csf")
span=$(ms_between "$t_ncs" "$t_csf")
note "Power_Modules_Status under load: $n in $span ms, largest gap $max ms"
[ "$max" -le 300 ] || fail "Power_Modules_Status gap of $max ms under load"
[ "$n" -ge $(( span / 100 * 9 / 10 )) ] || fail "only $n Power_Modules_Status in $span ms"
kdrops=$(sed -nE 's/.*kernel rx drops ([0-9]+).*/\1/p' "$S_DLOG" | tail -n 1)
assert_eq 0 "${kdrops:-0}" "daemon's kernel receive drops"
