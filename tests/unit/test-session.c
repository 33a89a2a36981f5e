/* SPDX-License-Identifier: MIT */
/*
 * The power-side session state machine, rule by rule (R1..R47 of part C of
 * the protocol summary, and the readings E.1, E.3, E.8, E.10, E.16, E.25,
 * E.28 of part E), two whole sessions frame by frame (CCS and CHAdeMO), and
 * a randomized check that the converter command never exceeds the limits in
 * force and that a silent controller always ends in OFF.
 *
 * The session is driven the way the daemon drives it: frames built with the
 * codec, converter measurements, and time advanced by hand with a tick at
 * every deadline the session asks for.  Fake callbacks record every frame
 * sent and every converter command.
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

/* The database of a v2 configuration (the v3 front end has its own tests,
 * test-session-v3.c). */
#define V2 (&codec_db_v2_7)

#define MS 1000ull
#define SEC 1000000ull

#define HEARTBEAT_US (100 * MS)   /* Advantics_Controller_Status period */
#define MEAS_US (20 * MS)         /* converter measurement period */
#define REC_MAX 2048u             /* frames and commands kept (ring) */

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

struct rec_cmd {
        uint64_t t;
        struct power_command c;
};

struct fx {
        struct session s;
        struct session_config cfg;
        struct power_limits dyn;
        uint64_t now;
        bool shut;

        /* what the session sent */
        struct rec_frame frames[REC_MAX];
        uint64_t n_frames;
        struct rec_cmd cmds[REC_MAX];
        uint64_t n_cmds;

        /* the controller side: heartbeat every 100 ms while `heartbeat` */
        bool heartbeat;
        uint8_t state;
        uint64_t next_hb;
        bool ever_status;
        uint64_t last_status_us;

        /* the converter side: a measurement every 20 ms while `converter`,
         * following the command (see meas_follow) */
        bool converter;
        struct power_measurement m;
        uint64_t next_meas;

        /* randomized runs: check the invariants after every session call */
        bool prop;
        uint64_t prop_checked_cmds;
};

static struct fx fx_storage;

/* ---- recording callbacks ---- */

static void fake_tx_frame(const struct codec_frame *frame, void *userdata)
{
        struct fx *f = userdata;
        struct rec_frame *r = &f->frames[f->n_frames % REC_MAX];
        const struct codec_msg_info *info;

        /* R5: 29-bit identifier, pistol index in bits 28..24, exact DLC. */
        assert_true(frame->extended);
        assert_int_equal((frame->id & CODEC_ID_PISTOL_MASK) >> CODEC_ID_PISTOL_SHIFT,
                         f->cfg.pistol);
        assert_int_equal(codec_decode(V2, frame, f->cfg.pistol, &r->msg), 0);
        assert_true(r->msg.type == CODEC_POWER_MODULES_STATUS ||
                    r->msg.type == CODEC_POWER_MODULES_LIMITS ||
                    r->msg.type == CODEC_SEQUENCE_CONTROL);
        info = codec_msg_info(V2, r->msg.type);
        assert_non_null(info);
        assert_int_equal(frame->len, info->dlc);
        /* Nothing is sent after the final status of a shutdown. */
        assert_false(f->shut);
        r->t = f->now;
        r->raw = *frame;
        f->n_frames++;
}

static void fake_power_command(const struct power_command *cmd, void *userdata)
{
        struct fx *f = userdata;
        struct rec_cmd *r = &f->cmds[f->n_cmds % REC_MAX];

        /* Called only on a change (or the very first command). */
        if (f->n_cmds > 0) {
                const struct power_command *p = &f->cmds[(f->n_cmds - 1) % REC_MAX].c;

                assert_false(p->mode == cmd->mode && p->voltage_dv == cmd->voltage_dv &&
                             p->current_da == cmd->current_da && p->discharge == cmd->discharge);
        }
        r->t = f->now;
        r->c = *cmd;
        f->n_cmds++;
}

/* ---- fixture ---- */

static void fx_init(struct fx *f)
{
        const struct session_callbacks cb = {
                .tx_frame = fake_tx_frame,
                .power_command = fake_power_command,
                .userdata = f,
        };

        f->n_frames = 0;
        f->n_cmds = 0;
        f->shut = false;
        assert_int_equal(session_init(&f->s, &f->cfg, &cb, f->now), 0);
}

static int fx_setup(void **state)
{
        struct fx *f = &fx_storage;

        memset(f, 0, sizeof(*f));
        session_config_defaults(&f->cfg);
        f->cfg.limits = test_limits;
        /* Rule tests count frames: no periodic Sequence_Control re-send and
         * no ramp unless a test asks for them. */
        f->cfg.sequence_resend_us = 0;
        f->cfg.current_ramp_da_per_s = 0;
        f->now = 5 * SEC;       /* not 0: nothing may mistake 0 for "unset" */
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

static struct session_status status_of(const struct fx *f);

/* ---- invariants (checked after every call in randomized runs) ---- */

static uint16_t lower16(uint16_t s, uint16_t d)
{
        return d != 0 && d < s ? d : s;
}

/* The limits in force, computed here independently of limits.c. */
static struct power_limits expected_limits(const struct fx *f)
{
        struct power_limits l;

        l.max_voltage_dv = lower16(f->cfg.limits.max_voltage_dv, f->dyn.max_voltage_dv);
        l.max_current_da = lower16(f->cfg.limits.max_current_da, f->dyn.max_current_da);
        l.max_power_w = f->dyn.max_power_w != 0 && f->dyn.max_power_w < f->cfg.limits.max_power_w
                                ? f->dyn.max_power_w
                                : f->cfg.limits.max_power_w;
        l.precharge_max_current_da = lower16(f->cfg.limits.precharge_max_current_da,
                                             f->dyn.precharge_max_current_da);
        l.insulation_max_current_da = lower16(f->cfg.limits.insulation_max_current_da,
                                              f->dyn.insulation_max_current_da);
        return l;
}

static void assert_command_within(const struct power_limits *l, const struct power_command *c)
{
        switch (c->mode) {
        case POWER_OFF:
                assert_int_equal(c->voltage_dv, 0);
                assert_int_equal(c->current_da, 0);
                assert_true(c->discharge);
                return;
        case POWER_STANDBY:
                assert_int_equal(c->voltage_dv, 0);
                assert_int_equal(c->current_da, 0);
                return;
        case POWER_INSULATION_TEST:
                assert_true(c->current_da <= l->insulation_max_current_da);
                break;
        case POWER_PRECHARGE:
                assert_true(c->current_da <= l->precharge_max_current_da);
                break;
        case POWER_CHARGE:
                break;
        }
        assert_false(c->discharge);
        assert_true(c->voltage_dv <= l->max_voltage_dv);
        assert_true(c->current_da <= l->max_current_da);
        assert_true((uint64_t)c->voltage_dv * c->current_da <= (uint64_t)l->max_power_w * 100u);
}

static void prop_check(struct fx *f)
{
        struct power_limits l = expected_limits(f);
        const struct power_command *c = session_command(&f->s);

        /* Every command issued since the last check, and the one in force. */
        for (uint64_t k = f->prop_checked_cmds; k < f->n_cmds; k++)
                assert_command_within(&l, &f->cmds[k % REC_MAX].c);
        f->prop_checked_cmds = f->n_cmds;
        assert_command_within(&l, c);
        assert_true(f->n_cmds > 0);
        assert_memory_equal(&f->cmds[(f->n_cmds - 1) % REC_MAX].c, c, sizeof(*c));

        /* R1: a controller silent for controller_timeout_us means OFF. */
        if (!f->ever_status || f->now >= f->last_status_us + f->cfg.controller_timeout_us)
                assert_int_equal(c->mode, POWER_OFF);
        if (f->shut)
                assert_int_equal(c->mode, POWER_OFF);
        /* Outside the Power_Modules_Status window the converter is off. */
        if (!status_of(f).in_session)
                assert_int_equal(c->mode, POWER_OFF);
}

/* What the session keeps worked out between calls (next deadline,
 * command, frames due) agrees with a full recomputation. */
static void check_cache(const struct fx *f)
{
        const char *why = session_check_cache(&f->s, f->now);

        if (why)
                fail_msg("session cache: %s", why);
}

static void after_call(struct fx *f)
{
        check_cache(f);
        if (f->prop)
                prop_check(f);
}

/* ---- driving the session ---- */

/* The shell's timer: a tick at every deadline up to t, then time is t. */
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
                after_call(f);
                /* Whatever was due has been done: no busy loop. */
                assert_true(session_next_deadline(&f->s) > f->now);
        }
        if (t > f->now)
                f->now = t;
}

static void wait_us(struct fx *f, uint64_t dt)
{
        at(f, f->now + dt);
}

static int rx(struct fx *f, const struct codec_message *m)
{
        struct codec_frame fr;
        int r;

        assert_int_equal(codec_encode(V2, m, f->cfg.pistol, &fr), 0);
        r = session_on_frame(&f->s, &fr, f->now);
        after_call(f);
        return r;
}

static void rx_state(struct fx *f, uint8_t state)
{
        struct codec_message m = { .type = CODEC_ADVANTICS_CONTROLLER_STATUS };

        m.u.advantics_controller_status.state = state;
        f->state = state;
        f->next_hb = f->now + HEARTBEAT_US;
        f->ever_status = true;
        f->last_status_us = f->now;
        assert_int_equal(rx(f, &m), 0);
}

static void rx_ncs(struct fx *f, uint8_t protocol, uint8_t plug)
{
        struct codec_message m = { .type = CODEC_NEW_CHARGE_SESSION };

        m.u.new_charge_session = (struct codec_new_charge_session){
                .communication_protocol = protocol,
                .plug_and_pins = plug,
                .ev_maximum_voltage_dv = 4500,
                .ev_maximum_current_da = 1500,
                .battery_capacity_kwh = 60,
                .state_of_charge_pct = 40,
        };
        assert_int_equal(rx(f, &m), 0);
}

static void rx_ncs_ccs(struct fx *f)
{
        rx_ncs(f, CODEC_PROTOCOL_CCS_ISO_15118_2013_V2, CODEC_PLUG_CCS_DC_CORE);
}

static void rx_ncs_chademo(struct fx *f)
{
        rx_ncs(f, CODEC_PROTOCOL_CHADEMO_V1_0_V1_1_V1_2, CODEC_PLUG_CHADEMO);
}

static void rx_ins(struct fx *f, uint16_t v)
{
        struct codec_message m = { .type = CODEC_INSULATION_TEST };

        m.u.insulation_test.test_voltage_dv = v;
        assert_int_equal(rx(f, &m), 0);
}

static void rx_pre(struct fx *f, uint16_t v, uint16_t i)
{
        struct codec_message m = { .type = CODEC_PRECHARGE };

        m.u.precharge.target_voltage_dv = v;
        m.u.precharge.maximum_current_da = i;
        assert_int_equal(rx(f, &m), 0);
}

static void rx_cl_soc(struct fx *f, uint16_t v, int16_t i, uint8_t soc)
{
        struct codec_message m = { .type = CODEC_CHARGING_LOOP };

        m.u.charging_loop.target_voltage_dv = v;
        m.u.charging_loop.target_current_da = i;
        m.u.charging_loop.state_of_charge_pct = soc;
        assert_int_equal(rx(f, &m), 0);
}

static void rx_cl(struct fx *f, uint16_t v, int16_t i)
{
        rx_cl_soc(f, v, i, 50);
}

static void rx_csc(struct fx *f, uint8_t ready)
{
        struct codec_message m = { .type = CODEC_CHARGE_STATUS_CHANGE };

        m.u.charge_status_change.vehicle_ready_for_charging = ready;
        assert_int_equal(rx(f, &m), 0);
}

static void rx_estop(struct fx *f, uint8_t origin)
{
        struct codec_message m = { .type = CODEC_EMERGENCY_STOP };

        m.u.emergency_stop.origin = origin;
        assert_int_equal(rx(f, &m), 0);
        /* R45: off within the same call, whatever came before. */
        assert_int_equal(session_command(&f->s)->mode, POWER_OFF);
}

static void rx_csf(struct fx *f, uint8_t state)
{
        struct codec_message m = { .type = CODEC_CHARGE_SESSION_FINISHED };

        m.u.charge_session_finished.state = state;
        assert_int_equal(rx(f, &m), 0);
        /* R44: off, the window closed. */
        assert_int_equal(session_command(&f->s)->mode, POWER_OFF);
        assert_false(status_of(f).in_session);
}

static void meas(struct fx *f)
{
        session_on_measurement(&f->s, &f->m, f->now);
        f->next_meas = f->now + MEAS_US;
        after_call(f);
}

/* A converter that does what it is told at once: regulating modes reach
 * their voltage, a discharging output falls to 0 V, a standby without
 * discharge keeps what is on the output (a battery); ready unless OFF. */
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

/* Let time pass with the controller's heartbeat (while `heartbeat`) and the
 * converter's measurements (while `converter`). */
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

static uint64_t mark(const struct fx *f)
{
        return f->n_frames;
}

static uint64_t cmd_mark(const struct fx *f)
{
        return f->n_cmds;
}

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

/* The n-th (0-based) frame of a type since a mark, or NULL. */
static const struct rec_frame *nth_since(const struct fx *f, uint64_t from,
                                         enum codec_msg_type type, unsigned n)
{
        for (uint64_t k = from; k < f->n_frames; k++) {
                const struct rec_frame *r = frame_at(f, k);

                if (r->msg.type == type && n-- == 0)
                        return r;
        }
        return NULL;
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

static const struct codec_sequence_control *last_flags(const struct fx *f)
{
        const struct rec_frame *r = last_of(f, CODEC_SEQUENCE_CONTROL);

        assert_non_null(r);
        return &r->msg.u.sequence_control;
}

static const struct power_command *cmd(const struct fx *f)
{
        return session_command(&f->s);
}

static void expect_cmd_at(const struct fx *f, enum power_mode mode, uint16_t v, uint16_t i,
                          bool discharge, int line)
{
        const struct power_command *c = cmd(f);

        if (c->mode != mode || c->voltage_dv != v || c->current_da != i ||
            c->discharge != discharge) {
                print_error("line %d: command %s %u dV %u dA%s, expected %s %u dV %u dA%s\n", line,
                            power_mode_name(c->mode), c->voltage_dv, c->current_da,
                            c->discharge ? " discharge" : "", power_mode_name(mode), v, i,
                            discharge ? " discharge" : "");
                fail();
        }
}

#define expect_cmd(f, mode, v, i, discharge) expect_cmd_at(f, mode, v, i, discharge, __LINE__)

static struct session_status status_of(const struct fx *f)
{
        struct session_status st;

        session_get_status(&f->s, &st);
        return st;
}

/* ---- scenario steps ---- */

/* Controller out of Initialising, waiting for an EV; converter answering. */
static void controller_waiting(struct fx *f)
{
        f->heartbeat = true;
        f->converter = true;
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        meas_follow(f);
        run(f, 500 * MS);
}

/* ... then a session opened with New_Charge_Session, System_Enable = 1. */
/* The converter's link lost (its measurements stop): a session that
 * commands the converter goes OFF with the link fault latched (R47). */
static void link_lost_trips(struct fx *f)
{
        f->converter = false;
        f->m.link_ok = false;
        f->m.ready = false;
        meas(f);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_CONVERTER_LINK);
}

static void open_session(struct fx *f, bool chademo)
{
        controller_waiting(f);
        rx_state(f, CODEC_STATE_NEGOTIATING_CONNECTION);
        run(f, 300 * MS);
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        if (chademo)
                rx_ncs_chademo(f);
        else
                rx_ncs_ccs(f);
        run(f, 300 * MS);
        assert_true(status_of(f).in_session);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
        /* R23: one standby right after System_Enable. */
        rx_cl(f, 0, 0);
        run(f, 200 * MS);
}

/* Insulation test at 500 V, then its end and the discharge (R25..R29). */
static void insulation_test(struct fx *f)
{
        rx_state(f, CODEC_STATE_INSULATION_TEST);
        rx_ins(f, 5000);
        run(f, 1 * SEC);
        expect_cmd(f, POWER_INSULATION_TEST, 5000, 10, false);
        rx_ins(f, 0);
        rx_cl(f, 0, 0);
        run(f, 300 * MS);
        expect_cmd(f, POWER_STANDBY, 0, 0, true);
}

/* CCS precharge to 387.5 V at 2 A, its end, standby (R31..R34). */
static void precharge(struct fx *f)
{
        rx_state(f, CODEC_STATE_PRECHARGE);
        rx_pre(f, 3875, 20);
        run(f, 500 * MS);
        expect_cmd(f, POWER_PRECHARGE, 3875, 20, false);
        rx_pre(f, 3875, 0);
        rx_cl(f, 0, 0);
        run(f, 200 * MS);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
}

static void waiting_for_charge(struct fx *f)
{
        rx_state(f, CODEC_STATE_WAITING_FOR_CHARGE);
        rx_csc(f, CODEC_CHARGE_STARTED);
        rx_cl(f, 0, 0);
        run(f, 200 * MS);
}

/* A CCS session charging at 400 V / 100 A. */
static void ccs_charging(struct fx *f)
{
        open_session(f, false);
        insulation_test(f);
        precharge(f);
        waiting_for_charge(f);
        rx_state(f, CODEC_STATE_CHARGING);
        rx_cl(f, 4000, 1000);
        run(f, 300 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
}

/* ====================================================================
 * Supervision and timing (R1..R5)
 * ==================================================================== */

static void test_R01_silence_200ms_turns_converter_off(void **state)
{
        struct fx *f = *state;
        uint64_t last;

        ccs_charging(f);
        f->heartbeat = false;
        last = f->last_status_us;

        at(f, last + 200 * MS - 1);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
        assert_true(status_of(f).controller_alive);

        /* The deadline is exact: now >= last + 200 ms. */
        assert_int_equal(session_next_deadline(&f->s) <= last + 200 * MS, true);
        at(f, last + 200 * MS);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(cmd_mark(f) > 0, true);
        assert_int_equal(f->cmds[(f->n_cmds - 1) % REC_MAX].t, last + 200 * MS);
        assert_false(status_of(f).controller_alive);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_CONTROLLER_TIMEOUT);
        assert_int_equal(status_of(f).counters.controller_timeouts, 1);
        run(f, 100 * MS);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
}

static void test_R01_frame_at_deadline_is_too_late(void **state)
{
        struct fx *f = *state;
        uint64_t last;

        ccs_charging(f);
        f->heartbeat = false;
        f->converter = false;
        last = f->last_status_us;
        /* No tick in between: the frame itself arrives exactly at the
         * deadline; the timeout is evaluated first. */
        f->now = last + 200 * MS;
        rx_state(f, CODEC_STATE_CHARGING);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_CONTROLLER_TIMEOUT);
}

static void test_R01_fault_latched_until_new_session(void **state)
{
        struct fx *f = *state;
        struct session_status st;

        ccs_charging(f);
        f->heartbeat = false;
        run(f, 300 * MS);
        expect_cmd(f, POWER_OFF, 0, 0, true);

        /* Back, still charging: stays off, requests refused. */
        f->heartbeat = true;
        rx_state(f, CODEC_STATE_CHARGING);
        rx_cl(f, 4000, 1000);
        run(f, 500 * MS);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        st = status_of(f);
        assert_true(st.controller_alive);
        assert_int_equal(st.fault, SESSION_FAULT_CONTROLLER_TIMEOUT);
        assert_true(st.counters.rejected_requests > 0);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);

        /* The session ends, a new one starts: cleared. */
        rx_state(f, CODEC_STATE_CLOSING_COMMUNICATION);
        rx_csf(f, CODEC_FINISHED_RUSHED_STOP);
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        run(f, 1 * SEC);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_CONTROLLER_TIMEOUT);
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        rx_ncs_ccs(f);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        run(f, 200 * MS);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
}

static void test_R01_no_power_without_heartbeat(void **state)
{
        struct fx *f = *state;

        /* A New_Charge_Session with no Advantics_Controller_Status at all:
         * the window opens (E.10) but nothing is powered and System_Enable
         * stays 0; without a status within 200 ms the session is faulted. */
        f->converter = true;
        meas_follow(f);
        rx_ncs_ccs(f);
        assert_true(status_of(f).in_session);
        run(f, 150 * MS);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
        run(f, 100 * MS);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_CONTROLLER_TIMEOUT);
        expect_cmd(f, POWER_OFF, 0, 0, true);
}

static void test_R01_late_status_after_new_session_wakes(void **state)
{
        struct fx *f = *state;

        /* The status frame may follow New_Charge_Session closely. */
        f->converter = true;
        meas_follow(f);
        rx_ncs_ccs(f);
        run(f, 50 * MS);
        f->heartbeat = true;
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        run(f, 300 * MS);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
}

static void test_R01_deadline_reported(void **state)
{
        struct fx *f = *state;

        assert_int_equal(session_next_deadline(&f->s), SESSION_NO_DEADLINE);
        f->cfg.use_sequence_flags = false;
        assert_int_equal(session_reconfigure(&f->s, &f->cfg, f->now), 0);
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        wait_us(f, 1 * MS);     /* the early limits go out */
        assert_int_equal(session_next_deadline(&f->s), f->last_status_us + 200 * MS);
}

static void test_R02_status_every_100ms_from_new_charge_session(void **state)
{
        struct fx *f = *state;
        uint64_t m0, t0;

        controller_waiting(f);
        assert_int_equal(count_since(f, 0, CODEC_POWER_MODULES_STATUS), 0);
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        wait_us(f, 37 * MS);
        m0 = mark(f);
        t0 = f->now;
        rx_ncs_ccs(f);
        /* E.10: the first one at once. */
        assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_STATUS), 1);
        assert_int_equal(nth_since(f, m0, CODEC_POWER_MODULES_STATUS, 0)->t, t0);
        /* Then exactly every 100 ms, with no drift over 10 s of heartbeats,
         * measurements and New_Charge_Session repetitions. */
        for (int k = 0; k < 100; k++) {
                run(f, 50 * MS);
                rx_ncs_ccs(f);
                run(f, 50 * MS);
        }
        assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_STATUS), 101);
        for (unsigned k = 0; k <= 100; k++)
                assert_int_equal(nth_since(f, m0, CODEC_POWER_MODULES_STATUS, k)->t,
                                 t0 + k * 100 * MS);
}

static void test_R02_no_status_outside_a_session(void **state)
{
        struct fx *f = *state;

        f->heartbeat = true;
        f->converter = true;
        rx_state(f, CODEC_STATE_INITIALISING);
        run(f, 2 * SEC);
        rx_state(f, CODEC_STATE_NOT_AVAILABLE);
        run(f, 1 * SEC);
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        run(f, 1 * SEC);
        rx_state(f, CODEC_STATE_NEGOTIATING_CONNECTION);
        run(f, 1 * SEC);
        rx_state(f, CODEC_STATE_CCS_AUTHORISATION_PROCESS);
        run(f, 1 * SEC);
        assert_int_equal(count_since(f, 0, CODEC_POWER_MODULES_STATUS), 0);
        /* The modules may sleep before the session (R2). */
        expect_cmd(f, POWER_OFF, 0, 0, true);
}

static void test_R02_status_continues_while_controller_silent(void **state)
{
        struct fx *f = *state;
        uint64_t m0;

        ccs_charging(f);
        f->heartbeat = false;
        m0 = mark(f);
        run(f, 2 * SEC);
        assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_STATUS), 20);
        assert_true(status_of(f).in_session);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
}

static void test_R02_window_closes_on_charge_session_finished(void **state)
{
        struct fx *f = *state;
        uint64_t m0;

        ccs_charging(f);
        rx_state(f, CODEC_STATE_CLOSING_COMMUNICATION);
        run(f, 300 * MS);
        rx_csf(f, CODEC_FINISHED_CLEAN_STOP);
        m0 = mark(f);
        run(f, 3 * SEC);
        assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_STATUS), 0);
        assert_false(status_of(f).in_session);
        expect_cmd(f, POWER_OFF, 0, 0, true);
}

static void test_R02_window_closes_when_controller_back_before_session(void **state)
{
        static const uint8_t pre[] = {
                CODEC_STATE_WAITING_FOR_PEV, CODEC_STATE_NEGOTIATING_CONNECTION,
                CODEC_STATE_CCS_AUTHORISATION_PROCESS, CODEC_STATE_NOT_AVAILABLE,
                CODEC_STATE_INITIALISING,
        };
        struct fx *f = *state;

        for (size_t k = 0; k < sizeof(pre); k++) {
                uint64_t m0;

                fx_setup(state);
                f = *state;
                open_session(f, false);
                /* Charge_Session_Finished missed: the state says it. */
                rx_state(f, pre[k]);
                m0 = mark(f);
                run(f, 1 * SEC);
                assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_STATUS), 0);
                assert_false(status_of(f).in_session);
                expect_cmd(f, POWER_OFF, 0, 0, true);
        }
}

static void test_R02_stale_state_just_after_new_session_keeps_window(void **state)
{
        struct fx *f = *state;

        controller_waiting(f);
        rx_state(f, CODEC_STATE_NEGOTIATING_CONNECTION);
        rx_ncs_ccs(f);
        /* The status frame sent before the controller's own change. */
        wait_us(f, 30 * MS);
        rx_state(f, CODEC_STATE_NEGOTIATING_CONNECTION);
        assert_true(status_of(f).in_session);
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        run(f, 300 * MS);
        assert_true(status_of(f).in_session);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
}

static void test_R02_late_tick_does_not_burst(void **state)
{
        struct fx *f = *state;
        uint64_t m0, next;

        open_session(f, false);
        f->heartbeat = false;
        f->converter = false;
        next = session_next_deadline(&f->s);
        /* The shell was held up for 350 ms: one status, then back on a
         * 100 ms grid from there. */
        m0 = mark(f);
        f->now = next + 350 * MS;
        session_tick(&f->s, f->now);
        assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_STATUS), 1);
        assert_true(session_next_deadline(&f->s) > f->now);
}

static void test_R03_status_kept_in_every_session_state(void **state)
{
        static const uint8_t states[] = {
                CODEC_STATE_CONNECTED_WITH_FULL_INFO, CODEC_STATE_INSULATION_TEST,
                CODEC_STATE_PRECHARGE, CODEC_STATE_WAITING_FOR_CHARGE, CODEC_STATE_CHARGING,
                CODEC_STATE_CHARGE_PAUSE, CODEC_STATE_ENDING_CHARGE,
                CODEC_STATE_WELDING_DETECTION, CODEC_STATE_CLOSING_COMMUNICATION,
        };
        struct fx *f = *state;

        open_session(f, false);
        for (size_t k = 0; k < sizeof(states); k++) {
                uint64_t m0 = mark(f);
                uint64_t t0;

                rx_state(f, states[k]);
                t0 = f->now;
                run(f, 1 * SEC);
                assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_STATUS), 10);
                for (unsigned n = 1; n < 10; n++)
                        assert_int_equal(nth_since(f, m0, CODEC_POWER_MODULES_STATUS, n)->t -
                                                 nth_since(f, m0, CODEC_POWER_MODULES_STATUS, n - 1)->t,
                                         100 * MS);
                (void)t0;
        }
}

static void test_R04_status_carries_latest_measurement(void **state)
{
        struct fx *f = *state;
        const struct codec_power_modules_status *st;

        ccs_charging(f);
        f->converter = false;
        f->m.voltage_dv = 4012;
        f->m.current_da = 987;
        f->m.module_temp_c = 61;
        f->m.enclosure_temp_c = 33;
        f->m.insulation_kohm = 300;
        meas(f);
        f->m.voltage_dv = 4013;
        f->m.current_da = 991;
        meas(f);
        run(f, 100 * MS);
        st = last_status(f);
        assert_int_equal(st->present_voltage_dv, 4013);
        assert_int_equal(st->present_current_da, 991);
        assert_int_equal(st->power_modules_temperature_c, 61);
        assert_int_equal(st->enclosure_temperature_c, 33);
        assert_int_equal(st->insulation_resistance_kohm, 300);
        assert_int_equal(st->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
        /* Signed current goes through as measured. */
        f->m.current_da = -15;
        meas(f);
        run(f, 100 * MS);
        assert_int_equal(last_status(f)->present_current_da, -15);
}

static void test_R05_frames_extended_with_pistol_and_exact_dlc(void **state)
{
        struct fx *f = *state;
        struct codec_frame fr;
        struct codec_message m = { .type = CODEC_ADVANTICS_CONTROLLER_STATUS };
        const struct rec_frame *r;

        f->cfg.pistol = 5;
        fx_init(f);
        open_session(f, false);
        r = last_of(f, CODEC_POWER_MODULES_STATUS);
        assert_int_equal(r->raw.id, 0x05060010);
        assert_int_equal(r->raw.len, 8);
        r = last_of(f, CODEC_POWER_MODULES_LIMITS);
        assert_int_equal(r->raw.id, 0x05060011);
        assert_int_equal(r->raw.len, 8);
        r = last_of(f, CODEC_SEQUENCE_CONTROL);
        assert_int_equal(r->raw.id, 0x05060012);
        assert_int_equal(r->raw.len, 3);

        /* Another pistol's frame: not ours, counted, nothing happens. */
        m.u.advantics_controller_status.state = CODEC_STATE_WAITING_FOR_PEV;
        assert_int_equal(codec_encode(V2, &m, 6, &fr), 0);
        assert_int_equal(session_on_frame(&f->s, &fr, f->now), -ENOMSG);
        assert_true(status_of(f).in_session);
        assert_int_equal(status_of(f).counters.foreign, 1);
        /* Standard identifier: not ours. */
        assert_int_equal(codec_encode(V2, &m, 5, &fr), 0);
        fr.extended = false;
        fr.id &= 0x7FF;
        assert_int_equal(session_on_frame(&f->s, &fr, f->now), -ENOMSG);
        /* Our own kind of frame echoed back: not a controller frame. */
        assert_int_equal(session_on_frame(&f->s, &r->raw, f->now), -ENOMSG);
        assert_int_equal(status_of(f).counters.foreign, 3);
        /* Too short: malformed, dropped. */
        assert_int_equal(codec_encode(V2, &m, 5, &fr), 0);
        fr.len = 0;
        assert_int_equal(session_on_frame(&f->s, &fr, f->now), -EBADMSG);
        assert_int_equal(status_of(f).counters.malformed, 1);
        assert_true(status_of(f).in_session);
}

/* ====================================================================
 * Sequence_Control (R6..R14, E.8, E.9)
 * ==================================================================== */

static void test_R06_no_sequence_control_without_flags_system_enable_still_used(void **state)
{
        struct fx *f = *state;

        f->cfg.use_sequence_flags = false;
        fx_init(f);
        open_session(f, false);
        assert_int_equal(count_since(f, 0, CODEC_SEQUENCE_CONTROL), 0);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
        assert_int_equal(session_press_user_stop(&f->s, f->now), -ENOTSUP);
        assert_int_equal(session_press_chademo_start(&f->s, f->now), -ENOTSUP);
        run(f, 5 * SEC);
        assert_int_equal(count_since(f, 0, CODEC_SEQUENCE_CONTROL), 0);
}

static void test_R07_first_sequence_control_once_out_of_initialising(void **state)
{
        struct fx *f = *state;
        uint64_t m0;

        f->heartbeat = true;
        rx_state(f, CODEC_STATE_INITIALISING);
        run(f, 3 * SEC);
        assert_int_equal(count_since(f, 0, CODEC_SEQUENCE_CONTROL), 0);
        assert_int_equal(count_since(f, 0, CODEC_POWER_MODULES_LIMITS), 0);
        /* E.8: Not_Available already counts (it waits for the flag). */
        m0 = mark(f);
        rx_state(f, CODEC_STATE_NOT_AVAILABLE);
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 1);
        assert_true(last_flags(f)->start_charge_authorisation);
        /* On change only (re-send off in this test). */
        run(f, 3 * SEC);
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        run(f, 3 * SEC);
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 1);
}

static void test_R07_first_sequence_control_at_waiting_for_pev(void **state)
{
        struct fx *f = *state;

        f->heartbeat = true;
        rx_state(f, CODEC_STATE_INITIALISING);
        run(f, 1 * SEC);
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        assert_int_equal(count_since(f, 0, CODEC_SEQUENCE_CONTROL), 1);
}

static void test_R08_flags_default_zero_unused_bits_zero(void **state)
{
        struct fx *f = *state;
        const struct rec_frame *r;

        f->cfg.start_authorisation = SESSION_FLAG_EXTERNAL;
        f->cfg.ccs_authorisation = SESSION_FLAG_EXTERNAL;
        f->cfg.charge_parameters = SESSION_FLAG_EXTERNAL;
        fx_init(f);
        f->heartbeat = true;
        rx_state(f, CODEC_STATE_NOT_AVAILABLE);
        r = last_of(f, CODEC_SEQUENCE_CONTROL);
        assert_non_null(r);
        assert_int_equal(r->raw.data[0], 0x00);
        assert_int_equal(r->raw.data[1], 0x00);
        assert_int_equal(r->raw.data[2], 0x00);

        /* Everything set: only the declared bits. */
        assert_int_equal(session_set_start_authorisation(&f->s, true, f->now), 0);
        assert_int_equal(session_set_ccs_authorisation(&f->s, true, f->now), 0);
        assert_int_equal(session_set_charge_parameters_done(&f->s, true, f->now), 0);
        assert_int_equal(session_press_user_stop(&f->s, f->now), 0);
        assert_int_equal(session_press_chademo_start(&f->s, f->now), 0);
        r = last_of(f, CODEC_SEQUENCE_CONTROL);
        assert_int_equal(r->raw.data[0], 0x03);
        assert_int_equal(r->raw.data[1], 0x07);
        assert_int_equal(r->raw.data[2], 0x01);
}

static void test_R09_start_authorisation_auto_is_set(void **state)
{
        struct fx *f = *state;

        f->heartbeat = true;
        rx_state(f, CODEC_STATE_NOT_AVAILABLE);
        assert_true(last_flags(f)->start_charge_authorisation);
        assert_int_equal(session_set_start_authorisation(&f->s, false, f->now), -EPERM);
        assert_true(status_of(f).flags.start_charge_authorisation);
}

static void test_R09_start_authorisation_external_is_a_level(void **state)
{
        struct fx *f = *state;
        uint64_t m0;

        f->cfg.start_authorisation = SESSION_FLAG_EXTERNAL;
        fx_init(f);
        f->heartbeat = true;
        rx_state(f, CODEC_STATE_NOT_AVAILABLE);
        assert_false(last_flags(f)->start_charge_authorisation);
        m0 = mark(f);
        assert_int_equal(session_set_start_authorisation(&f->s, true, f->now), 0);
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 1);
        assert_true(last_flags(f)->start_charge_authorisation);
        /* A level: stays 1 (no return to 0 by itself), same value twice
         * sends nothing new. */
        run(f, 2 * SEC);
        assert_int_equal(session_set_start_authorisation(&f->s, true, f->now), 0);
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 1);
        assert_int_equal(session_set_start_authorisation(&f->s, false, f->now), 0);
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 2);
        assert_false(last_flags(f)->start_charge_authorisation);
}

/* doc/sharing.md: the arbiter holds a pistol whose shared converter serves
 * another one.  R9: Start_Charge_Authorisation 0 keeps the controller
 * Not_Available; AUTO's 1 comes back on release, each change sent at once. */
static void test_R09_hold_sends_start_authorisation_zero_auto(void **state)
{
        struct fx *f = *state;
        uint64_t m0;

        f->heartbeat = true;
        rx_state(f, CODEC_STATE_NOT_AVAILABLE);
        assert_true(last_flags(f)->start_charge_authorisation);
        m0 = mark(f);
        session_set_hold(&f->s, true, f->now);
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 1);
        assert_false(last_flags(f)->start_charge_authorisation);
        assert_true(status_of(f).held);
        assert_false(status_of(f).flags.start_charge_authorisation);
        /* The same hold again changes nothing on the bus. */
        session_set_hold(&f->s, true, f->now);
        run(f, 2 * SEC);
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 1);
        /* The other flags go out as before (R11, AUTO). */
        assert_true(last_flags(f)->ccs_authorisation_done);
        session_set_hold(&f->s, false, f->now);
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 2);
        assert_true(last_flags(f)->start_charge_authorisation);
        assert_false(status_of(f).held);
}

/* EXTERNAL: the operator's level is kept under the hold and comes back with
 * the release; its changes while held do not reach the bus. */
static void test_R09_hold_keeps_the_operators_level(void **state)
{
        struct fx *f = *state;
        uint64_t m0;

        f->cfg.start_authorisation = SESSION_FLAG_EXTERNAL;
        fx_init(f);
        f->heartbeat = true;
        rx_state(f, CODEC_STATE_NOT_AVAILABLE);
        assert_int_equal(session_set_start_authorisation(&f->s, true, f->now), 0);
        assert_true(last_flags(f)->start_charge_authorisation);
        m0 = mark(f);
        session_set_hold(&f->s, true, f->now);
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 1);
        assert_false(last_flags(f)->start_charge_authorisation);
        assert_int_equal(session_set_start_authorisation(&f->s, false, f->now), 0);
        assert_int_equal(session_set_start_authorisation(&f->s, true, f->now), 0);
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 1);
        session_set_hold(&f->s, false, f->now);
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 2);
        assert_true(last_flags(f)->start_charge_authorisation);
        /* Released to the operator's 0: nothing to send but the 0. */
        assert_int_equal(session_set_start_authorisation(&f->s, false, f->now), 0);
        session_set_hold(&f->s, true, f->now);
        session_set_hold(&f->s, false, f->now);
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 3);
        assert_false(last_flags(f)->start_charge_authorisation);
}

/* A hold inside a charge: converter OFF at once, System_Enable
 * Not_Allowed, requests refused; the status window and R1 go on. */
static void test_R09_hold_in_a_charge_turns_off_and_refuses(void **state)
{
        struct fx *f = *state;
        uint64_t m0, c0;

        ccs_charging(f);
        m0 = mark(f);
        session_set_hold(&f->s, true, f->now);
        assert_int_equal(cmd(f)->mode, POWER_OFF);
        run(f, 300 * MS);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
        assert_false(status_of(f).system_enable);
        assert_true(count_since(f, m0, CODEC_POWER_MODULES_STATUS) >= 3);
        c0 = cmd_mark(f);
        rx_cl(f, 4000, 1000);
        run(f, 300 * MS);
        assert_int_equal(cmd(f)->mode, POWER_OFF);
        assert_int_equal(cmd_mark(f), c0);
        assert_true(status_of(f).in_session);
        /* R1 still watched while held. */
        f->heartbeat = false;
        run(f, 300 * MS);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_CONTROLLER_TIMEOUT);
        assert_true(status_of(f).held);
}

/* Released inside the window: System_Enable comes back and the next
 * request is served. */
static void test_R09_release_in_a_session_serves_again(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        session_set_hold(&f->s, true, f->now);
        run(f, 300 * MS);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
        rx_cl(f, 0, 0);
        run(f, 200 * MS);
        assert_int_equal(cmd(f)->mode, POWER_OFF);
        session_set_hold(&f->s, false, f->now);
        run(f, 300 * MS);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
        rx_cl(f, 0, 0);
        run(f, 200 * MS);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
}

/* A held session commands nothing: the shared converter's link lost and
 * back meanwhile is not its fault, nor a converter fault reported while
 * held, and after the release it is served.  Once it commands the
 * converter again, a lost link is its fault (R47). */
static void test_R09_held_session_latches_no_converter_fault(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        session_set_hold(&f->s, true, f->now);
        run(f, 300 * MS);
        f->converter = false;
        f->m.link_ok = false;
        f->m.ready = false;
        meas(f);
        run(f, 300 * MS);
        f->m.link_ok = true;
        f->m.fault = true;
        meas(f);
        run(f, 300 * MS);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
        assert_int_equal(cmd(f)->mode, POWER_OFF);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
        f->m.fault = false;
        meas(f);
        f->converter = true;
        session_set_hold(&f->s, false, f->now);
        run(f, 300 * MS);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
        rx_cl(f, 0, 0);
        run(f, 200 * MS);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        link_lost_trips(f);
}

static void test_R10_user_stop_press_is_an_edge(void **state)
{
        struct fx *f = *state;
        uint64_t m0, t0;

        ccs_charging(f);
        m0 = mark(f);
        t0 = f->now;
        assert_int_equal(session_press_user_stop(&f->s, f->now), 0);
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 1);
        assert_true(last_flags(f)->user_stop_button);
        /* A second press while the first is held. */
        run(f, 100 * MS);
        assert_int_equal(session_press_user_stop(&f->s, f->now), -EBUSY);
        /* Back to 0 after button_hold_us exactly. */
        run(f, 300 * MS);
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 2);
        assert_false(last_flags(f)->user_stop_button);
        assert_int_equal(last_of(f, CODEC_SEQUENCE_CONTROL)->t, t0 + 300 * MS);
        /* Now a new press is a new edge. */
        assert_int_equal(session_press_user_stop(&f->s, f->now), 0);
        assert_true(last_flags(f)->user_stop_button);
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 3);
}

static void test_R10_press_right_after_release_sends_the_zero_first(void **state)
{
        struct fx *f = *state;
        const struct rec_frame *a, *b, *c;
        unsigned n;

        controller_waiting(f);
        f->heartbeat = false;
        f->converter = false;
        assert_int_equal(session_press_chademo_start(&f->s, f->now), 0);
        /* No tick at the release time: the next call is the new press. */
        f->now += 150 * MS;
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        f->now += 151 * MS;
        assert_int_equal(session_press_chademo_start(&f->s, f->now), 0);
        /* The controller must see 1 -> 0 -> 1, or the second press is lost. */
        n = count_since(f, 0, CODEC_SEQUENCE_CONTROL);
        assert_true(n >= 3);
        a = nth_since(f, 0, CODEC_SEQUENCE_CONTROL, n - 3);
        b = nth_since(f, 0, CODEC_SEQUENCE_CONTROL, n - 2);
        c = nth_since(f, 0, CODEC_SEQUENCE_CONTROL, n - 1);
        assert_true(a->msg.u.sequence_control.chademo_start_button);
        assert_false(b->msg.u.sequence_control.chademo_start_button);
        assert_true(c->msg.u.sequence_control.chademo_start_button);
}

static void test_R10_chademo_start_press_and_errors(void **state)
{
        struct fx *f = *state;
        uint64_t m0;

        /* Before the controller is up: the press could not be signalled. */
        assert_int_equal(session_press_chademo_start(&f->s, f->now), -EAGAIN);
        assert_int_equal(session_press_user_stop(&f->s, f->now), -EAGAIN);
        f->heartbeat = true;
        rx_state(f, CODEC_STATE_INITIALISING);
        assert_int_equal(session_press_chademo_start(&f->s, f->now), -EAGAIN);
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        m0 = mark(f);
        assert_int_equal(session_press_chademo_start(&f->s, f->now), 0);
        assert_true(last_flags(f)->chademo_start_button);
        assert_false(last_flags(f)->user_stop_button);
        assert_int_equal(session_press_chademo_start(&f->s, f->now), -EBUSY);
        /* The other button is independent. */
        assert_int_equal(session_press_user_stop(&f->s, f->now), 0);
        run(f, 300 * MS);
        assert_false(last_flags(f)->chademo_start_button);
        assert_false(last_flags(f)->user_stop_button);
        assert_true(count_since(f, m0, CODEC_SEQUENCE_CONTROL) >= 3);
        assert_int_equal(session_next_deadline(&f->s), f->last_status_us + 200 * MS);
}

static void test_R11_ccs_authorisation_valid_and_done_in_one_frame(void **state)
{
        struct fx *f = *state;
        uint64_t m0;

        f->cfg.ccs_authorisation = SESSION_FLAG_EXTERNAL;
        fx_init(f);
        f->heartbeat = true;
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        rx_state(f, CODEC_STATE_NEGOTIATING_CONNECTION);
        rx_state(f, CODEC_STATE_CCS_AUTHORISATION_PROCESS);
        assert_false(last_flags(f)->ccs_authorisation_done);
        assert_false(last_flags(f)->ccs_authorisation_valid);
        m0 = mark(f);
        assert_int_equal(session_set_ccs_authorisation(&f->s, true, f->now), 0);
        /* E.9: one frame carrying both. */
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 1);
        assert_true(last_flags(f)->ccs_authorisation_done);
        assert_true(last_flags(f)->ccs_authorisation_valid);
}

static void test_R11_ccs_authorisation_refused(void **state)
{
        struct fx *f = *state;

        f->cfg.ccs_authorisation = SESSION_FLAG_EXTERNAL;
        fx_init(f);
        f->heartbeat = true;
        rx_state(f, CODEC_STATE_CCS_AUTHORISATION_PROCESS);
        assert_int_equal(session_set_ccs_authorisation(&f->s, false, f->now), 0);
        assert_true(last_flags(f)->ccs_authorisation_done);
        assert_false(last_flags(f)->ccs_authorisation_valid);
}

static void test_R11_ccs_authorisation_auto_refuses_api(void **state)
{
        struct fx *f = *state;

        f->heartbeat = true;
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        assert_true(last_flags(f)->ccs_authorisation_done);
        assert_true(last_flags(f)->ccs_authorisation_valid);
        assert_int_equal(session_set_ccs_authorisation(&f->s, false, f->now), -EPERM);
        assert_int_equal(session_set_charge_parameters_done(&f->s, true, f->now), -EPERM);
}

static void test_R11_external_authorisation_reset_at_session_end(void **state)
{
        struct fx *f = *state;

        f->cfg.ccs_authorisation = SESSION_FLAG_EXTERNAL;
        f->cfg.charge_parameters = SESSION_FLAG_EXTERNAL;
        fx_init(f);
        controller_waiting(f);
        rx_state(f, CODEC_STATE_CCS_AUTHORISATION_PROCESS);
        assert_int_equal(session_set_ccs_authorisation(&f->s, true, f->now), 0);
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        rx_ncs_ccs(f);
        run(f, 200 * MS);
        assert_int_equal(session_set_charge_parameters_done(&f->s, true, f->now), 0);
        assert_true(last_flags(f)->charge_parameters_done);
        rx_state(f, CODEC_STATE_CLOSING_COMMUNICATION);
        rx_csf(f, CODEC_FINISHED_CLEAN_STOP);
        assert_false(last_flags(f)->ccs_authorisation_done);
        assert_false(last_flags(f)->ccs_authorisation_valid);
        assert_false(last_flags(f)->charge_parameters_done);
        /* The start authorisation (AUTO here) is not per session. */
        assert_true(last_flags(f)->start_charge_authorisation);
}

static void test_R11_authorisation_not_carried_to_next_vehicle(void **state)
{
        struct fx *f = *state;

        /* Authorised, but the vehicle leaves before New_Charge_Session:
         * the next vehicle must not find Done = 1 already set. */
        f->cfg.ccs_authorisation = SESSION_FLAG_EXTERNAL;
        fx_init(f);
        controller_waiting(f);
        rx_state(f, CODEC_STATE_CCS_AUTHORISATION_PROCESS);
        assert_int_equal(session_set_ccs_authorisation(&f->s, true, f->now), 0);
        run(f, 500 * MS);
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        run(f, 200 * MS);
        assert_false(last_flags(f)->ccs_authorisation_done);
        assert_false(last_flags(f)->ccs_authorisation_valid);
        assert_false(status_of(f).flags.ccs_authorisation_done);
}

static void test_R11_authorisation_given_before_plug_in_survives(void **state)
{
        struct fx *f = *state;

        /* Authorised while waiting (e.g. a card before the plug): kept
         * through the plug-in. */
        f->cfg.ccs_authorisation = SESSION_FLAG_EXTERNAL;
        fx_init(f);
        controller_waiting(f);
        assert_int_equal(session_set_ccs_authorisation(&f->s, true, f->now), 0);
        rx_state(f, CODEC_STATE_NEGOTIATING_CONNECTION);
        rx_state(f, CODEC_STATE_CCS_AUTHORISATION_PROCESS);
        run(f, 300 * MS);
        assert_true(last_flags(f)->ccs_authorisation_done);
        assert_true(last_flags(f)->ccs_authorisation_valid);
}

static void test_R12_auto_flags_let_the_controller_proceed(void **state)
{
        struct fx *f = *state;
        const struct codec_sequence_control *fl;

        f->heartbeat = true;
        rx_state(f, CODEC_STATE_NOT_AVAILABLE);
        fl = last_flags(f);
        assert_true(fl->start_charge_authorisation);
        assert_true(fl->ccs_authorisation_done);
        assert_true(fl->ccs_authorisation_valid);
        assert_false(fl->charge_parameters_done);
        assert_false(fl->chademo_start_button);
        assert_false(fl->user_stop_button);
}

static void test_R13_charge_parameters_done_after_limits_in_session(void **state)
{
        struct fx *f = *state;
        uint64_t m0, k;
        const struct rec_frame *lim = NULL, *flg = NULL;

        controller_waiting(f);
        assert_false(last_flags(f)->charge_parameters_done);
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        m0 = mark(f);
        rx_ncs_ccs(f);
        run(f, 200 * MS);
        /* Limits of this session first, then Done = 1. */
        for (k = m0; k < f->n_frames; k++) {
                const struct rec_frame *r = frame_at(f, k);

                if (r->msg.type == CODEC_POWER_MODULES_LIMITS && !lim)
                        lim = r;
                if (r->msg.type == CODEC_SEQUENCE_CONTROL &&
                    r->msg.u.sequence_control.charge_parameters_done && !flg) {
                        flg = r;
                        assert_non_null(lim);
                }
        }
        assert_non_null(lim);
        assert_non_null(flg);
        /* Session over: back to 0. */
        rx_state(f, CODEC_STATE_CLOSING_COMMUNICATION);
        rx_csf(f, CODEC_FINISHED_CLEAN_STOP);
        assert_false(last_flags(f)->charge_parameters_done);
}

static void test_R13_charge_parameters_done_waits_for_limits_interval(void **state)
{
        struct fx *f = *state;
        uint64_t t0;

        controller_waiting(f);
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        /* A limits frame just went out (dynamic change) ... */
        f->dyn.max_current_da = 1500;
        assert_int_equal(session_set_dynamic_limits(&f->s, &f->dyn, f->now), 0);
        t0 = f->now;
        wait_us(f, 30 * MS);
        /* ... so the session's own limits wait for the interval, and so
         * does Charge_Parameters_Done. */
        rx_ncs_ccs(f);
        assert_false(last_flags(f)->charge_parameters_done);
        at(f, t0 + 100 * MS);
        assert_int_equal(last_of(f, CODEC_POWER_MODULES_LIMITS)->t, t0 + 100 * MS);
        assert_true(last_flags(f)->charge_parameters_done);
}

static void test_R13_charge_parameters_external(void **state)
{
        struct fx *f = *state;

        f->cfg.charge_parameters = SESSION_FLAG_EXTERNAL;
        fx_init(f);
        open_session(f, false);
        assert_false(last_flags(f)->charge_parameters_done);
        assert_int_equal(session_set_charge_parameters_done(&f->s, true, f->now), 0);
        assert_true(last_flags(f)->charge_parameters_done);
}

static void test_R14_user_stop_then_normal_end(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        assert_int_equal(session_press_user_stop(&f->s, f->now), 0);
        assert_true(last_flags(f)->user_stop_button);
        /* The controller answers with the normal end of charge. */
        rx_state(f, CODEC_STATE_ENDING_CHARGE);
        rx_csc(f, CODEC_CHARGE_STOPPED);
        rx_cl(f, 0, 0);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        run(f, 500 * MS);
        assert_false(last_flags(f)->user_stop_button);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
}

static void test_E08_sequence_control_resent_periodically_and_after_restart(void **state)
{
        struct fx *f = *state;
        uint64_t m0, t0;

        f->cfg.sequence_resend_us = 1 * SEC;
        fx_init(f);
        f->heartbeat = true;
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        t0 = f->now;
        m0 = mark(f);
        run(f, 5 * SEC);
        /* The same content every second. */
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 5);
        for (unsigned k = 0; k < 5; k++)
                assert_int_equal(nth_since(f, m0, CODEC_SEQUENCE_CONTROL, k)->t,
                                 t0 + (k + 1) * SEC);
        /* Controller restart: nothing while Initialising, then at once. */
        rx_state(f, CODEC_STATE_INITIALISING);
        m0 = mark(f);
        run(f, 3 * SEC);
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 0);
        rx_state(f, CODEC_STATE_NOT_AVAILABLE);
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 1);
        assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_LIMITS), 1);
}

/* A new re-send interval counts from the last Sequence_Control sent; 0
 * stops the re-sending. */
static void test_E08_reconfigured_resend_interval(void **state)
{
        struct fx *f = *state;
        uint64_t m0, t0;

        f->cfg.sequence_resend_us = 1 * SEC;
        fx_init(f);
        f->heartbeat = true;
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        t0 = f->now;
        run(f, 100 * MS);
        m0 = mark(f);
        f->cfg.sequence_resend_us = 300 * MS;
        assert_int_equal(session_reconfigure(&f->s, &f->cfg, f->now), 0);
        assert_int_equal(session_next_deadline(&f->s) <= t0 + 300 * MS, true);
        run(f, 650 * MS);
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 2);
        assert_int_equal(nth_since(f, m0, CODEC_SEQUENCE_CONTROL, 0)->t, t0 + 300 * MS);
        assert_int_equal(nth_since(f, m0, CODEC_SEQUENCE_CONTROL, 1)->t, t0 + 600 * MS);
        f->cfg.sequence_resend_us = 0;
        assert_int_equal(session_reconfigure(&f->s, &f->cfg, f->now), 0);
        m0 = mark(f);
        run(f, 3 * SEC);
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 0);
}

static void test_E08_sequence_control_and_limits_again_after_silence(void **state)
{
        struct fx *f = *state;
        uint64_t m0;

        /* A restart the power side did not see (the controller was silent
         * through it): flags and limits go out again when it is back. */
        controller_waiting(f);
        f->heartbeat = false;
        run(f, 20 * SEC);
        m0 = mark(f);
        f->heartbeat = true;
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 1);
        assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_LIMITS), 1);
}

/* ====================================================================
 * Power_Modules_Limits (R15..R18)
 * ==================================================================== */

static void test_R15_limits_not_more_often_than_100ms(void **state)
{
        struct fx *f = *state;
        uint64_t m0, t0;

        open_session(f, false);
        run(f, 1 * SEC);
        m0 = mark(f);
        f->dyn.max_current_da = 1500;
        assert_int_equal(session_set_dynamic_limits(&f->s, &f->dyn, f->now), 0);
        t0 = f->now;
        assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_LIMITS), 1);
        wait_us(f, 10 * MS);
        f->dyn.max_current_da = 1200;
        assert_int_equal(session_set_dynamic_limits(&f->s, &f->dyn, f->now), 0);
        f->dyn.max_current_da = 1100;
        assert_int_equal(session_set_dynamic_limits(&f->s, &f->dyn, f->now), 0);
        assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_LIMITS), 1);
        /* A deadline, not a poll. */
        assert_true(session_next_deadline(&f->s) <= t0 + 100 * MS);
        at(f, t0 + 100 * MS - 1);
        assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_LIMITS), 1);
        at(f, t0 + 100 * MS);
        assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_LIMITS), 2);
        /* Only the latest values. */
        assert_int_equal(last_of(f, CODEC_POWER_MODULES_LIMITS)->msg.u.power_modules_limits.maximum_current_da,
                         1100);
        run(f, 1 * SEC);
        assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_LIMITS), 2);
}

static void test_R16_limits_advertise_the_limits_in_force(void **state)
{
        struct fx *f = *state;
        const struct codec_power_modules_limits *l;

        open_session(f, false);
        l = &last_of(f, CODEC_POWER_MODULES_LIMITS)->msg.u.power_modules_limits;
        /* Never 0 (= the controller's own default): our real limits. */
        assert_int_equal(l->maximum_voltage_dv, 10000);
        assert_int_equal(l->maximum_current_da, 2000);
        f->dyn.max_voltage_dv = 5000;
        assert_int_equal(session_set_dynamic_limits(&f->s, &f->dyn, f->now), 0);
        run(f, 200 * MS);
        l = &last_of(f, CODEC_POWER_MODULES_LIMITS)->msg.u.power_modules_limits;
        assert_int_equal(l->maximum_voltage_dv, 5000);
        assert_int_equal(l->maximum_current_da, 2000);
        /* A dynamic limit above the static one changes nothing. */
        f->dyn.max_voltage_dv = 20000;
        assert_int_equal(session_set_dynamic_limits(&f->s, &f->dyn, f->now), 0);
        run(f, 200 * MS);
        l = &last_of(f, CODEC_POWER_MODULES_LIMITS)->msg.u.power_modules_limits;
        assert_int_equal(l->maximum_voltage_dv, 10000);
}

static void test_R17_limits_sent_early_and_at_session_start(void **state)
{
        struct fx *f = *state;
        uint64_t m0;

        f->cfg.use_sequence_flags = false;
        fx_init(f);
        f->heartbeat = true;
        rx_state(f, CODEC_STATE_INITIALISING);
        assert_int_equal(count_since(f, 0, CODEC_POWER_MODULES_LIMITS), 0);
        /* Early: as soon as the controller left Initialising. */
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        assert_int_equal(count_since(f, 0, CODEC_POWER_MODULES_LIMITS), 1);
        run(f, 2 * SEC);
        assert_int_equal(count_since(f, 0, CODEC_POWER_MODULES_LIMITS), 1);
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        m0 = mark(f);
        rx_ncs_ccs(f);
        assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_LIMITS), 1);
}

static void test_R18_limits_reserved_zero_current_non_negative(void **state)
{
        struct fx *f = *state;
        const struct rec_frame *r;

        /* A current limit beyond the signed field: the largest positive. */
        f->cfg.limits.max_current_da = 40000;
        f->cfg.limits.max_power_w = 4000000;
        fx_init(f);
        f->heartbeat = true;
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        r = last_of(f, CODEC_POWER_MODULES_LIMITS);
        assert_non_null(r);
        assert_int_equal(r->msg.u.power_modules_limits.maximum_current_da, 32767);
        for (int k = 4; k < 8; k++)
                assert_int_equal(r->raw.data[k], 0);
        assert_int_equal(r->raw.data[3] & 0x80, 0);
}

/* ====================================================================
 * Session opening and System_Enable (R19..R23)
 * ==================================================================== */

static void test_R19_new_charge_session_wakes_converter(void **state)
{
        struct fx *f = *state;
        uint64_t c0;
        struct session_status st;

        controller_waiting(f);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        rx_ncs_ccs(f);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        st = status_of(f);
        assert_true(st.in_session);
        assert_int_equal(st.ev.ev_maximum_voltage_dv, 4500);
        assert_int_equal(st.ev.plug_and_pins, CODEC_PLUG_CCS_DC_CORE);
        /* Repeated until System_Enable = 1: no new session, no new
         * command. */
        c0 = cmd_mark(f);
        for (int k = 0; k < 5; k++) {
                run(f, 100 * MS);
                rx_ncs_ccs(f);
        }
        assert_int_equal(cmd_mark(f), c0);
}

static void test_R20_system_enable_once_ready(void **state)
{
        struct fx *f = *state;

        f->heartbeat = true;
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        meas(f);        /* converter asleep: not ready */
        rx_ncs_ccs(f);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
        run(f, 1 * SEC);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
        f->m.ready = true;
        meas(f);
        run(f, 100 * MS);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
        assert_true(status_of(f).system_enable);
}

static void test_R21_system_enable_zero_before_loop_when_unable(void **state)
{
        struct fx *f = *state;

        /* A converter that reports a fault never gets System_Enable. */
        f->heartbeat = true;
        f->m.ready = true;
        f->m.fault = true;
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        meas(f);
        rx_ncs_ccs(f);
        run(f, 1 * SEC);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        /* The power requests that may still come are refused. */
        rx_state(f, CODEC_STATE_INSULATION_TEST);
        rx_ins(f, 5000);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_true(status_of(f).counters.rejected_requests > 0);
}

static void test_R22_fault_during_charging_reports_system_enable_zero(void **state)
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
        /* Fault gone: still latched for this session. */
        f->m.fault = false;
        meas(f);
        rx_cl(f, 4000, 1000);
        run(f, 500 * MS);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
}

static void test_R23_standby_after_system_enable_keeps_converter_awake(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        rx_cl(f, 0, 0);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        run(f, 2 * SEC);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
        assert_int_equal(status_of(f).request, SESSION_REQUEST_STANDBY);
}

/* ====================================================================
 * Standby and insulation test (R24..R30)
 * ==================================================================== */

static void test_R24_standby_with_battery_does_not_discharge(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        rx_cl(f, 0, 0);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        run(f, 1 * SEC);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        /* And back to charging from there. */
        rx_cl(f, 4000, 500);
        expect_cmd(f, POWER_CHARGE, 4000, 500, false);
}

static void test_R24_standby_before_test_does_not_discharge(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        rx_cl(f, 0, 0);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
}

static void test_R25_insulation_test_repeats_are_idempotent(void **state)
{
        struct fx *f = *state;
        uint64_t c0;

        open_session(f, false);
        rx_state(f, CODEC_STATE_INSULATION_TEST);
        rx_ins(f, 5000);
        c0 = cmd_mark(f);
        for (int k = 0; k < 50; k++) {
                run(f, 100 * MS);
                rx_ins(f, 5000);
        }
        assert_int_equal(cmd_mark(f), c0);
        expect_cmd(f, POWER_INSULATION_TEST, 5000, 10, false);
        assert_int_equal(status_of(f).request, SESSION_REQUEST_INSULATION_TEST);
        assert_int_equal(status_of(f).request_voltage_dv, 5000);
}

static void test_R26_insulation_test_voltage_and_current_capped(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        rx_state(f, CODEC_STATE_INSULATION_TEST);
        rx_ins(f, 5000);
        expect_cmd(f, POWER_INSULATION_TEST, 5000, 10, false);
        /* Above the charger's maximum: held at the maximum. */
        rx_ins(f, 12000);
        expect_cmd(f, POWER_INSULATION_TEST, 10000, 10, false);
        /* A dynamic cap on the test current is honoured. */
        f->dyn.insulation_max_current_da = 5;
        assert_int_equal(session_set_dynamic_limits(&f->s, &f->dyn, f->now), 0);
        expect_cmd(f, POWER_INSULATION_TEST, 10000, 5, false);
}

static void test_R26_unknown_insulation_invalid_during_test_valid_outside(void **state)
{
        struct fx *f = *state;

        f->m.insulation_kohm = POWER_INSULATION_UNKNOWN;
        open_session(f, false);
        assert_int_equal(last_status(f)->insulation_resistance_kohm, 510);      /* raw 255 */
        rx_state(f, CODEC_STATE_INSULATION_TEST);
        rx_ins(f, 5000);
        run(f, 200 * MS);
        /* No monitor: never pass a test by accident. */
        assert_int_equal(last_status(f)->insulation_resistance_kohm, 0);
        assert_int_equal(last_of(f, CODEC_POWER_MODULES_STATUS)->raw.data[7], 0);
        rx_ins(f, 0);
        rx_cl(f, 0, 0);
        precharge(f);
        run(f, 200 * MS);
        assert_int_equal(last_of(f, CODEC_POWER_MODULES_STATUS)->raw.data[7], 255);
        /* And no interlock on an unknown value (R40). */
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
}

static void test_R27_reports_voltage_and_resistance_during_test(void **state)
{
        struct fx *f = *state;
        const struct codec_power_modules_status *st;

        f->m.insulation_kohm = 130;
        open_session(f, false);
        rx_state(f, CODEC_STATE_INSULATION_TEST);
        rx_ins(f, 5000);
        run(f, 1 * SEC);
        st = last_status(f);
        assert_int_equal(st->present_voltage_dv, 5000);
        assert_int_equal(st->insulation_resistance_kohm, 130);
        assert_int_equal(st->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
        /* A low value during the test is the controller's to judge. */
        f->m.insulation_kohm = 20;
        run(f, 1 * SEC);
        assert_int_equal(last_status(f)->insulation_resistance_kohm, 20);
        expect_cmd(f, POWER_INSULATION_TEST, 5000, 10, false);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
}

static void test_R28_long_insulation_test_held_then_abort_discharges(void **state)
{
        struct fx *f = *state;

        f->m.insulation_kohm = 20;
        open_session(f, false);
        rx_state(f, CODEC_STATE_INSULATION_TEST);
        rx_ins(f, 5000);
        /* The power side has no timeout of its own. */
        for (int k = 0; k < 300; k++) {
                run(f, 100 * MS);
                rx_ins(f, 5000);
        }
        expect_cmd(f, POWER_INSULATION_TEST, 5000, 10, false);
        /* The controller gives up (30 s) and ends the session. */
        rx_state(f, CODEC_STATE_CLOSING_COMMUNICATION);
        expect_cmd(f, POWER_STANDBY, 0, 0, true);
        rx_csf(f, CODEC_FINISHED_RUSHED_STOP);
        expect_cmd(f, POWER_OFF, 0, 0, true);
}

static void test_R29_discharge_after_insulation_test(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        rx_state(f, CODEC_STATE_INSULATION_TEST);
        rx_ins(f, 5000);
        run(f, 1 * SEC);
        /* Test_Voltage back to 0: standby and discharge to <= 20 V. */
        rx_ins(f, 0);
        expect_cmd(f, POWER_STANDBY, 0, 0, true);
        rx_cl(f, 0, 0);
        expect_cmd(f, POWER_STANDBY, 0, 0, true);
        run(f, 300 * MS);
        assert_true(last_status(f)->present_voltage_dv <= 200);
        expect_cmd(f, POWER_STANDBY, 0, 0, true);
}

static void test_R29_standby_alone_ends_the_test_with_discharge(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        rx_state(f, CODEC_STATE_INSULATION_TEST);
        rx_ins(f, 5000);
        run(f, 500 * MS);
        /* Only the Charging_Loop(0, 0) of the pair arrives. */
        rx_cl(f, 0, 0);
        expect_cmd(f, POWER_STANDBY, 0, 0, true);
}

static void test_R29_aborted_test_discharges_in_ending_charge(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        rx_state(f, CODEC_STATE_INSULATION_TEST);
        rx_ins(f, 5000);
        run(f, 500 * MS);
        /* The controller leaves the test for Ending_Charge: no battery was
         * ever connected, the test voltage must go. */
        rx_state(f, CODEC_STATE_ENDING_CHARGE);
        expect_cmd(f, POWER_STANDBY, 0, 0, true);
        rx_cl(f, 0, 0);
        expect_cmd(f, POWER_STANDBY, 0, 0, true);
}

static void test_R30_chademo_no_precharge_battery_after_test(void **state)
{
        struct fx *f = *state;
        uint64_t rej;

        open_session(f, true);
        insulation_test(f);
        /* A Precharge in a CHAdeMO session is refused. */
        rej = status_of(f).counters.rejected_requests;
        rx_state(f, CODEC_STATE_PRECHARGE);
        rx_pre(f, 3875, 20);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        assert_int_equal(status_of(f).counters.rejected_requests, rej + 1);
        /* The EV closes its contactors: battery voltage on the output,
         * nothing discharges it. */
        rx_state(f, CODEC_STATE_WAITING_FOR_CHARGE);
        rx_csc(f, CODEC_CHARGE_STARTED);
        f->m.voltage_dv = 3900;
        run(f, 1 * SEC);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        assert_int_equal(last_status(f)->present_voltage_dv, 3900);
}

/* ====================================================================
 * Precharge and charge (R31..R39)
 * ==================================================================== */

static void test_R31_precharge_follows_target_voltage(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        insulation_test(f);
        rx_state(f, CODEC_STATE_PRECHARGE);
        rx_pre(f, 3875, 20);
        expect_cmd(f, POWER_PRECHARGE, 3875, 20, false);
        rx_pre(f, 3880, 15);
        expect_cmd(f, POWER_PRECHARGE, 3880, 15, false);
        assert_int_equal(status_of(f).request, SESSION_REQUEST_PRECHARGE);
}

static void test_R32_precharge_current_never_above_cap(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        insulation_test(f);
        rx_state(f, CODEC_STATE_PRECHARGE);
        rx_pre(f, 3875, 50);            /* 5 A asked, cap 2 A */
        expect_cmd(f, POWER_PRECHARGE, 3875, 20, false);
        rx_pre(f, 3875, 65535);
        expect_cmd(f, POWER_PRECHARGE, 3875, 20, false);
        rx_pre(f, 3875, 7);
        expect_cmd(f, POWER_PRECHARGE, 3875, 7, false);
}

static void test_R33_precharge_end_then_standby_without_discharge(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        insulation_test(f);
        rx_state(f, CODEC_STATE_PRECHARGE);
        rx_pre(f, 3875, 20);
        run(f, 1 * SEC);
        /* One Precharge with Maximum_Current = 0, then the standby. */
        rx_pre(f, 3875, 0);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        rx_cl(f, 0, 0);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
}

static void test_R34_after_precharge_battery_voltage_left_alone(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        insulation_test(f);
        precharge(f);
        run(f, 2 * SEC);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        assert_int_equal(last_status(f)->present_voltage_dv, 3875);
        /* Waiting_For_Charge does not change it either. */
        waiting_for_charge(f);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
}

static void test_R35_charge_started_ready_for_hours(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        insulation_test(f);
        precharge(f);
        waiting_for_charge(f);
        assert_true(status_of(f).charge_started);
        run(f, 2 * 3600 * SEC);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
        rx_state(f, CODEC_STATE_CHARGING);
        rx_cl(f, 4000, 1000);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
}

static void test_R36_charge_follows_request_within_limits(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        rx_cl(f, 4100, 1200);
        expect_cmd(f, POWER_CHARGE, 4100, 1200, false);
        /* Above the voltage limit. */
        rx_cl(f, 12000, 500);
        expect_cmd(f, POWER_CHARGE, 10000, 500, false);
        /* Above the current limit. */
        rx_cl(f, 4000, 3000);
        expect_cmd(f, POWER_CHARGE, 4000, 2000, false);
        /* Above the power limit: 800 V x 200 A = 160 kW > 100 kW. */
        rx_cl(f, 8000, 2000);
        expect_cmd(f, POWER_CHARGE, 8000, 1250, false);
        assert_true((uint64_t)cmd(f)->voltage_dv * cmd(f)->current_da <= 100000ull * 100);
        assert_int_equal(status_of(f).request_voltage_dv, 8000);
        assert_int_equal(status_of(f).request_current_da, 2000);
}

static void test_R37_current_ramps_up_and_steps_down(void **state)
{
        struct fx *f = *state;
        uint64_t c0, t0;

        /* 100 A/s in 100 ms steps = 10 A a step. */
        f->cfg.current_ramp_da_per_s = 1000;
        f->cfg.ramp_step_us = 100 * MS;
        fx_init(f);
        open_session(f, false);
        insulation_test(f);
        precharge(f);
        waiting_for_charge(f);
        rx_state(f, CODEC_STATE_CHARGING);
        f->heartbeat = false;
        f->converter = false;
        c0 = cmd_mark(f);
        t0 = f->now;
        rx_cl(f, 4000, 500);
        expect_cmd(f, POWER_CHARGE, 4000, 100, false);
        /* Steps by deadline, 10 A each, every 100 ms; never ahead. */
        at(f, t0 + 100 * MS - 1);
        expect_cmd(f, POWER_CHARGE, 4000, 100, false);
        at(f, t0 + 100 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, 200, false);
        f->heartbeat = true;
        rx_state(f, CODEC_STATE_CHARGING);
        run(f, 300 * MS);
        assert_int_equal(f->now, t0 + 400 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, 500, false);
        assert_int_equal(cmd_mark(f) - c0, 5);
        for (unsigned k = 0; k < 5; k++) {
                assert_int_equal(f->cmds[(c0 + k) % REC_MAX].t, t0 + k * 100 * MS);
                assert_int_equal(f->cmds[(c0 + k) % REC_MAX].c.current_da, 100 * (k + 1));
        }
        run(f, 1 * SEC);
        expect_cmd(f, POWER_CHARGE, 4000, 500, false);
        /* Decreases apply at once. */
        rx_cl(f, 4000, 50);
        expect_cmd(f, POWER_CHARGE, 4000, 50, false);
        rx_cl(f, 0, 0);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
}

static void test_R37_zero_rate_is_a_step(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        rx_cl(f, 4000, 1800);
        expect_cmd(f, POWER_CHARGE, 4000, 1800, false);
}

static void test_R37_ramp_never_exceeds_lowered_limit(void **state)
{
        struct fx *f = *state;

        f->cfg.current_ramp_da_per_s = 1000;
        fx_init(f);
        open_session(f, false);
        insulation_test(f);
        precharge(f);
        waiting_for_charge(f);
        rx_state(f, CODEC_STATE_CHARGING);
        rx_cl(f, 4000, 1500);
        run(f, 500 * MS);
        assert_true(cmd(f)->current_da < 1500);
        f->dyn.max_current_da = 300;
        assert_int_equal(session_set_dynamic_limits(&f->s, &f->dyn, f->now), 0);
        expect_cmd(f, POWER_CHARGE, 4000, 300, false);
        run(f, 2 * SEC);
        expect_cmd(f, POWER_CHARGE, 4000, 300, false);
}

static void test_R38_setpoint_held_60s(void **state)
{
        struct fx *f = *state;
        uint64_t c0;

        ccs_charging(f);
        c0 = cmd_mark(f);
        /* CCS: the EV paces the loop; 60 s without a Charging_Loop. */
        run(f, 60 * SEC);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
        assert_int_equal(cmd_mark(f), c0);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
        rx_cl(f, 4050, 900);
        expect_cmd(f, POWER_CHARGE, 4050, 900, false);
}

static void test_R39_state_of_charge_ignored(void **state)
{
        struct fx *f = *state;
        uint64_t c0;

        ccs_charging(f);
        c0 = cmd_mark(f);
        rx_cl_soc(f, 4000, 1000, 0);
        rx_cl_soc(f, 4000, 1000, 100);
        rx_cl_soc(f, 4000, 1000, 255);
        assert_int_equal(cmd_mark(f), c0);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
}

/* R39: the State_of_Charge is reported (status), still never decided on;
 * it belongs to one vehicle: a new session starts without one. */
static void test_R39_state_of_charge_reported_per_session(void **state)
{
        struct fx *f = *state;

        assert_int_equal(status_of(f).charging_loop_soc_pct, SESSION_NOT_REPORTED);
        ccs_charging(f);
        rx_cl_soc(f, 4000, 1000, 63);
        assert_int_equal(status_of(f).charging_loop_soc_pct, 63);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
        rx_state(f, CODEC_STATE_CLOSING_COMMUNICATION);
        rx_csf(f, CODEC_FINISHED_CLEAN_STOP);
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        run(f, 300 * MS);
        /* Kept after the window closed: it is the last one reported. */
        assert_int_equal(status_of(f).charging_loop_soc_pct, 63);
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        rx_ncs_ccs(f);
        assert_int_equal(status_of(f).charging_loop_soc_pct, SESSION_NOT_REPORTED);
        /* Outside a session a Charging_Loop is refused and reports nothing. */
        rx_state(f, CODEC_STATE_CLOSING_COMMUNICATION);
        rx_csf(f, CODEC_FINISHED_CLEAN_STOP);
        rx_cl_soc(f, 4000, 1000, 70);
        assert_int_equal(status_of(f).charging_loop_soc_pct, SESSION_NOT_REPORTED);
}

/* ====================================================================
 * Interlocks, end of charge, session end (R40..R44)
 * ==================================================================== */

static void test_R40_low_insulation_during_charge_trips(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        f->converter = false;
        /* 400 V x 100 ohm/V = 40 kOhm: 40 is still fine, 39 trips. */
        f->m.voltage_dv = 4000;
        f->m.insulation_kohm = 40;
        meas(f);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
        f->m.insulation_kohm = 39;
        meas(f);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_INSULATION);
        run(f, 100 * MS);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
        /* Latched. */
        f->m.insulation_kohm = 500;
        meas(f);
        rx_cl(f, 4000, 1000);
        expect_cmd(f, POWER_OFF, 0, 0, true);
}

static void test_R40_low_insulation_during_precharge_trips(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        insulation_test(f);
        rx_state(f, CODEC_STATE_PRECHARGE);
        rx_pre(f, 3875, 20);
        f->converter = false;
        f->m.voltage_dv = 3875;
        f->m.insulation_kohm = 10;
        meas(f);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_INSULATION);
}

static void test_R40_threshold_follows_configuration(void **state)
{
        struct fx *f = *state;

        f->cfg.insulation_min_ohm_per_volt = 500;
        fx_init(f);
        ccs_charging(f);
        f->converter = false;
        f->m.voltage_dv = 4000;
        f->m.insulation_kohm = 199;     /* < 500 x 400 V = 200 kOhm */
        meas(f);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        f->cfg.insulation_min_ohm_per_volt = 0;
        assert_int_equal(session_config_check(&f->cfg), -EINVAL);
}

static void test_R40_no_interlock_in_standby_or_during_test(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        f->m.insulation_kohm = 0;
        run(f, 500 * MS);
        rx_state(f, CODEC_STATE_INSULATION_TEST);
        rx_ins(f, 5000);
        run(f, 500 * MS);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
        expect_cmd(f, POWER_INSULATION_TEST, 5000, 10, false);
}

static void test_R41_charge_stopped_brings_current_to_zero(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        rx_state(f, CODEC_STATE_ENDING_CHARGE);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        rx_csc(f, CODEC_CHARGE_STOPPED);
        rx_cl(f, 0, 0);
        run(f, 300 * MS);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        assert_int_equal(last_status(f)->present_current_da, 0);
        assert_false(status_of(f).charge_started);
}

static void test_R41_charge_stopped_alone_stops_charge(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        rx_csc(f, CODEC_CHARGE_STOPPED);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
}

static void test_R42_welding_detection_keeps_reporting_voltage(void **state)
{
        struct fx *f = *state;
        uint64_t m0;

        ccs_charging(f);
        rx_state(f, CODEC_STATE_ENDING_CHARGE);
        rx_cl(f, 0, 0);
        run(f, 300 * MS);
        rx_state(f, CODEC_STATE_WELDING_DETECTION);
        expect_cmd(f, POWER_STANDBY, 0, 0, true);
        f->converter = false;
        m0 = mark(f);
        for (int k = 0; k < 10; k++) {
                f->m.voltage_dv = (uint16_t)(k % 2 ? 3900 : 50);
                meas(f);
                run(f, 100 * MS);
                assert_int_equal(last_status(f)->present_voltage_dv, f->m.voltage_dv);
        }
        assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_STATUS), 10);
}

static void test_R43_closing_lowers_output_status_until_finished(void **state)
{
        struct fx *f = *state;
        uint64_t m0;

        ccs_charging(f);
        rx_state(f, CODEC_STATE_ENDING_CHARGE);
        rx_cl(f, 0, 0);
        run(f, 300 * MS);
        rx_state(f, CODEC_STATE_CLOSING_COMMUNICATION);
        expect_cmd(f, POWER_STANDBY, 0, 0, true);
        m0 = mark(f);
        run(f, 2 * SEC);
        assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_STATUS), 20);
        assert_true(last_status(f)->present_voltage_dv <= 100);
}

static void test_R44_session_finished_turns_off_and_closes_window(void **state)
{
        struct fx *f = *state;
        uint64_t m0;

        ccs_charging(f);
        rx_state(f, CODEC_STATE_CLOSING_COMMUNICATION);
        rx_csf(f, CODEC_FINISHED_CLEAN_STOP);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        m0 = mark(f);
        run(f, 3 * SEC);
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        run(f, 3 * SEC);
        assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_STATUS), 0);
        assert_int_equal(session_next_deadline(&f->s) <= f->next_hb + 200 * MS, true);
        /* A late request after the end is refused. */
        rx_cl(f, 4000, 1000);
        expect_cmd(f, POWER_OFF, 0, 0, true);
}

/* R44: how the controller ended the session (Clean_Stop, Rushed_Stop) is
 * reported after the window closed, and only for the session it ended. */
static void test_R44_finished_state_reported(void **state)
{
        struct fx *f = *state;

        assert_int_equal(status_of(f).finished_state, SESSION_NOT_REPORTED);
        ccs_charging(f);
        assert_int_equal(status_of(f).finished_state, SESSION_NOT_REPORTED);
        rx_state(f, CODEC_STATE_CLOSING_COMMUNICATION);
        rx_csf(f, CODEC_FINISHED_RUSHED_STOP);
        assert_int_equal(status_of(f).finished_state, CODEC_FINISHED_RUSHED_STOP);
        /* A repeat outside the window changes nothing. */
        rx_csf(f, CODEC_FINISHED_CLEAN_STOP);
        assert_int_equal(status_of(f).finished_state, CODEC_FINISHED_RUSHED_STOP);
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        run(f, 300 * MS);
        assert_int_equal(status_of(f).finished_state, CODEC_FINISHED_RUSHED_STOP);

        /* The next session ends without one: back to a pre-session state. */
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        rx_ncs_ccs(f);
        assert_int_equal(status_of(f).finished_state, SESSION_NOT_REPORTED);
        run(f, 300 * MS);
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        run(f, 300 * MS);
        assert_false(status_of(f).in_session);
        assert_int_equal(status_of(f).finished_state, SESSION_NOT_REPORTED);
}

/* ====================================================================
 * Emergency stop (R45..R47)
 * ==================================================================== */

static void test_R45_emergency_stop_turns_off_at_once(void **state)
{
        struct fx *f = *state;
        struct session_status st;

        ccs_charging(f);
        rx_estop(f, CODEC_ESTOP_ORIGIN_PEV);
        /* In the same call, before anything else. */
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(f->cmds[(f->n_cmds - 1) % REC_MAX].t, f->now);
        st = status_of(f);
        assert_true(st.emergency_stop_latched);
        assert_true(st.emergency_stop_active);
        assert_int_equal(st.emergency_stop_origin, CODEC_ESTOP_ORIGIN_PEV);
        assert_int_equal(st.fault, SESSION_FAULT_EMERGENCY_STOP);
        assert_int_equal(st.counters.emergency_stops, 1);
        run(f, 100 * MS);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
        /* Repeated every 100 ms: one episode. */
        for (int k = 0; k < 10; k++) {
                rx_estop(f, CODEC_ESTOP_ORIGIN_PEV);
                run(f, 100 * MS);
        }
        assert_int_equal(status_of(f).counters.emergency_stops, 1);
        rx_cl(f, 4000, 1000);
        expect_cmd(f, POWER_OFF, 0, 0, true);
}

static void test_R45_emergency_stop_outside_session(void **state)
{
        struct fx *f = *state;

        controller_waiting(f);
        rx_estop(f, CODEC_ESTOP_ORIGIN_EVSE);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_true(status_of(f).emergency_stop_latched);
        /* Still active at the next New_Charge_Session: no wake-up. */
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        rx_ncs_ccs(f);
        run(f, 300 * MS);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
}

static void test_R46_emergency_stop_released_only_after_quiet_and_new_session(void **state)
{
        struct fx *f = *state;
        uint64_t t_last;

        ccs_charging(f);
        for (int k = 0; k < 5; k++) {
                rx_estop(f, CODEC_ESTOP_ORIGIN_EVSE);
                run(f, 100 * MS);
        }
        t_last = f->now - 100 * MS;
        rx_state(f, CODEC_STATE_CLOSING_COMMUNICATION);
        rx_csf(f, CODEC_FINISHED_RUSHED_STOP);
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        /* A new session within estop_release_us of the last frame: kept. */
        at(f, t_last + 900 * MS);
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        rx_ncs_ccs(f);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_true(status_of(f).emergency_stop_latched);
        /* Quiet long enough, but the same session: still kept. */
        run(f, 2 * SEC);
        assert_false(status_of(f).emergency_stop_active);
        assert_true(status_of(f).emergency_stop_latched);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        /* Quiet and a new session: released. */
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        run(f, 1 * SEC);
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        rx_ncs_ccs(f);
        assert_false(status_of(f).emergency_stop_latched);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        run(f, 200 * MS);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
}

static void test_R46_release_deadline_exact(void **state)
{
        struct fx *f = *state;
        uint64_t t0;

        controller_waiting(f);
        rx_estop(f, CODEC_ESTOP_ORIGIN_EVSE);
        t0 = f->now;
        f->heartbeat = false;
        f->converter = false;
        at(f, t0 + 1 * SEC - 1);
        assert_true(status_of(f).emergency_stop_active);
        at(f, t0 + 1 * SEC);
        assert_false(status_of(f).emergency_stop_active);
}

static void test_R47_power_side_triggers_report_system_enable_zero(void **state)
{
        struct fx *f = *state;

        /* Converter link lost during charging. */
        ccs_charging(f);
        link_lost_trips(f);
        run(f, 100 * MS);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
        /* The link back does not re-arm the session. */
        f->m.link_ok = true;
        f->m.ready = true;
        meas(f);
        rx_cl(f, 4000, 1000);
        run(f, 200 * MS);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
        /* Until a new session. */
        f->converter = true;
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        run(f, 500 * MS);
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        rx_ncs_ccs(f);
        run(f, 300 * MS);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
}

/* ====================================================================
 * Readings of part E
 * ==================================================================== */

static void test_E01_negative_current_is_standby_and_counted(void **state)
{
        struct fx *f = *state;
        uint64_t rej;

        ccs_charging(f);
        rej = status_of(f).counters.rejected_requests;
        rx_cl(f, 4000, -500);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        assert_int_equal(status_of(f).counters.rejected_requests, rej + 1);
        assert_int_equal(status_of(f).request_current_da, -500);
        rx_cl(f, 4000, -1);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        rx_cl(f, 4000, INT16_MIN);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        assert_int_equal(status_of(f).counters.rejected_requests, rej + 3);
        rx_cl(f, 4000, 700);
        expect_cmd(f, POWER_CHARGE, 4000, 700, false);
}

static void test_E03_unknown_temperatures_reported_as_zero_celsius(void **state)
{
        struct fx *f = *state;
        const struct rec_frame *r;

        f->m.module_temp_c = POWER_TEMPERATURE_UNKNOWN;
        f->m.enclosure_temp_c = POWER_TEMPERATURE_UNKNOWN;
        open_session(f, false);
        r = last_of(f, CODEC_POWER_MODULES_STATUS);
        assert_int_equal(r->msg.u.power_modules_status.power_modules_temperature_c, 0);
        assert_int_equal(r->raw.data[4], 40);
        assert_int_equal(r->raw.data[5], 40);
        /* Out of the field's range: clamped, not wrapped. */
        f->m.module_temp_c = 300;
        f->m.enclosure_temp_c = -60;
        run(f, 100 * MS);
        r = last_of(f, CODEC_POWER_MODULES_STATUS);
        assert_int_equal(r->raw.data[4], 255);
        assert_int_equal(r->raw.data[5], 0);
}

static void test_E10_first_status_immediately_with_system_enable_zero_while_booting(void **state)
{
        struct fx *f = *state;
        uint64_t m0;
        const struct rec_frame *r;

        f->heartbeat = true;
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        meas(f);                /* asleep */
        m0 = mark(f);
        rx_ncs_ccs(f);
        r = nth_since(f, m0, CODEC_POWER_MODULES_STATUS, 0);
        assert_non_null(r);
        assert_int_equal(r->t, f->now);
        assert_int_equal(r->msg.u.power_modules_status.system_enable,
                         CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
        /* The status is the first frame of the session. */
        assert_int_equal(frame_at(f, m0)->msg.type, CODEC_POWER_MODULES_STATUS);
}

static void test_E16_charge_pause_is_standby_without_discharge(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        rx_state(f, CODEC_STATE_CHARGE_PAUSE);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        run(f, 5 * SEC);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
        assert_true(status_of(f).in_session);
        /* Resume: the request may precede the state frame. */
        rx_cl(f, 4000, 1000);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
        rx_state(f, CODEC_STATE_CHARGING);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
}

static void test_E25_state_change_without_charge_status_change(void **state)
{
        struct fx *f = *state;

        /* Charge_Status_Change missed: the state alone is enough. */
        ccs_charging(f);
        rx_state(f, CODEC_STATE_ENDING_CHARGE);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        /* No Charging_Loop is followed in Ending_Charge. */
        rx_cl(f, 4000, 1000);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        rx_state(f, CODEC_STATE_WELDING_DETECTION);
        expect_cmd(f, POWER_STANDBY, 0, 0, true);
}

static void test_E25_closing_while_charging_discharges(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        rx_state(f, CODEC_STATE_CLOSING_COMMUNICATION);
        expect_cmd(f, POWER_STANDBY, 0, 0, true);
}

static void test_E28_requests_refused_in_wrong_state_and_counted(void **state)
{
        struct fx *f = *state;
        uint64_t rej;

        open_session(f, false);
        rej = status_of(f).counters.rejected_requests;
        /* Charge in Connected_With_Full_Info: refused. */
        rx_cl(f, 4000, 1000);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        /* Precharge before the insulation test: refused. */
        rx_pre(f, 3875, 20);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        assert_int_equal(status_of(f).counters.rejected_requests, rej + 2);
        /* Insulation test during charging: refused. */
        insulation_test(f);
        precharge(f);
        waiting_for_charge(f);
        rx_state(f, CODEC_STATE_CHARGING);
        rx_cl(f, 4000, 1000);
        rej = status_of(f).counters.rejected_requests;
        rx_ins(f, 5000);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
        assert_int_equal(status_of(f).counters.rejected_requests, rej + 1);
}

static void test_E28_requests_refused_outside_a_session(void **state)
{
        struct fx *f = *state;

        controller_waiting(f);
        rx_state(f, CODEC_STATE_CHARGING);
        rx_cl(f, 4000, 1000);
        rx_ins(f, 5000);
        rx_pre(f, 3875, 20);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(status_of(f).counters.rejected_requests, 3);
}

static void test_E28_request_just_before_state_frame_accepted(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        /* Insulation_Test while the status still says 3. */
        rx_ins(f, 5000);
        expect_cmd(f, POWER_INSULATION_TEST, 5000, 10, false);
        rx_state(f, CODEC_STATE_INSULATION_TEST);
        expect_cmd(f, POWER_INSULATION_TEST, 5000, 10, false);
        rx_ins(f, 0);
        rx_cl(f, 0, 0);
        run(f, 300 * MS);
        /* Precharge while the status still says 4. */
        rx_pre(f, 3875, 20);
        expect_cmd(f, POWER_PRECHARGE, 3875, 20, false);
        rx_state(f, CODEC_STATE_PRECHARGE);
        rx_pre(f, 3875, 0);
        rx_cl(f, 0, 0);
        /* Charging_Loop while the status still says 6. */
        rx_state(f, CODEC_STATE_WAITING_FOR_CHARGE);
        rx_cl(f, 4000, 1000);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
        rx_state(f, CODEC_STATE_CHARGING);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
}

/* ====================================================================
 * Converter, shutdown, reconfiguration, API
 * ==================================================================== */

static void test_converter_link_loss_outside_session_cleared_by_new_session(void **state)
{
        struct fx *f = *state;

        controller_waiting(f);
        f->converter = false;
        f->m.link_ok = false;
        meas(f);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_CONVERTER_LINK);
        f->m.link_ok = true;
        meas(f);
        f->converter = true;
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        rx_ncs_ccs(f);
        run(f, 300 * MS);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
}

static void test_converter_not_ready_withholds_system_enable(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        f->converter = false;
        f->m.ready = false;
        meas(f);
        run(f, 100 * MS);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
        rx_state(f, CODEC_STATE_INSULATION_TEST);
        rx_ins(f, 5000);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
}

static void test_shutdown_final_status_and_stays_off(void **state)
{
        struct fx *f = *state;
        uint64_t m0;

        ccs_charging(f);
        m0 = mark(f);
        session_shutdown(&f->s, f->now);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_STATUS), 1);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_SHUTDOWN);
        assert_int_equal(session_next_deadline(&f->s), SESSION_NO_DEADLINE);
        f->shut = true;         /* no frame may follow */
        /* Nothing powers up again. */
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        rx_ncs_ccs(f);
        rx_state(f, CODEC_STATE_CHARGING);
        rx_cl(f, 4000, 1000);
        meas_follow(f);
        f->dyn.max_current_da = 100;
        assert_int_equal(session_set_dynamic_limits(&f->s, &f->dyn, f->now), 0);
        assert_int_equal(session_reconfigure(&f->s, &f->cfg, f->now), 0);
        assert_int_equal(session_press_user_stop(&f->s, f->now), -EAGAIN);
        session_tick(&f->s, f->now + 10 * SEC);
        session_shutdown(&f->s, f->now + 11 * SEC);
        expect_cmd(f, POWER_OFF, 0, 0, true);
}

static void test_shutdown_outside_window_sends_one_status(void **state)
{
        struct fx *f = *state;

        controller_waiting(f);
        assert_int_equal(count_since(f, 0, CODEC_POWER_MODULES_STATUS), 0);
        session_shutdown(&f->s, f->now);
        assert_int_equal(count_since(f, 0, CODEC_POWER_MODULES_STATUS), 1);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
}

static void test_reconfigure_applies_limits_at_once(void **state)
{
        struct fx *f = *state;
        uint64_t m0;

        ccs_charging(f);
        rx_cl(f, 4000, 1800);
        expect_cmd(f, POWER_CHARGE, 4000, 1800, false);
        m0 = mark(f);
        f->cfg.limits.max_current_da = 800;
        f->cfg.limits.max_voltage_dv = 3900;
        assert_int_equal(session_reconfigure(&f->s, &f->cfg, f->now), 0);
        expect_cmd(f, POWER_CHARGE, 3900, 800, false);
        assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_LIMITS), 1);
        assert_int_equal(last_of(f, CODEC_POWER_MODULES_LIMITS)->msg.u.power_modules_limits.maximum_current_da,
                         800);
        /* Raised again: the held request is followed up to it. */
        f->cfg.limits = test_limits;
        assert_int_equal(session_reconfigure(&f->s, &f->cfg, f->now), 0);
        expect_cmd(f, POWER_CHARGE, 4000, 1800, false);
}

static void test_reconfigure_rejects_pistol_change_unchanged(void **state)
{
        struct fx *f = *state;
        struct session_config next;
        struct session_status before, after;
        uint64_t m0, c0;

        ccs_charging(f);
        next = f->cfg;
        next.pistol = 2;
        next.limits.max_current_da = 10;
        before = status_of(f);
        m0 = mark(f);
        c0 = cmd_mark(f);
        assert_int_equal(session_reconfigure(&f->s, &next, f->now), -EINVAL);
        next = f->cfg;
        next.limits.max_voltage_dv = 0;
        assert_int_equal(session_reconfigure(&f->s, &next, f->now), -EINVAL);
        assert_int_equal(session_reconfigure(&f->s, NULL, f->now), -EINVAL);
        after = status_of(f);
        assert_int_equal(mark(f), m0);
        assert_int_equal(cmd_mark(f), c0);
        assert_true(limits_equal(&before.limits, &after.limits));
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
}

static void test_reconfigure_flag_sources(void **state)
{
        struct fx *f = *state;

        controller_waiting(f);
        assert_true(last_flags(f)->start_charge_authorisation);
        /* AUTO -> EXTERNAL: the operator starts from 0. */
        f->cfg.start_authorisation = SESSION_FLAG_EXTERNAL;
        f->cfg.ccs_authorisation = SESSION_FLAG_EXTERNAL;
        assert_int_equal(session_reconfigure(&f->s, &f->cfg, f->now), 0);
        assert_false(last_flags(f)->start_charge_authorisation);
        assert_false(last_flags(f)->ccs_authorisation_done);
        assert_int_equal(session_set_start_authorisation(&f->s, true, f->now), 0);
        assert_true(last_flags(f)->start_charge_authorisation);
        /* Back to AUTO. */
        f->cfg.start_authorisation = SESSION_FLAG_AUTO;
        f->cfg.ccs_authorisation = SESSION_FLAG_AUTO;
        assert_int_equal(session_reconfigure(&f->s, &f->cfg, f->now), 0);
        assert_true(last_flags(f)->ccs_authorisation_done);
        assert_int_equal(session_set_start_authorisation(&f->s, false, f->now), -EPERM);
}

static void test_reconfigure_shorter_timeout_applies_at_once(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        f->heartbeat = false;
        f->converter = false;
        at(f, f->last_status_us + 150 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
        f->cfg.controller_timeout_us = 120 * MS;
        assert_int_equal(session_reconfigure(&f->s, &f->cfg, f->now), 0);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_CONTROLLER_TIMEOUT);
}

static void test_power_command_only_on_change_and_replay(void **state)
{
        struct fx *f = *state;
        uint64_t c0;
        const struct power_command *c;

        /* The initial OFF at init. */
        assert_int_equal(cmd_mark(f), 1);
        assert_int_equal(f->cmds[0].c.mode, POWER_OFF);
        ccs_charging(f);
        c0 = cmd_mark(f);
        for (int k = 0; k < 20; k++) {
                rx_cl(f, 4000, 1000);
                run(f, 100 * MS);
        }
        assert_int_equal(cmd_mark(f), c0);
        /* The replay accessor gives what is in force. */
        c = session_command(&f->s);
        assert_memory_equal(c, &f->cmds[(f->n_cmds - 1) % REC_MAX].c, sizeof(*c));
}

static void test_next_deadline_none_when_idle(void **state)
{
        struct fx *f = *state;

        assert_int_equal(session_next_deadline(&f->s), SESSION_NO_DEADLINE);
        f->converter = true;
        meas_follow(f);
        assert_int_equal(session_next_deadline(&f->s), SESSION_NO_DEADLINE);
}

static void test_config_check(void **state)
{
        struct session_config c;
        struct session s;
        const struct session_callbacks none = { 0 };

        (void)state;
        session_config_defaults(&c);
        /* No limits: refused. */
        assert_int_equal(session_config_check(&c), -EINVAL);
        c.limits = test_limits;
        assert_int_equal(session_config_check(&c), 0);
        assert_int_equal(c.controller_timeout_us, 200 * MS);
        assert_int_equal(c.status_period_us, 100 * MS);
        assert_int_equal(c.limits_min_interval_us, 100 * MS);
        c.pistol = 0;
        assert_int_equal(session_config_check(&c), -EINVAL);
        c.pistol = 32;
        assert_int_equal(session_config_check(&c), -EINVAL);
        c.pistol = 31;
        assert_int_equal(session_config_check(&c), 0);
        c.limits_min_interval_us = 99 * MS;
        assert_int_equal(session_config_check(&c), -EINVAL);
        c.limits_min_interval_us = 100 * MS;
        c.controller_timeout_us = 0;
        assert_int_equal(session_config_check(&c), -EINVAL);
        c.controller_timeout_us = 200 * MS;
        c.ramp_step_us = 0;
        assert_int_equal(session_config_check(&c), -EINVAL);
        c.current_ramp_da_per_s = 0;
        assert_int_equal(session_config_check(&c), 0);
        assert_int_equal(session_config_check(NULL), -EINVAL);
        assert_int_equal(session_init(&s, &c, &none, 0), -EINVAL);
        assert_string_equal(session_fault_name(SESSION_FAULT_INSULATION), "insulation");
        assert_string_equal(session_request_name(SESSION_REQUEST_PRECHARGE), "precharge");
}

/* ====================================================================
 * Two whole sessions, frame by frame
 * ==================================================================== */

/* The frames sent since `from`, by type, in order. */
static void expect_sent(const struct fx *f, uint64_t from, const enum codec_msg_type *types,
                        size_t n)
{
        assert_int_equal(f->n_frames - from, n);
        for (size_t k = 0; k < n; k++)
                assert_int_equal(frame_at(f, from + k)->msg.type, types[k]);
}

static void test_full_ccs_session_frame_by_frame(void **state)
{
        static const enum codec_msg_type flags_and_limits[] = {
                CODEC_POWER_MODULES_LIMITS, CODEC_SEQUENCE_CONTROL,
        };
        static const enum codec_msg_type opening[] = {
                CODEC_POWER_MODULES_STATUS, CODEC_POWER_MODULES_LIMITS, CODEC_SEQUENCE_CONTROL,
        };
        struct fx *f = *state;
        uint64_t m0, t0;
        const struct codec_sequence_control *fl;

        /* Defaults as shipped: re-send 1 s, ramp 200 A/s. */
        session_config_defaults(&f->cfg);
        f->cfg.limits = test_limits;
        fx_init(f);
        f->converter = true;
        meas_follow(f);

        /* Controller booting: silence from us. */
        f->heartbeat = true;
        rx_state(f, CODEC_STATE_INITIALISING);
        run(f, 15 * SEC);
        assert_int_equal(f->n_frames, 0);
        expect_cmd(f, POWER_OFF, 0, 0, true);

        /* Not_Available: limits early, first Sequence_Control. */
        m0 = mark(f);
        rx_state(f, CODEC_STATE_NOT_AVAILABLE);
        expect_sent(f, m0, flags_and_limits, 2);
        fl = last_flags(f);
        assert_true(fl->start_charge_authorisation);
        assert_true(fl->ccs_authorisation_done && fl->ccs_authorisation_valid);
        assert_false(fl->charge_parameters_done);
        assert_int_equal(last_of(f, CODEC_SEQUENCE_CONTROL)->raw.data[0], 0x01);
        assert_int_equal(last_of(f, CODEC_SEQUENCE_CONTROL)->raw.data[1], 0x03);

        /* Waiting, plug-in, negotiation: only the 1 s re-send. */
        m0 = mark(f);
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        run(f, 2 * SEC);
        rx_state(f, CODEC_STATE_NEGOTIATING_CONNECTION);
        run(f, 1 * SEC);
        assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_STATUS), 0);
        assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_LIMITS), 0);
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 3);

        /* New_Charge_Session: status at once, the session's limits, then
         * Charge_Parameters_Done; converter woken. */
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        m0 = mark(f);
        t0 = f->now;
        rx_ncs_ccs(f);
        expect_sent(f, m0, opening, 3);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
        assert_true(last_flags(f)->charge_parameters_done);
        assert_int_equal(last_of(f, CODEC_SEQUENCE_CONTROL)->raw.data[1], 0x07);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        /* Repeated New_Charge_Session; System_Enable once awake. */
        for (int k = 0; k < 3; k++) {
                run(f, 100 * MS);
                rx_ncs_ccs(f);
        }
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
        assert_int_equal(last_of(f, CODEC_POWER_MODULES_STATUS)->t, t0 + 300 * MS);
        rx_cl(f, 0, 0);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);

        /* Insulation test. */
        rx_state(f, CODEC_STATE_INSULATION_TEST);
        for (int k = 0; k < 20; k++) {
                rx_ins(f, 5000);
                run(f, 100 * MS);
        }
        expect_cmd(f, POWER_INSULATION_TEST, 5000, 10, false);
        assert_int_equal(last_status(f)->present_voltage_dv, 5000);
        assert_int_equal(last_status(f)->insulation_resistance_kohm, 510);
        rx_ins(f, 0);
        rx_cl(f, 0, 0);
        expect_cmd(f, POWER_STANDBY, 0, 0, true);
        run(f, 200 * MS);
        assert_true(last_status(f)->present_voltage_dv <= 200);

        /* Precharge. */
        rx_state(f, CODEC_STATE_PRECHARGE);
        for (int k = 0; k < 10; k++) {
                rx_pre(f, 3875, 20);
                run(f, 100 * MS);
        }
        expect_cmd(f, POWER_PRECHARGE, 3875, 20, false);
        rx_pre(f, 3875, 0);
        rx_cl(f, 0, 0);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);

        /* Waiting for charge. */
        rx_state(f, CODEC_STATE_WAITING_FOR_CHARGE);
        rx_csc(f, CODEC_CHARGE_STARTED);
        rx_cl(f, 0, 0);
        run(f, 5 * SEC);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);

        /* Charging, EV-paced, ramped at 200 A/s (20 A a step). */
        rx_state(f, CODEC_STATE_CHARGING);
        rx_cl(f, 4500, 1250);
        expect_cmd(f, POWER_CHARGE, 4500, 200, false);
        run(f, 100 * MS);
        expect_cmd(f, POWER_CHARGE, 4500, 400, false);
        run(f, 600 * MS);
        expect_cmd(f, POWER_CHARGE, 4500, 1250, false);
        run(f, 10 * SEC);
        assert_int_equal(last_status(f)->present_current_da, 1250);
        assert_int_equal(last_status(f)->present_voltage_dv, 4500);
        rx_cl(f, 4520, 800);
        expect_cmd(f, POWER_CHARGE, 4520, 800, false);
        run(f, 20 * SEC);

        /* Normal end. */
        rx_state(f, CODEC_STATE_ENDING_CHARGE);
        rx_csc(f, CODEC_CHARGE_STOPPED);
        rx_cl(f, 0, 0);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        run(f, 1 * SEC);
        rx_state(f, CODEC_STATE_WELDING_DETECTION);
        expect_cmd(f, POWER_STANDBY, 0, 0, true);
        run(f, 1 * SEC);
        rx_state(f, CODEC_STATE_CLOSING_COMMUNICATION);
        run(f, 500 * MS);
        m0 = mark(f);
        rx_csf(f, CODEC_FINISHED_CLEAN_STOP);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        /* Charge_Parameters_Done back to 0 at once. */
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 1);
        assert_false(last_flags(f)->charge_parameters_done);
        m0 = mark(f);
        run(f, 3 * SEC);
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        run(f, 3 * SEC);
        assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_STATUS), 0);
        assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_LIMITS), 0);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
        assert_int_equal(status_of(f).counters.rejected_requests, 0);
        assert_int_equal(status_of(f).counters.malformed, 0);
        assert_int_equal(status_of(f).counters.foreign, 0);
}

static void test_full_chademo_session_frame_by_frame(void **state)
{
        struct fx *f = *state;
        uint64_t m0, t0;

        f->cfg.start_authorisation = SESSION_FLAG_EXTERNAL;
        fx_init(f);
        f->converter = true;
        meas_follow(f);
        f->heartbeat = true;
        rx_state(f, CODEC_STATE_INITIALISING);
        run(f, 2 * SEC);
        assert_int_equal(f->n_frames, 0);

        /* Not_Available until the operator allows charging. */
        m0 = mark(f);
        rx_state(f, CODEC_STATE_NOT_AVAILABLE);
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 1);
        assert_false(last_flags(f)->start_charge_authorisation);
        run(f, 1 * SEC);
        assert_int_equal(session_set_start_authorisation(&f->s, true, f->now), 0);
        assert_true(last_flags(f)->start_charge_authorisation);
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        run(f, 1 * SEC);

        /* The user presses the (virtual) start button: 1, then 0. */
        m0 = mark(f);
        t0 = f->now;
        assert_int_equal(session_press_chademo_start(&f->s, f->now), 0);
        run(f, 500 * MS);
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 2);
        assert_true(nth_since(f, m0, CODEC_SEQUENCE_CONTROL, 0)->msg.u.sequence_control.chademo_start_button);
        assert_false(nth_since(f, m0, CODEC_SEQUENCE_CONTROL, 1)->msg.u.sequence_control.chademo_start_button);
        assert_int_equal(nth_since(f, m0, CODEC_SEQUENCE_CONTROL, 1)->t, t0 + 300 * MS);

        rx_state(f, CODEC_STATE_NEGOTIATING_CONNECTION);
        run(f, 500 * MS);
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        m0 = mark(f);
        rx_ncs_chademo(f);
        assert_int_equal(frame_at(f, m0)->msg.type, CODEC_POWER_MODULES_STATUS);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        run(f, 200 * MS);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
        assert_true(last_flags(f)->charge_parameters_done);
        rx_cl(f, 0, 0);

        /* Insulation test at 500 V, end, discharge. */
        rx_state(f, CODEC_STATE_INSULATION_TEST);
        for (int k = 0; k < 15; k++) {
                rx_ins(f, 5000);
                run(f, 100 * MS);
        }
        expect_cmd(f, POWER_INSULATION_TEST, 5000, 10, false);
        rx_ins(f, 0);
        rx_cl(f, 0, 0);
        expect_cmd(f, POWER_STANDBY, 0, 0, true);
        run(f, 300 * MS);
        assert_true(last_status(f)->present_voltage_dv <= 200);

        /* No precharge in CHAdeMO: Waiting_For_Charge, battery closes. */
        rx_state(f, CODEC_STATE_WAITING_FOR_CHARGE);
        rx_csc(f, CODEC_CHARGE_STARTED);
        rx_cl(f, 0, 0);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        f->m.voltage_dv = 3900;
        run(f, 1 * SEC);
        assert_int_equal(last_status(f)->present_voltage_dv, 3900);

        /* Charging loop every 100 ms. */
        rx_state(f, CODEC_STATE_CHARGING);
        for (int k = 0; k < 100; k++) {
                rx_cl(f, 4100, (int16_t)(k < 50 ? 1000 : 1000 - (k - 50) * 10));
                run(f, 100 * MS);
                assert_true(cmd(f)->mode == POWER_CHARGE);
                assert_int_equal(last_status(f)->present_current_da, cmd(f)->current_da);
        }
        expect_cmd(f, POWER_CHARGE, 4100, 510, false);

        /* The user stops: normal end of charge. */
        assert_int_equal(session_press_user_stop(&f->s, f->now), 0);
        assert_true(last_flags(f)->user_stop_button);
        rx_state(f, CODEC_STATE_ENDING_CHARGE);
        rx_csc(f, CODEC_CHARGE_STOPPED);
        rx_cl(f, 0, 0);
        expect_cmd(f, POWER_STANDBY, 0, 0, false);
        run(f, 500 * MS);
        assert_false(last_flags(f)->user_stop_button);
        /* Closing: the output goes below 10 V for the unlock (R43). */
        rx_state(f, CODEC_STATE_CLOSING_COMMUNICATION);
        expect_cmd(f, POWER_STANDBY, 0, 0, true);
        run(f, 500 * MS);
        assert_true(last_status(f)->present_voltage_dv <= 100);
        rx_csf(f, CODEC_FINISHED_CLEAN_STOP);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        m0 = mark(f);
        run(f, 2 * SEC);
        assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_STATUS), 0);
        assert_int_equal(status_of(f).counters.rejected_requests, 0);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
}

/* ====================================================================
 * Randomized: limits in force never exceeded, silence always ends OFF
 * ==================================================================== */

static uint64_t prng_state;

static uint64_t prng(void)
{
        /* xorshift64* */
        prng_state ^= prng_state >> 12;
        prng_state ^= prng_state << 25;
        prng_state ^= prng_state >> 27;
        return prng_state * 0x2545F4914F6CDD1Dull;
}

static uint32_t rnd(uint32_t n)
{
        return (uint32_t)((prng() >> 32) % n);
}

static bool chance(uint32_t percent)
{
        return rnd(100) < percent;
}

static uint16_t rnd_u16(void)
{
        switch (rnd(4)) {
        case 0:
                return 0;
        case 1:
                return (uint16_t)rnd(65536);
        default:
                return (uint16_t)rnd(12000);
        }
}

static void random_limits(struct power_limits *l)
{
        l->max_voltage_dv = (uint16_t)(1 + rnd(15000));
        l->max_current_da = (uint16_t)(1 + rnd(5000));
        l->max_power_w = 1 + rnd(500000);
        l->precharge_max_current_da = (uint16_t)(1 + rnd(100));
        l->insulation_max_current_da = (uint16_t)(1 + rnd(100));
}

static void random_dynamic(struct power_limits *l)
{
        random_limits(l);
        if (chance(40))
                l->max_voltage_dv = 0;
        if (chance(40))
                l->max_current_da = 0;
        if (chance(40))
                l->max_power_w = 0;
        if (chance(60))
                l->precharge_max_current_da = 0;
        if (chance(60))
                l->insulation_max_current_da = 0;
}

static uint8_t random_state(void)
{
        if (chance(10))
                return (uint8_t)rnd(256);
        return (uint8_t)rnd(14);
}

/* The usual way through a session, so that random runs get far. */
static uint8_t next_state(uint8_t state)
{
        switch (state) {
        case CODEC_STATE_INITIALISING:
                return CODEC_STATE_WAITING_FOR_PEV;
        case CODEC_STATE_WAITING_FOR_PEV:
                return CODEC_STATE_CONNECTED_WITH_FULL_INFO;
        case CODEC_STATE_CONNECTED_WITH_FULL_INFO:
                return CODEC_STATE_INSULATION_TEST;
        case CODEC_STATE_INSULATION_TEST:
                return CODEC_STATE_PRECHARGE;
        case CODEC_STATE_PRECHARGE:
                return CODEC_STATE_WAITING_FOR_CHARGE;
        case CODEC_STATE_WAITING_FOR_CHARGE:
                return CODEC_STATE_CHARGING;
        case CODEC_STATE_CHARGING:
                return chance(20) ? CODEC_STATE_CHARGE_PAUSE : CODEC_STATE_ENDING_CHARGE;
        case CODEC_STATE_CHARGE_PAUSE:
                return CODEC_STATE_CHARGING;
        case CODEC_STATE_ENDING_CHARGE:
                return CODEC_STATE_WELDING_DETECTION;
        case CODEC_STATE_WELDING_DETECTION:
                return CODEC_STATE_CLOSING_COMMUNICATION;
        default:
                return CODEC_STATE_WAITING_FOR_PEV;
        }
}

static void random_event(struct fx *f)
{
        struct codec_message m;
        struct codec_frame fr;

        switch (rnd(20)) {
        case 0:
        case 1:
        case 2:
                if (chance(80))
                        rx_state(f, f->state);
                else if (chance(75))
                        rx_state(f, next_state(f->state));
                else
                        rx_state(f, random_state());
                break;
        case 3:
                rx_ncs(f, (uint8_t)rnd(8), (uint8_t)rnd(5));
                break;
        case 4:
                rx_ins(f, chance(30) ? 0 : rnd_u16());
                break;
        case 5:
                rx_pre(f, rnd_u16(), chance(30) ? 0 : (uint16_t)rnd(chance(80) ? 40 : 65536));
                break;
        case 6:
        case 7:
                if (chance(20))
                        rx_cl(f, 0, 0);
                else
                        rx_cl(f, rnd_u16(), (int16_t)(chance(15) ? -(int)rnd(32768)
                                                                 : (int)rnd(chance(70) ? 5000 : 32768)));
                break;
        case 8:
                if (chance(20))
                        rx_estop(f, (uint8_t)rnd(4));
                else
                        rx_csc(f, (uint8_t)rnd(3));
                break;
        case 9:
                if (chance(30))
                        rx_csf(f, (uint8_t)rnd(2));
                else
                        rx_state(f, (uint8_t)(3 + rnd(8)));
                break;
        case 10:
        case 11:
        case 12:
                if (chance(50)) {
                        meas_follow(f);
                } else {
                        f->m.voltage_dv = rnd_u16();
                        f->m.current_da = (int16_t)rnd(65536);
                        f->m.insulation_kohm = chance(20) ? POWER_INSULATION_UNKNOWN
                                                          : (uint16_t)rnd(chance(50) ? 100 : 2000);
                        f->m.link_ok = !chance(3);
                        f->m.ready = !chance(10);
                        f->m.fault = chance(2);
                        f->m.module_temp_c = chance(10) ? POWER_TEMPERATURE_UNKNOWN
                                                         : (int16_t)((int)rnd(400) - 100);
                        meas(f);
                }
                break;
        case 13:
                if (chance(30)) {
                        memset(&f->dyn, 0, sizeof(f->dyn));
                } else {
                        random_dynamic(&f->dyn);
                }
                assert_int_equal(session_set_dynamic_limits(&f->s, &f->dyn, f->now), 0);
                after_call(f);
                break;
        case 14:
                if (chance(30)) {
                        struct session_config next = f->cfg;

                        random_limits(&next.limits);
                        next.current_ramp_da_per_s = chance(50) ? 0 : 1 + rnd(5000);
                        next.ramp_step_us = (1 + rnd(200)) * MS;
                        next.start_authorisation = chance(50) ? SESSION_FLAG_AUTO : SESSION_FLAG_EXTERNAL;
                        next.ccs_authorisation = chance(50) ? SESSION_FLAG_AUTO : SESSION_FLAG_EXTERNAL;
                        next.charge_parameters = chance(50) ? SESSION_FLAG_AUTO : SESSION_FLAG_EXTERNAL;
                        next.use_sequence_flags = !chance(20);
                        if (chance(20))
                                next.controller_timeout_us = (50 + rnd(400)) * MS;
                        if (chance(5))
                                next.pistol = (uint8_t)rnd(40);
                        if (session_reconfigure(&f->s, &next, f->now) == 0)
                                f->cfg = next;
                        else
                                assert_true(next.pistol != f->cfg.pistol ||
                                            session_config_check(&next) < 0);
                        after_call(f);
                }
                break;
        case 15:
                switch (rnd(5)) {
                case 0:
                        (void)session_press_user_stop(&f->s, f->now);
                        break;
                case 1:
                        (void)session_press_chademo_start(&f->s, f->now);
                        break;
                case 2:
                        (void)session_set_start_authorisation(&f->s, chance(50), f->now);
                        break;
                case 3:
                        (void)session_set_ccs_authorisation(&f->s, chance(50), f->now);
                        break;
                default:
                        (void)session_set_charge_parameters_done(&f->s, chance(50), f->now);
                        break;
                }
                after_call(f);
                break;
        case 16:
                /* malformed or foreign frames */
                m.type = CODEC_CHARGING_LOOP;
                m.u.charging_loop = (struct codec_charging_loop){ 5000, 2000, 50 };
                assert_int_equal(codec_encode(V2, &m, (uint8_t)(1 + rnd(31)), &fr), 0);
                if (chance(50))
                        fr.len = (uint8_t)rnd(5);
                (void)session_on_frame(&f->s, &fr, f->now);
                after_call(f);
                break;
        case 17:
                /* a silent controller: long enough to time out, or not */
                f->heartbeat = false;
                wait_us(f, rnd(chance(50) ? 400 : 250) * MS);
                break;
        default:
                f->heartbeat = !chance(10);
                if (f->heartbeat && f->next_hb < f->now)
                        f->next_hb = f->now;
                run(f, rnd(chance(90) ? 150 : 2000) * MS + rnd(1000));
                break;
        }
}

static void test_random_sequences_keep_limits_and_silence_ends_off(void **state)
{
        struct fx *f = *state;

        prng_state = 0x5EC0B41D6E5EEDull;
        for (unsigned run_no = 0; run_no < 4000; run_no++) {
                fx_setup(state);
                f = *state;
                random_limits(&f->cfg.limits);
                f->cfg.current_ramp_da_per_s = chance(50) ? 0 : 1 + rnd(5000);
                f->cfg.sequence_resend_us = chance(50) ? 0 : (1 + rnd(2000)) * MS;
                fx_init(f);
                f->prop = true;
                f->converter = chance(70);
                f->heartbeat = false;
                prop_check(f);
                for (unsigned step = 0; step < 250; step++) {
                        random_event(f);
                        prop_check(f);
                }
                if (chance(20)) {
                        session_shutdown(&f->s, f->now);
                        f->shut = true;
                        prop_check(f);
                        for (unsigned step = 0; step < 20; step++) {
                                random_event(f);
                                prop_check(f);
                        }
                }
        }
}

/* ====================================================================
 * The converter's rating: a third source of limits (one clamp)
 * ==================================================================== */

/* A converter rated 500 V / 100 A / 40 kW, below the config's 1000 V /
 * 200 A / 100 kW: the limits announced, the limits in force and the
 * command all stop at the rating. */
static void test_rating_limits_announced_and_command_clamped(void **state)
{
        struct fx *f = *state;
        const struct codec_power_modules_limits *l;

        f->m.rating = (struct power_rating) { .max_voltage_dv = 5000, .max_current_da = 1000, .max_power_w = 40000 };
        ccs_charging(f);
        l = &last_of(f, CODEC_POWER_MODULES_LIMITS)->msg.u.power_modules_limits;
        assert_int_equal(l->maximum_voltage_dv, 5000);
        assert_int_equal(l->maximum_current_da, 1000);
        assert_int_equal(status_of(f).limits.max_voltage_dv, 5000);
        assert_int_equal(status_of(f).limits.max_current_da, 1000);
        assert_int_equal(status_of(f).limits.max_power_w, 40000);
        /* 500 V, and 40 kW / 500 V = 80 A. */
        rx_cl(f, 8000, 2000);
        expect_cmd(f, POWER_CHARGE, 5000, 800, false);
        /* What the converter was told is what the status says. */
        assert_int_equal(status_of(f).command.voltage_dv, 5000);
        assert_int_equal(status_of(f).command.current_da, 800);
        assert_int_equal(f->cmds[(f->n_cmds - 1) % REC_MAX].c.current_da, 800);
}

/* The rating arrives mid-charge (a converter that reconnected): the command
 * is clamped at once, the new limits go out within the R15 interval. */
static void test_rating_learnt_mid_charge_clamps_at_once(void **state)
{
        struct fx *f = *state;
        const struct codec_power_modules_limits *l;
        uint64_t m0;

        ccs_charging(f);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
        m0 = mark(f);
        f->m.rating = (struct power_rating) { .max_current_da = 800 };
        meas(f);
        expect_cmd(f, POWER_CHARGE, 4000, 800, false);
        run(f, 150 * MS);
        assert_int_equal(count_since(f, m0, CODEC_POWER_MODULES_LIMITS), 1);
        l = &last_of(f, CODEC_POWER_MODULES_LIMITS)->msg.u.power_modules_limits;
        assert_int_equal(l->maximum_voltage_dv, 10000);
        assert_int_equal(l->maximum_current_da, 800);
        /* The precharge and insulation caps follow the lower current. */
        f->m.rating.max_current_da = 15;
        meas(f);
        assert_int_equal(status_of(f).limits.precharge_max_current_da, 15);
        assert_int_equal(status_of(f).limits.insulation_max_current_da, 10);
}

/* The command is worked out again only when one of its inputs changes: in
 * a steady charge each of them, in turn, changes the command at once and
 * changing it back restores it (config, operator, rating, target, the
 * controller's heartbeat, a latch). */
static void test_command_follows_every_input_of_its_cache(void **state)
{
        struct fx *f = *state;
        struct session_config cfg;

        ccs_charging(f);
        run(f, 500 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);

        /* config */
        cfg = f->cfg;
        cfg.limits.max_current_da = 700;
        assert_int_equal(session_reconfigure(&f->s, &cfg, f->now), 0);
        expect_cmd(f, POWER_CHARGE, 4000, 700, false);
        assert_int_equal(session_reconfigure(&f->s, &f->cfg, f->now), 0);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
        cfg = f->cfg;
        cfg.limits.max_voltage_dv = 3900;
        assert_int_equal(session_reconfigure(&f->s, &cfg, f->now), 0);
        expect_cmd(f, POWER_CHARGE, 3900, 1000, false);
        assert_int_equal(session_reconfigure(&f->s, &f->cfg, f->now), 0);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);

        /* operator */
        f->dyn = (struct power_limits){ .max_current_da = 500 };
        assert_int_equal(session_set_dynamic_limits(&f->s, &f->dyn, f->now), 0);
        expect_cmd(f, POWER_CHARGE, 4000, 500, false);
        f->dyn = (struct power_limits){ .max_power_w = 30000 };
        assert_int_equal(session_set_dynamic_limits(&f->s, &f->dyn, f->now), 0);
        expect_cmd(f, POWER_CHARGE, 4000, 750, false);
        f->dyn = (struct power_limits){ 0 };
        assert_int_equal(session_set_dynamic_limits(&f->s, &f->dyn, f->now), 0);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);

        /* the converter's rating */
        f->m.rating = (struct power_rating){ .max_current_da = 600 };
        meas(f);
        expect_cmd(f, POWER_CHARGE, 4000, 600, false);
        f->m.rating = (struct power_rating){ 0 };
        meas(f);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);

        /* the target */
        rx_cl(f, 4100, 900);
        expect_cmd(f, POWER_CHARGE, 4100, 900, false);
        rx_cl(f, 4000, 1000);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
        run(f, 300 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);

        /* a latch (R45), the target unchanged */
        rx_estop(f, CODEC_ESTOP_ORIGIN_EVSE);
        expect_cmd(f, POWER_OFF, 0, 0, true);
}

/* The same with the controller's heartbeat (R1): off at the deadline with
 * the target unchanged. */
static void test_command_cache_follows_the_heartbeat(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        run(f, 500 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
        f->heartbeat = false;
        run(f, 250 * MS);
        expect_cmd(f, POWER_OFF, 0, 0, true);
}

/* A rating above the config, or unknown (0), changes nothing; the operator's
 * limits and the rating together: the lowest wins. */
static void test_rating_never_raises_and_lowest_source_wins(void **state)
{
        struct fx *f = *state;

        f->m.rating = (struct power_rating) { .max_voltage_dv = 15000, .max_current_da = 5000,
                                              .max_power_w = 500000 };
        ccs_charging(f);
        assert_int_equal(status_of(f).limits.max_voltage_dv, 10000);
        assert_int_equal(status_of(f).limits.max_current_da, 2000);
        assert_int_equal(status_of(f).limits.max_power_w, 100000);
        f->dyn.max_current_da = 900;
        assert_int_equal(session_set_dynamic_limits(&f->s, &f->dyn, f->now), 0);
        f->m.rating = (struct power_rating) { .max_current_da = 950, .max_power_w = 35000 };
        meas(f);
        assert_int_equal(status_of(f).limits.max_current_da, 900);
        assert_int_equal(status_of(f).limits.max_power_w, 35000);
        expect_cmd(f, POWER_CHARGE, 4000, 875, false);
        f->m.rating = (struct power_rating) { 0 };
        meas(f);
        assert_int_equal(status_of(f).limits.max_power_w, 100000);
}

/* ====================================================================
 * EV over-voltage (IEC 61851-23 CC.6.2)
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

/* Charging a 450 V EV, the output at 460.1 V (more than the 10 V margin):
 * still charging 1 us before 400 ms, off at 400 ms exactly, System_Enable
 * Not_Allowed from the next status, until the next session. */
static void test_ev_overvoltage_off_after_400ms(void **state)
{
        struct fx *f = *state;
        uint64_t t0;

        ccs_charging(f);
        assert_int_equal(status_of(f).ev_max_voltage_dv, 4500);
        f->converter = false;
        f->m.voltage_dv = 4601;
        meas(f);
        t0 = f->now;
        assert_true(session_next_deadline(&f->s) <= t0 + 400 * MS);
        output_at(f, 4601, 400 * MS - 1 - (f->now - t0));
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
        at(f, t0 + 400 * MS);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_EV_OVERVOLTAGE);
        run(f, 100 * MS);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
        /* Latched: the voltage falling does not bring power back. */
        output_at(f, 4000, 500 * MS);
        rx_cl(f, 4000, 1000);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_EV_OVERVOLTAGE);
}

/* At the margin exactly, or above it for less than the time, nothing
 * happens; a dip below restarts the time. */
static void test_ev_overvoltage_margin_and_time_are_limits(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        output_at(f, 4600, 2 * SEC);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
        output_at(f, 4601, 300 * MS);
        output_at(f, 4550, 40 * MS);
        output_at(f, 4601, 300 * MS);
        output_at(f, 4590, 40 * MS);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);
}

/* The insulation test runs with the EV's contactors open (R26), at the
 * voltage the controller picks: no EV over-voltage there. */
static void test_ev_overvoltage_not_during_insulation_test(void **state)
{
        struct fx *f = *state;

        open_session(f, false);
        rx_state(f, CODEC_STATE_INSULATION_TEST);
        rx_ins(f, 5000);
        run(f, 2 * SEC);
        expect_cmd(f, POWER_INSULATION_TEST, 5000, 10, false);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
        /* From the precharge on it applies: a precharge overshooting to
         * 500 V trips. */
        rx_ins(f, 0);
        rx_cl(f, 0, 0);
        run(f, 300 * MS);
        rx_state(f, CODEC_STATE_PRECHARGE);
        rx_pre(f, 3875, 20);
        output_at(f, 5000, 500 * MS);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_EV_OVERVOLTAGE);
}

/* Margin and time come from the config; a time of 0 switches the check
 * off; an EV maximum of 0 (not known) checks nothing; the next session
 * starts clean. */
static void test_ev_overvoltage_configured_and_cleared_by_new_session(void **state)
{
        struct fx *f = *state;
        uint64_t t0;

        f->cfg.ev_overvoltage_margin_dv = 0;
        f->cfg.ev_overvoltage_time_us = 100 * MS;
        fx_init(f);
        ccs_charging(f);
        f->converter = false;
        f->m.voltage_dv = 4501;
        meas(f);
        t0 = f->now;
        output_at(f, 4501, 100 * MS - 1);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
        at(f, t0 + 100 * MS);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_EV_OVERVOLTAGE);
        rx_csf(f, CODEC_FINISHED_CLEAN_STOP);
        rx_state(f, CODEC_STATE_WAITING_FOR_PEV);
        run(f, 300 * MS);
        f->converter = true;
        rx_state(f, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        rx_ncs_ccs(f);
        run(f, 300 * MS);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_ALLOWED);

        f->cfg.ev_overvoltage_time_us = 0;
        assert_int_equal(session_reconfigure(&f->s, &f->cfg, f->now), 0);
        insulation_test(f);
        precharge(f);
        waiting_for_charge(f);
        rx_state(f, CODEC_STATE_CHARGING);
        rx_cl(f, 4000, 1000);
        output_at(f, 6000, 2 * SEC);
        expect_cmd(f, POWER_CHARGE, 4000, 1000, false);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_NONE);
}

/* ====================================================================
 * No stale measurement reported as fresh
 * ==================================================================== */

/* Charging at 400 V, the converter link goes: whatever the backend still
 * says about the voltage (here 0 V, or a value read before), the status
 * never reports less than the last voltage measured with the link up, so
 * that the controller never takes the output for discharged; a higher
 * value is reported as it is; the link back, the fresh value again. */
static void test_stale_voltage_never_below_last_measured_while_link_down(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        assert_int_equal(last_status(f)->present_voltage_dv, 4000);
        f->converter = false;
        f->m.link_ok = false;
        f->m.voltage_dv = 0;
        f->m.current_da = 0;
        meas(f);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_CONVERTER_LINK);
        expect_cmd(f, POWER_OFF, 0, 0, true);
        run(f, 2 * SEC);
        assert_int_equal(last_status(f)->present_voltage_dv, 4000);
        assert_int_equal(last_status(f)->system_enable, CODEC_SYSTEM_ENABLE_NOT_ALLOWED);
        f->m.voltage_dv = 3500;
        meas(f);
        run(f, 200 * MS);
        assert_int_equal(last_status(f)->present_voltage_dv, 4000);
        f->m.voltage_dv = 4200;
        meas(f);
        run(f, 200 * MS);
        assert_int_equal(last_status(f)->present_voltage_dv, 4200);
        /* Back: what it measures now, even far lower. */
        f->m.link_ok = true;
        f->m.voltage_dv = 120;
        meas(f);
        run(f, 200 * MS);
        assert_int_equal(last_status(f)->present_voltage_dv, 120);
        /* And a voltage measured with the link up is the new floor. */
        f->m.link_ok = false;
        f->m.voltage_dv = 0;
        meas(f);
        run(f, 200 * MS);
        assert_int_equal(last_status(f)->present_voltage_dv, 120);
}

/* ====================================================================
 * What the session keeps worked out between calls: every input changes
 * the command or the frames in its own call, never at a later deadline
 * (each would fail if its input path did not mark the session changed).
 * ==================================================================== */

static void test_cache_operator_limit_clamps_at_once(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        f->dyn.max_current_da = 500;
        assert_int_equal(session_set_dynamic_limits(&f->s, &f->dyn, f->now), 0);
        check_cache(f);
        expect_cmd(f, POWER_CHARGE, 4000, 500, false);
}

static void test_cache_reload_clamps_at_once(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        f->cfg.limits.max_current_da = 600;
        assert_int_equal(session_reconfigure(&f->s, &f->cfg, f->now), 0);
        check_cache(f);
        expect_cmd(f, POWER_CHARGE, 4000, 600, false);
}

static void test_cache_rating_clamps_at_once(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        f->converter = false;
        f->m.rating = (struct power_rating){ .max_current_da = 700 };
        meas(f);
        expect_cmd(f, POWER_CHARGE, 4000, 700, false);
}

static void test_cache_ev_frame_changes_command_at_once(void **state)
{
        struct fx *f = *state;

        ccs_charging(f);
        /* R37: a decrease applies at once. */
        rx_cl(f, 4000, 300);
        expect_cmd(f, POWER_CHARGE, 4000, 300, false);
        rx_cl(f, 3900, 300);
        expect_cmd(f, POWER_CHARGE, 3900, 300, false);
}

static void test_cache_operator_flag_sent_at_once(void **state)
{
        struct fx *f = *state;
        uint64_t m0;

        f->cfg.start_authorisation = SESSION_FLAG_EXTERNAL;
        assert_int_equal(session_reconfigure(&f->s, &f->cfg, f->now), 0);
        controller_waiting(f);
        run(f, 50 * MS);
        m0 = mark(f);
        assert_int_equal(session_set_start_authorisation(&f->s, true, f->now), 0);
        check_cache(f);
        assert_int_equal(count_since(f, m0, CODEC_SEQUENCE_CONTROL), 1);
        assert_true(last_flags(f)->start_charge_authorisation);
}

/* A request repeated with the same target (every 20 ms here) keeps the
 * command worked out: the ramp goes on at its own deadlines, neither
 * restarted nor hurried (R37, R38). */
static void test_cache_repeated_request_keeps_the_ramp(void **state)
{
        struct fx *f = *state;
        uint64_t c0, t0;

        f->cfg.current_ramp_da_per_s = 1000;
        f->cfg.ramp_step_us = 100 * MS;
        fx_init(f);
        open_session(f, false);
        insulation_test(f);
        precharge(f);
        waiting_for_charge(f);
        rx_state(f, CODEC_STATE_CHARGING);
        f->converter = false;
        c0 = cmd_mark(f);
        t0 = f->now;
        rx_cl(f, 4000, 500);
        expect_cmd(f, POWER_CHARGE, 4000, 100, false);
        for (unsigned k = 1; k <= 24; k++) {
                run(f, 20 * MS);
                rx_cl(f, 4000, 500);
                check_cache(f);
        }
        assert_int_equal(cmd_mark(f) - c0, 5);
        for (unsigned k = 0; k < 5; k++) {
                assert_int_equal(f->cmds[(c0 + k) % REC_MAX].t, t0 + k * 100 * MS);
                assert_int_equal(f->cmds[(c0 + k) % REC_MAX].c.current_da, 100 * (k + 1));
        }
}

/* A steady heartbeat changes only the R1 deadline: the next deadline
 * follows it, and silence still ends the charge exactly 200 ms after the
 * last one (R1). */
static void test_cache_heartbeat_moves_R1_deadline(void **state)
{
        struct fx *f = *state;
        uint64_t last;

        ccs_charging(f);
        f->heartbeat = false;
        rx_state(f, CODEC_STATE_CHARGING);
        last = f->now;
        check_cache(f);
        assert_true(session_next_deadline(&f->s) <= last + 200 * MS);
        f->converter = false;
        at(f, last + 200 * MS - 1);
        assert_int_equal(cmd(f)->mode, POWER_CHARGE);
        at(f, last + 200 * MS);
        assert_int_equal(cmd(f)->mode, POWER_OFF);
        assert_int_equal(status_of(f).fault, SESSION_FAULT_CONTROLLER_TIMEOUT);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(test_R01_silence_200ms_turns_converter_off),
                T(test_R01_frame_at_deadline_is_too_late),
                T(test_R01_fault_latched_until_new_session),
                T(test_R01_no_power_without_heartbeat),
                T(test_R01_late_status_after_new_session_wakes),
                T(test_R01_deadline_reported),
                T(test_R02_status_every_100ms_from_new_charge_session),
                T(test_R02_no_status_outside_a_session),
                T(test_R02_status_continues_while_controller_silent),
                T(test_R02_window_closes_on_charge_session_finished),
                T(test_R02_window_closes_when_controller_back_before_session),
                T(test_R02_stale_state_just_after_new_session_keeps_window),
                T(test_R02_late_tick_does_not_burst),
                T(test_R03_status_kept_in_every_session_state),
                T(test_R04_status_carries_latest_measurement),
                T(test_R05_frames_extended_with_pistol_and_exact_dlc),
                T(test_R06_no_sequence_control_without_flags_system_enable_still_used),
                T(test_R07_first_sequence_control_once_out_of_initialising),
                T(test_R07_first_sequence_control_at_waiting_for_pev),
                T(test_R08_flags_default_zero_unused_bits_zero),
                T(test_R09_start_authorisation_auto_is_set),
                T(test_R09_start_authorisation_external_is_a_level),
                T(test_R09_hold_sends_start_authorisation_zero_auto),
                T(test_R09_hold_keeps_the_operators_level),
                T(test_R09_hold_in_a_charge_turns_off_and_refuses),
                T(test_R09_release_in_a_session_serves_again),
                T(test_R09_held_session_latches_no_converter_fault),
                T(test_R10_user_stop_press_is_an_edge),
                T(test_R10_press_right_after_release_sends_the_zero_first),
                T(test_R10_chademo_start_press_and_errors),
                T(test_R11_ccs_authorisation_valid_and_done_in_one_frame),
                T(test_R11_ccs_authorisation_refused),
                T(test_R11_ccs_authorisation_auto_refuses_api),
                T(test_R11_external_authorisation_reset_at_session_end),
                T(test_R11_authorisation_not_carried_to_next_vehicle),
                T(test_R11_authorisation_given_before_plug_in_survives),
                T(test_R12_auto_flags_let_the_controller_proceed),
                T(test_R13_charge_parameters_done_after_limits_in_session),
                T(test_R13_charge_parameters_done_waits_for_limits_interval),
                T(test_R13_charge_parameters_external),
                T(test_R14_user_stop_then_normal_end),
                T(test_E08_sequence_control_resent_periodically_and_after_restart),
                T(test_E08_reconfigured_resend_interval),
                T(test_E08_sequence_control_and_limits_again_after_silence),
                T(test_R15_limits_not_more_often_than_100ms),
                T(test_R16_limits_advertise_the_limits_in_force),
                T(test_R17_limits_sent_early_and_at_session_start),
                T(test_R18_limits_reserved_zero_current_non_negative),
                T(test_R19_new_charge_session_wakes_converter),
                T(test_R20_system_enable_once_ready),
                T(test_R21_system_enable_zero_before_loop_when_unable),
                T(test_R22_fault_during_charging_reports_system_enable_zero),
                T(test_R23_standby_after_system_enable_keeps_converter_awake),
                T(test_R24_standby_with_battery_does_not_discharge),
                T(test_R24_standby_before_test_does_not_discharge),
                T(test_R25_insulation_test_repeats_are_idempotent),
                T(test_R26_insulation_test_voltage_and_current_capped),
                T(test_R26_unknown_insulation_invalid_during_test_valid_outside),
                T(test_R27_reports_voltage_and_resistance_during_test),
                T(test_R28_long_insulation_test_held_then_abort_discharges),
                T(test_R29_discharge_after_insulation_test),
                T(test_R29_standby_alone_ends_the_test_with_discharge),
                T(test_R29_aborted_test_discharges_in_ending_charge),
                T(test_R30_chademo_no_precharge_battery_after_test),
                T(test_R31_precharge_follows_target_voltage),
                T(test_R32_precharge_current_never_above_cap),
                T(test_R33_precharge_end_then_standby_without_discharge),
                T(test_R34_after_precharge_battery_voltage_left_alone),
                T(test_R35_charge_started_ready_for_hours),
                T(test_R36_charge_follows_request_within_limits),
                T(test_R37_current_ramps_up_and_steps_down),
                T(test_R37_zero_rate_is_a_step),
                T(test_R37_ramp_never_exceeds_lowered_limit),
                T(test_R38_setpoint_held_60s),
                T(test_R39_state_of_charge_ignored),
                T(test_R39_state_of_charge_reported_per_session),
                T(test_R40_low_insulation_during_charge_trips),
                T(test_R40_low_insulation_during_precharge_trips),
                T(test_R40_threshold_follows_configuration),
                T(test_R40_no_interlock_in_standby_or_during_test),
                T(test_R41_charge_stopped_brings_current_to_zero),
                T(test_R41_charge_stopped_alone_stops_charge),
                T(test_R42_welding_detection_keeps_reporting_voltage),
                T(test_R43_closing_lowers_output_status_until_finished),
                T(test_R44_session_finished_turns_off_and_closes_window),
                T(test_R44_finished_state_reported),
                T(test_R45_emergency_stop_turns_off_at_once),
                T(test_R45_emergency_stop_outside_session),
                T(test_R46_emergency_stop_released_only_after_quiet_and_new_session),
                T(test_R46_release_deadline_exact),
                T(test_R47_power_side_triggers_report_system_enable_zero),
                T(test_E01_negative_current_is_standby_and_counted),
                T(test_E03_unknown_temperatures_reported_as_zero_celsius),
                T(test_E10_first_status_immediately_with_system_enable_zero_while_booting),
                T(test_E16_charge_pause_is_standby_without_discharge),
                T(test_E25_state_change_without_charge_status_change),
                T(test_E25_closing_while_charging_discharges),
                T(test_E28_requests_refused_in_wrong_state_and_counted),
                T(test_E28_requests_refused_outside_a_session),
                T(test_E28_request_just_before_state_frame_accepted),
                T(test_converter_link_loss_outside_session_cleared_by_new_session),
                T(test_converter_not_ready_withholds_system_enable),
                T(test_shutdown_final_status_and_stays_off),
                T(test_shutdown_outside_window_sends_one_status),
                T(test_reconfigure_applies_limits_at_once),
                T(test_reconfigure_rejects_pistol_change_unchanged),
                T(test_reconfigure_flag_sources),
                T(test_reconfigure_shorter_timeout_applies_at_once),
                T(test_power_command_only_on_change_and_replay),
                T(test_next_deadline_none_when_idle),
                T(test_config_check),
                T(test_full_ccs_session_frame_by_frame),
                T(test_full_chademo_session_frame_by_frame),
                T(test_random_sequences_keep_limits_and_silence_ends_off),
                T(test_rating_limits_announced_and_command_clamped),
                T(test_rating_learnt_mid_charge_clamps_at_once),
                T(test_command_follows_every_input_of_its_cache),
                T(test_command_cache_follows_the_heartbeat),
                T(test_rating_never_raises_and_lowest_source_wins),
                T(test_ev_overvoltage_off_after_400ms),
                T(test_ev_overvoltage_margin_and_time_are_limits),
                T(test_ev_overvoltage_not_during_insulation_test),
                T(test_ev_overvoltage_configured_and_cleared_by_new_session),
                T(test_stale_voltage_never_below_last_measured_while_link_down),
                T(test_cache_operator_limit_clamps_at_once),
                T(test_cache_reload_clamps_at_once),
                T(test_cache_rating_clamps_at_once),
                T(test_cache_ev_frame_changes_command_at_once),
                T(test_cache_operator_flag_sent_at_once),
                T(test_cache_repeated_request_keeps_the_ramp),
                T(test_cache_heartbeat_moves_R1_deadline),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
