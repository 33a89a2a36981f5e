/* SPDX-License-Identifier: MIT */
/*
 * The session with interface version 3 (database v3.6), rule by rule: every
 * V rule of part D.5 that concerns the power side (V1..V25; V17 is the
 * controller's own promise), the readings E.5, E.12, E.13, E.14, E.20, E.27
 * of part E, frames of the other version, the EV information kept per
 * session, and a whole CCS and CHAdeMO session frame by frame.
 *
 * The v3 front end maps DC_Power_Control onto the same machine as v2, so
 * these tests drive the session exactly as test-session.c does: frames built
 * with the codec (database v3.6), converter measurements, time advanced by
 * hand with a tick at every deadline the session asks for.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "seccbridge/codec.h"
#include "seccbridge/limits.h"
#include "seccbridge/power.h"
#include "seccbridge/session.h"

#define V3 (&codec_db_v3_6)
#define V2 (&codec_db_v2_7)

#define MS 1000ull
#define SEC 1000000ull

#define HEARTBEAT_US (100 * MS)
#define MEAS_US (20 * MS)
#define REC_MAX 2048u

/* 1000 V, 200 A, 100 kW, precharge 2 A, insulation test 1 A */
static const struct power_limits test_limits = {
        .max_voltage_dv = 10000,
        .max_current_da = 2000,
        .max_power_w = 100000,
        .precharge_max_current_da = 20,
        .insulation_max_current_da = 10,
};

struct rec_frame {
        uint64_t t;
        struct codec_frame raw;
        struct codec_message msg;
};

struct fx {
        struct session s;
        struct session_config cfg;
        uint64_t now;

        struct rec_frame frames[REC_MAX];
        uint64_t n_frames;
        uint64_t n_cmds;
        struct power_command last_cmd;

        bool heartbeat;
        uint8_t state;
        uint64_t next_hb;

        bool converter;
        struct power_measurement m;
        uint64_t next_meas;

        uint16_t ev_max_dv;             /* EV_Information_Voltages at the start; 0: none sent */
};

static struct fx fx_storage;

/* ---- recording callbacks ---- */

static void fake_tx_frame(const struct codec_frame *frame, void *userdata)
{
        struct fx *f = userdata;
        struct rec_frame *r = &f->frames[f->n_frames % REC_MAX];
        const struct codec_msg_info *info;

        /* V2..V4: v3.6 identifiers, this pistol, exact DLC; only the power
         * side's three messages. */
        assert_true(frame->extended);
        assert_int_equal((frame->id & CODEC_ID_PISTOL_MASK) >> CODEC_ID_PISTOL_SHIFT, f->cfg.pistol);
        assert_int_equal(codec_decode(V3, frame, f->cfg.pistol, &r->msg), 0);
        assert_true(r->msg.type == CODEC_POWER_MODULES_STATUS ||
                    r->msg.type == CODEC_DC_POWER_PARAMETERS ||
                    r->msg.type == CODEC_SEQUENCE_CONTROL);
        info = codec_msg_info(V3, r->msg.type);
        assert_int_equal(frame->len, info->dlc);
        r->t = f->now;
        r->raw = *frame;
        f->n_frames++;
}

static void fake_power_command(const struct power_command *cmd, void *userdata)
{
        struct fx *f = userdata;

        if (f->n_cmds > 0)
                assert_false(f->last_cmd.mode == cmd->mode && f->last_cmd.voltage_dv == cmd->voltage_dv &&
                             f->last_cmd.current_da == cmd->current_da &&
                             f->last_cmd.discharge == cmd->discharge);
        /* Whatever the version: inside the limits in force. */
        assert_true(limits_within(&f->s.effective, cmd));
        f->last_cmd = *cmd;
        f->n_cmds++;
}

static void fx_init(struct fx *f)
{
        const struct session_callbacks cb = {
                .tx_frame = fake_tx_frame,
                .power_command = fake_power_command,
                .userdata = f,
        };

        f->n_frames = 0;
        f->n_cmds = 0;
        assert_int_equal(session_init(&f->s, &f->cfg, &cb, f->now), 0);
}

static int fx_setup(void **state)
{
        struct fx *f = &fx_storage;

        memset(f, 0, sizeof(*f));
        session_config_defaults(&f->cfg);
        f->cfg.interface_version = 3;
        f->cfg.limits = test_limits;
        f->cfg.sequence_resend_us = 0;
        f->cfg.current_ramp_da_per_s = 0;
        f->now = 5 * SEC;
        f->ev_max_dv = 5000;
        f->m = (struct power_measurement){
                .module_temp_c = 30,
                .enclosure_temp_c = 25,
                .insulation_kohm = 1000,
                .link_ok = true,
        };
        fx_init(f);
        *state = f;
        return 0;
}

static int fx_teardown(void **state)
{
        (void)state;
        return 0;
}

static struct session_status status_of(const struct fx *f)
{
        struct session_status st;

        session_get_status(&f->s, &st);
        return st;
}

/* ---- driving the session ---- */

/* What the session keeps worked out between calls (next deadline,
 * command, frames due) agrees with a full recomputation. */
static void check_cache(const struct fx *f)
{
        const char *why = session_check_cache(&f->s, f->now);

        if (why)
                fail_msg("session cache: %s", why);
}

static void at(struct fx *f, uint64_t t)
{
        for (unsigned guard = 0; guard < 1000000; guard++) {
                uint64_t d = session_next_deadline(&f->s);

                check_cache(f);
                if (d == SESSION_NO_DEADLINE || d > t)
                        break;
                if (d > f->now)
                        f->now = d;
                session_tick(&f->s, f->now);
                check_cache(f);
                assert_true(session_next_deadline(&f->s) > f->now);
        }
        if (t > f->now)
                f->now = t;
}

static int rx_db(struct fx *f, const struct codec_db *db, const struct codec_message *m)
{
        struct codec_frame fr;

        assert_int_equal(codec_encode(db, m, f->cfg.pistol, &fr), 0);
        return session_on_frame(&f->s, &fr, f->now);
}

static void rx(struct fx *f, const struct codec_message *m)
{
        assert_int_equal(rx_db(f, V3, m), 0);
}

static void rx_state(struct fx *f, uint8_t state)
{
        struct codec_message m = { .type = CODEC_ADVANTICS_CONTROLLER_STATUS };

        m.u.advantics_controller_status.state = state;
        f->state = state;
        f->next_hb = f->now + HEARTBEAT_US;
        rx(f, &m);
}

static void rx_ncs(struct fx *f, uint8_t protocol, uint8_t plug)
{
        struct codec_message m = { .type = CODEC_NEW_CHARGE_SESSION_V3 };

        m.u.new_charge_session_v3.communication_protocol = protocol;
        m.u.new_charge_session_v3.plug_and_pins = plug;
        rx(f, &m);
}

/* DC_Power_Control, every field given. */
static void rx_dpc_full(struct fx *f, uint8_t function, uint16_t v, int16_t max, int16_t min, uint8_t mode,
                        bool contactors, bool lowering)
{
        struct codec_message m = { .type = CODEC_DC_POWER_CONTROL };

        m.u.dc_power_control = (struct codec_dc_power_control){
                .target_voltage_dv = v,
                .current_range_max_da = max,
                .current_range_min_da = min,
                .power_function = function,
                .setpoints_mode = mode,
                .output_contactors = contactors,
                .lower_output_voltage = lowering,
        };
        rx(f, &m);
}

/* The commands as the controller sends them (part D.2, contactors closed). */
static void rx_standby(struct fx *f, bool contactors, bool lowering)
{
        rx_dpc_full(f, CODEC_POWER_FUNCTION_STANDBY, 0, 0, 0, CODEC_SETPOINTS_TARGET_MODE, contactors, lowering);
}

static void rx_ins(struct fx *f, uint16_t v)
{
        rx_dpc_full(f, CODEC_POWER_FUNCTION_INSULATION_TEST, v, 0, 0, CODEC_SETPOINTS_TARGET_MODE, true, false);
}

static void rx_pre(struct fx *f, uint16_t v, int16_t max)
{
        rx_dpc_full(f, CODEC_POWER_FUNCTION_PRECHARGE, v, max, 0, CODEC_SETPOINTS_RANGE_MODE, true, false);
}

static void rx_target(struct fx *f, uint16_t v, int16_t i)
{
        rx_dpc_full(f, CODEC_POWER_FUNCTION_POWER_TRANSFER, v, i, i, CODEC_SETPOINTS_TARGET_MODE, true, false);
}

static void rx_range(struct fx *f, uint16_t v, int16_t max, int16_t min)
{
        rx_dpc_full(f, CODEC_POWER_FUNCTION_POWER_TRANSFER, v, max, min, CODEC_SETPOINTS_RANGE_MODE, true,
                    false);
}

static void rx_csc(struct fx *f, uint8_t ready)
{
        struct codec_message m = { .type = CODEC_CHARGE_STATUS_CHANGE };

        m.u.charge_status_change.vehicle_ready_for_charging = ready;
        rx(f, &m);
}

static void rx_csf(struct fx *f, uint8_t state)
{
        struct codec_message m = { .type = CODEC_CHARGE_SESSION_FINISHED };

        m.u.charge_session_finished.state = state;
        rx(f, &m);
        assert_int_equal(session_command(&f->s)->mode, POWER_OFF);
        assert_false(status_of(f).in_session);
}

static void rx_ocpp(struct fx *f, int16_t da)
{
        struct codec_message m = { .type = CODEC_OCPP_CONTROL };

        m.u.ocpp_control.dynamic_target_current_da = da;
        rx(f, &m);
}

static void rx_ev_voltages(struct fx *f, uint16_t max_dv)
{
        struct codec_message m = { .type = CODEC_EV_INFORMATION_VOLTAGES };

        m.u.ev_information_voltages = (struct codec_ev_information_voltages){
                .ev_minimum_voltage_dv = 2000, .ev_maximum_voltage_dv = max_dv, .ev_present_voltage_dv = 3870,
        };
        rx(f, &m);
}

static void meas(struct fx *f)
{
        session_on_measurement(&f->s, &f->m, f->now);
        f->next_meas = f->now + MEAS_US;
}

/* A converter doing what it is told at once (see test-session.c). */
static void meas_follow(struct fx *f)
{
        const struct power_command *c = session_command(&f->s);

        switch (c->mode) {
        case POWER_OFF:
                f->m.voltage_dv = 0;
                f->m.current_da = 0;
                f->m.ready = false;
                break;
        case POWER_STANDBY:
                if (c->discharge)
                        f->m.voltage_dv = 0;
                f->m.current_da = 0;
                f->m.ready = true;
                break;
        case POWER_INSULATION_TEST:
                f->m.voltage_dv = c->voltage_dv;
                f->m.current_da = 0;
                f->m.ready = true;
                break;
        case POWER_PRECHARGE:
                f->m.voltage_dv = c->voltage_dv;
                f->m.current_da = (int16_t)(c->current_da / 2);
                f->m.ready = true;
                break;
        case POWER_CHARGE:
                f->m.voltage_dv = c->voltage_dv;
                f->m.current_da = (int16_t)c->current_da;
                f->m.ready = true;
                break;
        }
        meas(f);
}

static void run(struct fx *f, uint64_t dt)
{
        uint64_t end = f->now + dt;

        for (;;) {
                uint64_t hb = f->heartbeat ? f->next_hb : UINT64_MAX;
                uint64_t mt = f->converter ? f->next_meas : UINT64_MAX;
                uint64_t next = hb < mt ? hb : mt;

                if (next > end)
                        break;
                at(f, next);
                if (f->heartbeat && f->now >= f->next_hb)
                        rx_state(f, f->state);
                if (f->converter && f->now >= f->next_meas)
                        meas_follow(f);
        }
        at(f, end);
}

/* ---- looking at what was sent ---- */

static const struct rec_frame *frame_at(const struct fx *f, uint64_t k)
{
        assert_true(k < f->n_frames);
        assert_true(f->n_frames - k <= REC_MAX);
        return &f->frames[k % REC_MAX];
}

static unsigned count_since(const struct fx *f, uint64_t from, enum codec_msg_type type)
{
        unsigned n = 0;

        for (uint64_t k = from; k < f->n_frames; k++)
                if (frame_at(f, k)->msg.type == type)
                        n++;
        return n;
}

static const struct rec_frame *last_of(const struct fx *f, enum codec_msg_type type)
{
        uint64_t lo = f->n_frames > REC_MAX ? f->n_frames - REC_MAX : 0;

        for (uint64_t k = f->n_frames; k > lo; k--) {
                const struct rec_frame *r = frame_at(f, k - 1);

                if (r->msg.type == type)
                        return r;
        }
        return NULL;
}

static const struct codec_power_modules_status *last_status(const struct fx *f)
{
        const struct rec_frame *r = last_of(f, CODEC_POWER_MODULES_STATUS);

        assert_non_null(r);
        return &r->msg.u.power_modules_status;
}

static const struct codec_dc_power_parameters *last_params(const struct fx *f)
{
        const struct rec_frame *r = last_of(f, CODEC_DC_POWER_PARAMETERS);

        assert_non_null(r);
        return &r->msg.u.dc_power_parameters;
}

static void expect_cmd_at(const struct fx *f, enum power_mode mode, uint16_t v, int32_t i,
                          bool discharge, int line)
{
        const struct power_command *c = session_command(&f->s);

        if (c->mode != mode || c->voltage_dv != v || c->current_da != i ||
            c->discharge != discharge) {
                print_error("line %d: command %s %u dV %d dA%s, expected %s %u dV %d dA%s\n", line,
                            power_mode_name(c->mode), c->voltage_dv, c->current_da,
                            c->discharge ? " discharge" : "", power_mode_name(mode), v, i,
                            discharge ? " discharge" : "");
                fail();
        }
}

#define expect_cmd(f, mode, v, i, discharge) expect_cmd_at(f, mode, v, i, discharge, __LINE__)

/* ---- scenario steps (part D.5) ---- */

static void controller_waiting(struct fx *f)
{
        f->heartbeat = true;
        f->converter = true;
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        meas_follow(f);
        run(f, 500 * MS);
}

/* A session opened with New_Charge_Session, EV information, System_Enable
 * = 1 and the Standby that follows (V5, V6). */
static void open_session_plug(struct fx *f, uint8_t protocol, uint8_t plug)
{
        controller_waiting(f);
        rx_state(f, CODEC_STATE_NEGOTIATING_CONNECTION);
        run(f, 300 * MS);
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        rx_ncs(f, protocol, plug);
        if (f->ev_max_dv)
                rx_ev_voltages(f, f->ev_max_dv);
        run(f, 300 * MS);
        assert_true(status_of(f).in_session);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
        rx_standby(f, false, false);
        run(f, 200 * MS);
}

static void open_session(struct fx *f, bool chademo)
{
        if (chademo)
                open_session_plug(f, CODEC_PROTOCOL_CHADEMO_V1_0_V1_1_V1_2, CODEC_PLUG_CHADEMO);
        else
                open_session_plug(f, CODEC_PROTOCOL_CCS_ISO_15118_2013_V2, CODEC_PLUG_CCS_DC_CORE);
}

/* V7..V10: the test at 500 V, then Standby with Lowering (E.14). */
static void insulation_test(struct fx *f)
{
        rx_state(f, CODEC_STATE_INSULATION_TEST);
        rx_ins(f, 5000);
        run(f, 1 * SEC);
        expect_cmd(f, POWER_INSULATION_TEST, 5000, 10, false);
        rx_standby(f, true, true);
        run(f, 300 * MS);
        expect_cmd(f, POWER_STANDBY, 0, 0, true);
        assert_true(f->m.voltage_dv <= 200);
}

/* V11..V13: precharge to 387.5 V at 2 A, then one Standby. */
static void precharge(struct fx *f)
{
        rx_state(f, CODEC_STATE_PRECHARGE);
        rx_pre(f, 3875, 20);
        run(f, 500 * MS);
        expect_cmd(f, POWER_PRECHARGE, 3875, 20, false);
        rx_standby(f, true, false);
        run(f, 200 * MS);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
}

/* V14: Charge_Started and one Standby. */
static void waiting_for_charge(struct fx *f)
{
        rx_state(f, CODEC_STATE_WAITING_FOR_CHARGE);
        rx_csc(f, CODEC_CHARGE_STARTED);
        rx_standby(f, true, false);
        run(f, 200 * MS);
}

/* A CCS session charging at 400 V / 100 A in Target_Mode. */
static void ccs_charging(struct fx *f)
{
        open_session(f, false);
        insulation_test(f);
        precharge(f);
        waiting_for_charge(f);
        rx_state(f, CODEC_STATE_CHARGING);
        rx_target(f, 4000, 1000);
        run(f, 300 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
}

/* V20: the three Standby of Ending_Charge, current first (E.13). */
static void ending_charge(struct fx *f)
{
        rx_state(f, CODEC_STATE_ENDING_CHARGE);
        rx_csc(f, CODEC_CHARGE_STOPPED);
        rx_standby(f, true, false);
        run(f, 200 * MS);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        rx_standby(f, false, false);
        run(f, 200 * MS);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        rx_standby(f, false, true);
        run(f, 200 * MS);
}

/* ====================================================================
 * Unchanged from v2, with the v3 identifiers (V1..V6)
 * ==================================================================== */

static void test_V01_silence_200ms_turns_converter_off(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        f->heartbeat = false;
        at(f, f->next_hb - HEARTBEAT_US + 199 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
        at(f, f->next_hb - HEARTBEAT_US + 200 * MS);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_CONTROLLER_TIMEOUT);
        run(f, 200 * MS);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
        /* Latched: the heartbeat back is not enough, a request is refused. */
        f->heartbeat = true;
        rx_state(f, CODEC_STATE_CHARGING);
        rx_target(f, 4000, 1000);
        run(f, 300 * MS);
        expect_cmd(f, POWER_OFF, 0, 0, true);
}

static void test_V02_status_every_100ms_with_v3_identifier(void **state)
{
        struct fx *f = *state;
        uint64_t t0, first;

        controller_waiting(f);
        assert_null(last_of(f, CODEC_POWER_MODULES_STATUS));
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        t0 = f->now;
        first = f->n_frames;
        rx_ncs(f, CODEC_PROTOCOL_CCS_ISO_15118_2013_V2, CODEC_PLUG_CCS_DC_CORE);
        run(f, 1 * SEC);
        /* E.10: the first at once, then every 100 ms on a fixed grid. */
        {
                uint64_t expect = t0;
                unsigned n = 0;

                for (uint64_t k = first; k < f->n_frames; k++) {
                        const struct rec_frame *r = frame_at(f, k);

                        if (r->msg.type != CODEC_POWER_MODULES_STATUS)
                                continue;
                        assert_int_equal(r->t, expect);
                        assert_int_equal(r->raw.id, 0x01063000);
                        expect += 100 * MS;
                        n++;
                }
                assert_int_equal(n, 11);
        }
        /* ... until Charge_Session_Finished (0x6B004 in v3). */
        rx_state(f, CODEC_STATE_CLOSING_COMMUNICATION);
        rx_csf(f, CODEC_FINISHED_CLEAN_STOP);
        first = f->n_frames;
        run(f, 1 * SEC);
        assert_int_equal(count_since(f, first, CODEC_POWER_MODULES_STATUS), 0);
}

static void test_V03_sequence_control_same_flags_v3_identifier(void **state)
{
        struct fx *f = *state;
        const struct rec_frame *r;

        f->cfg.ccs_authorisation = SESSION_FLAG_EXTERNAL;
        fx_init(f);
        controller_waiting(f);
        r = last_of(f, CODEC_SEQUENCE_CONTROL);
        assert_non_null(r);
        assert_int_equal(r->raw.id, 0x01063002);
        assert_int_equal(r->raw.len, 3);
        assert_true(r->msg.u.sequence_control.start_charge_authorisation);
        assert_false(r->msg.u.sequence_control.ccs_authorisation_done);
        /* R11 applies to CCS and MCS alike: Done and Valid in one frame. */
        assert_int_equal(session_set_ccs_authorisation(&f->s, true, f->now), 0);
        r = last_of(f, CODEC_SEQUENCE_CONTROL);
        assert_int_equal(r->raw.data[1], 0x03);
        /* R10: the stop button is an edge, in v3 too. */
        assert_int_equal(session_press_user_stop(&f->s, f->now), 0);
        assert_int_equal(last_of(f, CODEC_SEQUENCE_CONTROL)->raw.data[2], 0x01);
        run(f, 400 * MS);
        assert_int_equal(last_of(f, CODEC_SEQUENCE_CONTROL)->raw.data[2], 0x00);
}

/* doc/sharing.md, V3: the arbiter's hold sends Start_Charge_Authorisation
 * 0 in the v3 Sequence_Control, turns a charge off with System_Enable
 * Not_Allowed, and gives the 1 back on release. */
static void test_V03_hold_in_a_v3_charge(void **state)
{
        struct fx *f = *state;
        const struct rec_frame *r;

        ccs_charging(f);
        session_set_hold(&f->s, true, f->now);
        r = last_of(f, CODEC_SEQUENCE_CONTROL);
        assert_non_null(r);
        assert_int_equal(r->raw.id, 0x01063002);
        assert_false(r->msg.u.sequence_control.start_charge_authorisation);
        assert_int_equal(session_command(&f->s)->mode, POWER_OFF);
        run(f, 300 * MS);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
        rx_target(f, 4000, 1000);
        run(f, 300 * MS);
        assert_int_equal(session_command(&f->s)->mode, POWER_OFF);
        assert_true(status_of(f).held);
        session_set_hold(&f->s, false, f->now);
        assert_true(last_of(f, CODEC_SEQUENCE_CONTROL)->msg.u.sequence_control.start_charge_authorisation);
        run(f, 300 * MS);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
        assert_false(status_of(f).held);
}

static void test_V04_dc_power_parameters_in_place_of_limits(void **state)
{
        struct fx *f = *state;
        const struct power_limits lower = { .max_current_da = 800 };
        uint64_t from;

        open_session(f, false);
        /* The limits in force, no discharge, no range target (charge only);
         * never Power_Modules_Limits. */
        assert_null(last_of(f, CODEC_POWER_MODULES_LIMITS));
        assert_int_equal(last_of(f, CODEC_DC_POWER_PARAMETERS)->raw.id, 0x01063001);
        assert_int_equal(last_params(f)->maximum_voltage_dv, 10000);
        assert_int_equal(last_params(f)->maximum_charge_current_da, 2000);
        assert_int_equal(last_params(f)->maximum_discharge_current_da, 0);
        assert_int_equal(last_params(f)->range_target_current_da, 0);
        /* R13: Charge_Parameters_Done once they went out in this session. */
        assert_true(last_of(f, CODEC_SEQUENCE_CONTROL)->msg.u.sequence_control.charge_parameters_done);

        /* R15: a change goes out, never twice within 100 ms. */
        run(f, 50 * MS);
        from = f->n_frames;
        assert_int_equal(session_set_dynamic_limits(&f->s, &lower, f->now), 0);
        assert_int_equal(last_params(f)->maximum_charge_current_da, 800);
        assert_int_equal(session_set_dynamic_limits(&f->s, &(struct power_limits){ .max_current_da = 700 },
                                                     f->now + 10 * MS), 0);
        f->now += 10 * MS;
        assert_int_equal(count_since(f, from, CODEC_DC_POWER_PARAMETERS), 1);
        run(f, 100 * MS);
        assert_int_equal(count_since(f, from, CODEC_DC_POWER_PARAMETERS), 2);
        assert_int_equal(last_params(f)->maximum_charge_current_da, 700);
}

static void test_V05_new_charge_session_wakes_ev_information_follows(void **state)
{
        struct fx *f = *state;
        struct codec_message bat = { .type = CODEC_EV_INFORMATION_BATTERY };
        struct codec_message lim = { .type = CODEC_EV_INFORMATION_CHARGE_LIMITS };
        struct session_status st;

        controller_waiting(f);
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        f->m.ready = false;
        f->converter = false;
        meas(f);
        rx_ncs(f, CODEC_PROTOCOL_CCS_ISO_15118_2022, CODEC_PLUG_MCS);
        /* R19: the wake-up, System_Enable 0 until the converter is ready. */
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
        st = status_of(f);
        assert_int_equal(st.ev.communication_protocol, CODEC_PROTOCOL_CCS_ISO_15118_2022);
        assert_int_equal(st.ev.plug_and_pins, CODEC_PLUG_MCS);
        assert_int_equal(st.ev.ev_maximum_voltage_dv, 0);
        assert_false(st.ev_info.voltages_valid);

        rx_ev_voltages(f, 9200);
        bat.u.ev_information_battery = (struct codec_ev_information_battery){
                .battery_capacity_kwh = 300, .present_state_of_charge_pct = 35,
                .target_state_of_charge_pct = 80, .maximum_state_of_charge_pct = 100,
        };
        rx(f, &bat);
        lim.u.ev_information_charge_limits.ev_maximum_charge_current_da = 9000;
        rx(f, &lim);
        /* Repeated until System_Enable = 1; the EV data stay. */
        rx_ncs(f, CODEC_PROTOCOL_CCS_ISO_15118_2022, CODEC_PLUG_MCS);
        st = status_of(f);
        assert_true(st.in_session);
        assert_int_equal(st.ev.ev_maximum_voltage_dv, 9200);
        assert_int_equal(st.ev.ev_maximum_current_da, 9000);
        assert_int_equal(st.ev.battery_capacity_kwh, 300);
        assert_int_equal(st.ev.state_of_charge_pct, 35);
        assert_true(st.ev_info.battery_valid);
        assert_int_equal(st.ev_info.battery.target_state_of_charge_pct, 80);
        assert_true(st.ev_info.charge_limits_valid);

        f->converter = true;
        meas_follow(f);
        run(f, 200 * MS);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
}

static void test_V06_standby_after_system_enable_keeps_converter_awake(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        assert_int_equal(status_of(f).request, SESSION_REQUEST_STANDBY);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
        assert_true(status_of(f).power_control_valid);
        assert_int_equal(status_of(f).power_control.power_function, CODEC_POWER_FUNCTION_STANDBY);
}

/* ====================================================================
 * Insulation test (V7..V10)
 * ==================================================================== */

static void test_V07_insulation_test_applies_test_voltage(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        rx_state(f, CODEC_STATE_INSULATION_TEST);
        /* The current fields are not relevant: the insulation cap applies. */
        rx_dpc_full(f, CODEC_POWER_FUNCTION_INSULATION_TEST, 5000, 1500, -300, CODEC_SETPOINTS_TARGET_MODE,
                    true, false);
        expect_cmd(f, POWER_INSULATION_TEST, 5000, 10, false);
        assert_int_equal(status_of(f).request, SESSION_REQUEST_INSULATION_TEST);
        /* Above the voltage limit: clamped. */
        rx_ins(f, 12000);
        expect_cmd(f, POWER_INSULATION_TEST, 10000, 10, false);
}

static void test_V07_insulation_test_refused_before_system_enable_or_in_wrong_state(void **state)
{
        struct fx *f = *state;

        controller_waiting(f);
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        f->converter = false;
        f->m.ready = false;
        meas(f);
        rx_ncs(f, CODEC_PROTOCOL_CCS_ISO_15118_2013_V2, CODEC_PLUG_CCS_DC_CORE);
        rx_ins(f, 5000);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        assert_int_equal(status_of(f).counters.rejected_requests, 1);
        f->converter = true;
        meas_follow(f);
        rx_state(f, CODEC_STATE_CHARGING);
        rx_ins(f, 5000);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        assert_int_equal(status_of(f).counters.rejected_requests, 2);
}

static void test_V08_reports_voltage_and_resistance_during_test(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        rx_state(f, CODEC_STATE_INSULATION_TEST);
        rx_ins(f, 5000);
        f->m.insulation_kohm = 180;
        run(f, 300 * MS);
        assert_int_equal(last_status(f)->present_voltage_dv, 5000);
        assert_int_equal(last_status(f)->insulation_resistance_kohm, 180);
        /* Without a monitor: "invalid" during the test, never a pass. */
        f->m.insulation_kohm = POWER_INSULATION_UNKNOWN;
        run(f, 200 * MS);
        assert_int_equal(last_status(f)->insulation_resistance_kohm, 0);
}

static void test_V09_test_held_until_the_controller_ends_it(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        rx_state(f, CODEC_STATE_INSULATION_TEST);
        rx_ins(f, 5000);
        /* The verdict is the controller's (V9): no timeout of our own. */
        run(f, 40 * SEC);
        expect_cmd(f, POWER_INSULATION_TEST, 5000, 10, false);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
}

static void test_V10_standby_with_lowering_after_test_discharges(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        insulation_test(f);
        /* Contactors kept closed (E.14), the window stays, System_Enable
         * too. */
        assert_true(status_of(f).in_session);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
        assert_int_equal(last_status(f)->present_voltage_dv, 0);
}

static void test_V10_E14_plain_standby_after_test_discharges_too(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        rx_state(f, CODEC_STATE_INSULATION_TEST);
        rx_ins(f, 5000);
        run(f, 500 * MS);
        /* E.14: the sequence text shows a Standby without Lowering, yet the
         * controller waits for <= 20 V; no battery is on the output. */
        rx_standby(f, true, false);
        expect_cmd(f, POWER_STANDBY, 0, 0, true);
        /* A test voltage of 0 ends the test the same way. */
        rx_ins(f, 5000);
        expect_cmd(f, POWER_INSULATION_TEST, 5000, 10, false);
        rx_ins(f, 0);
        expect_cmd(f, POWER_STANDBY, 0, 0, true);
}

/* ====================================================================
 * Precharge (V11..V13)
 * ==================================================================== */

static void test_V11_precharge_follows_target_voltage(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        insulation_test(f);
        rx_state(f, CODEC_STATE_PRECHARGE);
        rx_pre(f, 3875, 20);
        expect_cmd(f, POWER_PRECHARGE, 3875, 20, false);
        assert_int_equal(status_of(f).request, SESSION_REQUEST_PRECHARGE);
        rx_pre(f, 3950, 15);
        expect_cmd(f, POWER_PRECHARGE, 3950, 15, false);
        /* CHAdeMO has no precharge (part D.2): refused. */
}

static void test_V11_chademo_precharge_refused(void **state)
{
        struct fx *f = *state;

        open_session(f, true);
        insulation_test(f);
        rx_state(f, CODEC_STATE_PRECHARGE);
        rx_pre(f, 3875, 20);
        /* Standby as before; state 5 counts as a battery phase, so the
         * Lowering of the end of the test no longer applies there. */
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        assert_int_equal(status_of(f).counters.rejected_requests, 1);
}

static void test_V12_precharge_current_never_above_range_max_or_cap(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        insulation_test(f);
        rx_state(f, CODEC_STATE_PRECHARGE);
        /* E.12: Current_Range_Max is the limit; above the precharge cap it
         * is capped. */
        rx_pre(f, 3875, 150);
        expect_cmd(f, POWER_PRECHARGE, 3875, 20, false);
        rx_pre(f, 3875, 5);
        expect_cmd(f, POWER_PRECHARGE, 3875, 5, false);
        /* The MCS insulation of the plug is irrelevant here; a negative
         * limit is no current at all: it ends the precharge as 0 A does. */
        rx_pre(f, 3875, -20);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
}

static void test_V13_standby_after_precharge_leaves_battery_alone(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        insulation_test(f);
        precharge(f);
        /* The battery is connected: never pulled to 0 V, not even when a
         * Standby asks for lowering with the contactors still closed. */
        run(f, 1 * SEC);
        assert_int_equal(last_status(f)->present_voltage_dv, 3875);
        rx_standby(f, true, true);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
}

/* ====================================================================
 * Power transfer (V14..V19)
 * ==================================================================== */

static void test_V14_charge_started_ready_for_hours(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        insulation_test(f);
        precharge(f);
        waiting_for_charge(f);
        run(f, 3600 * SEC);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        assert_true(status_of(f).charge_started);
        rx_state(f, CODEC_STATE_CHARGING);
        rx_target(f, 4000, 500);
        expect_cmd(f, POWER_CHARGE, 4000, 500, false);
}

static void test_V15_target_mode_follows_range_max(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        assert_int_equal(status_of(f).request, SESSION_REQUEST_CHARGE);
        assert_int_equal(status_of(f).request_current_da, 1000);
        rx_target(f, 4500, 1800);
        expect_cmd(f, POWER_CHARGE, 4500, 1800, false);
        /* Within the limits in force: 200 A, 100 kW at 600 V = 166.6 A. */
        rx_target(f, 6000, 3000);
        expect_cmd(f, POWER_CHARGE, 6000, 1666, false);
        /* Min != Max in Target_Mode: the target is Current_Range_Max. */
        rx_dpc_full(f, CODEC_POWER_FUNCTION_POWER_TRANSFER, 4500, 700, 100, CODEC_SETPOINTS_TARGET_MODE, true,
                    false);
        expect_cmd(f, POWER_CHARGE, 4500, 700, false);
}

static void test_V15_E01_negative_target_refused_as_in_v2(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        /* B2: negative = discharge; not supported yet, refused (E.1). */
        rx_target(f, 4000, -500);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        assert_int_equal(status_of(f).counters.rejected_requests, 1);
        assert_int_equal(status_of(f).request_current_da, -500);
        rx_target(f, 4000, 500);
        expect_cmd(f, POWER_CHARGE, 4000, 500, false);
}

static void test_V16_range_mode_top_of_range_without_ocpp(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        /* V17: a Range_Mode transfer is a new one, after a Standby. */
        rx_standby(f, true, false);
        rx_range(f, 4500, 1500, -1000);
        expect_cmd(f, POWER_CHARGE, 4500, 1500, false);
        assert_int_equal(status_of(f).power_control.setpoints_mode, CODEC_SETPOINTS_RANGE_MODE);
        /* A discharge-only range (B4): nothing a charge-only side can do. */
        rx_range(f, 4500, -200, -1000);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        assert_int_equal(status_of(f).counters.rejected_requests, 1);
}

static void test_V16_range_mode_follows_ocpp_dynamic_target(void **state)
{
        struct fx *f = *state;
        struct session_status st;

        ccs_charging(f);
        /* V17: a Range_Mode transfer is a new one, after a Standby. */
        rx_standby(f, true, false);
        rx_range(f, 4500, 1500, 0);
        expect_cmd(f, POWER_CHARGE, 4500, 1500, false);
        /* The CSMS's point: applied at once, inside the range. */
        rx_ocpp(f, 800);
        expect_cmd(f, POWER_CHARGE, 4500, 800, false);
        st = status_of(f);
        assert_true(st.ev_info.dynamic_target_valid);
        assert_int_equal(st.ev_info.dynamic_target_current_da, 800);
        rx_ocpp(f, 2500);
        expect_cmd(f, POWER_CHARGE, 4500, 1500, false);
        /* Below the range: its minimum. */
        rx_range(f, 4500, 1500, 1000);
        rx_ocpp(f, 200);
        expect_cmd(f, POWER_CHARGE, 4500, 1000, false);
        /* A discharge point (sign = direction): refused as in v2 (E.1). */
        rx_range(f, 4500, 1500, -1000);
        rx_ocpp(f, -300);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        /* Target_Mode ignores the CSMS: the EV decides (part D.2); a new
         * transfer (V17). */
        rx_standby(f, true, false);
        rx_target(f, 4500, 600);
        expect_cmd(f, POWER_CHARGE, 4500, 600, false);
        rx_ocpp(f, 100);
        expect_cmd(f, POWER_CHARGE, 4500, 600, false);
}

static void test_V18_setpoint_held_60s(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        run(f, 60 * SEC);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
}

static void test_V19_E05_insulation_below_100_kohm_trips(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        /* E.5: v3 uses the absolute IEC threshold, 100 kOhm for CCS, where
         * 100 ohm/V at 400 V would be 40 kOhm. */
        f->m.insulation_kohm = 100;
        meas(f);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
        f->m.insulation_kohm = 98;
        meas(f);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_INSULATION);
        run(f, 200 * MS);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
}

static void test_V19_E05_mcs_threshold_125_kohm(void **state)
{
        struct fx *f = *state;

        open_session_plug(f, CODEC_PROTOCOL_CCS_ISO_15118_2022, CODEC_PLUG_MCS);
        insulation_test(f);
        precharge(f);
        f->m.insulation_kohm = 126;
        meas(f);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        rx_state(f, CODEC_STATE_PRECHARGE);
        rx_pre(f, 3875, 20);
        expect_cmd(f, POWER_PRECHARGE, 3875, 20, false);
        f->m.insulation_kohm = 124;
        meas(f);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_INSULATION);
}

static void test_V19_R22_converter_fault_reports_system_enable_zero(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        f->converter = false;
        f->m.fault = true;
        meas(f);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        run(f, 100 * MS);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_CONVERTER);
}

/* ====================================================================
 * End of charge, welding detection, session end (V20..V23)
 * ==================================================================== */

static void test_V20_E13_three_standbys_current_first_then_lowering(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        rx_state(f, CODEC_STATE_ENDING_CHARGE);
        rx_csc(f, CODEC_CHARGE_STOPPED);
        /* V21: current to 0 on the first Standby, battery left alone. */
        rx_standby(f, true, false);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        run(f, 200 * MS);
        assert_int_equal(last_status(f)->present_current_da, 0);
        assert_int_equal(last_status(f)->present_voltage_dv, 4000);
        rx_standby(f, false, false);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        /* Output contactors open, Lowering: bleed (has_output_contactors). */
        rx_standby(f, false, true);
        expect_cmd(f, POWER_STANDBY, 0, 0, true);
        run(f, 200 * MS);
        assert_int_equal(last_status(f)->present_voltage_dv, 0);
        assert_true(status_of(f).power_control.lower_output_voltage);
        assert_false(status_of(f).power_control.output_contactors);
}

static void test_V21_no_output_contactors_lowering_ignored(void **state)
{
        struct fx *f = *state;

        f->cfg.has_output_contactors = false;
        fx_init(f);
        ccs_charging(f);
        ending_charge(f);
        /* The battery may still be on the pins: never bled. */
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        assert_int_equal(last_status(f)->present_voltage_dv, 4000);
        /* Welding detection: the EV cycles its contactors, still no bleed. */
        rx_state(f, CODEC_STATE_WELDING_DETECTION);
        rx_standby(f, false, true);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
}

static void test_V21_lowering_with_contactors_closed_ignored(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        rx_state(f, CODEC_STATE_ENDING_CHARGE);
        rx_standby(f, true, true);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        rx_standby(f, false, true);
        expect_cmd(f, POWER_STANDBY, 0, 0, true);
}

static void test_V22_welding_detection_keeps_reporting(void **state)
{
        struct fx *f = *state;
        uint64_t from;

        ccs_charging(f);
        ending_charge(f);
        rx_state(f, CODEC_STATE_WELDING_DETECTION);
        from = f->n_frames;
        f->m.voltage_dv = 3900;         /* the EV closes its contactors again */
        f->converter = false;
        meas(f);
        run(f, 1 * SEC);
        assert_int_equal(count_since(f, from, CODEC_POWER_MODULES_STATUS), 10);
        assert_int_equal(last_status(f)->present_voltage_dv, 3900);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
}

static void test_V23_closing_lowering_honoured_without_contactors(void **state)
{
        struct fx *f = *state;

        f->cfg.has_output_contactors = false;
        fx_init(f);
        ccs_charging(f);
        ending_charge(f);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        rx_state(f, CODEC_STATE_WELDING_DETECTION);
        run(f, 300 * MS);
        /* The EV's contactors are open by now: the standing Lowering is
         * honoured, and so is the one of Closing_Communication. */
        rx_state(f, CODEC_STATE_CLOSING_COMMUNICATION);
        expect_cmd(f, POWER_STANDBY, 0, 0, true);
        rx_standby(f, false, true);
        expect_cmd(f, POWER_STANDBY, 0, 0, true);
        run(f, 300 * MS);
        /* CHAdeMO would unlock now: <= 10 V reported. */
        assert_true(last_status(f)->present_voltage_dv <= 100);
        rx_csf(f, CODEC_FINISHED_CLEAN_STOP);
}

static void test_V23_closing_without_lowering_leaves_output(void **state)
{
        struct fx *f = *state;

        f->cfg.has_output_contactors = false;
        fx_init(f);
        ccs_charging(f);
        rx_state(f, CODEC_STATE_ENDING_CHARGE);
        rx_standby(f, true, false);
        rx_state(f, CODEC_STATE_CLOSING_COMMUNICATION);
        /* A v3 Standby bleeds only when asked (part D.2). */
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        rx_csf(f, CODEC_FINISHED_CLEAN_STOP);
        expect_cmd(f, POWER_OFF, 0, 0, true);
}

/* ====================================================================
 * Emergency stop, undefined functions (V24, V25)
 * ==================================================================== */

static void test_V24_emergency_stop_v3_identifier(void **state)
{
        struct fx *f = *state;
        struct codec_message m = { .type = CODEC_EMERGENCY_STOP };
        struct codec_frame fr;

        ccs_charging(f);
        m.u.emergency_stop.origin = CODEC_ESTOP_ORIGIN_PEV;
        assert_int_equal(codec_encode(V3, &m, 1, &fr), 0);
        assert_int_equal(fr.id, 0x0106B005);
        assert_int_equal(session_on_frame(&f->s, &fr, f->now), 0);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_true(status_of(f).emergency_stop_latched);
        assert_int_equal(status_of(f).emergency_stop_origin, CODEC_ESTOP_ORIGIN_PEV);
        /* R46: latched against requests until the frames stop and a new
         * session starts. */
        rx_target(f, 4000, 1000);
        run(f, 300 * MS);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        rx_state(f, CODEC_STATE_CLOSING_COMMUNICATION);
        rx_csf(f, CODEC_FINISHED_RUSHED_STOP);
        run(f, 2 * SEC);
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        rx_ncs(f, CODEC_PROTOCOL_CCS_ISO_15118_2013_V2, CODEC_PLUG_CCS_DC_CORE);
        run(f, 300 * MS);
        assert_false(status_of(f).emergency_stop_latched);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
}

static void test_V25_E27_undefined_power_function_no_power_counted(void **state)
{
        static const uint8_t undefined[] = { 3, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15 };
        struct fx *f = *state;

        ccs_charging(f);
        for (size_t i = 0; i < sizeof(undefined); i++) {
                rx_target(f, 4000, 1000);
                expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
                /* 0x0A = Insulation_Test | Power_Transfer: a mask, not a
                 * value (E.27). */
                rx_dpc_full(f, undefined[i], 4000, 1000, 1000, CODEC_SETPOINTS_TARGET_MODE, true, false);
                expect_cmd(f, POWER_STANDBY, 0, 0, false);
                assert_int_equal(status_of(f).request, SESSION_REQUEST_INVALID);
        }
        assert_int_equal(status_of(f).counters.undefined_power_functions, sizeof(undefined));
        assert_int_equal(status_of(f).counters.rejected_requests, 0);
        /* Still a session, still allowed: it was the request that was bad. */
        run(f, 200 * MS);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
}

/* ====================================================================
 * The rest of the front end
 * ==================================================================== */

static void test_v3_off_is_a_floating_standby(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        rx_dpc_full(f, CODEC_POWER_FUNCTION_OFF, 0, 0, 0, CODEC_SETPOINTS_TARGET_MODE, true, false);
        /* No power, converter awake (System_Enable stays meaningful), the
         * battery left alone. */
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        assert_int_equal(status_of(f).request, SESSION_REQUEST_OFF);
        run(f, 200 * MS);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
}

static void test_v3_lowering_with_a_power_function_refused(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        /* Lowering comes only with Standby (part D.2). */
        rx_dpc_full(f, CODEC_POWER_FUNCTION_POWER_TRANSFER, 4000, 1000, 1000, CODEC_SETPOINTS_TARGET_MODE,
                    true, true);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        assert_int_equal(status_of(f).counters.rejected_requests, 1);
}

static void test_v3_requests_outside_a_session_refused(void **state)
{
        struct fx *f = *state;

        controller_waiting(f);
        rx_state(f, CODEC_STATE_CHARGING);
        rx_target(f, 4000, 1000);
        rx_ins(f, 5000);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(status_of(f).counters.rejected_requests, 2);
        assert_false(status_of(f).power_control_valid);
}

static void test_v3_ev_information_cleared_at_session_end(void **state)
{
        struct fx *f = *state;
        struct session_status st;

        ccs_charging(f);
        rx_ocpp(f, 500);
        st = status_of(f);
        assert_true(st.ev_info.voltages_valid);
        assert_true(st.ev_info.dynamic_target_valid);
        assert_true(st.power_control_valid);
        rx_state(f, CODEC_STATE_CLOSING_COMMUNICATION);
        rx_csf(f, CODEC_FINISHED_CLEAN_STOP);
        st = status_of(f);
        assert_false(st.ev_info.voltages_valid);
        assert_false(st.ev_info.dynamic_target_valid);
        assert_false(st.power_control_valid);
        /* Outside a session they are not taken. */
        rx_ev_voltages(f, 8000);
        rx_ocpp(f, 300);
        st = status_of(f);
        assert_false(st.ev_info.voltages_valid);
        assert_false(st.ev_info.dynamic_target_valid);
        /* The next vehicle starts from nothing. */
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        rx_ncs(f, CODEC_PROTOCOL_CHADEMO_V2_0, CODEC_PLUG_CHADEMO);
        st = status_of(f);
        assert_int_equal(st.ev.ev_maximum_voltage_dv, 0);
        assert_int_equal(st.ev.plug_and_pins, CODEC_PLUG_CHADEMO);
        assert_int_equal(st.interface_version, 3);
}

/* Frames of the other version: counted, ignored, nothing answers them. */
static void test_v3_v2_frames_ignored_and_counted(void **state)
{
        struct fx *f = *state;
        struct codec_message m = { .type = CODEC_CHARGING_LOOP };
        struct codec_message hb = { .type = CODEC_ADVANTICS_CONTROLLER_STATUS };
        struct codec_frame fr;

        ccs_charging(f);
        m.u.charging_loop.target_voltage_dv = 9000;
        m.u.charging_loop.target_current_da = 2000;
        assert_int_equal(rx_db(f, V2, &m), -ENOMSG);
        hb.u.advantics_controller_status.state = CODEC_STATE_CLOSING_COMMUNICATION;
        assert_int_equal(rx_db(f, V2, &hb), -ENOMSG);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
        assert_int_equal(status_of(f).controller_state, CODEC_STATE_CHARGING);
        /* A short one of the other version is the other version's, not
         * malformed here. */
        assert_int_equal(codec_encode(V2, &hb, 1, &fr), 0);
        fr.len = 0;
        assert_int_equal(session_on_frame(&f->s, &fr, f->now), -ENOMSG);
        assert_int_equal(status_of(f).counters.other_version, 3);
        assert_int_equal(status_of(f).counters.malformed, 0);
        assert_int_equal(status_of(f).counters.foreign, 0);
        /* Another pistol's v2 frame is foreign, not ours to count. */
        assert_int_equal(codec_encode(V2, &hb, 2, &fr), 0);
        assert_int_equal(session_on_frame(&f->s, &fr, f->now), -ENOMSG);
        assert_int_equal(status_of(f).counters.other_version, 3);
        assert_int_equal(status_of(f).counters.foreign, 1);
        /* Silence of v3 heartbeats is silence, whatever v2 says (V1). */
        f->heartbeat = false;
        for (int i = 0; i < 3; i++) {
                run(f, 100 * MS);
                hb.u.advantics_controller_status.state = CODEC_STATE_CHARGING;
                assert_int_equal(rx_db(f, V2, &hb), -ENOMSG);
        }
        expect_cmd(f, POWER_OFF, 0, 0, true);
}

static void v2_tx_none(const struct codec_frame *frame, void *userdata)
{
        (void)frame;
        (void)userdata;
        /* Without a heartbeat the v2 session has nothing to send. */
        fail();
}

static void v2_command(const struct power_command *cmd, void *userdata)
{
        /* Only the initial OFF: the v3 frames move nothing. */
        assert_int_equal(cmd->mode, POWER_OFF);
        (*(unsigned *)userdata)++;
}

static void test_v2_session_counts_v3_frames(void **state)
{
        struct fx *f = *state;
        struct codec_message m = { .type = CODEC_DC_POWER_CONTROL };
        struct codec_frame fr;
        unsigned commands = 0;
        const struct session_callbacks cb = { .tx_frame = v2_tx_none, .power_command = v2_command,
                                              .userdata = &commands };
        struct session s2;
        struct session_config cfg = f->cfg;
        struct session_status st;

        cfg.interface_version = 2;
        assert_int_equal(session_init(&s2, &cfg, &cb, f->now), 0);
        m.u.dc_power_control.power_function = CODEC_POWER_FUNCTION_POWER_TRANSFER;
        assert_int_equal(codec_encode(V3, &m, 1, &fr), 0);
        assert_int_equal(session_on_frame(&s2, &fr, f->now), -ENOMSG);
        fr.id = 0x0106B000;
        fr.len = 1;
        assert_int_equal(session_on_frame(&s2, &fr, f->now), -ENOMSG);
        session_get_status(&s2, &st);
        assert_int_equal(st.counters.other_version, 2);
        assert_int_equal(st.counters.foreign, 0);
        assert_false(st.controller_alive);
        assert_int_equal(st.interface_version, 2);
        assert_int_equal(commands, 1);
}

static void test_v3_config_and_reconfigure(void **state)
{
        struct fx *f = *state;
        struct session_config c = f->cfg;

        (void)state;
        session_config_defaults(&c);
        assert_int_equal(c.interface_version, 2);
        assert_true(c.has_output_contactors);
        c = f->cfg;
        c.interface_version = 4;
        assert_int_equal(session_config_check(&c), -EINVAL);
        c.interface_version = 1;
        assert_int_equal(session_config_check(&c), -EINVAL);
        /* The version is the controller's: never changed on a reload. */
        c.interface_version = 2;
        assert_int_equal(session_config_check(&c), 0);
        assert_int_equal(session_reconfigure(&f->s, &c, f->now), -EINVAL);
        c = f->cfg;
        c.has_output_contactors = false;
        assert_int_equal(session_reconfigure(&f->s, &c, f->now), 0);
        assert_string_equal(session_request_name(SESSION_REQUEST_OFF), "off");
        assert_string_equal(session_request_name(SESSION_REQUEST_INVALID), "invalid");
}

static void test_v3_malformed_frames_dropped(void **state)
{
        struct fx *f = *state;
        struct codec_message m = { .type = CODEC_DC_POWER_CONTROL };
        struct codec_frame fr;

        ccs_charging(f);
        /* A DC_Power_Control cut short would read as another request. */
        m.u.dc_power_control.power_function = CODEC_POWER_FUNCTION_POWER_TRANSFER;
        m.u.dc_power_control.target_voltage_dv = 9000;
        m.u.dc_power_control.current_range_max_da = 2000;
        assert_int_equal(codec_encode(V3, &m, 1, &fr), 0);
        fr.len = 6;
        assert_int_equal(session_on_frame(&f->s, &fr, f->now), -EBADMSG);
        fr.id = 0x0106B005;     /* Emergency_Stop without its byte */
        fr.len = 0;
        assert_int_equal(session_on_frame(&f->s, &fr, f->now), -EBADMSG);
        assert_int_equal(status_of(f).counters.malformed, 2);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
        assert_false(status_of(f).emergency_stop_latched);
}

/* ====================================================================
 * Whole sessions
 * ==================================================================== */

static void test_v3_full_ccs_session_frame_by_frame(void **state)
{
        struct fx *f = *state;
        struct session_status st;

        ccs_charging(f);
        rx_target(f, 4200, 1500);
        run(f, 1 * SEC);
        assert_int_equal(last_status(f)->present_current_da, 1500);
        ending_charge(f);
        expect_cmd(f, POWER_STANDBY, 0, 0, true);
        rx_state(f, CODEC_STATE_WELDING_DETECTION);
        run(f, 500 * MS);
        rx_state(f, CODEC_STATE_CLOSING_COMMUNICATION);
        run(f, 300 * MS);
        rx_csf(f, CODEC_FINISHED_CLEAN_STOP);
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        run(f, 1 * SEC);
        st = status_of(f);
        assert_int_equal(st.fault, SESSION_FAULT_NONE);
        assert_int_equal(st.counters.malformed, 0);
        assert_int_equal(st.counters.foreign, 0);
        assert_int_equal(st.counters.other_version, 0);
        assert_int_equal(st.counters.rejected_requests, 0);
        assert_int_equal(st.counters.undefined_power_functions, 0);
        assert_null(last_of(f, CODEC_POWER_MODULES_LIMITS));
}

static void test_v3_full_chademo_session_frame_by_frame(void **state)
{
        struct fx *f = *state;

        open_session(f, true);
        insulation_test(f);
        /* V10: the EV closes its contactors right after the test. */
        rx_state(f, CODEC_STATE_WAITING_FOR_CHARGE);
        rx_csc(f, CODEC_CHARGE_STARTED);
        rx_standby(f, true, false);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        rx_state(f, CODEC_STATE_CHARGING);
        for (int i = 1; i <= 20; i++) {
                rx_target(f, 4100, (int16_t)(50 * i));
                run(f, 100 * MS);
        }
        expect_cmd(f, POWER_CHARGE, 4100, 1000, false);
        ending_charge(f);
        rx_state(f, CODEC_STATE_CLOSING_COMMUNICATION);
        run(f, 300 * MS);
        /* V23: the connector unlocks at <= 10 V. */
        assert_true(last_status(f)->present_voltage_dv <= 100);
        rx_csf(f, CODEC_FINISHED_CLEAN_STOP);
        assert_int_equal(status_of(f).counters.rejected_requests, 0);
}

/* ====================================================================
 * The converter side of the core, in v3: EV over-voltage, the rating as a
 * limit source, no stale voltage while the link is down
 * ==================================================================== */

/* The measured output, every 20 ms for dt, at dv (the converter no longer
 * follows the command by itself). */
static void output_at(struct fx *f, uint16_t dv, uint64_t dt)
{
        uint64_t end = f->now + dt;

        f->converter = false;
        f->m.voltage_dv = dv;
        for (;;) {
                meas(f);
                if (f->now + MEAS_US > end)
                        break;
                run(f, MEAS_US);
        }
        run(f, end - f->now);
}

/* IEC 61851-23 CC.6.2 in v3: the EV's maximum voltage comes from
 * EV_Information_Voltages (500 V here).  Charging, the output at 510.1 V
 * (more than the 10 V margin): still charging 1 us before 400 ms, off at
 * 400 ms exactly, System_Enable Not_Allowed from the next status, latched
 * while the output falls back. */
static void test_v3_ev_overvoltage_from_ev_information_voltages(void **state)
{
        struct fx *f = *state;
        uint64_t t0;

        ccs_charging(f);
        assert_int_equal(status_of(f).ev_max_voltage_dv, 5000);
        f->converter = false;
        f->m.voltage_dv = 5101;
        meas(f);
        t0 = f->now;
        assert_true(session_next_deadline(&f->s) <= t0 + 400 * MS);
        output_at(f, 5101, 400 * MS - 1 - (f->now - t0));
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
        at(f, t0 + 400 * MS);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_EV_OVERVOLTAGE);
        run(f, 100 * MS);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
        output_at(f, 4000, 500 * MS);
        rx_target(f, 4000, 1000);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_EV_OVERVOLTAGE);
}

/* Without EV_Information_Voltages, or with a maximum of 0 (not known),
 * nothing is checked: the same output for two seconds charges on.  A
 * maximum that arrives later in the session arms the check. */
static void test_v3_ev_overvoltage_needs_ev_maximum_voltage(void **state)
{
        struct fx *f = *state;

        f->ev_max_dv = 0;
        ccs_charging(f);
        assert_int_equal(status_of(f).ev_max_voltage_dv, 0);
        output_at(f, 5101, 2 * SEC);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);

        rx_ev_voltages(f, 0);
        output_at(f, 5101, 2 * SEC);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);

        rx_ev_voltages(f, 4500);
        assert_int_equal(status_of(f).ev_max_voltage_dv, 4500);
        output_at(f, 5101, 500 * MS);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_EV_OVERVOLTAGE);
}

/* The EV's maximum belongs to its session: forgotten at the end, and the
 * next vehicle is not judged by it before its own EV_Information_Voltages. */
static void test_v3_ev_overvoltage_maximum_cleared_with_the_session(void **state)
{
        struct fx *f = *state;

        f->ev_max_dv = 4500;
        ccs_charging(f);
        assert_int_equal(status_of(f).ev_max_voltage_dv, 4500);
        ending_charge(f);
        rx_state(f, CODEC_STATE_CLOSING_COMMUNICATION);
        rx_csf(f, CODEC_FINISHED_CLEAN_STOP);
        assert_int_equal(status_of(f).ev_max_voltage_dv, 0);
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        run(f, 300 * MS);

        /* A vehicle of 800 V, whose EV_Information_Voltages has not come. */
        f->ev_max_dv = 0;
        open_session(f, false);
        assert_int_equal(status_of(f).ev_max_voltage_dv, 0);
        insulation_test(f);
        precharge(f);
        waiting_for_charge(f);
        rx_state(f, CODEC_STATE_CHARGING);
        rx_target(f, 7000, 1000);
        output_at(f, 7000, 2 * SEC);
        expect_cmd(f, POWER_CHARGE, 7000, 1000, false);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
        rx_ev_voltages(f, 8000);
        output_at(f, 7000, 2 * SEC);
        expect_cmd(f, POWER_CHARGE, 7000, 1000, false);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
}

/* The converter's rating is the third limit source: DC_Power_Parameters
 * announces the lowest of config, operator and rating, as
 * Power_Modules_Limits does in v2, and the command stops there too. */
static void test_v3_dc_power_parameters_announce_the_rating(void **state)
{
        struct fx *f = *state;
        const struct power_limits op = { .max_current_da = 1200 };

        /* Above the config, or unknown: the config's. */
        f->m.rating = (struct power_rating){ .max_voltage_dv = 15000, .max_current_da = 5000,
                                             .max_power_w = 500000 };
        open_session(f, false);
        assert_int_equal(last_params(f)->maximum_voltage_dv, 10000);
        assert_int_equal(last_params(f)->maximum_charge_current_da, 2000);

        /* A converter rated 800 V, 150 A, 35 kW. */
        f->m.rating = (struct power_rating){ .max_voltage_dv = 8000, .max_current_da = 1500,
                                             .max_power_w = 35000 };
        meas(f);
        run(f, 200 * MS);
        assert_int_equal(last_params(f)->maximum_voltage_dv, 8000);
        assert_int_equal(last_params(f)->maximum_charge_current_da, 1500);
        assert_int_equal(last_params(f)->maximum_discharge_current_da, 0);
        assert_int_equal(last_params(f)->range_target_current_da, 0);
        assert_int_equal(status_of(f).limits.max_voltage_dv, 8000);
        assert_int_equal(status_of(f).limits.max_current_da, 1500);
        assert_int_equal(status_of(f).limits.max_power_w, 35000);

        /* The operator below the rating: the operator's. */
        assert_int_equal(session_set_dynamic_limits(&f->s, &op, f->now), 0);
        run(f, 200 * MS);
        assert_int_equal(last_params(f)->maximum_charge_current_da, 1200);

        /* Charging: 400 V x 87.5 A = 35 kW, the rated power. */
        insulation_test(f);
        precharge(f);
        waiting_for_charge(f);
        rx_state(f, CODEC_STATE_CHARGING);
        rx_target(f, 4000, 1000);
        run(f, 300 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, 875, false);
        /* A voltage above the rating is clamped to it. */
        rx_target(f, 9000, 100);
        run(f, 200 * MS);
        expect_cmd(f, POWER_CHARGE, 8000, 100, false);

        /* The rating gone (unknown): back to the operator and the config. */
        f->m.rating = (struct power_rating){ 0 };
        meas(f);
        run(f, 200 * MS);
        assert_int_equal(last_params(f)->maximum_voltage_dv, 10000);
        assert_int_equal(last_params(f)->maximum_charge_current_da, 1200);
}

/* No stale measurement reported as fresh, in v3's Power_Modules_Status:
 * after the insulation test the controller waits for the output to fall
 * to 20 V (V10); the converter link lost at 500 V, the status keeps 500 V
 * whatever the backend says, so the controller never takes an output that
 * nobody sees for lowered.  The link back, the fresh value. */
static void test_v3_stale_voltage_never_below_last_measured_while_link_down(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        rx_state(f, CODEC_STATE_INSULATION_TEST);
        rx_ins(f, 5000);
        run(f, 1 * SEC);
        assert_int_equal(last_status(f)->present_voltage_dv, 5000);
        f->converter = false;
        f->m.link_ok = false;
        f->m.voltage_dv = 0;
        meas(f);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_CONVERTER_LINK);
        rx_standby(f, true, true);
        run(f, 1 * SEC);
        assert_int_equal(last_status(f)->present_voltage_dv, 5000);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
        f->m.voltage_dv = 4200;
        meas(f);
        run(f, 200 * MS);
        assert_int_equal(last_status(f)->present_voltage_dv, 5000);
        f->m.voltage_dv = 5100;
        meas(f);
        run(f, 200 * MS);
        assert_int_equal(last_status(f)->present_voltage_dv, 5100);
        f->m.link_ok = true;
        f->m.voltage_dv = 150;
        meas(f);
        run(f, 200 * MS);
        assert_int_equal(last_status(f)->present_voltage_dv, 150);
        f->m.link_ok = false;
        f->m.voltage_dv = 0;
        meas(f);
        run(f, 200 * MS);
        assert_int_equal(last_status(f)->present_voltage_dv, 150);
}

/* ====================================================================
 * Bidirectional power (part D.4, B1..B6; V15..V17 with a sign)
 * ==================================================================== */

/* A bidirectional power side: 100 A and 30 kW out of the EV. */
static int fx_setup_bidir(void **state)
{
        struct fx *f;

        fx_setup(state);
        f = *state;
        f->cfg.bidirectional = true;
        f->cfg.limits.max_discharge_current_da = 1000;
        f->cfg.limits.max_discharge_power_w = 30000;
        fx_init(f);
        return 0;
}

/* B1: discharge needs v3, the flag and both discharge limits. */
static void test_B01_discharge_needs_v3_the_flag_and_its_limits(void **state)
{
        struct fx *f = *state;
        struct session_config c = f->cfg;

        c.bidirectional = true;
        assert_int_equal(session_config_check(&c), -EINVAL);
        c.limits.max_discharge_current_da = 1000;
        assert_int_equal(session_config_check(&c), -EINVAL);
        c.limits.max_discharge_power_w = 30000;
        assert_int_equal(session_config_check(&c), 0);
        c.interface_version = 2;
        assert_int_equal(session_config_check(&c), -EINVAL);
        /* Limits without the flag: accepted, but nothing announced. */
        c = f->cfg;
        c.limits.max_discharge_current_da = 1000;
        c.limits.max_discharge_power_w = 30000;
        assert_int_equal(session_config_check(&c), 0);
        assert_int_equal(session_reconfigure(&f->s, &c, f->now), 0);
        open_session(f, false);
        assert_int_equal(last_params(f)->maximum_discharge_current_da, 0);
        assert_int_equal(status_of(f).limits.max_discharge_current_da, 0);
}

/* B1: a charge-only power side refuses every negative target, counted,
 * and stays at 0 A however long the EV asks. */
static void test_B01_charge_only_refuses_discharge_while_the_ev_asks(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        for (int k = 0; k < 20; k++) {
                rx_target(f, 4000, -500);
                run(f, 100 * MS);
                expect_cmd(f, POWER_STANDBY, 0, 0, false);
                assert_int_equal(last_status(f)->present_current_da, 0);
        }
        assert_int_equal(status_of(f).counters.discharges_refused, 20);
        assert_int_equal(status_of(f).counters.direction_changes, 0);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
        /* The same in Range_Mode: a discharge-only range (B4). */
        rx_standby(f, true, false);
        rx_range(f, 4000, -100, -1000);
        run(f, 100 * MS);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        assert_int_equal(status_of(f).counters.discharges_refused, 21);
}

/* B2: a negative current is a discharge, within both discharge limits;
 * the measured current goes out negative in Power_Modules_Status. */
static void test_B02_negative_current_discharges_within_the_limits(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        rx_target(f, 4000, -500);
        /* Through 0 A first; the converter confirms, then the discharge. */
        expect_cmd(f, POWER_CHARGE, 4000, 0, false);
        run(f, 100 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, -500, false);
        run(f, 200 * MS);
        assert_int_equal(last_status(f)->present_current_da, -500);
        /* 100 A asked: 30 kW at 400 V is 75 A. */
        rx_target(f, 4000, -2000);
        expect_cmd(f, POWER_CHARGE, 4000, -750, false);
        /* 250 V: the current limit, 100 A (25 kW). */
        rx_target(f, 2500, -2000);
        expect_cmd(f, POWER_CHARGE, 2500, -1000, false);
        /* The voltage limit holds for either sign. */
        rx_target(f, 12000, -100);
        expect_cmd(f, POWER_CHARGE, 10000, -100, false);
        assert_int_equal(status_of(f).counters.direction_changes, 1);
        assert_int_equal(status_of(f).counters.discharges_refused, 0);
}

/* B2: the sign never flips on the command alone; a converter that keeps
 * its current is not followed into the other direction, and is switched
 * off after direction_change_timeout_us. */
static void test_B02_sign_change_waits_for_the_converter_at_0A(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        f->converter = false;   /* measurements by hand from here */
        rx_target(f, 4000, -500);
        expect_cmd(f, POWER_CHARGE, 4000, 0, false);
        assert_true(status_of(f).direction_change_pending);
        /* Still 50 A measured: wait at 0 A. */
        f->m.current_da = 500;
        run(f, 500 * MS);
        meas(f);
        expect_cmd(f, POWER_CHARGE, 4000, 0, false);
        /* 1.1 A is not <= 1 A. */
        run(f, 100 * MS);
        f->m.current_da = 11;
        meas(f);
        expect_cmd(f, POWER_CHARGE, 4000, 0, false);
        /* -1.1 A neither. */
        run(f, 100 * MS);
        f->m.current_da = -11;
        meas(f);
        expect_cmd(f, POWER_CHARGE, 4000, 0, false);
        /* The link down: no confirmation from a converter nobody sees. */
        run(f, 100 * MS);
        f->m.current_da = 0;
        f->m.link_ok = false;
        session_on_measurement(&f->s, &f->m, f->now);
        assert_int_equal(session_command(&f->s)->mode, POWER_OFF);
        assert_int_equal(status_of(f).counters.direction_changes, 0);
}

static void test_B02_sign_change_timeout_is_a_converter_fault(void **state)
{
        struct fx *f = *state;
        uint64_t t0;

        ccs_charging(f);
        f->converter = false;
        f->m.current_da = 1000;
        rx_target(f, 4000, -500);
        t0 = f->now;
        expect_cmd(f, POWER_CHARGE, 4000, 0, false);
        run(f, 2 * SEC - 1);
        expect_cmd(f, POWER_CHARGE, 4000, 0, false);
        assert_int_equal(f->now, t0 + 2 * SEC - 1);
        run(f, 1);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_DIRECTION_CHANGE);
        assert_int_equal(status_of(f).counters.direction_changes, 0);
        assert_string_equal(session_fault_name(SESSION_FAULT_DIRECTION_CHANGE), "direction-change");
}

/* B2 back again: discharge, then charge, through 0 A each time; a return
 * to the old sign before the confirmation needs none. */
static void test_B02_charge_discharge_charge_through_zero(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        rx_target(f, 4000, -500);
        run(f, 100 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, -500, false);
        f->converter = false;
        rx_target(f, 4000, 800);
        expect_cmd(f, POWER_CHARGE, 4000, 0, false);
        /* The EV changes its mind before the converter confirmed: the old
         * direction again, at once. */
        rx_target(f, 4000, -300);
        expect_cmd(f, POWER_CHARGE, 4000, -300, false);
        f->converter = true;
        rx_target(f, 4000, 800);
        expect_cmd(f, POWER_CHARGE, 4000, 0, false);
        run(f, 100 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, 800, false);
        assert_int_equal(status_of(f).counters.direction_changes, 2);
}

/* B2, R37: the ramp works on the magnitude, whatever the sign; a smaller
 * magnitude applies at once. */
static void test_B02_ramp_ramps_the_magnitude(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        f->cfg.current_ramp_da_per_s = 2000;    /* 20 A per 100 ms */
        assert_int_equal(session_reconfigure(&f->s, &f->cfg, f->now), 0);
        rx_target(f, 4000, 0);
        run(f, 200 * MS);
        rx_target(f, 4000, -700);
        run(f, 20 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, -200, false);
        run(f, 100 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, -400, false);
        run(f, 100 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, -600, false);
        run(f, 100 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, -700, false);
        rx_target(f, 4000, -100);
        expect_cmd(f, POWER_CHARGE, 4000, -100, false);
}

/* E-stop and controller silence switch a discharge off like a charge. */
static void test_B02_estop_and_silence_off_while_discharging(void **state)
{
        struct fx *f = *state;
        struct codec_message m = { .type = CODEC_EMERGENCY_STOP };

        ccs_charging(f);
        rx_target(f, 4000, -500);
        run(f, 200 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, -500, false);
        m.u.emergency_stop.origin = CODEC_ESTOP_ORIGIN_EVSE;
        rx(f, &m);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_EMERGENCY_STOP);

        fx_setup_bidir(state);
        f = *state;
        ccs_charging(f);
        rx_target(f, 4000, -500);
        run(f, 200 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, -500, false);
        f->heartbeat = false;
        at(f, f->next_hb - HEARTBEAT_US + 200 * MS);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_CONTROLLER_TIMEOUT);
}

/* B3: the range as a slider from full discharge (Min) to full charge
 * (Max); the operator's point clamped into it and into the limits. */
static void test_B03_range_is_a_slider_min_discharge_max_charge(void **state)
{
        struct fx *f = *state;

        f->cfg.range_policy = SESSION_RANGE_OPERATOR;
        fx_init(f);
        ccs_charging(f);
        rx_standby(f, true, false);
        rx_range(f, 4000, 1500, -800);
        run(f, 100 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, 1500, false);
        assert_int_equal(session_set_range_target(&f->s, true, -600, f->now), 0);
        run(f, 100 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, -600, false);
        /* Below Min: Min. */
        assert_int_equal(session_set_range_target(&f->s, true, -3000, f->now), 0);
        expect_cmd(f, POWER_CHARGE, 4000, -750, false);       /* 30 kW at 400 V */
        rx_range(f, 2000, 1500, -800);
        expect_cmd(f, POWER_CHARGE, 2000, -800, false);       /* Min */
        /* Cleared: the top of the range. */
        assert_int_equal(session_set_range_target(&f->s, false, 0, f->now), 0);
        run(f, 100 * MS);
        expect_cmd(f, POWER_CHARGE, 2000, 1500, false);
        assert_false(status_of(f).range_target_valid);
}

/* B4: a discharge-only range (both ends negative) and a range without
 * discharge (Min positive). */
static void test_B04_discharge_only_and_no_discharge_ranges(void **state)
{
        struct fx *f = *state;

        f->cfg.range_policy = SESSION_RANGE_OPERATOR;
        fx_init(f);
        ccs_charging(f);
        rx_standby(f, true, false);
        /* Discharge only, 20..60 A: the top is -20 A. */
        rx_range(f, 4000, -200, -600);
        run(f, 100 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, -200, false);
        /* A charge point is clamped to the range: still a discharge. */
        assert_int_equal(session_set_range_target(&f->s, true, 500, f->now), 0);
        expect_cmd(f, POWER_CHARGE, 4000, -200, false);
        assert_int_equal(session_set_range_target(&f->s, true, -450, f->now), 0);
        expect_cmd(f, POWER_CHARGE, 4000, -450, false);
        /* No discharge possible: Min positive; a discharge point becomes
         * Min, a charge. */
        rx_standby(f, true, false);
        rx_range(f, 4000, 1000, 100);
        run(f, 100 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, 100, false);
}

/* B5: in Range_Mode the power side (here the CSMS, OCPP_Control) picks
 * the direction; in Target_Mode the EV does, and its target may be
 * negative. */
static void test_B05_range_mode_side_chooses_target_mode_ev_decides(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        rx_target(f, 4000, -400);
        run(f, 100 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, -400, false);
        rx_ocpp(f, 300);        /* no effect in Target_Mode */
        expect_cmd(f, POWER_CHARGE, 4000, -400, false);
        rx_standby(f, true, false);
        run(f, 100 * MS);
        rx_range(f, 4000, 1500, -1000);
        run(f, 100 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, 300, false);
        rx_ocpp(f, -250);
        run(f, 100 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, -250, false);
        assert_int_equal(status_of(f).counters.direction_changes, 3);
}

/* B6: a CHAdeMO V2G vehicle runs in Range_Mode; no precharge (R30). */
static void test_B06_chademo_v2g_in_range_mode(void **state)
{
        struct fx *f = *state;

        open_session(f, true);
        insulation_test(f);
        waiting_for_charge(f);
        rx_state(f, CODEC_STATE_CHARGING);
        rx_range(f, 4000, 1200, -900);
        run(f, 300 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, 1200, false);
        rx_ocpp(f, -900);
        run(f, 300 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, -750, false);
        assert_int_equal(last_status(f)->present_current_da, -750);
        rx_ocpp(f, 600);
        run(f, 300 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, 600, false);
}

/* B2 in every mode: after a discharge even an insulation test (a positive
 * current cap) waits at 0 A for the converter's <= 1 A. */
static void test_B02_insulation_test_after_discharge_waits_for_0A(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        rx_target(f, 4000, -500);
        run(f, 200 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, -500, false);
        f->converter = false;
        f->m.current_da = -500;
        rx_standby(f, true, false);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        /* A new test (the controller went back, e.g. a restarted vehicle
         * sequence), no measurement yet: 0 A. */
        rx_state(f, CODEC_STATE_INSULATION_TEST);
        rx_ins(f, 5000);
        expect_cmd(f, POWER_INSULATION_TEST, 5000, 0, false);
        run(f, 50 * MS);
        f->m.current_da = 0;
        meas(f);
        expect_cmd(f, POWER_INSULATION_TEST, 5000, 10, false);
}

/* V04 with discharge: DC_Power_Parameters announces the discharge limit,
 * lowered by the converter's sink rating. */
static void test_V04_dc_power_parameters_announce_the_discharge_limit(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        assert_int_equal(last_params(f)->maximum_discharge_current_da, 1000);
        f->m.rating = (struct power_rating){ .max_sink_current_da = 600, .max_sink_power_w = 20000 };
        meas(f);
        run(f, 200 * MS);
        assert_int_equal(last_params(f)->maximum_discharge_current_da, 600);
        assert_int_equal(status_of(f).limits.max_discharge_power_w, 20000);
        assert_int_equal(last_params(f)->range_target_current_da, 0);
}

/* V15: Target_Mode follows a negative target exactly, in its limits. */
static void test_V15_target_mode_follows_a_negative_target(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        rx_target(f, 3800, -650);
        run(f, 100 * MS);
        expect_cmd(f, POWER_CHARGE, 3800, -650, false);
        assert_int_equal(status_of(f).request_current_da, -650);
}

/* V16: the policies: max ignores the CSMS, ocpp follows it, operator
 * follows the operator only; -EPERM when the policy is not operator. */
static void test_V16_range_policy_max_ocpp_operator(void **state)
{
        struct fx *f = *state;

        f->cfg.range_policy = SESSION_RANGE_MAX;
        fx_init(f);
        ccs_charging(f);
        assert_int_equal(session_set_range_target(&f->s, true, 100, f->now), -EPERM);
        rx_standby(f, true, false);
        rx_range(f, 4000, 1500, -1000);
        rx_ocpp(f, -500);
        run(f, 100 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, 1500, false);

        fx_setup_bidir(state);
        f = *state;
        f->cfg.range_policy = SESSION_RANGE_OPERATOR;
        fx_init(f);
        ccs_charging(f);
        rx_standby(f, true, false);
        rx_range(f, 4000, 1500, -1000);
        rx_ocpp(f, -500);
        run(f, 100 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, 1500, false);
        assert_int_equal(session_set_range_target(&f->s, true, 700, f->now), 0);
        expect_cmd(f, POWER_CHARGE, 4000, 700, false);
        assert_int_equal(status_of(f).range_target_da, 700);
        assert_string_equal(session_range_policy_name(SESSION_RANGE_OPERATOR), "operator");
}

/* V17: Setpoints_Mode stays the same through a transfer; a change is
 * refused (0 A, counted) until the transfer resumes in its own mode or
 * ends. */
static void test_V17_mode_change_inside_a_transfer_refused(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        rx_range(f, 4000, 1500, -1000);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        assert_int_equal(status_of(f).counters.mode_changes_refused, 1);
        assert_int_equal(status_of(f).counters.rejected_requests, 1);
        rx_range(f, 4000, 1500, -1000);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        assert_int_equal(status_of(f).counters.mode_changes_refused, 2);
        /* Back to its own mode: resumed. */
        rx_target(f, 4000, 900);
        run(f, 100 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, 900, false);
        /* A Standby ends the transfer; the next may use the other mode. */
        rx_standby(f, true, false);
        rx_range(f, 4000, 1500, -1000);
        run(f, 100 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, 1500, false);
        assert_int_equal(status_of(f).counters.mode_changes_refused, 2);
        /* A new session starts without a mode. */
        rx_state(f, CODEC_STATE_ENDING_CHARGE);
        ending_charge(f);
        rx_csf(f, CODEC_FINISHED_CLEAN_STOP);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
                T(test_V01_silence_200ms_turns_converter_off),
                T(test_V02_status_every_100ms_with_v3_identifier),
                T(test_V03_sequence_control_same_flags_v3_identifier),
                T(test_V03_hold_in_a_v3_charge),
                T(test_V04_dc_power_parameters_in_place_of_limits),
                T(test_V05_new_charge_session_wakes_ev_information_follows),
                T(test_V06_standby_after_system_enable_keeps_converter_awake),
                T(test_V07_insulation_test_applies_test_voltage),
                T(test_V07_insulation_test_refused_before_system_enable_or_in_wrong_state),
                T(test_V08_reports_voltage_and_resistance_during_test),
                T(test_V09_test_held_until_the_controller_ends_it),
                T(test_V10_standby_with_lowering_after_test_discharges),
                T(test_V10_E14_plain_standby_after_test_discharges_too),
                T(test_V11_precharge_follows_target_voltage),
                T(test_V11_chademo_precharge_refused),
                T(test_V12_precharge_current_never_above_range_max_or_cap),
                T(test_V13_standby_after_precharge_leaves_battery_alone),
                T(test_V14_charge_started_ready_for_hours),
                T(test_V15_target_mode_follows_range_max),
                T(test_V15_E01_negative_target_refused_as_in_v2),
                T(test_V16_range_mode_top_of_range_without_ocpp),
                T(test_V16_range_mode_follows_ocpp_dynamic_target),
                T(test_V18_setpoint_held_60s),
                T(test_V19_E05_insulation_below_100_kohm_trips),
                T(test_V19_E05_mcs_threshold_125_kohm),
                T(test_V19_R22_converter_fault_reports_system_enable_zero),
                T(test_V20_E13_three_standbys_current_first_then_lowering),
                T(test_V21_no_output_contactors_lowering_ignored),
                T(test_V21_lowering_with_contactors_closed_ignored),
                T(test_V22_welding_detection_keeps_reporting),
                T(test_V23_closing_lowering_honoured_without_contactors),
                T(test_V23_closing_without_lowering_leaves_output),
                T(test_V24_emergency_stop_v3_identifier),
                T(test_V25_E27_undefined_power_function_no_power_counted),
                T(test_v3_off_is_a_floating_standby),
                T(test_v3_lowering_with_a_power_function_refused),
                T(test_v3_requests_outside_a_session_refused),
                T(test_v3_ev_information_cleared_at_session_end),
                T(test_v3_v2_frames_ignored_and_counted),
                T(test_v2_session_counts_v3_frames),
                T(test_v3_config_and_reconfigure),
                T(test_v3_malformed_frames_dropped),
                T(test_v3_full_ccs_session_frame_by_frame),
                T(test_v3_full_chademo_session_frame_by_frame),
                T(test_v3_ev_overvoltage_from_ev_information_voltages),
                T(test_v3_ev_overvoltage_needs_ev_maximum_voltage),
                T(test_v3_ev_overvoltage_maximum_cleared_with_the_session),
                T(test_v3_dc_power_parameters_announce_the_rating),
                T(test_v3_stale_voltage_never_below_last_measured_while_link_down),
#define B(name) cmocka_unit_test_setup_teardown(name, fx_setup_bidir, fx_teardown)
                T(test_B01_discharge_needs_v3_the_flag_and_its_limits),
                T(test_B01_charge_only_refuses_discharge_while_the_ev_asks),
                B(test_B02_negative_current_discharges_within_the_limits),
                B(test_B02_sign_change_waits_for_the_converter_at_0A),
                B(test_B02_sign_change_timeout_is_a_converter_fault),
                B(test_B02_charge_discharge_charge_through_zero),
                B(test_B02_ramp_ramps_the_magnitude),
                B(test_B02_estop_and_silence_off_while_discharging),
                B(test_B02_insulation_test_after_discharge_waits_for_0A),
                B(test_B03_range_is_a_slider_min_discharge_max_charge),
                B(test_B04_discharge_only_and_no_discharge_ranges),
                B(test_B05_range_mode_side_chooses_target_mode_ev_decides),
                B(test_B06_chademo_v2g_in_range_mode),
                B(test_V04_dc_power_parameters_announce_the_discharge_limit),
                B(test_V15_target_mode_follows_a_negative_target),
                B(test_V16_range_policy_max_ocpp_operator),
                B(test_V17_mode_change_inside_a_transfer_refused),
#undef B
#undef T
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
