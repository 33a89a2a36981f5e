/* SPDX-License-Identifier: MIT */
/*
 * The simulated converter: [sim] parameters (parse, validate) and the
 * physics model.  Pure: no I/O, no clock, no allocation, no libm.
 */
#include <errno.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim_model.h"
#include "textparse.h"

/* Integration substep.  The discharge RC is 20 ms with the defaults; at
 * 0.5 ms the implicit Euler steps stay within about 1 % of the exact
 * exponential without needing libm. */
#define SIM_MODEL_SUBSTEP_S 0.0005

/* A 0 kOhm insulation is a dead short; 1 Ohm keeps the arithmetic finite. */
#define SIM_MODEL_MIN_LEAK_OHM 1.0

/* Knob ranges, shared with the parameters of the same name. */
#define SIM_MODEL_MAX_INSULATION_KOHM 1000000.0
#define SIM_MODEL_MAX_BATTERY_V 1500.0

/* ---- parameters ---------------------------------------------------------- */

void sim_params_defaults(struct sim_params *p)
{
        /* A 50 kW / 1000 V / 125 A charger and a 400 V, 50 kWh battery. */
        *p = (struct sim_params) {
                .voltage_ramp_v_per_s = 500.0,
                .current_ramp_a_per_s = 200.0,
                .cable_capacitance_uf = 10.0,
                .discharge_resistance_ohm = 2000.0,
                .battery_voltage_v = 400.0,
                .battery_capacity_kwh = 50.0,
                .battery_resistance_ohm = 0.1,
                .insulation_kohm = 1000.0,
                .ambient_temperature_c = 25.0,
                .thermal_resistance_c_per_kw = 0.8,
                .max_voltage_v = 1000.0,
                .max_current_a = 125.0,
                .wakeup_ms = 1000,
                .step_ms = 20,
                .fault = false,
                .link_lost = false,
                .control_path = "",
                .max_power_kw = 50.0,
                .battery_voltage_span_v = 100.0,
                .module_time_constant_s = 60.0,
                .enclosure_time_constant_s = 600.0,
        };
}

enum sim_param_type {
        SIM_PARAM_DOUBLE,
        SIM_PARAM_U32,
        SIM_PARAM_BOOL,
        SIM_PARAM_PATH,
};

struct sim_param_desc {
        const char *key;
        enum sim_param_type type;
        size_t offset;
        double min;
        double max;
        bool min_exclusive;     /* value must be > min (a divisor, a rate) */
        const char *unit;
};

#define SIM_NUM(field, lo, hi, excl, u) \
        { #field, SIM_PARAM_DOUBLE, offsetof(struct sim_params, field), lo, hi, excl, u }
#define SIM_U32(field, lo, hi, u) \
        { #field, SIM_PARAM_U32, offsetof(struct sim_params, field), lo, hi, false, u }
#define SIM_BOOL(field) \
        { #field, SIM_PARAM_BOOL, offsetof(struct sim_params, field), 0, 0, false, NULL }
#define SIM_PATH(field) \
        { #field, SIM_PARAM_PATH, offsetof(struct sim_params, field), 0, 0, false, NULL }

static const struct sim_param_desc sim_param_table[] = {
        SIM_NUM(voltage_ramp_v_per_s, 0, 100000, true, "V/s"),
        SIM_NUM(current_ramp_a_per_s, 0, 100000, true, "A/s"),
        SIM_NUM(cable_capacitance_uf, 0, 1000000, true, "µF"),
        SIM_NUM(discharge_resistance_ohm, 0, 10000000, true, "Ω"),
        SIM_NUM(battery_voltage_v, 0, SIM_MODEL_MAX_BATTERY_V, false, "V"),
        SIM_NUM(battery_capacity_kwh, 0, 10000, true, "kWh"),
        SIM_NUM(battery_resistance_ohm, 0, 100, true, "Ω"),
        SIM_NUM(battery_voltage_span_v, 0, SIM_MODEL_MAX_BATTERY_V, false, "V"),
        SIM_NUM(insulation_kohm, 0, SIM_MODEL_MAX_INSULATION_KOHM, false, "kΩ"),
        SIM_NUM(ambient_temperature_c, -40, 85, false, "°C"),
        SIM_NUM(thermal_resistance_c_per_kw, 0, 100, false, "°C/kW"),
        SIM_NUM(module_time_constant_s, 0, 100000, true, "s"),
        SIM_NUM(enclosure_time_constant_s, 0, 100000, true, "s"),
        SIM_NUM(max_voltage_v, 0, 1500, true, "V"),
        SIM_NUM(max_current_a, 0, 3000, true, "A"),
        SIM_NUM(max_power_kw, 0, 5000, true, "kW"),
        SIM_U32(wakeup_ms, 0, 600000, "ms"),
        /* The daemon reports every 100 ms (R2, R4): a longer step would
         * leave some reports without a fresh measurement. */
        SIM_U32(step_ms, 1, 100, "ms"),
        SIM_BOOL(fault),
        SIM_BOOL(link_lost),
        SIM_PATH(control_path),
};

static const struct sim_param_desc *sim_param_find(const char *key)
{
        for (size_t i = 0; i < sizeof(sim_param_table) / sizeof(sim_param_table[0]); i++)
                if (strcmp(sim_param_table[i].key, key) == 0)
                        return &sim_param_table[i];
        return NULL;
}

static void sim_param_range_reason(const struct sim_param_desc *d, char *err, size_t err_len)
{
        const char *what = d->type == SIM_PARAM_U32 ? "an integer" : "a number";

        if (d->min_exclusive)
                snprintf(err, err_len, "must be %s greater than %.15g and at most %.15g (%s)",
                         what, d->min, d->max, d->unit);
        else
                snprintf(err, err_len, "must be %s between %.15g and %.15g (%s)",
                         what, d->min, d->max, d->unit);
}

static bool sim_param_in_range(const struct sim_param_desc *d, double v)
{
        /* NaN fails both comparisons; infinities fail the range. */
        if (!(v >= d->min && v <= d->max))
                return false;
        return !(d->min_exclusive && v == d->min);
}

/* Strict unsigned decimal integer. */
static int sim_parse_u32(const char *s, uint32_t *out)
{
        unsigned long long v;
        char *end;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (*end != '\0' || errno == ERANGE || v > UINT32_MAX)
                return -EINVAL;
        *out = (uint32_t)v;
        return 0;
}

static int sim_check_path(const char *s, size_t size, char *err, size_t err_len)
{
        size_t n = strnlen(s, size);

        if (n == size) {
                snprintf(err, err_len, "must be shorter than %zu characters", size);
                return -EINVAL;
        }
        if (n > 0 && s[0] != '/') {
                snprintf(err, err_len, "must be an absolute path, or empty for none");
                return -EINVAL;
        }
        return 0;
}

int sim_params_set(struct sim_params *p, const char *key, const char *value,
                   char *err, size_t err_len)
{
        const struct sim_param_desc *d = sim_param_find(key);
        char *field;
        double v;
        uint32_t u;
        bool b;
        int r;

        if (!d) {
                snprintf(err, err_len, "unknown key");
                return -ENOENT;
        }
        field = (char *)p + d->offset;
        switch (d->type) {
        case SIM_PARAM_DOUBLE:
                r = textparse_double(value, &v);
                if (r < 0 || !sim_param_in_range(d, v)) {
                        sim_param_range_reason(d, err, err_len);
                        return -EINVAL;
                }
                memcpy(field, &v, sizeof(v));
                return 0;
        case SIM_PARAM_U32:
                r = sim_parse_u32(value, &u);
                if (r < 0 || !sim_param_in_range(d, u)) {
                        sim_param_range_reason(d, err, err_len);
                        return -EINVAL;
                }
                memcpy(field, &u, sizeof(u));
                return 0;
        case SIM_PARAM_BOOL:
                r = textparse_bool(value, &b);
                if (r < 0) {
                        snprintf(err, err_len, "must be true or false (yes/no, on/off, 1/0)");
                        return r;
                }
                memcpy(field, &b, sizeof(b));
                return 0;
        case SIM_PARAM_PATH:
                r = sim_check_path(value, sizeof(p->control_path), err, err_len);
                if (r < 0)
                        return r;
                snprintf(field, sizeof(p->control_path), "%s", value);
                return 0;
        }
        snprintf(err, err_len, "unknown key");
        return -ENOENT;
}

int sim_params_validate(const struct sim_params *p, const char **key, char *err, size_t err_len)
{
        for (size_t i = 0; i < sizeof(sim_param_table) / sizeof(sim_param_table[0]); i++) {
                const struct sim_param_desc *d = &sim_param_table[i];
                const char *field = (const char *)p + d->offset;
                double v;
                uint32_t u;

                switch (d->type) {
                case SIM_PARAM_DOUBLE:
                        memcpy(&v, field, sizeof(v));
                        if (sim_param_in_range(d, v))
                                continue;
                        sim_param_range_reason(d, err, err_len);
                        break;
                case SIM_PARAM_U32:
                        memcpy(&u, field, sizeof(u));
                        if (sim_param_in_range(d, u))
                                continue;
                        sim_param_range_reason(d, err, err_len);
                        break;
                case SIM_PARAM_BOOL:
                        continue;
                case SIM_PARAM_PATH:
                        if (sim_check_path(field, sizeof(p->control_path), err, err_len) == 0)
                                continue;
                        break;
                }
                *key = d->key;
                return -EINVAL;
        }
        return 0;
}

/* ---- physics ------------------------------------------------------------- */

static double sim_min(double a, double b)
{
        return a < b ? a : b;
}

static double sim_max(double a, double b)
{
        return a > b ? a : b;
}

static double sim_abs(double a)
{
        return a < 0 ? -a : a;
}

static double sim_move_toward(double from, double to, double max_delta)
{
        if (to > from)
                return sim_min(to, from + max_delta);
        return sim_max(to, from - max_delta);
}

/* First-order lag over h seconds, implicit Euler: stable for any h. */
static double sim_lag(double value, double target, double tau_s, double h)
{
        return value + (target - value) * h / (tau_s + h);
}

static bool sim_model_regulating(const struct sim_model *m)
{
        if (m->fault || m->awake_s * 1000.0 < m->p.wakeup_ms - 1e-6)
                return false;
        return power_mode_regulates(m->cmd.mode);
}

static bool sim_model_discharging(const struct sim_model *m)
{
        switch (m->cmd.mode) {
        case POWER_OFF:
                return true;
        case POWER_STANDBY:
                return m->cmd.discharge || m->fault;
        case POWER_INSULATION_TEST:
        case POWER_PRECHARGE:
        case POWER_CHARGE:
                /* A tripped converter discharges its output. */
                return m->fault;
        }
        return true;
}

static bool sim_model_ready(const struct sim_model *m)
{
        return m->cmd.mode != POWER_OFF && !m->fault &&
               m->awake_s * 1000.0 >= m->p.wakeup_ms - 1e-6;
}

/* The current the hardware can give at voltage v. */
static double sim_model_hw_current(const struct sim_model *m, double v)
{
        return sim_min(m->p.max_current_a, m->p.max_power_kw * 1000.0 / sim_max(v, 1.0));
}

/* The command's current limit within the hardware's. */
static double sim_model_current_limit(const struct sim_model *m, double v)
{
        return sim_min(m->cmd.current_da / 10.0, sim_model_hw_current(m, v));
}

static double sim_model_voltage_target(const struct sim_model *m)
{
        return sim_min(m->cmd.voltage_dv / 10.0, m->p.max_voltage_v);
}

static bool sim_model_near_battery(const struct sim_model *m)
{
        return sim_abs(m->v_out - m->v_batt) <= SIM_MODEL_CONTACTOR_WINDOW_V;
}

void sim_model_init(struct sim_model *m, const struct sim_params *p)
{
        *m = (struct sim_model) {
                .p = *p,
                .cmd = { .mode = POWER_OFF, .discharge = true },
                .v_batt = p->battery_voltage_v,
                .insulation_kohm = p->insulation_kohm,
                .module_c = p->ambient_temperature_c,
                .enclosure_c = p->ambient_temperature_c,
                .fault = p->fault,
        };
        sim_model_set_link_lost(m, p->link_lost);
}

void sim_model_set_params(struct sim_model *m, const struct sim_params *p)
{
        struct sim_params old = m->p;

        m->p = *p;
        if (p->fault != old.fault)
                sim_model_set_fault(m, p->fault);
        if (p->link_lost != old.link_lost)
                sim_model_set_link_lost(m, p->link_lost);
        if (p->insulation_kohm != old.insulation_kohm)
                m->insulation_kohm = p->insulation_kohm;
        if (p->battery_voltage_v != old.battery_voltage_v)
                m->v_batt = p->battery_voltage_v;
}

int sim_model_command(struct sim_model *m, const struct power_command *cmd)
{
        if (m->link_lost)
                return -ENOLINK;
        m->cmd = *cmd;
        switch (cmd->mode) {
        case POWER_OFF:
                /* Session over or emergency: the vehicle disconnects, the
                 * modules go to sleep and forget the session. */
                m->ev_connected = false;
                m->awake_s = 0;
                m->insulation_tested = false;
                m->precharge_seen = false;
                break;
        case POWER_STANDBY:
                /* Welding detection and session end open the contactors;
                 * a plain standby leaves the battery on the output (R24). */
                if (cmd->discharge)
                        m->ev_connected = false;
                break;
        case POWER_INSULATION_TEST:
                /* A new test starts a new sequence (R25). */
                m->insulation_tested = false;
                m->precharge_seen = false;
                break;
        case POWER_PRECHARGE:
                /* CCS: the contactors close in sim_model_step() (R33). */
                m->precharge_seen = true;
                break;
        case POWER_CHARGE:
                if (m->ev_connected || m->fault)
                        break;
                /* A vehicle that reached battery voltage closes; a CHAdeMO
                 * vehicle closes right after a passed test (R30). */
                if (sim_model_near_battery(m) || (m->insulation_tested && !m->precharge_seen))
                        m->ev_connected = true;
                break;
        }
        return 0;
}

/* Battery on the output: the current decides, the voltage follows. */
static void sim_model_substep_connected(struct sim_model *m, double h, bool regulating)
{
        double want = 0;
        double r = m->p.battery_resistance_ohm;

        if (regulating && m->cmd.current_da < 0) {
                /* B2: sinking, the command's current within the hardware's
                 * (as much out as in); the battery gives it, its voltage
                 * falls. */
                want = -sim_min(-m->cmd.current_da / 10.0, sim_model_hw_current(m, m->v_out));
        } else if (regulating) {
                /* CC/CV (R36): the command's current, the hardware's, and the
                 * current that keeps the output at the voltage target. */
                double by_voltage = (sim_model_voltage_target(m) - m->v_batt) / r;

                want = sim_min(sim_model_current_limit(m, m->v_out), sim_max(by_voltage, 0));
        }
        /* The magnitude rises at the ramp rate and falls at once so a lower
         * limit holds, in either direction; a reversal passes through 0. */
        if (want >= 0)
                m->i_out = sim_min(want, sim_max(m->i_out, 0) + m->p.current_ramp_a_per_s * h);
        else
                m->i_out = sim_max(want, sim_min(m->i_out, 0) - m->p.current_ramp_a_per_s * h);
        m->v_out = m->v_batt + m->i_out * r;
        m->v_batt += m->v_batt * m->i_out * h / (m->p.battery_capacity_kwh * 3.6e6) *
                     m->p.battery_voltage_span_v;
}

/* Contactors open: only the cable capacitance and its leakage on the output. */
static void sim_model_substep_cable(struct sim_model *m, double h, bool regulating)
{
        double c = m->p.cable_capacitance_uf * 1e-6;
        double g = 1.0 / sim_max(m->insulation_kohm * 1000.0, SIM_MODEL_MIN_LEAK_OHM);
        double i = 0;

        if (sim_model_discharging(m))
                g += 1.0 / m->p.discharge_resistance_ohm;
        if (regulating) {
                double v_ref = sim_move_toward(m->v_out, sim_model_voltage_target(m),
                                               m->p.voltage_ramp_v_per_s * h);
                /* The current that puts the output at v_ref at the end of
                 * the substep, I = C dV/dt plus the leakage at v_ref. */
                double need = c * (v_ref - m->v_out) / h + v_ref * g;
                double allowed = sim_min(sim_model_current_limit(m, m->v_out),
                                         m->i_out + m->p.current_ramp_a_per_s * h);

                /* Only sources current: cannot pull the output down. */
                i = sim_max(sim_min(need, allowed), 0);
        }
        m->i_out = i;
        /* Implicit Euler of C dV/dt = I - G V: exact when I = need. */
        m->v_out = (m->v_out + h / c * i) / (1.0 + h * g / c);

        if (!regulating)
                return;
        if (m->cmd.mode == POWER_INSULATION_TEST && m->cmd.voltage_dv > 0 &&
            m->v_out >= 0.9 * sim_model_voltage_target(m))
                m->insulation_tested = true;    /* R27: the controller's 90 % */
        if (m->cmd.mode == POWER_PRECHARGE && sim_model_near_battery(m))
                m->ev_connected = true;         /* R33 */
}

void sim_model_step(struct sim_model *m, double dt_s)
{
        uint64_t n;
        double h;

        if (!(dt_s > 0 && dt_s <= DBL_MAX))
                return;
        /* Equal substeps no longer than SIM_MODEL_SUBSTEP_S: no sliver left
         * over by rounding. */
        n = (uint64_t)(dt_s / SIM_MODEL_SUBSTEP_S - 1e-9) + 1;
        h = dt_s / (double)n;
        while (n-- > 0) {
                bool regulating;
                double power_kw;

                /* Awake at the start of the substep, not by its end. */
                regulating = sim_model_regulating(m);
                if (m->cmd.mode != POWER_OFF)
                        m->awake_s += h;
                if (m->ev_connected)
                        sim_model_substep_connected(m, h, regulating);
                else
                        sim_model_substep_cable(m, h, regulating);

                power_kw = m->v_out * m->i_out / 1000.0;
                m->module_c = sim_lag(m->module_c, m->p.ambient_temperature_c +
                                      m->p.thermal_resistance_c_per_kw * power_kw,
                                      m->p.module_time_constant_s, h);
                m->enclosure_c = sim_lag(m->enclosure_c, m->p.ambient_temperature_c +
                                         (m->module_c - m->p.ambient_temperature_c) / 2.0,
                                         m->p.enclosure_time_constant_s, h);
        }
}

static double sim_round_clamp(double v, double lo, double hi)
{
        v = v < 0 ? v - 0.5 : v + 0.5;
        if (!(v >= lo))
                return lo;
        if (v > hi)
                return hi;
        return v;
}

/* A non-negative value rounded down (no libm), at most hi. */
static uint32_t sim_floor_clamp(double v, uint32_t hi)
{
        if (!(v >= 0))
                return 0;
        if (v >= hi)
                return hi;
        return (uint32_t)v;
}

static void sim_model_read(const struct sim_model *m, struct power_measurement *out)
{
        double v = m->v_out + (sim_model_regulating(m) ? m->overshoot_v : 0);

        *out = (struct power_measurement) {
                .voltage_dv = (uint16_t)sim_round_clamp(v * 10.0, 0, UINT16_MAX),
                .current_da = (int16_t)sim_round_clamp(m->i_out * 10.0, INT16_MIN, INT16_MAX),
                .module_temp_c = (int16_t)sim_round_clamp(m->module_c, INT16_MIN + 1, INT16_MAX),
                .enclosure_temp_c = (int16_t)sim_round_clamp(m->enclosure_c, INT16_MIN + 1,
                                                             INT16_MAX),
                /* Always measured: never POWER_INSULATION_UNKNOWN. */
                .insulation_kohm = (uint16_t)sim_round_clamp(m->insulation_kohm, 0,
                                                             POWER_INSULATION_UNKNOWN - 1),
                .link_ok = true,
                .ready = sim_model_ready(m),
                .fault = m->fault,
                /* The hardware ceilings, rounded down: a rating. */
                .rating = {
                        .max_voltage_dv = (uint16_t)sim_floor_clamp(m->p.max_voltage_v * 10.0, UINT16_MAX),
                        .max_current_da = (uint16_t)sim_floor_clamp(m->p.max_current_a * 10.0, UINT16_MAX),
                        .max_power_w = sim_floor_clamp(m->p.max_power_kw * 1000.0, UINT32_MAX),
                        /* It sinks as much as it sources. */
                        .max_sink_current_da = (uint16_t)sim_floor_clamp(m->p.max_current_a * 10.0, UINT16_MAX),
                        .max_sink_power_w = sim_floor_clamp(m->p.max_power_kw * 1000.0, UINT32_MAX),
                },
        };
}

void sim_model_measure(const struct sim_model *m, struct power_measurement *out)
{
        if (m->link_lost) {
                /* Nothing new can be read over a dead link. */
                *out = m->frozen;
                out->link_ok = false;
                out->ready = false;
                return;
        }
        sim_model_read(m, out);
}

void sim_model_set_fault(struct sim_model *m, bool fault)
{
        m->fault = fault;
        if (!fault)
                return;
        /* The converter trips: no more current, and the vehicle, seeing
         * the charger stop, opens its contactors. */
        m->i_out = 0;
        m->ev_connected = false;
}

void sim_model_set_link_lost(struct sim_model *m, bool lost)
{
        if (lost && !m->link_lost)
                sim_model_read(m, &m->frozen);
        m->link_lost = lost;
}

int sim_model_set_overshoot(struct sim_model *m, double volts)
{
        if (!(volts >= 0 && volts <= SIM_MODEL_MAX_BATTERY_V))
                return -EINVAL;
        m->overshoot_v = volts;
        return 0;
}

int sim_model_set_insulation_kohm(struct sim_model *m, double kohm)
{
        if (!(kohm >= 0 && kohm <= SIM_MODEL_MAX_INSULATION_KOHM))
                return -EINVAL;
        m->insulation_kohm = kohm;
        return 0;
}

int sim_model_set_battery_voltage(struct sim_model *m, double volts)
{
        if (!(volts >= 0 && volts <= SIM_MODEL_MAX_BATTERY_V))
                return -EINVAL;
        m->v_batt = volts;
        return 0;
}

bool sim_model_ev_connected(const struct sim_model *m)
{
        return m->ev_connected;
}

double sim_model_battery_voltage(const struct sim_model *m)
{
        return m->v_batt;
}
