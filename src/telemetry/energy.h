/* SPDX-License-Identifier: MIT */
/*
 * Energy through the converter's output, estimated from the measured
 * voltage x current: an estimate for operators, not a meter (no billing).
 * Pure: time is an argument.
 *
 * Each measurement holds until the next one (the converter reports
 * sampled values, not averages): energy += V x I of the measurement in
 * force x the time it was in force.  The current is signed: power towards
 * the vehicle counts as delivered, power from it as returned.  A
 * measurement is held at most ENERGY_MAX_HOLD_US: after a longer gap (a
 * stalled process, a lost link) nothing is guessed for the rest of it.
 */
#ifndef SECCBRIDGE_ENERGY_H
#define SECCBRIDGE_ENERGY_H

#include <stdbool.h>
#include <stdint.h>

#define ENERGY_MAX_HOLD_US (5u * 1000u * 1000u)

struct energy {
        uint64_t delivered_mwh;
        uint64_t returned_mwh;
        uint64_t acc_delivered;         /* less than one mWh, in 0.01 W x us */
        uint64_t acc_returned;
        uint64_t peak_delivered_cw;     /* largest power seen, 0.01 W */
        uint64_t peak_returned_cw;
        bool have_power;                /* a measurement is in force */
        int64_t power_cw;               /* its power, 0.01 W, signed */
        uint64_t since_us;              /* counted up to here */
};

/* Zero energy and peaks, no measurement in force. */
void energy_reset(struct energy *e);

/* Count the measurement in force up to now_us, then make this one the
 * measurement in force (valid false: none, e.g. the link is down).
 * voltage in 0.1 V, current in 0.1 A (negative: towards the charger). */
void energy_sample(struct energy *e, uint16_t voltage_dv, int16_t current_da, bool valid, uint64_t now_us);

/* Count the measurement in force up to now_us. */
void energy_advance(struct energy *e, uint64_t now_us);

#endif
