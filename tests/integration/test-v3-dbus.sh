#!/usr/bin/env bash
# Interface version 3 over D-Bus: during a v3 charge played by seccsim, the
# daemon's properties and `seccbridgectl status` show the interface version,
# the last DC_Power_Control (power function, setpoints mode, contactor and
# lowering requests), the vehicle's information (EV_Information_*) and the
# OCPP dynamic target once OCPP_Control came; at the end of the session they
# are cleared.  `seccsim monitor --interface-version 3` watches the same
# traffic and must tell its events.
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

bg_start monitor "$SECCSIM" monitor -i "$VCAN_IF" --interface-version 3 --plain
wait_ready monitor
bg_start seccsim "${CONTROLLER_NICE[@]}" "$SECCSIM" session -i "$VCAN_IF" --interface-version 3 --profile 40,60,40 \
        --charge-time 20 --print-interval 0
seccsim_out=$(bg_log seccsim)
at_exit sed "s/^/# seccsim: /" "$seccsim_out"
wait_for_line "$seccsim_out" "state Charging \\(7\\)" 40
wait_prop PowerFunction Power_Transfer 10

# The controller's CSMS setpoint (V16): kept for the session.
cansend "$VCAN_IF" 0106B300#5E01
wait_prop DynamicTarget yes 5
# Both views taken at once, while the charge lasts (the JSON one is checked
# after the session).
ctl --json status >"$TEST_TMP/status.json"
expect_ctl 0 status
for re in "^interface +version 3$" "^power control +Power_Transfer, Target_Mode; output contactors Close, lowering no$" \
        "^EV +voltage min 300.0 present 400.0 V; charge min 0.0 A, 0..100000 W" "^OCPP +dynamic target 35.0 A$" \
        "other interface version 0, undefined power functions 0$"; do
        assert_file_has "$TEST_TMP/ctl.out" "$re" "seccbridgectl status"
done

# The end of charge: contactors open and lowering asked (V20), then the
# session ends and the vehicle's data go.  Waiting on seccsim's log takes
# no program start: a property polled through the 20 s of the charge
# started one every 0.3 s, and on an emulated machine that stalls the
# controller stand-in now and then.
wait_for_line "$seccsim_out" "Lower_Output_Voltage \\(V20" 60
wait_prop LowerOutputVoltage yes 10
assert_eq Open "$(prop OutputContactors)" "OutputContactors at the end of charge"
wait_prop SessionActive no 30
assert_eq "" "$(prop PowerFunction)" "PowerFunction after the session"
assert_eq no "$(prop DynamicTarget)" "DynamicTarget after the session"
assert_eq 0.0 "$(prop EVMinimumVoltage)" "EVMinimumVoltage after the session"
rc=0
bg_wait seccsim 60 || rc=$?
assert_eq 0 "$rc" "seccsim's verdict"
assert_file_has "$seccsim_out" "^verdict: PASS$" "seccsim"
# The JSON view taken during the charge, checked now: a Python start-up is
# heavy on an emulated machine, and during the charge it held up the
# controller stand-in.
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

# The monitor, on the v3 traffic: the events and no warning about the current.
bg_stop monitor TERM || fail "seccsim monitor did not exit 0 on SIGTERM"
m=$(bg_log monitor)
for re in "New_Charge_Session pistol=1 Communication_Protocol=CCS_ISO_15118_2013_v2 Plug_and_pins=CCS_DC_Core$" \
        "DC_Power_Parameters pistol=1 Maximum_Voltage=1000.0 Maximum_Charge_Current=125.0" \
        "DC_Power_Control pistol=1 Target_Voltage=500.0 .*Power_Function=Insulation_Test" \
        "DC_Power_Control pistol=1 .*Power_Function=Power_Transfer" \
        "OCPP_Control pistol=1 Dynamic_Target_Current=35.0$" "controller Charging -> Ending_Charge" \
        "Charge_Session_Finished pistol=1 State=Clean_Stop"; do
        assert_file_has "$m" "$re" "seccsim monitor --interface-version 3"
done
assert_file_lacks "$m" "warning: current not following" "seccsim monitor --interface-version 3"
