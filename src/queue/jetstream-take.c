/*
 * Taking entries, and ending them.
 *
 * Order across the cluster: one durable pull consumer per priority
 * (nats-server 2.9 has no consumer over several filters), fetched highest
 * first, one message at a time (a taker takes only when it can run the job
 * at once: nothing is fetched ahead for later).
 *
 * Sleeping: looking at 11 consumers costs 11 round trips, so the takers of
 * a handle share what they know per level: a generation, bumped by every
 * signal that the level may hold an entry, and the generation at which a
 * taker last found it empty. A taker fetches only the levels whose two
 * differ, highest first, and sleeps on a condition variable when none
 * does. The signals:
 *   - every job published by another node, seen on a core NATS
 *     subscription to P.jobs.*.* (the publish itself is the signal: no
 *     publisher can forget it, a republish by the reconciler included);
 *     this handle's own pushes mark their level when JetStream acks them
 *     (their messages carry its instance id, and their signal is skipped:
 *     two looks per entry would cost an empty fetch each);
 *   - P.wake.<level>, sent by whoever sent an entry back (a Nak at once, a
 *     retry's delay when it ends);
 *   - the keeper's sweep every JS_REFRESH_MS: a level whose consumer has
 *     undelivered entries, or more entries out than this node holds (an
 *     entry whose taker went silent comes back unsignalled after its ack
 *     wait; so does a retry whose node died before its wake-up), and every
 *     level after a reconnect.
 * A fetch asks the server to hold the pull JS_FETCH_WAIT_MS: a core
 * subscriber may hear a publish before the stream has stored it, and
 * nats-server 2.9 has no cheaper reliable "anything there?" (see
 * JS_FETCH_WAIT_MS). From publish to take is one core message and one
 * fetch round trip. Idle, a node costs one stream info per second; while
 * the stream holds entries, 11 consumer infos per second, and a ~11 ms
 * fetch per level that holds entries out to other nodes.
 *
 * Each taker uses its own pull subscriptions (nats.c allows one fetch per
 * subscription at a time): a pool of contexts, made as concurrency needs
 * them and kept until close (a taken message refers to its subscription).
 *
 * Ending: ack is natsMsg_Ack, fire and forget, not AckSync. The result is
 * durable in the store before the ack is sent; an ack lost on its way only
 * makes JetStream deliver the entry again after the ack wait, and exec then
 * finds the job final and acks it again. AckSync would add a round trip to
 * every job to prevent a rare redelivery that is harmless.
 */
#include "jetstream-internal.h"

#include <time.h>

#include "moat/util.h"

enum fetch_result { FETCH_EMPTY = 0, FETCH_GOT = 1, FETCH_AGAIN = 2, FETCH_STALE = 3 };

/* ---- taker contexts ---- */

static void taker_free(struct jsq_taker *t)
{
    for (int i = 0; i < JS_LEVELS; i++)
        natsSubscription_Destroy(t->sub[i]); /* bound: the consumer stays */
    free(t);
}

static int taker_new(struct jsq_queue *q, struct jsq_taker **out)
{
    struct jsq_taker *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    int r = 0;
    for (int i = 0; r == 0 && i < JS_LEVELS; i++) {
        char filter[JS_SUBJECT_MAX], durable[32];
        jsq_consumer_name(durable, i);
        r = jsq_subject(filter, sizeof(filter), q->prefix, "jobs", i, "*");
        if (r < 0)
            break;
        jsSubOptions so;
        (void)jsSubOptions_Init(&so);
        so.Stream = q->stream;
        so.Consumer = durable; /* bound to the durable consumer open made */
        jsErrCode jerr = 0;
        r = jsq_errno(js_PullSubscribe(&t->sub[i], q->js, filter, durable, NULL, &so, &jerr), jerr);
    }
    if (r < 0) {
        taker_free(t);
        return r;
    }
    *out = t;
    return 0;
}

/* Whether sub holds a delivery no fetch has returned yet: one the server
 * sent after the fetch that asked for it had stopped waiting. The next
 * fetch on that subscription returns it first. */
static bool buffered(natsSubscription *sub)
{
    int msgs = 0, bytes = 0;
    return natsSubscription_GetPending(sub, &msgs, &bytes) == NATS_OK && msgs > 0;
}

bool jsq_buffered(struct jsq_queue *q, int level)
{
    for (struct jsq_taker *t = q->all_takers; t; t = t->all_next)
        if (buffered(t->sub[level]))
            return true;
    return false;
}

/* A context for one take of level: an idle one, the one holding a late
 * delivery of level first (any other would find the level empty while the
 * delivery waits, acked by nobody, for its ack wait), or a new one. */
static int taker_get(struct jsq_queue *q, int level, struct jsq_taker **out)
{
    (void)pthread_mutex_lock(&q->mu);
    struct jsq_taker **pp = &q->idle_takers;
    for (struct jsq_taker **p = &q->idle_takers; *p; p = &(*p)->next)
        if (buffered((*p)->sub[level])) {
            pp = p;
            break;
        }
    struct jsq_taker *t = *pp;
    if (t)
        *pp = t->next;
    (void)pthread_mutex_unlock(&q->mu);
    if (t) {
        *out = t;
        return 0;
    }
    int r = taker_new(q, &t);
    if (r < 0)
        return r;
    /* every context, idle or not, is on the list close frees */
    (void)pthread_mutex_lock(&q->mu);
    t->all_next = q->all_takers;
    q->all_takers = t;
    (void)pthread_mutex_unlock(&q->mu);
    *out = t;
    return 0;
}

static void taker_put(struct jsq_queue *q, struct jsq_taker *t)
{
    (void)pthread_mutex_lock(&q->mu);
    t->next = q->idle_takers;
    q->idle_takers = t;
    (void)pthread_mutex_unlock(&q->mu);
}

void jsq_takers_free(struct jsq_queue *q)
{
    /* entries never ended (a caller that did not end them): JetStream hands
     * them out again after their ack wait */
    for (int i = 0; i < JS_LEVELS; i++) {
        struct jsq_held *h = q->levels[i].held;
        while (h) {
            struct jsq_held *next = h->next;
            natsMsg_Destroy(h->msg);
            free(h);
            h = next;
        }
        q->levels[i].held = NULL;
    }
    struct jsq_taker *t = q->all_takers;
    while (t) {
        struct jsq_taker *next = t->all_next;
        taker_free(t);
        t = next;
    }
    q->all_takers = NULL;
    q->idle_takers = NULL;
}

/* ---- signals ---- */

/* The level of P.<kind>.<level>[.<id>], or -1. */
static int subject_level(const struct jsq_queue *q, const char *subject, const char **rest)
{
    size_t n = strlen(q->prefix);
    if (strncmp(subject, q->prefix, n) != 0 || subject[n] != '.')
        return -1;
    const char *s = strchr(subject + n + 1, '.');
    if (!s)
        return -1;
    s++;
    int level = 0, digits = 0;
    while (*s >= '0' && *s <= '9' && digits < 3) {
        level = level * 10 + (*s++ - '0');
        digits++;
    }
    if (!digits || level >= JS_LEVELS || (*s != '.' && *s != '\0'))
        return -1;
    if (rest)
        *rest = *s ? s + 1 : s;
    return level;
}

void jsq_on_hint(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    struct jsq_queue *q = closure;
    int level = subject_level(q, natsMsg_GetSubject(msg), NULL);
    const char *from = NULL;
    bool mine = natsMsgHeader_Get(msg, JS_INSTANCE_HEADER, &from) == NATS_OK && from &&
                strcmp(from, q->instance) == 0;
    natsMsg_Destroy(msg);
    if (level < 0 || mine) /* this handle's push marked its level already */
        return;
    (void)pthread_mutex_lock(&q->mu);
    jsq_mark(q, level);
    (void)pthread_mutex_unlock(&q->mu);
}

void jsq_send_wake(struct jsq_queue *q, int level)
{
    char subject[JS_SUBJECT_MAX];
    if (jsq_subject(subject, sizeof(subject), q->prefix, "wake", level, NULL) == 0 &&
        jsq_connected(q))
        (void)natsConnection_Publish(q->nc, subject, NULL, 0);
}

/* ---- take ---- */

/* The highest level that may hold an entry, or -1. Under mu. */
static int pick_level(const struct jsq_queue *q)
{
    for (int i = JS_LEVELS - 1; i >= 0; i--)
        if (q->levels[i].gen != q->levels[i].empty_gen)
            return i;
    return -1;
}

/* Fills e from m: FETCH_GOT, or FETCH_AGAIN for a message that is not a
 * job's (terminated: it would come back forever). */
static int fill_entry(struct jsq_queue *q, natsMsg *m, struct queue_entry *e, uint64_t *more)
{
    const char *id = NULL;
    int level = subject_level(q, natsMsg_GetSubject(m), &id);
    size_t n = id ? strlen(id) : 0;
    jsMsgMetaData *meta = NULL;
    if (level < 0 || n < 1 || n > MOAT_UUID_LEN || natsMsg_GetMetaData(&meta, m) != NATS_OK) {
        log_warn("event=queue_message_dropped subject=\"%s\"", natsMsg_GetSubject(m));
        (void)natsMsg_Term(m, NULL);
        natsMsg_Destroy(m);
        return FETCH_AGAIN;
    }
    memcpy(e->id, id, n + 1);
    e->priority = level + JOB_PRIORITY_MIN;
    e->deliveries = meta->NumDelivered > UINT32_MAX ? UINT32_MAX : (uint32_t)meta->NumDelivered;
    e->handle = m; /* jsq_take wraps it */
    e->data = natsMsg_GetDataLength(m) > 0 ? natsMsg_GetData(m) : NULL; /* the message's */
    e->len = e->data ? (size_t)natsMsg_GetDataLength(m) : 0;
    *more = meta->NumPending;
    jsMsgMetaData_Destroy(meta);
    return FETCH_GOT;
}

/* One message of level into e: FETCH_GOT, FETCH_EMPTY, FETCH_STALE,
 * FETCH_AGAIN or -errno. */
static int fetch_one(struct jsq_queue *q, struct jsq_taker *t, int level, struct queue_entry *e,
                     uint64_t *more)
{
    jsFetchRequest req;
    (void)jsFetchRequest_Init(&req);
    req.Batch = 1;
    req.Expires = (int64_t)JS_FETCH_WAIT_MS * 1000000LL;
    natsMsgList list = {0};
    uint64_t t0 = jsq_now_ms();
    natsStatus s = natsSubscription_FetchRequest(&list, t->sub[level], &req);
    if (s == NATS_TIMEOUT || s == NATS_NOT_FOUND)
        return jsq_now_ms() - t0 < JS_FETCH_STALE_MS ? FETCH_STALE : FETCH_EMPTY;
    if (s != NATS_OK)
        return jsq_errno(s, 0);
    natsMsg *m = list.Count > 0 ? list.Msgs[0] : NULL;
    if (m)
        list.Msgs[0] = NULL;
    natsMsgList_Destroy(&list);
    return m ? fill_entry(q, m, e, more) : FETCH_EMPTY;
}

static struct timespec ms_timespec(uint64_t ms)
{
    return (struct timespec){.tv_sec = (time_t)(ms / 1000u),
                             .tv_nsec = (long)(ms % 1000u) * 1000000L};
}

/* Sleeps on take_cv until a signal or deadline_ms (UINT64_MAX: none). */
static void take_wait(struct jsq_queue *q, uint64_t deadline_ms)
{
    q->waiters++;
    if (deadline_ms == UINT64_MAX) {
        (void)pthread_cond_wait(&q->take_cv, &q->mu);
    } else {
        struct timespec ts = ms_timespec(deadline_ms);
        (void)pthread_cond_timedwait(&q->take_cv, &q->mu, &ts);
    }
    q->waiters--;
}

/* Under mu: what a failed fetch of level (at generation g) means. */
static void fetch_failed(struct jsq_queue *q, int level, uint64_t g, int r)
{
    if (!q->connected)
        return; /* the loop waits for the reconnect */
    /* not marked empty for good: the next sweep tries it again */
    if (q->levels[level].gen == g)
        q->levels[level].empty_gen = g;
    log_warn("event=queue_fetch_failed stream=%s priority=%d error=\"%s\"", q->stream,
             level + JOB_PRIORITY_MIN, strerror(-r));
}

int jsq_take(void *state, int timeout_ms, struct queue_entry *e)
{
    struct jsq_queue *q = state;
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : jsq_now_ms() + (uint64_t)timeout_ms;
    struct jsq_taker *t = NULL;
    unsigned stale = 0, elsewhere = 0;
    /* made before anything is taken: a taken entry never fails to be held */
    struct jsq_held *h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    int r;
    (void)pthread_mutex_lock(&q->mu);
    for (;;) {
        if (q->shutdown) {
            r = -ESHUTDOWN;
            break;
        }
        bool late = timeout_ms == 0 || jsq_now_ms() >= deadline;
        int level = q->connected ? pick_level(q) : -1;
        if (level < 0) {
            if (late) {
                r = q->connected ? -ETIMEDOUT : -ENOTCONN;
                break;
            }
            take_wait(q, deadline);
            continue;
        }
        struct jsq_level *lv = &q->levels[level];
        uint64_t g = lv->gen, more = 0;
        (void)pthread_mutex_unlock(&q->mu);
        r = t ? 0 : taker_get(q, level, &t);
        if (r == 0)
            r = fetch_one(q, t, level, e, &more);
        (void)pthread_mutex_lock(&q->mu);
        if (r == FETCH_GOT) {
            /* A first delivery with none undelivered behind it: the level
             * is empty now (JetStream hands out the redeliveries that are
             * due before new entries); one due later comes with a signal
             * or a sweep. Else, look again: one empty fetch saved per take. */
            if (more == 0 && e->deliveries == 1 && lv->gen == g)
                lv->empty_gen = g;
            h->msg = e->handle;
            h->level = level;
            h->fresh_until_ms = jsq_now_ms() + q->ack_wait_s * 1000u;
            h->next = lv->held;
            if (lv->held)
                lv->held->prev = h;
            lv->held = h;
            e->handle = h;
            h = NULL;
            q->in_flight++;
            r = 0;
            break;
        }
        if (r == FETCH_STALE && ++stale <= JS_FETCH_STALE_MAX)
            continue;
        /* empty for this context; another may hold a late delivery of the
         * level: the next look takes that context (taker_get) */
        /* (a bounded number of times: what a subscription holds may also
         * be the server's late status reply to a fetch that gave up, which
         * the next fetch discards and a slow broker leaves again each time) */
        bool late_elsewhere = (r == FETCH_EMPTY || r == FETCH_STALE) &&
                              elsewhere < JS_FETCH_STALE_MAX && jsq_buffered(q, level);
        elsewhere += late_elsewhere;
        if ((r == FETCH_EMPTY || r == FETCH_STALE) && lv->gen == g && !late_elsewhere)
            lv->empty_gen = g;
        if (t && (r == FETCH_EMPTY || r == FETCH_STALE)) {
            (void)pthread_mutex_unlock(&q->mu);
            taker_put(q, t);
            t = NULL;
            (void)pthread_mutex_lock(&q->mu);
        } else if (r < 0)
            fetch_failed(q, level, g, r);
        if (r == -ENOMEM)
            break;
    }
    (void)pthread_mutex_unlock(&q->mu);
    free(h);
    if (t)
        taker_put(q, t);
    return r;
}

/* ---- ending ---- */

/* e's message, e ended; counted out of in_flight (ended: acked). */
static natsMsg *end_entry(struct jsq_queue *q, struct queue_entry *e, bool ended)
{
    struct jsq_held *h = e->handle;
    e->handle = NULL;
    natsMsg *m = h->msg;
    (void)pthread_mutex_lock(&q->mu);
    if (h->prev)
        h->prev->next = h->next;
    else
        q->levels[h->level].held = h->next;
    if (h->next)
        h->next->prev = h->prev;
    if (q->in_flight > 0)
        q->in_flight--;
    if (ended)
        q->ended_since++;
    (void)pthread_mutex_unlock(&q->mu);
    free(h);
    return m;
}

uint64_t jsq_held_fresh(struct jsq_queue *q, int level, uint64_t now_ms)
{
    uint64_t n = 0;
    for (const struct jsq_held *h = q->levels[level].held; h; h = h->next)
        n += h->fresh_until_ms > now_ms;
    return n;
}

void jsq_ack(void *state, struct queue_entry *e)
{
    struct jsq_queue *q = state;
    natsMsg *m = end_entry(q, e, true);
    (void)natsMsg_Ack(m, NULL);
    natsMsg_Destroy(m);
}

int jsq_retry(void *state, struct queue_entry *e, uint64_t delay_ms)
{
    struct jsq_queue *q = state;
    int level = e->priority - JOB_PRIORITY_MIN;
    natsMsg *m = end_entry(q, e, false);
    natsStatus s =
        delay_ms ? natsMsg_NakWithDelay(m, (int64_t)delay_ms, NULL) : natsMsg_Nak(m, NULL);
    natsMsg_Destroy(m);
    int r = jsq_errno(s, 0);
    if (r < 0)
        return r;
    if (!delay_ms) {
        jsq_send_wake(q, level);
        return 0;
    }
    (void)pthread_mutex_lock(&q->mu);
    /* without it, the next sweep finds the entry */
    (void)jsq_wake_at(q, jsq_now_ms() + delay_ms + JS_WAKE_SLACK_MS, level);
    (void)pthread_mutex_unlock(&q->mu);
    return 0;
}

void jsq_release(void *state, struct queue_entry *e, bool redeliver)
{
    struct jsq_queue *q = state;
    if (redeliver) {
        (void)jsq_retry(state, e, 0);
        return;
    }
    /* Another taker owns the entry now: no ack, no nak, just forget it. */
    natsMsg_Destroy(end_entry(q, e, false));
}

int jsq_touch(void *state, const struct queue_entry *e)
{
    struct jsq_queue *q = state;
    if (!jsq_connected(q))
        return -ENOTCONN;
    struct jsq_held *h = e->handle;
    jsOptions o;
    (void)jsOptions_Init(&o);
    o.Wait = JS_TOUCH_WAIT_MS;
    uint64_t sent = jsq_now_ms();
    int r = jsq_errno(natsMsg_InProgress(h->msg, &o), 0);
    if (r == 0) {
        (void)pthread_mutex_lock(&q->mu);
        h->fresh_until_ms = sent + q->ack_wait_s * 1000u;
        (void)pthread_mutex_unlock(&q->mu);
    }
    return r;
}
