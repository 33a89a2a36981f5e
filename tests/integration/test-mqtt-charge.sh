#!/usr/bin/env bash
# A whole CCS charge on vcan with the daemon publishing to a real mosquitto
# on a Unix socket (the local broker of a gateway), the state at its highest
# rate, and mosquitto_sub reading: every message matches its schema in
# doc/mqtt.md, and they come in the documented order -- online, the state,
# session_started, states of the charge, session_ended with its duration,
# energy and stop reason, the idle state, offline at the stop.  The energy
# estimate agrees with V x I on the bus; the status period is the
# protocol's.  The metrics file is accepted by Prometheus' promtool and
# agrees with the events.
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
test_begin "$@"
# shellcheck source-path=SCRIPTDIR source=mqtt-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/mqtt-lib.sh"

mqtt_broker_start
mqtt_reader_start
metrics=$TEST_TMP/metrics.prom
session_config "[metrics]" "path = $metrics" "interval_ms = 1000"
mqtt_daemon_lines "socket = $MQTT_SOCK" "state_max_per_s = 20" >>"$S_CONF"
"$SECCBRIDGE" --check-config -c "$S_CONF" >"$TEST_TMP/check.out" 2>&1 || { show_file "$TEST_TMP/check.out"; fail "config"; }

session_run charge -- --protocol ccs --charge-time 10 --profile 100,150,50
expect_verdict 0
expect_daemon_clean
assert_file_has "$S_DLOG" "mqtt: connected to unix:$MQTT_SOCK as " "daemon log"
assert_file_lacks "$S_DLOG" "mqtt: broker:" "daemon log (no broker trouble)"

# Power_Modules_Status every 100 ms through the session, publishing or not.
t_ncs=$(first_after 0 "New_Charge_Session pistol=1 ")
t_csf=$(first_after 0 "Charge_Session_Finished pistol=1 ")
[ -n "$t_ncs" ] && [ -n "$t_csf" ] || fail "no New_Charge_Session or Charge_Session_Finished on the bus"
read -r max n < <(status_gaps "$t_ncs" "$t_csf")
note "Power_Modules_Status: $n in the session, largest gap $max ms"
[ "$max" -le 300 ] || fail "Power_Modules_Status gap of $max ms"

# Every message against its schema.
bg_stop reader TERM || true
mqtt_check --json "$TEST_TMP/messages.json"

# The order and the content, for the daemon's last run (a retried session
# runs the daemon again).
/usr/bin/python3 - "$TEST_TMP/messages.json" "$S_DEC" "$t_ncs" "$t_csf" <<'EOF' || { tail -n 8 "$TEST_TMP/mqtt-check.out" >&2; show_file "$S_DLOG"; show_file "$(bg_log broker)"; fail "the messages are not what doc/mqtt.md says"; }
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
      "the last message: offline, stopped (the last ones: %s)" % [(k, m.get("online"), m.get("reason"))
                                                                   for k, (t, m) in zip(kinds[-4:], msgs[-4:])])
events = [m for t, m in msgs if t == "event"]
# Once seccsim has ended, its heartbeat stops: the daemon, not yet stopped,
# may see the controller go (R1).  That fault, and nothing else, may follow.
late = [e for e in events[2:] if e["type"] == "fault" and e["cause"] == "controller-timeout"]
events = events[:2] + [e for e in events[2:] if e not in late]
check([e["type"] for e in events] == ["session_started", "session_ended"],
      "events: session_started, session_ended (no fault): %s" % [e["type"] for e in events])
check([e["seq"] for e in events] == [1, 2], "numbered 1, 2")
i_start, i_end = kinds.index("event:session_started"), kinds.index("event:session_ended")
states = [(i, m) for i, (t, m) in enumerate(msgs) if t == "state"]
before = [m for i, m in states if i < i_start]
during = [m for i, m in states if i_start < i < i_end]
after = [m for i, m in states if i > i_end]
check(before and not before[-1]["session"]["active"], "an idle state before the session")
check(during and all(m["session"]["active"] for m in during), "states of the session while it lasts")
check(any(m["controller"]["state"] == "Charging" and m["command"]["mode"] == "charge"
          and m["measurement"]["current_a"] > 100 for m in during), "a state while charging, over 100 A")
check(after and not after[-1]["session"]["active"] and after[-1]["session"]["number"] == 1,
      "the idle state after it, session number 1")
check(all(m["session"]["energy_estimate"] is True for m in during), "energy marked as an estimate")
delivered = [m["session"]["energy_delivered_wh"] for m in during]
check(delivered == sorted(delivered), "energy so far only grows")

start, end = events
check(start["protocol"] == "CCS_ISO_15118_2013_v2" and start["ev_max_voltage_v"] == 500.0, "session_started: the vehicle")
check(end["stop_reason"] == "Clean_Stop" and end["fault"] == "none" and end["charge_started"] is True,
      "session_ended: Clean_Stop, no fault, charged")
check(end["started"] == start["time"], "session_ended names its start")
check(end["peak_power_w"] > 50000, "peak power %.0f W" % end["peak_power_w"])

# The energy estimate against V x I of the Power_Modules_Status frames on the bus.
t0, t1 = float(sys.argv[3]), float(sys.argv[4])
frames = []
for line in open(sys.argv[2]):
    p = line.split()
    if len(p) > 4 and p[1] == "Power_Modules_Status" and p[2] == "pistol=1":
        sig = dict(x.split("=", 1) for x in p[3:] if "=" in x)
        frames.append((float(p[0]), float(sig["Present_Voltage"]) * float(sig["Present_Current"])))
bus_wh = sum(pw * (b[0] - a[0]) for (a, b, pw) in ((a, b, a[1]) for a, b in zip(frames, frames[1:]))
             if t0 <= a[0] <= t1) / 3600
ours = end["energy_delivered_wh"]
check(bus_wh > 50 and abs(ours - bus_wh) <= 0.05 * bus_wh + 1,
      "energy %.1f Wh, from the bus %.1f Wh" % (ours, bus_wh))
dur = t1 - t0
check(abs(end["duration_s"] - dur) < 1.0, "duration %.1f s, on the bus %.1f s" % (end["duration_s"], dur))
# At most 20 states a second (state_max_per_s).
check(len(during) <= 20 * (end["duration_s"] + 1), "%d states in %.1f s at most 20 a second" % (len(during), end["duration_s"]))
check(len(during) >= end["duration_s"] * 2, "%d states during the session (it changes all the time)" % len(during))
sys.exit(1 if errors else 0)
EOF

# The metrics file: Prometheus' parser and linter take it, and it agrees
# with the events.
[ -s "$metrics" ] || fail "no metrics file $metrics"
[ ! -e "$metrics.tmp" ] || fail "the temporary file was left behind"
promtool_check "$metrics"
assert_file_has "$metrics" '^seccbridge_sessions_started_total\{pistol="1"\} 1$' "metrics"
assert_file_has "$metrics" '^seccbridge_sessions_ended_total\{pistol="1"\} 1$' "metrics"
assert_file_has "$metrics" '^seccbridge_mqtt_connected\{pistol="1"\} 1$' "metrics"
# The events acknowledged when the file was last written (every second,
# not at the stop): the session's two at least, and no more than the
# reader got from this run (2, or 3 with the controller's late loss
# accepted above).
acked=$(sed -nE 's/^seccbridge_mqtt_events_acknowledged_total\{pistol="1"\} ([0-9]+)$/\1/p' "$metrics")
events=$(/usr/bin/python3 -c 'import json, sys
msgs = json.load(open(sys.argv[1]))
run = [m for t, m in msgs if t == "online" and m["online"]][-1]["run"]
print(sum(1 for t, m in msgs if t == "event" and m["run"] == run))' "$TEST_TMP/messages.json")
[ -n "$acked" ] && [ "$acked" -ge 2 ] && [ "$acked" -le "$events" ] \
        || fail "metrics: ${acked:-no} events acknowledged, the reader got $events of this run (at least the session's 2)"
assert_file_has "$metrics" '^seccbridge_mqtt_events_dropped_total\{pistol="1"\} 0$' "metrics"
assert_file_has "$metrics" '^seccbridge_frames_received_total\{pistol="1"\} [1-9][0-9]+$' "metrics"
joules=$(sed -nE 's/^seccbridge_energy_delivered_joules_total\{pistol="1"\} ([0-9.]+)$/\1/p' "$metrics")
wh=$(/usr/bin/python3 -c 'import json, sys; print([m for t, m in json.load(open(sys.argv[1])) if t == "event" and m["type"] == "session_ended"][-1]["energy_delivered_wh"])' "$TEST_TMP/messages.json")
awk -v j="$joules" -v w="$wh" 'BEGIN { exit !(j != "" && (j / 3600 - w) ^ 2 < 0.0001) }' \
        || fail "metrics energy $joules J, session_ended $wh Wh"
