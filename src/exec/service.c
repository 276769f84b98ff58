/*
 * The executor service of `moat serve`: N threads, each holding one free box
 * before it takes a job, so that a job leaves the queue only when it can run
 * at once (the queue, not the executors, is where jobs wait).
 *
 * A job's life here: queue_take, the offered copy or store_get,
 * store_start_begin (attempts + 1; the run overlaps its commit),
 * exec_program_cached, store_start_wait (a failed start drops the run),
 * then one of
 *   - completed: store_finish (the result, durable), queue_ack, finished();
 *   - internal error with attempts left: store_requeue, a delayed
 *     queue_push (exponential backoff), queue_ack;
 *   - failed: internal error after the last attempt, or a request that can
 *     never run (unknown language, bad file name): store_finish as failed;
 *   - cancelled: store_cancel (normally done already by whoever cancelled),
 *     queue_ack, finished().
 * The queue entry is acknowledged only after the store holds the outcome
 * (at-least-once): a crash in between leaves the job running or queued in
 * the store, and recovery queues it again.
 *
 * Durable writes that fail: every write of a job's path (start, finish,
 * requeue, cancel) that the store fails rather than answers (a full disk,
 * an I/O error, a lock held too long) is tried again with backoff
 * (WRITE_RETRY_MS doubling to WRITE_RETRY_MAX_MS) until it is durable.
 * The executor holds the job and its result meanwhile and takes no other
 * job: at most one unwritten result per executor, so the memory is bounded
 * by the workers' count, and a store that cannot write holds the
 * executors back instead of piling results up. Only the store's answers
 * end a write (done; -EALREADY: cancelled meanwhile, the result dropped;
 * -ENOENT: gone) and the failures no retry mends (-EINVAL, -E2BIG: the
 * result cannot be stored; the job is retried, then failed without its
 * outputs). When the service stops, a write still failing is given up:
 * the store keeps the job as it was (running, or queued when its start
 * never committed), the queue entry is not acknowledged, and recovery at
 * the next start runs it again. A conditional write (finish and requeue
 * only of a running job) never records a result twice nor overwrites a
 * cancel.
 *
 * Boxes: a box in which no step ran (the job was cancelled or vanished
 * before it ran) is kept for the next job; once a step ran it is freed.
 *
 * Cancel: the slot of each executor names the job it holds and, while the
 * program runs, its box. exec_service_cancel marks the slot and signals the
 * box under the service's lock; the executor clears the slot under the same
 * lock before it frees the box, so a cancel never reaches a freed box. A
 * cancel that comes before the program started is seen by the executor
 * under the lock and the program is not started at all (and the box, which
 * got no signal, stays usable).
 */
#include "moat/exec.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "moat/lang.h"
#include "moat/obs.h"
#include "moat/queue.h"
#include "moat/sandbox.h"
#include "moat/store.h"
#include "moat/util.h"

/* How long an executor blocks in the pool or the queue before it looks at
 * the stop flag again: the bound on exec_service_stop's latency. */
/* Offered jobs kept at once: a few per executor is plenty, since an offer
 * is only useful to an executor that takes the job within a commit's time. */
#define OFFERS_MAX 16
#define POLL_MS 200
/* A durable write that the store failed is tried again after
 * WRITE_RETRY_MS, the delay doubling up to WRITE_RETRY_MAX_MS: small
 * enough that a job finishes within a second or so of the disk having
 * room again, large enough not to hammer a store that cannot write. */
#define WRITE_RETRY_MS 50
#define WRITE_RETRY_MAX_MS 1000
/* Backoff ceiling, so that retry_factor^n cannot overflow into nonsense. */
#define MAX_BACKOFF_MS (3600ull * 1000)

struct svc_metrics {
    struct obs_histogram *queue_wait, *compile, *run, *engine_latency;
    struct obs_histogram *write_start, *write_finish, *write_requeue, *read_get;
    struct obs_counter *retries, *timeouts, *ooms, *engine_timeouts, *engine_ooms;
    struct obs_counter *write_retries;
    struct obs_counter *cache_hit, *cache_miss;
    struct obs_gauge *busy, *workers, *engine_active;
};

/* One executor thread and what it holds; id, box, cancel and running are
 * guarded by the service's lock. */
struct exec_slot {
    struct exec_service *svc;
    pthread_t thread;
    char id[MOAT_UUID_LEN + 1]; /* "" when idle */
    struct sbx_box *box;        /* set only while the program may run */
    bool cancel;                /* exec_service_cancel asked for id */
    bool running;               /* the program was started (box may be signalled) */
};

struct exec_service {
    struct exec_service_deps deps;
    struct svc_metrics m;
    atomic_bool stopping;
    atomic_uint_fast64_t busy;
    pthread_mutex_t lock;
    pthread_cond_t stop_cond; /* broadcast under lock when stopping is set */
    /* jobs handed over by the API ahead of their commit (under lock): a
     * ring, the oldest dropped when full */
    struct job offers[OFFERS_MAX];
    size_t next_offer;
    size_t nslots;
    struct exec_slot slots[];
};

/* ---- small helpers ---- */

static void observe(struct obs_histogram *h, double seconds)
{
    if (h)
        obs_histogram_observe(h, seconds);
}

static void count(struct obs_counter *c)
{
    if (c)
        obs_counter_add(c, 1);
}

static void gauge_add(struct obs_gauge *g, int64_t d)
{
    if (g)
        obs_gauge_add(g, d);
}

static double seconds_since(uint64_t start_ns)
{
    return (double)(moat_now_ns() - start_ns) / 1e9;
}

static bool stopping(const struct exec_service *svc)
{
    return atomic_load(&svc->stopping);
}

/* Waits ms, or less when the service stops meanwhile: true when it is
 * stopping. */
static bool wait_stop(struct exec_service *svc, uint64_t ms)
{
    struct timespec until;
    (void)clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&svc->lock);
    while (!stopping(svc) && pthread_cond_timedwait(&svc->stop_cond, &svc->lock, &until) == 0)
        ;
    bool stop = stopping(svc);
    pthread_mutex_unlock(&svc->lock);
    return stop;
}

static int64_t now_unix_ms(void)
{
    return (int64_t)moat_realtime_ms();
}

static uint64_t monotonic_ms(void)
{
    return moat_now_ns() / 1000000;
}

/* retry_base_ms * retry_factor^(attempts-1), saturating at MAX_BACKOFF_MS. */
static uint64_t backoff_ms(const struct moat_config *cfg, uint32_t attempts)
{
    uint64_t d = cfg->retry_base_ms;
    for (uint32_t i = 1; i < attempts && d < MAX_BACKOFF_MS; i++) {
        if (__builtin_mul_overflow(d, cfg->retry_factor, &d))
            d = MAX_BACKOFF_MS;
    }
    return d < MAX_BACKOFF_MS ? d : MAX_BACKOFF_MS;
}

/* A message as a logfmt value: quoted, with quotes, backslashes and control
 * characters escaped or dropped (it may name a user's file). */
static void logfmt_quote(const char *s, char *out, size_t outsz)
{
    size_t n = 0;
    out[n++] = '"';
    for (; *s && n + 4 < outsz; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c >= 0x20 && c != 0x7f) {
            out[n++] = (char)c;
        } else {
            out[n++] = ' ';
        }
    }
    out[n++] = '"';
    out[n] = '\0';
}

/* ---- metrics ---- */

static void metrics_init(struct obs_registry *reg, struct svc_metrics *m)
{
    *m = (struct svc_metrics){0};
    if (!reg)
        return;
    m->queue_wait = obs_histogram(reg, "moat_queue_wait_seconds",
                                  "time from submission to the start of a run", NULL);
    m->compile = obs_histogram(reg, "moat_compile_seconds",
                               "wall time of compile steps (cache misses)", NULL);
    m->run = obs_histogram(reg, "moat_run_seconds", "wall time of run steps", NULL);
    m->engine_latency =
        obs_histogram(reg, "engine_execution_latency_seconds", "wall time of run steps", NULL);
    static const char write_help[] = "duration of durable store writes";
    m->write_start = obs_histogram(reg, "moat_store_write_seconds", write_help, "op=\"start\"");
    m->write_finish = obs_histogram(reg, "moat_store_write_seconds", write_help, "op=\"finish\"");
    m->write_requeue = obs_histogram(reg, "moat_store_write_seconds", write_help, "op=\"requeue\"");
    m->read_get =
        obs_histogram(reg, "moat_store_read_seconds", "duration of store reads", "op=\"get\"");
    m->retries =
        obs_counter(reg, "moat_retries_total", "runs retried after an internal error", NULL);
    m->write_retries = obs_counter(reg, "moat_store_write_retries_total",
                                   "durable writes tried again after the store failed them", NULL);
    m->timeouts = obs_counter(reg, "moat_timeouts_total", "runs that hit a time limit", NULL);
    m->ooms = obs_counter(reg, "moat_oom_kills_total", "runs that hit the memory limit", NULL);
    m->engine_timeouts =
        obs_counter(reg, "engine_sandbox_timeouts_total", "runs that hit a time limit", NULL);
    m->engine_ooms =
        obs_counter(reg, "engine_sandbox_oom_kills_total", "runs that hit the memory limit", NULL);
    static const char cache_help[] = "compile cache lookups";
    m->cache_hit = obs_counter(reg, "moat_compile_cache_total", cache_help, "result=\"hit\"");
    m->cache_miss = obs_counter(reg, "moat_compile_cache_total", cache_help, "result=\"miss\"");
    m->busy = obs_gauge(reg, "moat_workers_busy", "executors holding a job", NULL);
    m->workers = obs_gauge(reg, "moat_workers", "executor threads", NULL);
    m->engine_active =
        obs_gauge(reg, "engine_active_workers_count", "executors holding a job", NULL);
}

void exec_count_final(struct obs_registry *reg, enum job_status status, enum job_verdict v)
{
    if (!reg)
        return;
    const char *vn = job_verdict_name(v);
    char labels[96];
    (void)snprintf(labels, sizeof(labels), "status=\"%s\",verdict=\"%s\"", job_status_name(status),
                   vn ? vn : "none");
    obs_counter_add(obs_counter(reg, "moat_jobs_total", "jobs that reached a final status", labels),
                    1);
}

static void count_job(struct exec_service *svc, enum job_status status, enum job_verdict v)
{
    exec_count_final(svc->deps.metrics, status, v);
}

/* ---- the slot table ---- */

static void slot_set(struct exec_slot *s, const char *id)
{
    pthread_mutex_lock(&s->svc->lock);
    moat_strlcpy(s->id, id, sizeof(s->id));
    s->box = NULL;
    s->cancel = false;
    s->running = false;
    pthread_mutex_unlock(&s->svc->lock);
}

/* Marks the program started unless a cancel came first: false then. */
static bool slot_begin_run(struct exec_slot *s, struct sbx_box *box)
{
    pthread_mutex_lock(&s->svc->lock);
    bool go = !s->cancel;
    if (go) {
        s->box = box;
        s->running = true;
    }
    pthread_mutex_unlock(&s->svc->lock);
    return go;
}

static void slot_clear(struct exec_slot *s)
{
    pthread_mutex_lock(&s->svc->lock);
    s->id[0] = '\0';
    s->box = NULL;
    s->cancel = false;
    s->running = false;
    pthread_mutex_unlock(&s->svc->lock);
}

/* ---- one job ---- */

/* What the executor knows of the job it runs. */
struct run_ctx {
    struct exec_slot *slot;
    const char *id;
    int priority;
    uint64_t start_ns; /* store_start begun */
    uint64_t write_start_ns;
    uint64_t queue_ms;
    struct job job;
    struct store_ticket *ticket; /* the start's commit, until finish_start */
    bool started;                /* the start was committed before the run */
    int64_t start_ms;            /* the start's time, the same in every try of it */
    bool unstorable;             /* the store refused this result once already */
};

/* ---- durable writes ---- */

enum write_op { WRITE_START, WRITE_FINISH, WRITE_REQUEUE, WRITE_CANCEL };

static const char *const write_op_names[] = {
    [WRITE_START] = "start",
    [WRITE_FINISH] = "finish",
    [WRITE_REQUEUE] = "requeue",
    [WRITE_CANCEL] = "cancel",
};

/* One try of op for c's job: what the store says. A start sets
 * c->job.attempts; a cancel that ends the job counts it. */
static int write_once(struct exec_service *svc, enum write_op op, struct run_ctx *c,
                      struct moat_err *err)
{
    struct store *st = svc->deps.store;
    uint64_t t0 = moat_now_ns();
    int r = -EINVAL;
    switch (op) {
    case WRITE_START: {
        uint32_t attempts = 0;
        r = store_start(st, c->id, c->start_ms, &attempts, err);
        observe(svc->m.write_start, seconds_since(t0));
        if (r == 0)
            c->job.attempts = attempts;
        break;
    }
    case WRITE_FINISH:
        r = store_finish(st, &c->job, err);
        observe(svc->m.write_finish, seconds_since(t0));
        break;
    case WRITE_REQUEUE:
        r = store_requeue(st, c->id, err);
        observe(svc->m.write_requeue, seconds_since(t0));
        break;
    case WRITE_CANCEL: {
        enum job_status was;
        r = store_cancel(st, c->id, now_unix_ms(), &was, err);
        if (r == 0) /* a job is counted by whoever makes it final in the store */
            count_job(svc, JOB_STATUS_CANCELLED, JOB_VERDICT_CANCELLED);
        break;
    }
    }
    return r;
}

/* Whether r ends a write: done, the store's answer that the job is not in
 * the state the write needs (-EALREADY: cancelled or finished meanwhile;
 * -ENOENT: gone), a refusal no retry changes (-EINVAL, -E2BIG), or a store
 * that is closing (-ESHUTDOWN: handled as the service stopping). */
static bool write_settled(int r)
{
    return r >= 0 || r == -EALREADY || r == -ENOENT || r == -EINVAL || r == -E2BIG ||
           r == -ESHUTDOWN;
}

/*
 * op for c's job, tried until it is settled, the delay doubling from
 * WRITE_RETRY_MS to WRITE_RETRY_MAX_MS. first < 0 is the failure of a try
 * made elsewhere (the start's commit, waited for after the run), with its
 * message; 0: no try yet. -ESHUTDOWN when the service stops first: the
 * store then keeps the job as it was, for recovery. The caller holds the
 * job and its result until this returns.
 */
static int durable_write(struct exec_service *svc, enum write_op op, struct run_ctx *c, int first,
                         const char *first_msg)
{
    struct moat_err err = {0};
    int r = first;
    if (r < 0)
        moat_strlcpy(err.msg, first_msg ? first_msg : "", sizeof(err.msg));
    else
        r = write_once(svc, op, c, &err);
    uint64_t delay = WRITE_RETRY_MS;
    for (unsigned tries = 1; !write_settled(r); tries++) {
        /* tries 1, 2, 4, 8, ...: a write stuck on a full disk says so
         * without a line per try */
        if ((tries & (tries - 1)) == 0) {
            char q[300];
            logfmt_quote(err.msg[0] ? err.msg : strerror(-r), q, sizeof(q));
            log_warn("event=store_write_failed op=%s id=%s tries=%u retry_ms=%llu error=%s",
                     write_op_names[op], c->id, tries, (unsigned long long)delay, q);
        }
        count(svc->m.write_retries);
        if (wait_stop(svc, delay))
            return -ESHUTDOWN;
        delay = delay * 2 < WRITE_RETRY_MAX_MS ? delay * 2 : WRITE_RETRY_MAX_MS;
        err = (struct moat_err){0};
        r = write_once(svc, op, c, &err);
        if (write_settled(r))
            log_info("event=store_write_recovered op=%s id=%s tries=%u", write_op_names[op], c->id,
                     tries + 1);
    }
    return r;
}

/* Pushes the job back into the queue: queue_push fails only for memory,
 * which comes back; false when the service stops first. */
static bool push_again(struct exec_service *svc, const struct run_ctx *c, uint64_t delay_ms)
{
    uint64_t wait = WRITE_RETRY_MS;
    for (;;) {
        int r = queue_push(svc->deps.queue, c->id, c->priority, monotonic_ms() + delay_ms, false);
        if (r == 0)
            return true;
        log_error("event=queue_push_failed id=%s error=\"%s\"", c->id, strerror(-r));
        if (wait_stop(svc, wait))
            return false;
        wait = wait * 2 < WRITE_RETRY_MAX_MS ? wait * 2 : WRITE_RETRY_MAX_MS;
    }
}

/* A write given up because the service stops: the store keeps the job
 * (running, or queued), the queue entry is not acknowledged, and recovery
 * runs it again at the next start. */
static void left_for_recovery(const struct run_ctx *c, enum write_op op)
{
    log_warn("event=job_left_for_recovery id=%s op=%s reason=\"the store failed the write until "
             "the service stopped\"",
             c->id, write_op_names[op]);
}

static void log_finished(const struct run_ctx *c, const char *extra)
{
    const struct job *j = &c->job;
    const char *vn = job_verdict_name(j->run.verdict);
    log_info("event=job_finished id=%s language=%s status=%s verdict=%s attempts=%u "
             "queue_ms=%llu compile_ms=%llu run_ms=%llu wall_ms=%llu memory_kb=%llu "
             "cached=%s%s",
             c->id, j->language, job_status_name(j->status), vn ? vn : "none", j->attempts,
             (unsigned long long)c->queue_ms,
             (unsigned long long)(j->compiled ? j->compile.wall_time_ms : 0),
             (unsigned long long)j->run.wall_time_ms,
             (unsigned long long)((moat_now_ns() - c->start_ns) / 1000000),
             (unsigned long long)j->run.memory_kb,
             j->compiled && j->compile.cached ? "true" : "false", extra);
}

static void tell_finished(struct exec_service *svc, const char *id, const struct job *final)
{
    if (svc->deps.finished)
        svc->deps.finished(svc->deps.finished_cls, id, final);
}

static void retry_or_fail(struct exec_service *svc, struct run_ctx *c, const char *msg);

/* The store refused the result for good (too large, rejected): moat's own
 * failure, so the job is tried again, or failed without its outputs. */
static void result_unstorable(struct exec_service *svc, struct run_ctx *c, int r)
{
    struct job *j = &c->job;
    if (c->unstorable) {
        /* even the bare failure was refused: nothing left to try */
        log_error("event=job_result_lost id=%s error=\"%s\"", c->id, strerror(-r));
        queue_ack(svc->deps.queue, c->id);
        return;
    }
    c->unstorable = true;
    char msg[160];
    (void)snprintf(msg, sizeof(msg), "the result could not be stored: %s", strerror(-r));
    job_step_release(&j->compile);
    j->compiled = false;
    retry_or_fail(svc, c, msg);
}

/* Records c->job (status and steps set) as final, durably; then acks and
 * tells. */
static void record_final(struct exec_service *svc, struct run_ctx *c)
{
    struct job *j = &c->job;
    j->finished_ms = now_unix_ms();
    moat_sha256_hex(j->run.out, j->run.out_len, j->output_hash);
    int r = durable_write(svc, WRITE_FINISH, c, 0, NULL);
    if (r == -ESHUTDOWN) {
        left_for_recovery(c, WRITE_FINISH);
        return;
    }
    if (r == -EALREADY || r == -ENOENT) {
        /* cancelled (or deleted) while it ran: the store's word stands */
        queue_ack(svc->deps.queue, c->id);
        log_info("event=job_result_dropped id=%s reason=%s", c->id,
                 r == -EALREADY ? "cancelled" : "gone");
        return;
    }
    if (r < 0) {
        result_unstorable(svc, c, r);
        return;
    }
    queue_ack(svc->deps.queue, c->id);
    count_job(svc, j->status, j->run.verdict);
    if (j->run.verdict == JOB_VERDICT_TIME_LIMIT) {
        count(svc->m.timeouts);
        count(svc->m.engine_timeouts);
    } else if (j->run.verdict == JOB_VERDICT_MEMORY_LIMIT) {
        count(svc->m.ooms);
        count(svc->m.engine_ooms);
    }
    char extra[320] = "";
    if (j->status == JOB_STATUS_FAILED) {
        char q[300];
        logfmt_quote(j->run.message, q, sizeof(q));
        (void)snprintf(extra, sizeof(extra), " error=%s", q);
    }
    log_finished(c, extra);
    tell_finished(svc, c->id, j);
}

/* Fails the job for good (no retry): status failed, run internal_error. */
static void fail_job(struct exec_service *svc, struct run_ctx *c, const char *msg)
{
    struct job *j = &c->job;
    job_step_release(&j->run);
    j->run.verdict = JOB_VERDICT_INTERNAL_ERROR;
    moat_strlcpy(j->run.message, msg, sizeof(j->run.message));
    j->status = JOB_STATUS_FAILED;
    record_final(svc, c);
}

/* An internal error: another attempt after a backoff, or failed. The
 * requeue is durable before the job is pushed back and acknowledged. */
static void retry_or_fail(struct exec_service *svc, struct run_ctx *c, const char *msg)
{
    const struct moat_config *cfg = svc->deps.cfg;
    struct job *j = &c->job;
    if (j->attempts >= cfg->retry_attempts) {
        fail_job(svc, c, msg);
        return;
    }
    uint64_t delay = backoff_ms(cfg, j->attempts);
    char q[300];
    logfmt_quote(msg, q, sizeof(q));
    log_warn("event=job_retry id=%s language=%s attempts=%u delay_ms=%llu error=%s", c->id,
             j->language, j->attempts, (unsigned long long)delay, q);
    int r = durable_write(svc, WRITE_REQUEUE, c, 0, NULL);
    if (r == -ESHUTDOWN) {
        left_for_recovery(c, WRITE_REQUEUE);
        return;
    }
    if (r == 0) {
        count(svc->m.retries);
        /* the delay counts from now: the requeue may have waited for the
         * disk */
        if (!push_again(svc, c, delay))
            return; /* queued in the store: recovery pushes it */
    } else if (r != -EALREADY && r != -ENOENT) {
        log_error("event=job_requeue_failed id=%s error=\"%s\"", c->id, strerror(-r));
    }
    queue_ack(svc->deps.queue, c->id);
}

/* The program was cancelled: the job's status is cancelled. */
static void record_cancelled(struct exec_service *svc, struct run_ctx *c)
{
    /* Whoever cancelled normally did store_cancel first (the write then
     * answers -EALREADY); this makes the status right also when only
     * exec_service_cancel was called. */
    int r = durable_write(svc, WRITE_CANCEL, c, 0, NULL);
    if (r == -ESHUTDOWN) {
        left_for_recovery(c, WRITE_CANCEL);
        return;
    }
    if (r < 0 && r != -EALREADY && r != -ENOENT)
        log_error("event=job_cancel_failed id=%s error=\"%s\"", c->id, strerror(-r));
    queue_ack(svc->deps.queue, c->id);
    c->job.status = JOB_STATUS_CANCELLED;
    c->job.run.verdict = JOB_VERDICT_CANCELLED;
    log_finished(c, "");
    tell_finished(svc, c->id, NULL); /* whoever cancelled it wrote the record */
}

static void observe_steps(struct exec_service *svc, const struct exec_outcome *o)
{
    if (o->compiled) {
        if (svc->deps.cache)
            count(o->compile.cached ? svc->m.cache_hit : svc->m.cache_miss);
        if (!o->compile.cached)
            observe(svc->m.compile, (double)o->compile.wall_time_ms / 1000.0);
    }
    if (o->run.verdict != JOB_VERDICT_NONE && o->run.verdict != JOB_VERDICT_COMPILE_ERROR &&
        o->run.verdict != JOB_VERDICT_INTERNAL_ERROR && o->run.verdict != JOB_VERDICT_CANCELLED) {
        observe(svc->m.run, (double)o->run.wall_time_ms / 1000.0);
        observe(svc->m.engine_latency, (double)o->run.wall_time_ms / 1000.0);
    }
}

/* Moves the outcome into the job and records it by its verdict. */
static void settle(struct exec_service *svc, struct run_ctx *c, int r, struct exec_outcome *o,
                   const struct moat_err *err)
{
    struct job *j = &c->job;
    observe_steps(svc, o);
    job_step_release(&j->compile);
    job_step_release(&j->run);
    j->compiled = o->compiled;
    j->compile = o->compile;
    j->run = o->run;
    *o = (struct exec_outcome){0}; /* the steps' buffers are the job's now */

    if (j->run.verdict == JOB_VERDICT_CANCELLED) {
        record_cancelled(svc, c);
    } else if (j->run.verdict == JOB_VERDICT_INTERNAL_ERROR || r == -ENOMEM) {
        /* the box or the sandbox failed (or memory ran out): another try
         * may work */
        char msg[sizeof(j->run.message)];
        moat_strlcpy(msg, j->run.message[0] ? j->run.message : err->msg, sizeof(msg));
        retry_or_fail(svc, c, msg[0] ? msg : "the sandbox failed");
    } else if (r < 0) {
        /* Refused before any program ran (a bad file name, a run command
         * that does not expand): it would fail the same way again. */
        char msg[sizeof(err->field) + sizeof(err->msg) + 2]; /* cut to fit by fail_job */
        if (err->field[0])
            (void)snprintf(msg, sizeof(msg), "%s: %s", err->field, err->msg);
        else
            (void)snprintf(msg, sizeof(msg), "%s", err->msg[0] ? err->msg : strerror(-r));
        fail_job(svc, c, msg);
    } else {
        j->status = JOB_STATUS_COMPLETED;
        record_final(svc, c);
    }
}

/* Nothing to run after all (a store that failed us, a job cancelled while
 * queued or gone): says why, puts it back when the store failed, acks. */
static void skip_job(struct exec_service *svc, struct run_ctx *c, int r, const char *why)
{
    if (r == -ESHUTDOWN) {
        /* queued in the store and not acknowledged: recovery pushes it */
        log_debug("event=job_skipped id=%s reason=stopping", c->id);
        return;
    }
    if (r == -EALREADY || r == -ENOENT) {
        /* cancelled while queued (counted by whoever cancelled it), or gone */
        log_debug("event=job_skipped id=%s reason=%s", c->id,
                  r == -EALREADY ? "not_queued" : "not_found");
    } else {
        /* The store failed us, not the job: it is still queued there, so
         * it goes back into the queue after a pause (no attempt counted). */
        log_error("event=job_load_failed id=%s error=\"%s\"", c->id, why);
        uint64_t base = svc->deps.cfg->retry_base_ms;
        if (!push_again(svc, c, base ? base : WRITE_RETRY_MS))
            return;
    }
    queue_ack(svc->deps.queue, c->id);
}

/* Loads the job and starts marking it running, without waiting for that
 * commit (finish_start does, before the result is recorded): the run
 * overlaps the store's fsync. 0 with c->job loaded, 1 when there is
 * nothing to run (skipped already). */
static bool offer_take(struct exec_service *svc, const char *id, struct job *out);

/* The job from the store, when it was not offered. Its insert may not be
 * committed yet (the API queues a job as it hands it to the store): a
 * start, queued behind the insert, waits for it, and then the job can be
 * read. c->started says the start is done already. */
static int load_from_store(struct exec_service *svc, struct run_ctx *c, struct moat_err *err)
{
    uint64_t t0 = moat_now_ns();
    int r = store_get(svc->deps.store, c->id, STORE_GET_CODE, &c->job, err);
    observe(svc->m.read_get, seconds_since(t0));
    if (r != -ENOENT)
        return r;
    c->start_ms = now_unix_ms();
    r = durable_write(svc, WRITE_START, c, 0, NULL);
    if (r < 0)
        return r; /* -ENOENT: its insert failed; -EALREADY: cancelled */
    c->started = true;
    r = store_get(svc->deps.store, c->id, STORE_GET_CODE, &c->job, err);
    return r == 0 && c->job.status == JOB_STATUS_RUNNING ? 0 : -ENOENT;
}

/* c->job runs from now (started_ms set): its queue wait is known. */
static void mark_running(struct exec_service *svc, struct run_ctx *c)
{
    c->start_ns = moat_now_ns();
    int64_t wait = c->job.started_ms - c->job.created_ms;
    c->queue_ms = c->job.created_ms > 0 && wait > 0 ? (uint64_t)wait : 0;
    observe(svc->m.queue_wait, (double)c->queue_ms / 1000.0);
}

static int load_and_start(struct exec_service *svc, struct run_ctx *c)
{
    struct moat_err err = {0};
    int r = offer_take(svc, c->id, &c->job) ? 0 : load_from_store(svc, c, &err);
    if (r == 0 && c->started) {
        mark_running(svc, c);
        return 0;
    }
    /* cancelled while queued: counted as such; any other status (a stray
     * second queue entry) is simply not run again */
    if (r == 0 && c->job.status != JOB_STATUS_QUEUED)
        r = c->job.status == JOB_STATUS_CANCELLED ? -EALREADY : -ENOENT;
    int64_t now_ms = now_unix_ms(); /* the start's time, in the store and in c->job */
    c->start_ms = now_ms;
    if (r == 0) {
        c->write_start_ns = moat_now_ns();
        r = store_start_begin(svc->deps.store, c->id, now_ms, &c->ticket);
        if (r < 0)
            moat_err_set(&err, r, "%s", strerror(-r));
    }
    if (r < 0) {
        skip_job(svc, c, r, err.msg);
        return 1;
    }
    c->job.status = JOB_STATUS_RUNNING;
    c->job.attempts++; /* what the start makes it; finish_start confirms */
    c->job.started_ms = now_ms;
    mark_running(svc, c);
    return 0;
}

/* Waits for the start's commit: 0 when the job is durably running (its
 * result may be recorded), 1 when the run must be dropped (skipped). A
 * commit the store failed leaves the job queued there; the run's result is
 * in hand, so the start is tried again until it is durable. */
static int finish_start(struct exec_service *svc, struct run_ctx *c)
{
    if (c->started)
        return 0; /* started before it was read back */
    struct moat_err err = {0};
    uint32_t attempts = 0;
    int r = store_start_wait(c->ticket, &attempts, &err);
    c->ticket = NULL;
    observe(svc->m.write_start, seconds_since(c->write_start_ns));
    if (r == 0)
        c->job.attempts = attempts;
    else if (!write_settled(r))
        r = durable_write(svc, WRITE_START, c, r, err.msg);
    if (r < 0) {
        skip_job(svc, c, r, err.msg);
        return 1;
    }
    return 0;
}

/* Runs job id in box. Returns true when the box was used (a step may have
 * run in it: it must be freed), false when it is still fresh. */
static bool run_job(struct exec_slot *slot, struct sbx_box *box, const char *id, int priority)
{
    struct exec_service *svc = slot->svc;
    struct run_ctx c = {.slot = slot, .id = id, .priority = priority};
    c.start_ns = moat_now_ns();
    slot_set(slot, id);
    bool used = false;
    if (load_and_start(svc, &c) != 0)
        goto out;

    const struct lang *lang = lang_find(svc->deps.langs, c.job.language);
    struct exec_file *files = calloc(c.job.nfiles ? c.job.nfiles : 1, sizeof(*files));
    if (!lang || !files) {
        free(files);
        if (finish_start(svc, &c) != 0)
            goto out;
        char msg[96];
        (void)snprintf(msg, sizeof(msg), lang ? "out of memory" : "language %s is not available",
                       c.job.language);
        if (lang)
            retry_or_fail(svc, &c, msg);
        else
            fail_job(svc, &c, msg);
        goto out;
    }
    for (size_t i = 0; i < c.job.nfiles; i++)
        files[i] = (struct exec_file){
            .name = c.job.files[i].name, .data = c.job.files[i].data, .len = c.job.files[i].len};
    struct exec_request req = {
        .lang = lang,
        .files = files,
        .nfiles = c.job.nfiles,
        .stdin_data = c.job.stdin_data,
        .stdin_len = c.job.stdin_len,
        .args = (const char *const *)c.job.args,
        .nargs = c.job.nargs,
        .limits = c.job.limits,
    };
    struct exec_outcome o = {0};
    struct moat_err err = {0};
    int r = 0;
    if (slot_begin_run(slot, box)) {
        used = true;
        r = exec_program_cached(box, svc->deps.cfg, svc->deps.cache, &req, &o, &err);
    } else {
        o.run.verdict = JOB_VERDICT_CANCELLED; /* cancelled before it started */
    }
    slot_clear(slot); /* before the caller frees the box */
    free(files);
    if (finish_start(svc, &c) == 0)
        settle(svc, &c, r, &o, &err);
    exec_outcome_release(&o);
out:
    slot_clear(slot);
    job_release(&c.job);
    return used;
}

/* ---- the executor thread ---- */

static void *executor(void *arg)
{
    struct exec_slot *slot = arg;
    struct exec_service *svc = slot->svc;
    struct sbx_box *box = NULL;
    bool pool_failing = false;
    while (!stopping(svc)) {
        if (!box) {
            struct moat_err err = {0};
            int r = sbx_pool_take(svc->deps.pool, POLL_MS, &box, &err);
            if (r == -ETIMEDOUT)
                continue;
            if (r < 0) {
                /* the pool is broken (its spawner died): say it once, do
                 * not spin */
                if (!pool_failing)
                    log_error("event=pool_take_failed error=\"%s\"", err.msg);
                pool_failing = true;
                box = NULL;
                (void)wait_stop(svc, POLL_MS);
                continue;
            }
            pool_failing = false;
        }
        char id[MOAT_UUID_LEN + 1];
        int priority = 0;
        int r = queue_take(svc->deps.queue, POLL_MS, id, &priority);
        if (r == -ESHUTDOWN)
            break;
        if (r < 0) {
            if (r != -ETIMEDOUT)
                (void)wait_stop(svc, POLL_MS);
            continue;
        }
        atomic_fetch_add(&svc->busy, 1);
        gauge_add(svc->m.busy, 1);
        gauge_add(svc->m.engine_active, 1);
        bool used = run_job(slot, box, id, priority);
        gauge_add(svc->m.busy, -1);
        gauge_add(svc->m.engine_active, -1);
        atomic_fetch_sub(&svc->busy, 1);
        if (used) {
            sbx_box_free(box);
            box = NULL;
        }
    }
    sbx_box_free(box);
    return NULL;
}

/* ---- the service ---- */

int exec_service_start(const struct exec_service_deps *deps, struct exec_service **out,
                       struct moat_err *err)
{
    const struct moat_config *cfg = deps->cfg;
    if (!cfg || !deps->langs || !deps->store || !deps->queue || !deps->pool)
        return moat_err_set(err, -EINVAL,
                            "executor service needs a config, languages, store, "
                            "queue and box pool");
    uint64_t n = config_workers(cfg);
    if (n > 4096)
        return moat_err_set(err, -EINVAL, "%llu workers are too many", (unsigned long long)n);
    struct exec_service *svc = calloc(1, sizeof(*svc) + (size_t)n * sizeof(svc->slots[0]));
    if (!svc)
        return moat_err_set(err, -ENOMEM, "out of memory");
    svc->deps = *deps;
    svc->nslots = (size_t)n;
    atomic_init(&svc->stopping, false);
    atomic_init(&svc->busy, 0);
    pthread_mutex_init(&svc->lock, NULL);
    /* wait_stop's deadlines are monotonic: a clock step must not stretch a
     * retry's pause */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&svc->stop_cond, &ca);
    pthread_condattr_destroy(&ca);
    metrics_init(deps->metrics, &svc->m);
    if (svc->m.workers)
        obs_gauge_set(svc->m.workers, (int64_t)n);
    size_t started = 0;
    int r = 0;
    for (; started < svc->nslots; started++) {
        struct exec_slot *s = &svc->slots[started];
        s->svc = svc;
        r = -pthread_create(&s->thread, NULL, executor, s);
        if (r < 0)
            break;
    }
    if (r < 0) {
        atomic_store(&svc->stopping, true);
        for (size_t i = 0; i < started; i++)
            (void)pthread_join(svc->slots[i].thread, NULL);
        if (svc->m.workers)
            obs_gauge_set(svc->m.workers, 0);
        pthread_cond_destroy(&svc->stop_cond);
        pthread_mutex_destroy(&svc->lock);
        free(svc);
        return moat_err_set(err, r, "cannot start executor threads: %s", strerror(-r));
    }
    *out = svc;
    return 0;
}

int exec_service_cancel(struct exec_service *svc, const char *id)
{
    if (!svc || !id || !id[0])
        return -ENOENT;
    int r = -ENOENT;
    pthread_mutex_lock(&svc->lock);
    for (size_t i = 0; i < svc->nslots; i++) {
        struct exec_slot *s = &svc->slots[i];
        if (strcmp(s->id, id) != 0)
            continue;
        s->cancel = true;
        if (s->running && s->box)
            sbx_box_cancel(s->box); /* the slot is cleared before the box is freed */
        r = 0;
        break;
    }
    pthread_mutex_unlock(&svc->lock);
    return r;
}

void exec_service_stats(struct exec_service *svc, struct exec_service_stats *st)
{
    *st = (struct exec_service_stats){0};
    if (!svc)
        return;
    st->workers = svc->nslots;
    st->busy = atomic_load(&svc->busy);
}

void exec_service_offer(struct exec_service *svc, struct job *job)
{
    pthread_mutex_lock(&svc->lock);
    struct job *slot = &svc->offers[svc->next_offer];
    svc->next_offer = (svc->next_offer + 1) % OFFERS_MAX;
    struct job old = *slot;
    *slot = *job;
    *job = (struct job){0};
    pthread_mutex_unlock(&svc->lock);
    job_release(&old);
}

/* The offered copy of job id, moved into *out: true when there was one. */
static bool offer_take(struct exec_service *svc, const char *id, struct job *out)
{
    bool found = false;
    pthread_mutex_lock(&svc->lock);
    for (size_t i = 0; i < OFFERS_MAX && !found; i++) {
        if (svc->offers[i].id[0] && strcmp(svc->offers[i].id, id) == 0) {
            *out = svc->offers[i];
            svc->offers[i] = (struct job){0};
            found = true;
        }
    }
    pthread_mutex_unlock(&svc->lock);
    return found;
}

void exec_service_stop(struct exec_service *svc)
{
    if (!svc)
        return;
    /* wakes the executors that wait to retry a write: they give it up
     * (the job is left for recovery) */
    pthread_mutex_lock(&svc->lock);
    atomic_store(&svc->stopping, true);
    pthread_cond_broadcast(&svc->stop_cond);
    pthread_mutex_unlock(&svc->lock);
    for (size_t i = 0; i < svc->nslots; i++)
        (void)pthread_join(svc->slots[i].thread, NULL);
    for (size_t i = 0; i < OFFERS_MAX; i++)
        job_release(&svc->offers[i]);
    if (svc->m.workers)
        obs_gauge_set(svc->m.workers, 0);
    pthread_cond_destroy(&svc->stop_cond);
    pthread_mutex_destroy(&svc->lock);
    free(svc);
}
