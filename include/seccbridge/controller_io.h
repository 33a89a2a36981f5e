/* SPDX-License-Identifier: MIT */
/*
 * The charge controller's own I/O, as the interface carries it (database
 * v2.7 and v3.6 alike): the inputs and temperatures of its board
 * (ADM_CO_CUI1_Inputs, ADM_CS_SECC_Inputs, ADM_CS_SPCC_Inputs), the CP and
 * MCS line states (CCS_ / MCS_Extra_Information), and the outputs of the
 * ADM-CS-SECC or ADM-CS-SPCC board (ADM_CS_SECC_Outputs,
 * ADM_CS_SPCC_Outputs), which the power side drives.
 *
 * Pure, like the session that embeds it: no I/O, no clock.  Time is an
 * argument; the outputs frame is due at the database's period (1000 ms) and
 * at once after a change, and controller_io_next_deadline() says when.  At
 * start and on shutdown the outputs are in the configured safe state.
 *
 * Return codes: 0, -EINVAL (bad argument), -ENODEV (no board's outputs are
 * driven), -ENOENT (the board has no such output), -ERANGE (a digital
 * output is 0 or 1).
 */
#ifndef SECCBRIDGE_CONTROLLER_IO_H
#define SECCBRIDGE_CONTROLLER_IO_H

#include <stdbool.h>
#include <stdint.h>

#include "seccbridge/codec.h"

#define CONTROLLER_IO_NO_DEADLINE UINT64_MAX
#define CONTROLLER_IO_DIGITAL_OUTPUTS 4         /* ADM-CS-SECC: 4, ADM-CS-SPCC: 2 */
#define CONTROLLER_IO_LEDS 3

/* Whose outputs the power side drives. */
enum controller_io_board {
        CONTROLLER_IO_BOARD_NONE,               /* none: no outputs frame at all */
        CONTROLLER_IO_BOARD_ADM_CS_SECC,        /* ADM_CS_SECC_Outputs */
        CONTROLLER_IO_BOARD_ADM_CS_SPCC,        /* ADM_CS_SPCC_Outputs */
};

/* One output, by the name the operator uses ("output1", "led2"). */
enum controller_io_output {
        CONTROLLER_IO_OUTPUT1,
        CONTROLLER_IO_OUTPUT2,
        CONTROLLER_IO_OUTPUT3,
        CONTROLLER_IO_OUTPUT4,
        CONTROLLER_IO_LED1,
        CONTROLLER_IO_LED2,
        CONTROLLER_IO_LED3,
        CONTROLLER_IO_OUTPUT_COUNT
};

struct controller_io_outputs {
        bool digital[CONTROLLER_IO_DIGITAL_OUTPUTS];
        uint8_t led[CONTROLLER_IO_LEDS];        /* brightness 0..100, above 100 = full */
};

struct controller_io_config {
        enum controller_io_board board;         /* default NONE */
        struct controller_io_outputs safe;      /* at start and on shutdown; default all off */
        uint64_t period_us;                     /* default 1000 ms (the database's period) */
};

/* What the controller said about its board and lines; `*_valid` tells
 * whether the message came since the controller was last heard of. */
struct controller_io_inputs {
        bool cui1_valid;
        struct codec_adm_co_cui1_inputs cui1;
        bool secc_valid;
        struct codec_adm_cs_secc_inputs secc;
        bool spcc_valid;
        struct codec_adm_cs_spcc_inputs spcc;
        bool ccs_valid;
        struct codec_ccs_extra_information ccs;
        bool mcs_valid;
        struct codec_mcs_extra_information mcs;
};

/* Private state: embed it, never touch its fields from outside the core. */
struct controller_io {
        struct controller_io_config cfg;
        struct controller_io_inputs in;
        struct controller_io_outputs out;       /* what the outputs frame says */
        uint64_t next_out_us;                   /* when it is due */
        bool stopped;                           /* safe state sent for shutdown */
};

void controller_io_config_defaults(struct controller_io_config *cfg);
/* 0, or -EINVAL (unknown board, no period). */
int controller_io_config_check(const struct controller_io_config *cfg);

/* Outputs in the safe state, the first frame due at `now_us`.  0 or -EINVAL. */
int controller_io_init(struct controller_io *io, const struct controller_io_config *cfg, uint64_t now_us);
/* A reloaded config: another board (or none) starts from its safe state,
 * sent at once; the same board keeps what the operator set.  0 or -EINVAL. */
int controller_io_reconfigure(struct controller_io *io, const struct controller_io_config *cfg, uint64_t now_us);

/* A decoded controller frame: true when it was one of the I/O messages
 * (and is now kept), false otherwise. */
bool controller_io_on_message(struct controller_io *io, const struct codec_message *msg);
/* The controller went silent: its inputs are no longer current. */
void controller_io_forget_inputs(struct controller_io *io);

/* Set one output: a digital output to 0 or 1, a LED to a brightness.  Due
 * at once when the value changes. */
int controller_io_set_output(struct controller_io *io, enum controller_io_output output, uint8_t value,
                             uint64_t now_us);
/* The value of one output (0 for one the board does not have). */
uint8_t controller_io_output_value(const struct controller_io *io, enum controller_io_output output);
/* Does the configured board have this output? */
bool controller_io_has_output(const struct controller_io *io, enum controller_io_output output);

/* The outputs frame, when it is due at `now_us`: true and *msg filled, the
 * next one scheduled a period later. */
bool controller_io_due(struct controller_io *io, uint64_t now_us, struct codec_message *msg);
/* Shutdown: back to the safe state; true and *msg filled when there is an
 * outputs frame to send (no board: false).  Nothing is due afterwards. */
bool controller_io_shutdown(struct controller_io *io, struct codec_message *msg);
uint64_t controller_io_next_deadline(const struct controller_io *io);

/* Is this message type one of the I/O messages (inputs, extra information,
 * outputs)? */
bool controller_io_is_io_message(enum codec_msg_type type);

/* "output1" .. "led3"; NULL for an invalid value. */
const char *controller_io_output_name(enum controller_io_output output);
/* 0 and *out, or -ENOENT.  Case-insensitive. */
int controller_io_output_by_name(const char *name, enum controller_io_output *out);
/* "none", "adm-cs-secc", "adm-cs-spcc". */
const char *controller_io_board_name(enum controller_io_board board);
/* 0 and *out, or -ENOENT. */
int controller_io_board_by_name(const char *name, enum controller_io_board *out);

#endif
