/* SPDX-License-Identifier: MIT */
/*
 * Private to the codec: the position of every signal inside its message's
 * signal table (database order of the KCD, Reserved fields included).  A
 * message whose payload is the same in v2.7 and v3.6 has one table; the
 * identifiers below name the v2.7 one.
 * codec_table.c fills the tables with designated initializers on these
 * indices and codec.c maps the typed structs through them, so the typed
 * layer cannot drift away from the descriptive table.
 */
#ifndef SECCBRIDGE_CODEC_TABLE_H
#define SECCBRIDGE_CODEC_TABLE_H

#include "seccbridge/codec.h"

/* Power_Modules_Status 0x60010 */
enum {
        PMS_PRESENT_VOLTAGE,
        PMS_PRESENT_CURRENT,
        PMS_POWER_MODULES_TEMPERATURE,
        PMS_ENCLOSURE_TEMPERATURE,
        PMS_SYSTEM_ENABLE,
        PMS_INSULATION_RESISTANCE,
        PMS_COUNT
};

/* Power_Modules_Limits 0x60011 */
enum {
        PML_MAXIMUM_VOLTAGE,
        PML_MAXIMUM_CURRENT,
        PML_RESERVED,
        PML_COUNT
};

/* Sequence_Control 0x60012 */
enum {
        SEQ_START_CHARGE_AUTHORISATION,
        SEQ_CHADEMO_START_BUTTON,
        SEQ_CCS_AUTHORISATION_DONE,
        SEQ_CCS_AUTHORISATION_VALID,
        SEQ_CHARGE_PARAMETERS_DONE,
        SEQ_USER_STOP_BUTTON,
        SEQ_COUNT
};

/* ADM_CS_SECC_Outputs 0x60013 */
enum {
        SECCO_DIGITAL_OUTPUT1,
        SECCO_DIGITAL_OUTPUT2,
        SECCO_DIGITAL_OUTPUT3,
        SECCO_DIGITAL_OUTPUT4,
        SECCO_LED1,
        SECCO_LED2,
        SECCO_LED3,
        SECCO_RESERVED,
        SECCO_COUNT
};

/* ADM_CS_SPCC_Outputs 0x60014 */
enum {
        SPCCO_DIGITAL_OUTPUT1,
        SPCCO_DIGITAL_OUTPUT2,
        SPCCO_LED1,
        SPCCO_LED2,
        SPCCO_LED3,
        SPCCO_RESERVED,
        SPCCO_COUNT
};

/* New_Charge_Session 0x68001 */
enum {
        NCS_COMMUNICATION_PROTOCOL,
        NCS_PLUG_AND_PINS,
        NCS_EV_MAXIMUM_VOLTAGE,
        NCS_EV_MAXIMUM_CURRENT,
        NCS_BATTERY_CAPACITY,
        NCS_STATE_OF_CHARGE,
        NCS_COUNT
};

/* Insulation_Test 0x68002 */
enum {
        INS_TEST_VOLTAGE,
        INS_COUNT
};

/* Precharge 0x68003 */
enum {
        PRE_TARGET_VOLTAGE,
        PRE_MAXIMUM_CURRENT,
        PRE_COUNT
};

/* Charge_Status_Change 0x68004 */
enum {
        CSC_VEHICLE_READY_FOR_CHARGING,
        CSC_COUNT
};

/* Charging_Loop 0x68005 */
enum {
        CL_TARGET_VOLTAGE,
        CL_TARGET_CURRENT,
        CL_STATE_OF_CHARGE,
        CL_COUNT
};

/* Emergency_Stop 0x68006 */
enum {
        ESTOP_ORIGIN,
        ESTOP_COUNT
};

/* Charge_Session_Finished 0x68007 */
enum {
        CSF_STATE,
        CSF_COUNT
};

/* Advantics_Controller_Status 0x68009 */
enum {
        ACS_STATE,
        ACS_COUNT
};

/* ADM_CO_CUI1_Inputs 0x6800A */
enum {
        CUI1_SWITCH0,
        CUI1_SWITCH1,
        CUI1_SWITCH2,
        CUI1_SWITCH3,
        CUI1_SWITCH4,
        CUI1_SWITCH5,
        CUI1_RESERVED,
        CUI1_COLIBRI_TEMPERATURE,
        CUI1_CPU_TEMPERATURE,
        CUI1_PISTOL_PTC1,
        CUI1_PISTOL_PTC2,
        CUI1_COUNT
};

/* ADM_CS_SECC_Inputs 0x6800B */
enum {
        SECCI_DIGITAL_INPUT1,
        SECCI_DIGITAL_INPUT2,
        SECCI_DIGITAL_INPUT3,
        SECCI_DIGITAL_INPUT4,
        SECCI_RESERVED,
        SECCI_CPU_TEMPERATURE,
        SECCI_PISTOL_PTC1,
        SECCI_PISTOL_PTC2,
        SECCI_COUNT
};

/* EV_ID_CCS_Part2_DIN 0x6800C */
enum {
        EVID_BYTE0,
        EVID_BYTE1,
        EVID_BYTE2,
        EVID_BYTE3,
        EVID_BYTE4,
        EVID_BYTE5,
        EVID_COUNT
};

/* ADM_CS_SPCC_Inputs 0x6800D */
enum {
        SPCCI_DIGITAL_INPUT1,
        SPCCI_DIGITAL_INPUT2,
        SPCCI_DIGITAL_INPUT3,
        SPCCI_DIGITAL_INPUT4,
        SPCCI_RESERVED,
        SPCCI_CPU_TEMPERATURE0,
        SPCCI_CPU_TEMPERATURE1,
        SPCCI_PT1K_A,
        SPCCI_PT1K_B,
        SPCCI_PT1KS_C,
        SPCCI_PT1KS_D,
        SPCCI_COUNT
};

/* CCS_Extra_Information 0x6800E */
enum {
        CCSX_CP_STATE,
        CCSX_CP_DUTY_CYCLE,
        CCSX_RESERVED,
        CCSX_COUNT
};

/* MCS_Extra_Information 0x6800F */
enum {
        MCSX_CE_STATE,
        MCSX_ID_STATE,
        MCSX_RESERVED,
        MCSX_COUNT
};

/* ---- v3.6 only ---- */

/* DC_Power_Parameters 0x63001 */
enum {
        DCPP_MAXIMUM_VOLTAGE,
        DCPP_MAXIMUM_CHARGE_CURRENT,
        DCPP_MAXIMUM_DISCHARGE_CURRENT,
        DCPP_RANGE_TARGET_CURRENT,
        DCPP_COUNT
};

/* New_Charge_Session 0x6B001 */
enum {
        NCS3_COMMUNICATION_PROTOCOL,
        NCS3_PLUG_AND_PINS,
        NCS3_COUNT
};

/* DC_Power_Control 0x6B003 */
enum {
        DCPC_TARGET_VOLTAGE,
        DCPC_CURRENT_RANGE_MAX,
        DCPC_CURRENT_RANGE_MIN,
        DCPC_POWER_FUNCTION,
        DCPC_RESERVED,
        DCPC_SETPOINTS_MODE,
        DCPC_OUTPUT_CONTACTORS,
        DCPC_LOWER_OUTPUT_VOLTAGE,
        DCPC_COUNT
};

/* EV_Information_Battery 0x6B100 */
enum {
        EVB_BATTERY_CAPACITY,
        EVB_PRESENT_STATE_OF_CHARGE,
        EVB_MINIMUM_STATE_OF_CHARGE,
        EVB_TARGET_STATE_OF_CHARGE,
        EVB_MAXIMUM_STATE_OF_CHARGE,
        EVB_COUNT
};

/* EV_Information_Voltages 0x6B101 */
enum {
        EVV_MINIMUM_VOLTAGE,
        EVV_MAXIMUM_VOLTAGE,
        EVV_PRESENT_VOLTAGE,
        EVV_COUNT
};

/* EV_Information_Charge_Limits 0x6B102, EV_Information_Discharge_Limits
 * 0x6B103 (the same layout) */
enum {
        EVL_MINIMUM_CURRENT,
        EVL_MAXIMUM_CURRENT,
        EVL_MINIMUM_POWER,
        EVL_MAXIMUM_POWER,
        EVL_COUNT
};

/* EV_Information_Energy 0x6B104 */
enum {
        EVE_MINIMUM_ENERGY_REQUEST,
        EVE_TARGET_ENERGY_REQUEST,
        EVE_MAXIMUM_ENERGY_REQUEST,
        EVE_COUNT
};

/* OCPP_Control 0x6B300 */
enum {
        OCPP_DYNAMIC_TARGET_CURRENT,
        OCPP_COUNT
};

#endif
