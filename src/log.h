/* SPDX-License-Identifier: MIT */
/*
 * Logging to stderr for journald: each line starts with an sd-daemon
 * priority prefix ("<3>" ... "<7>") and the module that logs it
 * ("can: interface can0 is down").  The prefix is left out when stderr is a
 * terminal, so a person running the daemon by hand reads plain lines.
 *
 * A file that logs names its module once, after its includes:
 *
 *     #define LOG_MODULE "can"
 *
 * LOG_MODULE NULL logs without a module name (main.c: start-up and config
 * errors, which must read "file:line: key: reason").
 *
 * A fault that repeats (CAN interface gone, bus-off, converter link down)
 * goes through struct log_fault: logged once when it starts (or when its
 * reason changes), once when it ends with its duration and how many times it
 * was seen, never at every retry.
 */
#ifndef SECCBRIDGE_LOG_H
#define SECCBRIDGE_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

/* The only process-wide state of the daemon, defined in main.c: logging is
 * called from every module, and passing a context to each of them would only
 * hide the same thing. */
struct log_settings {
        int max_priority;       /* LOG_INFO, or LOG_DEBUG with -v */
        bool prefix;            /* write "<N>" priority prefixes */
};
extern struct log_settings log_settings;

/* Fill log_settings: debug messages when verbose, prefixes unless stderr is
 * a terminal. */
void log_setup(bool verbose);

void log_write(int priority, const char *module, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static inline bool log_enabled(int priority)
{
        return priority <= log_settings.max_priority;
}

#define log_err(...) log_write(LOG_ERR, LOG_MODULE, __VA_ARGS__)
#define log_warning(...) log_write(LOG_WARNING, LOG_MODULE, __VA_ARGS__)
#define log_notice(...) log_write(LOG_NOTICE, LOG_MODULE, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, LOG_MODULE, __VA_ARGS__)
#define log_debug(...) log_write(LOG_DEBUG, LOG_MODULE, __VA_ARGS__)

/* A repeating fault, logged on change only. */
struct log_fault {
        const char *module;     /* as LOG_MODULE */
        const char *what;       /* "CAN interface can0" */
        bool active;
        int priority;           /* of the start message */
        uint64_t since_us;      /* start of the current episode */
        uint64_t last_us;       /* last occurrence */
        uint64_t count;         /* occurrences in the current episode */
        char reason[160];
};

void log_fault_init(struct log_fault *f, const char *module, const char *what);

/* One occurrence of the fault.  Logs at `priority` when the fault starts or
 * when the reason differs from the last one logged; otherwise only counts.
 * Returns true when it logged. */
bool log_fault_raise(struct log_fault *f, int priority, uint64_t now_us,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Another occurrence of an active fault, counted without comparing or
 * logging a reason.  Does nothing when the fault is not active. */
void log_fault_again(struct log_fault *f, uint64_t now_us);

/* The fault is gone.  Logs once (notice) with duration and count when it was
 * active; does nothing otherwise. */
void log_fault_clear(struct log_fault *f, uint64_t now_us);

/* Clear the fault when it has not occurred for quiet_us (faults that have no
 * "it works again" event of their own, such as malformed frames). */
void log_fault_clear_if_quiet(struct log_fault *f, uint64_t now_us, uint64_t quiet_us);

#endif
