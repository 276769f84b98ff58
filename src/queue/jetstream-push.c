/*
 * Pushing jobs into the stream, and the bound on what waits there.
 *
 * A job is the message P.jobs.<priority>.<id>, its id the Nats-Msg-Id: a
 * publish retried (by the submitter, the reconciler, or two nodes at once)
 * within the stream's duplicate window makes one message.
 *
 * push waits for JetStream's ack. push_async returns at once (its caller is
 * the store's writer thread); its done is called exactly once, never from
 * the caller's thread: from nats.c's ack thread with the ack, the error or
 * the ack wait's end (-ETIMEDOUT after JS_PUBLISH_WAIT_MS), or from the
 * keeper when the publish could not leave (-ENOTCONN while disconnected).
 * The messages in flight are kept in a table by message: nats.c hands the
 * message back to the ack callback.
 *
 * The bound is approximate. The depth is the stream's message count read
 * by the keeper every JS_REFRESH_MS, plus this node's pushes since, minus
 * the entries this node has ended since and those it has taken and not
 * ended. So it counts what other
 * nodes have taken and not ended as waiting, it misses their pushes until
 * the next read, and other nodes' reservations are not seen at all: with N
 * nodes, up to about N * max_queue can wait, and a burst on one node can
 * pass the bound by what was pushed elsewhere within one refresh. The
 * stream itself has no message limit (it would refuse recovery and retry
 * pushes, which may exceed the bound): it refuses only when the broker's
 * storage is full (-EAGAIN).
 */
#include <limits.h>

#include "jetstream-internal.h"

#include "moat/util.h"

/* ---- the table of publishes in flight (under mu) ---- */

static size_t pub_bucket(const natsMsg *m)
{
    uintptr_t v = (uintptr_t)m;
    v ^= v >> 17;
    v *= 0x9e3779b97f4a7c15ull;
    return (size_t)(v >> 40) & (JS_PUB_BUCKETS - 1);
}

static void pub_insert(struct jsq_queue *q, struct jsq_pub *p)
{
    size_t b = pub_bucket(p->msg);
    p->hnext = q->pubs[b];
    q->pubs[b] = p;
    q->npubs++;
}

static struct jsq_pub *pub_take(struct jsq_queue *q, const natsMsg *m)
{
    for (struct jsq_pub **pp = &q->pubs[pub_bucket(m)]; *pp; pp = &(*pp)->hnext) {
        struct jsq_pub *p = *pp;
        if (p->msg == m) {
            *pp = p->hnext;
            q->npubs--;
            return p;
        }
    }
    return NULL;
}

/* Under mu: a push is held by the stream. */
static void pushed(struct jsq_queue *q, int level, bool reserved, bool duplicate)
{
    /* Takers here look at once: the signal of the publish would come on
     * another thread of nats.c, maybe after a take that follows this push
     * (they skip the signal of this handle's own publishes: one look per
     * entry, not two). */
    jsq_mark(q, level);
    /* a duplicate needs no place either: the first copy has one */
    if (reserved && q->reserved > 0)
        q->reserved--;
    if (!duplicate)
        q->pushed_since++;
}

static void on_pub_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    (void)js;
    struct jsq_queue *q = closure;
    int r = 0;
    if (!pa) {
        r = pae ? jsq_errno(pae->Err, pae->ErrCode) : -EIO;
        if (r == 0)
            r = -EIO; /* no ack and no error said */
    }
    (void)pthread_mutex_lock(&q->mu);
    struct jsq_pub *p = pub_take(q, msg);
    if (p) {
        q->acks_running++;
        if (pa)
            pushed(q, p->level, p->reserved, pa->Duplicate);
    }
    (void)pthread_mutex_unlock(&q->mu);
    natsMsg_Destroy(msg);
    if (!p)
        return; /* ended by close already */
    p->done(p->cls, r);
    free(p);
    (void)pthread_mutex_lock(&q->mu);
    q->acks_running--;
    (void)pthread_cond_broadcast(&q->closed_cv);
    (void)pthread_mutex_unlock(&q->mu);
}

int jsq_pub_ctx_init(struct jsq_queue *q, jsOptions *jo)
{
    jo->PublishAsync.AckHandler = on_pub_ack;
    jo->PublishAsync.AckHandlerClosure = q;
    jo->PublishAsync.MaxPending = 0; /* unlimited: a publish never stalls its caller */
    return 0;
}

void jsq_pubs_finish(struct jsq_queue *q)
{
    jsPubOptions po;
    (void)jsPubOptions_Init(&po);
    po.MaxWait = JS_PUBLISH_WAIT_MS;
    if (jsq_connected(q))
        (void)js_PublishAsyncComplete(q->js, &po);
    (void)pthread_mutex_lock(&q->mu);
    size_t left = q->npubs;
    (void)pthread_mutex_unlock(&q->mu);
    /* nats.c 3.4.1 crashes listing the pending publishes of a context that
     * never published asynchronously: ask only when some are left */
    natsMsgList pending = {0};
    if (left && js_PublishAsyncGetPendingList(&pending, q->js) == NATS_OK) {
        for (int i = 0; i < pending.Count; i++) {
            (void)pthread_mutex_lock(&q->mu);
            struct jsq_pub *p = pub_take(q, pending.Msgs[i]);
            (void)pthread_mutex_unlock(&q->mu);
            if (p) {
                p->done(p->cls, -ENOTCONN);
                free(p);
            }
        }
        natsMsgList_Destroy(&pending);
    }
    /* acks on their way through on_pub_ack end on their own */
    uint64_t until = moat_now_ns() + (uint64_t)JS_PUBLISH_WAIT_MS * 1000000u;
    struct timespec ts = {.tv_sec = (time_t)(until / 1000000000u),
                          .tv_nsec = (long)(until % 1000000000u)};
    (void)pthread_mutex_lock(&q->mu);
    while (q->npubs || q->acks_running)
        if (pthread_cond_timedwait(&q->closed_cv, &q->mu, &ts) != 0)
            break;
    if (q->npubs || q->acks_running)
        log_error("event=queue_close_pending publishes=%zu", q->npubs);
    (void)pthread_mutex_unlock(&q->mu);
}

/* ---- push ---- */

static int make_msg(struct jsq_queue *q, const char *id, int priority, const char *data,
                    size_t len, natsMsg **m)
{
    char subject[JS_SUBJECT_MAX];
    int r =
        jsq_subject(subject, sizeof(subject), q->prefix, "jobs", priority - JOB_PRIORITY_MIN, id);
    if (r < 0)
        return r;
    if (len > INT_MAX)
        return -E2BIG;
    natsStatus s = natsMsg_Create(m, subject, NULL, data, (int)len);
    /* this node's takers hear of it from its ack, not from its signal */
    if (s == NATS_OK)
        s = natsMsgHeader_Set(*m, JS_INSTANCE_HEADER, q->instance);
    if (s != NATS_OK) {
        natsMsg_Destroy(*m);
        *m = NULL;
    }
    return jsq_errno(s, 0);
}

static void pub_options(struct jsq_queue *q, const char *id, jsPubOptions *po)
{
    (void)jsPubOptions_Init(po);
    po->MsgId = id;
    po->ExpectStream = q->stream;
    po->MaxWait = JS_PUBLISH_WAIT_MS;
}

int jsq_push(void *state, const char *id, int priority, bool reserved)
{
    struct jsq_queue *q = state;
    if (!jsq_connected(q))
        return -ENOTCONN;
    natsMsg *m = NULL;
    int r = make_msg(q, id, priority, NULL, 0, &m);
    if (r < 0)
        return r;
    jsPubOptions po;
    pub_options(q, id, &po);
    jsPubAck *pa = NULL;
    jsErrCode jerr = 0;
    r = jsq_errno(js_PublishMsg(&pa, q->js, m, &po, &jerr), jerr);
    if (r == 0) {
        (void)pthread_mutex_lock(&q->mu);
        pushed(q, priority - JOB_PRIORITY_MIN, reserved, pa->Duplicate);
        (void)pthread_mutex_unlock(&q->mu);
    }
    jsPubAck_Destroy(pa);
    natsMsg_Destroy(m);
    return r;
}

/* p did not leave: the keeper calls its done with r. */
static void fail_later(struct jsq_queue *q, struct jsq_pub *p, int r)
{
    p->result = r;
    (void)pthread_mutex_lock(&q->mu);
    int k = jsq_complete_later(q, p);
    (void)pthread_mutex_unlock(&q->mu);
    if (k < 0) {
        /* no room to queue it: the caller is told now instead */
        p->done(p->cls, r);
        free(p);
    }
}

int jsq_push_async(void *state, const char *id, int priority, bool reserved, const char *data,
                   size_t len, queue_done_fn done, void *cls)
{
    struct jsq_queue *q = state;
    struct jsq_pub *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->done = done;
    p->cls = cls;
    p->reserved = reserved;
    p->level = priority - JOB_PRIORITY_MIN;
    if (!jsq_connected(q)) {
        fail_later(q, p, -ENOTCONN);
        return 0;
    }
    natsMsg *m = NULL;
    int r = make_msg(q, id, priority, data, len, &m);
    if (r < 0) {
        free(p);
        return r;
    }
    jsPubOptions po;
    pub_options(q, id, &po);
    p->msg = m;
    const natsMsg *sent = m; /* p may be gone once it left */
    (void)pthread_mutex_lock(&q->mu);
    pub_insert(q, p); /* before it leaves: its ack may come first */
    (void)pthread_mutex_unlock(&q->mu);
    natsStatus s = js_PublishMsgAsync(q->js, &m, &po);
    if (s == NATS_OK)
        return 0; /* nats.c owns m now (it set it to NULL) */
    (void)pthread_mutex_lock(&q->mu);
    struct jsq_pub *mine = pub_take(q, sent);
    (void)pthread_mutex_unlock(&q->mu);
    natsMsg_Destroy(m);
    if (mine)
        fail_later(q, p, jsq_errno(s, 0));
    return 0;
}

/* ---- the bound ---- */

/* Under mu: what waits, as well as this node knows. */
static uint64_t depth(const struct jsq_queue *q)
{
    uint64_t d = q->stream_msgs + q->pushed_since;
    uint64_t gone = q->ended_since + q->in_flight;
    return d > gone ? d - gone : 0;
}

int jsq_reserve(void *state)
{
    struct jsq_queue *q = state;
    int r = -EAGAIN;
    (void)pthread_mutex_lock(&q->mu);
    uint64_t d = depth(q);
    if (d < q->max && q->reserved < q->max - d) {
        q->reserved++;
        r = 0;
    }
    (void)pthread_mutex_unlock(&q->mu);
    return r;
}

void jsq_unreserve(void *state)
{
    struct jsq_queue *q = state;
    (void)pthread_mutex_lock(&q->mu);
    if (q->reserved > 0)
        q->reserved--;
    (void)pthread_mutex_unlock(&q->mu);
}

void jsq_stats(void *state, struct queue_stats *st)
{
    struct jsq_queue *q = state;
    (void)pthread_mutex_lock(&q->mu);
    *st = (struct queue_stats){
        .depth = depth(q),
        .reserved = q->reserved,
        .in_flight = q->in_flight,
        .max = q->max,
    };
    (void)pthread_mutex_unlock(&q->mu);
}
