/*
 * The executors: N threads, each holding one free box before it takes a
 * job, so that a job leaves the queue only when it can run at once (the
 * queue, not the executors, is where jobs wait), on this node or any other.
 *
 * A job's run here: queue_take; the job from its message's copy (a first
 * delivery of a small job: its submitter published it while the insert
 * committed) or store_get (which answers for an insert still in flight
 * here, and is tried again for a while when a first delivery came before
 * its insert committed elsewhere); store_start_begin (attempts + 1: this
 * run's fencing token; the run overlaps its commit, and a first delivery's
 * start waits in the store for the row, store_start_begin_awaiting);
 * exec_program_cached;
 * store_start_wait (a failed start drops the run); then the outcome
 * (outcome.c), and only then the queue entry is ended. A job whose entry
 * comes again while the store says it is running was lost by its taker
 * (died, or silent past the ack deadline): with a queue of other nodes, it
 * is taken over (its old attempt fenced off); in-process, such an entry is
 * a stray copy and is dropped.
 *
 * Boxes: a box in which no step ran (the job was cancelled or vanished
 * before it ran) is kept for the next job; once a step ran it is freed.
 *
 * Cancel: the slot of each executor names the job it holds and, while the
 * program runs, its box. exec_kill_local marks the slot and signals the box
 * under the slot lock; the executor clears the slot under the same lock
 * before it frees the box, so a cancel never reaches a freed box. A cancel
 * that comes before the program started is seen by the executor under the
 * lock and the program is not started at all (and the box, which got no
 * signal, stays usable).
 */
#include "exec-internal.h"

#include "moat/lang.h"
#include "moat/sandbox.h"

static void gauge_add(struct obs_gauge *g, int64_t d)
{
    if (g)
        obs_gauge_add(g, d);
}

/* ---- the slot table ---- */

/* Holds id and entry (both "" and NULL: idle); no box, no cancel. */
static void slot_set(struct exec_slot *s, const char *id, struct queue_entry *entry)
{
    pthread_mutex_lock(&s->ex->slot_lock);
    moat_strlcpy(s->id, id ? id : "", sizeof(s->id));
    memset(s->boxes, 0, sizeof(s->boxes));
    s->cancel = false;
    s->preempt = false;
    s->entry = entry;
    pthread_mutex_unlock(&s->ex->slot_lock);
}

bool exec_slot_add(struct exec_slot *s, struct sbx_box *box, size_t *where)
{
    pthread_mutex_lock(&s->ex->slot_lock);
    bool go = !s->cancel;
    for (size_t k = 0; go && k < EXEC_TESTS_PARALLEL_MAX; k++) {
        if (!s->boxes[k]) {
            s->boxes[k] = box;
            *where = k;
            break;
        }
    }
    pthread_mutex_unlock(&s->ex->slot_lock);
    return go;
}

void exec_slot_drop(struct exec_slot *s, size_t where)
{
    pthread_mutex_lock(&s->ex->slot_lock);
    s->boxes[where] = NULL;
    pthread_mutex_unlock(&s->ex->slot_lock);
}

bool exec_slot_cancelled(struct exec_slot *s)
{
    pthread_mutex_lock(&s->ex->slot_lock);
    bool v = s->cancel;
    pthread_mutex_unlock(&s->ex->slot_lock);
    return v;
}

bool exec_slot_preempted(struct exec_slot *s)
{
    pthread_mutex_lock(&s->ex->slot_lock);
    bool v = s->preempt;
    pthread_mutex_unlock(&s->ex->slot_lock);
    return v;
}

size_t exec_preempt_all(struct exec *ex)
{
    size_t n = 0;
    pthread_mutex_lock(&ex->slot_lock);
    for (size_t i = 0; i < ex->nslots; i++) {
        struct exec_slot *s = &ex->slots[i];
        if (!s->id[0])
            continue;
        s->cancel = true;
        s->preempt = true;
        for (size_t k = 0; k < EXEC_TESTS_PARALLEL_MAX; k++)
            if (s->boxes[k])
                sbx_box_cancel(s->boxes[k]);
        n++;
    }
    pthread_mutex_unlock(&ex->slot_lock);
    return n;
}

int exec_kill_local(struct exec *ex, const char *id)
{
    if (!id || !id[0])
        return -ENOENT;
    int r = -ENOENT;
    pthread_mutex_lock(&ex->slot_lock);
    for (size_t i = 0; i < ex->nslots; i++) {
        struct exec_slot *s = &ex->slots[i];
        if (strcmp(s->id, id) != 0)
            continue;
        s->cancel = true;
        for (size_t k = 0; k < EXEC_TESTS_PARALLEL_MAX; k++)
            if (s->boxes[k])
                sbx_box_cancel(s->boxes[k]); /* dropped from here before it is freed */
        r = 0;
        break;
    }
    pthread_mutex_unlock(&ex->slot_lock);
    return r;
}

/* ---- one job ---- */

/* c->job runs from now (started_ms set): its queue wait is known. */
static void mark_running(struct exec *ex, struct exec_run *c)
{
    int64_t wait = c->job.started_ms - c->job.created_ms;
    c->queue_ms = c->job.created_ms > 0 && wait > 0 ? (uint64_t)wait : 0;
    exec_observe(ex->m.queue_wait, (double)c->queue_ms / 1000.0);
}

/* Whether the job read for this entry may be started, and how. */
static int startable(struct exec *ex, struct exec_run *c)
{
    if (c->job.status == JOB_STATUS_QUEUED)
        return 0;
    /* final: cancelled while queued, or done (a late redelivery); running
     * in one process: a stray copy of its entry */
    if (c->job.status != JOB_STATUS_RUNNING || queue_in_process(ex->deps.queue))
        return -EALREADY;
    /* Its taker was lost: the entry came back to us from another node. */
    c->takeover = true;
    exec_count(ex->m.takeovers);
    log_warn("event=job_taken_over id=%s attempts=%u deliveries=%u", c->id, c->job.attempts,
             c->entry.deliveries);
    return 0;
}

/* Whether c's entry may have come before its job's insert committed: a
 * first delivery from a queue other nodes push to (they publish while
 * their insert commits). */
static bool maybe_ahead_of_insert(const struct exec *ex, const struct exec_run *c)
{
    return c->entry.deliveries == 1 && !queue_in_process(ex->deps.queue);
}

/* The job as its submitter accepted it, from the copy its message carries:
 * 0, or -ENOENT when there is none to trust (not a first delivery, none
 * carried, another node's version of it). */
static int load_copy(const struct exec *ex, struct exec_run *c)
{
    if (!maybe_ahead_of_insert(ex, c) || !c->entry.data)
        return -ENOENT;
    if (job_wire_decode(c->entry.data, c->entry.len, &c->job) < 0)
        return -ENOENT;
    if (strcmp(c->job.id, c->id) != 0 || c->job.status != JOB_STATUS_QUEUED) {
        job_release(&c->job);
        return -ENOENT;
    }
    exec_count(ex->m.job_copies);
    return 0;
}

/* store_get, tried again for up to cluster.store_wait_ms while the job is
 * not found and its entry may have come before its insert committed. */
static int load_stored(struct exec *ex, struct exec_run *c, struct moat_err *err)
{
    int r = exec_get(ex, c->id, STORE_GET_CODE, &c->job, err);
    if (r != -ENOENT || !maybe_ahead_of_insert(ex, c))
        return r;
    uint64_t until = moat_now_ns() + ex->deps.cfg->store_wait_ms * 1000000u;
    unsigned pause_ms = 1;
    while (r == -ENOENT && moat_now_ns() < until) {
        if (exec_wait_stop(ex, pause_ms))
            return -ESHUTDOWN;
        pause_ms = pause_ms < 32 ? pause_ms * 2 : 64;
        *err = (struct moat_err){0};
        r = exec_get(ex, c->id, STORE_GET_CODE, &c->job, err);
    }
    return r;
}

/* Loads the job and starts marking it running, without waiting for that
 * commit (finish_start does, before the result is recorded): the run
 * overlaps the store's fsync. 0 with c->job loaded, 1 when there is
 * nothing to run (skipped already). */
static int load_and_start(struct exec *ex, struct exec_run *c)
{
    struct moat_err err = {0};
    bool copy = load_copy(ex, c) == 0;
    int r = copy ? 0 : load_stored(ex, c, &err);
    if (r == 0)
        r = startable(ex, c);
    int64_t now_ms = exec_now_unix_ms(); /* the start's time, in the store and in c->job */
    c->start_ms = now_ms;
    if (r == 0) {
        c->write_start_ns = moat_now_ns();
        /* a job read from the store has its row; one run from its copy
         * may be ahead of its insert */
        if (copy)
            r = store_start_begin_awaiting(ex->deps.store, c->id, now_ms,
                                           ex->deps.cfg->store_wait_ms, &c->ticket);
        else
            r = store_start_begin(ex->deps.store, c->id, now_ms, c->takeover, &c->ticket);
        if (r < 0)
            moat_err_set(&err, r, "%s", strerror(-r));
    }
    if (r < 0) {
        exec_skip_job(ex, c, r, err.msg);
        return 1;
    }
    c->job.status = JOB_STATUS_RUNNING;
    c->job.attempts++; /* what the start makes it; finish_start confirms */
    c->job.started_ms = now_ms;
    mark_running(ex, c);
    return 0;
}

/* Waits for the start's commit: 0 when the job is durably running under
 * c->job.attempts (its result may be recorded), 1 when the run must be
 * dropped (skipped). A commit the store failed leaves the job as it was;
 * the run's result is in hand, so the start is tried again until it is
 * durable. */
static int finish_start(struct exec *ex, struct exec_run *c)
{
    struct moat_err err = {0};
    uint32_t attempts = 0;
    uint64_t settled_ns = 0;
    int r = store_start_wait(c->ticket, &attempts, &settled_ns, &err);
    c->ticket = NULL;
    /* the commit's own latency: the run overlapped it, and this wait came
     * after the run */
    if (settled_ns > c->write_start_ns)
        exec_observe(ex->m.write_start, (double)(settled_ns - c->write_start_ns) / 1e9);
    if (r == 0)
        c->job.attempts = attempts;
    else if (!exec_write_settled(r))
        r = exec_durable_write(ex, EXEC_WRITE_START, c, r, err.msg);
    if (r < 0) {
        exec_skip_job(ex, c, r, err.msg);
        return 1;
    }
    return 0;
}

static void observe_steps(struct exec *ex, const struct exec_outcome *o)
{
    if (o->compiled) {
        if (ex->deps.cache)
            exec_count(o->compile.cached ? ex->m.cache_hit : ex->m.cache_miss);
        if (!o->compile.cached)
            exec_observe(ex->m.compile, (double)o->compile.wall_time_ms / 1000.0);
    }
    if (o->run.verdict != JOB_VERDICT_NONE && o->run.verdict != JOB_VERDICT_COMPILE_ERROR &&
        o->run.verdict != JOB_VERDICT_INTERNAL_ERROR && o->run.verdict != JOB_VERDICT_CANCELLED) {
        exec_observe(ex->m.run, (double)o->run.wall_time_ms / 1000.0);
        exec_observe(ex->m.engine_latency, (double)o->run.wall_time_ms / 1000.0);
    }
}

/* Moves the outcome into the job and records it by its verdict. */
static void settle(struct exec *ex, struct exec_run *c, int r, struct exec_outcome *o,
                   const struct moat_err *err)
{
    struct job *j = &c->job;
    observe_steps(ex, o);
    job_step_release(&j->compile);
    job_step_release(&j->run);
    j->compiled = o->compiled;
    j->compile = o->compile;
    j->run = o->run;
    *o = (struct exec_outcome){0}; /* the steps' buffers are the job's now */
    if (j->judged)
        job_step_judge(&j->run, j->expected, j->expected_len, &j->compare, JOB_VERDICT_OK);

    if (j->run.verdict == JOB_VERDICT_CANCELLED && exec_slot_preempted(c->slot)) {
        /* stopped by the service's stop, not by a client: as it is in the
         * store (running), for the next start's recovery or another node */
        exec_skip_job(ex, c, -ESHUTDOWN, "the service stopped");
    } else if (j->run.verdict == JOB_VERDICT_CANCELLED) {
        exec_record_cancelled(ex, c);
    } else if (j->run.verdict == JOB_VERDICT_INTERNAL_ERROR || r == -ENOMEM) {
        /* the box or the sandbox failed (or memory ran out): another try
         * may work */
        char msg[sizeof(j->run.message)];
        moat_strlcpy(msg, j->run.message[0] ? j->run.message : err->msg, sizeof(msg));
        exec_retry_or_fail(ex, c, msg[0] ? msg : "the sandbox failed");
    } else if (r < 0) {
        /* Refused before any program ran (a bad file name, a run command
         * that does not expand): it would fail the same way again. */
        char msg[sizeof(err->field) + sizeof(err->msg) + 2]; /* cut to fit by fail_job */
        if (err->field[0])
            (void)snprintf(msg, sizeof(msg), "%s: %s", err->field, err->msg);
        else
            (void)snprintf(msg, sizeof(msg), "%s", err->msg[0] ? err->msg : strerror(-r));
        exec_fail_job(ex, c, msg);
    } else {
        j->status = JOB_STATUS_COMPLETED;
        exec_record_final(ex, c);
    }
}

/* A job that cannot run for a reason of its own or of moat's, found
 * before any box is used: the start is confirmed, then it is failed. */
static void fail_before_run(struct exec *ex, struct exec_run *c, const char *msg, bool retry)
{
    if (finish_start(ex, c) != 0)
        return;
    if (retry)
        exec_retry_or_fail(ex, c, msg);
    else
        exec_fail_job(ex, c, msg);
}

/* Runs c's job in *boxp. Returns true when the box was used (a step may
 * have run in it: it must be freed), false when it is still fresh or was
 * freed already (*boxp NULL then). */
static bool run_job(struct exec *ex, struct exec_run *c, struct sbx_box **boxp)
{
    struct sbx_box *box = *boxp;
    const struct moat_config *cfg = ex->deps.cfg;
    if (load_and_start(ex, c) != 0)
        return false;
    /* a job its takers keep losing (each died or stalled with it) */
    if (c->entry.deliveries > cfg->max_deliveries) {
        char msg[128];
        (void)snprintf(msg, sizeof(msg),
                       "delivered %u times: its workers died or stalled each time",
                       c->entry.deliveries);
        fail_before_run(ex, c, msg, false);
        return false;
    }
    const struct lang *lang = lang_find(ex->deps.langs, c->job.language);
    struct exec_file *files = calloc(c->job.nfiles ? c->job.nfiles : 1, sizeof(*files));
    if (!lang || !files) {
        free(files);
        char msg[96];
        (void)snprintf(msg, sizeof(msg), lang ? "out of memory" : "language %s is not available",
                       c->job.language);
        fail_before_run(ex, c, msg, lang != NULL);
        return false;
    }
    for (size_t i = 0; i < c->job.nfiles; i++)
        files[i] = (struct exec_file){
            .name = c->job.files[i].name, .data = c->job.files[i].data, .len = c->job.files[i].len};
    struct exec_request req = {
        .lang = lang,
        .files = files,
        .nfiles = c->job.nfiles,
        .stdin_data = c->job.stdin_data,
        .stdin_len = c->job.stdin_len,
        .args = (const char *const *)c->job.args,
        .nargs = c->job.nargs,
        .limits = c->job.limits,
    };
    struct exec_outcome o = {0};
    struct moat_err err = {0};
    int r = 0;
    bool used = false;
    size_t where = 0;
    if (c->job.ntests) {
        /* the build's box is freed there once the build used it: its tests
         * take the pool's boxes, and this one must not hold a place */
        exec_run_tests(ex, c, boxp, &req, &o, &r, &err);
    } else if (exec_slot_add(c->slot, box, &where)) {
        used = true;
        r = exec_program_cached(box, cfg, ex->deps.cache, &req, &o, &err);
        exec_slot_drop(c->slot, where); /* before the caller frees the box */
    } else {
        o.run.verdict = JOB_VERDICT_CANCELLED; /* cancelled before it started */
    }
    free(files);
    if (finish_start(ex, c) == 0)
        settle(ex, c, r, &o, &err);
    exec_outcome_release(&o);
    return used;
}

/* ---- the executor thread ---- */

static void *executor(void *arg)
{
    struct exec_slot *slot = arg;
    struct exec *ex = slot->ex;
    struct sbx_box *box = NULL;
    bool pool_failing = false;
    while (!exec_stopping(ex)) {
        if (!box) {
            struct moat_err err = {0};
            int r = sbx_pool_take(ex->deps.pool, EXEC_POLL_MS, &box, &err);
            if (r == -ETIMEDOUT)
                continue;
            if (r < 0) {
                /* the pool is broken (its spawner died): say it once, do
                 * not spin */
                if (!pool_failing)
                    log_error("event=pool_take_failed error=\"%s\"", err.msg);
                pool_failing = true;
                box = NULL;
                (void)exec_wait_stop(ex, EXEC_POLL_MS);
                continue;
            }
            pool_failing = false;
        }
        struct exec_run c = {.slot = slot};
        int r = queue_take(ex->deps.queue, EXEC_POLL_MS, &c.entry);
        if (r == -ESHUTDOWN)
            break;
        if (r < 0) {
            if (r != -ETIMEDOUT)
                (void)exec_wait_stop(ex, EXEC_POLL_MS);
            continue;
        }
        c.id = c.entry.id;
        c.start_ns = moat_now_ns();
        atomic_fetch_add(&ex->busy, 1);
        gauge_add(ex->m.busy, 1);
        gauge_add(ex->m.engine_active, 1);
        slot_set(slot, c.id, &c.entry);
        bool used = run_job(ex, &c, &box);
        slot_set(slot, NULL, NULL);
        job_release(&c.job);
        gauge_add(ex->m.busy, -1);
        gauge_add(ex->m.engine_active, -1);
        atomic_fetch_sub(&ex->busy, 1);
        if (used) {
            sbx_box_free(box);
            box = NULL;
        }
    }
    sbx_box_free(box);
    return NULL;
}

int exec_executors_start(struct exec *ex)
{
    for (size_t i = 0; i < ex->nslots; i++) {
        struct exec_slot *s = &ex->slots[i];
        s->ex = ex;
        int r = -pthread_create(&s->thread, NULL, executor, s);
        if (r < 0)
            return r;
        s->started = true;
    }
    return 0;
}

void exec_executors_join(struct exec *ex)
{
    for (size_t i = 0; i < ex->nslots; i++) {
        if (ex->slots[i].started)
            (void)pthread_join(ex->slots[i].thread, NULL);
        ex->slots[i].started = false;
    }
}
