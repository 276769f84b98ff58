#pragma once
/*
 * exec: runs programs in boxes. exec_program is the whole life of one
 * program in one box: write its files, compile (compiled languages), run,
 * and map the sandbox's results to job steps. The executor loop of the
 * service (queue, store, retries) builds on it.
 */
#include <stdbool.h>
#include <stddef.h>

#include "moat/config.h"
#include "moat/job.h"
#include "moat/lang.h"
#include "moat/sandbox.h"

struct sbx_box;
struct moat_err;

/* The sandbox settings of cfg (uids, run dir, cgroup, tmpfs sizes,
 * Landlock, cache dir, netns pool); the strings point into cfg. */
struct sbx_config exec_sandbox_config(const struct moat_config *cfg);

struct exec_file {
    const char *name; /* NULL for the entry of a single-file program: the
                         language's rule names it (main.py, Main.java, ...) */
    const char *data;
    size_t len;
};

struct exec_request {
    const struct lang *lang;
    const struct exec_file *files; /* files[0] is the entry point */
    size_t nfiles;
    const char *stdin_data;
    size_t stdin_len;
    const char *const *args;
    size_t nargs;
    struct moat_limits limits; /* the run step's, already checked */
};

struct exec_outcome {
    bool compiled;           /* a compile step ran (or came from the cache) */
    struct job_step compile; /* valid when compiled */
    struct job_step run;     /* verdict compile_error when compilation failed */
};

void exec_outcome_release(struct exec_outcome *o);

/*
 * A program compiled once and run in other boxes (a job's tests): the
 * compile step's artifacts (or a cache hit's), held in memory.
 */
struct exec_cache;
struct exec_built {
    struct sbx_file *artifacts; /* owned: names and data */
    size_t nartifacts;
    bool used_box; /* a step ran in the box exec_build was given */
};
void exec_built_release(struct exec_built *b);
/* Compiles req in box (or takes the compile cache's artifacts, leaving box
 * fresh: !b->used_box), keeping the artifacts in *b (release it). An
 * interpreted language builds nothing. out->compile is the compile step;
 * out->run says compile_error (or the step's failure) when it failed.
 * Returns as exec_program. */
int exec_build(struct sbx_box *box, const struct moat_config *cfg, struct exec_cache *cache,
               const struct exec_request *req, struct exec_outcome *out, struct exec_built *b,
               struct moat_err *err);
/* Runs req (its stdin, args, limits; the same files as built) in box with
 * b's artifacts: the run step only, into *step. Returns as exec_program. */
int exec_run_built(struct sbx_box *box, const struct exec_built *b, const struct exec_request *req,
                   struct job_step *step, struct moat_err *err);

/*
 * Runs req in box (which is used up: the caller frees it afterwards).
 * Returns 0 when there is an outcome (whatever the program did) and -errno
 * with err set when the request itself is wrong (e.g. a bad file name:
 * err->field names it) or the box failed (outcome verdict internal_error).
 */
int exec_program(struct sbx_box *box, const struct moat_config *cfg, const struct exec_request *req,
                 struct exec_outcome *out, struct moat_err *err);

/* ---- compile cache ---- */

/*
 * The compile step's artifacts (every regular file the compile step left in
 * /box that was not a source), kept on disk under <data_dir>/compile-cache,
 * keyed by SHA-256 of (language, version, compile command, file names and
 * contents), bounded to cfg->compile_cache_mb by evicting the least recently
 * used entries. exec_program consults it when given one: a hit writes the
 * artifacts into the box and skips the compile step (compile.cached = true).
 * Thread-safe.
 */
struct exec_cache;
int exec_cache_open(const struct moat_config *cfg, struct exec_cache **out, struct moat_err *err);
void exec_cache_free(struct exec_cache *c); /* accepts NULL */
struct exec_cache_stats {
    uint64_t hits, misses, entries, bytes, evictions;
};
void exec_cache_stats(struct exec_cache *c, struct exec_cache_stats *st);

/* exec_program with a compile cache (NULL = none). */
int exec_program_cached(struct sbx_box *box, const struct moat_config *cfg,
                        struct exec_cache *cache, const struct exec_request *req,
                        struct exec_outcome *out, struct moat_err *err);

/* ---- the life of jobs: `moat serve` and `moat worker` ---- */

/*
 * exec owns a job's life from submission to its final status, on every
 * node: submit, take when a box is free, run, persist, acknowledge, cancel,
 * retry, recover, and announce final jobs. The API decodes requests, calls
 * exec and renders what it answers; it never touches the store or the
 * queue itself.
 *
 * Final jobs are announced through one event interface: in-process to this
 * node's watchers (a wait=true request, a NATS request), and through the
 * queue's events to every other node (with a NATS queue), so a waiter on
 * any node hears of a job finished on any other.
 */

struct store;
struct queue;
struct sbx_pool;
struct obs_registry;
struct lang_registry;

struct exec_deps {
    const struct moat_config *cfg; /* workers, retry policy, limits */
    const struct lang_registry *langs;
    struct store *store;
    struct queue *queue;
    struct sbx_pool *pool;        /* boxes; NULL: this node runs no jobs
                                     (an API-only node) */
    struct exec_cache *cache;     /* NULL = no compile cache */
    struct obs_registry *metrics; /* NULL = none */
};

struct exec;

/*
 * Starts the job service of this node: the executors (config_workers of
 * them, when deps->pool is set: each takes a free box, then the next job
 * from the queue), the watchers' deadlines, and with a NATS queue the
 * heartbeat of running jobs and the reconciler. Borrows deps (and what it
 * points to) until exec_stop. Call exec_recover before the API accepts
 * anything.
 */
int exec_start(const struct exec_deps *deps, struct exec **out, struct moat_err *err);
/*
 * The first half of a graceful stop: from now on a submission is refused
 * (-ESHUTDOWN) and readiness fails ("the service is stopping"); no job is
 * taken from the queue (queue_shutdown); the jobs running go on finishing
 * for up to grace_ms, while the store takes writes (with a full disk their
 * results could not be kept). Those still running then are stopped and left as the
 * store has them (running), for the next start's recovery or, in a
 * cluster, another node: never recorded as cancelled. Returns how many
 * were stopped. Call exec_stop next.
 */
size_t exec_drain(struct exec *ex, uint64_t grace_ms);

/*
 * Stops taking jobs, lets the running ones finish (queue_shutdown must have
 * been called), ends every watch (EXEC_STOPPING), joins the threads, frees.
 * A result the store still refuses then (a full disk) is left: the job
 * stays running in the store and its queue entry unacknowledged, for
 * recovery. Accepts NULL.
 */
void exec_stop(struct exec *ex);

/*
 * What a previous run left: with the local queue, every job the store holds
 * as queued or running is queued again (a running one was interrupted: it
 * runs again unless it has had all its attempts, then it is failed); with
 * a NATS queue, jobs the stream lacks are published again (the reconciler
 * does it from then on, every cluster.reconcile_s).
 */
int exec_recover(struct exec *ex, struct moat_err *err);

/* ---- notices: how a submission or a watch ends ---- */

enum exec_notice_kind {
    EXEC_ACCEPTED,  /* the job is durable and queued (a submission without wait) */
    EXEC_REFUSED,   /* the submission failed: nothing was accepted (error says why) */
    EXEC_FINAL,     /* the job reached a final status */
    EXEC_WAIT_OVER, /* server.max_wait_ms passed first */
    EXEC_STOPPING,  /* the node stops (or the watcher was released) */
};

struct exec_notice {
    enum exec_notice_kind kind;
    int error; /* EXEC_REFUSED: -errno */
    const char *id;
    const struct job *final; /* EXEC_FINAL: the job as recorded, outputs
                                included, when this node recorded it; NULL
                                when it was recorded elsewhere (read it) */
};

/* Called exactly once per submission or watch; from any thread (maybe
 * before the call that started it returns); must not block. */
typedef void (*exec_notice_fn)(void *cls, const struct exec_notice *n);

/*
 * Accepts a decoded job (language, files, stdin, args, limits, priority,
 * metadata): gives it its id (set before this returns), status queued,
 * created_ms and code hash; writes it durably and queues it. owner groups
 * the watch a waiting submission becomes (exec_release).
 *  - wait false: fn gets EXEC_ACCEPTED once the job is durable and queued,
 *    or EXEC_REFUSED;
 *  - wait true: fn gets EXEC_FINAL, EXEC_WAIT_OVER (the job is accepted and
 *    not final yet), EXEC_REFUSED or EXEC_STOPPING.
 * Returns -EAGAIN (the queue is full), -ENOTCONN (the queue's broker is
 * away), -ESHUTDOWN (the node or its store stops) or -ENOMEM without
 * calling fn; 0 when fn will be called. Borrows job until fn has been
 * called.
 */
int exec_submit(struct exec *ex, struct job *job, bool wait, const void *owner, exec_notice_fn fn,
                void *cls);

/*
 * Waits for job id to become final: 0 when fn will be called (EXEC_FINAL,
 * EXEC_WAIT_OVER or EXEC_STOPPING), 1 when it is final already (fn is not
 * called), -ENOENT when there is no such job, -errno when the store cannot
 * say.
 */
int exec_watch(struct exec *ex, const char *id, const void *owner, exec_notice_fn fn, void *cls);
/* Ends every watch of owner now (EXEC_STOPPING; a waiting submission still
 * being written ends so once it is written). For a front end that stops. */
void exec_release(struct exec *ex, const void *owner);

/*
 * Cancels a queued or running job, wherever it runs: the store says
 * cancelled first, then the executor holding it (on this node or, through
 * the queue's events, another) kills its program. *was gets the status it
 * had. -ENOENT, -EALREADY (it had finished; *was says how), -errno when
 * the store failed (err says why).
 */
int exec_cancel(struct exec *ex, const char *id, enum job_status *was, struct moat_err *err);

/* What exec_get loads besides the row: the store's STORE_GET_* flags. */
enum {
    EXEC_GET_CODE = 1 << 0,   /* files and stdin */
    EXEC_GET_OUTPUT = 1 << 1, /* stdout and stderr of both steps */
};

/* A page of job ids, newest first (the store's store_list). */
int exec_list(struct exec *ex, uint64_t offset, size_t limit, char (*ids)[MOAT_UUID_LEN + 1],
              size_t *n, uint64_t *total, struct moat_err *err);
/* Reads (the store's): store_get and store_get_output. */
int exec_get(struct exec *ex, const char *id, unsigned what, struct job *out, struct moat_err *err);
int exec_get_output(struct exec *ex, const char *id, char **data, size_t *len,
                    struct moat_err *err);

/* Whether this node can take and run jobs now: false with *why when the
 * store cannot read or write, the queue's broker is away, or (a node with
 * executors) no box is warm yet. */
bool exec_ready(struct exec *ex, const char **why);

struct exec_stats {
    uint64_t workers, busy;
};
/* This node's name (server.node, else the host name). */
const char *exec_node(const struct exec *ex);
void exec_stats(struct exec *ex, struct exec_stats *st);

/* ---- API keys and Idempotency-Key records (the store's, for the API) ---- */

struct store_key;
struct store_idem;
/* store_key_list, store_idem_claim, store_idem_settle, store_idem_drop of
 * this node's store (moat/store.h has the structs and contracts). */
int exec_keys_list(struct exec *ex, size_t max, struct store_key **out, size_t *n,
                   struct moat_err *err);
int exec_idem_claim(struct exec *ex, const char *owner, const char *key, const char *body_hash,
                    int64_t now_ms, int64_t expire_before_ms, struct store_idem *out,
                    struct moat_err *err);
int exec_idem_settle(struct exec *ex, const char *owner, const char *key, unsigned status,
                     const char *ctype, const char *location, const char *body, size_t len,
                     struct moat_err *err);
int exec_idem_drop(struct exec *ex, const char *owner, const char *key, int64_t created_ms,
                   struct moat_err *err);
