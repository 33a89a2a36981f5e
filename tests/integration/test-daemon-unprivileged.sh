#!/usr/bin/env bash
# The daemon needs neither root nor any capability for a whole charge: it runs
# here as nobody with every capability gone (effective, permitted,
# inheritable, ambient and bounding sets) and no_new_privs, as the systemd
# unit runs it (User=seccbridge, CapabilityBoundingSet= empty,
# NoNewPrivileges=yes), and a CCS session still passes.
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
test_begin "$@"
need_cmd setpriv
[ "$(id -u)" = 0 ] || skip "needs root to drop to another user"

# A directory the unprivileged daemon may create its control FIFO in; the
# configuration readable by it, as /etc/seccbridge/seccbridge.conf is.
run_dir=$TEST_TMP/run
mkdir -m 0700 "$run_dir"
chown nobody "$run_dir"
chmod 0711 "$TEST_TMP"
session_config
sed -i "s|^control_path = .*|control_path = $run_dir/sim-control|" "$S_CONF"
S_FIFO=$run_dir/sim-control
chmod 0644 "$S_CONF"

S_DAEMON_PREFIX=(setpriv --reuid=nobody --regid=nogroup --clear-groups
        --inh-caps=-all --ambient-caps=-all --bounding-set=-all --no-new-privs --)

check_identity() {
        # setpriv execs the daemon: the background process is the daemon.
        grep -E '^(Name|Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' \
                "/proc/$(bg_pid daemon)/status" >"$TEST_TMP/identity"
}

session_run unprivileged --hook check_identity -- --protocol ccs --sequence-flags --charge-time 5
expect_verdict 0
expect_daemon_clean

show_file "$TEST_TMP/identity"
assert_file_has "$TEST_TMP/identity" "^Name:[[:space:]]+seccbridge$" "the daemon itself was inspected"
nobody_uid=$(id -u nobody)
assert_file_has "$TEST_TMP/identity" "^Uid:[[:space:]]+$nobody_uid[[:space:]]+$nobody_uid[[:space:]]+$nobody_uid[[:space:]]+$nobody_uid\$" "runs as nobody"
for set in CapInh CapPrm CapEff CapBnd CapAmb; do
        assert_file_has "$TEST_TMP/identity" "^$set:[[:space:]]+0000000000000000\$" "$set empty"
done
assert_file_has "$TEST_TMP/identity" "^NoNewPrivs:[[:space:]]+1\$" "no_new_privs"
assert_file_has "$S_DEC" "Power_Modules_Status pistol=1 .*System_Enable=Allowed" "power delivered"
