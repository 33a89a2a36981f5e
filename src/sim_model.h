/* SPDX-License-Identifier: MIT */
/*
 * Physics model of the simulated converter, pure and stepped by the caller:
 * output voltage and current ramp toward the command at configurable rates,
 * the current limit holds, the cable capacitance charges during insulation
 * test and precharge, a battery appears on the output once the vehicle has
 * closed its contactors, temperatures follow the power, the insulation
 * resistance is settable, and fault knobs exist for tests.
 *
 * No I/O, no clock, no allocation: time only moves in sim_model_step().
 *
 * What the model does, rule by rule:
 *
 * - Output voltage.  While regulating (insulation test, precharge, charge;
 *   awake, no fault) the voltage reference moves from the present output
 *   voltage toward the commanded voltage (capped by max_voltage_v) at
 *   voltage_ramp_v_per_s.  The converter only sources current: it cannot pull
 *   the output down, the leakage and the discharge resistor do that.
 * - Output current.  Never above the command's current_da, max_current_a or
 *   max_power_kw / V.  It rises at most at current_ramp_a_per_s and falls at
 *   once (a lower limit holds from the next step on).
 * - Sinking (B2).  A negative current_da with the battery on the output
 *   takes that current out of the battery (magnitude bounded by
 *   max_current_a and max_power_kw / V, ramped the same way, a reversal
 *   through 0 A): the output is V_batt + I * R, below the battery, and the
 *   open-circuit voltage falls as it rose (the battery's state of charge).
 *   Without a battery nothing can be sunk: 0 A.  The rating reports the
 *   same ceilings for sinking as for sourcing.
 * - Vehicle contactors open: only the cable capacitance is on the output,
 *   charged with I = C dV/dt (bounded by the current limit) and leaking
 *   through the insulation resistance.
 * - Vehicle contactors closed: the output is the battery,
 *   V = V_batt + I * battery_resistance_ohm, and the current is also bounded
 *   by what the voltage target allows ((V_target - V_batt) / R, CC/CV).  The
 *   battery open-circuit voltage rises by battery_voltage_span_v over
 *   battery_capacity_kwh of energy stored, and falls the same way over
 *   energy taken out: it stands for the state of charge.
 * - The vehicle closes its contactors (see sim_model_command()):
 *   CCS (R33): while a PRECHARGE command regulates, as soon as the output is
 *   within 20 V of the battery voltage;
 *   CHARGE arriving while the output is within 20 V of the battery voltage
 *   (a vehicle that precharged by itself);
 *   CHAdeMO (R30, no precharge): the first CHARGE after an insulation test
 *   that reached 90 % of its voltage (R27), with no PRECHARGE in between.
 *   The model cannot tell the two protocols apart before the first charge
 *   request, so a CHAdeMO battery appears on the output with that request
 *   rather than right after the test.
 * - The vehicle opens its contactors on OFF, on STANDBY with discharge
 *   (welding detection, session end) and on a converter fault (the vehicle
 *   sees the charger trip).  STANDBY without discharge leaves the output
 *   alone: with the battery on it, the voltage stays (R24, R34).
 * - Discharge (OFF, STANDBY with discharge, fault): the cable capacitance
 *   discharges through discharge_resistance_ohm (RC).
 * - Readiness: `ready` becomes true wakeup_ms after leaving OFF; OFF puts the
 *   modules back to sleep.  Nothing is regulated before ready.  A fault
 *   clears `ready` while it lasts.
 * - Temperatures: the module temperature follows
 *   ambient + thermal_resistance_c_per_kw * P (output kW) with a first-order
 *   lag of module_time_constant_s; the enclosure follows the ambient plus
 *   half the module's rise, with the slower enclosure_time_constant_s.
 * - Link lost: the converter goes on with what it was doing, commands are
 *   ignored, and measurements repeat the last values read before the loss
 *   with link_ok = false and ready = false.
 * - Rating: every measurement carries max_voltage_v, max_current_a and
 *   max_power_kw as the converter's rating (the protocol core's third limit
 *   source).
 * - Overshoot (a knob for the EV over-voltage protection): while the
 *   converter regulates, its output measures overshoot volts above what the
 *   model regulates to, as with a regulator gone wrong.
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
        double max_power_kw;             /* hardware power ceiling */
        double battery_voltage_span_v;   /* open-circuit voltage rise over the whole capacity */
        double module_time_constant_s;   /* module temperature lag */
        double enclosure_time_constant_s; /* enclosure temperature lag */
};

/* Vehicle contactors close when the output is this close to the battery (R33). */
#define SIM_MODEL_CONTACTOR_WINDOW_V 20.0

/* Private state: embed it, never touch its fields from outside sim_model.c. */
struct sim_model {
        struct sim_params p;
        struct power_command cmd;       /* last command accepted */
        double v_out;                   /* output voltage, V */
        double i_out;                   /* output current, A */
        double v_batt;                  /* battery open-circuit voltage, V */
        double insulation_kohm;
        double module_c;
        double enclosure_c;
        double awake_s;                 /* time spent out of OFF */
        bool fault;
        bool link_lost;
        double overshoot_v;             /* knob: the output measures this much too high */
        bool ev_connected;              /* vehicle contactors closed */
        bool insulation_tested;         /* R27: test voltage reached since the last OFF */
        bool precharge_seen;            /* a PRECHARGE came after that test */
        struct power_measurement frozen; /* last measurement before the link was lost */
};

void sim_params_defaults(struct sim_params *p);
/* Set one [sim] key from its config text.  0; -ENOENT unknown key; -EINVAL
 * bad value (with a reason written to err). */
int sim_params_set(struct sim_params *p, const char *key, const char *value,
                   char *err, size_t err_len);
/* Whole-set validation.  0 or -EINVAL with the offending key in *key and a
 * reason in err. */
int sim_params_validate(const struct sim_params *p, const char **key, char *err, size_t err_len);

/* Start from rest: output at 0 V, OFF, asleep, battery at battery_voltage_v,
 * temperatures at ambient; the fault and link_lost knobs as in p.  p must
 * be valid (sim_params_validate). */
void sim_model_init(struct sim_model *m, const struct sim_params *p);
/* Take new parameters (a reloaded config) without resetting the state.  The
 * knobs that also exist as parameters (fault, link_lost, insulation_kohm,
 * battery_voltage_v) change only if the new value differs from the old
 * parameter, so a reload does not undo a runtime knob it does not touch. */
void sim_model_set_params(struct sim_model *m, const struct sim_params *p);

/* The latest wanted state, effective from the next step.  0, or -ENOLINK
 * when the link is lost (the command is dropped, as on a real dead link). */
int sim_model_command(struct sim_model *m, const struct power_command *cmd);
/* Advance time by dt_s seconds (ignored unless finite and > 0), integrated
 * in substeps of at most 0.5 ms: the cost grows with dt_s. */
void sim_model_step(struct sim_model *m, double dt_s);
/* The converter's measurement as of the last step. */
void sim_model_measure(const struct sim_model *m, struct power_measurement *out);

/* Knobs. */
void sim_model_set_fault(struct sim_model *m, bool fault);
void sim_model_set_link_lost(struct sim_model *m, bool lost);
/* 0 or -EINVAL (not a finite value in 0..1000000 kOhm); 0 kOhm is a dead short. */
int sim_model_set_insulation_kohm(struct sim_model *m, double kohm);
/* While regulating, the output measures this many volts above the model's
 * voltage; 0 ends it.  0 or -EINVAL (not a finite value in 0..1500 V). */
int sim_model_set_overshoot(struct sim_model *m, double volts);
/* Battery open-circuit voltage.  0 or -EINVAL (not a finite value in 0..1500 V). */
int sim_model_set_battery_voltage(struct sim_model *m, double volts);

/* Observations that a measurement does not carry (tests, debug logs). */
bool sim_model_ev_connected(const struct sim_model *m);
double sim_model_battery_voltage(const struct sim_model *m);

#endif
