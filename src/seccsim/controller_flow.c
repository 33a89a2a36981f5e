/* SPDX-License-Identifier: MIT */
/*
 * The simulated controller's sequence, one step per 100 ms tick, following
 * the vendor's description (PROTOCOL.md C.1 and the rules cited below):
 *
 *   Initialising -> [Not_Available] -> Waiting_For_PEV -> Negotiating_Connection
 *   -> [CCS_Authorisation_Process] -> Connected_With_Full_Info -> Insulation_Test
 *   -> [Precharge] -> Waiting_For_Charge -> Charging -> Ending_Charge
 *   -> [Welding_Detection] -> Closing_Communication -> Waiting_For_PEV
 *
 * Every tick sends Advantics_Controller_Status first (R1), then what the
 * step sends periodically; single-shot frames go out once, when a step is
 * entered.  A step changes at the end of a tick, so the new state is on the
 * bus before the first frame that belongs to it.
 *
 * Injected faults and extra traffic live here too: the controller going
 * silent, Emergency_Stop, a fake session of another pistol, short frames of
 * our identifiers.  The bus load has its own timer (controller_can.c).
 */
#include <string.h>

#include "controller_can.h"
#include "controller_check.h"
#include "controller_flow.h"
#include "controller_report.h"

/* R43: CHAdeMO unlocks at <= 10 V; R41: the EV waits for <= 1 A (CCS) /
 * 5 A (CHAdeMO); R29: <= 20 V after the test; R33: within 20 V. */
#define UNLOCK_VOLTAGE_DV 100
#define END_CURRENT_CCS_DA 10
#define END_CURRENT_CHADEMO_DA 50
#define DISCHARGED_VOLTAGE_DV 200
#define PRECHARGE_WINDOW_DV 200
/* The clean-up after a failure: a few heartbeats in Closing_Communication,
 * then a few in Waiting_For_PEV, so that the power side sees an orderly
 * end rather than a lost controller. */
#define ABORT_CLOSING_TICKS 3
#define ABORT_WAITING_TICKS 3
/* Default time in a state before a fault, outside Charging. */
#define FAULT_DEFAULT_DELAY_US 500000u
/* --fault undefined-function: how long the undefined power function is
 * asked for. */
#define UNDEFINED_FUNCTION_US 1000000u

static uint64_t ms_us(uint32_t ms)
{
        return (uint64_t)ms * 1000u;
}

const char *ctl_step_name(enum ctl_step step)
{
        switch (step) {
        case STEP_INITIALISING:
                return "initialising";
        case STEP_NOT_AVAILABLE:
                return "not available";
        case STEP_WAITING_FOR_PEV:
                return "waiting for the EV";
        case STEP_NEGOTIATING:
                return "negotiating";
        case STEP_CCS_AUTHORISATION:
                return "CCS authorisation";
        case STEP_CONNECTED:
                return "connected";
        case STEP_INSULATION_TEST:
                return "insulation test";
        case STEP_INSULATION_END:
                return "end of insulation test";
        case STEP_PRECHARGE:
                return "precharge";
        case STEP_WAITING_FOR_CHARGE:
                return "waiting for charge";
        case STEP_CHARGING:
                return "charging";
        case STEP_ENDING_CHARGE:
                return "ending charge";
        case STEP_WELDING_DETECTION:
                return "welding detection";
        case STEP_CLOSING:
                return "closing";
        case STEP_COOLDOWN:
                return "cool-down";
        case STEP_SILENT:
                return "silent";
        case STEP_EMERGENCY:
                return "emergency stop";
        case STEP_ABORT:
                return "clean-up";
        case STEP_DONE:
                return "done";
        }
        return "?";
}

/* The wire state of a step; the fault steps keep the state they froze. */
static uint8_t step_state(const struct ctl *c, enum ctl_step step)
{
        switch (step) {
        case STEP_INITIALISING:
                return CODEC_STATE_INITIALISING;
        case STEP_NOT_AVAILABLE:
                return CODEC_STATE_NOT_AVAILABLE;
        case STEP_WAITING_FOR_PEV:
        case STEP_DONE:
                return CODEC_STATE_WAITING_FOR_PEV;
        case STEP_NEGOTIATING:
                return CODEC_STATE_NEGOTIATING_CONNECTION;
        case STEP_CCS_AUTHORISATION:
                return CODEC_STATE_CCS_AUTHORISATION_PROCESS;
        case STEP_CONNECTED:
                return CODEC_STATE_CONNECTED_WITH_FULL_INFO;
        case STEP_INSULATION_TEST:
        case STEP_INSULATION_END:
                return CODEC_STATE_INSULATION_TEST;
        case STEP_PRECHARGE:
                return CODEC_STATE_PRECHARGE;
        case STEP_WAITING_FOR_CHARGE:
                return CODEC_STATE_WAITING_FOR_CHARGE;
        case STEP_CHARGING:
                return CODEC_STATE_CHARGING;
        case STEP_ENDING_CHARGE:
                return CODEC_STATE_ENDING_CHARGE;
        case STEP_WELDING_DETECTION:
                return CODEC_STATE_WELDING_DETECTION;
        case STEP_CLOSING:
        case STEP_COOLDOWN:
        case STEP_ABORT:
                return CODEC_STATE_CLOSING_COMMUNICATION;
        case STEP_SILENT:
        case STEP_EMERGENCY:
                return c->wire_state;
        }
        return c->wire_state;
}

static void set_step(struct ctl *c, enum ctl_step step, uint64_t now)
{
        uint8_t state = step_state(c, step);

        if (c->step == STEP_CHARGING)
                c->charge_time_us += now - c->step_since_us;
        c->step = step;
        c->step_since_us = now;
        c->step_entered = false;
        c->step_ticks = 0;
        if (state != c->wire_state) {
                c->wire_state = state;
                c->state_since_us = now;
                ctl_log(c, "state %s (%u)", ctl_state_name(state), state);
        }
}

static uint64_t in_step(const struct ctl *c, uint64_t now)
{
        return now - c->step_since_us;
}

/* ---- frames of the controller ---- */

static void send(struct ctl *c, const struct codec_message *m)
{
        ctl_send_msg(c, m, c->o.pistol);
}

static void send_heartbeat(struct ctl *c, uint8_t state, uint64_t now)
{
        struct codec_message m = { .type = CODEC_ADVANTICS_CONTROLLER_STATUS };

        m.u.advantics_controller_status.state = state;
        send(c, &m);
        c->last_heartbeat_us = now;
}

static bool v3(const struct ctl *c)
{
        return c->o.interface_version == 3;
}

/* R19 (v2): the EV's data in New_Charge_Session; V5 (v3): only protocol and
 * plug, the data in EV_Information_*. */
static void fill_new_charge_session(const struct ctl *c, struct codec_message *m)
{
        if (v3(c)) {
                *m = (struct codec_message){ .type = CODEC_NEW_CHARGE_SESSION_V3 };
                m->u.new_charge_session_v3.communication_protocol = c->o.comm_protocol;
                m->u.new_charge_session_v3.plug_and_pins = c->o.plug;
                return;
        }
        *m = (struct codec_message){ .type = CODEC_NEW_CHARGE_SESSION };
        m->u.new_charge_session = (struct codec_new_charge_session){
                .communication_protocol = c->o.comm_protocol,
                .plug_and_pins = c->o.plug,
                .ev_maximum_voltage_dv = c->o.ev_max_voltage_dv,
                .ev_maximum_current_da = c->o.ev_max_current_da,
                .battery_capacity_kwh = c->o.capacity_kwh,
                .state_of_charge_pct = c->o.soc_pct,
        };
}

/* v3 (part D.2): one DC_Power_Control for every power request; the output
 * contactors are closed from the insulation test to the end of charge. */
static void fill_power_control(struct codec_message *m, uint8_t function, uint16_t dv, int16_t max_da,
                               int16_t min_da, uint8_t mode, bool contactors, bool lowering)
{
        *m = (struct codec_message){ .type = CODEC_DC_POWER_CONTROL };
        m->u.dc_power_control = (struct codec_dc_power_control){
                .target_voltage_dv = dv,
                .current_range_max_da = max_da,
                .current_range_min_da = min_da,
                .power_function = function,
                .setpoints_mode = mode,
                .output_contactors = contactors,
                .lower_output_voltage = lowering,
        };
}

/* v3: a Standby with the contactor and lowering commands (V10, V13, V14,
 * V20, V23). */
static void send_standby_v3(struct ctl *c, bool contactors, bool lowering)
{
        struct codec_message m;

        fill_power_control(&m, CODEC_POWER_FUNCTION_STANDBY, 0, 0, 0, CODEC_SETPOINTS_TARGET_MODE, contactors,
                           lowering);
        send(c, &m);
}

static void fill_insulation_test(const struct ctl *c, struct codec_message *m, uint16_t dv)
{
        if (v3(c)) {
                /* V7: Target_Mode, current fields not relevant. */
                fill_power_control(m, CODEC_POWER_FUNCTION_INSULATION_TEST, dv, 0, 0,
                                   CODEC_SETPOINTS_TARGET_MODE, true, false);
                return;
        }
        *m = (struct codec_message){ .type = CODEC_INSULATION_TEST };
        m->u.insulation_test.test_voltage_dv = dv;
}

static void send_insulation_test(struct ctl *c, uint16_t dv)
{
        struct codec_message m;

        fill_insulation_test(c, &m, dv);
        send(c, &m);
}

static void fill_precharge(const struct ctl *c, struct codec_message *m, uint16_t dv, uint16_t da)
{
        if (v3(c)) {
                /* V11, E.12: the limit in Current_Range_Max, 0 A minimum,
                 * Range_Mode. */
                fill_power_control(m, CODEC_POWER_FUNCTION_PRECHARGE, dv, (int16_t)da, 0,
                                   CODEC_SETPOINTS_RANGE_MODE, true, false);
                return;
        }
        *m = (struct codec_message){ .type = CODEC_PRECHARGE };
        m->u.precharge.target_voltage_dv = dv;
        m->u.precharge.maximum_current_da = da;
}

static uint8_t present_soc(const struct ctl *c)
{
        double soc = c->o.soc_pct;

        /* B2: what went out of the battery lowers it again. */
        if (c->o.capacity_kwh > 0)
                soc += (c->energy_wh - c->energy_out_wh) / (c->o.capacity_kwh * 1000.0) * 100.0;
        if (soc < 0)
                return 0;
        return soc > 100.0 ? 100 : (uint8_t)soc;
}

static void fill_loop(const struct ctl *c, struct codec_message *m, uint16_t dv, int16_t da)
{
        if (v3(c)) {
                /* V15: Target_Mode, the target in both ends of the range. */
                fill_power_control(m, CODEC_POWER_FUNCTION_POWER_TRANSFER, dv, da, da,
                                   CODEC_SETPOINTS_TARGET_MODE, true, false);
                return;
        }
        *m = (struct codec_message){ .type = CODEC_CHARGING_LOOP };
        m->u.charging_loop.target_voltage_dv = dv;
        m->u.charging_loop.target_current_da = da;
        m->u.charging_loop.state_of_charge_pct = present_soc(c);
}

/* R24: 0 V and 0 A, the standby command; v3: Standby, contactors closed,
 * no lowering. */
static void send_standby(struct ctl *c)
{
        struct codec_message m;

        if (v3(c)) {
                send_standby_v3(c, true, false);
                return;
        }
        fill_loop(c, &m, 0, 0);
        m.u.charging_loop.state_of_charge_pct = 0;
        send(c, &m);
}

/* V5: the EV's data, at least once after the first New_Charge_Session. */
static void send_ev_information(struct ctl *c)
{
        struct codec_message m = { .type = CODEC_EV_INFORMATION_BATTERY };

        m.u.ev_information_battery = (struct codec_ev_information_battery){
                .battery_capacity_kwh = c->o.capacity_kwh,
                .present_state_of_charge_pct = present_soc(c),
                .minimum_state_of_charge_pct = 0,
                .target_state_of_charge_pct = 100,
                .maximum_state_of_charge_pct = 100,
        };
        send(c, &m);
        c->soc_sent = m.u.ev_information_battery.present_state_of_charge_pct;
        m = (struct codec_message){ .type = CODEC_EV_INFORMATION_VOLTAGES };
        m.u.ev_information_voltages = (struct codec_ev_information_voltages){
                .ev_minimum_voltage_dv = (uint16_t)(c->o.battery_voltage_dv * 3 / 4),
                .ev_maximum_voltage_dv = c->o.ev_max_voltage_dv,
                .ev_present_voltage_dv = c->o.battery_voltage_dv,
        };
        send(c, &m);
        m = (struct codec_message){ .type = CODEC_EV_INFORMATION_CHARGE_LIMITS };
        m.u.ev_information_charge_limits = (struct codec_ev_information_charge_limits){
                .ev_minimum_charge_current_da = 0,
                .ev_maximum_charge_current_da = c->o.ev_max_current_da,
                .ev_minimum_charge_power_kw = 0,
                .ev_maximum_charge_power_kw =
                        (uint16_t)((uint32_t)c->o.ev_max_voltage_dv * c->o.ev_max_current_da / 100000u),
        };
        send(c, &m);
        /* A charge-only vehicle: no discharge, energy to absorb; a V2G one
         * (--discharge, B1) gives up to its discharge current. */
        m = (struct codec_message){ .type = CODEC_EV_INFORMATION_DISCHARGE_LIMITS };
        if (c->o.discharge)
                m.u.ev_information_discharge_limits = (struct codec_ev_information_discharge_limits){
                        .ev_maximum_discharge_current_da = c->o.discharge_current_da,
                        .ev_maximum_discharge_power_kw =
                                (uint16_t)((uint32_t)c->o.ev_max_voltage_dv * c->o.discharge_current_da / 100000u),
                };
        send(c, &m);
        m = (struct codec_message){ .type = CODEC_EV_INFORMATION_ENERGY };
        m.u.ev_information_energy.ev_target_energy_request_kwh =
                (int16_t)(c->o.capacity_kwh * (100 - c->o.soc_pct) / 100);
        m.u.ev_information_energy.ev_maximum_energy_request_kwh = m.u.ev_information_energy.ev_target_energy_request_kwh;
        send(c, &m);
}

/* Part D.3: EV_Information_Battery again whenever the EV's state of charge
 * moved (the diagrams refresh it inside the power transfer loop). */
static void refresh_soc(struct ctl *c)
{
        struct codec_message m = { .type = CODEC_EV_INFORMATION_BATTERY };

        if (!v3(c) || present_soc(c) == c->soc_sent)
                return;
        m.u.ev_information_battery = (struct codec_ev_information_battery){
                .battery_capacity_kwh = c->o.capacity_kwh,
                .present_state_of_charge_pct = present_soc(c),
                .target_state_of_charge_pct = 100,
                .maximum_state_of_charge_pct = 100,
        };
        send(c, &m);
        c->soc_sent = m.u.ev_information_battery.present_state_of_charge_pct;
}

static void send_charge_status(struct ctl *c, uint8_t ready)
{
        struct codec_message m = { .type = CODEC_CHARGE_STATUS_CHANGE };

        m.u.charge_status_change.vehicle_ready_for_charging = ready;
        send(c, &m);
}

static void send_estop(struct ctl *c, uint64_t now)
{
        struct codec_message m = { .type = CODEC_EMERGENCY_STOP };

        m.u.emergency_stop.origin = CODEC_ESTOP_ORIGIN_EVSE;
        send(c, &m);
        c->estop_last_us = now;
        c->estop_count++;
}

static void send_session_finished(struct ctl *c, uint8_t state)
{
        struct codec_message m = { .type = CODEC_CHARGE_SESSION_FINISHED };

        m.u.charge_session_finished.state = state;
        send(c, &m);
}

/* ---- extra traffic ---- */

/* --wrong-pistol: every controller message of a whole session, for another
 * pistol, every tick, with values that would be dangerous if obeyed.  The
 * power side must not react to any of them (R5). */
static void send_other_pistol(struct ctl *c)
{
        struct codec_message m[8];
        uint8_t other = c->o.other_pistol;

        m[0] = (struct codec_message){ .type = CODEC_ADVANTICS_CONTROLLER_STATUS };
        m[0].u.advantics_controller_status.state = CODEC_STATE_CHARGING;
        fill_new_charge_session(c, &m[1]);
        fill_insulation_test(c, &m[2], 10000);
        fill_precharge(c, &m[3], 8000, 500);
        m[4] = (struct codec_message){ .type = CODEC_CHARGE_STATUS_CHANGE };
        m[4].u.charge_status_change.vehicle_ready_for_charging = CODEC_CHARGE_STARTED;
        fill_loop(c, &m[5], 9000, 5000);
        m[6] = (struct codec_message){ .type = CODEC_EMERGENCY_STOP };
        m[6].u.emergency_stop.origin = CODEC_ESTOP_ORIGIN_EVSE;
        m[7] = (struct codec_message){ .type = CODEC_CHARGE_SESSION_FINISHED };
        m[7].u.charge_session_finished.state = CODEC_FINISHED_RUSHED_STOP;
        for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
                if (ctl_send_msg(c, &m[i], other) == 0)
                        c->tx_other_pistol++;
}

/* --malformed: frames of our identifiers, shorter than their message.  If
 * the power side padded them with zeros or ones it would read a heartbeat,
 * an emergency stop, an end of session or a huge request; it must drop
 * them (codec -EBADMSG) and go on. */
struct malformed_frame {
        enum codec_msg_type type;
        uint8_t len;
};

static const struct malformed_frame malformed_frames[] = {
        { CODEC_ADVANTICS_CONTROLLER_STATUS, 0 },
        { CODEC_CHARGING_LOOP, 4 },
        { CODEC_EMERGENCY_STOP, 0 },
        { CODEC_NEW_CHARGE_SESSION, 7 },
        { CODEC_CHARGE_SESSION_FINISHED, 0 },
        { CODEC_INSULATION_TEST, 1 },
        { CODEC_PRECHARGE, 3 },
        { CODEC_CHARGE_STATUS_CHANGE, 0 },
};

/* v3: a DC_Power_Control cut short would read as a power request, a short
 * OCPP_Control as a setpoint. */
static const struct malformed_frame malformed_frames_v3[] = {
        { CODEC_ADVANTICS_CONTROLLER_STATUS, 0 },
        { CODEC_DC_POWER_CONTROL, 6 },
        { CODEC_EMERGENCY_STOP, 0 },
        { CODEC_NEW_CHARGE_SESSION_V3, 1 },
        { CODEC_CHARGE_SESSION_FINISHED, 0 },
        { CODEC_DC_POWER_CONTROL, 2 },
        { CODEC_OCPP_CONTROL, 1 },
        { CODEC_CHARGE_STATUS_CHANGE, 0 },
};

#define MALFORMED_PER_TICK 2

static void send_malformed(struct ctl *c)
{
        const struct malformed_frame *frames = v3(c) ? malformed_frames_v3 : malformed_frames;
        size_t n = v3(c) ? sizeof(malformed_frames_v3) / sizeof(malformed_frames_v3[0])
                         : sizeof(malformed_frames) / sizeof(malformed_frames[0]);

        for (int k = 0; k < MALFORMED_PER_TICK; k++) {
                struct codec_frame f;
                size_t i = c->malformed_next++ % n;

                memset(&f, 0, sizeof(f));
                f.id = codec_frame_id(c->db, frames[i].type, c->o.pistol);
                f.extended = true;
                f.len = frames[i].len;
                memset(f.data, 0xFF, f.len);
                if (ctl_can_send(c, &f) == 0)
                        c->tx_malformed++;
        }
}

/* ---- faults ---- */

static uint64_t fault_delay_us(const struct ctl *c)
{
        if (c->o.fault_delay_ms >= 0)
                return (uint64_t)c->o.fault_delay_ms * 1000u;
        /* Charging: in the middle of the first current plateau, where the
         * current is steady and far from 0. */
        if (c->o.fault_state == CODEC_STATE_CHARGING)
                return ms_us(c->o.charge_ms) * 3 / 8;
        return FAULT_DEFAULT_DELAY_US;
}

/* A fault armed for the current state holds the step there until it fired. */
static bool fault_holds(const struct ctl *c)
{
        return (c->o.fault == CTL_FAULT_HEARTBEAT_STOP || c->o.fault == CTL_FAULT_ESTOP ||
                c->o.fault == CTL_FAULT_UNDEFINED_FUNCTION) &&
               !c->fault_fired && c->wire_state == c->o.fault_state;
}

/* The controller's own emergency stop (R45): Emergency_Stop every tick from
 * now on, the state frozen. */
static void start_emergency(struct ctl *c, uint64_t now, const char *why)
{
        ctl_log(c, "Emergency_Stop (Origin = EVSE): %s", why);
        c->frozen_state = c->wire_state;
        set_step(c, STEP_EMERGENCY, now);
        c->estop_active = true;
        c->estop_first_us = now;
        send_estop(c, now);
}

static void fire_fault(struct ctl *c, uint64_t now)
{
        uint64_t margin = ms_us(c->o.margin_ms);

        c->fault_fired = true;
        c->fault_us = now;
        switch (c->o.fault) {
        case CTL_FAULT_HEARTBEAT_STOP:
        case CTL_FAULT_ESTOP:
                /* The power side must come back for a second session (the
                 * latch ends with a new one). */
                c->sessions_wanted++;
                break;
        case CTL_FAULT_INSULATION:
        case CTL_FAULT_UNDEFINED_FUNCTION:
        case CTL_FAULT_NONE:
                break;
        }
        switch (c->o.fault) {
        case CTL_FAULT_UNDEFINED_FUNCTION:
                /* V25: a request the power side cannot know; no power
                 * while it lasts, but nothing to latch: the same session
                 * goes on afterwards. */
                ctl_log(c, "fault: DC_Power_Control with Power_Function 3 (undefined) for %.1f s (V25, E.27)",
                        UNDEFINED_FUNCTION_US / 1e6);
                c->undefined_until_us = now + UNDEFINED_FUNCTION_US;
                c->undefined_since_us = now;
                c->undefined_confirmed = false;
                ctl_check_request(c, 0, c->req_dv, now);
                break;
        case CTL_FAULT_HEARTBEAT_STOP:
                ctl_log(c, "fault: the controller goes silent in %s (R1)", ctl_state_name(c->wire_state));
                set_step(c, STEP_SILENT, now);
                /* R1: 200 ms without a heartbeat, then one status period
                 * for the report, and the measurement margin. */
                ctl_check_expect_off(c, "the heartbeat stopped", now,
                                     c->last_heartbeat_us + 200000u + CTL_TICK_US + margin, false);
                break;
        case CTL_FAULT_ESTOP:
                /* Keep asking for power during the stop: the latch must
                 * hold against requests (R45, R46). */
                c->frozen_request_valid = true;
                switch (c->step) {
                case STEP_INSULATION_TEST:
                        fill_insulation_test(c, &c->frozen_request, c->o.test_voltage_dv);
                        break;
                case STEP_PRECHARGE:
                        fill_precharge(c, &c->frozen_request, c->o.battery_voltage_dv, c->o.precharge_current_da);
                        break;
                case STEP_CHARGING:
                        fill_loop(c, &c->frozen_request, c->req_dv, c->req_da);
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
                        c->frozen_request_valid = false;
                        break;
                }
                ctl_log(c, "fault: Emergency_Stop in %s (R45)", ctl_state_name(c->wire_state));
                start_emergency(c, now, "injected fault");
                /* At once: one status period and the margin. */
                ctl_check_expect_off(c, "Emergency_Stop", now, now + CTL_TICK_US + margin, false);
                break;
        case CTL_FAULT_INSULATION:
        case CTL_FAULT_NONE:
                break;
        }
}

static void maybe_fire_fault(struct ctl *c, uint64_t now)
{
        if (!fault_holds(c))
                return;
        switch (c->step) {
        case STEP_SILENT:
        case STEP_EMERGENCY:
        case STEP_ABORT:
        case STEP_DONE:
                return;
        case STEP_INITIALISING:
        case STEP_NOT_AVAILABLE:
        case STEP_WAITING_FOR_PEV:
        case STEP_NEGOTIATING:
        case STEP_CCS_AUTHORISATION:
        case STEP_CONNECTED:
        case STEP_INSULATION_TEST:
        case STEP_INSULATION_END:
        case STEP_PRECHARGE:
        case STEP_WAITING_FOR_CHARGE:
        case STEP_CHARGING:
        case STEP_ENDING_CHARGE:
        case STEP_WELDING_DETECTION:
        case STEP_CLOSING:
        case STEP_COOLDOWN:
                break;
        }
        if (now - c->state_since_us >= fault_delay_us(c))
                fire_fault(c, now);
}

/* ---- the steps ---- */

static bool fresh(const struct ctl *c, uint64_t since)
{
        return c->st.valid && c->st.t_us >= since;
}

static void step_initialising(struct ctl *c, uint64_t now)
{
        if (in_step(c, now) < ms_us(c->o.init_ms))
                return;
        set_step(c, c->o.sequence_flags ? STEP_NOT_AVAILABLE : STEP_WAITING_FOR_PEV, now);
}

static bool start_authorised(const struct ctl *c)
{
        return c->flags_seen && c->flags.start_charge_authorisation;
}

static void step_not_available(struct ctl *c, uint64_t now)
{
        if (!c->step_entered)
                ctl_log(c, "waiting for Start_Charge_Authorisation = 1 in Sequence_Control (R9)");
        if (start_authorised(c)) {
                set_step(c, STEP_WAITING_FOR_PEV, now);
                return;
        }
        if (in_step(c, now) >= ms_us(c->o.auth_timeout_ms))
                ctl_fail(c, "Start_Charge_Authorisation still 0 after %.1f s: the controller stays Not_Available (R9)",
                         c->o.auth_timeout_ms / 1000.0);
}

static void step_waiting(struct ctl *c, uint64_t now)
{
        /* R9: a level; withdrawn before the session -> Not_Available. */
        if (c->o.sequence_flags && !start_authorised(c)) {
                set_step(c, STEP_NOT_AVAILABLE, now);
                return;
        }
        if (c->sessions_done >= c->sessions_wanted) {
                if (in_step(c, now) >= ms_us(c->o.after_ms))
                        set_step(c, STEP_DONE, now);
                return;
        }
        if (in_step(c, now) >= ms_us(c->o.idle_ms)) {
                if (c->sessions_done > 0)
                        ctl_log(c, "session %u: an EV plugs in", c->sessions_done + 1);
                set_step(c, STEP_NEGOTIATING, now);
        }
}

static void step_negotiating(struct ctl *c, uint64_t now)
{
        if (in_step(c, now) < ms_us(c->o.negotiate_ms))
                return;
        if (c->o.external_auth)
                set_step(c, STEP_CCS_AUTHORISATION, now);
        else
                set_step(c, STEP_CONNECTED, now);
}

static void step_ccs_authorisation(struct ctl *c, uint64_t now)
{
        if (!c->step_entered)
                ctl_log(c, "waiting for CCS_Authorisation_Done = 1 (R11)");
        if (c->flags_seen && c->flags.ccs_authorisation_done) {
                if (!c->flags.ccs_authorisation_valid) {
                        ctl_fail(c, "the power side refused the authorisation (CCS_Authorisation_Valid = 0, R11)");
                        return;
                }
                ctl_log(c, "authorisation valid (R11)");
                set_step(c, STEP_CONNECTED, now);
                return;
        }
        if (in_step(c, now) >= ms_us(c->o.auth_timeout_ms))
                ctl_fail(c, "CCS_Authorisation_Done still 0 after %.1f s (R11)", c->o.auth_timeout_ms / 1000.0);
}

static void step_connected(struct ctl *c, uint64_t now)
{
        struct codec_message m;

        if (!c->step_entered) {
                ctl_check_window_open(c, now);
                c->no_enable_until_ncs = false;
                c->reaction.armed = false;
                c->power_phase_reached = false;
                c->ev_info_sent = false;
                if (v3(c)) {
                        ctl_log(c, "New_Charge_Session: protocol %u, plug %u; EV_Information_*: EV max %.1f V %.1f A, %u kWh, SoC %u %% (V5)",
                                c->o.comm_protocol, c->o.plug, c->o.ev_max_voltage_dv / 10.0,
                                c->o.ev_max_current_da / 10.0, c->o.capacity_kwh, c->o.soc_pct);
                } else {
                        const struct codec_new_charge_session *n;

                        fill_new_charge_session(c, &m);
                        n = &m.u.new_charge_session;
                        ctl_log(c, "New_Charge_Session: protocol %u, plug %u, EV max %.1f V %.1f A, %u kWh, SoC %u %% (R19)",
                                n->communication_protocol, n->plug_and_pins, n->ev_maximum_voltage_dv / 10.0,
                                n->ev_maximum_current_da / 10.0, n->battery_capacity_kwh, n->state_of_charge_pct);
                }
        }
        if (c->enabled) {
                /* R23: one standby right after System_Enable = Allowed. */
                if (!c->enable_ack_sent) {
                        send_standby(c);
                        c->enable_ack_sent = true;
                }
                /* R13: with sequence flags, the limits must be final. */
                if (c->o.sequence_flags && !(c->flags_seen && c->flags.charge_parameters_done)) {
                        if (in_step(c, now) >= ms_us(c->o.enable_timeout_ms))
                                ctl_fail(c, "Charge_Parameters_Done still 0 %.1f s after New_Charge_Session (R13)",
                                         c->o.enable_timeout_ms / 1000.0);
                        return;
                }
                if (!fault_holds(c))
                        set_step(c, STEP_INSULATION_TEST, now);
                return;
        }
        /* R19: repeated until System_Enable = Allowed. */
        fill_new_charge_session(c, &m);
        send(c, &m);
        if (v3(c) && !c->ev_info_sent) {
                send_ev_information(c);
                c->ev_info_sent = true;
        }
        if (in_step(c, now) >= ms_us(c->o.enable_timeout_ms)) {
                ctl_fail(c, "System_Enable still Not_Allowed %.1f s after New_Charge_Session (R20)",
                         c->o.enable_timeout_ms / 1000.0);
                return;
        }
        /* V5, R19: the EV does not wait for the power side; a v3
         * controller goes on to Insulation_Test, still repeating
         * New_Charge_Session, and sends the test's DC_Power_Control once
         * System_Enable = Allowed (a power side may wake up only then). */
        if (v3(c) && in_step(c, now) >= CTL_V3_EV_PROCEEDS_US && !fault_holds(c) &&
            !(c->o.sequence_flags && !(c->flags_seen && c->flags.charge_parameters_done))) {
                ctl_log(c, "the EV asks for the insulation test; System_Enable still Not_Allowed, New_Charge_Session goes on (V5)");
                set_step(c, STEP_INSULATION_TEST, now);
        }
}

static void insulation_failed(struct ctl *c, uint64_t now, const char *what)
{
        if (c->o.fault != CTL_FAULT_INSULATION) {
                ctl_fail(c, "insulation test failed: %s (R27, R28)", what);
                return;
        }
        c->insulation_failed = true;
        ctl_log(c, "insulation test failed as expected: %s", what);
        snprintf(c->reaction_report, sizeof(c->reaction_report), "insulation test failed: %s", what);
        start_emergency(c, now, "insulation test failed (R28)");
        ctl_check_expect_off(c, "the Emergency_Stop after the failed insulation test", now,
                             now + CTL_TICK_US + ms_us(c->o.margin_ms), true);
}

/* The controller's pass threshold: R27, 100 ohm/V of the test voltage
 * (kOhm >= V / 10); V9, E.5: v3 firmware uses IEC 61851-23's absolute
 * 100 kOhm (CCS, CHAdeMO) and 125 kOhm (MCS: raw 63 = 126 kOhm). */
uint16_t ctl_insulation_threshold_kohm(const struct ctl *c)
{
        if (v3(c))
                return c->o.plug == CODEC_PLUG_MCS ? 126 : 100;
        return (uint16_t)(c->o.test_voltage_dv / 100u);
}

static void step_insulation_test(struct ctl *c, uint64_t now)
{
        uint16_t test = c->o.test_voltage_dv;
        uint16_t threshold_kohm = ctl_insulation_threshold_kohm(c);
        char what[128];

        if (v3(c) && !c->enabled) {
                /* V5: still waiting for System_Enable, New_Charge_Session
                 * repeated; no test request before it (V6). */
                struct codec_message m;

                fill_new_charge_session(c, &m);
                send(c, &m);
                if (now - c->window_open_us >= ms_us(c->o.enable_timeout_ms))
                        ctl_fail(c, "System_Enable still Not_Allowed %.1f s after New_Charge_Session (R20)",
                                 c->o.enable_timeout_ms / 1000.0);
                return;
        }
        if (v3(c) && !c->enable_ack_sent) {
                /* V6: one Standby once System_Enable = Allowed. */
                send_standby(c);
                c->enable_ack_sent = true;
                c->step_since_us = now;
                c->step_entered = false;
        }
        if (!c->step_entered) {
                c->power_phase_reached = true;
                c->ins_good = 0;
                c->ins_bad = 0;
                c->ins_reached = false;
                c->ins_min_kohm = UINT16_MAX;
                ctl_log(c, "Insulation_Test at %.1f V: pass with >= %u kOhm for %u iterations once at >= %.1f V (%s)",
                        test / 10.0, threshold_kohm, c->o.insulation_iterations, test * 0.9 / 10.0,
                        v3(c) ? "V9, E.5" : "R27");
        }
        if (fresh(c, c->step_since_us)) {
                const struct ctl_status *s = &c->st;

                if (!c->ins_reached && (uint32_t)s->voltage_dv * 10u >= (uint32_t)test * 9u) {
                        c->ins_reached = true;
                        if (c->ins_reached_us == 0)
                                c->ins_reached_us = s->t_us - c->step_since_us;
                        ctl_log(c, "Present_Voltage %.1f V reached 90 %% of the test voltage after %.2f s",
                                s->voltage_dv / 10.0, (double)(s->t_us - c->step_since_us) / 1e6);
                }
                if (c->ins_reached) {
                        if (s->insulation_kohm < c->ins_min_kohm)
                                c->ins_min_kohm = s->insulation_kohm;
                        if (s->insulation_kohm >= threshold_kohm) {
                                c->ins_good++;
                                c->ins_bad = 0;
                        } else {
                                c->ins_bad++;
                                c->ins_good = 0;
                        }
                }
        }
        if (c->ins_good >= c->o.insulation_iterations && !fault_holds(c)) {
                if (c->o.fault == CTL_FAULT_INSULATION) {
                        ctl_fail(c, "the insulation test passed (%u iterations, lowest %u kOhm >= %u kOhm) although an insulation fault was expected",
                                 c->ins_good, c->ins_min_kohm, threshold_kohm);
                        return;
                }
                ctl_log(c, "insulation test passed: %u iterations, lowest %u kOhm (>= %u kOhm)", c->ins_good,
                        c->ins_min_kohm, threshold_kohm);
                set_step(c, STEP_INSULATION_END, now);
                return;
        }
        if (c->ins_bad >= c->o.insulation_iterations) {
                snprintf(what, sizeof(what), "%u kOhm < %u kOhm for %u iterations at %.1f V", c->st.insulation_kohm,
                         threshold_kohm, c->ins_bad, c->st.voltage_dv / 10.0);
                insulation_failed(c, now, what);
                return;
        }
        if (in_step(c, now) >= ms_us(c->o.insulation_timeout_ms)) {
                if (!c->ins_reached)
                        snprintf(what, sizeof(what), "timed out after %.1f s, Present_Voltage %.1f V never reached 90 %% of %.1f V",
                                 c->o.insulation_timeout_ms / 1000.0, c->st.voltage_dv / 10.0, test / 10.0);
                else
                        snprintf(what, sizeof(what), "timed out after %.1f s, %u kOhm (threshold %u kOhm)",
                                 c->o.insulation_timeout_ms / 1000.0, c->st.insulation_kohm, threshold_kohm);
                insulation_failed(c, now, what);
                return;
        }
        send_insulation_test(c, test);
}

static void step_insulation_end(struct ctl *c, uint64_t now)
{
        if (!c->step_entered)
                c->end_frames_sent = false;
        /* R29, V10: repeated while Present_Voltage > 20 V. */
        if (c->end_frames_sent && fresh(c, c->end_frames_us) && c->st.voltage_dv <= DISCHARGED_VOLTAGE_DV &&
            !fault_holds(c)) {
                ctl_log(c, "output at %.1f V %.2f s after the end of the test (%s: <= 20 V)",
                        c->st.voltage_dv / 10.0, (double)(c->st.t_us - c->step_since_us) / 1e6,
                        v3(c) ? "V10" : "R29");
                /* R30: CHAdeMO closes its contactors now, no precharge. */
                set_step(c, c->o.protocol == CTL_PROTOCOL_CCS ? STEP_PRECHARGE : STEP_WAITING_FOR_CHARGE, now);
                return;
        }
        if (in_step(c, now) >= ms_us(c->o.discharge_timeout_ms)) {
                ctl_fail(c, "Present_Voltage still %.1f V %.1f s after the end of the insulation test (%s: <= 20 V)",
                         c->st.voltage_dv / 10.0, c->o.discharge_timeout_ms / 1000.0, v3(c) ? "V10" : "R29");
                return;
        }
        if (v3(c)) {
                /* V10, E.14: Standby with Lowering, contactors kept closed,
                 * while the output is above 20 V. */
                send_standby_v3(c, true, true);
        } else {
                send_insulation_test(c, 0);
                send_standby(c);
        }
        if (!c->end_frames_sent) {
                c->end_frames_sent = true;
                c->end_frames_us = now;
        }
}

static void step_precharge(struct ctl *c, uint64_t now)
{
        struct codec_message m;
        int32_t diff;

        if (!c->step_entered)
                ctl_log(c, "Precharge to %.1f V, at most %.1f A (%s)", c->o.battery_voltage_dv / 10.0,
                        c->o.precharge_current_da / 10.0, v3(c) ? "V11" : "R31");
        diff = (int32_t)c->st.voltage_dv - c->o.battery_voltage_dv;
        if (c->step_ticks > 0 && fresh(c, c->step_since_us) && diff <= PRECHARGE_WINDOW_DV &&
            diff >= -PRECHARGE_WINDOW_DV && !fault_holds(c)) {
                /* R33: the EV closes its contactors; one Precharge with
                 * 0 A, then one standby.  V13: one Standby. */
                ctl_log(c, "precharge done at %.1f V after %.2f s; the EV closes its contactors (%s)",
                        c->st.voltage_dv / 10.0, (double)in_step(c, now) / 1e6, v3(c) ? "V13" : "R33");
                if (!v3(c)) {
                        fill_precharge(c, &m, c->o.battery_voltage_dv, 0);
                        send(c, &m);
                }
                send_standby(c);
                set_step(c, STEP_WAITING_FOR_CHARGE, now);
                return;
        }
        if (in_step(c, now) >= ms_us(c->o.precharge_timeout_ms)) {
                ctl_fail(c, "precharge: Present_Voltage %.1f V not within 20 V of %.1f V after %.1f s (R33)",
                         c->st.voltage_dv / 10.0, c->o.battery_voltage_dv / 10.0,
                         c->o.precharge_timeout_ms / 1000.0);
                return;
        }
        fill_precharge(c, &m, c->o.battery_voltage_dv, c->o.precharge_current_da);
        send(c, &m);
}

static void step_waiting_for_charge(struct ctl *c, uint64_t now)
{
        if (!c->step_entered) {
                /* R35: once each. */
                send_charge_status(c, CODEC_CHARGE_STARTED);
                send_standby(c);
        }
        if (in_step(c, now) >= ms_us(c->o.wait_charge_ms) && !fault_holds(c))
                set_step(c, STEP_CHARGING, now);
}

/* The current profile: ramp to A over the first quarter, hold A, step to
 * B, step to C (R37: steps without ramps). */
static int16_t profile_da(const struct ctl *c, uint64_t t)
{
        uint64_t q = ms_us(c->o.charge_ms) / 4;

        if (t < q)
                return (int16_t)((uint64_t)c->o.profile_da[0] * t / q);
        if (t < 2 * q)
                return (int16_t)c->o.profile_da[0];
        if (t < 3 * q)
                return (int16_t)c->o.profile_da[1];
        return (int16_t)c->o.profile_da[2];
}

/* --discharge (B2): charge, discharge, charge again, a third of the time
 * each. */
static int discharge_phase(const struct ctl *c, uint64_t t)
{
        uint64_t third = ms_us(c->o.charge_ms) / 3;

        return t < third ? 0 : t < 2 * third ? 1 : 2;
}

static int16_t discharge_profile_da(const struct ctl *c, int phase)
{
        switch (phase) {
        case 0:
                return (int16_t)c->o.profile_da[0];
        case 1:
                return (int16_t)-c->o.discharge_current_da;
        default:
                return (int16_t)c->o.profile_da[2];
        }
}

/* B3, B5: Range_Mode, the range from the full discharge (Min, negative) to
 * the full charge (Max); the point comes from OCPP_Control, as a CSMS
 * picks it (V16), sent once at each change. */
static void send_range(struct ctl *c, int16_t want)
{
        struct codec_message m;
        int16_t max = (int16_t)c->o.profile_da[0];

        if ((int16_t)c->o.profile_da[2] > max)
                max = (int16_t)c->o.profile_da[2];
        fill_power_control(&m, CODEC_POWER_FUNCTION_POWER_TRANSFER, c->o.charge_voltage_dv, max,
                           (int16_t)-c->o.discharge_current_da, CODEC_SETPOINTS_RANGE_MODE, true, false);
        send(c, &m);
        if (want != c->req_da || !c->loop_sent) {
                m = (struct codec_message){ .type = CODEC_OCPP_CONTROL };
                m.u.ocpp_control.dynamic_target_current_da = want;
                send(c, &m);
        }
}

static void step_charging(struct ctl *c, uint64_t now)
{
        uint64_t t = in_step(c, now);
        int16_t want;
        int quarter;
        bool due;

        if (!c->step_entered) {
                uint64_t q = ms_us(c->o.charge_ms) / 4;
                uint64_t room;

                c->charge_start_us = now;
                c->req_da = 0;
                c->prev_req_da = 0;
                c->req_dv = 0;
                c->req_change_us = now;
                c->loop_sent = false;
                c->charge_quarter = 0;
                c->gap_done = false;
                c->gap_start_us = 0;
                c->gap_end_us = 0;
                /* R38: one long pause of the CCS loop, inside the plateau
                 * at B, after the settling time, shortened to fit. */
                if (c->o.protocol == CTL_PROTOCOL_CCS && c->o.ccs_gap_ms > 0) {
                        uint64_t start = 2 * q + q / 4;
                        uint64_t len = ms_us(c->o.ccs_gap_ms);

                        room = 3 * q > start + CTL_TICK_US ? 3 * q - start - CTL_TICK_US : 0;
                        if (len > room)
                                len = room;
                        if (len >= 2 * CTL_TICK_US) {
                                c->gap_start_us = now + start;
                                c->gap_end_us = now + start + len;
                        }
                }
                c->discharge_phase = -1;
                if (c->o.discharge)
                        ctl_log(c, "Power_Transfer (%s) at %.1f V: %.1f A, then %.1f A out of the EV, then %.1f A, "
                                "over %.1f s (B2)", c->o.range_mode ? "Range_Mode, OCPP_Control's target" : "Target_Mode",
                                c->o.charge_voltage_dv / 10.0, c->o.profile_da[0] / 10.0,
                                c->o.discharge_current_da / 10.0, c->o.profile_da[2] / 10.0, c->o.charge_ms / 1000.0);
                else
                        ctl_log(c, "%s at %.1f V: ramp to %.1f A, then %.1f A, then %.1f A over %.1f s (%s)",
                                v3(c) ? "Power_Transfer (Target_Mode)" : "Charging_Loop",
                                c->o.charge_voltage_dv / 10.0, c->o.profile_da[0] / 10.0,
                                c->o.profile_da[1] / 10.0, c->o.profile_da[2] / 10.0, c->o.charge_ms / 1000.0,
                                c->o.protocol == CTL_PROTOCOL_CCS ? "CCS: the EV sets the pace"
                                                                 : "CHAdeMO: every 100 ms");
        }
        /* R14: the power side's stop button asks for a normal end. */
        if (c->user_stop_seen && c->o.sequence_flags) {
                c->user_stop_seen = false;
                ctl_log(c, "User_Stop_Button pressed: normal end of charge (R14)");
                set_step(c, STEP_ENDING_CHARGE, now);
                return;
        }
        if (t >= ms_us(c->o.charge_ms) && !fault_holds(c)) {
                if (c->o.expect_shutdown && c->o.shutdown_state == CODEC_STATE_CHARGING && !c->shutdown_seen) {
                        ctl_fail(c, "System_Enable stayed Allowed through Charging although a shutdown was expected");
                        return;
                }
                set_step(c, STEP_ENDING_CHARGE, now);
                return;
        }

        want = profile_da(c, t);
        if (c->o.discharge) {
                int phase = discharge_phase(c, t);

                want = discharge_profile_da(c, phase);
                if (phase != c->discharge_phase) {
                        c->discharge_phase = phase;
                        ctl_log(c, "requesting %.1f A (%s) at %.1f V", want / 10.0,
                                want < 0 ? "out of the EV" : "into the EV", c->o.charge_voltage_dv / 10.0);
                }
        }
        quarter = (int)(t / (ms_us(c->o.charge_ms) / 4));
        if (!c->o.discharge && quarter != c->charge_quarter && quarter >= 1 && quarter <= 3) {
                c->charge_quarter = quarter;
                ctl_log(c, "requesting %.1f A at %.1f V", want / 10.0, c->o.charge_voltage_dv / 10.0);
        }
        if (c->o.protocol == CTL_PROTOCOL_CHADEMO) {
                due = true;
        } else if (c->gap_start_us && now >= c->gap_start_us && now < c->gap_end_us) {
                if (!c->gap_done) {
                        c->gap_done = true;
                        ctl_log(c, "the EV pauses its requests for %.1f s; the power side must hold %.1f A (R38)",
                                (double)(c->gap_end_us - c->gap_start_us) / 1e6, c->req_da / 10.0);
                }
                due = false;
        } else {
                due = !c->loop_sent || want != c->req_da ||
                      now - c->loop_sent_us >= ms_us(c->o.loop_period_ms);
        }
        if (c->undefined_until_us) {
                if (now < c->undefined_until_us) {
                        /* V25: Power_Function 3, the setpoints unchanged;
                         * no current expected (req 0 since the fault). */
                        struct codec_message m;

                        fill_power_control(&m, 3, c->o.charge_voltage_dv, want, want,
                                           CODEC_SETPOINTS_TARGET_MODE, true, false);
                        send(c, &m);
                        return;
                }
                c->undefined_until_us = 0;
                if (!c->undefined_confirmed) {
                        ctl_fail(c, "the current never fell to %.1f A while Power_Function 3 was asked for (V25)",
                                 c->o.off_current_da / 10.0);
                        return;
                }
                ctl_log(c, "Power_Transfer again at %.1f A: the current must follow again", want / 10.0);
                due = true;
        }
        if (due && c->o.discharge && c->o.range_mode) {
                send_range(c, want);
                c->loop_sent = true;
                c->loop_sent_us = now;
                ctl_check_request(c, want, c->o.charge_voltage_dv, now);
                refresh_soc(c);
        } else if (due) {
                struct codec_message m;

                fill_loop(c, &m, c->o.charge_voltage_dv, want);
                send(c, &m);
                c->loop_sent = true;
                c->loop_sent_us = now;
                ctl_check_request(c, want, c->o.charge_voltage_dv, now);
                refresh_soc(c);
        }
}

static void step_ending_charge(struct ctl *c, uint64_t now)
{
        int16_t limit = c->o.protocol == CTL_PROTOCOL_CCS ? END_CURRENT_CCS_DA : END_CURRENT_CHADEMO_DA;

        if (!c->step_entered) {
                /* B2: charge, discharge, charge: two reversals, unless the
                 * power side announced no discharge (B1: refused, 0 A, which
                 * the follow check held it to). */
                if (c->o.discharge && c->discharge_phase == 2) {
                        if (c->discharge_limit_da > 0 && c->reversals < 2) {
                                ctl_fail(c, "the current reversed %u times, expected 2 (charge, discharge, charge, B2)",
                                         c->reversals);
                                return;
                        }
                        if (c->discharge_limit_da == 0 && c->reversals > 0) {
                                ctl_fail(c, "the current reversed %u times although no discharge was announced (B1)",
                                         c->reversals);
                                return;
                        }
                }
                /* R41: once each. */
                send_charge_status(c, CODEC_CHARGE_STOPPED);
                send_standby(c);
                ctl_check_request(c, 0, 0, now);
                return;
        }
        if (fresh(c, c->step_since_us) && c->st.current_da <= limit && c->st.current_da >= -limit &&
            !fault_holds(c)) {
                ctl_log(c, "current down to %.1f A %.2f s after Charge_Stopped (%s: <= %.0f A)",
                        c->st.current_da / 10.0, (double)(c->st.t_us - c->step_since_us) / 1e6,
                        v3(c) ? "V20" : "R41", limit / 10.0);
                if (v3(c)) {
                        /* V20, E.13: then the contactors open, then the
                         * lowering; the controller does not wait for the
                         * voltage. */
                        send_standby_v3(c, false, false);
                        send_standby_v3(c, false, true);
                        ctl_log(c, "Standby: output contactors open, Lower_Output_Voltage (V20, V21)");
                }
                set_step(c, c->o.welding ? STEP_WELDING_DETECTION : STEP_CLOSING, now);
                return;
        }
        if (in_step(c, now) >= ms_us(c->o.end_timeout_ms))
                ctl_fail(c, "Present_Current still %.1f A %.1f s after Charge_Stopped (%s: <= %.0f A)",
                         c->st.current_da / 10.0, c->o.end_timeout_ms / 1000.0, v3(c) ? "V20" : "R41",
                         limit / 10.0);
}

static void step_welding(struct ctl *c, uint64_t now)
{
        /* R42: nothing to send; the status must keep coming (gap check). */
        if (in_step(c, now) >= ms_us(c->o.welding_ms) && !fault_holds(c))
                set_step(c, STEP_CLOSING, now);
}

static void finish_session(struct ctl *c, uint64_t now, uint8_t how)
{
        send_session_finished(c, how);
        ctl_check_window_close(c, now);
        c->sessions_done++;
        ctl_log(c, "Charge_Session_Finished (%s): session %u over (R44)",
                how == CODEC_FINISHED_CLEAN_STOP ? "Clean_Stop" : "Rushed_Stop", c->sessions_done);
}

static void step_closing(struct ctl *c, uint64_t now)
{
        if (v3(c) && !c->step_entered && c->st.valid && c->st.voltage_dv > DISCHARGED_VOLTAGE_DV) {
                /* V23: still above 20 V on entering Closing_Communication
                 * (no output contactors, or welding detection recharged
                 * the capacitors): a Standby with Lowering, to be honoured. */
                ctl_log(c, "output at %.1f V in Closing_Communication: Standby with Lower_Output_Voltage (V23)",
                        c->st.voltage_dv / 10.0);
                send_standby_v3(c, false, true);
        }
        if (c->o.protocol == CTL_PROTOCOL_CHADEMO && !c->o.supervisor) {
                /* R43: the connector unlocks at <= 10 V. */
                if (!(fresh(c, c->step_since_us) && c->st.voltage_dv <= UNLOCK_VOLTAGE_DV)) {
                        if (in_step(c, now) >= ms_us(c->o.unlock_timeout_ms))
                                ctl_fail(c, "Present_Voltage still %.1f V %.1f s into Closing_Communication: the CHAdeMO connector stays locked (R43: <= 10 V)",
                                         c->st.voltage_dv / 10.0, c->o.unlock_timeout_ms / 1000.0);
                        return;
                }
                ctl_log(c, "output at %.1f V: the connector unlocks (R43)", c->st.voltage_dv / 10.0);
        }
        if (fault_holds(c))
                return;
        finish_session(c, now, CODEC_FINISHED_CLEAN_STOP);
        set_step(c, STEP_COOLDOWN, now);
}

static void step_cooldown(struct ctl *c, uint64_t now)
{
        if (in_step(c, now) < ms_us(c->o.cooldown_ms))
                return;
        if (c->estop_active) {
                /* R46: the controller passes through a state that
                 * re-evaluates the stop; the cause is gone. */
                c->estop_active = false;
                ctl_log(c, "Emergency_Stop frames stop (%llu sent, R46)", (unsigned long long)c->estop_count);
        }
        set_step(c, STEP_WAITING_FOR_PEV, now);
}

static void step_silent(struct ctl *c, uint64_t now)
{
        if (in_step(c, now) < ms_us(c->o.silence_ms))
                return;
        /* Back, as after a restart, outside any session: the power side
         * closes its window and keeps System_Enable at 0 until a new
         * New_Charge_Session. */
        ctl_log(c, "the controller is back after %.1f s of silence", (double)in_step(c, now) / 1e6);
        ctl_check_window_close(c, now);
        c->sessions_done++;
        c->no_enable_until_ncs = true;
        set_step(c, STEP_WAITING_FOR_PEV, now);
}

static void step_emergency(struct ctl *c, uint64_t now)
{
        const struct ctl_reaction *re = &c->reaction;

        if (c->frozen_request_valid)
                send(c, &c->frozen_request);
        if (in_step(c, now) < ms_us(c->o.estop_ms))
                return;
        /* Wait for the reaction's own deadlines rather than end the
         * session under them. */
        if (re->armed && (!re->confirmed || (re->need_discharge && !re->discharged)))
                return;
        c->no_enable_until_ncs = true;
        finish_session(c, now, CODEC_FINISHED_RUSHED_STOP);
        set_step(c, STEP_COOLDOWN, now);
}

static void step_abort(struct ctl *c, uint64_t now)
{
        if (!c->step_entered) {
                if (c->power_phase_reached)
                        send_standby(c);
                if (c->window_open)
                        finish_session(c, now, CODEC_FINISHED_RUSHED_STOP);
        }
        if (c->step_ticks == ABORT_CLOSING_TICKS)
                c->wire_state = CODEC_STATE_WAITING_FOR_PEV;
        if (c->step_ticks >= ABORT_CLOSING_TICKS + ABORT_WAITING_TICKS)
                set_step(c, STEP_DONE, now);
}

/* ---- supervisor mode ---- */

/* How long each power step lasts when the controller's own modules do the
 * power (no request on the bus, nothing to wait for). */
#define SUPERVISED_STEP_US 500000u
/* New_Charge_Session frames before the own modules' System_Enable. */
#define SUPERVISED_NCS_TICKS 3
#define EV_ID_PERIOD_US 1000000u

static bool step_is_supervised(enum ctl_step step)
{
        switch (step) {
        case STEP_CONNECTED:
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
        case STEP_WELDING_DETECTION:
        case STEP_CLOSING:
        case STEP_COOLDOWN:
        case STEP_SILENT:
        case STEP_EMERGENCY:
        case STEP_ABORT:
        case STEP_DONE:
                break;
        }
        return false;
}

/* EV_ID_CCS_Part2_DIN, every second from the EV's first message
 * (SessionSetup, in Negotiating_Connection) to the end of its session:
 * DIN 70121 and ISO 15118-2 carry an EVCCID, CHAdeMO none. */
static void maybe_send_ev_id(struct ctl *c, uint64_t now)
{
        struct codec_message m = { .type = CODEC_EV_ID_CCS_PART2_DIN };
        bool vehicle = false;

        if (!c->o.send_ev_id || c->o.protocol != CTL_PROTOCOL_CCS)
                return;
        switch (c->step) {
        case STEP_NEGOTIATING:
        case STEP_CCS_AUTHORISATION:
        case STEP_CONNECTED:
        case STEP_INSULATION_TEST:
        case STEP_INSULATION_END:
        case STEP_PRECHARGE:
        case STEP_WAITING_FOR_CHARGE:
        case STEP_CHARGING:
        case STEP_ENDING_CHARGE:
        case STEP_WELDING_DETECTION:
        case STEP_CLOSING:
                vehicle = true;
                break;
        case STEP_INITIALISING:
        case STEP_NOT_AVAILABLE:
        case STEP_WAITING_FOR_PEV:
        case STEP_COOLDOWN:
        case STEP_SILENT:
        case STEP_EMERGENCY:
        case STEP_ABORT:
        case STEP_DONE:
                vehicle = false;
                break;
        }
        if (!vehicle) {
                c->ev_id_sent_us = 0;
                return;
        }
        if (c->ev_id_sent_us != 0 && now - c->ev_id_sent_us < EV_ID_PERIOD_US)
                return;
        if (c->ev_id_sent_us == 0)
                ctl_log(c, "EV_ID_CCS_Part2_DIN %02X:%02X:%02X:%02X:%02X:%02X (every second until the session ends)",
                        c->o.ev_id[0], c->o.ev_id[1], c->o.ev_id[2], c->o.ev_id[3], c->o.ev_id[4], c->o.ev_id[5]);
        memcpy(m.u.ev_id_ccs_part2_din.byte, c->o.ev_id, sizeof(c->o.ev_id));
        send(c, &m);
        c->ev_id_sent_us = now;
}

/* --supervisor: the controller's own modules do the power.  The states go
 * by in time; no power request goes on the bus and no Power_Modules_Status
 * is awaited (the checks refuse any from the power side).  What the power
 * side still owes is Sequence_Control (R9, R11, R13, R14). */
static void step_supervised(struct ctl *c, uint64_t now)
{
        struct codec_message m;

        switch (c->step) {
        case STEP_CONNECTED:
                if (!c->step_entered) {
                        ctl_check_window_open(c, now);
                        c->power_phase_reached = false;
                        c->ev_info_sent = false;
                        ctl_log(c, "New_Charge_Session (the controller's own modules answer it)");
                }
                if (c->step_ticks < SUPERVISED_NCS_TICKS) {
                        fill_new_charge_session(c, &m);
                        send(c, &m);
                        if (v3(c) && !c->ev_info_sent) {
                                send_ev_information(c);
                                c->ev_info_sent = true;
                        }
                        return;
                }
                /* R13: with sequence flags, the parameters must be done. */
                if (c->o.sequence_flags && !(c->flags_seen && c->flags.charge_parameters_done)) {
                        if (c->step_ticks == SUPERVISED_NCS_TICKS)
                                ctl_log(c, "waiting for Charge_Parameters_Done = 1 (R13)");
                        if (in_step(c, now) >= ms_us(c->o.enable_timeout_ms))
                                ctl_fail(c, "Charge_Parameters_Done still 0 %.1f s after New_Charge_Session (R13)",
                                         c->o.enable_timeout_ms / 1000.0);
                        return;
                }
                set_step(c, STEP_INSULATION_TEST, now);
                return;
        case STEP_INSULATION_TEST:
        case STEP_INSULATION_END:
                if (in_step(c, now) >= SUPERVISED_STEP_US)
                        set_step(c, c->o.protocol == CTL_PROTOCOL_CCS ? STEP_PRECHARGE : STEP_WAITING_FOR_CHARGE, now);
                return;
        case STEP_PRECHARGE:
                if (in_step(c, now) >= SUPERVISED_STEP_US)
                        set_step(c, STEP_WAITING_FOR_CHARGE, now);
                return;
        case STEP_WAITING_FOR_CHARGE:
                if (!c->step_entered)
                        send_charge_status(c, CODEC_CHARGE_STARTED);
                if (in_step(c, now) >= ms_us(c->o.wait_charge_ms))
                        set_step(c, STEP_CHARGING, now);
                return;
        case STEP_CHARGING:
                if (!c->step_entered)
                        ctl_log(c, "charging on the controller's own modules for up to %.1f s", c->o.charge_ms / 1000.0);
                if (c->user_stop_seen && c->o.sequence_flags) {
                        c->user_stop_seen = false;
                        ctl_log(c, "User_Stop_Button pressed: normal end of charge (R14)");
                        set_step(c, STEP_ENDING_CHARGE, now);
                        return;
                }
                if (in_step(c, now) >= ms_us(c->o.charge_ms))
                        set_step(c, STEP_ENDING_CHARGE, now);
                return;
        case STEP_ENDING_CHARGE:
                if (!c->step_entered)
                        send_charge_status(c, CODEC_CHARGE_STOPPED);
                if (in_step(c, now) >= SUPERVISED_STEP_US)
                        set_step(c, c->o.welding ? STEP_WELDING_DETECTION : STEP_CLOSING, now);
                return;
        case STEP_INITIALISING:
        case STEP_NOT_AVAILABLE:
        case STEP_WAITING_FOR_PEV:
        case STEP_NEGOTIATING:
        case STEP_CCS_AUTHORISATION:
        case STEP_WELDING_DETECTION:
        case STEP_CLOSING:
        case STEP_COOLDOWN:
        case STEP_SILENT:
        case STEP_EMERGENCY:
        case STEP_ABORT:
        case STEP_DONE:
                break;
        }
}

/* ---- entry points ---- */

void ctl_flow_start(struct ctl *c)
{
        uint64_t now = ctl_now_us();

        c->sessions_wanted = 1;
        c->step = STEP_INITIALISING;
        c->step_since_us = now;
        c->state_since_us = now;
        c->wire_state = CODEC_STATE_INITIALISING;
        c->last_print_us = now;
        ctl_log(c, "seccsim session: pistol %u on %s, %s%s%s, interface version %u (database %s)", c->o.pistol,
                c->o.ifname, c->o.protocol == CTL_PROTOCOL_CCS ? "CCS" : "CHAdeMO",
                c->o.sequence_flags ? ", sequence flags" : "",
                c->o.supervisor ? ", supervisor mode (own power modules)" : "", c->o.interface_version, c->db->name);
        ctl_log(c, "state %s (%u)", ctl_state_name(c->wire_state), c->wire_state);
}

bool ctl_flow_finished(const struct ctl *c)
{
        return c->step == STEP_DONE;
}

void ctl_flow_abort(struct ctl *c, uint64_t now)
{
        if (c->step == STEP_ABORT || c->step == STEP_DONE)
                return;
        c->estop_active = false;
        if (c->step == STEP_CHARGING)
                c->charge_time_us += now - c->step_since_us;
        c->step = STEP_ABORT;
        c->step_since_us = now;
        c->step_entered = false;
        c->step_ticks = 0;
        if (c->wire_state != CODEC_STATE_CLOSING_COMMUNICATION) {
                c->wire_state = CODEC_STATE_CLOSING_COMMUNICATION;
                ctl_log(c, "clean-up: state %s, requests stopped", ctl_state_name(c->wire_state));
        }
}

/* One tick of the step the controller is in. */
static void run_step(struct ctl *c, uint64_t now)
{
        switch (c->step) {
        case STEP_INITIALISING:
                step_initialising(c, now);
                break;
        case STEP_NOT_AVAILABLE:
                step_not_available(c, now);
                break;
        case STEP_WAITING_FOR_PEV:
                step_waiting(c, now);
                break;
        case STEP_NEGOTIATING:
                step_negotiating(c, now);
                break;
        case STEP_CCS_AUTHORISATION:
                step_ccs_authorisation(c, now);
                break;
        case STEP_CONNECTED:
                step_connected(c, now);
                break;
        case STEP_INSULATION_TEST:
                step_insulation_test(c, now);
                break;
        case STEP_INSULATION_END:
                step_insulation_end(c, now);
                break;
        case STEP_PRECHARGE:
                step_precharge(c, now);
                break;
        case STEP_WAITING_FOR_CHARGE:
                step_waiting_for_charge(c, now);
                break;
        case STEP_CHARGING:
                step_charging(c, now);
                break;
        case STEP_ENDING_CHARGE:
                step_ending_charge(c, now);
                break;
        case STEP_WELDING_DETECTION:
                step_welding(c, now);
                break;
        case STEP_CLOSING:
                step_closing(c, now);
                break;
        case STEP_COOLDOWN:
                step_cooldown(c, now);
                break;
        case STEP_SILENT:
                step_silent(c, now);
                break;
        case STEP_EMERGENCY:
                step_emergency(c, now);
                break;
        case STEP_ABORT:
                step_abort(c, now);
                break;
        case STEP_DONE:
                break;
        }
}

void ctl_flow_tick(struct ctl *c, uint64_t now)
{
        enum ctl_step step = c->step;
        bool ours = step != STEP_SILENT && step != STEP_DONE;

        if (step == STEP_DONE)
                return;
        /* R1: the heartbeat first, every 100 ms. */
        if (ours)
                send_heartbeat(c, c->wire_state, now);
        /* R45: repeated every 100 ms while the stop lasts (the first one
         * went out when it started). */
        if (c->estop_active)
                send_estop(c, now);
        if (!c->failed) {
                if (c->o.wrong_pistol)
                        send_other_pistol(c);
                if (c->o.malformed && ours)
                        send_malformed(c);
        }

        /* --expect-shutdown: the controller answers a System_Enable = 0
         * during charging with its own emergency stop (R22, R47). */
        if (c->shutdown_seen && !c->shutdown_answered && !c->failed) {
                c->shutdown_answered = true;
                start_emergency(c, now, "System_Enable = Not_Allowed during the power phase (R22)");
                return;
        }
        maybe_fire_fault(c, now);
        if (c->step != step) {
                /* The fault took over: its step starts with the next tick. */
                return;
        }
        maybe_send_ev_id(c, now);

        if (c->o.supervisor && step_is_supervised(c->step))
                step_supervised(c, now);
        else
                run_step(c, now);
        if (c->step == step) {
                c->step_entered = true;
                c->step_ticks++;
        }

        if (c->o.print_ms > 0 && now - c->last_print_us >= ms_us(c->o.print_ms) &&
            (c->window_open || c->step == STEP_SILENT || c->step == STEP_EMERGENCY)) {
                c->last_print_us = now;
                ctl_print_measurement(c, now);
        }
}
