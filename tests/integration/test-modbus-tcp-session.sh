#!/usr/bin/env bash
# A whole CCS session, seccsim playing the controller on vcan, the converter
# on Modbus TCP (the test converter, generic profile, on loopback): seccsim's
# verdict, and the converter's side of it from the server's request log.
# shellcheck source-path=SCRIPTDIR source=modbus-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/modbus-lib.sh"
test_begin "$@"
mb_setup tcp

mb_session_run tcp -- --protocol ccs --charge-time 8 --profile "$MB_PROFILE_A" \
        --charger-power $(( MB_MAX_P / 1000 ))
expect_verdict 0
expect_daemon_clean
assert_file_has "$S_DLOG" "converter on tcp 127\\.0\\.0\\.1:$MB_PORT unit 1, profile $MB_PROFILE," "backend and profile"
assert_file_has "$S_DLOG" "Generic Modbus DC converter, rated 500 V / 100 A / 30000 W" "ratings read at connect"
assert_file_lacks "$S_DLOG" "modbus: .*(lost|timed out|refused|failed)" "Modbus errors in a healthy session"

mb_check_session
mb_finish
