/*
 * The statements of the PostgreSQL writer (postgres-write.c says how they
 * are batched): their SQL, their parameters, what their answers mean, and
 * the reads that learn the outcome of a batch whose answer was lost.
 *
 * Parameters are sent as text but for the blobs (binary bytea), answers
 * come back binary. Unsigned 64-bit values are kept bit for bit in bigint.
 */
#include <limits.h>

#include "postgres-internal.h"
#include "moat/util.h"

/* Prepared statements of the writer connection. */
enum {
    WS_INSERT,
    WS_LOCK,
    WS_START,
    WS_FINISH,
    WS_REQUEUE,
    WS_CANCEL,
    WS_LOG,
    WS_TOKEN,
    WS_ROW,
    WS_MAX_
};

static const char *const wnames[WS_MAX_] = {
    "moat_insert", "moat_lock", "moat_start", "moat_finish", "moat_requeue",
    "moat_cancel", "moat_log",  "moat_token", "moat_row",
};

static const char *const wsql[WS_MAX_] = {
    /* Every insert of a batch in one statement: one array per column
     * ($1..$33), the batch's token $34. A row whose id exists is skipped
     * (no id back: -EEXIST). The blobs are inserted without looking at
     * which rows were (joining the inserted ids costs as much as the rest
     * of the statement): a blob already under its key stays as it is, so
     * a duplicate id leaves the existing job's blobs alone, and at most
     * adds a stdin blob to a job that has none, which no read looks at
     * (a job without stdin has stdin_len 0). */
    [WS_INSERT] =
        "WITH v AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
        " $5::int4[], $6::int8[], $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[],"
        " $12::int8[], $13::int8[], $14::int8[], $15::bool[], $16::int8[], $17::text[],"
        " $18::text[], $19::text[], $20::int8[], $21::text[], $22::bytea[], $23::bytea[],"
        " $24::text[], $25::float8[], $26::float8[], $27::int8[], $28::bytea[], $29::int8[],"
        " $30::bool[], $31::bytea[], $32::text[], $33::text[])"
        " AS v (id, language, language_given, version, priority, time_ms, wall_time_ms,"
        " memory_mb, max_processes, max_output_kb, max_file_kb, max_open_files, stack_kb,"
        " nfiles, code_single, stdin_len, args_json, metadata_json, tags_json, created_ms,"
        " code_hash, code, stdin, compare, abs_tol, rel_tol, expected_len, expected, ntests,"
        " stop_on_failure, tests, cb_url, cb_shape)),"
        " j AS (INSERT INTO " PG_SCHEMA ".jobs (id, status, language, language_given, version,"
        " priority, time_ms, wall_time_ms, memory_mb, max_processes, max_output_kb, max_file_kb,"
        " max_open_files, stack_kb, nfiles, code_single, stdin_len, args_json, metadata_json,"
        " tags_json, created_ms, code_hash, compare, abs_tol, rel_tol, expected_len, ntests,"
        " stop_on_failure, cb_url, cb_shape, cb_status, write_token) SELECT id::uuid, 'queued',"
        " language, language_given, version, priority, time_ms, wall_time_ms, memory_mb,"
        " max_processes, max_output_kb, max_file_kb, max_open_files, stack_kb, nfiles,"
        " code_single, stdin_len, args_json, metadata_json, tags_json, created_ms, code_hash,"
        " compare, abs_tol, rel_tol, expected_len, ntests, stop_on_failure, cb_url, cb_shape,"
        " CASE WHEN cb_url IS NULL THEN NULL ELSE 'pending' END, $34 FROM v"
        " ON CONFLICT (id) DO NOTHING RETURNING id),"
        " b AS (INSERT INTO " PG_SCHEMA ".blobs (key, data)"
        " SELECT 'jobs/' || v.id || '/" PG_BLOB_CODE "', v.code FROM v"
        " UNION ALL SELECT 'jobs/' || v.id || '/" PG_BLOB_STDIN "', v.stdin FROM v"
        " WHERE v.stdin IS NOT NULL"
        " UNION ALL SELECT 'jobs/' || v.id || '/" PG_BLOB_EXPECTED "', v.expected FROM v"
        " WHERE v.expected IS NOT NULL"
        " UNION ALL SELECT 'jobs/' || v.id || '/" PG_BLOB_TESTS "', v.tests FROM v"
        " WHERE v.tests IS NOT NULL ON CONFLICT (key) DO NOTHING)"
        " SELECT id::text FROM j ORDER BY id",
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
        " $31::bytea), ('" PG_BLOB_RESULTS "', $32::bytea), ('" PG_BLOB_RUN_ORDER "', $33::bytea),"
        " ('" PG_BLOB_COMPILE_ORDER "', $34::bytea)) v (name, data)"
        " WHERE v.data IS NOT NULL"
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
    [WS_ROW] =
        "SELECT status, attempts, write_token, started_ms, created_ms, code_hash FROM " PG_SCHEMA
        ".jobs WHERE id = $1::text::uuid",
};

/* ---- parameters ---- */

#define PG_MAX_PARAMS 40

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

int pg_nstatements(const struct pg_wreq *r)
{
    return r->kind == PG_W_INSERT ? 1 : 2;
}

/* ---- the inserts of a batch: binary arrays ---- */

/* Type oids of the array elements (pg_type.h: fixed since forever). */
#define OID_BOOL 16u
#define OID_BYTEA 17u
#define OID_INT8 20u
#define OID_INT4 23u
#define OID_TEXT 25u
#define OID_FLOAT8 701u

/* One array parameter in PostgreSQL's binary array format: ndim, has
 * nulls, element type, then (size, lower bound) per dimension, then each
 * element as its length (-1: NULL) and its bytes; integers big-endian. */
struct pg_array {
    char *buf;
    size_t len, cap;
    uint32_t count;
    bool has_null, oom;
};

#define PG_ARRAY_HEADER 20

static void put_bytes(struct pg_array *a, const void *data, size_t len)
{
    if (a->oom)
        return;
    if (a->len + len > a->cap) {
        size_t cap = a->cap ? a->cap : 256;
        while (cap < a->len + len)
            cap *= 2;
        char *nb = realloc(a->buf, cap);
        if (!nb) {
            a->oom = true;
            return;
        }
        a->buf = nb;
        a->cap = cap;
    }
    if (len)
        memcpy(a->buf + a->len, data, len);
    a->len += len;
}

static void put_u32(struct pg_array *a, uint32_t v)
{
    const unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                                (unsigned char)(v >> 8), (unsigned char)v};
    put_bytes(a, b, sizeof(b));
}

static void put_u64(struct pg_array *a, uint64_t v)
{
    put_u32(a, (uint32_t)(v >> 32));
    put_u32(a, (uint32_t)v);
}

static void el_null(struct pg_array *a)
{
    put_u32(a, UINT32_MAX); /* -1 */
    a->has_null = true;
    a->count++;
}

static void el_bytes(struct pg_array *a, const char *data, size_t len)
{
    put_u32(a, (uint32_t)len);
    put_bytes(a, data, len);
    a->count++;
}

static void el_text(struct pg_array *a, const char *s)
{
    if (s)
        el_bytes(a, s, strlen(s));
    else
        el_null(a);
}

static void el_i64(struct pg_array *a, uint64_t v)
{
    put_u32(a, 8);
    put_u64(a, v);
    a->count++;
}

static void el_i32(struct pg_array *a, int32_t v)
{
    put_u32(a, 4);
    put_u32(a, (uint32_t)v);
    a->count++;
}

/* float8's binary form: the IEEE 754 bits, big-endian. */
static void el_f64(struct pg_array *a, double v)
{
    uint64_t bits = 0;
    memcpy(&bits, &v, sizeof(bits));
    el_i64(a, bits);
}

static void el_bool(struct pg_array *a, bool v)
{
    put_u32(a, 1);
    put_bytes(a, &(const char){v ? 1 : 0}, 1);
    a->count++;
}

/* Writes the header into the room left for it. */
static void array_finish(struct pg_array *a, uint32_t oid)
{
    if (a->oom)
        return;
    const uint32_t h[5] = {1, a->has_null, oid, a->count, 1};
    for (size_t i = 0; i < 5; i++)
        for (size_t k = 0; k < 4; k++)
            a->buf[i * 4 + k] = (char)(h[i] >> (24 - 8 * k));
}

enum { INS_COLUMNS = 33 };

static const uint32_t ins_oids[INS_COLUMNS] = {
    OID_TEXT, OID_TEXT,   OID_TEXT,   OID_TEXT,   OID_INT4, OID_INT8,  OID_INT8,
    OID_INT8, OID_INT8,   OID_INT8,   OID_INT8,   OID_INT8, OID_INT8,  OID_INT8,
    OID_BOOL, OID_INT8,   OID_TEXT,   OID_TEXT,   OID_TEXT, OID_INT8,  OID_TEXT,
    OID_BYTEA, OID_BYTEA, OID_TEXT,   OID_FLOAT8, OID_FLOAT8, OID_INT8, OID_BYTEA,
    OID_INT8, OID_BOOL,   OID_BYTEA, OID_TEXT, OID_TEXT,
};

static void insert_row(struct pg_array *a, const struct pg_wreq *r)
{
    const struct job *j = r->job;
    el_text(&a[0], j->id);
    el_text(&a[1], j->language);
    el_text(&a[2], j->language_given);
    el_text(&a[3], j->version);
    el_i32(&a[4], j->priority);
    const struct moat_limits *l = &j->limits;
    const uint64_t lim[] = {l->time_ms,       l->wall_time_ms, l->memory_mb,      l->max_processes,
                            l->max_output_kb, l->max_file_kb,  l->max_open_files, l->stack_kb};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(lim); i++)
        el_i64(&a[5 + i], lim[i]);
    el_i64(&a[13], j->nfiles);
    el_bool(&a[14], r->ins.owned == NULL);
    el_i64(&a[15], j->stdin_len);
    el_text(&a[16], r->ins.args_json ? r->ins.args_json : "[]");
    el_text(&a[17], j->metadata_json);
    el_text(&a[18], j->tags_json);
    el_i64(&a[19], (uint64_t)j->created_ms);
    el_text(&a[20], r->hash);
    el_bytes(&a[21], r->ins.code, r->ins.code_len);
    if (j->stdin_len)
        el_bytes(&a[22], j->stdin_data, j->stdin_len);
    else
        el_null(&a[22]);
    el_text(&a[23], r->ins.compare);
    el_f64(&a[24], r->ins.abs_tol);
    el_f64(&a[25], r->ins.rel_tol);
    el_i64(&a[26], r->ins.expected_len);
    if (r->ins.expected_len)
        el_bytes(&a[27], j->expected, r->ins.expected_len);
    else
        el_null(&a[27]);
    el_i64(&a[28], j->ntests);
    el_bool(&a[29], j->stop_on_failure);
    if (r->ins.tests_json)
        el_bytes(&a[30], r->ins.tests_json, r->ins.tests_len);
    else
        el_null(&a[30]);
    if (j->callback.url[0]) {
        el_text(&a[31], j->callback.url);
        el_text(&a[32], job_callback_shape_name(j->callback.shape));
    } else {
        el_null(&a[31]);
        el_null(&a[32]);
    }
}

int pg_send_inserts(PGconn *c, struct pg_wreq *const *r, size_t n, uint64_t token)
{
    struct pg_array a[INS_COLUMNS] = {0};
    for (size_t k = 0; k < INS_COLUMNS; k++)
        put_bytes(&a[k], (char[PG_ARRAY_HEADER]){0}, PG_ARRAY_HEADER);
    for (size_t i = 0; i < n; i++)
        insert_row(a, r[i]);
    struct pg_params p = {0};
    int e = 0;
    for (size_t k = 0; k < INS_COLUMNS; k++) {
        array_finish(&a[k], ins_oids[k]);
        if (a[k].oom)
            e = -ENOMEM;
        else if (a[k].len > INT_MAX)
            e = -E2BIG;
        else
            p_bytes(&p, a[k].buf, a[k].len);
    }
    if (e == 0) {
        p_u64(&p, token);
        e = send_prepared(c, WS_INSERT, &p) ? 0 : -ENOTCONN;
    }
    for (size_t k = 0; k < INS_COLUMNS; k++)
        free(a[k].buf);
    return e;
}

void pg_take_inserts(struct pg_wreq *const *r, size_t n, const PGresult *res)
{
    /* both in id order: one walk */
    int rows = PQntuples(res), row = 0;
    for (size_t i = 0; i < n; i++) {
        char id[MOAT_UUID_LEN + 1] = "";
        while (row < rows) {
            pg_text(res, row, 0, id, sizeof(id));
            if (strcmp(id, r[i]->id) >= 0)
                break;
            row++;
        }
        r[i]->nres = 1;
        r[i]->changed = row < rows && strcmp(id, r[i]->id) == 0;
    }
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
    if (r->results)
        p_bytes(&p, r->results, r->results_len);
    else
        p_null(&p);
    /* the streams' order, only when recorded (SQLite writes it so too) */
    if (j->run.order_len)
        p_bytes(&p, j->run.order, j->run.order_len);
    else
        p_null(&p);
    if (j->compiled && j->compile.order_len)
        p_bytes(&p, j->compile.order, j->compile.order_len);
    else
        p_null(&p);
    return send_prepared(c, WS_FINISH, &p);
}

bool pg_send_request(PGconn *c, const struct pg_wreq *r, uint64_t token)
{
    if (r->kind == PG_W_INSERT)
        return false; /* pg_send_inserts */
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
void pg_take_answer(struct pg_wreq *r, const PGresult *res)
{
    int k = r->nres++;
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
int pg_outcome(struct pg_wreq *r)
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

/* Prepares the writer's statements on a new connection. */
int pg_writer_prepare(struct pg_store *s, PGconn *c, char *msg, size_t msgsz)
{
    uint64_t deadline = pg_deadline(s->to.io_ms);
    /* Every statement of the writer has one good plan whatever its
     * values: planned once, not again for each batch (planning the
     * inserts' statement costs as much as running it for dozens of rows). */
    PGresult *res = NULL;
    int e = pg_query(s, c, "SET plan_cache_mode = force_generic_plan", false, 0, NULL, NULL, 0,
                     false, deadline, &res, msg, msgsz);
    if (e < 0)
        return e;
    PQclear(res);
    /* who this connection is in the server: pg_end_backend's target if
     * a batch is lost on it */
    e = pg_query(s, c,
                 "SELECT pg_backend_pid(), (extract(epoch FROM backend_start) * 1000000)::int8"
                 " FROM pg_stat_activity WHERE pid = pg_backend_pid()",
                 false, 0, NULL, NULL, 0, true, deadline, &res, msg, msgsz);
    if (e < 0)
        return e;
    if (PQntuples(res) != 1) {
        PQclear(res);
        moat_strlcpy(msg, "the database does not show its own backend", msgsz);
        return -EIO;
    }
    s->wpid = (int)pg_int(res, 0, 0);
    s->wstart_us = pg_int(res, 0, 1);
    PQclear(res);
    return pg_prepare_all(s, c, wnames, wsql, WS_MAX_, deadline, msg, msgsz);
}

int pg_end_backend(struct pg_store *s, int pid, int64_t start_us, char *msg, size_t msgsz)
{
    /* CASE: the pid is signalled only if it is still that backend (a pid
     * is reused); a role may end its own backends */
    static const char sql[] =
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1::int4"
        " AND (extract(epoch FROM backend_start) * 1000000)::int8 = $2::int8)"
        " THEN pg_terminate_backend($1::int4, $3::int8) ELSE true END";
    struct pg_params p = {0};
    p_i64(&p, pid);
    p_i64(&p, start_us);
    unsigned wait_ms = s->to.io_ms / 2;
    p_i64(&p, wait_ms);
    PGresult *res = NULL;
    int e = pg_query(s, s->wconn, sql, false, p.n, p.v, p.len, 0, true, pg_deadline(s->to.io_ms),
                     &res, msg, msgsz);
    if (e < 0)
        return e;
    int gone = pg_bool(res, 0, 0);
    PQclear(res);
    if (!gone)
        (void)snprintf(msg, msgsz, "the backend %d of a lost batch did not end", pid);
    return gone;
}

/* What r's row says about r, in a batch that committed (token), for a
 * request whose answer did not arrive. */
int pg_resolve_one(struct pg_store *s, struct pg_wreq *r, uint64_t token)
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
    return pg_outcome(r);
}

/* Whether the batch of token committed: 1, 0, or -errno. */
int pg_batch_committed(struct pg_store *s, uint64_t token, char *msg, size_t msgsz)
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

bool pg_send_log(PGconn *c, uint64_t writer, uint64_t token)
{
    struct pg_params p = {0};
    p_u64(&p, writer);
    p_u64(&p, token);
    p_u64(&p, moat_realtime_ms());
    return send_prepared(c, WS_LOG, &p);
}

void pg_forget_writer(struct pg_store *s)
{
    struct pg_params p = {0};
    p_u64(&p, s->token_base);
    PGresult *res = NULL;
    char msg[200];
    if (pg_query(s, s->wconn, "DELETE FROM " PG_SCHEMA ".write_log WHERE writer = $1", false, p.n,
                 p.v, p.len, 0, false, pg_deadline(s->to.io_ms), &res, msg, sizeof(msg)) == 0)
        PQclear(res);
}
