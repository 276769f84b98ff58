#pragma once
/*
 * queue: which job runs next. One interface, one driver per backend:
 * "local" (an in-process priority queue, bounded) now, "jetstream" for a
 * cluster later. The queue holds job ids only; the store holds the jobs.
 *
 * Order: higher priority first (JOB_PRIORITY_MIN..MAX), FIFO within one
 * priority; an entry with a not-before time (a retry's backoff) is not taken
 * before it.
 *
 * Bound: at most max_queue entries are waiting. A submission reserves its
 * place before the job is written (queue_reserve), so a full queue answers
 * 429 without touching the store; once reserved and pushed, nothing is ever
 * dropped. Recovery and retries push without a reservation (they were
 * accepted already) and may exceed the bound.
 *
 * Every function is thread-safe.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "moat/config.h"
#include "moat/util.h"

struct queue;
struct moat_err;

/* Opens the queue named by cfg (the local driver; max_queue entries). */
int queue_open(const struct moat_config *cfg, struct queue **out, struct moat_err *err);
/* Wakes every waiter (they get -ESHUTDOWN) and frees the queue. No call may
 * be in flight when it frees; call queue_shutdown first and join the
 * takers. Accepts NULL. */
void queue_close(struct queue *q);
/* Makes queue_take return -ESHUTDOWN from now on, waking blocked takers. */
void queue_shutdown(struct queue *q);

/* Reserves a place: 0, or -EAGAIN when max_queue places are taken. */
int queue_reserve(struct queue *q);
/* Gives a reservation back (the job was not accepted after all). */
void queue_unreserve(struct queue *q);

/*
 * Adds id. reserved: it uses a place reserved with queue_reserve (else it
 * is added whatever the depth). not_before_ms: CLOCK_MONOTONIC ms
 * (moat_now_ns()/1e6) before which it is not taken, 0 = at once.
 * -ENOMEM (a reservation is then still held), -EINVAL for a bad priority.
 */
int queue_push(struct queue *q, const char *id, int priority, uint64_t not_before_ms,
               bool reserved);

/*
 * Takes the next id into id (blocking up to timeout_ms; -1 = forever).
 * 0, -ETIMEDOUT, -ESHUTDOWN. The entry stays "in flight" until queue_ack
 * (local: ack only counts; jetstream: the message is acknowledged).
 */
int queue_take(struct queue *q, int timeout_ms, char id[MOAT_UUID_LEN + 1], int *priority);
/* The job taken is done with (its result is durable, or it was requeued). */
void queue_ack(struct queue *q, const char *id);

/* Removes a waiting id (cancel of a queued job): 0, or -ENOENT when it is
 * not waiting (taken already, or never there). */
int queue_remove(struct queue *q, const char *id);

struct queue_stats {
    uint64_t depth;     /* waiting, including delayed retries */
    uint64_t reserved;  /* places reserved, not yet pushed */
    uint64_t in_flight; /* taken, not acknowledged */
    uint64_t max;       /* max_queue */
};
void queue_stats(struct queue *q, struct queue_stats *st);
