/*
 * exec: the life of jobs on one node. This file starts and stops the
 * parts (executors, watches, the keeper of a NATS queue), answers reads and
 * readiness, and holds the helpers the parts share.
 */
#include "exec-internal.h"

#include <time.h>
#include <unistd.h>

#include "moat/lang.h"
#include "moat/sandbox.h"

/* Backoff ceiling, so that retry_factor^n cannot overflow into nonsense. */
#define MAX_BACKOFF_MS (3600ull * 1000)

/* ---- helpers ---- */

void exec_observe(struct obs_histogram *h, double seconds)
{
    if (h)
        obs_histogram_observe(h, seconds);
}

void exec_count(struct obs_counter *c)
{
    if (c)
        obs_counter_add(c, 1);
}

double exec_seconds_since(uint64_t start_ns)
{
    return (double)(moat_now_ns() - start_ns) / 1e9;
}

bool exec_stopping(const struct exec *ex)
{
    return atomic_load(&ex->stopping);
}

bool exec_wait_stop(struct exec *ex, uint64_t ms)
{
    struct timespec until;
    (void)clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&ex->slot_lock);
    while (!exec_stopping(ex) &&
           pthread_cond_timedwait(&ex->stop_cond, &ex->slot_lock, &until) == 0)
        ;
    bool stop = exec_stopping(ex);
    pthread_mutex_unlock(&ex->slot_lock);
    return stop;
}

int64_t exec_now_unix_ms(void)
{
    return (int64_t)moat_realtime_ms();
}

uint64_t exec_backoff_ms(const struct moat_config *cfg, uint32_t attempts)
{
    uint64_t d = cfg->retry_base_ms;
    for (uint32_t i = 1; i < attempts && d < MAX_BACKOFF_MS; i++) {
        if (__builtin_mul_overflow(d, cfg->retry_factor, &d))
            d = MAX_BACKOFF_MS;
    }
    return d < MAX_BACKOFF_MS ? d : MAX_BACKOFF_MS;
}

void exec_logfmt_quote(const char *s, char *out, size_t outsz)
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

void exec_count_final(struct exec *ex, enum job_status status, enum job_verdict v)
{
    struct obs_registry *reg = ex->deps.metrics;
    if (!reg)
        return;
    const char *vn = job_verdict_name(v);
    char labels[96];
    (void)snprintf(labels, sizeof(labels), "status=\"%s\",verdict=\"%s\"", job_status_name(status),
                   vn ? vn : "none");
    obs_counter_add(obs_counter(reg, "moat_jobs_total", "jobs that reached a final status", labels),
                    1);
}

/* ---- metrics ---- */

static void metrics_init(struct obs_registry *reg, struct exec_metrics *m)
{
    *m = (struct exec_metrics){0};
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
    m->insert = obs_histogram(reg, "moat_store_write_seconds", write_help, "op=\"insert\"");
    m->read_get =
        obs_histogram(reg, "moat_store_read_seconds", "duration of store reads", "op=\"get\"");
    m->publish = obs_histogram(reg, "moat_queue_publish_seconds",
                               "time for the queue to hold a submitted job", NULL);
    m->retries =
        obs_counter(reg, "moat_retries_total", "runs retried after an internal error", NULL);
    m->write_retries = obs_counter(reg, "moat_store_write_retries_total",
                                   "durable writes tried again after the store failed them", NULL);
    m->stale = obs_counter(reg, "moat_stale_results_total",
                           "results refused because a later attempt had taken the job", NULL);
    m->takeovers = obs_counter(reg, "moat_takeovers_total",
                               "jobs taken over from a worker that died or stalled", NULL);
    m->republished = obs_counter(reg, "moat_republished_total",
                                 "queued jobs published again by the reconciler", NULL);
    m->job_copies = obs_counter(reg, "moat_job_copies_total",
                                "jobs run from the copy their queue message carried, not read "
                                "from the store",
                                NULL);
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

/* ---- start, stop ---- */

static void free_exec(struct exec *ex)
{
    pthread_cond_destroy(&ex->stop_cond);
    pthread_mutex_destroy(&ex->slot_lock);
    free(ex->slots);
    free(ex);
}

int exec_start(const struct exec_deps *deps, struct exec **out, struct moat_err *err)
{
    const struct moat_config *cfg = deps->cfg;
    if (!cfg || !deps->langs || !deps->store || !deps->queue)
        return moat_err_set(err, -EINVAL, "exec needs a config, languages, a store and a queue");
    uint64_t n = deps->pool ? config_workers(cfg) : 0;
    if (n > 4096)
        return moat_err_set(err, -EINVAL, "%llu workers are too many", (unsigned long long)n);
    struct exec *ex = calloc(1, sizeof(*ex));
    struct exec_slot *slots = calloc(n ? n : 1, sizeof(*slots));
    if (!ex || !slots) {
        free(ex);
        free(slots);
        return moat_err_set(err, -ENOMEM, "out of memory");
    }
    ex->deps = *deps;
    ex->slots = slots;
    ex->nslots = (size_t)n;
    if (cfg->node[0])
        moat_strlcpy(ex->node, cfg->node, sizeof(ex->node));
    else if (gethostname(ex->node, sizeof(ex->node)) < 0 || !ex->node[0])
        moat_strlcpy(ex->node, "moat", sizeof(ex->node));
    ex->node[sizeof(ex->node) - 1] = '\0';
    atomic_init(&ex->stopping, false);
    atomic_init(&ex->draining, false);
    atomic_init(&ex->busy, 0);
    pthread_mutex_init(&ex->slot_lock, NULL);
    /* exec_wait_stop's deadlines are monotonic: a clock step must not
     * stretch a retry's pause */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ex->stop_cond, &ca);
    pthread_condattr_destroy(&ca);
    metrics_init(deps->metrics, &ex->m);

    int r = exec_watches_start(ex);
    if (r < 0) {
        free_exec(ex);
        return moat_err_set(err, r, "cannot start the watches: %s", strerror(-r));
    }
    r = queue_listen(deps->queue, exec_on_queue_event, ex);
    if (r == 0)
        r = exec_executors_start(ex);
    if (r == 0)
        r = exec_keeper_start(ex);
    if (r < 0) {
        exec_stop(ex);
        return moat_err_set(err, r, "cannot start the job service: %s", strerror(-r));
    }
    if (ex->m.workers)
        obs_gauge_set(ex->m.workers, (int64_t)n);
    *out = ex;
    return 0;
}

size_t exec_drain(struct exec *ex, uint64_t grace_ms)
{
    if (!ex)
        return 0;
    atomic_store(&ex->draining, true);
    queue_shutdown(ex->deps.queue);
    /* a store that cannot take results (a full disk) would only make the
     * jobs wait for it: they are left for recovery at once */
    uint64_t until = moat_now_ns() + grace_ms * 1000000ull;
    while (atomic_load(&ex->busy) > 0 && moat_now_ns() < until && store_ready(ex->deps.store))
        (void)exec_wait_stop(ex, EXEC_DRAIN_POLL_MS);
    size_t n = atomic_load(&ex->busy) > 0 ? exec_preempt_all(ex) : 0;
    if (n)
        log_warn("event=jobs_stopped count=%zu msg=\"still running after the stop's grace of "
                 "%llu ms: left for recovery\"",
                 n, (unsigned long long)grace_ms);
    return n;
}

void exec_stop(struct exec *ex)
{
    if (!ex)
        return;
    /* wakes the executors that wait to retry a write: they give it up
     * (the job is left for recovery) */
    pthread_mutex_lock(&ex->slot_lock);
    atomic_store(&ex->stopping, true);
    pthread_cond_broadcast(&ex->stop_cond);
    pthread_mutex_unlock(&ex->slot_lock);
    exec_executors_join(ex);
    exec_keeper_join(ex);
    exec_watches_stop(ex);
    if (ex->m.workers)
        obs_gauge_set(ex->m.workers, 0);
    free_exec(ex);
}

/* ---- reads, readiness ---- */

_Static_assert((int)EXEC_GET_CODE == (int)STORE_GET_CODE &&
                   (int)EXEC_GET_OUTPUT == (int)STORE_GET_OUTPUT,
               "exec_get passes its flags to store_get");

int exec_get(struct exec *ex, const char *id, unsigned what, struct job *out, struct moat_err *err)
{
    uint64_t t0 = moat_now_ns();
    int r = store_get(ex->deps.store, id, what, out, err);
    exec_observe(ex->m.read_get, exec_seconds_since(t0));
    return r;
}

int exec_list(struct exec *ex, uint64_t offset, size_t limit, char (*ids)[MOAT_UUID_LEN + 1],
              size_t *n, uint64_t *total, struct moat_err *err)
{
    return store_list(ex->deps.store, offset, limit, ids, n, total, err);
}

int exec_get_output(struct exec *ex, const char *id, char **data, size_t *len, struct moat_err *err)
{
    return store_get_output(ex->deps.store, id, data, len, err);
}

bool exec_ready(struct exec *ex, const char **why)
{
    const char *w = NULL;
    if (atomic_load(&ex->draining)) {
        w = "the service is stopping";
    } else if (!store_ready(ex->deps.store)) {
        w = "the store does not answer or cannot take writes";
    } else if (!queue_ready(ex->deps.queue)) {
        w = "the queue's broker is not connected";
    } else if (ex->deps.pool) {
        struct sbx_pool_stats ps = {0};
        sbx_pool_stats(ex->deps.pool, &ps);
        if (ps.warm == 0 && ps.busy == 0)
            w = "no sandbox is warm yet";
    }
    if (why)
        *why = w;
    return w == NULL;
}

const char *exec_node(const struct exec *ex)
{
    return ex ? ex->node : "";
}

void exec_stats(struct exec *ex, struct exec_stats *st)
{
    *st = (struct exec_stats){0};
    if (!ex)
        return;
    st->workers = ex->nslots;
    st->busy = atomic_load(&ex->busy);
}
