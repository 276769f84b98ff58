#pragma once
/*
 * queue: which job runs next, and the events nodes tell each other. One
 * interface, one driver per backend: "local" (an in-process priority
 * queue, bounded) and "jetstream" (NATS JetStream: a work-queue stream that
 * any number of nodes push to and take from). The queue holds job ids
 * and, when a pusher attaches one, a copy of the job for its first taker;
 * the store holds the jobs and is the truth.
 *
 * Order: higher priority first (JOB_PRIORITY_MIN..MAX), FIFO within one
 * priority; an entry sent back with a delay (a retry's backoff) is not
 * taken before it is due.
 *
 * Delivery: at least once. A taken entry stays the taker's until it ends
 * it (queue_ack, queue_retry, queue_release). A durable driver hands an
 * entry whose taker went silent (died, or sent no queue_touch within the
 * ack deadline) to another taker, with deliveries counting up; the store's
 * attempt numbers fence the lost taker off.
 *
 * Bound: at most max_queue entries are waiting. A submission reserves its
 * place before the job is written (queue_reserve), so a full queue answers
 * 429 without touching the store; once reserved and pushed, nothing is ever
 * dropped. Recovery and retries push without a reservation (they were
 * accepted already) and may exceed the bound.
 *
 * Events: small messages every node hears (a job became final, a cancel),
 * carried by the same backend: nothing leaves the process with the local
 * driver, NATS subjects with JetStream.
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

/* Opens the queue named by cfg->queue: "local" (max_queue entries), or a
 * nats:// URL (the JetStream stream cfg->stream, made or checked). */
int queue_open(const struct moat_config *cfg, struct queue **out, struct moat_err *err);
/* Wakes every waiter (they get -ESHUTDOWN) and frees the queue. No call may
 * be in flight when it frees; call queue_shutdown first and join the
 * takers. Accepts NULL. */
void queue_close(struct queue *q);
/* Makes queue_take return -ESHUTDOWN from now on, waking blocked takers. */
void queue_shutdown(struct queue *q);

/* Whether entries pushed here are taken in this process only: then a job
 * may be pushed as its insert is queued, before the commit (the store
 * answers reads of its inserts in flight). Otherwise a job is pushed only
 * once its insert has committed. */
bool queue_in_process(const struct queue *q);
/* Whether the queue takes pushes now (its broker is connected). */
bool queue_ready(struct queue *q);

/* Reserves a place: 0, or -EAGAIN when max_queue places are taken. */
int queue_reserve(struct queue *q);
/* Gives a reservation back (the job was not accepted after all). */
void queue_unreserve(struct queue *q);

/*
 * Adds id, once it is held (a durable driver: the broker acknowledged it).
 * reserved: it uses a place reserved with queue_reserve (else it is added
 * whatever the depth). Pushing an id that is already waiting adds nothing
 * (a durable driver: within its duplicate window). -ENOMEM, -EAGAIN (the
 * broker refused: full), -ENOTCONN/-ETIMEDOUT (the broker is away; a
 * reservation is then still held), -EINVAL for a bad priority.
 */
int queue_push(struct queue *q, const char *id, int priority, bool reserved);
/* Called once with what queue_push would return; from any thread, maybe
 * before queue_push_async returns. Must not block. */
typedef void (*queue_done_fn)(void *cls, int result);
/* queue_push without waiting: 0 (done will be called) or -errno (it will
 * not). data (len bytes, may be NULL) travels with the entry to its takers
 * where the driver carries it (JetStream: the message body; the local
 * driver, whose takers read the store's inserts in flight, drops it): a
 * copy of the job (job_wire_encode), so a first taker need not read it. */
int queue_push_async(struct queue *q, const char *id, int priority, bool reserved,
                     const char *data, size_t len, queue_done_fn done, void *cls);

/* One taken entry. */
struct queue_entry {
    char id[MOAT_UUID_LEN + 1];
    int priority;
    uint32_t deliveries; /* 1 on the first delivery; more when earlier takers
                            lost it (died, stalled past the ack deadline) */
    void *handle;        /* the driver's; NULL once the entry has ended */
    const char *data;    /* what its pusher attached (queue_push_async), or
                            NULL; valid until the entry ends */
    size_t len;
};

/*
 * Takes the next entry into *e (blocking up to timeout_ms; -1 = forever).
 * 0, -ETIMEDOUT, -ESHUTDOWN, -ENOTCONN (the broker is away). The entry is
 * the caller's until it ends it with exactly one of ack, retry, release.
 */
int queue_take(struct queue *q, int timeout_ms, struct queue_entry *e);
/* Ends e: the job's outcome is durable, the entry is gone for good. */
void queue_ack(struct queue *q, struct queue_entry *e);
/* Ends e: the entry comes back after delay_ms (a retry's backoff), as a
 * further delivery. 0 or -errno (then the entry comes back anyway after
 * the ack deadline, or at the next start for the local driver). */
int queue_retry(struct queue *q, struct queue_entry *e, uint64_t delay_ms);
/* Ends e without an outcome. redeliver: it is given to a taker again soon
 * (this node stops); else it is left as it is (this taker was fenced off:
 * the entry belongs to its new taker now). */
void queue_release(struct queue *q, struct queue_entry *e, bool redeliver);
/* The taker is still at e: its ack deadline starts again. A long run
 * touches its entry well within cfg->ack_wait_s. 0 or -errno. */
int queue_touch(struct queue *q, const struct queue_entry *e);

/* Removes a waiting id (cancel of a queued job): 0, or -ENOENT when it is
 * not waiting here (taken already, never there, or a driver that cannot
 * remove: whoever takes it finds it cancelled in the store and drops it). */
int queue_remove(struct queue *q, const char *id);

/* Which of ids[0..n) the queue holds (waiting, or taken and not ended):
 * held[i] set for each. For the reconciler, which pushes again the queued
 * jobs a queue lost (a publish lost with its broker). 0 or -errno. */
int queue_holds(struct queue *q, const char *const *ids, size_t n, bool *held);

/* ---- events between nodes ---- */

enum queue_event {
    QUEUE_EVENT_FINAL,  /* job id reached a final status (completed, failed,
                           cancelled); data: a JSON summary. A node still
                           running it (cancelled, or fenced off) stops it. */
    QUEUE_EVENT_RESYNC, /* (id "") the connection came back after a gap in
                           which events may have been missed */
};
/* Called for each event another node announced (never this node's own);
 * from a driver thread; must not block. data may be NULL. */
typedef void (*queue_event_fn)(void *cls, enum queue_event ev, const char *id, const char *data,
                               size_t len);
/* Sets the one listener of this handle (before any event can come: at
 * start). 0 or -errno. */
int queue_listen(struct queue *q, queue_event_fn fn, void *cls);
/* Tells every other node. Fire and forget: 0, or -errno when it could not
 * be sent (the events are hints; the store is the truth). The local
 * driver has no other node: 0, nothing sent. */
int queue_announce(struct queue *q, enum queue_event ev, const char *id, const char *data,
                   size_t len);

struct queue_stats {
    uint64_t depth;     /* waiting, including delayed retries */
    uint64_t reserved;  /* places reserved, not yet pushed */
    uint64_t in_flight; /* taken, not ended */
    uint64_t max;       /* max_queue */
};
void queue_stats(struct queue *q, struct queue_stats *st);
