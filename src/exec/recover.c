/*
 * What a previous run left, and what a cluster's queue may lose.
 *
 * With the in-process queue, nothing survives the process but the store:
 * at start every queued job is pushed again, and every running one (its
 * run was interrupted) is put back to queued and pushed, unless it has had
 * all its attempts (a job that keeps killing moat must not do it forever):
 * then it is failed.
 *
 * With a queue of other nodes (NATS), the stream survives this node; what
 * it may lack is a job whose publish was lost after its insert committed
 * (the broker went away in between). The keeper thread of each node
 * reconciles every cluster.reconcile_s: the queued jobs older than that
 * which the stream does not hold are published again (the job id is the
 * message id, so two nodes doing it at once queue one message), and so are
 * running jobs whose entry is gone and that have not been heard of for two
 * ack deadlines. The same thread sends the heartbeat of the jobs this
 * node runs (queue_touch, three times per ack deadline), and reads the
 * watched jobs again when the events' connection came back after a gap.
 */
#include "exec-internal.h"

#include <time.h>

/* How often the keeper wakes at most: the heartbeat and the resync of
 * watches need no finer grain. */
#define KEEPER_TICK_MS 250
/* Jobs checked against the queue per reconciliation, oldest first. */
#define RECONCILE_MAX 4096

/* ---- the in-process queue: at start ---- */

/* A job that was running when moat stopped: it runs again, or is failed
 * when it has had all its attempts. */
static int recover_running(struct exec *ex, const struct store_pending *p, bool *queue_it)
{
    struct moat_err err = {0};
    *queue_it = p->attempts < ex->deps.cfg->retry_attempts;
    if (*queue_it)
        return store_requeue(ex->deps.store, p->id, p->attempts, &err);
    struct job j = {0};
    moat_strlcpy(j.id, p->id, sizeof(j.id));
    j.status = JOB_STATUS_FAILED;
    j.attempts = p->attempts;
    j.finished_ms = exec_now_unix_ms();
    j.run.verdict = JOB_VERDICT_INTERNAL_ERROR;
    moat_strlcpy(j.run.message, "moat stopped during each of its attempts", sizeof(j.run.message));
    int r = store_finish(ex->deps.store, &j, &err);
    if (r == 0) {
        exec_count_final(ex, j.status, j.run.verdict);
        exec_announce_final(ex, j.id, &j);
    }
    return r;
}

static int recover_local(struct exec *ex, const struct store_pending *pend, size_t n)
{
    size_t requeued = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        bool queue_it = true;
        if (pend[i].status == JOB_STATUS_RUNNING) {
            int r = recover_running(ex, &pend[i], &queue_it);
            if (r < 0 && r != -EALREADY) {
                log_error("event=recovery_failed id=%s errno=%d", pend[i].id, -r);
                continue;
            }
            requeued += queue_it;
            failed += !queue_it;
        }
        if (queue_it && queue_push(ex->deps.queue, pend[i].id, pend[i].priority, false) < 0)
            log_error("event=recovery_failed id=%s msg=\"cannot queue\"", pend[i].id);
    }
    if (n)
        log_info("event=recovered pending=%zu interrupted=%zu failed=%zu", n, requeued, failed);
    return 0;
}

/* ---- a queue of other nodes: reconciling ---- */

/* Whether p may have lost its queue entry by now (older entries only: a
 * fresh one may be on its way). */
static bool reconcilable(const struct exec *ex, const struct store_pending *p, int64_t now_ms)
{
    const struct moat_config *cfg = ex->deps.cfg;
    if (p->status == JOB_STATUS_QUEUED)
        return now_ms - p->created_ms >= (int64_t)(cfg->reconcile_s * 1000);
    /* running: its taker touches its entry within each ack deadline; a
     * redelivery or a takeover is under way for two of them */
    return now_ms - p->started_ms >= (int64_t)(2 * cfg->ack_wait_s * 1000);
}

static int reconcile(struct exec *ex)
{
    struct store_pending *pend = NULL;
    size_t n = 0;
    struct moat_err err = {0};
    int r = store_list_pending(ex->deps.store, &pend, &n, &err);
    if (r < 0)
        return r;
    int64_t now = exec_now_unix_ms();
    const char **ids = calloc(RECONCILE_MAX, sizeof(*ids));
    size_t *of = calloc(RECONCILE_MAX, sizeof(*of)); /* index in pend */
    bool *held = calloc(RECONCILE_MAX, sizeof(*held));
    size_t k = 0;
    for (size_t i = 0; ids && of && held && i < n && k < RECONCILE_MAX; i++) {
        if (!reconcilable(ex, &pend[i], now))
            continue;
        ids[k] = pend[i].id;
        of[k++] = i;
    }
    size_t republished = 0;
    if (k && ids && of && held) {
        r = queue_holds(ex->deps.queue, ids, k, held);
        for (size_t i = 0; r == 0 && i < k; i++) {
            if (held[i])
                continue;
            const struct store_pending *p = &pend[of[i]];
            int pr = queue_push(ex->deps.queue, p->id, p->priority, false);
            if (pr < 0) {
                r = pr;
                break;
            }
            republished++;
            exec_count(ex->m.republished);
            log_warn("event=job_republished id=%s status=%s attempts=%u", p->id,
                     job_status_name(p->status), p->attempts);
        }
    }
    if (!ids || !of || !held)
        r = -ENOMEM;
    free(ids);
    free(of);
    free(held);
    free(pend);
    if (republished)
        log_info("event=reconciled republished=%zu", republished);
    return r;
}

int exec_recover(struct exec *ex, struct moat_err *err)
{
    if (!queue_in_process(ex->deps.queue)) {
        int r = reconcile(ex);
        if (r < 0)
            log_warn("event=reconcile_failed error=\"%s\"", strerror(-r));
        return 0; /* the keeper tries again */
    }
    struct store_pending *pend = NULL;
    size_t n = 0;
    int r = store_list_pending(ex->deps.store, &pend, &n, err);
    if (r < 0) {
        log_error("event=recovery_failed msg=\"%s\"", err ? err->msg : "");
        return r;
    }
    r = recover_local(ex, pend, n);
    free(pend);
    return r;
}

/* ---- the keeper thread ---- */

/* The entries of the jobs this node runs: their ack deadlines start again. */
static void heartbeat(struct exec *ex)
{
    pthread_mutex_lock(&ex->slot_lock);
    for (size_t i = 0; i < ex->nslots; i++) {
        struct exec_slot *s = &ex->slots[i];
        /* under the lock: the executor detaches its entry before it ends */
        if (s->entry) {
            int r = queue_touch(ex->deps.queue, s->entry);
            if (r < 0)
                log_warn("event=heartbeat_failed id=%s error=\"%s\"", s->id, strerror(-r));
        }
    }
    pthread_mutex_unlock(&ex->slot_lock);
}

static void *keeper_main(void *arg)
{
    struct exec *ex = arg;
    const struct moat_config *cfg = ex->deps.cfg;
    uint64_t beat_ms = cfg->ack_wait_s * 1000 / 3;
    uint64_t next_beat = moat_now_ns() / 1000000 + beat_ms;
    uint64_t next_reconcile = moat_now_ns() / 1000000 + cfg->reconcile_s * 1000;
    while (!exec_wait_stop(ex, KEEPER_TICK_MS)) {
        uint64_t now = moat_now_ns() / 1000000;
        if (atomic_exchange(&ex->resync_wanted, false))
            exec_resync_watches(ex);
        if (now >= next_beat) {
            heartbeat(ex);
            next_beat = now + beat_ms;
        }
        if (now >= next_reconcile) {
            int r = reconcile(ex);
            if (r < 0)
                log_warn("event=reconcile_failed error=\"%s\"", strerror(-r));
            next_reconcile = now + cfg->reconcile_s * 1000;
        }
    }
    return NULL;
}

int exec_keeper_start(struct exec *ex)
{
    if (queue_in_process(ex->deps.queue))
        return 0; /* nothing to keep: one process holds every entry */
    int r = -pthread_create(&ex->keeper, NULL, keeper_main, ex);
    if (r == 0)
        ex->keeper_started = true;
    return r;
}

void exec_keeper_join(struct exec *ex)
{
    if (ex->keeper_started)
        (void)pthread_join(ex->keeper, NULL);
    ex->keeper_started = false;
}
