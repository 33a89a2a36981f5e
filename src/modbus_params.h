/* SPDX-License-Identifier: MIT */
/*
 * Settings of one Modbus device and its bus: the [modbus] section (the
 * converter, [converter] backend = modbus-rtu or modbus-tcp) and the
 * optional [insulation_monitor] section, which take the same keys.  Set key
 * by key from the config text, then validated as a whole; validation also
 * reads the device's profile (see modbus_profile.h), so a bad profile stops
 * the daemon at start like a bad config.
 *
 * Every key, its default and unit are documented in conf/seccbridge.conf.
 */
#ifndef SECCBRIDGE_MODBUS_PARAMS_H
#define SECCBRIDGE_MODBUS_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "modbus_profile.h"

/* Where profiles named without a '/' are looked for: NAME ->
 * MODBUS_PROFILE_DIR/NAME.conf. */
#ifndef MODBUS_PROFILE_DIR
#define MODBUS_PROFILE_DIR SECCBRIDGE_SYSCONFDIR "/seccbridge/profiles"
#endif

enum modbus_transport {
        MODBUS_TRANSPORT_NONE,          /* not set (an absent monitor) */
        MODBUS_TRANSPORT_RTU,
        MODBUS_TRANSPORT_TCP,
};

struct modbus_params {
        enum modbus_transport transport;
        /* RTU */
        char device[128];               /* serial device, /dev/ttyUSB0 */
        uint32_t baudrate;
        char parity;                    /* 'N', 'E', 'O' */
        uint8_t data_bits;              /* 7, 8 */
        uint8_t stop_bits;              /* 1, 2 */
        bool rs485;                     /* kernel RS-485 mode (TIOCSRS485) */
        /* TCP */
        char host[128];
        uint16_t port;
        /* both */
        uint8_t unit_id;
        uint32_t response_timeout_ms;
        uint32_t byte_timeout_ms;       /* 0 = none, the response timeout only */
        uint32_t min_gap_ms;            /* silence between two requests */
        uint32_t poll_interval_ms;      /* measurement cycle */
        uint32_t setpoint_refresh_ms;   /* resend unchanged setpoints; 0 = never */
        uint32_t link_timeout_ms;       /* no complete cycle for this long: link lost */
        uint32_t reconnect_max_ms;      /* reconnect backoff ceiling */
        uint32_t shutdown_timeout_ms;   /* at exit, how long to insist on output off */
        char profile_name[256];         /* as written: NAME, or a path (a '/' or .conf) */
        struct modbus_profile profile;  /* loaded by modbus_params_validate() */
};

void modbus_params_defaults(struct modbus_params *p);

/* Set one key from its config text.  0; -ENOENT unknown key; -EINVAL bad
 * value (with a reason written to err). */
int modbus_params_set(struct modbus_params *p, const char *key, const char *value, char *err,
                      size_t err_len);

/* Whole-section validation, then the profile is read into p->profile.
 * transport: the one [converter] backend implies (the section's own
 * "transport" key must agree), or MODBUS_TRANSPORT_NONE for a section that
 * names its own.  config_path: relative profile paths are relative to its
 * directory.  0, or -EINVAL with the offending key in *key (NULL for the
 * whole section) and a reason in err. */
int modbus_params_validate(struct modbus_params *p, enum modbus_transport transport,
                           enum modbus_role role, const char *config_path, const char **key, char *err,
                           size_t err_len);

/* Whether two devices are on the same bus (same serial device, or same
 * host and port). */
bool modbus_params_same_bus(const struct modbus_params *a, const struct modbus_params *b);

/* The converter and the monitor together: on one bus their bus settings
 * must agree and their unit ids differ.  0 or -EINVAL with the key and a
 * reason. */
int modbus_params_check_pair(const struct modbus_params *conv, const struct modbus_params *mon,
                             const char **key, char *err, size_t err_len);

/* "tcp 10.0.0.5:502 unit 1" / "rtu /dev/ttyUSB0 19200 8E1 unit 3". */
void modbus_params_describe(const struct modbus_params *p, char *buf, size_t len);

#endif
