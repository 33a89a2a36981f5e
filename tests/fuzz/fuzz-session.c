/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the CAN frame path into the protocol core, interface version
 * 2 or 3.  The input is a
 * session configuration followed by a sequence of events (frames, converter
 * measurements, time passing, operator actions), fed to the session exactly
 * as the daemon's shell does: every frame through session_on_frame(), the
 * timer fired at session_next_deadline() whenever time passes it.
 *
 * Invariants (abort() with a message when violated):
 *  - every converter command is inside the static limits of the
 *    configuration and inside the operator's dynamic limits;
 *  - no command other than OFF without a controller heartbeat within the
 *    controller timeout (R1); controller silence longer than the timeout
 *    always leaves the converter OFF once the timer has run;
 *  - after an Emergency_Stop frame the converter is OFF at once, and no
 *    power command follows until a New_Charge_Session arrives after the
 *    last Emergency_Stop (R45, R46);
 *  - every frame the session transmits decodes back, for our pistol, to a
 *    message that encodes to the very same frame;
 *  - B1: no negative current (a discharge) unless the configuration is
 *    bidirectional; B2: never beyond the discharge limits (in the limits
 *    checks above), and never a change of sign of the current without a
 *    measurement of |I| <= 1 A, link up, taken after the command went to
 *    0 A; an Emergency_Stop switches the converter off whatever the sign
 *    (0 A), and so does silence (R1 above);
 *  - while the pistol arbiter holds the session (session_set_hold): no
 *    command other than OFF, System_Enable Not_Allowed, every
 *    Sequence_Control sent with Start_Charge_Authorisation = 0 (R9), and no
 *    converter link loss or converter fault latched as the session's own
 *    fault (the converter then serves another pistol, doc/sharing.md).
 *
 * Input layout: see tests/fuzz/README.md.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seccbridge/codec.h"
#include "seccbridge/limits.h"
#include "seccbridge/session.h"

struct input {
        const uint8_t *p;
        size_t n;
};

static uint8_t in_u8(struct input *in)
{
        uint8_t v;

        if (in->n == 0)
                return 0;
        v = *in->p++;
        in->n--;
        return v;
}

static uint16_t in_u16(struct input *in)
{
        uint16_t lo = in_u8(in);

        return (uint16_t)(lo | (uint16_t)in_u8(in) << 8);
}

static uint32_t in_u32(struct input *in)
{
        uint32_t lo = in_u16(in);

        return lo | (uint32_t)in_u16(in) << 16;
}

struct harness {
        struct session s;
        struct session_config cfg;
        const struct codec_db *db;      /* of the configured interface version */
        struct power_limits dynamic;
        struct power_rating rating;     /* of the last measurement */
        uint64_t now;

        struct power_command cmd;       /* last command issued */
        bool heartbeat_seen;
        uint64_t last_heartbeat;
        bool estop_seen;
        bool ncs_after_estop;           /* a New_Charge_Session since the last E-stop */

        /* B2: the sign of the last non-zero current commanded, when the
         * command went to 0 A, and whether a measurement confirmed <= 1 A
         * since. */
        int last_dir;
        uint64_t zero_since;
        bool zero_confirmed;
        bool estop_frame;               /* the frame just fed is an Emergency_Stop */
        bool held;                      /* session_set_hold(true) in force */
        enum session_fault fault;       /* the fault at the last check */
};

static struct harness h;
static int trace = -1;  /* SECCBRIDGE_FUZZ_TRACE=1: print every command */

static void violation(const char *what, const struct power_command *c)
{
        fprintf(stderr, "invariant violated at t=%llu us: %s (command %s %u dV %d dA%s)\n",
                (unsigned long long)h.now, what, power_mode_name(c->mode), c->voltage_dv,
                c->current_da, c->discharge ? " discharge" : "");
        abort();
}

static void on_tx(const struct codec_frame *f, void *userdata)
{
        struct codec_message m;
        struct codec_frame again;

        (void)userdata;
        if (!f->extended || f->len > CODEC_MAX_DLC)
                violation("transmitted a frame that is not a valid extended frame", &h.cmd);
        if (codec_decode(h.db, f, h.cfg.pistol, &m) != 0)
                violation("transmitted a frame that does not decode for our pistol", &h.cmd);
        if (codec_encode(h.db, &m, h.cfg.pistol, &again) != 0 || again.id != f->id || again.len != f->len ||
            memcmp(again.data, f->data, f->len) != 0)
                violation("transmitted frame does not survive decode + encode", &h.cmd);
        /* Supervisor mode: the power-side frames belong to the
         * controller's own modules. */
        if (h.cfg.supervisor && (m.type == CODEC_POWER_MODULES_STATUS || m.type == CODEC_POWER_MODULES_LIMITS ||
                                 m.type == CODEC_DC_POWER_PARAMETERS))
                violation("supervisor mode transmitted a power-side frame", &h.cmd);
        if (h.held && m.type == CODEC_SEQUENCE_CONTROL && m.u.sequence_control.start_charge_authorisation)
                violation("Start_Charge_Authorisation = 1 sent while held (R9)", &h.cmd);
        if (h.cfg.io.board == CONTROLLER_IO_BOARD_NONE &&
            (m.type == CODEC_ADM_CS_SECC_OUTPUTS || m.type == CODEC_ADM_CS_SPCC_OUTPUTS))
                violation("an outputs frame without a board configured", &h.cmd);
}

static void on_command(const struct power_command *c, void *userdata)
{
        struct power_limits eff;

        (void)userdata;
        if (h.cfg.supervisor)
                violation("supervisor mode commanded a converter", c);
        if (trace > 0)
                fprintf(stderr, "%10llu us  %s %u dV %d dA%s\n", (unsigned long long)h.now,
                        power_mode_name(c->mode), c->voltage_dv, c->current_da,
                        c->discharge ? " discharge" : "");
        if (c->current_da < 0 && !h.cfg.bidirectional)
                violation("a discharge without bidirectional configured (B1)", c);
        if (h.held && c->mode != POWER_OFF)
                violation("a command other than OFF while held", c);
        if (c->current_da != 0) {
                int dir = c->current_da > 0 ? 1 : -1;

                if (h.last_dir != 0 && dir != h.last_dir && !h.zero_confirmed)
                        violation("a change of sign without the converter confirming <= 1 A at 0 A (B2)", c);
                h.last_dir = dir;
                h.zero_confirmed = false;
        } else if (h.cmd.current_da != 0 || h.zero_since == 0) {
                h.zero_since = h.now;
                h.zero_confirmed = false;
        }
        h.cmd = *c;
        if (!limits_within(&h.cfg.limits, c))
                violation("command outside the static limits", c);
        limits_effective(&h.cfg.limits, &h.dynamic, &h.rating, &eff);
        if (!limits_within(&eff, c))
                violation("command outside the limits in force", c);
        if (c->mode == POWER_OFF)
                return;
        if (!h.heartbeat_seen || h.now >= h.last_heartbeat + h.cfg.controller_timeout_us)
                violation("power without a controller heartbeat within the timeout (R1)", c);
        if (c->mode != POWER_STANDBY && h.estop_seen && !h.ncs_after_estop)
                violation("power after an emergency stop without a new session (R45)", c);
}

static void check_state(void)
{
        const char *why = session_check_cache(&h.s, h.now);
        struct session_status st;

        /* What the session keeps worked out between calls agrees with a
         * full recomputation: a missing mark of an input would show here. */
        if (why) {
                fprintf(stderr, "session cache at t=%llu us: %s\n", (unsigned long long)h.now, why);
                abort();
        }
        /* R45, whatever the sign: off at once. */
        if (h.estop_frame && (h.cmd.mode != POWER_OFF || h.cmd.current_da != 0))
                violation("converter not off right after an Emergency_Stop (R45)", &h.cmd);
        h.estop_frame = false;
        if (h.heartbeat_seen && h.now >= h.last_heartbeat + h.cfg.controller_timeout_us &&
            h.cmd.mode != POWER_OFF)
                violation("controller silent past the timeout but the converter is not off (R1)", &h.cmd);
        if (!h.heartbeat_seen && h.cmd.mode != POWER_OFF)
                violation("converter not off before any controller heartbeat (R1)", &h.cmd);
        session_get_status(&h.s, &st);
        if (h.held) {
                if (h.cmd.mode != POWER_OFF)
                        violation("converter not off while held", &h.cmd);
                if (st.system_enable)
                        violation("System_Enable Allowed while held (R21)", &h.cmd);
                if (st.fault != h.fault &&
                    (st.fault == SESSION_FAULT_CONVERTER_LINK || st.fault == SESSION_FAULT_CONVERTER))
                        violation("a converter fault latched while held", &h.cmd);
        }
        h.fault = st.fault;
}

/* Let time pass to `until`, firing the timer the way the shell does. */
static void advance(uint64_t until)
{
        for (int guard = 0; guard < 100000; guard++) {
                uint64_t d = session_next_deadline(&h.s);

                if (d == SESSION_NO_DEADLINE || d > until)
                        break;
                if (d > h.now)
                        h.now = d;
                session_tick(&h.s, h.now);
                check_state();
                if (guard == 99999) {
                        fprintf(stderr, "session_next_deadline() does not move forward\n");
                        abort();
                }
        }
        if (until > h.now)
                h.now = until;
        session_tick(&h.s, h.now);
        check_state();
}

/* Frame of a known message type: mostly the controller's messages, for our
 * pistol, with the message's own length; the payload from the input. */
static void known_frame(struct input *in, uint8_t op, struct codec_frame *f)
{
        static const enum codec_msg_type out_types[] = {
                CODEC_ADVANTICS_CONTROLLER_STATUS, CODEC_NEW_CHARGE_SESSION,
                CODEC_INSULATION_TEST,             CODEC_PRECHARGE,
                CODEC_CHARGE_STATUS_CHANGE,        CODEC_CHARGING_LOOP,
                CODEC_EMERGENCY_STOP,              CODEC_CHARGE_SESSION_FINISHED,
        };
        /* v3: the same places for the same roles, DC_Power_Control twice
         * (it carries every power request), then the EV information. */
        static const enum codec_msg_type out_types_v3[] = {
                CODEC_ADVANTICS_CONTROLLER_STATUS,  CODEC_NEW_CHARGE_SESSION_V3,
                CODEC_DC_POWER_CONTROL,             CODEC_OCPP_CONTROL,
                CODEC_CHARGE_STATUS_CHANGE,         CODEC_DC_POWER_CONTROL,
                CODEC_EMERGENCY_STOP,               CODEC_CHARGE_SESSION_FINISHED,
                CODEC_EV_INFORMATION_BATTERY,       CODEC_EV_INFORMATION_VOLTAGES,
                CODEC_EV_INFORMATION_CHARGE_LIMITS, CODEC_EV_INFORMATION_DISCHARGE_LIMITS,
                CODEC_EV_INFORMATION_ENERGY,
        };
        uint8_t sel = in_u8(in);
        enum codec_msg_type type;
        const struct codec_msg_info *info;
        uint8_t pistol = h.cfg.pistol;

        if (sel & 0x80)
                type = h.db->messages[sel % h.db->n_messages].type;
        else if (h.cfg.interface_version == 3)
                type = out_types_v3[sel % (sizeof(out_types_v3) / sizeof(out_types_v3[0]))];
        else
                type = out_types[sel % (sizeof(out_types) / sizeof(out_types[0]))];
        if ((op & 0x30) == 0x30)
                pistol = (uint8_t)(1 + in_u8(in) % CODEC_PISTOL_MAX);
        info = codec_msg_info(h.db, type);
        f->id = codec_frame_id(h.db, type, pistol);
        f->extended = true;
        f->len = info->dlc;
        if ((op & 0x40) && f->len > 0)
                f->len = (uint8_t)(in_u8(in) % (f->len + 1));   /* short: malformed */
        for (int i = 0; i < CODEC_MAX_DLC; i++)
                f->data[i] = in_u8(in);
        if (type == CODEC_ADVANTICS_CONTROLLER_STATUS && (sel & 0x40))
                f->data[0] = (uint8_t)(f->data[0] % 14);         /* a known state */
}

static void raw_frame(struct input *in, struct codec_frame *f)
{
        f->id = in_u32(in);
        f->extended = (f->id & 0x80000000u) != 0;
        f->id &= f->extended ? CODEC_ID_EXT_MASK : 0x7FFu;
        f->len = (uint8_t)(in_u8(in) % (CODEC_MAX_DLC + 1));
        for (int i = 0; i < CODEC_MAX_DLC; i++)
                f->data[i] = in_u8(in);
}

/* What the session will take the frame for, tracked for the invariants. */
static void note_frame(const struct codec_frame *f)
{
        struct codec_message m;

        h.estop_frame = false;
        if (codec_decode(h.db, f, h.cfg.pistol, &m) != 0)
                return;
        if (m.type == CODEC_ADVANTICS_CONTROLLER_STATUS) {
                h.heartbeat_seen = true;
                h.last_heartbeat = h.now;
        } else if (m.type == CODEC_EMERGENCY_STOP) {
                h.estop_seen = true;
                h.ncs_after_estop = false;
                h.estop_frame = true;
        } else if ((m.type == CODEC_NEW_CHARGE_SESSION || m.type == CODEC_NEW_CHARGE_SESSION_V3) &&
                   h.estop_seen) {
                h.ncs_after_estop = true;
        }
}

static void config_from(struct input *in, struct session_config *cfg)
{
        uint8_t flags = in_u8(in);

        session_config_defaults(cfg);
        cfg->pistol = (uint8_t)(1 + in_u8(in) % CODEC_PISTOL_MAX);
        cfg->limits.max_voltage_dv = (uint16_t)(1 + in_u16(in) % 15000);
        cfg->limits.max_current_da = (uint16_t)(1 + in_u16(in) % 6000);
        cfg->limits.max_power_w = 1 + (uint32_t)in_u16(in) * 10;
        cfg->limits.precharge_max_current_da = (uint16_t)(1 + in_u8(in));
        cfg->limits.insulation_max_current_da = (uint16_t)(1 + in_u8(in));
        cfg->use_sequence_flags = !(flags & 0x01);
        cfg->start_authorisation = (flags & 0x02) ? SESSION_FLAG_EXTERNAL : SESSION_FLAG_AUTO;
        cfg->ccs_authorisation = (flags & 0x04) ? SESSION_FLAG_EXTERNAL : SESSION_FLAG_AUTO;
        cfg->charge_parameters = (flags & 0x08) ? SESSION_FLAG_EXTERNAL : SESSION_FLAG_AUTO;
        cfg->current_ramp_da_per_s = (flags & 0x10) ? 0 : (uint32_t)(1 + in_u16(in));
        if (flags & 0x20)
                cfg->controller_timeout_us = 50000 + (uint64_t)in_u8(in) * 2000;
        if (flags & 0x40)
                cfg->estop_release_us = 100000 + (uint64_t)in_u8(in) * 10000;
        if (flags & 0x80) {
                /* Interface version 3; a byte says whether the charger has
                 * output contactors (V21). */
                uint8_t v3 = in_u8(in);

                cfg->interface_version = 3;
                cfg->has_output_contactors = !(v3 & 1);
                /* B1: bidirectional, with discharge limits from the input;
                 * V16: the range policy. */
                if (v3 & 2) {
                        cfg->bidirectional = true;
                        cfg->limits.max_discharge_current_da = (uint16_t)(1 + in_u16(in) % 6000);
                        cfg->limits.max_discharge_power_w = 1 + (uint32_t)in_u16(in) * 10;
                }
                /* 0 = ocpp, the default. */
                cfg->range_policy = (enum session_range_policy)(((v3 >> 2) % 3 + 1) % 3);
        }
        /* Supervisor mode and the controller's outputs, from what was read
         * (no byte more: the seeds keep their meaning). */
        cfg->supervisor = cfg->limits.max_power_w % 5 == 1;
        cfg->io.board = (enum controller_io_board)(cfg->pistol % 3);
        cfg->io.safe.digital[0] = cfg->pistol & 4;
}

static void operator_action(struct input *in)
{
        uint8_t a = in_u8(in);

        switch (a % 8) {
        case 0:
                (void)session_set_start_authorisation(&h.s, a & 0x80, h.now);
                break;
        case 1:
                (void)session_set_ccs_authorisation(&h.s, a & 0x80, h.now);
                break;
        case 2:
                (void)session_set_charge_parameters_done(&h.s, a & 0x80, h.now);
                break;
        case 3:
                (void)session_press_user_stop(&h.s, h.now);
                break;
        case 4:
                if (a & 0x80) {
                        /* The pistol arbiter holds or releases the
                         * session; the hold is in force inside the call. */
                        h.held = (a & 0x40) != 0;
                        session_set_hold(&h.s, h.held, h.now);
                        break;
                }
                (void)session_press_chademo_start(&h.s, h.now);
                break;
        case 5: {
                struct power_limits dyn = {
                        .max_voltage_dv = in_u16(in),
                        .max_current_da = in_u16(in),
                        .max_power_w = in_u16(in) * 10u,
                };
                struct power_limits before = h.dynamic;

                if (a & 0x40) {
                        /* V16: the operator's Range_Mode target instead. */
                        (void)session_set_range_target(&h.s, (a & 0x20) == 0, (int16_t)dyn.max_voltage_dv,
                                                       h.now);
                        break;
                }
                if (a & 0x20) {
                        dyn.max_discharge_current_da = in_u16(in);
                        dyn.max_discharge_power_w = in_u16(in) * 10u;
                }

                /* They take effect inside the call: a command it issues
                 * must already respect them. */
                h.dynamic = dyn;
                if (session_set_dynamic_limits(&h.s, &dyn, h.now) != 0)
                        h.dynamic = before;
                break;
        }
        case 6: {
                struct session_config next;
                struct session_config before = h.cfg;

                config_from(in, &next);
                next.pistol = before.pistol;    /* another pistol is another controller */
                if (session_config_check(&next) != 0)
                        break;
                /* The new limits are in force from inside the call on. */
                h.cfg = next;
                if (session_reconfigure(&h.s, &next, h.now) != 0) {
                        h.cfg = before;
                        break;
                }
                h.cfg = next;
                break;
        }
        default: {
                struct session_status st;

                /* One of the controller's outputs (an invalid one too). */
                (void)session_set_output(&h.s, (enum controller_io_output)((a >> 3) % 8),
                                         (a & 0x40) ? (uint8_t)(a >> 3) : (a >> 3) & 1, h.now);
                session_get_status(&h.s, &st);
                if (st.command.mode != h.cmd.mode)
                        violation("status reports another command than the one issued", &st.command);
                break;
        }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct input in = { data, size };
        struct session_callbacks cb = { .tx_frame = on_tx, .power_command = on_command };

        if (trace < 0)
                trace = getenv("SECCBRIDGE_FUZZ_TRACE") != NULL;
        memset(&h, 0, sizeof(h));
        config_from(&in, &h.cfg);
        if (session_config_check(&h.cfg) != 0)
                return 0;
        h.db = codec_db_for_version(h.cfg.interface_version);
        h.now = 1000000;
        h.cmd.mode = POWER_OFF;
        if (session_init(&h.s, &h.cfg, &cb, h.now) != 0)
                return 0;

        for (int events = 0; in.n > 0 && events < 1024; events++) {
                uint8_t op = in_u8(&in);
                struct codec_frame f;
                struct power_measurement m;

                switch (op & 0x0F) {
                case 0: case 1: case 2: case 3: case 4: case 5:
                        /* a frame of ours, after 0..255 ms */
                        advance(h.now + (uint64_t)in_u8(&in) * 1000);
                        memset(&f, 0, sizeof(f));
                        known_frame(&in, op, &f);
                        note_frame(&f);
                        (void)session_on_frame(&h.s, &f, h.now);
                        check_state();
                        break;
                case 6:
                        /* any frame at all */
                        memset(&f, 0, sizeof(f));
                        raw_frame(&in, &f);
                        note_frame(&f);
                        (void)session_on_frame(&h.s, &f, h.now);
                        check_state();
                        break;
                case 7: case 8:
                        /* a converter measurement */
                        m.voltage_dv = in_u16(&in);
                        m.current_da = (int16_t)in_u16(&in);
                        m.module_temp_c = (int16_t)in_u16(&in);
                        m.enclosure_temp_c = (int16_t)in_u16(&in);
                        m.insulation_kohm = in_u16(&in);
                        m.link_ok = (op & 0x10) == 0;
                        /* B2: what the harness takes for a confirmation of
                         * 0 A, before the session may act on it. */
                        if (m.link_ok && h.cmd.current_da == 0 && h.now > h.zero_since && m.current_da >= -10 &&
                            m.current_da <= 10)
                                h.zero_confirmed = true;
                        m.ready = (op & 0x20) == 0;
                        m.fault = (op & 0x40) != 0;
                        /* the converter's rating, now and then */
                        m.rating = (struct power_rating) { 0 };
                        if (op & 0x80) {
                                m.rating.max_voltage_dv = in_u16(&in);
                                m.rating.max_current_da = in_u16(&in);
                                m.rating.max_power_w = in_u32(&in);
                                if (op & 0x20) {
                                        m.rating.max_sink_current_da = in_u16(&in);
                                        m.rating.max_sink_power_w = in_u32(&in);
                                }
                        }
                        h.rating = m.rating;
                        session_on_measurement(&h.s, &m, h.now);
                        check_state();
                        break;
                case 9: case 10:
                        /* time passes: up to 6.5 s */
                        advance(h.now + (uint64_t)in_u16(&in) * 100);
                        break;
                case 11:
                        /* a short wait: 0..255 us */
                        advance(h.now + in_u8(&in));
                        break;
                case 12: case 13:
                        operator_action(&in);
                        check_state();
                        break;
                default:
                        /* the controller's heartbeat, 100 ms later */
                        advance(h.now + 100000);
                        memset(&f, 0, sizeof(f));
                        f.id = codec_frame_id(h.db, CODEC_ADVANTICS_CONTROLLER_STATUS, h.cfg.pistol);
                        f.extended = true;
                        f.len = codec_msg_info(h.db, CODEC_ADVANTICS_CONTROLLER_STATUS)->dlc;
                        f.data[0] = (uint8_t)(in_u8(&in) % 14);
                        note_frame(&f);
                        (void)session_on_frame(&h.s, &f, h.now);
                        check_state();
                        break;
                }
        }

        if (trace > 0) {
                struct session_status st;

                session_get_status(&h.s, &st);
                fprintf(stderr, "end of input at %llu us: fault %s, controller %s, state %u, %llu frames in, %llu malformed, %llu foreign, %llu rejected\n",
                        (unsigned long long)h.now, session_fault_name(st.fault),
                        st.controller_alive ? "alive" : "silent", st.controller_state,
                        (unsigned long long)st.counters.frames_in, (unsigned long long)st.counters.malformed,
                        (unsigned long long)st.counters.foreign, (unsigned long long)st.counters.rejected_requests);
        }
        /* Whatever happened: silence from now on ends in OFF. */
        advance(h.now + h.cfg.controller_timeout_us + 1);
        if (h.cmd.mode != POWER_OFF)
                violation("converter not off after a controller timeout of silence", &h.cmd);
        session_shutdown(&h.s, h.now);
        if (h.cmd.mode != POWER_OFF)
                violation("converter not off after shutdown", &h.cmd);
        return 0;
}
