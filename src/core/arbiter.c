/* SPDX-License-Identifier: MIT */
/*
 * The pistol arbiter: one session at a time on a shared converter, the
 * others held with Start_Charge_Authorisation = 0 (R9, V3).  The contract is
 * in include/seccbridge/arbiter.h, the design in doc/sharing.md.
 *
 * Every entry point follows the same steps:
 *   1. evaluate every converter at `now` before the input is taken, so that
 *      whatever fell due (an offer, a drain, a claim or idle bound) is
 *      decided on the facts it fell due with;
 *   2. take the input (a pistol's facts, a converter report, a config);
 *   3. evaluate again, then bring the pistols' bookkeeping (waiting, held
 *      and since when) up to date, and say whether a decision changed.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "seccbridge/arbiter.h"
#include "seccbridge/codec.h"

#define MS 1000u
#define SECOND (1000u * MS)

/* ---- small helpers ---- */

static uint64_t add_sat(uint64_t a, uint64_t b)
{
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
        return a < b ? a : b;
}

static uint64_t advance(struct arbiter *a, uint64_t now)
{
        /* The clock is monotonic; never let an older time undo a deadline. */
        if (now < a->now_us)
                now = a->now_us;
        a->now_us = now;
        return now;
}

static struct arbiter_converter *converter_of(struct arbiter *a, uint8_t p)
{
        return &a->converter[a->cfg.converter_of[p]];
}

static bool on_converter(const struct arbiter *a, uint8_t p, uint8_t c)
{
        return a->cfg.converter_of[p] == c;
}

/* ---- what a pistol's facts say ---- */

/* A vehicle is being dealt with before the session window opens: the
 * controller is past Not_Available / Waiting_For_PEV (R9), New_Charge_Session
 * is on its way (R19). */
static bool state_is_negotiating(uint8_t state)
{
        return state == CODEC_STATE_NEGOTIATING_CONNECTION ||
               state == CODEC_STATE_CCS_AUTHORISATION_PROCESS ||
               state == CODEC_STATE_CONNECTED_WITH_FULL_INFO;
}

/* A session that needs no power now and may not for hours (R35, E.16). */
static bool state_is_idle(uint8_t state)
{
        return state == CODEC_STATE_WAITING_FOR_CHARGE || state == CODEC_STATE_CHARGE_PAUSE;
}

/* Could use a converter: heard from (R1), no Emergency_Stop coming (R45). */
static bool eligible(const struct arbiter_pistol *p)
{
        return p->reported && p->facts.controller_alive && !p->facts.emergency_stop;
}

static bool wants(const struct arbiter_pistol *p)
{
        if (!eligible(p))
                return false;
        /* Outside the window the fault latch is the previous session's:
         * the next New_Charge_Session clears or confirms it. */
        if (p->facts.in_session)
                return !p->facts.fault;
        return state_is_negotiating(p->facts.controller_state) || p->facts.vehicle_waiting;
}

/* Why an owner no longer wants its converter. */
static enum arbiter_release release_reason(const struct arbiter_pistol *p)
{
        if (!p->reported || !p->facts.controller_alive)
                return ARBITER_RELEASE_CONTROLLER_SILENT;
        if (p->facts.emergency_stop)
                return ARBITER_RELEASE_EMERGENCY_STOP;
        if (p->facts.in_session && p->facts.fault)
                return ARBITER_RELEASE_FAULT;
        return ARBITER_RELEASE_SESSION_ENDED;
}

static bool released(const struct arbiter *a, uint8_t p)
{
        const struct arbiter_converter *cv = &a->converter[a->cfg.converter_of[p]];

        switch (cv->state) {
        case ARBITER_CONVERTER_DEDICATED:
        case ARBITER_CONVERTER_FREE:
                return true;
        case ARBITER_CONVERTER_OWNED:
                return cv->owner == p;
        case ARBITER_CONVERTER_OFFERED:
                return cv->offered == p;
        case ARBITER_CONVERTER_DRAINING:
        case ARBITER_CONVERTER_STUCK:
                return false;
        }
        return false;
}

/* True when pistol x is to be served before pistol y. */
static bool served_before(const struct arbiter *a, uint8_t x, uint8_t y, uint64_t now)
{
        const struct arbiter_pistol *px = &a->pistol[x], *py = &a->pistol[y];
        bool wx = wants(px), wy = wants(py);
        uint64_t kx, ky;

        if (a->cfg.policy == ARBITER_POLICY_PRIORITY && a->cfg.priority[x] != a->cfg.priority[y])
                return a->cfg.priority[x] > a->cfg.priority[y];
        /* First come: a known vehicle before a possible one, then who waits
         * longest, then who has been held longest. */
        if (wx != wy)
                return wx;
        if (wx) {
                kx = px->waiting ? px->waiting_since_us : now;
                ky = py->waiting ? py->waiting_since_us : now;
                if (kx != ky)
                        return kx < ky;
        }
        kx = px->held ? px->held_since_us : now;
        ky = py->held ? py->held_since_us : now;
        if (kx != ky)
                return kx < ky;
        return x < y;
}

/* ---- converter transitions ---- */

static void grant(struct arbiter *a, uint8_t c, uint8_t p, uint64_t now)
{
        struct arbiter_converter *cv = &a->converter[c];

        cv->state = ARBITER_CONVERTER_OWNED;
        cv->owner = p;
        cv->offered = ARBITER_NONE;
        cv->since_us = now;
        cv->started = a->pistol[p].facts.in_session;
        cv->idle = false;
        cv->counters.grants++;
}

/* The converter loses its owner, or must be confirmed off again: no owner
 * from now on, OFF until drained.  `from` is the pistol whose command must
 * be OFF before anybody else gets the converter. */
static void begin_drain(struct arbiter *a, uint8_t c, uint8_t from, enum arbiter_release why,
                        uint64_t now)
{
        struct arbiter_converter *cv = &a->converter[c];

        cv->state = ARBITER_CONVERTER_DRAINING;
        cv->owner = ARBITER_NONE;
        cv->offered = ARBITER_NONE;
        cv->drain_from = from;
        cv->since_us = now;
        cv->off_since_drain = false;
        cv->idle = false;
        if (from == ARBITER_NONE)
                return;
        cv->last_owner = from;
        cv->last_release = why;
        /* A new handover: everybody is a candidate again, except the one
         * whose turn just ended (it goes last, whatever its priority). */
        for (uint8_t p = 0; p < a->cfg.pistols; p++)
                if (on_converter(a, p, c))
                        a->pistol[p].passed = p == from;
}

static void release_owner(struct arbiter *a, uint8_t c, enum arbiter_release why, uint64_t now)
{
        struct arbiter_converter *cv = &a->converter[c];

        switch (why) {
        case ARBITER_RELEASE_FAULT:
        case ARBITER_RELEASE_EMERGENCY_STOP:
        case ARBITER_RELEASE_CONTROLLER_SILENT:
                cv->counters.trips++;
                break;
        case ARBITER_RELEASE_CLAIM_TIMEOUT:
                cv->counters.claim_timeouts++;
                break;
        case ARBITER_RELEASE_IDLE_TIMEOUT:
                cv->counters.idle_timeouts++;
                break;
        case ARBITER_RELEASE_NONE:
        case ARBITER_RELEASE_SESSION_ENDED:
                break;
        }
        begin_drain(a, c, cv->owner, why, now);
}

static bool drain_complete(const struct arbiter *a, const struct arbiter_converter *cv)
{
        if (!cv->off_since_drain)
                return false;
        return cv->drain_from == ARBITER_NONE || a->pistol[cv->drain_from].facts.command_off;
}

/* A drained converter goes to the best candidate not passed over since the
 * latest release: at once if it wants it, else as an offer; when there is
 * none left, the converter is free for all. */
static void hand_over(struct arbiter *a, uint8_t c, uint64_t now)
{
        struct arbiter_converter *cv = &a->converter[c];
        uint8_t best = ARBITER_NONE;

        for (uint8_t p = 0; p < a->cfg.pistols; p++) {
                if (!on_converter(a, p, c) || a->pistol[p].passed || !eligible(&a->pistol[p]))
                        continue;
                if (best == ARBITER_NONE || served_before(a, p, best, now))
                        best = p;
        }
        if (best != ARBITER_NONE && wants(&a->pistol[best])) {
                grant(a, c, best, now);
                return;
        }
        cv->owner = ARBITER_NONE;
        cv->since_us = now;
        if (best == ARBITER_NONE) {
                cv->state = ARBITER_CONVERTER_FREE;
                cv->offered = ARBITER_NONE;
                return;
        }
        /* R9: released, its controller may now start a vehicle it held. */
        cv->state = ARBITER_CONVERTER_OFFERED;
        cv->offered = best;
        a->pistol[best].passed = true;
}

/* Another pistol of the converter could use it (claim bound). */
static bool other_eligible(const struct arbiter *a, uint8_t c, uint8_t owner)
{
        for (uint8_t p = 0; p < a->cfg.pistols; p++)
                if (p != owner && on_converter(a, p, c) && eligible(&a->pistol[p]))
                        return true;
        return false;
}

/* Another pistol of the converter wants it (idle bound). */
static bool other_wants(const struct arbiter *a, uint8_t c, uint8_t owner)
{
        for (uint8_t p = 0; p < a->cfg.pistols; p++)
                if (p != owner && on_converter(a, p, c) && wants(&a->pistol[p]))
                        return true;
        return false;
}

static uint64_t claim_deadline(const struct arbiter *a, uint8_t c)
{
        const struct arbiter_converter *cv = &a->converter[c];

        if (cv->started || a->cfg.claim_timeout_us == 0 || !other_eligible(a, c, cv->owner))
                return ARBITER_NO_DEADLINE;
        return add_sat(cv->since_us, a->cfg.claim_timeout_us);
}

static uint64_t idle_deadline(const struct arbiter *a, uint8_t c)
{
        const struct arbiter_converter *cv = &a->converter[c];

        if (!cv->idle || a->cfg.idle_timeout_us == 0 || !other_wants(a, c, cv->owner))
                return ARBITER_NO_DEADLINE;
        return add_sat(cv->idle_since_us, a->cfg.idle_timeout_us);
}

static uint8_t best_wanting(const struct arbiter *a, uint8_t c, uint64_t now)
{
        uint8_t best = ARBITER_NONE;

        for (uint8_t p = 0; p < a->cfg.pistols; p++) {
                if (!on_converter(a, p, c) || !wants(&a->pistol[p]))
                        continue;
                if (best == ARBITER_NONE || served_before(a, p, best, now))
                        best = p;
        }
        return best;
}

/* One step; true when the state changed and another step may follow. */
static bool step(struct arbiter *a, uint8_t c, uint64_t now)
{
        struct arbiter_converter *cv = &a->converter[c];
        const struct arbiter_pistol *o;
        uint8_t p;

        switch (cv->state) {
        case ARBITER_CONVERTER_DEDICATED:
                return false;
        case ARBITER_CONVERTER_DRAINING:
                if (drain_complete(a, cv)) {
                        hand_over(a, c, now);
                        return true;
                }
                if (now >= add_sat(cv->since_us, a->cfg.drain_timeout_us)) {
                        /* Bounded: no handover without the confirmation,
                         * the converter stays off. */
                        cv->state = ARBITER_CONVERTER_STUCK;
                        cv->since_us = now;
                        cv->counters.drain_timeouts++;
                        return true;
                }
                return false;
        case ARBITER_CONVERTER_STUCK:
                if (drain_complete(a, cv)) {
                        hand_over(a, c, now);
                        return true;
                }
                return false;
        case ARBITER_CONVERTER_OFFERED:
                p = cv->offered;
                if (wants(&a->pistol[p])) {
                        grant(a, c, p, now);
                        return true;
                }
                if (!eligible(&a->pistol[p]) || now >= add_sat(cv->since_us, a->cfg.offer_us)) {
                        hand_over(a, c, now);
                        return true;
                }
                return false;
        case ARBITER_CONVERTER_FREE:
                p = best_wanting(a, c, now);
                if (p == ARBITER_NONE)
                        return false;
                grant(a, c, p, now);
                return true;
        case ARBITER_CONVERTER_OWNED:
                o = &a->pistol[cv->owner];
                /* Trip or end: OFF from this call on. */
                if (!wants(o)) {
                        release_owner(a, c, release_reason(o), now);
                        return true;
                }
                if (o->facts.in_session)
                        cv->started = true;
                if (o->facts.in_session && state_is_idle(o->facts.controller_state)) {
                        if (!cv->idle) {
                                cv->idle = true;
                                cv->idle_since_us = now;
                        }
                } else {
                        cv->idle = false;
                }
                if (now >= claim_deadline(a, c)) {
                        release_owner(a, c, ARBITER_RELEASE_CLAIM_TIMEOUT, now);
                        return true;
                }
                if (now >= idle_deadline(a, c)) {
                        release_owner(a, c, ARBITER_RELEASE_IDLE_TIMEOUT, now);
                        return true;
                }
                return false;
        }
        return false;
}

static void evaluate(struct arbiter *a, uint64_t now)
{
        for (uint8_t c = 0; c < a->cfg.converters; c++) {
                /* Each step either settles or moves on; a handover passes
                 * every pistol at most once, so this bound is never hit. */
                for (int guard = 0; guard < 4 * ARBITER_MAX_PISTOLS + 8; guard++)
                        if (!step(a, c, now))
                                break;
        }
}

static void refresh_pistols(struct arbiter *a, uint64_t now)
{
        for (uint8_t p = 0; p < a->cfg.pistols; p++) {
                struct arbiter_pistol *ps = &a->pistol[p];
                const struct arbiter_converter *cv = converter_of(a, p);
                bool owner = cv->owner == p;
                bool waiting = wants(ps) && !owner;
                bool held = !released(a, p);

                if (waiting && !ps->waiting)
                        ps->waiting_since_us = now;
                ps->waiting = waiting;
                if (held && !ps->held)
                        ps->held_since_us = now;
                ps->held = held;
        }
}

/* ---- decisions, before and after a call ---- */

struct decisions {
        enum arbiter_converter_state state[ARBITER_MAX_CONVERTERS];
        uint8_t owner[ARBITER_MAX_CONVERTERS];
        uint8_t offered[ARBITER_MAX_CONVERTERS];
        bool held[ARBITER_MAX_PISTOLS];
};

static void snapshot(const struct arbiter *a, struct decisions *d)
{
        for (uint8_t c = 0; c < a->cfg.converters; c++) {
                d->state[c] = a->converter[c].state;
                d->owner[c] = a->converter[c].owner;
                d->offered[c] = a->converter[c].offered;
        }
        for (uint8_t p = 0; p < a->cfg.pistols; p++)
                d->held[p] = a->pistol[p].held;
}

static int changed(const struct arbiter *a, const struct decisions *before)
{
        struct decisions after;

        snapshot(a, &after);
        for (uint8_t c = 0; c < a->cfg.converters; c++)
                if (after.state[c] != before->state[c] || after.owner[c] != before->owner[c] ||
                    after.offered[c] != before->offered[c])
                        return 1;
        for (uint8_t p = 0; p < a->cfg.pistols; p++)
                if (after.held[p] != before->held[p])
                        return 1;
        return 0;
}

/* ---- config ---- */

void arbiter_config_defaults(struct arbiter_config *cfg)
{
        memset(cfg, 0, sizeof(*cfg));
        cfg->pistols = 1;
        cfg->converters = 1;
        cfg->policy = ARBITER_POLICY_FIRST_COME;
        cfg->offer_us = 5 * SECOND;
        cfg->drain_timeout_us = 5 * SECOND;
        cfg->claim_timeout_us = 120 * (uint64_t)SECOND;
        cfg->idle_timeout_us = 600 * (uint64_t)SECOND;
}

int arbiter_config_check(const struct arbiter_config *cfg)
{
        bool used[ARBITER_MAX_CONVERTERS] = { false };

        if (!cfg)
                return -EINVAL;
        if (cfg->pistols < 1 || cfg->pistols > ARBITER_MAX_PISTOLS ||
            cfg->converters < 1 || cfg->converters > ARBITER_MAX_CONVERTERS)
                return -EINVAL;
        for (uint8_t p = 0; p < cfg->pistols; p++) {
                if (cfg->converter_of[p] >= cfg->converters)
                        return -EINVAL;
                used[cfg->converter_of[p]] = true;
        }
        for (uint8_t c = 0; c < cfg->converters; c++)
                if (!used[c])
                        return -EINVAL;
        if (cfg->policy != ARBITER_POLICY_FIRST_COME && cfg->policy != ARBITER_POLICY_PRIORITY)
                return -EINVAL;
        if (cfg->offer_us == 0 || cfg->drain_timeout_us == 0)
                return -EINVAL;
        return 0;
}

int arbiter_init(struct arbiter *a, const struct arbiter_config *cfg, uint64_t now_us)
{
        if (!a || arbiter_config_check(cfg) < 0)
                return -EINVAL;
        memset(a, 0, sizeof(*a));
        a->cfg = *cfg;
        a->now_us = now_us;
        for (uint8_t c = 0; c < cfg->converters; c++) {
                struct arbiter_converter *cv = &a->converter[c];
                uint8_t users = 0, first = ARBITER_NONE;

                for (uint8_t p = 0; p < cfg->pistols; p++)
                        if (cfg->converter_of[p] == c) {
                                if (first == ARBITER_NONE)
                                        first = p;
                                users++;
                        }
                cv->shared = users > 1;
                cv->offered = ARBITER_NONE;
                cv->last_owner = ARBITER_NONE;
                cv->last_release = ARBITER_RELEASE_NONE;
                cv->since_us = now_us;
                if (cv->shared) {
                        /* Nobody gets it before it has confirmed OFF. */
                        cv->state = ARBITER_CONVERTER_DRAINING;
                        cv->owner = ARBITER_NONE;
                        cv->drain_from = ARBITER_NONE;
                } else {
                        cv->state = ARBITER_CONVERTER_DEDICATED;
                        cv->owner = first;
                        cv->drain_from = ARBITER_NONE;
                }
        }
        refresh_pistols(a, now_us);
        return 0;
}

int arbiter_reconfigure(struct arbiter *a, const struct arbiter_config *cfg, uint64_t now_us)
{
        struct decisions before;

        if (!a || arbiter_config_check(cfg) < 0)
                return -EINVAL;
        if (cfg->pistols != a->cfg.pistols || cfg->converters != a->cfg.converters ||
            memcmp(cfg->converter_of, a->cfg.converter_of, cfg->pistols) != 0)
                return -EINVAL;
        now_us = advance(a, now_us);
        snapshot(a, &before);
        /* What fell due under the old config is decided under it. */
        evaluate(a, now_us);
        a->cfg = *cfg;
        evaluate(a, now_us);
        refresh_pistols(a, now_us);
        return changed(a, &before);
}

/* ---- inputs ---- */

int arbiter_update(struct arbiter *a, uint8_t pistol, const struct arbiter_facts *facts,
                   uint64_t now_us)
{
        struct decisions before;

        if (!a || !facts || pistol >= a->cfg.pistols)
                return -EINVAL;
        now_us = advance(a, now_us);
        snapshot(a, &before);
        evaluate(a, now_us);
        a->pistol[pistol].facts = *facts;
        a->pistol[pistol].reported = true;
        evaluate(a, now_us);
        refresh_pistols(a, now_us);
        return changed(a, &before);
}

int arbiter_converter_report(struct arbiter *a, uint8_t converter, bool off, uint64_t now_us)
{
        struct arbiter_converter *cv;
        struct decisions before;

        if (!a || converter >= a->cfg.converters)
                return -EINVAL;
        now_us = advance(a, now_us);
        snapshot(a, &before);
        evaluate(a, now_us);
        cv = &a->converter[converter];
        cv->off = off;
        switch (cv->state) {
        case ARBITER_CONVERTER_DEDICATED:
        case ARBITER_CONVERTER_OWNED:
                break;
        case ARBITER_CONVERTER_DRAINING:
        case ARBITER_CONVERTER_STUCK:
                cv->off_since_drain = off;
                break;
        case ARBITER_CONVERTER_OFFERED:
        case ARBITER_CONVERTER_FREE:
                if (off)
                        break;
                /* Output while nobody may command it: off and confirmed
                 * again before anybody gets it.  The offer was not used;
                 * it comes again. */
                cv->counters.stray_output++;
                if (cv->offered != ARBITER_NONE)
                        a->pistol[cv->offered].passed = false;
                begin_drain(a, converter, ARBITER_NONE, ARBITER_RELEASE_NONE, now_us);
                break;
        }
        evaluate(a, now_us);
        refresh_pistols(a, now_us);
        return changed(a, &before);
}

int arbiter_tick(struct arbiter *a, uint64_t now_us)
{
        struct decisions before;

        if (!a)
                return -EINVAL;
        now_us = advance(a, now_us);
        snapshot(a, &before);
        evaluate(a, now_us);
        refresh_pistols(a, now_us);
        return changed(a, &before);
}

uint64_t arbiter_next_deadline(const struct arbiter *a)
{
        uint64_t next = ARBITER_NO_DEADLINE;

        for (uint8_t c = 0; c < a->cfg.converters; c++) {
                const struct arbiter_converter *cv = &a->converter[c];

                switch (cv->state) {
                case ARBITER_CONVERTER_DEDICATED:
                case ARBITER_CONVERTER_STUCK:
                case ARBITER_CONVERTER_FREE:
                        break;
                case ARBITER_CONVERTER_DRAINING:
                        next = min_u64(next, add_sat(cv->since_us, a->cfg.drain_timeout_us));
                        break;
                case ARBITER_CONVERTER_OFFERED:
                        next = min_u64(next, add_sat(cv->since_us, a->cfg.offer_us));
                        break;
                case ARBITER_CONVERTER_OWNED:
                        next = min_u64(next, claim_deadline(a, c));
                        next = min_u64(next, idle_deadline(a, c));
                        break;
                }
        }
        return next;
}

/* ---- decisions ---- */

bool arbiter_may_command(const struct arbiter *a, uint8_t pistol)
{
        if (!a || pistol >= a->cfg.pistols)
                return false;
        return a->converter[a->cfg.converter_of[pistol]].owner == pistol;
}

bool arbiter_held(const struct arbiter *a, uint8_t pistol)
{
        if (!a || pistol >= a->cfg.pistols)
                return true;
        return a->pistol[pistol].held;
}

uint8_t arbiter_owner(const struct arbiter *a, uint8_t converter)
{
        if (!a || converter >= a->cfg.converters)
                return ARBITER_NONE;
        return a->converter[converter].owner;
}

bool arbiter_must_off(const struct arbiter *a, uint8_t converter)
{
        if (!a || converter >= a->cfg.converters)
                return true;
        return a->converter[converter].owner == ARBITER_NONE;
}

int arbiter_get_converter(const struct arbiter *a, uint8_t converter,
                          struct arbiter_converter_view *out)
{
        const struct arbiter_converter *cv;

        if (!a || !out || converter >= a->cfg.converters)
                return -EINVAL;
        cv = &a->converter[converter];
        *out = (struct arbiter_converter_view){
                .state = cv->state,
                .shared = cv->shared,
                .must_off = cv->owner == ARBITER_NONE,
                .owner = cv->owner,
                .offered = cv->offered,
                .last_owner = cv->last_owner,
                .last_release = cv->last_release,
                .since_us = cv->since_us,
                .counters = cv->counters,
        };
        return 0;
}

int arbiter_get_pistol(const struct arbiter *a, uint8_t pistol, struct arbiter_pistol_view *out)
{
        const struct arbiter_pistol *p;

        if (!a || !out || pistol >= a->cfg.pistols)
                return -EINVAL;
        p = &a->pistol[pistol];
        *out = (struct arbiter_pistol_view){
                .converter = a->cfg.converter_of[pistol],
                .owner = arbiter_may_command(a, pistol),
                .held = p->held,
                .waiting = p->waiting,
                .waiting_since_us = p->waiting ? p->waiting_since_us : 0,
        };
        return 0;
}

/* ---- names ---- */

const char *arbiter_converter_state_name(enum arbiter_converter_state state)
{
        switch (state) {
        case ARBITER_CONVERTER_DEDICATED:
                return "dedicated";
        case ARBITER_CONVERTER_DRAINING:
                return "draining";
        case ARBITER_CONVERTER_STUCK:
                return "stuck";
        case ARBITER_CONVERTER_OFFERED:
                return "offered";
        case ARBITER_CONVERTER_FREE:
                return "free";
        case ARBITER_CONVERTER_OWNED:
                return "owned";
        }
        return "?";
}

const char *arbiter_release_name(enum arbiter_release release)
{
        switch (release) {
        case ARBITER_RELEASE_NONE:
                return "none";
        case ARBITER_RELEASE_SESSION_ENDED:
                return "session-ended";
        case ARBITER_RELEASE_FAULT:
                return "fault";
        case ARBITER_RELEASE_EMERGENCY_STOP:
                return "emergency-stop";
        case ARBITER_RELEASE_CONTROLLER_SILENT:
                return "controller-silent";
        case ARBITER_RELEASE_CLAIM_TIMEOUT:
                return "claim-timeout";
        case ARBITER_RELEASE_IDLE_TIMEOUT:
                return "idle-timeout";
        }
        return "?";
}

const char *arbiter_policy_name(enum arbiter_policy policy)
{
        switch (policy) {
        case ARBITER_POLICY_FIRST_COME:
                return "first-come";
        case ARBITER_POLICY_PRIORITY:
                return "priority";
        }
        return "?";
}
