/*
 * The readers of the SQLite driver: a small pool of read-only connections,
 * each used by one thread at a time. In WAL mode a reader sees the last
 * commit and never waits for the writer. Every read runs in one short read
 * transaction, so a row and its blobs come from the same snapshot and the
 * WAL is not held back from checkpoints for long.
 */
#include "sqlite-internal.h"
#include "moat/util.h"

#define SQ_STEP_SELECT(p)                                                                          \
    p "verdict, " p "exit_code, " p "signal, " p "time_ms, " p "wall_time_ms, " p "memory_kb, " p  \
      "stdout_truncated, " p "stderr_truncated, " p "cached, " p "message"

static const char *const rsql[SQR_MAX_] = {
    [SQR_BEGIN] = "BEGIN",
    [SQR_COMMIT] = "COMMIT",
    [SQR_GET_JOB] = ("SELECT id, status, language, language_given, version, priority, time_ms,"
                     " wall_time_ms, memory_mb, max_processes, max_output_kb, max_file_kb,"
                     " max_open_files, stack_kb, nfiles, code_single, stdin_len, args_json,"
                     " metadata_json, tags_json, attempts, created_ms, started_ms, finished_ms,"
                     " code_hash, output_hash, compiled, " SQ_STEP_SELECT("c_") ", " SQ_STEP_SELECT(
                         "r_") ", compare, abs_tol, rel_tol, expected_len, ntests, stop_on_failure,"
                               " cb_url, cb_shape, cb_status, cb_attempts, cb_error,"
                               " cb_delivered_ms, cb_next_ms FROM jobs WHERE id = ?1"),
    [SQR_GET_BLOB] = "SELECT data FROM blobs WHERE key = ?1",
    [SQR_PENDING] = "SELECT id, priority, status, attempts, created_ms, started_ms FROM jobs"
                    " WHERE status IN ('queued', 'running') ORDER BY created_ms, id",
    [SQR_LIST] = "SELECT id FROM jobs ORDER BY id DESC LIMIT ?1 OFFSET ?2",
    [SQR_COUNT] = "SELECT count(*) FROM jobs",
    [SQR_CB_DUE] = "SELECT id FROM jobs WHERE cb_status = 'pending' AND cb_next_ms <= ?1"
                   " AND cb_lease_ms <= ?1 AND status IN ('completed', 'failed', 'cancelled')"
                   " ORDER BY cb_next_ms, id LIMIT ?2",
};

/* Columns of SQR_GET_JOB, in order. */
enum {
    COL_ID,
    COL_STATUS,
    COL_LANGUAGE,
    COL_LANGUAGE_GIVEN,
    COL_VERSION,
    COL_PRIORITY,
    COL_LIMITS, /* 8 of them, in struct moat_limits order */
    COL_NFILES = COL_LIMITS + 8,
    COL_CODE_SINGLE,
    COL_STDIN_LEN,
    COL_ARGS,
    COL_METADATA,
    COL_TAGS,
    COL_ATTEMPTS,
    COL_CREATED,
    COL_STARTED,
    COL_FINISHED,
    COL_CODE_HASH,
    COL_OUTPUT_HASH,
    COL_COMPILED,
    COL_COMPILE_STEP,
    COL_RUN_STEP = COL_COMPILE_STEP + SQ_STEP_NCOLS,
    COL_COMPARE = COL_RUN_STEP + SQ_STEP_NCOLS,
    COL_ABS_TOL,
    COL_REL_TOL,
    COL_EXPECTED_LEN,
    COL_NTESTS,
    COL_STOP_ON_FAILURE,
    COL_CB_URL,
    COL_CB_SHAPE,
    COL_CB_STATUS,
    COL_CB_ATTEMPTS,
    COL_CB_ERROR,
    COL_CB_DELIVERED,
    COL_CB_NEXT,
};

/* ---- the pool ---- */

static void reader_free(struct sq_reader *r)
{
    if (!r)
        return;
    sq_finalize(r->st, SQR_MAX_);
    (void)sqlite3_close(r->db);
    free(r);
}

static int reader_open(struct sq_store *s, struct sq_reader **out, struct moat_err *err)
{
    struct sq_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    int e = sq_connect(s->path, true, &r->db, err);
    if (e == 0)
        e = sq_prepare(r->db, rsql, SQR_MAX_, r->st, err);
    if (e < 0) {
        reader_free(r);
        return e;
    }
    *out = r;
    return 0;
}

/* A connection for the calling thread: a free one, a new one while there
 * are fewer than SQ_MAX_READERS, else the next one given back. */
static int reader_take(struct sq_store *s, struct sq_reader **out, struct moat_err *err)
{
    pthread_mutex_lock(&s->rmu);
    for (;;) {
        if (s->free_readers) {
            *out = s->free_readers;
            s->free_readers = (*out)->next;
            pthread_mutex_unlock(&s->rmu);
            return 0;
        }
        if (s->nreaders < SQ_MAX_READERS)
            break;
        pthread_cond_wait(&s->rcond, &s->rmu);
    }
    s->nreaders++;
    pthread_mutex_unlock(&s->rmu);
    int e = reader_open(s, out, err);
    if (e < 0) {
        pthread_mutex_lock(&s->rmu);
        s->nreaders--;
        pthread_cond_signal(&s->rcond);
        pthread_mutex_unlock(&s->rmu);
    }
    return e;
}

static void reader_give(struct sq_store *s, struct sq_reader *r)
{
    pthread_mutex_lock(&s->rmu);
    r->next = s->free_readers;
    s->free_readers = r;
    pthread_cond_signal(&s->rcond);
    pthread_mutex_unlock(&s->rmu);
}

void sq_readers_close(struct sq_store *s)
{
    /* No call is in flight (store_close's contract): all are free. */
    while (s->free_readers) {
        struct sq_reader *r = s->free_readers;
        s->free_readers = r->next;
        reader_free(r);
    }
    s->nreaders = 0;
}

static int read_failed(struct sq_reader *r, int rc, struct moat_err *err)
{
    int e = sq_errno(rc);
    return moat_err_set(err, e < 0 ? e : -EIO, "cannot read the store: %s", sqlite3_errmsg(r->db));
}

static int read_begin(struct sq_reader *r, struct moat_err *err)
{
    sqlite3_stmt *st = r->st[SQR_BEGIN];
    int rc = sqlite3_step(st);
    (void)sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : read_failed(r, rc, err);
}

static void read_end(struct sq_reader *r)
{
    sqlite3_stmt *st = r->st[SQR_COMMIT];
    int rc = sqlite3_step(st);
    (void)sqlite3_reset(st);
    if (rc != SQLITE_DONE && !sqlite3_get_autocommit(r->db))
        (void)sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- rows and blobs ---- */

/* The blob name of job id into *data (malloc'd, NUL-terminated): 0, or
 * -ENOENT when there is none. */
static int read_blob(struct sq_reader *r, const char *name, const char *id, char **data,
                     size_t *len, struct moat_err *err)
{
    char key[SQ_KEY_MAX];
    sq_blob_key(key, id, name);
    sqlite3_stmt *st = r->st[SQR_GET_BLOB];
    (void)sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int e = 0;
    if (rc == SQLITE_ROW) {
        const void *p = sqlite3_column_blob(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        *data = moat_memdup0(p, n);
        *len = n;
        e = *data ? 0 : -ENOMEM;
    } else if (rc == SQLITE_DONE) {
        e = -ENOENT;
    } else {
        e = read_failed(r, rc, err);
    }
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st);
    return e;
}

/* Like read_blob, but a missing blob leaves *data NULL and is no error. */
static int read_blob_opt(struct sq_reader *r, const char *name, const char *id, char **data,
                         size_t *len, struct moat_err *err)
{
    int e = read_blob(r, name, id, data, len, err);
    return e == -ENOENT ? 0 : e;
}

static void col_text(sqlite3_stmt *st, int col, char *out, size_t size)
{
    const char *s = (const char *)sqlite3_column_text(st, col);
    moat_strlcpy(out, s ? s : "", size);
}

/* A nullable text column: NULL stays NULL. */
static int col_dup(sqlite3_stmt *st, int col, char **out)
{
    const char *s = (const char *)sqlite3_column_text(st, col);
    if (!s) {
        *out = NULL;
        return 0;
    }
    *out = strdup(s);
    return *out ? 0 : -ENOMEM;
}

static uint64_t col_u64(sqlite3_stmt *st, int col)
{
    return (uint64_t)sqlite3_column_int64(st, col);
}

static int col_step(sqlite3_stmt *st, int first, struct job_step *p)
{
    const char *v = (const char *)sqlite3_column_text(st, first);
    if (v && job_verdict_parse(v, &p->verdict) < 0)
        return -EIO;
    p->exit_code = sqlite3_column_int(st, first + 1);
    p->signal = sqlite3_column_int(st, first + 2);
    p->time_ms = col_u64(st, first + 3);
    p->wall_time_ms = col_u64(st, first + 4);
    p->memory_kb = col_u64(st, first + 5);
    p->out_truncated = sqlite3_column_int(st, first + 6) != 0;
    p->err_truncated = sqlite3_column_int(st, first + 7) != 0;
    p->cached = sqlite3_column_int(st, first + 8) != 0;
    col_text(st, first + 9, p->message, sizeof(p->message));
    return 0;
}

/* The row of SQR_GET_JOB into j (whose pointers are NULL). */
static int row_to_job(sqlite3_stmt *st, struct job *j, bool *single, size_t *nfiles,
                      size_t *ntests)
{
    col_text(st, COL_ID, j->id, sizeof(j->id));
    if (job_status_parse((const char *)sqlite3_column_text(st, COL_STATUS), &j->status) < 0)
        return -EIO;
    col_text(st, COL_LANGUAGE, j->language, sizeof(j->language));
    col_text(st, COL_LANGUAGE_GIVEN, j->language_given, sizeof(j->language_given));
    col_text(st, COL_VERSION, j->version, sizeof(j->version));
    j->priority = sqlite3_column_int(st, COL_PRIORITY);
    uint64_t *lim[] = {&j->limits.time_ms,        &j->limits.wall_time_ms,  &j->limits.memory_mb,
                       &j->limits.max_processes,  &j->limits.max_output_kb, &j->limits.max_file_kb,
                       &j->limits.max_open_files, &j->limits.stack_kb};
    for (int i = 0; i < (int)MOAT_ARRAY_SIZE(lim); i++)
        *lim[i] = col_u64(st, COL_LIMITS + i);
    *nfiles = (size_t)col_u64(st, COL_NFILES);
    *single = sqlite3_column_int(st, COL_CODE_SINGLE) != 0;
    j->stdin_len = (size_t)col_u64(st, COL_STDIN_LEN);
    const char *args = (const char *)sqlite3_column_text(st, COL_ARGS);
    int e = store_args_from_json(j, args ? args : "", (size_t)sqlite3_column_bytes(st, COL_ARGS));
    if (e < 0)
        return e == -ENOMEM ? e : -EIO;
    if (col_dup(st, COL_METADATA, &j->metadata_json) < 0 ||
        col_dup(st, COL_TAGS, &j->tags_json) < 0)
        return -ENOMEM;
    j->attempts = (uint32_t)col_u64(st, COL_ATTEMPTS);
    j->created_ms = sqlite3_column_int64(st, COL_CREATED);
    j->started_ms = sqlite3_column_int64(st, COL_STARTED);
    j->finished_ms = sqlite3_column_int64(st, COL_FINISHED);
    col_text(st, COL_CODE_HASH, j->code_hash, sizeof(j->code_hash));
    col_text(st, COL_OUTPUT_HASH, j->output_hash, sizeof(j->output_hash));
    j->compiled = sqlite3_column_int(st, COL_COMPILED) != 0;
    if (col_step(st, COL_COMPILE_STEP, &j->compile) < 0 || col_step(st, COL_RUN_STEP, &j->run) < 0)
        return -EIO;
    *ntests = (size_t)col_u64(st, COL_NTESTS);
    if (store_judging_fill(j, (const char *)sqlite3_column_text(st, COL_COMPARE),
                           sqlite3_column_double(st, COL_ABS_TOL),
                           sqlite3_column_double(st, COL_REL_TOL),
                           (size_t)col_u64(st, COL_EXPECTED_LEN), *ntests) < 0)
        return -EIO;
    j->stop_on_failure = sqlite3_column_int(st, COL_STOP_ON_FAILURE) != 0;
    const struct store_callback_row cb = {
        .url = (const char *)sqlite3_column_text(st, COL_CB_URL),
        .shape = (const char *)sqlite3_column_text(st, COL_CB_SHAPE),
        .status = (const char *)sqlite3_column_text(st, COL_CB_STATUS),
        .attempts = col_u64(st, COL_CB_ATTEMPTS),
        .error = (const char *)sqlite3_column_text(st, COL_CB_ERROR),
        .delivered_ms = sqlite3_column_int64(st, COL_CB_DELIVERED),
        .next_ms = sqlite3_column_int64(st, COL_CB_NEXT),
    };
    return store_callback_fill(j, &cb);
}

/* The row of job id; -ENOENT when there is none. */
static int read_row(struct sq_reader *r, const char *id, struct job *j, bool *single,
                    size_t *nfiles, size_t *ntests, struct moat_err *err)
{
    sqlite3_stmt *st = r->st[SQR_GET_JOB];
    (void)sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int e;
    if (rc == SQLITE_ROW) {
        e = row_to_job(st, j, single, nfiles, ntests);
        if (e == -EIO)
            e = moat_err_set(err, e, "job %s has a malformed row", id);
    } else if (rc == SQLITE_DONE) {
        e = moat_err_set(err, -ENOENT, "no such job");
    } else {
        e = read_failed(r, rc, err);
    }
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st);
    return e;
}

/* A judged job's expected output (an empty one has no blob). */
static int read_expected(struct sq_reader *r, struct job *j, struct moat_err *err)
{
    size_t want = j->expected_len;
    j->expected_len = 0;
    if (!j->judged)
        return 0;
    if (want == 0) {
        j->expected = strdup("");
        return j->expected ? 0 : -ENOMEM;
    }
    int e = read_blob(r, SQ_BLOB_EXPECTED, j->id, &j->expected, &j->expected_len, err);
    if (e == -ENOENT || (e == 0 && j->expected_len != want))
        return moat_err_set(err, -EIO, "job %s has a malformed expected output blob", j->id);
    return e;
}

static int read_code(struct sq_reader *r, struct job *j, bool single, size_t nfiles,
                     struct moat_err *err)
{
    char *blob = NULL;
    size_t len = 0;
    int e = read_blob(r, SQ_BLOB_CODE, j->id, &blob, &len, err);
    if (e == -ENOENT)
        return moat_err_set(err, -EIO, "job %s has no code", j->id);
    if (e < 0)
        return e;
    e = job_code_from_blob(j, blob, len, single);
    free(blob);
    if (e == -EINVAL || (e == 0 && j->nfiles != nfiles))
        return moat_err_set(err, -EIO, "job %s has a malformed code blob", j->id);
    if (e < 0)
        return e;
    size_t want = j->stdin_len;
    j->stdin_len = 0;
    if (want) {
        e = read_blob(r, SQ_BLOB_STDIN, j->id, &j->stdin_data, &j->stdin_len, err);
        if (e == -ENOENT || (e == 0 && j->stdin_len != want))
            return moat_err_set(err, -EIO, "job %s has a malformed stdin blob", j->id);
        if (e < 0)
            return e;
    }
    return read_expected(r, j, err);
}

/* A job's tests: what each asks with the code (code), what each gave once
 * it is final. */
static int read_tests(struct sq_reader *r, struct job *j, size_t ntests, bool code,
                      struct moat_err *err)
{
    if (ntests == 0)
        return 0;
    char *spec = NULL, *res = NULL;
    size_t ns = 0, nr = 0;
    int e = code ? read_blob(r, SQ_BLOB_TESTS, j->id, &spec, &ns, err) : 0;
    if (e == 0 && job_status_final(j->status))
        e = read_blob_opt(r, SQ_BLOB_RESULTS, j->id, &res, &nr, err);
    if (e == 0 || e == -ENOENT)
        e = e == -ENOENT ? -EIO : store_tests_fill(j, ntests, spec, ns, res, nr);
    free(spec);
    free(res);
    if (e == -EIO)
        return moat_err_set(err, -EIO, "job %s has malformed test cases", j->id);
    return e;
}

static int read_outputs(struct sq_reader *r, struct job *j, struct moat_err *err)
{
    int e = read_blob_opt(r, SQ_BLOB_STDOUT, j->id, &j->run.out, &j->run.out_len, err);
    if (e == 0)
        e = read_blob_opt(r, SQ_BLOB_STDERR, j->id, &j->run.err, &j->run.err_len, err);
    if (e == 0)
        e = read_blob_opt(r, SQ_BLOB_COMPILE_STDOUT, j->id, &j->compile.out, &j->compile.out_len,
                          err);
    if (e == 0)
        e = read_blob_opt(r, SQ_BLOB_COMPILE_STDERR, j->id, &j->compile.err, &j->compile.err_len,
                          err);
    if (e == 0)
        e = read_blob_opt(r, SQ_BLOB_RUN_ORDER, j->id, &j->run.order, &j->run.order_len, err);
    if (e == 0)
        e = read_blob_opt(r, SQ_BLOB_COMPILE_ORDER, j->id, &j->compile.order,
                          &j->compile.order_len, err);
    return e;
}

int sq_get(struct store *st, const char *id, unsigned what, struct job *out, struct moat_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_reader *r = NULL;
    int e = reader_take(s, &r, err);
    if (e < 0)
        return e;
    struct job j = {0};
    bool single = false;
    size_t nfiles = 0, ntests = 0;
    e = read_begin(r, err);
    if (e < 0)
        goto out;
    e = read_row(r, id, &j, &single, &nfiles, &ntests, err);
    if (e == 0 && (what & STORE_GET_CODE))
        e = read_code(r, &j, single, nfiles, err);
    else
        j.stdin_len = j.expected_len = 0; /* stdin_data, expected stay NULL: say so */
    if (e == 0 && (what & STORE_GET_OUTPUT))
        e = read_outputs(r, &j, err);
    if (e == 0)
        e = read_tests(r, &j, ntests, (what & STORE_GET_CODE) != 0, err);
    read_end(r);
out:
    reader_give(s, r);
    if (e < 0) {
        job_release(&j);
        return e == -ENOMEM ? moat_err_set(err, e, "out of memory reading job %s", id) : e;
    }
    *out = j;
    return 0;
}

int sq_get_output(struct store *st, const char *id, char **data, size_t *len, struct moat_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_reader *r = NULL;
    int e = reader_take(s, &r, err);
    if (e < 0)
        return e;
    e = read_blob(r, SQ_BLOB_STDOUT, id, data, len, err);
    reader_give(s, r);
    if (e == -ENOENT)
        return moat_err_set(err, e, "job %s has no output", id);
    return e;
}

int sq_list_pending(struct store *st, struct store_pending **out, size_t *n, struct moat_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_reader *r = NULL;
    int e = reader_take(s, &r, err);
    if (e < 0)
        return e;
    struct store_pending *v = NULL;
    size_t len = 0, cap = 0;
    sqlite3_stmt *q = r->st[SQR_PENDING];
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 64, bytes;
            struct store_pending *nv = NULL;
            if (size_mul(ncap, sizeof(*v), &bytes))
                nv = realloc(v, bytes);
            if (!nv) {
                e = -ENOMEM;
                break;
            }
            v = nv;
            cap = ncap;
        }
        struct store_pending *p = &v[len++];
        *p = (struct store_pending){0};
        col_text(q, 0, p->id, sizeof(p->id));
        p->priority = sqlite3_column_int(q, 1);
        p->attempts = (uint32_t)col_u64(q, 3);
        p->created_ms = sqlite3_column_int64(q, 4);
        p->started_ms = sqlite3_column_int64(q, 5);
        if (job_status_parse((const char *)sqlite3_column_text(q, 2), &p->status) < 0) {
            e = moat_err_set(err, -EIO, "job %s has a malformed row", p->id);
            break;
        }
    }
    if (e == 0 && rc != SQLITE_DONE)
        e = read_failed(r, rc, err);
    (void)sqlite3_reset(q);
    reader_give(s, r);
    if (e < 0) {
        free(v);
        return e == -ENOMEM ? moat_err_set(err, e, "out of memory listing jobs") : e;
    }
    *out = v;
    *n = len;
    return 0;
}

int sq_list(struct store *st, uint64_t offset, size_t limit, char (*ids)[MOAT_UUID_LEN + 1],
            size_t *n, uint64_t *total, struct moat_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_reader *r = NULL;
    int e = reader_take(s, &r, err);
    if (e < 0)
        return e;
    /* one read transaction: the page and the count agree */
    int rc = sqlite3_step(r->st[SQR_BEGIN]);
    (void)sqlite3_reset(r->st[SQR_BEGIN]);
    sqlite3_stmt *q = r->st[SQR_LIST];
    (void)sqlite3_bind_int64(q, 1, (sqlite3_int64)limit);
    (void)sqlite3_bind_int64(q, 2, (sqlite3_int64)offset);
    size_t k = 0;
    if (rc == SQLITE_DONE) /* began */
        while (k < limit && (rc = sqlite3_step(q)) == SQLITE_ROW)
            col_text(q, 0, ids[k++], MOAT_UUID_LEN + 1);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        rc = sqlite3_step(r->st[SQR_COUNT]);
        if (rc == SQLITE_ROW)
            *total = col_u64(r->st[SQR_COUNT], 0);
    }
    e = rc == SQLITE_ROW ? 0 : read_failed(r, rc, err);
    (void)sqlite3_reset(q);
    (void)sqlite3_reset(r->st[SQR_COUNT]);
    (void)sqlite3_step(r->st[SQR_COMMIT]);
    (void)sqlite3_reset(r->st[SQR_COMMIT]);
    reader_give(s, r);
    if (e == 0)
        *n = k;
    return e;
}

bool sq_ready(struct store *st)
{
    struct sq_store *s = (struct sq_store *)st;
    /* a store that cannot take a job's writes is not ready, however well
     * it reads (the writer probes it back) */
    if (!sq_writable(s))
        return false;
    struct sq_reader *r = NULL;
    if (reader_take(s, &r, NULL) < 0)
        return false;
    int e = read_begin(r, NULL);
    if (e == 0) {
        /* a read that touches the file: a broken database fails here */
        sqlite3_stmt *q = r->st[SQR_GET_BLOB];
        (void)sqlite3_bind_text(q, 1, "", -1, SQLITE_STATIC);
        int rc = sqlite3_step(q);
        e = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -EIO;
        (void)sqlite3_reset(q);
        (void)sqlite3_clear_bindings(q);
        read_end(r);
    }
    reader_give(s, r);
    return e == 0;
}

int sq_callback_due(struct store *st, int64_t now_ms, char (*ids)[MOAT_UUID_LEN + 1], size_t max,
                    size_t *n, struct moat_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_reader *r = NULL;
    int e = reader_take(s, &r, err);
    if (e < 0)
        return e;
    sqlite3_stmt *q = r->st[SQR_CB_DUE];
    (void)sqlite3_bind_int64(q, 1, now_ms);
    (void)sqlite3_bind_int64(q, 2, (sqlite3_int64)max);
    size_t len = 0;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW && len < max)
        col_text(q, 0, ids[len++], sizeof(ids[0]));
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        e = read_failed(r, rc, err);
    (void)sqlite3_reset(q);
    (void)sqlite3_clear_bindings(q);
    reader_give(s, r);
    if (e < 0)
        return e;
    *n = len;
    return 0;
}
