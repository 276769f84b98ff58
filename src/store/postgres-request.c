/*
 * The callers' side of the PostgreSQL writer: each write is a request
 * queued for the writer thread (postgres-write.c); an insert's done runs
 * from that thread, the other writes wait for theirs.
 */
#include <limits.h>

#include "postgres-internal.h"
#include "moat/util.h"

static int enqueue(struct pg_store *s, struct pg_wreq *r)
{
    r->next = NULL;
    r->deadline_ns = pg_deadline(s->to.write_wait_ms);
    pthread_mutex_lock(&s->mu);
    if (s->stopping || !s->writer_running) {
        pthread_mutex_unlock(&s->mu);
        return -ESHUTDOWN;
    }
    r->seq = s->seq++;
    if (s->tail)
        s->tail->next = r;
    else
        s->head = r;
    s->tail = r;
    bool wake = s->writer_waiting;
    pthread_mutex_unlock(&s->mu);
    if (wake)
        pthread_cond_signal(&s->cond);
    return 0;
}

int pg_insert_async(struct store *st, const struct job *job, store_done_fn done, void *cls)
{
    struct pg_store *s = (struct pg_store *)st;
    struct pg_wreq *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    *r = (struct pg_wreq){.kind = PG_W_INSERT, .heap = true, .job = job, .done = done, .cls = cls};
    moat_strlcpy(r->id, job->id, sizeof(r->id));
    /* the blob and the hash are made on the caller's thread */
    int e = store_insert_data_make(job, &r->ins, r->hash);
    /* libpq counts a parameter's bytes in an int */
    if (e == 0 && (r->ins.code_len > INT_MAX || job->stdin_len > INT_MAX))
        e = -E2BIG;
    if (e == 0)
        e = enqueue(s, r);
    if (e < 0) {
        store_insert_data_release(&r->ins);
        free(r);
    }
    return e;
}

/* A synchronous caller waiting for its request. */
static int sync_write(struct pg_store *s, struct pg_wreq *r)
{
    struct store_sync w;
    store_sync_init(&w);
    r->heap = false;
    r->done = store_sync_done;
    r->cls = &w;
    int e = enqueue(s, r);
    if (e == 0) {
        store_sync_wait(&w);
        e = r->result;
    } else {
        pthread_cond_destroy(&w.cond);
        pthread_mutex_destroy(&w.mu);
    }
    r->cls = NULL; /* w dies with this frame */
    return e;
}

static int report(const struct pg_store *s, const struct pg_wreq *r, int e, const char *what,
                  struct moat_err *err)
{
    switch (e) {
    case -ENOENT:
        return moat_err_set(err, e, "no such job");
    case -EALREADY:
        return moat_err_set(err, e, "cannot %s job %s: it is %s", what, r->id,
                            job_status_name(r->was));
    case -ESTALE:
        return moat_err_set(err, e, "cannot %s job %s: a later attempt has taken it", what, r->id);
    case -ESHUTDOWN:
        return moat_err_set(err, e, "cannot %s job %s: the store is closing", what, r->id);
    default:
        return moat_err_set(err, e, "cannot %s job %s in the store %s: %s", what, r->id, s->shown,
                            r->detail[0] ? r->detail : strerror(-e));
    }
}

struct pg_ticket {
    struct store_ticket base; /* first */
    struct pg_store *s;
    struct pg_wreq r;
    struct store_sync w;
};

int pg_start_begin(struct store *st, const char *id, int64_t now_ms, bool takeover,
                   uint64_t row_wait_ms, struct store_ticket **ticket)
{
    struct pg_ticket *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->base.ops = st->ops;
    t->s = (struct pg_store *)st;
    unsigned wait = row_wait_ms > UINT_MAX ? UINT_MAX : (unsigned)row_wait_ms;
    t->r = (struct pg_wreq){.kind = PG_W_START,
                            .now_ms = now_ms,
                            .takeover = takeover,
                            .row_until_ns = row_wait_ms ? pg_deadline(wait) : 0,
                            .done = store_sync_done,
                            .cls = &t->w};
    moat_strlcpy(t->r.id, id, sizeof(t->r.id));
    store_sync_init(&t->w);
    int e = enqueue(t->s, &t->r);
    if (e < 0) {
        pthread_cond_destroy(&t->w.cond);
        pthread_mutex_destroy(&t->w.mu);
        free(t);
        return e;
    }
    *ticket = &t->base;
    return 0;
}

int pg_start_wait(struct store_ticket *ticket, uint32_t *attempts, uint64_t *settled_ns,
                  struct moat_err *err)
{
    struct pg_ticket *t = (struct pg_ticket *)ticket;
    store_sync_wait(&t->w);
    int e = t->r.result;
    if (e < 0)
        (void)report(t->s, &t->r, e, "start", err);
    else if (attempts)
        *attempts = t->r.attempts;
    if (settled_ns)
        *settled_ns = t->w.settled_ns;
    free(t);
    return e;
}

int pg_finish(struct store *st, const struct job *job, struct moat_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    struct pg_wreq r = {.kind = PG_W_FINISH, .job = job};
    moat_strlcpy(r.id, job->id, sizeof(r.id));
    if (job->output_hash[0])
        moat_strlcpy(r.hash, job->output_hash, sizeof(r.hash));
    else
        moat_sha256_hex(job->run.out, job->run.out_len, r.hash);
    int e = store_results_make(job, &r.results, &r.results_len);
    if (e == 0)
        e = sync_write(s, &r);
    free(r.results);
    return e < 0 ? report(s, &r, e, "finish", err) : 0;
}

int pg_requeue(struct store *st, const char *id, uint32_t attempts, struct moat_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    struct pg_wreq r = {.kind = PG_W_REQUEUE, .attempts = attempts};
    moat_strlcpy(r.id, id, sizeof(r.id));
    int e = sync_write(s, &r);
    return e < 0 ? report(s, &r, e, "requeue", err) : 0;
}

int pg_cancel(struct store *st, const char *id, int64_t now_ms, enum job_status *was,
              struct moat_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    struct pg_wreq r = {.kind = PG_W_CANCEL, .now_ms = now_ms, .was = JOB_STATUS_MAX_};
    moat_strlcpy(r.id, id, sizeof(r.id));
    int e = sync_write(s, &r);
    if (was && (e == 0 || e == -EALREADY))
        *was = r.was;
    return e < 0 ? report(s, &r, e, "cancel", err) : 0;
}
