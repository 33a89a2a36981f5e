/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "build-config.h"
#include "seccsim.h"

static void usage(FILE *out)
{
        fputs("Usage: seccsim COMMAND [OPTIONS]\n"
              "\n"
              "Controller-side simulator and CAN codec toolbox for the ADVANTICS\n"
              "Generic EVSE CAN interface v2 (database v2.7).\n"
              "\n"
              "Commands:\n"
              "  encode [--pistol N] MESSAGE [SIGNAL=VALUE ...]\n"
              "                 print one frame in cansend syntax\n"
              "  decode [-i IFACE] [--pistol N]\n"
              "                 decode candump -L / cansend lines from stdin,\n"
              "                 or live traffic from a CAN interface\n"
              "  session -i IFACE [OPTIONS]\n"
              "                 play the controller through a full charge session\n"
              "  monitor -i IFACE [--pistol N] [--log FILE]\n"
              "                 both sides of the interface on one live screen\n"
              "  help           this text\n"
              "\n"
              "Run 'seccsim COMMAND --help' for the options of a command.\n", out);
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                usage(stderr);
                return 2;
        }
        if (strcmp(argv[1], "encode") == 0)
                return seccsim_encode_main(argc - 1, argv + 1);
        if (strcmp(argv[1], "decode") == 0)
                return seccsim_decode_main(argc - 1, argv + 1);
        if (strcmp(argv[1], "session") == 0)
                return seccsim_session_main(argc - 1, argv + 1);
        if (strcmp(argv[1], "monitor") == 0)
                return seccsim_monitor_main(argc - 1, argv + 1);
        if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
            strcmp(argv[1], "-h") == 0) {
                usage(stdout);
                return 0;
        }
        if (strcmp(argv[1], "--version") == 0) {
                printf("seccsim %s\n", SECCBRIDGE_VERSION);
                return 0;
        }
        fprintf(stderr, "seccsim: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return 2;
}
