/* SPDX-License-Identifier: MIT */
/*
 * The events waiting for the broker: a bounded FIFO of ready-made payloads,
 * each numbered (seq, from 1, never reused while the process runs) and kept
 * until the broker acknowledged it (MQTT QoS 1 PUBACK).  Pure; the caller
 * gives the storage once.
 *
 *   append -> WAITING -> (published) SENT -> (acknowledged) gone
 *                           \-> (connection lost) WAITING again, in order
 *
 * When the queue is full the oldest event that is still waiting is dropped
 * to make room for the new one; when the oldest is in flight (the broker is
 * acknowledging, only slowly) the new one is dropped instead.  Drops are
 * counted; dropped_unreported is the count not yet told to the broker.
 * An event that was sent and not acknowledged when the connection broke is
 * sent again after the next connection: delivery is at least once, and
 * seq lets a reader drop the duplicates.
 */
#ifndef SECCBRIDGE_EVENT_QUEUE_H
#define SECCBRIDGE_EVENT_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVENT_PAYLOAD_MAX 1024

enum event_state {
        EVENT_WAITING,          /* to be published */
        EVENT_SENT,             /* published, not yet acknowledged */
        EVENT_DONE,             /* acknowledged behind an unacknowledged one */
};

struct event_slot {
        uint64_t seq;
        enum event_state state;
        int mid;                /* the publisher's message id while SENT */
        uint16_t len;
        char payload[EVENT_PAYLOAD_MAX];
};

struct event_queue {
        struct event_slot *slots;
        uint32_t capacity;
        uint32_t head;          /* the oldest */
        uint32_t count;
        uint32_t in_flight;     /* SENT */
        uint64_t next_seq;
        uint64_t appended;
        uint64_t delivered;
        uint64_t dropped;
        uint64_t dropped_unreported;
};

/* capacity 0 (slots NULL) is a queue that keeps nothing. */
void event_queue_init(struct event_queue *q, struct event_slot *slots, uint32_t capacity);

/* A new event at the tail, numbered; the caller writes payload and len.
 * NULL when there is no room (counted as a drop).  Its seq is taken even
 * then, so that a reader sees the gap. */
struct event_slot *event_queue_append(struct event_queue *q);

/* The oldest WAITING event, or NULL. */
struct event_slot *event_queue_next_waiting(struct event_queue *q);
bool event_queue_has_waiting(const struct event_queue *q);

void event_queue_mark_sent(struct event_queue *q, struct event_slot *e, int mid);

/* The broker acknowledged message mid: its event leaves the queue.  False
 * when no event in flight has that id. */
bool event_queue_ack(struct event_queue *q, int mid);

/* The connection is gone: every SENT event is WAITING again. */
void event_queue_unsend_all(struct event_queue *q);

/* A number for an event kept outside the queue (the drop report). */
uint64_t event_queue_take_seq(struct event_queue *q);

/* Take the drops not yet reported (and zero them). */
uint64_t event_queue_take_dropped(struct event_queue *q);

#endif
