/* SPDX-License-Identifier: MIT */
/*
 * The pistol arbiter, time advanced by hand: first come and priority, hold
 * and release, handover only after the OFF is confirmed, the owner's fault,
 * Emergency_Stop and controller silence, another pistol's Emergency_Stop,
 * dedicated converters, offers, the claim and idle bounds, stray output,
 * reconfiguration.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "seccbridge/arbiter.h"
#include "seccbridge/codec.h"

#define MS 1000u
#define SECOND (1000u * MS)

/* ---- facts as a session would report them ---- */

/* Controller up, no vehicle. */
static struct arbiter_facts f_idle(void)
{
        return (struct arbiter_facts){
                .controller_alive = true,
                .controller_state = CODEC_STATE_WAITING_FOR_PEV,
                .command_off = true,
        };
}

/* Held by us: the controller sits in Not_Available (R9). */
static struct arbiter_facts f_held(void)
{
        struct arbiter_facts f = f_idle();

        f.controller_state = CODEC_STATE_NOT_AVAILABLE;
        return f;
}

/* A vehicle is being dealt with, no window yet. */
static struct arbiter_facts f_negotiating(void)
{
        struct arbiter_facts f = f_idle();

        f.controller_state = CODEC_STATE_NEGOTIATING_CONNECTION;
        return f;
}

/* Inside the window, in a state, with the converter commanded (or not). */
static struct arbiter_facts f_session(uint8_t state, bool command_off)
{
        struct arbiter_facts f = f_idle();

        f.controller_state = state;
        f.in_session = true;
        f.command_off = command_off;
        return f;
}

static struct arbiter_facts f_charging(void)
{
        return f_session(CODEC_STATE_CHARGING, false);
}

/* Charge_Session_Finished seen: window closed, command OFF (R44). */
static struct arbiter_facts f_finished(void)
{
        struct arbiter_facts f = f_idle();

        f.controller_state = CODEC_STATE_CLOSING_COMMUNICATION;
        return f;
}

/* ---- a fixture: an arbiter and a clock ---- */

struct fx {
        struct arbiter a;
        struct arbiter_config cfg;
        uint64_t now;
};

static void fx_config(struct fx *x, uint8_t pistols, const uint8_t *map, uint8_t converters)
{
        memset(x, 0, sizeof(*x));
        arbiter_config_defaults(&x->cfg);
        x->cfg.pistols = pistols;
        x->cfg.converters = converters;
        for (uint8_t p = 0; p < pistols; p++)
                x->cfg.converter_of[p] = map ? map[p] : 0;
        x->now = 1000 * SECOND;
}

static void fx_init(struct fx *x)
{
        assert_int_equal(arbiter_init(&x->a, &x->cfg, x->now), 0);
}

static int up(struct fx *x, uint8_t p, struct arbiter_facts f)
{
        return arbiter_update(&x->a, p, &f, x->now);
}

static int conv(struct fx *x, uint8_t c, bool off)
{
        return arbiter_converter_report(&x->a, c, off, x->now);
}

/* Let time pass by `us`, running the timer the way the shell does. */
static void pass(struct fx *x, uint64_t us)
{
        uint64_t until = x->now + us;

        for (;;) {
                uint64_t d = arbiter_next_deadline(&x->a);

                assert_true(d > x->now);
                if (d > until)
                        break;
                x->now = d;
                arbiter_tick(&x->a, x->now);
        }
        x->now = until;
        arbiter_tick(&x->a, x->now);
}

static enum arbiter_converter_state state_of(struct fx *x, uint8_t c)
{
        struct arbiter_converter_view v;

        assert_int_equal(arbiter_get_converter(&x->a, c, &v), 0);
        return v.state;
}

/* Every pistol reported idle, every converter confirmed off, and the offers
 * of the start (one pistol after the other) lapsed: every shared converter
 * FREE. */
static void fx_start(struct fx *x)
{
        struct arbiter_facts idle = f_idle();

        fx_init(x);
        for (uint8_t p = 0; p < x->cfg.pistols; p++)
                arbiter_update(&x->a, p, &idle, x->now);
        for (uint8_t c = 0; c < x->cfg.converters; c++)
                arbiter_converter_report(&x->a, c, true, x->now);
        pass(x, x->cfg.pistols * x->cfg.offer_us);
        for (uint8_t c = 0; c < x->cfg.converters; c++)
                assert_true(state_of(x, c) == ARBITER_CONVERTER_FREE ||
                            state_of(x, c) == ARBITER_CONVERTER_DEDICATED);
}

/* Two pistols on one converter, started: FREE. */
static void fx_pair(struct fx *x)
{
        fx_config(x, 2, NULL, 1);
        fx_start(x);
}

static struct arbiter_converter_view view_of(struct fx *x, uint8_t c)
{
        struct arbiter_converter_view v;

        assert_int_equal(arbiter_get_converter(&x->a, c, &v), 0);
        return v;
}

/* A charges on the pair: A claims, opens the window, charges. */
static void a_charges(struct fx *x)
{
        up(x, 0, f_negotiating());
        assert_int_equal(arbiter_owner(&x->a, 0), 0);
        up(x, 0, f_session(CODEC_STATE_CONNECTED_WITH_FULL_INFO, false));
        up(x, 0, f_charging());
        assert_true(arbiter_may_command(&x->a, 0));
        assert_false(arbiter_held(&x->a, 0));
        assert_true(arbiter_held(&x->a, 1));
        assert_false(arbiter_must_off(&x->a, 0));
}

/* ---- config ---- */

static void test_config_check(void **state)
{
        struct arbiter_config c, d;

        (void)state;
        arbiter_config_defaults(&d);
        assert_int_equal(arbiter_config_check(&d), 0);
        assert_int_equal(arbiter_config_check(NULL), -EINVAL);
        c = d;
        c.pistols = 0;
        assert_int_equal(arbiter_config_check(&c), -EINVAL);
        c = d;
        c.pistols = ARBITER_MAX_PISTOLS + 1;
        assert_int_equal(arbiter_config_check(&c), -EINVAL);
        c = d;
        c.converters = 0;
        assert_int_equal(arbiter_config_check(&c), -EINVAL);
        c = d;
        c.pistols = 2;
        c.converter_of[1] = 1;          /* converter 1 does not exist */
        assert_int_equal(arbiter_config_check(&c), -EINVAL);
        c.converters = 2;
        assert_int_equal(arbiter_config_check(&c), 0);
        c.converters = 3;               /* converter 2 serves nobody */
        assert_int_equal(arbiter_config_check(&c), -EINVAL);
        c = d;
        c.policy = (enum arbiter_policy)7;
        assert_int_equal(arbiter_config_check(&c), -EINVAL);
        c = d;
        c.offer_us = 0;
        assert_int_equal(arbiter_config_check(&c), -EINVAL);
        c = d;
        c.drain_timeout_us = 0;
        assert_int_equal(arbiter_config_check(&c), -EINVAL);
        c = d;
        c.claim_timeout_us = 0;         /* no bound: allowed */
        c.idle_timeout_us = 0;
        assert_int_equal(arbiter_config_check(&c), 0);
        c.pistols = ARBITER_MAX_PISTOLS;
        c.converters = ARBITER_MAX_CONVERTERS;
        for (uint8_t p = 0; p < ARBITER_MAX_PISTOLS; p++)
                c.converter_of[p] = p;
        assert_int_equal(arbiter_config_check(&c), 0);
}

static void test_init_rejects_bad_config(void **state)
{
        struct fx x;

        (void)state;
        fx_config(&x, 2, NULL, 1);
        x.cfg.offer_us = 0;
        assert_int_equal(arbiter_init(&x.a, &x.cfg, x.now), -EINVAL);
        assert_int_equal(arbiter_init(NULL, &x.cfg, x.now), -EINVAL);
        assert_int_equal(arbiter_init(&x.a, NULL, x.now), -EINVAL);
}

/* ---- start ---- */

static void test_shared_starts_off_and_held(void **state)
{
        struct arbiter_converter_view v;
        struct fx x;

        (void)state;
        fx_config(&x, 2, NULL, 1);
        fx_init(&x);
        v = view_of(&x, 0);
        assert_int_equal(v.state, ARBITER_CONVERTER_DRAINING);
        assert_true(v.shared);
        assert_true(v.must_off);
        assert_int_equal(v.owner, ARBITER_NONE);
        assert_int_equal(v.last_owner, ARBITER_NONE);
        assert_int_equal(v.last_release, ARBITER_RELEASE_NONE);
        assert_true(arbiter_held(&x.a, 0));
        assert_true(arbiter_held(&x.a, 1));
        assert_false(arbiter_may_command(&x.a, 0));
        assert_int_equal(arbiter_next_deadline(&x.a), x.now + 5 * SECOND);
}

static void test_no_owner_before_first_off_confirmation(void **state)
{
        struct fx x;

        (void)state;
        fx_config(&x, 2, NULL, 1);
        fx_init(&x);
        /* A vehicle at pistol 0 before the converter said anything. */
        assert_int_equal(up(&x, 0, f_negotiating()), 0);
        assert_int_equal(arbiter_owner(&x.a, 0), ARBITER_NONE);
        assert_true(arbiter_held(&x.a, 0));
        /* Output reported: still nothing. */
        x.now += 100 * MS;
        assert_int_equal(conv(&x, 0, false), 0);
        assert_int_equal(arbiter_owner(&x.a, 0), ARBITER_NONE);
        /* Confirmed off: the waiting pistol gets it at once. */
        x.now += 100 * MS;
        assert_int_equal(conv(&x, 0, true), 1);
        assert_int_equal(arbiter_owner(&x.a, 0), 0);
        assert_false(arbiter_held(&x.a, 0));
        assert_true(arbiter_held(&x.a, 1));
        assert_int_equal(view_of(&x, 0).counters.grants, 1);
}

static void test_free_releases_every_pistol(void **state)
{
        struct fx x;

        (void)state;
        fx_pair(&x);
        assert_int_equal(state_of(&x, 0), ARBITER_CONVERTER_FREE);
        assert_false(arbiter_held(&x.a, 0));
        assert_false(arbiter_held(&x.a, 1));
        assert_true(arbiter_must_off(&x.a, 0));
        assert_false(arbiter_may_command(&x.a, 0));
        assert_false(arbiter_may_command(&x.a, 1));
        assert_int_equal(arbiter_next_deadline(&x.a), ARBITER_NO_DEADLINE);
}

/* ---- first come ---- */

static void test_first_come_second_is_held(void **state)
{
        struct arbiter_pistol_view pv;
        struct fx x;

        (void)state;
        fx_pair(&x);
        x.now += SECOND;
        assert_int_equal(up(&x, 0, f_negotiating()), 1);
        assert_int_equal(arbiter_owner(&x.a, 0), 0);
        assert_true(arbiter_held(&x.a, 1));
        /* Pistol 1's controller was already past Not_Available: it waits,
         * held, visibly. */
        x.now += 50 * MS;
        assert_int_equal(up(&x, 1, f_negotiating()), 0);
        assert_int_equal(arbiter_owner(&x.a, 0), 0);
        assert_int_equal(arbiter_get_pistol(&x.a, 1, &pv), 0);
        assert_true(pv.waiting);
        assert_true(pv.held);
        assert_false(pv.owner);
        assert_int_equal(pv.waiting_since_us, x.now);
        assert_int_equal(pv.converter, 0);
        /* It even gets New_Charge_Session (the controller did not honour
         * the flag in time): still held, still no converter. */
        assert_int_equal(up(&x, 1, f_session(CODEC_STATE_CONNECTED_WITH_FULL_INFO, true)), 0);
        assert_int_equal(arbiter_owner(&x.a, 0), 0);
        assert_true(arbiter_held(&x.a, 1));
}

static void test_handover_after_session_finished(void **state)
{
        struct arbiter_converter_view v;
        struct fx x;

        (void)state;
        fx_pair(&x);
        a_charges(&x);
        up(&x, 1, f_held());
        up(&x, 1, (struct arbiter_facts){ .controller_alive = true,
                                          .controller_state = CODEC_STATE_NOT_AVAILABLE,
                                          .command_off = true, .vehicle_waiting = true });
        assert_true(arbiter_held(&x.a, 1));
        x.now += 60 * SECOND;
        up(&x, 0, f_session(CODEC_STATE_ENDING_CHARGE, false));
        up(&x, 0, f_session(CODEC_STATE_CLOSING_COMMUNICATION, false));
        assert_int_equal(arbiter_owner(&x.a, 0), 0);
        /* R44: Charge_Session_Finished closes the window: no owner, OFF,
         * everybody held until the converter confirms. */
        x.now += 100 * MS;
        assert_int_equal(up(&x, 0, f_finished()), 1);
        v = view_of(&x, 0);
        assert_int_equal(v.state, ARBITER_CONVERTER_DRAINING);
        assert_true(v.must_off);
        assert_int_equal(v.owner, ARBITER_NONE);
        assert_int_equal(v.last_owner, 0);
        assert_int_equal(v.last_release, ARBITER_RELEASE_SESSION_ENDED);
        assert_true(arbiter_held(&x.a, 0));
        assert_true(arbiter_held(&x.a, 1));
        assert_int_equal(v.counters.trips, 0);
        x.now += 300 * MS;
        assert_int_equal(conv(&x, 0, true), 1);
        assert_int_equal(arbiter_owner(&x.a, 0), 1);
        assert_false(arbiter_held(&x.a, 1));
        assert_true(arbiter_held(&x.a, 0));
        assert_int_equal(view_of(&x, 0).counters.grants, 2);
}

static void test_handover_needs_old_command_off(void **state)
{
        struct arbiter_facts ending = f_finished();
        struct fx x;

        (void)state;
        fx_pair(&x);
        a_charges(&x);
        up(&x, 1, f_negotiating());
        /* The window closed but the session still commands something. */
        ending.command_off = false;
        x.now += SECOND;
        up(&x, 0, ending);
        assert_int_equal(state_of(&x, 0), ARBITER_CONVERTER_DRAINING);
        x.now += 100 * MS;
        assert_int_equal(conv(&x, 0, true), 0);
        assert_int_equal(arbiter_owner(&x.a, 0), ARBITER_NONE);
        assert_true(arbiter_held(&x.a, 1));
        /* Its command goes OFF: now the converter may pass. */
        x.now += 100 * MS;
        assert_int_equal(up(&x, 0, f_finished()), 1);
        assert_int_equal(arbiter_owner(&x.a, 0), 1);
}

static void test_handover_needs_fresh_off_confirmation(void **state)
{
        struct fx x;

        (void)state;
        fx_pair(&x);
        a_charges(&x);
        up(&x, 1, f_negotiating());
        /* An OFF report from before the release does not count. */
        x.now += SECOND;
        conv(&x, 0, true);
        x.now += 100 * MS;
        up(&x, 0, f_finished());
        assert_int_equal(state_of(&x, 0), ARBITER_CONVERTER_DRAINING);
        assert_int_equal(arbiter_owner(&x.a, 0), ARBITER_NONE);
        /* Off, then output again: the confirmation is withdrawn. */
        x.now += 100 * MS;
        conv(&x, 0, false);
        assert_int_equal(arbiter_owner(&x.a, 0), ARBITER_NONE);
        x.now += 100 * MS;
        assert_int_equal(conv(&x, 0, true), 1);
        assert_int_equal(arbiter_owner(&x.a, 0), 1);
}

static void test_drain_timeout_keeps_converter_off(void **state)
{
        struct arbiter_converter_view v;
        struct fx x;

        (void)state;
        fx_pair(&x);
        a_charges(&x);
        up(&x, 1, f_negotiating());
        x.now += SECOND;
        up(&x, 0, f_finished());
        assert_int_equal(arbiter_next_deadline(&x.a), x.now + 5 * SECOND);
        /* The converter never confirms (link lost, say). */
        pass(&x, 5 * SECOND - 1);
        assert_int_equal(state_of(&x, 0), ARBITER_CONVERTER_DRAINING);
        pass(&x, 1);
        v = view_of(&x, 0);
        assert_int_equal(v.state, ARBITER_CONVERTER_STUCK);
        assert_true(v.must_off);
        assert_int_equal(v.counters.drain_timeouts, 1);
        assert_true(arbiter_held(&x.a, 0));
        assert_true(arbiter_held(&x.a, 1));
        assert_int_equal(arbiter_next_deadline(&x.a), ARBITER_NO_DEADLINE);
        /* Hours later, still off and held. */
        pass(&x, 3600ull * SECOND);
        assert_int_equal(state_of(&x, 0), ARBITER_CONVERTER_STUCK);
        /* The converter is back and off: handover. */
        assert_int_equal(conv(&x, 0, true), 1);
        assert_int_equal(arbiter_owner(&x.a, 0), 1);
}

/* ---- trips ---- */

static void trip_case(struct arbiter_facts trip, enum arbiter_release why)
{
        struct arbiter_converter_view v;
        struct fx x;

        fx_pair(&x);
        a_charges(&x);
        up(&x, 1, f_negotiating());
        x.now += 10 * SECOND;
        /* The same call that reports the trip takes the converter away. */
        assert_int_equal(up(&x, 0, trip), 1);
        v = view_of(&x, 0);
        assert_true(v.must_off);
        assert_int_equal(v.owner, ARBITER_NONE);
        assert_int_equal(v.state, ARBITER_CONVERTER_DRAINING);
        assert_int_equal(v.last_release, why);
        assert_int_equal(v.counters.trips, 1);
        assert_false(arbiter_may_command(&x.a, 0));
        assert_true(arbiter_held(&x.a, 0));
        assert_true(arbiter_held(&x.a, 1));
        /* The tripped session then commands OFF (its own latch), the
         * converter confirms: the waiting pistol is served. */
        trip.command_off = true;
        x.now += 20 * MS;
        up(&x, 0, trip);
        x.now += 200 * MS;
        assert_int_equal(conv(&x, 0, true), 1);
        assert_int_equal(arbiter_owner(&x.a, 0), 1);
}

static void test_owner_fault_turns_off(void **state)
{
        struct arbiter_facts f = f_charging();

        (void)state;
        f.fault = true;
        trip_case(f, ARBITER_RELEASE_FAULT);
}

static void test_owner_emergency_stop_turns_off(void **state)
{
        struct arbiter_facts f = f_charging();

        (void)state;
        f.emergency_stop = true;
        trip_case(f, ARBITER_RELEASE_EMERGENCY_STOP);
}

static void test_owner_silence_turns_off(void **state)
{
        struct arbiter_facts f = f_charging();

        (void)state;
        f.controller_alive = false;
        trip_case(f, ARBITER_RELEASE_CONTROLLER_SILENT);
}

static void test_owner_estop_before_window_turns_off(void **state)
{
        struct arbiter_facts f = f_negotiating();
        struct fx x;

        (void)state;
        fx_pair(&x);
        up(&x, 0, f_negotiating());
        assert_int_equal(arbiter_owner(&x.a, 0), 0);
        f.emergency_stop = true;
        assert_int_equal(up(&x, 0, f), 1);
        assert_true(arbiter_must_off(&x.a, 0));
        assert_int_equal(view_of(&x, 0).last_release, ARBITER_RELEASE_EMERGENCY_STOP);
}

/* Outside the window the fault latch is the previous session's. */
static void test_stale_fault_before_window_is_no_trip(void **state)
{
        struct arbiter_facts f = f_negotiating();
        struct fx x;

        (void)state;
        fx_pair(&x);
        f.fault = true;
        assert_int_equal(up(&x, 0, f), 1);
        assert_int_equal(arbiter_owner(&x.a, 0), 0);
        /* New_Charge_Session kept the fault (its cause is still there): a
         * trip now. */
        f.in_session = true;
        f.controller_state = CODEC_STATE_CONNECTED_WITH_FULL_INFO;
        assert_int_equal(up(&x, 0, f), 1);
        assert_true(arbiter_must_off(&x.a, 0));
        assert_int_equal(view_of(&x, 0).last_release, ARBITER_RELEASE_FAULT);
}

/* ---- another pistol's troubles ---- */

static void test_non_owner_estop_does_not_touch_converter(void **state)
{
        struct arbiter_facts f = f_negotiating();
        struct arbiter_converter_view before, after;
        struct fx x;

        (void)state;
        fx_pair(&x);
        a_charges(&x);
        up(&x, 1, f_negotiating());
        before = view_of(&x, 0);
        f.emergency_stop = true;
        x.now += SECOND;
        assert_int_equal(up(&x, 1, f), 0);
        after = view_of(&x, 0);
        assert_int_equal(after.owner, 0);
        assert_false(after.must_off);
        assert_int_equal(after.state, before.state);
        assert_int_equal(after.since_us, before.since_us);
        assert_int_equal(after.counters.trips, 0);
        assert_true(arbiter_may_command(&x.a, 0));
        /* And its silence neither. */
        f = f_negotiating();
        f.controller_alive = false;
        x.now += SECOND;
        assert_int_equal(up(&x, 1, f), 0);
        assert_int_equal(arbiter_owner(&x.a, 0), 0);
        assert_false(arbiter_must_off(&x.a, 0));
}

static void test_estop_pistol_is_not_served(void **state)
{
        struct arbiter_facts f = f_negotiating();
        struct fx x;

        (void)state;
        fx_pair(&x);
        a_charges(&x);
        f.emergency_stop = true;
        up(&x, 1, f);
        x.now += SECOND;
        up(&x, 0, f_finished());
        conv(&x, 0, true);
        /* Pistol 1 is stopped: not offered, free for all, nobody owns. */
        assert_int_equal(state_of(&x, 0), ARBITER_CONVERTER_FREE);
        assert_int_equal(arbiter_owner(&x.a, 0), ARBITER_NONE);
        /* Its Emergency_Stop ends (R46): it wants the converter, gets it. */
        x.now += 2 * SECOND;
        assert_int_equal(up(&x, 1, f_negotiating()), 1);
        assert_int_equal(arbiter_owner(&x.a, 0), 1);
}

/* ---- dedicated converters ---- */

static void test_dedicated_converter_unaffected(void **state)
{
        static const uint8_t map[3] = { 0, 0, 1 };
        struct arbiter_facts f = f_charging();
        struct arbiter_converter_view v;
        struct fx x;

        (void)state;
        fx_config(&x, 3, map, 2);
        fx_init(&x);
        v = view_of(&x, 1);
        assert_int_equal(v.state, ARBITER_CONVERTER_DEDICATED);
        assert_false(v.shared);
        assert_false(v.must_off);
        assert_int_equal(v.owner, 2);
        assert_true(arbiter_may_command(&x.a, 2));
        assert_false(arbiter_held(&x.a, 2));
        /* Not even a report is needed, and none changes anything. */
        assert_int_equal(conv(&x, 1, false), 0);
        assert_int_equal(up(&x, 2, f), 0);
        f.emergency_stop = true;
        f.fault = true;
        f.controller_alive = false;
        assert_int_equal(up(&x, 2, f), 0);
        assert_true(arbiter_may_command(&x.a, 2));
        assert_false(arbiter_held(&x.a, 2));
        assert_false(arbiter_must_off(&x.a, 1));
        /* The shared pair does its own thing meanwhile: confirmed off, it
         * is offered to pistol 0 first (R9: a vehicle held there since the
         * start may go), which takes it. */
        up(&x, 0, f_idle());
        up(&x, 1, f_idle());
        conv(&x, 0, true);
        assert_int_equal(view_of(&x, 0).offered, 0);
        up(&x, 0, f_negotiating());
        assert_int_equal(arbiter_owner(&x.a, 0), 0);
        assert_true(arbiter_held(&x.a, 1));
        assert_int_equal(arbiter_owner(&x.a, 1), 2);
        pass(&x, 3600ull * SECOND);
        assert_int_equal(arbiter_owner(&x.a, 1), 2);
        assert_int_equal(view_of(&x, 1).counters.grants, 0);
}

static void test_eight_pistols_four_pairs_charge_together(void **state)
{
        static const uint8_t map[8] = { 0, 0, 1, 1, 2, 2, 3, 3 };
        struct fx x;

        (void)state;
        fx_config(&x, 8, map, 4);
        fx_start(&x);
        /* One vehicle per pair, on alternating sides. */
        for (uint8_t c = 0; c < 4; c++) {
                uint8_t p = (uint8_t)(2 * c + (c & 1));

                x.now += 10 * MS;
                up(&x, p, f_negotiating());
                up(&x, p, f_charging());
        }
        for (uint8_t c = 0; c < 4; c++) {
                uint8_t p = (uint8_t)(2 * c + (c & 1));

                assert_int_equal(arbiter_owner(&x.a, c), p);
                assert_true(arbiter_may_command(&x.a, p));
                assert_true(arbiter_held(&x.a, (uint8_t)(p ^ 1)));
        }
        /* One pair's owner trips: the others keep theirs. */
        {
                struct arbiter_facts f = f_charging();

                f.emergency_stop = true;
                up(&x, 3, f);
        }
        assert_true(arbiter_must_off(&x.a, 1));
        assert_int_equal(arbiter_owner(&x.a, 0), 0);
        assert_int_equal(arbiter_owner(&x.a, 2), 4);
        assert_int_equal(arbiter_owner(&x.a, 3), 7);
}

/* ---- policies ---- */

/* Three pistols on one converter: 0 charges, 1 and 2 have a vehicle
 * waiting, 2 first.  Who gets the converter when 0 finishes? */
static uint8_t next_of_three(enum arbiter_policy policy)
{
        struct arbiter_facts waiting = f_held();
        struct fx x;

        fx_config(&x, 3, NULL, 1);
        x.cfg.policy = policy;
        x.cfg.priority[0] = 1;
        x.cfg.priority[1] = 5;
        x.cfg.priority[2] = 3;
        fx_start(&x);
        a_charges(&x);
        waiting.vehicle_waiting = true;
        x.now += SECOND;
        up(&x, 2, waiting);
        x.now += SECOND;
        up(&x, 1, waiting);
        x.now += SECOND;
        up(&x, 0, f_finished());
        x.now += 100 * MS;
        conv(&x, 0, true);
        assert_true(arbiter_held(&x.a, 0));
        return arbiter_owner(&x.a, 0);
}

static void test_first_come_longest_waiting_first(void **state)
{
        (void)state;
        assert_int_equal(next_of_three(ARBITER_POLICY_FIRST_COME), 2);
}

static void test_priority_highest_first(void **state)
{
        (void)state;
        assert_int_equal(next_of_three(ARBITER_POLICY_PRIORITY), 1);
}

static void test_priority_never_interrupts_a_charge(void **state)
{
        struct fx x;

        (void)state;
        fx_config(&x, 2, NULL, 1);
        x.cfg.policy = ARBITER_POLICY_PRIORITY;
        x.cfg.priority[1] = 9;
        fx_start(&x);
        a_charges(&x);
        x.now += SECOND;
        assert_int_equal(up(&x, 1, f_negotiating()), 0);
        pass(&x, 3600ull * SECOND);
        assert_int_equal(arbiter_owner(&x.a, 0), 0);
        assert_true(arbiter_held(&x.a, 1));
}

/* ---- offers ---- */

static void test_offer_releases_one_pistol_then_all(void **state)
{
        struct arbiter_converter_view v;
        struct fx x;

        (void)state;
        fx_pair(&x);
        a_charges(&x);
        up(&x, 1, f_held());            /* a vehicle there or not: unknown */
        x.now += SECOND;
        up(&x, 0, f_finished());
        x.now += 100 * MS;
        assert_int_equal(conv(&x, 0, true), 1);
        v = view_of(&x, 0);
        assert_int_equal(v.state, ARBITER_CONVERTER_OFFERED);
        assert_int_equal(v.offered, 1);
        assert_true(v.must_off);
        assert_false(arbiter_held(&x.a, 1));
        assert_true(arbiter_held(&x.a, 0));
        assert_int_equal(arbiter_next_deadline(&x.a), x.now + 5 * SECOND);
        /* Nothing starts there: after the offer, free for all. */
        pass(&x, 5 * SECOND);
        assert_int_equal(state_of(&x, 0), ARBITER_CONVERTER_FREE);
        assert_false(arbiter_held(&x.a, 0));
        assert_false(arbiter_held(&x.a, 1));
}

static void test_offer_taken_by_held_vehicle(void **state)
{
        struct fx x;

        (void)state;
        fx_pair(&x);
        a_charges(&x);
        up(&x, 1, f_held());
        x.now += SECOND;
        up(&x, 0, f_finished());
        conv(&x, 0, true);
        assert_int_equal(state_of(&x, 0), ARBITER_CONVERTER_OFFERED);
        /* R9: released, the controller starts the vehicle it remembered. */
        x.now += 300 * MS;
        assert_int_equal(up(&x, 1, f_negotiating()), 1);
        assert_int_equal(arbiter_owner(&x.a, 0), 1);
        assert_true(arbiter_held(&x.a, 0));
}

static void test_offer_ends_when_offered_pistol_falls_silent(void **state)
{
        struct arbiter_facts f = f_held();
        struct fx x;

        (void)state;
        fx_pair(&x);
        a_charges(&x);
        up(&x, 1, f);
        x.now += SECOND;
        up(&x, 0, f_finished());
        conv(&x, 0, true);
        assert_int_equal(view_of(&x, 0).offered, 1);
        f.controller_alive = false;
        x.now += 100 * MS;
        assert_int_equal(up(&x, 1, f), 1);
        assert_int_equal(state_of(&x, 0), ARBITER_CONVERTER_FREE);
}

/* Three pistols: offers go one at a time, best first, the former owner
 * last whatever its priority. */
static void test_offers_in_order_former_owner_last(void **state)
{
        struct fx x;

        (void)state;
        fx_config(&x, 3, NULL, 1);
        x.cfg.policy = ARBITER_POLICY_PRIORITY;
        x.cfg.priority[0] = 9;
        x.cfg.priority[1] = 1;
        x.cfg.priority[2] = 5;
        fx_start(&x);
        a_charges(&x);
        up(&x, 1, f_held());
        up(&x, 2, f_held());
        x.now += SECOND;
        up(&x, 0, f_finished());
        conv(&x, 0, true);
        assert_int_equal(view_of(&x, 0).offered, 2);
        assert_false(arbiter_held(&x.a, 2));
        assert_true(arbiter_held(&x.a, 1));
        assert_true(arbiter_held(&x.a, 0));
        pass(&x, 5 * SECOND);
        assert_int_equal(view_of(&x, 0).offered, 1);
        assert_false(arbiter_held(&x.a, 1));
        assert_true(arbiter_held(&x.a, 2));
        pass(&x, 5 * SECOND);
        assert_int_equal(state_of(&x, 0), ARBITER_CONVERTER_FREE);
        /* Free: the first to want it gets it, priority or not. */
        x.now += SECOND;
        up(&x, 1, f_negotiating());
        assert_int_equal(arbiter_owner(&x.a, 0), 1);
}

/* ---- bounds ---- */

static void test_claim_timeout_gives_way(void **state)
{
        struct arbiter_converter_view v;
        struct fx x;

        (void)state;
        fx_pair(&x);
        /* Plugged, never starts (stuck in authorisation, say). */
        up(&x, 0, f_negotiating());
        assert_int_equal(arbiter_owner(&x.a, 0), 0);
        assert_int_equal(arbiter_next_deadline(&x.a), x.now + 120 * SECOND);
        pass(&x, 120 * SECOND - 1);
        assert_int_equal(arbiter_owner(&x.a, 0), 0);
        pass(&x, 1);
        v = view_of(&x, 0);
        assert_int_equal(v.owner, ARBITER_NONE);
        assert_int_equal(v.last_release, ARBITER_RELEASE_CLAIM_TIMEOUT);
        assert_int_equal(v.counters.claim_timeouts, 1);
        assert_true(arbiter_held(&x.a, 0));
        /* Drained (its command was OFF all along), the other pistol gets
         * its chance, then it is free for all again. */
        conv(&x, 0, true);
        assert_int_equal(view_of(&x, 0).offered, 1);
        pass(&x, 5 * SECOND);
        assert_int_equal(arbiter_owner(&x.a, 0), 0);
}

static void test_claim_timeout_only_when_someone_could_use_it(void **state)
{
        struct arbiter_facts silent = f_idle();
        struct fx x;

        (void)state;
        fx_pair(&x);
        silent.controller_alive = false;
        up(&x, 1, silent);
        up(&x, 0, f_negotiating());
        assert_int_equal(arbiter_next_deadline(&x.a), ARBITER_NO_DEADLINE);
        pass(&x, 3600ull * SECOND);
        assert_int_equal(arbiter_owner(&x.a, 0), 0);
        /* The other controller comes back, long after the bound. */
        assert_int_equal(up(&x, 1, f_idle()), 1);
        assert_int_equal(view_of(&x, 0).last_release, ARBITER_RELEASE_CLAIM_TIMEOUT);
}

static void test_claim_bound_ends_with_the_window(void **state)
{
        struct fx x;

        (void)state;
        fx_pair(&x);
        up(&x, 0, f_negotiating());
        x.now += 100 * SECOND;
        up(&x, 0, f_session(CODEC_STATE_CONNECTED_WITH_FULL_INFO, false));
        /* R35: Waiting_For_Charge for hours, nobody else waiting. */
        up(&x, 0, f_session(CODEC_STATE_WAITING_FOR_CHARGE, false));
        assert_int_equal(arbiter_next_deadline(&x.a), ARBITER_NO_DEADLINE);
        pass(&x, 5 * 3600ull * SECOND);
        assert_int_equal(arbiter_owner(&x.a, 0), 0);
}

static void test_idle_timeout_when_another_waits(void **state)
{
        struct arbiter_facts waiting = f_held();
        struct arbiter_converter_view v;
        uint64_t idle_from;
        struct fx x;

        (void)state;
        fx_pair(&x);
        a_charges(&x);
        x.now += SECOND;
        up(&x, 0, f_session(CODEC_STATE_CHARGE_PAUSE, false));
        idle_from = x.now;
        pass(&x, 10 * SECOND);
        /* A vehicle at the other pistol (its CP state, the HMI...). */
        waiting.vehicle_waiting = true;
        up(&x, 1, waiting);
        assert_int_equal(arbiter_next_deadline(&x.a), idle_from + 600 * SECOND);
        /* Back to charging for a while restarts the idle time. */
        x.now += 100 * SECOND;
        up(&x, 0, f_charging());
        assert_int_equal(arbiter_next_deadline(&x.a), ARBITER_NO_DEADLINE);
        x.now += SECOND;
        up(&x, 0, f_session(CODEC_STATE_WAITING_FOR_CHARGE, false));
        idle_from = x.now;
        pass(&x, 600 * SECOND - 1);
        assert_int_equal(arbiter_owner(&x.a, 0), 0);
        pass(&x, 1);
        v = view_of(&x, 0);
        assert_int_equal(v.owner, ARBITER_NONE);
        assert_int_equal(v.last_release, ARBITER_RELEASE_IDLE_TIMEOUT);
        assert_int_equal(v.counters.idle_timeouts, 1);
        assert_int_equal(x.now, idle_from + 600 * SECOND);
        assert_true(arbiter_held(&x.a, 0));
        /* Held, its session commands OFF; confirmed: the other's turn. */
        up(&x, 0, f_session(CODEC_STATE_WAITING_FOR_CHARGE, true));
        conv(&x, 0, true);
        assert_int_equal(arbiter_owner(&x.a, 0), 1);
}

static void test_idle_timeout_disabled(void **state)
{
        struct arbiter_facts waiting = f_held();
        struct fx x;

        (void)state;
        fx_config(&x, 2, NULL, 1);
        x.cfg.idle_timeout_us = 0;
        fx_start(&x);
        a_charges(&x);
        up(&x, 0, f_session(CODEC_STATE_WAITING_FOR_CHARGE, false));
        waiting.vehicle_waiting = true;
        up(&x, 1, waiting);
        assert_int_equal(arbiter_next_deadline(&x.a), ARBITER_NO_DEADLINE);
        pass(&x, 5 * 3600ull * SECOND);
        assert_int_equal(arbiter_owner(&x.a, 0), 0);
}

/* ---- converter reports ---- */

static void test_stray_output_drains_again(void **state)
{
        struct fx x;

        (void)state;
        fx_pair(&x);
        assert_int_equal(state_of(&x, 0), ARBITER_CONVERTER_FREE);
        x.now += SECOND;
        assert_int_equal(conv(&x, 0, false), 1);
        assert_int_equal(state_of(&x, 0), ARBITER_CONVERTER_DRAINING);
        assert_int_equal(view_of(&x, 0).counters.stray_output, 1);
        assert_true(arbiter_held(&x.a, 0));
        assert_true(arbiter_held(&x.a, 1));
        /* A vehicle meanwhile waits for the confirmation. */
        up(&x, 1, f_negotiating());
        assert_int_equal(arbiter_owner(&x.a, 0), ARBITER_NONE);
        x.now += 100 * MS;
        conv(&x, 0, true);
        assert_int_equal(arbiter_owner(&x.a, 0), 1);
        /* Output while owned is what owning is for. */
        assert_int_equal(conv(&x, 0, false), 0);
        assert_int_equal(arbiter_owner(&x.a, 0), 1);
}

/* ---- reconfiguration ---- */

static void test_reconfigure_policy_and_times(void **state)
{
        struct arbiter_config cfg;
        struct fx x;

        (void)state;
        fx_pair(&x);
        up(&x, 0, f_negotiating());
        x.now += 30 * SECOND;
        cfg = x.cfg;
        cfg.claim_timeout_us = 20 * SECOND;
        cfg.policy = ARBITER_POLICY_PRIORITY;
        /* Tighter bound, already past: applies at once. */
        assert_int_equal(arbiter_reconfigure(&x.a, &cfg, x.now), 1);
        assert_int_equal(arbiter_owner(&x.a, 0), ARBITER_NONE);
        assert_int_equal(view_of(&x, 0).last_release, ARBITER_RELEASE_CLAIM_TIMEOUT);
}

static void test_reconfigure_keeps_owner_refuses_new_map(void **state)
{
        struct arbiter_config cfg;
        struct fx x;

        (void)state;
        fx_pair(&x);
        a_charges(&x);
        cfg = x.cfg;
        cfg.offer_us = SECOND;
        cfg.priority[1] = 7;
        cfg.policy = ARBITER_POLICY_PRIORITY;
        assert_int_equal(arbiter_reconfigure(&x.a, &cfg, x.now), 0);
        assert_int_equal(arbiter_owner(&x.a, 0), 0);
        /* Another map: refused, nothing changes. */
        cfg.converters = 2;
        cfg.converter_of[1] = 1;
        assert_int_equal(arbiter_reconfigure(&x.a, &cfg, x.now), -EINVAL);
        cfg = x.cfg;
        cfg.pistols = 1;
        assert_int_equal(arbiter_reconfigure(&x.a, &cfg, x.now), -EINVAL);
        cfg.offer_us = 0;
        assert_int_equal(arbiter_reconfigure(&x.a, &cfg, x.now), -EINVAL);
        assert_int_equal(arbiter_owner(&x.a, 0), 0);
        assert_true(arbiter_held(&x.a, 1));
        /* The accepted offer time is in force. */
        up(&x, 1, f_held());
        x.now += SECOND;
        up(&x, 0, f_finished());
        conv(&x, 0, true);
        assert_int_equal(arbiter_next_deadline(&x.a), x.now + SECOND);
}

/* ---- time and arguments ---- */

static void test_time_never_goes_back(void **state)
{
        struct fx x;

        (void)state;
        fx_pair(&x);
        up(&x, 0, f_negotiating());
        x.now += 100 * SECOND;
        arbiter_tick(&x.a, x.now);
        /* An older time is taken as the latest one: the bound still falls
         * 120 s after the claim, not later. */
        assert_int_equal(arbiter_update(&x.a, 1, &(struct arbiter_facts){ .controller_alive = true,
                                                .controller_state = CODEC_STATE_WAITING_FOR_PEV,
                                                .command_off = true }, x.now - 50 * SECOND), 0);
        assert_int_equal(arbiter_next_deadline(&x.a), x.now + 20 * SECOND);
}

static void test_bad_arguments(void **state)
{
        struct arbiter_facts f = f_idle();
        struct arbiter_converter_view cv = { .owner = 42 };
        struct arbiter_pistol_view pv = { .converter = 42 };
        struct fx x;

        (void)state;
        fx_pair(&x);
        assert_int_equal(arbiter_update(&x.a, 2, &f, x.now), -EINVAL);
        assert_int_equal(arbiter_update(&x.a, 0, NULL, x.now), -EINVAL);
        assert_int_equal(arbiter_update(NULL, 0, &f, x.now), -EINVAL);
        assert_int_equal(arbiter_converter_report(&x.a, 1, true, x.now), -EINVAL);
        assert_int_equal(arbiter_tick(NULL, x.now), -EINVAL);
        assert_int_equal(arbiter_get_converter(&x.a, 1, &cv), -EINVAL);
        assert_int_equal(cv.owner, 42);
        assert_int_equal(arbiter_get_pistol(&x.a, 2, &pv), -EINVAL);
        assert_int_equal(pv.converter, 42);
        /* Out of range never reads as permission. */
        assert_false(arbiter_may_command(&x.a, 2));
        assert_true(arbiter_held(&x.a, 2));
        assert_true(arbiter_must_off(&x.a, 1));
        assert_int_equal(arbiter_owner(&x.a, 1), ARBITER_NONE);
}

static void test_names(void **state)
{
        (void)state;
        assert_string_equal(arbiter_converter_state_name(ARBITER_CONVERTER_OWNED), "owned");
        assert_string_equal(arbiter_converter_state_name(ARBITER_CONVERTER_STUCK), "stuck");
        assert_string_equal(arbiter_release_name(ARBITER_RELEASE_CONTROLLER_SILENT),
                            "controller-silent");
        assert_string_equal(arbiter_release_name(ARBITER_RELEASE_IDLE_TIMEOUT), "idle-timeout");
        assert_string_equal(arbiter_policy_name(ARBITER_POLICY_PRIORITY), "priority");
        assert_string_equal(arbiter_policy_name(ARBITER_POLICY_FIRST_COME), "first-come");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_config_check),
                cmocka_unit_test(test_init_rejects_bad_config),
                cmocka_unit_test(test_shared_starts_off_and_held),
                cmocka_unit_test(test_no_owner_before_first_off_confirmation),
                cmocka_unit_test(test_free_releases_every_pistol),
                cmocka_unit_test(test_first_come_second_is_held),
                cmocka_unit_test(test_handover_after_session_finished),
                cmocka_unit_test(test_handover_needs_old_command_off),
                cmocka_unit_test(test_handover_needs_fresh_off_confirmation),
                cmocka_unit_test(test_drain_timeout_keeps_converter_off),
                cmocka_unit_test(test_owner_fault_turns_off),
                cmocka_unit_test(test_owner_emergency_stop_turns_off),
                cmocka_unit_test(test_owner_silence_turns_off),
                cmocka_unit_test(test_owner_estop_before_window_turns_off),
                cmocka_unit_test(test_stale_fault_before_window_is_no_trip),
                cmocka_unit_test(test_non_owner_estop_does_not_touch_converter),
                cmocka_unit_test(test_estop_pistol_is_not_served),
                cmocka_unit_test(test_dedicated_converter_unaffected),
                cmocka_unit_test(test_eight_pistols_four_pairs_charge_together),
                cmocka_unit_test(test_first_come_longest_waiting_first),
                cmocka_unit_test(test_priority_highest_first),
                cmocka_unit_test(test_priority_never_interrupts_a_charge),
                cmocka_unit_test(test_offer_releases_one_pistol_then_all),
                cmocka_unit_test(test_offer_taken_by_held_vehicle),
                cmocka_unit_test(test_offer_ends_when_offered_pistol_falls_silent),
                cmocka_unit_test(test_offers_in_order_former_owner_last),
                cmocka_unit_test(test_claim_timeout_gives_way),
                cmocka_unit_test(test_claim_timeout_only_when_someone_could_use_it),
                cmocka_unit_test(test_claim_bound_ends_with_the_window),
                cmocka_unit_test(test_idle_timeout_when_another_waits),
                cmocka_unit_test(test_idle_timeout_disabled),
                cmocka_unit_test(test_stray_output_drains_again),
                cmocka_unit_test(test_reconfigure_policy_and_times),
                cmocka_unit_test(test_reconfigure_keeps_owner_refuses_new_map),
                cmocka_unit_test(test_time_never_goes_back),
                cmocka_unit_test(test_bad_arguments),
                cmocka_unit_test(test_names),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
