/* SPDX-License-Identifier: MIT */
/*
 * The deciding half of the MQTT publisher (see telemetry.h); the payloads
 * written here are documented in doc/mqtt.md, field by field.
 */
#include <errno.h>
#include <string.h>

#include "jsonw.h"
#include "telemetry.h"

/* ---- small helpers ---- */

static void telemetry_copy(char *dst, size_t cap, const char *src)
{
        size_t n = src ? strlen(src) : 0;

        if (n >= cap)
                n = cap - 1;
        if (n > 0)
                memcpy(dst, src, n);
        dst[n] = '\0';
}

/* The labels are read from database v2.7 whatever the interface version:
 * v3.6 gives Communication_Protocol, Plug_and_pins, the State of
 * Charge_Session_Finished and the Origin of Emergency_Stop the same value
 * tables (a unit test holds the two databases to that). */
static const char *telemetry_label(enum codec_msg_type type, const char *signal, int64_t raw)
{
        const struct codec_msg_info *msg = codec_msg_info(codec_db_for_version(2), type);
        const struct codec_signal_info *sig = msg ? codec_signal_by_name(msg, signal) : NULL;

        return sig ? codec_signal_label(sig, raw) : NULL;
}

const char *telemetry_protocol_name(uint8_t protocol)
{
        return telemetry_label(CODEC_NEW_CHARGE_SESSION, "Communication_Protocol", protocol);
}

const char *telemetry_plug_name(uint8_t plug)
{
        return telemetry_label(CODEC_NEW_CHARGE_SESSION, "Plug_and_pins", plug);
}

const char *telemetry_finished_name(uint8_t state)
{
        return telemetry_label(CODEC_CHARGE_SESSION_FINISHED, "State", state);
}

const char *telemetry_fault_kind_name(enum telemetry_fault_kind kind)
{
        switch (kind) {
        case TELEMETRY_FAULT_SESSION:
                return "session";
        case TELEMETRY_FAULT_CONVERTER_LINK:
                return "converter_link";
        case TELEMETRY_FAULT_CONVERTER:
                return "converter";
        case TELEMETRY_FAULT_CAN:
                return "can";
        case TELEMETRY_FAULT_COUNT:
                break;
        }
        return "unknown";
}

static const char *telemetry_estop_origin(uint8_t origin)
{
        const char *label = telemetry_label(CODEC_EMERGENCY_STOP, "Origin", origin);

        return label ? label : "unknown";
}

/* ---- what is known of the vehicle ---- */

/* v2: New_Charge_Session gives everything at the session's start.  v3:
 * New_Charge_Session gives protocol and plug only; the maximum voltage,
 * maximum current, capacity and state of charge come with
 * EV_Information_* (V5), and are not known (null) until they do. */
static bool telemetry_v3(const struct session_status *st)
{
        return st->interface_version == 3;
}

static bool telemetry_ev_voltage_known(const struct session_status *st)
{
        return !telemetry_v3(st) || st->ev_info.voltages_valid;
}

static bool telemetry_ev_current_known(const struct session_status *st)
{
        return !telemetry_v3(st) || st->ev_info.charge_limits_valid;
}

static bool telemetry_ev_battery_known(const struct session_status *st)
{
        return !telemetry_v3(st) || st->ev_info.battery_valid;
}

/* The latest state of charge: v2, Charging_Loop; v3, EV_Information_Battery
 * (v3 has no Charging_Loop: the core takes a DC_Power_Control through its
 * Charging_Loop path with a State_of_Charge of 0, which says nothing).
 * SESSION_NOT_REPORTED when none. */
static uint8_t telemetry_soc_now(const struct session_status *st)
{
        if (telemetry_v3(st))
                return st->ev_info.battery_valid ? st->ev_info.battery.present_state_of_charge_pct
                                                 : SESSION_NOT_REPORTED;
        return st->charging_loop_soc_pct;
}

static void telemetry_fixed_or_null(struct jsonw *j, const char *key, bool known, int64_t v, unsigned decimals)
{
        if (known)
                jsonw_fixed(j, key, v, decimals);
        else
                jsonw_null(j, key);
}

static void telemetry_u64_or_null(struct jsonw *j, const char *key, bool known, uint64_t v)
{
        if (known)
                jsonw_u64(j, key, v);
        else
                jsonw_null(j, key);
}

static void telemetry_i64_or_null(struct jsonw *j, const char *key, bool known, int64_t v)
{
        if (known)
                jsonw_i64(j, key, v);
        else
                jsonw_null(j, key);
}

static void telemetry_soc_member(struct jsonw *j, const char *key, uint8_t soc)
{
        telemetry_u64_or_null(j, key, soc != SESSION_NOT_REPORTED, soc);
}

/* ---- events ---- */

/* A new event with the members every event has; NULL when the queue has
 * no room (counted there). */
static struct event_slot *telemetry_event_begin(struct telemetry *t, struct jsonw *j, const char *type)
{
        struct event_slot *e = event_queue_append(&t->queue);

        if (!e)
                return NULL;
        jsonw_init(j, e->payload, sizeof(e->payload));
        jsonw_u64(j, "seq", e->seq);
        jsonw_str(j, "type", type);
        jsonw_utc(j, "time", t->wall_us);
        jsonw_u64(j, "pistol", t->cfg.pistol);
        jsonw_str(j, "run", t->cfg.run_id);
        return e;
}

static void telemetry_event_end(struct telemetry *t, struct event_slot *e, struct jsonw *j, const char *type)
{
        size_t len = 0;

        if (jsonw_finish(j, &len) < 0) {
                /* Cannot happen with the bounded fields written here; if it
                 * ever did, the reader still gets the event, marked. */
                jsonw_init(j, e->payload, sizeof(e->payload));
                jsonw_u64(j, "seq", e->seq);
                jsonw_str(j, "type", type);
                jsonw_utc(j, "time", t->wall_us);
                jsonw_u64(j, "pistol", t->cfg.pistol);
                jsonw_str(j, "run", t->cfg.run_id);
                jsonw_bool(j, "truncated", true);
                if (jsonw_finish(j, &len) < 0)
                        len = 0;
        }
        e->len = (uint16_t)len;
}

static void telemetry_event_session_started(struct telemetry *t, const struct session_status *st)
{
        struct jsonw j;
        struct event_slot *e = telemetry_event_begin(t, &j, "session_started");

        if (!e)
                return;
        jsonw_u64(&j, "session", t->counters.sessions_started);
        jsonw_str(&j, "protocol", telemetry_protocol_name(st->ev.communication_protocol));
        jsonw_str(&j, "plug", telemetry_plug_name(st->ev.plug_and_pins));
        /* v3: EV_Information_* follow New_Charge_Session (V5): null here,
         * in the state once they come. */
        telemetry_fixed_or_null(&j, "ev_max_voltage_v", telemetry_ev_voltage_known(st), st->ev.ev_maximum_voltage_dv,
                                1);
        telemetry_fixed_or_null(&j, "ev_max_current_a", telemetry_ev_current_known(st), st->ev.ev_maximum_current_da,
                                1);
        telemetry_u64_or_null(&j, "battery_capacity_kwh", telemetry_ev_battery_known(st),
                              st->ev.battery_capacity_kwh);
        telemetry_u64_or_null(&j, "soc_pct", t->soc_start_known, t->soc_start_pct);
        jsonw_u64(&j, "interface_version", st->interface_version);
        telemetry_event_end(t, e, &j, "session_started");
}

/* Why the window closed (R44): the controller's Charge_Session_Finished,
 * else what the core saw. */
static const char *telemetry_stop_reason(const struct session_status *st)
{
        const char *finished;

        if (st->finished_state != SESSION_NOT_REPORTED) {
                finished = telemetry_finished_name(st->finished_state);
                return finished ? finished : "Charge_Session_Finished";
        }
        switch (st->fault) {
        case SESSION_FAULT_SHUTDOWN:
                return "shutdown";
        case SESSION_FAULT_CONTROLLER_RESTART:
                return "controller_restart";
        case SESSION_FAULT_NONE:
        case SESSION_FAULT_CONTROLLER_TIMEOUT:
        case SESSION_FAULT_EMERGENCY_STOP:
        case SESSION_FAULT_INSULATION:
        case SESSION_FAULT_CONVERTER_LINK:
        case SESSION_FAULT_CONVERTER:
        case SESSION_FAULT_EV_OVERVOLTAGE:
        case SESSION_FAULT_DIRECTION_CHANGE:
        case SESSION_FAULT_COUNT:
                break;
        }
        /* R44, E.10: back to a state before a session. */
        return "controller_idle";
}

static void telemetry_event_session_ended(struct telemetry *t, const struct session_status *st)
{
        struct jsonw j;
        struct event_slot *e = telemetry_event_begin(t, &j, "session_ended");
        uint64_t duration_ms = (t->now_us - t->session_start_us) / 1000u;

        if (!e)
                return;
        jsonw_u64(&j, "session", t->counters.sessions_started);
        jsonw_utc(&j, "started", t->session_start_wall_us);
        jsonw_fixed(&j, "duration_s", (int64_t)duration_ms, 3);
        jsonw_str(&j, "stop_reason", telemetry_stop_reason(st));
        jsonw_str(&j, "fault", session_fault_name(t->session_fault));
        jsonw_bool(&j, "charge_started", t->session_charge_started);
        jsonw_fixed(&j, "energy_delivered_wh", (int64_t)t->energy.delivered_mwh, 3);
        jsonw_fixed(&j, "energy_returned_wh", (int64_t)t->energy.returned_mwh, 3);
        jsonw_bool(&j, "energy_estimate", true);
        jsonw_fixed(&j, "peak_power_w", (int64_t)t->energy.peak_delivered_cw, 2);
        telemetry_u64_or_null(&j, "soc_start_pct", t->soc_start_known, t->soc_start_pct);
        telemetry_soc_member(&j, "soc_end_pct", t->soc_end_pct);
        telemetry_event_end(t, e, &j, "session_ended");
}

static void telemetry_event_fault(struct telemetry *t, enum telemetry_fault_kind kind, bool started)
{
        const struct telemetry_fault *f = &t->faults[kind];
        const char *type = started ? "fault" : "fault_ended";
        struct jsonw j;
        struct event_slot *e = telemetry_event_begin(t, &j, type);

        if (!e)
                return;
        jsonw_str(&j, "fault", telemetry_fault_kind_name(kind));
        jsonw_str(&j, "cause", f->cause);
        jsonw_str(&j, "detail", f->detail);
        if (t->in_session)
                jsonw_u64(&j, "session", t->counters.sessions_started);
        else
                jsonw_null(&j, "session");
        if (!started) {
                jsonw_utc(&j, "started", f->since_wall_us);
                jsonw_fixed(&j, "duration_s", (int64_t)((t->now_us - f->since_us) / 1000u), 3);
        }
        telemetry_event_end(t, e, &j, type);
}

/* ---- sessions ---- */

static void telemetry_session_begin(struct telemetry *t, const struct session_status *st)
{
        t->in_session = true;
        t->counters.sessions_started++;
        t->session_start_us = t->now_us;
        t->session_start_wall_us = t->wall_us;
        t->soc_start_known = telemetry_ev_battery_known(st);
        t->soc_start_pct = st->ev.state_of_charge_pct;
        t->soc_end_pct = SESSION_NOT_REPORTED;
        t->session_fault = SESSION_FAULT_NONE;
        t->session_charge_started = false;
        energy_reset(&t->energy);
        telemetry_event_session_started(t, st);
}

static void telemetry_session_end(struct telemetry *t, const struct session_status *st)
{
        if (telemetry_soc_now(st) != SESSION_NOT_REPORTED)
                t->soc_end_pct = telemetry_soc_now(st);
        energy_advance(&t->energy, t->now_us);
        t->total_delivered_mwh += t->energy.delivered_mwh;
        t->total_returned_mwh += t->energy.returned_mwh;
        t->counters.sessions_ended++;
        telemetry_event_session_ended(t, st);
        t->in_session = false;
}

/* ---- faults ---- */

/* One kind of fault: an episode starts when it becomes active, ends when
 * it is no longer, each with one event.  A new cause while active (the
 * core's latch can only change through "cleared") is a new episode. */
static void telemetry_fault_set(struct telemetry *t, enum telemetry_fault_kind kind, bool active,
                                const char *cause, const char *detail)
{
        struct telemetry_fault *f = &t->faults[kind];

        if (f->active && (!active || strcmp(f->cause, cause) != 0)) {
                telemetry_event_fault(t, kind, false);
                f->active = false;
        }
        if (active && !f->active) {
                f->active = true;
                f->since_us = t->now_us;
                f->since_wall_us = t->wall_us;
                telemetry_copy(f->cause, sizeof(f->cause), cause);
                telemetry_copy(f->detail, sizeof(f->detail), detail);
                t->counters.faults[kind]++;
                telemetry_event_fault(t, kind, true);
        }
}

static const char *telemetry_session_fault_detail(const struct session_status *st)
{
        switch (st->fault) {
        case SESSION_FAULT_CONTROLLER_TIMEOUT:
                return "no Advantics_Controller_Status within the controller timeout (R1)";
        case SESSION_FAULT_CONTROLLER_RESTART:
                return "the controller went back to Initialising during a session";
        case SESSION_FAULT_EMERGENCY_STOP:
                return st->emergency_stop_origin == CODEC_ESTOP_ORIGIN_PEV ? "Emergency_Stop from the vehicle (R45)"
                       : st->emergency_stop_origin == CODEC_ESTOP_ORIGIN_EVSE
                               ? "Emergency_Stop from the charger (R45)"
                               : "Emergency_Stop (R45)";
        case SESSION_FAULT_INSULATION:
                return "insulation resistance below the interlock threshold (R40)";
        case SESSION_FAULT_CONVERTER_LINK:
                return "the link to the converter was lost";
        case SESSION_FAULT_CONVERTER:
                return "the converter reported a fault";
        case SESSION_FAULT_EV_OVERVOLTAGE:
                return "the output stayed above the EV's maximum voltage (CC.6.2)";
        case SESSION_FAULT_DIRECTION_CHANGE:
                return "the converter never confirmed 1 A or less before the current changed sign (B2)";
        case SESSION_FAULT_SHUTDOWN:
                return "the daemon is stopping";
        case SESSION_FAULT_NONE:
        case SESSION_FAULT_COUNT:
                break;
        }
        return "";
}

static void telemetry_faults_update(struct telemetry *t, const struct telemetry_input *in)
{
        const struct session_status *st = &in->status;
        const struct power_measurement *m = &st->measurement;
        const char *error = in->converter_error ? in->converter_error : "";
        char detail[TELEMETRY_TEXT_MAX];

        /* The converter off for the stop is the end of the run, not a
         * fault of its own: whatever was latched stays as it was. */
        if (st->fault != SESSION_FAULT_SHUTDOWN)
                telemetry_fault_set(t, TELEMETRY_FAULT_SESSION, st->fault != SESSION_FAULT_NONE,
                                    session_fault_name(st->fault), telemetry_session_fault_detail(st));

        /* The link counts as lost once it was up (as the core and the
         * operator interface count it): a converter still waking up at
         * start is not a fault. */
        if (m->link_ok)
                t->converter_link_seen = true;
        telemetry_fault_set(t, TELEMETRY_FAULT_CONVERTER_LINK, t->converter_link_seen && !m->link_ok, "link_lost",
                            error[0] ? error : "link lost");
        telemetry_fault_set(t, TELEMETRY_FAULT_CONVERTER, m->fault, "converter_fault",
                            error[0] ? error : "the converter reports a fault");

        telemetry_copy(detail, sizeof(detail), "CAN interface ");
        telemetry_copy(detail + strlen(detail), sizeof(detail) - strlen(detail),
                       in->can_interface ? in->can_interface : "?");
        telemetry_copy(detail + strlen(detail), sizeof(detail) - strlen(detail), " is down or missing");
        telemetry_fault_set(t, TELEMETRY_FAULT_CAN, !in->can_up, "interface_down", detail);
}

/* ---- the state document ---- */

/* A label of DC_Power_Control (database v3.6), or `none` without one. */
static const char *telemetry_v3_label(const char *signal, int64_t raw, const char *none)
{
        const struct codec_msg_info *msg = codec_msg_info(codec_db_for_version(3), CODEC_DC_POWER_CONTROL);
        const struct codec_signal_info *sig = msg ? codec_signal_by_name(msg, signal) : NULL;
        const char *label = sig ? codec_signal_label(sig, raw) : NULL;

        return label ? label : none;
}

/* What a v3 controller said about the vehicle (EV_Information_*,
 * OCPP_Control), each member null until its message came in this
 * session.  Power in W, from the interface's kW. */
static void telemetry_ev_information(struct jsonw *j, const struct session_ev_info *e)
{
        const struct codec_ev_information_battery *b = &e->battery;
        const struct codec_ev_information_voltages *v = &e->voltages;
        const struct codec_ev_information_charge_limits *c = &e->charge_limits;
        const struct codec_ev_information_discharge_limits *d = &e->discharge_limits;
        const struct codec_ev_information_energy *n = &e->energy;

        jsonw_open(j, "ev_information");
        telemetry_fixed_or_null(j, "min_voltage_v", e->voltages_valid, v->ev_minimum_voltage_dv, 1);
        telemetry_fixed_or_null(j, "max_voltage_v", e->voltages_valid, v->ev_maximum_voltage_dv, 1);
        telemetry_fixed_or_null(j, "present_voltage_v", e->voltages_valid, v->ev_present_voltage_dv, 1);
        telemetry_fixed_or_null(j, "min_charge_current_a", e->charge_limits_valid, c->ev_minimum_charge_current_da, 1);
        telemetry_fixed_or_null(j, "max_charge_current_a", e->charge_limits_valid, c->ev_maximum_charge_current_da, 1);
        telemetry_u64_or_null(j, "min_charge_power_w", e->charge_limits_valid,
                              (uint64_t)c->ev_minimum_charge_power_kw * 1000u);
        telemetry_u64_or_null(j, "max_charge_power_w", e->charge_limits_valid,
                              (uint64_t)c->ev_maximum_charge_power_kw * 1000u);
        telemetry_fixed_or_null(j, "min_discharge_current_a", e->discharge_limits_valid,
                                d->ev_minimum_discharge_current_da, 1);
        telemetry_fixed_or_null(j, "max_discharge_current_a", e->discharge_limits_valid,
                                d->ev_maximum_discharge_current_da, 1);
        telemetry_u64_or_null(j, "min_discharge_power_w", e->discharge_limits_valid,
                              (uint64_t)d->ev_minimum_discharge_power_kw * 1000u);
        telemetry_u64_or_null(j, "max_discharge_power_w", e->discharge_limits_valid,
                              (uint64_t)d->ev_maximum_discharge_power_kw * 1000u);
        telemetry_u64_or_null(j, "soc_present_pct", e->battery_valid, b->present_state_of_charge_pct);
        telemetry_u64_or_null(j, "soc_min_pct", e->battery_valid, b->minimum_state_of_charge_pct);
        telemetry_u64_or_null(j, "soc_target_pct", e->battery_valid, b->target_state_of_charge_pct);
        telemetry_u64_or_null(j, "soc_max_pct", e->battery_valid, b->maximum_state_of_charge_pct);
        telemetry_i64_or_null(j, "min_energy_request_kwh", e->energy_valid, n->ev_minimum_energy_request_kwh);
        telemetry_i64_or_null(j, "target_energy_request_kwh", e->energy_valid, n->ev_target_energy_request_kwh);
        telemetry_i64_or_null(j, "max_energy_request_kwh", e->energy_valid, n->ev_maximum_energy_request_kwh);
        telemetry_fixed_or_null(j, "dynamic_target_current_a", e->dynamic_target_valid, e->dynamic_target_current_da,
                                1);
        jsonw_close(j);
}

static void telemetry_state_fill(struct telemetry *t, const struct telemetry_input *in)
{
        const struct session_status *st = &in->status;
        struct telemetry_state *s = &t->cur;

        /* Compared with memcmp(): padding included, so zero it all. */
        memset(s, 0, sizeof(*s));
        s->controller_alive = st->controller_alive;
        s->controller_state = st->controller_state;
        s->interface_version = st->interface_version;
        s->session_active = st->in_session;
        s->session_number = t->counters.sessions_started;
        if (st->in_session) {
                s->charge_started = st->charge_started;
                s->ev = st->ev;
                s->soc_start_known = t->soc_start_known;
                s->soc_start_pct = t->soc_start_pct;
                s->soc_pct = telemetry_soc_now(st);
                s->delivered_mwh = t->energy.delivered_mwh;
                s->returned_mwh = t->energy.returned_mwh;
                s->peak_delivered_cw = t->energy.peak_delivered_cw;
                /* memcpy: the padding too, for the memcmp() of a change */
                memcpy(&s->ev_info, &st->ev_info, sizeof(s->ev_info));
                s->power_control_valid = st->power_control_valid;
                if (st->power_control_valid)
                        memcpy(&s->power_control, &st->power_control, sizeof(s->power_control));
        }
        s->request = st->request;
        s->request_voltage_dv = st->request_voltage_dv;
        s->request_current_da = st->request_current_da;
        s->command = st->command;
        s->measurement = st->measurement;
        s->system_enable = st->system_enable;
        s->fault = st->fault;
        s->emergency_stop = st->emergency_stop_latched;
        s->emergency_stop_active = st->emergency_stop_active;
        s->emergency_stop_origin = st->emergency_stop_latched ? st->emergency_stop_origin : 0;
        s->limits = st->limits;
        s->can_up = in->can_up;
        telemetry_copy(s->can_interface, sizeof(s->can_interface), in->can_interface);
        telemetry_copy(s->converter_backend, sizeof(s->converter_backend), in->converter_backend);
        telemetry_copy(s->converter_error, sizeof(s->converter_error), in->converter_error);
}

static int telemetry_state_payload(struct telemetry *t, size_t *len)
{
        const struct telemetry_state *s = &t->cur;
        const struct power_measurement *m = &s->measurement;
        const struct codec_dc_power_control *pc;
        bool v3 = s->interface_version == 3;
        struct jsonw j;

        jsonw_init(&j, t->state_payload, sizeof(t->state_payload));
        jsonw_utc(&j, "time", t->wall_us);
        jsonw_u64(&j, "pistol", t->cfg.pistol);
        jsonw_str(&j, "run", t->cfg.run_id);
        jsonw_u64(&j, "interface_version", s->interface_version);

        jsonw_open(&j, "controller");
        jsonw_bool(&j, "alive", s->controller_alive);
        jsonw_str(&j, "state", codec_controller_state_name(s->controller_state));
        jsonw_close(&j);

        jsonw_open(&j, "session");
        jsonw_bool(&j, "active", s->session_active);
        jsonw_u64(&j, "number", s->session_number);
        if (s->session_active) {
                jsonw_bool(&j, "charge_started", s->charge_started);
                jsonw_str(&j, "protocol", telemetry_protocol_name(s->ev.communication_protocol));
                jsonw_str(&j, "plug", telemetry_plug_name(s->ev.plug_and_pins));
                telemetry_fixed_or_null(&j, "ev_max_voltage_v", !v3 || s->ev_info.voltages_valid,
                                        s->ev.ev_maximum_voltage_dv, 1);
                telemetry_fixed_or_null(&j, "ev_max_current_a", !v3 || s->ev_info.charge_limits_valid,
                                        s->ev.ev_maximum_current_da, 1);
                telemetry_u64_or_null(&j, "battery_capacity_kwh", !v3 || s->ev_info.battery_valid,
                                      s->ev.battery_capacity_kwh);
                telemetry_u64_or_null(&j, "soc_start_pct", s->soc_start_known, s->soc_start_pct);
                telemetry_soc_member(&j, "soc_pct", s->soc_pct);
                jsonw_fixed(&j, "energy_delivered_wh", (int64_t)s->delivered_mwh, 3);
                jsonw_fixed(&j, "energy_returned_wh", (int64_t)s->returned_mwh, 3);
                jsonw_bool(&j, "energy_estimate", true);
                jsonw_fixed(&j, "peak_power_w", (int64_t)s->peak_delivered_cw, 2);
                if (v3)
                        telemetry_ev_information(&j, &s->ev_info);
                else
                        jsonw_null(&j, "ev_information");
        } else {
                jsonw_null(&j, "charge_started");
                jsonw_null(&j, "protocol");
                jsonw_null(&j, "plug");
                jsonw_null(&j, "ev_max_voltage_v");
                jsonw_null(&j, "ev_max_current_a");
                jsonw_null(&j, "battery_capacity_kwh");
                jsonw_null(&j, "soc_start_pct");
                jsonw_null(&j, "soc_pct");
                jsonw_null(&j, "energy_delivered_wh");
                jsonw_null(&j, "energy_returned_wh");
                jsonw_bool(&j, "energy_estimate", true);
                jsonw_null(&j, "peak_power_w");
                jsonw_null(&j, "ev_information");
        }
        jsonw_close(&j);

        jsonw_open(&j, "request");
        jsonw_str(&j, "kind", session_request_name(s->request));
        jsonw_fixed(&j, "voltage_v", s->request_voltage_dv, 1);
        jsonw_fixed(&j, "current_a", s->request_current_da, 1);
        /* v3: the last DC_Power_Control of the session as it came (an
         * undefined Power_Function has no label: V25). */
        pc = s->session_active && s->power_control_valid ? &s->power_control : NULL;
        jsonw_str(&j, "power_function",
                  pc ? telemetry_v3_label("Power_Function", pc->power_function, "undefined") : NULL);
        jsonw_str(&j, "setpoints_mode", pc ? telemetry_v3_label("Setpoints_Mode", pc->setpoints_mode, NULL) : NULL);
        telemetry_fixed_or_null(&j, "current_min_a", pc != NULL, pc ? pc->current_range_min_da : 0, 1);
        jsonw_str(&j, "output_contactors",
                  pc ? telemetry_v3_label("Output_Contactors", pc->output_contactors, NULL) : NULL);
        if (pc)
                jsonw_bool(&j, "lower_output_voltage", pc->lower_output_voltage);
        else
                jsonw_null(&j, "lower_output_voltage");
        jsonw_close(&j);

        jsonw_open(&j, "command");
        jsonw_str(&j, "mode", power_mode_name(s->command.mode));
        jsonw_fixed(&j, "voltage_v", s->command.voltage_dv, 1);
        jsonw_fixed(&j, "current_a", s->command.current_da, 1);
        jsonw_bool(&j, "discharge", s->command.discharge);
        jsonw_close(&j);

        jsonw_open(&j, "measurement");
        jsonw_fixed(&j, "voltage_v", m->voltage_dv, 1);
        jsonw_fixed(&j, "current_a", m->current_da, 1);
        jsonw_fixed(&j, "power_w", (int64_t)m->voltage_dv * m->current_da, 2);
        if (m->module_temp_c != POWER_TEMPERATURE_UNKNOWN)
                jsonw_i64(&j, "module_temperature_c", m->module_temp_c);
        else
                jsonw_null(&j, "module_temperature_c");
        if (m->enclosure_temp_c != POWER_TEMPERATURE_UNKNOWN)
                jsonw_i64(&j, "enclosure_temperature_c", m->enclosure_temp_c);
        else
                jsonw_null(&j, "enclosure_temperature_c");
        if (m->insulation_kohm != POWER_INSULATION_UNKNOWN)
                jsonw_u64(&j, "insulation_kohm", m->insulation_kohm);
        else
                jsonw_null(&j, "insulation_kohm");
        jsonw_close(&j);

        jsonw_bool(&j, "system_enable", s->system_enable);

        jsonw_open(&j, "fault");
        jsonw_str(&j, "active", session_fault_name(s->fault));
        jsonw_bool(&j, "emergency_stop", s->emergency_stop);
        jsonw_bool(&j, "emergency_stop_active", s->emergency_stop_active);
        jsonw_str(&j, "emergency_stop_origin",
                  s->emergency_stop ? telemetry_estop_origin(s->emergency_stop_origin) : NULL);
        jsonw_close(&j);

        jsonw_open(&j, "link");
        jsonw_str(&j, "can_interface", s->can_interface);
        jsonw_bool(&j, "can_up", s->can_up);
        jsonw_str(&j, "converter_backend", s->converter_backend);
        jsonw_bool(&j, "converter_link", m->link_ok);
        jsonw_bool(&j, "converter_ready", m->ready);
        jsonw_bool(&j, "converter_fault", m->fault);
        jsonw_str(&j, "converter_error", s->converter_error);
        jsonw_close(&j);

        jsonw_open(&j, "limits");
        jsonw_fixed(&j, "max_voltage_v", s->limits.max_voltage_dv, 1);
        jsonw_fixed(&j, "max_current_a", s->limits.max_current_da, 1);
        jsonw_u64(&j, "max_power_w", s->limits.max_power_w);
        jsonw_close(&j);

        return jsonw_finish(&j, len);
}

static bool telemetry_state_changed(const struct telemetry *t)
{
        return !t->sent_valid || memcmp(&t->cur, &t->sent, sizeof(t->cur)) != 0;
}

/* ---- public ---- */

void telemetry_init(struct telemetry *t, const struct telemetry_config *cfg, struct event_slot *slots,
                    uint32_t n_slots)
{
        memset(t, 0, sizeof(*t));
        t->cfg = *cfg;
        if (t->cfg.event_window == 0)
                t->cfg.event_window = 1;
        t->cfg.run_id[sizeof(t->cfg.run_id) - 1] = '\0';
        t->cfg.version[sizeof(t->cfg.version) - 1] = '\0';
        event_queue_init(&t->queue, slots, n_slots);
        energy_reset(&t->energy);
}

static void telemetry_clock(struct telemetry *t, uint64_t now_us, uint64_t wall_us)
{
        /* Durations use the monotonic clock, never going back. */
        if (now_us > t->now_us)
                t->now_us = now_us;
        t->wall_us = wall_us;
}

void telemetry_observe(struct telemetry *t, const struct telemetry_input *in, uint64_t now_us, uint64_t wall_us)
{
        const struct session_status *st = &in->status;
        const struct power_measurement *m = &st->measurement;

        telemetry_clock(t, now_us, wall_us);
        if (st->in_session && !t->in_session)
                telemetry_session_begin(t, st);
        if (t->in_session) {
                energy_sample(&t->energy, m->voltage_dv, m->current_da, m->link_ok, t->now_us);
                if (st->charge_started)
                        t->session_charge_started = true;
                if (t->session_fault == SESSION_FAULT_NONE && st->fault != SESSION_FAULT_SHUTDOWN)
                        t->session_fault = st->fault;
                /* v3: the first EV_Information_Battery is the start. */
                if (!t->soc_start_known && telemetry_v3(st) && st->ev_info.battery_valid) {
                        t->soc_start_known = true;
                        t->soc_start_pct = st->ev_info.battery.present_state_of_charge_pct;
                }
                /* The core clears the v3 information with the session: keep
                 * the last state of charge seen in it for its end. */
                if (st->in_session)
                        t->soc_end_pct = telemetry_soc_now(st);
        }
        if (!st->in_session && t->in_session)
                telemetry_session_end(t, st);
        telemetry_faults_update(t, in);
        telemetry_state_fill(t, in);
        t->observed = true;
}

void telemetry_config_reloaded(struct telemetry *t, bool applied, const char *path, const char *reason,
                               uint64_t now_us, uint64_t wall_us)
{
        struct jsonw j;
        struct event_slot *e;

        telemetry_clock(t, now_us, wall_us);
        t->counters.reloads++;
        if (!applied)
                t->counters.reloads_refused++;
        e = telemetry_event_begin(t, &j, "config_reloaded");
        if (!e)
                return;
        jsonw_bool(&j, "applied", applied);
        {
                /* A path can be long; the event has a fixed size. */
                char p[256];

                telemetry_copy(p, sizeof(p), path);
                jsonw_str(&j, "path", p);
        }
        jsonw_str(&j, "reason", applied ? NULL : reason);
        telemetry_event_end(t, e, &j, "config_reloaded");
}

/* The count of events dropped so far and not yet acknowledged as told. */
static void telemetry_report_build(struct telemetry *t)
{
        struct jsonw j;
        size_t len = 0;

        jsonw_init(&j, t->report_payload, sizeof(t->report_payload));
        jsonw_u64(&j, "seq", t->report_seq);
        jsonw_str(&j, "type", "events_dropped");
        jsonw_utc(&j, "time", t->wall_us);
        jsonw_u64(&j, "pistol", t->cfg.pistol);
        jsonw_str(&j, "run", t->cfg.run_id);
        jsonw_u64(&j, "count", t->report_count);
        jsonw_u64(&j, "dropped_total", t->queue.dropped);
        if (jsonw_finish(&j, &len) < 0)
                len = 0;
        t->report_len = (uint16_t)len;
}

void telemetry_link(struct telemetry *t, bool up, uint64_t now_us, uint64_t wall_us)
{
        telemetry_clock(t, now_us, wall_us);
        t->link_up = up;
        /* Either way the broker's copy of the state is not known to be
         * ours any more: send it again once connected. */
        t->sent_valid = false;
        t->state_in_flight = false;
        t->report_in_flight = false;
        if (!up) {
                event_queue_unsend_all(&t->queue);
                return;
        }
        if (t->queue.dropped_unreported > 0) {
                if (!t->report_pending)
                        t->report_seq = event_queue_take_seq(&t->queue);
                t->report_count += event_queue_take_dropped(&t->queue);
                t->report_pending = true;
                telemetry_report_build(t);
        }
}

bool telemetry_next_message(struct telemetry *t, uint64_t now_us, uint64_t wall_us,
                            struct telemetry_message *out)
{
        struct event_slot *e;
        size_t len;

        telemetry_clock(t, now_us, wall_us);
        if (!t->link_up)
                return false;
        if (t->report_pending && !t->report_in_flight && t->report_len > 0) {
                *out = (struct telemetry_message){
                        .topic = TELEMETRY_TOPIC_EVENT,
                        .payload = t->report_payload,
                        .len = t->report_len,
                        .retain = false,
                        .event = NULL,
                };
                return true;
        }
        /* Events first, oldest first: a reader sees session_started before
         * the state that shows the session. */
        e = event_queue_next_waiting(&t->queue);
        if (e && t->queue.in_flight >= t->cfg.event_window)
                return false;   /* the state goes after what happened before it */
        if (e) {
                *out = (struct telemetry_message){
                        .topic = TELEMETRY_TOPIC_EVENT,
                        .payload = e->payload,
                        .len = e->len,
                        .retain = false,
                        .event = e,
                };
                return true;
        }
        if (!t->observed || t->state_in_flight || !telemetry_state_changed(t))
                return false;
        /* At most one state per interval; after a reconnection at once. */
        if (t->sent_valid && t->ever_published && t->now_us < t->last_state_us + t->cfg.state_min_interval_us)
                return false;
        if (telemetry_state_payload(t, &len) < 0)
                return false;
        *out = (struct telemetry_message){
                .topic = TELEMETRY_TOPIC_STATE,
                .payload = t->state_payload,
                .len = len,
                .retain = true,
        };
        return true;
}

void telemetry_sent(struct telemetry *t, const struct telemetry_message *m, int mid, uint64_t now_us)
{
        if (now_us > t->now_us)
                t->now_us = now_us;
        switch (m->topic) {
        case TELEMETRY_TOPIC_STATE:
                t->sent = t->cur;
                t->sent_valid = true;
                t->state_in_flight = true;
                t->state_mid = mid;
                t->ever_published = true;
                t->last_state_us = t->now_us;
                t->counters.states_published++;
                break;
        case TELEMETRY_TOPIC_EVENT:
                if (m->event) {
                        event_queue_mark_sent(&t->queue, m->event, mid);
                } else {
                        t->report_in_flight = true;
                        t->report_mid = mid;
                }
                t->counters.events_published++;
                break;
        }
}

void telemetry_acked(struct telemetry *t, int mid)
{
        if (t->state_in_flight && mid == t->state_mid) {
                t->state_in_flight = false;
                return;
        }
        if (t->report_in_flight && mid == t->report_mid) {
                t->report_in_flight = false;
                t->report_pending = false;
                t->report_count = 0;
                return;
        }
        (void)event_queue_ack(&t->queue, mid);
}

uint64_t telemetry_next_deadline(const struct telemetry *t)
{
        if (!t->link_up)
                return TELEMETRY_NO_DEADLINE;
        if (t->report_pending && !t->report_in_flight)
                return t->now_us;
        if (event_queue_has_waiting(&t->queue)) {
                /* Events wait for acknowledgements, and the state for them. */
                if (t->queue.in_flight >= t->cfg.event_window)
                        return TELEMETRY_NO_DEADLINE;
                return t->now_us;
        }
        if (!t->observed || t->state_in_flight || !telemetry_state_changed(t))
                return TELEMETRY_NO_DEADLINE;
        if (!t->sent_valid || !t->ever_published)
                return t->now_us;
        return t->last_state_us + t->cfg.state_min_interval_us;
}

unsigned telemetry_in_flight(const struct telemetry *t)
{
        return t->queue.in_flight + (t->state_in_flight ? 1 : 0) + (t->report_in_flight ? 1 : 0);
}

const struct telemetry_counters *telemetry_counters(const struct telemetry *t)
{
        return &t->counters;
}

const struct event_queue *telemetry_queue(const struct telemetry *t)
{
        return &t->queue;
}

bool telemetry_fault_active(const struct telemetry *t, enum telemetry_fault_kind kind)
{
        return kind < TELEMETRY_FAULT_COUNT && t->faults[kind].active;
}

void telemetry_energy_totals(const struct telemetry *t, uint64_t *delivered_mwh, uint64_t *returned_mwh)
{
        *delivered_mwh = t->total_delivered_mwh + (t->in_session ? t->energy.delivered_mwh : 0);
        *returned_mwh = t->total_returned_mwh + (t->in_session ? t->energy.returned_mwh : 0);
}

int telemetry_online_payload(const struct telemetry *t, bool online, const char *reason, uint64_t wall_us,
                             char *buf, size_t cap)
{
        struct jsonw j;
        size_t len;
        int r;

        jsonw_init(&j, buf, cap);
        jsonw_bool(&j, "online", online);
        /* The last will is written at connection time: it has no time. */
        if (wall_us != 0)
                jsonw_utc(&j, "time", wall_us);
        if (!online)
                jsonw_str(&j, "reason", reason);
        jsonw_u64(&j, "pistol", t->cfg.pistol);
        jsonw_str(&j, "run", t->cfg.run_id);
        jsonw_str(&j, "version", t->cfg.version);
        r = jsonw_finish(&j, &len);
        if (r < 0)
                return r;
        return (int)len;
}
