#pragma once
/*
 * The JetStream queue driver's state, shared by its files:
 *   jetstream.c       open, close, the connection and its callbacks, the
 *                     stream and its consumers, ready, the ops table;
 *   jetstream-push.c  push, push_async, the bound (reserve), stats;
 *   jetstream-take.c  take and the taker contexts, ack, retry, release,
 *                     touch, and the wake-ups that let takers sleep;
 *   jetstream-keeper.c the driver's thread: stream state, due wake-ups,
 *                     completions of pushes that failed before leaving;
 *   jetstream-admin.c remove, holds, listen, announce.
 *
 * Subjects (P = cfg->subject_prefix, p = a priority 0..10):
 *   P.jobs.p.ID         a job's message in the work-queue stream (one
 *                       subject per job: remove and holds address it)
 *   P.wake.p            "level p may have an entry again" (a Nak, a retry
 *                       that came due): core NATS, for every node's takers
 *   P.events.final.ID   a job became final (core NATS)
 * One durable pull consumer per priority, filter P.jobs.p.*.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <nats/nats.h>

#include "moat/job.h"
#include "moat/queue.h"
#include "moat/util.h"
#include "queue-internal.h"

#define JS_LEVELS (JOB_PRIORITY_MAX - JOB_PRIORITY_MIN + 1)
#define JS_SUBJECT_MAX 256
#define JS_INSTANCE_HEADER "Moat-Instance"
#define JS_PUB_BUCKETS 1024u

/* How long a publish waits for JetStream's ack. */
#define JS_PUBLISH_WAIT_MS 5000
/* JetStream API requests (stream info, purge, consumer setup). */
#define JS_API_WAIT_MS 5000
/* A touch (InProgress is a request): the keeper holds exec's slot lock
 * meanwhile. */
#define JS_TOUCH_WAIT_MS 2000
/* Every fetch asks the server to hold the pull this long (nats.c takes
 * 10 ms off for the server's side): an entry present comes at once (~1 ms),
 * an empty level answers after ~11 ms (measured; below 20 ms the server's
 * "408" often comes after nats.c stopped waiting, and ends a later fetch). nats-server 2.9 holds a
 * no_wait pull that has an expiry for the whole expiry, and nats.c does not wait for the answer to
 * one that has none (its late "404" then ends a later fetch): a short wait is the cheapest reliable
 * "anything there?". */
#define JS_FETCH_WAIT_MS 20
/* An empty answer sooner than this is a late answer to an earlier pull of
 * the subscription (nats.c hands it to the next fetch): fetch again. */
#define JS_FETCH_STALE_MS 5
/* Stale answers a take skips before it believes one. */
#define JS_FETCH_STALE_MAX 3
/* How often the keeper reads the stream's state; while the stream holds
 * anything, it reads the consumers' too, and sleeping takers look again
 * at the levels that may hold an entry nobody signalled (one whose taker
 * went silent comes back after its ack wait with no signal). */
#define JS_REFRESH_MS 1000
/* A wake-up for a retry is sent this long after it is due at the server. */
#define JS_WAKE_SLACK_MS 5

/* One asynchronous publish in flight: found again by its message. */
struct jsq_pub {
    struct jsq_pub *hnext;
    natsMsg *msg;
    queue_done_fn done;
    void *cls;
    bool reserved;
    int level;
    int result; /* for a completion the keeper delivers */
};

/* A wake-up to send at due_ms (a retry's delay ends then). */
struct jsq_wake {
    uint64_t due_ms;
    int level;
};

/* A taker's own pull subscriptions: one fetch per subscription at a time,
 * so concurrent takers each hold one context. */
struct jsq_taker {
    struct jsq_taker *next;     /* idle list */
    struct jsq_taker *all_next; /* every context, for close */
    natsSubscription *sub[JS_LEVELS];
};

/* An entry taken here and not ended: queue_entry.handle. */
struct jsq_held {
    struct jsq_held *prev, *next; /* its level's list */
    natsMsg *msg;
    int level;
    uint64_t fresh_until_ms; /* taken or touched + ack wait: JetStream's
                                deadline for it, as well as this node knows */
};

struct jsq_level {
    uint64_t gen;          /* bumped by a signal for this level, or a sweep */
    uint64_t empty_gen;    /* gen when last found empty: gen != empty_gen means
                              "may hold an entry" */
    struct jsq_held *held; /* taken here at this level, not ended */
};

struct jsq_queue {
    /* set at open, read-only after */
    char stream[64];
    char prefix[32];
    char instance[33]; /* this handle's random id, in its events' header */
    uint64_t max;
    uint64_t ack_wait_s;
    natsOptions *opts;
    natsConnection *nc;
    jsCtx *js;
    natsSubscription *hint_sub, *wake_sub, *event_sub;

    pthread_mutex_t mu;
    pthread_cond_t take_cv;   /* takers: a level may hold an entry */
    pthread_cond_t keeper_cv; /* the keeper: work, or stop */
    pthread_cond_t closed_cv; /* close: the connection's last callback ran */

    /* ---- under mu ---- */
    bool shutdown;
    bool stopping; /* close: the keeper ends */
    bool connected;
    bool stream_ok;   /* the last stream read succeeded */
    bool conn_closed; /* the closed callback ran */
    bool refresh_now; /* the keeper reads the stream state at once */
    struct jsq_level levels[JS_LEVELS];
    unsigned waiters; /* takers asleep on take_cv */
    struct jsq_taker *idle_takers;
    struct jsq_taker *all_takers;
    /* the bound: the stream's message count at the last read, pushes
     * since, local reservations and entries taken here */
    uint64_t stream_msgs;
    uint64_t pushed_since;
    uint64_t ended_since; /* acked or removed here */
    uint64_t reserved;
    uint64_t in_flight;
    /* asynchronous publishes in flight, by message */
    struct jsq_pub *pubs[JS_PUB_BUCKETS];
    size_t npubs;
    unsigned acks_running; /* ack callbacks between finding and finishing */
    /* completions for the keeper to deliver (failed before publishing) */
    struct jsq_pub **done_q;
    size_t done_len, done_cap;
    /* wake-ups to send, a min-heap by due_ms */
    struct jsq_wake *wakes;
    size_t nwakes, wakes_cap;
    queue_event_fn listener;
    void *listener_cls;

    pthread_t keeper;
    bool keeper_started;
};

/* jetstream.c */
int jsq_errno(natsStatus s, jsErrCode jerr);
bool jsq_connected(struct jsq_queue *q);
int jsq_subject(char *out, size_t size, const char *prefix, const char *kind, int level,
                const char *id);
/* Under mu: every level may hold entries again: takers look (a reconnect). */
void jsq_mark_all(struct jsq_queue *q);
/* Under mu: level may hold an entry: takers look. */
void jsq_mark(struct jsq_queue *q, int level);
/* Under mu: whether a taker context of this handle holds a delivery of
 * level that no fetch has returned yet (jetstream-take.c). */
bool jsq_buffered(struct jsq_queue *q, int level);
/* The durable consumer of level: "jobs-p<level>". */
void jsq_consumer_name(char out[32], int level);

/* jetstream-push.c */
int jsq_reserve(void *state);
void jsq_unreserve(void *state);
int jsq_push(void *state, const char *id, int priority, bool reserved);
int jsq_push_async(void *state, const char *id, int priority, bool reserved, const char *data,
                   size_t len, queue_done_fn done, void *cls);
void jsq_stats(void *state, struct queue_stats *st);
int jsq_pub_ctx_init(struct jsq_queue *q, jsOptions *jo);
/* close: every publish still in flight is ended (done called). */
void jsq_pubs_finish(struct jsq_queue *q);

/* jetstream-take.c */
int jsq_take(void *state, int timeout_ms, struct queue_entry *e);
void jsq_ack(void *state, struct queue_entry *e);
int jsq_retry(void *state, struct queue_entry *e, uint64_t delay_ms);
void jsq_release(void *state, struct queue_entry *e, bool redeliver);
int jsq_touch(void *state, const struct queue_entry *e);
void jsq_takers_free(struct jsq_queue *q);
/* Under mu: how many entries of level this node holds within their ack
 * wait (those past it are JetStream's to hand out again). */
uint64_t jsq_held_fresh(struct jsq_queue *q, int level, uint64_t now_ms);
/* The signals that a level may hold an entry: P.jobs.>, P.wake.* */
void jsq_on_hint(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure);
/* Publishes P.wake.level now. */
void jsq_send_wake(struct jsq_queue *q, int level);

/* jetstream-keeper.c */
int jsq_keeper_start(struct jsq_queue *q);
void jsq_keeper_stop(struct jsq_queue *q);
/* Under mu: the keeper sends P.wake.level at due_ms. */
int jsq_wake_at(struct jsq_queue *q, uint64_t due_ms, int level);
/* Under mu: the keeper calls p->done(p->cls, p->result) and frees p. */
int jsq_complete_later(struct jsq_queue *q, struct jsq_pub *p);
/* Reads the stream's state now: 0 or -errno. */
int jsq_refresh(struct jsq_queue *q);

/* jetstream-admin.c */
int jsq_remove(void *state, const char *id);
int jsq_holds(void *state, const char *const *ids, size_t n, bool *held);
int jsq_listen(void *state, queue_event_fn fn, void *cls);
int jsq_announce(void *state, enum queue_event ev, const char *id, const char *data, size_t len);
void jsq_on_event(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure);

static inline uint64_t jsq_now_ms(void)
{
    return moat_now_ns() / 1000000u;
}
