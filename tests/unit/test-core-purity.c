/* SPDX-License-Identifier: MIT */
/*
 * The core must stay free of I/O, clocks and libraries: no core source or
 * public header may include a socket, clock, event-loop, systemd, Modbus,
 * MQTT, SocketCAN or thread header.  This test reads every file of src/core,
 * include/seccbridge and src/telemetry (what is published and when, pure
 * like the core) and fails on the first forbidden include.
 *
 * Deciding code outside the core is held to the same: the Modbus device
 * machine (src/modbus_device.c and .h) includes no clock, thread, libmodbus,
 * event-loop, logging or POSIX I/O header and calls no clock, sleep or
 * thread function: time is its argument, the worker thread executes.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char *const forbidden[] = {
        "sys/socket.h", "sys/time.h", "sys/timerfd.h", "sys/select.h",
        "sys/epoll.h", "sys/ioctl.h", "unistd.h", "fcntl.h", "poll.h",
        "time.h", "pthread.h", "threads.h", "signal.h", "ev.h", "event.h",
        "systemd/", "modbus", "linux/", "net/if.h", "netinet/", "arpa/",
        "libsocketcan.h", "ini.h", "stdio.h", "mosquitto",
};

/* Return the forbidden header named by an #include line, or NULL. */
static const char *forbidden_include(const char *line)
{
        const char *p = line;

        while (*p == ' ' || *p == '\t')
                p++;
        if (*p != '#')
                return NULL;
        p++;
        while (*p == ' ' || *p == '\t')
                p++;
        if (strncmp(p, "include", 7) != 0)
                return NULL;
        p += 7;
        while (*p == ' ' || *p == '\t')
                p++;
        if (*p != '<' && *p != '"')
                return NULL;
        p++;
        for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++)
                if (strncmp(p, forbidden[i], strlen(forbidden[i])) == 0)
                        return forbidden[i];
        return NULL;
}

static int scan_dir(const char *dir, char *why, size_t why_len)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        int files = 0;

        assert_non_null(d);
        while ((e = readdir(d))) {
                size_t n = strlen(e->d_name);
                char path[4096], line[1024];
                unsigned lineno = 0;
                FILE *f;

                if (n < 3 || (strcmp(e->d_name + n - 2, ".c") != 0 &&
                              strcmp(e->d_name + n - 2, ".h") != 0))
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                f = fopen(path, "r");
                assert_non_null(f);
                files++;
                while (fgets(line, sizeof(line), f)) {
                        const char *bad = forbidden_include(line);

                        lineno++;
                        if (bad && why[0] == '\0')
                                snprintf(why, why_len, "%s:%u includes %s", path, lineno, bad);
                }
                fclose(f);
        }
        closedir(d);
        return files;
}

static void test_detector_catches_forbidden(void **state)
{
        (void)state;
        assert_non_null(forbidden_include("#include <sys/socket.h>"));
        assert_non_null(forbidden_include("  #  include \"ev.h\""));
        assert_non_null(forbidden_include("#include <systemd/sd-daemon.h>"));
        assert_non_null(forbidden_include("#include <modbus/modbus.h>"));
        assert_non_null(forbidden_include("#include <linux/can.h>"));
        assert_non_null(forbidden_include("#include <time.h>"));
        assert_non_null(forbidden_include("#include <mosquitto.h>"));
        assert_null(forbidden_include("#include <stdint.h>"));
        assert_null(forbidden_include("#include \"seccbridge/codec.h\""));
        assert_null(forbidden_include("/* #include <unistd.h> is not allowed */"));
}

static void test_core_includes_no_forbidden_header(void **state)
{
        char why[4200] = "";
        int files;

        (void)state;
        files = scan_dir(SOURCE_ROOT "/src/core", why, sizeof(why));
        files += scan_dir(SOURCE_ROOT "/include/seccbridge", why, sizeof(why));
        if (why[0] != '\0')
                fail_msg("%s", why);
        /* Guard against scanning the wrong place and passing vacuously. */
        assert_true(files >= 6);
}

static void test_telemetry_includes_no_forbidden_header(void **state)
{
        char why[4200] = "";
        int files;

        (void)state;
        files = scan_dir(SOURCE_ROOT "/src/telemetry", why, sizeof(why));
        if (why[0] != '\0')
                fail_msg("%s", why);
        assert_true(files >= 12);
}

/* The headers deciding code outside the core may not include, by name. */
static const char *const not_for_deciding_code[] = {
        "time.h", "pthread.h", "modbus.h", "modbus_io.h", "unistd.h", "ev.h", "log.h", "monotonic.h",
        "fcntl.h", "poll.h", "signal.h",
};
static const char *const not_called_by_deciding_code[] = {
        "clock_gettime", "usleep", "nanosleep", "sleep(", "pthread_", "log_", "gettimeofday", "time(",
};

/* The name an #include line names (between <> or ""), or NULL. */
static const char *included(const char *line, char *name, size_t len)
{
        const char *p = line, *end;

        while (*p == ' ' || *p == '\t')
                p++;
        if (*p++ != '#')
                return NULL;
        while (*p == ' ' || *p == '\t')
                p++;
        if (strncmp(p, "include", 7) != 0)
                return NULL;
        p += 7;
        while (*p == ' ' || *p == '\t')
                p++;
        if (*p != '<' && *p != '"')
                return NULL;
        end = strchr(p + 1, *p == '<' ? '>' : '"');
        if (!end || (size_t)(end - p - 1) >= len)
                return NULL;
        snprintf(name, len, "%.*s", (int)(end - p - 1), p + 1);
        return name;
}

static void scan_deciding_file(const char *path, char *why, size_t why_len)
{
        char line[1024], name[256];
        unsigned lineno = 0;
        FILE *f = fopen(path, "r");

        assert_non_null(f);
        while (fgets(line, sizeof(line), f)) {
                const char *base;

                lineno++;
                if (why[0])
                        break;
                if (included(line, name, sizeof(name))) {
                        base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
                        for (size_t i = 0; i < sizeof(not_for_deciding_code) / sizeof(not_for_deciding_code[0]); i++)
                                if (strcmp(base, not_for_deciding_code[i]) == 0 || strncmp(name, "sys/", 4) == 0)
                                        snprintf(why, why_len, "%s:%u includes %s", path, lineno, name);
                        continue;
                }
                for (size_t i = 0; i < sizeof(not_called_by_deciding_code) / sizeof(not_called_by_deciding_code[0]); i++)
                        if (strstr(line, not_called_by_deciding_code[i]))
                                snprintf(why, why_len, "%s:%u calls %s", path, lineno, not_called_by_deciding_code[i]);
        }
        fclose(f);
}

static void test_deciding_detector(void **state)
{
        char name[64];

        (void)state;
        assert_string_equal(included("#include <modbus.h>", name, sizeof(name)), "modbus.h");
        assert_string_equal(included(" # include \"modbus_device.h\"", name, sizeof(name)), "modbus_device.h");
        assert_null(included("/* #include <time.h> */", name, sizeof(name)));
}

static void test_modbus_device_machine_is_pure(void **state)
{
        char why[4200] = "";

        (void)state;
        scan_deciding_file(SOURCE_ROOT "/src/modbus_device.c", why, sizeof(why));
        scan_deciding_file(SOURCE_ROOT "/src/modbus_device.h", why, sizeof(why));
        if (why[0] != '\0')
                fail_msg("%s", why);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_detector_catches_forbidden),
                cmocka_unit_test(test_core_includes_no_forbidden_header),
                cmocka_unit_test(test_telemetry_includes_no_forbidden_header),
                cmocka_unit_test(test_deciding_detector),
                cmocka_unit_test(test_modbus_device_machine_is_pure),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
