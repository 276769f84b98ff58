/*
 * The readers of the PostgreSQL driver: a pool of connections (the store's
 * connections but the writer's), each used by one thread at a time, made
 * when first needed and given back after each read. Every read is one
 * statement, so a row and its blobs come from the same snapshot without a
 * transaction around them.
 *
 * The database away: a read fails with -ENOTCONN within to.io_ms (the
 * connection it used is dropped); while connecting fails, further reads
 * fail at once until a doubling backoff has passed, and the first read
 * after it connects again. A connection the server closed meanwhile (a
 * restart) is noticed before it is used and replaced.
 */
#include "postgres-internal.h"
#include "moat/util.h"

#define PG_STEP_SELECT(p)                                                                          \
    p "verdict, " p "exit_code, " p "signal, " p "time_ms, " p "wall_time_ms, " p "memory_kb, " p  \
      "stdout_truncated, " p "stderr_truncated, " p "cached, " p "message"

#define PG_BLOB_OF(flag, name)                                                                     \
    "CASE WHEN " flag " THEN (SELECT data FROM " PG_SCHEMA ".blobs WHERE key = 'jobs/' || $1 ||"   \
    " '/" name "') END"

/* $1 the id (text), $2 whether the code and stdin blobs, $3 whether the
 * outputs. */
/* clang-format off */
static const char get_sql[] =
    "SELECT id::text, status, language, language_given, version, priority, time_ms,"
    " wall_time_ms, memory_mb, max_processes, max_output_kb, max_file_kb, max_open_files,"
    " stack_kb, nfiles, code_single, stdin_len, args_json, metadata_json, tags_json, attempts,"
    " created_ms, started_ms, finished_ms, code_hash, output_hash, compiled, "
    PG_STEP_SELECT("c_") ", "
    PG_STEP_SELECT("r_") ", "
    PG_BLOB_OF("$2::boolean", PG_BLOB_CODE) ", "
    PG_BLOB_OF("$2::boolean AND stdin_len > 0", PG_BLOB_STDIN) ", "
    PG_BLOB_OF("$3::boolean", PG_BLOB_STDOUT) ", "
    PG_BLOB_OF("$3::boolean", PG_BLOB_STDERR) ", "
    PG_BLOB_OF("$3::boolean", PG_BLOB_COMPILE_STDOUT) ", "
    PG_BLOB_OF("$3::boolean", PG_BLOB_COMPILE_STDERR) ", "
    "compare, abs_tol, rel_tol, expected_len, "
    PG_BLOB_OF("$2::boolean AND compare IS NOT NULL AND expected_len > 0", PG_BLOB_EXPECTED) ", "
    "ntests, stop_on_failure, "
    PG_BLOB_OF("$2::boolean AND ntests > 0", PG_BLOB_TESTS) ", "
    PG_BLOB_OF("ntests > 0 AND status IN ('completed', 'failed', 'cancelled')", PG_BLOB_RESULTS) ", "
    PG_BLOB_OF("$3::boolean", PG_BLOB_RUN_ORDER) ", "
    PG_BLOB_OF("$3::boolean", PG_BLOB_COMPILE_ORDER)
    ", cb_url, cb_shape, cb_status, cb_attempts, cb_error, cb_delivered_ms, cb_next_ms"
    " FROM " PG_SCHEMA ".jobs WHERE id = $1::text::uuid";
/* clang-format on */

/* Columns of get_sql, in order. */
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
    COL_RUN_STEP = COL_COMPILE_STEP + PG_STEP_NCOLS,
    COL_CODE = COL_RUN_STEP + PG_STEP_NCOLS,
    COL_STDIN,
    COL_STDOUT,
    COL_STDERR,
    COL_COMPILE_STDOUT,
    COL_COMPILE_STDERR,
    COL_COMPARE,
    COL_ABS_TOL,
    COL_REL_TOL,
    COL_EXPECTED_LEN,
    COL_EXPECTED,
    COL_NTESTS,
    COL_STOP_ON_FAILURE,
    COL_TESTS,
    COL_RESULTS,
    COL_RUN_ORDER,
    COL_COMPILE_ORDER,
    COL_CB_URL,
    COL_CB_SHAPE,
    COL_CB_STATUS,
    COL_CB_ATTEMPTS,
    COL_CB_ERROR,
    COL_CB_DELIVERED,
    COL_CB_NEXT,
};

static const char blob_sql[] = "SELECT data FROM " PG_SCHEMA ".blobs WHERE key = $1";
static const char pending_sql[] =
    "SELECT id::text, priority, status, attempts, created_ms, started_ms FROM " PG_SCHEMA
    ".jobs WHERE status IN ('queued', 'running') ORDER BY created_ms, id";

/* a page of ids, newest first, and the count, in one snapshot */
static const char list_sql[] = "SELECT id::text, (SELECT count(*) FROM " PG_SCHEMA
                               ".jobs) FROM " PG_SCHEMA ".jobs ORDER BY id DESC LIMIT $1 OFFSET $2";
static const char count_sql[] = "SELECT count(*) FROM " PG_SCHEMA ".jobs";

/* ---- the pool ---- */

static void reader_drop(struct pg_store *s, struct pg_reader *r)
{
    PQfinish(r->conn);
    free(r);
    pthread_mutex_lock(&s->rmu);
    s->nreaders--;
    pthread_cond_signal(&s->rcond);
    pthread_mutex_unlock(&s->rmu);
}

/* A new connection for a reader slot already counted in nreaders. */
static int reader_open(struct pg_store *s, struct pg_reader **out, struct moat_err *err)
{
    char msg[200];
    pthread_mutex_lock(&s->rmu);
    bool wait = moat_now_ns() < s->readers_retry_ns;
    if (wait)
        moat_strlcpy(msg, s->readers_error, sizeof(msg));
    pthread_mutex_unlock(&s->rmu);
    int e = -ENOTCONN;
    struct pg_reader *r = NULL;
    if (!wait) {
        r = calloc(1, sizeof(*r));
        e = r ? pg_connect(s, false, &r->conn, msg, sizeof(msg)) : -ENOMEM;
        pthread_mutex_lock(&s->rmu);
        if (e == 0) {
            s->readers_backoff_ms = 0;
            s->readers_retry_ns = 0;
        } else if (e != -ENOMEM) {
            unsigned b = s->readers_backoff_ms ? s->readers_backoff_ms * 2 : s->to.backoff_min_ms;
            s->readers_backoff_ms = b > s->to.backoff_max_ms ? s->to.backoff_max_ms : b;
            s->readers_retry_ns = pg_deadline(s->readers_backoff_ms);
            moat_strlcpy(s->readers_error, msg, sizeof(s->readers_error));
        }
        pthread_mutex_unlock(&s->rmu);
    }
    if (e == 0) {
        *out = r;
        return 0;
    }
    free(r);
    pthread_mutex_lock(&s->rmu);
    s->nreaders--;
    pthread_cond_signal(&s->rcond);
    pthread_mutex_unlock(&s->rmu);
    if (e == -ENOMEM)
        (void)moat_err_set(err, e, "out of memory");
    else
        (void)moat_err_set(err, e, "cannot read the store %s: %s", s->shown, msg);
    return e < 0 ? e : -ENOTCONN;
}

/* A connection for the calling thread: a free one that is still alive, a
 * new one while there are fewer than max_readers, else the next one given
 * back. */
static int reader_take(struct pg_store *s, struct pg_reader **out, struct moat_err *err)
{
    pthread_mutex_lock(&s->rmu);
    for (;;) {
        if (s->free_readers) {
            struct pg_reader *r = s->free_readers;
            s->free_readers = r->next;
            pthread_mutex_unlock(&s->rmu);
            if (pg_alive(r->conn)) {
                *out = r;
                return 0;
            }
            /* closed by the server meanwhile: a new one in its slot */
            PQfinish(r->conn);
            free(r);
            return reader_open(s, out, err);
        }
        if (s->nreaders < s->max_readers)
            break;
        pthread_cond_wait(&s->rcond, &s->rmu);
    }
    s->nreaders++;
    pthread_mutex_unlock(&s->rmu);
    return reader_open(s, out, err);
}

/* Gives r back after a read that ended with e: a connection that failed
 * is dropped. */
static void reader_give(struct pg_store *s, struct pg_reader *r, int e)
{
    if (e == -ENOTCONN || e == -ETIMEDOUT || !pg_alive(r->conn)) {
        reader_drop(s, r);
        return;
    }
    pthread_mutex_lock(&s->rmu);
    r->next = s->free_readers;
    s->free_readers = r;
    pthread_cond_signal(&s->rcond);
    pthread_mutex_unlock(&s->rmu);
}

void pg_readers_close(struct pg_store *s)
{
    /* no call is in flight (store_close's contract): all are free */
    while (s->free_readers) {
        struct pg_reader *r = s->free_readers;
        s->free_readers = r->next;
        PQfinish(r->conn);
        free(r);
    }
    s->nreaders = 0;
}

/* One read on a pooled connection: *res (caller PQclear) or -errno with
 * err set. */
static int read_query(struct pg_store *s, const char *sql, int n, const char *const *values,
                      unsigned ms, PGresult **res, struct moat_err *err)
{
    struct pg_reader *r = NULL;
    int e = reader_take(s, &r, err);
    if (e < 0)
        return e;
    char msg[200];
    e = pg_query(s, r->conn, sql, false, n, values, NULL, 0, true, pg_deadline(ms), res, msg,
                 sizeof(msg));
    reader_give(s, r, e);
    if (e < 0)
        return moat_err_set(err, e, "cannot read the store %s: %s", s->shown, msg);
    return 0;
}

int pg_aux_query(struct pg_store *s, const char *sql, int n, const char *const *values,
                 const int *lengths, unsigned bin_mask, PGresult **res, char *msg, size_t msgsz)
{
    struct pg_reader *r = NULL;
    int e = reader_take(s, &r, NULL);
    if (e < 0) {
        moat_strlcpy(msg, "no connection to the store", msgsz);
        return e;
    }
    e = pg_query(s, r->conn, sql, false, n, values, lengths, bin_mask, true,
                 pg_deadline(s->to.io_ms), res, msg, msgsz);
    reader_give(s, r, e);
    return e;
}

/* ---- rows and blobs ---- */

static int col_dup(const PGresult *res, int col, char **out)
{
    *out = NULL;
    if (PQgetisnull(res, 0, col))
        return 0;
    *out = moat_memdup0(PQgetvalue(res, 0, col), (size_t)PQgetlength(res, 0, col));
    return *out ? 0 : -ENOMEM;
}

/* A blob column into *data and *len (NULL and 0 for SQL NULL). */
static int col_blob(const PGresult *res, int col, char **data, size_t *len)
{
    *len = PQgetisnull(res, 0, col) ? 0 : (size_t)PQgetlength(res, 0, col);
    return col_dup(res, col, data);
}

static int col_step(const PGresult *res, int first, struct job_step *p)
{
    char v[32];
    pg_text(res, 0, first, v, sizeof(v));
    if (v[0] && job_verdict_parse(v, &p->verdict) < 0)
        return -EIO;
    p->exit_code = (int)pg_int(res, 0, first + 1);
    p->signal = (int)pg_int(res, 0, first + 2);
    p->time_ms = (uint64_t)pg_int(res, 0, first + 3);
    p->wall_time_ms = (uint64_t)pg_int(res, 0, first + 4);
    p->memory_kb = (uint64_t)pg_int(res, 0, first + 5);
    p->out_truncated = pg_bool(res, 0, first + 6);
    p->err_truncated = pg_bool(res, 0, first + 7);
    p->cached = pg_bool(res, 0, first + 8);
    pg_text(res, 0, first + 9, p->message, sizeof(p->message));
    return 0;
}

/* A nullable text column, NUL-terminated in place (libpq adds the NUL). */
static const char *col_text_or_null(const PGresult *res, int col)
{
    return PQgetisnull(res, 0, col) ? NULL : PQgetvalue(res, 0, col);
}

static int fill_callback(const PGresult *res, struct job *j)
{
    int64_t attempts = pg_int(res, 0, COL_CB_ATTEMPTS);
    const struct store_callback_row cb = {
        .url = col_text_or_null(res, COL_CB_URL),
        .shape = col_text_or_null(res, COL_CB_SHAPE),
        .status = col_text_or_null(res, COL_CB_STATUS),
        .attempts = attempts < 0 ? UINT64_MAX : (uint64_t)attempts,
        .error = col_text_or_null(res, COL_CB_ERROR),
        .delivered_ms = pg_int(res, 0, COL_CB_DELIVERED),
        .next_ms = pg_int(res, 0, COL_CB_NEXT),
    };
    return store_callback_fill(j, &cb);
}

static int row_to_job(const PGresult *res, struct job *j, bool *single, size_t *nfiles)
{
    char status[32];
    pg_text(res, 0, COL_ID, j->id, sizeof(j->id));
    pg_text(res, 0, COL_STATUS, status, sizeof(status));
    if (job_status_parse(status, &j->status) < 0)
        return -EIO;
    pg_text(res, 0, COL_LANGUAGE, j->language, sizeof(j->language));
    pg_text(res, 0, COL_LANGUAGE_GIVEN, j->language_given, sizeof(j->language_given));
    pg_text(res, 0, COL_VERSION, j->version, sizeof(j->version));
    j->priority = (int)pg_int(res, 0, COL_PRIORITY);
    uint64_t *lim[] = {&j->limits.time_ms,        &j->limits.wall_time_ms,  &j->limits.memory_mb,
                       &j->limits.max_processes,  &j->limits.max_output_kb, &j->limits.max_file_kb,
                       &j->limits.max_open_files, &j->limits.stack_kb};
    for (int i = 0; i < (int)MOAT_ARRAY_SIZE(lim); i++)
        *lim[i] = (uint64_t)pg_int(res, 0, COL_LIMITS + i);
    *nfiles = (size_t)pg_int(res, 0, COL_NFILES);
    *single = pg_bool(res, 0, COL_CODE_SINGLE);
    j->stdin_len = (size_t)pg_int(res, 0, COL_STDIN_LEN);
    int e = store_args_from_json(j, PQgetvalue(res, 0, COL_ARGS),
                                 (size_t)PQgetlength(res, 0, COL_ARGS));
    if (e < 0)
        return e == -ENOMEM ? e : -EIO;
    if (col_dup(res, COL_METADATA, &j->metadata_json) < 0 ||
        col_dup(res, COL_TAGS, &j->tags_json) < 0)
        return -ENOMEM;
    j->attempts = (uint32_t)pg_int(res, 0, COL_ATTEMPTS);
    j->created_ms = pg_int(res, 0, COL_CREATED);
    j->started_ms = pg_int(res, 0, COL_STARTED);
    j->finished_ms = pg_int(res, 0, COL_FINISHED);
    pg_text(res, 0, COL_CODE_HASH, j->code_hash, sizeof(j->code_hash));
    pg_text(res, 0, COL_OUTPUT_HASH, j->output_hash, sizeof(j->output_hash));
    j->compiled = pg_bool(res, 0, COL_COMPILED);
    if (col_step(res, COL_COMPILE_STEP, &j->compile) < 0 ||
        col_step(res, COL_RUN_STEP, &j->run) < 0)
        return -EIO;
    char compare[16];
    pg_text(res, 0, COL_COMPARE, compare, sizeof(compare));
    j->stop_on_failure = pg_bool(res, 0, COL_STOP_ON_FAILURE);
    int e2 = fill_callback(res, j);
    if (e2 < 0)
        return e2;
    return store_judging_fill(j, PQgetisnull(res, 0, COL_COMPARE) ? NULL : compare,
                              pg_double(res, 0, COL_ABS_TOL), pg_double(res, 0, COL_REL_TOL),
                              (size_t)pg_int(res, 0, COL_EXPECTED_LEN),
                              (size_t)pg_int(res, 0, COL_NTESTS));
}

/* The job's tests: what each asks when the code was read, what each gave
 * once it is final. */
static int take_tests(const PGresult *res, struct job *j, bool code, struct moat_err *err)
{
    size_t n = (size_t)pg_int(res, 0, COL_NTESTS);
    bool spec = !PQgetisnull(res, 0, COL_TESTS), results = !PQgetisnull(res, 0, COL_RESULTS);
    int e = n && code && !spec
                ? -EIO
                : store_tests_fill(j, n, spec ? PQgetvalue(res, 0, COL_TESTS) : NULL,
                                   spec ? (size_t)PQgetlength(res, 0, COL_TESTS) : 0,
                                   results ? PQgetvalue(res, 0, COL_RESULTS) : NULL,
                                   results ? (size_t)PQgetlength(res, 0, COL_RESULTS) : 0);
    if (e == -EIO)
        return moat_err_set(err, -EIO, "job %s has malformed test cases", j->id);
    return e;
}

static int take_code(const PGresult *res, struct job *j, bool single, size_t nfiles,
                     struct moat_err *err)
{
    if (PQgetisnull(res, 0, COL_CODE))
        return moat_err_set(err, -EIO, "job %s has no code", j->id);
    int e = job_code_from_blob(j, PQgetvalue(res, 0, COL_CODE),
                               (size_t)PQgetlength(res, 0, COL_CODE), single);
    if (e == -EINVAL || (e == 0 && j->nfiles != nfiles))
        return moat_err_set(err, -EIO, "job %s has a malformed code blob", j->id);
    if (e < 0)
        return e;
    size_t want = j->stdin_len;
    j->stdin_len = 0;
    if (want) {
        e = col_blob(res, COL_STDIN, &j->stdin_data, &j->stdin_len);
        if (e == 0 && j->stdin_len != want)
            return moat_err_set(err, -EIO, "job %s has a malformed stdin blob", j->id);
        if (e < 0)
            return e;
    }
    want = j->expected_len;
    j->expected_len = 0;
    if (!j->judged)
        return 0;
    if (want == 0) {
        j->expected = strdup(""); /* judged against no output at all */
        return j->expected ? 0 : -ENOMEM;
    }
    e = col_blob(res, COL_EXPECTED, &j->expected, &j->expected_len);
    if (e == 0 && j->expected_len != want)
        return moat_err_set(err, -EIO, "job %s has a malformed expected output blob", j->id);
    return e;
}

static int take_outputs(const PGresult *res, struct job *j)
{
    int e = col_blob(res, COL_STDOUT, &j->run.out, &j->run.out_len);
    if (e == 0)
        e = col_blob(res, COL_STDERR, &j->run.err, &j->run.err_len);
    if (e == 0)
        e = col_blob(res, COL_COMPILE_STDOUT, &j->compile.out, &j->compile.out_len);
    if (e == 0)
        e = col_blob(res, COL_COMPILE_STDERR, &j->compile.err, &j->compile.err_len);
    if (e == 0)
        e = col_blob(res, COL_RUN_ORDER, &j->run.order, &j->run.order_len);
    if (e == 0)
        e = col_blob(res, COL_COMPILE_ORDER, &j->compile.order, &j->compile.order_len);
    return e;
}

int pg_get(struct store *st, const char *id, unsigned what, struct job *out, struct moat_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    const char *values[] = {id, what & STORE_GET_CODE ? "t" : "f",
                            what & STORE_GET_OUTPUT ? "t" : "f"};
    PGresult *res = NULL;
    int e = read_query(s, get_sql, 3, values, s->to.io_ms, &res, err);
    if (e < 0)
        return e;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return moat_err_set(err, -ENOENT, "no such job");
    }
    struct job j = {0};
    bool single = false;
    size_t nfiles = 0;
    e = row_to_job(res, &j, &single, &nfiles);
    if (e == -EIO)
        e = moat_err_set(err, e, "job %s has a malformed row", id);
    if (e == 0 && (what & STORE_GET_CODE))
        e = take_code(res, &j, single, nfiles, err);
    else
        j.stdin_len = j.expected_len = 0; /* stdin_data, expected stay NULL: say so */
    if (e == 0 && (what & STORE_GET_OUTPUT))
        e = take_outputs(res, &j);
    if (e == 0)
        e = take_tests(res, &j, (what & STORE_GET_CODE) != 0, err);
    PQclear(res);
    if (e < 0) {
        job_release(&j);
        return e == -ENOMEM ? moat_err_set(err, e, "out of memory reading job %s", id) : e;
    }
    *out = j;
    return 0;
}

int pg_get_output(struct store *st, const char *id, char **data, size_t *len, struct moat_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    char key[PG_KEY_MAX];
    (void)snprintf(key, sizeof(key), JOB_OUTPUT_KEY_FMT, id);
    const char *values[] = {key};
    PGresult *res = NULL;
    int e = read_query(s, blob_sql, 1, values, s->to.io_ms, &res, err);
    if (e < 0)
        return e;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return moat_err_set(err, -ENOENT, "job %s has no output", id);
    }
    e = col_blob(res, 0, data, len);
    PQclear(res);
    return e < 0 ? moat_err_set(err, e, "out of memory reading job %s", id) : 0;
}

int pg_list_pending(struct store *st, struct store_pending **out, size_t *n, struct moat_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    PGresult *res = NULL;
    int e = read_query(s, pending_sql, 0, NULL, s->to.io_ms, &res, err);
    if (e < 0)
        return e;
    size_t rows = (size_t)PQntuples(res), bytes = 0;
    struct store_pending *v = NULL;
    if (rows && (!size_mul(rows, sizeof(*v), &bytes) || !(v = calloc(1, bytes)))) {
        PQclear(res);
        return moat_err_set(err, -ENOMEM, "out of memory listing jobs");
    }
    for (size_t i = 0; i < rows; i++) {
        struct store_pending *p = &v[i];
        int row = (int)i;
        char status[32];
        pg_text(res, row, 0, p->id, sizeof(p->id));
        p->priority = (int)pg_int(res, row, 1);
        pg_text(res, row, 2, status, sizeof(status));
        p->attempts = (uint32_t)pg_int(res, row, 3);
        p->created_ms = pg_int(res, row, 4);
        p->started_ms = pg_int(res, row, 5);
        if (job_status_parse(status, &p->status) < 0) {
            e = moat_err_set(err, -EIO, "job %s has a malformed row", p->id);
            break;
        }
    }
    PQclear(res);
    if (e < 0) {
        free(v);
        return e;
    }
    *out = v;
    *n = rows;
    return 0;
}

int pg_list(struct store *st, uint64_t offset, size_t limit, char (*ids)[MOAT_UUID_LEN + 1],
            size_t *n, uint64_t *total, struct moat_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    char lim[24], off[24];
    (void)snprintf(lim, sizeof(lim), "%zu", limit);
    (void)snprintf(off, sizeof(off), "%llu", (unsigned long long)offset);
    const char *values[] = {lim, off};
    PGresult *res = NULL;
    int e = read_query(s, list_sql, 2, values, s->to.io_ms, &res, err);
    if (e < 0)
        return e;
    size_t rows = (size_t)PQntuples(res);
    if (rows == 0) { /* past the end: the count alone */
        PQclear(res);
        e = read_query(s, count_sql, 0, NULL, s->to.io_ms, &res, err);
        if (e < 0)
            return e;
        *total = PQntuples(res) ? (uint64_t)pg_int(res, 0, 0) : 0;
        PQclear(res);
        *n = 0;
        return 0;
    }
    for (size_t i = 0; i < rows && i < limit; i++)
        pg_text(res, (int)i, 0, ids[i], MOAT_UUID_LEN + 1);
    *total = (uint64_t)pg_int(res, 0, 1);
    *n = rows < limit ? rows : limit;
    PQclear(res);
    return 0;
}

bool pg_ready(struct store *st)
{
    struct pg_store *s = (struct pg_store *)st;
    /* a store that cannot take a job's writes is not ready, however well
     * it reads (the writer probes it back) */
    if (!pg_writable(s))
        return false;
    PGresult *res = NULL;
    if (read_query(s, "SELECT 1", 0, NULL, s->to.ready_ms, &res, NULL) < 0)
        return false;
    PQclear(res);
    return true;
}

/* ---- webhook deliveries ----
 *
 * Their writes are a few per delivery, not per job: they run as single
 * statements on a pooled connection (autocommit: durable when the call
 * returns), not through the batching writer. The claim and the record are
 * conditional UPDATEs, so two nodes racing for one delivery serialise on
 * its row and only one wins.
 */

static const char cb_due_sql[] =
    "SELECT id::text FROM " PG_SCHEMA ".jobs WHERE cb_status = 'pending' AND cb_next_ms <= $1"
    " AND cb_lease_ms <= $1 AND status IN ('completed', 'failed', 'cancelled')"
    " ORDER BY cb_next_ms, id LIMIT $2";
static const char cb_claim_sql[] =
    "UPDATE " PG_SCHEMA ".jobs SET cb_attempts = cb_attempts + 1, cb_lease_ms = $2 + $3"
    " WHERE id = $1::text::uuid AND cb_status = 'pending' AND cb_next_ms <= $2"
    " AND cb_lease_ms <= $2 AND status IN ('completed', 'failed', 'cancelled')"
    " RETURNING cb_attempts";
static const char cb_record_sql[] =
    "UPDATE " PG_SCHEMA
    ".jobs SET cb_status = $3, cb_error = coalesce($4, cb_error), cb_delivered_ms = $5,"
    " cb_next_ms = $6, cb_lease_ms = 0 WHERE id = $1::text::uuid AND cb_status = 'pending'"
    " AND cb_attempts = $2 RETURNING id";

int pg_callback_due(struct store *st, int64_t now_ms, char (*ids)[MOAT_UUID_LEN + 1], size_t max,
                    size_t *n, struct moat_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    char now[24], lim[24];
    (void)snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    (void)snprintf(lim, sizeof(lim), "%zu", max);
    const char *values[] = {now, lim};
    PGresult *res = NULL;
    int e = read_query(s, cb_due_sql, 2, values, s->to.io_ms, &res, err);
    if (e < 0)
        return e;
    size_t rows = (size_t)PQntuples(res);
    for (size_t i = 0; i < rows && i < max; i++)
        pg_text(res, (int)i, 0, ids[i], sizeof(ids[i]));
    *n = rows < max ? rows : max;
    PQclear(res);
    return 0;
}

int pg_callback_claim(struct store *st, const char *id, int64_t now_ms, uint64_t lease_ms,
                      uint32_t *attempt, struct moat_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    char now[24], lease[24];
    (void)snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    (void)snprintf(lease, sizeof(lease), "%llu", (unsigned long long)lease_ms);
    const char *values[] = {id, now, lease};
    PGresult *res = NULL;
    int e = read_query(s, cb_claim_sql, 3, values, s->to.io_ms, &res, err);
    if (e < 0)
        return e;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return moat_err_set(err, -EALREADY, "the delivery of job %s is not due", id);
    }
    *attempt = (uint32_t)pg_int(res, 0, 0);
    PQclear(res);
    return 0;
}

int pg_callback_record(struct store *st, const char *id, const struct store_callback_outcome *o,
                       struct moat_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    char att[16], done[24], next[24];
    (void)snprintf(att, sizeof(att), "%u", o->attempt);
    (void)snprintf(done, sizeof(done), "%lld", (long long)o->delivered_ms);
    (void)snprintf(next, sizeof(next), "%lld", (long long)o->next_ms);
    const char *values[] = {id, att, job_callback_status_name(o->status), o->error, done, next};
    PGresult *res = NULL;
    int e = read_query(s, cb_record_sql, 6, values, s->to.io_ms, &res, err);
    if (e < 0)
        return e;
    bool changed = PQntuples(res) > 0;
    PQclear(res);
    return changed ? 0 : moat_err_set(err, -ESTALE, "the delivery of job %s was claimed again", id);
}
