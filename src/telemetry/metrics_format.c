/* SPDX-License-Identifier: MIT */
/*
 * The metrics text (see metrics_format.h).  The names and their meaning
 * are listed in doc/mqtt.md, section "Metrics".
 */
#include <errno.h>
#include <string.h>

#include "metrics_format.h"
#include "textbuf.h"

struct metrics_writer {
        struct textbuf tb;
        char pistol[4];
};

static void metrics_family(struct metrics_writer *w, const char *name, const char *type, const char *help)
{
        textbuf_str(&w->tb, "# HELP ");
        textbuf_str(&w->tb, name);
        textbuf_char(&w->tb, ' ');
        textbuf_str(&w->tb, help);
        textbuf_str(&w->tb, "\n# TYPE ");
        textbuf_str(&w->tb, name);
        textbuf_char(&w->tb, ' ');
        textbuf_str(&w->tb, type);
        textbuf_char(&w->tb, '\n');
}

/* A label value: backslash, double quote and newline escaped. */
static void metrics_label_value(struct metrics_writer *w, const char *v)
{
        textbuf_char(&w->tb, '"');
        for (const char *c = v ? v : ""; *c; c++) {
                if (*c == '\\')
                        textbuf_str(&w->tb, "\\\\");
                else if (*c == '"')
                        textbuf_str(&w->tb, "\\\"");
                else if (*c == '\n')
                        textbuf_str(&w->tb, "\\n");
                else
                        textbuf_char(&w->tb, *c);
        }
        textbuf_char(&w->tb, '"');
}

/* name{pistol="N"[,label="value"]} -- then the value and a newline. */
static void metrics_sample_start(struct metrics_writer *w, const char *name, const char *label, const char *value)
{
        textbuf_str(&w->tb, name);
        textbuf_str(&w->tb, "{pistol=\"");
        textbuf_str(&w->tb, w->pistol);
        textbuf_char(&w->tb, '"');
        if (label) {
                textbuf_char(&w->tb, ',');
                textbuf_str(&w->tb, label);
                textbuf_char(&w->tb, '=');
                metrics_label_value(w, value);
        }
        textbuf_str(&w->tb, "} ");
}

static void metrics_u64(struct metrics_writer *w, const char *name, const char *label, const char *value,
                        uint64_t v)
{
        metrics_sample_start(w, name, label, value);
        textbuf_u64(&w->tb, v);
        textbuf_char(&w->tb, '\n');
}

static void metrics_fixed(struct metrics_writer *w, const char *name, int64_t v, unsigned decimals)
{
        metrics_sample_start(w, name, NULL, NULL);
        textbuf_fixed(&w->tb, v, decimals);
        textbuf_char(&w->tb, '\n');
}

static void metrics_counter(struct metrics_writer *w, const char *name, const char *help, uint64_t v)
{
        metrics_family(w, name, "counter", help);
        metrics_u64(w, name, NULL, NULL, v);
}

static void metrics_gauge_u64(struct metrics_writer *w, const char *name, const char *help, uint64_t v)
{
        metrics_family(w, name, "gauge", help);
        metrics_u64(w, name, NULL, NULL, v);
}

static void metrics_gauge_fixed(struct metrics_writer *w, const char *name, const char *help, int64_t v,
                                unsigned decimals)
{
        metrics_family(w, name, "gauge", help);
        metrics_fixed(w, name, v, decimals);
}

static void metrics_daemon(struct metrics_writer *w, const struct metrics_input *in)
{
        metrics_family(w, "seccbridge_info", "gauge",
                       "The daemon: version, CAN interface and converter backend in the labels (always 1).");
        textbuf_str(&w->tb, "seccbridge_info{pistol=\"");
        textbuf_str(&w->tb, w->pistol);
        textbuf_str(&w->tb, "\",version=");
        metrics_label_value(w, in->version);
        textbuf_str(&w->tb, ",can_interface=");
        metrics_label_value(w, in->can_interface);
        textbuf_str(&w->tb, ",converter_backend=");
        metrics_label_value(w, in->converter_backend);
        textbuf_str(&w->tb, "} 1\n");
        metrics_gauge_fixed(w, "seccbridge_start_time_seconds", "When the daemon started, seconds since the Unix epoch.",
                            (int64_t)(in->start_wall_us / 1000u), 3);
}

static void metrics_core_counters(struct metrics_writer *w, const struct session_counters *c)
{
        metrics_counter(w, "seccbridge_frames_received_total",
                        "Frames of this pistol from the controller, decoded.", c->frames_in);
        metrics_counter(w, "seccbridge_frames_sent_total", "Frames the protocol core handed to the CAN socket.",
                        c->frames_out);
        metrics_counter(w, "seccbridge_frames_malformed_total",
                        "Frames shorter than their message, counted and dropped.", c->malformed);
        metrics_counter(w, "seccbridge_frames_foreign_total",
                        "Frames not for this pistol or with an unknown identifier, ignored.", c->foreign);
        metrics_counter(w, "seccbridge_requests_rejected_total",
                        "Power requests refused (wrong state, fault, invalid values).", c->rejected_requests);
        metrics_counter(w, "seccbridge_controller_timeouts_total",
                        "Times the controller's heartbeat was lost (R1).", c->controller_timeouts);
        metrics_counter(w, "seccbridge_emergency_stops_total", "Emergency stops received (R45).",
                        c->emergency_stops);
        metrics_counter(w, "seccbridge_frames_other_version_total",
                        "Frames of this pistol in the other interface version's database, ignored.",
                        c->other_version);
        metrics_counter(w, "seccbridge_undefined_power_functions_total",
                        "DC_Power_Control frames with an undefined Power_Function, refused (interface version 3, V25).",
                        c->undefined_power_functions);
}

static void metrics_can_counters(struct metrics_writer *w, const struct metrics_can *c)
{
        metrics_gauge_u64(w, "seccbridge_can_up", "1 while the CAN socket is open on an interface that is up.",
                          c->up ? 1 : 0);
        metrics_counter(w, "seccbridge_can_received_frames_total", "Frames read from the CAN socket.", c->rx_frames);
        metrics_counter(w, "seccbridge_can_sent_frames_total", "Frames written to the CAN socket.", c->tx_frames);
        metrics_counter(w, "seccbridge_can_kernel_drops_total",
                        "Frames the kernel dropped before the daemon read them (SO_RXQ_OVFL).", c->rx_kernel_drops);
        metrics_counter(w, "seccbridge_can_error_frames_total", "CAN error frames received.", c->error_frames);
        metrics_family(w, "seccbridge_can_send_dropped_frames_total", "counter",
                       "Frames not sent: the transmit queue was full (oldest dropped) or the interface down.");
        metrics_u64(w, "seccbridge_can_send_dropped_frames_total", "reason", "queue_full", c->tx_dropped_overflow);
        metrics_u64(w, "seccbridge_can_send_dropped_frames_total", "reason", "interface_down", c->tx_dropped_down);
        metrics_counter(w, "seccbridge_can_send_errors_total", "Writes to the CAN socket that failed otherwise.",
                        c->tx_errors);
        metrics_counter(w, "seccbridge_can_reopens_total", "Times the CAN socket was opened again.", c->reopens);
}

static void metrics_session(struct metrics_writer *w, const struct session_status *st)
{
        static const enum power_mode modes[] = {
                POWER_OFF, POWER_STANDBY, POWER_INSULATION_TEST, POWER_PRECHARGE, POWER_CHARGE,
        };
        const struct power_measurement *m = &st->measurement;
        /* v3: the vehicle's data come in EV_Information_* after the
         * session opened (V5): no sample until they did. */
        bool v3 = st->interface_version == 3;
        bool voltage_known = st->in_session && (!v3 || st->ev_info.voltages_valid);
        bool current_known = st->in_session && (!v3 || st->ev_info.charge_limits_valid);
        bool battery_known = st->in_session && (!v3 || st->ev_info.battery_valid);
        uint8_t soc;

        metrics_gauge_u64(w, "seccbridge_interface_version",
                          "The CAN interface version spoken with the controller: 2 (database v2.7) or 3 (v3.6).",
                          st->interface_version);
        metrics_gauge_u64(w, "seccbridge_controller_alive", "1 while the controller's heartbeat comes (R1).",
                          st->controller_alive ? 1 : 0);
        metrics_family(w, "seccbridge_controller_state", "gauge",
                       "The controller's last state (Advantics_Controller_Status): 1 for the current one.");
        for (uint8_t s = CODEC_STATE_INITIALISING; s <= CODEC_STATE_CHARGE_PAUSE; s++)
                metrics_u64(w, "seccbridge_controller_state", "state", codec_controller_state_name(s),
                            st->controller_state == s ? 1 : 0);
        metrics_gauge_u64(w, "seccbridge_session_active", "1 while a charging session is open (R2).",
                          st->in_session ? 1 : 0);
        metrics_gauge_u64(w, "seccbridge_charge_started", "1 once the vehicle is ready for charging in this session.",
                          st->in_session && st->charge_started ? 1 : 0);
        metrics_gauge_u64(w, "seccbridge_system_enable", "System_Enable reported to the controller (1 Allowed).",
                          st->system_enable ? 1 : 0);
        metrics_family(w, "seccbridge_session_fault", "gauge",
                       "The fault latched by the protocol core (converter kept off): 1 for the current one.");
        /* Every fault of the enum: a new one has its sample at once. */
        for (int i = 0; i < SESSION_FAULT_COUNT; i++)
                metrics_u64(w, "seccbridge_session_fault", "fault", session_fault_name((enum session_fault)i),
                            st->fault == (enum session_fault)i ? 1 : 0);
        metrics_gauge_u64(w, "seccbridge_emergency_stop", "1 while an emergency stop is latched (R45, R46).",
                          st->emergency_stop_latched ? 1 : 0);

        metrics_family(w, "seccbridge_ev_max_voltage_volts", "gauge",
                       "The vehicle's maximum voltage (New_Charge_Session), during a session.");
        if (voltage_known)
                metrics_fixed(w, "seccbridge_ev_max_voltage_volts", st->ev.ev_maximum_voltage_dv, 1);
        metrics_family(w, "seccbridge_ev_max_current_amperes", "gauge",
                       "The vehicle's maximum current (New_Charge_Session), during a session.");
        if (current_known)
                metrics_fixed(w, "seccbridge_ev_max_current_amperes", st->ev.ev_maximum_current_da, 1);
        metrics_family(w, "seccbridge_ev_battery_capacity_joules", "gauge",
                       "The vehicle's battery capacity (New_Charge_Session), during a session.");
        if (battery_known)
                metrics_u64(w, "seccbridge_ev_battery_capacity_joules", NULL, NULL,
                            (uint64_t)st->ev.battery_capacity_kwh * 3600000u);
        metrics_family(w, "seccbridge_ev_state_of_charge_ratio", "gauge",
                       "The vehicle's state of charge (Charging_Loop, else New_Charge_Session), during a session.");
        /* v3 has no Charging_Loop of its own (the core's Charging_Loop
         * SoC is 0 there): EV_Information_Battery's, in st->ev. */
        soc = !v3 && st->charging_loop_soc_pct != SESSION_NOT_REPORTED ? st->charging_loop_soc_pct
                                                                       : st->ev.state_of_charge_pct;
        if (battery_known)
                metrics_fixed(w, "seccbridge_ev_state_of_charge_ratio", soc, 2);

        metrics_gauge_fixed(w, "seccbridge_request_voltage_volts", "The controller's last requested voltage.",
                            st->request_voltage_dv, 1);
        metrics_gauge_fixed(w, "seccbridge_request_current_amperes", "The controller's last requested current.",
                            st->request_current_da, 1);

        metrics_family(w, "seccbridge_command_mode", "gauge", "What the converter was told: 1 for the current mode.");
        for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
                metrics_u64(w, "seccbridge_command_mode", "mode", power_mode_name(modes[i]),
                            st->command.mode == modes[i] ? 1 : 0);
        metrics_gauge_fixed(w, "seccbridge_command_voltage_volts", "Voltage setpoint given to the converter.",
                            st->command.voltage_dv, 1);
        metrics_gauge_fixed(w, "seccbridge_command_current_amperes", "Current limit given to the converter.",
                            st->command.current_da, 1);
        metrics_gauge_u64(w, "seccbridge_command_discharge", "1 while the converter is told to discharge its output.",
                          st->command.discharge ? 1 : 0);

        metrics_gauge_fixed(w, "seccbridge_output_voltage_volts", "Measured output voltage.", m->voltage_dv, 1);
        metrics_gauge_fixed(w, "seccbridge_output_current_amperes",
                            "Measured output current (negative: towards the charger).", m->current_da, 1);
        metrics_gauge_fixed(w, "seccbridge_output_power_watts", "Measured output voltage x current.",
                            (int64_t)m->voltage_dv * m->current_da, 2);
        metrics_family(w, "seccbridge_module_temperature_celsius", "gauge",
                       "Hottest power module, when the converter measures it.");
        if (m->module_temp_c != POWER_TEMPERATURE_UNKNOWN)
                metrics_fixed(w, "seccbridge_module_temperature_celsius", m->module_temp_c, 0);
        metrics_family(w, "seccbridge_enclosure_temperature_celsius", "gauge",
                       "Enclosure temperature, when the converter measures it.");
        if (m->enclosure_temp_c != POWER_TEMPERATURE_UNKNOWN)
                metrics_fixed(w, "seccbridge_enclosure_temperature_celsius", m->enclosure_temp_c, 0);
        metrics_family(w, "seccbridge_insulation_resistance_ohms", "gauge",
                       "Measured insulation resistance, when an insulation measurement is available.");
        if (m->insulation_kohm != POWER_INSULATION_UNKNOWN)
                metrics_u64(w, "seccbridge_insulation_resistance_ohms", NULL, NULL,
                            (uint64_t)m->insulation_kohm * 1000u);
        metrics_gauge_u64(w, "seccbridge_converter_link_up", "1 while the backend talks to the converter.",
                          m->link_ok ? 1 : 0);
        metrics_gauge_u64(w, "seccbridge_converter_ready", "1 while the converter is awake and able to deliver.",
                          m->ready ? 1 : 0);
        metrics_gauge_u64(w, "seccbridge_converter_fault", "1 while the converter reports a fault.", m->fault ? 1 : 0);

        metrics_gauge_fixed(w, "seccbridge_max_voltage_volts", "Voltage limit in force (configuration and operator).",
                            st->limits.max_voltage_dv, 1);
        metrics_gauge_fixed(w, "seccbridge_max_current_amperes", "Current limit in force (configuration and operator).",
                            st->limits.max_current_da, 1);
        metrics_gauge_u64(w, "seccbridge_max_power_watts", "Power limit in force (configuration and operator).",
                          st->limits.max_power_w);
}

static void metrics_telemetry(struct metrics_writer *w, const struct telemetry *t)
{
        const struct telemetry_counters *c = telemetry_counters(t);
        uint64_t delivered, returned;

        telemetry_energy_totals(t, &delivered, &returned);
        metrics_counter(w, "seccbridge_sessions_started_total", "Charging sessions opened since the start.",
                        c->sessions_started);
        metrics_counter(w, "seccbridge_sessions_ended_total", "Charging sessions closed since the start.",
                        c->sessions_ended);
        /* mWh x 3.6 = J: one decimal keeps it exact. */
        metrics_family(w, "seccbridge_energy_delivered_joules_total", "counter",
                       "Energy to the vehicle in sessions, estimated from measured voltage x current (not for billing).");
        metrics_fixed(w, "seccbridge_energy_delivered_joules_total", (int64_t)(delivered * 36u), 1);
        metrics_family(w, "seccbridge_energy_returned_joules_total", "counter",
                       "Energy from the vehicle in sessions, estimated from measured voltage x current (not for billing).");
        metrics_fixed(w, "seccbridge_energy_returned_joules_total", (int64_t)(returned * 36u), 1);
        metrics_family(w, "seccbridge_faults_total", "counter",
                       "Fault episodes started, by kind (session: latched by the protocol core).");
        for (int k = 0; k < TELEMETRY_FAULT_COUNT; k++)
                metrics_u64(w, "seccbridge_faults_total", "kind", telemetry_fault_kind_name((enum telemetry_fault_kind)k),
                            c->faults[k]);
        /* The operator interface's ConverterErrors: each loss of the link
         * (once it was up) and each new converter fault. */
        metrics_counter(w, "seccbridge_converter_errors_total",
                        "Losses of the converter link and converter faults (D-Bus ConverterErrors).",
                        c->faults[TELEMETRY_FAULT_CONVERTER_LINK] + c->faults[TELEMETRY_FAULT_CONVERTER]);
        metrics_family(w, "seccbridge_fault_active", "gauge", "1 while a fault of that kind lasts.");
        for (int k = 0; k < TELEMETRY_FAULT_COUNT; k++)
                metrics_u64(w, "seccbridge_fault_active", "kind", telemetry_fault_kind_name((enum telemetry_fault_kind)k),
                            telemetry_fault_active(t, (enum telemetry_fault_kind)k) ? 1 : 0);
        metrics_family(w, "seccbridge_config_reloads_total", "counter", "Configuration reloads (SIGHUP), by outcome.");
        metrics_u64(w, "seccbridge_config_reloads_total", "result", "applied", c->reloads - c->reloads_refused);
        metrics_u64(w, "seccbridge_config_reloads_total", "result", "refused", c->reloads_refused);
}

static void metrics_mqtt(struct metrics_writer *w, const struct metrics_mqtt *m, const struct telemetry *t)
{
        const struct telemetry_counters *c = telemetry_counters(t);
        const struct event_queue *q = telemetry_queue(t);

        metrics_gauge_u64(w, "seccbridge_mqtt_enabled", "1 when publishing to an MQTT broker is configured.",
                          m->enabled ? 1 : 0);
        metrics_gauge_u64(w, "seccbridge_mqtt_connected", "1 while the broker has accepted the connection.",
                          m->connected ? 1 : 0);
        metrics_counter(w, "seccbridge_mqtt_connections_total", "Connections the broker accepted.", m->connections);
        metrics_counter(w, "seccbridge_mqtt_connection_failures_total",
                        "Connection attempts that failed or were refused.", m->connection_failures);
        metrics_counter(w, "seccbridge_mqtt_disconnections_total", "Accepted connections that were lost.",
                        m->disconnections);
        metrics_family(w, "seccbridge_mqtt_published_messages_total", "counter",
                       "Messages handed to the broker, by topic (events sent again after a reconnection included).");
        metrics_u64(w, "seccbridge_mqtt_published_messages_total", "topic", "state", c->states_published);
        metrics_u64(w, "seccbridge_mqtt_published_messages_total", "topic", "event", c->events_published);
        metrics_u64(w, "seccbridge_mqtt_published_messages_total", "topic", "online", m->online_published);
        metrics_counter(w, "seccbridge_mqtt_events_acknowledged_total", "Events the broker acknowledged (QoS 1).",
                        q->delivered);
        metrics_counter(w, "seccbridge_mqtt_events_dropped_total", "Events dropped because the queue was full.",
                        q->dropped);
        metrics_gauge_u64(w, "seccbridge_mqtt_event_queue_length", "Events waiting for the broker or in flight.",
                          q->count);
        metrics_gauge_u64(w, "seccbridge_mqtt_event_queue_capacity", "Events the queue can hold ([mqtt] event_queue_size).",
                          q->capacity);
}

int metrics_format(const struct metrics_input *in, char *buf, size_t cap, size_t *len)
{
        struct metrics_writer w;
        struct textbuf p;

        textbuf_init(&w.tb, buf, cap);
        textbuf_init(&p, w.pistol, sizeof(w.pistol));
        textbuf_u64(&p, in->pistol);

        metrics_daemon(&w, in);
        metrics_core_counters(&w, &in->status.counters);
        metrics_can_counters(&w, &in->can);
        metrics_session(&w, &in->status);
        metrics_telemetry(&w, in->telemetry);
        metrics_mqtt(&w, &in->mqtt, in->telemetry);
        if (textbuf_finish(&w.tb) < 0)
                return -ENOSPC;
        *len = w.tb.len;
        return 0;
}
