/*
 * The driver's own thread. It
 *   - reads the stream's state every JS_REFRESH_MS (and at once after a
 *     reconnect): the message count behind the bound and the stats, and
 *     whether the stream is reachable (ready). While the stream holds
 *     anything, it reads each level's consumer, and marks for the takers
 *     the levels that have undelivered entries, or more entries out than
 *     this node holds: an entry whose taker went silent comes back after
 *     its ack wait with no signal from anyone;
 *   - sends the wake-up of a retry when its delay ends (P.wake.<level>:
 *     every node's takers, this one's included, look at that level);
 *   - calls the done of an asynchronous push that failed before it left
 *     (so that done never runs on the caller's thread).
 * Nothing here is needed for correctness but the reachability: without the
 * wake-ups and the sweeps an entry would wait for the next signal.
 */
#include "jetstream-internal.h"

#include <time.h>

#include "moat/util.h"

/* ---- wake-ups heap (under mu) ---- */

static void wake_swap(struct jsq_wake *a, struct jsq_wake *b)
{
    struct jsq_wake t = *a;
    *a = *b;
    *b = t;
}

int jsq_wake_at(struct jsq_queue *q, uint64_t due_ms, int level)
{
    if (q->nwakes == q->wakes_cap) {
        size_t cap = q->wakes_cap ? q->wakes_cap * 2 : 64, bytes;
        if (!size_mul(cap, sizeof(*q->wakes), &bytes))
            return -ENOMEM;
        struct jsq_wake *w = realloc(q->wakes, bytes);
        if (!w)
            return -ENOMEM;
        q->wakes = w;
        q->wakes_cap = cap;
    }
    size_t i = q->nwakes++;
    q->wakes[i] = (struct jsq_wake){.due_ms = due_ms, .level = level};
    while (i > 0 && q->wakes[(i - 1) / 2].due_ms > q->wakes[i].due_ms) {
        wake_swap(&q->wakes[(i - 1) / 2], &q->wakes[i]);
        i = (i - 1) / 2;
    }
    if (i == 0)
        (void)pthread_cond_signal(&q->keeper_cv); /* a new earliest */
    return 0;
}

static void wake_pop(struct jsq_queue *q)
{
    q->wakes[0] = q->wakes[--q->nwakes];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->nwakes)
            break;
        if (c + 1 < q->nwakes && q->wakes[c + 1].due_ms < q->wakes[c].due_ms)
            c++;
        if (q->wakes[i].due_ms <= q->wakes[c].due_ms)
            break;
        wake_swap(&q->wakes[i], &q->wakes[c]);
        i = c;
    }
}

/* ---- completions (under mu) ---- */

int jsq_complete_later(struct jsq_queue *q, struct jsq_pub *p)
{
    if (q->done_len == q->done_cap) {
        size_t cap = q->done_cap ? q->done_cap * 2 : 64, bytes;
        if (!size_mul(cap, sizeof(struct jsq_pub *), &bytes))
            return -ENOMEM;
        struct jsq_pub **d = realloc(q->done_q, bytes);
        if (!d)
            return -ENOMEM;
        q->done_q = d;
        q->done_cap = cap;
    }
    q->done_q[q->done_len++] = p;
    (void)pthread_cond_signal(&q->keeper_cv);
    return 0;
}

/* Calls the queued dones, without the lock (a done may push again). */
static void deliver_completions(struct jsq_queue *q)
{
    while (q->done_len) {
        struct jsq_pub *p = q->done_q[--q->done_len];
        (void)pthread_mutex_unlock(&q->mu);
        p->done(p->cls, p->result);
        free(p);
        (void)pthread_mutex_lock(&q->mu);
    }
}

/* ---- stream state ---- */

/* Marks the levels whose consumer may hold an entry nobody signalled. */
static void sweep_levels(struct jsq_queue *q)
{
    for (int i = JS_LEVELS - 1; i >= 0; i--) {
        char name[32];
        jsq_consumer_name(name, i);
        jsConsumerInfo *ci = NULL;
        jsErrCode jerr = 0;
        if (js_GetConsumerInfo(&ci, q->js, q->stream, name, NULL, &jerr) != NATS_OK) {
            /* cannot tell: the takers look */
            (void)pthread_mutex_lock(&q->mu);
            jsq_mark(q, i);
            (void)pthread_mutex_unlock(&q->mu);
            continue;
        }
        (void)pthread_mutex_lock(&q->mu);
        uint64_t out = ci->NumAckPending > 0 ? (uint64_t)ci->NumAckPending : 0;
        /* a delivery buffered in one of this node's subscriptions counts as
         * out to it, but no taker holds it yet */
        if (ci->NumPending > 0 || out > jsq_held_fresh(q, i, jsq_now_ms()) || jsq_buffered(q, i))
            jsq_mark(q, i);
        (void)pthread_mutex_unlock(&q->mu);
        jsConsumerInfo_Destroy(ci);
    }
}

int jsq_refresh(struct jsq_queue *q)
{
    if (!jsq_connected(q)) {
        (void)pthread_mutex_lock(&q->mu);
        q->stream_ok = false;
        (void)pthread_mutex_unlock(&q->mu);
        return -ENOTCONN;
    }
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    int r = jsq_errno(js_GetStreamInfo(&si, q->js, q->stream, NULL, &jerr), jerr);
    bool any = false;
    (void)pthread_mutex_lock(&q->mu);
    q->stream_ok = r == 0 && q->connected;
    if (r == 0) {
        q->stream_msgs = si->State.Msgs;
        q->pushed_since = 0;
        q->ended_since = 0;
        any = si->State.Msgs > 0;
    }
    (void)pthread_mutex_unlock(&q->mu);
    jsStreamInfo_Destroy(si);
    if (r < 0)
        log_warn("event=queue_stream_unreachable stream=%s error=\"%s\"", q->stream, strerror(-r));
    else if (any)
        sweep_levels(q);
    return r;
}

/* ---- the thread ---- */

static struct timespec ms_timespec(uint64_t ms)
{
    return (struct timespec){.tv_sec = (time_t)(ms / 1000u),
                             .tv_nsec = (long)(ms % 1000u) * 1000000L};
}

/* Sends the wake-ups that are due, without the lock. */
static void send_due_wakes(struct jsq_queue *q, uint64_t now)
{
    uint32_t levels = 0;
    while (q->nwakes && q->wakes[0].due_ms <= now) {
        levels |= 1u << q->wakes[0].level;
        wake_pop(q);
    }
    if (!levels)
        return;
    (void)pthread_mutex_unlock(&q->mu);
    for (int i = JS_LEVELS - 1; i >= 0; i--)
        if (levels & (1u << i))
            jsq_send_wake(q, i);
    (void)pthread_mutex_lock(&q->mu);
}

static void *keeper_main(void *arg)
{
    struct jsq_queue *q = arg;
    uint64_t next_refresh = jsq_now_ms() + JS_REFRESH_MS;
    (void)pthread_mutex_lock(&q->mu);
    while (!q->stopping) {
        deliver_completions(q);
        uint64_t now = jsq_now_ms();
        send_due_wakes(q, now);
        if (q->refresh_now || now >= next_refresh) {
            q->refresh_now = false;
            (void)pthread_mutex_unlock(&q->mu);
            (void)jsq_refresh(q);
            (void)pthread_mutex_lock(&q->mu);
            next_refresh = jsq_now_ms() + JS_REFRESH_MS;
            continue;
        }
        if (q->done_len || q->stopping)
            continue;
        uint64_t wake = next_refresh;
        if (q->nwakes && q->wakes[0].due_ms < wake)
            wake = q->wakes[0].due_ms;
        struct timespec ts = ms_timespec(wake);
        (void)pthread_cond_timedwait(&q->keeper_cv, &q->mu, &ts);
    }
    deliver_completions(q); /* done is called exactly once, even at close */
    (void)pthread_mutex_unlock(&q->mu);
    return NULL;
}

int jsq_keeper_start(struct jsq_queue *q)
{
    int r = -pthread_create(&q->keeper, NULL, keeper_main, q);
    if (r == 0)
        q->keeper_started = true;
    return r;
}

void jsq_keeper_stop(struct jsq_queue *q)
{
    (void)pthread_mutex_lock(&q->mu);
    q->stopping = true;
    (void)pthread_cond_signal(&q->keeper_cv);
    (void)pthread_mutex_unlock(&q->mu);
    if (q->keeper_started)
        (void)pthread_join(q->keeper, NULL);
    q->keeper_started = false;
    /* completions queued with no keeper (open failed before it started) */
    (void)pthread_mutex_lock(&q->mu);
    deliver_completions(q);
    (void)pthread_mutex_unlock(&q->mu);
}
