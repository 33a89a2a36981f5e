/* SPDX-License-Identifier: MIT */
/*
 * [mqtt] and [metrics] (see telemetry_params.h): one table of keys with
 * their defaults, a setter per type, then the checks of what goes together.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "telemetry_params.h"
#include "textparse.h"

enum telemetry_param_type {
        TP_BOOL,
        TP_UINT,
        TP_DECIMAL,
        TP_TEXT,                /* printable, no spaces at the ends */
        TP_PATH,                /* an absolute path, or empty */
};

struct telemetry_param {
        enum telemetry_section section;
        const char *key;
        enum telemetry_param_type type;
        const char *def;        /* default, as it would be written in the file */
        double min;
        double max;
        const char *unit;
        size_t offset;          /* in struct telemetry_params */
        size_t size;            /* of a text field */
};

#define MQTT_FIELD(f) offsetof(struct telemetry_params, mqtt.f), sizeof(((struct mqtt_params *)0)->f)
#define METRICS_FIELD(f) offsetof(struct telemetry_params, metrics.f), sizeof(((struct metrics_params *)0)->f)

static const struct telemetry_param telemetry_param_table[] = {
        { TELEMETRY_SECTION_MQTT, "enable", TP_BOOL, "false", 0, 0, "", MQTT_FIELD(enable) },
        { TELEMETRY_SECTION_MQTT, "host", TP_TEXT, "127.0.0.1", 0, 0, "", MQTT_FIELD(host) },
        { TELEMETRY_SECTION_MQTT, "port", TP_UINT, "1883", 1, 65535, "", MQTT_FIELD(port) },
        { TELEMETRY_SECTION_MQTT, "socket", TP_PATH, "", 0, 0, "", MQTT_FIELD(socket) },
        { TELEMETRY_SECTION_MQTT, "ca_file", TP_PATH, "", 0, 0, "", MQTT_FIELD(ca_file) },
        { TELEMETRY_SECTION_MQTT, "cert_file", TP_PATH, "", 0, 0, "", MQTT_FIELD(cert_file) },
        { TELEMETRY_SECTION_MQTT, "key_file", TP_PATH, "", 0, 0, "", MQTT_FIELD(key_file) },
        { TELEMETRY_SECTION_MQTT, "username", TP_TEXT, "", 0, 0, "", MQTT_FIELD(username) },
        { TELEMETRY_SECTION_MQTT, "password_file", TP_PATH, "", 0, 0, "", MQTT_FIELD(password_file) },
        { TELEMETRY_SECTION_MQTT, "client_id", TP_TEXT, "", 0, 0, "", MQTT_FIELD(client_id) },
        { TELEMETRY_SECTION_MQTT, "topic_prefix", TP_TEXT, "", 0, 0, "", MQTT_FIELD(topic_prefix) },
        /* libmosquitto takes 0 (none) or 5 s and more; a keepalive is what
         * finds a broker that stopped answering. */
        { TELEMETRY_SECTION_MQTT, "keepalive_s", TP_UINT, "30", 5, 3600, " s", MQTT_FIELD(keepalive_s) },
        { TELEMETRY_SECTION_MQTT, "state_max_per_s", TP_DECIMAL, "1", 0.01, 20, " per second",
          MQTT_FIELD(state_max_per_s) },
        { TELEMETRY_SECTION_MQTT, "event_queue_size", TP_UINT, "256", 1, 10000, " events",
          MQTT_FIELD(event_queue_size) },
        { TELEMETRY_SECTION_MQTT, "reconnect_max_ms", TP_UINT, "30000", 1000, 600000, " ms",
          MQTT_FIELD(reconnect_max_ms) },
        { TELEMETRY_SECTION_METRICS, "path", TP_PATH, TELEMETRY_PARAMS_METRICS_PATH, 0, 0, "", METRICS_FIELD(path) },
        { TELEMETRY_SECTION_METRICS, "interval_ms", TP_UINT, "10000", 1000, 3600000, " ms",
          METRICS_FIELD(interval_ms) },
};

#define TELEMETRY_N_PARAMS (sizeof(telemetry_param_table) / sizeof(telemetry_param_table[0]))

const char *telemetry_section_name(enum telemetry_section section)
{
        switch (section) {
        case TELEMETRY_SECTION_MQTT:
                return "mqtt";
        case TELEMETRY_SECTION_METRICS:
                return "metrics";
        case TELEMETRY_SECTION_COUNT:
                break;
        }
        return "?";
}

static const struct telemetry_param *telemetry_param_find(enum telemetry_section section, const char *key)
{
        for (size_t i = 0; i < TELEMETRY_N_PARAMS; i++)
                if (telemetry_param_table[i].section == section && strcmp(telemetry_param_table[i].key, key) == 0)
                        return &telemetry_param_table[i];
        return NULL;
}

/* A number as a person writes it (no sign, no exponent): like the rest of
 * the config file. */
static int telemetry_param_number(const char *value, bool integer, double *out)
{
        bool digits = false;

        for (const char *c = value; *c; c++) {
                if (isdigit((unsigned char)*c))
                        digits = true;
                else if (*c != '.' || integer)
                        return -EINVAL;
        }
        if (!digits)
                return -EINVAL;
        return textparse_double(value, out);
}

static int telemetry_param_apply(struct telemetry_params *p, const struct telemetry_param *d, const char *value,
                                 char *err, size_t err_len)
{
        char *field = (char *)p + d->offset;
        double v;
        bool b;

        switch (d->type) {
        case TP_BOOL:
                if (textparse_bool(value, &b) < 0) {
                        snprintf(err, err_len, "'%s' is not a boolean (true or false)", value);
                        return -EINVAL;
                }
                *(bool *)field = b;
                return 0;
        case TP_UINT:
        case TP_DECIMAL:
                if (value[0] == '-') {
                        snprintf(err, err_len, "'%s': negative values are not allowed", value);
                        return -EINVAL;
                }
                if (telemetry_param_number(value, d->type == TP_UINT, &v) < 0) {
                        snprintf(err, err_len, "'%s' is not %s", value,
                                 d->type == TP_UINT ? "a whole number" : "a number");
                        return -EINVAL;
                }
                if (v < d->min || v > d->max) {
                        snprintf(err, err_len, "%.10g%s is out of range (%.10g to %.10g)", v, d->unit, d->min,
                                 d->max);
                        return -EINVAL;
                }
                if (d->type == TP_DECIMAL)
                        *(double *)field = v;
                else if (d->size == sizeof(uint16_t))
                        *(uint16_t *)field = (uint16_t)v;
                else
                        *(uint32_t *)field = (uint32_t)v;
                return 0;
        case TP_TEXT:
        case TP_PATH:
                if (strlen(value) >= d->size) {
                        snprintf(err, err_len, "longer than %zu characters", d->size - 1);
                        return -EINVAL;
                }
                for (const char *c = value; *c; c++) {
                        if (!isprint((unsigned char)*c)) {
                                snprintf(err, err_len, "control characters are not allowed");
                                return -EINVAL;
                        }
                }
                if (d->type == TP_PATH && value[0] != '\0' && value[0] != '/') {
                        snprintf(err, err_len, "'%s' is not an absolute path", value);
                        return -EINVAL;
                }
                memcpy(field, value, strlen(value) + 1);
                return 0;
        }
        return -EINVAL;
}

void telemetry_params_defaults(struct telemetry_params *p)
{
        char err[64];

        memset(p, 0, sizeof(*p));
        for (size_t i = 0; i < TELEMETRY_N_PARAMS; i++)
                (void)telemetry_param_apply(p, &telemetry_param_table[i], telemetry_param_table[i].def, err,
                                            sizeof(err));
}

int telemetry_params_set(struct telemetry_params *p, enum telemetry_section section, const char *key,
                         const char *value, char *err, size_t err_len)
{
        const struct telemetry_param *d = telemetry_param_find(section, key);
        int r;

        if (!d) {
                snprintf(err, err_len, "unknown key");
                return -ENOENT;
        }
        r = telemetry_param_apply(p, d, value, err, err_len);
        if (r < 0)
                return r;
        if (section == TELEMETRY_SECTION_MQTT && strcmp(key, "host") == 0)
                p->mqtt.host_set = true;
        if (section == TELEMETRY_SECTION_MQTT && strcmp(key, "port") == 0)
                p->mqtt.port_set = true;
        return 0;
}

uint64_t telemetry_params_state_interval_us(const struct mqtt_params *p)
{
        return (uint64_t)llround(1e6 / p->state_max_per_s);
}

/* A topic level may not hold the wildcards, and a prefix of ours may not
 * start with '$' (reserved for the broker) or have empty levels. */
static int telemetry_check_topic_prefix(const char *t, char *err, size_t err_len)
{
        if (t[0] == '\0')
                return 0;       /* the default */
        if (strpbrk(t, "+#")) {
                snprintf(err, err_len, "'%s' contains an MQTT wildcard (+ or #)", t);
                return -EINVAL;
        }
        if (t[0] == '$') {
                snprintf(err, err_len, "'%s' starts with '$' (topics reserved for the broker)", t);
                return -EINVAL;
        }
        if (t[0] == '/' || t[strlen(t) - 1] == '/' || strstr(t, "//")) {
                snprintf(err, err_len, "'%s' has an empty topic level (a '/' at either end or twice)", t);
                return -EINVAL;
        }
        return 0;
}

static int telemetry_check_client_id(const char *id, char *err, size_t err_len)
{
        for (const char *c = id; *c; c++) {
                if (!isalnum((unsigned char)*c) && !strchr("-_.:", *c)) {
                        snprintf(err, err_len, "'%s': letters, digits and - _ . : only", id);
                        return -EINVAL;
                }
        }
        if (strlen(id) > 64) {
                snprintf(err, err_len, "longer than 64 characters");
                return -EINVAL;
        }
        return 0;
}

/* The daemon must be able to read the file when it connects; --check-config
 * says so at once rather than the log at the first connection. */
static int telemetry_check_readable(const char *path, char *err, size_t err_len)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

        if (fd < 0) {
                snprintf(err, err_len, "cannot read %s: %s", path, strerror(errno));
                return -EINVAL;
        }
        close(fd);
        return 0;
}

static int telemetry_validate_mqtt(const struct mqtt_params *m, const char **key, char *err, size_t err_len)
{
        static const struct {
                const char *key;
                size_t offset;
        } files[] = {
                { "ca_file", offsetof(struct mqtt_params, ca_file) },
                { "cert_file", offsetof(struct mqtt_params, cert_file) },
                { "key_file", offsetof(struct mqtt_params, key_file) },
                { "password_file", offsetof(struct mqtt_params, password_file) },
        };
        unsigned char addr[16];

        if (m->socket[0] && (m->host_set || m->port_set)) {
                *key = "socket";
                snprintf(err, err_len, "set either socket or host and port, not both");
                return -EINVAL;
        }
        if (!m->socket[0] && inet_pton(AF_INET, m->host, addr) != 1 && inet_pton(AF_INET6, m->host, addr) != 1) {
                *key = "host";
                snprintf(err, err_len,
                         "'%s' is not a numeric IPv4 or IPv6 address (names are not looked up: a DNS query "
                         "would hold up the CAN side; give the address, or bridge a local broker)",
                         m->host);
                return -EINVAL;
        }
        if ((m->cert_file[0] != '\0') != (m->key_file[0] != '\0')) {
                *key = m->cert_file[0] ? "key_file" : "cert_file";
                snprintf(err, err_len, "cert_file and key_file go together (a client certificate and its key)");
                return -EINVAL;
        }
        if (m->cert_file[0] && !m->ca_file[0]) {
                *key = "cert_file";
                snprintf(err, err_len, "a client certificate needs TLS: set ca_file too");
                return -EINVAL;
        }
        if (m->password_file[0] && !m->username[0]) {
                *key = "password_file";
                snprintf(err, err_len, "a password needs a username");
                return -EINVAL;
        }
        if (telemetry_check_topic_prefix(m->topic_prefix, err, err_len) < 0) {
                *key = "topic_prefix";
                return -EINVAL;
        }
        if (telemetry_check_client_id(m->client_id, err, err_len) < 0) {
                *key = "client_id";
                return -EINVAL;
        }
        if (!m->enable)
                return 0;       /* files are only read when publishing */
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
                const char *path = (const char *)m + files[i].offset;

                if (path[0] && telemetry_check_readable(path, err, err_len) < 0) {
                        *key = files[i].key;
                        return -EINVAL;
                }
        }
        return 0;
}

int telemetry_params_validate(const struct telemetry_params *p, enum telemetry_section *section,
                              const char **key, char *err, size_t err_len)
{
        const char *path = p->metrics.path;

        *section = TELEMETRY_SECTION_MQTT;
        *key = NULL;
        if (telemetry_validate_mqtt(&p->mqtt, key, err, err_len) < 0)
                return -EINVAL;
        *section = TELEMETRY_SECTION_METRICS;
        if (path[0] && path[strlen(path) - 1] == '/') {
                *key = "path";
                snprintf(err, err_len, "'%s' names a directory, not a file", path);
                return -EINVAL;
        }
        return 0;
}
