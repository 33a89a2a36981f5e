/* SPDX-License-Identifier: MIT */
/*
 * sd_notify: READY=1 once config and CAN socket are good, STATUS= on change
 * only, STOPPING=1, and the watchdog.
 *
 * The watchdog rule: WATCHDOG=1 is sent every WatchdogSec/2, but only when
 * the core timer callback ran within the last WatchdogSec.  The bridge never
 * leaves the core timer disarmed: when the core has nothing due it is still
 * ticked every notify_idle_tick_us() (at most WatchdogSec/4, at most 1 s),
 * so an idle but healthy loop keeps proving itself, while a stuck loop, a
 * timer that was never re-armed or a callback that never returns stop the
 * petting and let systemd restart the service.
 */
#ifndef SECCBRIDGE_NOTIFY_H
#define SECCBRIDGE_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "log.h"

struct notify {
        struct ev_loop *loop;
        uint64_t watchdog_us;           /* WatchdogSec, 0 = no watchdog */
        ev_timer watchdog;
        uint64_t last_core_tick_us;
        bool ready;
        char status[256];               /* last STATUS= sent */
        struct log_fault stalled;       /* watchdog withheld */
};

/* Read the watchdog settings; no message is sent yet.  0 or -errno. */
int notify_init(struct notify *n, struct ev_loop *loop);

/* READY=1 with a first STATUS=, and start the watchdog timer. */
void notify_ready(struct notify *n, const char *status, uint64_t now_us);

/* STATUS=, sent only when it differs from the last one. */
void notify_status(struct notify *n, const char *status);

void notify_reloading(struct notify *n);
void notify_reloaded(struct notify *n);

void notify_stopping(struct notify *n);

/* The core timer callback ran at now_us. */
void notify_core_ticked(struct notify *n, uint64_t now_us);

/* How long the core timer may sleep when the core has nothing due. */
uint64_t notify_idle_tick_us(const struct notify *n);

void notify_finish(struct notify *n);

#endif
