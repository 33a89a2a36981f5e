/* SPDX-License-Identifier: MIT */
/*
 * Settings of what the daemon publishes: the [mqtt] section (the broker,
 * its TLS and credentials, the topics, the rates and the event queue) and
 * the [metrics] section (the metrics file).  Set key by key from the config
 * text, then validated as a whole, like [modbus].  One table holds every
 * key with its type, range and default; conf/seccbridge.conf and
 * seccbridge.conf(5) document them.  Read at start only.
 */
#ifndef SECCBRIDGE_TELEMETRY_PARAMS_H
#define SECCBRIDGE_TELEMETRY_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TELEMETRY_PARAMS_PATH_MAX 256
#define TELEMETRY_PARAMS_METRICS_PATH "/run/seccbridge/metrics.prom"

enum telemetry_section {
        TELEMETRY_SECTION_MQTT,
        TELEMETRY_SECTION_METRICS,
        TELEMETRY_SECTION_COUNT
};

struct mqtt_params {
        bool enable;
        char host[48];                          /* a numeric IPv4 or IPv6 address */
        uint16_t port;
        char socket[108];                       /* a Unix socket path instead of host and port */
        char ca_file[TELEMETRY_PARAMS_PATH_MAX];        /* set: TLS */
        char cert_file[TELEMETRY_PARAMS_PATH_MAX];
        char key_file[TELEMETRY_PARAMS_PATH_MAX];
        char username[128];
        char password_file[TELEMETRY_PARAMS_PATH_MAX];
        char client_id[128];                    /* "": seccbridge-HOSTNAME-pistolN */
        char topic_prefix[128];                 /* "": seccbridge/HOSTNAME/pistolN */
        uint32_t keepalive_s;
        double state_max_per_s;
        uint32_t event_queue_size;
        uint32_t reconnect_max_ms;
        bool host_set;                          /* given in the file (not the default) */
        bool port_set;
};

struct metrics_params {
        char path[TELEMETRY_PARAMS_PATH_MAX];   /* "": no metrics file */
        uint32_t interval_ms;
};

struct telemetry_params {
        struct mqtt_params mqtt;
        struct metrics_params metrics;
};

/* The defaults of the key table. */
void telemetry_params_defaults(struct telemetry_params *p);

/* Set one key of [mqtt] or [metrics] from its config text.  0; -ENOENT
 * unknown key; -EINVAL bad value, with a reason in err. */
int telemetry_params_set(struct telemetry_params *p, enum telemetry_section section, const char *key,
                         const char *value, char *err, size_t err_len);

/* Whole-section checks (what goes together, the files readable when MQTT
 * is enabled).  0, or -EINVAL with the section, the offending key (NULL
 * for the whole section) and a reason. */
int telemetry_params_validate(const struct telemetry_params *p, enum telemetry_section *section,
                              const char **key, char *err, size_t err_len);

const char *telemetry_section_name(enum telemetry_section section);

/* The minimum time between two state messages, us. */
uint64_t telemetry_params_state_interval_us(const struct mqtt_params *p);

#endif
