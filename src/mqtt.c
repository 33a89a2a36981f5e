/* SPDX-License-Identifier: MIT */
/*
 * The MQTT connection on the event loop (see mqtt.h): libmosquitto driven
 * by hand (mosquitto_loop_read/_write/_misc from libev watchers), never by
 * a thread of its own.  libmosquitto's callbacks only record what
 * happened; it is handled after the call into libmosquitto returns, where
 * tearing the client down is safe.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "mqtt.h"

#define LOG_MODULE "mqtt"

#define MQTT_BACKOFF_MIN_MS 1000
/* A connection attempt that got no CONNACK by then is abandoned. */
#define MQTT_CONNECT_TIMEOUT_S 10.0
/* libmosquitto's housekeeping: keepalive pings, a broker gone silent. */
#define MQTT_MISC_INTERVAL_S 1.0
/* Below CAN and the core timer (priority 0) within a loop iteration. */
#define MQTT_PRIORITY (-1)
/* A timer that would fire at once while nothing could be published waits
 * this long instead of spinning. */
#define MQTT_MIN_DUE_S 0.01
/* Write-ready callbacks in a row after which libmosquitto still wants to
 * write: a TLS "want write" with nothing queued would make the socket's
 * write readiness a busy loop (libmosquitto clears that flag only when it
 * writes).  Write interest is then dropped until the next housekeeping. */
#define MQTT_MAX_WRITE_SPINS 8

static uint64_t mqtt_clock_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t mqtt_wall_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* xorshift64*: jitter for the backoff, not cryptography. */
static uint32_t mqtt_random(struct mqtt *m)
{
        m->rng ^= m->rng >> 12;
        m->rng ^= m->rng << 25;
        m->rng ^= m->rng >> 27;
        return (uint32_t)((m->rng * 0x2545F4914F6CDD1Dull) >> 32);
}

/* The host name as one topic level: no '/', '+', '#' or spaces. */
static void mqtt_hostname(char *buf, size_t len)
{
        if (gethostname(buf, len) < 0 || buf[0] == '\0')
                snprintf(buf, len, "gateway");
        buf[len - 1] = '\0';
        for (char *c = buf; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                      *c == '-' || *c == '_' || *c == '.'))
                        *c = '_';
}

/* ---- libmosquitto's callbacks: record only ---- */

static void mqtt_on_connect(struct mosquitto *mosq, void *userdata, int rc)
{
        struct mqtt *m = userdata;

        m->cb_connack = rc;
}

static void mqtt_on_disconnect(struct mosquitto *mosq, void *userdata, int rc)
{
        struct mqtt *m = userdata;

        m->cb_disconnected = true;
        m->cb_disconnect_rc = rc;
        m->cb_errno = errno;
}

/* A PUBACK (QoS 1) or a QoS 0 message written: the telemetry module keeps
 * its accounting; the online message is ours. */
static void mqtt_on_publish(struct mosquitto *mosq, void *userdata, int mid)
{
        struct mqtt *m = userdata;

        if (mid == m->online_mid) {
                m->online_acked = true;
                return;
        }
        telemetry_acked(m->telemetry, mid);
}

/* libmosquitto explains TLS failures only in its log.  Its debug lines
 * (one per packet) are not passed on: at 20 states a second they would
 * bury the daemon's own. */
static void mqtt_on_log(struct mosquitto *mosq, void *userdata, int level, const char *text)
{
        struct mqtt *m = userdata;

        if (level == MOSQ_LOG_ERR)
                snprintf(m->last_lib_error, sizeof(m->last_lib_error), "%s", text);
        if (level == MOSQ_LOG_ERR || level == MOSQ_LOG_WARNING)
                log_debug("libmosquitto: %s", text);
}

/* ---- watchers ---- */

static void mqtt_update_io(struct mqtt *m)
{
        int fd = m->mosq ? mosquitto_socket(m->mosq) : -1;
        int wanted;

        if (fd < 0) {
                ev_io_stop(m->loop, &m->io);
                m->io_events = 0;
                return;
        }
        wanted = (m->state == MQTT_STOPPED ? 0 : EV_READ) |
                 (mosquitto_want_write(m->mosq) && m->write_spins < MQTT_MAX_WRITE_SPINS ? EV_WRITE : 0);
        if (wanted == 0) {
                ev_io_stop(m->loop, &m->io);
                m->io_events = 0;
                return;
        }
        if (wanted != m->io_events || !ev_is_active(&m->io) || m->io.fd != fd) {
                ev_io_stop(m->loop, &m->io);
                ev_io_set(&m->io, fd, wanted);
                ev_io_start(m->loop, &m->io);
                m->io_events = wanted;
        }
}

static void mqtt_update_due(struct mqtt *m, bool just_published)
{
        uint64_t deadline = telemetry_next_deadline(m->telemetry);
        uint64_t now = mqtt_clock_us();
        double delay;

        ev_timer_stop(m->loop, &m->due);
        if (m->state != MQTT_UP || deadline == TELEMETRY_NO_DEADLINE)
                return;
        delay = deadline > now ? (double)(deadline - now) / 1e6 : 0.;
        if (just_published && delay < MQTT_MIN_DUE_S)
                delay = MQTT_MIN_DUE_S;
        ev_timer_set(&m->due, delay, 0.);
        ev_timer_start(m->loop, &m->due);
}

/* ---- the connection ---- */

static void mqtt_teardown(struct mqtt *m)
{
        ev_io_stop(m->loop, &m->io);
        m->io_events = 0;
        ev_timer_stop(m->loop, &m->misc);
        ev_timer_stop(m->loop, &m->retry);
        ev_timer_stop(m->loop, &m->due);
        if (m->mosq) {
                mosquitto_destroy(m->mosq);
                m->mosq = NULL;
        }
        m->cb_connected = false;
        m->cb_connack = -1;
        m->cb_disconnected = false;
        m->online_mid = -1;
        m->write_spins = 0;
}

static void mqtt_schedule_retry(struct mqtt *m)
{
        uint32_t delay_ms = backoff_next(&m->backoff, mqtt_random(m));

        m->state = MQTT_WAITING;
        ev_timer_stop(m->loop, &m->retry);
        ev_timer_set(&m->retry, delay_ms / 1000., 0.);
        ev_timer_start(m->loop, &m->retry);
        log_debug("next connection attempt to %s in %u ms", m->broker, delay_ms);
}

/* An attempt that never reached the broker's acceptance.  The reason
 * names the broker's refusal or the system's error; it is logged when the
 * outage starts and when its reason changes, never at every retry. */
static void mqtt_attempt_failed(struct mqtt *m, int priority, const char *reason)
{
        m->counters.connection_failures++;
        log_fault_raise(&m->down, priority, mqtt_clock_us(), "%s: %s; retrying with backoff (up to %u s)",
                        m->broker, reason, m->params.reconnect_max_ms / 1000);
        mqtt_teardown(m);
        mqtt_schedule_retry(m);
}

static void mqtt_lost(struct mqtt *m, const char *reason)
{
        m->counters.disconnections++;
        telemetry_link(m->telemetry, false, mqtt_clock_us(), mqtt_wall_us());
        log_fault_raise(&m->down, LOG_WARNING, mqtt_clock_us(), "connection to %s lost (%s); reconnecting",
                        m->broker, reason);
        mqtt_teardown(m);
        mqtt_schedule_retry(m);
}

/* What a failed call or a disconnection means, for a person. */
static void mqtt_reason(const struct mqtt *m, int rc, char *buf, size_t len)
{
        switch (rc) {
        case MOSQ_ERR_ERRNO:
                snprintf(buf, len, "%s", strerror(m->cb_errno ? m->cb_errno : EIO));
                break;
        case MOSQ_ERR_TLS:
        case MOSQ_ERR_TLS_HANDSHAKE:
                snprintf(buf, len, "TLS: %s", m->last_lib_error[0] ? m->last_lib_error : mosquitto_strerror(rc));
                break;
        case MOSQ_ERR_KEEPALIVE:
                snprintf(buf, len, "no answer within the keepalive of %u s", m->params.keepalive_s);
                break;
        case MOSQ_ERR_CONN_LOST:
        case MOSQ_ERR_SUCCESS:
                snprintf(buf, len, "closed by the broker");
                break;
        default:
                snprintf(buf, len, "%s", mosquitto_strerror(rc));
                break;
        }
}

/* The password, read at every attempt: a changed file applies at the next
 * connection.  The first line, without its end. */
static int mqtt_read_password(const char *path, char *buf, size_t len)
{
        FILE *f = fopen(path, "re");
        int r = 0;

        if (!f)
                return -errno;
        if (!fgets(buf, (int)len, f))
                buf[0] = '\0';
        if (ferror(f))
                r = -EIO;
        fclose(f);
        buf[strcspn(buf, "\r\n")] = '\0';
        return r;
}

static void mqtt_publish_online(struct mqtt *m, bool online)
{
        char payload[TELEMETRY_ONLINE_MAX];
        int n = telemetry_online_payload(m->telemetry, online, online ? NULL : "stopped", mqtt_wall_us(), payload,
                                         sizeof(payload));
        int mid = -1;

        if (n < 0 || mosquitto_publish(m->mosq, &mid, m->topic_online, n, payload, 1, true) != MOSQ_ERR_SUCCESS)
                return;         /* a broken connection shows in the next call */
        m->online_mid = mid;
        m->online_acked = false;
        m->counters.online_published++;
}

/* Everything the telemetry module has due now.  false when the connection
 * broke while publishing (handled). */
static bool mqtt_publish_due(struct mqtt *m)
{
        struct telemetry_message msg;
        uint64_t now = mqtt_clock_us(), wall = mqtt_wall_us();
        char reason[128];

        while (telemetry_next_message(m->telemetry, now, wall, &msg)) {
                const char *topic = msg.topic == TELEMETRY_TOPIC_STATE ? m->topic_state : m->topic_event;
                int mid = -1;
                int rc = mosquitto_publish(m->mosq, &mid, topic, (int)msg.len, msg.payload, 1, msg.retain);

                if (rc != MOSQ_ERR_SUCCESS) {
                        m->cb_errno = errno;
                        mqtt_reason(m, rc, reason, sizeof(reason));
                        mqtt_lost(m, reason);
                        return false;
                }
                telemetry_sent(m->telemetry, &msg, mid, now);
        }
        return true;
}

static void mqtt_came_up(struct mqtt *m)
{
        m->state = MQTT_UP;
        m->counters.connections++;
        ev_timer_stop(m->loop, &m->retry);
        backoff_reset(&m->backoff);
        log_fault_clear(&m->down, mqtt_clock_us());
        log_info("connected to %s as %s", m->broker, m->client_id);
        telemetry_link(m->telemetry, true, mqtt_clock_us(), mqtt_wall_us());
        mqtt_publish_online(m, true);
}

static void mqtt_disconnect(struct mqtt *m);

/* After every call into libmosquitto: act on what its callbacks recorded
 * and on its return code, then publish and re-arm. */
static void mqtt_after_call(struct mqtt *m, int rc)
{
        char reason[512];

        if (!m->mosq)
                return;
        if (m->cb_connack >= 0 && m->state == MQTT_CONNECTING) {
                int connack = m->cb_connack;

                m->cb_connack = -1;
                if (connack != 0) {
                        /* The broker's own reason: bad credentials, not
                         * authorised, identifier rejected, unavailable. */
                        snprintf(reason, sizeof(reason), "refused by the broker: %s",
                                 mosquitto_connack_string(connack));
                        mqtt_attempt_failed(m, LOG_ERR, reason);
                        return;
                }
                mqtt_came_up(m);
        }
        if (m->cb_disconnected || rc != MOSQ_ERR_SUCCESS) {
                bool clean = m->state == MQTT_STOPPED || m->state == MQTT_STOPPING;

                mqtt_reason(m, m->cb_disconnected ? m->cb_disconnect_rc : rc, reason, sizeof(reason));
                if (clean) {
                        mqtt_teardown(m);
                        m->flushed = true;
                        if (m->on_flushed)
                                m->on_flushed(m->userdata);
                } else if (m->state == MQTT_UP) {
                        mqtt_lost(m, reason);
                } else {
                        mqtt_attempt_failed(m, LOG_WARNING, reason);
                }
                return;
        }
        if (m->state == MQTT_UP && !mqtt_publish_due(m))
                return;
        if (m->state == MQTT_STOPPING && m->online_acked && telemetry_in_flight(m->telemetry) == 0) {
                mqtt_disconnect(m);
                return;
        }
        mqtt_update_io(m);
        if (m->state == MQTT_STOPPED && !mosquitto_want_write(m->mosq) && !m->flushed) {
                m->flushed = true;
                if (m->on_flushed)
                        m->on_flushed(m->userdata);
        }
        mqtt_update_due(m, true);
}

static void mqtt_attempt(struct mqtt *m)
{
        char payload[TELEMETRY_ONLINE_MAX];
        char reason[512];
        int n, rc;

        m->cb_connack = -1;
        m->cb_disconnected = false;
        m->cb_errno = 0;
        m->last_lib_error[0] = '\0';
        m->attempt_started_us = mqtt_clock_us();
        m->mosq = mosquitto_new(m->client_id, true, m);
        if (!m->mosq) {
                mqtt_attempt_failed(m, LOG_ERR, "cannot create the client (out of memory)");
                return;
        }
        mosquitto_connect_callback_set(m->mosq, mqtt_on_connect);
        mosquitto_disconnect_callback_set(m->mosq, mqtt_on_disconnect);
        mosquitto_publish_callback_set(m->mosq, mqtt_on_publish);
        mosquitto_log_callback_set(m->mosq, mqtt_on_log);
        (void)mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
        /* The telemetry module bounds what is in flight; this is a second
         * fence, never reached. */
        (void)mosquitto_max_inflight_messages_set(m->mosq, MQTT_EVENT_WINDOW + 4);

        n = telemetry_online_payload(m->telemetry, false, "connection_lost", 0, payload, sizeof(payload));
        rc = n < 0 ? MOSQ_ERR_INVAL : mosquitto_will_set(m->mosq, m->topic_online, n, payload, 1, true);
        if (rc != MOSQ_ERR_SUCCESS) {
                snprintf(reason, sizeof(reason), "cannot set the last will: %s", mosquitto_strerror(rc));
                mqtt_attempt_failed(m, LOG_ERR, reason);
                return;
        }
        if (m->params.username[0]) {
                char password[256] = "";
                int r = 0;

                if (m->params.password_file[0])
                        r = mqtt_read_password(m->params.password_file, password, sizeof(password));
                if (r < 0) {
                        snprintf(reason, sizeof(reason), "cannot read the password file %s: %s",
                                 m->params.password_file, strerror(-r));
                        mqtt_attempt_failed(m, LOG_ERR, reason);
                        return;
                }
                rc = mosquitto_username_pw_set(m->mosq, m->params.username,
                                               m->params.password_file[0] ? password : NULL);
                explicit_bzero(password, sizeof(password));
                if (rc != MOSQ_ERR_SUCCESS) {
                        snprintf(reason, sizeof(reason), "cannot set the credentials: %s", mosquitto_strerror(rc));
                        mqtt_attempt_failed(m, LOG_ERR, reason);
                        return;
                }
        }
        if (m->params.ca_file[0]) {
                rc = mosquitto_tls_set(m->mosq, m->params.ca_file, NULL,
                                       m->params.cert_file[0] ? m->params.cert_file : NULL,
                                       m->params.key_file[0] ? m->params.key_file : NULL, NULL);
                if (rc == MOSQ_ERR_SUCCESS)
                        rc = mosquitto_tls_opts_set(m->mosq, 1 /* SSL_VERIFY_PEER */, NULL, NULL);
                if (rc != MOSQ_ERR_SUCCESS) {
                        snprintf(reason, sizeof(reason), "cannot use the TLS files (ca_file, cert_file, key_file): %s",
                                 mosquitto_strerror(rc));
                        mqtt_attempt_failed(m, LOG_ERR, reason);
                        return;
                }
        }

        /* Non-blocking from here: a numeric address (no lookup) or a Unix
         * socket; the TCP connection and the TLS handshake complete as the
         * socket becomes ready. */
        errno = 0;
        if (m->params.socket[0])
                rc = mosquitto_connect_async(m->mosq, m->params.socket, 0, (int)m->params.keepalive_s);
        else
                rc = mosquitto_connect_async(m->mosq, m->params.host, m->params.port, (int)m->params.keepalive_s);
        if (rc != MOSQ_ERR_SUCCESS) {
                m->cb_errno = errno;
                mqtt_reason(m, rc, reason, sizeof(reason));
                mqtt_attempt_failed(m, LOG_WARNING, reason);
                return;
        }
        m->state = MQTT_CONNECTING;
        ev_timer_stop(m->loop, &m->retry);
        ev_timer_set(&m->retry, MQTT_CONNECT_TIMEOUT_S, 0.);
        ev_timer_start(m->loop, &m->retry);
        ev_timer_again(m->loop, &m->misc);
        mqtt_update_io(m);
        if (!ev_is_active(&m->io)) {
                mqtt_attempt_failed(m, LOG_WARNING, "no socket after connecting");
                return;
        }
}

static void mqtt_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        struct mqtt *m = w->data;
        int rc;

        if (!m->mosq)
                return;
        if (m->state == MQTT_STOPPED) {
                /* DISCONNECT is queued: from now on libmosquitto takes any
                 * packet it reads (a late PUBACK) for a protocol error and
                 * closes the socket with DISCONNECT unwritten, and the
                 * broker would publish the last will.  Only write. */
                mqtt_after_call(m, (revents & EV_WRITE) ? mosquitto_loop_write(m->mosq, 1) : MOSQ_ERR_SUCCESS);
                return;
        }
        /* Reading also moves a TLS handshake on, whichever way the socket
         * became ready; a read with nothing to read returns at once. */
        rc = mosquitto_loop_read(m->mosq, 1);
        if (rc == MOSQ_ERR_SUCCESS && !m->cb_disconnected && (revents & EV_WRITE) &&
            mosquitto_socket(m->mosq) >= 0) {
                rc = mosquitto_loop_write(m->mosq, 1);
                if (rc == MOSQ_ERR_SUCCESS && mosquitto_want_write(m->mosq))
                        m->write_spins++;
                else
                        m->write_spins = 0;
        }
        mqtt_after_call(m, rc);
}

static void mqtt_misc_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct mqtt *m = w->data;

        if (!m->mosq)
                return;
        m->write_spins = 0;
        mqtt_after_call(m, mosquitto_loop_misc(m->mosq));
}

static void mqtt_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct mqtt *m = w->data;

        switch (m->state) {
        case MQTT_WAITING:
                mqtt_attempt(m);
                break;
        case MQTT_CONNECTING:
                mqtt_attempt_failed(m, LOG_WARNING, "no answer from the broker within 10 s");
                break;
        case MQTT_STOPPING:
                log_notice("the broker did not acknowledge the last messages within %g s; disconnecting anyway",
                           MQTT_STOP_WAIT_S);
                mqtt_disconnect(m);
                break;
        case MQTT_STOPPED:
                if (!m->flushed) {
                        log_notice("DISCONNECT not written within %g s; closing", MQTT_STOP_WAIT_S);
                        mqtt_teardown(m);
                        m->flushed = true;
                        if (m->on_flushed)
                                m->on_flushed(m->userdata);
                }
                break;
        case MQTT_IDLE:
        case MQTT_UP:
                break;
        }
}

static void mqtt_due_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct mqtt *m = w->data;

        if (m->state == MQTT_UP && m->mosq)
                mqtt_after_call(m, MOSQ_ERR_SUCCESS);
}

/* ---- public ---- */

int mqtt_init(struct mqtt *m, struct ev_loop *loop, const struct mqtt_params *params, uint8_t pistol,
              struct telemetry *telemetry)
{
        char host[64], prefix[128];
        size_t plen;

        memset(m, 0, sizeof(*m));
        m->loop = loop;
        m->telemetry = telemetry;
        m->params = *params;
        m->enabled = params->enable;
        m->state = MQTT_IDLE;
        m->cb_connack = -1;
        m->online_mid = -1;
        m->flushed = true;
        log_fault_init(&m->down, LOG_MODULE, "broker");

        ev_init(&m->io, mqtt_io_cb);
        m->io.data = m;
        ev_set_priority(&m->io, MQTT_PRIORITY);
        ev_init(&m->misc, mqtt_misc_cb);
        m->misc.repeat = MQTT_MISC_INTERVAL_S;
        m->misc.data = m;
        ev_set_priority(&m->misc, MQTT_PRIORITY);
        ev_init(&m->retry, mqtt_retry_cb);
        m->retry.data = m;
        ev_set_priority(&m->retry, MQTT_PRIORITY);
        ev_init(&m->due, mqtt_due_cb);
        m->due.data = m;
        ev_set_priority(&m->due, MQTT_PRIORITY);
        if (!m->enabled)
                return 0;

        mqtt_hostname(host, sizeof(host));
        if (params->topic_prefix[0])
                snprintf(prefix, sizeof(prefix), "%s", params->topic_prefix);
        else
                snprintf(prefix, sizeof(prefix), "seccbridge/%s/pistol%u", host, (unsigned)pistol);
        plen = strlen(prefix);
        if (plen + sizeof("/online") > sizeof(m->topic_online))
                return -ENAMETOOLONG;
        snprintf(m->topic_state, sizeof(m->topic_state), "%s/state", prefix);
        snprintf(m->topic_event, sizeof(m->topic_event), "%s/event", prefix);
        snprintf(m->topic_online, sizeof(m->topic_online), "%s/online", prefix);
        if (params->client_id[0])
                snprintf(m->client_id, sizeof(m->client_id), "%s", params->client_id);
        else
                snprintf(m->client_id, sizeof(m->client_id), "seccbridge-%s-pistol%u", host, (unsigned)pistol);
        if (params->socket[0])
                snprintf(m->broker, sizeof(m->broker), "unix:%s", params->socket);
        else if (strchr(params->host, ':'))
                snprintf(m->broker, sizeof(m->broker), "[%s]:%u", params->host, (unsigned)params->port);
        else
                snprintf(m->broker, sizeof(m->broker), "%s:%u", params->host, (unsigned)params->port);

        backoff_init(&m->backoff, MQTT_BACKOFF_MIN_MS, params->reconnect_max_ms);
        if (getrandom(&m->rng, sizeof(m->rng), GRND_NONBLOCK) != (ssize_t)sizeof(m->rng))
                m->rng = mqtt_clock_us() ^ ((uint64_t)getpid() << 32);
        m->rng |= 1;    /* xorshift needs a non-zero state */
        return 0;
}

int mqtt_start(struct mqtt *m)
{
        int rc;

        if (!m->enabled)
                return 0;
        rc = mosquitto_lib_init();
        if (rc != MOSQ_ERR_SUCCESS) {
                log_err("cannot initialise libmosquitto: %s", mosquitto_strerror(rc));
                return -EIO;
        }
        m->flushed = false;
        log_info("publishing to %s as %s: %s, %s, %s", m->broker, m->client_id, m->topic_state, m->topic_event,
                 m->topic_online);
        mqtt_attempt(m);
        return 0;
}

void mqtt_kick(struct mqtt *m)
{
        if (m->state != MQTT_UP || !m->mosq)
                return;
        mqtt_after_call(m, MOSQ_ERR_SUCCESS);
}

/* The end of a stop: DISCONNECT (so that the broker drops the last will),
 * written now or as soon as the socket takes it. */
static void mqtt_disconnect(struct mqtt *m)
{
        int rc;

        m->state = MQTT_STOPPED;
        ev_timer_stop(m->loop, &m->retry);
        rc = mosquitto_disconnect(m->mosq);
        mqtt_after_call(m, rc == MOSQ_ERR_NO_CONN ? MOSQ_ERR_SUCCESS : rc);
        if (!m->flushed) {
                /* A socket that takes nothing more: not waited for long. */
                ev_timer_set(&m->retry, MQTT_STOP_WAIT_S, 0.);
                ev_timer_start(m->loop, &m->retry);
        }
}

void mqtt_stop(struct mqtt *m, void (*on_flushed)(void *userdata), void *userdata)
{
        const struct event_queue *q = telemetry_queue(m->telemetry);
        uint64_t waiting;

        m->on_flushed = on_flushed;
        m->userdata = userdata;
        if (!m->enabled || m->state == MQTT_IDLE || m->state == MQTT_STOPPING || m->state == MQTT_STOPPED) {
                m->flushed = m->flushed || !m->mosq;
                return;
        }
        if (m->state != MQTT_UP) {
                /* Nothing to say goodbye to: the broker already has the
                 * last will, or never had us. */
                mqtt_teardown(m);
                m->state = MQTT_STOPPED;
                m->flushed = true;
        } else if (mqtt_publish_due(m)) {
                mqtt_publish_online(m, false);
                /* mosquitto (up to 2.0.21) takes a client that closes
                 * before it has sent its PUBACKs for one that dropped, and
                 * publishes the last will: DISCONNECT only once every
                 * message is acknowledged, within MQTT_STOP_WAIT_S. */
                m->state = MQTT_STOPPING;
                m->flushed = false;
                ev_timer_stop(m->loop, &m->due);
                ev_timer_stop(m->loop, &m->misc);
                ev_timer_stop(m->loop, &m->retry);
                ev_timer_set(&m->retry, MQTT_STOP_WAIT_S, 0.);
                ev_timer_start(m->loop, &m->retry);
                mqtt_after_call(m, MOSQ_ERR_SUCCESS);
        } else {
                /* The connection broke on the last messages. */
                mqtt_teardown(m);
                m->state = MQTT_STOPPED;
                m->flushed = true;
        }
        waiting = q->count - q->in_flight;
        if (waiting > 0)
                log_warning("%llu event(s) not sent to the broker at stop", (unsigned long long)waiting);
}

bool mqtt_flushed(const struct mqtt *m)
{
        return !m->enabled || m->flushed;
}

bool mqtt_connected(const struct mqtt *m)
{
        return m->state == MQTT_UP;
}

const struct mqtt_counters *mqtt_counters(const struct mqtt *m)
{
        return &m->counters;
}

void mqtt_finish(struct mqtt *m)
{
        if (!m->loop)
                return;
        mqtt_teardown(m);
        if (m->enabled && m->state != MQTT_IDLE)
                mosquitto_lib_cleanup();
        m->state = MQTT_IDLE;
}
