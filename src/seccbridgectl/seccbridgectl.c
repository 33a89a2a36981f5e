/* SPDX-License-Identifier: MIT */
/*
 * seccbridgectl: the command-line client of seccbridge's D-Bus interface
 * (org.seccbridge.Bridge1 on /org/seccbridge/pistol/N, bus name
 * org.seccbridge.pistolN; see seccbridgectl(1)).
 *
 * Plain synchronous sd-bus calls: a client may wait for the daemon.
 *
 * Exit status: 0 done, 1 the daemon (or the bus policy) refused, 2 usage
 * error, 69 the daemon is not reachable (no bus, no such pistol, no answer).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include <systemd/sd-bus.h>

#include "build-config.h"
#include "ctl_props.h"
#include "../textparse.h"

/* The daemon's names (src/dbus_service.h): a public contract, see seccbridgectl(1). */
#define CTL_INTERFACE "org.seccbridge.Bridge1"
#define CTL_NAME_PREFIX "org.seccbridge.pistol"
#define CTL_PATH_PREFIX "/org/seccbridge/pistol/"

#define CTL_EXIT_OK 0
#define CTL_EXIT_REFUSED 1
#define CTL_EXIT_USAGE 2
#define CTL_EXIT_UNREACHABLE 69         /* EX_UNAVAILABLE */

#define CTL_CALL_TIMEOUT_US (10 * 1000 * 1000)
#define CTL_PISTOL_MAX 31

struct ctl {
        sd_bus *bus;
        const char *address;            /* NULL: the system bus */
        bool json;
        unsigned pistol;                /* 0: the only one on the bus */
        char name[64];
        char path[64];
};

/* Set by SIGINT/SIGTERM while watching. */
static volatile sig_atomic_t ctl_stop;

static void ctl_usage(FILE *out)
{
        fputs("Usage: seccbridgectl [OPTIONS] COMMAND [ARGS]\n"
              "\n"
              "Operate seccbridge, the power-modules side of the ADVANTICS Generic EVSE\n"
              "CAN interface, over D-Bus.\n"
              "\n"
              "Commands:\n"
              "  status               what matters, on one screen\n"
              "  get PROPERTY...      property values, one a line (see seccbridgectl(1))\n"
              "  watch                one line per property change, until Ctrl-C\n"
              "  list                 the pistols served on the bus\n"
              "  authorize            Start_Charge_Authorisation = 1\n"
              "  deny                 Start_Charge_Authorisation = 0\n"
              "  ccs-auth ok|fail     CCS_Authorisation_Done = 1, Valid = 1 or 0\n"
              "  parameters-done      Charge_Parameters_Done = 1\n"
              "  stop                 press User_Stop_Button (normal end of charge)\n"
              "  chademo-start        press CHAdeMO_Start_Button\n"
              "  output NAME on|off|N set one of the controller's outputs (output1..4:\n"
              "                       on or off; led1..3: on, off or a brightness 0..255)\n"
              "  limits [--max-voltage V] [--max-current A] [--max-power W]\n"
              "                       set the operator limits (0 or left out: none;\n"
              "                       each call replaces all three); without an\n"
              "                       option: show the limits; --clear: remove them\n"
              "  range-target [AMPS|clear]\n"
              "                       the operator's current of a Range_Mode transfer\n"
              "                       (range_policy = operator; < 0 = out of the EV);\n"
              "                       clear: the top of the range; alone: show it\n"
              "\n"
              "Options:\n"
              "  -p, --pistol N       the instance serving pistol N (default: the only\n"
              "                       one on the bus)\n"
              "      --system         the system bus (default; DBUS_SYSTEM_BUS_ADDRESS)\n"
              "      --address ADDR   another bus, e.g. unix:path=/run/test/bus\n"
              "      --json           output for scripts\n"
              "  -h, --help           this text\n"
              "      --version        the version\n"
              "\n"
              "Exit status: 0 done, 1 refused by the daemon or the bus policy,\n"
              "2 usage error (an unknown property too), 69 daemon not reachable.\n", out);
}

static int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int ctl_usage_error(const char *fmt, ...)
{
        va_list ap;

        fputs("seccbridgectl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\nTry 'seccbridgectl --help'.\n", stderr);
        return CTL_EXIT_USAGE;
}

/* ---- errors ---- */

static bool ctl_unreachable(const sd_bus_error *e)
{
        return sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER,
                                      SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_TIMEOUT, SD_BUS_ERROR_DISCONNECTED,
                                      SD_BUS_ERROR_NO_SERVER, SD_BUS_ERROR_UNKNOWN_OBJECT);
}

/* Report a failed call; returns the exit status. */
static int ctl_failed(const struct ctl *c, const char *what, const sd_bus_error *e, int r)
{
        const char *msg = e && e->message ? e->message : strerror(-r);
        int code;

        if ((e && e->name && ctl_unreachable(e)) || !(e && e->name))
                code = CTL_EXIT_UNREACHABLE;
        else
                code = CTL_EXIT_REFUSED;

        if (code == CTL_EXIT_UNREACHABLE)
                fprintf(stderr, "seccbridgectl: %s: %s is not reachable: %s\n", what, c->name[0] ? c->name : "seccbridge",
                        msg);
        else if (sd_bus_error_has_name(e, SD_BUS_ERROR_ACCESS_DENIED))
                fprintf(stderr, "seccbridgectl: %s: not allowed: %s\n"
                                "seccbridgectl: the bus policy lets only root and the seccbridge group operate the daemon\n",
                        what, msg);
        else
                fprintf(stderr, "seccbridgectl: %s: refused: %s\n", what, msg);

        if (c->json) {
                fputs("{\"error\": ", stdout);
                ctl_props_json_string(stdout, e && e->name ? e->name : "connection");
                fputs(", \"message\": ", stdout);
                ctl_props_json_string(stdout, msg);
                fputs("}\n", stdout);
        }
        return code;
}

/* ---- the bus ---- */

static int ctl_connect(struct ctl *c)
{
        const char *where;
        int r;

        if (c->address) {
                r = sd_bus_new(&c->bus);
                if (r >= 0)
                        r = sd_bus_set_address(c->bus, c->address);
                if (r >= 0)
                        r = sd_bus_set_bus_client(c->bus, 1);
                if (r >= 0)
                        r = sd_bus_start(c->bus);
                where = c->address;
        } else {
                r = sd_bus_open_system(&c->bus);
                where = getenv("DBUS_SYSTEM_BUS_ADDRESS") ? getenv("DBUS_SYSTEM_BUS_ADDRESS") : "the system bus";
        }
        if (r < 0) {
                fprintf(stderr, "seccbridgectl: cannot connect to %s: %s\n", where, strerror(-r));
                c->bus = sd_bus_flush_close_unref(c->bus);
                if (c->json) {
                        fputs("{\"error\": \"connection\", \"message\": ", stdout);
                        ctl_props_json_string(stdout, strerror(-r));
                        fputs("}\n", stdout);
                }
                return CTL_EXIT_UNREACHABLE;
        }
        (void)sd_bus_set_method_call_timeout(c->bus, CTL_CALL_TIMEOUT_US);
        return CTL_EXIT_OK;
}

/* The pistol index of a name "org.seccbridge.pistolN", or 0. */
static unsigned ctl_name_pistol(const char *name)
{
        const char *digits;
        char *end;
        unsigned long n;

        if (strncmp(name, CTL_NAME_PREFIX, strlen(CTL_NAME_PREFIX)) != 0)
                return 0;
        digits = name + strlen(CTL_NAME_PREFIX);
        if (*digits < '1' || *digits > '9')
                return 0;
        n = strtoul(digits, &end, 10);
        if (*end != '\0' || n > CTL_PISTOL_MAX)
                return 0;
        return (unsigned)n;
}

/* The pistols served on the bus, in increasing order.  Count, or -errno. */
static int ctl_list_pistols(struct ctl *c, bool served[CTL_PISTOL_MAX + 1])
{
        char **names = NULL;
        int n = 0;
        int r;

        memset(served, 0, sizeof(bool) * (CTL_PISTOL_MAX + 1));
        r = sd_bus_list_names(c->bus, &names, NULL);
        if (r < 0)
                return r;
        for (char **s = names; s && *s; s++) {
                unsigned p = ctl_name_pistol(*s);

                if (p && !served[p]) {
                        served[p] = true;
                        n++;
                }
                free(*s);
        }
        free(names);
        return n;
}

static void ctl_set_pistol(struct ctl *c, unsigned pistol)
{
        c->pistol = pistol;
        snprintf(c->name, sizeof(c->name), CTL_NAME_PREFIX "%u", pistol);
        snprintf(c->path, sizeof(c->path), CTL_PATH_PREFIX "%u", pistol);
}

/* Which instance to talk to: --pistol, or the only one on the bus. */
static int ctl_choose(struct ctl *c)
{
        bool served[CTL_PISTOL_MAX + 1];
        char list[128] = "";
        unsigned only = 0;
        int n;

        if (c->pistol) {
                ctl_set_pistol(c, c->pistol);
                return CTL_EXIT_OK;
        }
        n = ctl_list_pistols(c, served);
        if (n < 0)
                return ctl_failed(c, "listing the bus", NULL, n);
        if (n == 0) {
                fprintf(stderr, "seccbridgectl: no seccbridge on the bus (no name %sN)\n", CTL_NAME_PREFIX);
                if (c->json)
                        fputs("{\"error\": \"org.freedesktop.DBus.Error.ServiceUnknown\", "
                              "\"message\": \"no seccbridge on the bus\"}\n", stdout);
                return CTL_EXIT_UNREACHABLE;
        }
        for (unsigned p = 1; p <= CTL_PISTOL_MAX; p++) {
                if (!served[p])
                        continue;
                only = p;
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%u", list[0] ? ", " : "", p);
        }
        if (n > 1) {
                fprintf(stderr, "seccbridgectl: several seccbridge instances on the bus (pistols %s): "
                                "choose one with --pistol N\n", list);
                return CTL_EXIT_USAGE;
        }
        ctl_set_pistol(c, only);
        return CTL_EXIT_OK;
}

/* Read one a{sv} of properties into p (added or replaced). */
static int ctl_read_props(sd_bus_message *m, struct ctl_props *p)
{
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                struct ctl_value v;
                const char *name, *contents;
                char type;

                memset(&v, 0, sizeof(v));
                r = sd_bus_message_read(m, "s", &name);
                if (r < 0)
                        return r;
                snprintf(v.name, sizeof(v.name), "%s", name);
                r = sd_bus_message_peek_type(m, &type, &contents);
                if (r < 0)
                        return r;
                r = sd_bus_message_enter_container(m, 'v', contents);
                if (r < 0)
                        return r;
                switch (contents[0]) {
                case 'b': {
                        int b;

                        r = sd_bus_message_read(m, "b", &b);
                        v.type = CTL_BOOL;
                        v.b = b;
                        break;
                }
                case 'd':
                        r = sd_bus_message_read(m, "d", &v.d);
                        v.type = CTL_DOUBLE;
                        break;
                case 's': {
                        const char *s;

                        r = sd_bus_message_read(m, "s", &s);
                        v.type = CTL_STRING;
                        if (r >= 0)
                                snprintf(v.s, sizeof(v.s), "%s", s);
                        break;
                }
                case 'y': {
                        uint8_t y;

                        r = sd_bus_message_read(m, "y", &y);
                        v.type = CTL_UNSIGNED;
                        v.u = y;
                        break;
                }
                case 'q': {
                        uint16_t q;

                        r = sd_bus_message_read(m, "q", &q);
                        v.type = CTL_UNSIGNED;
                        v.u = q;
                        break;
                }
                case 'u': {
                        uint32_t u;

                        r = sd_bus_message_read(m, "u", &u);
                        v.type = CTL_UNSIGNED;
                        v.u = u;
                        break;
                }
                case 't':
                        r = sd_bus_message_read(m, "t", &v.u);
                        v.type = CTL_UNSIGNED;
                        break;
                case 'n': {
                        int16_t n;

                        r = sd_bus_message_read(m, "n", &n);
                        v.type = CTL_SIGNED;
                        v.i = n;
                        break;
                }
                case 'i': {
                        int32_t i;

                        r = sd_bus_message_read(m, "i", &i);
                        v.type = CTL_SIGNED;
                        v.i = i;
                        break;
                }
                case 'x':
                        r = sd_bus_message_read(m, "x", &v.i);
                        v.type = CTL_SIGNED;
                        break;
                default:
                        /* A type this version does not know: skip it. */
                        r = sd_bus_message_skip(m, contents);
                        v.name[0] = '\0';
                        break;
                }
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
                if (v.name[0])
                        (void)ctl_props_set(p, &v);
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int ctl_get_all(struct ctl *c, struct ctl_props *p, const char *what)
{
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int code = CTL_EXIT_OK;
        int r;

        r = sd_bus_call_method(c->bus, c->name, c->path, "org.freedesktop.DBus.Properties", "GetAll", &e,
                               &reply, "s", CTL_INTERFACE);
        if (r < 0) {
                code = ctl_failed(c, what, &e, r);
                goto out;
        }
        p->n = 0;
        r = ctl_read_props(reply, p);
        if (r < 0) {
                fprintf(stderr, "seccbridgectl: %s: unexpected answer: %s\n", what, strerror(-r));
                code = CTL_EXIT_UNREACHABLE;
        }
out:
        sd_bus_error_free(&e);
        sd_bus_message_unref(reply);
        return code;
}

/* ---- commands ---- */

static int ctl_status(struct ctl *c)
{
        static struct ctl_props props;
        int code;

        code = ctl_get_all(c, &props, "status");
        if (code != CTL_EXIT_OK)
                return code;
        if (c->json)
                ctl_props_print_json(stdout, &props);
        else
                ctl_props_print_status(stdout, c->name, &props);
        return CTL_EXIT_OK;
}

/* get NAME...: the values, one a line, in the order asked. */
static int ctl_get(struct ctl *c, int n, char **names)
{
        static struct ctl_props props;
        struct ctl_props some = { .n = 0 };
        int code;

        code = ctl_get_all(c, &props, "get");
        if (code != CTL_EXIT_OK)
                return code;
        for (int k = 0; k < n; k++) {
                const struct ctl_value *v = ctl_props_find(&props, names[k]);

                if (!v)
                        return ctl_usage_error("get: %s has no property '%s'", c->name, names[k]);
                (void)ctl_props_set(&some, v);
        }
        if (c->json) {
                ctl_props_print_json(stdout, &some);
                return CTL_EXIT_OK;
        }
        for (int k = 0; k < n; k++) {
                char text[CTL_TEXT_MAX];

                ctl_props_text(ctl_props_find(&some, names[k]), text, sizeof(text));
                printf("%s\n", text);
        }
        return CTL_EXIT_OK;
}

static int ctl_list(struct ctl *c)
{
        bool served[CTL_PISTOL_MAX + 1];
        bool first = true;
        int n;

        n = ctl_list_pistols(c, served);
        if (n < 0)
                return ctl_failed(c, "list", NULL, n);
        if (c->json)
                fputc('[', stdout);
        for (unsigned p = 1; p <= CTL_PISTOL_MAX; p++) {
                if (!served[p])
                        continue;
                if (c->json)
                        printf("%s{\"pistol\": %u, \"name\": \"%s%u\", \"path\": \"%s%u\"}", first ? "" : ", ", p,
                               CTL_NAME_PREFIX, p, CTL_PATH_PREFIX, p);
                else
                        printf("pistol %-2u %s%u %s%u\n", p, CTL_NAME_PREFIX, p, CTL_PATH_PREFIX, p);
                first = false;
        }
        if (c->json)
                fputs("]\n", stdout);
        return CTL_EXIT_OK;
}

/* A method without result; `done` is what to say when it worked. */
static int ctl_call(struct ctl *c, const char *what, const char *done, const char *method, const char *types, ...)
{
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        va_list ap;
        int code = CTL_EXIT_OK;
        int r;

        va_start(ap, types);
        r = sd_bus_call_methodv(c->bus, c->name, c->path, CTL_INTERFACE, method, &e, &reply, types, ap);
        va_end(ap);
        if (r < 0) {
                code = ctl_failed(c, what, &e, r);
        } else if (c->json) {
                fputs("{\"ok\": true}\n", stdout);
        } else {
                printf("%s\n", done);
        }
        sd_bus_error_free(&e);
        sd_bus_message_unref(reply);
        return code;
}

/* on and off, or a number 0..255: a digital output is 1 or 0, a LED's
 * "on" is full brightness (100; the daemon checks the rest). */
static int ctl_output_value(const char *name, const char *text, uint8_t *out)
{
        bool led = strncasecmp(name, "led", 3) == 0;
        char *end;
        unsigned long v;

        if (strcmp(text, "on") == 0) {
                *out = led ? 100 : 1;
                return 0;
        }
        if (strcmp(text, "off") == 0) {
                *out = 0;
                return 0;
        }
        if (!*text || *text == '-' || *text == '+')
                return -EINVAL;
        errno = 0;
        v = strtoul(text, &end, 10);
        if (errno != 0 || *end != '\0' || v > 255)
                return -EINVAL;
        *out = (uint8_t)v;
        return 0;
}

struct ctl_limits {
        bool given;
        bool clear;
        double voltage;
        double current;
        double power;
};

static int ctl_limits(struct ctl *c, const struct ctl_limits *l)
{
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        double v, i, w;
        int code = CTL_EXIT_OK;
        int r;

        if (!l->given && !l->clear) {
                static struct ctl_props props;
                static const char *const names[] = {
                        "MaxVoltage", "MaxCurrent", "MaxPower", "ConfigMaxVoltage", "ConfigMaxCurrent",
                        "ConfigMaxPower", "DynamicMaxVoltage", "DynamicMaxCurrent", "DynamicMaxPower",
                        "PrechargeMaxCurrent", "InsulationMaxCurrent",
                };
                struct ctl_props some = { .n = 0 };

                code = ctl_get_all(c, &props, "limits");
                if (code != CTL_EXIT_OK)
                        return code;
                for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
                        const struct ctl_value *val = ctl_props_find(&props, names[k]);

                        if (val)
                                (void)ctl_props_set(&some, val);
                }
                if (c->json) {
                        ctl_props_print_json(stdout, &some);
                } else {
                        for (size_t k = 0; k < some.n; k++) {
                                char text[CTL_TEXT_MAX];

                                ctl_props_text(&some.v[k], text, sizeof(text));
                                printf("%-21s %s\n", some.v[k].name, text);
                        }
                }
                return CTL_EXIT_OK;
        }

        r = sd_bus_call_method(c->bus, c->name, c->path, CTL_INTERFACE, "SetDynamicLimits", &e, &reply, "ddd",
                               l->clear ? 0. : l->voltage, l->clear ? 0. : l->current, l->clear ? 0. : l->power);
        if (r < 0) {
                code = ctl_failed(c, "limits", &e, r);
                goto out;
        }
        r = sd_bus_message_read(reply, "ddd", &v, &i, &w);
        if (r < 0) {
                fprintf(stderr, "seccbridgectl: limits: unexpected answer: %s\n", strerror(-r));
                code = CTL_EXIT_UNREACHABLE;
                goto out;
        }
        if (c->json)
                printf("{\"MaxVoltage\": %.10g, \"MaxCurrent\": %.10g, \"MaxPower\": %.10g}\n", v, i, w);
        else
                printf("limits in force: %.1f V, %.1f A, %.0f W\n", v, i, w);
out:
        sd_bus_error_free(&e);
        sd_bus_message_unref(reply);
        return code;
}

/* ---- watch ---- */

struct ctl_watch {
        struct ctl *c;
        struct ctl_props last;          /* what was last printed or read */
        char owner[256];                /* the daemon's unique name, "" when gone */
        int code;                       /* set to end the watch */
};

static void ctl_now(const struct ctl *c, char *buf, size_t len)
{
        struct timeval tv;
        struct tm tm;

        gettimeofday(&tv, NULL);
        if (c->json) {
                snprintf(buf, len, "%lld.%03ld", (long long)tv.tv_sec, (long)(tv.tv_usec / 1000));
                return;
        }
        localtime_r(&tv.tv_sec, &tm);
        snprintf(buf, len, "%02d:%02d:%02d.%03ld", tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000));
}

/* Print the values of `fresh` that differ from the last ones. */
static void ctl_watch_print(struct ctl_watch *w, const struct ctl_props *fresh)
{
        char time[32];
        bool any = false;

        ctl_now(w->c, time, sizeof(time));
        for (size_t k = 0; k < fresh->n; k++) {
                const struct ctl_value *v = &fresh->v[k];
                const struct ctl_value *old = ctl_props_find(&w->last, v->name);

                if (old && ctl_props_equal(old, v))
                        continue;
                (void)ctl_props_set(&w->last, v);
                if (!w->c->json) {
                        ctl_props_print_change(stdout, time, v);
                        continue;
                }
                fprintf(stdout, "%s", any ? ", " : "{\"time\": ");
                if (!any) {
                        fprintf(stdout, "%s, \"changes\": {", time);
                        any = true;
                }
                ctl_props_json_string(stdout, v->name);
                fputs(": ", stdout);
                ctl_props_json_value(stdout, v);
        }
        if (w->c->json && any)
                fputs("}}\n", stdout);
        fflush(stdout);
}

static void ctl_watch_event(struct ctl_watch *w, const char *event, const char *text)
{
        char time[32];

        ctl_now(w->c, time, sizeof(time));
        if (w->c->json)
                printf("{\"time\": %s, \"event\": \"%s\"}\n", time, event);
        else
                printf("%s -- %s\n", time, text);
        fflush(stdout);
}

static int ctl_on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        struct ctl_watch *w = userdata;
        static struct ctl_props fresh;
        const char *iface;
        int r;

        /* Only from the daemon we watch. */
        if (!w->owner[0] || !sd_bus_message_get_sender(m) || strcmp(sd_bus_message_get_sender(m), w->owner) != 0)
                return 0;
        r = sd_bus_message_read(m, "s", &iface);
        if (r < 0 || strcmp(iface, CTL_INTERFACE) != 0)
                return 0;
        fresh.n = 0;
        if (ctl_read_props(m, &fresh) < 0)
                return 0;
        ctl_watch_print(w, &fresh);
        return 0;
}

static int ctl_on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        struct ctl_watch *w = userdata;
        const char *name, *old_owner, *new_owner;
        static struct ctl_props fresh;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 || strcmp(name, w->c->name) != 0)
                return 0;
        if (new_owner[0] == '\0') {
                w->owner[0] = '\0';
                ctl_watch_event(w, "gone", "seccbridge left the bus");
                return 0;
        }
        snprintf(w->owner, sizeof(w->owner), "%s", new_owner);
        ctl_watch_event(w, "back", "seccbridge is back on the bus");
        /* What changed while it was away. */
        if (ctl_get_all(w->c, &fresh, "watch") == CTL_EXIT_OK)
                ctl_watch_print(w, &fresh);
        return 0;
}

static void ctl_on_signal(int sig)
{
        ctl_stop = 1;
}

static int ctl_watch(struct ctl *c)
{
        static struct ctl_watch w;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *owner = NULL;
        char match[256];
        struct sigaction sa;
        int r;

        memset(&w, 0, sizeof(w));
        w.c = c;
        r = ctl_get_all(c, &w.last, "watch");
        if (r != CTL_EXIT_OK)
                return r;

        r = sd_bus_match_signal(c->bus, NULL, NULL, c->path, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                ctl_on_properties_changed, &w);
        if (r >= 0) {
                snprintf(match, sizeof(match),
                         "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
                         "member='NameOwnerChanged',arg0='%s'", c->name);
                r = sd_bus_add_match(c->bus, NULL, match, ctl_on_owner_changed, &w);
        }
        if (r < 0)
                return ctl_failed(c, "watch", NULL, r);
        /* The owner after the matches are in place: no change is missed. */
        {
                sd_bus_message *reply = NULL;

                r = sd_bus_call_method(c->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                       "GetNameOwner", &e, &reply, "s", c->name);
                if (r < 0) {
                        r = ctl_failed(c, "watch", &e, r);
                        sd_bus_error_free(&e);
                        return r;
                }
                if (sd_bus_message_read(reply, "s", &owner) >= 0)
                        snprintf(w.owner, sizeof(w.owner), "%s", owner);
                sd_bus_message_unref(reply);
        }

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = ctl_on_signal;  /* no SA_RESTART: the wait returns */
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        fprintf(stderr, "seccbridgectl: watching %s; Ctrl-C to stop\n", c->name);

        while (!ctl_stop) {
                r = sd_bus_process(c->bus, NULL);
                if (r < 0) {
                        fprintf(stderr, "seccbridgectl: watch: lost the bus: %s\n", strerror(-r));
                        return CTL_EXIT_UNREACHABLE;
                }
                if (r > 0)
                        continue;
                r = sd_bus_wait(c->bus, UINT64_MAX);
                if (r < 0 && r != -EINTR) {
                        fprintf(stderr, "seccbridgectl: watch: lost the bus: %s\n", strerror(-r));
                        return CTL_EXIT_UNREACHABLE;
                }
        }
        return CTL_EXIT_OK;
}

/* ---- main ---- */

/* range-target [AMPS|clear]: set, clear or show the operator's target. */
static int ctl_range_target(struct ctl *c, const char *arg)
{
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        double amps = 0, now;
        bool clear;
        int code = CTL_EXIT_OK;
        int r;

        if (!arg) {
                const char *names[] = { "RangePolicy", "RangeTargetSet", "RangeTarget" };

                return ctl_get(c, 3, (char **)names);
        }
        clear = strcmp(arg, "clear") == 0;
        if (!clear && textparse_double(arg, &amps) < 0)
                return ctl_usage_error("range-target takes a current in A or 'clear' (got '%s')", arg);
        r = sd_bus_call_method(c->bus, c->name, c->path, CTL_INTERFACE, "SetRangeTarget", &e, &reply, "bd",
                               (int)!clear, amps);
        if (r < 0) {
                code = ctl_failed(c, "range-target", &e, r);
                goto out;
        }
        r = sd_bus_message_read(reply, "d", &now);
        if (r < 0) {
                fprintf(stderr, "seccbridgectl: range-target: unexpected answer: %s\n", strerror(-r));
                code = CTL_EXIT_UNREACHABLE;
                goto out;
        }
        if (c->json)
                printf("{\"ok\": true, \"RangeTargetSet\": %s, \"RangeTarget\": %.1f}\n", clear ? "false" : "true",
                       now);
        else if (clear)
                printf("range target cleared: the top of the range\n");
        else
                printf("range target %.1f A\n", now);
out:
        sd_bus_error_free(&e);
        sd_bus_message_unref(reply);
        return code;
}

static int ctl_parse_number(const char *option, const char *text, double *out)
{
        if (textparse_double(text, out) < 0)
                return ctl_usage_error("%s takes a number", option);
        return CTL_EXIT_OK;
}

int main(int argc, char **argv)
{
        enum {
                OPT_SYSTEM = 0x100,
                OPT_ADDRESS,
                OPT_JSON,
                OPT_VERSION,
                OPT_MAX_VOLTAGE,
                OPT_MAX_CURRENT,
                OPT_MAX_POWER,
                OPT_CLEAR,
        };
        static const struct option options[] = {
                { "pistol", required_argument, NULL, 'p' },
                { "system", no_argument, NULL, OPT_SYSTEM },
                { "address", required_argument, NULL, OPT_ADDRESS },
                { "json", no_argument, NULL, OPT_JSON },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                { "max-voltage", required_argument, NULL, OPT_MAX_VOLTAGE },
                { "max-current", required_argument, NULL, OPT_MAX_CURRENT },
                { "max-power", required_argument, NULL, OPT_MAX_POWER },
                { "clear", no_argument, NULL, OPT_CLEAR },
                { NULL, 0, NULL, 0 },
        };
        struct ctl c = { 0 };
        struct ctl_limits limits = { 0 };
        uint8_t output_value = 0;
        const char *cmd, *range_arg = NULL;
        int nargs;
        int opt, code;

        setvbuf(stdout, NULL, _IOLBF, 0);
        /* range-target -50: a negative current is an argument, not options
         * -5 and -0; taken out before getopt sees it. */
        for (int k = 1; k + 1 < argc; k++) {
                double v;

                if (strcmp(argv[k], "range-target") == 0 && argv[k + 1][0] == '-' &&
                    textparse_double(argv[k + 1], &v) == 0) {
                        range_arg = argv[k + 1];
                        for (int j = k + 1; j + 1 < argc; j++)
                                argv[j] = argv[j + 1];
                        argc--;
                        break;
                }
        }
        while ((opt = getopt_long(argc, argv, "p:h", options, NULL)) != -1) {
                switch (opt) {
                case 'p': {
                        double n;

                        if (textparse_double(optarg, &n) < 0 || n < 1 || n > CTL_PISTOL_MAX || n != (unsigned)n)
                                return ctl_usage_error("--pistol takes a pistol index, 1 to 31 (got '%s')", optarg);
                        c.pistol = (unsigned)n;
                        break;
                }
                case OPT_SYSTEM:
                        c.address = NULL;
                        break;
                case OPT_ADDRESS:
                        c.address = optarg;
                        break;
                case OPT_JSON:
                        c.json = true;
                        break;
                case 'h':
                        ctl_usage(stdout);
                        return CTL_EXIT_OK;
                case OPT_VERSION:
                        printf("seccbridgectl %s\n", SECCBRIDGE_VERSION);
                        return CTL_EXIT_OK;
                case OPT_MAX_VOLTAGE:
                        if (ctl_parse_number("--max-voltage", optarg, &limits.voltage) != CTL_EXIT_OK)
                                return CTL_EXIT_USAGE;
                        limits.given = true;
                        break;
                case OPT_MAX_CURRENT:
                        if (ctl_parse_number("--max-current", optarg, &limits.current) != CTL_EXIT_OK)
                                return CTL_EXIT_USAGE;
                        limits.given = true;
                        break;
                case OPT_MAX_POWER:
                        if (ctl_parse_number("--max-power", optarg, &limits.power) != CTL_EXIT_OK)
                                return CTL_EXIT_USAGE;
                        limits.given = true;
                        break;
                case OPT_CLEAR:
                        limits.clear = true;
                        break;
                default:
                        fputs("Try 'seccbridgectl --help'.\n", stderr);
                        return CTL_EXIT_USAGE;
                }
        }
        if (optind >= argc)
                return ctl_usage_error("%s", "no command given");
        cmd = argv[optind];
        nargs = argc - optind - 1;

        /* Check the command line completely before touching the bus. */
        if (strcmp(cmd, "limits") != 0 && (limits.given || limits.clear))
                return ctl_usage_error("--max-voltage, --max-current, --max-power and --clear go with 'limits', not '%s'",
                                       cmd);
        if (strcmp(cmd, "limits") == 0 && limits.given && limits.clear)
                return ctl_usage_error("%s", "limits: --clear goes alone");
        if (strcmp(cmd, "get") == 0) {
                if (nargs < 1)
                        return ctl_usage_error("%s", "get takes one or more property names");
        } else if (strcmp(cmd, "range-target") == 0) {
                if (nargs + (range_arg ? 1 : 0) > 1)
                        return ctl_usage_error("%s", "range-target takes one argument: a current in A, or clear");
                if (nargs == 1)
                        range_arg = argv[optind + 1];
        } else if (strcmp(cmd, "ccs-auth") == 0) {
                if (nargs != 1 || (strcmp(argv[optind + 1], "ok") != 0 && strcmp(argv[optind + 1], "fail") != 0))
                        return ctl_usage_error("%s", "ccs-auth takes one argument: ok or fail");
        } else if (strcmp(cmd, "output") == 0) {
                if (nargs != 2 || ctl_output_value(argv[optind + 1], argv[optind + 2], &output_value) < 0)
                        return ctl_usage_error("%s", "output takes a name (output1..output4, led1..led3) and on, off "
                                               "or a brightness 0..255");
        } else if (strcmp(cmd, "status") == 0 || strcmp(cmd, "watch") == 0 || strcmp(cmd, "list") == 0 ||
                   strcmp(cmd, "authorize") == 0 || strcmp(cmd, "deny") == 0 ||
                   strcmp(cmd, "parameters-done") == 0 || strcmp(cmd, "stop") == 0 ||
                   strcmp(cmd, "chademo-start") == 0 || strcmp(cmd, "limits") == 0) {
                if (nargs != 0)
                        return ctl_usage_error("unexpected argument '%s'", argv[optind + 1]);
        } else {
                return ctl_usage_error("unknown command '%s'", cmd);
        }

        code = ctl_connect(&c);
        if (code != CTL_EXIT_OK)
                return code;
        if (strcmp(cmd, "list") == 0) {
                code = ctl_list(&c);
                goto out;
        }
        code = ctl_choose(&c);
        if (code != CTL_EXIT_OK)
                goto out;

        if (strcmp(cmd, "status") == 0)
                code = ctl_status(&c);
        else if (strcmp(cmd, "get") == 0)
                code = ctl_get(&c, nargs, argv + optind + 1);
        else if (strcmp(cmd, "watch") == 0)
                code = ctl_watch(&c);
        else if (strcmp(cmd, "authorize") == 0)
                code = ctl_call(&c, "authorize", "start authorisation given", "SetStartAuthorisation", "b", 1);
        else if (strcmp(cmd, "deny") == 0)
                code = ctl_call(&c, "deny", "start authorisation withdrawn", "SetStartAuthorisation", "b", 0);
        else if (strcmp(cmd, "ccs-auth") == 0 && strcmp(argv[optind + 1], "ok") == 0)
                code = ctl_call(&c, "ccs-auth", "CCS authorisation done: valid", "SetCCSAuthorisation", "b", 1);
        else if (strcmp(cmd, "ccs-auth") == 0)
                code = ctl_call(&c, "ccs-auth", "CCS authorisation done: refused", "SetCCSAuthorisation", "b", 0);
        else if (strcmp(cmd, "parameters-done") == 0)
                code = ctl_call(&c, "parameters-done", "charge parameters done", "SetChargeParametersDone", "b", 1);
        else if (strcmp(cmd, "stop") == 0)
                code = ctl_call(&c, "stop", "user stop button pressed", "PressUserStop", "");
        else if (strcmp(cmd, "chademo-start") == 0)
                code = ctl_call(&c, "chademo-start", "CHAdeMO start button pressed", "PressCHAdeMOStart", "");
        else if (strcmp(cmd, "output") == 0) {
                char done[64];

                snprintf(done, sizeof(done), "%s set to %u", argv[optind + 1], (unsigned)output_value);
                code = ctl_call(&c, "output", done, "SetOutput", "sy", argv[optind + 1], output_value);
        }
        else if (strcmp(cmd, "range-target") == 0)
                code = ctl_range_target(&c, range_arg);
        else
                code = ctl_limits(&c, &limits);
out:
        sd_bus_flush_close_unref(c.bus);
        return code;
}
