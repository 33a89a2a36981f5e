#!/usr/bin/env bash
# One seccbridge, two pistols, each with its own Modbus RTU converter, the
# two converters on one RS-485 line ([modbus-line]: one port, one worker,
# served in turn): the test converter answers units 1 and 2 on one pty.
#  - both pistols charge at the same time, each from its own unit;
#  - at the end both units are off (output enable, setpoints).
# shellcheck source-path=SCRIPTDIR source=modbus-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/modbus-lib.sh"
# shellcheck source-path=SCRIPTDIR source=pistols-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/pistols-lib.sh"
test_begin "$@"
SECCSIM=$BUILD_DIR/src/seccsim/seccsim
SECCBRIDGE=$BUILD_DIR/src/seccbridge
mb_need rtu
MB_SERVER_ARGS=(--second-unit 2)
mb_server_start rtu
at_exit _mb_show_logs
S_CONF=$TEST_TMP/seccbridge.conf
{
        printf '[can]\ninterface = %s\n' "$VCAN_IF"
        printf '[limits]\nmax_voltage = %s\nmax_current = %s\nmax_power = %s\n' "$MB_MAX_V" "$MB_MAX_I" "$MB_MAX_P"
        printf '[modbus]\nprofile = %s\n' "$MB_PROFILE"
        printf '%s\n' "${MB_TIMING[@]}"
        printf '[modbus-line rs485]\ndevice = %s\nbaudrate = 115200\n' "$MB_DEV"
        printf '[converter left]\nbackend = modbus-rtu\nline = rs485\nunit_id = 1\n'
        printf '[converter right]\nbackend = modbus-rtu\nline = rs485\nunit_id = 2\n'
        printf '[pistol one]\npistol_index = 1\nconverter = left\n'
        printf '[pistol two]\npistol_index = 2\nconverter = right\n'
} >"$S_CONF"
"$SECCBRIDGE" --check-config -c "$S_CONF" >"$TEST_TMP/check-config.out" 2>&1 \
        || { show_file "$TEST_TMP/check-config.out"; fail "the test's configuration does not validate"; }
pistols_daemon_start

pistols_run both -- --charge-time 8 --profile 60,70,40 --charger-power $(( MB_MAX_P / 1000 )) \
        -- --charge-time 8 --profile 50,60,30 --charger-power $(( MB_MAX_P / 1000 ))
pistols_expect 0 0
t=$(both_charging 25)
[ -n "$t" ] || fail "the two pistols never delivered 25 A each at the same time"
note "both pistols at >= 25 A at $t, from units 1 and 2 of one line"

pistols_daemon_stop
[ "$S_DRC" = 0 ] || { show_file "$S_DLOG"; fail "the daemon exited with $S_DRC"; }
assert_file_lacks "$S_DLOG" "modbus: .*(lost|timed out|refused|failed)" "Modbus errors on a healthy shared line"
for u in 1 2; do
        mb_ctl unit "$u"
        assert_eq 0 "$(mb_get coil 0)" "unit $u: output enable (coil 0) at the end"
        mb_ctl get holding 0 2
        assert_eq "0 0" "${MB_REPLY#ok }" "unit $u: setpoints (holding 0, 1) at the end"
done
bg_stop mbserver || true
bg_stop socat || true
