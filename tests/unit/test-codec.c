/* SPDX-License-Identifier: MIT */
/*
 * Codec of the v2.7 message set: the example frames of the protocol summary
 * (Appendix, v2.7 rows) and a hand-computed frame for every other message,
 * both directions; range edges of every signal; clamping; reserved and
 * undeclared bits; frame length and identifier handling.
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

static void test_examples_cover_every_message(void **state)
{
        bool seen[CODEC_MSG_COUNT] = { false };

        (void)state;
        for (size_t i = 0; i < N_ELEMENTS(examples); i++)
                seen[examples[i].msg.type] = true;
        for (int t = 0; t < CODEC_MSG_COUNT; t++)
                if (!seen[t])
                        fail_msg("no example frame for %s",
                                 codec_msg_info((enum codec_msg_type)t)->name);
}

static void test_examples_encode(void **state)
{
        (void)state;
        for (size_t i = 0; i < N_ELEMENTS(examples); i++) {
                const struct example *e = &examples[i];
                struct codec_frame f;

                assert_int_equal(codec_encode(&e->msg, 1, &f), 0);
                if (f.id != e->id || !f.extended || f.len != e->len ||
                    memcmp(f.data, e->data, e->len) != 0)
                        fail_msg("%s: encoded differently", e->what);
                /* Bytes past the DLC are never sent and stay 0. */
                for (size_t b = e->len; b < CODEC_MAX_DLC; b++)
                        assert_int_equal(f.data[b], 0);
        }
}

static void test_examples_decode(void **state)
{
        (void)state;
        for (size_t i = 0; i < N_ELEMENTS(examples); i++) {
                const struct example *e = &examples[i];
                struct codec_frame f = make_frame(e->id, e->len, e->data);
                struct codec_message m, want;

                memset(&want, 0, sizeof(want));
                want.type = e->msg.type;
                want.u = e->msg.u;
                memset(&m, 0xA5, sizeof(m));
                assert_int_equal(codec_decode(&f, 1, &m), 0);
                if (memcmp(&m, &want, sizeof(m)) != 0)
                        fail_msg("%s: decoded differently", e->what);
        }
}

/* ---- the table itself ---- */

static void test_table_layout(void **state)
{
        (void)state;
        assert_null(codec_msg_info(CODEC_MSG_COUNT));
        for (int t = 0; t < CODEC_MSG_COUNT; t++) {
                const struct codec_msg_info *m = codec_msg_info((enum codec_msg_type)t);
                uint64_t used = 0;

                assert_non_null(m);
                assert_int_equal(m->type, t);
                assert_ptr_equal(codec_msg_info_by_name(m->name), m);
                assert_ptr_equal(codec_msg_info_by_id(m->base_id), m);
                assert_ptr_equal(codec_msg_info_by_id(m->base_id | 0x1F000000u), m);
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
        assert_null(codec_msg_info_by_name("Controller_Inputs"));
        assert_null(codec_msg_info_by_id(0x68008));
        assert_null(codec_signal_by_name(codec_msg_info(CODEC_CHARGING_LOOP), "Nope"));
}

static void test_table_spot_checks(void **state)
{
        const struct codec_msg_info *m;
        const struct codec_signal_info *s;

        (void)state;
        assert_int_equal(CODEC_MSG_COUNT, 19);

        m = codec_msg_info_by_name("Power_Modules_Status");
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

        m = codec_msg_info_by_name("Sequence_Control");
        assert_int_equal(m->dlc, 3);
        assert_int_equal(m->period_ms, 0);
        /* Pause/resume flags are only a comment in the KCD (E.16). */
        assert_int_equal(m->n_signals, 6);

        m = codec_msg_info_by_name("ADM_CS_SECC_Outputs");
        s = codec_signal_by_name(m, "Reserved");
        assert_true(s->reserved && s->start == 28 && s->length == 26);

        m = codec_msg_info_by_name("CCS_Extra_Information");
        s = codec_signal_by_name(m, "CP_Duty_Cycle");
        assert_true(s->has_range && s->max == 100 && s->decimals == 1);

        m = codec_msg_info_by_name("EV_ID_CCS_Part2_DIN");
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

static void test_signal_edges_roundtrip(void **state)
{
        (void)state;
        for (int t = 0; t < CODEC_MSG_COUNT; t++) {
                const struct codec_msg_info *m = codec_msg_info((enum codec_msg_type)t);

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

/* Each signal alone at raw min and raw max, through the typed layer:
 * decode then encode gives the same bytes back. */
static void test_typed_roundtrip_every_signal(void **state)
{
        (void)state;
        for (int t = 0; t < CODEC_MSG_COUNT; t++) {
                const struct codec_msg_info *m = codec_msg_info((enum codec_msg_type)t);

                for (size_t i = 0; i < m->n_signals; i++) {
                        const struct codec_signal_info *s = &m->signals[i];
                        int64_t edges[4] = { codec_signal_raw_min(s), codec_signal_raw_max(s), 0, -1 };

                        if (s->reserved)
                                continue;
                        for (size_t e = 0; e < (s->is_signed ? 4u : 3u); e++) {
                                struct codec_frame f, g;
                                struct codec_message msg;

                                memset(&f, 0, sizeof(f));
                                f.id = codec_frame_id(m->type, 7);
                                f.extended = true;
                                f.len = m->dlc;
                                codec_signal_put_raw(f.data, s, edges[e]);
                                assert_int_equal(codec_decode(&f, 7, &msg), 0);
                                assert_int_equal(msg.type, m->type);
                                assert_int_equal(codec_encode(&msg, 7, &g), 0);
                                if (!frames_equal(&f, &g))
                                        fail_msg("%s.%s raw %lld: typed round trip differs",
                                                 m->name, s->name, (long long)edges[e]);
                        }
                }
        }
}

static void test_signed_and_offset_values(void **state)
{
        const struct codec_msg_info *m = codec_msg_info(CODEC_CHARGING_LOOP);
        const struct codec_signal_info *cur = codec_signal_by_name(m, "Target_Current");
        const struct codec_signal_info *temp = codec_signal_by_name(
                codec_msg_info(CODEC_POWER_MODULES_STATUS), "Power_Modules_Temperature");
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
        const struct codec_msg_info *ncs = codec_msg_info(CODEC_NEW_CHARGE_SESSION);
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
        const struct codec_signal_info *st = &codec_msg_info(CODEC_ADVANTICS_CONTROLLER_STATUS)->signals[0];
        const struct codec_signal_info *cp = codec_signal_by_name(
                codec_msg_info(CODEC_CCS_EXTRA_INFORMATION), "CP_State");
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
                codec_msg_info(CODEC_CHARGING_LOOP), "Target_Current");
        uint8_t data[8] = { 0 };

        (void)state;
        memset(&m, 0, sizeof(m));
        m.type = CODEC_POWER_MODULES_STATUS;
        m.u.power_modules_status.insulation_resistance_kohm = 600;    /* > 510 */
        m.u.power_modules_status.power_modules_temperature_c = -50;   /* < -40 */
        m.u.power_modules_status.enclosure_temperature_c = 300;       /* > 215 */
        m.u.power_modules_status.present_voltage_dv = UINT16_MAX;
        assert_int_equal(codec_encode(&m, 1, &f), 0);
        assert_int_equal(f.data[0], 0xFF);
        assert_int_equal(f.data[1], 0xFF);
        assert_int_equal(f.data[4], 0x00);
        assert_int_equal(f.data[5], 0xFF);
        assert_int_equal(f.data[7], 0xFF);

        /* An odd kOhm value rounds to the nearest 2 kOhm step. */
        m.u.power_modules_status.insulation_resistance_kohm = 101;
        assert_int_equal(codec_encode(&m, 1, &f), 0);
        assert_int_equal(f.data[7], 51);

        memset(&m, 0, sizeof(m));
        m.type = CODEC_NEW_CHARGE_SESSION;
        m.u.new_charge_session.battery_capacity_kwh = 1000;
        assert_int_equal(codec_encode(&m, 1, &f), 0);
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
static void test_reserved_bits_stay_zero(void **state)
{
        (void)state;
        for (int t = 0; t < CODEC_MSG_COUNT; t++) {
                const struct codec_msg_info *m = codec_msg_info((enum codec_msg_type)t);
                uint8_t ones[8], mask[8];
                struct codec_frame f, g;
                struct codec_message msg;

                declared_mask(m, mask);
                memset(ones, 0xFF, sizeof(ones));
                f = make_frame(codec_frame_id(m->type, 1), m->dlc, ones);
                assert_int_equal(codec_decode(&f, 1, &msg), 0);
                assert_int_equal(codec_encode(&msg, 1, &g), 0);
                if (memcmp(g.data, mask, sizeof(mask)) != 0)
                        fail_msg("%s: reserved or undeclared bits were written", m->name);
        }
}

static void test_reserved_and_undeclared_spots(void **state)
{
        const struct codec_msg_info *secc = codec_msg_info(CODEC_ADM_CS_SECC_OUTPUTS);
        const struct codec_msg_info *pml = codec_msg_info(CODEC_POWER_MODULES_LIMITS);
        struct codec_message m;
        struct codec_frame f;
        uint8_t data[8], mask[8];

        (void)state;
        /* Sequence_Control: only bits 0, 1, 8, 9, 10 and 16 exist. */
        memset(&m, 0, sizeof(m));
        m.type = CODEC_SEQUENCE_CONTROL;
        m.u.sequence_control = (struct codec_sequence_control){ true, true, true, true, true, true };
        assert_int_equal(codec_encode(&m, 1, &f), 0);
        assert_int_equal(f.len, 3);
        assert_int_equal(f.data[0], 0x03);
        assert_int_equal(f.data[1], 0x07);
        assert_int_equal(f.data[2], 0x01);

        /* ADM_CS_SECC_Outputs bits 54..63 are undeclared, ADM_CS_SPCC_Inputs
         * bits 40..47 too. */
        declared_mask(secc, mask);
        assert_int_equal(mask[3], 0x0F);
        assert_int_equal(mask[4] | mask[5] | mask[6] | mask[7], 0);
        declared_mask(codec_msg_info(CODEC_ADM_CS_SPCC_INPUTS), mask);
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

static void test_short_frame_is_malformed(void **state)
{
        (void)state;
        for (int t = 0; t < CODEC_MSG_COUNT; t++) {
                const struct codec_msg_info *m = codec_msg_info((enum codec_msg_type)t);
                uint8_t data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
                struct codec_frame f = make_frame(codec_frame_id(m->type, 1), m->dlc - 1, data);
                struct codec_message msg, untouched;

                memset(&msg, 0x5A, sizeof(msg));
                untouched = msg;
                assert_int_equal(codec_decode(&f, 1, &msg), -EBADMSG);
                assert_memory_equal(&msg, &untouched, sizeof(msg));
                f.len = 0;
                assert_int_equal(codec_decode(&f, 1, &msg), -EBADMSG);
        }
}

static void test_longer_frame_is_accepted(void **state)
{
        (void)state;
        for (int t = 0; t < CODEC_MSG_COUNT; t++) {
                const struct codec_msg_info *m = codec_msg_info((enum codec_msg_type)t);
                uint8_t data[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
                uint8_t trimmed[8] = { 0 };
                struct codec_frame f = make_frame(codec_frame_id(m->type, 1), 8, data);
                struct codec_frame g;
                struct codec_message a, b;

                memcpy(trimmed, data, m->dlc);
                g = make_frame(f.id, m->dlc, trimmed);
                assert_int_equal(codec_decode(&f, 1, &a), 0);
                assert_int_equal(codec_decode(&g, 1, &b), 0);
                /* The extra bytes change nothing. */
                assert_memory_equal(&a, &b, sizeof(a));
        }
}

static void test_not_ours(void **state)
{
        uint8_t data[8] = { 7 };
        struct codec_frame f = make_frame(0x01068009, 1, data);
        struct codec_message msg;

        (void)state;
        assert_int_equal(codec_decode(&f, 1, &msg), 0);
        assert_int_equal(msg.u.advantics_controller_status.state, 7);

        /* another pistol, including the database's index 0 */
        assert_int_equal(codec_decode(&f, 2, &msg), -ENOMSG);
        f.id = 0x00068009;
        assert_int_equal(codec_decode(&f, 1, &msg), -ENOMSG);
        f.id = 0x1F068009;
        assert_int_equal(codec_decode(&f, 1, &msg), -ENOMSG);
        assert_int_equal(codec_decode(&f, 31, &msg), 0);

        /* unknown base IDs: the v2 base Controller_Inputs, near misses,
         * other module types */
        f.id = 0x01068008;
        assert_int_equal(codec_decode(&f, 1, &msg), -ENOMSG);
        f.id = 0x01068010;
        assert_int_equal(codec_decode(&f, 1, &msg), -ENOMSG);
        f.id = 0x01160010;
        assert_int_equal(codec_decode(&f, 1, &msg), -ENOMSG);
        f.id = 0x0106B000;      /* v3 Advantics_Controller_Status */
        assert_int_equal(codec_decode(&f, 1, &msg), -ENOMSG);

        /* a standard 11-bit frame is never ours, whatever its number */
        f.id = 0x009;
        f.extended = false;
        assert_int_equal(codec_decode(&f, 1, &msg), -ENOMSG);
        f.id = 0x01068009;
        assert_int_equal(codec_decode(&f, 1, &msg), -ENOMSG);

        /* not a 29-bit identifier at all */
        f.extended = true;
        f.id = 0x21068009;
        assert_int_equal(codec_decode(&f, 1, &msg), -ENOMSG);

        /* a frame that is not ours beats a short one */
        f.id = 0x02068005;
        f.len = 1;
        assert_int_equal(codec_decode(&f, 1, &msg), -ENOMSG);
}

static void test_bad_arguments(void **state)
{
        uint8_t data[8] = { 7 };
        struct codec_frame f = make_frame(0x01068009, 1, data), g;
        struct codec_message msg;

        (void)state;
        assert_int_equal(codec_decode(&f, 0, &msg), -EINVAL);
        assert_int_equal(codec_decode(&f, 32, &msg), -EINVAL);
        assert_int_equal(codec_decode(NULL, 1, &msg), -EINVAL);
        assert_int_equal(codec_decode(&f, 1, NULL), -EINVAL);
        f.len = 9;
        assert_int_equal(codec_decode(&f, 1, &msg), -EINVAL);

        memset(&msg, 0, sizeof(msg));
        msg.type = CODEC_CHARGING_LOOP;
        memset(&g, 0x77, sizeof(g));
        memcpy(&f, &g, sizeof(f));
        assert_int_equal(codec_encode(&msg, 0, &g), -EINVAL);
        assert_int_equal(codec_encode(&msg, 32, &g), -EINVAL);
        assert_memory_equal(&f, &g, sizeof(g));
        msg.type = CODEC_MSG_COUNT;
        assert_int_equal(codec_encode(&msg, 1, &g), -EINVAL);
        assert_int_equal(codec_encode(NULL, 1, &g), -EINVAL);

        assert_int_equal(codec_frame_id(CODEC_CHARGING_LOOP, 0), 0);
        assert_int_equal(codec_frame_id(CODEC_CHARGING_LOOP, 32), 0);
        assert_int_equal(codec_frame_id(CODEC_MSG_COUNT, 1), 0);
}

static void test_id_layout(void **state)
{
        struct codec_message msg;
        struct codec_frame f;

        (void)state;
        assert_int_equal(codec_frame_id(CODEC_NEW_CHARGE_SESSION, 1), 0x01068001);
        assert_int_equal(codec_frame_id(CODEC_POWER_MODULES_STATUS, 1), 0x01060010);
        assert_int_equal(codec_frame_id(CODEC_NEW_CHARGE_SESSION, 31), 0x1F068001);
        assert_int_equal(codec_frame_id(CODEC_POWER_MODULES_STATUS, 31), 0x1F060010);
        assert_int_equal(codec_frame_id(CODEC_MCS_EXTRA_INFORMATION, 31), 0x1F06800F);

        for (unsigned p = CODEC_PISTOL_MIN; p <= CODEC_PISTOL_MAX; p++) {
                memset(&msg, 0, sizeof(msg));
                msg.type = CODEC_POWER_MODULES_STATUS;
                assert_int_equal(codec_encode(&msg, (uint8_t)p, &f), 0);
                assert_true(f.extended);
                assert_int_equal(f.id, 0x60010u | p << 24);
                assert_int_equal((f.id & CODEC_ID_PISTOL_MASK) >> CODEC_ID_PISTOL_SHIFT, p);
                assert_int_equal(f.id & CODEC_ID_BASE_MASK, 0x60010);
                assert_int_equal(f.id & ~CODEC_ID_EXT_MASK, 0);
                assert_int_equal(codec_decode(&f, (uint8_t)p, &msg), 0);
        }
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
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
