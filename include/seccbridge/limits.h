/* SPDX-License-Identifier: MIT */
/*
 * Limit arithmetic of the protocol core: which limits are in force, and how a
 * wanted converter command is brought inside them.  Pure functions, integer
 * only (0.1 V, 0.1 A, W, as in power.h).
 *
 * The invariant the session relies on: for any wanted command `w`,
 * limits_within(l, limits_clamp(l, w)) holds.
 */
#ifndef SECCBRIDGE_LIMITS_H
#define SECCBRIDGE_LIMITS_H

#include <stdbool.h>
#include <stdint.h>

#include "seccbridge/power.h"

/* 0 when every field of `l` is non-zero (a usable set of static limits),
 * -EINVAL otherwise.  The discharge fields may be 0 (no discharge) but not
 * one without the other. */
int limits_check(const struct power_limits *l);

/* The limits in force, from three sources: each field is the static limit
 * (the config), lowered to the dynamic one (the operator) and to the
 * converter's rating where those are non-zero (0 = "no limit from this
 * source").  The discharge limits likewise, lowered by the operator's and by
 * the converter's sink rating; a static discharge limit of 0 stays 0.  The precharge and insulation caps never exceed the resulting
 * current limit.  Neither the operator nor the rating can raise a static
 * limit, only lower it.  rating may be NULL (none). */
void limits_effective(const struct power_limits *static_limits,
                      const struct power_limits *dynamic,
                      const struct power_rating *rating,
                      struct power_limits *out);

/* true when both sets are equal field by field. */
bool limits_equal(const struct power_limits *a, const struct power_limits *b);

/* The highest current (0.1 A) whose product with voltage_dv stays within
 * max_power_w: voltage_dv * current_da <= max_power_w * 100.  UINT16_MAX when
 * voltage_dv is 0 (no power flows whatever the current). */
uint16_t limits_power_current_da(uint32_t max_power_w, uint16_t voltage_dv);

/* Bring `want` inside `l`:
 *  - OFF: 0 V, 0 A, always discharging (the safe state);
 *  - STANDBY: 0 V, 0 A, the discharge flag of `want`;
 *  - INSULATION_TEST, PRECHARGE, CHARGE: voltage <= max_voltage, current <=
 *    max_current and, for the first two, <= their own cap; then the current
 *    is lowered until voltage x current <= max_power (the command voltage is
 *    used, so the command itself never exceeds the power limit); no
 *    discharge of the output;
 *  - a negative current (B2, CHARGE only) by the same rules with the
 *    discharge limits: |current| <= max_discharge_current and voltage x
 *    |current| <= max_discharge_power; 0 A when those are 0.  A negative
 *    current in the other modes becomes 0 A.
 * `out` may alias `want`. */
void limits_clamp(const struct power_limits *l, const struct power_command *want,
                  struct power_command *out);

/* true when `cmd` respects every limit of `l` (the checks limits_clamp()
 * guarantees). */
bool limits_within(const struct power_limits *l, const struct power_command *cmd);

#endif
