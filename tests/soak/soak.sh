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
#               shared      interface v2, two pistols of one daemon sharing
#                           one converter (Modbus TCP, [sharing]): two
#                           controllers per session, the second starting
#                           up to a second after the first, each charging in
#                           its turn (the other held), the faults on pistol 1
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
# fd count never above the count after its warm-up, and at the end equal to
# it; resident memory at the end within SOAK_RSS_SLACK_KB of its value after
# warm-up.  A daemon's warm-up lasts until it has played every fault of its
# mode once (and at least SECCBRIDGE_SOAK_WARMUP sessions): the first pass
# through a path may take memory once (a thread's stack pages, an allocator
# arena), a leak grows after it.  seccsim's own verdict is counted too: a FAIL where
# the fault (or none) let it expect a clean outcome is a failure, unless
# seccsim found the machine stalled ("inconclusive", counted apart).
# Unsafe outcomes, counted apart from the other failures: a converter not
# off after a session, a sink setpoint written by a daemon not configured
# for discharge, a controller FAIL in a session whose fault is a safety
# one (silence, emergency stop, insulation, converter fault, link loss, a
# discharge refused): seccsim checks the current after the stop; and with
# a shared converter both pistols reporting current at once on the bus.
# The second controller of a shared session has no fault of its own: its
# FAIL is a failure.
#
# Runs on a real vcan (inside the VM here): scripts/soak.sh drives it.
# Environment: SECCBRIDGE_SOAK_SESSIONS (200), SECCBRIDGE_SOAK_SEED (the
# time), SECCBRIDGE_SOAK_REPORT (file for the summary, optional),
# SECCBRIDGE_SOAK_MODES (the modes drawn, "v2 v3 v2g shared supervisor"),
# SECCBRIDGE_SOAK_WARMUP (sessions per daemon before its baseline, 3),
# SECCBRIDGE_SOAK_LANES (sessions played at a time, on different daemons, 1),
# SECCBRIDGE_SOAK_KINDS (only these faults: a rerun of one kind),
# SECCBRIDGE_SOAK_SHOW (1: every session's output, not only a failure's).
# shellcheck source-path=SCRIPTDIR source=../integration/modbus-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../integration/modbus-lib.sh"
test_begin "$@"
# shellcheck source-path=SCRIPTDIR source=../integration/mqtt-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../integration/mqtt-lib.sh"

SESSIONS=${SECCBRIDGE_SOAK_SESSIONS:-200}
SEED=${SECCBRIDGE_SOAK_SEED:-$(date +%s)}
REPORT=${SECCBRIDGE_SOAK_REPORT:-}
WARMUP=${SECCBRIDGE_SOAK_WARMUP:-3}
LANES=${SECCBRIDGE_SOAK_LANES:-1}
SOAK_RSS_SLACK_KB=${SECCBRIDGE_SOAK_RSS_SLACK_KB:-512}
# (in this order two lanes take v2, v2g, supervisor and v3, shared: the
# shared sessions, two charges each, are the longest)
read -r -a MODES <<<"${SECCBRIDGE_SOAK_MODES:-v2 v3 v2g shared supervisor}"
# Only these faults, where a mode has them (a rerun of one kind).
ONLY_KINDS=${SECCBRIDGE_SOAK_KINDS:-}
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
#   M_PISTOLS   pistols of the daemon (2: two controllers per session)
declare -A M_IF M_VER M_SERVER M_PROFILE M_CONF M_ARGS M_KINDS M_SINK M_PISTOLS
SAFETY_KINDS=" heartbeat-stop estop insulation link-drop converter-fault discharge-refused "
COMMON_KINDS="none none heartbeat-stop estop insulation malformed link-drop late-replies converter-fault sighup broker-loss"

M_IF[v2]=$VCAN_IF
M_VER[v2]=2
M_SERVER[v2]="--tcp 0"
M_PROFILE[v2]=$SECCBRIDGE_ROOT/conf/profiles/generic.conf
M_CONF[v2]=""
M_ARGS[v2]="--profile 40,60,20"
M_KINDS[v2]="$COMMON_KINDS bus-load wrong-pistol"
M_SINK[v2]=0

M_IF[v3]=vcan1
M_VER[v3]=3
M_SERVER[v3]="--tcp 0"
M_PROFILE[v3]=$SECCBRIDGE_ROOT/conf/profiles/generic.conf
M_CONF[v3]="[can]|interface_version = 3"
M_ARGS[v3]="--profile 40,60,20"
M_KINDS[v3]="$COMMON_KINDS wrong-pistol discharge-refused"
M_SINK[v3]=0

# V2G: charge, discharge, charge, a third of the charge each; the
# controller's faults strike in the discharge (1.3 s into a 2.4 s charge).
M_IF[v2g]=vcan2
M_VER[v2g]=3
M_SERVER[v2g]="--tcp 0 --bidirectional"
M_PROFILE[v2g]=$SECCBRIDGE_ROOT/conf/profiles/generic-bidirectional.conf
M_CONF[v2g]="[can]|interface_version = 3|[limits]|max_discharge_current = 50|max_discharge_power = 20000|[v3]|bidirectional = true"
M_ARGS[v2g]="--discharge --discharge-current 30 --profile 40,40,20"
M_KINDS[v2g]=$COMMON_KINDS
M_SINK[v2g]=1

# Two pistols sharing one converter (doc/sharing.md): both controllers wait
# for Start_Charge_Authorisation (the held one up to a minute).  Insulation
# is left out: the test converter's one insulation reading would fail the
# other pistol's test too.
M_IF[shared]=vcan4
M_VER[shared]=2
M_SERVER[shared]="--tcp 0"
M_PROFILE[shared]=$SECCBRIDGE_ROOT/conf/profiles/generic.conf
M_CONF[shared]="[sharing]|[pistol one]|pistol_index = 1|[pistol two]|pistol_index = 2"
M_ARGS[shared]="--profile 40,60,20 --sequence-flags --auth-timeout 60"
M_KINDS[shared]="none none heartbeat-stop estop malformed link-drop late-replies converter-fault sighup broker-loss"
M_SINK[shared]=0
M_PISTOLS[shared]=2

# Supervisor mode: no converter; seccsim --supervisor takes no fault of its
# own, so the controller's silence is seccsim killed in the charge.
M_IF[supervisor]=vcan3
M_VER[supervisor]=2
M_SERVER[supervisor]=""
M_PROFILE[supervisor]=""
M_CONF[supervisor]=""
M_ARGS[supervisor]="--supervisor"
M_KINDS[supervisor]="none none bus-load sighup broker-loss controller-kill"
M_SINK[supervisor]=0

for m in "${MODES[@]}"; do
        [ -n "${M_IF[$m]:-}" ] || fail "unknown soak mode '$m'"
        : "${M_PISTOLS[$m]:=1}"
        if [ -n "$ONLY_KINDS" ]; then
                k=
                for x in ${M_KINDS[$m]}; do
                        case " $ONLY_KINDS " in *" $x "*) k="$k $x" ;; *) ;; esac
                done
                M_KINDS[$m]=${k:-none}
        fi
done

# Quick sessions: every phase short.  The charge: 1.5 s (V2G 2.4 s), enough
# for the controller's faults (3/8 of it in); 2 s (V2G 3 s) when the fault
# is staged from outside half a second into the charge and must strike
# before its end.
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

# (a read of /proc may come back short when a child ends meanwhile: again)
rss_of() {
        local k v _ n
        for n in 1 2 3; do
                while read -r k v _; do
                        [ "$k" != VmRSS: ] || { echo "$v"; return 0; }
                done <"/proc/$1/status"
        done
        echo 0
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

# The broker: mqtt_broker_start writes its configuration and sees it run;
# then a keeper runs it, and starts it again whenever it is gone and no
# session holds it down (the file broker-hold, taken by the session that
# stops it).
# shellcheck disable=SC2119  # the defaults
mqtt_broker_start
bg_stop broker || true
broker_keeper() {
        local pid
        while [ ! -e "$TEST_TMP/soak-over" ]; do
                if [ -e "$TEST_TMP/broker-hold" ] && [ ! -e "$TEST_TMP/broker-back" ]; then
                        nap 0.1
                        continue
                fi
                mosquitto -c "$MQTT_DIR/broker.conf" >>"$TEST_TMP/broker.log" 2>&1 &
                pid=$!
                echo "$pid" >"$TEST_TMP/broker.pid"
                wait "$pid" || true
        done
}
broker_pid() { local p=; read -r p <"$TEST_TMP/broker.pid" || true; echo "$p"; }
broker_down() {
        : >"$TEST_TMP/soak-over"
        kill "$(broker_pid)" 2>/dev/null || true
}
at_exit broker_down
bg_start keeper broker_keeper
wait_for_line "$TEST_TMP/broker.log" "mosquitto version .* running" 10

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
                ps=
                [ "${M_PISTOLS[$m]}" = 1 ] || ps=1
                VCAN_IF=$ifc MB_PROFILE=${M_PROFILE[$m]} MB_PISTOL_SECTIONS=$ps \
                        mb_config tcp "link_timeout_ms = 500" "${extra[@]}" "${mq[@]}"
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
        if [ "${M_PISTOLS[$m]}" = 1 ]; then
                wait_for_line "$(bg_log "daemon-$m")" "ready: pistol 1 on $ifc"
        else
                wait_for_line "$(bg_log "daemon-$m")" "ready: ${M_PISTOLS[$m]} pistols"
        fi
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
        # Two pistols: both pistols' Power_Modules_Status (v2 0x60010).
        if [ "${M_PISTOLS[$m]}" = 2 ]; then
                bg_start "status-$m" candump -L "$ifc,01060010:1FFFFFFF,02060010:1FFFFFFF"
                wait_ready "status-$m"
        fi
        M_QUIET[$m]=0
done
for m in "${MODES[@]}"; do
        wait_line_after "$(bg_log "daemon-$m")" 0 "mqtt: connected to " 10 \
                || { show_file "$(bg_log "daemon-$m")"; fail "the $m daemon never reached the broker"; }
done


# ------------------------------------------------------------------ faults

# Converter and broker faults, staged once the controller is charging.
at_charging() {
        wait_line_after "$1" 0 "state Charging \\(7\\)" 60 || return 0
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
        kill -TERM "$(broker_pid)" 2>/dev/null || true
        : >"$TEST_TMP/broker-stopped.$LANE"
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
# configured for discharge: the server's log entries "t,fc,addr,count,v/v..,.."
# (one program, rather than a here-string per entry).
sink_writes() {
        _mb_ctl_once log || return 1
        printf '%s\n' "${MB_REPLY#ok * }" | awk -v RS=';' -F, '($2 == 6 || $2 == 16) && $3 <= 2 && $3 + $4 > 2 {
                split($5, v, "/"); if (v[2 - $3 + 1] + 0 != 0) { print; exit } }'
}

# seccsim saw the machine hold it up past R1's 200 ms (its heartbeat late):
# the daemon then rightly takes the controller as gone, whatever the fault.
# (seccsim marks a failure inconclusive only when the stall came first; the
# stall is seen at the controller's next tick, which may follow the failure
# it caused.)
stalled_past_r1() {
        local line ms
        while read -r line; do
                [[ $line =~ stalled\ the\ controller\ for\ ([0-9]+)\ ms ]] || continue
                ms=${BASH_REMATCH[1]}
                [ "$ms" -lt 200 ] || return 0
        done <"$1"
        return 1
}

# Both pistols of a shared converter reporting at least 2 A at once in the
# capture FILE past line N (candump -L: Present_Current bytes 2-3, signed
# little endian, 0.1 A): the first such frame, or nothing.  "At once": the
# other pistol's latest frame at most 250 ms old (a pistol's frames stop
# with its session, its last value then tells nothing).
both_delivered() {
        local -a l
        mapfile -t -s "$2" l <"$1"
        [ ${#l[@]} -gt 0 ] || return 0
        printf '%s\n' "${l[@]}" | awk '
                function hex(s,  i, v) {
                        v = 0
                        for (i = 1; i <= length(s); i++)
                                v = v * 16 + index("0123456789ABCDEF", toupper(substr(s, i, 1))) - 1
                        return v
                }
                {
                        split($3, f, "#"); d = f[2]
                        if (length(d) < 8) next
                        a = hex(substr(d, 5, 2)) + 256 * hex(substr(d, 7, 2))
                        if (a >= 32768) a -= 65536
                        if (a < 0) a = -a
                        p = substr(f[1], 1, 2); t = substr($1, 2, length($1) - 2) + 0
                        cur[p] = a; at[p] = t
                        o = p == "01" ? "02" : "01"
                        if (a >= 20 && cur[o] >= 20 && t - at[o] <= 0.25) { print; exit }
                }'
}

# The daemon's log of this session (from line M_QUIET, at most 300 lines).
show_session_log() {
        local -a l
        mapfile -t -s "${M_QUIET[$MODE]}" -n 300 l <"$DLOG"
        printf '# --- %s from line %s\n' "$DLOG" "${M_QUIET[$MODE]}" >&2
        printf '#   %s\n' "${l[@]}" >&2
}

# The daemon's memory map with each mapping's resident size (a builtin
# read: no program started); smaps_growth FIRST END: the mappings whose
# resident size grew between the two, largest first ("+KB range name"),
# where a step in the resident memory comes from.
smaps_save() {
        local -a l
        mapfile -t l <"/proc/$DPID/smaps" 2>/dev/null || true
        printf '%s\n' "${l[@]}" >"$1"
}
smaps_growth() {
        [ -s "$1" ] && [ -s "$2" ] || return 0
        awk 'FNR == 1 { f++ }
             $1 ~ /^[0-9a-f]+-[0-9a-f]+$/ { key = $1; name[key] = ($6 == "" ? "[anon]" : $6) }
             $1 == "Rss:" { rss[f, key] = $2; keys[key] = 1 }
             END { for (k in keys) { d = rss[2, k] - rss[1, k]; if (d != 0) printf "%+d kB %s %s\n", d, k, name[k] } }' \
                "$1" "$2" | sort -t' ' -k1,1nr | head -n 8
}

# Every fault of the mode played once by its daemon (m_seen).
warmed_up() {
        local k
        for k in ${M_KINDS[$MODE]}; do
                case " ${m_seen[$MODE]:-} " in *" $k "*) ;; *) return 1 ;; esac
        done
}

# ------------------------------------------------------------------ a session

# run_session I KIND STATE (MODE set by use_mode): play it, check, print a
# line, and add a record to RESULTS:
#   rec I MODE KIND OUTCOME END UNSAFE FAILED MS
# OUTCOME: PASS, FAIL or inconclusive (seccsim's verdict); END: completed
# (the charge ran to its end), ended (by its fault, as expected) or -.
run_session() {
        local i=$1 kind=$2 state=$3 hook='' expect_clean=1 charge rc=0 out outcome end=- why bad m
        local hook_pid='' watchdog t0 t1 fds rss out2 rc2=0 sim2='' status_from=0 both
        local -a margs args args2 problems=() unsafe_now=()
        read -r -a margs <<<"${M_ARGS[$MODE]}"
        args=(--interface-version "${M_VER[$MODE]}" "${QUICK[@]}" "${margs[@]}")
        case "$kind" in
        link-drop|late-replies|converter-fault|broker-loss|controller-kill) charge=2000 ;;
        *) charge=1500 ;;
        esac
        if [ "$MODE" = v2g ]; then
                # The controller's faults strike in the discharge.
                state=Charging
                args+=(--fault-delay 1300ms)
                charge=$(( charge * 8 / 5 ))
        fi
        args+=(--charge-time "${charge}ms")
        # Two pistols: the second controller without a fault of its own.
        if [ "${M_PISTOLS[$MODE]}" = 2 ]; then
                args2=(--interface-version "${M_VER[$MODE]}" "${QUICK[@]}" "${margs[@]}" --charge-time 1500ms
                       -p 2 --other-pistol 1)
                args+=(-p 1 --other-pistol 2)
        fi
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
        # One broker outage at a time (the other lane's session goes on
        # with the broker as it finds it).
        broker-loss)
                if (set -o noclobber; : >"$TEST_TMP/broker-hold") 2>/dev/null; then
                        hook=hook_broker
                        rm -f "$TEST_TMP/broker-stopped.$LANE"
                        for m in "${MODES[@]}"; do
                                mq_from[$m]=$(lines_of "$(bg_log "daemon-$m")")
                        done
                else
                        kind=none
                fi ;;
        controller-kill) hook=hook_kill; expect_clean=0 ;;
        esac
        [ -z "${M_SERVER[$MODE]}" ] || mb_ctl clearlog

        # The daemon has seen the controller of its last session (or the
        # probe after it) go.
        controller_gone 5 || true
        M_QUIET[$MODE]=$(lines_of "$DLOG")

        out=$TEST_TMP/session.$LANE.out
        out2=$TEST_TMP/session.$LANE.p2.out
        : >"$out"
        [ "${M_PISTOLS[$MODE]}" = 1 ] || status_from=$(lines_of "$(bg_log "status-$MODE")")
        t0=${EPOCHREALTIME/./}
        # (seccsim bounds every wait of its own; the watchdog, a subshell
        # rather than timeout(1), is one program start less per session)
        "${MB_NICE[@]}" "$SECCSIM" session -i "${M_IF[$MODE]}" "${args[@]}" >"$out" 2>&1 &
        SIM_PID=$!
        if [ "${M_PISTOLS[$MODE]}" = 2 ]; then
                # the second controller up to a second later: either may
                # be served first
                nap "0.$(( RANDOM % 10 ))"
                "${MB_NICE[@]}" "$SECCSIM" session -i "${M_IF[$MODE]}" "${args2[@]}" >"$out2" 2>&1 &
                sim2=$!
        fi
        { nap 120; kill -KILL "$SIM_PID" $sim2 2>/dev/null; } &
        watchdog=$!
        if [ -n "$hook" ]; then
                "$hook" "$out" &
                hook_pid=$!
        fi
        wait "$SIM_PID" || rc=$?
        [ -z "$sim2" ] || wait "$sim2" || rc2=$?
        t1=${EPOCHREALTIME/./}
        kill "$watchdog" 2>/dev/null || true
        wait "$watchdog" 2>/dev/null || true
        if [ -n "$hook_pid" ]; then
                kill "$hook_pid" 2>/dev/null || true
                wait "$hook_pid" 2>/dev/null || true
        fi
        # Whatever the fault, the converter is healthy again for the checks.
        case "$kind" in
        insulation) mb_ctl insulation 10000 ;;
        link-drop) mb_ctl start ;;
        late-replies) mb_ctl delay 0 0 ;;
        converter-fault) mb_ctl fault 0 ;;
        *) ;;
        esac

        if [ "$rc" -eq 0 ]; then
                case "$kind" in
                none|sighup|malformed|bus-load|wrong-pistol|late-replies|broker-loss|discharge-refused) end=completed ;;
                *) end=ended ;;
                esac
                outcome=PASS
        elif grep -q '^  reason: inconclusive' "$out" || stalled_past_r1 "$out"; then
                outcome=inconclusive
        else
                outcome=FAIL
                if [ "$expect_clean" = 1 ]; then
                        why="seccsim: $(grep -m1 -E 'FAIL' "$out" | cut -c1-160)"
                        case "$SAFETY_KINDS" in
                        *" $kind "*) unsafe_now+=("$why") ;;
                        *) problems+=("$why") ;;
                        esac
                fi
        fi
        # The second controller: a clean charge in its turn.
        if [ -n "$sim2" ] && [ "$rc2" -ne 0 ]; then
                if grep -q '^  reason: inconclusive' "$out2" || stalled_past_r1 "$out2"; then
                        [ "$outcome" = FAIL ] || outcome=inconclusive
                else
                        problems+=("pistol 2's seccsim: $(grep -m1 -E 'FAIL' "$out2" | cut -c1-160)")
                fi
        fi
        if [ -n "$sim2" ]; then
                both=$(both_delivered "$(bg_log "status-$MODE")" "$status_from")
                [ -z "$both" ] || unsafe_now+=("both pistols of the shared converter delivered current: $both")
        fi
        # Killed after the charge began: the daemon saw its controller go.
        if [ "$kind" = controller-kill ] && grep -q "state Charging (7)" "$out"; then
                end=ended
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
        if [ "$kind" = broker-loss ]; then
                if [ -e "$TEST_TMP/broker-stopped.$LANE" ]; then
                        # (the keeper starts it again; the hold lasts until
                        # every daemon is back, so that no baseline of
                        # descriptors is taken meanwhile)
                        rm -f "$TEST_TMP/broker-stopped.$LANE"
                        : >"$TEST_TMP/broker-back"
                        echo "outage $i" >>"$RESULTS"
                        for m in "${MODES[@]}"; do
                                wait_line_after "$(bg_log "daemon-$m")" "${mq_from[$m]}" "mqtt: broker: back to normal after" 10 \
                                        || problems+=("the $m daemon did not reconnect to the broker")
                        done
                        rm -f "$TEST_TMP/broker-hold" "$TEST_TMP/broker-back"
                else
                        rm -f "$TEST_TMP/broker-hold"
                fi
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
        if [ "${m_done[$MODE]}" -eq 1 ]; then
                fd_first[$MODE]=$fds
                rss_first[$MODE]=$rss
                smaps_save "$TEST_TMP/smaps-first-$MODE"
        fi
        case " ${m_seen[$MODE]:-} " in *" $kind "*) ;; *) m_seen[$MODE]="${m_seen[$MODE]:-} $kind" ;; esac
        # The baseline after the warm-up, not while the broker is away (the
        # MQTT connection's descriptors closed).
        if [ -z "${fd_base[$MODE]:-}" ] && [ "${m_done[$MODE]}" -ge "$WARMUP" ] && [ ! -e "$TEST_TMP/broker-hold" ] &&
           warmed_up; then
                fd_base[$MODE]=$fds
                rss_base[$MODE]=$rss
                m_warm[$MODE]=${m_done[$MODE]}
        elif [ -n "${fd_base[$MODE]:-}" ] && [ "$fds" -gt "${fd_base[$MODE]}" ]; then
                problems+=("file descriptors grew: $fds (after warm-up ${fd_base[$MODE]})")
        fi

        [ ${#unsafe_now[@]} -eq 0 ] || problems+=("UNSAFE: ${unsafe_now[*]}")
        printf 'rec %d %s %s %s %s %d %d %d\n' "$i" "$MODE" "$kind" "$outcome" "$end" \
                $(( ${#unsafe_now[@]} > 0 )) $(( ${#problems[@]} > 0 )) $(( (t1 - t0) / 1000 )) >>"$RESULTS"
        if [ ${#problems[@]} -gt 0 ]; then
                printf 'soak %4d %-10s %-17s %-15s %-12s FAILURE: %s\n' "$i" "$MODE" "$kind" "$state" "$outcome" "${problems[*]}"
                show_file "$out"
                [ -z "$sim2" ] || show_file "$out2"
                show_session_log
        else
                printf 'soak %4d %-10s %-17s %-15s %-12s ok  fds %s rss %s kB  %s+%s ms\n' "$i" "$MODE" "$kind" "$state" \
                        "$outcome" "$fds" "$rss" $(( (t1 - t0) / 1000 )) $(( (${EPOCHREALTIME/./} - t1) / 1000 ))
                [ -z "${SECCBRIDGE_SOAK_SHOW:-}" ] || show_file "$out"
                [ -z "${SECCBRIDGE_SOAK_SHOW:-}" ] || [ -z "$sim2" ] || show_file "$out2"
        fi
}

# ------------------------------------------------------------------ lanes

# The plan, drawn from the seed: "I MODE KIND STATE" per session, in the
# plan of the mode's lane.  A lane plays its sessions one after the other;
# with SECCBRIDGE_SOAK_LANES=2 two sessions (of modes of different lanes,
# so of different daemons) run at a time.
declare -A M_LANE
n=0
for m in "${MODES[@]}"; do
        M_LANE[$m]=$(( n % LANES ))
        n=$(( n + 1 ))
done
for l in $(seq 0 $(( LANES - 1 ))); do
        : >"$TEST_TMP/plan.$l"
done
for i in $(seq 1 "$SESSIONS"); do
        m=${MODES[$(( RANDOM % ${#MODES[@]} ))]}
        read -r -a kinds <<<"${M_KINDS[$m]}"
        printf '%d %s %s %s\n' "$i" "$m" "${kinds[$(( RANDOM % ${#kinds[@]} ))]}" \
                "${STATES[$(( RANDOM % ${#STATES[@]} ))]}" >>"$TEST_TMP/plan.${M_LANE[$m]}"
done

run_lane() {
        local i m kind state
        declare -gA m_done=() m_seen=() m_warm=() fd_first=() fd_base=() fd_max=() rss_first=() rss_base=() rss_max=() mq_from=()
        LANE=$1
        RESULTS=$TEST_TMP/results.$LANE
        : >"$RESULTS"
        while read -r -u 3 i m kind state; do
                use_mode "$m"
                run_session "$i" "$kind" "$state"
        done 3<"$TEST_TMP/plan.$LANE"
        for m in "${MODES[@]}"; do
                [ "${M_LANE[$m]}" = "$LANE" ] || continue
                echo "warmup $m ${m_warm[$m]:-?}" >>"$RESULTS"
                echo "daemon $m ${fd_first[$m]:-?} ${fd_base[$m]:-?} ${fd_max[$m]:-?} ${rss_first[$m]:-?} ${rss_base[$m]:-?} ${rss_max[$m]:-?}" >>"$RESULTS"
        done
}

t_start=${EPOCHREALTIME/./}
lane_pids=()
for l in $(seq 0 $(( LANES - 1 ))); do
        run_lane "$l" &
        lane_pids+=("$!")
done
lane_failures=0
for p in "${lane_pids[@]}"; do
        wait "$p" || lane_failures=$(( lane_failures + 1 ))
done
t_end=${EPOCHREALTIME/./}

# ------------------------------------------------------------------ the end

failures=$lane_failures
declare -A fd_end=() rss_end=() base_fd=() base_rss=()
while read -r _ m _ fb _ _ rb _; do
        base_fd[$m]=$fb
        base_rss[$m]=$rb
done < <(cat "$TEST_TMP"/results.* | grep '^daemon ')
for m in "${MODES[@]}"; do
        use_mode "$m"
        if ! kill -0 "$DPID" 2>/dev/null; then
                failures=$((failures + 1))
                note "FAILURE: the $m daemon is gone"
                continue
        fi
        fd_end[$m]=$(fds_of "$DPID")
        smaps_save "$TEST_TMP/smaps-end-$m"
        smaps_growth "$TEST_TMP/smaps-first-$m" "$TEST_TMP/smaps-end-$m" | sed "s/^/rss-growth $m /" >&2
        rss_end[$m]=$(rss_of "$DPID")
        if [[ ${base_rss[$m]:-?} =~ ^[0-9]+$ ]] && [ $(( ${rss_end[$m]} - ${base_rss[$m]} )) -gt "$SOAK_RSS_SLACK_KB" ]; then
                failures=$((failures + 1))
                note "FAILURE: the $m daemon's resident memory grew from ${base_rss[$m]} kB (after warm-up) to ${rss_end[$m]} kB"
        fi
        if [[ ${base_fd[$m]:-?} =~ ^[0-9]+$ ]] && [ "${fd_end[$m]}" -ne "${base_fd[$m]}" ]; then
                failures=$((failures + 1))
                note "FAILURE: the $m daemon has ${fd_end[$m]} file descriptors at the end, ${base_fd[$m]} after warm-up"
        fi
        bg_stop "daemon-$m" TERM || { failures=$((failures + 1)); note "FAILURE: the $m daemon did not stop cleanly"; }
done

# The figures: per mode, per fault, per daemon.
kind_order=
for m in "${MODES[@]}"; do
        for k in ${M_KINDS[$m]}; do
                case " $kind_order " in *" $k "*) ;; *) kind_order="$kind_order $k" ;; esac
        done
done
end_figs=
for m in "${MODES[@]}"; do
        end_figs="$end_figs $m:${fd_end[$m]:-?}:${rss_end[$m]:-?}"
done
cat "$TEST_TMP"/results.* | awk -v sessions="$SESSIONS" -v seed="$SEED" -v lanes="$LANES" \
        -v ms=$(( (t_end - t_start) / 1000 )) -v modes="${MODES[*]}" -v kinds="$kind_order" \
        -v ends="$end_figs" -v extra_fail="$failures" '
        $1 == "rec" {
                m = $3; k = $4
                n[m]++; kn[k]++
                if (k != "none") { f[m]++; faults++ }
                if ($6 == "completed") c[m]++
                if ($6 == "ended") e[m]++
                if ($5 == "FAIL") { vf[m]++; kvf[k]++ }
                if ($5 == "inconclusive") stalls++
                if ($7) { u[m]++; ku[k]++; unsafe++ }
                if ($8) fail++
                sim += $9
        }
        $1 == "outage" { outages++ }
        $1 == "daemon" { d[$2] = $3 " " $4 " " $5; r[$2] = $6 " " $7 " " $8 }
        $1 == "warmup" { wu[$2] = $3 }
        END {
                printf "sessions %d\nseed %s\nlanes %d\n", sessions, seed, lanes
                printf "ms_per_session %d\n", ms / sessions
                printf "ms_seccsim_mean %d\n", sim / sessions
                nm = split(modes, M, " ")
                for (j = 1; j <= nm; j++) {
                        x = M[j]
                        printf "mode %s %d %d %d %d %d %d\n", x, n[x], f[x], c[x], e[x], vf[x], u[x]
                }
                nk = split(kinds, K, " ")
                for (j = 1; j <= nk; j++)
                        printf "kind %s %d %d %d\n", K[j], kn[K[j]], kvf[K[j]], ku[K[j]]
                ne = split(ends, E, " ")
                for (j = 1; j <= ne; j++) {
                        split(E[j], w, ":"); x = w[1]
                        if (!(x in d)) { d[x] = "? ? ?"; r[x] = "? ? ?" }
                        printf "daemon %s fd %s %s rss_kb %s %s warmup %s\n", x, d[x], w[2], r[x], w[3], (x in wu) ? wu[x] : "?"
                }
                printf "faults %d\nunsafe %d\nfailures %d\nstalls %d\nbroker_outages %d\n",
                        faults, unsafe, fail + extra_fail, stalls, outages
        }' | tee "${REPORT:-/dev/null}" >"$TEST_TMP/report"
cat "$TEST_TMP/report" >&2
read -r _ unsafe < <(grep '^unsafe ' "$TEST_TMP/report")
read -r _ failures < <(grep '^failures ' "$TEST_TMP/report")
[ "$unsafe" -eq 0 ] || fail "$unsafe unsafe outcome(s) in $SESSIONS sessions"
[ "$failures" -eq 0 ] || fail "$failures failure(s) in $SESSIONS sessions"
