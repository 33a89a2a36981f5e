#!/usr/bin/env bash
# Helpers for the D-Bus tests (test-dbus-*.sh): a private message bus set up
# like Debian's system bus (method calls and name ownership denied unless a
# policy allows them) that includes the project's policy file
# systemd/org.seccbridge.conf, the daemon on it, and seccbridgectl.
#
# Sourced by the other test-dbus-*.sh scripts, after lib.sh and test_begin:
#       dbus_bus_start          start the bus: DBUS_ADDR, DBUS_SOCK
#       dbus_bus_stop [SIGNAL]  stop it (TERM)
#       dbus_daemon_conf LINES  $D_CONF for pistol 1 on $VCAN_IF, lab limits,
#                               the simulated converter, [dbus] on this bus;
#                               extra INI lines at the end
#       dbus_daemon_start       start the daemon, wait until it owns its name
#       calm_until SECONDS CMD  wait_until, polling 4 times a second
#       ctl ARGS                seccbridgectl on the private bus
#       ctl_as USER GROUPS ARGS the same as another user (setpriv)
#       ctl_rc ARGS             its exit status (output in $TEST_TMP/ctl.out,
#                               .err)
#       prop NAME               one property ("seccbridgectl get")
#
# The bus runs as root inside the test (in the VM: in the guest); its socket
# lives in a directory every user can reach, for the tests that run the
# client as another user.
#
# Run directly (as run.sh does with every test-*.sh), it checks the bus
# itself: the policy file loads, seccbridgectl reports usage errors (2) and
# finds no daemon (69) both before the bus exists and on an empty bus.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CTL=
DBUS_DIR=
DBUS_SOCK=
DBUS_ADDR=
D_CONF=
D_POLICY=

# dbus_bus_conf POLICY: the configuration of the private bus.
dbus_bus_conf() {
        cat <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$DBUS_SOCK</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <include>$1</include>
</busconfig>
EOF
}

# dbus_setup: paths and the bus configuration, with the project's policy
# file (or $D_POLICY); no process yet.
dbus_setup() {
        need_cmd dbus-daemon
        need_build src/seccbridgectl/seccbridgectl
        CTL=$BUILD_DIR/src/seccbridgectl/seccbridgectl
        D_POLICY=${D_POLICY:-$SECCBRIDGE_ROOT/systemd/org.seccbridge.conf}
        [ -r "$D_POLICY" ] || fail "no policy file $D_POLICY"
        DBUS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/seccbridge-dbus.XXXXXX")
        at_exit rm -rf "$DBUS_DIR"
        chmod 0755 "$DBUS_DIR"
        DBUS_SOCK=$DBUS_DIR/bus
        DBUS_ADDR=unix:path=$DBUS_SOCK
        dbus_bus_conf "$D_POLICY" >"$DBUS_DIR/bus.conf"
}

_dbus_listening() { [ -S "$DBUS_SOCK" ] && grep -q "^unix:" "$(bg_log dbus)"; }

# dbus_bus_start: start the bus (again, at the same address).
dbus_bus_start() {
        [ -n "$DBUS_DIR" ] || dbus_setup
        bg_start dbus dbus-daemon --config-file="$DBUS_DIR/bus.conf" --nofork --nopidfile --print-address
        wait_until 10 _dbus_listening || {
                show_file "$(bg_log dbus)"
                fail "the private bus did not start"
        }
}

# shellcheck disable=SC2120  # the other scripts pass a signal
dbus_bus_stop() {
        bg_stop dbus "${1:-TERM}" || true
}

# dbus_daemon_conf [INI LINES...]
dbus_daemon_conf() {
        D_CONF=$TEST_TMP/seccbridge.conf
        {
                printf '[can]\ninterface = %s\npistol_index = 1\n\n' "$VCAN_IF"
                printf '[limits]\nmax_voltage = 1000\nmax_current = 125\nmax_power = 50000\n\n'
                printf '[dbus]\naddress = %s\n\n' "$DBUS_ADDR"
                printf '[sim]\nwakeup_ms = 200\n\n'
                [ $# -eq 0 ] || printf '%s\n' "$@"
        } >"$D_CONF"
}

# calm_until SECONDS COMMAND...: wait_until at a calm pace (4 polls a second).
calm_until() {
        local deadline=$(( ${EPOCHREALTIME/./} + $1 * 1000000 ))
        shift
        until "$@"; do
                [ "${EPOCHREALTIME/./}" -lt "$deadline" ] || return 1
                sleep 0.25
        done
}

_dbus_owned() { "$CTL" --address "$DBUS_ADDR" list 2>/dev/null | grep -q "^pistol 1 "; }

# dbus_daemon_start: the daemon on $D_CONF (with -v when D_VERBOSE=1);
# returns once it owns its name.
dbus_daemon_start() {
        local v=()
        need_build src/seccbridge
        [ "${D_VERBOSE:-0}" != 1 ] || v=(-v)
        bg_start daemon "$BUILD_DIR/src/seccbridge" "${v[@]}" -c "$D_CONF"
        at_exit sed "s/^/# daemon: /" "$(bg_log daemon)"
        wait_for_line "$(bg_log daemon)" "ready: pistol 1 on $VCAN_IF" 20
        calm_until 20 _dbus_owned || {
                show_file "$(bg_log daemon)"
                fail "the daemon did not take org.seccbridge.pistol1 on the private bus"
        }
}

ctl() { "$CTL" --address "$DBUS_ADDR" "$@"; }

# ctl_as USER GROUP[,GROUP...] ARGS...: the client as another user.
ctl_as() {
        local user=$1 groups=$2
        shift 2
        setpriv --reuid="$user" --regid="$(id -g "$user")" --groups="$groups" \
                "$CTL" --address "$DBUS_ADDR" "$@"
}

# ctl_rc ARGS...: exit status of seccbridgectl; output in ctl.out / ctl.err.
ctl_rc() {
        local rc=0
        ctl "$@" >"$TEST_TMP/ctl.out" 2>"$TEST_TMP/ctl.err" || rc=$?
        echo "$rc"
}

# expect_ctl STATUS ARGS...: seccbridgectl exits with STATUS.
expect_ctl() {
        local want=$1 rc
        shift
        rc=$(ctl_rc "$@")
        if [ "$rc" != "$want" ]; then
                show_file "$TEST_TMP/ctl.out"
                show_file "$TEST_TMP/ctl.err"
                fail "seccbridgectl $*: exit status $rc, expected $want"
        fi
}

# prop NAME: one property as seccbridgectl prints it (yes/no, 450.0, text).
prop() { ctl get "$1"; }

# wait_prop NAME VALUE [SECONDS]: until the property has that value.  Polls
# at a calm pace: each poll starts a process, and on a slow (emulated)
# machine a busy poll would stall the controller stand-ins.
wait_prop() {
        local deadline=$(( ${EPOCHREALTIME/./} + ${3:-10} * 1000000 ))
        until [ "$(prop "$1" 2>/dev/null)" = "$2" ]; do
                if [ "${EPOCHREALTIME/./}" -ge "$deadline" ]; then
                        ctl status >&2 || true
                        fail "property $1 did not become $2 (is $(prop "$1" 2>/dev/null || echo '?'))"
                fi
                sleep 0.3
        done
}

# ---------------------------------------------------------------- run directly

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
        test_begin "$@"
        dbus_setup

        # No bus at all: 69, with --json an error object.
        expect_ctl 69 status
        assert_file_has "$TEST_TMP/ctl.err" "cannot connect to unix:path=" "no bus"
        expect_ctl 69 --json status
        python3 -c 'import json, sys; assert "error" in json.load(open(sys.argv[1]))' "$TEST_TMP/ctl.out" \
                || fail "--json error output is not a JSON object with an error"

        # Usage errors: 2, before any connection is made.
        for args in "" "bogus" "ccs-auth" "ccs-auth maybe" "status extra" "--pistol 0 status" \
                "--pistol 32 status" "stop --max-current 10" "limits --max-current ten" \
                "limits --clear --max-voltage 400"; do
                # shellcheck disable=SC2086  # word splitting wanted
                expect_ctl 2 $args
                assert_file_has "$TEST_TMP/ctl.err" "^seccbridgectl: " "seccbridgectl $args: message"
        done

        # The bus with the project's policy: it loads, and an empty bus has
        # no seccbridge: 69.
        dbus_bus_start
        # (An unknown user or group name only warns: the seccbridge user
        # does not exist on a test machine.)
        assert_file_lacks "$(bg_log dbus)" "Error in file|XML|[Ii]nvalid|[Ee]lement|attribute" "the bus's log"
        expect_ctl 69 status
        assert_file_has "$TEST_TMP/ctl.err" "no seccbridge on the bus" "empty bus"
        expect_ctl 69 --pistol 3 authorize
        assert_file_has "$TEST_TMP/ctl.err" "org.seccbridge.pistol3 is not reachable" "absent pistol"
        expect_ctl 0 list
        [ ! -s "$TEST_TMP/ctl.out" ] || fail "list on an empty bus printed something"
        dbus_bus_stop
fi
