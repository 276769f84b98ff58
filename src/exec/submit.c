/*
 * Submissions and cancels.
 *
 * A submission reserves its place in the queue (a full queue refuses it
 * before anything is written), then is written to the store and pushed to
 * the queue. The order of those two depends on who takes the job:
 *   - an in-process queue: pushed as soon as its insert is queued in the
 *     store, before the commit. The executor that takes it reads it from
 *     the store's inserts in flight and queues its start behind the insert,
 *     so the run overlaps the commit; a failed insert fails the start and
 *     the run is dropped. The submission ends once both the commit and the
 *     push are done (two parties, whichever is last).
 *   - a queue other nodes take from (NATS): published while the insert
 *     commits, the job itself in the message when it is small
 *     (cluster.inline_job_kb), and answered once both are done: the commit
 *     makes it durable, the broker's ack makes it dispatched. A worker may
 *     take it before the commit: it runs the job from the message's copy
 *     (or reads it, waiting for the insert) while its start, which needs
 *     the committed row, is tried until the row is there (executor.c). A
 *     failed insert is refused to the client; its message, if it was
 *     published, is taken back, or its taker finds no job and drops it. A failed push
 *     of a committed job is answered as accepted: the job is durable, and
 *     the reconciler publishes it again (recover.c). Publishing only after
 *     the commit cost the broker's round trip on every sync job.
 * A waiting submission is watched before it is written (events.c).
 */
#include "exec-internal.h"

struct submission {
    struct exec *ex;
    struct job *job;
    char id[MOAT_UUID_LEN + 1];
    int priority;
    uint64_t watch; /* a waiting submission's (its serial), or 0 */
    exec_notice_fn fn;
    void *cls;
    uint64_t t0_ns;
    _Atomic int parties; /* the insert and the push, whichever ends last settles */
    int insert_result;
    bool pushed; /* the queue holds it (to be taken back if the insert fails) */
};

/* The submission's one notice, then it is gone. */
static void settle(struct submission *s, int result)
{
    struct exec *ex = s->ex;
    if (result < 0 && s->pushed)
        (void)queue_remove(ex->deps.queue, s->id); /* or its taker finds no job and drops it */
    if (s->watch) {
        exec_watch_submitted(ex, s->id, s->watch, result);
    } else {
        struct exec_notice n = {
            .kind = result < 0 ? EXEC_REFUSED : EXEC_ACCEPTED, .error = result, .id = s->id};
        s->fn(s->cls, &n);
    }
    free(s);
}

/* The insert and the push each end once, in either order and on either's
 * thread; the last settles, and the insert decides. */
static void party_done(struct submission *s)
{
    if (atomic_fetch_sub(&s->parties, 1) == 1)
        settle(s, s->insert_result);
}

static void on_inserted(void *cls, int result)
{
    struct submission *s = cls;
    exec_observe(s->ex->m.insert, exec_seconds_since(s->t0_ns));
    s->insert_result = result;
    party_done(s);
}

/* What the push came to: held (its message may have to be taken back if
 * the insert fails), or failed. A committed job whose push failed stays
 * accepted: it is durable, and the reconciler (a queue of other nodes) or
 * the next start (the in-process queue) queues it again. */
static void pushed(struct submission *s, int result)
{
    s->pushed = result == 0;
    if (result < 0) {
        queue_unreserve(s->ex->deps.queue);
        log_warn("event=queue_push_failed id=%s error=\"%s\" msg=\"queued again by the "
                 "reconciler or at the next start, if its insert commits\"",
                 s->id, strerror(-result));
    }
}

static void on_published(void *cls, int result)
{
    struct submission *s = cls;
    exec_observe(s->ex->m.publish, exec_seconds_since(s->t0_ns));
    pushed(s, result);
    party_done(s);
}

/* The copy of the job its message carries, or NULL (too big: its taker
 * reads it). Made before the insert, which owns the job from then. */
static char *message_copy(const struct exec *ex, const struct job *job, size_t *len)
{
    char *data = NULL;
    *len = 0;
    if (job_wire_encode(job, false, ex->deps.cfg->inline_job_kb * 1024, &data, len) < 0)
        return NULL;
    return data;
}

/* ---- submit ---- */

/* What the store writes besides the request: id, status, times, hash. */
static int prepare(struct job *j)
{
    moat_uuid7(j->id);
    j->status = JOB_STATUS_QUEUED;
    j->attempts = 0;
    j->created_ms = exec_now_unix_ms();
    return job_code_hash(j, j->code_hash);
}

int exec_submit(struct exec *ex, struct job *job, bool wait, const void *owner, exec_notice_fn fn,
                void *cls)
{
    struct queue *q = ex->deps.queue;
    bool local = queue_in_process(q);
    if (exec_stopping(ex) || atomic_load(&ex->draining))
        return -ESHUTDOWN;
    if (!local && !queue_ready(q))
        return -ENOTCONN;
    int r = queue_reserve(q);
    if (r < 0)
        return r;
    struct submission *s = calloc(1, sizeof(*s));
    if (!s || prepare(job) < 0) {
        queue_unreserve(q);
        free(s);
        return -ENOMEM;
    }
    *s = (struct submission){.ex = ex,
                             .job = job,
                             .priority = job->priority,
                             .fn = fn,
                             .cls = cls,
                             .t0_ns = moat_now_ns()};
    moat_strlcpy(s->id, job->id, sizeof(s->id));
    if (wait) {
        s->watch = exec_watch_new(ex, s->id, owner, fn, cls);
        if (!s->watch) {
            queue_unreserve(q);
            free(s);
            return -ENOMEM;
        }
    }
    atomic_init(&s->parties, 2);
    size_t copy_len = 0;
    char *copy = local ? NULL : message_copy(ex, job, &copy_len);
    r = store_insert_async(ex->deps.store, job, on_inserted, s);
    if (r < 0) {
        free(copy);
        queue_unreserve(q);
        if (s->watch)
            exec_watch_submitted(ex, s->id, s->watch, 1); /* dropped without a notice */
        free(s);
        return r;
    }
    if (!local) {
        /* the insert's callback may run (on the store's thread) from here */
        r = queue_push_async(q, s->id, s->priority, true, copy, copy_len, on_published, s);
        free(copy);
        if (r < 0)
            on_published(s, r);
        return 0;
    }
    /* Now, not before: the executor's start must queue behind the insert. */
    pushed(s, queue_push(q, s->id, s->priority, true));
    party_done(s);
    return 0;
}

/* ---- cancel ---- */

int exec_cancel(struct exec *ex, const char *id, enum job_status *was, struct moat_err *err)
{
    enum job_status w = JOB_STATUS_QUEUED;
    int r = store_cancel(ex->deps.store, id, exec_now_unix_ms(), &w, err);
    if (was)
        *was = w;
    if (r < 0)
        return r;
    exec_count_final(ex, JOB_STATUS_CANCELLED, JOB_VERDICT_CANCELLED);
    /* An executor may hold the job even while the store said queued (its
     * start is not committed yet): it is told in every case. */
    (void)exec_kill_local(ex, id);
    if (w == JOB_STATUS_QUEUED)
        (void)queue_remove(ex->deps.queue, id);
    /* every node hears it: a worker running it stops it */
    exec_announce_final(ex, id, NULL);
    return 0;
}
