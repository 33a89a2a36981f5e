/* SPDX-License-Identifier: MIT */
/*
 * The simulated converter's physics and its [sim] parameters.  Time is
 * advanced by hand; every expected value is computed from the parameters.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sim_model.h"

#define DT 0.001        /* test step, s */

static double absd(double a)
{
        return a < 0 ? -a : a;
}

/* ln(x) for x > 0 without libm: the test links only the core and cmocka. */
static double ln(double x)
{
        double y, y2, sum = 0, term;
        int k = 0;

        while (x > 2.0) {
                x /= 2.718281828459045;
                k++;
        }
        while (x < 0.5) {
                x *= 2.718281828459045;
                k--;
        }
        /* ln x = 2 atanh((x - 1) / (x + 1)) */
        y = (x - 1) / (x + 1);
        y2 = y * y;
        term = y;
        for (int n = 1; n < 200; n += 2) {
                sum += term / n;
                term *= y2;
        }
        return 2 * sum + k;
}

/* e^x for small |x|, by its series. */
static double expd(double x)
{
        double sum = 1, term = 1;

        for (int n = 1; n < 40; n++) {
                term *= x / n;
                sum += term;
        }
        return sum;
}

static void command(struct sim_model *m, enum power_mode mode, double volts, double amps,
                    bool discharge)
{
        struct power_command c = {
                .mode = mode,
                .voltage_dv = (uint16_t)(volts * 10 + 0.5),
                .current_da = (uint16_t)(amps * 10 + 0.5),
                .discharge = discharge,
        };

        assert_int_equal(sim_model_command(m, &c), 0);
}

static struct power_measurement measure(const struct sim_model *m)
{
        struct power_measurement pm;

        sim_model_measure(m, &pm);
        return pm;
}

static double volts(const struct sim_model *m)
{
        return measure(m).voltage_dv / 10.0;
}

static double amps(const struct sim_model *m)
{
        return measure(m).current_da / 10.0;
}

static void run(struct sim_model *m, double seconds)
{
        for (double t = 0; t < seconds - DT / 2; t += DT)
                sim_model_step(m, DT);
}

/* Awake in STANDBY, output at 0 V. */
static void start(struct sim_model *m, const struct sim_params *p)
{
        sim_model_init(m, p);
        command(m, POWER_STANDBY, 0, 0, false);
        run(m, p->wakeup_ms / 1000.0);
        assert_true(measure(m).ready);
}

/* Insulation test at test_v until it has settled, then discharge (R29). */
static void insulation_test(struct sim_model *m, const struct sim_params *p, double test_v)
{
        command(m, POWER_INSULATION_TEST, test_v, 1.0, false);
        run(m, test_v / p->voltage_ramp_v_per_s + 0.1);
        assert_true(absd(volts(m) - test_v) <= 0.2);
        command(m, POWER_STANDBY, 0, 0, true);
        run(m, 0.5);
        assert_true(volts(m) <= 20.0);
}

static void test_defaults_valid(void **state)
{
        struct sim_params p;
        const char *key = NULL;
        char err[128] = "";

        sim_params_defaults(&p);
        assert_int_equal(sim_params_validate(&p, &key, err, sizeof(err)), 0);
        assert_null(key);
        /* 50 kW / 1000 V / 125 A charger, 400 V battery. */
        assert_true(p.max_power_kw == 50.0);
        assert_true(p.max_voltage_v == 1000.0);
        assert_true(p.max_current_a == 125.0);
        assert_true(p.battery_voltage_v == 400.0);
        assert_int_equal(p.step_ms, 20);
        assert_string_equal(p.control_path, "");
}

static void test_voltage_ramp(void **state)
{
        struct sim_params p;
        struct sim_model m;
        double target = 500.0;

        sim_params_defaults(&p);
        start(&m, &p);
        command(&m, POWER_INSULATION_TEST, target, 1.0, false);
        for (int i = 1; i <= 10; i++) {
                double t = i * 0.1 * target / p.voltage_ramp_v_per_s;

                run(&m, 0.1 * target / p.voltage_ramp_v_per_s);
                /* On the ramp, within the 0.1 V resolution. */
                assert_true(absd(volts(&m) - p.voltage_ramp_v_per_s * t) <= 0.2);
        }
        run(&m, 1.0);
        assert_true(absd(volts(&m) - target) <= 0.1);
        /* Only the cable and its leakage: a few mA. */
        assert_true(amps(&m) <= 0.1);

        /* A faster ramp is followed as well. */
        p.voltage_ramp_v_per_s = 2000;
        start(&m, &p);
        command(&m, POWER_INSULATION_TEST, target, 1.0, false);
        run(&m, 0.1);
        assert_true(absd(volts(&m) - 200.0) <= 0.2);
}

static void test_voltage_capped_by_hardware(void **state)
{
        struct sim_params p;
        struct sim_model m;

        sim_params_defaults(&p);
        p.max_voltage_v = 600;
        start(&m, &p);
        command(&m, POWER_INSULATION_TEST, 900, 1.0, false);
        run(&m, 3.0);
        assert_true(absd(volts(&m) - 600.0) <= 0.1);
}

static void test_precharge_current_limit(void **state)
{
        struct sim_params p;
        struct sim_model m;
        double c, limit = 2.0, expected;

        sim_params_defaults(&p);
        /* A capacitance large enough that the voltage ramp would need more
         * than the precharge limit: 500 V/s x 20 mF = 10 A > 2 A. */
        p.cable_capacitance_uf = 20000;
        c = p.cable_capacitance_uf * 1e-6;
        start(&m, &p);
        command(&m, POWER_PRECHARGE, 400, limit, false);
        for (int i = 0; i < 1000; i++) {
                sim_model_step(&m, DT);
                assert_true(measure(&m).current_da <= 20);     /* R32 */
        }
        assert_true(absd(amps(&m) - limit) <= 0.1);
        /* dV/dt = I / C once the current ramp (10 ms to 2 A) is done. */
        expected = limit / c * (1.0 - limit / p.current_ramp_a_per_s / 2);
        assert_true(absd(volts(&m) - expected) <= 0.01 * expected);
        assert_false(sim_model_ev_connected(&m));
}

static void test_contactors_close_after_precharge(void **state)
{
        struct sim_params p;
        struct sim_model m;
        double batt, t_close;

        sim_params_defaults(&p);
        batt = p.battery_voltage_v;
        start(&m, &p);
        insulation_test(&m, &p, 500);
        assert_false(sim_model_ev_connected(&m));

        /* R31-R33: the output ramps and the EV closes within 20 V. */
        command(&m, POWER_PRECHARGE, batt, 2.0, false);
        t_close = (batt - SIM_MODEL_CONTACTOR_WINDOW_V - volts(&m)) / p.voltage_ramp_v_per_s;
        run(&m, t_close - 0.02);
        assert_false(sim_model_ev_connected(&m));
        assert_true(measure(&m).current_da <= 20);
        run(&m, 0.04);
        assert_true(sim_model_ev_connected(&m));
        run(&m, 0.1);
        assert_true(absd(volts(&m) - batt) <= 0.1);

        /* R33/R34: one standby; the battery stays on the output. */
        command(&m, POWER_STANDBY, 0, 0, false);
        run(&m, 5.0);
        assert_true(sim_model_ev_connected(&m));
        assert_true(absd(volts(&m) - batt) <= 0.1);
        assert_int_equal(measure(&m).current_da, 0);

        /* The output is the battery: it follows the battery voltage. */
        assert_int_equal(sim_model_set_battery_voltage(&m, 380.0), 0);
        run(&m, 0.02);
        assert_true(absd(volts(&m) - 380.0) <= 0.1);
}

static void test_chademo_closes_after_insulation_test(void **state)
{
        struct sim_params p;
        struct sim_model m;

        sim_params_defaults(&p);
        start(&m, &p);
        insulation_test(&m, &p, 500);
        /* R30: no precharge, the first charge request finds the battery. */
        command(&m, POWER_CHARGE, 450, 10, false);
        assert_true(sim_model_ev_connected(&m));
        run(&m, 0.2);
        assert_true(volts(&m) >= p.battery_voltage_v);
        assert_true(amps(&m) > 9.9);
}

static void test_no_contact_without_test_or_precharge(void **state)
{
        struct sim_params p;
        struct sim_model m;

        sim_params_defaults(&p);
        start(&m, &p);
        /* Output at 0 V, battery at 400 V, no test: the EV stays open and
         * only the cable is charged. */
        command(&m, POWER_CHARGE, 300, 50, false);
        assert_false(sim_model_ev_connected(&m));
        run(&m, 1.0);
        assert_false(sim_model_ev_connected(&m));
        assert_true(absd(volts(&m) - 300.0) <= 0.1);
        assert_true(amps(&m) <= 0.1);
}

/* Battery connected through the CHAdeMO path, standby. */
static void connect_battery(struct sim_model *m, const struct sim_params *p)
{
        start(m, p);
        insulation_test(m, p, 500);
        command(m, POWER_CHARGE, 0, 0, false);
        assert_true(sim_model_ev_connected(m));
        run(m, 0.1);
}

static void test_charge_current_ramp_and_limit(void **state)
{
        struct sim_params p;
        struct sim_model m;
        double r, batt, limit = 100.0;

        sim_params_defaults(&p);
        p.battery_capacity_kwh = 10000;         /* keep the battery voltage still */
        r = p.battery_resistance_ohm;
        connect_battery(&m, &p);
        batt = sim_model_battery_voltage(&m);

        command(&m, POWER_CHARGE, 500, limit, false);
        /* R37: the current rises at current_ramp_a_per_s. */
        for (int i = 1; i <= 4; i++) {
                double t = i * 0.1;

                run(&m, 0.1);
                assert_true(absd(amps(&m) - p.current_ramp_a_per_s * t) <= 0.1);
                assert_true(absd(volts(&m) - (batt + amps(&m) * r)) <= 0.2);
        }
        for (int i = 0; i < 1000; i++) {
                sim_model_step(&m, DT);
                assert_true(measure(&m).current_da <= 1000);
        }
        assert_true(absd(amps(&m) - limit) <= 0.1);
        assert_true(absd(volts(&m) - (batt + limit * r)) <= 0.2);

        /* A lower limit holds from the next step on. */
        command(&m, POWER_CHARGE, 500, 30, false);
        sim_model_step(&m, DT);
        assert_true(measure(&m).current_da <= 300);
        assert_true(absd(volts(&m) - (batt + 30 * r)) <= 0.2);

        /* CV: the voltage target allows (V - Vbatt) / R. */
        command(&m, POWER_CHARGE, batt + 5.0, limit, false);
        run(&m, 1.0);
        assert_true(absd(amps(&m) - 5.0 / r) <= 0.2);
        assert_true(absd(volts(&m) - (batt + 5.0)) <= 0.1);

        /* R41: current to zero on standby, the battery stays. */
        command(&m, POWER_STANDBY, 0, 0, false);
        sim_model_step(&m, DT);
        assert_int_equal(measure(&m).current_da, 0);
        assert_true(absd(volts(&m) - batt) <= 0.1);
}

static void test_charge_power_limit(void **state)
{
        struct sim_params p;
        struct sim_model m;
        struct power_measurement pm;
        double power_w;

        sim_params_defaults(&p);
        p.battery_capacity_kwh = 10000;
        connect_battery(&m, &p);
        command(&m, POWER_CHARGE, 1000, 125, false);
        run(&m, 2.0);
        pm = measure(&m);
        power_w = pm.voltage_dv / 10.0 * pm.current_da / 10.0;
        /* 125 A at ~400 V would be 50+ kW: the power ceiling holds. */
        assert_true(pm.current_da < 1250);
        assert_true(power_w <= p.max_power_kw * 1000 * 1.001);
        assert_true(power_w >= p.max_power_kw * 1000 * 0.99);
}

static void test_battery_voltage_rises(void **state)
{
        struct sim_params p;
        struct sim_model m;
        double v0, v1, energy_kwh, expected;

        sim_params_defaults(&p);
        p.battery_capacity_kwh = 1.0;
        p.battery_voltage_span_v = 100.0;
        connect_battery(&m, &p);
        v0 = sim_model_battery_voltage(&m);
        command(&m, POWER_CHARGE, 1000, 100, false);
        run(&m, 9.0);
        v1 = sim_model_battery_voltage(&m);
        /* About 100 A x ~405 V for ~8.75 s (0.5 s of ramp). */
        energy_kwh = (v0 + v1) / 2 * 100 * (9.0 - 100 / p.current_ramp_a_per_s / 2) / 3.6e6;
        expected = v0 + energy_kwh / p.battery_capacity_kwh * p.battery_voltage_span_v;
        assert_true(v1 > v0 + 5);
        assert_true(absd(v1 - expected) <= 0.02 * (expected - v0));
}

/* B2: a negative current sinks out of the battery: ramped in magnitude,
 * the output below the battery, the battery's voltage (its state of
 * charge) falling; a reversal passes through 0 A; nothing to sink without
 * a battery. */
static void test_discharge_sinks_from_the_battery(void **state)
{
        struct sim_params p;
        struct sim_model m;
        struct power_command c = { .mode = POWER_CHARGE, .voltage_dv = 4000, .current_da = -500 };
        double v0, r;
        int16_t prev;

        (void)state;
        sim_params_defaults(&p);
        p.battery_capacity_kwh = 1.0;
        r = p.battery_resistance_ohm;
        connect_battery(&m, &p);
        v0 = sim_model_battery_voltage(&m);
        assert_int_equal(sim_model_command(&m, &c), 0);
        for (int i = 1; i <= 5; i++) {
                run(&m, 0.02);
                assert_true(amps(&m) < 0);
                assert_true(absd(amps(&m) + (50.0 < p.current_ramp_a_per_s * 0.02 * i ? 50.0 : p.current_ramp_a_per_s * 0.02 * i)) <= 0.2);
        }
        run(&m, 2.0);
        assert_int_equal(measure(&m).current_da, -500);
        assert_true(volts(&m) < sim_model_battery_voltage(&m));
        assert_true(absd(volts(&m) - (sim_model_battery_voltage(&m) - 50 * r)) <= 0.2);
        assert_true(sim_model_battery_voltage(&m) < v0 - 1.0);
        assert_int_equal(measure(&m).rating.max_sink_current_da, (uint16_t)(p.max_current_a * 10));
        assert_int_equal(measure(&m).rating.max_sink_power_w, (uint32_t)(p.max_power_kw * 1000));

        /* The hardware's ceiling holds for sinking too. */
        c.current_da = -30000;
        assert_int_equal(sim_model_command(&m, &c), 0);
        run(&m, 2.0);
        assert_true(-amps(&m) <= p.max_current_a + 0.05);
        assert_true(-amps(&m) * volts(&m) <= p.max_power_kw * 1000 * 1.001);

        /* Reversed: through 0 A at once, then up the ramp the other way. */
        c.current_da = 300;
        c.voltage_dv = 10000;
        assert_int_equal(sim_model_command(&m, &c), 0);
        sim_model_step(&m, DT);
        assert_true(measure(&m).current_da >= 0);
        prev = measure(&m).current_da;
        run(&m, 1.0);
        assert_true(measure(&m).current_da > prev);
        assert_int_equal(measure(&m).current_da, 300);

        /* No battery on the output: nothing to sink. */
        sim_model_init(&m, &p);
        command(&m, POWER_STANDBY, 0, 0, false);
        run(&m, p.wakeup_ms / 1000.0);
        c.current_da = -500;
        assert_int_equal(sim_model_command(&m, &c), 0);
        run(&m, 0.5);
        assert_int_equal(measure(&m).current_da, 0);
}

static void test_insulation_test_then_discharge(void **state)
{
        struct sim_params p;
        struct sim_model m;
        double test_v = 500, rc, t20, t10;
        int steps = 0;

        sim_params_defaults(&p);
        rc = p.discharge_resistance_ohm * p.cable_capacitance_uf * 1e-6;
        start(&m, &p);
        command(&m, POWER_INSULATION_TEST, test_v, 1.0, false);
        run(&m, test_v / p.voltage_ramp_v_per_s + 0.05);
        assert_true(absd(volts(&m) - test_v) <= 0.1);
        /* R26: the insulation resistance is reported, never unknown. */
        assert_int_equal(measure(&m).insulation_kohm, (uint16_t)p.insulation_kohm);

        /* R29: discharge to <= 20 V, in RC ln(V0 / 20 V). */
        t20 = rc * ln(test_v / 20.0);
        command(&m, POWER_STANDBY, 0, 0, true);
        while (volts(&m) > 20.0 && steps < 10000) {
                sim_model_step(&m, DT);
                steps++;
        }
        assert_true(steps * DT >= t20 * 0.95);
        assert_true(steps * DT <= t20 * 1.05 + DT);
        assert_true(t20 < 0.2);         /* "well within a second" */
        assert_int_equal(measure(&m).current_da, 0);

        /* R43: OFF goes on discharging, 10 V within RC ln(V0 / 10 V). */
        t10 = rc * ln(test_v / 10.0);
        command(&m, POWER_OFF, 0, 0, true);
        run(&m, t10 - steps * DT + 0.01);
        assert_true(volts(&m) <= 10.0);
        run(&m, 1.0);
        assert_true(volts(&m) <= 0.1);
}

static void test_standby_without_discharge_leaks(void **state)
{
        struct sim_params p;
        struct sim_model m;
        double rc_leak, expected;

        sim_params_defaults(&p);
        rc_leak = p.insulation_kohm * 1000 * p.cable_capacitance_uf * 1e-6;
        start(&m, &p);
        command(&m, POWER_INSULATION_TEST, 500, 1.0, false);
        run(&m, 1.1);
        command(&m, POWER_STANDBY, 0, 0, false);
        run(&m, 1.0);
        /* Left alone: only the insulation leakage, V0 e^(-t / RC). */
        expected = 500.0 * expd(-1.0 / rc_leak);
        assert_true(absd(volts(&m) - expected) <= 0.01 * expected);

        /* A poor insulation is reported and loads the output. */
        assert_int_equal(sim_model_set_insulation_kohm(&m, 40.0), 0);
        assert_int_equal(measure(&m).insulation_kohm, 40);
        assert_int_equal(sim_model_set_insulation_kohm(&m, -1.0), -EINVAL);
        assert_int_equal(measure(&m).insulation_kohm, 40);
        assert_int_equal(sim_model_set_insulation_kohm(&m, 1e9), -EINVAL);
        run(&m, 3.0);   /* RC = 0.4 s: 7.5 time constants */
        assert_true(volts(&m) < 1.0);
}

static void test_insulation_reported_clamped(void **state)
{
        struct sim_params p;
        struct sim_model m;

        sim_params_defaults(&p);
        sim_model_init(&m, &p);
        assert_int_equal(sim_model_set_insulation_kohm(&m, 900000.0), 0);
        assert_int_equal(measure(&m).insulation_kohm, POWER_INSULATION_UNKNOWN - 1);
        assert_int_equal(sim_model_set_insulation_kohm(&m, 0), 0);
        assert_int_equal(measure(&m).insulation_kohm, 0);
}

static void test_welding_detection_opens_contactors(void **state)
{
        struct sim_params p;
        struct sim_model m;
        double rc, t20;

        sim_params_defaults(&p);
        rc = p.discharge_resistance_ohm * p.cable_capacitance_uf * 1e-6;
        connect_battery(&m, &p);
        command(&m, POWER_CHARGE, 500, 50, false);
        run(&m, 1.0);
        command(&m, POWER_STANDBY, 0, 0, false);
        run(&m, 0.5);
        assert_true(sim_model_ev_connected(&m));

        /* Standby with discharge: the EV opens and the cable empties. */
        t20 = rc * ln(volts(&m) / 20.0);
        command(&m, POWER_STANDBY, 0, 0, true);
        assert_false(sim_model_ev_connected(&m));
        run(&m, t20 * 1.05 + DT);
        assert_true(volts(&m) <= 20.0);
}

static void test_temperatures_follow_power(void **state)
{
        struct sim_params p;
        struct sim_model m;
        struct power_measurement pm;
        double power_kw, module_ss;

        sim_params_defaults(&p);
        p.module_time_constant_s = 2.0;
        p.enclosure_time_constant_s = 20.0;
        p.battery_capacity_kwh = 10000;
        connect_battery(&m, &p);
        pm = measure(&m);
        assert_int_equal(pm.module_temp_c, (int16_t)p.ambient_temperature_c);
        assert_int_equal(pm.enclosure_temp_c, (int16_t)p.ambient_temperature_c);

        command(&m, POWER_CHARGE, 1000, 100, false);
        run(&m, 2.0);
        pm = measure(&m);
        power_kw = pm.voltage_dv / 10.0 * pm.current_da / 10.0 / 1000.0;
        module_ss = p.ambient_temperature_c + p.thermal_resistance_c_per_kw * power_kw;
        /* Lagging: after about one time constant, well below the end value,
         * the enclosure further behind. */
        assert_true(pm.module_temp_c > p.ambient_temperature_c + 5);
        assert_true(pm.module_temp_c < module_ss - 5);
        assert_true(pm.enclosure_temp_c < pm.module_temp_c);

        run(&m, 20.0);  /* 10 module time constants */
        pm = measure(&m);
        assert_true(absd(pm.module_temp_c - module_ss) <= 1.0);
        run(&m, 200.0); /* 10 enclosure time constants */
        pm = measure(&m);
        assert_true(absd(pm.enclosure_temp_c -
                         (p.ambient_temperature_c + (module_ss - p.ambient_temperature_c) / 2)) <= 1.0);
}

static void test_wakeup_delay(void **state)
{
        struct sim_params p;
        struct sim_model m;
        double wake;

        sim_params_defaults(&p);
        wake = p.wakeup_ms / 1000.0;
        sim_model_init(&m, &p);
        run(&m, 5.0);
        assert_false(measure(&m).ready);         /* OFF: asleep */

        /* A test requested at once waits for the modules. */
        command(&m, POWER_INSULATION_TEST, 500, 1.0, false);
        run(&m, wake - 0.01);
        assert_false(measure(&m).ready);
        assert_int_equal(measure(&m).voltage_dv, 0);
        run(&m, 0.01);
        assert_true(measure(&m).ready);
        run(&m, 0.1);
        assert_true(absd(volts(&m) - 0.1 * p.voltage_ramp_v_per_s) <= 0.2);

        /* OFF puts them back to sleep; waking takes the full delay again. */
        command(&m, POWER_OFF, 0, 0, true);
        sim_model_step(&m, DT);
        assert_false(measure(&m).ready);
        command(&m, POWER_STANDBY, 0, 0, false);
        run(&m, wake - 0.01);
        assert_false(measure(&m).ready);
        run(&m, 0.01);
        assert_true(measure(&m).ready);
}

static void test_fault_knob(void **state)
{
        struct sim_params p;
        struct sim_model m;
        struct power_measurement pm;
        double rc, t20;

        sim_params_defaults(&p);
        rc = p.discharge_resistance_ohm * p.cable_capacitance_uf * 1e-6;
        connect_battery(&m, &p);
        command(&m, POWER_CHARGE, 500, 50, false);
        run(&m, 1.0);
        assert_true(amps(&m) > 49.9);

        /* The converter trips: fault, no current, the output collapses. */
        t20 = rc * ln(volts(&m) / 20.0);
        sim_model_set_fault(&m, true);
        sim_model_step(&m, DT);
        pm = measure(&m);
        assert_true(pm.fault);
        assert_false(pm.ready);
        assert_true(pm.link_ok);
        assert_int_equal(pm.current_da, 0);
        assert_false(sim_model_ev_connected(&m));
        run(&m, t20 * 1.05);
        assert_true(volts(&m) <= 20.0);

        /* Commands do not deliver power while faulted. */
        command(&m, POWER_INSULATION_TEST, 500, 1.0, false);
        run(&m, 1.0);
        assert_true(volts(&m) <= 1.0);

        /* Cleared: ready again and the command in force is executed. */
        sim_model_set_fault(&m, false);
        sim_model_step(&m, DT);
        pm = measure(&m);
        assert_false(pm.fault);
        assert_true(pm.ready);
        run(&m, 1.1);
        assert_true(absd(volts(&m) - 500.0) <= 0.1);
}

static void test_link_lost_knob(void **state)
{
        struct sim_params p;
        struct sim_model m;
        struct power_measurement before, pm;
        struct power_command c = { .mode = POWER_OFF, .discharge = true };

        sim_params_defaults(&p);
        start(&m, &p);
        command(&m, POWER_INSULATION_TEST, 300, 1.0, false);
        run(&m, 0.2);
        before = measure(&m);
        assert_true(before.link_ok);

        sim_model_set_link_lost(&m, true);
        run(&m, 1.0);
        pm = measure(&m);
        /* Nothing new is read: the last values, link down, not ready. */
        assert_false(pm.link_ok);
        assert_false(pm.ready);
        assert_int_equal(pm.voltage_dv, before.voltage_dv);
        /* Commands do not reach the converter ... */
        assert_int_equal(sim_model_command(&m, &c), -ENOLINK);
        run(&m, 1.0);

        /* ... which went on with the last one it received. */
        sim_model_set_link_lost(&m, false);
        pm = measure(&m);
        assert_true(pm.link_ok);
        assert_true(pm.ready);
        assert_true(absd(pm.voltage_dv / 10.0 - 300.0) <= 0.1);
}

/* Every measurement carries the hardware ceilings as the rating, rounded
 * down to the protocol's units. */
static void test_rating_in_every_measurement(void **state)
{
        struct sim_params p;
        struct sim_model m;
        struct power_measurement pm;

        (void)state;
        sim_params_defaults(&p);
        p.max_voltage_v = 750.04;
        p.max_current_a = 200.09;
        p.max_power_kw = 62.5;
        sim_model_init(&m, &p);
        pm = measure(&m);
        assert_int_equal(pm.rating.max_voltage_dv, 7500);
        assert_int_equal(pm.rating.max_current_da, 2000);
        assert_int_equal(pm.rating.max_power_w, 62500);
        sim_model_set_link_lost(&m, true);
        pm = measure(&m);
        assert_false(pm.link_ok);
        assert_int_equal(pm.rating.max_voltage_dv, 7500);
}

/* The overshoot knob: while regulating, the output measures that much too
 * high; not in standby; 0 ends it; out of range is refused. */
static void test_overshoot_knob(void **state)
{
        struct sim_params p;
        struct sim_model m;

        (void)state;
        sim_params_defaults(&p);
        start(&m, &p);
        command(&m, POWER_INSULATION_TEST, 400, 1.0, false);
        run(&m, 1.0);
        assert_true(absd(volts(&m) - 400.0) <= 0.2);
        assert_int_equal(sim_model_set_overshoot(&m, 70.0), 0);
        sim_model_step(&m, DT);
        assert_true(absd(volts(&m) - 470.0) <= 0.2);
        command(&m, POWER_STANDBY, 0, 0, false);
        sim_model_step(&m, DT);
        assert_true(volts(&m) < 401.0);
        assert_int_equal(sim_model_set_overshoot(&m, -1.0), -EINVAL);
        assert_int_equal(sim_model_set_overshoot(&m, 0.0), 0);
        command(&m, POWER_INSULATION_TEST, 400, 1.0, false);
        run(&m, 0.1);
        assert_true(volts(&m) < 401.0);
}

static void test_set_params_keeps_state(void **state)
{
        struct sim_params p, q;
        struct sim_model m;

        sim_params_defaults(&p);
        start(&m, &p);
        command(&m, POWER_INSULATION_TEST, 500, 1.0, false);
        run(&m, 1.1);
        assert_int_equal(sim_model_set_insulation_kohm(&m, 30), 0);

        /* A reload that does not touch insulation_kohm keeps the knob. */
        q = p;
        q.voltage_ramp_v_per_s = 100;
        sim_model_set_params(&m, &q);
        assert_int_equal(measure(&m).insulation_kohm, 30);
        assert_true(absd(volts(&m) - 500.0) <= 0.1);
        assert_true(measure(&m).ready);

        /* One that changes it applies it; the fault parameter too. */
        q.insulation_kohm = 700;
        q.fault = true;
        sim_model_set_params(&m, &q);
        assert_int_equal(measure(&m).insulation_kohm, 700);
        assert_true(measure(&m).fault);
        run(&m, 0.5);   /* the trip discharges the output */
        assert_true(volts(&m) <= 1.0);

        /* The new ramp rate is used. */
        q.fault = false;
        sim_model_set_params(&m, &q);
        command(&m, POWER_INSULATION_TEST, 500, 1.0, false);
        run(&m, 0.2);
        assert_true(absd(volts(&m) - 0.2 * q.voltage_ramp_v_per_s) <= 1.0);
}

static void expect_bad(const char *key, const char *value, int error, const char *reason)
{
        struct sim_params p, before;
        char err[160] = "";

        sim_params_defaults(&p);
        before = p;
        assert_int_equal(sim_params_set(&p, key, value, err, sizeof(err)), error);
        assert_memory_equal(&p, &before, sizeof(p));
        if (!strstr(err, reason)) {
                print_error("%s = '%s': reason '%s' lacks '%s'\n", key, value, err, reason);
                fail();
        }
}

static void test_params_set(void **state)
{
        struct sim_params p;
        char err[160] = "";

        sim_params_defaults(&p);
        assert_int_equal(sim_params_set(&p, "cable_capacitance_uf", "22.5", err, sizeof(err)), 0);
        assert_true(p.cable_capacitance_uf == 22.5);
        assert_int_equal(sim_params_set(&p, "battery_voltage_v", "1e2", err, sizeof(err)), 0);
        assert_true(p.battery_voltage_v == 100.0);
        assert_int_equal(sim_params_set(&p, "ambient_temperature_c", "-10", err, sizeof(err)), 0);
        assert_true(p.ambient_temperature_c == -10.0);
        assert_int_equal(sim_params_set(&p, "step_ms", "100", err, sizeof(err)), 0);
        assert_int_equal(p.step_ms, 100);
        assert_int_equal(sim_params_set(&p, "wakeup_ms", "0", err, sizeof(err)), 0);
        assert_int_equal(p.wakeup_ms, 0);
        assert_int_equal(sim_params_set(&p, "fault", "yes", err, sizeof(err)), 0);
        assert_true(p.fault);
        assert_int_equal(sim_params_set(&p, "fault", "OFF", err, sizeof(err)), 0);
        assert_false(p.fault);
        assert_int_equal(sim_params_set(&p, "link_lost", "1", err, sizeof(err)), 0);
        assert_true(p.link_lost);
        assert_int_equal(sim_params_set(&p, "control_path", "/run/seccbridge/sim", err,
                                        sizeof(err)), 0);
        assert_string_equal(p.control_path, "/run/seccbridge/sim");
        assert_int_equal(sim_params_set(&p, "control_path", "", err, sizeof(err)), 0);
        assert_string_equal(p.control_path, "");
        assert_int_equal(sim_params_set(&p, "max_power_kw", "150", err, sizeof(err)), 0);
        assert_true(p.max_power_kw == 150.0);
}

static void test_params_set_errors(void **state)
{
        char longpath[300];

        expect_bad("no_such_key", "1", -ENOENT, "unknown key");
        expect_bad("cable_capacitance_uf", "abc", -EINVAL,
                   "must be a number greater than 0 and at most 1000000 (µF)");
        expect_bad("cable_capacitance_uf", "", -EINVAL, "(µF)");
        expect_bad("cable_capacitance_uf", "10uF", -EINVAL, "(µF)");
        expect_bad("cable_capacitance_uf", " 10", -EINVAL, "(µF)");
        expect_bad("cable_capacitance_uf", "-1", -EINVAL, "(µF)");
        expect_bad("cable_capacitance_uf", "0", -EINVAL, "greater than 0");
        expect_bad("cable_capacitance_uf", "nan", -EINVAL, "(µF)");
        expect_bad("cable_capacitance_uf", "inf", -EINVAL, "(µF)");
        expect_bad("cable_capacitance_uf", "0x10", -EINVAL, "(µF)");
        expect_bad("cable_capacitance_uf", "1e999", -EINVAL, "(µF)");
        expect_bad("battery_voltage_v", "-400", -EINVAL, "must be a number between 0 and 1500 (V)");
        expect_bad("insulation_kohm", "-5", -EINVAL, "between 0 and 1000000 (kΩ)");
        expect_bad("ambient_temperature_c", "100", -EINVAL, "between -40 and 85 (°C)");
        expect_bad("step_ms", "0", -EINVAL, "must be an integer between 1 and 100 (ms)");
        expect_bad("step_ms", "1.5", -EINVAL, "integer");
        expect_bad("step_ms", "-20", -EINVAL, "integer");
        expect_bad("step_ms", "200", -EINVAL, "between 1 and 100 (ms)");
        expect_bad("wakeup_ms", "99999999999", -EINVAL, "(ms)");
        expect_bad("fault", "maybe", -EINVAL, "true or false");
        expect_bad("link_lost", "", -EINVAL, "true or false");
        expect_bad("control_path", "run/sim", -EINVAL, "absolute path");
        memset(longpath, 'a', sizeof(longpath) - 1);
        longpath[0] = '/';
        longpath[sizeof(longpath) - 1] = '\0';
        expect_bad("control_path", longpath, -EINVAL, "shorter than 256");
}

static void expect_invalid(struct sim_params *p, const char *key_expected, const char *reason)
{
        const char *key = NULL;
        char err[160] = "";

        assert_int_equal(sim_params_validate(p, &key, err, sizeof(err)), -EINVAL);
        assert_non_null(key);
        assert_string_equal(key, key_expected);
        assert_non_null(strstr(err, reason));
}

static void test_params_validate(void **state)
{
        struct sim_params p;
        double zero = 0.0;

        sim_params_defaults(&p);
        p.discharge_resistance_ohm = 0;
        expect_invalid(&p, "discharge_resistance_ohm", "(Ω)");

        sim_params_defaults(&p);
        p.voltage_ramp_v_per_s = zero / zero;   /* NaN */
        expect_invalid(&p, "voltage_ramp_v_per_s", "(V/s)");

        sim_params_defaults(&p);
        p.max_current_a = 1.0 / zero;           /* +inf */
        expect_invalid(&p, "max_current_a", "(A)");

        sim_params_defaults(&p);
        p.step_ms = 0;
        expect_invalid(&p, "step_ms", "(ms)");

        sim_params_defaults(&p);
        snprintf(p.control_path, sizeof(p.control_path), "relative/fifo");
        expect_invalid(&p, "control_path", "absolute");

        sim_params_defaults(&p);
        memset(p.control_path, 'x', sizeof(p.control_path));
        expect_invalid(&p, "control_path", "shorter");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults_valid),
                cmocka_unit_test(test_voltage_ramp),
                cmocka_unit_test(test_voltage_capped_by_hardware),
                cmocka_unit_test(test_precharge_current_limit),
                cmocka_unit_test(test_contactors_close_after_precharge),
                cmocka_unit_test(test_chademo_closes_after_insulation_test),
                cmocka_unit_test(test_no_contact_without_test_or_precharge),
                cmocka_unit_test(test_charge_current_ramp_and_limit),
                cmocka_unit_test(test_charge_power_limit),
                cmocka_unit_test(test_battery_voltage_rises),
                cmocka_unit_test(test_discharge_sinks_from_the_battery),
                cmocka_unit_test(test_insulation_test_then_discharge),
                cmocka_unit_test(test_standby_without_discharge_leaks),
                cmocka_unit_test(test_insulation_reported_clamped),
                cmocka_unit_test(test_welding_detection_opens_contactors),
                cmocka_unit_test(test_temperatures_follow_power),
                cmocka_unit_test(test_wakeup_delay),
                cmocka_unit_test(test_fault_knob),
                cmocka_unit_test(test_link_lost_knob),
                cmocka_unit_test(test_rating_in_every_measurement),
                cmocka_unit_test(test_overshoot_knob),
                cmocka_unit_test(test_set_params_keeps_state),
                cmocka_unit_test(test_params_set),
                cmocka_unit_test(test_params_set_errors),
                cmocka_unit_test(test_params_validate),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
