/* SPDX-License-Identifier: MIT */
/*
 * Limit arithmetic: limits in force, power cap, clamping of every command
 * mode, and a randomized check that a clamped command always respects the
 * limits and is the largest one that does.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "seccbridge/limits.h"

/* 1000 V, 200 A, 100 kW, precharge 2 A, insulation 1 A */
static const struct power_limits base = {
        .max_voltage_dv = 10000,
        .max_current_da = 2000,
        .max_power_w = 100000,
        .precharge_max_current_da = 20,
        .insulation_max_current_da = 10,
};

static void test_check_rejects_zero_fields(void **state)
{
        struct power_limits l = base;

        (void)state;
        assert_int_equal(limits_check(&l), 0);
        assert_int_equal(limits_check(NULL), -EINVAL);
        l = base;
        l.max_voltage_dv = 0;
        assert_int_equal(limits_check(&l), -EINVAL);
        l = base;
        l.max_current_da = 0;
        assert_int_equal(limits_check(&l), -EINVAL);
        l = base;
        l.max_power_w = 0;
        assert_int_equal(limits_check(&l), -EINVAL);
        l = base;
        l.precharge_max_current_da = 0;
        assert_int_equal(limits_check(&l), -EINVAL);
        l = base;
        l.insulation_max_current_da = 0;
        assert_int_equal(limits_check(&l), -EINVAL);
}

static void test_effective_without_dynamic_is_static(void **state)
{
        struct power_limits dyn = { 0 }, out;

        (void)state;
        limits_effective(&base, &dyn, NULL, &out);
        assert_true(limits_equal(&out, &base));
}

static void test_effective_dynamic_lowers_each_field(void **state)
{
        struct power_limits dyn = {
                .max_voltage_dv = 5000,
                .max_current_da = 1000,
                .max_power_w = 30000,
                .precharge_max_current_da = 15,
                .insulation_max_current_da = 5,
        };
        struct power_limits out;

        (void)state;
        limits_effective(&base, &dyn, NULL, &out);
        assert_int_equal(out.max_voltage_dv, 5000);
        assert_int_equal(out.max_current_da, 1000);
        assert_int_equal(out.max_power_w, 30000);
        assert_int_equal(out.precharge_max_current_da, 15);
        assert_int_equal(out.insulation_max_current_da, 5);
}

static void test_effective_dynamic_never_raises(void **state)
{
        struct power_limits dyn = {
                .max_voltage_dv = 20000,
                .max_current_da = 3000,
                .max_power_w = 500000,
                .precharge_max_current_da = 100,
                .insulation_max_current_da = 100,
        };
        struct power_limits out;

        (void)state;
        limits_effective(&base, &dyn, NULL, &out);
        assert_true(limits_equal(&out, &base));
}

static void test_effective_caps_follow_current_limit(void **state)
{
        struct power_limits dyn = { .max_current_da = 8 };
        struct power_limits out;

        (void)state;
        limits_effective(&base, &dyn, NULL, &out);
        assert_int_equal(out.max_current_da, 8);
        assert_int_equal(out.precharge_max_current_da, 8);
        assert_int_equal(out.insulation_max_current_da, 8);
}

/* The converter's rating is a third source: it lowers each of voltage,
 * current and power, and the caps follow the current. */
static void test_effective_rating_lowers_each_limit(void **state)
{
        struct power_limits dyn = { 0 }, out;
        struct power_rating rating = { .max_voltage_dv = 5000, .max_current_da = 1000, .max_power_w = 30000 };

        (void)state;
        limits_effective(&base, &dyn, &rating, &out);
        assert_int_equal(out.max_voltage_dv, 5000);
        assert_int_equal(out.max_current_da, 1000);
        assert_int_equal(out.max_power_w, 30000);
        assert_int_equal(out.precharge_max_current_da, 20);
        assert_int_equal(out.insulation_max_current_da, 10);

        rating = (struct power_rating) { .max_current_da = 15 };
        limits_effective(&base, &dyn, &rating, &out);
        assert_int_equal(out.max_voltage_dv, 10000);
        assert_int_equal(out.max_current_da, 15);
        assert_int_equal(out.max_power_w, 100000);
        assert_int_equal(out.precharge_max_current_da, 15);
        assert_int_equal(out.insulation_max_current_da, 10);
}

static void test_effective_rating_never_raises(void **state)
{
        struct power_limits dyn = { 0 }, out;
        struct power_rating rating = { .max_voltage_dv = 15000, .max_current_da = 5000, .max_power_w = 350000 };
        struct power_rating unknown = { 0 };

        (void)state;
        limits_effective(&base, &dyn, &rating, &out);
        assert_true(limits_equal(&out, &base));
        limits_effective(&base, &dyn, &unknown, &out);
        assert_true(limits_equal(&out, &base));
}

/* Config, operator and rating: the lowest of the three, field by field. */
static void test_effective_lowest_of_three(void **state)
{
        struct power_limits dyn = { .max_voltage_dv = 8000, .max_current_da = 1500, .max_power_w = 40000 };
        struct power_rating rating = { .max_voltage_dv = 9000, .max_current_da = 1200, .max_power_w = 60000 };
        struct power_limits out;

        (void)state;
        limits_effective(&base, &dyn, &rating, &out);
        assert_int_equal(out.max_voltage_dv, 8000);     /* operator */
        assert_int_equal(out.max_current_da, 1200);     /* rating */
        assert_int_equal(out.max_power_w, 40000);       /* operator */
        dyn = (struct power_limits) { 0 };
        rating = (struct power_rating) { .max_power_w = 200000 };
        limits_effective(&base, &dyn, &rating, &out);
        assert_int_equal(out.max_power_w, 100000);      /* config */
}

static void test_power_current(void **state)
{
        (void)state;
        /* 100 kW at 400 V -> 250 A */
        assert_int_equal(limits_power_current_da(100000, 4000), 2500);
        /* 50 kW at 333.3 V -> 150.01 A, rounded down to 150.0 A */
        assert_int_equal(limits_power_current_da(50000, 3333), 1500);
        /* no voltage, no power */
        assert_int_equal(limits_power_current_da(50000, 0), UINT16_MAX);
        /* saturates instead of wrapping */
        assert_int_equal(limits_power_current_da(UINT32_MAX, 1), UINT16_MAX);
        assert_int_equal(limits_power_current_da(1, 10000), 0);
}

static void test_clamp_off_always_discharges(void **state)
{
        struct power_command want = { .mode = POWER_OFF, .voltage_dv = 5000,
                                      .current_da = 100, .discharge = false };
        struct power_command out;

        (void)state;
        limits_clamp(&base, &want, &out);
        assert_int_equal(out.mode, POWER_OFF);
        assert_int_equal(out.voltage_dv, 0);
        assert_int_equal(out.current_da, 0);
        assert_true(out.discharge);
        assert_true(limits_within(&base, &out));
}

static void test_clamp_standby_keeps_discharge_flag(void **state)
{
        struct power_command want = { .mode = POWER_STANDBY, .voltage_dv = 5000,
                                      .current_da = 100, .discharge = false };
        struct power_command out;

        (void)state;
        limits_clamp(&base, &want, &out);
        assert_int_equal(out.mode, POWER_STANDBY);
        assert_int_equal(out.voltage_dv, 0);
        assert_int_equal(out.current_da, 0);
        assert_false(out.discharge);
        want.discharge = true;
        limits_clamp(&base, &want, &out);
        assert_true(out.discharge);
}

static void test_clamp_charge_voltage_current_power(void **state)
{
        struct power_command want = { .mode = POWER_CHARGE, .voltage_dv = 12000,
                                      .current_da = 3000, .discharge = true };
        struct power_command out;

        (void)state;
        limits_clamp(&base, &want, &out);
        assert_int_equal(out.mode, POWER_CHARGE);
        assert_int_equal(out.voltage_dv, 10000);
        /* 100 kW at 1000 V -> 100 A, below the 200 A current limit */
        assert_int_equal(out.current_da, 1000);
        assert_false(out.discharge);

        /* within every limit: unchanged */
        want = (struct power_command){ .mode = POWER_CHARGE, .voltage_dv = 4000,
                                       .current_da = 1500 };
        limits_clamp(&base, &want, &out);
        assert_int_equal(out.voltage_dv, 4000);
        assert_int_equal(out.current_da, 1500);

        /* current limit binds before power */
        want.current_da = 2500;
        want.voltage_dv = 2000;
        limits_clamp(&base, &want, &out);
        assert_int_equal(out.current_da, 2000);
}

static void test_clamp_precharge_uses_its_cap(void **state)
{
        struct power_command want = { .mode = POWER_PRECHARGE, .voltage_dv = 3875,
                                      .current_da = 100 };
        struct power_command out;

        (void)state;
        limits_clamp(&base, &want, &out);
        assert_int_equal(out.mode, POWER_PRECHARGE);
        assert_int_equal(out.voltage_dv, 3875);
        assert_int_equal(out.current_da, 20);
        want.current_da = 15;
        limits_clamp(&base, &want, &out);
        assert_int_equal(out.current_da, 15);
}

static void test_clamp_insulation_uses_its_cap(void **state)
{
        struct power_command want = { .mode = POWER_INSULATION_TEST, .voltage_dv = 15000,
                                      .current_da = 2000 };
        struct power_command out;

        (void)state;
        limits_clamp(&base, &want, &out);
        assert_int_equal(out.mode, POWER_INSULATION_TEST);
        assert_int_equal(out.voltage_dv, 10000);
        assert_int_equal(out.current_da, 10);
}

static void test_clamp_may_alias(void **state)
{
        struct power_command c = { .mode = POWER_CHARGE, .voltage_dv = 60000,
                                   .current_da = 60000 };

        (void)state;
        limits_clamp(&base, &c, &c);
        assert_int_equal(c.voltage_dv, 10000);
        assert_int_equal(c.current_da, 1000);
}

static void test_within_detects_each_violation(void **state)
{
        struct power_command ok = { .mode = POWER_CHARGE, .voltage_dv = 4000,
                                    .current_da = 2000 };
        struct power_command c;

        (void)state;
        assert_true(limits_within(&base, &ok));
        c = ok;
        c.voltage_dv = 10001;
        c.current_da = 10;
        assert_false(limits_within(&base, &c));
        c = ok;
        c.current_da = 2001;
        assert_false(limits_within(&base, &c));
        c = ok;
        c.voltage_dv = 6000;    /* 600 V x 200 A = 120 kW */
        assert_false(limits_within(&base, &c));
        c = ok;
        c.discharge = true;
        assert_false(limits_within(&base, &c));
        c = (struct power_command){ .mode = POWER_PRECHARGE, .voltage_dv = 4000,
                                    .current_da = 21 };
        assert_false(limits_within(&base, &c));
        c = (struct power_command){ .mode = POWER_INSULATION_TEST, .voltage_dv = 5000,
                                    .current_da = 11 };
        assert_false(limits_within(&base, &c));
        c = (struct power_command){ .mode = POWER_STANDBY, .current_da = 1 };
        assert_false(limits_within(&base, &c));
        c = (struct power_command){ .mode = POWER_OFF, .discharge = false };
        assert_false(limits_within(&base, &c));
}

/* xorshift64*: a small deterministic generator of our own. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * 2685821657736338717ull;
}

static uint32_t rng_below(uint32_t n)
{
        return (uint32_t)(rng_next() % n);
}

static void test_random_clamp_is_within_and_maximal(void **state)
{
        unsigned checked_power = 0;

        (void)state;
        rng_state = 0x9e3779b97f4a7c15ull;
        for (unsigned i = 0; i < 20000; i++) {
                struct power_limits st = {
                        .max_voltage_dv = (uint16_t)(1 + rng_below(65535)),
                        .max_current_da = (uint16_t)(1 + rng_below(65535)),
                        .max_power_w = 1 + rng_below(1000000),
                        .precharge_max_current_da = (uint16_t)(1 + rng_below(200)),
                        .insulation_max_current_da = (uint16_t)(1 + rng_below(200)),
                };
                struct power_limits dyn = {
                        .max_voltage_dv = (uint16_t)(rng_below(2) ? rng_below(65536) : 0),
                        .max_current_da = (uint16_t)(rng_below(2) ? rng_below(65536) : 0),
                        .max_power_w = rng_below(2) ? rng_below(2000000) : 0,
                };
                struct power_limits l;
                struct power_command want = {
                        .mode = (enum power_mode)rng_below(5),
                        .voltage_dv = (uint16_t)rng_below(65536),
                        .current_da = (uint16_t)rng_below(65536),
                        .discharge = rng_below(2) != 0,
                };
                struct power_command out, again;

                limits_effective(&st, &dyn, NULL, &l);
                assert_true(l.max_voltage_dv <= st.max_voltage_dv);
                assert_true(l.max_current_da <= st.max_current_da);
                assert_true(l.max_power_w <= st.max_power_w);
                limits_clamp(&l, &want, &out);
                assert_true(limits_within(&l, &out));
                /* the limits in force are within the static ones, so the
                 * command is within both */
                assert_true(limits_within(&st, &out));
                assert_int_equal(out.mode, want.mode);
                assert_true(out.voltage_dv <= want.voltage_dv);
                assert_true(out.current_da <= want.current_da);
                /* idempotent */
                limits_clamp(&l, &out, &again);
                assert_int_equal(out.mode, again.mode);
                assert_int_equal(out.voltage_dv, again.voltage_dv);
                assert_int_equal(out.current_da, again.current_da);
                assert_int_equal(out.discharge, again.discharge);
                /* maximal: one more 0.1 A would break a limit */
                if (out.mode != POWER_OFF && out.mode != POWER_STANDBY &&
                    out.current_da < want.current_da) {
                        struct power_command more = out;

                        more.current_da++;
                        assert_false(limits_within(&l, &more));
                        if ((uint64_t)more.voltage_dv * more.current_da >
                            (uint64_t)l.max_power_w * 100u)
                                checked_power++;
                }
        }
        /* the power cap was the binding limit often enough to matter */
        assert_true(checked_power > 100);
}

/* The same with a rating as a third source: a clamped command is within
 * every one of the three sources. */
static void test_random_clamp_respects_the_rating(void **state)
{
        (void)state;
        rng_state = 0x243f6a8885a308d3ull;
        for (unsigned i = 0; i < 20000; i++) {
                struct power_limits st = {
                        .max_voltage_dv = (uint16_t)(1 + rng_below(65535)),
                        .max_current_da = (uint16_t)(1 + rng_below(65535)),
                        .max_power_w = 1 + rng_below(1000000),
                        .precharge_max_current_da = (uint16_t)(1 + rng_below(200)),
                        .insulation_max_current_da = (uint16_t)(1 + rng_below(200)),
                };
                struct power_limits dyn = {
                        .max_voltage_dv = (uint16_t)(rng_below(2) ? rng_below(65536) : 0),
                        .max_current_da = (uint16_t)(rng_below(2) ? rng_below(65536) : 0),
                        .max_power_w = rng_below(2) ? rng_below(2000000) : 0,
                };
                struct power_rating rating = {
                        .max_voltage_dv = (uint16_t)(rng_below(2) ? rng_below(65536) : 0),
                        .max_current_da = (uint16_t)(rng_below(2) ? rng_below(65536) : 0),
                        .max_power_w = rng_below(2) ? rng_below(2000000) : 0,
                };
                struct power_command want = {
                        .mode = (enum power_mode)rng_below(5),
                        .voltage_dv = (uint16_t)rng_below(65536),
                        .current_da = (uint16_t)rng_below(65536),
                };
                struct power_limits l;
                struct power_command out;

                limits_effective(&st, &dyn, &rating, &l);
                limits_clamp(&l, &want, &out);
                assert_true(limits_within(&l, &out));
                assert_true(limits_within(&st, &out));
                if (out.mode == POWER_OFF || out.mode == POWER_STANDBY)
                        continue;
                if (rating.max_voltage_dv)
                        assert_true(out.voltage_dv <= rating.max_voltage_dv);
                if (rating.max_current_da)
                        assert_true(out.current_da <= rating.max_current_da);
                if (rating.max_power_w)
                        assert_true((uint64_t)out.voltage_dv * out.current_da <= (uint64_t)rating.max_power_w * 100u);
        }
}

/* B2: a negative current (discharge) is clamped to the discharge limits,
 * the voltage limit holds for both signs, no discharge limit means 0 A,
 * and only a power transfer may be negative. */
static void test_clamp_discharge_limits(void **state)
{
        struct power_limits l = base, st = base;
        const struct power_limits dyn = { .max_discharge_current_da = 500 };
        const struct power_rating sink = { .max_sink_current_da = 300, .max_sink_power_w = 9000 };
        struct power_command c = { .mode = POWER_CHARGE, .voltage_dv = 4000, .current_da = -2000 };
        struct power_command out;

        (void)state;
        limits_clamp(&l, &c, &out);
        assert_int_equal(out.current_da, 0);            /* no discharge configured */
        assert_true(limits_within(&l, &out));
        out.current_da = -1;
        assert_false(limits_within(&l, &out));
        l.max_discharge_current_da = 1000;
        assert_int_equal(limits_check(&l), -EINVAL);    /* current without power */
        l.max_discharge_power_w = 30000;
        assert_int_equal(limits_check(&l), 0);
        limits_clamp(&l, &c, &out);
        assert_int_equal(out.current_da, -750);         /* 30 kW at 400 V */
        c.voltage_dv = 12000;
        limits_clamp(&l, &c, &out);
        assert_int_equal(out.voltage_dv, 10000);
        assert_int_equal(out.current_da, -300);         /* 30 kW at 1000 V */
        c.mode = POWER_PRECHARGE;
        limits_clamp(&l, &c, &out);
        assert_int_equal(out.current_da, 0);
        out.current_da = -1;
        assert_false(limits_within(&l, &out));
        /* Operator and sink rating lower the discharge limits; a static 0
         * stays 0. */
        st.max_discharge_current_da = 1000;
        st.max_discharge_power_w = 30000;
        limits_effective(&st, &dyn, NULL, &l);
        assert_int_equal(l.max_discharge_current_da, 500);
        limits_effective(&st, &dyn, &sink, &l);
        assert_int_equal(l.max_discharge_current_da, 300);
        assert_int_equal(l.max_discharge_power_w, 9000);
        limits_effective(&base, &dyn, &sink, &l);
        assert_int_equal(l.max_discharge_current_da, 0);
        assert_int_equal(l.max_discharge_power_w, 0);
}

/* Randomized, both signs: the clamped command is within the limits, of the
 * same sign or 0, never larger in magnitude, and maximal. */
static void test_random_signed_clamp_is_within_and_maximal(void **state)
{
        unsigned negative = 0;

        (void)state;
        rng_state = 0x2545f4914f6cdd1dull;
        for (unsigned i = 0; i < 20000; i++) {
                struct power_limits l = {
                        .max_voltage_dv = (uint16_t)(1 + rng_below(65535)),
                        .max_current_da = (uint16_t)(1 + rng_below(65535)),
                        .max_power_w = 1 + rng_below(1000000),
                        .precharge_max_current_da = (uint16_t)(1 + rng_below(200)),
                        .insulation_max_current_da = (uint16_t)(1 + rng_below(200)),
                };
                struct power_command want = {
                        .mode = (enum power_mode)rng_below(5),
                        .voltage_dv = (uint16_t)rng_below(65536),
                        .current_da = (int32_t)rng_below(65536) - 32768,
                };
                struct power_command out;

                if (rng_below(4) != 0) {
                        l.max_discharge_current_da = (uint16_t)(1 + rng_below(65535));
                        l.max_discharge_power_w = 1 + rng_below(1000000);
                }
                limits_clamp(&l, &want, &out);
                assert_true(limits_within(&l, &out));
                if (want.current_da < 0) {
                        assert_true(out.current_da <= 0 && out.current_da >= want.current_da);
                        if (out.current_da < 0)
                                negative++;
                } else if (out.mode != POWER_OFF && out.mode != POWER_STANDBY) {
                        assert_true(out.current_da >= 0 && out.current_da <= want.current_da);
                }
                if (out.mode == POWER_CHARGE && want.current_da < 0 && out.current_da > want.current_da) {
                        struct power_command more = out;

                        more.current_da--;
                        assert_false(limits_within(&l, &more));
                }
        }
        assert_true(negative > 1000);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_check_rejects_zero_fields),
                cmocka_unit_test(test_effective_without_dynamic_is_static),
                cmocka_unit_test(test_effective_dynamic_lowers_each_field),
                cmocka_unit_test(test_effective_dynamic_never_raises),
                cmocka_unit_test(test_effective_caps_follow_current_limit),
                cmocka_unit_test(test_effective_rating_lowers_each_limit),
                cmocka_unit_test(test_effective_rating_never_raises),
                cmocka_unit_test(test_effective_lowest_of_three),
                cmocka_unit_test(test_power_current),
                cmocka_unit_test(test_clamp_off_always_discharges),
                cmocka_unit_test(test_clamp_standby_keeps_discharge_flag),
                cmocka_unit_test(test_clamp_charge_voltage_current_power),
                cmocka_unit_test(test_clamp_precharge_uses_its_cap),
                cmocka_unit_test(test_clamp_insulation_uses_its_cap),
                cmocka_unit_test(test_clamp_may_alias),
                cmocka_unit_test(test_within_detects_each_violation),
                cmocka_unit_test(test_random_clamp_is_within_and_maximal),
                cmocka_unit_test(test_random_clamp_respects_the_rating),
                cmocka_unit_test(test_clamp_discharge_limits),
                cmocka_unit_test(test_random_signed_clamp_is_within_and_maximal),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
