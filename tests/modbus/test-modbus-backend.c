/* SPDX-License-Identifier: MIT */
/*
 * The Modbus backends against a real Modbus server (converter_server.py,
 * pymodbus), over TCP on loopback or RTU through a socat pty pair.  The
 * backend runs as in the daemon: config_load() of a config file, then
 * converter_open() on a libev loop; this program plays the protocol core
 * (sends commands, and switches the converter off when the link is lost or
 * a fault is reported) and checks both sides: what the server's registers
 * saw and what the measurements said.
 *
 * Usage: test-modbus-backend tcp|rtu SERVER_SCRIPT PROFILE_DIR [CASE...]
 * Output: TAP.  Exit 77 (skip) without python3-pymodbus or socat.
 *
 * Every libmodbus call runs through modbus_io.c, which aborts when it is
 * called on the thread that opened the converter (this one, the loop
 * thread): any such call would end this program with SIGABRT.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ev.h>

#include "config.h"
#include "converter.h"
#include "modbus_backend.h"
#include "log.h"
#include "seccbridge/limits.h"
#include "monotonic.h"

struct log_settings log_settings = { .max_priority = LOG_INFO, .prefix = false };

#define PYTHON "/usr/bin/python3"
#define SOCAT "/usr/bin/socat"
#define MAX_SAMPLES 20000

static const char *transport;
static const char *server_script;
static const char *profile_dir;
static int second_unit;                 /* the server plays more converters at units 2..this (0: none) */
static unsigned rtu_baud = 115200;      /* the line's rate; the server answers at its pace when not 115200 */

struct sample {
        uint64_t t_us;
        struct power_measurement m;
};

struct env {
        struct ev_loop *loop;
        char dir[64];
        pid_t socat;
        pid_t server;
        int ctl;
        int port;
        char device[128];       /* RTU: our end of the pty pair */
        char monitor_unit[8];
        struct config cfg;
        struct converter conv;
        bool open;
        bool core;              /* act as the core: OFF on link loss or fault */
        bool had_link;
        struct power_command cmd;
        struct sample *samples;
        size_t n;
        unsigned core_offs;     /* OFF commands the "core" sent */
};

static int failures;
static int test_number;

__attribute__((format(printf, 2, 3)))
static bool check(bool ok, const char *fmt, ...)
{
        va_list ap;

        if (ok)
                return true;
        failures++;
        printf("#   FAILED: ");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
        fflush(stdout);
        return false;
}

/* ---- processes ----------------------------------------------------------- */

static pid_t spawn(char *const argv[], int *out_fd)
{
        int pfd[2] = { -1, -1 };
        pid_t pid;

        if (out_fd && pipe(pfd) < 0)
                return -1;
        pid = fork();
        if (pid == 0) {
                if (out_fd) {
                        dup2(pfd[1], STDOUT_FILENO);
                        close(pfd[0]);
                        close(pfd[1]);
                } else {
                        int null = open("/dev/null", O_WRONLY);

                        dup2(null, STDOUT_FILENO);
                        dup2(null, STDERR_FILENO);
                }
                setpgid(0, 0);
                execv(argv[0], argv);
                _exit(127);
        }
        if (out_fd) {
                close(pfd[1]);
                *out_fd = pfd[0];
        }
        return pid;
}

static void reap(pid_t *pid)
{
        if (*pid <= 0)
                return;
        kill(*pid, SIGTERM);
        waitpid(*pid, NULL, 0);
        *pid = 0;
}

/* A line from fd within timeout_ms, or -ETIMEDOUT / -EIO. */
static int read_line(int fd, char *buf, size_t len, int timeout_ms)
{
        size_t n = 0;
        uint64_t end = monotonic_now_us() + (uint64_t)timeout_ms * 1000;

        while (n + 1 < len) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int left = (int)((end > monotonic_now_us() ? end - monotonic_now_us() : 0) / 1000);
                ssize_t r;

                if (poll(&p, 1, left) <= 0)
                        return -ETIMEDOUT;
                r = read(fd, buf + n, 1);
                if (r <= 0)
                        return -EIO;
                if (buf[n] == '\n')
                        break;
                n++;
        }
        buf[n] = '\0';
        return 0;
}

/* ---- the server's control port -------------------------------------------- */

static char ctl_reply[1 << 20];

/* Send a command, return the reply after "ok " (or NULL on error). */
__attribute__((format(printf, 2, 3)))
static const char *ctl(struct env *e, const char *fmt, ...)
{
        char line[256];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
        va_end(ap);
        line[n++] = '\n';
        if (write(e->ctl, line, (size_t)n) != n)
                return NULL;
        if (read_line(e->ctl, ctl_reply, sizeof(ctl_reply), 5000) < 0)
                return NULL;
        if (strncmp(ctl_reply, "ok", 2) != 0) {
                printf("# control '%.*s': %s\n", n - 1, line, ctl_reply);
                return NULL;
        }
        return ctl_reply[2] ? ctl_reply + 3 : ctl_reply + 2;
}

static long ctl_get(struct env *e, const char *area, unsigned addr)
{
        const char *r = ctl(e, "get %s %u", area, addr);

        return r ? strtol(r, NULL, 10) : -1;
}

struct request {
        uint64_t t_us;
        int fc;
        unsigned addr;
        unsigned count;
        long value;             /* first value written, -1 for reads */
        char action[24];
        int unit;
};

/* The server's request log. */
static size_t ctl_log(struct env *e, struct request *out, size_t max)
{
        const char *r = ctl(e, "log");
        size_t n = 0;
        char *save = NULL, *copy, *entry;

        if (!r)
                return 0;
        copy = strdup(r);
        entry = strchr(copy, ' ');
        for (entry = entry ? strtok_r(entry + 1, ";", &save) : NULL; entry && n < max;
             entry = strtok_r(NULL, ";", &save)) {
                struct request q = { .value = -1 };
                char vals[64] = "";

                if (sscanf(entry, "%" SCNu64 ",%d,%u,%u,%63[^,],%23[^,],%d", &q.t_us, &q.fc, &q.addr, &q.count, vals,
                           q.action, &q.unit) == 7) {
                        q.value = strtol(vals, NULL, 10);
                } else if (sscanf(entry, "%" SCNu64 ",%d,%u,%u,,%23[^,],%d", &q.t_us, &q.fc, &q.addr, &q.count,
                                  q.action, &q.unit) != 6) {
                        continue;
                }
                out[n++] = q;
        }
        free(copy);
        return n;
}

static struct request log_buf[8192];

/* ---- the loop and the "core" --------------------------------------------- */

static void on_measurement(const struct power_measurement *m, void *userdata)
{
        struct env *e = userdata;

        if (e->n < MAX_SAMPLES)
                e->samples[e->n++] = (struct sample) { .t_us = monotonic_now_us(), .m = *m };
        if (m->link_ok)
                e->had_link = true;
        /* Like the protocol core: a lost link or a fault switches off. */
        if (e->core && e->cmd.mode != POWER_OFF && ((e->had_link && !m->link_ok) || m->fault)) {
                e->cmd = (struct power_command) { .mode = POWER_OFF, .discharge = true };
                e->core_offs++;
                converter_command(&e->conv, &e->cmd);
        }
}

static const struct power_measurement *last(const struct env *e);

/* Like the protocol core: the command clamped once, to the config's limits
 * and to the rating the converter reports (limits_effective()); the backend
 * writes what it is given. */
static void command(struct env *e, enum power_mode mode, double volts, double amps)
{
        static const struct power_limits no_operator = { 0 };
        struct power_limits l;

        e->cmd = (struct power_command) {
                .mode = mode,
                .voltage_dv = (uint16_t)(volts * 10),
                .current_da = (uint16_t)(amps * 10),
                .discharge = mode == POWER_OFF,
        };
        limits_effective(&e->cfg.session.limits, &no_operator, &last(e)->rating, &l);
        limits_clamp(&l, &e->cmd, &e->cmd);
        converter_command(&e->conv, &e->cmd);
}

static void run_for(struct env *e, int ms)
{
        uint64_t end = monotonic_now_us() + (uint64_t)ms * 1000;

        while (monotonic_now_us() < end)
                ev_run(e->loop, EVRUN_ONCE | EVRUN_NOWAIT), usleep(2000);
}

static const struct power_measurement *last(const struct env *e)
{
        static const struct power_measurement none = { .link_ok = false };

        return e->n ? &e->samples[e->n - 1].m : &none;
}

typedef bool (*pred_fn)(struct env *e, const void *arg);

static bool run_until(struct env *e, pred_fn pred, const void *arg, int timeout_ms)
{
        uint64_t end = monotonic_now_us() + (uint64_t)timeout_ms * 1000;

        while (monotonic_now_us() < end) {
                ev_run(e->loop, EVRUN_ONCE | EVRUN_NOWAIT);
                if (pred(e, arg))
                        return true;
                usleep(2000);
        }
        return pred(e, arg);
}

static bool p_link_up(struct env *e, const void *arg)
{
        return last(e)->link_ok && last(e)->ready;
}

static bool p_link_down(struct env *e, const void *arg)
{
        return e->n && !last(e)->link_ok;
}

static bool p_fault(struct env *e, const void *arg)
{
        return last(e)->fault == *(const bool *)arg;
}

static bool p_voltage(struct env *e, const void *arg)
{
        int want = *(const int *)arg;

        return last(e)->link_ok && abs((int)last(e)->voltage_dv - want) <= 5;
}

struct reg_want {
        const char *area;
        unsigned addr;
        long value;
};

static bool p_register(struct env *e, const void *arg)
{
        const struct reg_want *w = arg;

        return ctl_get(e, w->area, w->addr) == w->value;
}

/* ---- set-up --------------------------------------------------------------- */

static bool have_tools(void)
{
        return access(PYTHON, X_OK) == 0 &&
               system(PYTHON " -c 'import pymodbus.framer.rtu_framer' >/dev/null 2>&1") == 0 &&
               (strcmp(transport, "tcp") == 0 || access(SOCAT, X_OK) == 0);
}

/* Timing of the tests: a fast poll, short timeouts; a case's extra lines
 * replace them key by key. */
static const char *const base_timing[] = {
        "poll_interval_ms = 50", "response_timeout_ms = 200", "byte_timeout_ms = 50",
        "link_timeout_ms = 400", "reconnect_max_ms = 400", "setpoint_refresh_ms = 500",
        "shutdown_timeout_ms = 1500", "min_gap_ms = 2",
};

/* extra: more [modbus] lines. */
static bool env_start(struct env *e, const char *extra, const char *extra_sections)
{
        char line[256], path[128], tcp[16];
        char *argv[16];
        int out = -1, argc = 0;
        FILE *f;
        struct config_error err;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int ctlport = 0;

        memset(e, 0, sizeof(*e));
        e->ctl = -1;
        e->core = true;
        e->samples = calloc(MAX_SAMPLES, sizeof(*e->samples));
        e->loop = ev_loop_new(EVFLAG_AUTO);
        snprintf(e->dir, sizeof(e->dir), "/tmp/test-modbus-XXXXXX");
        if (!mkdtemp(e->dir))
                return check(false, "mkdtemp: %s", strerror(errno));

        if (strcmp(transport, "rtu") == 0) {
                char a[160], b[160];
                char *sargv[] = { SOCAT, "pty,raw,echo=0,link=", "pty,raw,echo=0,link=", NULL };

                snprintf(a, sizeof(a), "pty,raw,echo=0,link=%s/A", e->dir);
                snprintf(b, sizeof(b), "pty,raw,echo=0,link=%s/B", e->dir);
                sargv[1] = a;
                sargv[2] = b;
                e->socat = spawn(sargv, NULL);
                snprintf(e->device, sizeof(e->device), "%s/A", e->dir);
                for (int i = 0; i < 200; i++) {
                        char bpath[160];

                        snprintf(bpath, sizeof(bpath), "%s/B", e->dir);
                        if (access(e->device, F_OK) == 0 && access(bpath, F_OK) == 0)
                                break;
                        usleep(10000);
                }
        }
        argv[argc++] = PYTHON;
        argv[argc++] = (char *)server_script;
        if (strcmp(transport, "rtu") == 0) {
                snprintf(path, sizeof(path), "%s/B", e->dir);
                argv[argc++] = "--rtu";
                argv[argc++] = path;
        } else {
                argv[argc++] = "--tcp";
                argv[argc++] = "0";
        }
        for (int u = 2; u <= second_unit && u <= 3; u++) {
                static char unit[2][8];

                snprintf(unit[u - 2], sizeof(unit[u - 2]), "%d", u);
                argv[argc++] = "--second-unit";
                argv[argc++] = unit[u - 2];
        }
        if (rtu_baud != 115200) {
                static char baud[16];

                snprintf(baud, sizeof(baud), "%u", rtu_baud);
                argv[argc++] = "--baud";
                argv[argc++] = baud;
        }
        if (e->monitor_unit[0] || (extra_sections && strstr(extra_sections, "[insulation_monitor]"))) {
                argv[argc++] = "--monitor-unit";
                argv[argc++] = "3";
        }
        argv[argc] = NULL;
        e->server = spawn(argv, &out);
        if (read_line(out, line, sizeof(line), 10000) < 0 ||
            sscanf(line, "READY tcp=%d control=%d", &e->port, &ctlport) != 2)
                return check(false, "server did not start: '%s'", line);
        close(out);
        e->ctl = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sa.sin_port = htons((uint16_t)ctlport);
        if (connect(e->ctl, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return check(false, "control port: %s", strerror(errno));

        snprintf(path, sizeof(path), "%s/seccbridge.conf", e->dir);
        f = fopen(path, "w");
        snprintf(tcp, sizeof(tcp), "%d", e->port);
        fprintf(f, "[can]\ninterface = vcan0\n[limits]\nmax_voltage = 1000\nmax_current = 200\nmax_power = 100000\n"
                   "[converter]\nbackend = modbus-%s\n[modbus]\n", transport);
        if (strcmp(transport, "rtu") == 0)
                fprintf(f, "device = %s\nbaudrate = %u\n", e->device, rtu_baud);
        else
                fprintf(f, "host = 127.0.0.1\nport = %s\n", tcp);
        fprintf(f, "profile = %s/generic.conf\n%s", profile_dir, extra ? extra : "");
        for (size_t i = 0; i < sizeof(base_timing) / sizeof(base_timing[0]); i++) {
                char key[48];

                snprintf(key, sizeof(key), "%.*s", (int)strcspn(base_timing[i], " "), base_timing[i]);
                if (!extra || !strstr(extra, key))
                        fprintf(f, "%s\n", base_timing[i]);
        }
        if (extra_sections) {
                fprintf(f, "%s", extra_sections);
                /* The monitor shares the converter's bus. */
                if (strstr(extra_sections, "[insulation_monitor]")) {
                        if (strcmp(transport, "rtu") == 0)
                                fprintf(f, "transport = rtu\ndevice = %s\nbaudrate = 115200\n", e->device);
                        else
                                fprintf(f, "transport = tcp\nhost = 127.0.0.1\nport = %s\n", tcp);
                        fprintf(f, "poll_interval_ms = 50\nresponse_timeout_ms = 200\nbyte_timeout_ms = 50\n"
                                   "link_timeout_ms = 400\nmin_gap_ms = 2\n");
                }
        }
        fclose(f);
        if (config_load(path, &e->cfg, &err) < 0) {
                char msg[1024];

                config_error_format(&err, msg, sizeof(msg));
                return check(false, "config: %s", msg);
        }
        e->cmd = (struct power_command) { .mode = POWER_OFF, .discharge = true };
        if (converter_open(&e->conv, e->loop, &e->cfg, on_measurement, e) < 0)
                return check(false, "converter_open failed");
        e->open = true;
        return true;
}

static void env_stop(struct env *e)
{
        char cmdline[128];

        if (e->open)
                converter_close(&e->conv);
        e->open = false;
        if (e->ctl >= 0) {
                (void)!write(e->ctl, "quit\n", 5);
                close(e->ctl);
        }
        reap(&e->server);
        reap(&e->socat);
        snprintf(cmdline, sizeof(cmdline), "rm -rf '%s'", e->dir);
        (void)!system(cmdline);
        ev_loop_destroy(e->loop);
        free(e->samples);
}

/* Up and charging at 400 V / 50 A, confirmed on the server. */
static bool charging(struct env *e)
{
        int v = 4000;

        if (!check(run_until(e, p_link_up, NULL, 3000), "link up and ready within 3 s"))
                return false;
        command(e, POWER_CHARGE, 400, 50);
        return check(run_until(e, p_voltage, &v, 3000), "measured 400 V within 3 s (last %u dV)",
                     last(e)->voltage_dv) &&
               check(ctl_get(e, "coil", 0) == 1, "output enabled on the server") &&
               check(ctl_get(e, "holding", 0) == 4000 && ctl_get(e, "holding", 1) == 500,
                     "setpoints 400.0 V / 50.0 A on the server");
}

/* The first request of the log at or after t with function fc (and, for a
 * write, value v; -1: any). */
static const struct request *find(const struct request *log, size_t n, uint64_t t, int fc, unsigned addr, long v)
{
        for (size_t i = 0; i < n; i++)
                if (log[i].t_us >= t && log[i].fc == fc && log[i].addr == addr && (v < 0 || log[i].value == v))
                        return &log[i];
        return NULL;
}

/* ---- cases ----------------------------------------------------------------- */

static void case_charge_and_off(struct env *e)
{
        const struct request *off;
        uint64_t t0;
        size_t n;

        if (!charging(e))
                return;
        check(last(e)->module_temp_c == 35 && last(e)->enclosure_temp_c == 25, "temperatures 35/25 degC (got %d/%d)",
              last(e)->module_temp_c, last(e)->enclosure_temp_c);
        check(last(e)->insulation_kohm == 1000, "insulation 1000 kOhm from the f32 point (got %u)",
              last(e)->insulation_kohm);
        check(last(e)->current_da == 500, "current 50.0 A (got %d dA)", last(e)->current_da);
        ctl(e, "clearlog");
        t0 = monotonic_now_us();
        command(e, POWER_OFF, 0, 0);
        run_for(e, 400);
        n = ctl_log(e, log_buf, 8192);
        off = find(log_buf, n, t0, 5, 0, 0);
        check(off != NULL, "output-disable write seen by the server");
        if (off)
                check(off->t_us - t0 < 150000, "output disabled %lu ms after OFF (limit 150)",
                      (unsigned long)((off->t_us - t0) / 1000));
        check(ctl_get(e, "coil", 0) == 0, "output off on the server");
        check(ctl_get(e, "holding", 1) == 0 && ctl_get(e, "holding", 0) == 0, "setpoints zeroed after OFF");
}

static void case_limits(struct env *e)
{
        size_t n;
        long vmax = 0, imax = 0;

        if (!check(run_until(e, p_link_up, NULL, 3000), "link up"))
                return;
        check(last(e)->rating.max_voltage_dv == 5000 && last(e)->rating.max_current_da == 1000 &&
              last(e)->rating.max_power_w == 30000, "the measurement carries the rating 500 V / 100 A / 30000 W "
              "(got %u dV / %u dA / %u W)", last(e)->rating.max_voltage_dv, last(e)->rating.max_current_da,
              (unsigned)last(e)->rating.max_power_w);
        ctl(e, "clearlog");
        /* Above the rated 500 V / 100 A / 30 kW of the server. */
        command(e, POWER_CHARGE, 800, 200);
        run_for(e, 600);
        n = ctl_log(e, log_buf, 8192);
        for (size_t i = 0; i < n; i++) {
                if (log_buf[i].fc == 6 && log_buf[i].addr == 0 && log_buf[i].value > vmax)
                        vmax = log_buf[i].value;
                if (log_buf[i].fc == 6 && log_buf[i].addr == 1 && log_buf[i].value > imax)
                        imax = log_buf[i].value;
        }
        check(vmax == 5000, "voltage setpoint clamped to the rated 500.0 V (max written %ld dV)", vmax);
        check(imax <= 600 && imax > 0, "current clamped to 30 kW / 500 V = 60.0 A (max written %ld dA)", imax);
        check(vmax * imax <= 3000000, "written V x I within the rated power");
}

static void case_init_order(struct env *e)
{
        size_t n;
        int off = -1, remote = -1;

        if (!check(run_until(e, p_link_up, NULL, 3000), "link up"))
                return;
        n = ctl_log(e, log_buf, 8192);
        for (size_t i = 0; i < n; i++) {
                if (off < 0 && log_buf[i].fc == 5 && log_buf[i].addr == 0 && log_buf[i].value == 0)
                        off = (int)i;
                if (remote < 0 && log_buf[i].fc == 6 && log_buf[i].addr == 10 && log_buf[i].value == 1)
                        remote = (int)i;
        }
        check(off >= 0 && remote >= 0 && off < remote, "output-disable write before the init sequence "
              "(disable #%d, remote #%d)", off, remote);
        check(ctl_get(e, "holding", 10) == 1, "init sequence put the converter under remote control");
        check(log_buf[0].fc == 5, "the very first request is the disable write (fc %d)", log_buf[0].fc);
}

static void case_grouping_and_refresh(struct env *e)
{
        size_t n;
        unsigned reads = 0, other_reads = 0, vwrites = 0, coil_reads = 0;

        if (!charging(e))
                return;
        ctl(e, "clearlog");
        run_for(e, 1200);
        n = ctl_log(e, log_buf, 8192);
        for (size_t i = 0; i < n; i++) {
                if (log_buf[i].fc == 4 && log_buf[i].addr == 0 && log_buf[i].count == 8)
                        reads++;
                else if (log_buf[i].fc == 4 || log_buf[i].fc == 3)
                        other_reads++;
                if (log_buf[i].fc == 1 && log_buf[i].addr == 0 && log_buf[i].count == 1)
                        coil_reads++;
                if (log_buf[i].fc == 6 && log_buf[i].addr == 0)
                        vwrites++;
        }
        check(reads >= 12, "measurements read each cycle in one request of 8 registers (%u in 1.2 s)", reads);
        check(other_reads == 0, "no other register reads (%u)", other_reads);
        check(coil_reads >= 12, "output read back each cycle (%u)", coil_reads);
        check(vwrites >= 1 && vwrites <= 3, "unchanged setpoint resent only on refresh (%u writes in 1.2 s, "
              "refresh 500 ms)", vwrites);
}

static void case_server_restart(struct env *e)
{
        const struct request *first_write = NULL;
        uint64_t t_stop;
        size_t n;
        int dv = 0;

        if (!charging(e))
                return;
        t_stop = monotonic_now_us();
        ctl(e, "stop");
        check(run_until(e, p_link_down, NULL, 1500), "link reported lost");
        if (e->n)
                check(monotonic_now_us() - t_stop < 1500000, "within 1.5 s");
        check(e->core_offs == 1, "the core commanded OFF once on the loss (%u)", e->core_offs);
        run_for(e, 700);
        ctl(e, "clearlog");
        ctl(e, "start");
        check(run_until(e, p_link_up, NULL, 3000), "link back after the server returned");
        n = ctl_log(e, log_buf, 8192);
        for (size_t i = 0; i < n && !first_write; i++)
                if (log_buf[i].fc == 5 || log_buf[i].fc == 6 || log_buf[i].fc == 16)
                        first_write = &log_buf[i];
        if (!check(first_write && first_write->fc == 5 && first_write->addr == 0 && first_write->value == 0,
                   "first write after the return is the output disable (the OFF wanted during the outage)"))
                for (size_t i = 0; i < n && i < 12; i++)
                        printf("#   request %zu: fc %d addr %u count %u value %ld %s\n", i, log_buf[i].fc,
                               log_buf[i].addr, log_buf[i].count, log_buf[i].value, log_buf[i].action);
        check(ctl_get(e, "coil", 0) == 0, "output stays off after recovery");
        run_for(e, 300);
        check(run_until(e, p_voltage, &dv, 2000), "measured voltage falls to 0");
        check(find(log_buf, ctl_log(e, log_buf, 8192), 0, 5, 0, 1) == NULL, "never re-enabled after recovery");
}

static void case_drop_one(struct env *e)
{
        bool lost = false;
        size_t from;

        if (!charging(e))
                return;
        from = e->n;
        ctl(e, "drop 1 4");
        run_for(e, 1200);
        for (size_t i = from; i < e->n; i++)
                lost |= !e->samples[i].m.link_ok;
        check(!lost, "one dropped answer does not lose the link (link_timeout_ms 400)");
        check(ctl_get(e, "coil", 0) == 1, "still charging");
}

static void case_drop_all(struct env *e)
{
        if (!charging(e))
                return;
        ctl(e, "drop -1");
        check(run_until(e, p_link_down, NULL, 2000), "no answers: link reported lost");
        check(e->core_offs == 1, "the core commanded OFF");
        ctl(e, "drop 0");
        check(run_until(e, p_link_up, NULL, 3000), "answers again: link back");
        check(run_until(e, p_register, &(struct reg_want) { "coil", 0, 0 }, 2000), "output off on the server");
}

static void case_late_reply(struct env *e)
{
        bool bad = false, lost = false;
        size_t from;

        if (!charging(e))
                return;
        from = e->n;
        /* 300 ms late with a 200 ms response timeout, twice. */
        ctl(e, "delay 300 2 4");
        run_for(e, 1500);
        for (size_t i = from; i < e->n; i++) {
                const struct power_measurement *m = &e->samples[i].m;

                if (m->link_ok && (m->voltage_dv > 4010 || m->module_temp_c != 35 || m->insulation_kohm != 1000))
                        bad = true;
                lost |= !m->link_ok;
        }
        check(!bad, "no measurement taken from a late or mismatched reply");
        check(run_until(e, p_link_up, NULL, 2000), "link fine after the late replies");
        check(ctl_get(e, "holding", 0) == 4000 && ctl_get(e, "holding", 1) == 500, "setpoints intact");
        if (lost)
                printf("# (the link was reported lost for a while: the core switched off)\n");
}

static void case_exception(struct env *e)
{
        char why[512];
        long conns_before;
        const char *r;

        if (!charging(e))
                return;
        r = ctl(e, "conns");
        conns_before = r ? strtol(r, NULL, 10) : -1;
        ctl(e, "exception 4 -1 4");
        check(run_until(e, p_link_down, NULL, 2000), "reads answered with exceptions: link reported lost");
        converter_last_error(&e->conv, why, sizeof(why));
        check(strstr(why, "read input") != NULL, "reason names the read: '%s'", why);
        r = ctl(e, "conns");
        if (strcmp(transport, "tcp") == 0)
                check(r && strtol(r, NULL, 10) == conns_before, "no reconnect on an exception (connections %ld -> %s)",
                      conns_before, r ? r : "?");
        check(run_until(e, p_register, &(struct reg_want) { "coil", 0, 0 }, 1000), "OFF still written while reads fail");
        ctl(e, "exception 0 0");
        check(run_until(e, p_link_up, NULL, 2000), "link back");
        converter_last_error(&e->conv, why, sizeof(why));
        check(why[0] == '\0', "no reason left when healthy ('%s')", why);
}

static void case_fault(struct env *e)
{
        char why[512];
        bool yes = true, no = false;

        if (!charging(e))
                return;
        ctl(e, "fault 4");
        check(run_until(e, p_fault, &yes, 1000), "converter fault reported");
        check(run_until(e, p_register, &(struct reg_want) { "coil", 0, 0 }, 1000), "the core's OFF reached the server");
        converter_last_error(&e->conv, why, sizeof(why));
        check(strstr(why, "over-temperature") != NULL, "reason names the fault bit: '%s'", why);
        check(!last(e)->ready, "not ready while faulted");
        ctl(e, "fault 0");
        check(run_until(e, p_fault, &no, 1000), "fault cleared");
}

static void case_off_preempts(struct env *e)
{
        const struct request *slow = NULL, *next = NULL;
        uint64_t t_off;
        size_t n;

        if (!charging(e))
                return;
        ctl(e, "clearlog");
        /* The next measurement read is answered 150 ms late (within the
         * 200 ms response timeout): OFF arrives while it is in flight. */
        ctl(e, "delay 150 1 4");
        for (int i = 0; i < 200; i++) {
                n = ctl_log(e, log_buf, 8192);
                for (size_t k = 0; k < n; k++)
                        if (strncmp(log_buf[k].action, "delayed", 7) == 0)
                                slow = &log_buf[k];
                if (slow)
                        break;
                run_for(e, 2);
        }
        if (!check(slow != NULL, "a slow read is in flight"))
                return;
        t_off = monotonic_now_us();
        command(e, POWER_OFF, 0, 0);
        run_for(e, 500);
        n = ctl_log(e, log_buf, 8192);
        for (size_t k = 0; k + 1 < n; k++)
                if (strncmp(log_buf[k].action, "delayed", 7) == 0)
                        next = &log_buf[k + 1];
        check(t_off - slow->t_us < 150000, "OFF commanded while the slow read was in flight");
        check(next && next->fc == 5 && next->addr == 0 && next->value == 0,
              "the request right after the slow read is the output disable (fc %d addr %u value %ld)",
              next ? next->fc : -1, next ? next->addr : 0, next ? next->value : -1);
        if (next)
                check(next->t_us - t_off < 250000, "disable %lu ms after OFF", (unsigned long)((next->t_us - t_off) / 1000));
}

static void case_close_switches_off(struct env *e)
{
        if (!charging(e))
                return;
        /* No OFF command: close alone must leave the output off. */
        converter_close(&e->conv);
        e->open = false;
        check(ctl_get(e, "coil", 0) == 0, "output off after close");
        check(ctl_get(e, "holding", 10) == 0, "shutdown sequence released remote control");
}

static void case_monitor(struct env *e)
{
        char why[512];
        bool yes = true;

        if (!check(run_until(e, p_link_up, NULL, 3000), "link up with the monitor answering"))
                return;
        run_for(e, 200);
        check(last(e)->insulation_kohm == 2000, "insulation from the monitor: 2000 kOhm (got %u)",
              last(e)->insulation_kohm);
        ctl(e, "monitor 150");
        run_for(e, 300);
        check(last(e)->insulation_kohm == 150, "monitor reading follows (got %u)", last(e)->insulation_kohm);
        ctl(e, "monitor-error 1");
        check(run_until(e, p_fault, &yes, 1000), "monitor device error is a fault");
        converter_last_error(&e->conv, why, sizeof(why));
        check(strstr(why, "insulation monitor") != NULL, "reason names the monitor: '%s'", why);
        check(last(e)->insulation_kohm == POWER_INSULATION_UNKNOWN, "insulation unknown meanwhile");
}

/* A second converter on the same line, opened through the backend as the
 * daemon opens each converter it is given. */
struct other {
        struct converter conv;
        struct modbus_params params;
        struct power_measurement last;
        unsigned n;
        unsigned lost;                  /* measurements without the link */
};

static void other_measurement(const struct power_measurement *m, void *userdata)
{
        struct other *o = userdata;

        o->last = *m;
        o->n++;
        o->lost += !m->link_ok;
}

static int other_open_at(struct env *e, struct other *o, const char *device, uint8_t unit, uint32_t baudrate)
{
        const struct modbus_backend_settings set = { .converter = &o->params };

        memset(o, 0, sizeof(*o));
        o->params = e->cfg.modbus;
        snprintf(o->params.device, sizeof(o->params.device), "%s", device);
        o->params.unit_id = unit;
        o->params.baudrate = baudrate;
        o->conv = (struct converter) {
                .ops = &converter_modbus_rtu_ops, .loop = e->loop, .on_measurement = other_measurement,
                .userdata = o,
        };
        return o->conv.ops->open(&o->conv, &set);
}

static int other_open(struct env *e, struct other *o, uint8_t unit, uint32_t baudrate)
{
        return other_open_at(e, o, e->device, unit, baudrate);
}

static void other_command(struct other *o, enum power_mode mode, double volts, double amps)
{
        struct power_command c = {
                .mode = mode, .voltage_dv = (uint16_t)(volts * 10), .current_da = (int16_t)(amps * 10),
                .discharge = mode == POWER_OFF,
        };

        o->conv.ops->command(&o->conv, &c);
}

static long ctl_get_unit(struct env *e, int unit, const char *area, unsigned addr)
{
        return ctl(e, "unit %d", unit) ? ctl_get(e, area, addr) : -1;
}

/* Run until the other converter measures about dv (and its link is up). */
static bool run_until_other(struct env *e, const struct other *o, int dv, int timeout_ms)
{
        uint64_t end = monotonic_now_us() + (uint64_t)timeout_ms * 1000;

        while (monotonic_now_us() < end) {
                ev_run(e->loop, EVRUN_ONCE | EVRUN_NOWAIT);
                if (o->last.link_ok && o->last.ready && abs((int)o->last.voltage_dv - dv) <= 5)
                        return true;
                usleep(2000);
        }
        return false;
}

/* Two converters on one RS-485 line (units 1 and 2 of one server on one
 * pty): commanded independently, each server state its own; one unit
 * silent while the other stays served; one closed while the other runs;
 * a third one with other line settings or a unit id taken refused. */
static void case_two_on_one_line(struct env *e)
{
        struct other o, bad;
        char real[PATH_MAX] = "";
        struct request *q;
        size_t n;
        unsigned lost;
        uint64_t t0;
        int r;

        if (!check(other_open(e, &o, 2, 115200) == 0, "a second converter opens on the same port, unit 2"))
                return;
        r = other_open(e, &bad, 2, 115200);
        if (!check(r == -EINVAL, "the same port and unit 2 again refused (%d)", r) && r == 0)
                bad.conv.ops->close(&bad.conv);
        r = other_open(e, &bad, 3, 19200);
        if (!check(r == -EINVAL, "the same port at another baud rate refused (%d)", r) && r == 0)
                bad.conv.ops->close(&bad.conv);
        /* The config names the pty by a link: its own name is the same port. */
        r = realpath(e->device, real) && strcmp(real, e->device) != 0 ? other_open_at(e, &bad, real, 1, 115200) : 1;
        if (!check(r == -EINVAL, "the same port by its other name (%s) and unit 1 again refused (%d)", real, r) &&
            r == 0)
                bad.conv.ops->close(&bad.conv);
        if (!charging(e))
                goto out;
        other_command(&o, POWER_CHARGE, 300, 20);
        check(run_until_other(e, &o, 3000, 3000), "the second converter measures 300 V (last %u dV)",
              o.last.voltage_dv);
        check(ctl_get_unit(e, 2, "holding", 0) == 3000 && ctl_get_unit(e, 2, "holding", 1) == 200 &&
              ctl_get_unit(e, 2, "coil", 0) == 1, "unit 2 holds 300.0 V / 20.0 A, output on");
        check(ctl_get_unit(e, 1, "holding", 0) == 4000 && ctl_get_unit(e, 1, "holding", 1) == 500 &&
              ctl_get_unit(e, 1, "coil", 0) == 1, "unit 1 still holds 400.0 V / 50.0 A, output on");
        check(last(e)->voltage_dv == 4000, "the first converter measures its own 400 V (got %u dV)",
              last(e)->voltage_dv);
        /* Both polled by turns on one line: requests of both units. */
        ctl(e, "clearlog");
        run_for(e, 500);
        n = ctl_log(e, log_buf, 8192);
        for (int u = 1; u <= 2; u++) {
                unsigned reads = 0;

                for (size_t i = 0; i < n; i++)
                        reads += log_buf[i].unit == u && log_buf[i].fc == 4 && log_buf[i].addr == 0;
                check(reads >= 4, "unit %d measured %u times in 500 ms (poll 50 ms)", u, reads);
        }

        /* Unit 1 silent: its link lost (and the "core" switches it off);
         * unit 2 keeps its link and takes a new setpoint meanwhile. */
        ctl(e, "silent 1 1");
        lost = o.lost;
        t0 = monotonic_now_us();
        check(run_until(e, p_link_down, NULL, 2000), "the first converter's link lost with unit 1 silent");
        other_command(&o, POWER_CHARGE, 320, 20);
        check(run_until_other(e, &o, 3200, 2000), "the second converter follows 320 V meanwhile (last %u dV)",
              o.last.voltage_dv);
        run_for(e, 1000);
        check(o.lost == lost && o.last.link_ok, "the second converter's link never lost (%u measurements without)",
              o.lost - lost);
        check(ctl_get_unit(e, 2, "holding", 0) == 3200, "unit 2 holds 320.0 V");
        n = ctl_log(e, log_buf, 8192);
        q = NULL;
        for (size_t i = 0; i < n; i++)
                if (log_buf[i].t_us >= t0 + 1000000 && log_buf[i].unit == 2 && log_buf[i].fc == 4)
                        q = &log_buf[i];
        check(q != NULL, "unit 2 still polled a second after unit 1 fell silent");
        ctl(e, "silent 1 0");
        check(run_until(e, p_link_up, NULL, 3000), "the first converter back when unit 1 answers");
        check(ctl_get_unit(e, 1, "coil", 0) == 0, "unit 1 off (the core's OFF after the loss)");

        /* The first converter closed while the second charges: off on
         * unit 1, unit 2 untouched and still served. */
        command(e, POWER_CHARGE, 400, 50);
        check(run_until(e, p_register, &(struct reg_want) { "coil", 0, 1 }, 2000), "unit 1 charging again");
        lost = o.lost;
        converter_close(&e->conv);
        e->open = false;
        check(ctl_get_unit(e, 1, "coil", 0) == 0 && ctl_get_unit(e, 1, "holding", 10) == 0,
              "unit 1 off and released after its close");
        check(ctl_get_unit(e, 2, "coil", 0) == 1 && ctl_get_unit(e, 2, "holding", 0) == 3200,
              "unit 2 still on at 320 V");
        other_command(&o, POWER_CHARGE, 310, 10);
        check(run_until_other(e, &o, 3100, 2000), "the second converter follows 310 V after the first closed");
        check(o.lost == lost, "its link never lost");
        other_command(&o, POWER_OFF, 0, 0);
        check(run_until(e, p_register, &(struct reg_want) { "coil", 0, 0 }, 2000), "unit 2 off");
out:
        o.conv.ops->close(&o.conv);
}

/* Not a test (run only when named; bench/modbus-shared-line.sh): the
 * measurement period of each of 1, 2 and 3 converters on one line at
 * 9600 baud with the default timing, all charging, from the server's
 * timestamps of the reads of input 0 (the start of each measurement). */
static void case_bench_shared_line(struct env *e)
{
        struct other o[2];
        int seconds = getenv("BENCH_SECONDS") ? atoi(getenv("BENCH_SECONDS")) : 20;

        for (int n = 1; n <= 3; n++) {
                size_t len;

                for (int k = 0; k < n - 1; k++)
                        if (!check(other_open(e, &o[k], (uint8_t)(k + 2), rtu_baud) == 0, "converter at unit %d", k + 2))
                                return;
                if (!charging(e))
                        return;
                for (int k = 0; k < n - 1; k++)
                        other_command(&o[k], POWER_CHARGE, 300, 20);
                run_for(e, 2000);
                ctl(e, "clearlog");
                run_for(e, seconds * 1000);
                len = ctl_log(e, log_buf, sizeof(log_buf) / sizeof(log_buf[0]));
                for (int u = 1; u <= n; u++) {
                        uint64_t prev = 0, worst = 0, sum = 0;
                        unsigned cycles = 0, requests = 0;

                        for (size_t i = 0; i < len; i++) {
                                if (log_buf[i].unit != u)
                                        continue;
                                requests++;
                                if (log_buf[i].fc != 4 || log_buf[i].addr != 0)
                                        continue;
                                if (prev) {
                                        uint64_t d = log_buf[i].t_us - prev;

                                        sum += d;
                                        worst = d > worst ? d : worst;
                                        cycles++;
                                }
                                prev = log_buf[i].t_us;
                        }
                        printf("# shared-line converters=%d unit=%d requests_per_s=%.1f periods=%u mean_ms=%.1f "
                               "max_ms=%.1f\n", n, u, requests / (double)seconds, cycles,
                               cycles ? sum / 1000.0 / cycles : 0.0, worst / 1000.0);
                        check(cycles > 0, "unit %d measured", u);
                }
                for (int k = 0; k < n - 1; k++)
                        o[k].conv.ops->close(&o[k].conv);
        }
}

static void case_rs485_on_pty(struct env *e)
{
        char why[512];

        run_for(e, 800);
        check(e->n > 0 && !last(e)->link_ok, "no link: a pty has no RS-485 mode");
        converter_last_error(&e->conv, why, sizeof(why));
        check(strstr(why, "RS-485") != NULL, "the reason says so: '%s'", why);
}

/* Copy the generic profile to dst with `from` replaced by `to`. */
static bool copy_profile(const char *dst, const char *from, const char *to)
{
        char src[256], text[16384];
        const char *at;
        size_t n;
        FILE *f;

        snprintf(src, sizeof(src), "%s/generic.conf", profile_dir);
        f = fopen(src, "r");
        if (!f)
                return false;
        n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        text[n] = '\0';
        at = strstr(text, from);
        f = fopen(dst, "w");
        if (!at || !f) {
                if (f)
                        fclose(f);
                return false;
        }
        fprintf(f, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
        fclose(f);
        return true;
}

/* The running config, its profile line replaced: loaded into cfg. */
static bool reload_with_profile(struct env *e, const char *profile, struct config *cfg)
{
        char path[128], next[128], line[512];
        struct config_error err;
        FILE *in, *out;

        snprintf(path, sizeof(path), "%s/seccbridge.conf", e->dir);
        snprintf(next, sizeof(next), "%s/reloaded.conf", e->dir);
        in = fopen(path, "r");
        out = fopen(next, "w");
        if (!in || !out)
                return false;
        while (fgets(line, sizeof(line), in))
                if (strncmp(line, "profile = ", 10) == 0)
                        fprintf(out, "profile = %s\n", profile);
                else
                        fputs(line, out);
        fclose(in);
        fclose(out);
        if (config_load(next, cfg, &err) < 0) {
                char msg[1024];

                config_error_format(&err, msg, sizeof(msg));
                return check(false, "reloaded config: %s", msg);
        }
        return true;
}

/* SIGHUP with the profile file moved and commented (the same registers):
 * applied, no restart needed, the link never lost; with a register changed:
 * refused (a restart is needed), the running one stays. */
static void case_reload_same_profile(struct env *e)
{
        static struct config moved, changed;
        char p1[128], p2[128];
        size_t from;
        bool lost = false;

        if (!charging(e))
                return;
        snprintf(p1, sizeof(p1), "%s/moved.conf", e->dir);
        snprintf(p2, sizeof(p2), "%s/changed.conf", e->dir);
        if (!check(copy_profile(p1, "[device]", "# A comment that moves every line.\n\n[device]"), "profile copy") ||
            !check(copy_profile(p2, "[present_voltage]\narea = input\naddress = 0",
                                "[present_voltage]\narea = input\naddress = 20"), "profile copy") ||
            !reload_with_profile(e, p1, &moved) || !reload_with_profile(e, p2, &changed))
                return;
        from = e->n;
        check(converter_reconfigure(&e->conv, &moved) == 0, "the same registers in a moved, commented file: applied");
        run_for(e, 500);
        check(converter_reconfigure(&e->conv, &changed) == -EOPNOTSUPP, "a register changed: a restart is needed");
        run_for(e, 500);
        for (size_t i = from; i < e->n; i++)
                lost |= !e->samples[i].m.link_ok;
        check(!lost, "the link was never lost");
        check(ctl_get(e, "coil", 0) == 1 && ctl_get(e, "holding", 0) == 4000, "still charging");
}

struct test_case {
        const char *name;
        void (*fn)(struct env *e);
        const char *extra;              /* [modbus] lines */
        const char *sections;           /* more sections */
        bool rtu_only;
        int second_unit;                /* the server plays converters at units 2..this too */
        bool bench;                     /* a figure, not a test: run only when named, at 9600 baud */
};

static const struct test_case cases[] = {
        { "charge-and-off", case_charge_and_off, NULL, NULL, false, 0, false },
        { "limits", case_limits, NULL, NULL, false, 0, false },
        { "init-order", case_init_order, NULL, NULL, false, 0, false },
        { "grouping-and-refresh", case_grouping_and_refresh, NULL, NULL, false, 0, false },
        { "server-restart", case_server_restart, NULL, NULL, false, 0, false },
        { "drop-one", case_drop_one, "link_timeout_ms = 600\n", NULL, false, 0, false },
        { "drop-all", case_drop_all, NULL, NULL, false, 0, false },
        { "late-reply", case_late_reply, "link_timeout_ms = 1000\n", NULL, false, 0, false },
        { "exception", case_exception, NULL, NULL, false, 0, false },
        { "fault", case_fault, NULL, NULL, false, 0, false },
        { "off-preempts-slow-request", case_off_preempts, NULL, NULL, false, 0, false },
        { "close-switches-off", case_close_switches_off, NULL, NULL, false, 0, false },
        { "insulation-monitor", case_monitor, NULL, "[insulation_monitor]\nprofile = @MON@\nunit_id = 3\n", false, 0, false },
        { "rs485-mode-refused", case_rs485_on_pty, "rs485 = true\n", NULL, true, 0, false },
        { "reload-same-profile", case_reload_same_profile, NULL, NULL, false, 0, false },
        { "two-on-one-line", case_two_on_one_line, NULL, NULL, true, 2, false },
        { "bench-shared-line", case_bench_shared_line,
          "poll_interval_ms = 100\nresponse_timeout_ms = 500\nbyte_timeout_ms = 100\nlink_timeout_ms = 1000\n"
          "reconnect_max_ms = 5000\nsetpoint_refresh_ms = 1000\nshutdown_timeout_ms = 2000\nmin_gap_ms = 5\n",
          NULL, true, 3, true },
};

int main(int argc, char **argv)
{
        size_t n_cases = sizeof(cases) / sizeof(cases[0]);
        int planned = 0;

        if (argc < 4) {
                fprintf(stderr, "usage: %s tcp|rtu SERVER_SCRIPT PROFILE_DIR [CASE...]\n", argv[0]);
                return 2;
        }
        transport = argv[1];
        server_script = argv[2];
        profile_dir = argv[3];
        signal(SIGPIPE, SIG_IGN);
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (!have_tools()) {
                printf("1..0 # SKIP needs /usr/bin/python3 with python3-pymodbus%s\n",
                       strcmp(transport, "rtu") == 0 ? " and socat" : "");
                return 77;
        }
        for (size_t i = 0; i < n_cases; i++) {
                bool wanted = argc == 4 && !cases[i].bench;

                for (int a = 4; a < argc; a++)
                        wanted |= strcmp(argv[a], cases[i].name) == 0;
                if (wanted)
                        planned++;
        }
        printf("1..%d\n", planned);
        for (size_t i = 0; i < n_cases; i++) {
                const struct test_case *c = &cases[i];
                bool wanted = argc == 4 && !c->bench;
                int before = failures;
                char sections[512] = "";
                struct env e;

                for (int a = 4; a < argc; a++)
                        wanted |= strcmp(argv[a], c->name) == 0;
                if (!wanted)
                        continue;
                test_number++;
                if (c->rtu_only && strcmp(transport, "rtu") != 0) {
                        printf("ok %d - %s # SKIP RTU only\n", test_number, c->name);
                        continue;
                }
                if (c->sections) {
                        /* The monitor shares the bus (and the server) at unit 3. */
                        const char *at = strstr(c->sections, "@MON@");
                        int pre = (int)(at - c->sections);

                        snprintf(sections, sizeof(sections), "%.*s%s/bender-isocha425hv.conf%s", pre, c->sections,
                                 profile_dir, at + 5);
                }
                printf("# %s\n", c->name);
                second_unit = c->second_unit;
                rtu_baud = c->bench ? 9600 : 115200;
                if (env_start(&e, c->extra, c->sections ? sections : NULL))
                        c->fn(&e);
                env_stop(&e);
                printf("%s %d - %s\n", failures == before ? "ok" : "not ok", test_number, c->name);
        }
        return failures ? 1 : 0;
}
