#pragma once
/*
 * store: where jobs live. One interface, one driver per backend: "sqlite"
 * (the embedded default: one file in the data directory) and "postgres"
 * (a cluster's shared database). exec uses only what is here.
 *
 * Fencing: every start of a job counts an attempt (attempts + 1), and the
 * writes of its outcome (finish, requeue) name the attempt they belong to.
 * A write of an attempt that is not the job's latest (its taker was
 * presumed dead, and another took the job over) is refused with -ESTALE,
 * so a late result never overwrites the current one.
 *
 * Durability: a write reports success only once it is on disk (SQLite: WAL,
 * synchronous=FULL, committed). Writes go through one writer thread that
 * commits concurrent submissions in one transaction (group commit: one fsync
 * per batch). Reads run on their own connections and never wait for the
 * writer.
 *
 * Blobs: code, stdin, stdout and stderr are kept as blobs under keys
 * (JOB_CODE_KEY_FMT, JOB_OUTPUT_KEY_FMT, ...), not in the job rows, so a
 * later driver can put them in an object store.
 *
 * Every function is thread-safe unless it says otherwise.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "moat/config.h"
#include "moat/job.h"

struct store;
struct moat_err;

/*
 * Opens the store named by cfg->store: "sqlite" is the file
 * <data_dir>/moat.db (the directory is made 0700 when missing), a
 * postgres:// URL a PostgreSQL database; either is migrated to the current
 * schema (versioned migrations in a schema_version table; a database from a
 * newer moat is refused with -EPROTO). Starts the writer thread. Borrows cfg
 * for the call only. -errno with err set.
 *
 * The file is identified before anything writes to it: no file, an empty
 * one, or a moat store (its application_id, or for a store made before
 * moat set one, its exact schema) is taken; anything else, such as another
 * application's database, is refused with -EMEDIUMTYPE and err naming the
 * file, which is left exactly as it was (no -wal or -shm made beside it).
 */
int store_open(const struct moat_config *cfg, struct store **out, struct moat_err *err);
/* Finishes the writes in flight (their callbacks run), stops the writer,
 * closes every connection. Accepts NULL. No call may be in flight. */
void store_close(struct store *st);

/* Called once per write from the writer thread, after the commit (result 0)
 * or the failure (-errno). Must not block or call the store. */
typedef void (*store_done_fn)(void *cls, int result);

/*
 * Inserts a new job (status queued, attempts 0, created_ms set by the
 * caller) with its code and stdin blobs and its code_hash, asynchronously:
 * done(cls, 0) once it is durable. Borrows job until done has been called
 * (the caller keeps it alive and unchanged). -EEXIST through done when the
 * id exists. Returns 0 when queued for writing, -ESHUTDOWN after close
 * started (done is then not called), -ENOMEM.
 */
int store_insert_async(struct store *st, const struct job *job, store_done_fn done, void *cls);
/* The same, waiting for the commit. */
int store_insert(struct store *st, const struct job *job, struct moat_err *err);

/* What store_get loads besides the row. */
enum {
    STORE_GET_CODE = 1 << 0,   /* files (from the code blob) and stdin */
    STORE_GET_OUTPUT = 1 << 1, /* stdout and stderr of both steps */
};

/*
 * Loads job id into *out (which the caller releases with job_release).
 * -ENOENT when there is no such job (also for a malformed id), -EIO/-ENOMEM
 * with err set. Reads the latest committed state, or for a job whose insert
 * this store handle has queued and not committed yet, that job as it is
 * being inserted (queued, code and stdin included whatever what says).
 */
int store_get(struct store *st, const char *id, unsigned what, struct job *out,
              struct moat_err *err);

/* Stdout of the run step of a finished job: the blob under
 * JOB_OUTPUT_KEY_FMT. *data is malloc'd (caller frees). -ENOENT. */
int store_get_output(struct store *st, const char *id, char **data, size_t *len,
                     struct moat_err *err);

/*
 * Marks a queued job running: attempts = attempts + 1 (the new attempt, the
 * fencing token of its outcome), started_ms = now_ms. takeover: a running
 * job is taken too (its taker was lost: died, or silent past the ack
 * deadline); its old attempt is fenced off. Durable before it returns.
 * *attempts gets the new count. -ENOENT, and -EALREADY when the job is not
 * queued (nor running, with takeover) any more: the executor then skips it.
 */
int store_start(struct store *st, const char *id, int64_t now_ms, bool takeover, uint32_t *attempts,
                struct moat_err *err);

/*
 * store_start in two halves, so that an executor need not wait for the
 * commit before it runs the job: store_start_begin queues the write (behind
 * every write queued before it: a later store_finish of the job commits
 * after it) and store_start_wait waits for its result, exactly once, before
 * the job's result is recorded. A run whose start then fails is dropped.
 * begin: 0, -ENOENT (malformed id), -ESHUTDOWN, -ENOMEM. wait: what
 * store_start returns; it frees the ticket.
 */
struct store_ticket;
int store_start_begin(struct store *st, const char *id, int64_t now_ms, bool takeover,
                      struct store_ticket **ticket);
/* store_start_begin of a job whose insert, made by another node, may not
 * have committed yet (its queue message was published while the insert
 * committed): a start that finds no row is tried again, with a short
 * backoff, for up to row_wait_ms before it answers -ENOENT. A driver whose
 * readers see every insert of the cluster in flight (one process) ignores
 * row_wait_ms. */
int store_start_begin_awaiting(struct store *st, const char *id, int64_t now_ms,
                               uint64_t row_wait_ms, struct store_ticket **ticket);
/* settled_ns (may be NULL): when the start's commit settled (CLOCK_MONOTONIC),
 * which may be long before this call. */
int store_start_wait(struct store_ticket *ticket, uint32_t *attempts, uint64_t *settled_ns,
                     struct moat_err *err);

/*
 * Records the result of attempt job->attempts of a running job: status
 * (completed or failed), finished_ms, compiled/compile/run, output_hash and
 * the output blobs, all in one transaction. Only a running job changes:
 * -EALREADY when it is not running (cancelled meanwhile), -ESTALE when a
 * later attempt has had it (running or already final); the result is then
 * dropped, never recorded twice. Borrows job.
 */
int store_finish(struct store *st, const struct job *job, struct moat_err *err);

/* Puts attempt `attempts` of a running job back to queued (an
 * internal_error to be retried). -EALREADY when it is not running, -ESTALE
 * when a later attempt has had it. */
int store_requeue(struct store *st, const char *id, uint32_t attempts, struct moat_err *err);

/*
 * Cancels a queued or running job: status cancelled, finished_ms = now_ms.
 * *was gets the status it had. -ENOENT, -EALREADY when it had already
 * finished (*was says how).
 */
int store_cancel(struct store *st, const char *id, int64_t now_ms, enum job_status *was,
                 struct moat_err *err);

/* One job that was not finished when the store was opened. */
struct store_pending {
    char id[MOAT_UUID_LEN + 1];
    int priority;
    enum job_status status; /* queued or running (a crash interrupted it) */
    uint32_t attempts;
    int64_t created_ms, started_ms;
};

/*
 * Every job that is queued or running, oldest first (recovery after a
 * crash: the caller queues them again). *out is malloc'd (caller frees).
 */
int store_list_pending(struct store *st, struct store_pending **out, size_t *n,
                       struct moat_err *err);

/* The most ids one store_list page holds. */
#define STORE_LIST_MAX 100

/*
 * A page of the jobs, newest first (by id: UUIDv7 ids sort by creation):
 * at most limit ids (1..STORE_LIST_MAX) after skipping offset, into ids
 * (limit entries, the caller's), their count in *n, and the number of
 * stored jobs in *total (a count over the table: an administrator's read,
 * not a hot path). Jobs whose insert has not committed are not listed.
 * -EINVAL for a limit out of range, -EIO/-ENOMEM with err set.
 */
int store_list(struct store *st, uint64_t offset, size_t limit, char (*ids)[MOAT_UUID_LEN + 1],
               size_t *n, uint64_t *total, struct moat_err *err);

/* ---- webhook deliveries (notify) ----
 *
 * A job inserted with a callback URL has its delivery pending. Each
 * attempt is claimed first: the claim counts it (callback.attempts + 1,
 * the fencing token of its outcome) and leases the delivery to its
 * claimer for lease_ms, so that no other node makes an attempt meanwhile;
 * a claimer that dies leaves a lease that runs out, and the delivery is
 * due again. The outcome of an attempt is recorded with its number: one
 * whose lease ran out and was claimed again is refused (-ESTALE).
 */

/* Up to max ids of jobs whose delivery is due at now_ms: final, pending,
 * next_ms <= now_ms, not leased; the longest due first. */
int store_callback_due(struct store *st, int64_t now_ms, char (*ids)[MOAT_UUID_LEN + 1], size_t max,
                       size_t *n, struct moat_err *err);
/* Claims the next attempt of job id's delivery: *attempt gets its number.
 * -EALREADY when it is not due (not final yet, not pending, leased, or
 * next_ms later), -ENOENT. Durable before it returns. */
int store_callback_claim(struct store *st, const char *id, int64_t now_ms, uint64_t lease_ms,
                         uint32_t *attempt, struct moat_err *err);

/* How an attempt ended: status pending (retry at next_ms), delivered (at
 * delivered_ms) or failed; error "" or why it did not deliver. */
struct store_callback_outcome {
    uint32_t attempt; /* what store_callback_claim gave */
    enum job_callback_status status;
    int64_t delivered_ms, next_ms;
    const char *error; /* borrowed; cut to JOB_CALLBACK_ERROR_MAX bytes; NULL keeps the
                          last one (a delivery after failures keeps what went wrong) */
};
/* Records it and releases the lease. -ESTALE when the attempt is not the
 * latest (or the delivery no longer pending). */
int store_callback_record(struct store *st, const char *id, const struct store_callback_outcome *o,
                          struct moat_err *err);

/*
 * Whether the store can serve jobs now, for /readyz: it answers a read, and
 * it takes writes. A write that failed for a reason of the store's own
 * (disk full, I/O error, read-only file, a lock held elsewhere) makes it
 * false until a write commits again with room on the disk; the store
 * probes that by itself every fraction of a second, so it comes back
 * without anyone writing. Never blocks on the writer.
 */
bool store_ready(struct store *st);

/* ---- API keys and idempotency records (the API's authentication) ---- */

/* One API key as the store keeps it: never the key itself, only the
 * SHA-256 of it (lowercase hex). Limits of 0 mean "the server's". */
struct store_key {
    char id[MOAT_UUID_LEN + 1];
    char name[64];
    char hash[MOAT_SHA256_HEX_LEN + 1];
    int64_t created_ms;
    int64_t revoked_ms;       /* 0 = active */
    uint64_t jobs_per_minute; /* 0 = no quota */
    uint64_t concurrent_jobs; /* 0 = no quota */
    struct moat_limits max;   /* each 0 = the server's maximum */
    char languages[256];      /* comma-separated names; "" = every language */
};

/* Adds key k (id, hash, name, created_ms, limits set by the caller).
 * -EEXIST when its id or hash exists. Synchronous: durable on return. */
int store_key_add(struct store *st, const struct store_key *k, struct moat_err *err);
/* Every key (revoked ones too), oldest first, at most max of them: *out is
 * malloc'd (caller frees). -E2BIG when there are more than max. */
int store_key_list(struct store *st, size_t max, struct store_key **out, size_t *n,
                   struct moat_err *err);
/* Marks key id revoked at now_ms. -ENOENT when there is no such key,
 * -EALREADY when it was revoked already. */
int store_key_revoke(struct store *st, const char *id, int64_t now_ms, struct moat_err *err);

/* An Idempotency-Key's record: the first request's body hash and, once it
 * was answered, that answer. status 0: the first request is in flight. */
struct store_idem {
    char body_hash[MOAT_SHA256_HEX_LEN + 1];
    int64_t created_ms;
    unsigned status;
    char ctype[64];
    char location[96];
    char *body; /* owned (caller frees); NULL while status is 0 */
    size_t body_len;
};

/*
 * Claims (owner, key) for a request whose body hashes to body_hash:
 * records made before expire_before_ms are dropped first. Returns 1 when
 * this call made the record (the caller goes on, then settles or drops
 * it), 0 when one exists (*out gets it; the caller frees out->body).
 * Atomic: of concurrent claims of one (owner, key), one alone gets 1.
 */
int store_idem_claim(struct store *st, const char *owner, const char *key, const char *body_hash,
                     int64_t now_ms, int64_t expire_before_ms, struct store_idem *out,
                     struct moat_err *err);
/* Records the answer of the claimed (owner, key): status, content type,
 * Location (may be ""), body. */
int store_idem_settle(struct store *st, const char *owner, const char *key, unsigned status,
                      const char *ctype, const char *location, const char *body, size_t len,
                      struct moat_err *err);
/* Drops the record of (owner, key) (its request was refused: a retry may
 * go through). created_ms 0: whatever it holds; else only while it is in
 * flight (status 0) and was made at created_ms (an abandoned claim, taken
 * over: a record claimed again since is left alone). */
int store_idem_drop(struct store *st, const char *owner, const char *key, int64_t created_ms,
                    struct moat_err *err);
