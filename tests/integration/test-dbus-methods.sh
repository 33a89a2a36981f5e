#!/usr/bin/env bash
# Every property and method of org.seccbridge.Bridge1 through seccbridgectl
# (and busctl for the introspection), against the daemon on vcan with a
# stand-in controller: the flags and buttons reach Sequence_Control on the
# bus, the limits reach Power_Modules_Limits, every refusal has its D-Bus
# error and exit status 1, changes come as one PropertiesChanged per loop
# iteration, counters are not signalled, and two pistols share the bus.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin "$@"
# shellcheck source-path=SCRIPTDIR source=test-dbus-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-dbus-lib.sh"
# shellcheck source-path=SCRIPTDIR source=daemon-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/daemon-lib.sh"
need_build src/seccbridge src/seccsim/seccsim
need_cmd candump busctl python3
vcan_is_up "$VCAN_IF" || fail "$VCAN_IF is not up"
SECCSIM=$BUILD_DIR/src/seccsim/seccsim

dbus_setup
dbus_bus_start
# A long button hold, so that a second press surely finds the first held.
dbus_daemon_conf "[sequence]" "start_authorisation = external" "ccs_authorisation = external" \
        "charge_parameters = external" "button_hold_ms = 4000"
candump_start bus "$VCAN_IF"
cyclic_start
cyclic 01068009#00              # the controller is still Initialising
D_VERBOSE=1 dbus_daemon_start
bg_start watch "$CTL" --address "$DBUS_ADDR" watch --json

# on_bus REGEX [SECONDS]: a decoded frame of the capture matches, after the mark.
mark=0
since() { mark=$(count_lines "$(bg_log bus)" .); }
_on_bus() {
        tail -n +"$((mark + 1))" "$(bg_log bus)" | "$SECCSIM" decode --pistol 1 >"$TEST_TMP/decoded"
        grep -Eq -- "$1" "$TEST_TMP/decoded"
}
on_bus() {
        calm_until "${2:-10}" _on_bus "$1" || {
                show_file "$TEST_TMP/decoded"
                fail "no frame matching /$1/ on the bus"
        }
}
# refused ERROR ARGS...: exit status 1 and the D-Bus error ERROR.
refused() {
        local error=$1
        shift
        expect_ctl 1 --json "$@"
        assert_file_has "$TEST_TMP/ctl.out" "\"error\": \"$error\"" "seccbridgectl $*"
}

# ---- a press before the controller left Initialising cannot be signalled
wait_prop ControllerState Initialising
refused org.seccbridge.Error.NotReady stop
assert_file_has "$TEST_TMP/ctl.err" "has not left Initialising" "NotReady message"
cyclic 01068009#01
wait_prop ControllerState Waiting_For_PEV

# ---- the interface as documented: names, types, which properties signal
busctl --address="$DBUS_ADDR" introspect org.seccbridge.pistol1 /org/seccbridge/pistol/1 \
        org.seccbridge.Bridge1 >"$TEST_TMP/introspect" || fail "busctl introspect failed"
python3 - "$TEST_TMP/introspect" <<'EOF' || fail "the interface differs from its documentation"
import sys
const = {"Pistol": "y", "Version": "s", "InterfaceVersion": "y"}
signalled = {
    "CANInterface": "s", "CANUp": "b", "ControllerAlive": "b", "ControllerState": "s", "SessionActive": "b",
    "ChargeStarted": "b", "Protocol": "s", "Plug": "s", "EVMaximumVoltage": "d", "EVMaximumCurrent": "d",
    "BatteryCapacity": "q", "StateOfCharge": "y", "Request": "s", "RequestVoltage": "d", "RequestCurrent": "d",
    "CommandMode": "s", "CommandVoltage": "d", "CommandCurrent": "d", "CommandDischarge": "b",
    "Voltage": "d", "Current": "d", "ModuleTemperature": "n", "EnclosureTemperature": "n",
    "InsulationResistance": "q", "SystemEnable": "b", "Fault": "s", "EmergencyStop": "b",
    "EmergencyStopActive": "b", "EmergencyStopOrigin": "s", "ConverterBackend": "s", "ConverterLink": "b",
    "ConverterReady": "b", "ConverterFault": "b", "ConverterError": "s", "SequenceFlags": "b",
    "StartAuthorisation": "b", "CCSAuthorisationDone": "b", "CCSAuthorisationValid": "b",
    "ChargeParametersDone": "b", "UserStopButton": "b", "CHAdeMOStartButton": "b",
    "StartAuthorisationSource": "s", "CCSAuthorisationSource": "s", "ChargeParametersSource": "s",
    "MaxVoltage": "d", "MaxCurrent": "d", "MaxPower": "d", "PrechargeMaxCurrent": "d",
    "InsulationMaxCurrent": "d", "ConfigMaxVoltage": "d", "ConfigMaxCurrent": "d", "ConfigMaxPower": "d",
    "DynamicMaxVoltage": "d", "DynamicMaxCurrent": "d", "DynamicMaxPower": "d",
    # interface version 3: DC_Power_Control, EV_Information_*, OCPP_Control
    "PowerFunction": "s", "SetpointsMode": "s", "OutputContactors": "s", "LowerOutputVoltage": "b",
    "EVMinimumVoltage": "d", "EVPresentVoltage": "d", "EVMinimumChargeCurrent": "d",
    "EVMinimumChargePower": "d", "EVMaximumChargePower": "d", "EVMinimumDischargeCurrent": "d",
    "EVMaximumDischargeCurrent": "d", "EVMinimumDischargePower": "d", "EVMaximumDischargePower": "d",
    "MinimumStateOfCharge": "y", "TargetStateOfCharge": "y", "MaximumStateOfCharge": "y",
    "EVMinimumEnergyRequest": "n", "EVTargetEnergyRequest": "n", "EVMaximumEnergyRequest": "n",
    "DynamicTarget": "b", "DynamicTargetCurrent": "d",
    # the client side: the EV identity, supervisor mode, the controller's I/O
    "EVCCID": "s", "Supervisor": "b", "CUI1Inputs": "b", "CUI1ColibriTemperature": "n",
    "CUI1CPUTemperature": "n", "CUI1PistolPTC1": "n", "CUI1PistolPTC2": "n", "SECCInputs": "b",
    "SECCCPUTemperature": "n", "SECCPistolPTC1": "n", "SECCPistolPTC2": "n", "SPCCInputs": "b",
    "SPCCCPUTemperature0": "n", "SPCCCPUTemperature1": "n", "SPCCPT1KA": "n", "SPCCPT1KB": "n",
    "SPCCPT1KSC": "n", "SPCCPT1KSD": "n", "CPState": "s", "CPDutyCycle": "d", "MCSCEState": "s",
    "MCSIDState": "s", "OutputsBoard": "s",
    # bidirectional power (B1..B6, V16)
    "Bidirectional": "b", "RangePolicy": "s", "RangeTargetSet": "b", "RangeTarget": "d",
    "DirectionChangePending": "b", "MaxDischargeCurrent": "d", "MaxDischargePower": "d",
}
signalled.update({"CUI1Switch%d" % i: "b" for i in range(6)})
signalled.update({"%sDigitalInput%d" % (b, i): "b" for b in ("SECC", "SPCC") for i in range(1, 5)})
signalled.update({"Output%d" % i: "b" for i in range(1, 5)})
signalled.update({"Led%d" % i: "y" for i in range(1, 4)})
silent = {n: "t" for n in ("FramesIn", "FramesOut", "FramesMalformed", "FramesForeign", "RejectedRequests",
                           "ControllerTimeouts", "EmergencyStops", "CANRxFrames", "CANTxFrames", "CANTxDropped",
                           "CANTxErrors", "CANRxKernelDrops", "CANErrorFrames", "CANReopens", "ConverterErrors",
                           "FramesOtherVersion", "UndefinedPowerFunctions", "FramesMalformedIO",
                           "DischargesRefused", "ModeChangesRefused", "DirectionChanges")}
methods = {"SetStartAuthorisation": ("b", "-"), "SetCCSAuthorisation": ("b", "-"),
           "SetChargeParametersDone": ("b", "-"), "PressUserStop": ("-", "-"), "PressCHAdeMOStart": ("-", "-"),
           "SetDynamicLimits": ("ddd", "ddd"), "SetOutput": ("sy", "-"), "SetRangeTarget": ("bd", "d")}
props, meths, bad = {}, {}, []
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) >= 4 and p[0].startswith("."):
        if p[1] == "property":
            # The flags end the line (a value may hold spaces).
            props[p[0][1:]] = (p[2], set(p[-2:]) & {"const", "emits-change", "emits-invalidation", "writable"})
        elif p[1] == "method":
            meths[p[0][1:]] = (p[2], p[3])
for name, sig in list(const.items()) + list(signalled.items()) + list(silent.items()):
    if name not in props:
        bad.append("missing property %s" % name)
        continue
    t, flags = props.pop(name)
    if t != sig:
        bad.append("%s has type %s, documented %s" % (name, t, sig))
    if name in const and "const" not in flags:
        bad.append("%s is not const" % name)
    if name in signalled and "emits-change" not in flags:
        bad.append("%s does not signal its changes" % name)
    if name in silent and (flags & {"emits-change", "emits-invalidation", "const"}):
        bad.append("counter %s signals (%s)" % (name, flags))
    if "writable" in flags:
        bad.append("%s is writable" % name)
bad += ["undocumented property %s" % n for n in props]
for name, sig in methods.items():
    if meths.pop(name, None) != sig:
        bad.append("method %s is not %s" % (name, sig))
bad += ["undocumented method %s" % n for n in meths]
print("\n".join(bad) or "%d properties and %d methods as documented" % (
    len(const) + len(signalled) + len(silent), len(methods)))
sys.exit(1 if bad else 0)
EOF
ctl status --json | python3 -c 'import json, sys; s = json.load(sys.stdin); assert s["Pistol"] == 1 and s["CANInterface"] == "'"$VCAN_IF"'", s' \
        || fail "status --json"
ctl status >"$TEST_TMP/status.txt"
for re in "^seccbridge [0-9.]+, pistol 1 \\(org.seccbridge.pistol1\\)$" "^CAN +$VCAN_IF up$" \
        "^controller +Waiting_For_PEV$" "^sequence +Start_Charge_Authorisation 0 \\(external\\)" \
        "^limits +1000.0 V 125.0 A 50000 W in force; operator none$"; do
        assert_file_has "$TEST_TMP/status.txt" "$re" "status"
done
expect_ctl 2 get NoSuchProperty
expect_ctl 0 get Pistol ControllerState ConverterBackend
assert_eq "$(printf '1\nWaiting_For_PEV\nsim')" "$(cat "$TEST_TMP/ctl.out")" "get"

# ---- level flags, on the bus as Sequence_Control (R9, R11, R13)
since
expect_ctl 0 authorize
assert_eq yes "$(prop StartAuthorisation)" "StartAuthorisation"
on_bus "^Sequence_Control pistol=1 Start_Charge_Authorisation=Allowed "
since
expect_ctl 0 deny
assert_eq no "$(prop StartAuthorisation)" "StartAuthorisation after deny"
on_bus "^Sequence_Control pistol=1 Start_Charge_Authorisation=Not_Allowed "
expect_ctl 0 authorize
since
expect_ctl 0 ccs-auth fail
assert_eq "$(printf 'yes\nno')" "$(ctl get CCSAuthorisationDone CCSAuthorisationValid)" "ccs-auth fail"
on_bus "CCS_Authorisation_Done=Done CCS_Authorisation_Valid=Invalid "
since
expect_ctl 0 ccs-auth ok
assert_eq yes "$(prop CCSAuthorisationValid)" "ccs-auth ok"
on_bus "CCS_Authorisation_Done=Done CCS_Authorisation_Valid=Valid "
since
expect_ctl 0 parameters-done
assert_eq yes "$(prop ChargeParametersDone)" "parameters-done"
on_bus "Charge_Parameters_Done=Done "

# ---- edge flags: pressed, held, released by the core (R10)
since
expect_ctl 0 stop
assert_file_has "$TEST_TMP/ctl.out" "user stop button pressed" "stop"
assert_eq yes "$(prop UserStopButton)" "UserStopButton while held"
refused org.seccbridge.Error.Busy stop
assert_file_has "$TEST_TMP/ctl.err" "still held" "Busy message"
on_bus "User_Stop_Button=Pressed$"
wait_prop UserStopButton no 15
on_bus "User_Stop_Button=Not_Pressed$"
since
expect_ctl 0 chademo-start
on_bus "CHAdeMO_Start_Button=Pressed "
wait_prop CHAdeMOStartButton no 15

# ---- operator limits: clamped to the config, on the bus, refused when invalid
since
expect_ctl 0 limits --max-voltage 500 --max-current 50 --max-power 20000
assert_file_has "$TEST_TMP/ctl.out" "^limits in force: 500.0 V, 50.0 A, 20000 W$" "limits"
assert_eq "$(printf '500.0\n50.0\n20000\n500.0\n50.0\n20000')" \
        "$(ctl get MaxVoltage MaxCurrent MaxPower DynamicMaxVoltage DynamicMaxCurrent DynamicMaxPower)" "limits"
on_bus "^Power_Modules_Limits pistol=1 Maximum_Voltage=500.0 Maximum_Current=50.0$"
since
expect_ctl 0 --json limits --max-current 400
python3 -c 'import json, sys; o = json.load(open(sys.argv[1])); assert o == {"MaxVoltage": 1000, "MaxCurrent": 125, "MaxPower": 50000}, o' \
        "$TEST_TMP/ctl.out" || fail "a limit above the config is clamped to it: $(cat "$TEST_TMP/ctl.out")"
assert_eq "400.0" "$(prop DynamicMaxCurrent)" "DynamicMaxCurrent (what the operator asked)"
on_bus "^Power_Modules_Limits pistol=1 Maximum_Voltage=1000.0 Maximum_Current=125.0$"
refused org.seccbridge.Error.InvalidLimits limits --max-current -5
refused org.seccbridge.Error.InvalidLimits limits --max-voltage 7000
refused org.seccbridge.Error.InvalidLimits limits --max-power 0.4
assert_file_has "$TEST_TMP/ctl.err" "maximum power 0.4 W" "InvalidLimits message"
expect_ctl 2 limits --max-current nan
expect_ctl 0 limits
assert_file_has "$TEST_TMP/ctl.out" "^ConfigMaxCurrent +125.0$" "limits without options"
expect_ctl 0 limits --clear
assert_eq "$(printf '1000.0\n125.0\n0.0')" "$(ctl get MaxVoltage MaxCurrent DynamicMaxCurrent)" "limits --clear"

# ---- one PropertiesChanged per loop iteration, no counters in it
expect_ctl 0 limits --max-voltage 600 --max-current 60
sleep 1
bg_stop watch TERM || fail "watch --json did not exit 0"
python3 - "$(bg_log watch)" <<'EOF' || fail "watch --json"
import json, sys
changes = [json.loads(l)["changes"] for l in open(sys.argv[1]) if l.startswith("{") and "changes" in l]
together = [c for c in changes if {"MaxVoltage", "MaxCurrent", "DynamicMaxVoltage", "DynamicMaxCurrent"} <= set(c)]
assert together and together[-1]["MaxVoltage"] == 600 and together[-1]["DynamicMaxCurrent"] == 60, together
assert not any(k.startswith(("Frames", "CANRx", "CANTx")) for c in changes for k in c), "a counter was signalled"
print("%d signals; the last limits change came as one" % len(changes))
EOF

# ---- the operator's Range_Mode target (V16): only with range_policy = operator
refused org.seccbridge.Error.NotExternal range-target 10
assert_file_has "$TEST_TMP/ctl.err" "range_policy is not operator" "NotExternal message of range-target"
printf '[v3]\nrange_policy = operator\n' >>"$D_CONF"
kill -HUP "$(bg_pid daemon)"
wait_prop RangePolicy operator
expect_ctl 0 range-target -12.5
assert_file_has "$TEST_TMP/ctl.out" "^range target -12.5 A$" "range-target"
assert_eq "$(printf 'yes\n-12.5')" "$(ctl get RangeTargetSet RangeTarget)" "range target set"
expect_ctl 0 range-target
assert_eq "$(printf 'operator\nyes\n-12.5')" "$(cat "$TEST_TMP/ctl.out")" "range-target without an argument"
refused org.seccbridge.Error.InvalidLimits range-target 5000
expect_ctl 2 range-target ten
expect_ctl 0 range-target clear
assert_eq "$(printf 'no\n0.0')" "$(ctl get RangeTargetSet RangeTarget)" "range target cleared"

# ---- flags configured auto: NotExternal; no sequence flags: NoSequenceFlags
sed -i -e '/^start_authorisation/d' -e '/^ccs_authorisation/d' -e '/^charge_parameters/d' "$D_CONF"
kill -HUP "$(bg_pid daemon)"
wait_prop StartAuthorisationSource auto
refused org.seccbridge.Error.NotExternal authorize
assert_file_has "$TEST_TMP/ctl.err" "start_authorisation is configured auto" "NotExternal message"
refused org.seccbridge.Error.NotExternal deny
refused org.seccbridge.Error.NotExternal ccs-auth ok
refused org.seccbridge.Error.NotExternal parameters-done
assert_eq yes "$(prop StartAuthorisation)" "StartAuthorisation set by the daemon itself"
printf '[sequence]\nuse_sequence_flags = false\n' >>"$D_CONF"
kill -HUP "$(bg_pid daemon)"
wait_prop SequenceFlags no
refused org.seccbridge.Error.NoSequenceFlags stop
refused org.seccbridge.Error.NoSequenceFlags chademo-start

# ---- a second pistol on the same bus
sed -e 's/^pistol_index = 1$/pistol_index = 2/' "$D_CONF" >"$TEST_TMP/pistol2.conf"
bg_start daemon2 "$BUILD_DIR/src/seccbridge" -c "$TEST_TMP/pistol2.conf"
at_exit sed "s/^/# daemon2: /" "$(bg_log daemon2)"
# shellcheck disable=SC2016  # expanded by the inner shell
calm_until 20 sh -c '"$1" --address "$2" list | grep -q "^pistol 2 "' - "$CTL" "$DBUS_ADDR" \
        || fail "the second daemon did not take org.seccbridge.pistol2"
expect_ctl 0 list
assert_eq "$(printf 'pistol 1  org.seccbridge.pistol1 /org/seccbridge/pistol/1\npistol 2  org.seccbridge.pistol2 /org/seccbridge/pistol/2')" \
        "$(cat "$TEST_TMP/ctl.out")" "list"
expect_ctl 2 status
assert_file_has "$TEST_TMP/ctl.err" "several seccbridge instances on the bus \\(pistols 1, 2\\)" "two pistols"
assert_eq 2 "$(ctl --pistol 2 get Pistol)" "--pistol 2"
bg_stop daemon2 TERM || fail "the second daemon did not stop cleanly"

# ---- refusals are not logged above debug; actions once each
rc=0
bg_stop daemon TERM || rc=$?
assert_eq 0 "$rc" "daemon exit status"
d=$(bg_log daemon)
assert_file_lacks "$d" "^<[0-6]>bus: refused" "daemon log"
assert_eq 1 "$(count_lines "$d" "operator \\(:[0-9.]+\\): user stop button pressed")" "stop logged"
assert_eq 2 "$(count_lines "$d" "operator \\(:[0-9.]+\\): start authorisation given")" "authorize logged"
