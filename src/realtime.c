/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "realtime.h"

#define LOG_MODULE "realtime"

/* Sanitizer runtimes reserve terabytes of shadow memory: locking it all
 * would never finish.  Those builds are for tests, never for a charger. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define REALTIME_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define REALTIME_SANITIZED 1
#endif
#endif
#ifndef REALTIME_SANITIZED
#define REALTIME_SANITIZED 0
#endif

static const char *realtime_policy_name(int policy)
{
        switch (policy) {
        case SCHED_OTHER:
                return "SCHED_OTHER";
        case SCHED_FIFO:
                return "SCHED_FIFO";
        case SCHED_RR:
                return "SCHED_RR";
        default:
                /* SCHED_BATCH, SCHED_IDLE (named only with _GNU_SOURCE) */
                return "SCHED_BATCH or SCHED_IDLE";
        }
}

/* The process's mapped size in MiB (what mlockall must fit in
 * RLIMIT_MEMLOCK), 0 when /proc cannot tell. */
static uint64_t realtime_mapped_mib(void)
{
        unsigned long long pages = 0;
        long page = sysconf(_SC_PAGESIZE);
        FILE *f = fopen("/proc/self/statm", "re");

        if (!f)
                return 0;
        if (fscanf(f, "%llu", &pages) != 1)
                pages = 0;
        fclose(f);
        return page > 0 ? (uint64_t)pages * (uint64_t)page / (1024 * 1024) : 0;
}

static void realtime_limit_text(char *buf, size_t len)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0)
                snprintf(buf, len, "unknown");
        else if (rl.rlim_cur == RLIM_INFINITY)
                snprintf(buf, len, "unlimited");
        else
                snprintf(buf, len, "%" PRIu64 " MiB", (uint64_t)rl.rlim_cur / (1024 * 1024));
}

int realtime_setup(void)
{
        struct sched_param sp = { 0 };
        char limit[32];
        int policy = sched_getscheduler(0);
        int r;

        if (policy < 0) {
                log_warning("cannot read the scheduling policy: %s", strerror(errno));
                return -ENOTSUP;
        }
        if (policy != SCHED_FIFO && policy != SCHED_RR) {
                /* Not an error: a lab run from a shell.  On a charger the
                 * unit's CPUSchedulingPolicy= gives a real-time policy. */
                log_info("scheduling: %s (not real-time): Power_Modules_Status may come late while "
                         "other programs saturate the CPU (the service unit sets CPUSchedulingPolicy=fifo; "
                         "see seccbridge(8)); memory not locked",
                         realtime_policy_name(policy));
                return -ENOTSUP;
        }
        sched_getparam(0, &sp);
        if (REALTIME_SANITIZED) {
                log_info("scheduling: %s priority %d; memory not locked in a sanitizer build",
                         realtime_policy_name(policy), sp.sched_priority);
                return -ENOTSUP;
        }

        /* MCL_FUTURE too: the stack, the heap and the sockets' buffers grow
         * after start, and must not fault either. */
        r = mlockall(MCL_CURRENT | MCL_FUTURE) < 0 ? -errno : 0;
        realtime_limit_text(limit, sizeof(limit));
        if (r < 0) {
                log_warning("scheduling: %s priority %d, but the memory is NOT locked: mlockall: %s "
                            "(%" PRIu64 " MiB mapped, RLIMIT_MEMLOCK %s): a page fault may delay "
                            "Power_Modules_Status under memory pressure; grant a larger LimitMEMLOCK= "
                            "with a drop-in (systemctl edit seccbridge, see seccbridge(8))",
                            realtime_policy_name(policy), sp.sched_priority, strerror(-r),
                            realtime_mapped_mib(), limit);
                return r;
        }
        log_info("scheduling: %s priority %d, memory locked (%" PRIu64 " MiB mapped, RLIMIT_MEMLOCK %s)",
                 realtime_policy_name(policy), sp.sched_priority, realtime_mapped_mib(), limit);
        return 0;
}
