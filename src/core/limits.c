/* SPDX-License-Identifier: MIT */
/*
 * Limit arithmetic: limits in force (config, operator, converter rating) and
 * clamping of a converter command.  Integer only, no state.
 */
#include <errno.h>

#include "seccbridge/limits.h"

static uint16_t min_u16(uint16_t a, uint16_t b)
{
        return a < b ? a : b;
}

/* The smaller of a limit and a lower source; 0 = no limit from that source. */
static uint16_t lower_u16(uint16_t limit, uint16_t lower)
{
        if (lower == 0)
                return limit;
        return min_u16(limit, lower);
}

static uint32_t lower_u32(uint32_t limit, uint32_t lower)
{
        if (lower == 0 || lower > limit)
                return limit;
        return lower;
}

int limits_check(const struct power_limits *l)
{
        if (!l)
                return -EINVAL;
        if (l->max_voltage_dv == 0 || l->max_current_da == 0 || l->max_power_w == 0 ||
            l->precharge_max_current_da == 0 || l->insulation_max_current_da == 0)
                return -EINVAL;
        /* Discharge needs both its current and its power limit. */
        if ((l->max_discharge_current_da == 0) != (l->max_discharge_power_w == 0))
                return -EINVAL;
        return 0;
}

void limits_effective(const struct power_limits *static_limits,
                      const struct power_limits *dynamic,
                      const struct power_rating *rating,
                      struct power_limits *out)
{
        static const struct power_rating unknown = { 0 };
        struct power_limits r;

        if (!rating)
                rating = &unknown;
        r.max_voltage_dv = lower_u16(lower_u16(static_limits->max_voltage_dv, dynamic->max_voltage_dv),
                                     rating->max_voltage_dv);
        r.max_current_da = lower_u16(lower_u16(static_limits->max_current_da, dynamic->max_current_da),
                                     rating->max_current_da);
        r.max_power_w = lower_u32(lower_u32(static_limits->max_power_w, dynamic->max_power_w),
                                  rating->max_power_w);
        /* A static 0 (no discharge) stays 0: lower_*() never raise it. */
        r.max_discharge_current_da = lower_u16(lower_u16(static_limits->max_discharge_current_da,
                                                         dynamic->max_discharge_current_da),
                                               rating->max_sink_current_da);
        r.max_discharge_power_w = lower_u32(lower_u32(static_limits->max_discharge_power_w,
                                                      dynamic->max_discharge_power_w),
                                            rating->max_sink_power_w);
        r.precharge_max_current_da = lower_u16(static_limits->precharge_max_current_da,
                                               dynamic->precharge_max_current_da);
        r.insulation_max_current_da = lower_u16(static_limits->insulation_max_current_da,
                                                dynamic->insulation_max_current_da);
        /* A cap above the general current limit would be meaningless. */
        r.precharge_max_current_da = min_u16(r.precharge_max_current_da, r.max_current_da);
        r.insulation_max_current_da = min_u16(r.insulation_max_current_da, r.max_current_da);
        *out = r;
}

bool limits_equal(const struct power_limits *a, const struct power_limits *b)
{
        return a->max_voltage_dv == b->max_voltage_dv &&
               a->max_current_da == b->max_current_da &&
               a->max_power_w == b->max_power_w &&
               a->precharge_max_current_da == b->precharge_max_current_da &&
               a->insulation_max_current_da == b->insulation_max_current_da &&
               a->max_discharge_current_da == b->max_discharge_current_da &&
               a->max_discharge_power_w == b->max_discharge_power_w;
}

uint16_t limits_power_current_da(uint32_t max_power_w, uint16_t voltage_dv)
{
        uint64_t da;

        if (voltage_dv == 0)
                return UINT16_MAX;
        /* V x I = (dV / 10) x (dA / 10) W, hence dV x dA <= 100 x W. */
        da = (uint64_t)max_power_w * 100u / voltage_dv;
        return da > UINT16_MAX ? UINT16_MAX : (uint16_t)da;
}

/* Current cap of a regulating mode, before the power limit. */
static uint16_t mode_current_cap(const struct power_limits *l, enum power_mode mode)
{
        switch (mode) {
        case POWER_OFF:
        case POWER_STANDBY:
                return 0;
        case POWER_INSULATION_TEST:
                return min_u16(l->max_current_da, l->insulation_max_current_da);
        case POWER_PRECHARGE:
                /* R32: never above the precharge cap. */
                return min_u16(l->max_current_da, l->precharge_max_current_da);
        case POWER_CHARGE:
                return l->max_current_da;
        }
        return 0;
}

/* |current| in 0.1 A, saturated to what a limit can hold. */
static uint16_t magnitude_da(int32_t da)
{
        int64_t m = da < 0 ? -(int64_t)da : da;

        return m > UINT16_MAX ? UINT16_MAX : (uint16_t)m;
}

/* The highest discharge current at voltage_dv: both discharge limits. */
static uint16_t discharge_cap_da(const struct power_limits *l, uint16_t voltage_dv)
{
        if (l->max_discharge_current_da == 0 || l->max_discharge_power_w == 0)
                return 0;
        return min_u16(l->max_discharge_current_da,
                       limits_power_current_da(l->max_discharge_power_w, voltage_dv));
}

void limits_clamp(const struct power_limits *l, const struct power_command *want,
                  struct power_command *out)
{
        struct power_command r = { .mode = want->mode };

        switch (want->mode) {
        case POWER_OFF:
                r.discharge = true;
                break;
        case POWER_STANDBY:
                r.discharge = want->discharge;
                break;
        case POWER_INSULATION_TEST:
        case POWER_PRECHARGE:
        case POWER_CHARGE:
                r.voltage_dv = min_u16(want->voltage_dv, l->max_voltage_dv);
                if (want->current_da < 0 && want->mode == POWER_CHARGE) {
                        /* B2: out of the EV, within the discharge limits. */
                        r.current_da = -(int32_t)min_u16(magnitude_da(want->current_da),
                                                         discharge_cap_da(l, r.voltage_dv));
                } else {
                        r.current_da = min_u16(magnitude_da(want->current_da < 0 ? 0 : want->current_da),
                                               mode_current_cap(l, want->mode));
                        r.current_da = min_u16((uint16_t)r.current_da,
                                               limits_power_current_da(l->max_power_w, r.voltage_dv));
                }
                r.discharge = false;
                break;
        }
        *out = r;
}

bool limits_within(const struct power_limits *l, const struct power_command *cmd)
{
        switch (cmd->mode) {
        case POWER_OFF:
                return cmd->voltage_dv == 0 && cmd->current_da == 0 && cmd->discharge;
        case POWER_STANDBY:
                return cmd->voltage_dv == 0 && cmd->current_da == 0;
        case POWER_INSULATION_TEST:
        case POWER_PRECHARGE:
        case POWER_CHARGE:
                if (cmd->current_da < 0)
                        return cmd->mode == POWER_CHARGE && cmd->voltage_dv <= l->max_voltage_dv &&
                               magnitude_da(cmd->current_da) <= discharge_cap_da(l, cmd->voltage_dv) &&
                               !cmd->discharge;
                return cmd->voltage_dv <= l->max_voltage_dv &&
                       cmd->current_da <= mode_current_cap(l, cmd->mode) &&
                       (uint64_t)cmd->voltage_dv * cmd->current_da <=
                               (uint64_t)l->max_power_w * 100u &&
                       !cmd->discharge;
        }
        return false;
}
