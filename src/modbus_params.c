/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "build-config.h"
#include "modbus_params.h"

void modbus_params_defaults(struct modbus_params *p)
{
        memset(p, 0, sizeof(*p));
        p->transport = MODBUS_TRANSPORT_NONE;
        p->baudrate = 9600;
        p->parity = 'N';
        p->data_bits = 8;
        p->stop_bits = 1;
        p->port = 502;
        p->unit_id = 1;
        p->response_timeout_ms = 500;
        p->byte_timeout_ms = 100;
        p->min_gap_ms = 5;
        p->poll_interval_ms = 100;
        p->setpoint_refresh_ms = 1000;
        p->link_timeout_ms = 1000;
        p->reconnect_max_ms = 5000;
        p->shutdown_timeout_ms = 2000;
}

enum modbus_param_type {
        MP_U32,
        MP_BOOL,
        MP_TEXT,
        MP_PARITY,
        MP_TRANSPORT,
};

struct modbus_param_desc {
        const char *key;
        enum modbus_param_type type;
        uint32_t min;
        uint32_t max;
        bool zero_allowed;      /* 0 below min means "off" */
        const char *unit;
};

static const struct modbus_param_desc modbus_param_table[] = {
        { "transport", MP_TRANSPORT, 0, 0, false, "" },
        { "device", MP_TEXT, 0, 0, false, "" },
        { "baudrate", MP_U32, 300, 4000000, false, " bit/s" },
        { "parity", MP_PARITY, 0, 0, false, "" },
        { "data_bits", MP_U32, 7, 8, false, "" },
        { "stop_bits", MP_U32, 1, 2, false, "" },
        { "rs485", MP_BOOL, 0, 0, false, "" },
        { "host", MP_TEXT, 0, 0, false, "" },
        { "port", MP_U32, 1, 65535, false, "" },
        { "unit_id", MP_U32, 0, 255, false, "" },
        { "response_timeout_ms", MP_U32, 10, 10000, false, " ms" },
        { "byte_timeout_ms", MP_U32, 1, 10000, true, " ms" },
        { "min_gap_ms", MP_U32, 1, 1000, true, " ms" },
        { "poll_interval_ms", MP_U32, 10, 10000, false, " ms" },
        { "setpoint_refresh_ms", MP_U32, 100, 600000, true, " ms" },
        { "link_timeout_ms", MP_U32, 50, 60000, false, " ms" },
        { "reconnect_max_ms", MP_U32, 100, 600000, false, " ms" },
        { "shutdown_timeout_ms", MP_U32, 0, 60000, false, " ms" },
        { "profile", MP_TEXT, 0, 0, false, "" },
};

static const struct modbus_param_desc *modbus_param_find(const char *key)
{
        for (size_t i = 0; i < sizeof(modbus_param_table) / sizeof(modbus_param_table[0]); i++)
                if (strcmp(modbus_param_table[i].key, key) == 0)
                        return &modbus_param_table[i];
        return NULL;
}

static uint32_t *modbus_param_u32(struct modbus_params *p, const char *key, uint32_t *tmp)
{
        if (!strcmp(key, "baudrate"))
                return &p->baudrate;
        if (!strcmp(key, "response_timeout_ms"))
                return &p->response_timeout_ms;
        if (!strcmp(key, "byte_timeout_ms"))
                return &p->byte_timeout_ms;
        if (!strcmp(key, "min_gap_ms"))
                return &p->min_gap_ms;
        if (!strcmp(key, "poll_interval_ms"))
                return &p->poll_interval_ms;
        if (!strcmp(key, "setpoint_refresh_ms"))
                return &p->setpoint_refresh_ms;
        if (!strcmp(key, "link_timeout_ms"))
                return &p->link_timeout_ms;
        if (!strcmp(key, "reconnect_max_ms"))
                return &p->reconnect_max_ms;
        if (!strcmp(key, "shutdown_timeout_ms"))
                return &p->shutdown_timeout_ms;
        return tmp;     /* narrower fields: copied by the caller */
}

static int modbus_param_parse_u32(const char *value, uint32_t *out)
{
        char *end;
        unsigned long long v;

        if (!isdigit((unsigned char)value[0]))
                return -EINVAL;
        errno = 0;
        v = strtoull(value, &end, 10);
        if (errno != 0 || *end != '\0' || v > UINT32_MAX)
                return -EINVAL;
        *out = (uint32_t)v;
        return 0;
}

int modbus_params_set(struct modbus_params *p, const char *key, const char *value, char *err,
                      size_t err_len)
{
        const struct modbus_param_desc *d = modbus_param_find(key);
        uint32_t u, tmp = 0, *field;

        if (!d) {
                snprintf(err, err_len, "unknown key");
                return -ENOENT;
        }
        switch (d->type) {
        case MP_TRANSPORT:
                if (strcmp(value, "rtu") == 0)
                        p->transport = MODBUS_TRANSPORT_RTU;
                else if (strcmp(value, "tcp") == 0)
                        p->transport = MODBUS_TRANSPORT_TCP;
                else {
                        snprintf(err, err_len, "'%s' is neither rtu nor tcp", value);
                        return -EINVAL;
                }
                return 0;
        case MP_PARITY:
                if (strcasecmp(value, "none") == 0)
                        p->parity = 'N';
                else if (strcasecmp(value, "even") == 0)
                        p->parity = 'E';
                else if (strcasecmp(value, "odd") == 0)
                        p->parity = 'O';
                else {
                        snprintf(err, err_len, "'%s' is not none, even or odd", value);
                        return -EINVAL;
                }
                return 0;
        case MP_BOOL:
                if (!strcasecmp(value, "true") || !strcasecmp(value, "yes") || !strcasecmp(value, "on") ||
                    !strcmp(value, "1"))
                        p->rs485 = true;
                else if (!strcasecmp(value, "false") || !strcasecmp(value, "no") ||
                         !strcasecmp(value, "off") || !strcmp(value, "0"))
                        p->rs485 = false;
                else {
                        snprintf(err, err_len, "'%s' is not a boolean (true or false)", value);
                        return -EINVAL;
                }
                return 0;
        case MP_TEXT: {
                char *dst = !strcmp(key, "device") ? p->device : !strcmp(key, "host") ? p->host : p->profile_name;
                size_t size = !strcmp(key, "device") ? sizeof(p->device)
                              : !strcmp(key, "host") ? sizeof(p->host) : sizeof(p->profile_name);

                if (value[0] == '\0') {
                        snprintf(err, err_len, "empty");
                        return -EINVAL;
                }
                if (strlen(value) >= size) {
                        snprintf(err, err_len, "longer than %zu characters", size - 1);
                        return -EINVAL;
                }
                for (const char *c = value; *c; c++) {
                        if (!isprint((unsigned char)*c)) {
                                snprintf(err, err_len, "control characters are not allowed");
                                return -EINVAL;
                        }
                }
                snprintf(dst, size, "%s", value);
                return 0;
        }
        case MP_U32:
                if (modbus_param_parse_u32(value, &u) < 0) {
                        snprintf(err, err_len, "'%s' is not a whole number", value);
                        return -EINVAL;
                }
                if (!(d->zero_allowed && u == 0) && (u < d->min || u > d->max)) {
                        if (d->zero_allowed)
                                snprintf(err, err_len, "%u%s is out of range (0, or %u to %u)", u, d->unit,
                                         d->min, d->max);
                        else
                                snprintf(err, err_len, "%u%s is out of range (%u to %u)", u, d->unit, d->min,
                                         d->max);
                        return -EINVAL;
                }
                field = modbus_param_u32(p, key, &tmp);
                *field = u;
                if (field == &tmp) {
                        if (!strcmp(key, "data_bits"))
                                p->data_bits = (uint8_t)u;
                        else if (!strcmp(key, "stop_bits"))
                                p->stop_bits = (uint8_t)u;
                        else if (!strcmp(key, "port"))
                                p->port = (uint16_t)u;
                        else if (!strcmp(key, "unit_id"))
                                p->unit_id = (uint8_t)u;
                }
                return 0;
        }
        snprintf(err, err_len, "unknown key");
        return -ENOENT;
}

/* NAME -> MODBUS_PROFILE_DIR/NAME.conf; a path (with a '/' or ending in
 * ".conf") is taken as it is, relative to the config file's directory. */
static int modbus_params_profile_path(const char *name, const char *config_path, char *out, size_t len)
{
        const char *slash;
        int n;

        size_t n_name = strlen(name);
        bool is_path = strchr(name, '/') || (n_name > 5 && strcmp(name + n_name - 5, ".conf") == 0);

        if (!is_path) {
                for (const char *c = name; *c; c++)
                        if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.')
                                return -EINVAL;
                if (name[0] == '.')
                        return -EINVAL;
                n = snprintf(out, len, "%s/%s.conf", MODBUS_PROFILE_DIR, name);
        } else if (name[0] == '/' || !config_path || !(slash = strrchr(config_path, '/'))) {
                n = snprintf(out, len, "%s", name);
        } else {
                n = snprintf(out, len, "%.*s/%s", (int)(slash - config_path), config_path, name);
        }
        return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int modbus_params_validate(struct modbus_params *p, enum modbus_transport transport,
                           enum modbus_role role, const char *config_path, const char **key, char *err,
                           size_t err_len)
{
        char path[sizeof(p->profile.path)];
        int r;

        if (transport != MODBUS_TRANSPORT_NONE) {
                if (p->transport != MODBUS_TRANSPORT_NONE && p->transport != transport) {
                        *key = "transport";
                        snprintf(err, err_len, "'%s' disagrees with [converter] backend = modbus-%s",
                                 p->transport == MODBUS_TRANSPORT_RTU ? "rtu" : "tcp",
                                 transport == MODBUS_TRANSPORT_RTU ? "rtu" : "tcp");
                        return -EINVAL;
                }
                p->transport = transport;
        }
        switch (p->transport) {
        case MODBUS_TRANSPORT_NONE:
                *key = "transport";
                snprintf(err, err_len, "required (rtu or tcp)");
                return -EINVAL;
        case MODBUS_TRANSPORT_RTU:
                if (!p->device[0]) {
                        *key = "device";
                        snprintf(err, err_len, "required for Modbus RTU (the serial device, e.g. /dev/ttyUSB0)");
                        return -EINVAL;
                }
                if (p->unit_id < 1 || p->unit_id > 247) {
                        *key = "unit_id";
                        snprintf(err, err_len, "%u is out of range for Modbus RTU (1 to 247)", p->unit_id);
                        return -EINVAL;
                }
                break;
        case MODBUS_TRANSPORT_TCP:
                if (!p->host[0]) {
                        *key = "host";
                        snprintf(err, err_len, "required for Modbus TCP (address or name of the device)");
                        return -EINVAL;
                }
                if (p->rs485) {
                        *key = "rs485";
                        snprintf(err, err_len, "only for Modbus RTU");
                        return -EINVAL;
                }
                break;
        }
        if (p->link_timeout_ms < p->poll_interval_ms) {
                *key = "link_timeout_ms";
                snprintf(err, err_len, "%u ms is shorter than poll_interval_ms (%u ms)", p->link_timeout_ms,
                         p->poll_interval_ms);
                return -EINVAL;
        }
        if (!p->profile_name[0]) {
                *key = "profile";
                snprintf(err, err_len, "required (a profile name such as generic, or a path)");
                return -EINVAL;
        }
        r = modbus_params_profile_path(p->profile_name, config_path, path, sizeof(path));
        if (r < 0) {
                *key = "profile";
                snprintf(err, err_len, r == -ENAMETOOLONG ? "'%s': path too long"
                                                            : "'%s' is not a profile name (letters, digits, - _ .) "
                                                              "nor a path", p->profile_name);
                return -EINVAL;
        }
        r = modbus_profile_load(path, &p->profile, err, err_len);
        if (r == 0)
                r = modbus_profile_check_role(&p->profile, role, err, err_len);
        if (r < 0) {
                *key = "profile";
                return -EINVAL;
        }
        return 0;
}

bool modbus_params_same_bus(const struct modbus_params *a, const struct modbus_params *b)
{
        if (a->transport != b->transport)
                return false;
        if (a->transport == MODBUS_TRANSPORT_RTU)
                return strcmp(a->device, b->device) == 0;
        if (a->transport == MODBUS_TRANSPORT_TCP)
                return strcmp(a->host, b->host) == 0 && a->port == b->port;
        return false;
}

int modbus_params_check_pair(const struct modbus_params *conv, const struct modbus_params *mon,
                             const char **key, char *err, size_t err_len)
{
        if (!modbus_params_same_bus(conv, mon))
                return 0;
        if (conv->unit_id == mon->unit_id) {
                *key = "unit_id";
                snprintf(err, err_len, "%u is also the converter's unit id on the same bus", mon->unit_id);
                return -EINVAL;
        }
        if (conv->transport == MODBUS_TRANSPORT_RTU &&
            (conv->baudrate != mon->baudrate || conv->parity != mon->parity ||
             conv->data_bits != mon->data_bits || conv->stop_bits != mon->stop_bits ||
             conv->rs485 != mon->rs485)) {
                *key = "device";
                snprintf(err, err_len, "%s is the converter's bus too, but with other serial settings "
                         "(baudrate, parity, data_bits, stop_bits, rs485 must agree)", mon->device);
                return -EINVAL;
        }
        if (conv->response_timeout_ms != mon->response_timeout_ms || conv->byte_timeout_ms != mon->byte_timeout_ms ||
            conv->min_gap_ms != mon->min_gap_ms) {
                *key = "response_timeout_ms";
                snprintf(err, err_len, "on the converter's bus, response_timeout_ms, byte_timeout_ms and "
                         "min_gap_ms must agree with [modbus]");
                return -EINVAL;
        }
        return 0;
}

void modbus_params_describe(const struct modbus_params *p, char *buf, size_t len)
{
        switch (p->transport) {
        case MODBUS_TRANSPORT_RTU:
                snprintf(buf, len, "rtu %s %u %u%c%u%s unit %u", p->device, p->baudrate, p->data_bits,
                         p->parity, p->stop_bits, p->rs485 ? " rs485" : "", p->unit_id);
                return;
        case MODBUS_TRANSPORT_TCP:
                snprintf(buf, len, "tcp %s:%u unit %u", p->host, p->port, p->unit_id);
                return;
        case MODBUS_TRANSPORT_NONE:
                break;
        }
        snprintf(buf, len, "(no transport)");
}
