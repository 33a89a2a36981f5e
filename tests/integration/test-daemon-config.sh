#!/usr/bin/env bash
# seccbridge --check-config: a valid file passes (exit 0) without touching
# CAN; a bad key, a bad value, a missing required key, a syntax error and a
# missing file are each reported as "file:line: key: reason" (or "file:
# reason") and exit 78.  Needs no CAN interface: runs anywhere.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin "$@"
need_build src/seccbridge
daemon=$BUILD_DIR/src/seccbridge

# check NAME EXPECTED_STATUS REGEX: run --check-config on $TEST_TMP/NAME.conf
# and match its one line of stderr.
check() {
        local name=$1 want=$2 re=$3 rc=0
        "$daemon" --check-config -c "$TEST_TMP/$name.conf" >"$TEST_TMP/$name.out" 2>"$TEST_TMP/$name.err" || rc=$?
        assert_eq "$want" "$rc" "exit status of --check-config on $name.conf"
        assert_file_has "$TEST_TMP/$name.err" "$re" "$name.conf"
        # One line, not a flood.
        assert_eq 1 "$(count_lines "$TEST_TMP/$name.err" .)" "lines of stderr for $name.conf"
}

limits='[limits]
max_voltage = 1000
max_current = 125
max_power = 50000'

# --- the shipped file is valid
rc=0
"$daemon" --check-config -c "$SECCBRIDGE_ROOT/conf/seccbridge.conf" >"$TEST_TMP/shipped.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { show_file "$TEST_TMP/shipped.out"; fail "conf/seccbridge.conf does not validate"; }
assert_file_has "$TEST_TMP/shipped.out" "seccbridge.conf: OK$"

# --- a minimal valid file, on an interface that does not exist: no CAN is
# touched by --check-config
printf '[can]\ninterface = nosuchcan7\n%s\n' "$limits" >"$TEST_TMP/good.conf"
rc=0
"$daemon" --check-config -c "$TEST_TMP/good.conf" >"$TEST_TMP/good.out" 2>&1 || rc=$?
assert_eq 0 "$rc" "exit status for a valid file"
assert_file_has "$TEST_TMP/good.out" "good.conf: OK$"

# --- unknown key, with its line
printf '%s\n[safety]\ncontroller_timeout_ms = 150\ncontroler_timeout = 1\n' "$limits" >"$TEST_TMP/badkey.conf"
check badkey 78 "badkey\\.conf:7: safety\\.controler_timeout: unknown key$"

# --- a value out of range (the protocol requires 200 ms at most)
printf '%s\n[safety]\ncontroller_timeout_ms = 500\n' "$limits" >"$TEST_TMP/range.conf"
check range 78 "range\\.conf:6: safety\\.controller_timeout_ms: 500 ms is out of range \\(20 to 200\\)$"

# --- not a number
printf '[limits]\nmax_voltage = 1000 V\nmax_current = 125\nmax_power = 50000\n' >"$TEST_TMP/nan.conf"
check nan 78 "nan\\.conf:2: limits\\.max_voltage: '1000 V' is not a number$"

# --- a required power limit missing: no silent default
printf '[limits]\nmax_voltage = 1000\nmax_power = 50000\n' >"$TEST_TMP/missing.conf"
check missing 78 "missing\\.conf:1: limits\\.max_current: required key missing"

# --- unknown section
printf '%s\n[limit]\nmax_voltage = 900\n' "$limits" >"$TEST_TMP/section.conf"
check section 78 "section\\.conf:5: \\[limit\\]: unknown section"

# --- a line that is no INI at all
printf '%s\nmax_voltage\n' "$limits" >"$TEST_TMP/syntax.conf"
check syntax 78 "syntax\\.conf:5: syntax error"

# --- a key given twice
printf '%s\nmax_current = 100\n' "$limits" >"$TEST_TMP/twice.conf"
check twice 78 "twice\\.conf:5: limits\\.max_current: set twice \\(first on line 3\\)$"

# --- the interface version: 2 or 3, nothing else
printf '[can]\ninterface_version = 3\n%s\n' "$limits" >"$TEST_TMP/v3.conf"
rc=0
"$daemon" --check-config -c "$TEST_TMP/v3.conf" >"$TEST_TMP/v3.out" 2>&1 || rc=$?
assert_eq 0 "$rc" "exit status for interface_version = 3"
printf '[can]\ninterface = vcan0\ninterface_version = 2.7\n%s\n' "$limits" >"$TEST_TMP/version.conf"
check version 78 "version\\.conf:3: can\\.interface_version: '2\\.7' is not an interface version \\(2: database v2\\.7, 3: database v3\\.6\\)$"
printf '%s\n[safety]\nhas_output_contactors = maybe\n' "$limits" >"$TEST_TMP/contactors.conf"
check contactors 78 "contactors\\.conf:6: safety\\.has_output_contactors: 'maybe' is not a boolean"

# --- an unknown backend, with the known ones
printf '%s\n[converter]\nbackend = canopen\n' "$limits" >"$TEST_TMP/backend.conf"
check backend 78 "backend\\.conf:6: converter\\.backend: unknown backend 'canopen' \\(known: sim, modbus-rtu, modbus-tcp\\)$"

# --- a [sim] key goes to the simulated converter's own checks
printf '%s\n[sim]\nno_such_sim_key = 1\n' "$limits" >"$TEST_TMP/sim.conf"
check sim 78 "sim\\.conf:6: sim\\.no_such_sim_key: unknown key$"

# --- binary data: a NUL byte is refused on its own line (found by fuzzing:
# the line numbers used to drift past it)
{ printf '%s\n[can]\ninterface = vcan0' "$limits"; head -c 300 /dev/zero; printf '\n[modbus]\ndevice = /dev/x\n'; } >"$TEST_TMP/nul.conf"
check nul 78 "nul\\.conf:6: NUL byte in the line \\(not a text file\\?\\)$"

# --- missing and unreadable files: "file: reason"
check nonexistent 78 "nonexistent\\.conf: cannot open: No such file or directory$"
mkdir "$TEST_TMP/dir.conf"
check dir 78 "dir\\.conf: cannot open: Is a directory$"

# --- the daemon itself refuses to start on a bad file, with the same line
rc=0
"$daemon" -c "$TEST_TMP/range.conf" >"$TEST_TMP/start.out" 2>&1 || rc=$?
assert_eq 78 "$rc" "exit status of the daemon on a bad file"
assert_file_has "$TEST_TMP/start.out" "range\\.conf:6: safety\\.controller_timeout_ms: 500 ms is out of range"

# --- command line
"$daemon" --version >"$TEST_TMP/version.out"
assert_file_has "$TEST_TMP/version.out" "^seccbridge [0-9]+\\.[0-9]+\\.[0-9]+$"
"$daemon" --help >"$TEST_TMP/help.out"
assert_file_has "$TEST_TMP/help.out" "--check-config"
rc=0
"$daemon" --no-such-option >/dev/null 2>&1 || rc=$?
assert_eq 1 "$rc" "exit status for an unknown option"
