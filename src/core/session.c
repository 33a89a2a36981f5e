/* SPDX-License-Identifier: MIT */
/*
 * Power-side session state machine, ADVANTICS Generic EVSE CAN interface v2
 * (message set of database v2.7) and v3 (database v3.6).  Rule numbers
 * (R1..R47, V1..V25, E.x) refer to the protocol summary; doc/session.md
 * describes the design.
 *
 * One state machine serves both versions.  The v3 front end
 * (on_dc_power_control) maps DC_Power_Control onto the requests of v2
 * (insulation test, precharge, charging loop, standby), so phases, limits,
 * ramp, latches and timers are the same code; what differs is told by the
 * version: which database frames are read and written with, DC_Power_Parameters
 * in place of Power_Modules_Limits, when a standby bleeds the output (v3 says
 * it explicitly, V10, V21, V23), the insulation threshold (E.5) and the EV
 * information (EV_Information_*, OCPP_Control).
 *
 * Every entry point follows the same three steps:
 *   1. run_timers(): what fell due up to `now` (heartbeat timeout, E-stop
 *      quiet time, button release), so that deadlines are exact whatever the
 *      shell's timer latency;
 *   2. the event itself, which only changes state (target command, latches,
 *      flags, window);
 *   3. settle(): derive the converter command from that state (clamped,
 *      ramped, issued only on change) and send whatever frames are due.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "seccbridge/limits.h"
#include "seccbridge/session.h"

#define MS 1000u

/* ---- small helpers ---- */

static uint64_t add_sat(uint64_t a, uint64_t b)
{
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
        return a < b ? a : b;
}

/* ---- what an input changes ---- */

/* Every input that may change what settle() works out (the converter
 * command, the limits, the flags, the controller's outputs, a deadline)
 * calls this, so that settle() works it all out again; without it, settle()
 * has nothing to do before next_due_us.  A new input joins with this one
 * line. */
static inline void mark_changed(struct session *s)
{
        s->changed = true;
}

/* The phase decides whether CC.6.2 is timed (a deadline) and how a
 * standby discharges (through set_target()). */
static inline void set_phase(struct session *s, enum session_phase phase)
{
        if (s->phase != phase)
                mark_changed(s);
        s->phase = phase;
}

/* ---- deadlines kept worked out (read at every step) ---- */

static bool sends_status(const struct session *s);

/* The earliest deadline: R1's and the status period's (R2) kept apart, as
 * every heartbeat and every status moves them, and the earliest of all the
 * others (others_due_us, worked out by settle_all()).  timers_due_us is
 * the earliest of run_timers(). */
static void update_next_due(struct session *s)
{
        uint64_t d = s->others_due_us;

        if (s->shutting_down) {
                s->timers_due_us = SESSION_NO_DEADLINE;
                s->next_due_us = SESSION_NO_DEADLINE;
                return;
        }
        if (s->supervising)
                d = min_u64(d, s->heartbeat_deadline_us);
        s->timers_due_us = d;
        if (sends_status(s))
                d = min_u64(d, s->next_status_us);
        s->next_due_us = d;
}

static void heartbeat_seen(struct session *s, uint64_t now)
{
        s->last_heartbeat_us = now;
        s->heartbeat_deadline_us = add_sat(now, s->cfg.controller_timeout_us);
        update_next_due(s);
}

static void flags_sent_at(struct session *s, uint64_t now)
{
        s->last_flags_us = now;
        /* Looked at only when sequence_resend_us > 0 (E.8: 0 = on change
         * only). */
        s->flags_resend_us = add_sat(now, s->cfg.sequence_resend_us);
}

static bool command_equal(const struct power_command *a, const struct power_command *b)
{
        return a->mode == b->mode && a->voltage_dv == b->voltage_dv &&
               a->current_da == b->current_da && a->discharge == b->discharge;
}

static bool rating_equal(const struct power_rating *a, const struct power_rating *b)
{
        return a->max_voltage_dv == b->max_voltage_dv && a->max_current_da == b->max_current_da &&
               a->max_power_w == b->max_power_w && a->max_sink_current_da == b->max_sink_current_da &&
               a->max_sink_power_w == b->max_sink_power_w;
}

/* Six bools and no padding: compared as bytes, in one go. */
_Static_assert(sizeof(struct codec_sequence_control) == 6, "Sequence_Control flags are 6 bools");

static bool flags_equal(const struct codec_sequence_control *a,
                        const struct codec_sequence_control *b)
{
        return memcmp(a, b, sizeof(*a)) == 0;
}

/* States before a session: the window is closed there (R2, E.10). */
static bool state_is_pre_session(uint8_t state)
{
        return state == CODEC_STATE_INITIALISING || state == CODEC_STATE_WAITING_FOR_PEV ||
               state == CODEC_STATE_NEGOTIATING_CONNECTION ||
               state == CODEC_STATE_CCS_AUTHORISATION_PROCESS ||
               state == CODEC_STATE_NOT_AVAILABLE;
}

static bool state_is_session(uint8_t state)
{
        return (state >= CODEC_STATE_CONNECTED_WITH_FULL_INFO &&
                state <= CODEC_STATE_CLOSING_COMMUNICATION) ||
               state == CODEC_STATE_CHARGE_PAUSE;
}

/* E.28: the controller state in which a power function may be started.  One
 * state earlier is accepted as well, because the request can arrive just
 * before the status frame announcing the new state. */
static bool state_fits(enum power_mode mode, uint8_t state)
{
        switch (mode) {
        case POWER_OFF:
        case POWER_STANDBY:
                return true;
        case POWER_INSULATION_TEST:
                return state == CODEC_STATE_CONNECTED_WITH_FULL_INFO ||
                       state == CODEC_STATE_INSULATION_TEST;
        case POWER_PRECHARGE:
                return state == CODEC_STATE_INSULATION_TEST || state == CODEC_STATE_PRECHARGE;
        case POWER_CHARGE:
                return state == CODEC_STATE_PRECHARGE ||
                       state == CODEC_STATE_WAITING_FOR_CHARGE ||
                       state == CODEC_STATE_CHARGING || state == CODEC_STATE_CHARGE_PAUSE;
        }
        return false;
}

static bool session_is_v3(const struct session *s)
{
        return s->cfg.interface_version == 3;
}

static bool session_is_chademo(const struct session *s)
{
        return s->ev.plug_and_pins == CODEC_PLUG_CHADEMO ||
               s->ev.communication_protocol == CODEC_PROTOCOL_CHADEMO_V0_9 ||
               s->ev.communication_protocol == CODEC_PROTOCOL_CHADEMO_V1_0_V1_1_V1_2 ||
               s->ev.communication_protocol == CODEC_PROTOCOL_CHADEMO_V2_0;
}

/* ---- config ---- */

void session_config_defaults(struct session_config *cfg)
{
        memset(cfg, 0, sizeof(*cfg));
        cfg->pistol = 1;
        cfg->controller_timeout_us = 200 * MS;
        cfg->status_period_us = 100 * MS;
        cfg->limits_min_interval_us = 100 * MS;
        cfg->sequence_resend_us = 1000 * MS;
        cfg->button_hold_us = 300 * MS;
        cfg->estop_release_us = 1000 * MS;
        cfg->current_ramp_da_per_s = 2000;
        cfg->ramp_step_us = 100 * MS;
        cfg->use_sequence_flags = true;
        cfg->start_authorisation = SESSION_FLAG_AUTO;
        cfg->ccs_authorisation = SESSION_FLAG_AUTO;
        cfg->charge_parameters = SESSION_FLAG_AUTO;
        cfg->insulation_min_ohm_per_volt = 100;
        cfg->interface_version = 2;
        cfg->has_output_contactors = true;
        cfg->ev_overvoltage_margin_dv = 100;
        cfg->ev_overvoltage_time_us = 400 * MS;
        cfg->supervisor = false;
        controller_io_config_defaults(&cfg->io);
        cfg->bidirectional = false;
        cfg->range_policy = SESSION_RANGE_OCPP;
        cfg->direction_change_timeout_us = 2000 * MS;
}

static bool range_policy_valid(enum session_range_policy policy)
{
        switch (policy) {
        case SESSION_RANGE_MAX:
        case SESSION_RANGE_OCPP:
        case SESSION_RANGE_OPERATOR:
                return true;
        }
        return false;
}

static bool flag_source_valid(enum session_flag_source src)
{
        switch (src) {
        case SESSION_FLAG_AUTO:
        case SESSION_FLAG_EXTERNAL:
                return true;
        }
        return false;
}

int session_config_check(const struct session_config *cfg)
{
        if (!cfg)
                return -EINVAL;
        if (cfg->pistol < CODEC_PISTOL_MIN || cfg->pistol > CODEC_PISTOL_MAX)
                return -EINVAL;
        if (cfg->interface_version != 2 && cfg->interface_version != 3)
                return -EINVAL;
        if (limits_check(&cfg->limits) < 0)
                return -EINVAL;
        if (cfg->controller_timeout_us == 0 || cfg->status_period_us == 0 ||
            cfg->button_hold_us == 0 || cfg->estop_release_us == 0)
                return -EINVAL;
        /* R15: never more often than every 100 ms. */
        if (cfg->limits_min_interval_us < 100 * MS)
                return -EINVAL;
        if (cfg->current_ramp_da_per_s > 0 && cfg->ramp_step_us == 0)
                return -EINVAL;
        if (!flag_source_valid(cfg->start_authorisation) ||
            !flag_source_valid(cfg->ccs_authorisation) ||
            !flag_source_valid(cfg->charge_parameters))
                return -EINVAL;
        /* R40 cannot be switched off. */
        if (cfg->insulation_min_ohm_per_volt == 0)
                return -EINVAL;
        if (controller_io_config_check(&cfg->io) < 0)
                return -EINVAL;
        /* B1: discharge is a v3 feature and needs its limits; E.1: v2
         * never discharges. */
        if (cfg->bidirectional &&
            (cfg->interface_version != 3 || cfg->limits.max_discharge_current_da == 0))
                return -EINVAL;
        if (!range_policy_valid(cfg->range_policy) || cfg->direction_change_timeout_us == 0)
                return -EINVAL;
        return 0;
}

/* ---- output ---- */

static void tx(struct session *s, const struct codec_message *msg)
{
        struct codec_frame frame;

        if (codec_encode(s->db, msg, s->cfg.pistol, &frame) < 0)
                return;
        s->counters.frames_out++;
        s->cb.tx_frame(&frame, s->cb.userdata);
}

static int8_t direction_of(int32_t current_da)
{
        return (int8_t)((current_da > 0) - (current_da < 0));
}

static uint16_t magnitude_da(int32_t current_da)
{
        int64_t m = current_da < 0 ? -(int64_t)current_da : current_da;

        return m > UINT16_MAX ? UINT16_MAX : (uint16_t)m;
}

static void issue_command(struct session *s, const struct power_command *cmd)
{
        /* Supervisor mode: no converter to command. */
        if (s->cfg.supervisor)
                return;
        if (s->command_issued && command_equal(&s->command, cmd))
                return;
        /* B2: a current, whatever its sign, voids an earlier confirmation
         * of 0 A; a fall to 0 A starts the wait for a new one. */
        if (cmd->current_da != 0) {
                if (s->last_direction != 0 && direction_of(cmd->current_da) != s->last_direction)
                        s->counters.direction_changes++;
                s->last_direction = direction_of(cmd->current_da);
                s->zero_confirmed = false;
        } else if (!s->command_issued || s->command.current_da != 0) {
                s->zero_since_us = s->now_us;
                s->zero_confirmed = false;
        }
        s->command = *cmd;
        s->command_issued = true;
        s->cb.power_command(&s->command, s->cb.userdata);
}

/* ---- System_Enable (R19..R22) ---- */

static bool forced_off(const struct session *s)
{
        return s->shutting_down || s->fault != SESSION_FAULT_NONE || s->estop_latched ||
               !s->in_session || s->held;
}

static bool system_enable_allowed(const struct session *s)
{
        return !forced_off(s) && s->controller_alive && s->meas_valid && s->meas.link_ok &&
               s->meas.ready && !s->meas.fault;
}

/* ---- the converter command ---- */

static void set_target(struct session *s, enum power_mode mode, uint16_t voltage_dv,
                       int32_t current_da, bool discharge)
{
        struct power_command target = {
                .mode = mode,
                .voltage_dv = voltage_dv,
                .current_da = current_da,
                .discharge = discharge,
        };

        if (forced_off(s) && mode != POWER_OFF)
                return;
        /* The same target again (a request repeated every 100 ms) gives the
         * same command: the cache stays. */
        if (command_equal(&s->target, &target))
                return;
        s->target = target;
        s->command_cached = false;
        mark_changed(s);
}

/* v3: only the charger's own capacitance can be on the output (no battery
 * on the pistol pins), so lowering the output is safe. */
static bool v3_lowering_safe(const struct session *s)
{
        switch (s->phase) {
        case SESSION_PHASE_IDLE:
        case SESSION_PHASE_INSULATION:
        case SESSION_PHASE_POST_INSULATION:
                /* V7, V10: the EV's contactors have not closed yet. */
                return true;
        case SESSION_PHASE_BATTERY:
        case SESSION_PHASE_ENDING:
                break;
        }
        /* V23: in Closing_Communication the EV has opened its contactors. */
        if (s->controller_state_known && s->controller_state == CODEC_STATE_CLOSING_COMMUNICATION)
                return true;
        /* V21: otherwise the battery may still be on the pins unless the
         * charger's own contactors are there and commanded open. */
        return s->cfg.has_output_contactors && s->power_control_valid &&
               !s->power_control.output_contactors;
}

/* v3: the controller says when to lower the output (Lower_Output_Voltage);
 * a Standby without it leaves the output floating (part D.2). */
static bool v3_standby_discharges(const struct session *s)
{
        switch (s->phase) {
        case SESSION_PHASE_INSULATION:
        case SESSION_PHASE_POST_INSULATION:
                /* V10, E.14: after the test the output goes to <= 20 V,
                 * whether or not the Standby carries Lowering: the
                 * controller waits for it, and no battery is connected. */
                return true;
        case SESSION_PHASE_IDLE:
        case SESSION_PHASE_BATTERY:
        case SESSION_PHASE_ENDING:
                break;
        }
        return s->lowering && v3_lowering_safe(s);
}

static bool standby_discharges(const struct session *s)
{
        if (session_is_v3(s))
                return v3_standby_discharges(s);
        switch (s->phase) {
        case SESSION_PHASE_IDLE:
        case SESSION_PHASE_BATTERY:
                /* R24, R34: a battery may be on the output; leave it alone. */
                return false;
        case SESSION_PHASE_INSULATION:
        case SESSION_PHASE_POST_INSULATION:
                /* R29: bring the output to <= 20 V after the test. */
                return true;
        case SESSION_PHASE_ENDING:
                /* R42/R43: lower the output for the unlock (<= 10 V CHAdeMO). */
                return true;
        }
        return true;
}

static void set_standby(struct session *s)
{
        set_target(s, POWER_STANDBY, 0, 0, standby_discharges(s));
}

static void latch_fault(struct session *s, enum session_fault fault)
{
        if (s->fault == SESSION_FAULT_NONE || fault == SESSION_FAULT_SHUTDOWN)
                s->fault = fault;
        /* Forced off, whatever the target was. */
        mark_changed(s);
        set_target(s, POWER_OFF, 0, 0, true);
}

static uint16_t ramp_step_da(const struct session *s)
{
        uint64_t step = (uint64_t)s->cfg.current_ramp_da_per_s * s->cfg.ramp_step_us / 1000000u;

        if (step == 0)
                return 1;
        return step > UINT16_MAX ? UINT16_MAX : (uint16_t)step;
}

/* B2: a current of the other sign than the last one commanded waits at
 * 0 A until the converter has measured <= 1 A since the command went to
 * 0 A; it never flips on the strength of the command alone, whatever the
 * mode (an insulation test or a precharge after a discharge too). */
static void hold_for_direction_change(struct session *s, struct power_command *want, uint64_t now)
{
        int8_t dir = direction_of(want->current_da);

        if (!power_mode_regulates(want->mode) || dir == 0 || s->last_direction == 0 ||
            dir == s->last_direction || s->zero_confirmed) {
                s->direction_wait = false;
                return;
        }
        want->current_da = 0;
        if (!s->direction_wait) {
                s->direction_wait = true;
                s->direction_wait_since_us = now;
        }
}

/* Derive the command from the target: forced OFF, clamped to the limits in
 * force, through 0 A before a change of sign (B2), magnitude ramped up
 * (R37); issued only when it changes. */
static void work_out_command(struct session *s, uint64_t now, bool off)
{
        struct power_command want = s->target;

        /* Supervisor mode: the controller's own modules follow its
         * requests; there is no command, hence no ramp either. */
        if (s->cfg.supervisor) {
                s->ramp_pending = false;
                return;
        }

        /* R1: nothing but OFF without a controller heartbeat, not even the
         * wake-up of a New_Charge_Session seen before any status frame. */
        if (off)
                want = (struct power_command){ .mode = POWER_OFF, .discharge = true };
        limits_clamp(&s->effective, &want, &want);
        hold_for_direction_change(s, &want, now);

        s->ramp_pending = false;
        if (want.mode == POWER_CHARGE && s->cfg.current_ramp_da_per_s > 0) {
                uint16_t base = 0, goal = magnitude_da(want.current_da);
                int8_t dir = direction_of(want.current_da);

                /* The ramp works on the magnitude, from the current in force
                 * when it has the same sign, from 0 A otherwise. */
                if (s->command_issued && s->command.mode == POWER_CHARGE &&
                    direction_of(s->command.current_da) == dir)
                        base = magnitude_da(s->command.current_da);
                /* R37: decreases apply at once, increases in steps. */
                if (goal > base) {
                        if (!s->ramp_stepped ||
                            now >= add_sat(s->ramp_last_step_us, s->cfg.ramp_step_us)) {
                                uint32_t next = (uint32_t)base + ramp_step_da(s);

                                s->ramp_stepped = true;
                                s->ramp_last_step_us = now;
                                if (next < goal) {
                                        want.current_da = dir * (int32_t)next;
                                        s->ramp_pending = true;
                                }
                        } else {
                                want.current_da = dir * (int32_t)base;
                                s->ramp_pending = true;
                        }
                }
        }
        issue_command(s, &want);
        /* With no ramp step pending the command is the target clamped, and
         * stays so until one of its inputs changes. */
        s->command_cached = !s->ramp_pending;
        s->command_cached_off = off;
}

static inline void update_command(struct session *s, uint64_t now)
{
        bool off = forced_off(s) || !s->controller_alive;

        /* Nothing it depends on changed and no ramp step is pending: the
         * command in force is the one these inputs give. */
        if (s->command_cached && off == s->command_cached_off)
                return;
        work_out_command(s, now, off);
}

/* ---- Sequence_Control flags (R6..R14, E.8, E.9) ---- */

/* The flags configured AUTO follow the config, the session window and
 * whether this session's limits went out: called wherever one of those
 * changes (init, reconfigure, a session's start and end, limits sent). */
static void update_auto_flags(struct session *s)
{
        /* R9, R12: AUTO = the station always allows a start; whether the
         * converter can deliver is told by System_Enable (R20, R21). */
        if (s->cfg.start_authorisation == SESSION_FLAG_AUTO)
                s->flags.start_charge_authorisation = true;
        /* R11, E.9: Done and Valid together, in one frame. */
        if (s->cfg.ccs_authorisation == SESSION_FLAG_AUTO) {
                s->flags.ccs_authorisation_done = true;
                s->flags.ccs_authorisation_valid = true;
        }
        /* R13: the limits of this session went out, they are final.  In
         * supervisor mode none go out: the controller's own config limits
         * apply (R16, R17), final as soon as the session is open. */
        if (s->cfg.charge_parameters == SESSION_FLAG_AUTO)
                s->flags.charge_parameters_done =
                        s->in_session && (s->limits_sent_in_session || s->cfg.supervisor);
}

static bool may_send_flags(const struct session *s)
{
        /* R6: never without sequence flags; E.8: once out of Initialising. */
        return s->cfg.use_sequence_flags && s->controller_up && !s->shutting_down;
}

/* The content on the bus: s->flags, but R9 Start_Charge_Authorisation = 0
 * while the arbiter holds the pistol. */
static struct codec_sequence_control flags_on_bus(const struct session *s)
{
        struct codec_sequence_control f = s->flags;

        if (s->held)
                f.start_charge_authorisation = false;
        return f;
}

/* What the bus would carry now is what it last carried. */
static inline bool flags_equal_on_bus(const struct session *s)
{
        struct codec_sequence_control f = flags_on_bus(s);

        return flags_equal(&f, &s->flags_last_sent);
}

static void send_flags(struct session *s, uint64_t now)
{
        struct codec_message m = { .type = CODEC_SEQUENCE_CONTROL };

        /* R8: the codec writes unused bits as 0. */
        m.u.sequence_control = flags_on_bus(s);
        tx(s, &m);
        s->flags_last_sent = m.u.sequence_control;
        s->flags_sent = true;
        flags_sent_at(s, now);
}

static void flush_flags(struct session *s, uint64_t now)
{
        struct codec_sequence_control f = flags_on_bus(s);

        if (!may_send_flags(s))
                return;
        if (!s->flags_sent || !flags_equal(&f, &s->flags_last_sent) ||
            (s->cfg.sequence_resend_us > 0 && now >= s->flags_resend_us))
                send_flags(s, now);
}

/* ---- Power_Modules_Limits (R15..R18), DC_Power_Parameters (V4) ---- */

/* What the charger advertises: the limits in force (never 0, which would
 * mean the controller's own default, R16).  v3 has a discharge limit and a
 * range target too: 0 for a charge-only power side. */
struct advertised {
        uint16_t voltage_dv;
        uint16_t charge_current_da;
        uint16_t discharge_current_da;
        int16_t range_target_current_da;
};

static struct advertised advertised_limits(const struct session *s)
{
        struct advertised a = {
                .voltage_dv = s->effective.max_voltage_dv,
                .charge_current_da = s->effective.max_current_da,
                /* B1: 0 on a charge-only power side (the controller's own
                 * default, 0 A unless configured there).  Range_Target_Current
                 * has no effect when the power side drives its modules (part
                 * D.3): the point of a Range_Mode transfer is chosen here. */
                .discharge_current_da = s->effective.max_discharge_current_da,
                .range_target_current_da = 0,
        };

        /* R18, E.2: the v2 field is signed; never negative.  The v3 one is
         * unsigned, the same bound keeps both alike. */
        if (a.charge_current_da > INT16_MAX)
                a.charge_current_da = INT16_MAX;
        if (a.discharge_current_da > INT16_MAX)
                a.discharge_current_da = INT16_MAX;
        return a;
}

static bool may_send_limits(const struct session *s)
{
        /* Supervisor mode: the controller's own modules, its own limits. */
        if (s->cfg.supervisor)
                return false;
        return (s->controller_up || s->in_session) && !s->shutting_down;
}

static uint64_t limits_due_us(const struct session *s)
{
        if (!s->limits_ever_sent)
                return 0;
        return add_sat(s->last_limits_us, s->cfg.limits_min_interval_us);
}

/* true when the limits went out. */
static bool flush_limits(struct session *s, uint64_t now)
{
        struct advertised a;
        struct codec_message m;

        if (!s->limits_pending || !may_send_limits(s))
                return false;
        /* R15, V4: a change inside the interval waits for its end. */
        if (now < limits_due_us(s))
                return false;
        a = advertised_limits(s);
        if (session_is_v3(s)) {
                m = (struct codec_message){ .type = CODEC_DC_POWER_PARAMETERS };
                m.u.dc_power_parameters = (struct codec_dc_power_parameters){
                        .maximum_voltage_dv = a.voltage_dv,
                        .maximum_charge_current_da = a.charge_current_da,
                        .maximum_discharge_current_da = a.discharge_current_da,
                        .range_target_current_da = a.range_target_current_da,
                };
        } else {
                m = (struct codec_message){ .type = CODEC_POWER_MODULES_LIMITS };
                m.u.power_modules_limits.maximum_voltage_dv = a.voltage_dv;
                m.u.power_modules_limits.maximum_current_da = (int16_t)a.charge_current_da;
        }
        tx(s, &m);
        s->limits_pending = false;
        s->limits_ever_sent = true;
        s->last_limits_us = now;
        s->limits_sent_voltage_dv = a.voltage_dv;
        s->limits_sent_current_da = a.charge_current_da;
        s->limits_sent_discharge_da = a.discharge_current_da;
        s->limits_sent_range_target_da = a.range_target_current_da;
        if (s->in_session)
                s->limits_sent_in_session = true;
        return true;
}

/* Recompute the limits in force; a change of the advertised values is sent
 * (R15), and the command is re-clamped by the next update_command(). */
static void refresh_limits(struct session *s)
{
        struct advertised a;

        limits_effective(&s->cfg.limits, &s->dynamic, &s->rating, &s->effective);
        s->command_cached = false;
        mark_changed(s);
        /* B1, E.1: no discharge unless configured (never in v2). */
        if (!s->cfg.bidirectional) {
                s->effective.max_discharge_current_da = 0;
                s->effective.max_discharge_power_w = 0;
        }
        a = advertised_limits(s);
        if (!s->limits_ever_sent || a.voltage_dv != s->limits_sent_voltage_dv ||
            a.charge_current_da != s->limits_sent_current_da ||
            a.discharge_current_da != s->limits_sent_discharge_da ||
            a.range_target_current_da != s->limits_sent_range_target_da)
                s->limits_pending = true;
}

/* ---- Power_Modules_Status (R2, R4, R26, R40, E.3, E.10) ---- */

static bool insulation_test_running(const struct session *s)
{
        return s->phase == SESSION_PHASE_INSULATION ||
               (s->controller_state_known &&
                s->controller_state == CODEC_STATE_INSULATION_TEST);
}

static int16_t reported_temperature(int16_t c)
{
        /* E.3: unknown -> 0 degC (raw 40), never raw 0 (= -40 degC). */
        if (c == POWER_TEMPERATURE_UNKNOWN)
                return 0;
        if (c < -40)
                return -40;
        if (c > 215)
                return 215;
        return c;
}

static uint16_t reported_insulation(const struct session *s)
{
        uint16_t kohm = s->meas_valid ? s->meas.insulation_kohm : POWER_INSULATION_UNKNOWN;

        if (kohm == POWER_INSULATION_UNKNOWN) {
                /* No monitor: "valid" (raw 255) outside the test, "invalid"
                 * (raw 0) during it, so that a charger without a monitor
                 * never passes the insulation test by accident (R26, R40). */
                return insulation_test_running(s) ? 0 : 510;
        }
        return kohm > 510 ? 510 : kohm;
}

/* A converter that cannot be reached may still hold its output up: while
 * the link is down the voltage reported is never below the last one
 * measured, so that the controller never takes an output nobody can see
 * for discharged (R29, R42, R43 judge safety by this voltage). */
static uint16_t reported_voltage(const struct session *s)
{
        if (!s->meas_valid)
                return 0;
        if (s->meas.link_ok || s->meas.voltage_dv >= s->last_measured_voltage_dv)
                return s->meas.voltage_dv;
        return s->last_measured_voltage_dv;
}

static void send_status(struct session *s)
{
        struct codec_power_modules_status st;
        struct codec_frame frame;
        bool enable = system_enable_allowed(s);

        /* R4: the latest readings. */
        st.present_voltage_dv = reported_voltage(s);
        st.present_current_da = s->meas_valid ? s->meas.current_da : 0;
        st.power_modules_temperature_c =
                reported_temperature(s->meas_valid ? s->meas.module_temp_c : POWER_TEMPERATURE_UNKNOWN);
        st.enclosure_temperature_c =
                reported_temperature(s->meas_valid ? s->meas.enclosure_temp_c : POWER_TEMPERATURE_UNKNOWN);
        st.system_enable = enable ? CODEC_SYSTEM_ENABLE_ALLOWED : CODEC_SYSTEM_ENABLE_NOT_ALLOWED;
        st.insulation_resistance_kohm = reported_insulation(s);
        /* Sent every 100 ms: its own encoder, no struct codec_message. */
        if (codec_encode_power_modules_status(s->db, &st, s->cfg.pistol, &frame) == 0) {
                s->counters.frames_out++;
                s->cb.tx_frame(&frame, s->cb.userdata);
        }
        s->system_enable = enable;
}

static bool sends_status(const struct session *s)
{
        /* Supervisor mode: Power_Modules_Status belongs to the controller's
         * own modules. */
        return s->in_session && !s->shutting_down && !s->cfg.supervisor;
}

static void flush_status(struct session *s, uint64_t now)
{
        if (!sends_status(s) || now < s->next_status_us)
                return;
        send_status(s);
        /* R2: no drift; resynchronise when more than a period late. */
        s->next_status_us = add_sat(s->next_status_us, s->cfg.status_period_us);
        if (s->next_status_us <= now)
                s->next_status_us = add_sat(now, s->cfg.status_period_us);
}

/* ---- the three steps ---- */

static uint64_t advance(struct session *s, uint64_t now)
{
        /* The clock is monotonic; never let an older time undo a deadline. */
        if (now < s->now_us)
                now = s->now_us;
        s->now_us = now;
        return now;
}

/* CC.6.2 protects the EV's battery: it applies from the precharge on, when
 * the battery may be on the output (R33, R34).  The insulation test runs
 * with the EV's contactors open (R26), at a voltage the controller picks. */
static bool ev_overvoltage_applies(const struct session *s)
{
        return s->in_session && s->ev_max_voltage_dv > 0 && s->cfg.ev_overvoltage_time_us > 0 &&
               (s->phase == SESSION_PHASE_BATTERY || s->phase == SESSION_PHASE_ENDING);
}

static bool ev_overvoltage_armed(const struct session *s)
{
        return s->ev_overvoltage && ev_overvoltage_applies(s);
}

/* A measurement: is the output above the EV's maximum plus the margin? */
static void watch_ev_overvoltage(struct session *s, const struct power_measurement *m, uint64_t now)
{
        bool above = ev_overvoltage_applies(s) && m->link_ok &&
                     (uint32_t)m->voltage_dv > (uint32_t)s->ev_max_voltage_dv + s->cfg.ev_overvoltage_margin_dv;

        if (above && !s->ev_overvoltage)
                s->ev_overvoltage_since_us = now;
        /* Its deadline starts or ends. */
        if (above != s->ev_overvoltage)
                mark_changed(s);
        s->ev_overvoltage = above;
}

static void run_timers(struct session *s, uint64_t now)
{
        if (s->shutting_down)
                return;
        /* R1: exact deadline, now >= last + timeout. */
        if (s->supervising && now >= s->heartbeat_deadline_us) {
                s->supervising = false;
                s->controller_alive = false;
                s->heartbeat_lost = true;
                s->counters.controller_timeouts++;
                mark_changed(s);
                latch_fault(s, SESSION_FAULT_CONTROLLER_TIMEOUT);
                /* The board's inputs are no longer current. */
                controller_io_forget_inputs(&s->io);
        }
        /* CC.6.2: above the EV's maximum for the whole time: off. */
        if (ev_overvoltage_armed(s) && now >= add_sat(s->ev_overvoltage_since_us, s->cfg.ev_overvoltage_time_us)) {
                s->ev_overvoltage = false;
                mark_changed(s);
                latch_fault(s, SESSION_FAULT_EV_OVERVOLTAGE);
        }
        /* B2: the converter never confirmed 0 A before a change of sign:
         * it does not follow its command. */
        if (s->direction_wait && power_mode_regulates(s->target.mode) &&
            now >= add_sat(s->direction_wait_since_us, s->cfg.direction_change_timeout_us)) {
                s->direction_wait = false;
                mark_changed(s);
                latch_fault(s, SESSION_FAULT_DIRECTION_CHANGE);
        }
        /* R46: the stop is over once its frames stayed away long enough. */
        if (s->estop_active && now >= add_sat(s->last_estop_us, s->cfg.estop_release_us)) {
                s->estop_active = false;
                mark_changed(s);
        }
        /* R10: edge flags go back to 0 after the hold time. */
        if (s->user_stop_held && now >= s->user_stop_release_us) {
                s->user_stop_held = false;
                s->flags.user_stop_button = false;
                mark_changed(s);
        }
        if (s->chademo_start_held && now >= s->chademo_start_release_us) {
                s->chademo_start_held = false;
                s->flags.chademo_start_button = false;
                mark_changed(s);
        }
}

/* Step 1 of every entry point.  Every timer of run_timers() has its
 * deadline in timers_due_us, exact between calls: before it, none is due. */
static inline void run_due_timers(struct session *s, uint64_t now)
{
        if (now >= s->timers_due_us)
                run_timers(s, now);
}

/* Whether the controller's outputs are driven (a board, not stopped):
 * looked at inline, as most chargers drive none. */
static inline bool io_driven(const struct session *s)
{
        return s->io.cfg.board != CONTROLLER_IO_BOARD_NONE && !s->io.stopped;
}

static void flush_io(struct session *s, uint64_t now)
{
        struct codec_message m;

        if (!io_driven(s) || now < s->io.next_out_us)
                return;
        if (controller_io_due(&s->io, now, &m))
                tx(s, &m);
}

/* The earliest deadline but R1's and the status period's, from
 * everything: what others_due_us keeps. */
static inline uint64_t others_scan(const struct session *s)
{
        uint64_t d = SESSION_NO_DEADLINE;

        if (s->shutting_down)
                return d;
        if (io_driven(s))
                d = min_u64(d, controller_io_next_deadline(&s->io));
        if (s->limits_pending && may_send_limits(s))
                d = min_u64(d, limits_due_us(s));
        if (may_send_flags(s) && s->flags_sent && s->cfg.sequence_resend_us > 0)
                d = min_u64(d, s->flags_resend_us);
        if (s->user_stop_held)
                d = min_u64(d, s->user_stop_release_us);
        if (s->chademo_start_held)
                d = min_u64(d, s->chademo_start_release_us);
        if (s->ramp_pending)
                d = min_u64(d, add_sat(s->ramp_last_step_us, s->cfg.ramp_step_us));
        if (s->estop_active)
                d = min_u64(d, add_sat(s->last_estop_us, s->cfg.estop_release_us));
        if (ev_overvoltage_armed(s))
                d = min_u64(d, add_sat(s->ev_overvoltage_since_us, s->cfg.ev_overvoltage_time_us));
        if (s->direction_wait && power_mode_regulates(s->target.mode))
                d = min_u64(d, add_sat(s->direction_wait_since_us, s->cfg.direction_change_timeout_us));
        return d;
}

static inline void refresh_deadlines(struct session *s)
{
        s->others_due_us = others_scan(s);
        update_next_due(s);
}

static void settle_all(struct session *s, uint64_t now)
{
        /* The AUTO flags are re-derived where what they follow changes
         * (update_auto_flags()), not here at every step. */
        update_command(s, now);
        s->changed = false;
        if (s->shutting_down) {
                refresh_deadlines(s);
                return;
        }
        /* Order on the bus: status first (it opens the window), then the
         * limits, then the flags that may declare them final (R13); the
         * controller's outputs last, they have a second to go. */
        flush_status(s, now);
        /* R13: limits just sent may make Charge_Parameters_Done 1; nothing
         * else the flags depend on changes in between. */
        if (flush_limits(s, now))
                update_auto_flags(s);
        flush_flags(s, now);
        flush_io(s, now);
        refresh_deadlines(s);
}

/* Step 3 of every entry point.  With no input changed since the last time
 * and nothing due, the command in force and the frames sent are what
 * working them out again would give (session_check_cache() proves it in
 * the tests and the fuzz target). */
static inline void settle(struct session *s, uint64_t now)
{
        if (!s->changed) {
                if (now < s->next_due_us)
                        return;
                /* Only R1 (run_timers() marks it when it fires) or the
                 * status period (R2) can be due: the status alone. */
                if (now < s->others_due_us) {
                        flush_status(s, now);
                        update_next_due(s);
                        return;
                }
        }
        settle_all(s, now);
}

/* ---- session window ---- */

static void reset_ramp(struct session *s)
{
        s->ramp_pending = false;
        s->ramp_stepped = false;
}

/* Operator decisions belong to one vehicle (R11, R13): never carried over
 * to the next one. */
static void forget_operator_decisions(struct session *s)
{
        if (s->cfg.ccs_authorisation == SESSION_FLAG_EXTERNAL) {
                s->flags.ccs_authorisation_done = false;
                s->flags.ccs_authorisation_valid = false;
        }
        if (s->cfg.charge_parameters == SESSION_FLAG_EXTERNAL)
                s->flags.charge_parameters_done = false;
}

/* What belongs to one vehicle: forgotten when its session starts and when
 * it ends.  The EV's maximum voltage is not known until the session's own
 * message tells it (v2 New_Charge_Session, v3 EV_Information_Voltages), so
 * that CC.6.2 never judges a vehicle by the one before. */
static void forget_vehicle(struct session *s)
{
        s->ev_max_voltage_dv = 0;
        s->ev_overvoltage = false;
        memset(&s->ev_info, 0, sizeof(s->ev_info));
        s->power_control_valid = false;
        memset(&s->power_control, 0, sizeof(s->power_control));
        s->lowering = false;
        s->transfer_mode_known = false;
}

/* The EV identity ends with the vehicle's session, or with the vehicle
 * when it leaves before one. */
static void forget_ev_id(struct session *s)
{
        s->ev_id_valid = false;
        memset(s->ev_id, 0, sizeof(s->ev_id));
}

static void end_session(struct session *s, enum session_fault fault)
{
        if (fault != SESSION_FAULT_NONE)
                latch_fault(s, fault);
        forget_ev_id(s);
        s->ev_id_closed = true;
        s->in_session = false;
        set_phase(s, SESSION_PHASE_IDLE);
        s->charge_started = false;
        forget_vehicle(s);
        s->limits_sent_in_session = false;
        mark_changed(s);
        update_auto_flags(s);
        set_target(s, POWER_OFF, 0, 0, true);
        reset_ramp(s);
        forget_operator_decisions(s);
}

static void controller_came_up(struct session *s)
{
        if (s->controller_up)
                return;
        s->controller_up = true;
        /* R17: limits early; E.8: initial Sequence_Control. */
        s->limits_pending = true;
        s->flags_sent = false;
}

static void start_session(struct session *s, const struct codec_new_charge_session *ncs,
                          uint64_t now)
{
        bool keep = false;

        /* The latches of the previous session end here, if their cause is
         * gone: the controller is back (R1), no Emergency_Stop for
         * estop_release_us (R46). */
        switch (s->fault) {
        case SESSION_FAULT_NONE:
                break;
        case SESSION_FAULT_CONTROLLER_TIMEOUT:
                keep = !s->controller_alive;
                break;
        case SESSION_FAULT_EMERGENCY_STOP:
                keep = s->estop_active;
                break;
        case SESSION_FAULT_SHUTDOWN:
                keep = true;
                break;
        case SESSION_FAULT_CONVERTER_LINK:
                /* The latest measurement still says so. */
                keep = s->meas_valid && !s->meas.link_ok;
                break;
        case SESSION_FAULT_CONVERTER:
                keep = s->meas_valid && s->meas.fault;
                break;
        case SESSION_FAULT_CONTROLLER_RESTART:
        case SESSION_FAULT_INSULATION:
        case SESSION_FAULT_EV_OVERVOLTAGE:
        case SESSION_FAULT_DIRECTION_CHANGE:
        case SESSION_FAULT_COUNT:
                break;
        }
        if (!keep)
                s->fault = SESSION_FAULT_NONE;
        if (s->estop_latched && !s->estop_active)
                s->estop_latched = false;
        if (s->estop_latched && s->fault == SESSION_FAULT_NONE)
                s->fault = SESSION_FAULT_EMERGENCY_STOP;

        /* R1: a session needs a heartbeat; without one so far, it has
         * controller_timeout_us from now to show up. */
        if (!s->supervising) {
                s->supervising = true;
                heartbeat_seen(s, now);
        }

        s->in_session = true;
        s->session_start_us = now;
        s->session_state_seen = false;
        set_phase(s, SESSION_PHASE_IDLE);
        s->charge_started = false;
        s->ev = *ncs;
        forget_vehicle(s);
        s->ev_max_voltage_dv = ncs->ev_maximum_voltage_dv;
        s->charging_loop_soc_pct = SESSION_NOT_REPORTED;
        s->finished_state = SESSION_NOT_REPORTED;
        s->request = SESSION_REQUEST_NONE;
        s->request_voltage_dv = 0;
        s->request_current_da = 0;
        reset_ramp(s);
        /* E.10: the first status at once. */
        s->next_status_us = now;
        /* R17: limits at the start of each session; R13 follows them. */
        s->limits_pending = true;
        s->limits_sent_in_session = false;
        update_auto_flags(s);
        controller_came_up(s);
        /* R19, E.10: New_Charge_Session wakes the converter. */
        set_target(s, POWER_STANDBY, 0, 0, false);
}

/* ---- controller frames ---- */

/* E.25, E.28: the state is a second source for sequencing. */
static void on_state_entered(struct session *s, uint8_t state)
{
        enum power_mode mode = s->target.mode;

        switch (state) {
        case CODEC_STATE_PRECHARGE:
        case CODEC_STATE_WAITING_FOR_CHARGE:
        case CODEC_STATE_CHARGING:
        case CODEC_STATE_CHARGE_PAUSE:
                if (s->phase != SESSION_PHASE_ENDING)
                        set_phase(s, SESSION_PHASE_BATTERY);
                break;
        case CODEC_STATE_ENDING_CHARGE:
                /* R41: after a charge the battery stays on the output.  A
                 * test ended this way never had one: its voltage must still
                 * go (R29). */
                if (s->phase == SESSION_PHASE_IDLE)
                        set_phase(s, SESSION_PHASE_BATTERY);
                break;
        case CODEC_STATE_WELDING_DETECTION:
        case CODEC_STATE_CLOSING_COMMUNICATION:
                set_phase(s, SESSION_PHASE_ENDING);
                break;
        default:
                break;
        }

        switch (mode) {
        case POWER_OFF:
                return;
        case POWER_STANDBY:
                /* Re-decide the discharge for the new phase. */
                set_standby(s);
                return;
        case POWER_INSULATION_TEST:
        case POWER_PRECHARGE:
        case POWER_CHARGE:
                break;
        }
        /* R41 (8), E.16 (13), R42/R43 (9, 10): a power function ends when
         * the controller has left the states it belongs to. */
        if (state == CODEC_STATE_CHARGE_PAUSE || !state_fits(mode, state))
                set_standby(s);
}

/* States without a vehicle being dealt with. */
static bool state_is_unplugged(uint8_t state)
{
        return state == CODEC_STATE_INITIALISING || state == CODEC_STATE_WAITING_FOR_PEV ||
               state == CODEC_STATE_NOT_AVAILABLE;
}

static void on_controller_status(struct session *s, uint8_t state, uint64_t now)
{
        bool changed = !s->controller_state_known || s->controller_state != state;

        /* The same state from a controller already up and supervised
         * changes only the R1 deadline (heartbeat_seen()); anything else
         * may change the command, the flags or the limits. */
        if (changed || !s->controller_alive || !s->supervising || s->heartbeat_lost ||
            !s->controller_up || state == CODEC_STATE_INITIALISING)
                mark_changed(s);
        /* R11, R13: the vehicle left, with or without a session (e.g.
         * authorised, then unplugged before New_Charge_Session). */
        if (s->controller_state_known && !state_is_unplugged(s->controller_state) &&
            state_is_unplugged(state)) {
                forget_operator_decisions(s);
                forget_ev_id(s);
        }
        /* The next vehicle's identity is taken again. */
        if (state_is_unplugged(state))
                s->ev_id_closed = false;

        heartbeat_seen(s, now);
        s->supervising = true;
        s->controller_alive = true;
        s->controller_state_known = true;
        s->controller_state = state;

        if (state == CODEC_STATE_INITIALISING) {
                /* E.8: the controller restarted; flags and limits again
                 * once it leaves Initialising. */
                s->controller_up = false;
                s->flags_sent = false;
        } else if (s->controller_up && s->heartbeat_lost) {
                /* E.8: back after a silence it may have restarted through
                 * unseen: flags and limits again. */
                s->flags_sent = false;
                s->limits_pending = true;
        } else {
                controller_came_up(s);
        }
        s->heartbeat_lost = false;

        if (!s->in_session)
                return;
        if (state_is_session(state))
                s->session_state_seen = true;
        if (state == CODEC_STATE_INITIALISING) {
                /* Restart in the middle of a session. */
                end_session(s, SESSION_FAULT_CONTROLLER_RESTART);
                return;
        }
        if (state_is_pre_session(state)) {
                /* R44, E.10: back before a session -> the window closes.  A
                 * stale status frame just after New_Charge_Session is not
                 * taken for that. */
                if (s->session_state_seen ||
                    now >= add_sat(s->session_start_us, s->cfg.controller_timeout_us))
                        end_session(s, SESSION_FAULT_NONE);
                return;
        }
        if (changed)
                on_state_entered(s, state);
}

/* E.28: a power function may start only in a session, with System_Enable
 * allowed and the controller in a fitting state. */
static bool power_request_ok(const struct session *s, enum power_mode mode)
{
        /* Supervisor mode: no converter to be ready; the request is
         * followed (phases, status) as long as nothing forces it off. */
        bool allowed = s->cfg.supervisor ? !forced_off(s) && s->controller_alive : system_enable_allowed(s);

        return allowed && s->controller_state_known && state_fits(mode, s->controller_state);
}

static void record_request(struct session *s, enum session_request req, uint16_t v, int16_t i)
{
        s->request = req;
        s->request_voltage_dv = v;
        s->request_current_da = i;
}

/* R24: 0 V and 0 A = standby. */
static void on_standby_request(struct session *s)
{
        /* R29: Charging_Loop(0,0) also ends the insulation test. */
        if (s->phase == SESSION_PHASE_INSULATION)
                set_phase(s, SESSION_PHASE_POST_INSULATION);
        set_standby(s);
}

static void on_insulation_test(struct session *s, const struct codec_insulation_test *m)
{
        record_request(s, SESSION_REQUEST_INSULATION_TEST, m->test_voltage_dv, 0);
        if (m->test_voltage_dv == 0) {
                /* R29: end of test, discharge to <= 20 V. */
                if (s->target.mode == POWER_INSULATION_TEST ||
                    s->phase == SESSION_PHASE_INSULATION) {
                        set_phase(s, SESSION_PHASE_POST_INSULATION);
                        set_standby(s);
                }
                return;
        }
        if (!power_request_ok(s, POWER_INSULATION_TEST)) {
                s->counters.rejected_requests++;
                return;
        }
        /* R26: apply the test voltage; the current is the insulation cap
         * (limits_clamp). */
        set_phase(s, SESSION_PHASE_INSULATION);
        set_target(s, POWER_INSULATION_TEST, m->test_voltage_dv, UINT16_MAX, false);
}

static void on_precharge(struct session *s, const struct codec_precharge *m)
{
        record_request(s, SESSION_REQUEST_PRECHARGE, m->target_voltage_dv,
                       m->maximum_current_da > INT16_MAX ? INT16_MAX
                                                         : (int16_t)m->maximum_current_da);
        if (m->maximum_current_da == 0) {
                /* R33/R34: end of precharge, the battery is connected. */
                if (s->target.mode == POWER_PRECHARGE) {
                        set_phase(s, SESSION_PHASE_BATTERY);
                        set_standby(s);
                }
                return;
        }
        /* R30: CHAdeMO has no precharge. */
        if (session_is_chademo(s) || !power_request_ok(s, POWER_PRECHARGE)) {
                s->counters.rejected_requests++;
                return;
        }
        /* R32: the precharge cap is applied by limits_clamp. */
        set_phase(s, SESSION_PHASE_BATTERY);
        set_target(s, POWER_PRECHARGE, m->target_voltage_dv, m->maximum_current_da, false);
}

static void on_charging_loop(struct session *s, const struct codec_charging_loop *m)
{
        /* R39: State_of_Charge is not looked at, only reported. */
        if (s->in_session)
                s->charging_loop_soc_pct = m->state_of_charge_pct;
        if (m->target_voltage_dv == 0 && m->target_current_da == 0) {
                record_request(s, SESSION_REQUEST_STANDBY, 0, 0);
                on_standby_request(s);
                return;
        }
        record_request(s, SESSION_REQUEST_CHARGE, m->target_voltage_dv, m->target_current_da);
        if (m->target_current_da < 0 && !s->cfg.bidirectional) {
                /* E.1: a v2 power side never discharges the EV; invalid,
                 * treated as 0 A, i.e. standby.  B1: neither does a v3 one
                 * not configured for it, however long the EV asks. */
                s->counters.rejected_requests++;
                if (session_is_v3(s))
                        s->counters.discharges_refused++;
                on_standby_request(s);
                return;
        }
        if (!power_request_ok(s, POWER_CHARGE)) {
                s->counters.rejected_requests++;
                return;
        }
        /* R36: follow the request; limits and ramp in update_command().
         * R38: held until the next request, however long that takes. */
        set_phase(s, SESSION_PHASE_BATTERY);
        /* B2: the sign is the direction; limits (both signs), the pass
         * through 0 A and the ramp in update_command(). */
        set_target(s, POWER_CHARGE, m->target_voltage_dv, m->target_current_da, false);
}

static void on_charge_status_change(struct session *s, const struct codec_charge_status_change *m)
{
        if (!s->in_session)
                return;
        if (m->vehicle_ready_for_charging == CODEC_CHARGE_STARTED) {
                /* R35: ready at any time from now on; a battery is (or will
                 * be) on the output, so a standby no longer discharges. */
                s->charge_started = true;
                if (s->phase != SESSION_PHASE_ENDING)
                        set_phase(s, SESSION_PHASE_BATTERY);
                if (s->target.mode == POWER_STANDBY)
                        set_standby(s);
        } else if (m->vehicle_ready_for_charging == CODEC_CHARGE_STOPPED) {
                /* R41: bring the current to 0, battery stays connected. */
                s->charge_started = false;
                if (s->target.mode == POWER_CHARGE)
                        set_standby(s);
        }
}

static void on_emergency_stop(struct session *s, const struct codec_emergency_stop *m,
                              uint64_t now)
{
        /* R45: off at once, latched (R46). */
        if (!s->estop_active)
                s->counters.emergency_stops++;
        s->estop_active = true;
        s->estop_latched = true;
        s->estop_origin = m->origin;
        s->last_estop_us = now;
        latch_fault(s, SESSION_FAULT_EMERGENCY_STOP);
}

static void on_new_charge_session(struct session *s, const struct codec_new_charge_session *m,
                                  uint64_t now)
{
        if (!s->in_session) {
                start_session(s, m, now);
        } else {
                s->ev = *m;     /* R19: repeated until System_Enable = 1 */
                s->ev_max_voltage_dv = m->ev_maximum_voltage_dv;
        }
}

/* ---- the v3 front end ---- */

/* V5: New_Charge_Session of v3 names the protocol and the plug only; the
 * EV's data come in EV_Information_* (kept in s->ev in v2 terms). */
static void on_new_charge_session_v3(struct session *s, const struct codec_new_charge_session_v3 *m,
                                     uint64_t now)
{
        struct codec_new_charge_session ncs = {
                .communication_protocol = m->communication_protocol,
                .plug_and_pins = m->plug_and_pins,
        };

        if (!s->in_session) {
                start_session(s, &ncs, now);
                return;
        }
        /* R19, V5: repeated until System_Enable = 1; what EV_Information_*
         * said in between stays. */
        s->ev.communication_protocol = m->communication_protocol;
        s->ev.plug_and_pins = m->plug_and_pins;
}

/* V16: where in [Current_Range_Min, Current_Range_Max] a Range_Mode power
 * transfer runs, by range_policy: the top of the range, the CSMS's
 * OCPP_Control.Dynamic_Target_Current or the operator's target (each, when
 * not given, the top of the range); always inside the range.  B3, B5: its
 * sign is the direction, chosen here, not by the EV. */
static int16_t v3_range_setpoint(const struct session *s, const struct codec_dc_power_control *m)
{
        int16_t want = m->current_range_max_da;

        switch (s->cfg.range_policy) {
        case SESSION_RANGE_MAX:
                break;
        case SESSION_RANGE_OCPP:
                if (s->ev_info.dynamic_target_valid)
                        want = s->ev_info.dynamic_target_current_da;
                break;
        case SESSION_RANGE_OPERATOR:
                if (s->range_target_valid)
                        want = s->range_target_da;
                break;
        }

        if (want > m->current_range_max_da)
                want = m->current_range_max_da;
        if (want < m->current_range_min_da)
                want = m->current_range_min_da;
        return want;
}

/* DC_Power_Control (part D.2): the power function onto the requests of v2,
 * so that the same phases, limits and ramp apply. */
static void apply_power_control(struct session *s, const struct codec_dc_power_control *m)
{
        switch (m->power_function) {
        case CODEC_POWER_FUNCTION_OFF:
                /* No power processing, output floating: a standby.  Inside
                 * a session the converter stays awake, or System_Enable would
                 * fall to 0, which the controller takes for an emergency
                 * shutdown (R22). */
                record_request(s, SESSION_REQUEST_OFF, 0, 0);
                s->lowering = m->lower_output_voltage;
                on_standby_request(s);
                return;
        case CODEC_POWER_FUNCTION_STANDBY: {
                /* V6, V13, V14, V20: setpoints 0 for compatibility, not
                 * looked at; the output is lowered only when asked and safe
                 * (V10, V21, V23). */
                record_request(s, SESSION_REQUEST_STANDBY, 0, 0);
                s->lowering = m->lower_output_voltage;
                on_standby_request(s);
                return;
        }
        case CODEC_POWER_FUNCTION_INSULATION_TEST: {
                /* V7, V8: the test voltage; the current fields are not
                 * relevant (the insulation cap applies).  0 V ends the test,
                 * as Insulation_Test(0) in v2 (R29). */
                struct codec_insulation_test t = { .test_voltage_dv = m->target_voltage_dv };

                s->lowering = false;
                if (m->lower_output_voltage) {
                        /* Lowering comes only with Standby (part D.2). */
                        record_request(s, SESSION_REQUEST_INSULATION_TEST, m->target_voltage_dv, 0);
                        s->counters.rejected_requests++;
                        on_standby_request(s);
                        return;
                }
                on_insulation_test(s, &t);
                return;
        }
        case CODEC_POWER_FUNCTION_PRECHARGE: {
                /* V11, V12, E.12: match Target_Voltage, never above
                 * Current_Range_Max (and the precharge cap); 0 A ends a
                 * precharge as Precharge(0 A) in v2 (R33). */
                struct codec_precharge p = {
                        .target_voltage_dv = m->target_voltage_dv,
                        .maximum_current_da = m->current_range_max_da > 0 ? (uint16_t)m->current_range_max_da : 0,
                };

                s->lowering = false;
                if (m->lower_output_voltage) {
                        record_request(s, SESSION_REQUEST_PRECHARGE, m->target_voltage_dv,
                                       m->current_range_max_da);
                        s->counters.rejected_requests++;
                        on_standby_request(s);
                        return;
                }
                on_precharge(s, &p);
                return;
        }
        case CODEC_POWER_FUNCTION_POWER_TRANSFER: {
                /* V15: Target_Mode follows the target, Current_Range_Max.
                 * V16: Range_Mode picks a point in the range.  A negative
                 * current is refused as in v2 (E.1) until discharge is
                 * supported; 0 V with 0 A is a standby (R24). */
                struct codec_charging_loop l = {
                        .target_voltage_dv = m->target_voltage_dv,
                        .target_current_da = m->setpoints_mode == CODEC_SETPOINTS_RANGE_MODE
                                                     ? v3_range_setpoint(s, m)
                                                     : m->current_range_max_da,
                };

                s->lowering = false;
                if (m->lower_output_voltage) {
                        record_request(s, SESSION_REQUEST_CHARGE, l.target_voltage_dv, l.target_current_da);
                        s->counters.rejected_requests++;
                        on_standby_request(s);
                        return;
                }
                /* V17: the mode stays the same through a transfer.  A change
                 * is the controller contradicting itself about who picks
                 * the direction (B5): refused, counted, the current at 0 A
                 * (a standby) until the transfer resumes in its own mode or
                 * another power function ends it. */
                if (s->transfer_mode_known && m->setpoints_mode != s->transfer_mode) {
                        record_request(s, SESSION_REQUEST_CHARGE, l.target_voltage_dv, l.target_current_da);
                        s->counters.rejected_requests++;
                        s->counters.mode_changes_refused++;
                        on_standby_request(s);
                        return;
                }
                if (s->in_session) {
                        s->transfer_mode_known = true;
                        s->transfer_mode = m->setpoints_mode;
                }
                on_charging_loop(s, &l);
                return;
        }
        default:
                break;
        }
        /* V25, E.27: an undefined power function (or a combination) asks
         * for nothing the power side knows: no power, counted. */
        s->counters.undefined_power_functions++;
        record_request(s, SESSION_REQUEST_INVALID, m->target_voltage_dv, m->current_range_max_da);
        s->lowering = false;
        on_standby_request(s);
}

static void on_dc_power_control(struct session *s, const struct codec_dc_power_control *m)
{
        /* V17: any other power function ends the power transfer. */
        if (m->power_function != CODEC_POWER_FUNCTION_POWER_TRANSFER)
                s->transfer_mode_known = false;
        /* Kept for the session: the status, and V16 when OCPP_Control moves
         * the setpoint.  Outside a session the requests are refused as in
         * v2 (E.28). */
        if (s->in_session) {
                s->power_control = *m;
                s->power_control_valid = true;
        }
        apply_power_control(s, m);
}

/* EV_Information_* (V5): kept for the session, cleared at its end; the v2
 * view of the vehicle in s->ev (the EV's maximum voltage for any check on
 * it, as New_Charge_Session gives it in v2). */
static void on_ev_battery(struct session *s, const struct codec_ev_information_battery *m)
{
        if (!s->in_session)
                return;
        s->ev_info.battery = *m;
        s->ev_info.battery_valid = true;
        s->ev.battery_capacity_kwh = m->battery_capacity_kwh;
        s->ev.state_of_charge_pct = m->present_state_of_charge_pct;
}

static void on_ev_voltages(struct session *s, const struct codec_ev_information_voltages *m)
{
        if (!s->in_session)
                return;
        s->ev_info.voltages = *m;
        s->ev_info.voltages_valid = true;
        s->ev.ev_maximum_voltage_dv = m->ev_maximum_voltage_dv;
        /* CC.6.2 watches this one (0 = not known: no check). */
        s->ev_max_voltage_dv = m->ev_maximum_voltage_dv;
}

static void on_ev_charge_limits(struct session *s, const struct codec_ev_information_charge_limits *m)
{
        if (!s->in_session)
                return;
        s->ev_info.charge_limits = *m;
        s->ev_info.charge_limits_valid = true;
        s->ev.ev_maximum_current_da = m->ev_maximum_charge_current_da;
}

static void on_ev_discharge_limits(struct session *s, const struct codec_ev_information_discharge_limits *m)
{
        if (!s->in_session)
                return;
        s->ev_info.discharge_limits = *m;
        s->ev_info.discharge_limits_valid = true;
}

static void on_ev_energy(struct session *s, const struct codec_ev_information_energy *m)
{
        if (!s->in_session)
                return;
        s->ev_info.energy = *m;
        s->ev_info.energy_valid = true;
}

/* OCPP_Control (V16): the CSMS's setpoint for a Range_Mode transfer; a
 * transfer running in Range_Mode moves to it at once (the next
 * DC_Power_Control may be a minute away, V18). */
static void on_ocpp_control(struct session *s, const struct codec_ocpp_control *m)
{
        if (!s->in_session)
                return;
        s->ev_info.dynamic_target_current_da = m->dynamic_target_current_da;
        s->ev_info.dynamic_target_valid = true;
        if (s->power_control_valid && s->target.mode == POWER_CHARGE &&
            s->power_control.power_function == CODEC_POWER_FUNCTION_POWER_TRANSFER &&
            s->power_control.setpoints_mode == CODEC_SETPOINTS_RANGE_MODE)
                apply_power_control(s, &s->power_control);
}

_Static_assert(CODEC_MSG_COUNT <= 32, "one bit per message type in controller_types");

/* The message types the controller produces (OUT in the database), one bit
 * each, worked out once at init. */
static uint32_t controller_types_of(const struct codec_db *db)
{
        uint32_t types = 0;

        for (size_t i = 0; i < db->n_messages; i++)
                if (db->messages[i].dir == CODEC_DIR_OUT)
                        types |= (uint32_t)1 << db->messages[i].type;
        return types;
}

/* EV_ID_CCS_Part2_DIN: the EVCCID comes with the EV's first message
 * (SessionSetup), before the authorisation (R9, R11) and before
 * New_Charge_Session; it is kept from then on, for the external authoriser
 * ("Autocharge"), until the session ends or the vehicle leaves. */
static void on_ev_id(struct session *s, const struct codec_ev_id_ccs_part2_din *m)
{
        if (s->ev_id_closed)
                return;
        if (s->controller_state_known && state_is_unplugged(s->controller_state))
                return;
        memcpy(s->ev_id, m->byte, sizeof(s->ev_id));
        s->ev_id_valid = true;
}

/* Frames the controller produces (OUT in the database). */
static bool sent_by_controller(const struct session *s, enum codec_msg_type type)
{
        return (unsigned)type < CODEC_MSG_COUNT && (s->controller_types >> type) & 1u;
}

#define SELF_MARKING_MSGS                                                                          \
        (1u << CODEC_ADVANTICS_CONTROLLER_STATUS | 1u << CODEC_INSULATION_TEST | 1u << CODEC_PRECHARGE | \
         1u << CODEC_CHARGING_LOOP | 1u << CODEC_DC_POWER_CONTROL)

static void handle_message(struct session *s, const struct codec_message *msg, uint64_t now)
{
        /* Every message may change what settle() works out, but those that
         * come every 100 ms mark what they change themselves: the heartbeat
         * (heartbeat_seen(), on_controller_status()), the power requests
         * (set_target(), set_phase()). */
        if (!((SELF_MARKING_MSGS >> msg->type) & 1u))
                mark_changed(s);
        switch (msg->type) {
        case CODEC_ADVANTICS_CONTROLLER_STATUS:
                on_controller_status(s, msg->u.advantics_controller_status.state, now);
                break;
        case CODEC_NEW_CHARGE_SESSION:
                on_new_charge_session(s, &msg->u.new_charge_session, now);
                break;
        case CODEC_INSULATION_TEST:
                on_insulation_test(s, &msg->u.insulation_test);
                break;
        case CODEC_PRECHARGE:
                on_precharge(s, &msg->u.precharge);
                break;
        case CODEC_CHARGE_STATUS_CHANGE:
                on_charge_status_change(s, &msg->u.charge_status_change);
                break;
        case CODEC_CHARGING_LOOP:
                on_charging_loop(s, &msg->u.charging_loop);
                break;
        case CODEC_EMERGENCY_STOP:
                on_emergency_stop(s, &msg->u.emergency_stop, now);
                break;
        case CODEC_CHARGE_SESSION_FINISHED:
                /* R44: off, the window closes.  How it ended is reported. */
                if (s->in_session) {
                        s->finished_state = msg->u.charge_session_finished.state;
                        end_session(s, SESSION_FAULT_NONE);
                }
                break;
        case CODEC_ADM_CO_CUI1_INPUTS:
        case CODEC_ADM_CS_SECC_INPUTS:
        case CODEC_ADM_CS_SPCC_INPUTS:
        case CODEC_CCS_EXTRA_INFORMATION:
        case CODEC_MCS_EXTRA_INFORMATION:
                /* informative: kept for the operator, never acted on */
                (void)controller_io_on_message(&s->io, msg);
                break;
        case CODEC_EV_ID_CCS_PART2_DIN:
                on_ev_id(s, &msg->u.ev_id_ccs_part2_din);
                break;
        case CODEC_NEW_CHARGE_SESSION_V3:
                on_new_charge_session_v3(s, &msg->u.new_charge_session_v3, now);
                break;
        case CODEC_DC_POWER_CONTROL:
                on_dc_power_control(s, &msg->u.dc_power_control);
                break;
        case CODEC_EV_INFORMATION_BATTERY:
                on_ev_battery(s, &msg->u.ev_information_battery);
                break;
        case CODEC_EV_INFORMATION_VOLTAGES:
                on_ev_voltages(s, &msg->u.ev_information_voltages);
                break;
        case CODEC_EV_INFORMATION_CHARGE_LIMITS:
                on_ev_charge_limits(s, &msg->u.ev_information_charge_limits);
                break;
        case CODEC_EV_INFORMATION_DISCHARGE_LIMITS:
                on_ev_discharge_limits(s, &msg->u.ev_information_discharge_limits);
                break;
        case CODEC_EV_INFORMATION_ENERGY:
                on_ev_energy(s, &msg->u.ev_information_energy);
                break;
        case CODEC_OCPP_CONTROL:
                on_ocpp_control(s, &msg->u.ocpp_control);
                break;
        case CODEC_POWER_MODULES_STATUS:
        case CODEC_POWER_MODULES_LIMITS:
        case CODEC_DC_POWER_PARAMETERS:
        case CODEC_SEQUENCE_CONTROL:
        case CODEC_ADM_CS_SECC_OUTPUTS:
        case CODEC_ADM_CS_SPCC_OUTPUTS:
        case CODEC_MSG_COUNT:
                /* not sent by the controller; filtered by the caller */
                break;
        }
}

/* ---- public API ---- */

int session_init(struct session *s, const struct session_config *cfg,
                 const struct session_callbacks *cb, uint64_t now_us)
{
        if (!s || !cb || !cb->tx_frame || !cb->power_command)
                return -EINVAL;
        if (session_config_check(cfg) < 0)
                return -EINVAL;

        memset(s, 0, sizeof(*s));
        s->cfg = *cfg;
        s->cb = *cb;
        s->db = codec_db_for_version(cfg->interface_version);
        s->other_db = codec_db_for_version(cfg->interface_version == 3 ? 2 : 3);
        s->controller_types = controller_types_of(s->db);
        s->now_us = now_us;
        set_phase(s, SESSION_PHASE_IDLE);
        s->fault = SESSION_FAULT_NONE;
        s->request = SESSION_REQUEST_NONE;
        s->charging_loop_soc_pct = SESSION_NOT_REPORTED;
        s->finished_state = SESSION_NOT_REPORTED;
        s->target = (struct power_command){ .mode = POWER_OFF, .discharge = true };
        (void)controller_io_init(&s->io, &cfg->io, now_us);
        refresh_limits(s);
        update_auto_flags(s);
        /* The initial OFF command. */
        update_command(s, now_us);
        /* Nothing is flushed before the first input: its settle() works
         * everything out. */
        mark_changed(s);
        refresh_deadlines(s);
        return 0;
}

int session_reconfigure(struct session *s, const struct session_config *cfg,
                        uint64_t now_us)
{
        struct session_config old;

        if (!s || session_config_check(cfg) < 0 || cfg->pistol != s->cfg.pistol ||
            cfg->interface_version != s->cfg.interface_version || cfg->supervisor != s->cfg.supervisor)
                return -EINVAL;
        now_us = advance(s, now_us);
        run_due_timers(s, now_us);

        old = s->cfg;
        s->cfg = *cfg;
        mark_changed(s);
        /* The deadlines kept worked out follow the new timeouts. */
        heartbeat_seen(s, s->last_heartbeat_us);
        flags_sent_at(s, s->last_flags_us);
        /* A flag handed to the operator starts from 0 (R8). */
        if (old.start_authorisation == SESSION_FLAG_AUTO &&
            cfg->start_authorisation == SESSION_FLAG_EXTERNAL)
                s->flags.start_charge_authorisation = false;
        if (old.ccs_authorisation == SESSION_FLAG_AUTO &&
            cfg->ccs_authorisation == SESSION_FLAG_EXTERNAL) {
                s->flags.ccs_authorisation_done = false;
                s->flags.ccs_authorisation_valid = false;
        }
        if (old.charge_parameters == SESSION_FLAG_AUTO &&
            cfg->charge_parameters == SESSION_FLAG_EXTERNAL)
                s->flags.charge_parameters_done = false;
        if (!old.use_sequence_flags && cfg->use_sequence_flags)
                s->flags_sent = false;
        (void)controller_io_reconfigure(&s->io, &cfg->io, now_us);
        /* New timeouts apply at once too (a shorter R1 timeout may already
         * have passed). */
        run_timers(s, now_us);
        /* New limits apply at once: the command is re-clamped in settle(). */
        refresh_limits(s);
        /* A flag given back to AUTO takes its AUTO value at once. */
        update_auto_flags(s);
        settle(s, now_us);
        return 0;
}

/* An identifier of this pistol in the other version's database. */
static bool frame_of_other_version(const struct session *s, const struct codec_frame *frame)
{
        return frame && frame->extended && (frame->id & ~CODEC_ID_EXT_MASK) == 0 &&
               (frame->id & CODEC_ID_PISTOL_MASK) >> CODEC_ID_PISTOL_SHIFT == s->cfg.pistol &&
               codec_msg_info_by_id(s->other_db, frame->id) != NULL;
}

int session_on_frame(struct session *s, const struct codec_frame *frame, uint64_t now_us)
{
        struct codec_message msg;
        int r;

        now_us = advance(s, now_us);
        run_due_timers(s, now_us);

        r = codec_decode(s->db, frame, s->cfg.pistol, &msg);
        if (r == -ENOMSG && frame_of_other_version(s, frame)) {
                /* The other interface version's frame for this pistol: a
                 * controller configured for it, or a test tool.  Never
                 * acted on; counted apart from the foreign ones. */
                s->counters.other_version++;
                settle(s, now_us);
                return -ENOMSG;
        }
        if (r == -EBADMSG) {
                const struct codec_msg_info *info = codec_msg_info_by_id(s->db, frame->id);

                s->counters.malformed++;
                if (info && controller_io_is_io_message(info->type))
                        s->counters.malformed_io++;
                settle(s, now_us);
                return r;
        }
        if (r < 0 || !sent_by_controller(s, msg.type)) {
                /* another pistol, an unknown ID, or a power-side frame */
                s->counters.foreign++;
                settle(s, now_us);
                return -ENOMSG;
        }
        s->counters.frames_in++;
        if (!s->shutting_down)
                handle_message(s, &msg, now_us);
        settle(s, now_us);
        return 0;
}

/* E.5: v3 firmware judges insulation by IEC 61851-23's absolute thresholds:
 * 100 kOhm (CCS, CHAdeMO), 125 kOhm for MCS (IEC 61851-23-3). */
#define V3_INSULATION_MIN_KOHM 100u
#define V3_INSULATION_MIN_KOHM_MCS 125u

static bool insulation_too_low(const struct session *s, const struct power_measurement *m)
{
        /* R40: insulation_min_ohm_per_volt x measured voltage; kOhm x 1000
         * < ohm/V x dV / 10. */
        if ((uint64_t)m->insulation_kohm * 10000u <
            (uint64_t)s->cfg.insulation_min_ohm_per_volt * m->voltage_dv)
                return true;
        /* V19, E.5: and in v3 the absolute threshold of the plug. */
        if (session_is_v3(s))
                return m->insulation_kohm < (s->ev.plug_and_pins == CODEC_PLUG_MCS ? V3_INSULATION_MIN_KOHM_MCS
                                                                                   : V3_INSULATION_MIN_KOHM);
        return false;
}

void session_on_measurement(struct session *s, const struct power_measurement *m,
                            uint64_t now_us)
{
        bool had_link = s->meas_valid && s->meas.link_ok;

        now_us = advance(s, now_us);
        run_due_timers(s, now_us);

        s->meas = *m;
        s->meas_valid = true;
        if (m->link_ok)
                s->last_measured_voltage_dv = m->voltage_dv;
        /* B2: the converter confirms <= 1 A, measured after the command
         * went to 0 A. */
        if (m->link_ok && s->command_issued && s->command.current_da == 0 && now_us > s->zero_since_us &&
            m->current_da >= -10 && m->current_da <= 10) {
                /* The hold before the change of sign ends: the command is
                 * worked out again (it is cached while its inputs stay). */
                if (!s->zero_confirmed) {
                        s->command_cached = false;
                        mark_changed(s);
                }
                s->zero_confirmed = true;
        }
        /* The converter's rating is the third source of limits: what the
         * converter cannot deliver is neither commanded nor announced. */
        if (!rating_equal(&s->rating, &m->rating)) {
                s->rating = m->rating;
                refresh_limits(s);
        }
        if (!s->shutting_down) {
                /* A held session commands nothing (doc/sharing.md): the
                 * converter serves another pistol or nobody, and its link
                 * or fault is the arbiter's business, which hands it over
                 * only off, healthy and with its link up.  Latched here,
                 * a blip of the link while held would refuse the whole
                 * session after its release. */
                if (had_link && !m->link_ok && !s->held)
                        latch_fault(s, SESSION_FAULT_CONVERTER_LINK);
                if (m->fault && !s->held)
                        latch_fault(s, SESSION_FAULT_CONVERTER);
                /* R40, V19: too low while a power function runs after the
                 * test. */
                if ((s->command.mode == POWER_PRECHARGE || s->command.mode == POWER_CHARGE) &&
                    m->insulation_kohm != POWER_INSULATION_UNKNOWN && insulation_too_low(s, m))
                        latch_fault(s, SESSION_FAULT_INSULATION);
                /* CC.6.2: timed here, tripped by run_timers() at the
                 * exact deadline whatever the rate of the measurements. */
                watch_ev_overvoltage(s, m, now_us);
        }
        settle(s, now_us);
}

void session_tick(struct session *s, uint64_t now_us)
{
        now_us = advance(s, now_us);
        run_due_timers(s, now_us);
        settle(s, now_us);
}

uint64_t session_next_deadline(const struct session *s)
{
        return s->next_due_us;
}

const char *session_check_cache(const struct session *s, uint64_t now_us)
{
        /* A refused call (-EPERM) leaves the session at its latest time. */
        if (now_us > s->now_us)
                now_us = s->now_us;
        bool off = forced_off(s) || !s->controller_alive;

        uint64_t d = others_scan(s);

        if (s->others_due_us != d)
                return "others_due_us is not the earliest deadline but R1's and R2's";
        if (!s->shutting_down && s->supervising)
                d = min_u64(d, s->heartbeat_deadline_us);
        if (s->timers_due_us != (s->shutting_down ? SESSION_NO_DEADLINE : d))
                return "timers_due_us is not the earliest timer";
        if (!s->shutting_down && sends_status(s))
                d = min_u64(d, s->next_status_us);
        if (s->next_due_us != d)
                return "next_due_us is not the earliest deadline";
        if (s->changed)
                return NULL;
        /* Due already (a zero hold time, a refused call): the next call
         * runs the timers and settle_all() whatever the mark. */
        if (now_us >= s->next_due_us)
                return NULL;
        /* Unmarked: settle_all() would change nothing before next_due_us. */
        if (!s->cfg.supervisor && off != s->command_cached_off)
                return "forced off changed unmarked";
        if (!s->cfg.supervisor && !s->command_cached && !s->ramp_pending)
                return "command not worked out, unmarked";
        if (!s->shutting_down && may_send_flags(s) &&
            (!s->flags_sent || !flags_equal_on_bus(s)))
                return "Sequence_Control changed unmarked";
        return NULL;
}

static int set_level_flag(struct session *s, enum session_flag_source src, uint64_t now_us)
{
        if (src == SESSION_FLAG_AUTO)
                return -EPERM;
        now_us = advance(s, now_us);
        run_due_timers(s, now_us);
        mark_changed(s);
        return 0;
}

int session_set_start_authorisation(struct session *s, bool allowed, uint64_t now_us)
{
        int r = set_level_flag(s, s->cfg.start_authorisation, now_us);

        if (r < 0)
                return r;
        /* R9: a level; 0 keeps the controller Not_Available. */
        s->flags.start_charge_authorisation = allowed;
        settle(s, s->now_us);
        return 0;
}

void session_set_hold(struct session *s, bool held, uint64_t now_us)
{
        now_us = advance(s, now_us);
        run_timers(s, now_us);
        /* An input of the command (forced off) and of the flags on the
         * bus, like the others; the same hold again changes nothing. */
        if (s->held != held) {
                mark_changed(s);
                s->command_cached = false;
        }
        s->held = held;
        settle(s, s->now_us);
}

int session_set_ccs_authorisation(struct session *s, bool valid, uint64_t now_us)
{
        int r = set_level_flag(s, s->cfg.ccs_authorisation, now_us);

        if (r < 0)
                return r;
        /* R11, E.9: Valid and Done in the same frame. */
        s->flags.ccs_authorisation_valid = valid;
        s->flags.ccs_authorisation_done = true;
        settle(s, s->now_us);
        return 0;
}

int session_set_charge_parameters_done(struct session *s, bool done, uint64_t now_us)
{
        int r = set_level_flag(s, s->cfg.charge_parameters, now_us);

        if (r < 0)
                return r;
        /* R13: the limits are final. */
        s->flags.charge_parameters_done = done;
        settle(s, s->now_us);
        return 0;
}

static int press(struct session *s, bool *held, uint64_t *release, bool *flag, uint64_t now_us)
{
        now_us = advance(s, now_us);
        run_due_timers(s, now_us);
        /* Refused: nothing settled (as ever), but a timer that fell due
         * above may have moved the next deadline, and what is due is left
         * to the next settle(). */
        if (!s->cfg.use_sequence_flags || *held || !may_send_flags(s)) {
                mark_changed(s);
                refresh_deadlines(s);
        }
        if (!s->cfg.use_sequence_flags)
                return -ENOTSUP;
        if (*held)
                return -EBUSY;
        if (!may_send_flags(s))
                return -EAGAIN;
        /* R10: a release not on the bus yet goes first, or the controller
         * would see no new edge. */
        settle(s, now_us);
        /* R10: 0 -> 1 now, back to 0 after button_hold_us. */
        *flag = true;
        *held = true;
        *release = add_sat(now_us, s->cfg.button_hold_us);
        mark_changed(s);
        settle(s, now_us);
        return 0;
}

int session_press_user_stop(struct session *s, uint64_t now_us)
{
        return press(s, &s->user_stop_held, &s->user_stop_release_us,
                     &s->flags.user_stop_button, now_us);
}

int session_press_chademo_start(struct session *s, uint64_t now_us)
{
        return press(s, &s->chademo_start_held, &s->chademo_start_release_us,
                     &s->flags.chademo_start_button, now_us);
}

int session_set_output(struct session *s, enum controller_io_output output, uint8_t value,
                       uint64_t now_us)
{
        int r;

        if (!s)
                return -EINVAL;
        if (s->shutting_down)
                return -ESHUTDOWN;
        now_us = advance(s, now_us);
        run_due_timers(s, now_us);
        r = controller_io_set_output(&s->io, output, value, now_us);
        mark_changed(s);
        settle(s, now_us);
        return r;
}

int session_set_dynamic_limits(struct session *s, const struct power_limits *l,
                               uint64_t now_us)
{
        if (!s || !l)
                return -EINVAL;
        now_us = advance(s, now_us);
        run_due_timers(s, now_us);
        s->dynamic = *l;
        mark_changed(s);
        refresh_limits(s);
        settle(s, now_us);
        return 0;
}

int session_set_range_target(struct session *s, bool set, int16_t current_da, uint64_t now_us)
{
        if (!s)
                return -EINVAL;
        if (s->cfg.range_policy != SESSION_RANGE_OPERATOR)
                return -EPERM;
        now_us = advance(s, now_us);
        run_due_timers(s, now_us);
        s->range_target_valid = set;
        s->range_target_da = set ? current_da : 0;
        mark_changed(s);
        /* A Range_Mode transfer under way moves at once (the next
         * DC_Power_Control may be a minute away, V18). */
        if (s->power_control_valid && s->target.mode == POWER_CHARGE &&
            s->power_control.power_function == CODEC_POWER_FUNCTION_POWER_TRANSFER &&
            s->power_control.setpoints_mode == CODEC_SETPOINTS_RANGE_MODE && !s->shutting_down)
                apply_power_control(s, &s->power_control);
        settle(s, now_us);
        return 0;
}

void session_shutdown(struct session *s, uint64_t now_us)
{
        struct codec_message m;

        if (s->shutting_down)
                return;
        now_us = advance(s, now_us);
        s->shutting_down = true;
        latch_fault(s, SESSION_FAULT_SHUTDOWN);
        update_command(s, now_us);
        /* One last status with System_Enable = 0, even outside the window
         * (none in supervisor mode: it is not ours to send). */
        if (!s->cfg.supervisor)
                send_status(s);
        /* The controller's outputs back to their safe state. */
        if (controller_io_shutdown(&s->io, &m))
                tx(s, &m);
        s->in_session = false;
        s->ramp_pending = false;
        mark_changed(s);
        refresh_deadlines(s);
}

void session_get_status(const struct session *s, struct session_status *out)
{
        memset(out, 0, sizeof(*out));
        out->controller_alive = s->controller_alive;
        out->controller_state = s->controller_state;
        out->in_session = s->in_session;
        out->system_enable = s->system_enable;
        out->fault = s->fault;
        out->emergency_stop_latched = s->estop_latched;
        out->emergency_stop_active = s->estop_active;
        out->emergency_stop_origin = s->estop_origin;
        out->charge_started = s->charge_started;
        out->ev = s->ev;
        out->charging_loop_soc_pct = s->charging_loop_soc_pct;
        out->finished_state = s->finished_state;
        out->ev_max_voltage_dv = s->ev_max_voltage_dv;
        out->interface_version = s->cfg.interface_version;
        out->ev_info = s->ev_info;
        out->power_control_valid = s->power_control_valid;
        out->power_control = s->power_control;
        out->request = s->request;
        out->request_voltage_dv = s->request_voltage_dv;
        out->request_current_da = s->request_current_da;
        out->command = s->command;
        out->measurement = s->meas;
        out->flags = flags_on_bus(s);
        out->held = s->held;
        out->limits = s->effective;
        out->counters = s->counters;
        out->supervisor = s->cfg.supervisor;
        out->ev_id_valid = s->ev_id_valid;
        memcpy(out->ev_id, s->ev_id, sizeof(out->ev_id));
        out->io_board = s->io.cfg.board;
        out->io_outputs = s->io.out;
        out->io_inputs = s->io.in;
        out->direction_change_pending = s->direction_wait;
        out->range_target_valid = s->range_target_valid;
        out->range_target_da = s->range_target_da;
}

const struct power_command *session_command(const struct session *s)
{
        return &s->command;
}

const char *session_fault_name(enum session_fault fault)
{
        switch (fault) {
        case SESSION_FAULT_NONE:
                return "none";
        case SESSION_FAULT_CONTROLLER_TIMEOUT:
                return "controller-timeout";
        case SESSION_FAULT_CONTROLLER_RESTART:
                return "controller-restart";
        case SESSION_FAULT_EMERGENCY_STOP:
                return "emergency-stop";
        case SESSION_FAULT_INSULATION:
                return "insulation";
        case SESSION_FAULT_CONVERTER_LINK:
                return "converter-link";
        case SESSION_FAULT_CONVERTER:
                return "converter";
        case SESSION_FAULT_EV_OVERVOLTAGE:
                return "ev-overvoltage";
        case SESSION_FAULT_DIRECTION_CHANGE:
                return "direction-change";
        case SESSION_FAULT_SHUTDOWN:
                return "shutdown";
        case SESSION_FAULT_COUNT:
                break;
        }
        return "unknown";
}

const char *session_request_name(enum session_request request)
{
        switch (request) {
        case SESSION_REQUEST_NONE:
                return "none";
        case SESSION_REQUEST_INSULATION_TEST:
                return "insulation-test";
        case SESSION_REQUEST_PRECHARGE:
                return "precharge";
        case SESSION_REQUEST_CHARGE:
                return "charge";
        case SESSION_REQUEST_STANDBY:
                return "standby";
        case SESSION_REQUEST_OFF:
                return "off";
        case SESSION_REQUEST_INVALID:
                return "invalid";
        case SESSION_REQUEST_COUNT:
                break;
        }
        return "unknown";
}

const char *session_range_policy_name(enum session_range_policy policy)
{
        switch (policy) {
        case SESSION_RANGE_MAX:
                return "max";
        case SESSION_RANGE_OCPP:
                return "ocpp";
        case SESSION_RANGE_OPERATOR:
                return "operator";
        }
        return "unknown";
}
