/* SPDX-License-Identifier: MIT */
/*
 * Physics model of the simulated converter, pure and stepped by the caller:
 * output voltage and current ramp toward the command at configurable rates,
 * the current limit holds, the cable capacitance charges during insulation
 * test and precharge, a battery appears on the output once the vehicle has
 * closed its contactors, temperatures follow the power, the insulation
 * resistance is settable, and fault knobs exist for tests.
 */
#ifndef SECCBRIDGE_SIM_MODEL_H
#define SECCBRIDGE_SIM_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seccbridge/power.h"

struct sim_params {
        double voltage_ramp_v_per_s;     /* output voltage slew */
        double current_ramp_a_per_s;     /* output current slew */
        double cable_capacitance_uf;     /* output + cable capacitance */
        double discharge_resistance_ohm; /* active discharge resistor */
        double battery_voltage_v;        /* EV battery open-circuit voltage */
        double battery_capacity_kwh;     /* for the voltage rise while charging */
        double battery_resistance_ohm;   /* internal resistance */
        double insulation_kohm;          /* insulation resistance of the cable */
        double ambient_temperature_c;
        double thermal_resistance_c_per_kw; /* module temperature rise per kW */
        double max_voltage_v;            /* hardware ceiling of the simulated converter */
        double max_current_a;
        uint32_t wakeup_ms;              /* time from OFF to ready */
        uint32_t step_ms;                /* model step and measurement period */
        bool fault;                      /* converter reports a fault */
        bool link_lost;                  /* backend pretends the link is down */
        char control_path[256];          /* optional FIFO for runtime knobs, "" = none */
};

void sim_params_defaults(struct sim_params *p);
/* Set one [sim] key from its config text.  0; -ENOENT unknown key; -EINVAL
 * bad value (with a reason written to err). */
int sim_params_set(struct sim_params *p, const char *key, const char *value,
                   char *err, size_t err_len);
/* Whole-set validation.  0 or -EINVAL with the offending key in *key and a
 * reason in err. */
int sim_params_validate(const struct sim_params *p, const char **key, char *err, size_t err_len);

#endif
