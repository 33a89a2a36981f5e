/* SPDX-License-Identifier: MIT */
/*
 * The metrics file for node_exporter's textfile collector: every counter
 * and gauge of the daemon (src/telemetry/metrics_format.h), written every
 * [metrics] interval_ms to [metrics] path (default
 * /run/seccbridge/metrics.prom; empty: no file).
 *
 * Written atomically: the text goes to PATH.tmp (which the collector
 * ignores: not *.prom), then rename() puts it in place, so a reader sees
 * the old file or the new one, never half of one.  Mode 0644 whatever the
 * umask, for a collector running as another user.  No fsync: the file
 * lives in /run (tmpfs) and is rewritten seconds later; a few kilobytes to
 * the page cache do not hold up the loop.  A failure (directory missing,
 * no permission, disk full) is logged once, retried at every interval, and
 * logged again when it works.
 */
#ifndef SECCBRIDGE_METRICS_FILE_H
#define SECCBRIDGE_METRICS_FILE_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "log.h"
#include "metrics_format.h"
#include "telemetry_params.h"

struct metrics_file {
        struct ev_loop *loop;
        struct metrics_params params;
        bool enabled;
        ev_timer timer;
        char tmp_path[TELEMETRY_PARAMS_PATH_MAX + 8];
        /* Fills the values; the file is written right after. */
        void (*gather)(struct metrics_input *in, void *userdata);
        void *userdata;
        uint64_t writes;
        struct log_fault fail;
        char text[METRICS_TEXT_MAX];
};

/* Prepare, no I/O.  0 or -errno. */
int metrics_file_init(struct metrics_file *f, struct ev_loop *loop, const struct metrics_params *params,
                      void (*gather)(struct metrics_input *in, void *userdata), void *userdata);

/* Write the first file now, then every interval. */
void metrics_file_start(struct metrics_file *f);

/* Write it now (0 or -errno, logged once per outage). */
int metrics_file_write(struct metrics_file *f);

void metrics_file_finish(struct metrics_file *f);

#endif
