/* SPDX-License-Identifier: MIT */
/*
 * Driver for the core-cost benchmark (bench/core-cost.sh): repeats one kind
 * of work of the protocol core N times, so that the instruction count of a
 * run with 2N minus a run with N is the cost of N repetitions, start-up
 * excluded.
 *
 *   core-cost decode N     decode the controller's 8 messages N times each
 *   core-cost encode N     encode Power_Modules_Status N times
 *   core-cost session N    play a whole CCS session N times
 * and the same with interface version 3 (database v3.6):
 *   core-cost decode-v3 N  decode the v3 controller's 8 messages N times each
 *   core-cost decode-dpc N decode DC_Power_Control N times (v2: decode-cl,
 *                          Charging_Loop)
 *   core-cost encode-v3 N  encode the v3 Power_Modules_Status N times
 *   core-cost session-v3 N play a whole v3 CCS session N times
 *
 * Prints how many units of work it did (frames decoded, frames encoded,
 * session steps: frames handled, measurements and timer runs), so the
 * script divides by the right number; the session fails unless it charged.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seccbridge/codec.h"
#include "seccbridge/session.h"

static const enum codec_msg_type controller_msgs[] = {
        CODEC_ADVANTICS_CONTROLLER_STATUS, CODEC_NEW_CHARGE_SESSION, CODEC_INSULATION_TEST,
        CODEC_PRECHARGE,                   CODEC_CHARGE_STATUS_CHANGE, CODEC_CHARGING_LOOP,
        CODEC_EMERGENCY_STOP,              CODEC_CHARGE_SESSION_FINISHED,
};
#define N_CONTROLLER_MSGS (sizeof(controller_msgs) / sizeof(controller_msgs[0]))

/* v3: the same eight roles (DC_Power_Control carries every power request;
 * EV_Information_Battery and OCPP_Control in place of the v2-only ones). */
static const enum codec_msg_type controller_msgs_v3[] = {
        CODEC_ADVANTICS_CONTROLLER_STATUS, CODEC_NEW_CHARGE_SESSION_V3, CODEC_DC_POWER_CONTROL,
        CODEC_EV_INFORMATION_BATTERY,      CODEC_CHARGE_STATUS_CHANGE,  CODEC_OCPP_CONTROL,
        CODEC_EMERGENCY_STOP,              CODEC_CHARGE_SESSION_FINISHED,
};

/* The database of the work being measured. */
static const struct codec_db *db = &codec_db_v2_7;

static volatile uint32_t sink;
static unsigned long charge_commands;

static void tx(const struct codec_frame *f, void *u)
{
        (void)u;
        sink += f->data[0];
}

static void cmd(const struct power_command *c, void *u)
{
        (void)u;
        sink += c->current_da;
        if (c->mode == POWER_CHARGE)
                charge_commands++;
}

static struct codec_frame frame_of(const struct codec_message *m)
{
        struct codec_frame f;

        if (codec_encode(db, m, 1, &f) != 0) {
                fprintf(stderr, "core-cost: cannot encode\n");
                exit(1);
        }
        return f;
}

static struct codec_frame status_frame(uint8_t state)
{
        struct codec_message m = { .type = CODEC_ADVANTICS_CONTROLLER_STATUS };

        m.u.advantics_controller_status.state = state;
        return frame_of(&m);
}

struct player {
        struct session s;
        uint64_t now;
        uint64_t steps;
};

static void step_frame(struct player *p, const struct codec_frame *f)
{
        session_on_frame(&p->s, f, p->now);
        p->steps++;
}

/* 100 ms of time: the timer runs at each deadline, then the heartbeat. */
static void heartbeat(struct player *p, uint8_t state)
{
        uint64_t until = p->now + 100000;
        struct codec_frame f = status_frame(state);

        for (;;) {
                uint64_t d = session_next_deadline(&p->s);

                if (d > until)
                        break;
                p->now = d > p->now ? d : p->now;
                session_tick(&p->s, p->now);
                p->steps++;
        }
        p->now = until;
        step_frame(p, &f);
}

static void measure(struct player *p, uint16_t dv, int16_t da)
{
        struct power_measurement m = {
                .voltage_dv = dv, .current_da = da, .module_temp_c = 30, .enclosure_temp_c = 25,
                .insulation_kohm = POWER_INSULATION_UNKNOWN, .link_ok = true, .ready = true,
        };

        session_on_measurement(&p->s, &m, p->now);
        p->steps++;
}

/* v3: the same CCS session with DC_Power_Control (part D.5). */
static void dpc_frame(struct player *p, uint8_t function, uint16_t dv, int16_t da, bool lowering)
{
        struct codec_message m = { .type = CODEC_DC_POWER_CONTROL };
        struct codec_frame f;

        m.u.dc_power_control = (struct codec_dc_power_control){
                .target_voltage_dv = dv,
                .current_range_max_da = da,
                .current_range_min_da = function == CODEC_POWER_FUNCTION_PRECHARGE ? 0 : da,
                .power_function = function,
                .setpoints_mode = function == CODEC_POWER_FUNCTION_PRECHARGE ? CODEC_SETPOINTS_RANGE_MODE
                                                                             : CODEC_SETPOINTS_TARGET_MODE,
                .output_contactors = true,
                .lower_output_voltage = lowering,
        };
        f = frame_of(&m);
        step_frame(p, &f);
}

static void play_session_v3(struct player *p)
{
        struct codec_message m;
        struct codec_frame f;

        heartbeat(p, CODEC_STATE_WAITING_FOR_PEV);
        heartbeat(p, CODEC_STATE_NEGOTIATING_CONNECTION);
        heartbeat(p, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        m = (struct codec_message){ .type = CODEC_NEW_CHARGE_SESSION_V3 };
        m.u.new_charge_session_v3.communication_protocol = CODEC_PROTOCOL_CCS_ISO_15118_2013_V2;
        f = frame_of(&m);
        step_frame(p, &f);
        m = (struct codec_message){ .type = CODEC_EV_INFORMATION_VOLTAGES };
        m.u.ev_information_voltages.ev_maximum_voltage_dv = 5000;
        f = frame_of(&m);
        step_frame(p, &f);
        dpc_frame(p, CODEC_POWER_FUNCTION_STANDBY, 0, 0, false);
        for (int i = 0; i < 10; i++) {
                heartbeat(p, CODEC_STATE_INSULATION_TEST);
                dpc_frame(p, CODEC_POWER_FUNCTION_INSULATION_TEST, 5000, 0, false);
                measure(p, (uint16_t)(500 * i), 0);
        }
        dpc_frame(p, CODEC_POWER_FUNCTION_STANDBY, 0, 0, true);
        for (int i = 0; i < 10; i++) {
                heartbeat(p, CODEC_STATE_PRECHARGE);
                dpc_frame(p, CODEC_POWER_FUNCTION_PRECHARGE, 4000, 20, false);
                measure(p, (uint16_t)(400 * i), 15);
        }
        dpc_frame(p, CODEC_POWER_FUNCTION_STANDBY, 0, 0, false);
        heartbeat(p, CODEC_STATE_WAITING_FOR_CHARGE);
        m = (struct codec_message){ .type = CODEC_CHARGE_STATUS_CHANGE };
        m.u.charge_status_change.vehicle_ready_for_charging = CODEC_CHARGE_STARTED;
        f = frame_of(&m);
        step_frame(p, &f);
        for (int i = 0; i < 50; i++) {
                heartbeat(p, CODEC_STATE_CHARGING);
                dpc_frame(p, CODEC_POWER_FUNCTION_POWER_TRANSFER, 4500, (int16_t)(100 + 20 * (i % 50)), false);
                measure(p, 4300, (int16_t)(100 + 20 * (i % 50)));
        }
        heartbeat(p, CODEC_STATE_ENDING_CHARGE);
        dpc_frame(p, CODEC_POWER_FUNCTION_STANDBY, 0, 0, false);
        heartbeat(p, CODEC_STATE_WELDING_DETECTION);
        heartbeat(p, CODEC_STATE_CLOSING_COMMUNICATION);
        m = (struct codec_message){ .type = CODEC_CHARGE_SESSION_FINISHED };
        f = frame_of(&m);
        step_frame(p, &f);
        heartbeat(p, CODEC_STATE_WAITING_FOR_PEV);
}

static void play_session(struct player *p)
{
        struct codec_message m;
        struct codec_frame f;

        heartbeat(p, CODEC_STATE_WAITING_FOR_PEV);
        heartbeat(p, CODEC_STATE_NEGOTIATING_CONNECTION);
        heartbeat(p, CODEC_STATE_CONNECTED_WITH_FULL_INFO);
        m = (struct codec_message){ .type = CODEC_NEW_CHARGE_SESSION };
        m.u.new_charge_session.communication_protocol = CODEC_PROTOCOL_CCS_ISO_15118_2013_V2;
        m.u.new_charge_session.ev_maximum_voltage_dv = 5000;
        m.u.new_charge_session.ev_maximum_current_da = 2000;
        f = frame_of(&m);
        step_frame(p, &f);
        for (int i = 0; i < 10; i++) {
                heartbeat(p, CODEC_STATE_INSULATION_TEST);
                m = (struct codec_message){ .type = CODEC_INSULATION_TEST };
                m.u.insulation_test.test_voltage_dv = 5000;
                f = frame_of(&m);
                step_frame(p, &f);
                measure(p, (uint16_t)(500 * i), 0);
        }
        for (int i = 0; i < 10; i++) {
                heartbeat(p, CODEC_STATE_PRECHARGE);
                m = (struct codec_message){ .type = CODEC_PRECHARGE };
                m.u.precharge.target_voltage_dv = 4000;
                m.u.precharge.maximum_current_da = 20;
                f = frame_of(&m);
                step_frame(p, &f);
                measure(p, (uint16_t)(400 * i), 15);
        }
        heartbeat(p, CODEC_STATE_WAITING_FOR_CHARGE);
        m = (struct codec_message){ .type = CODEC_CHARGE_STATUS_CHANGE };
        m.u.charge_status_change.vehicle_ready_for_charging = CODEC_CHARGE_STARTED;
        f = frame_of(&m);
        step_frame(p, &f);
        for (int i = 0; i < 50; i++) {
                heartbeat(p, CODEC_STATE_CHARGING);
                m = (struct codec_message){ .type = CODEC_CHARGING_LOOP };
                m.u.charging_loop.target_voltage_dv = 4500;
                m.u.charging_loop.target_current_da = (int16_t)(100 + 20 * (i % 50));
                f = frame_of(&m);
                step_frame(p, &f);
                measure(p, 4300, (int16_t)(100 + 20 * (i % 50)));
        }
        heartbeat(p, CODEC_STATE_ENDING_CHARGE);
        heartbeat(p, CODEC_STATE_WELDING_DETECTION);
        heartbeat(p, CODEC_STATE_CLOSING_COMMUNICATION);
        m = (struct codec_message){ .type = CODEC_CHARGE_SESSION_FINISHED };
        f = frame_of(&m);
        step_frame(p, &f);
        heartbeat(p, CODEC_STATE_WAITING_FOR_PEV);
}

/* Decode the given messages n times each; the units of work done. */
static uint64_t decode_work(const enum codec_msg_type *types, size_t n_types, unsigned long n)
{
        struct codec_frame frames[N_CONTROLLER_MSGS];
        uint64_t units = 0;

        for (size_t k = 0; k < n_types; k++) {
                struct codec_message m = { .type = types[k] };

                frames[k] = frame_of(&m);
                frames[k].data[0] = (uint8_t)(k + 1);
        }
        for (unsigned long i = 0; i < n; i++)
                for (size_t k = 0; k < n_types; k++) {
                        struct codec_message m;

                        if (codec_decode(db, &frames[k], 1, &m) == 0)
                                sink += m.type;
                        units++;
                }
        return units;
}

int main(int argc, char **argv)
{
        const char *work;
        unsigned long n;
        uint64_t units = 0;
        bool v3;

        if (argc != 3) {
                fprintf(stderr, "usage: core-cost decode|encode|session|decode-cl|decode-v3|decode-dpc|encode-v3|session-v3 N\n");
                return 2;
        }
        n = strtoul(argv[2], NULL, 10);
        work = argv[1];
        v3 = strcmp(work, "decode-v3") == 0 || strcmp(work, "decode-dpc") == 0 ||
             strcmp(work, "encode-v3") == 0 || strcmp(work, "session-v3") == 0;
        if (v3)
                db = &codec_db_v3_6;

        if (strcmp(work, "decode") == 0) {
                units = decode_work(controller_msgs, N_CONTROLLER_MSGS, n);
        } else if (strcmp(work, "decode-v3") == 0) {
                units = decode_work(controller_msgs_v3, N_CONTROLLER_MSGS, n);
        } else if (strcmp(work, "decode-cl") == 0) {
                static const enum codec_msg_type cl[] = { CODEC_CHARGING_LOOP };

                units = decode_work(cl, 1, n);
        } else if (strcmp(work, "decode-dpc") == 0) {
                static const enum codec_msg_type dpc[] = { CODEC_DC_POWER_CONTROL };

                units = decode_work(dpc, 1, n);
        } else if (strcmp(work, "encode") == 0 || strcmp(work, "encode-v3") == 0) {
                for (unsigned long i = 0; i < n; i++) {
                        struct codec_message m = { .type = CODEC_POWER_MODULES_STATUS };
                        struct codec_frame f;

                        m.u.power_modules_status.present_voltage_dv = (uint16_t)(4000 + (i & 255));
                        m.u.power_modules_status.present_current_da = (int16_t)(i & 1023);
                        m.u.power_modules_status.system_enable = CODEC_SYSTEM_ENABLE_ALLOWED;
                        if (codec_encode(db, &m, 1, &f) == 0)
                                sink += f.data[1];
                        units++;
                }
        } else if (strcmp(work, "session") == 0 || strcmp(work, "session-v3") == 0) {
                struct session_config cfg;
                struct session_callbacks cb = { .tx_frame = tx, .power_command = cmd };
                static struct player p;

                session_config_defaults(&cfg);
                cfg.pistol = 1;
                cfg.interface_version = v3 ? 3 : 2;
                cfg.limits = (struct power_limits){ .max_voltage_dv = 10000, .max_current_da = 2000,
                                                    .max_power_w = 100000, .precharge_max_current_da = 20,
                                                    .insulation_max_current_da = 20 };
                p.now = 1000000;
                if (session_init(&p.s, &cfg, &cb, p.now) != 0) {
                        fprintf(stderr, "core-cost: session_init failed\n");
                        return 1;
                }
                for (unsigned long i = 0; i < n; i++) {
                        if (v3)
                                play_session_v3(&p);
                        else
                                play_session(&p);
                }
                units = p.steps;
                /* The sequence must really charge, or it measures nothing. */
                if (n > 0 && charge_commands < n) {
                        fprintf(stderr, "core-cost: the session never charged\n");
                        return 1;
                }
        } else {
                fprintf(stderr, "core-cost: unknown work '%s'\n", work);
                return 2;
        }
        printf("%llu\n", (unsigned long long)units);
        return 0;
}
