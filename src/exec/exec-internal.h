#pragma once
/*
 * exec's parts, one file each:
 *   exec.c      start, stop, readiness, reads, the shared helpers
 *   submit.c    submissions and cancels
 *   events.c    final jobs announced: watches, their deadlines, the events
 *               of other nodes
 *   executor.c  the executor threads: take a box, take a job, run it
 *   outcome.c   what a run ends in, written durably (finish, retry, fail,
 *               cancel), and the retries of those writes
 *   recover.c   recovery at start; with a NATS queue, the heartbeat of
 *               running jobs and the reconciler
 */
#include <pthread.h>
#include <stdatomic.h>

#include "moat/exec.h"
#include "moat/job.h"
#include "moat/obs.h"
#include "moat/queue.h"
#include "moat/store.h"
#include "moat/util.h"

/* How long an executor blocks in the pool or the queue before it looks at
 * the stop flag again: the bound on exec_stop's latency. */
#define EXEC_POLL_MS 200
/* How often exec_drain looks whether the running jobs are done. */
#define EXEC_DRAIN_POLL_MS 20
/* Most tests of one job running at once (each in a box of its own): at
 * most the executors' count, and this. */
#define EXEC_TESTS_PARALLEL_MAX 16
/* A durable write that the store failed is tried again after
 * EXEC_WRITE_RETRY_MS, the delay doubling up to EXEC_WRITE_RETRY_MAX_MS:
 * small enough that a job finishes within a second or so of the disk
 * having room again, large enough not to hammer a store that cannot
 * write. */
#define EXEC_WRITE_RETRY_MS 50
#define EXEC_WRITE_RETRY_MAX_MS 1000

struct exec_metrics {
    struct obs_histogram *queue_wait, *compile, *run, *engine_latency;
    struct obs_histogram *write_start, *write_finish, *write_requeue, *read_get;
    struct obs_histogram *insert, *publish;
    struct obs_counter *retries, *timeouts, *ooms, *engine_timeouts, *engine_ooms;
    struct obs_counter *write_retries, *stale, *takeovers, *republished, *job_copies;
    struct obs_counter *cache_hit, *cache_miss;
    struct obs_gauge *busy, *workers, *engine_active;
};

/* One executor thread and what it holds; id, cancel, boxes and entry are
 * guarded by the service's slot lock. */
struct exec_slot {
    struct exec *ex;
    pthread_t thread;
    bool started;               /* the thread runs */
    char id[MOAT_UUID_LEN + 1]; /* "" when idle */
    bool cancel;                /* a cancel asked for id */
    bool preempt;               /* the cancel is the service stopping: the
                                   job is left for recovery, not cancelled */
    struct queue_entry *entry;  /* the queue entry held (for the heartbeat) */
    /* the boxes a step of the job may run in now (one, or a job's tests'):
     * a cancel signals each; each leaves before it is freed */
    struct sbx_box *boxes[EXEC_TESTS_PARALLEL_MAX];
};

/* Puts box in c's slot for a cancel to reach (executor.c): false, and box
 * not put, when the job is cancelled already (then nothing may start in
 * it). *where names its place for exec_slot_drop. */
bool exec_slot_add(struct exec_slot *s, struct sbx_box *box, size_t *where);
/* The step in the box at where is over: no cancel reaches it any more. */
void exec_slot_drop(struct exec_slot *s, size_t where);
/* Whether the job of s was cancelled. */
bool exec_slot_cancelled(struct exec_slot *s);
/* Whether it was cancelled because the service stops (exec_drain). */
bool exec_slot_preempted(struct exec_slot *s);

struct exec_watches; /* events.c */

struct exec {
    struct exec_deps deps;
    struct exec_metrics m;
    char node[64];
    atomic_bool stopping;
    atomic_bool draining; /* exec_drain: no submission, no new job taken */
    atomic_uint_fast64_t busy;

    /* the executors */
    pthread_mutex_t slot_lock;
    pthread_cond_t stop_cond; /* broadcast under slot_lock when stopping is set */
    size_t nslots;
    struct exec_slot *slots;

    /* events.c */
    struct exec_watches *watches;

    /* recover.c: the heartbeat and the reconciler (NATS queue only) */
    pthread_t keeper;
    bool keeper_started;
    atomic_bool resync_wanted; /* the events' connection came back */
};

/* ---- exec.c ---- */
bool exec_stopping(const struct exec *ex);
/* Waits ms, or less when the service stops meanwhile: true when it is
 * stopping. */
bool exec_wait_stop(struct exec *ex, uint64_t ms);
int64_t exec_now_unix_ms(void);
/* retry_base_ms * retry_factor^(attempts-1), saturating at an hour. */
uint64_t exec_backoff_ms(const struct moat_config *cfg, uint32_t attempts);
/* A message as a logfmt value: quoted, with quotes, backslashes and
 * control characters escaped or dropped (it may name a user's file). */
void exec_logfmt_quote(const char *s, char *out, size_t outsz);
void exec_observe(struct obs_histogram *h, double seconds);
void exec_count(struct obs_counter *c);
double exec_seconds_since(uint64_t start_ns);
/* Counts a job that reached a final status in moat_jobs_total{status,
 * verdict}: once per job, by the node that made it final in the store. */
void exec_count_final(struct exec *ex, enum job_status status, enum job_verdict v);

/* ---- events.c ---- */
int exec_watches_start(struct exec *ex);
/* Ends every watch (EXEC_STOPPING), joins the deadline thread, frees. */
void exec_watches_stop(struct exec *ex);
/* Job id became final here: this node's watches hear it (with final, NULL
 * for a cancel), and every other node through the queue's events. */
void exec_announce_final(struct exec *ex, const char *id, const struct job *final);
/* The connection to the other nodes came back after a gap: a job that
 * became final meanwhile is found by reading each watched job again. */
void exec_resync_watches(struct exec *ex);
/* The queue's listener: events of other nodes. */
void exec_on_queue_event(void *cls, enum queue_event ev, const char *id, const char *data,
                         size_t len);
/* A watch made for a waiting submission before its job is written; then,
 * with the write's result, armed (0: its deadline starts), ended (< 0:
 * EXEC_REFUSED), or dropped without a notice (> 0: the submission never
 * started). */
/* The watch is named by its job id and serial (0: out of memory): once it
 * ended, its memory may be gone. */
uint64_t exec_watch_new(struct exec *ex, const char *id, const void *owner, exec_notice_fn fn,
                        void *cls);
void exec_watch_submitted(struct exec *ex, const char *id, uint64_t serial, int result);

/* ---- executor.c ---- */
int exec_executors_start(struct exec *ex);
void exec_executors_join(struct exec *ex);
/* Kills job id if an executor here holds it: 0, or -ENOENT. */
int exec_kill_local(struct exec *ex, const char *id);
/* Cancels every running job as the service's stop (exec_drain): each slot
 * marked preempted. Returns how many. */
size_t exec_preempt_all(struct exec *ex);

/* ---- outcome.c ---- */

/* What an executor knows of the job it runs. */
struct exec_run {
    struct exec_slot *slot;
    struct queue_entry entry;
    const char *id;    /* entry.id */
    uint64_t start_ns; /* the job was taken */
    uint64_t write_start_ns;
    uint64_t queue_ms;
    struct job job;
    struct store_ticket *ticket; /* the start's commit, until finish_start */
    int64_t start_ms;            /* the start's time, the same in every try of it */
    bool takeover;               /* the start takes a running job over */
    bool unstorable;             /* the store refused this result once already */
};

enum exec_write_op { EXEC_WRITE_START, EXEC_WRITE_FINISH, EXEC_WRITE_REQUEUE, EXEC_WRITE_CANCEL };

/* Whether r ends a write: done, or the store's answer (see outcome.c). */
bool exec_write_settled(int r);
/* op for c's job, tried until it is settled; first < 0 is the failure of a
 * try made elsewhere, with its message. -ESHUTDOWN when the service stops
 * first. */
int exec_durable_write(struct exec *ex, enum exec_write_op op, struct exec_run *c, int first,
                       const char *first_msg);
/* The outcome of a run, recorded: completed, retried, failed, cancelled. */
void exec_record_final(struct exec *ex, struct exec_run *c);
void exec_fail_job(struct exec *ex, struct exec_run *c, const char *msg);
void exec_retry_or_fail(struct exec *ex, struct exec_run *c, const char *msg);
void exec_record_cancelled(struct exec *ex, struct exec_run *c);
/* Runs c's tests (tests.c): the program built once in *boxp, then each
 * test in a box of its own, up to EXEC_TESTS_PARALLEL_MAX at once; each
 * test's result in c->job.tests, the job's summary in o (run: the first
 * failed test's verdict, else accepted, or ok when none is judged). A box
 * the build used is freed (*boxp NULL); one it left fresh stays. r and err
 * as exec_program's. */
void exec_run_tests(struct exec *ex, struct exec_run *c, struct sbx_box **boxp,
                    const struct exec_request *req, struct exec_outcome *o, int *r,
                    struct moat_err *err);

/* Nothing to run after all: says why, sends the entry back when the store
 * failed us, ends it. */
void exec_skip_job(struct exec *ex, struct exec_run *c, int r, const char *why);

/* ---- recover.c ---- */
int exec_keeper_start(struct exec *ex);
void exec_keeper_join(struct exec *ex);
