/* SPDX-License-Identifier: MIT */
/*
 * The energy estimate (energy.c): measurements held until the next one,
 * signed current split into delivered and returned, sub-mWh remainders
 * carried (no drift however often it is sampled), gaps bounded, peaks.
 * Time advanced by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "energy.h"

#define MS 1000ull
#define SEC 1000000ull
#define HOUR (3600ull * SEC)

/* 400.0 V x 100.0 A = 40 kW, sampled every second for one hour: 40 kWh. */
static void test_constant_power_one_hour(void **state)
{
        struct energy e;
        uint64_t t0 = 7 * SEC;

        (void)state;
        energy_reset(&e);
        for (uint64_t t = t0; t <= t0 + HOUR; t += SEC)
                energy_sample(&e, 4000, 1000, true, t);
        assert_int_equal(e.delivered_mwh, 40000000u);
        assert_int_equal(e.returned_mwh, 0);
        assert_int_equal(e.peak_delivered_cw, 4000u * 1000u);
}

/* Sampling every 100 ms or every 5 s gives the same energy: remainders
 * below one mWh are carried, not lost. */
static void test_frequent_samples_do_not_drift(void **state)
{
        struct energy often, seldom;
        uint64_t t0 = 1 * SEC;

        (void)state;
        energy_reset(&often);
        energy_reset(&seldom);
        /* 333.3 V x 7.7 A = 2566.41 W */
        for (uint64_t t = t0; t <= t0 + 600 * SEC; t += 100 * MS)
                energy_sample(&often, 3333, 77, true, t);
        for (uint64_t t = t0; t <= t0 + 600 * SEC; t += 5 * SEC)
                energy_sample(&seldom, 3333, 77, true, t);
        /* 2566.41 W x 600 s = 1539846 J = 427.735 Wh */
        assert_int_equal(often.delivered_mwh, 427735u);
        assert_int_equal(seldom.delivered_mwh, 427735u);
}

static void test_returned_energy_has_its_own_account(void **state)
{
        struct energy e;
        uint64_t t = 0;

        (void)state;
        energy_reset(&e);
        for (; t < 90 * SEC; t += SEC)
                energy_sample(&e, 4000, 500, true, t);          /* +20 kW */
        for (; t <= 126 * SEC; t += SEC)
                energy_sample(&e, 4000, -250, true, t);         /* -10 kW from 90 s */
        assert_int_equal(e.delivered_mwh, 500000u);     /* 20 kW x 90 s */
        assert_int_equal(e.returned_mwh, 100000u);      /* 10 kW x 36 s */
        assert_int_equal(e.peak_delivered_cw, 2000000u);
        assert_int_equal(e.peak_returned_cw, 1000000u);
}

/* Each measurement holds at most ENERGY_MAX_HOLD_US: a long gap (a stalled
 * process) adds no more than that. */
static void test_gap_bounded(void **state)
{
        struct energy e;

        (void)state;
        energy_reset(&e);
        energy_sample(&e, 3600, 1000, true, 0);          /* 36 kW = 10 Wh per second */
        energy_sample(&e, 3600, 1000, true, 60 * SEC);   /* 60 s later */
        assert_int_equal(e.delivered_mwh, 10000u * (ENERGY_MAX_HOLD_US / SEC));
        energy_advance(&e, 61 * SEC);
        assert_int_equal(e.delivered_mwh, 10000u * (ENERGY_MAX_HOLD_US / SEC + 1));
}

/* No measurement in force (link lost): nothing is counted until the next
 * valid one, and then only from its time. */
static void test_invalid_measurement_counts_nothing(void **state)
{
        struct energy e;

        (void)state;
        energy_reset(&e);
        energy_advance(&e, 10 * SEC);                   /* nothing in force yet */
        assert_int_equal(e.delivered_mwh, 0);
        energy_sample(&e, 3600, 1000, false, 10 * SEC);
        energy_advance(&e, 12 * SEC);
        assert_int_equal(e.delivered_mwh, 0);
        energy_sample(&e, 3600, 1000, true, 12 * SEC);
        energy_advance(&e, 13 * SEC);
        assert_int_equal(e.delivered_mwh, 10000u);
        energy_sample(&e, 3600, 1000, false, 13 * SEC);
        energy_advance(&e, 20 * SEC);
        assert_int_equal(e.delivered_mwh, 10000u);
}

/* Time never goes backwards for the integrator. */
static void test_time_going_back_is_ignored(void **state)
{
        struct energy e;

        (void)state;
        energy_reset(&e);
        energy_sample(&e, 3600, 1000, true, 10 * SEC);
        energy_advance(&e, 11 * SEC);
        energy_sample(&e, 3600, 1000, true, 9 * SEC);
        energy_advance(&e, 12 * SEC);
        assert_int_equal(e.delivered_mwh, 20000u);
}

/* The largest values of the interface: no overflow over a long hold. */
static void test_extremes(void **state)
{
        struct energy e;

        (void)state;
        energy_reset(&e);
        energy_sample(&e, UINT16_MAX, INT16_MAX, true, 0);
        energy_advance(&e, ENERGY_MAX_HOLD_US);
        /* 6553.5 V x 3276.7 A x 5 s / 3600 = 29824.796... Wh */
        assert_int_equal(e.delivered_mwh, 29824796u);
        energy_sample(&e, UINT16_MAX, INT16_MIN, true, ENERGY_MAX_HOLD_US);
        energy_advance(&e, 2 * ENERGY_MAX_HOLD_US);
        assert_int_equal(e.returned_mwh, 29825706u);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_constant_power_one_hour),
                cmocka_unit_test(test_frequent_samples_do_not_drift),
                cmocka_unit_test(test_returned_energy_has_its_own_account),
                cmocka_unit_test(test_gap_bounded),
                cmocka_unit_test(test_invalid_measurement_counts_nothing),
                cmocka_unit_test(test_time_going_back_is_ignored),
                cmocka_unit_test(test_extremes),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
