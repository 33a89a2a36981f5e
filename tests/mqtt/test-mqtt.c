/* SPDX-License-Identifier: MIT */
/*
 * The MQTT publisher (src/mqtt.c with the telemetry module) against a real
 * broker, Debian's mosquitto, started by this program on loopback TCP or a
 * Unix socket, with mosquitto_sub as the reader.  The publisher runs as in
 * the daemon, on a libev loop; a 10 ms probe timer on the same loop records
 * how late it ever ran, so that a call that blocked the loop shows (the CAN
 * side shares that loop).  No CAN needed: this runs anywhere.
 *
 * Usage: test-mqtt CERT_DIR [CASE...]    (CERT_DIR from make-certs.sh)
 * Cases: tcp unix restart stall tls auth (all by default).  Output: TAP.
 * Exit 77 (skip) without mosquitto or mosquitto_sub.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ev.h>

#include "log.h"
#include "mqtt.h"
#include "telemetry.h"
#include "telemetry_params.h"

struct log_settings log_settings = { .max_priority = LOG_INFO, .prefix = false };

#define MOSQUITTO "/usr/sbin/mosquitto"
#define MOSQUITTO_SUB "/usr/bin/mosquitto_sub"
#define MOSQUITTO_PASSWD "/usr/bin/mosquitto_passwd"
#define PREFIX "test/gw/pistol1"
#define QUEUE 4

static const char *cert_dir;
static int failures;
static int test_number;

struct env {
        struct ev_loop *loop;
        char dir[64];
        int port;
        pid_t broker;
        pid_t sub;
        char sub_log[128];
        int saved_stderr;
        char daemon_log[128];

        struct telemetry tele;
        struct event_slot slots[QUEUE];
        struct telemetry_input in;
        struct mqtt mqtt;
        struct mqtt_params params;
        bool mqtt_ready;

        ev_timer probe;
        uint64_t probe_due_us;
        uint64_t max_late_us;
        ev_timer stop_timer;
};

static uint64_t now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t wall_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

__attribute__((format(printf, 2, 3)))
static bool check(bool ok, const char *fmt, ...)
{
        va_list ap;

        if (ok)
                return true;
        failures++;
        printf("#   FAILED: ");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
        fflush(stdout);
        return false;
}

/* ---- files ---- */

static char *slurp(const char *path)
{
        static char buf[1 << 20];
        int fd = open(path, O_RDONLY);
        ssize_t n = 0, r;

        buf[0] = '\0';
        if (fd < 0)
                return buf;
        while ((r = read(fd, buf + n, sizeof(buf) - 1 - (size_t)n)) > 0)
                n += r;
        close(fd);
        buf[n] = '\0';
        return buf;
}

static int count(const char *text, const char *needle)
{
        int n = 0;

        for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
                n++;
        return n;
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");

        if (!f) {
                printf("Bail out! cannot write %s\n", path);
                exit(1);
        }
        fputs(text, f);
        fclose(f);
}

/* ---- processes ---- */

static pid_t spawn(char *const argv[], const char *out)
{
        pid_t pid = fork();

        if (pid == 0) {
                int fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0644);

                if (fd >= 0) {
                        dup2(fd, STDOUT_FILENO);
                        dup2(fd, STDERR_FILENO);
                }
                execv(argv[0], argv);
                _exit(127);
        }
        return pid;
}

static void reap(pid_t *pid, int sig)
{
        if (*pid <= 0)
                return;
        kill(*pid, sig);
        if (sig == SIGSTOP)
                return;
        kill(*pid, SIGCONT);
        waitpid(*pid, NULL, 0);
        *pid = 0;
}

/* Run the loop for ms milliseconds. */
static void run_for(struct env *e, unsigned ms)
{
        /* Lateness counts while the loop runs, not while the test itself
         * waits (starting a broker, sleeping between steps). */
        e->probe_due_us = 0;
        ev_now_update(e->loop);
        ev_timer_again(e->loop, &e->probe);
        ev_timer_set(&e->stop_timer, ms / 1000., 0.);
        ev_timer_start(e->loop, &e->stop_timer);
        ev_run(e->loop, 0);
}

static void stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        ev_break(loop, EVBREAK_ALL);
}

/* The loop's health: how late a 10 ms timer ever fired. */
static void probe_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct env *e = w->data;
        uint64_t now = now_us();

        if (e->probe_due_us && now > e->probe_due_us && now - e->probe_due_us > e->max_late_us)
                e->max_late_us = now - e->probe_due_us;
        e->probe_due_us = now + 10000;
}

static bool socket_ready(const struct env *e, bool unix_socket)
{
        int fd = socket(unix_socket ? AF_UNIX : AF_INET, SOCK_STREAM, 0);
        bool ok;

        if (unix_socket) {
                struct sockaddr_un a = { .sun_family = AF_UNIX };

                snprintf(a.sun_path, sizeof(a.sun_path), "%s/sock", e->dir);
                ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        } else {
                struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)e->port) };

                a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        }
        close(fd);
        return ok;
}

/* The broker, with these extra config lines; waits until it listens. */
static void broker_start(struct env *e, const char *extra)
{
        char conf[160], text[2048], out[160];
        char *argv[] = { MOSQUITTO, "-c", conf, NULL };

        snprintf(conf, sizeof(conf), "%s/broker.conf", e->dir);
        snprintf(out, sizeof(out), "%s/broker.log", e->dir);
        snprintf(text, sizeof(text),
                 "user root\n"
                 "persistence true\npersistence_location %s/\n"
                 "listener 0 %s/sock\n"
                 "listener %d 127.0.0.1\n"
                 "%s\n",
                 e->dir, e->dir, e->port, extra);
        write_file(conf, text);
        e->broker = spawn(argv, out);
        for (int i = 0; i < 100 && !(socket_ready(e, false) && socket_ready(e, true)); i++)
                usleep(20000);
}

/* mosquitto_sub on everything under the prefix, "topic payload" lines. */
static void reader_start(struct env *e, bool persistent, const char *extra_args)
{
        char port[8];
        char *argv[16];
        int n = 0;

        snprintf(port, sizeof(port), "%d", e->port);
        snprintf(e->sub_log, sizeof(e->sub_log), "%s/sub.log", e->dir);
        argv[n++] = MOSQUITTO_SUB;
        argv[n++] = "-h";
        argv[n++] = "127.0.0.1";
        argv[n++] = "-p";
        argv[n++] = port;
        argv[n++] = "-q";
        argv[n++] = "1";
        argv[n++] = "-v";
        argv[n++] = "-t";
        argv[n++] = PREFIX "/#";
        if (persistent) {
                argv[n++] = "-c";
                argv[n++] = "-i";
                argv[n++] = "reader";
        }
        if (extra_args) {
                argv[n++] = "-u";
                argv[n++] = (char *)extra_args;
                argv[n++] = "-P";
                argv[n++] = "reader-secret";
        }
        argv[n] = NULL;
        e->sub = spawn(argv, e->sub_log);
        usleep(300000);
}

/* Every message the reader got, against the schemas of doc/mqtt.md
 * (tests/integration/mqtt-check.py, which needs python3-jsonschema:
 * scripts/install-deps.sh installs it; without it the check fails). */
static void schema_check(struct env *e)
{
        char out[160];
        char *argv[] = { "/usr/bin/python3", SOURCE_ROOT "/tests/integration/mqtt-check.py",
                         SOURCE_ROOT "/doc/mqtt.md", e->sub_log, PREFIX, NULL };
        int status = 0;
        pid_t pid;

        snprintf(out, sizeof(out), "%s/schema.log", e->dir);
        pid = spawn(argv, out);
        waitpid(pid, &status, 0);
        if (!check(!strstr(slurp(out), "python3-jsonschema is missing"),
                   "python3-jsonschema is there to check the schemas (scripts/install-deps.sh)"))
                return;
        if (!check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the messages match the schemas of doc/mqtt.md")) {
                for (char *l = strtok(slurp(out), "\n"); l; l = strtok(NULL, "\n"))
                        if (strncmp(l, "ERROR", 5) == 0)
                                printf("#   %s\n", l);
        }
}

/* ---- the publisher ---- */

static void observe(struct env *e)
{
        telemetry_observe(&e->tele, &e->in, now_us(), wall_us());
        mqtt_kick(&e->mqtt);
}

/* An event: the CAN interface goes down, or up again. */
static void toggle_can(struct env *e)
{
        e->in.can_up = !e->in.can_up;
        observe(e);
}

static void publisher_start(struct env *e)
{
        struct telemetry_config tc = { .pistol = 1, .event_window = MQTT_EVENT_WINDOW,
                                       .run_id = "0123456789abcdef", .version = "test" };

        tc.state_min_interval_us = telemetry_params_state_interval_us(&e->params);
        telemetry_init(&e->tele, &tc, e->slots, QUEUE);
        memset(&e->in, 0, sizeof(e->in));
        e->in.can_up = true;
        e->in.can_interface = "vcan0";
        e->in.converter_backend = "sim";
        e->in.converter_error = "";
        e->in.status.interface_version = 2;
        e->in.status.charging_loop_soc_pct = SESSION_NOT_REPORTED;
        e->in.status.finished_state = SESSION_NOT_REPORTED;
        e->in.status.measurement.link_ok = true;
        if (!check(mqtt_init(&e->mqtt, e->loop, &e->params, 1, &e->tele) == 0, "mqtt_init"))
                return;
        e->mqtt_ready = true;
        observe(e);
        check(mqtt_start(&e->mqtt) == 0, "mqtt_start");
}

static void flushed_cb(void *userdata)
{
        (void)userdata;
}

static void publisher_stop(struct env *e)
{
        if (!e->mqtt_ready)
                return;
        mqtt_stop(&e->mqtt, flushed_cb, e);
        for (int i = 0; i < 50 && !mqtt_flushed(&e->mqtt); i++)
                run_for(e, 20);
        mqtt_finish(&e->mqtt);
        e->mqtt_ready = false;
}

/* ---- a case ---- */

static void setup(struct env *e)
{
        struct sockaddr_in a = { .sin_family = AF_INET };
        socklen_t len = sizeof(a);
        int fd;

        memset(e, 0, sizeof(*e));
        snprintf(e->dir, sizeof(e->dir), "/tmp/seccbridge-mqtt.XXXXXX");
        if (!mkdtemp(e->dir)) {
                printf("Bail out! mkdtemp: %s\n", strerror(errno));
                exit(1);
        }
        /* A free port on loopback. */
        fd = socket(AF_INET, SOCK_STREAM, 0);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind(fd, (struct sockaddr *)&a, sizeof(a));
        getsockname(fd, (struct sockaddr *)&a, &len);
        e->port = ntohs(a.sin_port);
        close(fd);

        e->loop = ev_loop_new(EVFLAG_AUTO);
        ev_timer_init(&e->stop_timer, stop_cb, 0., 0.);
        ev_timer_init(&e->probe, probe_cb, 0.01, 0.01);
        e->probe.data = e;

        {
                struct telemetry_params tp;

                telemetry_params_defaults(&tp);
                e->params = tp.mqtt;
        }
        e->params.enable = true;
        snprintf(e->params.host, sizeof(e->params.host), "127.0.0.1");
        e->params.port = (uint16_t)e->port;
        snprintf(e->params.topic_prefix, sizeof(e->params.topic_prefix), PREFIX);
        e->params.keepalive_s = 5;
        e->params.reconnect_max_ms = 2000;

        /* The publisher's log (stderr) into a file of its own. */
        snprintf(e->daemon_log, sizeof(e->daemon_log), "%s/daemon.log", e->dir);
        fflush(stderr);
        e->saved_stderr = dup(STDERR_FILENO);
        fd = open(e->daemon_log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, STDERR_FILENO);
        close(fd);
}

static void teardown(struct env *e, const char *name)
{
        char cmd[256];

        publisher_stop(e);
        reap(&e->sub, SIGTERM);
        reap(&e->broker, SIGTERM);
        fflush(stderr);
        dup2(e->saved_stderr, STDERR_FILENO);
        close(e->saved_stderr);
        ev_loop_destroy(e->loop);
        printf("# the loop's 10 ms probe was at worst %.1f ms late\n", e->max_late_us / 1000.);
        if (failures || getenv("SECCBRIDGE_TEST_VERBOSE")) {
                printf("# --- publisher log\n");
                for (char *l = strtok(slurp(e->daemon_log), "\n"); l; l = strtok(NULL, "\n"))
                        printf("#   %s\n", l);
                printf("# --- reader\n");
                for (char *l = strtok(slurp(e->sub_log), "\n"); l; l = strtok(NULL, "\n"))
                        printf("#   %.200s\n", l);
        }
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
        if (system(cmd) != 0)
                printf("# could not remove %s\n", e->dir);
        printf("%s %d - %s\n", failures ? "not ok" : "ok", ++test_number, name);
        fflush(stdout);
}

/* ---- the cases ---- */

/* Loopback TCP: online (retained), events in order with their numbers,
 * the state at most state_max_per_s, offline at a clean stop. */
static void case_tcp(struct env *e)
{
        char *sub;
        int states;

        broker_start(e, "allow_anonymous true");
        reader_start(e, false, NULL);
        e->params.state_max_per_s = 4;
        publisher_start(e);
        run_for(e, 500);
        check(mqtt_connected(&e->mqtt), "connected");
        for (int i = 0; i < 6; i++) {
                toggle_can(e);
                run_for(e, 20);
        }
        /* 40 changes of the state in 2 s: at most 4 a second go out. */
        for (int i = 0; i < 40; i++) {
                e->in.status.measurement.voltage_dv = (uint16_t)(100 + i);
                observe(e);
                run_for(e, 50);
        }
        run_for(e, 600);
        publisher_stop(e);
        run_for(e, 300);
        sub = slurp(e->sub_log);
        check(strstr(sub, PREFIX "/online {\"online\":true,") != NULL, "online seen");
        for (int i = 1; i <= 6; i++) {
                char needle[64];

                snprintf(needle, sizeof(needle), PREFIX "/event {\"seq\":%d,\"type\":\"fault%s", i,
                         i % 2 ? "\"" : "_ended\"");
                check(count(sub, needle) == 1, "event %d seen once", i);
        }
        check(strstr(sub, "{\"seq\":1,") < strstr(sub, "{\"seq\":6,"), "events in order");
        states = count(sub, PREFIX "/state {");
        check(states >= 6 && states <= 4 * 3 + 3, "%d states for 40 changes in 2 s at 4 per second", states);
        check(strstr(sub, "\"voltage_v\":13.9,") != NULL, "the last state published");
        check(strstr(sub, PREFIX "/online {\"online\":false,") != NULL &&
                      strstr(sub, "\"reason\":\"stopped\"") != NULL,
              "offline at the stop");
        check(strstr(sub, "connection_lost") == NULL, "no last will at a clean stop");
        check(count(slurp(e->daemon_log), "connected to 127.0.0.1:") == 1, "one connection");
        schema_check(e);
        check(e->max_late_us < 200000, "the loop was never held up (worst %llu us late)",
              (unsigned long long)e->max_late_us);
}

/* A Unix socket: the local broker case. */
static void case_unix(struct env *e)
{
        char *sub;

        broker_start(e, "allow_anonymous true");
        reader_start(e, false, NULL);
        snprintf(e->params.socket, sizeof(e->params.socket), "%s/sock", e->dir);
        /* The highest rate, for the stop below: publisher_start() hands the
         * parameters over. */
        e->params.state_max_per_s = 20;
        publisher_start(e);
        run_for(e, 500);
        check(mqtt_connected(&e->mqtt), "connected over the Unix socket");
        toggle_can(e);
        run_for(e, 300);
        sub = slurp(e->sub_log);
        check(strstr(sub, PREFIX "/state {") != NULL, "state seen");
        check(strstr(sub, PREFIX "/event {\"seq\":1,\"type\":\"fault\"") != NULL, "event seen");
        check(strstr(slurp(e->daemon_log), "connected to unix:") != NULL, "log names the socket");
        /* Stopped while the state changes at the highest rate: "offline"
         * is the last word. */
        check(e->tele.cfg.state_min_interval_us == 50000, "states at 20 a second");
        for (int i = 0; i < 30; i++) {
                e->in.status.measurement.voltage_dv = (uint16_t)(500 + i);
                observe(e);
                run_for(e, 7);
        }
        publisher_stop(e);
        run_for(e, 300);
        sub = slurp(e->sub_log);
        {
                char *last = strrchr(sub, '\n');

                while (last && last > sub && last[-1] != '\n' && last[-1] != '\0')
                        last--;
                static const char offline[] = PREFIX "/online {\"online\":false,";

                check(last && strncmp(last, offline, sizeof(offline) - 1) == 0,
                      "offline is the last message: %.120s", last ? last : "(none)");
        }
}

/* The broker stops (SIGTERM, as a restart does) and comes back: its last
 * will tells the reader we are offline, the events of the outage wait (the
 * oldest dropped beyond the queue, and reported), and all goes out after
 * the reconnection; the loop never waited for any of it. */
static void case_restart(struct env *e)
{
        char *sub, *dlog;
        const char *will, *back;

        broker_start(e, "allow_anonymous true");
        reader_start(e, true, NULL);
        publisher_start(e);
        run_for(e, 500);
        check(mqtt_connected(&e->mqtt), "connected");
        reap(&e->broker, SIGTERM);
        run_for(e, 300);
        check(!mqtt_connected(&e->mqtt), "the loss noticed");
        for (int i = 0; i < QUEUE + 2; i++) {
                toggle_can(e);
                run_for(e, 100);
        }
        run_for(e, 2000);
        broker_start(e, "allow_anonymous true");
        run_for(e, 4500);       /* backoff: at most 2 s, and the reader's own reconnection */
        check(mqtt_connected(&e->mqtt), "connected again");
        run_for(e, 500);
        sub = slurp(e->sub_log);
        will = strstr(sub, PREFIX "/online {\"online\":false,\"reason\":\"connection_lost\"");
        check(will != NULL, "the last will seen");
        back = will ? strstr(will, PREFIX "/online {\"online\":true,") : NULL;
        check(back != NULL, "online again after the will");
        check(strstr(sub, "\"type\":\"events_dropped\"") != NULL && strstr(sub, "\"count\":2,") != NULL,
              "2 events reported dropped");
        for (int i = 3; i <= QUEUE + 2; i++) {
                char needle[32];

                snprintf(needle, sizeof(needle), "{\"seq\":%d,", i);
                check(strstr(sub, needle) != NULL, "event %d delivered after the reconnection", i);
        }
        check(strstr(sub, "{\"seq\":1,\"type\":\"fault\"") == NULL, "event 1 was dropped, not delivered");
        schema_check(e);
        dlog = slurp(e->daemon_log);
        check(count(dlog, "lost") == 1, "the loss logged once");
        check(count(dlog, "broker: back to normal after") == 1, "the end of the outage logged once");
        check(e->max_late_us < 200000, "the loop was never held up (worst %llu us late)",
              (unsigned long long)e->max_late_us);
}

/* A broker that stops reading (SIGSTOP) while the state changes at the
 * highest rate: nothing piles up in the loop's way, the keepalive finds
 * the silence, and everything resumes once the broker does. */
static void case_stall(struct env *e)
{
        struct rusage before, after;
        double cpu;

        broker_start(e, "allow_anonymous true");
        e->params.state_max_per_s = 20;
        publisher_start(e);
        run_for(e, 500);
        check(mqtt_connected(&e->mqtt), "connected");
        kill(e->broker, SIGSTOP);
        getrusage(RUSAGE_SELF, &before);
        for (int i = 0; i < 160; i++) {         /* 16 s */
                e->in.status.measurement.voltage_dv = (uint16_t)(1000 + i);
                observe(e);
                if (i % 20 == 0)
                        toggle_can(e);
                run_for(e, 100);
        }
        getrusage(RUSAGE_SELF, &after);
        cpu = (double)(after.ru_utime.tv_sec - before.ru_utime.tv_sec + after.ru_stime.tv_sec -
                       before.ru_stime.tv_sec) +
              (double)(after.ru_utime.tv_usec - before.ru_utime.tv_usec + after.ru_stime.tv_usec -
                       before.ru_stime.tv_usec) / 1e6;
        check(!mqtt_connected(&e->mqtt), "the stalled broker given up (keepalive)");
        check(strstr(slurp(e->daemon_log), "no answer within the keepalive") != NULL ||
                      strstr(slurp(e->daemon_log), "no answer from the broker") != NULL,
              "the reason logged");
        check(cpu < 2.0, "no busy loop while the broker is stalled (%.2f s of CPU in 16 s)", cpu);
        kill(e->broker, SIGCONT);
        run_for(e, 5000);
        check(mqtt_connected(&e->mqtt), "connected again once the broker answers");
        check(e->max_late_us < 200000, "the loop was never held up (worst %llu us late)",
              (unsigned long long)e->max_late_us);
}

/* TLS with a test CA: server verified, client certificate required; a
 * wrong CA is refused with the TLS reason, logged once. */
static void case_tls(struct env *e)
{
        char extra[1024];
        char *dlog;

        snprintf(extra, sizeof(extra),
                 "listener %d 127.0.0.1\n"
                 "cafile %s/ca.crt\ncertfile %s/server.crt\nkeyfile %s/server.key\n"
                 "require_certificate true\nallow_anonymous true",
                 e->port + 1 > 65535 ? e->port - 1 : e->port + 1, cert_dir, cert_dir, cert_dir);
        broker_start(e, extra);
        reader_start(e, false, NULL);
        e->params.port = (uint16_t)(e->port + 1 > 65535 ? e->port - 1 : e->port + 1);
        snprintf(e->params.ca_file, sizeof(e->params.ca_file), "%s/ca.crt", cert_dir);
        snprintf(e->params.cert_file, sizeof(e->params.cert_file), "%s/client.crt", cert_dir);
        snprintf(e->params.key_file, sizeof(e->params.key_file), "%s/client.key", cert_dir);
        publisher_start(e);
        run_for(e, 1500);
        check(mqtt_connected(&e->mqtt), "connected over TLS");
        toggle_can(e);
        run_for(e, 300);
        check(strstr(slurp(e->sub_log), PREFIX "/event {\"seq\":1,") != NULL, "event over TLS seen");
        publisher_stop(e);

        /* A CA that did not sign the broker's certificate. */
        snprintf(e->params.ca_file, sizeof(e->params.ca_file), "%s/other-ca.crt", cert_dir);
        publisher_start(e);
        run_for(e, 5000);
        check(!mqtt_connected(&e->mqtt), "not connected with the wrong CA");
        dlog = slurp(e->daemon_log);
        check(count(dlog, "TLS: ") == 1, "the TLS failure logged once (%d)", count(dlog, "TLS: "));
        check(strstr(dlog, "certificate verify failed") != NULL, "with the reason");
        check(mqtt_counters(&e->mqtt)->connection_failures >= 2, "and retried");
        check(e->max_late_us < 200000, "the loop was never held up (worst %llu us late)",
              (unsigned long long)e->max_late_us);
}

/* A password file: the right password connects; a wrong one is refused by
 * the broker with its reason, logged once, retried with backoff, never in
 * a busy loop. */
static void case_auth(struct env *e)
{
        char extra[512], pw[160], out[160], users[160];
        char *argv[] = { MOSQUITTO_PASSWD, "-b", users, "seccbridge", "right-secret", NULL };
        char *argv2[] = { MOSQUITTO_PASSWD, "-b", users, "reader", "reader-secret", NULL };
        struct rusage before, after;
        pid_t pid;
        char *dlog;
        uint64_t failed;
        double cpu;

        snprintf(users, sizeof(users), "%s/users", e->dir);
        snprintf(out, sizeof(out), "%s/passwd.log", e->dir);
        write_file(users, "");
        pid = spawn(argv, out);
        waitpid(pid, NULL, 0);
        pid = spawn(argv2, out);
        waitpid(pid, NULL, 0);
        snprintf(extra, sizeof(extra), "allow_anonymous false\npassword_file %s", users);
        broker_start(e, extra);
        reader_start(e, false, "reader");

        snprintf(pw, sizeof(pw), "%s/password", e->dir);
        write_file(pw, "right-secret\n");
        snprintf(e->params.username, sizeof(e->params.username), "seccbridge");
        snprintf(e->params.password_file, sizeof(e->params.password_file), "%s", pw);
        publisher_start(e);
        run_for(e, 800);
        check(mqtt_connected(&e->mqtt), "connected with the right password");
        check(strstr(slurp(e->sub_log), PREFIX "/online {\"online\":true,") != NULL, "online seen");
        publisher_stop(e);

        write_file(pw, "wrong-secret\n");
        getrusage(RUSAGE_SELF, &before);
        publisher_start(e);
        run_for(e, 8000);
        getrusage(RUSAGE_SELF, &after);
        cpu = (double)(after.ru_utime.tv_sec - before.ru_utime.tv_sec + after.ru_stime.tv_sec -
                       before.ru_stime.tv_sec) +
              (double)(after.ru_utime.tv_usec - before.ru_utime.tv_usec + after.ru_stime.tv_usec -
                       before.ru_stime.tv_usec) / 1e6;
        check(!mqtt_connected(&e->mqtt), "refused with the wrong password");
        dlog = slurp(e->daemon_log);
        check(count(dlog, "refused by the broker: Connection Refused: not authorised.") == 1,
              "the refusal logged once, with the broker's reason");
        failed = mqtt_counters(&e->mqtt)->connection_failures;
        /* Backoff 0.5..1 s, then 1..2 s, capped at 2 s: in 8 s between 4
         * and 12 attempts, not hundreds. */
        check(failed >= 4 && failed <= 12, "%llu attempts in 8 s with backoff", (unsigned long long)failed);
        check(cpu < 1.0, "no busy loop (%.2f s of CPU in 8 s)", cpu);
        /* The password file is read at every attempt: fixed, it connects. */
        write_file(pw, "right-secret\n");
        run_for(e, 3000);
        check(mqtt_connected(&e->mqtt), "connected once the password file is right");
        check(strstr(slurp(e->daemon_log), "broker: back to normal after") != NULL, "the end of the refusals logged");
}

static const struct {
        const char *name;
        void (*fn)(struct env *e);
} cases[] = {
        { "tcp", case_tcp },         { "unix", case_unix }, { "restart", case_restart },
        { "stall", case_stall },     { "tls", case_tls },   { "auth", case_auth },
};

int main(int argc, char **argv)
{
        int n = 0;

        setvbuf(stdout, NULL, _IOLBF, 0);
        signal(SIGPIPE, SIG_IGN);
        if (argc < 2) {
                fprintf(stderr, "usage: test-mqtt CERT_DIR [CASE...]\n");
                return 2;
        }
        if (access(MOSQUITTO, X_OK) != 0 || access(MOSQUITTO_SUB, X_OK) != 0) {
                printf("1..0 # SKIP no %s or %s (Debian packages mosquitto, mosquitto-clients)\n", MOSQUITTO,
                       MOSQUITTO_SUB);
                return 77;
        }
        cert_dir = argv[1];
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                bool wanted = argc == 2;

                for (int a = 2; a < argc; a++)
                        wanted |= strcmp(argv[a], cases[i].name) == 0;
                n += wanted;
        }
        printf("1..%d\n", n);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct env *e;
                bool wanted = argc == 2;
                int before = failures;

                for (int a = 2; a < argc; a++)
                        wanted |= strcmp(argv[a], cases[i].name) == 0;
                if (!wanted)
                        continue;
                e = calloc(1, sizeof(*e));
                failures = 0;
                setup(e);
                cases[i].fn(e);
                teardown(e, cases[i].name);
                failures += before;
                free(e);
        }
        return failures ? 1 : 0;
}
