/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the daemon's configuration parser on arbitrary text.  Checks:
 * no crash; a refusal always says why (a reason, and a line within the text
 * when it names one); an accepted configuration is one the protocol core
 * takes (session_config_check) and its limits are usable (limits_check), its
 * pistol is in 1..31 and the same in [can] and in the session, its backend
 * is one of the known ones.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include "config.h"
#include "log.h"
#include "seccbridge/limits.h"

static void fail(const char *what, const uint8_t *data, size_t size)
{
        fprintf(stderr, "config: %s\n--- input\n%.*s\n---\n", what, (int)size, (const char *)data);
        abort();
}

/* The daemon defines it in main.c; quiet here (nothing but emergencies). */
struct log_settings log_settings = { .max_priority = 0 };

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        (void)argc;
        (void)argv;
        /* A profile path in the text may name standard input: never block
         * on it. */
        if (fd >= 0) {
                dup2(fd, STDIN_FILENO);
                close(fd);
        }
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct config cfg;
        struct config_error err;
        unsigned lines = 1;
        FILE *f;
        int r;

        if (size == 0)
                f = fopen("/dev/null", "r");
        else
                f = fmemopen((void *)data, size, "r");
        if (!f)
                return 0;
        for (size_t i = 0; i < size; i++)
                lines += data[i] == '\n';
        r = config_load_stream(f, "fuzz.conf", &cfg, &err);
        fclose(f);
        if (r < 0) {
                if (!err.reason[0])
                        fail("refused without a reason", data, size);
                if (strcmp(err.file, "fuzz.conf") != 0)
                        fail("error names another file", data, size);
                if (err.line > lines)
                        fail("error names a line past the end", data, size);
                return 0;
        }
        if (r != 0)
                fail("unexpected return code", data, size);
        if (session_config_check(&cfg.session) != 0)
                fail("accepted a configuration the core refuses", data, size);
        if (limits_check(&cfg.session.limits) != 0)
                fail("accepted unusable limits", data, size);
        if (cfg.can.pistol_index < 1 || cfg.can.pistol_index > 31 ||
            cfg.session.pistol != cfg.can.pistol_index)
                fail("pistol index out of range or inconsistent", data, size);
        if (strcmp(cfg.converter.backend, "sim") != 0 && strcmp(cfg.converter.backend, "modbus-tcp") != 0 &&
            strcmp(cfg.converter.backend, "modbus-rtu") != 0)
                fail("unknown backend accepted", data, size);
        if (!memchr(cfg.can.interface, '\0', sizeof(cfg.can.interface)) || !cfg.can.interface[0])
                fail("interface name empty or unterminated", data, size);
        return 0;
}
