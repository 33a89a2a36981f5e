/* SPDX-License-Identifier: MIT */
/*
 * What a pistol publishes and when (telemetry.c), driven the way the
 * daemon drives it: snapshots of the session after each change, the broker
 * connection coming and going, publications and acknowledgements, and
 * time advanced by hand (monotonic and wall clock together).
 *
 * Payloads are compared whole where their content is fixed (the state
 * document, a session's end), by member elsewhere.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "seccbridge/codec.h"
#include "seccbridge/session.h"
#include "telemetry.h"

#define MS 1000ull
#define SEC 1000000ull
/* 2024-03-01T12:00:00Z */
#define WALL0 (1709294400ull * SEC)

#define QUEUE 8

struct fx {
        struct telemetry t;
        struct event_slot slots[QUEUE];
        struct telemetry_input in;
        uint64_t now;
        int next_mid;

        /* what was published, in order */
        char sent[64][TELEMETRY_STATE_MAX];
        enum telemetry_topic topic[64];
        int mid[64];
        int n_sent;
};

static struct fx fx_storage;

static uint64_t wall(const struct fx *f)
{
        return WALL0 + f->now;
}

static int fx_setup(void **state)
{
        struct fx *f = &fx_storage;
        struct telemetry_config cfg = {
                .pistol = 1,
                .state_min_interval_us = 1 * SEC,
                .event_window = 2,
                .run_id = "0123456789abcdef",
                .version = "0.1.0",
        };

        memset(f, 0, sizeof(*f));
        telemetry_init(&f->t, &cfg, f->slots, QUEUE);
        f->now = 0;
        f->next_mid = 1;
        f->in.can_up = true;
        f->in.can_interface = "vcan0";
        f->in.converter_backend = "sim";
        f->in.converter_error = "";
        f->in.status.interface_version = 2;
        f->in.status.controller_state = CODEC_STATE_WAITING_FOR_PEV;
        f->in.status.controller_alive = true;
        f->in.status.charging_loop_soc_pct = SESSION_NOT_REPORTED;
        f->in.status.finished_state = SESSION_NOT_REPORTED;
        f->in.status.measurement = (struct power_measurement){
                .module_temp_c = 30,
                .enclosure_temp_c = 25,
                .insulation_kohm = 510,
                .link_ok = true,
                .ready = true,
        };
        f->in.status.limits = (struct power_limits){ .max_voltage_dv = 10000, .max_current_da = 1250,
                                                     .max_power_w = 50000 };
        *state = f;
        return 0;
}

static int fx_teardown(void **state)
{
        (void)state;
        return 0;
}

static void observe(struct fx *f)
{
        telemetry_observe(&f->t, &f->in, f->now, wall(f));
}

static void at(struct fx *f, uint64_t t)
{
        assert_true(t >= f->now);
        f->now = t;
}

/* Publish everything that is due now, like the shell; the broker does not
 * acknowledge unless told (ack_all). */
static int flush(struct fx *f)
{
        struct telemetry_message m;
        int n = 0;

        while (telemetry_next_message(&f->t, f->now, wall(f), &m)) {
                int i = f->n_sent++;

                assert_true(i < 64);
                assert_true(m.len < sizeof(f->sent[i]));
                memcpy(f->sent[i], m.payload, m.len);
                f->sent[i][m.len] = '\0';
                assert_int_equal(strlen(f->sent[i]), m.len);
                f->topic[i] = m.topic;
                f->mid[i] = f->next_mid++;
                assert_int_equal(m.retain, m.topic == TELEMETRY_TOPIC_STATE);
                telemetry_sent(&f->t, &m, f->mid[i], f->now);
                n++;
        }
        return n;
}

static void ack_all(struct fx *f)
{
        for (int i = 0; i < f->n_sent; i++)
                telemetry_acked(&f->t, f->mid[i]);
}

static void link_up(struct fx *f)
{
        telemetry_link(&f->t, true, f->now, wall(f));
}

static const char *last(const struct fx *f)
{
        assert_true(f->n_sent > 0);
        return f->sent[f->n_sent - 1];
}

static int count_topic(const struct fx *f, enum telemetry_topic topic, const char *needle)
{
        int n = 0;

        for (int i = 0; i < f->n_sent; i++)
                if (f->topic[i] == topic && (!needle || strstr(f->sent[i], needle)))
                        n++;
        return n;
}

/* The index of the first published message containing needle, or -1. */
static int find(const struct fx *f, const char *needle)
{
        for (int i = 0; i < f->n_sent; i++)
                if (strstr(f->sent[i], needle))
                        return i;
        return -1;
}

/* A session opened by a CCS vehicle. */
static void open_session(struct fx *f)
{
        f->in.status.in_session = true;
        f->in.status.controller_state = CODEC_STATE_CONNECTED_WITH_FULL_INFO;
        f->in.status.system_enable = true;
        f->in.status.ev = (struct codec_new_charge_session){
                .communication_protocol = CODEC_PROTOCOL_CCS_ISO_15118_2013_V2,
                .plug_and_pins = CODEC_PLUG_CCS_DC_EXTENDED,
                .ev_maximum_voltage_dv = 5000,
                .ev_maximum_current_da = 2000,
                .battery_capacity_kwh = 60,
                .state_of_charge_pct = 40,
        };
        f->in.status.charging_loop_soc_pct = SESSION_NOT_REPORTED;
        f->in.status.finished_state = SESSION_NOT_REPORTED;
        observe(f);
}

static void charge(struct fx *f, uint16_t v_dv, int16_t i_da)
{
        f->in.status.controller_state = CODEC_STATE_CHARGING;
        f->in.status.charge_started = true;
        f->in.status.request = SESSION_REQUEST_CHARGE;
        f->in.status.request_voltage_dv = v_dv;
        f->in.status.request_current_da = i_da;
        f->in.status.command = (struct power_command){ .mode = POWER_CHARGE, .voltage_dv = v_dv,
                                                       .current_da = (uint16_t)i_da };
        f->in.status.measurement.voltage_dv = v_dv;
        f->in.status.measurement.current_da = i_da;
        observe(f);
}

/* ==================================================================== */

/* The state document, whole: what every field says for a known snapshot. */
static void test_state_document(void **state)
{
        struct fx *f = *state;

        link_up(f);
        at(f, 2 * SEC);
        observe(f);
        assert_int_equal(flush(f), 1);
        assert_int_equal(f->topic[0], TELEMETRY_TOPIC_STATE);
        assert_string_equal(
                f->sent[0],
                "{\"time\":\"2024-03-01T12:00:02.000Z\",\"pistol\":1,\"run\":\"0123456789abcdef\","
                "\"interface_version\":2,"
                "\"controller\":{\"alive\":true,\"state\":\"Waiting_For_PEV\"},"
                "\"session\":{\"active\":false,\"number\":0,\"charge_started\":null,\"protocol\":null,\"plug\":null,"
                "\"ev_max_voltage_v\":null,\"ev_max_current_a\":null,\"battery_capacity_kwh\":null,"
                "\"soc_start_pct\":null,\"soc_pct\":null,\"energy_delivered_wh\":null,\"energy_returned_wh\":null,"
                "\"energy_estimate\":true,\"peak_power_w\":null,\"ev_information\":null},"
                "\"request\":{\"kind\":\"none\",\"voltage_v\":0.0,\"current_a\":0.0,\"power_function\":null,"
                "\"setpoints_mode\":null,\"current_min_a\":null,\"output_contactors\":null,"
                "\"lower_output_voltage\":null},"
                "\"command\":{\"mode\":\"off\",\"voltage_v\":0.0,\"current_a\":0.0,\"discharge\":false},"
                "\"measurement\":{\"voltage_v\":0.0,\"current_a\":0.0,\"power_w\":0.00,\"module_temperature_c\":30,"
                "\"enclosure_temperature_c\":25,\"insulation_kohm\":510},"
                "\"system_enable\":false,"
                "\"fault\":{\"active\":\"none\",\"emergency_stop\":false,\"emergency_stop_active\":false,"
                "\"emergency_stop_origin\":null},"
                "\"link\":{\"can_interface\":\"vcan0\",\"can_up\":true,\"converter_backend\":\"sim\","
                "\"converter_link\":true,\"converter_ready\":true,\"converter_fault\":false,\"converter_error\":\"\"},"
                "\"limits\":{\"max_voltage_v\":1000.0,\"max_current_a\":125.0,\"max_power_w\":50000}}");

        /* In a session, while charging; unknown temperatures are null. */
        ack_all(f);
        at(f, 10 * SEC);
        open_session(f);
        at(f, 20 * SEC);
        f->in.status.measurement.module_temp_c = POWER_TEMPERATURE_UNKNOWN;
        f->in.status.measurement.insulation_kohm = POWER_INSULATION_UNKNOWN;
        charge(f, 4101, -5);
        f->in.status.charging_loop_soc_pct = 55;
        observe(f);
        flush(f);
        assert_non_null(strstr(last(f), "\"session\":{\"active\":true,\"number\":1,\"charge_started\":true,"
                                        "\"protocol\":\"CCS_ISO_15118_2013_v2\",\"plug\":\"CCS_DC_Extended\","
                                        "\"ev_max_voltage_v\":500.0,\"ev_max_current_a\":200.0,"
                                        "\"battery_capacity_kwh\":60,\"soc_start_pct\":40,\"soc_pct\":55,"));
        assert_non_null(strstr(last(f), "\"measurement\":{\"voltage_v\":410.1,\"current_a\":-0.5,\"power_w\":-205.05,"
                                        "\"module_temperature_c\":null,\"enclosure_temperature_c\":25,"
                                        "\"insulation_kohm\":null}"));
        assert_non_null(strstr(last(f), "\"command\":{\"mode\":\"charge\",\"voltage_v\":410.1,"));
}

/* On change only, at most once per interval, the newest one; nothing while
 * the previous one is not acknowledged. */
static void test_state_on_change_rate_limited(void **state)
{
        struct fx *f = *state;

        link_up(f);
        observe(f);
        assert_int_equal(flush(f), 1);
        /* No change: nothing more, no deadline. */
        at(f, 5 * SEC);
        observe(f);
        assert_int_equal(flush(f), 0);
        assert_int_equal(telemetry_next_deadline(&f->t), TELEMETRY_NO_DEADLINE);
        ack_all(f);

        /* A change long after the last one: at once. */
        f->in.status.controller_state = CODEC_STATE_NEGOTIATING_CONNECTION;
        observe(f);
        assert_int_equal(flush(f), 1);
        ack_all(f);
        /* Three changes within the next second: held until the interval is
         * over, then only the newest. */
        at(f, 5 * SEC + 100 * MS);
        f->in.status.measurement.voltage_dv = 10;
        observe(f);
        at(f, 5 * SEC + 200 * MS);
        f->in.status.measurement.voltage_dv = 20;
        observe(f);
        at(f, 5 * SEC + 300 * MS);
        f->in.status.measurement.voltage_dv = 30;
        observe(f);
        assert_int_equal(flush(f), 0);
        assert_int_equal(telemetry_next_deadline(&f->t), 6 * SEC);
        at(f, 6 * SEC - 1);
        assert_int_equal(flush(f), 0);
        at(f, 6 * SEC);
        assert_int_equal(flush(f), 1);
        assert_non_null(strstr(last(f), "\"voltage_v\":3.0,\"current_a\""));
        assert_int_equal(count_topic(f, TELEMETRY_TOPIC_STATE, NULL), 3);

        /* Not acknowledged: the next change waits, whatever the time. */
        f->in.status.measurement.voltage_dv = 40;
        at(f, 60 * SEC);
        observe(f);
        assert_int_equal(flush(f), 0);
        assert_int_equal(telemetry_next_deadline(&f->t), TELEMETRY_NO_DEADLINE);
        ack_all(f);
        assert_int_equal(flush(f), 1);
        assert_int_equal(telemetry_counters(&f->t)->states_published, 4);
}

/* Nothing is published without a broker; once connected the state goes out
 * at once, and again after every reconnection even if unchanged. */
static void test_state_again_after_reconnection(void **state)
{
        struct fx *f = *state;

        observe(f);
        assert_int_equal(flush(f), 0);
        assert_int_equal(telemetry_next_deadline(&f->t), TELEMETRY_NO_DEADLINE);
        link_up(f);
        assert_int_equal(telemetry_next_deadline(&f->t), 0);
        assert_int_equal(flush(f), 1);
        /* Lost before the acknowledgement, back 300 ms later. */
        at(f, 300 * MS);
        telemetry_link(&f->t, false, f->now, wall(f));
        at(f, 600 * MS);
        link_up(f);
        assert_int_equal(flush(f), 1);
        assert_int_equal(count_topic(f, TELEMETRY_TOPIC_STATE, NULL), 2);
}

/* A whole session: started with the vehicle's data, energy integrated from
 * V x I while charging, ended by the controller's Charge_Session_Finished
 * with duration, energy, peak power, SoC and how it ended. */
static void test_session_events(void **state)
{
        struct fx *f = *state;
        uint64_t delivered, returned;
        int started, ended;

        link_up(f);
        at(f, 1 * SEC);
        observe(f);
        at(f, 10 * SEC);
        open_session(f);
        /* 400.0 V x 90.0 A = 36 kW for 100 s = 1000 Wh, observed every
         * 100 ms as the core timer does. */
        at(f, 20 * SEC);
        charge(f, 4000, 900);
        for (uint64_t t = 20 * SEC + 100 * MS; t <= 120 * SEC; t += 100 * MS) {
                at(f, t);
                f->in.status.charging_loop_soc_pct = (uint8_t)(40 + (t - 20 * SEC) / (10 * SEC));
                observe(f);
        }
        /* then 30 s at 45 kW (peak) = 375 Wh, and the current to 0 */
        charge(f, 5000, 900);
        for (uint64_t t = 120 * SEC + 100 * MS; t <= 150 * SEC; t += 100 * MS) {
                at(f, t);
                observe(f);
        }
        charge(f, 5000, 0);
        telemetry_energy_totals(&f->t, &delivered, &returned);
        assert_int_equal(delivered, 1375000u);
        /* The controller ends it cleanly. */
        f->in.status.in_session = false;
        f->in.status.charge_started = false;
        f->in.status.controller_state = CODEC_STATE_CLOSING_COMMUNICATION;
        f->in.status.finished_state = CODEC_FINISHED_CLEAN_STOP;
        f->in.status.measurement.voltage_dv = 0;
        f->in.status.measurement.current_da = 0;
        at(f, 155 * SEC);
        observe(f);
        while (flush(f) > 0)
                ack_all(f);

        started = find(f, "\"type\":\"session_started\"");
        ended = find(f, "\"type\":\"session_ended\"");
        assert_true(started >= 0 && ended > started);
        assert_string_equal(f->sent[started],
                            "{\"seq\":1,\"type\":\"session_started\",\"time\":\"2024-03-01T12:00:10.000Z\","
                            "\"pistol\":1,\"run\":\"0123456789abcdef\",\"session\":1,"
                            "\"protocol\":\"CCS_ISO_15118_2013_v2\",\"plug\":\"CCS_DC_Extended\","
                            "\"ev_max_voltage_v\":500.0,\"ev_max_current_a\":200.0,\"battery_capacity_kwh\":60,"
                            "\"soc_pct\":40,\"interface_version\":2}");
        assert_string_equal(f->sent[ended],
                            "{\"seq\":2,\"type\":\"session_ended\",\"time\":\"2024-03-01T12:02:35.000Z\","
                            "\"pistol\":1,\"run\":\"0123456789abcdef\",\"session\":1,"
                            "\"started\":\"2024-03-01T12:00:10.000Z\",\"duration_s\":145.000,"
                            "\"stop_reason\":\"Clean_Stop\",\"fault\":\"none\",\"charge_started\":true,"
                            "\"energy_delivered_wh\":1375.000,\"energy_returned_wh\":0.000,\"energy_estimate\":true,"
                            "\"peak_power_w\":45000.00,\"soc_start_pct\":40,\"soc_end_pct\":50}");
        assert_int_equal(telemetry_counters(&f->t)->sessions_started, 1);
        assert_int_equal(telemetry_counters(&f->t)->sessions_ended, 1);
        /* The totals keep the ended session's energy. */
        telemetry_energy_totals(&f->t, &delivered, &returned);
        assert_int_equal(delivered, 1375000u);
        assert_int_equal(returned, 0);
        /* The last state shows no session, with its number. */
        assert_non_null(strstr(last(f), "\"session\":{\"active\":false,\"number\":1,"));
}

/* How a session ended, without Charge_Session_Finished: the first fault
 * latched in it is named, and the stop reason says what the core saw. */
static void test_session_stop_reasons(void **state)
{
        struct fx *f = *state;

        link_up(f);
        at(f, 1 * SEC);
        open_session(f);
        charge(f, 4000, 100);
        at(f, 2 * SEC);
        f->in.status.fault = SESSION_FAULT_EMERGENCY_STOP;
        f->in.status.emergency_stop_latched = true;
        f->in.status.emergency_stop_origin = CODEC_ESTOP_ORIGIN_PEV;
        f->in.status.system_enable = false;
        observe(f);
        at(f, 3 * SEC);
        f->in.status.in_session = false;
        f->in.status.controller_state = CODEC_STATE_WAITING_FOR_PEV;
        observe(f);
        /* A second one, ended by the daemon's stop. */
        at(f, 4 * SEC);
        f->in.status.fault = SESSION_FAULT_NONE;
        f->in.status.emergency_stop_latched = false;
        open_session(f);
        at(f, 5 * SEC);
        f->in.status.fault = SESSION_FAULT_SHUTDOWN;
        f->in.status.in_session = false;
        observe(f);
        while (flush(f) > 0)
                ack_all(f);
        assert_int_equal(count_topic(f, TELEMETRY_TOPIC_EVENT, "\"type\":\"session_ended\""), 2);
        assert_true(find(f, "\"stop_reason\":\"controller_idle\",\"fault\":\"emergency-stop\"") >= 0);
        assert_true(find(f, "\"stop_reason\":\"shutdown\",\"fault\":\"none\"") >= 0);
        /* The stop is no fault of its own. */
        assert_int_equal(count_topic(f, TELEMETRY_TOPIC_EVENT, "\"cause\":\"shutdown\""), 0);
}

/* A Charge_Session_Finished whose State has no label (8 bits, two
 * labelled): the session still ends with a documented reason. */
static void test_stop_reason_outside_the_value_table(void **state)
{
        struct fx *f = *state;

        link_up(f);
        at(f, 1 * SEC);
        open_session(f);
        at(f, 2 * SEC);
        f->in.status.in_session = false;
        f->in.status.finished_state = 7;
        observe(f);
        while (flush(f) > 0)
                ack_all(f);
        assert_null(telemetry_finished_name(7));
        assert_true(find(f, "\"stop_reason\":\"Charge_Session_Finished\",\"fault\":\"none\"") >= 0);
}

/* Interface version 3: New_Charge_Session gives protocol and plug only;
 * what is not known yet is null (not 0) in session_started and in the
 * state, and the state carries EV_Information_* and DC_Power_Control once
 * they come. */
static void test_v3_session(void **state)
{
        struct fx *f = *state;
        struct session_status *st = &f->in.status;
        int started, ended;

        st->interface_version = 3;
        link_up(f);
        at(f, 1 * SEC);
        st->in_session = true;
        st->controller_state = CODEC_STATE_CONNECTED_WITH_FULL_INFO;
        st->ev = (struct codec_new_charge_session){
                .communication_protocol = CODEC_PROTOCOL_CCS_ISO_15118_2013_V2,
                .plug_and_pins = CODEC_PLUG_CCS_DC_EXTENDED,
        };
        observe(f);
        flush(f);
        ack_all(f);
        started = find(f, "\"type\":\"session_started\"");
        assert_true(started >= 0);
        assert_non_null(strstr(f->sent[started], "\"plug\":\"CCS_DC_Extended\",\"ev_max_voltage_v\":null,"
                                                 "\"ev_max_current_a\":null,\"battery_capacity_kwh\":null,"
                                                 "\"soc_pct\":null,\"interface_version\":3}"));
        assert_non_null(strstr(last(f), "\"interface_version\":3,"));
        assert_non_null(strstr(last(f), "\"ev_max_voltage_v\":null,\"ev_max_current_a\":null,"
                                        "\"battery_capacity_kwh\":null,\"soc_start_pct\":null,\"soc_pct\":null,"));
        assert_non_null(strstr(last(f), "\"ev_information\":{\"min_voltage_v\":null,\"max_voltage_v\":null,"));
        assert_non_null(strstr(last(f), "\"power_function\":null,\"setpoints_mode\":null,\"current_min_a\":null,"
                                        "\"output_contactors\":null,\"lower_output_voltage\":null}"));

        /* EV_Information_* (as the core keeps them, and in v2 terms). */
        at(f, 3 * SEC);
        st->ev_info.battery_valid = true;
        st->ev_info.battery = (struct codec_ev_information_battery){ .battery_capacity_kwh = 77,
                                                                     .present_state_of_charge_pct = 30,
                                                                     .minimum_state_of_charge_pct = 10,
                                                                     .target_state_of_charge_pct = 80,
                                                                     .maximum_state_of_charge_pct = 95 };
        st->ev.battery_capacity_kwh = 77;
        st->ev.state_of_charge_pct = 30;
        st->ev_info.voltages_valid = true;
        st->ev_info.voltages = (struct codec_ev_information_voltages){ .ev_minimum_voltage_dv = 2000,
                                                                       .ev_maximum_voltage_dv = 8200,
                                                                       .ev_present_voltage_dv = 7001 };
        st->ev.ev_maximum_voltage_dv = 8200;
        st->ev_info.charge_limits_valid = true;
        st->ev_info.charge_limits = (struct codec_ev_information_charge_limits){
                .ev_minimum_charge_current_da = 10, .ev_maximum_charge_current_da = 3500,
                .ev_minimum_charge_power_kw = 1, .ev_maximum_charge_power_kw = 250 };
        st->ev.ev_maximum_current_da = 3500;
        st->ev_info.discharge_limits_valid = true;
        st->ev_info.discharge_limits = (struct codec_ev_information_discharge_limits){
                .ev_minimum_discharge_current_da = 0, .ev_maximum_discharge_current_da = 1000,
                .ev_minimum_discharge_power_kw = 0, .ev_maximum_discharge_power_kw = 11 };
        st->ev_info.energy_valid = true;
        st->ev_info.energy = (struct codec_ev_information_energy){ .ev_minimum_energy_request_kwh = -5,
                                                                   .ev_target_energy_request_kwh = 40,
                                                                   .ev_maximum_energy_request_kwh = 50 };
        st->power_control_valid = true;
        st->power_control = (struct codec_dc_power_control){ .target_voltage_dv = 7500,
                                                             .current_range_max_da = 2000,
                                                             .current_range_min_da = -300,
                                                             .power_function = CODEC_POWER_FUNCTION_POWER_TRANSFER,
                                                             .setpoints_mode = CODEC_SETPOINTS_RANGE_MODE,
                                                             .output_contactors = true };
        st->request = SESSION_REQUEST_CHARGE;
        st->request_voltage_dv = 7500;
        st->request_current_da = 2000;
        /* The core takes DC_Power_Control through its Charging_Loop path,
         * with a State_of_Charge of 0: not the vehicle's. */
        st->charging_loop_soc_pct = 0;
        observe(f);
        flush(f);
        ack_all(f);
        assert_non_null(strstr(last(f), "\"ev_max_voltage_v\":820.0,\"ev_max_current_a\":350.0,"
                                        "\"battery_capacity_kwh\":77,\"soc_start_pct\":30,\"soc_pct\":30,"));
        assert_non_null(strstr(
                last(f), "\"ev_information\":{\"min_voltage_v\":200.0,\"max_voltage_v\":820.0,"
                         "\"present_voltage_v\":700.1,\"min_charge_current_a\":1.0,\"max_charge_current_a\":350.0,"
                         "\"min_charge_power_w\":1000,\"max_charge_power_w\":250000,\"min_discharge_current_a\":0.0,"
                         "\"max_discharge_current_a\":100.0,\"min_discharge_power_w\":0,"
                         "\"max_discharge_power_w\":11000,\"soc_present_pct\":30,\"soc_min_pct\":10,"
                         "\"soc_target_pct\":80,\"soc_max_pct\":95,\"min_energy_request_kwh\":-5,"
                         "\"target_energy_request_kwh\":40,\"max_energy_request_kwh\":50,"
                         "\"dynamic_target_current_a\":null}"));
        assert_non_null(strstr(last(f), "\"request\":{\"kind\":\"charge\",\"voltage_v\":750.0,\"current_a\":200.0,"
                                        "\"power_function\":\"Power_Transfer\",\"setpoints_mode\":\"Range_Mode\","
                                        "\"current_min_a\":-30.0,\"output_contactors\":\"Close\","
                                        "\"lower_output_voltage\":false}"));

        /* The state of charge moves; an undefined Power_Function (V25). */
        at(f, 5 * SEC);
        st->ev_info.battery.present_state_of_charge_pct = 33;
        st->ev.state_of_charge_pct = 33;
        st->power_control.power_function = 3;
        st->request = SESSION_REQUEST_INVALID;
        observe(f);
        flush(f);
        ack_all(f);
        assert_non_null(strstr(last(f), "\"soc_start_pct\":30,\"soc_pct\":33,"));
        assert_non_null(strstr(last(f), "\"kind\":\"invalid\","));
        assert_non_null(strstr(last(f), "\"power_function\":\"undefined\","));

        /* The end: the core clears the information with the session. */
        at(f, 6 * SEC);
        memset(&st->ev_info, 0, sizeof(st->ev_info));
        st->power_control_valid = false;
        st->in_session = false;
        st->finished_state = CODEC_FINISHED_CLEAN_STOP;
        observe(f);
        while (flush(f) > 0)
                ack_all(f);
        ended = find(f, "\"type\":\"session_ended\"");
        assert_true(ended >= 0);
        assert_non_null(strstr(f->sent[ended], "\"soc_start_pct\":30,\"soc_end_pct\":33}"));
        assert_non_null(strstr(last(f), "\"ev_information\":null},"));
        assert_non_null(strstr(last(f), "\"power_function\":null,"));
}

/* Faults: one event when each starts, with its cause, one when it ends,
 * with its duration; the converter link only once it had been up. */
static void test_fault_events(void **state)
{
        struct fx *f = *state;
        int i;

        f->in.status.measurement.link_ok = false;       /* still waking up at start */
        link_up(f);
        observe(f);
        at(f, 1 * SEC);
        f->in.status.measurement.link_ok = true;
        observe(f);
        assert_int_equal(count_topic(f, TELEMETRY_TOPIC_EVENT, NULL), 0);
        flush(f);
        assert_int_equal(count_topic(f, TELEMETRY_TOPIC_EVENT, NULL), 0);

        at(f, 2 * SEC);
        f->in.status.measurement.link_ok = false;
        f->in.converter_error = "tcp 192.0.2.10:502: Connection refused";
        observe(f);
        /* The error text changes during the outage: the same episode. */
        at(f, 3 * SEC);
        f->in.converter_error = "tcp 192.0.2.10:502: Connection timed out";
        observe(f);
        at(f, 4500 * MS);
        f->in.status.measurement.link_ok = true;
        f->in.converter_error = "";
        observe(f);
        /* The CAN interface goes down and up. */
        at(f, 5 * SEC);
        f->in.can_up = false;
        observe(f);
        at(f, 5250 * MS);
        f->in.can_up = true;
        observe(f);
        /* The controller falls silent: the core's latch. */
        at(f, 6 * SEC);
        f->in.status.controller_alive = false;
        f->in.status.fault = SESSION_FAULT_CONTROLLER_TIMEOUT;
        observe(f);
        while (flush(f) > 0)
                ack_all(f);

        assert_int_equal(count_topic(f, TELEMETRY_TOPIC_EVENT, "\"type\":\"fault\""), 3);
        assert_int_equal(count_topic(f, TELEMETRY_TOPIC_EVENT, "\"type\":\"fault_ended\""), 2);
        i = find(f, "\"type\":\"fault\"");
        assert_string_equal(f->sent[i], "{\"seq\":1,\"type\":\"fault\",\"time\":\"2024-03-01T12:00:02.000Z\","
                                        "\"pistol\":1,\"run\":\"0123456789abcdef\",\"fault\":\"converter_link\","
                                        "\"cause\":\"link_lost\",\"detail\":\"tcp 192.0.2.10:502: Connection refused\","
                                        "\"session\":null}");
        i = find(f, "\"type\":\"fault_ended\"");
        assert_non_null(strstr(f->sent[i], "\"fault\":\"converter_link\",\"cause\":\"link_lost\","));
        assert_non_null(strstr(f->sent[i], "\"started\":\"2024-03-01T12:00:02.000Z\",\"duration_s\":2.500}"));
        assert_true(find(f, "\"fault\":\"can\",\"cause\":\"interface_down\","
                            "\"detail\":\"CAN interface vcan0 is down or missing\"") >= 0);
        assert_true(find(f, "\"duration_s\":0.250}") >= 0);
        assert_true(find(f, "\"fault\":\"session\",\"cause\":\"controller-timeout\","
                            "\"detail\":\"no Advantics_Controller_Status within the controller timeout (R1)\"") >= 0);
        assert_true(telemetry_fault_active(&f->t, TELEMETRY_FAULT_SESSION));
        assert_false(telemetry_fault_active(&f->t, TELEMETRY_FAULT_CONVERTER_LINK));
        assert_int_equal(telemetry_counters(&f->t)->faults[TELEMETRY_FAULT_CONVERTER_LINK], 1);
        assert_int_equal(telemetry_counters(&f->t)->faults[TELEMETRY_FAULT_CAN], 1);
        /* Events are numbered in the order they happened. */
        for (int k = 0, seq = 0; k < f->n_sent; k++) {
                int s;

                if (f->topic[k] != TELEMETRY_TOPIC_EVENT)
                        continue;
                assert_int_equal(sscanf(f->sent[k], "{\"seq\":%d,", &s), 1);
                assert_int_equal(s, ++seq);
        }
}

/* While the broker is away events wait; the oldest go when the queue is
 * full; after the reconnection the number dropped goes first, then the
 * rest in order, at most event_window in flight. */
static void test_events_wait_for_the_broker(void **state)
{
        struct fx *f = *state;
        int first;

        observe(f);
        for (int i = 0; i < QUEUE + 3; i++) {
                at(f, f->now + 1 * SEC);
                f->in.can_up = i % 2 != 0;      /* fault, fault_ended, ... */
                observe(f);
        }
        assert_int_equal(telemetry_queue(&f->t)->count, QUEUE);
        assert_int_equal(telemetry_queue(&f->t)->dropped, 3);
        assert_int_equal(flush(f), 0);

        at(f, 30 * SEC);
        link_up(f);
        /* The report, then two events in flight at most; the state waits
         * behind the events. */
        assert_int_equal(flush(f), 3);
        assert_string_equal(f->sent[0], "{\"seq\":12,\"type\":\"events_dropped\",\"time\":\"2024-03-01T12:00:30.000Z\","
                                        "\"pistol\":1,\"run\":\"0123456789abcdef\",\"count\":3,\"dropped_total\":3}");
        assert_int_equal(f->topic[1], TELEMETRY_TOPIC_EVENT);
        assert_non_null(strstr(f->sent[1], "{\"seq\":4,"));
        assert_non_null(strstr(f->sent[2], "{\"seq\":5,"));
        /* Lost again before any acknowledgement: the same three first. */
        telemetry_link(&f->t, false, f->now, wall(f));
        link_up(f);
        first = f->n_sent;
        while (flush(f) > 0)
                ack_all(f);
        assert_non_null(strstr(f->sent[first], "{\"seq\":12,\"type\":\"events_dropped\""));
        assert_non_null(strstr(f->sent[first + 1], "{\"seq\":4,"));
        assert_non_null(strstr(f->sent[first + 2], "{\"seq\":5,"));
        assert_non_null(strstr(f->sent[first + 8], "{\"seq\":11,"));
        assert_int_equal(f->topic[first + 9], TELEMETRY_TOPIC_STATE);
        assert_int_equal(count_topic(f, TELEMETRY_TOPIC_EVENT, NULL), 3 + 1 + QUEUE);
        assert_int_equal(telemetry_queue(&f->t)->count, 0);
        assert_int_equal(telemetry_queue(&f->t)->delivered, QUEUE);
        /* Reported once. */
        telemetry_link(&f->t, false, f->now, wall(f));
        link_up(f);
        while (flush(f) > 0)
                ack_all(f);
        assert_int_equal(count_topic(f, TELEMETRY_TOPIC_EVENT, "events_dropped"), 2);
}

static void test_config_reloaded_event(void **state)
{
        struct fx *f = *state;
        char long_path[600];

        link_up(f);
        telemetry_config_reloaded(&f->t, true, "/etc/seccbridge/seccbridge.conf", NULL, f->now, wall(f));
        telemetry_config_reloaded(&f->t, false, "/etc/seccbridge/seccbridge.conf",
                                  "/etc/seccbridge/seccbridge.conf:3: limits.max_current: \"x\" is not a number",
                                  f->now, wall(f));
        memset(long_path, 'p', sizeof(long_path) - 1);
        long_path[0] = '/';
        long_path[sizeof(long_path) - 1] = '\0';
        telemetry_config_reloaded(&f->t, true, long_path, NULL, f->now, wall(f));
        flush(f);
        ack_all(f);
        flush(f);
        assert_true(find(f, "\"type\":\"config_reloaded\",\"time\":\"2024-03-01T12:00:00.000Z\",\"pistol\":1,"
                            "\"run\":\"0123456789abcdef\",\"applied\":true,"
                            "\"path\":\"/etc/seccbridge/seccbridge.conf\",\"reason\":null}") >= 0);
        assert_true(find(f, "\"applied\":false,\"path\":\"/etc/seccbridge/seccbridge.conf\",\"reason\":"
                            "\"/etc/seccbridge/seccbridge.conf:3: limits.max_current: \\\"x\\\" is not a number\"}") >= 0);
        assert_int_equal(count_topic(f, TELEMETRY_TOPIC_EVENT, "config_reloaded"), 3);
        assert_int_equal(count_topic(f, TELEMETRY_TOPIC_EVENT, "truncated"), 0);
        assert_int_equal(telemetry_counters(&f->t)->reloads, 3);
        assert_int_equal(telemetry_counters(&f->t)->reloads_refused, 1);
}

static void test_online_payloads(void **state)
{
        struct fx *f = *state;
        char buf[TELEMETRY_ONLINE_MAX];
        int n;

        n = telemetry_online_payload(&f->t, true, NULL, WALL0, buf, sizeof(buf));
        assert_int_equal(n, (int)strlen(buf));
        assert_string_equal(buf, "{\"online\":true,\"time\":\"2024-03-01T12:00:00.000Z\",\"pistol\":1,"
                                 "\"run\":\"0123456789abcdef\",\"version\":\"0.1.0\"}");
        telemetry_online_payload(&f->t, false, "connection_lost", 0, buf, sizeof(buf));
        assert_string_equal(buf, "{\"online\":false,\"reason\":\"connection_lost\",\"pistol\":1,"
                                 "\"run\":\"0123456789abcdef\",\"version\":\"0.1.0\"}");
        assert_true(telemetry_online_payload(&f->t, false, "stopped", WALL0, buf, 20) < 0);
}

/* The shell's publisher with no queue (MQTT off): sessions and energy are
 * still counted for the metrics. */
static void test_without_queue_counts_only(void **state)
{
        struct fx *f = *state;
        struct telemetry t;
        struct telemetry_config cfg = { .pistol = 3 };
        uint64_t delivered, returned;

        telemetry_init(&t, &cfg, NULL, 0);
        f->now = 0;
        telemetry_observe(&t, &f->in, 0, WALL0);
        f->in.status.in_session = true;
        f->in.status.measurement.voltage_dv = 3600;
        f->in.status.measurement.current_da = -1000;
        telemetry_observe(&t, &f->in, 1 * SEC, WALL0);
        telemetry_observe(&t, &f->in, 2 * SEC, WALL0);
        telemetry_energy_totals(&t, &delivered, &returned);
        assert_int_equal(delivered, 0);
        assert_int_equal(returned, 10000u);
        assert_int_equal(telemetry_counters(&t)->sessions_started, 1);
        assert_int_equal(telemetry_queue(&t)->count, 0);
}

/* The payloads name protocol, plug, end state and E-stop origin from
 * database v2.7's value tables whatever the interface version: v3.6 must
 * give those signals the same labels, value for value. */
static void assert_same_labels(enum codec_msg_type v2, enum codec_msg_type v3, const char *signal)
{
        const struct codec_signal_info *a =
                codec_signal_by_name(codec_msg_info(codec_db_for_version(2), v2), signal);
        const struct codec_signal_info *b =
                codec_signal_by_name(codec_msg_info(codec_db_for_version(3), v3), signal);
        unsigned labelled = 0;

        assert_non_null(a);
        assert_non_null(b);
        for (int64_t raw = 0; raw < 256; raw++) {
                const char *la = codec_signal_label(a, raw), *lb = codec_signal_label(b, raw);

                if (!la || !lb) {
                        assert_true(la == lb);
                        continue;
                }
                assert_string_equal(la, lb);
                labelled++;
        }
        assert_true(labelled >= 2);
}

static void test_label_tables_same_in_both_databases(void **state)
{
        (void)state;
        assert_same_labels(CODEC_NEW_CHARGE_SESSION, CODEC_NEW_CHARGE_SESSION_V3, "Communication_Protocol");
        assert_same_labels(CODEC_NEW_CHARGE_SESSION, CODEC_NEW_CHARGE_SESSION_V3, "Plug_and_pins");
        assert_same_labels(CODEC_CHARGE_SESSION_FINISHED, CODEC_CHARGE_SESSION_FINISHED, "State");
        assert_same_labels(CODEC_EMERGENCY_STOP, CODEC_EMERGENCY_STOP, "Origin");
}

/* doc/mqtt.md, whole. */
static char *read_doc(void)
{
        static char doc[128 * 1024];
        FILE *f = fopen(SOURCE_ROOT "/doc/mqtt.md", "r");
        size_t n;

        assert_non_null(f);
        n = fread(doc, 1, sizeof(doc) - 1, f);
        fclose(f);
        assert_true(n > 0 && n < sizeof(doc) - 1);
        doc[n] = '\0';
        return doc;
}

/* The list of `"key": {"enum": [...]` after `from` in the doc, copied out. */
static void doc_enum(const char *doc, const char *from, const char *key, char *out, size_t cap)
{
        char needle[96];
        const char *a = strstr(doc, from), *b, *e;

        assert_non_null(a);
        snprintf(needle, sizeof(needle), "\"%s\": {\"enum\": [", key);
        b = strstr(a, needle);
        assert_non_null(b);
        b += strlen(needle);
        e = strchr(b, ']');
        assert_non_null(e);
        assert_true((size_t)(e - b) < cap);
        memcpy(out, b, (size_t)(e - b));
        out[e - b] = '\0';
}

static int quoted_items(const char *list)
{
        int n = 0;

        for (const char *c = list; *c; c++)
                n += *c == '"';
        return n / 2;
}

static bool has_quoted(const char *list, const char *name)
{
        char q[64];

        snprintf(q, sizeof(q), "\"%s\"", name);
        return strstr(list, q) != NULL;
}

/* The table row of a field, e.g. "| `fault.active` |", to its end. */
static void doc_row(const char *doc, const char *field, char *out, size_t cap)
{
        char needle[96];
        const char *a, *e;

        snprintf(needle, sizeof(needle), "\n| %s |", field);
        a = strstr(doc, needle);
        assert_non_null(a);
        e = strchr(a + 1, '\n');
        assert_non_null(e);
        assert_true((size_t)(e - a) < cap);
        memcpy(out, a, (size_t)(e - a));
        out[e - a] = '\0';
}

static bool has_backticked(const char *row, const char *name)
{
        char q[64];

        snprintf(q, sizeof(q), "`%s`", name);
        return strstr(row, q) != NULL;
}

/* Every value the code can put in state.fault.active, state.request.kind,
 * session_ended.fault and session_ended.stop_reason is in the schemas of
 * doc/mqtt.md, and in its tables; nothing else is. */
static void test_doc_names_every_value(void **state)
{
        const char *doc = read_doc();
        const char *state_schema = "<!-- schema: state -->";
        const char *ended_schema = "{\"const\": \"session_ended\"}";
        char list[1024], row[2048];

        (void)state;
        doc_enum(doc, state_schema, "fault", list, sizeof(list));
        doc_row(doc, "`fault.active`", row, sizeof(row));
        for (int i = 0; i < SESSION_FAULT_COUNT; i++) {
                const char *name = session_fault_name((enum session_fault)i);

                if (!has_quoted(list, name) || !has_backticked(row, name))
                        fail_msg("fault %s is not in the state schema or the fault.active row", name);
        }
        assert_int_equal(quoted_items(list), SESSION_FAULT_COUNT);

        doc_enum(doc, state_schema, "kind", list, sizeof(list));
        doc_row(doc, "`request.kind`", row, sizeof(row));
        for (int i = 0; i < SESSION_REQUEST_COUNT; i++) {
                const char *name = session_request_name((enum session_request)i);

                if (!has_quoted(list, name) || !has_backticked(row, name))
                        fail_msg("request %s is not in the state schema or the request.kind row", name);
        }
        assert_int_equal(quoted_items(list), SESSION_REQUEST_COUNT);

        /* A session's first fault: never the stop itself. */
        doc_enum(doc, ended_schema, "fault", list, sizeof(list));
        for (int i = 0; i < SESSION_FAULT_COUNT; i++) {
                const char *name = session_fault_name((enum session_fault)i);

                if (i != SESSION_FAULT_SHUTDOWN && !has_quoted(list, name))
                        fail_msg("fault %s is not in the session_ended schema", name);
        }
        assert_int_equal(quoted_items(list), SESSION_FAULT_COUNT - 1);

        /* Stop reasons: the value table's labels, the fallback for a State
         * outside it, and what the core saw. */
        doc_enum(doc, ended_schema, "stop_reason", list, sizeof(list));
        doc_row(doc, "| `stop_reason`", row, sizeof(row));
        {
                const char *reasons[] = { telemetry_finished_name(CODEC_FINISHED_CLEAN_STOP),
                                          telemetry_finished_name(CODEC_FINISHED_RUSHED_STOP),
                                          "Charge_Session_Finished", "controller_idle", "controller_restart",
                                          "shutdown" };

                for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
                        if (!has_quoted(list, reasons[i]) || !has_backticked(row, reasons[i]))
                                fail_msg("stop reason %s is not in the session_ended schema or its row",
                                         reasons[i]);
                assert_int_equal(quoted_items(list), (int)(sizeof(reasons) / sizeof(reasons[0])));
        }
}

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(test_state_document),
                T(test_state_on_change_rate_limited),
                T(test_state_again_after_reconnection),
                T(test_session_events),
                T(test_session_stop_reasons),
                T(test_stop_reason_outside_the_value_table),
                T(test_v3_session),
                T(test_fault_events),
                T(test_events_wait_for_the_broker),
                T(test_config_reloaded_event),
                T(test_online_payloads),
                T(test_without_queue_counts_only),
                cmocka_unit_test(test_label_tables_same_in_both_databases),
                cmocka_unit_test(test_doc_names_every_value),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
