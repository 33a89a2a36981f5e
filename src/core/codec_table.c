/* SPDX-License-Identifier: MIT */
/*
 * The signal tables of the ADVANTICS Generic EVSE CAN interface: v2, database
 * v2.7 (Advantics_Generic_EVSE_protocol_v2.7.kcd, 19 messages), and v3,
 * database v3.6 (Advantics_Generic_EVSE_protocol_v3.6.kcd, 23 messages).
 * Every signal in database order with its start bit, length, signedness,
 * scale, offset, unit, KCD min/max and value table.  Reserved fields are
 * listed too, flagged `reserved`, so that tools can show the whole layout;
 * they are never written.
 *
 * The 14 messages whose payload v3.6 kept from v2.7 (part D.1) share their
 * signal table: the two databases differ there only in the identifier.
 *
 * These tables are the one truth of the codec: the typed encode/decode in
 * codec.c, the seccsim tools and the tests all read them.
 */
#include <stddef.h>
#include <string.h>

#include "codec_table.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/* A value without a database range (min/max not written in the KCD). */
#define SIG(n, st, len, sgn, sc, off, un, dec) {                        \
                .name = (n), .start = (st), .length = (len),            \
                .is_signed = (sgn), .scale = (sc), .offset = (off),     \
                .unit = (un), .decimals = (dec) }

/* A value with min/max written in the KCD. */
#define SIG_RANGE(n, st, len, sc, off, un, dec, mn, mx) {               \
                .name = (n), .start = (st), .length = (len),            \
                .scale = (sc), .offset = (off), .unit = (un),           \
                .has_range = true, .min = (mn), .max = (mx),            \
                .decimals = (dec) }

/* An unsigned enumeration with a value table and no unit. */
#define SIG_ENUM(n, st, len, tbl) {                                     \
                .name = (n), .start = (st), .length = (len),            \
                .scale = 1, .unit = "",                                 \
                .labels = (tbl), .n_labels = N_ELEMENTS(tbl) }

/* A one-bit input/output state the KCD limits to 0..1. */
#define SIG_BIT(n, st) SIG_RANGE(n, st, 1, 1, 0, "", 0, 0, 1)

/* LED brightness: 8 bits, KCD range 0..255 (above 100 = full, E.22). */
#define SIG_LED(n, st) SIG_RANGE(n, st, 8, 1, 0, "", 0, 0, 255)

/* Temperature channel: raw 0 = -40 degC, KCD range -40..215. */
#define SIG_TEMPERATURE(n, st) SIG_RANGE(n, st, 8, 1, -40, "°C", 0, -40, 215)

/* A Reserved field of the database: decoded nowhere, always sent as 0. */
#define SIG_RESERVED(st, len) {                                         \
                .name = "Reserved", .start = (st), .length = (len),     \
                .scale = 1, .unit = "", .reserved = true }

#define MSG(t, n, id, len, d, period, sigs) {                           \
                .type = (t), .name = (n), .base_id = (id), .dlc = (len), \
                .dir = (d), .period_ms = (period),                      \
                .signals = (sigs), .n_signals = N_ELEMENTS(sigs) }

/* ---- value tables ---- */

static const struct codec_label system_enable_labels[] = {
        { CODEC_SYSTEM_ENABLE_NOT_ALLOWED, "Not_Allowed" },
        { CODEC_SYSTEM_ENABLE_ALLOWED, "Allowed" },
};

static const struct codec_label authorisation_labels[] = {
        { 0, "Not_Allowed" },
        { 1, "Allowed" },
};

static const struct codec_label button_labels[] = {
        { 0, "Not_Pressed" },
        { 1, "Pressed" },
};

static const struct codec_label done_labels[] = {
        { 0, "Not_Done" },
        { 1, "Done" },
};

static const struct codec_label valid_labels[] = {
        { 0, "Invalid" },
        { 1, "Valid" },
};

static const struct codec_label communication_protocol_labels[] = {
        { CODEC_PROTOCOL_CCS_DIN_70121_2012_V2, "CCS_DIN_70121_2012_v2" },
        { CODEC_PROTOCOL_CCS_ISO_15118_2010_V1, "CCS_ISO_15118_2010_v1" },
        { CODEC_PROTOCOL_CCS_ISO_15118_2013_V2, "CCS_ISO_15118_2013_v2" },
        { CODEC_PROTOCOL_CHADEMO_V0_9, "CHAdeMO_v0.9" },
        { CODEC_PROTOCOL_CHADEMO_V1_0_V1_1_V1_2, "CHAdeMO_v1.0-v1.1-v1.2" },
        { CODEC_PROTOCOL_CHADEMO_V2_0, "CHAdeMO_v2.0" },
        { CODEC_PROTOCOL_CCS_PWM, "CCS_PWM" },
        { CODEC_PROTOCOL_CCS_ISO_15118_2022, "CCS_ISO_15118_2022" },
};

static const struct codec_label plug_and_pins_labels[] = {
        { CODEC_PLUG_CCS_DC_CORE, "CCS_DC_Core" },
        { CODEC_PLUG_CCS_DC_EXTENDED, "CCS_DC_Extended" },
        { CODEC_PLUG_CHADEMO, "CHAdeMO" },
        { CODEC_PLUG_CCS_AC, "CCS_AC" },
        { CODEC_PLUG_MCS, "MCS" },
};

static const struct codec_label vehicle_ready_labels[] = {
        { CODEC_CHARGE_STOPPED, "Charge_Stopped" },
        { CODEC_CHARGE_STARTED, "Charge_Started" },
};

static const struct codec_label estop_origin_labels[] = {
        { CODEC_ESTOP_ORIGIN_EVSE, "EVSE" },
        { CODEC_ESTOP_ORIGIN_PEV, "PEV" },
};

static const struct codec_label session_finished_labels[] = {
        { CODEC_FINISHED_CLEAN_STOP, "Clean_Stop" },
        { CODEC_FINISHED_RUSHED_STOP, "Rushed_Stop" },
};

static const struct codec_label controller_state_labels[] = {
        { CODEC_STATE_INITIALISING, "Initialising" },
        { CODEC_STATE_WAITING_FOR_PEV, "Waiting_For_PEV" },
        { CODEC_STATE_NEGOTIATING_CONNECTION, "Negotiating_Connection" },
        { CODEC_STATE_CONNECTED_WITH_FULL_INFO, "Connected_With_Full_Info" },
        { CODEC_STATE_INSULATION_TEST, "Insulation_Test" },
        { CODEC_STATE_PRECHARGE, "Precharge" },
        { CODEC_STATE_WAITING_FOR_CHARGE, "Waiting_For_Charge" },
        { CODEC_STATE_CHARGING, "Charging" },
        { CODEC_STATE_ENDING_CHARGE, "Ending_Charge" },
        { CODEC_STATE_WELDING_DETECTION, "Welding_Detection" },
        { CODEC_STATE_CLOSING_COMMUNICATION, "Closing_Communication" },
        { CODEC_STATE_CCS_AUTHORISATION_PROCESS, "CCS_Authorisation_Process" },
        { CODEC_STATE_NOT_AVAILABLE, "Not_Available" },
        { CODEC_STATE_CHARGE_PAUSE, "Charge_Pause" },
};

/* Label values look like the nominal CP voltage (12 V = state A). */
static const struct codec_label cp_state_labels[] = {
        { 0, "E_or_F" },
        { 3, "D" },
        { 6, "C" },
        { 9, "B" },
        { 12, "A" },
};

static const struct codec_label ce_state_labels[] = {
        { 0, "Undefined" },
        { 1, "A" },
        { 2, "B0" },
        { 3, "B0_Aux" },
        { 4, "B" },
        { 5, "B_Aux" },
        { 6, "C" },
        { 7, "C_Aux" },
        { 8, "EC" },
        { 9, "E" },
};

static const struct codec_label id_state_labels[] = {
        { 0, "Unmated" },
        { 1, "Mated" },
        { 2, "Mated_EVAux" },
        { 3, "Mated_EVSEAux" },
};

static const struct codec_label power_function_labels[] = {
        { CODEC_POWER_FUNCTION_OFF, "Off" },
        { CODEC_POWER_FUNCTION_STANDBY, "Standby" },
        { CODEC_POWER_FUNCTION_INSULATION_TEST, "Insulation_Test" },
        { CODEC_POWER_FUNCTION_PRECHARGE, "Precharge" },
        { CODEC_POWER_FUNCTION_POWER_TRANSFER, "Power_Transfer" },
};

static const struct codec_label setpoints_mode_labels[] = {
        { CODEC_SETPOINTS_TARGET_MODE, "Target_Mode" },
        { CODEC_SETPOINTS_RANGE_MODE, "Range_Mode" },
};

static const struct codec_label output_contactors_labels[] = {
        { 0, "Open" },
        { 1, "Close" },
};

static const struct codec_label lower_output_voltage_labels[] = {
        { 0, "No_Lowering" },
        { 1, "Lowering" },
};

/* ---- IN: power side -> controller ---- */

static const struct codec_signal_info power_modules_status_signals[] = {
        [PMS_PRESENT_VOLTAGE] = SIG("Present_Voltage", 0, 16, false, 0.1, 0, "Volts", 1),
        [PMS_PRESENT_CURRENT] = SIG("Present_Current", 16, 16, true, 0.1, 0, "Amps", 1),
        [PMS_POWER_MODULES_TEMPERATURE] = SIG_TEMPERATURE("Power_Modules_Temperature", 32),
        [PMS_ENCLOSURE_TEMPERATURE] = SIG_TEMPERATURE("Enclosure_Temperature", 40),
        [PMS_SYSTEM_ENABLE] = SIG_ENUM("System_Enable", 48, 8, system_enable_labels),
        [PMS_INSULATION_RESISTANCE] = SIG("Insulation_Resistance", 56, 8, false, 2, 0, "kOhms", 0),
};

static const struct codec_signal_info power_modules_limits_signals[] = {
        [PML_MAXIMUM_VOLTAGE] = SIG("Maximum_Voltage", 0, 16, false, 0.1, 0, "Volts", 1),
        /* Declared signed although only 0 and positive values mean something (E.2). */
        [PML_MAXIMUM_CURRENT] = SIG("Maximum_Current", 16, 16, true, 0.1, 0, "Amps", 1),
        [PML_RESERVED] = SIG_RESERVED(32, 32),
};

/* Bits 2-7, 11-15 and 17-23 are undeclared and must stay 0; the pause and
 * resume flags at 17/18 exist only as a comment in the KCD (E.16). */
static const struct codec_signal_info sequence_control_signals[] = {
        [SEQ_START_CHARGE_AUTHORISATION] =
                SIG_ENUM("Start_Charge_Authorisation", 0, 1, authorisation_labels),
        [SEQ_CHADEMO_START_BUTTON] = SIG_ENUM("CHAdeMO_Start_Button", 1, 1, button_labels),
        [SEQ_CCS_AUTHORISATION_DONE] = SIG_ENUM("CCS_Authorisation_Done", 8, 1, done_labels),
        [SEQ_CCS_AUTHORISATION_VALID] = SIG_ENUM("CCS_Authorisation_Valid", 9, 1, valid_labels),
        [SEQ_CHARGE_PARAMETERS_DONE] = SIG_ENUM("Charge_Parameters_Done", 10, 1, done_labels),
        [SEQ_USER_STOP_BUTTON] = SIG_ENUM("User_Stop_Button", 16, 1, button_labels),
};

/* Reserved covers bits 28-53 only; 54-63 are undeclared (E.22). */
static const struct codec_signal_info adm_cs_secc_outputs_signals[] = {
        [SECCO_DIGITAL_OUTPUT1] = SIG_BIT("Digital_Output1", 0),
        [SECCO_DIGITAL_OUTPUT2] = SIG_BIT("Digital_Output2", 1),
        [SECCO_DIGITAL_OUTPUT3] = SIG_BIT("Digital_Output3", 2),
        [SECCO_DIGITAL_OUTPUT4] = SIG_BIT("Digital_Output4", 3),
        [SECCO_LED1] = SIG_LED("Led1", 4),
        [SECCO_LED2] = SIG_LED("Led2", 12),
        [SECCO_LED3] = SIG_LED("Led3", 20),
        [SECCO_RESERVED] = SIG_RESERVED(28, 26),
};

static const struct codec_signal_info adm_cs_spcc_outputs_signals[] = {
        [SPCCO_DIGITAL_OUTPUT1] = SIG_BIT("Digital_Output1", 0),
        [SPCCO_DIGITAL_OUTPUT2] = SIG_BIT("Digital_Output2", 1),
        [SPCCO_LED1] = SIG_LED("Led1", 2),
        [SPCCO_LED2] = SIG_LED("Led2", 10),
        [SPCCO_LED3] = SIG_LED("Led3", 18),
        [SPCCO_RESERVED] = SIG_RESERVED(26, 38),
};

/* ---- OUT: controller -> power side ---- */

static const struct codec_signal_info new_charge_session_signals[] = {
        [NCS_COMMUNICATION_PROTOCOL] =
                SIG_ENUM("Communication_Protocol", 0, 8, communication_protocol_labels),
        [NCS_PLUG_AND_PINS] = SIG_ENUM("Plug_and_pins", 8, 8, plug_and_pins_labels),
        [NCS_EV_MAXIMUM_VOLTAGE] = SIG("EV_Maximum_Voltage", 16, 16, false, 0.1, 0, "Volts", 1),
        [NCS_EV_MAXIMUM_CURRENT] = SIG("EV_Maximum_Current", 32, 16, false, 0.1, 0, "Amps", 1),
        [NCS_BATTERY_CAPACITY] = SIG_RANGE("Battery_Capacity", 48, 8, 2, 0, "kWh", 0, 0, 510),
        [NCS_STATE_OF_CHARGE] = SIG_RANGE("State_of_Charge", 56, 8, 1, 0, "%", 0, 0, 100),
};

static const struct codec_signal_info insulation_test_signals[] = {
        [INS_TEST_VOLTAGE] = SIG("Test_Voltage", 0, 16, false, 0.1, 0, "Volts", 1),
};

static const struct codec_signal_info precharge_signals[] = {
        [PRE_TARGET_VOLTAGE] = SIG("Target_Voltage", 0, 16, false, 0.1, 0, "Volts", 1),
        [PRE_MAXIMUM_CURRENT] = SIG("Maximum_Current", 16, 16, false, 0.1, 0, "Amps", 1),
};

static const struct codec_signal_info charge_status_change_signals[] = {
        [CSC_VEHICLE_READY_FOR_CHARGING] =
                SIG_ENUM("Vehicle_Ready_for_Charging", 0, 8, vehicle_ready_labels),
};

static const struct codec_signal_info charging_loop_signals[] = {
        [CL_TARGET_VOLTAGE] = SIG("Target_Voltage", 0, 16, false, 0.1, 0, "Volts", 1),
        /* Declared signed; what a negative request means is the session's call (E.1). */
        [CL_TARGET_CURRENT] = SIG("Target_Current", 16, 16, true, 0.1, 0, "Amps", 1),
        [CL_STATE_OF_CHARGE] = SIG_RANGE("State_of_Charge", 32, 8, 1, 0, "%", 0, 0, 100),
};

static const struct codec_signal_info emergency_stop_signals[] = {
        [ESTOP_ORIGIN] = SIG_ENUM("Origin", 0, 8, estop_origin_labels),
};

static const struct codec_signal_info charge_session_finished_signals[] = {
        [CSF_STATE] = SIG_ENUM("State", 0, 8, session_finished_labels),
};

static const struct codec_signal_info advantics_controller_status_signals[] = {
        [ACS_STATE] = SIG_ENUM("State", 0, 8, controller_state_labels),
};

static const struct codec_signal_info adm_co_cui1_inputs_signals[] = {
        [CUI1_SWITCH0] = SIG_BIT("SWITCH0", 0),
        [CUI1_SWITCH1] = SIG_BIT("SWITCH1", 1),
        [CUI1_SWITCH2] = SIG_BIT("SWITCH2", 2),
        [CUI1_SWITCH3] = SIG_BIT("SWITCH3", 3),
        [CUI1_SWITCH4] = SIG_BIT("SWITCH4", 4),
        [CUI1_SWITCH5] = SIG_BIT("SWITCH5", 5),
        [CUI1_RESERVED] = SIG_RESERVED(6, 26),
        [CUI1_COLIBRI_TEMPERATURE] = SIG_TEMPERATURE("Colibri_Temperature", 32),
        [CUI1_CPU_TEMPERATURE] = SIG_TEMPERATURE("CPU_Temperature", 40),
        [CUI1_PISTOL_PTC1] = SIG_TEMPERATURE("Pistol_PTC1", 48),
        [CUI1_PISTOL_PTC2] = SIG_TEMPERATURE("Pistol_PTC2", 56),
};

static const struct codec_signal_info adm_cs_secc_inputs_signals[] = {
        [SECCI_DIGITAL_INPUT1] = SIG_BIT("Digital_Input1", 0),
        [SECCI_DIGITAL_INPUT2] = SIG_BIT("Digital_Input2", 1),
        [SECCI_DIGITAL_INPUT3] = SIG_BIT("Digital_Input3", 2),
        [SECCI_DIGITAL_INPUT4] = SIG_BIT("Digital_Input4", 3),
        [SECCI_RESERVED] = SIG_RESERVED(4, 36),
        [SECCI_CPU_TEMPERATURE] = SIG_TEMPERATURE("CPU_Temperature", 40),
        [SECCI_PISTOL_PTC1] = SIG_TEMPERATURE("Pistol_PTC1", 48),
        [SECCI_PISTOL_PTC2] = SIG_TEMPERATURE("Pistol_PTC2", 56),
};

static const struct codec_signal_info ev_id_ccs_part2_din_signals[] = {
        [EVID_BYTE0] = SIG("Byte0", 0, 8, false, 1, 0, "", 0),
        [EVID_BYTE1] = SIG("Byte1", 8, 8, false, 1, 0, "", 0),
        [EVID_BYTE2] = SIG("Byte2", 16, 8, false, 1, 0, "", 0),
        [EVID_BYTE3] = SIG("Byte3", 24, 8, false, 1, 0, "", 0),
        [EVID_BYTE4] = SIG("Byte4", 32, 8, false, 1, 0, "", 0),
        [EVID_BYTE5] = SIG("Byte5", 40, 8, false, 1, 0, "", 0),
};

/* Bits 40-47 are undeclared (E.22). */
static const struct codec_signal_info adm_cs_spcc_inputs_signals[] = {
        [SPCCI_DIGITAL_INPUT1] = SIG_BIT("Digital_Input1", 0),
        [SPCCI_DIGITAL_INPUT2] = SIG_BIT("Digital_Input2", 1),
        [SPCCI_DIGITAL_INPUT3] = SIG_BIT("Digital_Input3", 2),
        [SPCCI_DIGITAL_INPUT4] = SIG_BIT("Digital_Input4", 3),
        [SPCCI_RESERVED] = SIG_RESERVED(4, 4),
        [SPCCI_CPU_TEMPERATURE0] = SIG_TEMPERATURE("CPU_Temperature0", 8),
        [SPCCI_CPU_TEMPERATURE1] = SIG_TEMPERATURE("CPU_Temperature1", 16),
        [SPCCI_PT1K_A] = SIG_TEMPERATURE("PT1K_A", 24),
        [SPCCI_PT1K_B] = SIG_TEMPERATURE("PT1K_B", 32),
        [SPCCI_PT1KS_C] = SIG_TEMPERATURE("PT1KS_C", 48),
        [SPCCI_PT1KS_D] = SIG_TEMPERATURE("PT1KS_D", 56),
};

static const struct codec_signal_info ccs_extra_information_signals[] = {
        [CCSX_CP_STATE] = SIG_ENUM("CP_State", 0, 8, cp_state_labels),
        [CCSX_CP_DUTY_CYCLE] = SIG_RANGE("CP_Duty_Cycle", 8, 16, 0.1, 0, "%", 1, 0, 100),
        [CCSX_RESERVED] = SIG_RESERVED(24, 40),
};

static const struct codec_signal_info mcs_extra_information_signals[] = {
        [MCSX_CE_STATE] = SIG_ENUM("CE_State", 0, 8, ce_state_labels),
        [MCSX_ID_STATE] = SIG_ENUM("ID_State", 8, 8, id_state_labels),
        [MCSX_RESERVED] = SIG_RESERVED(16, 48),
};

/* ---- v3.6 only ---- */

/* v3 successor of Power_Modules_Limits (V4); the currents are unsigned,
 * Range_Target_Current is signed (sign = direction). */
static const struct codec_signal_info dc_power_parameters_signals[] = {
        [DCPP_MAXIMUM_VOLTAGE] = SIG("Maximum_Voltage", 0, 16, false, 0.1, 0, "Volts", 1),
        [DCPP_MAXIMUM_CHARGE_CURRENT] = SIG("Maximum_Charge_Current", 16, 16, false, 0.1, 0, "Amps", 1),
        [DCPP_MAXIMUM_DISCHARGE_CURRENT] =
                SIG("Maximum_Discharge_Current", 32, 16, false, 0.1, 0, "Amps", 1),
        [DCPP_RANGE_TARGET_CURRENT] = SIG("Range_Target_Current", 48, 16, true, 0.1, 0, "Amps", 1),
};

/* Only protocol and plug since v3.1: the EV data moved to EV_Information_*. */
static const struct codec_signal_info new_charge_session_v3_signals[] = {
        [NCS3_COMMUNICATION_PROTOCOL] =
                SIG_ENUM("Communication_Protocol", 0, 8, communication_protocol_labels),
        [NCS3_PLUG_AND_PINS] = SIG_ENUM("Plug_and_pins", 8, 8, plug_and_pins_labels),
};

/* Byte 6: Power_Function 48..51, Reserved 52, Setpoints_Mode 53,
 * Output_Contactors 54, Lower_Output_Voltage 55 (part D.2). */
static const struct codec_signal_info dc_power_control_signals[] = {
        [DCPC_TARGET_VOLTAGE] = SIG("Target_Voltage", 0, 16, false, 0.1, 0, "Volts", 1),
        [DCPC_CURRENT_RANGE_MAX] = SIG("Current_Range_Max", 16, 16, true, 0.1, 0, "Amps", 1),
        [DCPC_CURRENT_RANGE_MIN] = SIG("Current_Range_Min", 32, 16, true, 0.1, 0, "Amps", 1),
        [DCPC_POWER_FUNCTION] = SIG_ENUM("Power_Function", 48, 4, power_function_labels),
        [DCPC_RESERVED] = SIG_RESERVED(52, 1),
        [DCPC_SETPOINTS_MODE] = SIG_ENUM("Setpoints_Mode", 53, 1, setpoints_mode_labels),
        [DCPC_OUTPUT_CONTACTORS] = SIG_ENUM("Output_Contactors", 54, 1, output_contactors_labels),
        [DCPC_LOWER_OUTPUT_VOLTAGE] =
                SIG_ENUM("Lower_Output_Voltage", 55, 1, lower_output_voltage_labels),
};

/* Capacity 1 kWh per bit, where v2 had 2 kWh (E.26). */
static const struct codec_signal_info ev_information_battery_signals[] = {
        [EVB_BATTERY_CAPACITY] = SIG("Battery_Capacity", 0, 16, false, 1, 0, "kWh", 0),
        [EVB_PRESENT_STATE_OF_CHARGE] =
                SIG_RANGE("Present_State_of_Charge", 16, 8, 1, 0, "%", 0, 0, 100),
        [EVB_MINIMUM_STATE_OF_CHARGE] =
                SIG_RANGE("Minimum_State_of_Charge", 24, 8, 1, 0, "%", 0, 0, 100),
        [EVB_TARGET_STATE_OF_CHARGE] =
                SIG_RANGE("Target_State_of_Charge", 32, 8, 1, 0, "%", 0, 0, 100),
        [EVB_MAXIMUM_STATE_OF_CHARGE] =
                SIG_RANGE("Maximum_State_of_Charge", 40, 8, 1, 0, "%", 0, 0, 100),
};

static const struct codec_signal_info ev_information_voltages_signals[] = {
        [EVV_MINIMUM_VOLTAGE] = SIG("EV_Minimum_Voltage", 0, 16, false, 0.1, 0, "Volts", 1),
        [EVV_MAXIMUM_VOLTAGE] = SIG("EV_Maximum_Voltage", 16, 16, false, 0.1, 0, "Volts", 1),
        [EVV_PRESENT_VOLTAGE] = SIG("EV_Present_Voltage", 32, 16, false, 0.1, 0, "Volts", 1),
};

static const struct codec_signal_info ev_information_charge_limits_signals[] = {
        [EVL_MINIMUM_CURRENT] = SIG("EV_Minimum_Charge_Current", 0, 16, false, 0.1, 0, "Amps", 1),
        [EVL_MAXIMUM_CURRENT] = SIG("EV_Maximum_Charge_Current", 16, 16, false, 0.1, 0, "Amps", 1),
        [EVL_MINIMUM_POWER] = SIG("EV_Minimum_Charge_Power", 32, 16, false, 1, 0, "kW", 0),
        [EVL_MAXIMUM_POWER] = SIG("EV_Maximum_Charge_Power", 48, 16, false, 1, 0, "kW", 0),
};

/* Magnitudes: unsigned like the charge limits. */
static const struct codec_signal_info ev_information_discharge_limits_signals[] = {
        [EVL_MINIMUM_CURRENT] = SIG("EV_Minimum_Discharge_Current", 0, 16, false, 0.1, 0, "Amps", 1),
        [EVL_MAXIMUM_CURRENT] = SIG("EV_Maximum_Discharge_Current", 16, 16, false, 0.1, 0, "Amps", 1),
        [EVL_MINIMUM_POWER] = SIG("EV_Minimum_Discharge_Power", 32, 16, false, 1, 0, "kW", 0),
        [EVL_MAXIMUM_POWER] = SIG("EV_Maximum_Discharge_Power", 48, 16, false, 1, 0, "kW", 0),
};

/* Signed: positive = the EV will absorb, negative = it will deliver. */
static const struct codec_signal_info ev_information_energy_signals[] = {
        [EVE_MINIMUM_ENERGY_REQUEST] = SIG("EV_Minimum_Energy_Request", 0, 16, true, 1, 0, "kWh", 0),
        [EVE_TARGET_ENERGY_REQUEST] = SIG("EV_Target_Energy_Request", 16, 16, true, 1, 0, "kWh", 0),
        [EVE_MAXIMUM_ENERGY_REQUEST] = SIG("EV_Maximum_Energy_Request", 32, 16, true, 1, 0, "kWh", 0),
};

static const struct codec_signal_info ocpp_control_signals[] = {
        [OCPP_DYNAMIC_TARGET_CURRENT] = SIG("Dynamic_Target_Current", 0, 16, true, 0.1, 0, "Amps", 1),
};

/* ---- the databases; base IDs carry pistol index 0 ---- */

/* v2.7, in the order of its KCD (which is also the order of the types). */
static const struct codec_msg_info v2_7_messages[] = {
        MSG(CODEC_POWER_MODULES_STATUS, "Power_Modules_Status",
            0x60010, 8, CODEC_DIR_IN, 100, power_modules_status_signals),
        MSG(CODEC_POWER_MODULES_LIMITS, "Power_Modules_Limits",
            0x60011, 8, CODEC_DIR_IN, 0, power_modules_limits_signals),
        MSG(CODEC_SEQUENCE_CONTROL, "Sequence_Control",
            0x60012, 3, CODEC_DIR_IN, 0, sequence_control_signals),
        MSG(CODEC_ADM_CS_SECC_OUTPUTS, "ADM_CS_SECC_Outputs",
            0x60013, 8, CODEC_DIR_IN, 1000, adm_cs_secc_outputs_signals),
        MSG(CODEC_ADM_CS_SPCC_OUTPUTS, "ADM_CS_SPCC_Outputs",
            0x60014, 8, CODEC_DIR_IN, 1000, adm_cs_spcc_outputs_signals),
        MSG(CODEC_NEW_CHARGE_SESSION, "New_Charge_Session",
            0x68001, 8, CODEC_DIR_OUT, 100, new_charge_session_signals),
        MSG(CODEC_INSULATION_TEST, "Insulation_Test",
            0x68002, 2, CODEC_DIR_OUT, 100, insulation_test_signals),
        MSG(CODEC_PRECHARGE, "Precharge",
            0x68003, 4, CODEC_DIR_OUT, 100, precharge_signals),
        MSG(CODEC_CHARGE_STATUS_CHANGE, "Charge_Status_Change",
            0x68004, 1, CODEC_DIR_OUT, 0, charge_status_change_signals),
        MSG(CODEC_CHARGING_LOOP, "Charging_Loop",
            0x68005, 5, CODEC_DIR_OUT, 100, charging_loop_signals),
        MSG(CODEC_EMERGENCY_STOP, "Emergency_Stop",
            0x68006, 1, CODEC_DIR_OUT, 100, emergency_stop_signals),
        MSG(CODEC_CHARGE_SESSION_FINISHED, "Charge_Session_Finished",
            0x68007, 1, CODEC_DIR_OUT, 0, charge_session_finished_signals),
        MSG(CODEC_ADVANTICS_CONTROLLER_STATUS, "Advantics_Controller_Status",
            0x68009, 1, CODEC_DIR_OUT, 100, advantics_controller_status_signals),
        MSG(CODEC_ADM_CO_CUI1_INPUTS, "ADM_CO_CUI1_Inputs",
            0x6800A, 8, CODEC_DIR_OUT, 1000, adm_co_cui1_inputs_signals),
        MSG(CODEC_ADM_CS_SECC_INPUTS, "ADM_CS_SECC_Inputs",
            0x6800B, 8, CODEC_DIR_OUT, 1000, adm_cs_secc_inputs_signals),
        MSG(CODEC_EV_ID_CCS_PART2_DIN, "EV_ID_CCS_Part2_DIN",
            0x6800C, 6, CODEC_DIR_OUT, 1000, ev_id_ccs_part2_din_signals),
        MSG(CODEC_ADM_CS_SPCC_INPUTS, "ADM_CS_SPCC_Inputs",
            0x6800D, 8, CODEC_DIR_OUT, 1000, adm_cs_spcc_inputs_signals),
        MSG(CODEC_CCS_EXTRA_INFORMATION, "CCS_Extra_Information",
            0x6800E, 8, CODEC_DIR_OUT, 100, ccs_extra_information_signals),
        MSG(CODEC_MCS_EXTRA_INFORMATION, "MCS_Extra_Information",
            0x6800F, 8, CODEC_DIR_OUT, 100, mcs_extra_information_signals),
};

/* v3.6, in the order of its KCD: the controller's messages first.  The
 * IDs follow the scheme of part B (0x06 module type, bit 15 direction,
 * version 3 in bits 14..12, group, number). */
static const struct codec_msg_info v3_6_messages[] = {
        MSG(CODEC_ADVANTICS_CONTROLLER_STATUS, "Advantics_Controller_Status",
            0x6B000, 1, CODEC_DIR_OUT, 100, advantics_controller_status_signals),
        MSG(CODEC_NEW_CHARGE_SESSION_V3, "New_Charge_Session",
            0x6B001, 2, CODEC_DIR_OUT, 100, new_charge_session_v3_signals),
        MSG(CODEC_CHARGE_STATUS_CHANGE, "Charge_Status_Change",
            0x6B002, 1, CODEC_DIR_OUT, 0, charge_status_change_signals),
        MSG(CODEC_DC_POWER_CONTROL, "DC_Power_Control",
            0x6B003, 7, CODEC_DIR_OUT, 100, dc_power_control_signals),
        MSG(CODEC_CHARGE_SESSION_FINISHED, "Charge_Session_Finished",
            0x6B004, 1, CODEC_DIR_OUT, 0, charge_session_finished_signals),
        MSG(CODEC_EMERGENCY_STOP, "Emergency_Stop",
            0x6B005, 1, CODEC_DIR_OUT, 100, emergency_stop_signals),
        MSG(CODEC_EV_INFORMATION_BATTERY, "EV_Information_Battery",
            0x6B100, 6, CODEC_DIR_OUT, 0, ev_information_battery_signals),
        MSG(CODEC_EV_INFORMATION_VOLTAGES, "EV_Information_Voltages",
            0x6B101, 6, CODEC_DIR_OUT, 0, ev_information_voltages_signals),
        MSG(CODEC_EV_INFORMATION_CHARGE_LIMITS, "EV_Information_Charge_Limits",
            0x6B102, 8, CODEC_DIR_OUT, 0, ev_information_charge_limits_signals),
        MSG(CODEC_EV_INFORMATION_DISCHARGE_LIMITS, "EV_Information_Discharge_Limits",
            0x6B103, 8, CODEC_DIR_OUT, 0, ev_information_discharge_limits_signals),
        MSG(CODEC_EV_INFORMATION_ENERGY, "EV_Information_Energy",
            0x6B104, 6, CODEC_DIR_OUT, 0, ev_information_energy_signals),
        MSG(CODEC_EV_ID_CCS_PART2_DIN, "EV_ID_CCS_Part2_DIN",
            0x6B105, 6, CODEC_DIR_OUT, 1000, ev_id_ccs_part2_din_signals),
        MSG(CODEC_ADM_CO_CUI1_INPUTS, "ADM_CO_CUI1_Inputs",
            0x6B200, 8, CODEC_DIR_OUT, 1000, adm_co_cui1_inputs_signals),
        MSG(CODEC_ADM_CS_SECC_INPUTS, "ADM_CS_SECC_Inputs",
            0x6B201, 8, CODEC_DIR_OUT, 1000, adm_cs_secc_inputs_signals),
        MSG(CODEC_ADM_CS_SPCC_INPUTS, "ADM_CS_SPCC_Inputs",
            0x6B202, 8, CODEC_DIR_OUT, 1000, adm_cs_spcc_inputs_signals),
        MSG(CODEC_CCS_EXTRA_INFORMATION, "CCS_Extra_Information",
            0x6B203, 8, CODEC_DIR_OUT, 100, ccs_extra_information_signals),
        MSG(CODEC_MCS_EXTRA_INFORMATION, "MCS_Extra_Information",
            0x6B204, 8, CODEC_DIR_OUT, 100, mcs_extra_information_signals),
        /* E.20: sent by the controller (bit 15 set), whatever v3.2 said. */
        MSG(CODEC_OCPP_CONTROL, "OCPP_Control",
            0x6B300, 2, CODEC_DIR_OUT, 0, ocpp_control_signals),
        MSG(CODEC_POWER_MODULES_STATUS, "Power_Modules_Status",
            0x63000, 8, CODEC_DIR_IN, 100, power_modules_status_signals),
        MSG(CODEC_DC_POWER_PARAMETERS, "DC_Power_Parameters",
            0x63001, 8, CODEC_DIR_IN, 0, dc_power_parameters_signals),
        MSG(CODEC_SEQUENCE_CONTROL, "Sequence_Control",
            0x63002, 3, CODEC_DIR_IN, 0, sequence_control_signals),
        MSG(CODEC_ADM_CS_SECC_OUTPUTS, "ADM_CS_SECC_Outputs",
            0x63201, 8, CODEC_DIR_IN, 1000, adm_cs_secc_outputs_signals),
        MSG(CODEC_ADM_CS_SPCC_OUTPUTS, "ADM_CS_SPCC_Outputs",
            0x63202, 8, CODEC_DIR_IN, 1000, adm_cs_spcc_outputs_signals),
};

const struct codec_db codec_db_v2_7 = {
        .name = "v2.7",
        .interface_version = 2,
        .messages = v2_7_messages,
        .n_messages = N_ELEMENTS(v2_7_messages),
};

const struct codec_db codec_db_v3_6 = {
        .name = "v3.6",
        .interface_version = 3,
        .messages = v3_6_messages,
        .n_messages = N_ELEMENTS(v3_6_messages),
};

/* The index enums of codec_table.h must cover each table exactly. */
_Static_assert(N_ELEMENTS(power_modules_status_signals) == PMS_COUNT, "PMS");
_Static_assert(N_ELEMENTS(power_modules_limits_signals) == PML_COUNT, "PML");
_Static_assert(N_ELEMENTS(sequence_control_signals) == SEQ_COUNT, "SEQ");
_Static_assert(N_ELEMENTS(adm_cs_secc_outputs_signals) == SECCO_COUNT, "SECCO");
_Static_assert(N_ELEMENTS(adm_cs_spcc_outputs_signals) == SPCCO_COUNT, "SPCCO");
_Static_assert(N_ELEMENTS(new_charge_session_signals) == NCS_COUNT, "NCS");
_Static_assert(N_ELEMENTS(insulation_test_signals) == INS_COUNT, "INS");
_Static_assert(N_ELEMENTS(precharge_signals) == PRE_COUNT, "PRE");
_Static_assert(N_ELEMENTS(charge_status_change_signals) == CSC_COUNT, "CSC");
_Static_assert(N_ELEMENTS(charging_loop_signals) == CL_COUNT, "CL");
_Static_assert(N_ELEMENTS(emergency_stop_signals) == ESTOP_COUNT, "ESTOP");
_Static_assert(N_ELEMENTS(charge_session_finished_signals) == CSF_COUNT, "CSF");
_Static_assert(N_ELEMENTS(advantics_controller_status_signals) == ACS_COUNT, "ACS");
_Static_assert(N_ELEMENTS(adm_co_cui1_inputs_signals) == CUI1_COUNT, "CUI1");
_Static_assert(N_ELEMENTS(adm_cs_secc_inputs_signals) == SECCI_COUNT, "SECCI");
_Static_assert(N_ELEMENTS(ev_id_ccs_part2_din_signals) == EVID_COUNT, "EVID");
_Static_assert(N_ELEMENTS(adm_cs_spcc_inputs_signals) == SPCCI_COUNT, "SPCCI");
_Static_assert(N_ELEMENTS(ccs_extra_information_signals) == CCSX_COUNT, "CCSX");
_Static_assert(N_ELEMENTS(mcs_extra_information_signals) == MCSX_COUNT, "MCSX");
_Static_assert(N_ELEMENTS(dc_power_parameters_signals) == DCPP_COUNT, "DCPP");
_Static_assert(N_ELEMENTS(new_charge_session_v3_signals) == NCS3_COUNT, "NCS3");
_Static_assert(N_ELEMENTS(dc_power_control_signals) == DCPC_COUNT, "DCPC");
_Static_assert(N_ELEMENTS(ev_information_battery_signals) == EVB_COUNT, "EVB");
_Static_assert(N_ELEMENTS(ev_information_voltages_signals) == EVV_COUNT, "EVV");
_Static_assert(N_ELEMENTS(ev_information_charge_limits_signals) == EVL_COUNT, "EVL charge");
_Static_assert(N_ELEMENTS(ev_information_discharge_limits_signals) == EVL_COUNT, "EVL discharge");
_Static_assert(N_ELEMENTS(ev_information_energy_signals) == EVE_COUNT, "EVE");
_Static_assert(N_ELEMENTS(ocpp_control_signals) == OCPP_COUNT, "OCPP");
_Static_assert(N_ELEMENTS(v2_7_messages) == 19, "v2.7 has 19 messages");
_Static_assert(N_ELEMENTS(v3_6_messages) == 23, "v3.6 has 23 messages");
_Static_assert(CUI1_COUNT <= CODEC_MAX_SIGNALS && SPCCI_COUNT <= CODEC_MAX_SIGNALS,
               "CODEC_MAX_SIGNALS too small");

const struct codec_db *codec_db_for_version(unsigned interface_version)
{
        switch (interface_version) {
        case 2:
                return &codec_db_v2_7;
        case 3:
                return &codec_db_v3_6;
        default:
                return NULL;
        }
}

/* A linear search: at most 23 entries, and a database is data only. */
const struct codec_msg_info *codec_msg_info(const struct codec_db *db, enum codec_msg_type type)
{
        if (!db)
                return NULL;
        for (size_t i = 0; i < db->n_messages; i++)
                if (db->messages[i].type == type)
                        return &db->messages[i];
        return NULL;
}

const struct codec_msg_info *codec_msg_info_by_name(const struct codec_db *db, const char *name)
{
        if (!db || !name)
                return NULL;
        for (size_t i = 0; i < db->n_messages; i++)
                if (strcmp(db->messages[i].name, name) == 0)
                        return &db->messages[i];
        return NULL;
}

const struct codec_msg_info *codec_msg_info_by_id(const struct codec_db *db, uint32_t id)
{
        uint32_t base = id & CODEC_ID_BASE_MASK;

        if (!db)
                return NULL;
        for (size_t i = 0; i < db->n_messages; i++)
                if (db->messages[i].base_id == base)
                        return &db->messages[i];
        return NULL;
}

const struct codec_signal_info *codec_signal_by_name(const struct codec_msg_info *msg,
                                                     const char *name)
{
        if (!msg || !name)
                return NULL;
        for (size_t i = 0; i < msg->n_signals; i++)
                if (strcmp(msg->signals[i].name, name) == 0)
                        return &msg->signals[i];
        return NULL;
}
