/*
 * What a run ends in, written durably, and only then the queue entry
 * ended (at-least-once: a crash in between leaves the job running or
 * queued in the store, and it runs again):
 *   - completed: store_finish (the result), ack, announce;
 *   - internal error with attempts left: store_requeue, the entry sent back
 *     after an exponential backoff;
 *   - failed: an internal error after the last attempt, or a request that
 *     can never run (unknown language, bad file name): store_finish as
 *     failed, ack, announce;
 *   - cancelled: store_cancel (normally done already by whoever
 *     cancelled), ack, announce.
 * A result fenced off (-ESTALE: a later attempt took the job over while
 * this one was presumed dead) is dropped and its entry left to its new
 * taker, never acknowledged from here.
 *
 * Durable writes that fail: every write of a job's path (start, finish,
 * requeue, cancel) that the store fails rather than answers (a full disk,
 * an I/O error, a lock held too long, a database away) is tried again with
 * backoff until it is durable. The executor holds the job and its result
 * meanwhile and takes no other job: at most one unwritten result per
 * executor, so memory is bounded by the workers' count, and a store that
 * cannot write holds the executors back instead of piling results up.
 * Only the store's answers end a write (done; -EALREADY: cancelled
 * meanwhile, the result dropped; -ESTALE: fenced off; -ENOENT: gone) and
 * the failures no retry mends (-EINVAL, -E2BIG: the result cannot be
 * stored; the job is retried, then failed without its outputs). When the
 * service stops, a write still failing is given up: the store keeps the
 * job as it was, the entry is released for redelivery, and recovery (or
 * another worker) runs it again.
 */
#include "exec-internal.h"

static const char *const write_op_names[] = {
    [EXEC_WRITE_START] = "start",
    [EXEC_WRITE_FINISH] = "finish",
    [EXEC_WRITE_REQUEUE] = "requeue",
    [EXEC_WRITE_CANCEL] = "cancel",
};

/* ---- the queue entry, ended once ---- */

/* The heartbeat touches the slot's entry under the slot lock: the entry
 * leaves the slot before it ends. */
static void detach(struct exec *ex, struct exec_run *c)
{
    pthread_mutex_lock(&ex->slot_lock);
    if (c->slot->entry == &c->entry)
        c->slot->entry = NULL;
    pthread_mutex_unlock(&ex->slot_lock);
}

static void entry_ack(struct exec *ex, struct exec_run *c)
{
    detach(ex, c);
    queue_ack(ex->deps.queue, &c->entry);
}

static void entry_retry(struct exec *ex, struct exec_run *c, uint64_t delay_ms)
{
    detach(ex, c);
    int r = queue_retry(ex->deps.queue, &c->entry, delay_ms);
    if (r < 0) /* it comes back at the ack deadline instead */
        log_warn("event=queue_retry_failed id=%s error=\"%s\"", c->id, strerror(-r));
}

static void entry_release(struct exec *ex, struct exec_run *c, bool redeliver)
{
    detach(ex, c);
    queue_release(ex->deps.queue, &c->entry, redeliver);
}

/* ---- durable writes ---- */

/* One try of op for c's job: what the store says. A start sets
 * c->job.attempts; a cancel that ends the job counts it. */
static int write_once(struct exec *ex, enum exec_write_op op, struct exec_run *c,
                      struct moat_err *err)
{
    struct store *st = ex->deps.store;
    uint64_t t0 = moat_now_ns();
    int r = -EINVAL;
    switch (op) {
    case EXEC_WRITE_START: {
        uint32_t attempts = 0;
        r = store_start(st, c->id, c->start_ms, c->takeover, &attempts, err);
        exec_observe(ex->m.write_start, exec_seconds_since(t0));
        if (r == 0)
            c->job.attempts = attempts;
        break;
    }
    case EXEC_WRITE_FINISH:
        r = store_finish(st, &c->job, err);
        exec_observe(ex->m.write_finish, exec_seconds_since(t0));
        break;
    case EXEC_WRITE_REQUEUE:
        r = store_requeue(st, c->id, c->job.attempts, err);
        exec_observe(ex->m.write_requeue, exec_seconds_since(t0));
        break;
    case EXEC_WRITE_CANCEL: {
        enum job_status was;
        r = store_cancel(st, c->id, exec_now_unix_ms(), &was, err);
        if (r == 0) /* a job is counted by whoever makes it final in the store */
            exec_count_final(ex, JOB_STATUS_CANCELLED, JOB_VERDICT_CANCELLED);
        break;
    }
    }
    return r;
}

/* Whether r ends a write: done, the store's answer that the job is not in
 * the state the write needs (-EALREADY: cancelled or finished meanwhile;
 * -ESTALE: a later attempt has it; -ENOENT: gone), a refusal no retry
 * changes (-EINVAL, -E2BIG), or a store that is closing (-ESHUTDOWN:
 * handled as the service stopping). */
bool exec_write_settled(int r)
{
    return r >= 0 || r == -EALREADY || r == -ESTALE || r == -ENOENT || r == -EINVAL ||
           r == -E2BIG || r == -ESHUTDOWN;
}

int exec_durable_write(struct exec *ex, enum exec_write_op op, struct exec_run *c, int first,
                       const char *first_msg)
{
    struct moat_err err = {0};
    int r = first;
    if (r < 0)
        moat_strlcpy(err.msg, first_msg ? first_msg : "", sizeof(err.msg));
    else
        r = write_once(ex, op, c, &err);
    uint64_t delay = EXEC_WRITE_RETRY_MS;
    for (unsigned tries = 1; !exec_write_settled(r); tries++) {
        /* tries 1, 2, 4, 8, ...: a write stuck on a full disk says so
         * without a line per try */
        if ((tries & (tries - 1)) == 0) {
            char q[300];
            exec_logfmt_quote(err.msg[0] ? err.msg : strerror(-r), q, sizeof(q));
            log_warn("event=store_write_failed op=%s id=%s tries=%u retry_ms=%llu error=%s",
                     write_op_names[op], c->id, tries, (unsigned long long)delay, q);
        }
        exec_count(ex->m.write_retries);
        if (exec_wait_stop(ex, delay))
            return -ESHUTDOWN;
        delay = delay * 2 < EXEC_WRITE_RETRY_MAX_MS ? delay * 2 : EXEC_WRITE_RETRY_MAX_MS;
        err = (struct moat_err){0};
        r = write_once(ex, op, c, &err);
        if (exec_write_settled(r))
            log_info("event=store_write_recovered op=%s id=%s tries=%u", write_op_names[op], c->id,
                     tries + 1);
    }
    return r;
}

/* A write given up because the service stops: the store keeps the job
 * (running, or queued), and its entry goes back for another taker (or for
 * recovery at the next start). */
static void left_for_recovery(struct exec *ex, struct exec_run *c, enum exec_write_op op)
{
    log_warn("event=job_left_for_recovery id=%s op=%s reason=\"the store failed the write until "
             "the service stopped\"",
             c->id, write_op_names[op]);
    entry_release(ex, c, true);
}

/* A later attempt has the job: this run's outcome is dropped, and the entry
 * is its new taker's. */
static void fenced_off(struct exec *ex, struct exec_run *c, enum exec_write_op op)
{
    exec_count(ex->m.stale);
    log_warn("event=job_result_stale id=%s op=%s attempts=%u msg=\"a later attempt has taken the "
             "job over\"",
             c->id, write_op_names[op], c->job.attempts);
    entry_release(ex, c, false);
}

static void log_finished(const struct exec_run *c, const char *extra)
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

/* The store refused the result for good (too large, rejected): moat's own
 * failure, so the job is tried again, or failed without its outputs. */
static void result_unstorable(struct exec *ex, struct exec_run *c, int r)
{
    struct job *j = &c->job;
    if (c->unstorable) {
        /* even the bare failure was refused: nothing left to try */
        log_error("event=job_result_lost id=%s error=\"%s\"", c->id, strerror(-r));
        entry_ack(ex, c);
        return;
    }
    c->unstorable = true;
    char msg[160];
    (void)snprintf(msg, sizeof(msg), "the result could not be stored: %s", strerror(-r));
    job_step_release(&j->compile);
    j->compiled = false;
    exec_retry_or_fail(ex, c, msg);
}

void exec_record_final(struct exec *ex, struct exec_run *c)
{
    struct job *j = &c->job;
    j->finished_ms = exec_now_unix_ms();
    moat_sha256_hex(j->run.out, j->run.out_len, j->output_hash);
    int r = exec_durable_write(ex, EXEC_WRITE_FINISH, c, 0, NULL);
    if (r == -ESHUTDOWN) {
        left_for_recovery(ex, c, EXEC_WRITE_FINISH);
        return;
    }
    if (r == -ESTALE) {
        fenced_off(ex, c, EXEC_WRITE_FINISH);
        return;
    }
    if (r == -EALREADY || r == -ENOENT) {
        /* cancelled (or deleted) while it ran: the store's word stands */
        entry_ack(ex, c);
        log_info("event=job_result_dropped id=%s reason=%s", c->id,
                 r == -EALREADY ? "cancelled" : "gone");
        return;
    }
    if (r < 0) {
        result_unstorable(ex, c, r);
        return;
    }
    entry_ack(ex, c);
    exec_count_final(ex, j->status, j->run.verdict);
    if (j->run.verdict == JOB_VERDICT_TIME_LIMIT) {
        exec_count(ex->m.timeouts);
        exec_count(ex->m.engine_timeouts);
    } else if (j->run.verdict == JOB_VERDICT_MEMORY_LIMIT) {
        exec_count(ex->m.ooms);
        exec_count(ex->m.engine_ooms);
    }
    char extra[320] = "";
    if (j->status == JOB_STATUS_FAILED) {
        char q[300];
        exec_logfmt_quote(j->run.message, q, sizeof(q));
        (void)snprintf(extra, sizeof(extra), " error=%s", q);
    }
    log_finished(c, extra);
    exec_announce_final(ex, c->id, j);
}

void exec_fail_job(struct exec *ex, struct exec_run *c, const char *msg)
{
    struct job *j = &c->job;
    job_step_release(&j->run);
    j->run.verdict = JOB_VERDICT_INTERNAL_ERROR;
    moat_strlcpy(j->run.message, msg, sizeof(j->run.message));
    j->status = JOB_STATUS_FAILED;
    exec_record_final(ex, c);
}

void exec_retry_or_fail(struct exec *ex, struct exec_run *c, const char *msg)
{
    const struct moat_config *cfg = ex->deps.cfg;
    struct job *j = &c->job;
    if (j->attempts >= cfg->retry_attempts) {
        exec_fail_job(ex, c, msg);
        return;
    }
    uint64_t delay = exec_backoff_ms(cfg, j->attempts);
    char q[300];
    exec_logfmt_quote(msg, q, sizeof(q));
    log_warn("event=job_retry id=%s language=%s attempts=%u delay_ms=%llu error=%s", c->id,
             j->language, j->attempts, (unsigned long long)delay, q);
    int r = exec_durable_write(ex, EXEC_WRITE_REQUEUE, c, 0, NULL);
    if (r == -ESHUTDOWN) {
        left_for_recovery(ex, c, EXEC_WRITE_REQUEUE);
        return;
    }
    if (r == -ESTALE) {
        fenced_off(ex, c, EXEC_WRITE_REQUEUE);
        return;
    }
    if (r == 0) {
        exec_count(ex->m.retries);
        /* the delay counts from now: the requeue may have waited for the
         * disk */
        entry_retry(ex, c, delay);
        return;
    }
    if (r != -EALREADY && r != -ENOENT)
        log_error("event=job_requeue_failed id=%s error=\"%s\"", c->id, strerror(-r));
    entry_ack(ex, c);
}

void exec_record_cancelled(struct exec *ex, struct exec_run *c)
{
    /* Whoever cancelled normally did store_cancel first (the write then
     * answers -EALREADY); this makes the status right also when only
     * the program was killed here. */
    int r = exec_durable_write(ex, EXEC_WRITE_CANCEL, c, 0, NULL);
    if (r == -ESHUTDOWN) {
        left_for_recovery(ex, c, EXEC_WRITE_CANCEL);
        return;
    }
    if (r < 0 && r != -EALREADY && r != -ENOENT)
        log_error("event=job_cancel_failed id=%s error=\"%s\"", c->id, strerror(-r));
    entry_ack(ex, c);
    c->job.status = JOB_STATUS_CANCELLED;
    c->job.run.verdict = JOB_VERDICT_CANCELLED;
    log_finished(c, "");
    if (r == 0) /* made final here: told; else whoever cancelled told */
        exec_announce_final(ex, c->id, NULL);
}

void exec_skip_job(struct exec *ex, struct exec_run *c, int r, const char *why)
{
    if (r == -ESHUTDOWN) {
        /* as it was in the store, and back for another taker */
        log_debug("event=job_skipped id=%s reason=stopping", c->id);
        entry_release(ex, c, true);
        return;
    }
    if (r == -ESTALE) {
        fenced_off(ex, c, EXEC_WRITE_START);
        return;
    }
    if (r == -EALREADY || r == -ENOENT) {
        /* cancelled while queued (counted by whoever cancelled it), final
         * already (a redelivery of a finished job), or gone */
        log_debug("event=job_skipped id=%s reason=%s", c->id,
                  r == -EALREADY ? "not_queued" : "not_found");
        entry_ack(ex, c);
        return;
    }
    /* The store failed us, not the job: it is as it was there, so the entry
     * comes back after a pause (no attempt counted). */
    log_error("event=job_load_failed id=%s error=\"%s\"", c->id, why);
    uint64_t base = ex->deps.cfg->retry_base_ms;
    entry_retry(ex, c, base ? base : EXEC_WRITE_RETRY_MS);
}
