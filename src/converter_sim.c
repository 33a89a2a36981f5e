/* SPDX-License-Identifier: MIT */
/*
 * The "sim" converter backend: the physics model of sim_model.c driven by
 * the event loop, so the whole chain runs without hardware.
 *
 * - An ev_timer steps the model every [sim] step_ms (default 20 ms) by the
 *   loop time that really passed, and hands a measurement to
 *   conv->on_measurement after every step: the daemon reports every 100 ms
 *   (R2, R4) and then always has data at most one step old.
 * - command() goes to the model at once, so OFF overtakes everything; its
 *   effect shows from the next step.  It never calls back.
 * - Optional control FIFO ([sim] control_path) for tests and demos, one
 *   command a line:
 *       fault on|off          the converter trips / recovers
 *       link lost|ok          the backend loses / regains the converter
 *       insulation KOHM       insulation resistance, 0..1000000 kOhm
 *       battery VOLTS         EV battery open-circuit voltage, 0..1500 V
 *       overshoot VOLTS       while regulating, the output measures VOLTS
 *                             too high (0..1500 V, 0 ends it)
 *   Empty lines and lines starting with '#' are skipped; anything else is
 *   logged and ignored.  The FIFO is created with mode 0600 and removed on
 *   close; a path that exists and is not a FIFO is left alone and open
 *   fails.
 *
 * Everything runs on the loop thread and nothing blocks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "converter.h"
#include "log.h"
#include "sim_model.h"
#include "textparse.h"

#define LOG_MODULE "sim"

/* A loop stalled for longer (debugger, suspend) does not make the model
 * jump: the simulated time simply stands still for the rest. */
#define CONVERTER_SIM_MAX_DT_S 0.5

/* Bounded work per wake-up, so a writer flooding the FIFO cannot hold the
 * loop; the watcher fires again for the rest. */
#define CONVERTER_SIM_MAX_READS 16

struct converter_sim_control {
        int fd;                         /* -1 = no control FIFO */
        ev_io io;
        char path[sizeof(((struct sim_params *)0)->control_path)];
        char line[128];
        size_t len;
        bool overlong;                  /* dropping the rest of a too long line */
};

struct converter_sim {
        struct converter *conv;
        struct sim_params params;
        struct sim_model model;
        ev_timer step_timer;
        ev_tstamp last_step;
        struct converter_sim_control control;
};

/* ---- control FIFO -------------------------------------------------------- */

/* Make a fresh FIFO at path and open it.  The fd, or -errno (logged). */
static int converter_sim_fifo_create(const char *path)
{
        struct stat st;
        int fd, r;

        if (lstat(path, &st) == 0) {
                if (!S_ISFIFO(st.st_mode)) {
                        log_err("control_path %s exists and is not a FIFO",
                                          path);
                        return -EEXIST;
                }
                /* Left by an earlier run that did not stop cleanly: a new
                 * one is surely ours and 0600. */
                if (unlink(path) < 0) {
                        r = -errno;
                        log_err("control_path %s: cannot remove the old FIFO: %s",
                                          path, strerror(-r));
                        return r;
                }
        } else if (errno != ENOENT) {
                r = -errno;
                log_err("control_path %s: %s", path, strerror(-r));
                return r;
        }
        if (mkfifo(path, 0600) < 0) {
                r = -errno;
                log_err("control_path %s: cannot create the FIFO: %s",
                                  path, strerror(-r));
                return r;
        }
        /* Read-write: holding a writer ourselves, a writer that closes
         * (echo ... > fifo) does not leave the FIFO at EOF, which would make
         * the watcher fire forever.  Non-blocking: the loop never waits. */
        fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                r = -errno;
                log_err("control_path %s: cannot open the FIFO: %s",
                                  path, strerror(-r));
                (void)unlink(path);
                return r;
        }
        return fd;
}

static void converter_sim_on_control(struct ev_loop *loop, ev_io *w, int revents);

static void converter_sim_control_start(struct converter_sim *s, int fd, const char *path)
{
        struct converter_sim_control *c = &s->control;

        c->fd = fd;
        if (path != c->path)
                snprintf(c->path, sizeof(c->path), "%s", path);
        c->len = 0;
        c->overlong = false;
        ev_io_init(&c->io, converter_sim_on_control, fd, EV_READ);
        c->io.data = s;
        ev_io_start(s->conv->loop, &c->io);
}

static void converter_sim_control_stop(struct converter_sim *s)
{
        struct converter_sim_control *c = &s->control;

        if (c->fd < 0)
                return;
        ev_io_stop(s->conv->loop, &c->io);
        close(c->fd);
        c->fd = -1;
        if (unlink(c->path) < 0 && errno != ENOENT)
                log_warning("control_path %s: cannot remove the FIFO: %s",
                                  c->path, strerror(errno));
}

/* Apply one control line.  0, or -EINVAL with a reason. */
static int converter_sim_control_apply(struct converter_sim *s, const char *word,
                                       const char *arg, const char **reason)
{
        struct sim_model *m = &s->model;
        double v;

        if (strcmp(word, "fault") == 0) {
                if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0) {
                        *reason = "usage: fault on|off";
                        return -EINVAL;
                }
                sim_model_set_fault(m, strcmp(arg, "on") == 0);
                return 0;
        }
        if (strcmp(word, "link") == 0) {
                if (strcmp(arg, "lost") != 0 && strcmp(arg, "ok") != 0) {
                        *reason = "usage: link lost|ok";
                        return -EINVAL;
                }
                sim_model_set_link_lost(m, strcmp(arg, "lost") == 0);
                return 0;
        }
        if (strcmp(word, "insulation") == 0) {
                if (textparse_double(arg, &v) < 0 ||
                    sim_model_set_insulation_kohm(m, v) < 0) {
                        *reason = "usage: insulation KOHM (a number between 0 and 1000000)";
                        return -EINVAL;
                }
                return 0;
        }
        if (strcmp(word, "battery") == 0) {
                if (textparse_double(arg, &v) < 0 ||
                    sim_model_set_battery_voltage(m, v) < 0) {
                        *reason = "usage: battery VOLTS (a number between 0 and 1500)";
                        return -EINVAL;
                }
                return 0;
        }
        if (strcmp(word, "overshoot") == 0) {
                if (textparse_double(arg, &v) < 0 || sim_model_set_overshoot(m, v) < 0) {
                        *reason = "usage: overshoot VOLTS (a number between 0 and 1500)";
                        return -EINVAL;
                }
                return 0;
        }
        *reason = "unknown command (fault, link, insulation, battery, overshoot)";
        return -EINVAL;
}

static void converter_sim_control_line(struct converter_sim *s, char *line)
{
        static const char blanks[] = " \t\r";
        const char *reason = NULL;
        char *save = NULL, *word, *arg, *extra;
        char shown[sizeof(s->control.line)];

        /* For the log, without control characters. */
        snprintf(shown, sizeof(shown), "%s", line);
        for (char *p = shown; *p; p++)
                if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
                        *p = '?';

        word = strtok_r(line, blanks, &save);
        if (!word || word[0] == '#')
                return;
        arg = strtok_r(NULL, blanks, &save);
        extra = strtok_r(NULL, blanks, &save);
        if (!arg || extra)
                reason = "expected a command and one argument";
        else if (converter_sim_control_apply(s, word, arg, &reason) == 0) {
                log_info("control: %s %s", word, arg);
                return;
        }
        log_warning("control: ignoring \"%s\": %s", shown, reason);
}

static void converter_sim_control_feed(struct converter_sim *s, const char *buf, size_t n)
{
        struct converter_sim_control *c = &s->control;

        for (size_t i = 0; i < n; i++) {
                if (buf[i] == '\n') {
                        if (!c->overlong) {
                                c->line[c->len] = '\0';
                                converter_sim_control_line(s, c->line);
                        }
                        c->len = 0;
                        c->overlong = false;
                        continue;
                }
                if (c->overlong)
                        continue;
                if (c->len + 1 >= sizeof(c->line)) {
                        log_warning("control: ignoring a line longer than %zu bytes",
                                          sizeof(c->line) - 1);
                        c->overlong = true;
                        c->len = 0;
                        continue;
                }
                c->line[c->len++] = buf[i];
        }
}

/* EOF cannot happen with our own writer, but if it does, start over on the
 * same path rather than spin on a readable fd. */
static void converter_sim_control_reopen(struct converter_sim *s)
{
        struct converter_sim_control *c = &s->control;
        int fd;

        ev_io_stop(s->conv->loop, &c->io);
        close(c->fd);
        c->fd = -1;
        fd = open(c->path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                log_err("control_path %s: cannot reopen the FIFO, control off: %s",
                                  c->path, strerror(errno));
                (void)unlink(c->path);
                return;
        }
        converter_sim_control_start(s, fd, c->path);
}

static void converter_sim_on_control(struct ev_loop *loop, ev_io *w, int revents)
{
        struct converter_sim *s = w->data;
        char buf[256];

        for (int i = 0; i < CONVERTER_SIM_MAX_READS; i++) {
                ssize_t n = read(s->control.fd, buf, sizeof(buf));

                if (n > 0) {
                        converter_sim_control_feed(s, buf, (size_t)n);
                        continue;
                }
                if (n == 0) {
                        converter_sim_control_reopen(s);
                        return;
                }
                if (errno == EINTR)
                        continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                        return;
                log_err("control_path %s: read: %s", s->control.path,
                                  strerror(errno));
                converter_sim_control_reopen(s);
                return;
        }
}

/* ---- stepping ------------------------------------------------------------ */

static void converter_sim_on_step(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct converter_sim *s = w->data;
        struct converter *conv = s->conv;
        ev_tstamp now = ev_now(loop);
        double dt = now - s->last_step;
        struct power_measurement m;

        s->last_step = now;
        if (dt > CONVERTER_SIM_MAX_DT_S)
                dt = CONVERTER_SIM_MAX_DT_S;
        sim_model_step(&s->model, dt);
        sim_model_measure(&s->model, &m);
        /* Last: the callback may command or even close the converter. */
        if (conv->on_measurement)
                conv->on_measurement(&m, conv->userdata);
}

static void converter_sim_timer_start(struct converter_sim *s)
{
        ev_tstamp period = s->params.step_ms / 1000.0;

        ev_timer_init(&s->step_timer, converter_sim_on_step, period, period);
        s->step_timer.data = s;
        ev_timer_start(s->conv->loop, &s->step_timer);
}

/* ---- ops ----------------------------------------------------------------- */

static int converter_sim_open(struct converter *conv, const void *settings)
{
        const struct sim_params *p = settings;
        struct converter_sim *s;
        int fd = -1;

        s = calloc(1, sizeof(*s));
        if (!s) {
                log_err("out of memory");
                return -ENOMEM;
        }
        s->conv = conv;
        s->control.fd = -1;
        s->params = *p;
        sim_model_init(&s->model, &s->params);

        if (s->params.control_path[0]) {
                fd = converter_sim_fifo_create(s->params.control_path);
                if (fd < 0) {
                        free(s);
                        return fd;
                }
                converter_sim_control_start(s, fd, s->params.control_path);
        }
        s->last_step = ev_now(conv->loop);
        converter_sim_timer_start(s);
        conv->data = s;
        log_info("simulated converter, %.0f V / %.0f A / %.0f kW, step %u ms%s%s",
                          s->params.max_voltage_v, s->params.max_current_a,
                          s->params.max_power_kw, s->params.step_ms,
                          fd >= 0 ? ", control FIFO " : "", fd >= 0 ? s->control.path : "");
        return 0;
}

static void converter_sim_command(struct converter *conv, const struct power_command *cmd)
{
        struct converter_sim *s = conv->data;

        if (!s)
                return;
        /* Dropped while the link is "lost", as on a real dead link; the
         * measurements say so (link_ok = false), no need to log each. */
        (void)sim_model_command(&s->model, cmd);
}

static int converter_sim_reconfigure(struct converter *conv, const void *settings)
{
        struct converter_sim *s = conv->data;
        const struct sim_params *p = settings;
        int fd;

        if (!s)
                return -EINVAL;
        /* The new FIFO first: if it cannot be made, nothing has changed. */
        if (strcmp(p->control_path, s->params.control_path) != 0) {
                fd = -1;
                if (p->control_path[0]) {
                        fd = converter_sim_fifo_create(p->control_path);
                        if (fd < 0)
                                return fd;
                }
                converter_sim_control_stop(s);
                if (fd >= 0)
                        converter_sim_control_start(s, fd, p->control_path);
        }
        if (p->step_ms != s->params.step_ms) {
                ev_timer_stop(conv->loop, &s->step_timer);
                s->params.step_ms = p->step_ms;
                converter_sim_timer_start(s);
        }
        s->params = *p;
        sim_model_set_params(&s->model, p);
        return 0;
}

static void converter_sim_close(struct converter *conv)
{
        struct converter_sim *s = conv->data;

        if (!s)
                return;
        ev_timer_stop(conv->loop, &s->step_timer);
        converter_sim_control_stop(s);
        free(s);
        conv->data = NULL;
}

const struct converter_ops converter_sim_ops = {
        .name = "sim",
        .open = converter_sim_open,
        .command = converter_sim_command,
        .reconfigure = converter_sim_reconfigure,
        .close = converter_sim_close,
};
