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
 * Runs req in box (which is used up: the caller frees it afterwards).
 * Returns 0 when there is an outcome (whatever the program did) and -errno
 * with err set when the request itself is wrong (e.g. a bad file name:
 * err->field names it) or the box failed (outcome verdict internal_error).
 */
int exec_program(struct sbx_box *box, const struct moat_config *cfg,
                 const struct exec_request *req, struct exec_outcome *out,
                 struct moat_err *err);

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
int exec_cache_open(const struct moat_config *cfg, struct exec_cache **out,
                    struct moat_err *err);
void exec_cache_free(struct exec_cache *c); /* accepts NULL */
struct exec_cache_stats {
    uint64_t hits, misses, entries, bytes, evictions;
};
void exec_cache_stats(struct exec_cache *c, struct exec_cache_stats *st);

/* exec_program with a compile cache (NULL = none). */
int exec_program_cached(struct sbx_box *box, const struct moat_config *cfg,
                        struct exec_cache *cache, const struct exec_request *req,
                        struct exec_outcome *out, struct moat_err *err);

/* ---- the executor service of `moat serve` ---- */

struct store;
struct queue;
struct sbx_pool;
struct obs_registry;
struct lang_registry;

/* Called (from an executor thread) when a job reached a final status, after
 * it is durable: the API wakes the requests waiting for it. final is the job
 * exactly as recorded (outputs included), or NULL when the store's copy is
 * the one to read (a cancel). Must not block. */
typedef void (*exec_finished_fn)(void *cls, const char *id, const struct job *final);

struct exec_service_deps {
    const struct moat_config *cfg;     /* workers, retry policy, limits */
    const struct lang_registry *langs;
    struct store *store;
    struct queue *queue;
    struct sbx_pool *pool;             /* boxes; an executor takes a job only
                                          when it holds a free box */
    struct exec_cache *cache;          /* NULL = no compile cache */
    struct obs_registry *metrics;      /* NULL = none */
    exec_finished_fn finished;         /* NULL = nobody to tell */
    void *finished_cls;
};

struct exec_service;

/* Counts a job that reached a final status in moat_jobs_total{status,
 * verdict}: called once per job, by whoever made it final in the store
 * (the executor that recorded its result, or whoever cancelled it). reg NULL:
 * nothing. Thread-safe. */
void exec_count_final(struct obs_registry *reg, enum job_status status, enum job_verdict v);

/*
 * Starts cfg->workers executor threads (0 = the number of CPUs). Each:
 * takes a free box, then the next job from the queue; takes its offered
 * copy (exec_service_offer) or loads it (STORE_GET_CODE); begins
 * store_start and runs the job while it commits (a start that fails, e.g.
 * for a job cancelled meanwhile, drops the run);
 * compiles (or hits the cache) and runs it; store_finish; queue_ack; tells
 * deps->finished; observes metrics and logs one logfmt line (id, language,
 * verdict, attempts, queue/compile/run ms, peak memory; never code, stdin
 * or output). An internal_error is retried with exponential backoff
 * (retry_base_ms * retry_factor^(attempt-1)) through store_requeue and a
 * delayed queue_push, up to retry_attempts attempts; then the job is failed.
 * Borrows deps (and everything it points to) until exec_service_stop.
 */
int exec_service_start(const struct exec_service_deps *deps, struct exec_service **out,
                       struct moat_err *err);
/*
 * Hands the executors a job whose insert is queued in the store but perhaps
 * not committed yet (the submission pushes it to the queue at once): the
 * executor that takes it runs it from this copy while the commit is under
 * way, and its start, queued behind the insert, confirms it (a job whose
 * insert failed is dropped then). Takes ownership of *job (moved out, *job
 * is left empty). Bounded: the oldest offer not taken yet is dropped (its
 * executor reads the job from the store instead). Never blocks.
 */
void exec_service_offer(struct exec_service *svc, struct job *job);

/* Kills job id if an executor of this service is running it (its result is
 * then cancelled): 0, or -ENOENT when it is not running here. */
int exec_service_cancel(struct exec_service *svc, const char *id);
struct exec_service_stats {
    uint64_t workers, busy;
};
void exec_service_stats(struct exec_service *svc, struct exec_service_stats *st);
/* Stops taking jobs, lets the running ones finish (queue_shutdown must have
 * been called), joins the threads, frees. A result the store still refuses
 * then (a full disk) is left: the job stays running in the store and its
 * queue entry unacknowledged, for recovery at the next start. Accepts NULL. */
void exec_service_stop(struct exec_service *svc);
