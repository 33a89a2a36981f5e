#!/usr/bin/env bash
# The D-Bus policy systemd/org.seccbridge.conf on a bus set up like the
# system bus: anyone may read the properties, introspect and watch; only root
# and the seccbridge group may call the methods; a user without the policy's
# blessing cannot own a seccbridge name (the daemon says why, once).
#
# The tests run as root; "another user" is nobody, through setpriv.  When
# the machine has no seccbridge group (a test VM, a laptop), the group rule
# is checked on a copy of the policy whose group is "users" instead.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin "$@"
# shellcheck source-path=SCRIPTDIR source=test-dbus-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-dbus-lib.sh"
# shellcheck source-path=SCRIPTDIR source=daemon-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/daemon-lib.sh"
need_build src/seccbridge
need_cmd setpriv busctl
[ "$(id -u)" -eq 0 ] || skip "the policy test switches users: it needs root"
getent passwd nobody >/dev/null || skip "no user nobody"
vcan_is_up "$VCAN_IF" || fail "$VCAN_IF is not up"

dbus_setup
dbus_bus_start
dbus_daemon_conf "[sequence]" "start_authorisation = external"
cyclic_start
cyclic 01068009#01
dbus_daemon_start
wait_prop ControllerState Waiting_For_PEV
nobody_group=$(id -gn nobody)

# as_nobody STATUS ARGS...: seccbridgectl as nobody exits with STATUS.
as_nobody() {
        local want=$1 rc=0
        shift
        ctl_as nobody "$nobody_group" "$@" >"$TEST_TMP/nobody.out" 2>"$TEST_TMP/nobody.err" || rc=$?
        if [ "$rc" != "$want" ]; then
                show_file "$TEST_TMP/nobody.out"
                show_file "$TEST_TMP/nobody.err"
                fail "seccbridgectl $* as nobody: exit status $rc, expected $want"
        fi
}

# ---- anyone reads, introspects and watches
as_nobody 0 status
assert_file_has "$TEST_TMP/nobody.out" "^controller +Waiting_For_PEV$" "status as nobody"
as_nobody 0 get ControllerState FramesIn
as_nobody 0 --json status
setpriv --reuid=nobody --regid="$nobody_group" --clear-groups busctl --address="$DBUS_ADDR" \
        introspect org.seccbridge.pistol1 /org/seccbridge/pistol/1 >"$TEST_TMP/introspect" \
        || fail "introspection as nobody refused"
assert_file_has "$TEST_TMP/introspect" "^\\.SetStartAuthorisation +method" "introspection as nobody"
bg_start watch setpriv --reuid=nobody --regid="$nobody_group" --clear-groups "$CTL" --address "$DBUS_ADDR" watch
wait_for_line "$(bg_log watch)" "watching org.seccbridge.pistol1"

# ---- nobody may not operate: refused by the bus, nothing reaches the daemon
for args in authorize deny "ccs-auth ok" parameters-done stop chademo-start "limits --max-current 10"; do
        # shellcheck disable=SC2086  # word splitting wanted
        as_nobody 1 --json $args
        assert_file_has "$TEST_TMP/nobody.out" '"error": "org.freedesktop.DBus.Error.AccessDenied"' "$args as nobody"
        assert_file_has "$TEST_TMP/nobody.err" "the bus policy lets only root and the seccbridge group" "$args as nobody"
done
assert_eq no "$(prop StartAuthorisation)" "StartAuthorisation after nobody's attempts"
assert_eq 0.0 "$(prop DynamicMaxCurrent)" "DynamicMaxCurrent after nobody's attempts"
assert_file_lacks "$(bg_log daemon)" "operator \\(" "daemon log after nobody's attempts"

# ---- root may, and nobody's watch sees the change
expect_ctl 0 authorize
wait_for_line "$(bg_log watch)" " StartAuthorisation=yes$"
bg_stop watch INT || fail "watch as nobody did not exit 0"

# ---- a daemon without the right to its name says so, once, and keeps running
cp "$D_CONF" "$DBUS_DIR/pistol2.conf"
sed -i 's/^pistol_index = 1$/pistol_index = 2/' "$DBUS_DIR/pistol2.conf"
chmod 0644 "$DBUS_DIR/pistol2.conf"
bg_start nobody_daemon setpriv --reuid=nobody --regid="$nobody_group" --clear-groups \
        "$BUILD_DIR/src/seccbridge" -c "$DBUS_DIR/pistol2.conf"
at_exit sed "s/^/# nobody's daemon: /" "$(bg_log nobody_daemon)"
wait_for_line "$(bg_log nobody_daemon)" "cannot own org.seccbridge.pistol2: .*policy" 20
sleep 1
bg_running nobody_daemon || fail "the daemon without its name stopped"
assert_eq 1 "$(count_lines "$(bg_log nobody_daemon)" "cannot own")" "'cannot own' lines"
bg_stop nobody_daemon TERM || fail "the daemon without its name did not stop cleanly"

# ---- the seccbridge group may operate
group=seccbridge
if ! getent group seccbridge >/dev/null; then
        group=users
        getent group users >/dev/null || skip "neither a seccbridge nor a users group to test the group rule"
        note "no seccbridge group here: checking the group rule with a copy of the policy for group $group"
        bg_stop daemon TERM || true
        dbus_bus_stop
        sed 's/group="seccbridge"/group="users"/' "$SECCBRIDGE_ROOT/systemd/org.seccbridge.conf" \
                >"$DBUS_DIR/policy-users.conf"
        dbus_bus_conf "$DBUS_DIR/policy-users.conf" >"$DBUS_DIR/bus.conf"
        dbus_bus_start
        dbus_daemon_start
fi
rc=0
ctl_as nobody "$nobody_group,$group" deny >"$TEST_TMP/group.out" 2>&1 || rc=$?
[ "$rc" = 0 ] || { show_file "$TEST_TMP/group.out"; fail "deny as a member of $group: exit status $rc"; }
assert_eq no "$(prop StartAuthorisation)" "StartAuthorisation after deny by a member of $group"
assert_file_has "$(bg_log daemon)" "operator \\(:[0-9.]+\\): start authorisation withdrawn" "daemon log"
