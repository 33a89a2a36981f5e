/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the pistol arbiter.  The input is a configuration (pistols,
 * which converter each uses, priorities, policy, times) followed by a
 * sequence of events (a pistol's facts, a converter report, time passing, a
 * reload), fed as the daemon's shell will: the timer fired at
 * arbiter_next_deadline() whenever time passes it, and at the event's time
 * before the event itself.
 *
 * Invariants, checked after every call (abort() with a message when
 * violated):
 *  - a converter has at most one pistol that may command it, its owner; a
 *    shared converter without owner must be off, one with an owner not; a
 *    dedicated converter always belongs to its one pistol, never held;
 *  - the owner of a shared converter is never held, and while it has one,
 *    every other pistol of it is held; nobody is released while it drains;
 *  - the owner always wants its converter: its controller alive, no
 *    Emergency_Stop, no fault inside its window (so the owner's fault,
 *    Emergency_Stop or silence leaves the converter off in the same call);
 *  - an update of a pistol never takes a converter from another owner,
 *    except by the claim or idle bound in favour of the updated pistol when
 *    it is alive and not stopped: an Emergency_Stop never touches a converter
 *    its pistol does not own;
 *  - a converter leaves its drain (gets an owner, an offer, or is free) only
 *    after an OFF report made since it lost its owner, with no output
 *    reported since, and with the former owner's command OFF;
 *  - a free converter has nobody wanting it, an offered one not its offered
 *    pistol (both would have been granted); no drain or offer outlives its
 *    time; a claim without a window does not outlive its bound while another
 *    pistol could use the converter;
 *  - every deadline lies after the latest time given, and ticking at it
 *    changes nothing further at the same time.
 *
 * Input layout: see tests/fuzz/README.md.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seccbridge/arbiter.h"
#include "seccbridge/codec.h"

#define MS 1000u
#define SECOND (1000u * MS)

struct input {
        const uint8_t *p;
        size_t n;
};

static uint8_t in_u8(struct input *in)
{
        uint8_t v;

        if (in->n == 0)
                return 0;
        v = *in->p++;
        in->n--;
        return v;
}

static uint16_t in_u16(struct input *in)
{
        uint16_t lo = in_u8(in);

        return (uint16_t)(lo | (uint16_t)in_u8(in) << 8);
}

enum call {
        CALL_UPDATE,
        CALL_REPORT,
        CALL_TICK,
        CALL_RECONFIGURE,
};

struct conv_track {
        uint8_t loser;          /* whose command must be OFF before the drain ends */
        bool confirmed;         /* OFF reported since the loss, no output since */
        uint64_t granted_us;    /* when the current owner got it */
        bool started;           /* the owner's window opened since */
        bool idle;              /* the owner sits in Waiting_For_Charge / Charge_Pause */
        uint64_t idle_since_us;
};

struct harness {
        struct arbiter a;
        struct arbiter_config cfg;
        uint64_t now;
        struct arbiter_facts facts[ARBITER_MAX_PISTOLS];
        bool reported[ARBITER_MAX_PISTOLS];
        bool shared[ARBITER_MAX_CONVERTERS];
        struct conv_track track[ARBITER_MAX_CONVERTERS];
};

static struct harness h;
static int trace = -1;  /* SECCBRIDGE_FUZZ_TRACE=1: print every decision */

static void violation(const char *what, int converter, int pistol)
{
        fprintf(stderr, "invariant violated at t=%llu us: %s (converter %d, pistol %d)\n",
                (unsigned long long)h.now, what, converter, pistol);
        abort();
}

/* The harness's own reading of the contract (arbiter.h), not the module's. */
static bool eligible(uint8_t p)
{
        return h.reported[p] && h.facts[p].controller_alive && !h.facts[p].emergency_stop;
}

static bool wants(uint8_t p)
{
        const struct arbiter_facts *f = &h.facts[p];

        if (!eligible(p))
                return false;
        if (f->in_session)
                return !f->fault;
        return f->controller_state == CODEC_STATE_NEGOTIATING_CONNECTION ||
               f->controller_state == CODEC_STATE_CCS_AUTHORISATION_PROCESS ||
               f->controller_state == CODEC_STATE_CONNECTED_WITH_FULL_INFO || f->vehicle_waiting;
}

static bool idle_in_window(uint8_t p)
{
        return h.facts[p].in_session &&
               (h.facts[p].controller_state == CODEC_STATE_WAITING_FOR_CHARGE ||
                h.facts[p].controller_state == CODEC_STATE_CHARGE_PAUSE);
}

/* Pistol `o` just lost converter `c` for reason `why`: its own facts say
 * so, or a bound fell due with somebody else there to use it. */
static void check_release(uint8_t c, uint8_t o, enum arbiter_release why)
{
        const struct arbiter_facts *f = &h.facts[o];
        const struct conv_track *t = &h.track[c];
        bool other_eligible = false, other_wants = false;

        for (uint8_t p = 0; p < h.cfg.pistols; p++) {
                if (p == o || h.cfg.converter_of[p] != c)
                        continue;
                other_eligible = other_eligible || eligible(p);
                other_wants = other_wants || wants(p);
        }
        switch (why) {
        case ARBITER_RELEASE_NONE:
                violation("an owner lost it for no reason", c, o);
                break;
        case ARBITER_RELEASE_CONTROLLER_SILENT:
                if (f->controller_alive)
                        violation("released as silent, controller alive", c, o);
                break;
        case ARBITER_RELEASE_EMERGENCY_STOP:
                if (!f->controller_alive || !f->emergency_stop)
                        violation("released as stopped, no Emergency_Stop", c, o);
                break;
        case ARBITER_RELEASE_FAULT:
                if (!eligible(o) || !f->in_session || !f->fault)
                        violation("released as faulted, no fault in the window", c, o);
                break;
        case ARBITER_RELEASE_SESSION_ENDED:
                if (!eligible(o) || (f->in_session && f->fault) || wants(o))
                        violation("released as ended, session going on", c, o);
                break;
        case ARBITER_RELEASE_CLAIM_TIMEOUT:
                if (!wants(o) || t->started || f->in_session || h.cfg.claim_timeout_us == 0 ||
                    h.now < t->granted_us + h.cfg.claim_timeout_us || !other_eligible)
                        violation("claim bound applied too early or without anybody else", c, o);
                break;
        case ARBITER_RELEASE_IDLE_TIMEOUT:
                if (!wants(o) || !t->idle || !idle_in_window(o) || h.cfg.idle_timeout_us == 0 ||
                    h.now < t->idle_since_us + h.cfg.idle_timeout_us || !other_wants)
                        violation("idle bound applied too early or with nobody waiting", c, o);
                break;
        }
}

struct snap {
        struct arbiter_converter_view c[ARBITER_MAX_CONVERTERS];
        bool held[ARBITER_MAX_PISTOLS];
};

static void take(struct snap *s)
{
        for (uint8_t c = 0; c < h.cfg.converters; c++)
                if (arbiter_get_converter(&h.a, c, &s->c[c]) != 0)
                        violation("no view of an existing converter", c, -1);
        for (uint8_t p = 0; p < h.cfg.pistols; p++)
                s->held[p] = arbiter_held(&h.a, p);
}

static bool draining(enum arbiter_converter_state s)
{
        return s == ARBITER_CONVERTER_DRAINING || s == ARBITER_CONVERTER_STUCK;
}

static void print_decisions(const struct snap *s)
{
        fprintf(stderr, "%12llu us ", (unsigned long long)h.now);
        for (uint8_t c = 0; c < h.cfg.converters; c++)
                fprintf(stderr, " c%u:%s/%d", c, arbiter_converter_state_name(s->c[c].state),
                        s->c[c].owner == ARBITER_NONE ? -1 : s->c[c].owner);
        fprintf(stderr, "  held:");
        for (uint8_t p = 0; p < h.cfg.pistols; p++)
                fprintf(stderr, "%d", s->held[p]);
        fprintf(stderr, "\n");
}

/* Checks after a call; `who` is the pistol updated or the converter
 * reported, `off` the report. */
static void check(const struct snap *b, enum call call, uint8_t who, bool off)
{
        struct snap s;
        uint64_t d;

        take(&s);
        if (trace > 0)
                print_decisions(&s);
        for (uint8_t c = 0; c < h.cfg.converters; c++) {
                const struct arbiter_converter_view *v = &s.c[c], *was = &b->c[c];
                struct conv_track *t = &h.track[c];
                unsigned commanders = 0;

                for (uint8_t p = 0; p < h.cfg.pistols; p++) {
                        if (h.cfg.converter_of[p] != c)
                                continue;
                        if (arbiter_may_command(&h.a, p)) {
                                commanders++;
                                if (v->owner != p)
                                        violation("a pistol other than the owner may command", c, p);
                        }
                        if (v->owner == p && s.held[p])
                                violation("the owner is held", c, p);
                        if (v->shared && v->owner != ARBITER_NONE && v->owner != p && !s.held[p])
                                violation("a pistol released while another owns its converter", c, p);
                        if (v->shared && draining(v->state) && !s.held[p])
                                violation("a pistol released while its converter drains", c, p);
                        if (!v->shared && (s.held[p] || v->owner != p))
                                violation("a dedicated converter not its pistol's", c, p);
                }
                if (commanders > 1)
                        violation("two pistols may command one converter", c, -1);
                if (v->shared != h.shared[c])
                        violation("shared or not, not as configured", c, -1);
                if (!v->shared) {
                        if (v->must_off || v->state != ARBITER_CONVERTER_DEDICATED)
                                violation("a dedicated converter touched", c, -1);
                        continue;
                }
                if (v->must_off != (v->owner == ARBITER_NONE) ||
                    arbiter_must_off(&h.a, c) != v->must_off)
                        violation("must_off does not follow the owner", c, -1);
                if ((v->state == ARBITER_CONVERTER_OWNED) != (v->owner != ARBITER_NONE))
                        violation("an owner outside OWNED, or OWNED without one", c, -1);
                if (v->owner != ARBITER_NONE && !wants(v->owner))
                        violation("the owner keeps a converter it cannot use (fault, E-stop, silence)",
                                  c, v->owner);

                /* A converter taken from its owner by another pistol's update. */
                if (call == CALL_UPDATE && was->owner != ARBITER_NONE && was->owner != who &&
                    v->owner != was->owner) {
                        if (h.facts[who].emergency_stop)
                                violation("an Emergency_Stop took a converter its pistol does not own",
                                          c, who);
                        if (!eligible(who) || (v->last_release != ARBITER_RELEASE_CLAIM_TIMEOUT &&
                                               v->last_release != ARBITER_RELEASE_IDLE_TIMEOUT))
                                violation("an update took a converter from another pistol", c, who);
                }

                /* Why the owner lost it: its facts, or a bound that fell due. */
                if (was->owner != ARBITER_NONE && v->owner != was->owner)
                        check_release(c, was->owner, v->last_release);

                /* The handover rule. */
                if (was->owner != ARBITER_NONE && v->owner != was->owner) {
                        t->loser = was->owner;
                        t->confirmed = call == CALL_REPORT && who == c && off;
                } else if (call == CALL_REPORT && who == c) {
                        if (!off)
                                t->confirmed = false;
                        else
                                t->confirmed = true;
                }
                if (call == CALL_REPORT && who == c && !off && !draining(was->state) &&
                    was->owner == ARBITER_NONE)
                        t->loser = ARBITER_NONE;        /* stray output: drained again */
                if (!draining(v->state) && (draining(was->state) || (was->owner != ARBITER_NONE &&
                                                                    v->owner != was->owner))) {
                        if (!t->confirmed)
                                violation("handed over without an OFF confirmation since the loss", c,
                                          v->owner == ARBITER_NONE ? -1 : v->owner);
                        if (t->loser != ARBITER_NONE && !h.facts[t->loser].command_off)
                                violation("handed over while the former owner still commands", c,
                                          t->loser);
                }
                if (v->owner != ARBITER_NONE && v->owner != was->owner) {
                        t->granted_us = h.now;
                        t->started = false;
                        t->idle = false;
                }
                if (v->owner != ARBITER_NONE && h.facts[v->owner].in_session)
                        t->started = true;
                if (v->owner != ARBITER_NONE && idle_in_window(v->owner)) {
                        if (!t->idle)
                                t->idle_since_us = h.now;
                        t->idle = true;
                } else {
                        t->idle = false;
                }

                /* Nothing left undone at this time. */
                if (v->state == ARBITER_CONVERTER_FREE) {
                        for (uint8_t p = 0; p < h.cfg.pistols; p++)
                                if (h.cfg.converter_of[p] == c && wants(p))
                                        violation("free, and a pistol wants it", c, p);
                }
                if (v->state == ARBITER_CONVERTER_OFFERED) {
                        if (v->offered == ARBITER_NONE || h.cfg.converter_of[v->offered] != c)
                                violation("offered to nobody or to another converter's pistol", c, -1);
                        if (wants(v->offered))
                                violation("offered to a pistol that wants it, not granted", c, v->offered);
                        if (!eligible(v->offered))
                                violation("offered to a pistol that cannot use it", c, v->offered);
                        if (s.held[v->offered])
                                violation("the offered pistol is held", c, v->offered);
                        if (h.now >= v->since_us + h.cfg.offer_us)
                                violation("an offer outlived its time", c, v->offered);
                }
                if (v->state == ARBITER_CONVERTER_DRAINING &&
                    h.now >= v->since_us + h.cfg.drain_timeout_us)
                        violation("a drain outlived its time", c, -1);
                if (v->state == ARBITER_CONVERTER_OWNED && !t->started &&
                    h.cfg.claim_timeout_us != 0 && h.now >= t->granted_us + h.cfg.claim_timeout_us) {
                        for (uint8_t p = 0; p < h.cfg.pistols; p++)
                                if (p != v->owner && h.cfg.converter_of[p] == c && eligible(p))
                                        violation("a claim without a window outlived its bound", c,
                                                  v->owner);
                }
        }
        d = arbiter_next_deadline(&h.a);
        if (d <= h.now)
                violation("a deadline not after the latest time", -1, -1);
}

static void do_tick(uint64_t t)
{
        struct snap b;

        h.now = t;
        take(&b);
        arbiter_tick(&h.a, h.now);
        check(&b, CALL_TICK, 0, false);
}

/* Let time pass to `until`, firing the timer the way the shell does, and
 * once at `until` itself. */
static void advance(uint64_t until)
{
        for (int guard = 0; guard < 100000; guard++) {
                uint64_t d = arbiter_next_deadline(&h.a);

                if (d > until)
                        break;
                do_tick(d);
        }
        if (arbiter_next_deadline(&h.a) <= until)
                violation("the timer keeps falling due", -1, -1);
        do_tick(until);
}

static void do_update(uint8_t p, const struct arbiter_facts *f)
{
        struct snap b;

        take(&b);
        h.facts[p] = *f;
        h.reported[p] = true;
        if (arbiter_update(&h.a, p, f, h.now) < 0)
                violation("update refused", -1, p);
        check(&b, CALL_UPDATE, p, false);
}

static void do_report(uint8_t c, bool off)
{
        struct snap b;

        take(&b);
        if (arbiter_converter_report(&h.a, c, off, h.now) < 0)
                violation("report refused", c, -1);
        check(&b, CALL_REPORT, c, off);
}

/* Times and policy from four bytes (a config or a reload). */
static void read_times(struct input *in, struct arbiter_config *cfg)
{
        uint8_t flags = in_u8(in);

        cfg->policy = (flags & 1) ? ARBITER_POLICY_PRIORITY : ARBITER_POLICY_FIRST_COME;
        cfg->offer_us = (uint64_t)(in_u8(in) + 1) * 100 * MS;
        cfg->drain_timeout_us = (uint64_t)(in_u8(in) + 1) * 100 * MS;
        cfg->claim_timeout_us = (uint64_t)in_u8(in) * SECOND;
        cfg->idle_timeout_us = (flags & 2) ? 0 : (uint64_t)((flags >> 2) + 1) * 10 * SECOND;
}

static bool read_config(struct input *in)
{
        uint8_t pistols = (uint8_t)(in_u8(in) % ARBITER_MAX_PISTOLS + 1);
        uint8_t renumber[ARBITER_MAX_PISTOLS], converters = 0;

        memset(&h, 0, sizeof(h));
        arbiter_config_defaults(&h.cfg);
        h.cfg.pistols = pistols;
        memset(renumber, ARBITER_NONE, sizeof(renumber));
        /* Converter numbers in order of first use: every one is used. */
        for (uint8_t p = 0; p < pistols; p++) {
                uint8_t want = (uint8_t)(in_u8(in) % pistols);

                if (renumber[want] == ARBITER_NONE)
                        renumber[want] = converters++;
                h.cfg.converter_of[p] = renumber[want];
        }
        h.cfg.converters = converters;
        for (uint8_t p = 0; p < pistols; p++)
                h.cfg.priority[p] = (uint8_t)(in_u8(in) % 4);
        read_times(in, &h.cfg);
        if (arbiter_config_check(&h.cfg) != 0)
                return false;
        for (uint8_t c = 0; c < converters; c++) {
                unsigned users = 0;

                for (uint8_t p = 0; p < pistols; p++)
                        users += h.cfg.converter_of[p] == c;
                h.shared[c] = users > 1;
                h.track[c].loser = ARBITER_NONE;
        }
        h.now = (uint64_t)in_u16(in) * SECOND;
        if (arbiter_init(&h.a, &h.cfg, h.now) != 0)
                violation("init refused a valid config", -1, -1);
        return true;
}

/* A session's facts in a phase of its life, as the shell reports them. */
static struct arbiter_facts phase_facts(uint8_t p, uint8_t phase)
{
        struct arbiter_facts f = h.facts[p];

        f.controller_alive = true;
        switch (phase % 16) {
        case 0:
                f = (struct arbiter_facts){ .controller_alive = true,
                                            .controller_state = CODEC_STATE_WAITING_FOR_PEV };
                break;
        case 1:
        case 2:
                f = (struct arbiter_facts){ .controller_alive = true,
                                            .controller_state = CODEC_STATE_NOT_AVAILABLE,
                                            .vehicle_waiting = phase % 16 == 2 };
                break;
        case 3:
                f.controller_state = CODEC_STATE_NEGOTIATING_CONNECTION;
                f.in_session = false;
                break;
        case 4:
                f.controller_state = CODEC_STATE_CCS_AUTHORISATION_PROCESS;
                f.in_session = false;
                break;
        case 5:
                /* New_Charge_Session: the latches of the previous session end. */
                f = (struct arbiter_facts){ .controller_alive = true, .in_session = true,
                                            .controller_state = CODEC_STATE_CONNECTED_WITH_FULL_INFO };
                break;
        case 6:
                f.controller_state = CODEC_STATE_INSULATION_TEST;
                break;
        case 7:
                f.controller_state = CODEC_STATE_CHARGING;
                break;
        case 8:
                f.controller_state = CODEC_STATE_WAITING_FOR_CHARGE;
                break;
        case 9:
                f.controller_state = CODEC_STATE_CHARGE_PAUSE;
                break;
        case 10:
                f.controller_state = CODEC_STATE_ENDING_CHARGE;
                break;
        case 11:
                f.controller_state = CODEC_STATE_CLOSING_COMMUNICATION;
                break;
        case 12:
                /* Charge_Session_Finished (R44). */
                f.controller_state = CODEC_STATE_CLOSING_COMMUNICATION;
                f.in_session = false;
                break;
        case 13:
                f.fault = true;
                break;
        case 14:
                f.emergency_stop = true;
                f.fault = f.fault || f.in_session;
                break;
        case 15:
                f.controller_alive = false;
                f.fault = f.fault || f.in_session;
                break;
        }
        /* What a session commands: OFF outside the window, with a latch,
         * without a heartbeat, or while held (the hold hook). */
        f.command_off = !f.in_session || f.fault || f.emergency_stop || !f.controller_alive ||
                        arbiter_held(&h.a, p);
        return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct input in = { data, size };

        if (trace < 0) {
                const char *t = getenv("SECCBRIDGE_FUZZ_TRACE");

                trace = t && t[0] == '1';
        }
        if (!read_config(&in))
                return 0;
        while (in.n > 0) {
                uint8_t op = in_u8(&in);
                uint8_t who = in_u8(&in);
                uint64_t delay = (uint64_t)in_u8(&in) * 10 * MS;
                struct arbiter_facts f;
                struct arbiter_config cfg;
                struct snap b;

                switch (op & 7) {
                case 0:
                        /* Any facts at all. */
                        advance(h.now + delay);
                        who %= h.cfg.pistols;
                        {
                                uint8_t bits = in_u8(&in);

                                f = (struct arbiter_facts){
                                        .controller_alive = bits & 1,
                                        .in_session = bits & 2,
                                        .fault = bits & 4,
                                        .emergency_stop = bits & 8,
                                        .command_off = bits & 16,
                                        .vehicle_waiting = bits & 32,
                                        .controller_state = (uint8_t)(in_u8(&in) % 16),
                                };
                        }
                        do_update(who, &f);
                        break;
                case 1:
                        /* Some facts flipped. */
                        advance(h.now + delay);
                        who %= h.cfg.pistols;
                        f = h.facts[who];
                        {
                                uint8_t bits = in_u8(&in);

                                f.controller_alive ^= bits & 1;
                                f.in_session ^= (bits >> 1) & 1;
                                f.fault ^= (bits >> 2) & 1;
                                f.emergency_stop ^= (bits >> 3) & 1;
                                f.command_off ^= (bits >> 4) & 1;
                                f.vehicle_waiting ^= (bits >> 5) & 1;
                        }
                        do_update(who, &f);
                        break;
                case 2:
                case 3:
                        /* A session's phase; bit 3: one that ignores the hold. */
                        advance(h.now + delay);
                        who %= h.cfg.pistols;
                        f = phase_facts(who, in_u8(&in));
                        if (op & 8)
                                f.command_off = !f.in_session;
                        do_update(who, &f);
                        break;
                case 4:
                case 5:
                        /* A converter report; bit 3: output. */
                        advance(h.now + delay);
                        do_report((uint8_t)(who % h.cfg.converters), !(op & 8));
                        break;
                case 6:
                        /* Time passes, up to ~11 min. */
                        advance(h.now + delay * 256 + (uint64_t)who * 10 * MS);
                        break;
                case 7:
                        /* A reload; bit 3: with another map (refused). */
                        advance(h.now + delay);
                        cfg = h.cfg;
                        for (uint8_t p = 0; p < cfg.pistols; p++)
                                cfg.priority[p] = (uint8_t)((who >> (p % 8)) & 1);
                        read_times(&in, &cfg);
                        if (op & 8)
                                cfg.converter_of[who % cfg.pistols] =
                                        (uint8_t)((cfg.converter_of[who % cfg.pistols] + 1) %
                                                  cfg.converters);
                        take(&b);
                        {
                                bool same_map = memcmp(cfg.converter_of, h.cfg.converter_of,
                                                       cfg.pistols) == 0;
                                int r = arbiter_reconfigure(&h.a, &cfg, h.now);

                                if (same_map && r < 0)
                                        violation("a reload with the same map refused", -1, -1);
                                if (!same_map && r >= 0)
                                        violation("a reload with another map accepted", -1, -1);
                                if (r >= 0)
                                        h.cfg = cfg;
                        }
                        check(&b, CALL_RECONFIGURE, 0, false);
                        break;
                }
        }
        /* The end: everybody silent for a while leaves every shared
         * converter without owner. */
        advance(h.now + 10 * MS);
        for (uint8_t p = 0; p < h.cfg.pistols; p++) {
                struct arbiter_facts silent = { .controller_alive = false, .command_off = true };

                do_update(p, &silent);
        }
        for (uint8_t c = 0; c < h.cfg.converters; c++)
                if (h.shared[c] && arbiter_owner(&h.a, c) != ARBITER_NONE)
                        violation("owned with every controller silent", c, arbiter_owner(&h.a, c));
        return 0;
}
