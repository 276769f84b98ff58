#pragma once
/*
 * The PostgreSQL driver of the store, shared by its files: postgres.c
 * (open, close, connections, waits, errors), postgres-schema.c (what the
 * database must hold, the migrations), postgres-read.c (the reader pool and
 * every read, store_ready), postgres-write.c (the writer thread, group
 * commit, the database away), postgres-stmt.c (the writer's statements),
 * postgres-request.c (the callers' side of every write).
 *
 * Everything lives in the schema `moat` of the database the URL names
 * (PG_SCHEMA): see postgres-schema.c for why. Every name in the SQL is
 * qualified with it, so no search_path is relied on.
 *
 * Connections: cfg->store_connections in all, one for the writer thread,
 * the rest a pool of readers, each used by one thread at a time. Every
 * exchange with the server is asynchronous (libpq's non-blocking calls and
 * poll) under a deadline, so that a server that went silent (a network
 * cut, a stopped process) costs a bounded time and never a hang: the
 * connection is then dropped, the caller gets -ENOTCONN, and the next use
 * connects again, no sooner than a backoff after a failed attempt.
 */
#include <pthread.h>
#include <stdio.h>

#include "moat/util.h"
#include <libpq-fe.h>

#include "store-internal.h"

#define PG_SCHEMA "moat"

/* Writes committed in one transaction at most. */
#define PG_BATCH_MAX 512

/* How long things may take, in ms. Tests shorten them (pg_open). */
struct pg_timeouts {
    unsigned connect_ms;      /* one connection attempt, TLS and authentication included */
    unsigned io_ms;           /* one round trip of a write batch or a read */
    unsigned ready_ms;        /* the read of store_ready */
    unsigned write_wait_ms;   /* a write waits this long for the database to come back */
    unsigned resolve_wait_ms; /* a write whose outcome was lost waits this long to be checked */
    unsigned probe_ms;        /* how often an idle writer probes a store that failed a write */
    unsigned backoff_min_ms;  /* between failed connection attempts: doubling from min... */
    unsigned backoff_max_ms;  /* ...to max */
};
extern const struct pg_timeouts pg_default_timeouts;

struct pg_reader {
    PGconn *conn;
    struct pg_reader *next; /* on the free list */
};

struct pg_wreq;

struct pg_store {
    struct store base; /* first: a struct store * is a struct pg_store * */
    char url[512];     /* as configured: holds the password, never shown */
    char shown[512];   /* the URL with its password replaced, for messages */
    /* The password as written in the URL and percent-decoded, scrubbed from
     * every message of libpq (which may quote the URL). "" when none. */
    char secret[2][256];
    struct pg_timeouts to;
    size_t max_readers;

    /* the writer; wconn belongs to the writer thread while it runs */
    PGconn *wconn;
    pthread_t writer;
    bool writer_running;
    /* 0, or the -errno of the last write that failed for a reason of the
     * database's own (unreachable, read-only, full), until a write or the
     * probe commits again. Written by the writer, read by store_ready. */
    int write_err;
    uint64_t next_probe_ns;   /* writer only */
    uint64_t next_connect_ns; /* writer only: no attempt before (backoff) */
    unsigned backoff_ms;      /* writer only */
    uint64_t token_base;      /* this writer's key in write_log; tokens: token_base + a counter */
    uint64_t token_next;      /* writer only */
    char werror[200];         /* writer only: why it has no connection */
    /* The backend of the writer's connection (pid, start in µs since the
     * epoch), and of the one a batch was lost on: it must be gone before
     * the batch's outcome is read (postgres-write.c). Writer only. */
    int wpid, lost_pid;
    int64_t wstart_us, lost_start_us;
    /* A batch whose COMMIT was sent and whose answer was lost (writer
     * only): its outcome is read from write_log once the database answers
     * again (postgres-write.c). */
    struct pg_wreq *unknown[PG_BATCH_MAX];
    size_t nunknown;
    uint64_t unknown_token;
    uint64_t unknown_deadline_ns;
    /* Starts that found no row, waiting for their job's insert to commit
     * on another node (store_start_begin_awaiting): writer only. */
    struct pg_wreq *later;

    /* the write queue, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cond; /* on CLOCK_MONOTONIC */
    struct pg_wreq *head, *tail;
    uint64_t seq; /* queue order of the next request */
    bool stopping;
    bool writer_waiting;

    /* the readers, under rmu */
    pthread_mutex_t rmu;
    pthread_cond_t rcond;
    struct pg_reader *free_readers;
    size_t nreaders;
    uint64_t readers_retry_ns; /* after a failed connection: none before */
    unsigned readers_backoff_ms;
    char readers_error[200]; /* why the last connection failed */

    /* counters: atomics, read by store_stats from any thread */
    uint64_t n_writes, n_commits, n_retries, n_row_waits;
};

/* ---- postgres.c ---- */

/* pg_default_timeouts, but t. For tests (they shorten the waits); the
 * store is made the same way as by store_open otherwise, without its
 * table of inserts in flight. */
int pg_open(const struct moat_config *cfg, const struct pg_timeouts *t, struct store **out,
            struct moat_err *err);

/* A new connection, non-blocking, within to.connect_ms. writer: it must be
 * able to write (target_session_attrs=read-write, unless the URL says
 * otherwise). -ENOTCONN (-EACCES for a refused login) with msg (scrubbed)
 * filled; *out only on success. */
int pg_connect(struct pg_store *s, bool writer, PGconn **out, char *msg, size_t msgsz);

/* Waits until the connection's output is sent (taking in what the server
 * sends meanwhile, so that neither side blocks on a full buffer) /
 * until a result can be taken without blocking. 0, -ETIMEDOUT at the
 * deadline (CLOCK_MONOTONIC ns), -ENOTCONN when the connection broke. */
int pg_flush(PGconn *c, uint64_t deadline);
int pg_await(PGconn *c, uint64_t deadline);

/* A connection that looks usable: open, nothing pending, and the server has
 * not closed it (what it sent meanwhile is read first, without waiting). */
bool pg_alive(PGconn *c);

/* One statement, outside pipeline mode: sql is a statement name when
 * prepared, else text. Sends it, waits for its result under the deadline
 * and takes every result after it. 0 with *res (caller PQclear) when it
 * succeeded; -errno with msg filled otherwise (*res NULL). Results in
 * binary when binary. Parameters are text, but those in bin_mask (bit i
 * for parameter i) are binary. */
int pg_query(struct pg_store *s, PGconn *c, const char *sql, bool prepared, int n,
             const char *const *values, const int *lengths, unsigned bin_mask, bool binary,
             uint64_t deadline, PGresult **res, char *msg, size_t msgsz);

/* Prepares every statement of names/sql on c, one round trip each. */
int pg_prepare_all(struct pg_store *s, PGconn *c, const char *const *names, const char *const *sql,
                   size_t n, uint64_t deadline, char *msg, size_t msgsz);

/* -errno for a failed result (its SQLSTATE), or for a broken connection
 * (res NULL or without an SQLSTATE: -ENOTCONN). */
int pg_errno(const PGresult *res);
/* The message of res (or of c when res has none), scrubbed, one line. */
void pg_message(const struct pg_store *s, const PGresult *res, PGconn *c, char *out, size_t size);
/* msg without the password, newlines folded. */
void pg_scrub(const struct pg_store *s, const char *msg, char *out, size_t size);

/* CLOCK_MONOTONIC ns, ms from now. */
uint64_t pg_deadline(unsigned ms);

/* Binary results: the value of (row, col) as an integer of its width (2,
 * 4 or 8 bytes), a boolean, or text copied into out (truncated). NULL is 0,
 * false, "". */
int64_t pg_int(const PGresult *r, int row, int col);
/* A float8 column read in binary; 0 for NULL. */
double pg_double(const PGresult *r, int row, int col);
bool pg_bool(const PGresult *r, int row, int col);
void pg_text(const PGresult *r, int row, int col, char *out, size_t size);

/* A failure of the database itself (not the answer to one request): the
 * store is not ready until a write commits again. */
bool pg_store_fault(int e);

/* ---- postgres-schema.c ---- */

/* On the writer connection, before the writer starts: identifies the
 * database (moat's schema and nothing else that is not moat's, else
 * -EMEDIUMTYPE and nothing written; a newer schema -EPROTO) and brings the
 * schema to the latest version, all in one transaction under an advisory
 * lock (nodes starting together migrate once). */
int pg_migrate(struct pg_store *s, PGconn *c, struct moat_err *err);

/* ---- a write (postgres-request.c queues it, postgres-write.c runs it) ---- */

enum pg_wkind { PG_W_INSERT, PG_W_START, PG_W_FINISH, PG_W_REQUEUE, PG_W_CANCEL };

struct pg_wreq {
    struct pg_wreq *next;
    enum pg_wkind kind;
    bool heap;                  /* the writer frees it after done */
    const struct job *job;      /* insert, finish: borrowed until done */
    char id[MOAT_UUID_LEN + 1]; /* every kind (a copy of job->id for insert, finish) */
    int64_t now_ms;
    bool takeover;
    struct store_insert_data ins;       /* insert */
    char hash[MOAT_SHA256_HEX_LEN + 1]; /* code_hash (insert), output_hash (finish) */
    char *results;                      /* finish: what the tests gave (JSON), or NULL */
    size_t results_len;
    uint64_t seq;                       /* queue order */
    uint64_t deadline_ns;               /* fails with -ENOTCONN past it, the database away */
    uint64_t row_until_ns;              /* start: tried again while its row is not there */
    uint64_t row_backoff_ns;            /* its last pause */
    uint64_t row_due_ns;                /* its next try */
    /* the answers of the current attempt */
    int nres;     /* statements answered */
    bool found;   /* the lock found the row */
    bool changed; /* the write changed it */
    uint32_t row_attempts;
    /* results */
    int result;
    uint32_t attempts;
    enum job_status was;
    char detail[200];
    store_done_fn done;
    void *cls;
};

/* ---- postgres-stmt.c ---- */

/* Prepares the writer's statements on c. */
int pg_writer_prepare(struct pg_store *s, PGconn *c, char *msg, size_t msgsz);
/* The statements r sends (each has one answer). */
int pg_nstatements(const struct pg_wreq *r);
/* Queues the one statement of the inserts r[0..n) (in id order, no id
 * twice), stamping token on what it inserts. 0, -ENOMEM, -E2BIG, or
 * -ENOTCONN when libpq refused (the connection is broken). */
int pg_send_inserts(PGconn *c, struct pg_wreq *const *r, size_t n, uint64_t token);
/* Takes the answer of pg_send_inserts: which of r[0..n) were inserted. */
void pg_take_inserts(struct pg_wreq *const *r, size_t n, const PGresult *res);
/* Queues the statements of r (not an insert) on c, in pipeline mode,
 * stamping token on what they change. false when libpq refused. */
bool pg_send_request(PGconn *c, const struct pg_wreq *r, uint64_t token);
/* Queues the upsert of this writer's row of write_log. */
bool pg_send_log(PGconn *c, uint64_t writer, uint64_t token);
/* Takes the next answer of r (a successful one). */
void pg_take_answer(struct pg_wreq *r, const PGresult *res);
/* r's result once all its answers came and its batch committed. */
int pg_outcome(struct pg_wreq *r);
/* For a request of a committed batch (token) whose answer was lost: its
 * result from what its row says now. -ENOTCONN when it cannot be read. */
int pg_resolve_one(struct pg_store *s, struct pg_wreq *r, uint64_t token);
/* Ends the backend (pid, start) of a connection the writer gave up, and
 * waits for it to be gone: 1 gone, 0 still there, -errno with msg. */
int pg_end_backend(struct pg_store *s, int pid, int64_t start_us, char *msg, size_t msgsz);
/* Whether the batch of token committed: 1, 0, or -errno with msg. */
int pg_batch_committed(struct pg_store *s, uint64_t token, char *msg, size_t msgsz);
/* Removes this writer's row of write_log (at close). */
void pg_forget_writer(struct pg_store *s);

/* ---- postgres-write.c ---- */

int pg_writer_start(struct pg_store *s, struct moat_err *err);
/* Finishes every queued write (each done runs), joins the writer. */
void pg_writer_stop(struct pg_store *s);
bool pg_writable(struct pg_store *s);
int pg_insert_async(struct store *st, const struct job *job, store_done_fn done, void *cls);
int pg_start_begin(struct store *st, const char *id, int64_t now_ms, bool takeover,
                   uint64_t row_wait_ms, struct store_ticket **ticket);
int pg_start_wait(struct store_ticket *ticket, uint32_t *attempts, uint64_t *settled_ns,
                  struct moat_err *err);
int pg_finish(struct store *st, const struct job *job, struct moat_err *err);
int pg_requeue(struct store *st, const char *id, uint32_t attempts, struct moat_err *err);
int pg_cancel(struct store *st, const char *id, int64_t now_ms, enum job_status *was,
              struct moat_err *err);

/* ---- postgres-read.c ---- */

void pg_readers_close(struct pg_store *s);
int pg_get(struct store *st, const char *id, unsigned what, struct job *out, struct moat_err *err);
int pg_get_output(struct store *st, const char *id, char **data, size_t *len, struct moat_err *err);
int pg_list_pending(struct store *st, struct store_pending **out, size_t *n, struct moat_err *err);
int pg_list(struct store *st, uint64_t offset, size_t limit, char (*ids)[MOAT_UUID_LEN + 1],
            size_t *n, uint64_t *total, struct moat_err *err);
int pg_callback_due(struct store *st, int64_t now_ms, char (*ids)[MOAT_UUID_LEN + 1], size_t max,
                    size_t *n, struct moat_err *err);
int pg_callback_claim(struct store *st, const char *id, int64_t now_ms, uint64_t lease_ms,
                      uint32_t *attempt, struct moat_err *err);
int pg_callback_record(struct store *st, const char *id, const struct store_callback_outcome *o,
                       struct moat_err *err);
bool pg_ready(struct store *st);
/* One statement on a reader connection (autocommit: a single write is its
 * own transaction), results in binary; as pg_query. */
int pg_aux_query(struct pg_store *s, const char *sql, int n, const char *const *values,
                 const int *lengths, unsigned bin_mask, PGresult **res, char *msg, size_t msgsz);

/* ---- postgres-keys.c ---- */
int pg_key_add(struct store *st, const struct store_key *k, struct moat_err *err);
int pg_key_list(struct store *st, size_t max, struct store_key **out, size_t *n,
                struct moat_err *err);
int pg_key_revoke(struct store *st, const char *id, int64_t now_ms, struct moat_err *err);
int pg_idem_claim(struct store *st, const char *owner, const char *key, const char *body_hash,
                  int64_t now_ms, int64_t expire_before_ms, struct store_idem *out,
                  struct moat_err *err);
int pg_idem_settle(struct store *st, const char *owner, const char *key, unsigned status,
                   const char *ctype, const char *location, const char *body, size_t len,
                   struct moat_err *err);
int pg_idem_drop(struct store *st, const char *owner, const char *key, int64_t created_ms,
                 struct moat_err *err);

/* The blobs of one job, under "jobs/{id}/{name}" as in the SQLite driver
 * (code.bin and output.log are JOB_CODE_KEY_FMT and JOB_OUTPUT_KEY_FMT). */
#define PG_BLOB_CODE "code.bin"
#define PG_BLOB_STDIN "stdin.bin"
#define PG_BLOB_EXPECTED "expected.bin"
#define PG_BLOB_TESTS "tests.json"
#define PG_BLOB_RESULTS "results.json"
#define PG_BLOB_STDOUT "output.log"
#define PG_BLOB_STDERR "stderr.log"
#define PG_BLOB_COMPILE_STDOUT "compile-stdout.log"
#define PG_BLOB_COMPILE_STDERR "compile-stderr.log"
#define PG_BLOB_RUN_ORDER "run-order.bin"
#define PG_BLOB_COMPILE_ORDER "compile-order.bin"
#define PG_KEY_MAX 80

/* The step columns, in this order, prefixed c_ (compile) and r_ (run). */
#define PG_STEP_NCOLS 10
