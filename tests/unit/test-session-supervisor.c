/* SPDX-License-Identifier: MIT */
/*
 * The client side of the session: supervisor mode (the controller's own
 * modules do the power: no Power_Modules_Status, no limits, no converter
 * command, the sequence followed and Sequence_Control sent, faults
 * reported), the EV identity (EV_ID_CCS_Part2_DIN, from before the
 * authorisation to the end of the session), and the controller's I/O
 * through the session (outputs frame at its period, safe state on
 * shutdown, inputs, malformed I/O frames counted), in v2.7 and v3.6.
 * Time by hand.
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
#include "seccbridge/controller_io.h"
#include "seccbridge/power.h"
#include "seccbridge/session.h"

#define MS 1000ull
#define SEC 1000000ull
#define REC_MAX 1024u

static const struct power_limits test_limits = {
        .max_voltage_dv = 10000,
        .max_current_da = 2000,
        .max_power_w = 100000,
        .precharge_max_current_da = 20,
        .insulation_max_current_da = 10,
};

struct fx {
        struct session s;
        struct session_config cfg;
        const struct codec_db *db;
        uint64_t now;
        uint8_t state;
        struct codec_message sent[REC_MAX];
        uint64_t sent_t[REC_MAX];
        size_t n_sent;
        size_t n_cmds;
        size_t count[CODEC_MSG_COUNT];
};

static struct fx fx_storage;

static void fake_tx(const struct codec_frame *frame, void *userdata)
{
        struct fx *f = userdata;
        struct codec_message m;

        assert_int_equal(codec_decode(f->db, frame, f->cfg.pistol, &m), 0);
        f->count[m.type]++;
        if (f->n_sent < REC_MAX) {
                f->sent[f->n_sent] = m;
                f->sent_t[f->n_sent] = f->now;
                f->n_sent++;
        }
}

static void fake_command(const struct power_command *cmd, void *userdata)
{
        struct fx *f = userdata;

        (void)cmd;
        f->n_cmds++;
}

static void fx_start(struct fx *f)
{
        const struct session_callbacks cb = { .tx_frame = fake_tx, .power_command = fake_command, .userdata = f };

        f->db = codec_db_for_version(f->cfg.interface_version);
        assert_int_equal(session_init(&f->s, &f->cfg, &cb, f->now), 0);
}

static int setup_common(void **state, uint8_t version, bool supervisor)
{
        struct fx *f = &fx_storage;

        memset(f, 0, sizeof(*f));
        session_config_defaults(&f->cfg);
        f->cfg.limits = test_limits;
        f->cfg.interface_version = version;
        f->cfg.supervisor = supervisor;
        f->now = 3 * SEC;
        *state = f;
        return 0;
}

static int setup_v2_supervisor(void **state)
{
        return setup_common(state, 2, true);
}

static int setup_v3_supervisor(void **state)
{
        return setup_common(state, 3, true);
}

static int setup_v2(void **state)
{
        return setup_common(state, 2, false);
}

static int setup_v3(void **state)
{
        return setup_common(state, 3, false);
}

/* What the session keeps worked out between calls (next deadline,
 * command, frames due) agrees with a full recomputation. */
static void check_cache(const struct fx *f)
{
        const char *why = session_check_cache(&f->s, f->now);

        if (why)
                fail_msg("session cache: %s", why);
}

static void deliver(struct fx *f, const struct codec_message *m)
{
        struct codec_frame fr;

        assert_int_equal(codec_encode(f->db, m, f->cfg.pistol, &fr), 0);
        assert_int_equal(session_on_frame(&f->s, &fr, f->now), 0);
        check_cache(f);
}

static void heartbeat(struct fx *f)
{
        struct codec_message m = { .type = CODEC_ADVANTICS_CONTROLLER_STATUS };

        m.u.advantics_controller_status.state = f->state;
        deliver(f, &m);
}

/* Time passes with the controller's heartbeat every 100 ms and a tick at
 * every deadline the session asks for. */
static void run(struct fx *f, uint64_t dt)
{
        uint64_t end = f->now + dt;
        uint64_t next_hb = f->now;

        while (f->now < end) {
                uint64_t d = session_next_deadline(&f->s);
                uint64_t next = next_hb < end ? next_hb : end;

                if (d < next && d > f->now)
                        next = d;
                f->now = next;
                if (f->now == next_hb) {
                        heartbeat(f);
                        next_hb += 100 * MS;
                }
                session_tick(&f->s, f->now);
                check_cache(f);
        }
}

static void enter(struct fx *f, uint8_t state, uint64_t dt)
{
        f->state = state;
        run(f, dt);
}

static struct session_status status(const struct fx *f)
{
        struct session_status st;

        session_get_status(&f->s, &st);
        return st;
}

static void new_charge_session(struct fx *f)
{
        struct codec_message m;

        if (f->cfg.interface_version == 3) {
                m = (struct codec_message){ .type = CODEC_NEW_CHARGE_SESSION_V3 };
                m.u.new_charge_session_v3.communication_protocol = CODEC_PROTOCOL_CCS_ISO_15118_2013_V2;
        } else {
                m = (struct codec_message){ .type = CODEC_NEW_CHARGE_SESSION };
                m.u.new_charge_session.communication_protocol = CODEC_PROTOCOL_CCS_ISO_15118_2013_V2;
                m.u.new_charge_session.ev_maximum_voltage_dv = 4500;
                m.u.new_charge_session.ev_maximum_current_da = 1500;
        }
        deliver(f, &m);
}

static void ev_id(struct fx *f, uint8_t first)
{
        struct codec_message m = { .type = CODEC_EV_ID_CCS_PART2_DIN };

        for (unsigned i = 0; i < 6; i++)
                m.u.ev_id_ccs_part2_din.byte[i] = (uint8_t)(first + i);
        deliver(f, &m);
}

static void charge_request(struct fx *f, uint16_t dv, int16_t da)
{
        struct codec_message m;

        if (f->cfg.interface_version == 3) {
                m = (struct codec_message){ .type = CODEC_DC_POWER_CONTROL };
                m.u.dc_power_control.power_function = CODEC_POWER_FUNCTION_POWER_TRANSFER;
                m.u.dc_power_control.target_voltage_dv = dv;
                m.u.dc_power_control.current_range_max_da = da;
                m.u.dc_power_control.output_contactors = true;
        } else {
                m = (struct codec_message){ .type = CODEC_CHARGING_LOOP };
                m.u.charging_loop.target_voltage_dv = dv;
                m.u.charging_loop.target_current_da = da;
        }
        deliver(f, &m);
}

static void finished(struct fx *f)
{
        struct codec_message m = { .type = CODEC_CHARGE_SESSION_FINISHED };

        deliver(f, &m);
}

static const struct codec_sequence_control *last_flags(const struct fx *f)
{
        for (size_t i = f->n_sent; i-- > 0;)
                if (f->sent[i].type == CODEC_SEQUENCE_CONTROL)
                        return &f->sent[i].u.sequence_control;
        return NULL;
}

/* ---- supervisor mode ---- */

static void supervised_session(struct fx *f)
{
        struct session_status st;
        const struct codec_sequence_control *fl;

        fx_start(f);
        enter(f, CODEC_STATE_WAITING_FOR_PEV, 500 * MS);
        /* E.8, R7: Sequence_Control once the controller is up. */
        fl = last_flags(f);
        assert_non_null(fl);
        assert_true(fl->start_charge_authorisation);
        assert_false(fl->charge_parameters_done);

        enter(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO, 0);
        new_charge_session(f);
        run(f, 300 * MS);
        st = status(f);
        assert_true(st.in_session);
        assert_true(st.supervisor);
        /* R13: no limits of ours: the controller's own are final. */
        fl = last_flags(f);
        assert_true(fl->charge_parameters_done);
        assert_true(fl->ccs_authorisation_done && fl->ccs_authorisation_valid);

        enter(f, CODEC_STATE_PRECHARGE, 200 * MS);
        enter(f, CODEC_STATE_CHARGING, 100 * MS);
        charge_request(f, 4000, 1000);
        run(f, 2 * SEC);
        st = status(f);
        /* The sequence is followed: the request and the phase are known. */
        assert_int_equal(st.request, SESSION_REQUEST_CHARGE);
        assert_int_equal(st.request_voltage_dv, 4000);
        assert_int_equal(st.request_current_da, 1000);
        assert_int_equal(st.fault, SESSION_FAULT_NONE);
        assert_int_equal(st.counters.rejected_requests, 0);

        enter(f, CODEC_STATE_ENDING_CHARGE, 200 * MS);
        enter(f, CODEC_STATE_CLOSING_COMMUNICATION, 200 * MS);
        finished(f);
        enter(f, CODEC_STATE_WAITING_FOR_PEV, 300 * MS);
        assert_false(status(f).in_session);
        session_shutdown(&f->s, f->now);

        /* Nothing of the power side, ever: no status, no limits, no
         * converter command. */
        assert_int_equal(f->count[CODEC_POWER_MODULES_STATUS], 0);
        assert_int_equal(f->count[CODEC_POWER_MODULES_LIMITS], 0);
        assert_int_equal(f->count[CODEC_DC_POWER_PARAMETERS], 0);
        assert_int_equal(f->n_cmds, 0);
        assert_true(f->count[CODEC_SEQUENCE_CONTROL] > 0);
        assert_false(status(f).system_enable);
}

static void test_supervisor_v2_session(void **state)
{
        supervised_session(*state);
}

static void test_supervisor_v3_session(void **state)
{
        supervised_session(*state);
}

static void test_supervisor_faults_reported(void **state)
{
        struct fx *f = *state;
        struct codec_message m = { .type = CODEC_EMERGENCY_STOP };
        struct session_status st;

        fx_start(f);
        enter(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO, 200 * MS);
        new_charge_session(f);
        enter(f, CODEC_STATE_CHARGING, 300 * MS);
        m.u.emergency_stop.origin = CODEC_ESTOP_ORIGIN_PEV;
        deliver(f, &m);
        st = status(f);
        assert_true(st.emergency_stop_latched);
        assert_int_equal(st.fault, SESSION_FAULT_EMERGENCY_STOP);
        assert_int_equal(st.counters.emergency_stops, 1);

        /* R1: silence is reported too (a latched fault stays the first). */
        f->now += 250 * MS;
        session_tick(&f->s, f->now);
        st = status(f);
        assert_false(st.controller_alive);
        assert_int_equal(st.counters.controller_timeouts, 1);
        assert_int_equal(f->n_cmds, 0);
        assert_int_equal(f->count[CODEC_POWER_MODULES_STATUS], 0);
}

static void test_supervisor_idle_has_no_busy_deadline(void **state)
{
        struct fx *f = *state;

        fx_start(f);
        enter(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO, 200 * MS);
        new_charge_session(f);
        run(f, 100 * MS);
        /* Only the heartbeat supervision and the flags' re-send: never a
         * status or limits deadline in the past. */
        assert_true(session_next_deadline(&f->s) > f->now);
}

static void test_supervisor_cannot_change_on_reload(void **state)
{
        struct fx *f = *state;
        struct session_config c;

        fx_start(f);
        c = f->cfg;
        c.supervisor = false;
        assert_int_equal(session_reconfigure(&f->s, &c, f->now), -EINVAL);
}

/* ---- EV identity ---- */

static void test_ev_id_before_authorisation_and_cleared_at_end(void **state)
{
        struct fx *f = *state;
        struct session_status st;

        f->cfg.ccs_authorisation = SESSION_FLAG_EXTERNAL;
        fx_start(f);
        enter(f, CODEC_STATE_WAITING_FOR_PEV, 200 * MS);
        /* An EV_ID while nobody is plugged in is a stale one. */
        ev_id(f, 0x10);
        assert_false(status(f).ev_id_valid);

        enter(f, CODEC_STATE_NEGOTIATING_CONNECTION, 100 * MS);
        enter(f, CODEC_STATE_CCS_AUTHORISATION_PROCESS, 100 * MS);
        ev_id(f, 0xA0);
        st = status(f);
        /* Seen before the authorisation (R11): what an authoriser needs. */
        assert_true(st.ev_id_valid);
        assert_false(st.in_session);
        assert_false(st.flags.ccs_authorisation_done);
        assert_int_equal(st.ev_id[0], 0xA0);
        assert_int_equal(st.ev_id[5], 0xA5);
        assert_int_equal(session_set_ccs_authorisation(&f->s, true, f->now), 0);

        enter(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO, 0);
        new_charge_session(f);
        run(f, 500 * MS);
        /* Kept through the session's start. */
        st = status(f);
        assert_true(st.in_session);
        assert_true(st.ev_id_valid);
        assert_int_equal(st.ev_id[2], 0xA2);
        enter(f, CODEC_STATE_CHARGING, 1 * SEC);
        ev_id(f, 0xA0);

        enter(f, CODEC_STATE_CLOSING_COMMUNICATION, 200 * MS);
        finished(f);
        assert_false(status(f).ev_id_valid);
        /* A late repetition does not bring it back... */
        ev_id(f, 0xA0);
        assert_false(status(f).ev_id_valid);
        /* ...until the next vehicle. */
        enter(f, CODEC_STATE_WAITING_FOR_PEV, 200 * MS);
        enter(f, CODEC_STATE_NEGOTIATING_CONNECTION, 100 * MS);
        ev_id(f, 0xB0);
        st = status(f);
        assert_true(st.ev_id_valid);
        assert_int_equal(st.ev_id[0], 0xB0);
        /* It leaves before a session: forgotten. */
        enter(f, CODEC_STATE_WAITING_FOR_PEV, 200 * MS);
        assert_false(status(f).ev_id_valid);
}

/* ---- the controller's I/O through the session ---- */

static void test_io_outputs_period_set_and_shutdown(void **state)
{
        struct fx *f = *state;
        uint64_t t_first = 0, t_prev = 0;
        size_t n = 0;
        const struct codec_message *last = NULL;

        f->cfg.io.board = CONTROLLER_IO_BOARD_ADM_CS_SECC;
        f->cfg.io.safe.digital[3] = true;
        fx_start(f);
        enter(f, CODEC_STATE_WAITING_FOR_PEV, 3500 * MS);
        /* At start and every 1000 ms (the database's period). */
        for (size_t i = 0; i < f->n_sent; i++) {
                if (f->sent[i].type != CODEC_ADM_CS_SECC_OUTPUTS)
                        continue;
                if (n == 0)
                        t_first = f->sent_t[i];
                else
                        assert_int_equal(f->sent_t[i] - t_prev, 1000 * MS);
                t_prev = f->sent_t[i];
                last = &f->sent[i];
                n++;
        }
        assert_int_equal(n, 4);
        assert_int_equal(t_first, 3 * SEC);
        assert_true(last->u.adm_cs_secc_outputs.digital_output[3]);
        assert_false(last->u.adm_cs_secc_outputs.digital_output[0]);

        assert_int_equal(session_set_output(&f->s, CONTROLLER_IO_OUTPUT1, 1, f->now), 0);
        assert_int_equal(session_set_output(&f->s, CONTROLLER_IO_LED1, 60, f->now), 0);
        last = &f->sent[f->n_sent - 1];
        assert_int_equal(last->type, CODEC_ADM_CS_SECC_OUTPUTS);
        assert_true(last->u.adm_cs_secc_outputs.digital_output[0]);
        assert_int_equal(last->u.adm_cs_secc_outputs.led[0], 60);
        assert_true(status(f).io_outputs.digital[0]);
        assert_int_equal(status(f).io_board, CONTROLLER_IO_BOARD_ADM_CS_SECC);
        assert_int_equal(session_set_output(&f->s, CONTROLLER_IO_OUTPUT1, 3, f->now), -ERANGE);

        session_shutdown(&f->s, f->now);
        last = &f->sent[f->n_sent - 1];
        assert_int_equal(last->type, CODEC_ADM_CS_SECC_OUTPUTS);
        assert_false(last->u.adm_cs_secc_outputs.digital_output[0]);
        assert_true(last->u.adm_cs_secc_outputs.digital_output[3]);
        assert_int_equal(last->u.adm_cs_secc_outputs.led[0], 0);
        assert_int_equal(session_set_output(&f->s, CONTROLLER_IO_OUTPUT1, 1, f->now), -ESHUTDOWN);
}

static void test_io_no_board_no_frame(void **state)
{
        struct fx *f = *state;

        fx_start(f);
        enter(f, CODEC_STATE_WAITING_FOR_PEV, 2500 * MS);
        assert_int_equal(f->count[CODEC_ADM_CS_SECC_OUTPUTS] + f->count[CODEC_ADM_CS_SPCC_OUTPUTS], 0);
        assert_int_equal(session_set_output(&f->s, CONTROLLER_IO_LED1, 10, f->now), -ENODEV);
}

static void test_io_inputs_and_malformed(void **state)
{
        struct fx *f = *state;
        struct codec_message m = { .type = CODEC_ADM_CS_SPCC_INPUTS };
        struct codec_frame fr;
        struct session_status st;

        fx_start(f);
        enter(f, CODEC_STATE_WAITING_FOR_PEV, 200 * MS);
        m.u.adm_cs_spcc_inputs.digital_input[2] = true;
        m.u.adm_cs_spcc_inputs.pt1k_a_c = 33;
        deliver(f, &m);
        m = (struct codec_message){ .type = CODEC_CCS_EXTRA_INFORMATION };
        m.u.ccs_extra_information.cp_state = 9;
        m.u.ccs_extra_information.cp_duty_cycle_permille = 53;
        deliver(f, &m);
        st = status(f);
        assert_true(st.io_inputs.spcc_valid);
        assert_true(st.io_inputs.spcc.digital_input[2]);
        assert_int_equal(st.io_inputs.spcc.pt1k_a_c, 33);
        assert_true(st.io_inputs.ccs_valid);
        assert_int_equal(st.io_inputs.ccs.cp_state, 9);

        /* A short ADM frame: malformed, counted apart, dropped. */
        m = (struct codec_message){ .type = CODEC_ADM_CS_SECC_INPUTS };
        assert_int_equal(codec_encode(f->db, &m, 1, &fr), 0);
        fr.len = 5;
        assert_int_equal(session_on_frame(&f->s, &fr, f->now), -EBADMSG);
        /* A short non-I/O frame counts as malformed only. */
        m = (struct codec_message){ .type = CODEC_ADVANTICS_CONTROLLER_STATUS };
        assert_int_equal(codec_encode(f->db, &m, 1, &fr), 0);
        fr.len = 0;
        assert_int_equal(session_on_frame(&f->s, &fr, f->now), -EBADMSG);
        st = status(f);
        assert_int_equal(st.counters.malformed, 2);
        assert_int_equal(st.counters.malformed_io, 1);
        assert_false(st.io_inputs.secc_valid);

        /* R1: a silent controller's inputs are no longer current. */
        f->now += 300 * MS;
        session_tick(&f->s, f->now);
        st = status(f);
        assert_false(st.controller_alive);
        assert_false(st.io_inputs.spcc_valid || st.io_inputs.ccs_valid);
}

#define T(name, setup) cmocka_unit_test_setup(name, setup)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(test_supervisor_v2_session, setup_v2_supervisor),
                T(test_supervisor_v3_session, setup_v3_supervisor),
                T(test_supervisor_faults_reported, setup_v2_supervisor),
                T(test_supervisor_idle_has_no_busy_deadline, setup_v3_supervisor),
                T(test_supervisor_cannot_change_on_reload, setup_v2_supervisor),
                T(test_ev_id_before_authorisation_and_cleared_at_end, setup_v2),
                T(test_ev_id_before_authorisation_and_cleared_at_end, setup_v3_supervisor),
                T(test_io_outputs_period_set_and_shutdown, setup_v2),
                T(test_io_outputs_period_set_and_shutdown, setup_v3_supervisor),
                T(test_io_no_board_no_frame, setup_v3),
                T(test_io_inputs_and_malformed, setup_v2),
                T(test_io_inputs_and_malformed, setup_v3),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
