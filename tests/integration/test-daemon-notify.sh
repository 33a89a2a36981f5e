#!/usr/bin/env bash
# The sd_notify protocol, seen from a stand-in for the service manager on
# NOTIFY_SOCKET: READY=1 with a first STATUS= once config and socket are
# good; STATUS= again only when something changed; WATCHDOG=1 every half of
# the watchdog interval while the core ticks, and none while the process is
# frozen; RELOADING=1 and READY=1 around a SIGHUP; STOPPING=1 at SIGTERM.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin "$@"
need_build src/seccbridge src/seccsim/seccsim
need_cmd cansend candump
vcan_is_up "$VCAN_IF" || fail "$VCAN_IF is not up"

# shellcheck source-path=SCRIPTDIR source=daemon-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/daemon-lib.sh"

# --- the service manager: every datagram on the socket, one line each,
# with its arrival time in ms.
python=$(command -v /usr/bin/python3 || command -v python3)
cat >"$TEST_TMP/manager.py" <<'PY'
import os, socket, sys, time
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "a", buffering=1) as f:
    while True:
        msg = s.recv(4096).decode()
        t = int(time.monotonic() * 1000)
        for line in msg.split("\n"):
            if line:
                f.write("%d %s\n" % (t, line))
PY
notes=$TEST_TMP/notify.log
: >"$notes"
bg_start manager "$python" "$TEST_TMP/manager.py" "$TEST_TMP/notify.sock" "$notes"
wait_until 5 test -S "$TEST_TMP/notify.sock" || fail "no notify socket"

cyclic_start
daemon_conf
# A 1 s watchdog: WATCHDOG=1 every 500 ms.  No WATCHDOG_PID: any process.
NOTIFY_SOCKET=$TEST_TMP/notify.sock WATCHDOG_USEC=1000000 daemon_start
pid=$(bg_pid daemon)

# --- READY=1 with the first STATUS=, after the socket is open
wait_for_line "$notes" "^[0-9]+ READY=1$"
assert_file_has "$notes" "^[0-9]+ STATUS=controller absent; session closed; System_Enable 0; fault none; converter off \\(.*\\); CAN $VCAN_IF up$"
ready_line=$(grep -n "READY=1" "$notes" | head -n 1 | cut -d: -f1)
status_line=$(grep -n "STATUS=" "$notes" | head -n 1 | cut -d: -f1)
[ "$status_line" -eq $((ready_line + 1)) ] || fail "READY=1 and the first STATUS= are not one message"

# --- STATUS= follows the controller, once per change
cyclic 01068009#01
wait_for_line "$notes" "STATUS=controller Waiting_For_PEV; session closed;"
cyclic 01068009#03 01068001#02018813D0071E28
wait_for_line "$notes" "STATUS=controller Connected_With_Full_Info; session open; System_Enable 1;"
sleep 2
grep -E "^[0-9]+ STATUS=" "$notes" | cut -d' ' -f2- >"$TEST_TMP/statuses"
if [ -n "$(uniq -d "$TEST_TMP/statuses")" ]; then
        show_file "$TEST_TMP/statuses"
        fail "STATUS= repeated without a change"
fi
n=$(count_lines "$TEST_TMP/statuses" .)
[ "$n" -le 8 ] || { show_file "$TEST_TMP/statuses"; fail "$n STATUS= messages for a few state changes"; }

# --- WATCHDOG=1 about every 500 ms
grep -E "^[0-9]+ WATCHDOG=1$" "$notes" | cut -d' ' -f1 >"$TEST_TMP/pets"
n=$(count_lines "$TEST_TMP/pets" .)
[ "$n" -ge 4 ] || { show_file "$notes"; fail "only $n WATCHDOG=1 in about 3 s"; }
gap=$(awk 'NR > 1 && $1 - prev > max { max = $1 - prev } { prev = $1 } END { print max + 0 }' "$TEST_TMP/pets")
[ "$gap" -lt 1000 ] || fail "$gap ms between two WATCHDOG=1, more than the 1 s watchdog"

# --- a frozen process pets nothing (the manager would restart it)
kill -STOP "$pid"
before=$(count_lines "$notes" "WATCHDOG=1")
sleep 1.5
after=$(count_lines "$notes" "WATCHDOG=1")
kill -CONT "$pid"
assert_eq "$before" "$after" "WATCHDOG=1 while stopped"
wait_until 5 at_least $((after + 1)) "$notes" "WATCHDOG=1" || fail "no WATCHDOG=1 after SIGCONT"

# --- reload: RELOADING=1, then READY=1 again
kill -HUP "$pid"
wait_until 5 at_least 1 "$notes" "RELOADING=1" || { show_file "$notes"; fail "no RELOADING=1"; }
wait_until 5 at_least 2 "$notes" "READY=1" || { show_file "$notes"; fail "no READY=1 after the reload"; }

# --- stop
cyclic 01068009#03
rc=0
bg_stop daemon || rc=$?
assert_eq 0 "$rc" "exit status after SIGTERM"
wait_for_line "$notes" "STOPPING=1"
