/*
 * The delivery service of a node: a poller asks the store which
 * deliveries are due and queues their job ids (a bounded queue: the
 * poller asks for no more than there is room for); delivery threads take
 * an id, claim its next attempt in the store, load the final job, render
 * and sign its body, make the attempt and record how it ended.
 *
 * Retries are state in the store, not timers in memory: an attempt that
 * should be retried records next_ms, and the poller finds it due then, on
 * this node or any other. So a restart loses nothing, and the poll
 * interval is the only added latency.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>

#include "notify-internal.h"
#include "moat/obs.h"
#include "moat/store.h"
#include "moat/util.h"

struct renderer {
    notify_render_fn fn;
    void *cls;
    const char *method;
};

struct notify {
    const struct moat_config *cfg;
    struct store *store;
    struct notify_allow allow;
    struct renderer render[JOB_CALLBACK_SHAPE_MAX_];

    pthread_mutex_t mu;
    pthread_cond_t more; /* the queue has ids, or stopping */
    pthread_cond_t room; /* the poller: room, or stopping */
    bool stopping;
    atomic_bool stop;                 /* stopping, read without the lock by attempts in flight */
    char (*queue)[MOAT_UUID_LEN + 1]; /* ring of cap ids */
    size_t cap, head, len;

    /* attempts by outcome, indexed by enum notify_verdict */
    struct obs_counter *attempts[3];

    pthread_t poller;
    bool poller_started;
    pthread_t *workers;
    size_t nworkers; /* started */
};

/* The lease of an attempt: its time bound, plus room for the lookup, the
 * render and the record. A claimer silent past it is presumed dead. */
static uint64_t lease_ms(const struct moat_config *cfg)
{
    return cfg->webhook_timeout_ms * 2 + 30000;
}

int notify_new(const struct moat_config *cfg, struct store *st, struct obs_registry *metrics,
               struct notify **out, struct moat_err *err)
{
    struct notify_allow al;
    int r = notify_allow_parse(cfg->webhook_allow, &al, err);
    if (r < 0)
        return r;
    struct notify *n = calloc(1, sizeof(*n));
    if (!n)
        return moat_err_set(err, -ENOMEM, "out of memory");
    n->cfg = cfg;
    n->store = st;
    n->allow = al;
    n->cap = cfg->webhook_workers * 4 + 4;
    n->queue = calloc(n->cap, sizeof(*n->queue));
    if (!n->queue) {
        free(n);
        return moat_err_set(err, -ENOMEM, "out of memory");
    }
    static const char *const outcome[] = {
        [NOTIFY_DELIVERED] = "outcome=\"delivered\"",
        [NOTIFY_RETRY] = "outcome=\"retry\"",
        [NOTIFY_FAIL] = "outcome=\"failed\"",
    };
    for (size_t i = 0; metrics && i < MOAT_ARRAY_SIZE(outcome); i++)
        n->attempts[i] = obs_counter(metrics, "moat_webhook_attempts_total",
                                     "webhook delivery attempts by how they ended", outcome[i]);
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->more, NULL);
    pthread_cond_init(&n->room, NULL);
    *out = n;
    return 0;
}

void notify_set_renderer(struct notify *n, enum job_callback_shape s, const char *method,
                         notify_render_fn fn, void *cls)
{
    if ((unsigned)s >= (unsigned)JOB_CALLBACK_SHAPE_MAX_)
        return;
    n->render[s] = (struct renderer){.fn = fn, .cls = cls, .method = method};
}

const struct notify_allow *notify_allowed(const struct notify *n)
{
    return &n->allow;
}

/* ---- the queue (under mu) ---- */

static bool queued(const struct notify *n, const char *id)
{
    for (size_t i = 0; i < n->len; i++)
        if (strcmp(n->queue[(n->head + i) % n->cap], id) == 0)
            return true;
    return false;
}

static void push(struct notify *n, const char *id)
{
    moat_strlcpy(n->queue[(n->head + n->len) % n->cap], id, sizeof(n->queue[0]));
    n->len++;
}

/* ---- one delivery ---- */

static uint64_t next_random(uint64_t *s)
{
    /* xorshift64*: jitter only, no secret */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* How an attempt that should be retried is recorded: pending with its next
 * time, or failed when it was the last one. */
static void plan_retry(const struct notify *n, uint32_t attempt, const struct notify_result *res,
                       uint64_t *rnd, int64_t now, struct store_callback_outcome *o)
{
    const struct moat_config *cfg = n->cfg;
    if (attempt >= cfg->webhook_attempts) {
        o->status = JOB_CALLBACK_FAILED;
        return;
    }
    double jitter = 0.5 + (double)(next_random(rnd) >> 11) / (double)(1ull << 53) / 2;
    uint64_t wait =
        notify_backoff_ms(cfg->webhook_backoff_ms, cfg->webhook_max_backoff_ms, attempt, jitter);
    if (res->has_retry_after) /* the receiver knows best when it is back, up to our cap */
        wait = res->retry_after_ms < cfg->webhook_max_backoff_ms ? res->retry_after_ms
                                                                 : cfg->webhook_max_backoff_ms;
    o->status = JOB_CALLBACK_PENDING;
    o->next_ms = now + (int64_t)wait;
}

/* Renders, signs and sends the body of final job j. */
static int attempt(struct notify *n, CURL *h, const struct job *j, struct notify_result *res)
{
    const struct renderer *rd = &n->render[j->callback.shape];
    if (!rd->fn) {
        *res = (struct notify_result){.verdict = NOTIFY_FAIL};
        (void)snprintf(res->error, sizeof(res->error), "no renderer for the %s shape",
                       job_callback_shape_name(j->callback.shape));
        return 0;
    }
    char *body = NULL;
    size_t len = 0;
    int e = rd->fn(rd->cls, j, &body, &len);
    if (e < 0)
        return e;
    char sig[NOTIFY_SIGNATURE_MAX] = "";
    if (n->cfg->webhook_secret[0])
        e = notify_signature(n->cfg->webhook_secret, (int64_t)(moat_realtime_ms() / 1000), body,
                             len, sig);
    if (e == 0) {
        const struct notify_attempt a = {
            .url = j->callback.url,
            .method = rd->method,
            .ctype = "application/json",
            .body = body,
            .len = len,
            .signature = sig,
            .delivery = j->id,
            .al = &n->allow,
            .timeout_ms = n->cfg->webhook_timeout_ms,
            .max_response = (size_t)n->cfg->webhook_max_response_kb << 10,
            .stop = &n->stop,
        };
        e = notify_deliver_once(h, &a, res);
    }
    free(body);
    return e;
}

static void deliver(struct notify *n, CURL *h, const char *id, uint64_t *rnd)
{
    struct moat_err err = {0};
    uint32_t at = 0;
    int e = store_callback_claim(n->store, id, (int64_t)moat_realtime_ms(), lease_ms(n->cfg), &at,
                                 &err);
    if (e < 0) { /* another node has it, or it is not due any more */
        if (e != -EALREADY)
            log_warn("event=webhook_claim_failed job=%s msg=\"%s\"", id, err.msg);
        return;
    }
    struct job j = {0};
    struct notify_result res = {.verdict = NOTIFY_RETRY};
    e = store_get(n->store, id, STORE_GET_OUTPUT, &j, &err);
    if (e == 0)
        e = attempt(n, h, &j, &res);
    if (e < 0)
        (void)snprintf(res.error, sizeof(res.error), "moat could not make the attempt: %.180s",
                       e == -ENOMEM ? "out of memory"
                       : err.msg[0] ? err.msg
                                    : strerror(-e));
    int64_t now = (int64_t)moat_realtime_ms();
    struct store_callback_outcome o = {.attempt = at, .error = res.error};
    switch (res.verdict) {
    case NOTIFY_DELIVERED:
        o.status = JOB_CALLBACK_DELIVERED;
        o.delivered_ms = now;
        o.error = NULL; /* the last failure, if any, stays to be seen */
        break;
    case NOTIFY_FAIL:
        o.status = JOB_CALLBACK_FAILED;
        break;
    case NOTIFY_RETRY:
        plan_retry(n, at, &res, rnd, now, &o);
        break;
    }
    if (res.verdict == NOTIFY_RETRY && atomic_load(&n->stop)) {
        /* cut short by the node's stop, not the receiver's fault: due again
         * at once, on the next start or another node */
        o.status = JOB_CALLBACK_PENDING;
        o.next_ms = now;
        o.error = "moat stopped during the attempt";
    }
    obs_counter_add(n->attempts[res.verdict], 1);
    e = store_callback_record(n->store, id, &o, &err);
    if (e < 0)
        log_warn("event=webhook_record_failed job=%s attempt=%u msg=\"%s\"", id, at, err.msg);
    else
        log_info("event=webhook job=%s attempt=%u status=%s http=%ld msg=\"%s\"", id, at,
                 job_callback_status_name(o.status), res.status, res.error);
    job_release(&j);
}

static void *worker_main(void *arg)
{
    struct notify *n = arg;
    CURL *h = curl_easy_init();
    if (!h)
        log_warn("event=webhook_thread_idle msg=\"libcurl: no easy handle (out of memory)\"");
    uint64_t rnd = 0;
    if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd) || rnd == 0)
        rnd = moat_now_ns() | 1;
    for (;;) {
        char id[MOAT_UUID_LEN + 1];
        pthread_mutex_lock(&n->mu);
        while (!n->stopping && n->len == 0)
            pthread_cond_wait(&n->more, &n->mu);
        if (n->stopping) {
            pthread_mutex_unlock(&n->mu);
            break;
        }
        moat_strlcpy(id, n->queue[n->head], sizeof(id));
        n->head = (n->head + 1) % n->cap;
        n->len--;
        pthread_cond_signal(&n->room);
        pthread_mutex_unlock(&n->mu);
        if (h)
            deliver(n, h, id, &rnd); /* without a handle: left to another thread or node */
    }
    curl_easy_cleanup(h);
    return NULL;
}

/* ---- the poller ---- */

static void poll_once(struct notify *n)
{
    pthread_mutex_lock(&n->mu);
    size_t room = n->cap - n->len;
    pthread_mutex_unlock(&n->mu);
    if (room == 0)
        return;
    char(*ids)[MOAT_UUID_LEN + 1] = calloc(room, sizeof(*ids));
    if (!ids)
        return;
    size_t got = 0;
    struct moat_err err = {0};
    if (store_callback_due(n->store, (int64_t)moat_realtime_ms(), ids, room, &got, &err) < 0)
        log_debug("event=webhook_poll_failed msg=\"%s\"", err.msg);
    pthread_mutex_lock(&n->mu);
    for (size_t i = 0; i < got && n->len < n->cap; i++)
        if (!queued(n, ids[i]))
            push(n, ids[i]);
    if (n->len)
        pthread_cond_broadcast(&n->more);
    pthread_mutex_unlock(&n->mu);
    free(ids);
}

static void *poller_main(void *arg)
{
    struct notify *n = arg;
    pthread_mutex_lock(&n->mu);
    while (!n->stopping) {
        pthread_mutex_unlock(&n->mu);
        poll_once(n);
        pthread_mutex_lock(&n->mu);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        uint64_t ns = (uint64_t)until.tv_nsec + n->cfg->webhook_poll_ms * 1000000ull;
        until.tv_sec += (time_t)(ns / 1000000000ull);
        until.tv_nsec = (long)(ns % 1000000000ull);
        while (!n->stopping && pthread_cond_timedwait(&n->room, &n->mu, &until) == 0)
            ; /* woken for room: wait out the interval all the same */
    }
    pthread_mutex_unlock(&n->mu);
    return NULL;
}

int notify_start(struct notify *n, struct moat_err *err)
{
    if (n->cfg->webhook_workers == 0)
        return 0;
    /* the condition the poller sleeps on runs on the monotonic clock */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_destroy(&n->room);
    pthread_cond_init(&n->room, &ca);
    pthread_condattr_destroy(&ca);
    n->workers = calloc(n->cfg->webhook_workers, sizeof(*n->workers));
    if (!n->workers)
        return moat_err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n->cfg->webhook_workers; i++) {
        int r = pthread_create(&n->workers[i], NULL, worker_main, n);
        if (r != 0)
            return moat_err_set(err, -r, "cannot start a webhook thread: %s", strerror(r));
        n->nworkers++;
    }
    int r = pthread_create(&n->poller, NULL, poller_main, n);
    if (r != 0)
        return moat_err_set(err, -r, "cannot start the webhook poller: %s", strerror(r));
    n->poller_started = true;
    if (!n->cfg->webhook_secret[0])
        log_warn("event=webhooks_unsigned msg=\"webhooks.secret is empty: deliveries carry no "
                 "Moat-Signature\"");
    return 0;
}

void notify_free(struct notify *n)
{
    if (!n)
        return;
    atomic_store(&n->stop, true);
    pthread_mutex_lock(&n->mu);
    n->stopping = true;
    pthread_cond_broadcast(&n->more);
    pthread_cond_broadcast(&n->room);
    pthread_mutex_unlock(&n->mu);
    if (n->poller_started)
        pthread_join(n->poller, NULL);
    for (size_t i = 0; i < n->nworkers; i++)
        pthread_join(n->workers[i], NULL);
    free(n->workers);
    pthread_cond_destroy(&n->more);
    pthread_cond_destroy(&n->room);
    pthread_mutex_destroy(&n->mu);
    free(n->queue);
    free(n);
}
