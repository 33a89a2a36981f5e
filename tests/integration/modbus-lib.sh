# shellcheck shell=bash
# Helpers for the Modbus end-to-end tests (test-modbus-*.sh): the controller
# (seccsim session) on vcan, the daemon with a Modbus backend, and the test
# converter tests/modbus/converter_server.py (generic profile) behind it,
# over TCP on loopback or RTU through a socat pty pair.
#
# A test:
#       . "$(dirname "${BASH_SOURCE[0]}")/modbus-lib.sh"
#       test_begin "$@"
#       mb_setup tcp                    # or rtu: needs, server, clock, config
#       mb_session_run NAME [--hook FUNC] -- SECCSIM-SESSION-ARGS...
#       ...checks...
#       mb_finish                       # converter off, everything stopped
# The checks read what the controller saw (S_* of test-session-lib.sh: S_RC,
# S_OUT, S_DLOG, S_BUS, S_DEC) and what the converter saw:
#       MB_SLOG     every request the server got, in the capture's clock:
#                   "SECONDS modbus fc=FC addr=A count=N values=V/V.. action=ACT unit=U"
#                   (ACT: ok, dropped, delayedMS, exceptionCODE)
#       MB_TL       S_DEC and MB_SLOG merged in time order
#
# Times: candump stamps frames with CLOCK_REALTIME, the server its log with
# CLOCK_MONOTONIC; mb_clock measures the offset between the two (best of a
# few round trips on the control port) and MB_CLOCK_ERR_MS bounds its error.
#
# Environment:
#   SECCBRIDGE_MODBUS_KEEP   a directory: each test copies its logs, the
#                            capture and the server's log to NAME.PID in
#                            it (debugging)

# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"

MB_PYTHON=/usr/bin/python3
MB_SERVER=$SECCBRIDGE_ROOT/tests/modbus/converter_server.py
MB_PROFILE=$SECCBRIDGE_ROOT/conf/profiles/generic.conf

# The charger's [limits] in these tests, below the test converter's ratings
# (500 V, 100 A, 30 kW) where it matters: the setpoints must respect them.
MB_MAX_V=500
MB_MAX_I=80
MB_MAX_P=30000
# seccsim's requests: insulation test 500 V, precharge 400 V / 2 A, charge at
# 450 V ramping to 40 A, a step to 100 A (clamped: 30 kW / 450 V = 66.6 A,
# under the 80 A limit) and 20 A at the end.
# shellcheck disable=SC2034  # used by the tests
MB_PROFILE_A=40,100,20

MB_PORT=
MB_CTL_PORT=
MB_DEV=
MB_REPLY=
MB_OFFSET_US=
MB_CLOCK_ERR_MS=
MB_SLOG=
MB_TL=
MB_SERVER_SETUP=()
# More arguments of the test converter (e.g. --bidirectional), set before
# mb_setup.
MB_SERVER_ARGS=()

# ------------------------------------------------------------------ setup

# mb_need TRANSPORT: skip without pymodbus (or socat for RTU).
mb_need() {
        need_build src/seccbridge src/seccsim/seccsim
        need_cmd candump
        [ -x "$MB_PYTHON" ] || skip "$MB_PYTHON not found"
        "$MB_PYTHON" -c 'import pymodbus' 2>/dev/null || skip "$MB_PYTHON has no pymodbus (python3-pymodbus)"
        if [ "$1" = rtu ]; then
                command -v socat >/dev/null 2>&1 || skip "socat not found"
        fi
        vcan_is_up "$VCAN_IF" || fail "$VCAN_IF is not up"
        ip -o link show dev lo 2>/dev/null | grep -Eq '<([^>]*,)?UP[,>]' || fail "loopback is not up"
}

# mb_server_start TRANSPORT: the test converter (and for RTU the pty pair:
# the daemon opens $MB_DEV, the server the other end).
mb_server_start() {
        local t=$1 args line n
        if [ "$t" = rtu ]; then
                MB_DEV=$TEST_TMP/pty-daemon
                bg_start socat socat "pty,raw,echo=0,link=$MB_DEV" "pty,raw,echo=0,link=$TEST_TMP/pty-server"
                wait_until 5 test -e "$MB_DEV" -a -e "$TEST_TMP/pty-server" \
                        || { show_file "$(bg_log socat)"; fail "socat made no pty pair"; }
                args=(--rtu "$TEST_TMP/pty-server")
        else
                args=(--tcp 0)
        fi
        # The converter is another device: on a busy (emulated) machine the
        # controller and the daemon go first.
        bg_start mbserver nice -n 10 "$MB_PYTHON" "$MB_SERVER" "${args[@]}" "${MB_SERVER_ARGS[@]}" --lifetime 600
        wait_for_line "$(bg_log mbserver)" '^READY tcp=[0-9]+ control=[0-9]+$' 20
        line=$(grep -E '^READY ' "$(bg_log mbserver)" | head -n 1)
        MB_PORT=$(sed -E 's/.* tcp=([0-9]+).*/\1/' <<<"$line")
        MB_CTL_PORT=$(sed -E 's/.* control=([0-9]+).*/\1/' <<<"$line")
        for n in 1 2 3; do
                _mb_ctl_once now && break
                sleep 0.2
        done
        [[ $MB_REPLY == ok* ]] || fail "the server's control port $MB_CTL_PORT does not answer"
}

_mb_ctl_once() {
        local fd
        MB_REPLY=
        # (in braces, or exec would keep stderr on /dev/null for good)
        { exec {fd}<>"/dev/tcp/127.0.0.1/$MB_CTL_PORT"; } 2>/dev/null || return 1
        printf '%s\n' "$*" >&"$fd"
        read -r -t 10 MB_REPLY <&"$fd" || MB_REPLY=
        exec {fd}>&-
        [[ $MB_REPLY == ok* ]]
}

# mb_ctl COMMAND...: one command on the server's control port; the reply in
# MB_REPLY; fails the test unless it is "ok ...".
mb_ctl() {
        _mb_ctl_once "$@" || fail "server control '$*': '${MB_REPLY:-no answer}'"
}

# mb_get AREA ADDR: a register or bit as the server holds it.
mb_get() {
        mb_ctl get "$1" "$2"
        printf '%s\n' "${MB_REPLY#ok }"
}

# mb_clock: MB_OFFSET_US (server's monotonic minus real time, in us) from
# the quickest of a few round trips; MB_CLOCK_ERR_MS bounds the error.
mb_clock() {
        local fd n r1 r2 mono best=''
        exec {fd}<>"/dev/tcp/127.0.0.1/$MB_CTL_PORT" || fail "server control port $MB_CTL_PORT"
        for n in 1 2 3 4 5 6 7 8; do
                r1=${EPOCHREALTIME/./}
                printf 'now\n' >&"$fd"
                read -r -t 5 MB_REPLY <&"$fd" || fail "server control 'now': no answer"
                r2=${EPOCHREALTIME/./}
                mono=${MB_REPLY#ok }
                if [ -z "$best" ] || [ $(( r2 - r1 )) -lt "$best" ]; then
                        best=$(( r2 - r1 ))
                        MB_OFFSET_US=$(( mono - (r1 + r2) / 2 ))
                fi
        done
        exec {fd}>&-
        MB_CLOCK_ERR_MS=$(( best / 2000 + 1 ))
}


MB_TIMING=(
        "poll_interval_ms = 100" "response_timeout_ms = 500" "link_timeout_ms = 1000"
        "setpoint_refresh_ms = 1000" "reconnect_max_ms = 500" "shutdown_timeout_ms = 2000"
)

# mb_config TRANSPORT [LINES...]: $S_CONF for the daemon: vcan, the limits
# above, the Modbus backend on the test converter with the generic profile
# (an absolute path here; mb_config_profile_relative copies it next to the
# config instead) and MB_TIMING; LINES go at the end, inside [modbus]
# unless they open another section (a [modbus] key in LINES replaces the
# one of MB_TIMING); MB_PISTOL_SECTIONS=1 when LINES hold [pistol NAME]
# sections (no pistol_index in [can] then).
MB_PROFILE_REF=
mb_config() {
        local t=$1 line
        shift
        S_CONF=$TEST_TMP/seccbridge.conf
        {
                printf '[can]\ninterface = %s\n' "$VCAN_IF"
                # (with [pistol NAME] sections in LINES each names its index)
                [ -n "${MB_PISTOL_SECTIONS:-}" ] || printf 'pistol_index = 1\n'
                printf '[limits]\nmax_voltage = %s\nmax_current = %s\nmax_power = %s\n' "$MB_MAX_V" "$MB_MAX_I" "$MB_MAX_P"
                printf '[converter]\nbackend = modbus-%s\n' "$t"
                printf '[modbus]\nprofile = %s\n' "${MB_PROFILE_REF:-$MB_PROFILE}"
                if [ "$t" = rtu ]; then
                        printf 'device = %s\nbaudrate = 115200\n' "$MB_DEV"
                else
                        printf 'host = 127.0.0.1\nport = %s\n' "$MB_PORT"
                fi
                # Timings for a loopback line, unless LINES set them.
                for line in "${MB_TIMING[@]}"; do
                        printf '%s\n' "$@" | grep -Eq "^${line%% *} *=" || printf '%s\n' "$line"
                done
                for line in "$@"; do
                        printf '%s\n' "$line"
                done
        } >"$S_CONF"
        "$BUILD_DIR/src/seccbridge" --check-config -c "$S_CONF" >"$TEST_TMP/check-config.out" 2>&1 \
                || { show_file "$TEST_TMP/check-config.out"; fail "the test's configuration does not validate"; }
}

# mb_config_profile_relative: the profile as a path relative to the
# configuration file's directory (call before mb_config).
mb_config_profile_relative() {
        mkdir -p "$TEST_TMP/profiles"
        cp "$MB_PROFILE" "$TEST_TMP/profiles/generic.conf"
        MB_PROFILE_REF=profiles/generic.conf
}

# mb_setup TRANSPORT [CONFIG LINES...]: all of the above.
mb_setup() {
        local t=$1
        shift
        SECCSIM=$BUILD_DIR/src/seccsim/seccsim
        SECCBRIDGE=$BUILD_DIR/src/seccbridge
        mb_need "$t"
        mb_server_start "$t"
        mb_clock
        note "server on $t (control port $MB_CTL_PORT), clock offset known to ${MB_CLOCK_ERR_MS} ms"
        mb_config "$t" "$@"
        at_exit _mb_keep
        at_exit _mb_show_logs
}

# At the end, in the test's log: the controller's progress and the daemon's
# log of the last session.
_mb_show_logs() {
        [ -z "${S_OUT:-}" ] || [ ! -s "$S_OUT" ] || sed 's/^/# seccsim: /' "$S_OUT" >&2
        if [ -n "${S_DLOG:-}" ] && [ -s "$S_DLOG" ]; then
                sed 's/^/# daemon: /' "$S_DLOG" >&2
        elif [ -n "${BG_LOG[daemon]:-}" ] && [ -s "${BG_LOG[daemon]}" ]; then
                sed 's/^/# daemon: /' "${BG_LOG[daemon]}" >&2
        fi
        note "$(basename "$0" .sh): ${SECONDS} s"
        return 0
}

_mb_keep() {
        local d=${SECCBRIDGE_MODBUS_KEEP:-}
        [ -n "$d" ] || return 0
        d=$d/$(basename "$0" .sh).$$
        mkdir -p "$d" && cp -r "$TEST_TMP"/. "$d"/ 2>/dev/null
        return 0
}

# ------------------------------------------------------------------ session

# mb_session_run NAME [--hook FUNC] -- ARGS...: like session_run of
# test-session-lib.sh, with the Modbus daemon, and the server reset to a
# healthy converter (then given the control command MB_SERVER_SETUP, if
# any) for each attempt; the server's log of the attempt in MB_SLOG and
# the merged timeline in MB_TL.  The daemon stops
# (TERM) when seccsim is done: its exit status in S_DRC, its log in S_DLOG.
# One attempt more when a failure says more about the machine than about
# the daemon (see session_inconclusive in test-session-lib.sh).
mb_session_run() {
        local name=$1 hook='' attempt max=${SECCBRIDGE_SESSION_ATTEMPTS:-2}
        shift
        if [ "${1:-}" = --hook ]; then
                hook=$2
                shift 2
        fi
        [ "${1:-}" = -- ] && shift
        for attempt in $(seq 1 "$max"); do
                _mb_session_once "$name" "$hook" "$@"
                if [ "$attempt" -lt "$max" ] && session_inconclusive; then
                        note "attempt $attempt inconclusive: $S_WHY; again"
                        continue
                fi
                break
        done
        note "seccsim session $*: exit $S_RC, daemon exit $S_DRC"
}

_mb_session_once() {
        local name=$1 hook=$2 hook_pid=
        shift 2
        S_OUT=$TEST_TMP/$name.out
        S_BUS=$(bg_log "$name-bus")
        S_DLOG=$TEST_TMP/$name.daemon.log
        mb_ctl fault 0
        mb_ctl delay 0 0
        mb_ctl drop 0
        mb_ctl start
        [ ${#MB_SERVER_SETUP[@]} -eq 0 ] || mb_ctl "${MB_SERVER_SETUP[@]}"
        mb_ctl clearlog
        candump_start "$name-bus" "$VCAN_IF"
        bg_start daemon "${S_DAEMON_PREFIX[@]}" "$SECCBRIDGE" -v -c "$S_CONF"
        wait_for_line "$(bg_log daemon)" "ready: pistol 1 on $VCAN_IF"
        # Up when the worker has read the converter's ratings.
        wait_until 10 grep -q "rated " "$(bg_log daemon)" \
                || { show_file "$(bg_log daemon)"; fail "the daemon never reached the converter"; }
        if [ -n "$hook" ]; then
                : >"$S_OUT"
                "$hook" "$S_OUT" &
                hook_pid=$!
        fi
        S_RC=0
        "${CONTROLLER_NICE[@]}" timeout --kill-after=5 100 "$SECCSIM" session -i "$VCAN_IF" \
                --interface-version "$S_INTERFACE_VERSION" \
                --log "$TEST_TMP/$name.seccsim-log" "$@" >"$S_OUT" 2>&1 || S_RC=$?
        if [ -n "$hook_pid" ]; then
                kill "$hook_pid" 2>/dev/null || true
                wait "$hook_pid" 2>/dev/null || true
        fi
        mb_daemon_stop
        candump_stop "$name-bus"
        S_DEC=$TEST_TMP/$name.decoded
        session_decode "$S_BUS" >"$S_DEC"
        mb_fetch_log "$TEST_TMP/$name.modbus"
}

# mb_daemon_stop: TERM, its exit status in S_DRC, its log copied to S_DLOG.
mb_daemon_stop() {
        S_DRC=0
        bg_stop daemon TERM || S_DRC=$?
        cp "$(bg_log daemon)" "$S_DLOG"
}

# mb_fetch_log FILE: the server's request log into FILE (MB_SLOG) in the
# format above, and the merged timeline into FILE.timeline (MB_TL).
mb_fetch_log() {
        MB_SLOG=$1
        MB_TL=$1.timeline
        mb_ctl log
        awk -v o="$MB_OFFSET_US" '{
                sub(/^ok [0-9]+ ?/, "")
                n = split($0, e, ";")
                for (k = 1; k <= n; k++) {
                        if (split(e[k], f, ",") < 7)
                                continue
                        printf "%.6f modbus fc=%d addr=%d count=%d values=%s action=%s unit=%d\n",
                                (f[1] - o) / 1e6, f[2], f[3], f[4], f[5] == "" ? "-" : f[5], f[6], f[7]
                }
        }' <<<"$MB_REPLY" >"$MB_SLOG"
        sort -s -n -k1,1 "$S_DEC" "$MB_SLOG" >"$MB_TL"
}

# ------------------------------------------------------------------ readers

# mb_writes [FROM [TO]]: the server's log lines of writes (FC 5, 6, 15, 16)
# between two capture times.
mb_writes() {
        awk -v a="${1:-0}" -v b="${2:-1e12}" '$1 >= a && $1 < b && $2 == "modbus" &&
                $3 ~ /^fc=(5|6|15|16)$/' "$MB_SLOG"
}

# mb_enable_writes: output enable writes (coil 0), "SECONDS VALUE".
mb_enable_writes() {
        mb_writes 0 | awk '$3 == "fc=5" && $4 == "addr=0" { sub(/^values=/, "", $6); print $1, $6 }'
}

# mb_enable_periods: the output's on periods, from the enable writes:
# "ON_SECONDS OFF_SECONDS" per line (OFF "-" when never switched off).
mb_enable_periods() {
        mb_enable_writes | awk '
                $2 == 1 && !on { on = 1; t = $1 }
                $2 == 0 && on { on = 0; print t, $1 }
                END { if (on) print t, "-" }'
}

# mb_limit_violations: every write after which the setpoints held by the
# server exceed [limits] (volts, amperes, volts x amperes), one per line.
mb_limit_violations() {
        mb_writes 0 | awk -v mv="$MB_MAX_V" -v mi="$MB_MAX_I" -v mp="$MB_MAX_P" '
                $3 == "fc=6" || $3 == "fc=16" {
                        a = substr($4, 6) + 0; v = $6; sub(/^values=/, "", v)
                        n = split(v, w, "/")
                        for (k = 1; k <= n; k++) h[a + k - 1] = w[k] + 0
                        V = h[0] / 10; I = h[1] / 10
                        if (V > mv || I > mi || V * I > mp)
                                printf "%s: setpoints %.1f V / %.1f A (%.0f W) after %s\n", $1, V, I, V * I, $0
                }'
}

# mb_first_request_after T: the first request the server got after capture
# time T, as its log line.
mb_first_request_after() {
        awk -v t="$1" '$1 > t && $2 == "modbus" { print; exit }' "$MB_SLOG"
}

# mb_daemon_lines REGEX: how many lines of the daemon's log match.
mb_daemon_lines() { count_lines "$S_DLOG" "$1"; }

# mb_finish: at the end the output is off and the converter released on the
# server; then the server (and socat) stop, and nothing the test started is
# left running.
mb_finish() {
        local left
        mb_expect_converter_off
        bg_stop mbserver || true
        bg_stop socat || true
        left=$(jobs -pr)
        [ -z "$left" ] || fail "processes left running: $(tr '\n' ' ' <<<"$left")"
}

mb_expect_converter_off() {
        local coil rem set last
        coil=$(mb_get coil 0)
        assert_eq 0 "$coil" "output enable (coil 0) on the server at the end"
        rem=$(mb_get holding 10)
        assert_eq 0 "$rem" "remote control (holding 10) released by the shutdown sequence"
        mb_ctl get holding 0 2
        set=${MB_REPLY#ok }
        assert_eq "0 0" "$set" "setpoints (holding 0, 1) at the end"
        ! bg_running daemon || fail "the daemon is still running"
        last=$(mb_enable_writes | tail -n 1)
        [ "${last#* }" = 0 ] || fail "the last output enable write was not a disable: '$last'"
}

# ------------------------------------------------------------------ a whole session

# mb_check_session: after a clean CCS session with the defaults above
# (insulation test 500 V, precharge 400 V / 2 A, charge at 450 V with
# $MB_PROFILE_A), what the converter saw agrees with what the controller
# asked and with what the controller was told:
#  - no setpoint pair held by the server ever exceeds [limits];
#  - every setpoint written is 0 or the request in force (or the one just
#    before it), clamped: 2 A during the insulation test and the precharge,
#    [limits] and V x I <= max_power while charging; never above it;
#  - whenever a request has been in force for MB_HOLD_S, the server holds
#    exactly its setpoints with the output on;
#  - whenever the server's setpoints have not changed for MB_SETTLE_S, the
#    Power_Modules_Status on the bus reports what the converter delivers;
#  - the output went on three times: for the insulation test, the precharge
#    and the charge, each inside its phase on the bus, and off after each,
#    the last time after the end of charge.
MB_HOLD_S=0.2
MB_SETTLE_S=0.35
mb_check_session() {
        local bad t_ins t_pre t_chg t_endc t_csf periods n err

        bad=$(mb_limit_violations | head -n 3)
        [ -z "$bad" ] || fail "setpoints above [limits] ($MB_MAX_V V, $MB_MAX_I A, $MB_MAX_P W): $bad"

        # Requests and registers, event by event.
        awk -v mv="$MB_MAX_V" -v mi="$MB_MAX_I" -v mp="$MB_MAX_P" -v hold="$MB_HOLD_S" \
                -v settle="$MB_SETTLE_S" -v out="$TEST_TMP/follow.counts" '
                function val(s) { sub(/^[^=]*=/, "", s); return s + 0 }
                function abs(x) { return x < 0 ? -x : x }
                function bad(msg) { if (nbad++ < 5) print $1 ": " msg " [" $0 "]"; }
                # The setpoints the daemon owes the request (dV, dA).
                function request(ph, dv, da,   key, cap) {
                        if (ph == "ins") { dv = dv > mv * 10 ? mv * 10 : dv; da = 20 }
                        else if (ph == "pre") { da = da > 20 ? 20 : da }
                        else if (ph == "chg") {
                                if (dv > mv * 10) dv = mv * 10
                                if (da > mi * 10) da = mi * 10
                                cap = int(mp * 100 / dv)
                                if (da > cap) da = cap
                        } else { ph = "none"; dv = 0; da = 0 }
                        key = ph " " dv " " da
                        if (key == rkey)
                                return
                        check_held()
                        pph = rph; pdv = edv; pda = eda
                        rkey = key; rph = ph; edv = dv; eda = da; rt = $1
                }
                # The request in force has been for long enough: the server
                # must hold it, output on.
                function check_held() {
                        if (rph == "" || rph == "none" || $1 - rt < hold)
                                return
                        held[rph]++
                        if (h[0] != edv || abs(h[1] - eda) > 1 || coil != 1)
                                bad(sprintf("%s request %.1f V / %.1f A in force for %.2f s, the server holds %.1f V / %.1f A, output %s",
                                            rph, edv / 10, eda / 10, $1 - rt, h[0] / 10, h[1] / 10, coil ? "on" : "off"))
                }
                $2 == "Insulation_Test" && $3 == "pistol=1" {
                        v = val($4); request(v > 0 ? "ins" : "none", v * 10, 0); next
                }
                $2 == "Precharge" && $3 == "pistol=1" {
                        v = val($4); i = val($5); request(i > 0 ? "pre" : "none", v * 10, i * 10); next
                }
                $2 == "Charging_Loop" && $3 == "pistol=1" {
                        v = val($4); i = val($5); request(i > 0 && v > 0 ? "chg" : "none", v * 10, i * 10); next
                }
                $2 == "modbus" && $3 == "fc=5" && $4 == "addr=0" {
                        c = val($6); if (c != coil) changed = $1; coil = c; next
                }
                $2 == "modbus" && ($3 == "fc=6" || $3 == "fc=16") {
                        a = val($4); vs = $6; sub(/^values=/, "", vs)
                        k = split(vs, w, "/")
                        for (j = 1; j <= k; j++) {
                                r = a + j - 1; x = w[j] + 0
                                if (r == 0 && x != 0 && x != edv && x != pdv)
                                        bad(sprintf("voltage setpoint %.1f V written, the request is %.1f V (before: %.1f V)", x / 10, edv / 10, pdv / 10))
                                if (r == 1 && x > (eda > pda ? eda : pda) + 1)
                                        bad(sprintf("current setpoint %.1f A written, above the request %.1f A (before: %.1f A)", x / 10, eda / 10, pda / 10))
                                if ((r == 0 || r == 1) && h[r] != x) changed = $1
                                h[r] = x
                        }
                        writes++
                        next
                }
                $2 == "Power_Modules_Status" && $3 == "pistol=1" {
                        check_held()
                        if (changed == "" || $1 - changed < settle)
                                next
                        agree++
                        pv = val($4) * 10; pc = val($5) * 10
                        if (abs(pc - (coil ? h[1] : 0)) > 1 || abs(pv - (coil ? h[0] : 0)) > 10)
                                bad(sprintf("status reports %.1f V / %.1f A, the converter delivers %.1f V / %.1f A (setpoints unchanged for %.2f s)",
                                            pv / 10, pc / 10, coil ? h[0] / 10 : 0, coil ? h[1] / 10 : 0, $1 - changed))
                }
                END {
                        printf "%d %d %d %d %d\n", held["ins"], held["pre"], held["chg"], agree, writes >out
                        exit nbad > 0
                }' "$MB_TL" >"$TEST_TMP/follow.bad" \
                || { cat "$TEST_TMP/follow.bad" >&2; fail "the converter's registers did not follow the requests (above)"; }
        read -r n_ins n_pre n_chg n_agree n_writes <"$TEST_TMP/follow.counts"
        note "server held the request: $n_ins insulation, $n_pre precharge, $n_chg charge samples; status agreed in $n_agree; $n_writes setpoint writes"
        [ "$n_ins" -ge 3 ] || fail "only $n_ins checks of the insulation test's setpoints (is the phase on the bus?)"
        [ "$n_pre" -ge 1 ] || fail "no check of the precharge's setpoints (is the phase on the bus?)"
        [ "$n_chg" -ge 30 ] || fail "only $n_chg checks of the charge setpoints"
        [ "$n_agree" -ge 40 ] || fail "only $n_agree Power_Modules_Status compared with the converter"
        assert_file_has "$MB_TL" " modbus fc=6 addr=1 count=1 values=$(( MB_MAX_P * 100 / 4500 )) " "current clamped to ${MB_MAX_P} W at 450 V"

        # The output enable, phase by phase.
        t_ins=$(first_after 0 "^[0-9.]+ Insulation_Test pistol=1 Test_Voltage=[1-9]")
        t_pre=$(first_after 0 "^[0-9.]+ Precharge pistol=1 .*Maximum_Current=([1-9]|0\\.[1-9])")
        t_chg=$(first_after 0 "^[0-9.]+ Charging_Loop pistol=1 Target_Voltage=[1-9][0-9.]* Target_Current=([1-9]|0\\.[1-9])")
        t_endc=$(first_after "${t_chg:-0}" "Advantics_Controller_Status pistol=1 State=Ending_Charge")
        t_csf=$(first_after 0 "Charge_Session_Finished pistol=1 ")
        if [ -z "$t_ins" ] || [ -z "$t_pre" ] || [ -z "$t_chg" ] || [ -z "$t_endc" ] || [ -z "$t_csf" ]; then
                fail "phases missing on the bus: insulation '$t_ins' precharge '$t_pre' charge '$t_chg' end '$t_endc' finished '$t_csf'"
        fi
        periods=$(mb_enable_periods)
        n=$(grep -c . <<<"$periods" || true)
        [ "$n" = 3 ] || fail "the output went on $n times, expected 3 (insulation test, precharge, charge): $(tr '\n' ';' <<<"$periods")"
        err=$(awk -v e="$MB_CLOCK_ERR_MS" 'BEGIN { printf "%.6f", e / 1000 }')
        awk -v e="$err" -v i="$t_ins" -v p="$t_pre" -v c="$t_chg" -v x="$t_endc" -v f="$t_csf" '
                function in_(t, a, b) { return t != "-" && t + 0 >= a - e && t + 0 <= b + e }
                NR == 1 { ok = in_($1, i, p) && in_($2, $1, p); what = "insulation test" }
                NR == 2 { ok = in_($1, p, c) && in_($2, $1, c); what = "precharge" }
                NR == 3 { ok = in_($1, c, x) && in_($2, x, f); what = "charge" }
                !ok { printf "output on %s .. %s is not the %s (its phase on the bus: %s .. %s)\n", $1, $2, what,
                                NR == 1 ? i : NR == 2 ? p : c, NR == 1 ? p : NR == 2 ? c : f; exit 1 }' \
                <<<"$periods" >&2 || fail "the output enable did not follow the phases"
        note "output on for the insulation test, the precharge and the charge; off $(ms_between "$t_endc" "$(tail -n 1 <<<"$periods" | cut -d' ' -f2)") ms after Ending_Charge"

        # What the controller was told.
        assert_file_has "$S_DEC" "Power_Modules_Limits pistol=1 Maximum_Voltage=$MB_MAX_V\\.0 Maximum_Current=$MB_MAX_I\\.0" "limits announced"
        bad=$(awk -v a="$t_ins" -v b="$t_endc" '$1 > a && $1 < b && /Power_Modules_Status pistol=1 .*System_Enable=Not_Allowed/' "$S_DEC" | head -n 1)
        [ -z "$bad" ] || fail "System_Enable dropped during the power phases: $bad"
}
