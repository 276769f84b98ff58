/*
 * The writer of the PostgreSQL driver: one thread, one connection, group
 * commit. Callers queue requests; the writer takes everything queued (up to
 * PG_BATCH_MAX) and sends it as one pipeline (libpq pipeline mode): BEGIN,
 * the statements of every request, the batch's token in write_log, COMMIT,
 * one Sync. One round trip and one WAL flush for the whole batch; each
 * result is reported only after the COMMIT answered.
 *
 * Many nodes write the same rows, so no write relies on having read
 * first. A request that changes nothing is not an error: an insert is
 * INSERT ... ON CONFLICT DO NOTHING (no row back: -EEXIST), a state change
 * is an UPDATE ... WHERE <the state it needs> RETURNING (no row back:
 * refused). Each state change first locks its row (SELECT ... FOR UPDATE,
 * which returns the latest committed version, the status that decides
 * between -ENOENT, -EALREADY and -ESTALE); the UPDATE that follows, a new
 * statement under READ COMMITTED, sees that same version, and nothing can
 * change it before the COMMIT. Requests are sent in the order of their job
 * ids (a stable sort: the writes of one job keep their order), so two
 * nodes lock rows in the same order and their batches never deadlock.
 *
 * A statement that fails (a value the database refuses) aborts the
 * pipeline; the batch is then sent again one request per transaction, so
 * that the bad one fails alone.
 *
 * The database away: a write waits for it at most to.write_wait_ms after
 * it was queued, and then fails with -ENOTCONN; the writer reconnects with
 * a doubling backoff, and while the store is not writable and idle it
 * probes it every to.probe_ms, so that store_ready comes back by itself.
 *
 * An outcome lost: when the connection breaks (or the database stops
 * answering) after a batch was sent, its COMMIT may have been carried out.
 * Every batch writes its token to write_log (one row per writer, keyed by
 * a random number drawn at open) in the same transaction, and every row it
 * changes gets the token in write_token. Once connected again, the writer
 * reads its row of write_log: the batch's token there means it committed,
 * and each request's result is the one its statements answered, or for
 * those whose answer was lost, what its row says (the token on the row:
 * this batch's write is its latest; else it changed nothing, or a later
 * write of another node followed it, and the result is what that row is
 * now: an insert whose row holds this job's code hash and creation time
 * succeeded). Another token means the batch did not commit: it is sent
 * again. A batch whose outcome cannot be learnt within
 * to.resolve_wait_ms fails with -ENOTCONN, saying that it may have
 * committed: the one bound that keeps callers from waiting for ever.
 */
#include <limits.h>
#include <signal.h>
#include <time.h>

#include "postgres-internal.h"
#include "moat/util.h"

enum pg_wkind { PG_W_INSERT, PG_W_START, PG_W_FINISH, PG_W_REQUEUE, PG_W_CANCEL };

struct pg_wreq {
    struct pg_wreq *next;
    enum pg_wkind kind;
    bool heap;                  /* the writer frees it after done */
    const struct job *job;      /* insert, finish: borrowed until done */
    char id[MOAT_UUID_LEN + 1]; /* every kind (a copy of job->id for insert, finish) */
    int64_t now_ms;
    bool takeover;
    const char *code; /* insert: the code blob (the job's own file, or code_owned) */
    size_t code_len;
    char *code_owned;
    char *args_json;                    /* NULL = "[]" */
    char hash[MOAT_SHA256_HEX_LEN + 1]; /* code_hash (insert), output_hash (finish) */
    uint64_t seq;                       /* queue order */
    uint64_t deadline_ns;               /* fails with -ENOTCONN past it, the database away */
    /* the answers of the current attempt */
    int nres;         /* statements answered */
    bool found;       /* the lock found the row */
    bool changed;     /* the write changed it */
    uint32_t row_attempts;
    /* results */
    int result;
    uint32_t attempts;
    enum job_status was;
    char detail[200];
    store_done_fn done;
    void *cls;
};

/* Prepared statements of the writer connection. */
enum { WS_INSERT, WS_LOCK, WS_START, WS_FINISH, WS_REQUEUE, WS_CANCEL, WS_LOG, WS_TOKEN, WS_ROW, WS_MAX_ };

static const char *const wnames[WS_MAX_] = {
    "moat_insert", "moat_lock", "moat_start", "moat_finish", "moat_requeue",
    "moat_cancel", "moat_log",  "moat_token", "moat_row",
};

static const char *const wsql[WS_MAX_] = {
    [WS_INSERT] =
        "WITH j AS (INSERT INTO " PG_SCHEMA ".jobs (id, status, language, language_given, version,"
        " priority, time_ms, wall_time_ms, memory_mb, max_processes, max_output_kb, max_file_kb,"
        " max_open_files, stack_kb, nfiles, code_single, stdin_len, args_json, metadata_json,"
        " tags_json, created_ms, code_hash, write_token) VALUES ($1::text::uuid, 'queued', $2,"
        " $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,"
        " $21, $22) ON CONFLICT (id) DO NOTHING RETURNING id),"
        " b AS (INSERT INTO " PG_SCHEMA ".blobs (key, data) SELECT 'jobs/' || $1 || '/' || v.name,"
        " v.data FROM j, (VALUES ('" PG_BLOB_CODE "', $23::bytea), ('" PG_BLOB_STDIN "',"
        " $24::bytea)) v (name, data) WHERE v.data IS NOT NULL"
        " ON CONFLICT (key) DO UPDATE SET data = excluded.data)"
        " SELECT count(*) FROM j",
    [WS_LOCK] = "SELECT status, attempts FROM " PG_SCHEMA ".jobs WHERE id = $1::text::uuid"
                " FOR UPDATE",
    [WS_START] = "UPDATE " PG_SCHEMA ".jobs SET status = 'running', attempts = attempts + 1,"
                 " started_ms = $2, write_token = $4 WHERE id = $1::text::uuid AND"
                 " (status = 'queued' OR ($3 AND status = 'running')) RETURNING attempts",
    [WS_FINISH] =
        "WITH u AS (UPDATE " PG_SCHEMA ".jobs SET status = $2, finished_ms = $3,"
        " output_hash = $4, compiled = $5, c_verdict = $6, c_exit_code = $7, c_signal = $8,"
        " c_time_ms = $9, c_wall_time_ms = $10, c_memory_kb = $11, c_stdout_truncated = $12,"
        " c_stderr_truncated = $13, c_cached = $14, c_message = $15, r_verdict = $16,"
        " r_exit_code = $17, r_signal = $18, r_time_ms = $19, r_wall_time_ms = $20,"
        " r_memory_kb = $21, r_stdout_truncated = $22, r_stderr_truncated = $23, r_cached = $24,"
        " r_message = $25, write_token = $27 WHERE id = $1::text::uuid AND status = 'running'"
        " AND attempts = $26 RETURNING id),"
        " b AS (INSERT INTO " PG_SCHEMA ".blobs (key, data) SELECT 'jobs/' || $1 || '/' || v.name,"
        " v.data FROM u, (VALUES ('" PG_BLOB_STDOUT "', $28::bytea), ('" PG_BLOB_STDERR "',"
        " $29::bytea), ('" PG_BLOB_COMPILE_STDOUT "', $30::bytea), ('" PG_BLOB_COMPILE_STDERR "',"
        " $31::bytea)) v (name, data) WHERE v.data IS NOT NULL"
        " ON CONFLICT (key) DO UPDATE SET data = excluded.data)"
        " SELECT id FROM u",
    [WS_REQUEUE] = "UPDATE " PG_SCHEMA ".jobs SET status = 'queued', write_token = $3"
                   " WHERE id = $1::text::uuid AND status = 'running' AND attempts = $2"
                   " RETURNING id",
    [WS_CANCEL] = "UPDATE " PG_SCHEMA ".jobs SET status = 'cancelled', finished_ms = $2,"
                  " write_token = $3 WHERE id = $1::text::uuid AND status IN ('queued', 'running')"
                  " RETURNING id",
    [WS_LOG] = "INSERT INTO " PG_SCHEMA ".write_log (writer, token, at_ms) VALUES ($1, $2, $3)"
               " ON CONFLICT (writer) DO UPDATE SET token = excluded.token, at_ms = excluded.at_ms",
    [WS_TOKEN] = "SELECT token FROM " PG_SCHEMA ".write_log WHERE writer = $1",
    [WS_ROW] = "SELECT status, attempts, write_token, started_ms, created_ms, code_hash FROM " PG_SCHEMA
               ".jobs WHERE id = $1::text::uuid",
};

/* ---- parameters ---- */

#define PG_MAX_PARAMS 32

struct pg_params {
    int n;
    const char *v[PG_MAX_PARAMS];
    int len[PG_MAX_PARAMS];
    int fmt[PG_MAX_PARAMS];
    char num[PG_MAX_PARAMS][24];
};

static void p_text(struct pg_params *p, const char *s)
{
    p->v[p->n] = s;
    p->len[p->n] = 0;
    p->fmt[p->n] = 0;
    p->n++;
}

static void p_i64(struct pg_params *p, int64_t x)
{
    (void)snprintf(p->num[p->n], sizeof(p->num[0]), "%lld", (long long)x);
    p_text(p, p->num[p->n]);
}

/* Unsigned values are kept bit for bit in bigint. */
static void p_u64(struct pg_params *p, uint64_t x)
{
    p_i64(p, (int64_t)x);
}

static void p_bool(struct pg_params *p, bool b)
{
    p_text(p, b ? "t" : "f");
}

/* Binary bytea; "" for none (a NULL value would be SQL NULL). */
static void p_bytes(struct pg_params *p, const char *data, size_t len)
{
    p->v[p->n] = data && len ? data : "";
    p->len[p->n] = len > INT_MAX ? INT_MAX : (int)len;
    p->fmt[p->n] = 1;
    p->n++;
}

static void p_null(struct pg_params *p)
{
    p_text(p, NULL);
}

static bool send_prepared(PGconn *c, int which, const struct pg_params *p)
{
    return PQsendQueryPrepared(c, wnames[which], p->n, p->v, p->len, p->fmt, 1) == 1;
}

static void p_step(struct pg_params *p, const struct job_step *st)
{
    const char *v = job_verdict_name(st->verdict);
    if (v)
        p_text(p, v);
    else
        p_null(p);
    p_i64(p, st->exit_code);
    p_i64(p, st->signal);
    p_u64(p, st->time_ms);
    p_u64(p, st->wall_time_ms);
    p_u64(p, st->memory_kb);
    p_bool(p, st->out_truncated);
    p_bool(p, st->err_truncated);
    p_bool(p, st->cached);
    /* bounded and terminated by whoever wrote the step */
    p_text(p, st->message);
}

/* ---- sending one request ---- */

static int nstatements(const struct pg_wreq *r)
{
    return r->kind == PG_W_INSERT ? 1 : 2;
}

static bool send_insert(PGconn *c, const struct pg_wreq *r, uint64_t token)
{
    const struct job *j = r->job;
    struct pg_params p = {0};
    p_text(&p, j->id);
    p_text(&p, j->language);
    p_text(&p, j->language_given);
    p_text(&p, j->version);
    p_i64(&p, j->priority);
    const struct moat_limits *l = &j->limits;
    const uint64_t lim[] = {l->time_ms,       l->wall_time_ms, l->memory_mb,      l->max_processes,
                            l->max_output_kb, l->max_file_kb,  l->max_open_files, l->stack_kb};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(lim); i++)
        p_u64(&p, lim[i]);
    p_u64(&p, j->nfiles);
    p_bool(&p, r->code_owned == NULL);
    p_u64(&p, j->stdin_len);
    p_text(&p, r->args_json ? r->args_json : "[]");
    p_text(&p, j->metadata_json);
    p_text(&p, j->tags_json);
    p_i64(&p, j->created_ms);
    p_text(&p, r->hash);
    p_u64(&p, token);
    p_bytes(&p, r->code, r->code_len);
    if (j->stdin_len)
        p_bytes(&p, j->stdin_data, j->stdin_len);
    else
        p_null(&p);
    return send_prepared(c, WS_INSERT, &p);
}

static bool send_finish(PGconn *c, const struct pg_wreq *r, uint64_t token)
{
    const struct job *j = r->job;
    struct pg_params p = {0};
    p_text(&p, j->id);
    p_text(&p, job_status_name(j->status));
    p_i64(&p, j->finished_ms);
    p_text(&p, r->hash);
    p_bool(&p, j->compiled);
    p_step(&p, &j->compile);
    p_step(&p, &j->run);
    p_u64(&p, j->attempts);
    p_u64(&p, token);
    p_bytes(&p, j->run.out, j->run.out_len);
    p_bytes(&p, j->run.err, j->run.err_len);
    if (j->compiled) {
        p_bytes(&p, j->compile.out, j->compile.out_len);
        p_bytes(&p, j->compile.err, j->compile.err_len);
    } else {
        p_null(&p);
        p_null(&p);
    }
    return send_prepared(c, WS_FINISH, &p);
}

static bool send_request(PGconn *c, const struct pg_wreq *r, uint64_t token)
{
    if (r->kind == PG_W_INSERT)
        return send_insert(c, r, token);
    struct pg_params p = {0};
    p_text(&p, r->id);
    if (!send_prepared(c, WS_LOCK, &p))
        return false;
    switch (r->kind) {
    case PG_W_START:
        p_i64(&p, r->now_ms);
        p_bool(&p, r->takeover);
        p_u64(&p, token);
        return send_prepared(c, WS_START, &p);
    case PG_W_FINISH:
        return send_finish(c, r, token);
    case PG_W_REQUEUE:
        p_u64(&p, r->attempts);
        p_u64(&p, token);
        return send_prepared(c, WS_REQUEUE, &p);
    case PG_W_CANCEL:
        p_i64(&p, r->now_ms);
        p_u64(&p, token);
        return send_prepared(c, WS_CANCEL, &p);
    case PG_W_INSERT:
        break;
    }
    return false;
}

/* ---- results ---- */

static int parse_status(const PGresult *res, int row, int col, enum job_status *out)
{
    char name[32];
    pg_text(res, row, col, name, sizeof(name));
    return job_status_parse(name, out) < 0 ? -EIO : 0;
}

/* Takes statement r->nres of r's answer (a successful one). */
static void take_answer(struct pg_wreq *r, const PGresult *res)
{
    int k = r->nres++;
    if (r->kind == PG_W_INSERT) {
        r->changed = pg_int(res, 0, 0) > 0;
        return;
    }
    if (k == 0) {
        r->found = PQntuples(res) > 0;
        if (r->found && parse_status(res, 0, 0, &r->was) < 0)
            r->found = false;
        r->row_attempts = r->found ? (uint32_t)pg_int(res, 0, 1) : 0;
        return;
    }
    r->changed = PQntuples(res) > 0;
    if (r->changed && r->kind == PG_W_START)
        r->attempts = (uint32_t)pg_int(res, 0, 0);
}

/* The result of r once its statements answered and the batch committed. */
static int outcome(struct pg_wreq *r)
{
    if (r->kind == PG_W_INSERT)
        return r->changed ? 0 : -EEXIST;
    if (r->changed)
        return 0;
    if (!r->found)
        return -ENOENT;
    /* fenced by attempt n: stale when a later attempt has had the job,
     * running or already final (not a cancel) */
    uint32_t given = r->kind == PG_W_FINISH ? r->job->attempts : r->attempts;
    bool fenced = r->kind == PG_W_FINISH || r->kind == PG_W_REQUEUE;
    return fenced && (r->was == JOB_STATUS_RUNNING || r->row_attempts != given) ? -ESTALE
                                                                               : -EALREADY;
}

/* ---- one batch ---- */

enum batch_end {
    BATCH_COMMITTED,
    BATCH_ABORTED, /* the database refused a statement; nothing was committed */
    BATCH_LOST,    /* the connection broke: the outcome is unknown */
};

struct batch {
    struct pg_wreq **b;
    size_t n;
    uint64_t token;
    int err;         /* the failure of an aborted or lost batch */
    char msg[200];   /* its message */
    size_t bad;      /* the request whose statement failed (aborted), n for none */
};

static uint64_t next_token(struct pg_store *s)
{
    return s->token_base + ++s->token_next;
}

static bool send_batch(struct pg_store *s, struct batch *bt)
{
    PGconn *c = s->wconn;
    if (!PQenterPipelineMode(c))
        return false;
    if (!PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 1))
        return false;
    for (size_t i = 0; i < bt->n; i++) {
        bt->b[i]->nres = 0;
        bt->b[i]->found = bt->b[i]->changed = false;
        if (!send_request(c, bt->b[i], bt->token))
            return false;
    }
    struct pg_params p = {0};
    p_u64(&p, s->token_base);
    p_u64(&p, bt->token);
    p_u64(&p, moat_realtime_ms());
    return send_prepared(c, WS_LOG, &p) &&
           PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 1) && PQpipelineSync(c);
}

/* Reads the answers of a sent batch up to its Sync. */
static enum batch_end read_batch(struct pg_store *s, struct batch *bt, uint64_t deadline)
{
    PGconn *c = s->wconn;
    size_t item = 0;
    bool began = false, committed = false, aborted = false;
    for (;;) {
        int e = pg_await(c, deadline);
        if (e < 0) {
            bt->err = -ENOTCONN;
            moat_strlcpy(bt->msg, e == -ETIMEDOUT ? "the database did not answer in time"
                                                  : "the connection to the database was lost",
                         sizeof(bt->msg));
            return BATCH_LOST;
        }
        PGresult *res = PQgetResult(c);
        if (!res)
            continue; /* the end of one statement's answer */
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            break;
        }
        while (item < bt->n && bt->b[item]->nres == nstatements(bt->b[item]))
            item++;
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            if (!began)
                began = true;
            else if (item < bt->n)
                take_answer(bt->b[item], res);
            else
                committed = strcmp(PQcmdStatus(res), "COMMIT") == 0 || committed;
        } else if (st != PGRES_PIPELINE_ABORTED && !aborted) {
            aborted = true;
            bt->err = pg_errno(res);
            pg_message(s, res, c, bt->msg, sizeof(bt->msg));
            bt->bad = began ? item : bt->n;
            if (bt->err == -ENOTCONN) {
                PQclear(res);
                return BATCH_LOST;
            }
        }
        PQclear(res);
    }
    (void)PQexitPipelineMode(c);
    if (committed && !aborted)
        return BATCH_COMMITTED;
    if (!aborted) {
        bt->err = -EIO;
        moat_strlcpy(bt->msg, "the database did not commit", sizeof(bt->msg));
    }
    /* an explicit transaction that failed stays open, aborted */
    if (PQtransactionStatus(c) != PQTRANS_IDLE) {
        PGresult *r = NULL;
        char msg[200];
        if (pg_query(s, c, "ROLLBACK", false, 0, NULL, NULL, 0, false,
                     pg_deadline(s->to.io_ms), &r, msg, sizeof(msg)) < 0)
            return BATCH_LOST; /* nothing committed, but the connection is unusable */
        PQclear(r);
    }
    return BATCH_ABORTED;
}

static enum batch_end run_pipeline(struct pg_store *s, struct batch *bt)
{
    bt->err = 0;
    bt->msg[0] = '\0';
    bt->bad = bt->n;
    uint64_t deadline = pg_deadline(s->to.io_ms);
    if (!send_batch(s, bt)) {
        /* what was flushed may have run, COMMIT included (the server runs
         * each statement as it comes, Sync or not) */
        pg_message(s, NULL, s->wconn, bt->msg, sizeof(bt->msg));
        bt->err = -ENOTCONN;
        return BATCH_LOST;
    }
    if (pg_flush(s->wconn, deadline) < 0) {
        bt->err = -ENOTCONN;
        moat_strlcpy(bt->msg, "the database did not take the writes in time", sizeof(bt->msg));
        return BATCH_LOST;
    }
    return read_batch(s, bt, deadline);
}

/* ---- health and the connection ---- */

static void write_failed(struct pg_store *s, int e)
{
    if (!pg_store_fault(e))
        return;
    __atomic_store_n(&s->write_err, e, __ATOMIC_RELEASE);
    s->next_probe_ns = pg_deadline(s->to.probe_ms);
}

bool pg_writable(struct pg_store *s)
{
    return __atomic_load_n(&s->write_err, __ATOMIC_ACQUIRE) == 0;
}

static void committed(struct pg_store *s)
{
    __atomic_add_fetch(&s->n_commits, 1, __ATOMIC_RELAXED);
    if (!pg_writable(s))
        __atomic_store_n(&s->write_err, 0, __ATOMIC_RELEASE);
}

static void drop_conn(struct pg_store *s)
{
    PQfinish(s->wconn);
    s->wconn = NULL;
}

/* Prepares the writer's statements on a new connection. */
static int prepare_writer(struct pg_store *s, PGconn *c, char *msg, size_t msgsz)
{
    return pg_prepare_all(s, c, wnames, wsql, WS_MAX_, pg_deadline(s->to.io_ms), msg, msgsz);
}

/* After a failed connection attempt: none before a doubling backoff. */
static void conn_failed(struct pg_store *s)
{
    drop_conn(s);
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : s->to.backoff_min_ms;
    if (s->backoff_ms > s->to.backoff_max_ms)
        s->backoff_ms = s->to.backoff_max_ms;
    s->next_connect_ns = pg_deadline(s->backoff_ms);
    write_failed(s, -ENOTCONN);
}

/* A usable connection: the one there is, or a new one when the backoff
 * allows. 0 or -ENOTCONN (s->werror says why). */
static int writer_conn(struct pg_store *s)
{
    if (s->wconn && pg_alive(s->wconn))
        return 0;
    if (s->wconn)
        drop_conn(s);
    if (moat_now_ns() < s->next_connect_ns)
        return -ENOTCONN;
    PGconn *c = NULL;
    int e = pg_connect(s, true, &c, s->werror, sizeof(s->werror));
    if (e == 0) {
        e = prepare_writer(s, c, s->werror, sizeof(s->werror));
        if (e < 0)
            PQfinish(c);
    }
    if (e < 0) {
        conn_failed(s);
        return -ENOTCONN;
    }
    s->wconn = c;
    s->backoff_ms = 0;
    return 0;
}

/* ---- reporting ---- */

static void complete(struct pg_store *s, struct pg_wreq *r, int result)
{
    __atomic_add_fetch(&s->n_writes, 1, __ATOMIC_RELAXED);
    r->result = result;
    bool heap = r->heap;
    r->done(r->cls, result);
    /* a synchronous caller's request is gone once done returned */
    if (heap) {
        free(r->code_owned);
        free(r->args_json);
        free(r);
    }
}

static void fail_with(struct pg_store *s, struct pg_wreq *r, int e, const char *msg)
{
    moat_strlcpy(r->detail, msg, sizeof(r->detail));
    complete(s, r, e);
}

/* ---- a batch whose outcome was lost ---- */

/* What r's row says about r, in a batch that committed (token), for a
 * request whose answer did not arrive. */
static int resolve_one(struct pg_store *s, struct pg_wreq *r, uint64_t token)
{
    struct pg_params p = {0};
    p_text(&p, r->id);
    PGresult *res = NULL;
    int e = pg_query(s, s->wconn, wnames[WS_ROW], true, p.n, p.v, p.len, 0, true,
                     pg_deadline(s->to.io_ms), &res, r->detail, sizeof(r->detail));
    if (e < 0)
        return e;
    r->found = PQntuples(res) > 0;
    if (r->found && parse_status(res, 0, 0, &r->was) < 0) {
        PQclear(res);
        return -EIO;
    }
    bool ours = r->found && (uint64_t)pg_int(res, 0, 2) == token;
    if (r->kind == PG_W_INSERT) {
        char hash[MOAT_SHA256_HEX_LEN + 1];
        pg_text(res, 0, 5, hash, sizeof(hash));
        r->changed = ours || (r->found && pg_int(res, 0, 4) == r->job->created_ms &&
                              strcmp(hash, r->hash) == 0);
    } else {
        r->changed = ours;
        r->row_attempts = (uint32_t)pg_int(res, 0, 1);
        if (r->kind != PG_W_REQUEUE) /* a requeue's is the attempt it was given */
            r->attempts = r->row_attempts;
        /* the status it had is gone: started_ms says whether it ever ran */
        if (ours && r->kind == PG_W_CANCEL)
            r->was = pg_int(res, 0, 3) ? JOB_STATUS_RUNNING : JOB_STATUS_QUEUED;
    }
    PQclear(res);
    return outcome(r);
}

/* Whether the batch of token committed: 1, 0, or -errno. */
static int batch_committed(struct pg_store *s, uint64_t token, char *msg, size_t msgsz)
{
    struct pg_params p = {0};
    p_u64(&p, s->token_base);
    PGresult *res = NULL;
    int e = pg_query(s, s->wconn, wnames[WS_TOKEN], true, p.n, p.v, p.len, 0, true,
                     pg_deadline(s->to.io_ms), &res, msg, msgsz);
    if (e < 0)
        return e;
    int yes = PQntuples(res) > 0 && (uint64_t)pg_int(res, 0, 0) == token;
    PQclear(res);
    return yes;
}

/* Resolves s->unknown on a live connection: the requests of a batch that
 * did not commit go back to *retry (count *nretry). */
static void resolve_unknown(struct pg_store *s, struct pg_wreq **retry, size_t *nretry)
{
    char msg[200];
    int c = batch_committed(s, s->unknown_token, msg, sizeof(msg));
    if (c < 0) {
        moat_strlcpy(s->werror, msg, sizeof(s->werror));
        conn_failed(s);
        return; /* still unknown: tried again once connected */
    }
    if (c)
        committed(s);
    for (size_t i = 0; i < s->nunknown; i++) {
        struct pg_wreq *r = s->unknown[i];
        if (!c) {
            retry[(*nretry)++] = r;
            continue;
        }
        int res = r->nres == nstatements(r) ? outcome(r) : resolve_one(s, r, s->unknown_token);
        if (res == -ENOTCONN || res == -ETIMEDOUT) {
            /* committed, but this row cannot be read now: the rest waits */
            memmove(s->unknown, s->unknown + i, (s->nunknown - i) * sizeof(*s->unknown));
            s->nunknown -= i;
            moat_strlcpy(s->werror, r->detail, sizeof(s->werror));
            conn_failed(s);
            return;
        }
        complete(s, r, res);
    }
    s->nunknown = 0;
}

/* Fails the unknown batch when its time is up. */
static void expire_unknown(struct pg_store *s)
{
    if (!s->nunknown || moat_now_ns() < s->unknown_deadline_ns)
        return;
    for (size_t i = 0; i < s->nunknown; i++)
        fail_with(s, s->unknown[i], -ENOTCONN,
                  "the database went away after the write was sent: it may have committed");
    s->nunknown = 0;
}

/* ---- the batch ---- */

/* Stable order by job id: rows are locked in the same order by every node. */
static int by_id(const void *a, const void *b)
{
    const struct pg_wreq *x = *(struct pg_wreq *const *)a, *y = *(struct pg_wreq *const *)b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static int by_seq(const void *a, const void *b)
{
    const struct pg_wreq *x = *(struct pg_wreq *const *)a, *y = *(struct pg_wreq *const *)b;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Runs b[0..n) (connected). Requests to send again (not committed, the
 * connection gone) go to retry. */
static void run_batch(struct pg_store *s, struct pg_wreq **b, size_t n, struct pg_wreq **retry,
                      size_t *nretry)
{
    qsort(b, n, sizeof(*b), by_id);
    struct batch bt = {.b = b, .n = n, .token = next_token(s)};
    enum batch_end end = run_pipeline(s, &bt);
    if (end == BATCH_COMMITTED) {
        committed(s);
        for (size_t i = 0; i < n; i++)
            complete(s, b[i], outcome(b[i]));
        return;
    }
    if (end == BATCH_LOST) {
        drop_conn(s);
        moat_strlcpy(s->werror, bt.msg, sizeof(s->werror));
        write_failed(s, -ENOTCONN);
        memcpy(s->unknown, b, n * sizeof(*b));
        s->nunknown = n;
        s->unknown_token = bt.token;
        s->unknown_deadline_ns = pg_deadline(s->to.resolve_wait_ms);
        return;
    }
    /* aborted: the statement of b[bad] failed; a deadlock or a
     * serialization failure is worth another try while the request may
     * still wait */
    if (n == 1 && bt.err == -EAGAIN && moat_now_ns() < b[0]->deadline_ns) {
        retry[(*nretry)++] = b[0];
        return;
    }
    if (n == 1 || bt.bad >= n) {
        write_failed(s, bt.err);
        for (size_t i = 0; i < n; i++)
            fail_with(s, b[i], bt.err, bt.msg);
        return;
    }
    __atomic_add_fetch(&s->n_retries, 1, __ATOMIC_RELAXED);
    for (size_t i = 0; i < n; i++) {
        if (s->nunknown || !s->wconn)
            retry[(*nretry)++] = b[i];
        else
            run_batch(s, &b[i], 1, retry, nretry);
    }
}

/* One probe of a store that is not writable: an empty batch (its token in
 * write_log) must commit. */
static void probe(struct pg_store *s)
{
    s->next_probe_ns = pg_deadline(s->to.probe_ms);
    if (writer_conn(s) < 0)
        return;
    struct batch bt = {.b = NULL, .n = 0, .token = next_token(s)};
    enum batch_end end = run_pipeline(s, &bt);
    if (end == BATCH_COMMITTED) {
        committed(s);
        return;
    }
    if (end != BATCH_ABORTED)
        drop_conn(s);
    write_failed(s, bt.err ? bt.err : -EIO);
}

/* ---- the thread ---- */

static void timed_wait(struct pg_store *s, uint64_t until_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(until_ns / 1000000000u),
                          .tv_nsec = (long)(until_ns % 1000000000u)};
    (void)pthread_cond_timedwait(&s->cond, &s->mu, &ts);
}

/* Puts r[0..n) back at the head of the queue, in their queue order (mu). */
static void requeue_front(struct pg_store *s, struct pg_wreq **r, size_t n)
{
    qsort(r, n, sizeof(*r), by_seq);
    for (size_t i = n; i-- > 0;) {
        r[i]->next = s->head;
        s->head = r[i];
        if (!s->tail)
            s->tail = r[i];
    }
}

/* Fails the queued requests whose wait for the database is over (mu);
 * they go to out. */
static void take_expired(struct pg_store *s, struct pg_wreq **out, size_t *n)
{
    uint64_t now = moat_now_ns();
    struct pg_wreq **pp = &s->head;
    s->tail = NULL;
    while (*pp) {
        struct pg_wreq *r = *pp;
        if (r->deadline_ns <= now && *n < PG_BATCH_MAX) {
            *pp = r->next;
            out[(*n)++] = r;
        } else {
            s->tail = r;
            pp = &r->next;
        }
    }
}

/* The writer's wait when idle (mu held): for a request, and while the
 * store is not writable, no longer than its next probe. true when it is
 * time to probe. */
static bool idle_wait(struct pg_store *s)
{
    s->writer_waiting = true;
    bool due = false;
    if (pg_writable(s))
        pthread_cond_wait(&s->cond, &s->mu);
    else if (moat_now_ns() >= s->next_probe_ns)
        due = true;
    else
        timed_wait(s, s->next_probe_ns);
    s->writer_waiting = false;
    return due && !s->head && !s->stopping;
}

static void *writer_main(void *arg)
{
    struct pg_store *s = arg;
    struct pg_wreq *batch[PG_BATCH_MAX], *back[PG_BATCH_MAX];
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (!s->head && !s->nunknown) {
            if (s->stopping)
                break;
            if (idle_wait(s)) {
                pthread_mutex_unlock(&s->mu);
                probe(s);
                pthread_mutex_lock(&s->mu);
            }
            continue;
        }
        pthread_mutex_unlock(&s->mu);
        size_t n = 0, nback = 0;
        bool up = writer_conn(s) == 0;
        if (up && s->nunknown)
            resolve_unknown(s, back, &nback);
        expire_unknown(s);
        pthread_mutex_lock(&s->mu);
        if (!up || s->nunknown) {
            /* the database is away: fail what waited too long, wait for
             * the next connection attempt (or for a close) */
            take_expired(s, batch, &n);
            pthread_mutex_unlock(&s->mu);
            for (size_t i = 0; i < n; i++)
                fail_with(s, batch[i], -ENOTCONN, s->werror);
            pthread_mutex_lock(&s->mu);
            requeue_front(s, back, nback);
            uint64_t until = s->next_connect_ns;
            if (s->head && s->head->deadline_ns < until)
                until = s->head->deadline_ns;
            if (s->nunknown && s->unknown_deadline_ns < until)
                until = s->unknown_deadline_ns;
            if (until > moat_now_ns())
                timed_wait(s, until);
            continue;
        }
        requeue_front(s, back, nback);
        while (s->head && n < PG_BATCH_MAX) {
            batch[n++] = s->head;
            s->head = s->head->next;
        }
        if (!s->head)
            s->tail = NULL;
        pthread_mutex_unlock(&s->mu);
        nback = 0;
        if (n)
            run_batch(s, batch, n, back, &nback);
        pthread_mutex_lock(&s->mu);
        requeue_front(s, back, nback);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int pg_writer_start(struct pg_store *s, struct moat_err *err)
{
    s->unknown = calloc(PG_BATCH_MAX, sizeof(*s->unknown));
    if (!s->unknown)
        return moat_err_set(err, -ENOMEM, "out of memory");
    char msg[200];
    int e = prepare_writer(s, s->wconn, msg, sizeof(msg));
    if (e < 0)
        return moat_err_set(err, e, "cannot set up the store %s: %s", s->shown, msg);
    /* The writer takes no signals: they belong to the threads that wait
     * for them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int r = pthread_create(&s->writer, NULL, writer_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0)
        return moat_err_set(err, -r, "cannot start the store writer: %s", strerror(r));
    (void)pthread_setname_np(s->writer, "moat-store-pg");
    s->writer_running = true;
    return 0;
}

void pg_writer_stop(struct pg_store *s)
{
    if (s->writer_running) {
        pthread_mutex_lock(&s->mu);
        s->stopping = true;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->writer, NULL);
        s->writer_running = false;
    }
    /* this writer's row of write_log is of no use to anyone now */
    if (s->wconn && pg_alive(s->wconn)) {
        struct pg_params p = {0};
        p_u64(&p, s->token_base);
        PGresult *res = NULL;
        char msg[200];
        if (pg_query(s, s->wconn, "DELETE FROM " PG_SCHEMA ".write_log WHERE writer = $1", false,
                     p.n, p.v, p.len, 0, false, pg_deadline(s->to.io_ms), &res, msg,
                     sizeof(msg)) == 0)
            PQclear(res);
    }
    free(s->unknown);
    s->unknown = NULL;
}

/* ---- the callers' side ---- */

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
    int e = 0;
    if (job->nfiles == 1 && !job->files[0].name) {
        r->code = job->files[0].data;
        r->code_len = job->files[0].len;
    } else {
        e = job_code_blob(job, &r->code_owned, &r->code_len);
        r->code = r->code_owned;
    }
    if (e == 0 && (r->code_len > INT_MAX || job->stdin_len > INT_MAX))
        e = -E2BIG;
    if (e == 0 && job->nargs)
        e = store_args_to_json(job, &r->args_json);
    if (e == 0) {
        if (job->code_hash[0])
            moat_strlcpy(r->hash, job->code_hash, sizeof(r->hash));
        else
            moat_sha256_hex(r->code, r->code_len, r->hash);
        e = enqueue(s, r);
    }
    if (e < 0) {
        free(r->code_owned);
        free(r->args_json);
        free(r);
    }
    return e;
}

/* A synchronous caller waiting for its request. */
struct pg_sync {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool done;
};

static void sync_done(void *cls, int result)
{
    (void)result;
    struct pg_sync *w = cls;
    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_cond_signal(&w->cond);
    /* after this unlock the waiter may return: w is gone */
    pthread_mutex_unlock(&w->mu);
}

static void sync_wait(struct pg_sync *w)
{
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        pthread_cond_wait(&w->cond, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

static int sync_write(struct pg_store *s, struct pg_wreq *r)
{
    struct pg_sync w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    r->heap = false;
    r->done = sync_done;
    r->cls = &w;
    int e = enqueue(s, r);
    if (e == 0) {
        sync_wait(&w);
        e = r->result;
    }
    pthread_cond_destroy(&w.cond);
    pthread_mutex_destroy(&w.mu);
    r->cls = NULL;
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
    struct pg_sync w;
};

int pg_start_begin(struct store *st, const char *id, int64_t now_ms, bool takeover,
                   struct store_ticket **ticket)
{
    struct pg_ticket *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->base.ops = st->ops;
    t->s = (struct pg_store *)st;
    t->r = (struct pg_wreq){.kind = PG_W_START, .now_ms = now_ms, .takeover = takeover,
                            .done = sync_done, .cls = &t->w};
    moat_strlcpy(t->r.id, id, sizeof(t->r.id));
    pthread_mutex_init(&t->w.mu, NULL);
    pthread_cond_init(&t->w.cond, NULL);
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

int pg_start_wait(struct store_ticket *ticket, uint32_t *attempts, struct moat_err *err)
{
    struct pg_ticket *t = (struct pg_ticket *)ticket;
    sync_wait(&t->w);
    int e = t->r.result;
    if (e < 0)
        (void)report(t->s, &t->r, e, "start", err);
    else if (attempts)
        *attempts = t->r.attempts;
    pthread_cond_destroy(&t->w.cond);
    pthread_mutex_destroy(&t->w.mu);
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
    int e = sync_write(s, &r);
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
