#pragma once
/*
 * store internals: the driver interface. store.c checks the arguments every
 * driver would check (ids, statuses) and dispatches through struct
 * store_ops; a driver embeds struct store as the first member of its own
 * handle. sqlite*.c is the embedded driver, postgres*.c the cluster's.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "moat/store.h"

/* Counters of a store, for tests and metrics. */
struct store_stats {
    uint64_t writes;      /* write requests completed (any result) */
    uint64_t commits;     /* transactions committed by the writer */
    uint64_t retries;     /* batches rolled back and retried item by item */
    uint64_t checkpoints; /* WAL truncations */
    uint64_t row_waits;   /* starts tried again, their row not there yet */
};

/*
 * What a driver implements. Ids reaching a driver are well-formed lowercase
 * UUIDs (store.c answers -ENOENT for anything else); jobs given to
 * insert_async and finish have been checked by store.c. Same contracts as
 * the public functions of store.h otherwise; store.c answers reads of
 * inserts in flight and builds store_start from start_begin/start_wait.
 */
struct store_ops {
    const char *name;
    void (*close)(struct store *st);
    int (*insert_async)(struct store *st, const struct job *job, store_done_fn done, void *cls);
    int (*get)(struct store *st, const char *id, unsigned what, struct job *out,
               struct moat_err *err);
    int (*get_output)(struct store *st, const char *id, char **data, size_t *len,
                      struct moat_err *err);
    int (*start_begin)(struct store *st, const char *id, int64_t now_ms, bool takeover,
                       uint64_t row_wait_ms, struct store_ticket **ticket);
    int (*start_wait)(struct store_ticket *ticket, uint32_t *attempts, uint64_t *settled_ns,
                      struct moat_err *err);
    int (*finish)(struct store *st, const struct job *job, struct moat_err *err);
    int (*requeue)(struct store *st, const char *id, uint32_t attempts, struct moat_err *err);
    int (*cancel)(struct store *st, const char *id, int64_t now_ms, enum job_status *was,
                  struct moat_err *err);
    int (*list_pending)(struct store *st, struct store_pending **out, size_t *n,
                        struct moat_err *err);
    int (*list)(struct store *st, uint64_t offset, size_t limit, char (*ids)[MOAT_UUID_LEN + 1],
                size_t *n, uint64_t *total, struct moat_err *err);
    bool (*ready)(struct store *st);
    int (*callback_due)(struct store *st, int64_t now_ms, char (*ids)[MOAT_UUID_LEN + 1],
                        size_t max, size_t *n, struct moat_err *err);
    int (*callback_claim)(struct store *st, const char *id, int64_t now_ms, uint64_t lease_ms,
                          uint32_t *attempt, struct moat_err *err);
    int (*callback_record)(struct store *st, const char *id, const struct store_callback_outcome *o,
                           struct moat_err *err);
    void (*stats)(struct store *st, struct store_stats *out);
    /* API keys and idempotency records (sqlite-keys.c, postgres-keys.c) */
    int (*key_add)(struct store *st, const struct store_key *k, struct moat_err *err);
    int (*key_list)(struct store *st, size_t max, struct store_key **out, size_t *n,
                    struct moat_err *err);
    int (*key_revoke)(struct store *st, const char *id, int64_t now_ms, struct moat_err *err);
    int (*idem_claim)(struct store *st, const char *owner, const char *key, const char *body_hash,
                      int64_t now_ms, int64_t expire_before_ms, struct store_idem *out,
                      struct moat_err *err);
    int (*idem_settle)(struct store *st, const char *owner, const char *key, unsigned status,
                       const char *ctype, const char *location, const char *body, size_t len,
                       struct moat_err *err);
    int (*idem_drop)(struct store *st, const char *owner, const char *key, int64_t created_ms,
                     struct moat_err *err);
};

struct store_inflight;

/* A driver's open fills ops; store.c owns the rest. */
struct store {
    const struct store_ops *ops;
    struct store_inflight *inflight; /* inserts not committed yet (store.c) */
};

/* A driver's ticket starts with this. */
struct store_ticket {
    const struct store_ops *ops;
};

/* What an insert writes besides the job's columns, made on the caller's
 * thread so that a driver's writer only writes: the code blob (the job's
 * own single unnamed file, borrowed, or a blob of its files in owned),
 * the args as JSON (NULL = "[]"), the code hash (the API's, or made
 * here), how its output is judged (compare NULL: not at all; set for a
 * judged run or for tests; expected_len its run's own expected output,
 * stored as a blob) and what its tests ask (JSON, NULL without tests). */
struct store_insert_data {
    const char *code;
    size_t code_len;
    char *owned;
    char *args_json;
    const char *compare;
    double abs_tol, rel_tol;
    size_t expected_len;
    char *tests_json;
    size_t tests_len;
};
int store_insert_data_make(const struct job *job, struct store_insert_data *d,
                           char hash[MOAT_SHA256_HEX_LEN + 1]);
void store_insert_data_release(struct store_insert_data *d);
/* What a finish writes besides the job's columns, made on the caller's
 * thread: what each test gave as JSON (*out NULL without tests; the
 * caller frees it). -ENOMEM. */
int store_results_make(const struct job *job, char **out, size_t *len);
/* The judging columns read back into j: compare NULL (not judged) leaves
 * it alone; else the mode and tolerances, and for a job without tests a
 * judged run whose expected output (expected_len bytes) is read with its
 * code. -EIO for a mode moat does not know. */
int store_judging_fill(struct job *j, const char *compare, double abs_tol, double rel_tol,
                       size_t expected_len, size_t ntests);

/* A caller waiting for one write of a driver's writer thread: the
 * request's done is store_sync_done with the waiter as its cls. result is
 * what done was told; settled_ns (CLOCK_MONOTONIC) when the writer settled
 * it (committed or failed). */
struct store_sync {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool done;
    int result;
    uint64_t settled_ns;
};
void store_sync_init(struct store_sync *w);
void store_sync_done(void *cls, int result);
/* Waits for the done, then destroys w's lock and condition. */
void store_sync_wait(struct store_sync *w);

/* The SQLite driver: <cfg->data_dir>/moat.db. */
int store_sqlite_open(const struct moat_config *cfg, struct store **out, struct moat_err *err);
/* The PostgreSQL driver: cfg->store is its URL. */
int store_postgres_open(const struct moat_config *cfg, struct store **out, struct moat_err *err);

/* A read job's tests (ntests of them, its row says): what each asks from
 * the spec blob when it was read (else ntests empty tests), what each gave
 * from the results blob when there is one. 0, -EIO (a blob that does not
 * decode, or disagrees with the row), -ENOMEM; what it filled is released
 * with j. */
int store_tests_fill(struct job *j, size_t ntests, const char *spec, size_t spec_len,
                     const char *results, size_t results_len);
/* The callback columns of a job's row, as read (text NULL when NULL). */
struct store_callback_row {
    const char *url, *shape, *status, *error;
    uint64_t attempts;
    int64_t delivered_ms, next_ms;
};
/* Fills j->callback from them: 0, -EIO for a row moat did not write (a
 * URL too long, a shape or status it does not know). */
int store_callback_fill(struct job *j, const struct store_callback_row *row);

/* Counters since open. Thread-safe. */
void store_stats(struct store *st, struct store_stats *out);

/* The args of a job as compact JSON text ("[]" when none). Caller frees.
 * -EINVAL for an arg that is not UTF-8, -ENOMEM. */
int store_args_to_json(const struct job *job, char **out);
/* The inverse, into j->args/nargs (malloc'd, NUL-terminated strings).
 * -EINVAL for anything but an array of strings without NULs, -ENOMEM. */
int store_args_from_json(struct job *j, const char *text, size_t len);
