/* SPDX-License-Identifier: MIT */
/*
 * Codec of the v2.7 and v3.6 message sets: the example frames of the
 * protocol summary (Appendix, v2.7 and v3.6 rows) and a hand-computed frame
 * for every other message, both directions; range edges of every signal;
 * clamping; reserved and undeclared bits; frame length and identifier
 * handling; the tables the two databases share; frames of one database are
 * not frames of the other.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "seccbridge/codec.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/* The database of the tests below; the v3.6 ones name theirs. */
#define V2 (&codec_db_v2_7)

static struct codec_frame make_frame(uint32_t id, uint8_t len, const uint8_t *data)
{
        struct codec_frame f;

        memset(&f, 0, sizeof(f));
        f.id = id;
        f.extended = true;
        f.len = len;
        memcpy(f.data, data, len);
        return f;
}

static bool frames_equal(const struct codec_frame *a, const struct codec_frame *b)
{
        return a->id == b->id && a->extended == b->extended && a->len == b->len &&
               memcmp(a->data, b->data, sizeof(a->data)) == 0;
}

/* ---- example frames, both directions ---- */

struct example {
        const char *what;
        uint32_t id;            /* on-bus ID, pistol 1 */
        uint8_t len;
        uint8_t data[8];
        struct codec_message msg;
};

static const struct example examples[] = {
        /* Appendix, v2.7 rows */
        { "PMS 400 V 125.3 A", 0x01060010, 8, { 0xA0, 0x0F, 0xE5, 0x04, 0x55, 0x46, 0x01, 0xFF },
          { .type = CODEC_POWER_MODULES_STATUS, .u.power_modules_status = {
                  .present_voltage_dv = 4000, .present_current_da = 1253,
                  .power_modules_temperature_c = 45, .enclosure_temperature_c = 30,
                  .system_enable = CODEC_SYSTEM_ENABLE_ALLOWED,
                  .insulation_resistance_kohm = 510 } } },
        { "PMS -1.5 A 0 degC", 0x01060010, 8, { 0x00, 0x00, 0xF1, 0xFF, 0x28, 0x28, 0x00, 0x00 },
          { .type = CODEC_POWER_MODULES_STATUS, .u.power_modules_status = {
                  .present_current_da = -15 } } },
        { "Sequence_Control flags", 0x01060012, 3, { 0x01, 0x07, 0x00 },
          { .type = CODEC_SEQUENCE_CONTROL, .u.sequence_control = {
                  .start_charge_authorisation = true, .ccs_authorisation_done = true,
                  .ccs_authorisation_valid = true, .charge_parameters_done = true } } },
        { "Sequence_Control stop", 0x01060012, 3, { 0x01, 0x07, 0x01 },
          { .type = CODEC_SEQUENCE_CONTROL, .u.sequence_control = {
                  .start_charge_authorisation = true, .ccs_authorisation_done = true,
                  .ccs_authorisation_valid = true, .charge_parameters_done = true,
                  .user_stop_button = true } } },
        { "Power_Modules_Limits 920 V", 0x01060011, 8, { 0xF0, 0x23, 0, 0, 0, 0, 0, 0 },
          { .type = CODEC_POWER_MODULES_LIMITS, .u.power_modules_limits = {
                  .maximum_voltage_dv = 9200 } } },
        { "Insulation_Test 500 V", 0x01068002, 2, { 0x88, 0x13 },
          { .type = CODEC_INSULATION_TEST, .u.insulation_test = { .test_voltage_dv = 5000 } } },
        { "Precharge 387.5 V 2 A", 0x01068003, 4, { 0x23, 0x0F, 0x14, 0x00 },
          { .type = CODEC_PRECHARGE, .u.precharge = {
                  .target_voltage_dv = 3875, .maximum_current_da = 20 } } },
        { "Charging_Loop 450 V 200 A", 0x01068005, 5, { 0x94, 0x11, 0xD0, 0x07, 0x37 },
          { .type = CODEC_CHARGING_LOOP, .u.charging_loop = {
                  .target_voltage_dv = 4500, .target_current_da = 2000,
                  .state_of_charge_pct = 55 } } },
        { "Charging_Loop standby", 0x01068005, 5, { 0, 0, 0, 0, 0 },
          { .type = CODEC_CHARGING_LOOP } },
        { "Controller Charging", 0x01068009, 1, { 0x07 },
          { .type = CODEC_ADVANTICS_CONTROLLER_STATUS,
            .u.advantics_controller_status = { .state = CODEC_STATE_CHARGING } } },

        /* The other messages, computed by hand from the KCD layout. */
        { "ADM_CS_SECC_Outputs", 0x01060013, 8, { 0x45, 0xB6, 0xCA, 0x03, 0, 0, 0, 0 },
          { .type = CODEC_ADM_CS_SECC_OUTPUTS, .u.adm_cs_secc_outputs = {
                  .digital_output = { true, false, true, false },
                  .led = { 100, 0xAB, 0x3C } } } },
        { "ADM_CS_SPCC_Outputs", 0x01060014, 8, { 0xFE, 0x07, 0x00, 0x02, 0, 0, 0, 0 },
          { .type = CODEC_ADM_CS_SPCC_OUTPUTS, .u.adm_cs_spcc_outputs = {
                  .digital_output = { false, true }, .led = { 0xFF, 0x01, 0x80 } } } },
        { "New_Charge_Session", 0x01068001, 8, { 0x02, 0x00, 0xF0, 0x23, 0xAC, 0x0D, 0x28, 0x14 },
          { .type = CODEC_NEW_CHARGE_SESSION, .u.new_charge_session = {
                  .communication_protocol = CODEC_PROTOCOL_CCS_ISO_15118_2013_V2,
                  .plug_and_pins = CODEC_PLUG_CCS_DC_CORE, .ev_maximum_voltage_dv = 9200,
                  .ev_maximum_current_da = 3500, .battery_capacity_kwh = 80,
                  .state_of_charge_pct = 20 } } },
        { "Charge_Status_Change", 0x01068004, 1, { 0x01 },
          { .type = CODEC_CHARGE_STATUS_CHANGE, .u.charge_status_change = {
                  .vehicle_ready_for_charging = CODEC_CHARGE_STARTED } } },
        { "Emergency_Stop", 0x01068006, 1, { 0x03 },
          { .type = CODEC_EMERGENCY_STOP, .u.emergency_stop = { .origin = CODEC_ESTOP_ORIGIN_PEV } } },
        { "Charge_Session_Finished", 0x01068007, 1, { 0x01 },
          { .type = CODEC_CHARGE_SESSION_FINISHED, .u.charge_session_finished = {
                  .state = CODEC_FINISHED_RUSHED_STOP } } },
        { "ADM_CO_CUI1_Inputs", 0x0106800A, 8, { 0x29, 0, 0, 0, 0x41, 0x5A, 0x00, 0xFF },
          { .type = CODEC_ADM_CO_CUI1_INPUTS, .u.adm_co_cui1_inputs = {
                  .switch_input = { true, false, false, true, false, true },
                  .colibri_temperature_c = 25, .cpu_temperature_c = 50,
                  .pistol_ptc1_c = -40, .pistol_ptc2_c = 215 } } },
        { "ADM_CS_SECC_Inputs", 0x0106800B, 8, { 0x0A, 0, 0, 0, 0, 0x64, 0x28, 0x27 },
          { .type = CODEC_ADM_CS_SECC_INPUTS, .u.adm_cs_secc_inputs = {
                  .digital_input = { false, true, false, true },
                  .cpu_temperature_c = 60, .pistol_ptc1_c = 0, .pistol_ptc2_c = -1 } } },
        { "EV_ID_CCS_Part2_DIN", 0x0106800C, 6, { 0x00, 0x1A, 0x2B, 0x3C, 0x4D, 0x5E },
          { .type = CODEC_EV_ID_CCS_PART2_DIN, .u.ev_id_ccs_part2_din = {
                  .byte = { 0x00, 0x1A, 0x2B, 0x3C, 0x4D, 0x5E } } } },
        { "ADM_CS_SPCC_Inputs", 0x0106800D, 8, { 0x01, 0x46, 0x47, 0x00, 0x8C, 0x00, 0x3C, 0x3D },
          { .type = CODEC_ADM_CS_SPCC_INPUTS, .u.adm_cs_spcc_inputs = {
                  .digital_input = { true, false, false, false },
                  .cpu_temperature0_c = 30, .cpu_temperature1_c = 31, .pt1k_a_c = -40,
                  .pt1k_b_c = 100, .pt1ks_c_c = 20, .pt1ks_d_c = 21 } } },
        { "CCS_Extra_Information", 0x0106800E, 8, { 0x09, 0x32, 0x00, 0, 0, 0, 0, 0 },
          { .type = CODEC_CCS_EXTRA_INFORMATION, .u.ccs_extra_information = {
                  .cp_state = 9, .cp_duty_cycle_permille = 50 } } },
        { "MCS_Extra_Information", 0x0106800F, 8, { 0x06, 0x01, 0, 0, 0, 0, 0, 0 },
          { .type = CODEC_MCS_EXTRA_INFORMATION, .u.mcs_extra_information = {
                  .ce_state = 6, .id_state = 1 } } },
};

/* v3.6: the Appendix rows, then the other messages by hand from the KCD
 * layout (the shared payloads with the bytes of their v2.7 examples, only
 * the identifier differs). */
static const struct example examples_v3[] = {
        { "v3 PMS 400 V -50 A", 0x01063000, 8, { 0xA0, 0x0F, 0x0C, 0xFE, 0x55, 0x46, 0x01, 0xFF },
          { .type = CODEC_POWER_MODULES_STATUS, .u.power_modules_status = {
                  .present_voltage_dv = 4000, .present_current_da = -500,
                  .power_modules_temperature_c = 45, .enclosure_temperature_c = 30,
                  .system_enable = CODEC_SYSTEM_ENABLE_ALLOWED,
                  .insulation_resistance_kohm = 510 } } },
        { "DC_Power_Parameters", 0x01063001, 8, { 0x10, 0x27, 0xB8, 0x0B, 0xE8, 0x03, 0x38, 0xFF },
          { .type = CODEC_DC_POWER_PARAMETERS, .u.dc_power_parameters = {
                  .maximum_voltage_dv = 10000, .maximum_charge_current_da = 3000,
                  .maximum_discharge_current_da = 1000, .range_target_current_da = -200 } } },
        { "DC_Power_Control insulation test", 0x0106B003, 7, { 0x88, 0x13, 0, 0, 0, 0, 0x42 },
          { .type = CODEC_DC_POWER_CONTROL, .u.dc_power_control = {
                  .target_voltage_dv = 5000,
                  .power_function = CODEC_POWER_FUNCTION_INSULATION_TEST,
                  .setpoints_mode = CODEC_SETPOINTS_TARGET_MODE, .output_contactors = true } } },
        { "DC_Power_Control precharge", 0x0106B003, 7, { 0x23, 0x0F, 0x14, 0x00, 0, 0, 0x64 },
          { .type = CODEC_DC_POWER_CONTROL, .u.dc_power_control = {
                  .target_voltage_dv = 3875, .current_range_max_da = 20,
                  .power_function = CODEC_POWER_FUNCTION_PRECHARGE,
                  .setpoints_mode = CODEC_SETPOINTS_RANGE_MODE, .output_contactors = true } } },
        { "DC_Power_Control transfer target", 0x0106B003, 7, { 0x94, 0x11, 0xD0, 0x07, 0xD0, 0x07, 0x48 },
          { .type = CODEC_DC_POWER_CONTROL, .u.dc_power_control = {
                  .target_voltage_dv = 4500, .current_range_max_da = 2000,
                  .current_range_min_da = 2000,
                  .power_function = CODEC_POWER_FUNCTION_POWER_TRANSFER,
                  .setpoints_mode = CODEC_SETPOINTS_TARGET_MODE, .output_contactors = true } } },
        { "DC_Power_Control transfer range", 0x0106B003, 7, { 0x40, 0x1F, 0xDC, 0x05, 0x18, 0xFC, 0x68 },
          { .type = CODEC_DC_POWER_CONTROL, .u.dc_power_control = {
                  .target_voltage_dv = 8000, .current_range_max_da = 1500,
                  .current_range_min_da = -1000,
                  .power_function = CODEC_POWER_FUNCTION_POWER_TRANSFER,
                  .setpoints_mode = CODEC_SETPOINTS_RANGE_MODE, .output_contactors = true } } },
        { "DC_Power_Control standby", 0x0106B003, 7, { 0, 0, 0, 0, 0, 0, 0x41 },
          { .type = CODEC_DC_POWER_CONTROL, .u.dc_power_control = {
                  .power_function = CODEC_POWER_FUNCTION_STANDBY, .output_contactors = true } } },
        { "DC_Power_Control standby lowering", 0x0106B003, 7, { 0, 0, 0, 0, 0, 0, 0x81 },
          { .type = CODEC_DC_POWER_CONTROL, .u.dc_power_control = {
                  .power_function = CODEC_POWER_FUNCTION_STANDBY, .lower_output_voltage = true } } },
        { "v3 New_Charge_Session", 0x0106B001, 2, { 0x07, 0x04 },
          { .type = CODEC_NEW_CHARGE_SESSION_V3, .u.new_charge_session_v3 = {
                  .communication_protocol = CODEC_PROTOCOL_CCS_ISO_15118_2022,
                  .plug_and_pins = CODEC_PLUG_MCS } } },
        { "OCPP_Control -32 A", 0x0106B300, 2, { 0xC0, 0xFE },
          { .type = CODEC_OCPP_CONTROL, .u.ocpp_control = { .dynamic_target_current_da = -320 } } },

        { "EV_Information_Battery", 0x0106B100, 6, { 0x4B, 0x00, 0x2A, 0x14, 0x50, 0x64 },
          { .type = CODEC_EV_INFORMATION_BATTERY, .u.ev_information_battery = {
                  .battery_capacity_kwh = 75, .present_state_of_charge_pct = 42,
                  .minimum_state_of_charge_pct = 20, .target_state_of_charge_pct = 80,
                  .maximum_state_of_charge_pct = 100 } } },
        { "EV_Information_Voltages", 0x0106B101, 6, { 0xC4, 0x09, 0xF0, 0x23, 0x93, 0x0F },
          { .type = CODEC_EV_INFORMATION_VOLTAGES, .u.ev_information_voltages = {
                  .ev_minimum_voltage_dv = 2500, .ev_maximum_voltage_dv = 9200,
                  .ev_present_voltage_dv = 3987 } } },
        { "EV_Information_Charge_Limits", 0x0106B102, 8, { 0x0A, 0x00, 0xAC, 0x0D, 0x01, 0x00, 0x96, 0x00 },
          { .type = CODEC_EV_INFORMATION_CHARGE_LIMITS, .u.ev_information_charge_limits = {
                  .ev_minimum_charge_current_da = 10, .ev_maximum_charge_current_da = 3500,
                  .ev_minimum_charge_power_kw = 1, .ev_maximum_charge_power_kw = 150 } } },
        { "EV_Information_Discharge_Limits", 0x0106B103, 8, { 0x05, 0x00, 0xE8, 0x03, 0x00, 0x00, 0x0B, 0x00 },
          { .type = CODEC_EV_INFORMATION_DISCHARGE_LIMITS, .u.ev_information_discharge_limits = {
                  .ev_minimum_discharge_current_da = 5, .ev_maximum_discharge_current_da = 1000,
                  .ev_minimum_discharge_power_kw = 0, .ev_maximum_discharge_power_kw = 11 } } },
        { "EV_Information_Energy", 0x0106B104, 6, { 0x05, 0x00, 0x1E, 0x00, 0xF4, 0xFF },
          { .type = CODEC_EV_INFORMATION_ENERGY, .u.ev_information_energy = {
                  .ev_minimum_energy_request_kwh = 5, .ev_target_energy_request_kwh = 30,
                  .ev_maximum_energy_request_kwh = -12 } } },

        { "v3 Sequence_Control flags", 0x01063002, 3, { 0x01, 0x07, 0x00 },
          { .type = CODEC_SEQUENCE_CONTROL, .u.sequence_control = {
                  .start_charge_authorisation = true, .ccs_authorisation_done = true,
                  .ccs_authorisation_valid = true, .charge_parameters_done = true } } },
        { "v3 ADM_CS_SECC_Outputs", 0x01063201, 8, { 0x45, 0xB6, 0xCA, 0x03, 0, 0, 0, 0 },
          { .type = CODEC_ADM_CS_SECC_OUTPUTS, .u.adm_cs_secc_outputs = {
                  .digital_output = { true, false, true, false },
                  .led = { 100, 0xAB, 0x3C } } } },
        { "v3 ADM_CS_SPCC_Outputs", 0x01063202, 8, { 0xFE, 0x07, 0x00, 0x02, 0, 0, 0, 0 },
          { .type = CODEC_ADM_CS_SPCC_OUTPUTS, .u.adm_cs_spcc_outputs = {
                  .digital_output = { false, true }, .led = { 0xFF, 0x01, 0x80 } } } },
        { "v3 Controller Charging", 0x0106B000, 1, { 0x07 },
          { .type = CODEC_ADVANTICS_CONTROLLER_STATUS,
            .u.advantics_controller_status = { .state = CODEC_STATE_CHARGING } } },
        { "v3 Charge_Status_Change", 0x0106B002, 1, { 0x01 },
          { .type = CODEC_CHARGE_STATUS_CHANGE, .u.charge_status_change = {
                  .vehicle_ready_for_charging = CODEC_CHARGE_STARTED } } },
        /* The order swapped in v3: Charge_Session_Finished 0x6B004,
         * Emergency_Stop 0x6B005 (part D.7). */
        { "v3 Charge_Session_Finished", 0x0106B004, 1, { 0x01 },
          { .type = CODEC_CHARGE_SESSION_FINISHED, .u.charge_session_finished = {
                  .state = CODEC_FINISHED_RUSHED_STOP } } },
        { "v3 Emergency_Stop", 0x0106B005, 1, { 0x03 },
          { .type = CODEC_EMERGENCY_STOP, .u.emergency_stop = { .origin = CODEC_ESTOP_ORIGIN_PEV } } },
        { "v3 EV_ID_CCS_Part2_DIN", 0x0106B105, 6, { 0x00, 0x1A, 0x2B, 0x3C, 0x4D, 0x5E },
          { .type = CODEC_EV_ID_CCS_PART2_DIN, .u.ev_id_ccs_part2_din = {
                  .byte = { 0x00, 0x1A, 0x2B, 0x3C, 0x4D, 0x5E } } } },
        { "v3 ADM_CO_CUI1_Inputs", 0x0106B200, 8, { 0x29, 0, 0, 0, 0x41, 0x5A, 0x00, 0xFF },
          { .type = CODEC_ADM_CO_CUI1_INPUTS, .u.adm_co_cui1_inputs = {
                  .switch_input = { true, false, false, true, false, true },
                  .colibri_temperature_c = 25, .cpu_temperature_c = 50,
                  .pistol_ptc1_c = -40, .pistol_ptc2_c = 215 } } },
        { "v3 ADM_CS_SECC_Inputs", 0x0106B201, 8, { 0x0A, 0, 0, 0, 0, 0x64, 0x28, 0x27 },
          { .type = CODEC_ADM_CS_SECC_INPUTS, .u.adm_cs_secc_inputs = {
                  .digital_input = { false, true, false, true },
                  .cpu_temperature_c = 60, .pistol_ptc1_c = 0, .pistol_ptc2_c = -1 } } },
        { "v3 ADM_CS_SPCC_Inputs", 0x0106B202, 8, { 0x01, 0x46, 0x47, 0x00, 0x8C, 0x00, 0x3C, 0x3D },
          { .type = CODEC_ADM_CS_SPCC_INPUTS, .u.adm_cs_spcc_inputs = {
                  .digital_input = { true, false, false, false },
                  .cpu_temperature0_c = 30, .cpu_temperature1_c = 31, .pt1k_a_c = -40,
                  .pt1k_b_c = 100, .pt1ks_c_c = 20, .pt1ks_d_c = 21 } } },
        { "v3 CCS_Extra_Information", 0x0106B203, 8, { 0x09, 0x32, 0x00, 0, 0, 0, 0, 0 },
          { .type = CODEC_CCS_EXTRA_INFORMATION, .u.ccs_extra_information = {
                  .cp_state = 9, .cp_duty_cycle_permille = 50 } } },
        { "v3 MCS_Extra_Information", 0x0106B204, 8, { 0x06, 0x01, 0, 0, 0, 0, 0, 0 },
          { .type = CODEC_MCS_EXTRA_INFORMATION, .u.mcs_extra_information = {
                  .ce_state = 6, .id_state = 1 } } },
};

static void check_examples_cover(const struct codec_db *db, const struct example *ex, size_t n)
{
        bool seen[CODEC_MSG_COUNT] = { false };

        for (size_t i = 0; i < n; i++)
                seen[ex[i].msg.type] = true;
        for (size_t t = 0; t < db->n_messages; t++)
                if (!seen[db->messages[t].type])
                        fail_msg("no example frame for %s", db->messages[t].name);
}

static void check_examples_encode(const struct codec_db *db, const struct example *ex, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                const struct example *e = &ex[i];
                struct codec_frame f;

                assert_int_equal(codec_encode(db, &e->msg, 1, &f), 0);
                if (f.id != e->id || !f.extended || f.len != e->len ||
                    memcmp(f.data, e->data, e->len) != 0)
                        fail_msg("%s: encoded differently", e->what);
                /* Bytes past the DLC are never sent and stay 0. */
                for (size_t b = e->len; b < CODEC_MAX_DLC; b++)
                        assert_int_equal(f.data[b], 0);
        }
}

static void check_examples_decode(const struct codec_db *db, const struct example *ex, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                const struct example *e = &ex[i];
                struct codec_frame f = make_frame(e->id, e->len, e->data);
                struct codec_message m, want;

                memset(&want, 0, sizeof(want));
                want.type = e->msg.type;
                want.u = e->msg.u;
                memset(&m, 0xA5, sizeof(m));
                assert_int_equal(codec_decode(db, &f, 1, &m), 0);
                if (memcmp(&m, &want, sizeof(m)) != 0)
                        fail_msg("%s: decoded differently", e->what);
        }
}

static void test_examples_cover_every_message(void **state)
{
        (void)state;
        check_examples_cover(V2, examples, N_ELEMENTS(examples));
}

static void test_examples_encode(void **state)
{
        (void)state;
        check_examples_encode(V2, examples, N_ELEMENTS(examples));
}

static void test_examples_decode(void **state)
{
        (void)state;
        check_examples_decode(V2, examples, N_ELEMENTS(examples));
}

/* ---- the table itself ---- */

static void check_table_layout(const struct codec_db *db)
{
        assert_null(codec_msg_info(db, CODEC_MSG_COUNT));
        for (size_t t = 0; t < db->n_messages; t++) {
                const struct codec_msg_info *m = &db->messages[t];
                uint64_t used = 0;

                assert_non_null(m);
                assert_ptr_equal(codec_msg_info(db, m->type), m);
                assert_ptr_equal(codec_msg_info_by_name(db, m->name), m);
                assert_ptr_equal(codec_msg_info_by_id(db, m->base_id), m);
                assert_ptr_equal(codec_msg_info_by_id(db, m->base_id | 0x1F000000u), m);
                assert_true(m->dlc >= 1 && m->dlc <= 8);
                assert_true(m->n_signals >= 1 && m->n_signals <= CODEC_MAX_SIGNALS);
                /* IN frames clear bit 15, OUT frames set it (part B). */
                assert_int_equal((m->base_id >> 15) & 1u, m->dir == CODEC_DIR_OUT);

                for (size_t i = 0; i < m->n_signals; i++) {
                        const struct codec_signal_info *s = &m->signals[i];
                        uint64_t bits;

                        assert_non_null(s->name);
                        assert_true(s->length >= 1 && s->length <= 48);
                        assert_true(s->start + s->length <= 8u * m->dlc);
                        bits = (((uint64_t)1 << s->length) - 1) << s->start;
                        if (used & bits)
                                fail_msg("%s.%s overlaps", m->name, s->name);
                        used |= bits;
                        assert_true(s->scale > 0);
                        assert_non_null(s->unit);
                        assert_int_equal(s->reserved, strcmp(s->name, "Reserved") == 0);
                        if (!s->reserved)
                                assert_ptr_equal(codec_signal_by_name(m, s->name), s);
                        /* Scale and offset are whole numbers at the printed
                         * resolution, so fixed-point values are exact. */
                        for (int64_t raw = 0; raw < 3; raw++) {
                                double p = codec_signal_to_phys(s, raw);
                                int64_t fx = codec_signal_to_fixed(s, raw);
                                double back = (double)fx;

                                for (unsigned d = 0; d < s->decimals; d++)
                                        back /= 10;
                                assert_true(p - back < 1e-9 && back - p < 1e-9);
                        }
                }
        }
}

static void test_table_layout(void **state)
{
        (void)state;
        check_table_layout(V2);
        /* In the order of the types. */
        for (size_t t = 0; t < V2->n_messages; t++)
                assert_int_equal(V2->messages[t].type, t);
        assert_null(codec_msg_info_by_name(V2, "Controller_Inputs"));
        assert_null(codec_msg_info_by_id(V2, 0x68008));
        assert_null(codec_signal_by_name(codec_msg_info(V2, CODEC_CHARGING_LOOP), "Nope"));
}

static void test_table_spot_checks(void **state)
{
        const struct codec_msg_info *m;
        const struct codec_signal_info *s;

        (void)state;
        assert_int_equal(V2->n_messages, 19);

        m = codec_msg_info_by_name(V2, "Power_Modules_Status");
        assert_int_equal(m->base_id, 0x60010);
        assert_int_equal(m->period_ms, 100);
        s = codec_signal_by_name(m, "Present_Current");
        assert_true(s->is_signed);
        assert_int_equal(s->decimals, 1);
        assert_string_equal(s->unit, "Amps");
        s = codec_signal_by_name(m, "Enclosure_Temperature");
        assert_int_equal(s->start, 40);
        assert_true(s->offset == -40 && s->has_range && s->min == -40 && s->max == 215);
        s = codec_signal_by_name(m, "Insulation_Resistance");
        assert_true(s->scale == 2 && !s->has_range);

        m = codec_msg_info_by_name(V2, "Sequence_Control");
        assert_int_equal(m->dlc, 3);
        assert_int_equal(m->period_ms, 0);
        /* Pause/resume flags are only a comment in the KCD (E.16). */
        assert_int_equal(m->n_signals, 6);

        m = codec_msg_info_by_name(V2, "ADM_CS_SECC_Outputs");
        s = codec_signal_by_name(m, "Reserved");
        assert_true(s->reserved && s->start == 28 && s->length == 26);

        m = codec_msg_info_by_name(V2, "CCS_Extra_Information");
        s = codec_signal_by_name(m, "CP_Duty_Cycle");
        assert_true(s->has_range && s->max == 100 && s->decimals == 1);

        m = codec_msg_info_by_name(V2, "EV_ID_CCS_Part2_DIN");
        assert_int_equal(m->dlc, 6);
        assert_int_equal(m->period_ms, 1000);
}

/* ---- every signal at its range edges ---- */

static void check_raw_roundtrip(const struct codec_signal_info *s, int64_t raw)
{
        uint8_t data[8] = { 0 };

        codec_signal_put_raw(data, s, raw);
        if (codec_signal_get_raw(data, s) != raw)
                fail_msg("%s: raw %lld did not round-trip", s->name, (long long)raw);
}

static void check_signal_edges_roundtrip(const struct codec_db *db)
{
        for (size_t t = 0; t < db->n_messages; t++) {
                const struct codec_msg_info *m = &db->messages[t];

                for (size_t i = 0; i < m->n_signals; i++) {
                        const struct codec_signal_info *s = &m->signals[i];
                        int64_t lo = codec_signal_raw_min(s), hi = codec_signal_raw_max(s);
                        int64_t raw;

                        if (s->reserved)
                                continue;
                        assert_int_equal(hi - lo + 1, (int64_t)1 << s->length);
                        check_raw_roundtrip(s, lo);
                        check_raw_roundtrip(s, hi);
                        check_raw_roundtrip(s, 0);
                        check_raw_roundtrip(s, hi / 2);
                        if (s->is_signed) {
                                check_raw_roundtrip(s, -1);
                                check_raw_roundtrip(s, lo + 1);
                        }

                        /* The allowed physical edges map back to the same raw. */
                        assert_int_equal(codec_signal_from_fixed(s, codec_signal_fixed_min(s), &raw), 0);
                        assert_int_equal(codec_signal_to_fixed(s, raw), codec_signal_fixed_min(s));
                        assert_int_equal(codec_signal_from_fixed(s, codec_signal_fixed_max(s), &raw), 0);
                        assert_int_equal(codec_signal_to_fixed(s, raw), codec_signal_fixed_max(s));
                        assert_int_equal(codec_signal_from_phys(s, codec_signal_to_phys(s, raw), &raw), 0);
                        assert_int_equal(codec_signal_to_fixed(s, raw), codec_signal_fixed_max(s));
                        /* One step beyond either edge is refused. */
                        assert_int_equal(codec_signal_from_fixed(s, codec_signal_fixed_max(s) +
                                                                 codec_signal_to_fixed(s, 1) -
                                                                 codec_signal_to_fixed(s, 0), &raw),
                                         -ERANGE);
                        assert_int_equal(codec_signal_from_fixed(s, codec_signal_fixed_min(s) -
                                                                 codec_signal_to_fixed(s, 1) +
                                                                 codec_signal_to_fixed(s, 0), &raw),
                                         -ERANGE);
                }
        }
}

static void test_signal_edges_roundtrip(void **state)
{
        (void)state;
        check_signal_edges_roundtrip(V2);
}

/* Each signal alone at raw min and raw max, through the typed layer:
 * decode then encode gives the same bytes back. */
static void check_typed_roundtrip(const struct codec_db *db)
{
        for (size_t t = 0; t < db->n_messages; t++) {
                const struct codec_msg_info *m = &db->messages[t];

                for (size_t i = 0; i < m->n_signals; i++) {
                        const struct codec_signal_info *s = &m->signals[i];
                        int64_t edges[4] = { codec_signal_raw_min(s), codec_signal_raw_max(s), 0, -1 };

                        if (s->reserved)
                                continue;
                        for (size_t e = 0; e < (s->is_signed ? 4u : 3u); e++) {
                                struct codec_frame f, g;
                                struct codec_message msg;

                                memset(&f, 0, sizeof(f));
                                f.id = codec_frame_id(db, m->type, 7);
                                f.extended = true;
                                f.len = m->dlc;
                                codec_signal_put_raw(f.data, s, edges[e]);
                                assert_int_equal(codec_decode(db, &f, 7, &msg), 0);
                                assert_int_equal(msg.type, m->type);
                                assert_int_equal(codec_encode(db, &msg, 7, &g), 0);
                                if (!frames_equal(&f, &g))
                                        fail_msg("%s.%s raw %lld: typed round trip differs",
                                                 m->name, s->name, (long long)edges[e]);
                        }
                }
        }
}

static void test_typed_roundtrip_every_signal(void **state)
{
        (void)state;
        check_typed_roundtrip(V2);
}

static void test_signed_and_offset_values(void **state)
{
        const struct codec_msg_info *m = codec_msg_info(V2, CODEC_CHARGING_LOOP);
        const struct codec_signal_info *cur = codec_signal_by_name(m, "Target_Current");
        const struct codec_signal_info *temp = codec_signal_by_name(
                codec_msg_info(V2, CODEC_POWER_MODULES_STATUS), "Power_Modules_Temperature");
        uint8_t data[8] = { 0 };
        int64_t raw;

        (void)state;
        assert_int_equal(codec_signal_from_phys(cur, -12.3, &raw), 0);
        assert_int_equal(raw, -123);
        codec_signal_put_raw(data, cur, raw);
        assert_int_equal(data[2], 0x85);
        assert_int_equal(data[3], 0xFF);
        assert_int_equal(codec_signal_get_raw(data, cur), -123);
        assert_int_equal(codec_signal_to_fixed(cur, -32768), -32768);
        assert_int_equal(codec_signal_from_phys(cur, -3276.8, &raw), 0);
        assert_int_equal(raw, -32768);
        assert_int_equal(codec_signal_from_phys(cur, -3276.9, &raw), -ERANGE);

        assert_int_equal(codec_signal_from_phys(temp, -40, &raw), 0);
        assert_int_equal(raw, 0);
        assert_int_equal(codec_signal_from_phys(temp, 215, &raw), 0);
        assert_int_equal(raw, 255);
        assert_int_equal(codec_signal_from_phys(temp, -41, &raw), -ERANGE);
        assert_int_equal(codec_signal_from_phys(temp, 216, &raw), -ERANGE);
        assert_int_equal(codec_signal_to_fixed(temp, 0), -40);
        assert_int_equal(codec_signal_fixed_min(temp), -40);
        assert_int_equal(codec_signal_fixed_max(temp), 215);
        assert_true(codec_signal_to_phys(temp, 65) == 25.0);
}

static void test_phys_conversion_rules(void **state)
{
        const struct codec_msg_info *ncs = codec_msg_info(V2, CODEC_NEW_CHARGE_SESSION);
        const struct codec_signal_info *cap = codec_signal_by_name(ncs, "Battery_Capacity");
        const struct codec_signal_info *soc = codec_signal_by_name(ncs, "State_of_Charge");
        const struct codec_signal_info *volt = codec_signal_by_name(ncs, "EV_Maximum_Voltage");
        int64_t raw = 12345;

        (void)state;
        /* Rounded to the nearest step, halves away from zero. */
        assert_int_equal(codec_signal_from_phys(volt, 400.04, &raw), 0);
        assert_int_equal(raw, 4000);
        assert_int_equal(codec_signal_from_phys(volt, 400.05, &raw), 0);
        assert_true(raw == 4000 || raw == 4001);        /* 400.05 is not exact in binary */
        assert_int_equal(codec_signal_from_fixed(cap, 3, &raw), 0);
        assert_int_equal(raw, 2);
        assert_int_equal(codec_signal_from_phys(cap, 2.6, &raw), 0);
        assert_int_equal(raw, 1);
        assert_int_equal(codec_signal_from_phys(cap, 510, &raw), 0);
        assert_int_equal(raw, 255);
        /* KCD min/max narrower than the raw range. */
        assert_int_equal(codec_signal_from_phys(soc, 100, &raw), 0);
        assert_int_equal(codec_signal_from_phys(soc, 101, &raw), -ERANGE);
        assert_int_equal(codec_signal_fixed_max(soc), 100);
        /* Outside the raw range, NaN and infinities. */
        raw = 12345;
        assert_int_equal(codec_signal_from_phys(volt, 6553.6, &raw), -ERANGE);
        assert_int_equal(codec_signal_from_phys(volt, -0.1, &raw), -ERANGE);
        assert_int_equal(codec_signal_from_phys(volt, NAN, &raw), -ERANGE);
        assert_int_equal(codec_signal_from_phys(volt, INFINITY, &raw), -ERANGE);
        assert_int_equal(codec_signal_from_phys(volt, -INFINITY, &raw), -ERANGE);
        assert_int_equal(codec_signal_from_fixed(volt, INT64_MAX, &raw), -ERANGE);
        assert_int_equal(codec_signal_from_fixed(volt, INT64_MIN, &raw), -ERANGE);
        assert_int_equal(raw, 12345);   /* untouched on error */
}

static void test_labels(void **state)
{
        const struct codec_signal_info *st = &codec_msg_info(V2, CODEC_ADVANTICS_CONTROLLER_STATUS)->signals[0];
        const struct codec_signal_info *cp = codec_signal_by_name(
                codec_msg_info(V2, CODEC_CCS_EXTRA_INFORMATION), "CP_State");
        int64_t raw = 99;

        (void)state;
        assert_string_equal(codec_signal_label(st, 7), "Charging");
        assert_null(codec_signal_label(st, 14));
        assert_int_equal(codec_signal_label_value(st, "Charge_Pause", &raw), 0);
        assert_int_equal(raw, 13);
        assert_int_equal(codec_signal_label_value(st, "charging", &raw), -ENOENT);
        assert_int_equal(raw, 13);
        assert_int_equal(codec_signal_label_value(cp, "A", &raw), 0);
        assert_int_equal(raw, 12);
        assert_null(codec_signal_label(cp, 1));

        assert_string_equal(codec_controller_state_name(0), "Initialising");
        assert_string_equal(codec_controller_state_name(CODEC_STATE_NOT_AVAILABLE), "Not_Available");
        assert_string_equal(codec_controller_state_name(CODEC_STATE_CHARGE_PAUSE), "Charge_Pause");
        assert_string_equal(codec_controller_state_name(14), "Unknown");
        assert_string_equal(codec_controller_state_name(255), "Unknown");
}

/* ---- clamping, reserved and undeclared bits ---- */

static void test_encode_clamps(void **state)
{
        struct codec_message m;
        struct codec_frame f;
        const struct codec_signal_info *cur = codec_signal_by_name(
                codec_msg_info(V2, CODEC_CHARGING_LOOP), "Target_Current");
        uint8_t data[8] = { 0 };

        (void)state;
        memset(&m, 0, sizeof(m));
        m.type = CODEC_POWER_MODULES_STATUS;
        m.u.power_modules_status.insulation_resistance_kohm = 600;    /* > 510 */
        m.u.power_modules_status.power_modules_temperature_c = -50;   /* < -40 */
        m.u.power_modules_status.enclosure_temperature_c = 300;       /* > 215 */
        m.u.power_modules_status.present_voltage_dv = UINT16_MAX;
        assert_int_equal(codec_encode(V2, &m, 1, &f), 0);
        assert_int_equal(f.data[0], 0xFF);
        assert_int_equal(f.data[1], 0xFF);
        assert_int_equal(f.data[4], 0x00);
        assert_int_equal(f.data[5], 0xFF);
        assert_int_equal(f.data[7], 0xFF);

        /* An odd kOhm value rounds to the nearest 2 kOhm step. */
        m.u.power_modules_status.insulation_resistance_kohm = 101;
        assert_int_equal(codec_encode(V2, &m, 1, &f), 0);
        assert_int_equal(f.data[7], 51);

        memset(&m, 0, sizeof(m));
        m.type = CODEC_NEW_CHARGE_SESSION;
        m.u.new_charge_session.battery_capacity_kwh = 1000;
        assert_int_equal(codec_encode(V2, &m, 1, &f), 0);
        assert_int_equal(f.data[6], 0xFF);

        /* The descriptive layer clamps to the raw range too. */
        codec_signal_put_raw(data, cur, 40000);
        assert_int_equal(codec_signal_get_raw(data, cur), 32767);
        codec_signal_put_raw(data, cur, -40000);
        assert_int_equal(codec_signal_get_raw(data, cur), -32768);
        assert_int_equal(data[2], 0x00);
        assert_int_equal(data[3], 0x80);
}

/* Mask of the bits a message declares outside Reserved fields (all ones:
 * -1 for a signed field, the raw maximum for an unsigned one). */
static void declared_mask(const struct codec_msg_info *m, uint8_t mask[8])
{
        memset(mask, 0, 8);
        for (size_t i = 0; i < m->n_signals; i++) {
                const struct codec_signal_info *s = &m->signals[i];

                if (!s->reserved)
                        codec_signal_put_raw(mask, s, s->is_signed ? -1 : codec_signal_raw_max(s));
        }
}

/* All-ones on the wire decodes to every field at its all-ones value;
 * encoding that back must give all ones exactly on the declared bits and
 * 0 on Reserved and undeclared bits. */
static void check_reserved_bits_stay_zero(const struct codec_db *db)
{
        for (size_t t = 0; t < db->n_messages; t++) {
                const struct codec_msg_info *m = &db->messages[t];
                uint8_t ones[8], mask[8];
                struct codec_frame f, g;
                struct codec_message msg;

                declared_mask(m, mask);
                memset(ones, 0xFF, sizeof(ones));
                f = make_frame(codec_frame_id(db, m->type, 1), m->dlc, ones);
                assert_int_equal(codec_decode(db, &f, 1, &msg), 0);
                assert_int_equal(codec_encode(db, &msg, 1, &g), 0);
                if (memcmp(g.data, mask, sizeof(mask)) != 0)
                        fail_msg("%s: reserved or undeclared bits were written", m->name);
        }
}

static void test_reserved_bits_stay_zero(void **state)
{
        (void)state;
        check_reserved_bits_stay_zero(V2);
}

static void test_reserved_and_undeclared_spots(void **state)
{
        const struct codec_msg_info *secc = codec_msg_info(V2, CODEC_ADM_CS_SECC_OUTPUTS);
        const struct codec_msg_info *pml = codec_msg_info(V2, CODEC_POWER_MODULES_LIMITS);
        struct codec_message m;
        struct codec_frame f;
        uint8_t data[8], mask[8];

        (void)state;
        /* Sequence_Control: only bits 0, 1, 8, 9, 10 and 16 exist. */
        memset(&m, 0, sizeof(m));
        m.type = CODEC_SEQUENCE_CONTROL;
        m.u.sequence_control = (struct codec_sequence_control){ true, true, true, true, true, true };
        assert_int_equal(codec_encode(V2, &m, 1, &f), 0);
        assert_int_equal(f.len, 3);
        assert_int_equal(f.data[0], 0x03);
        assert_int_equal(f.data[1], 0x07);
        assert_int_equal(f.data[2], 0x01);

        /* ADM_CS_SECC_Outputs bits 54..63 are undeclared, ADM_CS_SPCC_Inputs
         * bits 40..47 too. */
        declared_mask(secc, mask);
        assert_int_equal(mask[3], 0x0F);
        assert_int_equal(mask[4] | mask[5] | mask[6] | mask[7], 0);
        declared_mask(codec_msg_info(V2, CODEC_ADM_CS_SPCC_INPUTS), mask);
        assert_int_equal(mask[0], 0x0F);
        assert_int_equal(mask[5], 0x00);

        /* Writing a Reserved field through the descriptive layer clears it
         * and leaves its neighbours alone. */
        memset(data, 0xFF, sizeof(data));
        codec_signal_put_raw(data, codec_signal_by_name(pml, "Reserved"), 0x12345678);
        assert_int_equal(data[3], 0xFF);
        assert_int_equal(data[4] | data[5] | data[6] | data[7], 0);
        memset(data, 0xFF, sizeof(data));
        codec_signal_put_raw(data, codec_signal_by_name(secc, "Reserved"), 1);
        assert_int_equal(data[3], 0x0F);
        assert_int_equal(data[4] | data[5], 0);
        assert_int_equal(data[6], 0xC0);
        assert_int_equal(data[7], 0xFF);
}

/* ---- frame length and identifiers ---- */

static void check_short_frame_is_malformed(const struct codec_db *db)
{
        for (size_t t = 0; t < db->n_messages; t++) {
                const struct codec_msg_info *m = &db->messages[t];
                uint8_t data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
                struct codec_frame f = make_frame(codec_frame_id(db, m->type, 1), m->dlc - 1, data);
                struct codec_message msg, untouched;

                memset(&msg, 0x5A, sizeof(msg));
                untouched = msg;
                assert_int_equal(codec_decode(db, &f, 1, &msg), -EBADMSG);
                assert_memory_equal(&msg, &untouched, sizeof(msg));
                f.len = 0;
                assert_int_equal(codec_decode(db, &f, 1, &msg), -EBADMSG);
        }
}

static void test_short_frame_is_malformed(void **state)
{
        (void)state;
        check_short_frame_is_malformed(V2);
}

static void check_longer_frame_is_accepted(const struct codec_db *db)
{
        for (size_t t = 0; t < db->n_messages; t++) {
                const struct codec_msg_info *m = &db->messages[t];
                uint8_t data[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
                uint8_t trimmed[8] = { 0 };
                struct codec_frame f = make_frame(codec_frame_id(db, m->type, 1), 8, data);
                struct codec_frame g;
                struct codec_message a, b;

                memcpy(trimmed, data, m->dlc);
                g = make_frame(f.id, m->dlc, trimmed);
                assert_int_equal(codec_decode(db, &f, 1, &a), 0);
                assert_int_equal(codec_decode(db, &g, 1, &b), 0);
                /* The extra bytes change nothing. */
                assert_memory_equal(&a, &b, sizeof(a));
        }
}

static void test_longer_frame_is_accepted(void **state)
{
        (void)state;
        check_longer_frame_is_accepted(V2);
}

static void test_not_ours(void **state)
{
        uint8_t data[8] = { 7 };
        struct codec_frame f = make_frame(0x01068009, 1, data);
        struct codec_message msg;

        (void)state;
        assert_int_equal(codec_decode(V2, &f, 1, &msg), 0);
        assert_int_equal(msg.u.advantics_controller_status.state, 7);

        /* another pistol, including the database's index 0 */
        assert_int_equal(codec_decode(V2, &f, 2, &msg), -ENOMSG);
        f.id = 0x00068009;
        assert_int_equal(codec_decode(V2, &f, 1, &msg), -ENOMSG);
        f.id = 0x1F068009;
        assert_int_equal(codec_decode(V2, &f, 1, &msg), -ENOMSG);
        assert_int_equal(codec_decode(V2, &f, 31, &msg), 0);

        /* unknown base IDs: the v2 base Controller_Inputs, near misses,
         * other module types */
        f.id = 0x01068008;
        assert_int_equal(codec_decode(V2, &f, 1, &msg), -ENOMSG);
        f.id = 0x01068010;
        assert_int_equal(codec_decode(V2, &f, 1, &msg), -ENOMSG);
        f.id = 0x01160010;
        assert_int_equal(codec_decode(V2, &f, 1, &msg), -ENOMSG);
        f.id = 0x0106B000;      /* v3 Advantics_Controller_Status */
        assert_int_equal(codec_decode(V2, &f, 1, &msg), -ENOMSG);

        /* a standard 11-bit frame is never ours, whatever its number */
        f.id = 0x009;
        f.extended = false;
        assert_int_equal(codec_decode(V2, &f, 1, &msg), -ENOMSG);
        f.id = 0x01068009;
        assert_int_equal(codec_decode(V2, &f, 1, &msg), -ENOMSG);

        /* not a 29-bit identifier at all */
        f.extended = true;
        f.id = 0x21068009;
        assert_int_equal(codec_decode(V2, &f, 1, &msg), -ENOMSG);

        /* a frame that is not ours beats a short one */
        f.id = 0x02068005;
        f.len = 1;
        assert_int_equal(codec_decode(V2, &f, 1, &msg), -ENOMSG);
}

static void test_bad_arguments(void **state)
{
        uint8_t data[8] = { 7 };
        struct codec_frame f = make_frame(0x01068009, 1, data), g;
        struct codec_message msg;

        (void)state;
        assert_int_equal(codec_decode(V2, &f, 0, &msg), -EINVAL);
        assert_int_equal(codec_decode(V2, &f, 32, &msg), -EINVAL);
        assert_int_equal(codec_decode(V2, NULL, 1, &msg), -EINVAL);
        assert_int_equal(codec_decode(V2, &f, 1, NULL), -EINVAL);
        f.len = 9;
        assert_int_equal(codec_decode(V2, &f, 1, &msg), -EINVAL);

        memset(&msg, 0, sizeof(msg));
        msg.type = CODEC_CHARGING_LOOP;
        memset(&g, 0x77, sizeof(g));
        memcpy(&f, &g, sizeof(f));
        assert_int_equal(codec_encode(V2, &msg, 0, &g), -EINVAL);
        assert_int_equal(codec_encode(V2, &msg, 32, &g), -EINVAL);
        assert_memory_equal(&f, &g, sizeof(g));
        msg.type = CODEC_MSG_COUNT;
        assert_int_equal(codec_encode(V2, &msg, 1, &g), -EINVAL);
        assert_int_equal(codec_encode(V2, NULL, 1, &g), -EINVAL);

        assert_int_equal(codec_frame_id(V2, CODEC_CHARGING_LOOP, 0), 0);
        assert_int_equal(codec_frame_id(V2, CODEC_CHARGING_LOOP, 32), 0);
        assert_int_equal(codec_frame_id(V2, CODEC_MSG_COUNT, 1), 0);
}

static void test_id_layout(void **state)
{
        struct codec_message msg;
        struct codec_frame f;

        (void)state;
        assert_int_equal(codec_frame_id(V2, CODEC_NEW_CHARGE_SESSION, 1), 0x01068001);
        assert_int_equal(codec_frame_id(V2, CODEC_POWER_MODULES_STATUS, 1), 0x01060010);
        assert_int_equal(codec_frame_id(V2, CODEC_NEW_CHARGE_SESSION, 31), 0x1F068001);
        assert_int_equal(codec_frame_id(V2, CODEC_POWER_MODULES_STATUS, 31), 0x1F060010);
        assert_int_equal(codec_frame_id(V2, CODEC_MCS_EXTRA_INFORMATION, 31), 0x1F06800F);

        for (unsigned p = CODEC_PISTOL_MIN; p <= CODEC_PISTOL_MAX; p++) {
                memset(&msg, 0, sizeof(msg));
                msg.type = CODEC_POWER_MODULES_STATUS;
                assert_int_equal(codec_encode(V2, &msg, (uint8_t)p, &f), 0);
                assert_true(f.extended);
                assert_int_equal(f.id, 0x60010u | p << 24);
                assert_int_equal((f.id & CODEC_ID_PISTOL_MASK) >> CODEC_ID_PISTOL_SHIFT, p);
                assert_int_equal(f.id & CODEC_ID_BASE_MASK, 0x60010);
                assert_int_equal(f.id & ~CODEC_ID_EXT_MASK, 0);
                assert_int_equal(codec_decode(V2, &f, (uint8_t)p, &msg), 0);
        }
}

/* ---- v3.6 ---- */

#define V3 (&codec_db_v3_6)

static void test_v3_examples(void **state)
{
        (void)state;
        check_examples_cover(V3, examples_v3, N_ELEMENTS(examples_v3));
        check_examples_encode(V3, examples_v3, N_ELEMENTS(examples_v3));
        check_examples_decode(V3, examples_v3, N_ELEMENTS(examples_v3));
}

static void test_v3_table(void **state)
{
        (void)state;
        assert_int_equal(V3->n_messages, 23);
        assert_string_equal(V3->name, "v3.6");
        assert_int_equal(V3->interface_version, 3);
        assert_ptr_equal(codec_db_for_version(2), V2);
        assert_ptr_equal(codec_db_for_version(3), V3);
        assert_null(codec_db_for_version(1));
        assert_null(codec_db_for_version(4));
        check_table_layout(V3);
        check_signal_edges_roundtrip(V3);
        check_typed_roundtrip(V3);
        check_reserved_bits_stay_zero(V3);
        check_short_frame_is_malformed(V3);
        check_longer_frame_is_accepted(V3);
        /* v3 IDs carry version 3 in bits 14..12 (part B). */
        for (size_t t = 0; t < V3->n_messages; t++)
                assert_int_equal((V3->messages[t].base_id >> 12) & 7u, 3);
}

/* The 14 messages v3.6 kept from v2.7: one signal table each, the same
 * name, length, direction and period; only the identifier differs. */
static void test_v3_shared_tables(void **state)
{
        static const enum codec_msg_type shared[] = {
                CODEC_POWER_MODULES_STATUS, CODEC_SEQUENCE_CONTROL, CODEC_ADM_CS_SECC_OUTPUTS,
                CODEC_ADM_CS_SPCC_OUTPUTS, CODEC_CHARGE_STATUS_CHANGE, CODEC_EMERGENCY_STOP,
                CODEC_CHARGE_SESSION_FINISHED, CODEC_ADVANTICS_CONTROLLER_STATUS,
                CODEC_ADM_CO_CUI1_INPUTS, CODEC_ADM_CS_SECC_INPUTS, CODEC_EV_ID_CCS_PART2_DIN,
                CODEC_ADM_CS_SPCC_INPUTS, CODEC_CCS_EXTRA_INFORMATION, CODEC_MCS_EXTRA_INFORMATION,
        };
        size_t in_both = 0;

        (void)state;
        for (size_t i = 0; i < N_ELEMENTS(shared); i++) {
                const struct codec_msg_info *a = codec_msg_info(V2, shared[i]);
                const struct codec_msg_info *b = codec_msg_info(V3, shared[i]);

                assert_non_null(a);
                assert_non_null(b);
                assert_ptr_equal(a->signals, b->signals);
                assert_int_equal(a->n_signals, b->n_signals);
                assert_string_equal(a->name, b->name);
                assert_int_equal(a->dlc, b->dlc);
                assert_int_equal(a->dir, b->dir);
                assert_int_equal(a->period_ms, b->period_ms);
                assert_int_not_equal(a->base_id, b->base_id);
        }
        /* Every other type is in one database only; no identifier is in both. */
        for (int t = 0; t < CODEC_MSG_COUNT; t++)
                if (codec_msg_info(V2, (enum codec_msg_type)t) && codec_msg_info(V3, (enum codec_msg_type)t))
                        in_both++;
        assert_int_equal(in_both, N_ELEMENTS(shared));
        for (size_t t = 0; t < V2->n_messages; t++)
                assert_null(codec_msg_info_by_id(V3, V2->messages[t].base_id));
        for (size_t t = 0; t < V3->n_messages; t++)
                assert_null(codec_msg_info_by_id(V2, V3->messages[t].base_id));
        /* New_Charge_Session is the same name for two types. */
        assert_int_equal(codec_msg_info_by_name(V2, "New_Charge_Session")->type, CODEC_NEW_CHARGE_SESSION);
        assert_int_equal(codec_msg_info_by_name(V3, "New_Charge_Session")->type, CODEC_NEW_CHARGE_SESSION_V3);
        assert_null(codec_msg_info_by_name(V3, "Charging_Loop"));
        assert_null(codec_msg_info_by_name(V2, "DC_Power_Control"));
}

static void test_v3_spot_checks(void **state)
{
        const struct codec_msg_info *m;
        const struct codec_signal_info *s;

        (void)state;
        m = codec_msg_info_by_name(V3, "DC_Power_Control");
        assert_int_equal(m->base_id, 0x6B003);
        assert_int_equal(m->dlc, 7);
        assert_int_equal(m->period_ms, 100);
        s = codec_signal_by_name(m, "Power_Function");
        assert_true(s->start == 48 && s->length == 4 && s->n_labels == 5);
        s = codec_signal_by_name(m, "Reserved");
        assert_true(s->reserved && s->start == 52 && s->length == 1);
        assert_int_equal(codec_signal_by_name(m, "Setpoints_Mode")->start, 53);
        assert_int_equal(codec_signal_by_name(m, "Output_Contactors")->start, 54);
        assert_int_equal(codec_signal_by_name(m, "Lower_Output_Voltage")->start, 55);
        assert_true(codec_signal_by_name(m, "Current_Range_Min")->is_signed);

        m = codec_msg_info_by_name(V3, "DC_Power_Parameters");
        assert_int_equal(m->dir, CODEC_DIR_IN);
        assert_int_equal(m->period_ms, 0);
        assert_false(codec_signal_by_name(m, "Maximum_Charge_Current")->is_signed);
        assert_true(codec_signal_by_name(m, "Range_Target_Current")->is_signed);

        /* E.20: the controller sends OCPP_Control. */
        m = codec_msg_info_by_name(V3, "OCPP_Control");
        assert_int_equal(m->dir, CODEC_DIR_OUT);
        assert_int_equal(m->base_id, 0x6B300);

        /* E.26: 1 kWh per bit where v2 had 2. */
        s = codec_signal_by_name(codec_msg_info_by_name(V3, "EV_Information_Battery"), "Battery_Capacity");
        assert_true(s->scale == 1 && s->length == 16);
        s = codec_signal_by_name(codec_msg_info_by_name(V3, "EV_Information_Energy"), "EV_Target_Energy_Request");
        assert_true(s->is_signed && s->scale == 1);

        assert_string_equal(codec_power_function_name(CODEC_POWER_FUNCTION_OFF), "Off");
        assert_string_equal(codec_power_function_name(CODEC_POWER_FUNCTION_POWER_TRANSFER), "Power_Transfer");
        /* V25, E.27: combinations are no power function. */
        for (unsigned pf = 0; pf < 16; pf++)
                if (pf != 0 && pf != 1 && pf != 2 && pf != 4 && pf != 8)
                        assert_null(codec_power_function_name((uint8_t)pf));
}

/* The same payload under the other database's identifier is not a frame of
 * this one, and the codec refuses a type of the other database. */
static void test_v3_versions_apart(void **state)
{
        uint8_t data[8] = { 7 };
        struct codec_frame f = make_frame(0x0106B000, 1, data), g;
        struct codec_message msg;

        (void)state;
        assert_int_equal(codec_decode(V3, &f, 1, &msg), 0);
        assert_int_equal(msg.type, CODEC_ADVANTICS_CONTROLLER_STATUS);
        assert_int_equal(codec_decode(V2, &f, 1, &msg), -ENOMSG);
        f.id = 0x01068009;
        assert_int_equal(codec_decode(V3, &f, 1, &msg), -ENOMSG);
        assert_int_equal(codec_decode(V2, &f, 1, &msg), 0);
        /* Not ours beats short, in each database. */
        f.id = 0x01068005;
        f.len = 1;
        assert_int_equal(codec_decode(V3, &f, 1, &msg), -ENOMSG);
        f.id = 0x0106B003;
        assert_int_equal(codec_decode(V3, &f, 1, &msg), -EBADMSG);
        assert_int_equal(codec_decode(V2, &f, 1, &msg), -ENOMSG);

        memset(&msg, 0, sizeof(msg));
        msg.type = CODEC_CHARGING_LOOP;
        assert_int_equal(codec_encode(V3, &msg, 1, &g), -EINVAL);
        assert_int_equal(codec_frame_id(V3, CODEC_CHARGING_LOOP, 1), 0);
        msg.type = CODEC_DC_POWER_CONTROL;
        assert_int_equal(codec_encode(V2, &msg, 1, &g), -EINVAL);
        assert_int_equal(codec_encode(V3, &msg, 1, &g), 0);
        assert_int_equal(g.id, 0x0106B003);
        msg.type = CODEC_NEW_CHARGE_SESSION;
        assert_int_equal(codec_encode(V3, &msg, 1, &g), -EINVAL);
        assert_int_equal(codec_encode(NULL, &msg, 1, &g), -EINVAL);
        assert_int_equal(codec_decode(NULL, &f, 1, &msg), -EINVAL);
        assert_null(codec_msg_info(NULL, CODEC_POWER_MODULES_STATUS));

        /* The same Power_Modules_Status under both identifiers. */
        memset(&msg, 0, sizeof(msg));
        msg.type = CODEC_POWER_MODULES_STATUS;
        msg.u.power_modules_status.present_voltage_dv = 4000;
        assert_int_equal(codec_encode(V2, &msg, 3, &f), 0);
        assert_int_equal(codec_encode(V3, &msg, 3, &g), 0);
        assert_int_equal(f.id, 0x03060010);
        assert_int_equal(g.id, 0x03063000);
        assert_memory_equal(f.data, g.data, sizeof(f.data));
}

/* Power_Function is 4 bits: an undefined value decodes as a number and
 * the neighbouring bits stay apart; a value above 15 is clamped. */
static void test_v3_power_function_bits(void **state)
{
        uint8_t data[8] = { 0, 0, 0, 0, 0, 0, 0xF3 };
        struct codec_frame f = make_frame(0x0106B003, 7, data), g;
        struct codec_message msg;

        (void)state;
        assert_int_equal(codec_decode(V3, &f, 1, &msg), 0);
        assert_int_equal(msg.u.dc_power_control.power_function, 3);
        assert_int_equal(msg.u.dc_power_control.setpoints_mode, CODEC_SETPOINTS_RANGE_MODE);
        assert_true(msg.u.dc_power_control.output_contactors);
        assert_true(msg.u.dc_power_control.lower_output_voltage);
        /* The reserved bit 52 is not sent back. */
        assert_int_equal(codec_encode(V3, &msg, 1, &g), 0);
        assert_int_equal(g.data[6], 0xE3);

        msg.u.dc_power_control.power_function = 200;
        assert_int_equal(codec_encode(V3, &msg, 1, &g), 0);
        assert_int_equal(g.data[6] & 0x0F, 0x0F);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_examples_cover_every_message),
                cmocka_unit_test(test_examples_encode),
                cmocka_unit_test(test_examples_decode),
                cmocka_unit_test(test_table_layout),
                cmocka_unit_test(test_table_spot_checks),
                cmocka_unit_test(test_signal_edges_roundtrip),
                cmocka_unit_test(test_typed_roundtrip_every_signal),
                cmocka_unit_test(test_signed_and_offset_values),
                cmocka_unit_test(test_phys_conversion_rules),
                cmocka_unit_test(test_labels),
                cmocka_unit_test(test_encode_clamps),
                cmocka_unit_test(test_reserved_bits_stay_zero),
                cmocka_unit_test(test_reserved_and_undeclared_spots),
                cmocka_unit_test(test_short_frame_is_malformed),
                cmocka_unit_test(test_longer_frame_is_accepted),
                cmocka_unit_test(test_not_ours),
                cmocka_unit_test(test_bad_arguments),
                cmocka_unit_test(test_id_layout),
                cmocka_unit_test(test_v3_examples),
                cmocka_unit_test(test_v3_table),
                cmocka_unit_test(test_v3_shared_tables),
                cmocka_unit_test(test_v3_spot_checks),
                cmocka_unit_test(test_v3_versions_apart),
                cmocka_unit_test(test_v3_power_function_bits),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
