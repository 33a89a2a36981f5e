#!/usr/bin/env bash
# The broker goes away in the middle of a charge, and the charge does not
# notice: mosquitto on loopback TCP is first frozen (SIGSTOP) for 3 s, then
# stopped (SIGTERM, as a restart does) until after the session ended, then
# started again.  seccsim's verdict and the status period are those of a
# charge without MQTT; the reader (a persistent session) sees the last will
# (offline, connection_lost) while the gateway's link is down; what happened
# meanwhile (a reload, the end of the session) is delivered after the
# reconnection, each event once at least and in order; the daemon logs the
# outage once when it starts and once when it ends.
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
test_begin "$@"
# shellcheck source-path=SCRIPTDIR source=mqtt-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/mqtt-lib.sh"

mqtt_broker_start
mqtt_reader_start -c -i reader
session_config
mqtt_daemon_lines "host = 127.0.0.1" "port = $MQTT_PORT" "state_max_per_s = 10" >>"$S_CONF"

candump_start bus "$VCAN_IF"
session_daemon_start
dlog=$(bg_log daemon)
at_exit sed "s/^/# daemon: /" "$dlog"
wait_for_line "$dlog" "mqtt: connected to 127.0.0.1:$MQTT_PORT as " 10

# The controller: a 14 s charge, then 12 s of idle heartbeat.
bg_start seccsim "${CONTROLLER_NICE[@]}" "$SECCSIM" session -i "$VCAN_IF" --protocol ccs --charge-time 14 --cooldown 12000
out=$(bg_log seccsim)
at_exit sed "s/^/# seccsim: /" "$out"
wait_for_line "$out" "state Charging " 60

# ---- frozen for 3 s while charging
t_freeze=$EPOCHREALTIME
kill -STOP "$(bg_pid broker)"
at_exit kill -CONT "$(bg_pid broker)"
sleep 3
kill -CONT "$(bg_pid broker)"

# ---- stopped: the link drops, the reader gets the last will
sleep 1
mqtt_broker_stop TERM
wait_for_line "$dlog" "mqtt: broker: connection to 127.0.0.1:$MQTT_PORT lost" 10
wait_for_line "$(bg_log reader)" "^$MQTT_PREFIX/online \\{\"online\":false,\"reason\":\"connection_lost\"" 5
# While it is down: a reload, and the end of the session.
kill -HUP "$(bg_pid daemon)"
wait_for_line "$dlog" "reload: applied " 10
wait_for_line "$out" "Charge_Session_Finished \\(Clean_Stop\\): session 1 over" 60
wait_for_line "$dlog" "session: closed" 10
sleep 1

# ---- back: the daemon reconnects by itself (backoff at most 2 s here)
mqtt_broker_start
t_back=$EPOCHREALTIME
wait_for_line "$dlog" "mqtt: broker: back to normal after" 10
wait_for_line "$(bg_log reader)" "\"type\":\"session_ended\"" 15

rc=0
bg_wait seccsim 60 || rc=$?
# A seccsim that gave up as inconclusive makes this inconclusive (fail()).
assert_eq 0 "$rc" "seccsim session exit status"
assert_file_has "$out" "^verdict: PASS$" "seccsim verdict"
rc=0
bg_stop daemon TERM || rc=$?
assert_eq 0 "$rc" "daemon exit status"
candump_stop bus
bg_stop reader TERM || true

# Power_Modules_Status every 100 ms through the freeze, the outage and the
# reconnection.
S_DEC=$TEST_TMP/decoded
session_decode "$(bg_log bus)" >"$S_DEC"
read -r max n < <(status_gaps "$t_freeze" "$t_back")
note "Power_Modules_Status during the broker's outage: $n, largest gap $max ms"
[ "$max" -le 300 ] || fail "Power_Modules_Status gap of $max ms while the broker was away"

# The outage in the log: once when it started, once when it ended.
assert_eq 1 "$(count_lines "$dlog" "mqtt: broker: connection to .* lost")" "'lost' lines"
assert_eq 1 "$(count_lines "$dlog" "mqtt: broker: back to normal after")" "'back to normal' lines"
[ "$(count_lines "$dlog" "mqtt: broker:")" -le 4 ] || { show_file "$dlog"; fail "the outage flooded the log"; }
assert_eq 2 "$(count_lines "$dlog" "mqtt: connected to ")" "connections"

mqtt_check --json "$TEST_TMP/messages.json"
/usr/bin/python3 - "$TEST_TMP/messages.json" <<'EOF' || fail "the reader did not get what the outage should give"
import json, sys
msgs = json.load(open(sys.argv[1]))
errors = []
def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        errors.append(what)

online = [(i, m) for i, (t, m) in enumerate(msgs) if t == "online"]
ups = [i for i, m in online if m["online"]]
wills = [i for i, m in online if not m["online"] and m["reason"] == "connection_lost"]
check(len(ups) >= 2, "online twice (before and after the outage)")
check(wills and ups[0] < wills[0] < ups[-1], "the last will between the two connections")
events = {}
order = []
for t, m in msgs:
    if t == "event":
        order.append(m["seq"])
        events.setdefault(m["seq"], m)
types = [events[s]["type"] for s in sorted(events)]
# After seccsim ended, its heartbeat stops while the daemon still runs: the
# controller's loss (R1) is the one event that may follow.
while len(types) > 3 and events[sorted(events)[len(types) - 1]]["type"] == "fault" and \
        events[sorted(events)[len(types) - 1]]["cause"] == "controller-timeout":
    types.pop()
check(types == ["session_started", "config_reloaded", "session_ended"], "events, once each by seq: %s" % types)
check(sorted(events) == list(range(1, len(events) + 1)), "no gap in seq")
firsts = [s for k, s in enumerate(order) if s not in order[:k]]
check(firsts == sorted(firsts), "first deliveries in order")
reconnected = msgs[ups[-1]][1]["time"]
ended = [m for m in events.values() if m["type"] == "session_ended"]
reload = [m for m in events.values() if m["type"] == "config_reloaded"]
check(ended and ended[0]["time"] < reconnected and reload[0]["time"] < reconnected,
      "session_ended and config_reloaded happened while the broker was away")
check(ended and ended[0]["stop_reason"] == "Clean_Stop" and ended[0]["energy_delivered_wh"] > 0,
      "session_ended: Clean_Stop, energy")
check(reload and reload[0]["applied"] is True and reload[0]["reason"] is None, "config_reloaded: applied")
state_after = [m for i, (t, m) in enumerate(msgs) if t == "state" and i > ups[-1]]
check(state_after and not state_after[-1]["session"]["active"], "the state again after the reconnection: idle")
sys.exit(1 if errors else 0)
EOF
