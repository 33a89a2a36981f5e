/* SPDX-License-Identifier: MIT */
/*
 * What the simulated controller checks in the power side's frames, the way
 * the real one would (PROTOCOL.md part C):
 *  - identifiers and DLCs exact, our pistol only (R5), unused bits 0 (R8, R18);
 *  - Power_Modules_Status every 100 ms from the first New_Charge_Session to
 *    Charge_Session_Finished (R2, R3): a gap above --gap fails;
 *  - System_Enable stays Allowed during the power phases (R21, R22);
 *  - insulation resistance >= 100 ohm/V while a battery may be on the output
 *    (R40); precharge current within its limit (R32);
 *  - while charging, Present_Current never above the request (plus a
 *    margin) and following it within a tolerance once settled (R36);
 *    Present_Voltage plausible;
 *  - the reaction to a fault: the converter off (System_Enable =
 *    Not_Allowed, current about 0) within a deadline and off from then on.
 */
#include <stdlib.h>
#include <string.h>

#include "controller_check.h"
#include "controller_report.h"

/* The tick judges a deadline with this slack: a status stamped before the
 * deadline may still be on its way through the socket. */
#define DEADLINE_SLACK_US 50000u

static double ms(uint64_t us)
{
        return (double)us / 1000.0;
}

static bool step_is_power(enum ctl_step step)
{
        switch (step) {
        case STEP_INSULATION_TEST:
        case STEP_INSULATION_END:
        case STEP_PRECHARGE:
        case STEP_WAITING_FOR_CHARGE:
        case STEP_CHARGING:
        case STEP_ENDING_CHARGE:
                return true;
        case STEP_INITIALISING:
        case STEP_NOT_AVAILABLE:
        case STEP_WAITING_FOR_PEV:
        case STEP_NEGOTIATING:
        case STEP_CCS_AUTHORISATION:
        case STEP_CONNECTED:
        case STEP_WELDING_DETECTION:
        case STEP_CLOSING:
        case STEP_COOLDOWN:
        case STEP_SILENT:
        case STEP_EMERGENCY:
        case STEP_ABORT:
        case STEP_DONE:
                return false;
        }
        return false;
}

/* R40 applies once a battery may be on the output: precharge onwards. */
static bool step_has_battery(enum ctl_step step)
{
        return step == STEP_PRECHARGE || step == STEP_WAITING_FOR_CHARGE ||
               step == STEP_CHARGING || step == STEP_ENDING_CHARGE;
}

static bool is_off(const struct ctl *c, const struct ctl_status *s)
{
        return s->system_enable != CODEC_SYSTEM_ENABLE_ALLOWED &&
               abs(s->current_da) <= c->o.off_current_da;
}

void ctl_check_window_open(struct ctl *c, uint64_t now)
{
        c->window_open = true;
        c->window_open_us = now;
        c->last_status_us = 0;
        c->enabled = false;
        c->enable_ack_sent = false;
}

void ctl_check_window_close(struct ctl *c, uint64_t now)
{
        (void)now;
        c->window_open = false;
}

void ctl_check_expect_off(struct ctl *c, const char *what, uint64_t since_us,
                          uint64_t deadline_us, bool need_discharge)
{
        c->reaction = (struct ctl_reaction){
                .armed = true,
                .what = what,
                .since_us = since_us,
                .deadline_us = deadline_us,
                .need_discharge = need_discharge,
                .discharge_deadline_us = since_us + (uint64_t)c->o.discharge_timeout_ms * 1000u,
        };
}

void ctl_check_request(struct ctl *c, int16_t current_da, uint16_t voltage_dv, uint64_t now)
{
        if (current_da == c->req_da && voltage_dv == c->req_dv)
                return;
        c->prev_req_da = c->req_da;
        c->req_da = current_da;
        c->req_dv = voltage_dv;
        c->req_change_us = now;
}

/* The current the power side should deliver for the request in force: the
 * request, within what it advertised (R16) and what the EV allows. */
static int32_t expected_current_da(const struct ctl *c)
{
        int32_t want = c->req_da < 0 ? 0 : c->req_da;

        if (c->o.discharge && c->req_da < 0) {
                /* B2: out of the EV, within the discharge limit announced;
                 * none announced (0): the power side refuses, 0 A (B1). */
                want = c->req_da;
                if (want < -(int32_t)c->discharge_limit_da)
                        want = -(int32_t)c->discharge_limit_da;
                return want;
        }

        if (c->limits_seen && c->limits.maximum_current_da > 0 && want > c->limits.maximum_current_da)
                want = c->limits.maximum_current_da;
        if (want > c->o.ev_max_current_da)
                want = c->o.ev_max_current_da;
        if (c->o.charger_power_w > 0 && c->req_dv > 0) {
                /* dV x dA = 100 x W */
                int64_t cap = (int64_t)c->o.charger_power_w * 100 / c->req_dv;

                if (want > cap)
                        want = (int32_t)cap;
        }
        return want;
}

/* --discharge (B2): never more out of the EV than asked for nor than the
 * discharge limit announced; the current changes direction only when the
 * request did; every reversal counted, and whether a status caught it at
 * |I| <= off_current. */
static bool check_discharging(struct ctl *c, const struct ctl_status *s, uint64_t since_change)
{
        int32_t most = c->req_da;
        int dir = s->current_da > (int32_t)c->o.off_current_da    ? 1
                  : s->current_da < -(int32_t)c->o.off_current_da ? -1
                                                                  : 0;

        /* A status on its way when the request changed may show the old
         * one (one period plus the margin). */
        if (since_change < CTL_TICK_US + (uint64_t)c->o.margin_ms * 1000u && c->prev_req_da < most)
                most = c->prev_req_da;
        if (most > 0)
                most = 0;
        if (s->current_da < most - c->o.current_margin_da) {
                ctl_fail(c, "Present_Current %.1f A: more out of the EV than the request %.1f A (margin %.1f A, B2)",
                         s->current_da / 10.0, c->req_da / 10.0, c->o.current_margin_da / 10.0);
                return false;
        }
        if (s->current_da < -(int32_t)c->discharge_limit_da - c->o.current_margin_da) {
                ctl_fail(c, "Present_Current %.1f A: beyond the Maximum_Discharge_Current announced, %.1f A (B2, V4)",
                         s->current_da / 10.0, c->discharge_limit_da / 10.0);
                return false;
        }
        if (dir == 0) {
                c->zero_seen = true;
                return true;
        }
        if (c->dir_seen != 0 && dir != c->dir_seen) {
                int asked = c->req_da > 0 ? 1 : c->req_da < 0 ? -1 : 0;

                if (asked != dir) {
                        ctl_fail(c, "Present_Current %.1f A: the current changed direction, the request %.1f A did not (B2)",
                                 s->current_da / 10.0, c->req_da / 10.0);
                        return false;
                }
                c->reversals++;
                if (c->zero_seen)
                        c->reversals_through_zero++;
                ctl_log(c, "current reversed to %.1f A (%s)%s", s->current_da / 10.0,
                        dir < 0 ? "out of the EV" : "into the EV",
                        c->zero_seen ? ", a status at <= the off current in between" : "");
        }
        c->dir_seen = dir;
        c->zero_seen = false;
        return true;
}

static void check_charging(struct ctl *c, const struct ctl_status *s)
{
        uint64_t since_change = s->t_us > c->req_change_us ? s->t_us - c->req_change_us : 0;
        uint64_t since_start = s->t_us > c->charge_start_us ? s->t_us - c->charge_start_us : 0;
        uint64_t settle = (uint64_t)c->o.settle_ms * 1000u;
        int32_t allowed = c->req_da;
        int32_t expected, dev;

        /* A status already on its way when the request went down may still
         * show the old current (one period plus the margin). */
        if (since_change < CTL_TICK_US + (uint64_t)c->o.margin_ms * 1000u && c->prev_req_da > allowed)
                allowed = c->prev_req_da;
        if (c->o.discharge && !check_discharging(c, s, since_change))
                return;
        /* B2: asked for a discharge, "above the request" is any current into
         * the EV. */
        if (c->o.discharge && allowed < 0)
                allowed = 0;
        if (s->current_da > allowed + c->o.current_margin_da) {
                ctl_fail(c, "Present_Current %.1f A is above the request %.1f A (margin %.1f A, R36)",
                         s->current_da / 10.0, allowed / 10.0, c->o.current_margin_da / 10.0);
                return;
        }
        if (since_change < settle || since_start < settle)
                return;
        expected = expected_current_da(c);
        dev = s->current_da - expected;
        if (abs(dev) > abs(c->worst_follow_da))
                c->worst_follow_da = abs(dev);
        if (abs(dev) > c->o.current_tolerance_da) {
                ctl_fail(c, "Present_Current %.1f A does not follow the request %.1f A: expected %.1f A +- %.1f A, %.1f s after the last change (R36)%s",
                         s->current_da / 10.0, c->req_da / 10.0, expected / 10.0,
                         c->o.current_tolerance_da / 10.0, (double)since_change / 1e6,
                         dev < 0 && c->o.charger_power_w == 0
                                 ? "; a charger limited by its power needs --charger-power"
                                 : "");
                return;
        }
        /* Out of the EV the output is below the battery (V = Vbatt + I x R,
         * I < 0) and the battery's voltage falls: only the top bound. */
        if (c->o.discharge && c->req_da < 0) {
                if (s->voltage_dv > c->o.charge_voltage_dv + c->o.voltage_tolerance_dv)
                        ctl_fail(c, "Present_Voltage %.1f V while discharging, above %.1f V",
                                 s->voltage_dv / 10.0, (c->o.charge_voltage_dv + c->o.voltage_tolerance_dv) / 10.0);
                return;
        }
        if (s->voltage_dv + c->o.voltage_tolerance_dv < c->o.battery_voltage_dv ||
            s->voltage_dv > c->o.charge_voltage_dv + c->o.voltage_tolerance_dv) {
                ctl_fail(c, "Present_Voltage %.1f V while charging, expected %.1f .. %.1f V",
                         s->voltage_dv / 10.0,
                         (c->o.battery_voltage_dv - c->o.voltage_tolerance_dv) / 10.0,
                         (c->o.charge_voltage_dv + c->o.voltage_tolerance_dv) / 10.0);
        }
}

/* Returns true when the status is accounted for by the reaction check. */
static bool check_reaction(struct ctl *c, const struct ctl_status *s)
{
        struct ctl_reaction *re = &c->reaction;

        if (!re->armed || s->t_us < re->since_us)
                return re->armed;
        if (!re->confirmed) {
                if (is_off(c, s)) {
                        re->confirmed = true;
                        re->confirmed_us = s->t_us;
                        ctl_log(c, "converter off %.0f ms after %s (limit %.0f ms): System_Enable = Not_Allowed, %.1f A",
                                ms(s->t_us - re->since_us), re->what, ms(re->deadline_us - re->since_us),
                                s->current_da / 10.0);
                        snprintf(c->reaction_report, sizeof(c->reaction_report),
                                 "converter off %.0f ms after %s (limit %.0f ms)",
                                 ms(s->t_us - re->since_us), re->what,
                                 ms(re->deadline_us - re->since_us));
                } else if (s->t_us > re->deadline_us) {
                        ctl_fail(c, "converter not off %.0f ms after %s (limit %.0f ms): System_Enable = %s, %.1f A",
                                 ms(s->t_us - re->since_us), re->what, ms(re->deadline_us - re->since_us),
                                 s->system_enable == CODEC_SYSTEM_ENABLE_ALLOWED ? "Allowed" : "Not_Allowed",
                                 s->current_da / 10.0);
                        return true;
                }
        } else if (!is_off(c, s)) {
                ctl_fail(c, "converter on again %.0f ms after %s: System_Enable = %s, %.1f A",
                         ms(s->t_us - re->since_us), re->what,
                         s->system_enable == CODEC_SYSTEM_ENABLE_ALLOWED ? "Allowed" : "Not_Allowed",
                         s->current_da / 10.0);
                return true;
        }
        if (re->need_discharge && !re->discharged) {
                if (s->voltage_dv <= 200) {
                        re->discharged = true;
                        re->discharged_us = s->t_us;
                        ctl_log(c, "output discharged to %.1f V %.0f ms after %s", s->voltage_dv / 10.0,
                                ms(s->t_us - re->since_us), re->what);
                } else if (s->t_us > re->discharge_deadline_us) {
                        ctl_fail(c, "output still at %.1f V %.1f s after %s (expected <= 20 V)",
                                 s->voltage_dv / 10.0, (double)(s->t_us - re->since_us) / 1e6, re->what);
                }
        }
        return true;
}

static void on_status(struct ctl *c, const struct codec_power_modules_status *m, uint64_t t)
{
        struct ctl_status s = {
                .valid = true,
                .t_us = t,
                .voltage_dv = m->present_voltage_dv,
                .current_da = m->present_current_da,
                .module_c = m->power_modules_temperature_c,
                .enclosure_c = m->enclosure_temperature_c,
                .system_enable = m->system_enable,
                .insulation_kohm = m->insulation_resistance_kohm,
        };
        bool allowed = s.system_enable == CODEC_SYSTEM_ENABLE_ALLOWED;

        /* R2, R3: the period, measured on the reception stamps. */
        if (c->window_open) {
                if (c->last_status_us == 0) {
                        uint64_t lat = t > c->window_open_us ? t - c->window_open_us : 0;

                        if (c->period.count == 0)
                                c->period.first_latency_us = lat;
                        if (lat > (uint64_t)c->o.gap_ms * 1000u) {
                                ctl_fail(c, "first Power_Modules_Status %.0f ms after New_Charge_Session (limit %u ms, R2, E.10)",
                                         ms(lat), c->o.gap_ms);
                                return;
                        }
                } else if (t > c->last_status_us) {
                        uint64_t p = t - c->last_status_us;

                        c->period.periods++;
                        c->period.sum_us += p;
                        if (c->period.min_us == 0 || p < c->period.min_us)
                                c->period.min_us = p;
                        if (p > c->period.max_us) {
                                c->period.max_us = p;
                                c->period.max_at_us = t;
                                c->period.max_state = c->wire_state;
                        }
                        if (p > 150000u)
                                c->period.over_150ms++;
                        if (p > (uint64_t)c->o.gap_ms * 1000u) {
                                ctl_fail(c, "Power_Modules_Status gap of %.0f ms (limit %u ms, R2)", ms(p),
                                         c->o.gap_ms);
                                return;
                        }
                }
                c->last_status_us = t;
                c->period.count++;
        }

        /* Energy, for the summary: while charging, V x I over the period. */
        if (c->step == STEP_CHARGING && c->step_entered && c->st.valid && t > c->st.t_us &&
            s.current_da > 0)
                c->energy_wh += (double)s.voltage_dv / 10.0 * (double)s.current_da / 10.0 *
                                (double)(t - c->st.t_us) / 3.6e9;
        if (c->step == STEP_CHARGING && c->step_entered && c->st.valid && t > c->st.t_us &&
            s.current_da < 0)
                c->energy_out_wh -= (double)s.voltage_dv / 10.0 * (double)s.current_da / 10.0 *
                                    (double)(t - c->st.t_us) / 3.6e9;
        if (s.current_da > c->peak_current_da)
                c->peak_current_da = s.current_da;
        if (s.current_da < c->peak_discharge_da)
                c->peak_discharge_da = s.current_da;
        c->st = s;

        if (c->failed)
                return;

        if (c->no_enable_until_ncs && allowed) {
                ctl_fail(c, "System_Enable = Allowed again before a new New_Charge_Session: the latch after %s did not hold",
                         c->reaction.what ? c->reaction.what : "the fault");
                return;
        }
        if (check_reaction(c, &s))
                return;

        if (c->window_open && allowed && !c->enabled) {
                c->enabled = true;
                c->enabled_us = t;
                if (c->first_enable_us == 0)
                        c->first_enable_us = t - c->window_open_us;
                ctl_log(c, "System_Enable = Allowed %.2f s after New_Charge_Session",
                        (double)(t - c->window_open_us) / 1e6);
        }

        /* The power side's own voltage must stay within what we asked for
         * and what the EV takes. */
        {
                uint16_t ceiling = c->o.ev_max_voltage_dv > c->o.test_voltage_dv ? c->o.ev_max_voltage_dv
                                                                                : c->o.test_voltage_dv;

                if ((uint32_t)s.voltage_dv > (uint32_t)ceiling + c->o.voltage_tolerance_dv) {
                        ctl_fail(c, "Present_Voltage %.1f V is above %.1f V (EV maximum / test voltage)",
                                 s.voltage_dv / 10.0, ceiling / 10.0);
                        return;
                }
        }

        if (!step_is_power(c->step) || !c->enabled)
                return;

        if (!allowed) {
                if (c->o.expect_shutdown && !c->shutdown_seen && c->wire_state == c->o.shutdown_state) {
                        /* Caused on purpose (e.g. a converter fault): the
                         * converter must be off by the next status. */
                        c->shutdown_seen = true;
                        c->shutdown_us = t;
                        ctl_log(c, "System_Enable = Not_Allowed during %s, as expected (R22)",
                                ctl_state_name(c->wire_state));
                        ctl_check_expect_off(c, "System_Enable went to Not_Allowed", t,
                                             t + CTL_TICK_US + (uint64_t)c->o.margin_ms * 1000u, false);
                        check_reaction(c, &s);
                        return;
                }
                ctl_fail(c, "System_Enable = Not_Allowed during %s: the controller takes it as %s (%s)",
                         ctl_state_name(c->wire_state),
                         c->step == STEP_CHARGING || c->step == STEP_ENDING_CHARGE
                                 ? "an emergency shutdown request"
                                 : "the service being unavailable",
                         c->step == STEP_CHARGING || c->step == STEP_ENDING_CHARGE ? "R22" : "R21");
                return;
        }

        /* R40: 100 ohm/V of the present voltage, i.e. kOhm >= V / 10.
         * V19, E.5: a v3 controller applies the absolute threshold of the
         * plug, 100 kOhm (125 kOhm for MCS). */
        if (step_has_battery(c->step) && (uint32_t)s.insulation_kohm * 100u < s.voltage_dv) {
                ctl_fail(c, "insulation resistance %u kOhm is below 100 Ohm/V at %.1f V during %s (R40)",
                         s.insulation_kohm, s.voltage_dv / 10.0, ctl_state_name(c->wire_state));
                return;
        }
        if (c->o.interface_version == 3 && step_has_battery(c->step) &&
            s.insulation_kohm < (c->o.plug == CODEC_PLUG_MCS ? 125 : 100)) {
                ctl_fail(c, "insulation resistance %u kOhm is below %u kOhm during %s (V19, E.5)",
                         s.insulation_kohm, c->o.plug == CODEC_PLUG_MCS ? 125 : 100,
                         ctl_state_name(c->wire_state));
                return;
        }
        /* R32: a precharge never exceeds its current limit. */
        if (c->step == STEP_PRECHARGE && s.t_us > c->step_since_us &&
            s.current_da > c->o.precharge_current_da + 5) {
                ctl_fail(c, "Present_Current %.1f A during precharge, limit %.1f A (R32)",
                         s.current_da / 10.0, c->o.precharge_current_da / 10.0);
                return;
        }
        /* V25: an undefined Power_Function means no current, without a
         * fault: System_Enable stays Allowed (checked above). */
        if (c->undefined_until_us && !c->undefined_confirmed && s.t_us > c->undefined_since_us &&
            abs(s.current_da) <= c->o.off_current_da) {
                c->undefined_confirmed = true;
                ctl_log(c, "current down to %.1f A %.0f ms after the undefined Power_Function, System_Enable still Allowed (V25)",
                        s.current_da / 10.0, ms(s.t_us - c->undefined_since_us));
                snprintf(c->reaction_report, sizeof(c->reaction_report),
                         "no current %.0f ms after an undefined Power_Function, System_Enable still Allowed",
                         ms(s.t_us - c->undefined_since_us));
        }
        /* From the first Charging_Loop of this session on. */
        if (c->step == STEP_CHARGING && c->step_entered && s.t_us > c->charge_start_us)
                check_charging(c, &s);
}

/* R15, V4: the charger's limits at most every 100 ms; --limits-spacing
 * (90 ms by default: reception stamps jitter a little around the sender's
 * timer). */
static bool limits_spacing_ok(struct ctl *c, const char *name, uint64_t t)
{
        if (c->limits_seen && t - c->limits_t_us < (uint64_t)c->o.limits_spacing_ms * 1000u) {
                ctl_fail(c, "%s %.0f ms after the previous one (%s: at least 100 ms)", name,
                         ms(t - c->limits_t_us), c->o.interface_version == 3 ? "V4" : "R15");
                return false;
        }
        return true;
}

/* V4: DC_Power_Parameters, kept as the v2 limits for the checks (the
 * charge current is what the current is held to). */
static void on_dc_power_parameters(struct ctl *c, const struct codec_dc_power_parameters *m, uint64_t t)
{
        struct codec_power_modules_limits l = {
                .maximum_voltage_dv = m->maximum_voltage_dv,
                .maximum_current_da = m->maximum_charge_current_da > INT16_MAX
                                              ? INT16_MAX
                                              : (int16_t)m->maximum_charge_current_da,
        };
        bool changed = !c->limits_seen || l.maximum_voltage_dv != c->limits.maximum_voltage_dv ||
                       l.maximum_current_da != c->limits.maximum_current_da;

        if (!limits_spacing_ok(c, "DC_Power_Parameters", t))
                return;
        changed = changed || m->maximum_discharge_current_da != c->discharge_limit_da;
        c->limits = l;
        c->limits_seen = true;
        c->limits_t_us = t;
        c->discharge_limit_da = m->maximum_discharge_current_da;
        if (changed)
                ctl_log(c, "DC_Power_Parameters: %.1f V, charge %.1f A, discharge %.1f A, range target %.1f A%s",
                        m->maximum_voltage_dv / 10.0, m->maximum_charge_current_da / 10.0,
                        m->maximum_discharge_current_da / 10.0, m->range_target_current_da / 10.0,
                        m->maximum_voltage_dv == 0 || m->maximum_charge_current_da == 0 ? " (0 = config default)"
                                                                                         : "");
}

static void on_limits(struct ctl *c, const struct codec_frame *f,
                      const struct codec_power_modules_limits *m, uint64_t t)
{
        bool changed = !c->limits_seen || m->maximum_voltage_dv != c->limits.maximum_voltage_dv ||
                       m->maximum_current_da != c->limits.maximum_current_da;

        if (f->data[4] | f->data[5] | f->data[6] | f->data[7]) {
                ctl_fail(c, "Power_Modules_Limits with non-zero reserved bytes (R18)");
                return;
        }
        if (m->maximum_current_da < 0) {
                ctl_fail(c, "Power_Modules_Limits.Maximum_Current %.1f A is negative (R18, E.2)",
                         m->maximum_current_da / 10.0);
                return;
        }
        if (!limits_spacing_ok(c, "Power_Modules_Limits", t))
                return;
        c->limits = *m;
        c->limits_seen = true;
        c->limits_t_us = t;
        if (changed)
                ctl_log(c, "Power_Modules_Limits: %.1f V, %.1f A%s", m->maximum_voltage_dv / 10.0,
                        m->maximum_current_da / 10.0,
                        m->maximum_voltage_dv == 0 || m->maximum_current_da == 0 ? " (0 = config default)" : "");
}

static void on_flags(struct ctl *c, const struct codec_frame *f,
                     const struct codec_sequence_control *m)
{
        const struct codec_sequence_control *o = &c->flags;
        bool changed = !c->flags_seen || memcmp(m, o, sizeof(*m)) != 0;

        /* R8: bits outside the declared flags stay 0. */
        if ((f->data[0] & 0xFC) || (f->data[1] & 0xF8) || (f->data[2] & 0xFE)) {
                ctl_fail(c, "Sequence_Control with undeclared bits set (%02X %02X %02X, R8)", f->data[0],
                         f->data[1], f->data[2]);
                return;
        }
        /* R10, R14: the stop button acts on its 0 -> 1 edge. */
        if (c->flags_seen && !o->user_stop_button && m->user_stop_button)
                c->user_stop_seen = true;
        c->flags = *m;
        c->flags_seen = true;
        if (changed && c->o.sequence_flags)
                ctl_log(c, "Sequence_Control: Start_Charge_Authorisation=%d CHAdeMO_Start_Button=%d CCS_Authorisation_Done=%d CCS_Authorisation_Valid=%d Charge_Parameters_Done=%d User_Stop_Button=%d",
                        m->start_charge_authorisation, m->chademo_start_button, m->ccs_authorisation_done,
                        m->ccs_authorisation_valid, m->charge_parameters_done, m->user_stop_button);
}

void ctl_check_frame(struct ctl *c, const struct codec_frame *f, uint64_t t)
{
        const struct codec_msg_info *info;
        struct codec_message m;
        unsigned pistol;

        if (c->failed || !f->extended)
                return;
        info = codec_msg_info_by_id(c->db, f->id);
        pistol = (f->id & CODEC_ID_PISTOL_MASK) >> CODEC_ID_PISTOL_SHIFT;
        if (!info || info->dir != CODEC_DIR_IN) {
                ctl_fail(c, "the power side sent identifier %08X, which is not in the %s database (R5)",
                         (unsigned)f->id, c->db->name);
                return;
        }
        if (pistol != c->o.pistol && (c->o.other_pistols & (1u << pistol)))
                return;         /* another session's (--other-pistol) */
        if (pistol != c->o.pistol) {
                ctl_fail(c, "the power side sent %s for pistol %u; this session is pistol %u (R5)",
                         info->name, pistol, c->o.pistol);
                return;
        }
        if (f->len != info->dlc) {
                ctl_fail(c, "%s with DLC %u, the database says %u (R5)", info->name, f->len, info->dlc);
                return;
        }
        if (codec_decode(c->db, f, c->o.pistol, &m) < 0)
                return;
        /* --supervisor: the controller's own modules report the power. */
        if (c->o.supervisor && (m.type == CODEC_POWER_MODULES_STATUS || m.type == CODEC_POWER_MODULES_LIMITS ||
                                m.type == CODEC_DC_POWER_PARAMETERS)) {
                ctl_fail(c, "supervisor mode: the power side sent %s, which belongs to the controller's own modules",
                         info->name);
                return;
        }
        switch (m.type) {
        case CODEC_POWER_MODULES_STATUS:
                on_status(c, &m.u.power_modules_status, t);
                break;
        case CODEC_POWER_MODULES_LIMITS:
                on_limits(c, f, &m.u.power_modules_limits, t);
                break;
        case CODEC_SEQUENCE_CONTROL:
                on_flags(c, f, &m.u.sequence_control);
                break;
        case CODEC_DC_POWER_PARAMETERS:
                on_dc_power_parameters(c, &m.u.dc_power_parameters, t);
                break;
        case CODEC_ADM_CS_SECC_OUTPUTS:
        case CODEC_ADM_CS_SPCC_OUTPUTS:
                /* outputs of controller hardware we do not simulate */
                break;
        case CODEC_NEW_CHARGE_SESSION_V3:
        case CODEC_DC_POWER_CONTROL:
        case CODEC_EV_INFORMATION_BATTERY:
        case CODEC_EV_INFORMATION_VOLTAGES:
        case CODEC_EV_INFORMATION_CHARGE_LIMITS:
        case CODEC_EV_INFORMATION_DISCHARGE_LIMITS:
        case CODEC_EV_INFORMATION_ENERGY:
        case CODEC_OCPP_CONTROL:
        case CODEC_NEW_CHARGE_SESSION:
        case CODEC_INSULATION_TEST:
        case CODEC_PRECHARGE:
        case CODEC_CHARGE_STATUS_CHANGE:
        case CODEC_CHARGING_LOOP:
        case CODEC_EMERGENCY_STOP:
        case CODEC_CHARGE_SESSION_FINISHED:
        case CODEC_ADVANTICS_CONTROLLER_STATUS:
        case CODEC_ADM_CO_CUI1_INPUTS:
        case CODEC_ADM_CS_SECC_INPUTS:
        case CODEC_EV_ID_CCS_PART2_DIN:
        case CODEC_ADM_CS_SPCC_INPUTS:
        case CODEC_CCS_EXTRA_INFORMATION:
        case CODEC_MCS_EXTRA_INFORMATION:
        case CODEC_MSG_COUNT:
                /* controller frames: excluded by the direction test above */
                break;
        }
}

void ctl_check_tick(struct ctl *c, uint64_t now)
{
        struct ctl_reaction *re = &c->reaction;

        if (c->failed)
                return;
        if (c->window_open && !c->o.supervisor) {
                uint64_t last = c->last_status_us ? c->last_status_us : c->window_open_us;

                if (now > last && now - last > (uint64_t)c->o.gap_ms * 1000u + DEADLINE_SLACK_US) {
                        ctl_fail(c, "no Power_Modules_Status for %.0f ms (limit %u ms, R2, R3)",
                                 ms(now - last), c->o.gap_ms);
                        return;
                }
        }
        if (re->armed && !re->confirmed && now > re->deadline_us + DEADLINE_SLACK_US) {
                ctl_fail(c, "no Power_Modules_Status showing the converter off within %.0f ms of %s",
                         ms(re->deadline_us - re->since_us), re->what);
                return;
        }
        if (re->armed && re->need_discharge && !re->discharged &&
            now > re->discharge_deadline_us + DEADLINE_SLACK_US) {
                ctl_fail(c, "output not discharged to 20 V within %.1f s of %s",
                         (double)(re->discharge_deadline_us - re->since_us) / 1e6, re->what);
        }
}

void ctl_print_measurement(struct ctl *c, uint64_t now)
{
        const struct ctl_status *s = &c->st;
        char req[48] = "-";

        if (!s->valid)
                return;
        switch (c->step) {
        case STEP_INSULATION_TEST:
                snprintf(req, sizeof(req), "test %.1f V", c->o.test_voltage_dv / 10.0);
                break;
        case STEP_PRECHARGE:
                snprintf(req, sizeof(req), "%.1f V %.1f A", c->o.battery_voltage_dv / 10.0,
                         c->o.precharge_current_da / 10.0);
                break;
        case STEP_CHARGING:
                snprintf(req, sizeof(req), "%.1f V %.1f A", c->req_dv / 10.0, c->req_da / 10.0);
                break;
        case STEP_INITIALISING:
        case STEP_NOT_AVAILABLE:
        case STEP_WAITING_FOR_PEV:
        case STEP_NEGOTIATING:
        case STEP_CCS_AUTHORISATION:
        case STEP_CONNECTED:
        case STEP_INSULATION_END:
        case STEP_WAITING_FOR_CHARGE:
        case STEP_ENDING_CHARGE:
        case STEP_WELDING_DETECTION:
        case STEP_CLOSING:
        case STEP_COOLDOWN:
        case STEP_SILENT:
        case STEP_EMERGENCY:
        case STEP_ABORT:
        case STEP_DONE:
                break;
        }
        (void)now;
        printf("[%9.3f] meas %-24s req %-16s | %6.1f V %6.1f A | %d/%d degC | ins %3u kOhm | System_Enable %s\n",
               ctl_rel_s(c, ctl_now_us()), ctl_state_name(c->wire_state), req, s->voltage_dv / 10.0,
               s->current_da / 10.0, s->module_c, s->enclosure_c, s->insulation_kohm,
               s->system_enable == CODEC_SYSTEM_ENABLE_ALLOWED ? "Allowed" : "Not_Allowed");
}
