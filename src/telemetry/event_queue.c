/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "event_queue.h"

void event_queue_init(struct event_queue *q, struct event_slot *slots, uint32_t capacity)
{
        memset(q, 0, sizeof(*q));
        q->slots = slots;
        q->capacity = slots ? capacity : 0;
        q->next_seq = 1;
}

static struct event_slot *event_queue_at(struct event_queue *q, uint32_t i)
{
        return &q->slots[(q->head + i) % q->capacity];
}

static void event_queue_pop(struct event_queue *q)
{
        q->head = (q->head + 1) % q->capacity;
        q->count--;
}

static void event_queue_drop(struct event_queue *q)
{
        q->dropped++;
        q->dropped_unreported++;
}

struct event_slot *event_queue_append(struct event_queue *q)
{
        struct event_slot *e;
        uint64_t seq = q->next_seq++;

        if (q->capacity == 0) {
                event_queue_drop(q);
                return NULL;
        }
        if (q->count == q->capacity) {
                if (event_queue_at(q, 0)->state != EVENT_WAITING) {
                        event_queue_drop(q);
                        return NULL;
                }
                event_queue_pop(q);
                event_queue_drop(q);
        }
        e = event_queue_at(q, q->count);
        q->count++;
        q->appended++;
        e->seq = seq;
        e->state = EVENT_WAITING;
        e->mid = 0;
        e->len = 0;
        e->payload[0] = '\0';
        return e;
}

struct event_slot *event_queue_next_waiting(struct event_queue *q)
{
        for (uint32_t i = 0; i < q->count; i++) {
                struct event_slot *e = event_queue_at(q, i);

                if (e->state == EVENT_WAITING)
                        return e;
        }
        return NULL;
}

bool event_queue_has_waiting(const struct event_queue *q)
{
        for (uint32_t i = 0; i < q->count; i++)
                if (q->slots[(q->head + i) % q->capacity].state == EVENT_WAITING)
                        return true;
        return false;
}

void event_queue_mark_sent(struct event_queue *q, struct event_slot *e, int mid)
{
        if (e->state != EVENT_WAITING)
                return;
        e->state = EVENT_SENT;
        e->mid = mid;
        q->in_flight++;
}

bool event_queue_ack(struct event_queue *q, int mid)
{
        bool found = false;

        for (uint32_t i = 0; i < q->count; i++) {
                struct event_slot *e = event_queue_at(q, i);

                if (e->state == EVENT_SENT && e->mid == mid) {
                        e->state = EVENT_DONE;
                        q->in_flight--;
                        q->delivered++;
                        found = true;
                        break;
                }
        }
        while (q->count > 0 && event_queue_at(q, 0)->state == EVENT_DONE)
                event_queue_pop(q);
        return found;
}

void event_queue_unsend_all(struct event_queue *q)
{
        for (uint32_t i = 0; i < q->count; i++) {
                struct event_slot *e = event_queue_at(q, i);

                if (e->state == EVENT_SENT)
                        e->state = EVENT_WAITING;
        }
        q->in_flight = 0;
}

uint64_t event_queue_take_seq(struct event_queue *q)
{
        return q->next_seq++;
}

uint64_t event_queue_take_dropped(struct event_queue *q)
{
        uint64_t n = q->dropped_unreported;

        q->dropped_unreported = 0;
        return n;
}
