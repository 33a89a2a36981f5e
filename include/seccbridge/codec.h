/* SPDX-License-Identifier: MIT */
/*
 * Codec for the ADVANTICS Generic EVSE CAN interface: version 2 (message set
 * of database v2.7, 19 messages) and version 3 (database v3.6, 23 messages),
 * side by side as data.  Every call names its database (struct codec_db).
 * All frames are 29-bit extended, Intel byte order; the pistol index (1..31)
 * sits in ID bits 28..24.
 *
 * One typed message enum covers both databases: a message whose payload is
 * the same in both (Power_Modules_Status, Sequence_Control, the ADM I/O,
 * ...) is one type with one signal table, only its identifier depends on
 * the database; v2-only messages (Charging_Loop, ...) and v3-only ones
 * (DC_Power_Control, ...) exist in one database, and New_Charge_Session,
 * whose payload changed, is two types.
 *
 * Two layers over one signal table per message:
 *  - a descriptive layer (codec_msg_info / codec_signal_info) with names,
 *    units, scales and value tables, used by the tools;
 *  - a typed layer (struct codec_message) used by the session, with values in
 *    fixed-point physical units (0.1 V, 0.1 A, degC, kOhm, ...).
 *
 * Return codes: 0 on success, -ENOMSG for a frame that is not ours (standard
 * 11-bit ID, another pistol, an ID not in the database), -EBADMSG for a frame
 * of ours that is shorter than its message's length (malformed, dropped),
 * -EINVAL for a bad argument.  Out-parameters are written only on success.
 */
#ifndef SECCBRIDGE_CODEC_H
#define SECCBRIDGE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CODEC_PISTOL_MIN 1
#define CODEC_PISTOL_MAX 31
#define CODEC_ID_PISTOL_SHIFT 24
#define CODEC_ID_PISTOL_MASK 0x1F000000u
#define CODEC_ID_BASE_MASK 0x00FFFFFFu
#define CODEC_ID_EXT_MASK 0x1FFFFFFFu
#define CODEC_MAX_DLC 8
#define CODEC_MAX_SIGNALS 16    /* most signals in one message, Reserved included */

/* A classic CAN frame, independent of any socket header. */
struct codec_frame {
        uint32_t id;            /* 29-bit (extended) or 11-bit identifier, no flags */
        bool extended;          /* 29-bit identifier */
        uint8_t len;            /* 0..8 */
        uint8_t data[CODEC_MAX_DLC];
};

enum codec_msg_type {
        /* IN: power side -> controller */
        CODEC_POWER_MODULES_STATUS,
        CODEC_POWER_MODULES_LIMITS,
        CODEC_SEQUENCE_CONTROL,
        CODEC_ADM_CS_SECC_OUTPUTS,
        CODEC_ADM_CS_SPCC_OUTPUTS,
        /* OUT: controller -> power side */
        CODEC_NEW_CHARGE_SESSION,
        CODEC_INSULATION_TEST,
        CODEC_PRECHARGE,
        CODEC_CHARGE_STATUS_CHANGE,
        CODEC_CHARGING_LOOP,
        CODEC_EMERGENCY_STOP,
        CODEC_CHARGE_SESSION_FINISHED,
        CODEC_ADVANTICS_CONTROLLER_STATUS,
        CODEC_ADM_CO_CUI1_INPUTS,
        CODEC_ADM_CS_SECC_INPUTS,
        CODEC_EV_ID_CCS_PART2_DIN,
        CODEC_ADM_CS_SPCC_INPUTS,
        CODEC_CCS_EXTRA_INFORMATION,
        CODEC_MCS_EXTRA_INFORMATION,
        /* v3.6 only.  IN: */
        CODEC_DC_POWER_PARAMETERS,
        /* OUT: */
        CODEC_NEW_CHARGE_SESSION_V3,            /* New_Charge_Session of v3.6 (DLC 2) */
        CODEC_DC_POWER_CONTROL,
        CODEC_EV_INFORMATION_BATTERY,
        CODEC_EV_INFORMATION_VOLTAGES,
        CODEC_EV_INFORMATION_CHARGE_LIMITS,
        CODEC_EV_INFORMATION_DISCHARGE_LIMITS,
        CODEC_EV_INFORMATION_ENERGY,
        CODEC_OCPP_CONTROL,
        CODEC_MSG_COUNT
};

enum codec_dir {
        CODEC_DIR_IN,   /* produced by the power side (Generic_Power_Modules) */
        CODEC_DIR_OUT,  /* produced by the controller */
};

/* Advantics_Controller_Status.State value table. Wire values outside it can
 * occur and are kept as numbers. */
enum codec_controller_state {
        CODEC_STATE_INITIALISING = 0,
        CODEC_STATE_WAITING_FOR_PEV = 1,
        CODEC_STATE_NEGOTIATING_CONNECTION = 2,
        CODEC_STATE_CONNECTED_WITH_FULL_INFO = 3,
        CODEC_STATE_INSULATION_TEST = 4,
        CODEC_STATE_PRECHARGE = 5,
        CODEC_STATE_WAITING_FOR_CHARGE = 6,
        CODEC_STATE_CHARGING = 7,
        CODEC_STATE_ENDING_CHARGE = 8,
        CODEC_STATE_WELDING_DETECTION = 9,
        CODEC_STATE_CLOSING_COMMUNICATION = 10,
        CODEC_STATE_CCS_AUTHORISATION_PROCESS = 11,
        CODEC_STATE_NOT_AVAILABLE = 12,
        CODEC_STATE_CHARGE_PAUSE = 13,
};

enum codec_system_enable {
        CODEC_SYSTEM_ENABLE_NOT_ALLOWED = 0,
        CODEC_SYSTEM_ENABLE_ALLOWED = 1,
};

enum codec_communication_protocol {
        CODEC_PROTOCOL_CCS_DIN_70121_2012_V2 = 0,
        CODEC_PROTOCOL_CCS_ISO_15118_2010_V1 = 1,
        CODEC_PROTOCOL_CCS_ISO_15118_2013_V2 = 2,
        CODEC_PROTOCOL_CHADEMO_V0_9 = 3,
        CODEC_PROTOCOL_CHADEMO_V1_0_V1_1_V1_2 = 4,
        CODEC_PROTOCOL_CHADEMO_V2_0 = 5,
        CODEC_PROTOCOL_CCS_PWM = 6,
        CODEC_PROTOCOL_CCS_ISO_15118_2022 = 7,
};

enum codec_plug_and_pins {
        CODEC_PLUG_CCS_DC_CORE = 0,
        CODEC_PLUG_CCS_DC_EXTENDED = 1,
        CODEC_PLUG_CHADEMO = 2,
        CODEC_PLUG_CCS_AC = 3,
        CODEC_PLUG_MCS = 4,
};

enum codec_vehicle_ready {
        CODEC_CHARGE_STOPPED = 0,
        CODEC_CHARGE_STARTED = 1,
};

enum codec_estop_origin {
        CODEC_ESTOP_ORIGIN_EVSE = 1,
        CODEC_ESTOP_ORIGIN_PEV = 3,
};

enum codec_session_finished_state {
        CODEC_FINISHED_CLEAN_STOP = 0,
        CODEC_FINISHED_RUSHED_STOP = 1,
};

/* DC_Power_Control.Power_Function (v3): an enumeration, not a bit mask
 * (E.27); 3, 5..7 and 9..15 are undefined. */
enum codec_power_function {
        CODEC_POWER_FUNCTION_OFF = 0,
        CODEC_POWER_FUNCTION_STANDBY = 1,
        CODEC_POWER_FUNCTION_INSULATION_TEST = 2,
        CODEC_POWER_FUNCTION_PRECHARGE = 4,
        CODEC_POWER_FUNCTION_POWER_TRANSFER = 8,
};

enum codec_setpoints_mode {
        CODEC_SETPOINTS_TARGET_MODE = 0,
        CODEC_SETPOINTS_RANGE_MODE = 1,
};

/* ---- typed messages (values in fixed-point physical units) ---- */

struct codec_power_modules_status {
        uint16_t present_voltage_dv;
        int16_t present_current_da;
        int16_t power_modules_temperature_c;   /* -40..215 */
        int16_t enclosure_temperature_c;       /* -40..215 */
        uint8_t system_enable;                 /* enum codec_system_enable */
        uint16_t insulation_resistance_kohm;   /* 0..510, 2 kOhm per bit */
};

struct codec_power_modules_limits {
        uint16_t maximum_voltage_dv;            /* 0 = controller config default */
        int16_t maximum_current_da;             /* 0 = controller config default */
};

struct codec_sequence_control {
        bool start_charge_authorisation;
        bool chademo_start_button;
        bool ccs_authorisation_done;
        bool ccs_authorisation_valid;
        bool charge_parameters_done;
        bool user_stop_button;
};

struct codec_adm_cs_secc_outputs {
        bool digital_output[4];
        uint8_t led[3];
};

struct codec_adm_cs_spcc_outputs {
        bool digital_output[2];
        uint8_t led[3];
};

struct codec_new_charge_session {
        uint8_t communication_protocol;         /* enum codec_communication_protocol */
        uint8_t plug_and_pins;                  /* enum codec_plug_and_pins */
        uint16_t ev_maximum_voltage_dv;
        uint16_t ev_maximum_current_da;
        uint16_t battery_capacity_kwh;          /* 0..510, 2 kWh per bit */
        uint8_t state_of_charge_pct;
};

struct codec_insulation_test {
        uint16_t test_voltage_dv;
};

struct codec_precharge {
        uint16_t target_voltage_dv;
        uint16_t maximum_current_da;
};

struct codec_charge_status_change {
        uint8_t vehicle_ready_for_charging;     /* enum codec_vehicle_ready */
};

struct codec_charging_loop {
        uint16_t target_voltage_dv;
        int16_t target_current_da;              /* declared signed (E.1) */
        uint8_t state_of_charge_pct;
};

struct codec_emergency_stop {
        uint8_t origin;                         /* enum codec_estop_origin */
};

struct codec_charge_session_finished {
        uint8_t state;                          /* enum codec_session_finished_state */
};

struct codec_advantics_controller_status {
        uint8_t state;                          /* enum codec_controller_state */
};

struct codec_adm_co_cui1_inputs {
        bool switch_input[6];                   /* SWITCH0..SWITCH5 */
        int16_t colibri_temperature_c;
        int16_t cpu_temperature_c;
        int16_t pistol_ptc1_c;
        int16_t pistol_ptc2_c;
};

struct codec_adm_cs_secc_inputs {
        bool digital_input[4];
        int16_t cpu_temperature_c;
        int16_t pistol_ptc1_c;
        int16_t pistol_ptc2_c;
};

struct codec_ev_id_ccs_part2_din {
        uint8_t byte[6];
};

struct codec_adm_cs_spcc_inputs {
        bool digital_input[4];
        int16_t cpu_temperature0_c;
        int16_t cpu_temperature1_c;
        int16_t pt1k_a_c;
        int16_t pt1k_b_c;
        int16_t pt1ks_c_c;
        int16_t pt1ks_d_c;
};

struct codec_ccs_extra_information {
        uint8_t cp_state;                       /* 0=E_or_F 3=D 6=C 9=B 12=A */
        uint16_t cp_duty_cycle_permille;        /* 0.1 % */
};

struct codec_mcs_extra_information {
        uint8_t ce_state;
        uint8_t id_state;
};

/* ---- v3.6 only ---- */

struct codec_dc_power_parameters {
        uint16_t maximum_voltage_dv;            /* 0 = controller config default */
        uint16_t maximum_charge_current_da;     /* 0 = controller config default */
        uint16_t maximum_discharge_current_da;  /* 0 = controller config default */
        int16_t range_target_current_da;        /* sign = direction */
};

struct codec_new_charge_session_v3 {
        uint8_t communication_protocol;         /* enum codec_communication_protocol */
        uint8_t plug_and_pins;                  /* enum codec_plug_and_pins */
};

struct codec_dc_power_control {
        uint16_t target_voltage_dv;
        int16_t current_range_max_da;           /* Target_Mode: the target; + = charge */
        int16_t current_range_min_da;           /* - = discharge */
        uint8_t power_function;                 /* enum codec_power_function, 4 bits */
        uint8_t setpoints_mode;                 /* enum codec_setpoints_mode */
        bool output_contactors;                 /* true = Close */
        bool lower_output_voltage;              /* true = Lowering */
};

struct codec_ev_information_battery {
        uint16_t battery_capacity_kwh;          /* 1 kWh per bit (E.26) */
        uint8_t present_state_of_charge_pct;
        uint8_t minimum_state_of_charge_pct;
        uint8_t target_state_of_charge_pct;
        uint8_t maximum_state_of_charge_pct;
};

struct codec_ev_information_voltages {
        uint16_t ev_minimum_voltage_dv;
        uint16_t ev_maximum_voltage_dv;
        uint16_t ev_present_voltage_dv;
};

struct codec_ev_information_charge_limits {
        uint16_t ev_minimum_charge_current_da;
        uint16_t ev_maximum_charge_current_da;
        uint16_t ev_minimum_charge_power_kw;
        uint16_t ev_maximum_charge_power_kw;
};

struct codec_ev_information_discharge_limits {
        uint16_t ev_minimum_discharge_current_da;       /* magnitudes */
        uint16_t ev_maximum_discharge_current_da;
        uint16_t ev_minimum_discharge_power_kw;
        uint16_t ev_maximum_discharge_power_kw;
};

struct codec_ev_information_energy {
        int16_t ev_minimum_energy_request_kwh;  /* + = the EV absorbs, - = it delivers */
        int16_t ev_target_energy_request_kwh;
        int16_t ev_maximum_energy_request_kwh;
};

struct codec_ocpp_control {
        int16_t dynamic_target_current_da;      /* sign = direction */
};

struct codec_message {
        enum codec_msg_type type;
        union {
                struct codec_power_modules_status power_modules_status;
                struct codec_power_modules_limits power_modules_limits;
                struct codec_sequence_control sequence_control;
                struct codec_adm_cs_secc_outputs adm_cs_secc_outputs;
                struct codec_adm_cs_spcc_outputs adm_cs_spcc_outputs;
                struct codec_new_charge_session new_charge_session;
                struct codec_insulation_test insulation_test;
                struct codec_precharge precharge;
                struct codec_charge_status_change charge_status_change;
                struct codec_charging_loop charging_loop;
                struct codec_emergency_stop emergency_stop;
                struct codec_charge_session_finished charge_session_finished;
                struct codec_advantics_controller_status advantics_controller_status;
                struct codec_adm_co_cui1_inputs adm_co_cui1_inputs;
                struct codec_adm_cs_secc_inputs adm_cs_secc_inputs;
                struct codec_ev_id_ccs_part2_din ev_id_ccs_part2_din;
                struct codec_adm_cs_spcc_inputs adm_cs_spcc_inputs;
                struct codec_ccs_extra_information ccs_extra_information;
                struct codec_mcs_extra_information mcs_extra_information;
                struct codec_dc_power_parameters dc_power_parameters;
                struct codec_new_charge_session_v3 new_charge_session_v3;
                struct codec_dc_power_control dc_power_control;
                struct codec_ev_information_battery ev_information_battery;
                struct codec_ev_information_voltages ev_information_voltages;
                struct codec_ev_information_charge_limits ev_information_charge_limits;
                struct codec_ev_information_discharge_limits ev_information_discharge_limits;
                struct codec_ev_information_energy ev_information_energy;
                struct codec_ocpp_control ocpp_control;
        } u;
};

struct codec_db;

/* Decode a frame of database `db` addressed to `pistol`.
 * 0: decoded into *out; -ENOMSG: not ours (standard ID, other pistol, an ID
 * not in `db`); -EBADMSG: one of our IDs but shorter than the message length;
 * bytes past the message length are ignored.  -EINVAL: no database, pistol
 * outside 1..31. */
int codec_decode(const struct codec_db *db, const struct codec_frame *frame, uint8_t pistol,
                 struct codec_message *out);

/* Encode `msg` for `pistol` with the identifier of database `db`.  Values
 * are clamped to each signal's raw range; reserved and undeclared bits are
 * always 0.  0, or -EINVAL (also for a type that is not in `db`). */
int codec_encode(const struct codec_db *db, const struct codec_message *msg, uint8_t pistol,
                 struct codec_frame *out);

/* On-bus 29-bit identifier of a message for a pistol (base | pistol << 24);
 * 0 for a type that is not in `db` or a pistol outside 1..31. */
uint32_t codec_frame_id(const struct codec_db *db, enum codec_msg_type type, uint8_t pistol);

/* ---- descriptive layer ---- */

struct codec_label {
        int64_t value;
        const char *name;
};

struct codec_signal_info {
        const char *name;
        uint8_t start;          /* Intel start bit (LSB), bit 0 = LSB of byte 0 */
        uint8_t length;         /* bits */
        bool is_signed;         /* two's complement */
        double scale;
        double offset;
        const char *unit;       /* "" when none */
        bool has_range;         /* min/max given by the database */
        double min;
        double max;
        uint8_t decimals;       /* digits after the point for printing */
        bool reserved;          /* a Reserved field: always encoded as 0 */
        const struct codec_label *labels;
        size_t n_labels;
};

struct codec_msg_info {
        enum codec_msg_type type;
        const char *name;
        uint32_t base_id;       /* database ID, pistol index 0 */
        uint8_t dlc;
        enum codec_dir dir;
        uint16_t period_ms;     /* 0 = event driven */
        const struct codec_signal_info *signals;
        size_t n_signals;
};

/* A database: its messages in the order of its KCD file. */
struct codec_db {
        const char *name;                       /* "v2.7", "v3.6" */
        uint8_t interface_version;              /* 2, 3 */
        const struct codec_msg_info *messages;
        size_t n_messages;
};

extern const struct codec_db codec_db_v2_7;
extern const struct codec_db codec_db_v3_6;

/* The database of an interface version (2 -> v2.7, 3 -> v3.6); NULL for
 * any other version. */
const struct codec_db *codec_db_for_version(unsigned interface_version);

/* NULL for a type that is not in `db` (or no db). */
const struct codec_msg_info *codec_msg_info(const struct codec_db *db, enum codec_msg_type type);
/* Case-sensitive lookup by database name; NULL when unknown. */
const struct codec_msg_info *codec_msg_info_by_name(const struct codec_db *db, const char *name);
/* Message whose base ID equals (id & CODEC_ID_BASE_MASK); NULL when unknown. */
const struct codec_msg_info *codec_msg_info_by_id(const struct codec_db *db, uint32_t id);
/* Signal by name within a message; NULL when unknown. */
const struct codec_signal_info *codec_signal_by_name(const struct codec_msg_info *msg,
                                                     const char *name);

/* Raw value of a signal from frame data (sign-extended when signed). */
int64_t codec_signal_get_raw(const uint8_t *data, const struct codec_signal_info *sig);
/* Write a raw value, clamped to the signal's raw range.  Only the signal's
 * own bits are touched; a reserved signal is always written as 0. */
void codec_signal_put_raw(uint8_t *data, const struct codec_signal_info *sig, int64_t raw);
/* Raw range of a signal. */
int64_t codec_signal_raw_min(const struct codec_signal_info *sig);
int64_t codec_signal_raw_max(const struct codec_signal_info *sig);
/* raw * scale + offset */
double codec_signal_to_phys(const struct codec_signal_info *sig, int64_t raw);
/* Physical value to raw (rounded to nearest).  -ERANGE when outside the raw
 * range or the database min/max, 0 otherwise. */
int codec_signal_from_phys(const struct codec_signal_info *sig, double phys, int64_t *raw);
/* Fixed-point physical value: physical x 10^decimals, exact (0.1 V signals
 * in dV, offset temperatures in degC, 2 kOhm/bit in kOhm): the unit of the
 * typed structs. */
int64_t codec_signal_to_fixed(const struct codec_signal_info *sig, int64_t raw);
/* Fixed-point value to raw (rounded to nearest, halves away from zero).
 * -ERANGE when outside the raw range or the database min/max, 0 otherwise. */
int codec_signal_from_fixed(const struct codec_signal_info *sig, int64_t fixed, int64_t *raw);
/* Allowed fixed-point range: the raw range intersected with the database
 * min/max. */
int64_t codec_signal_fixed_min(const struct codec_signal_info *sig);
int64_t codec_signal_fixed_max(const struct codec_signal_info *sig);
/* Label for a raw value, or NULL. */
const char *codec_signal_label(const struct codec_signal_info *sig, int64_t raw);
/* Raw value for a label: 0 or -ENOENT. */
int codec_signal_label_value(const struct codec_signal_info *sig, const char *label,
                             int64_t *raw);

/* Name of a controller state ("Charging"), or "Unknown" (the same table in
 * both databases). */
const char *codec_controller_state_name(uint8_t state);
/* Name of a DC_Power_Control.Power_Function ("Power_Transfer"), or NULL
 * for an undefined value (V25). */
const char *codec_power_function_name(uint8_t power_function);

#endif
