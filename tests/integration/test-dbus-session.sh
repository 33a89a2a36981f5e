#!/usr/bin/env bash
# A whole CCS session on vcan whose operator decisions come from
# seccbridgectl over D-Bus: with start_authorisation, ccs_authorisation and
# charge_parameters configured "external", `seccsim session --sequence-flags
# --external-auth` stays Not_Available until `seccbridgectl authorize`, waits
# for `ccs-auth ok` and `parameters-done`, charges, and `seccbridgectl stop`
# ends the charge the normal way (User_Stop_Button -> Ending_Charge, R14).
#
# Meanwhile `seccbridgectl status --json` is compared with what the
# controller sees on the bus at the same moment (a decoded candump capture),
# `seccbridgectl watch` must report the changes, and `seccsim monitor` watches
# the same traffic (its summary, its events, its --log capture).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin "$@"
# shellcheck source-path=SCRIPTDIR source=test-dbus-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-dbus-lib.sh"
need_build src/seccbridge src/seccsim/seccsim
need_cmd candump python3
vcan_is_up "$VCAN_IF" || fail "$VCAN_IF is not up"
SECCSIM=$BUILD_DIR/src/seccsim/seccsim

# A machine that stalls the controller itself makes seccsim's verdict
# inconclusive (seccsim says so): then the whole scenario runs once more,
# as in test-session-lib.sh.  Each attempt is this script run again.
if [ -z "${DBUS_SESSION_OUT:-}" ]; then
        for attempt in 1 2; do
                rc=0
                DBUS_SESSION_OUT=$TEST_TMP/seccsim.$attempt bash "${BASH_SOURCE[0]}" "$BUILD_DIR" || rc=$?
                if [ "$rc" -ne 0 ] && [ "$attempt" -lt 2 ] &&
                        grep -q '^  reason: inconclusive' "$TEST_TMP/seccsim.$attempt" 2>/dev/null; then
                        note "attempt $attempt inconclusive (the machine stalled the controller): again"
                        continue
                fi
                exit "$rc"
        done
fi

dbus_setup
dbus_bus_start
dbus_daemon_conf "[sequence]" "start_authorisation = external" "ccs_authorisation = external" \
        "charge_parameters = external"

# Everything on the bus, and the monitor beside it.
candump_start bus "$VCAN_IF"
bg_start monitor "$SECCSIM" monitor -i "$VCAN_IF" --log "$TEST_TMP/monitor.can"
wait_ready monitor
dbus_daemon_start
bg_start watch "$CTL" --address "$DBUS_ADDR" watch
wait_for_line "$(bg_log watch)" "watching org.seccbridge.pistol1"
bg_start watchjson "$CTL" --address "$DBUS_ADDR" watch --json

# decoded: the capture so far, "SECONDS MESSAGE pistol=N SIGNAL=VALUE ...".
decoded() {
        paste -d ' ' <(sed -E 's/^\(([0-9]+\.[0-9]+)\).*/\1/' "$(bg_log bus)") \
                <("$SECCSIM" decode --pistol 1 <"$(bg_log bus)") >"$TEST_TMP/decoded"
}
# ---- the controller waits for the operator (R9)
bg_start seccsim "${CONTROLLER_NICE[@]}" "$SECCSIM" session -i "$VCAN_IF" --sequence-flags --external-auth \
        --profile 40,60,40 --charge-time 120 --print-interval 0 --auth-timeout 90 --enable-timeout 60
seccsim_out=$(bg_log seccsim)
at_exit cp "$seccsim_out" "$DBUS_SESSION_OUT"
at_exit sed "s/^/# seccsim: /" "$seccsim_out"
wait_for_line "$seccsim_out" "waiting for Start_Charge_Authorisation = 1" 20
wait_prop ControllerState Not_Available 10
assert_eq no "$(prop StartAuthorisation)" "StartAuthorisation before authorize"
assert_eq external "$(prop StartAuthorisationSource)" "StartAuthorisationSource"
sleep 2
decoded
assert_file_lacks "$TEST_TMP/decoded" " New_Charge_Session " "a session before the authorisation"
bg_running seccsim || fail "seccsim ended before the authorisation"

expect_ctl 0 authorize
assert_file_has "$TEST_TMP/ctl.out" "start authorisation given" "authorize"
wait_for_line "$seccsim_out" "waiting for CCS_Authorisation_Done = 1" 20
wait_prop ControllerState CCS_Authorisation_Process 10
expect_ctl 0 ccs-auth ok
wait_for_line "$seccsim_out" "authorisation valid \\(R11\\)" 10
# R13: the parameters belong to this vehicle: declared once its session is open.
wait_prop SessionActive yes 20
expect_ctl 0 parameters-done
wait_prop ControllerState Charging 60
wait_for_line "$seccsim_out" "Charging_Loop at" 10
wait_prop Request charge 10

# ---- status --json at a moment of the charge (compared with the bus
# below, once the session is over: no heavy work while the controller runs)
sleep 3         # the current ramps up to the first step of the profile
t0=$EPOCHREALTIME
ctl status --json >"$TEST_TMP/status.json"
t1=$EPOCHREALTIME

# ---- the operator stops the charge: the normal end (R14)
expect_ctl 0 stop
wait_for_line "$seccsim_out" "User_Stop_Button pressed: normal end of charge \\(R14\\)" 10
rc=0
bg_wait seccsim 90 || rc=$?
assert_eq 0 "$rc" "seccsim session exit status"
assert_file_has "$seccsim_out" "^verdict: PASS$" "seccsim verdict"

# ---- status --json against what the bus carried at the same moment
decoded
python3 - "$TEST_TMP/status.json" "$TEST_TMP/decoded" "$t0" "$t1" <<'EOF' || fail "status --json differs from the bus"
import json, sys
status = json.load(open(sys.argv[1]))
t0, t1 = float(sys.argv[3]), float(sys.argv[4])
frames = []
for line in open(sys.argv[2]):
    parts = line.split()
    if len(parts) < 3 or parts[2] != "pistol=1":
        continue
    sig = dict(p.split("=", 1) for p in parts[3:] if "=" in p)
    frames.append((float(parts[0]), parts[1], sig))

def last_before(msg, t):
    found = [s for (ts, m, s) in frames if m == msg and ts <= t]
    if not found:
        sys.exit("no %s before the status call" % msg)
    return found[-1]

def around(msg, margin=0.25):
    """Every value of msg from the last frame before t0 to t1 + margin."""
    inside = [s for (ts, m, s) in frames if m == msg and t0 - margin <= ts <= t1 + margin]
    return [last_before(msg, t0)] + inside

errors = []
def check(what, ok, detail):
    print("%-28s %s  %s" % (what, "ok  " if ok else "DIFF", detail))
    if not ok:
        errors.append(what)

def near(value, candidates, tol):
    return any(abs(value - float(c)) <= tol for c in candidates)

state = [s["State"] for s in around("Advantics_Controller_Status")]
check("ControllerState", status["ControllerState"] in state, "%s vs %s" % (status["ControllerState"], sorted(set(state))))
pms = around("Power_Modules_Status")
check("SystemEnable", (["Not_Allowed", "Allowed"][status["SystemEnable"]]) in [s["System_Enable"] for s in pms],
      "%s vs %s" % (status["SystemEnable"], sorted(set(s["System_Enable"] for s in pms))))
for prop, sig, tol in (("Voltage", "Present_Voltage", 0.11), ("Current", "Present_Current", 0.11),
                       ("ModuleTemperature", "Power_Modules_Temperature", 0),
                       ("EnclosureTemperature", "Enclosure_Temperature", 0)):
    values = [s[sig] for s in pms]
    lo, hi = min(map(float, values)), max(map(float, values))
    v = status[prop]
    check(prop, lo - tol <= v <= hi + tol, "%s vs %s .. %s" % (v, lo, hi))
# The frame carries 2 kOhm steps up to 510 kOhm.
ins = min(status["InsulationResistance"], 510)
check("InsulationResistance", near(ins, [s["Insulation_Resistance"] for s in pms], 2),
      "%s vs %s" % (status["InsulationResistance"], sorted(set(s["Insulation_Resistance"] for s in pms))))
loop = around("Charging_Loop")
check("RequestVoltage", near(status["RequestVoltage"], [s["Target_Voltage"] for s in loop], 0.05),
      "%s vs %s" % (status["RequestVoltage"], sorted(set(s["Target_Voltage"] for s in loop))))
check("RequestCurrent", near(status["RequestCurrent"], [s["Target_Current"] for s in loop], 0.05),
      "%s vs %s" % (status["RequestCurrent"], sorted(set(s["Target_Current"] for s in loop))))
lim = last_before("Power_Modules_Limits", t1)
check("MaxVoltage", abs(status["MaxVoltage"] - float(lim["Maximum_Voltage"])) < 0.05, "%s vs %s" % (status["MaxVoltage"], lim["Maximum_Voltage"]))
check("MaxCurrent", abs(status["MaxCurrent"] - float(lim["Maximum_Current"])) < 0.05, "%s vs %s" % (status["MaxCurrent"], lim["Maximum_Current"]))
flags = last_before("Sequence_Control", t1)
on = ("Allowed", "Done", "Valid", "Pressed")
for prop, sig in (("StartAuthorisation", "Start_Charge_Authorisation"), ("CCSAuthorisationDone", "CCS_Authorisation_Done"),
                  ("CCSAuthorisationValid", "CCS_Authorisation_Valid"), ("ChargeParametersDone", "Charge_Parameters_Done"),
                  ("UserStopButton", "User_Stop_Button"), ("CHAdeMOStartButton", "CHAdeMO_Start_Button")):
    check(prop, status[prop] == (flags[sig] in on), "%s vs %s" % (status[prop], flags[sig]))
ncs = last_before("New_Charge_Session", t1)
check("Protocol", status["Protocol"] == ncs["Communication_Protocol"], "%s vs %s" % (status["Protocol"], ncs["Communication_Protocol"]))
check("Plug", status["Plug"] == ncs["Plug_and_pins"], "%s vs %s" % (status["Plug"], ncs["Plug_and_pins"]))
check("EVMaximumVoltage", abs(status["EVMaximumVoltage"] - float(ncs["EV_Maximum_Voltage"])) < 0.05, "%s vs %s" % (status["EVMaximumVoltage"], ncs["EV_Maximum_Voltage"]))
check("EVMaximumCurrent", abs(status["EVMaximumCurrent"] - float(ncs["EV_Maximum_Current"])) < 0.05, "%s vs %s" % (status["EVMaximumCurrent"], ncs["EV_Maximum_Current"]))
check("BatteryCapacity", status["BatteryCapacity"] == int(ncs["Battery_Capacity"]), "%s vs %s" % (status["BatteryCapacity"], ncs["Battery_Capacity"]))
check("StateOfCharge", status["StateOfCharge"] == int(ncs["State_of_Charge"]), "%s vs %s" % (status["StateOfCharge"], ncs["State_of_Charge"]))
sys.exit(1 if errors else 0)
EOF
python3 - "$TEST_TMP/decoded" <<'EOF' || fail "no User_Stop_Button edge followed by Ending_Charge on the bus"
import sys
pressed = ending = None
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) < 4 or p[2] != "pistol=1":
        continue
    if pressed is None and p[1] == "Sequence_Control" and "User_Stop_Button=Pressed" in p:
        pressed = float(p[0])
    if pressed is not None and p[1] == "Advantics_Controller_Status" and p[3] == "State=Ending_Charge":
        ending = float(p[0])
        break
print("User_Stop_Button pressed at %s, Ending_Charge at %s" % (pressed, ending))
sys.exit(0 if pressed is not None and ending is not None else 1)
EOF
wait_prop SessionActive no 20

# ---- watch saw it all, one line per change
bg_stop watch INT || fail "seccbridgectl watch did not exit 0 on SIGINT"
bg_stop watchjson TERM || fail "seccbridgectl watch --json did not exit 0 on SIGTERM"
w=$(bg_log watch)
for re in " StartAuthorisation=yes$" " CCSAuthorisationDone=yes$" " ChargeParametersDone=yes$" \
        " ControllerState=Charging$" " ControllerState=Ending_Charge$" " UserStopButton=yes$" \
        " UserStopButton=no$" " SystemEnable=yes$" " Request=charge$"; do
        assert_file_has "$w" "^[0-9:.]+$re" "watch"
done
assert_file_lacks "$w" " (FramesIn|FramesOut|CANRxFrames)=" "watch (counters are not signalled)"
python3 - "$(bg_log watchjson)" <<'EOF' || fail "watch --json is not one JSON object per line"
import json, sys
n = 0
for line in open(sys.argv[1]):
    if not line.startswith("{"):
        continue        # the "watching ..." line on stderr
    o = json.loads(line)
    assert "time" in o and ("changes" in o or "event" in o), line
    n += 1
assert n > 5, n
EOF

# ---- the monitor: events, timing, and a capture that matches candump's
bg_stop monitor TERM || fail "seccsim monitor did not exit 0 on SIGTERM"
m=$(bg_log monitor)
assert_file_has "$m" "controller Not_Available -> Waiting_For_PEV" "monitor events"
assert_file_has "$m" "controller Charging -> Ending_Charge" "monitor events"
assert_file_has "$m" "Sequence_Control pistol=1 .*User_Stop_Button=Pressed" "monitor events"
assert_file_has "$m" "summary: .*Advantics_Controller_Status last +[0-9]+ ms, mean +[0-9]+ ms, max +[0-9]+ ms; Power_Modules_Status last +[0-9]+ ms" \
        "monitor summary"
candump_stop bus
python3 - "$(bg_log bus)" "$TEST_TMP/monitor.can" <<'EOF' || fail "the monitor's --log is not the traffic candump saw"
import sys
from collections import Counter
def frames(path):
    out = []
    for line in open(path):
        p = line.split()
        assert len(p) == 3 and p[0].startswith("(") and p[1] == "vcan0", line
        out.append(p[2])
    return out
dump, mon = frames(sys.argv[1]), frames(sys.argv[2])
# The monitor started after candump and stopped before it, and two sockets
# may see frames sent at the same moment from two CPUs in either order: the
# monitor's frames must all be candump's, and nearly all of them.
missing = Counter(mon) - Counter(dump)
print("monitor log: %d frames, candump: %d, not in candump's: %d" % (len(mon), len(dump), sum(missing.values())))
sys.exit(0 if not missing and len(mon) >= 0.9 * len(dump) and len(mon) > 100 else 1)
EOF

# ---- the daemon logged each operator action once, and stops cleanly
rc=0
bg_stop daemon TERM || rc=$?
assert_eq 0 "$rc" "daemon exit status"
d=$(bg_log daemon)
for re in "operator \\(:[0-9.]+\\): start authorisation given" "operator \\(:[0-9.]+\\): CCS authorisation done, valid" \
        "operator \\(:[0-9.]+\\): charge parameters done" "operator \\(:[0-9.]+\\): user stop button pressed"; do
        assert_eq 1 "$(count_lines "$d" "$re")" "daemon log lines /$re/"
done
assert_file_lacks "$d" "bus: D-Bus" "daemon log (no bus trouble)"
