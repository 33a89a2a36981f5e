/* SPDX-License-Identifier: MIT */
/*
 * The controller's I/O (controller_io.c): outputs in their safe state at
 * start, sent at the database's period and at once after a change, back to
 * the safe state on shutdown; inputs kept as they come, forgotten when the
 * controller goes silent; names of outputs and boards.  Time by hand.
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

#define MS 1000ull
#define SEC 1000000ull
#define T0 (7 * SEC)

static struct controller_io_config secc_config(void)
{
        struct controller_io_config cfg;

        controller_io_config_defaults(&cfg);
        cfg.board = CONTROLLER_IO_BOARD_ADM_CS_SECC;
        return cfg;
}

/* The frame the module asks for at `now`, encoded and decoded with the
 * database as the controller would read it. */
static bool due_frame(struct controller_io *io, uint64_t now, const struct codec_db *db,
                      struct codec_message *back)
{
        struct codec_message m;
        struct codec_frame f;

        if (!controller_io_due(io, now, &m))
                return false;
        assert_int_equal(codec_encode(db, &m, 1, &f), 0);
        assert_int_equal(f.len, 8);
        assert_int_equal(codec_decode(db, &f, 1, back), 0);
        return true;
}

static void test_defaults_drive_nothing(void **state)
{
        struct controller_io_config cfg;
        struct controller_io io;
        struct codec_message m;

        (void)state;
        controller_io_config_defaults(&cfg);
        assert_int_equal(cfg.board, CONTROLLER_IO_BOARD_NONE);
        assert_int_equal(cfg.period_us, 1000 * MS);
        assert_int_equal(controller_io_init(&io, &cfg, T0), 0);
        /* No board: no frame ever, no deadline, outputs refused. */
        assert_false(controller_io_due(&io, T0 + 10 * SEC, &m));
        assert_true(controller_io_next_deadline(&io) == CONTROLLER_IO_NO_DEADLINE);
        assert_int_equal(controller_io_set_output(&io, CONTROLLER_IO_OUTPUT1, 1, T0), -ENODEV);
        assert_false(controller_io_shutdown(&io, &m));
}

static void test_outputs_period_and_change(void **state)
{
        struct controller_io_config cfg = secc_config();
        struct controller_io io;
        struct codec_message m;

        (void)state;
        cfg.safe.digital[2] = true;     /* output3 on in the safe state */
        assert_int_equal(controller_io_init(&io, &cfg, T0), 0);
        /* The safe state goes out at once. */
        assert_int_equal(controller_io_next_deadline(&io), T0);
        assert_true(due_frame(&io, T0, &codec_db_v2_7, &m));
        assert_int_equal(m.type, CODEC_ADM_CS_SECC_OUTPUTS);
        assert_false(m.u.adm_cs_secc_outputs.digital_output[0]);
        assert_true(m.u.adm_cs_secc_outputs.digital_output[2]);
        /* Then every 1000 ms, not earlier. */
        assert_int_equal(controller_io_next_deadline(&io), T0 + 1000 * MS);
        assert_false(controller_io_due(&io, T0 + 999 * MS, &m));
        assert_true(due_frame(&io, T0 + 1000 * MS, &codec_db_v2_7, &m));
        assert_int_equal(controller_io_next_deadline(&io), T0 + 2000 * MS);

        /* A change is due at once; the period counts from there. */
        assert_int_equal(controller_io_set_output(&io, CONTROLLER_IO_OUTPUT1, 1, T0 + 1300 * MS), 0);
        assert_int_equal(controller_io_set_output(&io, CONTROLLER_IO_LED2, 150, T0 + 1300 * MS), 0);
        assert_int_equal(controller_io_next_deadline(&io), T0 + 1300 * MS);
        assert_true(due_frame(&io, T0 + 1300 * MS, &codec_db_v3_6, &m));
        assert_true(m.u.adm_cs_secc_outputs.digital_output[0]);
        assert_true(m.u.adm_cs_secc_outputs.digital_output[2]);
        assert_int_equal(m.u.adm_cs_secc_outputs.led[1], 150);
        assert_int_equal(controller_io_output_value(&io, CONTROLLER_IO_LED2), 150);
        assert_int_equal(controller_io_next_deadline(&io), T0 + 2300 * MS);
        /* The same value again changes nothing. */
        assert_int_equal(controller_io_set_output(&io, CONTROLLER_IO_OUTPUT1, 1, T0 + 1500 * MS), 0);
        assert_int_equal(controller_io_next_deadline(&io), T0 + 2300 * MS);
        /* Late: the next one a period later, no burst. */
        assert_true(due_frame(&io, T0 + 5000 * MS, &codec_db_v2_7, &m));
        assert_int_equal(controller_io_next_deadline(&io), T0 + 6000 * MS);
        assert_true(due_frame(&io, T0 + 6040 * MS, &codec_db_v2_7, &m));
        assert_int_equal(controller_io_next_deadline(&io), T0 + 7040 * MS);
}

static void test_outputs_refused(void **state)
{
        struct controller_io_config cfg = secc_config();
        struct controller_io io;

        (void)state;
        assert_int_equal(controller_io_init(&io, &cfg, T0), 0);
        assert_int_equal(controller_io_set_output(&io, CONTROLLER_IO_OUTPUT4, 2, T0), -ERANGE);
        assert_int_equal(controller_io_set_output(&io, CONTROLLER_IO_OUTPUT_COUNT, 1, T0), -EINVAL);
        /* The ADM-CS-SPCC has two digital outputs. */
        cfg.board = CONTROLLER_IO_BOARD_ADM_CS_SPCC;
        assert_int_equal(controller_io_init(&io, &cfg, T0), 0);
        assert_int_equal(controller_io_set_output(&io, CONTROLLER_IO_OUTPUT3, 1, T0), -ENOENT);
        assert_false(controller_io_has_output(&io, CONTROLLER_IO_OUTPUT3));
        assert_true(controller_io_has_output(&io, CONTROLLER_IO_OUTPUT2));
        assert_true(controller_io_has_output(&io, CONTROLLER_IO_LED3));
}

static void test_spcc_frame(void **state)
{
        struct controller_io_config cfg;
        struct controller_io io;
        struct codec_message m;

        (void)state;
        controller_io_config_defaults(&cfg);
        cfg.board = CONTROLLER_IO_BOARD_ADM_CS_SPCC;
        cfg.safe.digital[3] = true;     /* not on this board: never sent */
        cfg.safe.led[0] = 100;
        assert_int_equal(controller_io_init(&io, &cfg, T0), 0);
        assert_int_equal(controller_io_output_value(&io, CONTROLLER_IO_OUTPUT4), 0);
        assert_int_equal(controller_io_set_output(&io, CONTROLLER_IO_OUTPUT2, 1, T0), 0);
        assert_true(due_frame(&io, T0, &codec_db_v3_6, &m));
        assert_int_equal(m.type, CODEC_ADM_CS_SPCC_OUTPUTS);
        assert_false(m.u.adm_cs_spcc_outputs.digital_output[0]);
        assert_true(m.u.adm_cs_spcc_outputs.digital_output[1]);
        assert_int_equal(m.u.adm_cs_spcc_outputs.led[0], 100);
}

static void test_shutdown_safe_state(void **state)
{
        struct controller_io_config cfg = secc_config();
        struct controller_io io;
        struct codec_message m;

        (void)state;
        cfg.safe.led[2] = 20;
        assert_int_equal(controller_io_init(&io, &cfg, T0), 0);
        assert_int_equal(controller_io_set_output(&io, CONTROLLER_IO_OUTPUT2, 1, T0), 0);
        assert_int_equal(controller_io_set_output(&io, CONTROLLER_IO_LED3, 90, T0), 0);
        assert_true(controller_io_due(&io, T0, &m));
        assert_true(controller_io_shutdown(&io, &m));
        assert_int_equal(m.type, CODEC_ADM_CS_SECC_OUTPUTS);
        assert_false(m.u.adm_cs_secc_outputs.digital_output[1]);
        assert_int_equal(m.u.adm_cs_secc_outputs.led[2], 20);
        /* Nothing afterwards. */
        assert_true(controller_io_next_deadline(&io) == CONTROLLER_IO_NO_DEADLINE);
        assert_false(controller_io_due(&io, T0 + 10 * SEC, &m));
        assert_false(controller_io_shutdown(&io, &m));
}

static void test_reconfigure(void **state)
{
        struct controller_io_config cfg = secc_config();
        struct controller_io io;
        struct codec_message m;

        (void)state;
        assert_int_equal(controller_io_init(&io, &cfg, T0), 0);
        assert_true(controller_io_due(&io, T0, &m));
        assert_int_equal(controller_io_set_output(&io, CONTROLLER_IO_OUTPUT1, 1, T0 + 100 * MS), 0);
        assert_true(controller_io_due(&io, T0 + 100 * MS, &m));
        /* Same board: the operator's outputs stay. */
        cfg.safe.digital[3] = true;
        assert_int_equal(controller_io_reconfigure(&io, &cfg, T0 + 200 * MS), 0);
        assert_int_equal(controller_io_output_value(&io, CONTROLLER_IO_OUTPUT1), 1);
        assert_int_equal(controller_io_next_deadline(&io), T0 + 1100 * MS);
        /* Another board starts from its safe state, at once. */
        cfg.board = CONTROLLER_IO_BOARD_ADM_CS_SPCC;
        assert_int_equal(controller_io_reconfigure(&io, &cfg, T0 + 300 * MS), 0);
        assert_int_equal(controller_io_output_value(&io, CONTROLLER_IO_OUTPUT1), 0);
        assert_int_equal(controller_io_next_deadline(&io), T0 + 300 * MS);
        assert_true(controller_io_due(&io, T0 + 300 * MS, &m));
        assert_int_equal(m.type, CODEC_ADM_CS_SPCC_OUTPUTS);
        /* None: nothing more. */
        cfg.board = CONTROLLER_IO_BOARD_NONE;
        assert_int_equal(controller_io_reconfigure(&io, &cfg, T0 + 400 * MS), 0);
        assert_true(controller_io_next_deadline(&io) == CONTROLLER_IO_NO_DEADLINE);
        cfg.period_us = 0;
        assert_int_equal(controller_io_reconfigure(&io, &cfg, T0 + 400 * MS), -EINVAL);
}

static void test_inputs_kept_and_forgotten(void **state)
{
        struct controller_io_config cfg;
        struct controller_io io;
        struct codec_message m = { .type = CODEC_ADM_CS_SECC_INPUTS };

        (void)state;
        controller_io_config_defaults(&cfg);
        assert_int_equal(controller_io_init(&io, &cfg, T0), 0);
        assert_false(io.in.secc_valid);
        m.u.adm_cs_secc_inputs.digital_input[1] = true;
        m.u.adm_cs_secc_inputs.cpu_temperature_c = 47;
        assert_true(controller_io_on_message(&io, &m));
        assert_true(io.in.secc_valid);
        assert_true(io.in.secc.digital_input[1]);
        assert_int_equal(io.in.secc.cpu_temperature_c, 47);

        m = (struct codec_message){ .type = CODEC_CCS_EXTRA_INFORMATION };
        m.u.ccs_extra_information.cp_state = 6;
        m.u.ccs_extra_information.cp_duty_cycle_permille = 50;
        assert_true(controller_io_on_message(&io, &m));
        assert_true(io.in.ccs_valid);
        m = (struct codec_message){ .type = CODEC_MCS_EXTRA_INFORMATION };
        m.u.mcs_extra_information.id_state = 1;
        assert_true(controller_io_on_message(&io, &m));
        m = (struct codec_message){ .type = CODEC_ADM_CO_CUI1_INPUTS };
        m.u.adm_co_cui1_inputs.switch_input[5] = true;
        assert_true(controller_io_on_message(&io, &m));
        m = (struct codec_message){ .type = CODEC_ADM_CS_SPCC_INPUTS };
        m.u.adm_cs_spcc_inputs.pt1ks_d_c = -12;
        assert_true(controller_io_on_message(&io, &m));
        assert_int_equal(io.in.spcc.pt1ks_d_c, -12);
        assert_true(io.in.cui1.switch_input[5]);
        /* Not an I/O message. */
        m = (struct codec_message){ .type = CODEC_EV_ID_CCS_PART2_DIN };
        assert_false(controller_io_on_message(&io, &m));

        controller_io_forget_inputs(&io);
        assert_false(io.in.secc_valid || io.in.ccs_valid || io.in.mcs_valid || io.in.cui1_valid ||
                     io.in.spcc_valid);
}

static void test_names(void **state)
{
        enum controller_io_output o;
        enum controller_io_board b;

        (void)state;
        assert_int_equal(controller_io_output_by_name("Output3", &o), 0);
        assert_int_equal(o, CONTROLLER_IO_OUTPUT3);
        assert_int_equal(controller_io_output_by_name("led1", &o), 0);
        assert_int_equal(o, CONTROLLER_IO_LED1);
        assert_int_equal(controller_io_output_by_name("output5", &o), -ENOENT);
        assert_int_equal(controller_io_output_by_name("", &o), -ENOENT);
        assert_string_equal(controller_io_output_name(CONTROLLER_IO_LED3), "led3");
        assert_null(controller_io_output_name(CONTROLLER_IO_OUTPUT_COUNT));
        assert_int_equal(controller_io_board_by_name("adm-cs-spcc", &b), 0);
        assert_int_equal(b, CONTROLLER_IO_BOARD_ADM_CS_SPCC);
        assert_int_equal(controller_io_board_by_name("none", &b), 0);
        assert_int_equal(b, CONTROLLER_IO_BOARD_NONE);
        assert_int_equal(controller_io_board_by_name("secc", &b), -ENOENT);
        assert_true(controller_io_is_io_message(CODEC_ADM_CS_SPCC_INPUTS));
        assert_true(controller_io_is_io_message(CODEC_MCS_EXTRA_INFORMATION));
        assert_false(controller_io_is_io_message(CODEC_EV_ID_CCS_PART2_DIN));
        assert_false(controller_io_is_io_message(CODEC_POWER_MODULES_STATUS));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults_drive_nothing),
                cmocka_unit_test(test_outputs_period_and_change),
                cmocka_unit_test(test_outputs_refused),
                cmocka_unit_test(test_spcc_frame),
                cmocka_unit_test(test_shutdown_safe_state),
                cmocka_unit_test(test_reconfigure),
                cmocka_unit_test(test_inputs_kept_and_forgotten),
                cmocka_unit_test(test_names),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
