/*
 * The writer of the SQLite driver: one thread, one connection, group
 * commit. Callers queue requests; the writer takes everything queued (up to
 * SQ_BATCH_MAX), runs it in one BEGIN IMMEDIATE ... COMMIT (one fsync of
 * the WAL for the whole batch), and only then reports each result. One
 * writer means no SQLITE_BUSY between our own writes and a conditional
 * UPDATE (WHERE status = ...) sees every earlier write: the state machine
 * of a job (queued -> running -> completed/failed, cancelled from either)
 * needs no other lock.
 *
 * A request whose statement changes nothing (a duplicate id, a job in
 * another state, an unknown id) fails alone: SQLite undoes a failed
 * statement and keeps the transaction. Any other failure rolls the whole
 * batch back, and its items are retried one transaction each, so one bad
 * item does not fail the others.
 *
 * Health: a write that fails for a reason of the store's own (the disk is
 * full, an I/O error, the file went read-only, another process holds the
 * lock past the busy timeout) marks the store unwritable (write_err), and
 * store_ready says so. It is writable again once a write commits while
 * the file system has SQ_MIN_FREE_BYTES free. Nobody need write for that
 * to happen: while the store is unwritable, the idle writer probes it
 * every SQ_PROBE_MS (free space first, then a one-page commit), so that
 * /readyz comes back by itself when the disk has room again.
 */
#include <signal.h>
#include <sys/statvfs.h>
#include <time.h>

#include "sqlite-internal.h"
#include "moat/util.h"

#define SQ_BATCH_MAX 512

enum sq_wkind {
    SQ_W_INSERT,
    SQ_W_START,
    SQ_W_FINISH,
    SQ_W_REQUEUE,
    SQ_W_CANCEL,
    SQ_W_CB_CLAIM,
    SQ_W_CB_RECORD,
};

struct sq_wreq {
    struct sq_wreq *next;
    enum sq_wkind kind;
    bool heap;                  /* the writer frees it after done */
    const struct job *job;      /* insert, finish: borrowed until done */
    char id[MOAT_UUID_LEN + 1]; /* start, requeue, cancel */
    int64_t now_ms;
    bool takeover;                      /* start: also a running job (its taker was lost) */
    struct store_insert_data ins;       /* insert */
    char hash[MOAT_SHA256_HEX_LEN + 1]; /* code_hash (insert), output_hash (finish) */
    char *results;                      /* finish: what the tests gave (JSON), or NULL */
    uint64_t lease_ms;                  /* callback claim */
    const struct store_callback_outcome *cb; /* callback record: borrowed */
    size_t results_len;
    /* results */
    int result;
    uint32_t attempts;
    enum job_status was;
    char detail[160]; /* sqlite's message of a failure */
    store_done_fn done;
    void *cls;
};

static const char *const wsql[SQW_MAX_] = {
    [SQW_BEGIN] = "BEGIN IMMEDIATE",
    [SQW_COMMIT] = "COMMIT",
    [SQW_ROLLBACK] = "ROLLBACK",
    [SQW_INSERT_JOB] =
        "INSERT INTO jobs (id, status, language, language_given, version, priority,"
        " time_ms, wall_time_ms, memory_mb, max_processes, max_output_kb, max_file_kb,"
        " max_open_files, stack_kb, nfiles, code_single, stdin_len, args_json,"
        " metadata_json, tags_json, created_ms, code_hash, compare, abs_tol, rel_tol,"
        " expected_len, ntests, stop_on_failure, cb_url, cb_shape, cb_status) VALUES (?1,"
        " 'queued', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
        " ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29,"
        " CASE WHEN ?28 IS NULL THEN NULL ELSE 'pending' END)",
    /* blobs of a job are written once; REPLACE only makes a retried
     * finish idempotent */
    [SQW_PUT_BLOB] = "INSERT OR REPLACE INTO blobs (key, data) VALUES (?1, ?2)",
    [SQW_STATUS] = "SELECT status, attempts FROM jobs WHERE id = ?1",
    [SQW_START] = "UPDATE jobs SET status = 'running', attempts = attempts + 1,"
                  " started_ms = ?2 WHERE id = ?1 AND (status = 'queued' OR"
                  " (?3 AND status = 'running')) RETURNING attempts",
    [SQW_FINISH] = "UPDATE jobs SET status = ?2, finished_ms = ?3, output_hash = ?4, compiled = ?5,"
                   " c_verdict = ?6, c_exit_code = ?7, c_signal = ?8, c_time_ms = ?9,"
                   " c_wall_time_ms = ?10, c_memory_kb = ?11, c_stdout_truncated = ?12,"
                   " c_stderr_truncated = ?13, c_cached = ?14, c_message = ?15,"
                   " r_verdict = ?16, r_exit_code = ?17, r_signal = ?18, r_time_ms = ?19,"
                   " r_wall_time_ms = ?20, r_memory_kb = ?21, r_stdout_truncated = ?22,"
                   " r_stderr_truncated = ?23, r_cached = ?24, r_message = ?25"
                   " WHERE id = ?1 AND status = 'running' AND attempts = ?26",
    [SQW_REQUEUE] = "UPDATE jobs SET status = 'queued' WHERE id = ?1 AND status = 'running'"
                    " AND attempts = ?2",
    [SQW_CANCEL] = "UPDATE jobs SET status = 'cancelled', finished_ms = ?2"
                   " WHERE id = ?1 AND status IN ('queued', 'running')",
    /* rewrites the header page with what it holds: the smallest write
     * that goes through the WAL and its fsync like any other */
    [SQW_PROBE] = SQ_SET_APPLICATION_ID,
    /* a delivery attempt: only of a final job, pending, due, not leased */
    [SQW_CB_CLAIM] = "UPDATE jobs SET cb_attempts = cb_attempts + 1, cb_lease_ms = ?2 + ?3"
                     " WHERE id = ?1 AND cb_status = 'pending' AND cb_next_ms <= ?2"
                     " AND cb_lease_ms <= ?2 AND status IN ('completed', 'failed', 'cancelled')"
                     " RETURNING cb_attempts",
    /* an attempt's outcome, fenced by its number */
    [SQW_CB_RECORD] =
        "UPDATE jobs SET cb_status = ?3, cb_error = coalesce(?4, cb_error), cb_delivered_ms = ?5,"
        " cb_next_ms = ?6, cb_lease_ms = 0 WHERE id = ?1 AND"
        " cb_status = 'pending' AND cb_attempts = ?2",
};

/* ---- statements (writer thread only) ---- */

/* Steps st to its end and makes it reusable; the SQLite result. Bindings
 * are cleared because they may point into buffers about to go away. */
static int step_once(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st);
    return rc;
}

static int fail(struct sq_store *s, struct sq_wreq *r, int rc)
{
    moat_strlcpy(r->detail, sqlite3_errmsg(s->wdb), sizeof(r->detail));
    int e = sq_errno(rc);
    return e < 0 ? e : -EIO;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    /* SQLITE_STATIC: the text outlives the step (step_once clears it). */
    if (s)
        (void)sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        (void)sqlite3_bind_null(st, i);
}

static int bind_bytes(sqlite3_stmt *st, int i, const char *data, size_t len)
{
    /* A NULL pointer would bind NULL, and blobs are NOT NULL: "" is empty.
     * SQLITE_TOOBIG past SQLITE_LIMIT_LENGTH. */
    return sqlite3_bind_blob64(st, i, len ? data : "", len, SQLITE_STATIC);
}

static void bind_u64(sqlite3_stmt *st, int i, uint64_t v)
{
    /* Stored bit for bit; every limit is far below 2^63 anyway. */
    (void)sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}

static int put_blob(struct sq_store *s, struct sq_wreq *r, const char *name, const char *id,
                    const char *data, size_t len)
{
    char key[SQ_KEY_MAX];
    sq_blob_key(key, id, name);
    sqlite3_stmt *st = s->wst[SQW_PUT_BLOB];
    bind_text(st, 1, key);
    int rc = bind_bytes(st, 2, data, len);
    if (rc != SQLITE_OK) {
        (void)sqlite3_clear_bindings(st);
        return fail(s, r, rc);
    }
    rc = step_once(st);
    return rc == SQLITE_DONE ? 0 : fail(s, r, rc);
}

/* The status of job id: 0, -ENOENT, or a failure. */
static int lookup_status(struct sq_store *s, struct sq_wreq *r, const char *id,
                         enum job_status *out, int64_t *attempts)
{
    sqlite3_stmt *st = s->wst[SQW_STATUS];
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (job_status_parse(name, out) < 0)
            ret = -EIO;
        if (attempts)
            *attempts = sqlite3_column_int64(st, 1);
    } else if (rc == SQLITE_DONE) {
        ret = -ENOENT;
    } else {
        ret = fail(s, r, rc);
    }
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st);
    return ret;
}

/* After a conditional update changed nothing: -ENOENT, or -EALREADY with
 * r->was the status that stopped it; for a write fenced by attempt n,
 * -ESTALE when a later attempt has had the job, whether it still runs or
 * has finished it (a worker that stalled past its ack deadline wakes to
 * find its job done by another: that is a stale result, not a cancel). */
static int not_changed(struct sq_store *s, struct sq_wreq *r, const char *id, bool fenced,
                       uint64_t attempt)
{
    int64_t stored = 0;
    int e = lookup_status(s, r, id, &r->was, &stored);
    if (e < 0)
        return e;
    if (fenced && (r->was == JOB_STATUS_RUNNING || (uint64_t)stored != attempt))
        return -ESTALE;
    return -EALREADY;
}

/* ---- the writes ---- */

static int w_insert(struct sq_store *s, struct sq_wreq *r)
{
    const struct job *j = r->job;
    sqlite3_stmt *st = s->wst[SQW_INSERT_JOB];
    bind_text(st, 1, j->id);
    bind_text(st, 2, j->language);
    bind_text(st, 3, j->language_given);
    bind_text(st, 4, j->version);
    (void)sqlite3_bind_int(st, 5, j->priority);
    const struct moat_limits *l = &j->limits;
    const uint64_t lim[] = {l->time_ms,       l->wall_time_ms, l->memory_mb,      l->max_processes,
                            l->max_output_kb, l->max_file_kb,  l->max_open_files, l->stack_kb};
    for (int i = 0; i < (int)MOAT_ARRAY_SIZE(lim); i++)
        bind_u64(st, 6 + i, lim[i]);
    bind_u64(st, 14, j->nfiles);
    (void)sqlite3_bind_int(st, 15, r->ins.owned == NULL);
    bind_u64(st, 16, j->stdin_len);
    bind_text(st, 17, r->ins.args_json ? r->ins.args_json : "[]");
    bind_text(st, 18, j->metadata_json);
    bind_text(st, 19, j->tags_json);
    (void)sqlite3_bind_int64(st, 20, j->created_ms);
    bind_text(st, 21, r->hash);
    bind_text(st, 22, r->ins.compare);
    (void)sqlite3_bind_double(st, 23, r->ins.abs_tol);
    (void)sqlite3_bind_double(st, 24, r->ins.rel_tol);
    bind_u64(st, 25, r->ins.expected_len);
    bind_u64(st, 26, j->ntests);
    (void)sqlite3_bind_int(st, 27, j->stop_on_failure);
    if (j->callback.url[0]) {
        bind_text(st, 28, j->callback.url);
        bind_text(st, 29, job_callback_shape_name(j->callback.shape));
    }
    int rc = step_once(st);
    if (rc != SQLITE_DONE)
        return fail(s, r, rc); /* -EEXIST for a duplicate id: changes nothing */
    int e = put_blob(s, r, SQ_BLOB_CODE, j->id, r->ins.code, r->ins.code_len);
    if (e == 0 && j->stdin_len)
        e = put_blob(s, r, SQ_BLOB_STDIN, j->id, j->stdin_data, j->stdin_len);
    if (e == 0 && r->ins.expected_len)
        e = put_blob(s, r, SQ_BLOB_EXPECTED, j->id, j->expected, r->ins.expected_len);
    if (e == 0 && r->ins.tests_json)
        e = put_blob(s, r, SQ_BLOB_TESTS, j->id, r->ins.tests_json, r->ins.tests_len);
    return e;
}

/* Runs an UPDATE ... RETURNING of one attempt number (bound already):
 * SQLITE_DONE with *changed and r->attempts, or the error code. */
static int step_attempt(sqlite3_stmt *st, struct sq_wreq *r, bool *changed)
{
    *changed = false;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *changed = true;
        r->attempts = (uint32_t)sqlite3_column_int64(st, 0);
        rc = sqlite3_step(st);
    }
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st);
    return rc;
}

static int w_start(struct sq_store *s, struct sq_wreq *r)
{
    sqlite3_stmt *st = s->wst[SQW_START];
    bind_text(st, 1, r->id);
    (void)sqlite3_bind_int64(st, 2, r->now_ms);
    (void)sqlite3_bind_int(st, 3, r->takeover);
    bool changed;
    int rc = step_attempt(st, r, &changed);
    if (rc != SQLITE_DONE)
        return fail(s, r, rc);
    return changed ? 0 : not_changed(s, r, r->id, false, 0);
}

static void bind_step(sqlite3_stmt *st, int first, const struct job_step *p)
{
    bind_text(st, first, job_verdict_name(p->verdict)); /* NULL for none */
    (void)sqlite3_bind_int(st, first + 1, p->exit_code);
    (void)sqlite3_bind_int(st, first + 2, p->signal);
    bind_u64(st, first + 3, p->time_ms);
    bind_u64(st, first + 4, p->wall_time_ms);
    bind_u64(st, first + 5, p->memory_kb);
    (void)sqlite3_bind_int(st, first + 6, p->out_truncated);
    (void)sqlite3_bind_int(st, first + 7, p->err_truncated);
    (void)sqlite3_bind_int(st, first + 8, p->cached);
    /* message is a fixed array: bounded, and terminated by the writer of
     * the step (moat_strlcpy/snprintf) */
    (void)sqlite3_bind_text(st, first + 9, p->message, (int)strnlen(p->message, sizeof(p->message)),
                            SQLITE_STATIC);
}

static int w_finish(struct sq_store *s, struct sq_wreq *r)
{
    const struct job *j = r->job;
    sqlite3_stmt *st = s->wst[SQW_FINISH];
    bind_text(st, 1, j->id);
    bind_text(st, 2, job_status_name(j->status));
    (void)sqlite3_bind_int64(st, 3, j->finished_ms);
    bind_text(st, 4, r->hash);
    (void)sqlite3_bind_int(st, 5, j->compiled);
    bind_step(st, 6, &j->compile);
    bind_step(st, 6 + SQ_STEP_NCOLS, &j->run);
    bind_u64(st, 26, j->attempts);
    int rc = step_once(st);
    if (rc != SQLITE_DONE)
        return fail(s, r, rc);
    if (sqlite3_changes(s->wdb) == 0)
        return not_changed(s, r, j->id, true, j->attempts);
    int e = put_blob(s, r, SQ_BLOB_STDOUT, j->id, j->run.out, j->run.out_len);
    if (e == 0)
        e = put_blob(s, r, SQ_BLOB_STDERR, j->id, j->run.err, j->run.err_len);
    if (e == 0 && j->compiled)
        e = put_blob(s, r, SQ_BLOB_COMPILE_STDOUT, j->id, j->compile.out, j->compile.out_len);
    if (e == 0 && j->compiled)
        e = put_blob(s, r, SQ_BLOB_COMPILE_STDERR, j->id, j->compile.err, j->compile.err_len);
    if (e == 0 && j->run.order_len)
        e = put_blob(s, r, SQ_BLOB_RUN_ORDER, j->id, j->run.order, j->run.order_len);
    if (e == 0 && j->compiled && j->compile.order_len)
        e = put_blob(s, r, SQ_BLOB_COMPILE_ORDER, j->id, j->compile.order, j->compile.order_len);
    if (e == 0 && r->results)
        e = put_blob(s, r, SQ_BLOB_RESULTS, j->id, r->results, r->results_len);
    return e;
}

static int w_requeue(struct sq_store *s, struct sq_wreq *r)
{
    sqlite3_stmt *st = s->wst[SQW_REQUEUE];
    bind_text(st, 1, r->id);
    bind_u64(st, 2, r->attempts);
    int rc = step_once(st);
    if (rc != SQLITE_DONE)
        return fail(s, r, rc);
    return sqlite3_changes(s->wdb) ? 0 : not_changed(s, r, r->id, true, r->attempts);
}

static int w_cancel(struct sq_store *s, struct sq_wreq *r)
{
    /* One writer: nothing changes the row between this read and the update. */
    int e = lookup_status(s, r, r->id, &r->was, NULL);
    if (e < 0)
        return e;
    if (job_status_final(r->was))
        return -EALREADY;
    sqlite3_stmt *st = s->wst[SQW_CANCEL];
    bind_text(st, 1, r->id);
    (void)sqlite3_bind_int64(st, 2, r->now_ms);
    int rc = step_once(st);
    if (rc != SQLITE_DONE)
        return fail(s, r, rc);
    return sqlite3_changes(s->wdb) ? 0 : -EIO;
}

static int w_cb_claim(struct sq_store *s, struct sq_wreq *r)
{
    sqlite3_stmt *st = s->wst[SQW_CB_CLAIM];
    bind_text(st, 1, r->id);
    (void)sqlite3_bind_int64(st, 2, r->now_ms);
    bind_u64(st, 3, r->lease_ms);
    bool changed;
    int rc = step_attempt(st, r, &changed);
    if (rc != SQLITE_DONE)
        return fail(s, r, rc);
    return changed ? 0 : -EALREADY;
}

static int w_cb_record(struct sq_store *s, struct sq_wreq *r)
{
    const struct store_callback_outcome *o = r->cb;
    sqlite3_stmt *st = s->wst[SQW_CB_RECORD];
    bind_text(st, 1, r->id);
    bind_u64(st, 2, o->attempt);
    bind_text(st, 3, job_callback_status_name(o->status));
    bind_text(st, 4, o->error); /* NULL keeps the last one */
    (void)sqlite3_bind_int64(st, 5, o->delivered_ms);
    (void)sqlite3_bind_int64(st, 6, o->next_ms);
    int rc = step_once(st);
    if (rc != SQLITE_DONE)
        return fail(s, r, rc);
    return sqlite3_changes(s->wdb) ? 0 : -ESTALE;
}

static int apply(struct sq_store *s, struct sq_wreq *r)
{
    r->detail[0] = '\0';
    switch (r->kind) {
    case SQ_W_INSERT:
        return w_insert(s, r);
    case SQ_W_START:
        return w_start(s, r);
    case SQ_W_FINISH:
        return w_finish(s, r);
    case SQ_W_REQUEUE:
        return w_requeue(s, r);
    case SQ_W_CANCEL:
        return w_cancel(s, r);
    case SQ_W_CB_CLAIM:
        return w_cb_claim(s, r);
    case SQ_W_CB_RECORD:
        return w_cb_record(s, r);
    }
    return -EINVAL;
}

/* A result that leaves the transaction as it was before the request. */
static bool keeps_txn(int result)
{
    return result >= 0 || result == -EEXIST || result == -EALREADY || result == -ENOENT ||
           result == -ESTALE;
}

/* ---- the batch ---- */

static int control(struct sq_store *s, enum sq_wstmt which)
{
    int rc = step_once(s->wst[which]);
    if (rc == SQLITE_DONE)
        return 0;
    int e = sq_errno(rc);
    return e < 0 ? e : -EIO;
}

static void rollback(struct sq_store *s)
{
    /* Some failures (IOERR, FULL, NOMEM) have rolled back already. */
    if (!sqlite3_get_autocommit(s->wdb))
        (void)control(s, SQW_ROLLBACK);
}

/* ---- health ---- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A failure of the store itself, not the answer to one request. */
static bool store_fault(int e)
{
    return e == -ENOSPC || e == -EIO || e == -EROFS || e == -EBUSY || e == -EACCES;
}

/* Whether the data directory's file system has room for ordinary writes.
 * moat's writer may use the blocks reserved for root when it runs as
 * root, so those count then. true when it cannot tell: the commit decides. */
static bool has_room(const struct sq_store *s)
{
    struct statvfs v;
    if (statvfs(s->dir, &v) < 0)
        return true;
    uint64_t blocks = geteuid() == 0 ? v.f_bfree : v.f_bavail;
    return (uint64_t)blocks * v.f_frsize >= SQ_MIN_FREE_BYTES;
}

static void write_failed(struct sq_store *s, int e)
{
    if (!store_fault(e))
        return;
    __atomic_store_n(&s->write_err, e, __ATOMIC_RELEASE);
    s->next_probe_ns = now_ns() + SQ_PROBE_MS * 1000000ull;
}

bool sq_writable(struct sq_store *s)
{
    return __atomic_load_n(&s->write_err, __ATOMIC_ACQUIRE) == 0;
}

static void committed(struct sq_store *s)
{
    __atomic_add_fetch(&s->n_commits, 1, __ATOMIC_RELAXED);
    s->since_checkpoint++;
    if (!sq_writable(s) && has_room(s))
        __atomic_store_n(&s->write_err, 0, __ATOMIC_RELEASE);
}

/* Reports r's result. The request is gone afterwards: a synchronous
 * caller's frame may unwind as soon as done returns. */
static void complete(struct sq_store *s, struct sq_wreq *r, int result)
{
    __atomic_add_fetch(&s->n_writes, 1, __ATOMIC_RELAXED);
    r->result = result;
    if (!r->heap) {
        r->done(r->cls, result);
        return;
    }
    r->done(r->cls, result);
    store_insert_data_release(&r->ins);
    free(r);
}

static void run_one(struct sq_store *s, struct sq_wreq *r)
{
    int res = control(s, SQW_BEGIN);
    if (res == 0) {
        res = apply(s, r);
        if (keeps_txn(res)) {
            int c = control(s, SQW_COMMIT);
            if (c == 0) {
                committed(s);
                complete(s, r, res);
                return;
            }
            res = c;
            moat_strlcpy(r->detail, sqlite3_errmsg(s->wdb), sizeof(r->detail));
        }
    }
    rollback(s);
    write_failed(s, res);
    complete(s, r, res);
}

static void run_batch(struct sq_store *s, struct sq_wreq **b, size_t n)
{
    if (n == 1) {
        run_one(s, b[0]);
        return;
    }
    if (control(s, SQW_BEGIN) == 0) {
        size_t i = 0;
        for (; i < n; i++) {
            b[i]->result = apply(s, b[i]);
            if (!keeps_txn(b[i]->result))
                break;
        }
        if (i == n && control(s, SQW_COMMIT) == 0) {
            committed(s);
            for (i = 0; i < n; i++)
                complete(s, b[i], b[i]->result);
            return;
        }
        rollback(s);
    }
    __atomic_add_fetch(&s->n_retries, 1, __ATOMIC_RELAXED);
    for (size_t i = 0; i < n; i++)
        run_one(s, b[i]);
}

void sq_checkpoint(struct sq_store *s)
{
    /* TRUNCATE waits for readers of old snapshots; they are short, but the
     * writer must not stall behind one for the full busy timeout. */
    (void)sqlite3_busy_timeout(s->wdb, 100);
    int rc = sqlite3_wal_checkpoint_v2(s->wdb, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    (void)sqlite3_busy_timeout(s->wdb, SQ_BUSY_TIMEOUT_MS);
    if (rc == SQLITE_OK)
        __atomic_add_fetch(&s->n_checkpoints, 1, __ATOMIC_RELAXED);
    s->since_checkpoint = 0;
}

/* One probe of an unwritable store: nothing while the disk is still full,
 * else a one-page commit. */
static void probe(struct sq_store *s)
{
    s->next_probe_ns = now_ns() + SQ_PROBE_MS * 1000000ull;
    if (!has_room(s))
        return;
    int e = control(s, SQW_BEGIN);
    if (e == 0)
        e = control(s, SQW_PROBE);
    if (e == 0)
        e = control(s, SQW_COMMIT);
    if (e == 0) {
        committed(s);
        return;
    }
    rollback(s);
    write_failed(s, e);
}

/* The writer's wait for work (mu held): until a request comes, and while
 * the store is unwritable, no longer than its next probe. true when it is
 * time to probe. */
/* A CLOCK_MONOTONIC time in ns as the deadline of a timed wait (the
 * writer's condition runs on that clock). */
static struct timespec deadline_at(uint64_t ns)
{
    return (struct timespec){.tv_sec = (time_t)(ns / 1000000000u),
                             .tv_nsec = (long)(ns % 1000000000u)};
}

static bool writer_wait(struct sq_store *s)
{
    s->writer_waiting = true;
    bool due = false;
    if (sq_writable(s)) {
        pthread_cond_wait(&s->cond, &s->mu);
    } else if (now_ns() >= s->next_probe_ns) {
        due = true;
    } else {
        struct timespec until = deadline_at(s->next_probe_ns);
        due = pthread_cond_timedwait(&s->cond, &s->mu, &until) == ETIMEDOUT;
    }
    s->writer_waiting = false;
    return due && !s->head && !s->stopping;
}

/* Waits (mu held) up to SQ_CHECKPOINT_IDLE_MS for a request: true when
 * none came, so the writer is idle, not between two batches. */
static bool writer_quiet(struct sq_store *s)
{
    struct timespec until = deadline_at(now_ns() + SQ_CHECKPOINT_IDLE_MS * 1000000ull);
    s->writer_waiting = true;
    while (!s->head && !s->stopping)
        if (pthread_cond_timedwait(&s->cond, &s->mu, &until) == ETIMEDOUT)
            break;
    s->writer_waiting = false;
    return !s->head && !s->stopping;
}

static void *writer_main(void *arg)
{
    struct sq_store *s = arg;
    struct sq_wreq *batch[SQ_BATCH_MAX];
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->head && !s->stopping) {
            if (s->since_checkpoint >= SQ_CHECKPOINT_EVERY) {
                if (!writer_quiet(s))
                    continue; /* a request came (or the store stops) */
                pthread_mutex_unlock(&s->mu);
                sq_checkpoint(s);
                pthread_mutex_lock(&s->mu);
                continue;
            }
            if (writer_wait(s)) {
                pthread_mutex_unlock(&s->mu);
                probe(s);
                pthread_mutex_lock(&s->mu);
            }
        }
        if (!s->head)
            break; /* stopping, and everything queued is done */
        size_t n = 0;
        while (s->head && n < SQ_BATCH_MAX) {
            batch[n++] = s->head;
            s->head = s->head->next;
        }
        if (!s->head)
            s->tail = NULL;
        pthread_mutex_unlock(&s->mu);
        run_batch(s, batch, n);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int sq_writer_start(struct sq_store *s, struct moat_err *err)
{
    int r = sq_prepare(s->wdb, wsql, SQW_MAX_, s->wst, err);
    if (r < 0)
        return r;
    /* The writer takes no signals: they belong to the threads that wait
     * for them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&s->writer, NULL, writer_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0)
        return moat_err_set(err, -e, "cannot start the store writer: %s", strerror(e));
    (void)pthread_setname_np(s->writer, "moat-store-wr");
    s->writer_running = true;
    return 0;
}

void sq_writer_stop(struct sq_store *s)
{
    if (!s->writer_running)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->writer, NULL);
    s->writer_running = false;
}

/* ---- the callers' side ---- */

static int enqueue(struct sq_store *s, struct sq_wreq *r)
{
    r->next = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->stopping || !s->writer_running) {
        pthread_mutex_unlock(&s->mu);
        return -ESHUTDOWN;
    }
    if (s->tail)
        s->tail->next = r;
    else
        s->head = r;
    s->tail = r;
    /* Only a sleeping writer needs a wakeup; a busy one looks at the
     * queue before it sleeps. */
    bool wake = s->writer_waiting;
    pthread_mutex_unlock(&s->mu);
    if (wake)
        pthread_cond_signal(&s->cond);
    return 0;
}

int sq_insert_async(struct store *st, const struct job *job, store_done_fn done, void *cls)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_wreq *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    *r = (struct sq_wreq){.kind = SQ_W_INSERT, .heap = true, .job = job, .done = done, .cls = cls};
    int e = store_insert_data_make(job, &r->ins, r->hash);
    if (e == 0)
        e = enqueue(s, r);
    if (e < 0) {
        store_insert_data_release(&r->ins);
        free(r);
    }
    return e;
}

/* A synchronous caller waiting for its request (which lives on its stack). */
static int sync_write(struct sq_store *s, struct sq_wreq *r)
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

/* The error detail of a synchronous write that failed. */
static int report(const struct sq_wreq *r, int e, const char *what, struct moat_err *err)
{
    const char *id = r->job ? r->job->id : r->id;
    switch (e) {
    case -ENOENT:
        return moat_err_set(err, e, "no such job");
    case -EALREADY:
        return moat_err_set(err, e, "cannot %s job %s: it is %s", what, id,
                            job_status_name(r->was));
    case -ESTALE:
        return moat_err_set(err, e, "cannot %s job %s: a later attempt has taken it", what, id);
    case -ESHUTDOWN:
        return moat_err_set(err, e, "cannot %s job %s: the store is closing", what, id);
    default:
        return moat_err_set(err, e, "cannot %s job %s: %s", what, id,
                            r->detail[0] ? r->detail : strerror(-e));
    }
}

/* The ticket of a start whose commit is waited for later: the request and
 * its waiter live on the heap until sq_start_wait. */
struct sq_ticket {
    struct store_ticket base; /* first */
    struct sq_wreq r;
    struct store_sync w;
};

int sq_start_begin(struct store *st, const char *id, int64_t now_ms, bool takeover,
                   uint64_t row_wait_ms, struct store_ticket **ticket)
{
    /* one process: the start queues behind the insert, whoever pushed it */
    (void)row_wait_ms;
    struct sq_ticket *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->base.ops = st->ops;
    t->r = (struct sq_wreq){.kind = SQ_W_START,
                            .now_ms = now_ms,
                            .takeover = takeover,
                            .done = store_sync_done,
                            .cls = &t->w};
    moat_strlcpy(t->r.id, id, sizeof(t->r.id));
    store_sync_init(&t->w);
    int e = enqueue((struct sq_store *)st, &t->r);
    if (e < 0) {
        pthread_cond_destroy(&t->w.cond);
        pthread_mutex_destroy(&t->w.mu);
        free(t);
        return e;
    }
    *ticket = &t->base;
    return 0;
}

int sq_start_wait(struct store_ticket *ticket, uint32_t *attempts, uint64_t *settled_ns,
                  struct moat_err *err)
{
    struct sq_ticket *t = (struct sq_ticket *)ticket;
    store_sync_wait(&t->w);
    int e = t->r.result;
    if (e < 0)
        (void)report(&t->r, e, "start", err);
    else if (attempts)
        *attempts = t->r.attempts;
    if (settled_ns)
        *settled_ns = t->w.settled_ns;
    free(t);
    return e;
}

int sq_finish(struct store *st, const struct job *job, struct moat_err *err)
{
    struct sq_wreq r = {.kind = SQ_W_FINISH, .job = job};
    if (job->output_hash[0])
        moat_strlcpy(r.hash, job->output_hash, sizeof(r.hash));
    else
        moat_sha256_hex(job->run.out, job->run.out_len, r.hash);
    int e = store_results_make(job, &r.results, &r.results_len);
    if (e == 0)
        e = sync_write((struct sq_store *)st, &r);
    free(r.results);
    return e < 0 ? report(&r, e, "finish", err) : 0;
}

int sq_requeue(struct store *st, const char *id, uint32_t attempts, struct moat_err *err)
{
    struct sq_wreq r = {.kind = SQ_W_REQUEUE, .attempts = attempts};
    moat_strlcpy(r.id, id, sizeof(r.id));
    int e = sync_write((struct sq_store *)st, &r);
    return e < 0 ? report(&r, e, "requeue", err) : 0;
}

int sq_cancel(struct store *st, const char *id, int64_t now_ms, enum job_status *was,
              struct moat_err *err)
{
    struct sq_wreq r = {.kind = SQ_W_CANCEL, .now_ms = now_ms, .was = JOB_STATUS_MAX_};
    moat_strlcpy(r.id, id, sizeof(r.id));
    int e = sync_write((struct sq_store *)st, &r);
    if (was && (e == 0 || e == -EALREADY))
        *was = r.was;
    return e < 0 ? report(&r, e, "cancel", err) : 0;
}

int sq_callback_claim(struct store *st, const char *id, int64_t now_ms, uint64_t lease_ms,
                      uint32_t *attempt, struct moat_err *err)
{
    struct sq_wreq r = {.kind = SQ_W_CB_CLAIM, .now_ms = now_ms, .lease_ms = lease_ms};
    moat_strlcpy(r.id, id, sizeof(r.id));
    int e = sync_write((struct sq_store *)st, &r);
    if (e == 0)
        *attempt = r.attempts;
    else if (e == -EALREADY)
        return moat_err_set(err, e, "the delivery of job %s is not due", id);
    return e < 0 ? report(&r, e, "claim the delivery of", err) : 0;
}

int sq_callback_record(struct store *st, const char *id, const struct store_callback_outcome *o,
                       struct moat_err *err)
{
    struct sq_wreq r = {.kind = SQ_W_CB_RECORD, .cb = o};
    moat_strlcpy(r.id, id, sizeof(r.id));
    int e = sync_write((struct sq_store *)st, &r);
    if (e == -ESTALE)
        return moat_err_set(err, e, "the delivery of job %s was claimed again", id);
    return e < 0 ? report(&r, e, "record the delivery of", err) : 0;
}
