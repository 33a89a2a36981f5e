#!/usr/bin/env bash
# One clamp, in the core: the test converter on Modbus TCP is rated 500 V /
# 100 A / 30 kW, the charger's [limits] say 1000 V / 200 A / 100 kW.  The
# rating is the third limit source: Power_Modules_Limits announces 500 V /
# 100 A, D-Bus gives the same limits in force, and what D-Bus and the log
# call the command is exactly what the converter receives (sampled while
# charging: the command on D-Bus and the converter's setpoint registers
# agree), never above the rating.  The charge asks for 100 A at 450 V: the
# command is 66.6 A (30 kW / 450 V), and seccsim checks the current against
# the limits announced and the 30 kW (--charger-power).
# shellcheck source-path=SCRIPTDIR source=modbus-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/modbus-lib.sh"
test_begin "$@"
# shellcheck source-path=SCRIPTDIR source=test-dbus-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-dbus-lib.sh"
dbus_setup
dbus_bus_start
MB_MAX_V=1000
MB_MAX_I=200
MB_MAX_P=100000
mb_setup tcp "[dbus]" "address = $DBUS_ADDR"

# While charging: the limits on D-Bus once; then the command on D-Bus, the
# converter's setpoints, the command again, a few times.
sample() {
        local i a b srv
        : >"$TEST_TMP/samples"
        wait_for_line "$1" "state Charging \\(7\\)" 60
        a=$(ctl get MaxVoltage MaxCurrent MaxPower ConfigMaxVoltage ConfigMaxCurrent ConfigMaxPower) || return 0
        echo "${a//$'\n'/ }" >"$TEST_TMP/limits.dbus"
        # (the last reads may meet the daemon stopping: not a sample)
        for i in $(seq 1 12); do
                a=$(ctl get CommandMode CommandVoltage CommandCurrent 2>/dev/null) || continue
                sleep 0.3
                _mb_ctl_once get holding 0 2 || continue
                srv=${MB_REPLY#ok }
                b=$(ctl get CommandMode CommandVoltage CommandCurrent 2>/dev/null) || continue
                echo "${a//$'\n'/ }|$srv|${b//$'\n'/ }" >>"$TEST_TMP/samples"
                sleep 0.2
        done
}
mb_session_run rated --hook sample -- --protocol ccs --charge-time 8 --profile 40,100,20 --charger-power 30
expect_verdict 0
expect_daemon_clean

# Power_Modules_Limits: the rating, from the session on.
t_ncs=$(first_after 0 "New_Charge_Session pistol=1 ")
[ -n "$t_ncs" ] || fail "no New_Charge_Session on the bus"
assert_file_has "$S_DEC" "Power_Modules_Limits pistol=1 Maximum_Voltage=500\\.0 Maximum_Current=100\\.0" "the rating announced"
bad=$(awk -v t="$t_ncs" '$1 >= t && $2 == "Power_Modules_Limits" && !/Maximum_Voltage=500\.0 Maximum_Current=100\.0/' "$S_DEC" | head -n 1)
[ -z "$bad" ] || fail "limits other than the rating announced in the session: $bad"

# D-Bus: the limits in force are the rating, the config's are the config's.
[ -s "$TEST_TMP/limits.dbus" ] || fail "the limits were never read on D-Bus"
read -r v i p cv ci cp <"$TEST_TMP/limits.dbus"
note "D-Bus: in force $v V / $i A / $p W, config $cv V / $ci A / $cp W"
awk -v v="$v" -v i="$i" -v p="$p" -v cv="$cv" -v ci="$ci" -v cp="$cp" 'BEGIN {
        exit !(v == 500 && i == 100 && p == 30000 && cv == 1000 && ci == 200 && cp == 100000) }' \
        || fail "D-Bus limits: in force $v / $i / $p, config $cv / $ci / $cp"

# The command D-Bus shows is what the converter holds (samples where the
# command did not change around the register read), and it was 66.6 A.
[ -s "$TEST_TMP/samples" ] || fail "no sample taken while charging"
sed 's/^/#   sample: /' "$TEST_TMP/samples" >&2
awk -F'|' '
        { split($1, a, " "); split($2, s, " "); split($3, b, " ") }
        $1 != $3 || a[1] != "charge" { next }
        { n++ }
        int(a[2] * 10 + 0.5) != s[1] || int(a[3] * 10 + 0.5) != s[2] {
                printf "D-Bus says %s V / %s A, the converter holds %.1f V / %.1f A\n", a[2], a[3], s[1] / 10, s[2] / 10
                bad = 1 }
        a[3] == 66.6 { clamped++ }
        END { if (n < 3) { printf "only %d steady samples\n", n; bad = 1 }
              if (!clamped) { print "never the clamped 66.6 A"; bad = 1 }
              exit bad }' "$TEST_TMP/samples" >&2 \
        || fail "the command on D-Bus and the converter's setpoints disagree (above)"
assert_file_has "$S_DLOG" "converter: charge 450\\.0 V / 66\\.6 A" "the log names the clamped command"

# Nothing above the rating ever reached the converter.
bad=$(mb_writes 0 | awk '
        $3 == "fc=6" || $3 == "fc=16" {
                a = substr($4, 6) + 0; v = $6; sub(/^values=/, "", v)
                n = split(v, w, "/")
                for (k = 1; k <= n; k++) h[a + k - 1] = w[k] + 0
                if (h[0] > 5000 || h[1] > 1000 || h[0] * h[1] > 3000000)
                        printf "%s: setpoints %.1f V / %.1f A\n", $1, h[0] / 10, h[1] / 10
        }' | head -n 3)
[ -z "$bad" ] || fail "setpoints above the converter's rating: $bad"
assert_file_has "$MB_TL" " modbus fc=6 addr=1 count=1 values=666 " "current clamped to 30 kW at 450 V"

dbus_bus_stop
mb_finish
