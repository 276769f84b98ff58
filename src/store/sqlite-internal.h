#pragma once
/*
 * The SQLite driver of the store, shared by its files: sqlite.c (open,
 * close), sqlite-schema.c (what the file must be, the migrations),
 * sqlite-read.c (the reader pool and every read), sqlite-write.c (the
 * writer thread and every write).
 *
 * Threads: the connections are opened SQLITE_OPEN_NOMUTEX, so each belongs
 * to one thread at a time: the writer connection to the writer thread (and
 * to store_open/store_close before it starts and after it is joined), a
 * reader connection to whoever took it from the free list.
 */
#include <pthread.h>
#include <stdio.h>
#include <sqlite3.h>

#include "store-internal.h"

/* Statements of the writer connection, prepared once. */
enum sq_wstmt {
    SQW_BEGIN,
    SQW_COMMIT,
    SQW_ROLLBACK,
    SQW_INSERT_JOB,
    SQW_PUT_BLOB,
    SQW_STATUS,
    SQW_START,
    SQW_FINISH,
    SQW_REQUEUE,
    SQW_CANCEL,
    SQW_PROBE,
    SQW_CB_CLAIM,
    SQW_CB_RECORD,
    SQW_MAX_,
};

/* Statements of a reader connection. */
enum sq_rstmt {
    SQR_BEGIN,
    SQR_COMMIT,
    SQR_GET_JOB,
    SQR_GET_BLOB,
    SQR_PENDING,
    SQR_LIST,
    SQR_COUNT,
    SQR_CB_DUE,
    SQR_MAX_,
};

struct sq_reader {
    sqlite3 *db;
    sqlite3_stmt *st[SQR_MAX_];
    struct sq_reader *next; /* on the free list */
};

struct sq_wreq;

struct sq_store {
    struct store base; /* first: a struct store * is a struct sq_store * */
    char path[4096];

    /* the writer; wst belongs to the writer thread while it runs */
    sqlite3 *wdb;
    sqlite3_stmt *wst[SQW_MAX_];
    pthread_t writer;
    bool writer_running;
    uint64_t since_checkpoint; /* commits since the last truncation (writer only) */
    /* Whether the store takes writes: 0, or the -errno of the last write
     * that failed for a reason of the store's own (disk full, I/O error,
     * read-only, locked), until a write commits with room on the disk
     * again. Written by the writer, read by store_ready (atomic). */
    int write_err;
    uint64_t next_probe_ns; /* writer only: when an idle writer probes again */
    char dir[4096];         /* the data directory, for its free space */

    /* the write queue, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct sq_wreq *head, *tail;
    bool stopping;
    bool writer_waiting;

    /* the readers, under rmu */
    pthread_mutex_t rmu;
    pthread_cond_t rcond;
    struct sq_reader *free_readers;
    size_t nreaders;

    /* the connection of API keys and idempotency records (sqlite-keys.c):
     * opened on first use, one caller at a time under amu. Small
     * synchronous writes beside the writer's batches (WAL: the busy
     * timeout orders them). */
    pthread_mutex_t amu;
    sqlite3 *adb;

    /* counters: atomics, read by store_stats from any thread */
    uint64_t n_writes, n_commits, n_retries, n_checkpoints;
};

/* moat's mark in the header of its database (PRAGMA application_id): the
 * bytes "moat". Set on every store, so that moat recognises its own file
 * and refuses anyone else's. */
#define SQ_APPLICATION_ID 1836015988 /* 0x6d6f6174 */
#define SQ_STR_(x) #x
#define SQ_STR(x) SQ_STR_(x)
#define SQ_SET_APPLICATION_ID "PRAGMA application_id = " SQ_STR(SQ_APPLICATION_ID)

/* Readers at most; more callers wait for one to come back. */
#define SQ_MAX_READERS 8
/* A store that failed a write is writable again once a write commits and
 * its file system has this much room (a write that squeezed into the
 * WAL's slack proves little on a disk that is still full). */
#define SQ_MIN_FREE_BYTES (1ull << 20)
/* How often an idle writer probes a store that failed a write, so that it
 * comes back by itself when the disk has room again. */
#define SQ_PROBE_MS 250
/* A write waits this long for a lock another process holds. */
#define SQ_BUSY_TIMEOUT_MS 5000

/* Opens one connection with the per-connection pragmas (synchronous=FULL,
 * busy_timeout, foreign_keys). -errno with err set; *out only on success. */
int sq_connect(const char *path, bool readonly, sqlite3 **out, struct moat_err *err);
/* Prepares sql[0..n) as persistent statements into st (all or none). */
int sq_prepare(sqlite3 *db, const char *const *sql, size_t n, sqlite3_stmt **st,
               struct moat_err *err);
void sq_finalize(sqlite3_stmt **st, size_t n);
/* -errno for an SQLite result code (primary or extended). */
int sq_errno(int rc);

/* sqlite-schema.c */
/* Whether path may be opened for writing, from reads that change nothing
 * (no -wal or -shm is made for a file that is not moat's): 0 for no file,
 * an empty one, or a moat store this moat can migrate; -EMEDIUMTYPE for
 * anything else (another application's database, not SQLite at all),
 * -EPROTO for a store of a newer moat, -errno when it cannot be read; err
 * names path. */
int sq_identify(const char *path, struct moat_err *err);
/* Switches db to WAL (a property of the file: it stays). */
int sq_set_wal(sqlite3 *db, struct moat_err *err);
/* Brings the schema to the latest version and sets the application id, in
 * one transaction (a crash midway leaves the old version whole). */
int sq_migrate(sqlite3 *db, const char *path, struct moat_err *err);

/* sqlite-write.c */
int sq_writer_start(struct sq_store *s, struct moat_err *err);
/* Whether the store takes writes (see write_err). Any thread. */
bool sq_writable(struct sq_store *s);
/* Drains the queue (every done runs), joins the writer. */
void sq_writer_stop(struct sq_store *s);
/* A last WAL truncation, from whichever thread owns wdb. */
void sq_checkpoint(struct sq_store *s);
int sq_insert_async(struct store *st, const struct job *job, store_done_fn done, void *cls);
int sq_start_begin(struct store *st, const char *id, int64_t now_ms, bool takeover,
                   uint64_t row_wait_ms, struct store_ticket **ticket);
int sq_start_wait(struct store_ticket *ticket, uint32_t *attempts, uint64_t *settled_ns,
                  struct moat_err *err);
int sq_finish(struct store *st, const struct job *job, struct moat_err *err);
int sq_requeue(struct store *st, const char *id, uint32_t attempts, struct moat_err *err);
int sq_cancel(struct store *st, const char *id, int64_t now_ms, enum job_status *was,
              struct moat_err *err);
int sq_callback_due(struct store *st, int64_t now_ms, char (*ids)[MOAT_UUID_LEN + 1], size_t max,
                    size_t *n, struct moat_err *err);
int sq_callback_claim(struct store *st, const char *id, int64_t now_ms, uint64_t lease_ms,
                      uint32_t *attempt, struct moat_err *err);
int sq_callback_record(struct store *st, const char *id, const struct store_callback_outcome *o,
                       struct moat_err *err);

/* sqlite-read.c */
void sq_readers_close(struct sq_store *s);
int sq_get(struct store *st, const char *id, unsigned what, struct job *out, struct moat_err *err);
int sq_get_output(struct store *st, const char *id, char **data, size_t *len, struct moat_err *err);
int sq_list_pending(struct store *st, struct store_pending **out, size_t *n, struct moat_err *err);
int sq_list(struct store *st, uint64_t offset, size_t limit, char (*ids)[MOAT_UUID_LEN + 1],
            size_t *n, uint64_t *total, struct moat_err *err);
bool sq_ready(struct store *st);

/* The blobs of one job, under "jobs/{id}/{name}" (code.bin and output.log
 * are JOB_CODE_KEY_FMT and JOB_OUTPUT_KEY_FMT of job.h). */
/*
 * The writer folds the WAL into the database and truncates it once it has
 * made this many commits and then had no request for SQ_CHECKPOINT_IDLE_MS.
 * Not between two batches of a steady load: a truncated WAL grows again
 * from nothing, and while it grows every commit's fdatasync also writes
 * the file's new size (the inode), and its blocks are allocated anew.
 * Under load SQLite's own PASSIVE autocheckpoint (1000 pages) keeps the
 * WAL bounded, and once a checkpoint has copied it whole the next commit
 * writes the WAL from its start again, over blocks it already has: the
 * same fsync per commit, without the metadata. Durability is the same
 * either way (synchronous=FULL: each commit's frames are fsynced).
 */
#define SQ_CHECKPOINT_EVERY 128
#define SQ_CHECKPOINT_IDLE_MS 100

#define SQ_BLOB_CODE "code.bin"
#define SQ_BLOB_STDIN "stdin.bin"
#define SQ_BLOB_EXPECTED "expected.bin"
#define SQ_BLOB_TESTS "tests.json"
#define SQ_BLOB_RESULTS "results.json"
#define SQ_BLOB_STDOUT "output.log"
#define SQ_BLOB_STDERR "stderr.log"
#define SQ_BLOB_COMPILE_STDOUT "compile-stdout.log"
#define SQ_BLOB_COMPILE_STDERR "compile-stderr.log"
/* the order of a step's two streams (job_step.order), when recorded */
#define SQ_BLOB_RUN_ORDER "run-order.bin"
#define SQ_BLOB_COMPILE_ORDER "compile-order.bin"
#define SQ_KEY_MAX 80

static inline void sq_blob_key(char out[SQ_KEY_MAX], const char *id, const char *name)
{
    (void)snprintf(out, SQ_KEY_MAX, "jobs/%s/%s", id, name);
}

/* The step columns, in this order, prefixed c_ (compile) and r_ (run). */
#define SQ_STEP_NCOLS 10

/* sqlite-keys.c */
int sq_key_add(struct store *st, const struct store_key *k, struct moat_err *err);
int sq_key_list(struct store *st, size_t max, struct store_key **out, size_t *n,
                struct moat_err *err);
int sq_key_revoke(struct store *st, const char *id, int64_t now_ms, struct moat_err *err);
int sq_idem_claim(struct store *st, const char *owner, const char *key, const char *body_hash,
                  int64_t now_ms, int64_t expire_before_ms, struct store_idem *out,
                  struct moat_err *err);
int sq_idem_settle(struct store *st, const char *owner, const char *key, unsigned status,
                   const char *ctype, const char *location, const char *body, size_t len,
                   struct moat_err *err);
int sq_idem_drop(struct store *st, const char *owner, const char *key, int64_t created_ms,
                 struct moat_err *err);
