/* SPDX-License-Identifier: MIT */
/*
 * The charge controller's I/O (see controller_io.h): inputs kept as the
 * controller sends them, outputs sent at the database's period (1000 ms for
 * ADM_CS_SECC_Outputs and ADM_CS_SPCC_Outputs in v2.7 and v3.6) and at once
 * after a change.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "seccbridge/controller_io.h"

#define MS 1000u

static const char *const controller_io_output_names[CONTROLLER_IO_OUTPUT_COUNT] = {
        [CONTROLLER_IO_OUTPUT1] = "output1",
        [CONTROLLER_IO_OUTPUT2] = "output2",
        [CONTROLLER_IO_OUTPUT3] = "output3",
        [CONTROLLER_IO_OUTPUT4] = "output4",
        [CONTROLLER_IO_LED1] = "led1",
        [CONTROLLER_IO_LED2] = "led2",
        [CONTROLLER_IO_LED3] = "led3",
};

static uint64_t add_sat(uint64_t a, uint64_t b)
{
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static bool board_valid(enum controller_io_board board)
{
        switch (board) {
        case CONTROLLER_IO_BOARD_NONE:
        case CONTROLLER_IO_BOARD_ADM_CS_SECC:
        case CONTROLLER_IO_BOARD_ADM_CS_SPCC:
                return true;
        }
        return false;
}

/* Digital outputs of a board: the ADM-CS-SPCC has two. */
static unsigned board_digital_outputs(enum controller_io_board board)
{
        switch (board) {
        case CONTROLLER_IO_BOARD_NONE:
                return 0;
        case CONTROLLER_IO_BOARD_ADM_CS_SECC:
                return 4;
        case CONTROLLER_IO_BOARD_ADM_CS_SPCC:
                return 2;
        }
        return 0;
}

/* What a board cannot show stays 0 on the wire and in the state. */
static void fit_to_board(struct controller_io_outputs *o, enum controller_io_board board)
{
        for (unsigned i = board_digital_outputs(board); i < CONTROLLER_IO_DIGITAL_OUTPUTS; i++)
                o->digital[i] = false;
        if (board == CONTROLLER_IO_BOARD_NONE)
                memset(o->led, 0, sizeof(o->led));
}

void controller_io_config_defaults(struct controller_io_config *cfg)
{
        memset(cfg, 0, sizeof(*cfg));
        cfg->board = CONTROLLER_IO_BOARD_NONE;
        cfg->period_us = 1000 * MS;
}

int controller_io_config_check(const struct controller_io_config *cfg)
{
        if (!cfg || !board_valid(cfg->board) || cfg->period_us == 0)
                return -EINVAL;
        return 0;
}

int controller_io_init(struct controller_io *io, const struct controller_io_config *cfg, uint64_t now_us)
{
        if (!io || controller_io_config_check(cfg) < 0)
                return -EINVAL;
        memset(io, 0, sizeof(*io));
        io->cfg = *cfg;
        io->out = cfg->safe;
        fit_to_board(&io->out, cfg->board);
        io->next_out_us = now_us;
        return 0;
}

int controller_io_reconfigure(struct controller_io *io, const struct controller_io_config *cfg, uint64_t now_us)
{
        if (!io || controller_io_config_check(cfg) < 0)
                return -EINVAL;
        if (cfg->board != io->cfg.board) {
                io->out = cfg->safe;
                fit_to_board(&io->out, cfg->board);
                io->next_out_us = now_us;
        } else if (cfg->period_us != io->cfg.period_us && !io->stopped) {
                /* A new period counts from now. */
                io->next_out_us = now_us;
        }
        io->cfg = *cfg;
        return 0;
}

bool controller_io_is_io_message(enum codec_msg_type type)
{
        switch (type) {
        case CODEC_ADM_CS_SECC_OUTPUTS:
        case CODEC_ADM_CS_SPCC_OUTPUTS:
        case CODEC_ADM_CO_CUI1_INPUTS:
        case CODEC_ADM_CS_SECC_INPUTS:
        case CODEC_ADM_CS_SPCC_INPUTS:
        case CODEC_CCS_EXTRA_INFORMATION:
        case CODEC_MCS_EXTRA_INFORMATION:
                return true;
        case CODEC_POWER_MODULES_STATUS:
        case CODEC_POWER_MODULES_LIMITS:
        case CODEC_SEQUENCE_CONTROL:
        case CODEC_NEW_CHARGE_SESSION:
        case CODEC_INSULATION_TEST:
        case CODEC_PRECHARGE:
        case CODEC_CHARGE_STATUS_CHANGE:
        case CODEC_CHARGING_LOOP:
        case CODEC_EMERGENCY_STOP:
        case CODEC_CHARGE_SESSION_FINISHED:
        case CODEC_ADVANTICS_CONTROLLER_STATUS:
        case CODEC_EV_ID_CCS_PART2_DIN:
        case CODEC_DC_POWER_PARAMETERS:
        case CODEC_NEW_CHARGE_SESSION_V3:
        case CODEC_DC_POWER_CONTROL:
        case CODEC_EV_INFORMATION_BATTERY:
        case CODEC_EV_INFORMATION_VOLTAGES:
        case CODEC_EV_INFORMATION_CHARGE_LIMITS:
        case CODEC_EV_INFORMATION_DISCHARGE_LIMITS:
        case CODEC_EV_INFORMATION_ENERGY:
        case CODEC_OCPP_CONTROL:
        case CODEC_MSG_COUNT:
                break;
        }
        return false;
}

bool controller_io_on_message(struct controller_io *io, const struct codec_message *msg)
{
        switch (msg->type) {
        case CODEC_ADM_CO_CUI1_INPUTS:
                io->in.cui1 = msg->u.adm_co_cui1_inputs;
                io->in.cui1_valid = true;
                return true;
        case CODEC_ADM_CS_SECC_INPUTS:
                io->in.secc = msg->u.adm_cs_secc_inputs;
                io->in.secc_valid = true;
                return true;
        case CODEC_ADM_CS_SPCC_INPUTS:
                io->in.spcc = msg->u.adm_cs_spcc_inputs;
                io->in.spcc_valid = true;
                return true;
        case CODEC_CCS_EXTRA_INFORMATION:
                io->in.ccs = msg->u.ccs_extra_information;
                io->in.ccs_valid = true;
                return true;
        case CODEC_MCS_EXTRA_INFORMATION:
                io->in.mcs = msg->u.mcs_extra_information;
                io->in.mcs_valid = true;
                return true;
        case CODEC_ADM_CS_SECC_OUTPUTS:
        case CODEC_ADM_CS_SPCC_OUTPUTS:
        case CODEC_POWER_MODULES_STATUS:
        case CODEC_POWER_MODULES_LIMITS:
        case CODEC_SEQUENCE_CONTROL:
        case CODEC_NEW_CHARGE_SESSION:
        case CODEC_INSULATION_TEST:
        case CODEC_PRECHARGE:
        case CODEC_CHARGE_STATUS_CHANGE:
        case CODEC_CHARGING_LOOP:
        case CODEC_EMERGENCY_STOP:
        case CODEC_CHARGE_SESSION_FINISHED:
        case CODEC_ADVANTICS_CONTROLLER_STATUS:
        case CODEC_EV_ID_CCS_PART2_DIN:
        case CODEC_DC_POWER_PARAMETERS:
        case CODEC_NEW_CHARGE_SESSION_V3:
        case CODEC_DC_POWER_CONTROL:
        case CODEC_EV_INFORMATION_BATTERY:
        case CODEC_EV_INFORMATION_VOLTAGES:
        case CODEC_EV_INFORMATION_CHARGE_LIMITS:
        case CODEC_EV_INFORMATION_DISCHARGE_LIMITS:
        case CODEC_EV_INFORMATION_ENERGY:
        case CODEC_OCPP_CONTROL:
        case CODEC_MSG_COUNT:
                break;
        }
        return false;
}

void controller_io_forget_inputs(struct controller_io *io)
{
        memset(&io->in, 0, sizeof(io->in));
}

bool controller_io_has_output(const struct controller_io *io, enum controller_io_output output)
{
        switch (output) {
        case CONTROLLER_IO_OUTPUT1:
        case CONTROLLER_IO_OUTPUT2:
        case CONTROLLER_IO_OUTPUT3:
        case CONTROLLER_IO_OUTPUT4:
                return (unsigned)(output - CONTROLLER_IO_OUTPUT1) < board_digital_outputs(io->cfg.board);
        case CONTROLLER_IO_LED1:
        case CONTROLLER_IO_LED2:
        case CONTROLLER_IO_LED3:
                /* Both boards have three LEDs since v2.7 / v3.6. */
                return io->cfg.board != CONTROLLER_IO_BOARD_NONE;
        case CONTROLLER_IO_OUTPUT_COUNT:
                break;
        }
        return false;
}

uint8_t controller_io_output_value(const struct controller_io *io, enum controller_io_output output)
{
        switch (output) {
        case CONTROLLER_IO_OUTPUT1:
        case CONTROLLER_IO_OUTPUT2:
        case CONTROLLER_IO_OUTPUT3:
        case CONTROLLER_IO_OUTPUT4:
                return io->out.digital[output - CONTROLLER_IO_OUTPUT1] ? 1 : 0;
        case CONTROLLER_IO_LED1:
        case CONTROLLER_IO_LED2:
        case CONTROLLER_IO_LED3:
                return io->out.led[output - CONTROLLER_IO_LED1];
        case CONTROLLER_IO_OUTPUT_COUNT:
                break;
        }
        return 0;
}

int controller_io_set_output(struct controller_io *io, enum controller_io_output output, uint8_t value,
                             uint64_t now_us)
{
        bool changed = false;

        if (!io || (unsigned)output >= CONTROLLER_IO_OUTPUT_COUNT)
                return -EINVAL;
        if (io->cfg.board == CONTROLLER_IO_BOARD_NONE)
                return -ENODEV;
        if (!controller_io_has_output(io, output))
                return -ENOENT;
        switch (output) {
        case CONTROLLER_IO_OUTPUT1:
        case CONTROLLER_IO_OUTPUT2:
        case CONTROLLER_IO_OUTPUT3:
        case CONTROLLER_IO_OUTPUT4:
                if (value > 1)
                        return -ERANGE;
                changed = io->out.digital[output - CONTROLLER_IO_OUTPUT1] != (value == 1);
                io->out.digital[output - CONTROLLER_IO_OUTPUT1] = value == 1;
                break;
        case CONTROLLER_IO_LED1:
        case CONTROLLER_IO_LED2:
        case CONTROLLER_IO_LED3:
                /* The database: 1..100 a brightness, above 100 full. */
                changed = io->out.led[output - CONTROLLER_IO_LED1] != value;
                io->out.led[output - CONTROLLER_IO_LED1] = value;
                break;
        case CONTROLLER_IO_OUTPUT_COUNT:
                return -EINVAL;
        }
        /* A change goes out now, not up to a period later; the period
         * counts from there. */
        if (changed && !io->stopped)
                io->next_out_us = now_us;
        return 0;
}

static bool fill_outputs(const struct controller_io *io, struct codec_message *msg)
{
        switch (io->cfg.board) {
        case CONTROLLER_IO_BOARD_NONE:
                return false;
        case CONTROLLER_IO_BOARD_ADM_CS_SECC:
                *msg = (struct codec_message){ .type = CODEC_ADM_CS_SECC_OUTPUTS };
                for (unsigned i = 0; i < 4; i++)
                        msg->u.adm_cs_secc_outputs.digital_output[i] = io->out.digital[i];
                memcpy(msg->u.adm_cs_secc_outputs.led, io->out.led, sizeof(io->out.led));
                return true;
        case CONTROLLER_IO_BOARD_ADM_CS_SPCC:
                *msg = (struct codec_message){ .type = CODEC_ADM_CS_SPCC_OUTPUTS };
                for (unsigned i = 0; i < 2; i++)
                        msg->u.adm_cs_spcc_outputs.digital_output[i] = io->out.digital[i];
                memcpy(msg->u.adm_cs_spcc_outputs.led, io->out.led, sizeof(io->out.led));
                return true;
        }
        return false;
}

bool controller_io_due(struct controller_io *io, uint64_t now_us, struct codec_message *msg)
{
        if (io->stopped || io->cfg.board == CONTROLLER_IO_BOARD_NONE || now_us < io->next_out_us)
                return false;
        if (!fill_outputs(io, msg))
                return false;
        /* A period from this frame: the controller sees the frames a
         * period apart even when one was late (at start, or on a busy
         * machine). */
        io->next_out_us = add_sat(now_us, io->cfg.period_us);
        return true;
}

bool controller_io_shutdown(struct controller_io *io, struct codec_message *msg)
{
        if (io->stopped)
                return false;
        io->stopped = true;
        io->out = io->cfg.safe;
        fit_to_board(&io->out, io->cfg.board);
        return fill_outputs(io, msg);
}

uint64_t controller_io_next_deadline(const struct controller_io *io)
{
        if (io->stopped || io->cfg.board == CONTROLLER_IO_BOARD_NONE)
                return CONTROLLER_IO_NO_DEADLINE;
        return io->next_out_us;
}

static bool name_equal(const char *a, const char *b)
{
        for (; *a && *b; a++, b++) {
                char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
                char y = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;

                if (x != y)
                        return false;
        }
        return *a == *b;
}

const char *controller_io_output_name(enum controller_io_output output)
{
        if ((unsigned)output >= CONTROLLER_IO_OUTPUT_COUNT)
                return NULL;
        return controller_io_output_names[output];
}

int controller_io_output_by_name(const char *name, enum controller_io_output *out)
{
        if (!name)
                return -ENOENT;
        for (unsigned i = 0; i < CONTROLLER_IO_OUTPUT_COUNT; i++) {
                if (name_equal(name, controller_io_output_names[i])) {
                        *out = (enum controller_io_output)i;
                        return 0;
                }
        }
        return -ENOENT;
}

const char *controller_io_board_name(enum controller_io_board board)
{
        switch (board) {
        case CONTROLLER_IO_BOARD_NONE:
                return "none";
        case CONTROLLER_IO_BOARD_ADM_CS_SECC:
                return "adm-cs-secc";
        case CONTROLLER_IO_BOARD_ADM_CS_SPCC:
                return "adm-cs-spcc";
        }
        return "unknown";
}

int controller_io_board_by_name(const char *name, enum controller_io_board *out)
{
        static const enum controller_io_board boards[] = {
                CONTROLLER_IO_BOARD_NONE,
                CONTROLLER_IO_BOARD_ADM_CS_SECC,
                CONTROLLER_IO_BOARD_ADM_CS_SPCC,
        };

        if (!name)
                return -ENOENT;
        for (size_t i = 0; i < sizeof(boards) / sizeof(boards[0]); i++) {
                if (name_equal(name, controller_io_board_name(boards[i]))) {
                        *out = boards[i];
                        return 0;
                }
        }
        return -ENOENT;
}
