#!/usr/bin/env bash
# Interface version 3: short frames of our own identifiers interleaved with
# the session (a heartbeat, Emergency_Stop and Charge_Session_Finished of
# DLC 0, DC_Power_Control of 6 and 2 bytes, OCPP_Control of 1), and a
# whole v3 session of another pistol beside it.  The power side counts and
# drops the short ones and ignores the other pistol; the session completes.
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
test_begin "$@"
S_INTERFACE_VERSION=3
session_config

session_run v3malformed -- --charge-time 6 --malformed --wrong-pistol
expect_verdict 0
expect_daemon_clean

sent=$(sed -nE 's/.*; malformed ([0-9]+).*/\1/p' "$S_OUT")
seen=$(grep -c " malformed [A-Za-z_]* 0106B" "$S_DEC" || true)
counted=$(daemon_counter malformed)
note "malformed frames: $sent sent, $seen on the bus, $counted counted by the daemon"
[ "${sent:-0}" -ge 100 ] || fail "seccsim sent only ${sent:-0} malformed frames"
assert_eq "$sent" "$seen" "malformed frames on the bus"
assert_eq "$seen" "$counted" "malformed frames counted by the daemon"
for m in Advantics_Controller_Status Emergency_Stop Charge_Session_Finished DC_Power_Control OCPP_Control; do
        assert_file_has "$S_DEC" " malformed $m " "short $m on the bus"
done
assert_eq 0 "$(daemon_counter "emergency stops")" "daemon's emergency stops"
# Another pistol's frames never reach the core (kernel filter).
assert_file_has "$S_DEC" "DC_Power_Control pistol=2 " "the other pistol's session"
assert_eq 0 "$(daemon_counter foreign)" "daemon's foreign counter"
assert_file_lacks "$S_DEC" "(Power_Modules_Status|DC_Power_Parameters|Sequence_Control) pistol=[^1]" "power-side frames of another pistol"
assert_file_has "$S_DEC" "Charge_Session_Finished pistol=1 State=Clean_Stop" "a clean end"
