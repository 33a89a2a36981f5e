#!/usr/bin/env bash
# The daemon under valgrind memcheck through a whole CCS charge (simulated
# converter): no memory error, no definite or indirect leak, no file
# descriptor left open at exit besides the standard ones, and the session
# still passes at the protocol's real timing (100 ms status, 200 ms
# controller timeout).
#
# Run by `scripts/sanitize.sh valgrind` (tests/integration/run.sh
# tests/integration/valgrind-session.sh), not by the default suite: the
# daemon under memcheck in an emulated machine keeps the 200 ms timing only
# on a quiet host.
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
test_begin "$@"
need_cmd valgrind
session_config

vglog=$TEST_TMP/valgrind.log
S_DAEMON_PREFIX=(valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect
        --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --track-fds=yes
        --log-file="$vglog")
# valgrind starts and stops slowly (more so in an emulated machine).
export SECCBRIDGE_WAIT_TIMEOUT=60 SECCBRIDGE_STOP_WAIT=60

session_run valgrind -- --protocol ccs --sequence-flags --charge-time 5
show_file "$vglog"
expect_verdict 0
expect_daemon_clean
assert_file_has "$vglog" "ERROR SUMMARY: 0 errors from 0 contexts" "no memcheck error"
assert_file_has "$vglog" "definitely lost: 0 bytes in 0 blocks|All heap blocks were freed" "no definite leak"
assert_file_has "$vglog" "indirectly lost: 0 bytes in 0 blocks|All heap blocks were freed" "no indirect leak"
# --track-fds: only stdin, stdout, stderr (and valgrind's log) open at exit.
open_fds=$(sed -nE 's/.*FILE DESCRIPTORS: ([0-9]+) open.*/\1/p' "$vglog" | tail -n 1)
note "file descriptors open at exit: ${open_fds:-?} (3 standard + valgrind's log)"
[ -n "$open_fds" ] && [ "$open_fds" -le 4 ] || fail "file descriptors left open at exit: ${open_fds:-unknown}"
