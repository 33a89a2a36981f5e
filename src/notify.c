/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "monotonic.h"
#include "notify.h"

#define LOG_MODULE "notify"

#define NOTIFY_IDLE_TICK_MAX_US (1000 * 1000)

static void notify_watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents);

static void notify_send(const char *msg)
{
        int r = sd_notify(0, msg);

        if (r < 0)
                log_debug("sd_notify: %s", strerror(-r));
}

int notify_init(struct notify *n, struct ev_loop *loop)
{
        uint64_t usec = 0;
        int r;

        memset(n, 0, sizeof(*n));
        n->loop = loop;
        log_fault_init(&n->stalled, LOG_MODULE, "watchdog");
        ev_init(&n->watchdog, notify_watchdog_cb);
        n->watchdog.data = n;

        r = sd_watchdog_enabled(0, &usec);
        if (r < 0) {
                log_warning("cannot read the watchdog settings: %s", strerror(-r));
                return r;
        }
        if (r > 0) {
                n->watchdog_us = usec;
                log_debug("watchdog every %llu ms", (unsigned long long)(usec / 1000));
        }
        return 0;
}

uint64_t notify_idle_tick_us(const struct notify *n)
{
        uint64_t t = NOTIFY_IDLE_TICK_MAX_US;

        if (n->watchdog_us && n->watchdog_us / 4 < t)
                t = n->watchdog_us / 4;
        return t > 0 ? t : 1;
}

void notify_ready(struct notify *n, const char *status, uint64_t now_us)
{
        char msg[sizeof(n->status) + 32];

        snprintf(n->status, sizeof(n->status), "%s", status);
        snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", n->status);
        notify_send(msg);
        n->ready = true;

        if (n->watchdog_us) {
                double half = (double)n->watchdog_us / 2e6;

                n->last_core_tick_us = now_us;
                notify_send("WATCHDOG=1");
                ev_timer_set(&n->watchdog, half, half);
                ev_timer_start(n->loop, &n->watchdog);
        }
}

void notify_status(struct notify *n, const char *status)
{
        char msg[sizeof(n->status) + 16];

        if (!n->ready || strncmp(status, n->status, sizeof(n->status) - 1) == 0)
                return;
        snprintf(n->status, sizeof(n->status), "%s", status);
        snprintf(msg, sizeof(msg), "STATUS=%s", n->status);
        notify_send(msg);
}

void notify_reloading(struct notify *n)
{
        notify_send("RELOADING=1");
}

void notify_reloaded(struct notify *n)
{
        notify_send("READY=1");
}

void notify_stopping(struct notify *n)
{
        notify_send("STOPPING=1");
}

void notify_core_ticked(struct notify *n, uint64_t now_us)
{
        n->last_core_tick_us = now_us;
}

static void notify_watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct notify *n = w->data;
        uint64_t now_us = monotonic_now_us();
        uint64_t age = now_us - n->last_core_tick_us;

        if (age > n->watchdog_us) {
                /* The loop runs (we are here) but the core timer does not:
                 * let systemd restart us rather than pretend all is well. */
                log_fault_raise(&n->stalled, LOG_ERR, now_us,
                                "core timer silent for longer than WatchdogSec, not petting the watchdog");
                return;
        }
        log_fault_clear(&n->stalled, now_us);
        notify_send("WATCHDOG=1");
}

void notify_finish(struct notify *n)
{
        if (n->loop)
                ev_timer_stop(n->loop, &n->watchdog);
}
