/* SPDX-License-Identifier: MIT */
/*
 * seccbridge: the power-modules side of the ADVANTICS Generic EVSE CAN
 * interface v2, driving a DC converter.
 *
 * Start-up in dependency order, shutdown in exact reverse:
 *   options -> logging -> config -> event loop -> bridge: CAN interface
 *   settings and socket -> converter -> real-time setup (memory locked once
 *   the converter's threads exist) -> session, timers, signals, READY=1.
 *
 * Exit status: 0 clean stop, 78 bad config, 69 CAN interface missing or
 * unusable at start, 1 any other failure.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "build-config.h"
#include "bridge.h"
#include "config.h"
#include "log.h"
#include "realtime.h"

#define LOG_MODULE NULL

#define EXIT_CAN_UNAVAILABLE 69         /* EX_UNAVAILABLE */

/* The daemon's only globals (see log.h for why logging needs one). */
struct log_settings log_settings;
static struct bridge bridge;

static void usage(FILE *out)
{
        fprintf(out,
                "Usage: seccbridge [OPTIONS]\n"
                "\n"
                "Power-modules side of the ADVANTICS Generic EVSE CAN interface v2\n"
                "(database v2.7): lets the charge controller drive a DC converter.\n"
                "\n"
                "Options:\n"
                "  -c, --config FILE   configuration file (default %s)\n"
                "      --check-config  validate the configuration and exit (0 valid, 78 invalid)\n"
                "  -v, --verbose       log debug messages too\n"
                "      --version       print the version and exit\n"
                "  -h, --help          this text\n"
                "\n"
                "Exit status: 0 stopped cleanly, 78 invalid configuration,\n"
                "69 CAN interface missing or unusable at start, 1 other failure.\n"
                "Signals: SIGTERM/SIGINT stop safely, SIGHUP reloads the configuration.\n",
                CONFIG_DEFAULT_PATH);
}

int main(int argc, char **argv)
{
        enum { OPT_CHECK_CONFIG = 0x100, OPT_VERSION };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
                { "verbose", no_argument, NULL, 'v' },
                { "version", no_argument, NULL, OPT_VERSION },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        const char *config_path = CONFIG_DEFAULT_PATH;
        bool check_only = false;
        bool verbose = false;
        struct config_error err;
        struct config cfg;
        struct ev_loop *loop;
        int opt;
        int r;

        while ((opt = getopt_long(argc, argv, "c:vh", options, NULL)) != -1) {
                switch (opt) {
                case 'c':
                        config_path = optarg;
                        break;
                case OPT_CHECK_CONFIG:
                        check_only = true;
                        break;
                case 'v':
                        verbose = true;
                        break;
                case OPT_VERSION:
                        printf("seccbridge %s\n", SECCBRIDGE_VERSION);
                        return EXIT_SUCCESS;
                case 'h':
                        usage(stdout);
                        return EXIT_SUCCESS;
                default:
                        usage(stderr);
                        return EXIT_FAILURE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "seccbridge: unexpected argument '%s'\n", argv[optind]);
                usage(stderr);
                return EXIT_FAILURE;
        }

        log_setup(verbose);

        r = config_load(config_path, &cfg, &err);
        if (r < 0) {
                char msg[sizeof(err.file) + sizeof(err.key) + sizeof(err.reason) + 16];

                config_error_format(&err, msg, sizeof(msg));
                log_err("%s", msg);
                return CONFIG_EXIT_BAD;
        }
        if (check_only) {
                printf("%s: OK\n", cfg.path);
                return EXIT_SUCCESS;
        }

        if (cfg.several)
                log_info("seccbridge %s: %u pistols and %u converters on %s", SECCBRIDGE_VERSION, cfg.n_pistols,
                         cfg.n_units, cfg.can.interface);
        else
                log_info("seccbridge %s: pistol %u on %s, converter %s, limits %u.%u V / %u.%u A / %u W",
                         SECCBRIDGE_VERSION, cfg.can.pistol_index, cfg.can.interface, cfg.converter.backend,
                         cfg.session.limits.max_voltage_dv / 10, cfg.session.limits.max_voltage_dv % 10,
                         cfg.session.limits.max_current_da / 10, cfg.session.limits.max_current_da % 10,
                         (unsigned)cfg.session.limits.max_power_w);

        loop = ev_default_loop(EVFLAG_AUTO);
        if (!loop) {
                log_err("cannot create the event loop");
                return EXIT_FAILURE;
        }

        r = bridge_init(&bridge, loop, &cfg);
        if (r < 0) {
                r = EXIT_FAILURE;
                goto finish;
        }
        r = bridge_open_can(&bridge);
        if (r < 0) {
                r = EXIT_CAN_UNAVAILABLE;
                goto finish;
        }
        r = bridge_open_converter(&bridge);
        if (r < 0) {
                /* The backend logged why. */
                r = EXIT_FAILURE;
                goto finish;
        }
        /* After the converter: its worker threads' stacks are mapped by
         * now and get locked with the rest.  A lock that fails is logged
         * and the daemon goes on. */
        realtime_setup();
        r = bridge_start(&bridge);
        if (r < 0) {
                r = EXIT_FAILURE;
                goto finish;
        }

        ev_run(loop, 0);
        r = EXIT_SUCCESS;

finish:
        bridge_finish(&bridge);
        ev_loop_destroy(loop);
        if (r == EXIT_SUCCESS)
                log_info("stopped");
        else
                log_err("exiting with status %d", r);
        return r;
}
