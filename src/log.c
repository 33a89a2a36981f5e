/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "log.h"

static const char *const log_prefixes[] = {
        [LOG_EMERG] = SD_EMERG,
        [LOG_ALERT] = SD_ALERT,
        [LOG_CRIT] = SD_CRIT,
        [LOG_ERR] = SD_ERR,
        [LOG_WARNING] = SD_WARNING,
        [LOG_NOTICE] = SD_NOTICE,
        [LOG_INFO] = SD_INFO,
        [LOG_DEBUG] = SD_DEBUG,
};

void log_setup(bool verbose)
{
        log_settings.max_priority = verbose ? LOG_DEBUG : LOG_INFO;
        log_settings.prefix = !isatty(STDERR_FILENO);
}

void log_write(int priority, const char *module, const char *fmt, ...)
{
        char line[1024];
        va_list ap;
        int saved_errno = errno;
        size_t n = 0;

        if (priority < LOG_EMERG)
                priority = LOG_EMERG;
        if (priority > LOG_DEBUG)
                priority = LOG_DEBUG;
        if (!log_enabled(priority))
                return;

        if (module)
                n = (size_t)snprintf(line, sizeof(line), "%s: ", module);
        va_start(ap, fmt);
        vsnprintf(line + n, sizeof(line) - n, fmt, ap);
        va_end(ap);

        /* One write per line so that lines of concurrent writers (the
         * converter worker threads) never interleave. */
        fprintf(stderr, "%s%s\n", log_settings.prefix ? log_prefixes[priority] : "", line);
        errno = saved_errno;
}

void log_fault_init(struct log_fault *f, const char *module, const char *what)
{
        memset(f, 0, sizeof(*f));
        f->module = module;
        f->what = what;
}

bool log_fault_raise(struct log_fault *f, int priority, uint64_t now_us, const char *fmt, ...)
{
        char reason[sizeof(f->reason)];
        bool changed;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(reason, sizeof(reason), fmt, ap);
        va_end(ap);

        changed = !f->active || strcmp(reason, f->reason) != 0;
        if (!f->active) {
                f->active = true;
                f->since_us = now_us;
                f->count = 0;
        }
        f->count++;
        f->last_us = now_us;
        f->priority = priority;
        if (!changed)
                return false;

        memcpy(f->reason, reason, sizeof(reason));
        if (f->count == 1)
                log_write(priority, f->module, "%s: %s", f->what, f->reason);
        else
                log_write(priority, f->module, "%s: %s (seen %llu times so far)", f->what,
                          f->reason, (unsigned long long)f->count);
        return true;
}

void log_fault_again(struct log_fault *f, uint64_t now_us)
{
        if (!f->active)
                return;
        f->count++;
        f->last_us = now_us;
}

void log_fault_clear(struct log_fault *f, uint64_t now_us)
{
        uint64_t ms;

        if (!f->active)
                return;
        ms = (now_us - f->since_us) / 1000;
        if (f->count > 1)
                log_write(LOG_NOTICE, f->module, "%s: back to normal after %llu.%01llu s (seen %llu times)",
                          f->what, (unsigned long long)(ms / 1000),
                          (unsigned long long)(ms % 1000 / 100), (unsigned long long)f->count);
        else
                log_write(LOG_NOTICE, f->module, "%s: back to normal after %llu.%01llu s", f->what,
                          (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000 / 100));
        f->active = false;
        f->count = 0;
        f->reason[0] = '\0';
}

void log_fault_clear_if_quiet(struct log_fault *f, uint64_t now_us, uint64_t quiet_us)
{
        if (f->active && now_us - f->last_us >= quiet_us)
                log_fault_clear(f, now_us);
}
