/* SPDX-License-Identifier: MIT */
/*
 * Codec for the ADVANTICS Generic EVSE CAN interface, databases v2.7 and
 * v3.6.  Bit access, value conversions and the typed layer, all driven by
 * the signal tables of codec_table.c.
 *
 * Pure: no I/O, no allocation, no libm (rounding is done by hand so the core
 * links without -lm).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec_table.h"

/* ---- arithmetic helpers ---- */

/* 10^n for the handful of decimals the database uses. */
static int64_t pow10_i64(uint8_t n)
{
        int64_t p = 1;

        while (n-- > 0)
                p *= 10;
        return p;
}

/* Round to nearest, halves away from zero.  The caller guarantees that x is
 * well inside the int64 range. */
static int64_t round_to_i64(double x)
{
        if (x < 0)
                return -(int64_t)(-x + 0.5);
        return (int64_t)(x + 0.5);
}

/* num / den rounded to nearest, halves away from zero; den > 0. */
static int64_t div_round(int64_t num, int64_t den)
{
        int64_t q = num / den;
        int64_t r = num % den;

        /* C division truncates toward zero, so the remainder has the sign of
         * num; compare its magnitude with half the divisor. */
        if (r < 0) {
                if (-r * 2 >= den)
                        q--;
        } else if (r * 2 >= den) {
                q++;
        }
        return q;
}

static int64_t clamp_i64(int64_t v, int64_t lo, int64_t hi)
{
        return v < lo ? lo : v > hi ? hi : v;
}

/* Scale and offset of a signal in fixed-point units (x 10^decimals).  Every
 * scale and offset of the database is a whole number in those units (0.1 V
 * with 1 decimal, 2 kOhm, -40 degC), so these are exact. */
static int64_t scale_fixed(const struct codec_signal_info *sig)
{
        return round_to_i64(sig->scale * (double)pow10_i64(sig->decimals));
}

static int64_t offset_fixed(const struct codec_signal_info *sig)
{
        return round_to_i64(sig->offset * (double)pow10_i64(sig->decimals));
}

/* ---- raw bit access ---- */

int64_t codec_signal_raw_min(const struct codec_signal_info *sig)
{
        if (!sig->is_signed)
                return 0;
        if (sig->length >= 64)
                return INT64_MIN;
        return -((int64_t)1 << (sig->length - 1));
}

int64_t codec_signal_raw_max(const struct codec_signal_info *sig)
{
        /* An unsigned 64-bit field would not fit int64; the database has
         * nothing wider than 48 bits. */
        if (sig->length >= 64)
                return INT64_MAX;
        if (sig->is_signed)
                return ((int64_t)1 << (sig->length - 1)) - 1;
        return (int64_t)(((uint64_t)1 << sig->length) - 1);
}

static uint64_t length_mask(uint8_t length)
{
        return length >= 64 ? UINT64_MAX : ((uint64_t)1 << length) - 1;
}

/* Intel byte order: bit 0 is the LSB of data[0], a field's LSB sits at its
 * start bit and its bytes follow in increasing address order.  Only the
 * bytes the field covers are read. */
int64_t codec_signal_get_raw(const uint8_t *data, const struct codec_signal_info *sig)
{
        unsigned first = sig->start / 8u;
        unsigned last = (sig->start + sig->length - 1u) / 8u;
        uint64_t v = 0;

        for (unsigned i = last + 1; i-- > first;)
                v = (v << 8) | data[i];
        v >>= sig->start % 8u;
        v &= length_mask(sig->length);

        if (sig->is_signed && sig->length < 64 && (v >> (sig->length - 1)) & 1u)
                v |= ~length_mask(sig->length);
        return (int64_t)v;
}

void codec_signal_put_raw(uint8_t *data, const struct codec_signal_info *sig, int64_t raw)
{
        unsigned first = sig->start / 8u;
        unsigned last = (sig->start + sig->length - 1u) / 8u;
        unsigned shift = sig->start % 8u;
        uint64_t mask = length_mask(sig->length) << shift;
        uint64_t v;

        if (sig->reserved)
                raw = 0;
        raw = clamp_i64(raw, codec_signal_raw_min(sig), codec_signal_raw_max(sig));
        v = ((uint64_t)raw << shift) & mask;

        /* Merge byte by byte so that neighbouring signals, reserved and
         * undeclared bits keep whatever the caller put there (0 for a fresh
         * frame). */
        for (unsigned i = first; i <= last; i++) {
                unsigned at = 8u * (i - first);
                uint8_t m = (uint8_t)(mask >> at);

                data[i] = (uint8_t)((data[i] & ~m) | ((uint8_t)(v >> at) & m));
        }
}

/* ---- value conversions ---- */

double codec_signal_to_phys(const struct codec_signal_info *sig, int64_t raw)
{
        return (double)raw * sig->scale + sig->offset;
}

int64_t codec_signal_to_fixed(const struct codec_signal_info *sig, int64_t raw)
{
        return raw * scale_fixed(sig) + offset_fixed(sig);
}

static int64_t kcd_fixed(const struct codec_signal_info *sig, double v)
{
        return round_to_i64(v * (double)pow10_i64(sig->decimals));
}

int64_t codec_signal_fixed_min(const struct codec_signal_info *sig)
{
        int64_t lo = codec_signal_to_fixed(sig, codec_signal_raw_min(sig));

        if (sig->has_range && kcd_fixed(sig, sig->min) > lo)
                lo = kcd_fixed(sig, sig->min);
        return lo;
}

int64_t codec_signal_fixed_max(const struct codec_signal_info *sig)
{
        int64_t hi = codec_signal_to_fixed(sig, codec_signal_raw_max(sig));

        if (sig->has_range && kcd_fixed(sig, sig->max) < hi)
                hi = kcd_fixed(sig, sig->max);
        return hi;
}

/* Accept a raw value when it is encodable and, once on the wire, inside
 * the database min/max. */
static int check_raw(const struct codec_signal_info *sig, int64_t raw)
{
        int64_t fixed;

        if (raw < codec_signal_raw_min(sig) || raw > codec_signal_raw_max(sig))
                return -ERANGE;
        fixed = codec_signal_to_fixed(sig, raw);
        if (sig->has_range &&
            (fixed < kcd_fixed(sig, sig->min) || fixed > kcd_fixed(sig, sig->max)))
                return -ERANGE;
        return 0;
}

/* Larger than any raw range of the database (48 bits) times any scale, yet
 * far from int64 overflow in the arithmetic below. */
#define FIXED_LIMIT ((int64_t)1 << 60)

int codec_signal_from_fixed(const struct codec_signal_info *sig, int64_t fixed, int64_t *raw)
{
        int64_t r;
        int ret;

        if (fixed < -FIXED_LIMIT || fixed > FIXED_LIMIT)
                return -ERANGE;
        r = div_round(fixed - offset_fixed(sig), scale_fixed(sig));
        ret = check_raw(sig, r);
        if (ret < 0)
                return ret;
        *raw = r;
        return 0;
}

int codec_signal_from_phys(const struct codec_signal_info *sig, double phys, int64_t *raw)
{
        double x;
        int64_t r;
        int ret;

        if (phys != phys)       /* NaN */
                return -ERANGE;
        x = (phys - sig->offset) / sig->scale;
        if (!(x > -1e17 && x < 1e17))
                return -ERANGE;
        r = round_to_i64(x);
        ret = check_raw(sig, r);
        if (ret < 0)
                return ret;
        *raw = r;
        return 0;
}

const char *codec_signal_label(const struct codec_signal_info *sig, int64_t raw)
{
        for (size_t i = 0; i < sig->n_labels; i++)
                if (sig->labels[i].value == raw)
                        return sig->labels[i].name;
        return NULL;
}

int codec_signal_label_value(const struct codec_signal_info *sig, const char *label,
                             int64_t *raw)
{
        for (size_t i = 0; i < sig->n_labels; i++) {
                if (strcmp(sig->labels[i].name, label) == 0) {
                        *raw = sig->labels[i].value;
                        return 0;
                }
        }
        return -ENOENT;
}

const char *codec_controller_state_name(uint8_t state)
{
        const struct codec_msg_info *m = codec_msg_info(&codec_db_v2_7, CODEC_ADVANTICS_CONTROLLER_STATUS);
        const char *name = codec_signal_label(&m->signals[ACS_STATE], state);

        return name ? name : "Unknown";
}

const char *codec_power_function_name(uint8_t power_function)
{
        const struct codec_msg_info *m = codec_msg_info(&codec_db_v3_6, CODEC_DC_POWER_CONTROL);

        return codec_signal_label(&m->signals[DCPC_POWER_FUNCTION], power_function);
}

/* ---- typed layer ---- */

uint32_t codec_frame_id(const struct codec_db *db, enum codec_msg_type type, uint8_t pistol)
{
        const struct codec_msg_info *m = codec_msg_info(db, type);

        if (!m || pistol < CODEC_PISTOL_MIN || pistol > CODEC_PISTOL_MAX)
                return 0;
        return m->base_id | ((uint32_t)pistol << CODEC_ID_PISTOL_SHIFT);
}

/* Fixed-point values (see codec_signal_to_fixed) indexed like the message's
 * signal table; reserved slots are unused. */
typedef int64_t codec_values[CODEC_MAX_SIGNALS];

/* Typed struct -> values.  -EINVAL for a type outside the database. */
static int values_from_message(const struct codec_message *msg, codec_values v)
{
        switch (msg->type) {
        case CODEC_POWER_MODULES_STATUS: {
                const struct codec_power_modules_status *s = &msg->u.power_modules_status;

                v[PMS_PRESENT_VOLTAGE] = s->present_voltage_dv;
                v[PMS_PRESENT_CURRENT] = s->present_current_da;
                v[PMS_POWER_MODULES_TEMPERATURE] = s->power_modules_temperature_c;
                v[PMS_ENCLOSURE_TEMPERATURE] = s->enclosure_temperature_c;
                v[PMS_SYSTEM_ENABLE] = s->system_enable;
                v[PMS_INSULATION_RESISTANCE] = s->insulation_resistance_kohm;
                return 0;
        }
        case CODEC_POWER_MODULES_LIMITS: {
                const struct codec_power_modules_limits *s = &msg->u.power_modules_limits;

                v[PML_MAXIMUM_VOLTAGE] = s->maximum_voltage_dv;
                v[PML_MAXIMUM_CURRENT] = s->maximum_current_da;
                return 0;
        }
        case CODEC_SEQUENCE_CONTROL: {
                const struct codec_sequence_control *s = &msg->u.sequence_control;

                v[SEQ_START_CHARGE_AUTHORISATION] = s->start_charge_authorisation;
                v[SEQ_CHADEMO_START_BUTTON] = s->chademo_start_button;
                v[SEQ_CCS_AUTHORISATION_DONE] = s->ccs_authorisation_done;
                v[SEQ_CCS_AUTHORISATION_VALID] = s->ccs_authorisation_valid;
                v[SEQ_CHARGE_PARAMETERS_DONE] = s->charge_parameters_done;
                v[SEQ_USER_STOP_BUTTON] = s->user_stop_button;
                return 0;
        }
        case CODEC_ADM_CS_SECC_OUTPUTS: {
                const struct codec_adm_cs_secc_outputs *s = &msg->u.adm_cs_secc_outputs;

                v[SECCO_DIGITAL_OUTPUT1] = s->digital_output[0];
                v[SECCO_DIGITAL_OUTPUT2] = s->digital_output[1];
                v[SECCO_DIGITAL_OUTPUT3] = s->digital_output[2];
                v[SECCO_DIGITAL_OUTPUT4] = s->digital_output[3];
                v[SECCO_LED1] = s->led[0];
                v[SECCO_LED2] = s->led[1];
                v[SECCO_LED3] = s->led[2];
                return 0;
        }
        case CODEC_ADM_CS_SPCC_OUTPUTS: {
                const struct codec_adm_cs_spcc_outputs *s = &msg->u.adm_cs_spcc_outputs;

                v[SPCCO_DIGITAL_OUTPUT1] = s->digital_output[0];
                v[SPCCO_DIGITAL_OUTPUT2] = s->digital_output[1];
                v[SPCCO_LED1] = s->led[0];
                v[SPCCO_LED2] = s->led[1];
                v[SPCCO_LED3] = s->led[2];
                return 0;
        }
        case CODEC_NEW_CHARGE_SESSION: {
                const struct codec_new_charge_session *s = &msg->u.new_charge_session;

                v[NCS_COMMUNICATION_PROTOCOL] = s->communication_protocol;
                v[NCS_PLUG_AND_PINS] = s->plug_and_pins;
                v[NCS_EV_MAXIMUM_VOLTAGE] = s->ev_maximum_voltage_dv;
                v[NCS_EV_MAXIMUM_CURRENT] = s->ev_maximum_current_da;
                v[NCS_BATTERY_CAPACITY] = s->battery_capacity_kwh;
                v[NCS_STATE_OF_CHARGE] = s->state_of_charge_pct;
                return 0;
        }
        case CODEC_INSULATION_TEST:
                v[INS_TEST_VOLTAGE] = msg->u.insulation_test.test_voltage_dv;
                return 0;
        case CODEC_PRECHARGE:
                v[PRE_TARGET_VOLTAGE] = msg->u.precharge.target_voltage_dv;
                v[PRE_MAXIMUM_CURRENT] = msg->u.precharge.maximum_current_da;
                return 0;
        case CODEC_CHARGE_STATUS_CHANGE:
                v[CSC_VEHICLE_READY_FOR_CHARGING] =
                        msg->u.charge_status_change.vehicle_ready_for_charging;
                return 0;
        case CODEC_CHARGING_LOOP:
                v[CL_TARGET_VOLTAGE] = msg->u.charging_loop.target_voltage_dv;
                v[CL_TARGET_CURRENT] = msg->u.charging_loop.target_current_da;
                v[CL_STATE_OF_CHARGE] = msg->u.charging_loop.state_of_charge_pct;
                return 0;
        case CODEC_EMERGENCY_STOP:
                v[ESTOP_ORIGIN] = msg->u.emergency_stop.origin;
                return 0;
        case CODEC_CHARGE_SESSION_FINISHED:
                v[CSF_STATE] = msg->u.charge_session_finished.state;
                return 0;
        case CODEC_ADVANTICS_CONTROLLER_STATUS:
                v[ACS_STATE] = msg->u.advantics_controller_status.state;
                return 0;
        case CODEC_ADM_CO_CUI1_INPUTS: {
                const struct codec_adm_co_cui1_inputs *s = &msg->u.adm_co_cui1_inputs;

                v[CUI1_SWITCH0] = s->switch_input[0];
                v[CUI1_SWITCH1] = s->switch_input[1];
                v[CUI1_SWITCH2] = s->switch_input[2];
                v[CUI1_SWITCH3] = s->switch_input[3];
                v[CUI1_SWITCH4] = s->switch_input[4];
                v[CUI1_SWITCH5] = s->switch_input[5];
                v[CUI1_COLIBRI_TEMPERATURE] = s->colibri_temperature_c;
                v[CUI1_CPU_TEMPERATURE] = s->cpu_temperature_c;
                v[CUI1_PISTOL_PTC1] = s->pistol_ptc1_c;
                v[CUI1_PISTOL_PTC2] = s->pistol_ptc2_c;
                return 0;
        }
        case CODEC_ADM_CS_SECC_INPUTS: {
                const struct codec_adm_cs_secc_inputs *s = &msg->u.adm_cs_secc_inputs;

                v[SECCI_DIGITAL_INPUT1] = s->digital_input[0];
                v[SECCI_DIGITAL_INPUT2] = s->digital_input[1];
                v[SECCI_DIGITAL_INPUT3] = s->digital_input[2];
                v[SECCI_DIGITAL_INPUT4] = s->digital_input[3];
                v[SECCI_CPU_TEMPERATURE] = s->cpu_temperature_c;
                v[SECCI_PISTOL_PTC1] = s->pistol_ptc1_c;
                v[SECCI_PISTOL_PTC2] = s->pistol_ptc2_c;
                return 0;
        }
        case CODEC_EV_ID_CCS_PART2_DIN: {
                const struct codec_ev_id_ccs_part2_din *s = &msg->u.ev_id_ccs_part2_din;

                v[EVID_BYTE0] = s->byte[0];
                v[EVID_BYTE1] = s->byte[1];
                v[EVID_BYTE2] = s->byte[2];
                v[EVID_BYTE3] = s->byte[3];
                v[EVID_BYTE4] = s->byte[4];
                v[EVID_BYTE5] = s->byte[5];
                return 0;
        }
        case CODEC_ADM_CS_SPCC_INPUTS: {
                const struct codec_adm_cs_spcc_inputs *s = &msg->u.adm_cs_spcc_inputs;

                v[SPCCI_DIGITAL_INPUT1] = s->digital_input[0];
                v[SPCCI_DIGITAL_INPUT2] = s->digital_input[1];
                v[SPCCI_DIGITAL_INPUT3] = s->digital_input[2];
                v[SPCCI_DIGITAL_INPUT4] = s->digital_input[3];
                v[SPCCI_CPU_TEMPERATURE0] = s->cpu_temperature0_c;
                v[SPCCI_CPU_TEMPERATURE1] = s->cpu_temperature1_c;
                v[SPCCI_PT1K_A] = s->pt1k_a_c;
                v[SPCCI_PT1K_B] = s->pt1k_b_c;
                v[SPCCI_PT1KS_C] = s->pt1ks_c_c;
                v[SPCCI_PT1KS_D] = s->pt1ks_d_c;
                return 0;
        }
        case CODEC_CCS_EXTRA_INFORMATION:
                v[CCSX_CP_STATE] = msg->u.ccs_extra_information.cp_state;
                v[CCSX_CP_DUTY_CYCLE] = msg->u.ccs_extra_information.cp_duty_cycle_permille;
                return 0;
        case CODEC_MCS_EXTRA_INFORMATION:
                v[MCSX_CE_STATE] = msg->u.mcs_extra_information.ce_state;
                v[MCSX_ID_STATE] = msg->u.mcs_extra_information.id_state;
                return 0;
        case CODEC_DC_POWER_PARAMETERS: {
                const struct codec_dc_power_parameters *s = &msg->u.dc_power_parameters;

                v[DCPP_MAXIMUM_VOLTAGE] = s->maximum_voltage_dv;
                v[DCPP_MAXIMUM_CHARGE_CURRENT] = s->maximum_charge_current_da;
                v[DCPP_MAXIMUM_DISCHARGE_CURRENT] = s->maximum_discharge_current_da;
                v[DCPP_RANGE_TARGET_CURRENT] = s->range_target_current_da;
                return 0;
        }
        case CODEC_NEW_CHARGE_SESSION_V3:
                v[NCS3_COMMUNICATION_PROTOCOL] = msg->u.new_charge_session_v3.communication_protocol;
                v[NCS3_PLUG_AND_PINS] = msg->u.new_charge_session_v3.plug_and_pins;
                return 0;
        case CODEC_DC_POWER_CONTROL: {
                const struct codec_dc_power_control *s = &msg->u.dc_power_control;

                v[DCPC_TARGET_VOLTAGE] = s->target_voltage_dv;
                v[DCPC_CURRENT_RANGE_MAX] = s->current_range_max_da;
                v[DCPC_CURRENT_RANGE_MIN] = s->current_range_min_da;
                v[DCPC_POWER_FUNCTION] = s->power_function;
                v[DCPC_SETPOINTS_MODE] = s->setpoints_mode;
                v[DCPC_OUTPUT_CONTACTORS] = s->output_contactors;
                v[DCPC_LOWER_OUTPUT_VOLTAGE] = s->lower_output_voltage;
                return 0;
        }
        case CODEC_EV_INFORMATION_BATTERY: {
                const struct codec_ev_information_battery *s = &msg->u.ev_information_battery;

                v[EVB_BATTERY_CAPACITY] = s->battery_capacity_kwh;
                v[EVB_PRESENT_STATE_OF_CHARGE] = s->present_state_of_charge_pct;
                v[EVB_MINIMUM_STATE_OF_CHARGE] = s->minimum_state_of_charge_pct;
                v[EVB_TARGET_STATE_OF_CHARGE] = s->target_state_of_charge_pct;
                v[EVB_MAXIMUM_STATE_OF_CHARGE] = s->maximum_state_of_charge_pct;
                return 0;
        }
        case CODEC_EV_INFORMATION_VOLTAGES: {
                const struct codec_ev_information_voltages *s = &msg->u.ev_information_voltages;

                v[EVV_MINIMUM_VOLTAGE] = s->ev_minimum_voltage_dv;
                v[EVV_MAXIMUM_VOLTAGE] = s->ev_maximum_voltage_dv;
                v[EVV_PRESENT_VOLTAGE] = s->ev_present_voltage_dv;
                return 0;
        }
        case CODEC_EV_INFORMATION_CHARGE_LIMITS: {
                const struct codec_ev_information_charge_limits *s = &msg->u.ev_information_charge_limits;

                v[EVL_MINIMUM_CURRENT] = s->ev_minimum_charge_current_da;
                v[EVL_MAXIMUM_CURRENT] = s->ev_maximum_charge_current_da;
                v[EVL_MINIMUM_POWER] = s->ev_minimum_charge_power_kw;
                v[EVL_MAXIMUM_POWER] = s->ev_maximum_charge_power_kw;
                return 0;
        }
        case CODEC_EV_INFORMATION_DISCHARGE_LIMITS: {
                const struct codec_ev_information_discharge_limits *s =
                        &msg->u.ev_information_discharge_limits;

                v[EVL_MINIMUM_CURRENT] = s->ev_minimum_discharge_current_da;
                v[EVL_MAXIMUM_CURRENT] = s->ev_maximum_discharge_current_da;
                v[EVL_MINIMUM_POWER] = s->ev_minimum_discharge_power_kw;
                v[EVL_MAXIMUM_POWER] = s->ev_maximum_discharge_power_kw;
                return 0;
        }
        case CODEC_EV_INFORMATION_ENERGY: {
                const struct codec_ev_information_energy *s = &msg->u.ev_information_energy;

                v[EVE_MINIMUM_ENERGY_REQUEST] = s->ev_minimum_energy_request_kwh;
                v[EVE_TARGET_ENERGY_REQUEST] = s->ev_target_energy_request_kwh;
                v[EVE_MAXIMUM_ENERGY_REQUEST] = s->ev_maximum_energy_request_kwh;
                return 0;
        }
        case CODEC_OCPP_CONTROL:
                v[OCPP_DYNAMIC_TARGET_CURRENT] = msg->u.ocpp_control.dynamic_target_current_da;
                return 0;
        case CODEC_MSG_COUNT:
                break;
        }
        return -EINVAL;
}

/* Values -> typed struct.  The values come from raw fields of the table's
 * widths, so every one fits its struct member (checked by the unit tests at
 * the range edges). */
static void message_from_values(enum codec_msg_type type, const codec_values v,
                                struct codec_message *msg)
{
        memset(msg, 0, sizeof(*msg));
        msg->type = type;

        switch (type) {
        case CODEC_POWER_MODULES_STATUS: {
                struct codec_power_modules_status *s = &msg->u.power_modules_status;

                s->present_voltage_dv = (uint16_t)v[PMS_PRESENT_VOLTAGE];
                s->present_current_da = (int16_t)v[PMS_PRESENT_CURRENT];
                s->power_modules_temperature_c = (int16_t)v[PMS_POWER_MODULES_TEMPERATURE];
                s->enclosure_temperature_c = (int16_t)v[PMS_ENCLOSURE_TEMPERATURE];
                s->system_enable = (uint8_t)v[PMS_SYSTEM_ENABLE];
                s->insulation_resistance_kohm = (uint16_t)v[PMS_INSULATION_RESISTANCE];
                break;
        }
        case CODEC_POWER_MODULES_LIMITS: {
                struct codec_power_modules_limits *s = &msg->u.power_modules_limits;

                s->maximum_voltage_dv = (uint16_t)v[PML_MAXIMUM_VOLTAGE];
                s->maximum_current_da = (int16_t)v[PML_MAXIMUM_CURRENT];
                break;
        }
        case CODEC_SEQUENCE_CONTROL: {
                struct codec_sequence_control *s = &msg->u.sequence_control;

                s->start_charge_authorisation = v[SEQ_START_CHARGE_AUTHORISATION] != 0;
                s->chademo_start_button = v[SEQ_CHADEMO_START_BUTTON] != 0;
                s->ccs_authorisation_done = v[SEQ_CCS_AUTHORISATION_DONE] != 0;
                s->ccs_authorisation_valid = v[SEQ_CCS_AUTHORISATION_VALID] != 0;
                s->charge_parameters_done = v[SEQ_CHARGE_PARAMETERS_DONE] != 0;
                s->user_stop_button = v[SEQ_USER_STOP_BUTTON] != 0;
                break;
        }
        case CODEC_ADM_CS_SECC_OUTPUTS: {
                struct codec_adm_cs_secc_outputs *s = &msg->u.adm_cs_secc_outputs;

                s->digital_output[0] = v[SECCO_DIGITAL_OUTPUT1] != 0;
                s->digital_output[1] = v[SECCO_DIGITAL_OUTPUT2] != 0;
                s->digital_output[2] = v[SECCO_DIGITAL_OUTPUT3] != 0;
                s->digital_output[3] = v[SECCO_DIGITAL_OUTPUT4] != 0;
                s->led[0] = (uint8_t)v[SECCO_LED1];
                s->led[1] = (uint8_t)v[SECCO_LED2];
                s->led[2] = (uint8_t)v[SECCO_LED3];
                break;
        }
        case CODEC_ADM_CS_SPCC_OUTPUTS: {
                struct codec_adm_cs_spcc_outputs *s = &msg->u.adm_cs_spcc_outputs;

                s->digital_output[0] = v[SPCCO_DIGITAL_OUTPUT1] != 0;
                s->digital_output[1] = v[SPCCO_DIGITAL_OUTPUT2] != 0;
                s->led[0] = (uint8_t)v[SPCCO_LED1];
                s->led[1] = (uint8_t)v[SPCCO_LED2];
                s->led[2] = (uint8_t)v[SPCCO_LED3];
                break;
        }
        case CODEC_NEW_CHARGE_SESSION: {
                struct codec_new_charge_session *s = &msg->u.new_charge_session;

                s->communication_protocol = (uint8_t)v[NCS_COMMUNICATION_PROTOCOL];
                s->plug_and_pins = (uint8_t)v[NCS_PLUG_AND_PINS];
                s->ev_maximum_voltage_dv = (uint16_t)v[NCS_EV_MAXIMUM_VOLTAGE];
                s->ev_maximum_current_da = (uint16_t)v[NCS_EV_MAXIMUM_CURRENT];
                s->battery_capacity_kwh = (uint16_t)v[NCS_BATTERY_CAPACITY];
                s->state_of_charge_pct = (uint8_t)v[NCS_STATE_OF_CHARGE];
                break;
        }
        case CODEC_INSULATION_TEST:
                msg->u.insulation_test.test_voltage_dv = (uint16_t)v[INS_TEST_VOLTAGE];
                break;
        case CODEC_PRECHARGE:
                msg->u.precharge.target_voltage_dv = (uint16_t)v[PRE_TARGET_VOLTAGE];
                msg->u.precharge.maximum_current_da = (uint16_t)v[PRE_MAXIMUM_CURRENT];
                break;
        case CODEC_CHARGE_STATUS_CHANGE:
                msg->u.charge_status_change.vehicle_ready_for_charging =
                        (uint8_t)v[CSC_VEHICLE_READY_FOR_CHARGING];
                break;
        case CODEC_CHARGING_LOOP:
                msg->u.charging_loop.target_voltage_dv = (uint16_t)v[CL_TARGET_VOLTAGE];
                msg->u.charging_loop.target_current_da = (int16_t)v[CL_TARGET_CURRENT];
                msg->u.charging_loop.state_of_charge_pct = (uint8_t)v[CL_STATE_OF_CHARGE];
                break;
        case CODEC_EMERGENCY_STOP:
                msg->u.emergency_stop.origin = (uint8_t)v[ESTOP_ORIGIN];
                break;
        case CODEC_CHARGE_SESSION_FINISHED:
                msg->u.charge_session_finished.state = (uint8_t)v[CSF_STATE];
                break;
        case CODEC_ADVANTICS_CONTROLLER_STATUS:
                msg->u.advantics_controller_status.state = (uint8_t)v[ACS_STATE];
                break;
        case CODEC_ADM_CO_CUI1_INPUTS: {
                struct codec_adm_co_cui1_inputs *s = &msg->u.adm_co_cui1_inputs;

                s->switch_input[0] = v[CUI1_SWITCH0] != 0;
                s->switch_input[1] = v[CUI1_SWITCH1] != 0;
                s->switch_input[2] = v[CUI1_SWITCH2] != 0;
                s->switch_input[3] = v[CUI1_SWITCH3] != 0;
                s->switch_input[4] = v[CUI1_SWITCH4] != 0;
                s->switch_input[5] = v[CUI1_SWITCH5] != 0;
                s->colibri_temperature_c = (int16_t)v[CUI1_COLIBRI_TEMPERATURE];
                s->cpu_temperature_c = (int16_t)v[CUI1_CPU_TEMPERATURE];
                s->pistol_ptc1_c = (int16_t)v[CUI1_PISTOL_PTC1];
                s->pistol_ptc2_c = (int16_t)v[CUI1_PISTOL_PTC2];
                break;
        }
        case CODEC_ADM_CS_SECC_INPUTS: {
                struct codec_adm_cs_secc_inputs *s = &msg->u.adm_cs_secc_inputs;

                s->digital_input[0] = v[SECCI_DIGITAL_INPUT1] != 0;
                s->digital_input[1] = v[SECCI_DIGITAL_INPUT2] != 0;
                s->digital_input[2] = v[SECCI_DIGITAL_INPUT3] != 0;
                s->digital_input[3] = v[SECCI_DIGITAL_INPUT4] != 0;
                s->cpu_temperature_c = (int16_t)v[SECCI_CPU_TEMPERATURE];
                s->pistol_ptc1_c = (int16_t)v[SECCI_PISTOL_PTC1];
                s->pistol_ptc2_c = (int16_t)v[SECCI_PISTOL_PTC2];
                break;
        }
        case CODEC_EV_ID_CCS_PART2_DIN: {
                struct codec_ev_id_ccs_part2_din *s = &msg->u.ev_id_ccs_part2_din;

                s->byte[0] = (uint8_t)v[EVID_BYTE0];
                s->byte[1] = (uint8_t)v[EVID_BYTE1];
                s->byte[2] = (uint8_t)v[EVID_BYTE2];
                s->byte[3] = (uint8_t)v[EVID_BYTE3];
                s->byte[4] = (uint8_t)v[EVID_BYTE4];
                s->byte[5] = (uint8_t)v[EVID_BYTE5];
                break;
        }
        case CODEC_ADM_CS_SPCC_INPUTS: {
                struct codec_adm_cs_spcc_inputs *s = &msg->u.adm_cs_spcc_inputs;

                s->digital_input[0] = v[SPCCI_DIGITAL_INPUT1] != 0;
                s->digital_input[1] = v[SPCCI_DIGITAL_INPUT2] != 0;
                s->digital_input[2] = v[SPCCI_DIGITAL_INPUT3] != 0;
                s->digital_input[3] = v[SPCCI_DIGITAL_INPUT4] != 0;
                s->cpu_temperature0_c = (int16_t)v[SPCCI_CPU_TEMPERATURE0];
                s->cpu_temperature1_c = (int16_t)v[SPCCI_CPU_TEMPERATURE1];
                s->pt1k_a_c = (int16_t)v[SPCCI_PT1K_A];
                s->pt1k_b_c = (int16_t)v[SPCCI_PT1K_B];
                s->pt1ks_c_c = (int16_t)v[SPCCI_PT1KS_C];
                s->pt1ks_d_c = (int16_t)v[SPCCI_PT1KS_D];
                break;
        }
        case CODEC_CCS_EXTRA_INFORMATION:
                msg->u.ccs_extra_information.cp_state = (uint8_t)v[CCSX_CP_STATE];
                msg->u.ccs_extra_information.cp_duty_cycle_permille =
                        (uint16_t)v[CCSX_CP_DUTY_CYCLE];
                break;
        case CODEC_MCS_EXTRA_INFORMATION:
                msg->u.mcs_extra_information.ce_state = (uint8_t)v[MCSX_CE_STATE];
                msg->u.mcs_extra_information.id_state = (uint8_t)v[MCSX_ID_STATE];
                break;
        case CODEC_DC_POWER_PARAMETERS: {
                struct codec_dc_power_parameters *s = &msg->u.dc_power_parameters;

                s->maximum_voltage_dv = (uint16_t)v[DCPP_MAXIMUM_VOLTAGE];
                s->maximum_charge_current_da = (uint16_t)v[DCPP_MAXIMUM_CHARGE_CURRENT];
                s->maximum_discharge_current_da = (uint16_t)v[DCPP_MAXIMUM_DISCHARGE_CURRENT];
                s->range_target_current_da = (int16_t)v[DCPP_RANGE_TARGET_CURRENT];
                break;
        }
        case CODEC_NEW_CHARGE_SESSION_V3:
                msg->u.new_charge_session_v3.communication_protocol =
                        (uint8_t)v[NCS3_COMMUNICATION_PROTOCOL];
                msg->u.new_charge_session_v3.plug_and_pins = (uint8_t)v[NCS3_PLUG_AND_PINS];
                break;
        case CODEC_DC_POWER_CONTROL: {
                struct codec_dc_power_control *s = &msg->u.dc_power_control;

                s->target_voltage_dv = (uint16_t)v[DCPC_TARGET_VOLTAGE];
                s->current_range_max_da = (int16_t)v[DCPC_CURRENT_RANGE_MAX];
                s->current_range_min_da = (int16_t)v[DCPC_CURRENT_RANGE_MIN];
                s->power_function = (uint8_t)v[DCPC_POWER_FUNCTION];
                s->setpoints_mode = (uint8_t)v[DCPC_SETPOINTS_MODE];
                s->output_contactors = v[DCPC_OUTPUT_CONTACTORS] != 0;
                s->lower_output_voltage = v[DCPC_LOWER_OUTPUT_VOLTAGE] != 0;
                break;
        }
        case CODEC_EV_INFORMATION_BATTERY: {
                struct codec_ev_information_battery *s = &msg->u.ev_information_battery;

                s->battery_capacity_kwh = (uint16_t)v[EVB_BATTERY_CAPACITY];
                s->present_state_of_charge_pct = (uint8_t)v[EVB_PRESENT_STATE_OF_CHARGE];
                s->minimum_state_of_charge_pct = (uint8_t)v[EVB_MINIMUM_STATE_OF_CHARGE];
                s->target_state_of_charge_pct = (uint8_t)v[EVB_TARGET_STATE_OF_CHARGE];
                s->maximum_state_of_charge_pct = (uint8_t)v[EVB_MAXIMUM_STATE_OF_CHARGE];
                break;
        }
        case CODEC_EV_INFORMATION_VOLTAGES: {
                struct codec_ev_information_voltages *s = &msg->u.ev_information_voltages;

                s->ev_minimum_voltage_dv = (uint16_t)v[EVV_MINIMUM_VOLTAGE];
                s->ev_maximum_voltage_dv = (uint16_t)v[EVV_MAXIMUM_VOLTAGE];
                s->ev_present_voltage_dv = (uint16_t)v[EVV_PRESENT_VOLTAGE];
                break;
        }
        case CODEC_EV_INFORMATION_CHARGE_LIMITS: {
                struct codec_ev_information_charge_limits *s = &msg->u.ev_information_charge_limits;

                s->ev_minimum_charge_current_da = (uint16_t)v[EVL_MINIMUM_CURRENT];
                s->ev_maximum_charge_current_da = (uint16_t)v[EVL_MAXIMUM_CURRENT];
                s->ev_minimum_charge_power_kw = (uint16_t)v[EVL_MINIMUM_POWER];
                s->ev_maximum_charge_power_kw = (uint16_t)v[EVL_MAXIMUM_POWER];
                break;
        }
        case CODEC_EV_INFORMATION_DISCHARGE_LIMITS: {
                struct codec_ev_information_discharge_limits *s = &msg->u.ev_information_discharge_limits;

                s->ev_minimum_discharge_current_da = (uint16_t)v[EVL_MINIMUM_CURRENT];
                s->ev_maximum_discharge_current_da = (uint16_t)v[EVL_MAXIMUM_CURRENT];
                s->ev_minimum_discharge_power_kw = (uint16_t)v[EVL_MINIMUM_POWER];
                s->ev_maximum_discharge_power_kw = (uint16_t)v[EVL_MAXIMUM_POWER];
                break;
        }
        case CODEC_EV_INFORMATION_ENERGY: {
                struct codec_ev_information_energy *s = &msg->u.ev_information_energy;

                s->ev_minimum_energy_request_kwh = (int16_t)v[EVE_MINIMUM_ENERGY_REQUEST];
                s->ev_target_energy_request_kwh = (int16_t)v[EVE_TARGET_ENERGY_REQUEST];
                s->ev_maximum_energy_request_kwh = (int16_t)v[EVE_MAXIMUM_ENERGY_REQUEST];
                break;
        }
        case CODEC_OCPP_CONTROL:
                msg->u.ocpp_control.dynamic_target_current_da = (int16_t)v[OCPP_DYNAMIC_TARGET_CURRENT];
                break;
        case CODEC_MSG_COUNT:
                break;
        }
}

int codec_decode(const struct codec_db *db, const struct codec_frame *frame, uint8_t pistol,
                 struct codec_message *out)
{
        const struct codec_msg_info *m;
        codec_values v = { 0 };

        if (!db || !frame || !out || frame->len > CODEC_MAX_DLC ||
            pistol < CODEC_PISTOL_MIN || pistol > CODEC_PISTOL_MAX)
                return -EINVAL;
        if (!frame->extended || (frame->id & ~CODEC_ID_EXT_MASK) != 0)
                return -ENOMSG;
        if ((frame->id & CODEC_ID_PISTOL_MASK) >> CODEC_ID_PISTOL_SHIFT != pistol)
                return -ENOMSG;
        m = codec_msg_info_by_id(db, frame->id);
        if (!m)
                return -ENOMSG;
        /* Shorter than the database length: a field would be missing, drop
         * it.  Longer: the extra bytes are not ours to judge. */
        if (frame->len < m->dlc)
                return -EBADMSG;

        for (size_t i = 0; i < m->n_signals; i++)
                if (!m->signals[i].reserved)
                        v[i] = codec_signal_to_fixed(&m->signals[i],
                                                     codec_signal_get_raw(frame->data,
                                                                          &m->signals[i]));
        message_from_values(m->type, v, out);
        return 0;
}

int codec_encode(const struct codec_db *db, const struct codec_message *msg, uint8_t pistol,
                 struct codec_frame *out)
{
        const struct codec_msg_info *m;
        struct codec_frame f;
        codec_values v = { 0 };

        if (!db || !msg || !out || pistol < CODEC_PISTOL_MIN || pistol > CODEC_PISTOL_MAX)
                return -EINVAL;
        m = codec_msg_info(db, msg->type);
        if (!m || values_from_message(msg, v) < 0)
                return -EINVAL;

        memset(&f, 0, sizeof(f));
        f.id = m->base_id | ((uint32_t)pistol << CODEC_ID_PISTOL_SHIFT);
        f.extended = true;
        f.len = m->dlc;
        for (size_t i = 0; i < m->n_signals; i++) {
                const struct codec_signal_info *sig = &m->signals[i];

                if (sig->reserved)
                        continue;
                /* put_raw clamps to the raw range (e.g. 600 kOhm -> 255,
                 * -50 degC -> raw 0). */
                codec_signal_put_raw(f.data, sig,
                                     div_round(v[i] - offset_fixed(sig), scale_fixed(sig)));
        }
        *out = f;
        return 0;
}
