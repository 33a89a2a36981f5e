/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "build-config.h"
#include "bridge.h"
#include "monotonic.h"

#define LOG_MODULE "bridge"

/* Time allowed for the last frames (final Power_Modules_Status) to leave
 * the transmit queue at shutdown. */
#define BRIDGE_STOP_FLUSH_S 0.25
/* A stream of malformed frames is one fault until this much silence. */
#define BRIDGE_MALFORMED_QUIET_US (10 * 1000 * 1000)

/* Called at the start of every callback: the one clock read it makes. */
static uint64_t bridge_enter(struct bridge *b)
{
        b->now_us = monotonic_now_us();
        return b->now_us;
}

/* ---- publishing: MQTT and the metrics file ---- */

static uint64_t bridge_wall_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The converter a pistol uses, and the session config of a pistol. */
static struct bridge_unit *bridge_unit_of(struct bridge_pistol *p)
{
        return &p->b->units[p->b->cfg->pistols[p->n].unit];
}

static const struct session_config *bridge_session_config(const struct bridge_pistol *p)
{
        return &p->b->cfg->pistols[p->n].session;
}

static const char *bridge_backend_of(const struct bridge_pistol *p)
{
        return p->b->cfg->units[p->b->cfg->pistols[p->n].unit].backend;
}

/* The report below, handed on to the publisher: the same change points as
 * the log and STATUS=, no poll of its own. */
static void bridge_publish(struct bridge_pistol *p, const struct session_status *st)
{
        struct bridge *b = p->b;
        struct bridge_unit *u = bridge_unit_of(p);
        struct telemetry_input in;
        char error[DBUS_SERVICE_TEXT_MAX] = "";

        if (u->ready)
                converter_last_error(&u->conv, error, sizeof(error));
        in.status = *st;
        in.can_up = can_is_open(&b->can);
        in.can_interface = b->can.ifname;
        in.converter_backend = bridge_backend_of(p);
        in.converter_error = error;
        telemetry_observe(&p->telemetry, &in, b->now_us, bridge_wall_us());
        mqtt_kick(&p->mqtt);
}

static void bridge_metrics_gather(struct metrics_input *in, void *userdata)
{
        struct bridge_pistol *p = userdata;
        struct bridge *b = p->b;
        const struct can_counters *c = &b->can.counters;
        const struct mqtt_counters *mc = mqtt_counters(&p->mqtt);

        in->pistol = p->index;
        in->version = SECCBRIDGE_VERSION;
        in->can_interface = b->can.ifname;
        in->converter_backend = bridge_backend_of(p);
        in->start_wall_us = b->start_wall_us;
        if (b->session_ready)
                session_get_status(&p->session, &in->status);
        in->can = (struct metrics_can){
                .up = can_is_open(&b->can),
                .rx_frames = c->rx_frames,
                .rx_kernel_drops = c->rx_kernel_drops,
                .error_frames = c->error_frames,
                .tx_frames = c->tx_frames,
                .tx_dropped_overflow = c->tx_dropped_overflow,
                .tx_dropped_down = c->tx_dropped_down,
                .tx_errors = c->tx_errors,
                .reopens = c->reopens,
        };
        in->telemetry = &p->telemetry;
        in->mqtt = (struct metrics_mqtt){
                .enabled = b->cfg->telemetry.mqtt.enable,
                .connected = mqtt_connected(&p->mqtt),
                .connections = mc->connections,
                .connection_failures = mc->connection_failures,
                .disconnections = mc->disconnections,
                .online_published = mc->online_published,
        };
}

/* With several pistols each publishes on its own: a topic prefix and a
 * client id set in [mqtt] get "/pistolN" and "-pistolN", a metrics file
 * "-pistolN" before its ".prom" (the defaults already name the pistol). */
static void bridge_pistol_params(const struct bridge_pistol *p, struct telemetry_params *tp)
{
        const struct telemetry_params *cur = &p->b->cfg->telemetry;
        char *dot;
        int n;

        *tp = *cur;
        if (!p->b->cfg->several)
                return;
        if (cur->mqtt.topic_prefix[0])
                snprintf(tp->mqtt.topic_prefix, sizeof(tp->mqtt.topic_prefix), "%.100s/pistol%u",
                         cur->mqtt.topic_prefix, (unsigned)p->index);
        if (cur->mqtt.client_id[0])
                snprintf(tp->mqtt.client_id, sizeof(tp->mqtt.client_id), "%.100s-pistol%u", cur->mqtt.client_id,
                         (unsigned)p->index);
        if (!cur->metrics.path[0])
                return;
        dot = strrchr(cur->metrics.path, '.');
        if (dot && strcmp(dot, ".prom") == 0)
                n = snprintf(tp->metrics.path, sizeof(tp->metrics.path), "%.*s-pistol%u.prom",
                             (int)(dot - cur->metrics.path), cur->metrics.path, (unsigned)p->index);
        else
                n = snprintf(tp->metrics.path, sizeof(tp->metrics.path), "%s-pistol%u", cur->metrics.path,
                             (unsigned)p->index);
        if (n < 0 || (size_t)n >= sizeof(tp->metrics.path))
                tp->metrics = cur->metrics;     /* too long: validated as it was */
}

/* The telemetry module, its event queue, the MQTT connection and the
 * metrics file of a pistol; no I/O yet. */
static int bridge_publish_init(struct bridge_pistol *p)
{
        struct bridge *b = p->b;
        struct telemetry_params params;
        const struct telemetry_params *tp = &params;
        struct telemetry_config tc = {
                .pistol = p->index,
                .state_min_interval_us = telemetry_params_state_interval_us(&b->cfg->telemetry.mqtt),
                .event_window = MQTT_EVENT_WINDOW,
        };
        uint8_t run[8] = { 0 };
        uint32_t slots = 0;
        int r;

        bridge_pistol_params(p, &params);
        snprintf(tc.version, sizeof(tc.version), "%s", SECCBRIDGE_VERSION);
        /* Tells this run's event numbers from an earlier run's. */
        if (getrandom(run, sizeof(run), GRND_NONBLOCK) != (ssize_t)sizeof(run)) {
                uint64_t t = bridge_wall_us() ^ monotonic_now_us();

                memcpy(run, &t, sizeof(run));
        }
        for (size_t i = 0; i < sizeof(run); i++)
                snprintf(tc.run_id + 2 * i, sizeof(tc.run_id) - 2 * i, "%02x", run[i]);
        if (tp->mqtt.enable) {
                slots = tp->mqtt.event_queue_size;
                p->event_slots = calloc(slots, sizeof(*p->event_slots));
                if (!p->event_slots) {
                        log_err("cannot allocate the MQTT event queue (%u events)", slots);
                        return -ENOMEM;
                }
        }
        telemetry_init(&p->telemetry, &tc, p->event_slots, slots);
        b->start_wall_us = bridge_wall_us();
        r = mqtt_init(&p->mqtt, b->loop, &tp->mqtt, p->index, &p->telemetry);
        if (r < 0) {
                log_err("cannot prepare MQTT: %s", strerror(-r));
                return r;
        }
        r = metrics_file_init(&p->metrics, b->loop, &tp->metrics, bridge_metrics_gather, p);
        if (r < 0) {
                log_err("cannot prepare the metrics file %s: %s", tp->metrics.path, strerror(-r));
                return r;
        }
        return 0;
}

/* ---- state reporting ---- */

static void bridge_format_dv(char *buf, size_t len, uint32_t dv)
{
        snprintf(buf, len, "%u.%u", dv / 10, dv % 10);
}

/* A signed current in 0.1 A (B2: < 0 = out of the EV) as "-12.5". */
static void bridge_format_da(char *buf, size_t len, int32_t da)
{
        uint32_t m = da < 0 ? (uint32_t)-(int64_t)da : (uint32_t)da;

        snprintf(buf, len, "%s%u.%u", da < 0 ? "-" : "", m / 10, m % 10);
}

/* B2: into the EV (1), none (0), out of it (-1). */
static int bridge_direction(int32_t da)
{
        return (da > 0) - (da < 0);
}

static const char *bridge_yes_no(bool v)
{
        return v ? "yes" : "no";
}

static const char *bridge_converter_word(const struct session_status *st)
{
        const struct power_measurement *m = &st->measurement;

        if (st->supervisor)
                return "supervisor";
        if (st->held)
                return "held";
        if (!m->link_ok)
                return "link down";
        if (m->fault)
                return "fault";
        if (m->ready)
                return "ready";
        return "not ready";
}

static void bridge_status_line(const struct bridge *b, const struct session_status *st, char *buf, size_t len)
{
        const struct power_measurement *m = &st->measurement;
        const char *conv;

        if (st->supervisor)
                conv = "supervisor";
        else if (!m->link_ok)
                conv = "link down";
        else if (m->fault)
                conv = "fault";
        else if (m->ready)
                conv = "ready";
        else
                conv = "not ready";

        snprintf(buf, len, "controller %s; session %s; System_Enable %d; fault %s; converter %s%s (%s); CAN %s %s",
                 st->controller_alive ? codec_controller_state_name(st->controller_state) : "absent",
                 st->in_session ? "open" : "closed", st->system_enable ? 1 : 0,
                 session_fault_name(st->fault), power_mode_name(st->command.mode),
                 st->command.current_da < 0 ? " out of the EV" : "", conv,
                 b->can.ifname, can_is_open(&b->can) ? "up" : "down");
}

/* From here to bridge_report(): a pistol's log lines carry its number when
 * there are several ("bridge: pistol 2: session: opened"). */
#undef LOG_MODULE
#define LOG_MODULE (p->module)

static void bridge_log_ev_overvoltage(const struct bridge_pistol *p, const struct session_status *st)
{
        const struct session_config *c = bridge_session_config(p);
        char v[16], max[16], margin[16];

        bridge_format_dv(v, sizeof(v), st->measurement.voltage_dv);
        bridge_format_dv(max, sizeof(max), st->ev_max_voltage_dv);
        bridge_format_dv(margin, sizeof(margin), c->ev_overvoltage_margin_dv);
        log_warning("session: output at %s V, above the EV's maximum %s V by more than %s V for %llu ms "
                    "(IEC 61851-23 CC.6.2): fault %s, converter kept off", v, max, margin,
                    (unsigned long long)(c->ev_overvoltage_time_us / 1000), session_fault_name(st->fault));
}

/* Log what changed since the last call of a pistol. */
static void bridge_pistol_report(struct bridge_pistol *p)
{
        struct session_status st;
        const struct session_status *old = &p->last;

        session_get_status(&p->session, &st);

        if (!p->last_valid || st.controller_alive != old->controller_alive) {
                if (st.controller_alive)
                        log_info("controller: heartbeat present, state %s",
                                 codec_controller_state_name(st.controller_state));
                else if (p->last_valid && !(st.fault == SESSION_FAULT_CONTROLLER_TIMEOUT &&
                                            old->fault != SESSION_FAULT_CONTROLLER_TIMEOUT))
                        log_warning("controller: heartbeat lost");
        } else if (st.controller_alive && st.controller_state != old->controller_state) {
                log_info("controller: %s -> %s", codec_controller_state_name(old->controller_state),
                         codec_controller_state_name(st.controller_state));
        }

        if (p->last_valid && st.in_session != old->in_session) {
                if (st.in_session && st.interface_version == 3) {
                        /* V5: the EV's data follow in EV_Information_*. */
                        log_info("session: opened (protocol %u, plug %u)", st.ev.communication_protocol,
                                 st.ev.plug_and_pins);
                } else if (st.in_session) {
                        char v[16], i[16];

                        bridge_format_dv(v, sizeof(v), st.ev.ev_maximum_voltage_dv);
                        bridge_format_dv(i, sizeof(i), st.ev.ev_maximum_current_da);
                        log_info("session: opened (protocol %u, plug %u, EV max %s V / %s A, SoC %u %%)",
                                 st.ev.communication_protocol, st.ev.plug_and_pins, v, i,
                                 st.ev.state_of_charge_pct);
                } else {
                        log_info("session: closed");
                }
                p->discharge_refusal_logged = false;
        }
        /* B1: once per session, however long the EV asks. */
        if (p->last_valid && st.counters.discharges_refused > old->counters.discharges_refused &&
            !p->discharge_refusal_logged) {
                char i[16];

                bridge_format_da(i, sizeof(i), st.request_current_da);
                log_warning("session: the controller asks for %s A, a discharge; v3.bidirectional is false: "
                            "refused, converter at 0 A (counted)", i);
                p->discharge_refusal_logged = true;
        }
        if (p->last_valid && st.counters.mode_changes_refused > old->counters.mode_changes_refused)
                log_warning("session: Setpoints_Mode changed inside a power transfer (V17): refused, converter "
                            "at 0 A until the transfer resumes in its mode or ends");
        if (p->last_valid && st.in_session && old->in_session &&
            (st.ev.ev_maximum_voltage_dv != old->ev.ev_maximum_voltage_dv ||
             st.ev.ev_maximum_current_da != old->ev.ev_maximum_current_da)) {
                char v[16], i[16];

                /* v3: EV_Information_Voltages / _Charge_Limits arrived or
                 * changed (the state of charge moves all along: not logged). */
                bridge_format_dv(v, sizeof(v), st.ev.ev_maximum_voltage_dv);
                bridge_format_dv(i, sizeof(i), st.ev.ev_maximum_current_da);
                log_info("session: EV max %s V / %s A, %u kWh, SoC %u %%", v, i, st.ev.battery_capacity_kwh,
                         st.ev.state_of_charge_pct);
        }
        if (p->last_valid && st.ev_id_valid != old->ev_id_valid) {
                char id[DBUS_SERVICE_EVCCID_LEN];

                dbus_service_format_evccid(id, sizeof(id), &st);
                if (st.ev_id_valid)
                        log_info("session: EV identity (EVCCID) %s", id);
                else
                        log_info("session: EV identity forgotten");
        }
        if (p->last_valid && st.system_enable != old->system_enable)
                log_info("session: System_Enable %s", st.system_enable ? "Allowed" : "Not_Allowed");

        if (p->last_valid ? st.fault != old->fault : st.fault != SESSION_FAULT_NONE) {
                /* Supervisor mode: reported; the controller's own modules
                 * act on it. */
                const char *action = st.supervisor ? " (supervisor mode: no converter here)" : ", converter kept off";

                if (st.fault == SESSION_FAULT_CONTROLLER_TIMEOUT)
                        log_warning("session: controller heartbeat lost (fault %s)%s", session_fault_name(st.fault),
                                    action);
                else if (st.fault == SESSION_FAULT_SHUTDOWN)
                        log_info("session: converter off for shutdown");
                else if (st.fault == SESSION_FAULT_EV_OVERVOLTAGE)
                        bridge_log_ev_overvoltage(p, &st);
                else if (st.fault != SESSION_FAULT_NONE)
                        log_warning("session: fault %s%s", session_fault_name(st.fault), action);
                else
                        log_notice("session: fault %s cleared", session_fault_name(old->fault));
        }
        if (p->last_valid && st.emergency_stop_latched != old->emergency_stop_latched) {
                if (st.emergency_stop_latched)
                        log_warning("session: Emergency_Stop from %s",
                                    st.emergency_stop_origin == CODEC_ESTOP_ORIGIN_PEV ? "the vehicle"
                                    : st.emergency_stop_origin == CODEC_ESTOP_ORIGIN_EVSE ? "the charger"
                                                                                          : "unknown origin");
                else
                        log_notice("session: Emergency_Stop released");
        }

        if (p->last_valid && (st.measurement.link_ok != old->measurement.link_ok ||
                              st.measurement.ready != old->measurement.ready ||
                              st.measurement.fault != old->measurement.fault))
                log_info("converter: link %s, ready %s, fault %s", st.measurement.link_ok ? "up" : "down",
                         bridge_yes_no(st.measurement.ready), bridge_yes_no(st.measurement.fault));

        if (p->last_valid && st.held != old->held)
                log_info("sharing: %s", st.held ? "held (Start_Charge_Authorisation = 0): the converter serves another pistol"
                                                  : "released");

        p->last = st;
        p->last_valid = true;
        bridge_publish(p, &st);
}

#undef LOG_MODULE
#define LOG_MODULE "bridge"

/* Every pistol's changes, then STATUS= (one pistol: the line as it always
 * was; several: a part per pistol; notify sends it only when it changed). */
static void bridge_report(struct bridge *b)
{
        char line[sizeof(b->status_line)];

        for (uint8_t i = 0; i < b->n_pistols; i++)
                bridge_pistol_report(&b->pistols[i]);
        if (!b->cfg->several) {
                bridge_status_line(b, &b->pistols[0].last, line, sizeof(line));
        } else {
                size_t n = 0;

                for (uint8_t i = 0; i < b->n_pistols && n < sizeof(line); i++) {
                        const struct session_status *st = &b->pistols[i].last;

                        n += (size_t)snprintf(line + n, sizeof(line) - n, "pistol %u: %s, %s, %s (%s); ",
                                              (unsigned)b->pistols[i].index,
                                              st->controller_alive ? codec_controller_state_name(st->controller_state)
                                                                   : "absent",
                                              st->in_session ? "open" : "closed", power_mode_name(st->command.mode),
                                              bridge_converter_word(st));
                }
                if (n < sizeof(line))
                        snprintf(line + n, sizeof(line) - n, "CAN %s %s", b->can.ifname,
                                 can_is_open(&b->can) ? "up" : "down");
        }
        snprintf(b->status_line, sizeof(b->status_line), "%s", line);
        notify_status(&b->notify, line);
}

/* ---- the arbiter (several pistols) ---- */

static void bridge_unit_command(struct bridge_unit *u, const struct power_command *cmd);

/* After every call into a pistol's session: its facts to the arbiter.
 * 1 when a decision changed. */
static int bridge_arbiter_update(struct bridge_pistol *p)
{
        struct bridge *b = p->b;
        struct session_status st;
        struct arbiter_facts f;

        if (!b->arbitrate)
                return 0;
        session_get_status(&p->session, &st);
        f = (struct arbiter_facts){
                .controller_alive = st.controller_alive,
                .controller_state = st.controller_state,
                .in_session = st.in_session,
                .fault = st.fault != SESSION_FAULT_NONE,
                .emergency_stop = st.emergency_stop_active,
                .command_off = st.command.mode == POWER_OFF,
        };
        return arbiter_update(&b->arbiter, p->n, &f, b->now_us) > 0;
}

/* A shared converter's state, logged when it changes: who owns it, why the
 * last owner let go, a drain that did not complete (once). */
static void bridge_log_unit(struct bridge *b, struct bridge_unit *u)
{
        struct arbiter_converter_view v;
        const char *name = b->cfg->units[u->n].name[0] ? b->cfg->units[u->n].name : "of [converter]";

        if (arbiter_get_converter(&b->arbiter, u->n, &v) < 0 || !v.shared)
                return;
        if (v.state == u->logged_state && v.owner == u->logged_owner && v.offered == u->logged_offered)
                return;
        u->logged_state = v.state;
        u->logged_owner = v.owner;
        u->logged_offered = v.offered;
        switch (v.state) {
        case ARBITER_CONVERTER_OWNED:
                log_info("sharing: converter %s serves pistol %u", name, (unsigned)b->pistols[v.owner].index);
                break;
        case ARBITER_CONVERTER_DRAINING:
                if (v.last_owner < b->n_pistols)
                        log_info("sharing: converter %s off, pistol %u let go (%s); waiting for it to confirm off",
                                 name, (unsigned)b->pistols[v.last_owner].index, arbiter_release_name(v.last_release));
                else
                        log_info("sharing: converter %s off; waiting for it to confirm off", name);
                break;
        case ARBITER_CONVERTER_STUCK:
                log_warning("sharing: converter %s did not confirm its output off within %llu ms: kept off, "
                            "every pistol of it held until it does", name,
                            (unsigned long long)(b->cfg->sharing.drain_timeout_us / 1000));
                break;
        case ARBITER_CONVERTER_OFFERED:
                log_info("sharing: converter %s offered to pistol %u", name, (unsigned)b->pistols[v.offered].index);
                break;
        case ARBITER_CONVERTER_FREE:
                log_info("sharing: converter %s free: every pistol of it released", name);
                break;
        case ARBITER_CONVERTER_DEDICATED:
                break;
        }
}

/* A decision changed: holds to the sessions until nothing more changes (a
 * hold turns a command OFF, which the arbiter may be waiting for), OFF to
 * converters without owner, the owner's command to its converter. */
static void bridge_arbiter_apply(struct bridge *b)
{
        bool changed = true;

        for (unsigned round = 0; changed && round < 2u * CONFIG_MAX_PISTOLS; round++) {
                changed = false;
                for (uint8_t i = 0; i < b->n_pistols; i++) {
                        struct bridge_pistol *p = &b->pistols[i];
                        bool held = arbiter_held(&b->arbiter, i);

                        if (held == p->held)
                                continue;
                        p->held = held;
                        session_set_hold(&p->session, held, b->now_us);
                        if (bridge_arbiter_update(p))
                                changed = true;
                }
        }
        for (uint8_t c = 0; c < b->n_units; c++) {
                struct bridge_unit *u = &b->units[c];
                uint8_t owner = arbiter_owner(&b->arbiter, c);
                const struct power_command off = { .mode = POWER_OFF };

                if (arbiter_must_off(&b->arbiter, c))
                        bridge_unit_command(u, &off);
                else if (owner < b->n_pistols)
                        bridge_unit_command(u, session_command(&b->pistols[owner].session));
                bridge_log_unit(b, u);
        }
        dbus_service_sharing_changed(&b->pistols[0].dbus);
}

/* D-Bus org.seccbridge.Sharing1: the arbiter's view. */
static void bridge_bus_sharing(struct dbus_service_sharing *out, void *userdata)
{
        struct bridge_pistol *p = userdata;
        struct bridge *b = p->b;

        snprintf(out->policy, sizeof(out->policy), "%s", arbiter_policy_name(b->cfg->sharing.policy));
        for (uint8_t c = 0; c < b->n_units && c < DBUS_SERVICE_SHARING_MAX; c++) {
                struct arbiter_converter_view v;

                if (arbiter_get_converter(&b->arbiter, c, &v) < 0)
                        continue;
                snprintf(out->converters[c].name, sizeof(out->converters[c].name), "%s", b->cfg->units[c].name);
                snprintf(out->converters[c].state, sizeof(out->converters[c].state), "%s",
                         arbiter_converter_state_name(v.state));
                out->converters[c].owner = v.owner < b->n_pistols ? b->pistols[v.owner].index : 0;
                out->converters[c].offered = v.offered < b->n_pistols ? b->pistols[v.offered].index : 0;
                out->converters[c].shared = v.shared;
                out->n_converters = c + 1;
        }
        for (uint8_t i = 0; i < b->n_pistols && i < DBUS_SERVICE_SHARING_MAX; i++) {
                struct arbiter_pistol_view v;

                if (arbiter_get_pistol(&b->arbiter, i, &v) < 0)
                        continue;
                out->pistols[i].pistol = b->pistols[i].index;
                snprintf(out->pistols[i].converter, sizeof(out->pistols[i].converter), "%s",
                         b->cfg->units[b->cfg->pistols[i].unit].name);
                out->pistols[i].owner = v.owner;
                out->pistols[i].held = v.held;
                out->pistols[i].waiting = v.waiting;
                out->n_pistols = i + 1;
        }
}

/* After a call into pistol p's session (a frame, an operator input). */
static void bridge_pistol_called(struct bridge_pistol *p)
{
        if (bridge_arbiter_update(p))
                bridge_arbiter_apply(p->b);
}

/* ---- the core timer ---- */

/* After every core call: re-arm the one timer to the earliest deadline of
 * the sessions and the arbiter (or the idle tick when nothing is due), then
 * report changes. */
static void bridge_after_core(struct bridge *b, bool from_timer)
{
        uint64_t now = b->now_us;
        uint64_t deadline = SESSION_NO_DEADLINE;
        /* The idle tick counts from the last tick, not from now: frames and
         * measurements re-arm the timer all the time and must not keep
         * pushing an idle tick into the future. */
        uint64_t idle = b->last_tick_us + notify_idle_tick_us(&b->notify);
        uint64_t delay_us;

        if (b->stopping)
                return;

        for (uint8_t i = 0; i < b->n_pistols; i++) {
                uint64_t d = session_next_deadline(&b->pistols[i].session);

                if (d < deadline)
                        deadline = d;
        }
        if (b->arbitrate) {
                uint64_t d = arbiter_next_deadline(&b->arbiter);

                if (d != ARBITER_NO_DEADLINE && d < deadline)
                        deadline = d;
        }
        if (deadline == SESSION_NO_DEADLINE || deadline > idle)
                deadline = idle;
        delay_us = deadline > now ? deadline - now : 0;
        /* Just ticked and still overdue: the core has nothing it can do
         * now; do not spin on it. */
        if (from_timer && delay_us == 0)
                delay_us = 1000;

        ev_timer_stop(b->loop, &b->core_timer);
        ev_timer_set(&b->core_timer, (double)delay_us / 1e6, 0.);
        ev_timer_start(b->loop, &b->core_timer);

        bridge_report(b);
}

static void bridge_core_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct bridge *b = w->data;
        bool changed = false;
        uint64_t now;

        /* Heartbeats that arrived while the process was held up are read
         * before the core judges the controller silent (R1). */
        can_receive_pending(&b->can);
        now = bridge_enter(b);

        /* One timer ticks every session: the watchdog is petted only while
         * all of them tick. */
        b->last_tick_us = now;
        notify_core_ticked(&b->notify, now);
        for (uint8_t i = 0; i < b->n_pistols; i++) {
                struct bridge_pistol *p = &b->pistols[i];

                session_tick(&p->session, now);
                if (bridge_arbiter_update(p))
                        changed = true;
                log_fault_clear_if_quiet(&p->malformed, now, BRIDGE_MALFORMED_QUIET_US);
        }
        if (b->arbitrate && arbiter_tick(&b->arbiter, now) > 0)
                changed = true;
        if (changed)
                bridge_arbiter_apply(b);
        bridge_after_core(b, true);
}

/* ---- session callbacks ---- */

static void bridge_tx_frame(const struct codec_frame *frame, void *userdata)
{
        struct bridge_pistol *p = userdata;
        struct bridge *b = p->b;

        /* Failures are counted and logged (once) by the can module; the
         * controller notices a missing Power_Modules_Status by itself (R3). */
        (void)can_send(&b->can, frame, b->now_us);
}

#undef LOG_MODULE
#define LOG_MODULE (p->module)

static void bridge_power_command(const struct power_command *cmd, void *userdata)
{
        struct bridge_pistol *p = userdata;
        struct bridge *b = p->b;
        char v[16], i[16];

        bridge_format_dv(v, sizeof(v), cmd->voltage_dv);
        bridge_format_da(i, sizeof(i), cmd->current_da);
        /* Mode changes are news, and on a bidirectional charger so is a
         * change of direction (B2: into the EV, 0 A, out of it, so that the
         * pass through 0 A shows);
         * setpoint changes within a mode happen at every Charging_Loop and
         * ramp step. */
        if (!p->command_valid || cmd->mode != p->command.mode || cmd->discharge != p->command.discharge ||
            (bridge_session_config(p)->bidirectional &&
             bridge_direction(cmd->current_da) != bridge_direction(p->command.current_da)))
                log_info("converter: %s %s V / %s A%s", power_mode_name(cmd->mode), v, i,
                         cmd->discharge ? ", discharge" : "");
        else
                log_debug("converter: %s %s V / %s A", power_mode_name(cmd->mode), v, i);
        p->command = *cmd;
        p->command_valid = true;

        /* Only the owner of a shared converter commands it (doc/sharing.md);
         * a dedicated one is always its pistol's. */
        if (b->arbitrate && !arbiter_may_command(&b->arbiter, p->n))
                return;
        bridge_unit_command(bridge_unit_of(p), cmd);
}

#undef LOG_MODULE
#define LOG_MODULE "bridge"

/* ---- converters ---- */

static void bridge_unit_command(struct bridge_unit *u, const struct power_command *cmd)
{
        if (u->command_valid && memcmp(cmd, &u->command, sizeof(*cmd)) == 0)
                return;
        u->command = *cmd;
        u->command_valid = true;
        if (u->ready)
                converter_command(&u->conv, cmd);
}

/* doc/sharing.md: what a pistol that does not own its shared converter is
 * told of it: not ready, nothing on the output; the link as it is. */
static struct power_measurement bridge_not_owner_measurement(const struct power_measurement *m)
{
        return (struct power_measurement){
                .module_temp_c = POWER_TEMPERATURE_UNKNOWN,
                .enclosure_temp_c = POWER_TEMPERATURE_UNKNOWN,
                .insulation_kohm = POWER_INSULATION_UNKNOWN,
                .link_ok = m->link_ok,
        };
}

static void bridge_measurement(const struct power_measurement *m, void *userdata)
{
        struct bridge_unit *u = userdata;
        struct bridge *b = u->b;
        bool changed = false;

        if (!b->session_ready || b->stopping)
                return;
        /* Frames that came meanwhile first (R1, as the timer does). */
        can_receive_pending(&b->can);
        bridge_enter(b);
        u->meas = *m;
        u->meas_valid = true;
        if (b->arbitrate && m->link_ok) {
                /* Off: OFF was commanded, no current flows and the converter
                 * reports no fault (a lost link is no report).  A faulted
                 * converter is not off for the arbiter: it goes to nobody
                 * until its fault clears, so that the next pistol's session
                 * does not open on it and trip at once. */
                bool off = u->command_valid && u->command.mode == POWER_OFF && !m->fault &&
                           m->current_da >= -10 && m->current_da <= 10;

                if (arbiter_converter_report(&b->arbiter, u->n, off, b->now_us) > 0)
                        changed = true;
        }
        for (uint8_t i = 0; i < b->n_pistols; i++) {
                struct bridge_pistol *p = &b->pistols[i];

                if (b->cfg->pistols[i].unit != u->n)
                        continue;
                if (!b->arbitrate || arbiter_may_command(&b->arbiter, i)) {
                        session_on_measurement(&p->session, m, b->now_us);
                } else {
                        struct power_measurement none = bridge_not_owner_measurement(m);

                        session_on_measurement(&p->session, &none, b->now_us);
                }
                if (bridge_arbiter_update(p))
                        changed = true;
        }
        if (changed)
                bridge_arbiter_apply(b);
        bridge_after_core(b, false);
}

/* ---- CAN ---- */

/* The pistol of a frame, by bits 28..24 of its identifier; NULL when none
 * of ours (a mask filter lets other pistols' frames in). */
static struct bridge_pistol *bridge_pistol_of_frame(struct bridge *b, const struct codec_frame *frame)
{
        uint8_t index = (uint8_t)((frame->id & CODEC_ID_PISTOL_MASK) >> CODEC_ID_PISTOL_SHIFT);

        if (b->n_pistols == 1)
                return &b->pistols[0];  /* as always: the session judges */
        for (uint8_t i = 0; i < b->n_pistols; i++)
                if (b->pistols[i].index == index)
                        return &b->pistols[i];
        return NULL;
}

static void bridge_can_rx(const struct codec_frame *frames, const uint64_t *at_us, size_t n, uint64_t now_us,
                          void *userdata)
{
        struct bridge *b = userdata;
        bool changed = false;

        if (!b->session_ready || b->stopping)
                return;
        for (size_t k = 0; k < n; k++) {
                struct bridge_pistol *p = bridge_pistol_of_frame(b, &frames[k]);
                int r;

                if (!p) {
                        b->other_pistol_frames++;
                        continue;
                }
                /* Each frame at its arrival: a heartbeat that came in time
                 * while the process was held up keeps the controller alive
                 * (R1 judges the controller, not this process). */
                b->now_us = at_us[k];
                r = session_on_frame(&p->session, &frames[k], at_us[k]);
                if (r == -EBADMSG) {
                        /* Counted by the core; logged here once per episode. */
                        if (p->malformed.active)
                                log_fault_again(&p->malformed, now_us);
                        else
                                log_fault_raise(&p->malformed, LOG_WARNING, now_us,
                                                "frame %08X with %u bytes is shorter than its message; dropping such frames",
                                                (unsigned)frames[k].id, (unsigned)frames[k].len);
                } else if (r == -ENOMSG) {
                        log_debug("frame %08X [%u] is not ours, ignored", (unsigned)frames[k].id,
                                  (unsigned)frames[k].len);
                }
                if (bridge_arbiter_update(p))
                        changed = true;
        }
        b->now_us = now_us;
        if (changed)
                bridge_arbiter_apply(b);
        bridge_after_core(b, false);
}

static void bridge_can_bus_state(enum can_bus_state state, uint64_t now_us, void *userdata)
{
        struct bridge *b = userdata;

        can_link_observe(&b->link, state, now_us);
}

static void bridge_can_link(bool up, uint64_t now_us, void *userdata)
{
        struct bridge *b = userdata;

        can_link_socket(&b->link, up, now_us);
        if (b->session_ready && !b->stopping) {
                b->now_us = now_us;
                bridge_report(b);
        }
}

static bool bridge_mqtt_all_flushed(const struct bridge *b)
{
        for (uint8_t i = 0; i < b->n_pistols; i++)
                if (!mqtt_flushed(&b->pistols[i].mqtt))
                        return false;
        return true;
}

/* At stop, the loop ends once the last CAN frames and the last MQTT
 * messages are out (or the stop timer says enough). */
static void bridge_stop_if_flushed(struct bridge *b)
{
        if (b->stopping && can_tx_idle(&b->can) && bridge_mqtt_all_flushed(b))
                ev_break(b->loop, EVBREAK_ALL);
}

static void bridge_can_tx_drained(void *userdata)
{
        bridge_stop_if_flushed(userdata);
}

static void bridge_mqtt_flushed(void *userdata)
{
        bridge_stop_if_flushed(userdata);
}

/* ---- the D-Bus interface ---- */

static void bridge_bus_shell_status(struct dbus_service_shell_status *out, void *userdata)
{
        const struct bridge_pistol *p = userdata;
        const struct bridge *b = p->b;
        const struct session_config *sc = bridge_session_config(p);
        const struct bridge_unit *u = &b->units[b->cfg->pistols[p->n].unit];

        out->can_interface = b->can.ifname;
        out->can_up = can_is_open(&b->can);
        out->can = b->can.counters;
        out->converter_backend = bridge_backend_of(p);
        if (u->ready)
                converter_last_error(&u->conv, out->converter_error, sizeof(out->converter_error));
        out->config_limits = sc->limits;
        out->use_sequence_flags = sc->use_sequence_flags;
        out->start_authorisation = sc->start_authorisation;
        out->ccs_authorisation = sc->ccs_authorisation;
        out->charge_parameters = sc->charge_parameters;
        out->bidirectional = sc->bidirectional;
        out->range_policy = sc->range_policy;
        out->stopping = b->stopping;
}

static uint64_t bridge_bus_enter(void *userdata)
{
        struct bridge_pistol *p = userdata;

        return bridge_enter(p->b);
}

static void bridge_bus_after(void *userdata)
{
        struct bridge_pistol *p = userdata;

        bridge_pistol_called(p);
        bridge_after_core(p->b, false);
}

/* ---- stop and reload ---- */

static void bridge_stop_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct bridge *b = w->data;

        /* The broker's goodbye has a bound of its own (MQTT_STOP_WAIT_S):
         * once CAN is done, it is waited for up to that. */
        if (can_tx_idle(&b->can) && !bridge_mqtt_all_flushed(b))
                return;
        log_warning("transmit queue not empty after %g s, stopping anyway", BRIDGE_STOP_FLUSH_S);
        ev_break(loop, EVBREAK_ALL);
}

static void bridge_stop(struct bridge *b, const char *why)
{
        uint64_t now = bridge_enter(b);

        if (b->stopping) {
                log_notice("%s again, stopping at once", why);
                ev_break(b->loop, EVBREAK_ALL);
                return;
        }
        log_info("%s: stopping", why);
        notify_stopping(&b->notify);

        /* Converters off and a last Power_Modules_Status with System_Enable
         * = Not_Allowed, before anything else stops. */
        for (uint8_t i = 0; i < b->n_pistols; i++)
                session_shutdown(&b->pistols[i].session, now);
        if (b->arbitrate) {
                const struct power_command off = { .mode = POWER_OFF };

                /* A shared converter's owner said OFF above; one without
                 * owner is off already: every converter OFF whatever. */
                for (uint8_t c = 0; c < b->n_units; c++)
                        bridge_unit_command(&b->units[c], &off);
        }
        bridge_report(b);
        b->stopping = true;

        ev_timer_stop(b->loop, &b->core_timer);
        can_stop_rx(&b->can);
        /* The session's end and "offline" to the broker, then DISCONNECT
         * (so that the last will is not published). */
        for (uint8_t i = 0; i < b->n_pistols; i++)
                mqtt_stop(&b->pistols[i].mqtt, bridge_mqtt_flushed, b);
        if (can_tx_idle(&b->can) && bridge_mqtt_all_flushed(b)) {
                ev_break(b->loop, EVBREAK_ALL);
                return;
        }
        ev_timer_set(&b->stop_timer, BRIDGE_STOP_FLUSH_S, 0.);
        ev_timer_start(b->loop, &b->stop_timer);
}

/* What a reload cannot change with several pistols: the pistols, their
 * indexes, which converter each uses, the converters' backends.  0, or
 * -EINVAL with the reason in why. */
static int bridge_reload_check_several(const struct config *cur, const struct config *next, char *why, size_t len)
{
        if (next->several != cur->several || next->n_pistols != cur->n_pistols || next->n_units != cur->n_units) {
                snprintf(why, len, "%s: the pistols and converters cannot change while running (%u pistols, %u converters -> %u, %u); restart the service to change them",
                         cur->path, cur->n_pistols, cur->n_units, next->n_pistols, next->n_units);
                return -EINVAL;
        }
        for (uint8_t i = 0; i < cur->n_pistols; i++) {
                if (strcmp(next->pistols[i].name, cur->pistols[i].name) != 0 ||
                    next->pistols[i].session.pistol != cur->pistols[i].session.pistol ||
                    next->pistols[i].unit != cur->pistols[i].unit) {
                        snprintf(why, len, "%s: [pistol %s]: its name, pistol_index or converter cannot change while running; restart the service to change them",
                                 cur->path, cur->pistols[i].name);
                        return -EINVAL;
                }
        }
        for (uint8_t c = 0; c < cur->n_units; c++) {
                if (strcmp(next->units[c].name, cur->units[c].name) != 0 ||
                    strcmp(next->units[c].backend, cur->units[c].backend) != 0) {
                        snprintf(why, len, "%s: [converter %s]: its name or backend cannot change while running; restart the service to change them",
                                 cur->path, cur->units[c].name);
                        return -EINVAL;
                }
        }
        return 0;
}

static void bridge_reload(struct bridge *b)
{
        struct config *next = b->cfg == &b->cfgs[0] ? &b->cfgs[1] : &b->cfgs[0];
        struct config *cur = b->cfg;
        struct config_error err;
        char why[sizeof(err.file) + sizeof(err.key) + sizeof(err.reason) + 16];
        uint64_t now = bridge_enter(b);
        bool can_changed;
        uint8_t done_units = 0, done_pistols = 0;
        int r;

        notify_reloading(&b->notify);
        log_info("SIGHUP: reloading %s", cur->path);

        r = config_load(cur->path, next, &err);
        if (r < 0) {
                config_error_format(&err, why, sizeof(why));
                goto refused;
        }
        if (next->session.interface_version != cur->session.interface_version) {
                snprintf(why, sizeof(why),
                         "%s: can.interface_version cannot change while running (%u -> %u); restart the service to change it",
                         cur->path, cur->session.interface_version, next->session.interface_version);
                goto refused;
        }
        if (!cur->several && next->can.pistol_index != cur->can.pistol_index) {
                snprintf(why, sizeof(why),
                         "%s: can.pistol_index cannot change while running (%u -> %u); restart the service to change it",
                         cur->path, cur->can.pistol_index, next->can.pistol_index);
                goto refused;
        }
        if (!cur->several && strcmp(next->converter.backend, cur->converter.backend) != 0) {
                snprintf(why, sizeof(why),
                         "%s: converter.backend cannot change while running (%s -> %s); restart the service to change it",
                         cur->path, cur->converter.backend, next->converter.backend);
                goto refused;
        }
        if ((cur->several || next->several) && bridge_reload_check_several(cur, next, why, sizeof(why)) < 0)
                goto refused;

        if (next->dbus.enable != cur->dbus.enable || strcmp(next->dbus.address, cur->dbus.address) != 0)
                log_notice("reload: [dbus] changes take effect at the next start");
        if (memcmp(&next->telemetry, &cur->telemetry, sizeof(next->telemetry)) != 0)
                log_notice("reload: [mqtt] and [metrics] changes take effect at the next start");

        /* Reading the file may have taken a while: the frames that came
         * meanwhile first, each at its arrival (R1), then the new
         * settings. */
        can_receive_pending(&b->can);
        now = bridge_enter(b);
        for (; done_units < b->n_units; done_units++) {
                struct bridge_unit *u = &b->units[done_units];

                r = next->session.supervisor ? 0 : cur->several ? converter_reconfigure_unit(&u->conv, next, done_units)
                                                                : converter_reconfigure(&u->conv, next);
                if (r < 0) {
                        snprintf(why, sizeof(why), "the converter refused the new settings (%s)", strerror(-r));
                        goto undo;
                }
        }
        for (; done_pistols < b->n_pistols; done_pistols++) {
                r = session_reconfigure(&b->pistols[done_pistols].session, &next->pistols[done_pistols].session, now);
                if (r < 0) {
                        snprintf(why, sizeof(why), "the protocol core refused the new settings (%s)", strerror(-r));
                        goto undo;
                }
        }
        if (b->arbitrate) {
                /* Policy, priorities and bounds apply at once, ownership kept. */
                r = arbiter_reconfigure(&b->arbiter, &next->sharing, now);
                if (r < 0) {
                        snprintf(why, sizeof(why), "the arbiter refused the new [sharing] settings (%s)", strerror(-r));
                        goto undo;
                }
                bridge_arbiter_apply(b);
        }
        b->cfg = next;

        can_changed = strcmp(next->can.interface, cur->can.interface) != 0;
        if (can_changed || next->can.bitrate != cur->can.bitrate || next->can.restart_ms != cur->can.restart_ms) {
                /* Failures are logged; the socket keeps retrying and the
                 * controller timeout keeps the converter off meanwhile. */
                (void)can_link_reconfigure(&b->link, next->can.interface, next->can.bitrate,
                                           next->can.restart_ms);
                if (can_changed) {
                        log_info("reload: moving from %s to %s", cur->can.interface, next->can.interface);
                        (void)can_set_interface(&b->can, next->can.interface, now);
                }
        }
        log_info("reload: applied %s", next->path);
        for (uint8_t i = 0; i < b->n_pistols; i++)
                telemetry_config_reloaded(&b->pistols[i].telemetry, true, next->path, NULL, now, bridge_wall_us());
        goto done;

undo:
        /* What took the new settings goes back to the running ones. */
        while (done_pistols > 0) {
                done_pistols--;
                (void)session_reconfigure(&b->pistols[done_pistols].session, &cur->pistols[done_pistols].session, now);
        }
        while (done_units > 0) {
                done_units--;
                if (!cur->session.supervisor)
                        (void)(cur->several ? converter_reconfigure_unit(&b->units[done_units].conv, cur, done_units)
                                            : converter_reconfigure(&b->units[done_units].conv, cur));
        }
refused:
        log_err("reload: %s; keeping the running config", why);
        for (uint8_t i = 0; i < b->n_pistols; i++)
                telemetry_config_reloaded(&b->pistols[i].telemetry, false, cur->path, why, now, bridge_wall_us());
done:
        notify_reloaded(&b->notify);
        bridge_after_core(b, false);
}

static void bridge_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
        struct bridge *b = w->data;

        switch (w->signum) {
        case SIGTERM:
                bridge_stop(b, "SIGTERM");
                break;
        case SIGINT:
                bridge_stop(b, "SIGINT");
                break;
        case SIGHUP:
                if (!b->stopping)
                        bridge_reload(b);
                break;
        default:
                break;
        }
}

/* ---- life cycle ---- */

/* The controller -> power side identifiers of our pistol, of both interface
 * versions: the kernel filters let nothing else in.  The other version's
 * frames reach the session only to be counted (and ignored). */
static size_t bridge_filter_ids(uint8_t pistol, uint32_t *ids, size_t max)
{
        const struct codec_db *dbs[] = { &codec_db_v2_7, &codec_db_v3_6 };
        size_t n = 0;

        for (size_t d = 0; d < sizeof(dbs) / sizeof(dbs[0]); d++) {
                for (size_t i = 0; i < dbs[d]->n_messages; i++) {
                        const struct codec_msg_info *info = &dbs[d]->messages[i];

                        if (info->dir != CODEC_DIR_OUT)
                                continue;
                        if (n < max)
                                ids[n] = codec_frame_id(dbs[d], info->type, pistol);
                        n++;
                }
        }
        /* How many are needed: more than max is the caller's error. */
        return n;
}

/* Several pistols share one socket: the first pistol's identifiers, with
 * the pistol bits in which the configured indexes differ left out of the
 * filters' masks.  That covers every configured pistol (and maybe a few
 * others, whose frames are dropped in bridge_can_rx()). */
static uint32_t bridge_pistol_bits_ignored(const struct config *cfg)
{
        uint32_t differ = 0;

        for (uint8_t i = 1; i < cfg->n_pistols; i++)
                differ |= (uint32_t)(cfg->pistols[i].session.pistol ^ cfg->pistols[0].session.pistol);
        return (differ << CODEC_ID_PISTOL_SHIFT) & CODEC_ID_PISTOL_MASK;
}

static int bridge_pistol_init(struct bridge *b, uint8_t i)
{
        struct bridge_pistol *p = &b->pistols[i];
        const struct dbus_service_callbacks dbus_cb = {
                .shell_status = bridge_bus_shell_status,
                .enter = bridge_bus_enter,
                .after = bridge_bus_after,
                /* Several pistols: the first one's service also shows the
                 * arbiter's view. */
                .sharing = b->cfg->several && i == 0 ? bridge_bus_sharing : NULL,
                .userdata = p,
        };
        int r;

        p->b = b;
        p->n = i;
        p->index = b->cfg->pistols[i].session.pistol;
        if (b->cfg->several)
                snprintf(p->module, sizeof(p->module), "%s: pistol %u", LOG_MODULE, (unsigned)p->index);
        else
                snprintf(p->module, sizeof(p->module), "%s", LOG_MODULE);
        log_fault_init(&p->malformed, p->module, "malformed frames");
        /* Each pistol keeps its own bus name and object, so that
         * seccbridgectl --pistol N finds it as with one process per pistol. */
        r = dbus_service_init(&p->dbus, b->loop, b->cfg->dbus.enable, b->cfg->dbus.address, p->index, &p->session,
                              &dbus_cb);
        if (r < 0)
                return r;
        return bridge_publish_init(p);
}

int bridge_init(struct bridge *b, struct ev_loop *loop, const struct config *cfg)
{
        const struct can_callbacks can_cb = {
                .rx = bridge_can_rx,
                .bus_state = bridge_can_bus_state,
                .link = bridge_can_link,
                .tx_drained = bridge_can_tx_drained,
                .userdata = b,
        };
        uint32_t ids[CAN_MAX_FILTERS];
        size_t n_ids;
        int r;

        memset(b, 0, sizeof(*b));
        b->loop = loop;
        b->cfgs[0] = *cfg;
        b->cfg = &b->cfgs[0];
        b->n_pistols = b->cfg->n_pistols;
        b->n_units = b->cfg->n_units;
        b->arbitrate = b->cfg->several;

        r = notify_init(&b->notify, loop);
        if (r < 0)
                return r;
        can_link_init(&b->link, loop, b->cfg->can.interface, b->cfg->can.bitrate, b->cfg->can.restart_ms);
        n_ids = bridge_filter_ids(b->cfg->pistols[0].session.pistol, ids, CAN_MAX_FILTERS);
        if (n_ids > CAN_MAX_FILTERS) {
                log_err("cannot prepare the CAN socket: %zu identifiers to filter, at most %d", n_ids,
                        CAN_MAX_FILTERS);
                return -E2BIG;
        }
        r = can_init(&b->can, loop, b->cfg->can.interface, ids, n_ids, &can_cb);
        if (r < 0) {
                log_err("cannot prepare the CAN socket: %s", strerror(-r));
                return r;
        }
        can_set_ignored_bits(&b->can, bridge_pistol_bits_ignored(b->cfg));
        for (uint8_t c = 0; c < b->n_units; c++) {
                b->units[c].b = b;
                b->units[c].n = c;
                b->units[c].logged_state = ARBITER_CONVERTER_DEDICATED;
                b->units[c].logged_owner = ARBITER_NONE;
                b->units[c].logged_offered = ARBITER_NONE;
        }
        for (uint8_t i = 0; i < b->n_pistols; i++) {
                r = bridge_pistol_init(b, i);
                if (r < 0)
                        return r;
        }
        if (b->cfg->several) {
                struct dbus_service *peers[CONFIG_MAX_PISTOLS];

                /* One name (org.seccbridge) with every pistol's object and
                 * the arbiter's view; each pistol keeps its own name too. */
                for (uint8_t i = 1; i < b->n_pistols; i++)
                        peers[i - 1] = &b->pistols[i].dbus;
                r = dbus_service_set_peers(&b->pistols[0].dbus, peers, b->n_pistols - 1u);
                if (r < 0)
                        return r;
        }

        ev_init(&b->core_timer, bridge_core_timer_cb);
        b->core_timer.data = b;
        ev_init(&b->stop_timer, bridge_stop_timer_cb);
        b->stop_timer.data = b;
        ev_signal_init(&b->sig_term, bridge_signal_cb, SIGTERM);
        b->sig_term.data = b;
        ev_signal_init(&b->sig_int, bridge_signal_cb, SIGINT);
        b->sig_int.data = b;
        ev_signal_init(&b->sig_hup, bridge_signal_cb, SIGHUP);
        b->sig_hup.data = b;
        return 0;
}

int bridge_open_can(struct bridge *b)
{
        int r;

        r = can_link_apply(&b->link);
        if (r < 0)
                return r;
        r = can_open(&b->can, bridge_enter(b));
        if (r < 0)
                return r;
        b->can_ready = true;
        return 0;
}

int bridge_open_converter(struct bridge *b)
{
        int r;

        /* Supervisor mode: the controller's own modules do the power. */
        if (b->cfg->session.supervisor) {
                log_info("converter: none (supervisor mode): no Power_Modules_Status or limits are sent");
                return 0;
        }
        for (uint8_t c = 0; c < b->n_units; c++) {
                struct bridge_unit *u = &b->units[c];

                if (b->cfg->several)
                        r = converter_open_unit(&u->conv, b->loop, b->cfg, c, bridge_measurement, u);
                else
                        r = converter_open(&u->conv, b->loop, b->cfg, bridge_measurement, u);
                if (r < 0)
                        return r;
                u->ready = true;
        }
        return 0;
}

int bridge_start(struct bridge *b)
{
        uint64_t now = bridge_enter(b);
        int r;

        /* Signals first: a SIGTERM from here on is an orderly stop. */
        ev_signal_start(b->loop, &b->sig_term);
        ev_signal_start(b->loop, &b->sig_int);
        ev_signal_start(b->loop, &b->sig_hup);

        for (uint8_t i = 0; i < b->n_pistols; i++) {
                struct bridge_pistol *p = &b->pistols[i];
                const struct session_callbacks cb = {
                        .tx_frame = bridge_tx_frame,
                        .power_command = bridge_power_command,
                        .userdata = p,
                };

                r = session_init(&p->session, bridge_session_config(p), &cb, now);
                if (r < 0) {
                        log_err("the protocol core refused the configuration: %s", strerror(-r));
                        return r;
                }
        }
        if (b->arbitrate) {
                r = arbiter_init(&b->arbiter, &b->cfg->sharing, now);
                if (r < 0) {
                        log_err("the arbiter refused the configuration: %s", strerror(-r));
                        return r;
                }
        }
        b->session_ready = true;
        b->last_tick_us = now;
        if (b->arbitrate) {
                /* Shared converters start draining, their pistols held. */
                for (uint8_t i = 0; i < b->n_pistols; i++)
                        (void)bridge_arbiter_update(&b->pistols[i]);
                bridge_arbiter_apply(b);
        }

        bridge_after_core(b, false);
        notify_ready(&b->notify, b->status_line, now);
        if (!b->cfg->several) {
                log_info("ready: pistol %u on %s, converter %s, interface version %u (database %s)",
                         b->cfg->can.pistol_index, b->cfg->can.interface, b->cfg->converter.backend,
                         b->cfg->session.interface_version,
                         codec_db_for_version(b->cfg->session.interface_version)->name);
        } else {
                for (uint8_t i = 0; i < b->n_pistols; i++) {
                        const struct config_pistol *cp = &b->cfg->pistols[i];
                        const struct config_unit *cu = &b->cfg->units[cp->unit];
                        struct arbiter_converter_view v = { .shared = false };

                        (void)arbiter_get_converter(&b->arbiter, cp->unit, &v);
                        log_info("ready: [pistol %s] pistol %u, converter %s (%s)%s", cp->name, cp->session.pistol,
                                 cu->name[0] ? cu->name : "of [converter]", cu->backend, v.shared ? ", shared" : "");
                }
                log_info("ready: %u pistols, %u converters, interface version %u (database %s), sharing policy %s",
                         b->n_pistols, b->n_units, b->cfg->session.interface_version,
                         codec_db_for_version(b->cfg->session.interface_version)->name,
                         arbiter_policy_name(b->cfg->sharing.policy));
        }
        /* The operator interface and the publishers last: they read the
         * session, and the bus or the broker (or their absence) must never
         * hold up the start. */
        for (uint8_t i = 0; i < b->n_pistols; i++) {
                r = dbus_service_start(&b->pistols[i].dbus);
                if (r < 0)
                        return r;
        }
        for (uint8_t i = 0; i < b->n_pistols; i++) {
                metrics_file_start(&b->pistols[i].metrics);
                /* MQTT is not needed to charge: a failure is logged, no more. */
                (void)mqtt_start(&b->pistols[i].mqtt);
        }
        return 0;
}

#undef LOG_MODULE
#define LOG_MODULE (p->module)

static void bridge_log_counters(struct bridge_pistol *p)
{
        struct bridge *b = p->b;
        struct session_status st;
        const struct can_counters *c = &b->can.counters;

        if (!b->session_ready)
                return;
        session_get_status(&p->session, &st);
        log_info("counters: frames in %llu, out %llu, malformed %llu, foreign %llu, rejected requests %llu, "
                 "controller timeouts %llu, emergency stops %llu, other version %llu, "
                 "undefined power functions %llu, malformed I/O %llu, discharges refused %llu, "
                 "mode changes refused %llu, direction changes %llu",
                 (unsigned long long)st.counters.frames_in, (unsigned long long)st.counters.frames_out,
                 (unsigned long long)st.counters.malformed, (unsigned long long)st.counters.foreign,
                 (unsigned long long)st.counters.rejected_requests,
                 (unsigned long long)st.counters.controller_timeouts,
                 (unsigned long long)st.counters.emergency_stops,
                 (unsigned long long)st.counters.other_version,
                 (unsigned long long)st.counters.undefined_power_functions,
                 (unsigned long long)st.counters.malformed_io,
                 (unsigned long long)st.counters.discharges_refused,
                 (unsigned long long)st.counters.mode_changes_refused,
                 (unsigned long long)st.counters.direction_changes);
        if (p->n + 1 == b->n_pistols)
                log_info("counters: CAN rx %llu, tx %llu, tx dropped (queue full) %llu, tx dropped (interface down) %llu, "
                         "tx errors %llu, kernel rx drops %llu, error frames %llu, reopens %llu",
                         (unsigned long long)c->rx_frames, (unsigned long long)c->tx_frames,
                         (unsigned long long)c->tx_dropped_overflow, (unsigned long long)c->tx_dropped_down,
                         (unsigned long long)c->tx_errors, (unsigned long long)c->rx_kernel_drops,
                         (unsigned long long)c->error_frames, (unsigned long long)c->reopens);
        if (b->cfg->telemetry.mqtt.enable) {
                const struct mqtt_counters *m = mqtt_counters(&p->mqtt);
                const struct telemetry_counters *t = telemetry_counters(&p->telemetry);
                const struct event_queue *q = telemetry_queue(&p->telemetry);

                log_info("counters: MQTT connections %llu, failed attempts %llu, lost %llu, states %llu, "
                         "events %llu (acknowledged %llu, dropped %llu, waiting %llu)",
                         (unsigned long long)m->connections, (unsigned long long)m->connection_failures,
                         (unsigned long long)m->disconnections, (unsigned long long)t->states_published,
                         (unsigned long long)q->appended, (unsigned long long)q->delivered,
                         (unsigned long long)q->dropped, (unsigned long long)q->count);
        }
}

#undef LOG_MODULE
#define LOG_MODULE "bridge"

/* The arbiter's counters, per shared converter. */
static void bridge_log_sharing(struct bridge *b)
{
        for (uint8_t c = 0; b->arbitrate && b->session_ready && c < b->n_units; c++) {
                struct arbiter_converter_view v;

                if (arbiter_get_converter(&b->arbiter, c, &v) < 0 || !v.shared)
                        continue;
                log_info("counters: [converter %s] handovers %llu, trips %llu, claim timeouts %llu, idle timeouts %llu, "
                         "drain timeouts %llu, output or fault without owner %llu",
                         b->cfg->units[c].name[0] ? b->cfg->units[c].name : "of [converter]",
                         (unsigned long long)v.counters.grants, (unsigned long long)v.counters.trips,
                         (unsigned long long)v.counters.claim_timeouts, (unsigned long long)v.counters.idle_timeouts,
                         (unsigned long long)v.counters.drain_timeouts, (unsigned long long)v.counters.stray_output);
        }
        if (b->other_pistol_frames)
                log_info("counters: frames of pistols not served here %llu",
                         (unsigned long long)b->other_pistol_frames);
}

void bridge_finish(struct bridge *b)
{
        if (!b->loop)
                return;
        for (uint8_t i = 0; i < b->n_pistols; i++)
                bridge_log_counters(&b->pistols[i]);
        bridge_log_sharing(b);

        for (uint8_t i = b->n_pistols; i-- > 0;) {
                struct bridge_pistol *p = &b->pistols[i];

                metrics_file_finish(&p->metrics);
                mqtt_finish(&p->mqtt);
                free(p->event_slots);
                p->event_slots = NULL;
                dbus_service_finish(&p->dbus);
        }
        ev_timer_stop(b->loop, &b->stop_timer);
        ev_timer_stop(b->loop, &b->core_timer);
        ev_signal_stop(b->loop, &b->sig_hup);
        ev_signal_stop(b->loop, &b->sig_int);
        ev_signal_stop(b->loop, &b->sig_term);
        b->session_ready = false;

        for (uint8_t c = b->n_units; c-- > 0;) {
                if (b->units[c].ready) {
                        converter_close(&b->units[c].conv);
                        b->units[c].ready = false;
                }
        }
        can_close(&b->can);
        b->can_ready = false;
        can_link_close(&b->link);
        notify_finish(&b->notify);
}
