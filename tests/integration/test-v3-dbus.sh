#!/usr/bin/env bash
# Interface version 3 over D-Bus: during a v3 charge played by seccsim, the
# daemon's properties and `seccbridgectl status` show the interface version,
# the last DC_Power_Control (power function, setpoints mode, contactor and
# lowering requests), the vehicle's information (EV_Information_*) and the
# OCPP dynamic target once OCPP_Control came; at the end of the session they
# are cleared.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin "$@"
# shellcheck source-path=SCRIPTDIR source=test-dbus-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-dbus-lib.sh"
need_build src/seccbridge src/seccsim/seccsim
need_cmd cansend python3
vcan_is_up "$VCAN_IF" || fail "$VCAN_IF is not up"
SECCSIM=$BUILD_DIR/src/seccsim/seccsim

dbus_setup
dbus_bus_start
dbus_daemon_conf "[can]" "interface_version = 3"
dbus_daemon_start
assert_eq 3 "$(prop InterfaceVersion)" "InterfaceVersion"
assert_eq "" "$(prop PowerFunction)" "PowerFunction before a session"

bg_start seccsim "$SECCSIM" session -i "$VCAN_IF" --interface-version 3 --profile 40,60,40 \
        --charge-time 20 --print-interval 0
seccsim_out=$(bg_log seccsim)
at_exit sed "s/^/# seccsim: /" "$seccsim_out"
wait_for_line "$seccsim_out" "state Charging \\(7\\)" 40
wait_prop PowerFunction Power_Transfer 10

# The controller's CSMS setpoint (V16): kept for the session.
cansend "$VCAN_IF" 0106B300#5E01
wait_prop DynamicTarget yes 5
ctl --json status >"$TEST_TMP/status.json"
python3 - "$TEST_TMP/status.json" <<'PY' || fail "properties during a v3 charge"
import json, sys
s = json.load(open(sys.argv[1]))
want = {"InterfaceVersion": 3, "PowerFunction": "Power_Transfer", "SetpointsMode": "Target_Mode",
        "OutputContactors": "Close", "LowerOutputVoltage": False, "Request": "charge",
        "Protocol": "CCS_ISO_15118_2013_v2", "EVMaximumVoltage": 500.0, "EVMaximumCurrent": 200.0,
        "EVMinimumVoltage": 300.0, "EVPresentVoltage": 400.0, "EVMaximumChargePower": 100000.0,
        "BatteryCapacity": 60, "MaximumStateOfCharge": 100, "TargetStateOfCharge": 100,
        "EVTargetEnergyRequest": 42, "DynamicTarget": True, "DynamicTargetCurrent": 35.0,
        "FramesOtherVersion": 0, "UndefinedPowerFunctions": 0, "SessionActive": True}
bad = {k: (s.get(k), v) for k, v in want.items() if s.get(k) != v}
if bad:
    print("property: (got, want):", bad, file=sys.stderr)
    sys.exit(1)
PY
expect_ctl 0 status
for re in "^interface +version 3$" "^power control +Power_Transfer, Target_Mode; output contactors Close, lowering no$" \
        "^EV +voltage min 300.0 present 400.0 V; charge min 0.0 A, 0..100000 W" "^OCPP +dynamic target 35.0 A$" \
        "other interface version 0, undefined power functions 0$"; do
        assert_file_has "$TEST_TMP/ctl.out" "$re" "seccbridgectl status"
done

# The end of charge: contactors open and lowering asked (V20), then the
# session ends and the vehicle's data go.
wait_prop LowerOutputVoltage yes 60
assert_eq Open "$(prop OutputContactors)" "OutputContactors at the end of charge"
wait_prop SessionActive no 30
assert_eq "" "$(prop PowerFunction)" "PowerFunction after the session"
assert_eq no "$(prop DynamicTarget)" "DynamicTarget after the session"
assert_eq 0.0 "$(prop EVMinimumVoltage)" "EVMinimumVoltage after the session"
rc=0
bg_wait seccsim 60 || rc=$?
assert_eq 0 "$rc" "seccsim's verdict"
assert_file_has "$seccsim_out" "^verdict: PASS$" "seccsim"
