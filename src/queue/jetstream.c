/*
 * The JetStream queue driver: a work-queue stream that every node pushes to
 * and takes from (docs in jetstream-internal.h). This file: open and close,
 * the connection and its callbacks, the stream and its consumers.
 *
 * The library: nats.c keeps process-wide state (its threads, its timers)
 * that nats_Close frees, once, for everyone. Two handles may live in one
 * process (a test's two nodes), so the handles count themselves and the
 * last one to close closes the library, waiting until its threads are gone
 * so that a later handle can open it again.
 */
#include "jetstream-internal.h"

#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "moat/config.h"
#include "moat/util.h"

#define MAX_SERVERS 16
#define RECONNECT_WAIT_MS 200
#define RECONNECT_JITTER_MS 100
#define CONNECT_TIMEOUT_MS 2000
#define PING_INTERVAL_MS 5000
#define CLOSE_WAIT_MS 2000
#define LIB_CLOSE_WAIT_MS 5000
/* MaxAge: far above the duplicate window (JetStream requires it above), and
 * long enough that only a job forgotten for days ages out (the reconciler
 * publishes it again). */
#define MIN_MAX_AGE_S (7 * 24 * 3600)

static pthread_mutex_t lib_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned lib_users;

static int lib_acquire(void)
{
    (void)pthread_mutex_lock(&lib_mu);
    natsStatus s = nats_Open(-1);
    if (s == NATS_OK)
        lib_users++;
    (void)pthread_mutex_unlock(&lib_mu);
    return s == NATS_OK ? 0 : -EIO;
}

static void lib_release(void)
{
    (void)pthread_mutex_lock(&lib_mu);
    if (lib_users > 0 && --lib_users == 0)
        (void)nats_CloseAndWait(LIB_CLOSE_WAIT_MS);
    (void)pthread_mutex_unlock(&lib_mu);
}

int jsq_errno(natsStatus s, jsErrCode jerr)
{
    switch ((int)jerr) {
    case JSStreamStoreFailedErr:
    case JSStorageResourcesExceededErr:
    case JSInsufficientResourcesErr:
        return -EAGAIN; /* the stream is full */
    case JSStreamNotFoundErr:
        return -ENOTCONN;
    default:
        break;
    }
    if (s == NATS_OK)
        return 0;
    if (s == NATS_TIMEOUT)
        return -ETIMEDOUT;
    if (s == NATS_NO_MEMORY)
        return -ENOMEM;
    if (s == NATS_NOT_FOUND)
        return -ENOENT;
    /* no JetStream (or no stream) behind the subject, or no connection */
    if (s == NATS_NO_RESPONDERS || s == NATS_CONNECTION_CLOSED ||
        s == NATS_CONNECTION_DISCONNECTED || s == NATS_NO_SERVER || s == NATS_STALE_CONNECTION ||
        s == NATS_NOT_YET_CONNECTED || s == NATS_IO_ERROR)
        return -ENOTCONN;
    return -EIO;
}

bool jsq_connected(struct jsq_queue *q)
{
    return natsConnection_Status(q->nc) == NATS_CONN_STATUS_CONNECTED;
}

int jsq_subject(char *out, size_t size, const char *prefix, const char *kind, int level,
                const char *id)
{
    int n;
    if (id)
        n = snprintf(out, size, "%s.%s.%d.%s", prefix, kind, level, id);
    else
        n = snprintf(out, size, "%s.%s.%d", prefix, kind, level);
    return n > 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

void jsq_mark_all(struct jsq_queue *q)
{
    for (int i = 0; i < JS_LEVELS; i++)
        q->levels[i].gen++;
    (void)pthread_cond_broadcast(&q->take_cv);
}

void jsq_mark(struct jsq_queue *q, int level)
{
    q->levels[level].gen++;
    if (q->waiters)
        (void)pthread_cond_signal(&q->take_cv); /* one entry, one taker */
}

void jsq_consumer_name(char out[32], int level)
{
    (void)snprintf(out, 32, "jobs-p%d", level);
}

/* ---- connection callbacks (nats.c's thread) ---- */

static void on_disconnected(natsConnection *nc, void *closure)
{
    (void)nc;
    struct jsq_queue *q = closure;
    (void)pthread_mutex_lock(&q->mu);
    q->connected = false;
    q->stream_ok = false;
    (void)pthread_mutex_unlock(&q->mu);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
    (void)nc;
    struct jsq_queue *q = closure;
    (void)pthread_mutex_lock(&q->mu);
    q->connected = true;
    q->refresh_now = true;
    (void)pthread_cond_signal(&q->keeper_cv);
    /* whatever was signalled meanwhile was missed: look everywhere */
    jsq_mark_all(q);
    queue_event_fn fn = q->listener;
    void *cls = q->listener_cls;
    (void)pthread_mutex_unlock(&q->mu);
    if (fn)
        fn(cls, QUEUE_EVENT_RESYNC, "", NULL, 0);
}

static void on_closed(natsConnection *nc, void *closure)
{
    (void)nc;
    struct jsq_queue *q = closure;
    (void)pthread_mutex_lock(&q->mu);
    q->connected = false;
    q->conn_closed = true;
    (void)pthread_cond_broadcast(&q->closed_cv);
    (void)pthread_mutex_unlock(&q->mu);
}

/* ---- open ---- */

static int cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    int r = -pthread_condattr_init(&ca);
    if (r < 0)
        return r;
    r = -pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (r == 0)
        r = -pthread_cond_init(cv, &ca);
    (void)pthread_condattr_destroy(&ca);
    return r;
}

static void make_instance(char out[33])
{
    uint8_t b[16];
    if (getrandom(b, sizeof(b), GRND_NONBLOCK) != (ssize_t)sizeof(b)) {
        /* no entropy yet: distinct enough between the handles of a host */
        uint64_t t[2] = {moat_now_ns(), (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)out};
        memcpy(b, t, sizeof(b));
    }
    for (size_t i = 0; i < sizeof(b); i++)
        (void)snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static int make_options(struct jsq_queue *q, const struct moat_config *cfg, struct moat_err *err)
{
    char buf[sizeof(cfg->queue)];
    const char *urls[MAX_SERVERS];
    int n = str_split(cfg->queue, ',', buf, sizeof(buf), urls, MAX_SERVERS);
    if (n < 0)
        return moat_err_field(err, -EINVAL, "server.queue", "no usable nats:// URL in %s",
                              cfg->queue);
    char host[64] = "";
    if (!cfg->node[0] && gethostname(host, sizeof(host) - 1) < 0)
        moat_strlcpy(host, "unknown", sizeof(host));
    char name[128];
    (void)snprintf(name, sizeof(name), "moat %s", cfg->node[0] ? cfg->node : host);

    natsStatus s = natsOptions_Create(&q->opts);
    if (s == NATS_OK)
        s = natsOptions_SetServers(q->opts, urls, n);
    if (s == NATS_OK)
        s = natsOptions_SetName(q->opts, name);
    /* A node outlives any outage of its broker: reconnect forever, soon. */
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(q->opts, -1);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(q->opts, RECONNECT_WAIT_MS);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectJitter(q->opts, RECONNECT_JITTER_MS, RECONNECT_JITTER_MS);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(q->opts, CONNECT_TIMEOUT_MS);
    /* a broker gone silent (not closed) is noticed in two pings */
    if (s == NATS_OK)
        s = natsOptions_SetPingInterval(q->opts, PING_INTERVAL_MS);
    if (s == NATS_OK)
        s = natsOptions_SetMaxPingsOut(q->opts, 2);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(q->opts, on_disconnected, q);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(q->opts, on_reconnected, q);
    if (s == NATS_OK)
        s = natsOptions_SetClosedCB(q->opts, on_closed, q);
    if (s != NATS_OK)
        return moat_err_field(err, jsq_errno(s, 0), "server.queue", "NATS options: %s",
                              natsStatus_GetText(s));
    return 0;
}

static int make_stream(struct jsq_queue *q, const struct moat_config *cfg, struct moat_err *err)
{
    char subject[JS_SUBJECT_MAX];
    (void)snprintf(subject, sizeof(subject), "%s.jobs.*.*", q->prefix);
    const char *subjects[] = {subject};
    uint64_t max_age_s = cfg->duplicate_window_s * 10;
    if (max_age_s < MIN_MAX_AGE_S)
        max_age_s = MIN_MAX_AGE_S;
    jsStreamConfig sc;
    (void)jsStreamConfig_Init(&sc);
    sc.Name = q->stream;
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Retention = js_WorkQueuePolicy;
    sc.Storage = js_FileStorage;
    sc.Replicas = (int64_t)cfg->stream_replicas;
    sc.Duplicates = (int64_t)cfg->duplicate_window_s * 1000000000LL;
    sc.MaxAge = (int64_t)max_age_s * 1000000000LL;
    sc.Discard = js_DiscardOld;

    jsErrCode jerr = 0;
    jsStreamInfo *si = NULL;
    natsStatus s = js_AddStream(&si, q->js, &sc, NULL, &jerr);
    if (s != NATS_OK && jerr == JSStreamNameExistErr) {
        /* made by an earlier version of these settings */
        jerr = 0;
        s = js_UpdateStream(&si, q->js, &sc, NULL, &jerr);
    }
    jsStreamInfo_Destroy(si);
    if (s != NATS_OK)
        return moat_err_field(err, jsq_errno(s, jerr), "cluster.stream",
                              "cannot make the stream %s: %s (JetStream error %d)", q->stream,
                              nats_GetLastError(NULL), (int)jerr);
    return 0;
}

static int make_consumer(struct jsq_queue *q, int level, struct moat_err *err)
{
    char name[32], filter[JS_SUBJECT_MAX];
    jsq_consumer_name(name, level);
    if (jsq_subject(filter, sizeof(filter), q->prefix, "jobs", level, "*") < 0)
        return moat_err_field(err, -ENAMETOOLONG, "cluster.subject_prefix", "too long");
    jsConsumerConfig cc;
    (void)jsConsumerConfig_Init(&cc);
    cc.Durable = name;
    cc.FilterSubject = filter;
    cc.AckPolicy = js_AckExplicit;
    cc.DeliverPolicy = js_DeliverAll;
    cc.AckWait = (int64_t)q->ack_wait_s * 1000000000LL;
    /* exec fails a job after cluster.max_deliveries, from NumDelivered */
    cc.MaxDeliver = -1;
    /* entries taken or waiting for a retry's delay count against it: no
     * limit of the broker's own on how many jobs run at once */
    cc.MaxAckPending = -1;
    jsErrCode jerr = 0;
    jsConsumerInfo *ci = NULL;
    natsStatus s = js_AddConsumer(&ci, q->js, q->stream, &cc, NULL, &jerr);
    if (s != NATS_OK) {
        /* there already, with other settings (an ack wait changed) */
        jsConsumerInfo_Destroy(ci);
        ci = NULL;
        jerr = 0;
        s = js_UpdateConsumer(&ci, q->js, q->stream, &cc, NULL, &jerr);
    }
    jsConsumerInfo_Destroy(ci);
    if (s != NATS_OK)
        return moat_err_field(err, jsq_errno(s, jerr), "cluster.stream",
                              "cannot make the consumer %s of %s: %s (JetStream error %d)", name,
                              q->stream, nats_GetLastError(NULL), (int)jerr);
    return 0;
}

static int subscribe(struct jsq_queue *q, natsSubscription **sub, const char *subject,
                     natsMsgHandler cb, struct moat_err *err)
{
    natsStatus s = natsConnection_Subscribe(sub, q->nc, subject, cb, q);
    if (s != NATS_OK)
        return moat_err_set(err, jsq_errno(s, 0), "queue: cannot subscribe to %s: %s", subject,
                            natsStatus_GetText(s));
    return 0;
}

static int subscribe_all(struct jsq_queue *q, struct moat_err *err)
{
    char subject[JS_SUBJECT_MAX];
    (void)snprintf(subject, sizeof(subject), "%s.jobs.*.*", q->prefix);
    int r = subscribe(q, &q->hint_sub, subject, jsq_on_hint, err);
    if (r == 0) {
        (void)snprintf(subject, sizeof(subject), "%s.wake.*", q->prefix);
        r = subscribe(q, &q->wake_sub, subject, jsq_on_hint, err);
    }
    if (r == 0) {
        (void)snprintf(subject, sizeof(subject), "%s.events.final.>", q->prefix);
        r = subscribe(q, &q->event_sub, subject, jsq_on_event, err);
    }
    return r;
}

static int connect_all(struct jsq_queue *q, const struct moat_config *cfg, struct moat_err *err)
{
    int r = make_options(q, cfg, err);
    if (r < 0)
        return r;
    natsStatus s = natsConnection_Connect(&q->nc, q->opts);
    if (s != NATS_OK)
        return moat_err_field(err, -ENOTCONN, "server.queue", "cannot connect to %s: %s",
                              cfg->queue, nats_GetLastError(NULL));
    q->connected = true;
    jsOptions jo;
    (void)jsOptions_Init(&jo);
    jo.Wait = JS_API_WAIT_MS;
    r = jsq_pub_ctx_init(q, &jo);
    if (r == 0) {
        s = natsConnection_JetStream(&q->js, q->nc, &jo);
        r = jsq_errno(s, 0);
    }
    if (r < 0)
        return moat_err_set(err, r, "queue: no JetStream context: %s", natsStatus_GetText(s));
    r = make_stream(q, cfg, err);
    for (int i = 0; r == 0 && i < JS_LEVELS; i++)
        r = make_consumer(q, i, err);
    if (r == 0)
        r = subscribe_all(q, err);
    if (r == 0) {
        r = jsq_refresh(q);
        if (r < 0)
            moat_err_set(err, r, "queue: cannot read the stream %s", q->stream);
    }
    return r;
}

static void drain(natsSubscription *sub)
{
    if (!sub)
        return;
    /* Drained, its callback has returned for good: it touches the state,
     * which is about to go. */
    if (natsSubscription_Drain(sub) == NATS_OK)
        (void)natsSubscription_WaitForDrainCompletion(sub, CLOSE_WAIT_MS);
    else
        (void)natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
}

static void close_connection(struct jsq_queue *q)
{
    natsConnection_Close(q->nc);
    /* The closed callback is the connection's last: after it, none of
     * them touches the state. */
    struct timespec until;
    uint64_t ns = moat_now_ns() + (uint64_t)CLOSE_WAIT_MS * 1000000u;
    until.tv_sec = (time_t)(ns / 1000000000u);
    until.tv_nsec = (long)(ns % 1000000000u);
    (void)pthread_mutex_lock(&q->mu);
    while (!q->conn_closed)
        if (pthread_cond_timedwait(&q->closed_cv, &q->mu, &until) != 0)
            break;
    (void)pthread_mutex_unlock(&q->mu);
    natsConnection_Destroy(q->nc);
    q->nc = NULL;
}

/* Frees what open made, in the order nats.c needs. */
static void jsq_free(struct jsq_queue *q, bool lib)
{
    jsq_keeper_stop(q);
    if (q->js)
        jsq_pubs_finish(q);
    drain(q->event_sub);
    drain(q->wake_sub);
    drain(q->hint_sub);
    jsq_takers_free(q);
    jsCtx_Destroy(q->js);
    if (q->nc)
        close_connection(q);
    natsOptions_Destroy(q->opts);
    if (lib)
        lib_release();
    free(q->done_q);
    free(q->wakes);
    (void)pthread_cond_destroy(&q->closed_cv);
    (void)pthread_cond_destroy(&q->keeper_cv);
    (void)pthread_cond_destroy(&q->take_cv);
    (void)pthread_mutex_destroy(&q->mu);
    free(q);
}

static int jsq_open(const struct moat_config *cfg, void **state, struct moat_err *err)
{
    struct jsq_queue *q = calloc(1, sizeof(*q));
    if (!q)
        return moat_err_set(err, -ENOMEM, "queue: out of memory");
    moat_strlcpy(q->stream, cfg->stream, sizeof(q->stream));
    moat_strlcpy(q->prefix, cfg->subject_prefix, sizeof(q->prefix));
    make_instance(q->instance);
    q->max = cfg->max_queue;
    q->ack_wait_s = cfg->ack_wait_s;
    for (int i = 0; i < JS_LEVELS; i++)
        q->levels[i] = (struct jsq_level){.gen = 1, .empty_gen = 0};
    int r = -pthread_mutex_init(&q->mu, NULL);
    if (r == 0)
        r = cond_init_monotonic(&q->take_cv);
    if (r == 0)
        r = cond_init_monotonic(&q->keeper_cv);
    if (r == 0)
        r = cond_init_monotonic(&q->closed_cv);
    if (r < 0) {
        free(q);
        return moat_err_set(err, r, "queue: cannot create a lock");
    }
    r = lib_acquire();
    if (r < 0) {
        jsq_free(q, false);
        return moat_err_set(err, r, "queue: cannot initialise the NATS library");
    }
    r = connect_all(q, cfg, err);
    if (r == 0) {
        r = jsq_keeper_start(q);
        if (r < 0)
            moat_err_set(err, r, "queue: cannot start its thread");
    }
    if (r < 0) {
        jsq_free(q, true);
        return r;
    }
    *state = q;
    return 0;
}

static void jsq_shutdown(void *state)
{
    struct jsq_queue *q = state;
    (void)pthread_mutex_lock(&q->mu);
    q->shutdown = true;
    (void)pthread_cond_broadcast(&q->take_cv);
    (void)pthread_mutex_unlock(&q->mu);
}

static void jsq_close(void *state)
{
    struct jsq_queue *q = state;
    if (!q)
        return;
    jsq_shutdown(q);
    jsq_free(q, true);
}

static bool jsq_ready(void *state)
{
    struct jsq_queue *q = state;
    (void)pthread_mutex_lock(&q->mu);
    bool ok = q->connected && q->stream_ok && !q->shutdown;
    (void)pthread_mutex_unlock(&q->mu);
    return ok;
}

const struct queue_ops queue_jetstream_ops = {
    .name = "jetstream",
    .in_process = false,
    .open = jsq_open,
    .close = jsq_close,
    .shutdown = jsq_shutdown,
    .ready = jsq_ready,
    .reserve = jsq_reserve,
    .unreserve = jsq_unreserve,
    .push = jsq_push,
    .push_async = jsq_push_async,
    .take = jsq_take,
    .ack = jsq_ack,
    .retry = jsq_retry,
    .release = jsq_release,
    .touch = jsq_touch,
    .remove = jsq_remove,
    .holds = jsq_holds,
    .listen = jsq_listen,
    .announce = jsq_announce,
    .stats = jsq_stats,
};
