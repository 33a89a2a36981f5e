#!/usr/bin/env bash
# The fault soak across modes: one seccbridge process per mode, each on a
# vcan of its own, lives through the whole soak; sessions are drawn at
# random among the modes and played back to back by `seccsim session`, each
# with a fault drawn at random among those the mode can take:
#
#   modes       v2          interface v2, Modbus TCP (generic profile)
#               v3          interface v3.6 charge-only, Modbus TCP
#               v2g         interface v3.6 bidirectional (charge, discharge,
#                           charge), Modbus TCP (generic-bidirectional)
#               supervisor  interface v2, [converter] backend = none
#   controller  heartbeat-stop@STATE and estop@STATE (in V2G in the
#               discharge), insulation failure, malformed frames,
#               foreign-frame bus load, a fake session of another pistol,
#               a discharge asked of a charge-only daemon (v3, B1), the
#               controller killed (supervisor mode)
#   converter   link drop (the server closes and refuses connections for a
#               while), late replies (past the link timeout), a fault bit
#   daemon      SIGHUP reloads at random moments
#   broker      mosquitto (every daemon publishes with [mqtt]) stopped while
#               charging and started again once the session is over: the
#               charge goes on, and every daemon reconnects by itself
#
# After each session, for that mode's daemon: (1) the converter ended off --
# output enable 0 and every setpoint 0 on the server; (2) the daemon still
# answers -- same process, and a controller heartbeat on its bus gets its
# Sequence_Control or limits back; (3) its file descriptors and memory: the
# fd count never above the count after its warm-up sessions, and at the end
# equal to it; resident memory at the end within SOAK_RSS_SLACK_KB of its
# value after warm-up.  seccsim's own verdict is counted too: a FAIL where
# the fault (or none) let it expect a clean outcome is a failure, unless
# seccsim found the machine stalled ("inconclusive", counted apart).
# Unsafe outcomes, counted apart from the other failures: a converter not
# off after a session, a sink setpoint written by a daemon not configured
# for discharge, and a controller FAIL in a session whose fault is a safety
# one (silence, emergency stop, insulation, converter fault, link loss, a
# discharge refused): seccsim checks the current after the stop.
#
# Runs on a real vcan (inside the VM here): scripts/soak.sh drives it.
# Environment: SECCBRIDGE_SOAK_SESSIONS (200), SECCBRIDGE_SOAK_SEED (the
# time), SECCBRIDGE_SOAK_REPORT (file for the summary, optional),
# SECCBRIDGE_SOAK_MODES (the modes drawn, "v2 v3 v2g supervisor"),
# SECCBRIDGE_SOAK_WARMUP (sessions per daemon before its baseline, 3).
# shellcheck source-path=SCRIPTDIR source=../integration/modbus-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../integration/modbus-lib.sh"
test_begin "$@"
# shellcheck source-path=SCRIPTDIR source=../integration/mqtt-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../integration/mqtt-lib.sh"

SESSIONS=${SECCBRIDGE_SOAK_SESSIONS:-200}
SEED=${SECCBRIDGE_SOAK_SEED:-$(date +%s)}
REPORT=${SECCBRIDGE_SOAK_REPORT:-}
WARMUP=${SECCBRIDGE_SOAK_WARMUP:-3}
SOAK_RSS_SLACK_KB=${SECCBRIDGE_SOAK_RSS_SLACK_KB:-512}
read -r -a MODES <<<"${SECCBRIDGE_SOAK_MODES:-v2 v3 v2g supervisor}"
RANDOM=$SEED
note "soak: $SESSIONS sessions, seed $SEED, modes ${MODES[*]}"

SECCSIM=$BUILD_DIR/src/seccsim/seccsim
SECCBRIDGE=$BUILD_DIR/src/seccbridge
mb_need tcp
need_cmd cansend mosquitto

# ------------------------------------------------------------------ modes
#
# A mode is a daemon configuration and the sessions played against it:
#   M_IF        its vcan (each daemon has a bus of its own)
#   M_VER       interface version (the heartbeat and the answers probed)
#   M_SERVER    arguments of its test converter ("" for none)
#   M_PROFILE   the Modbus profile
#   M_CONF      configuration lines on top of mb_config's
#   M_ARGS      seccsim session arguments on top of QUICK
#   M_KINDS     the faults drawn for it
#   M_SINK      1: the daemon may write a sink setpoint (discharge)
# Two pistols on a shared converter (doc/sharing.md) become one more mode:
# a daemon with two pistols on one vcan and one converter, two seccsim
# processes (pistols 1 and 2) per session, and a check on the server's log
# that the converter is never commanded by both at once; mode_session
# below is where the second controller starts.
declare -A M_IF M_VER M_SERVER M_PROFILE M_CONF M_ARGS M_KINDS M_SINK
SAFETY_KINDS=" heartbeat-stop estop insulation link-drop converter-fault discharge-refused "
COMMON_KINDS="none none heartbeat-stop estop insulation malformed link-drop late-replies converter-fault sighup broker-loss"

M_IF[v2]=$VCAN_IF
M_VER[v2]=2
M_SERVER[v2]="--tcp 0"
M_PROFILE[v2]=$SECCBRIDGE_ROOT/conf/profiles/generic.conf
M_CONF[v2]=""
M_ARGS[v2]="--charge-time 2 --profile 40,60,20"
M_KINDS[v2]="$COMMON_KINDS bus-load wrong-pistol"
M_SINK[v2]=0

M_IF[v3]=vcan1
M_VER[v3]=3
M_SERVER[v3]="--tcp 0"
M_PROFILE[v3]=$SECCBRIDGE_ROOT/conf/profiles/generic.conf
M_CONF[v3]="[can]|interface_version = 3"
M_ARGS[v3]="--charge-time 2 --profile 40,60,20"
M_KINDS[v3]="$COMMON_KINDS wrong-pistol discharge-refused"
M_SINK[v3]=0

# V2G: charge, discharge, charge, a second each; the controller's faults
# strike in the discharge (1.5 s into the charge).
M_IF[v2g]=vcan2
M_VER[v2g]=3
M_SERVER[v2g]="--tcp 0 --bidirectional"
M_PROFILE[v2g]=$SECCBRIDGE_ROOT/conf/profiles/generic-bidirectional.conf
M_CONF[v2g]="[can]|interface_version = 3|[limits]|max_discharge_current = 50|max_discharge_power = 20000|[v3]|bidirectional = true"
M_ARGS[v2g]="--charge-time 3 --discharge --discharge-current 30 --profile 40,40,20"
M_KINDS[v2g]=$COMMON_KINDS
M_SINK[v2g]=1

# Supervisor mode: no converter; seccsim --supervisor takes no fault of its
# own, so the controller's silence is seccsim killed in the charge.
M_IF[supervisor]=vcan3
M_VER[supervisor]=2
M_SERVER[supervisor]=""
M_PROFILE[supervisor]=""
M_CONF[supervisor]=""
M_ARGS[supervisor]="--supervisor --charge-time 2"
M_KINDS[supervisor]="none none bus-load sighup broker-loss controller-kill"
M_SINK[supervisor]=0

for m in "${MODES[@]}"; do
        [ -n "${M_IF[$m]:-}" ] || fail "unknown soak mode '$m'"
done

# Quick sessions: every phase short (the charge: M_ARGS).
QUICK=(--protocol ccs --init-time 100 --idle-time 200 --negotiate-time 200 --wait-charge-time 100
       --welding-time 200 --cooldown 300 --after-time 200 --ccs-gap 0 --print-interval 0
       --insulation-iterations 3 --charger-power $(( MB_MAX_P / 1000 )))
STATES=(Insulation_Test Precharge Charging)

# ------------------------------------------------------------------ helpers

# The line count of a file, and waits for a line past a given count (the
# daemons' logs only grow; shell builtins, no program started).
lines_of() {
        local -a l
        mapfile -t l <"$1"
        echo "${#l[@]}"
}

# wait_line_after FILE N REGEX SECONDS: a line past the first N matches.
wait_line_after() {
        local file=$1 n=$2 re=$3 deadline line
        local -a l
        deadline=$(( ${EPOCHREALTIME/./} + $4 * 1000000 ))
        while :; do
                mapfile -t -s "$n" l <"$file"
                for line in "${l[@]}"; do
                        [[ $line =~ $re ]] && return 0
                done
                [ "${EPOCHREALTIME/./}" -lt "$deadline" ] || return 1
                nap 0.05
        done
}

rss_of() {
        local k v _
        while read -r k v _; do
                [ "$k" != VmRSS: ] || { echo "$v"; return 0; }
        done <"/proc/$1/status"
}

fds_of() {
        local -a f=("/proc/$1/fd/"*)
        echo "${#f[@]}"
}

use_mode() {
        MODE=$1
        MB_CTL_PORT=${M_CTL[$MODE]:-}
        DPID=${M_DPID[$MODE]}
        DLOG=$(bg_log "daemon-$MODE")
}

# ------------------------------------------------------------------ setup

declare -A M_CTL M_DPID M_QUIET
created_ifs=()
for m in "${MODES[@]}"; do
        ifc=${M_IF[$m]}
        if ! vcan_exists "$ifc"; then
                ip link add dev "$ifc" type vcan || fail "cannot create $ifc"
                created_ifs+=("$ifc")
        fi
        vcan_is_up "$ifc" || ip link set dev "$ifc" up
done
delete_ifs() {
        local i
        for i in "${created_ifs[@]}"; do
                ip link delete dev "$i" 2>/dev/null || true
        done
}
at_exit delete_ifs

# shellcheck disable=SC2119  # the defaults
mqtt_broker_start
MQTT_BROKER_PID=$(bg_pid broker)

for m in "${MODES[@]}"; do
        ifc=${M_IF[$m]}
        IFS='|' read -r -a extra <<<"${M_CONF[$m]}"
        mq=()
        mapfile -t mq < <(MQTT_PREFIX=soak/$m mqtt_daemon_lines "host = 127.0.0.1" "port = $MQTT_PORT" \
                "client_id = soak-$m")
        if [ -n "${M_SERVER[$m]}" ]; then
                read -r -a sargs <<<"${M_SERVER[$m]}"
                bg_start "mbserver-$m" nice -n 10 "$MB_PYTHON" "$MB_SERVER" "${sargs[@]}" \
                        --lifetime $(( SESSIONS * 60 + 600 ))
                wait_for_line "$(bg_log "mbserver-$m")" '^READY tcp=[0-9]+ control=[0-9]+$' 20
                line=$(grep -E '^READY ' "$(bg_log "mbserver-$m")" | head -n 1)
                MB_PORT=$(sed -E 's/.* tcp=([0-9]+).*/\1/' <<<"$line")
                M_CTL[$m]=$(sed -E 's/.* control=([0-9]+).*/\1/' <<<"$line")
                MB_CTL_PORT=${M_CTL[$m]}
                wait_until 10 _mb_ctl_once now || fail "the $m server's control port does not answer"
                VCAN_IF=$ifc MB_PROFILE=${M_PROFILE[$m]} mb_config tcp "link_timeout_ms = 500" "${extra[@]}" "${mq[@]}"
                mv "$S_CONF" "$TEST_TMP/$m.conf"
        else
                {
                        printf '[can]\ninterface = %s\npistol_index = 1\n' "$ifc"
                        printf '[limits]\nmax_voltage = %s\nmax_current = %s\nmax_power = %s\n' "$MB_MAX_V" "$MB_MAX_I" "$MB_MAX_P"
                printf '[converter]\nbackend = none\n'
                        printf '%s\n' "${extra[@]}" "${mq[@]}"
                } >"$TEST_TMP/$m.conf"
                "$SECCBRIDGE" --check-config -c "$TEST_TMP/$m.conf" >"$TEST_TMP/check-config.out" 2>&1 \
                        || { show_file "$TEST_TMP/check-config.out"; fail "the $m configuration does not validate"; }
        fi
        # nice runs the daemon itself (exec): the background pid is the daemon's.
        bg_start "daemon-$m" "${MB_NICE[@]}" "$SECCBRIDGE" -c "$TEST_TMP/$m.conf"
        wait_for_line "$(bg_log "daemon-$m")" "ready: pistol 1 on $ifc"
        if [ -n "${M_SERVER[$m]}" ]; then
                wait_until 10 grep -q "rated " "$(bg_log "daemon-$m")" \
                        || { show_file "$(bg_log "daemon-$m")"; fail "the $m daemon never reached the converter"; }
        fi
        M_DPID[$m]=$(bg_pid "daemon-$m")
        # Its answers to a heartbeat (Sequence_Control and the limits, v2
        # 0x60011/12, v3 0x63001/02), captured for the whole soak.
        if [ "${M_VER[$m]}" = 2 ]; then a=0106001; else a=0106300; fi
        bg_start "answers-$m" candump -L "$ifc,${a}1:1FFFFFFF,${a}2:1FFFFFFF"
        wait_ready "answers-$m"
        M_QUIET[$m]=0
done
for m in "${MODES[@]}"; do
        wait_line_after "$(bg_log "daemon-$m")" 0 "mqtt: connected to " 10 \
                || { show_file "$(bg_log "daemon-$m")"; fail "the $m daemon never reached the broker"; }
done

# ------------------------------------------------------------------ faults

# Converter and broker faults, staged once the controller is charging.
at_charging() {
        wait_until 60 grep -q "state Charging (7)" "$1" || return 0
        nap 0.5
}
hook_link_drop() { at_charging "$1"; _mb_ctl_once stop; nap 1.5; _mb_ctl_once start; }
hook_late() { at_charging "$1"; _mb_ctl_once delay 700 3; }
hook_fault() { at_charging "$1"; _mb_ctl_once fault 1; nap 1; _mb_ctl_once fault 0; }
hook_sighup() {
        local n
        for n in 1 2 3; do
                nap "0.$(( RANDOM % 9 + 1 ))"
                kill -HUP "$DPID" 2>/dev/null || true
        done
}
hook_broker() {
        at_charging "$1"
        kill -TERM "$MQTT_BROKER_PID" 2>/dev/null || true
        : >"$TEST_TMP/broker-stopped"
}
hook_kill() { at_charging "$1"; kill -TERM "$SIM_PID" 2>/dev/null || true; }

# Has the daemon seen the controller go?  Its last word on the heartbeat
# since line M_QUIET of its log is "lost" (or there is none: no controller
# since).
_silent() {
        local line last=
        local -a l
        mapfile -t -s "${M_QUIET[$MODE]}" l <"$DLOG"
        for line in "${l[@]}"; do
                case "$line" in
                *"heartbeat lost"*) last=lost ;;
                *"heartbeat present"*) last=present ;;
                *) ;;
                esac
        done
        [ "$last" != present ]
}
controller_gone() { wait_until "${1:-5}" _silent; }

# The daemon answers: once it has seen the controller gone, a heartbeat on
# its bus gets its flags or limits again (E.8).  It sees the controller go
# again before the next session of this mode (controller_gone).
daemon_answers() {
        local cap n before hb
        cap=$(bg_log "answers-$MODE")
        controller_gone 5 || return 1
        if [ "${M_VER[$MODE]}" = 2 ]; then hb=01068009#01; else hb=0106B000#01; fi
        before=$(lines_of "$cap")
        for n in 1 2 3 4 5 6 7 8 9 10; do
                cansend "${M_IF[$MODE]}" "$hb"
                wait_line_after "$cap" "$before" " ${M_IF[$MODE]} " 0 && break
                nap 0.1
        done
        wait_line_after "$cap" "$before" " ${M_IF[$MODE]} " 1
}

# The server's output enable and setpoints, "COIL V A [SINK]" (control
# failures give "?").
converter_state() {
        local coil='?' set='? ?' n=2
        [ "${M_SINK[$MODE]}" = 0 ] || n=3
        _mb_ctl_once get coil 0 && coil=${MB_REPLY#ok }
        _mb_ctl_once get holding 0 "$n" && set=${MB_REPLY#ok }
        printf '%s %s\n' "$coil" "$set"
}
converter_off() {
        local s
        s=$(converter_state)
        [ "$s" = "0 0 0" ] || [ "$s" = "0 0 0 0" ]
}

# A sink setpoint (holding 2) written to a converter whose daemon is not
# configured for discharge.
sink_writes() {
        _mb_ctl_once log || return 1
        tr ';' '\n' <<<"${MB_REPLY#ok * }" | awk -F, '($2 == 6 || $2 == 16) && $3 <= 2 && $3 + $4 > 2 {
                n = split($5, v, "/"); if (v[2 - $3 + 1] + 0 != 0) { print; exit } }'
}

# ------------------------------------------------------------------ sessions

declare -A count=() verdict_fail=() unsafe_kind=()
declare -A m_count=() m_faults=() m_completed=() m_ended=() m_vfail=() m_unsafe=()
declare -A fd_first=() fd_base=() fd_max=() fd_end=() rss_first=() rss_base=() rss_max=() rss_end=()
declare -A m_done=() mq_from=()
failures=0 unsafe=0 stalls=0 broker_losses=0
t_start=${EPOCHREALTIME/./}

for i in $(seq 1 "$SESSIONS"); do
        use_mode "${MODES[$(( RANDOM % ${#MODES[@]} ))]}"
        read -r -a kinds <<<"${M_KINDS[$MODE]}"
        kind=${kinds[$(( RANDOM % ${#kinds[@]} ))]}
        state=${STATES[$(( RANDOM % ${#STATES[@]} ))]}
        read -r -a margs <<<"${M_ARGS[$MODE]}"
        args=(--interface-version "${M_VER[$MODE]}" "${QUICK[@]}" "${margs[@]}")
        # The controller's faults strike in the discharge in V2G.
        [ "$MODE" != v2g ] || state=Charging
        [ "$MODE" != v2g ] || args+=(--fault-delay 1500ms)
        hook=
        expect_clean=1
        case "$kind" in
        none) ;;
        heartbeat-stop) args+=(--fault "$kind@$state") ;;
        # The next session (seccsim plays one after the stop) comes after
        # the stop's release time (R46, estop_release_ms 1 s): sooner, the
        # latch rightly holds through it.
        estop) args+=(--fault "$kind@$state" --idle-time 1200) ;;
        insulation) args+=(--fault insulation); mb_ctl insulation 20 ;;
        malformed) args+=(--malformed) ;;
        bus-load) args+=(--bus-load=3800) ;;
        wrong-pistol) args+=(--wrong-pistol) ;;
        discharge-refused) args+=(--discharge --discharge-current 30) ;;
        link-drop) hook=hook_link_drop; expect_clean=0
                args+=(--expect-shutdown=Charging --off-current 100 --estop-time 3500) ;;
        late-replies) hook=hook_late; expect_clean=0 ;;
        converter-fault) hook=hook_fault; expect_clean=0
                args+=(--expect-shutdown=Charging --off-current 100) ;;
        sighup) hook=hook_sighup ;;
        broker-loss) hook=hook_broker ;;
        controller-kill) hook=hook_kill; expect_clean=0 ;;
        esac
        count[$kind]=$(( ${count[$kind]:-0} + 1 ))
        m_count[$MODE]=$(( ${m_count[$MODE]:-0} + 1 ))
        [ "$kind" = none ] || m_faults[$MODE]=$(( ${m_faults[$MODE]:-0} + 1 ))
        [ -z "${M_SERVER[$MODE]}" ] || mb_ctl clearlog
        if [ "$kind" = broker-loss ]; then
                rm -f "$TEST_TMP/broker-stopped"
                for m in "${MODES[@]}"; do
                        mq_from[$m]=$(lines_of "$(bg_log "daemon-$m")")
                done
        fi

        # The daemon has seen the controller of its last session (or the
        # probe after it) go.
        controller_gone 5 || true
        M_QUIET[$MODE]=$(lines_of "$DLOG")

        out=$TEST_TMP/session.out
        : >"$out"
        "${MB_NICE[@]}" timeout --kill-after=5 120 "$SECCSIM" session -i "${M_IF[$MODE]}" "${args[@]}" >"$out" 2>&1 &
        SIM_PID=$!
        t0=${EPOCHREALTIME/./}
        hook_pid=
        if [ -n "$hook" ]; then
                "$hook" "$out" &
                hook_pid=$!
        fi
        rc=0
        wait "$SIM_PID" || rc=$?
        t1=${EPOCHREALTIME/./}
        if [ -n "$hook_pid" ]; then
                kill "$hook_pid" 2>/dev/null || true
                wait "$hook_pid" 2>/dev/null || true
        fi
        if [ -n "${M_SERVER[$MODE]}" ]; then
                # Whatever the fault, the converter is healthy again for the checks.
                mb_ctl fault 0
                mb_ctl delay 0 0
                mb_ctl start
                mb_ctl insulation 10000
        fi

        problems=()
        unsafe_now=()
        if [ "$rc" -eq 0 ]; then
                case "$kind" in
                none|sighup|malformed|bus-load|wrong-pistol|late-replies|broker-loss|discharge-refused) m_completed[$MODE]=$(( ${m_completed[$MODE]:-0} + 1 )) ;;
                *) m_ended[$MODE]=$(( ${m_ended[$MODE]:-0} + 1 )) ;;
                esac
                outcome=PASS
        elif grep -q '^  reason: inconclusive' "$out"; then
                stalls=$((stalls + 1))
                outcome=inconclusive
        else
                outcome=FAIL
                verdict_fail[$kind]=$(( ${verdict_fail[$kind]:-0} + 1 ))
                m_vfail[$MODE]=$(( ${m_vfail[$MODE]:-0} + 1 ))
                if [ "$expect_clean" = 1 ]; then
                        why="seccsim: $(grep -m1 -E 'FAIL' "$out" | cut -c1-160)"
                        case "$SAFETY_KINDS" in
                        *" $kind "*) unsafe_now+=("$why") ;;
                        *) problems+=("$why") ;;
                        esac
                fi
        fi
        if [ "$kind" = controller-kill ]; then
                # Ended by the kill, after the charge began: the daemon saw it.
                if grep -q "state Charging (7)" "$out"; then
                        m_ended[$MODE]=$(( ${m_ended[$MODE]:-0} + 1 ))
                fi
        fi

        # (1) the converter off once the session is over, and no discharge
        # from a daemon not configured for it
        if [ -n "${M_SERVER[$MODE]}" ]; then
                wait_until 5 converter_off || unsafe_now+=("converter not off (output enable, V, A): $(converter_state)")
                if [ "${M_SINK[$MODE]}" = 0 ]; then
                        bad=$(sink_writes || echo "the server's log unreadable")
                        [ -z "$bad" ] || unsafe_now+=("a sink setpoint from a charge-only daemon: $bad")
                fi
        fi
        # The broker back: every daemon reconnects by itself (backoff up to
        # 2 s).
        if [ "$kind" = broker-loss ] && [ -e "$TEST_TMP/broker-stopped" ]; then
                bg_stop broker || true
                # shellcheck disable=SC2119  # the defaults
                mqtt_broker_start
                MQTT_BROKER_PID=$(bg_pid broker)
                broker_losses=$((broker_losses + 1))
                for m in "${MODES[@]}"; do
                        wait_line_after "$(bg_log "daemon-$m")" "${mq_from[$m]}" "mqtt: broker: back to normal after" 10 \
                                || problems+=("the $m daemon did not reconnect to the broker")
                done
        fi
        # (2) the same daemon answers
        if ! kill -0 "$DPID" 2>/dev/null; then
                problems+=("the daemon is gone")
                show_file "$DLOG"
        elif ! daemon_answers; then
                problems+=("no answer to a controller heartbeat")
        fi
        # (3) descriptors and memory
        fds=$(fds_of "$DPID")
        rss=$(rss_of "$DPID")
        m_done[$MODE]=$(( ${m_done[$MODE]:-0} + 1 ))
        [ "$fds" -le "${fd_max[$MODE]:-0}" ] || fd_max[$MODE]=$fds
        [ "$rss" -le "${rss_max[$MODE]:-0}" ] || rss_max[$MODE]=$rss
        [ "${m_done[$MODE]}" -ne 1 ] || { fd_first[$MODE]=$fds; rss_first[$MODE]=$rss; }
        if [ "${m_done[$MODE]}" -eq "$WARMUP" ]; then
                fd_base[$MODE]=$fds
                rss_base[$MODE]=$rss
        elif [ -n "${fd_base[$MODE]:-}" ] && [ "$fds" -gt "${fd_base[$MODE]}" ]; then
                problems+=("file descriptors grew: $fds (after warm-up ${fd_base[$MODE]})")
        fi

        if [ ${#unsafe_now[@]} -gt 0 ]; then
                unsafe=$((unsafe + 1))
                unsafe_kind[$kind]=$(( ${unsafe_kind[$kind]:-0} + 1 ))
                m_unsafe[$MODE]=$(( ${m_unsafe[$MODE]:-0} + 1 ))
                problems+=("UNSAFE: ${unsafe_now[*]}")
        fi
        if [ ${#problems[@]} -gt 0 ]; then
                failures=$((failures + 1))
                printf 'soak %4d %-10s %-17s %-15s %-12s FAILURE: %s\n' "$i" "$MODE" "$kind" "$state" "$outcome" "${problems[*]}"
                show_file "$out"
        else
                printf 'soak %4d %-10s %-17s %-15s %-12s ok  fds %s rss %s kB  %s+%s ms\n' "$i" "$MODE" "$kind" "$state" \
                        "$outcome" "$fds" "$rss" $(( (t1 - t0) / 1000 )) $(( (${EPOCHREALTIME/./} - t1) / 1000 ))
                [ -z "${SECCBRIDGE_SOAK_SHOW:-}" ] || show_file "$out"
        fi
done
t_end=${EPOCHREALTIME/./}

# ------------------------------------------------------------------ the end

for m in "${MODES[@]}"; do
        use_mode "$m"
        if ! kill -0 "$DPID" 2>/dev/null; then
                failures=$((failures + 1))
                note "FAILURE: the $m daemon is gone"
                continue
        fi
        fd_end[$m]=$(fds_of "$DPID")
        rss_end[$m]=$(rss_of "$DPID")
        if [ -n "${rss_base[$m]:-}" ] && [ $(( ${rss_end[$m]} - ${rss_base[$m]} )) -gt "$SOAK_RSS_SLACK_KB" ]; then
                failures=$((failures + 1))
                note "FAILURE: the $m daemon's resident memory grew from ${rss_base[$m]} kB (after warm-up) to ${rss_end[$m]} kB"
        fi
        if [ -n "${fd_base[$m]:-}" ] && [ "${fd_end[$m]}" -ne "${fd_base[$m]}" ]; then
                failures=$((failures + 1))
                note "FAILURE: the $m daemon has ${fd_end[$m]} file descriptors at the end, ${fd_base[$m]} after warm-up"
        fi
        bg_stop "daemon-$m" TERM || { failures=$((failures + 1)); note "FAILURE: the $m daemon did not stop cleanly"; }
done

faults=0
seen=
{
        echo "sessions $SESSIONS"
        echo "seed $SEED"
        echo "ms_per_session $(( (t_end - t_start) / 1000 / SESSIONS ))"
        for m in "${MODES[@]}"; do
                echo "mode $m ${m_count[$m]:-0} ${m_faults[$m]:-0} ${m_completed[$m]:-0} ${m_ended[$m]:-0} ${m_vfail[$m]:-0} ${m_unsafe[$m]:-0}"
                faults=$(( faults + ${m_faults[$m]:-0} ))
        done
        for m in "${MODES[@]}"; do
                for k in ${M_KINDS[$m]}; do
                        case " $seen " in *" $k "*) continue ;; esac
                        seen="$seen $k"
                        echo "kind $k ${count[$k]:-0} ${verdict_fail[$k]:-0} ${unsafe_kind[$k]:-0}"
                done
        done
        for m in "${MODES[@]}"; do
                echo "daemon $m fd ${fd_first[$m]:-?} ${fd_base[$m]:-?} ${fd_max[$m]:-?} ${fd_end[$m]:-?}" \
                        "rss_kb ${rss_first[$m]:-?} ${rss_base[$m]:-?} ${rss_max[$m]:-?} ${rss_end[$m]:-?}"
        done
        echo "faults $faults"
        echo "unsafe $unsafe"
        echo "failures $failures"
        echo "stalls $stalls"
        echo "broker_outages $broker_losses"
} | tee "${REPORT:-/dev/null}" >&2
[ "$unsafe" -eq 0 ] || fail "$unsafe unsafe outcome(s) in $SESSIONS sessions"
[ "$failures" -eq 0 ] || fail "$failures failure(s) in $SESSIONS sessions"
