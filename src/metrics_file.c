/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "metrics_file.h"

#define LOG_MODULE "metrics"

/* Below CAN and the core timer within a loop iteration (see mqtt.c). */
#define METRICS_PRIORITY (-1)

static uint64_t metrics_clock_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int metrics_write_all(int fd, const char *buf, size_t len)
{
        while (len > 0) {
                ssize_t n = write(fd, buf, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

int metrics_file_write(struct metrics_file *f)
{
        struct metrics_input in;
        const char *step;
        size_t len;
        int fd, r;

        memset(&in, 0, sizeof(in));
        f->gather(&in, f->userdata);
        r = metrics_format(&in, f->text, sizeof(f->text), &len);
        if (r < 0) {
                log_fault_raise(&f->fail, LOG_ERR, metrics_clock_us(), "the metrics do not fit in %zu bytes",
                                sizeof(f->text));
                return r;
        }

        step = "create";
        fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0) {
                r = -errno;
                goto fail;
        }
        /* The service's UMask=0077 would leave it readable by us only. */
        step = "write";
        r = fchmod(fd, 0644) < 0 ? -errno : metrics_write_all(fd, f->text, len);
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r < 0) {
                unlink(f->tmp_path);
                goto fail;
        }
        step = "rename";
        if (rename(f->tmp_path, f->params.path) < 0) {
                r = -errno;
                unlink(f->tmp_path);
                goto fail;
        }
        f->writes++;
        log_fault_clear(&f->fail, metrics_clock_us());
        return 0;

fail:
        /* No directory: the daemon runs outside its service (which makes
         * /run/seccbridge); not worth a warning. */
        log_fault_raise(&f->fail, r == -ENOENT ? LOG_NOTICE : LOG_WARNING, metrics_clock_us(),
                        "cannot %s %s: %s (set [metrics] path, or leave it empty for no file); trying again "
                        "every %.1f s",
                        step, step[0] == 'r' ? f->params.path : f->tmp_path, strerror(-r),
                        f->params.interval_ms / 1000.);
        return r;
}

static void metrics_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        (void)metrics_file_write(w->data);
}

int metrics_file_init(struct metrics_file *f, struct ev_loop *loop, const struct metrics_params *params,
                      void (*gather)(struct metrics_input *in, void *userdata), void *userdata)
{
        memset(f, 0, sizeof(*f));
        f->loop = loop;
        f->params = *params;
        f->enabled = params->path[0] != '\0';
        f->gather = gather;
        f->userdata = userdata;
        log_fault_init(&f->fail, LOG_MODULE, "metrics file");
        if ((size_t)snprintf(f->tmp_path, sizeof(f->tmp_path), "%s.tmp", params->path) >= sizeof(f->tmp_path))
                return -ENAMETOOLONG;
        ev_timer_init(&f->timer, metrics_timer_cb, params->interval_ms / 1000., params->interval_ms / 1000.);
        f->timer.data = f;
        ev_set_priority(&f->timer, METRICS_PRIORITY);
        return 0;
}

void metrics_file_start(struct metrics_file *f)
{
        if (!f->enabled)
                return;
        (void)metrics_file_write(f);
        ev_timer_start(f->loop, &f->timer);
}

void metrics_file_finish(struct metrics_file *f)
{
        if (!f->loop)
                return;
        ev_timer_stop(f->loop, &f->timer);
}
