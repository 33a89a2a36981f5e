/* SPDX-License-Identifier: MIT */
/*
 * The bounded event queue (event_queue.c) and the reconnect backoff
 * (backoff.c): order, numbering, acknowledgements in and out of order,
 * the connection lost with events in flight, drops when full (oldest
 * waiting first, the new one while the oldest is in flight), and the
 * backoff's bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "backoff.h"
#include "event_queue.h"

#define CAP 4

static struct event_slot slots[CAP];

static struct event_slot *push(struct event_queue *q, const char *text)
{
        struct event_slot *e = event_queue_append(q);

        if (e) {
                e->len = (uint16_t)strlen(text);
                memcpy(e->payload, text, e->len + 1);
        }
        return e;
}

static void test_fifo_order_and_numbers(void **state)
{
        struct event_queue q;
        struct event_slot *e;

        (void)state;
        event_queue_init(&q, slots, CAP);
        assert_null(event_queue_next_waiting(&q));
        assert_int_equal(push(&q, "a")->seq, 1);
        assert_int_equal(push(&q, "b")->seq, 2);
        e = event_queue_next_waiting(&q);
        assert_string_equal(e->payload, "a");
        event_queue_mark_sent(&q, e, 101);
        e = event_queue_next_waiting(&q);
        assert_string_equal(e->payload, "b");
        event_queue_mark_sent(&q, e, 102);
        assert_null(event_queue_next_waiting(&q));
        assert_int_equal(q.in_flight, 2);
        assert_true(event_queue_ack(&q, 101));
        assert_true(event_queue_ack(&q, 102));
        assert_false(event_queue_ack(&q, 102));         /* twice: unknown */
        assert_int_equal(q.count, 0);
        assert_int_equal(q.delivered, 2);
        assert_int_equal(q.in_flight, 0);
}

/* An acknowledgement out of order frees its event only once everything
 * before it is acknowledged too. */
static void test_ack_out_of_order(void **state)
{
        struct event_queue q;

        (void)state;
        event_queue_init(&q, slots, CAP);
        push(&q, "a");
        push(&q, "b");
        event_queue_mark_sent(&q, event_queue_next_waiting(&q), 1);
        event_queue_mark_sent(&q, event_queue_next_waiting(&q), 2);
        assert_true(event_queue_ack(&q, 2));
        assert_int_equal(q.count, 2);
        assert_int_equal(q.in_flight, 1);
        assert_true(event_queue_ack(&q, 1));
        assert_int_equal(q.count, 0);
}

/* The connection breaks with events in flight: they are sent again, in
 * their order, before the newer ones; an event acknowledged behind an
 * unacknowledged one is not sent again. */
static void test_connection_lost_sends_again_in_order(void **state)
{
        struct event_queue q;
        struct event_slot *e;

        (void)state;
        event_queue_init(&q, slots, CAP);
        push(&q, "a");
        push(&q, "b");
        push(&q, "c");
        event_queue_mark_sent(&q, event_queue_next_waiting(&q), 1);
        event_queue_mark_sent(&q, event_queue_next_waiting(&q), 2);
        assert_true(event_queue_ack(&q, 2));
        event_queue_unsend_all(&q);
        assert_int_equal(q.in_flight, 0);
        e = event_queue_next_waiting(&q);
        assert_string_equal(e->payload, "a");
        assert_int_equal(e->seq, 1);
        event_queue_mark_sent(&q, e, 7);
        e = event_queue_next_waiting(&q);
        assert_string_equal(e->payload, "c");
        event_queue_mark_sent(&q, e, 8);
        assert_true(event_queue_ack(&q, 7));
        assert_true(event_queue_ack(&q, 8));
        assert_int_equal(q.count, 0);
        assert_int_equal(q.delivered, 3);
}

/* Full while nothing is in flight (no broker): the oldest goes, counted,
 * and its number is never reused. */
static void test_full_drops_oldest_waiting(void **state)
{
        struct event_queue q;
        char text[8];

        (void)state;
        event_queue_init(&q, slots, CAP);
        for (int i = 1; i <= 10; i++) {
                snprintf(text, sizeof(text), "e%d", i);
                assert_non_null(push(&q, text));
        }
        assert_int_equal(q.count, CAP);
        assert_int_equal(q.dropped, 10 - CAP);
        assert_int_equal(event_queue_take_dropped(&q), 10 - CAP);
        assert_int_equal(event_queue_take_dropped(&q), 0);
        assert_int_equal(q.dropped, 10 - CAP);
        for (int i = 10 - CAP + 1; i <= 10; i++) {
                struct event_slot *e = event_queue_next_waiting(&q);

                snprintf(text, sizeof(text), "e%d", i);
                assert_string_equal(e->payload, text);
                assert_int_equal(e->seq, (uint64_t)i);
                event_queue_mark_sent(&q, e, i);
                assert_true(event_queue_ack(&q, i));
        }
        assert_int_equal(q.count, 0);
}

/* Full while the oldest is in flight: the new event is the one dropped
 * (an event handed to the broker is never taken back), and its number is
 * skipped. */
static void test_full_with_oldest_in_flight_drops_new(void **state)
{
        struct event_queue q;
        struct event_slot *e;

        (void)state;
        event_queue_init(&q, slots, CAP);
        for (int i = 0; i < CAP; i++)
                push(&q, "x");
        event_queue_mark_sent(&q, event_queue_next_waiting(&q), 1);
        assert_null(push(&q, "new"));
        assert_int_equal(q.dropped, 1);
        assert_int_equal(q.count, CAP);
        assert_true(event_queue_ack(&q, 1));
        e = push(&q, "later");
        assert_non_null(e);
        assert_int_equal(e->seq, CAP + 2);
}

static void test_zero_capacity_keeps_nothing(void **state)
{
        struct event_queue q;

        (void)state;
        event_queue_init(&q, NULL, 16);
        assert_int_equal(q.capacity, 0);
        assert_null(push(&q, "a"));
        assert_null(event_queue_next_waiting(&q));
        assert_int_equal(q.dropped, 1);
}

/* Backoff: from min doubling to max, each delay in [ceiling/2, ceiling],
 * both ends reachable, reset after a success. */
static void test_backoff_bounds(void **state)
{
        struct backoff b;
        uint32_t ceiling = 1000;

        (void)state;
        backoff_init(&b, 1000, 30000);
        for (int i = 0; i < 10; i++) {
                uint32_t lo, hi;
                struct backoff copy = b;

                lo = backoff_next(&copy, 0);
                copy = b;
                hi = backoff_next(&copy, UINT32_MAX);
                for (uint32_t r = 1; r < 5000; r += 37) {
                        struct backoff c2 = b;
                        uint32_t d = backoff_next(&c2, r * 2654435761u);

                        assert_true(d >= ceiling / 2 && d <= ceiling);
                }
                assert_true(lo >= ceiling / 2 && hi <= ceiling);
                (void)backoff_next(&b, (uint32_t)i);
                ceiling = ceiling * 2 > 30000 ? 30000 : ceiling * 2;
        }
        assert_int_equal(b.ceiling_ms, 30000);
        backoff_reset(&b);
        assert_int_equal(b.ceiling_ms, 1000);
        /* The end points are drawn. */
        {
                struct backoff c = b;
                bool saw_low = false, saw_high = false;

                for (uint32_t r = 0; r < 2000; r++) {
                        c = b;
                        uint32_t d = backoff_next(&c, r);

                        saw_low |= d == 500;
                        saw_high |= d == 1000;
                }
                assert_true(saw_low && saw_high);
        }
}

static void test_backoff_degenerate_settings(void **state)
{
        struct backoff b;

        (void)state;
        backoff_init(&b, 0, 0);         /* at least 1 ms */
        assert_true(backoff_next(&b, 12345) <= 1);
        backoff_init(&b, 5000, 100);    /* max below min: min */
        for (int i = 0; i < 5; i++)
                assert_true(backoff_next(&b, 99) <= 5000);
        backoff_init(&b, 3000000000u, UINT32_MAX);
        assert_true(backoff_next(&b, UINT32_MAX) <= 3000000000u);
        assert_int_equal(b.ceiling_ms, UINT32_MAX);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fifo_order_and_numbers),
                cmocka_unit_test(test_ack_out_of_order),
                cmocka_unit_test(test_connection_lost_sends_again_in_order),
                cmocka_unit_test(test_full_drops_oldest_waiting),
                cmocka_unit_test(test_full_with_oldest_in_flight_drops_new),
                cmocka_unit_test(test_zero_capacity_keeps_nothing),
                cmocka_unit_test(test_backoff_bounds),
                cmocka_unit_test(test_backoff_degenerate_settings),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
