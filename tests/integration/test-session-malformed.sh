#!/usr/bin/env bash
# Short frames of our own identifiers interleaved with the session (two per
# 100 ms): a heartbeat, Emergency_Stop and Charge_Session_Finished of DLC 0,
# a 4-byte Charging_Loop of 0xFF...  The power side must count and drop
# them (codec -EBADMSG) and the session must complete.
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
test_begin "$@"
session_config

session_run malformed -- --charge-time 8 --malformed
expect_verdict 0
expect_daemon_clean

sent=$(sed -nE 's/.*; malformed ([0-9]+).*/\1/p' "$S_OUT")
seen=$(grep -c " malformed [A-Za-z_]* 01068" "$S_DEC" || true)
counted=$(daemon_counter malformed)
note "malformed frames: $sent sent, $seen on the bus, $counted counted by the daemon"
[ "${sent:-0}" -ge 100 ] || fail "seccsim sent only ${sent:-0} malformed frames"
assert_eq "$sent" "$seen" "malformed frames on the bus"
assert_eq "$seen" "$counted" "malformed frames counted by the daemon"
for m in Advantics_Controller_Status Emergency_Stop Charge_Session_Finished Charging_Loop; do
        assert_file_has "$S_DEC" " malformed $m " "short $m on the bus"
done
assert_eq 0 "$(daemon_counter "emergency stops")" "daemon's emergency stops"
assert_file_has "$S_DEC" "Charge_Session_Finished pistol=1 State=Clean_Stop" "a clean end"
