/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "energy.h"

/* 1 mWh = 3.6 J = 3.6e8 x (0.01 W x 1 us). */
#define ENERGY_UNITS_PER_MWH 360000000ull

void energy_reset(struct energy *e)
{
        memset(e, 0, sizeof(*e));
}

static void energy_add(uint64_t *mwh, uint64_t *acc, uint64_t units)
{
        *acc += units;
        *mwh += *acc / ENERGY_UNITS_PER_MWH;
        *acc %= ENERGY_UNITS_PER_MWH;
}

void energy_advance(struct energy *e, uint64_t now_us)
{
        uint64_t dt;

        if (now_us <= e->since_us)
                return;         /* never backwards: the clock is monotonic */
        dt = now_us - e->since_us;
        e->since_us = now_us;
        if (!e->have_power || e->power_cw == 0)
                return;
        if (dt > ENERGY_MAX_HOLD_US)
                dt = ENERGY_MAX_HOLD_US;
        if (e->power_cw > 0)
                energy_add(&e->delivered_mwh, &e->acc_delivered, (uint64_t)e->power_cw * dt);
        else
                energy_add(&e->returned_mwh, &e->acc_returned, (uint64_t)(-e->power_cw) * dt);
}

void energy_sample(struct energy *e, uint16_t voltage_dv, int16_t current_da, bool valid, uint64_t now_us)
{
        if (e->have_power)
                energy_advance(e, now_us);
        else if (now_us > e->since_us)
                e->since_us = now_us;
        e->have_power = valid;
        e->power_cw = valid ? (int64_t)voltage_dv * current_da : 0;
        if (e->power_cw > 0 && (uint64_t)e->power_cw > e->peak_delivered_cw)
                e->peak_delivered_cw = (uint64_t)e->power_cw;
        if (e->power_cw < 0 && (uint64_t)(-e->power_cw) > e->peak_returned_cw)
                e->peak_returned_cw = (uint64_t)(-e->power_cw);
}
