/* SPDX-License-Identifier: MIT */
/*
 * `seccsim session`, the bottom layer: the clock, the progress log and the
 * verdict.  It calls nothing of the other controller files: the clean-up a
 * failure starts is the driver's c->on_failure.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "controller_report.h"

uint64_t ctl_now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

double ctl_rel_s(const struct ctl *c, uint64_t t_us)
{
        return t_us >= c->t0_us ? (double)(t_us - c->t0_us) / 1e6 : -(double)(c->t0_us - t_us) / 1e6;
}

void ctl_log(struct ctl *c, const char *fmt, ...)
{
        va_list ap;

        printf("[%9.3f] ", ctl_rel_s(c, ctl_now_us()));
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
}

void ctl_fail(struct ctl *c, const char *fmt, ...)
{
        va_list ap;

        uint64_t now = ctl_now_us();
        int n = 0;

        if (c->failed)
                return;
        c->failed = true;
        if (c->last_stall_us > 0 && now - c->last_stall_us < CTL_STALL_BLAME_US && !c->interrupted)
                n = snprintf(c->reason, sizeof(c->reason),
                             CTL_INCONCLUSIVE ": this machine stalled the controller for %.0f ms %.1f s before (R1 allows 200 ms between heartbeats); ",
                             (double)c->last_stall_gap_us / 1000.0, (double)(now - c->last_stall_us) / 1e6);
        if (n < 0 || (size_t)n >= sizeof(c->reason))
                n = 0;
        va_start(ap, fmt);
        vsnprintf(c->reason + n, sizeof(c->reason) - (size_t)n, fmt, ap);
        va_end(ap);
        ctl_log(c, "FAIL: %s", c->reason);
        if (c->on_failure)
                c->on_failure(c, ctl_now_us());
}

const char *ctl_state_name(uint8_t state)
{
        return codec_controller_state_name(state);
}
