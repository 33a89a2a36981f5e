/* SPDX-License-Identifier: MIT */
/*
 * The shell's one clock: CLOCK_MONOTONIC in microseconds, the time every
 * deciding module takes as an argument (the protocol core, the Modbus device
 * machine) and never reads itself.  A callback of the daemon reads it once
 * at its start; the Modbus worker reads it around each request it executes.
 */
#ifndef SECCBRIDGE_MONOTONIC_H
#define SECCBRIDGE_MONOTONIC_H

#include <errno.h>
#include <stdint.h>
#include <time.h>

static inline uint64_t monotonic_now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The same instant as a timespec (pthread_cond_timedwait() on a condition
 * variable set to CLOCK_MONOTONIC, clock_nanosleep()). */
static inline struct timespec monotonic_timespec(uint64_t us)
{
        return (struct timespec) { .tv_sec = (time_t)(us / 1000000u), .tv_nsec = (long)(us % 1000000u) * 1000L };
}

/* Sleep until the monotonic time `us` (at once when it has passed). */
static inline void monotonic_sleep_until(uint64_t us)
{
        struct timespec ts = monotonic_timespec(us);

        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
}

#endif
