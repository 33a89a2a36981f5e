#!/usr/bin/env bash
# Interface version 3 published: a whole CCS session of a v3 controller
# (seccsim session --interface-version 3) with the daemon publishing to a
# real mosquitto on a Unix socket, mosquitto_sub reading.  Every message
# matches its schema in doc/mqtt.md and they come in the documented order;
# the state says interface version 3; session_started, which goes out at
# New_Charge_Session before EV_Information_* arrive (V5), has null for the
# vehicle's limits, battery and state of charge, and the states of the
# session carry them once they came: the EV's information field by field,
# and the request's Power_Function, setpoints mode and output contactors
# as DC_Power_Control had them.
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
test_begin "$@"
# shellcheck source-path=SCRIPTDIR source=mqtt-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/mqtt-lib.sh"

mqtt_broker_start
mqtt_reader_start
S_INTERFACE_VERSION=3
session_config
mqtt_daemon_lines "socket = $MQTT_SOCK" "state_max_per_s = 20" >>"$S_CONF"
"$SECCBRIDGE" --check-config -c "$S_CONF" >"$TEST_TMP/check.out" 2>&1 || { show_file "$TEST_TMP/check.out"; fail "config"; }

session_run v3mqtt -- --protocol ccs --charge-time 6
expect_verdict 0
expect_daemon_clean
assert_file_has "$S_DLOG" "interface version 3 \\(database v3.6\\)" "daemon log"
assert_file_has "$S_DLOG" "mqtt: connected to unix:$MQTT_SOCK as " "daemon log"
assert_file_lacks "$S_DLOG" "mqtt: broker:" "daemon log (no broker trouble)"
assert_file_has "$S_DEC" "EV_Information_Voltages pistol=1 .*EV_Maximum_Voltage=500.0" "EV information on the bus"

bg_stop reader TERM || true
mqtt_check --json "$TEST_TMP/messages.json"

/usr/bin/python3 - "$TEST_TMP/messages.json" <<'EOF' || { tail -n 8 "$TEST_TMP/mqtt-check.out" >&2; show_file "$S_DLOG"; show_file "$(bg_log broker)"; fail "the v3 messages are not what doc/mqtt.md says"; }
import json, sys
msgs = json.load(open(sys.argv[1]))
run = [m for t, m in msgs if t == "online" and m["online"]][-1]["run"]
msgs = [(t, m) for t, m in msgs if m.get("run") == run]
errors = []
def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        errors.append(what)

kinds = [t if t != "event" else "event:" + m["type"] for t, m in msgs]
check(kinds[0] == "online" and msgs[0][1]["online"] is True, "the first message: online")
check(kinds[-1] == "online" and msgs[-1][1]["online"] is False and msgs[-1][1]["reason"] == "stopped",
      "the last message: offline, stopped")
events = [m for t, m in msgs if t == "event"]
# Once seccsim has ended its heartbeat stops: the daemon, not yet stopped,
# may see the controller go (R1).  That fault, and nothing else, may follow.
late = [e for e in events[2:] if e["type"] == "fault" and e["cause"] == "controller-timeout"]
events = events[:2] + [e for e in events[2:] if e not in late]
check([e["type"] for e in events] == ["session_started", "session_ended"],
      "events: session_started, session_ended (no fault): %s"
      % [(e["type"], e.get("fault"), e.get("cause"), e["time"]) for e in events])
if len(events) != 2 or events[0]["type"] != "session_started" or events[-1]["type"] != "session_ended":
    sys.exit(1)
start, end = events[0], events[-1]
states = [(i, m) for i, (t, m) in enumerate(msgs) if t == "state"]
check(all(m["interface_version"] == 3 for i, m in states), "every state: interface version 3")
i_start, i_end = kinds.index("event:session_started"), kinds.index("event:session_ended")
before = [m for i, m in states if i < i_start]
during = [m for i, m in states if i_start < i < i_end]
after = [m for i, m in states if i > i_end]
check(before and not before[-1]["session"]["active"] and before[-1]["session"]["ev_information"] is None,
      "an idle state before the session, no EV information")

# New_Charge_Session of v3 gives protocol and plug only: what
# EV_Information_* had not given when the session opened is null, never 0
# (seccsim sends them right after it: the daemon may have read them in the
# same batch of frames, and then has them).
check(start["interface_version"] == 3 and start["protocol"] == "CCS_ISO_15118_2013_v2",
      "session_started: version 3, the protocol")
known = {"ev_max_voltage_v": 500.0, "ev_max_current_a": 200.0, "battery_capacity_kwh": 60}
check(all(start[k] in (None, v) for k, v in known.items()) and start["soc_pct"] != 0,
      "session_started: the vehicle's limits, battery and SoC null (not yet known) or what EV_Information_* said: %s"
      % {k: start[k] for k in list(known) + ["soc_pct"]})

# The states of the session carry EV_Information_* once they came, and
# nothing in them is ever 0 for unknown.
check(during and all(m["session"]["active"] and m["session"]["ev_information"] is not None for m in during),
      "states of the session, each with an ev_information object")
full = [m for m in during if m["session"]["ev_max_voltage_v"] is not None]
check(full, "a state of the session with the vehicle's limits")
for m in during:
    s = m["session"]
    if s["ev_max_voltage_v"] is None:
        check(s["ev_information"]["max_voltage_v"] is None, "before EV_Information_Voltages: null in both places")
if full:
    s = full[-1]["session"]
    e = s["ev_information"]
    check(s["ev_max_voltage_v"] == 500.0 and e["max_voltage_v"] == 500.0, "EV max voltage 500 V (EV_Information_Voltages)")
    check(e["min_voltage_v"] is not None and 0 < e["min_voltage_v"] < 500 and e["present_voltage_v"] > 0,
          "EV min and present voltage")
    check(s["ev_max_current_a"] is not None and s["ev_max_current_a"] > 0
          and e["max_charge_current_a"] == s["ev_max_current_a"] and e["max_charge_power_w"] > 0
          and e["max_charge_power_w"] % 1000 == 0, "EV charge limits (EV_Information_Charge_Limits)")
    check(e["max_discharge_current_a"] == 0.0 and e["max_discharge_power_w"] == 0, "no discharge (a charge-only vehicle)")
    check(s["battery_capacity_kwh"] == 60 and e["soc_target_pct"] == 100 and e["soc_max_pct"] == 100
          and e["soc_present_pct"] == s["soc_pct"],
          "battery and SoC (EV_Information_Battery): %s %s"
          % ({k: s[k] for k in ("battery_capacity_kwh", "soc_start_pct", "soc_pct")},
             {k: e[k] for k in ("soc_present_pct", "soc_min_pct", "soc_target_pct", "soc_max_pct")}))
    check(s["soc_start_pct"] is not None, "SoC at the start, from the first EV_Information_Battery")
    check(e["target_energy_request_kwh"] is not None and e["target_energy_request_kwh"] > 0,
          "energy request (EV_Information_Energy)")
charging = [m for m in during if m["request"]["kind"] == "charge"]
check(charging and all(m["request"]["power_function"] == "Power_Transfer" and m["request"]["setpoints_mode"] is not None
                       and m["request"]["output_contactors"] == "Close" for m in charging),
      "requests to charge: Power_Transfer, a setpoints mode, contactors closed")
check(any(m["controller"]["state"] == "Charging" and m["measurement"]["current_a"] > 100 for m in during),
      "a state while charging, over 100 A")
check(after and not after[-1]["session"]["active"] and after[-1]["session"]["ev_information"] is None
      and after[-1]["request"]["power_function"] is None, "the idle state after it: no EV information, no request")
check(end["stop_reason"] == "Clean_Stop" and end["fault"] == "none" and end["charge_started"] is True
      and end["soc_start_pct"] is not None and end["soc_end_pct"] is not None
      and end["soc_end_pct"] >= end["soc_start_pct"], "session_ended: Clean_Stop, no fault, SoC from start to end: %s"
      % {k: end[k] for k in ("stop_reason", "fault", "charge_started", "soc_start_pct", "soc_end_pct")})
sys.exit(1 if errors else 0)
EOF
