/* SPDX-License-Identifier: MIT */
/*
 * Converter command, converter measurement and power limits: the vocabulary
 * shared by the protocol core (which decides) and the converter backends
 * (which execute).  Units are fixed point, the same resolution as the CAN
 * interface: voltages in 0.1 V (dV), currents in 0.1 A (dA), power in W.
 */
#ifndef SECCBRIDGE_POWER_H
#define SECCBRIDGE_POWER_H

#include <stdbool.h>
#include <stdint.h>

enum power_mode {
        /* Output disabled, modules may power down, output actively
         * discharged.  The safe state. */
        POWER_OFF,
        /* Modules awake and ready, output not regulating.  `discharge`
         * tells whether the output must be actively discharged (after the
         * insulation test, at the end of a session) or left alone because a
         * battery is on it (R24, R34). */
        POWER_STANDBY,
        /* Regulate to voltage_dv with current_da as the current limit; the
         * EV is not connected (R26). */
        POWER_INSULATION_TEST,
        /* Regulate to voltage_dv, never above current_da (R32). */
        POWER_PRECHARGE,
        /* Power transfer: deliver voltage_dv / current_da (CC/CV decided by
         * the converter, R36, V15).  The only mode whose current may be
         * negative: energy out of the EV (B2, vehicle-to-grid). */
        POWER_CHARGE,
};

struct power_command {
        enum power_mode mode;
        uint16_t voltage_dv;    /* target voltage, 0.1 V; 0 in OFF/STANDBY */
        /* Current limit, 0.1 A; 0 in OFF/STANDBY.  Signed as on the bus
         * (B2): > 0 into the EV, < 0 out of it (POWER_CHARGE only, and only
         * on a power side configured for discharge). */
        int32_t current_da;
        bool discharge;         /* actively discharge the output */
};

/* What the converter can deliver at most, as it says itself (a Modbus
 * profile's rated values, the simulated converter's ceilings): the third
 * source of limits beside the config and the operator.  0 = not known. */
struct power_rating {
        uint16_t max_voltage_dv;
        uint16_t max_current_da;
        uint32_t max_power_w;
        /* Sinking (current out of the EV, B2): what the converter can take
         * back.  0 = not known (no limit from the converter). */
        uint16_t max_sink_current_da;
        uint32_t max_sink_power_w;
};

/* Insulation resistance not measured (no monitor configured/available). */
#define POWER_INSULATION_UNKNOWN UINT16_MAX
/* Temperature not measured. */
#define POWER_TEMPERATURE_UNKNOWN INT16_MIN

struct power_measurement {
        uint16_t voltage_dv;            /* output voltage, 0.1 V */
        int16_t current_da;             /* output current, 0.1 A (signed) */
        int16_t module_temp_c;          /* hottest module, degC, or UNKNOWN */
        int16_t enclosure_temp_c;       /* enclosure, degC, or UNKNOWN */
        uint16_t insulation_kohm;       /* kOhm, or POWER_INSULATION_UNKNOWN */
        bool link_ok;                   /* backend talks to the converter */
        bool ready;                     /* awake and able to deliver power */
        bool fault;                     /* converter reports a fault */
        struct power_rating rating;     /* the converter's rating, as known */
};

struct power_limits {
        uint16_t max_voltage_dv;            /* output voltage ceiling */
        uint16_t max_current_da;            /* output current ceiling */
        uint32_t max_power_w;               /* voltage x current ceiling */
        uint16_t precharge_max_current_da;  /* cap during precharge (R32) */
        uint16_t insulation_max_current_da; /* cap during insulation test */
        /* Discharge (B2: current out of the EV), magnitudes.  In the static
         * limits 0 = no discharge at all; in the operator's and the
         * converter's, 0 = no limit from that source. */
        uint16_t max_discharge_current_da;
        uint32_t max_discharge_power_w;
};

const char *power_mode_name(enum power_mode mode);

/* The modes in which the converter drives its output (a voltage or a
 * current is regulated); OFF and STANDBY deliver nothing. */
static inline bool power_mode_regulates(enum power_mode mode)
{
        switch (mode) {
        case POWER_OFF:
        case POWER_STANDBY:
                return false;
        case POWER_INSULATION_TEST:
        case POWER_PRECHARGE:
        case POWER_CHARGE:
                return true;
        }
        return false;
}

#endif
