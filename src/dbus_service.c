/* SPDX-License-Identifier: MIT */
/*
 * The D-Bus operator interface (see dbus_service.h): one static vtable, values read
 * from a snapshot, operator inputs handed to the core, and a connection that
 * is made and re-made without ever blocking the loop.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-bus.h>

#include "build-config.h"
#include "dbus_service.h"
#include "monotonic.h"

#define LOG_MODULE "bus"

#define DBUS_SERVICE_BACKOFF_MIN_S 0.25
#define DBUS_SERVICE_BACKOFF_MAX_S 10.0
/* Messages waiting for the bus beyond which no signal is added. */
#define DBUS_SERVICE_MAX_QUEUED_SIGNALS 16

/* The largest values the interface can carry: Power_Modules_Limits and
 * Charging_Loop are 16-bit in 0.1 V / 0.1 A (signed current), and the
 * power limit is bounded like [limits] max_power. */
#define DBUS_SERVICE_LIMIT_MAX_VOLTAGE 6553.5
#define DBUS_SERVICE_LIMIT_MAX_CURRENT 3276.7
#define DBUS_SERVICE_LIMIT_MAX_POWER 10000000.0

static const char *dbus_service_flag_source_name(enum session_flag_source src)
{
        switch (src) {
        case SESSION_FLAG_AUTO:
                return "auto";
        case SESSION_FLAG_EXTERNAL:
                return "external";
        }
        return "unknown";
}

/* The value-table label of a signal ("CCS_ISO_15118_2013_v2"), or the
 * number when the table has none for it. */
static void dbus_service_label(char *buf, size_t len, const struct codec_db *db, enum codec_msg_type type,
                      const char *signal, int64_t raw)
{
        const struct codec_signal_info *sig = codec_signal_by_name(codec_msg_info(db, type), signal);
        const char *label = sig ? codec_signal_label(sig, raw) : NULL;

        if (label)
                snprintf(buf, len, "%s", label);
        else
                snprintf(buf, len, "%lld", (long long)raw);
}

/* ---- the snapshot ---- */

/* v3: the EV information and the last DC_Power_Control of the session; all
 * 0 and "" outside one, and in v2. */
static void dbus_service_refresh_v3(struct dbus_service_values *v, const struct session_status *st)
{
        const struct session_ev_info *e = &st->ev_info;
        const struct codec_dc_power_control *pc = &st->power_control;

        v->interface_version = st->interface_version;
        v->ev_min_voltage = e->voltages_valid ? e->voltages.ev_minimum_voltage_dv / 10.0 : 0;
        v->ev_present_voltage = e->voltages_valid ? e->voltages.ev_present_voltage_dv / 10.0 : 0;
        v->ev_min_charge_current = e->charge_limits_valid ? e->charge_limits.ev_minimum_charge_current_da / 10.0 : 0;
        v->ev_min_charge_power = e->charge_limits_valid ? e->charge_limits.ev_minimum_charge_power_kw * 1000.0 : 0;
        v->ev_max_charge_power = e->charge_limits_valid ? e->charge_limits.ev_maximum_charge_power_kw * 1000.0 : 0;
        v->ev_min_discharge_current =
                e->discharge_limits_valid ? e->discharge_limits.ev_minimum_discharge_current_da / 10.0 : 0;
        v->ev_max_discharge_current =
                e->discharge_limits_valid ? e->discharge_limits.ev_maximum_discharge_current_da / 10.0 : 0;
        v->ev_min_discharge_power =
                e->discharge_limits_valid ? e->discharge_limits.ev_minimum_discharge_power_kw * 1000.0 : 0;
        v->ev_max_discharge_power =
                e->discharge_limits_valid ? e->discharge_limits.ev_maximum_discharge_power_kw * 1000.0 : 0;
        v->min_state_of_charge = e->battery_valid ? e->battery.minimum_state_of_charge_pct : 0;
        v->target_state_of_charge = e->battery_valid ? e->battery.target_state_of_charge_pct : 0;
        v->max_state_of_charge = e->battery_valid ? e->battery.maximum_state_of_charge_pct : 0;
        v->ev_min_energy_request = e->energy_valid ? e->energy.ev_minimum_energy_request_kwh : 0;
        v->ev_target_energy_request = e->energy_valid ? e->energy.ev_target_energy_request_kwh : 0;
        v->ev_max_energy_request = e->energy_valid ? e->energy.ev_maximum_energy_request_kwh : 0;
        v->dynamic_target = e->dynamic_target_valid;
        v->dynamic_target_current = e->dynamic_target_valid ? e->dynamic_target_current_da / 10.0 : 0;
        v->range_target_set = st->range_target_valid;
        v->range_target = st->range_target_valid ? st->range_target_da / 10.0 : 0;
        v->direction_change_pending = st->direction_change_pending;

        if (!st->power_control_valid) {
                v->power_function[0] = '\0';
                v->setpoints_mode[0] = '\0';
                v->output_contactors[0] = '\0';
                v->lower_output_voltage = false;
                return;
        }
        /* Labels of the v3.6 table; an undefined function as its number. */
        dbus_service_label(v->power_function, sizeof(v->power_function), &codec_db_v3_6, CODEC_DC_POWER_CONTROL,
                  "Power_Function", pc->power_function);
        dbus_service_label(v->setpoints_mode, sizeof(v->setpoints_mode), &codec_db_v3_6, CODEC_DC_POWER_CONTROL,
                  "Setpoints_Mode", pc->setpoints_mode);
        dbus_service_label(v->output_contactors, sizeof(v->output_contactors), &codec_db_v3_6, CODEC_DC_POWER_CONTROL,
                  "Output_Contactors", pc->output_contactors);
        v->lower_output_voltage = pc->lower_output_voltage;
}

void dbus_service_format_evccid(char *buf, size_t len, const struct session_status *st)
{
        const uint8_t *e = st->ev_id;

        if (!st->ev_id_valid) {
                snprintf(buf, len, "%s", "");
                return;
        }
        snprintf(buf, len, "%02X:%02X:%02X:%02X:%02X:%02X", e[0], e[1], e[2], e[3], e[4], e[5]);
}

static int16_t dbus_service_temperature(bool valid, int16_t c)
{
        return valid ? c : INT16_MIN;
}

/* The controller's I/O: what its board and lines said (nothing until the
 * message came, and again after a silence), and the outputs driven. */
static void dbus_service_refresh_io(struct dbus_service_values *v, const struct session_status *st)
{
        const struct controller_io_inputs *in = &st->io_inputs;

        v->cui1_inputs = in->cui1_valid;
        for (unsigned i = 0; i < 6; i++)
                v->cui1_switch[i] = in->cui1_valid && in->cui1.switch_input[i];
        v->cui1_colibri_temperature = dbus_service_temperature(in->cui1_valid, in->cui1.colibri_temperature_c);
        v->cui1_cpu_temperature = dbus_service_temperature(in->cui1_valid, in->cui1.cpu_temperature_c);
        v->cui1_pistol_ptc1 = dbus_service_temperature(in->cui1_valid, in->cui1.pistol_ptc1_c);
        v->cui1_pistol_ptc2 = dbus_service_temperature(in->cui1_valid, in->cui1.pistol_ptc2_c);
        v->secc_inputs = in->secc_valid;
        for (unsigned i = 0; i < 4; i++)
                v->secc_input[i] = in->secc_valid && in->secc.digital_input[i];
        v->secc_cpu_temperature = dbus_service_temperature(in->secc_valid, in->secc.cpu_temperature_c);
        v->secc_pistol_ptc1 = dbus_service_temperature(in->secc_valid, in->secc.pistol_ptc1_c);
        v->secc_pistol_ptc2 = dbus_service_temperature(in->secc_valid, in->secc.pistol_ptc2_c);
        v->spcc_inputs = in->spcc_valid;
        for (unsigned i = 0; i < 4; i++)
                v->spcc_input[i] = in->spcc_valid && in->spcc.digital_input[i];
        v->spcc_cpu_temperature0 = dbus_service_temperature(in->spcc_valid, in->spcc.cpu_temperature0_c);
        v->spcc_cpu_temperature1 = dbus_service_temperature(in->spcc_valid, in->spcc.cpu_temperature1_c);
        v->spcc_pt1k_a = dbus_service_temperature(in->spcc_valid, in->spcc.pt1k_a_c);
        v->spcc_pt1k_b = dbus_service_temperature(in->spcc_valid, in->spcc.pt1k_b_c);
        v->spcc_pt1ks_c = dbus_service_temperature(in->spcc_valid, in->spcc.pt1ks_c_c);
        v->spcc_pt1ks_d = dbus_service_temperature(in->spcc_valid, in->spcc.pt1ks_d_c);
        /* The same value tables in both databases. */
        if (in->ccs_valid)
                dbus_service_label(v->cp_state, sizeof(v->cp_state), &codec_db_v2_7, CODEC_CCS_EXTRA_INFORMATION,
                                   "CP_State", in->ccs.cp_state);
        else
                v->cp_state[0] = '\0';
        v->cp_duty_cycle = in->ccs_valid ? in->ccs.cp_duty_cycle_permille / 10.0 : 0;
        if (in->mcs_valid) {
                dbus_service_label(v->mcs_ce_state, sizeof(v->mcs_ce_state), &codec_db_v2_7,
                                   CODEC_MCS_EXTRA_INFORMATION, "CE_State", in->mcs.ce_state);
                dbus_service_label(v->mcs_id_state, sizeof(v->mcs_id_state), &codec_db_v2_7,
                                   CODEC_MCS_EXTRA_INFORMATION, "ID_State", in->mcs.id_state);
        } else {
                v->mcs_ce_state[0] = '\0';
                v->mcs_id_state[0] = '\0';
        }
        snprintf(v->outputs_board, sizeof(v->outputs_board), "%s", controller_io_board_name(st->io_board));
        for (unsigned i = 0; i < 4; i++)
                v->output[i] = st->io_outputs.digital[i];
        memcpy(v->led, st->io_outputs.led, sizeof(v->led));
}

static void dbus_service_refresh(struct dbus_service *b)
{
        struct dbus_service_values *v = &b->now;
        struct dbus_service_shell_status sh;
        struct session_status st;
        const struct power_measurement *m = &st.measurement;

        memset(&sh, 0, sizeof(sh));
        b->cb.shell_status(&sh, b->cb.userdata);
        session_get_status(b->session, &st);

        snprintf(v->can_interface, sizeof(v->can_interface), "%s", sh.can_interface ? sh.can_interface : "");
        v->can_up = sh.can_up;

        v->controller_alive = st.controller_alive;
        snprintf(v->controller_state, sizeof(v->controller_state), "%s",
                 codec_controller_state_name(st.controller_state));
        v->session_active = st.in_session;
        v->charge_started = st.charge_started;
        /* The vehicle of the session in progress; nothing outside one (a
         * zero protocol number is a real protocol, not "none"). */
        if (st.in_session) {
                /* The same value tables in both databases. */
                dbus_service_label(v->protocol, sizeof(v->protocol), &codec_db_v2_7, CODEC_NEW_CHARGE_SESSION,
                          "Communication_Protocol", st.ev.communication_protocol);
                dbus_service_label(v->plug, sizeof(v->plug), &codec_db_v2_7, CODEC_NEW_CHARGE_SESSION, "Plug_and_pins",
                          st.ev.plug_and_pins);
        } else {
                v->protocol[0] = '\0';
                v->plug[0] = '\0';
        }
        v->ev_max_voltage = st.in_session ? st.ev.ev_maximum_voltage_dv / 10.0 : 0;
        v->ev_max_current = st.in_session ? st.ev.ev_maximum_current_da / 10.0 : 0;
        v->battery_capacity = st.in_session ? st.ev.battery_capacity_kwh : 0;
        v->state_of_charge = st.in_session ? st.ev.state_of_charge_pct : 0;
        dbus_service_format_evccid(v->evccid, sizeof(v->evccid), &st);
        v->supervisor = st.supervisor;
        dbus_service_refresh_v3(v, &st);
        dbus_service_refresh_io(v, &st);

        snprintf(v->request, sizeof(v->request), "%s", session_request_name(st.request));
        v->request_voltage = st.request_voltage_dv / 10.0;
        v->request_current = st.request_current_da / 10.0;

        snprintf(v->command_mode, sizeof(v->command_mode), "%s", power_mode_name(st.command.mode));
        v->command_voltage = st.command.voltage_dv / 10.0;
        v->command_current = st.command.current_da / 10.0;
        v->command_discharge = st.command.discharge;

        v->voltage = m->voltage_dv / 10.0;
        v->current = m->current_da / 10.0;
        v->module_temperature = m->module_temp_c;
        v->enclosure_temperature = m->enclosure_temp_c;
        v->insulation_resistance = m->insulation_kohm;

        v->system_enable = st.system_enable;
        snprintf(v->fault, sizeof(v->fault), "%s", session_fault_name(st.fault));
        v->emergency_stop = st.emergency_stop_latched;
        v->emergency_stop_active = st.emergency_stop_active;
        if (st.emergency_stop_latched)
                dbus_service_label(v->emergency_stop_origin, sizeof(v->emergency_stop_origin), &codec_db_v2_7,
                          CODEC_EMERGENCY_STOP, "Origin", st.emergency_stop_origin);
        else
                v->emergency_stop_origin[0] = '\0';

        snprintf(v->converter_backend, sizeof(v->converter_backend), "%s",
                 sh.converter_backend ? sh.converter_backend : "");
        v->converter_link = m->link_ok;
        v->converter_ready = m->ready;
        v->converter_fault = m->fault;
        if (sh.converter_error[0])
                snprintf(v->converter_error, sizeof(v->converter_error), "%s", sh.converter_error);
        else if (st.supervisor)
                v->converter_error[0] = '\0';  /* no converter, nothing to lose */
        else if (!m->link_ok)
                snprintf(v->converter_error, sizeof(v->converter_error), "link lost");
        else if (m->fault)
                snprintf(v->converter_error, sizeof(v->converter_error), "the converter reports a fault");
        else
                v->converter_error[0] = '\0';

        v->sequence_flags = sh.use_sequence_flags;
        v->start_authorisation = st.flags.start_charge_authorisation;
        v->ccs_authorisation_done = st.flags.ccs_authorisation_done;
        v->ccs_authorisation_valid = st.flags.ccs_authorisation_valid;
        v->charge_parameters_done = st.flags.charge_parameters_done;
        v->user_stop_button = st.flags.user_stop_button;
        v->chademo_start_button = st.flags.chademo_start_button;
        snprintf(v->start_authorisation_source, sizeof(v->start_authorisation_source), "%s",
                 dbus_service_flag_source_name(sh.start_authorisation));
        snprintf(v->ccs_authorisation_source, sizeof(v->ccs_authorisation_source), "%s",
                 dbus_service_flag_source_name(sh.ccs_authorisation));
        snprintf(v->charge_parameters_source, sizeof(v->charge_parameters_source), "%s",
                 dbus_service_flag_source_name(sh.charge_parameters));

        v->max_voltage = st.limits.max_voltage_dv / 10.0;
        v->max_current = st.limits.max_current_da / 10.0;
        v->max_power = st.limits.max_power_w;
        v->precharge_max_current = st.limits.precharge_max_current_da / 10.0;
        v->insulation_max_current = st.limits.insulation_max_current_da / 10.0;
        v->config_max_voltage = sh.config_limits.max_voltage_dv / 10.0;
        v->config_max_current = sh.config_limits.max_current_da / 10.0;
        v->config_max_power = sh.config_limits.max_power_w;
        v->dynamic_max_voltage = b->dynamic.max_voltage_dv / 10.0;
        v->dynamic_max_current = b->dynamic.max_current_da / 10.0;
        v->dynamic_max_power = b->dynamic.max_power_w;
        v->max_discharge_current = st.limits.max_discharge_current_da / 10.0;
        v->max_discharge_power = st.limits.max_discharge_power_w;
        v->bidirectional = sh.bidirectional;
        snprintf(v->range_policy, sizeof(v->range_policy), "%s", session_range_policy_name(sh.range_policy));

        /* Every loss of the link and every new fault counts once. */
        if (b->have_previous) {
                if (b->previous_link_ok && !m->link_ok)
                        v->converter_errors++;
                if (!b->previous_fault && m->fault)
                        v->converter_errors++;
        }
        b->have_previous = true;
        b->previous_link_ok = m->link_ok;
        b->previous_fault = m->fault;

        v->frames_in = st.counters.frames_in;
        v->frames_out = st.counters.frames_out;
        v->frames_malformed = st.counters.malformed;
        v->frames_foreign = st.counters.foreign;
        v->rejected_requests = st.counters.rejected_requests;
        v->controller_timeouts = st.counters.controller_timeouts;
        v->emergency_stops = st.counters.emergency_stops;
        v->frames_other_version = st.counters.other_version;
        v->undefined_power_functions = st.counters.undefined_power_functions;
        v->frames_malformed_io = st.counters.malformed_io;
        v->discharges_refused = st.counters.discharges_refused;
        v->mode_changes_refused = st.counters.mode_changes_refused;
        v->direction_changes = st.counters.direction_changes;
        v->can_rx_frames = sh.can.rx_frames;
        v->can_tx_frames = sh.can.tx_frames;
        v->can_tx_dropped = sh.can.tx_dropped_overflow + sh.can.tx_dropped_down;
        v->can_tx_errors = sh.can.tx_errors;
        v->can_rx_kernel_drops = sh.can.rx_kernel_drops;
        v->can_error_frames = sh.can.error_frames;
        v->can_reopens = sh.can.reopens;
}

/* ---- property getters: userdata points at the value (vtable offset) ---- */

static int dbus_service_get_bool(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        return sd_bus_message_append(reply, "b", (int)*(const bool *)userdata);
}

static int dbus_service_get_double(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        return sd_bus_message_append(reply, "d", *(const double *)userdata);
}

static int dbus_service_get_string(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        return sd_bus_message_append(reply, "s", (const char *)userdata);
}

static int dbus_service_get_byte(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        return sd_bus_message_append(reply, "y", *(const uint8_t *)userdata);
}

static int dbus_service_get_int16(sd_bus *bus, const char *path, const char *interface, const char *property,
                         sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        return sd_bus_message_append(reply, "n", *(const int16_t *)userdata);
}

static int dbus_service_get_uint16(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        return sd_bus_message_append(reply, "q", *(const uint16_t *)userdata);
}

static int dbus_service_get_uint64(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        return sd_bus_message_append(reply, "t", *(const uint64_t *)userdata);
}

/* ---- operator inputs ---- */

enum dbus_service_input {
        DBUS_SERVICE_INPUT_START_AUTHORISATION,
        DBUS_SERVICE_INPUT_CCS_AUTHORISATION,
        DBUS_SERVICE_INPUT_CHARGE_PARAMETERS_DONE,
        DBUS_SERVICE_INPUT_USER_STOP,
        DBUS_SERVICE_INPUT_CHADEMO_START,
};

/* The config key of a level flag, or the button's Sequence_Control name. */
static const char *dbus_service_input_name(enum dbus_service_input in)
{
        switch (in) {
        case DBUS_SERVICE_INPUT_START_AUTHORISATION:
                return "start_authorisation";
        case DBUS_SERVICE_INPUT_CCS_AUTHORISATION:
                return "ccs_authorisation";
        case DBUS_SERVICE_INPUT_CHARGE_PARAMETERS_DONE:
                return "charge_parameters";
        case DBUS_SERVICE_INPUT_USER_STOP:
                return "User_Stop_Button";
        case DBUS_SERVICE_INPUT_CHADEMO_START:
                return "CHAdeMO_Start_Button";
        }
        return "unknown";
}

static void dbus_service_input_describe(enum dbus_service_input in, bool value, char *buf, size_t len)
{
        switch (in) {
        case DBUS_SERVICE_INPUT_START_AUTHORISATION:
                snprintf(buf, len, "start authorisation %s", value ? "given" : "withdrawn");
                break;
        case DBUS_SERVICE_INPUT_CCS_AUTHORISATION:
                snprintf(buf, len, "CCS authorisation done, %s", value ? "valid" : "refused");
                break;
        case DBUS_SERVICE_INPUT_CHARGE_PARAMETERS_DONE:
                snprintf(buf, len, "charge parameters %s", value ? "done" : "not done");
                break;
        case DBUS_SERVICE_INPUT_USER_STOP:
                snprintf(buf, len, "user stop button pressed");
                break;
        case DBUS_SERVICE_INPUT_CHADEMO_START:
                snprintf(buf, len, "CHAdeMO start button pressed");
                break;
        }
}

static int dbus_service_refuse(sd_bus_message *m, sd_bus_error *error, const char *name, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* A refusal is the caller's business: it gets the reason, the log only a
 * debug line (a script retrying must not flood the journal). */
static int dbus_service_refuse(sd_bus_message *m, sd_bus_error *error, const char *name, const char *fmt, ...)
{
        char text[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        log_debug("refused %s from %s: %s", sd_bus_message_get_member(m),
                  sd_bus_message_get_sender(m) ? sd_bus_message_get_sender(m) : "?", text);
        return sd_bus_error_set(error, name, text);
}

static bool dbus_service_stopping(struct dbus_service *b)
{
        struct dbus_service_shell_status sh;

        memset(&sh, 0, sizeof(sh));
        b->cb.shell_status(&sh, b->cb.userdata);
        return sh.stopping;
}

static int dbus_service_apply(struct dbus_service *b, sd_bus_message *m, enum dbus_service_input in, bool value, sd_bus_error *error)
{
        const char *what = dbus_service_input_name(in);
        char text[96];
        uint64_t now;
        int r = -EINVAL;

        if (dbus_service_stopping(b))
                return dbus_service_refuse(m, error, DBUS_SERVICE_ERROR_SHUTTING_DOWN, "seccbridge is stopping");

        now = b->cb.enter(b->cb.userdata);
        switch (in) {
        case DBUS_SERVICE_INPUT_START_AUTHORISATION:
                r = session_set_start_authorisation(b->session, value, now);
                break;
        case DBUS_SERVICE_INPUT_CCS_AUTHORISATION:
                r = session_set_ccs_authorisation(b->session, value, now);
                break;
        case DBUS_SERVICE_INPUT_CHARGE_PARAMETERS_DONE:
                r = session_set_charge_parameters_done(b->session, value, now);
                break;
        case DBUS_SERVICE_INPUT_USER_STOP:
                r = session_press_user_stop(b->session, now);
                break;
        case DBUS_SERVICE_INPUT_CHADEMO_START:
                r = session_press_chademo_start(b->session, now);
                break;
        }
        b->cb.after(b->cb.userdata);

        switch (r) {
        case 0:
                break;
        case -EPERM:
                return dbus_service_refuse(m, error, DBUS_SERVICE_ERROR_NOT_EXTERNAL,
                                  "%s is configured auto: seccbridge sets it by itself "
                                  "(set [sequence] %s = external to control it)", what, what);
        case -EBUSY:
                return dbus_service_refuse(m, error, DBUS_SERVICE_ERROR_BUSY,
                                  "%s is still held from the previous press ([sequence] button_hold_ms)", what);
        case -EAGAIN:
                return dbus_service_refuse(m, error, DBUS_SERVICE_ERROR_NOT_READY,
                                  "the controller has not left Initialising: %s cannot be signalled yet", what);
        case -ENOTSUP:
                return dbus_service_refuse(m, error, DBUS_SERVICE_ERROR_NO_SEQUENCE_FLAGS,
                                  "[sequence] use_sequence_flags is false: no Sequence_Control is sent");
        default:
                return sd_bus_error_set_errno(error, r);
        }

        dbus_service_input_describe(in, value, text, sizeof(text));
        log_info("operator (%s): %s", sd_bus_message_get_sender(m) ? sd_bus_message_get_sender(m) : "?", text);
        dbus_service_refresh(b);
        return sd_bus_reply_method_return(m, NULL);
}

static int dbus_service_method_set_start_authorisation(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        int allowed;
        int r;

        r = sd_bus_message_read(m, "b", &allowed);
        if (r < 0)
                return r;
        return dbus_service_apply(userdata, m, DBUS_SERVICE_INPUT_START_AUTHORISATION, allowed, error);
}

static int dbus_service_method_set_ccs_authorisation(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        int valid;
        int r;

        r = sd_bus_message_read(m, "b", &valid);
        if (r < 0)
                return r;
        return dbus_service_apply(userdata, m, DBUS_SERVICE_INPUT_CCS_AUTHORISATION, valid, error);
}

static int dbus_service_method_set_charge_parameters_done(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        int done;
        int r;

        r = sd_bus_message_read(m, "b", &done);
        if (r < 0)
                return r;
        return dbus_service_apply(userdata, m, DBUS_SERVICE_INPUT_CHARGE_PARAMETERS_DONE, done, error);
}

static int dbus_service_method_press_user_stop(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        return dbus_service_apply(userdata, m, DBUS_SERVICE_INPUT_USER_STOP, true, error);
}

static int dbus_service_method_press_chademo_start(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        return dbus_service_apply(userdata, m, DBUS_SERVICE_INPUT_CHADEMO_START, true, error);
}

/* SetOutput(name, value): a digital output 0 or 1, a LED's brightness. */
static int dbus_service_method_set_output(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        struct dbus_service *b = userdata;
        enum controller_io_output output;
        struct session_status st;
        const char *name;
        uint8_t value;
        uint64_t now;
        int r;

        r = sd_bus_message_read(m, "sy", &name, &value);
        if (r < 0)
                return r;
        if (controller_io_output_by_name(name, &output) < 0)
                return dbus_service_refuse(m, error, DBUS_SERVICE_ERROR_INVALID_OUTPUT,
                                           "'%s' is not an output (output1 to output4, led1 to led3)", name);
        if (dbus_service_stopping(b))
                return dbus_service_refuse(m, error, DBUS_SERVICE_ERROR_SHUTTING_DOWN, "seccbridge is stopping");

        now = b->cb.enter(b->cb.userdata);
        r = session_set_output(b->session, output, value, now);
        b->cb.after(b->cb.userdata);
        session_get_status(b->session, &st);
        switch (r) {
        case 0:
                break;
        case -ENODEV:
                return dbus_service_refuse(m, error, DBUS_SERVICE_ERROR_NO_OUTPUTS,
                                           "no board's outputs are driven (set [controller_io] board)");
        case -ENOENT:
                return dbus_service_refuse(m, error, DBUS_SERVICE_ERROR_INVALID_OUTPUT, "board %s has no %s",
                                           controller_io_board_name(st.io_board), name);
        case -ERANGE:
                return dbus_service_refuse(m, error, DBUS_SERVICE_ERROR_INVALID_OUTPUT,
                                           "%s is a digital output: 0 (off) or 1 (on), not %u", name, value);
        case -ESHUTDOWN:
                return dbus_service_refuse(m, error, DBUS_SERVICE_ERROR_SHUTTING_DOWN, "seccbridge is stopping");
        default:
                return sd_bus_error_set_errno(error, r);
        }
        log_info("operator (%s): %s %s %u", sd_bus_message_get_sender(m) ? sd_bus_message_get_sender(m) : "?",
                 controller_io_board_name(st.io_board), controller_io_output_name(output), value);
        dbus_service_refresh(b);
        return sd_bus_reply_method_return(m, NULL);
}

/* One limit in physical units into fixed point: 0 or -ERANGE.  0 means
 * "no dynamic limit"; a value that rounds to 0 is refused rather than
 * silently lifting the limit. */
static int dbus_service_limit_fixed(double value, double max, double scale, uint32_t *out)
{
        double fixed;

        if (!isfinite(value) || value < 0 || value > max)
                return -ERANGE;
        fixed = round(value * scale);
        if (value > 0 && fixed < 1)
                return -ERANGE;
        *out = (uint32_t)fixed;
        return 0;
}

static int dbus_service_method_set_dynamic_limits(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        struct dbus_service *b = userdata;
        struct power_limits l = { 0 };
        struct session_status st;
        double voltage, current, power;
        uint32_t dv, da, w;
        uint64_t now;
        int r;

        r = sd_bus_message_read(m, "ddd", &voltage, &current, &power);
        if (r < 0)
                return r;
        if (dbus_service_limit_fixed(voltage, DBUS_SERVICE_LIMIT_MAX_VOLTAGE, 10, &dv) < 0)
                return dbus_service_refuse(m, error, DBUS_SERVICE_ERROR_INVALID_LIMITS,
                                  "maximum voltage %g V: 0 (no limit) or 0.1 to %.1f V", voltage,
                                  DBUS_SERVICE_LIMIT_MAX_VOLTAGE);
        if (dbus_service_limit_fixed(current, DBUS_SERVICE_LIMIT_MAX_CURRENT, 10, &da) < 0)
                return dbus_service_refuse(m, error, DBUS_SERVICE_ERROR_INVALID_LIMITS,
                                  "maximum current %g A: 0 (no limit) or 0.1 to %.1f A", current,
                                  DBUS_SERVICE_LIMIT_MAX_CURRENT);
        if (dbus_service_limit_fixed(power, DBUS_SERVICE_LIMIT_MAX_POWER, 1, &w) < 0)
                return dbus_service_refuse(m, error, DBUS_SERVICE_ERROR_INVALID_LIMITS,
                                  "maximum power %g W: 0 (no limit) or 1 to %.0f W", power, DBUS_SERVICE_LIMIT_MAX_POWER);
        if (dbus_service_stopping(b))
                return dbus_service_refuse(m, error, DBUS_SERVICE_ERROR_SHUTTING_DOWN, "seccbridge is stopping");

        l.max_voltage_dv = (uint16_t)dv;
        l.max_current_da = (uint16_t)da;
        l.max_power_w = w;
        now = b->cb.enter(b->cb.userdata);
        r = session_set_dynamic_limits(b->session, &l, now);
        b->cb.after(b->cb.userdata);
        if (r < 0)
                return dbus_service_refuse(m, error, DBUS_SERVICE_ERROR_INVALID_LIMITS, "refused by the protocol core: %s",
                                  strerror(-r));
        b->dynamic = l;

        /* The core clamps them to the configured limits: report what is in
         * force, which may be less than asked. */
        session_get_status(b->session, &st);
        log_info("operator (%s): dynamic limits %.1f V / %.1f A / %u W (0 = none); in force %.1f V / %.1f A / %u W",
                 sd_bus_message_get_sender(m) ? sd_bus_message_get_sender(m) : "?", dv / 10.0, da / 10.0,
                 (unsigned)w, st.limits.max_voltage_dv / 10.0, st.limits.max_current_da / 10.0,
                 (unsigned)st.limits.max_power_w);
        dbus_service_refresh(b);
        return sd_bus_reply_method_return(m, "ddd", st.limits.max_voltage_dv / 10.0,
                                          st.limits.max_current_da / 10.0, (double)st.limits.max_power_w);
}

/* V16: the operator's point of a Range_Mode transfer ([v3] range_policy =
 * operator); set false clears it.  Replies with the target now held. */
static int dbus_service_method_set_range_target(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        struct dbus_service *b = userdata;
        struct session_status st;
        double amps;
        int set;
        uint64_t now;
        int r;

        r = sd_bus_message_read(m, "bd", &set, &amps);
        if (r < 0)
                return r;
        /* B2: signed, > 0 into the EV, < 0 out of it; 16 bits of 0.1 A as
         * on the bus. */
        if (set && (!isfinite(amps) || amps < -DBUS_SERVICE_LIMIT_MAX_CURRENT ||
                    amps > DBUS_SERVICE_LIMIT_MAX_CURRENT))
                return dbus_service_refuse(m, error, DBUS_SERVICE_ERROR_INVALID_LIMITS,
                                  "range target %g A: -%.1f to %.1f A", amps, DBUS_SERVICE_LIMIT_MAX_CURRENT,
                                  DBUS_SERVICE_LIMIT_MAX_CURRENT);
        if (dbus_service_stopping(b))
                return dbus_service_refuse(m, error, DBUS_SERVICE_ERROR_SHUTTING_DOWN, "seccbridge is stopping");
        now = b->cb.enter(b->cb.userdata);
        r = session_set_range_target(b->session, set, set ? (int16_t)lround(amps * 10) : 0, now);
        b->cb.after(b->cb.userdata);
        if (r == -EPERM)
                return dbus_service_refuse(m, error, DBUS_SERVICE_ERROR_NOT_EXTERNAL,
                                  "[v3] range_policy is not operator: the range target is not used");
        if (r < 0)
                return sd_bus_error_set_errno(error, r);
        session_get_status(b->session, &st);
        if (st.range_target_valid)
                log_info("operator (%s): range target %.1f A",
                         sd_bus_message_get_sender(m) ? sd_bus_message_get_sender(m) : "?", st.range_target_da / 10.0);
        else
                log_info("operator (%s): range target cleared (top of the range)",
                         sd_bus_message_get_sender(m) ? sd_bus_message_get_sender(m) : "?");
        dbus_service_refresh(b);
        return sd_bus_reply_method_return(m, "d", st.range_target_valid ? st.range_target_da / 10.0 : 0.0);
}

/* ---- the interface ---- */

#define DBUS_SERVICE_VALUE(field) offsetof(struct dbus_service, now.field)
#define DBUS_SERVICE_CHANGES SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE
/* Counters change with nearly every frame: no signal (EmitsChangedSignal=false). */
#define DBUS_SERVICE_NO_SIGNAL 0

/* Who may call the methods is the bus policy's decision
 * (systemd/org.seccbridge.conf), hence SD_BUS_VTABLE_UNPRIVILEGED: sd-bus's
 * own capability check would query the caller's credentials synchronously. */
/* ---- several pistols: the arbiter's view (org.seccbridge.Sharing1) ---- */

static int dbus_service_get_sharing(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        struct dbus_service *b = userdata;
        struct dbus_service_sharing v;
        int r;

        memset(&v, 0, sizeof(v));
        if (b->cb.sharing)
                b->cb.sharing(&v, b->cb.userdata);
        if (strcmp(property, "Policy") == 0)
                return sd_bus_message_append(reply, "s", v.policy);
        if (strcmp(property, "Converters") == 0) {
                r = sd_bus_message_open_container(reply, 'a', "(ssyyb)");
                for (uint8_t i = 0; r >= 0 && i < v.n_converters && i < DBUS_SERVICE_SHARING_MAX; i++)
                        r = sd_bus_message_append(reply, "(ssyyb)", v.converters[i].name, v.converters[i].state,
                                                  v.converters[i].owner, v.converters[i].offered,
                                                  (int)v.converters[i].shared);
                return r < 0 ? r : sd_bus_message_close_container(reply);
        }
        r = sd_bus_message_open_container(reply, 'a', "(ysbbb)");
        for (uint8_t i = 0; r >= 0 && i < v.n_pistols && i < DBUS_SERVICE_SHARING_MAX; i++)
                r = sd_bus_message_append(reply, "(ysbbb)", v.pistols[i].pistol, v.pistols[i].converter,
                                          (int)v.pistols[i].owner, (int)v.pistols[i].held,
                                          (int)v.pistols[i].waiting);
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

/* Policy; Converters: (name, state, owner, offered, shared) per converter,
 * pistols by index (0 = none); Pistols: (index, converter, owner, held,
 * waiting) per pistol. */
static const sd_bus_vtable dbus_service_sharing_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Policy", "s", dbus_service_get_sharing, 0, SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION),
        SD_BUS_PROPERTY("Converters", "a(ssyyb)", dbus_service_get_sharing, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION),
        SD_BUS_PROPERTY("Pistols", "a(ysbbb)", dbus_service_get_sharing, 0, SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable dbus_service_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Pistol", "y", dbus_service_get_byte, DBUS_SERVICE_VALUE(pistol), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Version", "s", dbus_service_get_string, DBUS_SERVICE_VALUE(version), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("InterfaceVersion", "y", dbus_service_get_byte, DBUS_SERVICE_VALUE(interface_version),
                        SD_BUS_VTABLE_PROPERTY_CONST),

        SD_BUS_PROPERTY("CANInterface", "s", dbus_service_get_string, DBUS_SERVICE_VALUE(can_interface), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("CANUp", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(can_up), DBUS_SERVICE_CHANGES),

        SD_BUS_PROPERTY("ControllerAlive", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(controller_alive), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("ControllerState", "s", dbus_service_get_string, DBUS_SERVICE_VALUE(controller_state), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("SessionActive", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(session_active), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("ChargeStarted", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(charge_started), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("Protocol", "s", dbus_service_get_string, DBUS_SERVICE_VALUE(protocol), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("Plug", "s", dbus_service_get_string, DBUS_SERVICE_VALUE(plug), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("EVMaximumVoltage", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(ev_max_voltage), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("EVMaximumCurrent", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(ev_max_current), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("BatteryCapacity", "q", dbus_service_get_uint16, DBUS_SERVICE_VALUE(battery_capacity), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("StateOfCharge", "y", dbus_service_get_byte, DBUS_SERVICE_VALUE(state_of_charge), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("EVCCID", "s", dbus_service_get_string, DBUS_SERVICE_VALUE(evccid), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("EVMinimumVoltage", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(ev_min_voltage), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("EVPresentVoltage", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(ev_present_voltage), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("EVMinimumChargeCurrent", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(ev_min_charge_current), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("EVMinimumChargePower", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(ev_min_charge_power), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("EVMaximumChargePower", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(ev_max_charge_power), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("EVMinimumDischargeCurrent", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(ev_min_discharge_current), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("EVMaximumDischargeCurrent", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(ev_max_discharge_current), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("EVMinimumDischargePower", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(ev_min_discharge_power), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("EVMaximumDischargePower", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(ev_max_discharge_power), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("MinimumStateOfCharge", "y", dbus_service_get_byte, DBUS_SERVICE_VALUE(min_state_of_charge), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("TargetStateOfCharge", "y", dbus_service_get_byte, DBUS_SERVICE_VALUE(target_state_of_charge), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("MaximumStateOfCharge", "y", dbus_service_get_byte, DBUS_SERVICE_VALUE(max_state_of_charge), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("EVMinimumEnergyRequest", "n", dbus_service_get_int16, DBUS_SERVICE_VALUE(ev_min_energy_request), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("EVTargetEnergyRequest", "n", dbus_service_get_int16, DBUS_SERVICE_VALUE(ev_target_energy_request), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("EVMaximumEnergyRequest", "n", dbus_service_get_int16, DBUS_SERVICE_VALUE(ev_max_energy_request), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("DynamicTarget", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(dynamic_target), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("DynamicTargetCurrent", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(dynamic_target_current), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("Bidirectional", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(bidirectional), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("RangePolicy", "s", dbus_service_get_string, DBUS_SERVICE_VALUE(range_policy), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("RangeTargetSet", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(range_target_set), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("RangeTarget", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(range_target), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("DirectionChangePending", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(direction_change_pending), DBUS_SERVICE_CHANGES),

        SD_BUS_PROPERTY("Request", "s", dbus_service_get_string, DBUS_SERVICE_VALUE(request), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("RequestVoltage", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(request_voltage), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("RequestCurrent", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(request_current), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("PowerFunction", "s", dbus_service_get_string, DBUS_SERVICE_VALUE(power_function), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("SetpointsMode", "s", dbus_service_get_string, DBUS_SERVICE_VALUE(setpoints_mode), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("OutputContactors", "s", dbus_service_get_string, DBUS_SERVICE_VALUE(output_contactors), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("LowerOutputVoltage", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(lower_output_voltage), DBUS_SERVICE_CHANGES),

        SD_BUS_PROPERTY("CommandMode", "s", dbus_service_get_string, DBUS_SERVICE_VALUE(command_mode), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("CommandVoltage", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(command_voltage), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("CommandCurrent", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(command_current), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("CommandDischarge", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(command_discharge), DBUS_SERVICE_CHANGES),

        SD_BUS_PROPERTY("Voltage", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(voltage), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("Current", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(current), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("ModuleTemperature", "n", dbus_service_get_int16, DBUS_SERVICE_VALUE(module_temperature), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("EnclosureTemperature", "n", dbus_service_get_int16, DBUS_SERVICE_VALUE(enclosure_temperature), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("InsulationResistance", "q", dbus_service_get_uint16, DBUS_SERVICE_VALUE(insulation_resistance), DBUS_SERVICE_CHANGES),

        SD_BUS_PROPERTY("SystemEnable", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(system_enable), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("Fault", "s", dbus_service_get_string, DBUS_SERVICE_VALUE(fault), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("EmergencyStop", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(emergency_stop), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("EmergencyStopActive", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(emergency_stop_active), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("EmergencyStopOrigin", "s", dbus_service_get_string, DBUS_SERVICE_VALUE(emergency_stop_origin), DBUS_SERVICE_CHANGES),

        SD_BUS_PROPERTY("ConverterBackend", "s", dbus_service_get_string, DBUS_SERVICE_VALUE(converter_backend), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("ConverterLink", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(converter_link), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("ConverterReady", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(converter_ready), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("ConverterFault", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(converter_fault), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("ConverterError", "s", dbus_service_get_string, DBUS_SERVICE_VALUE(converter_error), DBUS_SERVICE_CHANGES),

        SD_BUS_PROPERTY("SequenceFlags", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(sequence_flags), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("StartAuthorisation", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(start_authorisation), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("CCSAuthorisationDone", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(ccs_authorisation_done), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("CCSAuthorisationValid", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(ccs_authorisation_valid), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("ChargeParametersDone", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(charge_parameters_done), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("UserStopButton", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(user_stop_button), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("CHAdeMOStartButton", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(chademo_start_button), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("StartAuthorisationSource", "s", dbus_service_get_string, DBUS_SERVICE_VALUE(start_authorisation_source), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("CCSAuthorisationSource", "s", dbus_service_get_string, DBUS_SERVICE_VALUE(ccs_authorisation_source), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("ChargeParametersSource", "s", dbus_service_get_string, DBUS_SERVICE_VALUE(charge_parameters_source), DBUS_SERVICE_CHANGES),

        SD_BUS_PROPERTY("MaxVoltage", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(max_voltage), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("MaxCurrent", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(max_current), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("MaxPower", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(max_power), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("PrechargeMaxCurrent", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(precharge_max_current), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("InsulationMaxCurrent", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(insulation_max_current), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("ConfigMaxVoltage", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(config_max_voltage), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("ConfigMaxCurrent", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(config_max_current), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("ConfigMaxPower", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(config_max_power), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("DynamicMaxVoltage", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(dynamic_max_voltage), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("DynamicMaxCurrent", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(dynamic_max_current), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("DynamicMaxPower", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(dynamic_max_power), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("MaxDischargeCurrent", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(max_discharge_current), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("MaxDischargePower", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(max_discharge_power), DBUS_SERVICE_CHANGES),

        /* the controller's I/O */
        SD_BUS_PROPERTY("Supervisor", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(supervisor), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("CUI1Inputs", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(cui1_inputs), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("CUI1Switch0", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(cui1_switch[0]), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("CUI1Switch1", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(cui1_switch[1]), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("CUI1Switch2", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(cui1_switch[2]), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("CUI1Switch3", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(cui1_switch[3]), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("CUI1Switch4", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(cui1_switch[4]), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("CUI1Switch5", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(cui1_switch[5]), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("CUI1ColibriTemperature", "n", dbus_service_get_int16, DBUS_SERVICE_VALUE(cui1_colibri_temperature), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("CUI1CPUTemperature", "n", dbus_service_get_int16, DBUS_SERVICE_VALUE(cui1_cpu_temperature), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("CUI1PistolPTC1", "n", dbus_service_get_int16, DBUS_SERVICE_VALUE(cui1_pistol_ptc1), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("CUI1PistolPTC2", "n", dbus_service_get_int16, DBUS_SERVICE_VALUE(cui1_pistol_ptc2), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("SECCInputs", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(secc_inputs), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("SECCDigitalInput1", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(secc_input[0]), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("SECCDigitalInput2", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(secc_input[1]), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("SECCDigitalInput3", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(secc_input[2]), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("SECCDigitalInput4", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(secc_input[3]), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("SECCCPUTemperature", "n", dbus_service_get_int16, DBUS_SERVICE_VALUE(secc_cpu_temperature), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("SECCPistolPTC1", "n", dbus_service_get_int16, DBUS_SERVICE_VALUE(secc_pistol_ptc1), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("SECCPistolPTC2", "n", dbus_service_get_int16, DBUS_SERVICE_VALUE(secc_pistol_ptc2), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("SPCCInputs", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(spcc_inputs), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("SPCCDigitalInput1", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(spcc_input[0]), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("SPCCDigitalInput2", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(spcc_input[1]), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("SPCCDigitalInput3", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(spcc_input[2]), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("SPCCDigitalInput4", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(spcc_input[3]), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("SPCCCPUTemperature0", "n", dbus_service_get_int16, DBUS_SERVICE_VALUE(spcc_cpu_temperature0), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("SPCCCPUTemperature1", "n", dbus_service_get_int16, DBUS_SERVICE_VALUE(spcc_cpu_temperature1), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("SPCCPT1KA", "n", dbus_service_get_int16, DBUS_SERVICE_VALUE(spcc_pt1k_a), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("SPCCPT1KB", "n", dbus_service_get_int16, DBUS_SERVICE_VALUE(spcc_pt1k_b), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("SPCCPT1KSC", "n", dbus_service_get_int16, DBUS_SERVICE_VALUE(spcc_pt1ks_c), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("SPCCPT1KSD", "n", dbus_service_get_int16, DBUS_SERVICE_VALUE(spcc_pt1ks_d), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("CPState", "s", dbus_service_get_string, DBUS_SERVICE_VALUE(cp_state), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("CPDutyCycle", "d", dbus_service_get_double, DBUS_SERVICE_VALUE(cp_duty_cycle), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("MCSCEState", "s", dbus_service_get_string, DBUS_SERVICE_VALUE(mcs_ce_state), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("MCSIDState", "s", dbus_service_get_string, DBUS_SERVICE_VALUE(mcs_id_state), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("OutputsBoard", "s", dbus_service_get_string, DBUS_SERVICE_VALUE(outputs_board), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("Output1", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(output[0]), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("Output2", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(output[1]), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("Output3", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(output[2]), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("Output4", "b", dbus_service_get_bool, DBUS_SERVICE_VALUE(output[3]), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("Led1", "y", dbus_service_get_byte, DBUS_SERVICE_VALUE(led[0]), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("Led2", "y", dbus_service_get_byte, DBUS_SERVICE_VALUE(led[1]), DBUS_SERVICE_CHANGES),
        SD_BUS_PROPERTY("Led3", "y", dbus_service_get_byte, DBUS_SERVICE_VALUE(led[2]), DBUS_SERVICE_CHANGES),

        SD_BUS_PROPERTY("FramesIn", "t", dbus_service_get_uint64, DBUS_SERVICE_VALUE(frames_in), DBUS_SERVICE_NO_SIGNAL),
        SD_BUS_PROPERTY("FramesOut", "t", dbus_service_get_uint64, DBUS_SERVICE_VALUE(frames_out), DBUS_SERVICE_NO_SIGNAL),
        SD_BUS_PROPERTY("FramesMalformed", "t", dbus_service_get_uint64, DBUS_SERVICE_VALUE(frames_malformed), DBUS_SERVICE_NO_SIGNAL),
        SD_BUS_PROPERTY("FramesForeign", "t", dbus_service_get_uint64, DBUS_SERVICE_VALUE(frames_foreign), DBUS_SERVICE_NO_SIGNAL),
        SD_BUS_PROPERTY("RejectedRequests", "t", dbus_service_get_uint64, DBUS_SERVICE_VALUE(rejected_requests), DBUS_SERVICE_NO_SIGNAL),
        SD_BUS_PROPERTY("ControllerTimeouts", "t", dbus_service_get_uint64, DBUS_SERVICE_VALUE(controller_timeouts), DBUS_SERVICE_NO_SIGNAL),
        SD_BUS_PROPERTY("EmergencyStops", "t", dbus_service_get_uint64, DBUS_SERVICE_VALUE(emergency_stops), DBUS_SERVICE_NO_SIGNAL),
        SD_BUS_PROPERTY("FramesOtherVersion", "t", dbus_service_get_uint64, DBUS_SERVICE_VALUE(frames_other_version), DBUS_SERVICE_NO_SIGNAL),
        SD_BUS_PROPERTY("UndefinedPowerFunctions", "t", dbus_service_get_uint64, DBUS_SERVICE_VALUE(undefined_power_functions),
                        DBUS_SERVICE_NO_SIGNAL),
        SD_BUS_PROPERTY("FramesMalformedIO", "t", dbus_service_get_uint64, DBUS_SERVICE_VALUE(frames_malformed_io), DBUS_SERVICE_NO_SIGNAL),
        SD_BUS_PROPERTY("DischargesRefused", "t", dbus_service_get_uint64, DBUS_SERVICE_VALUE(discharges_refused), DBUS_SERVICE_NO_SIGNAL),
        SD_BUS_PROPERTY("ModeChangesRefused", "t", dbus_service_get_uint64, DBUS_SERVICE_VALUE(mode_changes_refused), DBUS_SERVICE_NO_SIGNAL),
        SD_BUS_PROPERTY("DirectionChanges", "t", dbus_service_get_uint64, DBUS_SERVICE_VALUE(direction_changes), DBUS_SERVICE_NO_SIGNAL),
        SD_BUS_PROPERTY("CANRxFrames", "t", dbus_service_get_uint64, DBUS_SERVICE_VALUE(can_rx_frames), DBUS_SERVICE_NO_SIGNAL),
        SD_BUS_PROPERTY("CANTxFrames", "t", dbus_service_get_uint64, DBUS_SERVICE_VALUE(can_tx_frames), DBUS_SERVICE_NO_SIGNAL),
        SD_BUS_PROPERTY("CANTxDropped", "t", dbus_service_get_uint64, DBUS_SERVICE_VALUE(can_tx_dropped), DBUS_SERVICE_NO_SIGNAL),
        SD_BUS_PROPERTY("CANTxErrors", "t", dbus_service_get_uint64, DBUS_SERVICE_VALUE(can_tx_errors), DBUS_SERVICE_NO_SIGNAL),
        SD_BUS_PROPERTY("CANRxKernelDrops", "t", dbus_service_get_uint64, DBUS_SERVICE_VALUE(can_rx_kernel_drops), DBUS_SERVICE_NO_SIGNAL),
        SD_BUS_PROPERTY("CANErrorFrames", "t", dbus_service_get_uint64, DBUS_SERVICE_VALUE(can_error_frames), DBUS_SERVICE_NO_SIGNAL),
        SD_BUS_PROPERTY("CANReopens", "t", dbus_service_get_uint64, DBUS_SERVICE_VALUE(can_reopens), DBUS_SERVICE_NO_SIGNAL),
        SD_BUS_PROPERTY("ConverterErrors", "t", dbus_service_get_uint64, DBUS_SERVICE_VALUE(converter_errors), DBUS_SERVICE_NO_SIGNAL),

        SD_BUS_METHOD_WITH_ARGS("SetStartAuthorisation", SD_BUS_ARGS("b", allowed), SD_BUS_NO_RESULT,
                                dbus_service_method_set_start_authorisation, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetCCSAuthorisation", SD_BUS_ARGS("b", valid), SD_BUS_NO_RESULT,
                                dbus_service_method_set_ccs_authorisation, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetChargeParametersDone", SD_BUS_ARGS("b", done), SD_BUS_NO_RESULT,
                                dbus_service_method_set_charge_parameters_done, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("PressUserStop", "", "", dbus_service_method_press_user_stop, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("PressCHAdeMOStart", "", "", dbus_service_method_press_chademo_start, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetOutput", SD_BUS_ARGS("s", name, "y", value), SD_BUS_NO_RESULT,
                                dbus_service_method_set_output, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetRangeTarget", SD_BUS_ARGS("b", set, "d", current), SD_BUS_RESULT("d", current),
                                dbus_service_method_set_range_target, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetDynamicLimits",
                                SD_BUS_ARGS("d", max_voltage, "d", max_current, "d", max_power),
                                SD_BUS_RESULT("d", voltage, "d", current, "d", power),
                                dbus_service_method_set_dynamic_limits, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* Did the property at this offset change since it was last signalled? */
static bool dbus_service_value_changed(const struct dbus_service *b, char type, size_t offset)
{
        size_t at = offset - offsetof(struct dbus_service, now);
        const char *now = (const char *)&b->now + at;
        const char *sent = (const char *)&b->sent + at;

        switch (type) {
        case 'b':
                return *(const bool *)now != *(const bool *)sent;
        case 'd':
                return *(const double *)now != *(const double *)sent;
        case 's':
                return strcmp(now, sent) != 0;
        case 'y':
                return *(const uint8_t *)now != *(const uint8_t *)sent;
        case 'n':
                return *(const int16_t *)now != *(const int16_t *)sent;
        case 'q':
                return *(const uint16_t *)now != *(const uint16_t *)sent;
        case 't':
                return *(const uint64_t *)now != *(const uint64_t *)sent;
        default:
                return false;
        }
}

/* One PropertiesChanged for everything that changed since the last one.
 * The vtable is the one list of properties: its entries say which emit
 * changes, their type and where their value lives. */
static void dbus_service_emit_changes(struct dbus_service *b)
{
        char *names[sizeof(dbus_service_vtable) / sizeof(dbus_service_vtable[0]) + 1];
        uint64_t queued = 0;
        size_t n = 0;
        int r;

        /* A bus that does not read (stopped, overloaded) gets no more
         * signals queued: the changes keep collecting against what was last
         * signalled and go out as one when it reads again. */
        if (sd_bus_get_n_queued_write(b->bus, &queued) >= 0 && queued >= DBUS_SERVICE_MAX_QUEUED_SIGNALS)
                return;
        for (const sd_bus_vtable *v = dbus_service_vtable; v->type != _SD_BUS_VTABLE_END; v++) {
                if (v->type != _SD_BUS_VTABLE_PROPERTY || !(v->flags & SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE))
                        continue;
                if (dbus_service_value_changed(b, v->x.property.signature[0], v->x.property.offset))
                        names[n++] = (char *)v->x.property.member;
        }
        b->sent = b->now;
        if (n == 0)
                return;
        names[n] = NULL;
        r = sd_bus_emit_properties_changed_strv(b->bus, b->path, DBUS_SERVICE_INTERFACE, names);
        if (r < 0)
                log_debug("cannot signal %zu changed properties: %s", n, strerror(-r));
        /* The same object is served under the process-wide name too. */
        if (b->primary && b->primary->bus && sd_bus_is_ready(b->primary->bus) > 0)
                (void)sd_bus_emit_properties_changed_strv(b->primary->bus, b->path, DBUS_SERVICE_INTERFACE, names);
}

/* ---- the connection ---- */

static void dbus_service_schedule_retry(struct dbus_service *b)
{
        ev_timer_stop(b->loop, &b->retry);
        ev_timer_set(&b->retry, b->backoff_s, 0.);
        ev_timer_start(b->loop, &b->retry);
        b->backoff_s *= 2;
        if (b->backoff_s > DBUS_SERVICE_BACKOFF_MAX_S)
                b->backoff_s = DBUS_SERVICE_BACKOFF_MAX_S;
}

static void dbus_service_drop(struct dbus_service *b)
{
        ev_io_stop(b->loop, &b->io);
        ev_timer_stop(b->loop, &b->timeout);
        b->io_events = 0;
        /* Close without flushing: a flush would wait for the bus. */
        b->bus = sd_bus_close_unref(b->bus);
        b->name_owned = false;
}

/* The connection broke: drop it and try again later. */
static void dbus_service_lost(struct dbus_service *b, int r)
{
        dbus_service_drop(b);
        if (r < 0 && r != -ECONNRESET && r != -ENOTCONN && r != -EPIPE)
                log_fault_raise(&b->down, LOG_WARNING, monotonic_now_us(), "connection to %s failed (%s); reconnecting",
                                b->address, strerror(-r));
        else
                log_fault_raise(&b->down, LOG_WARNING, monotonic_now_us(), "connection to %s lost; reconnecting",
                                b->address);
        dbus_service_schedule_retry(b);
}

/* Arm the fd and the timer to what sd-bus waits for now. */
static void dbus_service_update_watchers(struct dbus_service *b)
{
        uint64_t until;
        int events, wanted;
        int r;

        events = sd_bus_get_events(b->bus);
        if (events < 0) {
                dbus_service_lost(b, events);
                return;
        }
        wanted = ((events & POLLIN) ? EV_READ : 0) | ((events & POLLOUT) ? EV_WRITE : 0);
        if (wanted != b->io_events || !ev_is_active(&b->io)) {
                ev_io_stop(b->loop, &b->io);
                ev_io_set(&b->io, sd_bus_get_fd(b->bus), wanted);
                if (wanted)
                        ev_io_start(b->loop, &b->io);
                b->io_events = wanted;
        }

        ev_timer_stop(b->loop, &b->timeout);
        r = sd_bus_get_timeout(b->bus, &until);
        if (r > 0 && until != UINT64_MAX) {
                uint64_t now = monotonic_now_us();

                ev_timer_set(&b->timeout, until > now ? (double)(until - now) / 1e6 : 0., 0.);
                ev_timer_start(b->loop, &b->timeout);
        }
}

static void dbus_service_process(struct dbus_service *b)
{
        int r;

        if (!b->bus)
                return;
        /* Get/GetAll answer with the state of this very moment. */
        dbus_service_refresh(b);
        do {
                r = sd_bus_process(b->bus, NULL);
        } while (r > 0);
        if (r < 0 || sd_bus_is_open(b->bus) <= 0) {
                dbus_service_lost(b, r);
                return;
        }
        dbus_service_update_watchers(b);
}

static void dbus_service_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        dbus_service_process(w->data);
}

static void dbus_service_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        dbus_service_process(w->data);
}

static void dbus_service_name_owned(struct dbus_service *b)
{
        if (b->name_owned)
                return;
        b->name_owned = true;
        b->backoff_s = DBUS_SERVICE_BACKOFF_MIN_S;
        log_fault_clear(&b->down, monotonic_now_us());
        log_fault_clear(&b->name_fault, monotonic_now_us());
        log_info("%s on %s, object %s", b->name, b->address, b->path);
}

static int dbus_service_on_request_name(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        struct dbus_service *b = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        uint32_t reply;
        int r;

        if (e) {
                /* Connected, but the policy does not let us own the name:
                 * nobody can reach the interface, so it is an error. */
                log_fault_clear(&b->down, monotonic_now_us());
                if (sd_bus_error_has_name(e, SD_BUS_ERROR_ACCESS_DENIED))
                        log_fault_raise(&b->name_fault, LOG_ERR, monotonic_now_us(),
                                        "cannot own %s: refused by the bus policy (org.seccbridge.conf not in "
                                        "dbus-1/system.d? not running as seccbridge?)",
                                        b->name);
                else
                        log_fault_raise(&b->name_fault, LOG_ERR, monotonic_now_us(), "cannot own %s: %s", b->name,
                                        e->message ? e->message : e->name);
                return 0;
        }
        r = sd_bus_message_read(m, "u", &reply);
        if (r < 0)
                return 0;
        switch (reply) {
        case 1: /* primary owner */
        case 4: /* already the owner */
                dbus_service_name_owned(b);
                break;
        case 2: /* queued */
                log_fault_clear(&b->down, monotonic_now_us());
                log_fault_raise(&b->name_fault, LOG_WARNING, monotonic_now_us(),
                                "%s is owned by another connection (another seccbridge for pistol %u?); "
                                "waiting for it", b->name, (unsigned)b->now.pistol);
                break;
        default:
                log_fault_raise(&b->name_fault, LOG_ERR, monotonic_now_us(), "cannot own %s (reply %u)", b->name,
                                (unsigned)reply);
                break;
        }
        return 0;
}

/* The process-wide name (several pistols): owned, or why not, once. */
static int dbus_service_on_request_shared_name(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        const sd_bus_error *e = sd_bus_message_get_error(m);
        uint32_t reply = 0;

        if (e)
                log_err("cannot own %s: %s", DBUS_SERVICE_NAME, e->message ? e->message : e->name);
        else if (sd_bus_message_read(m, "u", &reply) >= 0 && (reply == 1 || reply == 4))
                log_info("%s: every pistol's object and %s", DBUS_SERVICE_NAME, DBUS_SERVICE_SHARING_PATH);
        else
                log_warning("%s is owned by another connection (another seccbridge?); waiting for it",
                            DBUS_SERVICE_NAME);
        return 0;
}

/* NameAcquired / NameLost from the bus driver (the name may come later
 * when it was queued, and may be taken away). */
static int dbus_service_on_name_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        struct dbus_service *b = userdata;
        const char *name;

        if (sd_bus_message_read(m, "s", &name) < 0 || strcmp(name, b->name) != 0)
                return 0;
        if (strcmp(sd_bus_message_get_member(m), "NameAcquired") == 0) {
                dbus_service_name_owned(b);
        } else if (b->name_owned) {
                b->name_owned = false;
                log_warning("lost %s to another connection", b->name);
        }
        return 0;
}

static int dbus_service_connect(struct dbus_service *b)
{
        sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, b->address);
        if (r < 0)
                goto fail;
        r = sd_bus_set_bus_client(bus, 1);
        if (r < 0)
                goto fail;
        /* Access is the bus policy's decision (see the vtable). */
        r = sd_bus_set_trusted(bus, 1);
        if (r < 0)
                goto fail;
        (void)sd_bus_set_description(bus, "seccbridge");
        r = sd_bus_add_object_vtable(bus, NULL, b->path, DBUS_SERVICE_INTERFACE, dbus_service_vtable, b);
        if (r < 0)
                goto fail;
        /* Connects a local socket and queues the authentication and Hello:
         * no waiting.  What follows is queued behind them. */
        r = sd_bus_start(bus);
        if (r < 0)
                goto fail;
        r = sd_bus_match_signal_async(bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                      "org.freedesktop.DBus", "NameAcquired", dbus_service_on_name_signal, NULL, b);
        if (r < 0)
                goto fail;
        r = sd_bus_match_signal_async(bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                      "org.freedesktop.DBus", "NameLost", dbus_service_on_name_signal, NULL, b);
        if (r < 0)
                goto fail;
        r = sd_bus_request_name_async(bus, NULL, b->name, SD_BUS_NAME_QUEUE, dbus_service_on_request_name, b);
        if (r < 0)
                goto fail;
        if (b->n_peers > 0) {
                /* Several pistols: every pistol's object and the arbiter's
                 * view under one more name. */
                for (size_t i = 0; i < b->n_peers; i++) {
                        r = sd_bus_add_object_vtable(bus, NULL, b->peers[i]->path, DBUS_SERVICE_INTERFACE,
                                                     dbus_service_vtable, b->peers[i]);
                        if (r < 0)
                                goto fail;
                }
                r = sd_bus_add_object_vtable(bus, NULL, DBUS_SERVICE_SHARING_PATH, DBUS_SERVICE_SHARING_INTERFACE,
                                             dbus_service_sharing_vtable, b);
                if (r < 0)
                        goto fail;
                r = sd_bus_request_name_async(bus, NULL, DBUS_SERVICE_NAME, SD_BUS_NAME_QUEUE,
                                              dbus_service_on_request_shared_name, b);
                if (r < 0)
                        goto fail;
        }

        b->bus = bus;
        ev_io_init(&b->io, dbus_service_io_cb, sd_bus_get_fd(bus), 0);
        b->io.data = b;
        b->io_events = 0;
        b->sent = b->now;
        dbus_service_update_watchers(b);
        return 0;

fail:
        sd_bus_close_unref(bus);
        return r;
}

static void dbus_service_try_connect(struct dbus_service *b)
{
        int r;

        r = dbus_service_connect(b);
        if (r < 0) {
                log_fault_raise(&b->down, LOG_WARNING, monotonic_now_us(), "cannot connect to %s (%s); retrying",
                                b->address, strerror(-r));
                dbus_service_schedule_retry(b);
        }
}

static void dbus_service_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct dbus_service *b = w->data;

        if (!b->bus)
                dbus_service_try_connect(b);
}

/* Before the loop sleeps: take the snapshot, signal what changed during
 * this iteration in one message, and arm the watchers to what sd-bus now
 * needs (signals and replies may have been queued). */
static void dbus_service_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
        struct dbus_service *b = w->data;

        dbus_service_refresh(b);
        if (!b->bus || sd_bus_is_ready(b->bus) <= 0) {
                b->sent = b->now;
                return;
        }
        dbus_service_emit_changes(b);
        dbus_service_update_watchers(b);
}

/* ---- life cycle ---- */

int dbus_service_init(struct dbus_service *b, struct ev_loop *loop, bool enabled, const char *address, uint8_t pistol,
             struct session *session, const struct dbus_service_callbacks *cb)
{
        const char *env;

        if (!loop || !session || !cb || !cb->shell_status || !cb->enter || !cb->after)
                return -EINVAL;
        memset(b, 0, sizeof(*b));
        b->loop = loop;
        b->session = session;
        b->cb = *cb;
        b->enabled = enabled;
        /* The config's address first, then the environment (as sd-bus does
         * for the system bus), then the well-known socket. */
        env = getenv("DBUS_SYSTEM_BUS_ADDRESS");
        if (address && address[0])
                snprintf(b->address, sizeof(b->address), "%s", address);
        else if (env && env[0])
                snprintf(b->address, sizeof(b->address), "%s", env);
        else
                snprintf(b->address, sizeof(b->address), "%s", DBUS_SERVICE_SYSTEM_ADDRESS);
        snprintf(b->name, sizeof(b->name), DBUS_SERVICE_NAME_PREFIX "%u", (unsigned)pistol);
        snprintf(b->path, sizeof(b->path), DBUS_SERVICE_PATH_PREFIX "%u", (unsigned)pistol);
        b->now.pistol = pistol;
        snprintf(b->now.version, sizeof(b->now.version), "%s", SECCBRIDGE_VERSION);
        b->backoff_s = DBUS_SERVICE_BACKOFF_MIN_S;
        log_fault_init(&b->down, LOG_MODULE, "D-Bus");
        log_fault_init(&b->name_fault, LOG_MODULE, "D-Bus name");

        ev_init(&b->io, dbus_service_io_cb);
        b->io.data = b;
        ev_init(&b->timeout, dbus_service_timeout_cb);
        b->timeout.data = b;
        ev_init(&b->retry, dbus_service_retry_cb);
        b->retry.data = b;
        ev_prepare_init(&b->prepare, dbus_service_prepare_cb);
        b->prepare.data = b;
        return 0;
}

int dbus_service_set_peers(struct dbus_service *primary, struct dbus_service *const *peers, size_t n)
{
        if (n > DBUS_SERVICE_SHARING_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                primary->peers[i] = peers[i];
                peers[i]->primary = primary;
        }
        primary->n_peers = n;
        return 0;
}

void dbus_service_sharing_changed(struct dbus_service *primary)
{
        if (!primary->bus || sd_bus_is_ready(primary->bus) <= 0)
                return;
        (void)sd_bus_emit_properties_changed(primary->bus, DBUS_SERVICE_SHARING_PATH, DBUS_SERVICE_SHARING_INTERFACE,
                                             "Converters", "Pistols", "Policy", NULL);
}

int dbus_service_start(struct dbus_service *b)
{
        if (!b->enabled) {
                log_info("D-Bus interface disabled ([dbus] enable = false)");
                return 0;
        }
        b->started = true;
        dbus_service_refresh(b);
        b->sent = b->now;
        ev_prepare_start(b->loop, &b->prepare);
        dbus_service_try_connect(b);
        return 0;
}

void dbus_service_finish(struct dbus_service *b)
{
        if (!b->loop || !b->started)
                return;
        ev_prepare_stop(b->loop, &b->prepare);
        ev_timer_stop(b->loop, &b->retry);
        dbus_service_drop(b);
        b->started = false;
}
