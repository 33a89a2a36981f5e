/* SPDX-License-Identifier: MIT */
#include "seccbridge/power.h"

const char *power_mode_name(enum power_mode mode)
{
        switch (mode) {
        case POWER_OFF:
                return "off";
        case POWER_STANDBY:
                return "standby";
        case POWER_INSULATION_TEST:
                return "insulation-test";
        case POWER_PRECHARGE:
                return "precharge";
        case POWER_CHARGE:
                return "charge";
        }
        return "unknown";
}
