/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the daemon's configuration parser on arbitrary text.  Checks:
 * no crash; a refusal always says why (a reason, and a line within the text
 * when it names one); an accepted configuration is one the protocol core takes
 * (session_config_check) and its limits are usable (limits_check), its
 * pistol is in 1..31 and the same in [can] and in the session, its backend
 * is one of the known ones and supervisor mode is "none"'s, bidirectional
 * power only with interface version 3 and discharge limits; an accepted
 * [mqtt] has a broker to reach (an absolute socket path, or a numeric IPv4
 * or IPv6 address and a port, never both), a topic prefix and client id a
 * broker takes, its numbers within their ranges, TLS and credentials
 * complete; an accepted [metrics] an absolute file path (or none) and an
 * interval within its range.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include "config.h"
#include "log.h"
#include "seccbridge/limits.h"

static void fail(const char *what, const uint8_t *data, size_t size)
{
        fprintf(stderr, "config: %s\n--- input\n%.*s\n---\n", what, (int)size, (const char *)data);
        abort();
}

/* The daemon defines it in main.c; quiet here (nothing but emergencies). */
struct log_settings log_settings = { .max_priority = 0 };

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Terminated, no control character, nothing at the ends a reader would
 * lose. */
static bool usable_text(const char *t, size_t size)
{
        size_t n;

        if (!memchr(t, '\0', size))
                return false;
        n = strlen(t);
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
                        return false;
        return n == 0 || (!isspace((unsigned char)t[0]) && !isspace((unsigned char)t[n - 1]));
}

static bool usable_path(const char *t, size_t size)
{
        return usable_text(t, size) && (t[0] == '\0' || t[0] == '/');
}

#define TEXT_OK(field) usable_text(field, sizeof(field))
#define PATH_OK(field) usable_path(field, sizeof(field))

/* An accepted [mqtt] and [metrics], as the harness reads doc/mqtt.md. */
static const char *check_telemetry(const struct telemetry_params *t)
{
        const struct mqtt_params *m = &t->mqtt;
        unsigned char addr[16];

        if (!TEXT_OK(m->host) || !TEXT_OK(m->username) || !TEXT_OK(m->client_id) || !TEXT_OK(m->topic_prefix))
                return "[mqtt]: a text field unterminated or with control characters";
        if (!PATH_OK(m->socket) || !PATH_OK(m->ca_file) || !PATH_OK(m->cert_file) || !PATH_OK(m->key_file) ||
            !PATH_OK(m->password_file))
                return "[mqtt]: a path that is not absolute";
        if (m->socket[0] && (m->host_set || m->port_set))
                return "[mqtt]: both a socket and a host or port";
        if (!m->socket[0] && inet_pton(AF_INET, m->host, addr) != 1 && inet_pton(AF_INET6, m->host, addr) != 1)
                return "[mqtt]: a host that is not a numeric address";
        if (m->port == 0)
                return "[mqtt]: port 0";
        if (strpbrk(m->topic_prefix, "+#") || m->topic_prefix[0] == '$' ||
            (m->topic_prefix[0] && (m->topic_prefix[0] == '/' || m->topic_prefix[strlen(m->topic_prefix) - 1] == '/' ||
                                    strstr(m->topic_prefix, "//"))))
                return "[mqtt]: a topic prefix a broker refuses (wildcard, $, empty level)";
        if (strlen(m->client_id) > 64 || strspn(m->client_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                               "0123456789-_.:") != strlen(m->client_id))
                return "[mqtt]: a client id a broker may refuse";
        if (m->keepalive_s < 5 || m->keepalive_s > 3600)
                return "[mqtt]: keepalive_s out of 5..3600";
        if (!isfinite(m->state_max_per_s) || m->state_max_per_s < 0.01 || m->state_max_per_s > 20)
                return "[mqtt]: state_max_per_s out of 0.01..20";
        if (m->event_queue_size < 1 || m->event_queue_size > 10000)
                return "[mqtt]: event_queue_size out of 1..10000";
        if (m->reconnect_max_ms < 1000 || m->reconnect_max_ms > 600000)
                return "[mqtt]: reconnect_max_ms out of 1000..600000";
        if ((m->cert_file[0] != '\0') != (m->key_file[0] != '\0') || (m->cert_file[0] && !m->ca_file[0]))
                return "[mqtt]: a client certificate without its key or without TLS";
        if (m->password_file[0] && !m->username[0])
                return "[mqtt]: a password without a username";
        if (!PATH_OK(t->metrics.path))
                return "[metrics]: a path that is not absolute";
        if (t->metrics.path[0] && t->metrics.path[strlen(t->metrics.path) - 1] == '/')
                return "[metrics]: a directory for a path";
        if (t->metrics.interval_ms < 1000 || t->metrics.interval_ms > 3600000)
                return "[metrics]: interval_ms out of 1000..3600000";
        return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        (void)argc;
        (void)argv;
        /* A profile path in the text may name standard input: never block
         * on it. */
        if (fd >= 0) {
                dup2(fd, STDIN_FILENO);
                close(fd);
        }
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct config cfg;
        struct config_error err;
        unsigned lines = 1;
        FILE *f;
        int r;

        if (size == 0)
                f = fopen("/dev/null", "r");
        else
                f = fmemopen((void *)data, size, "r");
        if (!f)
                return 0;
        for (size_t i = 0; i < size; i++)
                lines += data[i] == '\n';
        r = config_load_stream(f, "fuzz.conf", &cfg, &err);
        fclose(f);
        if (r < 0) {
                if (!err.reason[0])
                        fail("refused without a reason", data, size);
                if (strcmp(err.file, "fuzz.conf") != 0)
                        fail("error names another file", data, size);
                if (err.line > lines)
                        fail("error names a line past the end", data, size);
                if (!memchr(err.key, '\0', sizeof(err.key)) || !memchr(err.reason, '\0', sizeof(err.reason)))
                        fail("error key or reason unterminated", data, size);
                return 0;
        }
        if (r != 0)
                fail("unexpected return code", data, size);
        if (session_config_check(&cfg.session) != 0)
                fail("accepted a configuration the core refuses", data, size);
        if (limits_check(&cfg.session.limits) != 0)
                fail("accepted unusable limits", data, size);
        if (cfg.can.pistol_index < 1 || cfg.can.pistol_index > 31 ||
            cfg.session.pistol != cfg.can.pistol_index)
                fail("pistol index out of range or inconsistent", data, size);
        if (strcmp(cfg.converter.backend, "sim") != 0 && strcmp(cfg.converter.backend, "modbus-tcp") != 0 &&
            strcmp(cfg.converter.backend, "modbus-rtu") != 0 && strcmp(cfg.converter.backend, CONFIG_BACKEND_NONE) != 0)
                fail("unknown backend accepted", data, size);
        if (cfg.session.supervisor != (strcmp(cfg.converter.backend, CONFIG_BACKEND_NONE) == 0))
                fail("supervisor mode without backend none, or backend none without it", data, size);
        if (cfg.session.interface_version != 2 && cfg.session.interface_version != 3)
                fail("an interface version of no database", data, size);
        if (cfg.session.bidirectional &&
            (cfg.session.interface_version != 3 || cfg.session.limits.max_discharge_current_da == 0 ||
             cfg.session.limits.max_discharge_power_w == 0))
                fail("bidirectional without interface version 3 or without discharge limits", data, size);
        {
                const char *why = check_telemetry(&cfg.telemetry);

                if (why)
                        fail(why, data, size);
        }
        if (!memchr(cfg.can.interface, '\0', sizeof(cfg.can.interface)) || !cfg.can.interface[0])
                fail("interface name empty or unterminated", data, size);
        return 0;
}
