#!/usr/bin/env bash
# SIGHUP reloads the config file: an invalid file is refused with its
# "file:line: key: reason" and the running config stays; a changed pistol
# index is refused too; a valid file applies (new limits go out at once,
# and a changed interface moves the socket).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin "$@"
need_build src/seccbridge src/seccsim/seccsim
need_cmd cansend candump
vcan_is_up "$VCAN_IF" || fail "$VCAN_IF is not up"

# shellcheck source-path=SCRIPTDIR source=daemon-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/daemon-lib.sh"

conf=$TEST_TMP/seccbridge.conf
cyclic_start
daemon_conf
daemon_start
pid=$(bg_pid daemon)
candump_start bus "$VCAN_IF"
dump=$(bg_log bus)

cyclic 01068009#01
wait_for_line "$dump" " 01060011#1027E20400000000$"     # 1000.0 V, 125.0 A

# hup N: send SIGHUP and wait for the N-th reload to finish.
hup() {
        kill -HUP "$pid"
        wait_until 10 at_least "$1" "$log" "reload: (applied|.*keeping the running config)" \
                || { show_file "$log"; fail "reload $1 did not finish"; }
}

# --- invalid: a value out of range (line 6)
cp "$conf" "$TEST_TMP/good.conf"
sed -i 's/^max_voltage = 1000$/max_voltage = 99999/' "$conf"
hup 1
assert_file_has "$log" "reload: $conf:6: limits\\.max_voltage: 99999 V is out of range \\(1 to 6553\\.5\\); keeping the running config"
# --- invalid: an unknown key
cp "$TEST_TMP/good.conf" "$conf"
printf '[safety]\ncontroller_timeout = 100\n' >>"$conf"
hup 2
assert_file_has "$log" "reload: $conf:[0-9]+: safety\\.controller_timeout: unknown key; keeping the running config"
# --- a pistol index cannot change under a running session
cp "$TEST_TMP/good.conf" "$conf"
sed -i 's/^pistol_index = 1$/pistol_index = 2/' "$conf"
hup 3
assert_file_has "$log" "can\\.pistol_index cannot change while running \\(1 -> 2\\).*keeping the running config"
bg_running daemon || fail "the daemon stopped on a bad reload"
sleep 0.5
# Nothing changed: still the old limits, never other ones.
grep -E " 01060011#" "$dump" | grep -v "#1027E20400000000$" >"$TEST_TMP/other-limits" || true
[ ! -s "$TEST_TMP/other-limits" ] || { show_file "$TEST_TMP/other-limits"; fail "limits changed after a refused reload"; }

# --- valid: tighter limits go out at once (800.0 V = 1F40, 100.0 A = 03E8)
cp "$TEST_TMP/good.conf" "$conf"
sed -i 's/^max_voltage = 1000$/max_voltage = 800/; s/^max_current = 125$/max_current = 100/' "$conf"
hup 4
assert_file_has "$log" "reload: applied $conf"
wait_for_line "$dump" " 01060011#401FE80300000000$"

# --- valid: another interface (needs root to make one)
if [ "$(id -u)" -eq 0 ]; then
        other=vcanr$$
        ip link add dev "$other" type vcan
        at_exit ip link delete dev "$other"
        ip link set dev "$other" up
        candump_start other "$other"
        sed -i "s/^interface = $VCAN_IF\$/interface = $other/" "$conf"
        hup 5
        assert_file_has "$log" "reload: moving from $VCAN_IF to $other"
        wait_for_line "$log" "can: listening on $other"
        # The controller is now on the other bus; the daemon answers there.
        cyclic
        sleep 0.3
        bg_stop cyclic || true
        bg_start cyclic2 "$(command -v /usr/bin/python3 || command -v python3)" \
                "$SECCBRIDGE_ROOT/tests/integration/cyclic-sender.py" "$other" "$TEST_TMP/cyclic"
        cyclic 01068009#03 01068001#02018813D0071E28
        wait_for_line "$(bg_log other)" " 01060010#"
        wait_for_line "$log" "session: System_Enable Allowed"
else
        note "not root: moving to another interface not checked"
fi

rc=0
bg_stop daemon || rc=$?
assert_eq 0 "$rc" "exit status after SIGTERM"
